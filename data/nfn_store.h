/* nfn_store.h — the experiment store: one SQLite file holding experiments, runs, metric
 * series, artifacts, and zoos with their networks (DESIGN.md §4).
 *
 * WAL mode, foreign keys on, schema version in PRAGMA user_version with migrations, every write
 * in a transaction. A run whose writer died (killed, crashed) keeps every committed step and is
 * marked "interrupted" the next time any process opens the store. A store written by a newer
 * nfn (higher user_version) is refused with a clear error, never modified.
 * Errors are GErrors in NFN_DATA_ERROR with one-line messages "PATH: fault".
 * Times are Unix microseconds (g_get_real_time). Row ids are gint64 > 0.
 * An NfnStore is one SQLite connection: use it from one thread at a time (a worker thread opens
 * its own; WAL lets them read and write side by side).
 */
#ifndef NFN_STORE_H
#define NFN_STORE_H

#include <glib.h>
#include "nfn_safetensors.h" /* NFN_DATA_ERROR */

G_BEGIN_DECLS

typedef struct _NfnStore NfnStore;

/* $XDG_DATA_HOME/nfn-workbench/experiments.sqlite (g_get_user_data_dir), newly allocated.
 * Creates the nfn-workbench directory, so that a first open for writing can create the file. */
char *nfn_store_default_path (void);

/* Opens (creating and migrating if needed, unless read_only). read_only opens with
 * SQLITE_OPEN_READONLY and never writes (no interrupted-marking either; runs read through it
 * still show a dead writer's run as interrupted). A locked database waits up to
 * NFN_STORE_BUSY_TIMEOUT_MS, then fails with "PATH: database is locked by another process".
 * Opening only takes the write lock when there is something to write (a migration, a dead
 * writer's run to mark), so a reader opens while a writer works. */
NfnStore *nfn_store_open (const char *path, gboolean read_only, GError **error);
void nfn_store_close (NfnStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfnStore, nfn_store_close)
const char *nfn_store_get_path (NfnStore *store);
int nfn_store_schema_version (void); /* the user_version this build writes */
#define NFN_STORE_BUSY_TIMEOUT_MS 3000
/* "0.1.0 (git describe at build time)", as recorded in every run. */
const char *nfn_store_code_version (void);

/* ---- Runs ---- */

typedef enum {
  NFN_RUN_RUNNING,
  NFN_RUN_COMPLETED,
  NFN_RUN_FAILED,
  NFN_RUN_CANCELLED,
  NFN_RUN_INTERRUPTED
} NfnRunStatus;
const char *nfn_run_status_name (NfnRunStatus status); /* "running", "completed", … */

typedef struct {
  gint64 id;
  char *name;         /* given by renaming, "" until then */
  char *experiment;   /* experiment name ("default" unless given) */
  char *task;         /* e.g. "zoo-fit", "train-classify" */
  char *model;        /* e.g. "hnp", or "" */
  char *config_json;  /* the full configuration as a JSON object */
  guint64 seed;
  NfnRunStatus status;
  gint64 started_us, finished_us; /* finished 0 while running, and when interrupted (unknown) */
  char *code_version; /* nfn version + git describe at build time */
  char *host;
  gint64 pid;
  char *summary_json; /* final results as a JSON object ("{}" until set) */
} NfnRun;

void nfn_run_free (NfnRun *run);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfnRun, nfn_run_free)

/* Starts a run in `experiment` (created on first use; NULL = "default"), status running,
 * recording this process's host and pid so a dead writer can be detected. */
gint64 nfn_store_run_begin (NfnStore *store, const char *experiment, const char *task, const char *model,
                            const char *config_json, guint64 seed, GError **error);
/* Appends n metrics of one step (e.g. {"train/loss", "val/accuracy"}) in ONE transaction. */
gboolean nfn_store_run_log (NfnStore *store, gint64 run, gint64 step, int n, const char *const *names,
                            const double *values, GError **error);
/* Replaces the run's summary JSON object (final metrics, best epoch, …). */
gboolean nfn_store_run_set_summary (NfnStore *store, gint64 run, const char *summary_json, GError **error);
/* Records a file the run produced (kind: "model", "network", "mask", "figure", "zoo", …). */
gboolean nfn_store_run_add_artifact (NfnStore *store, gint64 run, const char *kind, const char *path,
                                     const char *description, GError **error);
/* Takes over a run again (a resumed training run): status running, this process's host and
 * pid, no finish time. The caller checks first that the run is not alive elsewhere. */
gboolean nfn_store_run_resume (NfnStore *store, gint64 run, GError **error);
/* Ends a run with COMPLETED, FAILED or CANCELLED. */
gboolean nfn_store_run_finish (NfnStore *store, gint64 run, NfnRunStatus status, GError **error);

