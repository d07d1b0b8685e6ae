/* nfn_trainer.c — the shared training loop (see nfn_trainer.h).
 *
 * Shape letters: N networks in a set, B in a batch, K outputs per network, T targets per
 * network, P parameters of the task's arena.
 *
 * A checkpoint is a safetensors file (so it is inspectable with the same tools as a model):
 *   "params" (P), "adam.m" (P), "adam.v" (P), "best.params" (P)
 *   __metadata__ "nfn.format" "nfn-checkpoint", "nfn.version" "1", "nfn.checkpoint" a JSON
 *   object {run, epoch, step, seed, n_params, best_epoch, best_value, best_val {name: value},
 *   seconds, rng {name, state (base64)}}.
 */
#include "nfn_json.h"
#include "nfn_trainer.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gsl/gsl_randist.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nfn_precision.h"
#include "nfn_perm.h"

#define TRAINER_CHECKPOINT_FORMAT "nfn-checkpoint"
#define TRAINER_CHECKPOINT_VERSION 1

/* ---- sets ---- */

void
nfn_trainer_set_clear (NfnTrainerSet *set)
{
  nfn_feature_free (&set->networks);
  g_clear_pointer (&set->labels, g_free);
  g_clear_pointer (&set->targets, g_free);
  g_clear_pointer (&set->source, g_free);
  memset (set, 0, sizeof *set);
}

/* dst network k = src network index[k], for k < n (dst has room for n, C = 1 both). */
static void
trainer_copy_networks (const nfn_feature *src, const int *index, int n, nfn_feature *dst)
{
  const nfn_space *s = &src->space;
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      size_t entries = nfn_tensor_entries (s, t);
      for (int k = 0; k < n; k++)
        memcpy (dst->t[t] + (size_t) k * entries, src->t[t] + (size_t) index[k] * entries, entries * sizeof (float));
    }
}

static gboolean
trainer_fail_nomem (GError **error, const char *what)
{
  g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_IO, "train: out of memory for %s", what);
  return FALSE;
}

gboolean
nfn_trainer_set_gather (NfnTrainerSet *dst, const NfnTrainerSet *src, const int *index, int n, GError **error)
{
  g_return_val_if_fail (dst != NULL && src != NULL && n >= 1, FALSE);
  memset (dst, 0, sizeof *dst);
  for (int k = 0; k < n; k++)
    g_return_val_if_fail (index[k] >= 0 && index[k] < src->networks.B, FALSE);
  if (nfn_feature_alloc (&dst->networks, &src->networks.space, n, 1) != NFN_OK)
    return trainer_fail_nomem (error, "a set of networks");
  trainer_copy_networks (&src->networks, index, n, &dst->networks);
  dst->target_dim = src->target_dim;
  if (src->labels)
    {
      dst->labels = g_new (int, n);
      for (int k = 0; k < n; k++)
        dst->labels[k] = src->labels[index[k]];
    }
  if (src->targets)
    {
      dst->targets = g_new (float, (gsize) n * src->target_dim);
      for (int k = 0; k < n; k++)
        memcpy (dst->targets + (size_t) k * src->target_dim, src->targets + (size_t) index[k] * src->target_dim,
                src->target_dim * sizeof (float));
    }
  if (src->source)
    {
      dst->source = g_new (gint64, n);
      for (int k = 0; k < n; k++)
        dst->source[k] = src->source[index[k]];
    }
  return TRUE;
}

gboolean
nfn_trainer_set_load_zoo (NfnTrainerSet *set, NfnZooDir *zoo, gint64 first_image, gint64 last_image,
                          NfnTrainerZooSelect select, GError **error)
{
  g_return_val_if_fail (set != NULL && zoo != NULL, FALSE);
  memset (set, 0, sizeof *set);
  const NfnZooSettings *zs = nfn_zoo_dir_settings (zoo);
  gint64 copies = 1 + zs->refits;
  if (last_image < 0)
    last_image = zs->count;
  if (first_image < 0 || last_image <= first_image || last_image > zs->count)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, nfn_zoo_dir_path (zoo),
                          "images [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ") are not a range of the zoo's %d",
                          first_image, last_image, zs->count);
      return FALSE;
    }
  gint64 first = first_image * copies, last = last_image * copies;
  NfnTrainerSet all = { 0 };
  all.labels = g_new (int, last - first);
  all.source = g_new (gint64, last - first);
  if (!nfn_zoo_dir_load_range (zoo, first, last, &all.networks, all.labels, NULL, error))
    {
      nfn_trainer_set_clear (&all);
      return FALSE;
    }
  for (gint64 n = first; n < last; n++)
    all.source[n - first] = n;
  if (select == NFN_TRAINER_ZOO_ALL || copies == 1)
    {
      *set = all;
      return TRUE;
    }
  /* networks are image-major, so refit 0 of image k is every copies-th */
  int n = (int) (last_image - first_image);
  g_autofree int *index = g_new (int, n);
  for (int k = 0; k < n; k++)
    index[k] = (int) (k * copies);
  gboolean ok = nfn_trainer_set_gather (set, &all, index, n, error);
  nfn_trainer_set_clear (&all);
  return ok;
}

/* ---- input normalisation ---- */

void
nfn_trainer_norm_fit (NfnTrainerNorm *norm, const nfn_feature *networks)
{
  const nfn_space *s = &networks->space;
  memset (norm, 0, sizeof *norm);
  norm->n_tensors = nfn_tensor_count (s);
  for (int t = 0; t < norm->n_tensors; t++)
    {
      size_t n = (size_t) networks->B * nfn_tensor_entries (s, t) * networks->C;
      /* two passes in double: the spread is tiny next to the mean for some tensors */
      double mean = 0, var = 0;
      for (size_t k = 0; k < n; k++)
        mean += networks->t[t][k];
      mean /= n;
      for (size_t k = 0; k < n; k++)
        var += (networks->t[t][k] - mean) * (networks->t[t][k] - mean);
      double std = sqrt (var / n);
      norm->mean[t] = (float) mean;
      norm->std[t] = std > 0 && isfinite (std) ? (float) std : 1.0f;
    }
}

