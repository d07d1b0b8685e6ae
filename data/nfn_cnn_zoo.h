/* nfn_cnn_zoo.h — zoos of small CNNs trained on Fashion-MNIST or MNIST with hyperparameters
 * drawn per network, after Unterthiner et al. 2020's Small CNN Zoo ("Predicting Neural Network
 * Accuracy from Weights"), for predicting a network's accuracy from its weights.
 *
 * Every network is nfn_cnn_zoo_arch (1→16→16→16 conv 3×3 stride 2 padding 1, global average
 * pool, dense → 10) trained by nfn_cnn_train (engine/nfn_cnn_train.h) on the data set's train
 * split, then measured on its WHOLE test split. Per network, drawn independently:
 *   learning rate   log-uniform [5e-4, 5e-2]
 *   optimizer       SGD, Adam or RMSProp, each 1/3
 *   init            He, Glorot or N(0, std²), each 1/3, std log-uniform [1e-3, 0.5]
 *                   (weights; biases 0) — the zoo's choice among initialisers; a fixed tiny
 *                   std alone leaves too many networks at chance in a few epochs
 *   L2 strength     log-uniform [1e-8, 1e-2]
 *   dropout         uniform [0, 0.5]          (on the pooled features)
 *   train fraction  uniform [0.1, 1]          (a random subset of the train split; the upper
 *                                             end can be lowered for quick zoos, e.g. in tests)
 *   activation      ReLU or tanh, each 1/2
 *   epochs          uniform integer [1, epochs_max] (default 4: the time budget, see below)
 * with minibatches of 32 (SGD with momentum 0.9, see engine/nfn_cnn_train.h). These are the
 * paper's ranges; its 86 epochs do not fit a CPU budget of ~2,000 networks in 2 hours on 2
 * cores, so ours train for 1–4 epochs (measured: ~3.3 core-seconds per network on average,
 * about an hour for 2,000 on 2 idle cores), which keeps the spread of accuracies wide.
 *
 * Training run r's draws and training come from two seeds, the (2r)-th and (2r+1)-th 32-bit
 * outputs of mt19937 seeded with the zoo's seed: a network does not depend on shards or threads.
 *
 * Checkpoints: with K = settings.checkpoints > 1, each of the `count` training runs saves K
 * checkpoints (engine/nfn_cnn_train.h: after ⌈T/2^(K−1−c)⌉ of its T steps, c = 0 … K−1, so
 * …, T/4, T/2, T), as Unterthiner et al.'s zoo keeps several per run: more networks and a
 * wider spread of accuracies for little more compute (each checkpoint costs one pass over the
 * test split and the train-accuracy sample). The zoo then holds count·K networks, network
 * n = r·K + c, with the extra metrics "run" (r), "checkpoint" (c), "step" (s_c) and "epoch"
 * (s_c in epochs); its shards hold shard_size runs each (shard_size·K networks); its manifest's
 * "training" records "checkpoints", so a resume with another K is refused. Run r's last
 * checkpoint is bit for bit network r of the same zoo built with K = 1, and K = 1 (the
 * default) writes exactly the zoo it always did. Predictors must split such a zoo by run
 * (nfn_cnn_zoo_split): checkpoints of one run are near-duplicates.
 *
 * The zoo (kind NFN_ZOO_KIND_CNN_TRAIN, data/nfn_zoo.h) records per network the metrics
 * nfn_cnn_zoo_metrics lists; "activation" holds the nfn_activation value (0 relu, 1 tanh),
 * "optimizer" the nfn_cnn_optimizer value (0 sgd, 1 adam, 2 rmsprop), "init" the nfn_cnn_init
 * value (0 he, 1 glorot, 2 normal; "init_std" is drawn for all, used by 2); the store's quality
 * column is the test accuracy.
 */
#ifndef NFN_CNN_ZOO_H
#define NFN_CNN_ZOO_H

