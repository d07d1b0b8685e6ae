/* test-spectral.c — the WeightWatcher-style baseline: power-law fits and weight spectra.
 *
 * Checked against independent computations: a three-point fit worked out by hand; exponents
 * recovered from samples with a known power law (exact quantiles, and a random tail above a
 * bulk, where the KS choice of x_min must find the tail); the spectrum of U·diag(s)·Vᵀ built
 * from random orthogonal U, V is s²; a network's per-layer α is unchanged by a hidden-neuron
 * permutation.
 *
 * Shape letters: n values, R×Q a matrix, m = min(R, Q). */
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <math.h>

#include "nfn_cnn_train.h"
#include "nfn_perm.h"
#include "nfn_spectral.h"
#include "testutil.h"

/* n values whose k-th is the (k + ½)/n quantile of the power law with exponent α above xmin:
 * x = xmin·(1 − u)^(−1/(α−1)). Ascending. */
static void
powerlaw_quantiles (double *x, int n, double alpha, double xmin)
{
  for (int k = 0; k < n; k++)
    x[k] = xmin * pow (1 - (k + 0.5) / n, -1 / (alpha - 1));
}

/* {1, 2, 4}: one candidate (x_min = 1), α = 1 + 3 / (ln 1 + ln 2 + ln 4) = 1 + 1/ln 2, and the
 * KS distance is the 1/3 jump at x = 1 where the model's CDF is 0. */
static void
test_fit_by_hand (void)
{
  const double values[] = { 4, 1, 0, 2, -3 }; /* zero and negative are dropped */
  nfn_powerlaw_fit fit;
  g_assert_cmpint (nfn_powerlaw_fit_values (values, 5, 3, &fit), ==, NFN_OK);
  g_assert_cmpfloat_with_epsilon (fit.alpha, 1 + 1 / log (2.0), 1e-12);
  g_assert_cmpfloat (fit.xmin, ==, 1);
  g_assert_cmpint (fit.n_tail, ==, 3);
  g_assert_cmpfloat_with_epsilon (fit.ks, 1.0 / 3, 1e-12);
  /* too few values, or all equal: no fit, no error */
  g_assert_cmpint (nfn_powerlaw_fit_values (values, 2, 3, &fit), ==, NFN_OK);
  g_assert_true (isnan (fit.alpha));
  const double same[] = { 2, 2, 2, 2 };
  g_assert_cmpint (nfn_powerlaw_fit_values (same, 4, 3, &fit), ==, NFN_OK);
  g_assert_true (isnan (fit.alpha));
  const double bad[] = { 1, NAN, 3 };
  g_assert_cmpint (nfn_powerlaw_fit_values (bad, 3, 3, &fit), ==, NFN_ERR_NONFINITE);
  g_assert_cmpint (nfn_powerlaw_fit_values (values, 5, 1, &fit), ==, NFN_ERR_ARG);
}

/* Exact quantiles of power laws with α = 2, 2.5, 4: the fit recovers α. */
static void
test_fit_recovers_alpha (void)
{
  const double alphas[] = { 2.0, 2.5, 4.0 };
  double x[400];
  for (int a = 0; a < 3; a++)
    {
      powerlaw_quantiles (x, 400, alphas[a], 0.7);
      nfn_powerlaw_fit fit;
      g_assert_cmpint (nfn_powerlaw_fit_values (x, 400, NFN_SPECTRAL_MIN_TAIL, &fit), ==, NFN_OK);
      g_test_message ("alpha %.2f: fitted %.4f, xmin %.3f, tail %d, KS %.4f", alphas[a], fit.alpha, fit.xmin,
                      fit.n_tail, fit.ks);
      g_assert_cmpfloat (fabs (fit.alpha - alphas[a]), <, 0.05 * alphas[a]);
      g_assert_cmpint (fit.n_tail, >=, 100);
    }
}

/* A bulk below 1 (uniform) and a random power-law tail above 1 (α = 3): choosing x_min by the
 * KS distance finds the tail's start and its exponent. */
