/* nfn-train-edit.c — `nfn train edit` (INR style editing, issue 4) and `nfn edit`.
 *
 * Training: the networks of a SIREN zoo, each with the target 2·transform(source image) − 1
 * on the fitting grid; an equivariant model (engine/nfn_edit.h) learns a weight delta so that
 * the edited SIREN renders the target. The shared loop (data/nfn_trainer.h) does the epochs,
 * selection of the best epoch by validation MSE, checkpoints, --resume and the store rows; this
 * file supplies the task (train step, render, MSE score), the sets with their targets, and
 * the floor: the MSE of the unedited networks against the same targets.
 *
 * Defaults: the paper's editor (Zhou et al. 2023, INR editing: Gaussian Fourier features m = 128
 * of scale 3, 3 NF layers of 128 channels, LearnedScale from 0.01, Adam lr 1e-3, batch 32).
 * The model sees the raw weights, as in the paper: standardising each tensor by the training
 * set's mean and std (--normalize, NfnTrainerNorm, kept in the model file; classify's default)
 * overfitted here — 2,000 MNIST SIRENs, NP, 20 epochs: train/val MSE 0.093/0.137 against
 * 0.121/0.122 raw.
 * Without --val the last tenth of the training zoo's images is held out for validation;
 * validation and test use one network per image.
 *
 * Shape letters: N networks in a set, B in a batch, R×Cc image rows × columns, P = R·Cc pixels
 * (the task's output and target width).
 */
#include "nfn_json.h"
#include "nfn-cli.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nfn_datasets.h"
#include "nfn_edit.h"
#include "nfn_fit.h"
#include "nfn_model_file.h"
#include "nfn_morph.h"
#include "nfn_network.h"
#include "nfn_perm.h"
#include "nfn_trainer.h"
#include "nfn_zoo.h"

#define EDIT_TASK_NAME "train-edit"
#define EDIT_MODEL_TASK "edit"

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
  if (nfn_zoo_dir_available (zoo) < nfn_zoo_dir_count (zoo))
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, nfn_zoo_dir_path (zoo),
                          "the zoo is not finished (%" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " networks; "
                          "run its nfn zoo fit again)",
                          nfn_zoo_dir_available (zoo), nfn_zoo_dir_count (zoo));
      return FALSE;
    }
  return TRUE;
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

/* ---- nfn train edit ---- */

/* Everything a run is: recorded as the run's config, and rebuilt from it by --resume. */
typedef struct {
  char *transform, *zoo, *val, *test, *model, *out;
  int epochs, batch, channels, depth, warmup;
  double lr;
  gint64 seed;
  gboolean augment;
  gboolean normalize; /* standardise the model's input per tensor (NfnTrainerNorm) */
} EditSettings;

static void
edit_settings_clear (EditSettings *s)
{
  g_free (s->transform);
  g_free (s->zoo);
  g_free (s->val);
  g_free (s->test);
  g_free (s->model);
  g_free (s->out);
  memset (s, 0, sizeof *s);
}