/* Gives a run a name (white space trimmed; "" removes it). No such run → NOT_FOUND. */
gboolean nfn_store_run_rename (NfnStore *store, gint64 run, const char *name, GError **error);
/* Deletes a run with its metrics and artifact records (the artifact files stay on disk; a zoo
 * the run fitted stays registered). A run whose writer is still alive is refused
 * (NFN_DATA_ERROR_UNSUPPORTED, "… is still running …; cancel it first"); no such run →
 * NOT_FOUND. */
gboolean nfn_store_run_delete (NfnStore *store, gint64 run, GError **error);

/* Runs newest first; task_filter NULL = all. Elements NfnRun*. */
GPtrArray *nfn_store_list_runs (NfnStore *store, const char *task_filter, GError **error);
/* No such run → NFN_DATA_ERROR_NOT_FOUND "PATH: no run 42". */
NfnRun *nfn_store_get_run (NfnStore *store, gint64 run, GError **error);

typedef struct {
  gint64 step;
  double value;
} NfnMetricPoint;

/* A value may be NaN (a diverged loss): SQLite keeps it as NULL, and it reads back as NaN. */

/* Metric names a run logged, sorted. Elements char*. */
GPtrArray *nfn_store_run_metric_names (NfnStore *store, gint64 run, GError **error);
/* One series in step order. Elements NfnMetricPoint. Since `after_step` (exclusive; use
 * G_MININT64 for all) so a live view can poll for new points only. */
GArray *nfn_store_run_metric (NfnStore *store, gint64 run, const char *name, gint64 after_step, GError **error);

/* Every metric a run logged, in name order: how many points and the last one. One query, so a
 * table of many runs (and a live view polling them) never reads whole series. */
typedef struct {
  char *name;
  gint64 count;
  gint64 last_step;
  double last_value; /* NaN for a NaN (NULL) value */
} NfnMetricSummary;
/* Elements NfnMetricSummary; freeing the array frees the names. */
GArray *nfn_store_run_metric_summaries (NfnStore *store, gint64 run, GError **error);

typedef struct {
  gint64 id;
  char *kind, *path, *description;
  gint64 created_us;
} NfnArtifact;
void nfn_artifact_free (NfnArtifact *artifact);
GPtrArray *nfn_store_run_artifacts (NfnStore *store, gint64 run, GError **error); /* NfnArtifact* */

/* ---- Zoos ---- */

typedef struct {
  gint64 id;
  char *name;       /* unique */
  char *path;       /* the zoo directory */
  char *arch_json;  /* architecture */
  char *dataset;    /* "fashion-mnist", "mnist", … */
  char *split;      /* "train", "test", … */
  gint64 networks;  /* networks registered so far */
  gint64 created_us;
} NfnZoo;
void nfn_zoo_free (NfnZoo *zoo);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfnZoo, nfn_zoo_free)

/* Registers a zoo, or returns the id of the one already at `path` (re-registering the same
 * directory is how a resumed fit finds its zoo). `path` is stored made absolute
 * (g_canonicalize_filename), so "zoo" and "./zoo" are one zoo; name NULL = the path's basename.
 * A name already taken by a zoo elsewhere is an error. */
gint64 nfn_store_zoo_register (NfnStore *store, const char *name, const char *path, const char *arch_json,
                               const char *dataset, const char *split, GError **error);
/* Adds n networks in ONE transaction: their index within the zoo, the source image index, the
 * label, the fit quality (PSNR in dB, or accuracy), and the shard file that holds them.
 * Re-adding an index that exists replaces it. */
gboolean nfn_store_zoo_add_networks (NfnStore *store, gint64 zoo, int n, const gint64 *index,
                                     const gint64 *source_index, const int *label, const double *quality,
                                     const char *shard, GError **error);
GPtrArray *nfn_store_list_zoos (NfnStore *store, GError **error); /* NfnZoo* */
/* By name or by path; none → NFN_DATA_ERROR_NOT_FOUND "PATH: no zoo NAME". */
NfnZoo *nfn_store_find_zoo (NfnStore *store, const char *name_or_path, GError **error);

typedef struct {
  gint64 index;        /* within the zoo */
  gint64 source_index; /* image index in the data set split */
  int label;
  double quality;      /* PSNR in dB, or accuracy */
  char *shard;         /* the shard file holding it */
} NfnZooNetwork;
/* The zoo's networks in index order (a resumed fit skips these). Elements NfnZooNetwork,
 * freeing the array frees the shard strings. */
GArray *nfn_store_zoo_networks (NfnStore *store, gint64 zoo, GError **error);

G_END_DECLS
#endif
