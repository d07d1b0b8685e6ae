/* test-zoo.c — zoos on disk: fitting real Fashion-MNIST images, the manifest and shards,
 * image-major order, the store's index, same seed → same bytes, resuming (complete shards kept
 * byte for byte, stray temp files removed), growing to a larger count, refusing other settings,
 * corrupt and truncated shards, reading back (one network, a batched range, ZOO:IDX specs), and a stdlib-only Python
 * reader that parses a shard as a PyTorch user's safetensors would.
 *
 * Shape letters: K networks in a shard, N = 784 pixels. */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "datatestutil.h"
#include "nfn_datasets.h"
#include "nfn_fit.h"
#include "nfn_train.h"
#include "nfn_zoo.h"

/* A small zoo: 5 images × 2 fits = 10 networks in shards of 4 (4, 4, 2). */
static void
small_settings (NfnZooSettings *s)
{
  nfn_zoo_settings_init (s);
  s->count = 5;
  s->refits = 1;
  s->steps = 60;
  s->shard_size = 4;
  s->seed = 3;
}

static char *
make_tmp_dir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("nfn-test-zoo-XXXXXX", &error);
  g_assert_no_error (error);
  return dir;
}

static void
remove_tree (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name (d)))
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        remove_tree (path);
      else
        g_unlink (path);
    }
  g_rmdir (dir);
}

static GBytes *
read_bytes (const char *path)
{
  char *contents;
  gsize length;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_get_contents (path, &contents, &length, &error));
  return g_bytes_new_take (contents, length);
}

static char *
shard_path (const char *dir, int shard)
{
  g_autofree char *name = g_strdup_printf ("shard-%05d.safetensors", shard);
  return g_build_filename (dir, name, NULL);
}

/* Fits `s` into dir with a store; asserts success. */
static void
fit_ok (const NfnZooSettings *s, const char *dir, NfnStore *store, NfnZooFitReport *report)
{
  g_autoptr (GError) error = NULL;
  NfnZooFitCallbacks callbacks = { .threads = 2 };
  g_assert_true (nfn_zoo_fit (s, dir, store, &callbacks, report, &error));
  g_assert_no_error (error);
}

/* Fitting lowers the MSE on real images by orders of magnitude and reaches 30 dB with the
 * default settings; the PSNR the fit reports is recomputed here from the network's output. */
static void
test_fit_real_images (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnDataset) ds = nfn_dataset_load ("fashion-mnist", "train", 4, &error);
  g_assert_no_error (error);
  nfn_arch arch;
  nfn_fit_default_arch (&arch);
  nfn_feature w;
  g_assert_cmpint (nfn_feature_alloc (&w, &arch.space, ds->count, 1), ==, NFN_OK);
  guint64 ids[4] = { 0, 1, 2, 3 };
  float psnr[4];
  nfn_fit_options opt;
  nfn_fit_options_init (&opt);
  opt.threads = 2;
  gint64 t0 = g_get_monotonic_time ();
  g_assert_cmpint (nfn_fit_sirens (&arch, &w, ds->images, 28, 28, ids, &opt, psnr), ==, NFN_OK);
  double seconds = (g_get_monotonic_time () - t0) / 1e6;
  float coords[2 * 784], y[784], target[784];
  nfn_fit_grid (coords, 28, 28);
  nfn_feature one, init;
  g_assert_cmpint (nfn_feature_alloc (&one, &arch.space, 1, 1), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&init, &arch.space, 1, 1), ==, NFN_OK);
  for (int b = 0; b < ds->count; b++)
    {
      nfn_fit_targets (target, ds->images + b * 784, 784);
      double mse_init, mse_fit;
      g_assert_cmpint (nfn_fit_init_network (&arch, &init, 0, opt.seed, ids[b]), ==, NFN_OK);
      g_assert_cmpint (nfn_net_forward (&arch, &init, 784, coords, 0, y, NULL), ==, NFN_OK);
      nfn_mse (y, target, 784, &mse_init, NULL);
      nfn_feature_get_network (&w, b, &one);
      g_assert_cmpint (nfn_net_forward (&arch, &one, 784, coords, 0, y, NULL), ==, NFN_OK);
      nfn_mse (y, target, 784, &mse_fit, NULL);
      double recomputed = 10 * log10 (4.0 / mse_fit);
      g_test_message ("image %d (label %d): MSE %.4g → %.3g, PSNR %.2f dB (recomputed %.2f)", b, ds->labels[b], mse_init,
                      mse_fit, psnr[b], recomputed);
      g_assert_cmpfloat (mse_fit, <, mse_init / 1000);
      g_assert_cmpfloat (psnr[b], >=, 30);
      g_assert_cmpfloat (fabs (psnr[b] - recomputed), <, 0.01);
    }
  g_test_message ("%d networks in %.2f s", ds->count, seconds);
  nfn_feature_free (&w);
  nfn_feature_free (&one);
  nfn_feature_free (&init);
}

