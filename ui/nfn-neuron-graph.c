/* nfn-neuron-graph.c — NfnNeuronGraph: layout, painting, and the widget bound to an orbit.
 *
 * Shape letters as in nfn_core.h.
 */
#include "nfn-neuron-graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nfn-draw.h"

#define NFN_NEURON_GRAPH_MAX_RADIUS 7.0
#define NFN_NEURON_GRAPH_MIN_RADIUS 1.5

/* ---- Layout ---- */

void
nfn_neuron_graph_layout_compute (NfnNeuronGraphLayout *layout, double width, double height, const nfn_space *space)
{
  memset (layout, 0, sizeof *layout);
  layout->space = *space;
  double pad = NFN_NEURON_GRAPH_PADDING;
  double area_top = pad, area_height = MAX (0.0, height - 2 * pad - NFN_NEURON_GRAPH_LABEL_BAND);
  double area_left = pad + NFN_NEURON_GRAPH_MAX_RADIUS, area_width = MAX (0.0, width - 2 * area_left);
  layout->label_y = area_top + area_height + 4;
  for (int i = 0; i <= space->L; i++)
    {
      layout->column_x[i] = area_left + (space->L > 0 ? area_width * i / space->L : area_width / 2);
      double spacing = MIN (NFN_NEURON_GRAPH_MAX_SPACING, area_height / MAX (space->n[i], 1));
      layout->spacing[i] = spacing;
      layout->column_top[i] = area_top + (area_height - spacing * space->n[i]) / 2;
      layout->radius[i] = CLAMP (0.42 * spacing, NFN_NEURON_GRAPH_MIN_RADIUS, NFN_NEURON_GRAPH_MAX_RADIUS);
    }
}

void
nfn_neuron_graph_layout_centre (const NfnNeuronGraphLayout *layout, int set, double position, double *x, double *y)
{
  *x = layout->column_x[set];
  *y = layout->column_top[set] + (position + 0.5) * layout->spacing[set];
}

gboolean
nfn_neuron_graph_layout_neuron_at (const NfnNeuronGraphLayout *layout, double x, double y, int *set, int *position)
{
  for (int i = 0; i <= layout->space.L; i++)
    {
      double reach = MAX (layout->radius[i] + 2, layout->spacing[i] / 2);
      if (fabs (x - layout->column_x[i]) > reach)
        continue;
      double slot = (y - layout->column_top[i]) / layout->spacing[i];
      if (slot < 0 || slot >= layout->space.n[i])
        continue;
      *set = i;
      *position = (int) slot;
      return TRUE;
    }
  return FALSE;
}

/* ---- Painting ---- */

NfnRgb
nfn_neuron_graph_neuron_colour (const nfn_space *space, int set, int identity)
{
  if (set == 0 || set == space->L)
    return nfn_colormap_fixed ();
  return nfn_colormap_identity (identity);
}

/* Where the neuron now at position j of set i is drawn (dragged, animated or at rest). */
static double
nfn_neuron_graph_drawn_y (const NfnNeuronGraphLayout *layout, const NfnNeuronGraphDrawing *drawing, int set, int j)
{
  if (set == drawing->drag_set && j == drawing->drag_position)
    return drawing->drag_y;
  double position = drawing->positions[set] ? drawing->positions[set][j] : j;
  double x, y;
  nfn_neuron_graph_layout_centre (layout, set, position, &x, &y);
  return y;
}

static gboolean
nfn_neuron_graph_edge_shown (const NfnNeuronGraphDrawing *drawing, int layer, float t, gboolean strong)
{
  return !isnan (t) && (fabs (t) >= 0.5) == strong && fabsf (t) >= drawing->min_magnitude[layer];
}

/* One edge as a cairo stroke: exact, and vector in an SVG; but ~25 µs a line in cairo's image
 * backend, too slow for the thousands a wide layer has on screen. */
static void
nfn_neuron_graph_stroke_edge (cairo_t *cr, double x0, double y0, double x1, double y1, float t)
{
  double a = fabs (t);
  NfnRgb rgb = nfn_colormap_diverging (t);
  cairo_set_source_rgba (cr, rgb.r, rgb.g, rgb.b, 0.12 + 0.78 * a);
  cairo_set_line_width (cr, 0.4 + 1.8 * a);
  cairo_move_to (cr, x0, y0);
  cairo_line_to (cr, x1, y1);
  cairo_stroke (cr);
}

/* Blends an opaque colour, packed as red·2^16 + blue (rb) and 255·2^16 + green (ag), over one
 * premultiplied ARGB32 pixel with weight k/256: two 8-bit channels share each multiply, which
 * is exact because 255·256 fits a 16-bit lane. */
static inline void
nfn_neuron_graph_blend (guint32 *p, guint32 rb, guint32 ag, guint32 k)
{
  guint32 keep = 256 - k, d = *p;
  guint32 out_rb = ((rb * k + (d & 0x00ff00ffu) * keep) >> 8) & 0x00ff00ffu;
  guint32 out_ag = ((ag * k + ((d >> 8) & 0x00ff00ffu) * keep) >> 8) & 0x00ff00ffu;
  *p = out_ag << 8 | out_rb;
}

/* floor() without the libm call, which the per-column arithmetic of an edge waited on. */
static inline int
nfn_neuron_graph_floor (float v)
{
  int i = (int) v;
  return i - (v < i);
}

