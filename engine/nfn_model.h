/* nfn_model.h — an NFN model assembled from the layers: weight-space encoder → pool → MLP head.
 *
 *   NP / HNP:   [Fourier features] [IO encoding (NP)] (eq layer, ReLU|GELU, [channel dropout]) × depth
 *               → invariant pool of the model's symmetry → head
 *   pointwise:  as NP but every eq layer is a pointwise layer (no cross-tensor terms) → NP pool
 *   mlp:        flatten the raw weights → head
 *   stat:       StatNN features (7 statistics per tensor) → head
 *   pool_stats: an NP/HNP/pointwise LOGITS model appends the input's StatNN features to its pool
 *               (the reference's append_stats), so the head sees both
 *   head:       (linear, ReLU|GELU, [dropout]) × hidden widths, then linear to n_out
 *
 * One arena per kind of memory: params, grads, Adam moments (m, v) and activations, each sized
 * from the config before anything runs, so saving, zeroing and copying are one call each.
 * Shape letters: B networks per batch, C channels, D pooled width, K outputs.
 */
#ifndef NFN_MODEL_H
#define NFN_MODEL_H

#include "nfn_core.h"
#include "nfn_equivariant.h"
#include "nfn_train.h"
#include <gsl/gsl_rng.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  NFN_MODEL_NP = 0,
  NFN_MODEL_HNP,
  NFN_MODEL_POINTWISE,
  NFN_MODEL_MLP,
  NFN_MODEL_STAT
} nfn_model_kind;

const char *nfn_model_kind_name (nfn_model_kind kind); /* "np", "hnp", "pointwise", "mlp", "stat" */
int nfn_model_kind_parse (const char *name, nfn_model_kind *out);
/* 1 for the kinds with an NF encoder (np, hnp, pointwise): Fourier features, NF layers and an
 * invariant pool, to which pool_stats can append StatNN features; 0 for mlp and stat. */
int nfn_model_kind_has_encoder (nfn_model_kind kind);

typedef enum { NFN_MODEL_RELU = 0, NFN_MODEL_GELU } nfn_model_activation;

/* What the model outputs:
 *   LOGITS  — invariant: pool → head → (B, n_out) (classification, regression);
 *   WEIGHTS — equivariant: a weight-space feature (B, out_channels) over the input's space, e.g.
 *             an edit delta or per-weight mask logits. NP/HNP/pointwise: the encoder, then one
 *             more NF layer to out_channels (no activation); mlp: flatten → head → every weight.
 *             Then a LearnedScale (one scalar per tensor) starting at out_scale, unless 0. */
typedef enum { NFN_MODEL_OUT_LOGITS = 0, NFN_MODEL_OUT_WEIGHTS } nfn_model_output;

#define NFN_MODEL_MAX_DEPTH 8
#define NFN_MODEL_MAX_HEAD 4

typedef struct {
  nfn_model_kind kind;
  nfn_space space;      /* the input weight space */
  int max_batch;        /* B the activation arena is sized for */
  int fourier_m;        /* Fourier features give 2m channels; 0 = off */
  double fourier_scale; /* std of the Fourier matrix */
  int io_bands;         /* NP only: IO encoding bands; 0 = off */
  int depth;            /* NF layers */
  int channels;         /* their output channels */
  int layer_channels[NFN_MODEL_MAX_DEPTH]; /* NF layer k's output channels, when > 0 (the paper's
                                              [16, 16, 5]); 0 = channels */
  float channel_dropout;
  nfn_model_activation activation; /* after every NF layer and hidden head layer */
  int n_head;                        /* hidden layers of the head */
  int head_widths[NFN_MODEL_MAX_HEAD];
  float head_dropout;
  int pool_stats;       /* LOGITS encoder models: append the input's StatNN features to the pool */
  int n_out;            /* K (LOGITS) */
  nfn_model_output output;
  int out_channels;     /* WEIGHTS: channels of the output feature (1 for deltas and masks) */
  float out_scale;      /* WEIGHTS: LearnedScale's initial value (0.01 for edits); 0 = none */
  int input_grad;       /* backward also computes d(input); off (training) skips the first
                           layer's dX GEMM and the Fourier backward */
} nfn_model_config;

