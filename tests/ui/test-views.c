/* test-views.c — the explorer's views on offscreen surfaces and standalone: histogram, plot,
 * neuron graph, orbit, equivariance view, tour and export.
 *
 * Expected values are the test's own: bin counts by comparing each value with the bin edges,
 * pixel positions from the documented affine maps, permutations read back from σ, canonical
 * forms and functions recomputed with the engine on the test's own coordinate grid. */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "nfn-align-view.h"
#include "nfn-colormap.h"
#include "nfn-equivariance-view.h"
#include "nfn-export.h"
#include "nfn-heatmap.h"
#include "nfn-histogram.h"
#include "nfn-image-grid.h"
#include "nfn-layer-outputs.h"
#include "nfn-neuron-graph.h"
#include "nfn-orbit.h"
#include "nfn-plot.h"
#include "nfn-tour.h"
#include "nfn_perm.h"
#include <gsl/gsl_rng.h>
#include "nfn-function-panel.h"
#include "nfn_datasets.h"
#include "nfn_fit.h"
#include "nfn_model_file.h"
#include "nfn_store.h"
#include "nfn_sample.h"
#include "nfn_zoo.h"
#include "uitestutil.h"

#define COLOUR_TOLERANCE (2.5 / 255)

/* ---- Histogram ---- */

static void
test_histogram_counts (void)
{
  enum { N = 500, BINS = 10 };
  float values[N + 3];
  for (int e = 0; e < N; e++)
    values[e] = (float) (sin (1.7 * e) * 3.0 + 0.5 * cos (0.3 * e));
  values[N] = NAN;
  values[N + 1] = INFINITY;
  values[N + 2] = -3.6f; /* the largest magnitude: sets m */

  double m = 0;
  for (int e = 0; e < N + 3; e++)
    if (isfinite (values[e]))
      m = MAX (m, fabs (values[e]));
  guint expected[BINS] = { 0 };
  for (int e = 0; e < N + 3; e++)
    for (int b = 0; b < BINS && isfinite (values[e]); b++)
      {
        double lo = -m + 2 * m * b / BINS, hi = -m + 2 * m * (b + 1) / BINS;
        if ((values[e] >= lo && values[e] < hi) || (b == BINS - 1 && values[e] == hi))
          {
            expected[b]++;
            break;
          }
      }

  guint counts[BINS];
  size_t nonfinite;
  double range = nfn_histogram_bin (values, N + 3, BINS, counts, &nonfinite);
  g_assert_cmpfloat (range, ==, m);
  g_assert_cmpuint (nonfinite, ==, 2);
  guint total = 0;
  for (int b = 0; b < BINS; b++)
    {
      g_test_message ("bin %d: %u (expected %u)", b, counts[b], expected[b]);
      g_assert_cmpuint (counts[b], ==, expected[b]);
      total += counts[b];
    }
  g_assert_cmpuint (total, ==, N + 1);

  /* The widget paints bar b to counts[b] / max of the plot height, in the colormap's colour
   * for the bin's centre. */
  g_autoptr (NfnHistogram) histogram = g_object_ref_sink (NFN_HISTOGRAM (nfn_histogram_new ()));
  nfn_histogram_set_bins (histogram, BINS);
  nfn_histogram_set_values (histogram, values, N + 3);
  const guint *widget_counts = nfn_histogram_get_counts (histogram);
  guint highest = 0;
  for (int b = 0; b < BINS; b++)
    {
      g_assert_cmpuint (widget_counts[b], ==, expected[b]);
      highest = MAX (highest, expected[b]);
    }
  enum { WIDTH = 300, HEIGHT = 140 };
  cairo_t *cr;
  cairo_surface_t *surface = ut_white_surface (WIDTH, HEIGHT, &cr);
  nfn_histogram_paint (histogram, cr, WIDTH, HEIGHT);
  cairo_destroy (cr);
  NfnHistogramLayout layout;
  nfn_histogram_layout_compute (&layout, WIDTH, HEIGHT);
  double bar = layout.plot_width / BINS, base = layout.plot_y + layout.plot_height;
  for (int b = 0; b < BINS; b++)
    {
      int x = (int) (layout.plot_x + (b + 0.5) * bar);
      NfnRgb colour = nfn_colormap_diverging ((b + 0.5) / BINS * 2 - 1);
      /* Measure the bar: walk up from the base while the pixel has the bar's colour. */
      int top = (int) base - 2;
      while (top > 0 && ut_rgb_distance (ut_surface_rgb (surface, x, top - 1), colour) <= COLOUR_TOLERANCE)
        top--;
      double measured = base - top, wanted = layout.plot_height * expected[b] / highest;
      g_test_message ("bar %d: %.1f px, expected %.1f", b, measured, wanted);
      g_assert_cmpfloat (fabs (measured - wanted), <=, 2.0);
    }
  cairo_surface_destroy (surface);
}

/* ---- Plot ---- */

static void
test_plot_smooth (void)
{
  const double y[] = { 1, 1, 1, 5, 5, 5, 5 };
  double out[G_N_ELEMENTS (y)];
  nfn_plot_smooth (y, G_N_ELEMENTS (y), 0.0, out);
  for (guint e = 0; e < G_N_ELEMENTS (y); e++)
    g_assert_cmpfloat (out[e], ==, y[e]);
  const double w = 0.6;
  nfn_plot_smooth (y, G_N_ELEMENTS (y), w, out);
  /* Debiased EMA by its closed form: Σ w^(t−s)(1−w) y_s / (1 − w^(t+1)). */
  for (guint t = 0; t < G_N_ELEMENTS (y); t++)
    {
      double sum = 0;
      for (guint s = 0; s <= t; s++)
        sum += pow (w, t - s) * (1 - w) * y[s];
      g_assert_cmpfloat_with_epsilon (out[t], sum / (1 - pow (w, t + 1)), 1e-12);
    }
  g_assert_cmpfloat (out[0], ==, 1.0); /* not pulled towards 0 */
}

static void
check_plot_point (cairo_surface_t *surface, const NfnPlotLayout *layout, double x, double y, NfnRgb colour)
{
  double fx = (x - layout->x_min) / (layout->x_max - layout->x_min);
  double vy = layout->log_y ? log10 (y) : y;
  double fy = (vy - layout->y_min) / (layout->y_max - layout->y_min);
  int px = (int) lround (layout->plot_x + fx * layout->plot_width);
  int py = (int) lround (layout->plot_y + (1 - fy) * layout->plot_height);
  g_assert_cmpfloat (fabs (nfn_plot_layout_x_to_pixel (layout, x) - (layout->plot_x + fx * layout->plot_width)), <, 1e-9);
  g_assert_cmpfloat (fabs (nfn_plot_layout_y_to_pixel (layout, y) - (layout->plot_y + (1 - fy) * layout->plot_height)),
                     <, 1e-9);
  NfnRgb got = ut_surface_rgb (surface, px, py);
  g_test_message ("point (%g, %g) at (%d, %d): %.2f %.2f %.2f", x, y, px, py, got.r, got.g, got.b);
  g_assert_cmpfloat (ut_rgb_distance (got, colour), <=, 0.1);
}

