/* test-layers.c — the layers around the equivariant one (engine/nfn_layers.h).
 *
 * Every layer is held to: a finite-difference check of its backward w.r.t. input and
 * parameters (loss = <R, out>, R random), its symmetry (pools invariant, per-entry layers
 * equivariant, IO encoding NP-breaking), and its forward against an independent computation.
 * Shape letters as in nfn_core.h: B networks, C channels, f filter positions, P positions.
 */
#include <glib.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nfn_layers.h"
#include "nfn_perm.h"
#include "testutil.h"

/* ---- spaces ---- */

typedef enum { SPACE_MLP, SPACE_CNN, SPACE_SINGLE, N_SPACES } space_kind;
static const char *space_names[N_SPACES] = { "mlp", "cnn", "single-layer" };

static nfn_space
make_space (space_kind kind)
{
  nfn_space s;
  static const int mlp[] = { 3, 5, 4, 2 };
  static const int cnn[] = { 2, 3, 4, 2 };
  static const int single[] = { 3, 2 };
  switch (kind)
    {
    case SPACE_MLP:
      g_assert_cmpint (nfn_space_init (&s, 3, mlp), ==, NFN_OK);
      break;
    case SPACE_CNN: /* conv 3×3, conv 3×3, global pool, dense */
      g_assert_cmpint (nfn_space_init (&s, 3, cnn), ==, NFN_OK);
      s.f[1] = s.f[2] = 9;
      break;
    default:
      g_assert_cmpint (nfn_space_init (&s, 1, single), ==, NFN_OK);
      break;
    }
  return s;
}

static int
filter_positions (const nfn_space *s, int t)
{
  return nfn_tensor_is_bias (t) ? 1 : s->f[nfn_tensor_layer (t)];
}

/* n_{i-1} for W_i, 1 for b_i: the column axis a bias does not have */
static int
tensor_columns (const nfn_space *s, int t)
{
  return nfn_tensor_is_bias (t) ? 1 : s->n[nfn_tensor_layer (t) - 1];
}

/* Entry of a feature by its named indices: tensor t, network b, row j, column k (0 for a
 * bias), channel c, filter position p — written out so the tests do not share the layers'
 * stride arithmetic. */
static float *
feature_at (const nfn_feature *feat, int t, int b, int j, int k, int c, int p)
{
  const nfn_space *s = &feat->space;
  int i = nfn_tensor_layer (t);
  size_t f = (size_t) filter_positions (s, t);
  size_t cols = (size_t) tensor_columns (s, t);
  size_t pos = ((size_t) b * s->n[i] + (size_t) j) * cols + (size_t) k;
  return feat->t[t] + (pos * feat->C + (size_t) c) * f + (size_t) p;
}

static double
relative_diff (const float *a, const float *b, size_t n)
{
  double diff = 0, scale = 0;
  for (size_t e = 0; e < n; e++)
    {
      diff = fmax (diff, fabs ((double) a[e] - b[e]));
      scale = fmax (scale, fabs ((double) a[e]));
    }
  return diff / fmax (scale, 1e-30);
}

static double
feature_relative_diff (const nfn_feature *a, const nfn_feature *b)
{
  return nfn_feature_max_abs_diff (a, b) / fmax (nfn_feature_max_abs (a), 1e-30);
}

/* ---- one harness for every layer: x → y, loss = <R, y> ---- */

typedef struct layer_case layer_case;
struct layer_case {
  /* feature input/output when the layer takes/gives a feature */
  nfn_feature in, din, out, dout;
  /* what the grad check perturbs and reads: x (x_n) with gradient dx, output y (y_n), R = dy */
  float *x, *dx, *y, *dy;
  size_t x_n, y_n;
  float *flat_in, *flat_din, *flat_out, *flat_dout; /* owned flat buffers, if any */
  float *params, *dparams;
  size_t n_params;
  void (*forward) (layer_case *lc);
  void (*backward) (layer_case *lc);
  /* settings some layers need */
  nfn_symmetry sym;
  int m, bands, N, width_in, width_out, training;
  float p;
  gsl_rng *mask_rng;
  unsigned long mask_seed;
  float *mask, *cache, *matrix;
};

static void
case_feature_in (layer_case *lc, const nfn_space *s, int B, int C, gsl_rng *rng)
{
  g_assert_cmpint (nfn_feature_alloc (&lc->in, s, B, C), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&lc->din, s, B, C), ==, NFN_OK);
  tu_feature_normal (&lc->in, rng);
  lc->x = lc->in.data;
  lc->dx = lc->din.data;
  lc->x_n = lc->in.size;
}

static void
case_feature_out (layer_case *lc, int C, gsl_rng *rng)
{
  g_assert_cmpint (nfn_feature_alloc (&lc->out, &lc->in.space, lc->in.B, C), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&lc->dout, &lc->in.space, lc->in.B, C), ==, NFN_OK);
  tu_feature_normal (&lc->dout, rng);
  lc->y = lc->out.data;
  lc->dy = lc->dout.data;
  lc->y_n = lc->out.size;
}

static void
case_flat_in (layer_case *lc, size_t n, gsl_rng *rng)
{
  lc->flat_in = g_new0 (float, n);
  lc->flat_din = g_new0 (float, n);
  tu_fill_normal (lc->flat_in, n, 1.0, rng);
  lc->x = lc->flat_in;
  lc->dx = lc->flat_din;
  lc->x_n = n;
}

static void
case_flat_out (layer_case *lc, size_t n, gsl_rng *rng)
{
  lc->flat_out = g_new0 (float, n);
  lc->flat_dout = g_new0 (float, n);
  tu_fill_normal (lc->flat_dout, n, 1.0, rng);
  lc->y = lc->flat_out;
  lc->dy = lc->flat_dout;
  lc->y_n = n;
}

static void
case_params (layer_case *lc, size_t n)
{
  lc->n_params = n;
  lc->params = g_new0 (float, n);
  lc->dparams = g_new0 (float, n);
}

static void
case_clear (layer_case *lc)
{
  nfn_feature_free (&lc->in);
  nfn_feature_free (&lc->din);
  nfn_feature_free (&lc->out);
  nfn_feature_free (&lc->dout);
  g_free (lc->flat_in);
  g_free (lc->flat_din);
  g_free (lc->flat_out);
  g_free (lc->flat_dout);
  g_free (lc->params);
  g_free (lc->dparams);
  g_free (lc->mask);
  g_free (lc->cache);
  g_free (lc->matrix);
  if (lc->mask_rng)
    gsl_rng_free (lc->mask_rng);
  memset (lc, 0, sizeof *lc);
}

static double
case_loss (void *ctx)
{
  layer_case *lc = ctx;
  lc->forward (lc);
  return tu_dot (lc->y, lc->dy, lc->y_n);
}

