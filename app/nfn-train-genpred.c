/* nfn-train-genpred.c — predicting a CNN's generalization from its weights: `nfn zoo cnn`
 * builds the zoo of trained CNNs, `nfn train genpred` fits a predictor of each network's test
 * accuracy (the run is data/nfn_task_genpred.c's: NFN predictors and the spectral baseline),
 * and `nfn predict` (through nfn_cli_predict_genpred and nfn_cli_predict_spectral) applies one
 * to CNN files. */
#include "nfn_json.h"
#include "nfn-cli.h"

#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "nfn_cnn_zoo.h"
#include "nfn_model_file.h"
#include "nfn_network.h"
#include "nfn_network_text.h"
#include "nfn_task.h"
#include "nfn_trainer.h"
#include "nfn_zoo.h"

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
  nfn_cli_zoo_print_growth (out, &report);
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
/* ---- nfn train genpred ---- */

int
nfn_cli_train_genpred (int argc, char **argv)
{
  NfnTaskOptions options;
  nfn_task_genpred_defaults (&options);
  NfnCliTrainArgs args = { 0 };
  const NfnCliTrainSpec spec = {
    .entries = NFN_CLI_TRAIN_RESUME | NFN_CLI_TRAIN_WEIGHT_DECAY | NFN_CLI_TRAIN_FOURIER | NFN_CLI_TRAIN_HEAD
               | NFN_CLI_TRAIN_RAW_WEIGHTS,
    .zoo_help = "a CNN zoo (nfn zoo cnn); split 80/10/10 by training run into train/val/test",
    .model_help = "hnp|np|stat|spectral (default hnp)",
    .out_help = "the model file (default: models/run-ID.safetensors beside the store)",
  };
  GOptionGroup *group = nfn_cli_train_group (&spec, &options, &args);
  GOptionEntry entries[] = {
    { "split-seed", 0, 0, G_OPTION_ARG_INT64, &options.split_seed, "seed of the zoo's train/val/test split (default 0)", "S" },
    { "scatter", 0, 0, G_OPTION_ARG_FILENAME, &options.scatter,
      "the scatter PNG (default: figures/run-ID-scatter.png beside the store)", "PNG" },
    { NULL },
  };
  g_option_group_add_entries (group, entries);
  g_autoptr (GOptionContext) context = g_option_context_new ("— train a predictor of CNNs' test accuracy from their weights");
  g_option_context_set_main_group (context, group);
  /* GOption frees none of the defaults it replaces: --head would lose this one */
  char *head_default = options.head;
  int status = 1;
  NfnTaskResult result = { 0 };
  g_autoptr (NfnStore) store = nfn_cli_train_open (context, "train genpred", &spec, &options, &args, &argc, &argv);
  if (options.head != head_default)
    g_free (head_default);
  if (!store || nfn_cli_train_check_resume ("train genpred", options.resume, options.scatter != NULL)
      || !nfn_cli_train_run (nfn_task_genpred_run, &options, store, "tau", FALSE, &result))
    goto done;
  const NfnTrainerReport *report = &result.report;
  double test_tau = nfn_trainer_metrics_get (&report->test, "tau"), test_r2 = nfn_trainer_metrics_get (&report->test, "r2");
  double val_tau = nfn_trainer_metrics_get (&report->val, "tau");
  if (args.json)
    nfn_cli_train_print_summary_json (&result);
  else if (strcmp (result.model_name, "spectral") == 0)
    printf ("run %" G_GINT64_FORMAT ": spectral (least squares on per-layer alpha), test tau %.4f, R^2 %.4f"
            " (val tau %.4f); tau of -mean alpha %.4f\nmodel %s\nscatter %s\n", result.run_id, test_tau, test_r2, val_tau,
            nfn_trainer_metrics_get (&report->test, "tau_neg_alpha"), result.model_path, result.scatter_path);
  else
    {
      g_autofree char *wall = nfn_cli_format_duration (report->seconds);
      printf ("run %" G_GINT64_FORMAT ": %s, best epoch %d of %d, test tau %.4f, R^2 %.4f (val tau %.4f)\n"
              "%zu parameters, %s wall time; model %s\nscatter %s\n",
              result.run_id, result.model_name, report->best_epoch, report->epochs_done, test_tau, test_r2, val_tau,
              report->params, wall, result.model_path, result.scatter_path);
    }
  status = 0;

done:
  /* the run drew its scatter with cairo: drop cairo's and fontconfig's caches, so that leak
   * checkers see only what is really lost (as nfn render does; the data layer cannot: the GUI
   * shares them) */
  cairo_debug_reset_static_data ();
  FcFini ();
  nfn_cli_train_clear (&result, &options, &args);
  return status;
}

