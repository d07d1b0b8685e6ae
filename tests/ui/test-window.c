/* test-window.c — NfnWindow on the sample network, a conv network and files from disk, and
 * `nfn-workbench --screenshot`, checked against the weights and the pixels drawn.
 *
 * Expected values are the test's own: shapes from the network's widths, statistics by a
 * two-pass sum in double, heatmap cells by indexing the documented (n_i, n_{i-1}, kh, kw)
 * layout, and a render that must contain the colormap's saturated ends. */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "nfn-heatmap.h"
#include "nfn-window.h"
#include "nfn_sample.h"
#include "uitestutil.h"

static void
collect_widgets (GtkWidget *widget, GType type, GPtrArray *found)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (widget, type))
    g_ptr_array_add (found, widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child; child = gtk_widget_get_next_sibling (child))
    collect_widgets (child, type, found);
}

static GPtrArray *
window_heatmaps (NfnWindow *window)
{
  GPtrArray *found = g_ptr_array_new ();
  collect_widgets (GTK_WIDGET (window), NFN_TYPE_HEATMAP, found);
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
    int status;
  } runs[] = { { NULL, 0 }, { broken, 1 } };
  for (guint r = 0; r < G_N_ELEMENTS (runs); r++)
    {
      const char *argv[] = { binary, "--screenshot", png, runs[r].file, NULL };
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
  gtk_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ui/window/sample", test_sample);
  g_test_add_func ("/ui/window/conv", test_conv);
  g_test_add_func ("/ui/window/open-files", test_open_files);
  g_test_add_func ("/ui/window/screenshot-option", test_screenshot_option);
  g_test_add_func ("/ui/window/desktop-files", test_desktop_files);
  return g_test_run ();
}
