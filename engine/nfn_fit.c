/* nfn_fit.c — fitting SIRENs to images: the fused 2→32→32→1 step, the generic step through
 * nfn_net_forward/backward, Adam, and the threaded loop over networks.
 *
 * Shape letters: R×Cc image rows × columns, N = R·Cc points, H = NFN_FIT_FUSED_HIDDEN,
 * V = H / 16 vectors of 16 floats per hidden row, P floats of one packed network.
 *
 * Fused path, one network, one step (z = pre-activations, ω = ω0):
 *   layer 1 on the grid: ω·z1[r,c] = A[c] + Bv[r] with A[c] = ω(W1[:,0]·u_c + b1), Bv[r] = ω W1[:,1]·v_r,
 *     so a1 = sin A·cos Bv + cos A·sin Bv and cos(ω z1) = cos A·cos Bv − sin A·sin Bv: sines of
 *     (R + Cc)·H values, not N·H;
 *   then row by row (Cc points): z2 = a1·W2ᵀ + b2, a2 = sin(ω z2), y = a2·W3ᵀ + b3, the MSE's
 *     gradient, and the backward of the same row while it is in L1. Hidden rows are H floats,
 *     handled as V vectors of 16 lanes (GCC vector extensions; AVX-512 registers here, split
 *     into halves or quarters by the compiler elsewhere).
 */
#include "nfn_fit.h"
#include "nfn_train.h"
#include "nfn_vector_math.h"

#include <cblas.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define FH NFN_FIT_FUSED_HIDDEN
#define FV (FH / 16)

typedef float nfn_fit_vec __attribute__ ((vector_size (64)));

static inline nfn_fit_vec
vec_load (const float *p)
{
  nfn_fit_vec v;
  memcpy (&v, p, sizeof v);
  return v;
}

static inline void
vec_store (float *p, nfn_fit_vec v)
{
  memcpy (p, &v, sizeof v);
}

static inline float
vec_sum (nfn_fit_vec v)
{
  float s = 0.0f;
  for (int l = 0; l < 16; l++)
    s += v[l];
  return s;
}

void
nfn_fit_options_init (nfn_fit_options *opt)
{
  memset (opt, 0, sizeof *opt);
  opt->steps = NFN_FIT_DEFAULT_STEPS;
  opt->lr = NFN_FIT_DEFAULT_LR;
  opt->threads = 1;
  opt->path = NFN_FIT_PATH_AUTO;
}

void
nfn_fit_default_arch (nfn_arch *arch)
{
  const int widths[] = { 2, FH, FH, 1 };
  nfn_arch_siren (arch, 3, widths, 30.0f);
}

/* linspace(−1, 1, n)[k]; a single point sits at 0. */
static float
nfn_fit_linspace (int k, int n)
{
  return n > 1 ? -1.0f + 2.0f * (float) k / (float) (n - 1) : 0.0f;
}

void
nfn_fit_grid (float *coords /* (R·Cc, 2) */, int rows, int cols)
{
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++)
      {
        float *xy = coords + 2 * ((size_t) r * cols + c);
        xy[0] = nfn_fit_linspace (c, cols);
        xy[1] = nfn_fit_linspace (r, rows);
      }
}

void
nfn_fit_targets (float *target /* (n) */, const float *pixels /* (n) */, size_t n)
{
  for (size_t e = 0; e < n; e++)
    target[e] = 2.0f * pixels[e] - 1.0f;
}

