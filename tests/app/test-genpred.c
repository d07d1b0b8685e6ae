/* test-genpred.c — predicting CNN accuracy from weights, run as a user would: `nfn zoo cnn`
 * builds a tiny real zoo (100 MNIST CNNs, quick settings) once for all tests; its recorded test
 * accuracy is recomputed here from the stored weights and the MNIST test split; a rerun resumes
 * and other settings are refused; `nfn train genpred` trains an HNP predictor to a test τ well
 * above 0, writes its store rows, model and scatter PNG; `nfn predict` gives a CNN and its
 * hidden-neuron permutation the same prediction with every model (hnp, np, stat, spectral; the
 * spectral file's prediction recomputed from its coefficients); a run killed after an epoch and
 * resumed ends with the same model, bit for bit, as one never interrupted; bad input (and a
 * resume with another --checkpoints) fails with one line.
 *
 * Shape letters: N networks, n test images. */
#include <cairo.h>
#include <glib/gstdio.h>
#include <gio/gio.h>
#include <math.h>
#include <signal.h>
#include <string.h>

#include "clitestutil.h"
#include "datatestutil.h"
#include "nfn_datasets.h"
#include "nfn_network.h"
#include "nfn_precision.h"
#include "nfn_safetensors.h"
#include "nfn_spectral.h"
#include "nfn_store.h"
#include "nfn_train.h"
#include "nfn_zoo.h"

#define ZOO_COUNT 100

/* The zoo every test reads, built once in main(). */
static char *tmp_dir, *zoo_dir, *db_path;
static gint64 spectral_run; /* the spectral baseline's run in db_path, once test_baselines ran */

static char *
tmp_file (const char *name)
{
  return g_build_filename (tmp_dir, name, NULL);
}

static void
build_zoo (void)
{
  gint64 t0 = g_get_monotonic_time ();
  run_result r = run_nfn ("zoo", "cnn", "--dataset", "mnist", "--count", G_STRINGIFY (ZOO_COUNT), "--shard-size", "50",
                          "--epochs-max", "2", "--fraction-max", "0.25", "--seed", "5", "--threads", "2", "--db", db_path,
                          "--out", zoo_dir, NULL);
  if (r.status != 0)
    g_error ("nfn zoo cnn failed: %s", r.err);
  g_test_message ("zoo of %d CNNs built in %.1f s: %s", ZOO_COUNT, (g_get_monotonic_time () - t0) / 1e6, r.out);
  run_result_clear (&r);
}

/* The zoo on disk: kind, metrics in their ranges, a wide spread of accuracies, the store's
 * index; the test accuracy of a network recomputed from its weights; resume and refusal. */
