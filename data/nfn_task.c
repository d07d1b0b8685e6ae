/* nfn_task.c — what the training tasks share: options, results, the resume check, cancel, and
 * the steps of every run (settings and their config, trainer options, norm, saving the model). */
#include "nfn_task_private.h"
#include "nfn_precision.h"

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
  g_free (o->scatter);
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
  g_free (r->scatter_path);
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
  g_autofree char *label = nfn_task_run_label (nfn_store_get_path (store), run_id);
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
nfn_task_path_beside (NfnStore *store, const char *folder, const char *name)
{
  g_autofree char *db = g_canonicalize_filename (nfn_store_get_path (store), NULL);
  g_autofree char *dir = g_path_get_dirname (db);
  return g_build_filename (dir, folder, name, NULL);
}

char *
nfn_task_model_path_beside (NfnStore *store, const char *name)
{
  return nfn_task_path_beside (store, "models", name);
}

gboolean
nfn_task_make_parent_dir (const char *path, const char *what, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0755) == 0)
    return TRUE;
  nfn_data_set_error (error, NFN_DATA_ERROR_IO, dir, "cannot create the %s's directory", what);
  return FALSE;
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

gboolean
nfn_task_parse_head (const char *text, nfn_model_config *cfg)
{
  cfg->n_head = 0;
  if (!text || !*text || strcmp (text, "none") == 0)
    return TRUE;
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  for (int k = 0; parts[k]; k++)
    {
      char *end;
      gint64 w = g_ascii_strtoll (parts[k], &end, 10);
      if (*end || end == parts[k] || w < 1 || w > 1 << 20 || cfg->n_head == NFN_MODEL_MAX_HEAD)
        return FALSE;
      cfg->head_widths[cfg->n_head++] = (int) w;
    }
  return TRUE;
}

gboolean
nfn_task_parse_channels (const char *text, NfnTaskOptions *o)
{
  if (!text)
    return FALSE;
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  int widths[NFN_MODEL_MAX_DEPTH], n = 0;
  for (int k = 0; parts[k]; k++)
    {
      char *end;
      gint64 w = g_ascii_strtoll (parts[k], &end, 10);
      if (*end || end == parts[k] || w < 1 || w > 1 << 16 || n == NFN_MODEL_MAX_DEPTH)
        return FALSE;
      widths[n++] = (int) w;
    }
  if (n == 0)
    return FALSE;
  o->channels = widths[0];
  memset (o->layer_channels, 0, sizeof o->layer_channels);
  if (n > 1)
    {
      memcpy (o->layer_channels, widths, (size_t) n * sizeof *widths);
      o->depth = n;
    }
  return TRUE;
}

void
nfn_task_apply_shape (const NfnTaskOptions *o, nfn_model_config *cfg)
{
  cfg->max_batch = o->batch;
  cfg->channels = o->channels;
  cfg->depth = o->depth;
  memcpy (cfg->layer_channels, o->layer_channels, sizeof cfg->layer_channels);
  cfg->fourier_m = o->fourier;
  cfg->fourier_scale = o->fourier_scale;
  cfg->io_bands = cfg->kind == NFN_MODEL_NP || cfg->kind == NFN_MODEL_POINTWISE ? o->io_bands : 0;
}

gboolean
nfn_task_apply_head_options (const NfnTaskOptions *o, const char *command, const char *model_name,
                             nfn_model_config *cfg, GError **error)
{
  cfg->channel_dropout = (float) o->dropout;
  cfg->head_dropout = (float) o->head_dropout;
  cfg->pool_stats = o->append_stats;
  if (o->append_stats && !nfn_model_kind_has_encoder (cfg->kind))
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED,
                   "%s: --append-stats adds StatNN features beside an NFN's pool (np, hnp, pointwise); %s has none",
                   command, model_name);
      return FALSE;
    }
  return TRUE;
}

