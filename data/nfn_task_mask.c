/* nfn_task_mask.c — winning-ticket mask search: `nfn train mask` and the GUI's mask task, and
 * the mask models' pieces `nfn mask` and `nfn eval-mask` use.
 *
 * The data: a ticket zoo (data/nfn_ticket_zoo.h) pairs each MLP init with its one-shot IMP
 * mask at a sparsity s. The NFN (np|hnp|pointwise, WEIGHTS output, one channel) maps an init
 * (each tensor standardised by the training zoo's statistics) to one logit per weight; it is
 * trained with the class-balanced binary cross-entropy against the IMP mask
 * (nfn_ticket_mask_loss), balanced per layer by default (balance "global": one weight for all).
 *
 * Selecting a mask from the logits ("keep the top (1 − s) scores"): within each layer, with the
 * layer budgets the training zoo's IMP masks have on average (nfn_ticket_layer_budget: they add
 * up to round((1 − s)·M) exactly), by default spread over each layer's rows and columns by the
 * scores' expected counts (selection "spread", nfn_ticket_mask_spread), or plain top-k within
 * each layer ("layer"); selection "global" takes the global top scores instead. Why: the
 * logits of different layers are not on one scale — a global cut takes whichever layer's
 * logits run highest and starves the others (measured: with a global cut, networks trained
 * under the NFN's masks fell to 12–52 % on MNIST).
 *
 * Validation picks the best epoch by the mean accuracy, on the data set's val part, of networks
 * trained from val_train validation inits under the predicted masks (val_train 0: by the
 * mean IoU with the IMP masks). The test part only ever gives reported accuracies.
 *
 * Shape letters: N networks, B a batch, P scalars of one network, L layers.
 */
#include "nfn_json.h"
#include "nfn_task_private.h"

#include <math.h>
#include <string.h>

#include "nfn_datasets.h"
#include "nfn_layers.h"
#include "nfn_network.h"
#include "nfn_perm.h"
#include "nfn_ticket.h"
#include "nfn_ticket_zoo.h"
#include "nfn_zoo.h"

#define NFN_TASK_MASK_MODEL "mask"

void
nfn_task_mask_defaults (NfnTaskOptions *o)
{
  memset (o, 0, sizeof *o);
  o->epochs = 20;
  o->batch = 8;
  o->lr = 1e-3;
  o->warmup = 50;
  o->channels = 16;
  o->depth = 3;
  o->fourier = 16;
  o->fourier_scale = 1.0;
  o->val_train = 32;
  o->normalize = TRUE;
  /* measured on MNIST tickets (README): IO encoding lets the model tell pixels and classes
   * apart, and only the spread selection turns that into good masks (85.9 % against 84.1 % for
   * the plain model's top-k, 46 % for the IO model's top-k); o->selection NULL means
   * NFN_TASK_MASK_DEFAULT_SELECT */
  o->io_bands = 8;
}

/* ---- how a mask is selected from an NFN's scores (kept in the model file) ---- */

static const char *const mask_select_names[] = { "layer", "global", "spread" };

const char *
nfn_task_mask_select_name (NfnTaskMaskSelect how)
{
  return (unsigned) how < G_N_ELEMENTS (mask_select_names) ? mask_select_names[how] : "?";
}

gboolean
nfn_task_mask_select_parse (const char *name, NfnTaskMaskSelect *how)
{
  for (guint k = 0; name && k < G_N_ELEMENTS (mask_select_names); k++)
    if (strcmp (name, mask_select_names[k]) == 0)
      {
        *how = (NfnTaskMaskSelect) k;
        return TRUE;
      }
  return FALSE;
}

nfn_status
nfn_task_mask_select (const NfnTaskMaskSelection *sel, double sparsity, const nfn_feature *scores, nfn_feature *masks)
{
  if (sel->how == NFN_TASK_MASK_SELECT_GLOBAL)
    return nfn_ticket_mask_top (scores, nfn_ticket_keep_count (&scores->space, sparsity), 0, masks);
  size_t keep[NFN_MAX_LAYERS];
  nfn_status status = nfn_ticket_layer_budget (&scores->space, sel->fraction, sparsity, keep);
  if (status != NFN_OK)
    return status;
  if (sel->how == NFN_TASK_MASK_SELECT_SPREAD)
    return nfn_ticket_mask_spread (scores, keep, NFN_TASK_MASK_SPREAD_TEMPERATURE, masks);
  return nfn_ticket_mask_top_layers (scores, keep, 0, masks);
}

