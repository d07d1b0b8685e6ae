/* nfn_ticket.c — training MLPs many at once (dense or masked), global magnitude pruning,
 * random masks, and the class-balanced mask loss.
 *
 * Shape letters: B networks, N examples, D = n_0 inputs, K = n_L classes, S examples in a
 * minibatch, M weight entries of one network, P floats of one network's (padded) B = 1 feature.
 */
#include "nfn_ticket.h"
#include "nfn_fit.h"
#include "nfn_train.h"

#include <cblas.h>
#include <gsl/gsl_rng.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* The minibatch-order stream of a network is its init stream's seed moved by this constant, so
 * that `seed` can be shared with nfn_fit_init_network without the two streams coinciding. */
#define TICKET_ORDER_STREAM 0x7469636b65747321ull /* "ticket s!" */
#define TICKET_MASK_STREAM 0x72616e646f6d6d6bull  /* "randommk": random masks' stream */
/* Test examples evaluated per forward call. */
#define TICKET_EVAL_CHUNK 500

void
nfn_ticket_train_options_init (nfn_ticket_train_options *opt)
{
  memset (opt, 0, sizeof *opt);
  opt->epochs = NFN_TICKET_DEFAULT_EPOCHS;
  opt->batch_size = NFN_TICKET_DEFAULT_BATCH;
  opt->lr = NFN_TICKET_DEFAULT_LR;
  opt->threads = 1;
}

size_t
nfn_ticket_weight_count (const nfn_space *space)
{
  size_t M = 0;
  for (int i = 1; i <= space->L; i++)
    M += nfn_tensor_entries (space, nfn_tensor_weight (i));
  return M;
}

size_t
nfn_ticket_keep_count (const nfn_space *space, double sparsity)
{
  size_t M = nfn_ticket_weight_count (space);
  double keep = round ((1.0 - sparsity) * (double) M);
  if (!(keep >= 1))
    return 1;
  return keep > (double) M ? M : (size_t) keep;
}

/* ---- Masks ---- */

typedef struct {
  float score;
  uint32_t index; /* flat weight index of one network */
} ticket_ranked;

/* Larger score first; equal scores in index order, so the selection is a total order. */
static int
ticket_ranked_compare (const void *pa, const void *pb)
{
  const ticket_ranked *a = pa, *b = pb;
  if (a->score != b->score)
    return a->score > b->score ? -1 : 1;
  return (a->index > b->index) - (a->index < b->index);
}

/* Network `net`'s weight entries of a C = 1 feature as one flat (M) array in tensor order,
 * and back; the mask operations all work on that view. */
static void
ticket_gather_weights (const nfn_feature *feat, int net, float *flat /* (M) */)
{
  const nfn_space *s = &feat->space;
  for (int i = 1; i <= s->L; i++)
    {
      int t = nfn_tensor_weight (i);
      size_t per = nfn_tensor_entries (s, t);
      memcpy (flat, feat->t[t] + (size_t) net * per, per * sizeof (float));
      flat += per;
    }
}

static void
ticket_scatter_weights (nfn_feature *feat, int net, const float *flat /* (M) */)
{
  const nfn_space *s = &feat->space;
  for (int i = 1; i <= s->L; i++)
    {
      int t = nfn_tensor_weight (i);
      size_t per = nfn_tensor_entries (s, t);
      memcpy (feat->t[t] + (size_t) net * per, flat, per * sizeof (float));
      flat += per;
    }
}

/* Network `net`'s mask: the flat weight mask, and 1 on every bias entry. */
static void
ticket_set_mask (nfn_feature *masks, int net, const float *flat /* (M) */)
{
  const nfn_space *s = &masks->space;
  ticket_scatter_weights (masks, net, flat);
  for (int i = 1; i <= s->L; i++)
    {
      int t = nfn_tensor_bias (i);
      size_t per = nfn_tensor_entries (s, t);
      float *bias = masks->t[t] + (size_t) net * per;
      for (size_t e = 0; e < per; e++)
        bias[e] = 1.0f;
    }
}

/* masks keep, per network, keep[g] entries of segment g: one segment of all M weights
 * (n_segments = 1) or one per layer's W_i (n_segments = L). */
