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
#include <string.h>

#include "nfn-draw.h"
#include "nfn-heatmap.h"
#include "nfn-image-grid.h"
#include "nfn-ui-resources.h"

/* ---- The job ---- */

typedef struct {
  NfnTaskPanel *panel;  /* a reference, for the messages */
  NfnTaskKind kind;
  char *store_path;
  /* zoo fit */
  char *dir;
  NfnZooSettings settings;
  int threads;
  volatile int cancel;  /* the engine's cancel flag */
  gint64 last_post_us;  /* progress messages are throttled */
  /* training tasks (data/nfn_task.h): options in, result out, then a preview of network
   * preview_index of the training zoo under the trained model */
  NfnTaskOptions options;
  NfnTaskResult result;
  gint64 preview_index;
  int rows, cols;
  float *before, *after, *target; /* edit: (P) each, 0…1 */
  nfn_feature mask;               /* mask: (1, C = 1), 0/1 */
  double sparsity;
  GdkTexture *scatter;            /* genpred: the run's scatter PNG, decoded here off the main thread */
  GError *preview_error;
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
  nfn_task_options_clear (&job->options);
  nfn_task_result_clear (&job->result);
  g_free (job->before);
  g_free (job->after);
  g_free (job->target);
  nfn_feature_free (&job->mask);
  g_clear_object (&job->scatter);
  g_clear_error (&job->preview_error);
  g_clear_error (&job->error);
  g_free (job);
}

typedef struct {
  NfnTaskPanel *panel;
  gint64 done, total, fitted;
  gboolean has_point; /* a finished shard: its mean PSNR joins the curve */
  double point_x, point_y;
  /* training tasks */
  gboolean train;
  gint64 step, steps;      /* optimiser steps done, of all epochs' */
  int epoch, epochs;
  double loss, val;        /* the epoch's running loss; the last validation metric (NAN before) */
  gboolean epoch_end;      /* val is the epoch's: it joins the curve */
  char *description;       /* the run's one-line description, once */
} NfnTaskProgress;

static void
nfn_task_progress_free (gpointer data)
{
  NfnTaskProgress *message = data;
  g_free (message->description);
  g_free (message);
}

static gboolean nfn_task_panel_apply_progress (gpointer data);