/* Runs forward on another input/output pair of the case's shapes (for symmetry checks). */
static void
case_run_on (layer_case *lc, const nfn_feature *in, nfn_feature *out)
{
  nfn_feature saved_in = lc->in, saved_out = lc->out;
  lc->in = *in;
  lc->out = *out;
  lc->forward (lc);
  lc->in = saved_in;
  lc->out = saved_out;
}

static double worst_grad_error = 0;

/* Finite differences of <R, layer(x)> against backward, w.r.t. x and the parameters.
 * `floor` is the gradient size below which errors count as absolute: float32 rounding of the
 * outputs leaves ~1e-4 of noise in a difference quotient. */
static void
case_grad_check (layer_case *lc, const char *what, double h, double floor, double tol, gsl_rng *rng)
{
  lc->forward (lc);
  memset (lc->dx, 0, lc->x_n * sizeof (float));
  if (lc->n_params)
    memset (lc->dparams, 0, lc->n_params * sizeof (float));
  lc->backward (lc);
  double err_in = tu_grad_check (case_loss, lc, lc->x, lc->dx, lc->x_n, 150, h, floor, rng);
  double err_params = 0;
  if (lc->n_params)
    err_params = tu_grad_check (case_loss, lc, lc->params, lc->dparams, lc->n_params, 150, h, floor, rng);
  g_test_message ("%s: worst relative error input %.2e, params %.2e", what, err_in, err_params);
  worst_grad_error = fmax (worst_grad_error, fmax (err_in, err_params));
  if (!(err_in < tol) || !(err_params < tol))
    g_test_fail_printf ("%s: gradient check failed: input %.3e, params %.3e (tolerance %.1e)",
                        what, err_in, err_params, tol);
}

/* ---- layer adapters ---- */

static void pool_fwd (layer_case *lc) { nfn_pool_forward (lc->sym, &lc->in, lc->y); }
static void pool_bwd (layer_case *lc) { nfn_pool_backward (lc->sym, lc->dy, &lc->din); }

static void pointwise_fwd (layer_case *lc) { nfn_pointwise_forward (lc->params, &lc->in, &lc->out); }
static void
pointwise_bwd (layer_case *lc)
{
  nfn_pointwise_backward (lc->params, &lc->in, &lc->dout, &lc->din, lc->dparams);
}

static void relu_fwd (layer_case *lc) { nfn_relu_forward (lc->in.data, lc->out.data, lc->in.size); }
static void relu_bwd (layer_case *lc) { nfn_relu_backward (lc->in.data, lc->dout.data, lc->din.data, lc->in.size); }
static void gelu_fwd (layer_case *lc) { nfn_gelu_forward (lc->in.data, lc->out.data, lc->in.size); }
static void gelu_bwd (layer_case *lc) { nfn_gelu_backward (lc->in.data, lc->dout.data, lc->din.data, lc->in.size); }

/* Reseeding before each forward keeps the mask fixed across finite-difference evaluations. */
static void
channel_dropout_fwd (layer_case *lc)
{
  gsl_rng_set (lc->mask_rng, lc->mask_seed);
  nfn_channel_dropout_forward (&lc->in, &lc->out, lc->p, lc->training, lc->mask_rng, lc->mask);
}
static void
channel_dropout_bwd (layer_case *lc)
{
  nfn_channel_dropout_backward (&lc->dout, &lc->din, lc->mask, lc->training);
}
static void
dropout_fwd (layer_case *lc)
{
  gsl_rng_set (lc->mask_rng, lc->mask_seed);
  nfn_dropout_forward (lc->x, lc->y, lc->x_n, lc->p, lc->training, lc->mask_rng, lc->mask);
}
static void dropout_bwd (layer_case *lc) { nfn_dropout_backward (lc->dy, lc->dx, lc->x_n, lc->mask, lc->training); }

static void scale_fwd (layer_case *lc) { nfn_learned_scale_forward (lc->params, &lc->in, &lc->out); }
static void
scale_bwd (layer_case *lc)
{
  nfn_learned_scale_backward (lc->params, &lc->in, &lc->dout, &lc->din, lc->dparams);
}

static void fourier_fwd (layer_case *lc) { nfn_fourier_forward (lc->matrix, lc->m, &lc->in, &lc->out); }
static void fourier_bwd (layer_case *lc) { nfn_fourier_backward (lc->matrix, lc->m, &lc->in, &lc->dout, &lc->din); }

static void io_fwd (layer_case *lc) { nfn_io_encoding_forward (lc->bands, &lc->in, &lc->out); }
static void io_bwd (layer_case *lc) { nfn_io_encoding_backward (lc->bands, &lc->dout, &lc->din); }

static void norm_fwd (layer_case *lc) { nfn_layer_norm_forward (lc->params, &lc->in, &lc->out, lc->cache); }
static void
norm_bwd (layer_case *lc)
{
  nfn_layer_norm_backward (lc->params, &lc->in, &lc->dout, lc->cache, &lc->din, lc->dparams);
}

static void
linear_fwd (layer_case *lc)
{
  nfn_linear_forward (lc->params, lc->x, lc->y, lc->N, lc->width_in, lc->width_out);
}
static void
linear_bwd (layer_case *lc)
{
  nfn_linear_backward (lc->params, lc->x, lc->dy, lc->dx, lc->dparams, lc->N, lc->width_in, lc->width_out);
}

static void statnn_fwd (layer_case *lc) { g_assert_cmpint (nfn_statnn_forward (&lc->in, lc->y), ==, NFN_OK); }
static void
statnn_bwd (layer_case *lc)
{
  g_assert_cmpint (nfn_statnn_backward (&lc->in, lc->dy, &lc->din), ==, NFN_OK);
}

static void flatten_fwd (layer_case *lc) { nfn_flatten_forward (&lc->in, lc->y); }
static void flatten_bwd (layer_case *lc) { nfn_flatten_backward (lc->dy, &lc->din); }

/* ---- case builders (shared by gradient and symmetry tests) ---- */

static void
build_pool (layer_case *lc, const nfn_space *s, nfn_symmetry sym, gsl_rng *rng)
{
  case_feature_in (lc, s, 2, 3, rng);
  lc->sym = sym;
  case_flat_out (lc, 2 * nfn_pool_dim (s, sym, 3), rng);
  lc->forward = pool_fwd;
  lc->backward = pool_bwd;
}

static void
build_pointwise (layer_case *lc, const nfn_space *s, gsl_rng *rng)
{
  case_feature_in (lc, s, 2, 3, rng);
  case_feature_out (lc, 4, rng);
  case_params (lc, nfn_pointwise_param_count (s, 3, 4));
  nfn_pointwise_init_params (s, 3, 4, lc->params, rng);
  lc->forward = pointwise_fwd;
  lc->backward = pointwise_bwd;
}

