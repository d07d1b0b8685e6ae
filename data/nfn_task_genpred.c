/* nfn_task_genpred.c — predicting a CNN's generalization from its weights (Zhou et al. 2023,
 * after Unterthiner et al. 2020): `nfn train genpred`, and the spectral model file `nfn predict`
 * reads.
 *
 * The zoo (`nfn zoo cnn`) is split once, by split_seed alone, into train / val / test (80 / 10 /
 * 10 % of its training runs, nfn_cnn_zoo_split: a run's checkpoints are near-duplicates and
 * must not be on both sides), so every model sees the same split. Targets are the networks'
 * test accuracies in [0, 1].
 *   hnp, np, stat: an nfn_model with one logit, sigmoid + binary cross-entropy, trained by the
 *                  shared trainer; the best epoch by validation Kendall τ; test τ, R².
 *   spectral:      WeightWatcher's α (engine/nfn_spectral.h) of every layer, then an ordinary
 *                  least-squares fit accuracy ≈ c_0 + Σ_i c_i·α_i on the train split (clamped
 *                  to [0, 1]), saved as a model file of its own (see "the spectral baseline");
 *                  reported beside it, "tau_neg_alpha": the data-free τ of −mean α.
 * An NFN run's config JSON holds every setting, so resume continues a killed or cancelled run
 * from its last checkpoint with nothing else given, and ends with the same model, bit for bit,
 * as a run never interrupted (data/nfn_trainer.h). A spectral run has no epochs to resume.
 * Defaults, cut from the paper's to fit a 2-core CPU: 2 NF layers of 16 channels, no Fourier
 * features, IO encoding for np (4 bands), head 256-256, AdamW lr 1e-3 with 100 warmup steps,
 * batch 32, 50 epochs, inputs standardised per tensor on the training split.
 * Every run stores its metrics, summary (test τ, R², MSE) and a scatter of predicted against
 * true test accuracy (PNG, cairo) as a "figure" artifact.
 *
 * Shape letters: N networks of a split, L layers of the CNNs.
 */
#include "nfn_json.h"
#include "nfn_task_private.h"

#include <cairo.h>
#include <gsl/gsl_multifit.h>
#include <math.h>
#include <string.h>

#include "nfn_cnn_zoo.h"
#include "nfn_spectral.h"
#include "nfn_zoo.h"

#define GENPRED_TARGET "test_accuracy"
#define GENPRED_VAL_FRACTION 0.1
#define GENPRED_TEST_FRACTION 0.1
#define GENPRED_MODEL_DEFAULT "hnp"
#define GENPRED_HEAD_DEFAULT "256,256"
#define GENPRED_SPECTRAL "spectral"

void
nfn_task_genpred_defaults (NfnTaskOptions *o)
{
  memset (o, 0, sizeof *o);
  o->epochs = 50;
  o->batch = 32;
  o->lr = 1e-3;
  o->warmup = 100;
  o->channels = 16;
  o->depth = 2;
  o->fourier_scale = 3.0;
  o->io_bands = 4;
  o->head = g_strdup (GENPRED_HEAD_DEFAULT);
  o->normalize = TRUE;
}

/* ---- the settings of a run, and their JSON (the run's config) ---- */

typedef struct {
  NfnTaskSettings base;   /* model_name: hnp|np|stat|spectral; val and test unused (the zoo is split) */
  char *scatter;          /* absolute; NULL: figures/run-ID-scatter.png beside the store */
  gint64 split_seed;
  nfn_model_config model; /* NFN runs: built from the options, or read back from a run */
} GenpredSettings;

static void
genpred_settings_clear (GenpredSettings *gs)
{
  nfn_task_settings_clear (&gs->base);
  g_clear_pointer (&gs->scatter, g_free);
}

static gboolean
genpred_is_spectral (const GenpredSettings *gs)
{
  return g_strcmp0 (gs->base.model_name, GENPRED_SPECTRAL) == 0;
}

/* A spectral run's config stops after "out"; an NFN run's holds every setting, so that resume
 * rebuilds the run from the store alone. The member names are those of the runs in stores. */
static char *
genpred_config_json (const GenpredSettings *gs)
{
  const NfnTaskSettings *s = &gs->base;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  nfn_task_json_add_string (b, "zoo", s->zoo);
  nfn_task_json_add_string (b, "model", s->model_name);
  nfn_task_json_add_string (b, "target", GENPRED_TARGET);
  nfn_task_json_add_string (b, "split",
                            "train/val/test = 80/10/10 % of the training runs, shuffled by split_seed (nfn_cnn_zoo_split)");
  nfn_task_json_add_int (b, "split_seed", gs->split_seed);
  nfn_task_json_add_string (b, "out", s->out);
  if (!genpred_is_spectral (gs))
    {
      nfn_task_json_add_string (b, "scatter", gs->scatter);
      nfn_task_settings_build_json_training (b, s);
      nfn_task_json_add_number (b, "lr", s->lr);
      nfn_task_json_add_number (b, "weight_decay", s->weight_decay);
      json_builder_set_member_name (b, "nfn_model");
      nfn_model_config_build_json (b, &gs->model);
    }
  json_builder_end_object (b);
  return nfn_json_builder_to_text (b, FALSE);
}

/* The settings of run `id` of the store (for resume); one-line errors name the store and the
 * run. "cosine" came later: older runs lack it and read FALSE. */
