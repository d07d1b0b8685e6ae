/* nfn-window.c — NfnWindow: pages, actions, loading, recent files, drag and drop, export;
 * and NfnTensorRow, one row of the tensor list.
 *
 * Shape letters as in nfn_core.h: layer i has W_i stored (n_i, n_{i-1}, f_i) and b_i (n_i).
 * A heatmap shows W_i as n_i × (n_{i-1}·f_i) — for a conv kernel each input channel's f_i
 * spatial taps sit side by side — and b_i as one row of n_i. Heatmaps show the orbit's current
 * member: after a permutation, rows follow set i and columns set i − 1 (b_i's columns set i).
 */
#include "nfn-window.h"

#include <math.h>

#include "nfn-align-view.h"
#include "nfn-equivariance-view.h"
#include "nfn-export.h"
#include "nfn-function-panel.h"
#include "nfn-heatmap.h"
#include "nfn-histogram.h"
#include "nfn-layer-outputs.h"
#include "nfn-neuron-graph.h"
#include "nfn-runs-browser.h"
#include "nfn-task-panel.h"
#include "nfn-tour.h"
#include "nfn_numpy.h"
#include "nfn_network_text.h"
#include "nfn_sample.h"
#include "nfn_zoo.h"

/* Any seed but the sample's own fits the sample's image again from another init. */
#define NFN_WINDOW_TWIN_SEED 1

/* ---- NfnTensorRow ---- */

struct _NfnTensorRow
{
  GObject parent_instance;

  char *name;
  char *shape;
  guint64 parameters;
  nfn_stats stats;
};

G_DEFINE_FINAL_TYPE (NfnTensorRow, nfn_tensor_row, G_TYPE_OBJECT)

enum {
  ROW_PROP_0,
  ROW_PROP_NAME,
  ROW_PROP_SHAPE,
  ROW_PROP_PARAMETERS,
  ROW_PROP_MEAN,
  ROW_PROP_STD,
  ROW_PROP_MIN,
  ROW_PROP_MAX,
  ROW_N_PROPS
};

static GParamSpec *row_properties[ROW_N_PROPS];

static NfnTensorRow *
nfn_tensor_row_new (const NfnNetwork *net, int t)
{
  NfnTensorRow *row = g_object_new (NFN_TYPE_TENSOR_ROW, NULL);
  row->name = g_strdup (nfn_network_tensor_name (net, t));
  row->shape = nfn_network_tensor_shape (net, t);
  row->parameters = nfn_tensor_entries (&net->arch.space, t);
  nfn_stats_compute (net->weights.t[t], row->parameters, &row->stats);
  return row;
}

static void
nfn_tensor_row_finalize (GObject *object)
{
  NfnTensorRow *row = NFN_TENSOR_ROW (object);
  g_free (row->name);
  g_free (row->shape);
  G_OBJECT_CLASS (nfn_tensor_row_parent_class)->finalize (object);
}

