/* nfn_task_private.h — what the three task files (data/nfn_task_*.c) share and nobody else. */
#ifndef NFN_TASK_PRIVATE_H
#define NFN_TASK_PRIVATE_H

#include "nfn_task.h"

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
/* models/<name> beside the store's file (the directory is made when saving). */
char *nfn_task_model_path_beside (NfnStore *store, const char *name);

#endif
