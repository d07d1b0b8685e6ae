/* nfn_nets.c — MLP, SIREN and small CNN, forward and backward, batched over B networks.
 *
 * Shape letters: B networks, N inputs per network, L layers, n_i widths (channels for conv
 * layers), f_i = kh·kw kernel positions, P_i = h_i·w_i spatial positions of layer i's output
 * (1 for dense layers), K_i = n_{i-1}·f_i columns of layer i's weight matrix.
 *
 * Each layer is one GEMM per network: a dense layer multiplies the (N, n_{i-1}) activations by
 * W_iᵀ; a conv layer multiplies W_i viewed as (n_i, K_i) by the im2col matrix (K_i, N·P_i) of
 * all N images at once, so conv activations are kept channel-major, (n_i, N, P_i), inside
 * the engine. Only the network's input x (N, n_0, in_h, in_w) and output y (N, n_L) are in the
 * caller's layout.
 */
#include "nfn_nets.h"
#include "nfn_vector_math.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *
nfn_net_kind_name (nfn_net_kind kind)
{
  switch (kind)
    {
    case NFN_NET_MLP: return "mlp";
    case NFN_NET_SIREN: return "siren";
    case NFN_NET_CNN: return "cnn";
    }
  return "unknown";
}

const char *
nfn_activation_name (nfn_activation act)
{
  switch (act)
    {
    case NFN_ACT_RELU: return "relu";
    case NFN_ACT_TANH: return "tanh";
    case NFN_ACT_SIN: return "sin";
    case NFN_ACT_IDENTITY: return "identity";
    }
  return "unknown";
}

int
nfn_net_kind_parse (const char *name, nfn_net_kind *out)
{
  static const nfn_net_kind kinds[] = { NFN_NET_MLP, NFN_NET_SIREN, NFN_NET_CNN };
  if (!name)
    return 0;
  for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
    if (strcmp (name, nfn_net_kind_name (kinds[k])) == 0)
      {
        if (out)
          *out = kinds[k];
        return 1;
      }
  return 0;
}

int
nfn_activation_parse (const char *name, nfn_activation *out)
{
  static const nfn_activation acts[] = { NFN_ACT_RELU, NFN_ACT_TANH, NFN_ACT_SIN, NFN_ACT_IDENTITY };
  if (!name)
    return 0;
  for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++)
    if (strcmp (name, nfn_activation_name (acts[k])) == 0)
      {
        if (out)
          *out = acts[k];
        return 1;
      }
  return 0;
}

/* ---- Architectures ---- */

/* Keeps every count the engine forms (images, im2col sizes) far from int overflow. */
#define NFN_NET_MAX_SIDE 16384
#define NFN_NET_MAX_KERNEL 64

static nfn_status
nfn_arch_dense (nfn_arch *arch, nfn_net_kind kind, int L, const int *widths, nfn_activation act,
                float omega0)
{
  memset (arch, 0, sizeof *arch);
  arch->kind = kind;
  arch->act = act;
  arch->omega0 = omega0;
  arch->kh = arch->kw = arch->stride = 1;
  arch->in_h = arch->in_w = 1;
  if (!widths || L < 1 || L > NFN_MAX_LAYERS)
    return NFN_ERR_ARG;
  nfn_status status = nfn_space_init (&arch->space, L, widths);
  if (status != NFN_OK)
    return status;
  return nfn_arch_check (arch);
}

nfn_status
nfn_arch_mlp (nfn_arch *arch, int L, const int *widths, nfn_activation act)
{
  return nfn_arch_dense (arch, NFN_NET_MLP, L, widths, act, 0.0f);
}

nfn_status
nfn_arch_siren (nfn_arch *arch, int L, const int *widths, float omega0)
{
  return nfn_arch_dense (arch, NFN_NET_SIREN, L, widths, NFN_ACT_SIN, omega0);
}

