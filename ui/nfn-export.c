/* nfn-export.c — see nfn-export.h. */
#include "nfn-export.h"

#include <cairo-svg.h>
#include <errno.h>
#include <glib/gstdio.h>

#include "nfn-heatmap.h"
#include "nfn-histogram.h"
#include "nfn-image-grid.h"
#include "nfn-neuron-graph.h"
#include "nfn-plot.h"

gboolean
nfn_export_format_from_path (const char *path, NfnExportFormat *format, GError **error)
{
  g_autofree char *lower = g_ascii_strdown (path, -1);
  if (g_str_has_suffix (lower, ".png"))
    *format = NFN_EXPORT_PNG;
  else if (g_str_has_suffix (lower, ".svg"))
    *format = NFN_EXPORT_SVG;
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s: export writes .png or .svg files", path);
      return FALSE;
    }
  return TRUE;
}

static gboolean
nfn_export_check (cairo_status_t status, const char *path, GError **error)
{
  if (status == CAIRO_STATUS_SUCCESS)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: cannot write: %s", path, cairo_status_to_string (status));
  return FALSE;
}

gboolean
nfn_export_paint (const char *path, double width, double height, NfnExportPaintFunc paint, gpointer view,
                  GError **error)
{
  g_return_val_if_fail (path != NULL && paint != NULL, FALSE);
  NfnExportFormat format;
  if (!nfn_export_format_from_path (path, &format, error))
    return FALSE;
  width = MAX (1.0, ceil (width));
  height = MAX (1.0, ceil (height));

  cairo_surface_t *surface = format == NFN_EXPORT_PNG
                               ? cairo_image_surface_create (CAIRO_FORMAT_ARGB32, (int) width, (int) height)
                               : cairo_svg_surface_create (path, width, height);
  if (format == NFN_EXPORT_SVG)
    cairo_svg_surface_set_document_unit (surface, CAIRO_SVG_UNIT_PX); /* sizes as on screen */
  cairo_t *cr = cairo_create (surface);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  paint (view, cr, width, height);
  cairo_status_t status = cairo_status (cr);
  cairo_destroy (cr);
  if (status == CAIRO_STATUS_SUCCESS && format == NFN_EXPORT_PNG)
    status = cairo_surface_write_to_png (surface, path);
  cairo_surface_finish (surface);
  if (status == CAIRO_STATUS_SUCCESS)
    status = cairo_surface_status (surface);
  cairo_surface_destroy (surface);
  return nfn_export_check (status, path, error);
}

/* A widget and its children as GTK draws them, replayed on the export's cairo context. */
static void
nfn_export_paint_snapshot (gpointer view, cairo_t *cr, double width, double height)
{
  GtkWidget *widget = view;
  g_autoptr (GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, snapshot, width, height);
  g_autoptr (GskRenderNode) node = gtk_snapshot_free_to_node (snapshot);
  if (node)
    gsk_render_node_draw (node, cr);
}

gboolean
nfn_export_widget (GtkWidget *widget, const char *path, GError **error)
{
  g_return_val_if_fail (GTK_IS_WIDGET (widget), FALSE);
  double width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);
  if (width <= 0 || height <= 0)
    {
      /* Not on screen: its natural size. */
      int natural_width, natural_height;
      gtk_widget_measure (widget, GTK_ORIENTATION_HORIZONTAL, -1, NULL, &natural_width, NULL, NULL);
      gtk_widget_measure (widget, GTK_ORIENTATION_VERTICAL, natural_width, NULL, &natural_height, NULL, NULL);
      width = natural_width;
      height = natural_height;
    }
  NfnExportPaintFunc paint = nfn_export_paint_snapshot;
  if (NFN_IS_HEATMAP (widget))
    paint = (NfnExportPaintFunc) nfn_heatmap_paint;
  else if (NFN_IS_HISTOGRAM (widget))
    paint = (NfnExportPaintFunc) nfn_histogram_paint;
  else if (NFN_IS_NEURON_GRAPH (widget))
    paint = (NfnExportPaintFunc) nfn_neuron_graph_paint;
  else if (NFN_IS_PLOT (widget))
    paint = (NfnExportPaintFunc) nfn_plot_paint;
  else if (NFN_IS_IMAGE_GRID (widget))
    paint = (NfnExportPaintFunc) nfn_image_grid_paint;
  return nfn_export_paint (path, width, height, paint, widget, error);
}
