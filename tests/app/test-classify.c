/* test-classify.c — `nfn train classify`, `nfn predict` and `nfn eval` end to end on small real
 * zoos (MNIST SIRENs fitted here, in seconds, by `nfn zoo fit`):
 *   - accuracy on a held-out zoo far above chance;
 *   - invariant models (np, hnp, stat) give the same prediction for σ·U and U; the MLP
 *     baseline is only reported;
 *   - the store's rows for a run (run, config, metrics, artifacts, summary);
 *   - a run SIGKILLed after its first checkpoint and started again with --resume RUN ends
 *     with the same model, bit for bit, as an uninterrupted run;
 *   - `nfn eval`'s confusion matrix against the zoo's own labels;
 *   - malformed model files refused in one line naming them. */
#include <glib/gstdio.h>
#include <gio/gio.h>
#include <math.h>
#include <signal.h>
#include <string.h>

#include "clitestutil.h"
#include "nfn_safetensors.h"
#include "nfn_store.h"
#include "nfn_zoo.h"

static char *tmp_dir, *train_zoo, *val_zoo, *test_zoo, *zoo_db;

/* The small model every mechanics test trains (seconds), as CLI options. */
#define SMALL_MODEL "--channels", "8", "--fourier", "8", "--head", "64", "--batch", "32"

