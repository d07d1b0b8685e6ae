/* nfn-heatmap.c — NfnHeatmap: stage functions (normalise, layout, draw) and the widget.
 *
 * Shape letters: R rows, K columns of the matrix shown.
 */
#include "nfn-heatmap.h"

#include <math.h>
#include <pango/pangocairo.h>
#include <string.h>

#include "nfn-colormap.h"
#include "nfn-draw.h"

/* Gap between the matrix and the legend bar, and the bar's own height. */
#define NFN_HEATMAP_LEGEND_GAP 6.0
#define NFN_HEATMAP_LEGEND_BAR 10.0
#define NFN_HEATMAP_LEGEND_MAX_WIDTH 256.0
/* Natural size: the longer side of the matrix aims at this many pixels, cells stay in range. */
#define NFN_HEATMAP_NATURAL_EXTENT 256.0
#define NFN_HEATMAP_NATURAL_CELL_MAX 20.0
#define NFN_HEATMAP_VECTOR_EXTENT NFN_HEATMAP_LEGEND_MIN_WIDTH

/* ---- Stage 2: normalisation ---- */

double
nfn_heatmap_normalise (const float *values, size_t n, float *normalised)
{
  double max_abs = 0.0;
  for (size_t e = 0; e < n; e++)
    if (isfinite (values[e]))
      max_abs = MAX (max_abs, fabs ((double) values[e]));

  for (size_t e = 0; e < n; e++)
    {
      float v = values[e];
      if (isnan (v))
        normalised[e] = v;
      else if (isinf (v))
        normalised[e] = v > 0 ? 1.0f : -1.0f;
      else
        normalised[e] = max_abs > 0.0 ? (float) (v / max_abs) : 0.0f;
    }
  return max_abs;
}

/* ---- Stage 3: layout and painting ---- */

void
nfn_heatmap_layout_compute (NfnHeatmapLayout *layout, double width, double height, int rows, int cols,
                            gboolean has_title)
{
  *layout = (NfnHeatmapLayout) { .rows = rows, .cols = cols, .width = width, .height = height };

  double pad = NFN_HEATMAP_PADDING;
  layout->title_x = pad;
  layout->title_y = pad;
  layout->title_height = has_title ? NFN_HEATMAP_TITLE_BAND : 0.0;

  layout->grid_x = pad;
  layout->grid_y = pad + layout->title_height;
  double area_width = MAX (0.0, width - 2 * pad);
  double area_height = MAX (0.0, height - layout->grid_y - pad - NFN_HEATMAP_LEGEND_BAND);
  if (rows > 0 && cols > 0)
    {
      double cell = MIN (area_width / cols, area_height / rows);
      /* Whole-pixel cells look even; below one pixel there is no evenness left to keep. */
      layout->cell = cell >= 1.0 ? floor (cell) : cell;
    }

  double grid_width = layout->cell * MAX (cols, 0);
  layout->legend_x = pad;
  layout->legend_y = layout->grid_y + layout->cell * MAX (rows, 0) + NFN_HEATMAP_LEGEND_GAP;
  layout->legend_width = MIN (area_width,
                              CLAMP (grid_width, NFN_HEATMAP_LEGEND_MIN_WIDTH, NFN_HEATMAP_LEGEND_MAX_WIDTH));
  layout->legend_height = NFN_HEATMAP_LEGEND_BAR;
}

gboolean
nfn_heatmap_layout_cell_at (const NfnHeatmapLayout *layout, double x, double y, int *row, int *col)
{
  if (layout->rows <= 0 || layout->cols <= 0 || layout->cell <= 0.0)
    return FALSE;
  double u = (x - layout->grid_x) / layout->cell;
  double v = (y - layout->grid_y) / layout->cell;
  if (u < 0.0 || v < 0.0 || u >= layout->cols || v >= layout->rows)
    return FALSE;
  *row = (int) v;
  *col = (int) u;
  return TRUE;
}

static double
nfn_heatmap_text_width (cairo_t *cr, const NfnHeatmapDrawing *drawing, const char *text)
{
  double width;
  nfn_draw_text_size (cr, drawing->font, text, &width, NULL);
  return width;
}