static void
mask_selection_build_json (JsonBuilder *b, const NfnTaskMaskSelection *sel)
{
  char text[G_ASCII_DTOSTR_BUF_SIZE];
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "selection");
  json_builder_add_string_value (b, nfn_task_mask_select_name (sel->how));
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
mask_selection_from_json_node (JsonNode *node, int L, NfnTaskMaskSelection *sel, const char *label, GError **error)
{
  memset (sel, 0, sizeof *sel);
  JsonObject *o = node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  JsonNode *fractions = o ? json_object_get_member (o, "layer_fractions") : NULL;
  JsonArray *array = fractions && JSON_NODE_HOLDS_ARRAY (fractions) ? json_node_get_array (fractions) : NULL;
  const char *selection = o && json_object_has_member (o, "selection") ? json_object_get_string_member (o, "selection") : NULL;
  const char *sparsity = o && json_object_has_member (o, "sparsity") ? json_object_get_string_member (o, "sparsity") : NULL;
  gboolean ok = array && json_array_get_length (array) == (guint) L && sparsity
                && nfn_task_mask_select_parse (selection, &sel->how);
  if (ok)
    {
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
                        "nfn.extra's \"ticket\" is not {\"selection\": \"layer\"|\"global\"|\"spread\", \"sparsity\","
                        " \"layer_fractions\": [%d]}",
                        L);
  return ok;
}

/* A mask model's extra: the input norm and the selection. */
static char *
mask_extra_json (const NfnTrainerNorm *norm, const NfnTaskMaskSelection *sel)
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
gboolean
nfn_task_mask_model_check (const nfn_model *model, const NfnModelFileInfo *info, const char *label, NfnTrainerNorm *norm,
                           NfnTaskMaskSelection *sel, GError **error)
{
  const nfn_model_config *cfg = nfn_model_get_config (model);
  memset (norm, 0, sizeof *norm);
  if (g_strcmp0 (info->task, NFN_TASK_MASK_MODEL) != 0 || cfg->output != NFN_MODEL_OUT_WEIGHTS || cfg->out_channels != 1)
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
nfn_status
nfn_task_mask_model_scores (nfn_model *model, const NfnTrainerNorm *norm, const nfn_feature *inits, nfn_feature *scores)
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
gboolean
nfn_task_mask_train_accuracy (const nfn_arch *arch, const nfn_feature *inits, const nfn_feature *masks, const guint64 *ids,
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
  if (!nfn_task_zoo_finished (zoo, last, "nfn zoo tickets", error))
    return FALSE;
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
  NfnTaskMaskSelection selection;
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
    status = nfn_task_mask_select (&t->selection, t->selection.sparsity, &scores, &predicted);
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
      ok = ok && nfn_task_mask_train_accuracy (&ms->arch, &ms->raw, &eval_masks, ms->ids, &ms->ticket, &t->data->train, measure,
                                      t->threads, t->cancel, accuracy, error);
      if (ok)
        nfn_trainer_metrics_add (metrics, "masked_accuracy", nfn_task_mean (accuracy, ms->n_eval, NULL));
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

/* ---- settings and their JSON (the run's config) ---- */

typedef struct {
  NfnTaskSettings base;         /* model_name: np|hnp|pointwise */
  gboolean balance_global;
  NfnTaskMaskSelect select;
  int val_train;
  nfn_model_config model;
} MaskSettings;

static char *
mask_config_json (const MaskSettings *ms)
{
  const NfnTaskSettings *s = &ms->base;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  nfn_task_settings_build_json_paths (b, s);
  nfn_task_json_add_string (b, "balance", ms->balance_global ? "global" : "layer");
  nfn_task_json_add_string (b, "selection", nfn_task_mask_select_name (ms->select));
  nfn_task_settings_build_json_training (b, s);
  nfn_task_json_add_int (b, "val_train", ms->val_train);
  char text[G_ASCII_DTOSTR_BUF_SIZE];
  json_builder_set_member_name (b, "lr");
  json_builder_add_string_value (b, g_ascii_formatd (text, sizeof text, "%.12g", s->lr));
  json_builder_set_member_name (b, "weight_decay");
  json_builder_add_string_value (b, g_ascii_formatd (text, sizeof text, "%.12g", s->weight_decay));
  json_builder_set_member_name (b, "nfn_model");
  nfn_model_config_build_json (b, &ms->model);
  json_builder_end_object (b);
  return nfn_json_builder_to_text (b, FALSE);
}

/* The settings of run `run` (for --resume; nfn_task_resumable_run has checked its task). */
static gboolean
mask_settings_from_run (const NfnRun *run, const char *db_path, MaskSettings *ms, GError **error)
{
  NfnTaskSettings *s = &ms->base;
  g_autofree char *label = nfn_task_run_label (db_path, run->id);
  g_autoptr (JsonParser) parser = json_parser_new ();
  const char *const required[] = { "zoo", "model", "balance", "selection", "augment", "normalize", "epochs", "batch",
                                   "val_train", "warmup", "seed", "lr", "weight_decay", "nfn_model", NULL };
  JsonObject *o = nfn_task_config_object (parser, run, label, required, error);
  if (!o)
    return FALSE;
  nfn_task_settings_from_config (o, s);
  g_autofree char *balance = nfn_task_json_string (o, "balance"), *selection = nfn_task_json_string (o, "selection");
  g_autofree char *lr = nfn_task_json_string (o, "lr"), *weight_decay = nfn_task_json_string (o, "weight_decay");
  ms->balance_global = g_strcmp0 (balance, "global") == 0;
  if (!nfn_task_mask_select_parse (selection, &ms->select))
    ms->select = NFN_TASK_MASK_SELECT_LAYER;
  ms->val_train = (int) json_object_get_int_member (o, "val_train");
  s->lr = lr ? g_ascii_strtod (lr, NULL) : 0;
  s->weight_decay = weight_decay ? g_ascii_strtod (weight_decay, NULL) : 0;
  if (!s->zoo || !s->model_name || !lr || !weight_decay)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "%s: its config has no zoo, model or learning rate", label);
      return FALSE;
    }
  return nfn_model_config_from_json_node (json_object_get_member (o, "nfn_model"), &ms->model, label, error);
}

