/* nfn_task_private.h — what the task files (data/nfn_task_*.c) share and nobody else. */
#ifndef NFN_TASK_PRIVATE_H
#define NFN_TASK_PRIVATE_H

#include "nfn_task.h"
#include "nfn_zoo.h"

/* The run's cancel flag: the hooks' flag (or a local one), also set by the GCancellable. */
typedef struct {
  volatile int local;
  volatile int *flag;
  GCancellable *cancellable;
  gulong handler;
} NfnTaskCancel;

void nfn_task_cancel_begin (NfnTaskCancel *cancel, const NfnTaskHooks *hooks, GCancellable *cancellable);
void nfn_task_cancel_end (NfnTaskCancel *cancel);

/* hooks->started (when set) with a printf-formatted line. */
void nfn_task_announce (const NfnTaskHooks *hooks, const char *format, ...) G_GNUC_PRINTF (2, 3);
/* The run's summary from the store into result->summary_json. */
gboolean nfn_task_fetch_summary (NfnStore *store, NfnTaskResult *result, GError **error);
/* An absolute path, or NULL for NULL. */
char *nfn_task_canonical (const char *path);
/* A JSON object member holding a string, copied; NULL when absent, null or not a string. */
char *nfn_task_json_string (JsonObject *o, const char *name);
/* <folder>/<name> beside the store's file (the directory is made when saving). */
char *nfn_task_path_beside (NfnStore *store, const char *folder, const char *name);
/* models/<name> beside the store's file. */
char *nfn_task_model_path_beside (NfnStore *store, const char *name);
/* Makes the directory `path` goes into; FALSE with "DIR: cannot create the <what>'s directory". */
gboolean nfn_task_make_parent_dir (const char *path, const char *what, GError **error);

/* What every task's settings hold (each task's settings struct starts with one): recorded in
 * the run's config and rebuilt from it on resume. Paths are absolute; val, test, out may be NULL. */
typedef struct {
  char *zoo, *val, *test, *out;
  char *model_name;             /* as given: the NFN kind */
  gboolean augment;
  gboolean normalize;           /* standardise each input tensor by the training set (NfnTrainerNorm) */
  int epochs, batch;
  double lr, weight_decay;      /* AdamW's decoupled decay (0: plain Adam) */
  gint64 warmup, seed;
  gboolean cosine;              /* cosine lr decay after the warmup */
  gboolean bf16;                /* the run's GEMMs in bfloat16 */
} NfnTaskSettings;

void nfn_task_settings_clear (NfnTaskSettings *s);
/* The shared settings of a fresh run: the paths made absolute, the model np unless given.
 * Without a zoo FALSE with "<command>: --zoo ZOO is required (make one with <zoo_maker>)". */
gboolean nfn_task_settings_from_options (const NfnTaskOptions *o, const char *command, const char *zoo_maker,
                                         NfnTaskSettings *s, GError **error);
/* The config's first members, zoo, val, test, out and model (classify and mask). */
void nfn_task_settings_build_json_paths (JsonBuilder *b, const NfnTaskSettings *s);
/* The training members nfn_task_settings_from_config reads back: augment, normalize, cosine,
 * precision, epochs, batch, warmup, seed (lr and weight decay stay each task's: mask writes them as text). */
void nfn_task_settings_build_json_training (JsonBuilder *b, const NfnTaskSettings *s);
/* The shared settings a run's config holds, but lr and weight_decay (each task writes those its
 * own way): absent members read as NULL, 0 and FALSE. */
void nfn_task_settings_from_config (JsonObject *config, NfnTaskSettings *s);
/* "DB: run ID", the label of a run's one-line errors. */
char *nfn_task_run_label (const char *db_path, gint64 run_id);
/* Run `run`'s config as an object (owned by `parser`) holding every member of `required`
 * (NULL-terminated); NULL with a one-line error naming `label`. */
JsonObject *nfn_task_config_object (JsonParser *parser, const NfnRun *run, const char *label,
                                    const char *const *required, GError **error);

/* The shared trainer's options of a run: the settings' schedule, the store rows of `task_name`
 * with `config_json`, the hooks' progress and the run's cancel flag. The caller adds its finish. */
void nfn_task_trainer_options (NfnTrainerOptions *options, const NfnTaskSettings *s, NfnStore *store,
                               const char *task_name, const char *config_json, gint64 resume,
                               const NfnTaskHooks *hooks, const NfnTaskCancel *cancel);
/* Fits the input norm on the training set and standardises all three sets (test may be NULL). */
void nfn_task_norm_sets (NfnTrainerNorm *norm, NfnTrainerSet *train, NfnTrainerSet *val, NfnTrainerSet *test);
/* FALSE with a one-line error when fewer than `needed` networks of the zoo are written
 * (`remake`: the command that finishes it, e.g. "nfn zoo fit"). */
gboolean nfn_task_zoo_finished (NfnZooDir *zoo, gint64 needed, const char *remake, GError **error);
/* The result's model name and set sizes, before the run starts (test may be empty). */
void nfn_task_result_sets (NfnTaskResult *result, const char *model_name, const NfnTrainerSet *train,
                           const NfnTrainerSet *val, const NfnTrainerSet *test);
/* Runs the shared trainer (test NULL: none) and reads the run's summary back into `result`. */
gboolean nfn_task_train (const NfnTrainerTask *task, const NfnTrainerSet *train, const NfnTrainerSet *val,
                         const NfnTrainerSet *test, const NfnTrainerOptions *options, NfnStore *store,
                         NfnTaskResult *result, GError **error);
/* The end of a run (a trainer finish): saves the best model to `out`, or to
 * models/run-ID<suffix>.safetensors beside the store, records it as the run's "model" artifact
 * and as the summary's "model_file". Returns the path (g_free), NULL with an error. */
char *nfn_task_save_model (nfn_model *model, const NfnModelFileInfo *info, const char *out, const char *suffix,
                           NfnStore *store, gint64 run_id, const char *description, JsonBuilder *summary,
                           GError **error);

#endif