static void
nfn_heatmap_draw_text (cairo_t *cr, const NfnHeatmapDrawing *drawing, const char *text, double x, double y,
                       double align, double max_width)
{
  nfn_draw_text (cr, drawing->font, &drawing->foreground, text, x, y, align, max_width);
}

/* ---- Cells ---- */

cairo_surface_t *
nfn_heatmap_cells_surface (const float *normalised, int rows, int cols)
{
  g_return_val_if_fail (rows > 0 && cols > 0 && normalised != NULL, NULL);
  cairo_surface_t *cells = cairo_image_surface_create (CAIRO_FORMAT_RGB24, cols, rows);
  if (cairo_surface_status (cells) != CAIRO_STATUS_SUCCESS)
    {
      cairo_surface_destroy (cells);
      return NULL;
    }
  cairo_surface_flush (cells);
  unsigned char *pixels = cairo_image_surface_get_data (cells);
  int stride = cairo_image_surface_get_stride (cells);
  for (int r = 0; r < rows; r++)
    nfn_colormap_diverging_rgb24 (normalised + (size_t) r * cols, cols,
                                  (guint32 *) (void *) (pixels + (size_t) r * stride));
  cairo_surface_mark_dirty (cells);
  return cells;
}

/* Which stored line (row or column) covers each of `extent` pixels when line l is drawn from
 * positions[l]·cell, in order, a later line over an earlier one; −1 where none does. */
static void
nfn_heatmap_line_map (int *map, int extent, int lines, const float *positions, double cell)
{
  for (int p = 0; p < extent; p++)
    map[p] = -1;
  for (int l = 0; l < lines; l++)
    {
      double start = (positions ? positions[l] : l) * cell;
      int from = MAX (0, (int) lround (start)), to = MIN (extent, (int) lround (start + cell));
      if (to <= from && from < extent && cell < 1)
        to = from + 1; /* a sub-pixel cell still owns the pixel it starts in */
      for (int p = from; p < to; p++)
        map[p] = l;
    }
}

/* Pixels the moved image may hold: a zoomed wide matrix (784 columns at 32 px) would
 * otherwise ask for gigabytes every frame of a permutation. */
#define NFN_HEATMAP_MOVED_PIXELS 4e6

/* Rows and columns away from their stored places (mid-animation): every pixel of an image of
 * the grid looks up the stored row and column drawn there, so a frame costs one pass over the
 * image's pixels however many rows and columns move. The image has at most `cell` pixels per
 * cell — fewer when that would exceed NFN_HEATMAP_MOVED_PIXELS, then it is scaled up with
 * nearest-neighbour sampling and the rows move in steps of a fraction of a cell. */
static void
nfn_heatmap_draw_moved_cells (cairo_t *cr, const NfnHeatmapLayout *layout, cairo_surface_t *cells,
                              const float *row_positions /* (R) or NULL */,
                              const float *col_positions /* (K) or NULL */)
{
  double per_cell = layout->cell, count = (double) layout->rows * layout->cols;
  if (per_cell > 1 && per_cell * per_cell * count > NFN_HEATMAP_MOVED_PIXELS)
    per_cell = MIN (per_cell, MAX (1.0, floor (sqrt (NFN_HEATMAP_MOVED_PIXELS / count))));
  int width = MAX (1, (int) ceil (per_cell * layout->cols));
  int height = MAX (1, (int) ceil (per_cell * layout->rows));
  g_autofree int *col_map = g_new (int, width);
  g_autofree int *row_map = g_new (int, height);
  nfn_heatmap_line_map (col_map, width, layout->cols, col_positions, per_cell);
  nfn_heatmap_line_map (row_map, height, layout->rows, row_positions, per_cell);

  cairo_surface_t *moved = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, width, height);
  if (cairo_surface_status (moved) != CAIRO_STATUS_SUCCESS)
    {
      cairo_surface_destroy (moved);
      return;
    }
  cairo_surface_flush (moved);
  unsigned char *out = cairo_image_surface_get_data (moved);
  int out_stride = cairo_image_surface_get_stride (moved);
  const unsigned char *in = cairo_image_surface_get_data (cells);
  int in_stride = cairo_image_surface_get_stride (cells);
  for (int y = 0; y < height; y++)
    {
      guint32 *line = (guint32 *) (void *) (out + (size_t) y * out_stride);
      if (row_map[y] < 0)
        {
          memset (line, 0, (size_t) width * 4);
          continue;
        }
      const guint32 *source = (const guint32 *) (const void *) (in + (size_t) row_map[y] * in_stride);
      for (int x = 0; x < width; x++)
        line[x] = col_map[x] < 0 ? 0 : 0xff000000u | source[col_map[x]];
    }
  cairo_surface_mark_dirty (moved);
  cairo_save (cr);
  cairo_translate (cr, layout->grid_x, layout->grid_y);
  if (per_cell != layout->cell)
    cairo_scale (cr, layout->cell / per_cell, layout->cell / per_cell);
  cairo_set_source_surface (cr, moved, 0, 0);
  cairo_pattern_set_filter (cairo_get_source (cr), CAIRO_FILTER_NEAREST);
  cairo_rectangle (cr, 0, 0, width, height);
  cairo_fill (cr);
  cairo_restore (cr);
  cairo_surface_destroy (moved);
}

