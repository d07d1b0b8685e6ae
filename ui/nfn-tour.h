/* nfn-tour.h — the teaching tour: one page per step, Back/Next, each page a paragraph and live
 * views of the sample network, nothing to prepare:
 *   1. open the sample SIREN;  2. permute its hidden neurons: the weights change, the image
 *   does not;  3. count the orbit, n_1!·n_2! equivalent networks;  4. an NFN follows the
 *   permutation;  5. an invariant classifier gives the same answer;  6. weight matching brings
 *   two independently trained networks (the sample and its twin, the same image fitted from
 *   another init) into one basin. */
#ifndef NFN_TOUR_H
#define NFN_TOUR_H

#include <gtk/gtk.h>
#include "nfn_network.h"
#include "nfn-orbit.h"

G_BEGIN_DECLS

#define NFN_TOUR_STEPS 6

#define NFN_TYPE_TOUR (nfn_tour_get_type ())
G_DECLARE_FINAL_TYPE (NfnTour, nfn_tour, NFN, TOUR, GtkWidget)

GtkWidget *nfn_tour_new (void);
/* The network every step shows (copied); the tour starts on it at step 1. `twin` (copied, may
 * be NULL) is a second network trained independently to the same end, which step 6 aligns to
 * the first; without one, step 6 uses a permuted noisy copy. A source image named in the
 * network's metadata (nfn_network_source_image) is shown beside the rendered function and is
 * what step 6 measures the barrier against. */
void nfn_tour_set_network (NfnTour *self, const NfnNetwork *network, const NfnNetwork *twin);
/* 1 … NFN_TOUR_STEPS; out-of-range steps clamp. */
void nfn_tour_set_step (NfnTour *self, int step);
int nfn_tour_get_step (NfnTour *self);
void nfn_tour_next (NfnTour *self);
void nfn_tour_back (NfnTour *self);
/* "Step 2 of 6", as shown. */
const char *nfn_tour_get_step_text (NfnTour *self);
/* TRUE while a step still computes on a worker thread (the alignment of step 6). */
gboolean nfn_tour_get_busy (NfnTour *self);
/* The orbit steps 1–3 share, and the page widget of a step. */
NfnOrbit *nfn_tour_get_orbit (NfnTour *self);
GtkWidget *nfn_tour_get_page (NfnTour *self, int step);

G_END_DECLS
#endif
