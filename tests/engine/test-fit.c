/* test-fit.c — SIREN fitting: the fused step against nfn_net_forward/backward + nfn_mse and
 * against finite differences, fits that lower the loss, determinism (same seed → same bytes,
 * whatever the threads or the batch), cancelling and progress.
 *
 * Shape letters: B networks, R×Cc image rows × columns, N = R·Cc pixels. */
#include <math.h>
#include <string.h>

#include "testutil.h"
#include "nfn_fit.h"
#include "nfn_train.h"

/* A smooth test image in [0, 1] with a sharp edge: a bright disc on a gradient. */
static void
test_image (float *pixels /* (R·Cc) */, int rows, int cols, int variant)
{
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++)
      {
        double x = (c + 0.5) / cols - 0.5 - 0.1 * variant, y = (r + 0.5) / rows - 0.5;
        double v = 0.3 + 0.3 * x + (x * x + y * y < 0.08 ? 0.4 : 0.0);
        pixels[r * cols + c] = (float) CLAMP (v, 0.0, 1.0);
      }
}

/* Loss and gradient of one network by the generic path (the independent computation). */
static double
generic_loss_grad (const nfn_arch *arch, const nfn_feature *w, const float *target, int rows, int cols,
                   nfn_feature *grad)
{
  int N = rows * cols;
  g_autofree float *coords = g_new (float, 2 * N), *y = g_new (float, N), *dy = g_new (float, N);
  g_autofree float *cache = g_new (float, nfn_net_cache_size (arch, 1, N));
  nfn_fit_grid (coords, rows, cols);
  double loss;
  g_assert_cmpint (nfn_net_forward (arch, w, N, coords, 0, y, cache), ==, NFN_OK);
  g_assert_cmpint (nfn_mse (y, target, (size_t) N, &loss, dy), ==, NFN_OK);
  if (grad)
    g_assert_cmpint (nfn_net_backward (arch, w, N, coords, 0, cache, dy, grad, NULL), ==, NFN_OK);
  return loss;
}

/* The coordinates the fit uses: x along columns, y along rows, both linspace(−1, 1). */
static void
test_grid (void)
{
  float coords[2 * 3 * 4];
  nfn_fit_grid (coords, 3, 4);
  g_assert_cmpfloat (coords[0], ==, -1.0f);   /* (row 0, col 0) */
  g_assert_cmpfloat (coords[1], ==, -1.0f);
  g_assert_cmpfloat (coords[2 * 3], ==, 1.0f); /* (row 0, col 3): x = 1 */
  g_assert_cmpfloat (coords[2 * 3 + 1], ==, -1.0f);
  g_assert_cmpfloat (coords[2 * 4 + 1], ==, 0.0f); /* (row 1, col 0): y = 0 */
  g_assert_cmpfloat (fabsf (coords[2 * 1] - (-1.0f / 3.0f)), <, 1e-6f);
  float pixels[2] = { 0.0f, 1.0f }, target[2];
  nfn_fit_targets (target, pixels, 2);
  g_assert_cmpfloat (target[0], ==, -1.0f);
  g_assert_cmpfloat (target[1], ==, 1.0f);
}

/* The fused loss and gradient equal the generic ones at a random init and away from it, on
 * the 28×28 grid and on a non-square one; and the gradient accumulates. */
