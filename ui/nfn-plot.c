/* nfn-plot.c — NfnPlot: smoothing, layout, painting and the widget.
 *
 * Shape letters: S series, N points of one series.
 */
#include "nfn-plot.h"

#include <math.h>
#include <pango/pangocairo.h>

#include "nfn-draw.h"

#define NFN_PLOT_TICK 4.0
#define NFN_PLOT_TARGET_TICKS 5
#define NFN_PLOT_DOT_LIMIT 40 /* points per series up to which each point gets a dot */

/* ---- Stage 2 ---- */

void
nfn_plot_smooth (const double *y, int n, double weight, double *out)
{
  weight = CLAMP (weight, 0.0, 0.999);
  double average = 0, total_weight = 0;
  for (int e = 0; e < n; e++)
    {
      if (!isfinite (y[e]))
        {
          out[e] = y[e];
          continue;
        }
      /* Debiased like TensorBoard: early points are not pulled towards the zero start. */
      average = average * weight + (1 - weight) * y[e];
      total_weight = total_weight * weight + (1 - weight);
      out[e] = average / total_weight;
    }
}

/* Widens [lo, hi] to the enclosing multiples of a nice step and lists the ticks. */
static void
nfn_plot_axis (double *lo, double *hi, gboolean decades, double *ticks, int *n_ticks)
{
  if (!(*hi > *lo))
    {
      double half = *lo != 0 ? fabs (*lo) * 0.1 : 1.0;
      if (decades)
        half = 0.5;
      *lo -= half;
      *hi += half;
    }
  double step;
  if (decades)
    step = MAX (1.0, ceil ((*hi - *lo) / NFN_PLOT_TARGET_TICKS));
  else
    {
      double raw[NFN_PLOT_MAX_TICKS];
      int count = nfn_draw_nice_ticks (*lo, *hi, NFN_PLOT_TARGET_TICKS, raw, NFN_PLOT_MAX_TICKS);
      step = count >= 2 ? raw[1] - raw[0] : (*hi - *lo);
    }
  *lo = floor (*lo / step + 1e-9) * step;
  *hi = ceil (*hi / step - 1e-9) * step;
  *n_ticks = 0;
  for (double v = *lo; v <= *hi + step * 1e-6 && *n_ticks < NFN_PLOT_MAX_TICKS; v += step)
    ticks[(*n_ticks)++] = fabs (v) < step * 1e-9 ? 0.0 : v;
}

void
nfn_plot_layout_compute (NfnPlotLayout *layout, double width, double height, double x_min, double x_max,
                         double y_min, double y_max, gboolean log_y, gboolean has_title, double left_band,
                         double bottom_band)
{
  *layout = (NfnPlotLayout) { .width = width, .height = height, .log_y = log_y };
  nfn_plot_axis (&x_min, &x_max, FALSE, layout->x_ticks, &layout->n_x_ticks);
  nfn_plot_axis (&y_min, &y_max, log_y, layout->y_ticks, &layout->n_y_ticks);
  layout->x_min = x_min;
  layout->x_max = x_max;
  layout->y_min = y_min;
  layout->y_max = y_max;
  double pad = NFN_PLOT_PADDING;
  layout->plot_x = pad + left_band;
  layout->plot_y = pad + (has_title ? NFN_PLOT_TITLE_BAND : 0) + 4;
  layout->plot_width = MAX (0.0, width - layout->plot_x - pad - 6);
  layout->plot_height = MAX (0.0, height - layout->plot_y - pad - bottom_band);
}

double
nfn_plot_layout_x_to_pixel (const NfnPlotLayout *layout, double x)
{
  return layout->plot_x + (x - layout->x_min) / (layout->x_max - layout->x_min) * layout->plot_width;
}

double
nfn_plot_layout_y_to_pixel (const NfnPlotLayout *layout, double y)
{
  double v = layout->log_y ? log10 (y) : y;
  return layout->plot_y + layout->plot_height - (v - layout->y_min) / (layout->y_max - layout->y_min) * layout->plot_height;
}

/* ---- Stage 3 ---- */

