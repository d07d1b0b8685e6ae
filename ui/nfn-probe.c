/* nfn-probe.c — see nfn-probe.h. */
#include "nfn-probe.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>

#include "nfn_fit.h"

static gboolean
nfn_probe_arch_is_image (const nfn_arch *arch)
{
  return arch->kind == NFN_NET_SIREN && arch->space.n[0] == 2;
}

NfnProbe *
nfn_probe_new (const nfn_arch *arch, int grid)
{
  g_return_val_if_fail (arch != NULL && nfn_arch_check (arch) == NFN_OK, NULL);
  NfnProbe *probe = g_new0 (NfnProbe, 1);
  probe->arch = *arch;
  size_t d = nfn_net_input_size (arch);
  if (nfn_probe_arch_is_image (arch) && grid >= 2)
    {
      probe->grid = grid;
      probe->n = grid * grid;
      probe->inputs = g_new (float, (size_t) probe->n * 2);
      nfn_fit_grid (probe->inputs, grid, grid);
    }
  else
    {
      probe->n = NFN_PROBE_BATCH;
      probe->inputs = g_new (float, (size_t) probe->n * d);
      gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
      gsl_rng_set (rng, NFN_PROBE_SEED);
      for (size_t e = 0; e < (size_t) probe->n * d; e++)
        probe->inputs[e] = (float) gsl_ran_gaussian_ziggurat (rng, 1.0);
      gsl_rng_free (rng);
    }
  probe->cache = g_new0 (float, MAX (nfn_net_cache_size (arch, 1, probe->n), 1));
  return probe;
}

void
nfn_probe_free (NfnProbe *probe)
{
  if (probe == NULL)
    return;
  g_free (probe->inputs);
  g_free (probe->cache);
  g_free (probe);
}

gboolean
nfn_probe_is_image (const NfnProbe *probe)
{
  return probe->grid > 0;
}

size_t
nfn_probe_output_size (const NfnProbe *probe)
{
  return (size_t) probe->n * nfn_net_output_size (&probe->arch);
}

nfn_status
nfn_probe_run (NfnProbe *probe, const nfn_feature *weights, float *outputs)
{
  g_return_val_if_fail (probe != NULL && weights != NULL && outputs != NULL, NFN_ERR_ARG);
  return nfn_net_forward (&probe->arch, weights, probe->n, probe->inputs, 0, outputs, probe->cache);
}

const float *
nfn_probe_hidden (const NfnProbe *probe, int layer)
{
  const nfn_space *s = &probe->arch.space;
  if (layer < 1 || layer >= s->L || probe->arch.kind == NFN_NET_CNN)
    return NULL;
  /* The cache holds, per hidden layer, z_i (N, n_i) then act(z_i) (N, n_i), each block
   * rounded to the arena's alignment (nfn_nets.h). */
  size_t offset = 0;
  for (int i = 1; i < layer; i++)
    offset += 2 * nfn_arena_round ((size_t) probe->n * s->n[i]);
  return probe->cache + offset + nfn_arena_round ((size_t) probe->n * s->n[layer]);
}

double
nfn_probe_max_abs_diff (const float *a, const float *b, size_t n)
{
  double worst = 0;
  for (size_t e = 0; e < n; e++)
    {
      double d = fabs ((double) a[e] - b[e]);
      if (!(d <= worst))
        worst = d; /* NaN sticks */
    }
  return worst;
}

double
nfn_probe_mse (const float *a, const float *b, size_t n)
{
  double sum = 0;
  for (size_t e = 0; e < n; e++)
    sum += ((double) a[e] - b[e]) * ((double) a[e] - b[e]);
  return n ? sum / n : 0.0;
}
