/* nfn_perm.c — neuron permutations: sample, apply, invert, compose, canonicalise, align.
 *
 * Shape letters: B networks, C channels, L layers, n_i width of neuron set i, f_i kernel
 * positions of layer i. Features are channels-last: W_i (B, n_i, n_{i-1}, C·f_i), b_i (B, n_i, C).
 * σ_i(j) is the position neuron j of set i moves to (see nfn_perm.h).
 */
#include "nfn_perm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
/* GSL's BLAS wrapper, not <cblas.h>: gsl_randist.h pulls in gsl_cblas.h, whose declarations
 * clash with OpenBLAS's header; the call still lands in OpenBLAS (see meson.build). */
#include <gsl/gsl_blas.h>
#include <gsl/gsl_randist.h>

/* ---- the group ---- */

nfn_status
nfn_perm_alloc (nfn_perm *perm, const nfn_space *space)
{
  memset (perm, 0, sizeof *perm);
  nfn_status st = nfn_space_check (space);
  if (st != NFN_OK)
    return st;
  size_t total = 0;
  for (int i = 0; i <= space->L; i++)
    total += (size_t) space->n[i];
  perm->data = malloc (total * sizeof *perm->data);
  if (!perm->data)
    return NFN_ERR_NOMEM;
  perm->space = *space;
  size_t offset = 0;
  for (int i = 0; i <= space->L; i++)
    {
      perm->p[i] = perm->data + offset;
      offset += (size_t) space->n[i];
    }
  nfn_perm_identity (perm);
  return NFN_OK;
}

void
nfn_perm_free (nfn_perm *perm)
{
  free (perm->data);
  memset (perm, 0, sizeof *perm);
}

void
nfn_perm_identity (nfn_perm *perm)
{
  for (int i = 0; i <= perm->space.L; i++)
    for (int j = 0; j < perm->space.n[i]; j++)
      perm->p[i][j] = j;
}

int
nfn_perm_is_identity (const nfn_perm *perm)
{
  for (int i = 0; i <= perm->space.L; i++)
    for (int j = 0; j < perm->space.n[i]; j++)
      if (perm->p[i][j] != j)
        return 0;
  return 1;
}

void
nfn_perm_random (nfn_perm *perm, nfn_symmetry sym, gsl_rng *rng)
{
  nfn_perm_identity (perm);
  for (int i = 0; i <= perm->space.L; i++)
    if (nfn_symmetry_permutes (&perm->space, sym, i))
      gsl_ran_shuffle (rng, perm->p[i], (size_t) perm->space.n[i], sizeof (int));
}

void
nfn_perm_inverse (const nfn_perm *src, nfn_perm *dst)
{
  for (int i = 0; i <= src->space.L; i++)
    for (int j = 0; j < src->space.n[i]; j++)
      dst->p[i][src->p[i][j]] = j;
}

void
nfn_perm_compose (const nfn_perm *a, const nfn_perm *b, nfn_perm *dst)
{
  for (int i = 0; i <= a->space.L; i++)
    for (int j = 0; j < a->space.n[i]; j++)
      dst->p[i][j] = a->p[i][b->p[i][j]];
}

nfn_status
nfn_perm_apply (const nfn_perm *perm, const nfn_feature *in, nfn_feature *out)
{
  if (!nfn_space_equal (&perm->space, &in->space) || !nfn_feature_same_shape (in, out))
    return NFN_ERR_SHAPE;
  if (in->data == out->data)
    return NFN_ERR_ARG;
  const nfn_space *s = &in->space;
  const int B = in->B, C = in->C;
  for (int i = 1; i <= s->L; i++)
    {
      const int rows = s->n[i], cols = s->n[i - 1];
      const size_t run = (size_t) C * (size_t) s->f[i]; /* a kernel moves with its channel */
      const int *row_to = perm->p[i], *col_to = perm->p[i - 1];
      const float *w_in = in->t[nfn_tensor_weight (i)];   /* (B, n_i, n_{i-1}, C·f_i) */
      float *w_out = out->t[nfn_tensor_weight (i)];       /* (B, n_i, n_{i-1}, C·f_i) */
      const float *b_in = in->t[nfn_tensor_bias (i)];     /* (B, n_i, C) */
      float *b_out = out->t[nfn_tensor_bias (i)];         /* (B, n_i, C) */
      for (int b = 0; b < B; b++)
        {
          const size_t w_net = (size_t) b * rows * cols * run;
          for (int j = 0; j < rows; j++)
            for (int k = 0; k < cols; k++)
              memcpy (w_out + w_net + ((size_t) row_to[j] * cols + col_to[k]) * run,
                      w_in + w_net + ((size_t) j * cols + k) * run, run * sizeof (float));
          const size_t b_net = (size_t) b * rows * C;
          for (int j = 0; j < rows; j++)
            memcpy (b_out + b_net + (size_t) row_to[j] * C, b_in + b_net + (size_t) j * C,
                    (size_t) C * sizeof (float));
        }
    }
  return NFN_OK;
}


