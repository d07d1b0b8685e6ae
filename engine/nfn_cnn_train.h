/* nfn_cnn_train.h — training the small CNNs of a CNN zoo, one network per thread, and
 * measuring their accuracy (the recipe of Unterthiner et al. 2020's Small CNN Zoo).
 *
 * Shape letters: N images, H×W pixels, n_0 image channels, D = n_{L-1} pooled features,
 * K = n_L classes, B networks, P trainable parameters of one network.
 *
 * The networks are CNNs whose first L−1 layers are convolutions and whose last is one dense
 * layer on the globally average-pooled features (nfn_cnn_zoo_arch: 1→16→16→16 conv 3×3,
 * stride 2, padding 1, so 28×28 → 14×14 → 7×7 → 4×4, then pool, then dense 16→10).
 *
 * Training, per network, from its own seed alone (so neither threads nor shards change a
 * network): every weight tensor W_i ~ N(0, σ_i²) with σ_i by the init scheme — He
 * (√(2/fan_in)), Glorot (√(2/(fan_in + fan_out))) or a fixed init_std, fan_in = n_{i-1}·f_i,
 * fan_out = n_i·f_i, as the Small CNN Zoo draws among schemes — biases 0; a random subset of
 * round(train_fraction·N) training images; `epochs` passes over it in a fresh random order,
 * minibatches of batch_size (the last one smaller); softmax cross-entropy plus L2 on every
 * parameter (loss + l2/2·Σθ², so g ← g + l2·θ); inverted dropout on the pooled features;
 * SGD with momentum 0.9 (PyTorch's form), Adam (nfn_adam, L2 folded into g) or RMSProp
 * (ρ = 0.9, ε = 1e-7, as Keras). Plain SGD leaves most networks at chance within the few
 * epochs a CPU budget allows; momentum lets them train, as Adam's and RMSProp's do. A non-finite loss, or a weight beyond ±NFN_CNN_DIVERGED_WEIGHT at the end of an
 * epoch, stops training and restores the weights of the last epoch that ended sound (the init
 * if none): such a network is kept, flagged `diverged` (huge finite weights would be as useless
 * to a model that reads weights as NaNs).
 *
 * Checkpoints (Unterthiner et al. keep several per training run): a run of T optimiser steps
 * (T = epochs·⌈subset/batch_size⌉) can save K ≥ 1 checkpoints, checkpoint c = 0 … K−1 after
 * step s_c = ⌈T / 2^(K−1−c)⌉ (…, T/4, T/2, T): halving the distance to the end, because a
 * network's accuracy moves most early, so the checkpoints spread the accuracies. Saving one
 * only reads the state (no random draws), so a run's last checkpoint is, bit for bit, the
 * network the same run gives with K = 1. A checkpoint mid-epoch whose weights are not within
 * ±NFN_CNN_DIVERGED_WEIGHT keeps the last sound epoch's instead (flagged diverged, as at an
 * epoch end); checkpoints after a run stopped early (diverged) hold its final weights. A
 * checkpoint at an epoch's end is saved after that epoch's divergence check.
 *
 * Same hyperparameters and seed give the same bytes whenever BLAS runs one thread per network,
 * as nfn_cnn_train_many always arranges: threads never change a network.
 *
 * Why a "trunk": dropout sits between the pool and the dense layer, inside what
 * nfn_net_forward computes in one go. So training runs the conv layers as a CNN of their own
 * whose output layer is a frozen identity dense layer D→D (its output is the pooled features),
 * and the dense layer as an nfn_linear head; the trained network is then reassembled in the
 * zoo's layout (W_L = headᵀ). Accuracy is measured on the reassembled network by
 * nfn_net_forward, an independent path.
 */
#ifndef NFN_CNN_TRAIN_H
#define NFN_CNN_TRAIN_H

#include "nfn_core.h"
#include "nfn_nets.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { NFN_CNN_OPT_SGD = 0, NFN_CNN_OPT_ADAM, NFN_CNN_OPT_RMSPROP } nfn_cnn_optimizer;
#define NFN_CNN_N_OPTIMIZERS 3

const char *nfn_cnn_optimizer_name (nfn_cnn_optimizer opt); /* "sgd", "adam", "rmsprop" */
int nfn_cnn_optimizer_parse (const char *name, nfn_cnn_optimizer *out); /* 1 on success */

typedef enum { NFN_CNN_INIT_HE = 0, NFN_CNN_INIT_GLOROT, NFN_CNN_INIT_NORMAL } nfn_cnn_init;
#define NFN_CNN_N_INITS 3
const char *nfn_cnn_init_name (nfn_cnn_init init); /* "he", "glorot", "normal" */

/* Train accuracy is measured on at most this many of the images a network trained on (a random
 * sample), so that measuring costs little next to training. */
#define NFN_CNN_TRAIN_ACCURACY_SAMPLE 10000
/* Weights beyond ± this at the end of an epoch count as diverged (see above). */
#define NFN_CNN_DIVERGED_WEIGHT 1e3f

typedef struct {
  nfn_activation act;          /* relu or tanh */
  nfn_cnn_optimizer optimizer;
  double lr;                   /* > 0 */
  nfn_cnn_init init;
  double init_std;             /* > 0; used by NFN_CNN_INIT_NORMAL */
  double l2;                   /* ≥ 0 */
  double dropout;              /* [0, 1) */
  double train_fraction;       /* (0, 1] */
  int epochs;                  /* ≥ 1 */
  int batch_size;              /* ≥ 1 */
} nfn_cnn_hparams;

/* NFN_ERR_ARG unless every field is in its range above. */
nfn_status nfn_cnn_hparams_check (const nfn_cnn_hparams *hp);