static void
nfn_task_job_post (NfnTaskJob *job, NfnTaskProgress *message)
{
  message->panel = g_object_ref (job->panel);
  g_main_context_invoke_full (NULL, G_PRIORITY_DEFAULT, nfn_task_panel_apply_progress, message, nfn_task_progress_free);
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
nfn_task_job_started (const char *description, gpointer data)
{
  NfnTaskJob *job = data;
  NfnTaskProgress *message = g_new0 (NfnTaskProgress, 1);
  *message = (NfnTaskProgress) { .done = -1, .description = g_strdup (description) };
  nfn_task_job_post (job, message);
}

static void
nfn_task_job_train_progress (const NfnTrainerProgress *p, gpointer data)
{
  NfnTaskJob *job = data;
  gint64 now = g_get_monotonic_time ();
  gboolean epoch_end = strcmp (p->phase, "epoch") == 0;
  if (!epoch_end && now - job->last_post_us < G_USEC_PER_SEC / NFN_TASK_PANEL_PROGRESS_HZ)
    return;
  job->last_post_us = now;
  NfnTaskProgress *message = g_new0 (NfnTaskProgress, 1);
  *message = (NfnTaskProgress) {
    .done = -1, .train = TRUE, .step = p->step, .steps = p->steps_per_epoch * p->epochs, .epoch = p->epoch,
    .epochs = p->epochs, .loss = p->loss, .val = p->val_value, .epoch_end = epoch_end,
  };
  nfn_task_job_post (job, message);
}

/* The trained model on one network of the training zoo (genpred: the run's scatter of the
 * test split): drawn when the job ends. */
static void
nfn_task_job_preview (NfnTaskJob *job)
{
  if (job->kind == NFN_TASK_KIND_GENPRED)
    {
      /* the figure the run recorded as its artifact, so the panel shows what the store holds */
      if (job->result.scatter_path)
        job->scatter = gdk_texture_new_from_filename (job->result.scatter_path, &job->preview_error);
      return;
    }
  g_autoptr (NfnStore) store = NULL;
  g_autofree char *zoo = NULL;
  if (job->options.zoo)
    zoo = g_strdup (job->options.zoo);
  else
    {
      /* a resumed run: the zoo its config names */
      g_autoptr (NfnRun) run = (store = nfn_store_open (job->store_path, TRUE, &job->preview_error))
                                   ? nfn_store_get_run (store, job->result.run_id, &job->preview_error) : NULL;
      g_autoptr (JsonParser) parser = json_parser_new ();
      if (run && json_parser_load_from_data (parser, run->config_json, -1, NULL)
          && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        zoo = g_strdup (json_object_get_string_member_with_default (json_node_get_object (json_parser_get_root (parser)),
                                                                    "zoo", NULL));
    }
  if (!zoo || !job->result.model_path)
    return;
  if (job->kind == NFN_TASK_KIND_EDIT)
    nfn_task_edit_preview (job->result.model_path, zoo, job->preview_index, &job->rows, &job->cols, &job->before,
                           &job->after, &job->target, &job->preview_error);
  else if (job->kind == NFN_TASK_KIND_MASK)
    nfn_task_mask_preview (job->result.model_path, zoo, job->preview_index, &job->mask, &job->sparsity,
                           &job->preview_error);
}

static void
nfn_task_job_run (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  NfnTaskJob *job = data;
  /* a connection of this thread's own: NfnStore is one thread's at a time */
  g_autoptr (NfnStore) store = nfn_store_open (job->store_path, FALSE, &job->error);
  if (store && job->kind != NFN_TASK_KIND_ZOO_FIT)
    {
      NfnTaskHooks hooks = { .started = nfn_task_job_started, .progress = nfn_task_job_train_progress, .user_data = job };
      gboolean (*run) (const NfnTaskOptions *, NfnStore *, const NfnTaskHooks *, GCancellable *, NfnTaskResult *,
                       GError **) = job->kind == NFN_TASK_KIND_CLASSIFY ? nfn_task_classify_run
                                    : job->kind == NFN_TASK_KIND_EDIT  ? nfn_task_edit_run
                                    : job->kind == NFN_TASK_KIND_MASK  ? nfn_task_mask_run
                                                                       : nfn_task_genpred_run;
      job->ok = run (&job->options, store, &hooks, cancellable, &job->result, &job->error);
      if (job->ok)
        nfn_task_job_preview (job);
    }
  else if (store)
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
  GtkLabel *rate_label, *status_label, *about_label;
  GtkWidget *form;
  NfnPlot *plot;
  GtkStack *train_stack;
  NfnTaskTrainForm *train_forms[NFN_TASK_KIND_GENPRED + 1]; /* by NfnTaskKind; [NFN_TASK_KIND_ZOO_FIT] is NULL */
  GtkWidget *preview_box;
  GtkBox *result_box;
  GtkLabel *result_label;
  GtkPicture *scatter_view;
  NfnImageGrid *edit_view;
  NfnHeatmap *mask_view;
  GtkWidget *mask_layer_box;
  GtkSpinButton *mask_layer_spin, *preview_spin;

  char *store_path;
  GCancellable *cancellable; /* the running job's, NULL when idle */
  gboolean busy;
  gint64 started_us;
  gint64 run_id;
  GArray *curve_x, *curve_y; /* double: the live curve's points (zoo fit; training: the loss) */
  GArray *val_x, *val_y;     /* double: training: the validation metric after each epoch */
  NfnTaskKind running_kind;
  gboolean running_spectral; /* genpred's spectral fit: no steps, cancelled between networks */
  const char *metric_name;   /* the running training task's validation metric */
  gint64 first_step, first_step_us; /* the ETA's rate counts this call's steps only */
  char *model_path;          /* the last training run's model */
  nfn_feature mask;          /* the last mask run's preview mask (1, C = 1), or empty */
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
  gtk_widget_set_sensitive (GTK_WIDGET (self->train_stack), !busy);
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
  int k = nfn_task_train_form_dropdown_index (dropdown, value);
  if (k >= 0)
    gtk_drop_down_set_selected (dropdown, (guint) k);
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

static char *
nfn_task_panel_format_eta (double seconds)
{
  if (!isfinite (seconds) || seconds < 0)
    return g_strdup ("unknown");
  return seconds < 120 ? g_strdup_printf ("%.0f s", seconds) : g_strdup_printf ("%.1f min", seconds / 60);
}

/* The validation metric a training run selects by, as the curve and status name it. */
static const char *
nfn_task_panel_metric_name (NfnTaskKind kind, const NfnTaskOptions *options)
{
  if (kind == NFN_TASK_KIND_MASK)
    return options->resume > 0 ? "val metric" : options->val_train > 0 ? "val masked accuracy" : "val IoU";
  if (kind == NFN_TASK_KIND_GENPRED)
    return "val τ";
  return kind == NFN_TASK_KIND_CLASSIFY ? "val accuracy" : "val MSE";
}

static void
nfn_task_panel_draw_curve (NfnTaskPanel *self)
{
  nfn_plot_clear (self->plot);
  gboolean train = self->running_kind != NFN_TASK_KIND_ZOO_FIT;
  if (self->curve_x->len)
    nfn_plot_add_series (self->plot, train ? "train loss (running mean of the epoch)" : "mean PSNR of each shard",
                         (NfnRgb) { 0.02, 0.44, 0.69 }, FALSE, (const double *) (void *) self->curve_x->data,
                         (const double *) (void *) self->curve_y->data, (int) self->curve_x->len);
  if (train && self->val_x->len)
    nfn_plot_add_series (self->plot, self->metric_name, (NfnRgb) { 0.85, 0.37, 0.01 },
                         FALSE, (const double *) (void *) self->val_x->data, (const double *) (void *) self->val_y->data,
                         (int) self->val_x->len);
}

static void
nfn_task_panel_curve_titles (NfnTaskPanel *self, NfnTaskKind kind)
{
  if (kind == NFN_TASK_KIND_ZOO_FIT)
    {
      nfn_plot_set_title (self->plot, "Mean PSNR of each finished shard");
      nfn_plot_set_axis_labels (self->plot, "networks fitted", "PSNR (dB)");
    }
  else
    {
      nfn_plot_set_title (self->plot, "Training loss and validation metric");
      nfn_plot_set_axis_labels (self->plot, "optimiser step", "loss / metric");
    }
}

static void
nfn_task_panel_apply_train_progress (NfnTaskPanel *self, const NfnTaskProgress *m)
{
  gint64 now = g_get_monotonic_time ();
  if (self->first_step_us == 0)
    {
      self->first_step = m->step;
      self->first_step_us = now;
    }
  double x = (double) m->step;
  if (isfinite (m->loss) && m->step > 0)
    {
      g_array_append_val (self->curve_x, x);
      g_array_append_val (self->curve_y, m->loss);
    }
  if (m->epoch_end && isfinite (m->val))
    {
      g_array_append_val (self->val_x, x);
      g_array_append_val (self->val_y, m->val);
    }
  nfn_task_panel_draw_curve (self);
  gtk_progress_bar_set_fraction (self->progress_bar, m->steps > 0 ? CLAMP ((double) m->step / m->steps, 0, 1) : 0);
  g_autofree char *text = g_strdup_printf ("epoch %d of %d · step %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT,
                                           MIN (m->epoch, m->epochs), m->epochs, m->step, m->steps);
  gtk_progress_bar_set_text (self->progress_bar, text);
  double seconds = (now - self->started_us) / 1e6, since_first = (now - self->first_step_us) / 1e6;
  double rate = since_first > 0 ? (m->step - self->first_step) / since_first : 0;
  g_autofree char *eta = nfn_task_panel_format_eta (rate > 0 ? (m->steps - m->step) / rate : NAN);
  g_autofree char *line = g_strdup_printf ("%.1f steps/s · loss %.4f · %s %.4g · ETA %s · %.0f s elapsed", rate, m->loss,
                                           self->metric_name, m->val, eta, seconds);
  gtk_label_set_text (self->rate_label, line);
}

static gboolean
nfn_task_panel_apply_progress (gpointer data)
{
  NfnTaskProgress *message = data;
  NfnTaskPanel *self = message->panel;
  /* a message that arrives after the job ended (or the panel went away) is stale */
  if (self->busy && !self->disposed && message->description)
    nfn_task_panel_set_status (self, message->description);
  else if (self->busy && !self->disposed && message->train)
    nfn_task_panel_apply_train_progress (self, message);
  else if (self->busy && !self->disposed)
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

/* The mask preview's W_layer on the heatmap, and the sparsity line. */
static void
nfn_task_panel_show_mask_layer (NfnTaskPanel *self)
{
  if (!self->mask.data)
    return;
  const nfn_space *space = &self->mask.space;
  int layer = CLAMP (gtk_spin_button_get_value_as_int (self->mask_layer_spin), 1, space->L);
  int rows = space->n[layer], cols = space->n[layer - 1];
  const float *w = self->mask.t[nfn_tensor_weight (layer)];
  size_t kept = 0;
  for (int k = 0; k < rows * cols; k++)
    kept += w[k] != 0;
  nfn_heatmap_set_matrix (self->mask_view, rows, cols, w);
  nfn_heatmap_set_scale (self->mask_view, 1.0);
  g_autofree char *title = g_strdup_printf ("Mask of W%d (%d × %d): kept 1, pruned 0", layer, rows, cols);
  nfn_heatmap_set_title (self->mask_view, title);
  g_autofree char *line = g_strdup_printf ("Sparsity %.2f %% of the weights pruned (W%d: %.2f %%); model %s",
                                           100 * nfn_task_mask_sparsity (&self->mask), layer,
                                           100 * (1 - (double) kept / (rows * cols)), self->model_path);
  gtk_label_set_text (self->result_label, line);
}

/* What a finished training job shows: the curve stays; edit and mask add their preview. */
static char *
nfn_task_panel_train_done (NfnTaskPanel *self, NfnTaskJob *job)
{
  const NfnTrainerReport *report = &job->result.report;
  const char *metric = job->kind == NFN_TASK_KIND_CLASSIFY ? "accuracy"
                       : job->kind == NFN_TASK_KIND_EDIT   ? "mse"
                       : job->kind == NFN_TASK_KIND_MASK   ? "iou"
                                                           : "tau";
  g_free (self->model_path);
  self->model_path = g_strdup (job->result.model_path);
  gtk_widget_set_visible (GTK_WIDGET (self->edit_view), FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->mask_view), FALSE);
  gtk_widget_set_visible (self->mask_layer_box, FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->scatter_view), FALSE);
  gtk_picture_set_paintable (self->scatter_view, NULL);
  gtk_label_set_text (self->result_label, "");
  if (job->kind == NFN_TASK_KIND_EDIT && job->before)
    {
      int P = job->rows * job->cols;
      g_autofree float *images = g_new (float, 3 * P);
      memcpy (images, job->before, P * sizeof (float));
      memcpy (images + P, job->after, P * sizeof (float));
      memcpy (images + 2 * P, job->target, P * sizeof (float));
      nfn_image_grid_set_images (self->edit_view, 3, job->rows, job->cols, 1, images, 0, 1);
      g_autofree char *title = g_strdup_printf ("Network %" G_GINT64_FORMAT ": before · after · target (%s)",
                                                job->preview_index, job->result.transform);
      nfn_image_grid_set_title (self->edit_view, title);
      gtk_widget_set_visible (GTK_WIDGET (self->edit_view), TRUE);
      g_autofree char *line = g_strdup_printf ("Val MSE %.5f (unedited %.5f); model %s",
                                               nfn_trainer_metrics_get (&report->val, "mse"), job->result.unedited_val,
                                               job->result.model_path);
      gtk_label_set_text (self->result_label, line);
    }
  if (job->kind == NFN_TASK_KIND_MASK && job->mask.data)
    {
      nfn_feature_free (&self->mask);
      self->mask = job->mask;
      memset (&job->mask, 0, sizeof job->mask);
      gtk_spin_button_set_range (self->mask_layer_spin, 1, self->mask.space.L);
      nfn_task_panel_show_mask_layer (self);
      gtk_widget_set_visible (GTK_WIDGET (self->mask_view), TRUE);
      gtk_widget_set_visible (self->mask_layer_box, TRUE);
    }
  if (job->kind == NFN_TASK_KIND_GENPRED && job->scatter)
    {
      gtk_picture_set_paintable (self->scatter_view, GDK_PAINTABLE (job->scatter));
      gtk_widget_set_visible (GTK_WIDGET (self->scatter_view), TRUE);
      g_autofree char *line = g_strdup_printf ("Test split, %d CNNs (train %d, val %d): %s; model %s",
                                               job->result.test_networks, job->result.train_networks,
                                               job->result.val_networks, job->result.scatter_path, job->result.model_path);
      gtk_label_set_text (self->result_label, line);
    }
  if (job->preview_error)
    {
      g_autofree char *line = g_strdup_printf ("No preview: %s", job->preview_error->message);
      gtk_label_set_text (self->result_label, line);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->result_box), job->kind != NFN_TASK_KIND_CLASSIFY || job->preview_error);
  g_autofree char *wall = g_strdup_printf ("%.1f s", report->seconds);
  double test_tau = nfn_trainer_metrics_get (&report->test, "tau"), test_r2 = nfn_trainer_metrics_get (&report->test, "r2");
  if (job->kind == NFN_TASK_KIND_GENPRED && g_strcmp0 (job->result.model_name, NFN_TASK_TRAIN_FORM_SPECTRAL) == 0)
    return g_strdup_printf ("Completed: run %" G_GINT64_FORMAT " (%s: least squares on each layer's α), val τ %.4f, test τ"
                            " %.4f, R² %.4f; τ of −mean α %.4f, %s.",
                            job->result.run_id, job->result.model_name, nfn_trainer_metrics_get (&report->val, "tau"),
                            test_tau, test_r2, nfn_trainer_metrics_get (&report->test, "tau_neg_alpha"), wall);
  if (job->kind == NFN_TASK_KIND_GENPRED)
    return g_strdup_printf ("Completed: run %" G_GINT64_FORMAT " (%s), best epoch %d of %d, val τ %.4f, test τ %.4f, R² %.4f,"
                            " %zu parameters, %s.",
                            job->result.run_id, job->result.model_name, report->best_epoch, report->epochs_done,
                            nfn_trainer_metrics_get (&report->val, "tau"), test_tau, test_r2, report->params, wall);
  return g_strdup_printf ("Completed: run %" G_GINT64_FORMAT " (%s), best epoch %d of %d, val %s %.4g, %zu parameters, %s.",
                          job->result.run_id, job->result.model_name, report->best_epoch, report->epochs_done, metric,
                          nfn_trainer_metrics_get (&report->val, metric), report->params, wall);
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
  gboolean train = job->kind != NFN_TASK_KIND_ZOO_FIT;
  self->run_id = train ? job->result.report.run_id : job->report.run_id;
  gboolean cancelled = g_error_matches (job->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_autofree char *text = NULL;
  if (job->ok)
    gtk_progress_bar_set_fraction (self->progress_bar, 1.0);
  if (job->ok && train)
    text = nfn_task_panel_train_done (self, job);
  else if (job->ok)
    {
      g_autofree char *grown = job->report.grown_from > 0
                                   ? g_strdup_printf (", grown from %" G_GINT64_FORMAT, job->report.grown_from)
                                   : g_strdup ("");
      text = g_strdup_printf ("Completed: run %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT " networks in %s (%" G_GINT64_FORMAT
                              " fitted now in %.1f s%s), mean PSNR %.2f dB, 5th percentile %.2f dB.",
                              job->report.run_id, job->report.networks, job->dir, job->report.fitted,
                              job->report.seconds, grown, job->report.psnr.mean, job->report.psnr.p5);
    }
  else if (cancelled && train && self->run_id <= 0)
    text = g_strdup ("Cancelled before the run was recorded.");
  else if (cancelled && train)
    text = g_strdup_printf ("Cancelled: run %" G_GINT64_FORMAT " keeps its last epoch's checkpoint; `nfn train … --resume %"
                            G_GINT64_FORMAT "` continues it.", self->run_id, self->run_id);
  else if (cancelled)
    text = g_strdup_printf ("Cancelled: the finished shards stay in %s; Run again resumes them.", job->dir);
  else
    text = g_strdup_printf ("Failed: %s", job->error ? job->error->message : "unknown error");
  nfn_task_panel_set_status (self, text);
  gtk_widget_set_visible (GTK_WIDGET (self->show_button), self->run_id > 0);
  g_signal_emit (self, signals[SIGNAL_FINISHED], 0, self->run_id, job->ok);
}

NfnTaskKind
nfn_task_panel_get_task (NfnTaskPanel *self)
{
  g_return_val_if_fail (NFN_IS_TASK_PANEL (self), NFN_TASK_KIND_ZOO_FIT);
  return (NfnTaskKind) gtk_drop_down_get_selected (self->task_dropdown);
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
  NfnTaskKind kind = nfn_task_panel_get_task (self);
  NfnTaskJob *job = g_new0 (NfnTaskJob, 1);
  job->panel = g_object_ref (self);
  job->kind = kind;
  job->store_path = g_strdup (self->store_path);
  self->running_spectral = FALSE;
  g_autofree char *text = NULL;
  if (kind == NFN_TASK_KIND_ZOO_FIT)
    {
      job->dir = nfn_task_panel_get_zoo_dir (self);
      job->threads = gtk_spin_button_get_value_as_int (self->threads_spin);
      nfn_task_panel_read_settings (self, &job->settings);
      text = g_strdup_printf ("Fitting into %s…", job->dir);
    }
  else
    {
      nfn_task_train_form_get_options (self->train_forms[kind], &job->options);
      job->preview_index = gtk_spin_button_get_value_as_int (self->preview_spin);
      self->metric_name = nfn_task_panel_metric_name (kind, &job->options);
      self->running_spectral = kind == NFN_TASK_KIND_GENPRED
                               && g_strcmp0 (job->options.model, NFN_TASK_TRAIN_FORM_SPECTRAL) == 0;
      if (!job->options.zoo)
        {
          nfn_task_job_free (job);
          nfn_task_panel_set_status (self, "Choose a training zoo first.");
          return FALSE;
        }
      text = g_strdup_printf ("Loading %s…", job->options.zoo);
    }
  self->running_kind = kind;
  nfn_task_panel_curve_titles (self, kind);
  g_array_set_size (self->curve_x, 0);
  g_array_set_size (self->curve_y, 0);
  g_array_set_size (self->val_x, 0);
  g_array_set_size (self->val_y, 0);
  self->first_step = self->first_step_us = 0;
  nfn_task_panel_draw_curve (self);
  gtk_progress_bar_set_fraction (self->progress_bar, 0);
  gtk_progress_bar_set_text (self->progress_bar, self->running_spectral ? "fitting α of each layer (no epochs)…"
                                                                        : "starting…");
  gtk_label_set_text (self->rate_label, "");
  gtk_widget_set_visible (GTK_WIDGET (self->show_button), FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->result_box), FALSE);
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
      nfn_task_panel_set_status (self, self->running_kind == NFN_TASK_KIND_ZOO_FIT
                                           ? "Cancelling: the shard being fitted is dropped…"
                                       : self->running_spectral
                                           ? "Cancelling at the next network: the spectral fit records no run…"
                                           : "Cancelling at the next step: the last epoch's checkpoint stays…");
    }
}

void
nfn_task_panel_set_task (NfnTaskPanel *self, NfnTaskKind kind)
{
  g_return_if_fail (NFN_IS_TASK_PANEL (self));
  gtk_drop_down_set_selected (self->task_dropdown, (guint) kind);
}

void
nfn_task_panel_set_train_options (NfnTaskPanel *self, NfnTaskKind kind, const NfnTaskOptions *options)
{
  g_return_if_fail (NFN_IS_TASK_PANEL (self));
  g_return_if_fail (kind != NFN_TASK_KIND_ZOO_FIT);
  nfn_task_train_form_set_options (self->train_forms[kind], options);
}

void
nfn_task_panel_get_train_options (NfnTaskPanel *self, NfnTaskKind kind, NfnTaskOptions *options)
{
  g_return_if_fail (NFN_IS_TASK_PANEL (self));
  g_return_if_fail (kind != NFN_TASK_KIND_ZOO_FIT);
  nfn_task_train_form_get_options (self->train_forms[kind], options);
}

void
nfn_task_panel_set_preview_index (NfnTaskPanel *self, gint64 index)
{
  g_return_if_fail (NFN_IS_TASK_PANEL (self));
  gtk_spin_button_set_value (self->preview_spin, (double) index);
}

void
nfn_task_panel_set_mask_layer (NfnTaskPanel *self, int layer)
{
  g_return_if_fail (NFN_IS_TASK_PANEL (self));
  gtk_spin_button_set_value (self->mask_layer_spin, layer);
  nfn_task_panel_show_mask_layer (self);
}

NfnImageGrid *
nfn_task_panel_get_edit_view (NfnTaskPanel *self)
{
  g_return_val_if_fail (NFN_IS_TASK_PANEL (self), NULL);
  return self->edit_view;
}

NfnHeatmap *
nfn_task_panel_get_mask_view (NfnTaskPanel *self)
{
  g_return_val_if_fail (NFN_IS_TASK_PANEL (self), NULL);
  return self->mask_view;
}

GtkPicture *
nfn_task_panel_get_scatter_view (NfnTaskPanel *self)
{
  g_return_val_if_fail (NFN_IS_TASK_PANEL (self), NULL);
  return self->scatter_view;
}

const char *
nfn_task_panel_get_result_text (NfnTaskPanel *self)
{
  g_return_val_if_fail (NFN_IS_TASK_PANEL (self), NULL);
  return gtk_label_get_text (self->result_label);
}

const char *
nfn_task_panel_get_model_path (NfnTaskPanel *self)
{
  g_return_val_if_fail (NFN_IS_TASK_PANEL (self), NULL);
  return self->model_path;
}

/* What each task does, above its form. */
static const char *const nfn_task_panel_about[] = {
  "One SIREN 2→32→32→1 is fitted to each image of a data set split, by Adam on every pixel. The zoo is written in "
  "shards and can be resumed, or grown by running again with more images; the run goes to the experiment store.",
  "An NFN learns the class of each SIREN's image from its weights alone. Refits are extra training examples; the best "
  "epoch by validation accuracy is saved. The same run as nfn train classify.",
  "An NFN learns a weight delta so that each edited SIREN renders the transformed image. The best epoch by validation "
  "MSE is saved; one network is shown before and after the edit, beside its target. The same run as nfn train edit.",
  "An NFN maps an MLP's initialisation to its winning-ticket mask. The best epoch is saved; the mask it predicts for "
  "one init is shown as a heatmap with its sparsity. The same run as nfn train mask.",
  "An NFN predicts each CNN's test accuracy from its weights alone (spectral: a least-squares fit on each layer's α, "
  "no training). The zoo is split 80/10/10 by training run; the best epoch by validation Kendall τ is saved and the "
  "test split's predicted against true accuracy is shown with its τ and R². The same run as nfn train genpred.",
};

static void
nfn_task_panel_task_changed (NfnTaskPanel *self)
{
  NfnTaskKind kind = nfn_task_panel_get_task (self);
  gtk_label_set_text (self->about_label, nfn_task_panel_about[kind]);
  gtk_widget_set_visible (self->form, kind == NFN_TASK_KIND_ZOO_FIT);
  gtk_widget_set_visible (GTK_WIDGET (self->train_stack), kind != NFN_TASK_KIND_ZOO_FIT);
  gtk_widget_set_visible (self->preview_box, kind == NFN_TASK_KIND_EDIT || kind == NFN_TASK_KIND_MASK);
  if (kind != NFN_TASK_KIND_ZOO_FIT)
    gtk_stack_set_visible_child (self->train_stack, GTK_WIDGET (self->train_forms[kind]));
  /* an empty plot is titled for the task about to run; a finished run's curve keeps its own */
  if (!self->busy && self->curve_x->len == 0 && self->val_x->len == 0)
    nfn_task_panel_curve_titles (self, kind);
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

/* The training forms (one per task, in the stack) and the result views, made in code. */
static void
nfn_task_panel_build_results (NfnTaskPanel *self)
{
  for (NfnTaskKind kind = NFN_TASK_KIND_CLASSIFY; kind <= NFN_TASK_KIND_GENPRED; kind++)
    {
      self->train_forms[kind] = NFN_TASK_TRAIN_FORM (nfn_task_train_form_new (kind));
      gtk_stack_add_child (self->train_stack, GTK_WIDGET (self->train_forms[kind]));
    }
  GtkWidget *preview_box = self->preview_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *preview_label = gtk_label_new ("Preview network");
  gtk_widget_add_css_class (preview_label, "dim-label");
  self->preview_spin = GTK_SPIN_BUTTON (gtk_spin_button_new_with_range (0, G_MAXINT32, 1));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->preview_spin),
                               "The training zoo's network (image) an edit or mask run shows when it ends");
  gtk_box_append (GTK_BOX (preview_box), preview_label);
  gtk_box_append (GTK_BOX (preview_box), GTK_WIDGET (self->preview_spin));
  gtk_box_append (GTK_BOX (gtk_widget_get_parent (GTK_WIDGET (self->train_stack))), preview_box);
  /* keep it just under the forms, above Run and Cancel */
  gtk_box_reorder_child_after (GTK_BOX (gtk_widget_get_parent (GTK_WIDGET (self->train_stack))), preview_box,
                               GTK_WIDGET (self->train_stack));

  self->result_label = GTK_LABEL (gtk_label_new (""));
  gtk_label_set_xalign (self->result_label, 0);
  gtk_label_set_wrap (self->result_label, TRUE);
  gtk_label_set_selectable (self->result_label, TRUE);
  self->edit_view = NFN_IMAGE_GRID (nfn_image_grid_new ());
  nfn_image_grid_set_columns (self->edit_view, 3);
  nfn_image_grid_set_tile_size (self->edit_view, 112);
  gtk_widget_set_visible (GTK_WIDGET (self->edit_view), FALSE);
  self->mask_view = NFN_HEATMAP (nfn_heatmap_new ());
  gtk_widget_set_size_request (GTK_WIDGET (self->mask_view), -1, 220);
  gtk_widget_set_visible (GTK_WIDGET (self->mask_view), FALSE);
  self->mask_layer_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *layer_label = gtk_label_new ("Layer");
  gtk_widget_add_css_class (layer_label, "dim-label");
  self->mask_layer_spin = GTK_SPIN_BUTTON (gtk_spin_button_new_with_range (1, 1, 1));
  g_signal_connect_swapped (self->mask_layer_spin, "value-changed", G_CALLBACK (nfn_task_panel_show_mask_layer), self);
  gtk_box_append (GTK_BOX (self->mask_layer_box), layer_label);
  gtk_box_append (GTK_BOX (self->mask_layer_box), GTK_WIDGET (self->mask_layer_spin));
  gtk_widget_set_visible (self->mask_layer_box, FALSE);
  self->scatter_view = GTK_PICTURE (gtk_picture_new ());
  gtk_picture_set_content_fit (self->scatter_view, GTK_CONTENT_FIT_CONTAIN);
  gtk_picture_set_can_shrink (self->scatter_view, TRUE);
  gtk_widget_set_size_request (GTK_WIDGET (self->scatter_view), -1, 320);
  gtk_picture_set_alternative_text (self->scatter_view, "Predicted against true test accuracy of the test split's CNNs");
  gtk_widget_set_visible (GTK_WIDGET (self->scatter_view), FALSE);
  gtk_box_append (self->result_box, GTK_WIDGET (self->edit_view));
  gtk_box_append (self->result_box, self->mask_layer_box);
  gtk_box_append (self->result_box, GTK_WIDGET (self->mask_view));
  gtk_box_append (self->result_box, GTK_WIDGET (self->scatter_view));
  gtk_box_append (self->result_box, GTK_WIDGET (self->result_label));
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
  g_array_unref (self->val_x);
  g_array_unref (self->val_y);
  g_free (self->model_path);
  nfn_feature_free (&self->mask);
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
  gtk_widget_class_bind_template_child (widget_class, NfnTaskPanel, about_label);
  gtk_widget_class_bind_template_child (widget_class, NfnTaskPanel, form);
  gtk_widget_class_bind_template_child (widget_class, NfnTaskPanel, plot);
  gtk_widget_class_bind_template_child (widget_class, NfnTaskPanel, train_stack);
  gtk_widget_class_bind_template_child (widget_class, NfnTaskPanel, result_box);
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
  self->val_x = g_array_new (FALSE, FALSE, sizeof (double));
  self->val_y = g_array_new (FALSE, FALSE, sizeof (double));
  self->metric_name = "val metric";
  gtk_widget_init_template (GTK_WIDGET (self));
  nfn_task_panel_build_results (self);
  NfnZooSettings defaults;
  nfn_zoo_settings_init (&defaults);
  defaults.count = NFN_TASK_PANEL_DEFAULT_IMAGES;
  defaults.shard_size = NFN_TASK_PANEL_DEFAULT_SHARD;
  nfn_task_panel_set_zoo_fit (self, &defaults, (int) g_get_num_processors (), NULL);
  nfn_zoo_settings_clear (&defaults);
  g_signal_connect_swapped (self->task_dropdown, "notify::selected", G_CALLBACK (nfn_task_panel_task_changed), self);
  nfn_task_panel_task_changed (self); /* also titles the empty plot */
  nfn_task_panel_set_status (self, "Set the options and press Run.");
}
