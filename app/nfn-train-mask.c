/* nfn-train-mask.c — winning-ticket mask search: `nfn zoo tickets`, `nfn train mask` (the run
 * and the mask models' pieces are data/nfn_task_mask.c's), `nfn mask`, `nfn eval-mask`.
 *
 * The data: a ticket zoo (data/nfn_ticket_zoo.h) pairs each MLP init with its one-shot IMP
 * mask at a sparsity s. The NFN (np|hnp|pointwise, WEIGHTS output, one channel) maps an init
 * (each tensor standardised by the training zoo's statistics) to one logit per weight; it is
 * trained with the class-balanced binary cross-entropy against the IMP mask
 * (nfn_ticket_mask_loss), balanced per layer by default (--balance global: one weight for all).
 *
 * Selecting a mask from the logits ("keep the top (1 − s) scores"): --selection layer keeps the
 * top scores within each layer, with the layer budgets the training zoo's IMP masks have on
 * average (nfn_ticket_layer_budget: they add up to round((1 − s)·M) exactly); --selection
 * global takes the global top scores instead. Why: the logits of different layers are not on
 * one scale — a global cut takes whichever layer's logits run highest and starves the others
 * (measured: with a global cut, networks trained under the NFN's masks fell to 12–52 % on
 * MNIST). --selection spread (the default) keeps the layer budgets and spreads each over the
 * layer's rows and columns by the scores' expected counts (nfn_ticket_mask_spread). `nfn mask`
 * and `nfn eval-mask` take --selection too, to compare selections on one model without
 * training it again.
 *
 * Validation picks the best epoch by the mean accuracy, on the data set's val part, of networks
 * trained from --val-train validation inits under the predicted masks (--val-train 0: by the
 * mean IoU with the IMP masks). The test part only ever gives reported accuracies.
 *
 * Shape letters: N networks, B a batch, P scalars of one network, L layers.
 */
#include "nfn_json.h"
#include "nfn-cli.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nfn_datasets.h"
#include "nfn_layers.h"
#include "nfn_model_file.h"
#include "nfn_network.h"
#include "nfn_perm.h"
#include "nfn_ticket.h"
#include "nfn_ticket_zoo.h"
#include "nfn_task.h"
#include "nfn_trainer.h"
#include "nfn_zoo.h"

/* "32,32" → widths (1 … NFN_MAX_LAYERS − 1 of them, each in 1 … 4096). */
static gboolean
mask_parse_widths (const char *text, int *widths, int *count)
{
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  *count = 0;
  for (int k = 0; parts[k]; k++)
    {
      char *end;
      gint64 w = g_ascii_strtoll (parts[k], &end, 10);
      if (*end || end == parts[k] || w < 1 || w > 4096 || *count == NFN_MAX_LAYERS - 1)
        return FALSE;
      widths[(*count)++] = (int) w;
    }
  return *count > 0;
}

/* ---- nfn zoo tickets ---- */