static void
nfn_tensor_row_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  NfnTensorRow *row = NFN_TENSOR_ROW (object);
  switch (prop_id)
    {
    case ROW_PROP_NAME: g_value_set_string (value, row->name); break;
    case ROW_PROP_SHAPE: g_value_set_string (value, row->shape); break;
    case ROW_PROP_PARAMETERS: g_value_set_uint64 (value, row->parameters); break;
    case ROW_PROP_MEAN: g_value_set_double (value, row->stats.mean); break;
    case ROW_PROP_STD: g_value_set_double (value, row->stats.std); break;
    case ROW_PROP_MIN: g_value_set_double (value, row->stats.min); break;
    case ROW_PROP_MAX: g_value_set_double (value, row->stats.max); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
nfn_tensor_row_class_init (NfnTensorRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->finalize = nfn_tensor_row_finalize;
  object_class->get_property = nfn_tensor_row_get_property;

  GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;
  row_properties[ROW_PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, ro);
  row_properties[ROW_PROP_SHAPE] = g_param_spec_string ("shape", NULL, NULL, NULL, ro);
  row_properties[ROW_PROP_PARAMETERS] = g_param_spec_uint64 ("parameters", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  row_properties[ROW_PROP_MEAN] = g_param_spec_double ("mean", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0, ro);
  row_properties[ROW_PROP_STD] = g_param_spec_double ("std", NULL, NULL, 0, G_MAXDOUBLE, 0, ro);
  row_properties[ROW_PROP_MIN] = g_param_spec_double ("min", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0, ro);
  row_properties[ROW_PROP_MAX] = g_param_spec_double ("max", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0, ro);
  g_object_class_install_properties (object_class, ROW_N_PROPS, row_properties);
}

static void
nfn_tensor_row_init (NfnTensorRow *row)
{
}

/* The text a column shows for a row; numbers get 4 significant digits like `nfn info`. */
static char *
nfn_tensor_row_column_text (NfnTensorRow *row, guint prop_id)
{
  switch (prop_id)
    {
    case ROW_PROP_NAME: return g_strdup (row->name);
    case ROW_PROP_SHAPE: return g_strdup (row->shape);
    case ROW_PROP_PARAMETERS: return g_strdup_printf ("%" G_GUINT64_FORMAT, row->parameters);
    case ROW_PROP_MEAN: return g_strdup_printf ("%.4g", row->stats.mean);
    case ROW_PROP_STD: return g_strdup_printf ("%.4g", row->stats.std);
    case ROW_PROP_MIN: return g_strdup_printf ("%.4g", row->stats.min);
    case ROW_PROP_MAX: return g_strdup_printf ("%.4g", row->stats.max);
    default: g_assert_not_reached ();
    }
}

/* ---- The built-in sample and its twin, fitted ahead ---- */

/* Each is a SIREN fit; started on threads of their own before GTK starts up, they are ready
 * (or nearly) by the time the first window wants them, instead of delaying its first frame. */
typedef struct {
  GThread *thread;
  guint64 seed; /* 0: the sample's own */
  NfnNetwork *network;
} NfnWindowSampleFit;

static NfnWindowSampleFit nfn_window_sample_fits[2] = { { .seed = 0 }, { .seed = NFN_WINDOW_TWIN_SEED } };

static gpointer
nfn_window_sample_fit_run (gpointer data)
{
  NfnWindowSampleFit *fit = data;
  fit->network = fit->seed == 0 ? nfn_sample_network () : nfn_sample_network_seeded (fit->seed);
  return NULL;
}

void
nfn_window_prefetch_samples (void)
{
  for (guint f = 0; f < G_N_ELEMENTS (nfn_window_sample_fits); f++)
    if (nfn_window_sample_fits[f].thread == NULL && nfn_window_sample_fits[f].network == NULL)
      nfn_window_sample_fits[f].thread = g_thread_new ("nfn-sample-fit", nfn_window_sample_fit_run,
                                                      &nfn_window_sample_fits[f]);
}

/* The prefetched fit (once), or a fresh one. */
static NfnNetwork *
nfn_window_take_sample (guint which)
{
  NfnWindowSampleFit *fit = &nfn_window_sample_fits[which];
  if (fit->thread)
    {
      g_thread_join (g_steal_pointer (&fit->thread));
      return g_steal_pointer (&fit->network);
    }
  NfnWindowSampleFit fresh = { .seed = fit->seed };
  nfn_window_sample_fit_run (&fresh);
  return fresh.network;
}

/* ---- NfnWindow ---- */

#define NFN_WINDOW_ORBIT_SEED 1
#define NFN_WINDOW_RECENT_MAX 10

struct _NfnWindow
{
  GtkApplicationWindow parent_instance;

  /* template children */
  GtkLabel *title_label;
  GtkLabel *subtitle_label;
  GtkRevealer *error_revealer;
  GtkLabel *error_label;
  GtkColumnView *tensor_view;
  GtkGrid *heatmap_grid;
  GtkStack *main_stack;
  GtkMenuButton *recent_button, *export_button;
  GtkButton *zoom_reset_button;
  GtkLabel *orbit_label;
  GtkWidget *explorer_page, *equivariance_page;
  NfnNeuronGraph *neuron_graph;
  NfnFunctionPanel *function_panel;
  NfnLayerOutputs *layer_outputs;
  NfnAlignView *align_view;
  NfnEquivarianceView *equivariance_view;
  NfnRunsBrowser *runs_browser;
  NfnTaskPanel *task_panel;
  NfnTour *tour;

  NfnNetwork *network;
  char *network_name;
  NfnNetwork *sample, *sample_twin; /* the built-in sample and its independently fitted twin */
  NfnOrbit *orbit;
  GListStore *tensors; /* NfnTensorRow */
  NfnHeatmap *heatmaps[NFN_MAX_TENSORS];
  NfnHistogram *histograms[NFN_MAX_TENSORS];
  double zoom;
  char *error_message;
  gboolean busy;
  GCancellable *load_cancellable; /* the load in flight, replaced by a newer one */
  GtkFileChooserNative *chooser;
  GtkFileChooserNative *export_chooser;
  char *export_target; /* what the export dialog is for (nfn_window_export_response) */
  char *store_path;  /* the experiment store; the browser opens it when first shown */
  gboolean equivariance_stale; /* the equivariance view has not seen the network yet */
  int tour_step;               /* the step the tour opens on once built */
  GMenu *recent_menu;
  GMenu *export_menu;
  GtkRecentManager *recent_manager;
  gulong recent_handler;
};

G_DEFINE_FINAL_TYPE (NfnWindow, nfn_window, GTK_TYPE_APPLICATION_WINDOW)

enum {
  PROP_0,
  PROP_BUSY,
  PROP_ERROR_MESSAGE,
  PROP_NETWORK_NAME,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

NfnWindow *
nfn_window_new (GtkApplication *application)
{
  return g_object_new (NFN_TYPE_WINDOW, "application", application, NULL);
}

static void
nfn_window_set_busy (NfnWindow *self, gboolean busy)
{
  if (self->busy == busy)
    return;
  self->busy = busy;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

static void
nfn_window_set_error_message (NfnWindow *self, const char *message)
{
  if (g_strcmp0 (self->error_message, message) == 0)
    return;
  g_free (self->error_message);
  /* The banner is one line however the message was built. */
  self->error_message = message ? g_strdelimit (g_strdup (message), "\r\n", ' ') : NULL;
  gtk_label_set_text (self->error_label, self->error_message ? self->error_message : "");
  gtk_revealer_set_reveal_child (self->error_revealer, self->error_message != NULL);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR_MESSAGE]);
}

static void
nfn_window_dismiss_error (NfnWindow *self)
{
  nfn_window_set_error_message (self, NULL);
}

/* "dir/net.safetensors" → "net", "dir/net.npz" → "net", a zoo entry "dir/zoo:17" → "zoo:17";
 * a path without a directory or extension is kept whole. */
static char *
nfn_window_name_from_path (const char *path)
{
  if (path == NULL)
    return g_strdup ("untitled");
  char *name = g_path_get_basename (path);
  const char *suffixes[] = { ".safetensors", ".npz" };
  for (guint k = 0; k < G_N_ELEMENTS (suffixes); k++)
    if (g_str_has_suffix (name, suffixes[k]) && strlen (name) > strlen (suffixes[k]))
      name[strlen (name) - strlen (suffixes[k])] = '\0';
  return name;
}

/* ---- Heatmaps following the orbit ---- */

static void
nfn_window_clear_heatmaps (NfnWindow *self)
{
  GtkWidget *child;
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->heatmap_grid))) != NULL)
    gtk_grid_remove (self->heatmap_grid, child);
  memset (self->heatmaps, 0, sizeof self->heatmaps);
  memset (self->histograms, 0, sizeof self->histograms);
}

/* Rows and columns of tensor t's heatmap, as in the file's comment. */
static void
nfn_window_tensor_matrix (const nfn_space *s, int t, int *rows, int *cols)
{
  int i = nfn_tensor_layer (t);
  gboolean bias = nfn_tensor_is_bias (t);
  *rows = bias ? 1 : s->n[i];
  *cols = bias ? s->n[i] : s->n[i - 1] * s->f[i];
}

static void
nfn_window_update_heatmap_values (NfnWindow *self)
{
  const NfnNetwork *current = nfn_orbit_get_current (self->orbit);
  const nfn_space *s = &current->arch.space;
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      int rows, cols;
      nfn_window_tensor_matrix (s, t, &rows, &cols);
      nfn_heatmap_set_matrix (self->heatmaps[t], rows, cols, current->weights.t[t]);
    }
}

/* Mid-animation: every row and column where its neuron is drawn now. */
static void
nfn_window_update_heatmap_positions (NfnWindow *self)
{
  const nfn_space *s = &nfn_orbit_get_original (self->orbit)->arch.space;
  for (int i = 1; i <= s->L; i++)
    {
      g_autofree float *rows = g_new (float, s->n[i]);
      g_autofree float *inputs = g_new (float, s->n[i - 1]);
      g_autofree float *cols = g_new (float, (size_t) s->n[i - 1] * s->f[i]);
      nfn_orbit_animated_positions (self->orbit, i, rows);
      nfn_orbit_animated_positions (self->orbit, i - 1, inputs);
      for (int k = 0; k < s->n[i - 1]; k++)
        for (int p = 0; p < s->f[i]; p++)
          cols[k * s->f[i] + p] = inputs[k] * s->f[i] + p;
      nfn_heatmap_set_positions (self->heatmaps[nfn_tensor_weight (i)], rows, cols);
      nfn_heatmap_set_positions (self->heatmaps[nfn_tensor_bias (i)], NULL, rows);
    }
}

static void
nfn_window_update_orbit_label (NfnWindow *self)
{
  const nfn_perm *sigma = nfn_orbit_get_permutation (self->orbit);
  g_autofree char *size = nfn_orbit_format_size (&sigma->space);
  g_autofree char *text = g_strdup_printf ("%s twins", size);
  g_autofree char *tip = g_strdup_printf ("%s hidden permutations give networks with this same function; showing %s",
                                          size, nfn_perm_is_identity (sigma) ? "the network as loaded" : "a permuted one");
  gtk_label_set_text (self->orbit_label, text);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->orbit_label), tip);
}

static void
nfn_window_orbit_changed (NfnOrbit *orbit, NfnWindow *self)
{
  nfn_window_update_heatmap_values (self);
  nfn_window_update_heatmap_positions (self);
  nfn_window_update_orbit_label (self);
}

