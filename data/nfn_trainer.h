/* nfn_trainer.h — the training loop every NFN task shares (classification, generalization
 * prediction, editing, masks): epochs of seeded minibatches over a set of networks held in
 * memory, an augmentation hook, per-epoch validation that selects the best checkpoint, test
 * evaluation of the best, store logging as it happens, atomic checkpoints every epoch, resume.
 *
 * Shape letters: N networks in a set, B networks in a batch, K outputs per network (logits,
 * one regression logit, pixels, per-weight scores: whatever the task's predict writes),
 * T target floats per network.
 *
 * What a task supplies (NfnTrainerTask): a train step on a batch (forward, loss, backward,
 * optimiser), an evaluation-mode predict on a batch, a score over a whole set's outputs, the
 * state a checkpoint must hold (parameter arena, Adam moments, the model's generator), and
 * optionally an augmentation of a batch. nfn_trainer_task_classify and
 * nfn_trainer_task_regress wire an nfn_model (LOGITS output) for the two common cases.
 *
 * Determinism: epoch e's shuffle and augmentation draw from a generator seeded from
 * (seed, e) alone; dropout draws from the model's generator, whose state checkpoints keep;
 * Adam's moments and step are saved exactly. So a run resumed from the checkpoint of epoch e
 * produces the same parameters, bit for bit, as one that was never interrupted (same
 * threads, same machine).
 *
 * Store rows (when options.store is set), task = options.task_name:
 *   metrics  "train/loss"          mean loss of the last log_every steps (and of an epoch's
 *                                  remainder), at the global step (1-based)
 *            "train/lr"            the learning rate of that step
 *            "train/epoch_loss"    mean over the epoch, at the epoch's last step
 *            "train/epoch_seconds" the epoch's wall time (training and validation), same step
 *            "val/<name>"          every metric of the task's score, same step
 *            "epoch"               the epoch just finished (1-based), same step
 *            "test/<name>"         the best parameters' score on the test set, at the last step
 *   artifact "checkpoint"          the checkpoint file (registered when the run starts, written
 *                                  after epoch 1 and then rewritten atomically
 *                                  after every epoch)
 *   summary  {"best_epoch", "epochs", "steps", "val": {…at best}, "test": {…}, "wall_seconds",
 *             "params", "train_networks", "val_networks", "test_networks", "resumed_from_epoch",
 *             plus whatever options.finish adds}
 * Errors are one line ("PATH: fault" or "train: fault") in NFN_DATA_ERROR; a cancel returns
 * FALSE with G_IO_ERROR_CANCELLED and marks the run cancelled (its checkpoint stays).
 */
#ifndef NFN_TRAINER_H
#define NFN_TRAINER_H

#include <glib.h>
#include <gsl/gsl_rng.h>
#include <json-glib/json-glib.h>
#include "nfn_model.h"
#include "nfn_store.h"
#include "nfn_zoo.h"

G_BEGIN_DECLS

/* ---- Sets of networks with targets, loaded once ---- */

typedef struct {
  nfn_feature networks; /* (N, C = 1): networks.B is N */
  int *labels;          /* (N) class labels, or NULL */
  float *targets;       /* (N, T) targets, or NULL */
  int target_dim;       /* T (0 without targets) */
  gint64 *source;       /* (N) where each network came from (zoo index), or NULL */
} NfnTrainerSet;

void nfn_trainer_set_clear (NfnTrainerSet *set);
static inline int nfn_trainer_set_size (const NfnTrainerSet *set) { return set->networks.B; }

/* Which networks of a zoo make a set. */
typedef enum {
  NFN_TRAINER_ZOO_ALL,       /* every network, refit copies included (training) */
  NFN_TRAINER_ZOO_FIRST_FIT, /* refit 0 of each image only (evaluation: one network per image) */
} NfnTrainerZooSelect;

/* Loads the networks of images [first_image, last_image) of a zoo (last_image −1 = all) with
 * their labels; source[] holds the zoo indices. */
gboolean nfn_trainer_set_load_zoo (NfnTrainerSet *set, NfnZooDir *zoo, gint64 first_image, gint64 last_image,
                                   NfnTrainerZooSelect select, GError **error);
/* dst = the n networks src[index[k]] (with their labels, targets, sources). */
gboolean nfn_trainer_set_gather (NfnTrainerSet *dst, const NfnTrainerSet *src, const int *index, int n,
                                 GError **error);

/* ---- Input normalisation ----
 * Raw weights differ in scale by orders of magnitude between tensors (a SIREN's hidden
 * weights are ~1/ω0 of its first layer's), which starves Fourier features and NF layers alike.
 * One affine map per tensor, x ← (x − mean_t) / std_t, fitted on the training set, commutes
 * with every neuron permutation, so it keeps equivariance and invariance. A model file keeps it
 * (NfnModelFileInfo.extra_json member "input_norm") so predictions apply the same map. */