static void
test_zoo (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnZooDir) zoo = nfn_zoo_dir_open (zoo_dir, &error);
  g_assert_no_error (error);
  const NfnZooSettings *s = nfn_zoo_dir_settings (zoo);
  g_assert_cmpstr (nfn_zoo_settings_kind (s), ==, NFN_ZOO_KIND_CNN_TRAIN);
  g_assert_cmpint (nfn_zoo_dir_count (zoo), ==, ZOO_COUNT);
  g_assert_cmpint (nfn_zoo_dir_available (zoo), ==, ZOO_COUNT);
  g_assert_cmpint (s->arch.kind, ==, NFN_NET_CNN);
  g_assert_cmpuint (nfn_space_param_count (&s->arch.space), ==, 4970); /* the Small CNN Zoo's count */

  float test_acc[ZOO_COUNT], train_acc[ZOO_COUNT], lr[ZOO_COUNT], fraction[ZOO_COUNT], act[ZOO_COUNT];
  g_assert_true (nfn_zoo_dir_load_metric (zoo, "test_accuracy", 0, ZOO_COUNT, test_acc, &error));
  g_assert_true (nfn_zoo_dir_load_metric (zoo, "train_accuracy", 0, ZOO_COUNT, train_acc, &error));
  g_assert_true (nfn_zoo_dir_load_metric (zoo, "lr", 0, ZOO_COUNT, lr, &error));
  g_assert_true (nfn_zoo_dir_load_metric (zoo, "train_fraction", 0, ZOO_COUNT, fraction, &error));
  g_assert_true (nfn_zoo_dir_load_metric (zoo, "activation", 0, ZOO_COUNT, act, &error));
  g_assert_false (nfn_zoo_dir_load_metric (zoo, "psnr", 0, 1, lr, &error));
  g_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_NOT_FOUND);
  g_clear_error (&error);
  float lo = 1, hi = 0;
  int tanh_count = 0;
  for (int k = 0; k < ZOO_COUNT; k++)
    {
      g_assert_cmpfloat (lr[k], >=, 5e-4f * 0.9999f);
      g_assert_cmpfloat (lr[k], <=, 5e-2f * 1.0001f);
      g_assert_cmpfloat (fraction[k], >=, 0.1f * 0.9999f);
      g_assert_cmpfloat (fraction[k], <=, 0.25f * 1.0001f);
      g_assert_true (act[k] == NFN_ACT_RELU || act[k] == NFN_ACT_TANH);
      tanh_count += act[k] == NFN_ACT_TANH;
      lo = MIN (lo, test_acc[k]);
      hi = MAX (hi, test_acc[k]);
    }
  g_test_message ("test accuracy from %.3f to %.3f; %d of %d tanh", lo, hi, tanh_count, ZOO_COUNT);
  g_assert_cmpfloat (lo, <, 0.3);
  g_assert_cmpfloat (hi, >, 0.5);
  g_assert_cmpint (tanh_count, >, 20);
  g_assert_cmpint (tanh_count, <, 80);

  /* a shard is a batched PyTorch state dict: conv kernels (K, out, in, kh, kw), metrics (K) */
  g_autofree char *shard = nfn_zoo_dir_shard_path (zoo, 1);
  g_autoptr (NfnSafetensors) st = nfn_safetensors_load (shard, &error);
  g_assert_no_error (error);
  const gint64 conv_shape[] = { 50, 16, 16, 3, 3 };
  NfnTensor *conv = nfn_safetensors_find (st, "layers.1.weight");
  g_assert_cmpint (conv->rank, ==, 5);
  for (int d = 0; d < 5; d++)
    g_assert_cmpint (conv->shape[d], ==, conv_shape[d]);
  NfnTensor *dense = nfn_safetensors_find (st, "layers.3.weight");
  g_assert_cmpint (dense->rank, ==, 3);
  g_assert_cmpint (dense->shape[1], ==, 10);
  g_assert_cmpint (nfn_safetensors_find (st, "test_accuracy")->shape[0], ==, 50);

  /* network 7's test accuracy, recomputed: its weights, its own activation, the whole split */
  g_autofree char *spec = g_strdup_printf ("%s:7", zoo_dir);
  g_autoptr (NfnNetwork) net = NULL;
  double accuracy = dtu_mnist_test_accuracy (spec, &net);
  g_assert_cmpint (net->arch.act, ==, (int) act[7]);
  g_test_message ("network 7 (%s): recorded %.4f, recomputed %.4f on MNIST's test split", nfn_activation_name (net->arch.act),
                  test_acc[7], accuracy);
  g_assert_cmpfloat (fabs (accuracy - test_acc[7]), <, 1e-6);

  /* the store indexes every network with its test accuracy as quality */
  g_autoptr (NfnStore) store = nfn_store_open (db_path, TRUE, &error);
  g_assert_no_error (error);
  g_autoptr (NfnZoo) row = nfn_store_find_zoo (store, zoo_dir, &error);
  g_assert_no_error (error);
  g_assert_cmpint (row->networks, ==, ZOO_COUNT);
  g_autoptr (GArray) networks = nfn_store_zoo_networks (store, row->id, &error);
  g_assert_cmpfloat (fabs (g_array_index (networks, NfnZooNetwork, 7).quality - test_acc[7]), <, 1e-6);

  /* a rerun finds both shards; other settings are refused naming the manifest */
  run_result r = run_nfn ("zoo", "cnn", "--dataset", "mnist", "--count", G_STRINGIFY (ZOO_COUNT), "--shard-size", "50",
                          "--epochs-max", "2", "--fraction-max", "0.25", "--seed", "5", "--db", db_path, "--out", zoo_dir,
                          NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "(2 shards already there), 0 trained"));
  run_result_clear (&r);
  r = run_nfn ("zoo", "cnn", "--dataset", "mnist", "--count", G_STRINGIFY (ZOO_COUNT), "--shard-size", "50",
               "--epochs-max", "2", "--fraction-max", "0.25", "--seed", "6", "--db", db_path, "--out", zoo_dir, NULL);
  assert_one_line_error (&r, "zoo.json");
  g_assert_nonnull (strstr (r.err, "seed 5, not 6"));
  run_result_clear (&r);
}