static void
add_member_string (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

static void
add_member_int (JsonBuilder *b, const char *name, gint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

static void
add_member_double (JsonBuilder *b, const char *name, double value)
{
  json_builder_set_member_name (b, name);
  if (isfinite (value))
    json_builder_add_double_value (b, value);
  else
    json_builder_add_null_value (b);
}

static char *
edit_settings_to_json (const EditSettings *s)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  add_member_string (b, "transform", s->transform);
  add_member_string (b, "zoo", s->zoo);
  add_member_string (b, "val", s->val);
  add_member_string (b, "test", s->test);
  add_member_string (b, "model", s->model);
  add_member_string (b, "out", s->out);
  add_member_int (b, "epochs", s->epochs);
  add_member_int (b, "batch", s->batch);
  add_member_int (b, "channels", s->channels);
  add_member_int (b, "depth", s->depth);
  add_member_int (b, "warmup", s->warmup);
  add_member_double (b, "lr", s->lr);
  add_member_int (b, "seed", s->seed);
  json_builder_set_member_name (b, "augment");
  json_builder_add_boolean_value (b, s->augment);
  json_builder_set_member_name (b, "normalize");
  json_builder_add_boolean_value (b, s->normalize);
  json_builder_end_object (b);
  return nfn_json_builder_to_text (b, FALSE);
}

static char *
json_dup_string (JsonObject *o, const char *name)
{
  JsonNode *node = json_object_get_member (o, name);
  return node && JSON_NODE_HOLDS_VALUE (node) ? g_strdup (json_node_get_string (node)) : NULL;
}

/* The settings of run `run`, for --resume. */
static gboolean
edit_settings_from_run (NfnStore *store, gint64 run_id, EditSettings *s, GError **error)
{
  g_autoptr (NfnRun) run = nfn_store_get_run (store, run_id, error);
  if (!run)
    return FALSE;
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root = json_parser_load_from_data (parser, run->config_json, -1, NULL) ? json_parser_get_root (parser) : NULL;
  JsonObject *o = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  if (g_strcmp0 (run->task, EDIT_TASK_NAME) != 0 || !o || !json_object_has_member (o, "transform"))
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, nfn_store_get_path (store),
                          "run %" G_GINT64_FORMAT " is not an nfn train edit run", run_id);
      return FALSE;
    }
  s->transform = json_dup_string (o, "transform");
  s->zoo = json_dup_string (o, "zoo");
  s->val = json_dup_string (o, "val");
  s->test = json_dup_string (o, "test");
  s->model = json_dup_string (o, "model");
  s->out = json_dup_string (o, "out");
  s->epochs = (int) json_object_get_int_member_with_default (o, "epochs", 0);
  s->batch = (int) json_object_get_int_member_with_default (o, "batch", 0);
  s->channels = (int) json_object_get_int_member_with_default (o, "channels", 0);
  s->depth = (int) json_object_get_int_member_with_default (o, "depth", 0);
  s->warmup = (int) json_object_get_int_member_with_default (o, "warmup", 0);
  s->lr = json_object_get_double_member_with_default (o, "lr", 0);
  s->seed = json_object_get_int_member_with_default (o, "seed", 0);
  s->augment = json_object_get_boolean_member_with_default (o, "augment", FALSE);
  s->normalize = json_object_get_boolean_member_with_default (o, "normalize", FALSE);
  return TRUE;
}

/* Where the model goes when --out is not given: beside the store, named by the run. */
static char *
edit_default_model_path (NfnStore *store, gint64 run)
{
  g_autofree char *dir = g_path_get_dirname (nfn_store_get_path (store));
  g_autofree char *name = g_strdup_printf ("run-%" G_GINT64_FORMAT "-edit.safetensors", run);
  return g_build_filename (dir, "models", name, NULL);
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
  r->model_path = s->out ? g_strdup (s->out) : edit_default_model_path (r->store, report->run_id);
  g_autofree char *dir = g_path_get_dirname (r->model_path);
  g_mkdir_with_parents (dir, 0755);
  g_autoptr (JsonBuilder) extra = json_builder_new ();
  json_builder_begin_object (extra);
  add_member_string (extra, "transform", s->transform);
  add_member_int (extra, "rows", r->task->edit.rows);
  add_member_int (extra, "cols", r->task->edit.cols);
  if (r->task->norm.n_tensors > 0)
    {
      json_builder_set_member_name (extra, "input_norm");
      nfn_trainer_norm_build_json (extra, &r->task->norm);
    }
  json_builder_end_object (extra);
  g_autofree char *extra_json = nfn_json_builder_to_text (extra, FALSE);
  NfnModelFileInfo info = { .task = (char *) EDIT_MODEL_TASK, .extra_json = extra_json };
  if (!nfn_model_file_save (r->task->model, &info, r->model_path, error))
    return FALSE;
  if (r->store && report->run_id > 0)
    {
      g_autofree char *description = g_strdup_printf ("editing NFN (%s, %s)", s->model, s->transform);
      if (!nfn_store_run_add_artifact (r->store, report->run_id, "model", r->model_path, description, error))
        return FALSE;
    }
  add_member_string (summary, "transform", s->transform);
  add_member_string (summary, "model_file", r->model_path);
  json_builder_set_member_name (summary, "unedited");
  json_builder_begin_object (summary);
  add_member_double (summary, "mse", r->unedited_val);
  json_builder_end_object (summary);
  json_builder_set_member_name (summary, "unedited_test");
  json_builder_begin_object (summary);
  add_member_double (summary, "mse", r->unedited_test);
  json_builder_end_object (summary);
  return TRUE;
}

