/* nfn-train-mask.c — winning-ticket mask search: `nfn zoo tickets`, `nfn train mask`,
 * `nfn mask`, `nfn eval-mask`.
 *
 * The data: a ticket zoo (data/nfn_ticket_zoo.h) pairs each MLP init with its one-shot IMP
 * mask at a sparsity s. The NFN (np|hnp|pointwise, WEIGHTS output, one channel) maps an init
 * (each tensor standardised by the training zoo's statistics) to one logit per weight; it is
 * trained with the class-balanced binary cross-entropy against the IMP mask
 * (nfn_ticket_mask_loss), balanced per layer by default (--balance global: one weight for all).
 *
 * Selecting a mask from the logits ("keep the top (1 − s) scores"): by default within each
 * layer, with the layer budgets the training zoo's IMP masks have on average
 * (nfn_ticket_layer_budget: they add up to round((1 − s)·M) exactly); --selection global takes
 * the global top scores instead. Why: the logits of different layers are not on one scale — a
 * global cut takes whichever layer's logits run highest and starves the others (measured:
 * with a global cut, networks trained under the NFN's masks fell to 12–52 % on MNIST).
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
#include "nfn_trainer.h"
#include "nfn_zoo.h"

#define MASK_TASK "train-mask"
#define MASK_EVAL_TASK "eval-mask"
#define MASK_VAL_FRACTION 0.1
#define MASK_MODEL_TASK "mask"

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

/* ---- how a mask is selected from an NFN's scores (kept in the model file) ---- */

typedef struct {
  gboolean global;                  /* the global top scores, else per-layer budgets */
  double sparsity;                  /* of the training zoo */
  int L;
  double fraction[NFN_MAX_LAYERS];  /* the training zoo's IMP masks: kept fraction of W_i */
} MaskSelection;

/* masks (B, C = 1) from scores (B, C = 1) at `sparsity`. */
static nfn_status
mask_select (const MaskSelection *sel, double sparsity, const nfn_feature *scores, nfn_feature *masks)
{
  if (sel->global)
    return nfn_ticket_mask_top (scores, nfn_ticket_keep_count (&scores->space, sparsity), 0, masks);
  size_t keep[NFN_MAX_LAYERS];
  nfn_status status = nfn_ticket_layer_budget (&scores->space, sel->fraction, sparsity, keep);
  return status == NFN_OK ? nfn_ticket_mask_top_layers (scores, keep, 0, masks) : status;
}

static void
mask_selection_build_json (JsonBuilder *b, const MaskSelection *sel)
{
  char text[G_ASCII_DTOSTR_BUF_SIZE];
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "selection");
  json_builder_add_string_value (b, sel->global ? "global" : "layer");
  json_builder_set_member_name (b, "sparsity");
  json_builder_add_string_value (b, g_ascii_formatd (text, sizeof text, "%.12g", sel->sparsity));
  json_builder_set_member_name (b, "layer_fractions");
  json_builder_begin_array (b);
  for (int i = 0; i < sel->L; i++)
    json_builder_add_string_value (b, g_ascii_formatd (text, sizeof text, "%.12g", sel->fraction[i]));
  json_builder_end_array (b);
  json_builder_end_object (b);
}

static gboolean
mask_selection_from_json_node (JsonNode *node, int L, MaskSelection *sel, const char *label, GError **error)
{
  memset (sel, 0, sizeof *sel);
  JsonObject *o = node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  JsonNode *fractions = o ? json_object_get_member (o, "layer_fractions") : NULL;
  JsonArray *array = fractions && JSON_NODE_HOLDS_ARRAY (fractions) ? json_node_get_array (fractions) : NULL;
  const char *selection = o && json_object_has_member (o, "selection") ? json_object_get_string_member (o, "selection") : NULL;
  const char *sparsity = o && json_object_has_member (o, "sparsity") ? json_object_get_string_member (o, "sparsity") : NULL;
  gboolean ok = array && json_array_get_length (array) == (guint) L && selection && sparsity
                && (strcmp (selection, "global") == 0 || strcmp (selection, "layer") == 0);
  if (ok)
    {
      sel->global = strcmp (selection, "global") == 0;
      sel->L = L;
      sel->sparsity = g_ascii_strtod (sparsity, NULL);
      ok = sel->sparsity >= 0 && sel->sparsity < 1;
      double sum = 0;
      for (int i = 0; ok && i < L; i++)
        {
          JsonNode *v = json_array_get_element (array, (guint) i);
          ok = JSON_NODE_HOLDS_VALUE (v) && json_node_get_value_type (v) == G_TYPE_STRING;
          if (ok)
            sel->fraction[i] = g_ascii_strtod (json_node_get_string (v), NULL);
          ok = ok && sel->fraction[i] >= 0 && sel->fraction[i] <= 1;
          sum += ok ? sel->fraction[i] : 0;
        }
      ok = ok && sum > 0;
    }
  if (!ok)
    nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label,
                        "nfn.extra's \"ticket\" is not {\"selection\": \"layer\"|\"global\", \"sparsity\", \"layer_fractions\": [%d]}",
                        L);
  return ok;
}

/* A mask model's extra: the input norm and the selection. */
static char *
mask_extra_json (const NfnTrainerNorm *norm, const MaskSelection *sel)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  if (norm->n_tensors > 0)
    {
      json_builder_set_member_name (b, "input_norm");
      nfn_trainer_norm_build_json (b, norm);
    }
  json_builder_set_member_name (b, "ticket");
  mask_selection_build_json (b, sel);
  json_builder_end_object (b);
  return nfn_json_builder_to_text (b, FALSE);
}

