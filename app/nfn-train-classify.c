/* nfn-train-classify.c — `nfn train classify` (INR classification), `nfn predict`, `nfn eval`.
 *
 * Training reads the zoos once into memory, wires an nfn_model into the shared trainer
 * (data/nfn_trainer.h) and saves the best epoch's model as safetensors. Everything a run needs
 * to start again goes into its config JSON, so `--resume RUN` takes nothing else.
 *
 * Defaults, the paper's classifier (Zhou et al. 2023, INR classification) cut to fit a 2-core
 * CPU: Gaussian Fourier features (m = 64 → 128 channels, scale 3), IO encoding (NP and
 * pointwise, 4 bands), 3 NF layers of 64 channels with ReLU, invariant pool, head 1000-1000
 * with dropout 0.1, AdamW lr 1e-3 with 100 warmup steps, batch 32, 10 epochs. The paper uses
 * 128 channels and ~200k steps; --channels, --fourier and --epochs restore them when time
 * allows. Ours, not the paper's: every tensor is standardised by the training set's mean and
 * std (NfnTrainerNorm; a SIREN's hidden weights are ~1/ω0 of its first layer's, too small for
 * the Fourier features otherwise; --raw-weights turns it off), kept in the model file.
 * Refit copies of training images are extra training examples; validation and test use one
 * network per image (refit 0). Without --val the last 10 % of the training zoo's images (and
 * all their refits) are held out for validation.
 */
#include "nfn_json.h"
#include "nfn-cli.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nfn_datasets.h"
#include "nfn_model_file.h"
#include "nfn_network.h"
#include "nfn_trainer.h"
#include "nfn_zoo.h"

#define CLASSIFY_TASK "train-classify"
#define CLASSIFY_VAL_FRACTION 0.1

/* ---- progress display, shared by every `nfn train` task ---- */

char *
nfn_cli_format_duration (double seconds)
{
  if (!isfinite (seconds) || seconds < 0)
    return g_strdup ("--");
  long s = lround (seconds);
  if (s >= 3600)
    return g_strdup_printf ("%ldh%02ldm", s / 3600, s / 60 % 60);
  if (s >= 60)
    return g_strdup_printf ("%ldm%02lds", s / 60, s % 60);
  return g_strdup_printf ("%lds", s);
}

void
nfn_cli_train_display_init (NfnCliTrainDisplay *display, const char *metric, gboolean percent)
{
  memset (display, 0, sizeof *display);
  display->terminal = isatty (STDERR_FILENO);
  display->started_us = g_get_monotonic_time ();
  display->metric = metric;
  display->percent = percent;
}

static void
train_display_value (char *out, size_t size, const NfnCliTrainDisplay *d, double value)
{
  if (isnan (value))
    snprintf (out, size, "--");
  else if (d->percent)
    snprintf (out, size, "%.1f %%", 100 * value);
  else
    snprintf (out, size, "%.4f", value);
}

void
nfn_cli_train_progress (const NfnTrainerProgress *p, gpointer user_data)
{
  NfnCliTrainDisplay *d = user_data;
  gint64 now = g_get_monotonic_time ();
  /* the header waits for the first step, so a run refused before it prints one line only */
  if (d->header && !d->terminal)
    fprintf (stderr, "%s\n", d->header);
  g_clear_pointer (&d->header, g_free);
  if (d->first_step_us == 0)
    {
      /* the rate counts only this call's steps (a resumed run starts mid-way) */
      d->first_step = p->step;
      d->first_step_us = now;
    }
  char val[32], best[32];
  train_display_value (val, sizeof val, d, p->val_value);
  train_display_value (best, sizeof best, d, p->best_value);
  if (strcmp (p->phase, "epoch") == 0 && !d->terminal)
    {
      fprintf (stderr, "epoch %d/%d: loss %.4f, val %s %s (best %s at epoch %d), %.1f s\n", p->epoch, p->epochs, p->loss,
               d->metric, val, best, p->best_epoch, (now - d->started_us) / 1e6);
      fflush (stderr);
      return;
    }
  if (!d->terminal || (strcmp (p->phase, "train") == 0 && now - d->last_draw_us < 100000))
    return;
  d->last_draw_us = now;
  gint64 total = p->steps_per_epoch * p->epochs, done = p->step;
  double rate = now > d->first_step_us ? (done - d->first_step) / ((now - d->first_step_us) / 1e6) : 0;
  g_autofree char *eta = nfn_cli_format_duration (rate > 0 ? (total - done) / rate : NAN);
  const int width = 24;
  int filled = total > 0 ? (int) (width * done / total) : width;
  char bar[32];
  for (int k = 0; k < width; k++)
    bar[k] = k < MIN (filled, width) ? '#' : '.';
  bar[width] = 0;
  fprintf (stderr, "\r[%s] epoch %d/%d  step %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT "  loss %.4f  val %s %s  best %s  %s %s   ",
           bar, p->epoch, p->epochs, done, total, p->loss, d->metric, val, best,
           strcmp (p->phase, "train") == 0 ? "ETA" : p->phase, strcmp (p->phase, "train") == 0 ? eta : "");
  fflush (stderr);
}

