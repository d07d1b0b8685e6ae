/* test-edit.c — `nfn train edit`, `nfn edit` and `nfn render --target`, run as a user would,
 * on ~200 MNIST SIRENs fitted in the set-up with few steps:
 *   - training learns: the test MSE of the edited networks is well below the unedited ones';
 *     both numbers are recomputed here from the saved model (its input standardisation applied
 *     from the file's JSON), the zoo and the data set (own grid, own MSE), so the report, the
 *     best-epoch model file and the renders agree;
 *   - the run's store rows: status, metric series, the model and checkpoint artifacts, summary;
 *   - `nfn edit` writes a SIREN equal to U + model(U) that keeps its source's metadata, and
 *     `nfn render` draws it beside its transformed source with the MSE computed here;
 *   - a run killed after its first checkpoint continues with --resume RUN from its settings;
 *   - one-line errors for a bad transform, a network that is not there, a file that is not a
 *     model. */
#include <glib/gstdio.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "clitestutil.h"
#include "nfn_datasets.h"
#include "nfn_model_file.h"
#include "nfn_morph.h"
#include "nfn_network.h"
#include "nfn_store.h"
#include "nfn_trainer.h"
#include "nfn_zoo.h"

#define TRAIN_IMAGES "200"
#define TEST_IMAGES 60
#define SIDE 28
#define PIXELS (SIDE * SIDE)

/* Built once in main: zoos fitted with few steps, and one trained model. */
static struct {
  char *tmp, *db, *train_zoo, *test_zoo, *model;
  JsonParser *parser;
  JsonObject *result; /* `nfn train edit --json` */
} fx;

static void
fixture_setup (void)
{
  fx.tmp = g_dir_make_tmp ("nfn-test-edit-XXXXXX", NULL);
  fx.db = g_build_filename (fx.tmp, "store.sqlite", NULL);
  fx.train_zoo = g_build_filename (fx.tmp, "train", NULL);
  fx.test_zoo = g_build_filename (fx.tmp, "test", NULL);
  fx.model = g_build_filename (fx.tmp, "dilate.safetensors", NULL);
  g_autofree char *test_count = g_strdup_printf ("%d", TEST_IMAGES);
  run_result r = run_nfn ("zoo", "fit", "--dataset", "mnist", "--split", "train", "--count", TRAIN_IMAGES, "--steps",
                          "100", "--db", fx.db, "--out", fx.train_zoo, NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_result_clear (&r);
  r = run_nfn ("zoo", "fit", "--dataset", "mnist", "--split", "test", "--count", test_count, "--steps", "100", "--db",
               fx.db, "--out", fx.test_zoo, NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_result_clear (&r);
  r = run_nfn ("train", "edit", "--task", "dilate", "--zoo", fx.train_zoo, "--test", fx.test_zoo, "--model", "np",
               "--epochs", "8", "--batch", "16", "--channels", "16", "--depth", "2", "--lr", "3e-3", "--normalize",
               "--db", fx.db, "--out", fx.model, "--json", NULL);
  if (r.status != 0)
    g_error ("nfn train edit failed: %s", r.err);
  fx.parser = json_parser_new ();
  fx.result = parse_object (fx.parser, r.out);
  run_result_clear (&r);
}

/* The test zoo's networks, their dilated sources as [−1, 1] targets, and grid coordinates
 * written out here (x along columns, y along rows, both linspace(−1, 1)). */
typedef struct {
  nfn_arch arch;
  nfn_feature networks; /* (TEST_IMAGES, C = 1) */
  float *targets;       /* (TEST_IMAGES, PIXELS) */
  float coords[2 * PIXELS];
} test_set;

static void
test_set_load (test_set *t, nfn_morph_op op)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnZooDir) zoo = nfn_zoo_dir_open (fx.test_zoo, &error);
  g_assert_no_error (error);
  t->arch = nfn_zoo_dir_settings (zoo)->arch;
  g_assert_true (nfn_zoo_dir_load_range (zoo, 0, TEST_IMAGES, &t->networks, NULL, NULL, &error));
  g_autoptr (NfnDataset) ds = nfn_dataset_load ("mnist", "test", TEST_IMAGES, &error);
  g_assert_no_error (error);
  t->targets = g_new (float, TEST_IMAGES * PIXELS);
  g_assert_cmpint (nfn_morph_apply (op, ds->images, t->targets, TEST_IMAGES, SIDE, SIDE), ==, NFN_OK);
  for (int e = 0; e < TEST_IMAGES * PIXELS; e++)
    t->targets[e] = 2 * t->targets[e] - 1;
  for (int r = 0; r < SIDE; r++)
    for (int c = 0; c < SIDE; c++)
      {
        t->coords[2 * (r * SIDE + c)] = -1.0f + 2.0f * c / (SIDE - 1);
        t->coords[2 * (r * SIDE + c) + 1] = -1.0f + 2.0f * r / (SIDE - 1);
      }
}

