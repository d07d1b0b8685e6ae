/* nfn-align-view.h — "Align to…": weight matching (Git Re-Basin) of a second network B onto the
 * orbit's current network A, and the straight path between them before and after alignment.
 *
 * The partner B is an independently trained twin (the same image fitted from another init, when
 * one was given), a file of the same architecture, an independent re-initialisation of it, or
 * a permuted noisy copy of A. σ = nfn_perm_align (A, B) runs on a worker thread. The plot shows,
 * for α in [0, 1], the MSE of θ_α = (1 − α)·A + α·B (naive) and of (1 − α)·A + α·σB (aligned)
 * against the source image when one was set (the loss barrier of Git Re-Basin), with the MSE
 * against A's function on the probe dashed beside it; without one, against A's function alone.
 * A bump in the middle is the barrier; alignment flattens it. */
#ifndef NFN_ALIGN_VIEW_H
#define NFN_ALIGN_VIEW_H

#include <gtk/gtk.h>
#include "nfn-orbit.h"
#include "nfn-plot.h"

G_BEGIN_DECLS

#define NFN_ALIGN_STEPS 25 /* points along the path, α = 0 … 1 */
#define NFN_ALIGN_MAX_SWEEPS 100
#define NFN_ALIGN_NOISE 0.02 /* the noisy copy: N(0, (0.02·std of each tensor)²) added */

typedef enum {
  NFN_ALIGN_PARTNER_TWIN = 0, /* the network given to nfn_align_view_set_twin */
  NFN_ALIGN_PARTNER_REINIT,
  NFN_ALIGN_PARTNER_NOISY_COPY,
  NFN_ALIGN_PARTNER_FILE
} NfnAlignPartner;

#define NFN_TYPE_ALIGN_VIEW (nfn_align_view_get_type ())
G_DECLARE_FINAL_TYPE (NfnAlignView, nfn_align_view, NFN, ALIGN_VIEW, GtkWidget)

GtkWidget *nfn_align_view_new (void);
void nfn_align_view_set_orbit (NfnAlignView *self, NfnOrbit *orbit);
void nfn_align_view_set_partner (NfnAlignView *self, NfnAlignPartner partner);
/* An independently trained network of A's architecture (copied), e.g. the sample's twin fitted
 * from another init; it becomes the selected partner. NULL removes it (and selects the
 * re-initialisation if the twin was selected). */
void nfn_align_view_set_twin (NfnAlignView *self, const NfnNetwork *twin);
/* The image the network was fitted to (R·Cc pixels in [0, 1], row-major; the probe grid's
 * size), plotted as MSE against 2·pixel − 1; NULL removes it. */
void nfn_align_view_set_target (NfnAlignView *self, const float *pixels, int rows, int cols);

/* Builds the chosen partner (a file partner asks for the file) and aligns. */
void nfn_align_view_run (NfnAlignView *self);
/* Aligns against `partner` (copied): FALSE with an error shown when its architecture differs. */
gboolean nfn_align_view_run_with (NfnAlignView *self, const NfnNetwork *partner);
gboolean nfn_align_view_get_busy (NfnAlignView *self);

NfnPlot *nfn_align_view_get_plot (NfnAlignView *self);
/* The barrier of a path (Git Re-Basin): max over α of curve(α) − ((1 − α)·curve(0) + α·curve(1)),
 * how far the path rises above the straight line between its ends. curve: (NFN_ALIGN_STEPS). */
double nfn_align_barrier (const double *curve);
/* The result line, e.g. "barrier: naive 0.031, aligned 0.0004 …"; the solid curves' values
 * (against the source image when there is one; NFN_ALIGN_STEPS each; NULL before the first
 * result). */
const char *nfn_align_view_get_summary (NfnAlignView *self);
const double *nfn_align_view_get_curve (NfnAlignView *self, gboolean aligned);

G_END_DECLS
#endif