static void
nfn_plot_tick_label (char *buffer, gsize size, double value, gboolean decade)
{
  if (decade)
    {
      int exponent = (int) lround (value);
      if (exponent >= -2 && exponent <= 3)
        nfn_draw_format_number (buffer, size, pow (10, exponent));
      else
        g_snprintf (buffer, size, exponent < 0 ? "1e\u2212%d" : "1e%d", abs (exponent));
    }
  else
    nfn_draw_format_number (buffer, size, value);
}

/* Data ranges over every plottable point; FALSE when there is none. */
static gboolean
nfn_plot_data_range (const NfnPlotDrawing *drawing, double *x_min, double *x_max, double *y_min, double *y_max)
{
  *x_min = *y_min = INFINITY;
  *x_max = *y_max = -INFINITY;
  for (int s = 0; s < drawing->n_series; s++)
    for (int e = 0; e < drawing->series[s].n; e++)
      {
        double x = drawing->series[s].x[e], y = drawing->series[s].y[e];
        if (!isfinite (x) || !isfinite (y) || (drawing->log_y && y <= 0))
          continue;
        double v = drawing->log_y ? log10 (y) : y;
        *x_min = MIN (*x_min, x);
        *x_max = MAX (*x_max, x);
        *y_min = MIN (*y_min, v);
        *y_max = MAX (*y_max, v);
      }
  return isfinite (*x_min);
}

static void
nfn_plot_compute (cairo_t *cr, double width, double height, const NfnPlotDrawing *drawing, NfnPlotLayout *layout,
                  gboolean *has_data)
{
  double x_min, x_max, y_min, y_max;
  *has_data = nfn_plot_data_range (drawing, &x_min, &x_max, &y_min, &y_max);
  if (!*has_data)
    x_min = y_min = 0, x_max = y_max = 1;
  gboolean has_title = drawing->title && drawing->title[0];
  /* A first pass finds the ticks; their labels then size the bands. */
  NfnPlotLayout first;
  nfn_plot_layout_compute (&first, width, height, x_min, x_max, y_min, y_max, drawing->log_y, has_title, 0, 0);
  double widest = 0, text_height = 12;
  for (int t = 0; t < first.n_y_ticks; t++)
    {
      char label[64];
      nfn_plot_tick_label (label, sizeof label, first.y_ticks[t], drawing->log_y);
      double w, h;
      nfn_draw_text_size (cr, drawing->font, label, &w, &h);
      widest = MAX (widest, w);
      text_height = h;
    }
  double left_band = widest + NFN_PLOT_TICK + 4 + (drawing->y_label ? text_height + 4 : 0);
  double bottom_band = text_height + NFN_PLOT_TICK + 2 + (drawing->x_label ? text_height + 2 : 0);
  nfn_plot_layout_compute (layout, width, height, x_min, x_max, y_min, y_max, drawing->log_y, has_title, left_band,
                           bottom_band);
}

static void
nfn_plot_draw_series (cairo_t *cr, const NfnPlotLayout *layout, const NfnPlotSeries *series, gboolean log_y)
{
  cairo_save (cr);
  cairo_rectangle (cr, layout->plot_x - 3, layout->plot_y - 3, layout->plot_width + 6, layout->plot_height + 6);
  cairo_clip (cr);
  cairo_set_source_rgb (cr, series->colour.r, series->colour.g, series->colour.b);
  cairo_set_line_width (cr, 2);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
  if (series->dashed)
    cairo_set_dash (cr, (const double[]) { 6, 4 }, 2, 0);
  gboolean pen_down = FALSE;
  for (int e = 0; e < series->n; e++)
    {
      double x = series->x[e], y = series->y[e];
      if (!isfinite (x) || !isfinite (y) || (log_y && y <= 0))
        {
          pen_down = FALSE; /* a gap, not a line through a missing point */
          continue;
        }
      double px = nfn_plot_layout_x_to_pixel (layout, x), py = nfn_plot_layout_y_to_pixel (layout, y);
      if (pen_down)
        cairo_line_to (cr, px, py);
      else
        cairo_move_to (cr, px, py);
      pen_down = TRUE;
    }
  cairo_stroke (cr);
  cairo_set_dash (cr, NULL, 0, 0);
  if (series->n <= NFN_PLOT_DOT_LIMIT)
    for (int e = 0; e < series->n; e++)
      {
        double x = series->x[e], y = series->y[e];
        if (!isfinite (x) || !isfinite (y) || (log_y && y <= 0))
          continue;
        cairo_arc (cr, nfn_plot_layout_x_to_pixel (layout, x), nfn_plot_layout_y_to_pixel (layout, y), 2.5, 0, 2 * G_PI);
        cairo_fill (cr);
      }
  cairo_restore (cr);
}

