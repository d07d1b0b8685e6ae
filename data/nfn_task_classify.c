/* nfn_task_classify.c — INR classification (`nfn train classify`, the GUI's classify task).
 *
 * Training reads the zoos once into memory, wires an nfn_model into the shared trainer
 * (data/nfn_trainer.h) and saves the best epoch's model as safetensors. Everything a run needs
 * to start again goes into its config JSON, so resuming takes nothing else.
 *
 * Defaults, the paper's classifier (Zhou et al. 2023, INR classification) cut to fit a 2-core
 * CPU: Gaussian Fourier features (m = 64 → 128 channels, scale 3), IO encoding (NP and
 * pointwise, 4 bands), 3 NF layers of 64 channels with ReLU, invariant pool, head 1000-1000
 * with dropout 0.1, AdamW lr 1e-3 with 100 warmup steps, batch 32, 10 epochs. The paper uses
 * 128 channels and ~200k steps; channels, fourier and epochs restore them when time allows.
 * Ours, not the paper's: every tensor is standardised by the training set's mean and std
 * (NfnTrainerNorm; a SIREN's hidden weights are ~1/ω0 of its first layer's, too small for the
 * Fourier features otherwise; normalize = FALSE turns it off), kept in the model file.
 * Refit copies of training images are extra training examples; validation and test use one
 * network per image (refit 0). Without val the last 10 % of the training zoo's images (and
 * all their refits) are held out for validation.
 *
 * Shape letters: N networks, K classes.
 */
#include "nfn_json.h"
#include "nfn_task_private.h"

#include <math.h>
#include <string.h>

#include "nfn_datasets.h"
#include "nfn_zoo.h"

void
nfn_task_classify_defaults (NfnTaskOptions *o)
{
  memset (o, 0, sizeof *o);
  o->epochs = 10;
  o->batch = 32;
  o->lr = 1e-3;
  o->warmup = 100;
  o->channels = 64;
  o->depth = 3;
  o->fourier = 64;
  /* on standardised weights (README, Fashion-MNIST, 54,000 SIRENs, NP, 4 epochs): scale 0.3
   * 39.9 %, 1 49.5 %, 3 43.0 %, 10 34.2 % test accuracy */
  o->fourier_scale = 1.0;
  o->io_bands = 4;
  o->head_dropout = 0.1;
  o->normalize = TRUE;
}

/* ---- the settings of a run, and their JSON (the run's config) ---- */

typedef struct {
  NfnTaskSettings base;         /* model_name: np|hnp|pointwise|mlp|mlp-aug|stat */
  nfn_model_config model;       /* built from the options, or read back from a run */
} ClassifySettings;

static char *
classify_config_json (const ClassifySettings *cs)
{
  const NfnTaskSettings *s = &cs->base;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  nfn_task_settings_build_json_paths (b, s);
  json_builder_set_member_name (b, "val_fraction");
  if (s->val)
    json_builder_add_null_value (b);
  else
    json_builder_add_double_value (b, NFN_TASK_VAL_FRACTION);
  nfn_task_settings_build_json_training (b, s);
  json_builder_set_member_name (b, "lr");
  json_builder_add_double_value (b, s->lr);
  json_builder_set_member_name (b, "weight_decay");
  json_builder_add_double_value (b, s->weight_decay);
  json_builder_set_member_name (b, "nfn_model");
  nfn_model_config_build_json (b, &cs->model);
  json_builder_end_object (b);
  return nfn_json_builder_to_text (b, FALSE);
}

/* The settings of run `run` (for resume); one-line errors name the store. */
static gboolean
classify_settings_from_run (const NfnRun *run, const char *db_path, ClassifySettings *cs, GError **error)
{
  NfnTaskSettings *s = &cs->base;
  g_autofree char *label = nfn_task_run_label (db_path, run->id);
  g_autoptr (JsonParser) parser = json_parser_new ();
  const char *const required[] = { "zoo", "out", "model", "augment", "normalize", "epochs", "batch", "lr", "weight_decay",
                                   "warmup", "seed", "nfn_model", NULL };
  JsonObject *o = nfn_task_config_object (parser, run, label, required, error);
  if (!o)
    return FALSE;
  nfn_task_settings_from_config (o, s);
  s->lr = json_object_get_double_member (o, "lr");
  s->weight_decay = json_object_get_double_member (o, "weight_decay");
  if (!s->zoo || !s->model_name)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "%s: its config has no zoo or model", label);
      return FALSE;
    }
  return nfn_model_config_from_json_node (json_object_get_member (o, "nfn_model"), &cs->model, label, error);
}

