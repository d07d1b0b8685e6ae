/* nfn_task.h — the training tasks as calls: `nfn train classify|edit|mask|genpred` and the
 * GUI's Tasks page run the same code, so a run started in either is the same run (same config
 * JSON, same store rows, same model file).
 *
 * A run: fill NfnTaskOptions with the task's defaults (nfn_task_*_defaults), change what the
 * user gave, call nfn_task_*_run with an open store (the calling thread's: NfnStore is one
 * thread's at a time) and optional hooks. The run loads the zoos into memory, builds the model,
 * drives the shared trainer (data/nfn_trainer.h: epochs, best-epoch selection, checkpoints,
 * store rows), saves the best model and returns the run id and its summary. With
 * options.resume > 0 every setting comes from that run's config (only threads is taken from
 * the options) and training continues from its checkpoint.
 *
 * Cancel (GCancellable or the hooks' flag, e.g. a SIGINT handler's) is checked before every
 * step and inside the mask task's masked training: the run returns FALSE with
 * G_IO_ERROR_CANCELLED, is marked cancelled, and its last checkpoint stays (resume it). The
 * genpred spectral baseline checks it between networks, before its run is recorded.
 * Errors are one line naming the file or the option at fault, in NFN_DATA_ERROR.
 *
 * Shape letters: P pixels (R×Cc) of an image; L layers.
 */
#ifndef NFN_TASK_H
#define NFN_TASK_H

#include <gio/gio.h>
#include "nfn_model_file.h"
#include "nfn_store.h"
#include "nfn_ticket_zoo.h"
#include "nfn_trainer.h"

G_BEGIN_DECLS

/* The runs' task names in the store, and the model files' task. */
#define NFN_TASK_CLASSIFY "train-classify"
#define NFN_TASK_EDIT "train-edit"
#define NFN_TASK_MASK "train-mask"
#define NFN_TASK_GENPRED "train-genpred"
#define NFN_TASK_VAL_FRACTION 0.1

/* Every option of the tasks; each task reads the ones its CLI offers. Strings are owned
 * (nfn_task_options_clear frees them); NULL means "not given". */
typedef struct {
  char *zoo, *val, *test;  /* zoo directories; without val the last tenth of zoo validates */
  char *out;               /* the model file; NULL: models/run-ID….safetensors beside the store */
  char *model;             /* the NFN kind: np, hnp, pointwise, mlp, mlp-aug (classify), stat */
  int epochs, batch;
  double lr, weight_decay;
  gint64 warmup, seed;
  gboolean cosine;         /* cosine lr decay to 0 at the last step, after the warmup */
  int channels, depth;     /* edit: 0 = the editor's default */
  int layer_channels[NFN_MODEL_MAX_DEPTH]; /* per-layer widths (nfn_task_parse_channels), 0 = channels;
                                              not for edit */
  int fourier;             /* Gaussian Fourier features m (classify, mask) */
  double fourier_scale;
  int io_bands;
  double dropout;          /* channel dropout after each NF layer (classify) */
  char *head;              /* "1000,1000" or "none" (classify) */
  double head_dropout;
  gboolean append_stats;   /* np/hnp/pointwise: StatNN features beside the invariant pool (classify, genpred) */
  gboolean augment;
  gboolean bf16;           /* GEMMs in bfloat16 (nfn_gemm.h) for the whole run; needs AVX512-BF16 */
  gboolean normalize;      /* standardise each input tensor by the training set (NfnTrainerNorm) */
  int threads;             /* < 1: every core; more than the cores is cut */
  gint64 resume;           /* > 0: continue this run (its settings) */
  /* edit */
  char *transform;         /* dilate, erode, gradient or invert */
  /* mask */
  char *balance;             /* "layer" (NULL) or "global" */
  char *selection;           /* "layer", "global" or "spread"; NULL: NFN_TASK_MASK_DEFAULT_SELECT */
  int val_train;
  /* genpred */
  char *scatter;           /* the scatter PNG; NULL: figures/run-ID-scatter.png beside the store */
  gint64 split_seed;       /* of the zoo's train/val/test split */
} NfnTaskOptions;

void nfn_task_classify_defaults (NfnTaskOptions *options);
void nfn_task_edit_defaults (NfnTaskOptions *options);
void nfn_task_mask_defaults (NfnTaskOptions *options);
void nfn_task_genpred_defaults (NfnTaskOptions *options);
void nfn_task_options_clear (NfnTaskOptions *options);
/* A --threads value as the machine allows it (< 1: every core). */
int nfn_task_clamp_threads (int threads);

typedef struct {
  /* After the sets are loaded and the model built, before the first step: one line that says
   * what runs ("train classify: np on 450 networks (…), val 50, …"). May be NULL. */
  void (*started) (const char *description, gpointer user_data);
  /* The trainer's progress, from the running thread, after every step and phase. May be NULL. */
  void (*progress) (const NfnTrainerProgress *progress, gpointer user_data);
  gpointer user_data;
  volatile int *cancel;    /* set to cancel (e.g. from a signal handler); may be NULL */
} NfnTaskHooks;