/* The manifest, the shards, the image-major order, the store's index and reading back. */
static void
test_zoo_fit_and_read (void)
{
  g_autofree char *tmp = make_tmp_dir ();
  g_autofree char *dir = g_build_filename (tmp, "zoo", NULL);
  g_autofree char *db = g_build_filename (tmp, "store.sqlite", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnStore) store = nfn_store_open (db, FALSE, &error);
  g_assert_no_error (error);
  NfnZooSettings s;
  small_settings (&s);
  NfnZooFitReport report;
  fit_ok (&s, dir, store, &report);
  g_assert_cmpint (report.networks, ==, 10);
  g_assert_cmpint (report.fitted, ==, 10);
  g_assert_cmpint (report.shards_skipped, ==, 0);
  g_assert_cmpint (report.run_id, >, 0);

  g_autoptr (NfnZooDir) zoo = nfn_zoo_dir_open (dir, &error);
  g_assert_no_error (error);
  const NfnZooSettings *read = nfn_zoo_dir_settings (zoo);
  g_assert_cmpstr (read->dataset, ==, "fashion-mnist");
  g_assert_cmpstr (read->split, ==, "train");
  g_assert_cmpint (read->count, ==, 5);
  g_assert_cmpint (read->refits, ==, 1);
  g_assert_cmpint (read->steps, ==, 60);
  g_assert_cmpfloat (read->lr, ==, s.lr);
  g_assert_cmpuint (read->seed, ==, 3);
  g_assert_cmpint (nfn_zoo_dir_count (zoo), ==, 10);
  g_assert_cmpint (nfn_zoo_dir_available (zoo), ==, 10);
  g_assert_cmpint (nfn_zoo_dir_shard_count (zoo), ==, 3);

  g_autoptr (NfnDataset) ds = nfn_dataset_load ("fashion-mnist", "train", 5, &error);
  g_assert_no_error (error);
  g_autoptr (GArray) entries = nfn_zoo_dir_entries (zoo, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (entries->len, ==, 10);
  float coords[2 * 784], y[784], target[784];
  nfn_fit_grid (coords, 28, 28);
  for (guint n = 0; n < entries->len; n++)
    {
      const NfnZooEntry *e = &g_array_index (entries, NfnZooEntry, n);
      /* image-major: image n / 2, refit n % 2 */
      g_assert_cmpint (e->index, ==, n);
      g_assert_cmpint (e->image, ==, n / 2);
      g_assert_cmpint (e->refit, ==, n % 2);
      g_assert_cmpint (e->label, ==, ds->labels[n / 2]);
      g_assert_cmpint (e->source_index, ==, ds->source_index[n / 2]);
      /* the recorded PSNR is the network's on its own image */
      NfnZooEntry got;
      g_autoptr (NfnNetwork) net = nfn_zoo_dir_get_network (zoo, n, &got, &error);
      g_assert_no_error (error);
      g_assert_cmpfloat (got.psnr, ==, e->psnr);
      g_assert_cmpint (nfn_net_forward (&net->arch, &net->weights, 784, coords, 0, y, NULL), ==, NFN_OK);
      nfn_fit_targets (target, ds->images + (n / 2) * 784, 784);
      g_assert_cmpfloat (fabs (nfn_psnr (y, target, 784, 2.0) - e->psnr), <, 1e-3);
      g_assert_cmpstr (g_hash_table_lookup (net->metadata, "nfn.zoo.dataset"), ==, "fashion-mnist");
    }
  /* two fits of one image start from different inits and end as different networks */
  g_autoptr (NfnNetwork) first = nfn_zoo_dir_get_network (zoo, 0, NULL, &error);
  g_autoptr (NfnNetwork) second = nfn_zoo_dir_get_network (zoo, 1, NULL, &error);
  g_assert_cmpfloat (nfn_feature_max_abs_diff (&first->weights, &second->weights), >, 1e-3);

  /* a batched range across a shard boundary equals the networks one by one */
  nfn_feature batch;
  int labels[5];
  float psnr[5];
  g_assert_true (nfn_zoo_dir_load_range (zoo, 3, 8, &batch, labels, psnr, &error));
  g_assert_no_error (error);
  g_assert_cmpint (batch.B, ==, 5);
  nfn_feature one;
  g_assert_cmpint (nfn_feature_alloc (&one, &batch.space, 1, 1), ==, NFN_OK);
  for (int b = 0; b < 5; b++)
    {
      g_autoptr (NfnNetwork) net = nfn_zoo_dir_get_network (zoo, 3 + b, NULL, &error);
      nfn_feature_get_network (&batch, b, &one);
      g_assert_cmpmem (one.data, one.size * sizeof (float), net->weights.data, net->weights.size * sizeof (float));
      g_assert_cmpint (labels[b], ==, ds->labels[(3 + b) / 2]);
      g_assert_cmpfloat (psnr[b], ==, g_array_index (entries, NfnZooEntry, 3 + b).psnr);
    }
  nfn_feature_free (&one);
  nfn_feature_free (&batch);
  g_assert_false (nfn_zoo_dir_load_range (zoo, 8, 11, &batch, NULL, NULL, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, nfn_zoo_dir_path (zoo), "not a range");
  g_clear_error (&error);

  /* ZOO:IDX specs */
  g_autofree char *spec = g_strdup_printf ("%s:7", dir);
  g_autofree char *spec_dir = NULL;
  gint64 index = -1;
  g_assert_true (nfn_zoo_parse_spec (spec, &spec_dir, &index));
  g_assert_cmpstr (spec_dir, ==, dir);
  g_assert_cmpint (index, ==, 7);
  g_assert_false (nfn_zoo_parse_spec ("net.safetensors", NULL, NULL));
  g_assert_false (nfn_zoo_parse_spec ("zoo:7x", NULL, NULL));
  g_autoptr (NfnNetwork) by_spec = nfn_network_load_spec (spec, &error);
  g_assert_no_error (error);
  g_autoptr (NfnNetwork) direct = nfn_zoo_dir_get_network (zoo, 7, NULL, &error);
  g_assert_cmpmem (by_spec->weights.data, by_spec->weights.size * sizeof (float), direct->weights.data,
                   direct->weights.size * sizeof (float));
  g_autofree char *bad_spec = g_strdup_printf ("%s:10", dir);
  g_assert_null (nfn_network_load_spec (bad_spec, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, nfn_zoo_dir_path (zoo), "out of range");
  g_clear_error (&error);

  /* the store knows the zoo and all its networks, and the run with a metric per shard */
  g_autoptr (NfnZoo) row = nfn_store_find_zoo (store, dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (row);
  g_assert_cmpint (row->networks, ==, 10);
  g_autoptr (NfnRun) run = nfn_store_get_run (store, report.run_id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (run->task, ==, "zoo-fit");
  g_assert_cmpint (run->status, ==, NFN_RUN_COMPLETED);
  g_autoptr (GArray) series = nfn_store_run_metric (store, report.run_id, "zoo/mean_psnr", G_MININT64, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (series->len, ==, 3);
  double mean0 = 0;
  for (int n = 0; n < 4; n++)
    mean0 += g_array_index (entries, NfnZooEntry, n).psnr / 4.0;
  g_assert_cmpfloat (fabs (g_array_index (series, NfnMetricPoint, 0).value - mean0), <, 1e-3);

  nfn_zoo_settings_clear (&s);
  remove_tree (tmp);
}

/* Same settings → the same bytes in every shard; resuming keeps complete shards byte for byte,
 * refits only the missing one, removes stray temp files and keeps the store's count right; a
 * larger count grows a zoo (network n is image n / 2's fit either way): 3 images (shards of 4
 * and 2 networks) grown to 5 rebuild the partial shard and equal the zoo fitted at 5, byte for
 * byte, manifest included, and the store's row counts the grown zoo. */
static void
test_zoo_deterministic_resume_grow (void)
{
  g_autofree char *tmp = make_tmp_dir ();
  g_autofree char *a = g_build_filename (tmp, "a", NULL), *b = g_build_filename (tmp, "b", NULL);
  g_autofree char *c = g_build_filename (tmp, "c", NULL);
  g_autofree char *db = g_build_filename (tmp, "store.sqlite", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnStore) store = nfn_store_open (db, FALSE, &error);
  NfnZooSettings s;
  small_settings (&s);
  NfnZooFitReport report;
  fit_ok (&s, a, store, &report);
  fit_ok (&s, b, NULL, &report);
  GBytes *shards[3];
  for (int k = 0; k < 3; k++)
    {
      g_autofree char *pa = shard_path (a, k), *pb = shard_path (b, k);
      shards[k] = read_bytes (pa);
      g_autoptr (GBytes) other = read_bytes (pb);
      g_assert_true (g_bytes_equal (shards[k], other));
    }

  s.count = 3;
  fit_ok (&s, c, store, &report);
  g_assert_cmpint (report.networks, ==, 6);
  s.count = 5;
  fit_ok (&s, c, store, &report);
  g_assert_cmpint (report.grown_from, ==, 6);
  g_assert_cmpint (report.shards_skipped, ==, 1);
  g_assert_cmpint (report.fitted, ==, 6);
  g_assert_cmpint (report.networks, ==, 10);
  for (int k = 0; k < 3; k++)
    {
      g_autofree char *pc = shard_path (c, k);
      g_autoptr (GBytes) grown = read_bytes (pc);
      g_assert_true (g_bytes_equal (shards[k], grown));
    }
  g_autofree char *ma = g_build_filename (a, "zoo.json", NULL), *mc = g_build_filename (c, "zoo.json", NULL);
  g_autoptr (GBytes) manifest_a = read_bytes (ma), manifest_c = read_bytes (mc);
  g_assert_true (g_bytes_equal (manifest_a, manifest_c));
  g_autoptr (NfnZoo) grown_row = nfn_store_find_zoo (store, c, &error);
  g_assert_no_error (error);
  g_assert_cmpint (grown_row->networks, ==, 10);
  /* a fit killed after shard 1's temp file was written but before its rename */
  g_autofree char *missing = shard_path (a, 1);
  g_autofree char *temp = g_strconcat (missing, ".Ab12Cd", NULL);
  g_assert_true (g_rename (missing, temp) == 0);
  g_autofree char *foreign = g_build_filename (a, "notes.txt", NULL);
  g_assert_true (g_file_set_contents (foreign, "kept", -1, NULL));
  fit_ok (&s, a, store, &report);
  g_assert_cmpint (report.shards_skipped, ==, 2);
  g_assert_cmpint (report.fitted, ==, 4);
  g_assert_cmpint (report.networks, ==, 10);
  g_assert_false (g_file_test (temp, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (foreign, G_FILE_TEST_EXISTS));
  for (int k = 0; k < 3; k++)
    {
      g_autofree char *pa = shard_path (a, k);
      g_autoptr (GBytes) now = read_bytes (pa);
      g_assert_true (g_bytes_equal (shards[k], now));
      g_bytes_unref (shards[k]);
    }
  g_autoptr (NfnZoo) row = nfn_store_find_zoo (store, a, &error);
  g_assert_no_error (error);
  g_assert_cmpint (row->networks, ==, 10);
  nfn_zoo_settings_clear (&s);
  remove_tree (tmp);
}

/* A resume with other settings is refused with one line naming the setting; a newer format
 * version says to update; a corrupt or truncated shard is named in a one-line error. */
static void
test_zoo_refusals (void)
{
  g_autofree char *tmp = make_tmp_dir ();
  g_autofree char *dir = g_build_filename (tmp, "zoo", NULL);
  g_autofree char *manifest = g_build_filename (dir, "zoo.json", NULL);
  g_autoptr (GError) error = NULL;
  NfnZooSettings s;
  small_settings (&s);
  NfnZooFitReport report;
  fit_ok (&s, dir, NULL, &report);

  s.steps = 61;
  g_assert_false (nfn_zoo_fit (&s, dir, NULL, NULL, &report, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, manifest, "steps 60, not 61");
  g_clear_error (&error);
  s.steps = 60;
  s.seed = 4;
  g_assert_false (nfn_zoo_fit (&s, dir, NULL, NULL, &report, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, manifest, "seed 3, not 4");
  g_clear_error (&error);
  s.seed = 3;

  /* truncated: reading and resuming both name the shard */
  g_autofree char *shard = shard_path (dir, 2);
  g_autoptr (GBytes) whole = read_bytes (shard);
  g_assert_true (g_file_set_contents (shard, g_bytes_get_data (whole, NULL), (gssize) g_bytes_get_size (whole) - 100, NULL));
  g_autoptr (NfnZooDir) zoo = nfn_zoo_dir_open (dir, &error);
  g_assert_no_error (error);
  g_assert_null (nfn_zoo_dir_entries (zoo, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, shard, "");
  g_clear_error (&error);
  g_assert_false (nfn_zoo_fit (&s, dir, NULL, NULL, &report, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, shard, "delete it to refit");
  g_clear_error (&error);
  /* well-formed safetensors but not a shard of this zoo: a tensor missing */
  g_autoptr (NfnSafetensors) st = nfn_safetensors_new ();
  gint64 shape[1] = { 2 };
  float values[2] = { 0, 0 };
  nfn_safetensors_add (st, "label", 1, shape, values);
  g_assert_true (nfn_safetensors_save (st, shard, &error));
  g_autoptr (NfnNetwork) net = nfn_zoo_dir_get_network (zoo, 9, NULL, &error);
  g_assert_null (net);
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_SHAPE, shard, "layers.0.weight");
  g_clear_error (&error);
  /* a missing shard (an unfinished fit) */
  g_unlink (shard);
  g_autoptr (NfnZooDir) partial = nfn_zoo_dir_open (dir, &error);
  g_assert_cmpint (nfn_zoo_dir_available (partial), ==, 8);
  g_assert_null (nfn_zoo_dir_get_network (partial, 8, NULL, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_IO, shard, "unfinished");
  g_clear_error (&error);

  /* manifest versions */
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (manifest, &text, NULL, NULL));
  char *version = strstr (text, "\"version\" : 1");
  g_assert_nonnull (version);
  version[strlen ("\"version\" : ")] = '2';
  g_assert_true (g_file_set_contents (manifest, text, -1, NULL));
  g_assert_null (nfn_zoo_dir_open (dir, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, manifest, "update nfn");
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (manifest, "{\"format\": \"something-else\"}", -1, NULL));
  g_assert_null (nfn_zoo_dir_open (dir, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, manifest, "not an nfn zoo");
  g_clear_error (&error);
  g_assert_null (nfn_zoo_dir_open (tmp, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_IO, tmp, "not a zoo");
  g_clear_error (&error);
  nfn_zoo_settings_clear (&s);
  remove_tree (tmp);
}

/* What a PyTorch user's safetensors does, in stdlib Python: the u64 header length, the JSON
 * header, F32 little-endian tensors at their offsets. Prints name, shape and the sum of each. */
static const char python_reader[] =
  "import json, struct, sys\n"
  "data = open(sys.argv[1], 'rb').read()\n"
  "(n,) = struct.unpack('<Q', data[:8])\n"
  "header = json.loads(data[8:8 + n])\n"
  "meta = header.pop('__metadata__', {})\n"
  "buf = data[8 + n:]\n"
  "end = 0\n"
  "out = {'metadata': meta, 'tensors': {}}\n"
  "for name, t in sorted(header.items(), key=lambda kv: kv[1]['data_offsets'][0]):\n"
  "    assert t['dtype'] == 'F32', name\n"
  "    b, e = t['data_offsets']\n"
  "    assert b == end, name\n"
  "    count = 1\n"
  "    for d in t['shape']:\n"
  "        count *= d\n"
  "    assert e - b == 4 * count, name\n"
  "    values = struct.unpack('<%df' % count, buf[b:e])\n"
  "    out['tensors'][name] = {'shape': t['shape'], 'sum': sum(values), 'first': values[0]}\n"
  "    end = e\n"
  "assert end == len(buf)\n"
  "print(json.dumps(out))\n";

static void
test_zoo_python_reader (void)
{
  if (!g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_fail_printf ("/usr/bin/python3 is needed to check the shard format");
      return;
    }
  g_autofree char *tmp = make_tmp_dir ();
  g_autofree char *dir = g_build_filename (tmp, "zoo", NULL);
  g_autoptr (GError) error = NULL;
  NfnZooSettings s;
  small_settings (&s);
  NfnZooFitReport report;
  fit_ok (&s, dir, NULL, &report);
  g_autofree char *shard = shard_path (dir, 0);
  const char *argv[] = { "/usr/bin/python3", "-c", python_reader, shard, NULL };
  g_autofree char *out = NULL, *err = NULL;
  int status;
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("the Python reader failed: %s", err);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));
  JsonObject *tensors = json_object_get_object_member (root, "tensors");
  g_assert_cmpuint (json_object_get_size (tensors), ==, 10);
  g_autoptr (NfnZooDir) zoo = nfn_zoo_dir_open (dir, &error);
  nfn_feature batch;
  int labels[4];
  float psnr[4];
  g_assert_true (nfn_zoo_dir_load_range (zoo, 0, 4, &batch, labels, psnr, &error));
  const int expected_shapes[6][3] = { { 4, 32, 2 }, { 4, 32, 0 }, { 4, 32, 32 }, { 4, 32, 0 }, { 4, 1, 32 }, { 4, 1, 0 } };
  for (int t = 0; t < 6; t++)
    {
      g_autofree char *name = g_strdup_printf ("layers.%d.%s", t / 2, t % 2 ? "bias" : "weight");
      JsonObject *info = json_object_get_object_member (tensors, name);
      g_assert_nonnull (info);
      JsonArray *shape = json_object_get_array_member (info, "shape");
      g_assert_cmpuint (json_array_get_length (shape), ==, t % 2 ? 2 : 3);
      for (guint d = 0; d < json_array_get_length (shape); d++)
        g_assert_cmpint (json_array_get_int_element (shape, d), ==, expected_shapes[t][d]);
      double sum = 0;
      size_t n = 4 * nfn_tensor_entries (&batch.space, t);
      for (size_t e = 0; e < n; e++)
        sum += batch.t[t][e];
      g_assert_cmpfloat (fabs (json_object_get_double_member (info, "sum") - sum), <, 1e-4 * (1 + fabs (sum)));
      g_assert_cmpfloat (json_object_get_double_member (info, "first"), ==, batch.t[t][0]);
    }
  double label_sum = 0, psnr_sum = 0;
  for (int k = 0; k < 4; k++)
    {
      label_sum += labels[k];
      psnr_sum += psnr[k];
    }
  g_assert_cmpfloat (json_object_get_double_member (json_object_get_object_member (tensors, "label"), "sum"), ==, label_sum);
  g_assert_cmpfloat (fabs (json_object_get_double_member (json_object_get_object_member (tensors, "psnr"), "sum") - psnr_sum),
                     <, 1e-3);
  g_assert_cmpfloat (json_object_get_double_member (json_object_get_object_member (tensors, "refit"), "sum"), ==, 2);
  JsonObject *meta = json_object_get_object_member (root, "metadata");
  g_assert_cmpstr (json_object_get_string_member (meta, "nfn.zoo.format"), ==, "nfn-zoo");
  nfn_feature_free (&batch);
  nfn_zoo_settings_clear (&s);
  remove_tree (tmp);
}

static void
test_psnr_summary (void)
{
  /* numpy.percentile([1..11]) at 5, 50, 95: 1.5, 6, 10.5 */
  float values[11] = { 11, 3, 1, 2, 4, 5, 6, 7, 8, 9, 10 };
  NfnZooPsnrSummary s;
  nfn_zoo_psnr_summary (values, 11, &s);
  g_assert_cmpfloat (s.mean, ==, 6);
  g_assert_cmpfloat (s.min, ==, 1);
  g_assert_cmpfloat (s.max, ==, 11);
  g_assert_cmpfloat (fabs (s.p5 - 1.5), <, 1e-12);
  g_assert_cmpfloat (s.p50, ==, 6);
  g_assert_cmpfloat (fabs (s.p95 - 10.5), <, 1e-12);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/zoo/psnr-summary", test_psnr_summary);
  g_test_add_func ("/zoo/fit-real-images", test_fit_real_images);
  g_test_add_func ("/zoo/fit-and-read", test_zoo_fit_and_read);
  g_test_add_func ("/zoo/deterministic-resume-grow", test_zoo_deterministic_resume_grow);
  g_test_add_func ("/zoo/refusals", test_zoo_refusals);
  g_test_add_func ("/zoo/python-reader", test_zoo_python_reader);
  return g_test_run ();
}