void
nfn_cli_train_display_end (NfnCliTrainDisplay *display)
{
  if (display->terminal && !display->header)
    fprintf (stderr, "\n");
  g_clear_pointer (&display->header, g_free);
}

/* Ctrl-C cancels at the next step (the last checkpoint stays); a second one kills. */
static volatile int classify_cancel_flag;

static void
classify_on_sigint (int signum)
{
  classify_cancel_flag = 1;
}

/* ---- the settings of a run, and their JSON (the run's config) ---- */

typedef struct {
  char *zoo, *val, *test, *out; /* absolute paths; val/test may be NULL */
  char *model_name;             /* as given: np|hnp|pointwise|mlp|mlp-aug|stat */
  gboolean augment;
  gboolean normalize;           /* per-tensor input normalisation (NfnTrainerNorm) */
  int epochs, batch;
  double lr, weight_decay;
  gint64 warmup, seed;
  nfn_model_config model;       /* built from the options, or read back from a run */
} ClassifySettings;

static void
classify_settings_clear (ClassifySettings *s)
{
  g_free (s->zoo);
  g_free (s->val);
  g_free (s->test);
  g_free (s->out);
  g_free (s->model_name);
  memset (s, 0, sizeof *s);
}

static char *
classify_config_json (const ClassifySettings *s)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  const char *paths[] = { "zoo", s->zoo, "val", s->val, "test", s->test, "out", s->out, "model", s->model_name };
  for (guint k = 0; k < G_N_ELEMENTS (paths); k += 2)
    {
      json_builder_set_member_name (b, paths[k]);
      if (paths[k + 1])
        json_builder_add_string_value (b, paths[k + 1]);
      else
        json_builder_add_null_value (b);
    }
  json_builder_set_member_name (b, "val_fraction");
  if (s->val)
    json_builder_add_null_value (b);
  else
    json_builder_add_double_value (b, CLASSIFY_VAL_FRACTION);
  json_builder_set_member_name (b, "augment");
  json_builder_add_boolean_value (b, s->augment);
  json_builder_set_member_name (b, "normalize");
  json_builder_add_boolean_value (b, s->normalize);
  json_builder_set_member_name (b, "epochs");
  json_builder_add_int_value (b, s->epochs);
  json_builder_set_member_name (b, "batch");
  json_builder_add_int_value (b, s->batch);
  json_builder_set_member_name (b, "lr");
  json_builder_add_double_value (b, s->lr);
  json_builder_set_member_name (b, "weight_decay");
  json_builder_add_double_value (b, s->weight_decay);
  json_builder_set_member_name (b, "warmup");
  json_builder_add_int_value (b, s->warmup);
  json_builder_set_member_name (b, "seed");
  json_builder_add_int_value (b, s->seed);
  json_builder_set_member_name (b, "nfn_model");
  nfn_model_config_build_json (b, &s->model);
  json_builder_end_object (b);
  return nfn_json_builder_to_text (b, FALSE);
}