/* A loaded mask model: refuses other tasks and outputs; fills the norm and the selection. */
static gboolean
mask_model_check (const nfn_model *model, const NfnModelFileInfo *info, const char *label, NfnTrainerNorm *norm,
                  MaskSelection *sel, GError **error)
{
  const nfn_model_config *cfg = nfn_model_get_config (model);
  memset (norm, 0, sizeof *norm);
  if (g_strcmp0 (info->task, MASK_MODEL_TASK) != 0 || cfg->output != NFN_MODEL_OUT_WEIGHTS || cfg->out_channels != 1)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, label, "a %s model, not a mask model (train one with nfn train mask)",
                          info->task ? info->task : "?");
      return FALSE;
    }
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!info->extra_json || !json_parser_load_from_data (parser, info->extra_json, -1, NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "nfn.extra is missing or not a JSON object");
      return FALSE;
    }
  JsonObject *o = json_node_get_object (json_parser_get_root (parser));
  if (json_object_has_member (o, "input_norm")
      && !nfn_trainer_norm_from_json_node (json_object_get_member (o, "input_norm"), &cfg->space, norm, label, error))
    return FALSE;
  return mask_selection_from_json_node (json_object_get_member (o, "ticket"), cfg->space.L, sel, label, error);
}

/* scores (B, C = 1) of raw inits (B, C = 1), batch by batch of the model's max_batch. */
static nfn_status
mask_model_scores (nfn_model *model, const NfnTrainerNorm *norm, const nfn_feature *inits, nfn_feature *scores)
{
  const nfn_space *s = &inits->space;
  int max_batch = nfn_model_get_config (model)->max_batch;
  nfn_feature one, batch;
  nfn_status status = nfn_feature_alloc (&one, s, 1, 1);
  if (status != NFN_OK)
    return status;
  if ((status = nfn_feature_alloc (&batch, s, MIN (max_batch, inits->B), 1)) != NFN_OK)
    {
      nfn_feature_free (&one);
      return status;
    }
  for (int first = 0; first < inits->B && status == NFN_OK; first += max_batch)
    {
      int B = MIN (max_batch, inits->B - first);
      nfn_feature view;
      nfn_feature_wrap (&view, s, B, 1, batch.data);
      for (int b = 0; b < B; b++)
        {
          nfn_feature_get_network (inits, first + b, &one);
          nfn_feature_set_network (&view, b, &one);
        }
      nfn_trainer_norm_apply (norm, &view);
      const nfn_feature *out;
      if ((status = nfn_model_forward_weights (model, &view, 0, &out)) != NFN_OK)
        break;
      for (int b = 0; b < B; b++)
        {
          nfn_feature_get_network (out, b, &one);
          nfn_feature_set_network (scores, first + b, &one);
        }
    }
  nfn_feature_free (&one);
  nfn_feature_free (&batch);
  return status;
}

/* Trains copies of `inits` under `masks` as the ticket zoo's recipe does, then measures them on
 * `measure`: accuracy (B). */
static gboolean
mask_train_accuracy (const nfn_arch *arch, const nfn_feature *inits, const nfn_feature *masks, const guint64 *ids,
                     const NfnTicketZooSettings *ticket, const nfn_ticket_data *train, const nfn_ticket_data *measure,
                     int threads, volatile int *cancel, float *accuracy, GError **error)
{
  nfn_feature work;
  if (nfn_feature_alloc (&work, &inits->space, inits->B, 1) != NFN_OK)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_IO, "train: out of memory for %d networks", inits->B);
      return FALSE;
    }
  memcpy (work.data, inits->data, work.size * sizeof (float));
  nfn_ticket_train_options opt;
  nfn_ticket_zoo_train_options (ticket, &opt);
  opt.threads = threads;
  opt.cancel = cancel;
  nfn_status status = nfn_ticket_train (arch, &work, masks, train, ids, &opt);
  if (status == NFN_OK)
    status = nfn_ticket_accuracy (arch, &work, measure, threads, accuracy);
  nfn_feature_free (&work);
  if (status == NFN_ERR_CANCELLED)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "train: cancelled");
  else if (status != NFN_OK)
    g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_IO, "train: masked training failed: %s", nfn_status_message (status));
  return status == NFN_OK;
}

static double
mask_mean (const float *x, int n, double *std)
{
  double sum = 0, sq = 0;
  for (int k = 0; k < n; k++)
    sum += x[k];
  double mean = n > 0 ? sum / n : NAN;
  for (int k = 0; k < n; k++)
    sq += (x[k] - mean) * (x[k] - mean);
  if (std)
    *std = n > 1 ? sqrt (sq / (n - 1)) : 0;
  return mean;
}

/* ---- sets of (init, mask) pairs ---- */

typedef struct {
  NfnTrainerSet set;            /* networks: inits (standardised when asked); targets: masks, (N, P) flat */
  nfn_feature raw;              /* the first n_eval inits as they are, for masked training */
  guint64 *ids;                 /* (n_eval): their zoo indices (minibatch orders) */
  int n_eval;
  NfnTicketZooSettings ticket;  /* of the zoo they come from */
  nfn_arch arch;
} MaskSet;

static void
mask_set_clear (MaskSet *ms)
{
  nfn_trainer_set_clear (&ms->set);
  nfn_feature_free (&ms->raw);
  g_free (ms->ids);
  nfn_ticket_zoo_settings_clear (&ms->ticket);
  memset (ms, 0, sizeof *ms);
}

