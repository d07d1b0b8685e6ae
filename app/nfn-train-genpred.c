/* nfn-train-genpred.c — predicting a CNN's generalization from its weights (Zhou et al. 2023,
 * after Unterthiner et al. 2020): `nfn zoo cnn` builds the zoo of trained CNNs, `nfn train
 * genpred` fits a predictor of each network's test accuracy, and `nfn predict` (through
 * nfn_cli_predict_genpred) applies one to a CNN file.
 *
 * The zoo is split once, by --split-seed alone, into train / val / test (80 / 10 / 10 % of its
 * training runs, nfn_cnn_zoo_split: a run's checkpoints are near-duplicates and must not be
 * on both sides), so every model sees the same split. Targets are the networks' test
 * accuracies in [0, 1].
 *   hnp, np, stat: an nfn_model with one logit, sigmoid + binary cross-entropy, trained by the
 *                  shared trainer; the best epoch by validation Kendall τ; test τ, R².
 *   spectral:      WeightWatcher's α (engine/nfn_spectral.h) of every layer, then an ordinary
 *                  least-squares fit accuracy ≈ c_0 + Σ_i c_i·α_i on the train split (clamped
 *                  to [0, 1]), saved as a model file of its own (see "the spectral baseline");
 *                  reported beside it, "tau_neg_alpha": the data-free τ of −mean α.
 * An NFN run's config JSON holds every setting, so `--resume RUN` continues a killed or
 * cancelled run from its last checkpoint with nothing else given, and ends with the same
 * model, bit for bit, as a run never interrupted (data/nfn_trainer.h).
 * Defaults, cut from the paper's to fit a 2-core CPU: 2 NF layers of 16 channels, no Fourier
 * features, IO encoding for np (4 bands), head 256-256, AdamW lr 1e-3 with 100 warmup steps,
 * batch 32, 50 epochs, inputs standardised per tensor on the training split.
 * Every run stores its metrics, summary (test τ, R², MSE) and a scatter of predicted against
 * true test accuracy (PNG, cairo) as a "figure" artifact.
 */
#include "nfn_json.h"
#include "nfn-cli.h"

#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <gsl/gsl_multifit.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "nfn_cnn_zoo.h"
#include "nfn_model_file.h"
#include "nfn_network.h"
#include "nfn_network_text.h"
#include "nfn_spectral.h"
#include "nfn_task.h"
#include "nfn_trainer.h"
#include "nfn_zoo.h"

#define GENPRED_TASK "train-genpred"
#define GENPRED_TARGET "test_accuracy"
#define GENPRED_VAL_FRACTION 0.1
#define GENPRED_TEST_FRACTION 0.1

/* ---- nfn zoo cnn ---- */

int
nfn_cli_zoo_cnn (int argc, char **argv)
{
  g_autofree char *dataset = NULL, *out = NULL, *db = NULL;
  NfnCnnZooSettings defaults;
  nfn_cnn_zoo_settings_init (&defaults);
  int count = 0, threads = (int) g_get_num_processors (), shard_size = defaults.shard_size;
  int epochs_max = defaults.ranges.epochs_max, checkpoints = defaults.checkpoints;
  double fraction_max = defaults.ranges.fraction_max;
  gint64 seed = 0;
  nfn_cnn_zoo_settings_clear (&defaults);
  GOptionEntry entries[] = {
    { "dataset", 0, 0, G_OPTION_ARG_STRING, &dataset, "fashion-mnist (default) or mnist", "NAME" },
    { "count", 0, 0, G_OPTION_ARG_INT, &count, "training runs (each gives --checkpoints networks)", "N" },
    { "checkpoints", 0, 0, G_OPTION_ARG_INT, &checkpoints, "networks saved per run, after 1/2^(K-1), …, 1/4, 1/2, all of its"
      " steps (default 1: the final weights)", "K" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "seed of every draw (default 0)", "S" },
    { "epochs-max", 0, 0, G_OPTION_ARG_INT, &epochs_max, "epochs are drawn from 1 … E (default 4)", "E" },
    { "fraction-max", 0, 0, G_OPTION_ARG_DOUBLE, &fraction_max, "fractions of the train split are drawn from [0.1, F] (default 1; lower for quick zoos)", "F" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "networks trained at once, one per thread (default and maximum: the cores)", "T" },
    { "shard-size", 0, 0, G_OPTION_ARG_INT, &shard_size, "training runs per shard (default " G_STRINGIFY (NFN_CNN_ZOO_DEFAULT_SHARD_SIZE) ")", "S" },
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &db, "experiment store (default: the XDG data dir)", "PATH" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "the zoo directory (created, or resumed)", "ZOO" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
      "— train small CNNs (Small CNN Zoo recipe) with hyperparameters drawn per network into a resumable zoo");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nfn_cli_parse (context, &argc, &argv))
    return 1;
  if (argc != 1)
    return nfn_cli_fail ("zoo cnn: unexpected argument \"%s\" (see nfn zoo cnn --help)", argv[1]);
  if (!out)
    return nfn_cli_fail ("zoo cnn: --out ZOO is required");
  if (count < 1 || threads < 1 || shard_size < 1 || seed < 0 || epochs_max < 1 || checkpoints < 1
      || checkpoints > G_MAXINT / count || checkpoints > G_MAXINT / shard_size || !(fraction_max >= 0.1 && fraction_max <= 1))
    return nfn_cli_fail ("zoo cnn: --count, --threads, --shard-size, --checkpoints and --epochs-max must be ≥ 1, --seed ≥ 0,"
                         " --fraction-max in [0.1, 1]");
  threads = MIN (threads, (int) g_get_num_processors ());

  NfnCnnZooSettings settings;
  nfn_cnn_zoo_settings_init (&settings);
  if (dataset)
    g_free (settings.dataset), settings.dataset = g_strdup (dataset);
  settings.count = count;
  settings.seed = (guint64) seed;
  settings.shard_size = shard_size;
  settings.ranges.epochs_max = epochs_max;
  settings.ranges.fraction_max = fraction_max;
  settings.checkpoints = checkpoints;

  g_autoptr (NfnStore) store = nfn_cli_open_store (db, FALSE);
  if (!store)
    {
      nfn_cnn_zoo_settings_clear (&settings);
      return 1;
    }
  NfnCliZooDisplay display;
  nfn_cli_zoo_display_init (&display, count * checkpoints, shard_size * checkpoints, "CNNs", "mean test accuracy", 100, "%");
  NfnZooFitCallbacks callbacks = { .threads = threads, .progress = nfn_cli_zoo_progress, .user_data = &display,
                                   .cancel = nfn_cli_zoo_catch_sigint (), .shard_done = nfn_cli_zoo_shard_done };
  NfnZooFitReport report;
  g_autoptr (GError) error = NULL;
  gboolean ok = nfn_cnn_zoo_build (&settings, out, store, &callbacks, &report, &error);
  signal (SIGINT, SIG_DFL);
  if (display.terminal)
    fprintf (stderr, "\n");
  nfn_cnn_zoo_settings_clear (&settings);
  if (!ok)
    return nfn_cli_fail_error (error);
  printf ("zoo %s: %" G_GINT64_FORMAT " CNNs (%d shards already there), %" G_GINT64_FORMAT " trained now in %.1f s"
          " (%.2f CNNs/s, %d threads)\n",
          out, report.networks, report.shards_skipped, report.fitted, report.seconds,
          report.seconds > 0 ? report.fitted / report.seconds : 0.0, threads);
  printf ("test accuracy: mean %.1f %%, min %.1f %%, 5th percentile %.1f %%, median %.1f %%, 95th percentile %.1f %%,"
          " max %.1f %%; run %" G_GINT64_FORMAT " in %s\n",
          100 * report.psnr.mean, 100 * report.psnr.min, 100 * report.psnr.p5, 100 * report.psnr.p50,
          100 * report.psnr.p95, 100 * report.psnr.max, report.run_id, nfn_store_get_path (store));
  return 0;
}