static gboolean
genpred_settings_from_run (NfnStore *store, gint64 id, GenpredSettings *gs, GError **error)
{
  g_autofree char *label = nfn_task_run_label (nfn_store_get_path (store), id);
  /* a spectral run ends completed or failed: say why it cannot resume before its status does */
  g_autoptr (NfnRun) probe = nfn_store_get_run (store, id, error);
  if (!probe)
    return FALSE;
  if (g_strcmp0 (probe->task, NFN_TASK_GENPRED) == 0 && g_strcmp0 (probe->model, GENPRED_SPECTRAL) == 0)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED,
                   "%s: a spectral run has no epochs to resume (run it again)", label);
      return FALSE;
    }
  g_autoptr (NfnRun) run = nfn_task_resumable_run (store, id, NFN_TASK_GENPRED, error);
  if (!run)
    return FALSE;
  const char *const required[] = { "zoo", "model", "split_seed", "out", "scatter", "epochs", "batch", "warmup", "seed",
                                   "lr", "weight_decay", "augment", "normalize", "nfn_model", NULL };
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o = nfn_task_config_object (parser, run, label, required, error);
  if (!o)
    return FALSE;
  nfn_task_settings_from_config (o, &gs->base);
  gs->base.lr = json_object_get_double_member (o, "lr");
  gs->base.weight_decay = json_object_get_double_member (o, "weight_decay");
  gs->scatter = nfn_task_json_string (o, "scatter");
  gs->split_seed = json_object_get_int_member (o, "split_seed");
  if (!gs->base.zoo || !gs->base.model_name)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "%s: its config has no zoo or model", label);
      return FALSE;
    }
  return nfn_model_config_from_json_node (json_object_get_member (o, "nfn_model"), &gs->model, label, error);
}

/* The settings of a fresh run, and its NFN kind (spectral: none), checked before any work. */
static gboolean
genpred_settings_from_options (const NfnTaskOptions *o, GenpredSettings *gs, nfn_model_kind *kind, GError **error)
{
  NfnTaskSettings *s = &gs->base;
  if (!nfn_task_settings_from_options (o, "train genpred", "nfn zoo cnn", s, error))
    return FALSE;
  if (!o->model) /* the shared default is np */
    {
      g_free (s->model_name);
      s->model_name = g_strdup (GENPRED_MODEL_DEFAULT);
    }
  gs->scatter = nfn_task_canonical (o->scatter);
  gs->split_seed = o->split_seed;
  *kind = NFN_MODEL_HNP;
  if (!genpred_is_spectral (gs)
      && (!nfn_model_kind_parse (s->model_name, kind)
          || (*kind != NFN_MODEL_HNP && *kind != NFN_MODEL_NP && *kind != NFN_MODEL_STAT)))
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED,
                   "train genpred: --model must be hnp, np, stat or spectral, not \"%s\"", s->model_name);
      return FALSE;
    }
  if (o->epochs < 1 || o->batch < 1 || !(o->lr > 0) || o->weight_decay < 0 || o->warmup < 0 || o->channels < 1
      || o->depth < 1 || o->depth > NFN_MODEL_MAX_DEPTH || o->fourier < 0 || o->io_bands < 0 || !(o->fourier_scale > 0)
      || o->dropout < 0 || o->dropout >= 1 || o->head_dropout < 0 || o->head_dropout >= 1 || o->seed < 0
      || o->split_seed < 0)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED,
                   "train genpred: an option is out of range (epochs, batch, channels, depth ≥ 1, depth ≤ %d,"
                   " lr > 0, dropouts in [0, 1), the rest ≥ 0)", NFN_MODEL_MAX_DEPTH);
      return FALSE;
    }
  return TRUE;
}

/* A fresh run's model: its space from the zoo, the rest from the options. */
static gboolean
genpred_model_config (const NfnTaskOptions *o, nfn_model_kind kind, const nfn_space *space, nfn_model_config *cfg,
                      GError **error)
{
  nfn_model_config_default (cfg, kind, space, 1);
  nfn_task_apply_shape (o, cfg);
  if (!nfn_task_apply_head_options (o, "train genpred", nfn_model_kind_name (kind), cfg, error))
    return FALSE;
  const char *head = o->head ? o->head : GENPRED_HEAD_DEFAULT;
  if (!nfn_task_parse_head (head, cfg))
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED,
                   "train genpred: --head takes up to %d widths ≥ 1 such as 256,256 (or none), not \"%s\"",
                   NFN_MODEL_MAX_HEAD, head);
      return FALSE;
    }
  return TRUE;
}

/* ---- the zoo, split once ---- */

typedef struct {
  NfnTrainerSet train, val, test; /* targets (N, 1): test accuracy */
  NfnTrainerNorm norm;            /* fitted on train, applied to all three (identity when off) */
} GenpredData;

static void
genpred_data_clear (GenpredData *d)
{
  nfn_trainer_set_clear (&d->train);
  nfn_trainer_set_clear (&d->val);
  nfn_trainer_set_clear (&d->test);
  memset (d, 0, sizeof *d);
}

/* The zoo's networks with their test accuracies, split by training run (nfn_cnn_zoo_split);
 * with `normalize` every tensor is standardised by the train split's statistics. */
