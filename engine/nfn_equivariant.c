/* nfn_equivariant.c — the NP/HNP equivariant linear layer (DESIGN.md §3.2).
 *
 * Shape letters: B batch; for a tensor in its folded view, P0 and P1 the sizes of its permuted
 * axes (1 when absent), R the rows of a fixed axis moved into the channels (HNP's W_L, stored
 * (B, R = n_L, P0 = n_{L-1}, C·f_L); R = 1 for every other tensor); IU = C_in·fold_U and
 * OT = C_out·fold_T the channels of input U and output T; Zw_s and Zw_∅ the columns of the
 * pooled inputs Z_s (B, n_s, Zw_s) and Z_∅ (B, Zw_∅) described in nfn_equivariant.h.
 *
 * Output T with two permuted axes (s0, s1):
 *   Y = X_T·A + bcast_k(Z_s0·M_row) + bcast_j(Z_s1·M_col) + bcast_jk(Z_∅·M_const + Σ biases)
 * one axis s: Y = Z_s·M_full + bcast_j(Z_∅·M_const + Σ biases); no axis: Y = Z_∅·M + bias.
 * Every class bias is constant over T's axes, so forward adds their sum once.
 *
 * The pooling and broadcast passes are single-threaded on purpose: between OpenBLAS (pthreads)
 * calls, an OpenMP region made forward+backward 3.5x slower on 2 cores (OpenBLAS's workers
 * spin after each call and fight OpenMP's workers for the cores); the passes are ~10 % of
 * the single-thread time, the GEMMs the rest.
 */
#include "nfn_equivariant.h"

#include "nfn_gemm.h"
#include <limits.h>
#include <math.h>
#include <string.h>

/* ---- GEMM shorthands (row-major) ---- */