/* Inputs kept ≥ 0.05 away from ReLU's kink so a finite-difference step never crosses it. */
static void
build_relu (layer_case *lc, const nfn_space *s, gsl_rng *rng)
{
  case_feature_in (lc, s, 2, 3, rng);
  for (size_t e = 0; e < lc->in.size; e++)
    if (fabsf (lc->in.data[e]) < 0.05f && lc->in.data[e] != 0.0f)
      lc->in.data[e] = copysignf (0.05f, lc->in.data[e]) + lc->in.data[e];
  case_feature_out (lc, 3, rng);
  lc->forward = relu_fwd;
  lc->backward = relu_bwd;
}

static void
build_gelu (layer_case *lc, const nfn_space *s, gsl_rng *rng)
{
  case_feature_in (lc, s, 2, 3, rng);
  case_feature_out (lc, 3, rng);
  lc->forward = gelu_fwd;
  lc->backward = gelu_bwd;
}

static void
build_channel_dropout (layer_case *lc, const nfn_space *s, int B, int C, float p, int training, gsl_rng *rng)
{
  case_feature_in (lc, s, B, C, rng);
  case_feature_out (lc, C, rng);
  lc->p = p;
  lc->training = training;
  lc->mask = g_new0 (float, (size_t) B * C);
  lc->mask_rng = gsl_rng_alloc (gsl_rng_mt19937);
  lc->mask_seed = gsl_rng_get (rng);
  lc->forward = channel_dropout_fwd;
  lc->backward = channel_dropout_bwd;
}

static void
build_dropout (layer_case *lc, size_t n, float p, int training, gsl_rng *rng)
{
  case_flat_in (lc, n, rng);
  case_flat_out (lc, n, rng);
  lc->p = p;
  lc->training = training;
  lc->mask = g_new0 (float, n);
  lc->mask_rng = gsl_rng_alloc (gsl_rng_mt19937);
  lc->mask_seed = gsl_rng_get (rng);
  lc->forward = dropout_fwd;
  lc->backward = dropout_bwd;
}

static void
build_scale (layer_case *lc, const nfn_space *s, gsl_rng *rng)
{
  case_feature_in (lc, s, 2, 3, rng);
  case_feature_out (lc, 3, rng);
  case_params (lc, nfn_learned_scale_param_count (s));
  tu_fill_normal (lc->params, lc->n_params, 1.0, rng);
  lc->forward = scale_fwd;
  lc->backward = scale_bwd;
}

static void
build_fourier_sized (layer_case *lc, const nfn_space *s, int B, int m, double scale, gsl_rng *rng)
{
  int cin = 2;
  case_feature_in (lc, s, B, cin, rng);
  case_feature_out (lc, 2 * m, rng);
  lc->m = m;
  lc->matrix = g_new0 (float, (size_t) cin * m);
  nfn_fourier_init (lc->matrix, cin, m, scale, rng);
  lc->forward = fourier_fwd;
  lc->backward = fourier_bwd;
}

static void
build_fourier (layer_case *lc, const nfn_space *s, gsl_rng *rng)
{
  build_fourier_sized (lc, s, 2, 3, 0.5, rng);
}

static void
build_io (layer_case *lc, const nfn_space *s, gsl_rng *rng)
{
  case_feature_in (lc, s, 2, 2, rng);
  lc->bands = 3;
  case_feature_out (lc, nfn_io_encoding_channels (2, 3), rng);
  lc->forward = io_fwd;
  lc->backward = io_bwd;
}

static void
build_norm (layer_case *lc, const nfn_space *s, gsl_rng *rng)
{
  int C = 8;
  case_feature_in (lc, s, 2, C, rng);
  case_feature_out (lc, C, rng);
  case_params (lc, 2 * (size_t) C);
  nfn_layer_norm_init_params (C, lc->params);
  for (int c = 0; c < 2 * C; c++) /* away from the init so γ and β both matter */
    lc->params[c] += (float) gsl_ran_gaussian (rng, 0.5);
  lc->cache = g_new0 (float, nfn_layer_norm_cache_size (s, 2));
  lc->forward = norm_fwd;
  lc->backward = norm_bwd;
}

/* Entries of every (network, tensor, channel) column are a shuffled grid with gaps ≥ 0.05, so
 * no finite-difference step reorders them (quantiles are only piecewise smooth). */
static void
fill_spread_columns (nfn_feature *feat, gsl_rng *rng)
{
  const nfn_space *s = &feat->space;
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      size_t width = (size_t) feat->C * filter_positions (s, t);
      size_t positions = nfn_tensor_entries (s, t) / (size_t) filter_positions (s, t);
      double *grid = g_new (double, positions);
      for (int b = 0; b < feat->B; b++)
        for (size_t k = 0; k < width; k++)
          {
            for (size_t pos = 0; pos < positions; pos++)
              grid[pos] = 0.1 * (double) pos - 0.05 * (double) positions + gsl_rng_uniform (rng) * 0.05;
            gsl_ran_shuffle (rng, grid, positions, sizeof (double));
            for (size_t pos = 0; pos < positions; pos++)
              feat->t[t][((size_t) b * positions + pos) * width + k] = (float) grid[pos];
          }
      g_free (grid);
    }
}

static void
build_statnn (layer_case *lc, const nfn_space *s, gsl_rng *rng)
{
  case_feature_in (lc, s, 2, 2, rng);
  fill_spread_columns (&lc->in, rng);
  case_flat_out (lc, 2 * nfn_statnn_dim (s, 2), rng);
  lc->forward = statnn_fwd;
  lc->backward = statnn_bwd;
}

static void
build_flatten (layer_case *lc, const nfn_space *s, gsl_rng *rng)
{
  case_feature_in (lc, s, 2, 3, rng);
  case_flat_out (lc, 2 * nfn_flatten_dim (s, 3), rng);
  lc->forward = flatten_fwd;
  lc->backward = flatten_bwd;
}

static void
build_linear (layer_case *lc, gsl_rng *rng)
{
  lc->N = 5;
  lc->width_in = 7;
  lc->width_out = 4;
  case_flat_in (lc, (size_t) lc->N * lc->width_in, rng);
  case_flat_out (lc, (size_t) lc->N * lc->width_out, rng);
  case_params (lc, nfn_linear_param_count (lc->width_in, lc->width_out));
  nfn_linear_init_params (lc->width_in, lc->width_out, lc->params, rng);
  lc->forward = linear_fwd;
  lc->backward = linear_bwd;
}

/* ---- gradient checks ---- */