static void
nfn_window_orbit_progress (NfnOrbit *orbit, GParamSpec *pspec, NfnWindow *self)
{
  nfn_window_update_heatmap_positions (self);
}

/* One column per layer: W_i and its histogram above b_i and its histogram, so the grid reads
 * left to right like the network. */
static void
nfn_window_add_heatmaps (NfnWindow *self)
{
  const nfn_space *s = &self->network->arch.space;
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      int i = nfn_tensor_layer (t);
      gboolean bias = nfn_tensor_is_bias (t);
      int rows, cols;
      nfn_window_tensor_matrix (s, t, &rows, &cols);

      g_autofree char *shape = nfn_network_tensor_shape (self->network, t);
      g_autofree char *title = g_strdup_printf ("%s  ·  %s", nfn_network_tensor_name (self->network, t), shape);
      GtkWidget *heatmap = nfn_heatmap_new ();
      nfn_heatmap_set_title (NFN_HEATMAP (heatmap), title);
      nfn_heatmap_set_matrix (NFN_HEATMAP (heatmap), rows, cols, self->network->weights.t[t]);
      nfn_heatmap_set_zoom (NFN_HEATMAP (heatmap), self->zoom);
      gtk_widget_set_halign (heatmap, GTK_ALIGN_START);
      gtk_widget_set_valign (heatmap, GTK_ALIGN_START);
      gtk_grid_attach (self->heatmap_grid, heatmap, i - 1, bias ? 2 : 0, 1, 1);
      self->heatmaps[t] = NFN_HEATMAP (heatmap);

      GtkWidget *histogram = nfn_histogram_new ();
      nfn_histogram_set_values (NFN_HISTOGRAM (histogram), self->network->weights.t[t], nfn_tensor_entries (s, t));
      gtk_widget_set_halign (histogram, GTK_ALIGN_START);
      gtk_widget_set_margin_bottom (histogram, 10);
      gtk_grid_attach (self->heatmap_grid, histogram, i - 1, bias ? 3 : 1, 1, 1);
      self->histograms[t] = NFN_HISTOGRAM (histogram);
    }
}

/* ---- Export menu ---- */

static void
nfn_window_rebuild_export_menu (NfnWindow *self)
{
  g_menu_remove_all (self->export_menu);
  g_autoptr (GMenu) views = g_menu_new ();
  static const struct {
    const char *label, *view;
  } entries[] = {
    { "Visible _Page", "page" },          { "Neuron _Graph", "graph" },
    { "_Function Panel", "function" },    { "_Layer Outputs", "layer-outputs" },
    { "_Barrier Plot", "plot" },          { "All _Heatmaps", "heatmaps" },
    { "_Equivariance View", "equivariance" },
    { "_Run Curves", "runs-plot" },       { "Run _Comparison", "compare" },
    { "Task _Progress Curve", "task-plot" },
  };
  for (guint e = 0; e < G_N_ELEMENTS (entries); e++)
    {
      g_autoptr (GMenuItem) item = g_menu_item_new (entries[e].label, NULL);
      g_menu_item_set_action_and_target (item, "win.export", "s", entries[e].view);
      g_menu_append_item (views, item);
    }
  g_menu_append_section (self->export_menu, NULL, G_MENU_MODEL (views));
  if (self->network == NULL)
    return;
  g_autoptr (GMenu) tensors = g_menu_new ();
  for (int t = 0; t < nfn_tensor_count (&self->network->arch.space); t++)
    for (int histogram = 0; histogram < 2; histogram++)
      {
        g_autofree char *label = g_strdup_printf ("%s of %s", histogram ? "Histogram" : "Heatmap",
                                                  nfn_network_tensor_name (self->network, t));
        g_autofree char *view = g_strdup_printf ("%s-%d", histogram ? "histogram" : "heatmap", t);
        g_autoptr (GMenuItem) item = g_menu_item_new (label, NULL);
        g_menu_item_set_action_and_target (item, "win.export", "s", view);
        g_menu_append_item (tensors, item);
      }
  g_menu_append_submenu (self->export_menu, "_Tensors", G_MENU_MODEL (tensors));
  g_autoptr (GMenu) arrays = g_menu_new ();
  for (int t = 0; t < nfn_tensor_count (&self->network->arch.space); t++)
    {
      g_autofree char *label = g_strdup_printf ("%s (as shown)", nfn_network_tensor_name (self->network, t));
      g_autoptr (GMenuItem) item = g_menu_item_new (label, NULL);
      g_menu_item_set_action_and_target (item, "win.export-tensor", "i", t);
      g_menu_append_item (arrays, item);
    }
  g_menu_append_submenu (self->export_menu, "Tensor as _NumPy .npy", G_MENU_MODEL (arrays));
}

/* ---- The network ---- */

static void nfn_window_page_changed (NfnWindow *self);

/* The image a zoo network (or the sample) was fitted to, beside its rendering and as the
 * alignment's target; a data set that is not installed only hides it. */
static void
nfn_window_show_source_image (NfnWindow *self)
{
  int rows = 0, cols = 0;
  g_autofree char *caption = NULL;
  g_autofree float *pixels = nfn_network_source_image (self->network, &rows, &cols, &caption, NULL);
  nfn_function_panel_set_source_image (self->function_panel, pixels, rows, cols, caption);
  nfn_align_view_set_target (self->align_view, pixels, rows, cols);
}

void
nfn_window_show_sample (NfnWindow *self)
{
  g_return_if_fail (NFN_IS_WINDOW (self));
  nfn_window_set_network (self, nfn_network_copy (self->sample));
  nfn_align_view_set_twin (self->align_view, self->sample_twin);
}