static gboolean
genpred_load (const char *path, guint64 split_seed, gboolean normalize, GenpredData *d, GError **error)
{
  g_autoptr (NfnZooDir) zoo = nfn_zoo_dir_open (path, error);
  if (!zoo)
    return FALSE;
  gint64 N = nfn_zoo_dir_count (zoo);
  if (!nfn_task_zoo_finished (zoo, N, "nfn zoo cnn", error))
    return FALSE;
  g_autofree int *order = g_new (int, MAX (N, 1));
  gint64 sizes[3];
  if (!nfn_cnn_zoo_split (zoo, split_seed, GENPRED_VAL_FRACTION, GENPRED_TEST_FRACTION, order, sizes, error))
    return FALSE;
  gint64 n_train = sizes[0], n_val = sizes[1], n_test = sizes[2];
  NfnTrainerSet all = { 0 };
  all.target_dim = 1;
  all.targets = g_new (float, N);
  all.source = g_new (gint64, N);
  if (!nfn_zoo_dir_load_metric (zoo, GENPRED_TARGET, 0, N, all.targets, error)
      || !nfn_zoo_dir_load_range (zoo, 0, N, &all.networks, NULL, NULL, error))
    {
      nfn_trainer_set_clear (&all);
      return FALSE;
    }
  for (gint64 k = 0; k < N; k++)
    all.source[k] = k;
  gboolean ok = nfn_trainer_set_gather (&d->train, &all, order, (int) n_train, error)
                && nfn_trainer_set_gather (&d->val, &all, order + n_train, (int) n_val, error)
                && nfn_trainer_set_gather (&d->test, &all, order + n_train + n_val, (int) n_test, error);
  nfn_trainer_set_clear (&all);
  if (!ok)
    return FALSE;
  if (normalize)
    nfn_task_norm_sets (&d->norm, &d->train, &d->val, &d->test);
  return TRUE;
}

/* ---- the scatter ---- */

#define SCATTER_SIZE 480      /* the square plot box, pixels */
#define SCATTER_LEFT 70
#define SCATTER_TOP 56
#define SCATTER_BOTTOM 56
#define SCATTER_RIGHT 24

/* Predicted (x) against true (y) accuracy (n each), both 0 … 100 %, the diagonal y = x dashed,
 * a dot per network, the title and a caption with τ and R². Painting only: positions come from
 * the data through one map, value v ↦ v·SCATTER_SIZE from the box's lower-left corner. */
static void
genpred_draw_scatter (cairo_t *cr, const double *pred, const double *truth, int n, const char *title,
                      const char *caption)
{
  const double x0 = SCATTER_LEFT, y0 = SCATTER_TOP + SCATTER_SIZE; /* the box's lower-left */
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  cairo_select_font_face (cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_line_width (cr, 1);
  for (int t = 0; t <= 10; t++)
    {
      double v = t / 10.0, px = x0 + v * SCATTER_SIZE, py = y0 - v * SCATTER_SIZE;
      cairo_set_source_rgb (cr, 0.9, 0.9, 0.9);
      cairo_move_to (cr, px + 0.5, SCATTER_TOP);
      cairo_line_to (cr, px + 0.5, y0);
      cairo_move_to (cr, x0, py + 0.5);
      cairo_line_to (cr, x0 + SCATTER_SIZE, py + 0.5);
      cairo_stroke (cr);
      if (t % 2)
        continue;
      char label[8];
      g_snprintf (label, sizeof label, "%d", 10 * t);
      cairo_text_extents_t ext;
      cairo_set_font_size (cr, 12);
      cairo_text_extents (cr, label, &ext);
      cairo_set_source_rgb (cr, 0.2, 0.2, 0.2);
      cairo_move_to (cr, px - ext.width / 2, y0 + 16);
      cairo_show_text (cr, label);
      cairo_move_to (cr, x0 - ext.width - 6, py + ext.height / 2);
      cairo_show_text (cr, label);
    }
  cairo_set_source_rgb (cr, 0.2, 0.2, 0.2);
  cairo_rectangle (cr, x0 + 0.5, SCATTER_TOP + 0.5, SCATTER_SIZE, SCATTER_SIZE);
  cairo_stroke (cr);
  const double dashes[] = { 5, 4 };
  cairo_set_dash (cr, dashes, 2, 0);
  cairo_set_source_rgb (cr, 0.5, 0.5, 0.5);
  cairo_move_to (cr, x0, y0);
  cairo_line_to (cr, x0 + SCATTER_SIZE, y0 - SCATTER_SIZE);
  cairo_stroke (cr);
  cairo_set_dash (cr, NULL, 0, 0);
  cairo_set_source_rgba (cr, 0.12, 0.35, 0.75, 0.65);
  for (int k = 0; k < n; k++)
    {
      double px = x0 + CLAMP (pred[k], 0, 1) * SCATTER_SIZE, py = y0 - CLAMP (truth[k], 0, 1) * SCATTER_SIZE;
      cairo_arc (cr, px, py, 3, 0, 2 * G_PI);
      cairo_fill (cr);
    }
  cairo_set_source_rgb (cr, 0, 0, 0);
  cairo_set_font_size (cr, 15);
  cairo_move_to (cr, x0, 22);
  cairo_show_text (cr, title);
  cairo_set_font_size (cr, 13);
  cairo_move_to (cr, x0, 42);
  cairo_show_text (cr, caption);
  cairo_move_to (cr, x0 + SCATTER_SIZE / 2 - 110, y0 + 40);
  cairo_show_text (cr, "predicted test accuracy (%)");
  cairo_save (cr);
  cairo_move_to (cr, 22, SCATTER_TOP + SCATTER_SIZE / 2 + 80);
  cairo_rotate (cr, -G_PI / 2);
  cairo_show_text (cr, "true test accuracy (%)");
  cairo_restore (cr);
}

/* cairo's and fontconfig's caches stay (the GUI shares them); the CLI drops them at exit. */
static gboolean
genpred_write_scatter (const char *path, const double *pred, const double *truth, int n, const char *title,
                       const char *caption, GError **error)
{
  if (!nfn_task_make_parent_dir (path, "figure", error))
    return FALSE;
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, SCATTER_LEFT + SCATTER_SIZE + SCATTER_RIGHT,
                                                         SCATTER_TOP + SCATTER_SIZE + SCATTER_BOTTOM);
  cairo_t *cr = cairo_create (surface);
  genpred_draw_scatter (cr, pred, truth, n, title, caption);
  cairo_destroy (cr);
  cairo_status_t status = cairo_surface_write_to_png (surface, path);
  cairo_surface_destroy (surface);
  if (status != CAIRO_STATUS_SUCCESS)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_IO, path, "cannot write the PNG: %s", cairo_status_to_string (status));
      return FALSE;
    }
  return TRUE;
}