static void
test_gradients (void)
{
  gsl_rng *rng = tu_rng ();
  const double tol = 1e-2;
  for (space_kind kind = 0; kind < N_SPACES; kind++)
    {
      nfn_space s = make_space (kind);
      layer_case lc = { 0 };
      char what[96];
#define CHECK(name, build, h, floor)                                            \
      do {                                                                      \
        build;                                                                  \
        g_snprintf (what, sizeof what, "%s on %s", name, space_names[kind]);    \
        case_grad_check (&lc, what, h, floor, tol, rng);                        \
        case_clear (&lc);                                                       \
      } while (0)
      /* h = 0.1 where the output is linear in the perturbed entry: no truncation error, and the
       * float noise of the outputs is divided by a larger step */
      CHECK ("np pool", build_pool (&lc, &s, NFN_SYM_NP, rng), 1e-1, 1e-2);
      CHECK ("hnp pool", build_pool (&lc, &s, NFN_SYM_HNP, rng), 1e-1, 1e-2);
      CHECK ("pointwise", build_pointwise (&lc, &s, rng), 1e-1, 1e-2);
      CHECK ("relu", build_relu (&lc, &s, rng), 1e-2, 1e-2);
      CHECK ("gelu", build_gelu (&lc, &s, rng), 3e-3, 1e-2);
      CHECK ("channel dropout", build_channel_dropout (&lc, &s, 2, 3, 0.4f, 1, rng), 1e-1, 1e-2);
      CHECK ("learned scale", build_scale (&lc, &s, rng), 1e-1, 1e-2);
      CHECK ("fourier", build_fourier (&lc, &s, rng), 1e-3, 1e-1); /* gradients ~2π·|G|, as layer norm */
      CHECK ("io encoding", build_io (&lc, &s, rng), 1e-1, 1e-2);
      /* 1/σ of a few channels makes layer norm's curvature large: a mid-sized step, and a floor
       * at a tenth of its O(1) gradients so that float noise on near-zero ones does not count */
      CHECK ("layer norm", build_norm (&lc, &s, rng), 3e-3, 1e-1);
      CHECK ("statnn", build_statnn (&lc, &s, rng), 5e-3, 1e-2);
      CHECK ("flatten", build_flatten (&lc, &s, rng), 1e-1, 1e-2);
#undef CHECK
    }
  layer_case lc = { 0 };
  build_linear (&lc, rng);
  case_grad_check (&lc, "linear", 1e-1, 1e-2, tol, rng);
  case_clear (&lc);
  build_dropout (&lc, 40, 0.3f, 1, rng);
  case_grad_check (&lc, "dropout", 1e-1, 1e-2, tol, rng);
  case_clear (&lc);
  g_test_message ("worst relative gradient error over all layers: %.2e", worst_grad_error);
  gsl_rng_free (rng);
}

/* ---- pools ---- */

/* Pool written from the definition: mean over the permuted axes, out index
 * (fixed-axis index, c, p) per tensor, tensors in order. */
static void
naive_pool (nfn_symmetry sym, const nfn_feature *in, double *out /* (B, D) */)
{
  const nfn_space *s = &in->space;
  size_t dim = nfn_pool_dim (s, sym, in->C);
  memset (out, 0, (size_t) in->B * dim * sizeof (double));
  size_t offset = 0;
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      int i = nfn_tensor_layer (t), f = filter_positions (s, t);
      int is_bias = nfn_tensor_is_bias (t);
      int n_rows = s->n[i], n_cols = is_bias ? 1 : s->n[i - 1];
      int rows_fixed = !nfn_symmetry_permutes (s, sym, i);
      int cols_fixed = !is_bias && !nfn_symmetry_permutes (s, sym, i - 1);
      int fixed_count = (rows_fixed ? n_rows : 1) * (cols_fixed ? n_cols : 1);
      double count = (double) n_rows * n_cols / fixed_count;
      for (int b = 0; b < in->B; b++)
        for (int j = 0; j < n_rows; j++)
          for (int k = 0; k < n_cols; k++)
            {
              int fixed = (rows_fixed ? j : 0) * (cols_fixed ? n_cols : 1) + (cols_fixed ? k : 0);
              for (int c = 0; c < in->C; c++)
                for (int p = 0; p < f; p++)
                  out[(size_t) b * dim + offset + ((size_t) fixed * in->C + c) * f + p]
                      += *feature_at (in, t, b, j, k, c, p) / count;
            }
      offset += (size_t) fixed_count * in->C * f;
    }
  g_assert_cmpuint (offset, ==, dim);
}

static void
test_pool_forward (void)
{
  gsl_rng *rng = tu_rng ();
  for (space_kind kind = 0; kind < N_SPACES; kind++)
    for (int sym = NFN_SYM_NP; sym <= NFN_SYM_HNP; sym++)
      {
        nfn_space s = make_space (kind);
        layer_case lc = { 0 };
        build_pool (&lc, &s, sym, rng);
        double *expected = g_new (double, lc.y_n);
        naive_pool (sym, &lc.in, expected);
        lc.forward (&lc);
        double worst = 0;
        for (size_t e = 0; e < lc.y_n; e++)
          worst = fmax (worst, fabs (lc.y[e] - expected[e]));
        g_test_message ("%s pool on %s: max |out - definition| %.2e", nfn_symmetry_name (sym),
                        space_names[kind], worst);
        g_assert_cmpfloat (worst, <, 1e-5);
        g_free (expected);
        case_clear (&lc);
      }
  /* dims: NP keeps C·f per tensor; HNP's W_1 keeps n_0, W_L keeps n_L, b_L keeps n_L */
  nfn_space mlp = make_space (SPACE_MLP);
  g_assert_cmpuint (nfn_pool_dim (&mlp, NFN_SYM_NP, 3), ==, 6 * 3);
  g_assert_cmpuint (nfn_pool_dim (&mlp, NFN_SYM_HNP, 3), ==, (3 + 1 + 1 + 1 + 2 + 2) * 3);
  gsl_rng_free (rng);
}

/* A permutation moving only the input neurons (set 0): a cyclic shift. */
static void
perm_shift_inputs (nfn_perm *perm)
{
  nfn_perm_identity (perm);
  int n0 = perm->space.n[0];
  for (int k = 0; k < n0; k++)
    perm->p[0][k] = (k + 1) % n0;
}

static void
test_pool_invariance (void)
{
  gsl_rng *rng = tu_rng ();
  for (space_kind kind = 0; kind < N_SPACES; kind++)
    {
      nfn_space s = make_space (kind);
      nfn_perm perm;
      g_assert_cmpint (nfn_perm_alloc (&perm, &s), ==, NFN_OK);
      for (int sym = NFN_SYM_NP; sym <= NFN_SYM_HNP; sym++)
        {
          layer_case lc = { 0 };
          build_pool (&lc, &s, sym, rng);
          nfn_feature permuted;
          g_assert_cmpint (nfn_feature_alloc (&permuted, &s, lc.in.B, lc.in.C), ==, NFN_OK);
          float *pooled = g_new (float, lc.y_n), *pooled_permuted = g_new (float, lc.y_n);
          lc.forward (&lc);
          memcpy (pooled, lc.y, lc.y_n * sizeof (float));

          nfn_perm_random (&perm, sym, rng);
          g_assert_cmpint (nfn_perm_apply (&perm, &lc.in, &permuted), ==, NFN_OK);
          nfn_pool_forward (sym, &permuted, pooled_permuted);
          double own = relative_diff (pooled, pooled_permuted, lc.y_n);

          /* moving the input neurons: NP's group, not HNP's */
          perm_shift_inputs (&perm);
          g_assert_cmpint (nfn_perm_apply (&perm, &lc.in, &permuted), ==, NFN_OK);
          nfn_pool_forward (sym, &permuted, pooled_permuted);
          double inputs = relative_diff (pooled, pooled_permuted, lc.y_n);

          g_test_message ("%s pool on %s: own group %.2e, input shift %.2e", nfn_symmetry_name (sym),
                          space_names[kind], own, inputs);
          g_assert_cmpfloat (own, <, 1e-5);
          if (sym == NFN_SYM_NP)
            g_assert_cmpfloat (inputs, <, 1e-5);
          else
            g_assert_cmpfloat (inputs, >, 1e-2);
          g_free (pooled);
          g_free (pooled_permuted);
          nfn_feature_free (&permuted);
          case_clear (&lc);
        }
      nfn_perm_free (&perm);
    }
  gsl_rng_free (rng);
}