static nfn_status
ticket_mask_select (const nfn_feature *scores, const size_t *keep, int n_segments, int absolute, nfn_feature *masks)
{
  if (!scores || !masks || !keep)
    return NFN_ERR_ARG;
  if (scores->C != 1 || !nfn_feature_same_shape (scores, masks))
    return NFN_ERR_SHAPE;
  const nfn_space *s = &scores->space;
  size_t M = nfn_ticket_weight_count (s), length[NFN_MAX_LAYERS];
  if (M > UINT32_MAX)
    return NFN_ERR_ARG;
  for (int g = 0; g < n_segments; g++)
    {
      length[g] = n_segments == 1 ? M : nfn_tensor_entries (s, nfn_tensor_weight (g + 1));
      if (keep[g] > length[g])
        return NFN_ERR_ARG;
    }
  ticket_ranked *ranked = malloc (M * sizeof *ranked);
  float *flat = malloc (M * sizeof *flat);
  nfn_status status = ranked && flat ? NFN_OK : NFN_ERR_NOMEM;
  for (int net = 0; net < scores->B && status == NFN_OK; net++)
    {
      ticket_gather_weights (scores, net, flat);
      for (size_t k = 0; k < M && status == NFN_OK; k++)
        {
          if (isnan (flat[k]))
            status = NFN_ERR_NONFINITE;
          ranked[k] = (ticket_ranked) { absolute ? fabsf (flat[k]) : flat[k], (uint32_t) k };
        }
      if (status != NFN_OK)
        break;
      memset (flat, 0, M * sizeof *flat);
      for (size_t g = 0, first = 0; g < (size_t) n_segments; first += length[g], g++)
        {
          qsort (ranked + first, length[g], sizeof *ranked, ticket_ranked_compare);
          for (size_t k = 0; k < keep[g]; k++)
            flat[ranked[first + k].index] = 1.0f;
        }
      /* scores may alias masks: this network's scores were all read above */
      ticket_set_mask (masks, net, flat);
    }
  free (ranked);
  free (flat);
  return status;
}

nfn_status
nfn_ticket_mask_top (const nfn_feature *scores, size_t keep, int absolute, nfn_feature *masks)
{
  if (keep < 1)
    return NFN_ERR_ARG;
  return ticket_mask_select (scores, &keep, 1, absolute, masks);
}

nfn_status
nfn_ticket_mask_top_layers (const nfn_feature *scores, const size_t *keep, int absolute, nfn_feature *masks)
{
  return ticket_mask_select (scores, keep, scores ? scores->space.L : 0, absolute, masks);
}

/* Largest-remainder integer quotas: q (n) with Σ q = total, q_j ≤ cap, from ideal shares
 * (Σ ideal = total up to rounding; total ≤ n·cap). */
static void
ticket_quotas (const double *ideal, size_t n, size_t total, size_t cap, size_t *q)
{
  size_t given = 0;
  for (size_t j = 0; j < n; j++)
    {
      double f = floor (ideal[j]);
      q[j] = f <= 0 ? 0 : (f >= (double) cap ? cap : (size_t) f);
      given += q[j];
    }
  while (given > total) /* ideal summed above total by rounding: take from the most over */
    {
      size_t worst = n;
      for (size_t j = 0; j < n; j++)
        if (q[j] > 0 && (worst == n || (double) q[j] - ideal[j] > (double) q[worst] - ideal[worst]))
          worst = j;
      q[worst]--, given--;
    }
  for (; given < total; given++)
    {
      size_t best = n;
      for (size_t j = 0; j < n; j++)
        if (q[j] < cap && (best == n || ideal[j] - (double) q[j] > ideal[best] - (double) q[best]))
          best = j;
      q[best]++; /* total ≤ n·cap: some column has room */
    }
}

/* σ((x − c)/T): the chance a score x keeps its entry, shifted by c at temperature T. */
static inline double
ticket_keep_probability (float x, double c, double T)
{
  return 1.0 / (1.0 + exp ((c - (double) x) / T));
}

/* Σ σ((x_k − c)/T) over n scores. */
static double
ticket_expected_kept (const float *x, size_t n, double c, double T)
{
  double sum = 0;
  for (size_t k = 0; k < n; k++)
    sum += ticket_keep_probability (x[k], c, T);
  return sum;
}

/* One layer of one network: w (rows, cols) scores row-major → out (rows, cols) 0/1.
 * ideal, quota: (rows + cols) scratch; ranked: (rows·cols) scratch. */
