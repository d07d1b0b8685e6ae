/* nfn-task-panel.c — NfnTaskPanel: the form, the job on a worker thread, progress on the main
 * loop.
 *
 * Threads: the job (NfnTaskJob) is owned by its GTask and touched by the worker only, except
 * `cancel`, which the main thread sets through the GCancellable. Progress goes to the main
 * context as small NfnTaskProgress messages, each holding a reference on the panel, so a panel
 * disposed mid-run only receives them as no-ops.
 */
#include "nfn-task-panel.h"

#include <math.h>

#include "nfn-draw.h"
#include "nfn-ui-resources.h"

/* ---- The job ---- */

typedef struct {
  NfnTaskPanel *panel;  /* a reference, for the messages */
  char *store_path;
  char *dir;
  NfnZooSettings settings;
  int threads;
  volatile int cancel;  /* the engine's cancel flag */
  gint64 last_post_us;  /* progress messages are throttled */
  /* results */
  NfnZooFitReport report;
  gboolean ok;
  GError *error;
} NfnTaskJob;

static void
nfn_task_job_free (NfnTaskJob *job)
{
  g_object_unref (job->panel);
  g_free (job->store_path);
  g_free (job->dir);
  nfn_zoo_settings_clear (&job->settings);
  g_clear_error (&job->error);
  g_free (job);
}

typedef struct {
  NfnTaskPanel *panel;
  gint64 done, total, fitted;
  gboolean has_point; /* a finished shard: its mean PSNR joins the curve */
  double point_x, point_y;
} NfnTaskProgress;

static gboolean nfn_task_panel_apply_progress (gpointer data);

static void
nfn_task_job_post (NfnTaskJob *job, NfnTaskProgress *message)
{
  message->panel = g_object_ref (job->panel);
  g_main_context_invoke_full (NULL, G_PRIORITY_DEFAULT, nfn_task_panel_apply_progress, message, g_free);
}

static void
nfn_task_job_progress (gint64 done, gint64 total, gint64 fitted, gpointer data)
{
  NfnTaskJob *job = data;
  gint64 now = g_get_monotonic_time ();
  if (done < total && now - job->last_post_us < G_USEC_PER_SEC / NFN_TASK_PANEL_PROGRESS_HZ)
    return;
  job->last_post_us = now;
  NfnTaskProgress *message = g_new0 (NfnTaskProgress, 1);
  *message = (NfnTaskProgress) { .done = done, .total = total, .fitted = fitted };
  nfn_task_job_post (job, message);
}

static void
nfn_task_job_shard_done (int shard, int networks, double mean_psnr, double inrs_per_s, gpointer data)
{
  NfnTaskJob *job = data;
  NfnTaskProgress *message = g_new0 (NfnTaskProgress, 1);
  *message = (NfnTaskProgress) {
    .done = -1,
    .has_point = TRUE,
    .point_x = (double) (shard + 1) * job->settings.shard_size,
    .point_y = mean_psnr,
  };
  nfn_task_job_post (job, message);
}

static void
nfn_task_job_run (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  NfnTaskJob *job = data;
  /* a connection of this thread's own: NfnStore is one thread's at a time */
  g_autoptr (NfnStore) store = nfn_store_open (job->store_path, FALSE, &job->error);
  if (store)
    {
      NfnZooFitCallbacks callbacks = {
        .threads = job->threads,
        .progress = nfn_task_job_progress,
        .user_data = job,
        .cancel = &job->cancel,
        .shard_done = nfn_task_job_shard_done,
      };
      job->ok = nfn_zoo_fit (&job->settings, job->dir, store, &callbacks, &job->report, &job->error);
    }
  g_task_return_boolean (task, TRUE);
}

static void
nfn_task_job_cancel (GCancellable *cancellable, NfnTaskJob *job)
{
  job->cancel = 1;
}

/* ---- The panel ---- */

struct _NfnTaskPanel
{
  GtkWidget parent_instance;

  GtkDropDown *task_dropdown, *dataset_dropdown, *split_dropdown;
  GtkSpinButton *images_spin, *refits_spin, *steps_spin, *lr_spin, *seed_spin, *threads_spin, *shard_spin;
  GtkEntry *dir_entry;
  GtkButton *run_button, *cancel_button, *show_button;
  GtkProgressBar *progress_bar;
  GtkLabel *rate_label, *status_label;
  GtkWidget *form;
  NfnPlot *plot;

  char *store_path;
  GCancellable *cancellable; /* the running job's, NULL when idle */
  gboolean busy;
  gint64 started_us;
  gint64 run_id;
  GArray *curve_x, *curve_y; /* double: the live curve's points */
  GtkFileChooserNative *chooser;
  gboolean disposed; /* a running job's messages and end find no widgets to update */
};

