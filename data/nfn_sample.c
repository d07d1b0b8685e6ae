#include "nfn_sample.h"

#include <gsl/gsl_rng.h>

#define NFN_SAMPLE_SEED 20230228 /* the NFN paper's arXiv date */

NfnNetwork *
nfn_sample_network (void)
{
  const int widths[] = { 2, 32, 32, 1 };
  nfn_arch arch;
  if (nfn_arch_siren (&arch, 3, widths, 30.0f) != NFN_OK)
    return NULL;
  NfnNetwork *net = nfn_network_new (&arch);
  gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (rng, NFN_SAMPLE_SEED);
  nfn_net_init (&arch, &net->weights, rng);
  gsl_rng_free (rng);
  g_free (net->path);
  net->path = g_strdup ("sample-siren");
  return net;
}