static int
zoo_tickets_run (const NfnTicketZooSettings *settings, const char *out, const char *db, int threads)
{
  g_autoptr (NfnStore) store = nfn_cli_open_store (db, FALSE);
  if (!store)
    return 1;
  NfnCliZooDisplay display;
  nfn_cli_zoo_display_init (&display, settings->count, settings->shard_size, "tickets", "mean IMP accuracy", 100, "%");
  NfnZooFitCallbacks callbacks = { .threads = threads, .progress = nfn_cli_zoo_progress, .user_data = &display,
                                   .cancel = nfn_cli_zoo_catch_sigint (), .shard_done = nfn_cli_zoo_shard_done };
  NfnZooFitReport report;
  g_autoptr (GError) error = NULL;
  gboolean ok = nfn_ticket_zoo_build (settings, out, store, &callbacks, &report, &error);
  signal (SIGINT, SIG_DFL);
  if (display.terminal)
    fprintf (stderr, "\n");
  if (!ok)
    {
      return nfn_cli_fail_error (error);
    }
  /* the dense accuracies, for the line that says what pruning cost */
  g_autoptr (NfnZooDir) zoo = nfn_zoo_dir_open (out, &error);
  g_autofree float *dense = g_new (float, report.networks > 0 ? report.networks : 1);
  if (!zoo || (report.networks > 0 && !nfn_zoo_dir_load_metric (zoo, "dense_accuracy", 0, report.networks, dense, &error)))
    {
      return nfn_cli_fail_error (error);
    }
  NfnZooPsnrSummary dense_summary;
  nfn_zoo_psnr_summary (dense, (gsize) report.networks, &dense_summary);
  printf ("zoo %s: %" G_GINT64_FORMAT " tickets (%d shards already there), %" G_GINT64_FORMAT " made now in %.1f s"
          " (%.2f tickets/s, %d threads)\n",
          out, report.networks, report.shards_skipped, report.fitted, report.seconds,
          report.seconds > 0 ? report.fitted / report.seconds : 0.0, threads);
  printf ("test accuracy at sparsity %.3g: dense mean %.2f %%, IMP mean %.2f %% (min %.2f %%, max %.2f %%); run %" G_GINT64_FORMAT
          " in %s\n",
          settings->sparsity, 100 * dense_summary.mean, 100 * report.psnr.mean, 100 * report.psnr.min, 100 * report.psnr.max,
          report.run_id, nfn_store_get_path (store));
  return 0;
}

int
nfn_cli_zoo_tickets (int argc, char **argv)
{
  g_autofree char *dataset = NULL, *out = NULL, *db = NULL, *hidden = NULL;
  NfnTicketZooSettings settings;
  nfn_ticket_zoo_settings_init (&settings);
  int count = 0, threads = (int) g_get_num_processors (), shard_size = settings.shard_size, epochs = settings.epochs;
  int batch = settings.batch, train_limit = 0;
  double sparsity = settings.sparsity, lr = settings.lr;
  gint64 seed = 0;
  GOptionEntry entries[] = {
    { "dataset", 0, 0, G_OPTION_ARG_STRING, &dataset, "mnist (default) or fashion-mnist", "NAME" },
    { "count", 0, 0, G_OPTION_ARG_INT, &count, "networks (init, mask pairs)", "N" },
    { "sparsity", 0, 0, G_OPTION_ARG_DOUBLE, &sparsity, "fraction of weights pruned (default 0.95; biases are never pruned)", "S" },
    { "hidden", 0, 0, G_OPTION_ARG_STRING, &hidden, "hidden widths of the MLP (default 32,32: 784→32→32→10)", "W,W" },
    { "epochs", 0, 0, G_OPTION_ARG_INT, &epochs, "epochs of each training, dense and masked (default " G_STRINGIFY (NFN_TICKET_DEFAULT_EPOCHS) ")", "E" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, "minibatch (default " G_STRINGIFY (NFN_TICKET_DEFAULT_BATCH) ")", "B" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "Adam learning rate (default 2e-3)", "LR" },
    { "train-limit", 0, 0, G_OPTION_ARG_INT, &train_limit, "train on the first N images of the train part only (default: all)", "N" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "seed of the inits and minibatch orders (default 0; another seed gives held-out inits)", "S" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "networks trained at once, one per thread (default and maximum: the cores)", "T" },
    { "shard-size", 0, 0, G_OPTION_ARG_INT, &shard_size, "networks per shard (default " G_STRINGIFY (NFN_TICKET_ZOO_DEFAULT_SHARD_SIZE) ")", "K" },
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &db, "experiment store (default: the XDG data dir)", "PATH" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "the zoo directory (created, or resumed)", "ZOO" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
      "— train MLPs, prune them by global magnitude and retrain from the rewound init: (init, IMP mask) pairs in a resumable zoo");
  g_option_context_add_main_entries (context, entries, NULL);
  int status = 1;
  if (!nfn_cli_parse (context, &argc, &argv))
    ;
  else if (argc != 1)
    status = nfn_cli_fail ("zoo tickets: unexpected argument \"%s\" (see nfn zoo tickets --help)", argv[1]);
  else if (!out)
    status = nfn_cli_fail ("zoo tickets: --out ZOO is required");
  else if (count < 1 || threads < 1 || shard_size < 1 || seed < 0 || epochs < 1 || batch < 1 || !(lr > 0) || train_limit < 0
           || !(sparsity >= 0 && sparsity < 1))
    status = nfn_cli_fail ("zoo tickets: --count, --threads, --shard-size, --epochs, --batch must be ≥ 1, --seed and"
                           " --train-limit ≥ 0, --lr > 0, --sparsity in [0, 1)");
  else if (hidden && !mask_parse_widths (hidden, settings.hidden, &settings.n_hidden))
    status = nfn_cli_fail ("zoo tickets: --hidden takes widths in 1 … 4096 such as 32,32, not \"%s\"", hidden);
  else
    {
      if (dataset)
        g_free (settings.dataset), settings.dataset = g_strdup (dataset);
      settings.count = count;
      settings.seed = (guint64) seed;
      settings.shard_size = shard_size;
      settings.sparsity = sparsity;
      settings.epochs = epochs;
      settings.batch = batch;
      settings.lr = lr;
      settings.train_limit = train_limit;
      status = zoo_tickets_run (&settings, out, db, MIN (threads, (int) g_get_num_processors ()));
    }
  nfn_ticket_zoo_settings_clear (&settings);
  return status;
}