nfn_status
nfn_arch_cnn (nfn_arch *arch, int L, const int *channels, int n_conv, int k, int stride,
              int padding, int in_h, int in_w, nfn_activation act)
{
  memset (arch, 0, sizeof *arch);
  arch->kind = NFN_NET_CNN;
  arch->act = act;
  arch->n_conv = n_conv;
  arch->kh = arch->kw = k;
  arch->stride = stride;
  arch->padding = padding;
  arch->in_h = in_h;
  arch->in_w = in_w;
  if (!channels || L < 1 || L > NFN_MAX_LAYERS)
    return NFN_ERR_ARG;
  nfn_status status = nfn_space_init (&arch->space, L, channels);
  if (status != NFN_OK)
    return status;
  if (k < 1 || k > NFN_NET_MAX_KERNEL || n_conv < 0 || n_conv > L)
    return NFN_ERR_ARG;
  for (int i = 1; i <= n_conv; i++)
    arch->space.f[i] = k * k;
  return nfn_arch_check (arch);
}

/* Output size of a conv along one axis, or 0 when the kernel does not fit. */
static int
nfn_conv_out_size (int in, int k, int stride, int padding)
{
  if (in + 2 * padding < k)
    return 0;
  return (in + 2 * padding - k) / stride + 1;
}

nfn_status
nfn_arch_check (const nfn_arch *arch)
{
  if (!arch || nfn_space_check (&arch->space) != NFN_OK)
    return NFN_ERR_ARG;
  const nfn_space *s = &arch->space;
  switch (arch->kind)
    {
    case NFN_NET_MLP:
    case NFN_NET_SIREN:
      if (arch->n_conv != 0)
        return NFN_ERR_ARG;
      for (int i = 1; i <= s->L; i++)
        if (s->f[i] != 1)
          return NFN_ERR_ARG;
      if (arch->kind == NFN_NET_SIREN)
        return (arch->act == NFN_ACT_SIN && isfinite (arch->omega0) && arch->omega0 > 0)
                   ? NFN_OK : NFN_ERR_ARG;
      return (arch->act == NFN_ACT_RELU || arch->act == NFN_ACT_TANH || arch->act == NFN_ACT_IDENTITY)
                 ? NFN_OK : NFN_ERR_ARG;
    case NFN_NET_CNN:
      break;
    default:
      return NFN_ERR_ARG;
    }
  if (arch->act != NFN_ACT_RELU && arch->act != NFN_ACT_TANH && arch->act != NFN_ACT_IDENTITY)
    return NFN_ERR_ARG;
  if (arch->n_conv < 1 || arch->n_conv > s->L)
    return NFN_ERR_ARG;
  if (arch->kh < 1 || arch->kw < 1 || arch->kh > NFN_NET_MAX_KERNEL || arch->kw > NFN_NET_MAX_KERNEL
      || arch->stride < 1 || arch->padding < 0 || arch->padding > NFN_NET_MAX_KERNEL)
    return NFN_ERR_ARG;
  if (arch->in_h < 1 || arch->in_w < 1 || arch->in_h > NFN_NET_MAX_SIDE || arch->in_w > NFN_NET_MAX_SIDE)
    return NFN_ERR_ARG;
  int h = arch->in_h, w = arch->in_w;
  for (int i = 1; i <= s->L; i++)
    {
      if (s->f[i] != (i <= arch->n_conv ? arch->kh * arch->kw : 1))
        return NFN_ERR_ARG;
      if (i > arch->n_conv)
        continue;
      h = nfn_conv_out_size (h, arch->kh, arch->stride, arch->padding);
      w = nfn_conv_out_size (w, arch->kw, arch->stride, arch->padding);
      if (h < 1 || w < 1)
        return NFN_ERR_ARG;
    }
  return NFN_OK;
}

size_t
nfn_net_input_size (const nfn_arch *arch)
{
  size_t n0 = (size_t) arch->space.n[0];
  return arch->kind == NFN_NET_CNN ? n0 * (size_t) arch->in_h * (size_t) arch->in_w : n0;
}

