/* nfn-train-genpred.c — predicting a CNN's generalization from its weights (Zhou et al. 2023,
 * after Unterthiner et al. 2020): `nfn zoo cnn` builds the zoo of trained CNNs, `nfn train
 * genpred` fits a predictor of each network's test accuracy, and `nfn predict` (through
 * nfn_cli_predict_genpred) applies one to a CNN file.
 *
 * The zoo is split once, by --split-seed alone, into train / val / test (80 / 10 / 10 %), so
 * every model sees the same split. Targets are the networks' test accuracies in [0, 1].
 *   hnp, np, stat: an nfn_model with one logit, sigmoid + binary cross-entropy, trained by the
 *                  shared trainer; the best epoch by validation Kendall τ; test τ, R².
 *   spectral:      WeightWatcher's α (engine/nfn_spectral.h) of every layer, then an ordinary
 *                  least-squares fit accuracy ≈ c_0 + Σ_i c_i·α_i on the train split (clamped
 *                  to [0, 1]); reported beside it, "tau_neg_alpha": the data-free τ of −mean α.
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
#include <gsl/gsl_randist.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "nfn_cnn_zoo.h"
#include "nfn_model_file.h"
#include "nfn_network.h"
#include "nfn_network_text.h"
#include "nfn_spectral.h"
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
  int epochs_max = defaults.ranges.epochs_max;
  double fraction_max = defaults.ranges.fraction_max;
  gint64 seed = 0;
  nfn_cnn_zoo_settings_clear (&defaults);
  GOptionEntry entries[] = {
    { "dataset", 0, 0, G_OPTION_ARG_STRING, &dataset, "fashion-mnist (default) or mnist", "NAME" },
    { "count", 0, 0, G_OPTION_ARG_INT, &count, "networks to train", "N" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "seed of every draw (default 0)", "S" },
    { "epochs-max", 0, 0, G_OPTION_ARG_INT, &epochs_max, "epochs are drawn from 1 … E (default 4)", "E" },
    { "fraction-max", 0, 0, G_OPTION_ARG_DOUBLE, &fraction_max, "fractions of the train split are drawn from [0.1, F] (default 1; lower for quick zoos)", "F" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "networks trained at once, one per thread (default and maximum: the cores)", "T" },
    { "shard-size", 0, 0, G_OPTION_ARG_INT, &shard_size, "networks per shard (default " G_STRINGIFY (NFN_CNN_ZOO_DEFAULT_SHARD_SIZE) ")", "K" },
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
  if (count < 1 || threads < 1 || shard_size < 1 || seed < 0 || epochs_max < 1 || !(fraction_max >= 0.1 && fraction_max <= 1))
    return nfn_cli_fail ("zoo cnn: --count, --threads, --shard-size and --epochs-max must be ≥ 1, --seed ≥ 0,"
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

  g_autoptr (NfnStore) store = nfn_cli_open_store (db, FALSE);
  if (!store)
    {
      nfn_cnn_zoo_settings_clear (&settings);
      return 1;
    }
  NfnCliZooDisplay display;
  nfn_cli_zoo_display_init (&display, count, shard_size, "CNNs", "mean test accuracy", 100, "%");
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

/* The zoo's networks with their test accuracies, shuffled by mt19937(split_seed) and cut into
 * train / val / test; with `normalize` every tensor is standardised by the train split's
 * statistics. */
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
  gint64 n_val = MAX (1, llround (N * GENPRED_VAL_FRACTION)), n_test = MAX (1, llround (N * GENPRED_TEST_FRACTION));
  gint64 n_train = N - n_val - n_test;
  if (n_train < 2 || N > G_MAXINT)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, path, "%" G_GINT64_FORMAT
                          " networks are too few to split into train, val and test", N);
      return FALSE;
    }
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
  g_autofree int *order = g_new (int, N);
  for (gint64 k = 0; k < N; k++)
    {
      order[k] = (int) k;
      all.source[k] = k;
    }
  gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (rng, (unsigned long) split_seed);
  gsl_ran_shuffle (rng, order, (size_t) N, sizeof *order);
  gsl_rng_free (rng);
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
  if (norm->n_tensors > 0)
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

