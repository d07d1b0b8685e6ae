/* nfn-window.c — NfnWindow: the network explorer's first form, and NfnTensorRow, one row of
 * its tensor list.
 *
 * Shape letters as in nfn_core.h: layer i has W_i stored (n_i, n_{i-1}, f_i) and b_i (n_i).
 * A heatmap shows W_i as n_i × (n_{i-1}·f_i) — for a conv kernel each input channel's f_i
 * spatial taps sit side by side — and b_i as one row of n_i.
 */
#include "nfn-window.h"

#include "nfn-heatmap.h"
#include "nfn_network_text.h"

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

/* ---- NfnWindow ---- */

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

  NfnNetwork *network;
  char *network_name;
  GListStore *tensors; /* NfnTensorRow */
  char *error_message;
  gboolean busy;
  GCancellable *load_cancellable; /* the load in flight, replaced by a newer one */
  GtkFileChooserNative *chooser;
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

/* "dir/net.safetensors" → "net"; a path without a directory or extension is kept whole. */
static char *
nfn_window_name_from_path (const char *path)
{
  if (path == NULL)
    return g_strdup ("untitled");
  char *name = g_path_get_basename (path);
  if (g_str_has_suffix (name, ".safetensors") && strlen (name) > strlen (".safetensors"))
    name[strlen (name) - strlen (".safetensors")] = '\0';
  return name;
}

static void
nfn_window_clear_heatmaps (NfnWindow *self)
{
  GtkWidget *child;
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->heatmap_grid))) != NULL)
    gtk_grid_remove (self->heatmap_grid, child);
}

/* One column per layer, W_i above b_i, so the grid reads left to right like the network. */
static void
nfn_window_add_heatmaps (NfnWindow *self)
{
  const nfn_space *s = &self->network->arch.space;
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      int i = nfn_tensor_layer (t);
      gboolean bias = nfn_tensor_is_bias (t);
      int rows = bias ? 1 : s->n[i];
      int cols = bias ? s->n[i] : s->n[i - 1] * s->f[i];

      g_autofree char *shape = nfn_network_tensor_shape (self->network, t);
      g_autofree char *title = g_strdup_printf ("%s  ·  %s", nfn_network_tensor_name (self->network, t), shape);
      GtkWidget *heatmap = nfn_heatmap_new ();
      nfn_heatmap_set_title (NFN_HEATMAP (heatmap), title);
      nfn_heatmap_set_matrix (NFN_HEATMAP (heatmap), rows, cols, self->network->weights.t[t]);
      gtk_widget_set_halign (heatmap, GTK_ALIGN_START);
      gtk_widget_set_valign (heatmap, GTK_ALIGN_START);
      gtk_grid_attach (self->heatmap_grid, heatmap, i - 1, bias ? 1 : 0, 1, 1);
    }
}

void
nfn_window_set_network (NfnWindow *self, NfnNetwork *network)
{
  g_return_if_fail (NFN_IS_WINDOW (self));

  g_clear_pointer (&self->network, nfn_network_free);
  self->network = network;
  g_free (self->network_name);
  self->network_name = network ? nfn_window_name_from_path (network->path) : NULL;

  g_list_store_remove_all (self->tensors);
  nfn_window_clear_heatmaps (self);
  if (network)
    {
      for (int t = 0; t < nfn_tensor_count (&network->arch.space); t++)
        {
          g_autoptr (NfnTensorRow) row = nfn_tensor_row_new (network, t);
          g_list_store_append (self->tensors, row);
        }
      nfn_window_add_heatmaps (self);

      g_autofree char *summary = nfn_arch_summary (&network->arch);
      g_autofree char *subtitle = g_strdup_printf ("%s  ·  %zu parameters", summary,
                                                   nfn_space_param_count (&network->arch.space));
      gtk_label_set_text (self->subtitle_label, subtitle);
      gtk_window_set_title (GTK_WINDOW (self), self->network_name);
    }
  else
    {
      GtkWidget *placeholder = gtk_label_new ("No network loaded. Open… a .safetensors file to see its weights.");
      gtk_widget_add_css_class (placeholder, "dim-label");
      gtk_grid_attach (self->heatmap_grid, placeholder, 0, 0, 1, 1);
      gtk_label_set_text (self->subtitle_label, "no network");
      gtk_window_set_title (GTK_WINDOW (self), "NFN Workbench");
    }
  gtk_label_set_text (self->title_label, gtk_window_get_title (GTK_WINDOW (self)));
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

/* ---- Loading ---- */

static void
nfn_window_load_thread (GTask *task, gpointer source, gpointer path, GCancellable *cancellable)
{
  GError *error = NULL;
  NfnNetwork *network = nfn_network_load (path, &error);
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
    nfn_window_set_network (self, network);
  else
    nfn_window_set_error_message (self, error->message);
}

void
nfn_window_open_file (NfnWindow *self, GFile *file)
{
  g_return_if_fail (NFN_IS_WINDOW (self));
  g_return_if_fail (G_IS_FILE (file));

  g_autofree char *path = g_file_get_path (file);
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
  gtk_file_filter_set_name (weights, "Network weights (*.safetensors)");
  gtk_file_filter_add_suffix (weights, "safetensors");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->chooser), weights);
  g_autoptr (GtkFileFilter) all = gtk_file_filter_new ();
  gtk_file_filter_set_name (all, "All files");
  gtk_file_filter_add_pattern (all, "*");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->chooser), all);

  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  g_signal_connect (self->chooser, "response", G_CALLBACK (nfn_window_chooser_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
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
  gtk_widget_dispose_template (GTK_WIDGET (self), NFN_TYPE_WINDOW);
  G_OBJECT_CLASS (nfn_window_parent_class)->dispose (object);
}

static void
nfn_window_finalize (GObject *object)
{
  NfnWindow *self = NFN_WINDOW (object);
  g_clear_pointer (&self->network, nfn_network_free);
  g_free (self->network_name);
  g_free (self->error_message);
  g_clear_object (&self->tensors);
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

  gtk_widget_class_set_template_from_resource (widget_class, "/org/nfn/Workbench/nfn-window.ui");
  gtk_widget_class_bind_template_child (widget_class, NfnWindow, title_label);
  gtk_widget_class_bind_template_child (widget_class, NfnWindow, subtitle_label);
  gtk_widget_class_bind_template_child (widget_class, NfnWindow, error_revealer);
  gtk_widget_class_bind_template_child (widget_class, NfnWindow, error_label);
  gtk_widget_class_bind_template_child (widget_class, NfnWindow, tensor_view);
  gtk_widget_class_bind_template_child (widget_class, NfnWindow, heatmap_grid);
  gtk_widget_class_bind_template_callback (widget_class, nfn_window_dismiss_error);

  gtk_widget_class_install_action (widget_class, "win.open", NULL, nfn_window_open_activated);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_o, GDK_CONTROL_MASK, "win.open", NULL);
}

static void
nfn_window_init (NfnWindow *self)
{
  self->tensors = g_list_store_new (NFN_TYPE_TENSOR_ROW);
  gtk_widget_init_template (GTK_WIDGET (self));
  nfn_window_add_columns (self);
  nfn_window_set_network (self, NULL);
}