static void
test_fused_matches_generic (void)
{
  gsl_rng *rng = tu_rng ();
  nfn_arch arch;
  nfn_fit_default_arch (&arch);
  const int shapes[][2] = { { 28, 28 }, { 5, 9 } };
  for (size_t s = 0; s < G_N_ELEMENTS (shapes); s++)
    for (int moved = 0; moved < 2; moved++)
      {
        int rows = shapes[s][0], cols = shapes[s][1], N = rows * cols;
        nfn_feature w, g_fused, g_generic;
        g_assert_cmpint (nfn_feature_alloc (&w, &arch.space, 1, 1), ==, NFN_OK);
        g_assert_cmpint (nfn_feature_alloc (&g_fused, &arch.space, 1, 1), ==, NFN_OK);
        g_assert_cmpint (nfn_feature_alloc (&g_generic, &arch.space, 1, 1), ==, NFN_OK);
        nfn_net_init (&arch, &w, rng);
        if (moved) /* a trained network's weights are not the init's */
          for (size_t e = 0; e < w.size; e++)
            w.data[e] += (float) (0.05 * (gsl_rng_uniform (rng) - 0.5));
        g_autofree float *pixels = g_new (float, N), *target = g_new (float, N);
        tu_fill_uniform (pixels, (size_t) N, 0, 1, rng);
        nfn_fit_targets (target, pixels, (size_t) N);
        double loss_fused, loss_generic = generic_loss_grad (&arch, &w, target, rows, cols, &g_generic);
        g_assert_cmpint (nfn_fit_fused_loss_grad (&arch, &w, target, rows, cols, &loss_fused, &g_fused), ==, NFN_OK);
        double loss_error = fabs (loss_fused - loss_generic) / loss_generic;
        double grad_error = nfn_feature_max_abs_diff (&g_fused, &g_generic) / nfn_feature_max_abs (&g_generic);
        g_test_message ("%d×%d, %s: loss %.6g vs %.6g (rel %.2e), gradient rel %.2e", rows, cols,
                        moved ? "moved" : "init", loss_fused, loss_generic, loss_error, grad_error);
        g_assert_cmpfloat (loss_error, <, 1e-5);
        g_assert_cmpfloat (grad_error, <, 1e-4);
        /* a second call adds the same gradient again */
        g_assert_cmpint (nfn_fit_fused_loss_grad (&arch, &w, target, rows, cols, &loss_fused, &g_fused), ==, NFN_OK);
        for (size_t e = 0; e < g_generic.size; e++)
          g_generic.data[e] *= 2;
        g_assert_cmpfloat (nfn_feature_max_abs_diff (&g_fused, &g_generic) / nfn_feature_max_abs (&g_generic), <, 1e-4);
        nfn_feature_free (&w);
        nfn_feature_free (&g_fused);
        nfn_feature_free (&g_generic);
      }
  gsl_rng_free (rng);
}

typedef struct {
  const nfn_arch *arch;
  nfn_feature *w;
  const float *target;
  int rows, cols;
} fused_ctx;

static double
fused_loss (void *data)
{
  fused_ctx *ctx = data;
  double loss;
  g_assert_cmpint (nfn_fit_fused_loss_grad (ctx->arch, ctx->w, ctx->target, ctx->rows, ctx->cols, &loss, NULL), ==,
                   NFN_OK);
  return loss;
}

/* The fused gradient against central differences of the fused loss itself, along random
 * directions per tensor (float32 losses make single-entry differences too noisy). */
static void
test_fused_finite_differences (void)
{
  gsl_rng *rng = tu_rng ();
  nfn_arch arch;
  nfn_fit_default_arch (&arch);
  int rows = 6, cols = 7, N = rows * cols;
  nfn_feature w, grad;
  g_assert_cmpint (nfn_feature_alloc (&w, &arch.space, 1, 1), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&grad, &arch.space, 1, 1), ==, NFN_OK);
  nfn_net_init (&arch, &w, rng);
  g_autofree float *target = g_new (float, N);
  tu_fill_uniform (target, (size_t) N, -1, 1, rng);
  double loss;
  g_assert_cmpint (nfn_fit_fused_loss_grad (&arch, &w, target, rows, cols, &loss, &grad), ==, NFN_OK);
  fused_ctx ctx = { &arch, &w, target, rows, cols };
  /* every tensor, W1 and b1 included (the separable first layer is the fused path's trick) */
  for (int t = 0; t < nfn_tensor_count (&arch.space); t++)
    {
      size_t n = nfn_tensor_entries (&arch.space, t);
      /* a step of the same total length for every tensor: the sines' curvature (ω0 = 30)
       * punishes long steps, float32 losses short ones */
      double h = 1e-3 * sqrt (32.0 / (double) n);
      double median = tu_directional_check (fused_loss, &ctx, w.t[t], grad.t[t], n, 9, h, 1e-7, rng);
      g_test_message ("tensor %d: median relative error over directions %.2e", t, median);
      g_assert_cmpfloat (median, <, 1e-2);
    }
  nfn_feature_free (&w);
  nfn_feature_free (&grad);
  gsl_rng_free (rng);
}