/* ---- sets ---- */

typedef struct {
  NfnZooDir *zoo;
  NfnTrainerSet train, val, test;
  gboolean val_carved;
  NfnTrainerNorm norm;          /* fitted on the training set, applied to all three */
  int n_classes;
  char *dataset;
} ClassifyData;

static void
classify_data_clear (ClassifyData *d)
{
  g_clear_pointer (&d->zoo, nfn_zoo_dir_free);
  nfn_trainer_set_clear (&d->train);
  nfn_trainer_set_clear (&d->val);
  nfn_trainer_set_clear (&d->test);
  g_clear_pointer (&d->dataset, g_free);
}

gboolean
nfn_task_classify_load_eval_zoo (const char *path, const nfn_space *space, NfnTrainerSet *set, GError **error)
{
  g_autoptr (NfnZooDir) zoo = nfn_zoo_dir_open (path, error);
  if (!zoo)
    return FALSE;
  if (!nfn_space_equal (&nfn_zoo_dir_settings (zoo)->arch.space, space))
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_SHAPE, path, "its networks have another architecture than the training zoo's");
      return FALSE;
    }
  return nfn_trainer_set_load_zoo (set, zoo, 0, -1, NFN_TRAINER_ZOO_FIRST_FIT, error);
}

int
nfn_task_set_max_label (const NfnTrainerSet *set)
{
  int max = -1;
  for (int k = 0; k < nfn_trainer_set_size (set); k++)
    max = MAX (max, set->labels[k]);
  return max;
}

/* Training refits are extra examples; a carved validation split takes the last images so that
 * no image (and none of its refits) is on both sides. */
static gboolean
classify_load (const NfnTaskSettings *s, ClassifyData *d, GError **error)
{
  if (!(d->zoo = nfn_zoo_dir_open (s->zoo, error)))
    return FALSE;
  const NfnZooSettings *zs = nfn_zoo_dir_settings (d->zoo);
  d->dataset = g_strdup (zs->dataset);
  if (!nfn_task_zoo_finished (d->zoo, nfn_zoo_dir_count (d->zoo), "nfn zoo fit", error))
    return FALSE;
  gint64 images = zs->count, train_images = images;
  if (!s->val)
    {
      gint64 held = MAX (1, (gint64) floor (images * NFN_TASK_VAL_FRACTION));
      if (images - held < 1)
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, s->zoo, "too few images (%" G_GINT64_FORMAT ") to carve a validation split; give --val",
                              images);
          return FALSE;
        }
      train_images = images - held;
      d->val_carved = TRUE;
      if (!nfn_trainer_set_load_zoo (&d->val, d->zoo, train_images, images, NFN_TRAINER_ZOO_FIRST_FIT, error))
        return FALSE;
    }
  else if (!nfn_task_classify_load_eval_zoo (s->val, &zs->arch.space, &d->val, error))
    return FALSE;
  if (!nfn_trainer_set_load_zoo (&d->train, d->zoo, 0, train_images, NFN_TRAINER_ZOO_ALL, error))
    return FALSE;
  if (s->test && !nfn_task_classify_load_eval_zoo (s->test, &zs->arch.space, &d->test, error))
    return FALSE;
  if (s->normalize)
    nfn_task_norm_sets (&d->norm, &d->train, &d->val, s->test ? &d->test : NULL);
  /* the known data sets have 10 classes even when a small zoo misses one */
  d->n_classes = MAX (10, MAX (nfn_task_set_max_label (&d->train), nfn_task_set_max_label (&d->val)) + 1);
  if (s->test)
    d->n_classes = MAX (d->n_classes, nfn_task_set_max_label (&d->test) + 1);
  return TRUE;
}

/* ---- the end of a run: save the model, record it, extend the summary ---- */

typedef struct {
  const ClassifySettings *settings;
  const ClassifyData *data;
  nfn_model *model;
  NfnStore *store;
  char **class_names;
  char *saved_path; /* where the model went */
} ClassifyFinish;

gint64 *
nfn_task_classify_confusion (const float *logits /* (N, K) */, const int *labels /* (N) */, int N, int K)
{
  gint64 *counts = g_new0 (gint64, (gsize) K * K);
  for (int n = 0; n < N; n++)
    {
      int best = 0;
      for (int k = 1; k < K; k++)
        if (logits[(size_t) n * K + k] > logits[(size_t) n * K + best])
          best = k;
      counts[(size_t) labels[n] * K + best]++;
    }
  return counts;
}