static void
test_fit_finds_tail (void)
{
  gsl_rng *rng = tu_rng ();
  enum { HALF = 2000 };
  double *x = g_new (double, 2 * HALF);
  for (int k = 0; k < HALF; k++)
    x[k] = 0.05 + 0.9 * gsl_rng_uniform (rng);
  for (int k = HALF; k < 2 * HALF; k++)
    x[k] = pow (1 - gsl_rng_uniform (rng), -1 / 2.0); /* α = 3, xmin = 1 */
  nfn_powerlaw_fit fit;
  g_assert_cmpint (nfn_powerlaw_fit_values (x, 2 * HALF, NFN_SPECTRAL_MIN_TAIL, &fit), ==, NFN_OK);
  g_test_message ("bulk + tail: alpha %.3f (3), xmin %.3f (1), tail %d (%d), KS %.4f", fit.alpha, fit.xmin, fit.n_tail,
                  HALF, fit.ks);
  g_assert_cmpfloat (fit.xmin, >=, 0.9);
  g_assert_cmpfloat (fit.xmin, <=, 3.0);
  g_assert_cmpfloat (fabs (fit.alpha - 3), <, 0.4);
  /* with x_min forced to the smallest value the bulk spoils the fit: the KS choice matters */
  nfn_powerlaw_fit whole;
  g_assert_cmpint (nfn_powerlaw_fit_values (x, 2 * HALF, 2 * HALF - 1, &whole), ==, NFN_OK);
  g_assert_cmpfloat (whole.ks, >, 2 * fit.ks);
  g_free (x);
  gsl_rng_free (rng);
}

/* A random R×R orthogonal matrix: Q of the QR decomposition of a Gaussian matrix. */
static gsl_matrix *
random_orthogonal (int R, gsl_rng *rng)
{
  gsl_matrix *A = gsl_matrix_alloc (R, R), *Q = gsl_matrix_alloc (R, R), *Rm = gsl_matrix_alloc (R, R);
  gsl_vector *tau = gsl_vector_alloc (R);
  for (int r = 0; r < R; r++)
    for (int c = 0; c < R; c++)
      gsl_matrix_set (A, r, c, gsl_ran_gaussian (rng, 1));
  gsl_linalg_QR_decomp (A, tau);
  gsl_linalg_QR_unpack (A, tau, Q, Rm);
  gsl_matrix_free (A);
  gsl_matrix_free (Rm);
  gsl_vector_free (tau);
  return Q;
}

/* W = U·diag(s)·Vᵀ (R×Q, s² power-law quantiles with α = 2.5): the ESD is s², descending, for a
 * wide and a tall W, and the fit of it recovers α. */
static void
test_esd_of_known_spectrum (void)
{
  gsl_rng *rng = tu_rng ();
  const int shapes[2][2] = { { 60, 90 }, { 90, 60 } };
  for (int k = 0; k < 2; k++)
    {
      int R = shapes[k][0], Q = shapes[k][1], m = R < Q ? R : Q;
      double *s2 = g_new (double, m), *eig = g_new (double, m);
      powerlaw_quantiles (s2, m, 2.5, 0.5);
      gsl_matrix *U = random_orthogonal (R, rng), *V = random_orthogonal (Q, rng);
      float *W = g_new0 (float, R * Q);
      for (int r = 0; r < R; r++)
        for (int q = 0; q < Q; q++)
          {
            double sum = 0;
            for (int j = 0; j < m; j++)
              sum += gsl_matrix_get (U, r, j) * sqrt (s2[j]) * gsl_matrix_get (V, q, j);
            W[r * Q + q] = (float) sum;
          }
      g_assert_cmpint (nfn_spectral_esd (W, R, Q, eig), ==, NFN_OK);
      double worst = 0;
      for (int j = 0; j < m; j++) /* s2 ascends, eig descends */
        worst = fmax (worst, fabs (eig[j] - s2[m - 1 - j]) / s2[m - 1 - j]);
      nfn_powerlaw_fit fit;
      g_assert_cmpint (nfn_powerlaw_fit_values (eig, m, NFN_SPECTRAL_MIN_TAIL, &fit), ==, NFN_OK);
      g_test_message ("%dx%d: eigenvalues vs s^2 worst relative error %.2e; alpha %.3f (2.5), tail %d of %d", R, Q,
                      worst, fit.alpha, fit.n_tail, m);
      g_assert_cmpfloat (worst, <, 1e-4);
      g_assert_cmpfloat (fabs (fit.alpha - 2.5), <, 0.25);
      gsl_matrix_free (U);
      gsl_matrix_free (V);
      g_free (W);
      g_free (s2);
      g_free (eig);
    }
  gsl_rng_free (rng);
}

