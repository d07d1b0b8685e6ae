/* nfn-equivariance-view.h — an NFN follows a permutation: NFN(σ·U) beside σ·NFN(U) and their
 * difference, for a fresh random NP layer, HNP layer or two-layer NP/HNP stack (ReLU between);
 * for an invariant classifier (NP/HNP layers, invariant pool, MLP head) NFN(σ·U) beside NFN(U).
 *
 * Shape letters as in nfn_core.h; K classes. U is a studied network's weights (C = 1); σ is a
 * random element of the model's group (NP: every neuron set; HNP: hidden sets). "Break the
 * coupling" permutes every bias b_i by a second, different σ' while the weights get σ: the
 * input is then no longer a member of U's orbit and the difference turns large. */
#ifndef NFN_EQUIVARIANCE_VIEW_H
#define NFN_EQUIVARIANCE_VIEW_H

#include <gtk/gtk.h>
#include "nfn_network.h"
#include "nfn-heatmap.h"

G_BEGIN_DECLS

typedef enum {
  NFN_EQUIVARIANCE_NP_LAYER = 0,
  NFN_EQUIVARIANCE_HNP_LAYER,
  NFN_EQUIVARIANCE_NP_STACK,
  NFN_EQUIVARIANCE_HNP_STACK,
  NFN_EQUIVARIANCE_NP_CLASSIFIER,
  NFN_EQUIVARIANCE_HNP_CLASSIFIER,
  NFN_EQUIVARIANCE_N_MODELS, /* the fresh random ones above */
  /* A trained NP/HNP model from the store (or a file): a classifier (invariant) or a WEIGHTS
   * model with one output channel, e.g. an edit or a mask (equivariant). */
  NFN_EQUIVARIANCE_TRAINED = NFN_EQUIVARIANCE_N_MODELS
} NfnEquivarianceModel;

#define NFN_EQUIVARIANCE_STACK_CHANNELS 8
#define NFN_EQUIVARIANCE_CLASSES 10

#define NFN_TYPE_EQUIVARIANCE_VIEW (nfn_equivariance_view_get_type ())
G_DECLARE_FINAL_TYPE (NfnEquivarianceView, nfn_equivariance_view, NFN, EQUIVARIANCE_VIEW, GtkWidget)

GtkWidget *nfn_equivariance_view_new (void);
/* U (copied). */
void nfn_equivariance_view_set_network (NfnEquivarianceView *self, const NfnNetwork *network);
void nfn_equivariance_view_set_model (NfnEquivarianceView *self, NfnEquivarianceModel model);
NfnEquivarianceModel nfn_equivariance_view_get_model (NfnEquivarianceView *self);
/* The tensor t shown (W_1, b_1, … as in nfn_core.h) for equivariant models. */
void nfn_equivariance_view_set_tensor (NfnEquivarianceView *self, int tensor);
void nfn_equivariance_view_set_break_coupling (NfnEquivarianceView *self, gboolean broken);
/* The experiment store NFN_EQUIVARIANCE_TRAINED looks in: the newest "model" artifact whose
 * model fits the network's weight space. NULL: none. */
void nfn_equivariance_view_set_store_path (NfnEquivarianceView *self, const char *path);
/* Shows a trained model file (nfn_model_file.h) as NFN_EQUIVARIANCE_TRAINED. FALSE, with the
 * view unchanged, when it cannot be read or does not fit: not NP/HNP, another weight space, or
 * a WEIGHTS model with more than one output channel. */
gboolean nfn_equivariance_view_set_trained_model (NfnEquivarianceView *self, const char *path, GError **error);
/* The file the trained model came from, or NULL. */
const char *nfn_equivariance_view_get_trained_path (NfnEquivarianceView *self);

/* New σ (and σ'); new random NFN parameters. */
void nfn_equivariance_view_resample_permutation (NfnEquivarianceView *self);
void nfn_equivariance_view_resample_model (NfnEquivarianceView *self);

/* max |NFN(σ·U) − σ·NFN(U)| over every output tensor (equivariant models), or
 * max |NFN(σ·U) − NFN(U)| over the logits (classifiers); NaN before a network is set. */
double nfn_equivariance_view_get_max_difference (NfnEquivarianceView *self);
/* The three heatmaps: 0 = NFN(σ·U), 1 = σ·NFN(U) (classifier: NFN(U)), 2 = 0 − 1. */
NfnHeatmap *nfn_equivariance_view_get_heatmap (NfnEquivarianceView *self, int which);
const char *nfn_equivariance_view_get_summary (NfnEquivarianceView *self);

G_END_DECLS
#endif
