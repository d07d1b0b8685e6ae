/* test-window.c — NfnWindow on the sample network, a conv network and files from disk, and
 * `nfn-workbench --screenshot`, checked against the weights and the pixels drawn.
 *
 * Expected values are the test's own: shapes from the network's widths, statistics by a
 * two-pass sum in double, heatmap cells by indexing the documented (n_i, n_{i-1}, kh, kw)
 * layout, and a render that must contain the colormap's saturated ends. */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "nfn-function-panel.h"
#include "nfn-heatmap.h"
#include "nfn-image-grid.h"
#include "nfn-window.h"
#include "nfn_sample.h"
#include "nfn_zoo.h"
#include "uitestutil.h"

static void
collect_widgets (GtkWidget *widget, GType type, GPtrArray *found)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (widget, type))
    g_ptr_array_add (found, widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child; child = gtk_widget_get_next_sibling (child))
    collect_widgets (child, type, found);
}

/* The explorer's tensor heatmaps (other pages have heatmaps of their own). */
static GPtrArray *
window_heatmaps (NfnWindow *window)
{
  GPtrArray *found = g_ptr_array_new ();
  collect_widgets (nfn_window_get_view (window, "heatmaps"), NFN_TYPE_HEATMAP, found);
  return found;
}

static const char *
tensor_name (const NfnNetwork *net, int t)
{
  int i = nfn_tensor_layer (t);
  return nfn_tensor_is_bias (t) ? net->bias_names[i] : net->weight_names[i];
}

/* The heatmap whose title names tensor t ("<name>  ·  <shape>"). */
static NfnHeatmap *
heatmap_for (GPtrArray *heatmaps, const NfnNetwork *net, int t)
{
  g_autofree char *prefix = g_strconcat (tensor_name (net, t), " ", NULL);
  NfnHeatmap *match = NULL;
  for (guint h = 0; h < heatmaps->len; h++)
    if (g_str_has_prefix (nfn_heatmap_get_title (heatmaps->pdata[h]), prefix))
      {
        g_assert_null (match);
        match = heatmaps->pdata[h];
      }
  g_assert_nonnull (match);
  return match;
}

/* Every tensor has one heatmap of n_i × n_{i-1}·kh·kw (one row of n_i for a bias) showing
 * W[r][k][y][x] at column (k·kh + y)·kw + x. */
static void
check_heatmaps (NfnWindow *window, const NfnNetwork *net, int kh, int kw)
{
  const nfn_space *s = &net->arch.space;
  g_autoptr (GPtrArray) heatmaps = window_heatmaps (window);
  g_assert_cmpuint (heatmaps->len, ==, 2 * s->L);
  for (int i = 1; i <= s->L; i++)
    {
      gboolean conv = s->f[i] > 1;
      int rows_k = conv ? kh : 1, cols_k = conv ? kw : 1;
      NfnHeatmap *weight = heatmap_for (heatmaps, net, nfn_tensor_weight (i));
      g_assert_cmpint (nfn_heatmap_get_rows (weight), ==, s->n[i]);
      g_assert_cmpint (nfn_heatmap_get_cols (weight), ==, s->n[i - 1] * rows_k * cols_k);
      const float *w = net->weights.t[nfn_tensor_weight (i)];
      for (int r = 0; r < s->n[i]; r++)
        for (int k = 0; k < s->n[i - 1]; k++)
          for (int y = 0; y < rows_k; y++)
            for (int x = 0; x < cols_k; x++)
              {
                float stored = w[(((size_t) r * s->n[i - 1] + k) * rows_k + y) * cols_k + x];
                int col = (k * rows_k + y) * cols_k + x;
                g_assert_cmpfloat (nfn_heatmap_get_value (weight, r, col), ==, stored);
              }

      NfnHeatmap *bias = heatmap_for (heatmaps, net, nfn_tensor_bias (i));
      g_assert_cmpint (nfn_heatmap_get_rows (bias), ==, 1);
      g_assert_cmpint (nfn_heatmap_get_cols (bias), ==, s->n[i]);
      for (int j = 0; j < s->n[i]; j++)
        g_assert_cmpfloat (nfn_heatmap_get_value (bias, 0, j), ==, net->weights.t[nfn_tensor_bias (i)][j]);
    }
}