/* Ink `ink` spread over rows lo … hi of one pixel column: the rows in between get it whole,
 * the two end rows by the part of them the span covers. */
static inline void
nfn_neuron_graph_raster_column (guint32 *column, int stride, int height, float lo, float hi, float ink, guint32 rb,
                                guint32 ag)
{
  int top = MAX (0, nfn_neuron_graph_floor (lo)), bottom = MIN (height - 1, -nfn_neuron_graph_floor (-hi) - 1);
  if (top > bottom)
    return;
  int y = top;
  if (y < lo || y + 1 > hi)
    {
      float covered = MIN (y + 1.0f, hi) - MAX ((float) y, lo);
      nfn_neuron_graph_blend (column + (size_t) y * stride, rb, ag, (guint32) (MIN (ink * covered, 1.0f) * 256 + 0.5f));
      y++;
    }
  int inner_end = bottom >= y && bottom + 1 > hi ? bottom - 1 : bottom;
  guint32 inner = (guint32) (MIN (ink, 1.0f) * 256 + 0.5f);
  for (; y <= inner_end; y++)
    nfn_neuron_graph_blend (column + (size_t) y * stride, rb, ag, inner);
  if (y == bottom)
    {
      float covered = MIN (y + 1.0f, hi) - MAX ((float) y, lo);
      nfn_neuron_graph_blend (column + (size_t) y * stride, rb, ag, (guint32) (MIN (ink * covered, 1.0f) * 256 + 0.5f));
    }
}

/* One edge rasterised into premultiplied ARGB32 pixels (stride in pixels), column by column:
 * in each pixel column the line's ink (its thickness across, 2·half) is spread evenly over the
 * rows it crosses there, so the coverage is an area average like an antialiased stroke's. The
 * same colour, alpha and width as the stroke. Single precision and the columns between the two
 * ends in one tight loop: a wide layer's frame rasterises hundreds of thousands of columns. */
static void
nfn_neuron_graph_raster_edge (guint32 *pixels, int stride, int width, int height, double x0, double y0, double x1,
                              double y1, float t)
{
  if (x1 < x0)
    {
      double x = x0, y = y0;
      x0 = x1, y0 = y1, x1 = x, y1 = y;
    }
  if (x1 - x0 < 1e-6)
    return;
  double a = fabs (t), alpha = 0.12 + 0.78 * a, line_width = 0.4 + 1.8 * a;
  NfnRgb rgb = nfn_colormap_diverging (t);
  /* 8-bit fixed point: the blend is the inner loop of every frame */
  guint32 red = (guint32) (rgb.r * 255 + 0.5), green = (guint32) (rgb.g * 255 + 0.5), blue = (guint32) (rgb.b * 255 + 0.5);
  guint32 rb = red << 16 | blue, ag = 255u << 16 | green;
  double slope = (y1 - y0) / (x1 - x0);
  double half = 0.5 * line_width * sqrt (1 + slope * slope);
  int first = MAX (0, (int) floor (x0)), last = MIN (width - 1, (int) ceil (x1) - 1);
  for (int x = first; x <= last; x++)
    {
      double left = MAX (x, x0), right = MIN (x + 1.0, x1);
      if (right <= left)
        continue;
      if (right - left == 1.0 && x + 1 < last)
        {
          /* every whole column holds the same ink over the same span, moved down by the slope */
          float density = (float) (2 * half / (fabs (slope) + 2 * half)), ink = (float) alpha * density;
          float lo = (float) (y0 + (x - x0) * slope + MIN (slope, 0.0) - half);
          float span = (float) (fabs (slope) + 2 * half), step = (float) slope;
          int end = last - 1; /* the last column may be partial */
          for (; x < end; x++, lo += step)
            nfn_neuron_graph_raster_column (pixels + x, stride, height, lo, lo + span, ink, rb, ag);
          x--;
          continue;
        }
      double ya = y0 + (left - x0) * slope, yb = ya + (right - left) * slope;
      double lo = MIN (ya, yb) - half, hi = MAX (ya, yb) + half;
      double density = (right - left) * 2 * half / (hi - lo);
      nfn_neuron_graph_raster_column (pixels + x, stride, height, (float) lo, (float) hi, (float) (alpha * density),
                                      rb, ag);
    }
}

/* Edges in the drawing's order (weak ones before strong ones, so strong ones are never
 * buried under them): rasterised into `pixels` (premultiplied ARGB32, stride in pixels), or, on
 * a vector target (pixels NULL), stroked. */
