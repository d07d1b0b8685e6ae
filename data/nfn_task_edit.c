/* nfn_task_edit.c — INR style editing (issue 4): `nfn train edit` and the GUI's edit task.
 *
 * Training: the networks of a SIREN zoo, each with the target 2·transform(source image) − 1
 * on the fitting grid; an equivariant model (engine/nfn_edit.h) learns a weight delta so that
 * the edited SIREN renders the target. The shared loop (data/nfn_trainer.h) does the epochs,
 * selection of the best epoch by validation MSE, checkpoints, resume and the store rows; this
 * file supplies the task (train step, render, MSE score), the sets with their targets, and
 * the floor: the MSE of the unedited networks against the same targets.
 *
 * Defaults: the paper's editor (Zhou et al. 2023, INR editing: Gaussian Fourier features m = 128
 * of scale 3, 3 NF layers of 128 channels, LearnedScale from 0.01, Adam lr 1e-3, batch 32).
 * The model sees the raw weights, as in the paper: standardising each tensor by the training
 * set's mean and std (normalize, NfnTrainerNorm, kept in the model file; classify's default)
 * overfitted here — 2,000 MNIST SIRENs, NP, 20 epochs: train/val MSE 0.093/0.137 against
 * 0.121/0.122 raw.
 * Without val the last tenth of the training zoo's images is held out for validation;
 * validation and test use one network per image.
 *
 * Shape letters: N networks in a set, B in a batch, R×Cc image rows × columns, P = R·Cc pixels
 * (the task's output and target width).
 */
#include "nfn_json.h"
#include "nfn_task_private.h"

#include <math.h>
#include <string.h>

#include "nfn_datasets.h"
#include "nfn_edit.h"
#include "nfn_fit.h"
#include "nfn_morph.h"
#include "nfn_network.h"
#include "nfn_zoo.h"

#define NFN_TASK_EDIT_MODEL "edit"

void
nfn_task_edit_defaults (NfnTaskOptions *o)
{
  memset (o, 0, sizeof *o);
  o->epochs = 10;
  o->batch = 32;
  o->lr = 1e-3;
  o->fourier = NFN_EDIT_FOURIER_M;
  o->fourier_scale = NFN_EDIT_FOURIER_SCALE;
  o->threads = (int) g_get_num_processors ();
}

/* ---- the task ---- */

typedef struct {
  nfn_model *model;
  nfn_edit edit;
  NfnTrainerNorm norm; /* n_tensors 0: the model sees the raw weights */
  float *normalized;   /* nfn_feature_size (space, max_batch, 1): the model's input */
} EditTask;

/* What the model sees of a batch: the networks standardised per tensor by the training set's
 * mean and std, or the networks themselves. The edit is added to the networks either way. */
static const nfn_feature *
edit_model_input (EditTask *task, const nfn_feature *inputs, nfn_feature *view)
{
  if (task->norm.n_tensors == 0)
    return inputs;
  nfn_feature_wrap (view, &inputs->space, inputs->B, 1, task->normalized);
  memcpy (view->data, inputs->data, inputs->size * sizeof (float));
  nfn_trainer_norm_apply (&task->norm, view);
  return view;
}

static nfn_status
edit_train_step (gpointer self, const nfn_feature *inputs, const int *labels, const float *targets, nfn_adam *opt,
                 double *loss)
{
  EditTask *task = self;
  nfn_feature view;
  if (!targets || inputs->B > task->edit.max_batch)
    return NFN_ERR_ARG;
  return nfn_edit_train_step (&task->edit, task->model, opt, inputs, edit_model_input (task, inputs, &view), targets,
                              loss);
}

static nfn_status
edit_predict (gpointer self, const nfn_feature *inputs, float *outputs /* (B, P) */)
{
  EditTask *task = self;
  nfn_feature view;
  if (inputs->B > task->edit.max_batch)
    return NFN_ERR_ARG;
  return nfn_edit_model_render (&task->edit, task->model, inputs, edit_model_input (task, inputs, &view), outputs);
}