/* Networks [first, last) of a ticket zoo; the first n_eval keep a raw copy. */
static gboolean
mask_set_load (NfnZooDir *zoo, gint64 first, gint64 last, int n_eval, MaskSet *ms, GError **error)
{
  memset (ms, 0, sizeof *ms);
  nfn_feature masks = { 0 };
  if (!nfn_ticket_zoo_settings_from_zoo (zoo, &ms->ticket, error))
    return FALSE;
  ms->arch = nfn_zoo_dir_settings (zoo)->arch;
  if (nfn_zoo_dir_available (zoo) < last)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, nfn_zoo_dir_path (zoo),
                          "the zoo is not finished (%" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " networks; run its nfn zoo tickets again)",
                          nfn_zoo_dir_available (zoo), nfn_zoo_dir_count (zoo));
      return FALSE;
    }
  if (!nfn_zoo_dir_load_range (zoo, first, last, &ms->set.networks, NULL, NULL, error)
      || !nfn_ticket_zoo_load_masks (zoo, first, last, &masks, error))
    {
      mask_set_clear (ms);
      return FALSE;
    }
  int N = ms->set.networks.B;
  const nfn_space *s = &ms->set.networks.space;
  ms->set.target_dim = (int) nfn_flatten_dim (s, 1);
  ms->set.targets = g_new (float, (gsize) N * ms->set.target_dim);
  nfn_flatten_forward (&masks, ms->set.targets);
  nfn_feature_free (&masks);
  ms->set.source = g_new (gint64, N);
  for (int k = 0; k < N; k++)
    ms->set.source[k] = first + k;
  ms->n_eval = MIN (n_eval, N);
  if (ms->n_eval > 0)
    {
      nfn_feature one = { 0 };
      if (nfn_feature_alloc (&ms->raw, s, ms->n_eval, 1) != NFN_OK || nfn_feature_alloc (&one, s, 1, 1) != NFN_OK)
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_IO, nfn_zoo_dir_path (zoo), "out of memory");
          mask_set_clear (ms);
          return FALSE;
        }
      ms->ids = g_new (guint64, ms->n_eval);
      for (int k = 0; k < ms->n_eval; k++)
        {
          nfn_feature_get_network (&ms->set.networks, k, &one);
          nfn_feature_set_network (&ms->raw, k, &one);
          ms->ids[k] = (guint64) (first + k);
        }
      nfn_feature_free (&one);
    }
  return TRUE;
}

/* Masks of a set's rows: targets (N, P) → a (N, C = 1) feature. */
static void
mask_unflatten (const float *rows, nfn_feature *feature)
{
  memset (feature->data, 0, feature->size * sizeof (float));
  nfn_flatten_backward (rows, feature);
}

/* ---- the task the shared trainer runs ---- */

typedef struct {
  nfn_model *model;
  nfn_space space;
  double pos_weight[NFN_MAX_LAYERS];
  MaskSelection selection;
  const NfnTicketData *data;
  const MaskSet *val, *test;
  int threads;
  volatile int *cancel;
  float *batch_masks, *batch_grad; /* a (max_batch, C = 1) feature's floats each */
} MaskTask;

static nfn_status
mask_task_train_step (gpointer self, const nfn_feature *inputs, const int *labels, const float *targets, nfn_adam *opt,
                      double *loss)
{
  MaskTask *t = self;
  nfn_feature masks, grad;
  nfn_feature_wrap (&masks, &t->space, inputs->B, 1, t->batch_masks);
  nfn_feature_wrap (&grad, &t->space, inputs->B, 1, t->batch_grad);
  mask_unflatten (targets, &masks);
  const nfn_feature *out;
  nfn_status status = nfn_model_forward_weights (t->model, inputs, 1, &out);
  if (status == NFN_OK)
    status = nfn_ticket_mask_loss (out, &masks, t->pos_weight, loss, &grad);
  if (status == NFN_OK)
    status = nfn_model_backward_weights (t->model, &grad);
  if (status == NFN_OK)
    nfn_model_adam_step (t->model, opt);
  return status;
}

static nfn_status
mask_task_predict (gpointer self, const nfn_feature *inputs, float *outputs)
{
  MaskTask *t = self;
  const nfn_feature *out;
  nfn_status status = nfn_model_forward_weights (t->model, inputs, 0, &out);
  if (status == NFN_OK)
    nfn_flatten_forward (out, outputs);
  return status;
}

/* loss, IoU with the IMP masks, and (for sets with raw inits) the accuracy of networks trained
 * under the predicted masks: on the val part for validation, the test part for the test set. */
static gboolean
mask_task_score (gpointer self, const NfnTrainerSet *set, const float *outputs, NfnTrainerMetrics *metrics,
                 GError **error)
{
  MaskTask *t = self;
  int N = nfn_trainer_set_size (set);
  nfn_feature scores = { 0 }, imp = { 0 }, predicted = { 0 };
  if (nfn_feature_alloc (&scores, &t->space, N, 1) != NFN_OK || nfn_feature_alloc (&imp, &t->space, N, 1) != NFN_OK
      || nfn_feature_alloc (&predicted, &t->space, N, 1) != NFN_OK)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_IO, "train: out of memory scoring %d networks", N);
      nfn_feature_free (&scores);
      nfn_feature_free (&imp);
      return FALSE;
    }
  mask_unflatten (outputs, &scores);
  mask_unflatten (set->targets, &imp);
  double loss = NAN, iou = 0;
  nfn_status status = nfn_ticket_mask_loss (&scores, &imp, t->pos_weight, &loss, NULL);
  if (status == NFN_OK)
    status = mask_select (&t->selection, t->selection.sparsity, &scores, &predicted);
  gboolean ok = status == NFN_OK;
  if (!ok)
    g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_NONFINITE, "train: the predicted masks cannot be scored: %s",
                 nfn_status_message (status));
  for (int k = 0; ok && k < N; k++)
    iou += nfn_ticket_mask_iou (&predicted, &imp, k) / N;
  if (ok)
    {
      nfn_trainer_metrics_add (metrics, "loss", loss);
      nfn_trainer_metrics_add (metrics, "iou", iou);
    }
  const MaskSet *ms = set == &t->val->set ? t->val : t->test && set == &t->test->set ? t->test : NULL;
  if (ok && ms && ms->n_eval > 0)
    {
      nfn_feature eval_masks = { 0 }, one = { 0 };
      ok = nfn_feature_alloc (&eval_masks, &t->space, ms->n_eval, 1) == NFN_OK;
      ok = ok && nfn_feature_alloc (&one, &t->space, 1, 1) == NFN_OK;
      for (int k = 0; ok && k < ms->n_eval; k++)
        {
          nfn_feature_get_network (&predicted, k, &one);
          nfn_feature_set_network (&eval_masks, k, &one);
        }
      g_autofree float *accuracy = g_new (float, ms->n_eval);
      const nfn_ticket_data *measure = ms == t->val ? &t->data->val : &t->data->test;
      ok = ok && mask_train_accuracy (&ms->arch, &ms->raw, &eval_masks, ms->ids, &ms->ticket, &t->data->train, measure,
                                      t->threads, t->cancel, accuracy, error);
      if (ok)
        nfn_trainer_metrics_add (metrics, "masked_accuracy", mask_mean (accuracy, ms->n_eval, NULL));
      nfn_feature_free (&eval_masks);
      nfn_feature_free (&one);
    }
  nfn_feature_free (&scores);
  nfn_feature_free (&imp);
  nfn_feature_free (&predicted);
  return ok;
}