/* Draws the test split's scatter (pred, truth: (N) each), records it, and adds the flat
 * test/val members every genpred summary has (so `nfn runs` and the README read one shape for
 * every model). `written` gets the PNG's path. */
static gboolean
genpred_report (NfnStore *store, gint64 run, const GenpredSettings *gs, const double *pred, const double *truth, int n,
                const NfnTrainerMetrics *val, const NfnTrainerMetrics *test, JsonBuilder *summary, char **written,
                GError **error)
{
  g_autofree char *name = g_strdup_printf ("run-%" G_GINT64_FORMAT "-scatter.png", run);
  g_autofree char *path = gs->scatter ? g_strdup (gs->scatter) : nfn_task_path_beside (store, "figures", name);
  g_autofree char *zoo_name = g_path_get_basename (gs->base.zoo);
  g_autofree char *title = g_strdup_printf ("%s: predicted vs true test accuracy (%s)", gs->base.model_name, zoo_name);
  g_autofree char *caption = g_strdup_printf ("test split, %d CNNs: Kendall τ %.3f, R² %.3f", n,
                                              nfn_trainer_metrics_get (test, "tau"), nfn_trainer_metrics_get (test, "r2"));
  if (!genpred_write_scatter (path, pred, truth, n, title, caption, error)
      || !nfn_store_run_add_artifact (store, run, "figure", path, "predicted vs true test accuracy, test split (PNG)", error))
    return FALSE;
  const char *names[] = { "val_tau", "val_r2", "test_tau", "test_r2", "test_mse" };
  const NfnTrainerMetrics *sets[] = { val, val, test, test, test };
  const char *metrics[] = { "tau", "r2", "tau", "r2", "mse" };
  for (gsize k = 0; k < G_N_ELEMENTS (names); k++)
    {
      json_builder_set_member_name (summary, names[k]);
      json_builder_add_double_value (summary, nfn_trainer_metrics_get (sets[k], metrics[k]));
    }
  nfn_task_json_add_string (summary, "scatter_png", path);
  *written = g_steal_pointer (&path);
  return TRUE;
}

/* The model file's nfn.extra: {"target", "zoo", "input_norm" (NFN predictors with a norm)}. */
static char *
genpred_extra_json (const NfnTrainerNorm *norm, const char *zoo)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  nfn_task_json_add_string (b, "target", GENPRED_TARGET);
  nfn_task_json_add_string (b, "zoo", zoo);
  if (norm && norm->n_tensors > 0)
    {
      json_builder_set_member_name (b, "input_norm");
      nfn_trainer_norm_build_json (b, norm);
    }
  json_builder_end_object (b);
  return nfn_json_builder_to_text (b, FALSE);
}

/* ---- NFN predictors: the end of a run (the shared trainer's finish) ---- */

typedef struct {
  const GenpredSettings *settings;
  const GenpredData *data;
  nfn_model *model;
  NfnStore *store;
  char *model_path, *scatter_path; /* where they went */
} GenpredFinish;

static gboolean
genpred_finish (const NfnTrainerReport *report, JsonBuilder *summary, gpointer user_data, GError **error)
{
  GenpredFinish *f = user_data;
  g_autofree char *extra = genpred_extra_json (&f->data->norm, f->settings->base.zoo);
  NfnModelFileInfo info = { .task = "genpred", .extra_json = extra };
  g_free (f->model_path);
  f->model_path = nfn_task_save_model (f->model, &info, f->settings->base.out, "", f->store, report->run_id,
                                       "the best epoch's accuracy predictor (safetensors)", summary, error);
  if (!f->model_path)
    return FALSE;
  const NfnTrainerSet *test = &f->data->test;
  int n = nfn_trainer_set_size (test);
  g_autofree double *pred = g_new (double, n), *truth = g_new (double, n);
  for (int k = 0; k < n; k++)
    {
      pred[k] = 1 / (1 + exp (-(double) report->test_outputs[k]));
      truth[k] = test->targets[k];
    }
  g_clear_pointer (&f->scatter_path, g_free);
  return genpred_report (f->store, report->run_id, f->settings, pred, truth, n, &report->val, &report->test, summary,
                         &f->scatter_path, error);
}

/* ---- the spectral baseline ---- */

/* Its model file: safetensors like an NFN model's, so `nfn predict` applies it to a CNN file.
 *   "coefficients" (L + 1)  c_0 … c_L of accuracy ≈ c_0 + Σ_i c_i·α_i (clamped to [0, 1])
 *   "alpha_fill"   (L)      the train split's mean α of each layer, used where a layer has no fit
 *   __metadata__ "nfn.format" "nfn-spectral", "nfn.version" "1", "nfn.task" "genpred",
 *                "nfn.model" {"kind": "spectral", "space": {"widths", "filter_positions"},
 *                             "min_tail"}, "nfn.extra" {"target", "zoo"}.
 * The run's own predictions use the coefficients rounded to float, as saved, so that the file
 * reproduces them exactly. */