/* "mse" (selected, lower is better) and "psnr" of renders (N, P) against the set's targets
 * (the task's score; self is unused). */
static gboolean
edit_score (gpointer self, const NfnTrainerSet *set, const float *renders, NfnTrainerMetrics *metrics, GError **error)
{
  size_t n = (size_t) nfn_trainer_set_size (set) * set->target_dim;
  double mse;
  nfn_status st = nfn_mse (renders, set->targets, n, &mse, NULL);
  if (st != NFN_OK)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_NONFINITE, "train edit: the edited networks' MSE: %s",
                   nfn_status_message (st));
      return FALSE;
    }
  metrics->n = 0;
  nfn_trainer_metrics_add (metrics, "mse", mse);
  nfn_trainer_metrics_add (metrics, "psnr", nfn_psnr (renders, set->targets, n, 2.0));
  return TRUE;
}

static void
edit_task_wire (NfnTrainerTask *task, EditTask *edit)
{
  memset (task, 0, sizeof *task);
  task->self = edit;
  task->output_dim = edit->edit.rows * edit->edit.cols;
  task->select_metric = "mse";
  task->select_higher = FALSE;
  task->params = nfn_model_params (edit->model);
  task->adam_m = nfn_model_adam_m (edit->model);
  task->adam_v = nfn_model_adam_v (edit->model);
  task->n_params = nfn_model_param_count_all (edit->model);
  task->n_trainable = nfn_model_param_count (edit->model);
  task->rng = nfn_model_rng (edit->model);
  task->train_step = edit_train_step;
  task->predict = edit_predict;
  task->score = edit_score;
}

/* ---- sets: networks of a zoo with their transformed source images ---- */

/* The zoo's SIREN, which the editor renders; FALSE with an error for other zoos. */
static gboolean
edit_check_zoo (NfnZooDir *zoo, GError **error)
{
  const NfnZooSettings *s = nfn_zoo_dir_settings (zoo);
  const nfn_arch *arch = &s->arch;
  if (arch->kind != NFN_NET_SIREN || nfn_net_input_size (arch) != 2 || nfn_net_output_size (arch) != 1)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, nfn_zoo_dir_path (zoo),
                          "editing needs a zoo of image SIRENs (2 inputs, 1 output)");
      return FALSE;
    }
  return nfn_task_zoo_finished (zoo, nfn_zoo_dir_count (zoo), "nfn zoo fit", error);
}

/* Loads images [first, last) of a zoo (last −1 = all) and sets each network's target (P
 * floats): its source image through `op`, mapped to [−1, 1] as the fit mapped the image. */
static gboolean
edit_set_load (NfnTrainerSet *set, NfnZooDir *zoo, gint64 first, gint64 last, NfnTrainerZooSelect select,
               nfn_morph_op op, GError **error)
{
  if (!edit_check_zoo (zoo, error) || !nfn_trainer_set_load_zoo (set, zoo, first, last, select, error))
    return FALSE;
  g_autoptr (GArray) entries = nfn_zoo_dir_entries (zoo, error);
  if (!entries)
    return FALSE;
  const NfnZooSettings *s = nfn_zoo_dir_settings (zoo);
  int N = nfn_trainer_set_size (set);
  gint64 max_image = 0;
  for (int k = 0; k < N; k++)
    max_image = MAX (max_image, g_array_index (entries, NfnZooEntry, set->source[k]).image);
  g_autoptr (NfnDataset) ds = nfn_dataset_load (s->dataset, s->split, (int) max_image + 1, error);
  if (!ds)
    return FALSE;
  if (ds->rows != s->rows || ds->cols != s->cols || max_image >= ds->count)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, nfn_zoo_dir_path (zoo),
                          "the zoo's images do not match the %s %s split installed here", s->dataset, s->split);
      return FALSE;
    }
  size_t P = (size_t) ds->rows * ds->cols;
  set->target_dim = (int) P;
  set->targets = g_new (float, N * P);
  g_autofree float *transformed = g_new (float, P);
  for (int k = 0; k < N; k++)
    {
      gint64 image = g_array_index (entries, NfnZooEntry, set->source[k]).image;
      nfn_morph_apply (op, ds->images + image * P, transformed, 1, ds->rows, ds->cols);
      nfn_fit_targets (set->targets + k * P, transformed, P);
    }
  return TRUE;
}