void
nfn_trainer_norm_apply (const NfnTrainerNorm *norm, nfn_feature *networks)
{
  const nfn_space *s = &networks->space;
  for (int t = 0; t < norm->n_tensors && t < nfn_tensor_count (s); t++)
    {
      size_t n = (size_t) networks->B * nfn_tensor_entries (s, t) * networks->C;
      float mean = norm->mean[t], inv = 1.0f / norm->std[t];
      for (size_t k = 0; k < n; k++)
        networks->t[t][k] = (networks->t[t][k] - mean) * inv;
    }
}

void
nfn_trainer_norm_build_json (JsonBuilder *b, const NfnTrainerNorm *norm)
{
  const char *names[] = { "mean", "std" };
  const float *values[] = { norm->mean, norm->std };
  json_builder_begin_object (b);
  for (int k = 0; k < 2; k++)
    {
      json_builder_set_member_name (b, names[k]);
      json_builder_begin_array (b);
      for (int t = 0; t < norm->n_tensors; t++)
        json_builder_add_double_value (b, values[k][t]);
      json_builder_end_array (b);
    }
  json_builder_end_object (b);
}

gboolean
nfn_trainer_norm_from_json_node (JsonNode *node, const nfn_space *space, NfnTrainerNorm *norm, const char *label,
                                 GError **error)
{
  memset (norm, 0, sizeof *norm);
  int T = nfn_tensor_count (space);
  JsonObject *o = node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  const char *names[] = { "mean", "std" };
  float *values[] = { norm->mean, norm->std };
  for (int k = 0; k < 2; k++)
    {
      JsonNode *member = o ? json_object_get_member (o, names[k]) : NULL;
      JsonArray *a = member && JSON_NODE_HOLDS_ARRAY (member) ? json_node_get_array (member) : NULL;
      if (!a || json_array_get_length (a) != (guint) T)
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "input_norm.%s is not an array of %d numbers", names[k], T);
          return FALSE;
        }
      for (int t = 0; t < T; t++)
        {
          JsonNode *e = json_array_get_element (a, t);
          GType type = JSON_NODE_HOLDS_VALUE (e) ? json_node_get_value_type (e) : G_TYPE_INVALID;
          double v = type == G_TYPE_DOUBLE || type == G_TYPE_INT64 ? json_node_get_double (e) : NAN;
          if (!isfinite (v) || (k == 1 && !(v > 0)))
            {
              nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "input_norm.%s[%d] is not a %s number", names[k], t,
                                  k == 1 ? "positive" : "finite");
              return FALSE;
            }
          values[k][t] = (float) v;
        }
    }
  norm->n_tensors = T;
  return TRUE;
}

/* ---- metrics ---- */

double
nfn_trainer_metrics_get (const NfnTrainerMetrics *metrics, const char *name)
{
  for (int k = 0; k < metrics->n; k++)
    if (strcmp (metrics->names[k], name) == 0)
      return metrics->values[k];
  return NAN;
}

void
nfn_trainer_metrics_add (NfnTrainerMetrics *metrics, const char *name, double value)
{
  g_return_if_fail (metrics->n < NFN_TRAINER_MAX_METRICS);
  metrics->names[metrics->n] = g_intern_string (name);
  metrics->values[metrics->n] = value;
  metrics->n++;
}

/* ---- ready-made tasks over an nfn_model ---- */

static void
trainer_task_from_model (NfnTrainerTask *task, nfn_model *model)
{
  memset (task, 0, sizeof *task);
  task->self = model;
  task->params = nfn_model_params (model);
  task->adam_m = nfn_model_adam_m (model);
  task->adam_v = nfn_model_adam_v (model);
  task->n_params = nfn_model_param_count_all (model);
  task->n_trainable = nfn_model_param_count (model);
  task->rng = nfn_model_rng (model);
  task->output_dim = nfn_model_get_config (model)->n_out;
}

static nfn_status
trainer_model_predict (gpointer self, const nfn_feature *inputs, float *outputs)
{
  nfn_model *model = self;
  const float *logits;
  nfn_status st = nfn_model_forward (model, inputs, 0, &logits);
  if (st == NFN_OK)
    memcpy (outputs, logits, (size_t) inputs->B * nfn_model_get_config (model)->n_out * sizeof (float));
  return st;
}

static nfn_status
trainer_classify_step (gpointer self, const nfn_feature *inputs, const int *labels, const float *targets,
                       nfn_adam *opt, double *loss)
{
  if (!labels)
    return NFN_ERR_ARG;
  return nfn_model_train_step_ce (self, opt, inputs, labels, loss);
}

static gboolean
trainer_fail_status (GError **error, nfn_status st, const char *what)
{
  g_set_error (error, NFN_DATA_ERROR, st == NFN_ERR_NONFINITE ? NFN_DATA_ERROR_NONFINITE : NFN_DATA_ERROR_UNSUPPORTED,
               "train: %s: %s", what, nfn_status_message (st));
  return FALSE;
}