size_t
nfn_net_output_size (const nfn_arch *arch)
{
  return (size_t) arch->space.n[arch->space.L];
}

/* ---- Initialisation ---- */

static void
nfn_fill_uniform (float *x, size_t n, double bound, gsl_rng *rng)
{
  for (size_t e = 0; e < n; e++)
    x[e] = (float) ((2.0 * gsl_rng_uniform (rng) - 1.0) * bound);
}

void
nfn_net_init (const nfn_arch *arch, nfn_feature *weights, gsl_rng *rng)
{
  const nfn_space *s = &weights->space;
  for (int net = 0; net < weights->B; net++)
    for (int i = 1; i <= s->L; i++)
      {
        int tw = nfn_tensor_weight (i), tb = nfn_tensor_bias (i);
        size_t w_per = (size_t) weights->C * nfn_tensor_entries (s, tw);
        size_t b_per = (size_t) weights->C * nfn_tensor_entries (s, tb);
        double fan_in = (double) s->n[i - 1] * s->f[i];
        double w_bound = 1.0 / sqrt (fan_in), b_bound = 1.0 / sqrt (fan_in);
        if (arch->kind == NFN_NET_SIREN)
          w_bound = i == 1 ? 1.0 / fan_in : sqrt (6.0 / fan_in) / arch->omega0;
        nfn_fill_uniform (weights->t[tw] + (size_t) net * w_per, w_per, w_bound, rng);
        nfn_fill_uniform (weights->t[tb] + (size_t) net * b_per, b_per, b_bound, rng);
      }
}

/* ---- Activations ---- */


/* a (count) = act(z) for the hidden activations; SIREN's is sin(ω0·z). */
static void
nfn_act_forward (nfn_activation act, float omega0, float *restrict a, const float *restrict z,
                 size_t count)
{
  switch (act)
    {
    case NFN_ACT_RELU:
      for (size_t e = 0; e < count; e++)
        a[e] = z[e] > 0.0f ? z[e] : 0.0f;
      break;
    case NFN_ACT_TANH:
      for (size_t e = 0; e < count; e++)
        a[e] = tanhf (z[e]);
      break;
    case NFN_ACT_SIN:
      for (size_t e = 0; e < count; e++)
        a[e] = sinf (omega0 * z[e]);
      break;
    case NFN_ACT_IDENTITY:
      memcpy (a, z, count * sizeof *a);
      break;
    }
}

/* In place: grad (count) holds dL/da on entry and dL/dz on return. */
static void
nfn_act_backward (nfn_activation act, float omega0, float *restrict grad, const float *restrict z,
                  const float *restrict a, size_t count)
{
  switch (act)
    {
    case NFN_ACT_RELU:
      for (size_t e = 0; e < count; e++)
        grad[e] = z[e] > 0.0f ? grad[e] : 0.0f;
      break;
    case NFN_ACT_TANH:
      for (size_t e = 0; e < count; e++)
        grad[e] *= 1.0f - a[e] * a[e];
      break;
    case NFN_ACT_SIN:
      for (size_t e = 0; e < count; e++)
        grad[e] *= omega0 * cosf (omega0 * z[e]);
      break;
    case NFN_ACT_IDENTITY:
      break;
    }
}

/* ---- Dense layer: out (N, n_out) = in (N, n_in) · Wᵀ + bias ---- */

static void
nfn_dense_forward (float *out /* (N, n_out) */, const float *in /* (N, n_in) */,
                   const float *W /* (n_out, n_in) */, const float *bias /* (n_out) */,
                   int N, int n_in, int n_out)
{
  for (int r = 0; r < N; r++)
    memcpy (out + (size_t) r * n_out, bias, (size_t) n_out * sizeof *out);
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, N, n_out, n_in, 1.0f, in, n_in, W, n_in,
               1.0f, out, n_out);
}