#define GENPRED_SPECTRAL_FORMAT "nfn-spectral"
#define GENPRED_SPECTRAL_VERSION "1"

/* α of every layer of every network of a set: alpha (N, L), NAN where a layer has no fit, and
 * mean_alpha (N), the mean over layers. Cancel is checked between networks. */
static gboolean
genpred_alphas (const NfnTrainerSet *set, volatile int *cancel, double *alpha, double *mean_alpha, GError **error)
{
  int N = nfn_trainer_set_size (set), L = set->networks.space.L;
  nfn_powerlaw_fit fits[NFN_MAX_LAYERS];
  for (int k = 0; k < N; k++)
    {
      if (*cancel)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "train genpred: cancelled");
          return FALSE;
        }
      nfn_status st = nfn_spectral_network (&set->networks, k, fits, &mean_alpha[k]);
      if (st != NFN_OK)
        {
          g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_NONFINITE, "train genpred: network %" G_GINT64_FORMAT
                       " of the zoo: spectral fit: %s", set->source ? set->source[k] : k, nfn_status_message (st));
          return FALSE;
        }
      for (int i = 0; i < L; i++)
        alpha[(size_t) k * L + i] = fits[i].alpha;
    }
  return TRUE;
}

/* The design row (L + 1) of one network: 1, then α_1 … α_L with a missing α replaced by its fill. */
static void
genpred_design_row (const double *alpha /* (L) */, int L, const double *fill /* (L) */, double *row)
{
  row[0] = 1;
  for (int i = 0; i < L; i++)
    row[1 + i] = isfinite (alpha[i]) ? alpha[i] : fill[i];
}

/* Predicted accuracies (N) of N networks from their α (N, L) by coefficients (L + 1), in [0, 1]. */
static void
genpred_linear_predict (const double *alpha, int N, int L, const double *fill, const double *coef, double *pred)
{
  double row[NFN_MAX_LAYERS + 1];
  for (int k = 0; k < N; k++)
    {
      genpred_design_row (alpha + (size_t) k * L, L, fill, row);
      double y = 0;
      for (int j = 0; j <= L; j++)
        y += row[j] * coef[j];
      pred[k] = CLAMP (y, 0, 1);
    }
}

static gboolean
genpred_spectral_save (const char *path, const nfn_space *space, const double *coef /* (L + 1) */,
                       const double *fill /* (L) */, const char *zoo, GError **error)
{
  int L = space->L;
  float coef_f[NFN_MAX_LAYERS + 1], fill_f[NFN_MAX_LAYERS];
  for (int j = 0; j <= L; j++)
    coef_f[j] = (float) coef[j];
  for (int i = 0; i < L; i++)
    fill_f[i] = (float) fill[i];
  g_autoptr (NfnSafetensors) st = nfn_safetensors_new ();
  const gint64 n_coef = L + 1, n_fill = L;
  nfn_safetensors_add (st, "coefficients", 1, &n_coef, coef_f);
  nfn_safetensors_add (st, "alpha_fill", 1, &n_fill, fill_f);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  nfn_task_json_add_string (b, "kind", GENPRED_SPECTRAL);
  json_builder_set_member_name (b, "space");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "widths");
  json_builder_begin_array (b);
  for (int i = 0; i <= L; i++)
    json_builder_add_int_value (b, space->n[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "filter_positions");
  json_builder_begin_array (b);
  for (int i = 1; i <= L; i++)
    json_builder_add_int_value (b, space->f[i]);
  json_builder_end_array (b);
  json_builder_end_object (b);
  nfn_task_json_add_int (b, "min_tail", NFN_SPECTRAL_MIN_TAIL);
  json_builder_end_object (b);
  g_autofree char *config = nfn_json_builder_to_text (b, FALSE);
  g_autofree char *extra = genpred_extra_json (NULL, zoo);
  nfn_safetensors_set_metadata (st, "nfn.format", GENPRED_SPECTRAL_FORMAT);
  nfn_safetensors_set_metadata (st, "nfn.version", GENPRED_SPECTRAL_VERSION);
  nfn_safetensors_set_metadata (st, "nfn.task", "genpred");
  nfn_safetensors_set_metadata (st, "nfn.model", config);
  nfn_safetensors_set_metadata (st, "nfn.extra", extra);
  return nfn_task_make_parent_dir (path, "model", error) && nfn_safetensors_save (st, path, error);
}

/* The per-split arrays of a spectral fit: 0 train, 1 val, 2 test. */
typedef struct {
  int n[3];
  double *alpha[3];      /* (N, L) */
  double *mean_alpha[3]; /* (N) */
  double *pred[3];       /* (N) */
  double *truth[3];      /* (N) */
} GenpredSpectralSplits;

static void
genpred_spectral_splits_clear (GenpredSpectralSplits *sp)
{
  for (int s = 0; s < 3; s++)
    {
      g_free (sp->alpha[s]);
      g_free (sp->mean_alpha[s]);
      g_free (sp->pred[s]);
      g_free (sp->truth[s]);
    }
  memset (sp, 0, sizeof *sp);
}