static void
fit_zoos (void)
{
  tmp_dir = g_dir_make_tmp ("nfn-test-classify-XXXXXX", NULL);
  train_zoo = g_build_filename (tmp_dir, "train-zoo", NULL);
  val_zoo = g_build_filename (tmp_dir, "val-zoo", NULL);
  test_zoo = g_build_filename (tmp_dir, "test-zoo", NULL);
  zoo_db = g_build_filename (tmp_dir, "zoos.sqlite", NULL);
  /* 200 MNIST training digits; 100 of the validation digits; 200 of the test digits, held out.
   * Different seeds: no network shares its initialisation with a training network. */
  run_result r = run_nfn ("zoo", "fit", "--dataset", "mnist", "--split", "train", "--count", "200", "--steps", "100",
                          "--out", train_zoo, "--db", zoo_db, NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_result_clear (&r);
  r = run_nfn ("zoo", "fit", "--dataset", "mnist", "--split", "val", "--count", "100", "--steps", "100", "--out",
               val_zoo, "--db", zoo_db, "--seed", "1", NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_result_clear (&r);
  r = run_nfn ("zoo", "fit", "--dataset", "mnist", "--split", "test", "--count", "200", "--steps", "100", "--out",
               test_zoo, "--db", zoo_db, "--seed", "2", NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_result_clear (&r);
}

static char *
tmp_file (const char *name)
{
  return g_build_filename (tmp_dir, name, NULL);
}

/* A store in a directory of its own: checkpoints go beside the store, named by run id. */
static char *
fresh_db (const char *name)
{
  g_autofree char *dir = tmp_file (name);
  g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
  return g_build_filename (dir, "store.sqlite", NULL);
}

/* Trains; returns the run's summary JSON object (parser keeps it). */
static JsonObject *
train_json (JsonParser *parser, const char *const *extra)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  const char *cli = g_getenv ("NFN_CLI");
  g_ptr_array_add (args, (gpointer) cli);
  const char *base[] = { "train", "classify", "--json", "--threads", "2" };
  for (guint k = 0; k < G_N_ELEMENTS (base); k++)
    g_ptr_array_add (args, (gpointer) base[k]);
  for (int k = 0; extra[k]; k++)
    g_ptr_array_add (args, (gpointer) extra[k]);
  g_ptr_array_add (args, NULL);
  g_autofree char *out = NULL, *err = NULL;
  int wait_status;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_spawn_sync (NULL, (char **) args->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &wait_status, &error));
  if (!g_spawn_check_wait_status (wait_status, NULL))
    g_error ("nfn train classify failed: %s", err);
  return parse_object (parser, out);
}

/* ---- learning ---- */

static void
test_accuracy (void)
{
  g_autofree char *db = fresh_db ("accuracy");
  g_autofree char *model = tmp_file ("np.safetensors");
  const char *args[] = { "--zoo", train_zoo, "--val", val_zoo, "--test", test_zoo, "--model", "np", "--channels", "16",
                         "--fourier", "16", "--head", "256", "--epochs", "10", "--warmup", "10", "--db", db, "--out", model,
                         NULL };
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o = train_json (parser, args);
  JsonObject *summary = json_object_get_object_member (o, "summary");
  double test = json_object_get_double_member (summary, "test_accuracy");
  double val = json_object_get_double_member (summary, "val_accuracy");
  g_test_message ("np on 200 MNIST SIRENs: best epoch %" G_GINT64_FORMAT ", val %.1f %% (100 networks), test %.1f %% "
                  "(200 held-out networks; chance 10 %%), %.1f s",
                  json_object_get_int_member (summary, "best_epoch"), 100 * val, 100 * test,
                  json_object_get_double_member (summary, "wall_seconds"));
  /* measured 16–18 % at this scale over seeds and model sizes (np, hnp alike; the paper's 93 %
   * needs 60k networks); chance is 10 % with a standard error of 2.1 points on 200 networks */
  g_assert_cmpfloat (test, >=, 0.13);
  g_assert_false (json_object_get_boolean_member (summary, "val_carved_from_train"));

  /* nfn eval on the same zoo agrees, and its confusion matrix is the zoo's labels' */
  run_result r = run_nfn ("eval", model, "--zoo", test_zoo, "--json", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_autoptr (JsonParser) eval_parser = json_parser_new ();
  JsonObject *e = parse_object (eval_parser, r.out);
  g_assert_cmpfloat (fabs (json_object_get_double_member (e, "accuracy") - test), <, 1e-12);
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnZooDir) zoo = nfn_zoo_dir_open (test_zoo, &error);
  g_assert_no_error (error);
  int labels[200], per_class[10] = { 0 };
  nfn_feature weights;
  g_assert_true (nfn_zoo_dir_load_range (zoo, 0, 200, &weights, labels, NULL, &error));
  nfn_feature_free (&weights);
  for (int n = 0; n < 200; n++)
    per_class[labels[n]]++;
  JsonArray *confusion = json_object_get_array_member (e, "confusion");
  g_assert_cmpuint (json_array_get_length (confusion), ==, 10);
  gint64 diagonal = 0;
  for (guint c = 0; c < 10; c++)
    {
      JsonArray *row = json_array_get_array_element (confusion, c);
      gint64 sum = 0;
      for (guint p = 0; p < 10; p++)
        sum += json_array_get_int_element (row, p);
      g_assert_cmpint (sum, ==, per_class[c]);
      diagonal += json_array_get_int_element (row, c);
    }
  g_assert_cmpfloat (fabs (diagonal / 200.0 - test), <, 1e-12);
  g_assert_cmpstr (json_array_get_string_element (json_object_get_array_member (e, "classes"), 7), ==, "7");
  run_result_clear (&r);
  /* the text form names the accuracy */
  r = run_nfn ("eval", model, "--zoo", test_zoo, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "accuracy"));
  g_assert_nonnull (strstr (r.out, "confusion"));
  run_result_clear (&r);
}

/* ---- invariance ---- */

/* Probabilities of `net` under `model`, from `nfn predict --json`. */
static void
predict (const char *model, const char *net, int *cls, double probs[10])
{
  run_result r = run_nfn ("predict", model, net, "--json", NULL);
  if (r.status != 0)
    g_error ("nfn predict failed: %s", r.err);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_assert_true (json_parser_load_from_data (parser, r.out, -1, &error));
  JsonArray *a = json_node_get_array (json_parser_get_root (parser));
  g_assert_cmpuint (json_array_get_length (a), ==, 1);
  JsonObject *o = json_array_get_object_element (a, 0);
  g_assert_cmpstr (json_object_get_string_member (o, "network"), ==, net);
  *cls = (int) json_object_get_int_member (o, "class");
  JsonArray *p = json_object_get_array_member (o, "probabilities");
  g_assert_cmpuint (json_array_get_length (p), ==, 10);
  double total = 0;
  for (guint k = 0; k < 10; k++)
    total += probs[k] = json_array_get_double_element (p, k);
  g_assert_cmpfloat (fabs (total - 1), <, 1e-5);
  run_result_clear (&r);
}

