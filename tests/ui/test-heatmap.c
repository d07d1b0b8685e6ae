/* test-heatmap.c — the diverging colormap and NfnHeatmap, checked on the pixels it paints.
 *
 * Expected colours come from the test's own normalisation (value / max |value| computed here)
 * fed to the colormap; cell positions are cross-checked by scanning the painted pixels. */
#include <math.h>
#include <string.h>

#include "nfn-colormap.h"
#include "nfn-heatmap.h"
#include "uitestutil.h"

/* One pixel step of an 8-bit channel, plus slack for the legend's gradient sampling. */
#define COLOUR_TOLERANCE (1.5 / 255)

static gboolean
is_reddish (NfnRgb c)
{
  return c.r - c.b > 0.1 && c.r >= c.g;
}

static gboolean
is_bluish (NfnRgb c)
{
  return c.b - c.r > 0.1 && c.b >= c.g;
}

static gboolean
is_whitish (NfnRgb c)
{
  return c.r > 0.9 && c.g > 0.9 && c.b > 0.9;
}

static void
test_colormap (void)
{
  g_assert_true (is_bluish (nfn_colormap_diverging (-1)));
  g_assert_true (is_bluish (nfn_colormap_diverging (-0.3)));
  g_assert_true (is_whitish (nfn_colormap_diverging (0)));
  g_assert_true (is_reddish (nfn_colormap_diverging (0.3)));
  g_assert_true (is_reddish (nfn_colormap_diverging (1)));

  /* Out of range and infinities clamp to the ends. */
  g_assert_cmpfloat (ut_rgb_distance (nfn_colormap_diverging (7), nfn_colormap_diverging (1)), ==, 0);
  g_assert_cmpfloat (ut_rgb_distance (nfn_colormap_diverging (-INFINITY), nfn_colormap_diverging (-1)), ==, 0);

  /* The map gets more saturated with |t| on both sides: distance from white grows. */
  NfnRgb white = nfn_colormap_diverging (0);
  for (double t = 0.05; t <= 1.0; t += 0.05)
    {
      g_assert_cmpfloat (ut_rgb_distance (nfn_colormap_diverging (t), white), >,
                         ut_rgb_distance (nfn_colormap_diverging (t - 0.05), white));
      g_assert_cmpfloat (ut_rgb_distance (nfn_colormap_diverging (-t), white), >,
                         ut_rgb_distance (nfn_colormap_diverging (-t + 0.05), white));
    }

  /* NaN is grey and no value shares its colour. */
  NfnRgb nan = nfn_colormap_diverging (NAN);
  g_assert_cmpfloat (ut_rgb_distance (nan, nfn_colormap_nan ()), ==, 0);
  g_assert_cmpfloat (fabs (nan.r - nan.g) + fabs (nan.g - nan.b), <, 0.01);
  for (double t = -1; t <= 1; t += 1.0 / 256)
    g_assert_cmpfloat (ut_rgb_distance (nfn_colormap_diverging (t), nan), >, 0.1);

  /* The tabled RGB24 pixels stay within 0.6 of an 8-bit step of the exact map, everywhere
   * (a dense sweep, beyond ±1, ±Inf, NaN). */
  enum { N = 100003 };
  g_autofree float *values = g_new (float, N + 4);
  g_autofree guint32 *pixels = g_new (guint32, N + 4);
  for (int e = 0; e < N; e++)
    values[e] = -1.2f + 2.4f * e / (N - 1);
  values[N] = INFINITY;
  values[N + 1] = -INFINITY;
  values[N + 2] = NAN;
  values[N + 3] = 0.0f;
  nfn_colormap_diverging_rgb24 (values, N + 4, pixels);
  double worst = 0;
  for (int e = 0; e < N + 4; e++)
    {
      NfnRgb exact = nfn_colormap_diverging (values[e]);
      double channels[3] = { exact.r, exact.g, exact.b };
      for (int c = 0; c < 3; c++)
        worst = MAX (worst, fabs ((double) (pixels[e] >> (16 - 8 * c) & 0xff) - 255 * channels[c]));
    }
  g_test_message ("tabled colours: worst %.3f of an 8-bit step", worst);
  g_assert_cmpfloat (worst, <=, 0.6);
}