/* The floor to beat: MSE of the unedited networks' renders against the targets. */
static gboolean
edit_unedited_mse (nfn_edit *edit, const NfnTrainerSet *set, double *mse, GError **error)
{
  int N = nfn_trainer_set_size (set);
  g_autofree float *renders = g_try_new (float, (gsize) N * set->target_dim);
  if (!renders)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_IO, "train edit: out of memory for %d renders", N);
      return FALSE;
    }
  nfn_status st = nfn_edit_render (edit, &set->networks, renders);
  if (st != NFN_OK)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, "train edit: rendering the networks: %s",
                   nfn_status_message (st));
      return FALSE;
    }
  NfnTrainerMetrics metrics = { 0 };
  if (!edit_score (NULL, set, renders, &metrics, error))
    return FALSE;
  *mse = nfn_trainer_metrics_get (&metrics, "mse");
  return TRUE;
}

/* ---- the settings of a run ---- */

/* Everything a run is: recorded as the run's config, and rebuilt from it by --resume. */
typedef struct {
  NfnTaskSettings base;  /* weight_decay 0: plain Adam; normalize off by default (see above) */
  char *transform;
  int channels, depth;   /* 0: the editor's default */
  int fourier, io_bands; /* Fourier features m (0: off) and IO encoding bands (0: off) */
  double fourier_scale;
} EditSettings;

static void
edit_settings_clear (EditSettings *es)
{
  nfn_task_settings_clear (&es->base);
  g_free (es->transform);
  memset (es, 0, sizeof *es);
}

static char *
edit_settings_to_json (const EditSettings *es)
{
  const NfnTaskSettings *s = &es->base;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  nfn_task_json_add_string (b, "transform", es->transform);
  nfn_task_json_add_string (b, "zoo", s->zoo);
  nfn_task_json_add_string (b, "val", s->val);
  nfn_task_json_add_string (b, "test", s->test);
  nfn_task_json_add_string (b, "model", s->model_name);
  nfn_task_json_add_string (b, "out", s->out);
  nfn_task_settings_build_json_training (b, s);
  nfn_task_json_add_int (b, "channels", es->channels);
  nfn_task_json_add_int (b, "depth", es->depth);
  nfn_task_json_add_int (b, "fourier", es->fourier);
  nfn_task_json_add_number (b, "fourier_scale", es->fourier_scale);
  nfn_task_json_add_int (b, "io_bands", es->io_bands);
  nfn_task_json_add_number (b, "lr", s->lr);
  json_builder_end_object (b);
  return nfn_json_builder_to_text (b, FALSE);
}

/* The settings of a resumable run (its config), for resume. */
static gboolean
edit_settings_from_run (NfnStore *store, const NfnRun *run, EditSettings *s, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root = json_parser_load_from_data (parser, run->config_json, -1, NULL) ? json_parser_get_root (parser) : NULL;
  JsonObject *o = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  if (!o || !json_object_has_member (o, "transform"))
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, nfn_store_get_path (store),
                          "run %" G_GINT64_FORMAT " is not an nfn train edit run", run->id);
      return FALSE;
    }
  s->transform = nfn_task_json_string (o, "transform");
  nfn_task_settings_from_config (o, &s->base);
  s->base.lr = json_object_get_double_member_with_default (o, "lr", 0);
  s->channels = (int) json_object_get_int_member_with_default (o, "channels", 0);
  s->depth = (int) json_object_get_int_member_with_default (o, "depth", 0);
  /* runs from before these options had the editor's defaults */
  s->fourier = (int) json_object_get_int_member_with_default (o, "fourier", NFN_EDIT_FOURIER_M);
  s->fourier_scale = json_object_get_double_member_with_default (o, "fourier_scale", NFN_EDIT_FOURIER_SCALE);
  s->io_bands = (int) json_object_get_int_member_with_default (o, "io_bands", 0);
  return TRUE;
}