/* Ctrl-C cancels at the next step (the last checkpoint stays); a second one kills. */
static volatile int edit_cancel_flag;

static void
edit_on_sigint (int signum)
{
  edit_cancel_flag = 1;
}

/* The training, validation and test sets the settings name (test empty without --test), and
 * the training zoo's SIREN and image size. */
static gboolean
edit_load_sets (const EditSettings *s, nfn_morph_op op, NfnTrainerSet *train, NfnTrainerSet *val, NfnTrainerSet *test,
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

static void
edit_print_json (const EditSettings *s, const NfnTrainerReport *report, const EditRun *r, NfnStore *store)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  add_member_int (b, "run", report->run_id);
  add_member_string (b, "transform", s->transform);
  add_member_string (b, "model", s->model);
  add_member_int (b, "best_epoch", report->best_epoch);
  add_member_int (b, "epochs", report->epochs_done);
  add_member_int (b, "steps", report->steps);
  add_member_double (b, "val_mse", nfn_trainer_metrics_get (&report->val, "mse"));
  add_member_double (b, "val_unedited_mse", r->unedited_val);
  add_member_double (b, "test_mse", report->test.n ? nfn_trainer_metrics_get (&report->test, "mse") : NAN);
  add_member_double (b, "test_unedited_mse", r->unedited_test);
  add_member_double (b, "wall_seconds", report->seconds);
  add_member_int (b, "params", (gint64) report->params);
  add_member_string (b, "model_file", r->model_path);
  add_member_string (b, "db", nfn_store_get_path (store));
  json_builder_end_object (b);
  nfn_cli_print_json (b);
}