G_DEFINE_FINAL_TYPE (NfnTaskPanel, nfn_task_panel, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_BUSY,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

enum { SIGNAL_FINISHED, SIGNAL_SHOW_RUN, N_SIGNALS };
static guint signals[N_SIGNALS];

GtkWidget *
nfn_task_panel_new (void)
{
  return g_object_new (NFN_TYPE_TASK_PANEL, NULL);
}

static void
nfn_task_panel_set_busy (NfnTaskPanel *self, gboolean busy)
{
  if (self->busy == busy)
    return;
  self->busy = busy;
  gtk_widget_set_sensitive (GTK_WIDGET (self->run_button), !busy);
  gtk_widget_set_sensitive (GTK_WIDGET (self->cancel_button), busy);
  gtk_widget_set_sensitive (self->form, !busy);
  gtk_widget_set_sensitive (GTK_WIDGET (self->task_dropdown), !busy);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

static void
nfn_task_panel_set_status (NfnTaskPanel *self, const char *text)
{
  gtk_label_set_text (self->status_label, text);
}

/* ---- The form ---- */

static const char *
nfn_task_panel_dropdown_string (GtkDropDown *dropdown)
{
  GtkStringObject *item = gtk_drop_down_get_selected_item (dropdown);
  return item ? gtk_string_object_get_string (item) : NULL;
}

static void
nfn_task_panel_select_string (GtkDropDown *dropdown, const char *value)
{
  GListModel *model = gtk_drop_down_get_model (dropdown);
  for (guint k = 0; k < g_list_model_get_n_items (model); k++)
    {
      g_autoptr (GtkStringObject) item = g_list_model_get_item (model, k);
      if (g_strcmp0 (gtk_string_object_get_string (item), value) == 0)
        gtk_drop_down_set_selected (dropdown, k);
    }
}

/* The form as zoo settings (filled with the defaults first, as the CLI does). */
static void
nfn_task_panel_read_settings (NfnTaskPanel *self, NfnZooSettings *settings)
{
  nfn_zoo_settings_init (settings);
  g_free (settings->dataset);
  g_free (settings->split);
  settings->dataset = g_strdup (nfn_task_panel_dropdown_string (self->dataset_dropdown));
  settings->split = g_strdup (nfn_task_panel_dropdown_string (self->split_dropdown));
  settings->count = gtk_spin_button_get_value_as_int (self->images_spin);
  settings->refits = gtk_spin_button_get_value_as_int (self->refits_spin);
  settings->steps = gtk_spin_button_get_value_as_int (self->steps_spin);
  settings->lr = gtk_spin_button_get_value (self->lr_spin);
  settings->seed = (guint64) gtk_spin_button_get_value_as_int (self->seed_spin);
  settings->shard_size = gtk_spin_button_get_value_as_int (self->shard_spin);
}

char *
nfn_task_panel_get_zoo_dir (NfnTaskPanel *self)
{
  g_return_val_if_fail (NFN_IS_TASK_PANEL (self), NULL);
  const char *typed = gtk_editable_get_text (GTK_EDITABLE (self->dir_entry));
  if (typed[0])
    return g_strdup (typed);
  if (self->store_path == NULL)
    return NULL;
  NfnZooSettings s;
  nfn_task_panel_read_settings (self, &s);
  char lr[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd (lr, sizeof lr, "%g", s.lr);
  g_autofree char *name = g_strdup_printf ("%s-%s-%d-refits%d-steps%d-lr%s-seed%" G_GUINT64_FORMAT, s.dataset, s.split,
                                           s.count, s.refits, s.steps, lr, s.seed);
  nfn_zoo_settings_clear (&s);
  g_autofree char *store_dir = g_path_get_dirname (self->store_path);
  return g_build_filename (store_dir, "zoos", name, NULL);
}

static void
nfn_task_panel_form_changed (NfnTaskPanel *self)
{
  g_autofree char *dir = nfn_task_panel_get_zoo_dir (self);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->dir_entry), dir);
}

void
nfn_task_panel_set_zoo_fit (NfnTaskPanel *self, const NfnZooSettings *settings, int threads, const char *dir)
{
  g_return_if_fail (NFN_IS_TASK_PANEL (self));
  g_return_if_fail (settings != NULL);
  nfn_task_panel_select_string (self->dataset_dropdown, settings->dataset);
  nfn_task_panel_select_string (self->split_dropdown, settings->split);
  gtk_spin_button_set_value (self->images_spin, settings->count);
  gtk_spin_button_set_value (self->refits_spin, settings->refits);
  gtk_spin_button_set_value (self->steps_spin, settings->steps);
  gtk_spin_button_set_value (self->lr_spin, settings->lr);
  gtk_spin_button_set_value (self->seed_spin, (double) settings->seed);
  gtk_spin_button_set_value (self->shard_spin, settings->shard_size);
  gtk_spin_button_set_value (self->threads_spin, threads);
  gtk_editable_set_text (GTK_EDITABLE (self->dir_entry), dir ? dir : "");
  nfn_task_panel_form_changed (self);
}

void
nfn_task_panel_set_store_path (NfnTaskPanel *self, const char *path)
{
  g_return_if_fail (NFN_IS_TASK_PANEL (self));
  g_free (self->store_path);
  self->store_path = g_strdup (path);
  nfn_task_panel_form_changed (self);
}

static void
nfn_task_panel_chooser_response (GtkNativeDialog *chooser, int response, NfnTaskPanel *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autofree char *path = file ? g_file_get_path (file) : NULL;
      if (path)
        gtk_editable_set_text (GTK_EDITABLE (self->dir_entry), path);
    }
  g_clear_object (&self->chooser);
}

