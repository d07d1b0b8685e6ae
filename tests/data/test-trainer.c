/* test-trainer.c — the shared training loop on a synthetic task it must learn: the class of a
 * random MLP is the tertile of the mean of its W_2, a permutation-invariant property an NP
 * model can read off its pool. Checked against independent computations: the reported
 * accuracies against forward passes and nfn_accuracy of our own, the best epoch against the
 * store's val series, determinism bit for bit, a cancelled run resumed from its checkpoint
 * against an uninterrupted one bit for bit, the store's rows, the HNP augmentation against
 * the model's invariance, and the input normalisation against its definition.
 *
 * Shape letters: N networks, K classes, P parameters. */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "datatestutil.h"
#include "nfn_perm.h"
#include "nfn_precision.h"
#include "nfn_network.h"
#include "nfn_trainer.h"
#include "testutil.h"

#define N_TRAIN 192
#define N_VAL 64
#define N_TEST 64
#define K 3

/* Threshold on mean(W_2) splitting N(0, 1/P_2)-distributed means into tertiles. */
static double
tertile_edge (const nfn_space *s)
{
  /* the standard normal's 2/3 quantile, scaled by the std of a mean of P_2 unit normals */
  return 0.4307 / sqrt ((double) nfn_tensor_entries (s, nfn_tensor_weight (2)));
}

static void
synthetic_space (nfn_space *s)
{
  int widths[] = { 2, 6, 5, 1 };
  g_assert_cmpint (nfn_space_init (s, 3, widths), ==, NFN_OK);
}

/* N random networks labelled by the tertile of mean(W_2). */
static void
synthetic_set (NfnTrainerSet *set, int N, gsl_rng *rng)
{
  nfn_space s;
  synthetic_space (&s);
  memset (set, 0, sizeof *set);
  g_assert_cmpint (nfn_feature_alloc (&set->networks, &s, N, 1), ==, NFN_OK);
  tu_feature_normal (&set->networks, rng);
  set->labels = g_new (int, N);
  size_t P2 = nfn_tensor_entries (&s, nfn_tensor_weight (2));
  double edge = tertile_edge (&s);
  for (int n = 0; n < N; n++)
    {
      double mean = 0;
      for (size_t e = 0; e < P2; e++)
        mean += set->networks.t[nfn_tensor_weight (2)][n * P2 + e] / P2;
      set->labels[n] = mean < -edge ? 0 : mean < edge ? 1 : 2;
    }
}

static nfn_model *
small_model (nfn_model_kind kind, unsigned long seed)
{
  nfn_space s;
  synthetic_space (&s);
  nfn_model_config cfg;
  nfn_model_config_default (&cfg, kind, &s, K);
  cfg.max_batch = 16;
  cfg.fourier_m = 0;
  cfg.depth = 2;
  cfg.channels = 8;
  cfg.n_head = 1;
  cfg.head_widths[0] = 32;
  cfg.head_dropout = 0.1f; /* dropout draws from the model's generator: resume must restore it */
  nfn_model *model;
  g_assert_cmpint (nfn_model_new (&cfg, seed, &model), ==, NFN_OK);
  return model;
}

typedef struct {
  NfnTrainerSet train, val, test;
  char *dir, *db;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (rng, 11);
  synthetic_set (&f->train, N_TRAIN, rng);
  synthetic_set (&f->val, N_VAL, rng);
  synthetic_set (&f->test, N_TEST, rng);
  gsl_rng_free (rng);
  g_autoptr (GError) error = NULL;
  f->dir = g_dir_make_tmp ("nfn-test-trainer-XXXXXX", &error);
  g_assert_no_error (error);
  f->db = g_build_filename (f->dir, "store.sqlite", NULL);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  nfn_trainer_set_clear (&f->train);
  nfn_trainer_set_clear (&f->val);
  nfn_trainer_set_clear (&f->test);
  dtu_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->db);
}

static void
base_options (NfnTrainerOptions *o, int epochs)
{
  nfn_trainer_options_init (o);
  o->epochs = epochs;
  o->batch_size = 16;
  o->lr = 3e-3;
  o->warmup_steps = 5;
  o->decoupled = TRUE;
  o->weight_decay = 1e-4;
  o->seed = 5;
  o->log_every = 4;
  o->task_name = "test-classify";
  o->model_name = "np";
  o->config_json = "{\"test\": true}";
}