/* dW and dbias accumulate (skipped when NULL); din is overwritten, or accumulated when
 * din_accumulate (the caller's dx), or skipped when NULL. */
static void
nfn_dense_backward (float *din /* (N, n_in) */, int din_accumulate, float *dW /* (n_out, n_in) */,
                    float *dbias /* (n_out) */, const float *dout /* (N, n_out) */,
                    const float *in /* (N, n_in) */, const float *W /* (n_out, n_in) */,
                    int N, int n_in, int n_out)
{
  if (dW)
    cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, n_out, n_in, N, 1.0f, dout, n_out, in,
                 n_in, 1.0f, dW, n_in);
  if (dbias)
    for (int r = 0; r < N; r++)
      for (int j = 0; j < n_out; j++)
        dbias[j] += dout[(size_t) r * n_out + j];
  if (din)
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, N, n_in, n_out, 1.0f, dout, n_out, W,
                 n_in, din_accumulate ? 1.0f : 0.0f, din, n_in);
}

/* ---- Conv layer via im2col: out (n_out, N·P_out) = W (n_out, K) · col (K, N·P_out) + bias ---- */

/* One conv layer's geometry. Its input's element (c, image, y, x) lives at
 * c·in_c_stride + image·in_n_stride + y·w_in + x, so the caller's NCHW images and the
 * engine's channel-major (C, N, H, W) activations are read by the same code. */
typedef struct {
  int n_in, n_out, N;
  int h_in, w_in, h_out, w_out;
  int kh, kw, stride, padding;
  size_t in_c_stride, in_n_stride;
} nfn_conv_geometry;

/* col (n_in·kh·kw, N·h_out·w_out), row (c, ky, kx) as in PyTorch's (out, in, kh, kw) kernel;
 * zero padding outside the image. */
static void
nfn_im2col (float *col, const float *in, const nfn_conv_geometry *g)
{
  size_t P = (size_t) g->h_out * g->w_out, cols = (size_t) g->N * P;
  for (int c = 0; c < g->n_in; c++)
    for (int ky = 0; ky < g->kh; ky++)
      for (int kx = 0; kx < g->kw; kx++)
        {
          float *row = col + ((size_t) (c * g->kh + ky) * g->kw + kx) * cols;
          for (int n = 0; n < g->N; n++)
            {
              const float *image = in + (size_t) c * g->in_c_stride + (size_t) n * g->in_n_stride;
              for (int oy = 0; oy < g->h_out; oy++)
                {
                  float *dst = row + (size_t) n * P + (size_t) oy * g->w_out;
                  int iy = oy * g->stride - g->padding + ky;
                  if (iy < 0 || iy >= g->h_in)
                    {
                      memset (dst, 0, (size_t) g->w_out * sizeof *dst);
                      continue;
                    }
                  const float *src = image + (size_t) iy * g->w_in;
                  for (int ox = 0; ox < g->w_out; ox++)
                    {
                      int ix = ox * g->stride - g->padding + kx;
                      dst[ox] = (ix >= 0 && ix < g->w_in) ? src[ix] : 0.0f;
                    }
                }
            }
        }
}

/* The adjoint of nfn_im2col: din += the scatter of dcol (padding positions dropped). */
static void
nfn_col2im (float *din, const float *dcol, const nfn_conv_geometry *g)
{
  size_t P = (size_t) g->h_out * g->w_out, cols = (size_t) g->N * P;
  for (int c = 0; c < g->n_in; c++)
    for (int ky = 0; ky < g->kh; ky++)
      for (int kx = 0; kx < g->kw; kx++)
        {
          const float *row = dcol + ((size_t) (c * g->kh + ky) * g->kw + kx) * cols;
          for (int n = 0; n < g->N; n++)
            {
              float *image = din + (size_t) c * g->in_c_stride + (size_t) n * g->in_n_stride;
              for (int oy = 0; oy < g->h_out; oy++)
                {
                  int iy = oy * g->stride - g->padding + ky;
                  if (iy < 0 || iy >= g->h_in)
                    continue;
                  const float *src = row + (size_t) n * P + (size_t) oy * g->w_out;
                  float *dst = image + (size_t) iy * g->w_in;
                  for (int ox = 0; ox < g->w_out; ox++)
                    {
                      int ix = ox * g->stride - g->padding + kx;
                      if (ix >= 0 && ix < g->w_in)
                        dst[ix] += src[ox];
                    }
                }
            }
        }
}