static void
nfn_task_panel_choose_dir (NfnTaskPanel *self)
{
  if (self->chooser)
    return;
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  self->chooser = gtk_file_chooser_native_new ("Zoo Directory", GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                               GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, "_Select", "_Cancel");
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  g_signal_connect (self->chooser, "response", G_CALLBACK (nfn_task_panel_chooser_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

/* ---- Progress ---- */

static void
nfn_task_panel_draw_curve (NfnTaskPanel *self)
{
  nfn_plot_clear (self->plot);
  if (self->curve_x->len)
    nfn_plot_add_series (self->plot, "mean PSNR of each shard", (NfnRgb) { 0.02, 0.44, 0.69 }, FALSE,
                         (const double *) (void *) self->curve_x->data, (const double *) (void *) self->curve_y->data,
                         (int) self->curve_x->len);
}

static char *
nfn_task_panel_format_eta (double seconds)
{
  if (!isfinite (seconds) || seconds < 0)
    return g_strdup ("unknown");
  return seconds < 120 ? g_strdup_printf ("%.0f s", seconds) : g_strdup_printf ("%.1f min", seconds / 60);
}

static gboolean
nfn_task_panel_apply_progress (gpointer data)
{
  NfnTaskProgress *message = data;
  NfnTaskPanel *self = message->panel;
  /* a message that arrives after the job ended (or the panel went away) is stale */
  if (self->busy && !self->disposed)
    {
      if (message->has_point)
        {
          g_array_append_val (self->curve_x, message->point_x);
          g_array_append_val (self->curve_y, message->point_y);
          nfn_task_panel_draw_curve (self);
        }
      if (message->done >= 0 && message->total > 0)
        {
          double fraction = (double) message->done / message->total;
          gtk_progress_bar_set_fraction (self->progress_bar, fraction);
          g_autofree char *text = g_strdup_printf ("%" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " networks",
                                                   message->done, message->total);
          gtk_progress_bar_set_text (self->progress_bar, text);
          double seconds = (g_get_monotonic_time () - self->started_us) / 1e6;
          double rate = seconds > 0 ? message->fitted / seconds : 0;
          g_autofree char *eta = nfn_task_panel_format_eta (rate > 0 ? (message->total - message->done) / rate : NAN);
          g_autofree char *line = g_strdup_printf ("%.1f networks/s · ETA %s · %.0f s elapsed", rate, eta, seconds);
          gtk_label_set_text (self->rate_label, line);
        }
    }
  g_object_unref (self);
  return G_SOURCE_REMOVE;
}

static void
nfn_task_panel_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  NfnTaskPanel *self = NFN_TASK_PANEL (source);
  NfnTaskJob *job = g_task_get_task_data (G_TASK (result));
  g_clear_object (&self->cancellable);
  if (self->disposed)
    return;
  nfn_task_panel_set_busy (self, FALSE);
  self->run_id = job->report.run_id;
  gboolean cancelled = g_error_matches (job->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_autofree char *text = NULL;
  if (job->ok)
    {
      gtk_progress_bar_set_fraction (self->progress_bar, 1.0);
      text = g_strdup_printf ("Completed: run %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT " networks in %s (%" G_GINT64_FORMAT
                              " fitted now in %.1f s), mean PSNR %.2f dB, 5th percentile %.2f dB.",
                              job->report.run_id, job->report.networks, job->dir, job->report.fitted, job->report.seconds,
                              job->report.psnr.mean, job->report.psnr.p5);
    }
  else if (cancelled)
    text = g_strdup_printf ("Cancelled: the finished shards stay in %s; Run again resumes them.", job->dir);
  else
    text = g_strdup_printf ("Failed: %s", job->error ? job->error->message : "unknown error");
  nfn_task_panel_set_status (self, text);
  gtk_widget_set_visible (GTK_WIDGET (self->show_button), self->run_id > 0);
  g_signal_emit (self, signals[SIGNAL_FINISHED], 0, self->run_id, job->ok);
}

gboolean
nfn_task_panel_start (NfnTaskPanel *self)
{
  g_return_val_if_fail (NFN_IS_TASK_PANEL (self), FALSE);
  if (self->busy)
    return FALSE;
  if (self->store_path == NULL)
    {
      nfn_task_panel_set_status (self, "No experiment store is open: nowhere to record the run.");
      return FALSE;
    }
  NfnTaskJob *job = g_new0 (NfnTaskJob, 1);
  job->panel = g_object_ref (self);
  job->store_path = g_strdup (self->store_path);
  job->dir = nfn_task_panel_get_zoo_dir (self);
  job->threads = gtk_spin_button_get_value_as_int (self->threads_spin);
  nfn_task_panel_read_settings (self, &job->settings);

  g_array_set_size (self->curve_x, 0);
  g_array_set_size (self->curve_y, 0);
  nfn_task_panel_draw_curve (self);
  gtk_progress_bar_set_fraction (self->progress_bar, 0);
  gtk_progress_bar_set_text (self->progress_bar, "starting…");
  gtk_label_set_text (self->rate_label, "");
  gtk_widget_set_visible (GTK_WIDGET (self->show_button), FALSE);
  g_autofree char *text = g_strdup_printf ("Fitting into %s…", job->dir);
  nfn_task_panel_set_status (self, text);

  self->cancellable = g_cancellable_new ();
  g_cancellable_connect (self->cancellable, G_CALLBACK (nfn_task_job_cancel), job, NULL);
  self->started_us = g_get_monotonic_time ();
  g_autoptr (GTask) task = g_task_new (self, self->cancellable, nfn_task_panel_done, NULL);
  g_task_set_source_tag (task, nfn_task_panel_start);
  g_task_set_task_data (task, job, (GDestroyNotify) nfn_task_job_free);
  nfn_task_panel_set_busy (self, TRUE);
  g_task_run_in_thread (task, nfn_task_job_run);
  return TRUE;
}

void
nfn_task_panel_cancel (NfnTaskPanel *self)
{
  g_return_if_fail (NFN_IS_TASK_PANEL (self));
  if (self->cancellable)
    {
      g_cancellable_cancel (self->cancellable);
      nfn_task_panel_set_status (self, "Cancelling: the shard being fitted is dropped…");
    }
}

static void
nfn_task_panel_show_clicked (NfnTaskPanel *self)
{
  if (self->run_id > 0)
    g_signal_emit (self, signals[SIGNAL_SHOW_RUN], 0, self->run_id);
}

gboolean
nfn_task_panel_get_busy (NfnTaskPanel *self)
{
  g_return_val_if_fail (NFN_IS_TASK_PANEL (self), FALSE);
  return self->busy;
}

double
nfn_task_panel_get_fraction (NfnTaskPanel *self)
{
  g_return_val_if_fail (NFN_IS_TASK_PANEL (self), 0);
  return gtk_progress_bar_get_fraction (self->progress_bar);
}

const char *
nfn_task_panel_get_status (NfnTaskPanel *self)
{
  g_return_val_if_fail (NFN_IS_TASK_PANEL (self), NULL);
  return gtk_label_get_text (self->status_label);
}

gint64
nfn_task_panel_get_run_id (NfnTaskPanel *self)
{
  g_return_val_if_fail (NFN_IS_TASK_PANEL (self), 0);
  return self->run_id;
}

NfnPlot *
nfn_task_panel_get_plot (NfnTaskPanel *self)
{
  g_return_val_if_fail (NFN_IS_TASK_PANEL (self), NULL);
  return self->plot;
}

/* ---- GObject ---- */

static void
nfn_task_panel_dispose (GObject *object)
{
  NfnTaskPanel *self = NFN_TASK_PANEL (object);
  self->disposed = TRUE;
  /* the worker stops at its next check; its GTask keeps the panel alive until then */
  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
  if (self->chooser)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);
  gtk_widget_dispose_template (GTK_WIDGET (self), NFN_TYPE_TASK_PANEL);
  nfn_widget_unparent_children (GTK_WIDGET (self));
  G_OBJECT_CLASS (nfn_task_panel_parent_class)->dispose (object);
}

static void
nfn_task_panel_finalize (GObject *object)
{
  NfnTaskPanel *self = NFN_TASK_PANEL (object);
  g_clear_object (&self->cancellable);
  g_free (self->store_path);
  g_array_unref (self->curve_x);
  g_array_unref (self->curve_y);
  G_OBJECT_CLASS (nfn_task_panel_parent_class)->finalize (object);
}

static void
nfn_task_panel_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_BUSY: g_value_set_boolean (value, NFN_TASK_PANEL (object)->busy); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
nfn_task_panel_class_init (NfnTaskPanelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = nfn_task_panel_dispose;
  object_class->finalize = nfn_task_panel_finalize;
  object_class->get_property = nfn_task_panel_get_property;

  properties[PROP_BUSY] = g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                                                G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
  signals[SIGNAL_FINISHED] = g_signal_new ("finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                           NULL, G_TYPE_NONE, 2, G_TYPE_INT64, G_TYPE_BOOLEAN);
  signals[SIGNAL_SHOW_RUN] = g_signal_new ("show-run", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                           NULL, G_TYPE_NONE, 1, G_TYPE_INT64);

  nfn_ui_get_resource ();
  g_type_ensure (NFN_TYPE_PLOT);
  gtk_widget_class_set_template_from_resource (widget_class, "/org/nfn/Workbench/ui/nfn-task-panel.ui");
  gtk_widget_class_bind_template_child (widget_class, NfnTaskPanel, task_dropdown);
  gtk_widget_class_bind_template_child (widget_class, NfnTaskPanel, dataset_dropdown);
  gtk_widget_class_bind_template_child (widget_class, NfnTaskPanel, split_dropdown);
  gtk_widget_class_bind_template_child (widget_class, NfnTaskPanel, images_spin);
  gtk_widget_class_bind_template_child (widget_class, NfnTaskPanel, refits_spin);
  gtk_widget_class_bind_template_child (widget_class, NfnTaskPanel, steps_spin);
  gtk_widget_class_bind_template_child (widget_class, NfnTaskPanel, lr_spin);
  gtk_widget_class_bind_template_child (widget_class, NfnTaskPanel, seed_spin);
  gtk_widget_class_bind_template_child (widget_class, NfnTaskPanel, threads_spin);
  gtk_widget_class_bind_template_child (widget_class, NfnTaskPanel, shard_spin);
  gtk_widget_class_bind_template_child (widget_class, NfnTaskPanel, dir_entry);
  gtk_widget_class_bind_template_child (widget_class, NfnTaskPanel, run_button);
  gtk_widget_class_bind_template_child (widget_class, NfnTaskPanel, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, NfnTaskPanel, show_button);
  gtk_widget_class_bind_template_child (widget_class, NfnTaskPanel, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, NfnTaskPanel, rate_label);
  gtk_widget_class_bind_template_child (widget_class, NfnTaskPanel, status_label);
  gtk_widget_class_bind_template_child (widget_class, NfnTaskPanel, form);
  gtk_widget_class_bind_template_child (widget_class, NfnTaskPanel, plot);
  gtk_widget_class_bind_template_callback (widget_class, nfn_task_panel_form_changed);
  gtk_widget_class_bind_template_callback (widget_class, nfn_task_panel_choose_dir);
  gtk_widget_class_bind_template_callback (widget_class, nfn_task_panel_start);
  gtk_widget_class_bind_template_callback (widget_class, nfn_task_panel_cancel);
  gtk_widget_class_bind_template_callback (widget_class, nfn_task_panel_show_clicked);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
nfn_task_panel_init (NfnTaskPanel *self)
{
  self->curve_x = g_array_new (FALSE, FALSE, sizeof (double));
  self->curve_y = g_array_new (FALSE, FALSE, sizeof (double));
  gtk_widget_init_template (GTK_WIDGET (self));
  NfnZooSettings defaults;
  nfn_zoo_settings_init (&defaults);
  defaults.count = NFN_TASK_PANEL_DEFAULT_IMAGES;
  defaults.shard_size = NFN_TASK_PANEL_DEFAULT_SHARD;
  nfn_task_panel_set_zoo_fit (self, &defaults, (int) g_get_num_processors (), NULL);
  nfn_zoo_settings_clear (&defaults);
  nfn_plot_set_title (self->plot, "Mean PSNR of each finished shard");
  nfn_plot_set_axis_labels (self->plot, "networks fitted", "PSNR (dB)");
  nfn_task_panel_set_status (self, "Set the options and press Run.");
}
