/* nfn_layers.c — the layers around the equivariant one (DESIGN.md §3.3).
 *
 * Shape letters: B networks, C channels, L layers, n_i widths, f_t filter positions of tensor t
 * (f_i for W_i, 1 for b_i), P_t stored positions of tensor t (n_i·n_{i-1} or n_i), so every
 * tensor block is (B, P_t, C·f_t), channel index c·f_t + p. D flat width, N flat rows.
 */
#include "nfn_layers.h"

#include "nfn_gemm.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nfn_vector_math.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static int
layers_filter_positions (const nfn_space *s, int t)
{
  return nfn_tensor_is_bias (t) ? 1 : s->f[nfn_tensor_layer (t)];
}

static size_t
layers_positions (const nfn_space *s, int t)
{
  return nfn_tensor_entries (s, t) / (size_t) layers_filter_positions (s, t);
}

static void
layers_uniform (float *x, size_t n, double bound, gsl_rng *rng)
{
  for (size_t e = 0; e < n; e++)
    x[e] = (float) (bound * (2.0 * gsl_rng_uniform (rng) - 1.0));
}

/* ---- Invariant pooling ---- */

/* A pooled tensor is read as (B, groups, rows, width): the mean runs over rows. Every view
 * but HNP's transposed W_L has one group (its permuted axes are the leading ones of the
 * stored layout); W_L keeps its n_L output rows as groups and averages over n_{L-1}. */
typedef struct {
  size_t groups, rows, width;
} layers_pool_shape;

static void
layers_pool_shapes (const nfn_space *s, nfn_symmetry sym, int C, layers_pool_shape shapes[NFN_MAX_TENSORS])
{
  nfn_tensor_view views[NFN_MAX_TENSORS];
  nfn_tensor_views (s, sym, views);
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      const nfn_tensor_view *v = &views[t];
      layers_pool_shape *sh = &shapes[t];
      sh->groups = 1;
      sh->rows = (size_t) v->size[0] * (size_t) v->size[1];
      sh->width = (size_t) C * (size_t) v->fold;
      if (v->transposed)
        {
          /* stored (n_L, n_{L-1}, C·f), folded (n_{L-1}, n_L·C·f): groups are the n_L rows */
          sh->groups = (size_t) s->n[nfn_tensor_layer (t)];
          sh->width /= sh->groups;
        }
    }
}

size_t
nfn_pool_dim (const nfn_space *space, nfn_symmetry sym, int C)
{
  nfn_tensor_view views[NFN_MAX_TENSORS];
  nfn_tensor_views (space, sym, views);
  size_t total = 0;
  for (int t = 0; t < nfn_tensor_count (space); t++)
    total += (size_t) C * (size_t) views[t].fold;
  return total;
}

void
nfn_pool_forward (nfn_symmetry sym, const nfn_feature *in, float *out /* (B, D) */)
{
  const nfn_space *s = &in->space;
  layers_pool_shape shapes[NFN_MAX_TENSORS];
  layers_pool_shapes (s, sym, in->C, shapes);
  size_t dim = nfn_pool_dim (s, sym, in->C);
  memset (out, 0, (size_t) in->B * dim * sizeof (float));
  size_t offset = 0;
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      layers_pool_shape sh = shapes[t];
      float inv_rows = 1.0f / (float) sh.rows;
      for (int b = 0; b < in->B; b++)
        for (size_t g = 0; g < sh.groups; g++)
          {
            float *dst = out + (size_t) b * dim + offset + g * sh.width;
            const float *src = in->t[t] + ((size_t) b * sh.groups + g) * sh.rows * sh.width;
            for (size_t r = 0; r < sh.rows; r++)
              for (size_t w = 0; w < sh.width; w++)
                dst[w] += src[r * sh.width + w];
            for (size_t w = 0; w < sh.width; w++)
              dst[w] *= inv_rows;
          }
      offset += sh.groups * sh.width;
    }
}

