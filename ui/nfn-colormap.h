/* nfn-colormap.h — colour maps shared by every view that paints numbers.
 *
 * Pure functions (no GTK, no state), so views, exporters and tests agree on every colour.
 */
#ifndef NFN_COLORMAP_H
#define NFN_COLORMAP_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  double r, g, b; /* each in 0…1 */
} NfnRgb;

/* Diverging blue–white–red for signed data already scaled to −1…1: −1 is saturated blue,
 * 0 near-white, +1 saturated red; values beyond ±1 (and ±Inf) clamp to the ends. NaN maps to
 * nfn_colormap_nan(), a grey no other value takes. */
NfnRgb nfn_colormap_diverging (double t);

/* nfn_colormap_diverging of n values as RGB24 pixels (0x00RRGGBB, 8 bits a channel, as a cairo
 * RGB24 image holds them), from a table of the map sampled every 1/2048: within 0.6 of an
 * 8-bit step of the exact colour, at a table look-up a value (a million-cell heatmap). */
void nfn_colormap_diverging_rgb24 (const float *t /* (n) */, size_t n, guint32 *pixels /* (n) */);

/* The colour of a missing (NaN) value. */
NfnRgb nfn_colormap_nan (void);

/* The identity colour of the neuron that sat at `index` (≥ 0) in the original order: hues
 * spread by the golden angle, so neighbours differ strongly, at two lightness levels; never
 * grey and never close to the diverging map's white. */
NfnRgb nfn_colormap_identity (int index);

/* The grey of neurons no permutation moves (inputs and outputs). */
NfnRgb nfn_colormap_fixed (void);

G_END_DECLS
#endif