/* One pixel per cell, then scaled up with nearest-neighbour sampling: one fill for the whole
 * matrix instead of R·K rectangles, and sharp cell edges at any zoom. */
static void
nfn_heatmap_draw_cells (cairo_t *cr, const NfnHeatmapLayout *layout, cairo_surface_t *cells,
                        const float *row_positions, const float *col_positions)
{
  if (row_positions == NULL && col_positions == NULL)
    {
      cairo_save (cr);
      cairo_translate (cr, layout->grid_x, layout->grid_y);
      cairo_scale (cr, layout->cell, layout->cell);
      cairo_set_source_surface (cr, cells, 0, 0);
      cairo_pattern_set_filter (cairo_get_source (cr), CAIRO_FILTER_NEAREST);
      cairo_rectangle (cr, 0, 0, layout->cols, layout->rows);
      cairo_fill (cr);
      cairo_restore (cr);
    }
  else
    nfn_heatmap_draw_moved_cells (cr, layout, cells, row_positions, col_positions);
}

static void
nfn_heatmap_draw_legend (cairo_t *cr, const NfnHeatmapLayout *layout, const NfnHeatmapDrawing *drawing)
{
  if (layout->legend_width <= 0)
    return;

  /* Sampled stops reproduce any piecewise-linear map closely without knowing its anchors. */
  enum { STOPS = 33 };
  cairo_pattern_t *ramp = cairo_pattern_create_linear (layout->legend_x, 0,
                                                       layout->legend_x + layout->legend_width, 0);
  for (int s = 0; s < STOPS; s++)
    {
      double offset = (double) s / (STOPS - 1);
      NfnRgb rgb = nfn_colormap_diverging (2 * offset - 1);
      cairo_pattern_add_color_stop_rgb (ramp, offset, rgb.r, rgb.g, rgb.b);
    }
  cairo_rectangle (cr, layout->legend_x, layout->legend_y, layout->legend_width, layout->legend_height);
  cairo_set_source (cr, ramp);
  cairo_fill (cr);
  cairo_pattern_destroy (ramp);

  cairo_set_line_width (cr, 1);
  cairo_set_source_rgba (cr, drawing->foreground.red, drawing->foreground.green, drawing->foreground.blue,
                         0.3 * drawing->foreground.alpha);
  cairo_rectangle (cr, layout->legend_x - 0.5, layout->legend_y - 0.5, layout->legend_width + 1,
                   layout->legend_height + 1);
  cairo_stroke (cr);

  char high[G_ASCII_DTOSTR_BUF_SIZE], low[G_ASCII_DTOSTR_BUF_SIZE + 4];
  nfn_draw_format_number (high, sizeof high, drawing->max_abs);
  nfn_draw_format_number (low, sizeof low, -drawing->max_abs);
  double label_y = layout->legend_y + layout->legend_height + 1;
  double left = layout->legend_x, right = layout->legend_x + layout->legend_width;
  double middle = (left + right) / 2;
  nfn_heatmap_draw_text (cr, drawing, low, left, label_y, 0.0, 0);
  nfn_heatmap_draw_text (cr, drawing, high, right, label_y, 1.0, 0);
  /* The centre "0" only where it clears both end labels on a narrow bar. */
  double zero_half = nfn_heatmap_text_width (cr, drawing, "0") / 2, gap = 4;
  if (left + nfn_heatmap_text_width (cr, drawing, low) + gap <= middle - zero_half
      && middle + zero_half + gap <= right - nfn_heatmap_text_width (cr, drawing, high))
    nfn_heatmap_draw_text (cr, drawing, "0", middle, label_y, 0.5, 0);
}

