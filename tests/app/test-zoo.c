/* test-zoo.c — `nfn zoo fit|list|info`, `nfn render` and ZOO:IDX specs, run as a user would:
 * a fit killed with SIGKILL and rerun holds every network exactly once with the first shard
 * untouched and the store's count right; Ctrl-C cancels keeping finished shards; other
 * settings are refused and a larger count grows the zoo; `zoo info` numbers match the shards
 * and the data set; the PNG has the documented size and the PSNR the fit recorded. */
#include <glib/gstdio.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clitestutil.h"
#include "nfn_datasets.h"
#include "nfn_store.h"
#include "nfn_zoo.h"

#define SHARD_SIZE "8"
#define COUNT 48

static char *
shard_path (const char *dir, int shard)
{
  g_autofree char *name = g_strdup_printf ("shard-%05d.safetensors", shard);
  return g_build_filename (dir, name, NULL);
}

/* Starts `nfn zoo fit` in the background, waits until shard 0 exists, sends `signum`, and
 * returns the wait status. */
static int
fit_and_signal (const char *db, const char *zoo, int signum)
{
  const char *argv[] = { g_getenv ("NFN_CLI"), "zoo", "fit", "--count", G_STRINGIFY (COUNT), "--shard-size", SHARD_SIZE,
                         "--threads", "1", "--steps", "300", "--db", db, "--out", zoo, NULL };
  GPid pid;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_spawn_async (NULL, (char **) argv, NULL,
                                G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                                NULL, &pid, &error));
  g_assert_no_error (error);
  g_autofree char *first = shard_path (zoo, 0);
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (!g_file_test (first, G_FILE_TEST_EXISTS) && g_get_monotonic_time () < deadline)
    g_usleep (2000);
  g_assert_true (g_file_test (first, G_FILE_TEST_EXISTS));
  kill (pid, signum);
  int status;
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_spawn_close_pid (pid);
  return status;
}

/* Every index 0 … total−1 exactly once, in order, in the shards present. */
static void
assert_zoo_complete (const char *zoo_path, gint64 total)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnZooDir) zoo = nfn_zoo_dir_open (zoo_path, &error);
  g_assert_no_error (error);
  g_autoptr (GArray) entries = nfn_zoo_dir_entries (zoo, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (entries->len, ==, total);
  for (guint k = 0; k < entries->len; k++)
    g_assert_cmpint (g_array_index (entries, NfnZooEntry, k).index, ==, k);
}

static void
test_resume_after_sigkill (void)
{
  g_autofree char *tmp = g_dir_make_tmp ("nfn-test-zoo-XXXXXX", NULL);
  g_autofree char *db = g_build_filename (tmp, "store.sqlite", NULL);
  g_autofree char *zoo = g_build_filename (tmp, "zoo", NULL);
  int status = fit_and_signal (db, zoo, SIGKILL);
  g_assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
  int present = 0;
  for (int k = 0; k < COUNT / 8; k++)
    {
      g_autofree char *path = shard_path (zoo, k);
      present += g_file_test (path, G_FILE_TEST_EXISTS);
    }
  g_test_message ("killed with %d of %d shards written", present, COUNT / 8);
  g_assert_cmpint (present, <, COUNT / 8); /* else the kill came too late to test anything */
  g_autofree char *first = shard_path (zoo, 0);
  g_autofree char *before = NULL, *after = NULL;
  gsize before_length, after_length;
  g_assert_true (g_file_get_contents (first, &before, &before_length, NULL));

  run_result r = run_nfn ("zoo", "fit", "--count", G_STRINGIFY (COUNT), "--shard-size", SHARD_SIZE, "--threads", "1",
                          "--steps", "300", "--db", db, "--out", zoo, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_autofree char *skipped = g_strdup_printf ("(%d shards already there)", present);
  g_assert_nonnull (strstr (r.out, skipped));
  run_result_clear (&r);
  g_assert_true (g_file_get_contents (first, &after, &after_length, NULL));
  g_assert_cmpmem (before, before_length, after, after_length);
  assert_zoo_complete (zoo, COUNT);

  /* the store: every network once, the killed run interrupted, the resumed one completed */
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnStore) store = nfn_store_open (db, TRUE, &error);
  g_assert_no_error (error);
  g_autoptr (NfnZoo) row = nfn_store_find_zoo (store, zoo, &error);
  g_assert_no_error (error);
  g_assert_cmpint (row->networks, ==, COUNT);
  g_autoptr (GPtrArray) runs = nfn_store_list_runs (store, "zoo-fit", &error);
  g_assert_cmpuint (runs->len, ==, 2);
  g_assert_cmpint (((NfnRun *) g_ptr_array_index (runs, 0))->status, ==, NFN_RUN_COMPLETED);
  g_assert_cmpint (((NfnRun *) g_ptr_array_index (runs, 1))->status, ==, NFN_RUN_INTERRUPTED);

  /* resuming with other settings is refused, naming the setting */
  r = run_nfn ("zoo", "fit", "--count", G_STRINGIFY (COUNT), "--shard-size", SHARD_SIZE, "--steps", "200", "--db", db,
               "--out", zoo, NULL);
  assert_one_line_error (&r, "zoo.json");
  g_assert_nonnull (strstr (r.err, "steps 300, not 200"));
  run_result_clear (&r);

  /* a larger count grows the zoo by the missing images' fits */
  g_autofree char *more = g_strdup_printf ("%d", COUNT + 4);
  g_autofree char *grown = g_strdup_printf ("grown from %d to %d networks", COUNT, COUNT + 4);
  r = run_nfn ("zoo", "fit", "--count", more, "--shard-size", SHARD_SIZE, "--steps", "300", "--db", db, "--out", zoo,
               NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, grown));
  run_result_clear (&r);
  assert_zoo_complete (zoo, COUNT + 4);
  ctu_remove_dir (tmp);
}