static gboolean
trainer_classify_score (gpointer self, const NfnTrainerSet *set, const float *outputs, NfnTrainerMetrics *metrics,
                        GError **error)
{
  int N = nfn_trainer_set_size (set), K = nfn_model_get_config (self)->n_out;
  if (!set->labels)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, "train: the set has no labels to score");
      return FALSE;
    }
  double loss;
  nfn_status st = nfn_cross_entropy (outputs, set->labels, N, K, &loss, NULL);
  if (st != NFN_OK)
    return trainer_fail_status (error, st, "cross-entropy of the evaluation set");
  metrics->n = 0;
  nfn_trainer_metrics_add (metrics, "accuracy", nfn_accuracy (outputs, set->labels, N, K));
  nfn_trainer_metrics_add (metrics, "loss", loss);
  return TRUE;
}

void
nfn_trainer_task_classify (NfnTrainerTask *task, nfn_model *model)
{
  trainer_task_from_model (task, model);
  task->select_metric = "accuracy";
  task->select_higher = TRUE;
  task->train_step = trainer_classify_step;
  task->predict = trainer_model_predict;
  task->score = trainer_classify_score;
}

static nfn_status
trainer_regress_step (gpointer self, const nfn_feature *inputs, const int *labels, const float *targets,
                      nfn_adam *opt, double *loss)
{
  nfn_model *model = self;
  if (!targets || nfn_model_get_config (model)->n_out != 1)
    return NFN_ERR_ARG;
  const float *logits;
  nfn_status st = nfn_model_forward (model, inputs, 1, &logits);
  if (st != NFN_OK)
    return st;
  g_autofree float *dlogits = g_new (float, inputs->B);
  if ((st = nfn_bce_with_logits (logits, targets, inputs->B, loss, dlogits)) != NFN_OK
      || (st = nfn_model_backward (model, dlogits)) != NFN_OK)
    return st;
  nfn_model_adam_step (model, opt);
  return NFN_OK;
}

static gboolean
trainer_regress_score (gpointer self, const NfnTrainerSet *set, const float *outputs, NfnTrainerMetrics *metrics,
                       GError **error)
{
  int N = nfn_trainer_set_size (set);
  if (!set->targets || set->target_dim != 1)
    {
      g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, "train: the set has no scalar targets to score");
      return FALSE;
    }
  double loss;
  nfn_status st = nfn_bce_with_logits (outputs, set->targets, N, &loss, NULL);
  if (st != NFN_OK)
    return trainer_fail_status (error, st, "binary cross-entropy of the evaluation set");
  g_autofree double *pred = g_new (double, N);
  g_autofree double *truth = g_new (double, N);
  for (int k = 0; k < N; k++)
    {
      pred[k] = 1.0 / (1.0 + exp (-(double) outputs[k]));
      truth[k] = set->targets[k];
    }
  if (!nfn_trainer_regression_metrics (pred, truth, N, metrics, error))
    return FALSE;
  nfn_trainer_metrics_add (metrics, "loss", loss);
  return TRUE;
}

gboolean
nfn_trainer_regression_metrics (const double *pred, const double *truth, int n, NfnTrainerMetrics *metrics,
                                GError **error)
{
  double mean = 0, sse = 0, sst = 0;
  for (int k = 0; k < n; k++)
    mean += truth[k] / n;
  for (int k = 0; k < n; k++)
    {
      sse += (pred[k] - truth[k]) * (pred[k] - truth[k]);
      sst += (truth[k] - mean) * (truth[k] - mean);
    }
  double tau = 0;
  nfn_status st;
  if (n >= 2 && (st = nfn_kendall_tau_b (pred, truth, (size_t) n, &tau)) != NFN_OK)
    return trainer_fail_status (error, st, "Kendall tau of the evaluation set");
  metrics->n = 0;
  nfn_trainer_metrics_add (metrics, "tau", tau);
  nfn_trainer_metrics_add (metrics, "r2", sst > 0 ? 1.0 - sse / sst : 0.0);
  nfn_trainer_metrics_add (metrics, "mse", n > 0 ? sse / n : 0.0);
  return TRUE;
}

void
nfn_trainer_task_regress (NfnTrainerTask *task, nfn_model *model)
{
  trainer_task_from_model (task, model);
  task->select_metric = "tau";
  task->select_higher = TRUE;
  task->train_step = trainer_regress_step;
  task->predict = trainer_model_predict;
  task->score = trainer_regress_score;
}

void
nfn_trainer_augment_hnp (gpointer self, nfn_feature *inputs, float *targets, gsl_rng *rng)
{
  nfn_perm perm;
  nfn_feature one, moved;
  if (nfn_perm_alloc (&perm, &inputs->space) != NFN_OK)
    return;
  if (nfn_feature_alloc (&one, &inputs->space, 1, 1) != NFN_OK)
    {
      nfn_perm_free (&perm);
      return;
    }
  if (nfn_feature_alloc (&moved, &inputs->space, 1, 1) == NFN_OK)
    {
      for (int b = 0; b < inputs->B; b++)
        {
          nfn_perm_random (&perm, NFN_SYM_HNP, rng);
          nfn_feature_get_network (inputs, b, &one);
          if (nfn_perm_apply (&perm, &one, &moved) == NFN_OK)
            nfn_feature_set_network (inputs, b, &moved);
        }
      nfn_feature_free (&moved);
    }
  nfn_feature_free (&one);
  nfn_perm_free (&perm);
}

/* ---- evaluation ---- */

