/* uitestutil.h — helpers shared by the UI tests: waiting on the main loop with a deadline,
 * reading pixels back from cairo image surfaces and GDK textures. */
#ifndef NFN_UITESTUTIL_H
#define NFN_UITESTUTIL_H

#include <gtk/gtk.h>
#include "nfn-colormap.h"
#include "nfn-task-panel.h"

typedef gboolean (*ut_condition) (gpointer data);

/* Runs the default main context until condition(data) holds or `seconds` pass; returns the
 * condition's last value. */
gboolean ut_wait_for (ut_condition condition, gpointer data, double seconds);
/* Presents the window and waits until it is mapped, allocated and has drawn one frame. */
void ut_present_and_wait (GtkWindow *window);

/* A white ARGB32 surface of this size, and a context on it (caller destroys both). */
cairo_surface_t *ut_white_surface (int width, int height, cairo_t **cr);
/* The colour at pixel (x, y) of an ARGB32/RGB24 surface, un-premultiplied to 0…1. */
NfnRgb ut_surface_rgb (cairo_surface_t *surface, int x, int y);
/* Largest per-channel difference. */
double ut_rgb_distance (NfnRgb a, NfnRgb b);
/* A texture's pixels as an ARGB32 image surface (a copy). */
cairo_surface_t *ut_texture_to_surface (GdkTexture *texture);
/* Distinct 8-bit colours in a surface. */
guint ut_count_colours (cairo_surface_t *surface);
/* The widget as GTK draws it (its render nodes replayed by cairo) on a white ARGB32 surface of
 * its allocated size. */
cairo_surface_t *ut_widget_to_surface (GtkWidget *widget);

/* The widget's own shortcut (a shortcut controller's, e.g. its class's key bindings) for
 * `trigger` such as "<Control>p"; NULL when it has none. */
GtkShortcut *ut_find_shortcut (GtkWidget *widget, const char *trigger);

/* A presented window holding a new Tasks panel (returned in `panel`) on the store at
 * `store_path`; width and height: the window's default size (0: GTK's). */
GtkWidget *ut_task_panel_window (const char *store_path, int width, int height, NfnTaskPanel **panel);
/* An ut_condition: the Tasks panel has no task running. */
gboolean ut_task_panel_idle (gpointer panel);

/* Deletes a scratch directory and everything below it. */
void ut_remove_tree (const char *path);

#endif