/* Blue-ish pixels of the PNG (the dots), after checking its size. */
static int
scatter_dots (const char *png)
{
  cairo_surface_t *surface = cairo_image_surface_create_from_png (png);
  g_assert_cmpint (cairo_surface_status (surface), ==, CAIRO_STATUS_SUCCESS);
  g_assert_cmpint (cairo_image_surface_get_width (surface), ==, 574);
  g_assert_cmpint (cairo_image_surface_get_height (surface), ==, 592);
  cairo_surface_flush (surface);
  const guint8 *data = cairo_image_surface_get_data (surface);
  int stride = cairo_image_surface_get_stride (surface), blue = 0;
  for (int y = 0; y < 592; y++)
    for (int x = 0; x < 574; x++)
      {
        guint32 p = *(const guint32 *) (data + (gsize) y * stride + 4 * x);
        int r = (p >> 16) & 0xff, b = p & 0xff;
        blue += b > r + 60;
      }
  cairo_surface_destroy (surface);
  return blue;
}

/* `nfn predict MODEL` gives CNN 3 of the zoo and a hidden-neuron permutation of it (whose
 * weights do differ) the same predicted accuracy, in (0, 1); returns it. */
static double
assert_same_prediction_when_permuted (const char *model, const char *label)
{
  g_autofree char *spec = g_strdup_printf ("%s:3", zoo_dir);
  g_autofree char *permuted = tmp_file ("permuted.safetensors");
  run_result r = run_nfn ("permute", spec, "-o", permuted, "--seed", "9", NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_result_clear (&r);
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnNetwork) a = nfn_network_load_spec (spec, &error);
  g_autoptr (NfnNetwork) b = nfn_network_load (permuted, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (nfn_feature_max_abs_diff (&a->weights, &b->weights), >, 1e-3);
  r = run_nfn ("predict", model, spec, permuted, "--json", NULL);
  if (r.status != 0)
    g_error ("nfn predict with the %s model failed: %s", label, r.err);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, r.out, -1, NULL));
  JsonArray *predictions = json_node_get_array (json_parser_get_root (parser));
  g_assert_cmpuint (json_array_get_length (predictions), ==, 2);
  double p0 = json_object_get_double_member (json_array_get_object_element (predictions, 0), "predicted_test_accuracy");
  double p1 = json_object_get_double_member (json_array_get_object_element (predictions, 1), "predicted_test_accuracy");
  g_test_message ("%s: predicted accuracy of network 3: %.6f, permuted: %.6f", label, p0, p1);
  g_assert_cmpfloat (p0, >, 0);
  g_assert_cmpfloat (p0, <, 1);
  g_assert_cmpfloat (fabs (p0 - p1), <, 1e-5);
  run_result_clear (&r);
  return p0;
}

/* An HNP predictor trained on 80 networks ranks the 10 held-out ones: τ well above 0; the run,
 * its metrics, summary, model and figure are in the store. Then the model's prediction for a
 * CNN file and for its hidden-neuron permutation agree. */