float *
nfn_trainer_predict_set (const NfnTrainerTask *task, const NfnTrainerSet *set, int batch_size, GError **error)
{
  g_return_val_if_fail (task != NULL && set != NULL && batch_size >= 1, NULL);
  int N = nfn_trainer_set_size (set), K = task->output_dim;
  int B = MIN (batch_size, N);
  nfn_feature batch;
  if (nfn_feature_alloc (&batch, &set->networks.space, B, 1) != NFN_OK)
    {
      trainer_fail_nomem (error, "a batch");
      return NULL;
    }
  float *outputs = g_try_new (float, (gsize) N * K);
  g_autofree int *index = g_new (int, B);
  nfn_status st = outputs ? NFN_OK : NFN_ERR_NOMEM;
  for (int first = 0; st == NFN_OK && first < N; first += B)
    {
      int n = MIN (B, N - first);
      nfn_feature view;
      nfn_feature_wrap (&view, &set->networks.space, n, 1, batch.data);
      for (int k = 0; k < n; k++)
        index[k] = first + k;
      trainer_copy_networks (&set->networks, index, n, &view);
      st = task->predict (task->self, &view, outputs + (size_t) first * K);
    }
  nfn_feature_free (&batch);
  if (st != NFN_OK)
    {
      trainer_fail_status (error, st, "evaluation");
      g_free (outputs);
      return NULL;
    }
  return outputs;
}

/* ---- checkpoints ---- */

typedef struct {
  int epoch;            /* epochs finished */
  gint64 step;          /* optimiser steps */
  int best_epoch;
  double best_value;
  NfnTrainerMetrics best_val;
  double seconds;       /* wall time of every call so far */
} TrainerProgressState;

static void
trainer_add_metrics_object (JsonBuilder *b, const NfnTrainerMetrics *metrics)
{
  json_builder_begin_object (b);
  for (int k = 0; k < metrics->n; k++)
    {
      json_builder_set_member_name (b, metrics->names[k]);
      /* JSON has no NaN: an unscored value is null */
      if (isfinite (metrics->values[k]))
        json_builder_add_double_value (b, metrics->values[k]);
      else
        json_builder_add_null_value (b);
    }
  json_builder_end_object (b);
}

static char *
trainer_checkpoint_json (const NfnTrainerTask *task, const NfnTrainerOptions *options, gint64 run,
                         const TrainerProgressState *state)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "run");
  json_builder_add_int_value (b, run);
  json_builder_set_member_name (b, "epoch");
  json_builder_add_int_value (b, state->epoch);
  json_builder_set_member_name (b, "step");
  json_builder_add_int_value (b, state->step);
  json_builder_set_member_name (b, "seed");
  /* a string: a 64-bit seed does not survive JSON's doubles */
  g_autofree char *seed = g_strdup_printf ("%" G_GUINT64_FORMAT, options->seed);
  json_builder_add_string_value (b, seed);
  json_builder_set_member_name (b, "n_params");
  json_builder_add_int_value (b, (gint64) task->n_params);
  json_builder_set_member_name (b, "best_epoch");
  json_builder_add_int_value (b, state->best_epoch);
  json_builder_set_member_name (b, "best_value");
  json_builder_add_double_value (b, state->best_value);
  json_builder_set_member_name (b, "best_val");
  trainer_add_metrics_object (b, &state->best_val);
  json_builder_set_member_name (b, "seconds");
  json_builder_add_double_value (b, state->seconds);
  if (task->rng)
    {
      json_builder_set_member_name (b, "rng");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, gsl_rng_name (task->rng));
      json_builder_set_member_name (b, "state");
      g_autofree char *bytes = g_base64_encode (gsl_rng_state (task->rng), gsl_rng_size (task->rng));
      json_builder_add_string_value (b, bytes);
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
  return nfn_json_builder_to_text (b, FALSE);
}

static gboolean
trainer_write_checkpoint (const char *path, const NfnTrainerTask *task, const NfnTrainerOptions *options, gint64 run,
                          const TrainerProgressState *state, const float *best_params, GError **error)
{
  g_autoptr (NfnSafetensors) st = nfn_safetensors_new ();
  gint64 shape[1] = { (gint64) task->n_params };
  nfn_safetensors_add (st, "params", 1, shape, task->params);
  nfn_safetensors_add (st, "adam.m", 1, shape, task->adam_m);
  nfn_safetensors_add (st, "adam.v", 1, shape, task->adam_v);
  nfn_safetensors_add (st, "best.params", 1, shape, best_params);
  nfn_safetensors_set_metadata (st, "nfn.format", TRAINER_CHECKPOINT_FORMAT);
  g_autofree char *version = g_strdup_printf ("%d", TRAINER_CHECKPOINT_VERSION);
  nfn_safetensors_set_metadata (st, "nfn.version", version);
  g_autofree char *json = trainer_checkpoint_json (task, options, run, state);
  nfn_safetensors_set_metadata (st, "nfn.checkpoint", json);
  return nfn_safetensors_save (st, path, error);
}

static gboolean
trainer_checkpoint_fault (GError **error, const char *path, const char *fault)
{
  nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, path, "not a usable checkpoint: %s", fault);
  return FALSE;
}