static void
test_plot_mapping (void)
{
  g_autoptr (NfnPlot) plot = g_object_ref_sink (NFN_PLOT (nfn_plot_new ()));
  const double x[] = { 0, 0.25, 0.5, 1 };
  const double y[] = { 0, 2.5, 5, 10 };
  NfnRgb red = { 0.9, 0.1, 0.1 };
  nfn_plot_add_series (plot, NULL, red, FALSE, x, y, G_N_ELEMENTS (x));
  nfn_plot_set_title (plot, "mapping");
  nfn_plot_set_axis_labels (plot, "x", "y");

  enum { WIDTH = 420, HEIGHT = 300 };
  cairo_t *cr;
  cairo_surface_t *surface = ut_white_surface (WIDTH, HEIGHT, &cr);
  nfn_plot_paint (plot, cr, WIDTH, HEIGHT);
  NfnPlotLayout layout;
  nfn_plot_get_layout (plot, cr, WIDTH, HEIGHT, &layout);
  cairo_destroy (cr);
  /* Data that starts and ends on ticks keeps its range. */
  g_assert_cmpfloat (layout.x_min, ==, 0);
  g_assert_cmpfloat (layout.x_max, ==, 1);
  g_assert_cmpfloat (layout.y_min, ==, 0);
  g_assert_cmpfloat (layout.y_max, ==, 10);
  g_assert_cmpfloat (layout.plot_width, >, 250);
  g_assert_cmpfloat (layout.plot_height, >, 180);
  for (guint e = 0; e < G_N_ELEMENTS (x); e++)
    check_plot_point (surface, &layout, x[e], y[e], red);
  /* Ticks are nice numbers inside the range, in order. */
  g_assert_cmpint (layout.n_x_ticks, >=, 3);
  for (int t = 1; t < layout.n_x_ticks; t++)
    g_assert_cmpfloat (layout.x_ticks[t], >, layout.x_ticks[t - 1]);
  cairo_surface_destroy (surface);

  /* A log axis puts 1e-1 halfway between 1e-3 and 1e1. */
  nfn_plot_clear (plot);
  const double lx[] = { 0, 1, 2 };
  const double ly[] = { 1e-3, 1e-1, 10 };
  NfnRgb blue = { 0.1, 0.2, 0.9 };
  nfn_plot_add_series (plot, "loss", blue, FALSE, lx, ly, 3);
  nfn_plot_set_log_y (plot, TRUE);
  surface = ut_white_surface (WIDTH, HEIGHT, &cr);
  nfn_plot_paint (plot, cr, WIDTH, HEIGHT);
  nfn_plot_get_layout (plot, cr, WIDTH, HEIGHT, &layout);
  cairo_destroy (cr);
  g_assert_cmpfloat (layout.y_min, ==, -3);
  g_assert_cmpfloat (layout.y_max, ==, 1);
  g_assert_cmpfloat (fabs (nfn_plot_layout_y_to_pixel (&layout, 1e-1) - (layout.plot_y + layout.plot_height / 2)), <, 1e-9);
  for (int e = 0; e < 3; e++)
    check_plot_point (surface, &layout, lx[e], ly[e], blue);
  cairo_surface_destroy (surface);
}

/* ---- Neuron graph ---- */

enum { GRAPH_WIDTH = 640, GRAPH_HEIGHT = 480 };

static cairo_surface_t *
paint_graph (NfnNeuronGraph *graph)
{
  cairo_t *cr;
  cairo_surface_t *surface = ut_white_surface (GRAPH_WIDTH, GRAPH_HEIGHT, &cr);
  nfn_neuron_graph_paint (graph, cr, GRAPH_WIDTH, GRAPH_HEIGHT);
  cairo_destroy (cr);
  return surface;
}

static NfnRgb
neuron_pixel (cairo_surface_t *surface, const NfnNeuronGraphLayout *layout, int set, int position)
{
  double x, y;
  nfn_neuron_graph_layout_centre (layout, set, position, &x, &y);
  return ut_surface_rgb (surface, (int) x, (int) y);
}

static void
test_graph_colours_follow_permutation (void)
{
  g_autoptr (NfnNetwork) sample = nfn_sample_network ();
  g_autoptr (NfnOrbit) orbit = nfn_orbit_new (sample, 11);
  g_autoptr (NfnNeuronGraph) graph = g_object_ref_sink (NFN_NEURON_GRAPH (nfn_neuron_graph_new ()));
  nfn_neuron_graph_set_orbit (graph, orbit);
  const nfn_space *s = &sample->arch.space;
  NfnNeuronGraphLayout layout;
  nfn_neuron_graph_layout_compute (&layout, GRAPH_WIDTH, GRAPH_HEIGHT, s);

  cairo_surface_t *before = paint_graph (graph);
  NfnRgb colours[NFN_MAX_LAYERS + 1][64];
  for (int i = 0; i <= s->L; i++)
    for (int j = 0; j < s->n[i]; j++)
      {
        colours[i][j] = neuron_pixel (before, &layout, i, j);
        NfnRgb expected = (i == 0 || i == s->L) ? nfn_colormap_fixed () : nfn_colormap_identity (j);
        g_assert_cmpfloat (ut_rgb_distance (colours[i][j], expected), <=, COLOUR_TOLERANCE);
      }
  /* Hit-testing (for dragging) finds each neuron at its centre. */
  for (int i = 0; i <= s->L; i++)
    for (int j = 0; j < s->n[i]; j++)
      {
        double x, y;
        int set, position;
        nfn_neuron_graph_layout_centre (&layout, i, j, &x, &y);
        g_assert_true (nfn_neuron_graph_layout_neuron_at (&layout, x, y, &set, &position));
        g_assert_cmpint (set, ==, i);
        g_assert_cmpint (position, ==, j);
      }
  g_assert_false (nfn_neuron_graph_layout_neuron_at (&layout, (layout.column_x[1] + layout.column_x[2]) / 2,
                                                     GRAPH_HEIGHT / 2.0, &(int) { 0 }, &(int) { 0 }));
  /* Hidden neurons are told apart by colour: neighbours differ clearly. */
  for (int j = 1; j < s->n[1]; j++)
    g_assert_cmpfloat (ut_rgb_distance (colours[1][j], colours[1][j - 1]), >, 0.15);
  float edge_before = nfn_neuron_graph_get_edge (graph, 2, 5, 9);

  nfn_orbit_permute_random (orbit);
  const nfn_perm *sigma = nfn_orbit_get_permutation (orbit);
  g_assert_false (nfn_perm_is_identity (sigma));

  /* At progress 0 every neuron is still drawn where it was. */
  g_assert_cmpfloat (nfn_orbit_get_progress (orbit), ==, 0.0);
  cairo_surface_t *start = paint_graph (graph);
  for (int i = 1; i < s->L; i++)
    for (int j = 0; j < s->n[i]; j++)
      g_assert_cmpfloat (ut_rgb_distance (neuron_pixel (start, &layout, i, j), colours[i][j]), <=, COLOUR_TOLERANCE);

  /* Done: neuron j of set i sits at σ_i(j) in the colour it had. */
  nfn_orbit_set_progress (orbit, 1.0);
  cairo_surface_t *after = paint_graph (graph);
  int moved = 0;
  for (int i = 0; i <= s->L; i++)
    for (int j = 0; j < s->n[i]; j++)
      {
        int to = sigma->p[i][j];
        moved += to != j;
        NfnRgb got = neuron_pixel (after, &layout, i, to);
        g_assert_cmpfloat (ut_rgb_distance (got, colours[i][j]), <=, COLOUR_TOLERANCE);
      }
  g_test_message ("%d neurons moved", moved);
  g_assert_cmpint (moved, >, 40);
  /* Edges move with both their ends. */
  g_assert_cmpfloat (nfn_neuron_graph_get_edge (graph, 2, sigma->p[2][5], sigma->p[1][9]), ==, edge_before);

  cairo_surface_destroy (before);
  cairo_surface_destroy (start);
  cairo_surface_destroy (after);
}