/* A labelled image set: images (count, n_0·H·W) row-major, labels (count) in [0, K). */
typedef struct {
  const float *images;
  const uint8_t *labels;
  int count;
} nfn_cnn_data;

typedef struct {
  double train_accuracy;  /* on ≤ NFN_CNN_TRAIN_ACCURACY_SAMPLE of its training images */
  double test_accuracy;   /* on the whole test set */
  double final_loss;      /* mean training loss (with the L2 term) of the last epoch run;
                             a checkpoint mid-epoch: of that epoch's steps so far */
  int epochs_done;        /* epochs that ended sound (the weights kept are the last one's),
                             by the checkpoint */
  int diverged;           /* 1 when training stopped on a non-finite loss or a huge weight
                             (a checkpoint: by then, or its weights were unbounded) */
  long step;              /* the optimiser steps at which the checkpoint was saved (planned s_c,
                             also when the run stopped earlier); the run's T for K = 1 */
  double epoch;           /* step in epochs: step / ⌈subset/batch_size⌉ */
} nfn_cnn_result;

/* The Small CNN Zoo's network: n_0 = 1 channel, three 3×3 conv layers of 16 channels, stride 2,
 * padding 1, activation act, global average pool, dense 16 → 10. */
nfn_status nfn_cnn_zoo_arch (nfn_arch *arch, nfn_activation act, int in_h, int in_w);

/* NFN_ERR_ARG unless arch is a CNN whose layers 1 … L−1 are conv and layer L is dense. */
nfn_status nfn_cnn_check_trainable (const nfn_arch *arch);

/* Fraction of `count` images (image index[k], or k when index is NULL) that network `net` of
 * weights (C = 1, arch->space) classifies right (argmax, first on ties), forward only, in
 * batches. count = 0 gives 0. */
nfn_status nfn_cnn_accuracy (const nfn_arch *arch, const nfn_feature *weights, int net, const nfn_cnn_data *data,
                             const int *index /* (count) or NULL */, int count, double *accuracy);

/* Trains network `net` of `weights` (C = 1, arch->space; arch->act is replaced by hp->act)
 * from scratch with the generator seeded by `seed`, then measures it (test may be NULL: test
 * accuracy 0). cancel (may be NULL) is checked before every step: NFN_ERR_CANCELLED. */
nfn_status nfn_cnn_train (const nfn_arch *arch, const nfn_cnn_hparams *hp, unsigned long seed, const nfn_cnn_data *train,
                          const nfn_cnn_data *test, nfn_feature *weights, int net, nfn_cnn_result *result,
                          volatile int *cancel);

/* The same run saving K ≥ 1 checkpoints (see above) into networks net … net+K−1 of weights,
 * with results (K); checkpoint K−1 is what nfn_cnn_train gives. */
nfn_status nfn_cnn_train_checkpoints (const nfn_arch *arch, const nfn_cnn_hparams *hp, unsigned long seed,
                                      const nfn_cnn_data *train, const nfn_cnn_data *test, int K, nfn_feature *weights,
                                      int net, nfn_cnn_result *results /* (K) */, volatile int *cancel);

/* A run's optimiser steps T on a train set of train_count images, and its K checkpoint steps
 * s_c = ⌈T / 2^(K−1−c)⌉ (non-decreasing, s_{K−1} = T). */
long nfn_cnn_total_steps (const nfn_cnn_hparams *hp, int train_count);
void nfn_cnn_checkpoint_steps (long total_steps, int K, long *steps /* (K) */);

/* The loss a training step sees, for tests: one minibatch x (N, n_0·H·W) through the trunk
 * and head as training runs them, with dropout masks drawn from rng (dropout 0: none), the
 * cross-entropy plus L2, and its gradient written (overwritten) into grad (P) in the layout
 * of nfn_cnn_params_pack. params (P) as packed. */
size_t nfn_cnn_param_count (const nfn_arch *arch);
/* Packs network `net` of weights into the training layout (P), and back. */
void nfn_cnn_params_pack (const nfn_arch *arch, const nfn_feature *weights, int net, float *params /* (P) */);
void nfn_cnn_params_unpack (const nfn_arch *arch, const float *params /* (P) */, nfn_feature *weights, int net);
nfn_status nfn_cnn_loss_grad (const nfn_arch *arch, const float *params /* (P) */, int N, const float *x,
                              const uint8_t *labels /* (N) */, double dropout, double l2, unsigned long dropout_seed,
                              double *loss, float *grad /* (P) or NULL */);

/* ---- Many networks, threaded ---- */

/* Called after each finished network with (networks done, total), from whichever worker
 * finished it, never two at once. */
typedef void (*nfn_cnn_progress_fn) (int done, int total, void *user_data);

typedef struct {
  int threads;                  /* ≥ 1; one network per thread, BLAS single-threaded meanwhile */
  nfn_cnn_progress_fn progress; /* may be NULL */
  void *progress_data;
  volatile int *cancel;         /* may be NULL */
  int checkpoints;              /* K per run; 0 or 1: the final weights only */
} nfn_cnn_train_options;

/* Trains runs r = 0 … R−1 with hp[r] and seeds[r], as nfn_cnn_train_checkpoints does each,
 * run r's K checkpoints into networks r·K … r·K+K−1 of weights (C = 1, arch->space, B = R·K)
 * and results. Progress counts networks (K per finished run). The first error stops the
 * others. */
nfn_status nfn_cnn_train_many (const nfn_arch *arch, const nfn_cnn_hparams *hp /* (R) */,
                               const unsigned long *seeds /* (R) */, const nfn_cnn_data *train,
                               const nfn_cnn_data *test, const nfn_cnn_train_options *options,
                               nfn_feature *weights, nfn_cnn_result *results /* (R·K) */);

#ifdef __cplusplus
}
#endif
#endif