/* Reads a checkpoint into the task's state, best_params and state; checks it fits the task. */
static gboolean
trainer_read_checkpoint (const char *path, const NfnTrainerTask *task, const NfnTrainerOptions *options, gint64 run,
                         TrainerProgressState *state, float *best_params, GError **error)
{
  g_autoptr (NfnSafetensors) st = nfn_safetensors_load (path, error);
  if (!st)
    return FALSE;
  if (g_strcmp0 (nfn_safetensors_get_metadata (st, "nfn.format"), TRAINER_CHECKPOINT_FORMAT) != 0)
    return trainer_checkpoint_fault (error, path, "no nfn.format \"" TRAINER_CHECKPOINT_FORMAT "\"");
  const char *version = nfn_safetensors_get_metadata (st, "nfn.version");
  if (!version || atoi (version) != TRAINER_CHECKPOINT_VERSION)
    return trainer_checkpoint_fault (error, path, "checkpoint version differs from this build's (start a new run)");
  const char *names[] = { "params", "adam.m", "adam.v", "best.params" };
  float *dest[] = { task->params, task->adam_m, task->adam_v, best_params };
  NfnTensor *tensors[4];
  for (int k = 0; k < 4; k++)
    {
      tensors[k] = nfn_safetensors_find (st, names[k]);
      if (!tensors[k] || tensors[k]->rank != 1 || tensors[k]->numel != task->n_params)
        {
          g_autofree char *fault = g_strdup_printf ("tensor \"%s\" is missing or does not hold the model's %zu parameters",
                                                    names[k], task->n_params);
          return trainer_checkpoint_fault (error, path, fault);
        }
    }
  g_autoptr (JsonParser) parser = json_parser_new ();
  const char *json = nfn_safetensors_get_metadata (st, "nfn.checkpoint");
  if (!json || !json_parser_load_from_data (parser, json, -1, NULL) || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return trainer_checkpoint_fault (error, path, "nfn.checkpoint is missing or not a JSON object");
  JsonObject *o = json_node_get_object (json_parser_get_root (parser));
  const char *members[] = { "run", "epoch", "step", "seed", "best_epoch", "best_value", "best_val", "seconds" };
  for (guint k = 0; k < G_N_ELEMENTS (members); k++)
    if (!json_object_has_member (o, members[k]))
      {
        g_autofree char *fault = g_strdup_printf ("nfn.checkpoint lacks \"%s\"", members[k]);
        return trainer_checkpoint_fault (error, path, fault);
      }
  if (json_object_get_int_member (o, "run") != run)
    return trainer_checkpoint_fault (error, path, "it belongs to another run");
  g_autofree char *seed = g_strdup_printf ("%" G_GUINT64_FORMAT, options->seed);
  if (g_strcmp0 (json_object_get_string_member (o, "seed"), seed) != 0)
    return trainer_checkpoint_fault (error, path, "its seed differs from the run's");
  state->epoch = (int) json_object_get_int_member (o, "epoch");
  state->step = json_object_get_int_member (o, "step");
  state->best_epoch = (int) json_object_get_int_member (o, "best_epoch");
  state->best_value = json_object_get_double_member (o, "best_value");
  state->seconds = json_object_get_double_member (o, "seconds");
  if (state->epoch < 1 || state->epoch > options->epochs || state->step < 0 || state->best_epoch < 1
      || state->best_epoch > state->epoch)
    return trainer_checkpoint_fault (error, path, "its epoch counts are out of range for this run");
  JsonObject *best_val = json_object_get_object_member (o, "best_val");
  state->best_val.n = 0;
  if (best_val)
    {
      g_autoptr (GList) keys = json_object_get_members (best_val);
      for (GList *l = keys; l && state->best_val.n < NFN_TRAINER_MAX_METRICS; l = l->next)
        {
          JsonNode *v = json_object_get_member (best_val, l->data);
          nfn_trainer_metrics_add (&state->best_val, l->data, JSON_NODE_HOLDS_NULL (v) ? NAN : json_node_get_double (v));
        }
    }
  if (task->rng)
    {
      JsonObject *r = json_object_has_member (o, "rng") ? json_object_get_object_member (o, "rng") : NULL;
      const char *name = r && json_object_has_member (r, "name") ? json_object_get_string_member (r, "name") : NULL;
      const char *b64 = r && json_object_has_member (r, "state") ? json_object_get_string_member (r, "state") : NULL;
      if (!name || !b64 || strcmp (name, gsl_rng_name (task->rng)) != 0)
        return trainer_checkpoint_fault (error, path, "its generator state is missing or of another kind");
      gsize length;
      g_autofree guchar *bytes = g_base64_decode (b64, &length);
      if (length != gsl_rng_size (task->rng))
        return trainer_checkpoint_fault (error, path, "its generator state has the wrong size");
      memcpy (gsl_rng_state (task->rng), bytes, length);
    }
  for (int k = 0; k < 4; k++)
    memcpy (dest[k], tensors[k]->data, task->n_params * sizeof (float));
  return TRUE;
}

char *
nfn_trainer_find_checkpoint (NfnStore *store, gint64 run, GError **error)
{
  g_autoptr (GPtrArray) artifacts = nfn_store_run_artifacts (store, run, error);
  if (!artifacts)
    return NULL;
  for (guint k = artifacts->len; k-- > 0;)
    {
      NfnArtifact *a = g_ptr_array_index (artifacts, k);
      /* the checkpoint file appears atomically at the end of the first epoch */
      if (strcmp (a->kind, "checkpoint") == 0 && g_file_test (a->path, G_FILE_TEST_EXISTS))
        return g_strdup (a->path);
    }
  g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_NOT_FOUND,
               "%s: run %" G_GINT64_FORMAT " has no checkpoint (it stopped before its first epoch ended; start it again)",
               nfn_store_get_path (store), run);
  return NULL;
}

/* ---- the loop ---- */

void
nfn_trainer_options_init (NfnTrainerOptions *options)
{
  memset (options, 0, sizeof *options);
  options->epochs = 10;
  options->batch_size = 32;
  options->lr = 1e-3;
  options->log_every = 10;
  options->task_name = "train";
}

void
nfn_trainer_report_clear (NfnTrainerReport *report)
{
  g_clear_pointer (&report->checkpoint_path, g_free);
  g_clear_pointer (&report->test_outputs, g_free);
  memset (report, 0, sizeof *report);
}

/* The generator of epoch e's shuffle and augmentation: a function of (seed, epoch) only, so
 * a resumed run draws what an uninterrupted one would (splitmix64 of the pair). */