void
nfn_window_set_network (NfnWindow *self, NfnNetwork *network)
{
  g_return_if_fail (NFN_IS_WINDOW (self));

  if (self->orbit)
    g_signal_handlers_disconnect_by_data (self->orbit, self);
  nfn_neuron_graph_set_orbit (self->neuron_graph, NULL);
  nfn_function_panel_set_orbit (self->function_panel, NULL);
  nfn_layer_outputs_set_orbit (self->layer_outputs, NULL);
  nfn_align_view_set_orbit (self->align_view, NULL);
  nfn_align_view_set_twin (self->align_view, NULL);
  g_clear_object (&self->orbit);
  g_clear_pointer (&self->network, nfn_network_free);
  self->network = network;
  g_free (self->network_name);
  self->network_name = network ? nfn_window_name_from_path (network->path) : NULL;

  g_list_store_remove_all (self->tensors);
  nfn_window_clear_heatmaps (self);
  gtk_widget_set_visible (GTK_WIDGET (self->neuron_graph), network != NULL);
  if (network)
    {
      for (int t = 0; t < nfn_tensor_count (&network->arch.space); t++)
        {
          g_autoptr (NfnTensorRow) row = nfn_tensor_row_new (network, t);
          g_list_store_append (self->tensors, row);
        }
      nfn_window_add_heatmaps (self);

      self->orbit = nfn_orbit_new (network, NFN_WINDOW_ORBIT_SEED);
      g_signal_connect (self->orbit, "changed", G_CALLBACK (nfn_window_orbit_changed), self);
      g_signal_connect (self->orbit, "notify::progress", G_CALLBACK (nfn_window_orbit_progress), self);
      nfn_neuron_graph_set_orbit (self->neuron_graph, self->orbit);
      nfn_function_panel_set_orbit (self->function_panel, self->orbit);
      nfn_layer_outputs_set_orbit (self->layer_outputs, self->orbit);
      nfn_align_view_set_orbit (self->align_view, self->orbit);
      nfn_window_show_source_image (self);
      nfn_window_update_orbit_label (self);

      g_autofree char *summary = nfn_arch_summary (&network->arch);
      g_autofree char *subtitle = g_strdup_printf ("%s  ·  %zu parameters", summary,
                                                   nfn_space_param_count (&network->arch.space));
      gtk_label_set_text (self->subtitle_label, subtitle);
      gtk_window_set_title (GTK_WINDOW (self), self->network_name);
    }
  else
    {
      GtkWidget *placeholder = gtk_label_new ("No network loaded. Open… a .safetensors file, or drop one here.");
      gtk_widget_add_css_class (placeholder, "dim-label");
      gtk_grid_attach (self->heatmap_grid, placeholder, 0, 0, 1, 1);
      gtk_label_set_text (self->subtitle_label, "no network");
      gtk_label_set_text (self->orbit_label, "");
      gtk_window_set_title (GTK_WINDOW (self), "NFN Workbench");
    }
  gtk_widget_set_visible (GTK_WIDGET (self->function_panel), network != NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->align_view), network != NULL);
  gtk_label_set_text (self->title_label, gtk_window_get_title (GTK_WINDOW (self)));
  nfn_window_rebuild_export_menu (self);
  /* an NFN on a wide network takes a while: built when its page is first looked at */
  self->equivariance_stale = TRUE;
  nfn_window_page_changed (self);
  nfn_window_set_error_message (self, NULL);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NETWORK_NAME]);
}

const NfnNetwork *
nfn_window_get_network (NfnWindow *self)
{
  g_return_val_if_fail (NFN_IS_WINDOW (self), NULL);
  return self->network;
}

const char *
nfn_window_get_network_name (NfnWindow *self)
{
  g_return_val_if_fail (NFN_IS_WINDOW (self), NULL);
  return self->network_name;
}

gboolean
nfn_window_get_busy (NfnWindow *self)
{
  g_return_val_if_fail (NFN_IS_WINDOW (self), FALSE);
  return self->busy;
}

gboolean
nfn_window_get_working (NfnWindow *self)
{
  g_return_val_if_fail (NFN_IS_WINDOW (self), FALSE);
  return self->busy || nfn_align_view_get_busy (self->align_view) || nfn_tour_get_busy (self->tour)
         || nfn_task_panel_get_busy (self->task_panel);
}

void
nfn_window_set_tour_step (NfnWindow *self, int step)
{
  g_return_if_fail (NFN_IS_WINDOW (self));
  self->tour_step = step;
  if (nfn_tour_get_orbit (self->tour) != NULL)
    nfn_tour_set_step (self->tour, step);
}

const char *
nfn_window_get_error_message (NfnWindow *self)
{
  g_return_val_if_fail (NFN_IS_WINDOW (self), NULL);
  return self->error_message;
}

GListModel *
nfn_window_get_tensors (NfnWindow *self)
{
  g_return_val_if_fail (NFN_IS_WINDOW (self), NULL);
  return G_LIST_MODEL (self->tensors);
}

NfnOrbit *
nfn_window_get_orbit (NfnWindow *self)
{
  g_return_val_if_fail (NFN_IS_WINDOW (self), NULL);
  return self->orbit;
}

gboolean
nfn_window_set_page (NfnWindow *self, const char *page)
{
  g_return_val_if_fail (NFN_IS_WINDOW (self), FALSE);
  if (page == NULL || gtk_stack_get_child_by_name (self->main_stack, page) == NULL)
    return FALSE;
  gtk_stack_set_visible_child_name (self->main_stack, page);
  return TRUE;
}

const char *
nfn_window_get_page (NfnWindow *self)
{
  g_return_val_if_fail (NFN_IS_WINDOW (self), NULL);
  return gtk_stack_get_visible_child_name (self->main_stack);
}

