/* nfn_zoo.h — zoos of SIRENs fitted to real images, on disk (DESIGN.md §4).
 *
 * A zoo is a directory:
 *   zoo.json                  the manifest: {"format": "nfn-zoo", "version": 1, architecture,
 *                             dataset, split, count, refits, networks, steps, lr, seed,
 *                             shard_size, image rows/cols}
 *   shard-00000.safetensors … networks [k·shard_size, (k+1)·shard_size), F32, one tensor per
 *                             layer with a leading network axis (K):
 *                               "layers.0.weight" (K, 32, 2)  "layers.0.bias" (K, 32)
 *                               "layers.1.weight" (K, 32, 32) "layers.1.bias" (K, 32)
 *                               "layers.2.weight" (K, 1, 32)  "layers.2.bias" (K, 1)
 *                             and per network "label", "psnr" (dB), "source_index" (the image's
 *                             index in its source file), "refit" (0 … refits), all (K) F32.
 * Networks are ordered image-major: network n fits image n / (1 + refits) of the split (the
 * images in the data set's order) from fresh init n % (1 + refits) (nfn_fit_init_network with
 * the zoo's seed and id n). A PyTorch user reads a shard with safetensors.torch.load_file.
 *
 * Fitting is resumable: each shard is fitted, then written atomically (temp file + rename),
 * so a fit killed at any moment leaves complete shards and at most a stray temp file, which
 * the next fit removes. A restarted fit skips complete shards and refuses other settings.
 * Errors are one line, "PATH: fault", in NFN_DATA_ERROR.
 */
#ifndef NFN_ZOO_H
#define NFN_ZOO_H

#include <glib.h>
#include "nfn_fit.h"
#include "nfn_network.h"
#include "nfn_store.h"

G_BEGIN_DECLS

#define NFN_ZOO_FORMAT "nfn-zoo"
#define NFN_ZOO_VERSION 1
#define NFN_ZOO_DEFAULT_SHARD_SIZE 1024

/* What a zoo is: the fit settings recorded in its manifest. */
typedef struct {
  char *dataset;    /* "fashion-mnist" | "mnist" */
  char *split;      /* "train" | "test" | … */
  int count;        /* images; 0 in a request means the whole split */
  int refits;       /* extra fits per image (≥ 0) */
  int steps;
  double lr;
  guint64 seed;
  int shard_size;   /* networks per shard */
  int rows, cols;   /* image size (28 × 28) */
  nfn_arch arch;
} NfnZooSettings;

/* Defaults: the fashion-mnist train split, all images, no refits, NFN_FIT_DEFAULT_STEPS/_LR,
 * seed 0, NFN_ZOO_DEFAULT_SHARD_SIZE, the 2→32→32→1 SIREN. Clear with nfn_zoo_settings_clear. */
void nfn_zoo_settings_init (NfnZooSettings *settings);
void nfn_zoo_settings_clear (NfnZooSettings *settings);
/* Networks the zoo holds: count·(1 + refits). */
gint64 nfn_zoo_settings_networks (const NfnZooSettings *settings);

/* PSNR distribution of n networks (+inf for exact fits sorts last). Percentiles interpolate
 * linearly between order statistics, as numpy.percentile does by default. */
typedef struct {
  gsize count;
  double mean, min, max, p5, p50, p95;
} NfnZooPsnrSummary;
void nfn_zoo_psnr_summary (const float *psnr, gsize n, NfnZooPsnrSummary *out);

/* ---- Fitting ---- */

typedef struct {
  int threads;
  /* networks done (skipped complete shards count as done) of total, and how many of them
   * this call fitted (for a rate); called on the calling thread's behalf from a worker. */
  void (*progress) (gint64 done, gint64 total, gint64 fitted, gpointer user_data);
  gpointer user_data;
  volatile int *cancel; /* may be NULL */
  /* Called after each shard is written and registered (NULL to skip). */
  void (*shard_done) (int shard, int networks, double mean_psnr, double inrs_per_s, gpointer user_data);
} NfnZooFitCallbacks;