void
nfn_pool_backward (nfn_symmetry sym, const float *dout /* (B, D) */, nfn_feature *din)
{
  if (!din)
    return;
  const nfn_space *s = &din->space;
  layers_pool_shape shapes[NFN_MAX_TENSORS];
  layers_pool_shapes (s, sym, din->C, shapes);
  size_t dim = nfn_pool_dim (s, sym, din->C);
  size_t offset = 0;
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      layers_pool_shape sh = shapes[t];
      float inv_rows = 1.0f / (float) sh.rows;
      for (int b = 0; b < din->B; b++)
        for (size_t g = 0; g < sh.groups; g++)
          {
            const float *src = dout + (size_t) b * dim + offset + g * sh.width;
            float *dst = din->t[t] + ((size_t) b * sh.groups + g) * sh.rows * sh.width;
            for (size_t r = 0; r < sh.rows; r++)
              for (size_t w = 0; w < sh.width; w++)
                dst[r * sh.width + w] += src[w] * inv_rows;
          }
      offset += sh.groups * sh.width;
    }
}

/* ---- Pointwise ---- */

size_t
nfn_pointwise_param_count (const nfn_space *space, int cin, int cout)
{
  size_t total = 0;
  for (int t = 0; t < nfn_tensor_count (space); t++)
    {
      size_t f = (size_t) layers_filter_positions (space, t);
      total += (size_t) cin * f * (size_t) cout * f + (size_t) cout * f;
    }
  return total;
}

void
nfn_pointwise_init_params (const nfn_space *space, int cin, int cout, float *params, gsl_rng *rng)
{
  for (int t = 0; t < nfn_tensor_count (space); t++)
    {
      size_t f = (size_t) layers_filter_positions (space, t);
      size_t rows = (size_t) cin * f, cols = (size_t) cout * f;
      double bound = 1.0 / sqrt ((double) rows);
      layers_uniform (params, rows * cols + cols, bound, rng);
      params += rows * cols + cols;
    }
}

void
nfn_pointwise_forward (const float *params, const nfn_feature *in, nfn_feature *out)
{
  const nfn_space *s = &in->space;
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      int f = layers_filter_positions (s, t);
      int rows = in->B * (int) layers_positions (s, t);
      int kin = in->C * f, kout = out->C * f;
      const float *matrix = params;           /* (C_in·f, C_out·f) */
      const float *bias = params + (size_t) kin * kout; /* (C_out·f) */
      float *y = out->t[t];                   /* (B·P_t, C_out·f) */
      for (int r = 0; r < rows; r++)
        memcpy (y + (size_t) r * kout, bias, (size_t) kout * sizeof (float));
      nfn_gemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, kout, kin, 1.0f, in->t[t], kin,
                matrix, kout, 1.0f, y, kout);
      params += (size_t) kin * kout + kout;
    }
}

void
nfn_pointwise_backward (const float *params, const nfn_feature *in, const nfn_feature *dout,
                        nfn_feature *din, float *dparams)
{
  const nfn_space *s = &in->space;
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      int f = layers_filter_positions (s, t);
      int rows = in->B * (int) layers_positions (s, t);
      int kin = in->C * f, kout = dout->C * f;
      size_t block = (size_t) kin * kout + kout;
      const float *dy = dout->t[t]; /* (B·P_t, C_out·f) */
      if (din)
        nfn_gemm (CblasRowMajor, CblasNoTrans, CblasTrans, rows, kin, kout, 1.0f, dy, kout,
                  params, kout, 1.0f, din->t[t], kin);
      if (dparams)
        {
          nfn_gemm (CblasRowMajor, CblasTrans, CblasNoTrans, kin, kout, rows, 1.0f, in->t[t], kin,
                    dy, kout, 1.0f, dparams, kout);
          float *dbias = dparams + (size_t) kin * kout;
          for (int r = 0; r < rows; r++)
            for (int k = 0; k < kout; k++)
              dbias[k] += dy[(size_t) r * kout + k];
          dparams += block;
        }
      params += block;
    }
}

/* ---- Elementwise activations ---- */

void
nfn_relu_forward (const float *in, float *out, size_t n)
{
  for (size_t e = 0; e < n; e++)
    out[e] = in[e] > 0.0f ? in[e] : 0.0f;
}

void
nfn_relu_backward (const float *in, const float *dout, float *din, size_t n)
{
  if (!din)
    return;
  for (size_t e = 0; e < n; e++)
    if (in[e] > 0.0f)
      din[e] += dout[e];
}

#define LAYERS_GELU_K 0.7978845608028654 /* √(2/π) */
#define LAYERS_GELU_A 0.044715

