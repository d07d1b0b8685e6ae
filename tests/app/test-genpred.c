/* test-genpred.c — predicting CNN accuracy from weights, run as a user would: `nfn zoo cnn`
 * builds a tiny real zoo (100 MNIST CNNs, quick settings) once for all tests; its recorded test
 * accuracy is recomputed here from the stored weights and the MNIST test split; a rerun resumes
 * and other settings are refused; `nfn train genpred` trains an HNP predictor to a test τ well
 * above 0, writes its store rows, model and scatter PNG; `nfn predict` gives a CNN and its
 * hidden-neuron permutation the same prediction; the spectral baseline runs; bad input fails
 * with one line.
 *
 * Shape letters: N networks, n test images. */
#include <cairo.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "clitestutil.h"
#include "nfn_datasets.h"
#include "nfn_network.h"
#include "nfn_safetensors.h"
#include "nfn_store.h"
#include "nfn_train.h"
#include "nfn_zoo.h"

#define ZOO_COUNT 100

/* The zoo every test reads, built once in main(). */
static char *tmp_dir, *zoo_dir, *db_path;

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
  g_autoptr (NfnNetwork) net = nfn_network_load_spec (spec, &error);
  g_assert_no_error (error);
  g_assert_cmpint (net->arch.act, ==, (int) act[7]);
  g_autoptr (NfnDataset) ds = nfn_dataset_load ("mnist", "test", 0, &error);
  g_assert_no_error (error);
  g_autofree float *logits = g_new (float, (gsize) ds->count * 10);
  g_autofree int *labels = g_new (int, ds->count);
  for (int k = 0; k < ds->count; k++)
    labels[k] = ds->labels[k];
  g_assert_cmpint (nfn_net_forward (&net->arch, &net->weights, ds->count, ds->images, 0, logits, NULL), ==, NFN_OK);
  double accuracy = nfn_accuracy (logits, labels, ds->count, 10);
  g_test_message ("network 7 (%s): recorded %.4f, recomputed %.4f on %d images", nfn_activation_name (net->arch.act),
                  test_acc[7], accuracy, ds->count);
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

  /* a CNN file and its hidden-neuron permutation: one prediction */
  g_autofree char *spec = g_strdup_printf ("%s:3", zoo_dir);
  g_autofree char *permuted = tmp_file ("permuted.safetensors");
  r = run_nfn ("permute", spec, "-o", permuted, "--seed", "9", NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_result_clear (&r);
  r = run_nfn ("predict", model, spec, permuted, "--json", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_autoptr (JsonParser) predict_parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (predict_parser, r.out, -1, NULL));
  JsonArray *predictions = json_node_get_array (json_parser_get_root (predict_parser));
  g_assert_cmpuint (json_array_get_length (predictions), ==, 2);
  double p0 = json_object_get_double_member (json_array_get_object_element (predictions, 0), "predicted_test_accuracy");
  double p1 = json_object_get_double_member (json_array_get_object_element (predictions, 1), "predicted_test_accuracy");
  g_test_message ("predicted accuracy of network 3: %.6f, permuted: %.6f", p0, p1);
  g_assert_cmpfloat (p0, >, 0);
  g_assert_cmpfloat (p0, <, 1);
  g_assert_cmpfloat (fabs (p0 - p1), <, 1e-5);
  run_result_clear (&r);
  /* the weights did change */
  g_autoptr (NfnNetwork) a = nfn_network_load_spec (spec, &error);
  g_autoptr (NfnNetwork) b = nfn_network_load (permuted, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (nfn_feature_max_abs_diff (&a->weights, &b->weights), >, 1e-3);
  r = run_nfn ("predict", model, spec, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "predicted test accuracy"));
  run_result_clear (&r);
}

/* The spectral baseline and StatNN on the same split: runs complete with their rows. */
static void
test_baselines (void)
{
  g_autofree char *png = tmp_file ("spectral.png");
  run_result r = run_nfn ("train", "genpred", "--zoo", zoo_dir, "--model", "spectral", "--db", db_path, "--scatter", png,
                          "--json", NULL);
  if (r.status != 0)
    g_error ("spectral failed: %s", r.err);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *summary = json_object_get_object_member (parse_object (parser, r.out), "summary");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (summary, "coefficients")), ==, 5);
  double tau = json_object_get_double_member (summary, "test_tau");
  double neg_alpha = json_object_get_double_member (summary, "tau_neg_alpha");
  g_test_message ("spectral: test tau %.3f (least squares on alpha), tau of -mean alpha %.3f", tau, neg_alpha);
  g_assert_true (isfinite (tau) && isfinite (neg_alpha));
  g_assert_cmpint (scatter_dots (png), >, 0);
  run_result_clear (&r);

  r = run_nfn ("train", "genpred", "--zoo", zoo_dir, "--model", "stat", "--epochs", "25", "--head", "64,64", "--batch",
               "16", "--warmup", "20", "--db", db_path, "--scatter", png, "--json", NULL);
  if (r.status != 0)
    g_error ("stat failed: %s", r.err);
  g_autoptr (JsonParser) stat_parser = json_parser_new ();
  summary = json_object_get_object_member (parse_object (stat_parser, r.out), "summary");
  g_test_message ("stat: test tau %.3f", json_object_get_double_member (summary, "test_tau"));
  g_assert_cmpfloat (json_object_get_double_member (summary, "test_tau"), >, 0.2);
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
  r = run_nfn ("zoo", "cnn", "--count", "0", "--out", missing, "--db", db_path, NULL);
  assert_one_line_error (&r, "--count");
  run_result_clear (&r);
  /* a SIREN is no CNN of the model's shape */
  g_autofree char *siren = tmp_file ("siren.safetensors"), *model = tmp_file ("hnp.safetensors");
  r = run_nfn ("sample", "-o", siren, NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_result_clear (&r);
  if (g_file_test (model, G_FILE_TEST_EXISTS))
    {
      r = run_nfn ("predict", model, siren, NULL);
      assert_one_line_error (&r, siren);
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
  g_test_add_func ("/genpred/errors", test_errors);
  int status = g_test_run ();
  ctu_remove_dir (tmp_dir);
  g_free (tmp_dir);
  g_free (zoo_dir);
  g_free (db_path);
  return status;
}