static void
test_hnp_learns_and_is_invariant (void)
{
  g_autofree char *model = tmp_file ("hnp.safetensors"), *png = tmp_file ("hnp.png");
  gint64 t0 = g_get_monotonic_time ();
  run_result r = run_nfn ("train", "genpred", "--zoo", zoo_dir, "--model", "hnp", "--epochs", "25", "--channels", "8",
                          "--head", "64,64", "--batch", "16", "--warmup", "20", "--threads", "2", "--db", db_path, "-o",
                          model, "--scatter", png, "--json", NULL);
  if (r.status != 0)
    g_error ("nfn train genpred failed: %s", r.err);
  double seconds = (g_get_monotonic_time () - t0) / 1e6;
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o = parse_object (parser, r.out);
  gint64 run_id = json_object_get_int_member (o, "run");
  JsonObject *summary = json_object_get_object_member (o, "summary");
  double tau = json_object_get_double_member (summary, "test_tau"), val_tau = json_object_get_double_member (summary, "val_tau");
  g_test_message ("hnp: test tau %.3f, R^2 %.3f, val tau %.3f, best epoch %" G_GINT64_FORMAT ", %.1f s", tau,
                  json_object_get_double_member (summary, "test_r2"), val_tau,
                  json_object_get_int_member (summary, "best_epoch"), seconds);
  g_assert_cmpfloat (tau, >, 0.4);
  g_assert_cmpstr (json_object_get_string_member (summary, "model_file"), ==, model);
  g_assert_cmpstr (json_object_get_string_member (summary, "scatter_png"), ==, png);
  int dots = scatter_dots (png);
  g_test_message ("scatter: %d dot pixels for %" G_GINT64_FORMAT " networks", dots,
                  json_object_get_int_member (summary, "test_networks"));
  g_assert_cmpint (dots, >, 10 * json_object_get_int_member (summary, "test_networks"));
  run_result_clear (&r);

  g_autoptr (GError) error = NULL;
  g_autoptr (NfnStore) store = nfn_store_open (db_path, TRUE, &error);
  g_assert_no_error (error);
  g_autoptr (NfnRun) run = nfn_store_get_run (store, run_id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (run->task, ==, "train-genpred");
  g_assert_cmpstr (run->model, ==, "hnp");
  g_assert_cmpint (run->status, ==, NFN_RUN_COMPLETED);
  g_autoptr (GArray) series = nfn_store_run_metric (store, run_id, "val/tau", G_MININT64, &error);
  g_assert_cmpuint (series->len, ==, 25);
  g_autoptr (GPtrArray) artifacts = nfn_store_run_artifacts (store, run_id, &error);
  gboolean has_model = FALSE, has_figure = FALSE;
  for (guint k = 0; k < artifacts->len; k++)
    {
      NfnArtifact *a = g_ptr_array_index (artifacts, k);
      has_model |= strcmp (a->kind, "model") == 0 && strcmp (a->path, model) == 0;
      has_figure |= strcmp (a->kind, "figure") == 0 && strcmp (a->path, png) == 0;
    }
  g_assert_true (has_model && has_figure);

  assert_same_prediction_when_permuted (model, "hnp");
  g_autofree char *spec = g_strdup_printf ("%s:3", zoo_dir);
  r = run_nfn ("predict", model, spec, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "predicted test accuracy"));
  run_result_clear (&r);
}

/* The spectral baseline, StatNN and NP on the same split: runs complete with their rows, and
 * each model file predicts the same accuracy for a CNN and its permutation. The spectral file's
 * prediction for a CNN is recomputed here from its coefficients and the CNN's per-layer α. */