static void
test_normalise (void)
{
  const float values[] = { 0.5f, -4.0f, NAN, 2.0f, INFINITY, 0.0f };
  float normalised[G_N_ELEMENTS (values)];
  double max_abs = nfn_heatmap_normalise (values, G_N_ELEMENTS (values), normalised);
  g_assert_cmpfloat (max_abs, ==, 4.0); /* Inf and NaN do not set the scale */
  g_assert_cmpfloat (normalised[0], ==, 0.125f);
  g_assert_cmpfloat (normalised[1], ==, -1.0f);
  g_assert_true (isnan (normalised[2]));
  g_assert_cmpfloat (normalised[3], ==, 0.5f);
  g_assert_cmpfloat (normalised[4], ==, 1.0f);
  g_assert_cmpfloat (normalised[5], ==, 0.0f);

  const float zeros[3] = { 0 };
  float out[3];
  g_assert_cmpfloat (nfn_heatmap_normalise (zeros, 3, out), ==, 0.0);
  for (int e = 0; e < 3; e++)
    g_assert_cmpfloat (out[e], ==, 0.0f);
}

/* The test's own scale: max |finite value|. */
static double
max_abs_of (const float *values, size_t n)
{
  double m = 0;
  for (size_t e = 0; e < n; e++)
    if (isfinite (values[e]) && fabs (values[e]) > m)
      m = fabs (values[e]);
  return m;
}

static NfnRgb
expected_colour (float value, double max_abs)
{
  if (isnan (value))
    return nfn_colormap_nan ();
  return nfn_colormap_diverging (max_abs > 0 ? value / max_abs : 0);
}

/* Paints the widget's state on a white offscreen surface of the given size. */
static cairo_surface_t *
paint_offscreen (NfnHeatmap *heatmap, int width, int height)
{
  cairo_t *cr;
  cairo_surface_t *surface = ut_white_surface (width, height, &cr);
  nfn_heatmap_paint (heatmap, cr, width, height);
  cairo_destroy (cr);
  return surface;
}

static void
cell_centre (const NfnHeatmapLayout *layout, int row, int col, int *x, int *y)
{
  *x = (int) (layout->grid_x + (col + 0.5) * layout->cell);
  *y = (int) (layout->grid_y + (row + 0.5) * layout->cell);
}

enum { KNOWN_ROWS = 3, KNOWN_COLS = 4, SURFACE_WIDTH = 300, SURFACE_HEIGHT = 200 };
static const float known[KNOWN_ROWS * KNOWN_COLS] = {
  1.0f,  -1.0f, 0.0f,  2.5f,
  -2.5f, 0.5f,  -0.5f, 2.0f,
  NAN,   1.5f,  -1.5f, 0.75f,
};