static void
ticket_spread_layer (const float *w, int rows, int cols, size_t keep, double T, float *out, double *ideal,
                     size_t *quota, ticket_ranked *ranked)
{
  size_t n = (size_t) rows * (size_t) cols;
  memset (out, 0, n * sizeof *out);
  if (keep == 0)
    return;
  float lo = w[0], hi = w[0];
  for (size_t k = 1; k < n; k++)
    lo = w[k] < lo ? w[k] : lo, hi = w[k] > hi ? w[k] : hi;
  /* the shift c: Σ σ((w − c)/T) falls from n to 0 as c rises; bisect between where it is ≈ n
   * and ≈ 0 */
  double a = (double) lo - 60 * T, b = (double) hi + 60 * T;
  for (int it = 0; it < 100; it++)
    {
      double c = 0.5 * (a + b);
      if (ticket_expected_kept (w, n, c, T) > (double) keep)
        a = c;
      else
        b = c;
    }
  /* expected counts of each row (ideal[0 … rows)) and column (ideal[rows …)), scaled to keep */
  double c = 0.5 * (a + b), sum = 0, *row_ideal = ideal, *col_ideal = ideal + rows;
  memset (ideal, 0, (size_t) (rows + cols) * sizeof *ideal);
  for (int r = 0; r < rows; r++)
    for (int j = 0; j < cols; j++)
      {
        double p = ticket_keep_probability (w[(size_t) r * cols + j], c, T);
        row_ideal[r] += p, col_ideal[j] += p, sum += p;
      }
  for (int k = 0; k < rows + cols; k++)
    ideal[k] = sum > 0 ? ideal[k] * (double) keep / sum : (double) keep / (k < rows ? rows : cols);
  size_t *row_quota = quota, *col_quota = quota + rows, *row_used = quota + rows + cols,
         *col_used = row_used + rows;
  ticket_quotas (row_ideal, (size_t) rows, keep, (size_t) cols, row_quota);
  ticket_quotas (col_ideal, (size_t) cols, keep, (size_t) rows, col_quota);
  memset (row_used, 0, (size_t) (rows + cols) * sizeof *row_used);
  for (size_t k = 0; k < n; k++)
    ranked[k] = (ticket_ranked) { w[k], (uint32_t) k };
  qsort (ranked, n, sizeof *ranked, ticket_ranked_compare);
  /* best scores first, each row and column up to its quota; then, if the quotas left part of
   * the budget unplaced, the best of the rest */
  size_t kept = 0;
  for (size_t k = 0; k < n && kept < keep; k++)
    {
      size_t e = ranked[k].index, r = e / (size_t) cols, j = e % (size_t) cols;
      if (row_used[r] < row_quota[r] && col_used[j] < col_quota[j])
        out[e] = 1.0f, row_used[r]++, col_used[j]++, kept++;
    }
  for (size_t k = 0; k < n && kept < keep; k++)
    if (out[ranked[k].index] == 0.0f)
      out[ranked[k].index] = 1.0f, kept++;
}

nfn_status
nfn_ticket_mask_spread (const nfn_feature *scores, const size_t *keep, double temperature, nfn_feature *masks)
{
  if (!scores || !masks || !keep || !(temperature > 0) || !isfinite (temperature))
    return NFN_ERR_ARG;
  if (scores->C != 1 || !nfn_feature_same_shape (scores, masks))
    return NFN_ERR_SHAPE;
  const nfn_space *s = &scores->space;
  size_t M = nfn_ticket_weight_count (s), largest = 0;
  int widest = 0;
  for (int i = 1; i <= s->L; i++)
    {
      if (s->f[i] != 1)
        return NFN_ERR_UNSUPPORTED; /* MLP weights only: a column is one input neuron */
      if (keep[i - 1] > nfn_tensor_entries (s, nfn_tensor_weight (i)))
        return NFN_ERR_ARG;
      int both = s->n[i] + s->n[i - 1];
      size_t entries = nfn_tensor_entries (s, nfn_tensor_weight (i));
      widest = both > widest ? both : widest;
      largest = entries > largest ? entries : largest;
    }
  float *flat = malloc (M * sizeof *flat), *out = malloc (M * sizeof *out);
  double *ideal = malloc ((size_t) widest * sizeof *ideal);
  size_t *quota = malloc (2 * (size_t) widest * sizeof *quota);
  ticket_ranked *ranked = malloc (largest * sizeof *ranked);
  nfn_status status = flat && out && ideal && quota && ranked ? NFN_OK : NFN_ERR_NOMEM;
  for (int net = 0; net < scores->B && status == NFN_OK; net++)
    {
      ticket_gather_weights (scores, net, flat);
      for (size_t k = 0; k < M && status == NFN_OK; k++)
        if (!isfinite (flat[k]))
          status = NFN_ERR_NONFINITE;
      for (int i = 1, first = 0; i <= s->L && status == NFN_OK; first += s->n[i] * s->n[i - 1], i++)
        ticket_spread_layer (flat + first, s->n[i], s->n[i - 1], keep[i - 1], temperature, out + first, ideal, quota,
                             ranked);
      if (status == NFN_OK)
        ticket_set_mask (masks, net, out); /* scores may alias masks: read above */
    }
  free (flat);
  free (out);
  free (ideal);
  free (quota);
  free (ranked);
  return status;
}