/* What a finished (or cancelled) fit call did. */
typedef struct {
  gint64 networks;        /* networks in complete shards after the call */
  gint64 fitted;          /* of which this call fitted */
  int shards_skipped;     /* complete shards found on resume */
  double seconds;         /* wall time of the fitting */
  gint64 run_id;          /* the store's run (0 without a store) */
  NfnZooPsnrSummary psnr; /* over the networks in complete shards */
} NfnZooFitReport;

/* Fits the zoo described by `settings` (count 0 = the whole split) into directory `dir`,
 * creating it, or resuming it when its manifest matches (otherwise one-line error naming the
 * setting that differs). `store` may be NULL; with one, the zoo is registered, every shard's
 * networks are added, and the call is a run (task "zoo-fit") with per-shard metrics
 * "zoo/mean_psnr" and "zoo/inrs_per_s". Cancelling keeps the finished shards and fails with
 * G_IO_ERROR_CANCELLED. */
gboolean nfn_zoo_fit (const NfnZooSettings *settings, const char *dir, NfnStore *store,
                      const NfnZooFitCallbacks *callbacks, NfnZooFitReport *report, GError **error);

/* ---- Reading ---- */

typedef struct _NfnZooDir NfnZooDir;

/* Reads the manifest (format and version checked) and notes which shards exist. */
NfnZooDir *nfn_zoo_dir_open (const char *dir, GError **error);
void nfn_zoo_dir_free (NfnZooDir *zoo);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfnZooDir, nfn_zoo_dir_free)

const char *nfn_zoo_dir_path (const NfnZooDir *zoo);
const NfnZooSettings *nfn_zoo_dir_settings (const NfnZooDir *zoo);
/* Networks the finished zoo holds, and those in shards present now (less while fitting). */
gint64 nfn_zoo_dir_count (const NfnZooDir *zoo);
gint64 nfn_zoo_dir_available (const NfnZooDir *zoo);
int nfn_zoo_dir_shard_count (const NfnZooDir *zoo);
/* Absolute path of shard k (newly allocated). */
char *nfn_zoo_dir_shard_path (const NfnZooDir *zoo, int shard);

/* What the zoo records about one network. */
typedef struct {
  gint64 index;        /* in the zoo */
  gint64 image;        /* in the split */
  gint64 source_index; /* in the source file */
  int label, refit;
  float psnr;
} NfnZooEntry;

/* Network `index` with its entry (may be NULL). The network's path is "DIR:INDEX" and its
 * metadata records where it came from ("nfn.zoo.dataset", "nfn.zoo.split", "nfn.zoo.image",
 * "nfn.zoo.source_index", "nfn.zoo.label", "nfn.zoo.psnr"). */
NfnNetwork *nfn_zoo_dir_get_network (NfnZooDir *zoo, gint64 index, NfnZooEntry *entry, GError **error);
/* Networks [first, last) as one batched C = 1 feature (allocated here; free with
 * nfn_feature_free) and their labels and PSNRs (arrays of last − first, may be NULL). */
gboolean nfn_zoo_dir_load_range (NfnZooDir *zoo, gint64 first, gint64 last, nfn_feature *weights,
                                 int *labels, float *psnr, GError **error);
/* Every network's entry in zoo order, from the shards present (an array of NfnZooEntry). */
GArray *nfn_zoo_dir_entries (NfnZooDir *zoo, GError **error);

/* ---- Network specs ---- */

/* "DIR:INDEX" (a zoo directory and a network index) → TRUE with its parts; anything else
 * (a file name) → FALSE. */
gboolean nfn_zoo_parse_spec (const char *spec, char **dir, gint64 *index);
/* A network from a file, or from a zoo with "ZOO:INDEX". */
NfnNetwork *nfn_network_load_spec (const char *spec, GError **error);

G_END_DECLS
#endif
