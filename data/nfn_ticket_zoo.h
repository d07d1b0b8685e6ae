/* nfn_ticket_zoo.h — zoos of (initialisation, winning-ticket mask) pairs: the training data of
 * mask prediction (Zhou et al. 2023, §winning tickets; Frankle & Carbin 2019).
 *
 * Network n of a ticket zoo (kind NFN_ZOO_KIND_MLP_TICKET, data/nfn_zoo.h):
 *   1. its init is drawn by nfn_fit_init_network (PyTorch's default init) from (seed, n);
 *   2. a copy is trained dense (nfn_ticket_train: Adam, cross-entropy, `epochs` passes over the
 *      data set's train part, minibatch order from (seed, n)), and measured on the test part:
 *      metric "dense_accuracy";
 *   3. the trained weights are pruned by global magnitude to `sparsity` (biases never): the IMP
 *      mask (one-shot: one round of train, prune, rewind);
 *   4. the init, rewound, is trained again under the mask with the same minibatches: metric
 *      "imp_accuracy" (the store's quality column).
 * The zoo's shards hold the INITS (so "ZOO:IDX" is an initialisation). Beside shard k,
 * masks-KKKKK.safetensors holds the masks of the same networks under the same tensor names
 * and shapes ("layers.0.weight" (K, n_1, n_0) of 0/1, "layers.0.bias" all 1, …); it is written
 * (atomically) before its shard, so a complete shard always has its masks.
 *
 * Data parts (nfn_ticket_data_load), never the test part for choosing anything:
 *   mnist          train = the "train" split (8,000), val = "val" (1,000), test = "test" (1,000)
 *   fashion-mnist  train = the first 50,000 of "train", val = its last 10,000, test = "test"
 * `train_limit` > 0 keeps only the first train_limit images of the train part (quick zoos).
 *
 * The manifest's "training" object records what a ticket is made with (sparsity, epochs,
 * batch, lr, train_limit), so that evaluation retrains exactly as the zoo did.
 */
#ifndef NFN_TICKET_ZOO_H
#define NFN_TICKET_ZOO_H

#include <glib.h>
#include "nfn_datasets.h"
#include "nfn_ticket.h"
#include "nfn_zoo.h"

G_BEGIN_DECLS

#define NFN_ZOO_KIND_MLP_TICKET "mlp-ticket"
#define NFN_TICKET_ZOO_DEFAULT_SHARD_SIZE 256 /* ~1 minute of work on 2 cores */

/* The per-network metrics, in shard order (NULL-terminated). "kept" counts the mask's weights. */
extern const char *const nfn_ticket_zoo_metrics[];

typedef struct {
  char *dataset;   /* "mnist" | "fashion-mnist" */
  int count;       /* networks (≥ 1) */
  guint64 seed;
  int shard_size;
  int n_hidden;                /* hidden layers (≥ 1) */
  int hidden[NFN_MAX_LAYERS];  /* their widths */
  double sparsity;             /* in [0, 1) */
  int epochs, batch;
  double lr;
  int train_limit;             /* 0 = the whole train part */
} NfnTicketZooSettings;

/* mnist, count 0 (set it), seed 0, NFN_TICKET_ZOO_DEFAULT_SHARD_SIZE, hidden 32-32 (784→32→32→10),
 * and engine/nfn_ticket.h's defaults: sparsity 0.95, 5 epochs, batch 64, lr 2e-3, the whole
 * train part. Clear with nfn_ticket_zoo_settings_clear. */
void nfn_ticket_zoo_settings_init (NfnTicketZooSettings *settings);
void nfn_ticket_zoo_settings_clear (NfnTicketZooSettings *settings);
/* The MLP: D inputs (image pixels), the hidden widths, K = 10 classes, ReLU. */
nfn_status nfn_ticket_zoo_arch (const NfnTicketZooSettings *settings, int D, int K, nfn_arch *arch);
/* The training options a zoo's tickets were made with (threads 1, no callbacks). */
void nfn_ticket_zoo_train_options (const NfnTicketZooSettings *settings, nfn_ticket_train_options *options);

/* ---- The data ---- */

typedef struct {
  NfnDataset *train_split, *test_split, *val_split; /* val_split NULL when val is carved from train */
  int *labels;                  /* every part's labels as ints, in one block */
  nfn_ticket_data train, val, test;
} NfnTicketData;

gboolean nfn_ticket_data_load (const char *dataset, int train_limit, NfnTicketData *data, GError **error);
void nfn_ticket_data_clear (NfnTicketData *data);

/* ---- Building ---- */

/* Builds (or resumes) the zoo in `dir` (nfn_zoo_build: manifest, shards, store run "zoo-tickets"
 * with per-shard "zoo/mean_imp_accuracy" and "zoo/tickets_per_s"). callbacks->threads networks
 * train at once, one per thread. */
gboolean nfn_ticket_zoo_build (const NfnTicketZooSettings *settings, const char *dir, NfnStore *store,
                               const NfnZooFitCallbacks *callbacks, NfnZooFitReport *report, GError **error);

/* ---- Reading ---- */

/* The settings of an opened ticket zoo; a zoo of another kind fails with one line naming it. */
gboolean nfn_ticket_zoo_settings_from_zoo (NfnZooDir *zoo, NfnTicketZooSettings *settings, GError **error);
/* The masks of networks [first, last) as one (last − first, C = 1) feature (allocated here;
 * free with nfn_feature_free). Each must be a 0/1 mask keeping every bias. */
gboolean nfn_ticket_zoo_load_masks (NfnZooDir *zoo, gint64 first, gint64 last, nfn_feature *masks, GError **error);

G_END_DECLS
#endif