static void
nfn_plot_draw_legend (cairo_t *cr, const NfnPlotLayout *layout, const NfnPlotDrawing *drawing)
{
  int shown = 0;
  double widest = 0, line_height = 14;
  for (int s = 0; s < drawing->n_series; s++)
    if (drawing->series[s].label)
      {
        double w, h;
        nfn_draw_text_size (cr, drawing->font, drawing->series[s].label, &w, &h);
        widest = MAX (widest, w);
        line_height = h + 2;
        shown++;
      }
  if (shown == 0)
    return;
  double swatch = 18, box_width = widest + swatch + 16, box_height = shown * line_height + 8;
  /* The corner that hides the fewest points (upper right on a tie). */
  double x = 0, y = 0;
  int fewest = G_MAXINT;
  for (int corner = 0; corner < 4; corner++)
    {
      double cx = corner % 2 == 0 ? layout->plot_x + layout->plot_width - box_width - 6 : layout->plot_x + 6;
      double cy = corner < 2 ? layout->plot_y + 6 : layout->plot_y + layout->plot_height - box_height - 6;
      int hidden = 0;
      for (int s = 0; s < drawing->n_series; s++)
        for (int e = 0; e < drawing->series[s].n; e++)
          {
            double px = nfn_plot_layout_x_to_pixel (layout, drawing->series[s].x[e]);
            double py = nfn_plot_layout_y_to_pixel (layout, drawing->series[s].y[e]);
            hidden += px >= cx - 4 && px <= cx + box_width + 4 && py >= cy - 4 && py <= cy + box_height + 4;
          }
      if (hidden < fewest)
        {
          fewest = hidden;
          x = cx;
          y = cy;
        }
    }
  cairo_rectangle (cr, x, y, box_width, box_height);
  cairo_set_source_rgba (cr, 1, 1, 1, 0.85);
  if (drawing->foreground.red + drawing->foreground.green + drawing->foreground.blue > 1.5)
    cairo_set_source_rgba (cr, 0.15, 0.15, 0.15, 0.85); /* a dark theme */
  cairo_fill_preserve (cr);
  cairo_set_source_rgba (cr, drawing->foreground.red, drawing->foreground.green, drawing->foreground.blue, 0.3);
  cairo_set_line_width (cr, 1);
  cairo_stroke (cr);
  int row = 0;
  for (int s = 0; s < drawing->n_series; s++)
    {
      const NfnPlotSeries *series = &drawing->series[s];
      if (!series->label)
        continue;
      double ly = y + 4 + row * line_height;
      cairo_set_source_rgb (cr, series->colour.r, series->colour.g, series->colour.b);
      cairo_set_line_width (cr, 2);
      if (series->dashed)
        cairo_set_dash (cr, (const double[]) { 6, 4 }, 2, 0);
      cairo_move_to (cr, x + 5, ly + line_height / 2);
      cairo_line_to (cr, x + 5 + swatch, ly + line_height / 2);
      cairo_stroke (cr);
      cairo_set_dash (cr, NULL, 0, 0);
      nfn_draw_text (cr, drawing->font, &drawing->foreground, series->label, x + swatch + 10, ly, 0.0, 0);
      row++;
    }
}