typedef struct {
  int calls, last_done, total, monotonic;
} progress_log;

static void
record_progress (int done, int total, void *data)
{
  progress_log *log = data;
  log->monotonic &= done == log->last_done + 1;
  log->last_done = done;
  log->total = total;
  log->calls++;
}

/* Fits B networks; returns them in `w` (allocated) with their PSNRs. */
static nfn_status
fit (const nfn_arch *arch, nfn_feature *w, const float *images, int B, int rows, int cols, const guint64 *ids,
     const nfn_fit_options *opt, float *psnr)
{
  g_assert_cmpint (nfn_feature_alloc (w, &arch->space, B, 1), ==, NFN_OK);
  return nfn_fit_sirens (arch, w, images, rows, cols, ids, opt, psnr);
}

/* Fitting lowers the loss well below the init's and reaches a useful PSNR; the PSNR it
 * reports is the final network's. */
static void
test_fit_reduces_loss (void)
{
  nfn_arch arch;
  nfn_fit_default_arch (&arch);
  const int B = 3, rows = 28, cols = 28, N = rows * cols;
  g_autofree float *images = g_new (float, B * N), *target = g_new (float, N);
  guint64 ids[] = { 0, 1, 2 };
  for (int b = 0; b < B; b++)
    test_image (images + b * N, rows, cols, b);
  nfn_fit_options opt;
  nfn_fit_options_init (&opt);
  opt.threads = 2;
  nfn_feature init, fitted;
  float psnr[3];
  opt.steps = 0;
  g_assert_cmpint (fit (&arch, &init, images, B, rows, cols, ids, &opt, psnr), ==, NFN_OK);
  opt.steps = 200;
  float psnr_fit[3];
  g_assert_cmpint (fit (&arch, &fitted, images, B, rows, cols, ids, &opt, psnr_fit), ==, NFN_OK);
  for (int b = 0; b < B; b++)
    {
      nfn_feature one;
      g_assert_cmpint (nfn_feature_alloc (&one, &arch.space, 1, 1), ==, NFN_OK);
      nfn_fit_targets (target, images + b * N, (size_t) N);
      nfn_feature_get_network (&init, b, &one);
      double before = generic_loss_grad (&arch, &one, target, rows, cols, NULL);
      nfn_feature_get_network (&fitted, b, &one);
      double after = generic_loss_grad (&arch, &one, target, rows, cols, NULL);
      g_test_message ("image %d: MSE %.4g → %.4g, PSNR %.2f → %.2f dB", b, before, after, psnr[b], psnr_fit[b]);
      g_assert_cmpfloat (after, <, before / 100);
      g_assert_cmpfloat (psnr_fit[b], >, 30);
      g_assert_cmpfloat (fabs (psnr_fit[b] - 10 * log10 (4 / after)), <, 1e-3 * psnr_fit[b]);
      nfn_feature_free (&one);
    }
  nfn_feature_free (&init);
  nfn_feature_free (&fitted);
}

/* Same seed and id → the same bytes, whatever the threads or the other networks in the batch;
 * another seed or another id → another init. */