typedef struct {
  gint64 run_id;
  char *summary_json;      /* the run's summary as stored */
  char *model_path;        /* the saved model */
  char *model_name;        /* the kind the run used (from the run's config when resumed) */
  char *transform;         /* edit: the run's transform */
  char *scatter_path;      /* genpred: the predicted-vs-true scatter PNG */
  /* genpred spectral: no training; run_id, seconds and the val and test metrics ("tau", "r2",
   * "mse"; test also "tau_neg_alpha") only */
  NfnTrainerReport report;
  int train_networks, val_networks, test_networks;
  double unedited_val, unedited_test; /* edit: MSE of the unedited networks (NAN without test) */
} NfnTaskResult;

void nfn_task_result_clear (NfnTaskResult *result);

gboolean nfn_task_classify_run (const NfnTaskOptions *options, NfnStore *store, const NfnTaskHooks *hooks,
                                GCancellable *cancellable, NfnTaskResult *result, GError **error);
gboolean nfn_task_edit_run (const NfnTaskOptions *options, NfnStore *store, const NfnTaskHooks *hooks,
                            GCancellable *cancellable, NfnTaskResult *result, GError **error);
gboolean nfn_task_mask_run (const NfnTaskOptions *options, NfnStore *store, const NfnTaskHooks *hooks,
                            GCancellable *cancellable, NfnTaskResult *result, GError **error);
/* model "spectral" fits the baseline in one go (no epochs, no resume), the others train. */
gboolean nfn_task_genpred_run (const NfnTaskOptions *options, NfnStore *store, const NfnTaskHooks *hooks,
                               GCancellable *cancellable, NfnTaskResult *result, GError **error);

/* The shared resume check: run `run_id` of the store exists, is a `task_name` run, and is
 * interrupted, failed or cancelled (a running or completed run cannot resume). Returns the run
 * (its config holds the settings). */
NfnRun *nfn_task_resumable_run (NfnStore *store, gint64 run_id, const char *task_name, GError **error);

/* ---- Pieces `nfn predict|eval|edit|mask|eval-mask` and the GUI use ---- */

/* Classification: a whole zoo for evaluation (one network per image) of the given space. */
gboolean nfn_task_classify_load_eval_zoo (const char *path, const nfn_space *space, NfnTrainerSet *set, GError **error);
int nfn_task_set_max_label (const NfnTrainerSet *set);
/* counts (K, K): row = true class, column = predicted (the first argmax). g_free. */
gint64 *nfn_task_classify_confusion (const float *logits /* (N, K) */, const int *labels /* (N) */, int N, int K);
void nfn_task_classify_build_confusion (JsonBuilder *b, const float *logits, const int *labels, int N, int K);
/* The input norm a classifier file asks for (identity without one). */
gboolean nfn_task_classify_norm_from_info (const NfnModelFileInfo *info, const nfn_space *space, const char *label,
                                           NfnTrainerNorm *norm, GError **error);

/* Editing: what an editing model's file says besides its parameters (its transform, g_free,
 * and the standardisation of its input: n_tensors 0 for raw weights). */
gboolean nfn_task_edit_model_extra (const NfnModelFileInfo *info, const nfn_space *space, const char *label,
                                    char **transform, NfnTrainerNorm *norm, GError **error);
/* One zoo network before and after an editing model, and its target, as images in [0, 1]
 * (before, after, target: (P) each, g_free). */
gboolean nfn_task_edit_preview (const char *model_path, const char *zoo_path, gint64 image, int *rows, int *cols,
                                float **before, float **after, float **target, GError **error);

/* Mask search: how a mask is selected from an NFN's per-weight scores (kept in the model file):
 *   layer  — each layer keeps its top scores, with the training zoo's layer budgets;
 *   global — the global top scores;
 *   spread — the layer budgets, spread over each layer's rows and columns by the scores'
 *            expected counts (nfn_ticket_mask_spread). */
typedef enum {
  NFN_TASK_MASK_SELECT_LAYER = 0,
  NFN_TASK_MASK_SELECT_GLOBAL,
  NFN_TASK_MASK_SELECT_SPREAD
} NfnTaskMaskSelect;

/* The spread selection's temperature: the scores' marginals, flattened 2× (measured on a
 * validation zoo of MNIST tickets, tk200v in the README: 85.9 % at T = 1, 86.4 % at T = 2,
 * 86.1 % at T = 4, 85.6 % at T = 16 and at equal quotas, 82.5 % at T = 0.5). */
#define NFN_TASK_MASK_SPREAD_TEMPERATURE 2.0

/* What NfnTaskOptions.selection NULL means for a new run (a resumed run keeps its own). */
#define NFN_TASK_MASK_DEFAULT_SELECT NFN_TASK_MASK_SELECT_SPREAD

