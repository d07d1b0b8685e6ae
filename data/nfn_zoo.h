/* nfn_zoo.h — zoos of networks on disk (DESIGN.md §4): SIRENs fitted to real images, CNNs
 * trained on a data set (data/nfn_cnn_zoo.h), any architecture with per-network metrics.
 *
 * A zoo is a directory:
 *   zoo.json                  the manifest: {"format": "nfn-zoo", "version": 1, "kind",
 *                             architecture, dataset, split, count, refits, networks, seed,
 *                             shard_size, image rows/cols, "metrics": [names]} plus, for SIREN
 *                             fits, steps and lr, and for other kinds the builder's own
 *                             settings as the object "training"
 *   shard-00000.safetensors … networks [k·shard_size, (k+1)·shard_size), F32, one tensor per
 *                             layer with a leading network axis (K), e.g. for the SIREN
 *                               "layers.0.weight" (K, 32, 2)  "layers.0.bias" (K, 32)
 *                               "layers.1.weight" (K, 32, 32) "layers.1.bias" (K, 32)
 *                               "layers.2.weight" (K, 1, 32)  "layers.2.bias" (K, 1)
 *                             (conv kernels (K, n_i, n_{i-1}, kh, kw)), and one (K) F32 tensor
 *                             per metric. A SIREN fit's metrics are "label", "psnr" (dB),
 *                             "source_index" (the image's index in its source file), "refit"
 *                             (0 … refits); a CNN zoo's are its networks' accuracies and
 *                             hyperparameters.
 * SIREN fits: networks are ordered image-major: network n fits image n / (1 + refits) of the
 * split (the images in the data set's order) from fresh init n % (1 + refits)
 * (nfn_fit_init_network with the zoo's seed and id n). Other kinds: count networks, refits 0.
 * A PyTorch user reads a shard with safetensors.torch.load_file.
 *
 * Building is resumable: each shard is built, then written atomically (temp file + rename),
 * so a build killed at any moment leaves complete shards and at most a stray temp file, which
 * the next build removes. A restarted build skips complete shards and refuses other settings.
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

/* What made a zoo's networks: the manifest's "kind" (a manifest without one is a SIREN fit). */
#define NFN_ZOO_KIND_SIREN_FIT "siren-fit" /* nfn_zoo_fit */
#define NFN_ZOO_KIND_CNN_TRAIN "cnn-train" /* nfn_cnn_zoo_build (data/nfn_cnn_zoo.h) */

/* What a zoo is: the settings recorded in its manifest. */
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
  char *kind;          /* NULL = NFN_ZOO_KIND_SIREN_FIT; steps and lr are a SIREN fit's only */
  char **metrics;      /* NULL-terminated per-network tensor names; NULL = a SIREN fit's four */
  char *training_json; /* other kinds: the builder's settings (a JSON object), or NULL */
} NfnZooSettings;

/* Defaults: the fashion-mnist train split, all images, no refits, NFN_FIT_DEFAULT_STEPS/_LR,
 * seed 0, NFN_ZOO_DEFAULT_SHARD_SIZE, the 2→32→32→1 SIREN. Clear with nfn_zoo_settings_clear. */
void nfn_zoo_settings_init (NfnZooSettings *settings);
void nfn_zoo_settings_clear (NfnZooSettings *settings);
/* The kind, with the default filled in. */
const char *nfn_zoo_settings_kind (const NfnZooSettings *settings);
/* The per-network metric names, with a SIREN fit's default filled in (NULL-terminated). */
const char *const *nfn_zoo_settings_metrics (const NfnZooSettings *settings);
/* Networks the zoo holds: count·(1 + refits). */
gint64 nfn_zoo_settings_networks (const NfnZooSettings *settings);

/* PSNR distribution of n networks (+inf for exact fits sorts last), or of any other metric.
 * Percentiles interpolate linearly between order statistics, as numpy.percentile does by
 * default. */
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
  gint64 grown_from;      /* networks the zoo held before this call grew it, else 0 */
  double seconds;         /* wall time of the fitting */
  gint64 run_id;          /* the store's run (0 without a store) */
  NfnZooPsnrSummary psnr; /* the builder's quality metric (PSNR for SIREN fits) over the
                             networks in complete shards */
} NfnZooFitReport;

/* Fits the zoo described by `settings` (count 0 = the whole split) into directory `dir`,
 * creating it, resuming it when its manifest matches, or growing it when only the count is
 * larger (otherwise one-line error naming the setting that differs). `store` may be NULL; with one, the zoo is registered, every shard's
 * networks are added, and the call is a run (task "zoo-fit") with per-shard metrics
 * "zoo/mean_psnr" and "zoo/inrs_per_s". Cancelling keeps the finished shards and fails with
 * G_IO_ERROR_CANCELLED. */