/* "256,256" → widths; "" or "none" → no hidden layer. */
static gboolean
genpred_parse_head (const char *text, nfn_model_config *cfg)
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

/* ---- the spectral baseline ---- */

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

/* The design row of one network: 1, then α_1 … α_L with a missing α replaced by its train mean. */
static void
genpred_design_row (const double *alpha, int L, const double *fill, double *row)
{
  row[0] = 1;
  for (int i = 0; i < L; i++)
    row[1 + i] = isfinite (alpha[i]) ? alpha[i] : fill[i];
}

/* Predicted accuracies of a set from its α (N, L) by the fitted coefficients, clamped to [0, 1]. */
static void
genpred_linear_predict (const double *alpha, int N, int L, const double *fill, const gsl_vector *c, double *pred)
{
  double row[NFN_MAX_LAYERS + 1];
  for (int k = 0; k < N; k++)
    {
      genpred_design_row (alpha + (size_t) k * L, L, fill, row);
      double y = 0;
      for (int j = 0; j <= L; j++)
        y += row[j] * gsl_vector_get (c, (size_t) j);
      pred[k] = CLAMP (y, 0, 1);
    }
}

static int
genpred_spectral (const char *zoo, guint64 split_seed, const char *scatter, const char *config_json, NfnStore *store,
                  gboolean json)
{
  g_autoptr (GError) error = NULL;
  GenpredData data = { 0 };
  gint64 run = 0;
  int status = 1;
  gint64 started = g_get_monotonic_time ();
  /* α reads the raw weights: standardising would move the singular values */
  if (!genpred_load (zoo, split_seed, FALSE, &data, &error))
    return nfn_cli_fail_error (error);
  const NfnTrainerSet *sets[3] = { &data.train, &data.val, &data.test };
  int L = data.train.networks.space.L, n[3];
  double *alpha[3] = { NULL }, *mean_alpha[3] = { NULL }, *pred[3] = { NULL }, *truth[3] = { NULL };
  gsl_matrix *X = NULL, *cov = NULL;
  gsl_vector *y = NULL, *c = NULL;
  gsl_multifit_linear_workspace *work = NULL;
  g_autofree char *scatter_path = NULL, *summary_text = NULL;
  g_autoptr (JsonBuilder) summary = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  GenpredScore score[3], neg_alpha[3];
  double fill[NFN_MAX_LAYERS] = { 0 };
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
      fill[i] = count ? fill[i] / count : 0;
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
      nfn_data_set_error (&error, NFN_DATA_ERROR_UNSUPPORTED, zoo, "the least-squares fit of accuracy on α failed");
      goto done;
    }
  for (int s = 0; s < 3; s++)
    {
      genpred_linear_predict (alpha[s], n[s], L, fill, c, pred[s]);
      g_autofree double *neg = g_new (double, n[s]);
      for (int k = 0; k < n[s]; k++)
        neg[k] = isfinite (mean_alpha[s][k]) ? -mean_alpha[s][k] : -INFINITY;
      if (!genpred_score (pred[s], truth[s], n[s], &score[s], &error)
          || !genpred_score (neg, truth[s], n[s], &neg_alpha[s], &error))
        goto done;
    }

  if ((run = nfn_store_run_begin (store, NULL, GENPRED_TASK, "spectral", config_json, split_seed, &error)) <= 0)
    goto done;
  const char *metric_names[] = { "val/tau", "val/r2", "val/mse", "val/tau_neg_alpha" };
  double metric_values[] = { score[1].tau, score[1].r2, score[1].mse, neg_alpha[1].tau };
  json_builder_begin_object (summary);
  json_builder_set_member_name (summary, "predictor");
  json_builder_add_string_value (summary, "accuracy ~ c0 + sum_i c_i alpha_i (least squares on the train split, clamped to [0, 1])");
  json_builder_set_member_name (summary, "coefficients");
  json_builder_begin_array (summary);
  for (int j = 0; j <= L; j++)
    json_builder_add_double_value (summary, gsl_vector_get (c, (size_t) j));
  json_builder_end_array (summary);
  json_builder_set_member_name (summary, "tau_neg_alpha");
  json_builder_add_double_value (summary, neg_alpha[2].tau);
  json_builder_set_member_name (summary, "train_networks");
  json_builder_add_int_value (summary, n[0]);
  json_builder_set_member_name (summary, "val_networks");
  json_builder_add_int_value (summary, n[1]);
  json_builder_set_member_name (summary, "test_networks");
  json_builder_add_int_value (summary, n[2]);
  if (!nfn_store_run_log (store, run, 0, G_N_ELEMENTS (metric_names), metric_names, metric_values, &error)
      || !genpred_report (store, run, "spectral", zoo, scatter, pred[2], truth[2], n[2], &score[1], &score[2], summary,
                          &scatter_path, &error))
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
            " (val tau %.4f); tau of -mean alpha %.4f\nscatter %s\n", run, score[2].tau, score[2].r2, score[1].tau,
            neg_alpha[2].tau, scatter_path);
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