GtkWidget *
nfn_window_get_view (NfnWindow *self, const char *name)
{
  g_return_val_if_fail (NFN_IS_WINDOW (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  int t;
  if (g_str_equal (name, "graph"))
    return GTK_WIDGET (self->neuron_graph);
  if (g_str_equal (name, "function"))
    return GTK_WIDGET (self->function_panel);
  if (g_str_equal (name, "layer-outputs"))
    return GTK_WIDGET (self->layer_outputs);
  if (g_str_equal (name, "align"))
    return GTK_WIDGET (self->align_view);
  if (g_str_equal (name, "plot"))
    return GTK_WIDGET (nfn_align_view_get_plot (self->align_view));
  if (g_str_equal (name, "heatmaps"))
    return GTK_WIDGET (self->heatmap_grid);
  if (g_str_equal (name, "equivariance"))
    return GTK_WIDGET (self->equivariance_view);
  if (g_str_equal (name, "tour"))
    return GTK_WIDGET (self->tour);
  if (g_str_equal (name, "experiments"))
    return GTK_WIDGET (self->runs_browser);
  if (g_str_equal (name, "runs-plot"))
    return GTK_WIDGET (nfn_runs_browser_get_plot (self->runs_browser));
  if (g_str_equal (name, "compare"))
    return nfn_runs_browser_get_compare_view (self->runs_browser);
  if (g_str_equal (name, "tasks"))
    return GTK_WIDGET (self->task_panel);
  if (g_str_equal (name, "task-plot"))
    return GTK_WIDGET (nfn_task_panel_get_plot (self->task_panel));
  if (g_str_equal (name, "page"))
    return gtk_stack_get_visible_child (self->main_stack);
  if (sscanf (name, "heatmap-%d", &t) == 1 && t >= 0 && t < NFN_MAX_TENSORS)
    return self->heatmaps[t] ? GTK_WIDGET (self->heatmaps[t]) : NULL;
  if (sscanf (name, "histogram-%d", &t) == 1 && t >= 0 && t < NFN_MAX_TENSORS)
    return self->histograms[t] ? GTK_WIDGET (self->histograms[t]) : NULL;
  return NULL;
}

/* ---- The experiment store: the browser and the tasks ---- */

/* The browser reads the store the first time its page is shown, so a window that never looks
 * at experiments never opens (or creates) a store. */
static void
nfn_window_open_store (NfnWindow *self)
{
  if (nfn_runs_browser_get_store_path (self->runs_browser) != NULL)
    return;
  g_autofree char *fallback = self->store_path ? NULL : nfn_store_default_path ();
  /* the browser shows an error itself */
  nfn_runs_browser_set_store_path (self->runs_browser, self->store_path ? self->store_path : fallback, NULL);
}

static void
nfn_window_page_changed (NfnWindow *self)
{
  const char *page = gtk_stack_get_visible_child_name (self->main_stack);
  if (g_strcmp0 (page, "experiments") == 0)
    nfn_window_open_store (self);
  if (g_strcmp0 (page, "tour") == 0 && nfn_tour_get_orbit (self->tour) == NULL)
    {
      nfn_tour_set_network (self->tour, self->sample, self->sample_twin);
      nfn_tour_set_step (self->tour, self->tour_step);
    }
  if (g_strcmp0 (page, "equivariance") == 0 && self->equivariance_stale)
    {
      self->equivariance_stale = FALSE;
      nfn_equivariance_view_set_network (self->equivariance_view, self->network);
    }
}

void
nfn_window_set_store_path (NfnWindow *self, const char *path)
{
  g_return_if_fail (NFN_IS_WINDOW (self));
  g_free (self->store_path);
  self->store_path = path ? g_strdup (path) : nfn_store_default_path ();
  nfn_task_panel_set_store_path (self->task_panel, self->store_path);
  nfn_equivariance_view_set_store_path (self->equivariance_view, self->store_path);
  nfn_runs_browser_set_store_path (self->runs_browser, NULL, NULL);
  if (g_strcmp0 (nfn_window_get_page (self), "experiments") == 0)
    nfn_window_open_store (self);
}

const char *
nfn_window_get_store_path (NfnWindow *self)
{
  g_return_val_if_fail (NFN_IS_WINDOW (self), NULL);
  return self->store_path;
}

NfnRunsBrowser *
nfn_window_get_runs_browser (NfnWindow *self)
{
  g_return_val_if_fail (NFN_IS_WINDOW (self), NULL);
  return self->runs_browser;
}

NfnTaskPanel *
nfn_window_get_task_panel (NfnWindow *self)
{
  g_return_val_if_fail (NFN_IS_WINDOW (self), NULL);
  return self->task_panel;
}

static void
nfn_window_task_finished (NfnWindow *self, gint64 run, gboolean completed)
{
  nfn_runs_browser_refresh (self->runs_browser);
}

static void
nfn_window_show_run (NfnWindow *self, gint64 run)
{
  nfn_window_set_page (self, "experiments");
  nfn_runs_browser_refresh (self->runs_browser);
  nfn_runs_browser_select_runs (self->runs_browser, &run, 1);
}

/* ---- Loading ---- */

static void
nfn_window_load_thread (GTask *task, gpointer source, gpointer spec, GCancellable *cancellable)
{
  GError *error = NULL;
  /* a file, or a zoo entry "DIR:INDEX" */
  NfnNetwork *network = nfn_network_load_spec (spec, &error);
  if (network)
    g_task_return_pointer (task, network, (GDestroyNotify) nfn_network_free);
  else
    g_task_return_error (task, error);
}

static void
nfn_window_load_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  NfnWindow *self = NFN_WINDOW (source);
  GCancellable *cancellable = g_task_get_cancellable (G_TASK (result));
  /* A newer load replaced this one: its result is not wanted, and it owns "busy". */
  if (g_cancellable_is_cancelled (cancellable))
    return;
  g_clear_object (&self->load_cancellable);

  g_autoptr (GError) error = NULL;
  NfnNetwork *network = g_task_propagate_pointer (G_TASK (result), &error);
  nfn_window_set_busy (self, FALSE);
  if (network)
    {
      /* zoo entries ("DIR:INDEX") are no file a URI can name */
      g_autofree char *uri = nfn_zoo_parse_spec (network->path, NULL, NULL)
                               ? NULL
                               : g_filename_to_uri (network->path, NULL, NULL);
      if (uri)
        gtk_recent_manager_add_item (self->recent_manager, uri);
      nfn_window_set_network (self, network);
    }
  else
    nfn_window_set_error_message (self, error->message);
}

/* What to load for a file: itself; network 0 of a zoo given by its directory or its
 * zoo.json; or, for a command-line argument "DIR:INDEX" (a URI to GIO when DIR has no slash),
 * that zoo entry. NULL when it is none of these. */
static char *
nfn_window_spec_for_file (GFile *file)
{
  g_autofree char *path = g_file_get_path (file);
  if (path == NULL)
    {
      g_autofree char *uri = g_file_get_uri (file);
      return uri && nfn_zoo_parse_spec (uri, NULL, NULL) ? g_steal_pointer (&uri) : NULL;
    }
  g_autofree char *base = g_path_get_basename (path);
  if (g_str_equal (base, "zoo.json"))
    {
      g_autofree char *dir = g_path_get_dirname (path);
      return g_strdup_printf ("%s:0", dir);
    }
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_autofree char *manifest = g_build_filename (path, "zoo.json", NULL);
      if (g_file_test (manifest, G_FILE_TEST_IS_REGULAR))
        return g_strdup_printf ("%s:0", path);
    }
  return g_steal_pointer (&path);
}

void
nfn_window_open_file (NfnWindow *self, GFile *file)
{
  g_return_if_fail (NFN_IS_WINDOW (self));
  g_return_if_fail (G_IS_FILE (file));

  g_autofree char *path = nfn_window_spec_for_file (file);
  if (path == NULL)
    {
      g_autofree char *uri = g_file_get_uri (file);
      g_autofree char *message = g_strdup_printf ("%s: only local files can be opened", uri);
      nfn_window_set_error_message (self, message);
      return;
    }

  if (self->load_cancellable)
    g_cancellable_cancel (self->load_cancellable);
  g_clear_object (&self->load_cancellable);
  self->load_cancellable = g_cancellable_new ();

  g_autoptr (GTask) task = g_task_new (self, self->load_cancellable, nfn_window_load_done, NULL);
  g_task_set_source_tag (task, nfn_window_open_file);
  g_task_set_task_data (task, g_steal_pointer (&path), g_free);
  nfn_window_set_busy (self, TRUE);
  g_task_run_in_thread (task, (GTaskThreadFunc) nfn_window_load_thread);
}

static void
nfn_window_chooser_response (GtkNativeDialog *chooser, int response, NfnWindow *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      if (file)
        nfn_window_open_file (self, file);
    }
  g_clear_object (&self->chooser);
}

