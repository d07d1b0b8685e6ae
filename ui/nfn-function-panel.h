/* nfn-function-panel.h — what the current member of an orbit computes, and how far it is from
 * the original: for an image network (a 2-input SIREN) its image on the 28×28 grid and on a
 * finer grid, beside the image it was fitted to when one is set; else its outputs on the fixed
 * probe batch as a heatmap (probes × outputs); below them "max |Δf| = … vs the original" and "weights moved: ‖σW − W‖/‖W‖ = … (… % of entries)".
 * Images share the original's value range, so a changed function would show. */
#ifndef NFN_FUNCTION_PANEL_H
#define NFN_FUNCTION_PANEL_H

#include <gtk/gtk.h>
#include "nfn-orbit.h"

G_BEGIN_DECLS

#define NFN_TYPE_FUNCTION_PANEL (nfn_function_panel_get_type ())
G_DECLARE_FINAL_TYPE (NfnFunctionPanel, nfn_function_panel, NFN, FUNCTION_PANEL, GtkWidget)

GtkWidget *nfn_function_panel_new (void);
void nfn_function_panel_set_orbit (NfnFunctionPanel *self, NfnOrbit *orbit);
/* The image the network was fitted to (rows·cols pixels in [0, 1], copied), shown left of the
 * INR on the INR's grey scale (pixel p as 2p − 1, the fitting targets), with its caption under
 * the pictures; NULL hides it. Only shown for an image network. */
void nfn_function_panel_set_source_image (NfnFunctionPanel *self, const float *pixels, int rows, int cols,
                                          const char *caption);
/* The source image's tile (an NfnImageGrid), visible only when one is shown. */
GtkWidget *nfn_function_panel_get_source_view (NfnFunctionPanel *self);
/* The two lines under the pictures, as shown. */
const char *nfn_function_panel_get_delta_text (NfnFunctionPanel *self);
const char *nfn_function_panel_get_moved_text (NfnFunctionPanel *self);
/* The widget that shows the function: an NfnImageGrid (coarse or fine grid) for an image
 * network, the probe heatmap otherwise (fine is ignored). */
GtkWidget *nfn_function_panel_get_view (NfnFunctionPanel *self, gboolean fine);

G_END_DECLS
#endif