/* ---- canonical form ---- */

/* One hidden neuron of the layer being sorted. Its key is read from weights whose earlier sets
 * are already canonical, so every sum runs in the same order for W and σ·W and the keys of the
 * two compare bit for bit; near-ties in the norm then cannot sort differently. */
typedef struct {
  double norm2;          /* ‖W_i[j,:]‖² + b_i[j]², summed in canonical column order */
  float bias;            /* b_i[j] */
  const float *row;      /* (n_{i-1}·f_i) incoming row, columns canonical */
  const float *outgoing; /* (n_{i+1}·f_{i+1}) outgoing column, see perm_canonical_outgoing */
  int row_len, outgoing_len;
  int neuron;
} perm_canonical_key;

static int
perm_compare_floats_descending (const float *x, const float *y, int n)
{
  for (int e = 0; e < n; e++)
    if (x[e] != y[e])
      return x[e] > y[e] ? -1 : 1;
  return 0;
}

static int
perm_compare_float_descending (const void *x, const void *y)
{
  float a = *(const float *) x, b = *(const float *) y;
  return (a < b) - (a > b);
}

static int
perm_compare_canonical_keys (const void *x, const void *y)
{
  const perm_canonical_key *a = x, *b = y;
  if (a->norm2 != b->norm2)
    return a->norm2 > b->norm2 ? -1 : 1;
  if (a->bias != b->bias)
    return a->bias > b->bias ? -1 : 1;
  int by_row = perm_compare_floats_descending (a->row, b->row, a->row_len);
  if (by_row)
    return by_row;
  /* Neurons equal in all the documented key see the same inputs; only where they send their
   * output can still tell them apart. */
  int by_outgoing = perm_compare_floats_descending (a->outgoing, b->outgoing, a->outgoing_len);
  if (by_outgoing)
    return by_outgoing;
  return (a->neuron > b->neuron) - (a->neuron < b->neuron); /* identical neurons: any order */
}

/* Outgoing column W_{i+1}[:, j, :] of every neuron j of set i into out (n_i, n_{i+1}·f_{i+1}).
 * Set i+1 is not canonical yet, so unless it is the fixed output set its values are sorted:
 * a multiset does not depend on the order of set i+1. */
static void
perm_canonical_outgoing (const nfn_feature *w, int i, float *out)
{
  const nfn_space *s = &w->space;
  const int rows = s->n[i + 1], cols = s->n[i], f = s->f[i + 1], len = rows * f;
  const float *next = w->t[nfn_tensor_weight (i + 1)]; /* (n_{i+1}, n_i, f_{i+1}) */
  for (int j = 0; j < cols; j++)
    {
      float *column = out + (size_t) j * len;
      for (int m = 0; m < rows; m++)
        memcpy (column + (size_t) m * f, next + ((size_t) m * cols + j) * f, (size_t) f * sizeof (float));
      if (i + 1 < s->L)
        qsort (column, (size_t) len, sizeof (float), perm_compare_float_descending);
    }
}