static volatile int genpred_cancel_flag;

static void
genpred_on_sigint (int signum)
{
  genpred_cancel_flag = 1;
}

int
nfn_cli_train_genpred (int argc, char **argv)
{
  g_autofree char *zoo = NULL, *model_name = NULL, *head = NULL, *db = NULL, *out = NULL, *scatter = NULL;
  int epochs = 50, batch = 32, channels = 16, depth = 2, fourier = 0, io_bands = 4, threads = 0;
  double lr = 1e-3, weight_decay = 0.0, fourier_scale = 3.0, dropout = 0.0, head_dropout = 0.0;
  gint64 warmup = 100, seed = 0, split_seed = 0;
  gboolean augment = FALSE, json = FALSE, raw_weights = FALSE;
  GOptionEntry entries[] = {
    { "zoo", 0, 0, G_OPTION_ARG_FILENAME, &zoo, "a CNN zoo (nfn zoo cnn); split 80/10/10 into train/val/test", "ZOO" },
    { "model", 0, 0, G_OPTION_ARG_STRING, &model_name, "hnp|np|stat|spectral (default hnp)", "KIND" },
    { "split-seed", 0, 0, G_OPTION_ARG_INT64, &split_seed, "seed of the zoo's train/val/test split (default 0)", "S" },
    { "epochs", 0, 0, G_OPTION_ARG_INT, &epochs, "passes over the train split (default 50)", "E" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, "networks per step (default 32)", "B" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "learning rate (default 1e-3)", "LR" },
    { "weight-decay", 0, 0, G_OPTION_ARG_DOUBLE, &weight_decay, "AdamW's decoupled weight decay (default 0)", "WD" },
    { "warmup", 0, 0, G_OPTION_ARG_INT64, &warmup, "linear warmup steps (default 100)", "W" },
    { "channels", 0, 0, G_OPTION_ARG_INT, &channels, "NF layer channels (default 16)", "C" },
    { "depth", 0, 0, G_OPTION_ARG_INT, &depth, "NF layers (default 2)", "D" },
    { "fourier", 0, 0, G_OPTION_ARG_INT, &fourier, "Gaussian Fourier features m (2m channels; default 0 = off)", "M" },
    { "fourier-scale", 0, 0, G_OPTION_ARG_DOUBLE, &fourier_scale, "std of the Fourier matrix (default 3)", "S" },
    { "io-bands", 0, 0, G_OPTION_ARG_INT, &io_bands, "np: IO encoding bands (0 = off; default 4)", "K" },
    { "dropout", 0, 0, G_OPTION_ARG_DOUBLE, &dropout, "channel dropout after each NF layer (default 0)", "P" },
    { "head", 0, 0, G_OPTION_ARG_STRING, &head, "hidden widths of the MLP head (default 256,256)", "W,W" },
    { "head-dropout", 0, 0, G_OPTION_ARG_DOUBLE, &head_dropout, "dropout in the head (default 0)", "P" },
    { "raw-weights", 0, 0, G_OPTION_ARG_NONE, &raw_weights, "feed the weights as they are (default: each tensor standardised by the train split's mean and std)", NULL },
    { "augment", 0, 0, G_OPTION_ARG_NONE, &augment, "a random hidden-neuron permutation of every network at every step", NULL },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "seed of init, shuffling, augmentation and dropout (default 0)", "S" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "threads (default and maximum: the number of cores)", "T" },
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &db, "experiment store (default: the XDG data dir)", "PATH" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "the model file (default: models/run-ID.safetensors beside the store)", "MODEL" },
    { "scatter", 0, 0, G_OPTION_ARG_FILENAME, &scatter, "the scatter PNG (default: figures/run-ID-scatter.png beside the store)", "PNG" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "print the summary as JSON", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("— train a predictor of CNNs' test accuracy from their weights");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nfn_cli_parse (context, &argc, &argv))
    return 1;
  if (argc != 1)
    return nfn_cli_fail ("train genpred: unexpected argument \"%s\" (see nfn train genpred --help)", argv[1]);
  if (!zoo)
    return nfn_cli_fail ("train genpred: --zoo ZOO is required (make one with nfn zoo cnn)");
  const char *kind_name = model_name ? model_name : "hnp";
  nfn_model_kind kind = NFN_MODEL_HNP;
  gboolean spectral = strcmp (kind_name, "spectral") == 0;
  if (!spectral && (!nfn_model_kind_parse (kind_name, &kind)
                    || (kind != NFN_MODEL_HNP && kind != NFN_MODEL_NP && kind != NFN_MODEL_STAT)))
    return nfn_cli_fail ("train genpred: --model must be hnp, np, stat or spectral, not \"%s\"", kind_name);
  if (epochs < 1 || batch < 1 || !(lr > 0) || weight_decay < 0 || warmup < 0 || channels < 1 || depth < 1
      || depth > NFN_MODEL_MAX_DEPTH || fourier < 0 || io_bands < 0 || !(fourier_scale > 0) || dropout < 0 || dropout >= 1
      || head_dropout < 0 || head_dropout >= 1 || seed < 0 || split_seed < 0)
    return nfn_cli_fail ("train genpred: an option is out of range (epochs, batch, channels, depth ≥ 1, depth ≤ %d,"
                         " lr > 0, dropouts in [0, 1), the rest ≥ 0)", NFN_MODEL_MAX_DEPTH);
  g_autofree char *zoo_path = g_canonicalize_filename (zoo, NULL);
  g_autofree char *out_path = out ? g_canonicalize_filename (out, NULL) : NULL;
  g_autofree char *scatter_path = scatter ? g_canonicalize_filename (scatter, NULL) : NULL;
  g_autoptr (NfnStore) store = nfn_cli_open_store (db, FALSE);
  if (!store)
    return 1;
  nfn_set_threads (nfn_cli_clamp_threads (threads));

  /* the run's config: every setting, as a JSON object */
  g_autoptr (JsonBuilder) config = json_builder_new ();
  json_builder_begin_object (config);
  json_builder_set_member_name (config, "zoo");
  json_builder_add_string_value (config, zoo_path);
  json_builder_set_member_name (config, "model");
  json_builder_add_string_value (config, kind_name);
  json_builder_set_member_name (config, "target");
  json_builder_add_string_value (config, GENPRED_TARGET);
  json_builder_set_member_name (config, "split");
  json_builder_add_string_value (config, "train/val/test = 80/10/10 % of a shuffle by split_seed");
  json_builder_set_member_name (config, "split_seed");
  json_builder_add_int_value (config, split_seed);
  if (spectral)
    {
      json_builder_end_object (config);
      g_autoptr (JsonNode) root = json_builder_get_root (config);
      g_autofree char *config_json = nfn_json_to_text (root, FALSE);
      return genpred_spectral (zoo_path, (guint64) split_seed, scatter_path, config_json, store, json);
    }

  g_autoptr (GError) error = NULL;
  GenpredData data = { 0 };
  nfn_model *model = NULL;
  NfnTrainerReport report = { 0 };
  GenpredFinish finish = { 0 };
  g_autoptr (JsonNode) config_root = NULL;
  g_autofree char *config_json = NULL;
  int status = 1;
  if (!genpred_load (zoo_path, (guint64) split_seed, !raw_weights, &data, &error))
    goto done;
  nfn_model_config cfg;
  nfn_model_config_default (&cfg, kind, &data.train.networks.space, 1);
  cfg.max_batch = batch;
  cfg.channels = channels;
  cfg.depth = depth;
  cfg.fourier_m = fourier;
  cfg.fourier_scale = fourier_scale;
  cfg.io_bands = kind == NFN_MODEL_NP ? io_bands : 0;
  cfg.channel_dropout = (float) dropout;
  cfg.head_dropout = (float) head_dropout;
  cfg.head_widths[0] = cfg.head_widths[1] = 256;
  if (head && !genpred_parse_head (head, &cfg))
    {
      status = nfn_cli_fail ("train genpred: --head takes up to %d widths ≥ 1 such as 256,256 (or none), not \"%s\"",
                             NFN_MODEL_MAX_HEAD, head);
      goto done;
    }
  nfn_status st = nfn_model_config_check (&cfg);
  if (st == NFN_OK)
    st = nfn_model_new (&cfg, (unsigned long) seed, &model);
  if (st != NFN_OK)
    {
      status = nfn_cli_fail ("train genpred: cannot build the %s model: %s", kind_name, nfn_status_message (st));
      goto done;
    }
  const char *int_names[] = { "epochs", "batch", "warmup", "seed" };
  const gint64 int_values[] = { epochs, batch, warmup, seed };
  for (gsize k = 0; k < G_N_ELEMENTS (int_names); k++)
    {
      json_builder_set_member_name (config, int_names[k]);
      json_builder_add_int_value (config, int_values[k]);
    }
  json_builder_set_member_name (config, "lr");
  json_builder_add_double_value (config, lr);
  json_builder_set_member_name (config, "weight_decay");
  json_builder_add_double_value (config, weight_decay);
  json_builder_set_member_name (config, "augment");
  json_builder_add_boolean_value (config, augment);
  json_builder_set_member_name (config, "normalize");
  json_builder_add_boolean_value (config, !raw_weights);
  json_builder_set_member_name (config, "nfn_model");
  nfn_model_config_build_json (config, &cfg);
  json_builder_end_object (config);
  config_root = json_builder_get_root (config);
  config_json = nfn_json_to_text (config_root, FALSE);

  NfnTrainerTask task;
  nfn_trainer_task_regress (&task, model);
  if (augment)
    task.augment = nfn_trainer_augment_hnp;
  NfnCliTrainDisplay display;
  nfn_cli_train_display_init (&display, "tau", FALSE);
  finish = (GenpredFinish) { .data = &data, .model = model, .store = store, .model_name = kind_name, .zoo = zoo_path,
                             .out = out_path, .scatter = scatter_path };
  NfnTrainerOptions options;
  nfn_trainer_options_init (&options);
  options.epochs = epochs;
  options.batch_size = batch;
  options.lr = lr;
  options.weight_decay = weight_decay;
  options.decoupled = TRUE;
  options.warmup_steps = warmup;
  options.seed = (guint64) seed;
  options.store = store;
  options.task_name = GENPRED_TASK;
  options.model_name = kind_name;
  options.config_json = config_json;
  options.progress = nfn_cli_train_progress;
  options.user_data = &display;
  options.cancel = &genpred_cancel_flag;
  options.finish = genpred_finish;
  options.finish_data = &finish;
  if (!display.terminal)
    fprintf (stderr, "train genpred: %s on %d CNNs of %s (val %d, test %d), %zu parameters\n", kind_name,
             nfn_trainer_set_size (&data.train), zoo_path, nfn_trainer_set_size (&data.val),
             nfn_trainer_set_size (&data.test), nfn_model_param_count (model));
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
              report.run_id, kind_name, report.best_epoch, report.epochs_done, finish.test.tau, finish.test.r2,
              finish.val.tau, report.params, wall, finish.model_path, finish.scatter_path);
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
  return status;
}

/* ---- nfn predict on genpred models ---- */

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
      double accuracy = 1 / (1 + exp (-(double) logit[0]));
      if (json)
        {
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "network");
          json_builder_add_string_value (b, nets[k]);
          json_builder_set_member_name (b, "predicted_test_accuracy");
          json_builder_add_double_value (b, accuracy);
          json_builder_end_object (b);
        }
      else
        printf ("%s: predicted test accuracy %.2f %%\n", nets[k], 100 * accuracy);
    }
  json_builder_end_array (b);
  if (json)
    nfn_cli_print_json (b);
  return 0;
}