void
nfn_plot_draw (cairo_t *cr, double width, double height, const NfnPlotDrawing *drawing, NfnPlotLayout *layout_out)
{
  g_return_if_fail (cr != NULL && drawing != NULL);
  NfnPlotLayout layout;
  gboolean has_data;
  nfn_plot_compute (cr, width, height, drawing, &layout, &has_data);
  if (layout_out)
    *layout_out = layout;
  const GdkRGBA *fg = &drawing->foreground;

  if (drawing->title && drawing->title[0])
    nfn_draw_text (cr, drawing->font, fg, drawing->title, NFN_PLOT_PADDING, NFN_PLOT_PADDING, 0.0,
                   width - 2 * NFN_PLOT_PADDING);
  if (layout.plot_width <= 0 || layout.plot_height <= 0)
    return;

  double bottom = layout.plot_y + layout.plot_height;
  cairo_set_line_width (cr, 1);
  double label_height = 12;
  for (int t = 0; t < layout.n_y_ticks; t++)
    {
      double y = round (layout.plot_y + layout.plot_height
                        - (layout.y_ticks[t] - layout.y_min) / (layout.y_max - layout.y_min) * layout.plot_height) + 0.5;
      cairo_set_source_rgba (cr, fg->red, fg->green, fg->blue, 0.12);
      cairo_move_to (cr, layout.plot_x, y);
      cairo_line_to (cr, layout.plot_x + layout.plot_width, y);
      cairo_stroke (cr);
      cairo_set_source_rgba (cr, fg->red, fg->green, fg->blue, 0.8);
      cairo_move_to (cr, layout.plot_x - NFN_PLOT_TICK, y);
      cairo_line_to (cr, layout.plot_x, y);
      cairo_stroke (cr);
      char label[64];
      nfn_plot_tick_label (label, sizeof label, layout.y_ticks[t], layout.log_y);
      double w;
      nfn_draw_text_size (cr, drawing->font, label, &w, &label_height);
      nfn_draw_text (cr, drawing->font, fg, label, layout.plot_x - NFN_PLOT_TICK - 3, y - label_height / 2, 1.0, 0);
    }
  for (int t = 0; t < layout.n_x_ticks; t++)
    {
      double x = round (nfn_plot_layout_x_to_pixel (&layout, layout.x_ticks[t])) + 0.5;
      cairo_set_source_rgba (cr, fg->red, fg->green, fg->blue, 0.12);
      cairo_move_to (cr, x, layout.plot_y);
      cairo_line_to (cr, x, bottom);
      cairo_stroke (cr);
      cairo_set_source_rgba (cr, fg->red, fg->green, fg->blue, 0.8);
      cairo_move_to (cr, x, bottom);
      cairo_line_to (cr, x, bottom + NFN_PLOT_TICK);
      cairo_stroke (cr);
      char label[64];
      nfn_plot_tick_label (label, sizeof label, layout.x_ticks[t], FALSE);
      nfn_draw_text (cr, drawing->font, fg, label, x, bottom + NFN_PLOT_TICK + 1, 0.5, 0);
    }
  /* The axes themselves. */
  cairo_set_source_rgba (cr, fg->red, fg->green, fg->blue, 0.8);
  cairo_move_to (cr, layout.plot_x + 0.5, layout.plot_y);
  cairo_line_to (cr, layout.plot_x + 0.5, bottom + 0.5);
  cairo_line_to (cr, layout.plot_x + layout.plot_width, bottom + 0.5);
  cairo_stroke (cr);

  if (drawing->x_label)
    nfn_draw_text (cr, drawing->font, fg, drawing->x_label, layout.plot_x + layout.plot_width / 2,
                   bottom + NFN_PLOT_TICK + label_height + 2, 0.5, 0);
  if (drawing->y_label)
    {
      cairo_save (cr);
      cairo_translate (cr, NFN_PLOT_PADDING, layout.plot_y + layout.plot_height / 2);
      cairo_rotate (cr, -G_PI / 2);
      nfn_draw_text (cr, drawing->font, fg, drawing->y_label, 0, 0, 0.5, 0);
      cairo_restore (cr);
    }

  if (!has_data)
    {
      nfn_draw_text (cr, drawing->font, fg, "no data", layout.plot_x + layout.plot_width / 2,
                     layout.plot_y + layout.plot_height / 2 - 6, 0.5, 0);
      return;
    }
  for (int s = 0; s < drawing->n_series; s++)
    nfn_plot_draw_series (cr, &layout, &drawing->series[s], drawing->log_y);
  nfn_plot_draw_legend (cr, &layout, drawing);
}