static void
nfn_neuron_graph_draw_edges (cairo_t *cr, guint32 *pixels, int stride, int w, int h,
                             const NfnNeuronGraphLayout *layout, const NfnNeuronGraphDrawing *drawing)
{
  const nfn_space *s = &drawing->space;
  gboolean vector = pixels == NULL;
  for (int layer = 1; layer <= s->L; layer++)
    {
      const float *edges = drawing->edges[layer];
      if (edges == NULL)
        continue;
      double x0 = layout->column_x[layer - 1], x1 = layout->column_x[layer];
      int inputs = s->n[layer - 1];
      if (drawing->order[layer])
        for (int e = 0; e < drawing->order_count[layer]; e++)
          {
            guint32 index = drawing->order[layer][e];
            int j = index / inputs, k = index % inputs;
            float t = edges[index];
            if (isnan (t) || fabsf (t) < drawing->min_magnitude[layer])
              continue;
            double y0 = nfn_neuron_graph_drawn_y (layout, drawing, layer - 1, k);
            double y1 = nfn_neuron_graph_drawn_y (layout, drawing, layer, j);
            if (vector)
              nfn_neuron_graph_stroke_edge (cr, x0, y0, x1, y1, t);
            else
              nfn_neuron_graph_raster_edge (pixels, stride, w, h, x0, y0, x1, y1, t);
          }
      else
        for (int pass = 0; pass < 2; pass++)
          for (int j = 0; j < s->n[layer]; j++)
            {
              double y1 = nfn_neuron_graph_drawn_y (layout, drawing, layer, j);
              for (int k = 0; k < inputs; k++)
                {
                  float t = edges[(size_t) j * inputs + k];
                  if (!nfn_neuron_graph_edge_shown (drawing, layer, t, pass == 1))
                    continue;
                  double y0 = nfn_neuron_graph_drawn_y (layout, drawing, layer - 1, k);
                  if (vector)
                    nfn_neuron_graph_stroke_edge (cr, x0, y0, x1, y1, t);
                  else
                    nfn_neuron_graph_raster_edge (pixels, stride, w, h, x0, y0, x1, y1, t);
                }
            }
    }
}

/* A small neuron (no ring) rasterised into `pixels` like the edges: each pixel's coverage by
 * the disc from 4×4 samples, so a pixel wholly inside gets exactly the fill colour. Two
 * thousand cairo arcs took longer than the edges under them. */
static void
nfn_neuron_graph_raster_disc (guint32 *pixels, int stride, int width, int height, double cx, double cy, double r,
                              NfnRgb rgb)
{
  guint32 rb = (guint32) (rgb.r * 255 + 0.5) << 16 | (guint32) (rgb.b * 255 + 0.5);
  guint32 ag = 255u << 16 | (guint32) (rgb.g * 255 + 0.5);
  int left = MAX (0, (int) floor (cx - r)), right = MIN (width - 1, (int) floor (cx + r));
  int top = MAX (0, (int) floor (cy - r)), bottom = MIN (height - 1, (int) floor (cy + r));
  double r2 = r * r;
  for (int y = top; y <= bottom; y++)
    for (int x = left; x <= right; x++)
      {
        int inside = 0;
        for (int sy = 0; sy < 4; sy++)
          for (int sx = 0; sx < 4; sx++)
            {
              double dx = x + (sx + 0.5) / 4 - cx, dy = y + (sy + 0.5) / 4 - cy;
              inside += dx * dx + dy * dy <= r2;
            }
        if (inside)
          nfn_neuron_graph_blend (pixels + (size_t) y * stride + x, rb, ag, (guint32) inside * 16);
      }
}

/* Below this radius a neuron has no ring and is rasterised with the edges. */
#define NFN_NEURON_GRAPH_RING_RADIUS 3.0

static void
nfn_neuron_graph_draw_neuron (cairo_t *cr, const NfnNeuronGraphLayout *layout, const NfnNeuronGraphDrawing *drawing,
                              int set, int j)
{
  const nfn_space *s = &drawing->space;
  int identity = drawing->identity[set] ? drawing->identity[set][j] : j;
  NfnRgb rgb = nfn_neuron_graph_neuron_colour (s, set, identity);
  double x = layout->column_x[set], y = nfn_neuron_graph_drawn_y (layout, drawing, set, j);
  double r = layout->radius[set];
  if (set == drawing->drag_set && j == drawing->drag_position)
    r *= 1.4;
  cairo_arc (cr, x, y, r, 0, 2 * G_PI);
  cairo_set_source_rgb (cr, rgb.r, rgb.g, rgb.b);
  cairo_fill_preserve (cr);
  if (r >= NFN_NEURON_GRAPH_RING_RADIUS)
    {
      /* A thin ring keeps light hues apart from the edges behind them. */
      cairo_set_line_width (cr, 1);
      cairo_set_source_rgba (cr, drawing->foreground.red, drawing->foreground.green, drawing->foreground.blue, 0.55);
      cairo_stroke (cr);
    }
  else
    cairo_new_path (cr);
}

cairo_surface_t *
nfn_neuron_graph_rasterise_edges (const NfnNeuronGraphDrawing *drawing, int width, int height)
{
  g_return_val_if_fail (drawing != NULL && width > 0 && height > 0, NULL);
  NfnNeuronGraphLayout layout;
  nfn_neuron_graph_layout_compute (&layout, width, height, &drawing->space);
  cairo_surface_t *image = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, width, height);
  cairo_surface_flush (image);
  guint32 *pixels = (guint32 *) (void *) cairo_image_surface_get_data (image);
  if (pixels != NULL)
    nfn_neuron_graph_draw_edges (NULL, pixels, cairo_image_surface_get_stride (image) / 4, width, height, &layout,
                                 drawing);
  cairo_surface_mark_dirty (image);
  return image;
}