void
nfn_task_classify_build_confusion (JsonBuilder *b, const float *logits, const int *labels, int N, int K)
{
  g_autofree gint64 *counts = nfn_task_classify_confusion (logits, labels, N, K);
  json_builder_begin_array (b);
  for (int r = 0; r < K; r++)
    {
      json_builder_begin_array (b);
      for (int c = 0; c < K; c++)
        json_builder_add_int_value (b, counts[(size_t) r * K + c]);
      json_builder_end_array (b);
    }
  json_builder_end_array (b);
}

/* The model file's nfn.extra: {"input_norm": {...}} (an identity norm is left out). */
static char *
classify_extra_json (const NfnTrainerNorm *norm)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  if (norm->n_tensors > 0)
    {
      json_builder_set_member_name (b, "input_norm");
      nfn_trainer_norm_build_json (b, norm);
    }
  json_builder_end_object (b);
  return nfn_json_builder_to_text (b, FALSE);
}

gboolean
nfn_task_classify_norm_from_info (const NfnModelFileInfo *info, const nfn_space *space, const char *label,
                                  NfnTrainerNorm *norm, GError **error)
{
  memset (norm, 0, sizeof *norm);
  if (!info->extra_json)
    return TRUE;
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, info->extra_json, -1, NULL))
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "nfn.extra is not valid JSON");
      return FALSE;
    }
  JsonObject *o = json_node_get_object (json_parser_get_root (parser));
  if (!json_object_has_member (o, "input_norm"))
    return TRUE;
  return nfn_trainer_norm_from_json_node (json_object_get_member (o, "input_norm"), space, norm, label, error);
}

static gboolean
classify_finish (const NfnTrainerReport *report, JsonBuilder *summary, gpointer user_data, GError **error)
{
  ClassifyFinish *f = user_data;
  g_autofree char *extra = classify_extra_json (&f->data->norm);
  NfnModelFileInfo info = { .task = "classify", .class_names = f->class_names, .extra_json = extra };
  g_free (f->saved_path);
  f->saved_path = nfn_task_save_model (f->model, &info, f->settings->base.out, "", f->store, report->run_id,
                                       "the best epoch's classifier (safetensors)", summary, error);
  if (!f->saved_path)
    return FALSE;
  json_builder_set_member_name (summary, "val_accuracy");
  json_builder_add_double_value (summary, nfn_trainer_metrics_get (&report->val, "accuracy"));
  json_builder_set_member_name (summary, "val_carved_from_train");
  json_builder_add_boolean_value (summary, f->data->val_carved);
  if (report->test.n > 0)
    {
      json_builder_set_member_name (summary, "test_accuracy");
      json_builder_add_double_value (summary, nfn_trainer_metrics_get (&report->test, "accuracy"));
      json_builder_set_member_name (summary, "test_confusion");
      nfn_task_classify_build_confusion (summary, report->test_outputs, f->data->test.labels,
                                         nfn_trainer_set_size (&f->data->test), nfn_model_get_config (f->model)->n_out);
    }
  return TRUE;
}

static char **
classify_class_names (const char *dataset, int n_classes)
{
  char **names = g_new0 (char *, n_classes + 1);
  for (int k = 0; k < n_classes; k++)
    {
      const char *name = nfn_dataset_class_name (dataset, k);
      names[k] = name ? g_strdup (name) : g_strdup_printf ("%d", k);
    }
  return names;
}

/* The settings of a fresh run from the options: the model's space and classes come from the
 * zoo (loaded here into d), the rest from the options. */