/* Our own accuracy of the model's current parameters on a set: one network at a time. */
static double
direct_accuracy (nfn_model *model, const NfnTrainerSet *set)
{
  int hits = 0;
  nfn_feature one;
  g_assert_cmpint (nfn_feature_alloc (&one, &set->networks.space, 1, 1), ==, NFN_OK);
  for (int n = 0; n < nfn_trainer_set_size (set); n++)
    {
      nfn_feature_get_network (&set->networks, n, &one);
      const float *logits;
      g_assert_cmpint (nfn_model_forward (model, &one, 0, &logits), ==, NFN_OK);
      int best = 0;
      for (int k = 1; k < K; k++)
        if (logits[k] > logits[best])
          best = k;
      hits += best == set->labels[n];
    }
  nfn_feature_free (&one);
  return (double) hits / nfn_trainer_set_size (set);
}

/* ---- regression scores, by hand ---- */

/* Four predictions with one discordant pair of six: τ = (5 − 1)/6; SSE 0.0925 against SST 0.53
 * about the truth's mean 0.45. A NaN has no rank; one network has no pairs; a constant truth
 * has no variance to explain. */
static void
test_regression_metrics (void)
{
  const double pred[] = { 0.1, 0.3, 0.35, 0.8 }, truth[] = { 0.0, 0.5, 0.3, 1.0 };
  NfnTrainerMetrics m = { 0 };
  g_autoptr (GError) error = NULL;
  g_assert_true (nfn_trainer_regression_metrics (pred, truth, 4, &m, &error));
  g_assert_no_error (error);
  g_assert_cmpint (m.n, ==, 3);
  g_assert_cmpfloat_with_epsilon (nfn_trainer_metrics_get (&m, "tau"), 4.0 / 6.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (nfn_trainer_metrics_get (&m, "r2"), 1 - 0.0925 / 0.53, 1e-12);
  g_assert_cmpfloat_with_epsilon (nfn_trainer_metrics_get (&m, "mse"), 0.0925 / 4, 1e-12);

  g_assert_true (nfn_trainer_regression_metrics (pred, truth, 1, &m, &error));
  g_assert_cmpfloat (nfn_trainer_metrics_get (&m, "tau"), ==, 0);
  const double flat[] = { 0.5, 0.5, 0.5, 0.5 };
  g_assert_true (nfn_trainer_regression_metrics (pred, flat, 4, &m, &error));
  g_assert_cmpfloat (nfn_trainer_metrics_get (&m, "r2"), ==, 0);

  const double with_nan[] = { 0.1, NAN, 0.35, 0.8 };
  g_assert_false (nfn_trainer_regression_metrics (with_nan, truth, 4, &m, &error));
  g_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_NONFINITE);
}

/* ---- it learns, and reports what it learned truthfully ---- */