int
nfn_cli_train_edit (int argc, char **argv)
{
  EditSettings s = { 0 };
  g_autofree char *db = NULL, *transform = NULL, *zoo = NULL, *val = NULL, *test = NULL, *model = NULL, *out = NULL;
  int epochs = 10, batch = 32, channels = 0, depth = 0, warmup = 0, threads = (int) g_get_num_processors ();
  double lr = 1e-3;
  gint64 seed = 0, resume = 0;
  gboolean augment = FALSE, json = FALSE, normalize = FALSE;
  GOptionEntry entries[] = {
    { "task", 0, 0, G_OPTION_ARG_STRING, &transform, "the edit: dilate, erode, gradient (dilate − erode) or invert", "T" },
    { "zoo", 0, 0, G_OPTION_ARG_FILENAME, &zoo, "the training zoo (SIRENs of images)", "ZOO" },
    { "val", 0, 0, G_OPTION_ARG_FILENAME, &val, "the validation zoo (default: the last tenth of --zoo's images)", "ZOO" },
    { "test", 0, 0, G_OPTION_ARG_FILENAME, &test, "the test zoo, evaluated with the best epoch's model", "ZOO" },
    { "model", 0, 0, G_OPTION_ARG_STRING, &model, "np (default), hnp, pointwise or mlp", "KIND" },
    { "epochs", 0, 0, G_OPTION_ARG_INT, &epochs, "passes over the training zoo (default 10)", "E" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, "networks per step (default 32)", "B" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "Adam learning rate (default 1e-3)", "LR" },
    { "warmup", 0, 0, G_OPTION_ARG_INT, &warmup, "steps of linear learning-rate warmup (default 0)", "N" },
    { "channels", 0, 0, G_OPTION_ARG_INT, &channels, "channels of the NF layers (default 128)", "C" },
    { "depth", 0, 0, G_OPTION_ARG_INT, &depth, "NF layers before the output layer (default 3)", "D" },
    { "augment", 0, 0, G_OPTION_ARG_NONE, &augment, "permute each training network's hidden neurons at random", NULL },
    { "normalize", 0, 0, G_OPTION_ARG_NONE, &normalize,
      "feed the model each tensor standardised by the training set's mean and std (default: the raw weights)", NULL },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "seed of the model's init and the shuffles (default 0)", "S" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "BLAS threads (default: the number of cores)", "T" },
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &db, "experiment store (default: the XDG data dir)", "PATH" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "the model file (default: models/run-N-edit.safetensors beside the store)", "MODEL" },
    { "resume", 0, 0, G_OPTION_ARG_INT64, &resume, "continue run RUN from its last checkpoint, with its settings", "RUN" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print the results as JSON", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("— train an NFN that edits INRs (issue 4's style editing)");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nfn_cli_parse (context, &argc, &argv))
    return 1;
  if (argc != 1)
    return nfn_cli_fail ("train edit: unexpected argument \"%s\" (see nfn train edit --help)", argv[1]);
  if (threads < 1)
    return nfn_cli_fail ("train edit: --threads must be ≥ 1");
  g_autoptr (NfnStore) store = nfn_cli_open_store (db, FALSE);
  if (!store)
    return 1;
  g_autoptr (GError) error = NULL;
  if (resume > 0)
    {
      if (!edit_settings_from_run (store, resume, &s, &error))
        return nfn_cli_fail_error (error);
    }
  else
    {
      if (!transform || !zoo)
        return nfn_cli_fail ("train edit: --task and --zoo are required (see nfn train edit --help)");
      s.transform = g_strdup (transform);
      s.zoo = g_canonicalize_filename (zoo, NULL);
      s.val = val ? g_canonicalize_filename (val, NULL) : NULL;
      s.test = test ? g_canonicalize_filename (test, NULL) : NULL;
      s.model = g_strdup (model ? model : "np");
      s.out = out ? g_canonicalize_filename (out, NULL) : NULL;
      s.epochs = epochs;
      s.batch = batch;
      s.channels = channels;
      s.depth = depth;
      s.warmup = warmup;
      s.lr = lr;
      s.seed = seed;
      s.augment = augment;
      s.normalize = normalize;
    }
  nfn_morph_op op;
  nfn_model_kind kind;
  int status = 1;
  if (!nfn_morph_parse (s.transform, &op))
    status = nfn_cli_fail ("train edit: unknown --task \"%s\" (dilate, erode, gradient or invert)", s.transform);
  else if (!nfn_model_kind_parse (s.model, &kind) || kind == NFN_MODEL_STAT)
    status = nfn_cli_fail ("train edit: unknown --model \"%s\" (np, hnp, pointwise or mlp)", s.model);
  else if (s.epochs < 1 || s.batch < 1 || !(s.lr > 0) || s.channels < 0 || s.depth < 0 || s.warmup < 0 || s.seed < 0)
    status = nfn_cli_fail ("train edit: --epochs, --batch must be ≥ 1, --lr > 0, --channels, --depth, --warmup, --seed ≥ 0");
  else
    status = 0;
  if (status)
    {
      edit_settings_clear (&s);
      return status;
    }
  nfn_set_threads (threads);

  NfnTrainerSet train = { 0 }, val_set = { 0 }, test_set = { 0 };
  EditTask task = { 0 };
  EditRun r = { .task = &task, .settings = &s, .store = store, .unedited_test = NAN };
  NfnTrainerReport report = { 0 };
  nfn_arch arch;
  int rows, cols;
  gboolean ok = edit_load_sets (&s, op, &train, &val_set, &test_set, &arch, &rows, &cols, &error);
  if (ok)
    {
      nfn_model_config cfg;
      nfn_edit_model_config (&cfg, kind, &train.networks.space);
      cfg.max_batch = s.batch;
      if (s.channels > 0)
        cfg.channels = s.channels;
      if (s.depth > 0)
        cfg.depth = s.depth;
      if (s.normalize)
        nfn_trainer_norm_fit (&task.norm, &train.networks);
      nfn_status st = nfn_model_new (&cfg, (unsigned long) s.seed, &task.model);
      if (st == NFN_OK)
        st = nfn_edit_init (&task.edit, &arch, rows, cols, s.batch);
      if (st == NFN_OK && !(task.normalized = g_try_new (float, nfn_feature_size (&arch.space, s.batch, 1))))
        st = NFN_ERR_NOMEM;
      if (st != NFN_OK)
        g_set_error (&error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, "train edit: cannot build the %s model: %s",
                     s.model, nfn_status_message (st));
      ok = st == NFN_OK;
    }
  ok = ok && edit_unedited_mse (&task.edit, &val_set, &r.unedited_val, &error)
       && (!s.test || edit_unedited_mse (&task.edit, &test_set, &r.unedited_test, &error));
  if (ok)
    {
      NfnTrainerTask trainer_task;
      edit_task_wire (&trainer_task, &task);
      if (s.augment)
        trainer_task.augment = nfn_trainer_augment_hnp;
      g_autofree char *config_json = edit_settings_to_json (&s);
      NfnCliTrainDisplay display;
      nfn_cli_train_display_init (&display, "mse", FALSE);
      NfnTrainerOptions options;
      nfn_trainer_options_init (&options);
      options.epochs = s.epochs;
      options.batch_size = s.batch;
      options.lr = s.lr;
      options.warmup_steps = s.warmup;
      options.seed = (guint64) s.seed;
      options.store = store;
      options.task_name = EDIT_TASK_NAME;
      options.model_name = s.model;
      options.config_json = config_json;
      options.resume_run = resume;
      options.progress = nfn_cli_train_progress;
      options.user_data = &display;
      options.cancel = &edit_cancel_flag;
      options.finish = edit_finish;
      options.finish_data = &r;
      display.header = g_strdup_printf ("train edit: %s with %s (%zu parameters) on %d networks, val %d%s, test %d;"
                                        " unedited val MSE %.4f%s", s.transform, s.model,
                                        nfn_model_param_count (task.model), nfn_trainer_set_size (&train),
                                        nfn_trainer_set_size (&val_set), s.val ? "" : " (the last tenth of the zoo's images)",
                                        s.test ? nfn_trainer_set_size (&test_set) : 0, r.unedited_val,
                                        resume > 0 ? ", resumed" : "");
      struct sigaction action = { .sa_handler = edit_on_sigint, .sa_flags = SA_RESETHAND };
      sigemptyset (&action.sa_mask);
      sigaction (SIGINT, &action, NULL);
      ok = nfn_trainer_run (&trainer_task, &train, &val_set, s.test ? &test_set : NULL, &options, &report, &error);
      signal (SIGINT, SIG_DFL);
      nfn_cli_train_display_end (&display);
    }
  if (ok && json)
    edit_print_json (&s, &report, &r, store);
  else if (ok)
    {
      printf ("train edit (%s, %s): best epoch %d of %d, %" G_GINT64_FORMAT " steps, %.1f s\n", s.transform, s.model,
              report.best_epoch, report.epochs_done, report.steps, report.seconds);
      printf ("  val  MSE %.5f (unedited %.5f)\n", nfn_trainer_metrics_get (&report.val, "mse"), r.unedited_val);
      if (report.test.n)
        printf ("  test MSE %.5f (unedited %.5f) on %d networks\n", nfn_trainer_metrics_get (&report.test, "mse"),
                r.unedited_test, nfn_trainer_set_size (&test_set));
      printf ("model %s; run %" G_GINT64_FORMAT " in %s\n", r.model_path, report.run_id, nfn_store_get_path (store));
    }
  nfn_trainer_report_clear (&report);
  g_free (r.model_path);
  nfn_model_free (task.model);
  nfn_edit_clear (&task.edit);
  g_free (task.normalized);
  nfn_trainer_set_clear (&train);
  nfn_trainer_set_clear (&val_set);
  nfn_trainer_set_clear (&test_set);
  edit_settings_clear (&s);
  if (!ok)
    return nfn_cli_fail_error (error);
  return 0;
}

/* ---- nfn edit ---- */

/* What an editing model's file says besides its parameters: the transform it was trained for
 * and the standardisation of its input (n_tensors 0 when it takes raw weights). */
static gboolean
edit_model_extra (const NfnModelFileInfo *info, const nfn_space *space, const char *label, char **transform,
                  NfnTrainerNorm *norm, GError **error)
{
  memset (norm, 0, sizeof *norm);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root = info->extra_json && json_parser_load_from_data (parser, info->extra_json, -1, NULL)
                       ? json_parser_get_root (parser) : NULL;
  JsonObject *o = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  *transform = o ? json_dup_string (o, "transform") : NULL;
  nfn_morph_op op;
  if (g_strcmp0 (info->task, EDIT_MODEL_TASK) != 0 || !*transform || !nfn_morph_parse (*transform, &op))
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "not an editing model (made by nfn train edit)");
      return FALSE;
    }
  if (json_object_has_member (o, "input_norm"))
    return nfn_trainer_norm_from_json_node (json_object_get_member (o, "input_norm"), space, norm, label, error);
  return TRUE;
}