void
nfn_heatmap_draw (cairo_t *cr, double width, double height, const NfnHeatmapDrawing *drawing)
{
  g_return_if_fail (cr != NULL && drawing != NULL);

  gboolean has_title = drawing->title != NULL && drawing->title[0] != '\0';
  NfnHeatmapLayout layout;
  nfn_heatmap_layout_compute (&layout, width, height, drawing->rows, drawing->cols, has_title);

  if (has_title)
    nfn_heatmap_draw_text (cr, drawing, drawing->title, layout.title_x, layout.title_y, 0.0,
                           width - 2 * NFN_HEATMAP_PADDING);

  gboolean has_cells = drawing->rows > 0 && drawing->cols > 0 && drawing->normalised != NULL && layout.cell > 0;
  if (has_cells)
    {
      cairo_surface_t *cells = drawing->cells ? cairo_surface_reference (drawing->cells)
                                              : nfn_heatmap_cells_surface (drawing->normalised, drawing->rows,
                                                                           drawing->cols);
      if (cells)
        nfn_heatmap_draw_cells (cr, &layout, cells, drawing->row_positions, drawing->col_positions);
      cairo_surface_destroy (cells);

      /* An outline keeps near-white cells from melting into a light background. */
      double grid_width = layout.cell * layout.cols, grid_height = layout.cell * layout.rows;
      cairo_set_line_width (cr, 1);
      cairo_set_source_rgba (cr, drawing->foreground.red, drawing->foreground.green,
                             drawing->foreground.blue, 0.3 * drawing->foreground.alpha);
      cairo_rectangle (cr, layout.grid_x - 0.5, layout.grid_y - 0.5, grid_width + 1, grid_height + 1);
      cairo_stroke (cr);

      if (drawing->hover_row >= 0 && drawing->hover_row < drawing->rows && drawing->hover_col >= 0
          && drawing->hover_col < drawing->cols)
        {
          cairo_set_line_width (cr, 2);
          gdk_cairo_set_source_rgba (cr, &drawing->foreground);
          cairo_rectangle (cr, layout.grid_x + drawing->hover_col * layout.cell - 1,
                           layout.grid_y + drawing->hover_row * layout.cell - 1, layout.cell + 2,
                           layout.cell + 2);
          cairo_stroke (cr);
        }
    }
  else
    nfn_heatmap_draw_text (cr, drawing, "no data", layout.grid_x, layout.grid_y, 0.0, 0);

  nfn_heatmap_draw_legend (cr, &layout, drawing);
}

/* ---- The widget ---- */

struct _NfnHeatmap
{
  GtkWidget parent_instance;

  char *title;
  int rows, cols;
  float *values;     /* (R, K) */
  float *normalised; /* (R, K) */
  double max_abs;
  int hover_row, hover_col;
  double zoom;
  double fixed_scale; /* 0: the matrix's own max |value| */
  float *row_positions; /* (R) or NULL */
  float *col_positions; /* (K) or NULL */
  cairo_surface_t *cells; /* the colours of `normalised`, made on the first paint, or NULL */
};