static void
nfn_window_open_activated (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  NfnWindow *self = NFN_WINDOW (widget);
  if (self->chooser)
    return;

  /* GtkFileDialog arrives in GTK 4.10; on 4.8 the native chooser also uses the portal. */
  self->chooser = gtk_file_chooser_native_new ("Open Network", GTK_WINDOW (self), GTK_FILE_CHOOSER_ACTION_OPEN,
                                               "_Open", "_Cancel");
  g_autoptr (GtkFileFilter) weights = gtk_file_filter_new ();
  gtk_file_filter_set_name (weights, "Networks (*.safetensors, *.npz, a zoo’s zoo.json)");
  gtk_file_filter_add_suffix (weights, "safetensors");
  gtk_file_filter_add_suffix (weights, "npz");
  gtk_file_filter_add_pattern (weights, "zoo.json");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->chooser), weights);
  g_autoptr (GtkFileFilter) all = gtk_file_filter_new ();
  gtk_file_filter_set_name (all, "All files");
  gtk_file_filter_add_pattern (all, "*");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->chooser), all);

  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  g_signal_connect (self->chooser, "response", G_CALLBACK (nfn_window_chooser_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static void
nfn_window_open_recent_activated (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  g_autoptr (GFile) file = g_file_new_for_uri (g_variant_get_string (parameter, NULL));
  nfn_window_open_file (NFN_WINDOW (widget), file);
}

static gboolean
nfn_window_drop (GtkDropTarget *target, const GValue *value, double x, double y, NfnWindow *self)
{
  if (!G_VALUE_HOLDS (value, G_TYPE_FILE))
    return FALSE;
  nfn_window_open_file (self, g_value_get_object (value));
  return TRUE;
}

/* ---- Recent networks ---- */

static int
nfn_window_compare_recent (gconstpointer a, gconstpointer b)
{
  GDateTime *ta = gtk_recent_info_get_modified (*(GtkRecentInfo **) a);
  GDateTime *tb = gtk_recent_info_get_modified (*(GtkRecentInfo **) b);
  return g_date_time_compare (tb, ta); /* newest first */
}

static void
nfn_window_rebuild_recent_menu (NfnWindow *self)
{
  g_menu_remove_all (self->recent_menu);
  GList *items = gtk_recent_manager_get_items (self->recent_manager);
  g_autoptr (GPtrArray) networks = g_ptr_array_new ();
  for (GList *l = items; l; l = l->next)
    if ((g_str_has_suffix (gtk_recent_info_get_uri (l->data), ".safetensors")
         || g_str_has_suffix (gtk_recent_info_get_uri (l->data), ".npz"))
        && gtk_recent_info_exists (l->data))
      g_ptr_array_add (networks, l->data);
  g_ptr_array_sort (networks, nfn_window_compare_recent);
  for (guint r = 0; r < MIN (networks->len, NFN_WINDOW_RECENT_MAX); r++)
    {
      GtkRecentInfo *info = networks->pdata[r];
      g_autoptr (GMenuItem) item = g_menu_item_new (gtk_recent_info_get_display_name (info), NULL);
      g_menu_item_set_action_and_target (item, "win.open-recent", "s", gtk_recent_info_get_uri (info));
      g_menu_append_item (self->recent_menu, item);
    }
  if (networks->len == 0)
    {
      g_autoptr (GMenuItem) item = g_menu_item_new ("No recent networks", "win.no-recent");
      g_menu_append_item (self->recent_menu, item);
    }
  g_list_free_full (items, (GDestroyNotify) gtk_recent_info_unref);
}

GMenuModel *
nfn_window_get_recent_menu (NfnWindow *self)
{
  g_return_val_if_fail (NFN_IS_WINDOW (self), NULL);
  return G_MENU_MODEL (self->recent_menu);
}

/* ---- Orbit actions ---- */

static void
nfn_window_permute_activated (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  NfnWindow *self = NFN_WINDOW (widget);
  if (self->orbit == NULL)
    return;
  nfn_orbit_permute_random (self->orbit);
  nfn_orbit_animate (self->orbit, widget);
}

static void
nfn_window_canonicalize_activated (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  NfnWindow *self = NFN_WINDOW (widget);
  if (self->orbit == NULL)
    return;
  g_autoptr (GError) error = NULL;
  if (nfn_orbit_canonicalize (self->orbit, &error))
    nfn_orbit_animate (self->orbit, widget);
  else
    nfn_window_set_error_message (self, error->message);
}

static void
nfn_window_reset_activated (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  NfnWindow *self = NFN_WINDOW (widget);
  if (self->orbit == NULL)
    return;
  nfn_orbit_reset (self->orbit);
  nfn_orbit_animate (self->orbit, widget);
}

static void
nfn_window_tour_activated (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  nfn_window_set_page (NFN_WINDOW (widget), "tour");
}

static void
nfn_window_page_activated (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  nfn_window_set_page (NFN_WINDOW (widget), g_variant_get_string (parameter, NULL));
}

/* ---- Zoom ---- */

static void
nfn_window_set_zoom (NfnWindow *self, double zoom)
{
  self->zoom = CLAMP (zoom, NFN_HEATMAP_ZOOM_MIN, NFN_HEATMAP_ZOOM_MAX);
  for (int t = 0; t < NFN_MAX_TENSORS; t++)
    if (self->heatmaps[t])
      nfn_heatmap_set_zoom (self->heatmaps[t], self->zoom);
  g_autofree char *label = g_strdup_printf ("%.0f %%", 100 * self->zoom);
  gtk_button_set_label (self->zoom_reset_button, label);
}

static void
nfn_window_zoom_activated (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  NfnWindow *self = NFN_WINDOW (widget);
  if (g_str_equal (action_name, "win.zoom-in"))
    nfn_window_set_zoom (self, self->zoom * 2);
  else if (g_str_equal (action_name, "win.zoom-out"))
    nfn_window_set_zoom (self, self->zoom / 2);
  else
    nfn_window_set_zoom (self, 1.0);
}

/* ---- Export ---- */

gboolean
nfn_window_export_view (NfnWindow *self, const char *view, const char *path, GError **error)
{
  g_return_val_if_fail (NFN_IS_WINDOW (self), FALSE);
  g_return_val_if_fail (view != NULL && path != NULL, FALSE);
  GtkWidget *widget = nfn_window_get_view (self, view);
  if (widget == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no view named “%s” to export", view);
      return FALSE;
    }
  return nfn_export_widget (widget, path, error);
}

/* One save dialog serves every export: export_target is a view name, or "npy:<t>" for tensor
 * t as a NumPy file. */
static void
nfn_window_export_response (GtkNativeDialog *chooser, int response, NfnWindow *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autofree char *path = file ? g_file_get_path (file) : NULL;
      g_autoptr (GError) error = NULL;
      int tensor;
      if (path == NULL)
        nfn_window_set_error_message (self, "export: only local files can be written");
      else if (sscanf (self->export_target, "npy:%d", &tensor) == 1
                 ? !nfn_window_export_tensor (self, tensor, path, &error)
                 : !nfn_window_export_view (self, self->export_target, path, &error))
        nfn_window_set_error_message (self, error->message);
    }
  g_clear_object (&self->export_chooser);
}

/* Asks where to write `target`, offering `name` and files of the given (label, suffix) kinds. */
static void
nfn_window_ask_export (NfnWindow *self, const char *target, const char *title, const char *name,
                       const char *const formats[][2], guint n_formats)
{
  if (self->export_chooser)
    return;
  g_free (self->export_target);
  self->export_target = g_strdup (target);
  self->export_chooser = gtk_file_chooser_native_new (title, GTK_WINDOW (self), GTK_FILE_CHOOSER_ACTION_SAVE,
                                                      "_Export", "_Cancel");
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (self->export_chooser), name);
  for (guint f = 0; f < n_formats; f++)
    {
      g_autoptr (GtkFileFilter) filter = gtk_file_filter_new ();
      gtk_file_filter_set_name (filter, formats[f][0]);
      gtk_file_filter_add_suffix (filter, formats[f][1]);
      gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->export_chooser), filter);
    }
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->export_chooser), TRUE);
  g_signal_connect (self->export_chooser, "response", G_CALLBACK (nfn_window_export_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->export_chooser));
}

