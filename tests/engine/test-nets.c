/* test-nets.c — the studied networks (MLP, SIREN, CNN): geometry checks, a plain double-precision
 * forward to compare with, finite-difference gradients w.r.t. weights and inputs, invariance
 * under hidden-neuron permutations, and the initialisations' ranges.
 *
 * Shape letters: B networks, N inputs per network, in/out floats per input/output,
 * n_i widths (channels), L layers. */
#include <math.h>
#include <string.h>

#include "testutil.h"
#include "nfn_nets.h"
#include "nfn_perm.h"

/* ---- an independent forward: direct loops, double precision, one network, one input ---- */

static double
naive_act (const nfn_arch *arch, double z)
{
  switch (arch->act)
    {
    case NFN_ACT_RELU: return z > 0 ? z : 0;
    case NFN_ACT_TANH: return tanh (z);
    case NFN_ACT_SIN: return sin (arch->omega0 * z);
    case NFN_ACT_IDENTITY: return z;
    }
  g_assert_not_reached ();
}

/* y (n_L) = f_net(x), x (n_0, in_h, in_w) for a CNN, (n_0) otherwise. Returns the smallest
 * |pre-activation| of any hidden neuron, so ReLU gradient checks can avoid the kink. */
static double
naive_forward (const nfn_arch *arch, const nfn_feature *w, int net, const float *x, double *y)
{
  const nfn_space *s = &arch->space;
  int n_conv = arch->kind == NFN_NET_CNN ? arch->n_conv : 0;
  int H = n_conv ? arch->in_h : 1, Wd = n_conv ? arch->in_w : 1;
  /* padding can grow the image, so size the buffers layer by layer */
  size_t biggest = (size_t) s->n[0] * H * Wd;
  for (int i = 1, h = H, wd = Wd; i <= n_conv; i++)
    {
      h = (h + 2 * arch->padding - arch->kh) / arch->stride + 1;
      wd = (wd + 2 * arch->padding - arch->kw) / arch->stride + 1;
      biggest = MAX (biggest, (size_t) s->n[i] * h * wd);
    }
  for (int i = 0; i <= s->L; i++)
    biggest = MAX (biggest, (size_t) s->n[i]);
  double *cur = g_new0 (double, biggest), *next = g_new0 (double, biggest);
  for (size_t e = 0; e < nfn_net_input_size (arch); e++)
    cur[e] = x[e];
  double min_abs_z = INFINITY;
  for (int i = 1; i <= s->L; i++)
    {
      int n_in = s->n[i - 1], n_out = s->n[i];
      const float *Wt = w->t[nfn_tensor_weight (i)] + (size_t) net * nfn_tensor_entries (s, nfn_tensor_weight (i));
      const float *bias = w->t[nfn_tensor_bias (i)] + (size_t) net * n_out;
      int oh = 1, ow = 1;
      if (i <= n_conv)
        {
          int k_h = arch->kh, k_w = arch->kw, st = arch->stride, pad = arch->padding;
          oh = (H + 2 * pad - k_h) / st + 1;
          ow = (Wd + 2 * pad - k_w) / st + 1;
          for (int o = 0; o < n_out; o++)
            for (int oy = 0; oy < oh; oy++)
              for (int ox = 0; ox < ow; ox++)
                {
                  double z = bias[o];
                  for (int c = 0; c < n_in; c++)
                    for (int ky = 0; ky < k_h; ky++)
                      for (int kx = 0; kx < k_w; kx++)
                        {
                          int iy = oy * st - pad + ky, ix = ox * st - pad + kx;
                          if (iy >= 0 && iy < H && ix >= 0 && ix < Wd)
                            z += Wt[((o * n_in + c) * k_h + ky) * k_w + kx] * cur[(c * H + iy) * Wd + ix];
                        }
                  next[(o * oh + oy) * ow + ox] = z;
                }
        }
      else
        for (int o = 0; o < n_out; o++)
          {
            double z = bias[o];
            for (int c = 0; c < n_in; c++)
              z += Wt[o * n_in + c] * cur[c];
            next[o] = z;
          }
      if (i < s->L)
        for (int e = 0; e < n_out * oh * ow; e++)
          {
            min_abs_z = fmin (min_abs_z, fabs (next[e]));
            next[e] = naive_act (arch, next[e]);
          }
      if (i == n_conv)
        { /* global average pool: one value per channel */
          for (int o = 0; o < n_out; o++)
            {
              double sum = 0;
              for (int p = 0; p < oh * ow; p++)
                sum += next[o * oh * ow + p];
              next[o] = sum / (oh * ow);
            }
          oh = ow = 1;
        }
      H = oh;
      Wd = ow;
      double *t = cur;
      cur = next;
      next = t;
    }
  for (int o = 0; o < s->n[s->L]; o++)
    y[o] = cur[o];
  g_free (cur);
  g_free (next);
  return min_abs_z;
}