void
nfn_task_json_add_string (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

void
nfn_task_json_add_int (JsonBuilder *b, const char *name, gint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

void
nfn_task_json_add_number (JsonBuilder *b, const char *name, double value)
{
  json_builder_set_member_name (b, name);
  if (isfinite (value))
    json_builder_add_double_value (b, value);
  else
    json_builder_add_null_value (b);
}

/* ---- the steps every task's run takes ---- */

void
nfn_task_settings_clear (NfnTaskSettings *s)
{
  g_free (s->zoo);
  g_free (s->val);
  g_free (s->test);
  g_free (s->out);
  g_free (s->model_name);
  memset (s, 0, sizeof *s);
}

gboolean
nfn_task_settings_from_options (const NfnTaskOptions *o, const char *command, const char *zoo_maker, NfnTaskSettings *s,
                                GError **error)
{
  if (!o->zoo)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, "%s: --zoo ZOO is required (make one with %s)", command,
                   zoo_maker);
      return FALSE;
    }
  s->zoo = nfn_task_canonical (o->zoo);
  s->val = nfn_task_canonical (o->val);
  s->test = nfn_task_canonical (o->test);
  /* no out: models/run-ID….safetensors beside the store, named once the run has an id */
  s->out = nfn_task_canonical (o->out);
  s->model_name = g_strdup (o->model ? o->model : "np");
  s->augment = o->augment;
  s->normalize = o->normalize;
  s->epochs = o->epochs;
  s->batch = o->batch;
  s->lr = o->lr;
  s->weight_decay = o->weight_decay;
  s->warmup = o->warmup;
  s->cosine = o->cosine;
  s->bf16 = o->bf16;
  s->seed = o->seed;
  return TRUE;
}

void
nfn_task_settings_build_json_paths (JsonBuilder *b, const NfnTaskSettings *s)
{
  nfn_task_json_add_string (b, "zoo", s->zoo);
  nfn_task_json_add_string (b, "val", s->val);
  nfn_task_json_add_string (b, "test", s->test);
  nfn_task_json_add_string (b, "out", s->out);
  nfn_task_json_add_string (b, "model", s->model_name);
}

void
nfn_task_settings_build_json_training (JsonBuilder *b, const NfnTaskSettings *s)
{
  const char *flag_names[] = { "augment", "normalize", "cosine" };
  const gboolean flags[] = { s->augment, s->normalize, s->cosine };
  for (gsize k = 0; k < G_N_ELEMENTS (flag_names); k++)
    {
      json_builder_set_member_name (b, flag_names[k]);
      json_builder_add_boolean_value (b, flags[k]);
    }
  nfn_task_json_add_string (b, "precision", nfn_precision_name (s->bf16 ? NFN_PRECISION_BF16 : NFN_PRECISION_FP32));
  nfn_task_json_add_int (b, "epochs", s->epochs);
  nfn_task_json_add_int (b, "batch", s->batch);
  nfn_task_json_add_int (b, "warmup", s->warmup);
  nfn_task_json_add_int (b, "seed", s->seed);
}

void
nfn_task_settings_from_config (JsonObject *config, NfnTaskSettings *s)
{
  s->zoo = nfn_task_json_string (config, "zoo");
  s->val = nfn_task_json_string (config, "val");
  s->test = nfn_task_json_string (config, "test");
  s->out = nfn_task_json_string (config, "out");
  s->model_name = nfn_task_json_string (config, "model");
  s->augment = json_object_get_boolean_member_with_default (config, "augment", FALSE);
  s->normalize = json_object_get_boolean_member_with_default (config, "normalize", FALSE);
  s->epochs = (int) json_object_get_int_member_with_default (config, "epochs", 0);
  s->batch = (int) json_object_get_int_member_with_default (config, "batch", 0);
  s->warmup = json_object_get_int_member_with_default (config, "warmup", 0);
  s->cosine = json_object_get_boolean_member_with_default (config, "cosine", FALSE);
  /* runs from before the option: fp32 */
  s->bf16 = g_strcmp0 (json_object_get_string_member_with_default (config, "precision", "fp32"), "bf16") == 0;
  s->seed = json_object_get_int_member_with_default (config, "seed", 0);
}

char *
nfn_task_run_label (const char *db_path, gint64 run_id)
{
  return g_strdup_printf ("%s: run %" G_GINT64_FORMAT, db_path, run_id);
}