/* Each network of the batch gets its own random hidden-neuron permutation, and its target mask
 * the same one (the mask of σ·init is σ·mask: the task is equivariant). */
static void
mask_task_augment (gpointer self, nfn_feature *inputs, float *targets, gsl_rng *rng)
{
  MaskTask *t = self;
  size_t P = nfn_flatten_dim (&t->space, 1);
  nfn_perm perm;
  nfn_feature one = { 0 }, moved = { 0 };
  if (nfn_perm_alloc (&perm, &t->space) != NFN_OK)
    return;
  if (nfn_feature_alloc (&one, &t->space, 1, 1) != NFN_OK || nfn_feature_alloc (&moved, &t->space, 1, 1) != NFN_OK)
    {
      nfn_feature_free (&one);
      nfn_perm_free (&perm);
      return;
    }
  for (int b = 0; b < inputs->B; b++)
    {
      nfn_perm_random (&perm, NFN_SYM_HNP, rng);
      nfn_feature_get_network (inputs, b, &one);
      nfn_perm_apply (&perm, &one, &moved);
      nfn_feature_set_network (inputs, b, &moved);
      mask_unflatten (targets + (size_t) b * P, &one);
      nfn_perm_apply (&perm, &one, &moved);
      nfn_flatten_forward (&moved, targets + (size_t) b * P);
    }
  nfn_feature_free (&one);
  nfn_feature_free (&moved);
  nfn_perm_free (&perm);
}

/* ---- nfn train mask: settings and their JSON (the run's config) ---- */

typedef struct {
  char *zoo, *val, *test, *out; /* absolute paths; val, test may be NULL */
  char *model_name;
  gboolean augment, normalize, balance_global, select_global;
  int epochs, batch, val_train;
  double lr, weight_decay;
  gint64 warmup, seed;
  nfn_model_config model;
} MaskSettings;

static void
mask_settings_clear (MaskSettings *s)
{
  g_free (s->zoo);
  g_free (s->val);
  g_free (s->test);
  g_free (s->out);
  g_free (s->model_name);
  memset (s, 0, sizeof *s);
}

static char *
mask_config_json (const MaskSettings *s)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  const char *strings[] = { "zoo", s->zoo, "val", s->val, "test", s->test, "out", s->out, "model", s->model_name,
                            "balance", s->balance_global ? "global" : "layer",
                            "selection", s->select_global ? "global" : "layer" };
  for (guint k = 0; k < G_N_ELEMENTS (strings); k += 2)
    {
      json_builder_set_member_name (b, strings[k]);
      if (strings[k + 1])
        json_builder_add_string_value (b, strings[k + 1]);
      else
        json_builder_add_null_value (b);
    }
  const char *flags[] = { "augment", "normalize" };
  const gboolean flag_values[] = { s->augment, s->normalize };
  for (guint k = 0; k < G_N_ELEMENTS (flags); k++)
    {
      json_builder_set_member_name (b, flags[k]);
      json_builder_add_boolean_value (b, flag_values[k]);
    }
  const char *ints[] = { "epochs", "batch", "val_train", "warmup", "seed" };
  const gint64 int_values[] = { s->epochs, s->batch, s->val_train, s->warmup, s->seed };
  for (guint k = 0; k < G_N_ELEMENTS (ints); k++)
    {
      json_builder_set_member_name (b, ints[k]);
      json_builder_add_int_value (b, int_values[k]);
    }
  char text[G_ASCII_DTOSTR_BUF_SIZE];
  json_builder_set_member_name (b, "lr");
  json_builder_add_string_value (b, g_ascii_formatd (text, sizeof text, "%.12g", s->lr));
  json_builder_set_member_name (b, "weight_decay");
  json_builder_add_string_value (b, g_ascii_formatd (text, sizeof text, "%.12g", s->weight_decay));
  json_builder_set_member_name (b, "nfn_model");
  nfn_model_config_build_json (b, &s->model);
  json_builder_end_object (b);
  return nfn_json_builder_to_text (b, FALSE);
}

static char *
mask_json_string (JsonObject *o, const char *name)
{
  JsonNode *node = json_object_get_member (o, name);
  if (!node || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return g_strdup (json_node_get_string (node));
}

/* The settings of run `run` (for --resume). */
static gboolean
mask_settings_from_run (const NfnRun *run, const char *db_path, MaskSettings *s, GError **error)
{
  g_autofree char *label = g_strdup_printf ("%s: run %" G_GINT64_FORMAT, db_path, run->id);
  if (g_strcmp0 (run->task, MASK_TASK) != 0)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, "%s is a %s run, not %s", label, run->task, MASK_TASK);
      return FALSE;
    }
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, run->config_json, -1, NULL) || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "%s: its config is not a JSON object", label);
      return FALSE;
    }
  JsonObject *o = json_node_get_object (json_parser_get_root (parser));
  const char *required[] = { "zoo", "model", "balance", "selection", "augment", "normalize", "epochs", "batch", "val_train",
                             "warmup", "seed", "lr", "weight_decay", "nfn_model" };
  for (guint k = 0; k < G_N_ELEMENTS (required); k++)
    if (!json_object_has_member (o, required[k]))
      {
        g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "%s: its config lacks \"%s\"", label, required[k]);
        return FALSE;
      }
  s->zoo = mask_json_string (o, "zoo");
  s->val = mask_json_string (o, "val");
  s->test = mask_json_string (o, "test");
  s->out = mask_json_string (o, "out");
  s->model_name = mask_json_string (o, "model");
  g_autofree char *balance = mask_json_string (o, "balance"), *selection = mask_json_string (o, "selection");
  g_autofree char *lr = mask_json_string (o, "lr"), *weight_decay = mask_json_string (o, "weight_decay");
  s->balance_global = g_strcmp0 (balance, "global") == 0;
  s->select_global = g_strcmp0 (selection, "global") == 0;
  s->augment = json_object_get_boolean_member (o, "augment");
  s->normalize = json_object_get_boolean_member (o, "normalize");
  s->epochs = (int) json_object_get_int_member (o, "epochs");
  s->batch = (int) json_object_get_int_member (o, "batch");
  s->val_train = (int) json_object_get_int_member (o, "val_train");
  s->warmup = json_object_get_int_member (o, "warmup");
  s->seed = json_object_get_int_member (o, "seed");
  s->lr = lr ? g_ascii_strtod (lr, NULL) : 0;
  s->weight_decay = weight_decay ? g_ascii_strtod (weight_decay, NULL) : 0;
  if (!s->zoo || !s->model_name || !lr || !weight_decay)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "%s: its config has no zoo, model or learning rate", label);
      return FALSE;
    }
  return nfn_model_config_from_json_node (json_object_get_member (o, "nfn_model"), &s->model, label, error);
}