/* ---- fixtures ---- */

static void
make_mlp (nfn_arch *arch, nfn_activation act)
{
  int widths[] = { 3, 7, 6, 2 };
  g_assert_cmpint (nfn_arch_mlp (arch, 3, widths, act), ==, NFN_OK);
}

static void
make_siren (nfn_arch *arch, float omega0)
{
  int widths[] = { 2, 8, 8, 1 };
  g_assert_cmpint (nfn_arch_siren (arch, 3, widths, omega0), ==, NFN_OK);
}

/* 9×8 images, 4 layers: n_conv = 2 gives conv, conv, pool, dense, act, dense; n_conv = 4 is
 * all conv with the pool feeding the output */
static void
make_cnn (nfn_arch *arch, int n_conv, int k, int stride, int padding, nfn_activation act)
{
  int channels[] = { 2, 4, 3, 5, 3 };
  g_assert_cmpint (nfn_arch_cnn (arch, 4, channels, n_conv, k, stride, padding, 9, 8, act), ==, NFN_OK);
}

/* Weights from the arch's own init, biases spread wider so hidden units sit at varied
 * operating points (init biases alone keep SIREN's sin nearly linear). */
static void
fill_weights (const nfn_arch *arch, nfn_feature *w, gsl_rng *rng)
{
  nfn_net_init (arch, w, rng);
  for (int i = 1; i <= arch->space.L; i++)
    tu_fill_uniform (w->t[nfn_tensor_bias (i)], (size_t) w->B * arch->space.n[i], -0.5, 0.5, rng);
}

/* ---- names, constructors, geometry checks ---- */

static void
test_names (void)
{
  nfn_net_kind kind;
  nfn_activation act;
  const nfn_net_kind kinds[] = { NFN_NET_MLP, NFN_NET_SIREN, NFN_NET_CNN };
  const char *kind_names[] = { "mlp", "siren", "cnn" };
  for (int k = 0; k < 3; k++)
    {
      g_assert_cmpstr (nfn_net_kind_name (kinds[k]), ==, kind_names[k]);
      g_assert_true (nfn_net_kind_parse (kind_names[k], &kind));
      g_assert_cmpint (kind, ==, kinds[k]);
    }
  const nfn_activation acts[] = { NFN_ACT_RELU, NFN_ACT_TANH, NFN_ACT_SIN, NFN_ACT_IDENTITY };
  const char *act_names[] = { "relu", "tanh", "sin", "identity" };
  for (int k = 0; k < 4; k++)
    {
      g_assert_cmpstr (nfn_activation_name (acts[k]), ==, act_names[k]);
      g_assert_true (nfn_activation_parse (act_names[k], &act));
      g_assert_cmpint (act, ==, acts[k]);
    }
  g_assert_false (nfn_net_kind_parse ("transformer", &kind));
  g_assert_false (nfn_net_kind_parse ("", &kind));
  g_assert_false (nfn_net_kind_parse (NULL, &kind));
  g_assert_false (nfn_activation_parse ("gelu", &act));
}

static void
test_arch_constructors (void)
{
  nfn_arch arch;
  int widths[] = { 2, 32, 32, 1 };
  g_assert_cmpint (nfn_arch_siren (&arch, 3, widths, 30.0f), ==, NFN_OK);
  g_assert_cmpint (arch.kind, ==, NFN_NET_SIREN);
  g_assert_cmpint (arch.act, ==, NFN_ACT_SIN);
  g_assert_cmpfloat (arch.omega0, ==, 30.0f);
  g_assert_cmpuint (nfn_net_input_size (&arch), ==, 2);
  g_assert_cmpuint (nfn_net_output_size (&arch), ==, 1);
  g_assert_cmpuint (nfn_space_param_count (&arch.space), ==, 2 * 32 + 32 + 32 * 32 + 32 + 32 + 1);

  int channels[] = { 1, 16, 16, 10 };
  g_assert_cmpint (nfn_arch_cnn (&arch, 3, channels, 2, 3, 2, 1, 28, 28, NFN_ACT_RELU), ==, NFN_OK);
  g_assert_cmpint (arch.space.f[1], ==, 9);
  g_assert_cmpint (arch.space.f[2], ==, 9);
  g_assert_cmpint (arch.space.f[3], ==, 1);
  g_assert_cmpuint (nfn_net_input_size (&arch), ==, 28 * 28);
  g_assert_cmpuint (nfn_net_output_size (&arch), ==, 10);
}