/* The tensor list has one row per tensor, in order, with name, shape, size and statistics. */
static void
check_tensor_list (NfnWindow *window, const NfnNetwork *net, int kh, int kw)
{
  const nfn_space *s = &net->arch.space;
  GListModel *tensors = nfn_window_get_tensors (window);
  g_assert_cmpuint (g_list_model_get_n_items (tensors), ==, 2 * s->L);
  for (int t = 0; t < 2 * s->L; t++)
    {
      int i = nfn_tensor_layer (t);
      gboolean bias = nfn_tensor_is_bias (t);
      g_autofree char *expected_shape = bias ? g_strdup_printf ("%d", s->n[i])
                                        : s->f[i] > 1 ? g_strdup_printf ("%d×%d×%d×%d", s->n[i], s->n[i - 1], kh, kw)
                                                      : g_strdup_printf ("%d×%d", s->n[i], s->n[i - 1]);
      size_t count = bias ? (size_t) s->n[i] : (size_t) s->n[i] * s->n[i - 1] * (s->f[i] > 1 ? kh * kw : 1);

      const float *x = net->weights.t[t];
      double sum = 0, lo = INFINITY, hi = -INFINITY;
      for (size_t e = 0; e < count; e++)
        {
          sum += x[e];
          lo = MIN (lo, x[e]);
          hi = MAX (hi, x[e]);
        }
      double mean = sum / count, squares = 0;
      for (size_t e = 0; e < count; e++)
        squares += (x[e] - mean) * (x[e] - mean);
      double std = sqrt (squares / count);

      g_autoptr (GObject) row = g_list_model_get_item (tensors, t);
      g_autofree char *name = NULL, *shape = NULL;
      guint64 parameters;
      double row_mean, row_std, row_min, row_max;
      g_object_get (row, "name", &name, "shape", &shape, "parameters", &parameters, "mean", &row_mean, "std",
                    &row_std, "min", &row_min, "max", &row_max, NULL);
      g_test_message ("%s %s %" G_GUINT64_FORMAT " mean %g std %g min %g max %g", name, shape, parameters,
                      row_mean, row_std, row_min, row_max);
      g_assert_cmpstr (name, ==, tensor_name (net, t));
      g_assert_cmpstr (shape, ==, expected_shape);
      g_assert_cmpuint (parameters, ==, count);
      g_assert_cmpfloat_with_epsilon (row_mean, mean, 1e-9 * (fabs (mean) + std) + 1e-12);
      g_assert_cmpfloat_with_epsilon (row_std, std, 1e-7 * std + 1e-12);
      g_assert_cmpfloat (row_min, ==, lo);
      g_assert_cmpfloat (row_max, ==, hi);
    }
}

static gboolean
is_idle (gpointer window)
{
  return !nfn_window_get_busy (window);
}

static void
test_sample (void)
{
  NfnWindow *window = nfn_window_new (NULL);
  nfn_window_set_network (window, nfn_sample_network ());
  ut_present_and_wait (GTK_WINDOW (window));
  g_autoptr (NfnNetwork) reference = nfn_sample_network ();

  g_assert_cmpstr (nfn_window_get_network_name (window), ==, "sample-siren");
  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (window)), ==, "sample-siren");
  check_heatmaps (window, reference, 1, 1);
  check_tensor_list (window, reference, 1, 1);

  /* What the window renders: its full size, busy with colour, and showing both saturated
   * ends of the colormap (every matrix has a ±max cell). */
  g_autoptr (GdkTexture) texture = nfn_window_render (window);
  g_assert_nonnull (texture);
  g_assert_cmpint (gdk_texture_get_width (texture), ==, gtk_widget_get_width (GTK_WIDGET (window)));
  g_assert_cmpint (gdk_texture_get_height (texture), ==, gtk_widget_get_height (GTK_WIDGET (window)));
  cairo_surface_t *surface = ut_texture_to_surface (texture);
  guint colours = ut_count_colours (surface);
  int width = cairo_image_surface_get_width (surface), height = cairo_image_surface_get_height (surface);
  int saturated_red = 0, saturated_blue = 0;
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        NfnRgb c = ut_surface_rgb (surface, x, y);
        saturated_red += ut_rgb_distance (c, nfn_colormap_diverging (1)) <= 2.0 / 255;
        saturated_blue += ut_rgb_distance (c, nfn_colormap_diverging (-1)) <= 2.0 / 255;
      }
  g_test_message ("render %d x %d: %u colours, %d saturated red and %d saturated blue pixels", width, height,
                  colours, saturated_red, saturated_blue);
  g_assert_cmpuint (colours, >, 200);
  g_assert_cmpint (saturated_red, >, 36); /* at least one 6-pixel cell */
  g_assert_cmpint (saturated_blue, >, 36);
  cairo_surface_destroy (surface);

  gtk_window_destroy (GTK_WINDOW (window));
}

/* Every explorer heatmap of the sample lies inside the visible part of the explorer's heatmap
 * pane at the window's default size: the SIREN's 1×32 output layer ran past it. */
