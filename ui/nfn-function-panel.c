/* nfn-function-panel.c — NfnFunctionPanel, bound to an NfnOrbit.
 *
 * Shape letters: N probe inputs, K outputs, G grid side (N = G² for an image network).
 */
#include "nfn-function-panel.h"

#include <math.h>

#include "nfn-heatmap.h"
#include "nfn-image-grid.h"
#include "nfn-draw.h"
#include "nfn-ui-resources.h"
#include "nfn_fit.h"

#define NFN_FUNCTION_PANEL_TILE 112

struct _NfnFunctionPanel
{
  GtkWidget parent_instance;

  NfnImageGrid *source_grid, *coarse_grid, *fine_grid;
  NfnHeatmap *probe_heatmap;
  GtkLabel *source_label, *delta_label, *moved_label;

  NfnOrbit *orbit;
  gulong changed_handler;
  double lo, hi; /* the original's output range: one scale for every member */
  float *source; /* (R·Cc) fitting targets 2p − 1 of the source image, or NULL */
  int source_rows, source_cols;
};

G_DEFINE_FINAL_TYPE (NfnFunctionPanel, nfn_function_panel, GTK_TYPE_WIDGET)

GtkWidget *
nfn_function_panel_new (void)
{
  return g_object_new (NFN_TYPE_FUNCTION_PANEL, NULL);
}

/* K = 1: grey; K = 3: RGB; otherwise the first output. */
static void
nfn_function_panel_show_image (NfnFunctionPanel *self, NfnImageGrid *grid, gboolean fine)
{
  NfnProbe *probe = nfn_orbit_get_probe (self->orbit, fine);
  const float *outputs = nfn_orbit_get_outputs (self->orbit, fine);
  size_t k = nfn_net_output_size (&probe->arch);
  int channels = k == 3 ? 3 : 1;
  g_autofree float *image = NULL;
  if ((size_t) channels != k)
    {
      image = g_new (float, probe->n);
      for (int e = 0; e < probe->n; e++)
        image[e] = outputs[(size_t) e * k];
      outputs = image;
    }
  nfn_image_grid_set_images (grid, 1, probe->grid, probe->grid, channels, outputs, self->lo, self->hi);
}