static void
record_move (NfnNeuronGraph *graph, int set, int from, int to, int *moved)
{
  moved[0] = set;
  moved[1] = from;
  moved[2] = to;
}

/* A neuron graph of `orbit`, GRAPH_WIDTH × GRAPH_HEIGHT, alone in a presented window. */
static GtkWidget *
present_graph (NfnOrbit *orbit, GtkWidget **window)
{
  *window = gtk_window_new ();
  gtk_window_set_resizable (GTK_WINDOW (*window), FALSE);
  GtkWidget *graph = nfn_neuron_graph_new ();
  gtk_widget_set_size_request (graph, GRAPH_WIDTH, GRAPH_HEIGHT);
  gtk_window_set_child (GTK_WINDOW (*window), graph);
  nfn_neuron_graph_set_orbit (NFN_NEURON_GRAPH (graph), orbit);
  ut_present_and_wait (GTK_WINDOW (*window));
  return graph;
}

/* Dragging a hidden neuron (the drag gesture's signals, as a pointer would send them) moves it
 * to the slot it is dropped on: "neuron-moved" tells where from and to, the orbit's σ puts the
 * neuron there and shifts the ones between, and an input neuron does not move. */
static void
test_graph_drag (void)
{
  g_autoptr (NfnNetwork) sample = nfn_sample_network ();
  g_autoptr (NfnOrbit) orbit = nfn_orbit_new (sample, 11);
  GtkWidget *window;
  GtkWidget *graph = present_graph (orbit, &window);
  int moved[3] = { -1, -1, -1 };
  g_signal_connect (graph, "neuron-moved", G_CALLBACK (record_move), moved);
  GtkGesture *drag = NULL;
  g_autoptr (GListModel) controllers = gtk_widget_observe_controllers (graph);
  for (guint c = 0; c < g_list_model_get_n_items (controllers); c++)
    {
      g_autoptr (GObject) controller = g_list_model_get_item (controllers, c);
      if (GTK_IS_GESTURE_DRAG (controller))
        drag = GTK_GESTURE (controller);
    }
  g_assert_nonnull (drag);

  const nfn_space *s = &sample->arch.space;
  NfnNeuronGraphLayout layout;
  nfn_neuron_graph_layout_compute (&layout, gtk_widget_get_width (graph), gtk_widget_get_height (graph), s);
  double x, y, x_to, y_to;
  nfn_neuron_graph_layout_centre (&layout, 2, 3, &x, &y);
  nfn_neuron_graph_layout_centre (&layout, 2, 10, &x_to, &y_to);
  g_signal_emit_by_name (drag, "drag-begin", x, y);
  g_signal_emit_by_name (drag, "drag-update", 0.0, (y_to - y) / 2);
  g_signal_emit_by_name (drag, "drag-end", 0.0, y_to - y);
  g_assert_cmpint (moved[0], ==, 2);
  g_assert_cmpint (moved[1], ==, 3);
  g_assert_cmpint (moved[2], ==, 10);
  /* neuron 3 of set 2 now sits at 10, 4 … 10 moved up one, the rest stayed */
  for (int position = 0; position < s->n[2]; position++)
    {
      int expected = position == 10 ? 3 : position >= 3 && position < 10 ? position + 1 : position;
      g_assert_cmpint (nfn_orbit_identity_at (orbit, 2, position), ==, expected);
    }
  for (int position = 0; position < s->n[1]; position++)
    g_assert_cmpint (nfn_orbit_identity_at (orbit, 1, position), ==, position);

  /* an input neuron is fixed: the drag is refused and nothing moves */
  moved[0] = -1;
  nfn_neuron_graph_layout_centre (&layout, 0, 0, &x, &y);
  g_signal_emit_by_name (drag, "drag-begin", x, y);
  g_signal_emit_by_name (drag, "drag-end", 0.0, 40.0);
  g_assert_cmpint (moved[0], ==, -1);
  gtk_window_destroy (GTK_WINDOW (window));
}

static int
compare_floats_descending (const void *a, const void *b)
{
  float x = *(const float *) a, y = *(const float *) b;
  return (x < y) - (x > y);
}

static gboolean
graph_complete (gpointer graph)
{
  return nfn_neuron_graph_get_complete (graph);
}

/* A network too wide to draw every edge (64 → 100 → 100 → 10): each wide layer keeps exactly
 * its NFN_NEURON_GRAPH_MAX_EDGES strongest edges (by a sort of the test's own), the shown
 * widget's at-rest edges come from its worker and paint exactly what a synchronous paint does,
 * and the small neurons (no ring) still show their identity colours while the graph is idle
 * and after a permutation. */
