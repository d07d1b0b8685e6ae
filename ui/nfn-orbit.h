/* nfn-orbit.h — one network's permutation orbit: the original weights W, the current member
 * σ·W, and what the views need to show the move between members.
 *
 * Shape letters as in nfn_core.h. σ = (σ_0 … σ_L) maps a neuron's ORIGINAL index in set i to
 * its CURRENT position (engine/nfn_perm.h); only hidden sets 1 … L−1 ever move (HNP), so the
 * function never changes. "Identity" below is a neuron's original index: views colour a neuron
 * by its identity so that the colour follows it through every permutation.
 *
 * Every change emits "changed" and restarts the animation: "progress" runs 0 → 1 and
 * nfn_orbit_animated_position() slides each neuron from its place under the previous σ to
 * its place under the new one. nfn_orbit_animate() drives progress from a widget's frame
 * clock over NFN_ORBIT_ANIMATION_MS (at once when animations are off).
 */
#ifndef NFN_ORBIT_H
#define NFN_ORBIT_H

#include <gtk/gtk.h>
#include "nfn_network.h"
#include "nfn_perm.h"
#include "nfn-probe.h"

G_BEGIN_DECLS

#define NFN_ORBIT_ANIMATION_MS 300
/* Probe grids for an image network: the data set's 28×28, and a finer one for display. */
#define NFN_ORBIT_GRID 28
#define NFN_ORBIT_FINE_GRID 112

#define NFN_TYPE_ORBIT (nfn_orbit_get_type ())
G_DECLARE_FINAL_TYPE (NfnOrbit, nfn_orbit, NFN, ORBIT, GObject)

/* Copies `network`; σ starts at the identity. `seed` fixes the random permutations. */
NfnOrbit *nfn_orbit_new (const NfnNetwork *network, guint64 seed);

const NfnNetwork *nfn_orbit_get_original (NfnOrbit *self);
/* σ·W with the original's names and architecture. */
const NfnNetwork *nfn_orbit_get_current (NfnOrbit *self);
const nfn_perm *nfn_orbit_get_permutation (NfnOrbit *self);
/* Original index of the neuron now at `position` of set i (σ_i⁻¹(position)). */
int nfn_orbit_identity_at (NfnOrbit *self, int set, int position);

/* σ ← σ'∘σ for a uniformly random hidden permutation σ'. */
void nfn_orbit_permute_random (NfnOrbit *self);
/* σ ← the canonical form's permutation (nfn_perm_canonical of the current weights) ∘ σ. */
gboolean nfn_orbit_canonicalize (NfnOrbit *self, GError **error);
void nfn_orbit_reset (NfnOrbit *self);
/* Moves the hidden neuron at position `from` of set i to position `to`, the neurons between
 * shifting by one to make room (a cycle). FALSE for a set that is not hidden or bad positions. */
gboolean nfn_orbit_move_neuron (NfnOrbit *self, int set, int from, int to);
/* σ ← τ∘σ for any hidden permutation τ of the space (sets 0 and L must be the identity). */
gboolean nfn_orbit_apply (NfnOrbit *self, const nfn_perm *tau);

/* ---- Animation ---- */
double nfn_orbit_get_progress (NfnOrbit *self);
void nfn_orbit_set_progress (NfnOrbit *self, double progress);
/* Where the neuron now at `position` of set i is drawn: its previous position eased towards
 * `position` as progress runs from 0 to 1. */
float nfn_orbit_animated_position (NfnOrbit *self, int set, int position);
/* Position, before the last change, of the neuron now at `position` of set i. */
int nfn_orbit_previous_position (NfnOrbit *self, int set, int position);
/* Progress through an ease-in-out curve: the fraction of the way each neuron has moved. */
double nfn_orbit_get_eased_progress (NfnOrbit *self);
/* positions (n_i) for every current position of set i. */
void nfn_orbit_animated_positions (NfnOrbit *self, int set, float *positions /* (n_i) */);
/* Runs progress 0 → 1 on `widget`'s frame clock; a newer change restarts it. */
void nfn_orbit_animate (NfnOrbit *self, GtkWidget *widget);

/* ---- What the network computes ---- */
/* The probe on the 28×28 grid (image networks) or the fixed batch, and the finer grid
 * (NULL unless the network is an image). */
NfnProbe *nfn_orbit_get_probe (NfnOrbit *self, gboolean fine);
/* Outputs (N, K) of the current member and of the original, on that probe. */
const float *nfn_orbit_get_outputs (NfnOrbit *self, gboolean fine);
const float *nfn_orbit_get_original_outputs (NfnOrbit *self, gboolean fine);
/* Hidden layer i's activations (N, n_i) of the current member on the 28×28 grid (or batch);
 * NULL for conv layers. */
const float *nfn_orbit_get_hidden (NfnOrbit *self, int layer);
/* max |f(σ·W) − f(W)| over every probe. */
double nfn_orbit_get_max_delta_f (NfnOrbit *self);
/* ‖σ·W − W‖ / ‖W‖ over all weights and biases, and the fraction of entries that differ. */
void nfn_orbit_get_weight_change (NfnOrbit *self, double *relative, double *fraction_changed);

/* Hidden permutations of the orbit, n_1!·…·n_{L−1}!, as "6.9e70" (log-gamma, so any width). */
char *nfn_orbit_format_size (const nfn_space *space);

G_END_DECLS
#endif