static void
test_fit_deterministic (void)
{
  nfn_arch arch;
  nfn_fit_default_arch (&arch);
  const int B = 4, rows = 12, cols = 10, N = rows * cols;
  g_autofree float *images = g_new (float, B * N);
  for (int b = 0; b < B; b++)
    test_image (images + b * N, rows, cols, b);
  guint64 ids[] = { 10, 11, 12, 13 };
  nfn_fit_options opt;
  nfn_fit_options_init (&opt);
  opt.steps = 30;
  opt.seed = 7;
  nfn_feature a, b, c, d, one;
  opt.threads = 1;
  g_assert_cmpint (fit (&arch, &a, images, B, rows, cols, ids, &opt, NULL), ==, NFN_OK);
  opt.threads = 2;
  g_assert_cmpint (fit (&arch, &b, images, B, rows, cols, ids, &opt, NULL), ==, NFN_OK);
  g_assert_cmpmem (a.data, a.size * sizeof (float), b.data, b.size * sizeof (float));
  /* network 12 alone, as the first of a batch of one */
  g_assert_cmpint (fit (&arch, &c, images + 2 * N, 1, rows, cols, ids + 2, &opt, NULL), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&one, &arch.space, 1, 1), ==, NFN_OK);
  nfn_feature_get_network (&a, 2, &one);
  g_assert_cmpmem (one.data, one.size * sizeof (float), c.data, c.size * sizeof (float));
  /* another seed moves every network */
  opt.seed = 8;
  g_assert_cmpint (fit (&arch, &d, images, B, rows, cols, ids, &opt, NULL), ==, NFN_OK);
  g_assert_cmpfloat (nfn_feature_max_abs_diff (&a, &d), >, 1e-3);
  /* refits: the same image under two ids starts from two inits */
  nfn_feature e1, e2;
  g_assert_cmpint (nfn_feature_alloc (&e1, &arch.space, 1, 1), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&e2, &arch.space, 1, 1), ==, NFN_OK);
  g_assert_cmpint (nfn_fit_init_network (&arch, &e1, 0, 7, 100), ==, NFN_OK);
  g_assert_cmpint (nfn_fit_init_network (&arch, &e2, 0, 7, 101), ==, NFN_OK);
  g_assert_cmpfloat (nfn_feature_max_abs_diff (&e1, &e2), >, 1e-3);
  /* the SIREN init's first-layer bound, 1/n_0 */
  for (size_t e = 0; e < nfn_tensor_entries (&arch.space, 0); e++)
    g_assert_cmpfloat (fabsf (e1.t[0][e]), <=, 0.5f);
  nfn_feature *all[] = { &a, &b, &c, &d, &one, &e1, &e2 };
  for (size_t k = 0; k < G_N_ELEMENTS (all); k++)
    nfn_feature_free (all[k]);
}

/* The fused and generic paths take the same steps: after 25 Adam steps from the same init
 * the networks still agree closely. */
static void
test_fit_paths_agree (void)
{
  nfn_arch arch;
  nfn_fit_default_arch (&arch);
  const int B = 2, rows = 28, cols = 28, N = rows * cols;
  g_autofree float *images = g_new (float, B * N);
  for (int b = 0; b < B; b++)
    test_image (images + b * N, rows, cols, b);
  guint64 ids[] = { 3, 4 };
  nfn_fit_options opt;
  nfn_fit_options_init (&opt);
  opt.steps = 25;
  nfn_feature fused, generic;
  float psnr_fused[2], psnr_generic[2];
  opt.path = NFN_FIT_PATH_FUSED;
  g_assert_cmpint (fit (&arch, &fused, images, B, rows, cols, ids, &opt, psnr_fused), ==, NFN_OK);
  opt.path = NFN_FIT_PATH_GENERIC;
  g_assert_cmpint (fit (&arch, &generic, images, B, rows, cols, ids, &opt, psnr_generic), ==, NFN_OK);
  double diff = nfn_feature_max_abs_diff (&fused, &generic) / nfn_feature_max_abs (&generic);
  g_test_message ("after %d steps: max relative weight difference %.2e, PSNR %.3f vs %.3f dB", opt.steps, diff,
                  psnr_fused[0], psnr_generic[0]);
  g_assert_cmpfloat (diff, <, 1e-3);
  for (int b = 0; b < B; b++)
    g_assert_cmpfloat (fabs (psnr_fused[b] - psnr_generic[b]), <, 0.05);
  nfn_feature_free (&fused);
  nfn_feature_free (&generic);
}