static void
nfn_function_panel_update (NfnFunctionPanel *self)
{
  NfnProbe *probe = nfn_orbit_get_probe (self->orbit, FALSE);
  if (nfn_probe_is_image (probe))
    {
      nfn_function_panel_show_image (self, self->coarse_grid, FALSE);
      nfn_function_panel_show_image (self, self->fine_grid, TRUE);
    }
  else
    nfn_heatmap_set_matrix (self->probe_heatmap, probe->n, (int) nfn_net_output_size (&probe->arch),
                            nfn_orbit_get_outputs (self->orbit, FALSE));

  char delta[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd (delta, sizeof delta, "%.2g", nfn_orbit_get_max_delta_f (self->orbit));
  g_autofree char *delta_text = g_strdup_printf ("max |Δf| = %s vs the original", delta);
  gtk_label_set_text (self->delta_label, delta_text);

  double relative, fraction;
  nfn_orbit_get_weight_change (self->orbit, &relative, &fraction);
  g_autofree char *moved_text = g_strdup_printf ("weights moved: ‖σW − W‖/‖W‖ = %.3g (%.1f %% of entries)", relative,
                                                 100 * fraction);
  gtk_label_set_text (self->moved_label, moved_text);
}

static void
nfn_function_panel_orbit_changed (NfnOrbit *orbit, NfnFunctionPanel *self)
{
  nfn_function_panel_update (self);
}

/* The source image needs the original's grey scale, so it is drawn once both are known. */
static void
nfn_function_panel_show_source (NfnFunctionPanel *self)
{
  gboolean image = self->orbit && nfn_probe_is_image (nfn_orbit_get_probe (self->orbit, FALSE));
  gboolean shown = image && self->source != NULL;
  gtk_widget_set_visible (GTK_WIDGET (self->source_grid), shown);
  gtk_widget_set_visible (GTK_WIDGET (self->source_label), shown);
  if (shown)
    nfn_image_grid_set_images (self->source_grid, 1, self->source_rows, self->source_cols, 1, self->source, self->lo,
                               self->hi);
}

void
nfn_function_panel_set_orbit (NfnFunctionPanel *self, NfnOrbit *orbit)
{
  g_return_if_fail (NFN_IS_FUNCTION_PANEL (self));
  g_return_if_fail (orbit == NULL || NFN_IS_ORBIT (orbit));
  if (orbit == self->orbit)
    return;
  if (self->orbit)
    {
      g_clear_signal_handler (&self->changed_handler, self->orbit);
      g_clear_object (&self->orbit);
    }
  if (orbit == NULL)
    {
      nfn_function_panel_show_source (self);
      return;
    }
  self->orbit = g_object_ref (orbit);
  self->changed_handler = g_signal_connect (orbit, "changed", G_CALLBACK (nfn_function_panel_orbit_changed), self);

  NfnProbe *probe = nfn_orbit_get_probe (orbit, FALSE);
  gboolean image = nfn_probe_is_image (probe);
  gtk_widget_set_visible (GTK_WIDGET (self->coarse_grid), image);
  gtk_widget_set_visible (GTK_WIDGET (self->fine_grid), image);
  gtk_widget_set_visible (GTK_WIDGET (self->probe_heatmap), !image);
  if (image)
    {
      /* Both grids of the original fix the grey scale for every member of the orbit. */
      self->lo = INFINITY;
      self->hi = -INFINITY;
      for (int fine = 0; fine < 2; fine++)
        {
          NfnProbe *p = nfn_orbit_get_probe (orbit, fine);
          const float *original = nfn_orbit_get_original_outputs (orbit, fine);
          for (size_t e = 0; e < nfn_probe_output_size (p); e++)
            {
              self->lo = MIN (self->lo, original[e]);
              self->hi = MAX (self->hi, original[e]);
            }
        }
      g_autofree char *coarse_title = g_strdup_printf ("%d×%d grid", probe->grid, probe->grid);
      NfnProbe *fine = nfn_orbit_get_probe (orbit, TRUE);
      g_autofree char *fine_title = g_strdup_printf ("%d×%d grid", fine->grid, fine->grid);
      nfn_image_grid_set_title (self->coarse_grid, coarse_title);
      nfn_image_grid_set_title (self->fine_grid, fine_title);
    }
  else
    {
      g_autofree char *title = g_strdup_printf ("outputs on %d fixed probe inputs", probe->n);
      nfn_heatmap_set_title (self->probe_heatmap, title);
    }
  nfn_function_panel_show_source (self);
  nfn_function_panel_update (self);
}

void
nfn_function_panel_set_source_image (NfnFunctionPanel *self, const float *pixels, int rows, int cols,
                                     const char *caption)
{
  g_return_if_fail (NFN_IS_FUNCTION_PANEL (self));
  g_clear_pointer (&self->source, g_free);
  if (pixels && rows > 0 && cols > 0)
    {
      self->source = g_new (float, (size_t) rows * cols);
      nfn_fit_targets (self->source, pixels, (size_t) rows * cols);
      self->source_rows = rows;
      self->source_cols = cols;
      g_autofree char *text = g_strdup_printf ("Fitted to %s", caption ? caption : "the source image");
      gtk_label_set_text (self->source_label, text);
    }
  nfn_function_panel_show_source (self);
}

const char *
nfn_function_panel_get_delta_text (NfnFunctionPanel *self)
{
  g_return_val_if_fail (NFN_IS_FUNCTION_PANEL (self), NULL);
  return gtk_label_get_text (self->delta_label);
}

const char *
nfn_function_panel_get_moved_text (NfnFunctionPanel *self)
{
  g_return_val_if_fail (NFN_IS_FUNCTION_PANEL (self), NULL);
  return gtk_label_get_text (self->moved_label);
}

GtkWidget *
nfn_function_panel_get_source_view (NfnFunctionPanel *self)
{
  g_return_val_if_fail (NFN_IS_FUNCTION_PANEL (self), NULL);
  return GTK_WIDGET (self->source_grid);
}

GtkWidget *
nfn_function_panel_get_view (NfnFunctionPanel *self, gboolean fine)
{
  g_return_val_if_fail (NFN_IS_FUNCTION_PANEL (self), NULL);
  if (gtk_widget_get_visible (GTK_WIDGET (self->probe_heatmap)))
    return GTK_WIDGET (self->probe_heatmap);
  return GTK_WIDGET (fine ? self->fine_grid : self->coarse_grid);
}

static void
nfn_function_panel_dispose (GObject *object)
{
  NfnFunctionPanel *self = NFN_FUNCTION_PANEL (object);
  nfn_function_panel_set_orbit (self, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), NFN_TYPE_FUNCTION_PANEL);
  nfn_widget_unparent_children (GTK_WIDGET (self));
  G_OBJECT_CLASS (nfn_function_panel_parent_class)->dispose (object);
}

static void
nfn_function_panel_finalize (GObject *object)
{
  g_free (NFN_FUNCTION_PANEL (object)->source);
  G_OBJECT_CLASS (nfn_function_panel_parent_class)->finalize (object);
}

static void
nfn_function_panel_class_init (NfnFunctionPanelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = nfn_function_panel_dispose;
  object_class->finalize = nfn_function_panel_finalize;

  nfn_ui_get_resource ();
  g_type_ensure (NFN_TYPE_IMAGE_GRID);
  g_type_ensure (NFN_TYPE_HEATMAP);
  gtk_widget_class_set_template_from_resource (widget_class, "/org/nfn/Workbench/ui/nfn-function-panel.ui");
  gtk_widget_class_bind_template_child (widget_class, NfnFunctionPanel, source_grid);
  gtk_widget_class_bind_template_child (widget_class, NfnFunctionPanel, source_label);
  gtk_widget_class_bind_template_child (widget_class, NfnFunctionPanel, coarse_grid);
  gtk_widget_class_bind_template_child (widget_class, NfnFunctionPanel, fine_grid);
  gtk_widget_class_bind_template_child (widget_class, NfnFunctionPanel, probe_heatmap);
  gtk_widget_class_bind_template_child (widget_class, NfnFunctionPanel, delta_label);
  gtk_widget_class_bind_template_child (widget_class, NfnFunctionPanel, moved_label);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
nfn_function_panel_init (NfnFunctionPanel *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  nfn_image_grid_set_tile_size (self->source_grid, NFN_FUNCTION_PANEL_TILE);
  nfn_image_grid_set_title (self->source_grid, "source image");
  nfn_image_grid_set_tile_size (self->coarse_grid, NFN_FUNCTION_PANEL_TILE);
  nfn_image_grid_set_tile_size (self->fine_grid, NFN_FUNCTION_PANEL_TILE);
}