static void
nfn_conv_forward (float *out /* (n_out, N, h_out, w_out) */, float *col /* (K, N·P_out) scratch */,
                  const float *in /* see nfn_conv_geometry */, const float *W /* (n_out, K) */,
                  const float *bias /* (n_out) */, const nfn_conv_geometry *g)
{
  int K = g->n_in * g->kh * g->kw, cols = g->N * g->h_out * g->w_out;
  nfn_im2col (col, in, g);
  for (int j = 0; j < g->n_out; j++)
    for (int q = 0; q < cols; q++)
      out[(size_t) j * cols + q] = bias[j];
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, g->n_out, cols, K, 1.0f, W, K, col, cols,
               1.0f, out, cols);
}

/* dW, dbias accumulate (skipped when NULL); din accumulates (skipped when NULL), so the caller
 * zeroes it when it is a scratch buffer. col and dcol are (K, N·P_out) scratch. */
static void
nfn_conv_backward (float *din, float *dW /* (n_out, K) */, float *dbias /* (n_out) */,
                   const float *dout /* (n_out, N, h_out, w_out) */, const float *in,
                   const float *W /* (n_out, K) */, float *col, float *dcol,
                   const nfn_conv_geometry *g)
{
  int K = g->n_in * g->kh * g->kw, cols = g->N * g->h_out * g->w_out;
  if (dW)
    {
      nfn_im2col (col, in, g);
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, g->n_out, K, cols, 1.0f, dout, cols,
                   col, cols, 1.0f, dW, K);
    }
  if (dbias)
    for (int j = 0; j < g->n_out; j++)
      {
        float sum = 0.0f;
        for (int q = 0; q < cols; q++)
          sum += dout[(size_t) j * cols + q];
        dbias[j] += sum;
      }
  if (din)
    {
      cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, K, cols, g->n_out, 1.0f, W, K, dout,
                   cols, 0.0f, dcol, cols);
      nfn_col2im (din, dcol, g);
    }
}

/* ---- Global average pool: pooled (N, C) = mean over P of act (C, N, P) ---- */

static void
nfn_pool_forward (float *pooled /* (N, C) */, const float *act /* (C, N, P) */, int C, int N, size_t P)
{
  for (int c = 0; c < C; c++)
    for (int n = 0; n < N; n++)
      {
        const float *src = act + ((size_t) c * N + n) * P;
        float sum = 0.0f;
        for (size_t p = 0; p < P; p++)
          sum += src[p];
        pooled[(size_t) n * C + c] = sum / (float) P;
      }
}

/* dact (C, N, P) = dpooled / P broadcast over P (overwrites). */
static void
nfn_pool_backward (float *dact /* (C, N, P) */, const float *dpooled /* (N, C) */, int C, int N, size_t P)
{
  for (int c = 0; c < C; c++)
    for (int n = 0; n < N; n++)
      {
        float *dst = dact + ((size_t) c * N + n) * P;
        float g = dpooled[(size_t) n * C + c] / (float) P;
        for (size_t p = 0; p < P; p++)
          dst[p] = g;
      }
}

/* ---- A whole network ---- */

/* Sizes and cache offsets of one network for N inputs. Set i's activations are
 * (N, n_i) for dense layers and (n_i, N, h_i, w_i) for conv layers (i ≤ n_conv). */