nfn_status
nfn_ticket_layer_budget (const nfn_space *space, const double *fraction, double sparsity, size_t *keep)
{
  if (!space || !fraction || !keep || !(sparsity >= 0 && sparsity < 1))
    return NFN_ERR_ARG;
  int L = space->L;
  size_t total = nfn_ticket_keep_count (space, sparsity), given = 0;
  double share[NFN_MAX_LAYERS], sum = 0;
  for (int i = 1; i <= L; i++)
    {
      if (!(fraction[i - 1] >= 0) || !isfinite (fraction[i - 1]))
        return NFN_ERR_ARG;
      share[i - 1] = fraction[i - 1] * (double) nfn_tensor_entries (space, nfn_tensor_weight (i));
      sum += share[i - 1];
    }
  if (!(sum > 0))
    return NFN_ERR_ARG;
  /* largest remainders, so the counts add up to `total` exactly; a full layer takes no more,
   * and what it cannot take goes to the layers furthest below their ideal share */
  double ideal[NFN_MAX_LAYERS];
  for (int i = 0; i < L; i++)
    {
      size_t room = nfn_tensor_entries (space, nfn_tensor_weight (i + 1));
      ideal[i] = share[i] / sum * (double) total;
      keep[i] = (size_t) floor (ideal[i]) < room ? (size_t) floor (ideal[i]) : room;
      given += keep[i];
    }
  for (; given < total; given++)
    {
      int best = -1;
      for (int i = 0; i < L; i++)
        if (keep[i] < nfn_tensor_entries (space, nfn_tensor_weight (i + 1))
            && (best < 0 || ideal[i] - (double) keep[i] > ideal[best] - (double) keep[best]))
          best = i;
      keep[best]++; /* some layer has room: total ≤ M */
    }
  return NFN_OK;
}

nfn_status
nfn_ticket_layer_fractions (const nfn_feature *masks, double *fraction)
{
  if (!masks || !fraction || masks->B < 1)
    return NFN_ERR_ARG;
  if (masks->C != 1)
    return NFN_ERR_SHAPE;
  const nfn_space *s = &masks->space;
  for (int i = 1; i <= s->L; i++)
    {
      int t = nfn_tensor_weight (i);
      size_t n = nfn_tensor_entries (s, t) * (size_t) masks->B;
      double kept = 0;
      for (size_t e = 0; e < n; e++)
        kept += masks->t[t][e] > 0.5f;
      fraction[i - 1] = kept / (double) n;
    }
  return NFN_OK;
}

/* Fisher–Yates from the front, stopped after `count` draws: items[0 … count) is then a uniform
 * random ordered subset (count = n: a uniform shuffle). */
static void
ticket_shuffle_prefix (int *items, size_t n, size_t count, gsl_rng *rng)
{
  for (size_t k = 0; k < count && k + 1 < n; k++)
    {
      size_t j = k + gsl_rng_uniform_int (rng, n - k);
      int swap = items[k];
      items[k] = items[j];
      items[j] = swap;
    }
}

nfn_status
nfn_ticket_prune_magnitude (const nfn_feature *weights, double sparsity, nfn_feature *masks)
{
  if (!weights || !(sparsity >= 0 && sparsity < 1))
    return NFN_ERR_ARG;
  return nfn_ticket_mask_top (weights, nfn_ticket_keep_count (&weights->space, sparsity), 1, masks);
}

