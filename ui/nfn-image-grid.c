/* nfn-image-grid.c — NfnImageGrid: layout, painting and the widget.
 *
 * Shape letters: M images, H×W pixels, Ch channels, Q columns.
 */
#include "nfn-image-grid.h"

#include <math.h>

#include "nfn-draw.h"

/* ---- Layout ---- */

void
nfn_image_grid_layout_compute (NfnImageGridLayout *layout, double width, double height, int count, int columns,
                               gboolean has_title)
{
  *layout = (NfnImageGridLayout) { .count = count };
  columns = CLAMP (columns, 1, MAX (count, 1));
  layout->columns = columns;
  layout->grid_rows = count > 0 ? (count + columns - 1) / columns : 0;
  double pad = NFN_IMAGE_GRID_PADDING, frame = NFN_IMAGE_GRID_FRAME, gap = NFN_IMAGE_GRID_GAP;
  layout->grid_x = pad;
  layout->grid_y = pad + (has_title ? NFN_IMAGE_GRID_TITLE_BAND : 0);
  double avail_w = width - 2 * pad, avail_h = height - layout->grid_y - pad;
  double per_w = (avail_w + gap) / columns - gap - 2 * frame;
  double per_h = layout->grid_rows ? (avail_h + gap) / layout->grid_rows - gap - 2 * frame : 0;
  double tile = MAX (0.0, MIN (per_w, per_h));
  layout->tile = tile >= 1 ? floor (tile) : tile;
  layout->step = layout->tile + 2 * frame + gap;
}

void
nfn_image_grid_layout_slot (const NfnImageGridLayout *layout, int slot, double *x, double *y)
{
  int row = slot / layout->columns, col = slot % layout->columns;
  *x = layout->grid_x + NFN_IMAGE_GRID_FRAME + col * layout->step;
  *y = layout->grid_y + NFN_IMAGE_GRID_FRAME + row * layout->step;
}

/* ---- Painting ---- */

static cairo_surface_t *
nfn_image_grid_surface (const NfnImageGridDrawing *drawing, int m)
{
  int h = drawing->height, w = drawing->width, ch = drawing->channels;
  cairo_surface_t *image = cairo_image_surface_create (CAIRO_FORMAT_RGB24, w, h);
  cairo_surface_flush (image);
  unsigned char *pixels = cairo_image_surface_get_data (image);
  int stride = cairo_image_surface_get_stride (image);
  const float *src = drawing->normalised + (size_t) m * h * w * ch;
  NfnRgb nan = nfn_colormap_nan ();
  for (int r = 0; r < h; r++)
    {
      guint32 *line = (guint32 *) (pixels + (size_t) r * stride);
      for (int c = 0; c < w; c++)
        {
          const float *p = src + ((size_t) r * w + c) * ch;
          double rgb[3];
          for (int k = 0; k < 3; k++)
            {
              float v = p[ch == 3 ? k : 0];
              rgb[k] = isnan (v) ? (k == 0 ? nan.r : k == 1 ? nan.g : nan.b) : CLAMP (v, 0.0f, 1.0f);
            }
          line[c] = (guint32) lround (rgb[0] * 255) << 16 | (guint32) lround (rgb[1] * 255) << 8
                    | (guint32) lround (rgb[2] * 255);
        }
    }
  cairo_surface_mark_dirty (image);
  return image;
}

