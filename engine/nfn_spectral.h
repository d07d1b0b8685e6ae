/* nfn_spectral.h — a data-free baseline in the spirit of WeightWatcher (Martin & Mahoney):
 * the power-law exponent α of each layer's eigenvalue spectrum, averaged per network.
 *
 * Shape letters: L layers, n_i widths, f_i filter positions, R×Q a layer's matrix
 * (R = n_i rows, Q = n_{i-1}·f_i columns: a conv kernel (n_i, n_{i-1}, kh, kw) is reshaped so),
 * m = min(R, Q) eigenvalues, n values of a sample.
 *
 * Per layer: the eigenvalues of WᵀW are the squared singular values of W (GSL's
 * gsl_linalg_SV_decomp, in double); the zero ones a wide or tall matrix adds are left out.
 * The fit is Clauset, Shalizi & Newman (2009), as WeightWatcher's powerlaw package does it:
 * for each candidate x_min (every distinct value that leaves at least min_tail values
 * ≥ x_min), the continuous maximum-likelihood exponent of the tail,
 *     α = 1 + n_tail / Σ_{x ≥ x_min} ln(x / x_min),
 * and the Kolmogorov–Smirnov distance between the tail's empirical CDF and the power law's
 * P(x) = 1 − (x / x_min)^(1 − α); the x_min with the smallest distance wins (ties: the
 * smaller x_min, i.e. the longer tail). A smaller α means a heavier tail, which WeightWatcher
 * reads as a better-trained layer: −α is the predictor of accuracy.
 */
#ifndef NFN_SPECTRAL_H
#define NFN_SPECTRAL_H

#include "nfn_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The fewest values a tail may hold: a 2-point tail fits almost any exponent. */
#define NFN_SPECTRAL_MIN_TAIL 3

typedef struct {
  double alpha;  /* NAN when no tail qualifies */
  double xmin;
  double ks;     /* KS distance of the chosen fit */
  int n_tail;    /* values ≥ xmin */
} nfn_powerlaw_fit;

/* Fits n values (positive ones are used; zeros and negatives are dropped). NFN_ERR_ARG for
 * min_tail < 2; NFN_ERR_NONFINITE for a NaN or Inf; NFN_ERR_NOMEM. Fewer than min_tail
 * positive values (or all equal) is no error: alpha = NAN. */
nfn_status nfn_powerlaw_fit_values (const double *values /* (n) */, size_t n, int min_tail, nfn_powerlaw_fit *fit);

/* The m = min(R, Q) eigenvalues of WᵀW (squared singular values), descending.
 * NFN_ERR_NOT_CONVERGED if GSL's SVD fails; GSL's (process-wide) error handler is off during
 * the call so that it reports instead of aborting. */
nfn_status nfn_spectral_esd (const float *matrix /* (R, Q) row-major */, int rows, int cols,
                             double *eigenvalues /* (m) */);

/* α of every layer of network `net` (weights C = 1; layer i's matrix is W_i as (n_i, n_{i-1}·f_i))
 * and their mean over layers with a fit (NAN if none). layer_fits may be NULL. */
nfn_status nfn_spectral_network (const nfn_feature *weights, int net, nfn_powerlaw_fit *layer_fits /* (L) */,
                                 double *mean_alpha);

#ifdef __cplusplus
}
#endif
#endif