static void
test_known_matrix (void)
{
  g_autoptr (NfnHeatmap) heatmap = g_object_ref_sink (NFN_HEATMAP (nfn_heatmap_new ()));
  nfn_heatmap_set_title (heatmap, "W");
  nfn_heatmap_set_matrix (heatmap, KNOWN_ROWS, KNOWN_COLS, known);
  double max_abs = max_abs_of (known, G_N_ELEMENTS (known));
  g_assert_cmpfloat (nfn_heatmap_get_max_abs (heatmap), ==, max_abs);
  g_assert_cmpint (nfn_heatmap_get_rows (heatmap), ==, KNOWN_ROWS);
  g_assert_cmpint (nfn_heatmap_get_cols (heatmap), ==, KNOWN_COLS);

  cairo_surface_t *surface = paint_offscreen (heatmap, SURFACE_WIDTH, SURFACE_HEIGHT);
  NfnHeatmapLayout layout;
  nfn_heatmap_layout_compute (&layout, SURFACE_WIDTH, SURFACE_HEIGHT, KNOWN_ROWS, KNOWN_COLS, TRUE);
  g_assert_cmpfloat (layout.cell, >=, 4);

  for (int r = 0; r < KNOWN_ROWS; r++)
    for (int c = 0; c < KNOWN_COLS; c++)
      {
        float v = known[r * KNOWN_COLS + c];
        int x, y;
        cell_centre (&layout, r, c, &x, &y);
        NfnRgb got = ut_surface_rgb (surface, x, y);
        g_test_message ("cell (%d,%d) = %g at (%d,%d): rgb %.3f %.3f %.3f", r, c, v, x, y, got.r, got.g, got.b);
        g_assert_cmpfloat (ut_rgb_distance (got, expected_colour (v, max_abs)), <=, COLOUR_TOLERANCE);
        if (isnan (v))
          g_assert_cmpfloat (ut_rgb_distance (got, nfn_colormap_nan ()), <=, COLOUR_TOLERANCE);
        else if (v > 0)
          g_assert_true (is_reddish (got));
        else if (v < 0)
          g_assert_true (is_bluish (got));
        else
          g_assert_true (is_whitish (got));
      }

  /* The ±max cells are the map's saturated ends. */
  int x, y;
  cell_centre (&layout, 0, 3, &x, &y);
  g_assert_cmpfloat (ut_rgb_distance (ut_surface_rgb (surface, x, y), nfn_colormap_diverging (1)), <=, COLOUR_TOLERANCE);
  cell_centre (&layout, 1, 0, &x, &y);
  g_assert_cmpfloat (ut_rgb_distance (ut_surface_rgb (surface, x, y), nfn_colormap_diverging (-1)), <=, COLOUR_TOLERANCE);

  /* Cell geometry from the pixels alone: along row 1 the colour changes exactly at the
   * boundaries of KNOWN_COLS equal runs. */
  int scan_y = (int) (layout.grid_y + 1.5 * layout.cell);
  int runs = 0, run_start = (int) layout.grid_x;
  NfnRgb previous = ut_surface_rgb (surface, run_start, scan_y);
  for (int px = run_start + 1; px <= (int) (layout.grid_x + KNOWN_COLS * layout.cell); px++)
    {
      NfnRgb here = ut_surface_rgb (surface, px, scan_y);
      if (ut_rgb_distance (here, previous) > COLOUR_TOLERANCE)
        {
          g_assert_cmpint (px - run_start, ==, (int) layout.cell);
          runs++;
          run_start = px;
        }
      previous = here;
    }
  g_assert_cmpint (runs, ==, KNOWN_COLS); /* the last change is the step onto the outline */

  /* The legend: blue at its left end, white in the middle, red at its right end, labels below. */
  int legend_mid_y = (int) (layout.legend_y + layout.legend_height / 2);
  NfnRgb left = ut_surface_rgb (surface, (int) layout.legend_x + 1, legend_mid_y);
  NfnRgb middle = ut_surface_rgb (surface, (int) (layout.legend_x + layout.legend_width / 2), legend_mid_y);
  NfnRgb right = ut_surface_rgb (surface, (int) (layout.legend_x + layout.legend_width) - 2, legend_mid_y);
  g_test_message ("legend left %.3f %.3f %.3f right %.3f %.3f %.3f", left.r, left.g, left.b, right.r, right.g, right.b);
  g_assert_cmpfloat (ut_rgb_distance (left, nfn_colormap_diverging (-1)), <, 0.05);
  g_assert_cmpfloat (ut_rgb_distance (right, nfn_colormap_diverging (1)), <, 0.05);
  g_assert_true (is_whitish (middle));
  int dark_label_pixels = 0;
  for (int py = (int) (layout.legend_y + layout.legend_height + 1); py < SURFACE_HEIGHT; py++)
    for (int px = (int) layout.legend_x; px < (int) (layout.legend_x + layout.legend_width); px++)
      {
        NfnRgb c = ut_surface_rgb (surface, px, py);
        if (c.r + c.g + c.b < 1.5)
          dark_label_pixels++;
      }
  g_test_message ("dark legend label pixels: %d", dark_label_pixels);
  g_assert_cmpint (dark_label_pixels, >, 20);

  cairo_surface_destroy (surface);
}