static void
test_learns (Fixture *f, gconstpointer data)
{
  nfn_model *model = small_model (NFN_MODEL_NP, 1);
  NfnTrainerTask task;
  nfn_trainer_task_classify (&task, model);
  NfnTrainerOptions o;
  base_options (&o, 12);
  g_autoptr (NfnStore) store = nfn_store_open (f->db, FALSE, NULL);
  g_assert_nonnull (store);
  o.store = store;
  NfnTrainerReport report;
  g_autoptr (GError) error = NULL;
  g_assert_true (nfn_trainer_run (&task, &f->train, &f->val, &f->test, &o, &report, &error));
  g_assert_no_error (error);

  double val = nfn_trainer_metrics_get (&report.val, "accuracy");
  double test = nfn_trainer_metrics_get (&report.test, "accuracy");
  g_test_message ("synthetic tertiles (chance 33 %%): best epoch %d, val %.1f %%, test %.1f %%", report.best_epoch,
                  100 * val, 100 * test);
  /* chance is 1/3; a model that reads mean(W_2) gets nearly all */
  g_assert_cmpfloat (test, >=, 0.8);
  /* the parameters left in the model are the best epoch's: our own forward passes agree */
  g_assert_cmpfloat (fabs (direct_accuracy (model, &f->val) - val), <, 1e-12);
  g_assert_cmpfloat (fabs (direct_accuracy (model, &f->test) - test), <, 1e-12);
  /* the test outputs are the logits of those parameters */
  g_assert_cmpfloat (fabs (nfn_accuracy (report.test_outputs, f->test.labels, N_TEST, K) - test), <, 1e-12);

  /* the best epoch is the first maximum of the store's val/accuracy series */
  g_autoptr (GArray) series = nfn_store_run_metric (store, report.run_id, "val/accuracy", G_MININT64, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (series->len, ==, 12);
  guint best = 0;
  for (guint k = 1; k < series->len; k++)
    if (g_array_index (series, NfnMetricPoint, k).value > g_array_index (series, NfnMetricPoint, best).value)
      best = k;
  g_assert_cmpint (report.best_epoch, ==, (int) best + 1);
  g_assert_cmpfloat (g_array_index (series, NfnMetricPoint, best).value, ==, val);
  nfn_trainer_report_clear (&report);
  nfn_model_free (model);
}

/* ---- precision ---- */

/* The task's own step, and the precision every step ran at (the other callbacks keep the
 * task's self, so the spy is a static) */
static struct {
  nfn_status (*train_step) (gpointer, const nfn_feature *, const int *, const float *, nfn_adam *, double *);
  int steps, bf16_steps;
} spy;

static nfn_status
spy_train_step (gpointer self, const nfn_feature *inputs, const int *labels, const float *targets, nfn_adam *opt,
                double *loss)
{
  spy.steps++;
  spy.bf16_steps += nfn_get_precision () == NFN_PRECISION_BF16;
  return spy.train_step (self, inputs, labels, targets, opt, loss);
}

/* options.bf16: every step of the run in bf16, fp32 again after it, still learning, and not
 * the fp32 run's numbers (the GEMMs did change). A CPU without AVX512-BF16 refuses the run. */
static void
test_bf16 (Fixture *f, gconstpointer data)
{
  nfn_model *fp32_model = small_model (NFN_MODEL_NP, 1), *model = small_model (NFN_MODEL_NP, 1);
  NfnTrainerTask fp32_task;
  nfn_trainer_task_classify (&fp32_task, fp32_model);
  NfnTrainerTask task;
  nfn_trainer_task_classify (&task, model);
  memset (&spy, 0, sizeof spy);
  spy.train_step = task.train_step;
  task.train_step = spy_train_step;
  NfnTrainerOptions o;
  base_options (&o, 12);
  NfnTrainerReport report, fp32_report;
  g_autoptr (GError) error = NULL;
  g_assert_true (nfn_trainer_run (&fp32_task, &f->train, &f->val, &f->test, &o, &fp32_report, &error));
  o.bf16 = TRUE;
  gboolean ok = nfn_trainer_run (&task, &f->train, &f->val, &f->test, &o, &report, &error);
  g_assert_cmpint (nfn_get_precision (), ==, NFN_PRECISION_FP32);
  if (!nfn_bf16_supported ())
    {
      g_assert_false (ok);
      g_assert_nonnull (strstr (error->message, "AVX512-BF16"));
      g_test_message ("this CPU lacks AVX512-BF16: the run was refused");
    }
  else
    {
      g_assert_no_error (error);
      g_assert_true (ok);
      double test = nfn_trainer_metrics_get (&report.test, "accuracy");
      g_test_message ("bf16: %d of %d steps in bf16, test %.1f %% (fp32 %.1f %%)", spy.bf16_steps, spy.steps, 100 * test,
                      100 * nfn_trainer_metrics_get (&fp32_report.test, "accuracy"));
      g_assert_cmpint (spy.steps, >, 0);
      g_assert_cmpint (spy.bf16_steps, ==, spy.steps);
      g_assert_cmpfloat (test, >=, 0.8);
      g_assert_cmpint (memcmp (nfn_model_params (model), nfn_model_params (fp32_model),
                               nfn_model_param_count (model) * sizeof (float)), !=, 0);
      nfn_trainer_report_clear (&report);
    }
  nfn_trainer_report_clear (&fp32_report);
  nfn_model_free (model);
  nfn_model_free (fp32_model);
}

/* ---- regression (generalization prediction's shape: sigmoid + BCE on a target in [0, 1]) ---- */

/* Kendall's τ by counting pairs, O(n²): continuous values, so no ties. */
static double
naive_tau (const double *x, const double *y, int n)
{
  double s = 0;
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++)
      s += ((x[i] < x[j]) == (y[i] < y[j])) ? 1 : -1;
  return s / (n * (n - 1) / 2.0);
}

static void
regression_targets (NfnTrainerSet *set)
{
  const nfn_space *s = &set->networks.space;
  size_t P2 = nfn_tensor_entries (s, nfn_tensor_weight (2));
  int N = nfn_trainer_set_size (set);
  set->target_dim = 1;
  set->targets = g_new (float, N);
  for (int n = 0; n < N; n++)
    {
      double mean = 0;
      for (size_t e = 0; e < P2; e++)
        mean += set->networks.t[nfn_tensor_weight (2)][n * P2 + e] / P2;
      set->targets[n] = (float) (0.5 + 0.5 * tanh (mean / tertile_edge (s)));
    }
}