typedef struct {
  EditTask *task;
  const EditSettings *settings;
  NfnStore *store;
  double unedited_val, unedited_test; /* NAN without a test set */
  char *model_path;                   /* where finish saved the model */
} EditRun;

static gboolean
edit_finish (const NfnTrainerReport *report, JsonBuilder *summary, gpointer user_data, GError **error)
{
  EditRun *r = user_data;
  const EditSettings *s = r->settings;
  g_autoptr (JsonBuilder) extra = json_builder_new ();
  json_builder_begin_object (extra);
  nfn_task_json_add_string (extra, "transform", s->transform);
  nfn_task_json_add_int (extra, "rows", r->task->edit.rows);
  nfn_task_json_add_int (extra, "cols", r->task->edit.cols);
  if (r->task->norm.n_tensors > 0)
    {
      json_builder_set_member_name (extra, "input_norm");
      nfn_trainer_norm_build_json (extra, &r->task->norm);
    }
  json_builder_end_object (extra);
  g_autofree char *extra_json = nfn_json_builder_to_text (extra, FALSE);
  NfnModelFileInfo info = { .task = (char *) NFN_TASK_EDIT_MODEL, .extra_json = extra_json };
  g_autofree char *description = g_strdup_printf ("editing NFN (%s, %s)", s->base.model_name, s->transform);
  /* the summary's "transform" stands before the "model_file" that saving adds */
  nfn_task_json_add_string (summary, "transform", s->transform);
  g_free (r->model_path);
  r->model_path = nfn_task_save_model (r->task->model, &info, s->base.out, "-edit", r->store, report->run_id,
                                       description, summary, error);
  if (!r->model_path)
    return FALSE;
  json_builder_set_member_name (summary, "unedited");
  json_builder_begin_object (summary);
  nfn_task_json_add_number (summary, "mse", r->unedited_val);
  json_builder_end_object (summary);
  json_builder_set_member_name (summary, "unedited_test");
  json_builder_begin_object (summary);
  nfn_task_json_add_number (summary, "mse", r->unedited_test);
  json_builder_end_object (summary);
  return TRUE;
}

/* The training, validation and test sets the settings name (test empty without --test), and
 * the training zoo's SIREN and image size. */
static gboolean
edit_load_sets (const NfnTaskSettings *s, nfn_morph_op op, NfnTrainerSet *train, NfnTrainerSet *val, NfnTrainerSet *test,
                nfn_arch *arch, int *rows, int *cols, GError **error)
{
  g_autoptr (NfnZooDir) zoo = nfn_zoo_dir_open (s->zoo, error);
  if (!zoo)
    return FALSE;
  *arch = nfn_zoo_dir_settings (zoo)->arch;
  *rows = nfn_zoo_dir_settings (zoo)->rows;
  *cols = nfn_zoo_dir_settings (zoo)->cols;
  if (s->val)
    {
      g_autoptr (NfnZooDir) val_zoo = nfn_zoo_dir_open (s->val, error);
      if (!val_zoo || !edit_set_load (train, zoo, 0, -1, NFN_TRAINER_ZOO_ALL, op, error)
          || !edit_set_load (val, val_zoo, 0, -1, NFN_TRAINER_ZOO_FIRST_FIT, op, error))
        return FALSE;
    }
  else
    {
      /* no validation zoo: the last tenth of the training zoo's images validates */
      gint64 images = nfn_zoo_dir_settings (zoo)->count, held = MAX (images / 10, 1);
      if (images < 2)
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, s->zoo, "too few images to hold some out; give --val ZOO");
          return FALSE;
        }
      if (!edit_set_load (train, zoo, 0, images - held, NFN_TRAINER_ZOO_ALL, op, error)
          || !edit_set_load (val, zoo, images - held, images, NFN_TRAINER_ZOO_FIRST_FIT, op, error))
        return FALSE;
    }
  if (s->test)
    {
      g_autoptr (NfnZooDir) test_zoo = nfn_zoo_dir_open (s->test, error);
      if (!test_zoo || !edit_set_load (test, test_zoo, 0, -1, NFN_TRAINER_ZOO_FIRST_FIT, op, error))
        return FALSE;
    }
  if (!nfn_space_equal (&train->networks.space, &val->networks.space)
      || (s->test && !nfn_space_equal (&train->networks.space, &test->networks.space))
      || train->target_dim != val->target_dim || (s->test && train->target_dim != test->target_dim))
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_SHAPE, s->zoo, "the training, validation and test zoos differ in "
                          "architecture or image size");
      return FALSE;
    }
  return TRUE;
}