static void
test_set_clear (test_set *t)
{
  nfn_feature_free (&t->networks);
  g_free (t->targets);
}

/* Mean squared error of network k's render against its target. */
static double
render_mse (const test_set *t, const nfn_feature *networks, int k)
{
  nfn_feature one;
  float y[PIXELS];
  nfn_feature_alloc (&one, &networks->space, 1, 1);
  nfn_feature_get_network (networks, k, &one);
  g_assert_cmpint (nfn_net_forward (&t->arch, &one, PIXELS, t->coords, 0, y, NULL), ==, NFN_OK);
  nfn_feature_free (&one);
  double sum = 0;
  for (int p = 0; p < PIXELS; p++)
    sum += ((double) y[p] - t->targets[k * PIXELS + p]) * ((double) y[p] - t->targets[k * PIXELS + p]);
  return sum / PIXELS;
}

/* edited = networks + the saved model's delta, the model seeing the networks standardised by
 * the per-tensor mean and std its file records (worked out here from the JSON). */
static void
edit_with_saved_model (const nfn_feature *networks, nfn_feature *edited)
{
  g_autoptr (GError) error = NULL;
  NfnModelFileInfo info = { 0 };
  nfn_model *model = nfn_model_file_load (fx.model, networks->B, &info, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (info.task, ==, "edit");
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *extra = parse_object (parser, info.extra_json);
  g_assert_cmpstr (json_object_get_string_member (extra, "transform"), ==, "dilate");
  JsonObject *norm = json_object_get_object_member (extra, "input_norm");
  JsonArray *mean = json_object_get_array_member (norm, "mean"), *std = json_object_get_array_member (norm, "std");
  const nfn_space *s = &networks->space;
  g_assert_cmpuint (json_array_get_length (mean), ==, nfn_tensor_count (s));
  nfn_feature input;
  nfn_feature_alloc (&input, s, networks->B, 1);
  for (int t = 0; t < nfn_tensor_count (s); t++)
    for (size_t e = 0; e < networks->B * nfn_tensor_entries (s, t); e++)
      input.t[t][e] = (float) ((networks->t[t][e] - json_array_get_double_element (mean, t))
                               / json_array_get_double_element (std, t));
  nfn_model_file_info_clear (&info);
  const nfn_feature *delta;
  g_assert_cmpint (nfn_model_forward_weights (model, &input, 0, &delta), ==, NFN_OK);
  nfn_feature_alloc (edited, s, networks->B, 1);
  for (size_t e = 0; e < edited->size; e++)
    edited->data[e] = networks->data[e] + delta->data[e];
  nfn_feature_free (&input);
  nfn_model_free (model);
}

static void
test_learns (void)
{
  test_set t;
  test_set_load (&t, NFN_MORPH_DILATE);
  nfn_feature edited;
  edit_with_saved_model (&t.networks, &edited);
  double unedited = 0, mse = 0;
  for (int k = 0; k < TEST_IMAGES; k++)
    {
      unedited += render_mse (&t, &t.networks, k) / TEST_IMAGES;
      mse += render_mse (&t, &edited, k) / TEST_IMAGES;
    }
  double reported = json_object_get_double_member (fx.result, "test_mse");
  double reported_unedited = json_object_get_double_member (fx.result, "test_unedited_mse");
  g_test_message ("test MSE %.5f (reported %.5f), unedited %.5f (reported %.5f), best epoch %" G_GINT64_FORMAT, mse,
                  reported, unedited, reported_unedited, json_object_get_int_member (fx.result, "best_epoch"));
  g_assert_cmpfloat (fabs (unedited - reported_unedited), <=, 1e-4 * unedited);
  g_assert_cmpfloat (fabs (mse - reported), <=, 1e-4 * mse);
  g_assert_cmpfloat (mse, <, 0.9 * unedited);
  nfn_feature_free (&edited);
  test_set_clear (&t);
}

static gboolean
string_array_contains (GPtrArray *array, const char *s)
{
  for (guint k = 0; k < array->len; k++)
    if (strcmp (g_ptr_array_index (array, k), s) == 0)
      return TRUE;
  return FALSE;
}

static void
test_store_rows (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnStore) store = nfn_store_open (fx.db, TRUE, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) runs = nfn_store_list_runs (store, "train-edit", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (runs->len, ==, 1);
  NfnRun *run = g_ptr_array_index (runs, 0);
  g_assert_cmpint (run->id, ==, json_object_get_int_member (fx.result, "run"));
  g_assert_cmpint (run->status, ==, NFN_RUN_COMPLETED);
  g_assert_cmpstr (run->model, ==, "np");
  g_assert_nonnull (strstr (run->config_json, "\"dilate\""));

  g_autoptr (GPtrArray) names = nfn_store_run_metric_names (store, run->id, &error);
  g_assert_no_error (error);
  const char *wanted[] = { "train/loss", "train/epoch_loss", "val/mse", "val/psnr", "test/mse", "epoch" };
  for (guint k = 0; k < G_N_ELEMENTS (wanted); k++)
    if (!string_array_contains (names, wanted[k]))
      g_error ("metric %s not logged", wanted[k]);
  g_autoptr (GArray) val = nfn_store_run_metric (store, run->id, "val/mse", G_MININT64, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (val->len, ==, 8); /* one per epoch */
  /* the best epoch's validation MSE is the lowest of the series */
  double lowest = INFINITY;
  for (guint k = 0; k < val->len; k++)
    lowest = fmin (lowest, g_array_index (val, NfnMetricPoint, k).value);
  g_assert_cmpfloat (lowest, ==, json_object_get_double_member (fx.result, "val_mse"));

  g_autoptr (GPtrArray) artifacts = nfn_store_run_artifacts (store, run->id, &error);
  g_assert_no_error (error);
  gboolean model = FALSE, checkpoint = FALSE;
  for (guint k = 0; k < artifacts->len; k++)
    {
      NfnArtifact *a = g_ptr_array_index (artifacts, k);
      model |= strcmp (a->kind, "model") == 0 && strcmp (a->path, fx.model) == 0;
      checkpoint |= strcmp (a->kind, "checkpoint") == 0 && g_file_test (a->path, G_FILE_TEST_EXISTS);
    }
  g_assert_true (model);
  g_assert_true (checkpoint);

  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *summary = parse_object (parser, run->summary_json);
  g_assert_cmpstr (json_object_get_string_member (summary, "transform"), ==, "dilate");
  g_assert_cmpfloat (json_object_get_double_member (json_object_get_object_member (summary, "unedited_test"), "mse"), ==,
                     json_object_get_double_member (fx.result, "test_unedited_mse"));
  g_assert_cmpfloat (json_object_get_double_member (json_object_get_object_member (summary, "test"), "mse"), ==,
                     json_object_get_double_member (fx.result, "test_mse"));
}

/* Big-endian u32 at `offset` of a file's bytes (a PNG's IHDR width and height). */
static guint32
read_be32 (const guint8 *bytes, gsize offset)
{
  return (guint32) bytes[offset] << 24 | (guint32) bytes[offset + 1] << 16 | (guint32) bytes[offset + 2] << 8
         | bytes[offset + 3];
}

static void
assert_png_size (const char *png, guint32 width, guint32 height)
{
  g_autofree guint8 *bytes = NULL;
  gsize length;
  g_assert_true (g_file_get_contents (png, (char **) &bytes, &length, NULL));
  g_assert_cmpuint (length, >, 24);
  g_assert_cmpmem (bytes + 1, 3, "PNG", 3);
  g_assert_cmpuint (read_be32 (bytes, 16), ==, width);
  g_assert_cmpuint (read_be32 (bytes, 20), ==, height);
}

/* The number after `label` in `text`, NAN if absent. */
static double
number_after (const char *text, const char *label)
{
  const char *at = strstr (text, label);
  return at ? g_ascii_strtod (at + strlen (label), NULL) : NAN;
}

#define NET 5

static void
test_edit_and_render (void)
{
  test_set t;
  test_set_load (&t, NFN_MORPH_DILATE);
  nfn_feature edited;
  edit_with_saved_model (&t.networks, &edited);

  g_autofree char *spec = g_strdup_printf ("%s:%d", fx.test_zoo, NET);
  g_autofree char *out = g_build_filename (fx.tmp, "edited.safetensors", NULL);
  run_result r = run_nfn ("edit", fx.model, spec, "-o", out, NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_result_clear (&r);
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnNetwork) net = nfn_network_load (out, &error);
  g_assert_no_error (error);
  g_assert_cmpint (net->arch.kind, ==, NFN_NET_SIREN);
  g_assert_true (nfn_space_equal (&net->arch.space, &t.arch.space));
  g_assert_cmpfloat (net->arch.omega0, ==, t.arch.omega0);
  nfn_feature expected, original;
  nfn_feature_alloc (&expected, &t.arch.space, 1, 1);
  nfn_feature_alloc (&original, &t.arch.space, 1, 1);
  nfn_feature_get_network (&edited, NET, &expected);
  nfn_feature_get_network (&t.networks, NET, &original);
  g_assert_cmpfloat (nfn_feature_max_abs_diff (&net->weights, &expected), <=, 1e-6);
  g_assert_cmpfloat (nfn_feature_max_abs_diff (&net->weights, &original), >, 1e-4);
  g_assert_cmpstr (g_hash_table_lookup (net->metadata, "nfn.edit.transform"), ==, "dilate");
  g_assert_cmpstr (g_hash_table_lookup (net->metadata, "nfn.zoo.dataset"), ==, "mnist");
  g_assert_cmpstr (g_hash_table_lookup (net->metadata, "nfn.zoo.image"), ==, G_STRINGIFY (NET));

  /* render finds the transform in the metadata: source, INR, target, fine grid */
  g_autofree char *png = g_build_filename (fx.tmp, "edited.png", NULL);
  r = run_nfn ("render", out, "-o", png, "--scale", "2", NULL);
  g_assert_cmpint (r.status, ==, 0);
  assert_png_size (png, 4 * (56 + 8) + 8, 8 + 56 + 36);
  double shown = number_after (r.out, "MSE "), want = render_mse (&t, &edited, NET);
  g_test_message ("render: %s", r.out);
  g_assert_cmpfloat (fabs (shown - want), <=, 1e-4);
  g_assert_nonnull (strstr (r.out, "dilate"));
  run_result_clear (&r);

  /* --target on a plain zoo network: its own MSE against the eroded source */
  test_set eroded;
  test_set_load (&eroded, NFN_MORPH_ERODE);
  r = run_nfn ("render", spec, "--target", "erode", "-o", png, "--scale", "2", NULL);
  g_assert_cmpint (r.status, ==, 0);
  assert_png_size (png, 4 * (56 + 8) + 8, 8 + 56 + 36);
  g_assert_cmpfloat (fabs (number_after (r.out, "MSE ") - render_mse (&eroded, &eroded.networks, NET)), <=, 1e-4);
  run_result_clear (&r);
  r = run_nfn ("render", spec, "--target", "blur", "-o", png, NULL);
  assert_one_line_error (&r, "blur");
  run_result_clear (&r);

  nfn_feature_free (&expected);
  nfn_feature_free (&original);
  nfn_feature_free (&edited);
  test_set_clear (&t);
  test_set_clear (&eroded);
}

/* Polls the store until the run has a checkpoint file (the first epoch is done); the row is
 * registered when the run starts, the file appears at the end of epoch 1. */
static gint64
wait_for_checkpoint (const char *db)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline)
    {
      g_autoptr (NfnStore) store = nfn_store_open (db, TRUE, NULL);
      g_autoptr (GPtrArray) runs = store ? nfn_store_list_runs (store, "train-edit", NULL) : NULL;
      if (runs && runs->len == 1)
        {
          NfnRun *run = g_ptr_array_index (runs, 0);
          g_autofree char *checkpoint = nfn_trainer_find_checkpoint (store, run->id, NULL);
          if (checkpoint)
            return run->id;
        }
      g_usleep (5000);
    }
  g_error ("no checkpoint within a minute");
}