/* ---- nfn train mask: the data ---- */

typedef struct {
  NfnZooDir *zoo;
  MaskSet train, val, test;
  gboolean val_carved;
  NfnTrainerNorm norm;
  NfnTicketData images;
  MaskSelection selection;
  double pos_weight[NFN_MAX_LAYERS];
} MaskData;

static void
mask_data_clear (MaskData *d)
{
  g_clear_pointer (&d->zoo, nfn_zoo_dir_free);
  mask_set_clear (&d->train);
  mask_set_clear (&d->val);
  mask_set_clear (&d->test);
  nfn_ticket_data_clear (&d->images);
  memset (d, 0, sizeof *d);
}

/* Another ticket zoo of the same MLP and sparsity (val or test): all its networks. */
static gboolean
mask_load_other (const char *path, const MaskSet *train, int n_eval, MaskSet *ms, GError **error)
{
  g_autoptr (NfnZooDir) zoo = nfn_zoo_dir_open (path, error);
  if (!zoo || !mask_set_load (zoo, 0, nfn_zoo_dir_count (zoo), n_eval, ms, error))
    return FALSE;
  if (!nfn_space_equal (&ms->arch.space, &train->arch.space) || ms->ticket.sparsity != train->ticket.sparsity
      || g_strcmp0 (ms->ticket.dataset, train->ticket.dataset) != 0)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_SHAPE, path,
                          "its tickets differ from the training zoo's (MLP widths, sparsity or data set)");
      return FALSE;
    }
  return TRUE;
}

static gboolean
mask_load (const MaskSettings *s, MaskData *d, GError **error)
{
  if (!(d->zoo = nfn_zoo_dir_open (s->zoo, error)))
    return FALSE;
  gint64 count = nfn_zoo_dir_count (d->zoo), train_count = count;
  if (!s->val)
    {
      gint64 held = MAX (1, (gint64) floor (count * MASK_VAL_FRACTION));
      if (count - held < 1)
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, s->zoo,
                              "too few networks (%" G_GINT64_FORMAT ") to carve a validation split; give --val", count);
          return FALSE;
        }
      train_count = count - held;
      d->val_carved = TRUE;
      if (!mask_set_load (d->zoo, train_count, count, s->val_train, &d->val, error))
        return FALSE;
    }
  if (!mask_set_load (d->zoo, 0, train_count, 0, &d->train, error))
    return FALSE;
  if (s->val && !mask_load_other (s->val, &d->train, s->val_train, &d->val, error))
    return FALSE;
  if (s->test && !mask_load_other (s->test, &d->train, s->val_train, &d->test, error))
    return FALSE;
  if (!nfn_ticket_data_load (d->train.ticket.dataset, d->train.ticket.train_limit, &d->images, error))
    return FALSE;
  /* the selection and the loss's balance come from the training zoo's IMP masks */
  nfn_feature masks;
  if (nfn_feature_alloc (&masks, &d->train.set.networks.space, d->train.set.networks.B, 1) != NFN_OK)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_IO, s->zoo, "out of memory");
      return FALSE;
    }
  mask_unflatten (d->train.set.targets, &masks);
  d->selection.global = s->select_global;
  d->selection.sparsity = d->train.ticket.sparsity;
  d->selection.L = masks.space.L;
  nfn_ticket_layer_fractions (&masks, d->selection.fraction);
  nfn_ticket_pos_weights (&masks, !s->balance_global, d->pos_weight);
  nfn_feature_free (&masks);
  if (s->normalize)
    {
      nfn_trainer_norm_fit (&d->norm, &d->train.set.networks);
      nfn_trainer_norm_apply (&d->norm, &d->train.set.networks);
      nfn_trainer_norm_apply (&d->norm, &d->val.set.networks);
      if (s->test)
        nfn_trainer_norm_apply (&d->norm, &d->test.set.networks);
    }
  return TRUE;
}

/* ---- nfn train mask: the end of a run ---- */

typedef struct {
  const MaskSettings *settings;
  const MaskData *data;
  nfn_model *model;
  NfnStore *store;
  char *saved_path;
} MaskFinish;

static void
mask_summary_metric (JsonBuilder *b, const char *name, const NfnTrainerMetrics *metrics, const char *metric)
{
  double value = nfn_trainer_metrics_get (metrics, metric);
  if (isnan (value))
    return;
  json_builder_set_member_name (b, name);
  json_builder_add_double_value (b, value);
}