typedef struct {
  int n_tensors;                 /* 2L; 0 = identity */
  float mean[NFN_MAX_TENSORS];
  float std[NFN_MAX_TENSORS];    /* > 0 */
} NfnTrainerNorm;

/* Per tensor: mean and population std over every entry of every network (std 0 → 1). */
void nfn_trainer_norm_fit (NfnTrainerNorm *norm, const nfn_feature *networks /* (N, C = 1) */);
/* In place, on every network of the batch (any C = 1 feature of the same space). */
void nfn_trainer_norm_apply (const NfnTrainerNorm *norm, nfn_feature *networks);
/* As a JSON object {"mean": [...], "std": [...]} at the builder's position, and back. */
void nfn_trainer_norm_build_json (JsonBuilder *builder, const NfnTrainerNorm *norm);
gboolean nfn_trainer_norm_from_json_node (JsonNode *node, const nfn_space *space, NfnTrainerNorm *norm,
                                          const char *label, GError **error);

/* ---- Metrics ---- */

#define NFN_TRAINER_MAX_METRICS 8

typedef struct {
  int n;
  const char *names[NFN_TRAINER_MAX_METRICS]; /* static strings, e.g. "accuracy", "loss" */
  double values[NFN_TRAINER_MAX_METRICS];
} NfnTrainerMetrics;

/* The value of `name`, NAN if absent. */
double nfn_trainer_metrics_get (const NfnTrainerMetrics *metrics, const char *name);
void nfn_trainer_metrics_add (NfnTrainerMetrics *metrics, const char *name, double value);
/* Replaces `metrics` with the regression scores of n predictions against the truth: "tau"
 * (Kendall's τ-b; 0 when n < 2), "r2" (0 when the truth is constant) and "mse". FALSE (with
 * the error) when τ is undefined (a NaN). */
gboolean nfn_trainer_regression_metrics (const double *pred, const double *truth, int n, NfnTrainerMetrics *metrics,
                                         GError **error);

/* ---- The task ---- */

typedef struct {
  gpointer self;               /* passed to every callback */
  int output_dim;              /* K: floats predict writes per network */
  const char *select_metric;   /* the score's metric that picks the best epoch, e.g. "accuracy" */
  gboolean select_higher;      /* TRUE: higher is better */

  /* The state a checkpoint holds (nfn_model: params/adam_m/adam_v, nfn_model_param_count_all,
   * nfn_model_rng). rng may be NULL. */
  float *params, *adam_m, *adam_v; /* (n_params) each */
  size_t n_params;
  size_t n_trainable; /* the trainable prefix of params (reported); 0 = n_params */
  gsl_rng *rng;

  /* One optimisation step: forward in training mode, loss, backward, opt step (opt->step
   * counts). labels (B) and targets (B, T) are the batch's, NULL when the set has none. */
  nfn_status (*train_step) (gpointer self, const nfn_feature *inputs /* (B, C = 1) */, const int *labels,
                            const float *targets, nfn_adam *opt, double *loss);
  /* Evaluation-mode outputs (no dropout, no state change besides activations). */
  nfn_status (*predict) (gpointer self, const nfn_feature *inputs /* (B, C = 1) */, float *outputs /* (B, K) */);
  /* Metrics of a whole set from its outputs; must include select_metric. FALSE + error if the
   * outputs cannot be scored (e.g. NaN). */
  gboolean (*score) (gpointer self, const NfnTrainerSet *set, const float *outputs /* (N, K) */,
                     NfnTrainerMetrics *metrics, GError **error);
  /* Optional: changes a training batch in place before the step, drawing from rng (e.g. a
   * random hidden-neuron permutation per network; a task with per-weight targets permutes
   * them alike). targets may be NULL. */
  void (*augment) (gpointer self, nfn_feature *inputs /* (B, C = 1) */, float *targets /* (B, T) */,
                   gsl_rng *rng);
} NfnTrainerTask;

/* Classification with an nfn_model (LOGITS, n_out classes): cross-entropy on labels;
 * score: "accuracy" (selected, higher) and "loss". */
void nfn_trainer_task_classify (NfnTrainerTask *task, nfn_model *model);
/* Regression of T = 1 target in [0, 1] with an nfn_model (LOGITS, n_out = 1): sigmoid output,
 * binary cross-entropy on the targets; score: "tau" (Kendall τ-b of sigmoid(output) and target,
 * selected, higher), "r2" (1 − SSE/SST of sigmoid(output)), "mse", "loss" (BCE). */
void nfn_trainer_task_regress (NfnTrainerTask *task, nfn_model *model);
/* An augment callback: each network of the batch gets its own uniformly random permutation of
 * the hidden neurons (HNP group); targets are left alone (an invariant task). */