void
nfn_image_grid_draw (cairo_t *cr, double width, double height, const NfnImageGridDrawing *drawing)
{
  g_return_if_fail (cr != NULL && drawing != NULL);
  gboolean has_title = drawing->title && drawing->title[0];
  if (has_title)
    nfn_draw_text (cr, drawing->font, &drawing->foreground, drawing->title, NFN_IMAGE_GRID_PADDING,
                   NFN_IMAGE_GRID_PADDING, 0.0, width - 2 * NFN_IMAGE_GRID_PADDING);
  if (drawing->count <= 0 || drawing->normalised == NULL || drawing->width <= 0 || drawing->height <= 0)
    return;
  NfnImageGridLayout layout;
  nfn_image_grid_layout_compute (&layout, width, height, drawing->count, drawing->columns, has_title);
  if (layout.tile <= 0)
    return;
  double scale = layout.tile / MAX (drawing->width, drawing->height);
  double frame = NFN_IMAGE_GRID_FRAME;
  double t = drawing->from_slots ? CLAMP (drawing->progress, 0.0, 1.0) : 1.0;
  for (int m = 0; m < drawing->count; m++)
    {
      double x, y;
      nfn_image_grid_layout_slot (&layout, m, &x, &y);
      if (drawing->from_slots && t < 1.0)
        {
          double x0, y0;
          nfn_image_grid_layout_slot (&layout, drawing->from_slots[m], &x0, &y0);
          x = x0 + (x - x0) * t;
          y = y0 + (y - y0) * t;
        }
      double w = drawing->width * scale, h = drawing->height * scale;
      if (drawing->frames)
        {
          cairo_set_source_rgb (cr, drawing->frames[m].r, drawing->frames[m].g, drawing->frames[m].b);
          cairo_rectangle (cr, x - frame, y - frame, w + 2 * frame, h + 2 * frame);
          cairo_fill (cr);
        }
      cairo_surface_t *image = nfn_image_grid_surface (drawing, m);
      cairo_save (cr);
      cairo_translate (cr, x, y);
      cairo_scale (cr, scale, scale);
      cairo_set_source_surface (cr, image, 0, 0);
      cairo_pattern_set_filter (cairo_get_source (cr), CAIRO_FILTER_NEAREST);
      cairo_rectangle (cr, 0, 0, drawing->width, drawing->height);
      cairo_fill (cr);
      cairo_restore (cr);
      cairo_surface_destroy (image);
    }
}

/* ---- The widget ---- */

struct _NfnImageGrid
{
  GtkWidget parent_instance;
  char *title;
  int count, height, width, channels, columns, tile;
  float *normalised; /* (M, H, W, Ch) */
  NfnRgb *frames;    /* (M) or NULL */
  int *from_slots;   /* (M) or NULL */
  double progress;
};

G_DEFINE_FINAL_TYPE (NfnImageGrid, nfn_image_grid, GTK_TYPE_WIDGET)

GtkWidget *
nfn_image_grid_new (void)
{
  return g_object_new (NFN_TYPE_IMAGE_GRID, NULL);
}