static void
test_ctrl_c_cancels (void)
{
  g_autofree char *tmp = g_dir_make_tmp ("nfn-test-zoo-XXXXXX", NULL);
  g_autofree char *db = g_build_filename (tmp, "store.sqlite", NULL);
  g_autofree char *zoo = g_build_filename (tmp, "zoo", NULL);
  int status = fit_and_signal (db, zoo, SIGINT);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnZooDir) dir = nfn_zoo_dir_open (zoo, &error);
  g_assert_no_error (error);
  gint64 available = nfn_zoo_dir_available (dir);
  g_assert_cmpint (available, >=, 8);
  g_assert_cmpint (available, <, COUNT);
  g_autoptr (NfnStore) store = nfn_store_open (db, TRUE, &error);
  g_autoptr (GPtrArray) runs = nfn_store_list_runs (store, "zoo-fit", &error);
  g_assert_cmpuint (runs->len, ==, 1);
  g_assert_cmpint (((NfnRun *) g_ptr_array_index (runs, 0))->status, ==, NFN_RUN_CANCELLED);
  g_autoptr (NfnZoo) row = nfn_store_find_zoo (store, zoo, &error);
  g_assert_cmpint (row->networks, ==, available);
  ctu_remove_dir (tmp);
}

static int
compare_float (const void *a, const void *b)
{
  float x = *(const float *) a, y = *(const float *) b;
  return (x > y) - (x < y);
}

/* Big-endian u32 at `offset` of a file's bytes. */
static guint32
read_be32 (const guint8 *bytes, gsize offset)
{
  return (guint32) bytes[offset] << 24 | (guint32) bytes[offset + 1] << 16 | (guint32) bytes[offset + 2] << 8
         | bytes[offset + 3];
}