static void
test_degenerate_matrices (void)
{
  enum { N = 6 };
  const float zeros[N] = { 0 };
  float nans[N];
  for (int e = 0; e < N; e++)
    nans[e] = NAN;

  const float *cases[] = { zeros, nans };
  NfnRgb colours[] = { nfn_colormap_diverging (0), nfn_colormap_nan () };
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      g_autoptr (NfnHeatmap) heatmap = g_object_ref_sink (NFN_HEATMAP (nfn_heatmap_new ()));
      nfn_heatmap_set_matrix (heatmap, 2, 3, cases[k]);
      g_assert_cmpfloat (nfn_heatmap_get_max_abs (heatmap), ==, 0);
      cairo_surface_t *surface = paint_offscreen (heatmap, SURFACE_WIDTH, SURFACE_HEIGHT);
      NfnHeatmapLayout layout;
      nfn_heatmap_layout_compute (&layout, SURFACE_WIDTH, SURFACE_HEIGHT, 2, 3, FALSE);
      for (int r = 0; r < 2; r++)
        for (int c = 0; c < 3; c++)
          {
            int x, y;
            cell_centre (&layout, r, c, &x, &y);
            g_assert_cmpfloat (ut_rgb_distance (ut_surface_rgb (surface, x, y), colours[k]), <=, COLOUR_TOLERANCE);
          }
      cairo_surface_destroy (surface);
    }

  /* Empty and tiny surfaces paint without crashing. */
  g_autoptr (NfnHeatmap) empty = g_object_ref_sink (NFN_HEATMAP (nfn_heatmap_new ()));
  cairo_surface_destroy (paint_offscreen (empty, 50, 50));
  nfn_heatmap_set_matrix (empty, 2, 3, zeros);
  cairo_surface_destroy (paint_offscreen (empty, 1, 1));
  nfn_heatmap_set_matrix (empty, 0, 0, NULL);
  g_assert_cmpint (nfn_heatmap_get_rows (empty), ==, 0);
}

static GtkEventController *
motion_controller (GtkWidget *widget)
{
  g_autoptr (GListModel) controllers = gtk_widget_observe_controllers (widget);
  for (guint k = 0; k < g_list_model_get_n_items (controllers); k++)
    {
      g_autoptr (GtkEventController) controller = g_list_model_get_item (controllers, k);
      if (GTK_IS_EVENT_CONTROLLER_MOTION (controller))
        return controller; /* the widget keeps it alive */
    }
  g_assert_not_reached ();
}

