/* nfn_ticket.h — winning tickets (Frankle & Carbin 2019) for small MLP classifiers: train many
 * networks at once, prune by global magnitude, train under a mask from the rewound init, and the
 * mask-prediction loss an NFN is trained with.
 *
 * Shape letters: B networks, N examples, D inputs per example (n_0), K classes (n_L),
 * M weight entries of one network (Σ_i n_i·n_{i-1}; biases excluded), P scalars of one network.
 *
 * A mask is a C = 1 feature of the network's space holding 0 or 1: 1 keeps the entry. Only
 * weights are pruned; bias entries of a mask are always 1. "Sparsity s" means that
 * nfn_ticket_keep_count (space, s) = round((1 − s)·M) weights of each network are kept.
 *
 * Training (nfn_ticket_train): each network gets its own pass over the same training set — its
 * own minibatch order, drawn from (seed, network id) alone — with Adam and softmax
 * cross-entropy. So a network's result does not depend on which batch of networks it was
 * trained in or on the number of threads, and two trainings of one init under different masks
 * see the same minibatches (a paired comparison). Networks are spread over OpenMP threads, one
 * network per thread at a time with single-threaded BLAS inside (the fitting engine's scheme).
 * Under a mask, pruned weights are zeroed before the first step and the mask multiplies both
 * the gradient and the weights after every step, so a pruned weight never moves.
 */
#ifndef NFN_TICKET_H
#define NFN_TICKET_H

#include "nfn_core.h"
#include "nfn_nets.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A labelled data set in memory (not owned). */
typedef struct {
  const float *x;     /* (N, D) */
  const int *labels;  /* (N), 0 … K-1 */
  int N;
} nfn_ticket_data;

/* Called after each finished network with (networks done, total), from whichever worker thread
 * finished it, never two at once. */
typedef void (*nfn_ticket_progress_fn) (int done, int total, void *user_data);

typedef struct {
  int epochs;          /* passes over the training set (≥ 0) */
  int batch_size;      /* examples per step (≥ 1); the last batch of an epoch may be smaller */
  double lr;           /* Adam learning rate (> 0) */
  uint64_t seed;       /* with each network's id, fixes its minibatch order */
  int threads;         /* worker threads (≥ 1) */
  nfn_ticket_progress_fn progress; /* may be NULL */
  void *progress_data;
  volatile int *cancel; /* may be NULL; checked between steps */
} nfn_ticket_train_options;

#define NFN_TICKET_DEFAULT_EPOCHS 5
#define NFN_TICKET_DEFAULT_BATCH 64
#define NFN_TICKET_DEFAULT_LR 2e-3
#define NFN_TICKET_DEFAULT_SPARSITY 0.95
/* Epochs, batch and lr as above, seed 0, one thread, no callback, no cancel flag. */
void nfn_ticket_train_options_init (nfn_ticket_train_options *opt);

/* Weight entries M of one network, and how many of them sparsity s keeps: round((1 − s)·M),
 * at least 1. */
size_t nfn_ticket_weight_count (const nfn_space *space);
size_t nfn_ticket_keep_count (const nfn_space *space, double sparsity);

/* Trains every network of `weights` (C = 1, B networks, space = arch->space, an MLP) in place.
 * masks (same shape) or NULL for dense training. network_ids (B) with opt->seed fix each
 * network's minibatch order. NFN_ERR_ARG for bad options or data (a label outside [0, K)),
 * NFN_ERR_SHAPE, NFN_ERR_UNSUPPORTED unless arch is an MLP, NFN_ERR_NONFINITE when a loss
 * diverges, NFN_ERR_CANCELLED when *opt->cancel was set (networks then hold whatever state
 * they reached), NFN_ERR_NOMEM. */
nfn_status nfn_ticket_train (const nfn_arch *arch, nfn_feature *weights, const nfn_feature *masks,
                             const nfn_ticket_data *train, const uint64_t *network_ids /* (B) */,
                             const nfn_ticket_train_options *opt);

/* Test accuracy of every network: accuracy (B) in [0, 1]. */
nfn_status nfn_ticket_accuracy (const nfn_arch *arch, const nfn_feature *weights, const nfn_ticket_data *test,
                                int threads, float *accuracy /* (B) */);

/* masks (B, C = 1) keep, per network, the `keep` weight entries with the largest score, where
 * the score is |scores| when `absolute` (magnitude pruning) and the value itself otherwise
 * (mask logits); equal scores keep the entry that comes first in tensor order (W_1 row-major,
 * then W_2, …). Bias entries become 1. scores and masks have the same space and B, C = 1; they
 * may be the same feature. NFN_ERR_ARG if keep is 0 or above M, NFN_ERR_NONFINITE for NaN. */