G_DEFINE_FINAL_TYPE (NfnHeatmap, nfn_heatmap, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_TITLE,
  PROP_ROWS,
  PROP_COLS,
  PROP_MAX_ABS,
  PROP_HOVER_ROW,
  PROP_HOVER_COL,
  PROP_ZOOM,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

GtkWidget *
nfn_heatmap_new (void)
{
  return g_object_new (NFN_TYPE_HEATMAP, NULL);
}

static void
nfn_heatmap_set_hover (NfnHeatmap *self, int row, int col)
{
  if (row == self->hover_row && col == self->hover_col)
    return;
  g_object_freeze_notify (G_OBJECT (self));
  if (row != self->hover_row)
    {
      self->hover_row = row;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HOVER_ROW]);
    }
  if (col != self->hover_col)
    {
      self->hover_col = col;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HOVER_COL]);
    }
  g_object_thaw_notify (G_OBJECT (self));
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static gboolean
nfn_heatmap_widget_cell_at (NfnHeatmap *self, double x, double y, int *row, int *col)
{
  NfnHeatmapLayout layout;
  nfn_heatmap_layout_compute (&layout, gtk_widget_get_width (GTK_WIDGET (self)),
                              gtk_widget_get_height (GTK_WIDGET (self)), self->rows, self->cols,
                              self->title != NULL && self->title[0] != '\0');
  return nfn_heatmap_layout_cell_at (&layout, x, y, row, col);
}

static void
nfn_heatmap_motion (GtkEventControllerMotion *motion, double x, double y, NfnHeatmap *self)
{
  int row, col;
  if (nfn_heatmap_widget_cell_at (self, x, y, &row, &col))
    nfn_heatmap_set_hover (self, row, col);
  else
    nfn_heatmap_set_hover (self, -1, -1);
}

static void
nfn_heatmap_leave (GtkEventControllerMotion *motion, NfnHeatmap *self)
{
  nfn_heatmap_set_hover (self, -1, -1);
}

static gboolean
nfn_heatmap_query_tooltip (GtkWidget *widget, int x, int y, gboolean keyboard_mode, GtkTooltip *tooltip)
{
  NfnHeatmap *self = NFN_HEATMAP (widget);
  int row, col;
  if (!nfn_heatmap_widget_cell_at (self, x, y, &row, &col))
    return FALSE;
  g_autofree char *text = nfn_heatmap_describe_cell (self, row, col);
  gtk_tooltip_set_text (tooltip, text);
  return TRUE;
}

char *
nfn_heatmap_describe_cell (NfnHeatmap *self, int row, int col)
{
  g_return_val_if_fail (NFN_IS_HEATMAP (self), NULL);
  if (row < 0 || row >= self->rows || col < 0 || col >= self->cols)
    return NULL;
  char value[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd (value, sizeof value, "%.6g", self->values[(size_t) row * self->cols + col]);
  return g_strdup_printf ("row %d, column %d: %s", row, col, value);
}

/* Natural cell edge at zoom 1: the longer matrix side near NFN_HEATMAP_NATURAL_EXTENT pixels,
 * and a vector (one row or column, e.g. a bias or a SIREN's 1×32 output layer) no longer than
 * its legend bar's least width: at the full extent every layer's column of the explorer was as
 * wide as a square matrix's, and the last one ran past the explorer's pane. */
static double
nfn_heatmap_natural_cell (int rows, int cols)
{
  int longer = MAX (MAX (rows, cols), 1);
  double extent = MIN (rows, cols) <= 1 ? NFN_HEATMAP_VECTOR_EXTENT : NFN_HEATMAP_NATURAL_EXTENT;
  return CLAMP (floor (extent / longer), 1.0, NFN_HEATMAP_NATURAL_CELL_MAX);
}

double
nfn_heatmap_get_natural_cell (NfnHeatmap *self)
{
  g_return_val_if_fail (NFN_IS_HEATMAP (self), 0.0);
  double cell = nfn_heatmap_natural_cell (self->rows, self->cols) * self->zoom;
  /* Whole pixels once cells are bigger than one, as the layout draws them. */
  return cell >= 1.0 ? floor (cell) : cell;
}

void
nfn_heatmap_set_zoom (NfnHeatmap *self, double zoom)
{
  g_return_if_fail (NFN_IS_HEATMAP (self));
  zoom = CLAMP (zoom, NFN_HEATMAP_ZOOM_MIN, NFN_HEATMAP_ZOOM_MAX);
  if (zoom == self->zoom)
    return;
  self->zoom = zoom;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ZOOM]);
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