/* The zoo's CNN: layer i's matrix is W_i as (n_i, n_{i-1}·f_i); per-layer α is the fit of
 * that matrix's ESD, the mean is their mean, and a hidden-neuron permutation changes neither
 * (it permutes rows and columns, which leaves singular values alone). */
static void
test_network_alpha (void)
{
  gsl_rng *rng = tu_rng ();
  nfn_arch arch;
  g_assert_cmpint (nfn_cnn_zoo_arch (&arch, NFN_ACT_RELU, 28, 28), ==, NFN_OK);
  const nfn_space *s = &arch.space;
  nfn_feature w, pw;
  g_assert_cmpint (nfn_feature_alloc (&w, s, 2, 1), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&pw, s, 2, 1), ==, NFN_OK);
  tu_feature_normal (&w, rng);
  /* give network 1 heavy-tailed weights (Cauchy), network 0 stays Gaussian */
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      size_t per = nfn_tensor_entries (s, t);
      for (size_t e = 0; e < per; e++)
        w.t[t][per + e] = (float) gsl_ran_cauchy (rng, 1);
    }
  nfn_perm perm;
  g_assert_cmpint (nfn_perm_alloc (&perm, s), ==, NFN_OK);
  nfn_perm_random (&perm, NFN_SYM_HNP, rng);
  g_assert_cmpint (nfn_perm_apply (&perm, &w, &pw), ==, NFN_OK);
  double means[2];
  for (int b = 0; b < 2; b++)
    {
      nfn_powerlaw_fit fits[4], pfits[4];
      double mean, pmean, sum = 0;
      int count = 0;
      g_assert_cmpint (nfn_spectral_network (&w, b, fits, &mean), ==, NFN_OK);
      g_assert_cmpint (nfn_spectral_network (&pw, b, pfits, &pmean), ==, NFN_OK);
      for (int i = 1; i <= 4; i++)
        {
          int R = s->n[i], Q = s->n[i - 1] * s->f[i], m = R < Q ? R : Q;
          double eig[16];
          nfn_powerlaw_fit fit;
          g_assert_cmpint (nfn_spectral_esd (w.t[nfn_tensor_weight (i)] + (size_t) b * R * Q, R, Q, eig), ==, NFN_OK);
          g_assert_cmpint (nfn_powerlaw_fit_values (eig, m, NFN_SPECTRAL_MIN_TAIL, &fit), ==, NFN_OK);
          g_assert_cmpfloat (fits[i - 1].alpha, ==, fit.alpha);
          g_assert_cmpfloat (fabs (pfits[i - 1].alpha - fit.alpha), <, 1e-6 * fit.alpha);
          g_assert_cmpint (fits[i - 1].n_tail, <=, m);
          sum += fit.alpha;
          count++;
        }
      g_assert_cmpfloat_with_epsilon (mean, sum / count, 1e-12);
      g_assert_cmpfloat (fabs (pmean - mean), <, 1e-6 * mean);
      means[b] = mean;
      g_test_message ("network %d (%s): alpha per layer %.2f %.2f %.2f %.2f, mean %.3f", b, b ? "Cauchy" : "Gaussian",
                      fits[0].alpha, fits[1].alpha, fits[2].alpha, fits[3].alpha, mean);
    }
  /* heavier-tailed weights give heavier-tailed spectra: a smaller α */
  g_assert_cmpfloat (means[1], <, means[0]);
  nfn_perm_free (&perm);
  nfn_feature_free (&w);
  nfn_feature_free (&pw);
  gsl_rng_free (rng);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/spectral/fit-by-hand", test_fit_by_hand);
  g_test_add_func ("/spectral/fit-recovers-alpha", test_fit_recovers_alpha);
  g_test_add_func ("/spectral/fit-finds-tail", test_fit_finds_tail);
  g_test_add_func ("/spectral/esd-of-known-spectrum", test_esd_of_known_spectrum);
  g_test_add_func ("/spectral/network-alpha", test_network_alpha);
  return g_test_run ();
}