nfn_status
nfn_ticket_mask_random (nfn_feature *masks, double sparsity, uint64_t seed, const uint64_t *network_ids)
{
  if (!masks || !network_ids || !(sparsity >= 0 && sparsity < 1))
    return NFN_ERR_ARG;
  if (masks->C != 1)
    return NFN_ERR_SHAPE;
  const nfn_space *s = &masks->space;
  size_t M = nfn_ticket_weight_count (s), keep = nfn_ticket_keep_count (s, sparsity);
  int *slots = M <= INT_MAX ? malloc (M * sizeof *slots) : NULL;
  float *flat = malloc (M * sizeof *flat);
  gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
  nfn_status status = slots && flat && rng ? NFN_OK : NFN_ERR_NOMEM;
  for (int net = 0; net < masks->B && status == NFN_OK; net++)
    {
      gsl_rng_set (rng, nfn_fit_network_seed (seed ^ TICKET_MASK_STREAM, network_ids[net]));
      for (size_t k = 0; k < M; k++)
        slots[k] = (int) k;
      ticket_shuffle_prefix (slots, M, keep, rng);
      memset (flat, 0, M * sizeof *flat);
      for (size_t k = 0; k < keep; k++)
        flat[slots[k]] = 1.0f;
      ticket_set_mask (masks, net, flat);
    }
  free (slots);
  free (flat);
  if (rng)
    gsl_rng_free (rng);
  return status;
}

double
nfn_ticket_mask_iou (const nfn_feature *a, const nfn_feature *b, int net)
{
  const nfn_space *s = &a->space;
  size_t both = 0, either = 0;
  for (int i = 1; i <= s->L; i++)
    {
      int t = nfn_tensor_weight (i);
      size_t per = nfn_tensor_entries (s, t);
      const float *x = a->t[t] + (size_t) net * per, *y = b->t[t] + (size_t) net * per;
      for (size_t e = 0; e < per; e++)
        {
          both += x[e] > 0.5f && y[e] > 0.5f;
          either += x[e] > 0.5f || y[e] > 0.5f;
        }
    }
  return either ? (double) both / (double) either : 1.0;
}

/* ---- The mask loss ---- */

nfn_status
nfn_ticket_pos_weights (const nfn_feature *masks, int per_layer, double *pos_weight)
{
  if (!masks || !pos_weight || masks->B < 1)
    return NFN_ERR_ARG;
  if (masks->C != 1)
    return NFN_ERR_SHAPE;
  const nfn_space *s = &masks->space;
  double kept_all = 0, entries_all = 0;
  for (int i = 1; i <= s->L; i++)
    {
      int t = nfn_tensor_weight (i);
      size_t per = nfn_tensor_entries (s, t), n = per * (size_t) masks->B;
      double kept = 0;
      for (size_t e = 0; e < n; e++)
        kept += masks->t[t][e] > 0.5f;
      /* a layer nothing was kept in still gets a finite weight: as if half an entry were */
      pos_weight[i - 1] = ((double) n - kept) / (kept > 0.5 ? kept : 0.5);
      kept_all += kept;
      entries_all += (double) n;
    }
  if (!per_layer)
    for (int i = 1; i <= s->L; i++)
      pos_weight[i - 1] = (entries_all - kept_all) / (kept_all > 0.5 ? kept_all : 0.5);
  for (int i = 1; i <= s->L; i++)
    if (!(pos_weight[i - 1] > 0))
      pos_weight[i - 1] = 1.0; /* a layer kept whole: no negatives to balance against */
  return NFN_OK;
}

/* log(1 + e^x) without overflow. */
static double
ticket_softplus (double x)
{
  return x > 0 ? x + log1p (exp (-x)) : log1p (exp (x));
}