/* Progress counts every network once, in order; a set cancel flag stops the fit. */
static void
test_fit_progress_and_cancel (void)
{
  nfn_arch arch;
  nfn_fit_default_arch (&arch);
  const int B = 5, rows = 8, cols = 8, N = rows * cols;
  g_autofree float *images = g_new (float, B * N);
  for (int b = 0; b < B; b++)
    test_image (images + b * N, rows, cols, b);
  guint64 ids[] = { 0, 1, 2, 3, 4 };
  progress_log log = { .monotonic = 1 };
  nfn_fit_options opt;
  nfn_fit_options_init (&opt);
  opt.steps = 5;
  opt.threads = 2;
  opt.progress = record_progress;
  opt.progress_data = &log;
  nfn_feature w;
  g_assert_cmpint (fit (&arch, &w, images, B, rows, cols, ids, &opt, NULL), ==, NFN_OK);
  g_assert_cmpint (log.calls, ==, B);
  g_assert_cmpint (log.total, ==, B);
  g_assert_true (log.monotonic);
  volatile int cancel = 1;
  opt.cancel = &cancel;
  log = (progress_log) { .monotonic = 1 };
  g_assert_cmpint (nfn_fit_sirens (&arch, &w, images, rows, cols, ids, &opt, NULL), ==, NFN_ERR_CANCELLED);
  g_assert_cmpint (log.calls, ==, 0);
  nfn_feature_free (&w);
}

/* Other SIRENs go the generic way; the fused path refuses them; other kinds are refused. */
static void
test_fit_architectures (void)
{
  const int widths[] = { 2, 16, 1 };
  nfn_arch small, mlp;
  g_assert_cmpint (nfn_arch_siren (&small, 2, widths, 30.0f), ==, NFN_OK);
  g_assert_cmpint (nfn_arch_mlp (&mlp, 2, widths, NFN_ACT_RELU), ==, NFN_OK);
  const int rows = 6, cols = 6;
  float images[36];
  test_image (images, rows, cols, 0);
  guint64 id = 0;
  nfn_fit_options opt;
  nfn_fit_options_init (&opt);
  opt.steps = 100;
  nfn_feature w;
  float psnr;
  g_assert_cmpint (fit (&small, &w, images, 1, rows, cols, &id, &opt, &psnr), ==, NFN_OK);
  g_assert_cmpfloat (psnr, >, 20);
  opt.path = NFN_FIT_PATH_FUSED;
  g_assert_cmpint (nfn_fit_sirens (&small, &w, images, rows, cols, &id, &opt, &psnr), ==, NFN_ERR_UNSUPPORTED);
  nfn_feature_free (&w);
  opt.path = NFN_FIT_PATH_AUTO;
  g_assert_cmpint (fit (&mlp, &w, images, 1, rows, cols, &id, &opt, &psnr), ==, NFN_ERR_UNSUPPORTED);
  nfn_feature_free (&w);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/fit/grid", test_grid);
  g_test_add_func ("/fit/fused-matches-generic", test_fused_matches_generic);
  g_test_add_func ("/fit/fused-finite-differences", test_fused_finite_differences);
  g_test_add_func ("/fit/reduces-loss", test_fit_reduces_loss);
  g_test_add_func ("/fit/deterministic", test_fit_deterministic);
  g_test_add_func ("/fit/paths-agree", test_fit_paths_agree);
  g_test_add_func ("/fit/progress-and-cancel", test_fit_progress_and_cancel);
  g_test_add_func ("/fit/architectures", test_fit_architectures);
  return g_test_run ();
}
