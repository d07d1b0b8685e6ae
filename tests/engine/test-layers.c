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

/* Entry of a feature by its named indices: tensor t, network b, row j, column k (0 for a
 * bias), channel c, filter position p — written out so the tests do not share the layers'
 * stride arithmetic. */
static float *
feature_at (const nfn_feature *feat, int t, int b, int j, int k, int c, int p)
{
  const nfn_space *s = &feat->space;
  int i = nfn_tensor_layer (t);
  size_t f = (size_t) filter_positions (s, t);
  size_t cols = nfn_tensor_is_bias (t) ? 1 : (size_t) s->n[i - 1];
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

/* Finite differences of <R, layer(x)> against backward, w.r.t. x and the parameters. */
static void
case_grad_check (layer_case *lc, const char *what, double h, double tol, gsl_rng *rng)
{
  const double floor = 1e-2;
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
build_fourier (layer_case *lc, const nfn_space *s, gsl_rng *rng)
{
  int cin = 2, m = 3;
  case_feature_in (lc, s, 2, cin, rng);
  case_feature_out (lc, 2 * m, rng);
  lc->m = m;
  lc->matrix = g_new0 (float, (size_t) cin * m);
  nfn_fourier_init (lc->matrix, cin, m, 0.5, rng);
  lc->forward = fourier_fwd;
  lc->backward = fourier_bwd;
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
  int C = 4;
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
#define CHECK(name, build, h)                                                   \
      do {                                                                      \
        build;                                                                  \
        g_snprintf (what, sizeof what, "%s on %s", name, space_names[kind]);    \
        case_grad_check (&lc, what, h, tol, rng);                               \
        case_clear (&lc);                                                       \
      } while (0)
      CHECK ("np pool", build_pool (&lc, &s, NFN_SYM_NP, rng), 1e-2);
      CHECK ("hnp pool", build_pool (&lc, &s, NFN_SYM_HNP, rng), 1e-2);
      CHECK ("pointwise", build_pointwise (&lc, &s, rng), 1e-2);
      CHECK ("relu", build_relu (&lc, &s, rng), 1e-2);
      CHECK ("gelu", build_gelu (&lc, &s, rng), 1e-2);
      CHECK ("channel dropout", build_channel_dropout (&lc, &s, 2, 3, 0.4f, 1, rng), 1e-2);
      CHECK ("learned scale", build_scale (&lc, &s, rng), 1e-2);
      CHECK ("fourier", build_fourier (&lc, &s, rng), 1e-3);
      CHECK ("io encoding", build_io (&lc, &s, rng), 1e-2);
      CHECK ("layer norm", build_norm (&lc, &s, rng), 1e-3);
      CHECK ("statnn", build_statnn (&lc, &s, rng), 5e-3);
      CHECK ("flatten", build_flatten (&lc, &s, rng), 1e-2);
#undef CHECK
    }
  layer_case lc = { 0 };
  build_linear (&lc, rng);
  case_grad_check (&lc, "linear", 1e-2, tol, rng);
  case_clear (&lc);
  build_dropout (&lc, 40, 0.3f, 1, rng);
  case_grad_check (&lc, "dropout", 1e-2, tol, rng);
  case_clear (&lc);
  g_test_message ("worst relative gradient error over all layers: %.2e", worst_grad_error);
  gsl_rng_free (rng);
}