/* Defaults: Fourier 128 (256 channels, scale 3), 3 layers of 128, no dropout, head 1000-1000. */
void nfn_model_config_default (nfn_model_config *cfg, nfn_model_kind kind, const nfn_space *space, int n_out);
nfn_status nfn_model_config_check (const nfn_model_config *cfg);
/* Output channels of NF layer k < depth: layer_channels[k], or channels when that is 0. */
int nfn_model_layer_channels (const nfn_model_config *cfg, int k);

typedef struct nfn_model nfn_model;

nfn_status nfn_model_new (const nfn_model_config *cfg, unsigned long seed, nfn_model **out);
void nfn_model_free (nfn_model *model);
const nfn_model_config *nfn_model_get_config (const nfn_model *model);

/* The parameter arena: (n_params) floats; grads, m and v have the same layout. */
float *nfn_model_params (nfn_model *model);
float *nfn_model_grads (nfn_model *model);
size_t nfn_model_param_count (const nfn_model *model);
/* The whole params arena including fixed buffers (the Fourier matrix): what a saved model
 * holds. (n_all) floats; the first nfn_model_param_count() are trainable. */
size_t nfn_model_param_count_all (const nfn_model *model);
/* Adam's moments, same layout as the parameters (for checkpoints that resume exactly). */
float *nfn_model_adam_m (nfn_model *model);
float *nfn_model_adam_v (nfn_model *model);
/* The model's own generator (dropout masks); checkpoints save and restore its state. */
gsl_rng *nfn_model_rng (nfn_model *model);
/* A named block of the params arena, for files a PyTorch user can read: params[offset …]
 * holds shape[0] floats (rank 1) or a row-major (shape[0], shape[1]) matrix (rank 2) —
 * unless `transposed`, when the arena holds its (shape[1], shape[0]) transpose (the head's
 * linear weights, (in, out) in the arena, (out, in) as PyTorch's nn.Linear keeps them).
 * Names: "encoder.K.W2.full.weight" / ".bias" (equivariant class matrices; classes "full",
 * "along<set>", "const"), "encoder.K.W2.weight" / ".bias" (pointwise), "head.J.weight" /
 * ".bias", "output.scale", "fourier.matrix" (fixed). Arena order, covering every parameter. */
typedef struct {
  char name[64];
  size_t offset;
  int rank;
  int shape[2];
  int transposed;
} nfn_model_param_block;
/* Writes up to max blocks; returns how many the model has (call with max = 0 to count). */
int nfn_model_param_blocks (const nfn_model *model, nfn_model_param_block *blocks, int max);
/* Bytes of all four arenas plus activations. */
size_t nfn_model_memory_bytes (const nfn_model *model);

/* logits (B, K) from raw weights (C = 1 feature, B ≤ max_batch, same space). Training turns on
 * dropout with the model's generator. The returned pointer lives in the activation arena. */
nfn_status nfn_model_forward (nfn_model *model, const nfn_feature *input, int training, const float **logits);
/* WEIGHTS models: the output feature (B, out_channels), living in the activation arena. */
nfn_status nfn_model_forward_weights (nfn_model *model, const nfn_feature *input, int training,
                                      const nfn_feature **out);
/* WEIGHTS models: from d(loss)/d(output) (B, out_channels): overwrites the gradient arena. */
nfn_status nfn_model_backward_weights (nfn_model *model, const nfn_feature *dout);

/* LOGITS models: from d(loss)/d(logits) (B, K) of the last forward: overwrites the gradient arena. */
nfn_status nfn_model_backward (nfn_model *model, const float *dlogits);
/* The input gradient of the last backward (C = 1 feature); zeros unless cfg.input_grad. */
const nfn_feature *nfn_model_input_grad (const nfn_model *model);

/* One Adam step on the model's parameters with its own moments. */
void nfn_model_adam_step (nfn_model *model, nfn_adam *opt);

/* Cross-entropy training step: forward, loss, backward, Adam. */
nfn_status nfn_model_train_step_ce (nfn_model *model, nfn_adam *opt, const nfn_feature *input,
                                    const int *labels, double *loss);

#ifdef __cplusplus
}
#endif
#endif