void
nfn_neuron_graph_draw (cairo_t *cr, double width, double height, const NfnNeuronGraphDrawing *drawing)
{
  g_return_if_fail (cr != NULL && drawing != NULL);
  const nfn_space *s = &drawing->space;
  if (s->L < 1)
    return;
  NfnNeuronGraphLayout layout;
  nfn_neuron_graph_layout_compute (&layout, width, height, s);

  /* A raster target gets the edges and the small neurons in one image painted once; a vector
   * one (SVG, PDF) gets one stroke or arc each. */
  cairo_surface_type_t target = cairo_surface_get_type (cairo_get_target (cr));
  gboolean vector = target == CAIRO_SURFACE_TYPE_SVG || target == CAIRO_SURFACE_TYPE_PDF
                    || target == CAIRO_SURFACE_TYPE_PS;
  cairo_surface_t *image = NULL;
  guint32 *pixels = NULL;
  int stride = 0, w = MAX (1, (int) ceil (width)), h = MAX (1, (int) ceil (height));
  cairo_surface_t *ready = drawing->edges_image;
  if (!vector && ready && cairo_image_surface_get_width (ready) == w && cairo_image_surface_get_height (ready) == h)
    {
      /* the neurons go onto a copy: the edges image serves every frame until the weights change */
      image = cairo_surface_create_similar_image (ready, CAIRO_FORMAT_ARGB32, w, h);
      cairo_surface_flush (image);
      cairo_surface_flush (ready);
      g_assert (cairo_image_surface_get_stride (image) == cairo_image_surface_get_stride (ready));
      memcpy (cairo_image_surface_get_data (image), cairo_image_surface_get_data (ready),
              (size_t) cairo_image_surface_get_stride (ready) * h);
      pixels = (guint32 *) (void *) cairo_image_surface_get_data (image);
      stride = cairo_image_surface_get_stride (image) / 4;
    }
  else if (!vector)
    {
      image = nfn_neuron_graph_rasterise_edges (drawing, w, h);
      pixels = (guint32 *) (void *) cairo_image_surface_get_data (image);
      stride = cairo_image_surface_get_stride (image) / 4;
    }
  else
    nfn_neuron_graph_draw_edges (cr, NULL, 0, w, h, &layout, drawing);

  for (int i = 0; i <= s->L; i++)
    for (int j = 0; j < s->n[i]; j++)
      {
        if (i == drawing->drag_set && j == drawing->drag_position)
          continue;
        if (pixels && layout.radius[i] < NFN_NEURON_GRAPH_RING_RADIUS)
          {
            int identity = drawing->identity[i] ? drawing->identity[i][j] : j;
            nfn_neuron_graph_raster_disc (pixels, stride, w, h, layout.column_x[i],
                                          nfn_neuron_graph_drawn_y (&layout, drawing, i, j), layout.radius[i],
                                          nfn_neuron_graph_neuron_colour (s, i, identity));
          }
        else if (!pixels)
          nfn_neuron_graph_draw_neuron (cr, &layout, drawing, i, j);
      }
  if (image)
    {
      cairo_surface_mark_dirty (image);
      cairo_set_source_surface (cr, image, 0, 0);
      cairo_paint (cr);
      cairo_surface_destroy (image);
    }
  /* ringed neurons over the image */
  for (int i = 0; i <= s->L && pixels; i++)
    if (layout.radius[i] >= NFN_NEURON_GRAPH_RING_RADIUS)
      for (int j = 0; j < s->n[i]; j++)
        if (!(i == drawing->drag_set && j == drawing->drag_position))
          nfn_neuron_graph_draw_neuron (cr, &layout, drawing, i, j);
  if (drawing->drag_set >= 0)
    nfn_neuron_graph_draw_neuron (cr, &layout, drawing, drawing->drag_set, drawing->drag_position);

  for (int i = 0; i <= s->L; i++)
    {
      g_autofree char *label = g_strdup_printf ("%s %d", i == 0 ? "in" : i == s->L ? "out" : "hidden", s->n[i]);
      double align = i == 0 ? 0.0 : i == s->L ? 1.0 : 0.5;
      double x = layout.column_x[i] + (i == 0 ? -NFN_NEURON_GRAPH_MAX_RADIUS : i == s->L ? NFN_NEURON_GRAPH_MAX_RADIUS : 0);
      nfn_draw_text (cr, drawing->font, &drawing->foreground, label, x, layout.label_y, align, 0);
    }
}

/* ---- The widget ---- */

struct _NfnNeuronGraph
{
  GtkWidget parent_instance;

  NfnOrbit *orbit;
  gulong changed_handler, progress_handler;
  nfn_space space;
  float *edges[NFN_MAX_LAYERS + 1];     /* [i]: (n_i, n_{i-1}) normalised, NaN = not drawn */
  int *identity[NFN_MAX_LAYERS + 1];    /* [i]: (n_i) */
  float *positions[NFN_MAX_LAYERS + 1]; /* [i]: (n_i) */
  guint32 *order[NFN_MAX_LAYERS + 1];   /* [i]: the drawn edges' indices, weakest first */
  int order_count[NFN_MAX_LAYERS + 1];
  int moving_count[NFN_MAX_LAYERS + 1]; /* [i]: the strongest (the list's tail) drawn while moving */

  /* The at-rest edges, rasterised by a worker: valid for `rest_generation` of the weights at
   * rest_width × rest_height. `generation` counts changes of the weights. */
  guint generation;
  cairo_surface_t *rest_edges;
  int rest_width, rest_height;
  guint rest_generation;
  GCancellable *rest_cancellable; /* the job in flight, for pending_* */
  int pending_width, pending_height;
  guint pending_generation;
  gboolean complete;              /* the last paint drew every edge */

  GtkGesture *drag;
  int drag_set, drag_position;
  double drag_start_y, drag_y;
};