/* ---- nfn zoo info, for zoos of any kind but SIREN fits ---- */

int
nfn_cli_zoo_info_metrics (NfnZooDir *zoo, gboolean json)
{
  const NfnZooSettings *s = nfn_zoo_dir_settings (zoo);
  const char *const *metrics = nfn_zoo_settings_metrics (s);
  gint64 available = nfn_zoo_dir_available (zoo), count = nfn_zoo_dir_count (zoo);
  g_autoptr (GError) error = NULL;
  g_autofree float *values = g_new (float, MAX (count, 1));
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree char *arch = nfn_arch_summary (&s->arch);
  if (json)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "path");
      json_builder_add_string_value (b, nfn_zoo_dir_path (zoo));
      json_builder_set_member_name (b, "kind");
      json_builder_add_string_value (b, nfn_zoo_settings_kind (s));
      json_builder_set_member_name (b, "dataset");
      json_builder_add_string_value (b, s->dataset);
      json_builder_set_member_name (b, "seed");
      json_builder_add_int_value (b, (gint64) s->seed);
      json_builder_set_member_name (b, "networks");
      json_builder_add_int_value (b, count);
      json_builder_set_member_name (b, "available");
      json_builder_add_int_value (b, available);
      json_builder_set_member_name (b, "metrics");
      json_builder_begin_object (b);
    }
  else
    {
      printf ("zoo %s\n  %s: %s networks trained on %s/%s, seed %" G_GUINT64_FORMAT "\n", nfn_zoo_dir_path (zoo), arch,
              nfn_zoo_settings_kind (s), s->dataset, s->split, s->seed);
      printf ("  networks: %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " in %d shards%s\n\n", available, count,
              nfn_zoo_dir_shard_count (zoo), available < count ? " (build unfinished)" : "");
      printf ("  %-16s %12s %12s %12s %12s %12s\n", "metric", "mean", "min", "5%", "50%", "max");
    }
  /* shards present are a prefix when the build runs in order; a gap shows as an error */
  for (int m = 0; available > 0 && metrics[m]; m++)
    {
      NfnZooPsnrSummary summary;
      if (!nfn_zoo_dir_load_metric (zoo, metrics[m], 0, available, values, &error))
        return nfn_cli_fail_error (error);
      nfn_zoo_psnr_summary (values, (gsize) available, &summary);
      const char *names[] = { "mean", "min", "p5", "p50", "p95", "max" };
      double stats[] = { summary.mean, summary.min, summary.p5, summary.p50, summary.p95, summary.max };
      if (json)
        {
          json_builder_set_member_name (b, metrics[m]);
          json_builder_begin_object (b);
          for (gsize k = 0; k < G_N_ELEMENTS (names); k++)
            {
              json_builder_set_member_name (b, names[k]);
              json_builder_add_double_value (b, stats[k]);
            }
          json_builder_end_object (b);
        }
      else
        printf ("  %-16s %12.4g %12.4g %12.4g %12.4g %12.4g\n", metrics[m], summary.mean, summary.min, summary.p5,
                summary.p50, summary.max);
    }
  if (json)
    {
      json_builder_end_object (b);
      json_builder_end_object (b);
      nfn_cli_print_json (b);
    }
  return 0;
}

/* ---- the zoo, split once ---- */

typedef struct {
  NfnTrainerSet train, val, test; /* targets (N, 1): test accuracy */
  NfnTrainerNorm norm;            /* fitted on train, applied to all three (identity when off) */
  char *dataset;
  gint64 networks;
} GenpredData;

static void
genpred_data_clear (GenpredData *d)
{
  nfn_trainer_set_clear (&d->train);
  nfn_trainer_set_clear (&d->val);
  nfn_trainer_set_clear (&d->test);
  g_free (d->dataset);
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
  const NfnZooSettings *zs = nfn_zoo_dir_settings (zoo);
  gint64 N = nfn_zoo_dir_count (zoo);
  if (nfn_zoo_dir_available (zoo) < N)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, path,
                          "the zoo is not finished (%" G_GINT64_FORMAT " of %" G_GINT64_FORMAT
                          " networks; run its nfn zoo cnn again)", nfn_zoo_dir_available (zoo), N);
      return FALSE;
    }
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
    {
      nfn_trainer_norm_fit (&d->norm, &d->train.networks);
      nfn_trainer_norm_apply (&d->norm, &d->train.networks);
      nfn_trainer_norm_apply (&d->norm, &d->val.networks);
      nfn_trainer_norm_apply (&d->norm, &d->test.networks);
    }
  d->dataset = g_strdup (zs->dataset);
  d->networks = N;
  return TRUE;
}

/* ---- scores and the scatter ---- */

typedef struct {
  double tau, r2, mse;
} GenpredScore;

/* Kendall τ-b, R² = 1 − SSE/SST and MSE of predictions against truths. */
static gboolean
genpred_score (const double *pred, const double *truth, int n, GenpredScore *score, GError **error)
{
  double mean = 0, sse = 0, sst = 0;
  for (int k = 0; k < n; k++)
    mean += truth[k] / n;
  for (int k = 0; k < n; k++)
    {
      sse += (pred[k] - truth[k]) * (pred[k] - truth[k]);
      sst += (truth[k] - mean) * (truth[k] - mean);
    }
  score->r2 = sst > 0 ? 1 - sse / sst : 0;
  score->mse = n > 0 ? sse / n : 0;
  score->tau = 0;
  nfn_status st = n >= 2 ? nfn_kendall_tau_b (pred, truth, (size_t) n, &score->tau) : NFN_OK;
  if (st != NFN_OK)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_NONFINITE, "train genpred: Kendall τ: %s",
                   nfn_status_message (st));
      return FALSE;
    }
  return TRUE;
}

#define SCATTER_SIZE 480      /* the square plot box, pixels */
#define SCATTER_LEFT 70
#define SCATTER_TOP 56
#define SCATTER_BOTTOM 56
#define SCATTER_RIGHT 24