typedef struct {
  int L, n_conv, N;
  int h[NFN_MAX_LAYERS + 1], w[NFN_MAX_LAYERS + 1]; /* spatial size of set i; 1 for dense */
  size_t z[NFN_MAX_LAYERS + 1], a[NFN_MAX_LAYERS + 1]; /* cache offsets, layers 1 … L-1 */
  size_t pooled;   /* cache offset of the pooled (N, n_{n_conv}) dense input, CNN with n_conv < L */
  size_t per_net;  /* cache floats per network, rounded so each network's block stays aligned */
  size_t act_max;  /* largest N·n_i·h_i·w_i, i = 1 … L */
  size_t col_max;  /* largest im2col matrix (K_i, N·P_i) over conv layers */
} nfn_net_plan;

static size_t
nfn_plan_count (const nfn_arch *arch, const nfn_net_plan *plan, int i)
{
  return (size_t) plan->N * (size_t) arch->space.n[i] * (size_t) plan->h[i] * (size_t) plan->w[i];
}

/* NFN_ERR_ARG when the geometry is invalid or a GEMM dimension would not fit an int. */
static nfn_status
nfn_net_plan_init (nfn_net_plan *plan, const nfn_arch *arch, int N)
{
  memset (plan, 0, sizeof *plan);
  if (nfn_arch_check (arch) != NFN_OK || N < 1)
    return NFN_ERR_ARG;
  const nfn_space *s = &arch->space;
  plan->L = s->L;
  plan->n_conv = arch->kind == NFN_NET_CNN ? arch->n_conv : 0;
  plan->N = N;
  plan->h[0] = plan->n_conv ? arch->in_h : 1;
  plan->w[0] = plan->n_conv ? arch->in_w : 1;
  size_t offset = 0;
  for (int i = 1; i <= s->L; i++)
    {
      int conv = i <= plan->n_conv;
      plan->h[i] = conv ? nfn_conv_out_size (plan->h[i - 1], arch->kh, arch->stride, arch->padding) : 1;
      plan->w[i] = conv ? nfn_conv_out_size (plan->w[i - 1], arch->kw, arch->stride, arch->padding) : 1;
      size_t cols = (size_t) N * plan->h[i] * plan->w[i];
      size_t K = (size_t) s->n[i - 1] * s->f[i];
      if (cols > INT_MAX || K > INT_MAX || nfn_plan_count (arch, plan, i) > INT_MAX)
        return NFN_ERR_ARG;
      if (nfn_plan_count (arch, plan, i) > plan->act_max)
        plan->act_max = nfn_plan_count (arch, plan, i);
      if (conv && K * cols > plan->col_max)
        plan->col_max = K * cols;
      if (i < s->L)
        {
          plan->z[i] = offset;
          offset += nfn_arena_round (nfn_plan_count (arch, plan, i));
          plan->a[i] = offset;
          offset += nfn_arena_round (nfn_plan_count (arch, plan, i));
        }
    }
  if (plan->n_conv && plan->n_conv < s->L)
    {
      plan->pooled = offset;
      offset += nfn_arena_round ((size_t) N * s->n[plan->n_conv]);
    }
  plan->per_net = offset;
  return NFN_OK;
}

static nfn_conv_geometry
nfn_plan_conv (const nfn_arch *arch, const nfn_net_plan *plan, int i)
{
  nfn_conv_geometry g = {
    .n_in = arch->space.n[i - 1], .n_out = arch->space.n[i], .N = plan->N,
    .h_in = plan->h[i - 1], .w_in = plan->w[i - 1], .h_out = plan->h[i], .w_out = plan->w[i],
    .kh = arch->kh, .kw = arch->kw, .stride = arch->stride, .padding = arch->padding,
  };
  size_t image = (size_t) g.h_in * g.w_in;
  if (i == 1)
    { /* the caller's NCHW images */
      g.in_c_stride = image;
      g.in_n_stride = (size_t) g.n_in * image;
    }
  else
    { /* the engine's (C, N, H, W) activations */
      g.in_c_stride = (size_t) plan->N * image;
      g.in_n_stride = image;
    }
  return g;
}

