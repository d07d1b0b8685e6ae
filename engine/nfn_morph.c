/* nfn_morph.c — dilation, erosion, morphological gradient and inversion of [0, 1] images.
 *
 * Shape letters: R×Cc image rows × columns. The 3×3 square is clipped at the borders (see
 * nfn_morph.h). A 28×28 image is 784 pixels: the direct 9-pixel window is simpler than the
 * separable two-pass form and costs nothing that matters next to rendering a SIREN.
 */
#include "nfn_morph.h"

#include <string.h>

static const char *const nfn_morph_names[NFN_MORPH_COUNT] = { "dilate", "erode", "gradient", "invert" };

const char *
nfn_morph_name (nfn_morph_op op)
{
  return (unsigned) op < NFN_MORPH_COUNT ? nfn_morph_names[op] : "unknown";
}

int
nfn_morph_parse (const char *name, nfn_morph_op *out)
{
  for (int k = 0; name && k < NFN_MORPH_COUNT; k++)
    if (strcmp (name, nfn_morph_names[k]) == 0)
      {
        *out = (nfn_morph_op) k;
        return 1;
      }
  return 0;
}

/* Max and min of `in` over the 3×3 square at (r, c), clipped to the image. */
static void
nfn_morph_window (const float *in /* (R, Cc) */, int rows, int cols, int r, int c, float *max, float *min)
{
  int r0 = r > 0 ? r - 1 : 0, r1 = r + 1 < rows ? r + 1 : rows - 1;
  int c0 = c > 0 ? c - 1 : 0, c1 = c + 1 < cols ? c + 1 : cols - 1;
  float hi = in[(size_t) r * cols + c], lo = hi;
  for (int rr = r0; rr <= r1; rr++)
    for (int cc = c0; cc <= c1; cc++)
      {
        float v = in[(size_t) rr * cols + cc];
        hi = v > hi ? v : hi;
        lo = v < lo ? v : lo;
      }
  *max = hi;
  *min = lo;
}

void
nfn_morph_dilate (const float *in /* (R, Cc) */, float *out /* (R, Cc) */, int rows, int cols)
{
  float lo;
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++)
      nfn_morph_window (in, rows, cols, r, c, &out[(size_t) r * cols + c], &lo);
}

void
nfn_morph_erode (const float *in /* (R, Cc) */, float *out /* (R, Cc) */, int rows, int cols)
{
  float hi;
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++)
      nfn_morph_window (in, rows, cols, r, c, &hi, &out[(size_t) r * cols + c]);
}

static void
nfn_morph_gradient (const float *in /* (R, Cc) */, float *out /* (R, Cc) */, int rows, int cols)
{
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++)
      {
        float hi, lo;
        nfn_morph_window (in, rows, cols, r, c, &hi, &lo);
        out[(size_t) r * cols + c] = hi - lo;
      }
}

nfn_status
nfn_morph_apply (nfn_morph_op op, const float *in /* (count, R, Cc) */, float *out /* (count, R, Cc) */, int count,
                 int rows, int cols)
{
  if ((unsigned) op >= NFN_MORPH_COUNT || count < 1 || rows < 1 || cols < 1)
    return NFN_ERR_ARG;
  size_t pixels = (size_t) rows * cols;
  for (int k = 0; k < count; k++)
    {
      const float *src = in + k * pixels;
      float *dst = out + k * pixels;
      switch (op)
        {
        case NFN_MORPH_DILATE:
          nfn_morph_dilate (src, dst, rows, cols);
          break;
        case NFN_MORPH_ERODE:
          nfn_morph_erode (src, dst, rows, cols);
          break;
        case NFN_MORPH_GRADIENT:
          nfn_morph_gradient (src, dst, rows, cols);
          break;
        case NFN_MORPH_INVERT:
          for (size_t e = 0; e < pixels; e++)
            dst[e] = 1.0f - src[e];
          break;
        }
    }
  return NFN_OK;
}