double
nfn_heatmap_get_zoom (NfnHeatmap *self)
{
  g_return_val_if_fail (NFN_IS_HEATMAP (self), 1.0);
  return self->zoom;
}

static gboolean
nfn_heatmap_scroll (GtkEventControllerScroll *scroll, double dx, double dy, NfnHeatmap *self)
{
  GdkModifierType state = gtk_event_controller_get_current_event_state (GTK_EVENT_CONTROLLER (scroll));
  /* Plain scrolling belongs to the scrolled view around the heatmap. */
  if ((state & GDK_CONTROL_MASK) == 0 || dy == 0)
    return FALSE;
  nfn_heatmap_set_zoom (self, self->zoom * pow (NFN_HEATMAP_ZOOM_STEP, -dy));
  return TRUE;
}

void
nfn_heatmap_set_positions (NfnHeatmap *self, const float *row_positions, const float *col_positions)
{
  g_return_if_fail (NFN_IS_HEATMAP (self));
  g_clear_pointer (&self->row_positions, g_free);
  g_clear_pointer (&self->col_positions, g_free);
  if (row_positions && self->rows > 0)
    self->row_positions = g_memdup2 (row_positions, self->rows * sizeof (float));
  if (col_positions && self->cols > 0)
    self->col_positions = g_memdup2 (col_positions, self->cols * sizeof (float));
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
nfn_heatmap_measure (GtkWidget *widget, GtkOrientation orientation, int for_size, int *minimum, int *natural,
                     int *minimum_baseline, int *natural_baseline)
{
  NfnHeatmap *self = NFN_HEATMAP (widget);
  double cell = nfn_heatmap_get_natural_cell (self);
  double pad = 2 * NFN_HEATMAP_PADDING;

  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      int title_width = 0;
      if (self->title != NULL && self->title[0] != '\0')
        {
          g_autoptr (PangoLayout) text_layout = gtk_widget_create_pango_layout (widget, self->title);
          pango_layout_get_pixel_size (text_layout, &title_width, NULL);
        }
      *natural = (int) ceil (pad + MAX (MAX (cell * self->cols, NFN_HEATMAP_LEGEND_MIN_WIDTH), title_width));
    }
  else
    {
      double bands = pad + NFN_HEATMAP_LEGEND_BAND;
      if (self->title != NULL && self->title[0] != '\0')
        bands += NFN_HEATMAP_TITLE_BAND;
      *natural = (int) ceil (bands + MAX (cell * self->rows, 1));
    }
  /* Cells never shrink below their natural size: a scrolled view (GtkViewport) shrinks its
   * child to the minimum before it scrolls, and squeezed cells would hide the values. */
  *minimum = *natural;
}

void
nfn_heatmap_paint (NfnHeatmap *self, cairo_t *cr, double width, double height)
{
  g_return_if_fail (NFN_IS_HEATMAP (self));
  g_return_if_fail (cr != NULL);

  /* colours change only with the values: a permutation's frames reuse them */
  if (self->cells == NULL && self->rows > 0 && self->cols > 0)
    self->cells = nfn_heatmap_cells_surface (self->normalised, self->rows, self->cols);
  NfnHeatmapDrawing drawing = {
    .cells = self->cells,
    .title = self->title,
    .rows = self->rows,
    .cols = self->cols,
    .normalised = self->normalised,
    .max_abs = self->max_abs,
    .hover_row = self->hover_row,
    .hover_col = self->hover_col,
    .row_positions = self->row_positions,
    .col_positions = self->col_positions,
    .font = nfn_draw_widget_font (GTK_WIDGET (self)),
  };
  nfn_draw_widget_foreground (GTK_WIDGET (self), &drawing.foreground);
  nfn_heatmap_draw (cr, width, height, &drawing);
}

static void
nfn_heatmap_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  int width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);
  if (width <= 0 || height <= 0)
    return;
  cairo_t *cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));
  nfn_heatmap_paint (NFN_HEATMAP (widget), cr, width, height);
  cairo_destroy (cr);
}