static char *
json_path_member (JsonObject *o, const char *name)
{
  JsonNode *node = json_object_get_member (o, name);
  if (!node || JSON_NODE_HOLDS_NULL (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return g_strdup (json_node_get_string (node));
}

/* The settings of run `run` (for --resume); one-line errors name the store. */
static gboolean
classify_settings_from_run (const NfnRun *run, const char *db_path, ClassifySettings *s, GError **error)
{
  g_autofree char *label = g_strdup_printf ("%s: run %" G_GINT64_FORMAT, db_path, run->id);
  if (g_strcmp0 (run->task, CLASSIFY_TASK) != 0)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, "%s is a %s run, not %s", label, run->task,
                   CLASSIFY_TASK);
      return FALSE;
    }
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, run->config_json, -1, NULL) || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "%s: its config is not a JSON object", label);
      return FALSE;
    }
  JsonObject *o = json_node_get_object (json_parser_get_root (parser));
  const char *required[] = { "zoo", "out", "model", "augment", "normalize", "epochs", "batch", "lr", "weight_decay", "warmup", "seed",
                             "nfn_model" };
  for (guint k = 0; k < G_N_ELEMENTS (required); k++)
    if (!json_object_has_member (o, required[k]))
      {
        g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "%s: its config lacks \"%s\"", label, required[k]);
        return FALSE;
      }
  s->zoo = json_path_member (o, "zoo");
  s->val = json_path_member (o, "val");
  s->test = json_path_member (o, "test");
  s->out = json_path_member (o, "out");
  s->model_name = json_path_member (o, "model");
  s->augment = json_object_get_boolean_member (o, "augment");
  s->normalize = json_object_get_boolean_member (o, "normalize");
  s->epochs = (int) json_object_get_int_member (o, "epochs");
  s->batch = (int) json_object_get_int_member (o, "batch");
  s->lr = json_object_get_double_member (o, "lr");
  s->weight_decay = json_object_get_double_member (o, "weight_decay");
  s->warmup = json_object_get_int_member (o, "warmup");
  s->seed = json_object_get_int_member (o, "seed");
  if (!s->zoo || !s->model_name)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "%s: its config has no zoo or model", label);
      return FALSE;
    }
  return nfn_model_config_from_json_node (json_object_get_member (o, "nfn_model"), &s->model, label, error);
}

/* "1000,1000" → widths; "" or "none" → no hidden layer. */
static gboolean
parse_head (const char *text, nfn_model_config *cfg)
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

/* A whole zoo (every image) for evaluation: one network per image. */
static gboolean
load_eval_zoo (const char *path, const nfn_space *space, NfnTrainerSet *set, GError **error)
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

static int
set_max_label (const NfnTrainerSet *set)
{
  int max = -1;
  for (int k = 0; k < nfn_trainer_set_size (set); k++)
    max = MAX (max, set->labels[k]);
  return max;
}

/* Training refits are extra examples; a carved validation split takes the last images so that
 * no image (and none of its refits) is on both sides. */