nfn_status nfn_ticket_mask_top (const nfn_feature *scores, size_t keep, int absolute, nfn_feature *masks);
/* The same within each layer: W_i keeps its keep[i-1] best entries (keep[i-1] ≤ n_i·n_{i-1};
 * 0 allowed). */
nfn_status nfn_ticket_mask_top_layers (const nfn_feature *scores, const size_t *keep /* (L) */, int absolute,
                                       nfn_feature *masks);
/* The same budgets, spread over each layer's neurons: scores are read as logits at temperature
 * T, shifted per layer by the c for which Σ_entries σ((score − c)/T) = keep[i-1]; each row
 * (output neuron) and each column (input neuron; for W_1 the pixels) of W_i gets a quota in
 * proportion to its expected count Σ σ((score − c)/T) (largest remainders, so each set of quotas
 * adds up to keep[i-1]); entries are then taken best score first while both their row and their
 * column are under quota, and whatever budget that leaves goes to the best remaining entries
 * (ties: tensor order). T → 0 approaches per-layer top-k, large T equal quotas. Why: top-k of
 * scores that carry a per-neuron term gives every neuron the same few inputs and outputs
 * (measured on MNIST tickets: W_1's 941 kept weights on 37 of 784 pixels where IMP used 350,
 * and W_3's 115 on 5 of the 10 classes), while the scores' own marginals say how many weights
 * each neuron should keep. NFN_ERR_ARG if a budget exceeds its layer or T is not positive and
 * finite, NFN_ERR_UNSUPPORTED for f_i > 1, NFN_ERR_NONFINITE for a NaN or ±inf score. */
nfn_status nfn_ticket_mask_spread (const nfn_feature *scores, const size_t *keep /* (L) */, double temperature,
                                   nfn_feature *masks);
/* Fraction of W_i's entries a set of masks keeps, over all its networks. */
nfn_status nfn_ticket_layer_fractions (const nfn_feature *masks, double *fraction /* (L) */);
/* Splits keep_count (sparsity) over the layers in proportion to fraction[i-1]·n_i·n_{i-1} (e.g.
 * an IMP zoo's nfn_ticket_layer_fractions): largest remainders, so the budgets add up exactly,
 * none above its layer's size. NFN_ERR_ARG if every share is 0. */
nfn_status nfn_ticket_layer_budget (const nfn_space *space, const double *fraction /* (L) */, double sparsity,
                                    size_t *keep /* (L) */);
/* Global magnitude pruning: nfn_ticket_mask_top (weights, keep_count (sparsity), absolute). */
nfn_status nfn_ticket_prune_magnitude (const nfn_feature *weights, double sparsity, nfn_feature *masks);
/* A uniformly random mask per network keeping exactly keep_count (sparsity) weights, from
 * (seed, network id) alone. */
nfn_status nfn_ticket_mask_random (nfn_feature *masks, double sparsity, uint64_t seed,
                                   const uint64_t *network_ids /* (B) */);
/* Weights kept by both masks over weights kept by either, for network b (1 when both keep
 * none). */
double nfn_ticket_mask_iou (const nfn_feature *a, const nfn_feature *b, int net);

/* ---- The loss of mask prediction ----
 * Class-balanced binary cross-entropy of per-weight logits x against a 0/1 mask y, over the
 * weight entries of every network (bias entries are ignored and get zero gradient):
 *   loss = (1/(B·M)) Σ [ ρ_i·y·softplus(−x) + (1 − y)·softplus(x) ]
 * with ρ_i = pos_weight[i-1] for the entries of W_i. grad (B, C = 1) is OVERWRITTEN (the head
 * of a backward chain, like nfn_train.h's losses); NULL skips it. NFN_ERR_SHAPE unless logits
 * and masks are C = 1 features of one shape, NFN_ERR_ARG unless every ρ_i > 0 is finite and
 * every mask entry is 0 or 1, NFN_ERR_NONFINITE if the loss is not finite. */
nfn_status nfn_ticket_mask_loss (const nfn_feature *logits, const nfn_feature *masks,
                                 const double *pos_weight /* (L) */, double *loss, nfn_feature *grad);
/* The ρ that balance a set of masks (B ≥ 1 networks): per layer, ρ_i = pruned / kept entries of
 * W_i over all networks (so each layer's positives weigh as much as its negatives, and a
 * layer's logit 0 marks its own base rate); or, when !per_layer, one global ρ = pruned / kept
 * over every weight. A layer kept whole gets ρ = 1, one with nothing kept counts half an entry. */
nfn_status nfn_ticket_pos_weights (const nfn_feature *masks, int per_layer, double *pos_weight /* (L) */);

#ifdef __cplusplus
}
#endif
#endif
