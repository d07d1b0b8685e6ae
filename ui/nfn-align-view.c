/* nfn-align-view.c — NfnAlignView: partners, the alignment job on a worker thread, the plot.
 *
 * Shape letters as in nfn_core.h; N probe inputs, K outputs, S = NFN_ALIGN_STEPS.
 */
#include "nfn-align-view.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>

#include "nfn-draw.h"
#include "nfn-ui-resources.h"

#define NFN_ALIGN_PARTNER_SEED 1234

/* ---- The job: everything the worker thread owns ---- */

typedef struct {
  NfnNetwork *a, *b;       /* copies */
  float *target;           /* (N) in −1…1, or NULL */
  /* results */
  nfn_status status;
  int sweeps_ok;           /* the search converged */
  double alpha[NFN_ALIGN_STEPS];
  double naive[NFN_ALIGN_STEPS], aligned[NFN_ALIGN_STEPS];               /* MSE vs f_A */
  double naive_target[NFN_ALIGN_STEPS], aligned_target[NFN_ALIGN_STEPS]; /* MSE vs target */
  double distance_before, distance_after;                               /* ‖A − B‖, ‖A − σB‖ */
} NfnAlignJob;

static void
nfn_align_job_free (NfnAlignJob *job)
{
  nfn_network_free (job->a);
  nfn_network_free (job->b);
  g_free (job->target);
  g_free (job);
}

/* The MSE of θ_α = (1 − α)·A + α·B along the path, against f_A and the target. */
static void
nfn_align_job_path (NfnAlignJob *job, NfnProbe *probe, const nfn_feature *b, const float *f_a, double *mse,
                    double *mse_target)
{
  const nfn_feature *a = &job->a->weights;
  size_t n_out = nfn_probe_output_size (probe);
  nfn_feature theta;
  nfn_feature_alloc (&theta, &a->space, 1, 1);
  g_autofree float *f = g_new (float, n_out);
  for (int s = 0; s < NFN_ALIGN_STEPS; s++)
    {
      double alpha = job->alpha[s];
      for (size_t e = 0; e < a->size; e++)
        theta.data[e] = (float) ((1 - alpha) * a->data[e] + alpha * b->data[e]);
      nfn_probe_run (probe, &theta, f);
      mse[s] = nfn_probe_mse (f, f_a, n_out);
      mse_target[s] = job->target ? nfn_probe_mse (f, job->target, n_out) : NAN;
    }
  nfn_feature_free (&theta);
}

static void
nfn_align_job_run (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  NfnAlignJob *job = data;
  const nfn_space *s = &job->a->arch.space;
  nfn_perm sigma;
  nfn_perm_alloc (&sigma, s);
  job->status = nfn_perm_align (&job->a->weights, &job->b->weights, NFN_ALIGN_MAX_SWEEPS, NULL, &sigma);
  job->sweeps_ok = job->status == NFN_OK;
  if (job->status != NFN_OK && job->status != NFN_ERR_NOT_CONVERGED)
    {
      nfn_perm_free (&sigma);
      g_task_return_boolean (task, TRUE);
      return;
    }
  nfn_feature aligned;
  nfn_feature_alloc (&aligned, s, 1, 1);
  nfn_perm_apply (&sigma, &job->b->weights, &aligned);
  job->distance_before = nfn_weight_distance (&job->a->weights, &job->b->weights);
  job->distance_after = nfn_weight_distance (&job->a->weights, &aligned);

  g_autoptr (NfnProbe) probe = nfn_probe_new (&job->a->arch, NFN_ORBIT_GRID);
  g_autofree float *f_a = g_new (float, nfn_probe_output_size (probe));
  nfn_probe_run (probe, &job->a->weights, f_a);
  for (int k = 0; k < NFN_ALIGN_STEPS; k++)
    job->alpha[k] = (double) k / (NFN_ALIGN_STEPS - 1);
  nfn_align_job_path (job, probe, &job->b->weights, f_a, job->naive, job->naive_target);
  nfn_align_job_path (job, probe, &aligned, f_a, job->aligned, job->aligned_target);
  nfn_feature_free (&aligned);
  nfn_perm_free (&sigma);
  g_task_return_boolean (task, TRUE);
}