/* ---- equivariance of the per-entry layers ---- */

/* layer(σ·U) against σ·layer(U) for a random NP permutation (all sets, so HNP is covered). */
static double
case_equivariance_error (layer_case *lc, gsl_rng *rng)
{
  const nfn_space *s = &lc->in.space;
  nfn_perm perm;
  nfn_feature permuted_in, out_of_permuted, permuted_out;
  g_assert_cmpint (nfn_perm_alloc (&perm, s), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&permuted_in, s, lc->in.B, lc->in.C), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&out_of_permuted, s, lc->out.B, lc->out.C), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&permuted_out, s, lc->out.B, lc->out.C), ==, NFN_OK);
  nfn_perm_random (&perm, NFN_SYM_NP, rng);
  lc->forward (lc);
  g_assert_cmpint (nfn_perm_apply (&perm, &lc->out, &permuted_out), ==, NFN_OK);
  g_assert_cmpint (nfn_perm_apply (&perm, &lc->in, &permuted_in), ==, NFN_OK);
  case_run_on (lc, &permuted_in, &out_of_permuted);
  double err = feature_relative_diff (&permuted_out, &out_of_permuted);
  nfn_feature_free (&permuted_in);
  nfn_feature_free (&out_of_permuted);
  nfn_feature_free (&permuted_out);
  nfn_perm_free (&perm);
  return err;
}

static void
test_equivariance (void)
{
  gsl_rng *rng = tu_rng ();
  for (space_kind kind = 0; kind < N_SPACES; kind++)
    {
      nfn_space s = make_space (kind);
      layer_case lc = { 0 };
#define CHECK(name, build)                                                              \
      do {                                                                              \
        build;                                                                          \
        double err = case_equivariance_error (&lc, rng);                                \
        g_test_message ("%s on %s: |layer(sU) - s.layer(U)| / |s.layer(U)| = %.2e",     \
                        name, space_names[kind], err);                                  \
        if (!(err < 1e-5))                                                              \
          g_test_fail_printf ("%s on %s is not equivariant: %.3e", name, space_names[kind], err); \
        case_clear (&lc);                                                               \
      } while (0)
      CHECK ("pointwise", build_pointwise (&lc, &s, rng));
      CHECK ("relu", build_relu (&lc, &s, rng));
      CHECK ("gelu", build_gelu (&lc, &s, rng));
      CHECK ("learned scale", build_scale (&lc, &s, rng));
      CHECK ("fourier", build_fourier (&lc, &s, rng));
      CHECK ("layer norm", build_norm (&lc, &s, rng));
      CHECK ("channel dropout", build_channel_dropout (&lc, &s, 2, 3, 0.4f, 1, rng));
#undef CHECK
    }
  gsl_rng_free (rng);
}

/* ---- forwards against direct computations ---- */

static void
test_pointwise_forward (void)
{
  gsl_rng *rng = tu_rng ();
  nfn_space s = make_space (SPACE_CNN);
  layer_case lc = { 0 };
  build_pointwise (&lc, &s, rng);
  lc.forward (&lc);
  int cin = lc.in.C, cout = lc.out.C;
  double worst = 0;
  const float *params = lc.params;
  for (int t = 0; t < nfn_tensor_count (&s); t++)
    {
      int i = nfn_tensor_layer (t), f = filter_positions (&s, t);
      int cols = tensor_columns (&s, t);
      const float *bias = params + (size_t) cin * f * cout * f;
      for (int b = 0; b < lc.in.B; b++)
        for (int j = 0; j < s.n[i]; j++)
          for (int k = 0; k < cols; k++)
            for (int co = 0; co < cout; co++)
              for (int po = 0; po < f; po++)
                {
                  double sum = bias[co * f + po];
                  for (int ci = 0; ci < cin; ci++)
                    for (int pi = 0; pi < f; pi++)
                      sum += *feature_at (&lc.in, t, b, j, k, ci, pi)
                             * params[(size_t) (ci * f + pi) * cout * f + co * f + po];
                  worst = fmax (worst, fabs (sum - *feature_at (&lc.out, t, b, j, k, co, po)));
                }
      params += (size_t) cin * f * cout * f + (size_t) cout * f;
    }
  g_test_message ("pointwise forward vs loops: %.2e", worst);
  g_assert_cmpfloat (worst, <, 1e-4);
  g_assert_cmpuint ((size_t) (params - lc.params), ==, lc.n_params);

  /* init: U(±1/√(C_in·f)) per tensor, the bound reached but not exceeded */
  double bound = 1.0 / sqrt (3.0 * 9.0), largest = 0;
  for (size_t e = 0; e < (size_t) 27 * 36 + 36; e++) /* W_1 block of the CNN: f = 9 */
    largest = fmax (largest, fabs (lc.params[e]));
  g_assert_cmpfloat (largest, <=, bound);
  g_assert_cmpfloat (largest, >, 0.9 * bound);
  case_clear (&lc);
  gsl_rng_free (rng);
}

static void
test_linear_forward (void)
{
  gsl_rng *rng = tu_rng ();
  layer_case lc = { 0 };
  build_linear (&lc, rng);
  lc.forward (&lc);
  double worst = 0;
  for (int r = 0; r < lc.N; r++)
    for (int o = 0; o < lc.width_out; o++)
      {
        double sum = lc.params[(size_t) lc.width_in * lc.width_out + o];
        for (int d = 0; d < lc.width_in; d++)
          sum += lc.x[r * lc.width_in + d] * lc.params[d * lc.width_out + o];
        worst = fmax (worst, fabs (sum - lc.y[r * lc.width_out + o]));
      }
  g_assert_cmpfloat (worst, <, 1e-5);
  case_clear (&lc);

  /* nn.Linear init: W and b both U(±1/√D_in) */
  int din = 50, dout = 40;
  float *params = g_new (float, nfn_linear_param_count (din, dout));
  nfn_linear_init_params (din, dout, params, rng);
  double bound = 1.0 / sqrt (din), largest = 0, largest_bias = 0;
  for (int e = 0; e < din * dout; e++)
    largest = fmax (largest, fabs (params[e]));
  for (int e = 0; e < dout; e++)
    largest_bias = fmax (largest_bias, fabs (params[din * dout + e]));
  g_assert_cmpfloat (largest, <=, bound);
  g_assert_cmpfloat (largest, >, 0.95 * bound);
  g_assert_cmpfloat (largest_bias, <=, bound);
  g_assert_cmpfloat (largest_bias, >, 0.5 * bound);
  g_free (params);
  gsl_rng_free (rng);
}