static gboolean
classify_settings_from_options (const NfnTaskOptions *o, ClassifySettings *cs, ClassifyData *d, GError **error)
{
  NfnTaskSettings *s = &cs->base;
  if (!nfn_task_settings_from_options (o, "train classify", "nfn zoo fit", s, error))
    return FALSE;
  nfn_model_kind kind;
  gboolean aug_model = strcmp (s->model_name, "mlp-aug") == 0;
  if (!nfn_model_kind_parse (aug_model ? "mlp" : s->model_name, &kind))
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED,
                   "train classify: --model must be np, hnp, pointwise, mlp, mlp-aug or stat, not \"%s\"", s->model_name);
      return FALSE;
    }
  if (o->epochs < 1 || o->batch < 1 || !(o->lr > 0) || o->weight_decay < 0 || o->warmup < 0 || o->channels < 1
      || o->depth < 1 || o->depth > NFN_MODEL_MAX_DEPTH || o->fourier < 0 || o->io_bands < 0 || !(o->fourier_scale > 0)
      || o->dropout < 0 || o->dropout >= 1 || o->head_dropout < 0 || o->head_dropout >= 1 || o->seed < 0)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED,
                   "train classify: an option is out of range (epochs, batch, channels, depth ≥ 1, depth ≤ %d,"
                   " lr > 0, dropouts in [0, 1), the rest ≥ 0)", NFN_MODEL_MAX_DEPTH);
      return FALSE;
    }
  s->augment = o->augment || aug_model;
  if (!classify_load (s, d, error))
    return FALSE;
  nfn_model_config *cfg = &cs->model;
  nfn_model_config_default (cfg, kind, &d->train.networks.space, d->n_classes);
  nfn_task_apply_shape (o, cfg);
  if (!nfn_task_apply_head_options (o, "train classify", s->model_name, cfg, error))
    return FALSE;
  if (o->head && !nfn_task_parse_head (o->head, cfg))
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED,
                   "train classify: --head takes up to %d widths ≥ 1 such as 1000,1000 (or none), not \"%s\"",
                   NFN_MODEL_MAX_HEAD, o->head);
      return FALSE;
    }
  if (nfn_model_config_check (cfg) != NFN_OK)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED,
                   "train classify: these options do not make a valid %s model", s->model_name);
      return FALSE;
    }
  return TRUE;
}

gboolean
nfn_task_classify_run (const NfnTaskOptions *o, NfnStore *store, const NfnTaskHooks *hooks, GCancellable *cancellable,
                       NfnTaskResult *result, GError **error)
{
  ClassifySettings settings = { 0 };
  ClassifyData data = { 0 };
  nfn_model *model = NULL;
  g_auto (GStrv) class_names = NULL;
  ClassifyFinish finish = { 0 };
  g_autofree char *config_json = NULL;
  NfnTaskCancel cancel;
  gboolean ok = FALSE;
  nfn_task_result_clear (result);
  nfn_task_cancel_begin (&cancel, hooks, cancellable);

  if (o->resume > 0)
    {
      g_autoptr (NfnRun) run = nfn_task_resumable_run (store, o->resume, NFN_TASK_CLASSIFY, error);
      if (!run || !classify_settings_from_run (run, nfn_store_get_path (store), &settings, error)
          || !classify_load (&settings.base, &data, error))
        goto done;
    }
  else if (!classify_settings_from_options (o, &settings, &data, error))
    goto done;
  if (!nfn_space_equal (&settings.model.space, &data.train.networks.space) || settings.model.n_out < data.n_classes)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_SHAPE, settings.base.zoo, "the zoo no longer matches the run's model");
      goto done;
    }

  nfn_set_threads (nfn_task_clamp_threads (o->threads));
  nfn_status st = nfn_model_new (&settings.model, (unsigned long) settings.base.seed, &model);
  if (st != NFN_OK)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, "train classify: cannot build the model: %s",
                   nfn_status_message (st));
      goto done;
    }
  class_names = classify_class_names (data.dataset, settings.model.n_out);

  NfnTrainerTask task;
  nfn_trainer_task_classify (&task, model);
  if (settings.base.augment)
    task.augment = nfn_trainer_augment_hnp;
  config_json = classify_config_json (&settings);
  finish = (ClassifyFinish) { &settings, &data, model, store, class_names, NULL };
  NfnTrainerOptions options;
  nfn_task_trainer_options (&options, &settings.base, store, NFN_TASK_CLASSIFY, config_json, o->resume, hooks, &cancel);
  options.finish = classify_finish;
  options.finish_data = &finish;

  nfn_task_result_sets (result, settings.base.model_name, &data.train, &data.val, &data.test);
  nfn_task_announce (hooks, "train classify: %s on %d networks (%s), val %d%s, test %d, %zu parameters%s",
                     settings.base.model_name, result->train_networks, settings.base.zoo, result->val_networks,
                     data.val_carved ? " (the last 10 % of the training zoo's images)" : "", result->test_networks,
                     nfn_model_param_count (model), o->resume > 0 ? ", resumed" : "");
  ok = nfn_task_train (&task, &data.train, &data.val, data.test.networks.B > 0 ? &data.test : NULL, &options, store,
                       result, error);
  result->model_path = g_steal_pointer (&finish.saved_path);

done:
  nfn_task_cancel_end (&cancel);
  g_free (finish.saved_path);
  nfn_model_free (model);
  classify_data_clear (&data);
  nfn_task_settings_clear (&settings.base);
  return ok;
}
