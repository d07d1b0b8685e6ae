/* nfn-layer-outputs.c — NfnLayerOutputs, bound to an NfnOrbit.
 *
 * Shape letters: N = G² grid points, n_i neurons of hidden layer i. The orbit's activations
 * are (N, n_i); each neuron's image is its column, (G, G) row-major.
 */
#include "nfn-layer-outputs.h"

#include <string.h>

#include "nfn-colormap.h"
#include "nfn-draw.h"
#include "nfn-image-grid.h"

struct _NfnLayerOutputs
{
  GtkWidget parent_instance;
  NfnOrbit *orbit;
  gulong changed_handler, progress_handler;
  GtkWidget *grids[NFN_MAX_LAYERS + 1]; /* [i], hidden layers only */
  GtkWidget *note;
};

G_DEFINE_FINAL_TYPE (NfnLayerOutputs, nfn_layer_outputs, GTK_TYPE_WIDGET)

GtkWidget *
nfn_layer_outputs_new (void)
{
  return g_object_new (NFN_TYPE_LAYER_OUTPUTS, NULL);
}

static void
nfn_layer_outputs_clear (NfnLayerOutputs *self)
{
  nfn_widget_unparent_children (GTK_WIDGET (self));
  memset (self->grids, 0, sizeof self->grids);
  self->note = NULL;
}

static void
nfn_layer_outputs_update_motion (NfnLayerOutputs *self)
{
  const nfn_space *s = &nfn_orbit_get_original (self->orbit)->arch.space;
  for (int i = 1; i < s->L; i++)
    {
      if (self->grids[i] == NULL)
        continue;
      g_autofree int *from = g_new (int, s->n[i]);
      for (int j = 0; j < s->n[i]; j++)
        from[j] = nfn_orbit_previous_position (self->orbit, i, j);
      nfn_image_grid_set_motion (NFN_IMAGE_GRID (self->grids[i]), from, nfn_orbit_get_eased_progress (self->orbit));
    }
}

static void
nfn_layer_outputs_update (NfnLayerOutputs *self)
{
  const nfn_space *s = &nfn_orbit_get_original (self->orbit)->arch.space;
  NfnProbe *probe = nfn_orbit_get_probe (self->orbit, FALSE);
  int g = probe->grid;
  for (int i = 1; i < s->L; i++)
    {
      const float *hidden = nfn_orbit_get_hidden (self->orbit, i);
      if (self->grids[i] == NULL || hidden == NULL)
        continue;
      int n = s->n[i];
      g_autofree float *images = g_new (float, (size_t) n * probe->n);
      g_autofree NfnRgb *frames = g_new (NfnRgb, n);
      for (int j = 0; j < n; j++)
        {
          for (int e = 0; e < probe->n; e++)
            images[(size_t) j * probe->n + e] = hidden[(size_t) e * n + j];
          frames[j] = nfn_colormap_identity (nfn_orbit_identity_at (self->orbit, i, j));
        }
      /* sin activations fill −1…1; black is −1, white +1. */
      nfn_image_grid_set_images (NFN_IMAGE_GRID (self->grids[i]), n, g, g, 1, images, -1.0, 1.0);
      nfn_image_grid_set_frames (NFN_IMAGE_GRID (self->grids[i]), frames);
    }
  nfn_layer_outputs_update_motion (self);
}

static void
nfn_layer_outputs_orbit_changed (NfnOrbit *orbit, NfnLayerOutputs *self)
{
  nfn_layer_outputs_update (self);
}

static void
nfn_layer_outputs_progress (NfnOrbit *orbit, GParamSpec *pspec, NfnLayerOutputs *self)
{
  nfn_layer_outputs_update_motion (self);
}