static void
test_activations_forward (void)
{
  /* PyTorch: F.gelu(x, approximate="tanh") at -3, -1, 0, 0.5, 1, 2 */
  const float x[] = { -3.0f, -1.0f, 0.0f, 0.5f, 1.0f, 2.0f };
  const double gelu[] = { -0.0036373304, -0.1588079929, 0.0, 0.3457140028, 0.8411920071, 1.9545976400 };
  float y[6];
  nfn_gelu_forward (x, y, 6);
  for (int e = 0; e < 6; e++)
    g_assert_cmpfloat_with_epsilon (y[e], gelu[e], 1e-6);
  nfn_relu_forward (x, y, 6);
  for (int e = 0; e < 6; e++)
    g_assert_cmpfloat (y[e], ==, x[e] > 0 ? x[e] : 0.0f);
}

static void
test_layer_norm_forward (void)
{
  gsl_rng *rng = tu_rng ();
  nfn_space s = make_space (SPACE_CNN);
  layer_case lc = { 0 };
  build_norm (&lc, &s, rng);
  lc.forward (&lc);
  int C = lc.in.C;
  double worst = 0;
  for (int t = 0; t < nfn_tensor_count (&s); t++)
    {
      int i = nfn_tensor_layer (t), f = filter_positions (&s, t);
      int cols = tensor_columns (&s, t);
      for (int b = 0; b < lc.in.B; b++)
        for (int j = 0; j < s.n[i]; j++)
          for (int k = 0; k < cols; k++)
            {
              double mean = 0, var = 0;
              for (int c = 0; c < C; c++)
                for (int p = 0; p < f; p++)
                  mean += *feature_at (&lc.in, t, b, j, k, c, p) / (double) (C * f);
              for (int c = 0; c < C; c++)
                for (int p = 0; p < f; p++)
                  var += pow (*feature_at (&lc.in, t, b, j, k, c, p) - mean, 2) / (double) (C * f);
              for (int c = 0; c < C; c++)
                for (int p = 0; p < f; p++)
                  {
                    double expected = (*feature_at (&lc.in, t, b, j, k, c, p) - mean) / sqrt (var + 1e-5)
                                      * lc.params[c] + lc.params[C + c];
                    worst = fmax (worst, fabs (expected - *feature_at (&lc.out, t, b, j, k, c, p)));
                  }
            }
    }
  g_test_message ("layer norm forward vs definition: %.2e", worst);
  g_assert_cmpfloat (worst, <, 1e-5);
  case_clear (&lc);
  gsl_rng_free (rng);
}

/* max |out - definition| of a Fourier case after its forward */
static double
fourier_forward_error (layer_case *lc)
{
  const nfn_space *s = &lc->in.space;
  int cin = lc->in.C, m = lc->m;
  double worst = 0;
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      int i = nfn_tensor_layer (t), f = filter_positions (s, t);
      int cols = tensor_columns (s, t);
      for (int b = 0; b < lc->in.B; b++)
        for (int j = 0; j < s->n[i]; j++)
          for (int k = 0; k < cols; k++)
            for (int p = 0; p < f; p++)
              for (int q = 0; q < m; q++)
                {
                  double z = 0;
                  for (int c = 0; c < cin; c++)
                    z += (double) *feature_at (&lc->in, t, b, j, k, c, p) * lc->matrix[c * m + q];
                  worst = fmax (worst, fabs (sin (2 * M_PI * z) - *feature_at (&lc->out, t, b, j, k, q, p)));
                  worst = fmax (worst, fabs (cos (2 * M_PI * z) - *feature_at (&lc->out, t, b, j, k, m + q, p)));
                }
    }
  return worst;
}

static void
test_fourier_forward (void)
{
  gsl_rng *rng = tu_rng ();
  nfn_space s = make_space (SPACE_CNN);
  layer_case lc = { 0 };
  build_fourier (&lc, &s, rng);
  lc.forward (&lc);
  double worst = fourier_forward_error (&lc);
  g_test_message ("fourier forward vs definition: %.2e", worst);
  g_assert_cmpfloat (worst, <, 1e-5);
  case_clear (&lc);

  /* large enough for the layer's threaded loops: forward and backward again (a smaller
   * scale keeps the sum of 2m outputs smooth enough for the same step) */
  build_fourier_sized (&lc, &s, 6, 128, 0.1, rng);
  lc.forward (&lc);
  worst = fourier_forward_error (&lc);
  g_test_message ("fourier forward, m = 128, vs definition: %.2e", worst);
  g_assert_cmpfloat (worst, <, 1e-5);
  case_grad_check (&lc, "fourier, m = 128", 1e-3, 1e-1, 1e-2, rng);
  case_clear (&lc);

  /* the matrix is N(0, s²) */
  int n = 4000;
  float *matrix = g_new (float, n);
  nfn_fourier_init (matrix, 40, 100, 3.0, rng);
  double mean = 0, var = 0;
  for (int e = 0; e < n; e++)
    mean += matrix[e] / (double) n;
  for (int e = 0; e < n; e++)
    var += (matrix[e] - mean) * (matrix[e] - mean) / (double) n;
  g_test_message ("fourier init: mean %.3f, std %.3f (want 0, 3)", mean, sqrt (var));
  g_assert_cmpfloat (fabs (mean), <, 0.25);
  g_assert_cmpfloat (fabs (sqrt (var) - 3.0), <, 0.2);
  g_free (matrix);
  gsl_rng_free (rng);
}

/* ---- IO encoding ---- */

static double
io_code (int index, int n, int a)
{
  double x = n == 1 ? 0.0 : -1.0 + 2.0 * index / (double) (n - 1);
  double angle = M_PI / 2 * pow (2.0, a / 2) * x;
  return a % 2 == 0 ? sin (angle) : cos (angle);
}