static void
test_invariance (void)
{
  g_autofree char *db = fresh_db ("invariance");
  const char *kinds[] = { "np", "hnp", "stat", "mlp" };
  for (guint k = 0; k < G_N_ELEMENTS (kinds); k++)
    {
      g_autofree char *model = g_strdup_printf ("%s/%s.safetensors", tmp_dir, kinds[k]);
      const char *args[] = { "--zoo", train_zoo, "--model", kinds[k], SMALL_MODEL, "--epochs", "1", "--db", db, "--out", model, NULL };
      g_autoptr (JsonParser) parser = json_parser_new ();
      train_json (parser, args);
      double worst = 0;
      int changed_class = 0;
      for (int net = 0; net < 3; net++)
        {
          g_autofree char *spec = g_strdup_printf ("%s:%d", test_zoo, net);
          g_autofree char *permuted = g_strdup_printf ("%s/permuted-%d.safetensors", tmp_dir, net);
          g_autofree char *seed = g_strdup_printf ("%d", 7 + net);
          run_result r = run_nfn ("permute", spec, "-o", permuted, "--seed", seed, NULL);
          g_assert_cmpint (r.status, ==, 0);
          run_result_clear (&r);
          int c1, c2;
          double p1[10], p2[10];
          predict (model, spec, &c1, p1);
          predict (model, permuted, &c2, p2);
          changed_class += c1 != c2;
          for (int c = 0; c < 10; c++)
            worst = MAX (worst, fabs (p1[c] - p2[c]));
        }
      g_test_message ("%s: max |p(σ·U) − p(U)| = %.2e over 3 networks, class changed for %d", kinds[k], worst, changed_class);
      if (strcmp (kinds[k], "mlp") != 0)
        {
          g_assert_cmpint (changed_class, ==, 0);
          g_assert_cmpfloat (worst, <, 1e-5);
        }
    }
}

/* ---- the store ---- */