/* Predicted (x) against true (y) accuracy, both 0 … 100 %, the diagonal y = x dashed, a dot per
 * network, the title and a caption with τ and R². Painting only: positions come from the data
 * through one map, value v ↦ v·SCATTER_SIZE from the box's lower-left corner. */
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

static gboolean
genpred_write_scatter (const char *path, const double *pred, const double *truth, int n, const char *title,
                       const char *caption, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_IO, dir, "cannot create the figure's directory");
      return FALSE;
    }
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, SCATTER_LEFT + SCATTER_SIZE + SCATTER_RIGHT,
                                                         SCATTER_TOP + SCATTER_SIZE + SCATTER_BOTTOM);
  cairo_t *cr = cairo_create (surface);
  genpred_draw_scatter (cr, pred, truth, n, title, caption);
  cairo_destroy (cr);
  cairo_status_t status = cairo_surface_write_to_png (surface, path);
  cairo_surface_destroy (surface);
  /* drops cairo's and fontconfig's caches (one figure per run), so leak checkers see only what
   * is really lost, as nfn render does */
  cairo_debug_reset_static_data ();
  FcFini ();
  if (status != CAIRO_STATUS_SUCCESS)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_IO, path, "cannot write the PNG: %s", cairo_status_to_string (status));
      return FALSE;
    }
  return TRUE;
}

/* A run's file beside the store: <store dir>/<folder>/run-<id><suffix>. */
static char *
genpred_default_path (NfnStore *store, const char *folder, gint64 run, const char *suffix)
{
  g_autofree char *dir = g_path_get_dirname (nfn_store_get_path (store));
  g_autofree char *name = g_strdup_printf ("run-%" G_GINT64_FORMAT "%s", run, suffix);
  return g_build_filename (dir, folder, name, NULL);
}

/* Draws the test split's scatter, records it, and adds the flat test/val members every
 * genpred summary has (so `nfn runs` and the README read one shape for every model). */
static gboolean
genpred_report (NfnStore *store, gint64 run, const char *model_name, const char *zoo, const char *scatter_path,
                const double *pred, const double *truth, int n, const GenpredScore *val, const GenpredScore *test,
                JsonBuilder *summary, char **written, GError **error)
{
  g_autofree char *path = scatter_path ? g_strdup (scatter_path) : genpred_default_path (store, "figures", run, "-scatter.png");
  g_autofree char *zoo_name = g_path_get_basename (zoo);
  g_autofree char *title = g_strdup_printf ("%s: predicted vs true test accuracy (%s)", model_name, zoo_name);
  g_autofree char *caption = g_strdup_printf ("test split, %d CNNs: Kendall τ %.3f, R² %.3f", n, test->tau, test->r2);
  if (!genpred_write_scatter (path, pred, truth, n, title, caption, error)
      || !nfn_store_run_add_artifact (store, run, "figure", path, "predicted vs true test accuracy, test split (PNG)", error))
    return FALSE;
  const char *names[] = { "val_tau", "val_r2", "test_tau", "test_r2", "test_mse" };
  double values[] = { val->tau, val->r2, test->tau, test->r2, test->mse };
  for (gsize k = 0; k < G_N_ELEMENTS (names); k++)
    {
      json_builder_set_member_name (summary, names[k]);
      json_builder_add_double_value (summary, values[k]);
    }
  json_builder_set_member_name (summary, "scatter_png");
  json_builder_add_string_value (summary, path);
  *written = g_steal_pointer (&path);
  return TRUE;
}

/* ---- NFN predictors: the shared trainer ---- */

typedef struct {
  const GenpredData *data;
  nfn_model *model;
  NfnStore *store;
  const char *model_name, *zoo, *out, *scatter;
  char *model_path, *scatter_path; /* where they went */
  GenpredScore val, test;
} GenpredFinish;

static char *
genpred_extra_json (const NfnTrainerNorm *norm, const char *zoo)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "target");
  json_builder_add_string_value (b, GENPRED_TARGET);
  json_builder_set_member_name (b, "zoo");
  json_builder_add_string_value (b, zoo);
  if (norm && norm->n_tensors > 0)
    {
      json_builder_set_member_name (b, "input_norm");
      nfn_trainer_norm_build_json (b, norm);
    }
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return nfn_json_to_text (root, FALSE);
}

static gboolean
genpred_finish (const NfnTrainerReport *report, JsonBuilder *summary, gpointer user_data, GError **error)
{
  GenpredFinish *f = user_data;
  g_autofree char *extra = genpred_extra_json (&f->data->norm, f->zoo);
  NfnModelFileInfo info = { .task = "genpred", .extra_json = extra };
  g_autofree char *path = f->out ? g_strdup (f->out) : genpred_default_path (f->store, "models", report->run_id, ".safetensors");
  g_autofree char *dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_IO, dir, "cannot create the model's directory");
      return FALSE;
    }
  if (!nfn_model_file_save (f->model, &info, path, error)
      || !nfn_store_run_add_artifact (f->store, report->run_id, "model", path,
                                      "the best epoch's accuracy predictor (safetensors)", error))
    return FALSE;
  json_builder_set_member_name (summary, "model_file");
  json_builder_add_string_value (summary, path);
  f->model_path = g_steal_pointer (&path);

  const NfnTrainerSet *test = &f->data->test;
  int n = nfn_trainer_set_size (test);
  g_autofree double *pred = g_new (double, n), *truth = g_new (double, n);
  for (int k = 0; k < n; k++)
    {
      pred[k] = 1 / (1 + exp (-(double) report->test_outputs[k]));
      truth[k] = test->targets[k];
    }
  f->val = (GenpredScore) { nfn_trainer_metrics_get (&report->val, "tau"), nfn_trainer_metrics_get (&report->val, "r2"),
                            nfn_trainer_metrics_get (&report->val, "mse") };
  f->test = (GenpredScore) { nfn_trainer_metrics_get (&report->test, "tau"), nfn_trainer_metrics_get (&report->test, "r2"),
                             nfn_trainer_metrics_get (&report->test, "mse") };
  return genpred_report (f->store, report->run_id, f->model_name, f->zoo, f->scatter, pred, truth, n, &f->val, &f->test,
                         summary, &f->scatter_path, error);
}

/* ---- the settings of a run, and their JSON (the run's config) ---- */

/* Ctrl-C cancels at the next step (the last checkpoint stays); a second one kills. */
static volatile int genpred_cancel_flag;

static void
genpred_on_sigint (int signum)
{
  genpred_cancel_flag = 1;
}

/* The settings of a run of an NFN predictor: what its config JSON holds, so that `--resume RUN`
 * rebuilds the run from the store alone. */
typedef struct {
  char *zoo, *out, *scatter; /* absolute paths; out and scatter may be NULL (beside the store) */
  char *model_name;          /* hnp|np|stat */
  gint64 split_seed;
  gboolean augment, normalize;
  int epochs, batch;
  double lr, weight_decay;
  gint64 warmup, seed;
  gboolean cosine;
  nfn_model_config model;
} GenpredSettings;