static void
test_heatmaps_fit (void)
{
  NfnWindow *window = nfn_window_new (NULL);
  nfn_window_set_network (window, nfn_sample_network ());
  ut_present_and_wait (GTK_WINDOW (window));
  g_autoptr (GPtrArray) heatmaps = window_heatmaps (window);
  g_assert_cmpuint (heatmaps->len, >, 0);
  GtkWidget *pane = gtk_widget_get_ancestor (heatmaps->pdata[0], GTK_TYPE_SCROLLED_WINDOW);
  g_assert_nonnull (pane);
  int pane_width = gtk_widget_get_width (pane), pane_height = gtk_widget_get_height (pane);
  for (guint h = 0; h < heatmaps->len; h++)
    {
      graphene_rect_t bounds;
      g_assert_true (gtk_widget_compute_bounds (heatmaps->pdata[h], pane, &bounds));
      g_test_message ("%s: x %.0f … %.0f of a %d px pane", nfn_heatmap_get_title (heatmaps->pdata[h]),
                      bounds.origin.x, bounds.origin.x + bounds.size.width, pane_width);
      g_assert_cmpfloat (bounds.origin.x, >=, 0);
      g_assert_cmpfloat (bounds.origin.x + bounds.size.width, <=, pane_width);
      g_assert_cmpfloat (bounds.origin.y, <, pane_height); /* some of it shows without scrolling */
    }
  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_conv (void)
{
  const int channels[] = { 2, 4, 3, 5 };
  nfn_arch arch;
  g_assert_cmpint (nfn_arch_cnn (&arch, 3, channels, 2, 3, 2, 1, 8, 8, NFN_ACT_RELU), ==, NFN_OK);
  NfnNetwork *net = nfn_network_new (&arch);
  /* Distinct values, so a mixed-up index cannot match by accident. */
  for (size_t e = 0; e < net->weights.size; e++)
    net->weights.data[e] = (float) sin (0.37 * e + 0.1);
  g_autoptr (NfnNetwork) reference = nfn_network_copy (net);

  NfnWindow *window = nfn_window_new (NULL);
  nfn_window_set_network (window, net);
  ut_present_and_wait (GTK_WINDOW (window));
  check_heatmaps (window, reference, 3, 3);
  check_tensor_list (window, reference, 3, 3);
  gtk_window_destroy (GTK_WINDOW (window));
}

static gboolean
banner_shown (gpointer window)
{
  g_autoptr (GPtrArray) revealers = g_ptr_array_new ();
  collect_widgets (window, GTK_TYPE_REVEALER, revealers);
  for (guint r = 0; r < revealers->len; r++)
    if (gtk_revealer_get_child_revealed (revealers->pdata[r]))
      return TRUE;
  return FALSE;
}

/* Some label on screen says exactly `text`. */
static gboolean
label_shows (NfnWindow *window, const char *text)
{
  g_autoptr (GPtrArray) labels = g_ptr_array_new ();
  collect_widgets (GTK_WIDGET (window), GTK_TYPE_LABEL, labels);
  for (guint l = 0; l < labels->len; l++)
    if (gtk_widget_is_drawable (labels->pdata[l]) && g_strcmp0 (gtk_label_get_text (labels->pdata[l]), text) == 0)
      return TRUE;
  return FALSE;
}

static void
open_and_wait (NfnWindow *window, const char *path)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);
  nfn_window_open_file (window, file);
  g_assert_true (nfn_window_get_busy (window));
  g_assert_true (ut_wait_for (is_idle, window, 10));
}