/* ---- The widget ---- */

struct _NfnAlignView
{
  GtkWidget parent_instance;

  GtkDropDown *partner_dropdown;
  GtkButton *align_button;
  GtkSpinner *spinner;
  NfnPlot *plot;
  GtkLabel *summary_label;

  NfnOrbit *orbit;
  NfnNetwork *twin; /* or NULL */
  float *target; /* (R·Cc) pixels in 0…1, or NULL */
  int target_rows, target_cols;
  GCancellable *cancellable;
  gboolean busy;
  gboolean has_result;
  double naive[NFN_ALIGN_STEPS], aligned[NFN_ALIGN_STEPS];
  GtkFileChooserNative *chooser;
  guint64 partner_count; /* each re-initialisation or noisy copy is a new draw */
};

G_DEFINE_FINAL_TYPE (NfnAlignView, nfn_align_view, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_BUSY,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

GtkWidget *
nfn_align_view_new (void)
{
  return g_object_new (NFN_TYPE_ALIGN_VIEW, NULL);
}

static void
nfn_align_view_set_busy (NfnAlignView *self, gboolean busy)
{
  if (self->busy == busy)
    return;
  self->busy = busy;
  gtk_spinner_set_spinning (self->spinner, busy);
  gtk_widget_set_sensitive (GTK_WIDGET (self->align_button), !busy);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

void
nfn_align_view_set_orbit (NfnAlignView *self, NfnOrbit *orbit)
{
  g_return_if_fail (NFN_IS_ALIGN_VIEW (self));
  g_return_if_fail (orbit == NULL || NFN_IS_ORBIT (orbit));
  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  nfn_align_view_set_busy (self, FALSE);
  g_set_object (&self->orbit, orbit);
  nfn_plot_clear (self->plot);
  self->has_result = FALSE;
}

void
nfn_align_view_set_partner (NfnAlignView *self, NfnAlignPartner partner)
{
  g_return_if_fail (NFN_IS_ALIGN_VIEW (self));
  gtk_drop_down_set_selected (self->partner_dropdown, partner);
}

void
nfn_align_view_set_twin (NfnAlignView *self, const NfnNetwork *twin)
{
  g_return_if_fail (NFN_IS_ALIGN_VIEW (self));
  g_clear_pointer (&self->twin, nfn_network_free);
  if (twin)
    {
      self->twin = nfn_network_copy (twin);
      gtk_drop_down_set_selected (self->partner_dropdown, NFN_ALIGN_PARTNER_TWIN);
    }
  else if (gtk_drop_down_get_selected (self->partner_dropdown) == NFN_ALIGN_PARTNER_TWIN)
    gtk_drop_down_set_selected (self->partner_dropdown, NFN_ALIGN_PARTNER_REINIT);
}

void
nfn_align_view_set_target (NfnAlignView *self, const float *pixels, int rows, int cols)
{
  g_return_if_fail (NFN_IS_ALIGN_VIEW (self));
  g_clear_pointer (&self->target, g_free);
  if (pixels && rows > 0 && cols > 0)
    {
      self->target = g_memdup2 (pixels, (size_t) rows * cols * sizeof (float));
      self->target_rows = rows;
      self->target_cols = cols;
    }
}

gboolean
nfn_align_view_get_busy (NfnAlignView *self)
{
  g_return_val_if_fail (NFN_IS_ALIGN_VIEW (self), FALSE);
  return self->busy;
}

NfnPlot *
nfn_align_view_get_plot (NfnAlignView *self)
{
  g_return_val_if_fail (NFN_IS_ALIGN_VIEW (self), NULL);
  return self->plot;
}

const char *
nfn_align_view_get_summary (NfnAlignView *self)
{
  g_return_val_if_fail (NFN_IS_ALIGN_VIEW (self), NULL);
  return gtk_label_get_text (self->summary_label);
}

const double *
nfn_align_view_get_curve (NfnAlignView *self, gboolean aligned)
{
  g_return_val_if_fail (NFN_IS_ALIGN_VIEW (self), NULL);
  if (!self->has_result)
    return NULL;
  return aligned ? self->aligned : self->naive;
}

double
nfn_align_barrier (const double *curve)
{
  double barrier = 0;
  for (int s = 0; s < NFN_ALIGN_STEPS; s++)
    {
      double alpha = (double) s / (NFN_ALIGN_STEPS - 1);
      barrier = MAX (barrier, curve[s] - ((1 - alpha) * curve[0] + alpha * curve[NFN_ALIGN_STEPS - 1]));
    }
  return barrier;
}

static void
nfn_align_view_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  NfnAlignView *self = NFN_ALIGN_VIEW (source);
  GTask *task = G_TASK (result);
  if (g_cancellable_is_cancelled (g_task_get_cancellable (task)))
    return;
  g_clear_object (&self->cancellable);
  nfn_align_view_set_busy (self, FALSE);
  NfnAlignJob *job = g_task_get_task_data (task);
  if (job->status != NFN_OK && job->status != NFN_ERR_NOT_CONVERGED)
    {
      g_autofree char *message = g_strdup_printf ("Weight matching failed: %s.", nfn_status_message (job->status));
      gtk_label_set_text (self->summary_label, message);
      return;
    }

  /* The loss barrier of Git Re-Basin is measured against the data: with a source image its
   * MSE is the curve that counts, and the distance from A's function is drawn dashed. */
  const double *naive = job->target ? job->naive_target : job->naive;
  const double *aligned = job->target ? job->aligned_target : job->aligned;
  memcpy (self->naive, naive, sizeof self->naive);
  memcpy (self->aligned, aligned, sizeof self->aligned);
  self->has_result = TRUE;
  nfn_plot_clear (self->plot);
  nfn_plot_set_title (self->plot, job->target ? "MSE against the source image along the straight path A → B"
                                              : "MSE against A’s function along the straight path A → B");
  NfnRgb grey = { 0.45, 0.45, 0.48 }, blue = { 0.02, 0.44, 0.69 };
  nfn_plot_add_series (self->plot, "naive: (1−α)A + αB", grey, FALSE, job->alpha, naive, NFN_ALIGN_STEPS);
  nfn_plot_add_series (self->plot, "aligned: (1−α)A + α·σB", blue, FALSE, job->alpha, aligned, NFN_ALIGN_STEPS);
  if (job->target)
    {
      nfn_plot_add_series (self->plot, "naive vs A’s function", grey, TRUE, job->alpha, job->naive, NFN_ALIGN_STEPS);
      nfn_plot_add_series (self->plot, "aligned vs A’s function", blue, TRUE, job->alpha, job->aligned,
                           NFN_ALIGN_STEPS);
    }
  char naive_text[G_ASCII_DTOSTR_BUF_SIZE], aligned_text[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd (naive_text, sizeof naive_text, "%.2g", nfn_align_barrier (naive));
  g_ascii_formatd (aligned_text, sizeof aligned_text, "%.2g", nfn_align_barrier (aligned));
  g_autofree char *summary = g_strdup_printf (
    "Barrier (rise above the line between the ends, MSE against %s): naive %s, aligned %s. Distance ‖A − B‖ = "
    "%.3g → ‖A − σB‖ = %.3g%s",
    job->target ? "the source image" : "A’s function", naive_text, aligned_text, job->distance_before,
    job->distance_after, job->sweeps_ok ? "." : " (search stopped at its sweep limit).");
  gtk_label_set_text (self->summary_label, summary);
}

gboolean
nfn_align_view_run_with (NfnAlignView *self, const NfnNetwork *partner)
{
  g_return_val_if_fail (NFN_IS_ALIGN_VIEW (self), FALSE);
  g_return_val_if_fail (partner != NULL, FALSE);
  if (self->orbit == NULL)
    return FALSE;
  const NfnNetwork *a = nfn_orbit_get_current (self->orbit);
  if (a->arch.kind != partner->arch.kind || !nfn_space_equal (&a->arch.space, &partner->arch.space))
    {
      g_autofree char *message = g_strdup_printf ("%s does not have this network’s architecture: nothing to align.",
                                                  partner->path ? partner->path : "The partner");
      gtk_label_set_text (self->summary_label, message);
      return FALSE;
    }

  NfnAlignJob *job = g_new0 (NfnAlignJob, 1);
  job->a = nfn_network_copy (a);
  job->b = nfn_network_copy (partner);
  NfnProbe *probe = nfn_orbit_get_probe (self->orbit, FALSE);
  if (self->target && nfn_probe_is_image (probe) && self->target_rows == probe->grid
      && self->target_cols == probe->grid && nfn_net_output_size (&a->arch) == 1)
    {
      job->target = g_new (float, probe->n);
      for (int e = 0; e < probe->n; e++)
        job->target[e] = 2 * self->target[e] - 1;
    }

  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  g_autoptr (GTask) task = g_task_new (self, self->cancellable, nfn_align_view_done, NULL);
  g_task_set_source_tag (task, nfn_align_view_run_with);
  g_task_set_task_data (task, job, (GDestroyNotify) nfn_align_job_free);
  nfn_align_view_set_busy (self, TRUE);
  gtk_label_set_text (self->summary_label, "Aligning…");
  g_task_run_in_thread (task, nfn_align_job_run);
  return TRUE;
}

/* A new SIREN/PyTorch init of A's architecture, or A plus noise under a random permutation. */
static NfnNetwork *
nfn_align_view_make_partner (NfnAlignView *self, NfnAlignPartner kind)
{
  const NfnNetwork *a = nfn_orbit_get_current (self->orbit);
  NfnNetwork *b = nfn_network_copy (a);
  gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (rng, NFN_ALIGN_PARTNER_SEED + self->partner_count++);
  if (kind == NFN_ALIGN_PARTNER_REINIT)
    {
      nfn_net_init (&b->arch, &b->weights, rng);
      g_free (b->path);
      b->path = g_strdup ("re-initialisation");
    }
  else
    {
      const nfn_space *s = &a->arch.space;
      for (int t = 0; t < nfn_tensor_count (s); t++)
        {
          size_t n = nfn_tensor_entries (s, t);
          nfn_stats stats;
          nfn_stats_compute (a->weights.t[t], n, &stats);
          for (size_t e = 0; e < n; e++)
            b->weights.t[t][e] += (float) gsl_ran_gaussian_ziggurat (rng, NFN_ALIGN_NOISE * stats.std);
        }
      nfn_perm tau;
      nfn_perm_alloc (&tau, s);
      nfn_perm_random (&tau, NFN_SYM_HNP, rng);
      nfn_feature noisy;
      nfn_feature_alloc (&noisy, s, 1, 1);
      memcpy (noisy.data, b->weights.data, noisy.size * sizeof (float));
      nfn_perm_apply (&tau, &noisy, &b->weights);
      nfn_feature_free (&noisy);
      nfn_perm_free (&tau);
      g_free (b->path);
      b->path = g_strdup ("permuted noisy copy");
    }
  gsl_rng_free (rng);
  return b;
}

static void
nfn_align_view_chooser_response (GtkNativeDialog *chooser, int response, NfnAlignView *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autofree char *path = file ? g_file_get_path (file) : NULL;
      g_autoptr (GError) error = NULL;
      g_autoptr (NfnNetwork) partner = path ? nfn_network_load (path, &error) : NULL;
      if (partner)
        nfn_align_view_run_with (self, partner);
      else
        gtk_label_set_text (self->summary_label, error ? error->message : "Only local files can be opened.");
    }
  g_clear_object (&self->chooser);
}

void
nfn_align_view_run (NfnAlignView *self)
{
  g_return_if_fail (NFN_IS_ALIGN_VIEW (self));
  if (self->orbit == NULL || self->busy)
    return;
  NfnAlignPartner kind = gtk_drop_down_get_selected (self->partner_dropdown);
  if (kind == NFN_ALIGN_PARTNER_TWIN)
    {
      if (self->twin)
        nfn_align_view_run_with (self, self->twin);
      else
        gtk_label_set_text (self->summary_label,
                            "This network has no independently trained twin here: choose another partner.");
      return;
    }
  if (kind != NFN_ALIGN_PARTNER_FILE)
    {
      g_autoptr (NfnNetwork) partner = nfn_align_view_make_partner (self, kind);
      nfn_align_view_run_with (self, partner);
      return;
    }
  if (self->chooser)
    return;
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  self->chooser = gtk_file_chooser_native_new ("Align to Network", GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                               GTK_FILE_CHOOSER_ACTION_OPEN, "_Align", "_Cancel");
  g_autoptr (GtkFileFilter) weights = gtk_file_filter_new ();
  gtk_file_filter_set_name (weights, "Network weights (*.safetensors)");
  gtk_file_filter_add_suffix (weights, "safetensors");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->chooser), weights);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  g_signal_connect (self->chooser, "response", G_CALLBACK (nfn_align_view_chooser_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static void
nfn_align_view_dispose (GObject *object)
{
  NfnAlignView *self = NFN_ALIGN_VIEW (object);
  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->chooser)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);
  g_clear_object (&self->orbit);
  gtk_widget_dispose_template (GTK_WIDGET (self), NFN_TYPE_ALIGN_VIEW);
  nfn_widget_unparent_children (GTK_WIDGET (self));
  G_OBJECT_CLASS (nfn_align_view_parent_class)->dispose (object);
}

