/* test-tasks.c — data/nfn_task.h: the training tasks as calls, on tiny zoos built here in
 * seconds (MNIST SIRENs by nfn_zoo_fit, MLP tickets by nfn_ticket_zoo_build):
 *   - each task's run writes its store rows (the run completed, one val metric per epoch, the
 *     model artifact that the summary and the result name, a file that exists);
 *   - a run cancelled through its GCancellable mid-way returns G_IO_ERROR_CANCELLED, is marked
 *     cancelled, keeps its checkpoint, and resumes from it to the end;
 *   - the edit preview: the target is the transform of the source image (invert: 1 − x,
 *     against the data set's own pixels), before is the fit of the source, after differs from
 *     before;
 *   - the mask preview: a 0/1 mask keeping every bias whose sparsity, counted here, is the
 *     ticket zoo's;
 *   - genpred on a CNN zoo (nfn_cnn_zoo_build): the split by training run, the scatter PNG
 *     beside the store as a "figure" artifact; cancel and resume; the spectral baseline's run,
 *     which cannot resume. */
#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "datatestutil.h"
#include "nfn_datasets.h"
#include "nfn_task.h"
#include "tasktestutil.h"

static char *tmp_dir, *siren_zoo, *ticket_zoo, *cnn_zoo;

static NfnStore *
fresh_store (const char *name)
{
  g_autofree char *dir = g_build_filename (tmp_dir, name, NULL);
  g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
  g_autofree char *path = g_build_filename (dir, "store.sqlite", NULL);
  g_autoptr (GError) error = NULL;
  NfnStore *store = nfn_store_open (path, FALSE, &error);
  g_assert_no_error (error);
  return store;
}

/* The store rows every task's run writes: completed, `metric` once per epoch, the model file
 * as artifact and summary member. */
static void
assert_run_rows (NfnStore *store, const NfnTaskResult *result, const char *task, const char *metric, int epochs)
{
  g_autoptr (GError) error = NULL;
  g_assert_cmpint (result->run_id, >, 0);
  g_autoptr (NfnRun) run = nfn_store_get_run (store, result->run_id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (run->task, ==, task);
  g_assert_cmpint (run->status, ==, NFN_RUN_COMPLETED);
  g_autoptr (GArray) points = nfn_store_run_metric (store, result->run_id, metric, G_MININT64, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (points->len, ==, (guint) epochs);
  g_assert_nonnull (result->model_path);
  g_assert_true (g_file_test (result->model_path, G_FILE_TEST_IS_REGULAR));
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, result->summary_json, -1, NULL));
  JsonObject *summary = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (summary, "model_file"), ==, result->model_path);
  g_assert_cmpint (json_object_get_int_member (summary, "best_epoch"), ==, result->report.best_epoch);
  g_autoptr (GPtrArray) artifacts = nfn_store_run_artifacts (store, result->run_id, &error);
  g_assert_no_error (error);
  gboolean model_artifact = FALSE;
  for (guint k = 0; k < artifacts->len; k++)
    {
      NfnArtifact *a = g_ptr_array_index (artifacts, k);
      model_artifact |= strcmp (a->kind, "model") == 0 && strcmp (a->path, result->model_path) == 0;
    }
  g_assert_true (model_artifact);
}

typedef struct {
  int started, progress_calls;
  char *description;
  GCancellable *cancel_at_epoch2; /* cancelled when epoch 2's first step is reported */
} Watch;

static void
watch_started (const char *description, gpointer data)
{
  Watch *w = data;
  w->started++;
  g_free (w->description);
  w->description = g_strdup (description);
}

static void
watch_progress (const NfnTrainerProgress *p, gpointer data)
{
  Watch *w = data;
  w->progress_calls++;
  if (w->cancel_at_epoch2 && p->epoch == 2 && strcmp (p->phase, "train") == 0)
    g_cancellable_cancel (w->cancel_at_epoch2);
}

