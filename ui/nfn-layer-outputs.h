/* nfn-layer-outputs.h — each hidden neuron's activation over the pixel grid, one small image
 * per neuron in its identity colour's frame, one grid per hidden layer, in the neurons' current
 * order: permuting the network visibly permutes the images (with the orbit's animation).
 * Shown for image networks (a 2-input SIREN); other networks get a one-line note. */
#ifndef NFN_LAYER_OUTPUTS_H
#define NFN_LAYER_OUTPUTS_H

#include <gtk/gtk.h>
#include "nfn-orbit.h"

G_BEGIN_DECLS

#define NFN_LAYER_OUTPUTS_COLUMNS 8
#define NFN_LAYER_OUTPUTS_TILE 22

#define NFN_TYPE_LAYER_OUTPUTS (nfn_layer_outputs_get_type ())
G_DECLARE_FINAL_TYPE (NfnLayerOutputs, nfn_layer_outputs, NFN, LAYER_OUTPUTS, GtkWidget)

GtkWidget *nfn_layer_outputs_new (void);
void nfn_layer_outputs_set_orbit (NfnLayerOutputs *self, NfnOrbit *orbit);
/* The image grid of hidden layer i (1 ≤ i < L), NULL when not shown. */
GtkWidget *nfn_layer_outputs_get_grid (NfnLayerOutputs *self, int layer);

G_END_DECLS
#endif
