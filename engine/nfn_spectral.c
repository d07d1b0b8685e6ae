/* nfn_spectral.c — eigenvalue spectra of weight matrices and their power-law fits.
 *
 * Shape letters: R×Q a layer's matrix, m = min(R, Q), n values of a sample.
 */
#include "nfn_spectral.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int
spectral_compare_ascending (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* KS distance between the tail x[0..n) (ascending, all ≥ xmin) and the power law (α, xmin):
 * the largest gap on either side of each step of the empirical CDF. */
static double
spectral_ks (const double *x, size_t n, double xmin, double alpha)
{
  double worst = 0;
  for (size_t k = 0; k < n; k++)
    {
      double model = 1 - pow (x[k] / xmin, 1 - alpha);
      double below = fabs (model - (double) k / n), above = fabs ((double) (k + 1) / n - model);
      worst = fmax (worst, fmax (below, above));
    }
  return worst;
}

nfn_status
nfn_powerlaw_fit_values (const double *values, size_t n, int min_tail, nfn_powerlaw_fit *fit)
{
  if (!fit || (n > 0 && !values) || min_tail < 2)
    return NFN_ERR_ARG;
  fit->alpha = fit->xmin = fit->ks = NAN;
  fit->n_tail = 0;
  for (size_t k = 0; k < n; k++)
    if (!isfinite (values[k]))
      return NFN_ERR_NONFINITE;
  double *x = malloc ((n ? n : 1) * sizeof *x);
  if (!x)
    return NFN_ERR_NOMEM;
  size_t m = 0;
  for (size_t k = 0; k < n; k++)
    if (values[k] > 0)
      x[m++] = values[k];
  qsort (x, m, sizeof *x, spectral_compare_ascending);
  /* suffix sums of ln x make each candidate's MLE O(1): Σ ln(x/xmin) = S_k − n_tail·ln xmin */
  double log_sum = 0;
  for (size_t k = 0; k < m; k++)
    log_sum += log (x[k]);
  double prefix = 0;
  for (size_t k = 0; k + (size_t) min_tail <= m; k++)
    {
      if (k > 0 && x[k] == x[k - 1])
        {
          prefix += log (x[k]);
          continue; /* the same xmin as before: its tail starts at the first equal value */
        }
      size_t tail = m - k;
      double spread = (log_sum - prefix) - (double) tail * log (x[k]);
      prefix += log (x[k]);
      if (!(spread > 0))
        continue; /* all equal: no exponent */
      double alpha = 1 + (double) tail / spread;
      double ks = spectral_ks (x + k, tail, x[k], alpha);
      if (!(ks >= fit->ks)) /* strictly smaller wins, so ties keep the longer tail */
        {
          fit->alpha = alpha;
          fit->xmin = x[k];
          fit->ks = ks;
          fit->n_tail = (int) tail;
        }
    }
  free (x);
  return NFN_OK;
}

nfn_status
nfn_spectral_esd (const float *matrix, int rows, int cols, double *eigenvalues)
{
  if (!matrix || !eigenvalues || rows < 1 || cols < 1)
    return NFN_ERR_ARG;
  /* gsl_linalg_SV_decomp wants M ≥ N: take Wᵀ for a wide W (same singular values) */
  int tall = rows >= cols, M = tall ? rows : cols, N = tall ? cols : rows;
  gsl_matrix *A = gsl_matrix_alloc ((size_t) M, (size_t) N);
  gsl_matrix *V = gsl_matrix_alloc ((size_t) N, (size_t) N);
  gsl_vector *S = gsl_vector_alloc ((size_t) N), *work = gsl_vector_alloc ((size_t) N);
  nfn_status status = NFN_OK;
  if (!A || !V || !S || !work)
    status = NFN_ERR_NOMEM;
  for (int r = 0; status == NFN_OK && r < rows; r++)
    for (int q = 0; q < cols; q++)
      {
        double v = matrix[(size_t) r * cols + q];
        if (!isfinite (v))
          {
            status = NFN_ERR_NONFINITE;
            break;
          }
        gsl_matrix_set (A, (size_t) (tall ? r : q), (size_t) (tall ? q : r), v);
      }
  if (status == NFN_OK)
    {
      /* GSL reports instead of aborting while this call runs */
      gsl_error_handler_t *previous = gsl_set_error_handler_off ();
      int gsl_status = gsl_linalg_SV_decomp (A, V, S, work);
      gsl_set_error_handler (previous);
      if (gsl_status != GSL_SUCCESS)
        status = NFN_ERR_NOT_CONVERGED;
    }
  if (status == NFN_OK)
    for (int k = 0; k < N; k++) /* GSL returns them descending */
      eigenvalues[k] = gsl_vector_get (S, (size_t) k) * gsl_vector_get (S, (size_t) k);
  gsl_matrix_free (A);
  gsl_matrix_free (V);
  gsl_vector_free (S);
  gsl_vector_free (work);
  return status;
}

nfn_status
nfn_spectral_network (const nfn_feature *weights, int net, nfn_powerlaw_fit *layer_fits, double *mean_alpha)
{
  if (!weights || !mean_alpha || weights->C != 1 || net < 0 || net >= weights->B)
    return NFN_ERR_ARG;
  const nfn_space *s = &weights->space;
  *mean_alpha = NAN;
  double sum = 0;
  int fitted = 0;
  nfn_status status = NFN_OK;
  for (int i = 1; status == NFN_OK && i <= s->L; i++)
    {
      int rows = s->n[i], cols = s->n[i - 1] * s->f[i], m = rows < cols ? rows : cols;
      size_t per = (size_t) rows * cols;
      double *eigenvalues = malloc ((size_t) m * sizeof *eigenvalues);
      if (!eigenvalues)
        return NFN_ERR_NOMEM;
      nfn_powerlaw_fit fit;
      status = nfn_spectral_esd (weights->t[nfn_tensor_weight (i)] + (size_t) net * per, rows, cols, eigenvalues);
      if (status == NFN_OK)
        {
          /* rank deficiency shows as eigenvalues at rounding level: they are zeros */
          double floor = eigenvalues[0] * 1e-12;
          for (int k = 0; k < m; k++)
            if (eigenvalues[k] <= floor)
              eigenvalues[k] = 0;
          status = nfn_powerlaw_fit_values (eigenvalues, (size_t) m, NFN_SPECTRAL_MIN_TAIL, &fit);
        }
      free (eigenvalues);
      if (status != NFN_OK)
        break;
      if (layer_fits)
        layer_fits[i - 1] = fit;
      if (isfinite (fit.alpha))
        {
          sum += fit.alpha;
          fitted++;
        }
    }
  if (status == NFN_OK && fitted > 0)
    *mean_alpha = sum / fitted;
  return status;
}
