#include "nfn_sample.h"

#include "nfn_datasets.h"
#include "nfn_fit.h"

#define NFN_SAMPLE_SEED 20230228 /* the NFN paper's arXiv date */
#define NFN_SAMPLE_DATASET "fashion-mnist"
#define NFN_SAMPLE_SPLIT "test"

float *
nfn_sample_source_image (int *rows, int *cols)
{
  g_autoptr (NfnDataset) ds = nfn_dataset_load (NFN_SAMPLE_DATASET, NFN_SAMPLE_SPLIT, 1, NULL);
  if (!ds || ds->count < 1)
    return NULL;
  *rows = ds->rows;
  *cols = ds->cols;
  return g_memdup2 (ds->images, (gsize) ds->rows * ds->cols * sizeof (float));
}

NfnNetwork *
nfn_sample_network_seeded (guint64 seed)
{
  nfn_arch arch;
  nfn_fit_default_arch (&arch);
  NfnNetwork *net = nfn_network_new (&arch);
  int rows = 0, cols = 0;
  g_autofree float *image = nfn_sample_source_image (&rows, &cols);
  float psnr = 0;
  gboolean fitted = FALSE;
  if (image)
    {
      nfn_fit_options opt;
      nfn_fit_options_init (&opt);
      opt.seed = seed;
      const uint64_t id = 0;
      fitted = nfn_fit_sirens (&arch, &net->weights, image, rows, cols, &id, &opt, &psnr) == NFN_OK;
    }
  if (!fitted)
    nfn_fit_init_network (&arch, &net->weights, 0, seed, 0);
  g_free (net->path);
  net->path = g_strdup (seed == NFN_SAMPLE_SEED ? "sample-siren" : "sample-siren-twin");
  g_autofree char *psnr_text = g_strdup_printf ("%.2f", psnr);
  /* the same keys a zoo network carries, so `nfn render` and the GUI find the source image */
  const char *keys[] = { "nfn.zoo.dataset", "nfn.zoo.split", "nfn.zoo.image", "nfn.psnr", "nfn.sample.fitted" };
  const char *values[] = { NFN_SAMPLE_DATASET, NFN_SAMPLE_SPLIT, "0", psnr_text, fitted ? "yes" : "no" };
  for (int k = 0; k < 5; k++)
    {
      if (!g_hash_table_contains (net->metadata, keys[k]))
        g_ptr_array_add (net->metadata_keys, g_strdup (keys[k]));
      g_hash_table_insert (net->metadata, g_strdup (keys[k]), g_strdup (values[k]));
    }
  return net;
}

NfnNetwork *
nfn_sample_network (void)
{
  return nfn_sample_network_seeded (NFN_SAMPLE_SEED);
}
