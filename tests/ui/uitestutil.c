/* uitestutil.c — see uitestutil.h. */
#include "uitestutil.h"

#include <glib/gstdio.h>
#include <math.h>

static gboolean
ut_wake (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

gboolean
ut_wait_for (ut_condition condition, gpointer data, double seconds)
{
  /* A ticking source keeps the blocking iteration from sleeping past the deadline. */
  guint ticker = g_timeout_add (10, ut_wake, NULL);
  gint64 deadline = g_get_monotonic_time () + (gint64) (seconds * G_USEC_PER_SEC);
  gboolean done;
  while (!(done = condition (data)) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (ticker);
  return done;
}

static void
ut_count_frame (GdkFrameClock *clock, int *frames)
{
  (*frames)++;
}

typedef struct {
  GtkWidget *widget;
  int *frames;
} ut_frame_wait;

static gboolean
ut_is_drawn (gpointer data)
{
  ut_frame_wait *wait = data;
  return gtk_widget_get_mapped (wait->widget) && gtk_widget_get_width (wait->widget) > 0
         && *wait->frames >= 2;
}

static gboolean
ut_is_mapped (gpointer widget)
{
  return gtk_widget_get_mapped (widget);
}

void
ut_present_and_wait (GtkWindow *window)
{
  gtk_window_present (window);
  g_assert_true (ut_wait_for (ut_is_mapped, window, 10));
  int frames = 0;
  GdkFrameClock *clock = gtk_widget_get_frame_clock (GTK_WIDGET (window));
  gulong handler = g_signal_connect (clock, "after-paint", G_CALLBACK (ut_count_frame), &frames);
  /* Nothing may be invalid when idle: ask for a frame so after-paint is sure to fire. */
  gtk_widget_queue_draw (GTK_WIDGET (window));
  ut_frame_wait wait = { GTK_WIDGET (window), &frames };
  gboolean drawn = ut_wait_for (ut_is_drawn, &wait, 10);
  g_signal_handler_disconnect (clock, handler);
  g_assert_true (drawn);
}

cairo_surface_t *
ut_white_surface (int width, int height, cairo_t **cr)
{
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, width, height);
  *cr = cairo_create (surface);
  cairo_set_source_rgb (*cr, 1, 1, 1);
  cairo_paint (*cr);
  return surface;
}

NfnRgb
ut_surface_rgb (cairo_surface_t *surface, int x, int y)
{
  cairo_surface_flush (surface);
  g_assert_cmpint (x, >=, 0);
  g_assert_cmpint (y, >=, 0);
  g_assert_cmpint (x, <, cairo_image_surface_get_width (surface));
  g_assert_cmpint (y, <, cairo_image_surface_get_height (surface));
  const unsigned char *row = cairo_image_surface_get_data (surface) + (size_t) y * cairo_image_surface_get_stride (surface);
  guint32 pixel = ((const guint32 *) row)[x];
  double alpha = cairo_image_surface_get_format (surface) == CAIRO_FORMAT_RGB24 ? 255 : (pixel >> 24);
  if (alpha == 0)
    return (NfnRgb) { 0, 0, 0 };
  return (NfnRgb) { ((pixel >> 16) & 0xff) / alpha, ((pixel >> 8) & 0xff) / alpha, (pixel & 0xff) / alpha };
}

double
ut_rgb_distance (NfnRgb a, NfnRgb b)
{
  return MAX (MAX (fabs (a.r - b.r), fabs (a.g - b.g)), fabs (a.b - b.b));
}

cairo_surface_t *
ut_texture_to_surface (GdkTexture *texture)
{
  int width = gdk_texture_get_width (texture), height = gdk_texture_get_height (texture);
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, width, height);
  cairo_surface_flush (surface);
  /* gdk_texture_download() writes cairo's ARGB32 layout (premultiplied, native endian). */
  gdk_texture_download (texture, cairo_image_surface_get_data (surface), cairo_image_surface_get_stride (surface));
  cairo_surface_mark_dirty (surface);
  return surface;
}

guint
ut_count_colours (cairo_surface_t *surface)
{
  cairo_surface_flush (surface);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_direct_hash, g_direct_equal);
  int width = cairo_image_surface_get_width (surface), height = cairo_image_surface_get_height (surface);
  int stride = cairo_image_surface_get_stride (surface);
  const unsigned char *data = cairo_image_surface_get_data (surface);
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        guint32 pixel = ((const guint32 *) (data + (size_t) y * stride))[x];
        g_hash_table_add (seen, GSIZE_TO_POINTER ((gsize) pixel + 1)); /* + 1: NULL is no key */
      }
  return g_hash_table_size (seen);
}

cairo_surface_t *
ut_widget_to_surface (GtkWidget *widget)
{
  int width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);
  g_assert_cmpint (width, >, 0);
  g_assert_cmpint (height, >, 0);
  cairo_t *cr;
  cairo_surface_t *surface = ut_white_surface (width, height, &cr);
  g_autoptr (GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, snapshot, width, height);
  GskRenderNode *node = gtk_snapshot_free_to_node (snapshot);
  if (node)
    {
      gsk_render_node_draw (node, cr);
      gsk_render_node_unref (node);
    }
  cairo_destroy (cr);
  cairo_surface_flush (surface);
  return surface;
}

void
ut_remove_tree (const char *path)
{
  if (!g_file_test (path, G_FILE_TEST_IS_DIR) || g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      g_unlink (path);
      return;
    }
  GDir *dir = g_dir_open (path, 0, NULL);
  for (const char *name; dir && (name = g_dir_read_name (dir));)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      ut_remove_tree (child);
    }
  if (dir)
    g_dir_close (dir);
  g_rmdir (path);
}

GtkShortcut *
ut_find_shortcut (GtkWidget *widget, const char *trigger)
{
  g_autoptr (GListModel) controllers = gtk_widget_observe_controllers (widget);
  g_autoptr (GtkShortcutTrigger) wanted = gtk_shortcut_trigger_parse_string (trigger);
  g_assert_nonnull (wanted);
  for (guint c = 0; c < g_list_model_get_n_items (controllers); c++)
    {
      g_autoptr (GObject) controller = g_list_model_get_item (controllers, c);
      if (!GTK_IS_SHORTCUT_CONTROLLER (controller))
        continue;
      for (guint s = 0; s < g_list_model_get_n_items (G_LIST_MODEL (controller)); s++)
        {
          g_autoptr (GtkShortcut) shortcut = g_list_model_get_item (G_LIST_MODEL (controller), s);
          if (gtk_shortcut_trigger_equal (gtk_shortcut_get_trigger (shortcut), wanted))
            return g_steal_pointer (&shortcut);
        }
    }
  return NULL;
}

GtkWidget *
ut_task_panel_window (const char *store_path, int width, int height, NfnTaskPanel **panel)
{
  GtkWidget *window = gtk_window_new ();
  if (width > 0 && height > 0)
    gtk_window_set_default_size (GTK_WINDOW (window), width, height);
  *panel = NFN_TASK_PANEL (nfn_task_panel_new ());
  gtk_window_set_child (GTK_WINDOW (window), GTK_WIDGET (*panel));
  nfn_task_panel_set_store_path (*panel, store_path);
  ut_present_and_wait (GTK_WINDOW (window));
  return window;
}

gboolean
ut_task_panel_idle (gpointer panel)
{
  return !nfn_task_panel_get_busy (panel);
}