/* C (M×N) = A (M×K)·B (K×N) + beta·C */
static void
eq_gemm_nn (int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
  nfn_gemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

/* C (K×N) += A (M×K)ᵀ·B (M×N): a matrix gradient from inputs and output gradients */
static void
eq_gemm_tn_acc (int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc)
{
  nfn_gemm (CblasRowMajor, CblasTrans, CblasNoTrans, K, N, M, 1.0f, A, lda, B, ldb, 1.0f, C, ldc);
}

/* C (M×K) += A (M×N)·B (K×N)ᵀ: an input gradient from output gradients and the matrix */
static void
eq_gemm_nt_acc (int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc)
{
  nfn_gemm (CblasRowMajor, CblasNoTrans, CblasTrans, M, K, N, 1.0f, A, lda, B, ldb, 1.0f, C, ldc);
}

/* ---- Pooling and broadcasting, each the other's adjoint ---- */

/* Sums x over each permuted axis in one pass:
 *   row[b,j,:] = row_scale·Σ_k x[b,j,k,:]   col[b,k,:] = col_scale·Σ_j x[b,j,k,:]
 *   all[b,:]   = all_scale·Σ_jk x[b,j,k,:]
 * Forward pooling (means) and the adjoint of forward's broadcasts (sums) are this one pass. */
static void
eq_sum_axes (const float *x /* (B, P0, P1, W) */, int B, int P0, int P1, int W,
             float *row /* (B, P0, ·) stride row_stride */, int row_stride, float row_scale,
             float *col /* (B, P1, ·) stride col_stride */, int col_stride, float col_scale,
             float *all /* (B, ·) stride all_stride */, int all_stride, float all_scale)
{
  for (int b = 0; b < B; b++)
    {
      float *all_b = all + (size_t) b * all_stride;
      memset (all_b, 0, (size_t) W * sizeof (float));
      for (int k = 0; k < P1; k++)
        memset (col + ((size_t) b * P1 + k) * col_stride, 0, (size_t) W * sizeof (float));
      for (int j = 0; j < P0; j++)
        {
          float *restrict row_j = row + ((size_t) b * P0 + j) * row_stride;
          memset (row_j, 0, (size_t) W * sizeof (float));
          for (int k = 0; k < P1; k++)
            {
              const float *restrict x_jk = x + (((size_t) b * P0 + j) * P1 + k) * W;
              float *restrict col_k = col + ((size_t) b * P1 + k) * col_stride;
              for (int c = 0; c < W; c++)
                {
                  row_j[c] += x_jk[c];
                  col_k[c] += x_jk[c];
                }
            }
          for (int c = 0; c < W; c++)
            {
              all_b[c] += row_j[c];
              row_j[c] *= row_scale;
            }
        }
      for (int k = 0; k < P1; k++)
        {
          float *col_k = col + ((size_t) b * P1 + k) * col_stride;
          for (int c = 0; c < W; c++)
            col_k[c] *= col_scale;
        }
      for (int c = 0; c < W; c++)
        all_b[c] *= all_scale;
    }
}

/* y[b,j,k,:] (= or +=) row_scale·row[b,j,:] + col_scale·col[b,k,:] + all_scale·all[b,:]
 * Forward's broadcasts of the small classes (written before the big GEMM adds onto them, which
 * spares OpenBLAS its zeroing pass) and the adjoint of forward pooling (accumulated). */
static void
eq_broadcast (float *y /* (B, P0, P1, W) */, int B, int P0, int P1, int W,
              const float *row /* (B, P0, ·) */, int row_stride, float row_scale,
              const float *col /* (B, P1, ·) */, int col_stride, float col_scale,
              const float *all /* (B, ·) */, int all_stride, float all_scale, int accumulate)
{
  for (int b = 0; b < B; b++)
    for (int j = 0; j < P0; j++)
      {
        const float *restrict row_j = row + ((size_t) b * P0 + j) * row_stride;
        const float *restrict all_b = all + (size_t) b * all_stride;
        for (int k = 0; k < P1; k++)
          {
            float *restrict y_jk = y + (((size_t) b * P0 + j) * P1 + k) * W;
            const float *restrict col_k = col + ((size_t) b * P1 + k) * col_stride;
            if (accumulate)
              for (int c = 0; c < W; c++)
                y_jk[c] += row_scale * row_j[c] + col_scale * col_k[c] + all_scale * all_b[c];
            else
              for (int c = 0; c < W; c++)
                y_jk[c] = row_scale * row_j[c] + col_scale * col_k[c] + all_scale * all_b[c];
          }
      }
}

/* dst[b,:] = scale·Σ_j src[b,j,:] */
static void
eq_sum_rows (const float *src /* (B, P, ·) */, int src_stride, int B, int P, int W, float scale,
             float *dst /* (B, ·) */, int dst_stride)
{
  for (int b = 0; b < B; b++)
    {
      float *restrict d = dst + (size_t) b * dst_stride;
      memset (d, 0, (size_t) W * sizeof (float));
      for (int j = 0; j < P; j++)
        {
          const float *restrict s = src + ((size_t) b * P + j) * src_stride;
          for (int c = 0; c < W; c++)
            d[c] += s[c];
        }
      for (int c = 0; c < W; c++)
        d[c] *= scale;
    }
}

/* dst[b,j,:] = src[b,:] */
static void
eq_rows_set (float *dst /* (B, P, W) */, int B, int P, int W, const float *src /* (B, W) */)
{
  for (int b = 0; b < B; b++)
    for (int j = 0; j < P; j++)
      memcpy (dst + ((size_t) b * P + j) * W, src + (size_t) b * W, (size_t) W * sizeof (float));
}

/* ---- Folded views of one-axis and no-axis tensors ----
 * A tensor stored (B, R, P0, W/R) is seen folded as (B, P0, W) with channel r·(W/R) + e;
 * R = 1 is the plain case, R = n_L is HNP's transposed W_L. */

/* dst[b,j, r·(W/R) + e] = x[b,r,j,e], rows of dst at dst_stride */
static void
eq_fold_copy (const float *x /* (B, R, P0, W/R) */, int R, int B, int P0, int W,
              float *dst /* (B, P0, ·) */, int dst_stride)
{
  int chunk = W / R;
  for (int b = 0; b < B; b++)
    for (int r = 0; r < R; r++)
      for (int j = 0; j < P0; j++)
        memcpy (dst + ((size_t) b * P0 + j) * dst_stride + (size_t) r * chunk,
                x + (((size_t) b * R + r) * P0 + j) * chunk, (size_t) chunk * sizeof (float));
}

/* y[b,r,j,e] (= or +=) src[b,j,r·(W/R)+e] + all_scale·all[b,r·(W/R)+e] (all may be NULL).
 * Writing a transposed output back, and the adjoint of eq_fold_copy plus a mean. */
static void
eq_unfold (float *y /* (B, R, P0, W/R) */, int R, int B, int P0, int W,
           const float *src /* (B, P0, ·) */, int src_stride,
           const float *all /* (B, ·) or NULL */, int all_stride, float all_scale, int accumulate)
{
  int chunk = W / R;
  for (int b = 0; b < B; b++)
    for (int r = 0; r < R; r++)
      for (int j = 0; j < P0; j++)
        {
          float *restrict y_rj = y + (((size_t) b * R + r) * P0 + j) * chunk;
          const float *restrict s = src + ((size_t) b * P0 + j) * src_stride + (size_t) r * chunk;
          const float *restrict a = all ? all + (size_t) b * all_stride + (size_t) r * chunk : NULL;
          if (!accumulate)
            memset (y_rj, 0, (size_t) chunk * sizeof (float));
          if (a)
            for (int e = 0; e < chunk; e++)
              y_rj[e] += s[e] + all_scale * a[e];
          else
            for (int e = 0; e < chunk; e++)
              y_rj[e] += s[e];
        }
}

/* ---- Plan ---- */

static int
eq_full_class (const nfn_tensor_view *v)
{
  return (1 << v->n_axes) - 1;
}

/* The stored rows of a fixed axis that the folded view moved into the channels. */
static int
eq_fixed_rows (const nfn_eq_plan *plan, int t)
{
  return plan->views[t].transposed ? plan->space.n[nfn_tensor_layer (t)] : 1;
}

/* The executor shares Z_s and Z_∅ between classes (see nfn_equivariant.h); accept the
 * enumeration only if its terms are laid out exactly as those shared matrices. */
static int
eq_terms_match_shared_layout (const nfn_eq_plan *plan, int t)
{
  const nfn_tensor_view *v = &plan->views[t];
  const nfn_eq_output *o = &plan->out[t];
  for (int c = 0; c <= eq_full_class (v); c++)
    if (!o->class_present[c])
      return 0;
  if (o->class_rows[0] != plan->z_const_width)
    return 0;
  for (int a = 0; a < v->n_axes; a++)
    if (o->class_rows[1 << a] != plan->z_width[v->set[a]])
      return 0;
  if (v->n_axes == 2 && o->class_rows[3] != plan->cin * v->fold)
    return 0;
  for (int e = 0; e < o->n_terms; e++)
    {
      const nfn_eq_term *term = &o->terms[e];
      if (term->keep == 0)
        {
          if (term->in_rows != plan->z_const_offset[term->in_tensor])
            return 0;
        }
      else if (term->keep == 3) /* the full class of a two-axis tensor: itself, as it lies */
        {
          if (term->in_tensor != t || term->in_axis[0] != 0 || term->in_axis[1] != 1 || term->in_rows != 0)
            return 0;
        }
      else
        {
          int a = term->keep == 1 ? 0 : 1;
          if (term->in_rows != plan->z_offset[term->in_tensor][term->in_axis[a]])
            return 0;
        }
    }
  return 1;
}

nfn_status
nfn_eq_plan_init (nfn_eq_plan *plan, const nfn_space *space, nfn_symmetry sym, int cin, int cout)
{
  if (!plan)
    return NFN_ERR_ARG;
  memset (plan, 0, sizeof *plan);
  if (!space || nfn_space_check (space) != NFN_OK || cin < 1 || cout < 1
      || (sym != NFN_SYM_NP && sym != NFN_SYM_HNP))
    return NFN_ERR_ARG;
  plan->space = *space;
  plan->sym = sym;
  plan->cin = cin;
  plan->cout = cout;
  nfn_tensor_views (space, sym, plan->views);
  int n_t = nfn_tensor_count (space);

  /* every GEMM dimension is an int; a channel count beyond that is not a real request */
  long long z_const = 0, z_set[NFN_MAX_LAYERS + 1] = { 0 };
  for (int u = 0; u < n_t; u++)
    {
      const nfn_tensor_view *v = &plan->views[u];
      long long iu = (long long) cin * v->fold;
      if ((long long) cout * v->fold > INT_MAX)
        return NFN_ERR_UNSUPPORTED;
      for (int a = 0; a < v->n_axes; a++)
        {
          plan->z_offset[u][a] = (int) z_set[v->set[a]];
          z_set[v->set[a]] += iu;
          if (z_set[v->set[a]] > INT_MAX)
            return NFN_ERR_UNSUPPORTED;
        }
      plan->z_const_offset[u] = (int) z_const;
      z_const += iu;
      if (z_const > INT_MAX)
        return NFN_ERR_UNSUPPORTED;
    }
  plan->z_const_width = (int) z_const;
  for (int s = 0; s <= space->L; s++)
    plan->z_width[s] = (int) z_set[s];

  /* The basis: every (output T, input U, subset K of the permuted sets both share). */
  size_t offset = 0, weights = 0;
  for (int t = 0; t < n_t; t++)
    {
      const nfn_tensor_view *vt = &plan->views[t];
      nfn_eq_output *o = &plan->out[t];
      for (int u = 0; u < n_t; u++)
        {
          const nfn_tensor_view *vu = &plan->views[u];
          int t_axis[2], u_axis[2], n_shared = 0;
          for (int a = 0; a < vt->n_axes; a++)
            for (int b = 0; b < vu->n_axes; b++)
              if (vt->set[a] == vu->set[b])
                {
                  t_axis[n_shared] = a;
                  u_axis[n_shared] = b;
                  n_shared++;
                }
          for (int subset = 0; subset < (1 << n_shared); subset++)
            {
              if (o->n_terms == NFN_EQ_MAX_TERMS)
                return NFN_ERR_UNSUPPORTED;
              nfn_eq_term *term = &o->terms[o->n_terms++];
              term->in_tensor = u;
              term->keep = 0;
              term->in_axis[0] = term->in_axis[1] = -1;
              for (int e = 0; e < n_shared; e++)
                if (subset >> e & 1)
                  {
                    term->keep |= 1 << t_axis[e];
                    term->in_axis[t_axis[e]] = u_axis[e];
                  }
              term->in_rows = o->class_rows[term->keep];
              o->class_rows[term->keep] += cin * vu->fold;
              o->class_present[term->keep] = 1;
            }
        }
      if (!eq_terms_match_shared_layout (plan, t))
        return NFN_ERR_UNSUPPORTED;

      size_t ot = (size_t) cout * vt->fold;
      for (int c = eq_full_class (vt); c >= 0; c--)
        {
          o->class_weight_offset[c] = offset;
          offset += (size_t) o->class_rows[c] * ot;
          weights += (size_t) o->class_rows[c] * ot;
          o->class_bias_offset[c] = offset;
          offset += ot;
          o->fan_in += o->class_rows[c];
        }
    }
  plan->n_params = offset;
  plan->n_weight_params = weights;
  return NFN_OK;
}

size_t
nfn_eq_param_count (const nfn_eq_plan *plan)
{
  return plan->n_params;
}

void
nfn_eq_init_params (const nfn_eq_plan *plan, float *params, gsl_rng *rng)
{
  for (int t = 0; t < nfn_tensor_count (&plan->space); t++)
    {
      const nfn_eq_output *o = &plan->out[t];
      size_t ot = (size_t) plan->cout * plan->views[t].fold;
      double bound = 1.0 / sqrt ((double) o->fan_in);
      for (int c = eq_full_class (&plan->views[t]); c >= 0; c--)
        {
          float *w = params + o->class_weight_offset[c];
          for (size_t e = 0; e < (size_t) o->class_rows[c] * ot; e++)
            w[e] = (float) ((2.0 * gsl_rng_uniform (rng) - 1.0) * bound);
          float *bias = params + o->class_bias_offset[c];
          for (size_t e = 0; e < ot; e++)
            bias[e] = (float) ((2.0 * gsl_rng_uniform (rng) - 1.0) * bound);
        }
    }
}

/* ---- Scratch ---- */

typedef struct {
  float *z[NFN_MAX_LAYERS + 1];  /* Z_s: (B, n_s, Zw_s) pooled inputs kept along set s */
  float *z_const;                /* Z_∅: (B, Zw_∅) input means */
  float *dz[NFN_MAX_LAYERS + 1]; /* gradients of the above (backward) */
  float *dz_const;
  float *work_row;   /* (B, P0, OT), the largest over T: row class, folded output or dY */
  float *work_col;   /* (B, P1, OT): column class or dY's sums over rows */
  float *work_const; /* (B, OT): constant class, or dY's total */
} eq_scratch;

/* Hands out the regions from base (or only counts them when base is NULL); returns floats. */
static size_t
eq_scratch_layout (const nfn_eq_plan *plan, int B, float *base, eq_scratch *s)
{
  size_t used = 0;
#define EQ_TAKE(ptr, n)                                                                          \
  do                                                                                             \
    {                                                                                            \
      (ptr) = base ? base + used : NULL;                                                         \
      used += nfn_arena_round (n);                                                               \
    }                                                                                            \
  while (0)
  memset (s, 0, sizeof *s);
  for (int set = 0; set <= plan->space.L; set++)
    if (plan->z_width[set])
      {
        EQ_TAKE (s->z[set], (size_t) B * plan->space.n[set] * plan->z_width[set]);
        EQ_TAKE (s->dz[set], (size_t) B * plan->space.n[set] * plan->z_width[set]);
      }
  EQ_TAKE (s->z_const, (size_t) B * plan->z_const_width);
  EQ_TAKE (s->dz_const, (size_t) B * plan->z_const_width);
  size_t row = 0, col = 0, all = 0;
  for (int t = 0; t < nfn_tensor_count (&plan->space); t++)
    {
      const nfn_tensor_view *v = &plan->views[t];
      size_t ot = (size_t) plan->cout * v->fold;
      if (row < (size_t) B * v->size[0] * ot)
        row = (size_t) B * v->size[0] * ot;
      if (col < (size_t) B * v->size[1] * ot)
        col = (size_t) B * v->size[1] * ot;
      if (all < (size_t) B * ot)
        all = (size_t) B * ot;
    }
  EQ_TAKE (s->work_row, row);
  EQ_TAKE (s->work_col, col);
  EQ_TAKE (s->work_const, all);
#undef EQ_TAKE
  return used;
}

size_t
nfn_eq_scratch_size (const nfn_eq_plan *plan, int B)
{
  eq_scratch s;
  return eq_scratch_layout (plan, B, NULL, &s);
}

/* ---- Forward ---- */

static nfn_status
eq_check_feature (const nfn_eq_plan *plan, const nfn_feature *feat, int B, int C)
{
  if (!feat)
    return NFN_ERR_ARG;
  if (feat->B != B || feat->C != C || !nfn_space_equal (&feat->space, &plan->space))
    return NFN_ERR_SHAPE;
  return NFN_OK;
}

static nfn_status
eq_check_batch (const nfn_eq_plan *plan, int B)
{
  if (B < 1)
    return NFN_ERR_ARG;
  for (int t = 0; t < nfn_tensor_count (&plan->space); t++)
    if ((size_t) B * plan->views[t].size[0] * plan->views[t].size[1] > INT_MAX)
      return NFN_ERR_UNSUPPORTED; /* a GEMM's row count is an int */
  return NFN_OK;
}

/* Z_s and Z_∅ from the input: every tensor pooled once, in one pass over it. */
static void
eq_pool_inputs (const nfn_eq_plan *plan, const nfn_feature *in, const eq_scratch *s)
{
  int B = in->B;
  for (int u = 0; u < nfn_tensor_count (&plan->space); u++)
    {
      const nfn_tensor_view *v = &plan->views[u];
      int iu = plan->cin * v->fold, P0 = v->size[0], P1 = v->size[1];
      float *z_const = s->z_const + plan->z_const_offset[u];
      int zc = plan->z_const_width;
      if (v->n_axes == 2)
        {
          int w0 = plan->z_width[v->set[0]], w1 = plan->z_width[v->set[1]];
          eq_sum_axes (in->t[u], B, P0, P1, iu,
                       s->z[v->set[0]] + plan->z_offset[u][0], w0, 1.0f / P1,
                       s->z[v->set[1]] + plan->z_offset[u][1], w1, 1.0f / P0,
                       z_const, zc, 1.0f / ((float) P0 * P1));
        }
      else if (v->n_axes == 1)
        {
          int w = plan->z_width[v->set[0]];
          float *z = s->z[v->set[0]] + plan->z_offset[u][0];
          eq_fold_copy (in->t[u], eq_fixed_rows (plan, u), B, P0, iu, z, w);
          eq_sum_rows (z, w, B, P0, iu, 1.0f / P0, z_const, zc);
        }
      else
        eq_fold_copy (in->t[u], 1, B, 1, iu, z_const, zc);
    }
}

nfn_status
nfn_eq_forward (const nfn_eq_plan *plan, const float *params, const nfn_feature *in,
                nfn_feature *out, float *scratch)
{
  nfn_status st;
  if (!plan || !params || !in || !scratch)
    return NFN_ERR_ARG;
  int B = in->B;
  if ((st = eq_check_batch (plan, B)) != NFN_OK || (st = eq_check_feature (plan, in, B, plan->cin)) != NFN_OK
      || (st = eq_check_feature (plan, out, B, plan->cout)) != NFN_OK)
    return st;
  if (out->data == in->data) /* out is written before the big GEMM reads in */
    return NFN_ERR_ARG;
  eq_scratch s;
  eq_scratch_layout (plan, B, scratch, &s);
  eq_pool_inputs (plan, in, &s);

  int zc = plan->z_const_width;
  for (int t = 0; t < nfn_tensor_count (&plan->space); t++)
    {
      const nfn_tensor_view *v = &plan->views[t];
      const nfn_eq_output *o = &plan->out[t];
      int ot = plan->cout * v->fold, it = plan->cin * v->fold, P0 = v->size[0], P1 = v->size[1];

      /* constant class + every class bias; for a tensor without permuted axes, the output */
      float *g_const = v->n_axes == 0 ? out->t[t] : s.work_const;
      memset (g_const, 0, (size_t) ot * sizeof (float));
      for (int c = eq_full_class (v); c >= 0; c--)
        for (int e = 0; e < ot; e++)
          g_const[e] += params[o->class_bias_offset[c] + e];
      for (int b = 1; b < B; b++)
        memcpy (g_const + (size_t) b * ot, g_const, (size_t) ot * sizeof (float));
      eq_gemm_nn (B, ot, zc, s.z_const, zc, params + o->class_weight_offset[0], ot, 1.0f, g_const, ot);

      if (v->n_axes == 2)
        {
          float *y = out->t[t];
          int w0 = plan->z_width[v->set[0]], w1 = plan->z_width[v->set[1]];
          eq_gemm_nn (B * P0, ot, w0, s.z[v->set[0]], w0, params + o->class_weight_offset[1], ot, 0.0f,
                      s.work_row, ot);
          eq_gemm_nn (B * P1, ot, w1, s.z[v->set[1]], w1, params + o->class_weight_offset[2], ot, 0.0f,
                      s.work_col, ot);
          eq_broadcast (y, B, P0, P1, ot, s.work_row, ot, 1.0f, s.work_col, ot, 1.0f, g_const, ot, 1.0f, 0);
          eq_gemm_nn (B * P0 * P1, ot, it, in->t[t], it, params + o->class_weight_offset[3], ot, 1.0f, y, ot);
        }
      else if (v->n_axes == 1)
        {
          int w = plan->z_width[v->set[0]];
          float *y_folded = v->transposed ? s.work_row : out->t[t];
          eq_rows_set (y_folded, B, P0, ot, g_const);
          eq_gemm_nn (B * P0, ot, w, s.z[v->set[0]], w, params + o->class_weight_offset[1], ot, 1.0f, y_folded, ot);
          if (v->transposed)
            eq_unfold (out->t[t], eq_fixed_rows (plan, t), B, P0, ot, y_folded, ot, NULL, 0, 0.0f, 0);
        }
    }
  return NFN_OK;
}

/* ---- Backward ---- */

/* One class's GEMM backward: dM += Zᵀ·dG and dZ += dG·Mᵀ (each skipped when its target is NULL). */
static void
eq_class_backward (const nfn_eq_output *o, int cls, int ot, const float *params, float *dparams,
                   const float *z /* (rows, zw) */, float *dz /* (rows, zw) or NULL */, int zw, int rows,
                   const float *dg /* (rows, ot) */)
{
  if (dparams)
    eq_gemm_tn_acc (rows, ot, zw, z, zw, dg, ot, dparams + o->class_weight_offset[cls], ot);
  if (dz)
    eq_gemm_nt_acc (rows, ot, zw, dg, ot, params + o->class_weight_offset[cls], ot, dz, zw);
}

nfn_status
nfn_eq_backward (const nfn_eq_plan *plan, const float *params, const nfn_feature *in,
                 const nfn_feature *dout, nfn_feature *din, float *dparams, float *scratch)
{
  nfn_status st;
  if (!plan || !params || !in || !dout || !scratch)
    return NFN_ERR_ARG;
  int B = in->B;
  if ((st = eq_check_batch (plan, B)) != NFN_OK || (st = eq_check_feature (plan, in, B, plan->cin)) != NFN_OK
      || (st = eq_check_feature (plan, dout, B, plan->cout)) != NFN_OK
      || (din && (st = eq_check_feature (plan, din, B, plan->cin)) != NFN_OK))
    return st;
  if (din && (din->data == dout->data || din->data == in->data))
    return NFN_ERR_ARG;
  if (!din && !dparams)
    return NFN_OK;
  eq_scratch s;
  eq_scratch_layout (plan, B, scratch, &s);
  if (dparams)
    eq_pool_inputs (plan, in, &s);
  if (din)
    {
      for (int set = 0; set <= plan->space.L; set++)
        if (s.dz[set])
          memset (s.dz[set], 0, (size_t) B * plan->space.n[set] * plan->z_width[set] * sizeof (float));
      memset (s.dz_const, 0, (size_t) B * plan->z_const_width * sizeof (float));
    }

  int zc = plan->z_const_width;
  for (int t = 0; t < nfn_tensor_count (&plan->space); t++)
    {
      const nfn_tensor_view *v = &plan->views[t];
      const nfn_eq_output *o = &plan->out[t];
      int ot = plan->cout * v->fold, it = plan->cin * v->fold, P0 = v->size[0], P1 = v->size[1];
      const float *dy = dout->t[t];
      const float *dy_const; /* (B, ot): dY summed over T's axes */

      if (v->n_axes == 2)
        {
          int rows = B * P0 * P1, w0 = plan->z_width[v->set[0]], w1 = plan->z_width[v->set[1]];
          if (dparams)
            eq_gemm_tn_acc (rows, ot, it, in->t[t], it, dy, ot, dparams + o->class_weight_offset[3], ot);
          if (din)
            eq_gemm_nt_acc (rows, ot, it, dy, ot, params + o->class_weight_offset[3], ot, din->t[t], it);
          eq_sum_axes (dy, B, P0, P1, ot, s.work_row, ot, 1.0f, s.work_col, ot, 1.0f, s.work_const, ot, 1.0f);
          eq_class_backward (o, 1, ot, params, dparams, s.z[v->set[0]], din ? s.dz[v->set[0]] : NULL, w0,
                             B * P0, s.work_row);
          eq_class_backward (o, 2, ot, params, dparams, s.z[v->set[1]], din ? s.dz[v->set[1]] : NULL, w1,
                             B * P1, s.work_col);
          dy_const = s.work_const;
        }
      else if (v->n_axes == 1)
        {
          int w = plan->z_width[v->set[0]];
          const float *dy_folded = dy;
          if (v->transposed)
            {
              eq_fold_copy (dy, eq_fixed_rows (plan, t), B, P0, ot, s.work_row, ot);
              dy_folded = s.work_row;
            }
          eq_class_backward (o, 1, ot, params, dparams, s.z[v->set[0]], din ? s.dz[v->set[0]] : NULL, w,
                             B * P0, dy_folded);
          eq_sum_rows (dy_folded, ot, B, P0, ot, 1.0f, s.work_const, ot);
          dy_const = s.work_const;
        }
      else
        dy_const = dy;

      eq_class_backward (o, 0, ot, params, dparams, s.z_const, din ? s.dz_const : NULL, zc, B, dy_const);
      if (dparams) /* every class bias is added everywhere: each gets dY's total */
        for (int c = eq_full_class (v); c >= 0; c--)
          {
            float *dbias = dparams + o->class_bias_offset[c];
            for (int b = 0; b < B; b++)
              for (int e = 0; e < ot; e++)
                dbias[e] += dy_const[(size_t) b * ot + e];
          }
    }

  if (din) /* pooling's adjoint: divide by the count, broadcast back over the pooled axes */
    for (int u = 0; u < nfn_tensor_count (&plan->space); u++)
      {
        const nfn_tensor_view *v = &plan->views[u];
        int iu = plan->cin * v->fold, P0 = v->size[0], P1 = v->size[1];
        const float *dz_const = s.dz_const + plan->z_const_offset[u];
        if (v->n_axes == 2)
          eq_broadcast (din->t[u], B, P0, P1, iu,
                        s.dz[v->set[0]] + plan->z_offset[u][0], plan->z_width[v->set[0]], 1.0f / P1,
                        s.dz[v->set[1]] + plan->z_offset[u][1], plan->z_width[v->set[1]], 1.0f / P0,
                        dz_const, zc, 1.0f / ((float) P0 * P1), 1);
        else if (v->n_axes == 1)
          eq_unfold (din->t[u], eq_fixed_rows (plan, u), B, P0, iu, s.dz[v->set[0]] + plan->z_offset[u][0],
                     plan->z_width[v->set[0]], dz_const, zc, 1.0f / P0, 1);
        else
          eq_unfold (din->t[u], 1, B, 1, iu, dz_const, zc, NULL, 0, 0.0f, 1);
      }
  return NFN_OK;
}

double
nfn_eq_forward_flops (const nfn_eq_plan *plan, int B)
{
  double flops = 0;
  for (int t = 0; t < nfn_tensor_count (&plan->space); t++)
    {
      const nfn_tensor_view *v = &plan->views[t];
      double ot = (double) plan->cout * v->fold, it = (double) plan->cin * v->fold;
      double P0 = v->size[0], P1 = v->size[1];
      double madds = plan->z_const_width; /* constant class, per network and output channel */
      if (v->n_axes == 2)
        madds += P0 * P1 * it + P0 * plan->z_width[v->set[0]] + P1 * plan->z_width[v->set[1]];
      else if (v->n_axes == 1)
        madds += P0 * plan->z_width[v->set[0]];
      flops += 2.0 * B * madds * ot;
    }
  return flops;
}