static void
nfn_align_view_finalize (GObject *object)
{
  g_free (NFN_ALIGN_VIEW (object)->target);
  nfn_network_free (NFN_ALIGN_VIEW (object)->twin);
  G_OBJECT_CLASS (nfn_align_view_parent_class)->finalize (object);
}

static void
nfn_align_view_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_BUSY: g_value_set_boolean (value, NFN_ALIGN_VIEW (object)->busy); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
nfn_align_view_class_init (NfnAlignViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = nfn_align_view_dispose;
  object_class->finalize = nfn_align_view_finalize;
  object_class->get_property = nfn_align_view_get_property;

  properties[PROP_BUSY] = g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                                                G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  nfn_ui_get_resource ();
  g_type_ensure (NFN_TYPE_PLOT);
  gtk_widget_class_set_template_from_resource (widget_class, "/org/nfn/Workbench/ui/nfn-align-view.ui");
  gtk_widget_class_bind_template_child (widget_class, NfnAlignView, partner_dropdown);
  gtk_widget_class_bind_template_child (widget_class, NfnAlignView, align_button);
  gtk_widget_class_bind_template_child (widget_class, NfnAlignView, spinner);
  gtk_widget_class_bind_template_child (widget_class, NfnAlignView, plot);
  gtk_widget_class_bind_template_child (widget_class, NfnAlignView, summary_label);
  gtk_widget_class_bind_template_callback (widget_class, nfn_align_view_run);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
nfn_align_view_init (NfnAlignView *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  gtk_drop_down_set_selected (self->partner_dropdown, NFN_ALIGN_PARTNER_REINIT);
  nfn_plot_set_title (self->plot, "MSE along the straight path A → B");
  nfn_plot_set_axis_labels (self->plot, "α", "MSE");
}