static void
genpred_settings_clear (GenpredSettings *s)
{
  g_free (s->zoo);
  g_free (s->out);
  g_free (s->scatter);
  g_free (s->model_name);
  memset (s, 0, sizeof *s);
}

/* The members every genpred run's config starts with (spectral runs have only these). */
static void
genpred_config_begin (JsonBuilder *b, const char *zoo, const char *model_name, gint64 split_seed)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "zoo");
  json_builder_add_string_value (b, zoo);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, model_name);
  json_builder_set_member_name (b, "target");
  json_builder_add_string_value (b, GENPRED_TARGET);
  json_builder_set_member_name (b, "split");
  json_builder_add_string_value (b, "train/val/test = 80/10/10 % of the training runs, shuffled by split_seed (nfn_cnn_zoo_split)");
  json_builder_set_member_name (b, "split_seed");
  json_builder_add_int_value (b, split_seed);
}

static char *
genpred_config_json (const GenpredSettings *s)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  genpred_config_begin (b, s->zoo, s->model_name, s->split_seed);
  const char *paths[] = { "out", s->out, "scatter", s->scatter };
  for (guint k = 0; k < G_N_ELEMENTS (paths); k += 2)
    {
      json_builder_set_member_name (b, paths[k]);
      if (paths[k + 1])
        json_builder_add_string_value (b, paths[k + 1]);
      else
        json_builder_add_null_value (b);
    }
  const char *int_names[] = { "epochs", "batch", "warmup", "seed" };
  const gint64 int_values[] = { s->epochs, s->batch, s->warmup, s->seed };
  for (gsize k = 0; k < G_N_ELEMENTS (int_names); k++)
    {
      json_builder_set_member_name (b, int_names[k]);
      json_builder_add_int_value (b, int_values[k]);
    }
  json_builder_set_member_name (b, "lr");
  json_builder_add_double_value (b, s->lr);
  json_builder_set_member_name (b, "weight_decay");
  json_builder_add_double_value (b, s->weight_decay);
  json_builder_set_member_name (b, "augment");
  json_builder_add_boolean_value (b, s->augment);
  json_builder_set_member_name (b, "normalize");
  json_builder_add_boolean_value (b, s->normalize);
  json_builder_set_member_name (b, "cosine");
  json_builder_add_boolean_value (b, s->cosine);
  json_builder_set_member_name (b, "nfn_model");
  nfn_model_config_build_json (b, &s->model);
  json_builder_end_object (b);
  return nfn_json_builder_to_text (b, FALSE);
}

/* A string member, NULL when absent or null. */
static char *
genpred_string_member (JsonObject *o, const char *name)
{
  JsonNode *node = json_object_get_member (o, name);
  if (!node || JSON_NODE_HOLDS_NULL (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return g_strdup (json_node_get_string (node));
}

/* The settings of run `run` (for --resume); one-line errors name the store and the run. */
static gboolean
genpred_settings_from_run (const NfnRun *run, const char *db_path, GenpredSettings *s, GError **error)
{
  g_autofree char *label = g_strdup_printf ("%s: run %" G_GINT64_FORMAT, db_path, run->id);
  if (g_strcmp0 (run->task, GENPRED_TASK) != 0)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, "%s is a %s run, not %s", label, run->task,
                   GENPRED_TASK);
      return FALSE;
    }
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, run->config_json, -1, NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "%s: its config is not a JSON object", label);
      return FALSE;
    }
  JsonObject *o = json_node_get_object (json_parser_get_root (parser));
  if (g_strcmp0 (run->model, "spectral") == 0)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED,
                   "%s: a spectral run has no epochs to resume (run it again)", label);
      return FALSE;
    }
  const char *required[] = { "zoo", "model", "split_seed", "out", "scatter", "epochs", "batch", "warmup", "seed", "lr",
                             "weight_decay", "augment", "normalize", "nfn_model" };
  for (guint k = 0; k < G_N_ELEMENTS (required); k++)
    if (!json_object_has_member (o, required[k]))
      {
        g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "%s: its config lacks \"%s\"", label, required[k]);
        return FALSE;
      }
  s->zoo = genpred_string_member (o, "zoo");
  s->model_name = genpred_string_member (o, "model");
  s->out = genpred_string_member (o, "out");
  s->scatter = genpred_string_member (o, "scatter");
  s->split_seed = json_object_get_int_member (o, "split_seed");
  s->epochs = (int) json_object_get_int_member (o, "epochs");
  s->batch = (int) json_object_get_int_member (o, "batch");
  s->warmup = json_object_get_int_member (o, "warmup");
  s->seed = json_object_get_int_member (o, "seed");
  s->lr = json_object_get_double_member (o, "lr");
  s->weight_decay = json_object_get_double_member (o, "weight_decay");
  s->augment = json_object_get_boolean_member (o, "augment");
  s->normalize = json_object_get_boolean_member (o, "normalize");
  s->cosine = json_object_get_boolean_member_with_default (o, "cosine", FALSE);
  if (!s->zoo || !s->model_name)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "%s: its config has no zoo or model", label);
      return FALSE;
    }
  return nfn_model_config_from_json_node (json_object_get_member (o, "nfn_model"), &s->model, label, error);
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

/* α of every layer of every network of a set: (N, L), NAN where a layer has no fit; and the
 * mean over layers (N). */
static gboolean
genpred_alphas (const NfnTrainerSet *set, double *alpha, double *mean_alpha, GError **error)
{
  int N = nfn_trainer_set_size (set), L = set->networks.space.L;
  nfn_powerlaw_fit fits[NFN_MAX_LAYERS];
  for (int k = 0; k < N; k++)
    {
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

/* The design row of one network: 1, then α_1 … α_L with a missing α replaced by its fill. */
static void
genpred_design_row (const double *alpha, int L, const double *fill, double *row)
{
  row[0] = 1;
  for (int i = 0; i < L; i++)
    row[1 + i] = isfinite (alpha[i]) ? alpha[i] : fill[i];
}

/* Predicted accuracies of N networks from their α (N, L) by coefficients (L + 1), in [0, 1]. */
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
genpred_spectral_save (const char *path, const nfn_space *space, const double *coef, const double *fill,
                       const char *zoo, GError **error)
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
  json_builder_set_member_name (b, "kind");
  json_builder_add_string_value (b, "spectral");
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
  json_builder_set_member_name (b, "min_tail");
  json_builder_add_int_value (b, NFN_SPECTRAL_MIN_TAIL);
  json_builder_end_object (b);
  g_autofree char *config = nfn_json_builder_to_text (b, FALSE);
  g_autofree char *extra = genpred_extra_json (NULL, zoo);
  nfn_safetensors_set_metadata (st, "nfn.format", GENPRED_SPECTRAL_FORMAT);
  nfn_safetensors_set_metadata (st, "nfn.version", GENPRED_SPECTRAL_VERSION);
  nfn_safetensors_set_metadata (st, "nfn.task", "genpred");
  nfn_safetensors_set_metadata (st, "nfn.model", config);
  nfn_safetensors_set_metadata (st, "nfn.extra", extra);
  g_autofree char *dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_IO, dir, "cannot create the model's directory");
      return FALSE;
    }
  return nfn_safetensors_save (st, path, error);
}