/* ---- the data ---- */

typedef struct {
  NfnZooDir *zoo;
  MaskSet train, val, test;
  gboolean val_carved;
  NfnTrainerNorm norm;
  NfnTicketData images;
  NfnTaskMaskSelection selection;
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
mask_load (const MaskSettings *ms, MaskData *d, GError **error)
{
  const NfnTaskSettings *s = &ms->base;
  if (!(d->zoo = nfn_zoo_dir_open (s->zoo, error)))
    return FALSE;
  gint64 count = nfn_zoo_dir_count (d->zoo), train_count = count;
  if (!s->val)
    {
      gint64 held = MAX (1, (gint64) floor (count * NFN_TASK_VAL_FRACTION));
      if (count - held < 1)
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, s->zoo,
                              "too few networks (%" G_GINT64_FORMAT ") to carve a validation split; give --val", count);
          return FALSE;
        }
      train_count = count - held;
      d->val_carved = TRUE;
      if (!mask_set_load (d->zoo, train_count, count, ms->val_train, &d->val, error))
        return FALSE;
    }
  if (!mask_set_load (d->zoo, 0, train_count, 0, &d->train, error))
    return FALSE;
  if (s->val && !mask_load_other (s->val, &d->train, ms->val_train, &d->val, error))
    return FALSE;
  if (s->test && !mask_load_other (s->test, &d->train, ms->val_train, &d->test, error))
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
  d->selection.how = ms->select;
  d->selection.sparsity = d->train.ticket.sparsity;
  d->selection.L = masks.space.L;
  nfn_ticket_layer_fractions (&masks, d->selection.fraction);
  nfn_ticket_pos_weights (&masks, !ms->balance_global, d->pos_weight);
  nfn_feature_free (&masks);
  if (s->normalize)
    nfn_task_norm_sets (&d->norm, &d->train.set, &d->val.set, s->test ? &d->test.set : NULL);
  return TRUE;
}

/* ---- the end of a run ---- */

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
  NfnModelFileInfo info = { .task = NFN_TASK_MASK_MODEL, .extra_json = extra };
  g_free (f->saved_path);
  f->saved_path = nfn_task_save_model (f->model, &info, f->settings->base.out, "", f->store, report->run_id,
                                       "the best epoch's mask predictor (safetensors)", summary, error);
  if (!f->saved_path)
    return FALSE;
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


/* ---- the run ---- */

