/* nfn-train-classify.c — `nfn train classify` (INR classification; the run is
 * data/nfn_task_classify.c's), `nfn predict`, `nfn eval`. */
#include "nfn_json.h"
#include "nfn-cli.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nfn_model_file.h"
#include "nfn_network.h"
#include "nfn_task.h"
#include "nfn_trainer.h"

/* ---- nfn train classify ---- */

int
nfn_cli_train_classify (int argc, char **argv)
{
  NfnTaskOptions options;
  nfn_task_classify_defaults (&options);
  NfnCliTrainArgs args = { 0 };
  const NfnCliTrainSpec spec = {
    .entries = NFN_CLI_TRAIN_VAL_TEST | NFN_CLI_TRAIN_RESUME | NFN_CLI_TRAIN_WEIGHT_DECAY | NFN_CLI_TRAIN_FOURIER
               | NFN_CLI_TRAIN_HEAD | NFN_CLI_TRAIN_RAW_WEIGHTS,
    .zoo_help = "training zoo (refit copies are extra examples)",
    .model_help = "np|hnp|pointwise|mlp|mlp-aug|stat (default np)",
    .out_help = "the model file (default: models/run-ID.safetensors beside the store)",
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("— train an NFN to classify INRs by their image's class");
  g_option_context_set_main_group (context, nfn_cli_train_group (&spec, &options, &args));
  int status = 1;
  NfnTaskResult result = { 0 };
  g_autoptr (NfnStore) store = nfn_cli_train_open (context, "train classify", &spec, &options, &args, &argc, &argv);
  if (!store || !nfn_cli_train_run (nfn_task_classify_run, &options, store, "accuracy", TRUE, &result))
    goto done;
  if (args.json)
    nfn_cli_train_print_summary_json (&result);
  else
    {
      const NfnTrainerReport *report = &result.report;
      g_autofree char *wall = nfn_cli_format_duration (report->seconds);
      printf ("run %" G_GINT64_FORMAT ": %s, best epoch %d of %d, val accuracy %.2f %%", result.run_id, result.model_name,
              report->best_epoch, report->epochs_done, 100 * nfn_trainer_metrics_get (&report->val, "accuracy"));
      if (report->test.n > 0)
        printf (", test accuracy %.2f %%", 100 * nfn_trainer_metrics_get (&report->test, "accuracy"));
      printf ("\n%zu parameters, %s wall time; model %s\n", report->params, wall, result.model_path);
    }
  status = 0;

done:
  nfn_cli_train_clear (&result, &options, &args);
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
  if (nfn_cli_is_spectral_model (argv[1])) /* no nfn_model: the spectral genpred baseline */
    return nfn_cli_predict_spectral (argv[1], argc - 2, argv + 2, json);
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
  if (!nfn_task_classify_norm_from_info (&info, &cfg->space, argv[1], &norm, &error))
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
  if (!nfn_task_classify_norm_from_info (&info, &cfg->space, argv[1], &norm, &error) || !nfn_task_classify_load_eval_zoo (zoo, &cfg->space, &set, &error))
    goto done;
  nfn_trainer_norm_apply (&norm, &set.networks);
  if (nfn_task_set_max_label (&set) >= K)
    {
      status = nfn_cli_fail ("eval: %s: labels up to %d, but the model %s knows %d classes", zoo, nfn_task_set_max_label (&set), argv[1], K);
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
      nfn_task_classify_build_confusion (b, logits, set.labels, N, K);
      json_builder_end_object (b);
      nfn_cli_print_json (b);
    }
  else
    {
      printf ("%s on %s: accuracy %.2f %% (%d networks), cross-entropy %.4f\n", argv[1], zoo, 100 * accuracy, N,
              nfn_trainer_metrics_get (&metrics, "loss"));
      /* rows: true class, columns: predicted */
      g_autofree gint64 *counts = nfn_task_classify_confusion (logits, set.labels, N, K);
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