G_DEFINE_FINAL_TYPE (NfnNeuronGraph, nfn_neuron_graph, GTK_TYPE_WIDGET)

enum {
  SIGNAL_NEURON_MOVED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

GtkWidget *
nfn_neuron_graph_new (void)
{
  return g_object_new (NFN_TYPE_NEURON_GRAPH, NULL);
}

static void
nfn_neuron_graph_free_data (NfnNeuronGraph *self)
{
  for (int i = 0; i <= NFN_MAX_LAYERS; i++)
    {
      g_clear_pointer (&self->edges[i], g_free);
      g_clear_pointer (&self->identity[i], g_free);
      g_clear_pointer (&self->positions[i], g_free);
      g_clear_pointer (&self->order[i], g_free);
      self->order_count[i] = self->moving_count[i] = 0;
    }
  memset (&self->space, 0, sizeof self->space);
}

/* The k-th largest (k ≥ 1) of n values, reordering them: Hoare's selection, O(n) on average
 * where a sort was O(n log n) on every bind of a wide layer. */
static float
nfn_neuron_graph_kth_largest (float *values, size_t n, size_t k)
{
  size_t target = n - k, lo = 0, hi = n - 1;
  while (lo < hi)
    {
      float pivot = values[lo + (hi - lo) / 2];
      size_t i = lo, j = hi;
      while (i <= j)
        {
          while (values[i] < pivot)
            i++;
          while (values[j] > pivot)
            j--;
          if (i <= j)
            {
              float swap = values[i];
              values[i] = values[j];
              values[j] = swap;
              i++;
              if (j == 0)
                break;
              j--;
            }
        }
      if (target <= j)
        hi = j;
      else if (target >= i)
        lo = i;
      else
        break;
    }
  return values[target];
}

/* The k-th largest |edge| of n normalised edges (|edge| ≤ 1, NaN ignored): counted into
 * buckets first, so that only the bucket holding it is searched — a wide layer's million
 * edges take one pass, not a selection over all of them. */
static float
nfn_neuron_graph_strength_threshold (const float *edges, size_t n, size_t k)
{
  enum { BUCKETS = 1024 };
  g_autofree size_t *counts = g_new0 (size_t, BUCKETS);
  for (size_t e = 0; e < n; e++)
    if (!isnan (edges[e]))
      counts[MIN ((int) (fabsf (edges[e]) * BUCKETS), BUCKETS - 1)]++;
  size_t above = 0;
  int bucket = BUCKETS - 1;
  while (bucket > 0 && above + counts[bucket] < k)
    above += counts[bucket--];
  if (above + counts[bucket] < k)
    return 0; /* fewer than k edges that are numbers */
  g_autofree float *candidates = g_new (float, counts[bucket]);
  size_t found = 0;
  for (size_t e = 0; e < n; e++)
    if (!isnan (edges[e]) && MIN ((int) (fabsf (edges[e]) * BUCKETS), BUCKETS - 1) == bucket)
      candidates[found++] = fabsf (edges[e]);
  return nfn_neuron_graph_kth_largest (candidates, found, k - above);
}

static int
nfn_neuron_graph_compare_strength (gconstpointer a, gconstpointer b, gpointer edges)
{
  float x = fabsf (((const float *) edges)[*(const guint32 *) a]);
  float y = fabsf (((const float *) edges)[*(const guint32 *) b]);
  return (x > y) - (x < y);
}

/* Stage 2 for layer i: kernel taps averaged, scaled by the layer's max |w|, and all but the
 * strongest NFN_NEURON_GRAPH_MAX_EDGES edges left out. The kept ones are listed weakest
 * first, so that strong edges are drawn over weak ones and the NFN_NEURON_GRAPH_MOVING_EDGES
 * strongest, drawn while neurons move, are the list's tail. */
static void
nfn_neuron_graph_normalise_layer (NfnNeuronGraph *self, const nfn_feature *weights, int i)
{
  const nfn_space *s = &self->space;
  size_t count = (size_t) s->n[i] * s->n[i - 1];
  int f = s->f[i];
  float *edges = self->edges[i];
  const float *w = weights->t[nfn_tensor_weight (i)];
  float max_abs = 0;
  if (f == 1)
    memcpy (edges, w, count * sizeof (float));
  else
    for (size_t e = 0; e < count; e++)
      {
        double sum = 0;
        for (int p = 0; p < f; p++)
          sum += w[e * f + p];
        edges[e] = (float) (sum / f);
      }
  for (size_t e = 0; e < count; e++)
    max_abs = fmaxf (max_abs, fabsf (edges[e]));
  float scale = max_abs > 0 ? 1.0f / max_abs : 0.0f;
  for (size_t e = 0; e < count; e++)
    edges[e] *= scale;
  float threshold = 0;
  if (count > NFN_NEURON_GRAPH_MAX_EDGES)
    threshold = nfn_neuron_graph_strength_threshold (edges, count, NFN_NEURON_GRAPH_MAX_EDGES);
  g_free (self->order[i]);
  self->order[i] = g_new (guint32, MIN (count, (size_t) NFN_NEURON_GRAPH_MAX_EDGES) + 1);
  int kept = 0;
  for (size_t e = 0; e < count; e++)
    if (fabsf (edges[e]) < threshold)
      edges[e] = NAN;
    else if (kept < NFN_NEURON_GRAPH_MAX_EDGES)
      self->order[i][kept++] = (guint32) e;
  /* ties at the threshold beyond the limit stay in `edges` but are not drawn */
  g_qsort_with_data (self->order[i], kept, sizeof (guint32), nfn_neuron_graph_compare_strength, edges);
  self->order_count[i] = kept;
  self->moving_count[i] = MIN (kept, NFN_NEURON_GRAPH_MOVING_EDGES);
}

/* ---- The at-rest edges, off the main thread ---- */

typedef struct {
  NfnNeuronGraphDrawing drawing; /* pointing into the copies below */
  float *edges[NFN_MAX_LAYERS + 1];
  guint32 *order[NFN_MAX_LAYERS + 1];
  int width, height;
  guint generation;
} NfnNeuronGraphEdgesJob;

static void
nfn_neuron_graph_edges_job_free (gpointer data)
{
  NfnNeuronGraphEdgesJob *job = data;
  for (int i = 0; i <= NFN_MAX_LAYERS; i++)
    {
      g_free (job->edges[i]);
      g_free (job->order[i]);
    }
  g_free (job);
}

static void
nfn_neuron_graph_edges_job_run (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  NfnNeuronGraphEdgesJob *job = data;
  cairo_surface_t *image = nfn_neuron_graph_rasterise_edges (&job->drawing, job->width, job->height);
  g_task_return_pointer (task, image, (GDestroyNotify) cairo_surface_destroy);
}

static void
nfn_neuron_graph_edges_job_done (GObject *source, GAsyncResult *result, gpointer data)
{
  NfnNeuronGraph *self = NFN_NEURON_GRAPH (source);
  NfnNeuronGraphEdgesJob *job = g_task_get_task_data (G_TASK (result));
  cairo_surface_t *image = g_task_propagate_pointer (G_TASK (result), NULL);
  if (g_cancellable_is_cancelled (g_task_get_cancellable (G_TASK (result))))
    {
      g_clear_pointer (&image, cairo_surface_destroy);
      return; /* a newer job replaced it, and owns rest_cancellable */
    }
  g_clear_object (&self->rest_cancellable);
  if (image == NULL || job->generation != self->generation)
    {
      g_clear_pointer (&image, cairo_surface_destroy);
      return;
    }
  g_clear_pointer (&self->rest_edges, cairo_surface_destroy);
  self->rest_edges = image;
  self->rest_width = job->width;
  self->rest_height = job->height;
  self->rest_generation = job->generation;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static gboolean
nfn_neuron_graph_rest_ready (NfnNeuronGraph *self, int width, int height)
{
  return self->rest_edges && self->rest_generation == self->generation && self->rest_width == width
         && self->rest_height == height;
}

/* Starts rasterising the at-rest edges at this size, unless they are ready or on their way. */
static void
nfn_neuron_graph_request_rest (NfnNeuronGraph *self, int width, int height)
{
  if (width <= 0 || height <= 0 || self->space.L < 1 || nfn_neuron_graph_rest_ready (self, width, height))
    return;
  if (self->rest_cancellable && self->pending_generation == self->generation && self->pending_width == width
      && self->pending_height == height)
    return;
  if (self->rest_cancellable)
    g_cancellable_cancel (self->rest_cancellable);
  g_clear_object (&self->rest_cancellable);
  self->rest_cancellable = g_cancellable_new ();
  self->pending_width = width;
  self->pending_height = height;
  self->pending_generation = self->generation;

  NfnNeuronGraphEdgesJob *job = g_new0 (NfnNeuronGraphEdgesJob, 1);
  job->width = width;
  job->height = height;
  job->generation = self->generation;
  job->drawing.space = self->space;
  job->drawing.drag_set = job->drawing.drag_position = -1;
  for (int i = 1; i <= self->space.L; i++)
    {
      /* the job's own copies: the widget rewrites its arrays when the weights change */
      job->edges[i] = g_memdup2 (self->edges[i], (size_t) self->space.n[i] * self->space.n[i - 1] * sizeof (float));
      job->order[i] = g_memdup2 (self->order[i], (size_t) self->order_count[i] * sizeof (guint32));
      job->drawing.edges[i] = job->edges[i];
      job->drawing.order[i] = job->order[i];
      job->drawing.order_count[i] = self->order_count[i];
    }
  g_autoptr (GTask) task = g_task_new (self, self->rest_cancellable, nfn_neuron_graph_edges_job_done, NULL);
  g_task_set_source_tag (task, nfn_neuron_graph_request_rest);
  g_task_set_task_data (task, job, nfn_neuron_graph_edges_job_free);
  g_task_run_in_thread (task, nfn_neuron_graph_edges_job_run);
}

static void
nfn_neuron_graph_drop_rest (NfnNeuronGraph *self)
{
  if (self->rest_cancellable)
    g_cancellable_cancel (self->rest_cancellable);
  g_clear_object (&self->rest_cancellable);
  g_clear_pointer (&self->rest_edges, cairo_surface_destroy);
}

gboolean
nfn_neuron_graph_get_complete (NfnNeuronGraph *self)
{
  g_return_val_if_fail (NFN_IS_NEURON_GRAPH (self), FALSE);
  return self->complete;
}

static void
nfn_neuron_graph_update_positions (NfnNeuronGraph *self)
{
  for (int i = 0; i <= self->space.L; i++)
    nfn_orbit_animated_positions (self->orbit, i, self->positions[i]);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
nfn_neuron_graph_orbit_changed (NfnOrbit *orbit, NfnNeuronGraph *self)
{
  const NfnNetwork *current = nfn_orbit_get_current (orbit);
  const nfn_space *s = &current->arch.space;
  if (!nfn_space_equal (s, &self->space))
    {
      nfn_neuron_graph_free_data (self);
      self->space = *s;
      for (int i = 0; i <= s->L; i++)
        {
          self->identity[i] = g_new (int, s->n[i]);
          self->positions[i] = g_new (float, s->n[i]);
          if (i > 0)
            self->edges[i] = g_new (float, (size_t) s->n[i] * s->n[i - 1]);
        }
    }
  for (int i = 0; i <= s->L; i++)
    {
      for (int j = 0; j < s->n[i]; j++)
        self->identity[i][j] = nfn_orbit_identity_at (orbit, i, j);
      if (i > 0)
        nfn_neuron_graph_normalise_layer (self, &current->weights, i);
    }
  self->generation++;
  /* the new member at rest is rasterised while the animation towards it runs */
  nfn_neuron_graph_request_rest (self, gtk_widget_get_width (GTK_WIDGET (self)),
                                 gtk_widget_get_height (GTK_WIDGET (self)));
  gtk_widget_queue_resize (GTK_WIDGET (self));
  nfn_neuron_graph_update_positions (self);
}

static void
nfn_neuron_graph_progress (NfnOrbit *orbit, GParamSpec *pspec, NfnNeuronGraph *self)
{
  nfn_neuron_graph_update_positions (self);
}

void
nfn_neuron_graph_set_orbit (NfnNeuronGraph *self, NfnOrbit *orbit)
{
  g_return_if_fail (NFN_IS_NEURON_GRAPH (self));
  g_return_if_fail (orbit == NULL || NFN_IS_ORBIT (orbit));
  if (orbit == self->orbit)
    return;
  if (self->orbit)
    {
      g_clear_signal_handler (&self->changed_handler, self->orbit);
      g_clear_signal_handler (&self->progress_handler, self->orbit);
      g_clear_object (&self->orbit);
    }
  nfn_neuron_graph_free_data (self);
  self->generation++;
  nfn_neuron_graph_drop_rest (self);
  if (orbit)
    {
      self->orbit = g_object_ref (orbit);
      self->changed_handler = g_signal_connect (orbit, "changed", G_CALLBACK (nfn_neuron_graph_orbit_changed), self);
      self->progress_handler = g_signal_connect (orbit, "notify::progress", G_CALLBACK (nfn_neuron_graph_progress), self);
      nfn_neuron_graph_orbit_changed (orbit, self);
    }
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

NfnOrbit *
nfn_neuron_graph_get_orbit (NfnNeuronGraph *self)
{
  g_return_val_if_fail (NFN_IS_NEURON_GRAPH (self), NULL);
  return self->orbit;
}

float
nfn_neuron_graph_get_edge (NfnNeuronGraph *self, int layer, int j, int k)
{
  g_return_val_if_fail (NFN_IS_NEURON_GRAPH (self), NAN);
  if (layer < 1 || layer > self->space.L || j < 0 || j >= self->space.n[layer] || k < 0 || k >= self->space.n[layer - 1])
    return NAN;
  return self->edges[layer][(size_t) j * self->space.n[layer - 1] + k];
}

/* Draws the widget's state; `placeholder`: at rest, with the edges image not ready, draw only
 * the strongest edges now (the worker brings the rest). */
static void
nfn_neuron_graph_paint_state (NfnNeuronGraph *self, cairo_t *cr, double width, double height, gboolean placeholder)
{
  NfnNeuronGraphDrawing drawing = {
    .space = self->space,
    .drag_set = self->drag_set,
    .drag_position = self->drag_position,
    .drag_y = self->drag_y,
    .font = nfn_draw_widget_font (GTK_WIDGET (self)),
  };
  /* a dragged neuron's edges follow the pointer: live, like an animation */
  gboolean moving = (self->orbit && nfn_orbit_get_progress (self->orbit) < 1.0) || self->drag_set >= 0;
  int w = (int) ceil (width), h = (int) ceil (height);
  gboolean ready = !moving && nfn_neuron_graph_rest_ready (self, w, h);
  gboolean strongest = moving || (placeholder && !ready);
  for (int i = 0; i <= self->space.L; i++)
    {
      drawing.edges[i] = self->edges[i];
      drawing.identity[i] = self->identity[i];
      drawing.positions[i] = self->positions[i];
      int drawn = strongest ? self->moving_count[i] : self->order_count[i];
      drawing.order[i] = self->order[i] ? self->order[i] + self->order_count[i] - drawn : NULL;
      drawing.order_count[i] = drawn;
    }
  if (ready)
    drawing.edges_image = self->rest_edges;
  self->complete = !strongest || moving;
  nfn_draw_widget_foreground (GTK_WIDGET (self), &drawing.foreground);
  nfn_neuron_graph_draw (cr, width, height, &drawing);
}

void
nfn_neuron_graph_paint (NfnNeuronGraph *self, cairo_t *cr, double width, double height)
{
  g_return_if_fail (NFN_IS_NEURON_GRAPH (self));
  g_return_if_fail (cr != NULL);
  nfn_neuron_graph_paint_state (self, cr, width, height, FALSE);
}

static void
nfn_neuron_graph_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  NfnNeuronGraph *self = NFN_NEURON_GRAPH (widget);
  int width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);
  if (width <= 0 || height <= 0)
    return;
  gboolean moving = self->orbit && nfn_orbit_get_progress (self->orbit) < 1.0;
  if (!moving)
    nfn_neuron_graph_request_rest (self, width, height);
  cairo_t *cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));
  nfn_neuron_graph_paint_state (self, cr, width, height, TRUE);
  cairo_destroy (cr);
}