static void
nfn_window_export_activated (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  NfnWindow *self = NFN_WINDOW (widget);
  const char *view = g_variant_get_string (parameter, NULL);
  g_autofree char *name = g_strdup_printf ("%s-%s.png", self->network_name ? self->network_name : "view", view);
  static const char *const formats[][2] = { { "PNG image (*.png)", "png" }, { "SVG drawing (*.svg)", "svg" } };
  nfn_window_ask_export (self, view, "Export View", name, formats, G_N_ELEMENTS (formats));
}

gboolean
nfn_window_export_tensor (NfnWindow *self, int tensor, const char *path, GError **error)
{
  g_return_val_if_fail (NFN_IS_WINDOW (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  if (self->orbit == NULL || tensor < 0 || tensor >= nfn_tensor_count (&self->network->arch.space))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no tensor %d to export", tensor);
      return FALSE;
    }
  /* the member of the orbit on screen, in the file's own names and (out, in[, kh, kw]) shapes */
  const NfnNetwork *current = nfn_orbit_get_current (self->orbit);
  g_autoptr (NfnSafetensors) st = nfn_network_to_safetensors (current);
  const NfnTensor *found = nfn_safetensors_find (st, nfn_network_tensor_name (current, tensor));
  g_assert (found != NULL);
  return nfn_npy_save (found, path, error);
}

static void
nfn_window_export_tensor_activated (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  NfnWindow *self = NFN_WINDOW (widget);
  if (self->network == NULL)
    return;
  int tensor = g_variant_get_int32 (parameter);
  g_autofree char *target = g_strdup_printf ("npy:%d", tensor);
  g_autofree char *name = g_strdup_printf ("%s.npy", nfn_network_tensor_name (self->network, tensor));
  static const char *const formats[][2] = { { "NumPy array (*.npy)", "npy" } };
  nfn_window_ask_export (self, target, "Export Tensor", name, formats, G_N_ELEMENTS (formats));
}

/* ---- Rendering ---- */

GdkTexture *
nfn_window_render (NfnWindow *self)
{
  g_return_val_if_fail (NFN_IS_WINDOW (self), NULL);
  GtkWidget *widget = GTK_WIDGET (self);
  GskRenderer *renderer = gtk_native_get_renderer (GTK_NATIVE (self));
  int width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);
  if (renderer == NULL || width <= 0 || height <= 0)
    return NULL;

  g_autoptr (GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, snapshot, width, height);
  g_autoptr (GskRenderNode) node = gtk_snapshot_free_to_node (snapshot);
  if (node == NULL)
    return NULL;
  return gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, width, height));
}

/* ---- Tensor list columns ---- */

static void
nfn_window_cell_setup (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer prop_id)
{
  GtkWidget *label = gtk_label_new (NULL);
  gboolean numeric = GPOINTER_TO_UINT (prop_id) >= ROW_PROP_PARAMETERS;
  gtk_label_set_xalign (GTK_LABEL (label), numeric ? 1.0f : 0.0f);
  if (numeric)
    gtk_widget_add_css_class (label, "numeric");
  gtk_list_item_set_child (item, label);
}

static void
nfn_window_cell_bind (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer prop_id)
{
  g_autofree char *text = nfn_tensor_row_column_text (NFN_TENSOR_ROW (gtk_list_item_get_item (item)),
                                                      GPOINTER_TO_UINT (prop_id));
  gtk_label_set_text (GTK_LABEL (gtk_list_item_get_child (item)), text);
}

static void
nfn_window_add_columns (NfnWindow *self)
{
  static const struct {
    const char *title;
    guint prop_id;
  } columns[] = {
    { "Tensor", ROW_PROP_NAME },      { "Shape", ROW_PROP_SHAPE }, { "Params", ROW_PROP_PARAMETERS },
    { "Mean", ROW_PROP_MEAN },        { "Std", ROW_PROP_STD },     { "Min", ROW_PROP_MIN },
    { "Max", ROW_PROP_MAX },
  };
  for (guint c = 0; c < G_N_ELEMENTS (columns); c++)
    {
      GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
      g_signal_connect (factory, "setup", G_CALLBACK (nfn_window_cell_setup), GUINT_TO_POINTER (columns[c].prop_id));
      g_signal_connect (factory, "bind", G_CALLBACK (nfn_window_cell_bind), GUINT_TO_POINTER (columns[c].prop_id));
      g_autoptr (GtkColumnViewColumn) column = gtk_column_view_column_new (columns[c].title, factory);
      gtk_column_view_column_set_expand (column, columns[c].prop_id == ROW_PROP_NAME);
      gtk_column_view_append_column (self->tensor_view, column);
    }
  GtkNoSelection *selection = gtk_no_selection_new (G_LIST_MODEL (g_object_ref (self->tensors)));
  gtk_column_view_set_model (self->tensor_view, GTK_SELECTION_MODEL (selection));
  g_object_unref (selection);
}

/* ---- GObject ---- */

static void
nfn_window_dispose (GObject *object)
{
  NfnWindow *self = NFN_WINDOW (object);
  if (self->load_cancellable)
    g_cancellable_cancel (self->load_cancellable);
  g_clear_object (&self->load_cancellable);
  if (self->chooser)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);
  if (self->export_chooser)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->export_chooser));
  g_clear_object (&self->export_chooser);
  g_clear_signal_handler (&self->recent_handler, self->recent_manager);
  if (self->orbit)
    g_signal_handlers_disconnect_by_data (self->orbit, self);
  g_clear_object (&self->orbit);
  gtk_widget_dispose_template (GTK_WIDGET (self), NFN_TYPE_WINDOW);
  G_OBJECT_CLASS (nfn_window_parent_class)->dispose (object);
}

static void
nfn_window_finalize (GObject *object)
{
  NfnWindow *self = NFN_WINDOW (object);
  g_clear_pointer (&self->network, nfn_network_free);
  g_clear_pointer (&self->sample, nfn_network_free);
  g_clear_pointer (&self->sample_twin, nfn_network_free);
  g_free (self->network_name);
  g_free (self->error_message);
  g_free (self->export_target);
  g_free (self->store_path);
  g_clear_object (&self->tensors);
  g_clear_object (&self->recent_menu);
  g_clear_object (&self->export_menu);
  G_OBJECT_CLASS (nfn_window_parent_class)->finalize (object);
}