static void
test_arch_check_rejects (void)
{
  nfn_arch arch;
  int widths[] = { 2, 4, 4, 1 };
  int channels[] = { 1, 4, 4, 3 };
  /* conv output size < 1: a 5×5 kernel on a 3×3 image without padding, or after stride */
  g_assert_cmpint (nfn_arch_cnn (&arch, 3, channels, 1, 5, 1, 0, 3, 3, NFN_ACT_RELU), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_arch_cnn (&arch, 3, channels, 2, 3, 2, 0, 4, 4, NFN_ACT_RELU), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_arch_cnn (&arch, 3, channels, 2, 3, 2, 1, 4, 4, NFN_ACT_RELU), ==, NFN_OK);
  /* n_conv out of 1 … L */
  g_assert_cmpint (nfn_arch_cnn (&arch, 3, channels, 4, 3, 1, 1, 8, 8, NFN_ACT_RELU), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_arch_cnn (&arch, 3, channels, 0, 3, 1, 1, 8, 8, NFN_ACT_RELU), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_arch_cnn (&arch, 3, channels, -1, 3, 1, 1, 8, 8, NFN_ACT_RELU), ==, NFN_ERR_ARG);
  /* stride, padding, kernel, image size */
  g_assert_cmpint (nfn_arch_cnn (&arch, 3, channels, 1, 3, 0, 1, 8, 8, NFN_ACT_RELU), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_arch_cnn (&arch, 3, channels, 1, 3, 1, -1, 8, 8, NFN_ACT_RELU), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_arch_cnn (&arch, 3, channels, 1, 0, 1, 0, 8, 8, NFN_ACT_RELU), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_arch_cnn (&arch, 3, channels, 1, 3, 1, 1, 0, 8, NFN_ACT_RELU), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_arch_cnn (&arch, 3, channels, 1, 3, 1, 1, 8, 8, NFN_ACT_SIN), ==, NFN_ERR_ARG);
  /* widths and layer counts */
  int zero_width[] = { 2, 0, 4, 1 };
  g_assert_cmpint (nfn_arch_mlp (&arch, 3, zero_width, NFN_ACT_RELU), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_arch_mlp (&arch, 0, widths, NFN_ACT_RELU), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_arch_mlp (&arch, NFN_MAX_LAYERS + 1, widths, NFN_ACT_RELU), ==, NFN_ERR_ARG);
  /* activations and ω0 that do not belong to the kind */
  g_assert_cmpint (nfn_arch_mlp (&arch, 3, widths, NFN_ACT_SIN), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_arch_siren (&arch, 3, widths, 0.0f), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_arch_siren (&arch, 3, widths, NAN), ==, NFN_ERR_ARG);
  /* a hand-edited arch whose kernel sizes disagree with its geometry */
  g_assert_cmpint (nfn_arch_cnn (&arch, 3, channels, 2, 3, 1, 1, 8, 8, NFN_ACT_TANH), ==, NFN_OK);
  arch.space.f[2] = 4;
  g_assert_cmpint (nfn_arch_check (&arch), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_arch_mlp (&arch, 3, widths, NFN_ACT_TANH), ==, NFN_OK);
  arch.space.f[1] = 9;
  g_assert_cmpint (nfn_arch_check (&arch), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_arch_mlp (&arch, 3, widths, NFN_ACT_TANH), ==, NFN_OK);
  arch.n_conv = 1;
  g_assert_cmpint (nfn_arch_check (&arch), ==, NFN_ERR_ARG);
  g_assert_cmpuint (nfn_net_cache_size (&arch, 2, 5), ==, 0);

  /* calls with weights of another shape */
  g_assert_cmpint (nfn_arch_mlp (&arch, 3, widths, NFN_ACT_TANH), ==, NFN_OK);
  nfn_arch other;
  int other_widths[] = { 2, 5, 4, 1 };
  g_assert_cmpint (nfn_arch_mlp (&other, 3, other_widths, NFN_ACT_TANH), ==, NFN_OK);
  nfn_feature w, w2;
  g_assert_cmpint (nfn_feature_alloc (&w, &other.space, 1, 1), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&w2, &arch.space, 1, 2), ==, NFN_OK);
  float x[2 * 3] = { 0 }, y[3];
  g_assert_cmpint (nfn_net_forward (&arch, &w, 3, x, 6, y, NULL), ==, NFN_ERR_SHAPE);
  g_assert_cmpint (nfn_net_forward (&arch, &w2, 3, x, 6, y, NULL), ==, NFN_ERR_SHAPE);
  g_assert_cmpint (nfn_net_forward (&other, &w, 3, x, 5, y, NULL), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_net_forward (&other, &w, 0, x, 0, y, NULL), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_net_backward (&other, &w, 3, x, 0, NULL, y, NULL, x), ==, NFN_ERR_ARG);
  nfn_feature_free (&w);
  nfn_feature_free (&w2);
}