static void
test_regress (Fixture *f, gconstpointer data)
{
  regression_targets (&f->train);
  regression_targets (&f->val);
  regression_targets (&f->test);
  nfn_space s;
  synthetic_space (&s);
  nfn_model_config cfg;
  nfn_model_config_default (&cfg, NFN_MODEL_NP, &s, 1);
  cfg.max_batch = 16;
  cfg.fourier_m = 0;
  cfg.depth = 2;
  cfg.channels = 8;
  cfg.n_head = 1;
  cfg.head_widths[0] = 32;
  nfn_model *model;
  g_assert_cmpint (nfn_model_new (&cfg, 2, &model), ==, NFN_OK);
  NfnTrainerTask task;
  nfn_trainer_task_regress (&task, model);
  NfnTrainerOptions o;
  base_options (&o, 10);
  NfnTrainerReport report;
  g_autoptr (GError) error = NULL;
  g_assert_true (nfn_trainer_run (&task, &f->train, &f->val, &f->test, &o, &report, &error));
  g_assert_no_error (error);
  double tau = nfn_trainer_metrics_get (&report.test, "tau");
  g_test_message ("regression: test tau %.3f, r2 %.3f", tau, nfn_trainer_metrics_get (&report.test, "r2"));
  g_assert_cmpfloat (tau, >=, 0.6);
  /* our own forward passes, sigmoid and pair count give the same τ and MSE */
  double pred[N_TEST], truth[N_TEST], sse = 0;
  nfn_feature one;
  nfn_feature_alloc (&one, &s, 1, 1);
  for (int n = 0; n < N_TEST; n++)
    {
      nfn_feature_get_network (&f->test.networks, n, &one);
      const float *logit;
      g_assert_cmpint (nfn_model_forward (model, &one, 0, &logit), ==, NFN_OK);
      pred[n] = 1 / (1 + exp (-(double) logit[0]));
      truth[n] = f->test.targets[n];
      sse += (pred[n] - truth[n]) * (pred[n] - truth[n]);
    }
  nfn_feature_free (&one);
  g_assert_cmpfloat (fabs (naive_tau (pred, truth, N_TEST) - tau), <, 1e-9);
  g_assert_cmpfloat (fabs (sse / N_TEST - nfn_trainer_metrics_get (&report.test, "mse")), <, 1e-6);
  nfn_trainer_report_clear (&report);
  nfn_model_free (model);
}

/* ---- store rows ---- */