static void
nfn_neuron_graph_measure (GtkWidget *widget, GtkOrientation orientation, int for_size, int *minimum, int *natural,
                          int *minimum_baseline, int *natural_baseline)
{
  NfnNeuronGraph *self = NFN_NEURON_GRAPH (widget);
  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      *minimum = 160;
      *natural = 120 * MAX (self->space.L, 2) + 2 * (int) NFN_NEURON_GRAPH_PADDING;
    }
  else
    {
      int widest = 1;
      for (int i = 0; i <= self->space.L; i++)
        widest = MAX (widest, self->space.n[i]);
      *minimum = 120;
      *natural = (int) (CLAMP (widest * 10.0, 160.0, 360.0) + 2 * NFN_NEURON_GRAPH_PADDING + NFN_NEURON_GRAPH_LABEL_BAND);
    }
}

/* ---- Dragging a hidden neuron ---- */

static void
nfn_neuron_graph_layout_now (NfnNeuronGraph *self, NfnNeuronGraphLayout *layout)
{
  nfn_neuron_graph_layout_compute (layout, gtk_widget_get_width (GTK_WIDGET (self)),
                                   gtk_widget_get_height (GTK_WIDGET (self)), &self->space);
}

static void
nfn_neuron_graph_drag_begin (GtkGestureDrag *gesture, double x, double y, NfnNeuronGraph *self)
{
  NfnNeuronGraphLayout layout;
  nfn_neuron_graph_layout_now (self, &layout);
  int set, position;
  if (self->orbit == NULL || !nfn_neuron_graph_layout_neuron_at (&layout, x, y, &set, &position) || set == 0
      || set == self->space.L)
    {
      gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_DENIED);
      return;
    }
  gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_CLAIMED);
  double cx, cy;
  nfn_neuron_graph_layout_centre (&layout, set, position, &cx, &cy);
  self->drag_set = set;
  self->drag_position = position;
  self->drag_start_y = cy;
  self->drag_y = cy;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
