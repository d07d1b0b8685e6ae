/* test-runs.c — `nfn runs list|show|compare|export` on a store this test fills through the
 * store API, so every expected value below is known before nfn prints it; and the one-line
 * errors for a bad run id or a bad --db. */
#include <math.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "clitestutil.h"
#include "nfn_store.h"

typedef struct {
  char *dir;
  char *db;
  gint64 fit, train, live; /* run ids: 1, 2, 3 */
} fixture;

/* Run 1: a completed zoo fit. Run 2: a failed training run with metrics (a NaN, a name with a
 * comma) and an artifact. Run 3: running, owned by this test process, which is alive. */
static void
fixture_setup (fixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp ("nfn-runs-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
  f->db = g_build_filename (f->dir, "store.sqlite", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnStore) store = nfn_store_open (f->db, FALSE, &error);
  g_assert_no_error (error);

  f->fit = nfn_store_run_begin (store, "sweep", "zoo-fit", NULL, "{\"lr\": 0.001, \"steps\": 500, \"arch\": {\"widths\": [2, 32, 32, 1]}}",
                                1, &error);
  g_assert_no_error (error);
  const char *psnr = "psnr";
  for (int k = 0; k < 3; k++)
    {
      double value = 20.0 + 5.0 * k;
      g_assert_true (nfn_store_run_log (store, f->fit, 100 * k, 1, &psnr, &value, &error));
    }
  g_assert_true (nfn_store_run_set_summary (store, f->fit, "{\"psnr_mean\": 35.25, \"count\": 64}", &error));
  g_assert_true (nfn_store_run_finish (store, f->fit, NFN_RUN_COMPLETED, &error));
  g_assert_no_error (error);

  f->train = nfn_store_run_begin (store, "sweep", "train-classify", "hnp",
                                  "{\"lr\": 0.001, \"steps\": 800, \"arch\": {\"widths\": [2, 32, 32, 1]}}", 2, &error);
  g_assert_no_error (error);
  const char *loss = "train/loss", *accuracy = "val/accuracy", *weighted = "loss,weighted";
  double losses[] = { 2.5, 1.25, NAN }, accuracies[] = { 0.1, 0.875 }, tiny = 1e-7;
  for (int k = 0; k < 3; k++)
    g_assert_true (nfn_store_run_log (store, f->train, 10 * k, 1, &loss, &losses[k], &error));
  for (int k = 0; k < 2; k++)
    g_assert_true (nfn_store_run_log (store, f->train, 10 * (k + 1), 1, &accuracy, &accuracies[k], &error));
  g_assert_true (nfn_store_run_log (store, f->train, 5, 1, &weighted, &tiny, &error));
  g_assert_true (nfn_store_run_set_summary (store, f->train, "{\"test/accuracy\": 0.875, \"best_epoch\": 3}", &error));
  g_assert_true (nfn_store_run_add_artifact (store, f->train, "model", "/tmp/nfn/best.safetensors", "best model", &error));
  g_assert_true (nfn_store_run_finish (store, f->train, NFN_RUN_FAILED, &error));
  g_assert_no_error (error);

  f->live = nfn_store_run_begin (store, "other", "train-classify", "np", NULL, 3, &error);
  g_assert_no_error (error);
  g_assert_cmpint (f->fit, ==, 1);
  g_assert_cmpint (f->train, ==, 2);
  g_assert_cmpint (f->live, ==, 3);
}

static void
fixture_teardown (fixture *f, gconstpointer data)
{
  ctu_remove_dir (f->dir);
  g_free (f->dir);
  g_free (f->db);
}

/* stdout split into lines, each split into cells at runs of two or more spaces (a table's
 * column gap; a local time has one space inside). */
static GPtrArray *
table_rows (const char *out)
{
  g_autoptr (GRegex) gap = g_regex_new ("  +", 0, 0, NULL);
  GPtrArray *rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  for (char **line = lines; *line; line++)
    if (**line)
      {
        g_autofree char *stripped = g_strstrip (g_strdup (*line));
        g_ptr_array_add (rows, g_regex_split (gap, stripped, 0));
      }
  return rows;
}

static void
assert_cells (GPtrArray *rows, guint row, const char *const *expected)
{
  g_assert_cmpuint (row, <, rows->len);
  char **cells = g_ptr_array_index (rows, row);
  g_assert_cmpuint (g_strv_length (cells), ==, g_strv_length ((char **) expected));
  for (guint c = 0; expected[c]; c++)
    if (strcmp (expected[c], "*") != 0) /* a time or a duration: checked by pattern */
      g_assert_cmpstr (cells[c], ==, expected[c]);
}

/* The row whose first cell is `first`, or a failure. */
static guint
find_row (GPtrArray *rows, const char *first)
{
  for (guint r = 0; r < rows->len; r++)
    if (strcmp (((char **) g_ptr_array_index (rows, r))[0], first) == 0)
      return r;
  g_error ("no row \"%s\"", first);
}

static void
test_list (fixture *f, gconstpointer data)
{
  run_result r = run_nfn ("runs", "list", "--db", f->db, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.err, ==, "");
  g_autoptr (GPtrArray) rows = table_rows (r.out);
  g_assert_cmpuint (rows->len, ==, 4);
  assert_cells (rows, 0, (const char *[]){ "id", "task", "model", "status", "started", "duration", "summary", NULL });
  /* newest first; the live run (this process) is running, with no duration yet */
  assert_cells (rows, 1, (const char *[]){ "3", "train-classify", "np", "running", "*", "-", NULL });
  assert_cells (rows, 2, (const char *[]){ "2", "train-classify", "hnp", "failed", "*", "*", "test/accuracy=0.875 best_epoch=3", NULL });
  assert_cells (rows, 3, (const char *[]){ "1", "zoo-fit", "-", "completed", "*", "*", "psnr_mean=35.25 count=64", NULL });
  for (guint row = 1; row < 4; row++)
    {
      char **cells = g_ptr_array_index (rows, row);
      g_assert_true (g_regex_match_simple ("^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$", cells[4], 0, 0));
      if (row > 1)
        g_assert_true (g_regex_match_simple ("^[0-9]+\\.[0-9]s$", cells[5], 0, 0));
    }
  run_result_clear (&r);

  r = run_nfn ("runs", "list", "--task", "train-classify", "--json", "--db", f->db, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, r.out, -1, NULL));
  JsonArray *runs = json_node_get_array (json_parser_get_root (parser));
  g_assert_cmpuint (json_array_get_length (runs), ==, 2);
  JsonObject *live = json_array_get_object_element (runs, 0), *train = json_array_get_object_element (runs, 1);
  g_assert_cmpint (json_object_get_int_member (live, "id"), ==, 3);
  g_assert_cmpstr (json_object_get_string_member (live, "status"), ==, "running");
  g_assert_true (json_object_get_null_member (live, "finished_us"));
  g_assert_cmpint (json_object_get_int_member (live, "pid"), ==, getpid ());
  g_assert_cmpint (json_object_get_int_member (train, "id"), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (train, "experiment"), ==, "sweep");
  g_assert_cmpstr (json_object_get_string_member (train, "model"), ==, "hnp");
  g_assert_cmpstr (json_object_get_string_member (train, "status"), ==, "failed");
  g_assert_cmpint (json_object_get_int_member (train, "seed"), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (train, "code_version"), ==, nfn_store_code_version ());
  g_assert_cmpint (json_object_get_int_member (train, "finished_us"), >=, json_object_get_int_member (train, "started_us"));
  JsonObject *config = json_object_get_object_member (train, "config");
  g_assert_cmpfloat (json_object_get_double_member (config, "lr"), ==, 0.001);
  g_assert_cmpint (json_object_get_int_member (config, "steps"), ==, 800);
  JsonObject *summary = json_object_get_object_member (train, "summary");
  g_assert_cmpfloat (json_object_get_double_member (summary, "test/accuracy"), ==, 0.875);
  run_result_clear (&r);

  r = run_nfn ("runs", "list", "--task", "no-such-task", "--db", f->db, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_autofree char *none = g_strdup_printf ("no runs of task no-such-task in %s\n", f->db);
  g_assert_cmpstr (r.out, ==, none);
  run_result_clear (&r);
}

static void
test_show (fixture *f, gconstpointer data)
{
  run_result r = run_nfn ("runs", "show", "2", "--db", f->db, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_auto (GStrv) lines = g_strsplit (r.out, "\n", -1);
  g_assert_cmpstr (lines[0], ==, "run 2: train-classify, model hnp");
  g_autoptr (GPtrArray) rows = table_rows (r.out);
  assert_cells (rows, find_row (rows, "experiment"), (const char *[]){ "experiment", "sweep", NULL });
  assert_cells (rows, find_row (rows, "status"), (const char *[]){ "status", "failed", NULL });
  assert_cells (rows, find_row (rows, "seed"), (const char *[]){ "seed", "2", NULL });
  assert_cells (rows, find_row (rows, "code"), (const char *[]){ "code", nfn_store_code_version (), NULL });
  g_autofree char *host = g_strdup_printf ("%s (pid %d)", g_get_host_name (), (int) getpid ());
  assert_cells (rows, find_row (rows, "host"), (const char *[]){ "host", host, NULL });
  /* config flattened, sorted */
  guint config = find_row (rows, "config");
  assert_cells (rows, config + 1, (const char *[]){ "arch.widths", "[2,32,32,1]", NULL });
  assert_cells (rows, config + 2, (const char *[]){ "lr", "0.001", NULL });
  assert_cells (rows, config + 3, (const char *[]){ "steps", "800", NULL });
  guint summary = find_row (rows, "summary");
  assert_cells (rows, summary + 1, (const char *[]){ "best_epoch", "3", NULL });
  assert_cells (rows, summary + 2, (const char *[]){ "test/accuracy", "0.875", NULL });
  guint metrics = find_row (rows, "metrics");
  assert_cells (rows, metrics + 1, (const char *[]){ "name", "points", "last step", "last value", NULL });
  assert_cells (rows, metrics + 2, (const char *[]){ "loss,weighted", "1", "5", "1e-07", NULL });
  assert_cells (rows, metrics + 3, (const char *[]){ "train/loss", "3", "20", "nan", NULL });
  assert_cells (rows, metrics + 4, (const char *[]){ "val/accuracy", "2", "20", "0.875", NULL });
  guint artifacts = find_row (rows, "artifacts");
  assert_cells (rows, artifacts + 1, (const char *[]){ "model", "/tmp/nfn/best.safetensors", "best model", NULL });
  g_assert_cmpuint (rows->len, ==, artifacts + 2);
  run_result_clear (&r);

  r = run_nfn ("runs", "show", "2", "--json", "--db", f->db, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *run = parse_object (parser, r.out);
  g_assert_cmpint (json_object_get_int_member (run, "id"), ==, 2);
  JsonArray *metric_array = json_object_get_array_member (run, "metrics");
  g_assert_cmpuint (json_array_get_length (metric_array), ==, 3);
  JsonObject *train_loss = json_array_get_object_element (metric_array, 1);
  g_assert_cmpstr (json_object_get_string_member (train_loss, "name"), ==, "train/loss");
  g_assert_cmpint (json_object_get_int_member (train_loss, "count"), ==, 3);
  g_assert_cmpint (json_object_get_int_member (train_loss, "last_step"), ==, 20);
  g_assert_true (json_object_get_null_member (train_loss, "last_value")); /* NaN: JSON has none */
  JsonObject *val = json_array_get_object_element (metric_array, 2);
  g_assert_cmpfloat (json_object_get_double_member (val, "last_value"), ==, 0.875);
  JsonArray *artifact_array = json_object_get_array_member (run, "artifacts");
  g_assert_cmpuint (json_array_get_length (artifact_array), ==, 1);
  JsonObject *artifact = json_array_get_object_element (artifact_array, 0);
  g_assert_cmpstr (json_object_get_string_member (artifact, "kind"), ==, "model");
  g_assert_cmpstr (json_object_get_string_member (artifact, "path"), ==, "/tmp/nfn/best.safetensors");
  g_assert_cmpstr (json_object_get_string_member (artifact, "description"), ==, "best model");
  run_result_clear (&r);
}

static void
test_compare (fixture *f, gconstpointer data)
{
  run_result r = run_nfn ("runs", "compare", "1", "2", "--diff-only", "--db", f->db, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_autoptr (GPtrArray) rows = table_rows (r.out);
  const char *const *expected[] = {
    (const char *[]){ "run 1", "run 2", NULL },
    (const char *[]){ "run", NULL },
    /* experiment is "sweep" in both: hidden */
    (const char *[]){ "model", "\"\"", "hnp", NULL },
    (const char *[]){ "seed", "1", "2", NULL },
    (const char *[]){ "status", "completed", "failed", NULL },
    (const char *[]){ "task", "zoo-fit", "train-classify", NULL },
    (const char *[]){ "config", NULL },
    /* lr and arch.widths are equal: hidden */
    (const char *[]){ "steps", "500", "800", NULL },
    (const char *[]){ "summary", NULL },
    (const char *[]){ "best_epoch", "-", "3", NULL },
    (const char *[]){ "count", "64", "-", NULL },
    (const char *[]){ "psnr_mean", "35.25", "-", NULL },
    (const char *[]){ "test/accuracy", "-", "0.875", NULL },
  };
  g_assert_cmpuint (rows->len, ==, G_N_ELEMENTS (expected));
  for (guint k = 0; k < G_N_ELEMENTS (expected); k++)
    assert_cells (rows, k, expected[k]);
  run_result_clear (&r);

  /* without --diff-only, the equal keys come back */
  r = run_nfn ("runs", "compare", "1", "2", "3", "--db", f->db, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_autoptr (GPtrArray) all = table_rows (r.out);
  assert_cells (all, 0, (const char *[]){ "run 1", "run 2", "run 3", NULL });
  assert_cells (all, find_row (all, "experiment"), (const char *[]){ "experiment", "sweep", "sweep", "other", NULL });
  assert_cells (all, find_row (all, "lr"), (const char *[]){ "lr", "0.001", "0.001", "-", NULL });
  assert_cells (all, find_row (all, "arch.widths"), (const char *[]){ "arch.widths", "[2,32,32,1]", "[2,32,32,1]", "-", NULL });
  run_result_clear (&r);

  r = run_nfn ("runs", "compare", "1", "2", "--diff-only", "--json", "--db", f->db, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o = parse_object (parser, r.out);
  JsonArray *ids = json_object_get_array_member (o, "runs");
  g_assert_cmpint (json_array_get_int_element (ids, 0), ==, 1);
  g_assert_cmpint (json_array_get_int_element (ids, 1), ==, 2);
  JsonObject *config = json_object_get_object_member (o, "config");
  g_assert_cmpuint (json_object_get_size (config), ==, 1);
  JsonArray *steps = json_object_get_array_member (config, "steps");
  g_assert_cmpint (json_array_get_int_element (steps, 0), ==, 500);
  g_assert_cmpint (json_array_get_int_element (steps, 1), ==, 800);
  JsonObject *summary = json_object_get_object_member (o, "summary");
  g_assert_cmpuint (json_object_get_size (summary), ==, 4);
  JsonArray *psnr = json_object_get_array_member (summary, "psnr_mean");
  g_assert_cmpfloat (json_array_get_double_element (psnr, 0), ==, 35.25);
  g_assert_true (json_array_get_null_element (psnr, 1));
  JsonObject *identity = json_object_get_object_member (o, "run");
  g_assert_false (json_object_has_member (identity, "experiment"));
  g_assert_cmpstr (json_array_get_string_element (json_object_get_array_member (identity, "task"), 1), ==, "train-classify");
  run_result_clear (&r);
}

static const char expected_csv[] = "step,name,value\n"
                                   "5,\"loss,weighted\",1e-07\n"
                                   "0,train/loss,2.5\n"
                                   "10,train/loss,1.25\n"
                                   "20,train/loss,nan\n"
                                   "10,val/accuracy,0.1\n"
                                   "20,val/accuracy,0.875\n";

static void
test_export (fixture *f, gconstpointer data)
{
  run_result r = run_nfn ("runs", "export", "2", "--csv", "--db", f->db, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, expected_csv);
  run_result_clear (&r);

  g_autofree char *file = g_build_filename (f->dir, "metrics.csv", NULL);
  r = run_nfn ("runs", "export", "2", "--csv", "-o", file, "--db", f->db, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_autofree char *wrote = g_strdup_printf ("wrote 6 points of run 2 to %s\n", file);
  g_assert_cmpstr (r.out, ==, wrote);
  g_autofree char *contents = NULL;
  g_assert_true (g_file_get_contents (file, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, expected_csv);
  run_result_clear (&r);

  r = run_nfn ("runs", "export", "2", "--json", "--db", f->db, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, r.out, -1, NULL));
  JsonArray *points = json_node_get_array (json_parser_get_root (parser));
  const struct {
    gint64 step;
    const char *name;
    double value;
  } expected[] = {
    { 5, "loss,weighted", 1e-7 }, { 0, "train/loss", 2.5 },    { 10, "train/loss", 1.25 },
    { 20, "train/loss", NAN },    { 10, "val/accuracy", 0.1 }, { 20, "val/accuracy", 0.875 },
  };
  g_assert_cmpuint (json_array_get_length (points), ==, G_N_ELEMENTS (expected));
  for (guint k = 0; k < G_N_ELEMENTS (expected); k++)
    {
      JsonObject *p = json_array_get_object_element (points, k);
      g_assert_cmpint (json_object_get_int_member (p, "step"), ==, expected[k].step);
      g_assert_cmpstr (json_object_get_string_member (p, "name"), ==, expected[k].name);
      if (isnan (expected[k].value))
        g_assert_true (json_object_get_null_member (p, "value"));
      else
        g_assert_cmpfloat (json_object_get_double_member (p, "value"), ==, expected[k].value);
    }
  run_result_clear (&r);

  /* a run without metrics exports the header only */
  r = run_nfn ("runs", "export", "3", "--csv", "--db", f->db, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, "step,name,value\n");
  run_result_clear (&r);
}

static void
test_bad_run (fixture *f, gconstpointer data)
{
  g_autofree char *expected = g_strdup_printf ("nfn: no run 42 in %s\n", f->db);
  const char *const *commands[] = {
    (const char *[]){ "runs", "show", "42", NULL },
    (const char *[]){ "runs", "compare", "1", "42", NULL },
    (const char *[]){ "runs", "export", "42", "--csv", NULL },
  };
  for (guint k = 0; k < G_N_ELEMENTS (commands); k++)
    {
      const char *const *c = commands[k];
      run_result r = c[3] ? run_nfn (c[0], c[1], c[2], c[3], "--db", f->db, NULL) : run_nfn (c[0], c[1], c[2], "--db", f->db, NULL);
      g_assert_cmpint (r.status, ==, 1);
      g_assert_cmpstr (r.err, ==, expected);
      g_assert_cmpstr (r.out, ==, "");
      run_result_clear (&r);
    }

  run_result r = run_nfn ("runs", "show", "abc", "--db", f->db, NULL);
  assert_one_line_error (&r, "\"abc\" is not a run id");
  run_result_clear (&r);
  r = run_nfn ("runs", "export", "2", "--db", f->db, NULL);
  assert_one_line_error (&r, "one of --csv, --json");
  run_result_clear (&r);
  r = run_nfn ("runs", "compare", "2", "--db", f->db, NULL);
  assert_one_line_error (&r, "two or more RUN ids");
  run_result_clear (&r);
  r = run_nfn ("runs", "frobnicate", NULL);
  assert_one_line_error (&r, "unknown subcommand \"frobnicate\"");
  run_result_clear (&r);
  r = run_nfn ("runs", NULL);
  assert_one_line_error (&r, "expected list, show, compare or export");
  run_result_clear (&r);
}

static void
test_bad_db (fixture *f, gconstpointer data)
{
  g_autofree char *missing = g_build_filename (f->dir, "no-such-dir", "store.sqlite", NULL);
  run_result r = run_nfn ("runs", "list", "--db", missing, NULL);
  assert_one_line_error (&r, missing);
  g_assert_nonnull (strstr (r.err, "cannot open the database"));
  run_result_clear (&r);
  /* a viewer does not create a store at a mistyped path */
  g_autofree char *typo = g_build_filename (f->dir, "stroe.sqlite", NULL);
  r = run_nfn ("runs", "list", "--db", typo, NULL);
  assert_one_line_error (&r, typo);
  g_assert_false (g_file_test (typo, G_FILE_TEST_EXISTS));
  run_result_clear (&r);

  g_autofree char *text = g_build_filename (f->dir, "notes.txt", NULL);
  g_assert_true (g_file_set_contents (text, "these are not the runs you are looking for\n", -1, NULL));
  r = run_nfn ("runs", "show", "1", "--db", text, NULL);
  g_autofree char *fault = g_strdup_printf ("%s: not an nfn experiment store (file is not a database)", text);
  assert_one_line_error (&r, fault);
  run_result_clear (&r);
}

/* Without --db, the store under $XDG_DATA_HOME. */
static void
test_default_path (fixture *f, gconstpointer data)
{
  g_autofree char *xdg = g_build_filename (f->dir, "xdg", NULL);
  g_autofree char *store_dir = g_build_filename (xdg, "nfn-workbench", NULL);
  g_autofree char *path = g_build_filename (store_dir, "experiments.sqlite", NULL);
  g_auto (GStrv) env = g_environ_setenv (g_get_environ (), "XDG_DATA_HOME", xdg, TRUE);

  run_result r = run_nfn_env (env, "runs", "list", NULL);
  g_autofree char *fault = g_strdup_printf ("nfn: %s: cannot open the database", path);
  assert_one_line_error (&r, fault);
  run_result_clear (&r);

  g_assert_cmpint (g_mkdir_with_parents (store_dir, 0700), ==, 0);
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (NfnStore) store = nfn_store_open (path, FALSE, &error);
    g_assert_no_error (error);
    nfn_store_run_begin (store, NULL, "from-xdg", NULL, NULL, 0, &error);
    g_assert_no_error (error);
  }
  r = run_nfn_env (env, "runs", "list", "--json", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, r.out, -1, NULL));
  JsonArray *runs = json_node_get_array (json_parser_get_root (parser));
  g_assert_cmpuint (json_array_get_length (runs), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (runs, 0), "task"), ==, "from-xdg");
  run_result_clear (&r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(name, fn) g_test_add (name, fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/runs/list", test_list);
  ADD ("/runs/show", test_show);
  ADD ("/runs/compare", test_compare);
  ADD ("/runs/export", test_export);
  ADD ("/runs/bad-run", test_bad_run);
  ADD ("/runs/bad-db", test_bad_db);
  ADD ("/runs/default-path", test_default_path);
#undef ADD
  return g_test_run ();
}