/* Least squares of the train split's accuracies on its design rows: coef (L + 1). */
static gboolean
genpred_spectral_fit (const GenpredSpectralSplits *sp, int L, const double *fill, const char *zoo, double *coef,
                      GError **error)
{
  size_t N = (size_t) sp->n[0], P = (size_t) L + 1;
  gsl_matrix *X = gsl_matrix_alloc (N, P), *cov = gsl_matrix_alloc (P, P);
  gsl_vector *y = gsl_vector_alloc (N), *c = gsl_vector_alloc (P);
  gsl_multifit_linear_workspace *work = gsl_multifit_linear_alloc (N, P);
  for (size_t k = 0; k < N; k++)
    {
      double row[NFN_MAX_LAYERS + 1];
      genpred_design_row (sp->alpha[0] + k * L, L, fill, row);
      for (size_t j = 0; j < P; j++)
        gsl_matrix_set (X, k, j, row[j]);
      gsl_vector_set (y, k, sp->truth[0][k]);
    }
  double chisq;
  gboolean ok = gsl_multifit_linear (X, y, c, cov, &chisq, work) == GSL_SUCCESS;
  for (size_t j = 0; ok && j < P; j++)
    coef[j] = (float) gsl_vector_get (c, j); /* as the model file keeps them */
  if (!ok)
    nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, zoo, "the least-squares fit of accuracy on α failed");
  gsl_matrix_free (X);
  gsl_matrix_free (cov);
  gsl_vector_free (y);
  gsl_vector_free (c);
  gsl_multifit_linear_free (work);
  return ok;
}

/* The spectral summary's own members; the rest are genpred_report's and the wall time. */
static void
genpred_spectral_summary (JsonBuilder *summary, const GenpredSpectralSplits *sp, int L, const double *coef,
                          double tau_neg_alpha, const char *model_path)
{
  nfn_task_json_add_string (summary, "predictor",
                            "accuracy ~ c0 + sum_i c_i alpha_i (least squares on the train split, clamped to [0, 1])");
  json_builder_set_member_name (summary, "coefficients");
  json_builder_begin_array (summary);
  for (int j = 0; j <= L; j++)
    json_builder_add_double_value (summary, coef[j]);
  json_builder_end_array (summary);
  json_builder_set_member_name (summary, "tau_neg_alpha");
  json_builder_add_double_value (summary, tau_neg_alpha);
  nfn_task_json_add_int (summary, "train_networks", sp->n[0]);
  nfn_task_json_add_int (summary, "val_networks", sp->n[1]);
  nfn_task_json_add_int (summary, "test_networks", sp->n[2]);
  nfn_task_json_add_string (summary, "model_file", model_path);
}

/* A spectral run: fits on the train split, scores all three, then records the run at once
 * (completed, or failed when recording fails). result->report gets the run id, the wall time
 * and the val and test metrics ("tau", "r2", "mse"; test also "tau_neg_alpha"). */
static gboolean
genpred_spectral_run (const GenpredSettings *gs, NfnStore *store, const NfnTaskHooks *hooks, const NfnTaskCancel *cancel,
                      NfnTaskResult *result, GError **error)
{
  gint64 started = g_get_monotonic_time ();
  GenpredData data = { 0 };
  GenpredSpectralSplits sp = { 0 };
  NfnTrainerMetrics score[3], neg_alpha[3];
  double fill[NFN_MAX_LAYERS] = { 0 }, coef[NFN_MAX_LAYERS + 1];
  char *config_json = NULL, *summary_text = NULL, *file_name = NULL, *model_path = NULL, *scatter_path = NULL;
  JsonBuilder *summary = json_builder_new ();
  gint64 run = 0;
  gboolean recorded = FALSE;
  /* α reads the raw weights: standardising would move the singular values */
  if (!genpred_load (gs->base.zoo, (guint64) gs->split_seed, FALSE, &data, error))
    goto done;
  const NfnTrainerSet *sets[3] = { &data.train, &data.val, &data.test };
  int L = data.train.networks.space.L;
  nfn_task_result_sets (result, GENPRED_SPECTRAL, &data.train, &data.val, &data.test);
  nfn_task_announce (hooks, "train genpred: spectral on %d CNNs of %s (val %d, test %d)", result->train_networks,
                     gs->base.zoo, result->val_networks, result->test_networks);
  for (int s = 0; s < 3; s++)
    {
      int n = sp.n[s] = nfn_trainer_set_size (sets[s]);
      sp.alpha[s] = g_new (double, (gsize) n * L);
      sp.mean_alpha[s] = g_new (double, n);
      sp.pred[s] = g_new (double, n);
      sp.truth[s] = g_new (double, n);
      for (int k = 0; k < n; k++)
        sp.truth[s][k] = sets[s]->targets[k];
      if (!genpred_alphas (sets[s], cancel->flag, sp.alpha[s], sp.mean_alpha[s], error))
        goto done;
    }
  /* missing α (too few eigenvalues above zero) take the train mean of their layer */
  for (int i = 0; i < L; i++)
    {
      int count = 0;
      for (int k = 0; k < sp.n[0]; k++)
        if (isfinite (sp.alpha[0][(size_t) k * L + i]))
          fill[i] += sp.alpha[0][(size_t) k * L + i], count++;
      fill[i] = (float) (count ? fill[i] / count : 0);
    }
  if (!genpred_spectral_fit (&sp, L, fill, gs->base.zoo, coef, error))
    goto done;
  for (int s = 0; s < 3; s++)
    {
      genpred_linear_predict (sp.alpha[s], sp.n[s], L, fill, coef, sp.pred[s]);
      g_autofree double *neg = g_new (double, sp.n[s]);
      for (int k = 0; k < sp.n[s]; k++)
        neg[k] = isfinite (sp.mean_alpha[s][k]) ? -sp.mean_alpha[s][k] : -INFINITY;
      if (!nfn_trainer_regression_metrics (sp.pred[s], sp.truth[s], sp.n[s], &score[s], error)
          || !nfn_trainer_regression_metrics (neg, sp.truth[s], sp.n[s], &neg_alpha[s], error))
        goto done;
    }

  config_json = genpred_config_json (gs);
  if ((run = nfn_store_run_begin (store, NULL, NFN_TASK_GENPRED, GENPRED_SPECTRAL, config_json, gs->split_seed, error)) <= 0)
    goto done;
  file_name = g_strdup_printf ("run-%" G_GINT64_FORMAT ".safetensors", run);
  model_path = gs->base.out ? g_strdup (gs->base.out) : nfn_task_model_path_beside (store, file_name);
  if (!genpred_spectral_save (model_path, &data.train.networks.space, coef, fill, gs->base.zoo, error)
      || !nfn_store_run_add_artifact (store, run, "model", model_path,
                                      "the spectral accuracy predictor: coefficients on per-layer alpha (safetensors)",
                                      error))
    goto done;
  const char *metric_names[] = { "val/tau", "val/r2", "val/mse", "val/tau_neg_alpha" };
  double metric_values[] = { nfn_trainer_metrics_get (&score[1], "tau"), nfn_trainer_metrics_get (&score[1], "r2"),
                             nfn_trainer_metrics_get (&score[1], "mse"), nfn_trainer_metrics_get (&neg_alpha[1], "tau") };
  double tau_neg_alpha = nfn_trainer_metrics_get (&neg_alpha[2], "tau");
  json_builder_begin_object (summary);
  genpred_spectral_summary (summary, &sp, L, coef, tau_neg_alpha, model_path);
  if (!nfn_store_run_log (store, run, 0, G_N_ELEMENTS (metric_names), metric_names, metric_values, error)
      || !genpred_report (store, run, gs, sp.pred[2], sp.truth[2], sp.n[2], &score[1], &score[2], summary, &scatter_path,
                          error))
    goto done;
  double seconds = (g_get_monotonic_time () - started) / 1e6;
  nfn_task_json_add_number (summary, "wall_seconds", seconds);
  json_builder_end_object (summary);
  summary_text = nfn_json_builder_to_text (summary, FALSE);
  if (!nfn_store_run_set_summary (store, run, summary_text, error)
      || !nfn_store_run_finish (store, run, NFN_RUN_COMPLETED, error))
    goto done;
  recorded = TRUE;
  NfnTrainerReport *report = &result->report;
  report->run_id = run;
  report->seconds = seconds;
  report->val = score[1];
  report->test = score[2];
  nfn_trainer_metrics_add (&report->test, "tau_neg_alpha", tau_neg_alpha);
  result->model_path = g_steal_pointer (&model_path);
  result->scatter_path = g_steal_pointer (&scatter_path);

done:
  if (run > 0 && !recorded)
    nfn_store_run_finish (store, run, NFN_RUN_FAILED, NULL);
  genpred_spectral_splits_clear (&sp);
  genpred_data_clear (&data);
  g_object_unref (summary);
  g_free (config_json);
  g_free (summary_text);
  g_free (file_name);
  g_free (model_path);
  g_free (scatter_path);
  return recorded && nfn_task_fetch_summary (store, result, error);
}