JsonObject *
nfn_task_config_object (JsonParser *parser, const NfnRun *run, const char *label, const char *const *required,
                        GError **error)
{
  if (!json_parser_load_from_data (parser, run->config_json, -1, NULL) || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "%s: its config is not a JSON object", label);
      return NULL;
    }
  JsonObject *o = json_node_get_object (json_parser_get_root (parser));
  for (guint k = 0; required[k]; k++)
    if (!json_object_has_member (o, required[k]))
      {
        g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "%s: its config lacks \"%s\"", label, required[k]);
        return NULL;
      }
  return o;
}

void
nfn_task_trainer_options (NfnTrainerOptions *options, const NfnTaskSettings *s, NfnStore *store, const char *task_name,
                          const char *config_json, gint64 resume, const NfnTaskHooks *hooks, const NfnTaskCancel *cancel)
{
  nfn_trainer_options_init (options);
  options->epochs = s->epochs;
  options->batch_size = s->batch;
  options->lr = s->lr;
  options->weight_decay = s->weight_decay;
  options->decoupled = TRUE;
  options->warmup_steps = s->warmup;
  options->cosine = s->cosine;
  options->bf16 = s->bf16;
  options->seed = (guint64) s->seed;
  options->store = store;
  options->task_name = task_name;
  options->model_name = s->model_name;
  options->config_json = config_json;
  options->resume_run = resume;
  options->progress = hooks ? hooks->progress : NULL;
  options->user_data = hooks ? hooks->user_data : NULL;
  options->cancel = cancel->flag;
}

void
nfn_task_norm_sets (NfnTrainerNorm *norm, NfnTrainerSet *train, NfnTrainerSet *val, NfnTrainerSet *test)
{
  nfn_trainer_norm_fit (norm, &train->networks);
  nfn_trainer_norm_apply (norm, &train->networks);
  nfn_trainer_norm_apply (norm, &val->networks);
  if (test)
    nfn_trainer_norm_apply (norm, &test->networks);
}

gboolean
nfn_task_zoo_finished (NfnZooDir *zoo, gint64 needed, const char *remake, GError **error)
{
  if (nfn_zoo_dir_available (zoo) >= needed)
    return TRUE;
  nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, nfn_zoo_dir_path (zoo),
                      "the zoo is not finished (%" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " networks; run its %s again)",
                      nfn_zoo_dir_available (zoo), nfn_zoo_dir_count (zoo), remake);
  return FALSE;
}

void
nfn_task_result_sets (NfnTaskResult *result, const char *model_name, const NfnTrainerSet *train,
                      const NfnTrainerSet *val, const NfnTrainerSet *test)
{
  g_free (result->model_name);
  result->model_name = g_strdup (model_name);
  result->train_networks = nfn_trainer_set_size (train);
  result->val_networks = nfn_trainer_set_size (val);
  result->test_networks = nfn_trainer_set_size (test);
}

gboolean
nfn_task_train (const NfnTrainerTask *task, const NfnTrainerSet *train, const NfnTrainerSet *val,
                const NfnTrainerSet *test, const NfnTrainerOptions *options, NfnStore *store, NfnTaskResult *result,
                GError **error)
{
  gboolean ok = nfn_trainer_run (task, train, val, test, options, &result->report, error)
                && nfn_task_fetch_summary (store, result, error);
  result->run_id = result->report.run_id;
  return ok;
}

char *
nfn_task_save_model (nfn_model *model, const NfnModelFileInfo *info, const char *out, const char *suffix,
                     NfnStore *store, gint64 run_id, const char *description, JsonBuilder *summary, GError **error)
{
  g_autofree char *path = NULL;
  if (out)
    path = g_strdup (out);
  else
    {
      g_autofree char *name = g_strdup_printf ("run-%" G_GINT64_FORMAT "%s.safetensors", run_id, suffix);
      path = nfn_task_model_path_beside (store, name);
    }
  if (!nfn_task_make_parent_dir (path, "model", error)
      || !nfn_model_file_save (model, info, path, error)
      || !nfn_store_run_add_artifact (store, run_id, "model", path, description, error))
    return NULL;
  nfn_task_json_add_string (summary, "model_file", path);
  return g_steal_pointer (&path);
}