static void
test_classify_run (void)
{
  g_autoptr (NfnStore) store = fresh_store ("classify");
  NfnTaskOptions o;
  ttu_small_classify (&o, siren_zoo, 2);
  Watch w = { 0 };
  NfnTaskHooks hooks = { .started = watch_started, .progress = watch_progress, .user_data = &w };
  NfnTaskResult result = { 0 };
  g_autoptr (GError) error = NULL;
  g_assert_true (nfn_task_classify_run (&o, store, &hooks, NULL, &result, &error));
  g_assert_no_error (error);
  assert_run_rows (store, &result, NFN_TASK_CLASSIFY, "val/accuracy", 2);
  g_assert_cmpint (w.started, ==, 1);
  g_assert_nonnull (strstr (w.description, "train classify: np on"));
  g_assert_cmpint (w.progress_calls, >, 2);
  /* the carved validation split: the last tenth of the images, one network each */
  g_assert_cmpint (result.val_networks, ==, TTU_SIREN_IMAGES / 10);
  g_assert_cmpint (result.train_networks, ==, TTU_SIREN_IMAGES - TTU_SIREN_IMAGES / 10);
  g_free (w.description);
  nfn_task_result_clear (&result);
  nfn_task_options_clear (&o);
}

static void
test_classify_cancel_resume (void)
{
  g_autoptr (NfnStore) store = fresh_store ("cancel");
  NfnTaskOptions o;
  ttu_small_classify (&o, siren_zoo, 3);
  o.cosine = TRUE;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  Watch w = { .cancel_at_epoch2 = cancellable };
  NfnTaskHooks hooks = { .progress = watch_progress, .user_data = &w };
  NfnTaskResult result = { 0 };
  g_autoptr (GError) error = NULL;
  g_assert_false (nfn_task_classify_run (&o, store, &hooks, cancellable, &result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  gint64 id = result.report.run_id;
  g_assert_cmpint (id, >, 0);
  g_autoptr (NfnRun) run = nfn_store_get_run (store, id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (run->status, ==, NFN_RUN_CANCELLED);
  g_autofree char *checkpoint = nfn_trainer_find_checkpoint (store, id, &error);
  g_assert_no_error (error);
  g_assert_true (g_file_test (checkpoint, G_FILE_TEST_IS_REGULAR));
  nfn_task_result_clear (&result);

  /* a completed run cannot resume; the cancelled one continues after its epoch 1 */
  NfnTaskOptions resume = { .resume = id, .threads = 2 };
  g_assert_true (nfn_task_classify_run (&resume, store, NULL, NULL, &result, &error));
  g_assert_no_error (error);
  g_assert_cmpint (result.run_id, ==, id);
  g_assert_cmpint (result.report.resumed_from_epoch, ==, 1);
  g_assert_cmpint (result.report.epochs_done, ==, 3);
  assert_run_rows (store, &result, NFN_TASK_CLASSIFY, "val/accuracy", 3);
  /* the resumed run read --cosine back from its config: every logged lr, before and after the
   * resume, is the warmup-then-cosine value over the run's D steps, 0 at the last one */
  g_autoptr (GArray) lr = nfn_store_run_metric (store, id, "train/lr", G_MININT64, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lr->len, >=, 3);
  double W = (double) o.warmup, D = (double) result.report.steps;
  for (guint k = 0; k < lr->len; k++)
    {
      const NfnMetricPoint *p = &g_array_index (lr, NfnMetricPoint, k);
      double t = (double) p->step;
      double want = t < W ? o.lr * t / W : o.lr * 0.5 * (1 + cos (G_PI * (t - W) / (D - W)));
      g_assert_cmpfloat_with_epsilon (p->value, want, 1e-9);
    }
  g_assert_cmpint (g_array_index (lr, NfnMetricPoint, lr->len - 1).step, ==, result.report.steps);
  nfn_task_result_clear (&result);
  g_assert_false (nfn_task_classify_run (&resume, store, NULL, NULL, &result, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "completed"));
  nfn_task_result_clear (&result);
  nfn_task_options_clear (&o);
}

static void
test_edit_run_and_preview (void)
{
  g_autoptr (NfnStore) store = fresh_store ("edit");
  NfnTaskOptions o;
  ttu_small_edit (&o, siren_zoo);
  NfnTaskResult result = { 0 };
  g_autoptr (GError) error = NULL;
  g_assert_true (nfn_task_edit_run (&o, store, NULL, NULL, &result, &error));
  g_assert_no_error (error);
  assert_run_rows (store, &result, NFN_TASK_EDIT, "val/mse", 2);
  g_assert_cmpstr (result.transform, ==, "invert");
  g_assert_true (isfinite (result.unedited_val) && result.unedited_val > 0);

  /* the preview of image 3 (a training image) */
  int rows = 0, cols = 0;
  g_autofree float *before = NULL, *after = NULL, *target = NULL;
  g_assert_true (nfn_task_edit_preview (result.model_path, siren_zoo, 3, &rows, &cols, &before, &after, &target, &error));
  g_assert_no_error (error);
  g_assert_cmpint (rows, ==, 28);
  g_assert_cmpint (cols, ==, 28);
  g_autoptr (NfnDataset) ds = nfn_dataset_load ("mnist", "train", 4, &error);
  g_assert_no_error (error);
  const float *source = ds->images + 3 * rows * cols;
  double target_err = 0, fit_err = 0, change = 0;
  for (int k = 0; k < rows * cols; k++)
    {
      g_assert_true (before[k] >= 0 && before[k] <= 1 && after[k] >= 0 && after[k] <= 1);
      target_err = MAX (target_err, fabs (target[k] - (1.0 - source[k])));
      fit_err += fabs (before[k] - source[k]) / (rows * cols);
      change += fabs (after[k] - before[k]) / (rows * cols);
    }
  g_test_message ("edit preview: max |target − (1 − source)| %.2g, mean |before − source| %.3f, mean |after − before| %.3f",
                  target_err, fit_err, change);
  g_assert_cmpfloat (target_err, <, 1e-5);
  g_assert_cmpfloat (fit_err, <, 0.15);
  g_assert_cmpfloat (change, >, 1e-3);
  nfn_task_result_clear (&result);
  nfn_task_options_clear (&o);
}

static void
test_mask_run_and_preview (void)
{
  g_autoptr (NfnStore) store = fresh_store ("mask");
  NfnTaskOptions o;
  ttu_small_mask (&o, ticket_zoo);
  o.selection = g_strdup ("spread");
  NfnTaskResult result = { 0 };
  g_autoptr (GError) error = NULL;
  g_assert_true (nfn_task_mask_run (&o, store, NULL, NULL, &result, &error));
  g_assert_no_error (error);
  assert_run_rows (store, &result, NFN_TASK_MASK, "val/iou", 2);
  /* the selection is the run's config and the model's: a preview selects as the run did */
  g_autoptr (NfnRun) run = nfn_store_get_run (store, result.run_id, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (run->config_json, "\"selection\":\"spread\""));
  NfnModelFileInfo info = { 0 };
  nfn_model *model = nfn_model_file_load (result.model_path, 1, &info, &error);
  g_assert_no_error (error);
  NfnTrainerNorm norm;
  NfnTaskMaskSelection sel;
  g_assert_true (nfn_task_mask_model_check (model, &info, result.model_path, &norm, &sel, &error));
  g_assert_cmpint (sel.how, ==, NFN_TASK_MASK_SELECT_SPREAD);
  nfn_model_free (model);
  nfn_model_file_info_clear (&info);

  nfn_feature mask;
  double sparsity = -1;
  g_assert_true (nfn_task_mask_preview (result.model_path, ticket_zoo, 0, &mask, &sparsity, &error));
  g_assert_no_error (error);
  size_t weights = 0, zeros = 0;
  for (int i = 1; i <= mask.space.L; i++)
    {
      const float *w = mask.t[nfn_tensor_weight (i)], *b = mask.t[nfn_tensor_bias (i)];
      for (int k = 0; k < mask.space.n[i] * mask.space.n[i - 1]; k++)
        {
          g_assert_true (w[k] == 0 || w[k] == 1);
          zeros += w[k] == 0;
          weights++;
        }
      for (int k = 0; k < mask.space.n[i]; k++)
        g_assert_cmpfloat (b[k], ==, 1);
    }
  g_assert_cmpfloat_with_epsilon (sparsity, (double) zeros / weights, 1e-12);
  /* the selection keeps round((1 − s)·M) weights */
  g_assert_cmpfloat_with_epsilon ((double) zeros, weights - round ((1 - TTU_TICKET_SPARSITY) * weights), 0.5);
  nfn_feature_free (&mask);
  nfn_task_result_clear (&result);
  nfn_task_options_clear (&o);
}

/* The run's artifact of `kind` at `path` exists. */
static gboolean
has_artifact (NfnStore *store, gint64 run, const char *kind, const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) artifacts = nfn_store_run_artifacts (store, run, &error);
  g_assert_no_error (error);
  for (guint k = 0; k < artifacts->len; k++)
    {
      NfnArtifact *a = g_ptr_array_index (artifacts, k);
      if (strcmp (a->kind, kind) == 0 && strcmp (a->path, path) == 0)
        return TRUE;
    }
  return FALSE;
}

static double
summary_number (const NfnTaskResult *result, const char *name)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, result->summary_json, -1, NULL));
  return json_object_get_double_member (json_node_get_object (json_parser_get_root (parser)), name);
}

