/* test-mask.c — winning-ticket mask search from the command line, as a user runs it: a small
 * ticket zoo (200 tiny MLPs on MNIST) and a held-out one, `nfn train mask`, `nfn eval-mask`
 * (the NFN's masks train better networks than random masks; IMP retrained reproduces the zoo's
 * record), `nfn mask` (a valid mask of the right size, the same for a file and ZOO:IDX), the
 * store rows of every run, a resumed ticket zoo that rebuilds a lost shard byte for byte, and
 * one-line errors for a malformed or mismatched INIT. */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "clitestutil.h"
#include "nfn_network.h"
#include "nfn_store.h"
#include "nfn_ticket.h"
#include "nfn_ticket_zoo.h"
#include "nfn_zoo.h"

/* One set-up for the whole file: the zoos and the model (seconds, not minutes). */
static char *tmp, *db, *train_zoo, *heldout_zoo, *model;

/* tiny MLPs (784→16→16→10) trained briefly: at 95 % sparsity they barely learn, at 80 % the
 * masks tell apart (measured: IMP ~70 %, NFN ~40 %, random ~24 %) */
#define TICKET_ARGS "--hidden", "16,16", "--epochs", "2", "--train-limit", "2000", "--shard-size", "64", "--sparsity", "0.8"

static void
setup (void)
{
  tmp = g_dir_make_tmp ("nfn-test-mask-XXXXXX", NULL);
  db = g_build_filename (tmp, "store.sqlite", NULL);
  train_zoo = g_build_filename (tmp, "tickets", NULL);
  heldout_zoo = g_build_filename (tmp, "heldout", NULL);
  model = g_build_filename (tmp, "mask.safetensors", NULL);
  gint64 t0 = g_get_monotonic_time ();
  run_result r = run_nfn ("zoo", "tickets", "--count", "200", TICKET_ARGS, "--db", db, "--out", train_zoo, NULL);
  if (r.status != 0)
    g_printerr ("%s", r.err);
  g_assert_cmpint (r.status, ==, 0);
  run_result_clear (&r);
  r = run_nfn ("zoo", "tickets", "--count", "48", "--seed", "1", TICKET_ARGS, "--db", db, "--out", heldout_zoo, NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_result_clear (&r);
  gint64 t1 = g_get_monotonic_time ();
  r = run_nfn ("train", "mask", "--zoo", train_zoo, "--epochs", "3", "--channels", "8", "--depth", "2", "--fourier", "8",
               "--val-train", "16", "--db", db, "--out", model, NULL);
  if (r.status != 0)
    g_printerr ("%s", r.err);
  g_assert_cmpint (r.status, ==, 0);
  run_result_clear (&r);
  g_test_message ("set-up: zoos %.1f s, train mask %.1f s", (t1 - t0) / 1e6, (g_get_monotonic_time () - t1) / 1e6);
}

static void
teardown (void)
{
  ctu_remove_dir (tmp);
  g_free (tmp);
  g_free (db);
  g_free (train_zoo);
  g_free (heldout_zoo);
  g_free (model);
}

static double
mask_mean (JsonObject *masks, const char *name)
{
  return json_object_get_double_member (json_object_get_object_member (masks, name), "mean_accuracy");
}

static void
test_eval_mask (void)
{
  gint64 t0 = g_get_monotonic_time ();
  run_result r = run_nfn ("eval-mask", model, "--zoo", heldout_zoo, "--db", db, "--json", NULL);
  if (r.status != 0)
    g_printerr ("%s", r.err);
  g_assert_cmpint (r.status, ==, 0);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o = parse_object (parser, r.out);
  JsonObject *summary = json_object_get_object_member (o, "summary");
  JsonObject *masks = json_object_get_object_member (summary, "masks");
  double random = mask_mean (masks, "random"), imp = mask_mean (masks, "imp"), nfn = mask_mean (masks, "nfn");
  g_test_message ("eval-mask on 48 held-out inits (%.1f s): random %.1f %%, random_layer %.1f %%, magnitude %.1f %%,"
                  " IMP %.1f %%, NFN %.1f %%",
                  (g_get_monotonic_time () - t0) / 1e6, 100 * random, 100 * mask_mean (masks, "random_layer"),
                  100 * mask_mean (masks, "magnitude"), 100 * imp, 100 * nfn);
  g_assert_cmpint (json_object_get_int_member (summary, "networks"), ==, 48);
  /* the NFN's masks train clearly better networks than random ones; IMP is the ceiling */
  g_assert_cmpfloat (nfn, >, random + 0.08);
  g_assert_cmpfloat (nfn, >, 0.25); /* chance is 0.1 */
  g_assert_cmpfloat (imp, >, nfn);
  /* retraining an init under its IMP mask with its minibatches is the zoo's own computation */
  g_assert_cmpfloat (json_object_get_double_member (summary, "imp_max_difference_from_zoo"), ==, 0.0);
  /* the run and its per-network series are in the store */
  gint64 run = json_object_get_int_member (o, "run");
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnStore) store = nfn_store_open (db, TRUE, &error);
  g_assert_no_error (error);
  g_autoptr (NfnRun) row = nfn_store_get_run (store, run, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (row->task, ==, "eval-mask");
  g_assert_cmpint (row->status, ==, NFN_RUN_COMPLETED);
  g_autoptr (GArray) series = nfn_store_run_metric (store, run, "eval/nfn_accuracy", G_MININT64, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (series->len, ==, 48);
  double sum = 0;
  for (guint k = 0; k < series->len; k++)
    sum += g_array_index (series, NfnMetricPoint, k).value;
  g_assert_cmpfloat (fabs (sum / 48 - nfn), <, 1e-6);
  run_result_clear (&r);
}

/* Every run of the set-up left its rows: status, summary, metrics, artifacts, zoo networks. */
static void
test_store_rows (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnStore) store = nfn_store_open (db, TRUE, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) zoo_runs = nfn_store_list_runs (store, "zoo-tickets", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (zoo_runs->len, ==, 2);
  for (guint k = 0; k < zoo_runs->len; k++)
    g_assert_cmpint (((NfnRun *) g_ptr_array_index (zoo_runs, k))->status, ==, NFN_RUN_COMPLETED);
  g_autoptr (NfnZoo) zoo = nfn_store_find_zoo (store, train_zoo, &error);
  g_assert_no_error (error);
  g_autoptr (GArray) networks = nfn_store_zoo_networks (store, zoo->id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (networks->len, ==, 200);
  /* the quality column is each network's IMP accuracy, as the zoo's shards record it */
  g_autoptr (NfnZooDir) dir = nfn_zoo_dir_open (train_zoo, &error);
  g_assert_no_error (error);
  float imp[200];
  g_assert_true (nfn_zoo_dir_load_metric (dir, "imp_accuracy", 0, 200, imp, &error));
  for (guint k = 0; k < networks->len; k++)
    g_assert_cmpfloat (fabs (g_array_index (networks, NfnZooNetwork, k).quality - imp[k]), <, 1e-6);

  g_autoptr (GPtrArray) train_runs = nfn_store_list_runs (store, "train-mask", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (train_runs->len, ==, 1);
  NfnRun *run = g_ptr_array_index (train_runs, 0);
  g_assert_cmpint (run->status, ==, NFN_RUN_COMPLETED);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *summary = parse_object (parser, run->summary_json);
  g_assert_true (json_object_has_member (summary, "val_masked_accuracy"));
  g_assert_true (json_object_has_member (summary, "val_iou"));
  g_assert_cmpstr (json_object_get_string_member (summary, "model_file"), ==, model);
  g_autoptr (GPtrArray) names = nfn_store_run_metric_names (store, run->id, &error);
  g_assert_no_error (error);
  const char *expected[] = { "train/loss", "val/masked_accuracy", "val/iou", "val/loss", "epoch" };
  for (gsize k = 0; k < G_N_ELEMENTS (expected); k++)
    {
      gboolean found = FALSE;
      for (guint n = 0; n < names->len; n++)
        found |= strcmp (g_ptr_array_index (names, n), expected[k]) == 0;
      g_assert_true (found);
    }
  g_autoptr (GArray) epochs = nfn_store_run_metric (store, run->id, "val/masked_accuracy", G_MININT64, &error);
  g_assert_cmpuint (epochs->len, ==, 3);
  g_autoptr (GPtrArray) artifacts = nfn_store_run_artifacts (store, run->id, &error);
  g_assert_no_error (error);
  gboolean has_model = FALSE;
  for (guint k = 0; k < artifacts->len; k++)
    {
      NfnArtifact *a = g_ptr_array_index (artifacts, k);
      has_model |= strcmp (a->kind, "model") == 0 && strcmp (a->path, model) == 0;
    }
  g_assert_true (has_model);
}

static int
count_kept (const nfn_feature *w, int layer)
{
  int t = nfn_tensor_weight (layer), kept = 0;
  for (size_t e = 0; e < nfn_tensor_entries (&w->space, t); e++)
    {
      g_assert_true (w->t[t][e] == 0.0f || w->t[t][e] == 1.0f);
      kept += w->t[t][e] == 1.0f;
    }
  return kept;
}

/* Input pixels that keep at least one first-layer weight in a mask. */
static int
pixels_used (const nfn_feature *mask)
{
  const nfn_space *s = &mask->space;
  int used = 0;
  for (int j = 0; j < s->n[0]; j++)
    {
      gboolean any = FALSE;
      for (int r = 0; r < s->n[1] && !any; r++)
        any = mask->t[0][(size_t) r * s->n[0] + j] > 0.5f;
      used += any;
    }
  return used;
}

static void
test_mask_file (void)
{
  g_autofree char *spec = g_strdup_printf ("%s:5", heldout_zoo);
  g_autofree char *from_spec = g_build_filename (tmp, "mask-spec.safetensors", NULL);
  g_autofree char *from_file = g_build_filename (tmp, "mask-file.safetensors", NULL);
  g_autofree char *init_file = g_build_filename (tmp, "init.safetensors", NULL);
  run_result r = run_nfn ("mask", model, spec, "-o", from_spec, "--json", NULL);
  if (r.status != 0)
    g_printerr ("%s", r.err);
  g_assert_cmpint (r.status, ==, 0);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o = parse_object (parser, r.out);
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnNetwork) init = nfn_network_load_spec (spec, &error);
  g_assert_no_error (error);
  size_t keep = nfn_ticket_keep_count (&init->arch.space, 0.8);
  g_assert_cmpint (json_object_get_int_member (o, "kept"), ==, (gint64) keep);

  /* a network file of the init's names and shapes: 0/1 weights, exactly keep of them, biases 1 */
  g_autoptr (NfnNetwork) mask = nfn_network_load (from_spec, &error);
  g_assert_no_error (error);
  g_assert_true (nfn_space_equal (&mask->arch.space, &init->arch.space));
  JsonArray *per_layer = json_object_get_array_member (o, "kept_per_layer");
  int total = 0;
  for (int i = 1; i <= mask->arch.space.L; i++)
    {
      int kept = count_kept (&mask->weights, i);
      g_assert_cmpint (kept, ==, json_array_get_int_element (per_layer, (guint) i - 1));
      g_assert_cmpint (kept, >, 0); /* the layer budgets leave no layer empty */
      total += kept;
      int tb = nfn_tensor_bias (i);
      for (size_t e = 0; e < nfn_tensor_entries (&mask->arch.space, tb); e++)
        g_assert_cmpfloat (mask->weights.t[tb][e], ==, 1.0f);
    }
  g_assert_cmpint (total, ==, (int) keep);
  run_result_clear (&r);

  /* the same init from a file gets the same mask */
  g_assert_true (nfn_network_save (init, init_file, &error));
  r = run_nfn ("mask", model, init_file, "-o", from_file, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "keeps"));
  g_autoptr (NfnNetwork) again = nfn_network_load (from_file, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (nfn_feature_max_abs_diff (&again->weights, &mask->weights), ==, 0.0);
  run_result_clear (&r);

  /* the model's own selection is the default, spread; --selection layer (top-k within the same
   * layer budgets) is named in its file and puts the first layer's weights on fewer pixels */
  g_autofree char *layer_file = g_build_filename (tmp, "mask-layer.safetensors", NULL);
  r = run_nfn ("mask", model, init_file, "-o", layer_file, "--selection", "layer", NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_result_clear (&r);
  g_autoptr (NfnNetwork) layer = nfn_network_load (layer_file, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_hash_table_lookup (mask->metadata, "nfn.mask.selection"), ==, "spread");
  g_assert_cmpstr (g_hash_table_lookup (layer->metadata, "nfn.mask.selection"), ==, "layer");
  for (int i = 1; i <= mask->arch.space.L; i++)
    g_assert_cmpint (count_kept (&layer->weights, i), ==, count_kept (&mask->weights, i));
  g_test_message ("pixels used by W_1: layer %d, spread %d", pixels_used (&layer->weights), pixels_used (&mask->weights));
  g_assert_cmpint (pixels_used (&mask->weights), >, pixels_used (&layer->weights));
  r = run_nfn ("mask", model, init_file, "-o", layer_file, "--selection", "columns", NULL);
  assert_one_line_error (&r, "--selection");
  run_result_clear (&r);

  /* a lower sparsity keeps more */
  r = run_nfn ("mask", model, init_file, "-o", from_file, "--sparsity", "0.5", "--json", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_autoptr (JsonParser) parser2 = json_parser_new ();
  o = parse_object (parser2, r.out);
  g_assert_cmpint (json_object_get_int_member (o, "kept"), ==, (gint64) nfn_ticket_keep_count (&init->arch.space, 0.5));
  run_result_clear (&r);
}

static void
test_malformed_init (void)
{
  g_autofree char *bad = g_build_filename (tmp, "broken-init.safetensors", NULL);
  g_autofree char *out = g_build_filename (tmp, "never.safetensors", NULL);
  g_assert_true (g_file_set_contents (bad, "\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": [1, 2", 18, NULL));
  run_result r = run_nfn ("mask", model, bad, "-o", out, NULL);
  assert_one_line_error (&r, "broken-init.safetensors");
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
  run_result_clear (&r);

  /* a well-formed network of other widths */
  g_autofree char *other = g_build_filename (tmp, "other-init.safetensors", NULL);
  const int widths[] = { 784, 8, 10 };
  nfn_arch arch;
  g_assert_cmpint (nfn_arch_mlp (&arch, 2, widths, NFN_ACT_RELU), ==, NFN_OK);
  g_autoptr (NfnNetwork) net = nfn_network_new (&arch);
  g_assert_true (nfn_network_save (net, other, NULL));
  r = run_nfn ("mask", model, other, "-o", out, NULL);
  assert_one_line_error (&r, "other-init.safetensors");
  run_result_clear (&r);

  /* a model of another task */
  r = run_nfn ("mask", other, other, "-o", out, NULL);
  assert_one_line_error (&r, "other-init.safetensors");
  run_result_clear (&r);

  /* a mask model whose metadata names a selection there is none of (same length, so the file
   * stays well-formed safetensors) */
  g_autofree char *bytes = NULL;
  gsize length = 0;
  g_assert_true (g_file_get_contents (model, &bytes, &length, NULL));
  const char needle[] = "selection\\\":\\\"spread";
  char *at = NULL;
  for (gsize k = 0; k + sizeof needle - 1 <= length && !at; k++)
    if (memcmp (bytes + k, needle, sizeof needle - 1) == 0)
      at = bytes + k;
  g_assert_nonnull (at);
  memcpy (at + sizeof needle - 1 - strlen ("spread"), "sprawl", strlen ("sprawl"));
  g_autofree char *forged = g_build_filename (tmp, "forged-selection.safetensors", NULL);
  g_assert_true (g_file_set_contents (forged, bytes, (gssize) length, NULL));
  g_autofree char *spec = g_strdup_printf ("%s:0", heldout_zoo);
  r = run_nfn ("mask", forged, spec, "-o", out, NULL);
  assert_one_line_error (&r, "forged-selection.safetensors");
  g_assert_nonnull (strstr (r.err, "selection"));
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
  run_result_clear (&r);
}

/* A zoo whose last shard was lost rebuilds it (and its masks) byte for byte; other settings are
 * refused. */
static void
test_zoo_resume (void)
{
  g_autofree char *zoo = g_build_filename (tmp, "resume", NULL);
  run_result r = run_nfn ("zoo", "tickets", "--count", "40", "--hidden", "8,8", "--epochs", "1", "--train-limit", "500",
                          "--shard-size", "16", "--db", db, "--out", zoo, NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_result_clear (&r);
  g_autofree char *shard = g_build_filename (zoo, "shard-00002.safetensors", NULL);
  g_autofree char *masks = g_build_filename (zoo, "masks-00002.safetensors", NULL);
  g_autofree char *shard_bytes = NULL, *mask_bytes = NULL, *shard_again = NULL, *mask_again = NULL;
  gsize shard_length, mask_length, length;
  g_assert_true (g_file_get_contents (shard, &shard_bytes, &shard_length, NULL));
  g_assert_true (g_file_get_contents (masks, &mask_bytes, &mask_length, NULL));
  g_unlink (shard);
  g_unlink (masks);
  r = run_nfn ("zoo", "tickets", "--count", "40", "--hidden", "8,8", "--epochs", "1", "--train-limit", "500",
               "--shard-size", "16", "--threads", "1", "--db", db, "--out", zoo, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "(2 shards already there), 8 made now"));
  run_result_clear (&r);
  g_assert_true (g_file_get_contents (shard, &shard_again, &length, NULL));
  g_assert_cmpuint (length, ==, shard_length);
  g_assert_cmpint (memcmp (shard_bytes, shard_again, length), ==, 0);
  g_assert_true (g_file_get_contents (masks, &mask_again, &length, NULL));
  g_assert_cmpuint (length, ==, mask_length);
  g_assert_cmpint (memcmp (mask_bytes, mask_again, length), ==, 0);

  r = run_nfn ("zoo", "tickets", "--count", "40", "--hidden", "8,8", "--epochs", "1", "--train-limit", "500",
               "--shard-size", "16", "--sparsity", "0.9", "--db", db, "--out", zoo, NULL);
  assert_one_line_error (&r, "zoo.json");
  g_assert_nonnull (strstr (r.err, "0.9"));
  run_result_clear (&r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mask-cli/eval-mask-beats-random", test_eval_mask);
  g_test_add_func ("/mask-cli/store-rows", test_store_rows);
  g_test_add_func ("/mask-cli/mask-file", test_mask_file);
  g_test_add_func ("/mask-cli/malformed-init", test_malformed_init);
  g_test_add_func ("/mask-cli/zoo-resume", test_zoo_resume);
  setup ();
  int status = g_test_run ();
  teardown ();
  return status;
}