/* Layer i's input inside one network's cache block (x for the first layer). */
static const float *
nfn_plan_layer_input (const nfn_net_plan *plan, const float *cache, const float *x, int i)
{
  if (i == 1)
    return x;
  if (i == plan->n_conv + 1)
    return cache + plan->pooled;
  return cache + plan->a[i - 1];
}

size_t
nfn_net_cache_size (const nfn_arch *arch, int B, int N)
{
  nfn_net_plan plan;
  if (B < 1 || nfn_net_plan_init (&plan, arch, N) != NFN_OK)
    return 0;
  return (size_t) B * plan.per_net;
}

static nfn_status
nfn_net_check_call (const nfn_arch *arch, const nfn_feature *weights, int N, const float *x,
                    size_t x_batch_stride, nfn_net_plan *plan)
{
  if (!weights || !x || nfn_net_plan_init (plan, arch, N) != NFN_OK)
    return NFN_ERR_ARG;
  if (weights->C != 1 || weights->B < 1 || !nfn_space_equal (&weights->space, &arch->space))
    return NFN_ERR_SHAPE;
  if (x_batch_stride != 0 && x_batch_stride < (size_t) N * nfn_net_input_size (arch))
    return NFN_ERR_ARG;
  return NFN_OK;
}

/* Entries of layer i's weight and bias for one network, C = 1. */
static size_t
nfn_layer_weight_entries (const nfn_space *s, int i)
{
  return nfn_tensor_entries (s, nfn_tensor_weight (i));
}

nfn_status
nfn_net_forward (const nfn_arch *arch, const nfn_feature *weights, int N, const float *x,
                 size_t x_batch_stride, float *y, float *cache)
{
  nfn_net_plan plan;
  nfn_status status = nfn_net_check_call (arch, weights, N, x, x_batch_stride, &plan);
  if (status != NFN_OK)
    return status;
  if (!y)
    return NFN_ERR_ARG;
  const nfn_space *s = &arch->space;
  int L = s->L, n_out = s->n[L];
  /* scratch: a cache block when the caller keeps none, im2col, and a conv output layer */
  size_t scratch_cache = cache ? 0 : plan.per_net;
  size_t scratch_last = plan.n_conv == L ? plan.act_max : 0;
  size_t scratch_size = scratch_cache + plan.col_max + scratch_last;
  float *scratch = NULL, *col = NULL, *last = NULL;
  if (scratch_size)
    {
      if (!(scratch = malloc (scratch_size * sizeof *scratch)))
        return NFN_ERR_NOMEM;
      col = scratch + scratch_cache;
      last = col + plan.col_max;
    }

  for (int net = 0; net < weights->B; net++)
    {
      float *c = cache ? cache + (size_t) net * plan.per_net : scratch;
      const float *xb = x + (size_t) net * x_batch_stride;
      float *yb = y + (size_t) net * N * n_out;
      for (int i = 1; i <= L; i++)
        {
          const float *W = weights->t[nfn_tensor_weight (i)] + (size_t) net * nfn_layer_weight_entries (s, i);
          const float *bias = weights->t[nfn_tensor_bias (i)] + (size_t) net * s->n[i];
          const float *in = nfn_plan_layer_input (&plan, c, xb, i);
          float *z = i < L ? c + plan.z[i] : (i <= plan.n_conv ? last : yb);
          if (i <= plan.n_conv)
            {
              nfn_conv_geometry g = nfn_plan_conv (arch, &plan, i);
              nfn_conv_forward (z, col, in, W, bias, &g);
            }
          else
            nfn_dense_forward (z, in, W, bias, N, s->n[i - 1], s->n[i]);
          if (i < L)
            nfn_act_forward (arch->act, arch->omega0, c + plan.a[i], z, nfn_plan_count (arch, &plan, i));
          if (i == plan.n_conv)
            nfn_pool_forward (i < L ? c + plan.pooled : yb, i < L ? c + plan.a[i] : z, s->n[i], N,
                              (size_t) plan.h[i] * plan.w[i]);
        }
    }
  free (scratch);
  return NFN_OK;
}