nfn_status
nfn_perm_canonical (const nfn_feature *weights, nfn_perm *to_canonical)
{
  const nfn_space *s = &weights->space;
  if (weights->B != 1 || weights->C != 1 || !nfn_space_equal (s, &to_canonical->space))
    return NFN_ERR_SHAPE;
  nfn_status st = nfn_feature_check_finite (weights);
  if (st != NFN_OK)
    return st;
  nfn_perm_identity (to_canonical);
  if (s->L < 2)
    return NFN_OK;

  int widest = 0;
  size_t outgoing_floats = 0;
  for (int i = 1; i < s->L; i++)
    {
      if (s->n[i] > widest)
        widest = s->n[i];
      size_t need = (size_t) s->n[i] * s->n[i + 1] * s->f[i + 1];
      if (need > outgoing_floats)
        outgoing_floats = need;
    }
  nfn_feature partial; /* weights with sets 0 … i-1 already canonical */
  st = nfn_feature_alloc (&partial, s, 1, 1);
  if (st != NFN_OK)
    return st;
  perm_canonical_key *keys = malloc ((size_t) widest * sizeof *keys);
  float *outgoing = malloc (outgoing_floats * sizeof *outgoing);
  if (!keys || !outgoing)
    {
      free (keys);
      free (outgoing);
      nfn_feature_free (&partial);
      return NFN_ERR_NOMEM;
    }

  memcpy (partial.data, weights->data, weights->size * sizeof (float));
  for (int i = 1; i < s->L; i++)
    {
      const int n = s->n[i], row_len = s->n[i - 1] * s->f[i], outgoing_len = s->n[i + 1] * s->f[i + 1];
      const float *w = partial.t[nfn_tensor_weight (i)]; /* (n_i, n_{i-1}·f_i) */
      const float *bias = partial.t[nfn_tensor_bias (i)]; /* (n_i) */
      perm_canonical_outgoing (&partial, i, outgoing);
      for (int j = 0; j < n; j++)
        {
          const float *row = w + (size_t) j * row_len;
          double norm2 = (double) bias[j] * bias[j];
          for (int e = 0; e < row_len; e++)
            norm2 += (double) row[e] * row[e];
          keys[j] = (perm_canonical_key) { norm2, bias[j], row, outgoing + (size_t) j * outgoing_len,
                                           row_len, outgoing_len, j };
        }
      qsort (keys, (size_t) n, sizeof *keys, perm_compare_canonical_keys);
      /* neuron j of `partial` is still neuron j of the input: sets ≥ i were never moved */
      for (int position = 0; position < n; position++)
        to_canonical->p[i][keys[position].neuron] = position;
      nfn_perm_apply (to_canonical, weights, &partial);
    }
  free (keys);
  free (outgoing);
  nfn_feature_free (&partial);
  return NFN_OK;
}

/* ---- linear assignment ---- */

/* Hungarian method with row and column potentials (the shortest augmenting path form that
 * Jonker–Volgenant refine): rows enter one at a time and each entry grows a Dijkstra tree over
 * reduced costs until it reaches a free column. O(n²) per row, O(n³) in all, exact in double.
 * Internally minimises cost = -score; arrays are 1-based with column 0 a virtual start. */
nfn_status
nfn_linear_assignment (int n, const double *score, int *assign)
{
  if (n < 0 || (n > 0 && (!score || !assign)))
    return NFN_ERR_ARG;
  for (size_t e = 0; e < (size_t) n * (size_t) n; e++)
    if (!isfinite (score[e]))
      return NFN_ERR_NONFINITE;
  if (n == 0)
    return NFN_OK;

  const size_t m = (size_t) n + 1;
  double *row_potential = calloc (m, sizeof (double));
  double *column_potential = calloc (m, sizeof (double));
  double *slack = malloc (m * sizeof (double)); /* least reduced cost reaching each column */
  int *row_of_column = calloc (m, sizeof (int)); /* 0 = free */
  int *previous_column = malloc (m * sizeof (int));
  char *in_tree = malloc (m);
  if (!row_potential || !column_potential || !slack || !row_of_column || !previous_column || !in_tree)
    {
      free (row_potential), free (column_potential), free (slack);
      free (row_of_column), free (previous_column), free (in_tree);
      return NFN_ERR_NOMEM;
    }

  for (int row = 1; row <= n; row++)
    {
      row_of_column[0] = row;
      int column = 0;
      for (size_t j = 0; j < m; j++)
        slack[j] = INFINITY, in_tree[j] = 0;
      do
        {
          in_tree[column] = 1;
          const int tree_row = row_of_column[column];
          const double *scores = score + (size_t) (tree_row - 1) * n;
          double delta = INFINITY;
          int next_column = 0;
          for (int j = 1; j <= n; j++)
            if (!in_tree[j])
              {
                double reduced = -scores[j - 1] - row_potential[tree_row] - column_potential[j];
                if (reduced < slack[j])
                  slack[j] = reduced, previous_column[j] = column;
                if (slack[j] < delta)
                  delta = slack[j], next_column = j;
              }
          /* keep reduced costs ≥ 0 and tight along the tree while it grows by delta */
          for (size_t j = 0; j < m; j++)
            if (in_tree[j])
              row_potential[row_of_column[j]] += delta, column_potential[j] -= delta;
            else
              slack[j] -= delta;
          column = next_column;
        }
      while (row_of_column[column] != 0);
      /* augment: shift rows one step back along the path to the free column */
      while (column != 0)
        {
          int before = previous_column[column];
          row_of_column[column] = row_of_column[before];
          column = before;
        }
    }
  for (int j = 1; j <= n; j++)
    assign[row_of_column[j] - 1] = j - 1;

  free (row_potential), free (column_potential), free (slack);
  free (row_of_column), free (previous_column), free (in_tree);
  return NFN_OK;
}