static void
test_hover (void)
{
  enum { ROWS = 5, COLS = 7 };
  float values[ROWS * COLS];
  for (int e = 0; e < ROWS * COLS; e++)
    values[e] = 0.1f * (e - 17); /* distinct, both signs */
  double max_abs = max_abs_of (values, ROWS * COLS);

  GtkWidget *window = gtk_window_new ();
  GtkWidget *heatmap = nfn_heatmap_new ();
  nfn_heatmap_set_title (NFN_HEATMAP (heatmap), "hover");
  nfn_heatmap_set_matrix (NFN_HEATMAP (heatmap), ROWS, COLS, values);
  gtk_window_set_child (GTK_WINDOW (window), heatmap);
  gtk_window_set_default_size (GTK_WINDOW (window), 320, 260);
  ut_present_and_wait (GTK_WINDOW (window));

  int width = gtk_widget_get_width (heatmap), height = gtk_widget_get_height (heatmap);
  g_test_message ("heatmap allocated %d x %d", width, height);
  cairo_surface_t *surface = paint_offscreen (NFN_HEATMAP (heatmap), width, height);
  GtkEventController *motion = motion_controller (heatmap);

  /* Sweep the pointer over the band between title and legend (whose text and gradient would
   * match cell colours by chance); wherever the painted pixel is a cell colour, hover must
   * name the cell whose value has that colour and describe it with that value, and over the
   * white background it must name none. */
  NfnHeatmapLayout layout;
  nfn_heatmap_layout_compute (&layout, width, height, ROWS, COLS, TRUE);
  int hits = 0, misses = 0;
  for (int y = (int) layout.grid_y; y < (int) layout.legend_y; y += 3)
    for (int x = 0; x < width; x += 3)
      {
        g_signal_emit_by_name (motion, "motion", x + 0.5, y + 0.5);
        int row = nfn_heatmap_get_hover_row (NFN_HEATMAP (heatmap));
        int col = nfn_heatmap_get_hover_col (NFN_HEATMAP (heatmap));
        NfnRgb painted = ut_surface_rgb (surface, x, y);

        int best = -1;
        double best_distance = G_MAXDOUBLE;
        for (int e = 0; e < ROWS * COLS; e++)
          {
            double d = ut_rgb_distance (painted, expected_colour (values[e], max_abs));
            if (d < best_distance)
              best_distance = d, best = e;
          }
        if (ut_rgb_distance (painted, (NfnRgb) { 1, 1, 1 }) == 0)
          {
            misses++;
            g_assert_cmpint (row, ==, -1);
            g_assert_cmpint (col, ==, -1);
            continue;
          }
        /* Pixels on the outline blend colours; skip those. */
        if (best_distance > COLOUR_TOLERANCE)
          continue;
        hits++;
        g_assert_cmpint (row, ==, best / COLS);
        g_assert_cmpint (col, ==, best % COLS);
        g_autofree char *text = nfn_heatmap_describe_cell (NFN_HEATMAP (heatmap), row, col);
        char expected[G_ASCII_DTOSTR_BUF_SIZE];
        g_ascii_formatd (expected, sizeof expected, "%.6g", values[best]);
        g_assert_nonnull (strstr (text, expected));
        g_assert_cmpfloat (nfn_heatmap_get_value (NFN_HEATMAP (heatmap), row, col), ==, values[best]);
      }
  g_test_message ("lattice points on cells: %d, on background: %d", hits, misses);
  g_assert_cmpint (hits, >, ROWS * COLS);
  g_assert_cmpint (misses, >, 0);

  /* Outside the matrix, and after leaving, nothing is hovered. */
  g_signal_emit_by_name (motion, "motion", 1.0, 1.0);
  g_assert_cmpint (nfn_heatmap_get_hover_row (NFN_HEATMAP (heatmap)), ==, -1);
  g_signal_emit_by_name (motion, "motion", (double) width / 2, (double) height / 2);
  g_signal_emit_by_name (motion, "leave");
  g_assert_cmpint (nfn_heatmap_get_hover_col (NFN_HEATMAP (heatmap)), ==, -1);
  g_assert_null (nfn_heatmap_describe_cell (NFN_HEATMAP (heatmap), ROWS, 0));

  cairo_surface_destroy (surface);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* Rows and columns drawn at given positions: a swap moves every cell's colour to the
 * swapped place; positions reset by NULL. */
static void
test_positions (void)
{
  g_autoptr (NfnHeatmap) heatmap = g_object_ref_sink (NFN_HEATMAP (nfn_heatmap_new ()));
  nfn_heatmap_set_matrix (heatmap, KNOWN_ROWS, KNOWN_COLS, known);
  double max_abs = max_abs_of (known, G_N_ELEMENTS (known));
  const float row_positions[KNOWN_ROWS] = { 2, 0, 1 };    /* stored row r is drawn at row_positions[r] */
  const float col_positions[KNOWN_COLS] = { 3, 2, 1, 0 }; /* columns reversed */
  nfn_heatmap_set_positions (heatmap, row_positions, col_positions);
  cairo_surface_t *surface = paint_offscreen (heatmap, SURFACE_WIDTH, SURFACE_HEIGHT);
  NfnHeatmapLayout layout;
  nfn_heatmap_layout_compute (&layout, SURFACE_WIDTH, SURFACE_HEIGHT, KNOWN_ROWS, KNOWN_COLS, FALSE);
  for (int r = 0; r < KNOWN_ROWS; r++)
    for (int c = 0; c < KNOWN_COLS; c++)
      {
        int x, y;
        cell_centre (&layout, (int) row_positions[r], (int) col_positions[c], &x, &y);
        NfnRgb got = ut_surface_rgb (surface, x, y);
        g_assert_cmpfloat (ut_rgb_distance (got, expected_colour (known[r * KNOWN_COLS + c], max_abs)), <=,
                           COLOUR_TOLERANCE);
      }
  cairo_surface_destroy (surface);

  nfn_heatmap_set_positions (heatmap, NULL, NULL);
  surface = paint_offscreen (heatmap, SURFACE_WIDTH, SURFACE_HEIGHT);
  int x, y;
  cell_centre (&layout, 0, 3, &x, &y);
  g_assert_cmpfloat (ut_rgb_distance (ut_surface_rgb (surface, x, y), nfn_colormap_diverging (1)), <=, COLOUR_TOLERANCE);
  cairo_surface_destroy (surface);
}

/* Moving rows of a zoomed wide matrix (600 × 700 at 32 px cells: 430 M pixels if drawn whole)
 * paints quickly, and every cell still shows its value where its row and column are drawn. */
static void
test_positions_zoomed (void)
{
  enum { ROWS = 600, COLS = 700, CELL = 32 };
  g_autofree float *values = g_new (float, ROWS * COLS);
  for (int e = 0; e < ROWS * COLS; e++)
    values[e] = (float) sin (0.37 * e) * (e % 7 + 1);
  g_autoptr (NfnHeatmap) heatmap = g_object_ref_sink (NFN_HEATMAP (nfn_heatmap_new ()));
  nfn_heatmap_set_matrix (heatmap, ROWS, COLS, values);
  double max_abs = max_abs_of (values, ROWS * COLS);
  g_autofree float *rows = g_new (float, ROWS);
  g_autofree float *cols = g_new (float, COLS);
  for (int r = 0; r < ROWS; r++)
    rows[r] = ROWS - 1 - r; /* rows reversed */
  for (int c = 0; c < COLS; c++)
    cols[c] = (c + 5) % COLS; /* columns rotated */
  nfn_heatmap_set_positions (heatmap, rows, cols);
  NfnHeatmapLayout layout;
  double width = 2 * NFN_HEATMAP_PADDING + CELL * COLS;
  double height = 2 * NFN_HEATMAP_PADDING + NFN_HEATMAP_LEGEND_BAND + CELL * ROWS;
  nfn_heatmap_layout_compute (&layout, width, height, ROWS, COLS, FALSE);
  g_assert_cmpfloat (layout.cell, ==, CELL);
  /* a window onto the top-left corner, as a scrolled view shows it */
  enum { VIEW = 400 };
  cairo_t *cr;
  cairo_surface_t *surface = ut_white_surface (VIEW, VIEW, &cr);
  gint64 start = g_get_monotonic_time ();
  nfn_heatmap_paint (heatmap, cr, width, height);
  double ms = (g_get_monotonic_time () - start) / 1e3;
  cairo_destroy (cr);
  g_test_message ("moved %d × %d at %d px cells: %.1f ms", ROWS, COLS, CELL, ms);
  g_assert_cmpfloat (ms, <, 2000); /* the whole-size image took many seconds, or failed */
  int checked = 0;
  for (int r = 0; r < ROWS; r++)
    for (int c = 0; c < COLS; c++)
      {
        int x, y;
        cell_centre (&layout, (int) rows[r], (int) cols[c], &x, &y);
        if (x >= VIEW || y >= VIEW)
          continue;
        NfnRgb got = ut_surface_rgb (surface, x, y);
        g_assert_cmpfloat (ut_rgb_distance (got, expected_colour (values[r * COLS + c], max_abs)), <=, COLOUR_TOLERANCE);
        checked++;
      }
  g_assert_cmpint (checked, >=, 100);
  cairo_surface_destroy (surface);
}

/* Zoom scales the cell the widget asks for, within its limits; a fixed scale colours values
 * against it instead of the matrix's own max. */
static void
test_zoom_and_scale (void)
{
  g_autoptr (NfnHeatmap) heatmap = g_object_ref_sink (NFN_HEATMAP (nfn_heatmap_new ()));
  float wide[2 * 512];
  for (int e = 0; e < 2 * 512; e++)
    wide[e] = (float) sin (e);
  nfn_heatmap_set_matrix (heatmap, 2, 512, wide);
  double cell = nfn_heatmap_get_natural_cell (heatmap);
  g_assert_cmpfloat (cell, ==, 1.0); /* 256 px for 512 columns would be half a pixel: clamped to 1 */
  int natural_before;
  gtk_widget_measure (GTK_WIDGET (heatmap), GTK_ORIENTATION_HORIZONTAL, -1, NULL, &natural_before, NULL, NULL);
  nfn_heatmap_set_zoom (heatmap, 4);
  g_assert_cmpfloat (nfn_heatmap_get_zoom (heatmap), ==, 4);
  g_assert_cmpfloat (nfn_heatmap_get_natural_cell (heatmap), ==, 4.0);
  int natural_after;
  gtk_widget_measure (GTK_WIDGET (heatmap), GTK_ORIENTATION_HORIZONTAL, -1, NULL, &natural_after, NULL, NULL);
  g_assert_cmpint (natural_after - natural_before, ==, 3 * 512);
  nfn_heatmap_set_zoom (heatmap, 1000);
  g_assert_cmpfloat (nfn_heatmap_get_zoom (heatmap), ==, NFN_HEATMAP_ZOOM_MAX);
  nfn_heatmap_set_zoom (heatmap, 0);
  g_assert_cmpfloat (nfn_heatmap_get_zoom (heatmap), ==, NFN_HEATMAP_ZOOM_MIN);

  nfn_heatmap_set_matrix (heatmap, KNOWN_ROWS, KNOWN_COLS, known);
  nfn_heatmap_set_zoom (heatmap, 1);
  nfn_heatmap_set_scale (heatmap, 5.0); /* the largest |value| is 2.5: half-saturated at most */
  g_assert_cmpfloat (nfn_heatmap_get_max_abs (heatmap), ==, 5.0);
  cairo_surface_t *surface = paint_offscreen (heatmap, SURFACE_WIDTH, SURFACE_HEIGHT);
  NfnHeatmapLayout layout;
  nfn_heatmap_layout_compute (&layout, SURFACE_WIDTH, SURFACE_HEIGHT, KNOWN_ROWS, KNOWN_COLS, FALSE);
  int x, y;
  cell_centre (&layout, 0, 3, &x, &y);
  g_assert_cmpfloat (ut_rgb_distance (ut_surface_rgb (surface, x, y), nfn_colormap_diverging (0.5)), <=, COLOUR_TOLERANCE);
  cairo_surface_destroy (surface);
}

int
main (int argc, char **argv)
{
  gtk_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ui/colormap/diverging", test_colormap);
  g_test_add_func ("/ui/heatmap/normalise", test_normalise);
  g_test_add_func ("/ui/heatmap/known-matrix", test_known_matrix);
  g_test_add_func ("/ui/heatmap/zero-and-nan", test_degenerate_matrices);
  g_test_add_func ("/ui/heatmap/hover", test_hover);
  g_test_add_func ("/ui/heatmap/positions", test_positions);
  g_test_add_func ("/ui/heatmap/positions-zoomed", test_positions_zoomed);
  g_test_add_func ("/ui/heatmap/zoom-and-scale", test_zoom_and_scale);
  return g_test_run ();
}
