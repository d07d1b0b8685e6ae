/* nfn_task.c — what the training tasks share: options, results, the resume check, cancel. */
#include "nfn_task_private.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

void
nfn_task_options_clear (NfnTaskOptions *o)
{
  g_free (o->zoo);
  g_free (o->val);
  g_free (o->test);
  g_free (o->out);
  g_free (o->model);
  g_free (o->head);
  g_free (o->transform);
  g_free (o->balance);
  g_free (o->selection);
  memset (o, 0, sizeof *o);
}

int
nfn_task_clamp_threads (int threads)
{
  int cores = (int) g_get_num_processors ();
  return threads < 1 ? cores : MIN (threads, cores);
}

void
nfn_task_result_clear (NfnTaskResult *r)
{
  g_free (r->summary_json);
  g_free (r->model_path);
  g_free (r->model_name);
  g_free (r->transform);
  nfn_trainer_report_clear (&r->report);
  memset (r, 0, sizeof *r);
  r->unedited_val = r->unedited_test = NAN;
}

NfnRun *
nfn_task_resumable_run (NfnStore *store, gint64 run_id, const char *task_name, GError **error)
{
  g_autoptr (NfnRun) run = nfn_store_get_run (store, run_id, error);
  if (!run)
    return NULL;
  g_autofree char *label = g_strdup_printf ("%s: run %" G_GINT64_FORMAT, nfn_store_get_path (store), run_id);
  if (g_strcmp0 (run->task, task_name) != 0)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, "%s is a %s run, not %s", label, run->task,
                   task_name);
      return NULL;
    }
  /* refused before the zoos load; the trainer checks again when it takes the run over */
  if (run->status == NFN_RUN_RUNNING || run->status == NFN_RUN_COMPLETED)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED,
                   "%s is %s; only an interrupted, failed or cancelled run can resume", label,
                   nfn_run_status_name (run->status));
      return NULL;
    }
  return g_steal_pointer (&run);
}

static void
nfn_task_cancel_set (GCancellable *cancellable, gpointer flag)
{
  *(volatile int *) flag = 1;
}

void
nfn_task_cancel_begin (NfnTaskCancel *c, const NfnTaskHooks *hooks, GCancellable *cancellable)
{
  memset (c, 0, sizeof *c);
  c->flag = hooks && hooks->cancel ? hooks->cancel : &c->local;
  c->cancellable = cancellable;
  /* runs at once when the cancellable is already cancelled */
  if (cancellable)
    c->handler = g_cancellable_connect (cancellable, G_CALLBACK (nfn_task_cancel_set), (gpointer) c->flag, NULL);
}

void
nfn_task_cancel_end (NfnTaskCancel *c)
{
  if (c->cancellable && c->handler)
    g_cancellable_disconnect (c->cancellable, c->handler);
  c->handler = 0;
}

void
nfn_task_announce (const NfnTaskHooks *hooks, const char *format, ...)
{
  if (!hooks || !hooks->started)
    return;
  va_list args;
  va_start (args, format);
  g_autofree char *line = g_strdup_vprintf (format, args);
  va_end (args);
  hooks->started (line, hooks->user_data);
}

gboolean
nfn_task_fetch_summary (NfnStore *store, NfnTaskResult *result, GError **error)
{
  g_autoptr (NfnRun) run = nfn_store_get_run (store, result->report.run_id, error);
  if (!run)
    return FALSE;
  result->run_id = run->id;
  g_free (result->summary_json);
  result->summary_json = g_strdup (run->summary_json);
  return TRUE;
}

char *
nfn_task_canonical (const char *path)
{
  return path ? g_canonicalize_filename (path, NULL) : NULL;
}

char *
nfn_task_json_string (JsonObject *o, const char *name)
{
  JsonNode *node = json_object_get_member (o, name);
  if (!node || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return g_strdup (json_node_get_string (node));
}

char *
nfn_task_model_path_beside (NfnStore *store, const char *name)
{
  g_autofree char *db = g_canonicalize_filename (nfn_store_get_path (store), NULL);
  g_autofree char *dir = g_path_get_dirname (db);
  return g_build_filename (dir, "models", name, NULL);
}

double
nfn_task_mean (const float *x, int n, double *std)
{
  double sum = 0, sq = 0;
  for (int k = 0; k < n; k++)
    sum += x[k];
  double mean = n > 0 ? sum / n : NAN;
  for (int k = 0; k < n; k++)
    sq += (x[k] - mean) * (x[k] - mean);
  if (std)
    *std = n > 1 ? sqrt (sq / (n - 1)) : 0;
  return mean;
}