static unsigned long
trainer_epoch_seed (guint64 seed, int epoch)
{
  guint64 z = seed + 0x9e3779b97f4a7c15ULL * (guint64) (epoch + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return (unsigned long) (z ^ (z >> 31));
}

typedef struct {
  const NfnTrainerTask *task;
  const NfnTrainerOptions *options;
  NfnTrainerProgress progress;
} TrainerLoop;

static void
trainer_report_progress (TrainerLoop *loop, const char *phase)
{
  loop->progress.phase = phase;
  if (loop->options->progress)
    loop->options->progress (&loop->progress, loop->options->user_data);
}

static gboolean
trainer_log (const NfnTrainerOptions *options, gint64 run, gint64 step, const char *prefix,
             const NfnTrainerMetrics *metrics, GError **error)
{
  if (!options->store || metrics->n == 0)
    return TRUE;
  char *names[NFN_TRAINER_MAX_METRICS];
  for (int k = 0; k < metrics->n; k++)
    names[k] = g_strconcat (prefix, metrics->names[k], NULL);
  gboolean ok = nfn_store_run_log (options->store, run, step, metrics->n, (const char *const *) names, metrics->values, error);
  for (int k = 0; k < metrics->n; k++)
    g_free (names[k]);
  return ok;
}

static gboolean
trainer_check_args (const NfnTrainerTask *task, const NfnTrainerSet *train, const NfnTrainerSet *val,
                    const NfnTrainerSet *test, const NfnTrainerOptions *options, GError **error)
{
  const char *fault = NULL;
  if (!task->train_step || !task->predict || !task->score || !task->select_metric || task->output_dim < 1
      || !task->params || !task->adam_m || !task->adam_v || task->n_params == 0)
    fault = "the task is incomplete";
  else if (nfn_trainer_set_size (train) < 1 || !val || nfn_trainer_set_size (val) < 1)
    fault = "the training and validation sets must not be empty";
  else if (!nfn_space_equal (&train->networks.space, &val->networks.space)
           || (test && !nfn_space_equal (&train->networks.space, &test->networks.space)))
    fault = "the training, validation and test networks have different architectures";
  else if (options->epochs < 1 || options->batch_size < 1 || !(options->lr > 0))
    fault = "epochs, batch size and learning rate must be positive";
  else if (options->resume_run > 0 && !options->store)
    fault = "resuming a run needs its store";
  else if (options->bf16 && !nfn_bf16_supported ())
    fault = "precision bf16 needs a CPU with AVX512-BF16, and this one lacks it";
  if (!fault)
    return TRUE;
  g_set_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, "train: %s", fault);
  return FALSE;
}

static char *
trainer_default_checkpoint_path (NfnStore *store, gint64 run)
{
  g_autofree char *db = g_canonicalize_filename (nfn_store_get_path (store), NULL);
  g_autofree char *dir = g_path_get_dirname (db);
  g_autofree char *name = g_strdup_printf ("run-%" G_GINT64_FORMAT ".safetensors", run);
  return g_build_filename (dir, "checkpoints", name, NULL);
}

/* Takes a run over for resuming: it must exist, be this task's, and not be alive elsewhere. */
static gboolean
trainer_claim_run (const NfnTrainerOptions *options, GError **error)
{
  g_autoptr (NfnRun) run = nfn_store_get_run (options->store, options->resume_run, error);
  if (!run)
    return FALSE;
  const char *path = nfn_store_get_path (options->store);
  if (g_strcmp0 (run->task, options->task_name) != 0)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, path, "run %" G_GINT64_FORMAT " is a %s run, not %s",
                          run->id, run->task, options->task_name);
      return FALSE;
    }
  if (run->status == NFN_RUN_RUNNING || run->status == NFN_RUN_COMPLETED)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, path,
                          "run %" G_GINT64_FORMAT " is %s; only an interrupted, failed or cancelled run can resume",
                          run->id, nfn_run_status_name (run->status));
      return FALSE;
    }
  return nfn_store_run_resume (options->store, run->id, error);
}

static void
trainer_build_summary (JsonBuilder *b, const NfnTrainerReport *report, const NfnTrainerSet *train,
                       const NfnTrainerSet *val, const NfnTrainerSet *test)
{
  json_builder_set_member_name (b, "best_epoch");
  json_builder_add_int_value (b, report->best_epoch);
  json_builder_set_member_name (b, "epochs");
  json_builder_add_int_value (b, report->epochs_done);
  json_builder_set_member_name (b, "steps");
  json_builder_add_int_value (b, report->steps);
  json_builder_set_member_name (b, "val");
  trainer_add_metrics_object (b, &report->val);
  if (test)
    {
      json_builder_set_member_name (b, "test");
      trainer_add_metrics_object (b, &report->test);
    }
  json_builder_set_member_name (b, "wall_seconds");
  json_builder_add_double_value (b, report->seconds);
  json_builder_set_member_name (b, "params");
  json_builder_add_int_value (b, (gint64) report->params);
  json_builder_set_member_name (b, "train_networks");
  json_builder_add_int_value (b, nfn_trainer_set_size (train));
  json_builder_set_member_name (b, "val_networks");
  json_builder_add_int_value (b, nfn_trainer_set_size (val));
  json_builder_set_member_name (b, "test_networks");
  json_builder_add_int_value (b, test ? nfn_trainer_set_size (test) : 0);
  json_builder_set_member_name (b, "resumed_from_epoch");
  json_builder_add_int_value (b, report->resumed_from_epoch);
}

static gboolean
trainer_better (const NfnTrainerTask *task, double value, double best, int best_epoch)
{
  if (best_epoch == 0)
    return TRUE;
  if (isnan (value))
    return FALSE;
  return task->select_higher ? value > best : value < best;
}