/* ---- forward against the naive one ---- */

/* Runs nfn_net_forward for B networks (shared or per-network inputs) and compares every
 * output with naive_forward; returns max |Δ| / max(1, max |y|). */
static double
forward_vs_naive (const nfn_arch *arch, int B, int N, int shared, gsl_rng *rng)
{
  size_t in = nfn_net_input_size (arch), out = nfn_net_output_size (arch);
  nfn_feature w;
  g_assert_cmpint (nfn_feature_alloc (&w, &arch->space, B, 1), ==, NFN_OK);
  fill_weights (arch, &w, rng);
  size_t stride = shared ? 0 : N * in;
  float *x = g_new (float, (shared ? 1 : B) * N * in);
  tu_fill_uniform (x, (shared ? 1 : B) * N * in, -1, 1, rng);
  float *y = g_new (float, B * N * out);
  float *cache = g_new (float, nfn_net_cache_size (arch, B, N) + 1);
  double *ref = g_new (double, out);
  double worst = 0, scale = 1;
  /* with and without a cache: the two paths use different buffers */
  for (int pass = 0; pass < 2; pass++)
    {
      g_assert_cmpint (nfn_net_forward (arch, &w, N, x, stride, y, pass ? cache : NULL), ==, NFN_OK);
      for (int b = 0; b < B; b++)
        for (int r = 0; r < N; r++)
          {
            naive_forward (arch, &w, b, x + b * stride + r * in, ref);
            for (size_t o = 0; o < out; o++)
              {
                worst = fmax (worst, fabs (ref[o] - y[(b * N + r) * out + o]));
                scale = fmax (scale, fabs (ref[o]));
              }
          }
    }
  g_free (ref);
  g_free (cache);
  g_free (y);
  g_free (x);
  nfn_feature_free (&w);
  return worst / scale;
}

static void
test_forward_naive (void)
{
  gsl_rng *rng = tu_rng ();
  nfn_arch cases[10];
  const char *labels[10] = { "mlp relu", "mlp tanh", "mlp identity", "siren ω0=30", "siren ω0=3",
                             "cnn k3 s1 p0 relu", "cnn k3 s2 p1 tanh", "cnn k2 s2 p0 relu",
                             "cnn all-conv k2 s1 p1", "mlp L=1" };
  int n = 0;
  make_mlp (&cases[n++], NFN_ACT_RELU);
  make_mlp (&cases[n++], NFN_ACT_TANH);
  make_mlp (&cases[n++], NFN_ACT_IDENTITY);
  make_siren (&cases[n++], 30.0f);
  make_siren (&cases[n++], 3.0f);
  make_cnn (&cases[n++], 2, 3, 1, 0, NFN_ACT_RELU);
  make_cnn (&cases[n++], 2, 3, 2, 1, NFN_ACT_TANH);
  make_cnn (&cases[n++], 2, 2, 2, 0, NFN_ACT_RELU);
  make_cnn (&cases[n++], 4, 2, 1, 1, NFN_ACT_RELU);
  int one[] = { 3, 4 };
  g_assert_cmpint (nfn_arch_mlp (&cases[n++], 1, one, NFN_ACT_RELU), ==, NFN_OK);
  for (int c = 0; c < n; c++)
    for (int shared = 0; shared < 2; shared++)
      {
        double err = forward_vs_naive (&cases[c], 3, 5, shared, rng);
        g_test_message ("%s (%s inputs): max relative |Δy| = %.2e", labels[c],
                        shared ? "shared" : "per-network", err);
        g_assert_cmpfloat (err, <, 2e-5);
      }
  gsl_rng_free (rng);
}