static int
genpred_spectral (const GenpredSettings *settings, const char *config_json, NfnStore *store, gboolean json)
{
  g_autoptr (GError) error = NULL;
  GenpredData data = { 0 };
  gint64 run = 0;
  int status = 1;
  gint64 started = g_get_monotonic_time ();
  /* α reads the raw weights: standardising would move the singular values */
  if (!genpred_load (settings->zoo, (guint64) settings->split_seed, FALSE, &data, &error))
    return nfn_cli_fail_error (error);
  const NfnTrainerSet *sets[3] = { &data.train, &data.val, &data.test };
  int L = data.train.networks.space.L, n[3];
  double *alpha[3] = { NULL }, *mean_alpha[3] = { NULL }, *pred[3] = { NULL }, *truth[3] = { NULL };
  gsl_matrix *X = NULL, *cov = NULL;
  gsl_vector *y = NULL, *c = NULL;
  gsl_multifit_linear_workspace *work = NULL;
  g_autofree char *scatter_path = NULL, *summary_text = NULL, *model_path = NULL;
  g_autoptr (JsonBuilder) summary = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  GenpredScore score[3], neg_alpha[3];
  double fill[NFN_MAX_LAYERS] = { 0 }, coef[NFN_MAX_LAYERS + 1];
  for (int s = 0; s < 3; s++)
    {
      n[s] = nfn_trainer_set_size (sets[s]);
      alpha[s] = g_new (double, (gsize) n[s] * L);
      mean_alpha[s] = g_new (double, n[s]);
      pred[s] = g_new (double, n[s]);
      truth[s] = g_new (double, n[s]);
      for (int k = 0; k < n[s]; k++)
        truth[s][k] = sets[s]->targets[k];
      if (!genpred_alphas (sets[s], alpha[s], mean_alpha[s], &error))
        goto done;
    }
  /* missing α (too few eigenvalues above zero) take the train mean of their layer */
  for (int i = 0; i < L; i++)
    {
      int count = 0;
      for (int k = 0; k < n[0]; k++)
        if (isfinite (alpha[0][(size_t) k * L + i]))
          fill[i] += alpha[0][(size_t) k * L + i], count++;
      fill[i] = (float) (count ? fill[i] / count : 0);
    }
  X = gsl_matrix_alloc ((size_t) n[0], (size_t) L + 1);
  y = gsl_vector_alloc ((size_t) n[0]);
  c = gsl_vector_alloc ((size_t) L + 1);
  cov = gsl_matrix_alloc ((size_t) L + 1, (size_t) L + 1);
  work = gsl_multifit_linear_alloc ((size_t) n[0], (size_t) L + 1);
  for (int k = 0; k < n[0]; k++)
    {
      double row[NFN_MAX_LAYERS + 1];
      genpred_design_row (alpha[0] + (size_t) k * L, L, fill, row);
      for (int j = 0; j <= L; j++)
        gsl_matrix_set (X, (size_t) k, (size_t) j, row[j]);
      gsl_vector_set (y, (size_t) k, truth[0][k]);
    }
  double chisq;
  if (gsl_multifit_linear (X, y, c, cov, &chisq, work) != GSL_SUCCESS)
    {
      nfn_data_set_error (&error, NFN_DATA_ERROR_UNSUPPORTED, settings->zoo, "the least-squares fit of accuracy on α failed");
      goto done;
    }
  for (int j = 0; j <= L; j++)
    coef[j] = (float) gsl_vector_get (c, (size_t) j); /* as the model file keeps them */
  for (int s = 0; s < 3; s++)
    {
      genpred_linear_predict (alpha[s], n[s], L, fill, coef, pred[s]);
      g_autofree double *neg = g_new (double, n[s]);
      for (int k = 0; k < n[s]; k++)
        neg[k] = isfinite (mean_alpha[s][k]) ? -mean_alpha[s][k] : -INFINITY;
      if (!genpred_score (pred[s], truth[s], n[s], &score[s], &error)
          || !genpred_score (neg, truth[s], n[s], &neg_alpha[s], &error))
        goto done;
    }

  if ((run = nfn_store_run_begin (store, NULL, GENPRED_TASK, "spectral", config_json, settings->split_seed, &error)) <= 0)
    goto done;
  model_path = settings->out ? g_strdup (settings->out) : genpred_default_path (store, "models", run, ".safetensors");
  if (!genpred_spectral_save (model_path, &data.train.networks.space, coef, fill, settings->zoo, &error)
      || !nfn_store_run_add_artifact (store, run, "model", model_path,
                                      "the spectral accuracy predictor: coefficients on per-layer alpha (safetensors)",
                                      &error))
    goto done;
  const char *metric_names[] = { "val/tau", "val/r2", "val/mse", "val/tau_neg_alpha" };
  double metric_values[] = { score[1].tau, score[1].r2, score[1].mse, neg_alpha[1].tau };
  json_builder_begin_object (summary);
  json_builder_set_member_name (summary, "predictor");
  json_builder_add_string_value (summary, "accuracy ~ c0 + sum_i c_i alpha_i (least squares on the train split, clamped to [0, 1])");
  json_builder_set_member_name (summary, "coefficients");
  json_builder_begin_array (summary);
  for (int j = 0; j <= L; j++)
    json_builder_add_double_value (summary, coef[j]);
  json_builder_end_array (summary);
  json_builder_set_member_name (summary, "tau_neg_alpha");
  json_builder_add_double_value (summary, neg_alpha[2].tau);
  json_builder_set_member_name (summary, "train_networks");
  json_builder_add_int_value (summary, n[0]);
  json_builder_set_member_name (summary, "val_networks");
  json_builder_add_int_value (summary, n[1]);
  json_builder_set_member_name (summary, "test_networks");
  json_builder_add_int_value (summary, n[2]);
  json_builder_set_member_name (summary, "model_file");
  json_builder_add_string_value (summary, model_path);
  if (!nfn_store_run_log (store, run, 0, G_N_ELEMENTS (metric_names), metric_names, metric_values, &error)
      || !genpred_report (store, run, "spectral", settings->zoo, settings->scatter, pred[2], truth[2], n[2], &score[1],
                          &score[2], summary, &scatter_path, &error))
    goto done;
  json_builder_set_member_name (summary, "wall_seconds");
  json_builder_add_double_value (summary, (g_get_monotonic_time () - started) / 1e6);
  json_builder_end_object (summary);
  root = json_builder_get_root (summary);
  summary_text = nfn_json_to_text (root, FALSE);
  if (!nfn_store_run_set_summary (store, run, summary_text, &error)
      || !nfn_store_run_finish (store, run, NFN_RUN_COMPLETED, &error))
    goto done;
  if (json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "run");
      json_builder_add_int_value (b, run);
      json_builder_set_member_name (b, "summary");
      json_builder_add_value (b, json_node_copy (root));
      json_builder_end_object (b);
      nfn_cli_print_json (b);
    }
  else
    printf ("run %" G_GINT64_FORMAT ": spectral (least squares on per-layer alpha), test tau %.4f, R^2 %.4f"
            " (val tau %.4f); tau of -mean alpha %.4f\nmodel %s\nscatter %s\n", run, score[2].tau, score[2].r2,
            score[1].tau, neg_alpha[2].tau, model_path, scatter_path);
  status = 0;