nfn_status
nfn_ticket_mask_loss (const nfn_feature *logits, const nfn_feature *masks, const double *pos_weight, double *loss,
                      nfn_feature *grad)
{
  if (!logits || !masks || !loss || !pos_weight)
    return NFN_ERR_ARG;
  if (logits->C != 1 || !nfn_feature_same_shape (logits, masks) || (grad && !nfn_feature_same_shape (logits, grad)))
    return NFN_ERR_SHAPE;
  const nfn_space *s = &logits->space;
  for (int i = 1; i <= s->L; i++)
    if (!(pos_weight[i - 1] > 0) || !isfinite (pos_weight[i - 1]))
      return NFN_ERR_ARG;
  size_t M = nfn_ticket_weight_count (s);
  /* the pos_weight of every flat weight index, layer by layer */
  double *rho = malloc (M * sizeof *rho);
  size_t at = 0;
  for (int i = 1; rho && i <= s->L; i++)
    for (size_t e = 0; e < nfn_tensor_entries (s, nfn_tensor_weight (i)); e++)
      rho[at++] = pos_weight[i - 1];
  float *x = malloc (M * sizeof *x), *y = malloc (M * sizeof *y), *g = malloc (M * sizeof *g);
  nfn_status status = x && y && g && rho ? NFN_OK : NFN_ERR_NOMEM;
  for (int net = 0; net < masks->B && status == NFN_OK; net++)
    {
      ticket_gather_weights (masks, net, y);
      for (size_t k = 0; k < M; k++)
        if (y[k] != 0.0f && y[k] != 1.0f)
          status = NFN_ERR_ARG;
    }
  double count = (double) M * logits->B, total = 0;
  if (grad && status == NFN_OK)
    memset (grad->data, 0, grad->size * sizeof (float));
  for (int net = 0; net < logits->B && status == NFN_OK; net++)
    {
      ticket_gather_weights (logits, net, x);
      ticket_gather_weights (masks, net, y);
      for (size_t k = 0; k < M; k++)
        {
          double xk = x[k];
          int keep = y[k] == 1.0f;
          total += keep ? rho[k] * ticket_softplus (-xk) : ticket_softplus (xk);
          /* d softplus(−x)/dx = σ(x) − 1, d softplus(x)/dx = σ(x) */
          double sigma = 1.0 / (1.0 + exp (-xk));
          g[k] = (float) ((keep ? rho[k] * (sigma - 1.0) : sigma) / count);
        }
      if (grad)
        ticket_scatter_weights (grad, net, g);
    }
  free (x);
  free (y);
  free (g);
  free (rho);
  if (status != NFN_OK)
    return status;
  *loss = total / count;
  return isfinite (*loss) ? NFN_OK : NFN_ERR_NONFINITE;
}

/* ---- Training, one network per worker ---- */

typedef struct {
  const nfn_arch *arch;
  nfn_feature net, grad, mask; /* B = 1 */
  float *m, *v;                /* (P) Adam moments */
  float *cache;
  float *x, *y, *dy;           /* (S, D), (S, K), (S, K) */
  int *labels;                 /* (S) */
  int *order;                  /* (N) */
  gsl_rng *rng;
  int batch;
} ticket_worker;

static void
ticket_worker_free (ticket_worker *w)
{
  nfn_feature_free (&w->net);
  nfn_feature_free (&w->grad);
  nfn_feature_free (&w->mask);
  free (w->m);
  free (w->v);
  free (w->cache);
  free (w->x);
  free (w->y);
  free (w->dy);
  free (w->labels);
  free (w->order);
  if (w->rng)
    gsl_rng_free (w->rng);
  memset (w, 0, sizeof *w);
}

static nfn_status
ticket_worker_alloc (ticket_worker *w, const nfn_arch *arch, int batch, int N)
{
  memset (w, 0, sizeof *w);
  w->arch = arch;
  w->batch = batch;
  const nfn_space *s = &arch->space;
  size_t D = nfn_net_input_size (arch), K = nfn_net_output_size (arch);
  if (nfn_feature_alloc (&w->net, s, 1, 1) != NFN_OK || nfn_feature_alloc (&w->grad, s, 1, 1) != NFN_OK
      || nfn_feature_alloc (&w->mask, s, 1, 1) != NFN_OK)
    return NFN_ERR_NOMEM;
  w->m = malloc (w->net.size * sizeof (float));
  w->v = malloc (w->net.size * sizeof (float));
  w->cache = malloc ((nfn_net_cache_size (arch, 1, batch) + 1) * sizeof (float));
  w->x = malloc ((size_t) batch * D * sizeof (float));
  w->y = malloc ((size_t) batch * K * sizeof (float));
  w->dy = malloc ((size_t) batch * K * sizeof (float));
  w->labels = malloc ((size_t) batch * sizeof (int));
  w->order = malloc ((size_t) (N > 0 ? N : 1) * sizeof (int));
  w->rng = gsl_rng_alloc (gsl_rng_mt19937);
  if (!w->m || !w->v || !w->cache || !w->x || !w->y || !w->dy || !w->labels || !w->order || !w->rng)
    return NFN_ERR_NOMEM;
  return NFN_OK;
}