static gboolean
mask_finish (const NfnTrainerReport *report, JsonBuilder *summary, gpointer user_data, GError **error)
{
  MaskFinish *f = user_data;
  g_autofree char *extra = mask_extra_json (&f->data->norm, &f->data->selection);
  NfnModelFileInfo info = { .task = MASK_MODEL_TASK, .extra_json = extra };
  g_autofree char *path = NULL;
  if (f->settings->out)
    path = g_strdup (f->settings->out);
  else
    {
      g_autofree char *dir = g_path_get_dirname (nfn_store_get_path (f->store));
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
      || !nfn_store_run_add_artifact (f->store, report->run_id, "model", path, "the best epoch's mask predictor (safetensors)", error))
    return FALSE;
  g_free (f->saved_path);
  f->saved_path = g_steal_pointer (&path);
  json_builder_set_member_name (summary, "model_file");
  json_builder_add_string_value (summary, f->saved_path);
  mask_summary_metric (summary, "val_iou", &report->val, "iou");
  mask_summary_metric (summary, "val_masked_accuracy", &report->val, "masked_accuracy");
  mask_summary_metric (summary, "test_iou", &report->test, "iou");
  mask_summary_metric (summary, "test_masked_accuracy", &report->test, "masked_accuracy");
  json_builder_set_member_name (summary, "val_carved_from_train");
  json_builder_add_boolean_value (summary, f->data->val_carved);
  json_builder_set_member_name (summary, "ticket");
  mask_selection_build_json (summary, &f->data->selection);
  return TRUE;
}

static volatile int mask_cancel_flag;

static void
mask_on_sigint (int signum)
{
  mask_cancel_flag = 1;
}

/* ---- nfn train mask ---- */

