/* test-tour.c — one scripted session through the application window, driven by its keyboard
 * shortcuts where it has them: open on the sample, permute (Ctrl+P), export a permuted tensor
 * as .npy, switch pages (Ctrl+1 … 4), run a tiny zoo fit from the Tasks page into a scratch
 * store, open its run in the experiment browser, export the page as PNG, and save a screenshot
 * of the window under the build directory (tests/ui/tour.png).
 *
 * Checks are on what was drawn and written: the .npy read back against the sample permuted by
 * the test's own indexing, the browser's table and curve, the PNG parsed with its size and
 * colours, and the screenshot not blank. */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "nfn-window.h"
#include "nfn_numpy.h"
#include "nfn_sample.h"
#include "uitestutil.h"

typedef struct {
  char *dir;
  NfnWindow *window;
} session;

/* Activates the shortcut as a key press would: through its action on the window. */
static void
press (NfnWindow *window, const char *trigger)
{
  g_autoptr (GtkShortcut) shortcut = ut_find_shortcut (GTK_WIDGET (window), trigger);
  if (shortcut == NULL)
    g_error ("no shortcut %s on the window", trigger);
  g_autofree char *action = gtk_shortcut_action_to_string (gtk_shortcut_get_action (shortcut));
  g_test_message ("%s → %s", trigger, action);
  g_assert_true (gtk_shortcut_action_activate (gtk_shortcut_get_action (shortcut), GTK_SHORTCUT_ACTION_EXCLUSIVE,
                                               GTK_WIDGET (window), gtk_shortcut_get_arguments (shortcut)));
}

static gboolean
shortcuts_window_shown (gpointer window)
{
  GtkShortcutsWindow *overlay = gtk_application_window_get_help_overlay (window);
  return overlay && gtk_widget_get_mapped (GTK_WIDGET (overlay));
}

static gboolean
animation_done (gpointer window)
{
  return nfn_orbit_get_progress (nfn_window_get_orbit (window)) >= 1.0;
}

/* The page switch's crossfade is over: the window shows the new page alone. */
static gboolean
page_settled (gpointer window)
{
  GtkWidget *page = nfn_window_get_view (window, "page");
  return !gtk_stack_get_transition_running (GTK_STACK (gtk_widget_get_parent (page)));
}

static gboolean
task_done (gpointer window)
{
  return !nfn_task_panel_get_busy (nfn_window_get_task_panel (window));
}