void
nfn_gelu_forward (const float *in, float *out, size_t n)
{
  for (size_t e = 0; e < n; e++)
    {
      double x = in[e];
      out[e] = (float) (0.5 * x * (1.0 + tanh (LAYERS_GELU_K * (x + LAYERS_GELU_A * x * x * x))));
    }
}

void
nfn_gelu_backward (const float *in, const float *dout, float *din, size_t n)
{
  if (!din)
    return;
  for (size_t e = 0; e < n; e++)
    {
      double x = in[e];
      double th = tanh (LAYERS_GELU_K * (x + LAYERS_GELU_A * x * x * x));
      double dinner = LAYERS_GELU_K * (1.0 + 3.0 * LAYERS_GELU_A * x * x);
      double slope = 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * dinner;
      din[e] += (float) (slope * dout[e]);
    }
}

/* ---- Dropout ---- */

static float
layers_dropout_keep_scale (float p)
{
  return p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
}

static float
layers_dropout_draw (float p, float keep_scale, gsl_rng *rng)
{
  return gsl_rng_uniform (rng) < (double) p ? 0.0f : keep_scale;
}

/* dst = (or +=) src scaled per (network, channel) by mask; the map is its own adjoint. */
static void
layers_channel_scale (const nfn_feature *src, nfn_feature *dst, const float *mask /* (B, C) */, int accumulate)
{
  const nfn_space *s = &src->space;
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      size_t f = (size_t) layers_filter_positions (s, t);
      size_t positions = layers_positions (s, t);
      size_t width = (size_t) src->C * f;
      for (int b = 0; b < src->B; b++)
        for (size_t pos = 0; pos < positions; pos++)
          {
            size_t row = ((size_t) b * positions + pos) * width;
            const float *x = src->t[t] + row;
            float *y = dst->t[t] + row;
            for (size_t k = 0; k < width; k++)
              {
                float v = x[k] * mask[(size_t) b * src->C + k / f];
                y[k] = accumulate ? y[k] + v : v;
              }
          }
    }
}

static void
layers_feature_copy (const nfn_feature *src, nfn_feature *dst, int accumulate)
{
  const nfn_space *s = &src->space;
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      size_t count = (size_t) src->B * src->C * nfn_tensor_entries (s, t);
      if (accumulate)
        for (size_t e = 0; e < count; e++)
          dst->t[t][e] += src->t[t][e];
      else if (dst->t[t] != src->t[t])
        memcpy (dst->t[t], src->t[t], count * sizeof (float));
    }
}

void
nfn_channel_dropout_forward (const nfn_feature *in, nfn_feature *out, float p, int training,
                             gsl_rng *rng, float *mask /* (B, C) */)
{
  if (!training)
    {
      layers_feature_copy (in, out, 0);
      return;
    }
  float keep_scale = layers_dropout_keep_scale (p);
  for (size_t e = 0; e < (size_t) in->B * in->C; e++)
    mask[e] = layers_dropout_draw (p, keep_scale, rng);
  layers_channel_scale (in, out, mask, 0);
}

void
nfn_channel_dropout_backward (const nfn_feature *dout, nfn_feature *din, const float *mask /* (B, C) */,
                              int training)
{
  if (!din)
    return;
  if (training)
    layers_channel_scale (dout, din, mask, 1);
  else
    layers_feature_copy (dout, din, 1);
}

void
nfn_dropout_forward (const float *in, float *out, size_t n, float p, int training, gsl_rng *rng,
                     float *mask /* (n) */)
{
  if (!training)
    {
      if (out != in)
        memcpy (out, in, n * sizeof (float));
      return;
    }
  float keep_scale = layers_dropout_keep_scale (p);
  for (size_t e = 0; e < n; e++)
    {
      mask[e] = layers_dropout_draw (p, keep_scale, rng);
      out[e] = in[e] * mask[e];
    }
}

void
nfn_dropout_backward (const float *dout, float *din, size_t n, const float *mask /* (n) */, int training)
{
  if (!din)
    return;
  for (size_t e = 0; e < n; e++)
    din[e] += training ? dout[e] * mask[e] : dout[e];
}

/* ---- LearnedScale ---- */

size_t
nfn_learned_scale_param_count (const nfn_space *space)
{
  return (size_t) nfn_tensor_count (space);
}