static void
test_store_rows (Fixture *f, gconstpointer data)
{
  nfn_model *model = small_model (NFN_MODEL_NP, 2);
  NfnTrainerTask task;
  nfn_trainer_task_classify (&task, model);
  NfnTrainerOptions o;
  base_options (&o, 3);
  g_autoptr (NfnStore) store = nfn_store_open (f->db, FALSE, NULL);
  o.store = store;
  NfnTrainerReport report;
  g_autoptr (GError) error = NULL;
  g_assert_true (nfn_trainer_run (&task, &f->train, &f->val, &f->test, &o, &report, &error));
  g_assert_no_error (error);

  g_autoptr (NfnRun) run = nfn_store_get_run (store, report.run_id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (run->task, ==, "test-classify");
  g_assert_cmpstr (run->model, ==, "np");
  g_assert_cmpint (run->status, ==, NFN_RUN_COMPLETED);
  g_assert_cmpuint (run->seed, ==, 5);
  g_assert_nonnull (strstr (run->config_json, "\"test\""));
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, run->summary_json, -1, NULL));
  JsonObject *summary = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpint (json_object_get_int_member (summary, "best_epoch"), ==, report.best_epoch);
  g_assert_cmpint (json_object_get_int_member (summary, "epochs"), ==, 3);
  g_assert_cmpint (json_object_get_int_member (summary, "params"), ==, (gint64) nfn_model_param_count (model));
  g_assert_cmpfloat (json_object_get_double_member (json_object_get_object_member (summary, "test"), "accuracy"), ==,
                     nfn_trainer_metrics_get (&report.test, "accuracy"));
  g_assert_true (json_object_has_member (summary, "wall_seconds"));

  /* train/loss every 4 steps and at each epoch's end: 12 steps an epoch → steps 4, 8, 12 */
  g_autoptr (GArray) loss = nfn_store_run_metric (store, report.run_id, "train/loss", G_MININT64, &error);
  g_assert_cmpuint (loss->len, ==, 9);
  for (guint k = 0; k < loss->len; k++)
    g_assert_cmpint (g_array_index (loss, NfnMetricPoint, k).step, ==, 4 * (k + 1));
  g_autoptr (GArray) epochs = nfn_store_run_metric (store, report.run_id, "epoch", G_MININT64, &error);
  g_assert_cmpuint (epochs->len, ==, 3);
  for (guint k = 0; k < 3; k++)
    {
      g_assert_cmpfloat (g_array_index (epochs, NfnMetricPoint, k).value, ==, k + 1);
      g_assert_cmpint (g_array_index (epochs, NfnMetricPoint, k).step, ==, 12 * (k + 1));
    }
  g_autoptr (GArray) test_acc = nfn_store_run_metric (store, report.run_id, "test/accuracy", G_MININT64, &error);
  g_assert_cmpuint (test_acc->len, ==, 1);
  g_autoptr (GPtrArray) artifacts = nfn_store_run_artifacts (store, report.run_id, &error);
  g_assert_cmpuint (artifacts->len, ==, 1);
  NfnArtifact *a = g_ptr_array_index (artifacts, 0);
  g_assert_cmpstr (a->kind, ==, "checkpoint");
  g_assert_true (g_file_test (a->path, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpstr (a->path, ==, report.checkpoint_path);
  /* the row is registered before the first file is written (so a kill between an epoch's file
   * and its row orphans nothing); a row whose file is not there yet is no checkpoint */
  g_autofree char *found = nfn_trainer_find_checkpoint (store, report.run_id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (found, ==, a->path);
  g_autofree char *moved = g_strconcat (a->path, ".away", NULL);
  g_assert_cmpint (g_rename (a->path, moved), ==, 0);
  g_assert_null (nfn_trainer_find_checkpoint (store, report.run_id, &error));
  g_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_cmpint (g_rename (moved, a->path), ==, 0);
  nfn_trainer_report_clear (&report);
  nfn_model_free (model);
}

/* ---- determinism and resume ---- */

static void
assert_same_params (nfn_model *a, nfn_model *b)
{
  size_t n = nfn_model_param_count_all (a);
  g_assert_cmpuint (n, ==, nfn_model_param_count_all (b));
  g_assert_cmpint (memcmp (nfn_model_params (a), nfn_model_params (b), n * sizeof (float)), ==, 0);
}

static double
max_param_diff (nfn_model *a, nfn_model *b)
{
  double worst = 0;
  for (size_t k = 0; k < nfn_model_param_count_all (a); k++)
    worst = MAX (worst, fabs (nfn_model_params (a)[k] - nfn_model_params (b)[k]));
  return worst;
}

static nfn_model *
train_once (Fixture *f, NfnStore *store, guint64 seed, gboolean augment, NfnTrainerReport *report)
{
  nfn_model *model = small_model (NFN_MODEL_HNP, 3);
  NfnTrainerTask task;
  nfn_trainer_task_classify (&task, model);
  if (augment)
    task.augment = nfn_trainer_augment_hnp;
  NfnTrainerOptions o;
  base_options (&o, 4);
  o.seed = seed;
  o.store = store;
  g_autoptr (GError) error = NULL;
  g_assert_true (nfn_trainer_run (&task, &f->train, &f->val, NULL, &o, report, &error));
  g_assert_no_error (error);
  return model;
}

static void
test_deterministic (Fixture *f, gconstpointer data)
{
  NfnTrainerReport r1, r2, r3;
  nfn_model *a = train_once (f, NULL, 5, TRUE, &r1);
  nfn_model *b = train_once (f, NULL, 5, TRUE, &r2);
  nfn_model *c = train_once (f, NULL, 6, TRUE, &r3);
  assert_same_params (a, b);
  /* another seed shuffles, augments and drops out differently */
  g_assert_cmpfloat (max_param_diff (a, c), >, 1e-4);
  nfn_trainer_report_clear (&r1);
  nfn_trainer_report_clear (&r2);
  nfn_trainer_report_clear (&r3);
  nfn_model_free (a);
  nfn_model_free (b);
  nfn_model_free (c);
}

typedef struct {
  volatile int cancel;
  int cancel_after_epoch;
} CancelAt;

static void
cancel_after (const NfnTrainerProgress *p, gpointer user_data)
{
  CancelAt *c = user_data;
  if (strcmp (p->phase, "epoch") == 0 && p->epoch == c->cancel_after_epoch)
    c->cancel = 1;
}

/* Starts a run of `epochs` that the progress hook cancels after epoch `stop` (its checkpoint
 * written); returns its run id. task and o stay set up for the caller. */
static gint64
start_cancelled_run (Fixture *f, NfnStore *store, NfnTrainerTask *task, NfnTrainerOptions *o, int epochs, CancelAt *cancel)
{
  base_options (o, epochs);
  o->store = store;
  o->progress = cancel_after;
  o->user_data = cancel;
  o->cancel = &cancel->cancel;
  NfnTrainerReport report;
  g_autoptr (GError) error = NULL;
  g_assert_false (nfn_trainer_run (task, &f->train, &f->val, NULL, o, &report, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  gint64 run = report.run_id;
  nfn_trainer_report_clear (&report);
  o->progress = NULL;
  o->cancel = NULL;
  return run;
}

static void
test_resume_exact (Fixture *f, gconstpointer data)
{
  g_autoptr (NfnStore) store = nfn_store_open (f->db, FALSE, NULL);
  NfnTrainerReport whole;
  nfn_model *reference = train_once (f, store, 5, TRUE, &whole);

  /* the same run, stopped after epoch 2's checkpoint */
  nfn_model *model = small_model (NFN_MODEL_HNP, 3);
  NfnTrainerTask task;
  nfn_trainer_task_classify (&task, model);
  task.augment = nfn_trainer_augment_hnp;
  NfnTrainerOptions o;
  CancelAt cancel = { 0, 2 };
  gint64 run = start_cancelled_run (f, store, &task, &o, 4, &cancel);
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnRun) stopped = nfn_store_get_run (store, run, &error);
  g_assert_cmpint (stopped->status, ==, NFN_RUN_CANCELLED);
  /* the loop ran on into epoch 3 before the flag was seen: the checkpoint holds epoch 2 */
  g_assert_cmpfloat (max_param_diff (model, reference), >, 0);

  /* a fresh process: a new model from the same seed, then resume */
  nfn_model_free (model);
  model = small_model (NFN_MODEL_HNP, 3);
  nfn_trainer_task_classify (&task, model);
  task.augment = nfn_trainer_augment_hnp;
  base_options (&o, 4);
  o.store = store;
  o.resume_run = run;
  NfnTrainerReport second;
  g_assert_true (nfn_trainer_run (&task, &f->train, &f->val, NULL, &o, &second, &error));
  g_assert_no_error (error);
  g_assert_cmpint (second.run_id, ==, run);
  g_assert_cmpint (second.resumed_from_epoch, ==, 2);
  g_assert_cmpint (second.epochs_done, ==, 4);
  g_assert_cmpint (second.steps, ==, whole.steps);
  g_assert_cmpint (second.best_epoch, ==, whole.best_epoch);
  assert_same_params (model, reference);
  g_autoptr (NfnRun) resumed = nfn_store_get_run (store, run, &error);
  g_assert_cmpint (resumed->status, ==, NFN_RUN_COMPLETED);
  /* the epoch series continues 1 … 4 */
  g_autoptr (GArray) epochs = nfn_store_run_metric (store, run, "epoch", G_MININT64, &error);
  g_assert_cmpuint (epochs->len, ==, 4);
  for (guint k = 0; k < 4; k++)
    g_assert_cmpfloat (g_array_index (epochs, NfnMetricPoint, k).value, ==, k + 1);

  /* a completed run cannot resume */
  nfn_trainer_report_clear (&second);
  g_assert_false (nfn_trainer_run (&task, &f->train, &f->val, NULL, &o, &second, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, f->db, "is completed");
  g_clear_error (&error);

  nfn_trainer_report_clear (&whole);
  nfn_trainer_report_clear (&second);
  nfn_model_free (model);
  nfn_model_free (reference);
}

static void
test_bad_checkpoint (Fixture *f, gconstpointer data)
{
  g_autoptr (NfnStore) store = nfn_store_open (f->db, FALSE, NULL);
  nfn_model *model = small_model (NFN_MODEL_NP, 3);
  NfnTrainerTask task;
  nfn_trainer_task_classify (&task, model);
  NfnTrainerOptions o;
  CancelAt cancel = { 0, 1 };
  gint64 run = start_cancelled_run (f, store, &task, &o, 3, &cancel);
  NfnTrainerReport report;
  g_autoptr (GError) error = NULL;
  g_autofree char *checkpoint = nfn_trainer_find_checkpoint (store, run, &error);
  g_assert_no_error (error);
  o.resume_run = run;
  /* truncated */
  g_autofree char *contents = NULL;
  gsize length;
  g_assert_true (g_file_get_contents (checkpoint, &contents, &length, NULL));
  g_assert_true (g_file_set_contents (checkpoint, contents, length / 2, NULL));
  g_assert_false (nfn_trainer_run (&task, &f->train, &f->val, NULL, &o, &report, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, checkpoint, "");
  g_clear_error (&error);
  /* another model's (a different parameter count) */
  nfn_model *other = small_model (NFN_MODEL_HNP, 3);
  NfnTrainerTask other_task;
  nfn_trainer_task_classify (&other_task, other);
  g_assert_true (g_file_set_contents (checkpoint, contents, length, NULL));
  g_assert_false (nfn_trainer_run (&other_task, &f->train, &f->val, NULL, &o, &report, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, checkpoint, "parameters");
  g_clear_error (&error);
  /* the intact one still resumes */
  g_assert_true (nfn_trainer_run (&task, &f->train, &f->val, NULL, &o, &report, &error));
  g_assert_no_error (error);
  g_assert_cmpint (report.resumed_from_epoch, ==, 1);
  nfn_trainer_report_clear (&report);
  nfn_model_free (other);
  nfn_model_free (model);
}

/* ---- augmentation and normalisation ---- */

static void
test_augment_invariant (Fixture *f, gconstpointer data)
{
  nfn_model *model = small_model (NFN_MODEL_HNP, 4);
  nfn_feature batch;
  g_assert_cmpint (nfn_feature_alloc (&batch, &f->val.networks.space, 16, 1), ==, NFN_OK);
  nfn_feature original;
  g_assert_cmpint (nfn_feature_alloc (&original, &batch.space, 16, 1), ==, NFN_OK);
  for (int n = 0; n < 16; n++)
    {
      nfn_feature one;
      nfn_feature_alloc (&one, &batch.space, 1, 1);
      nfn_feature_get_network (&f->val.networks, n, &one);
      nfn_feature_set_network (&batch, n, &one);
      nfn_feature_set_network (&original, n, &one);
      nfn_feature_free (&one);
    }
  const float *logits;
  float before[16 * K];
  g_assert_cmpint (nfn_model_forward (model, &batch, 0, &logits), ==, NFN_OK);
  memcpy (before, logits, sizeof before);
  gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
  nfn_trainer_augment_hnp (NULL, &batch, NULL, rng);
  gsl_rng_free (rng);
  /* every network moved, the input and output neurons did not */
  g_assert_cmpfloat (nfn_feature_max_abs_diff (&batch, &original), >, 0.1);
  g_assert_cmpint (memcmp (batch.t[nfn_tensor_bias (3)], original.t[nfn_tensor_bias (3)], 16 * sizeof (float)), ==, 0);
  g_assert_cmpint (nfn_model_forward (model, &batch, 0, &logits), ==, NFN_OK);
  double worst = 0, scale = 0;
  for (int k = 0; k < 16 * K; k++)
    {
      worst = MAX (worst, fabs (logits[k] - before[k]));
      scale = MAX (scale, fabs (before[k]));
    }
  g_test_message ("HNP model after augmentation: max |Δlogit| %.2e of max |logit| %.2e", worst, scale);
  g_assert_cmpfloat (worst, <=, 1e-5 * MAX (scale, 1.0));
  nfn_feature_free (&batch);
  nfn_feature_free (&original);
  nfn_model_free (model);
}

static void
test_norm (Fixture *f, gconstpointer data)
{
  nfn_feature x;
  const nfn_space *s = &f->train.networks.space;
  g_assert_cmpint (nfn_feature_alloc (&x, s, N_TRAIN, 1), ==, NFN_OK);
  memcpy (x.data, f->train.networks.data, x.size * sizeof (float));
  /* tensors of very different scales and offsets, as a SIREN's */
  for (int t = 0; t < nfn_tensor_count (s); t++)
    for (size_t e = 0; e < N_TRAIN * nfn_tensor_entries (s, t); e++)
      x.t[t][e] = x.t[t][e] * powf (10.0f, (float) (t - 3)) + (float) t;
  NfnTrainerNorm norm;
  nfn_trainer_norm_fit (&norm, &x);
  g_assert_cmpint (norm.n_tensors, ==, nfn_tensor_count (s));
  nfn_trainer_norm_apply (&norm, &x);
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      nfn_stats st;
      nfn_stats_compute (x.t[t], N_TRAIN * nfn_tensor_entries (s, t), &st);
      g_assert_cmpfloat (fabs (st.mean), <, 1e-4);
      g_assert_cmpfloat (fabs (st.std - 1), <, 1e-4);
    }
  /* JSON round trip */
  g_autoptr (JsonBuilder) b = json_builder_new ();
  nfn_trainer_norm_build_json (b, &norm);
  g_autoptr (JsonNode) node = json_builder_get_root (b);
  NfnTrainerNorm back;
  g_autoptr (GError) error = NULL;
  g_assert_true (nfn_trainer_norm_from_json_node (node, s, &back, "norm", &error));
  g_assert_no_error (error);
  g_assert_cmpint (memcmp (&back, &norm, sizeof norm), ==, 0);
  nfn_space other;
  int widths[] = { 2, 3, 1 };
  nfn_space_init (&other, 2, widths);
  g_assert_false (nfn_trainer_norm_from_json_node (node, &other, &back, "norm", &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "norm", "array of 4 numbers");
  nfn_feature_free (&x);
}

static void
test_gather (Fixture *f, gconstpointer data)
{
  int index[] = { 5, 0, 5, 191 };
  NfnTrainerSet sub;
  g_autoptr (GError) error = NULL;
  g_assert_true (nfn_trainer_set_gather (&sub, &f->train, index, 4, &error));
  nfn_feature a, b;
  nfn_feature_alloc (&a, &sub.networks.space, 1, 1);
  nfn_feature_alloc (&b, &sub.networks.space, 1, 1);
  for (int k = 0; k < 4; k++)
    {
      nfn_feature_get_network (&sub.networks, k, &a);
      nfn_feature_get_network (&f->train.networks, index[k], &b);
      g_assert_cmpfloat (nfn_feature_max_abs_diff (&a, &b), ==, 0);
      g_assert_cmpint (sub.labels[k], ==, f->train.labels[index[k]]);
    }
  nfn_feature_free (&a);
  nfn_feature_free (&b);
  nfn_trainer_set_clear (&sub);
}

/* Sets from a real zoo with refits: every copy for training, one per image for evaluation;
 * compared network by network with the zoo's own reader. */
static void
test_zoo_sets (Fixture *f, gconstpointer data)
{
  NfnZooSettings zs;
  nfn_zoo_settings_init (&zs);
  g_free (zs.dataset);
  zs.dataset = g_strdup ("mnist");
  zs.count = 5;
  zs.refits = 1;
  zs.steps = 10;
  zs.shard_size = 4;
  g_autofree char *dir = g_build_filename (f->dir, "zoo", NULL);
  NfnZooFitCallbacks callbacks = { .threads = 2 };
  NfnZooFitReport fit;
  g_autoptr (GError) error = NULL;
  g_assert_true (nfn_zoo_fit (&zs, dir, NULL, &callbacks, &fit, &error));
  g_assert_no_error (error);
  nfn_zoo_settings_clear (&zs);
  g_autoptr (NfnZooDir) zoo = nfn_zoo_dir_open (dir, &error);
  g_assert_no_error (error);

  const struct {
    NfnTrainerZooSelect select;
    gint64 first, last;
    int count;
    gint64 first_network, stride;
  } cases[] = {
    { NFN_TRAINER_ZOO_ALL, 0, -1, 10, 0, 1 },
    { NFN_TRAINER_ZOO_FIRST_FIT, 0, -1, 5, 0, 2 },
    { NFN_TRAINER_ZOO_ALL, 2, 5, 6, 4, 1 },
    { NFN_TRAINER_ZOO_FIRST_FIT, 3, 5, 2, 6, 2 },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      NfnTrainerSet set;
      g_assert_true (nfn_trainer_set_load_zoo (&set, zoo, cases[c].first, cases[c].last, cases[c].select, &error));
      g_assert_no_error (error);
      g_assert_cmpint (nfn_trainer_set_size (&set), ==, cases[c].count);
      nfn_feature one;
      nfn_feature_alloc (&one, &set.networks.space, 1, 1);
      for (int k = 0; k < cases[c].count; k++)
        {
          gint64 index = cases[c].first_network + k * cases[c].stride;
          NfnZooEntry entry;
          g_autoptr (NfnNetwork) net = nfn_zoo_dir_get_network (zoo, index, &entry, &error);
          g_assert_no_error (error);
          nfn_feature_get_network (&set.networks, k, &one);
          g_assert_cmpfloat (nfn_feature_max_abs_diff (&one, &net->weights), ==, 0);
          g_assert_cmpint (set.labels[k], ==, entry.label);
          g_assert_cmpint (set.source[k], ==, index);
          if (cases[c].select == NFN_TRAINER_ZOO_FIRST_FIT)
            g_assert_cmpint (entry.refit, ==, 0);
        }
      nfn_feature_free (&one);
      nfn_trainer_set_clear (&set);
    }
  NfnTrainerSet set;
  g_assert_false (nfn_trainer_set_load_zoo (&set, zoo, 4, 9, NFN_TRAINER_ZOO_ALL, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, dir, "not a range");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  nfn_set_threads (2);
  g_test_add_func ("/trainer/regression-metrics", test_regression_metrics);
  g_test_add ("/trainer/learns", Fixture, NULL, fixture_setup, test_learns, fixture_teardown);
  g_test_add ("/trainer/bf16", Fixture, NULL, fixture_setup, test_bf16, fixture_teardown);
  g_test_add ("/trainer/regress", Fixture, NULL, fixture_setup, test_regress, fixture_teardown);
  g_test_add ("/trainer/store-rows", Fixture, NULL, fixture_setup, test_store_rows, fixture_teardown);
  g_test_add ("/trainer/deterministic", Fixture, NULL, fixture_setup, test_deterministic, fixture_teardown);
  g_test_add ("/trainer/resume-exact", Fixture, NULL, fixture_setup, test_resume_exact, fixture_teardown);
  g_test_add ("/trainer/bad-checkpoint", Fixture, NULL, fixture_setup, test_bad_checkpoint, fixture_teardown);
  g_test_add ("/trainer/augment-invariant", Fixture, NULL, fixture_setup, test_augment_invariant, fixture_teardown);
  g_test_add ("/trainer/norm", Fixture, NULL, fixture_setup, test_norm, fixture_teardown);
  g_test_add ("/trainer/gather", Fixture, NULL, fixture_setup, test_gather, fixture_teardown);
  g_test_add ("/trainer/zoo-sets", Fixture, NULL, fixture_setup, test_zoo_sets, fixture_teardown);
  return g_test_run ();
}