/* ---- finite-difference gradients of loss = <R, y> ---- */

typedef struct {
  const nfn_arch *arch;
  const nfn_feature *w;
  int N;
  const float *x;
  size_t stride;
  const float *R; /* (B, N, out) */
} loss_ctx;

/* <R, y> with y from the double-precision naive forward, so the central differences carry no
 * float rounding noise and a small step and a tight tolerance can be used. */
static double
net_loss (void *p)
{
  loss_ctx *ctx = p;
  size_t in = nfn_net_input_size (ctx->arch), out = nfn_net_output_size (ctx->arch);
  double y[16], loss = 0;
  g_assert_cmpuint (out, <=, G_N_ELEMENTS (y));
  for (int b = 0; b < ctx->w->B; b++)
    for (int r = 0; r < ctx->N; r++)
      {
        naive_forward (ctx->arch, ctx->w, b, ctx->x + b * ctx->stride + r * in, y);
        for (size_t o = 0; o < out; o++)
          loss += ctx->R[(b * ctx->N + r) * out + o] * y[o];
      }
  return loss;
}

/* Checks dweights and dx against central differences with step h; also that backward
 * accumulates (a second call doubles the gradients). */
static void
check_gradients (const char *label, const nfn_arch *arch, int B, int N, int shared, double h,
                 double tolerance, gsl_rng *rng)
{
  size_t in = nfn_net_input_size (arch), out = nfn_net_output_size (arch);
  size_t x_size = (shared ? 1 : B) * N * in, y_size = B * N * out;
  nfn_feature w, dw;
  g_assert_cmpint (nfn_feature_alloc (&w, &arch->space, B, 1), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&dw, &arch->space, B, 1), ==, NFN_OK);
  float *x = g_new (float, x_size), *dx = g_new0 (float, x_size), *dx_once = g_new (float, x_size);
  float *R = g_new (float, y_size), *y = g_new (float, y_size);
  float *cache = g_new (float, nfn_net_cache_size (arch, B, N) + 1);
  size_t stride = shared ? 0 : N * in;

  /* a finite difference across a ReLU kink is meaningless: redraw until every hidden
   * pre-activation is well away from 0 compared with what a step of h can move it */
  double margin = arch->act == NFN_ACT_RELU ? 5 * h : 0;
  int attempts = 0;
  for (;;)
    {
      fill_weights (arch, &w, rng);
      tu_fill_uniform (x, x_size, -1, 1, rng);
      double min_abs_z = INFINITY, ref[16];
      g_assert_cmpuint (out, <=, G_N_ELEMENTS (ref));
      for (int b = 0; b < B; b++)
        for (int r = 0; r < N; r++)
          min_abs_z = fmin (min_abs_z, naive_forward (arch, &w, b, x + b * stride + r * in, ref));
      if (min_abs_z > margin)
        break;
      g_assert_cmpint (++attempts, <, 500);
    }
  tu_fill_normal (R, y_size, 1.0, rng);

  g_assert_cmpint (nfn_net_forward (arch, &w, N, x, stride, y, cache), ==, NFN_OK);
  g_assert_cmpint (nfn_net_backward (arch, &w, N, x, stride, cache, R, &dw, dx), ==, NFN_OK);

  loss_ctx ctx = { arch, &w, N, x, stride, R };
  double err_w = tu_grad_check (net_loss, &ctx, w.data, dw.data, w.size, 150, h, 1e-2, rng);
  double err_x = tu_grad_check (net_loss, &ctx, x, dx, x_size, 60, h, 1e-2, rng);
  g_test_message ("%s, %s inputs: worst FD error weights %.2e, inputs %.2e (h = %g)", label,
                  shared ? "shared" : "per-network", err_w, err_x, h);
  g_assert_cmpfloat (err_w, <, tolerance);
  g_assert_cmpfloat (err_x, <, tolerance);

  /* accumulation: a second backward adds the same gradients again */
  nfn_feature dw_once;
  g_assert_cmpint (nfn_feature_alloc (&dw_once, &arch->space, B, 1), ==, NFN_OK);
  memcpy (dw_once.data, dw.data, dw.size * sizeof (float));
  memcpy (dx_once, dx, x_size * sizeof (float));
  g_assert_cmpint (nfn_net_backward (arch, &w, N, x, stride, cache, R, &dw, dx), ==, NFN_OK);
  for (size_t e = 0; e < dw.size; e++)
    g_assert_cmpfloat (fabs (dw.data[e] - 2 * dw_once.data[e]), <=, 1e-5 * (1 + fabs (dw_once.data[e])));
  for (size_t e = 0; e < x_size; e++)
    g_assert_cmpfloat (fabs (dx[e] - 2 * dx_once[e]), <=, 1e-5 * (1 + fabs (dx_once[e])));
  /* NULL gradients are skipped */
  g_assert_cmpint (nfn_net_backward (arch, &w, N, x, stride, cache, R, NULL, dx), ==, NFN_OK);
  g_assert_cmpint (nfn_net_backward (arch, &w, N, x, stride, cache, R, &dw, NULL), ==, NFN_OK);
  for (size_t e = 0; e < x_size; e++)
    g_assert_cmpfloat (fabs (dx[e] - 3 * dx_once[e]), <=, 1e-5 * (1 + fabs (dx_once[e])));

  nfn_feature_free (&dw_once);
  g_free (cache);
  g_free (y);
  g_free (R);
  g_free (dx_once);
  g_free (dx);
  g_free (x);
  nfn_feature_free (&dw);
  nfn_feature_free (&w);
}