/* ---- weight matching ---- */

/* Every neuron of hidden set i as one vector: incoming row, bias, outgoing column (f positions
 * included), into out (n_i, D), D = n_{i-1}·f_i + 1 + n_{i+1}·f_{i+1}. With `perm` the
 * neighbouring sets are read through it: the entry that B's neuron k of set i±1 is compared
 * with is A's neuron σ_{i±1}(k), and a neighbour whose matched[] is 0 contributes zeros.
 * With perm NULL they are read in stored order. */
static void
perm_align_neuron_vectors (const nfn_feature *w, int i, const nfn_perm *perm, const char *matched,
                           double *out)
{
  const nfn_space *s = &w->space;
  const int n = s->n[i], before = s->n[i - 1], f_in = s->f[i], after = s->n[i + 1], f_out = s->f[i + 1];
  const int in_len = before * f_in, dim = in_len + 1 + after * f_out;
  const float *incoming = w->t[nfn_tensor_weight (i)];     /* (n_i, n_{i-1}, f_i) */
  const float *bias = w->t[nfn_tensor_bias (i)];           /* (n_i) */
  const float *outgoing = w->t[nfn_tensor_weight (i + 1)]; /* (n_{i+1}, n_i, f_{i+1}) */
  for (int j = 0; j < n; j++)
    {
      double *v = out + (size_t) j * dim;
      for (int k = 0; k < before; k++)
        {
          int source = perm ? perm->p[i - 1][k] : k;
          for (int q = 0; q < f_in; q++)
            v[k * f_in + q] = matched && !matched[i - 1] ? 0.0 : incoming[((size_t) j * before + source) * f_in + q];
        }
      v[in_len] = bias[j];
      for (int r = 0; r < after; r++)
        {
          int source = perm ? perm->p[i + 1][r] : r;
          for (int q = 0; q < f_out; q++)
            v[in_len + 1 + r * f_out + q] = matched && !matched[i + 1] ? 0.0 : outgoing[((size_t) source * n + j) * f_out + q];
        }
    }
}