/* "layer", "global", "spread"; parse: FALSE for any other name (and NULL). */
const char *nfn_task_mask_select_name (NfnTaskMaskSelect how);
gboolean nfn_task_mask_select_parse (const char *name, NfnTaskMaskSelect *how);

typedef struct {
  NfnTaskMaskSelect how;
  double sparsity;                  /* of the training zoo */
  int L;
  double fraction[NFN_MAX_LAYERS];  /* the training zoo's IMP masks: kept fraction of W_i */
} NfnTaskMaskSelection;

/* masks (B, C = 1) from scores (B, C = 1) at `sparsity`. */
nfn_status nfn_task_mask_select (const NfnTaskMaskSelection *sel, double sparsity, const nfn_feature *scores,
                                 nfn_feature *masks);
/* A loaded mask model: refuses other tasks and outputs; fills the norm and the selection. */
gboolean nfn_task_mask_model_check (const nfn_model *model, const NfnModelFileInfo *info, const char *label,
                                    NfnTrainerNorm *norm, NfnTaskMaskSelection *sel, GError **error);
/* scores (B, C = 1) of raw inits (B, C = 1), batch by batch of the model's max_batch. */
nfn_status nfn_task_mask_model_scores (nfn_model *model, const NfnTrainerNorm *norm, const nfn_feature *inits,
                                       nfn_feature *scores);
/* Trains copies of `inits` under `masks` as the ticket zoo's recipe does, then measures them on
 * `measure`: accuracy (B). */
gboolean nfn_task_mask_train_accuracy (const nfn_arch *arch, const nfn_feature *inits, const nfn_feature *masks,
                                       const guint64 *ids, const NfnTicketZooSettings *ticket,
                                       const nfn_ticket_data *train, const nfn_ticket_data *measure, int threads,
                                       volatile int *cancel, float *accuracy /* (B) */, GError **error);
/* The mask a mask model predicts for network `index` of a ticket zoo: mask (1, C = 1), 0/1,
 * allocated here (nfn_feature_free), and its sparsity (pruned fraction of the weights). */
gboolean nfn_task_mask_preview (const char *model_path, const char *zoo_path, gint64 index, nfn_feature *mask,
                                double *sparsity, GError **error);
/* The pruned fraction of a 0/1 mask's weights (biases are never pruned and are not counted). */
double nfn_task_mask_sparsity (const nfn_feature *mask /* (1, C = 1) */);
double nfn_task_mean (const float *x, int n, double *std);

/* Accuracy prediction: the spectral baseline's model file (nfn_task_genpred.c describes it). */
typedef struct {
  nfn_space space;                              /* of the CNNs it was fitted on */
  double coefficients[NFN_MAX_LAYERS + 1];      /* c_0 … c_L of accuracy ≈ c_0 + Σ_i c_i·α_i */
  double alpha_fill[NFN_MAX_LAYERS];            /* α of a layer that has no fit */
} NfnTaskSpectralModel;

gboolean nfn_task_genpred_is_spectral_model (const char *path);
gboolean nfn_task_genpred_spectral_load (const char *path, NfnTaskSpectralModel *model, GError **error);
/* The predicted accuracy, in [0, 1], of network b of `weights` (the model's space). */
nfn_status nfn_task_genpred_spectral_predict (const NfnTaskSpectralModel *model, const nfn_feature *weights, int b,
                                              double *accuracy);

/* A member of the object `b` is building, as the tasks' configs, summaries and JSON output
 * write them: a string (null for NULL), an integer, a number (null when not finite). */
/* The MLP head's hidden widths from "1000,1000"; "" or "none" → no hidden layer. FALSE on
 * anything else (a non-number, a width outside 1 … 2^20, more than NFN_MODEL_MAX_HEAD). */
gboolean nfn_task_parse_head (const char *text, nfn_model_config *cfg);
/* NF layer widths from "64" (every layer: channels) or "16,16,5" (one per layer: channels = the
 * first, layer_channels and depth = the count), into `o`. FALSE on anything else (a
 * non-number, a width outside 1 … 2^16, more than NFN_MODEL_MAX_DEPTH widths); `o` untouched. */
gboolean nfn_task_parse_channels (const char *text, NfnTaskOptions *o);
/* The model's shape as the options give it, on a config nfn_model_config_default made: batch,
 * NF widths and depth, Fourier features, and IO encoding (np and pointwise only). */
void nfn_task_apply_shape (const NfnTaskOptions *o, nfn_model_config *cfg);
/* The head's options of classify and genpred: channel and head dropout, and --append-stats.
 * FALSE with "<command>: --append-stats …" when the model has no NF encoder to append to. */
gboolean nfn_task_apply_head_options (const NfnTaskOptions *o, const char *command, const char *model_name,
                                      nfn_model_config *cfg, GError **error);

void nfn_task_json_add_string (JsonBuilder *b, const char *name, const char *value);
void nfn_task_json_add_int (JsonBuilder *b, const char *name, gint64 value);
void nfn_task_json_add_number (JsonBuilder *b, const char *name, double value);

G_END_DECLS
#endif
