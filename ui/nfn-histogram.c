/* nfn-histogram.c — NfnHistogram: stage functions (bin, layout, draw) and the widget.
 *
 * Shape letters: N values, K bins.
 */
#include "nfn-histogram.h"

#include <math.h>
#include <string.h>

#include "nfn-colormap.h"
#include "nfn-draw.h"

#define NFN_HISTOGRAM_NATURAL_WIDTH 180
#define NFN_HISTOGRAM_NATURAL_HEIGHT 64

/* ---- Stage 2: binning ---- */

double
nfn_histogram_bin (const float *values, size_t n, int bins, guint *counts, size_t *nonfinite)
{
  g_return_val_if_fail (bins >= 1, 0.0);
  double m = 0.0;
  size_t skipped = 0;
  for (size_t e = 0; e < n; e++)
    if (isfinite (values[e]))
      m = MAX (m, fabs ((double) values[e]));
    else
      skipped++;
  if (m == 0.0)
    m = 1.0;

  memset (counts, 0, bins * sizeof (guint));
  double width = 2 * m / bins;
  for (size_t e = 0; e < n; e++)
    {
      if (!isfinite (values[e]))
        continue;
      int b = (int) floor ((values[e] + m) / width);
      counts[CLAMP (b, 0, bins - 1)]++;
    }
  if (nonfinite)
    *nonfinite = skipped;
  return m;
}

/* ---- Stage 3: layout and painting ---- */

void
nfn_histogram_layout_compute (NfnHistogramLayout *layout, double width, double height)
{
  double pad = NFN_HISTOGRAM_PADDING;
  layout->plot_x = pad;
  layout->plot_y = pad;
  layout->plot_width = MAX (0.0, width - 2 * pad);
  layout->plot_height = MAX (0.0, height - 2 * pad - NFN_HISTOGRAM_AXIS_BAND);
}

void
nfn_histogram_draw (cairo_t *cr, double width, double height, const NfnHistogramDrawing *drawing)
{
  g_return_if_fail (cr != NULL && drawing != NULL);
  NfnHistogramLayout layout;
  nfn_histogram_layout_compute (&layout, width, height);
  if (drawing->bins < 1 || drawing->counts == NULL || layout.plot_width <= 0 || layout.plot_height <= 0)
    return;

  guint highest = 0;
  for (int b = 0; b < drawing->bins; b++)
    highest = MAX (highest, drawing->counts[b]);

  double bar = layout.plot_width / drawing->bins;
  double base = layout.plot_y + layout.plot_height;
  for (int b = 0; b < drawing->bins && highest > 0; b++)
    {
      if (drawing->counts[b] == 0)
        continue;
      double h = layout.plot_height * drawing->counts[b] / highest;
      /* Every non-empty bin shows at least one pixel, so a lone outlier is not lost. */
      h = MAX (h, 1.0);
      NfnRgb rgb = nfn_colormap_diverging ((b + 0.5) / drawing->bins * 2 - 1);
      cairo_set_source_rgb (cr, rgb.r, rgb.g, rgb.b);
      cairo_rectangle (cr, layout.plot_x + b * bar, base - h, bar, h);
      cairo_fill (cr);
    }

  /* Bars near zero are near-white: outline them against a light background. */
  cairo_set_line_width (cr, 1);
  cairo_set_source_rgba (cr, drawing->foreground.red, drawing->foreground.green, drawing->foreground.blue,
                         0.25 * drawing->foreground.alpha);
  for (int b = 0; b < drawing->bins && highest > 0; b++)
    if (drawing->counts[b] > 0)
      {
        double h = MAX (layout.plot_height * drawing->counts[b] / highest, 1.0);
        cairo_rectangle (cr, layout.plot_x + b * bar + 0.5, base - h + 0.5, MAX (bar - 1, 0), MAX (h - 1, 0));
      }
  cairo_stroke (cr);

  gdk_cairo_set_source_rgba (cr, &drawing->foreground);
  cairo_move_to (cr, layout.plot_x, base + 0.5);
  cairo_line_to (cr, layout.plot_x + layout.plot_width, base + 0.5);
  cairo_stroke (cr);

  char low[G_ASCII_DTOSTR_BUF_SIZE + 4], high[G_ASCII_DTOSTR_BUF_SIZE + 4];
  nfn_draw_format_number (low, sizeof low, -drawing->range);
  nfn_draw_format_number (high, sizeof high, drawing->range);
  double label_y = base + 2;
  nfn_draw_text (cr, drawing->font, &drawing->foreground, low, layout.plot_x, label_y, 0.0, 0);
  nfn_draw_text (cr, drawing->font, &drawing->foreground, high, layout.plot_x + layout.plot_width, label_y, 1.0, 0);
  double low_width, high_width, zero_width;
  nfn_draw_text_size (cr, drawing->font, low, &low_width, NULL);
  nfn_draw_text_size (cr, drawing->font, high, &high_width, NULL);
  nfn_draw_text_size (cr, drawing->font, "0", &zero_width, NULL);
  double middle = layout.plot_x + layout.plot_width / 2;
  if (layout.plot_x + low_width + 4 < middle - zero_width / 2
      && middle + zero_width / 2 + 4 < layout.plot_x + layout.plot_width - high_width)
    nfn_draw_text (cr, drawing->font, &drawing->foreground, "0", middle, label_y, 0.5, 0);
}