static void
nfn_heatmap_finalize (GObject *object)
{
  NfnHeatmap *self = NFN_HEATMAP (object);
  g_clear_pointer (&self->title, g_free);
  g_clear_pointer (&self->values, g_free);
  g_clear_pointer (&self->normalised, g_free);
  g_clear_pointer (&self->row_positions, g_free);
  g_clear_pointer (&self->col_positions, g_free);
  g_clear_pointer (&self->cells, cairo_surface_destroy);
  G_OBJECT_CLASS (nfn_heatmap_parent_class)->finalize (object);
}

static void
nfn_heatmap_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  NfnHeatmap *self = NFN_HEATMAP (object);
  switch (prop_id)
    {
    case PROP_TITLE: g_value_set_string (value, self->title); break;
    case PROP_ROWS: g_value_set_int (value, self->rows); break;
    case PROP_COLS: g_value_set_int (value, self->cols); break;
    case PROP_MAX_ABS: g_value_set_double (value, self->max_abs); break;
    case PROP_HOVER_ROW: g_value_set_int (value, self->hover_row); break;
    case PROP_HOVER_COL: g_value_set_int (value, self->hover_col); break;
    case PROP_ZOOM: g_value_set_double (value, self->zoom); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
nfn_heatmap_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  NfnHeatmap *self = NFN_HEATMAP (object);
  switch (prop_id)
    {
    case PROP_TITLE: nfn_heatmap_set_title (self, g_value_get_string (value)); break;
    case PROP_ZOOM: nfn_heatmap_set_zoom (self, g_value_get_double (value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
nfn_heatmap_class_init (NfnHeatmapClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->finalize = nfn_heatmap_finalize;
  object_class->get_property = nfn_heatmap_get_property;
  object_class->set_property = nfn_heatmap_set_property;
  widget_class->measure = nfn_heatmap_measure;
  widget_class->snapshot = nfn_heatmap_snapshot;
  widget_class->query_tooltip = nfn_heatmap_query_tooltip;

  GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  properties[PROP_TITLE] = g_param_spec_string ("title", NULL, NULL, NULL,
                                                G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ROWS] = g_param_spec_int ("rows", NULL, NULL, 0, G_MAXINT, 0, ro);
  properties[PROP_COLS] = g_param_spec_int ("cols", NULL, NULL, 0, G_MAXINT, 0, ro);
  properties[PROP_MAX_ABS] = g_param_spec_double ("max-abs", NULL, NULL, 0, G_MAXDOUBLE, 0, ro);
  properties[PROP_HOVER_ROW] = g_param_spec_int ("hover-row", NULL, NULL, -1, G_MAXINT, -1, ro);
  properties[PROP_HOVER_COL] = g_param_spec_int ("hover-col", NULL, NULL, -1, G_MAXINT, -1, ro);
  properties[PROP_ZOOM] = g_param_spec_double ("zoom", NULL, NULL, NFN_HEATMAP_ZOOM_MIN, NFN_HEATMAP_ZOOM_MAX, 1.0,
                                               G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_css_name (widget_class, "heatmap");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
nfn_heatmap_init (NfnHeatmap *self)
{
  self->hover_row = -1;
  self->hover_col = -1;
  self->zoom = 1.0;

  GtkEventController *scroll = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_VERTICAL);
  g_signal_connect (scroll, "scroll", G_CALLBACK (nfn_heatmap_scroll), self);
  gtk_widget_add_controller (GTK_WIDGET (self), scroll);

  GtkEventController *motion = gtk_event_controller_motion_new ();
  g_signal_connect (motion, "motion", G_CALLBACK (nfn_heatmap_motion), self);
  g_signal_connect (motion, "leave", G_CALLBACK (nfn_heatmap_leave), self);
  gtk_widget_add_controller (GTK_WIDGET (self), motion);
  gtk_widget_set_has_tooltip (GTK_WIDGET (self), TRUE);
}

void
nfn_heatmap_set_matrix (NfnHeatmap *self, int rows, int cols, const float *values)
{
  g_return_if_fail (NFN_IS_HEATMAP (self));
  g_return_if_fail (rows >= 0 && cols >= 0);
  g_return_if_fail (values != NULL || rows == 0 || cols == 0);

  if (rows == 0 || cols == 0)
    rows = cols = 0;
  size_t n = (size_t) rows * cols;
  g_clear_pointer (&self->values, g_free);
  g_clear_pointer (&self->normalised, g_free);
  g_clear_pointer (&self->cells, cairo_surface_destroy);
  if (rows != self->rows)
    g_clear_pointer (&self->row_positions, g_free);
  if (cols != self->cols)
    g_clear_pointer (&self->col_positions, g_free);
  double max_abs = 0.0;
  if (n > 0)
    {
      self->values = g_memdup2 (values, n * sizeof (float));
      self->normalised = g_new (float, n);
      max_abs = nfn_heatmap_normalise (self->values, n, self->normalised);
      if (self->fixed_scale > 0)
        {
          for (size_t e = 0; e < n; e++)
            if (isfinite (self->values[e]))
              self->normalised[e] = (float) CLAMP (self->values[e] / self->fixed_scale, -1.0, 1.0);
          max_abs = self->fixed_scale;
        }
    }

  g_object_freeze_notify (G_OBJECT (self));
  if (rows != self->rows)
    {
      self->rows = rows;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ROWS]);
    }
  if (cols != self->cols)
    {
      self->cols = cols;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_COLS]);
    }
  if (max_abs != self->max_abs)
    {
      self->max_abs = max_abs;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_ABS]);
    }
  nfn_heatmap_set_hover (self, -1, -1);
  g_object_thaw_notify (G_OBJECT (self));

  gtk_widget_queue_resize (GTK_WIDGET (self));
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
nfn_heatmap_set_scale (NfnHeatmap *self, double max_abs)
{
  g_return_if_fail (NFN_IS_HEATMAP (self));
  g_return_if_fail (max_abs >= 0);
  if (max_abs == self->fixed_scale)
    return;
  self->fixed_scale = max_abs;
  if (self->values)
    {
      g_autofree float *values = g_memdup2 (self->values, (size_t) self->rows * self->cols * sizeof (float));
      nfn_heatmap_set_matrix (self, self->rows, self->cols, values);
    }
}