/* ---- editing models ---- */

/* What an editing model's file says besides its parameters: the transform it was trained for
 * and the standardisation of its input (n_tensors 0 when it takes raw weights). */
gboolean
nfn_task_edit_model_extra (const NfnModelFileInfo *info, const nfn_space *space, const char *label, char **transform,
                           NfnTrainerNorm *norm, GError **error)
{
  memset (norm, 0, sizeof *norm);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root = info->extra_json && json_parser_load_from_data (parser, info->extra_json, -1, NULL)
                       ? json_parser_get_root (parser) : NULL;
  JsonObject *o = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  *transform = o ? nfn_task_json_string (o, "transform") : NULL;
  nfn_morph_op op;
  if (g_strcmp0 (info->task, NFN_TASK_EDIT_MODEL) != 0 || !*transform || !nfn_morph_parse (*transform, &op))
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "not an editing model (made by nfn train edit)");
      return FALSE;
    }
  if (json_object_has_member (o, "input_norm"))
    return nfn_trainer_norm_from_json_node (json_object_get_member (o, "input_norm"), space, norm, label, error);
  return TRUE;
}


/* ---- the run ---- */

static gboolean
edit_settings_from_options (const NfnTaskOptions *o, EditSettings *s, GError **error)
{
  if (!o->transform || !o->zoo)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED,
                   "train edit: --task and --zoo are required (see nfn train edit --help)");
      return FALSE;
    }
  if (o->layer_channels[0] > 0)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED,
                   "train edit: the editor takes one --channels width for all its layers");
      return FALSE;
    }
  if (!nfn_task_settings_from_options (o, "train edit", "nfn zoo fit", &s->base, error))
    return FALSE;
  s->base.weight_decay = 0; /* no --weight-decay: plain Adam */
  s->transform = g_strdup (o->transform);
  s->channels = o->channels;
  s->depth = o->depth;
  s->fourier = o->fourier;
  s->fourier_scale = o->fourier_scale;
  s->io_bands = o->io_bands;
  return TRUE;
}