done:
  if (status != 0)
    {
      if (run > 0)
        nfn_store_run_finish (store, run, NFN_RUN_FAILED, NULL);
      status = error ? nfn_cli_fail_error (error) : 1;
    }
  for (int s = 0; s < 3; s++)
    {
      g_free (alpha[s]);
      g_free (mean_alpha[s]);
      g_free (pred[s]);
      g_free (truth[s]);
    }
  if (X)
    gsl_matrix_free (X);
  if (cov)
    gsl_matrix_free (cov);
  if (y)
    gsl_vector_free (y);
  if (c)
    gsl_vector_free (c);
  if (work)
    gsl_multifit_linear_free (work);
  genpred_data_clear (&data);
  return status;
}

/* ---- nfn train genpred ---- */

/* The defaults of `nfn train genpred`, the paper's recipe cut to fit a 2-core CPU (see the top). */
static void
genpred_task_defaults (NfnTaskOptions *o)
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
  o->head = g_strdup ("256,256");
  o->normalize = TRUE;
}

int
nfn_cli_train_genpred (int argc, char **argv)
{
  NfnTaskOptions o;
  genpred_task_defaults (&o);
  NfnCliTrainArgs args = { 0 };
  gint64 split_seed = 0;
  g_autofree char *scatter = NULL;
  const NfnCliTrainSpec spec = {
    .entries = NFN_CLI_TRAIN_RESUME | NFN_CLI_TRAIN_WEIGHT_DECAY | NFN_CLI_TRAIN_FOURIER | NFN_CLI_TRAIN_HEAD
               | NFN_CLI_TRAIN_RAW_WEIGHTS,
    .zoo_help = "a CNN zoo (nfn zoo cnn); split 80/10/10 by training run into train/val/test",
    .model_help = "hnp|np|stat|spectral (default hnp)",
    .out_help = "the model file (default: models/run-ID.safetensors beside the store)",
  };
  GOptionGroup *group = nfn_cli_train_group (&spec, &o, &args);
  GOptionEntry entries[] = {
    { "split-seed", 0, 0, G_OPTION_ARG_INT64, &split_seed, "seed of the zoo's train/val/test split (default 0)", "S" },
    { "scatter", 0, 0, G_OPTION_ARG_FILENAME, &scatter, "the scatter PNG (default: figures/run-ID-scatter.png beside the store)", "PNG" },
    { NULL },
  };
  g_option_group_add_entries (group, entries);
  g_autoptr (GOptionContext) context = g_option_context_new ("— train a predictor of CNNs' test accuracy from their weights");
  g_option_context_set_main_group (context, group);
  /* GOption frees none of the defaults it replaces: --head would lose this one */
  g_autofree char *head_default = NULL;
  char *head_given = o.head;
  gboolean parsed = nfn_cli_parse (context, &argc, &argv);
  if (o.head != head_given)
    head_default = head_given;
  nfn_cli_train_finish_options (&spec, &o, &args);
  /* the parsed values, owned here, so that every return below leaves nothing behind */
  g_autofree char *zoo = g_strdup (o.zoo), *model_name = g_strdup (o.model), *head = g_strdup (o.head);
  g_autofree char *db = g_strdup (args.db), *out = g_strdup (o.out);
  int epochs = o.epochs, batch = o.batch, channels = o.channels, depth = o.depth, fourier = o.fourier;
  int io_bands = o.io_bands, threads = o.threads;
  double lr = o.lr, weight_decay = o.weight_decay, fourier_scale = o.fourier_scale, dropout = o.dropout;
  double head_dropout = o.head_dropout;
  gint64 warmup = o.warmup, seed = o.seed, resume = o.resume;
  gboolean augment = o.augment, cosine = o.cosine, json = args.json, raw_weights = !o.normalize;
  nfn_task_options_clear (&o);
  nfn_cli_train_args_clear (&args);
  if (!parsed)
    return 1;
  if (argc != 1)
    return nfn_cli_fail ("train genpred: unexpected argument \"%s\" (see nfn train genpred --help)", argv[1]);
  if (nfn_cli_train_check_resume ("train genpred", resume, zoo || model_name || out || scatter))
    return 1;
  if (resume == 0 && !zoo)
    return nfn_cli_fail ("train genpred: --zoo ZOO is required (make one with nfn zoo cnn)");
  const char *kind_name = model_name ? model_name : "hnp";
  nfn_model_kind kind = NFN_MODEL_HNP;
  gboolean spectral = resume == 0 && strcmp (kind_name, "spectral") == 0;
  if (resume == 0 && !spectral
      && (!nfn_model_kind_parse (kind_name, &kind)
          || (kind != NFN_MODEL_HNP && kind != NFN_MODEL_NP && kind != NFN_MODEL_STAT)))
    return nfn_cli_fail ("train genpred: --model must be hnp, np, stat or spectral, not \"%s\"", kind_name);
  if (epochs < 1 || batch < 1 || !(lr > 0) || weight_decay < 0 || warmup < 0 || channels < 1 || depth < 1
      || depth > NFN_MODEL_MAX_DEPTH || fourier < 0 || io_bands < 0 || !(fourier_scale > 0) || dropout < 0 || dropout >= 1
      || head_dropout < 0 || head_dropout >= 1 || seed < 0 || split_seed < 0)
    return nfn_cli_fail ("train genpred: an option is out of range (epochs, batch, channels, depth ≥ 1, depth ≤ %d,"
                         " lr > 0, dropouts in [0, 1), the rest ≥ 0)", NFN_MODEL_MAX_DEPTH);
  g_autoptr (NfnStore) store = nfn_cli_open_store (db, FALSE);
  if (!store)
    return 1;
  nfn_set_threads (nfn_cli_clamp_threads (threads));

  g_autoptr (GError) error = NULL;
  GenpredSettings settings = { 0 };
  GenpredData data = { 0 };
  nfn_model *model = NULL;
  NfnTrainerReport report = { 0 };
  GenpredFinish finish = { 0 };
  g_autofree char *config_json = NULL;
  int status = 1;
  if (resume > 0)
    {
      g_autoptr (NfnRun) run = nfn_store_get_run (store, resume, &error);
      if (!run || !genpred_settings_from_run (run, nfn_store_get_path (store), &settings, &error))
        goto done;
      /* refused before the zoo loads; the trainer checks again when it takes the run over */
      if (run->status == NFN_RUN_RUNNING || run->status == NFN_RUN_COMPLETED)
        {
          status = nfn_cli_fail ("train genpred: %s: run %" G_GINT64_FORMAT " is %s; only an interrupted, failed or"
                                 " cancelled run can resume", nfn_store_get_path (store), resume,
                                 nfn_run_status_name (run->status));
          goto done;
        }
    }
  else
    {
      settings.zoo = g_canonicalize_filename (zoo, NULL);
      settings.out = out ? g_canonicalize_filename (out, NULL) : NULL;
      settings.scatter = scatter ? g_canonicalize_filename (scatter, NULL) : NULL;
      settings.model_name = g_strdup (kind_name);
      settings.split_seed = split_seed;
      if (spectral)
        {
          g_autoptr (JsonBuilder) config = json_builder_new ();
          genpred_config_begin (config, settings.zoo, "spectral", split_seed);
          json_builder_set_member_name (config, "out");
          if (settings.out)
            json_builder_add_string_value (config, settings.out);
          else
            json_builder_add_null_value (config);
          json_builder_end_object (config);
          config_json = nfn_json_builder_to_text (config, FALSE);
          status = genpred_spectral (&settings, config_json, store, json);
          goto done;
        }
      settings.augment = augment;
      settings.normalize = !raw_weights;
      settings.epochs = epochs;
      settings.batch = batch;
      settings.lr = lr;
      settings.weight_decay = weight_decay;
      settings.warmup = warmup;
      settings.cosine = cosine;
      settings.seed = seed;
    }
  if (!genpred_load (settings.zoo, (guint64) settings.split_seed, settings.normalize, &data, &error))
    goto done;
  nfn_model_config *cfg = &settings.model;
  if (resume == 0)
    {
      /* the model's space comes from the zoo; the rest from the options */
      nfn_model_config_default (cfg, kind, &data.train.networks.space, 1);
      cfg->max_batch = batch;
      cfg->channels = channels;
      cfg->depth = depth;
      cfg->fourier_m = fourier;
      cfg->fourier_scale = fourier_scale;
      cfg->io_bands = kind == NFN_MODEL_NP ? io_bands : 0;
      cfg->channel_dropout = (float) dropout;
      cfg->head_dropout = (float) head_dropout;
      cfg->head_widths[0] = cfg->head_widths[1] = 256;
      if (head && !nfn_task_parse_head (head, cfg))
        {
          status = nfn_cli_fail ("train genpred: --head takes up to %d widths ≥ 1 such as 256,256 (or none), not \"%s\"",
                                 NFN_MODEL_MAX_HEAD, head);
          goto done;
        }
    }
  else if (!nfn_space_equal (&cfg->space, &data.train.networks.space) || cfg->n_out != 1)
    {
      nfn_data_set_error (&error, NFN_DATA_ERROR_SHAPE, settings.zoo, "the zoo no longer matches the run's model");
      goto done;
    }
  nfn_status st = nfn_model_config_check (cfg);
  if (st == NFN_OK)
    st = nfn_model_new (cfg, (unsigned long) settings.seed, &model);
  if (st != NFN_OK)
    {
      status = nfn_cli_fail ("train genpred: cannot build the %s model: %s", settings.model_name, nfn_status_message (st));
      goto done;
    }
  config_json = genpred_config_json (&settings);

  NfnTrainerTask task;
  nfn_trainer_task_regress (&task, model);
  if (settings.augment)
    task.augment = nfn_trainer_augment_hnp;
  NfnCliTrainDisplay display;
  nfn_cli_train_display_init (&display, "tau", FALSE);
  finish = (GenpredFinish) { .data = &data, .model = model, .store = store, .model_name = settings.model_name,
                             .zoo = settings.zoo, .out = settings.out, .scatter = settings.scatter };
  NfnTrainerOptions options;
  nfn_trainer_options_init (&options);
  options.epochs = settings.epochs;
  options.batch_size = settings.batch;
  options.lr = settings.lr;
  options.weight_decay = settings.weight_decay;
  options.decoupled = TRUE;
  options.warmup_steps = settings.warmup;
  options.cosine = settings.cosine;
  options.seed = (guint64) settings.seed;
  options.store = store;
  options.task_name = GENPRED_TASK;
  options.model_name = settings.model_name;
  options.config_json = config_json;
  options.resume_run = resume;
  options.progress = nfn_cli_train_progress;
  options.user_data = &display;
  options.cancel = &genpred_cancel_flag;
  options.finish = genpred_finish;
  options.finish_data = &finish;
  display.header = g_strdup_printf ("train genpred: %s on %d CNNs of %s (val %d, test %d), %zu parameters%s",
                                    settings.model_name, nfn_trainer_set_size (&data.train), settings.zoo,
                                    nfn_trainer_set_size (&data.val), nfn_trainer_set_size (&data.test),
                                    nfn_model_param_count (model), resume > 0 ? ", resumed" : "");
  struct sigaction action = { .sa_handler = genpred_on_sigint, .sa_flags = SA_RESETHAND };
  sigemptyset (&action.sa_mask);
  sigaction (SIGINT, &action, NULL);
  gboolean ok = nfn_trainer_run (&task, &data.train, &data.val, &data.test, &options, &report, &error);
  signal (SIGINT, SIG_DFL);
  nfn_cli_train_display_end (&display);
  if (!ok)
    goto done;
  if (json)
    {
      g_autoptr (NfnRun) run = nfn_store_get_run (store, report.run_id, &error);
      g_autoptr (JsonNode) summary = run ? json_from_string (run->summary_json, NULL) : NULL;
      if (!summary)
        goto done;
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "run");
      json_builder_add_int_value (b, report.run_id);
      json_builder_set_member_name (b, "summary");
      json_builder_add_value (b, g_steal_pointer (&summary));
      json_builder_end_object (b);
      nfn_cli_print_json (b);
    }
  else
    {
      g_autofree char *wall = nfn_cli_format_duration (report.seconds);
      printf ("run %" G_GINT64_FORMAT ": %s, best epoch %d of %d, test tau %.4f, R^2 %.4f (val tau %.4f)\n"
              "%zu parameters, %s wall time; model %s\nscatter %s\n",
              report.run_id, settings.model_name, report.best_epoch, report.epochs_done, finish.test.tau,
              finish.test.r2, finish.val.tau, report.params, wall, finish.model_path, finish.scatter_path);
    }
  status = 0;

