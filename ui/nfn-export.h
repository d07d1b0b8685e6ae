/* nfn-export.h — any view to PNG or SVG, through cairo surfaces.
 *
 * A single view is painted by its own offscreen draw function (nfn_heatmap_paint, …) on an
 * image surface (PNG) or an SVG surface, so an SVG keeps vector cells, lines and text. A whole
 * page is snapshotted by GTK into a render node and replayed with gsk_render_node_draw().
 * The format follows the file name: ".png" or ".svg" (case-insensitive). */
#ifndef NFN_EXPORT_H
#define NFN_EXPORT_H

#include <gtk/gtk.h>

G_BEGIN_DECLS

typedef enum { NFN_EXPORT_PNG, NFN_EXPORT_SVG } NfnExportFormat;

/* FALSE with a G_IO_ERROR_INVALID_ARGUMENT naming the file for any other extension. */
gboolean nfn_export_format_from_path (const char *path, NfnExportFormat *format, GError **error);

typedef void (*NfnExportPaintFunc) (gpointer view, cairo_t *cr, double width, double height);

/* Paints `view` at width × height on a white background into `path`. */
gboolean nfn_export_paint (const char *path, double width, double height, NfnExportPaintFunc paint, gpointer view,
                           GError **error);
/* The views that have an offscreen draw function (heatmap, histogram, neuron graph, plot, image
 * grid) are painted by it at their on-screen size; any other widget is snapshotted whole. */
gboolean nfn_export_widget (GtkWidget *widget, const char *path, GError **error);

G_END_DECLS
#endif