static gboolean
classify_load (const ClassifySettings *s, ClassifyData *d, GError **error)
{
  if (!(d->zoo = nfn_zoo_dir_open (s->zoo, error)))
    return FALSE;
  const NfnZooSettings *zs = nfn_zoo_dir_settings (d->zoo);
  d->dataset = g_strdup (zs->dataset);
  if (nfn_zoo_dir_available (d->zoo) < nfn_zoo_dir_count (d->zoo))
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, s->zoo,
                          "the zoo is not finished (%" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " networks; run its nfn zoo fit again)",
                          nfn_zoo_dir_available (d->zoo), nfn_zoo_dir_count (d->zoo));
      return FALSE;
    }
  gint64 images = zs->count, train_images = images;
  if (!s->val)
    {
      gint64 held = MAX (1, (gint64) floor (images * CLASSIFY_VAL_FRACTION));
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
  else if (!load_eval_zoo (s->val, &zs->arch.space, &d->val, error))
    return FALSE;
  if (!nfn_trainer_set_load_zoo (&d->train, d->zoo, 0, train_images, NFN_TRAINER_ZOO_ALL, error))
    return FALSE;
  if (s->test && !load_eval_zoo (s->test, &zs->arch.space, &d->test, error))
    return FALSE;
  if (s->normalize)
    {
      nfn_trainer_norm_fit (&d->norm, &d->train.networks);
      nfn_trainer_norm_apply (&d->norm, &d->train.networks);
      nfn_trainer_norm_apply (&d->norm, &d->val.networks);
      if (s->test)
        nfn_trainer_norm_apply (&d->norm, &d->test.networks);
    }
  /* the known data sets have 10 classes even when a small zoo misses one */
  d->n_classes = MAX (10, MAX (set_max_label (&d->train), set_max_label (&d->val)) + 1);
  if (s->test)
    d->n_classes = MAX (d->n_classes, set_max_label (&d->test) + 1);
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

/* counts (K, K): row = true class, column = predicted (the first argmax, as nfn_accuracy). */
static gint64 *
classify_confusion (const float *logits /* (N, K) */, const int *labels /* (N) */, int N, int K)
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

static void
add_confusion (JsonBuilder *b, const float *logits, const int *labels, int N, int K)
{
  g_autofree gint64 *counts = classify_confusion (logits, labels, N, K);
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

/* The norm a model file asks for (identity without one). */
static gboolean
classify_norm_from_info (const NfnModelFileInfo *info, const nfn_space *space, const char *label, NfnTrainerNorm *norm,
                         GError **error)
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
  g_autofree char *path = NULL;
  if (f->settings->out)
    path = g_strdup (f->settings->out);
  else
    {
      g_autofree char *db = g_canonicalize_filename (nfn_store_get_path (f->store), NULL);
      g_autofree char *dir = g_path_get_dirname (db);
      g_autofree char *name = g_strdup_printf ("run-%" G_GINT64_FORMAT ".safetensors", report->run_id);
      path = g_build_filename (dir, "models", name, NULL);
    }
  g_autofree char *dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_IO, dir, "cannot create the model's directory");
      return FALSE;
    }
  if (!nfn_model_file_save (f->model, &info, path, error)
      || !nfn_store_run_add_artifact (f->store, report->run_id, "model", path, "the best epoch's classifier (safetensors)", error))
    return FALSE;
  g_free (f->saved_path);
  f->saved_path = g_steal_pointer (&path);
  json_builder_set_member_name (summary, "model_file");
  json_builder_add_string_value (summary, f->saved_path);
  json_builder_set_member_name (summary, "val_accuracy");
  json_builder_add_double_value (summary, nfn_trainer_metrics_get (&report->val, "accuracy"));
  json_builder_set_member_name (summary, "val_carved_from_train");
  json_builder_add_boolean_value (summary, f->data->val_carved);
  if (report->test.n > 0)
    {
      json_builder_set_member_name (summary, "test_accuracy");
      json_builder_add_double_value (summary, nfn_trainer_metrics_get (&report->test, "accuracy"));
      json_builder_set_member_name (summary, "test_confusion");
      add_confusion (summary, report->test_outputs, f->data->test.labels, nfn_trainer_set_size (&f->data->test),
                     nfn_model_get_config (f->model)->n_out);
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

/* ---- nfn train classify ---- */

int
nfn_cli_train_classify (int argc, char **argv)
{
  g_autofree char *zoo = NULL, *val = NULL, *test = NULL, *model_name = NULL, *head = NULL, *db = NULL, *out = NULL;
  int epochs = 10, batch = 32, channels = 64, depth = 3, fourier = 64, io_bands = 4, threads = 0;
  double lr = 1e-3, weight_decay = 0.0, fourier_scale = 3.0, dropout = 0.0, head_dropout = 0.1;
  gint64 warmup = 100, seed = 0, resume = 0;
  gboolean augment = FALSE, json = FALSE, raw_weights = FALSE;
  GOptionEntry entries[] = {
    { "zoo", 0, 0, G_OPTION_ARG_FILENAME, &zoo, "training zoo (refit copies are extra examples)", "ZOO" },
    { "val", 0, 0, G_OPTION_ARG_FILENAME, &val, "validation zoo (default: the last 10 % of the training zoo's images)", "ZOO" },
    { "test", 0, 0, G_OPTION_ARG_FILENAME, &test, "test zoo, evaluated with the best epoch's model", "ZOO" },
    { "model", 0, 0, G_OPTION_ARG_STRING, &model_name, "np|hnp|pointwise|mlp|mlp-aug|stat (default np)", "KIND" },
    { "epochs", 0, 0, G_OPTION_ARG_INT, &epochs, "passes over the training zoo (default 10)", "E" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, "networks per step (default 32)", "B" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "learning rate (default 1e-3)", "LR" },
    { "weight-decay", 0, 0, G_OPTION_ARG_DOUBLE, &weight_decay, "AdamW's decoupled weight decay (default 0)", "WD" },
    { "warmup", 0, 0, G_OPTION_ARG_INT64, &warmup, "linear warmup steps (default 100)", "W" },
    { "channels", 0, 0, G_OPTION_ARG_INT, &channels, "NF layer channels (default 64)", "C" },
    { "depth", 0, 0, G_OPTION_ARG_INT, &depth, "NF layers (default 3)", "D" },
    { "fourier", 0, 0, G_OPTION_ARG_INT, &fourier, "Gaussian Fourier features m (2m channels; 0 = off; default 64)", "M" },
    { "fourier-scale", 0, 0, G_OPTION_ARG_DOUBLE, &fourier_scale, "std of the Fourier matrix (default 3)", "S" },
    { "io-bands", 0, 0, G_OPTION_ARG_INT, &io_bands, "NP/pointwise IO encoding bands (0 = off; default 4)", "K" },
    { "dropout", 0, 0, G_OPTION_ARG_DOUBLE, &dropout, "channel dropout after each NF layer (default 0)", "P" },
    { "head", 0, 0, G_OPTION_ARG_STRING, &head, "hidden widths of the MLP head (default 1000,1000)", "W,W" },
    { "head-dropout", 0, 0, G_OPTION_ARG_DOUBLE, &head_dropout, "dropout in the head (default 0.1)", "P" },
    { "raw-weights", 0, 0, G_OPTION_ARG_NONE, &raw_weights, "feed the weights as they are (default: each tensor standardised by the training set's mean and std)", NULL },
    { "augment", 0, 0, G_OPTION_ARG_NONE, &augment, "a random hidden-neuron permutation of every network at every step", NULL },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "seed of init, shuffling, augmentation and dropout (default 0)", "S" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "threads (default and maximum: the number of cores)", "T" },
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &db, "experiment store (default: the XDG data dir)", "PATH" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "the model file (default: models/run-ID.safetensors beside the store)", "MODEL" },
    { "resume", 0, 0, G_OPTION_ARG_INT64, &resume, "continue run RUN from its last checkpoint (takes its settings from the run)", "RUN" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "print the summary as JSON", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("— train an NFN to classify INRs by their image's class");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nfn_cli_parse (context, &argc, &argv))
    return 1;
  if (argc != 1)
    return nfn_cli_fail ("train classify: unexpected argument \"%s\" (see nfn train classify --help)", argv[1]);
  if (resume < 0)
    return nfn_cli_fail ("train classify: --resume needs a run id");
  if (resume > 0 && (zoo || val || test || model_name || out))
    return nfn_cli_fail ("train classify: --resume RUN takes the zoos, model and settings from the run; give only --db and --threads");

  g_autoptr (NfnStore) store = nfn_cli_open_store (db, FALSE);
  if (!store)
    return 1;
  g_autoptr (GError) error = NULL;
  ClassifySettings settings = { 0 };
  ClassifyData data = { 0 };
  int status = 1;
  nfn_model *model = NULL;
  g_auto (GStrv) class_names = NULL;
  NfnTrainerReport report = { 0 };
  ClassifyFinish finish = { 0 };
  /* everything with a cleanup is declared before the first goto */
  g_autofree char *config_json = NULL;
  g_autoptr (NfnRun) run = NULL;

  if (resume > 0)
    {
      if (!(run = nfn_store_get_run (store, resume, &error))
          || !classify_settings_from_run (run, nfn_store_get_path (store), &settings, &error))
        goto done;
      /* refused before the zoos load; the trainer checks again when it takes the run over */
      if (run->status == NFN_RUN_RUNNING || run->status == NFN_RUN_COMPLETED)
        {
          status = nfn_cli_fail ("train classify: %s: run %" G_GINT64_FORMAT " is %s; only an interrupted, failed or cancelled run can resume",
                                 nfn_store_get_path (store), resume, nfn_run_status_name (run->status));
          goto done;
        }
      g_clear_pointer (&run, nfn_run_free);
    }
  else
    {
      if (!zoo)
        {
          status = nfn_cli_fail ("train classify: --zoo ZOO is required (make one with nfn zoo fit)");
          goto done;
        }
      settings.model_name = g_strdup (model_name ? model_name : "np");
      nfn_model_kind kind;
      gboolean aug_model = strcmp (settings.model_name, "mlp-aug") == 0;
      if (!nfn_model_kind_parse (aug_model ? "mlp" : settings.model_name, &kind))
        {
          status = nfn_cli_fail ("train classify: --model must be np, hnp, pointwise, mlp, mlp-aug or stat, not \"%s\"",
                                 settings.model_name);
          goto done;
        }
      if (epochs < 1 || batch < 1 || !(lr > 0) || weight_decay < 0 || warmup < 0 || channels < 1 || depth < 1
          || depth > NFN_MODEL_MAX_DEPTH || fourier < 0 || io_bands < 0 || !(fourier_scale > 0) || dropout < 0
          || dropout >= 1 || head_dropout < 0 || head_dropout >= 1 || seed < 0)
        {
          status = nfn_cli_fail ("train classify: an option is out of range (epochs, batch, channels, depth ≥ 1, depth ≤ %d,"
                                 " lr > 0, dropouts in [0, 1), the rest ≥ 0)", NFN_MODEL_MAX_DEPTH);
          goto done;
        }
      settings.zoo = g_canonicalize_filename (zoo, NULL);
      settings.val = val ? g_canonicalize_filename (val, NULL) : NULL;
      settings.test = test ? g_canonicalize_filename (test, NULL) : NULL;
      /* no --out: models/run-ID.safetensors beside the store, named once the run has an id */
      settings.out = out ? g_canonicalize_filename (out, NULL) : NULL;
      settings.augment = augment || aug_model;
      settings.normalize = !raw_weights;
      settings.epochs = epochs;
      settings.batch = batch;
      settings.lr = lr;
      settings.weight_decay = weight_decay;
      settings.warmup = warmup;
      settings.seed = seed;
      /* the model's space and classes come from the zoo; the rest from the options */
      if (!classify_load (&settings, &data, &error))
        goto done;
      nfn_model_config *cfg = &settings.model;
      nfn_model_config_default (cfg, kind, &data.train.networks.space, data.n_classes);
      cfg->max_batch = batch;
      cfg->channels = channels;
      cfg->depth = depth;
      cfg->fourier_m = fourier;
      cfg->fourier_scale = fourier_scale;
      cfg->io_bands = kind == NFN_MODEL_NP || kind == NFN_MODEL_POINTWISE ? io_bands : 0;
      cfg->channel_dropout = (float) dropout;
      cfg->head_dropout = (float) head_dropout;
      if (head && !parse_head (head, cfg))
        {
          status = nfn_cli_fail ("train classify: --head takes up to %d widths ≥ 1 such as 1000,1000 (or none), not \"%s\"",
                                 NFN_MODEL_MAX_HEAD, head);
          goto done;
        }
      if (nfn_model_config_check (cfg) != NFN_OK)
        {
          status = nfn_cli_fail ("train classify: these options do not make a valid %s model", settings.model_name);
          goto done;
        }
    }
  if (resume > 0 && !classify_load (&settings, &data, &error))
    goto done;
  if (!nfn_space_equal (&settings.model.space, &data.train.networks.space) || settings.model.n_out < data.n_classes)
    {
      nfn_data_set_error (&error, NFN_DATA_ERROR_SHAPE, settings.zoo, "the zoo no longer matches the run's model");
      goto done;
    }

  nfn_set_threads (nfn_cli_clamp_threads (threads));
  nfn_status st = nfn_model_new (&settings.model, (unsigned long) settings.seed, &model);
  if (st != NFN_OK)
    {
      status = nfn_cli_fail ("train classify: cannot build the model: %s", nfn_status_message (st));
      goto done;
    }
  class_names = classify_class_names (data.dataset, settings.model.n_out);

  NfnTrainerTask task;
  nfn_trainer_task_classify (&task, model);
  if (settings.augment)
    task.augment = nfn_trainer_augment_hnp;
  config_json = classify_config_json (&settings);
  NfnCliTrainDisplay display;
  nfn_cli_train_display_init (&display, "accuracy", TRUE);
  finish = (ClassifyFinish) { &settings, &data, model, store, class_names, NULL };
  NfnTrainerOptions options;
  nfn_trainer_options_init (&options);
  options.epochs = settings.epochs;
  options.batch_size = settings.batch;
  options.lr = settings.lr;
  options.weight_decay = settings.weight_decay;
  options.decoupled = TRUE;
  options.warmup_steps = settings.warmup;
  options.seed = (guint64) settings.seed;
  options.store = store;
  options.task_name = CLASSIFY_TASK;
  options.model_name = settings.model_name;
  options.config_json = config_json;
  options.resume_run = resume;
  options.progress = nfn_cli_train_progress;
  options.user_data = &display;
  options.cancel = &classify_cancel_flag;
  options.finish = classify_finish;
  options.finish_data = &finish;

  display.header = g_strdup_printf ("train classify: %s on %d networks (%s), val %d%s, test %d, %zu parameters%s", settings.model_name,
             nfn_trainer_set_size (&data.train), settings.zoo, nfn_trainer_set_size (&data.val),
             data.val_carved ? " (the last 10 % of the training zoo's images)" : "", nfn_trainer_set_size (&data.test),
             nfn_model_param_count (model), resume > 0 ? ", resumed" : "");
  struct sigaction action = { .sa_handler = classify_on_sigint, .sa_flags = SA_RESETHAND };
  sigemptyset (&action.sa_mask);
  sigaction (SIGINT, &action, NULL);
  gboolean ok = nfn_trainer_run (&task, &data.train, &data.val, data.test.networks.B > 0 ? &data.test : NULL, &options,
                                 &report, &error);
  signal (SIGINT, SIG_DFL);
  nfn_cli_train_display_end (&display);
  if (!ok)
    goto done;

  if (!(run = nfn_store_get_run (store, report.run_id, &error)))
    goto done;
  if (json)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();
      if (json_parser_load_from_data (parser, run->summary_json, -1, NULL))
        {
          g_autoptr (JsonBuilder) b = json_builder_new ();
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "run");
          json_builder_add_int_value (b, report.run_id);
          json_builder_set_member_name (b, "summary");
          json_builder_add_value (b, json_node_copy (json_parser_get_root (parser)));
          json_builder_end_object (b);
          nfn_cli_print_json (b);
        }
    }
  else
    {
      g_autofree char *wall = nfn_cli_format_duration (report.seconds);
      printf ("run %" G_GINT64_FORMAT ": %s, best epoch %d of %d, val accuracy %.2f %%", report.run_id, settings.model_name,
              report.best_epoch, report.epochs_done, 100 * nfn_trainer_metrics_get (&report.val, "accuracy"));
      if (report.test.n > 0)
        printf (", test accuracy %.2f %%", 100 * nfn_trainer_metrics_get (&report.test, "accuracy"));
      printf ("\n%zu parameters, %s wall time; model %s\n", report.params, wall, finish.saved_path);
    }
  status = 0;