void
nfn_learned_scale_init_params (const nfn_space *space, float *params /* (2L) */, float value)
{
  for (int t = 0; t < nfn_tensor_count (space); t++)
    params[t] = value;
}

void
nfn_learned_scale_forward (const float *params /* (2L) */, const nfn_feature *in, nfn_feature *out)
{
  const nfn_space *s = &in->space;
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      size_t count = (size_t) in->B * in->C * nfn_tensor_entries (s, t);
      for (size_t e = 0; e < count; e++)
        out->t[t][e] = params[t] * in->t[t][e];
    }
}

void
nfn_learned_scale_backward (const float *params /* (2L) */, const nfn_feature *in, const nfn_feature *dout,
                            nfn_feature *din, float *dparams /* (2L) */)
{
  const nfn_space *s = &in->space;
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      size_t count = (size_t) in->B * in->C * nfn_tensor_entries (s, t);
      if (din)
        for (size_t e = 0; e < count; e++)
          din->t[t][e] += params[t] * dout->t[t][e];
      if (dparams)
        {
          double sum = 0;
          for (size_t e = 0; e < count; e++)
            sum += (double) in->t[t][e] * dout->t[t][e];
          dparams[t] += (float) sum;
        }
    }
}

/* ---- Gaussian Fourier features ---- */

/* Box–Muller on gsl_rng_uniform_pos: gsl_randist.h drags in gsl_cblas.h, whose declarations
 * clash with OpenBLAS's cblas.h that the GEMMs here need. */
static double
layers_gaussian (gsl_rng *rng, double sigma)
{
  double u = gsl_rng_uniform_pos (rng), v = gsl_rng_uniform (rng);
  return sigma * sqrt (-2.0 * log (u)) * cos (2.0 * M_PI * v);
}

void
nfn_fourier_init (float *matrix /* (C_in, m) */, int cin, int m, double scale, gsl_rng *rng)
{
  for (size_t e = 0; e < (size_t) cin * m; e++)
    matrix[e] = (float) layers_gaussian (rng, scale);
}

/* phase (m) = 2π Σ_c x[c·f] G[c, :] for one (position, filter position); x points at channel 0. */
static void
layers_fourier_phases (const float *matrix, int cin, int m, const float *x, size_t f, float *phase)
{
  for (int j = 0; j < m; j++)
    phase[j] = 0;
  for (int c = 0; c < cin; c++)
    {
      float xc = (float) (2.0 * M_PI) * x[(size_t) c * f];
      const float *g = matrix + (size_t) c * m;
      for (int j = 0; j < m; j++)
        phase[j] += xc * g[j];
    }
}

/* Rows of one tensor are independent; each thread keeps its own (3m) phase/sin/cos buffer. The
 * sines and cosines are contiguous float loops, so gcc calls libmvec's vector sinf/cosf. */
void
nfn_fourier_forward (const float *matrix /* (C_in, m) */, int m, const nfn_feature *in, nfn_feature *out)
{
  const nfn_space *s = &in->space;
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      size_t f = (size_t) layers_filter_positions (s, t);
      size_t rows = (size_t) in->B * layers_positions (s, t);
#pragma omp parallel if (rows * f * (size_t) m > 65536)
      {
        float *buffer = malloc (3 * (size_t) m * sizeof (float));
#pragma omp for schedule (static)
        for (size_t r = 0; r < rows; r++)
          for (size_t p = 0; p < f; p++)
            {
              const float *x = in->t[t] + r * in->C * f + p;   /* (C_in) at stride f */
              float *y = out->t[t] + r * (size_t) (2 * m) * f + p; /* (2m) at stride f */
              float *phase = buffer, *sine = buffer + m, *cosine = buffer + 2 * m;
              layers_fourier_phases (matrix, in->C, m, x, f, phase);
              for (int j = 0; j < m; j++)
                sine[j] = sinf (phase[j]);
              for (int j = 0; j < m; j++)
                cosine[j] = cosf (phase[j]);
              for (int j = 0; j < m; j++)
                {
                  y[(size_t) j * f] = sine[j];
                  y[(size_t) (m + j) * f] = cosine[j];
                }
            }
        free (buffer);
      }
    }
}

