/* nfn_train.c — losses, Adam/AdamW with warmup, and metrics.
 *
 * Shape letters: N samples, K classes, P parameters, n values of a flat array.
 * Sums run in double: a float accumulator over 10⁵ samples would lose the digits the
 * finite-difference checks and the metric comparisons rely on.
 */
#include "nfn_train.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- softmax cross-entropy ---- */

/* log Σ_k exp(row[k]), shifted by the row's max so the largest term is exp(0) = 1. */
static double
nfn_row_log_sum_exp (const float *row /* (K) */, int K)
{
  double max = row[0];
  for (int k = 1; k < K; k++)
    if (row[k] > max)
      max = row[k];
  double sum = 0;
  for (int k = 0; k < K; k++)
    sum += exp ((double) row[k] - max);
  return max + log (sum);
}

void
nfn_softmax (const float *logits /* (N, K) */, float *probs /* (N, K) */, int N, int K)
{
  for (int i = 0; i < N; i++)
    {
      const float *row = logits + (size_t) i * K;
      double lse = nfn_row_log_sum_exp (row, K);
      for (int k = 0; k < K; k++)
        probs[(size_t) i * K + k] = (float) exp ((double) row[k] - lse);
    }
}

nfn_status
nfn_cross_entropy (const float *logits /* (N, K) */, const int *labels /* (N) */, int N, int K,
                   double *loss, float *grad /* (N, K) or NULL */)
{
  if (N < 1 || K < 1)
    return NFN_ERR_ARG;
  for (int i = 0; i < N; i++)
    if (labels[i] < 0 || labels[i] >= K)
      return NFN_ERR_ARG;

  double total = 0;
  for (int i = 0; i < N; i++)
    {
      const float *row = logits + (size_t) i * K;
      double lse = nfn_row_log_sum_exp (row, K);
      total += lse - (double) row[labels[i]];
      if (grad)
        {
          /* d/dx_k of mean(lse − x_label) = (softmax_k − [k = label]) / N */
          float *grow = grad + (size_t) i * K;
          for (int k = 0; k < K; k++)
            grow[k] = (float) ((exp ((double) row[k] - lse) - (k == labels[i])) / N);
        }
    }
  *loss = total / N;
  return isfinite (*loss) ? NFN_OK : NFN_ERR_NONFINITE;
}

/* ---- binary cross-entropy on logits ---- */

/* σ(x) without overflow: exp is only ever taken of −|x|. */
static double
nfn_sigmoid (double x)
{
  if (x >= 0)
    return 1 / (1 + exp (-x));
  double e = exp (x);
  return e / (1 + e);
}

nfn_status
nfn_bce_with_logits (const float *logits /* (N) */, const float *targets /* (N) */, int N,
                     double *loss, float *grad /* (N) or NULL */)
{
  if (N < 1)
    return NFN_ERR_ARG;
  for (int i = 0; i < N; i++)
    if (!(targets[i] >= 0 && targets[i] <= 1))
      return NFN_ERR_ARG;

  double total = 0;
  for (int i = 0; i < N; i++)
    {
      double x = logits[i], y = targets[i];
      /* −y·log σ(x) − (1−y)·log(1−σ(x)) rearranged so neither log sees 0 */
      total += fmax (x, 0) - x * y + log1p (exp (-fabs (x)));
      if (grad)
        grad[i] = (float) ((nfn_sigmoid (x) - y) / N);
    }
  *loss = total / N;
  return isfinite (*loss) ? NFN_OK : NFN_ERR_NONFINITE;
}

/* ---- mean squared error ---- */

nfn_status
nfn_mse (const float *pred /* (n) */, const float *target /* (n) */, size_t n, double *loss,
         float *grad /* (n) or NULL */)
{
  if (n == 0)
    return NFN_ERR_ARG;
  double total = 0;
  for (size_t e = 0; e < n; e++)
    {
      double d = (double) pred[e] - (double) target[e];
      total += d * d;
      if (grad)
        grad[e] = (float) (2 * d / (double) n);
    }
  *loss = total / (double) n;
  return isfinite (*loss) ? NFN_OK : NFN_ERR_NONFINITE;
}