static void
ticket_multiply (float *restrict x, const float *restrict mask, size_t n)
{
  for (size_t e = 0; e < n; e++)
    x[e] *= mask[e];
}

/* Trains network b of `weights` in the worker's buffers and writes it back. */
static nfn_status
ticket_worker_train (ticket_worker *w, nfn_feature *weights, const nfn_feature *masks, int b,
                     const nfn_ticket_data *train, uint64_t network_id, const nfn_ticket_train_options *opt)
{
  const nfn_arch *arch = w->arch;
  size_t D = nfn_net_input_size (arch), K = nfn_net_output_size (arch), P = w->net.size;
  nfn_feature_get_network (weights, b, &w->net);
  if (masks)
    {
      nfn_feature_get_network (masks, b, &w->mask);
      ticket_multiply (w->net.data, w->mask.data, P);
    }
  memset (w->m, 0, P * sizeof (float));
  memset (w->v, 0, P * sizeof (float));
  nfn_adam adam;
  nfn_adam_init (&adam, opt->lr);
  gsl_rng_set (w->rng, nfn_fit_network_seed (opt->seed ^ TICKET_ORDER_STREAM, network_id));
  for (int k = 0; k < train->N; k++)
    w->order[k] = k;
  nfn_status status = NFN_OK;
  for (int epoch = 0; epoch < opt->epochs && status == NFN_OK; epoch++)
    {
      ticket_shuffle_prefix (w->order, (size_t) train->N, (size_t) train->N, w->rng);
      for (int start = 0; start < train->N; start += w->batch)
        {
          if (opt->cancel && *opt->cancel)
            return NFN_ERR_CANCELLED;
          int S = train->N - start < w->batch ? train->N - start : w->batch;
          for (int r = 0; r < S; r++)
            {
              int example = w->order[start + r];
              memcpy (w->x + (size_t) r * D, train->x + (size_t) example * D, D * sizeof (float));
              w->labels[r] = train->labels[example];
            }
          double loss;
          if ((status = nfn_net_forward (arch, &w->net, S, w->x, (size_t) S * D, w->y, w->cache)) != NFN_OK
              || (status = nfn_cross_entropy (w->y, w->labels, S, (int) K, &loss, w->dy)) != NFN_OK)
            break;
          memset (w->grad.data, 0, P * sizeof (float));
          if ((status = nfn_net_backward (arch, &w->net, S, w->x, (size_t) S * D, w->cache, w->dy, &w->grad, NULL))
              != NFN_OK)
            break;
          if (masks)
            ticket_multiply (w->grad.data, w->mask.data, P);
          nfn_adam_step (&adam, w->net.data, w->grad.data, w->m, w->v, P);
          /* Adam never moves an entry whose gradient was always 0, but the product makes the
           * guarantee independent of the optimiser */
          if (masks)
            ticket_multiply (w->net.data, w->mask.data, P);
        }
    }
  if (status == NFN_OK)
    nfn_feature_set_network (weights, b, &w->net);
  return status;
}

static nfn_status
ticket_check (const nfn_arch *arch, const nfn_feature *weights, const nfn_ticket_data *data)
{
  if (!arch || !weights || !data || !data->x || !data->labels || data->N < 0)
    return NFN_ERR_ARG;
  if (nfn_arch_check (arch) != NFN_OK || arch->kind != NFN_NET_MLP)
    return NFN_ERR_UNSUPPORTED;
  if (weights->C != 1 || weights->B < 1 || !nfn_space_equal (&weights->space, &arch->space))
    return NFN_ERR_SHAPE;
  int K = (int) nfn_net_output_size (arch);
  for (int k = 0; k < data->N; k++)
    if (data->labels[k] < 0 || data->labels[k] >= K)
      return NFN_ERR_ARG;
  return NFN_OK;
}

/* Runs `work` (one network) over networks 0 … B-1 on `threads` OpenMP threads, each with its
 * own worker, BLAS single-threaded meanwhile; the first failure stops the rest. */
typedef nfn_status (*ticket_work_fn) (ticket_worker *w, int b, void *ctx);