int
nfn_cli_train_mask (int argc, char **argv)
{
  g_autofree char *zoo = NULL, *val = NULL, *test = NULL, *model_name = NULL, *db = NULL, *out = NULL;
  g_autofree char *balance = NULL, *selection = NULL;
  int epochs = 20, batch = 8, channels = 16, depth = 3, fourier = 16, io_bands = 0, threads = 0, val_train = 32;
  double lr = 1e-3, weight_decay = 0.0, fourier_scale = 1.0;
  gint64 warmup = 50, seed = 0, resume = 0;
  gboolean augment = FALSE, json = FALSE, raw_weights = FALSE;
  GOptionEntry entries[] = {
    { "zoo", 0, 0, G_OPTION_ARG_FILENAME, &zoo, "training ticket zoo (nfn zoo tickets)", "ZOO" },
    { "val", 0, 0, G_OPTION_ARG_FILENAME, &val, "validation ticket zoo (default: the last 10 % of the training zoo)", "ZOO" },
    { "test", 0, 0, G_OPTION_ARG_FILENAME, &test, "test ticket zoo, evaluated with the best epoch's model", "ZOO" },
    { "model", 0, 0, G_OPTION_ARG_STRING, &model_name, "np|hnp|pointwise (default np; hnp only for small input widths)", "KIND" },
    { "epochs", 0, 0, G_OPTION_ARG_INT, &epochs, "passes over the training zoo (default 20)", "E" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, "networks per step (default 8)", "B" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "learning rate (default 1e-3)", "LR" },
    { "weight-decay", 0, 0, G_OPTION_ARG_DOUBLE, &weight_decay, "AdamW's decoupled weight decay (default 0)", "WD" },
    { "warmup", 0, 0, G_OPTION_ARG_INT64, &warmup, "linear warmup steps (default 50)", "W" },
    { "channels", 0, 0, G_OPTION_ARG_INT, &channels, "NF layer channels (default 16)", "C" },
    { "depth", 0, 0, G_OPTION_ARG_INT, &depth, "NF layers before the output layer (default 3)", "D" },
    { "fourier", 0, 0, G_OPTION_ARG_INT, &fourier, "Gaussian Fourier features m (2m channels; 0 = off; default 16)", "M" },
    { "fourier-scale", 0, 0, G_OPTION_ARG_DOUBLE, &fourier_scale, "std of the Fourier matrix (default 1)", "S" },
    { "io-bands", 0, 0, G_OPTION_ARG_INT, &io_bands, "NP/pointwise IO encoding bands (default 0 = off)", "K" },
    { "balance", 0, 0, G_OPTION_ARG_STRING, &balance, "class balance of the BCE: layer (default) or global", "HOW" },
    { "selection", 0, 0, G_OPTION_ARG_STRING, &selection, "mask selection: layer (default: the zoo's layer budgets) or global", "HOW" },
    { "val-train", 0, 0, G_OPTION_ARG_INT, &val_train, "validation inits trained under the predicted masks each epoch; the best epoch has the highest mean accuracy (default 32; 0: the highest IoU with IMP)", "N" },
    { "raw-weights", 0, 0, G_OPTION_ARG_NONE, &raw_weights, "feed the weights as they are (default: each tensor standardised by the training zoo)", NULL },
    { "augment", 0, 0, G_OPTION_ARG_NONE, &augment, "a random hidden-neuron permutation of every (init, mask) pair at every step", NULL },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "seed of the NFN's init and the shuffling (default 0)", "S" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "threads (default and maximum: the number of cores)", "T" },
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &db, "experiment store (default: the XDG data dir)", "PATH" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "the model file (default: models/run-ID.safetensors beside the store)", "MODEL" },
    { "resume", 0, 0, G_OPTION_ARG_INT64, &resume, "continue run RUN from its last checkpoint (takes its settings from the run)", "RUN" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "print the summary as JSON", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("— train an NFN that maps an MLP's init to its winning-ticket mask");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nfn_cli_parse (context, &argc, &argv))
    return 1;
  if (argc != 1)
    return nfn_cli_fail ("train mask: unexpected argument \"%s\" (see nfn train mask --help)", argv[1]);
  if (resume < 0)
    return nfn_cli_fail ("train mask: --resume needs a run id");
  if (resume > 0 && (zoo || val || test || model_name || out))
    return nfn_cli_fail ("train mask: --resume RUN takes the zoos, model and settings from the run; give only --db and --threads");

  g_autoptr (NfnStore) store = nfn_cli_open_store (db, FALSE);
  if (!store)
    return 1;
  g_autoptr (GError) error = NULL;
  MaskSettings settings = { 0 };
  MaskData data = { 0 };
  MaskTask mt = { 0 };
  MaskFinish finish = { 0 };
  NfnTrainerReport report = { 0 };
  nfn_model *model = NULL;
  int status = 1;
  g_autofree char *config_json = NULL;
  g_autoptr (NfnRun) run = NULL;

  if (resume > 0)
    {
      if (!(run = nfn_store_get_run (store, resume, &error))
          || !mask_settings_from_run (run, nfn_store_get_path (store), &settings, &error))
        goto done;
      if (run->status == NFN_RUN_RUNNING || run->status == NFN_RUN_COMPLETED)
        {
          status = nfn_cli_fail ("train mask: %s: run %" G_GINT64_FORMAT " is %s; only an interrupted, failed or cancelled run can resume",
                                 nfn_store_get_path (store), resume, nfn_run_status_name (run->status));
          goto done;
        }
      g_clear_pointer (&run, nfn_run_free);
      if (!mask_load (&settings, &data, &error))
        goto done;
      if (!nfn_space_equal (&settings.model.space, &data.train.set.networks.space))
        {
          nfn_data_set_error (&error, NFN_DATA_ERROR_SHAPE, settings.zoo, "the zoo no longer matches the run's model");
          goto done;
        }
    }
  else
    {
      if (!zoo)
        {
          status = nfn_cli_fail ("train mask: --zoo ZOO is required (make one with nfn zoo tickets)");
          goto done;
        }
      settings.model_name = g_strdup (model_name ? model_name : "np");
      nfn_model_kind kind;
      if (!nfn_model_kind_parse (settings.model_name, &kind)
          || (kind != NFN_MODEL_NP && kind != NFN_MODEL_HNP && kind != NFN_MODEL_POINTWISE))
        {
          status = nfn_cli_fail ("train mask: --model must be np, hnp or pointwise, not \"%s\"", settings.model_name);
          goto done;
        }
      if ((balance && strcmp (balance, "layer") != 0 && strcmp (balance, "global") != 0)
          || (selection && strcmp (selection, "layer") != 0 && strcmp (selection, "global") != 0))
        {
          status = nfn_cli_fail ("train mask: --balance and --selection take layer or global");
          goto done;
        }
      if (epochs < 1 || batch < 1 || !(lr > 0) || weight_decay < 0 || warmup < 0 || channels < 1 || depth < 1
          || depth > NFN_MODEL_MAX_DEPTH || fourier < 0 || io_bands < 0 || !(fourier_scale > 0) || seed < 0 || val_train < 0)
        {
          status = nfn_cli_fail ("train mask: an option is out of range (epochs, batch, channels, depth ≥ 1, depth ≤ %d,"
                                 " lr > 0, the rest ≥ 0)", NFN_MODEL_MAX_DEPTH);
          goto done;
        }
      settings.zoo = g_canonicalize_filename (zoo, NULL);
      settings.val = val ? g_canonicalize_filename (val, NULL) : NULL;
      settings.test = test ? g_canonicalize_filename (test, NULL) : NULL;
      settings.out = out ? g_canonicalize_filename (out, NULL) : NULL;
      settings.augment = augment;
      settings.normalize = !raw_weights;
      settings.balance_global = balance && strcmp (balance, "global") == 0;
      settings.select_global = selection && strcmp (selection, "global") == 0;
      settings.epochs = epochs;
      settings.batch = batch;
      settings.val_train = val_train;
      settings.lr = lr;
      settings.weight_decay = weight_decay;
      settings.warmup = warmup;
      settings.seed = seed;
      if (!mask_load (&settings, &data, &error))
        goto done;
      nfn_model_config *cfg = &settings.model;
      nfn_model_config_default (cfg, kind, &data.train.set.networks.space, 1);
      cfg->output = NFN_MODEL_OUT_WEIGHTS;
      cfg->out_channels = 1;
      cfg->out_scale = 0;
      cfg->n_head = 0;
      cfg->max_batch = batch;
      cfg->channels = channels;
      cfg->depth = depth;
      cfg->fourier_m = fourier;
      cfg->fourier_scale = fourier_scale;
      cfg->io_bands = kind == NFN_MODEL_HNP ? 0 : io_bands;
      if (nfn_model_config_check (cfg) != NFN_OK)
        {
          status = nfn_cli_fail ("train mask: these options do not make a valid %s model", settings.model_name);
          goto done;
        }
    }

  nfn_set_threads (nfn_cli_clamp_threads (threads));
  nfn_status st = nfn_model_new (&settings.model, (unsigned long) settings.seed, &model);
  if (st != NFN_OK)
    {
      status = nfn_cli_fail ("train mask: cannot build the %s model: %s (an hnp model of a wide input layer is too big;"
                             " use np)", settings.model_name, nfn_status_message (st));
      goto done;
    }
  size_t batch_floats = nfn_feature_size (&settings.model.space, settings.model.max_batch, 1);
  mt = (MaskTask) { .model = model, .space = settings.model.space, .selection = data.selection, .data = &data.images,
                    .val = &data.val, .test = data.test.set.networks.B > 0 ? &data.test : NULL,
                    .threads = nfn_cli_clamp_threads (threads), .cancel = &mask_cancel_flag,
                    .batch_masks = g_new (float, batch_floats), .batch_grad = g_new (float, batch_floats) };
  memcpy (mt.pos_weight, data.pos_weight, sizeof mt.pos_weight);
  NfnTrainerTask task = {
    .self = &mt, .output_dim = (int) nfn_flatten_dim (&settings.model.space, 1),
    .select_metric = settings.val_train > 0 ? "masked_accuracy" : "iou", .select_higher = TRUE,
    .params = nfn_model_params (model), .adam_m = nfn_model_adam_m (model), .adam_v = nfn_model_adam_v (model),
    .n_params = nfn_model_param_count_all (model), .n_trainable = nfn_model_param_count (model),
    .rng = nfn_model_rng (model), .train_step = mask_task_train_step, .predict = mask_task_predict,
    .score = mask_task_score, .augment = settings.augment ? mask_task_augment : NULL,
  };
  config_json = mask_config_json (&settings);
  NfnCliTrainDisplay display;
  nfn_cli_train_display_init (&display, settings.val_train > 0 ? "masked accuracy" : "IoU", settings.val_train > 0);
  finish = (MaskFinish) { &settings, &data, model, store, NULL };
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
  options.task_name = MASK_TASK;
  options.model_name = settings.model_name;
  options.config_json = config_json;
  options.resume_run = resume;
  options.progress = nfn_cli_train_progress;
  options.user_data = &display;
  options.cancel = &mask_cancel_flag;
  options.finish = mask_finish;
  options.finish_data = &finish;
  display.header = g_strdup_printf ("train mask: %s on %d (init, mask) pairs (%s), val %d%s (%d trained per epoch), test %d,"
                                    " %zu parameters, sparsity %.3g, %s selection%s",
                                    settings.model_name, nfn_trainer_set_size (&data.train.set), settings.zoo,
                                    nfn_trainer_set_size (&data.val.set), data.val_carved ? " (the last 10 % of the training zoo)" : "",
                                    data.val.n_eval, nfn_trainer_set_size (&data.test.set), nfn_model_param_count (model),
                                    data.selection.sparsity, data.selection.global ? "global" : "per-layer",
                                    resume > 0 ? ", resumed" : "");
  struct sigaction action = { .sa_handler = mask_on_sigint, .sa_flags = SA_RESETHAND };
  sigemptyset (&action.sa_mask);
  sigaction (SIGINT, &action, NULL);
  gboolean ok = nfn_trainer_run (&task, &data.train.set, &data.val.set, mt.test ? &data.test.set : NULL, &options, &report,
                                 &error);
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
      printf ("run %" G_GINT64_FORMAT ": %s, best epoch %d of %d, val IoU with IMP %.4f", report.run_id, settings.model_name,
              report.best_epoch, report.epochs_done, nfn_trainer_metrics_get (&report.val, "iou"));
      double masked = nfn_trainer_metrics_get (&report.val, "masked_accuracy");
      if (!isnan (masked))
        printf (", val masked accuracy %.2f %%", 100 * masked);
      if (report.test.n > 0)
        printf (", test IoU %.4f", nfn_trainer_metrics_get (&report.test, "iou"));
      printf ("\n%zu parameters, %s wall time; model %s\n", report.params, wall, finish.saved_path);
    }
  status = 0;