/* ---- The widget ---- */

struct _NfnHistogram
{
  GtkWidget parent_instance;

  float *values; /* (N) */
  size_t n;
  int bins;
  guint *counts; /* (K) */
  double range;
};

G_DEFINE_FINAL_TYPE (NfnHistogram, nfn_histogram, GTK_TYPE_WIDGET)

GtkWidget *
nfn_histogram_new (void)
{
  return g_object_new (NFN_TYPE_HISTOGRAM, NULL);
}

static void
nfn_histogram_rebin (NfnHistogram *self)
{
  g_free (self->counts);
  self->counts = g_new0 (guint, self->bins);
  size_t nonfinite;
  self->range = nfn_histogram_bin (self->values, self->n, self->bins, self->counts, &nonfinite);
  g_autofree char *tip = g_strdup_printf ("%zu values in %d bins%s", self->n - nonfinite, self->bins,
                                          nonfinite ? " (NaN/Inf left out)" : "");
  gtk_widget_set_tooltip_text (GTK_WIDGET (self), tip);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
nfn_histogram_set_values (NfnHistogram *self, const float *values, size_t n)
{
  g_return_if_fail (NFN_IS_HISTOGRAM (self));
  g_return_if_fail (values != NULL || n == 0);
  g_free (self->values);
  self->values = n ? g_memdup2 (values, n * sizeof (float)) : NULL;
  self->n = n;
  nfn_histogram_rebin (self);
}

void
nfn_histogram_set_bins (NfnHistogram *self, int bins)
{
  g_return_if_fail (NFN_IS_HISTOGRAM (self));
  g_return_if_fail (bins >= 1);
  if (bins == self->bins)
    return;
  self->bins = bins;
  nfn_histogram_rebin (self);
}

int
nfn_histogram_get_bins (NfnHistogram *self)
{
  g_return_val_if_fail (NFN_IS_HISTOGRAM (self), 0);
  return self->bins;
}

const guint *
nfn_histogram_get_counts (NfnHistogram *self)
{
  g_return_val_if_fail (NFN_IS_HISTOGRAM (self), NULL);
  return self->counts;
}

double
nfn_histogram_get_range (NfnHistogram *self)
{
  g_return_val_if_fail (NFN_IS_HISTOGRAM (self), 0.0);
  return self->range;
}

void
nfn_histogram_paint (NfnHistogram *self, cairo_t *cr, double width, double height)
{
  g_return_if_fail (NFN_IS_HISTOGRAM (self));
  NfnHistogramDrawing drawing = {
    .bins = self->bins,
    .counts = self->counts,
    .range = self->range,
    .font = nfn_draw_widget_font (GTK_WIDGET (self)),
  };
  nfn_draw_widget_foreground (GTK_WIDGET (self), &drawing.foreground);
  nfn_histogram_draw (cr, width, height, &drawing);
}

static void
nfn_histogram_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  int width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);
  if (width <= 0 || height <= 0)
    return;
  cairo_t *cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));
  nfn_histogram_paint (NFN_HISTOGRAM (widget), cr, width, height);
  cairo_destroy (cr);
}

static void
nfn_histogram_measure (GtkWidget *widget, GtkOrientation orientation, int for_size, int *minimum, int *natural,
                       int *minimum_baseline, int *natural_baseline)
{
  *natural = orientation == GTK_ORIENTATION_HORIZONTAL ? NFN_HISTOGRAM_NATURAL_WIDTH : NFN_HISTOGRAM_NATURAL_HEIGHT;
  *minimum = *natural / 2;
}

static void
nfn_histogram_finalize (GObject *object)
{
  NfnHistogram *self = NFN_HISTOGRAM (object);
  g_free (self->values);
  g_free (self->counts);
  G_OBJECT_CLASS (nfn_histogram_parent_class)->finalize (object);
}

static void
nfn_histogram_class_init (NfnHistogramClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->finalize = nfn_histogram_finalize;
  widget_class->snapshot = nfn_histogram_snapshot;
  widget_class->measure = nfn_histogram_measure;
  gtk_widget_class_set_css_name (widget_class, "histogram");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
nfn_histogram_init (NfnHistogram *self)
{
  self->bins = NFN_HISTOGRAM_DEFAULT_BINS;
  nfn_histogram_rebin (self);
}