/* `zoo info`, `zoo list`, `render` and ZOO:IDX on a small zoo. */
static void
test_info_list_render (void)
{
  g_autofree char *tmp = g_dir_make_tmp ("nfn-test-zoo-XXXXXX", NULL);
  g_autofree char *db = g_build_filename (tmp, "store.sqlite", NULL);
  g_autofree char *zoo = g_build_filename (tmp, "zoo", NULL);
  run_result r = run_nfn ("zoo", "fit", "--count", "10", "--refits", "1", "--steps", "100", "--shard-size", "6", "--db",
                          db, "--out", zoo, NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_result_clear (&r);

  /* info: counts per label from the data set, PSNRs from the shards, computed here */
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnDataset) ds = nfn_dataset_load ("fashion-mnist", "train", 10, &error);
  g_assert_no_error (error);
  g_autoptr (NfnZooDir) dir = nfn_zoo_dir_open (zoo, &error);
  g_autoptr (GArray) entries = nfn_zoo_dir_entries (dir, &error);
  g_assert_no_error (error);
  float psnr[20];
  double mean = 0;
  for (int k = 0; k < 20; k++)
    mean += (psnr[k] = g_array_index (entries, NfnZooEntry, k).psnr) / 20.0;
  qsort (psnr, 20, sizeof *psnr, compare_float);
  r = run_nfn ("zoo", "info", zoo, "--json", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *info = parse_object (parser, r.out);
  g_assert_cmpint (json_object_get_int_member (info, "networks"), ==, 20);
  g_assert_cmpint (json_object_get_int_member (info, "available"), ==, 20);
  JsonArray *labels = json_object_get_array_member (info, "labels");
  for (guint l = 0; l < json_array_get_length (labels); l++)
    {
      JsonObject *label = json_array_get_object_element (labels, l);
      int expected = 0;
      for (int k = 0; k < ds->count; k++)
        expected += 2 * (ds->labels[k] == l);
      g_assert_cmpint (json_object_get_int_member (label, "count"), ==, expected);
      g_assert_cmpstr (json_object_get_string_member (label, "name"), ==, nfn_dataset_class_name ("fashion-mnist", l));
    }
  JsonObject *p = json_object_get_object_member (info, "psnr");
  g_assert_cmpfloat (fabs (json_object_get_double_member (p, "mean") - mean), <, 1e-4);
  g_assert_cmpfloat (json_object_get_double_member (p, "min"), ==, psnr[0]);
  g_assert_cmpfloat (json_object_get_double_member (p, "max"), ==, psnr[19]);
  /* 20 values: the median sits halfway between the 10th and 11th */
  g_assert_cmpfloat (fabs (json_object_get_double_member (p, "p50") - 0.5 * (psnr[9] + psnr[10])), <, 1e-4);
  /* 5th percentile at position 0.95 between the 1st and 2nd */
  g_assert_cmpfloat (fabs (json_object_get_double_member (p, "p5") - (psnr[0] + 0.95 * (psnr[1] - psnr[0]))), <, 1e-4);
  run_result_clear (&r);
  r = run_nfn ("zoo", "info", zoo, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "T-shirt/top"));
  g_assert_nonnull (strstr (r.out, "networks: 20 of 20"));
  g_assert_nonnull (strstr (r.out, "#"));
  run_result_clear (&r);

  /* list */
  r = run_nfn ("zoo", "list", "--db", db, "--json", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_autoptr (JsonParser) list_parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (list_parser, r.out, -1, NULL));
  JsonArray *zoos = json_node_get_array (json_parser_get_root (list_parser));
  g_assert_cmpuint (json_array_get_length (zoos), ==, 1);
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (zoos, 0), "networks"), ==, 20);
  run_result_clear (&r);

  /* render ZOO:IDX: three panels of 28·3 = 84 pixels, 8 apart, a 36-pixel caption band */
  g_autofree char *png = g_build_filename (tmp, "net.png", NULL);
  g_autofree char *spec = g_strdup_printf ("%s:13", zoo);
  r = run_nfn ("render", spec, "-o", png, "--scale", "3", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_autofree guint8 *bytes = NULL;
  gsize length;
  g_assert_true (g_file_get_contents (png, (char **) &bytes, &length, NULL));
  g_assert_cmpuint (length, >, 24);
  g_assert_cmpmem (bytes + 1, 3, "PNG", 3);
  g_assert_cmpuint (read_be32 (bytes, 16), ==, 3 * (84 + 8) + 8);
  g_assert_cmpuint (read_be32 (bytes, 20), ==, 8 + 84 + 36);
  /* the PSNR it shows is the one the fit recorded for network 13 */
  g_autofree char *expected = g_strdup_printf ("PSNR %.2f dB", g_array_index (entries, NfnZooEntry, 13).psnr);
  g_assert_nonnull (strstr (r.out, expected));
  run_result_clear (&r);

  /* ZOO:IDX in the other commands; an index past the end is one line naming the zoo */
  r = run_nfn ("info", spec, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "1185 parameters"));
  run_result_clear (&r);
  g_autofree char *past = g_strdup_printf ("%s:20", zoo);
  r = run_nfn ("check", past, NULL);
  assert_one_line_error (&r, zoo);
  g_assert_nonnull (strstr (r.err, "out of range"));
  run_result_clear (&r);

  /* a SIREN file that names no source image (PyTorch-written): two panels */
  g_autofree char *plain = g_test_build_filename (G_TEST_DIST, "..", "data", "fixtures", "siren.safetensors", NULL);
  r = run_nfn ("render", plain, "-o", png, "--scale", "2", NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_result_clear (&r);
  g_clear_pointer (&bytes, g_free);
  g_assert_true (g_file_get_contents (png, (char **) &bytes, &length, NULL));
  g_assert_cmpuint (read_be32 (bytes, 16), ==, 2 * (56 + 8) + 8);
  g_assert_cmpuint (read_be32 (bytes, 20), ==, 8 + 56 + 36);

  /* the built-in sample is fitted to Fashion-MNIST test #0 and says so: three panels */
  g_autofree char *sample = g_build_filename (tmp, "sample.safetensors", NULL);
  r = run_nfn ("sample", "-o", sample, NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_result_clear (&r);
  r = run_nfn ("render", sample, "-o", png, "--scale", "2", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "PSNR"));
  run_result_clear (&r);
  g_clear_pointer (&bytes, g_free);
  g_assert_true (g_file_get_contents (png, (char **) &bytes, &length, NULL));
  g_assert_cmpuint (read_be32 (bytes, 16), ==, 3 * (56 + 8) + 8);

  /* a truncated shard is one line naming it */
  g_autofree char *shard = shard_path (zoo, 1);
  g_assert_true (truncate (shard, 100) == 0);
  r = run_nfn ("zoo", "info", zoo, NULL);
  assert_one_line_error (&r, shard);
  run_result_clear (&r);
  ctu_remove_dir (tmp);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/zoo-cli/resume-after-sigkill", test_resume_after_sigkill);
  g_test_add_func ("/zoo-cli/ctrl-c-cancels", test_ctrl_c_cancels);
  g_test_add_func ("/zoo-cli/info-list-render", test_info_list_render);
  return g_test_run ();
}