static gboolean
mask_settings_from_options (const NfnTaskOptions *o, MaskSettings *ms, MaskData *d, GError **error)
{
  NfnTaskSettings *s = &ms->base;
  if (!nfn_task_settings_from_options (o, "train mask", "nfn zoo tickets", s, error))
    return FALSE;
  nfn_model_kind kind;
  if (!nfn_model_kind_parse (s->model_name, &kind)
      || (kind != NFN_MODEL_NP && kind != NFN_MODEL_HNP && kind != NFN_MODEL_POINTWISE))
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED,
                   "train mask: --model must be np, hnp or pointwise, not \"%s\"", s->model_name);
      return FALSE;
    }
  ms->select = NFN_TASK_MASK_DEFAULT_SELECT;
  if ((o->balance && strcmp (o->balance, "layer") != 0 && strcmp (o->balance, "global") != 0)
      || (o->selection && !nfn_task_mask_select_parse (o->selection, &ms->select)))
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED,
                   "train mask: --balance takes layer or global, --selection layer, global or spread");
      return FALSE;
    }
  if (o->epochs < 1 || o->batch < 1 || !(o->lr > 0) || o->weight_decay < 0 || o->warmup < 0 || o->channels < 1
      || o->depth < 1 || o->depth > NFN_MODEL_MAX_DEPTH || o->fourier < 0 || o->io_bands < 0 || !(o->fourier_scale > 0)
      || o->seed < 0 || o->val_train < 0)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED,
                   "train mask: an option is out of range (epochs, batch, channels, depth ≥ 1, depth ≤ %d,"
                   " lr > 0, the rest ≥ 0)", NFN_MODEL_MAX_DEPTH);
      return FALSE;
    }
  ms->balance_global = o->balance && strcmp (o->balance, "global") == 0;
  ms->val_train = o->val_train;
  if (!mask_load (ms, d, error))
    return FALSE;
  nfn_model_config *cfg = &ms->model;
  nfn_model_config_default (cfg, kind, &d->train.set.networks.space, 1);
  cfg->output = NFN_MODEL_OUT_WEIGHTS;
  cfg->out_channels = 1;
  cfg->out_scale = 0;
  cfg->n_head = 0;
  nfn_task_apply_shape (o, cfg);
  if (nfn_model_config_check (cfg) != NFN_OK)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED,
                   "train mask: these options do not make a valid %s model", s->model_name);
      return FALSE;
    }
  return TRUE;
}

gboolean
nfn_task_mask_run (const NfnTaskOptions *o, NfnStore *store, const NfnTaskHooks *hooks, GCancellable *cancellable,
                   NfnTaskResult *result, GError **error)
{
  MaskSettings settings = { 0 };
  MaskData data = { 0 };
  MaskTask mt = { 0 };
  MaskFinish finish = { 0 };
  nfn_model *model = NULL;
  g_autofree char *config_json = NULL;
  NfnTaskCancel cancel;
  gboolean ok = FALSE;
  nfn_task_result_clear (result);
  nfn_task_cancel_begin (&cancel, hooks, cancellable);

  if (o->resume > 0)
    {
      g_autoptr (NfnRun) run = nfn_task_resumable_run (store, o->resume, NFN_TASK_MASK, error);
      if (!run || !mask_settings_from_run (run, nfn_store_get_path (store), &settings, error)
          || !mask_load (&settings, &data, error))
        goto done;
      if (!nfn_space_equal (&settings.model.space, &data.train.set.networks.space))
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_SHAPE, settings.base.zoo, "the zoo no longer matches the run's model");
          goto done;
        }
    }
  else if (!mask_settings_from_options (o, &settings, &data, error))
    goto done;

  int threads = nfn_task_clamp_threads (o->threads);
  nfn_set_threads (threads);
  nfn_status st = nfn_model_new (&settings.model, (unsigned long) settings.base.seed, &model);
  if (st != NFN_OK)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED,
                   "train mask: cannot build the %s model: %s (an hnp model of a wide input layer is too big; use np)",
                   settings.base.model_name, nfn_status_message (st));
      goto done;
    }
  size_t batch_floats = nfn_feature_size (&settings.model.space, settings.model.max_batch, 1);
  mt = (MaskTask) { .model = model, .space = settings.model.space, .selection = data.selection, .data = &data.images,
                    .val = &data.val, .test = data.test.set.networks.B > 0 ? &data.test : NULL,
                    .threads = threads, .cancel = cancel.flag,
                    .batch_masks = g_new (float, batch_floats), .batch_grad = g_new (float, batch_floats) };
  memcpy (mt.pos_weight, data.pos_weight, sizeof mt.pos_weight);
  NfnTrainerTask task = {
    .self = &mt, .output_dim = (int) nfn_flatten_dim (&settings.model.space, 1),
    .select_metric = settings.val_train > 0 ? "masked_accuracy" : "iou", .select_higher = TRUE,
    .params = nfn_model_params (model), .adam_m = nfn_model_adam_m (model), .adam_v = nfn_model_adam_v (model),
    .n_params = nfn_model_param_count_all (model), .n_trainable = nfn_model_param_count (model),
    .rng = nfn_model_rng (model), .train_step = mask_task_train_step, .predict = mask_task_predict,
    .score = mask_task_score, .augment = settings.base.augment ? mask_task_augment : NULL,
  };
  config_json = mask_config_json (&settings);
  finish = (MaskFinish) { &settings, &data, model, store, NULL };
  NfnTrainerOptions options;
  nfn_task_trainer_options (&options, &settings.base, store, NFN_TASK_MASK, config_json, o->resume, hooks, &cancel);
  options.finish = mask_finish;
  options.finish_data = &finish;
  nfn_task_result_sets (result, settings.base.model_name, &data.train.set, &data.val.set, &data.test.set);
  nfn_task_announce (hooks, "train mask: %s on %d (init, mask) pairs (%s), val %d%s (%d trained per epoch), test %d,"
                     " %zu parameters, sparsity %.3g, %s selection%s",
                     settings.base.model_name, result->train_networks, settings.base.zoo, result->val_networks,
                     data.val_carved ? " (the last 10 % of the training zoo)" : "", data.val.n_eval,
                     result->test_networks, nfn_model_param_count (model), data.selection.sparsity,
                     nfn_task_mask_select_name (data.selection.how), o->resume > 0 ? ", resumed" : "");
  ok = nfn_task_train (&task, &data.train.set, &data.val.set, mt.test ? &data.test.set : NULL, &options, store, result,
                       error);
  result->model_path = g_steal_pointer (&finish.saved_path);