gboolean
nfn_task_edit_run (const NfnTaskOptions *o, NfnStore *store, const NfnTaskHooks *hooks, GCancellable *cancellable,
                   NfnTaskResult *result, GError **error)
{
  EditSettings settings = { 0 };
  NfnTaskSettings *s = &settings.base;
  nfn_task_result_clear (result);
  if (o->resume > 0)
    {
      g_autoptr (NfnRun) run = nfn_task_resumable_run (store, o->resume, NFN_TASK_EDIT, error);
      if (!run || !edit_settings_from_run (store, run, &settings, error))
        {
          edit_settings_clear (&settings);
          return FALSE;
        }
    }
  else if (!edit_settings_from_options (o, &settings, error))
    {
      edit_settings_clear (&settings);
      return FALSE;
    }
  nfn_morph_op op;
  nfn_model_kind kind;
  gboolean ok = FALSE;
  if (!nfn_morph_parse (settings.transform, &op))
    g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED,
                 "train edit: unknown --task \"%s\" (dilate, erode, gradient or invert)", settings.transform);
  else if (!nfn_model_kind_parse (s->model_name, &kind) || kind == NFN_MODEL_STAT)
    g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED,
                 "train edit: unknown --model \"%s\" (np, hnp, pointwise or mlp)", s->model_name);
  else if (s->epochs < 1 || s->batch < 1 || !(s->lr > 0) || settings.channels < 0 || settings.depth < 0 || s->warmup < 0
           || s->seed < 0 || settings.fourier < 0 || settings.io_bands < 0 || !(settings.fourier_scale > 0))
    g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED,
                 "train edit: --epochs, --batch must be ≥ 1, --lr, --fourier-scale > 0, --channels, --depth, --warmup,"
                 " --seed, --fourier, --io-bands ≥ 0");
  else
    ok = TRUE;
  if (!ok)
    {
      edit_settings_clear (&settings);
      return FALSE;
    }
  nfn_set_threads (nfn_task_clamp_threads (o->threads));

  NfnTrainerSet train = { 0 }, val_set = { 0 }, test_set = { 0 };
  EditTask task = { 0 };
  EditRun r = { .task = &task, .settings = &settings, .store = store, .unedited_test = NAN };
  NfnTaskCancel cancel;
  nfn_arch arch;
  int rows, cols;
  nfn_task_cancel_begin (&cancel, hooks, cancellable);
  ok = edit_load_sets (s, op, &train, &val_set, &test_set, &arch, &rows, &cols, error);
  if (ok)
    {
      nfn_model_config cfg;
      nfn_edit_model_config (&cfg, kind, &train.networks.space);
      cfg.max_batch = s->batch;
      if (settings.channels > 0)
        cfg.channels = settings.channels;
      if (settings.depth > 0)
        cfg.depth = settings.depth;
      cfg.fourier_m = settings.fourier;
      cfg.fourier_scale = settings.fourier_scale;
      cfg.io_bands = settings.io_bands;
      if (s->normalize)
        nfn_trainer_norm_fit (&task.norm, &train.networks);
      nfn_status st = nfn_model_new (&cfg, (unsigned long) s->seed, &task.model);
      if (st == NFN_OK)
        st = nfn_edit_init (&task.edit, &arch, rows, cols, s->batch);
      if (st == NFN_OK && !(task.normalized = g_try_new (float, nfn_feature_size (&arch.space, s->batch, 1))))
        st = NFN_ERR_NOMEM;
      if (st != NFN_OK)
        g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, "train edit: cannot build the %s model: %s",
                     s->model_name, nfn_status_message (st));
      ok = st == NFN_OK;
    }
  ok = ok && edit_unedited_mse (&task.edit, &val_set, &r.unedited_val, error)
       && (!s->test || edit_unedited_mse (&task.edit, &test_set, &r.unedited_test, error));
  if (ok)
    {
      NfnTrainerTask trainer_task;
      edit_task_wire (&trainer_task, &task);
      if (s->augment)
        trainer_task.augment = nfn_trainer_augment_hnp;
      g_autofree char *config_json = edit_settings_to_json (&settings);
      NfnTrainerOptions options;
      nfn_task_trainer_options (&options, s, store, NFN_TASK_EDIT, config_json, o->resume, hooks, &cancel);
      options.finish = edit_finish;
      options.finish_data = &r;
      nfn_task_result_sets (result, s->model_name, &train, &val_set, &test_set);
      result->transform = g_strdup (settings.transform);
      result->unedited_val = r.unedited_val;
      result->unedited_test = r.unedited_test;
      nfn_task_announce (hooks, "train edit: %s with %s (%zu parameters) on %d networks, val %d%s, test %d;"
                         " unedited val MSE %.4f%s", settings.transform, s->model_name, nfn_model_param_count (task.model),
                         result->train_networks, result->val_networks,
                         s->val ? "" : " (the last tenth of the zoo's images)", result->test_networks, r.unedited_val,
                         o->resume > 0 ? ", resumed" : "");
      ok = nfn_task_train (&trainer_task, &train, &val_set, s->test ? &test_set : NULL, &options, store, result, error);
      result->model_path = g_steal_pointer (&r.model_path);
    }
  nfn_task_cancel_end (&cancel);
  g_free (r.model_path);
  nfn_model_free (task.model);
  nfn_edit_clear (&task.edit);
  g_free (task.normalized);
  nfn_trainer_set_clear (&train);
  nfn_trainer_set_clear (&val_set);
  nfn_trainer_set_clear (&test_set);
  edit_settings_clear (&settings);
  return ok;
}