gboolean nfn_zoo_fit (const NfnZooSettings *settings, const char *dir, NfnStore *store,
                      const NfnZooFitCallbacks *callbacks, NfnZooFitReport *report, GError **error);

/* ---- Building any kind of zoo ---- */

/* What a builder gets to build one shard. */
typedef struct {
  const char *path;                                  /* the shard file, for error messages */
  int threads;
  volatile int *cancel;                              /* may be NULL */
  void (*progress) (int done, int total, void *data); /* networks of this shard finished */
  void *progress_data;
} NfnZooShardJob;

typedef struct {
  const char *run_task;       /* the store run's task, e.g. "zoo-fit" */
  const char *run_model;      /* its model, e.g. "siren" */
  const char *description;    /* the zoo artifact's description */
  const char *quality;        /* the metric the store's quality column, the shard metrics
                                 "zoo/mean_<quality>" and the report summarise, e.g. "psnr" */
  const char *rate;           /* the speed metric's name, e.g. "inrs_per_s" */
  /* Builds networks [first, first + K) into weights (K networks, C = 1, zeroed) and their
   * metrics into values (n_metrics, K), metric-major in the settings' order. A cancel fails
   * with G_IO_ERROR_CANCELLED (the loop words the message). */
  gboolean (*build_shard) (gpointer self, gint64 first, int K, const NfnZooShardJob *job, nfn_feature *weights,
                           float *values, GError **error);
  /* Network n depends on the settings and n alone, never on the count: then a request that
   * differs from the zoo only in a larger count grows it (its shards kept, a partial last
   * shard rebuilt) instead of failing. */
  gboolean grows;
  gpointer self;
} NfnZooBuilder;

/* Builds (or resumes) the zoo `settings` describes (count = networks / (1 + refits), the
 * kind, metrics and training settings as recorded) into `dir` with `builder`, shard by shard,
 * exactly as nfn_zoo_fit does for SIRENs: manifest, stray temps, store registration (label
 * and source_index from the metrics of those names when present, else −1 and the index;
 * quality from builder->quality), a run with per-shard metrics, cancelling. */
gboolean nfn_zoo_build (const NfnZooSettings *settings, const char *dir, NfnStore *store,
                        const NfnZooBuilder *builder, const NfnZooFitCallbacks *callbacks,
                        NfnZooFitReport *report, GError **error);

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
 * "nfn.zoo.source_index", "nfn.zoo.label", "nfn.zoo.psnr" for SIREN fits; other kinds
 * "nfn.zoo.dataset", "nfn.zoo.index" and "nfn.zoo.<metric>" for every metric). A zoo whose
 * networks differ in activation has the metric "activation" (an nfn_activation value): the
 * network gets its own. */
NfnNetwork *nfn_zoo_dir_get_network (NfnZooDir *zoo, gint64 index, NfnZooEntry *entry, GError **error);
/* Networks [first, last) as one batched C = 1 feature (allocated here; free with
 * nfn_feature_free) and their labels and PSNRs (arrays of last − first, may be NULL). */
gboolean nfn_zoo_dir_load_range (NfnZooDir *zoo, gint64 first, gint64 last, nfn_feature *weights,
                                 int *labels, float *psnr, GError **error);
/* Every network's entry in zoo order, from the shards present (an array of NfnZooEntry).
 * Zoos without a SIREN fit's metrics give label −1, psnr NAN, source_index = index. */
GArray *nfn_zoo_dir_entries (NfnZooDir *zoo, GError **error);
/* Metric `name` (one of nfn_zoo_settings_metrics) of networks [first, last) into values
 * (last − first). */
gboolean nfn_zoo_dir_load_metric (NfnZooDir *zoo, const char *name, gint64 first, gint64 last, float *values,
                                  GError **error);

/* ---- Network specs ---- */

/* "DIR:INDEX" (a zoo directory and a network index) → TRUE with its parts; anything else
 * (a file name) → FALSE. */
gboolean nfn_zoo_parse_spec (const char *spec, char **dir, gint64 *index);
/* A network from a file, or from a zoo with "ZOO:INDEX". */
NfnNetwork *nfn_network_load_spec (const char *spec, GError **error);

/* The image a network was fitted to, named by the metadata a zoo network (and the built-in
 * sample) carries: "nfn.zoo.dataset", "nfn.zoo.split", "nfn.zoo.image". Returns its pixels
 * (rows·cols, row-major, in [0, 1]), its size and a caption such as
 * "fashion-mnist test #0 (Ankle boot)" (caption may be NULL). NULL without an error when the
 * network names no image; NULL with an error when the image it names cannot be read. */
float *nfn_network_source_image (const NfnNetwork *net, int *rows, int *cols, char **caption, GError **error);

G_END_DECLS
#endif