void
nfn_layer_outputs_set_orbit (NfnLayerOutputs *self, NfnOrbit *orbit)
{
  g_return_if_fail (NFN_IS_LAYER_OUTPUTS (self));
  g_return_if_fail (orbit == NULL || NFN_IS_ORBIT (orbit));
  if (orbit == self->orbit)
    return;
  if (self->orbit)
    {
      g_clear_signal_handler (&self->changed_handler, self->orbit);
      g_clear_signal_handler (&self->progress_handler, self->orbit);
      g_clear_object (&self->orbit);
    }
  nfn_layer_outputs_clear (self);
  if (orbit == NULL)
    return;
  self->orbit = g_object_ref (orbit);
  self->changed_handler = g_signal_connect (orbit, "changed", G_CALLBACK (nfn_layer_outputs_orbit_changed), self);
  self->progress_handler = g_signal_connect (orbit, "notify::progress", G_CALLBACK (nfn_layer_outputs_progress), self);

  const NfnNetwork *net = nfn_orbit_get_original (orbit);
  const nfn_space *s = &net->arch.space;
  NfnProbe *probe = nfn_orbit_get_probe (orbit, FALSE);
  gboolean shown = FALSE;
  for (int i = 1; i < s->L && nfn_probe_is_image (probe); i++)
    {
      if (nfn_orbit_get_hidden (orbit, i) == NULL)
        continue;
      GtkWidget *grid = nfn_image_grid_new ();
      g_autofree char *title = g_strdup_printf ("hidden layer %d, %d×%d each", i, probe->grid, probe->grid);
      nfn_image_grid_set_title (NFN_IMAGE_GRID (grid), title);
      nfn_image_grid_set_columns (NFN_IMAGE_GRID (grid), NFN_LAYER_OUTPUTS_COLUMNS);
      nfn_image_grid_set_tile_size (NFN_IMAGE_GRID (grid), NFN_LAYER_OUTPUTS_TILE);
      gtk_widget_set_halign (grid, GTK_ALIGN_START);
      gtk_widget_set_parent (grid, GTK_WIDGET (self));
      self->grids[i] = grid;
      shown = TRUE;
    }
  if (!shown)
    {
      self->note = gtk_label_new ("Layer outputs are drawn as images for a SIREN on the pixel grid.");
      gtk_label_set_xalign (GTK_LABEL (self->note), 0);
      gtk_label_set_wrap (GTK_LABEL (self->note), TRUE);
      gtk_widget_add_css_class (self->note, "dim-label");
      gtk_widget_set_parent (self->note, GTK_WIDGET (self));
    }
  nfn_layer_outputs_update (self);
}

GtkWidget *
nfn_layer_outputs_get_grid (NfnLayerOutputs *self, int layer)
{
  g_return_val_if_fail (NFN_IS_LAYER_OUTPUTS (self), NULL);
  if (layer < 0 || layer > NFN_MAX_LAYERS)
    return NULL;
  return self->grids[layer];
}

static void
nfn_layer_outputs_dispose (GObject *object)
{
  NfnLayerOutputs *self = NFN_LAYER_OUTPUTS (object);
  nfn_layer_outputs_set_orbit (self, NULL);
  nfn_layer_outputs_clear (self);
  G_OBJECT_CLASS (nfn_layer_outputs_parent_class)->dispose (object);
}

static void
nfn_layer_outputs_class_init (NfnLayerOutputsClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = nfn_layer_outputs_dispose;
  gtk_widget_class_set_layout_manager_type (GTK_WIDGET_CLASS (klass), GTK_TYPE_BOX_LAYOUT);
  gtk_widget_class_set_css_name (GTK_WIDGET_CLASS (klass), "layeroutputs");
}

static void
nfn_layer_outputs_init (NfnLayerOutputs *self)
{
  GtkLayoutManager *layout = gtk_widget_get_layout_manager (GTK_WIDGET (self));
  gtk_orientable_set_orientation (GTK_ORIENTABLE (layout), GTK_ORIENTATION_HORIZONTAL);
  gtk_box_layout_set_spacing (GTK_BOX_LAYOUT (layout), 16);
}