static void
test_baselines (void)
{
  g_autofree char *png = tmp_file ("spectral.png"), *spectral_model = tmp_file ("spectral.safetensors");
  run_result r = run_nfn ("train", "genpred", "--zoo", zoo_dir, "--model", "spectral", "--db", db_path, "--scatter", png,
                          "-o", spectral_model, "--json", NULL);
  if (r.status != 0)
    g_error ("spectral failed: %s", r.err);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *root = parse_object (parser, r.out), *summary = json_object_get_object_member (root, "summary");
  spectral_run = json_object_get_int_member (root, "run");
  JsonArray *coefficients = json_object_get_array_member (summary, "coefficients");
  g_assert_cmpuint (json_array_get_length (coefficients), ==, 5);
  double tau = json_object_get_double_member (summary, "test_tau");
  double neg_alpha = json_object_get_double_member (summary, "tau_neg_alpha");
  g_test_message ("spectral: test tau %.3f (least squares on alpha), tau of -mean alpha %.3f", tau, neg_alpha);
  g_assert_true (isfinite (tau) && isfinite (neg_alpha));
  g_assert_cmpint (scatter_dots (png), >, 0);
  g_assert_cmpstr (json_object_get_string_member (summary, "model_file"), ==, spectral_model);
  run_result_clear (&r);

  /* the file holds the run's coefficients; its prediction is c_0 + Σ c_i α_i of the CNN */
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnSafetensors) st = nfn_safetensors_load (spectral_model, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (nfn_safetensors_get_metadata (st, "nfn.task"), ==, "genpred");
  NfnTensor *c = nfn_safetensors_find (st, "coefficients"), *fill = nfn_safetensors_find (st, "alpha_fill");
  g_assert_nonnull (c);
  g_assert_nonnull (fill);
  g_assert_cmpuint (c->numel, ==, 5);
  for (int j = 0; j < 5; j++)
    g_assert_cmpfloat (c->data[j], ==, json_array_get_double_element (coefficients, j));
  double predicted = assert_same_prediction_when_permuted (spectral_model, "spectral");
  g_autofree char *spec = g_strdup_printf ("%s:3", zoo_dir);
  g_autoptr (NfnNetwork) net = nfn_network_load_spec (spec, &error);
  g_assert_no_error (error);
  nfn_powerlaw_fit fits[4];
  double mean_alpha, expected = c->data[0];
  g_assert_cmpint (nfn_spectral_network (&net->weights, 0, fits, &mean_alpha), ==, NFN_OK);
  for (int i = 0; i < 4; i++)
    expected += c->data[1 + i] * (isfinite (fits[i].alpha) ? fits[i].alpha : fill->data[i]);
  expected = CLAMP (expected, 0, 1);
  g_test_message ("spectral: network 3 predicted %.6f, recomputed %.6f", predicted, expected);
  g_assert_cmpfloat (fabs (predicted - expected), <, 1e-9);

  g_autofree char *stat_model = tmp_file ("stat.safetensors");
  r = run_nfn ("train", "genpred", "--zoo", zoo_dir, "--model", "stat", "--epochs", "25", "--head", "64,64", "--batch",
               "16", "--warmup", "20", "--db", db_path, "--scatter", png, "-o", stat_model, "--json", NULL);
  if (r.status != 0)
    g_error ("stat failed: %s", r.err);
  g_autoptr (JsonParser) stat_parser = json_parser_new ();
  summary = json_object_get_object_member (parse_object (stat_parser, r.out), "summary");
  g_test_message ("stat: test tau %.3f", json_object_get_double_member (summary, "test_tau"));
  g_assert_cmpfloat (json_object_get_double_member (summary, "test_tau"), >, 0.2);
  run_result_clear (&r);
  assert_same_prediction_when_permuted (stat_model, "stat");

  /* NP with its IO encoding: invariant to hidden permutations still */
  g_autofree char *np_model = tmp_file ("np.safetensors");
  r = run_nfn ("train", "genpred", "--zoo", zoo_dir, "--model", "np", "--epochs", "5", "--channels", "8", "--head", "32",
               "--batch", "16", "--warmup", "10", "--threads", "2", "--db", db_path, "--scatter", png, "-o", np_model,
               NULL);
  if (r.status != 0)
    g_error ("np failed: %s", r.err);
  run_result_clear (&r);
  assert_same_prediction_when_permuted (np_model, "np");

  /* HNP with the StatNN features beside its pool, in bf16 where the CPU has it: saved as such,
   * invariant still, and the run's config names its precision */
  g_autofree char *stats_model = tmp_file ("hnp-stats.safetensors");
  const char *precision = nfn_bf16_supported () ? "bf16" : "fp32";
  r = run_nfn ("train", "genpred", "--zoo", zoo_dir, "--model", "hnp", "--append-stats", "--precision", precision,
               "--epochs", "5", "--channels", "8", "--head", "32", "--batch", "16", "--warmup", "10", "--threads", "2",
               "--db", db_path, "--scatter", png, "-o", stats_model, "--json", NULL);
  if (r.status != 0)
    g_error ("hnp --append-stats failed: %s", r.err);
  g_autoptr (JsonParser) stats_parser = json_parser_new ();
  gint64 stats_run = json_object_get_int_member (parse_object (stats_parser, r.out), "run");
  run_result_clear (&r);
  {
    g_autoptr (NfnStore) store = nfn_store_open (db_path, TRUE, &error);
    g_assert_no_error (error);
    g_autoptr (NfnRun) run = nfn_store_get_run (store, stats_run, &error);
    g_assert_no_error (error);
    g_autofree char *member = g_strdup_printf ("\"precision\":\"%s\"", precision);
    g_assert_nonnull (strstr (run->config_json, member));
  }
  g_autoptr (NfnSafetensors) stats_st = nfn_safetensors_load (stats_model, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (nfn_safetensors_get_metadata (stats_st, "nfn.model"), "\"pool_stats\":true"));
  assert_same_prediction_when_permuted (stats_model, "hnp");
}