static void
test_open_files (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("nfn-window-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *good = g_build_filename (dir, "zoo-net.safetensors", NULL);
  g_autofree char *broken = g_build_filename (dir, "broken.safetensors", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing.safetensors", NULL);

  g_autoptr (NfnNetwork) sample = nfn_sample_network ();
  for (size_t e = 0; e < sample->weights.size; e++)
    sample->weights.data[e] *= -2; /* not the sample's own weights */
  g_assert_true (nfn_network_save (sample, good, &error));
  g_assert_no_error (error);
  /* A header length far past the end of the file. */
  const char garbage[] = "\xff\xff\x00\x00\x00\x00\x00\x00{\"a\":";
  g_assert_true (g_file_set_contents (broken, garbage, sizeof garbage - 1, &error));

  NfnWindow *window = nfn_window_new (NULL);
  ut_present_and_wait (GTK_WINDOW (window));
  g_assert_null (nfn_window_get_network (window));

  open_and_wait (window, good);
  g_assert_null (nfn_window_get_error_message (window));
  g_assert_cmpstr (nfn_window_get_network_name (window), ==, "zoo-net");
  check_heatmaps (window, sample, 1, 1);
  check_tensor_list (window, sample, 1, 1);

  const char *bad_paths[] = { broken, missing };
  for (guint b = 0; b < G_N_ELEMENTS (bad_paths); b++)
    {
      open_and_wait (window, bad_paths[b]);
      const char *message = nfn_window_get_error_message (window);
      g_test_message ("banner: %s", message);
      g_assert_nonnull (message);
      g_assert_nonnull (strstr (message, bad_paths[b]));
      g_assert_null (strchr (message, '\n'));
      g_assert_true (ut_wait_for (banner_shown, window, 5));
      g_assert_true (label_shows (window, message));
      /* The network shown before stays. */
      g_assert_cmpstr (nfn_window_get_network_name (window), ==, "zoo-net");
      check_heatmaps (window, sample, 1, 1);
    }

  /* A successful load clears the banner. */
  open_and_wait (window, good);
  g_assert_null (nfn_window_get_error_message (window));
  g_assert_false (label_shows (window, broken));

  gtk_window_destroy (GTK_WINDOW (window));
  g_unlink (good);
  g_unlink (broken);
  g_rmdir (dir);
}

typedef struct {
  GMenuModel *menu;
  const char *uri;
} RecentItem;

static gboolean
recent_item_listed (gpointer data)
{
  RecentItem *item = data;
  for (int i = 0; i < g_menu_model_get_n_items (item->menu); i++)
    {
      g_autoptr (GVariant) target = g_menu_model_get_item_attribute_value (item->menu, i, G_MENU_ATTRIBUTE_TARGET,
                                                                           G_VARIANT_TYPE_STRING);
      if (target && g_str_equal (g_variant_get_string (target, NULL), item->uri))
        return TRUE;
    }
  return FALSE;
}

/* The window's recent-networks menu, within 5 s, has an item whose target is `uri`. */
static gboolean
recent_menu_lists (NfnWindow *window, const char *uri)
{
  RecentItem item = { nfn_window_get_recent_menu (window), uri };
  return ut_wait_for (recent_item_listed, &item, 5);
}

/* A .npz state dict and zoo entries open like safetensors files: the heatmaps show the
 * weights the data layer reads from the same file (or zoo shard), the .npz lands in the
 * recent-networks menu, and the binary opens "DIR:INDEX" given on its command line. */
static void
test_open_npz_and_zoo (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *npz_relative = g_test_build_filename (G_TEST_DIST, "..", "data", "fixtures", "mlp_stored.npz", NULL);
  g_autofree char *npz = g_canonicalize_filename (npz_relative, NULL); /* as the recent list keeps it */
  g_autoptr (NfnNetwork) expected_npz = nfn_network_load (npz, &error);
  g_assert_no_error (error);

  g_autofree char *dir = g_dir_make_tmp ("nfn-window-zoo-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *zoo_dir = g_build_filename (dir, "zoo", NULL);
  NfnZooSettings settings;
  nfn_zoo_settings_init (&settings);
  settings.count = 1;
  settings.refits = 1;
  settings.steps = 5;
  settings.shard_size = 2;
  NfnZooFitCallbacks callbacks = { .threads = 1 };
  NfnZooFitReport report = { 0 };
  g_assert_true (nfn_zoo_fit (&settings, zoo_dir, NULL, &callbacks, &report, &error));
  g_assert_no_error (error);
  nfn_zoo_settings_clear (&settings);
  g_autoptr (NfnZooDir) zoo = nfn_zoo_dir_open (zoo_dir, &error);
  g_assert_no_error (error);
  g_autoptr (NfnNetwork) entry0 = nfn_zoo_dir_get_network (zoo, 0, NULL, &error);
  g_autoptr (NfnNetwork) entry1 = nfn_zoo_dir_get_network (zoo, 1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (memcmp (entry0->weights.data, entry1->weights.data, entry0->weights.size * sizeof (float)), !=, 0);

  NfnWindow *window = nfn_window_new (NULL);
  ut_present_and_wait (GTK_WINDOW (window));
  open_and_wait (window, npz);
  g_assert_null (nfn_window_get_error_message (window));
  g_assert_cmpstr (nfn_window_get_network_name (window), ==, "mlp_stored");
  check_heatmaps (window, expected_npz, 1, 1);

  g_autofree char *spec = g_strdup_printf ("%s:1", zoo_dir);
  open_and_wait (window, spec);
  g_assert_null (nfn_window_get_error_message (window));
  g_assert_cmpstr (nfn_window_get_network_name (window), ==, "zoo:1");
  check_heatmaps (window, entry1, 1, 1);
  g_autofree char *manifest = g_build_filename (zoo_dir, "zoo.json", NULL);
  open_and_wait (window, manifest);
  g_assert_cmpstr (nfn_window_get_network_name (window), ==, "zoo:0");
  check_heatmaps (window, entry0, 1, 1);

  g_autofree char *npz_uri = g_filename_to_uri (npz, NULL, NULL);
  g_assert_true (recent_menu_lists (window, npz_uri));
  gtk_window_destroy (GTK_WINDOW (window));

  /* the command line: a relative "zoo:1" (no slash, so GIO takes it for a URI) from its parent */
  const char *binary = g_getenv ("NFN_WORKBENCH");
  g_autofree char *fallback = g_test_build_filename (G_TEST_BUILT, "..", "..", "app", "nfn-workbench", NULL);
  g_autofree char *png = g_build_filename (dir, "zoo.png", NULL);
  const char *argv[] = { binary ? binary : fallback, "--screenshot", png, "zoo:1", NULL };
  g_autofree char *err = NULL;
  int wait_status;
  g_assert_true (g_spawn_sync (dir, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, &err, &wait_status,
                               &error));
  g_test_message ("nfn-workbench --screenshot zoo.png zoo:1: status %d, stderr: %s", wait_status, err);
  g_assert_true (WIFEXITED (wait_status));
  g_assert_cmpint (WEXITSTATUS (wait_status), ==, 0);
  g_assert_true (g_file_test (png, G_FILE_TEST_IS_REGULAR));
  ut_remove_tree (dir);
}

/* ---- The orbit in the window ---- */

static gboolean
animation_done (gpointer window)
{
  return nfn_orbit_get_progress (nfn_window_get_orbit (window)) >= 1.0;
}

/* The number after "= " in a label such as "max |Δf| = 3.7e-08 vs the original". */
static double
label_number (const char *text)
{
  const char *equals = strstr (text, "= ");
  g_assert_nonnull (equals);
  return g_ascii_strtod (equals + 2, NULL);
}

static float *
grid_pixels (NfnImageGrid *grid, int side)
{
  float *pixels = g_new (float, side * side);
  for (int r = 0; r < side; r++)
    for (int c = 0; c < side; c++)
      {
        pixels[r * side + c] = nfn_image_grid_get_pixel (grid, 0, r, c, 0);
        g_assert_false (isnan (pixels[r * side + c]));
      }
  return pixels;
}

static cairo_surface_t *
paint_heatmap (NfnHeatmap *heatmap, int width, int height)
{
  cairo_t *cr;
  cairo_surface_t *surface = ut_white_surface (width, height, &cr);
  nfn_heatmap_paint (heatmap, cr, width, height);
  cairo_destroy (cr);
  return surface;
}

/* Permute in the window: every weight heatmap shows σ·W (row j of W_2 at σ_2(j), column k
 * at σ_1(k)), its pixels change, and the function panel's images stay the same. */
static void
test_permute (void)
{
  NfnWindow *window = nfn_window_new (NULL);
  nfn_window_set_network (window, nfn_sample_network ());
  ut_present_and_wait (GTK_WINDOW (window));
  g_autoptr (NfnNetwork) reference = nfn_sample_network ();
  const nfn_space *s = &reference->arch.space;

  NfnFunctionPanel *panel = NFN_FUNCTION_PANEL (nfn_window_get_view (window, "function"));
  NfnImageGrid *coarse = NFN_IMAGE_GRID (nfn_function_panel_get_view (panel, FALSE));
  NfnImageGrid *fine = NFN_IMAGE_GRID (nfn_function_panel_get_view (panel, TRUE));
  g_autofree float *coarse_before = grid_pixels (coarse, 28);
  g_autofree float *fine_before = grid_pixels (fine, 112);
  g_autoptr (GPtrArray) heatmaps = window_heatmaps (window);
  NfnHeatmap *w2 = heatmap_for (heatmaps, reference, nfn_tensor_weight (2));
  int width = gtk_widget_get_width (GTK_WIDGET (w2)), height = gtk_widget_get_height (GTK_WIDGET (w2));
  cairo_surface_t *before = paint_heatmap (w2, width, height);
  g_assert_cmpfloat (label_number (nfn_function_panel_get_delta_text (panel)), ==, 0.0);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.permute", NULL));
  g_assert_true (ut_wait_for (animation_done, window, 5));
  const nfn_perm *sigma = nfn_orbit_get_permutation (nfn_window_get_orbit (window));
  g_assert_false (nfn_perm_is_identity (sigma));

  const char *delta = nfn_function_panel_get_delta_text (panel);
  const char *moved = nfn_function_panel_get_moved_text (panel);
  g_test_message ("%s; %s", delta, moved);
  g_assert_cmpfloat (label_number (delta), <, 1e-5);
  g_assert_cmpfloat (label_number (moved), >, 0.5);
  g_autofree float *coarse_after = grid_pixels (coarse, 28);
  g_autofree float *fine_after = grid_pixels (fine, 112);
  for (int e = 0; e < 28 * 28; e++)
    g_assert_cmpfloat (fabs (coarse_after[e] - coarse_before[e]), <, 1e-5);
  for (int e = 0; e < 112 * 112; e++)
    g_assert_cmpfloat (fabs (fine_after[e] - fine_before[e]), <, 1e-5);

  const float *w = reference->weights.t[nfn_tensor_weight (2)];
  for (int j = 0; j < s->n[2]; j++)
    for (int k = 0; k < s->n[1]; k++)
      g_assert_cmpfloat (nfn_heatmap_get_value (w2, sigma->p[2][j], sigma->p[1][k]), ==, w[j * s->n[1] + k]);
  NfnHeatmap *b1 = heatmap_for (heatmaps, reference, nfn_tensor_bias (1));
  for (int j = 0; j < s->n[1]; j++)
    g_assert_cmpfloat (nfn_heatmap_get_value (b1, 0, sigma->p[1][j]), ==, reference->weights.t[nfn_tensor_bias (1)][j]);

  cairo_surface_t *after = paint_heatmap (w2, width, height);
  NfnHeatmapLayout layout;
  nfn_heatmap_layout_compute (&layout, width, height, s->n[2], s->n[1], TRUE);
  int changed = 0, total = 0;
  for (int r = 0; r < s->n[2]; r++)
    for (int c = 0; c < s->n[1]; c++)
      {
        int x = (int) (layout.grid_x + (c + 0.5) * layout.cell), y = (int) (layout.grid_y + (r + 0.5) * layout.cell);
        changed += ut_rgb_distance (ut_surface_rgb (before, x, y), ut_surface_rgb (after, x, y)) > 0.02;
        total++;
      }
  g_test_message ("%d of %d W2 cells changed colour", changed, total);
  g_assert_cmpint (changed, >, total / 2);
  cairo_surface_destroy (before);
  cairo_surface_destroy (after);

  /* Canonicalize lands on the canonical form of the network as loaded, whatever σ was. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.canonicalize", NULL));
  g_assert_true (ut_wait_for (animation_done, window, 5));
  nfn_perm to_canonical;
  nfn_perm_alloc (&to_canonical, s);
  g_assert_cmpint (nfn_perm_canonical (&reference->weights, &to_canonical), ==, NFN_OK);
  nfn_feature canonical;
  nfn_feature_alloc (&canonical, s, 1, 1);
  nfn_perm_apply (&to_canonical, &reference->weights, &canonical);
  const NfnNetwork *current = nfn_orbit_get_current (nfn_window_get_orbit (window));
  g_assert_cmpint (memcmp (current->weights.data, canonical.data, canonical.size * sizeof (float)), ==, 0);
  g_assert_cmpfloat (nfn_heatmap_get_value (w2, 3, 4), ==, canonical.t[nfn_tensor_weight (2)][3 * s->n[1] + 4]);
  nfn_feature_free (&canonical);
  nfn_perm_free (&to_canonical);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.reset-orbit", NULL));
  g_assert_true (ut_wait_for (animation_done, window, 5));
  check_heatmaps (window, reference, 1, 1);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* A file dropped on the window opens, and lands in the recent-networks menu. */
static void
test_drop_and_recent (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("nfn-drop-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *path = g_build_filename (dir, "dropped-net.safetensors", NULL);
  g_autoptr (NfnNetwork) sample = nfn_sample_network ();
  for (size_t e = 0; e < sample->weights.size; e++)
    sample->weights.data[e] *= 0.5f;
  g_assert_true (nfn_network_save (sample, path, &error));

  NfnWindow *window = nfn_window_new (NULL);
  ut_present_and_wait (GTK_WINDOW (window));
  GtkDropTarget *drop = NULL;
  g_autoptr (GListModel) controllers = gtk_widget_observe_controllers (GTK_WIDGET (window));
  for (guint c = 0; c < g_list_model_get_n_items (controllers); c++)
    {
      g_autoptr (GObject) controller = g_list_model_get_item (controllers, c);
      if (GTK_IS_DROP_TARGET (controller))
        drop = GTK_DROP_TARGET (controller);
    }
  g_assert_nonnull (drop);
  g_assert_true (g_type_is_a (G_TYPE_FILE, gtk_drop_target_get_gtypes (drop, NULL)[0]));

  g_auto (GValue) value = G_VALUE_INIT;
  g_value_init (&value, G_TYPE_FILE);
  g_value_take_object (&value, g_file_new_for_path (path));
  gboolean accepted = FALSE;
  g_signal_emit_by_name (drop, "drop", &value, 10.0, 10.0, &accepted);
  g_assert_true (accepted);
  g_assert_true (ut_wait_for (is_idle, window, 10));
  g_assert_cmpstr (nfn_window_get_network_name (window), ==, "dropped-net");
  check_heatmaps (window, sample, 1, 1);

  g_autofree char *uri = g_filename_to_uri (path, NULL, NULL);
  g_assert_true (recent_menu_lists (window, uri));
  /* Opening it from the menu's action works too. */
  nfn_window_set_network (window, NULL);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.open-recent", "s", uri));
  g_assert_true (ut_wait_for (is_idle, window, 10));
  g_assert_cmpstr (nfn_window_get_network_name (window), ==, "dropped-net");

  gtk_window_destroy (GTK_WINDOW (window));
  g_unlink (path);
  g_rmdir (dir);
}

/* Every exportable view writes a PNG that loads at the view's size and an SVG that parses. */
static void
test_export_views (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("nfn-export-XXXXXX", &error);
  g_assert_no_error (error);
  NfnWindow *window = nfn_window_new (NULL);
  nfn_window_set_network (window, nfn_sample_network ());
  ut_present_and_wait (GTK_WINDOW (window));
  const char *views[] = { "page", "graph", "function", "layer-outputs", "heatmaps", "heatmap-2", "histogram-2", "plot" };
  for (guint v = 0; v < G_N_ELEMENTS (views); v++)
    for (int svg = 0; svg < 2; svg++)
      {
        GtkWidget *widget = nfn_window_get_view (window, views[v]);
        g_assert_nonnull (widget);
        g_autofree char *path = g_strdup_printf ("%s/%s.%s", dir, views[v], svg ? "svg" : "png");
        g_assert_true (nfn_window_export_view (window, views[v], path, &error));
        g_assert_no_error (error);
        g_autoptr (GdkTexture) texture = gdk_texture_new_from_filename (path, &error);
        g_assert_no_error (error);
        g_test_message ("%s: %d x %d", path, gdk_texture_get_width (texture), gdk_texture_get_height (texture));
        if (!svg)
          {
            g_assert_cmpint (gdk_texture_get_width (texture), ==, gtk_widget_get_width (widget));
            g_assert_cmpint (gdk_texture_get_height (texture), ==, gtk_widget_get_height (widget));
            cairo_surface_t *surface = ut_texture_to_surface (texture);
            g_assert_cmpuint (ut_count_colours (surface), >, 10);
            cairo_surface_destroy (surface);
          }
        else
          {
            g_autofree char *text = NULL;
            g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
            g_assert_nonnull (strstr (text, "<svg"));
            g_assert_cmpint (gdk_texture_get_width (texture), ==, gtk_widget_get_width (widget));
            g_assert_cmpint (gdk_texture_get_height (texture), ==, gtk_widget_get_height (widget));
          }
        g_unlink (path);
      }
  g_assert_false (nfn_window_export_view (window, "no-such-view", "x.png", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  gtk_window_destroy (GTK_WINDOW (window));
  g_rmdir (dir);
}

/* The binary's headless path: a PNG of the drawn window, exit status 1 on a bad file. */
static void
test_screenshot_option (void)
{
  const char *binary = g_getenv ("NFN_WORKBENCH");
  g_autofree char *fallback = g_test_build_filename (G_TEST_BUILT, "..", "..", "app", "nfn-workbench", NULL);
  if (binary == NULL)
    binary = fallback;

  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("nfn-shot-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *png = g_build_filename (dir, "shot.png", NULL);
  g_autofree char *broken = g_build_filename (dir, "broken.safetensors", NULL);
  g_assert_true (g_file_set_contents (broken, "not a network", -1, &error));

  struct {
    const char *file; /* NULL: the sample */
    const char *option, *value; /* a page option, or NULL */
    int status;
  } runs[] = {
    { NULL, NULL, NULL, 0 },
    { broken, NULL, NULL, 1 },
    { NULL, "--page", "equivariance", 0 },
    { NULL, "--tour-step", "6", 0 },
  };
  for (guint r = 0; r < G_N_ELEMENTS (runs); r++)
    {
      const char *argv[] = { binary, "--screenshot", png, runs[r].option ? runs[r].option : runs[r].file,
                             runs[r].value, NULL };
      g_autofree char *err = NULL;
      int wait_status;
      g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, &err, &wait_status,
                                   &error));
      g_assert_no_error (error);
      g_test_message ("%s %s: status %d, stderr: %s", binary, runs[r].file ? runs[r].file : "(sample)", wait_status,
                      err);
      g_assert_true (WIFEXITED (wait_status));
      g_assert_cmpint (WEXITSTATUS (wait_status), ==, runs[r].status);
      if (runs[r].file)
        g_assert_nonnull (strstr (err, runs[r].file));

      g_autoptr (GdkTexture) texture = gdk_texture_new_from_filename (png, &error);
      g_assert_no_error (error);
      cairo_surface_t *surface = ut_texture_to_surface (texture);
      guint colours = ut_count_colours (surface);
      g_test_message ("%d x %d, %u colours", gdk_texture_get_width (texture), gdk_texture_get_height (texture), colours);
      g_assert_cmpint (gdk_texture_get_width (texture), >=, 400);
      g_assert_cmpint (gdk_texture_get_height (texture), >=, 300);
      g_assert_cmpuint (colours, >, runs[r].file ? 20 : 200);
      cairo_surface_destroy (surface);
      g_unlink (png);
    }
  g_unlink (broken);
  g_rmdir (dir);
}

/* Every key the shortcuts window lists works on the window (its binding runs the action the
 * row names), and the zoom keys also answer on the unshifted "=" key and the keypad. */
static void
test_shortcuts_listed (void)
{
  NfnWindow *window = nfn_window_new (NULL);
  nfn_window_set_network (window, nfn_sample_network ());
  GtkShortcutsWindow *overlay = gtk_application_window_get_help_overlay (GTK_APPLICATION_WINDOW (window));
  g_assert_nonnull (overlay);
  g_autoptr (GPtrArray) rows = g_ptr_array_new ();
  collect_widgets (GTK_WIDGET (overlay), GTK_TYPE_SHORTCUTS_SHORTCUT, rows);
  g_assert_cmpuint (rows->len, >=, 8);
  int checked = 0;
  for (guint r = 0; r < rows->len; r++)
    {
      g_autofree char *accelerators = NULL, *title = NULL;
      g_object_get (rows->pdata[r], "accelerator", &accelerators, "title", &title, NULL);
      g_auto (GStrv) keys = g_strsplit (accelerators, " ", -1);
      for (int k = 0; keys[k]; k++)
        {
          /* Quit is the application's (app.quit, set when it starts), not the window's */
          if (g_str_equal (keys[k], "<Control>q"))
            continue;
          g_autoptr (GtkShortcut) shortcut = ut_find_shortcut (GTK_WIDGET (window), keys[k]);
          g_autofree char *action = shortcut ? gtk_shortcut_action_to_string (gtk_shortcut_get_action (shortcut)) : NULL;
          g_test_message ("%s: %s → %s", title, keys[k], action ? action : "(nothing)");
          g_assert_nonnull (shortcut);
          checked++;
        }
    }
  g_assert_cmpint (checked, >=, 10);
  const char *zoom_keys[][2] = {
    { "<Control>equal", "win.zoom-in" }, { "<Control>KP_Add", "win.zoom-in" }, { "<Control>KP_Subtract", "win.zoom-out" },
  };
  for (guint z = 0; z < G_N_ELEMENTS (zoom_keys); z++)
    {
      g_autoptr (GtkShortcut) shortcut = ut_find_shortcut (GTK_WIDGET (window), zoom_keys[z][0]);
      g_assert_nonnull (shortcut);
      g_autofree char *action = gtk_shortcut_action_to_string (gtk_shortcut_get_action (shortcut));
      g_assert_nonnull (strstr (action, zoom_keys[z][1]));
    }
  gtk_window_destroy (GTK_WINDOW (window));
}

/* The desktop entry parses, launches the workbench and names an icon that loads. */
static void
test_desktop_files (void)
{
  g_autofree char *entry = g_test_build_filename (G_TEST_DIST, "..", "..", "app", "org.nfn.Workbench.desktop", NULL);
  g_autoptr (GKeyFile) keys = g_key_file_new ();
  g_autoptr (GError) error = NULL;
  g_assert_true (g_key_file_load_from_file (keys, entry, G_KEY_FILE_NONE, &error));
  g_assert_no_error (error);
  g_autofree char *type = g_key_file_get_string (keys, G_KEY_FILE_DESKTOP_GROUP, G_KEY_FILE_DESKTOP_KEY_TYPE, NULL);
  g_autofree char *exec = g_key_file_get_string (keys, G_KEY_FILE_DESKTOP_GROUP, G_KEY_FILE_DESKTOP_KEY_EXEC, NULL);
  g_autofree char *icon = g_key_file_get_string (keys, G_KEY_FILE_DESKTOP_GROUP, G_KEY_FILE_DESKTOP_KEY_ICON, NULL);
  g_assert_cmpstr (type, ==, "Application");
  g_assert_true (g_str_has_prefix (exec, "nfn-workbench "));
  g_assert_cmpstr (icon, ==, "org.nfn.Workbench");

  const char *icons[] = { "org.nfn.Workbench.svg", "org.nfn.Workbench-symbolic.svg" };
  for (guint k = 0; k < G_N_ELEMENTS (icons); k++)
    {
      g_autofree char *path = g_test_build_filename (G_TEST_DIST, "..", "..", "icons", icons[k], NULL);
      g_autoptr (GdkTexture) texture = gdk_texture_new_from_filename (path, &error);
      g_assert_no_error (error);
      g_assert_cmpint (gdk_texture_get_width (texture), >=, 16);
      g_assert_cmpint (gdk_texture_get_width (texture), ==, gdk_texture_get_height (texture));
    }
}

int
main (int argc, char **argv)
{
  /* Recent files go to a scratch data directory, not the user's. */
  g_autoptr (GError) error = NULL;
  g_autofree char *data_home = g_dir_make_tmp ("nfn-window-data-XXXXXX", &error);
  g_assert_no_error (error);
  g_setenv ("XDG_DATA_HOME", data_home, TRUE);
  gtk_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ui/window/sample", test_sample);
  g_test_add_func ("/ui/window/heatmaps-fit", test_heatmaps_fit);
  g_test_add_func ("/ui/window/conv", test_conv);
  g_test_add_func ("/ui/window/open-files", test_open_files);
  g_test_add_func ("/ui/window/open-npz-and-zoo", test_open_npz_and_zoo);
  g_test_add_func ("/ui/window/permute", test_permute);
  g_test_add_func ("/ui/window/drop-and-recent", test_drop_and_recent);
  g_test_add_func ("/ui/window/export-views", test_export_views);
  g_test_add_func ("/ui/window/screenshot-option", test_screenshot_option);
  g_test_add_func ("/ui/window/desktop-files", test_desktop_files);
  g_test_add_func ("/ui/window/shortcuts-listed", test_shortcuts_listed);
  int status = g_test_run ();
  g_autofree char *recent = g_build_filename (data_home, "recently-used.xbel", NULL);
  g_unlink (recent);
  g_rmdir (data_home);
  return status;
}