static void
test_io_encoding (void)
{
  gsl_rng *rng = tu_rng ();
  for (space_kind kind = 0; kind < N_SPACES; kind++)
    {
      nfn_space s = make_space (kind);
      layer_case lc = { 0 };
      build_io (&lc, &s, rng);
      lc.forward (&lc);
      int C = lc.in.C, bands = lc.bands, L = s.L;
      g_assert_cmpint (lc.out.C, ==, C + 4 * bands);
      double worst = 0;
      for (int t = 0; t < nfn_tensor_count (&s); t++)
        {
          int i = nfn_tensor_layer (t), f = filter_positions (&s, t), is_bias = nfn_tensor_is_bias (t);
          int cols = tensor_columns (&s, t);
          for (int b = 0; b < lc.in.B; b++)
            for (int j = 0; j < s.n[i]; j++)
              for (int k = 0; k < cols; k++)
                for (int p = 0; p < f; p++)
                  {
                    for (int c = 0; c < C; c++)
                      worst = fmax (worst, fabs (*feature_at (&lc.in, t, b, j, k, c, p)
                                                 - *feature_at (&lc.out, t, b, j, k, c, p)));
                    for (int a = 0; a < 2 * bands; a++)
                      {
                        double input_code = (!is_bias && i == 1) ? io_code (k, s.n[0], a) : 0.0;
                        double output_code = i == L ? io_code (j, s.n[L], a) : 0.0;
                        worst = fmax (worst, fabs (input_code - *feature_at (&lc.out, t, b, j, k, C + a, p)));
                        worst = fmax (worst, fabs (output_code
                                                   - *feature_at (&lc.out, t, b, j, k, C + 2 * bands + a, p)));
                      }
                  }
        }
      g_test_message ("io encoding on %s vs formula: %.2e", space_names[kind], worst);
      g_assert_cmpfloat (worst, <, 1e-6);

      /* hidden permutations commute with the encoding; moving the inputs does not */
      nfn_perm perm;
      nfn_feature permuted_in, out_of_permuted, permuted_out;
      g_assert_cmpint (nfn_perm_alloc (&perm, &s), ==, NFN_OK);
      g_assert_cmpint (nfn_feature_alloc (&permuted_in, &s, lc.in.B, lc.in.C), ==, NFN_OK);
      g_assert_cmpint (nfn_feature_alloc (&out_of_permuted, &s, lc.out.B, lc.out.C), ==, NFN_OK);
      g_assert_cmpint (nfn_feature_alloc (&permuted_out, &s, lc.out.B, lc.out.C), ==, NFN_OK);
      for (int moves_inputs = 0; moves_inputs <= 1; moves_inputs++)
        {
          if (moves_inputs)
            perm_shift_inputs (&perm);
          else
            nfn_perm_random (&perm, NFN_SYM_HNP, rng);
          g_assert_cmpint (nfn_perm_apply (&perm, &lc.out, &permuted_out), ==, NFN_OK);
          g_assert_cmpint (nfn_perm_apply (&perm, &lc.in, &permuted_in), ==, NFN_OK);
          case_run_on (&lc, &permuted_in, &out_of_permuted);
          double err = feature_relative_diff (&permuted_out, &out_of_permuted);
          g_test_message ("io encoding on %s, %s: %.2e", space_names[kind],
                          moves_inputs ? "input shift" : "hidden permutation", err);
          if (moves_inputs)
            g_assert_cmpfloat (err, >, 1e-2);
          else
            g_assert_cmpfloat (err, ==, 0.0);
        }
      nfn_feature_free (&permuted_in);
      nfn_feature_free (&out_of_permuted);
      nfn_feature_free (&permuted_out);
      nfn_perm_free (&perm);
      case_clear (&lc);
    }
  gsl_rng_free (rng);
}

/* ---- StatNN ---- */

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* Sort in double and read numpy's "linear" quantile off the order statistics. */
static void
sorted_stats (double *values, int n, double stats[7])
{
  double mean = 0, var = 0;
  for (int e = 0; e < n; e++)
    mean += values[e] / n;
  for (int e = 0; e < n; e++)
    var += (values[e] - mean) * (values[e] - mean) / n;
  qsort (values, (size_t) n, sizeof (double), compare_double);
  stats[0] = mean;
  stats[1] = var;
  for (int q = 0; q < 5; q++)
    {
      double h = (n - 1) * q / 4.0;
      int lo = (int) h;
      double upper = lo + 1 < n ? values[lo + 1] : values[lo];
      stats[2 + q] = values[lo] + (h - lo) * (upper - values[lo]);
    }
}

static void
test_statnn (void)
{
  gsl_rng *rng = tu_rng ();
  for (space_kind kind = 0; kind < N_SPACES; kind++)
    {
      nfn_space s = make_space (kind);
      layer_case lc = { 0 };
      case_feature_in (&lc, &s, 2, 2, rng);
      size_t dim = nfn_statnn_dim (&s, lc.in.C);
      case_flat_out (&lc, 2 * dim, rng);
      lc.forward = statnn_fwd;
      lc.forward (&lc);
      double worst = 0;
      size_t index = 0;
      for (int b = 0; b < lc.in.B; b++)
        for (int t = 0; t < nfn_tensor_count (&s); t++)
          {
            int i = nfn_tensor_layer (t), f = filter_positions (&s, t);
            int cols = tensor_columns (&s, t);
            int n = s.n[i] * cols;
            double *values = g_new (double, n), stats[7];
            for (int c = 0; c < lc.in.C; c++)
              for (int p = 0; p < f; p++)
                {
                  for (int j = 0; j < s.n[i]; j++)
                    for (int k = 0; k < cols; k++)
                      values[j * cols + k] = *feature_at (&lc.in, t, b, j, k, c, p);
                  sorted_stats (values, n, stats);
                  for (int q = 0; q < 7; q++)
                    worst = fmax (worst, fabs (stats[q] - lc.y[index++]));
                }
            g_free (values);
          }
      g_assert_cmpuint (index, ==, lc.y_n);
      g_test_message ("statnn on %s vs sort-based: %.2e", space_names[kind], worst);
      g_assert_cmpfloat (worst, <, 1e-5);

      /* invariant under every neuron permutation */
      nfn_perm perm;
      nfn_feature permuted;
      float *stats_permuted = g_new (float, lc.y_n);
      g_assert_cmpint (nfn_perm_alloc (&perm, &s), ==, NFN_OK);
      g_assert_cmpint (nfn_feature_alloc (&permuted, &s, lc.in.B, lc.in.C), ==, NFN_OK);
      nfn_perm_random (&perm, NFN_SYM_NP, rng);
      g_assert_cmpint (nfn_perm_apply (&perm, &lc.in, &permuted), ==, NFN_OK);
      g_assert_cmpint (nfn_statnn_forward (&permuted, stats_permuted), ==, NFN_OK);
      double err = relative_diff (lc.y, stats_permuted, lc.y_n);
      g_test_message ("statnn on %s under a permutation: %.2e", space_names[kind], err);
      g_assert_cmpfloat (err, <, 1e-6);
      g_free (stats_permuted);
      nfn_feature_free (&permuted);
      nfn_perm_free (&perm);
      case_clear (&lc);
    }

  /* hand example, values as numpy.quantile(x, [0, .25, .5, .75, 1]) gives them */
  static const int widths[] = { 1, 4 };
  nfn_space s;
  nfn_feature feat;
  g_assert_cmpint (nfn_space_init (&s, 1, widths), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&feat, &s, 1, 1), ==, NFN_OK);
  const float weights[] = { 4, 2, 1, 3 }, biases[] = { 3, 1, 4, 1 };
  memcpy (feat.t[0], weights, sizeof weights);
  memcpy (feat.t[1], biases, sizeof biases);
  const float expected[14] = { 2.5f, 1.25f, 1, 1.75f, 2.5f, 3.25f, 4,
                               2.25f, 1.6875f, 1, 1, 2, 3.25f, 4 };
  float out[14];
  g_assert_cmpuint (nfn_statnn_dim (&s, 1), ==, 14);
  g_assert_cmpint (nfn_statnn_forward (&feat, out), ==, NFN_OK);
  for (int e = 0; e < 14; e++)
    g_assert_cmpfloat_with_epsilon (out[e], expected[e], 1e-6);
  nfn_feature_free (&feat);
  gsl_rng_free (rng);
}