gboolean
nfn_task_genpred_is_spectral_model (const char *path)
{
  g_autoptr (NfnSafetensors) st = nfn_safetensors_load (path, NULL);
  return st && g_strcmp0 (nfn_safetensors_get_metadata (st, "nfn.format"), GENPRED_SPECTRAL_FORMAT) == 0;
}

/* The space of a spectral model's "nfn.model" (widths and filter positions); FALSE with a
 * one-line error naming the file. */
static gboolean
genpred_spectral_space (const NfnSafetensors *st, const char *path, nfn_space *space, GError **error)
{
  const char *config = nfn_safetensors_get_metadata (st, "nfn.model");
  g_autoptr (JsonNode) root = config ? json_from_string (config, NULL) : NULL;
  JsonObject *o = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  JsonObject *so = o && json_object_has_member (o, "space") && JSON_NODE_HOLDS_OBJECT (json_object_get_member (o, "space"))
                     ? json_object_get_object_member (o, "space") : NULL;
  JsonNode *wn = so ? json_object_get_member (so, "widths") : NULL, *fn = so ? json_object_get_member (so, "filter_positions") : NULL;
  JsonArray *widths = wn && JSON_NODE_HOLDS_ARRAY (wn) ? json_node_get_array (wn) : NULL;
  JsonArray *filters = fn && JSON_NODE_HOLDS_ARRAY (fn) ? json_node_get_array (fn) : NULL;
  int L = widths ? (int) json_array_get_length (widths) - 1 : 0;
  if (!o || g_strcmp0 (json_object_get_string_member_with_default (o, "kind", ""), GENPRED_SPECTRAL) != 0 || !filters
      || L < 1 || L > NFN_MAX_LAYERS || (int) json_array_get_length (filters) != L)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, path,
                          "nfn.model is not a spectral config with a space of L + 1 widths and L filter positions");
      return FALSE;
    }
  int n[NFN_MAX_LAYERS + 1];
  for (int i = 0; i <= L; i++)
    n[i] = (int) json_array_get_int_element (widths, i);
  gboolean valid = nfn_space_init (space, L, n) == NFN_OK;
  for (int i = 1; i <= L; i++)
    space->f[i] = (int) json_array_get_int_element (filters, i - 1);
  if (!valid || nfn_space_check (space) != NFN_OK)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, path, "nfn.model's space is not a valid weight space");
      return FALSE;
    }
  return TRUE;
}