/* ---- Adam / AdamW ---- */

void
nfn_adam_init (nfn_adam *opt, double lr)
{
  memset (opt, 0, sizeof *opt);
  opt->lr = lr;
  opt->beta1 = 0.9;
  opt->beta2 = 0.999;
  opt->eps = 1e-8;
}

double
nfn_adam_lr (const nfn_adam *opt, long step)
{
  long W = opt->warmup_steps > 0 ? opt->warmup_steps : 0;
  if (step < W)
    return opt->lr * (double) step / (double) W;
  if (opt->decay_steps <= W)
    return opt->lr;
  double f = fmin (1.0, (double) (step - W) / (double) (opt->decay_steps - W));
  return opt->lr * 0.5 * (1.0 + cos (3.14159265358979323846 * f));
}

void
nfn_adam_step (nfn_adam *opt, float *params /* (P) */, const float *grads /* (P) */,
               float *m /* (P) */, float *v /* (P) */, size_t P)
{
  opt->step++;
  double lr = nfn_adam_lr (opt, opt->step);
  double beta1 = opt->beta1, beta2 = opt->beta2, eps = opt->eps, wd = opt->weight_decay;
  double bias_correction1 = 1 - pow (beta1, (double) opt->step);
  double bias_correction2 = 1 - pow (beta2, (double) opt->step);
  double l2 = opt->decoupled ? 0 : wd;
  double decay = opt->decoupled ? 1 - lr * wd : 1;
  for (size_t e = 0; e < P; e++)
    {
      double p = params[e];
      double g = (double) grads[e] + l2 * p;
      double m_e = beta1 * m[e] + (1 - beta1) * g;
      double v_e = beta2 * v[e] + (1 - beta2) * g * g;
      m[e] = (float) m_e;
      v[e] = (float) v_e;
      double m_hat = m_e / bias_correction1;
      double v_hat = v_e / bias_correction2;
      params[e] = (float) (p * decay - lr * m_hat / (sqrt (v_hat) + eps));
    }
}

/* ---- metrics ---- */

double
nfn_accuracy (const float *logits /* (N, K) */, const int *labels /* (N) */, int N, int K)
{
  if (N < 1 || K < 1)
    return 0;
  long correct = 0;
  for (int i = 0; i < N; i++)
    {
      const float *row = logits + (size_t) i * K;
      int best = 0;
      for (int k = 1; k < K; k++)
        if (row[k] > row[best])
          best = k;
      correct += best == labels[i];
    }
  return (double) correct / N;
}

double
nfn_psnr (const float *pred /* (n) */, const float *target /* (n) */, size_t n, double peak)
{
  double total = 0;
  for (size_t e = 0; e < n; e++)
    {
      double d = (double) pred[e] - (double) target[e];
      total += d * d;
    }
  if (total == 0)
    return INFINITY;
  return 10 * log10 (peak * peak / (total / (double) n));
}

/* ---- Kendall's τ-b (Knight 1966) ----
 * With n0 = n(n−1)/2 pairs, n1 pairs tied in x, n2 tied in y, n3 tied in both, the pairs tied
 * in neither number n0 − n1 − n2 + n3 and split into concordant nc and discordant nd.
 * Sort by (x, y): a pair tied in x is then in y order, so it is never an inversion of y, and a
 * pair with x strictly ordered is an inversion exactly when it is discordant. Counting the
 * strict inversions (swaps) of a stable merge sort of y therefore gives nd, and
 *   τ_b = (nc − nd) / sqrt((n0 − n1)(n0 − n2)) = (n0 − n1 − n2 + n3 − 2·swaps) / sqrt(…). */

typedef struct {
  double x, y;
} nfn_kendall_pair;

static int
nfn_kendall_pair_compare (const void *pa, const void *pb)
{
  const nfn_kendall_pair *a = pa, *b = pb;
  if (a->x != b->x)
    return (a->x > b->x) - (a->x < b->x);
  return (a->y > b->y) - (a->y < b->y);
}