static void
test_grad_mlp (void)
{
  gsl_rng *rng = tu_rng ();
  nfn_arch arch;
  make_mlp (&arch, NFN_ACT_RELU);
  check_gradients ("mlp relu", &arch, 3, 4, 0, 1e-4, 1e-3, rng);
  check_gradients ("mlp relu", &arch, 3, 4, 1, 1e-4, 1e-3, rng);
  make_mlp (&arch, NFN_ACT_TANH);
  check_gradients ("mlp tanh", &arch, 3, 4, 0, 1e-3, 1e-3, rng);
  check_gradients ("mlp tanh", &arch, 3, 4, 1, 1e-3, 1e-3, rng);
  gsl_rng_free (rng);
}

static void
test_grad_siren (void)
{
  gsl_rng *rng = tu_rng ();
  nfn_arch arch;
  make_siren (&arch, 3.0f);
  check_gradients ("siren ω0=3", &arch, 2, 5, 0, 1e-3, 1e-3, rng);
  check_gradients ("siren ω0=3", &arch, 2, 5, 1, 1e-3, 1e-3, rng);
  /* ω0 = 30 bends the function 10× faster: a 10× smaller step keeps truncation error down */
  make_siren (&arch, 30.0f);
  check_gradients ("siren ω0=30", &arch, 2, 5, 0, 1e-4, 1e-3, rng);
  check_gradients ("siren ω0=30", &arch, 2, 5, 1, 1e-4, 1e-3, rng);
  gsl_rng_free (rng);
}

static void
test_grad_cnn (void)
{
  gsl_rng *rng = tu_rng ();
  nfn_arch arch;
  struct { int n_conv, k, stride, padding; nfn_activation act; } cases[] = {
    { 2, 3, 1, 0, NFN_ACT_TANH },
    { 2, 3, 1, 1, NFN_ACT_TANH },
    { 2, 3, 2, 0, NFN_ACT_TANH },
    { 2, 3, 2, 1, NFN_ACT_RELU },
    { 4, 2, 1, 1, NFN_ACT_TANH }, /* all conv: the pool feeds the output directly */
  };
  for (size_t c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      make_cnn (&arch, cases[c].n_conv, cases[c].k, cases[c].stride, cases[c].padding, cases[c].act);
      char *label = g_strdup_printf ("cnn n_conv=%d k=%d s=%d p=%d %s", cases[c].n_conv, cases[c].k,
                                     cases[c].stride, cases[c].padding, nfn_activation_name (cases[c].act));
      /* ReLU is piecewise linear, so only the kink margin limits its step */
      double h = cases[c].act == NFN_ACT_RELU ? 1e-4 : 1e-3;
      check_gradients (label, &arch, 2, 2, 0, h, 1e-3, rng);
      check_gradients (label, &arch, 2, 2, 1, h, 1e-3, rng);
      g_free (label);
    }
  gsl_rng_free (rng);
}

