/* nfn_network.h — one studied network loaded from a weight file.
 *
 * Layers are recognised from PyTorch state-dict names: tensors "<prefix><k>.weight" and
 * "<prefix><k>.bias" paired by their prefix, layers ordered by natural order of the name
 * ("net.2" before "net.10"). Shapes must chain: W_i (n_i, n_{i-1}[, kh, kw]), b_i (n_i).
 * The architecture travels in the safetensors __metadata__:
 *   "nfn.arch"       "mlp" | "siren" | "cnn"   (default: "cnn" if any 4-D weight, else "mlp")
 *   "nfn.activation" "relu" | "tanh" | "sin"   (default relu; sin for siren)
 *   "nfn.omega0"     SIREN ω0 (default 30)
 *   "nfn.conv"       CNN "stride,padding,in_h,in_w" (default "2,1,28,28")
 *   "nfn.ignore"     comma-separated tensor names that are not layers (e.g. BatchNorm buffers);
 *                    they are skipped on reading and not written back
 * Every other tensor must be a .weight or .bias of a layer, else reading fails naming it.
 * Natural order is by name only: "features.0" … "classifier" would sort the classifier first,
 * so such files fail the shape chain with a message rather than load in a wrong order.
 * Errors are one line, "LABEL: fault", in NFN_DATA_ERROR (SHAPE for names/shapes that do not
 * make a network, NONFINITE for NaN/Inf weights with their index, FORMAT for bad metadata).
 */
#ifndef NFN_NETWORK_H
#define NFN_NETWORK_H

#include <glib.h>
#include "nfn_core.h"
#include "nfn_nets.h"
#include "nfn_safetensors.h"

G_BEGIN_DECLS

typedef struct {
  char *path;                  /* where it came from, or NULL */
  nfn_arch arch;
  nfn_feature weights;         /* B = 1, C = 1, owned */
  char *weight_names[NFN_MAX_LAYERS + 1]; /* [i], i = 1..L: original tensor names */
  char *bias_names[NFN_MAX_LAYERS + 1];
  GPtrArray *metadata_keys;    /* char*: metadata other than the four arch keys, in file order */
  GHashTable *metadata;        /* char* → char*; written back after the arch keys from `arch` */
} NfnNetwork;

void nfn_network_free (NfnNetwork *net);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfnNetwork, nfn_network_free)

/* New network with default names "layers.<i-1>.weight"/".bias" and zero weights. */
NfnNetwork *nfn_network_new (const nfn_arch *arch);
NfnNetwork *nfn_network_copy (const NfnNetwork *net);
/* Sets a metadata entry, appending its key to metadata_keys the first time. */
void nfn_network_set_metadata (NfnNetwork *net, const char *key, const char *value);
/* Recognises layers in a parsed file; `label` names it in errors. Rejects NaN/Inf weights. */
NfnNetwork *nfn_network_from_safetensors (const NfnSafetensors *st, const char *label, GError **error);
/* By extension: .safetensors or .npz (a .npy, one array, is refused as a network). */
NfnNetwork *nfn_network_load (const char *path, GError **error);
/* Writes F32 safetensors with the original tensor names and the architecture metadata. */
gboolean nfn_network_save (const NfnNetwork *net, const char *path, GError **error);
NfnSafetensors *nfn_network_to_safetensors (const NfnNetwork *net);

G_END_DECLS
#endif