/* Pairs inside one run of `run` equal values. */
static uint64_t
nfn_kendall_run_pairs (uint64_t run)
{
  return run * (run - 1) / 2;
}

/* Stable bottom-up merge sort of y (n) using scratch (n); returns the number of strict
 * inversions and the array that holds the sorted values (y or scratch). */
static uint64_t
nfn_kendall_merge_sort (double *y /* (n) */, double *scratch /* (n) */, size_t n, double **sorted)
{
  uint64_t swaps = 0;
  double *src = y, *dst = scratch;
  for (size_t width = 1; width < n; width *= 2)
    {
      for (size_t lo = 0; lo < n; lo += 2 * width)
        {
          size_t mid = lo + width < n ? lo + width : n;
          size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
          size_t i = lo, j = mid, k = lo;
          while (i < mid && j < hi)
            {
              /* an equal right element stays behind: ties in y are not discordant */
              if (src[j] < src[i])
                {
                  swaps += mid - i;
                  dst[k++] = src[j++];
                }
              else
                dst[k++] = src[i++];
            }
          while (i < mid)
            dst[k++] = src[i++];
          while (j < hi)
            dst[k++] = src[j++];
        }
      double *swap = src;
      src = dst;
      dst = swap;
    }
  *sorted = src;
  return swaps;
}

nfn_status
nfn_kendall_tau_b (const double *x /* (n) */, const double *y /* (n) */, size_t n, double *tau)
{
  if (n < 2)
    return NFN_ERR_ARG;
  for (size_t e = 0; e < n; e++)
    if (isnan (x[e]) || isnan (y[e]))
      return NFN_ERR_NONFINITE;

  nfn_kendall_pair *pairs = malloc (n * sizeof *pairs);
  double *ys = malloc (2 * n * sizeof *ys);
  if (!pairs || !ys)
    {
      free (pairs);
      free (ys);
      return NFN_ERR_NOMEM;
    }
  for (size_t e = 0; e < n; e++)
    {
      pairs[e].x = x[e];
      pairs[e].y = y[e];
    }
  qsort (pairs, n, sizeof *pairs, nfn_kendall_pair_compare);

  uint64_t n0 = nfn_kendall_run_pairs (n), n1 = 0, n2 = 0, n3 = 0;
  uint64_t x_run = 1, joint_run = 1;
  for (size_t e = 1; e <= n; e++)
    {
      int same_x = e < n && pairs[e].x == pairs[e - 1].x;
      int same_joint = same_x && pairs[e].y == pairs[e - 1].y;
      if (same_joint)
        joint_run++;
      else
        {
          n3 += nfn_kendall_run_pairs (joint_run);
          joint_run = 1;
        }
      if (same_x)
        x_run++;
      else
        {
          n1 += nfn_kendall_run_pairs (x_run);
          x_run = 1;
        }
    }

  for (size_t e = 0; e < n; e++)
    ys[e] = pairs[e].y;
  free (pairs);
  double *y_sorted;
  uint64_t swaps = nfn_kendall_merge_sort (ys, ys + n, n, &y_sorted);

  uint64_t y_run = 1;
  for (size_t e = 1; e <= n; e++)
    {
      if (e < n && y_sorted[e] == y_sorted[e - 1])
        y_run++;
      else
        {
          n2 += nfn_kendall_run_pairs (y_run);
          y_run = 1;
        }
    }
  free (ys);

  if (n1 == n0 || n2 == n0)
    {
      *tau = 0;
      return NFN_OK;
    }
  /* n0 − n1 − n2 + n3 ≥ 0 pairs are tied in neither; the numerator is an exact integer */
  int64_t numerator = (int64_t) (n0 - n1 - n2 + n3) - 2 * (int64_t) swaps;
  *tau = (double) numerator / (sqrt ((double) (n0 - n1)) * sqrt ((double) (n0 - n2)));
  return NFN_OK;
}