done:
  if (status != 0 && error)
    status = nfn_cli_fail_error (error);
  nfn_trainer_report_clear (&report);
  g_free (finish.saved_path);
  nfn_model_free (model);
  classify_data_clear (&data);
  classify_settings_clear (&settings);
  return status;
}

/* ---- nfn predict ---- */

int
nfn_cli_predict (int argc, char **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("MODEL NET… — a trained model's prediction for networks (files or ZOO:IDX)");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nfn_cli_parse (context, &argc, &argv))
    return 1;
  if (argc < 3)
    return nfn_cli_fail ("predict: expected MODEL and at least one NET (see nfn predict --help)");
  g_autoptr (GError) error = NULL;
  NfnModelFileInfo info = { 0 };
  nfn_model *model = nfn_model_file_load (argv[1], 1, &info, &error);
  if (!model)
    return nfn_cli_fail_error (error);
  const nfn_model_config *cfg = nfn_model_get_config (model);
  int status = 0, K = cfg->n_out;
  NfnTrainerNorm norm;
  g_autofree float *probs = g_new (float, K);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  if (strcmp (info.task, "genpred") == 0) /* accuracy predictors: app/nfn-train-genpred.c */
    {
      status = nfn_cli_predict_genpred (model, &info, argv[1], argc - 2, argv + 2, json);
      goto done;
    }
  if (strcmp (info.task, "classify") != 0 || cfg->output != NFN_MODEL_OUT_LOGITS)
    {
      status = nfn_cli_fail ("predict: %s: a %s model; nfn predict reads classifiers", argv[1], info.task);
      goto done;
    }
  if (!classify_norm_from_info (&info, &cfg->space, argv[1], &norm, &error))
    {
      status = nfn_cli_fail_error (error);
      goto done;
    }
  json_builder_begin_array (b);
  for (int k = 2; k < argc; k++)
    {
      g_autoptr (NfnNetwork) net = nfn_network_load_spec (argv[k], &error);
      if (!net)
        {
          status = nfn_cli_fail_error (error);
          goto done;
        }
      if (!nfn_space_equal (&net->arch.space, &cfg->space))
        {
          status = nfn_cli_fail ("predict: %s: its layer widths differ from those the model %s was trained on", argv[k], argv[1]);
          goto done;
        }
      nfn_trainer_norm_apply (&norm, &net->weights);
      const float *logits;
      nfn_status st = nfn_model_forward (model, &net->weights, 0, &logits);
      if (st != NFN_OK)
        {
          status = nfn_cli_fail ("predict: %s: %s", argv[k], nfn_status_message (st));
          goto done;
        }
      nfn_softmax (logits, probs, 1, K);
      int best = 0;
      for (int c = 1; c < K; c++)
        if (probs[c] > probs[best])
          best = c;
      const char *name = info.class_names ? info.class_names[best] : NULL;
      if (json)
        {
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "network");
          json_builder_add_string_value (b, argv[k]);
          json_builder_set_member_name (b, "class");
          json_builder_add_int_value (b, best);
          json_builder_set_member_name (b, "name");
          json_builder_add_string_value (b, name ? name : "");
          json_builder_set_member_name (b, "probabilities");
          json_builder_begin_array (b);
          for (int c = 0; c < K; c++)
            json_builder_add_double_value (b, probs[c]);
          json_builder_end_array (b);
          json_builder_end_object (b);
        }
      else
        {
          printf ("%s: class %d%s%s%s (p = %.3f)\n", argv[k], best, name ? " \"" : "", name ? name : "", name ? "\"" : "",
                  probs[best]);
          for (int c = 0; c < K; c++)
            printf ("  %2d %-14s %.4f\n", c, info.class_names ? info.class_names[c] : "", probs[c]);
        }
    }
  json_builder_end_array (b);
  if (json)
    nfn_cli_print_json (b);