done:
  nfn_task_cancel_end (&cancel);
  g_free (finish.saved_path);
  g_free (mt.batch_masks);
  g_free (mt.batch_grad);
  nfn_model_free (model);
  mask_data_clear (&data);
  nfn_task_settings_clear (&settings.base);
  return ok;
}

/* ---- a preview: the mask a model predicts for one init ---- */

double
nfn_task_mask_sparsity (const nfn_feature *mask)
{
  size_t kept = 0, total = nfn_ticket_weight_count (&mask->space);
  for (int i = 1; i <= mask->space.L; i++)
    {
      /* an MLP's W_i: n_i·n_{i-1} entries (f_i = 1, C = 1) */
      size_t n = (size_t) mask->space.n[i] * mask->space.n[i - 1];
      const float *w = mask->t[nfn_tensor_weight (i)];
      for (size_t k = 0; k < n; k++)
        kept += w[k] != 0;
    }
  return total > 0 ? 1.0 - (double) kept / total : 0;
}

gboolean
nfn_task_mask_preview (const char *model_path, const char *zoo_path, gint64 index, nfn_feature *mask,
                       double *sparsity, GError **error)
{
  memset (mask, 0, sizeof *mask);
  NfnModelFileInfo info = { 0 };
  nfn_model *model = nfn_model_file_load (model_path, 1, &info, error);
  if (!model)
    return FALSE;
  NfnTrainerNorm norm;
  NfnTaskMaskSelection sel;
  MaskSet ms = { 0 };
  nfn_feature scores = { 0 };
  g_autoptr (NfnZooDir) zoo = NULL;
  gboolean ok = nfn_task_mask_model_check (model, &info, model_path, &norm, &sel, error)
                && (zoo = nfn_zoo_dir_open (zoo_path, error)) != NULL
                && mask_set_load (zoo, index, index + 1, 0, &ms, error);
  const nfn_space *space = &nfn_model_get_config (model)->space;
  if (ok && !nfn_space_equal (&ms.set.networks.space, space))
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_SHAPE, zoo_path, "its MLPs are not those %s was trained on", model_path);
      ok = FALSE;
    }
  if (ok)
    {
      nfn_status st = nfn_feature_alloc (&scores, space, 1, 1);
      if (st == NFN_OK)
        st = nfn_feature_alloc (mask, space, 1, 1);
      if (st == NFN_OK)
        st = nfn_task_mask_model_scores (model, &norm, &ms.set.networks, &scores);
      if (st == NFN_OK)
        st = nfn_task_mask_select (&sel, sel.sparsity, &scores, mask);
      if (st != NFN_OK)
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, model_path, "no mask: %s", nfn_status_message (st));
          nfn_feature_free (mask);
          ok = FALSE;
        }
      else
        *sparsity = nfn_task_mask_sparsity (mask);
    }
  nfn_feature_free (&scores);
  mask_set_clear (&ms);
  nfn_model_free (model);
  nfn_model_file_info_clear (&info);
  return ok;
}