void nfn_trainer_augment_hnp (gpointer self, nfn_feature *inputs, float *targets, gsl_rng *rng);

/* The task's outputs for a whole set, batch by batch: (N, K), freed with g_free. */
float *nfn_trainer_predict_set (const NfnTrainerTask *task, const NfnTrainerSet *set, int batch_size,
                                GError **error);

/* ---- The loop ---- */

typedef struct {
  int epoch, epochs;      /* 1-based epoch in progress (epochs done when phase is "done") */
  gint64 step;            /* global optimiser steps so far */
  gint64 steps_per_epoch;
  gint64 epoch_step;      /* steps done in this epoch */
  double loss;            /* running mean of this epoch's training loss */
  double val_value;       /* the last validation select metric, NAN before the first */
  double best_value;      /* best so far, NAN before the first */
  int best_epoch;         /* 0 before the first */
  const char *phase;      /* "train", "val", "test", "done" */
} NfnTrainerProgress;

typedef struct _NfnTrainerReport NfnTrainerReport;

typedef struct {
  int epochs;              /* ≥ 1 */
  int batch_size;          /* ≥ 1 (the model's max_batch bounds it) */
  double lr, weight_decay; /* AdamW when decoupled, else Adam with L2 */
  gboolean decoupled;
  gint64 warmup_steps;
  gboolean cosine;         /* cosine decay of the lr to 0 at the last step, after the warmup */
  gboolean bf16;           /* every GEMM of the run in bfloat16 (nfn_set_precision), the previous
                              precision restored after; a CPU without AVX512-BF16 fails the run
                              before it starts */
  guint64 seed;
  int log_every;           /* train/loss every N steps (≤ 0: 10) */

  /* store: NULL = no store rows */
  NfnStore *store;
  const char *experiment;  /* NULL = "default" */
  const char *task_name;   /* the run's task, e.g. "train-classify" */
  const char *model_name;  /* the run's model, e.g. "np" */
  const char *config_json; /* the run's config (a JSON object; it is what --resume rebuilds from) */
  gint64 resume_run;       /* > 0: continue this run from its checkpoint artifact */

  /* where checkpoints go; NULL = "checkpoints/run-<id>.safetensors" beside the store's file
   * with a store, none without */
  const char *checkpoint_path;

  /* GUI hooks: progress is called from the training thread, after every step and phase. */
  void (*progress) (const NfnTrainerProgress *progress, gpointer user_data);
  gpointer user_data;
  volatile int *cancel;    /* may be NULL; checked before every step */

  /* Called once at the end of a successful run with the best parameters in place (save the
   * model, add artifacts, add summary members to `summary`, an open object). FALSE fails the
   * run with its error. May be NULL. */
  gboolean (*finish) (const NfnTrainerReport *report, JsonBuilder *summary, gpointer finish_data, GError **error);
  gpointer finish_data;
} NfnTrainerOptions;

/* Defaults: 10 epochs, batch 32, lr 1e-3, no decay, no warmup, seed 0, log every 10 steps. */
void nfn_trainer_options_init (NfnTrainerOptions *options);

struct _NfnTrainerReport {
  gint64 run_id;           /* 0 without a store */
  char *checkpoint_path;   /* NULL without checkpoints */
  int epochs_done;         /* including those before a resume */
  int resumed_from_epoch;  /* 0 for a fresh run */
  int best_epoch;          /* ≥ 1 */
  gint64 steps;
  NfnTrainerMetrics val;   /* at the best epoch */
  NfnTrainerMetrics test;  /* of the best parameters (n = 0 without a test set) */
  float *test_outputs;     /* (N_test, K) of the best parameters, or NULL */
  double seconds;          /* wall time of the run (every call, resumed ones included) */
  size_t params;           /* trainable parameters (n_params of the task) */
};

void nfn_trainer_report_clear (NfnTrainerReport *report);

/* Trains task on `train`, selecting the best epoch on `val` (required), then evaluates the
 * best on `test` (may be NULL). On return the task's params hold the best epoch's. With
 * options.resume_run the run's checkpoint is read (its n_params must match the task's) and
 * training continues with epoch checkpoint.epoch + 1; the run is marked running again. */
gboolean nfn_trainer_run (const NfnTrainerTask *task, const NfnTrainerSet *train, const NfnTrainerSet *val,
                          const NfnTrainerSet *test, const NfnTrainerOptions *options, NfnTrainerReport *report,
                          GError **error);

/* The checkpoint artifact of a run (the newest), or NULL with NFN_DATA_ERROR_NOT_FOUND. */
char *nfn_trainer_find_checkpoint (NfnStore *store, gint64 run, GError **error);

G_END_DECLS
#endif