done:
  if (status != 0 && error)
    status = nfn_cli_fail_error (error);
  nfn_trainer_report_clear (&report);
  g_free (finish.saved_path);
  g_free (mt.batch_masks);
  g_free (mt.batch_grad);
  nfn_model_free (model);
  mask_data_clear (&data);
  mask_settings_clear (&settings);
  return status;
}

/* ---- nfn mask ---- */

int
nfn_cli_mask (int argc, char **argv)
{
  g_autofree char *out = NULL;
  double sparsity = -1;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "the mask file to write (safetensors, the init's tensor names)", "MASK" },
    { "sparsity", 0, 0, G_OPTION_ARG_DOUBLE, &sparsity, "fraction of weights pruned (default: the training zoo's)", "S" },
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
  g_autoptr (GError) error = NULL;
  NfnModelFileInfo info = { 0 };
  nfn_model *model = nfn_model_file_load (argv[1], 1, &info, &error);
  if (!model)
    return nfn_cli_fail_error (error);
  int status = 1;
  nfn_feature scores = { 0 }, masks = { 0 };
  NfnTrainerNorm norm;
  MaskSelection sel;
  g_autoptr (NfnNetwork) net = NULL, mask = NULL;
  if (!mask_model_check (model, &info, argv[1], &norm, &sel, &error) || !(net = nfn_network_load_spec (argv[2], &error)))
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
  nfn_status st;
  if (nfn_feature_alloc (&scores, space, 1, 1) != NFN_OK || nfn_feature_alloc (&masks, space, 1, 1) != NFN_OK)
    st = NFN_ERR_NOMEM;
  else if ((st = mask_model_scores (model, &norm, &net->weights, &scores)) == NFN_OK)
    st = mask_select (&sel, sparsity, &scores, &masks);
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
  nfn_network_set_metadata (mask, "nfn.mask.selection", sel.global ? "global top scores" : "top scores within each layer's budget");
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
  g_autofree char *zoo_path = NULL, *db = NULL;
  int count = 0, threads = 0, batch = 16;
  gint64 seed = 0;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "zoo", 0, 0, G_OPTION_ARG_FILENAME, &zoo_path, "held-out ticket zoo (other inits than the training zoo's: another --seed)", "ZOO" },
    { "count", 0, 0, G_OPTION_ARG_INT, &count, "its first N inits (default: all)", "N" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "seed of the random masks (default 0)", "S" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, "inits per NFN forward pass (default 16)", "B" },
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
  MaskSelection sel;
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
  if (!mask_model_check (model, &info, argv[1], &norm, &sel, &error) || !(zoo = nfn_zoo_dir_open (zoo_path, &error))
      || !nfn_ticket_zoo_settings_from_zoo (zoo, &ticket, &error))
    goto done;
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
  MaskSelection layer_sel = sel;
  layer_sel.global = FALSE;
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
      st = mask_select (&layer_sel, s, &scores, &masks[EVAL_RANDOM_LAYER]);
    }
  if (st == NFN_OK)
    st = nfn_ticket_mask_top_layers (&inits, budget, 1, &masks[EVAL_MAGNITUDE]);
  if (st == NFN_OK && (st = mask_model_scores (model, &norm, &inits, &scores)) == NFN_OK)
    st = mask_select (&sel, s, &scores, &masks[EVAL_NFN]);
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
  if ((run = nfn_store_run_begin (store, NULL, MASK_EVAL_TASK, nfn_model_kind_name (nfn_model_get_config (model)->kind),
                                  config_json, (guint64) seed, &error)) <= 0)
    goto done;

  accuracy = g_new (float, (gsize) EVAL_N * N);
  double mean[EVAL_N], std[EVAL_N], iou[EVAL_N];
  gboolean terminal = isatty (STDERR_FILENO);
  for (int m = 0; m < EVAL_N; m++)
    {
      float *acc = accuracy + (gsize) m * N;
      if (!mask_train_accuracy (arch, &inits, &masks[m], ids, &ticket, &images.train, &images.test, threads,
                                nfn_cli_zoo_catch_sigint (), acc, &error))
        break;
      signal (SIGINT, SIG_DFL);
      mean[m] = mask_mean (acc, (int) N, &std[m]);
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
  json_builder_add_string_value (b, sel.global ? "global" : "layer");
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