/* ---- kill and resume ---- */

/* The summary object of `nfn train genpred ARGS… --json`. */
static JsonObject *
train_summary (JsonParser *parser, const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) g_getenv ("NFN_CLI"));
  g_ptr_array_add (argv, "train");
  g_ptr_array_add (argv, "genpred");
  for (int k = 0; args[k]; k++)
    g_ptr_array_add (argv, (gpointer) args[k]);
  g_ptr_array_add (argv, "--json");
  g_ptr_array_add (argv, NULL);
  g_autofree char *out = NULL, *err = NULL;
  int wait_status;
  g_autoptr (GError) error = NULL;
  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &wait_status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (wait_status, NULL))
    g_error ("nfn train genpred failed: %s", err);
  g_assert_true (json_parser_load_from_data (parser, out, -1, NULL));
  return json_object_get_object_member (json_node_get_object (json_parser_get_root (parser)), "summary");
}

/* A run SIGKILLed after its first checkpoint and continued with --resume RUN ends with the same
 * model, bit for bit, as the same command never interrupted; resuming it again is refused. The
 * model has a width per layer (8, 8, 4, as the paper's [16, 16, 5]): the run's config keeps
 * them, the file says them, and the model is still invariant. */
static void
test_kill_resume (void)
{
  g_autofree char *dir_whole = tmp_file ("whole"), *dir_killed = tmp_file ("killed");
  g_assert_cmpint (g_mkdir_with_parents (dir_whole, 0755), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (dir_killed, 0755), ==, 0);
  g_autofree char *db_whole = g_build_filename (dir_whole, "store.sqlite", NULL);
  g_autofree char *db_killed = g_build_filename (dir_killed, "store.sqlite", NULL);
  g_autofree char *model_whole = tmp_file ("whole.safetensors"), *model_killed = tmp_file ("killed.safetensors");
  /* dropout and augmentation draw random numbers: the resumed run must draw the same ones */
  const char *common[] = { "--zoo", zoo_dir, "--model", "hnp", "--channels", "8,8,4", "--head", "64,64", "--batch", "4",
                           "--warmup", "20", "--epochs", "8", "--dropout", "0.1", "--head-dropout", "0.1", "--augment",
                           "--seed", "3", "--threads", "2" };
  const char *killed_args[G_N_ELEMENTS (common) + 8], *whole_args[G_N_ELEMENTS (common) + 5];
  int n = 0;
  killed_args[n++] = g_getenv ("NFN_CLI");
  killed_args[n++] = "train";
  killed_args[n++] = "genpred";
  for (gsize k = 0; k < G_N_ELEMENTS (common); k++)
    killed_args[n++] = whole_args[k] = common[k];
  killed_args[n++] = "--db";
  killed_args[n++] = db_killed;
  killed_args[n++] = "-o";
  killed_args[n++] = model_killed;
  killed_args[n] = NULL;
  n = G_N_ELEMENTS (common);
  whole_args[n++] = "--db";
  whole_args[n++] = db_whole;
  whole_args[n++] = "-o";
  whole_args[n++] = model_whole;
  whole_args[n] = NULL;

  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) child = g_subprocess_newv (killed_args, G_SUBPROCESS_FLAGS_STDOUT_SILENCE
                                                                      | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  /* stderr is no terminal: a line per epoch, printed once the epoch's checkpoint is written and
   * registered in the store (the store is not read meanwhile: the child owns it) */
  g_autoptr (GDataInputStream) lines = g_data_input_stream_new (g_subprocess_get_stderr_pipe (child));
  gboolean epoch_done = FALSE;
  while (!epoch_done)
    {
      g_autofree char *line = g_data_input_stream_read_line (lines, NULL, NULL, &error);
      g_assert_no_error (error);
      if (!line)
        break;
      epoch_done = g_str_has_prefix (line, "epoch 1/8:");
    }
  g_assert_true (epoch_done);
  g_subprocess_send_signal (child, SIGKILL);
  g_assert_true (g_subprocess_wait (child, NULL, &error));
  g_assert_true (g_subprocess_get_if_signaled (child)); /* killed mid-run, not finished */
  g_assert_false (g_file_test (model_killed, G_FILE_TEST_EXISTS));
  {
    g_autoptr (NfnStore) store = nfn_store_open (db_killed, FALSE, &error);
    g_assert_no_error (error);
    g_autoptr (NfnRun) run = nfn_store_get_run (store, 1, &error);
    g_assert_no_error (error);
    g_assert_cmpint (run->status, ==, NFN_RUN_INTERRUPTED);
  }

  /* a resume takes nothing but the store and threads */
  run_result r = run_nfn ("train", "genpred", "--resume", "1", "--zoo", zoo_dir, "--db", db_killed, NULL);
  assert_one_line_error (&r, "--resume");
  run_result_clear (&r);
  const char *resume_args[] = { "--resume", "1", "--threads", "2", "--db", db_killed, NULL };
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *resumed = train_summary (parser, resume_args);
  gint64 from = json_object_get_int_member (resumed, "resumed_from_epoch");
  g_test_message ("killed after epoch %" G_GINT64_FORMAT " of 8, resumed: test tau %.4f", from,
                  json_object_get_double_member (resumed, "test_tau"));
  g_assert_cmpint (from, >=, 1);
  g_assert_cmpint (from, <, 8);
  g_assert_cmpint (json_object_get_int_member (resumed, "epochs"), ==, 8);
  g_assert_cmpstr (json_object_get_string_member (resumed, "model_file"), ==, model_killed);

  g_autoptr (JsonParser) whole_parser = json_parser_new ();
  JsonObject *whole = train_summary (whole_parser, whole_args);
  g_assert_cmpint (json_object_get_int_member (whole, "best_epoch"), ==, json_object_get_int_member (resumed, "best_epoch"));
  g_assert_cmpint (json_object_get_int_member (whole, "steps"), ==, json_object_get_int_member (resumed, "steps"));
  g_assert_cmpfloat (json_object_get_double_member (whole, "test_tau"), ==, json_object_get_double_member (resumed, "test_tau"));
  assert_same_model_files (model_whole, model_killed);
  g_autoptr (NfnSafetensors) st = nfn_safetensors_load (model_killed, &error);
  g_assert_no_error (error);
  const char *config = nfn_safetensors_get_metadata (st, "nfn.model");
  g_assert_nonnull (strstr (config, "\"depth\":3"));
  g_assert_nonnull (strstr (config, "\"layer_channels\":[8,8,4]"));
  assert_same_prediction_when_permuted (model_killed, "hnp");

  /* a completed run does not resume */
  r = run_nfn ("train", "genpred", "--resume", "1", "--db", db_killed, NULL);
  assert_one_line_error (&r, "completed");
  run_result_clear (&r);
}