void
nfn_image_grid_set_images (NfnImageGrid *self, int count, int height, int width, int channels, const float *values,
                           double lo, double hi)
{
  g_return_if_fail (NFN_IS_IMAGE_GRID (self));
  g_return_if_fail (count >= 0 && height >= 0 && width >= 0 && (channels == 1 || channels == 3));
  size_t n = (size_t) count * height * width * channels;
  g_return_if_fail (values != NULL || n == 0);
  gboolean resized = count != self->count || height != self->height || width != self->width;
  if (count != self->count)
    {
      g_clear_pointer (&self->frames, g_free);
      g_clear_pointer (&self->from_slots, g_free);
    }
  g_free (self->normalised);
  self->normalised = g_new (float, MAX (n, 1));
  double range = hi > lo ? hi - lo : 1.0;
  for (size_t e = 0; e < n; e++)
    self->normalised[e] = isnan (values[e]) ? NAN : (float) CLAMP ((values[e] - lo) / range, 0.0, 1.0);
  self->count = count;
  self->height = height;
  self->width = width;
  self->channels = channels;
  if (resized)
    gtk_widget_queue_resize (GTK_WIDGET (self));
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
nfn_image_grid_set_frames (NfnImageGrid *self, const NfnRgb *frames)
{
  g_return_if_fail (NFN_IS_IMAGE_GRID (self));
  g_clear_pointer (&self->frames, g_free);
  if (frames && self->count > 0)
    self->frames = g_memdup2 (frames, self->count * sizeof (NfnRgb));
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
nfn_image_grid_set_motion (NfnImageGrid *self, const int *from_slots, double progress)
{
  g_return_if_fail (NFN_IS_IMAGE_GRID (self));
  g_clear_pointer (&self->from_slots, g_free);
  if (from_slots && self->count > 0)
    self->from_slots = g_memdup2 (from_slots, self->count * sizeof (int));
  self->progress = progress;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
nfn_image_grid_set_columns (NfnImageGrid *self, int columns)
{
  g_return_if_fail (NFN_IS_IMAGE_GRID (self));
  g_return_if_fail (columns >= 1);
  self->columns = columns;
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

void
nfn_image_grid_set_tile_size (NfnImageGrid *self, int tile)
{
  g_return_if_fail (NFN_IS_IMAGE_GRID (self));
  g_return_if_fail (tile >= 1);
  self->tile = tile;
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

void
nfn_image_grid_set_title (NfnImageGrid *self, const char *title)
{
  g_return_if_fail (NFN_IS_IMAGE_GRID (self));
  if (g_strcmp0 (title, self->title) == 0)
    return;
  g_free (self->title);
  self->title = g_strdup (title);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, title ? title : "", -1);
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

float
nfn_image_grid_get_pixel (NfnImageGrid *self, int m, int row, int col, int c)
{
  g_return_val_if_fail (NFN_IS_IMAGE_GRID (self), NAN);
  if (m < 0 || m >= self->count || row < 0 || row >= self->height || col < 0 || col >= self->width || c < 0
      || c >= self->channels)
    return NAN;
  return self->normalised[(((size_t) m * self->height + row) * self->width + col) * self->channels + c];
}

void
nfn_image_grid_paint (NfnImageGrid *self, cairo_t *cr, double width, double height)
{
  g_return_if_fail (NFN_IS_IMAGE_GRID (self));
  NfnImageGridDrawing drawing = {
    .title = self->title,
    .count = self->count,
    .height = self->height,
    .width = self->width,
    .channels = self->channels,
    .normalised = self->normalised,
    .frames = self->frames,
    .from_slots = self->from_slots,
    .progress = self->progress,
    .columns = self->columns,
    .font = nfn_draw_widget_font (GTK_WIDGET (self)),
  };
  nfn_draw_widget_foreground (GTK_WIDGET (self), &drawing.foreground);
  nfn_image_grid_draw (cr, width, height, &drawing);
}

static void
nfn_image_grid_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  int width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);
  if (width <= 0 || height <= 0)
    return;
  cairo_t *cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));
  nfn_image_grid_paint (NFN_IMAGE_GRID (widget), cr, width, height);
  cairo_destroy (cr);
}

static void
nfn_image_grid_measure (GtkWidget *widget, GtkOrientation orientation, int for_size, int *minimum, int *natural,
                        int *minimum_baseline, int *natural_baseline)
{
  NfnImageGrid *self = NFN_IMAGE_GRID (widget);
  int columns = CLAMP (self->columns, 1, MAX (self->count, 1));
  int rows = self->count > 0 ? (self->count + columns - 1) / columns : 1;
  double cell = self->tile + 2 * NFN_IMAGE_GRID_FRAME + NFN_IMAGE_GRID_GAP;
  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    *natural = (int) ceil (2 * NFN_IMAGE_GRID_PADDING + columns * cell - NFN_IMAGE_GRID_GAP);
  else
    *natural = (int) ceil (2 * NFN_IMAGE_GRID_PADDING + rows * cell - NFN_IMAGE_GRID_GAP
                           + (self->title ? NFN_IMAGE_GRID_TITLE_BAND : 0));
  *minimum = *natural;
}

static void
nfn_image_grid_finalize (GObject *object)
{
  NfnImageGrid *self = NFN_IMAGE_GRID (object);
  g_free (self->title);
  g_free (self->normalised);
  g_free (self->frames);
  g_free (self->from_slots);
  G_OBJECT_CLASS (nfn_image_grid_parent_class)->finalize (object);
}

static void
nfn_image_grid_class_init (NfnImageGridClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->finalize = nfn_image_grid_finalize;
  widget_class->snapshot = nfn_image_grid_snapshot;
  widget_class->measure = nfn_image_grid_measure;
  gtk_widget_class_set_css_name (widget_class, "imagegrid");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
nfn_image_grid_init (NfnImageGrid *self)
{
  self->columns = 1;
  self->tile = 112;
  self->progress = 1.0;
}