/* ---- flatten ---- */

static void
test_flatten (void)
{
  gsl_rng *rng = tu_rng ();
  for (space_kind kind = 0; kind < N_SPACES; kind++)
    {
      nfn_space s = make_space (kind);
      layer_case lc = { 0 };
      build_flatten (&lc, &s, rng);
      size_t dim = nfn_flatten_dim (&s, lc.in.C);
      g_assert_cmpuint (dim, ==, lc.in.C * nfn_space_param_count (&s));
      lc.forward (&lc);
      /* network 1's row starts with its W_1 entry (j = 0, k = 0, c = 0, p = 0) and ends with
       * its last b_L entry */
      g_assert_cmpfloat (lc.y[dim], ==, *feature_at (&lc.in, 0, 1, 0, 0, 0, 0));
      g_assert_cmpfloat (lc.y[2 * dim - 1], ==,
                         *feature_at (&lc.in, nfn_tensor_bias (s.L), 1, s.n[s.L] - 1, 0, lc.in.C - 1, 0));
      /* the round trip: backward (the adjoint, a scatter) of forward gives the feature back */
      nfn_flatten_backward (lc.y, &lc.din);
      g_assert_cmpfloat (nfn_feature_max_abs_diff (&lc.in, &lc.din), ==, 0.0);
      case_clear (&lc);
    }
  gsl_rng_free (rng);
}

/* ---- dropout ---- */

static void
test_dropout (void)
{
  gsl_rng *rng = tu_rng ();
  nfn_space s = make_space (SPACE_CNN);
  const float p = 0.3f;
  const int B = 4, C = 150;

  /* not training: identity both ways, no mask drawn */
  layer_case lc = { 0 };
  build_channel_dropout (&lc, &s, B, C, p, 0, rng);
  lc.forward (&lc);
  g_assert_cmpfloat (nfn_feature_max_abs_diff (&lc.in, &lc.out), ==, 0.0);
  lc.backward (&lc);
  g_assert_cmpfloat (nfn_feature_max_abs_diff (&lc.dout, &lc.din), ==, 0.0);

  /* training: a channel of a network is all zero or all in/(1-p), about 1-p of them kept */
  lc.training = 1;
  lc.forward (&lc);
  int kept = 0;
  double worst = 0;
  for (int b = 0; b < B; b++)
    for (int c = 0; c < C; c++)
      {
        int channel_kept = -1;
        for (int t = 0; t < nfn_tensor_count (&s); t++)
          {
            int i = nfn_tensor_layer (t), f = filter_positions (&s, t);
            int cols = tensor_columns (&s, t);
            for (int j = 0; j < s.n[i]; j++)
              for (int k = 0; k < cols; k++)
                for (int q = 0; q < f; q++)
                  {
                    float x = *feature_at (&lc.in, t, b, j, k, c, q), y = *feature_at (&lc.out, t, b, j, k, c, q);
                    if (channel_kept < 0)
                      channel_kept = y != 0.0f;
                    worst = fmax (worst, fabs (y - (channel_kept ? x / (1.0 - p) : 0.0)));
                  }
          }
        kept += channel_kept;
      }
  double kept_fraction = kept / (double) (B * C);
  g_test_message ("channel dropout p = %.1f: kept %.3f of channels, max scale error %.2e", p,
                  kept_fraction, worst);
  g_assert_cmpfloat (worst, <, 1e-6);
  g_assert_cmpfloat (fabs (kept_fraction - (1 - p)), <, 0.08);

  /* the same seed gives the same mask; another seed another one */
  float *mask = g_memdup2 (lc.mask, (size_t) B * C * sizeof (float));
  lc.forward (&lc);
  g_assert_cmpmem (mask, (size_t) B * C * sizeof (float), lc.mask, (size_t) B * C * sizeof (float));
  lc.mask_seed++;
  lc.forward (&lc);
  g_assert_true (memcmp (mask, lc.mask, (size_t) B * C * sizeof (float)) != 0);
  g_free (mask);
  case_clear (&lc);

  /* elementwise dropout, the same properties */
  size_t n = 2000;
  build_dropout (&lc, n, p, 0, rng);
  lc.forward (&lc);
  g_assert_cmpmem (lc.x, n * sizeof (float), lc.y, n * sizeof (float));
  lc.training = 1;
  lc.forward (&lc);
  kept = 0;
  worst = 0;
  for (size_t e = 0; e < n; e++)
    {
      int entry_kept = lc.y[e] != 0.0f;
      kept += entry_kept;
      worst = fmax (worst, fabs (lc.y[e] - (entry_kept ? lc.x[e] / (1.0 - p) : 0.0)));
    }
  kept_fraction = kept / (double) n;
  g_test_message ("dropout p = %.1f: kept %.3f, max scale error %.2e", p, kept_fraction, worst);
  g_assert_cmpfloat (worst, <, 1e-6);
  g_assert_cmpfloat (fabs (kept_fraction - (1 - p)), <, 0.05);
  mask = g_memdup2 (lc.mask, n * sizeof (float));
  lc.forward (&lc);
  g_assert_cmpmem (mask, n * sizeof (float), lc.mask, n * sizeof (float));
  g_free (mask);
  case_clear (&lc);
  gsl_rng_free (rng);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/layers/gradients", test_gradients);
  g_test_add_func ("/layers/pool/forward", test_pool_forward);
  g_test_add_func ("/layers/pool/invariance", test_pool_invariance);
  g_test_add_func ("/layers/equivariance", test_equivariance);
  g_test_add_func ("/layers/pointwise/forward", test_pointwise_forward);
  g_test_add_func ("/layers/linear/forward", test_linear_forward);
  g_test_add_func ("/layers/activations/forward", test_activations_forward);
  g_test_add_func ("/layers/layer-norm/forward", test_layer_norm_forward);
  g_test_add_func ("/layers/fourier/forward", test_fourier_forward);
  g_test_add_func ("/layers/io-encoding", test_io_encoding);
  g_test_add_func ("/layers/statnn", test_statnn);
  g_test_add_func ("/layers/flatten", test_flatten);
  g_test_add_func ("/layers/dropout", test_dropout);
  return g_test_run ();
}