/* ---- a preview: one network before and after, and its target ---- */

/* pixels of the fit's [−1, 1] back to an image's [0, 1] */
static float *
edit_to_image (const float *pixels, size_t P)
{
  float *image = g_new (float, P);
  for (size_t k = 0; k < P; k++)
    image[k] = CLAMP (0.5f * (pixels[k] + 1.0f), 0.0f, 1.0f);
  return image;
}

gboolean
nfn_task_edit_preview (const char *model_path, const char *zoo_path, gint64 image, int *rows, int *cols,
                       float **before, float **after, float **target, GError **error)
{
  NfnModelFileInfo info = { 0 };
  nfn_model *model = nfn_model_file_load (model_path, 1, &info, error);
  if (!model)
    return FALSE;
  const nfn_space *space = &nfn_model_get_config (model)->space;
  g_autofree char *transform = NULL;
  NfnTrainerNorm norm;
  NfnTrainerSet set = { 0 };
  nfn_edit edit = { 0 };
  nfn_feature input = { 0 }, edited = { 0 };
  nfn_morph_op op;
  g_autoptr (NfnZooDir) zoo = NULL;
  gboolean ok = nfn_task_edit_model_extra (&info, space, model_path, &transform, &norm, error)
                && nfn_morph_parse (transform, &op) && (zoo = nfn_zoo_dir_open (zoo_path, error)) != NULL
                && edit_set_load (&set, zoo, image, image + 1, NFN_TRAINER_ZOO_FIRST_FIT, op, error);
  if (ok && !nfn_space_equal (&set.networks.space, space))
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_SHAPE, zoo_path, "its SIRENs are not those %s edits", model_path);
      ok = FALSE;
    }
  if (ok)
    {
      const NfnZooSettings *zs = nfn_zoo_dir_settings (zoo);
      size_t P = (size_t) zs->rows * zs->cols;
      g_autofree float *pixels_before = g_new (float, P), *pixels_after = g_new (float, P);
      nfn_status st = nfn_edit_init (&edit, &zs->arch, zs->rows, zs->cols, 1);
      if (st == NFN_OK)
        st = nfn_feature_alloc (&input, space, 1, 1);
      if (st == NFN_OK)
        st = nfn_feature_alloc (&edited, space, 1, 1);
      if (st == NFN_OK)
        {
          memcpy (input.data, set.networks.data, input.size * sizeof (float));
          nfn_trainer_norm_apply (&norm, &input);
          st = nfn_edit_model_apply (model, &set.networks, &input, &edited);
        }
      if (st == NFN_OK)
        st = nfn_edit_render (&edit, &set.networks, pixels_before);
      if (st == NFN_OK)
        st = nfn_edit_render (&edit, &edited, pixels_after);
      if (st != NFN_OK)
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, model_path, "editing failed: %s", nfn_status_message (st));
          ok = FALSE;
        }
      else
        {
          *rows = zs->rows;
          *cols = zs->cols;
          *before = edit_to_image (pixels_before, P);
          *after = edit_to_image (pixels_after, P);
          *target = edit_to_image (set.targets, P);
        }
    }
  nfn_feature_free (&input);
  nfn_feature_free (&edited);
  nfn_edit_clear (&edit);
  nfn_trainer_set_clear (&set);
  nfn_model_free (model);
  nfn_model_file_info_clear (&info);
  return ok;
}
