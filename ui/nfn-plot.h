/* nfn-plot.h — line plots: series of (x, y) points with axes, ticks, a legend and an optional
 * log y axis and smoothing; used for interpolation barriers and loss curves.
 *
 * Shape letters: S series, N_s points of series s.
 *
 * Stages, as the heatmap's:
 *   1. data:        each series' own copy of its points;
 *   2. transformed: smoothing (an exponential moving average with TensorBoard's debiasing,
 *                   weight w, 0 = off) and, on a log axis, log10 y (non-positive y dropped);
 *                   the data ranges, widened to nice tick values;
 *   3. painting:    nfn_plot_draw() maps data to pixels through NfnPlotLayout alone, so
 *                   tests can ask where any point landed.
 */
#ifndef NFN_PLOT_H
#define NFN_PLOT_H

#include <cairo.h>
#include <gtk/gtk.h>
#include "nfn-colormap.h"

G_BEGIN_DECLS

#define NFN_PLOT_PADDING 8.0
#define NFN_PLOT_TITLE_BAND 20.0
#define NFN_PLOT_MAX_TICKS 16

typedef struct {
  double width, height;
  double plot_x, plot_y, plot_width, plot_height; /* the data box */
  double x_min, x_max, y_min, y_max;              /* data range of the box (y in log10 on a log axis) */
  gboolean log_y;
  int n_x_ticks, n_y_ticks;
  double x_ticks[NFN_PLOT_MAX_TICKS], y_ticks[NFN_PLOT_MAX_TICKS]; /* in box units (log10 for log y) */
} NfnPlotLayout;

/* Box and ranges for data spanning [x_min, x_max] × [y_min, y_max] (y already log10 on a log
 * axis): ranges widen to the enclosing ticks; left_band and bottom_band make room for labels. */
void nfn_plot_layout_compute (NfnPlotLayout *layout, double width, double height, double x_min, double x_max,
                              double y_min, double y_max, gboolean log_y, gboolean has_title, double left_band,
                              double bottom_band);
/* Pixel of a data point (y as data, not log10: the layout takes the log). */
double nfn_plot_layout_x_to_pixel (const NfnPlotLayout *layout, double x);
double nfn_plot_layout_y_to_pixel (const NfnPlotLayout *layout, double y);

typedef struct {
  const char *label;
  NfnRgb colour;
  gboolean dashed;
  int n;
  const double *x, *y; /* (N_s), transformed (stage 2) but y not in log10 */
} NfnPlotSeries;

typedef struct {
  const char *title, *x_label, *y_label; /* may be NULL */
  int n_series;
  const NfnPlotSeries *series;
  gboolean log_y;
  GdkRGBA foreground;
  const PangoFontDescription *font;
} NfnPlotDrawing;

/* Only paints: axes, ticks with labels, grid lines, each series as a polyline with a dot per
 * point when points are few, and a legend box in the upper right. Fills `layout` (may be NULL)
 * with the geometry it used. */
void nfn_plot_draw (cairo_t *cr, double width, double height, const NfnPlotDrawing *drawing, NfnPlotLayout *layout);

/* Smoothed copy of y (N) into out (N): TensorBoard's debiased EMA with weight w in [0, 1). */
void nfn_plot_smooth (const double *y, int n, double weight, double *out);

#define NFN_TYPE_PLOT (nfn_plot_get_type ())
G_DECLARE_FINAL_TYPE (NfnPlot, nfn_plot, NFN, PLOT, GtkWidget)

GtkWidget *nfn_plot_new (void);
void nfn_plot_clear (NfnPlot *self);
/* Copies n points; returns the series' index. */
int nfn_plot_add_series (NfnPlot *self, const char *label, NfnRgb colour, gboolean dashed, const double *x,
                         const double *y, int n);
int nfn_plot_get_n_series (NfnPlot *self);
/* Points of series s (as added, before smoothing), and its legend label. */
int nfn_plot_get_series_length (NfnPlot *self, int series);
const char *nfn_plot_get_series_label (NfnPlot *self, int series);
void nfn_plot_set_title (NfnPlot *self, const char *title);
const char *nfn_plot_get_title (NfnPlot *self);
void nfn_plot_set_axis_labels (NfnPlot *self, const char *x_label, const char *y_label);
void nfn_plot_set_log_y (NfnPlot *self, gboolean log_y);
void nfn_plot_set_smoothing (NfnPlot *self, double weight);
/* The layout the last paint at this size would use (for tests and hit-testing). */
void nfn_plot_get_layout (NfnPlot *self, cairo_t *cr, double width, double height, NfnPlotLayout *layout);

void nfn_plot_paint (NfnPlot *self, cairo_t *cr, double width, double height);

G_END_DECLS
#endif