done:
  if (status != 0 && error)
    status = nfn_cli_fail_error (error);
  nfn_trainer_report_clear (&report);
  g_free (finish.model_path);
  g_free (finish.scatter_path);
  nfn_model_free (model);
  genpred_data_clear (&data);
  genpred_settings_clear (&settings);
  return status;
}

/* ---- nfn predict on genpred models ---- */

/* One prediction: a JSON object in the array `b` is building, or a line on stdout. */
static void
genpred_emit_prediction (JsonBuilder *b, const char *net, double accuracy, gboolean json)
{
  if (json)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "network");
      json_builder_add_string_value (b, net);
      json_builder_set_member_name (b, "predicted_test_accuracy");
      json_builder_add_double_value (b, accuracy);
      json_builder_end_object (b);
    }
  else
    printf ("%s: predicted test accuracy %.2f %%\n", net, 100 * accuracy);
}

int
nfn_cli_predict_genpred (nfn_model *model, const NfnModelFileInfo *info, const char *model_path, int n_nets,
                         char **nets, gboolean json)
{
  const nfn_model_config *cfg = nfn_model_get_config (model);
  g_autoptr (GError) error = NULL;
  if (cfg->n_out != 1 || cfg->output != NFN_MODEL_OUT_LOGITS)
    return nfn_cli_fail ("predict: %s: a genpred model with %d outputs (expected one logit)", model_path, cfg->n_out);
  NfnTrainerNorm norm = { 0 };
  g_autoptr (JsonNode) extra = info->extra_json ? json_from_string (info->extra_json, NULL) : NULL;
  if (info->extra_json && (!extra || !JSON_NODE_HOLDS_OBJECT (extra)))
    return nfn_cli_fail ("predict: %s: nfn.extra is not a JSON object", model_path);
  JsonObject *o = extra ? json_node_get_object (extra) : NULL;
  if (o && json_object_has_member (o, "input_norm")
      && !nfn_trainer_norm_from_json_node (json_object_get_member (o, "input_norm"), &cfg->space, &norm, model_path, &error))
    return nfn_cli_fail_error (error);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  for (int k = 0; k < n_nets; k++)
    {
      g_autoptr (NfnNetwork) net = nfn_network_load_spec (nets[k], &error);
      if (!net)
        return nfn_cli_fail_error (error);
      if (!nfn_space_equal (&net->arch.space, &cfg->space))
        return nfn_cli_fail ("predict: %s: its layer shapes differ from those of the CNNs the model %s was trained on",
                             nets[k], model_path);
      nfn_trainer_norm_apply (&norm, &net->weights);
      const float *logit;
      nfn_status st = nfn_model_forward (model, &net->weights, 0, &logit);
      if (st != NFN_OK)
        return nfn_cli_fail ("predict: %s: %s", nets[k], nfn_status_message (st));
      genpred_emit_prediction (b, nets[k], 1 / (1 + exp (-(double) logit[0])), json);
    }
  json_builder_end_array (b);
  if (json)
    nfn_cli_print_json (b);
  return 0;
}