static void
test_store_rows (void)
{
  g_autofree char *db = fresh_db ("rows");
  g_autofree char *model = tmp_file ("rows.safetensors");
  const char *args[] = { "--zoo", train_zoo, "--test", test_zoo, "--model", "hnp", SMALL_MODEL, "--epochs", "2", "--seed",
                         "4", "--db", db, "--out", model, NULL };
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o = train_json (parser, args);
  gint64 run_id = json_object_get_int_member (o, "run");

  g_autoptr (GError) error = NULL;
  g_autoptr (NfnStore) store = nfn_store_open (db, TRUE, &error);
  g_assert_no_error (error);
  g_autoptr (NfnRun) run = nfn_store_get_run (store, run_id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (run->task, ==, "train-classify");
  g_assert_cmpstr (run->model, ==, "hnp");
  g_assert_cmpint (run->status, ==, NFN_RUN_COMPLETED);
  g_assert_cmpuint (run->seed, ==, 4);
  g_assert_nonnull (strstr (run->config_json, "train-zoo"));
  g_assert_nonnull (strstr (run->config_json, "\"nfn_model\""));
  g_autoptr (GPtrArray) names = nfn_store_run_metric_names (store, run_id, &error);
  const char *expected[] = { "epoch", "test/accuracy", "test/loss", "train/epoch_loss", "train/loss", "train/lr",
                             "val/accuracy", "val/loss" };
  for (guint k = 0; k < G_N_ELEMENTS (expected); k++)
    {
      gboolean found = FALSE;
      for (guint j = 0; j < names->len; j++)
        found |= strcmp (g_ptr_array_index (names, j), expected[k]) == 0;
      if (!found)
        g_error ("metric %s was not logged", expected[k]);
    }
  g_autoptr (GArray) val = nfn_store_run_metric (store, run_id, "val/accuracy", G_MININT64, &error);
  g_assert_cmpuint (val->len, ==, 2);
  g_autoptr (GPtrArray) artifacts = nfn_store_run_artifacts (store, run_id, &error);
  gboolean model_seen = FALSE, checkpoint_seen = FALSE;
  for (guint k = 0; k < artifacts->len; k++)
    {
      NfnArtifact *a = g_ptr_array_index (artifacts, k);
      g_assert_true (g_file_test (a->path, G_FILE_TEST_IS_REGULAR));
      model_seen |= strcmp (a->kind, "model") == 0 && strcmp (a->path, model) == 0;
      checkpoint_seen |= strcmp (a->kind, "checkpoint") == 0;
    }
  g_assert_true (model_seen && checkpoint_seen);
  g_autoptr (JsonParser) sp = json_parser_new ();
  JsonObject *summary = parse_object (sp, run->summary_json);
  const char *members[] = { "best_epoch", "val_accuracy", "test_accuracy", "wall_seconds", "params", "test_confusion",
                            "model_file" };
  for (guint k = 0; k < G_N_ELEMENTS (members); k++)
    g_assert_true (json_object_has_member (summary, members[k]));
  g_assert_true (json_object_get_boolean_member (summary, "val_carved_from_train"));
  g_assert_cmpfloat (json_object_get_double_member (summary, "val_accuracy"), ==,
                     g_array_index (val, NfnMetricPoint, json_object_get_int_member (summary, "best_epoch") - 1).value);
}

/* ---- kill and resume ---- */

static void
test_kill_resume (void)
{
  g_autofree char *db_whole = fresh_db ("whole"), *db_killed = fresh_db ("killed");
  g_autofree char *model_whole = tmp_file ("whole.safetensors"), *model_killed = tmp_file ("killed.safetensors");
  /* dropout and augmentation draw random numbers: the resumed run must draw the same ones */
  const char *args[] = { "--zoo", train_zoo, "--model", "np", SMALL_MODEL, "--epochs", "6", "--dropout", "0.1",
                         "--augment", "--seed", "3", NULL };
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) g_getenv ("NFN_CLI"));
  g_ptr_array_add (argv, "train");
  g_ptr_array_add (argv, "classify");
  g_ptr_array_add (argv, "--threads");
  g_ptr_array_add (argv, "2");
  for (int k = 0; args[k]; k++)
    g_ptr_array_add (argv, (gpointer) args[k]);
  g_ptr_array_add (argv, "--db");
  g_ptr_array_add (argv, db_killed);
  g_ptr_array_add (argv, "--out");
  g_ptr_array_add (argv, model_killed);
  g_ptr_array_add (argv, NULL);

  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) child = g_subprocess_newv ((const char *const *) argv->pdata,
                                                     G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error);
  g_assert_no_error (error);
  /* a fresh store: the run is 1, its checkpoint appears (atomically) after epoch 1 */
  g_autofree char *checkpoint = g_build_filename (tmp_dir, "killed", "checkpoints", "run-1.safetensors", NULL);
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (!g_file_test (checkpoint, G_FILE_TEST_EXISTS) && g_get_monotonic_time () < deadline)
    g_usleep (5000);
  g_assert_true (g_file_test (checkpoint, G_FILE_TEST_EXISTS));
  g_subprocess_send_signal (child, SIGKILL);
  g_assert_true (g_subprocess_wait (child, NULL, &error));
  g_assert_true (g_subprocess_get_if_signaled (child)); /* killed mid-run, not finished */
  g_assert_false (g_file_test (model_killed, G_FILE_TEST_EXISTS));

  /* the store now says interrupted; --resume continues it */
  {
    g_autoptr (NfnStore) store = nfn_store_open (db_killed, FALSE, &error);
    g_assert_no_error (error);
    g_autoptr (NfnRun) run = nfn_store_get_run (store, 1, &error);
    g_assert_cmpint (run->status, ==, NFN_RUN_INTERRUPTED);
  }
  const char *resume_args[] = { "--resume", "1", "--db", db_killed, NULL };
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *resumed = json_object_get_object_member (train_json (parser, resume_args), "summary");
  gint64 from = json_object_get_int_member (resumed, "resumed_from_epoch");
  g_test_message ("killed after epoch %" G_GINT64_FORMAT " of 6, resumed", from);
  g_assert_cmpint (from, >=, 1);
  g_assert_cmpint (from, <, 6);
  g_assert_cmpint (json_object_get_int_member (resumed, "epochs"), ==, 6);

  /* the same command, never interrupted */
  g_autoptr (GPtrArray) whole_args = g_ptr_array_new ();
  for (int k = 0; args[k]; k++)
    g_ptr_array_add (whole_args, (gpointer) args[k]);
  g_ptr_array_add (whole_args, "--db");
  g_ptr_array_add (whole_args, db_whole);
  g_ptr_array_add (whole_args, "--out");
  g_ptr_array_add (whole_args, model_whole);
  g_ptr_array_add (whole_args, NULL);
  g_autoptr (JsonParser) parser2 = json_parser_new ();
  JsonObject *whole = json_object_get_object_member (train_json (parser2, (const char *const *) whole_args->pdata), "summary");
  g_assert_cmpint (json_object_get_int_member (whole, "best_epoch"), ==, json_object_get_int_member (resumed, "best_epoch"));
  g_assert_cmpint (json_object_get_int_member (whole, "steps"), ==, json_object_get_int_member (resumed, "steps"));
  assert_same_model_files (model_whole, model_killed);

  /* the epoch series of the resumed run has every epoch once */
  g_autoptr (NfnStore) store = nfn_store_open (db_killed, TRUE, &error);
  g_autoptr (GArray) epochs = nfn_store_run_metric (store, 1, "epoch", G_MININT64, &error);
  g_assert_cmpuint (epochs->len, ==, 6);
  for (guint k = 0; k < 6; k++)
    g_assert_cmpfloat (g_array_index (epochs, NfnMetricPoint, k).value, ==, k + 1);

  /* a finished run does not resume again */
  run_result r = run_nfn ("train", "classify", "--resume", "1", "--db", db_killed, NULL);
  assert_one_line_error (&r, "completed");
  run_result_clear (&r);
}