/* ---- nfn train mask ---- */

int
nfn_cli_train_mask (int argc, char **argv)
{
  NfnTaskOptions options;
  nfn_task_mask_defaults (&options);
  NfnCliTrainArgs args = { 0 };
  const NfnCliTrainSpec spec = {
    .entries = NFN_CLI_TRAIN_VAL_TEST | NFN_CLI_TRAIN_RESUME | NFN_CLI_TRAIN_WEIGHT_DECAY | NFN_CLI_TRAIN_FOURIER
               | NFN_CLI_TRAIN_RAW_WEIGHTS,
    .zoo_help = "training ticket zoo (nfn zoo tickets)",
    .model_help = "np|hnp|pointwise (default np; hnp only for small input widths)",
    .out_help = "the model file (default: models/run-ID.safetensors beside the store)",
  };
  GOptionEntry entries[] = {
    { "balance", 0, 0, G_OPTION_ARG_STRING, &options.balance, "class balance of the BCE: layer (default) or global", "HOW" },
    { "selection", 0, 0, G_OPTION_ARG_STRING, &options.selection, "mask selection: spread (default: the zoo's layer budgets, spread over each layer's neurons by the scores), layer (top scores within the layer budgets) or global", "HOW" },
    { "val-train", 0, 0, G_OPTION_ARG_INT, &options.val_train, "validation inits trained under the predicted masks each epoch; the best epoch has the highest mean accuracy (default 32; 0: the highest IoU with IMP)", "N" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("— train an NFN that maps an MLP's init to its winning-ticket mask");
  GOptionGroup *group = nfn_cli_train_group (&spec, &options, &args);
  g_option_group_add_entries (group, entries);
  g_option_context_set_main_group (context, group);
  int status = 1;
  NfnTaskResult result = { 0 };
  g_autoptr (NfnStore) store = nfn_cli_train_open (context, "train mask", &spec, &options, &args, &argc, &argv);
  if (!store)
    goto done;
  gboolean masked = options.resume > 0 || options.val_train > 0;
  if (!nfn_cli_train_run (nfn_task_mask_run, &options, store, masked ? "masked accuracy" : "IoU", masked, &result))
    goto done;
  if (args.json)
    nfn_cli_train_print_summary_json (&result);
  else
    {
      const NfnTrainerReport *report = &result.report;
      g_autofree char *wall = nfn_cli_format_duration (report->seconds);
      printf ("run %" G_GINT64_FORMAT ": %s, best epoch %d of %d, val IoU with IMP %.4f", result.run_id, result.model_name,
              report->best_epoch, report->epochs_done, nfn_trainer_metrics_get (&report->val, "iou"));
      double masked_accuracy = nfn_trainer_metrics_get (&report->val, "masked_accuracy");
      if (!isnan (masked_accuracy))
        printf (", val masked accuracy %.2f %%", 100 * masked_accuracy);
      if (report->test.n > 0)
        printf (", test IoU %.4f", nfn_trainer_metrics_get (&report->test, "iou"));
      printf ("\n%zu parameters, %s wall time; model %s\n", report->params, wall, result.model_path);
    }
  status = 0;

done:
  nfn_cli_train_clear (&result, &options, &args);
  return status;
}

/* ---- nfn mask ---- */

int
nfn_cli_mask (int argc, char **argv)
{
  g_autofree char *out = NULL, *selection = NULL;
  double sparsity = -1;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "the mask file to write (safetensors, the init's tensor names)", "MASK" },
    { "sparsity", 0, 0, G_OPTION_ARG_DOUBLE, &sparsity, "fraction of weights pruned (default: the training zoo's)", "S" },
    { "selection", 0, 0, G_OPTION_ARG_STRING, &selection, "layer, global or spread (default: the model's)", "HOW" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("MODEL INIT -o MASK — the winning-ticket mask a mask model predicts for an init (a file or ZOO:IDX)");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nfn_cli_parse (context, &argc, &argv))
    return 1;
  if (argc != 3 || !out)
    return nfn_cli_fail ("mask: expected MODEL INIT -o MASK (see nfn mask --help)");
  if (sparsity != -1 && !(sparsity >= 0 && sparsity < 1))
    return nfn_cli_fail ("mask: --sparsity must be in [0, 1)");
  NfnTaskMaskSelect how;
  if (selection && !nfn_task_mask_select_parse (selection, &how))
    return nfn_cli_fail ("mask: --selection takes layer, global or spread, not \"%s\"", selection);
  g_autoptr (GError) error = NULL;
  NfnModelFileInfo info = { 0 };
  nfn_model *model = nfn_model_file_load (argv[1], 1, &info, &error);
  if (!model)
    return nfn_cli_fail_error (error);
  int status = 1;
  nfn_feature scores = { 0 }, masks = { 0 };
  NfnTrainerNorm norm;
  NfnTaskMaskSelection sel;
  g_autoptr (NfnNetwork) net = NULL, mask = NULL;
  if (!nfn_task_mask_model_check (model, &info, argv[1], &norm, &sel, &error) || !(net = nfn_network_load_spec (argv[2], &error)))
    goto done;
  const nfn_space *space = &nfn_model_get_config (model)->space;
  if (!nfn_space_equal (&net->arch.space, space) || net->arch.kind != NFN_NET_MLP)
    {
      status = nfn_cli_fail ("mask: %s: not an init of the MLP the model %s was trained on (its layer widths or kind differ)",
                             argv[2], argv[1]);
      goto done;
    }
  if (sparsity == -1)
    sparsity = sel.sparsity;
  if (selection)
    sel.how = how;
  nfn_status st;
  if (nfn_feature_alloc (&scores, space, 1, 1) != NFN_OK || nfn_feature_alloc (&masks, space, 1, 1) != NFN_OK)
    st = NFN_ERR_NOMEM;
  else if ((st = nfn_task_mask_model_scores (model, &norm, &net->weights, &scores)) == NFN_OK)
    st = nfn_task_mask_select (&sel, sparsity, &scores, &masks);
  if (st != NFN_OK)
    {
      status = nfn_cli_fail ("mask: %s: %s", argv[2], nfn_status_message (st));
      goto done;
    }
  /* the mask travels as a network of the init's names and shapes: 1 keeps, biases all 1 */
  mask = nfn_network_copy (net);
  memcpy (mask->weights.data, masks.data, masks.size * sizeof (float));
  char text[G_ASCII_DTOSTR_BUF_SIZE];
  size_t kept[NFN_MAX_LAYERS] = { 0 }, total = 0;
  for (int i = 1; i <= space->L; i++)
    {
      int t = nfn_tensor_weight (i);
      for (size_t e = 0; e < nfn_tensor_entries (space, t); e++)
        kept[i - 1] += masks.t[t][e] > 0.5f;
      total += kept[i - 1];
    }
  nfn_network_set_metadata (mask, "nfn.mask.model", argv[1]);
  nfn_network_set_metadata (mask, "nfn.mask.init", argv[2]);
  nfn_network_set_metadata (mask, "nfn.mask.sparsity", g_ascii_formatd (text, sizeof text, "%.12g", sparsity));
  nfn_network_set_metadata (mask, "nfn.mask.selection", nfn_task_mask_select_name (sel.how));
  if (!nfn_network_save (mask, out, &error))
    goto done;
  size_t M = nfn_ticket_weight_count (space);
  if (json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "mask");
      json_builder_add_string_value (b, out);
      json_builder_set_member_name (b, "sparsity");
      json_builder_add_double_value (b, sparsity);
      json_builder_set_member_name (b, "kept");
      json_builder_add_int_value (b, (gint64) total);
      json_builder_set_member_name (b, "weights");
      json_builder_add_int_value (b, (gint64) M);
      json_builder_set_member_name (b, "kept_per_layer");
      json_builder_begin_array (b);
      for (int i = 0; i < space->L; i++)
        json_builder_add_int_value (b, (gint64) kept[i]);
      json_builder_end_array (b);
      json_builder_end_object (b);
      nfn_cli_print_json (b);
    }
  else
    {
      printf ("%s: keeps %zu of %zu weights (sparsity %.4f), per layer", out, total, M, 1.0 - (double) total / M);
      for (int i = 0; i < space->L; i++)
        printf (" %zu/%zu", kept[i], nfn_tensor_entries (space, nfn_tensor_weight (i + 1)));
      printf ("; biases all kept\n");
    }
  status = 0;

done:
  if (status != 0 && error)
    status = nfn_cli_fail_error (error);
  nfn_feature_free (&scores);
  nfn_feature_free (&masks);
  nfn_model_free (model);
  nfn_model_file_info_clear (&info);
  return status;
}