void
nfn_fourier_backward (const float *matrix /* (C_in, m) */, int m, const nfn_feature *in,
                      const nfn_feature *dout, nfn_feature *din)
{
  if (!din)
    return;
  const nfn_space *s = &in->space;
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      size_t f = (size_t) layers_filter_positions (s, t);
      size_t rows = (size_t) in->B * layers_positions (s, t);
#pragma omp parallel if (rows * f * (size_t) m > 65536)
      {
        float *buffer = malloc (3 * (size_t) m * sizeof (float));
#pragma omp for schedule (static)
        for (size_t r = 0; r < rows; r++)
          for (size_t p = 0; p < f; p++)
            {
              const float *x = in->t[t] + r * in->C * f + p;
              const float *dy = dout->t[t] + r * (size_t) (2 * m) * f + p;
              float *dx = din->t[t] + r * in->C * f + p;
              float *phase = buffer, *sine = buffer + m, *cosine = buffer + 2 * m;
              layers_fourier_phases (matrix, in->C, m, x, f, phase);
              for (int j = 0; j < m; j++)
                sine[j] = sinf (phase[j]);
              for (int j = 0; j < m; j++)
                cosine[j] = cosf (phase[j]);
              /* dz_j = 2π (cos z_j · dy_sin_j − sin z_j · dy_cos_j); dx_c = Σ_j dz_j G[c, j] */
              for (int j = 0; j < m; j++)
                phase[j] = (float) (2.0 * M_PI) * (cosine[j] * dy[(size_t) j * f] - sine[j] * dy[(size_t) (m + j) * f]);
              for (int c = 0; c < in->C; c++)
                {
                  const float *g = matrix + (size_t) c * m;
                  double sum = 0;
                  for (int j = 0; j < m; j++)
                    sum += (double) phase[j] * g[j];
                  dx[(size_t) c * f] += (float) sum;
                }
            }
        free (buffer);
      }
    }
}

/* ---- IO sinusoidal encoding ---- */

int
nfn_io_encoding_channels (int C, int bands)
{
  return C + 4 * bands;
}

/* Channel a (0 … 2·bands-1) of the code of neuron k out of n: sin for even a, cos for odd. */
static float
layers_io_code (int k, int n, int a)
{
  double x = n > 1 ? 2.0 * k / (n - 1) - 1.0 : 0.0;
  double angle = M_PI * ldexp (1.0, a / 2 - 1) * x;
  return (float) (a % 2 == 0 ? sin (angle) : cos (angle));
}

void
nfn_io_encoding_forward (int bands, const nfn_feature *in, nfn_feature *out)
{
  const nfn_space *s = &in->space;
  int L = s->L;
  size_t width_in = (size_t) in->C, width_out = (size_t) out->C;
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      int i = nfn_tensor_layer (t);
      int is_bias = nfn_tensor_is_bias (t);
      size_t f = (size_t) layers_filter_positions (s, t);
      int rows_n = s->n[i], cols_n = is_bias ? 1 : s->n[i - 1];
      int encodes_input = !is_bias && i == 1;
      int encodes_output = i == L;
      for (int b = 0; b < in->B; b++)
        for (int j = 0; j < rows_n; j++)
          for (int k = 0; k < cols_n; k++)
            {
              size_t pos = ((size_t) b * rows_n + j) * cols_n + k;
              float *y = out->t[t] + pos * width_out * f;
              memcpy (y, in->t[t] + pos * width_in * f, width_in * f * sizeof (float));
              float *extra = y + width_in * f; /* (4·bands, f) */
              for (int a = 0; a < 2 * bands; a++)
                {
                  float input_code = encodes_input ? layers_io_code (k, s->n[0], a) : 0.0f;
                  float output_code = encodes_output ? layers_io_code (j, s->n[L], a) : 0.0f;
                  for (size_t p = 0; p < f; p++)
                    {
                      extra[(size_t) a * f + p] = input_code;
                      extra[(size_t) (2 * bands + a) * f + p] = output_code;
                    }
                }
            }
    }
}

void
nfn_io_encoding_backward (int bands, const nfn_feature *dout, nfn_feature *din)
{
  if (!din)
    return;
  const nfn_space *s = &din->space;
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      size_t f = (size_t) layers_filter_positions (s, t);
      size_t rows = (size_t) din->B * layers_positions (s, t);
      size_t keep = (size_t) din->C * f, stride = (size_t) dout->C * f;
      for (size_t r = 0; r < rows; r++)
        for (size_t k = 0; k < keep; k++)
          din->t[t][r * keep + k] += dout->t[t][r * stride + k];
    }
}