gboolean
nfn_cli_is_spectral_model (const char *path)
{
  g_autoptr (NfnSafetensors) st = nfn_safetensors_load (path, NULL);
  return st && g_strcmp0 (nfn_safetensors_get_metadata (st, "nfn.format"), GENPRED_SPECTRAL_FORMAT) == 0;
}

/* The spectral model's space (widths and filter positions from "nfn.model") and its tensors;
 * FALSE with a one-line error naming the file. */
static gboolean
genpred_spectral_load (const NfnSafetensors *st, const char *path, nfn_space *space, double *coef, double *fill,
                       GError **error)
{
  if (g_strcmp0 (nfn_safetensors_get_metadata (st, "nfn.version"), GENPRED_SPECTRAL_VERSION) != 0)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, path, "a spectral model of another version (train it again)");
      return FALSE;
    }
  const char *config = nfn_safetensors_get_metadata (st, "nfn.model");
  g_autoptr (JsonNode) root = config ? json_from_string (config, NULL) : NULL;
  JsonObject *o = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  JsonObject *so = o && json_object_has_member (o, "space") && JSON_NODE_HOLDS_OBJECT (json_object_get_member (o, "space"))
                     ? json_object_get_object_member (o, "space") : NULL;
  JsonNode *wn = so ? json_object_get_member (so, "widths") : NULL, *fn = so ? json_object_get_member (so, "filter_positions") : NULL;
  JsonArray *widths = wn && JSON_NODE_HOLDS_ARRAY (wn) ? json_node_get_array (wn) : NULL;
  JsonArray *filters = fn && JSON_NODE_HOLDS_ARRAY (fn) ? json_node_get_array (fn) : NULL;
  int L = widths ? (int) json_array_get_length (widths) - 1 : 0;
  if (!o || g_strcmp0 (json_object_get_string_member_with_default (o, "kind", ""), "spectral") != 0 || !filters || L < 1
      || L > NFN_MAX_LAYERS || (int) json_array_get_length (filters) != L)
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
  const NfnTensor *c = nfn_safetensors_find (st, "coefficients"), *f = nfn_safetensors_find (st, "alpha_fill");
  if (!c || !f || c->rank != 1 || c->numel != (gsize) L + 1 || f->rank != 1
      || f->numel != (gsize) L)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_SHAPE, path, "needs \"coefficients\" (%d) and \"alpha_fill\" (%d) for its"
                          " %d-layer space", L + 1, L, L);
      return FALSE;
    }
  for (int j = 0; j <= L; j++)
    coef[j] = c->data[j];
  for (int i = 0; i < L; i++)
    fill[i] = f->data[i];
  for (int j = 0; j <= L; j++)
    if (!isfinite (coef[j]) || (j < L && !isfinite (fill[j])))
      {
        nfn_data_set_error (error, NFN_DATA_ERROR_NONFINITE, path, "its coefficients are not finite");
        return FALSE;
      }
  return TRUE;
}

int
nfn_cli_predict_spectral (const char *model_path, int n_nets, char **nets, gboolean json)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnSafetensors) st = nfn_safetensors_load (model_path, &error);
  nfn_space space;
  double coef[NFN_MAX_LAYERS + 1], fill[NFN_MAX_LAYERS];
  if (!st || !genpred_spectral_load (st, model_path, &space, coef, fill, &error))
    return nfn_cli_fail_error (error);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  for (int k = 0; k < n_nets; k++)
    {
      g_autoptr (NfnNetwork) net = nfn_network_load_spec (nets[k], &error);
      if (!net)
        return nfn_cli_fail_error (error);
      if (!nfn_space_equal (&net->arch.space, &space))
        return nfn_cli_fail ("predict: %s: its layer shapes differ from those of the CNNs the model %s was fitted on",
                             nets[k], model_path);
      nfn_powerlaw_fit fits[NFN_MAX_LAYERS];
      double mean_alpha, alpha[NFN_MAX_LAYERS], accuracy;
      nfn_status s = nfn_spectral_network (&net->weights, 0, fits, &mean_alpha);
      if (s != NFN_OK)
        return nfn_cli_fail ("predict: %s: spectral fit: %s", nets[k], nfn_status_message (s));
      for (int i = 0; i < space.L; i++)
        alpha[i] = fits[i].alpha;
      genpred_linear_predict (alpha, 1, space.L, fill, coef, &accuracy);
      genpred_emit_prediction (b, nets[k], accuracy, json);
    }
  json_builder_end_array (b);
  if (json)
    nfn_cli_print_json (b);
  return 0;
}