int
nfn_cli_edit (int argc, char **argv)
{
  g_autofree char *out = NULL;
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out, "the edited network (safetensors)", "OUT" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("MODEL NET|ZOO:IDX — apply a trained editing NFN to a SIREN");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nfn_cli_parse (context, &argc, &argv))
    return 1;
  if (argc != 3)
    return nfn_cli_fail ("edit: expected MODEL and one NET or ZOO:IDX (see nfn edit --help)");
  if (!out)
    return nfn_cli_fail ("edit: -o OUT.safetensors is required");
  g_autoptr (GError) error = NULL;
  NfnModelFileInfo info = { 0 };
  nfn_model *model = nfn_model_file_load (argv[1], 1, &info, &error);
  if (!model)
    return nfn_cli_fail_error (error);
  const nfn_space *space = &nfn_model_get_config (model)->space;
  g_autofree char *transform = NULL;
  NfnTrainerNorm norm;
  gboolean is_edit = edit_model_extra (&info, space, argv[1], &transform, &norm, &error);
  nfn_model_file_info_clear (&info);
  g_autoptr (NfnNetwork) net = is_edit ? nfn_network_load_spec (argv[2], &error) : NULL;
  int status = 0;
  if (!net)
    status = nfn_cli_fail_error (error);
  else if (net->arch.kind != NFN_NET_SIREN || !nfn_space_equal (&net->arch.space, space))
    status = nfn_cli_fail ("%s: not a SIREN of the architecture %s edits", argv[2], argv[1]);
  if (status)
    {
      nfn_model_free (model);
      return status;
    }
  g_autoptr (NfnNetwork) edited = nfn_network_copy (net);
  nfn_feature input;
  nfn_status st = nfn_feature_alloc (&input, space, 1, 1);
  if (st == NFN_OK)
    {
      memcpy (input.data, net->weights.data, input.size * sizeof (float));
      nfn_trainer_norm_apply (&norm, &input);
      st = nfn_edit_model_apply (model, &net->weights, &input, &edited->weights);
      nfn_feature_free (&input);
    }
  nfn_model_free (model);
  if (st == NFN_OK)
    st = nfn_feature_check_finite (&edited->weights);
  if (st != NFN_OK)
    return nfn_cli_fail ("%s: editing failed: %s", argv[2], nfn_status_message (st));
  /* where it came from: render finds the source image in the nfn.zoo.* keys the copy keeps */
  g_autofree char *model_path = g_canonicalize_filename (argv[1], NULL);
  nfn_network_set_metadata (edited, "nfn.edit.transform", transform);
  nfn_network_set_metadata (edited, "nfn.edit.model", model_path);
  nfn_network_set_metadata (edited, "nfn.edit.source", argv[2]);
  if (!nfn_network_save (edited, out, &error))
    return nfn_cli_fail_error (error);
  printf ("%s: %s edited for \"%s\", ‖delta‖ = %.4g\n", out, argv[2], transform,
          nfn_weight_distance (&net->weights, &edited->weights));
  return 0;
}
