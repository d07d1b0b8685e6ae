/* nfn-histogram.h — the distribution of a tensor's values as bars coloured like the heatmap.
 *
 * Shape letters: N values, K bins.
 *
 * Drawing goes in three stages, as the heatmap's:
 *   1. data:       the widget's own copy of the N values;
 *   2. binned:     nfn_histogram_bin() counts them into K equal bins over a range symmetric
 *                  around zero (−max |v| … +max |v|, the heatmap legend's range), so bar colours
 *                  read like the heatmap's cells;
 *   3. painting:   nfn_histogram_draw() paints a NfnHistogramDrawing on any cairo_t.
 */
#ifndef NFN_HISTOGRAM_H
#define NFN_HISTOGRAM_H

#include <cairo.h>
#include <gtk/gtk.h>

G_BEGIN_DECLS

/* ---- Stage 2: binning ---- */

/* Counts the finite values into `bins` equal bins over [−m, m], m = max |finite value| (1 when
 * every value is 0 or none is finite). Bin b holds lo + b·w ≤ v < lo + (b+1)·w, the last bin
 * also v = m. NaN and ±Inf are not counted; *nonfinite (may be NULL) gets their number.
 * Returns m. */
double nfn_histogram_bin (const float *values /* (N) */, size_t n, int bins, guint *counts /* (K) */,
                          size_t *nonfinite);

/* ---- Stage 3: layout and painting ---- */

#define NFN_HISTOGRAM_PADDING 6.0
#define NFN_HISTOGRAM_AXIS_BAND 16.0 /* range labels under the bars */

typedef struct {
  double plot_x, plot_y, plot_width, plot_height; /* the bars' box; bar b spans plot_width / K */
} NfnHistogramLayout;

void nfn_histogram_layout_compute (NfnHistogramLayout *layout, double width, double height);

typedef struct {
  int bins;
  const guint *counts; /* (K) */
  double range;        /* m: bins span −m … m */
  GdkRGBA foreground;
  const PangoFontDescription *font; /* NULL for "Sans 9" */
} NfnHistogramDrawing;

/* Only paints: bar b of height counts[b] / max count × plot height, coloured by the diverging
 * map at the bin's centre / m, a base line, and the labels −m, 0, m. */
void nfn_histogram_draw (cairo_t *cr, double width, double height, const NfnHistogramDrawing *drawing);

/* ---- The widget ---- */

#define NFN_TYPE_HISTOGRAM (nfn_histogram_get_type ())
G_DECLARE_FINAL_TYPE (NfnHistogram, nfn_histogram, NFN, HISTOGRAM, GtkWidget)

#define NFN_HISTOGRAM_DEFAULT_BINS 24

GtkWidget *nfn_histogram_new (void);

/* Copies n values and bins them. */
void nfn_histogram_set_values (NfnHistogram *self, const float *values /* (N) */, size_t n);
void nfn_histogram_set_bins (NfnHistogram *self, int bins);
int nfn_histogram_get_bins (NfnHistogram *self);
/* The counts (K) of the values last set, and their range m. */
const guint *nfn_histogram_get_counts (NfnHistogram *self);
double nfn_histogram_get_range (NfnHistogram *self);

void nfn_histogram_paint (NfnHistogram *self, cairo_t *cr, double width, double height);

G_END_DECLS
#endif