/* The permuted tensor written as .npy is W_2 of the sample with rows at σ_2 and columns at σ_1. */
static void
check_tensor_export (session *s)
{
  g_autoptr (NfnNetwork) sample = nfn_sample_network ();
  const nfn_space *space = &sample->arch.space;
  const nfn_perm *sigma = nfn_orbit_get_permutation (nfn_window_get_orbit (s->window));
  g_assert_false (nfn_perm_is_identity (sigma));
  g_autofree char *path = g_build_filename (s->dir, "w2.npy", NULL);
  g_autoptr (GError) error = NULL;
  int t = nfn_tensor_weight (2);
  g_assert_true (nfn_window_export_tensor (s->window, t, path, &error));
  g_assert_no_error (error);
  g_autoptr (NfnSafetensors) npy = nfn_npy_load (path, &error);
  g_assert_no_error (error);
  NfnTensor *tensor = g_ptr_array_index (npy->tensors, 0);
  g_assert_cmpint (tensor->rank, ==, 2);
  g_assert_cmpint (tensor->shape[0], ==, space->n[2]);
  g_assert_cmpint (tensor->shape[1], ==, space->n[1]);
  const float *w = sample->weights.t[t];
  for (int j = 0; j < space->n[2]; j++)
    for (int k = 0; k < space->n[1]; k++)
      g_assert_cmpfloat (tensor->data[(size_t) sigma->p[2][j] * space->n[1] + sigma->p[1][k]], ==,
                         w[(size_t) j * space->n[1] + k]);
  g_assert_false (nfn_window_export_tensor (s->window, 99, path, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
}

static void
test_scripted_tour (void)
{
  session s = { 0 };
  g_autoptr (GError) error = NULL;
  s.dir = g_dir_make_tmp ("nfn-tour-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *store_path = g_build_filename (s.dir, "experiments.sqlite", NULL);
  g_autofree char *zoo = g_build_filename (s.dir, "zoo", NULL);

  /* 1. the window on the sample, a store of our own */
  s.window = nfn_window_new (NULL);
  gtk_window_set_default_size (GTK_WINDOW (s.window), 1440, 920);
  nfn_window_set_store_path (s.window, store_path);
  nfn_window_show_sample (s.window);
  ut_present_and_wait (GTK_WINDOW (s.window));
  g_assert_cmpstr (nfn_window_get_page (s.window), ==, "explorer");

  /* 2. permute with Ctrl+P; the function does not change */
  press (s.window, "<Control>p");
  g_assert_true (ut_wait_for (animation_done, s.window, 5));
  g_assert_cmpfloat (nfn_orbit_get_max_delta_f (nfn_window_get_orbit (s.window)), <, 1e-5);
  check_tensor_export (&s);

  /* Ctrl+Shift+C: the canonical member, what nfn_perm_canonical makes of the sample */
  press (s.window, "<Control><Shift>c");
  g_assert_true (ut_wait_for (animation_done, s.window, 5));
  g_autoptr (NfnNetwork) sample = nfn_sample_network ();
  nfn_perm canonical;
  nfn_perm_alloc (&canonical, &sample->arch.space);
  g_assert_cmpint (nfn_perm_canonical (&sample->weights, &canonical), ==, NFN_OK);
  const nfn_perm *sigma = nfn_orbit_get_permutation (nfn_window_get_orbit (s.window));
  for (int i = 0; i <= sample->arch.space.L; i++)
    g_assert_cmpint (memcmp (sigma->p[i], canonical.p[i], sample->arch.space.n[i] * sizeof (int)), ==, 0);
  nfn_perm_free (&canonical);

  /* Ctrl+E asks where to export the visible page (a file dialog, so only its binding is
   * checked); Ctrl+? shows the shortcuts window */
  g_autoptr (GtkShortcut) export = ut_find_shortcut (GTK_WIDGET (s.window), "<Control>e");
  g_assert_nonnull (export);
  g_autofree char *export_action = gtk_shortcut_action_to_string (gtk_shortcut_get_action (export));
  g_assert_cmpstr (export_action, ==, "action(win.export)");
  g_assert_cmpstr (g_variant_get_string (gtk_shortcut_get_arguments (export), NULL), ==, "page");
  press (s.window, "<Control>question");
  g_assert_true (ut_wait_for (shortcuts_window_shown, s.window, 5));
  gtk_window_close (GTK_WINDOW (gtk_application_window_get_help_overlay (GTK_APPLICATION_WINDOW (s.window))));

  /* 3. every page by its shortcut */
  const char *pages[] = { "explorer", "equivariance", "experiments", "tasks" };
  for (guint p = 0; p < G_N_ELEMENTS (pages); p++)
    {
      g_autofree char *trigger = g_strdup_printf ("<Control>%u", p + 1);
      press (s.window, trigger);
      g_assert_cmpstr (nfn_window_get_page (s.window), ==, pages[p]);
    }
  press (s.window, "F1");
  g_assert_cmpstr (nfn_window_get_page (s.window), ==, "tour");
  press (s.window, "<Control>4");

  /* 4. a tiny zoo fit, run from the Tasks page */
  NfnTaskPanel *panel = nfn_window_get_task_panel (s.window);
  NfnZooSettings settings;
  nfn_zoo_settings_init (&settings);
  g_free (settings.split);
  settings.split = g_strdup ("test");
  settings.count = 4;
  settings.steps = 20;
  settings.shard_size = 2;
  nfn_task_panel_set_zoo_fit (panel, &settings, 1, zoo);
  nfn_zoo_settings_clear (&settings);
  g_assert_true (nfn_task_panel_start (panel));
  g_assert_true (nfn_window_get_working (s.window));
  g_assert_true (ut_wait_for (task_done, s.window, 60));
  g_test_message ("%s", nfn_task_panel_get_status (panel));
  g_assert_true (g_str_has_prefix (nfn_task_panel_get_status (panel), "Completed"));
  gint64 run = nfn_task_panel_get_run_id (panel);
  g_assert_cmpint (run, >, 0);

  /* 5. "Show in Experiments": the browser has the row, selected, with its curve */
  g_signal_emit_by_name (panel, "show-run", run);
  g_assert_cmpstr (nfn_window_get_page (s.window), ==, "experiments");
  NfnRunsBrowser *browser = nfn_window_get_runs_browser (s.window);
  g_assert_cmpstr (nfn_runs_browser_get_store_path (browser), ==, store_path);
  GListModel *rows = nfn_runs_browser_get_rows (browser);
  g_assert_cmpuint (g_list_model_get_n_items (rows), ==, 1);
  g_autoptr (NfnRunRow) row = g_list_model_get_item (rows, 0);
  g_assert_cmpint (nfn_run_row_get_id (row), ==, run);
  g_assert_cmpstr (nfn_run_row_get_run (row)->task, ==, "zoo-fit");
  g_assert_cmpint (nfn_run_row_get_run (row)->status, ==, NFN_RUN_COMPLETED);
  g_autoptr (GArray) selected = nfn_runs_browser_get_selected (browser);
  g_assert_cmpuint (selected->len, ==, 1);
  g_assert_cmpint (g_array_index (selected, gint64, 0), ==, run);
  nfn_runs_browser_set_curve_metric (browser, "zoo/mean_psnr");
  NfnPlot *plot = nfn_runs_browser_get_plot (browser);
  g_assert_cmpint (nfn_plot_get_n_series (plot), ==, 1);
  g_assert_cmpint (nfn_plot_get_series_length (plot, 0), ==, 2); /* one point per shard */
  g_assert_true (ut_wait_for (page_settled, s.window, 5));

  /* 6. export the page as PNG: it parses, at the page's size, with a picture in it */
  g_autofree char *png = g_build_filename (s.dir, "experiments.png", NULL);
  g_assert_true (nfn_window_export_view (s.window, "page", png, &error));
  g_assert_no_error (error);
  g_autoptr (GdkTexture) exported = gdk_texture_new_from_filename (png, &error);
  g_assert_no_error (error);
  GtkWidget *page = nfn_window_get_view (s.window, "page");
  g_assert_cmpint (gdk_texture_get_width (exported), ==, gtk_widget_get_width (page));
  g_assert_cmpint (gdk_texture_get_height (exported), ==, gtk_widget_get_height (page));
  cairo_surface_t *surface = ut_texture_to_surface (exported);
  guint colours = ut_count_colours (surface);
  cairo_surface_destroy (surface);
  g_test_message ("exported page: %d x %d, %u colours", gdk_texture_get_width (exported),
                  gdk_texture_get_height (exported), colours);
  g_assert_cmpuint (colours, >, 30);

  /* 7. the screenshot, kept under the build directory for a person to look at */
  g_autofree char *shot = g_test_build_filename (G_TEST_BUILT, "tour.png", NULL);
  g_autoptr (GdkTexture) texture = nfn_window_render (s.window);
  g_assert_nonnull (texture);
  g_assert_true (gdk_texture_save_to_png (texture, shot));
  g_autoptr (GdkTexture) reread = gdk_texture_new_from_filename (shot, &error);
  g_assert_no_error (error);
  surface = ut_texture_to_surface (reread);
  /* not blank: many colours, and dark text pixels as well as light background */
  int dark = 0, light = 0, width = cairo_image_surface_get_width (surface), height = cairo_image_surface_get_height (surface);
  for (int y = 0; y < height; y += 2)
    for (int x = 0; x < width; x += 2)
      {
        NfnRgb c = ut_surface_rgb (surface, x, y);
        double grey = (c.r + c.g + c.b) / 3;
        dark += grey < 0.3;
        light += grey > 0.8;
      }
  colours = ut_count_colours (surface);
  cairo_surface_destroy (surface);
  g_test_message ("%s: %d x %d, %u colours, %d dark and %d light samples", shot, width, height, colours, dark, light);
  g_assert_cmpuint (colours, >, 100);
  g_assert_cmpint (dark, >, 100);
  g_assert_cmpint (light, >, width * height / 16);

  gtk_window_destroy (GTK_WINDOW (s.window));
  ut_remove_tree (s.dir);
  g_free (s.dir);
}

int
main (int argc, char **argv)
{
  /* recent files and the default store go to a scratch data directory, not the user's */
  g_autofree char *data_home = g_dir_make_tmp ("nfn-tour-data-XXXXXX", NULL);
  g_setenv ("XDG_DATA_HOME", data_home, TRUE);
  gtk_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ui/tour/scripted", test_scripted_tour);
  int status = g_test_run ();
  ut_remove_tree (data_home);
  return status;
}