done:
  nfn_model_free (model);
  nfn_model_file_info_clear (&info);
  return status;
}

/* ---- nfn eval ---- */

int
nfn_cli_eval (int argc, char **argv)
{
  g_autofree char *zoo = NULL;
  gboolean json = FALSE;
  int batch = 32, threads = 0;
  GOptionEntry entries[] = {
    { "zoo", 0, 0, G_OPTION_ARG_FILENAME, &zoo, "the zoo to evaluate on (one network per image)", "ZOO" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, "networks per forward pass (default 32)", "B" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "threads (default and maximum: the number of cores)", "T" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("MODEL — a trained classifier's accuracy and confusion matrix on a zoo");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nfn_cli_parse (context, &argc, &argv))
    return 1;
  if (argc != 2 || !zoo)
    return nfn_cli_fail ("eval: expected MODEL --zoo ZOO (see nfn eval --help)");
  if (batch < 1)
    return nfn_cli_fail ("eval: --batch must be ≥ 1");
  nfn_set_threads (nfn_cli_clamp_threads (threads));
  g_autoptr (GError) error = NULL;
  NfnModelFileInfo info = { 0 };
  nfn_model *model = nfn_model_file_load (argv[1], batch, &info, &error);
  if (!model)
    return nfn_cli_fail_error (error);
  const nfn_model_config *cfg = nfn_model_get_config (model);
  int status = 1, K = cfg->n_out;
  NfnTrainerSet set = { 0 };
  g_autofree float *logits = NULL;
  if (strcmp (info.task, "classify") != 0 || cfg->output != NFN_MODEL_OUT_LOGITS)
    {
      status = nfn_cli_fail ("eval: %s: a %s model; nfn eval reads classifiers", argv[1], info.task);
      goto done;
    }
  NfnTrainerNorm norm;
  if (!classify_norm_from_info (&info, &cfg->space, argv[1], &norm, &error) || !load_eval_zoo (zoo, &cfg->space, &set, &error))
    goto done;
  nfn_trainer_norm_apply (&norm, &set.networks);
  if (set_max_label (&set) >= K)
    {
      status = nfn_cli_fail ("eval: %s: labels up to %d, but the model %s knows %d classes", zoo, set_max_label (&set), argv[1], K);
      goto done;
    }
  NfnTrainerTask task;
  nfn_trainer_task_classify (&task, model);
  NfnTrainerMetrics metrics = { 0 };
  if (!(logits = nfn_trainer_predict_set (&task, &set, batch, &error)) || !task.score (task.self, &set, logits, &metrics, &error))
    goto done;
  int N = nfn_trainer_set_size (&set);
  double accuracy = nfn_trainer_metrics_get (&metrics, "accuracy");
  if (json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "model");
      json_builder_add_string_value (b, argv[1]);
      json_builder_set_member_name (b, "zoo");
      json_builder_add_string_value (b, zoo);
      json_builder_set_member_name (b, "networks");
      json_builder_add_int_value (b, N);
      json_builder_set_member_name (b, "accuracy");
      json_builder_add_double_value (b, accuracy);
      json_builder_set_member_name (b, "loss");
      json_builder_add_double_value (b, nfn_trainer_metrics_get (&metrics, "loss"));
      json_builder_set_member_name (b, "classes");
      json_builder_begin_array (b);
      for (int c = 0; c < K; c++)
        json_builder_add_string_value (b, info.class_names ? info.class_names[c] : "");
      json_builder_end_array (b);
      json_builder_set_member_name (b, "confusion");
      add_confusion (b, logits, set.labels, N, K);
      json_builder_end_object (b);
      nfn_cli_print_json (b);
    }
  else
    {
      printf ("%s on %s: accuracy %.2f %% (%d networks), cross-entropy %.4f\n", argv[1], zoo, 100 * accuracy, N,
              nfn_trainer_metrics_get (&metrics, "loss"));
      /* rows: true class, columns: predicted */
      g_autofree gint64 *counts = classify_confusion (logits, set.labels, N, K);
      printf ("confusion (rows: true class, columns: predicted)\n%16s", "");
      for (int c = 0; c < K; c++)
        printf (" %5d", c);
      printf ("\n");
      for (int r = 0; r < K; r++)
        {
          printf ("%2d %-13.13s", r, info.class_names ? info.class_names[r] : "");
          for (int c = 0; c < K; c++)
            printf (" %5" G_GINT64_FORMAT, counts[(size_t) r * K + c]);
          printf ("\n");
        }
    }
  status = 0;

done:
  if (status != 0 && error)
    status = nfn_cli_fail_error (error);
  nfn_trainer_set_clear (&set);
  nfn_model_free (model);
  nfn_model_file_info_clear (&info);
  return status;
}