#include <glib.h>
#include <gsl/gsl_rng.h>
#include "nfn_cnn_train.h"
#include "nfn_zoo.h"

G_BEGIN_DECLS

#define NFN_CNN_ZOO_DEFAULT_SHARD_SIZE 100 /* ~4 minutes of work on 2 cores: little lost to a kill */

/* The per-network metrics a CNN zoo records, in shard order (NULL-terminated). */
extern const char *const nfn_cnn_zoo_metrics[];

typedef struct {
  double lr_min, lr_max;             /* log-uniform */
  double init_std_min, init_std_max; /* log-uniform */
  double l2_min, l2_max;             /* log-uniform */
  double dropout_max;                /* uniform [0, dropout_max] */
  double fraction_min, fraction_max; /* uniform [fraction_min, fraction_max] */
  int epochs_max;                    /* uniform integer [1, epochs_max] */
  int batch_size;
} NfnCnnZooRanges;

typedef struct {
  char *dataset;   /* "fashion-mnist" | "mnist" */
  int count;       /* training runs (≥ 1): count·checkpoints networks */
  guint64 seed;
  int shard_size;  /* runs per shard */
  NfnCnnZooRanges ranges;
  int checkpoints; /* K ≥ 1 per run (see above) */
} NfnCnnZooSettings;

/* The metrics a zoo with checkpoints records after nfn_cnn_zoo_metrics (NULL-terminated). */
extern const char *const nfn_cnn_zoo_checkpoint_metrics[];

/* fashion-mnist, 0 runs (set count), seed 0, NFN_CNN_ZOO_DEFAULT_SHARD_SIZE, the ranges
 * above, 1 checkpoint. Clear with nfn_cnn_zoo_settings_clear. */
void nfn_cnn_zoo_settings_init (NfnCnnZooSettings *settings);
void nfn_cnn_zoo_settings_clear (NfnCnnZooSettings *settings);

/* One network's hyperparameters, drawn in the order listed above. */
void nfn_cnn_zoo_sample_hparams (const NfnCnnZooRanges *ranges, gsl_rng *rng, nfn_cnn_hparams *hp);
/* Network n's two seeds (hyperparameters, training), for n in [first, first + K). */
void nfn_cnn_zoo_network_seeds (guint64 zoo_seed, gint64 first, int K, unsigned long *hparam_seeds /* (K) */,
                                unsigned long *train_seeds /* (K) */);

/* Builds (or resumes) the zoo in `dir` (nfn_zoo_build: manifest, shards, store run "zoo-cnn"
 * with per-shard "zoo/mean_test_accuracy" and "zoo/cnns_per_s"). callbacks->threads networks
 * train at once, one per thread. */
gboolean nfn_cnn_zoo_build (const NfnCnnZooSettings *settings, const char *dir, NfnStore *store,
                            const NfnZooFitCallbacks *callbacks, NfnZooFitReport *report, GError **error);

/* The checkpoints per run a zoo's manifest records (1 when it records none). */
int nfn_cnn_zoo_dir_checkpoints (const NfnZooDir *zoo);

/* Splits a finished zoo's N networks into train / val / test by training run, so that all
 * checkpoints of a run land in one split: the runs (metric "run"; without it every network is
 * its own run) in order of first appearance, shuffled by mt19937(split_seed) with
 * gsl_ran_shuffle, then cut into max(1, round(R·test_fraction)) test runs after
 * max(1, round(R·val_fraction)) val runs after the rest. order (N) gets the networks of the
 * train runs, then val, then test (each run's in zoo order); sizes[3] their counts. With one
 * network per run this is the plain shuffle of 0 … N−1. Fails (naming the zoo) with fewer than
 * 2 train runs. */
gboolean nfn_cnn_zoo_split (NfnZooDir *zoo, guint64 split_seed, double val_fraction, double test_fraction,
                            int *order /* (N) */, gint64 sizes[3], GError **error);

G_END_DECLS
#endif