/* One epoch of optimiser steps. */
static gboolean
trainer_epoch (TrainerLoop *loop, int epoch, const NfnTrainerSet *train, nfn_adam *opt, gint64 run,
               nfn_feature *batch_storage, int *batch_labels, float *batch_targets, double *epoch_loss, GError **error)
{
  const NfnTrainerTask *task = loop->task;
  const NfnTrainerOptions *options = loop->options;
  int N = nfn_trainer_set_size (train), B = batch_storage->B, T = train->target_dim;
  gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (rng, trainer_epoch_seed (options->seed, epoch));
  g_autofree int *order = g_new (int, N);
  for (int k = 0; k < N; k++)
    order[k] = k;
  gsl_ran_shuffle (rng, order, N, sizeof (int));

  int log_every = options->log_every > 0 ? options->log_every : 10;
  double window = 0, total = 0;
  int in_window = 0, steps = 0;
  gboolean ok = TRUE;
  for (int first = 0; ok && first < N; first += B)
    {
      if (options->cancel && *options->cancel)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "train: cancelled");
          ok = FALSE;
          break;
        }
      int n = MIN (B, N - first);
      const int *index = order + first;
      nfn_feature inputs;
      nfn_feature_wrap (&inputs, &train->networks.space, n, 1, batch_storage->data);
      trainer_copy_networks (&train->networks, index, n, &inputs);
      for (int k = 0; k < n && train->labels; k++)
        batch_labels[k] = train->labels[index[k]];
      for (int k = 0; k < n && train->targets; k++)
        memcpy (batch_targets + (size_t) k * T, train->targets + (size_t) index[k] * T, T * sizeof (float));
      if (task->augment)
        task->augment (task->self, &inputs, train->targets ? batch_targets : NULL, rng);
      double loss = NAN;
      nfn_status st = task->train_step (task->self, &inputs, train->labels ? batch_labels : NULL,
                                        train->targets ? batch_targets : NULL, opt, &loss);
      if (st != NFN_OK)
        {
          g_set_error (error, NFN_DATA_ERROR, st == NFN_ERR_NONFINITE ? NFN_DATA_ERROR_NONFINITE : NFN_DATA_ERROR_UNSUPPORTED,
                       "train: step %ld of epoch %d failed: %s%s", opt->step + 1, epoch, nfn_status_message (st),
                       st == NFN_ERR_NONFINITE ? " (the loss diverged; try a lower --lr)" : "");
          ok = FALSE;
          break;
        }
      steps++;
      window += loss;
      total += loss;
      in_window++;
      loop->progress.step = opt->step;
      loop->progress.epoch_step = steps;
      loop->progress.loss = total / steps;
      if (in_window == log_every || first + B >= N)
        {
          NfnTrainerMetrics m = { 0 };
          nfn_trainer_metrics_add (&m, "loss", window / in_window);
          nfn_trainer_metrics_add (&m, "lr", nfn_adam_lr (opt, opt->step));
          ok = trainer_log (options, run, opt->step, "train/", &m, error);
          window = 0;
          in_window = 0;
        }
      trainer_report_progress (loop, "train");
    }
  gsl_rng_free (rng);
  *epoch_loss = steps > 0 ? total / steps : NAN;
  return ok;
}

/* Everything after the run is claimed: epochs, the best parameters, the test set, the summary.
 * state comes from the checkpoint on resume (epoch 0 otherwise). */
