/* nfn-heatmap.h — a matrix of floats as a diverging heatmap with title, legend and hover.
 *
 * Shape letters: R rows, K columns (a weight W_i is R = n_i, K = n_{i-1}·f_i; a bias b_i is
 * one row, K = n_i).
 *
 * Drawing goes in three stages so that tests and exporters can stop at any of them:
 *   1. data:       the widget's own copy of the (R, K) values;
 *   2. normalised: nfn_heatmap_normalise() divides by max |value| into −1…1 (NaN kept);
 *   3. painting:   nfn_heatmap_draw() paints a NfnHeatmapDrawing on any cairo_t — the widget's
 *                  snapshot, an offscreen image surface in a test, a PNG or SVG export.
 * Geometry lives in NfnHeatmapLayout alone, so painting and pointer hit-testing cannot drift.
 */
#ifndef NFN_HEATMAP_H
#define NFN_HEATMAP_H

#include <cairo.h>
#include <gtk/gtk.h>

G_BEGIN_DECLS

/* ---- Stage 2: normalisation ---- */

/* normalised[e] = values[e] / max |finite values| for the n entries; NaN stays NaN, ±Inf and
 * an all-zero input give ±1 and 0. Returns that max |value| (0 when there is none). */
double nfn_heatmap_normalise (const float *values /* (n) */, size_t n, float *normalised /* (n) */);

/* ---- Stage 3: layout and painting ---- */

typedef struct {
  int rows, cols;
  double width, height;                      /* the whole drawing */
  double title_x, title_y, title_height;     /* title_height 0 when untitled */
  double grid_x, grid_y, cell;               /* matrix top-left and square cell edge */
  double legend_x, legend_y, legend_width, legend_height; /* colour bar, labels below it */
} NfnHeatmapLayout;

/* Padding around the drawing and the fixed bands (title, legend) in pixels. */
#define NFN_HEATMAP_PADDING 6.0
#define NFN_HEATMAP_TITLE_BAND 20.0
#define NFN_HEATMAP_LEGEND_BAND 32.0
#define NFN_HEATMAP_LEGEND_MIN_WIDTH 150.0

void nfn_heatmap_layout_compute (NfnHeatmapLayout *layout, double width, double height, int rows, int cols,
                                 gboolean has_title);
/* TRUE and the cell under (x, y) when the point is inside the matrix. */
gboolean nfn_heatmap_layout_cell_at (const NfnHeatmapLayout *layout, double x, double y, int *row, int *col);

typedef struct {
  const char *title;       /* may be NULL */
  int rows, cols;
  const float *normalised; /* (R, K), −1…1, NaN allowed */
  double max_abs;          /* the scale behind `normalised`, printed on the legend */
  int hover_row, hover_col; /* outlined cell, −1 for none */
  /* Where stored row r (column k) is drawn, in cells: (R) and (K), NULL for r (k). A
   * permutation animates by moving these from the old order to the new one. */
  const float *row_positions, *col_positions;
  GdkRGBA foreground;      /* text and outlines */
  const PangoFontDescription *font; /* NULL for "Sans 9" */
  cairo_surface_t *cells;  /* nfn_heatmap_cells_surface of `normalised`, or NULL to make it here */
} NfnHeatmapDrawing;

/* The colours of a normalised (R, K) matrix, one RGB24 pixel per cell: what painting scales
 * up. A widget keeps it until its values change, so frames of a permutation only move it. */
cairo_surface_t *nfn_heatmap_cells_surface (const float *normalised /* (R, K) */, int rows, int cols);

/* Only paints: the matrix (one colour per cell, NaN grey), its outline, the hovered cell, the
 * title and a legend bar from −max to +max with its three labels. */
void nfn_heatmap_draw (cairo_t *cr, double width, double height, const NfnHeatmapDrawing *drawing);

/* ---- The widget ---- */

#define NFN_TYPE_HEATMAP (nfn_heatmap_get_type ())
G_DECLARE_FINAL_TYPE (NfnHeatmap, nfn_heatmap, NFN, HEATMAP, GtkWidget)

GtkWidget *nfn_heatmap_new (void);

/* Copies rows·cols values (row-major). rows or cols of 0 clears the matrix. */
void nfn_heatmap_set_matrix (NfnHeatmap *self, int rows, int cols, const float *values /* (R, K) */);
/* A fixed colour scale: values are shown as value / max_abs (clamped), so two heatmaps can
 * share one; 0 returns to the matrix's own max |value|. */
void nfn_heatmap_set_scale (NfnHeatmap *self, double max_abs);
int nfn_heatmap_get_rows (NfnHeatmap *self);
int nfn_heatmap_get_cols (NfnHeatmap *self);
double nfn_heatmap_get_max_abs (NfnHeatmap *self);
/* NaN when (row, col) is outside the matrix. */
float nfn_heatmap_get_value (NfnHeatmap *self, int row, int col);

void nfn_heatmap_set_title (NfnHeatmap *self, const char *title);
const char *nfn_heatmap_get_title (NfnHeatmap *self);

/* The cell under the pointer (set by pointer motion), −1 when none. */
int nfn_heatmap_get_hover_row (NfnHeatmap *self);
int nfn_heatmap_get_hover_col (NfnHeatmap *self);
/* What the tooltip says about a cell, e.g. "row 3, column 17: -0.0123457"; NULL outside. */
char *nfn_heatmap_describe_cell (NfnHeatmap *self, int row, int col);

/* Cell size relative to the natural one (1): wide layers are read by zooming in, inside a
 * scrolled view. Ctrl + scroll over the widget changes it by NFN_HEATMAP_ZOOM_STEP. */
#define NFN_HEATMAP_ZOOM_MIN 0.25
#define NFN_HEATMAP_ZOOM_MAX 32.0
#define NFN_HEATMAP_ZOOM_STEP 1.25
void nfn_heatmap_set_zoom (NfnHeatmap *self, double zoom);
double nfn_heatmap_get_zoom (NfnHeatmap *self);
/* The cell edge the widget asks for at its current zoom, in pixels. */
double nfn_heatmap_get_natural_cell (NfnHeatmap *self);

/* Draw positions of rows (R) and columns (K) in cells (see NfnHeatmapDrawing); NULL resets
 * to the stored order. Copied. */
void nfn_heatmap_set_positions (NfnHeatmap *self, const float *row_positions, const float *col_positions);

/* Paints the widget's current state at any size, e.g. on an offscreen surface for export. */
void nfn_heatmap_paint (NfnHeatmap *self, cairo_t *cr, double width, double height);

G_END_DECLS
#endif