/* ---- permutations: hidden ones keep the function, input/output ones do not ---- */

/* max |f_a(x) - f_b(x)| / max |f_a(x)| over N shared inputs and all B networks */
static double
function_distance (const nfn_arch *arch, const nfn_feature *a, const nfn_feature *b, int N,
                   const float *x)
{
  size_t count = (size_t) a->B * N * nfn_net_output_size (arch);
  float *ya = g_new (float, count), *yb = g_new (float, count);
  g_assert_cmpint (nfn_net_forward (arch, a, N, x, 0, ya, NULL), ==, NFN_OK);
  g_assert_cmpint (nfn_net_forward (arch, b, N, x, 0, yb, NULL), ==, NFN_OK);
  double diff = 0, scale = 0;
  for (size_t e = 0; e < count; e++)
    {
      diff = fmax (diff, fabs ((double) ya[e] - yb[e]));
      scale = fmax (scale, fabs ((double) ya[e]));
    }
  g_free (ya);
  g_free (yb);
  return diff / scale;
}

static void
swap_two (int *p, int n)
{
  g_assert_cmpint (n, >=, 2);
  int t = p[0];
  p[0] = p[n - 1];
  p[n - 1] = t;
}

static void
check_permutation_invariance (const char *label, const nfn_arch *arch, gsl_rng *rng)
{
  int B = 3, N = 16, L = arch->space.L;
  nfn_feature w, pw;
  g_assert_cmpint (nfn_feature_alloc (&w, &arch->space, B, 1), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&pw, &arch->space, B, 1), ==, NFN_OK);
  fill_weights (arch, &w, rng);
  size_t x_size = N * nfn_net_input_size (arch);
  float *x = g_new (float, x_size);
  tu_fill_uniform (x, x_size, -1, 1, rng);
  nfn_perm perm;
  g_assert_cmpint (nfn_perm_alloc (&perm, &arch->space), ==, NFN_OK);

  nfn_perm_random (&perm, NFN_SYM_HNP, rng);
  g_assert_false (nfn_perm_is_identity (&perm)); /* widths ≥ 3: the chance of identity is tiny */
  g_assert_cmpint (nfn_perm_apply (&perm, &w, &pw), ==, NFN_OK);
  double weights_moved = nfn_feature_max_abs_diff (&w, &pw);
  double hidden = function_distance (arch, &w, &pw, N, x);

  /* the same permutation but also swapping two input neurons, then two output neurons */
  swap_two (perm.p[0], arch->space.n[0]);
  g_assert_cmpint (nfn_perm_apply (&perm, &w, &pw), ==, NFN_OK);
  double inputs = function_distance (arch, &w, &pw, N, x);
  swap_two (perm.p[0], arch->space.n[0]);
  swap_two (perm.p[L], arch->space.n[L]);
  g_assert_cmpint (nfn_perm_apply (&perm, &w, &pw), ==, NFN_OK);
  double outputs = function_distance (arch, &w, &pw, N, x);

  g_test_message ("%s: weights moved by %.2f; max |Δf| relative: hidden perm %.2e, input swap %.2e, "
                  "output swap %.2e", label, weights_moved, hidden, inputs, outputs);
  g_assert_cmpfloat (weights_moved, >, 1e-2);
  g_assert_cmpfloat (hidden, <, 1e-5);
  /* 100× the invariance threshold, itself 100× the float noise seen (~1e-7) */
  g_assert_cmpfloat (inputs, >, 1e-3);
  g_assert_cmpfloat (outputs, >, 1e-3);

  nfn_perm_free (&perm);
  g_free (x);
  nfn_feature_free (&pw);
  nfn_feature_free (&w);
}

static void
test_permutation (void)
{
  gsl_rng *rng = tu_rng ();
  nfn_arch arch;
  int mlp_widths[] = { 3, 9, 7, 2 };
  g_assert_cmpint (nfn_arch_mlp (&arch, 3, mlp_widths, NFN_ACT_RELU), ==, NFN_OK);
  check_permutation_invariance ("mlp relu", &arch, rng);
  int siren_widths[] = { 2, 32, 32, 2 };
  g_assert_cmpint (nfn_arch_siren (&arch, 3, siren_widths, 30.0f), ==, NFN_OK);
  check_permutation_invariance ("siren 2-32-32-2", &arch, rng);
  int cnn_channels[] = { 2, 6, 5, 4, 3 };
  g_assert_cmpint (nfn_arch_cnn (&arch, 4, cnn_channels, 2, 3, 2, 1, 9, 8, NFN_ACT_RELU), ==, NFN_OK);
  check_permutation_invariance ("cnn", &arch, rng);
  gsl_rng_free (rng);
}