/* ---- nfn predict on genpred models ---- */

/* A genpred model of either kind as `nfn predict` applies it to one CNN at a time. */
typedef struct {
  const char *path;       /* the model file */
  const nfn_space *space; /* of the CNNs it was trained on */
  /* the predicted test accuracy of the CNN `weights` (1, C = 1), which it may change */
  nfn_status (*predict) (gpointer self, nfn_feature *weights, double *accuracy);
  gpointer self;
  const char *failure;    /* what a failed predict was doing, e.g. "spectral fit: " */
} GenpredPredictor;

/* Each NET's prediction, as JSON objects in an array or one line each; returns the exit status. */
static int
genpred_predict_networks (const GenpredPredictor *p, int n_nets, char **nets, gboolean json)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  for (int k = 0; k < n_nets; k++)
    {
      g_autoptr (NfnNetwork) net = nfn_network_load_spec (nets[k], &error);
      if (!net)
        return nfn_cli_fail_error (error);
      if (!nfn_space_equal (&net->arch.space, p->space))
        return nfn_cli_fail ("predict: %s: its layer shapes differ from those of the CNNs the model %s was trained on",
                             nets[k], p->path);
      double accuracy;
      nfn_status st = p->predict (p->self, &net->weights, &accuracy);
      if (st != NFN_OK)
        return nfn_cli_fail ("predict: %s: %s%s", nets[k], p->failure, nfn_status_message (st));
      if (json)
        {
          json_builder_begin_object (b);
          nfn_task_json_add_string (b, "network", nets[k]);
          nfn_task_json_add_number (b, "predicted_test_accuracy", accuracy);
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

typedef struct {
  nfn_model *model;
  NfnTrainerNorm norm; /* the training split's, identity without one */
} GenpredNfn;

static nfn_status
genpred_nfn_predict (gpointer self, nfn_feature *weights, double *accuracy)
{
  GenpredNfn *g = self;
  nfn_trainer_norm_apply (&g->norm, weights);
  const float *logit;
  nfn_status st = nfn_model_forward (g->model, weights, 0, &logit);
  *accuracy = st == NFN_OK ? 1 / (1 + exp (-(double) logit[0])) : NAN;
  return st;
}

int
nfn_cli_predict_genpred (nfn_model *model, const NfnModelFileInfo *info, const char *model_path, int n_nets,
                         char **nets, gboolean json)
{
  const nfn_model_config *cfg = nfn_model_get_config (model);
  g_autoptr (GError) error = NULL;
  if (cfg->n_out != 1 || cfg->output != NFN_MODEL_OUT_LOGITS)
    return nfn_cli_fail ("predict: %s: a genpred model with %d outputs (expected one logit)", model_path, cfg->n_out);
  GenpredNfn nfn = { .model = model };
  g_autoptr (JsonNode) extra = info->extra_json ? json_from_string (info->extra_json, NULL) : NULL;
  if (info->extra_json && (!extra || !JSON_NODE_HOLDS_OBJECT (extra)))
    return nfn_cli_fail ("predict: %s: nfn.extra is not a JSON object", model_path);
  JsonObject *o = extra ? json_node_get_object (extra) : NULL;
  if (o && json_object_has_member (o, "input_norm")
      && !nfn_trainer_norm_from_json_node (json_object_get_member (o, "input_norm"), &cfg->space, &nfn.norm, model_path,
                                           &error))
    return nfn_cli_fail_error (error);
  const GenpredPredictor predictor = { model_path, &cfg->space, genpred_nfn_predict, &nfn, "" };
  return genpred_predict_networks (&predictor, n_nets, nets, json);
}

gboolean
nfn_cli_is_spectral_model (const char *path)
{
  return nfn_task_genpred_is_spectral_model (path);
}

static nfn_status
genpred_spectral_predict (gpointer self, nfn_feature *weights, double *accuracy)
{
  return nfn_task_genpred_spectral_predict (self, weights, 0, accuracy);
}

int
nfn_cli_predict_spectral (const char *model_path, int n_nets, char **nets, gboolean json)
{
  g_autoptr (GError) error = NULL;
  NfnTaskSpectralModel spectral;
  if (!nfn_task_genpred_spectral_load (model_path, &spectral, &error))
    return nfn_cli_fail_error (error);
  const GenpredPredictor predictor = { model_path, &spectral.space, genpred_spectral_predict, &spectral, "spectral fit: " };
  return genpred_predict_networks (&predictor, n_nets, nets, json);
}