static nfn_status
ticket_parallel (const nfn_arch *arch, int B, int batch, int N, int threads, ticket_work_fn work, void *ctx,
                 nfn_ticket_progress_fn progress, void *progress_data)
{
  nfn_status status = NFN_OK;
  int done = 0;
  int blas_threads = openblas_get_num_threads ();
  openblas_set_num_threads (1);
#pragma omp parallel num_threads (threads) shared (status, done)
  {
    ticket_worker w;
    nfn_status mine = ticket_worker_alloc (&w, arch, batch, N);
    if (mine != NFN_OK)
      {
#pragma omp critical (nfn_ticket_status)
        status = status == NFN_OK ? mine : status;
      }
#pragma omp for schedule (dynamic, 1)
    for (int b = 0; b < B; b++)
      {
        nfn_status current;
#pragma omp critical (nfn_ticket_status)
        current = status;
        if (mine != NFN_OK || current != NFN_OK)
          continue;
        mine = work (&w, b, ctx);
#pragma omp critical (nfn_ticket_status)
        {
          if (mine != NFN_OK)
            status = status == NFN_OK ? mine : status;
          else if (progress)
            progress (++done, B, progress_data);
        }
      }
    ticket_worker_free (&w);
  }
  openblas_set_num_threads (blas_threads);
  return status;
}

typedef struct {
  nfn_feature *weights;
  const nfn_feature *masks;
  const nfn_ticket_data *data;
  const uint64_t *network_ids;
  const nfn_ticket_train_options *opt;
  float *accuracy;
} ticket_job;

static nfn_status
ticket_train_one (ticket_worker *w, int b, void *ctx)
{
  ticket_job *job = ctx;
  return ticket_worker_train (w, job->weights, job->masks, b, job->data, job->network_ids[b], job->opt);
}

nfn_status
nfn_ticket_train (const nfn_arch *arch, nfn_feature *weights, const nfn_feature *masks, const nfn_ticket_data *train,
                  const uint64_t *network_ids, const nfn_ticket_train_options *opt)
{
  nfn_status status = ticket_check (arch, weights, train);
  if (status != NFN_OK)
    return status;
  if (!network_ids || !opt || opt->epochs < 0 || opt->batch_size < 1 || !(opt->lr > 0) || opt->threads < 1
      || (opt->epochs > 0 && train->N < 1))
    return NFN_ERR_ARG;
  if (masks && !nfn_feature_same_shape (weights, masks))
    return NFN_ERR_SHAPE;
  ticket_job job = { weights, masks, train, network_ids, opt, NULL };
  return ticket_parallel (arch, weights->B, opt->batch_size, train->N, opt->threads, ticket_train_one, &job,
                          opt->progress, opt->progress_data);
}

static nfn_status
ticket_accuracy_one (ticket_worker *w, int b, void *ctx)
{
  ticket_job *job = ctx;
  const nfn_ticket_data *test = job->data;
  size_t D = nfn_net_input_size (w->arch), K = nfn_net_output_size (w->arch);
  nfn_feature_get_network (job->weights, b, &w->net);
  double correct = 0;
  for (int start = 0; start < test->N; start += w->batch)
    {
      int S = test->N - start < w->batch ? test->N - start : w->batch;
      const float *x = test->x + (size_t) start * D;
      nfn_status status = nfn_net_forward (w->arch, &w->net, S, x, (size_t) S * D, w->y, NULL);
      if (status != NFN_OK)
        return status;
      correct += nfn_accuracy (w->y, test->labels + start, S, (int) K) * S;
    }
  job->accuracy[b] = test->N > 0 ? (float) (correct / test->N) : 0.0f;
  return NFN_OK;
}

nfn_status
nfn_ticket_accuracy (const nfn_arch *arch, const nfn_feature *weights, const nfn_ticket_data *test, int threads,
                     float *accuracy)
{
  nfn_status status = ticket_check (arch, weights, test);
  if (status != NFN_OK)
    return status;
  if (!accuracy || threads < 1)
    return NFN_ERR_ARG;
  ticket_job job = { (nfn_feature *) weights, NULL, test, NULL, NULL, accuracy };
  return ticket_parallel (arch, weights->B, TICKET_EVAL_CHUNK, 0, threads, ticket_accuracy_one, &job, NULL, NULL);
}