gboolean
nfn_task_genpred_spectral_load (const char *path, NfnTaskSpectralModel *model, GError **error)
{
  memset (model, 0, sizeof *model);
  g_autoptr (NfnSafetensors) st = nfn_safetensors_load (path, error);
  if (!st)
    return FALSE;
  if (g_strcmp0 (nfn_safetensors_get_metadata (st, "nfn.version"), GENPRED_SPECTRAL_VERSION) != 0)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, path, "a spectral model of another version (train it again)");
      return FALSE;
    }
  if (!genpred_spectral_space (st, path, &model->space, error))
    return FALSE;
  int L = model->space.L;
  const NfnTensor *c = nfn_safetensors_find (st, "coefficients"), *f = nfn_safetensors_find (st, "alpha_fill");
  if (!c || !f || c->rank != 1 || c->numel != (gsize) L + 1 || f->rank != 1 || f->numel != (gsize) L)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_SHAPE, path, "needs \"coefficients\" (%d) and \"alpha_fill\" (%d) for its"
                          " %d-layer space", L + 1, L, L);
      return FALSE;
    }
  for (int j = 0; j <= L; j++)
    model->coefficients[j] = c->data[j];
  for (int i = 0; i < L; i++)
    model->alpha_fill[i] = f->data[i];
  for (int j = 0; j <= L; j++)
    if (!isfinite (model->coefficients[j]) || (j < L && !isfinite (model->alpha_fill[j])))
      {
        nfn_data_set_error (error, NFN_DATA_ERROR_NONFINITE, path, "its coefficients are not finite");
        return FALSE;
      }
  return TRUE;
}

nfn_status
nfn_task_genpred_spectral_predict (const NfnTaskSpectralModel *model, const nfn_feature *weights, int b,
                                   double *accuracy)
{
  nfn_powerlaw_fit fits[NFN_MAX_LAYERS];
  double mean_alpha, alpha[NFN_MAX_LAYERS];
  nfn_status st = nfn_spectral_network (weights, b, fits, &mean_alpha);
  if (st != NFN_OK)
    return st;
  for (int i = 0; i < model->space.L; i++)
    alpha[i] = fits[i].alpha;
  genpred_linear_predict (alpha, 1, model->space.L, model->alpha_fill, model->coefficients, accuracy);
  return NFN_OK;
}

/* ---- the run ---- */

gboolean
nfn_task_genpred_run (const NfnTaskOptions *o, NfnStore *store, const NfnTaskHooks *hooks, GCancellable *cancellable,
                      NfnTaskResult *result, GError **error)
{
  GenpredSettings settings = { 0 };
  GenpredData data = { 0 };
  nfn_model *model = NULL;
  nfn_model_kind kind = NFN_MODEL_HNP;
  GenpredFinish finish = { 0 };
  char *config_json = NULL;
  NfnTaskCancel cancel;
  gboolean ok = FALSE;
  nfn_task_result_clear (result);
  nfn_task_cancel_begin (&cancel, hooks, cancellable);

  if (o->resume > 0)
    {
      if (!genpred_settings_from_run (store, o->resume, &settings, error))
        goto done;
    }
  else if (!genpred_settings_from_options (o, &settings, &kind, error))
    goto done;
  nfn_set_threads (nfn_task_clamp_threads (o->threads));
  if (genpred_is_spectral (&settings))
    {
      ok = genpred_spectral_run (&settings, store, hooks, &cancel, result, error);
      goto done;
    }
  if (!genpred_load (settings.base.zoo, (guint64) settings.split_seed, settings.base.normalize, &data, error))
    goto done;
  if (o->resume > 0)
    {
      if (!nfn_space_equal (&settings.model.space, &data.train.networks.space) || settings.model.n_out != 1)
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_SHAPE, settings.base.zoo, "the zoo no longer matches the run's model");
          goto done;
        }
    }
  else if (!genpred_model_config (o, kind, &data.train.networks.space, &settings.model, error))
    goto done;
  nfn_status st = nfn_model_config_check (&settings.model);
  if (st == NFN_OK)
    st = nfn_model_new (&settings.model, (unsigned long) settings.base.seed, &model);
  if (st != NFN_OK)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, "train genpred: cannot build the %s model: %s",
                   settings.base.model_name, nfn_status_message (st));
      goto done;
    }

  NfnTrainerTask task;
  nfn_trainer_task_regress (&task, model);
  if (settings.base.augment)
    task.augment = nfn_trainer_augment_hnp;
  config_json = genpred_config_json (&settings);
  finish = (GenpredFinish) { &settings, &data, model, store, NULL, NULL };
  NfnTrainerOptions options;
  nfn_task_trainer_options (&options, &settings.base, store, NFN_TASK_GENPRED, config_json, o->resume, hooks, &cancel);
  options.finish = genpred_finish;
  options.finish_data = &finish;

  nfn_task_result_sets (result, settings.base.model_name, &data.train, &data.val, &data.test);
  nfn_task_announce (hooks, "train genpred: %s on %d CNNs of %s (val %d, test %d), %zu parameters%s",
                     settings.base.model_name, result->train_networks, settings.base.zoo, result->val_networks,
                     result->test_networks, nfn_model_param_count (model), o->resume > 0 ? ", resumed" : "");
  ok = nfn_task_train (&task, &data.train, &data.val, &data.test, &options, store, result, error);
  result->model_path = g_steal_pointer (&finish.model_path);
  result->scatter_path = g_steal_pointer (&finish.scatter_path);

done:
  nfn_task_cancel_end (&cancel);
  g_free (finish.model_path);
  g_free (finish.scatter_path);
  g_free (config_json);
  nfn_model_free (model);
  genpred_data_clear (&data);
  genpred_settings_clear (&settings);
  return ok;
}