static gboolean
trainer_train (const NfnTrainerTask *task, const NfnTrainerSet *train, const NfnTrainerSet *val,
               const NfnTrainerSet *test, const NfnTrainerOptions *options, gint64 run, const char *checkpoint,
               TrainerProgressState *state, float *best_params, NfnTrainerReport *report, GError **error)
{
  NfnStore *store = options->store;
  gint64 t0 = g_get_monotonic_time ();
  double seconds_before = state->seconds;
  if (checkpoint)
    {
      g_autofree char *dir = g_path_get_dirname (checkpoint);
      if (g_mkdir_with_parents (dir, 0755) != 0)
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_IO, dir, "cannot create the checkpoint directory: %s", g_strerror (errno));
          return FALSE;
        }
      /* The row goes in before the first file, so a kill between an epoch's checkpoint file and
       * its row cannot orphan the file; nfn_trainer_find_checkpoint treats a registered path
       * with no file yet as "no checkpoint". */
      if (store && options->resume_run <= 0
          && !nfn_store_run_add_artifact (store, run, "checkpoint", checkpoint,
                                          "training state after the last finished epoch", error))
        return FALSE;
    }

  nfn_adam opt;
  nfn_adam_init (&opt, options->lr);
  opt.weight_decay = options->weight_decay;
  opt.decoupled = options->decoupled;
  opt.warmup_steps = options->warmup_steps;
  opt.step = state->step;

  int N = nfn_trainer_set_size (train);
  int B = MIN (options->batch_size, N);
  if (options->cosine)
    opt.decay_steps = (long) options->epochs * ((N + B - 1) / B);
  nfn_feature batch;
  if (nfn_feature_alloc (&batch, &train->networks.space, B, 1) != NFN_OK)
    return trainer_fail_nomem (error, "a batch");
  g_autofree int *batch_labels = g_new0 (int, B);
  g_autofree float *batch_targets = g_new0 (float, (gsize) B * MAX (train->target_dim, 1));

  TrainerLoop loop = { task, options, { 0 } };
  loop.progress.epochs = options->epochs;
  loop.progress.steps_per_epoch = (N + B - 1) / B;
  loop.progress.val_value = NAN;
  loop.progress.best_value = state->best_value;
  loop.progress.best_epoch = state->best_epoch;
  loop.progress.step = opt.step;

  gboolean ok = TRUE;
  for (int epoch = state->epoch + 1; ok && epoch <= options->epochs; epoch++)
    {
      gint64 epoch_t0 = g_get_monotonic_time ();
      loop.progress.epoch = epoch;
      loop.progress.epoch_step = 0;
      loop.progress.loss = NAN;
      double epoch_loss;
      if (!(ok = trainer_epoch (&loop, epoch, train, &opt, run, &batch, batch_labels, batch_targets, &epoch_loss, error)))
        break;

      trainer_report_progress (&loop, "val");
      g_autofree float *outputs = nfn_trainer_predict_set (task, val, options->batch_size, error);
      NfnTrainerMetrics metrics = { 0 };
      if (!(ok = outputs && task->score (task->self, val, outputs, &metrics, error)))
        break;
      double value = nfn_trainer_metrics_get (&metrics, task->select_metric);
      if (trainer_better (task, value, state->best_value, state->best_epoch))
        {
          state->best_epoch = epoch;
          state->best_value = value;
          state->best_val = metrics;
          memcpy (best_params, task->params, task->n_params * sizeof (float));
        }
      state->epoch = epoch;
      state->step = opt.step;
      state->seconds = seconds_before + (g_get_monotonic_time () - t0) / 1e6;
      NfnTrainerMetrics epoch_metrics = { 0 };
      nfn_trainer_metrics_add (&epoch_metrics, "train/epoch_loss", epoch_loss);
      nfn_trainer_metrics_add (&epoch_metrics, "epoch", epoch);
      nfn_trainer_metrics_add (&epoch_metrics, "train/epoch_seconds", (g_get_monotonic_time () - epoch_t0) / 1e6);
      if (!(ok = trainer_log (options, run, opt.step, "val/", &metrics, error)
                 && trainer_log (options, run, opt.step, "", &epoch_metrics, error)))
        break;
      if (checkpoint)
        {
          if (!(ok = trainer_write_checkpoint (checkpoint, task, options, run, state, best_params, error)))
            break;
        }
      loop.progress.val_value = value;
      loop.progress.best_value = state->best_value;
      loop.progress.best_epoch = state->best_epoch;
      trainer_report_progress (&loop, "epoch");
    }
  nfn_feature_free (&batch);
  if (!ok)
    return FALSE;

  /* the best epoch's parameters, then the test set */
  memcpy (task->params, best_params, task->n_params * sizeof (float));
  report->checkpoint_path = g_strdup (checkpoint);
  report->epochs_done = state->epoch;
  report->best_epoch = state->best_epoch;
  report->steps = opt.step;
  report->val = state->best_val;
  report->params = task->n_trainable ? task->n_trainable : task->n_params;
  if (test && nfn_trainer_set_size (test) > 0)
    {
      trainer_report_progress (&loop, "test");
      report->test_outputs = nfn_trainer_predict_set (task, test, options->batch_size, error);
      if (!report->test_outputs || !task->score (task->self, test, report->test_outputs, &report->test, error)
          || !trainer_log (options, run, opt.step, "test/", &report->test, error))
        return FALSE;
    }
  report->seconds = seconds_before + (g_get_monotonic_time () - t0) / 1e6;

  g_autoptr (JsonBuilder) summary = json_builder_new ();
  json_builder_begin_object (summary);
  trainer_build_summary (summary, report, train, val, test);
  if (options->finish && !options->finish (report, summary, options->finish_data, error))
    return FALSE;
  json_builder_end_object (summary);
  if (store)
    {
      g_autofree char *text = nfn_json_builder_to_text (summary, FALSE);
      if (!nfn_store_run_set_summary (store, run, text, error) || !nfn_store_run_finish (store, run, NFN_RUN_COMPLETED, error))
        return FALSE;
    }
  loop.progress.epoch = state->epoch;
  trainer_report_progress (&loop, "done");
  return TRUE;
}

gboolean
nfn_trainer_run (const NfnTrainerTask *task, const NfnTrainerSet *train, const NfnTrainerSet *val,
                 const NfnTrainerSet *test, const NfnTrainerOptions *options, NfnTrainerReport *report, GError **error)
{
  g_return_val_if_fail (task != NULL && train != NULL && options != NULL && report != NULL, FALSE);
  memset (report, 0, sizeof *report);
  if (!trainer_check_args (task, train, val, test, options, error))
    return FALSE;
  NfnStore *store = options->store;
  gint64 run = 0;
  g_autofree char *checkpoint = NULL;
  TrainerProgressState state = { 0 };
  state.best_value = NAN;
  g_autofree float *best_params = g_try_new (float, task->n_params);
  if (!best_params)
    return trainer_fail_nomem (error, "the best parameters");
  memcpy (best_params, task->params, task->n_params * sizeof (float));

  if (options->resume_run > 0)
    {
      run = options->resume_run;
      if (!(checkpoint = nfn_trainer_find_checkpoint (store, run, error))
          || !trainer_read_checkpoint (checkpoint, task, options, run, &state, best_params, error)
          || !trainer_claim_run (options, error))
        return FALSE;
      report->resumed_from_epoch = state.epoch;
    }
  else if (store)
    {
      run = nfn_store_run_begin (store, options->experiment, options->task_name, options->model_name,
                                 options->config_json, options->seed, error);
      if (run <= 0)
        return FALSE;
    }
  if (!checkpoint && options->checkpoint_path)
    checkpoint = g_strdup (options->checkpoint_path);
  else if (!checkpoint && store)
    checkpoint = trainer_default_checkpoint_path (store, run);
  report->run_id = run;
  nfn_precision before = nfn_get_precision ();
  if (options->bf16)
    nfn_set_precision (NFN_PRECISION_BF16);
  gboolean ok = trainer_train (task, train, val, test, options, run, checkpoint, &state, best_params, report, error);
  nfn_set_precision (before);
  if (ok)
    return TRUE;
  if (store && run > 0)
    {
      gboolean cancelled = error && *error && g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      nfn_store_run_finish (store, run, cancelled ? NFN_RUN_CANCELLED : NFN_RUN_FAILED, NULL);
    }
  g_clear_pointer (&report->test_outputs, g_free);
  return FALSE;
}