static void
test_resume (void)
{
  g_autofree char *db = g_build_filename (fx.tmp, "resume.sqlite", NULL);
  g_autofree char *model = g_build_filename (fx.tmp, "resumed.safetensors", NULL);
  /* the small test zoo as training set, many short epochs: killed after the first */
  const char *argv[] = { g_getenv ("NFN_CLI"), "train", "edit", "--task", "invert", "--zoo", fx.test_zoo, "--model",
                         "hnp", "--epochs", "12", "--batch", "16", "--channels", "8", "--depth", "1", "--fourier", "8",
                         "--fourier-scale", "0.5", "--threads", "1", "--db", db, "--out", model, NULL };
  GPid pid;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_spawn_async (NULL, (char **) argv, NULL,
                                G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                                NULL, &pid, &error));
  g_assert_no_error (error);
  gint64 run = wait_for_checkpoint (db);
  kill (pid, SIGKILL);
  int status;
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_spawn_close_pid (pid);
  g_assert_true (WIFSIGNALED (status));
  g_assert_false (g_file_test (model, G_FILE_TEST_EXISTS));

  g_autofree char *run_text = g_strdup_printf ("%" G_GINT64_FORMAT, run);
  run_result r = run_nfn ("train", "edit", "--resume", run_text, "--db", db, "--threads", "1", "--json", NULL);
  if (r.status != 0)
    g_error ("resume failed: %s", r.err);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *result = parse_object (parser, r.out);
  g_assert_cmpint (json_object_get_int_member (result, "run"), ==, run);
  g_assert_cmpint (json_object_get_int_member (result, "epochs"), ==, 12);
  g_assert_cmpstr (json_object_get_string_member (result, "transform"), ==, "invert");
  g_assert_cmpstr (json_object_get_string_member (result, "model"), ==, "hnp");
  run_result_clear (&r);
  /* without --normalize the model takes the raw weights, and its file says so */
  NfnModelFileInfo info = { 0 };
  nfn_model *saved = nfn_model_file_load (model, 1, &info, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (info.extra_json, "\"invert\""));
  g_assert_null (strstr (info.extra_json, "input_norm"));
  /* the Fourier options came back from the run's config */
  const nfn_model_config *cfg = nfn_model_get_config (saved);
  g_assert_cmpint (cfg->fourier_m, ==, 8);
  g_assert_cmpfloat (cfg->fourier_scale, ==, 0.5);
  g_assert_cmpint (cfg->io_bands, ==, 0);
  nfn_model_file_info_clear (&info);
  nfn_model_free (saved);
  g_autoptr (NfnStore) store = nfn_store_open (db, TRUE, &error);
  g_autoptr (NfnRun) finished = nfn_store_get_run (store, run, &error);
  g_assert_no_error (error);
  g_assert_cmpint (finished->status, ==, NFN_RUN_COMPLETED);
  g_autoptr (JsonParser) summary_parser = json_parser_new ();
  JsonObject *summary = parse_object (summary_parser, finished->summary_json);
  gint64 resumed_from = json_object_get_int_member (summary, "resumed_from_epoch");
  g_test_message ("killed run %" G_GINT64_FORMAT " resumed from epoch %" G_GINT64_FORMAT, run, resumed_from);
  g_assert_cmpint (resumed_from, >=, 1);
  g_assert_cmpint (resumed_from, <, 12);
}