int
nfn_heatmap_get_rows (NfnHeatmap *self)
{
  g_return_val_if_fail (NFN_IS_HEATMAP (self), 0);
  return self->rows;
}

int
nfn_heatmap_get_cols (NfnHeatmap *self)
{
  g_return_val_if_fail (NFN_IS_HEATMAP (self), 0);
  return self->cols;
}

double
nfn_heatmap_get_max_abs (NfnHeatmap *self)
{
  g_return_val_if_fail (NFN_IS_HEATMAP (self), 0.0);
  return self->max_abs;
}

float
nfn_heatmap_get_value (NfnHeatmap *self, int row, int col)
{
  g_return_val_if_fail (NFN_IS_HEATMAP (self), NAN);
  if (row < 0 || row >= self->rows || col < 0 || col >= self->cols)
    return NAN;
  return self->values[(size_t) row * self->cols + col];
}

void
nfn_heatmap_set_title (NfnHeatmap *self, const char *title)
{
  g_return_if_fail (NFN_IS_HEATMAP (self));
  if (g_strcmp0 (self->title, title) == 0)
    return;
  g_free (self->title);
  self->title = g_strdup (title);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, title ? title : "",
                                  -1);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TITLE]);
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

const char *
nfn_heatmap_get_title (NfnHeatmap *self)
{
  g_return_val_if_fail (NFN_IS_HEATMAP (self), NULL);
  return self->title;
}

int
nfn_heatmap_get_hover_row (NfnHeatmap *self)
{
  g_return_val_if_fail (NFN_IS_HEATMAP (self), -1);
  return self->hover_row;
}

int
nfn_heatmap_get_hover_col (NfnHeatmap *self)
{
  g_return_val_if_fail (NFN_IS_HEATMAP (self), -1);
  return self->hover_col;
}