static void
test_genpred_run_cancel_resume (void)
{
  g_autoptr (NfnStore) store = fresh_store ("genpred");
  NfnTaskOptions o;
  ttu_small_genpred (&o, cnn_zoo);
  o.epochs = 3;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  Watch w = { .cancel_at_epoch2 = cancellable };
  NfnTaskHooks hooks = { .started = watch_started, .progress = watch_progress, .user_data = &w };
  NfnTaskResult result = { 0 };
  g_autoptr (GError) error = NULL;
  g_assert_false (nfn_task_genpred_run (&o, store, &hooks, cancellable, &result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_nonnull (strstr (w.description, "train genpred: hnp on"));
  /* nfn_cnn_zoo_split: max(1, round(R / 10)) runs each for val and test, the rest train */
  int held = MAX (1, (int) round (TTU_CNN_RUNS / 10.0));
  g_assert_cmpint (result.val_networks, ==, held);
  g_assert_cmpint (result.test_networks, ==, held);
  g_assert_cmpint (result.train_networks, ==, TTU_CNN_RUNS - 2 * held);
  gint64 id = result.report.run_id;
  nfn_task_result_clear (&result);

  NfnTaskOptions resume = { .resume = id, .threads = 2 };
  g_assert_true (nfn_task_genpred_run (&resume, store, NULL, NULL, &result, &error));
  g_assert_no_error (error);
  g_assert_cmpint (result.report.resumed_from_epoch, ==, 1);
  g_assert_cmpint (result.report.epochs_done, ==, 3);
  assert_run_rows (store, &result, NFN_TASK_GENPRED, "val/tau", 3);
  g_assert_cmpstr (result.model_name, ==, "hnp");
  /* the scatter went to figures/run-ID-scatter.png beside the store, a PNG, recorded */
  g_autofree char *dir = g_path_get_dirname (nfn_store_get_path (store));
  g_autofree char *name = g_strdup_printf ("run-%" G_GINT64_FORMAT "-scatter.png", id);
  g_autofree char *scatter = g_build_filename (dir, "figures", name, NULL);
  g_assert_cmpstr (result.scatter_path, ==, scatter);
  g_autofree char *png = NULL;
  gsize png_size = 0;
  g_assert_true (g_file_get_contents (scatter, &png, &png_size, &error));
  g_assert_cmpuint (png_size, >, 8);
  g_assert_cmpmem (png, 8, "\x89PNG\r\n\x1a\n", 8);
  g_assert_true (has_artifact (store, id, "figure", scatter));
  g_assert_cmpfloat (summary_number (&result, "test_tau"), ==, nfn_trainer_metrics_get (&result.report.test, "tau"));
  g_free (w.description);
  nfn_task_result_clear (&result);
  nfn_task_options_clear (&o);
}

static void
test_genpred_spectral (void)
{
  g_autoptr (NfnStore) store = fresh_store ("spectral");
  NfnTaskOptions o;
  ttu_small_genpred (&o, cnn_zoo);
  o.model = g_strdup ("spectral");
  NfnTaskResult result = { 0 };
  g_autoptr (GError) error = NULL;
  g_assert_true (nfn_task_genpred_run (&o, store, NULL, NULL, &result, &error));
  g_assert_no_error (error);
  g_autoptr (NfnRun) run = nfn_store_get_run (store, result.run_id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (run->model, ==, "spectral");
  g_assert_cmpint (run->status, ==, NFN_RUN_COMPLETED);
  g_autoptr (GArray) points = nfn_store_run_metric (store, result.run_id, "val/tau_neg_alpha", G_MININT64, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (points->len, ==, 1);
  g_assert_true (has_artifact (store, result.run_id, "model", result.model_path));
  g_assert_true (has_artifact (store, result.run_id, "figure", result.scatter_path));
  g_assert_true (nfn_task_genpred_is_spectral_model (result.model_path));
  double tau_neg_alpha = nfn_trainer_metrics_get (&result.report.test, "tau_neg_alpha");
  g_assert_true (isfinite (tau_neg_alpha));
  g_assert_cmpfloat (summary_number (&result, "tau_neg_alpha"), ==, tau_neg_alpha);
  g_assert_cmpfloat (summary_number (&result, "test_tau"), ==, nfn_trainer_metrics_get (&result.report.test, "tau"));

  NfnTaskOptions resume = { .resume = result.run_id };
  nfn_task_result_clear (&result);
  g_assert_false (nfn_task_genpred_run (&resume, store, NULL, NULL, &result, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "spectral"));
  nfn_task_result_clear (&result);
  nfn_task_options_clear (&o);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_autoptr (GError) error = NULL;
  tmp_dir = g_dir_make_tmp ("nfn-test-tasks-XXXXXX", &error);
  g_assert_no_error (error);
  ttu_build_zoos (tmp_dir, &siren_zoo, &ticket_zoo);
  cnn_zoo = g_build_filename (tmp_dir, "cnn-zoo", NULL);
  ttu_build_cnn_zoo (cnn_zoo, NULL, TTU_CNN_RUNS);
  g_test_add_func ("/task/classify/run", test_classify_run);
  g_test_add_func ("/task/classify/cancel-resume", test_classify_cancel_resume);
  g_test_add_func ("/task/edit/run-preview", test_edit_run_and_preview);
  g_test_add_func ("/task/mask/run-preview", test_mask_run_and_preview);
  g_test_add_func ("/task/genpred/cancel-resume", test_genpred_run_cancel_resume);
  g_test_add_func ("/task/genpred/spectral", test_genpred_spectral);
  int status = g_test_run ();
  dtu_remove_tree (tmp_dir);
  g_free (tmp_dir);
  g_free (siren_zoo);
  g_free (ticket_zoo);
  g_free (cnn_zoo);
  /* the genpred runs drew their scatters with cairo: its and fontconfig's caches would read as
   * leaks (nfn train genpred drops them likewise) */
  cairo_debug_reset_static_data ();
  FcFini ();
  return status;
}