/* ---- nfn eval-mask ---- */

enum { EVAL_RANDOM, EVAL_RANDOM_LAYER, EVAL_MAGNITUDE, EVAL_IMP, EVAL_NFN, EVAL_N };
static const char *const eval_names[EVAL_N] = { "random", "random_layer", "magnitude", "imp", "nfn" };
static const char *const eval_descriptions[EVAL_N] = {
  "uniformly random weights, same sparsity",
  "uniformly random within the NFN's layer budgets",
  "largest |init| within the NFN's layer budgets",
  "IMP (train, prune by magnitude, rewind)",
  "the NFN's predicted mask",
};

int
nfn_cli_eval_mask (int argc, char **argv)
{
  g_autofree char *zoo_path = NULL, *db = NULL, *selection = NULL;
  int count = 0, threads = 0, batch = 16;
  gint64 seed = 0;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "zoo", 0, 0, G_OPTION_ARG_FILENAME, &zoo_path, "held-out ticket zoo (other inits than the training zoo's: another --seed)", "ZOO" },
    { "count", 0, 0, G_OPTION_ARG_INT, &count, "its first N inits (default: all)", "N" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "seed of the random masks (default 0)", "S" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, "inits per NFN forward pass (default 16)", "B" },
    { "selection", 0, 0, G_OPTION_ARG_STRING, &selection, "the NFN mask's selection: layer, global or spread (default: the model's)", "HOW" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "threads (default and maximum: the number of cores)", "T" },
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &db, "experiment store (default: the XDG data dir)", "PATH" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
      "MODEL — train networks from held-out inits under random, IMP and NFN masks and compare their test accuracies");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nfn_cli_parse (context, &argc, &argv))
    return 1;
  if (argc != 2 || !zoo_path)
    return nfn_cli_fail ("eval-mask: expected MODEL --zoo ZOO (see nfn eval-mask --help)");
  if (count < 0 || batch < 1 || seed < 0)
    return nfn_cli_fail ("eval-mask: --count and --seed must be ≥ 0, --batch ≥ 1");
  NfnTaskMaskSelect how;
  if (selection && !nfn_task_mask_select_parse (selection, &how))
    return nfn_cli_fail ("eval-mask: --selection takes layer, global or spread, not \"%s\"", selection);
  threads = nfn_cli_clamp_threads (threads);
  nfn_set_threads (threads);

  g_autoptr (GError) error = NULL;
  NfnModelFileInfo info = { 0 };
  nfn_model *model = nfn_model_file_load (argv[1], batch, &info, &error);
  if (!model)
    return nfn_cli_fail_error (error);
  int status = 1;
  gint64 run = 0;
  NfnTrainerNorm norm;
  NfnTaskMaskSelection sel;
  NfnTicketZooSettings ticket = { 0 };
  NfnTicketData images = { 0 };
  nfn_feature inits = { 0 }, masks[EVAL_N], scores = { 0 };
  memset (masks, 0, sizeof masks);
  g_autoptr (NfnZooDir) zoo = NULL;
  g_autoptr (NfnStore) store = NULL;
  g_autofree guint64 *ids = NULL;
  g_autofree float *accuracy = NULL, *recorded = NULL;
  g_autoptr (JsonBuilder) config = json_builder_new (), b = json_builder_new ();
  g_autofree char *config_json = NULL, *summary = NULL;
  gint64 started = g_get_monotonic_time ();
  if (!nfn_task_mask_model_check (model, &info, argv[1], &norm, &sel, &error) || !(zoo = nfn_zoo_dir_open (zoo_path, &error))
      || !nfn_ticket_zoo_settings_from_zoo (zoo, &ticket, &error))
    goto done;
  if (selection)
    sel.how = how;
  const nfn_arch *arch = &nfn_zoo_dir_settings (zoo)->arch;
  const nfn_space *space = &arch->space;
  if (!nfn_space_equal (space, &nfn_model_get_config (model)->space))
    {
      status = nfn_cli_fail ("eval-mask: %s: its MLPs differ from those the model %s was trained on", zoo_path, argv[1]);
      goto done;
    }
  gint64 N = count > 0 ? MIN ((gint64) count, nfn_zoo_dir_count (zoo)) : nfn_zoo_dir_count (zoo);
  if (nfn_zoo_dir_available (zoo) < N)
    {
      nfn_data_set_error (&error, NFN_DATA_ERROR_UNSUPPORTED, zoo_path,
                          "the zoo is not finished (%" G_GINT64_FORMAT " networks; run its nfn zoo tickets again)",
                          nfn_zoo_dir_available (zoo));
      goto done;
    }
  if (!(store = nfn_cli_open_store (db, FALSE)))
    goto done;
  if (!nfn_zoo_dir_load_range (zoo, 0, N, &inits, NULL, NULL, &error)
      || !nfn_ticket_zoo_load_masks (zoo, 0, N, &masks[EVAL_IMP], &error)
      || !nfn_ticket_data_load (ticket.dataset, ticket.train_limit, &images, &error))
    goto done;
  recorded = g_new (float, N);
  if (!nfn_zoo_dir_load_metric (zoo, "imp_accuracy", 0, N, recorded, &error))
    goto done;
  ids = g_new (guint64, N);
  for (gint64 k = 0; k < N; k++)
    ids[k] = (guint64) k;
  for (int m = 0; m < EVAL_N; m++)
    if (m != EVAL_IMP && nfn_feature_alloc (&masks[m], space, (int) N, 1) != NFN_OK)
      {
        status = nfn_cli_fail ("eval-mask: out of memory for %" G_GINT64_FORMAT " masks", N);
        goto done;
      }
  if (nfn_feature_alloc (&scores, space, (int) N, 1) != NFN_OK)
    {
      status = nfn_cli_fail ("eval-mask: out of memory for %" G_GINT64_FORMAT " networks", N);
      goto done;
    }
  /* the masks; the layer budgets are the NFN's, at the held-out zoo's sparsity */
  double s = ticket.sparsity;
  size_t budget[NFN_MAX_LAYERS];
  NfnTaskMaskSelection layer_sel = sel;
  layer_sel.how = NFN_TASK_MASK_SELECT_LAYER;
  nfn_status st = nfn_ticket_layer_budget (space, sel.fraction, s, budget);
  if (st == NFN_OK)
    st = nfn_ticket_mask_random (&masks[EVAL_RANDOM], s, (guint64) seed, ids);
  if (st == NFN_OK)
    {
      gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
      gsl_rng_set (rng, (unsigned long) seed);
      for (size_t e = 0; e < scores.size; e++)
        scores.data[e] = (float) gsl_rng_uniform (rng);
      gsl_rng_free (rng);
      st = nfn_task_mask_select (&layer_sel, s, &scores, &masks[EVAL_RANDOM_LAYER]);
    }
  if (st == NFN_OK)
    st = nfn_ticket_mask_top_layers (&inits, budget, 1, &masks[EVAL_MAGNITUDE]);
  if (st == NFN_OK && (st = nfn_task_mask_model_scores (model, &norm, &inits, &scores)) == NFN_OK)
    st = nfn_task_mask_select (&sel, s, &scores, &masks[EVAL_NFN]);
  if (st != NFN_OK)
    {
      status = nfn_cli_fail ("eval-mask: %s: cannot make the masks: %s", zoo_path, nfn_status_message (st));
      goto done;
    }

  char text[G_ASCII_DTOSTR_BUF_SIZE];
  json_builder_begin_object (config);
  json_builder_set_member_name (config, "model");
  json_builder_add_string_value (config, argv[1]);
  json_builder_set_member_name (config, "zoo");
  json_builder_add_string_value (config, nfn_zoo_dir_path (zoo));
  json_builder_set_member_name (config, "count");
  json_builder_add_int_value (config, N);
  json_builder_set_member_name (config, "seed");
  json_builder_add_int_value (config, seed);
  json_builder_set_member_name (config, "sparsity");
  json_builder_add_string_value (config, g_ascii_formatd (text, sizeof text, "%.12g", s));
  json_builder_end_object (config);
  config_json = nfn_json_builder_to_text (config, FALSE);
  if ((run = nfn_store_run_begin (store, NULL, "eval-mask", nfn_model_kind_name (nfn_model_get_config (model)->kind),
                                  config_json, (guint64) seed, &error)) <= 0)
    goto done;

  accuracy = g_new (float, (gsize) EVAL_N * N);
  double mean[EVAL_N], std[EVAL_N], iou[EVAL_N];
  gboolean terminal = isatty (STDERR_FILENO);
  for (int m = 0; m < EVAL_N; m++)
    {
      float *acc = accuracy + (gsize) m * N;
      if (!nfn_task_mask_train_accuracy (arch, &inits, &masks[m], ids, &ticket, &images.train, &images.test, threads,
                                nfn_cli_zoo_catch_sigint (), acc, &error))
        break;
      signal (SIGINT, SIG_DFL);
      mean[m] = nfn_task_mean (acc, (int) N, &std[m]);
      iou[m] = 0;
      for (gint64 k = 0; k < N; k++)
        iou[m] += nfn_ticket_mask_iou (&masks[m], &masks[EVAL_IMP], (int) k) / N;
      g_autofree char *name = g_strdup_printf ("eval/%s_accuracy", eval_names[m]);
      const char *names[] = { name };
      for (gint64 k = 0; k < N && !error; k++)
        {
          double value = acc[k];
          nfn_store_run_log (store, run, k, 1, names, &value, &error);
        }
      if (error)
        break;
      fprintf (stderr, "%seval-mask: %-12s %.2f ± %.2f %% (%" G_GINT64_FORMAT " networks, %.0f s)%s", terminal ? "\r" : "",
               eval_names[m], 100 * mean[m], 100 * std[m], N, (g_get_monotonic_time () - started) / 1e6,
               terminal ? "   \n" : "\n");
    }
  signal (SIGINT, SIG_DFL);
  if (error)
    {
      nfn_store_run_finish (store, run, g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ? NFN_RUN_CANCELLED : NFN_RUN_FAILED,
                            NULL);
      goto done;
    }
  /* the zoo recorded each init's IMP accuracy: retraining the same init under the same mask
   * with the same minibatches must reproduce it */
  double imp_drift = 0;
  for (gint64 k = 0; k < N; k++)
    imp_drift = MAX (imp_drift, fabs (accuracy[(gsize) EVAL_IMP * N + k] - recorded[k]));
  double seconds = (g_get_monotonic_time () - started) / 1e6;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "networks");
  json_builder_add_int_value (b, N);
  json_builder_set_member_name (b, "sparsity");
  json_builder_add_double_value (b, s);
  json_builder_set_member_name (b, "selection");
  json_builder_add_string_value (b, nfn_task_mask_select_name (sel.how));
  json_builder_set_member_name (b, "masks");
  json_builder_begin_object (b);
  for (int m = 0; m < EVAL_N; m++)
    {
      json_builder_set_member_name (b, eval_names[m]);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "mean_accuracy");
      json_builder_add_double_value (b, mean[m]);
      json_builder_set_member_name (b, "std_accuracy");
      json_builder_add_double_value (b, std[m]);
      json_builder_set_member_name (b, "iou_with_imp");
      json_builder_add_double_value (b, iou[m]);
      json_builder_set_member_name (b, "description");
      json_builder_add_string_value (b, eval_descriptions[m]);
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
  json_builder_set_member_name (b, "imp_max_difference_from_zoo");
  json_builder_add_double_value (b, imp_drift);
  json_builder_set_member_name (b, "wall_seconds");
  json_builder_add_double_value (b, seconds);
  json_builder_end_object (b);
  summary = nfn_json_builder_to_text (b, FALSE);
  if (!nfn_store_run_set_summary (store, run, summary, &error) || !nfn_store_run_finish (store, run, NFN_RUN_COMPLETED, &error))
    goto done;
  if (json)
    {
      g_autoptr (JsonBuilder) out = json_builder_new ();
      json_builder_begin_object (out);
      json_builder_set_member_name (out, "run");
      json_builder_add_int_value (out, run);
      json_builder_set_member_name (out, "summary");
      json_builder_add_value (out, json_from_string (summary, NULL));
      json_builder_end_object (out);
      nfn_cli_print_json (out);
    }
  else
    {
      printf ("%s on %" G_GINT64_FORMAT " held-out inits of %s, sparsity %.3g: test accuracy after training under each mask\n",
              argv[1], N, zoo_path, s);
      for (int m = 0; m < EVAL_N; m++)
        printf ("  %-12s %6.2f ± %5.2f %%   IoU with IMP %.3f   (%s)\n", eval_names[m], 100 * mean[m], 100 * std[m], iou[m],
                eval_descriptions[m]);
      g_autofree char *wall = nfn_cli_format_duration (seconds);
      printf ("IMP retrained vs the zoo's record: max difference %.4f; run %" G_GINT64_FORMAT " in %s, %s\n", imp_drift, run,
              nfn_store_get_path (store), wall);
    }
  status = 0;

done:
  if (status != 0 && error)
    status = nfn_cli_fail_error (error);
  nfn_feature_free (&inits);
  nfn_feature_free (&scores);
  for (int m = 0; m < EVAL_N; m++)
    nfn_feature_free (&masks[m]);
  nfn_ticket_data_clear (&images);
  nfn_ticket_zoo_settings_clear (&ticket);
  nfn_model_free (model);
  nfn_model_file_info_clear (&info);
  return status;
}