static void
test_errors (void)
{
  run_result r = run_nfn ("train", "edit", "--task", "blur", "--zoo", fx.train_zoo, "--db", fx.db, NULL);
  assert_one_line_error (&r, "blur");
  run_result_clear (&r);
  r = run_nfn ("train", "edit", "--task", "dilate", "--zoo", fx.train_zoo, "--model", "stat", "--db", fx.db, NULL);
  assert_one_line_error (&r, "stat");
  run_result_clear (&r);
  /* the editor has one width for all its layers */
  r = run_nfn ("train", "edit", "--task", "dilate", "--zoo", fx.train_zoo, "--channels", "8,4", "--db", fx.db, NULL);
  assert_one_line_error (&r, "one --channels width");
  run_result_clear (&r);
  r = run_nfn ("train", "edit", "--task", "dilate", "--zoo", fx.train_zoo, "--fourier-scale", "0", "--db", fx.db, NULL);
  assert_one_line_error (&r, "--fourier-scale > 0");
  run_result_clear (&r);
  /* an HNP model has no IO encoding */
  r = run_nfn ("train", "edit", "--task", "dilate", "--zoo", fx.train_zoo, "--model", "hnp", "--io-bands", "2", "--db",
               fx.db, NULL);
  assert_one_line_error (&r, "hnp");
  run_result_clear (&r);
  g_autofree char *missing = g_build_filename (fx.tmp, "missing.safetensors", NULL);
  g_autofree char *out = g_build_filename (fx.tmp, "never.safetensors", NULL);
  r = run_nfn ("edit", fx.model, missing, "-o", out, NULL);
  assert_one_line_error (&r, missing);
  run_result_clear (&r);
  /* a network file is not a model */
  g_autofree char *spec = g_strdup_printf ("%s:0", fx.test_zoo);
  g_autofree char *network = g_build_filename (fx.tmp, "network.safetensors", NULL);
  r = run_nfn ("edit", fx.model, spec, "-o", network, NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_result_clear (&r);
  r = run_nfn ("edit", network, spec, "-o", out, NULL);
  assert_one_line_error (&r, network);
  run_result_clear (&r);
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  fixture_setup ();
  g_test_add_func ("/edit-cli/learns", test_learns);
  g_test_add_func ("/edit-cli/store-rows", test_store_rows);
  g_test_add_func ("/edit-cli/edit-and-render", test_edit_and_render);
  g_test_add_func ("/edit-cli/resume", test_resume);
  g_test_add_func ("/edit-cli/errors", test_errors);
  int status = g_test_run ();
  g_object_unref (fx.parser);
  ctu_remove_dir (fx.tmp);
  g_free (fx.tmp);
  g_free (fx.db);
  g_free (fx.train_zoo);
  g_free (fx.test_zoo);
  g_free (fx.model);
  return status;
}