/* ---- Layer norm over channels ---- */

#define LAYERS_NORM_EPS 1e-5

size_t
nfn_layer_norm_cache_size (const nfn_space *space, int B)
{
  size_t total = 0;
  for (int t = 0; t < nfn_tensor_count (space); t++)
    total += 2 * (size_t) B * layers_positions (space, t);
  return total;
}

void
nfn_layer_norm_init_params (int C, float *params /* γ (C), β (C) */)
{
  for (int c = 0; c < C; c++)
    {
      params[c] = 1.0f;
      params[C + c] = 0.0f;
    }
}

void
nfn_layer_norm_forward (const float *params /* γ (C), β (C) */, const nfn_feature *in, nfn_feature *out,
                        float *cache /* (Σ_t B·P_t, 2) */)
{
  const nfn_space *s = &in->space;
  const float *gain = params, *shift = params + in->C;
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      size_t f = (size_t) layers_filter_positions (s, t);
      size_t rows = (size_t) in->B * layers_positions (s, t);
      size_t width = (size_t) in->C * f;
      for (size_t r = 0; r < rows; r++, cache += 2)
        {
          const float *x = in->t[t] + r * width;
          float *y = out->t[t] + r * width;
          double mean = 0, var = 0;
          for (size_t k = 0; k < width; k++)
            mean += x[k];
          mean /= (double) width;
          for (size_t k = 0; k < width; k++)
            var += ((double) x[k] - mean) * ((double) x[k] - mean);
          var /= (double) width;
          double rstd = 1.0 / sqrt (var + LAYERS_NORM_EPS);
          cache[0] = (float) mean;
          cache[1] = (float) rstd;
          for (size_t k = 0; k < width; k++)
            y[k] = (float) (((double) x[k] - mean) * rstd) * gain[k / f] + shift[k / f];
        }
    }
}

void
nfn_layer_norm_backward (const float *params /* γ (C), β (C) */, const nfn_feature *in, const nfn_feature *dout,
                         const float *cache /* (Σ_t B·P_t, 2) */, nfn_feature *din, float *dparams /* (2C) */)
{
  const nfn_space *s = &in->space;
  const float *gain = params;
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      size_t f = (size_t) layers_filter_positions (s, t);
      size_t rows = (size_t) in->B * layers_positions (s, t);
      size_t width = (size_t) in->C * f;
      for (size_t r = 0; r < rows; r++, cache += 2)
        {
          const float *x = in->t[t] + r * width;
          const float *dy = dout->t[t] + r * width;
          double mean = cache[0], rstd = cache[1];
          /* dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)), dx̂ = γ·dy */
          double mean_dxhat = 0, mean_dxhat_xhat = 0;
          for (size_t k = 0; k < width; k++)
            {
              double xhat = ((double) x[k] - mean) * rstd;
              double dxhat = (double) gain[k / f] * dy[k];
              mean_dxhat += dxhat;
              mean_dxhat_xhat += dxhat * xhat;
              if (dparams)
                {
                  dparams[k / f] += (float) (dy[k] * xhat);
                  dparams[in->C + k / f] += dy[k];
                }
            }
          mean_dxhat /= (double) width;
          mean_dxhat_xhat /= (double) width;
          if (din)
            {
              float *dx = din->t[t] + r * width;
              for (size_t k = 0; k < width; k++)
                {
                  double xhat = ((double) x[k] - mean) * rstd;
                  double dxhat = (double) gain[k / f] * dy[k];
                  dx[k] += (float) (rstd * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat));
                }
            }
        }
    }
}

/* ---- Dense layer ---- */

size_t
nfn_linear_param_count (int din, int dout)
{
  return (size_t) din * dout + (size_t) dout;
}

void
nfn_linear_init_params (int din, int dout, float *params, gsl_rng *rng)
{
  layers_uniform (params, nfn_linear_param_count (din, dout), 1.0 / sqrt ((double) din), rng);
}

