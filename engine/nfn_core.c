/* nfn_core.c — weight-space shapes, features, symmetry views, arena, threads. */
#include "nfn_core.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

const char *
nfn_status_message (nfn_status status)
{
  switch (status)
    {
    case NFN_OK: return "ok";
    case NFN_ERR_NOMEM: return "out of memory";
    case NFN_ERR_ARG: return "invalid argument";
    case NFN_ERR_SHAPE: return "shapes disagree";
    case NFN_ERR_NONFINITE: return "non-finite value (NaN or Inf)";
    case NFN_ERR_CANCELLED: return "cancelled";
    case NFN_ERR_UNSUPPORTED: return "unsupported";
    case NFN_ERR_NOT_CONVERGED: return "did not converge";
    }
  return "unknown status";
}

nfn_status
nfn_space_init (nfn_space *space, int L, const int *widths)
{
  memset (space, 0, sizeof *space);
  if (L < 1 || L > NFN_MAX_LAYERS)
    return NFN_ERR_ARG;
  space->L = L;
  for (int i = 0; i <= L; i++)
    {
      space->n[i] = widths[i];
      space->f[i] = 1;
    }
  return nfn_space_check (space);
}

nfn_status
nfn_space_check (const nfn_space *space)
{
  if (space->L < 1 || space->L > NFN_MAX_LAYERS)
    return NFN_ERR_ARG;
  for (int i = 0; i <= space->L; i++)
    if (space->n[i] < 1 || space->f[i] < 1)
      return NFN_ERR_ARG;
  return NFN_OK;
}

int
nfn_space_equal (const nfn_space *a, const nfn_space *b)
{
  if (a->L != b->L)
    return 0;
  for (int i = 0; i <= a->L; i++)
    if (a->n[i] != b->n[i] || (i > 0 && a->f[i] != b->f[i]))
      return 0;
  return 1;
}

size_t
nfn_tensor_entries (const nfn_space *s, int t)
{
  int i = nfn_tensor_layer (t);
  if (nfn_tensor_is_bias (t))
    return (size_t) s->n[i];
  return (size_t) s->n[i] * (size_t) s->n[i - 1] * (size_t) s->f[i];
}

size_t
nfn_space_param_count (const nfn_space *space)
{
  size_t total = 0;
  for (int t = 0; t < nfn_tensor_count (space); t++)
    total += nfn_tensor_entries (space, t);
  return total;
}

size_t
nfn_feature_size (const nfn_space *space, int B, int C)
{
  size_t total = 0;
  for (int t = 0; t < nfn_tensor_count (space); t++)
    total += nfn_arena_round ((size_t) B * (size_t) C * nfn_tensor_entries (space, t));
  return total;
}

void
nfn_feature_wrap (nfn_feature *feat, const nfn_space *space, int B, int C, float *data)
{
  memset (feat, 0, sizeof *feat);
  feat->space = *space;
  feat->B = B;
  feat->C = C;
  feat->data = data;
  feat->size = nfn_feature_size (space, B, C);
  size_t offset = 0;
  for (int t = 0; t < nfn_tensor_count (space); t++)
    {
      feat->t[t] = data + offset;
      offset += nfn_arena_round ((size_t) B * (size_t) C * nfn_tensor_entries (space, t));
    }
}

nfn_status
nfn_feature_alloc (nfn_feature *feat, const nfn_space *space, int B, int C)
{
  memset (feat, 0, sizeof *feat);
  if (nfn_space_check (space) != NFN_OK || B < 1 || C < 1)
    return NFN_ERR_ARG;
  size_t size = nfn_feature_size (space, B, C);
  float *data = aligned_alloc (64, nfn_arena_round (size) * sizeof (float));
  if (!data)
    return NFN_ERR_NOMEM;
  memset (data, 0, nfn_arena_round (size) * sizeof (float));
  nfn_feature_wrap (feat, space, B, C, data);
  feat->owns_data = 1;
  return NFN_OK;
}

void
nfn_feature_free (nfn_feature *feat)
{
  if (feat->owns_data)
    free (feat->data);
  memset (feat, 0, sizeof *feat);
}

int
nfn_feature_same_shape (const nfn_feature *a, const nfn_feature *b)
{
  return a->B == b->B && a->C == b->C && nfn_space_equal (&a->space, &b->space);
}

void
nfn_feature_get_network (const nfn_feature *feat, int net, nfn_feature *dst)
{
  for (int t = 0; t < nfn_tensor_count (&feat->space); t++)
    {
      size_t per = (size_t) feat->C * nfn_tensor_entries (&feat->space, t);
      memcpy (dst->t[t], feat->t[t] + (size_t) net * per, per * sizeof (float));
    }
}

void
nfn_feature_set_network (nfn_feature *feat, int net, const nfn_feature *src)
{
  for (int t = 0; t < nfn_tensor_count (&feat->space); t++)
    {
      size_t per = (size_t) feat->C * nfn_tensor_entries (&feat->space, t);
      memcpy (feat->t[t] + (size_t) net * per, src->t[t], per * sizeof (float));
    }
}