nfn_status
nfn_net_backward (const nfn_arch *arch, const nfn_feature *weights, int N, const float *x,
                  size_t x_batch_stride, const float *cache, const float *dy,
                  nfn_feature *dweights, float *dx)
{
  nfn_net_plan plan;
  nfn_status status = nfn_net_check_call (arch, weights, N, x, x_batch_stride, &plan);
  if (status != NFN_OK)
    return status;
  if ((!cache && plan.per_net) || !dy)
    return NFN_ERR_ARG;
  if (dweights && !nfn_feature_same_shape (dweights, weights))
    return NFN_ERR_SHAPE;
  if (!dweights && !dx)
    return NFN_OK;
  const nfn_space *s = &arch->space;
  int L = s->L, n_out = s->n[L];
  /* two gradient buffers used in turn, plus im2col and its gradient */
  size_t scratch_size = 2 * plan.act_max + 2 * plan.col_max;
  float *scratch = malloc (scratch_size * sizeof *scratch);
  if (!scratch)
    return NFN_ERR_NOMEM;
  float *grad[2] = { scratch, scratch + plan.act_max };
  float *col = grad[1] + plan.act_max, *dcol = col + plan.col_max;

  for (int net = 0; net < weights->B; net++)
    {
      const float *c = cache ? cache + (size_t) net * plan.per_net : NULL; /* NULL: L = 1 */
      const float *xb = x + (size_t) net * x_batch_stride;
      const float *dyb = dy + (size_t) net * N * n_out;
      float *dxb = dx ? dx + (size_t) net * x_batch_stride : NULL;
      /* dz: gradient w.r.t. layer i's pre-activation; `free_buf` indexes the other buffer */
      const float *dz = dyb;
      int free_buf = 0;
      if (plan.n_conv == L)
        {
          nfn_pool_backward (grad[0], dyb, n_out, N, (size_t) plan.h[L] * plan.w[L]);
          dz = grad[0];
          free_buf = 1;
        }
      for (int i = L; i >= 1; i--)
        {
          size_t w_entries = nfn_layer_weight_entries (s, i);
          const float *W = weights->t[nfn_tensor_weight (i)] + (size_t) net * w_entries;
          float *dW = dweights ? dweights->t[nfn_tensor_weight (i)] + (size_t) net * w_entries : NULL;
          float *dbias = dweights ? dweights->t[nfn_tensor_bias (i)] + (size_t) net * s->n[i] : NULL;
          const float *in = nfn_plan_layer_input (&plan, c, xb, i);
          float *din = i == 1 ? dxb : grad[free_buf];
          if (i <= plan.n_conv)
            {
              nfn_conv_geometry g = nfn_plan_conv (arch, &plan, i);
              if (din && i > 1)
                memset (din, 0, nfn_plan_count (arch, &plan, i - 1) * sizeof *din);
              nfn_conv_backward (din, dW, dbias, dz, in, W, col, dcol, &g);
            }
          else
            nfn_dense_backward (din, i == 1, dW, dbias, dz, in, W, N, s->n[i - 1], s->n[i]);
          if (i == 1)
            break;
          /* din now holds dL/d(layer i's input); turn it into dL/dz_{i-1} */
          float *da = din;
          free_buf ^= 1;
          if (i - 1 == plan.n_conv)
            {
              nfn_pool_backward (grad[free_buf], din, s->n[i - 1], N,
                                 (size_t) plan.h[i - 1] * plan.w[i - 1]);
              da = grad[free_buf];
              free_buf ^= 1;
            }
          nfn_act_backward (arch->act, arch->omega0, da, c + plan.z[i - 1], c + plan.a[i - 1],
                            nfn_plan_count (arch, &plan, i - 1));
          dz = da;
        }
    }
  free (scratch);
  return NFN_OK;
}