/* ---- errors ---- */

static void
test_errors (void)
{
  g_autofree char *bad = tmp_file ("bad-model.safetensors");
  g_autofree char *spec = g_strdup_printf ("%s:0", test_zoo);
  g_assert_true (g_file_set_contents (bad, "not a model at all", -1, NULL));
  run_result r = run_nfn ("predict", bad, spec, NULL);
  assert_one_line_error (&r, bad);
  run_result_clear (&r);
  r = run_nfn ("eval", bad, "--zoo", test_zoo, NULL);
  assert_one_line_error (&r, bad);
  run_result_clear (&r);
  /* a network file is not a model */
  g_autofree char *net = tmp_file ("net.safetensors");
  r = run_nfn ("permute", spec, "-o", net, NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_result_clear (&r);
  r = run_nfn ("predict", net, spec, NULL);
  assert_one_line_error (&r, "not an nfn model");
  run_result_clear (&r);
  /* bad options */
  r = run_nfn ("train", "classify", "--zoo", train_zoo, "--model", "cnn", "--db", zoo_db, NULL);
  assert_one_line_error (&r, "--model");
  run_result_clear (&r);
  g_autofree char *missing = tmp_file ("no-such-zoo");
  r = run_nfn ("train", "classify", "--zoo", missing, "--db", zoo_db, NULL);
  assert_one_line_error (&r, missing);
  run_result_clear (&r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  fit_zoos ();
  g_test_add_func ("/classify/accuracy", test_accuracy);
  g_test_add_func ("/classify/invariance", test_invariance);
  g_test_add_func ("/classify/store-rows", test_store_rows);
  g_test_add_func ("/classify/kill-resume", test_kill_resume);
  g_test_add_func ("/classify/errors", test_errors);
  int status = g_test_run ();
  ctu_remove_dir (tmp_dir);
  return status;
}
