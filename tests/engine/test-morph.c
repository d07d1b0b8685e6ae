/* test-morph.c — the editing transforms against hand-made images, pixel for pixel: a single
 * bright pixel dilates to its 3×3 square (clipped at corners and edges), erosion removes
 * strokes thinner than 3 and keeps a 3×3 block's centre, the gradient is the ring around a
 * block, inversion is 1 − x; and random images against a brute-force max/min written from the
 * definition (a 5×5 window test excludes the border pixels it clips). */
#include <math.h>
#include <string.h>

#include "nfn_morph.h"
#include "testutil.h"

#define R 5
#define C 6

/* Rows of a hand-made image as strings: '#' = 1, '+' = 0.5, '.' = 0. */
static void
image_from_rows (float *image, const char *const *text, int rows, int cols)
{
  for (int r = 0; r < rows; r++)
    {
      g_assert_cmpint ((int) strlen (text[r]), ==, cols);
      for (int c = 0; c < cols; c++)
        image[r * cols + c] = text[r][c] == '#' ? 1.0f : text[r][c] == '+' ? 0.5f : 0.0f;
    }
}

static void
assert_image (const float *got, const char *const *text, int rows, int cols)
{
  float expected[R * C];
  image_from_rows (expected, text, rows, cols);
  for (int e = 0; e < rows * cols; e++)
    if (got[e] != expected[e])
      g_error ("pixel (%d, %d): got %g, expected %g", e / cols, e % cols, got[e], expected[e]);
}

static void
apply (nfn_morph_op op, const char *const *in_text, float *out)
{
  float in[R * C];
  image_from_rows (in, in_text, R, C);
  g_assert_cmpint (nfn_morph_apply (op, in, out, 1, R, C), ==, NFN_OK);
}

static void
test_dilate_points (void)
{
  /* one pixel in the middle, one in the corner, one on the right edge */
  const char *in[R] = { "#.....", "......", "..#...", ".....#", "......" };
  const char *want[R] = { "##....", "####..", ".#####", ".#####", "....##" };
  float out[R * C];
  apply (NFN_MORPH_DILATE, in, out);
  assert_image (out, want, R, C);
}

static void
test_dilate_takes_the_max (void)
{
  /* a half-bright pixel next to a bright one: the bright one wins where squares overlap */
  const char *in[R] = { "......", ".+#...", "......", "......", "......" };
  const char *want[R] = { "+###..", "+###..", "+###..", "......", "......" };
  float out[R * C];
  apply (NFN_MORPH_DILATE, in, out);
  assert_image (out, want, R, C);
}

static void
test_erode (void)
{
  /* the 3×3 block on the right edge keeps its centre and the edge pixel beside it, the 2×2
   * blocks in the corners keep their corner pixel — pixels outside the image are ignored, not
   * taken as 0 — and the lone pixel on top of the block vanishes */
  const char *in[R] = { "##..#.", "##.###", "...###", "##.###", "##...." };
  const char *want[R] = { "#.....", "......", "....##", "......", "#....." };
  float out[R * C];
  apply (NFN_MORPH_ERODE, in, out);
  assert_image (out, want, R, C);
}

static void
test_gradient (void)
{
  /* a 3×3 block: dilation (5×5 clipped) minus erosion (the centre) */
  const char *in[R] = { "......", ".###..", ".###..", ".###..", "......" };
  const char *want[R] = { "#####.", "#####.", "##.##.", "#####.", "#####." };
  float out[R * C];
  apply (NFN_MORPH_GRADIENT, in, out);
  assert_image (out, want, R, C);
}

static void
test_invert (void)
{
  const char *in[R] = { "#.+...", "......", "......", "......", "....##" };
  const char *want[R] = { ".#+###", "######", "######", "######", "####.." };
  float out[R * C];
  apply (NFN_MORPH_INVERT, in, out);
  assert_image (out, want, R, C);
}

/* A constant image is a fixed point of the square operations (clipped borders). */
static void
test_constant (void)
{
  float in[R * C], out[R * C];
  for (int e = 0; e < R * C; e++)
    in[e] = 0.25f;
  for (int op = NFN_MORPH_DILATE; op <= NFN_MORPH_GRADIENT; op++)
    {
      g_assert_cmpint (nfn_morph_apply (op, in, out, 1, R, C), ==, NFN_OK);
      for (int e = 0; e < R * C; e++)
        g_assert_cmpfloat (out[e], ==, op == NFN_MORPH_GRADIENT ? 0.0f : 0.25f);
    }
}

/* Random images, several at once, against max/min written from the definition: the set of
 * (dr, dc) with |dr|, |dc| ≤ 1 whose pixel lies inside the image. */
static void
test_random_batch (void)
{
  enum { COUNT = 3, H = 7, W = 9 };
  gsl_rng *rng = tu_rng ();
  float in[COUNT * H * W], out[COUNT * H * W];
  tu_fill_uniform (in, G_N_ELEMENTS (in), 0, 1, rng);
  for (int op = 0; op < NFN_MORPH_COUNT; op++)
    {
      g_assert_cmpint (nfn_morph_apply (op, in, out, COUNT, H, W), ==, NFN_OK);
      for (int k = 0; k < COUNT; k++)
        for (int r = 0; r < H; r++)
          for (int c = 0; c < W; c++)
            {
              const float *img = in + k * H * W;
              float hi = -INFINITY, lo = INFINITY;
              for (int dr = -1; dr <= 1; dr++)
                for (int dc = -1; dc <= 1; dc++)
                  if (r + dr >= 0 && r + dr < H && c + dc >= 0 && c + dc < W)
                    {
                      hi = fmaxf (hi, img[(r + dr) * W + c + dc]);
                      lo = fminf (lo, img[(r + dr) * W + c + dc]);
                    }
              float want = op == NFN_MORPH_DILATE ? hi
                           : op == NFN_MORPH_ERODE ? lo
                           : op == NFN_MORPH_GRADIENT ? hi - lo
                                                      : 1.0f - img[r * W + c];
              g_assert_cmpfloat (out[k * H * W + r * W + c], ==, want);
            }
    }
  gsl_rng_free (rng);
}

static void
test_names (void)
{
  for (int op = 0; op < NFN_MORPH_COUNT; op++)
    {
      nfn_morph_op parsed;
      g_assert_true (nfn_morph_parse (nfn_morph_name (op), &parsed));
      g_assert_cmpint (parsed, ==, op);
    }
  nfn_morph_op parsed;
  g_assert_false (nfn_morph_parse ("dilation", &parsed));
  g_assert_false (nfn_morph_parse (NULL, &parsed));
  float x = 0, y = 0;
  g_assert_cmpint (nfn_morph_apply (NFN_MORPH_COUNT, &x, &y, 1, 1, 1), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_morph_apply (NFN_MORPH_DILATE, &x, &y, 1, 0, 1), ==, NFN_ERR_ARG);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/morph/dilate-points", test_dilate_points);
  g_test_add_func ("/morph/dilate-max", test_dilate_takes_the_max);
  g_test_add_func ("/morph/erode", test_erode);
  g_test_add_func ("/morph/gradient", test_gradient);
  g_test_add_func ("/morph/invert", test_invert);
  g_test_add_func ("/morph/constant", test_constant);
  g_test_add_func ("/morph/random-batch", test_random_batch);
  g_test_add_func ("/morph/names", test_names);
  return g_test_run ();
}