nfn_status
nfn_perm_align (const nfn_feature *a, const nfn_feature *b, int max_iters, gsl_rng *rng,
                nfn_perm *b_to_a)
{
  const nfn_space *s = &a->space;
  if (a->B != 1 || a->C != 1 || b->B != 1 || b->C != 1 || !nfn_space_equal (s, &b->space)
      || !nfn_space_equal (s, &b_to_a->space))
    return NFN_ERR_SHAPE;
  if (max_iters < 1)
    return NFN_ERR_ARG;
  nfn_status st = nfn_feature_check_finite (a);
  if (st == NFN_OK)
    st = nfn_feature_check_finite (b);
  if (st != NFN_OK)
    return st;
  nfn_perm_identity (b_to_a);
  const int hidden = s->L - 1;
  if (hidden < 1)
    return NFN_OK;

  size_t vector_doubles = 0, score_doubles = 0;
  int widest = 0;
  for (int i = 1; i <= hidden; i++)
    {
      size_t dim = (size_t) s->n[i - 1] * s->f[i] + 1 + (size_t) s->n[i + 1] * s->f[i + 1];
      if ((size_t) s->n[i] * dim > vector_doubles)
        vector_doubles = (size_t) s->n[i] * dim;
      if ((size_t) s->n[i] * s->n[i] > score_doubles)
        score_doubles = (size_t) s->n[i] * s->n[i];
      if (s->n[i] > widest)
        widest = s->n[i];
    }
  double *vectors_a = malloc (vector_doubles * sizeof (double)); /* (n_i, D) */
  double *vectors_b = malloc (vector_doubles * sizeof (double)); /* (n_i, D) */
  double *score = malloc (score_doubles * sizeof (double));      /* (n_i, n_i) */
  int *assign = malloc ((size_t) widest * sizeof (int));         /* (n_i) */
  int *order = malloc ((size_t) hidden * sizeof (int));          /* (L-1) */
  /* The identity σ we start from says nothing about how B's hidden neurons match A's, so a
   * layer's score uses a neighbour only once that neighbour has been solved. The first sweep
   * runs 1 … L-1: each layer then sees its matched inputs (and layer L-1 the fixed outputs),
   * which finds a permuted copy exactly; later sweeps use every term in shuffled order. */
  char *matched = calloc ((size_t) s->L + 1, 1); /* (L+1) per neuron set */
  if (!vectors_a || !vectors_b || !score || !assign || !order || !matched)
    {
      st = NFN_ERR_NOMEM;
      goto out;
    }
  for (int h = 0; h < hidden; h++)
    order[h] = h + 1;
  matched[0] = matched[s->L] = 1;

  st = NFN_ERR_NOT_CONVERGED;
  for (int sweep = 0; sweep < max_iters; sweep++)
    {
      if (rng && sweep > 0)
        gsl_ran_shuffle (rng, order, (size_t) hidden, sizeof (int));
      int changed = 0;
      for (int h = 0; h < hidden; h++)
        {
          const int i = order[h], n = s->n[i];
          const int dim = s->n[i - 1] * s->f[i] + 1 + s->n[i + 1] * s->f[i + 1];
          perm_align_neuron_vectors (a, i, b_to_a, matched, vectors_a);
          perm_align_neuron_vectors (b, i, NULL, NULL, vectors_b);
          /* score[j, j'] = <A's neuron j, B's neuron j'> with B's neighbours already matched */
          gsl_matrix_view va = gsl_matrix_view_array (vectors_a, (size_t) n, (size_t) dim);
          gsl_matrix_view vb = gsl_matrix_view_array (vectors_b, (size_t) n, (size_t) dim);
          gsl_matrix_view vs = gsl_matrix_view_array (score, (size_t) n, (size_t) n);
          gsl_blas_dgemm (CblasNoTrans, CblasTrans, 1.0, &va.matrix, &vb.matrix, 0.0, &vs.matrix);
          st = nfn_linear_assignment (n, score, assign);
          if (st != NFN_OK)
            goto out;
          double current = 0, best = 0, scale = 0;
          for (int j = 0; j < n; j++)
            {
              current += score[(size_t) b_to_a->p[i][j] * n + j];
              best += score[(size_t) j * n + assign[j]];
              scale += fabs (score[(size_t) j * n + assign[j]]);
            }
          /* Take only strict gains: the objective then rises every step and the search stops
           * instead of cycling between equally good matchings. */
          if (best > current + 1e-12 * scale)
            {
              for (int j = 0; j < n; j++)
                b_to_a->p[i][assign[j]] = j;
              changed = 1;
            }
          matched[i] = 1;
        }
      if (!changed)
        {
          st = NFN_OK;
          break;
        }
    }
out:
  free (vectors_a);
  free (vectors_b);
  free (score);
  free (assign);
  free (order);
  free (matched);
  return st;
}

double
nfn_weight_distance (const nfn_feature *a, const nfn_feature *b)
{
  if (!nfn_feature_same_shape (a, b))
    return NAN;
  double sum = 0;
  for (int t = 0; t < nfn_tensor_count (&a->space); t++)
    {
      size_t n = (size_t) a->B * a->C * nfn_tensor_entries (&a->space, t);
      for (size_t e = 0; e < n; e++)
        {
          double d = (double) a->t[t][e] - b->t[t][e];
          sum += d * d;
        }
    }
  return sqrt (sum);
}