/* ---- initialisation ranges ---- */

/* Every entry inside ±bound, the largest near the bound, and the variance that of U(±bound). */
static void
check_uniform (const char *label, const float *v, size_t n, double bound)
{
  double max_abs = 0, sum_sq = 0;
  for (size_t e = 0; e < n; e++)
    {
      max_abs = fmax (max_abs, fabs (v[e]));
      sum_sq += (double) v[e] * v[e];
    }
  double variance = sum_sq / n, expected = bound * bound / 3;
  g_test_message ("%s: max |w| %.4g (bound %.4g), variance / expected %.3f (%zu entries)", label,
                  max_abs, bound, variance / expected, n);
  g_assert_cmpfloat (max_abs, <=, bound);
  g_assert_cmpfloat (max_abs, >, 0.9 * bound);
  /* for n ≥ 500 the sample variance lies within ±15% of bound²/3 with overwhelming probability */
  g_assert_cmpuint (n, >=, 500);
  g_assert_cmpfloat (fabs (variance / expected - 1), <, 0.15);
}

static void
check_init (const nfn_arch *arch, int B, gsl_rng *rng)
{
  nfn_feature w;
  g_assert_cmpint (nfn_feature_alloc (&w, &arch->space, B, 1), ==, NFN_OK);
  nfn_net_init (arch, &w, rng);
  const nfn_space *s = &arch->space;
  for (int i = 1; i <= s->L; i++)
    {
      double fan_in = (double) s->n[i - 1] * s->f[i];
      double w_bound = 1 / sqrt (fan_in);
      if (arch->kind == NFN_NET_SIREN)
        w_bound = i == 1 ? 1 / fan_in : sqrt (6 / fan_in) / arch->omega0;
      char *label = g_strdup_printf ("%s W_%d", nfn_net_kind_name (arch->kind), i);
      check_uniform (label, w.t[nfn_tensor_weight (i)], B * nfn_tensor_entries (s, nfn_tensor_weight (i)), w_bound);
      g_free (label);
      label = g_strdup_printf ("%s b_%d", nfn_net_kind_name (arch->kind), i);
      check_uniform (label, w.t[nfn_tensor_bias (i)], B * s->n[i], 1 / sqrt (fan_in));
      g_free (label);
    }
  nfn_feature_free (&w);
}

static void
test_init (void)
{
  gsl_rng *rng = tu_rng ();
  nfn_arch arch;
  int siren_widths[] = { 2, 32, 32, 1 };
  g_assert_cmpint (nfn_arch_siren (&arch, 3, siren_widths, 30.0f), ==, NFN_OK);
  check_init (&arch, 500, rng);
  int mlp_widths[] = { 5, 20, 1 };
  g_assert_cmpint (nfn_arch_mlp (&arch, 2, mlp_widths, NFN_ACT_RELU), ==, NFN_OK);
  check_init (&arch, 500, rng);
  int cnn_channels[] = { 3, 8, 2 };
  g_assert_cmpint (nfn_arch_cnn (&arch, 2, cnn_channels, 1, 3, 1, 1, 8, 8, NFN_ACT_RELU), ==, NFN_OK);
  check_init (&arch, 300, rng);
  gsl_rng_free (rng);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/nets/names", test_names);
  g_test_add_func ("/nets/arch/constructors", test_arch_constructors);
  g_test_add_func ("/nets/arch/check-rejects", test_arch_check_rejects);
  g_test_add_func ("/nets/forward/naive", test_forward_naive);
  g_test_add_func ("/nets/grad/mlp", test_grad_mlp);
  g_test_add_func ("/nets/grad/siren", test_grad_siren);
  g_test_add_func ("/nets/grad/cnn", test_grad_cnn);
  g_test_add_func ("/nets/permutation", test_permutation);
  g_test_add_func ("/nets/init", test_init);
  return g_test_run ();
}