void
nfn_linear_forward (const float *params /* W (D_in, D_out), b (D_out) */, const float *in /* (N, D_in) */,
                    float *out /* (N, D_out) */, int N, int din, int dout)
{
  const float *bias = params + (size_t) din * dout;
  for (int r = 0; r < N; r++)
    memcpy (out + (size_t) r * dout, bias, (size_t) dout * sizeof (float));
  nfn_gemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, N, dout, din, 1.0f, in, din, params, dout,
            1.0f, out, dout);
}

void
nfn_linear_backward (const float *params /* W (D_in, D_out), b (D_out) */, const float *in /* (N, D_in) */,
                     const float *grad_out /* (N, D_out) */, float *grad_in /* (N, D_in) */,
                     float *dparams /* dW (D_in, D_out), db (D_out) */, int N, int din, int dout)
{
  if (grad_in)
    nfn_gemm (CblasRowMajor, CblasNoTrans, CblasTrans, N, din, dout, 1.0f, grad_out, dout, params, dout,
              1.0f, grad_in, din);
  if (dparams)
    {
      nfn_gemm (CblasRowMajor, CblasTrans, CblasNoTrans, din, dout, N, 1.0f, in, din, grad_out, dout,
                1.0f, dparams, dout);
      float *dbias = dparams + (size_t) din * dout;
      for (int r = 0; r < N; r++)
        for (int k = 0; k < dout; k++)
          dbias[k] += grad_out[(size_t) r * dout + k];
    }
}

/* ---- StatNN features ---- */

#define LAYERS_STATNN_STATS 7
static const double layers_statnn_quantiles[5] = { 0.0, 0.25, 0.5, 0.75, 1.0 };

typedef struct {
  float value;
  size_t position;
} layers_sorted_entry;

static int
layers_sorted_entry_compare (const void *a, const void *b)
{
  const layers_sorted_entry *x = a, *y = b;
  if (x->value != y->value)
    return x->value < y->value ? -1 : 1;
  /* position breaks ties so the order (and the gradient's recipient) is deterministic */
  return (x->position > y->position) - (x->position < y->position);
}

/* numpy's linear method: h = (n-1)·q, between order statistics floor(h) and floor(h)+1. */
static void
layers_quantile_bracket (size_t n, double q, size_t *lo, size_t *hi, double *frac)
{
  double h = (double) (n - 1) * q;
  *lo = (size_t) floor (h);
  if (*lo > n - 1)
    *lo = n - 1;
  *hi = *lo + 1 < n ? *lo + 1 : n - 1;
  *frac = h - (double) *lo;
}

/* Largest P_t of a space: the sort scratch one column needs. */
static size_t
layers_max_positions (const nfn_space *s)
{
  size_t most = 1;
  for (int t = 0; t < nfn_tensor_count (s); t++)
    if (layers_positions (s, t) > most)
      most = layers_positions (s, t);
  return most;
}

/* Sorts column `k` (stride `width`) of one network's tensor block x (P, width) into sorted. */
static void
layers_sort_column (const float *x, size_t positions, size_t width, size_t k, layers_sorted_entry *sorted)
{
  for (size_t pos = 0; pos < positions; pos++)
    {
      sorted[pos].value = x[pos * width + k];
      sorted[pos].position = pos;
    }
  qsort (sorted, positions, sizeof *sorted, layers_sorted_entry_compare);
}

size_t
nfn_statnn_dim (const nfn_space *space, int C)
{
  size_t total = 0;
  for (int t = 0; t < nfn_tensor_count (space); t++)
    total += LAYERS_STATNN_STATS * (size_t) C * (size_t) layers_filter_positions (space, t);
  return total;
}

