/* nfn_network_text.h — a network's parts in words, one spelling for the CLI and the GUI:
 * tensor names, shapes and a one-line architecture summary. */
#ifndef NFN_NETWORK_TEXT_H
#define NFN_NETWORK_TEXT_H

#include "nfn_network.h"

G_BEGIN_DECLS

/* Tensor t's name as in its file, e.g. "net.0.weight" (t as in nfn_core.h: W_i, b_i, …). */
const char *nfn_network_tensor_name (const NfnNetwork *net, int t);
/* Its stored shape: "32×2", a conv kernel "16×1×3×3", a bias "32". */
char *nfn_network_tensor_shape (const NfnNetwork *net, int t);
/* "siren 2→32→32→1, sin, ω0 = 30"; CNNs add their conv geometry. */
char *nfn_arch_summary (const nfn_arch *arch);

G_END_DECLS
#endif