nfn_neuron_graph_drag_update (GtkGestureDrag *gesture, double dx, double dy, NfnNeuronGraph *self)
{
  if (self->drag_set < 0)
    return;
  self->drag_y = self->drag_start_y + dy;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
nfn_neuron_graph_drag_end (GtkGestureDrag *gesture, double dx, double dy, NfnNeuronGraph *self)
{
  if (self->drag_set < 0)
    return;
  int set = self->drag_set, from = self->drag_position;
  self->drag_set = self->drag_position = -1;
  NfnNeuronGraphLayout layout;
  nfn_neuron_graph_layout_now (self, &layout);
  double slot = (self->drag_start_y + dy - layout.column_top[set]) / layout.spacing[set];
  int to = CLAMP ((int) floor (slot), 0, self->space.n[set] - 1);
  if (to != from && nfn_orbit_move_neuron (self->orbit, set, from, to))
    {
      nfn_orbit_animate (self->orbit, GTK_WIDGET (self));
      g_signal_emit (self, signals[SIGNAL_NEURON_MOVED], 0, set, from, to);
    }
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/* ---- GObject ---- */

static void
nfn_neuron_graph_dispose (GObject *object)
{
  nfn_neuron_graph_set_orbit (NFN_NEURON_GRAPH (object), NULL);
  nfn_neuron_graph_drop_rest (NFN_NEURON_GRAPH (object));
  G_OBJECT_CLASS (nfn_neuron_graph_parent_class)->dispose (object);
}

static void
nfn_neuron_graph_finalize (GObject *object)
{
  nfn_neuron_graph_free_data (NFN_NEURON_GRAPH (object));
  G_OBJECT_CLASS (nfn_neuron_graph_parent_class)->finalize (object);
}

static void
nfn_neuron_graph_class_init (NfnNeuronGraphClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = nfn_neuron_graph_dispose;
  object_class->finalize = nfn_neuron_graph_finalize;
  widget_class->snapshot = nfn_neuron_graph_snapshot;
  widget_class->measure = nfn_neuron_graph_measure;

  signals[SIGNAL_NEURON_MOVED] = g_signal_new ("neuron-moved", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                               NULL, NULL, G_TYPE_NONE, 3, G_TYPE_INT, G_TYPE_INT, G_TYPE_INT);
  gtk_widget_class_set_css_name (widget_class, "neurongraph");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
nfn_neuron_graph_init (NfnNeuronGraph *self)
{
  self->drag_set = self->drag_position = -1;
  self->drag = gtk_gesture_drag_new ();
  g_signal_connect (self->drag, "drag-begin", G_CALLBACK (nfn_neuron_graph_drag_begin), self);
  g_signal_connect (self->drag, "drag-update", G_CALLBACK (nfn_neuron_graph_drag_update), self);
  g_signal_connect (self->drag, "drag-end", G_CALLBACK (nfn_neuron_graph_drag_end), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (self->drag));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self), "Drag a hidden neuron up or down to move it: the weights change, the function does not");
}