/* ---- The widget ---- */

typedef struct {
  char *label;
  NfnRgb colour;
  gboolean dashed;
  int n;
  double *x, *y; /* (N) as given */
} NfnPlotData;

static void
nfn_plot_data_free (gpointer data)
{
  NfnPlotData *series = data;
  g_free (series->label);
  g_free (series->x);
  g_free (series->y);
  g_free (series);
}

struct _NfnPlot
{
  GtkWidget parent_instance;
  GPtrArray *series; /* NfnPlotData */
  char *title, *x_label, *y_label;
  gboolean log_y;
  double smoothing;
};

G_DEFINE_FINAL_TYPE (NfnPlot, nfn_plot, GTK_TYPE_WIDGET)

GtkWidget *
nfn_plot_new (void)
{
  return g_object_new (NFN_TYPE_PLOT, NULL);
}

void
nfn_plot_clear (NfnPlot *self)
{
  g_return_if_fail (NFN_IS_PLOT (self));
  g_ptr_array_set_size (self->series, 0);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

int
nfn_plot_add_series (NfnPlot *self, const char *label, NfnRgb colour, gboolean dashed, const double *x,
                     const double *y, int n)
{
  g_return_val_if_fail (NFN_IS_PLOT (self), -1);
  g_return_val_if_fail (n >= 0 && (n == 0 || (x && y)), -1);
  NfnPlotData *series = g_new0 (NfnPlotData, 1);
  series->label = g_strdup (label);
  series->colour = colour;
  series->dashed = dashed;
  series->n = n;
  series->x = g_memdup2 (x, n * sizeof (double));
  series->y = g_memdup2 (y, n * sizeof (double));
  g_ptr_array_add (self->series, series);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  return self->series->len - 1;
}

int
nfn_plot_get_n_series (NfnPlot *self)
{
  g_return_val_if_fail (NFN_IS_PLOT (self), 0);
  return self->series->len;
}

int
nfn_plot_get_series_length (NfnPlot *self, int series)
{
  g_return_val_if_fail (NFN_IS_PLOT (self), 0);
  g_return_val_if_fail (series >= 0 && (guint) series < self->series->len, 0);
  return ((NfnPlotData *) g_ptr_array_index (self->series, series))->n;
}

const char *
nfn_plot_get_series_label (NfnPlot *self, int series)
{
  g_return_val_if_fail (NFN_IS_PLOT (self), NULL);
  g_return_val_if_fail (series >= 0 && (guint) series < self->series->len, NULL);
  return ((NfnPlotData *) g_ptr_array_index (self->series, series))->label;
}

static void
nfn_plot_replace_string (NfnPlot *self, char **field, const char *value)
{
  if (g_strcmp0 (*field, value) == 0)
    return;
  g_free (*field);
  *field = g_strdup (value);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
nfn_plot_set_title (NfnPlot *self, const char *title)
{
  g_return_if_fail (NFN_IS_PLOT (self));
  nfn_plot_replace_string (self, &self->title, title);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, title ? title : "", -1);
}

const char *
nfn_plot_get_title (NfnPlot *self)
{
  g_return_val_if_fail (NFN_IS_PLOT (self), NULL);
  return self->title;
}

void
nfn_plot_set_axis_labels (NfnPlot *self, const char *x_label, const char *y_label)
{
  g_return_if_fail (NFN_IS_PLOT (self));
  nfn_plot_replace_string (self, &self->x_label, x_label);
  nfn_plot_replace_string (self, &self->y_label, y_label);
}

void
nfn_plot_set_log_y (NfnPlot *self, gboolean log_y)
{
  g_return_if_fail (NFN_IS_PLOT (self));
  if (self->log_y == !!log_y)
    return;
  self->log_y = !!log_y;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
nfn_plot_set_smoothing (NfnPlot *self, double weight)
{
  g_return_if_fail (NFN_IS_PLOT (self));
  weight = CLAMP (weight, 0.0, 0.999);
  if (weight == self->smoothing)
    return;
  self->smoothing = weight;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/* Stage 2 into a drawing: smoothed copies of every series (freed with `smoothed`). */
static void
nfn_plot_prepare (NfnPlot *self, NfnPlotDrawing *drawing, NfnPlotSeries *series, double **smoothed)
{
  for (guint s = 0; s < self->series->len; s++)
    {
      NfnPlotData *data = self->series->pdata[s];
      smoothed[s] = NULL;
      const double *y = data->y;
      if (self->smoothing > 0)
        {
          smoothed[s] = g_new (double, MAX (data->n, 1));
          nfn_plot_smooth (data->y, data->n, self->smoothing, smoothed[s]);
          y = smoothed[s];
        }
      series[s] = (NfnPlotSeries) { data->label, data->colour, data->dashed, data->n, data->x, y };
    }
  *drawing = (NfnPlotDrawing) {
    .title = self->title,
    .x_label = self->x_label,
    .y_label = self->y_label,
    .n_series = self->series->len,
    .series = series,
    .log_y = self->log_y,
    .font = nfn_draw_widget_font (GTK_WIDGET (self)),
  };
  nfn_draw_widget_foreground (GTK_WIDGET (self), &drawing->foreground);
}

static void
nfn_plot_paint_layout (NfnPlot *self, cairo_t *cr, double width, double height, NfnPlotLayout *layout, gboolean paint)
{
  guint n = self->series->len;
  g_autofree NfnPlotSeries *series = g_new0 (NfnPlotSeries, MAX (n, 1));
  g_autofree double **smoothed = g_new0 (double *, MAX (n, 1));
  NfnPlotDrawing drawing;
  nfn_plot_prepare (self, &drawing, series, smoothed);
  if (paint)
    nfn_plot_draw (cr, width, height, &drawing, layout);
  else
    {
      gboolean has_data;
      nfn_plot_compute (cr, width, height, &drawing, layout, &has_data);
    }
  for (guint s = 0; s < n; s++)
    g_free (smoothed[s]);
}

void
nfn_plot_get_layout (NfnPlot *self, cairo_t *cr, double width, double height, NfnPlotLayout *layout)
{
  g_return_if_fail (NFN_IS_PLOT (self));
  nfn_plot_paint_layout (self, cr, width, height, layout, FALSE);
}

void
nfn_plot_paint (NfnPlot *self, cairo_t *cr, double width, double height)
{
  g_return_if_fail (NFN_IS_PLOT (self));
  nfn_plot_paint_layout (self, cr, width, height, NULL, TRUE);
}

static void
nfn_plot_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  int width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);
  if (width <= 0 || height <= 0)
    return;
  cairo_t *cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));
  nfn_plot_paint (NFN_PLOT (widget), cr, width, height);
  cairo_destroy (cr);
}

static void
nfn_plot_measure (GtkWidget *widget, GtkOrientation orientation, int for_size, int *minimum, int *natural,
                  int *minimum_baseline, int *natural_baseline)
{
  *minimum = orientation == GTK_ORIENTATION_HORIZONTAL ? 200 : 140;
  *natural = orientation == GTK_ORIENTATION_HORIZONTAL ? 420 : 220;
}

static void
nfn_plot_finalize (GObject *object)
{
  NfnPlot *self = NFN_PLOT (object);
  g_ptr_array_unref (self->series);
  g_free (self->title);
  g_free (self->x_label);
  g_free (self->y_label);
  G_OBJECT_CLASS (nfn_plot_parent_class)->finalize (object);
}

static void
nfn_plot_class_init (NfnPlotClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->finalize = nfn_plot_finalize;
  widget_class->snapshot = nfn_plot_snapshot;
  widget_class->measure = nfn_plot_measure;
  gtk_widget_class_set_css_name (widget_class, "plot");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
nfn_plot_init (NfnPlot *self)
{
  self->series = g_ptr_array_new_with_free_func (nfn_plot_data_free);
}