static void
nfn_window_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  NfnWindow *self = NFN_WINDOW (object);
  switch (prop_id)
    {
    case PROP_BUSY: g_value_set_boolean (value, self->busy); break;
    case PROP_ERROR_MESSAGE: g_value_set_string (value, self->error_message); break;
    case PROP_NETWORK_NAME: g_value_set_string (value, self->network_name); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
nfn_window_class_init (NfnWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = nfn_window_dispose;
  object_class->finalize = nfn_window_finalize;
  object_class->get_property = nfn_window_get_property;

  GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  properties[PROP_BUSY] = g_param_spec_boolean ("busy", NULL, NULL, FALSE, ro);
  properties[PROP_ERROR_MESSAGE] = g_param_spec_string ("error-message", NULL, NULL, NULL, ro);
  properties[PROP_NETWORK_NAME] = g_param_spec_string ("network-name", NULL, NULL, NULL, ro);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (NFN_TYPE_NEURON_GRAPH);
  g_type_ensure (NFN_TYPE_FUNCTION_PANEL);
  g_type_ensure (NFN_TYPE_LAYER_OUTPUTS);
  g_type_ensure (NFN_TYPE_ALIGN_VIEW);
  g_type_ensure (NFN_TYPE_EQUIVARIANCE_VIEW);
  g_type_ensure (NFN_TYPE_TOUR);
  g_type_ensure (NFN_TYPE_RUNS_BROWSER);
  g_type_ensure (NFN_TYPE_TASK_PANEL);
  gtk_widget_class_set_template_from_resource (widget_class, "/org/nfn/Workbench/nfn-window.ui");
  gtk_widget_class_bind_template_child (widget_class, NfnWindow, title_label);
  gtk_widget_class_bind_template_child (widget_class, NfnWindow, subtitle_label);
  gtk_widget_class_bind_template_child (widget_class, NfnWindow, error_revealer);
  gtk_widget_class_bind_template_child (widget_class, NfnWindow, error_label);
  gtk_widget_class_bind_template_child (widget_class, NfnWindow, tensor_view);
  gtk_widget_class_bind_template_child (widget_class, NfnWindow, heatmap_grid);
  gtk_widget_class_bind_template_child (widget_class, NfnWindow, main_stack);
  gtk_widget_class_bind_template_child (widget_class, NfnWindow, recent_button);
  gtk_widget_class_bind_template_child (widget_class, NfnWindow, export_button);
  gtk_widget_class_bind_template_child (widget_class, NfnWindow, zoom_reset_button);
  gtk_widget_class_bind_template_child (widget_class, NfnWindow, orbit_label);
  gtk_widget_class_bind_template_child (widget_class, NfnWindow, explorer_page);
  gtk_widget_class_bind_template_child (widget_class, NfnWindow, equivariance_page);
  gtk_widget_class_bind_template_child (widget_class, NfnWindow, neuron_graph);
  gtk_widget_class_bind_template_child (widget_class, NfnWindow, function_panel);
  gtk_widget_class_bind_template_child (widget_class, NfnWindow, layer_outputs);
  gtk_widget_class_bind_template_child (widget_class, NfnWindow, align_view);
  gtk_widget_class_bind_template_child (widget_class, NfnWindow, equivariance_view);
  gtk_widget_class_bind_template_child (widget_class, NfnWindow, tour);
  gtk_widget_class_bind_template_child (widget_class, NfnWindow, runs_browser);
  gtk_widget_class_bind_template_child (widget_class, NfnWindow, task_panel);
  gtk_widget_class_bind_template_callback (widget_class, nfn_window_dismiss_error);
  gtk_widget_class_bind_template_callback (widget_class, nfn_window_page_changed);
  gtk_widget_class_bind_template_callback (widget_class, nfn_window_task_finished);
  gtk_widget_class_bind_template_callback (widget_class, nfn_window_show_run);

  gtk_widget_class_install_action (widget_class, "win.open", NULL, nfn_window_open_activated);
  gtk_widget_class_install_action (widget_class, "win.open-recent", "s", nfn_window_open_recent_activated);
  gtk_widget_class_install_action (widget_class, "win.permute", NULL, nfn_window_permute_activated);
  gtk_widget_class_install_action (widget_class, "win.canonicalize", NULL, nfn_window_canonicalize_activated);
  gtk_widget_class_install_action (widget_class, "win.reset-orbit", NULL, nfn_window_reset_activated);
  gtk_widget_class_install_action (widget_class, "win.zoom-in", NULL, nfn_window_zoom_activated);
  gtk_widget_class_install_action (widget_class, "win.zoom-out", NULL, nfn_window_zoom_activated);
  gtk_widget_class_install_action (widget_class, "win.zoom-reset", NULL, nfn_window_zoom_activated);
  gtk_widget_class_install_action (widget_class, "win.tour", NULL, nfn_window_tour_activated);
  gtk_widget_class_install_action (widget_class, "win.export", "s", nfn_window_export_activated);
  gtk_widget_class_install_action (widget_class, "win.export-tensor", "i", nfn_window_export_tensor_activated);
  gtk_widget_class_install_action (widget_class, "win.page", "s", nfn_window_page_activated);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_o, GDK_CONTROL_MASK, "win.open", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_F1, 0, "win.tour", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_p, GDK_CONTROL_MASK, "win.permute", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_C, GDK_CONTROL_MASK | GDK_SHIFT_MASK, "win.canonicalize",
                                       NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_e, GDK_CONTROL_MASK, "win.export", "s", "page");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_question, GDK_CONTROL_MASK, "win.show-help-overlay",
                                       NULL);
  static const char *const pages[] = { "explorer", "equivariance", "experiments", "tasks" };
  for (guint p = 0; p < G_N_ELEMENTS (pages); p++)
    gtk_widget_class_add_binding_action (widget_class, GDK_KEY_1 + p, GDK_CONTROL_MASK, "win.page", "s", pages[p]);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_plus, GDK_CONTROL_MASK, "win.zoom-in", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_minus, GDK_CONTROL_MASK, "win.zoom-out", NULL);
  /* "+" is shifted on most layouts: Ctrl with the key under it, and the keypad's, zoom too */
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_equal, GDK_CONTROL_MASK, "win.zoom-in", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_Add, GDK_CONTROL_MASK, "win.zoom-in", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_Subtract, GDK_CONTROL_MASK, "win.zoom-out", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_0, GDK_CONTROL_MASK, "win.zoom-reset", NULL);
}

static void
nfn_window_init (NfnWindow *self)
{
  self->tensors = g_list_store_new (NFN_TYPE_TENSOR_ROW);
  self->zoom = 1.0;
  gtk_widget_init_template (GTK_WIDGET (self));
  nfn_window_add_columns (self);

  GtkDropTarget *drop = gtk_drop_target_new (G_TYPE_FILE, GDK_ACTION_COPY);
  g_signal_connect (drop, "drop", G_CALLBACK (nfn_window_drop), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drop));

  self->recent_menu = g_menu_new ();
  self->recent_manager = gtk_recent_manager_get_default ();
  self->recent_handler = g_signal_connect_swapped (self->recent_manager, "changed",
                                                   G_CALLBACK (nfn_window_rebuild_recent_menu), self);
  nfn_window_rebuild_recent_menu (self);
  gtk_menu_button_set_menu_model (self->recent_button, G_MENU_MODEL (self->recent_menu));
  self->export_menu = g_menu_new ();
  gtk_menu_button_set_menu_model (self->export_button, G_MENU_MODEL (self->export_menu));

  /* The tour always teaches on the built-in sample, whatever the explorer shows; its pages are
   * built when it is first shown (nfn_window_page_changed). */
  self->sample = nfn_window_take_sample (0);
  self->sample_twin = nfn_window_take_sample (1);
  self->tour_step = 1;

  g_autoptr (GtkBuilder) builder = gtk_builder_new_from_resource ("/org/nfn/Workbench/nfn-shortcuts.ui");
  gtk_application_window_set_help_overlay (GTK_APPLICATION_WINDOW (self),
                                           GTK_SHORTCUTS_WINDOW (gtk_builder_get_object (builder, "shortcuts_window")));
  nfn_window_set_store_path (self, NULL);

  nfn_window_set_network (self, NULL);
}