/* splitmix64: decorrelates neighbouring ids so every network gets an unrelated stream. */
static uint64_t
nfn_fit_mix (uint64_t x)
{
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

unsigned long
nfn_fit_network_seed (uint64_t seed, uint64_t network_id)
{
  /* mt19937 keeps 32 bits of its seed: fold the high half in */
  uint64_t mixed = nfn_fit_mix (seed ^ nfn_fit_mix (network_id));
  return (unsigned long) ((mixed ^ (mixed >> 32)) & 0xffffffffu);
}

nfn_status
nfn_fit_init_network (const nfn_arch *arch, nfn_feature *weights, int net, uint64_t seed,
                      uint64_t network_id)
{
  if (!arch || !weights || net < 0 || net >= weights->B || weights->C != 1
      || !nfn_space_equal (&weights->space, &arch->space))
    return NFN_ERR_ARG;
  gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
  if (!rng)
    return NFN_ERR_NOMEM;
  nfn_feature one;
  nfn_status status = nfn_feature_alloc (&one, &arch->space, 1, 1);
  if (status == NFN_OK)
    {
      gsl_rng_set (rng, nfn_fit_network_seed (seed, network_id));
      nfn_net_init (arch, &one, rng);
      nfn_feature_set_network (weights, net, &one);
      nfn_feature_free (&one);
    }
  gsl_rng_free (rng);
  return status;
}

/* ---- The fused step ---- */

static int
nfn_fit_is_fusable (const nfn_arch *arch)
{
  const nfn_space *s = &arch->space;
  return nfn_arch_check (arch) == NFN_OK && arch->kind == NFN_NET_SIREN && s->L == 3 && s->n[0] == 2
         && s->n[1] == FH && s->n[2] == FH && s->n[3] == 1;
}

/* Scratch of one worker for the fused step; every (·, H) block is row-major with H floats a row. */
typedef struct {
  int rows, cols;
  float *base;
  float *u, *v;             /* (Cc), (R): grid coordinates */
  float *w1x, *w1y;         /* (H): W1's columns */
  float *arg;               /* (max(R, Cc), H): sine arguments */
  float *sin_a, *cos_a;     /* (Cc, H): sin/cos of A */
  float *sin_b, *cos_b;     /* (R, H): sin/cos of Bv */
  float *w2t;               /* (H, H): W2ᵀ */
  float *a1;                /* (Cc, H): one row's layer-1 activations */
  float *s2, *c2;           /* (Cc, H): sin/cos(ω z2) of one row */
  float *dz2;               /* (Cc, H) */
  float *da;                /* (Cc, H): dL/dA summed over rows */
  float *db;                /* (R, H): dL/dBv */
  float *dw2;               /* (H, H) */
} nfn_fit_fused_work;

static void
nfn_fit_fused_work_free (nfn_fit_fused_work *w)
{
  free (w->base);
  memset (w, 0, sizeof *w);
}

static nfn_status
nfn_fit_fused_work_alloc (nfn_fit_fused_work *w, int rows, int cols)
{
  memset (w, 0, sizeof *w);
  size_t hr = (size_t) rows * FH, hc = (size_t) cols * FH, hh = (size_t) FH * FH;
  size_t sizes[] = { (size_t) cols, (size_t) rows, FH, FH, hr > hc ? hr : hc, hc, hc, hr, hr, hh,
                     hc, hc, hc, hc, hc, hr, hh };
  float **slots[] = { &w->u, &w->v, &w->w1x, &w->w1y, &w->arg, &w->sin_a, &w->cos_a, &w->sin_b,
                      &w->cos_b, &w->w2t, &w->a1, &w->s2, &w->c2, &w->dz2, &w->da, &w->db, &w->dw2 };
  size_t n = sizeof sizes / sizeof sizes[0], total = 0;
  for (size_t k = 0; k < n; k++)
    total += nfn_arena_round (sizes[k]);
  w->base = aligned_alloc (64, total * sizeof (float));
  if (!w->base)
    return NFN_ERR_NOMEM;
  memset (w->base, 0, total * sizeof (float));
  float *p = w->base;
  for (size_t k = 0; k < n; k++)
    {
      *slots[k] = p;
      p += nfn_arena_round (sizes[k]);
    }
  w->rows = rows;
  w->cols = cols;
  for (int c = 0; c < cols; c++)
    w->u[c] = nfn_fit_linspace (c, cols);
  for (int r = 0; r < rows; r++)
    w->v[r] = nfn_fit_linspace (r, rows);
  return NFN_OK;
}

/* sin and cos of n contiguous arguments; contiguous float loops so gcc calls libmvec. */
static void
nfn_fit_sincos (float *restrict s, float *restrict c, const float *restrict arg, size_t n)
{
  for (size_t e = 0; e < n; e++)
    s[e] = sinf (arg[e]);
  for (size_t e = 0; e < n; e++)
    c[e] = cosf (arg[e]);
}

/* out[q] (Q points × H) = Σ_j in[q][j]·M[j] (+ init), M (H, H) row-major: the product of Q
 * hidden rows with a matrix, four points at a time so that M's rows are loaded once per four. */
static void
nfn_fit_rows_times_matrix (float *out /* (Q, H) */, const float *in /* (Q, H) */,
                           const float *M /* (H, H) */, const float *init /* (H) or NULL */, int Q)
{
  nfn_fit_vec start[FV];
  for (int v = 0; v < FV; v++)
    start[v] = init ? vec_load (init + 16 * v) : (nfn_fit_vec) { 0 };
  int q = 0;
  for (; q + 4 <= Q; q += 4)
    {
      nfn_fit_vec acc[4][FV];
      for (int p = 0; p < 4; p++)
        for (int v = 0; v < FV; v++)
          acc[p][v] = start[v];
      for (int j = 0; j < FH; j++)
        {
          nfn_fit_vec m[FV];
          for (int v = 0; v < FV; v++)
            m[v] = vec_load (M + j * FH + 16 * v);
          for (int p = 0; p < 4; p++)
            {
              float x = in[(size_t) (q + p) * FH + j];
              for (int v = 0; v < FV; v++)
                acc[p][v] += x * m[v];
            }
        }
      for (int p = 0; p < 4; p++)
        for (int v = 0; v < FV; v++)
          vec_store (out + (size_t) (q + p) * FH + 16 * v, acc[p][v]);
    }
  for (; q < Q; q++)
    {
      nfn_fit_vec acc[FV];
      for (int v = 0; v < FV; v++)
        acc[v] = start[v];
      for (int j = 0; j < FH; j++)
        {
          float x = in[(size_t) q * FH + j];
          for (int v = 0; v < FV; v++)
            acc[v] += x * vec_load (M + j * FH + 16 * v);
        }
      for (int v = 0; v < FV; v++)
        vec_store (out + (size_t) q * FH + 16 * v, acc[v]);
    }
}

/* G (H, H) += Σ_q a[q]ᵀ b[q]: G[k][:] += a[q][k]·b[q][:], four rows k at a time. */
static void
nfn_fit_outer_accumulate (float *G /* (H, H) */, const float *a /* (Q, H) */, const float *b /* (Q, H) */,
                          int Q)
{
  for (int k = 0; k < FH; k += 4)
    {
      nfn_fit_vec acc[4][FV];
      for (int p = 0; p < 4; p++)
        for (int v = 0; v < FV; v++)
          acc[p][v] = vec_load (G + (k + p) * FH + 16 * v);
      for (int q = 0; q < Q; q++)
        {
          nfn_fit_vec x[FV];
          for (int v = 0; v < FV; v++)
            x[v] = vec_load (b + (size_t) q * FH + 16 * v);
          for (int p = 0; p < 4; p++)
            {
              float s = a[(size_t) q * FH + k + p];
              for (int v = 0; v < FV; v++)
                acc[p][v] += s * x[v];
            }
        }
      for (int p = 0; p < 4; p++)
        for (int v = 0; v < FV; v++)
          vec_store (G + (k + p) * FH + 16 * v, acc[p][v]);
    }
}

/* Loss (mean over N points of (y − target)²) of one network in a B = 1 feature, gradient
 * accumulated into grad (may be NULL). */
static double
nfn_fit_fused_step (nfn_fit_fused_work *w, const float omega, const nfn_feature *net,
                    const float *target /* (R·Cc) */, nfn_feature *grad)
{
  const int R = w->rows, Cc = w->cols;
  const float *W1 = net->t[0], *b1 = net->t[1], *W2 = net->t[2], *b2 = net->t[3];
  const float *W3 = net->t[4], b3 = net->t[5][0];
  const float inv_n = 1.0f / (float) ((size_t) R * Cc);

  /* the separable first layer: sines of A (per column) and Bv (per row) */
  for (int j = 0; j < FH; j++)
    {
      w->w1x[j] = W1[2 * j];
      w->w1y[j] = W1[2 * j + 1];
    }
  for (int c = 0; c < Cc; c++)
    for (int j = 0; j < FH; j++)
      w->arg[c * FH + j] = omega * (w->w1x[j] * w->u[c] + b1[j]);
  nfn_fit_sincos (w->sin_a, w->cos_a, w->arg, (size_t) Cc * FH);
  for (int r = 0; r < R; r++)
    for (int j = 0; j < FH; j++)
      w->arg[r * FH + j] = omega * (w->w1y[j] * w->v[r]);
  nfn_fit_sincos (w->sin_b, w->cos_b, w->arg, (size_t) R * FH);
  for (int k = 0; k < FH; k++)
    for (int j = 0; j < FH; j++)
      w->w2t[j * FH + k] = W2[k * FH + j];

  nfn_fit_vec w3[FV], db2[FV], dw3[FV];
  for (int v = 0; v < FV; v++)
    {
      w3[v] = vec_load (W3 + 16 * v);
      db2[v] = dw3[v] = (nfn_fit_vec) { 0 };
    }
  if (grad)
    {
      memset (w->da, 0, (size_t) Cc * FH * sizeof (float));
      memset (w->dw2, 0, (size_t) FH * FH * sizeof (float));
    }
  double loss = 0.0, db3 = 0.0;

  for (int r = 0; r < R; r++)
    {
      nfn_fit_vec sb[FV], cb[FV];
      for (int v = 0; v < FV; v++)
        {
          sb[v] = vec_load (w->sin_b + r * FH + 16 * v);
          cb[v] = vec_load (w->cos_b + r * FH + 16 * v);
        }
      for (int c = 0; c < Cc; c++)
        for (int v = 0; v < FV; v++)
          {
            size_t o = (size_t) c * FH + 16 * v;
            vec_store (w->a1 + o, vec_load (w->sin_a + o) * cb[v] + vec_load (w->cos_a + o) * sb[v]);
          }
      nfn_fit_rows_times_matrix (w->arg, w->a1, w->w2t, b2, Cc);
      for (size_t e = 0; e < (size_t) Cc * FH; e++)
        w->arg[e] *= omega;
      nfn_fit_sincos (w->s2, w->c2, w->arg, (size_t) Cc * FH);

      const float *t = target + (size_t) r * Cc;
      for (int c = 0; c < Cc; c++)
        {
          nfn_fit_vec dot = { 0 };
          for (int v = 0; v < FV; v++)
            dot += vec_load (w->s2 + c * FH + 16 * v) * w3[v];
          float e = b3 + vec_sum (dot) - t[c];
          loss += (double) e * e;
          if (!grad)
            continue;
          float g = 2.0f * e * inv_n;
          db3 += g;
          for (int v = 0; v < FV; v++)
            {
              size_t o = (size_t) c * FH + 16 * v;
              dw3[v] += g * vec_load (w->s2 + o);
              nfn_fit_vec d = (g * omega) * w3[v] * vec_load (w->c2 + o);
              db2[v] += d;
              vec_store (w->dz2 + o, d);
            }
        }
      if (!grad)
        continue;
      nfn_fit_outer_accumulate (w->dw2, w->dz2, w->a1, Cc);
      /* da1 = dz2·W2, then through the first layer's sine; s2 is free to hold da1 */
      nfn_fit_rows_times_matrix (w->s2, w->dz2, W2, NULL, Cc);
      nfn_fit_vec dbr[FV] = { 0 };
      for (int c = 0; c < Cc; c++)
        for (int v = 0; v < FV; v++)
          {
            size_t o = (size_t) c * FH + 16 * v;
            nfn_fit_vec cos1 = vec_load (w->cos_a + o) * cb[v] - vec_load (w->sin_a + o) * sb[v];
            nfn_fit_vec dz1 = omega * vec_load (w->s2 + o) * cos1;
            vec_store (w->da + o, vec_load (w->da + o) + dz1);
            dbr[v] += dz1;
          }
      for (int v = 0; v < FV; v++)
        vec_store (w->db + r * FH + 16 * v, dbr[v]);
    }

  if (grad)
    {
      float *gW1 = grad->t[0], *gb1 = grad->t[1], *gW2 = grad->t[2], *gb2 = grad->t[3];
      float *gW3 = grad->t[4], *gb3 = grad->t[5];
      /* ω z1 = A + Bv: dA/dW1[:,0] = ω u_c etc.; the ω is already inside dz1 */
      for (int j = 0; j < FH; j++)
        {
          double sx = 0, sbias = 0, sy = 0;
          for (int c = 0; c < Cc; c++)
            {
              sx += (double) w->da[c * FH + j] * w->u[c];
              sbias += w->da[c * FH + j];
            }
          for (int r = 0; r < R; r++)
            sy += (double) w->db[r * FH + j] * w->v[r];
          gW1[2 * j] += (float) sx;
          gW1[2 * j + 1] += (float) sy;
          gb1[j] += (float) sbias;
        }
      for (int e = 0; e < FH * FH; e++)
        gW2[e] += w->dw2[e];
      for (int v = 0; v < FV; v++)
        for (int l = 0; l < 16; l++)
          {
            gb2[16 * v + l] += db2[v][l];
            gW3[16 * v + l] += dw3[v][l];
          }
      gb3[0] += (float) db3;
    }
  return loss * inv_n;
}

nfn_status
nfn_fit_fused_loss_grad (const nfn_arch *arch, const nfn_feature *weights, const float *target,
                         int rows, int cols, double *loss, nfn_feature *grad)
{
  if (!arch || !weights || !target || !loss || rows < 1 || cols < 1)
    return NFN_ERR_ARG;
  if (!nfn_fit_is_fusable (arch))
    return NFN_ERR_UNSUPPORTED;
  if (weights->B != 1 || weights->C != 1 || !nfn_space_equal (&weights->space, &arch->space)
      || (grad && !nfn_feature_same_shape (grad, weights)))
    return NFN_ERR_SHAPE;
  nfn_fit_fused_work work;
  if (nfn_fit_fused_work_alloc (&work, rows, cols) != NFN_OK)
    return NFN_ERR_NOMEM;
  *loss = nfn_fit_fused_step (&work, arch->omega0, weights, target, grad);
  nfn_fit_fused_work_free (&work);
  return NFN_OK;
}

/* ---- One worker: everything a thread needs to fit networks one after another ---- */

typedef struct {
  const nfn_arch *arch;
  int rows, cols, fused;
  nfn_feature net, grad;     /* B = 1: the network being fitted and its gradient */
  float *m, *v;              /* (P): Adam moments */
  float *target;             /* (N) */
  float *coords;             /* (N, 2) */
  float *y, *dy;             /* (N) */
  float *cache;              /* generic path's activation cache */
  nfn_fit_fused_work fw;
} nfn_fit_worker;

static void
nfn_fit_worker_free (nfn_fit_worker *k)
{
  nfn_feature_free (&k->net);
  nfn_feature_free (&k->grad);
  free (k->m);
  free (k->v);
  free (k->target);
  free (k->coords);
  free (k->y);
  free (k->dy);
  free (k->cache);
  nfn_fit_fused_work_free (&k->fw);
  memset (k, 0, sizeof *k);
}

static nfn_status
nfn_fit_worker_alloc (nfn_fit_worker *k, const nfn_arch *arch, int rows, int cols, int fused)
{
  memset (k, 0, sizeof *k);
  k->arch = arch;
  k->rows = rows;
  k->cols = cols;
  k->fused = fused;
  size_t N = (size_t) rows * cols;
  if (nfn_feature_alloc (&k->net, &arch->space, 1, 1) != NFN_OK
      || nfn_feature_alloc (&k->grad, &arch->space, 1, 1) != NFN_OK)
    goto nomem;
  k->m = calloc (k->net.size, sizeof (float));
  k->v = calloc (k->net.size, sizeof (float));
  k->target = malloc (N * sizeof (float));
  k->coords = malloc (2 * N * sizeof (float));
  k->y = malloc (N * sizeof (float));
  k->dy = malloc (N * sizeof (float));
  k->cache = malloc (nfn_net_cache_size (arch, 1, (int) N) * sizeof (float) + 1);
  if (!k->m || !k->v || !k->target || !k->coords || !k->y || !k->dy || !k->cache)
    goto nomem;
  if (fused && nfn_fit_fused_work_alloc (&k->fw, rows, cols) != NFN_OK)
    goto nomem;
  nfn_fit_grid (k->coords, rows, cols);
  return NFN_OK;
nomem:
  nfn_fit_worker_free (k);
  return NFN_ERR_NOMEM;
}

/* One Adam step's gradient of k->net on k->target into k->grad (zeroed first). */
static nfn_status
nfn_fit_worker_gradient (nfn_fit_worker *k)
{
  memset (k->grad.data, 0, k->grad.size * sizeof (float));
  if (k->fused)
    {
      nfn_fit_fused_step (&k->fw, k->arch->omega0, &k->net, k->target, &k->grad);
      return NFN_OK;
    }
  int N = k->rows * k->cols;
  double loss;
  nfn_status status = nfn_net_forward (k->arch, &k->net, N, k->coords, 0, k->y, k->cache);
  if (status == NFN_OK)
    status = nfn_mse (k->y, k->target, (size_t) N, &loss, k->dy);
  if (status == NFN_OK)
    status = nfn_net_backward (k->arch, &k->net, N, k->coords, 0, k->cache, k->dy, &k->grad, NULL);
  return status;
}

static nfn_status
nfn_fit_worker_fit (nfn_fit_worker *k, nfn_feature *weights, int b, const float *pixels,
                    uint64_t network_id, const nfn_fit_options *opt, float *psnr)
{
  size_t N = (size_t) k->rows * k->cols;
  nfn_status status = nfn_fit_init_network (k->arch, weights, b, opt->seed, network_id);
  if (status != NFN_OK)
    return status;
  nfn_feature_get_network (weights, b, &k->net);
  nfn_fit_targets (k->target, pixels, N);
  memset (k->m, 0, k->net.size * sizeof (float));
  memset (k->v, 0, k->net.size * sizeof (float));
  nfn_adam adam;
  nfn_adam_init (&adam, opt->lr);
  for (int step = 0; step < opt->steps; step++)
    {
      if (opt->cancel && *opt->cancel)
        return NFN_ERR_CANCELLED;
      if ((status = nfn_fit_worker_gradient (k)) != NFN_OK)
        return status;
      nfn_adam_step (&adam, k->net.data, k->grad.data, k->m, k->v, k->net.size);
    }
  nfn_feature_set_network (weights, b, &k->net);
  /* the final quality by the generic forward: an independent check on the fused path */
  if ((status = nfn_net_forward (k->arch, &k->net, (int) N, k->coords, 0, k->y, NULL)) != NFN_OK)
    return status;
  if (psnr)
    psnr[b] = (float) nfn_psnr (k->y, k->target, N, 2.0);
  return NFN_OK;
}

nfn_status
nfn_fit_sirens (const nfn_arch *arch, nfn_feature *weights, const float *images, int rows, int cols,
                const uint64_t *network_ids, const nfn_fit_options *opt, float *psnr)
{
  if (!arch || !weights || !images || !network_ids || !opt || rows < 1 || cols < 1
      || (size_t) rows * cols > (1u << 24) || opt->steps < 0 || !(opt->lr > 0) || opt->threads < 1)
    return NFN_ERR_ARG;
  if (nfn_arch_check (arch) != NFN_OK || arch->kind != NFN_NET_SIREN || arch->space.n[0] != 2
      || arch->space.n[arch->space.L] != 1)
    return NFN_ERR_UNSUPPORTED;
  if (weights->C != 1 || weights->B < 1 || !nfn_space_equal (&weights->space, &arch->space))
    return NFN_ERR_SHAPE;
  int fused = opt->path != NFN_FIT_PATH_GENERIC && nfn_fit_is_fusable (arch);
  if (opt->path == NFN_FIT_PATH_FUSED && !fused)
    return NFN_ERR_UNSUPPORTED;

  const int B = weights->B;
  const size_t N = (size_t) rows * cols;
  nfn_status status = NFN_OK;
  int done = 0;
  /* the generic path calls BLAS from every worker: one BLAS thread each */
  int blas_threads = openblas_get_num_threads ();
  openblas_set_num_threads (1);

#pragma omp parallel num_threads (opt->threads) shared (status, done)
  {
    nfn_fit_worker k;
    nfn_status mine = nfn_fit_worker_alloc (&k, arch, rows, cols, fused);
    if (mine != NFN_OK)
      {
#pragma omp critical (nfn_fit_status)
        status = status == NFN_OK ? mine : status;
      }
#pragma omp for schedule (dynamic, 1)
    for (int b = 0; b < B; b++)
      {
        nfn_status current;
#pragma omp critical (nfn_fit_status)
        current = status;
        if (mine != NFN_OK || current != NFN_OK)
          continue;
        mine = nfn_fit_worker_fit (&k, weights, b, images + (size_t) b * N, network_ids[b], opt, psnr);
#pragma omp critical (nfn_fit_status)
        {
          if (mine != NFN_OK)
            status = status == NFN_OK ? mine : status;
          else if (opt->progress)
            opt->progress (++done, B, opt->progress_data);
        }
      }
    nfn_fit_worker_free (&k);
  }
  openblas_set_num_threads (blas_threads);
  return status;
}