double
nfn_feature_max_abs_diff (const nfn_feature *a, const nfn_feature *b)
{
  double worst = 0;
  for (int t = 0; t < nfn_tensor_count (&a->space); t++)
    {
      size_t count = (size_t) a->B * a->C * nfn_tensor_entries (&a->space, t);
      for (size_t e = 0; e < count; e++)
        {
          double d = fabs ((double) a->t[t][e] - (double) b->t[t][e]);
          if (!(d <= worst))
            worst = d; /* also propagates NaN */
        }
    }
  return worst;
}

double
nfn_feature_max_abs (const nfn_feature *a)
{
  double worst = 0;
  for (int t = 0; t < nfn_tensor_count (&a->space); t++)
    {
      size_t count = (size_t) a->B * a->C * nfn_tensor_entries (&a->space, t);
      for (size_t e = 0; e < count; e++)
        {
          double v = fabs ((double) a->t[t][e]);
          if (!(v <= worst))
            worst = v;
        }
    }
  return worst;
}

nfn_status
nfn_feature_check_finite (const nfn_feature *feat)
{
  for (int t = 0; t < nfn_tensor_count (&feat->space); t++)
    {
      size_t count = (size_t) feat->B * feat->C * nfn_tensor_entries (&feat->space, t);
      for (size_t e = 0; e < count; e++)
        if (!isfinite (feat->t[t][e]))
          return NFN_ERR_NONFINITE;
    }
  return NFN_OK;
}

void
nfn_stats_compute (const float *x, size_t n, nfn_stats *out)
{
  memset (out, 0, sizeof *out);
  out->count = n;
  double sum = 0, sum2 = 0, lo = INFINITY, hi = -INFINITY;
  size_t finite = 0;
  for (size_t i = 0; i < n; i++)
    {
      double v = x[i];
      if (!isfinite (v))
        {
          out->nonfinite++;
          continue;
        }
      finite++;
      sum += v;
      lo = v < lo ? v : lo;
      hi = v > hi ? v : hi;
    }
  if (finite == 0)
    return;
  double mean = sum / (double) finite;
  for (size_t i = 0; i < n; i++)
    if (isfinite (x[i]))
      sum2 += ((double) x[i] - mean) * ((double) x[i] - mean);
  out->mean = mean;
  out->std = sqrt (sum2 / (double) finite);
  out->min = lo;
  out->max = hi;
}

const char *
nfn_symmetry_name (nfn_symmetry sym)
{
  return sym == NFN_SYM_HNP ? "hnp" : "np";
}

int
nfn_symmetry_permutes (const nfn_space *s, nfn_symmetry sym, int set)
{
  if (set < 0 || set > s->L)
    return 0;
  return sym == NFN_SYM_NP || (set > 0 && set < s->L);
}

void
nfn_tensor_views (const nfn_space *s, nfn_symmetry sym, nfn_tensor_view views[NFN_MAX_TENSORS])
{
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      nfn_tensor_view *v = &views[t];
      int i = nfn_tensor_layer (t);
      /* the tensor's axes, outer first: W_i is (set i, set i-1), b_i is (set i) */
      int sets[2] = { i, i - 1 };
      int axes = nfn_tensor_is_bias (t) ? 1 : 2;
      memset (v, 0, sizeof *v);
      v->size[0] = v->size[1] = 1;
      v->fold = nfn_tensor_is_bias (t) ? 1 : s->f[i];
      for (int a = 0; a < axes; a++)
        {
          if (nfn_symmetry_permutes (s, sym, sets[a]))
            {
              v->set[v->n_axes] = sets[a];
              v->size[v->n_axes] = s->n[sets[a]];
              v->n_axes++;
            }
          else
            {
              v->fold *= s->n[sets[a]];
              /* a fixed outer axis in front of a permuted inner one must move behind it */
              if (a == 0 && axes == 2 && nfn_symmetry_permutes (s, sym, sets[1]))
                v->transposed = 1;
            }
        }
    }
}

nfn_status
nfn_arena_alloc (nfn_arena *arena, size_t floats)
{
  memset (arena, 0, sizeof *arena);
  size_t cap = nfn_arena_round (floats ? floats : 1);
  arena->base = aligned_alloc (64, cap * sizeof (float));
  if (!arena->base)
    return NFN_ERR_NOMEM;
  memset (arena->base, 0, cap * sizeof (float));
  arena->capacity = cap;
  return NFN_OK;
}

float *
nfn_arena_take (nfn_arena *arena, size_t n)
{
  size_t need = nfn_arena_round (n);
  if (arena->used + need > arena->capacity)
    return NULL;
  float *p = arena->base + arena->used;
  arena->used += need;
  return p;
}

void
nfn_arena_zero (nfn_arena *arena)
{
  if (arena->base)
    memset (arena->base, 0, arena->capacity * sizeof (float));
}

void
nfn_arena_free (nfn_arena *arena)
{
  free (arena->base);
  memset (arena, 0, sizeof *arena);
}

static int nfn_threads = 1;

void
nfn_set_threads (int n)
{
  if (n < 1)
    n = 1;
  nfn_threads = n;
  openblas_set_num_threads (n);
#ifdef _OPENMP
  omp_set_num_threads (n);
#endif
}

int
nfn_get_threads (void)
{
  return nfn_threads;
}