nfn_status
nfn_statnn_forward (const nfn_feature *in, float *out /* (B, D) */)
{
  const nfn_space *s = &in->space;
  layers_sorted_entry *sorted = malloc (layers_max_positions (s) * sizeof *sorted);
  if (!sorted)
    return NFN_ERR_NOMEM;
  size_t dim = nfn_statnn_dim (s, in->C);
  for (int b = 0; b < in->B; b++)
    {
      float *row = out + (size_t) b * dim;
      for (int t = 0; t < nfn_tensor_count (s); t++)
        {
          size_t positions = layers_positions (s, t);
          size_t width = (size_t) in->C * layers_filter_positions (s, t);
          const float *x = in->t[t] + (size_t) b * positions * width;
          for (size_t k = 0; k < width; k++, row += LAYERS_STATNN_STATS)
            {
              double mean = 0, var = 0;
              for (size_t pos = 0; pos < positions; pos++)
                mean += x[pos * width + k];
              mean /= (double) positions;
              for (size_t pos = 0; pos < positions; pos++)
                {
                  double d = x[pos * width + k] - mean;
                  var += d * d;
                }
              row[0] = (float) mean;
              row[1] = (float) (var / (double) positions);
              layers_sort_column (x, positions, width, k, sorted);
              for (int q = 0; q < 5; q++)
                {
                  size_t lo, hi;
                  double frac;
                  layers_quantile_bracket (positions, layers_statnn_quantiles[q], &lo, &hi, &frac);
                  row[2 + q] = (float) (sorted[lo].value + frac * ((double) sorted[hi].value - sorted[lo].value));
                }
            }
        }
    }
  free (sorted);
  return NFN_OK;
}

nfn_status
nfn_statnn_backward (const nfn_feature *in, const float *dout /* (B, D) */, nfn_feature *din)
{
  if (!din)
    return NFN_OK;
  const nfn_space *s = &in->space;
  layers_sorted_entry *sorted = malloc (layers_max_positions (s) * sizeof *sorted);
  if (!sorted)
    return NFN_ERR_NOMEM;
  size_t dim = nfn_statnn_dim (s, in->C);
  for (int b = 0; b < in->B; b++)
    {
      const float *row = dout + (size_t) b * dim;
      for (int t = 0; t < nfn_tensor_count (s); t++)
        {
          size_t positions = layers_positions (s, t);
          size_t width = (size_t) in->C * layers_filter_positions (s, t);
          const float *x = in->t[t] + (size_t) b * positions * width;
          float *dx = din->t[t] + (size_t) b * positions * width;
          for (size_t k = 0; k < width; k++, row += LAYERS_STATNN_STATS)
            {
              double mean = 0;
              for (size_t pos = 0; pos < positions; pos++)
                mean += x[pos * width + k];
              mean /= (double) positions;
              /* d mean/dx = 1/P; d var/dx = 2(x − mean)/P (the mean's own term sums to zero) */
              for (size_t pos = 0; pos < positions; pos++)
                dx[pos * width + k] += (float) ((row[0] + 2.0 * row[1] * (x[pos * width + k] - mean))
                                                / (double) positions);
              layers_sort_column (x, positions, width, k, sorted);
              for (int q = 0; q < 5; q++)
                {
                  size_t lo, hi;
                  double frac;
                  layers_quantile_bracket (positions, layers_statnn_quantiles[q], &lo, &hi, &frac);
                  dx[sorted[lo].position * width + k] += (float) ((1.0 - frac) * row[2 + q]);
                  if (frac != 0.0)
                    dx[sorted[hi].position * width + k] += (float) (frac * row[2 + q]);
                }
            }
        }
    }
  free (sorted);
  return NFN_OK;
}

/* ---- Flatten ---- */

size_t
nfn_flatten_dim (const nfn_space *space, int C)
{
  return (size_t) C * nfn_space_param_count (space);
}

void
nfn_flatten_forward (const nfn_feature *in, float *out /* (B, D) */)
{
  const nfn_space *s = &in->space;
  size_t dim = nfn_flatten_dim (s, in->C);
  for (int b = 0; b < in->B; b++)
    {
      float *row = out + (size_t) b * dim;
      for (int t = 0; t < nfn_tensor_count (s); t++)
        {
          size_t per = (size_t) in->C * nfn_tensor_entries (s, t);
          memcpy (row, in->t[t] + (size_t) b * per, per * sizeof (float));
          row += per;
        }
    }
}

void
nfn_flatten_backward (const float *dout /* (B, D) */, nfn_feature *din)
{
  if (!din)
    return;
  const nfn_space *s = &din->space;
  size_t dim = nfn_flatten_dim (s, din->C);
  for (int b = 0; b < din->B; b++)
    {
      const float *row = dout + (size_t) b * dim;
      for (int t = 0; t < nfn_tensor_count (s); t++)
        {
          size_t per = (size_t) din->C * nfn_tensor_entries (s, t);
          float *dx = din->t[t] + (size_t) b * per;
          for (size_t e = 0; e < per; e++)
            dx[e] += row[e];
          row += per;
        }
    }
}
