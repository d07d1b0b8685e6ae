#include "testutil.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <string.h>

gsl_rng *
tu_rng (void)
{
  gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (rng, (unsigned long) g_test_rand_int ());
  return rng;
}

void
tu_fill_uniform (float *x, size_t n, double lo, double hi, gsl_rng *rng)
{
  for (size_t i = 0; i < n; i++)
    x[i] = (float) (lo + (hi - lo) * gsl_rng_uniform (rng));
}

void
tu_fill_normal (float *x, size_t n, double sigma, gsl_rng *rng)
{
  for (size_t i = 0; i < n; i++)
    x[i] = (float) gsl_ran_gaussian (rng, sigma);
}

void
tu_feature_normal (nfn_feature *feat, gsl_rng *rng)
{
  for (int t = 0; t < nfn_tensor_count (&feat->space); t++)
    tu_fill_normal (feat->t[t], (size_t) feat->B * feat->C * nfn_tensor_entries (&feat->space, t), 1.0, rng);
}

double
tu_dot (const float *a, const float *b, size_t n)
{
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += (double) a[i] * (double) b[i];
  return s;
}

double
tu_feature_dot (const nfn_feature *a, const nfn_feature *b)
{
  double s = 0;
  for (int t = 0; t < nfn_tensor_count (&a->space); t++)
    s += tu_dot (a->t[t], b->t[t], (size_t) a->B * a->C * nfn_tensor_entries (&a->space, t));
  return s;
}

double
tu_grad_check (tu_loss_fn loss, void *ctx, float *x, const float *grad, size_t n, int count,
               double h, double floor, gsl_rng *rng)
{
  double worst = 0;
  size_t checks = (count <= 0 || (size_t) count >= n) ? n : (size_t) count;
  for (size_t c = 0; c < checks; c++)
    {
      size_t e = checks == n ? c : (size_t) gsl_rng_uniform_int (rng, n);
      float saved = x[e];
      x[e] = (float) (saved + h);
      double up = loss (ctx);
      x[e] = (float) (saved - h);
      double down = loss (ctx);
      x[e] = saved;
      /* divide by the step actually taken in float, not the nominal h */
      double step = (double) (float) (saved + h) - (double) (float) (saved - h);
      double fd = (up - down) / step;
      double err = fabs (fd - grad[e]) / fmax (fabs (fd) + fabs (grad[e]), floor);
      if (!(err <= worst))
        worst = err;
    }
  return worst;
}

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

double
tu_directional_check (tu_loss_fn loss, void *ctx, float *x, const float *grad, size_t n, int directions,
                      double h, double floor, gsl_rng *rng)
{
  g_assert_cmpint (directions, >=, 1);
  float *saved = g_memdup2 (x, n * sizeof (float));
  float *d = g_new (float, n);
  double *errors = g_new (double, directions);
  for (int k = 0; k < directions; k++)
    {
      tu_fill_normal (d, n, h, rng);
      double predicted = 0;
      for (size_t e = 0; e < n; e++)
        {
          x[e] = saved[e] + d[e];
          d[e] = x[e] - saved[e]; /* the step float can represent */
          predicted += (double) grad[e] * d[e];
        }
      double up = loss (ctx);
      for (size_t e = 0; e < n; e++)
        x[e] = saved[e] - d[e];
      double down = loss (ctx);
      memcpy (x, saved, n * sizeof (float));
      double fd = (up - down) / 2;
      double err = fabs (fd - predicted) / fmax (fabs (fd) + fabs (predicted), floor);
      errors[k] = isnan (err) ? INFINITY : err;
    }
  qsort (errors, (size_t) directions, sizeof *errors, compare_doubles);
  double median = errors[directions / 2];
  g_free (errors);
  g_free (d);
  g_free (saved);
  return median;
}