static void
test_graph_wide (void)
{
  const int widths[] = { 64, 100, 100, 10 };
  nfn_arch arch;
  g_assert_cmpint (nfn_arch_mlp (&arch, 3, widths, NFN_ACT_RELU), ==, NFN_OK);
  g_autoptr (NfnNetwork) net = nfn_network_new (&arch);
  for (size_t e = 0; e < net->weights.size; e++)
    net->weights.data[e] = (float) sin (0.7 * e + 0.3 * e * e * 1e-3);
  g_autoptr (NfnOrbit) orbit = nfn_orbit_new (net, 5);
  const nfn_space *s = &arch.space;

  GtkWidget *window;
  GtkWidget *shown = present_graph (orbit, &window);
  g_assert_true (ut_wait_for (graph_complete, shown, 10));
  g_autoptr (NfnNeuronGraph) hidden = g_object_ref_sink (NFN_NEURON_GRAPH (nfn_neuron_graph_new ()));
  nfn_neuron_graph_set_orbit (hidden, orbit);

  for (int i = 1; i <= s->L; i++)
    {
      int count = s->n[i] * s->n[i - 1];
      const float *w = net->weights.t[nfn_tensor_weight (i)];
      float max_abs = 0;
      for (int e = 0; e < count; e++)
        max_abs = MAX (max_abs, fabsf (w[e]));
      g_autofree float *sorted = g_new (float, count);
      for (int e = 0; e < count; e++)
        sorted[e] = fabsf (w[e]) / max_abs;
      qsort (sorted, count, sizeof (float), compare_floats_descending);
      int kept = 0;
      float weakest_kept = INFINITY, strongest_dropped = 0;
      for (int j = 0; j < s->n[i]; j++)
        for (int k = 0; k < s->n[i - 1]; k++)
          {
            float edge = nfn_neuron_graph_get_edge (NFN_NEURON_GRAPH (shown), i, j, k);
            float expected = w[j * s->n[i - 1] + k] / max_abs;
            if (isnan (edge))
              strongest_dropped = MAX (strongest_dropped, fabsf (expected));
            else
              {
                g_assert_cmpfloat (fabsf (edge - expected), <=, 1e-6);
                weakest_kept = MIN (weakest_kept, fabsf (edge));
                kept++;
              }
          }
      g_test_message ("layer %d: %d of %d edges kept, weakest %g, strongest left out %g", i, kept, count,
                      weakest_kept, strongest_dropped);
      g_assert_cmpint (kept, ==, MIN (count, NFN_NEURON_GRAPH_MAX_EDGES));
      if (count > NFN_NEURON_GRAPH_MAX_EDGES)
        {
          g_assert_cmpfloat (fabsf (weakest_kept - sorted[NFN_NEURON_GRAPH_MAX_EDGES - 1]), <=, 1e-6);
          g_assert_cmpfloat (strongest_dropped, <, weakest_kept);
        }
    }

  NfnNeuronGraphLayout layout;
  nfn_neuron_graph_layout_compute (&layout, GRAPH_WIDTH, GRAPH_HEIGHT, s);
  g_assert_cmpfloat (layout.radius[1], <, 3); /* discs without a ring */
  for (int round = 0; round < 2; round++)
    {
      if (round == 1)
        {
          nfn_orbit_permute_random (orbit);
          nfn_orbit_set_progress (orbit, 1.0);
          g_assert_true (ut_wait_for (graph_complete, shown, 10));
        }
      /* what the widget shows at rest (its worker's edges, made at its own size) against a
       * paint from scratch; the labels below and the output neurons' rings differ in colour
       * (the theme's foreground against black) */
      g_assert_cmpint (gtk_widget_get_width (shown), ==, GRAPH_WIDTH);
      g_assert_cmpint (gtk_widget_get_height (shown), ==, GRAPH_HEIGHT);
      cairo_surface_t *from_worker = paint_graph (NFN_NEURON_GRAPH (shown));
      cairo_surface_t *synchronous = paint_graph (hidden);
      int differ = 0;
      for (int y = 0; y < (int) layout.label_y; y++)
        for (int x = 0; x < layout.column_x[s->L] - layout.radius[s->L] - 2; x++)
          differ += ut_rgb_distance (ut_surface_rgb (from_worker, x, y), ut_surface_rgb (synchronous, x, y)) > 0;
      g_assert_cmpint (differ, ==, 0);
      g_assert_cmpuint (ut_count_colours (from_worker), >, 100);
      for (int i = 1; i < s->L; i++)
        for (int j = 0; j < s->n[i]; j++)
          {
            NfnRgb expected = nfn_colormap_identity (nfn_orbit_identity_at (orbit, i, j));
            g_assert_cmpfloat (ut_rgb_distance (neuron_pixel (from_worker, &layout, i, j), expected), <=,
                               COLOUR_TOLERANCE);
          }
      cairo_surface_destroy (from_worker);
      cairo_surface_destroy (synchronous);
    }
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ---- Orbit ---- */

/* f on the test's own G×G grid (x along columns, y along rows, both linspace(−1, 1)). */
static float *
siren_image (const NfnNetwork *net, int g)
{
  g_autofree float *xy = g_new (float, (size_t) g * g * 2);
  for (int r = 0; r < g; r++)
    for (int c = 0; c < g; c++)
      {
        xy[(r * g + c) * 2] = (float) (2.0 * c / (g - 1) - 1);
        xy[(r * g + c) * 2 + 1] = (float) (2.0 * r / (g - 1) - 1);
      }
  float *out = g_new (float, (size_t) g * g);
  g_assert_cmpint (nfn_net_forward (&net->arch, &net->weights, g * g, xy, 0, out, NULL), ==, NFN_OK);
  return out;
}

static double
max_abs_difference (const float *a, const float *b, size_t n)
{
  double worst = 0;
  for (size_t e = 0; e < n; e++)
    worst = MAX (worst, fabs ((double) a[e] - b[e]));
  return worst;
}

static void
test_orbit_function_and_canonical (void)
{
  g_autoptr (NfnNetwork) sample = nfn_sample_network ();
  g_autoptr (NfnOrbit) orbit = nfn_orbit_new (sample, 5);
  size_t size = sample->weights.size;

  /* The canonical member, reached from the network as loaded. */
  g_assert_true (nfn_orbit_canonicalize (orbit, NULL));
  g_autofree float *canonical = g_memdup2 (nfn_orbit_get_current (orbit)->weights.data, size * sizeof (float));

  /* … and from two random members of the orbit: bit for bit the same weights. */
  for (int round = 0; round < 2; round++)
    {
      nfn_orbit_permute_random (orbit);
      nfn_orbit_permute_random (orbit);
      const NfnNetwork *current = nfn_orbit_get_current (orbit);
      double relative, fraction;
      nfn_orbit_get_weight_change (orbit, &relative, &fraction);
      g_test_message ("permuted: relative %.3g, fraction %.4f, max |Δf| %.3g", relative, fraction,
                      nfn_orbit_get_max_delta_f (orbit));
      g_assert_cmpfloat (fraction, >, 0.9);
      g_assert_cmpfloat (relative, >, 0.5);
      g_assert_cmpint (memcmp (current->weights.data, sample->weights.data, size * sizeof (float)), !=, 0);

      /* The function did not move, by the orbit's count and by the test's own grid. */
      g_assert_cmpfloat (nfn_orbit_get_max_delta_f (orbit), <, 1e-5);
      g_autofree float *f0 = siren_image (sample, 28);
      g_autofree float *f1 = siren_image (current, 28);
      g_assert_cmpfloat (max_abs_difference (f0, f1, 28 * 28), <, 1e-5);

      g_assert_true (nfn_orbit_canonicalize (orbit, NULL));
      g_assert_cmpint (memcmp (nfn_orbit_get_current (orbit)->weights.data, canonical, size * sizeof (float)), ==, 0);
    }

  nfn_orbit_reset (orbit);
  g_assert_true (nfn_perm_is_identity (nfn_orbit_get_permutation (orbit)));
  g_assert_cmpint (memcmp (nfn_orbit_get_current (orbit)->weights.data, sample->weights.data, size * sizeof (float)), ==, 0);
  g_assert_cmpfloat (nfn_orbit_get_max_delta_f (orbit), ==, 0.0);

  /* Moving neuron 3 to place 7 shifts 4 … 7 up by one. */
  g_assert_true (nfn_orbit_move_neuron (orbit, 1, 3, 7));
  g_assert_cmpint (nfn_orbit_identity_at (orbit, 1, 7), ==, 3);
  for (int p = 3; p < 7; p++)
    g_assert_cmpint (nfn_orbit_identity_at (orbit, 1, p), ==, p + 1);
  g_assert_cmpint (nfn_orbit_identity_at (orbit, 1, 8), ==, 8);
  /* Mid-animation the moved neuron is between its places. */
  nfn_orbit_set_progress (orbit, 0.5);
  g_assert_cmpfloat (nfn_orbit_animated_position (orbit, 1, 7), ==, 5.0f);
  g_assert_false (nfn_orbit_move_neuron (orbit, 0, 0, 1)); /* inputs never move */
  g_assert_false (nfn_orbit_move_neuron (orbit, 1, 0, 32));

  g_autofree char *count = nfn_orbit_format_size (&sample->arch.space);
  g_assert_cmpstr (count, ==, "6.9e70"); /* 32!² = 6.9e70 */
}

/* ---- Layer outputs ---- */

/* Each hidden neuron's image is its activation on the 28×28 grid (checked against the test's
 * own forward pass of the first layer), framed in its identity colour; after a permutation
 * the image at σ_i(j) is the one that was at j. */
static void
test_layer_outputs_follow_permutation (void)
{
  g_autoptr (NfnNetwork) sample = nfn_sample_network ();
  g_autoptr (NfnOrbit) orbit = nfn_orbit_new (sample, 21);
  g_autoptr (NfnLayerOutputs) outputs = g_object_ref_sink (NFN_LAYER_OUTPUTS (nfn_layer_outputs_new ()));
  nfn_layer_outputs_set_orbit (outputs, orbit);
  const nfn_space *s = &sample->arch.space;
  NfnImageGrid *grids[3] = { NULL, NFN_IMAGE_GRID (nfn_layer_outputs_get_grid (outputs, 1)),
                             NFN_IMAGE_GRID (nfn_layer_outputs_get_grid (outputs, 2)) };
  g_assert_nonnull (grids[1]);
  g_assert_nonnull (grids[2]);
  g_assert_null (nfn_layer_outputs_get_grid (outputs, 3));

  /* Layer 1 by hand: sin(ω0 (W_1 x + b_1)), shown on −1…1 as 0…1. */
  const float *w1 = sample->weights.t[0], *b1 = sample->weights.t[1];
  for (int j = 0; j < s->n[1]; j += 7)
    for (int r = 0; r < 28; r += 9)
      for (int c = 0; c < 28; c += 9)
        {
          double x = 2.0 * c / 27 - 1, y = 2.0 * r / 27 - 1;
          double h = sin (sample->arch.omega0 * (w1[j * 2] * x + w1[j * 2 + 1] * y + b1[j]));
          g_assert_cmpfloat (fabs (nfn_image_grid_get_pixel (grids[1], j, r, c, 0) - (h + 1) / 2), <, 1e-5);
        }

  g_autofree float *before = g_new (float, 2 * 32 * 28 * 28);
  for (int i = 1; i <= 2; i++)
    for (int j = 0; j < 32; j++)
      for (int e = 0; e < 28 * 28; e++)
        before[((i - 1) * 32 + j) * 784 + e] = nfn_image_grid_get_pixel (grids[i], j, e / 28, e % 28, 0);
  nfn_orbit_permute_random (orbit);
  nfn_orbit_set_progress (orbit, 1.0);
  const nfn_perm *sigma = nfn_orbit_get_permutation (orbit);
  for (int i = 1; i <= 2; i++)
    for (int j = 0; j < 32; j++)
      for (int e = 0; e < 28 * 28; e += 13)
        g_assert_cmpfloat (fabs (nfn_image_grid_get_pixel (grids[i], sigma->p[i][j], e / 28, e % 28, 0)
                                 - before[((i - 1) * 32 + j) * 784 + e]),
                           <, 1e-5);

  /* The frames: painted in the identity colour of the neuron now in each slot. */
  enum { WIDTH = 400, HEIGHT = 200 };
  cairo_t *cr;
  cairo_surface_t *surface = ut_white_surface (WIDTH, HEIGHT, &cr);
  nfn_image_grid_paint (grids[1], cr, WIDTH, HEIGHT);
  cairo_destroy (cr);
  NfnImageGridLayout layout;
  nfn_image_grid_layout_compute (&layout, WIDTH, HEIGHT, 32, NFN_LAYER_OUTPUTS_COLUMNS, TRUE);
  for (int slot = 0; slot < 32; slot++)
    {
      double x, y;
      nfn_image_grid_layout_slot (&layout, slot, &x, &y);
      NfnRgb frame = ut_surface_rgb (surface, (int) x - 2, (int) (y + layout.tile / 2));
      g_assert_cmpfloat (ut_rgb_distance (frame, nfn_colormap_identity (nfn_orbit_identity_at (orbit, 1, slot))), <=,
                         COLOUR_TOLERANCE);
    }
  cairo_surface_destroy (surface);
}

/* ---- Equivariance view ---- */

/* A small NP/HNP model on `space` saved to dir/name: a classifier, or a WEIGHTS model. */
static char *
save_small_model (const char *dir, const char *name, nfn_model_kind kind, const nfn_space *space, gboolean weights)
{
  nfn_model_config cfg;
  nfn_model_config_default (&cfg, kind, space, 7);
  cfg.max_batch = 1;
  cfg.fourier_m = 0;
  cfg.io_bands = 0;
  cfg.depth = 2;
  cfg.channels = 8;
  cfg.n_head = 1;
  cfg.head_widths[0] = 16;
  if (weights)
    {
      cfg.output = NFN_MODEL_OUT_WEIGHTS;
      cfg.out_channels = 1;
      cfg.out_scale = 0;
    }
  nfn_model *model = NULL;
  g_assert_cmpint (nfn_model_new (&cfg, 3, &model), ==, NFN_OK);
  char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (nfn_model_file_save (model, NULL, path, &error));
  g_assert_no_error (error);
  nfn_model_free (model);
  return path;
}

/* "Trained NFN from the store": the newest model artifact that fits the network is found and
 * shown — a classifier's logits agree on U and σ·U, a WEIGHTS model's output follows σ — and
 * a model for another weight space is refused. */
static void
test_equivariance_trained (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("nfn-eq-store-XXXXXX", &error);
  g_assert_no_error (error);
  g_autoptr (NfnNetwork) sample = nfn_sample_network ();
  const nfn_space *s = &sample->arch.space;
  g_autofree char *classifier = save_small_model (dir, "classifier.safetensors", NFN_MODEL_HNP, s, FALSE);
  g_autofree char *editor = save_small_model (dir, "editor.safetensors", NFN_MODEL_NP, s, TRUE);
  const int other_widths[] = { 2, 16, 1 };
  nfn_arch other;
  g_assert_cmpint (nfn_arch_mlp (&other, 2, other_widths, NFN_ACT_RELU), ==, NFN_OK);
  g_autofree char *misfit = save_small_model (dir, "misfit.safetensors", NFN_MODEL_HNP, &other.space, FALSE);

  g_autofree char *store_path = g_build_filename (dir, "runs.db", NULL);
  {
    g_autoptr (NfnStore) store = nfn_store_open (store_path, FALSE, &error);
    g_assert_no_error (error);
    /* oldest first: the newest fitting model is the classifier, the misfit newer still */
    const char *models[] = { editor, classifier, misfit };
    for (guint m = 0; m < G_N_ELEMENTS (models); m++)
      {
        gint64 run = nfn_store_run_begin (store, NULL, "train-classify", "hnp", "{}", 0, &error);
        g_assert_no_error (error);
        g_assert_true (nfn_store_run_add_artifact (store, run, "model", models[m], "a model", &error));
        g_assert_true (nfn_store_run_finish (store, run, NFN_RUN_COMPLETED, &error));
        g_usleep (2000); /* distinct start times */
      }
  }

  g_autoptr (NfnEquivarianceView) view = g_object_ref_sink (NFN_EQUIVARIANCE_VIEW (nfn_equivariance_view_new ()));
  nfn_equivariance_view_set_network (view, sample);
  nfn_equivariance_view_set_model (view, NFN_EQUIVARIANCE_TRAINED);
  g_test_message ("no store: %s", nfn_equivariance_view_get_summary (view));
  g_assert_true (isnan (nfn_equivariance_view_get_max_difference (view)));
  g_assert_null (nfn_equivariance_view_get_trained_path (view));

  nfn_equivariance_view_set_store_path (view, store_path);
  g_assert_cmpstr (nfn_equivariance_view_get_trained_path (view), ==, classifier);
  for (int broken = 0; broken < 2; broken++)
    {
      nfn_equivariance_view_set_break_coupling (view, broken);
      double difference = nfn_equivariance_view_get_max_difference (view);
      g_test_message ("stored classifier, %s: %.3g — %s", broken ? "broken" : "coupled", difference,
                      nfn_equivariance_view_get_summary (view));
      g_assert_cmpint (nfn_heatmap_get_cols (nfn_equivariance_view_get_heatmap (view, 0)), ==, 7);
      if (broken)
        g_assert_cmpfloat (difference, >, 1e-5);
      else
        g_assert_cmpfloat (difference, <, 1e-4);
    }

  g_assert_true (nfn_equivariance_view_set_trained_model (view, editor, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (nfn_equivariance_view_get_trained_path (view), ==, editor);
  nfn_equivariance_view_set_break_coupling (view, FALSE);
  double coupled = nfn_equivariance_view_get_max_difference (view);
  nfn_equivariance_view_set_break_coupling (view, TRUE);
  double broken = nfn_equivariance_view_get_max_difference (view);
  g_test_message ("WEIGHTS model: coupled %.3g, broken %.3g", coupled, broken);
  g_assert_cmpfloat (coupled, <, 1e-4);
  g_assert_cmpfloat (broken, >, 1000 * MAX (coupled, 1e-9));
  /* the shown output tensor is a weight-space tensor of the network, not logits */
  int t = 2; /* W_2, 32 × 32 */
  nfn_equivariance_view_set_tensor (view, t);
  g_assert_cmpint (nfn_heatmap_get_rows (nfn_equivariance_view_get_heatmap (view, 0)), ==, s->n[2]);

  g_assert_false (nfn_equivariance_view_set_trained_model (view, misfit, &error));
  g_test_message ("misfit: %s", error->message);
  g_assert_nonnull (strstr (error->message, "weight space"));
  g_assert_cmpstr (nfn_equivariance_view_get_trained_path (view), ==, editor);

  g_clear_object (&view);
  g_unlink (classifier);
  g_unlink (editor);
  g_unlink (misfit);
  ut_remove_tree (dir);
}

static void
test_equivariance_view (void)
{
  g_autoptr (NfnNetwork) sample = nfn_sample_network ();
  g_autoptr (NfnEquivarianceView) view = g_object_ref_sink (NFN_EQUIVARIANCE_VIEW (nfn_equivariance_view_new ()));
  nfn_equivariance_view_set_network (view, sample);
  /* it opens on the largest tensor, W_2 (32 × 32), where a permutation shows most */
  g_assert_cmpint (nfn_heatmap_get_rows (nfn_equivariance_view_get_heatmap (view, 0)), ==, sample->arch.space.n[2]);
  g_assert_cmpint (nfn_heatmap_get_cols (nfn_equivariance_view_get_heatmap (view, 0)), ==, sample->arch.space.n[1]);
  for (int model = 0; model < NFN_EQUIVARIANCE_N_MODELS; model++)
    {
      gboolean classifier = model == NFN_EQUIVARIANCE_NP_CLASSIFIER || model == NFN_EQUIVARIANCE_HNP_CLASSIFIER;
      double coupled = NAN;
      nfn_equivariance_view_set_model (view, model);
      g_assert_cmpint (nfn_equivariance_view_get_model (view), ==, model);
      for (int broken = 0; broken < 2; broken++)
        {
          nfn_equivariance_view_set_break_coupling (view, broken);
          double difference = nfn_equivariance_view_get_max_difference (view);
          g_test_message ("model %d, %s: max difference %.3g — %s", model, broken ? "broken" : "coupled", difference,
                          nfn_equivariance_view_get_summary (view));
          /* A classifier pools before its head: a bias permuted on its own reaches the logits
           * only through the layers' cross terms, so the break shows smaller there, but still
           * orders of magnitude above rounding. */
          if (!broken)
            {
              g_assert_cmpfloat (difference, <, 1e-4);
              coupled = difference;
            }
          else if (classifier)
            g_assert_cmpfloat (difference, >, MAX (1e-5, 1000 * coupled));
          else
            g_assert_cmpfloat (difference, >, 1e-2);

          /* What is shown agrees: the difference heatmap is left − right cell by cell. */
          NfnHeatmap *left = nfn_equivariance_view_get_heatmap (view, 0);
          NfnHeatmap *right = nfn_equivariance_view_get_heatmap (view, 1);
          NfnHeatmap *diff = nfn_equivariance_view_get_heatmap (view, 2);
          int rows = nfn_heatmap_get_rows (left), cols = nfn_heatmap_get_cols (left);
          g_assert_cmpint (rows * cols, >, 0);
          double shown = 0;
          for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
              {
                double d = nfn_heatmap_get_value (left, r, c) - nfn_heatmap_get_value (right, r, c);
                g_assert_cmpfloat (fabs (d - nfn_heatmap_get_value (diff, r, c)), <=, 1e-6);
                shown = MAX (shown, fabs (d));
              }
          g_assert_cmpfloat (shown, <=, difference + 1e-7);
        }
      nfn_equivariance_view_set_break_coupling (view, FALSE);
    }
  /* Resampling keeps the property. */
  nfn_equivariance_view_resample_model (view);
  nfn_equivariance_view_resample_permutation (view);
  g_assert_cmpfloat (nfn_equivariance_view_get_max_difference (view), <, 1e-4);
}

/* ---- Tour ---- */

static gboolean
tour_idle (gpointer tour)
{
  return !nfn_tour_get_busy (tour);
}

static void
test_tour_steps (void)
{
  GtkWidget *window = gtk_window_new ();
  gtk_window_set_default_size (GTK_WINDOW (window), 1200, 860);
  NfnTour *tour = NFN_TOUR (nfn_tour_new ());
  gtk_window_set_child (GTK_WINDOW (window), GTK_WIDGET (tour));
  g_autoptr (NfnNetwork) sample = nfn_sample_network ();
  nfn_tour_set_network (tour, sample, NULL);
  ut_present_and_wait (GTK_WINDOW (window));

  g_assert_cmpint (nfn_tour_get_step (tour), ==, 1);
  g_assert_cmpstr (nfn_tour_get_step_text (tour), ==, "Step 1 of 6");
  for (int step = 2; step <= NFN_TOUR_STEPS + 2; step++)
    {
      nfn_tour_next (tour);
      int expected = MIN (step, NFN_TOUR_STEPS);
      g_autofree char *text = g_strdup_printf ("Step %d of 6", expected);
      g_assert_cmpint (nfn_tour_get_step (tour), ==, expected);
      g_assert_cmpstr (nfn_tour_get_step_text (tour), ==, text);
      GtkWidget *page = nfn_tour_get_page (tour, expected);
      g_assert_true (gtk_stack_get_visible_child (GTK_STACK (gtk_widget_get_parent (page))) == page);
    }
  /* The last step aligned on arrival. */
  g_assert_true (ut_wait_for (tour_idle, tour, 20));
  for (int step = NFN_TOUR_STEPS - 1; step >= 0; step--)
    {
      nfn_tour_back (tour);
      g_assert_cmpint (nfn_tour_get_step (tour), ==, MAX (step, 1));
    }
  g_assert_cmpstr (nfn_tour_get_step_text (tour), ==, "Step 1 of 6");

  /* Steps 1–3 share one live orbit: permuting it keeps the function. */
  nfn_orbit_permute_random (nfn_tour_get_orbit (tour));
  g_assert_cmpfloat (nfn_orbit_get_max_delta_f (nfn_tour_get_orbit (tour)), <, 1e-5);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ---- Alignment ---- */

static gboolean
align_idle (gpointer view)
{
  return !nfn_align_view_get_busy (view);
}

static void
test_align_noisy_copy (void)
{
  g_autoptr (NfnNetwork) sample = nfn_sample_network ();
  g_autoptr (NfnOrbit) orbit = nfn_orbit_new (sample, 3);
  g_autoptr (NfnAlignView) view = g_object_ref_sink (NFN_ALIGN_VIEW (nfn_align_view_new ()));
  nfn_align_view_set_orbit (view, orbit);

  /* A partner that is exactly A permuted: alignment finds a path of constant function. */
  g_autoptr (NfnNetwork) twin = nfn_network_copy (sample);
  nfn_perm tau;
  nfn_perm_alloc (&tau, &sample->arch.space);
  gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (rng, 99);
  nfn_perm_random (&tau, NFN_SYM_HNP, rng);
  gsl_rng_free (rng);
  g_assert_cmpint (nfn_perm_apply (&tau, &sample->weights, &twin->weights), ==, NFN_OK);
  nfn_perm_free (&tau);
  g_assert_true (nfn_align_view_run_with (view, twin));
  g_assert_true (ut_wait_for (align_idle, view, 20));
  const double *naive = nfn_align_view_get_curve (view, FALSE), *aligned = nfn_align_view_get_curve (view, TRUE);
  g_assert_nonnull (naive);
  g_test_message ("%s", nfn_align_view_get_summary (view));
  for (int s = 0; s < NFN_ALIGN_STEPS; s++)
    g_assert_cmpfloat (aligned[s], <, 1e-10);
  g_assert_cmpfloat (nfn_align_barrier (naive), >, 1e-5);
  g_assert_cmpint (nfn_plot_get_n_series (nfn_align_view_get_plot (view)), ==, 2);

  /* The barrier of a known curve: a tent of height 1 over a rising line. */
  double tent[NFN_ALIGN_STEPS];
  for (int s = 0; s < NFN_ALIGN_STEPS; s++)
    {
      double alpha = (double) s / (NFN_ALIGN_STEPS - 1);
      tent[s] = 2 * alpha + (1 - fabs (2 * alpha - 1));
    }
  g_assert_cmpfloat_with_epsilon (nfn_align_barrier (tent), 1.0, 1e-12);
}

/* ---- Export ---- */

static void
check_png (const char *path, int width, int height)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GdkTexture) texture = gdk_texture_new_from_filename (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_texture_get_width (texture), ==, width);
  g_assert_cmpint (gdk_texture_get_height (texture), ==, height);
  cairo_surface_t *surface = ut_texture_to_surface (texture);
  g_assert_cmpuint (ut_count_colours (surface), >, 10);
  cairo_surface_destroy (surface);
}

static void
check_svg (const char *path)
{
  g_autofree char *text = NULL;
  gsize length;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_get_contents (path, &text, &length, &error));
  g_assert_nonnull (strstr (text, "<svg"));
  /* It parses: GdkPixbuf's SVG loader renders it. */
  g_autoptr (GdkTexture) texture = gdk_texture_new_from_filename (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_texture_get_width (texture), >, 10);
}

static void
test_export (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("nfn-export-XXXXXX", &error);
  g_assert_no_error (error);
  g_autoptr (NfnNetwork) sample = nfn_sample_network ();
  g_autoptr (NfnOrbit) orbit = nfn_orbit_new (sample, 1);

  g_autoptr (NfnHeatmap) heatmap = g_object_ref_sink (NFN_HEATMAP (nfn_heatmap_new ()));
  nfn_heatmap_set_title (heatmap, "W2");
  nfn_heatmap_set_matrix (heatmap, 32, 32, sample->weights.t[2]);
  g_autoptr (NfnNeuronGraph) graph = g_object_ref_sink (NFN_NEURON_GRAPH (nfn_neuron_graph_new ()));
  nfn_neuron_graph_set_orbit (graph, orbit);
  g_autoptr (NfnHistogram) histogram = g_object_ref_sink (NFN_HISTOGRAM (nfn_histogram_new ()));
  nfn_histogram_set_values (histogram, sample->weights.t[2], 1024);
  GtkWidget *views[] = { GTK_WIDGET (heatmap), GTK_WIDGET (graph), GTK_WIDGET (histogram) };
  for (guint v = 0; v < G_N_ELEMENTS (views); v++)
    {
      int width, height;
      gtk_widget_measure (views[v], GTK_ORIENTATION_HORIZONTAL, -1, NULL, &width, NULL, NULL);
      gtk_widget_measure (views[v], GTK_ORIENTATION_VERTICAL, width, NULL, &height, NULL, NULL);
      g_autofree char *png = g_strdup_printf ("%s/view%u.png", dir, v);
      g_autofree char *svg = g_strdup_printf ("%s/view%u.SVG", dir, v);
      g_assert_true (nfn_export_widget (views[v], png, &error));
      g_assert_no_error (error);
      g_assert_true (nfn_export_widget (views[v], svg, &error));
      g_assert_no_error (error);
      check_png (png, width, height);
      check_svg (svg);
      g_unlink (png);
      g_unlink (svg);
    }
  g_autofree char *bad = g_strdup_printf ("%s/view.jpg", dir);
  g_assert_false (nfn_export_widget (views[0], bad, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_false (g_file_test (bad, G_FILE_TEST_EXISTS));
  g_rmdir (dir);
}


/* ---- The source image beside the INR, and the barrier measured against it ---- */

/* The sample names Fashion-MNIST test image 0: the panel shows that image (read here from the
 * data set itself) on the INR's grey scale, beside the INR's own rendering. */
static void
test_function_source_image (void)
{
  g_autoptr (NfnNetwork) sample = nfn_sample_network ();
  g_autoptr (NfnOrbit) orbit = nfn_orbit_new (sample, 3);
  g_autoptr (NfnFunctionPanel) panel = g_object_ref_sink (NFN_FUNCTION_PANEL (nfn_function_panel_new ()));
  nfn_function_panel_set_orbit (panel, orbit);
  GtkWidget *source_view = nfn_function_panel_get_source_view (panel);
  g_assert_false (gtk_widget_get_visible (source_view));

  int rows = 0, cols = 0;
  g_autofree char *caption = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree float *pixels = nfn_network_source_image (sample, &rows, &cols, &caption, &error);
  g_assert_no_error (error);
  g_assert_nonnull (pixels);
  g_test_message ("%s", caption);
  g_assert_cmpstr (caption, ==, "fashion-mnist test #0 (Ankle boot)");
  g_autoptr (NfnDataset) ds = nfn_dataset_load ("fashion-mnist", "test", 1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (rows, ==, ds->rows);
  g_assert_cmpint (memcmp (pixels, ds->images, (size_t) rows * cols * sizeof (float)), ==, 0);

  nfn_function_panel_set_source_image (panel, pixels, rows, cols, caption);
  g_assert_true (gtk_widget_get_visible (source_view));
  /* the INR's scale: the original's outputs on both grids */
  double lo = INFINITY, hi = -INFINITY;
  for (int fine = 0; fine < 2; fine++)
    {
      NfnProbe *probe = nfn_orbit_get_probe (orbit, fine);
      const float *out = nfn_orbit_get_original_outputs (orbit, fine);
      for (size_t e = 0; e < nfn_probe_output_size (probe); e++)
        lo = MIN (lo, out[e]), hi = MAX (hi, out[e]);
    }
  double worst = 0;
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++)
      {
        double expected = CLAMP ((2.0 * ds->images[r * cols + c] - 1 - lo) / (hi - lo), 0, 1);
        worst = MAX (worst, fabs (nfn_image_grid_get_pixel (NFN_IMAGE_GRID (source_view), 0, r, c, 0) - expected));
      }
  g_test_message ("source tile vs data set: worst %.3g", worst);
  g_assert_cmpfloat (worst, <, 1e-6);
  nfn_function_panel_set_source_image (panel, NULL, 0, 0, NULL);
  g_assert_false (gtk_widget_get_visible (source_view));
}

/* With a target the solid curves are the MSE against the source image: at α = 0 that is A's
 * own fitting error, recomputed here on the engine's grid. */
static void
test_align_target (void)
{
  g_autoptr (NfnNetwork) sample = nfn_sample_network ();
  g_autoptr (NfnNetwork) twin = nfn_sample_network_seeded (1);
  g_autoptr (NfnOrbit) orbit = nfn_orbit_new (sample, 3);
  g_autoptr (NfnAlignView) view = g_object_ref_sink (NFN_ALIGN_VIEW (nfn_align_view_new ()));
  nfn_align_view_set_orbit (view, orbit);
  int rows, cols;
  g_autofree float *pixels = nfn_sample_source_image (&rows, &cols);
  g_assert_nonnull (pixels);
  nfn_align_view_set_target (view, pixels, rows, cols);
  nfn_align_view_set_twin (view, twin);
  nfn_align_view_run (view); /* the twin is the selected partner */
  g_assert_true (ut_wait_for (align_idle, view, 20));
  g_test_message ("%s", nfn_align_view_get_summary (view));
  g_assert_cmpint (nfn_plot_get_n_series (nfn_align_view_get_plot (view)), ==, 4);
  g_assert_nonnull (strstr (nfn_align_view_get_summary (view), "source image"));

  g_autofree float *coords = g_new (float, (size_t) 2 * rows * cols);
  g_autofree float *f = g_new (float, (size_t) rows * cols);
  nfn_fit_grid (coords, rows, cols);
  g_assert_cmpint (nfn_net_forward (&sample->arch, &sample->weights, rows * cols, coords, 0, f, NULL), ==, NFN_OK);
  double mse = 0;
  for (int e = 0; e < rows * cols; e++)
    mse += (f[e] - (2.0 * pixels[e] - 1)) * (f[e] - (2.0 * pixels[e] - 1));
  mse /= rows * cols;
  const double *naive = nfn_align_view_get_curve (view, FALSE), *aligned = nfn_align_view_get_curve (view, TRUE);
  g_test_message ("A's MSE against its image %.6g; curves start at %.6g and %.6g", mse, naive[0], aligned[0]);
  g_assert_cmpfloat (fabs (naive[0] - mse), <, 1e-6 * (1 + mse));
  g_assert_cmpfloat (fabs (aligned[0] - mse), <, 1e-6 * (1 + mse));
  /* alignment never makes the path's worst point worse than the naive one's here */
  g_assert_cmpfloat (nfn_align_barrier (aligned), <=, nfn_align_barrier (naive));
}

int
main (int argc, char **argv)
{
  gtk_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ui/histogram/counts", test_histogram_counts);
  g_test_add_func ("/ui/plot/smooth", test_plot_smooth);
  g_test_add_func ("/ui/plot/mapping", test_plot_mapping);
  g_test_add_func ("/ui/graph/colours-follow-permutation", test_graph_colours_follow_permutation);
  g_test_add_func ("/ui/graph/wide", test_graph_wide);
  g_test_add_func ("/ui/graph/drag", test_graph_drag);
  g_test_add_func ("/ui/orbit/function-and-canonical", test_orbit_function_and_canonical);
  g_test_add_func ("/ui/layer-outputs/follow-permutation", test_layer_outputs_follow_permutation);
  g_test_add_func ("/ui/equivariance/coupled-and-broken", test_equivariance_view);
  g_test_add_func ("/ui/equivariance/trained-from-store", test_equivariance_trained);
  g_test_add_func ("/ui/tour/steps", test_tour_steps);
  g_test_add_func ("/ui/align/permuted-twin", test_align_noisy_copy);
  g_test_add_func ("/ui/align/against-source-image", test_align_target);
  g_test_add_func ("/ui/function/source-image", test_function_source_image);
  g_test_add_func ("/ui/export/png-and-svg", test_export);
  return g_test_run ();
}