/* Wrong zoos, models and networks fail with one line naming the culprit. */
static void
test_errors (void)
{
  g_autofree char *missing = tmp_file ("no-such-zoo");
  run_result r = run_nfn ("train", "genpred", "--zoo", missing, "--db", db_path, NULL);
  assert_one_line_error (&r, missing);
  run_result_clear (&r);
  r = run_nfn ("train", "genpred", "--zoo", zoo_dir, "--model", "pointwise", "--db", db_path, NULL);
  assert_one_line_error (&r, "pointwise");
  run_result_clear (&r);
  /* --channels: a width or one per layer, as many as --depth says when both are given */
  r = run_nfn ("train", "genpred", "--zoo", zoo_dir, "--channels", "8,x", "--db", db_path, NULL);
  assert_one_line_error (&r, "--channels");
  g_assert_nonnull (strstr (r.err, "\"8,x\""));
  run_result_clear (&r);
  r = run_nfn ("train", "genpred", "--zoo", zoo_dir, "--channels", "8,8", "--depth", "3", "--db", db_path, NULL);
  assert_one_line_error (&r, "gives 2 layers but --depth is 3");
  run_result_clear (&r);
  r = run_nfn ("train", "genpred", "--zoo", zoo_dir, "--model", "stat", "--append-stats", "--db", db_path, NULL);
  assert_one_line_error (&r, "--append-stats");
  run_result_clear (&r);
  r = run_nfn ("train", "genpred", "--zoo", zoo_dir, "--precision", "fp16", "--db", db_path, NULL);
  assert_one_line_error (&r, "--precision takes fp32 or bf16, not \"fp16\"");
  run_result_clear (&r);
  if (!nfn_bf16_supported ())
    {
      /* a CPU without AVX512-BF16 refuses bf16 before the run starts */
      r = run_nfn ("train", "genpred", "--zoo", zoo_dir, "--precision", "bf16", "--db", db_path, NULL);
      assert_one_line_error (&r, "AVX512-BF16");
      run_result_clear (&r);
    }
  r = run_nfn ("zoo", "cnn", "--count", "0", "--out", missing, "--db", db_path, NULL);
  assert_one_line_error (&r, "--count");
  run_result_clear (&r);
  r = run_nfn ("zoo", "cnn", "--count", "4", "--checkpoints", "0", "--out", missing, "--db", db_path, NULL);
  assert_one_line_error (&r, "--checkpoints");
  run_result_clear (&r);
  /* the zoo records its checkpoints per run: resuming with another K is refused before any work */
  r = run_nfn ("zoo", "cnn", "--dataset", "mnist", "--count", G_STRINGIFY (ZOO_COUNT), "--shard-size", "50",
               "--epochs-max", "2", "--fraction-max", "0.25", "--seed", "5", "--checkpoints", "2", "--db", db_path,
               "--out", zoo_dir, NULL);
  assert_one_line_error (&r, "zoo.json");
  g_assert_nonnull (strstr (r.err, "1 checkpoints per run, not 2"));
  run_result_clear (&r);
  /* a SIREN is no CNN of the model's shape */
  g_autofree char *siren = tmp_file ("siren.safetensors"), *model = tmp_file ("hnp.safetensors");
  r = run_nfn ("sample", "-o", siren, NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_result_clear (&r);
  g_autofree char *spectral_model = tmp_file ("spectral.safetensors");
  const char *models[] = { model, spectral_model };
  for (gsize k = 0; k < G_N_ELEMENTS (models); k++)
    if (g_file_test (models[k], G_FILE_TEST_EXISTS))
      {
        r = run_nfn ("predict", models[k], siren, NULL);
        assert_one_line_error (&r, siren);
        run_result_clear (&r);
      }
  /* a spectral run has no checkpoint to resume */
  if (spectral_run > 0)
    {
      g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, spectral_run);
      r = run_nfn ("train", "genpred", "--resume", id, "--db", db_path, NULL);
      assert_one_line_error (&r, "spectral");
      run_result_clear (&r);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_autoptr (GError) error = NULL;
  tmp_dir = g_dir_make_tmp ("nfn-test-genpred-XXXXXX", &error);
  g_assert_no_error (error);
  zoo_dir = tmp_file ("zoo");
  db_path = tmp_file ("store.sqlite");
  build_zoo ();
  g_test_add_func ("/genpred/zoo", test_zoo);
  g_test_add_func ("/genpred/hnp-learns-and-is-invariant", test_hnp_learns_and_is_invariant);
  g_test_add_func ("/genpred/baselines", test_baselines);
  g_test_add_func ("/genpred/kill-resume", test_kill_resume);
  g_test_add_func ("/genpred/errors", test_errors);
  int status = g_test_run ();
  ctu_remove_dir (tmp_dir);
  g_free (tmp_dir);
  g_free (zoo_dir);
  g_free (db_path);
  return status;
}
