/* test-store.c — the experiment store: a round trip of the whole API checked against what was
 * put in and against raw SQL on a second connection, migrations, and crash safety (a writer
 * killed with SIGKILL, a reader beside a live writer, a locked, read-only, newer or foreign
 * file). Writers that must die run in forked children that report each committed step through
 * a pipe, so the parent knows exactly what the store must still hold. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "datatestutil.h"
#include "nfn_run_report.h"
#include "nfn_store.h"

typedef struct {
  char *dir;
  char *path; /* dir/experiments.sqlite, not yet created */
} fixture;

static void
fixture_setup (fixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp ("nfn-store-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
  f->path = g_build_filename (f->dir, "experiments.sqlite", NULL);
}

static void
fixture_teardown (fixture *f, gconstpointer data)
{
  GDir *dir = g_dir_open (f->dir, 0, NULL);
  for (const char *name; dir && (name = g_dir_read_name (dir));)
    {
      g_autofree char *path = g_build_filename (f->dir, name, NULL);
      g_unlink (path);
    }
  if (dir)
    g_dir_close (dir);
  g_rmdir (f->dir);
  g_free (f->dir);
  g_free (f->path);
}

/* ---- raw SQL on a connection of its own: the independent view of the file ---- */

static sqlite3 *
raw_open (const char *path)
{
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  return db;
}

static void
raw_exec (sqlite3 *db, const char *sql)
{
  char *message = NULL;
  int rc = sqlite3_exec (db, sql, NULL, NULL, &message);
  if (rc != SQLITE_OK)
    g_error ("%s: %s", sql, message);
}

/* The first column of the first row as text (free it), NULL when there is no row. */
static char *
raw_text (sqlite3 *db, const char *sql)
{
  sqlite3_stmt *stmt = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  int rc = sqlite3_step (stmt);
  g_assert_true (rc == SQLITE_ROW || rc == SQLITE_DONE);
  char *text = rc == SQLITE_ROW ? g_strdup ((const char *) sqlite3_column_text (stmt, 0)) : NULL;
  sqlite3_finalize (stmt);
  return text;
}

static gint64
raw_int (sqlite3 *db, const char *sql)
{
  g_autofree char *text = raw_text (db, sql);
  g_assert_nonnull (text);
  return g_ascii_strtoll (text, NULL, 10);
}

static GBytes *
file_bytes (const char *path)
{
  char *contents;
  gsize length;
  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  return g_bytes_new_take (contents, length);
}

/* ---- the writer that logs steps: metric values are a formula of the step, so a reader can
 * check every value it finds without having seen the writer ---- */

static const char *const writer_names[] = { "lr", "train/accuracy", "train/loss" };
enum { WRITER_METRICS = G_N_ELEMENTS (writer_names) };

static void
writer_values (gint64 step, double *values)
{
  values[0] = 0.5;
  values[1] = (double) step * 1e-3;
  values[2] = 1.0 / (double) (step + 1);
}

/* In a forked child: opens the store, begins a run, writes its id to `fd`, then logs steps
 * 0 … steps-1, one transaction each, writing each step to `fd` after it committed. Never
 * returns; the exit status says where it failed. */
static void G_GNUC_NORETURN
writer_child (const char *path, int fd, gint64 steps, gulong pause_us)
{
  NfnStore *store = nfn_store_open (path, FALSE, NULL);
  if (!store)
    _exit (2);
  gint64 run = nfn_store_run_begin (store, "crash", "test-writer", "", "{\"steps\": 1}", 7, NULL);
  if (run <= 0 || write (fd, &run, sizeof run) != sizeof run)
    _exit (3);
  for (gint64 step = 0; step < steps; step++)
    {
      double values[WRITER_METRICS];
      writer_values (step, values);
      if (!nfn_store_run_log (store, run, step, WRITER_METRICS, writer_names, values, NULL))
        _exit (4);
      if (write (fd, &step, sizeof step) != sizeof step)
        _exit (5);
      if (pause_us)
        g_usleep (pause_us);
    }
  if (!nfn_store_run_finish (store, run, NFN_RUN_COMPLETED, NULL))
    _exit (6);
  nfn_store_close (store);
  _exit (0);
}

typedef struct {
  pid_t pid;
  int fd; /* read end */
  gint64 run;
} writer;

static writer
writer_start (const char *path, gint64 steps, gulong pause_us)
{
  int fds[2];
  g_assert_cmpint (pipe (fds), ==, 0);
  writer w = { .pid = fork () };
  g_assert_cmpint (w.pid, >=, 0);
  if (w.pid == 0)
    {
      close (fds[0]);
      writer_child (path, fds[1], steps, pause_us);
    }
  close (fds[1]);
  w.fd = fds[0];
  g_assert_cmpint (read (w.fd, &w.run, sizeof w.run), ==, sizeof w.run);
  return w;
}

/* Reads the next committed step the writer reported; FALSE at end of file (writer gone). */
static gboolean
writer_next_step (writer *w, gint64 *step)
{
  ssize_t got;
  do
    got = read (w->fd, step, sizeof *step);
  while (got < 0 && errno == EINTR);
  g_assert_true (got == 0 || got == sizeof *step);
  return got == sizeof *step;
}

static int
writer_wait (writer *w)
{
  int status;
  g_assert_cmpint (waitpid (w->pid, &status, 0), ==, w->pid);
  close (w->fd);
  return status;
}

/* Every metric of `run` holds exactly steps 0 … last with the formula's values. */
static void
assert_writer_series (NfnStore *store, gint64 run, gint64 last)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) names = nfn_store_run_metric_names (store, run, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (names->len, ==, WRITER_METRICS);
  for (int m = 0; m < WRITER_METRICS; m++)
    {
      g_assert_cmpstr (g_ptr_array_index (names, m), ==, writer_names[m]);
      g_autoptr (GArray) series = nfn_store_run_metric (store, run, writer_names[m], G_MININT64, &error);
      g_assert_no_error (error);
      g_assert_cmpint (series->len, ==, last + 1);
      for (guint k = 0; k < series->len; k++)
        {
          NfnMetricPoint *p = &g_array_index (series, NfnMetricPoint, k);
          double values[WRITER_METRICS];
          writer_values (p->step, values);
          g_assert_cmpint (p->step, ==, k);
          g_assert_cmpfloat (p->value, ==, values[m]);
        }
    }
}

/* ---- round trip ---- */

static void
assert_tables (const char *path)
{
  sqlite3 *db = raw_open (path);
  g_assert_cmpint (raw_int (db, "PRAGMA user_version"), ==, nfn_store_schema_version ());
  g_autofree char *mode = raw_text (db, "PRAGMA journal_mode");
  g_assert_cmpstr (mode, ==, "wal");
  g_autofree char *tables
    = raw_text (db, "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name)");
  g_assert_cmpstr (tables, ==, "artifacts,experiments,metrics,runs,zoo_networks,zoos");
  sqlite3_close (db);
}

static void
test_new_file (fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnStore) store = nfn_store_open (f->path, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (nfn_store_get_path (store), ==, f->path);
  assert_tables (f->path);
  /* a migrated store opens again without migrating and reports nothing */
  g_autoptr (NfnStore) again = nfn_store_open (f->path, FALSE, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) runs = nfn_store_list_runs (again, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (runs->len, ==, 0);
}

/* An empty file (touch experiments.sqlite) is a database of version 0: migrated from scratch. */
static void
test_migrate_empty_file (fixture *f, gconstpointer data)
{
  g_assert_true (g_file_set_contents (f->path, "", 0, NULL));
  g_autoptr (GError) error = NULL;
  /* read-only cannot migrate, and says what to do */
  NfnStore *read_only = nfn_store_open (f->path, TRUE, &error);
  g_assert_null (read_only);
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, f->path, "open it once for writing");
  g_clear_error (&error);

  g_autoptr (NfnStore) store = nfn_store_open (f->path, FALSE, &error);
  g_assert_no_error (error);
  assert_tables (f->path);
  gint64 run = nfn_store_run_begin (store, NULL, "t", NULL, NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (run, ==, 1);
}

static void
test_run_round_trip (fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnStore) store = nfn_store_open (f->path, FALSE, &error);
  g_assert_no_error (error);

  gint64 before = g_get_real_time ();
  const guint64 big_seed = G_MAXUINT64 - 5; /* above 2^63: must survive SQLite's signed INTEGER */
  gint64 first = nfn_store_run_begin (store, NULL, "zoo-fit", NULL, "{\"lr\": 0.001, \"steps\": 500}", big_seed, &error);
  g_assert_no_error (error);
  gint64 second = nfn_store_run_begin (store, "sweep", "train-classify", "hnp", "{\"optimizer\": {\"lr\": 0.01}}", 3, &error);
  g_assert_no_error (error);
  g_assert_cmpint (first, >, 0);
  g_assert_cmpint (second, >, first);

  const char *names[] = { "val/accuracy", "train/loss" };
  for (gint64 step = 0; step < 5; step++)
    {
      double values[] = { 0.1 * (double) step, 10.0 - (double) step };
      g_assert_true (nfn_store_run_log (store, second, step * 10, 2, names, values, &error));
      g_assert_no_error (error);
    }
  /* a step logged again replaces its value; a NaN loss reads back as NaN */
  double again[] = { 0.75, NAN };
  g_assert_true (nfn_store_run_log (store, second, 40, 2, names, again, &error));
  g_assert_no_error (error);
  g_assert_true (nfn_store_run_set_summary (store, second, "{\"test/accuracy\": 0.875, \"best_epoch\": 3}", &error));
  g_assert_true (nfn_store_run_add_artifact (store, second, "model", "/tmp/m.safetensors", "best model", &error));
  g_assert_true (nfn_store_run_add_artifact (store, second, "figure", "/tmp/loss.png", NULL, &error));
  g_assert_true (nfn_store_run_finish (store, second, NFN_RUN_COMPLETED, &error));
  g_assert_no_error (error);
  gint64 after = g_get_real_time ();

  g_autoptr (NfnRun) run = nfn_store_get_run (store, second, &error);
  g_assert_no_error (error);
  g_assert_cmpint (run->id, ==, second);
  g_assert_cmpstr (run->experiment, ==, "sweep");
  g_assert_cmpstr (run->task, ==, "train-classify");
  g_assert_cmpstr (run->model, ==, "hnp");
  g_assert_cmpstr (run->config_json, ==, "{\"optimizer\": {\"lr\": 0.01}}");
  g_assert_cmpuint (run->seed, ==, 3);
  g_assert_cmpint (run->status, ==, NFN_RUN_COMPLETED);
  g_assert_cmpint (run->started_us, >=, before);
  g_assert_cmpint (run->finished_us, >=, run->started_us);
  g_assert_cmpint (run->finished_us, <=, after);
  g_assert_cmpstr (run->code_version, ==, nfn_store_code_version ());
  g_assert_true (g_str_has_prefix (run->code_version, "0."));
  g_assert_cmpstr (run->host, ==, g_get_host_name ());
  g_assert_cmpint (run->pid, ==, getpid ());
  g_assert_cmpstr (run->summary_json, ==, "{\"test/accuracy\": 0.875, \"best_epoch\": 3}");

  g_autoptr (NfnRun) plain = nfn_store_get_run (store, first, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (plain->experiment, ==, "default");
  g_assert_cmpstr (plain->model, ==, "");
  g_assert_cmpuint (plain->seed, ==, big_seed);
  g_assert_cmpint (plain->status, ==, NFN_RUN_RUNNING); /* our own process: alive */
  g_assert_cmpint (plain->finished_us, ==, 0);
  g_assert_cmpstr (plain->summary_json, ==, "{}");

  g_autoptr (GPtrArray) metric_names = nfn_store_run_metric_names (store, second, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (metric_names->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (metric_names, 0), ==, "train/loss");
  g_assert_cmpstr (g_ptr_array_index (metric_names, 1), ==, "val/accuracy");

  g_autoptr (GArray) loss = nfn_store_run_metric (store, second, "train/loss", G_MININT64, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (loss->len, ==, 5);
  for (guint k = 0; k < 4; k++)
    {
      g_assert_cmpint (g_array_index (loss, NfnMetricPoint, k).step, ==, 10 * k);
      g_assert_cmpfloat (g_array_index (loss, NfnMetricPoint, k).value, ==, 10.0 - k);
    }
  g_assert_cmpint (g_array_index (loss, NfnMetricPoint, 4).step, ==, 40);
  g_assert_true (isnan (g_array_index (loss, NfnMetricPoint, 4).value));
  /* after_step is exclusive */
  g_autoptr (GArray) tail = nfn_store_run_metric (store, second, "val/accuracy", 20, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (tail->len, ==, 2);
  g_assert_cmpint (g_array_index (tail, NfnMetricPoint, 0).step, ==, 30);
  g_assert_cmpfloat (g_array_index (tail, NfnMetricPoint, 0).value, ==, 0.1 * 3);
  g_assert_cmpfloat (g_array_index (tail, NfnMetricPoint, 1).value, ==, 0.75);
  g_autoptr (GArray) none = nfn_store_run_metric (store, second, "no-such-metric", G_MININT64, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (none->len, ==, 0);

  g_autoptr (GPtrArray) artifacts = nfn_store_run_artifacts (store, second, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (artifacts->len, ==, 2);
  NfnArtifact *model = g_ptr_array_index (artifacts, 0), *figure = g_ptr_array_index (artifacts, 1);
  g_assert_cmpstr (model->kind, ==, "model");
  g_assert_cmpstr (model->path, ==, "/tmp/m.safetensors");
  g_assert_cmpstr (model->description, ==, "best model");
  g_assert_cmpstr (figure->kind, ==, "figure");
  g_assert_cmpstr (figure->description, ==, "");
  g_assert_cmpint (model->created_us, >=, before);
  g_assert_cmpint (figure->id, >, model->id);

  /* newest first; the filter keeps one task */
  g_autoptr (GPtrArray) all = nfn_store_list_runs (store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 2);
  g_assert_cmpint (((NfnRun *) g_ptr_array_index (all, 0))->id, ==, second);
  g_assert_cmpint (((NfnRun *) g_ptr_array_index (all, 1))->id, ==, first);
  g_autoptr (GPtrArray) fits = nfn_store_list_runs (store, "zoo-fit", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (fits->len, ==, 1);
  g_assert_cmpint (((NfnRun *) g_ptr_array_index (fits, 0))->id, ==, first);

  /* the same facts seen through SQL on another connection */
  sqlite3 *db = raw_open (f->path);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM metrics"), ==, 10);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM metrics WHERE value IS NULL"), ==, 1);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM experiments"), ==, 2);
  g_autofree char *status = raw_text (db, "SELECT status FROM runs ORDER BY id DESC LIMIT 1");
  g_assert_cmpstr (status, ==, "completed");
  sqlite3_close (db);

  /* faults name the store and the run */
  g_autofree char *no_run = g_strdup_printf ("no run %d", 999);
  g_assert_null (nfn_store_get_run (store, 999, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_NOT_FOUND, f->path, no_run);
  g_clear_error (&error);
  g_assert_false (nfn_store_run_log (store, 999, 0, 2, names, again, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_NOT_FOUND, f->path, no_run);
  g_clear_error (&error);
  g_assert_false (nfn_store_run_finish (store, 999, NFN_RUN_FAILED, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_NOT_FOUND, f->path, no_run);
  g_clear_error (&error);
  g_assert_false (nfn_store_run_add_artifact (store, 999, "model", "x", NULL, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_NOT_FOUND, f->path, no_run);
  g_clear_error (&error);
  g_assert_false (nfn_store_run_set_summary (store, second, "[1, 2]", &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, f->path, "run summary is not a JSON object");
  g_clear_error (&error);
  g_assert_cmpint (nfn_store_run_begin (store, NULL, "t", NULL, "{lr: ", 0, &error), ==, 0);
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, f->path, "run config is not valid JSON");
  g_clear_error (&error);
  /* a failed write leaves nothing behind, and the store keeps working */
  g_autoptr (GPtrArray) still = nfn_store_list_runs (store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (still->len, ==, 2);
  g_assert_true (nfn_store_run_finish (store, first, NFN_RUN_CANCELLED, &error));
  g_assert_no_error (error);
}

static void
test_zoo_round_trip (fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnStore) store = nfn_store_open (f->path, FALSE, &error);
  g_assert_no_error (error);
  g_autofree char *zoo_dir = g_build_filename (f->dir, "fmnist-train", NULL);
  const char *arch = "{\"kind\": \"siren\", \"widths\": [2, 32, 32, 1]}";
  gint64 zoo = nfn_store_zoo_register (store, NULL, zoo_dir, arch, "fashion-mnist", "train", &error);
  g_assert_no_error (error);
  g_assert_cmpint (zoo, >, 0);
  /* the same directory spelled differently is the same zoo (how a resumed fit finds it) */
  g_autofree char *spelled = g_build_filename (f->dir, ".", "sub", "..", "fmnist-train", NULL);
  g_assert_cmpint (nfn_store_zoo_register (store, "other-name", spelled, arch, "fashion-mnist", "train", &error), ==, zoo);
  g_assert_no_error (error);
  g_autofree char *elsewhere = g_build_filename (f->dir, "elsewhere", NULL);
  g_assert_cmpint (nfn_store_zoo_register (store, "fmnist-train", elsewhere, arch, "mnist", "test", &error), ==, 0);
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, f->path, "\"fmnist-train\" is already registered");
  g_clear_error (&error);
  gint64 digits = nfn_store_zoo_register (store, "digits", elsewhere, NULL, "mnist", "test", &error);
  g_assert_no_error (error);

  gint64 index[] = { 0, 1, 2, 3 }, source[] = { 100, 101, 102, 103 };
  int label[] = { 9, 0, 0, 3 };
  double psnr[] = { 31.5, 28.25, NAN, 40.0 };
  g_assert_true (nfn_store_zoo_add_networks (store, zoo, 4, index, source, label, psnr, "shard-00000.safetensors", &error));
  g_assert_no_error (error);
  /* re-adding index 2 (a refit) replaces it */
  double refit = 33.0;
  g_assert_true (nfn_store_zoo_add_networks (store, zoo, 1, &index[2], &source[2], &label[2], &refit, "shard-00001.safetensors", &error));
  g_assert_no_error (error);
  g_assert_false (nfn_store_zoo_add_networks (store, 4242, 1, index, source, label, psnr, "s", &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_NOT_FOUND, f->path, "no zoo 4242");
  g_clear_error (&error);

  g_autoptr (GArray) networks = nfn_store_zoo_networks (store, zoo, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (networks->len, ==, 4);
  for (guint k = 0; k < 4; k++)
    {
      NfnZooNetwork *n = &g_array_index (networks, NfnZooNetwork, k);
      g_assert_cmpint (n->index, ==, index[k]);
      g_assert_cmpint (n->source_index, ==, source[k]);
      g_assert_cmpint (n->label, ==, label[k]);
      g_assert_cmpfloat (n->quality, ==, k == 2 ? refit : psnr[k]);
      g_assert_cmpstr (n->shard, ==, k == 2 ? "shard-00001.safetensors" : "shard-00000.safetensors");
    }

  g_autoptr (GPtrArray) zoos = nfn_store_list_zoos (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (zoos->len, ==, 2);
  NfnZoo *first = g_ptr_array_index (zoos, 0); /* by name: digits, fmnist-train */
  g_assert_cmpstr (first->name, ==, "digits");
  g_assert_cmpint (first->id, ==, digits);
  g_assert_cmpint (first->networks, ==, 0);
  g_assert_cmpstr (first->arch_json, ==, "{}");

  g_autoptr (NfnZoo) by_name = nfn_store_find_zoo (store, "fmnist-train", &error);
  g_assert_no_error (error);
  g_assert_cmpint (by_name->id, ==, zoo);
  g_assert_cmpstr (by_name->path, ==, zoo_dir);
  g_assert_cmpstr (by_name->arch_json, ==, arch);
  g_assert_cmpstr (by_name->dataset, ==, "fashion-mnist");
  g_assert_cmpstr (by_name->split, ==, "train");
  g_assert_cmpint (by_name->networks, ==, 4);
  g_assert_cmpint (by_name->created_us, >, 0);
  g_autoptr (NfnZoo) by_path = nfn_store_find_zoo (store, spelled, &error);
  g_assert_no_error (error);
  g_assert_cmpint (by_path->id, ==, zoo);
  g_assert_null (nfn_store_find_zoo (store, "nope", &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_NOT_FOUND, f->path, "no zoo nope");
  g_clear_error (&error);

  sqlite3 *db = raw_open (f->path);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM zoo_networks"), ==, 4);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM zoo_networks WHERE quality IS NULL"), ==, 0);
  sqlite3_close (db);
}

/* Closing and opening again (for writing and read-only) keeps everything. */
static void
test_reopen (fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 run;
  {
    g_autoptr (NfnStore) store = nfn_store_open (f->path, FALSE, &error);
    g_assert_no_error (error);
    run = nfn_store_run_begin (store, "e", "zoo-fit", "siren", "{\"a\": 1}", 11, &error);
    double value = 2.5;
    const char *name = "psnr";
    g_assert_true (nfn_store_run_log (store, run, 7, 1, &name, &value, &error));
    g_assert_true (nfn_store_run_finish (store, run, NFN_RUN_FAILED, &error));
    g_assert_no_error (error);
  }
  for (int read_only = 0; read_only <= 1; read_only++)
    {
      g_autoptr (NfnStore) store = nfn_store_open (f->path, read_only, &error);
      g_assert_no_error (error);
      g_autoptr (NfnRun) r = nfn_store_get_run (store, run, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (r->task, ==, "zoo-fit");
      g_assert_cmpstr (r->config_json, ==, "{\"a\": 1}");
      g_assert_cmpint (r->status, ==, NFN_RUN_FAILED);
      g_autoptr (GArray) psnr = nfn_store_run_metric (store, run, "psnr", G_MININT64, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (psnr->len, ==, 1);
      g_assert_cmpint (g_array_index (psnr, NfnMetricPoint, 0).step, ==, 7);
      g_assert_cmpfloat (g_array_index (psnr, NfnMetricPoint, 0).value, ==, 2.5);
    }
}

/* ---- crash safety ---- */

/* (1) A writer SIGKILLed at several points: the file is sound, every step it reported as
 * committed is there with its values, and the run reads as interrupted (and is marked so). */
static void
test_killed_writer (fixture *f, gconstpointer data)
{
  const gint64 kill_after[] = { 0, 17, 120 };
  for (guint k = 0; k < G_N_ELEMENTS (kill_after); k++)
    {
      writer w = writer_start (f->path, G_MAXINT64, 0);
      gint64 step = -1, last = -1;
      while (last < kill_after[k] && writer_next_step (&w, &step))
        last = step;
      g_assert_cmpint (last, ==, kill_after[k]);
      g_assert_cmpint (kill (w.pid, SIGKILL), ==, 0);
      /* steps reported between our read and the kill were committed too */
      while (writer_next_step (&w, &step))
        last = step;
      int status = writer_wait (&w); /* reaped: a zombie would still look alive */
      g_assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);

      g_autoptr (GError) error = NULL;
      g_autoptr (NfnStore) store = nfn_store_open (f->path, FALSE, &error);
      g_assert_no_error (error);
      sqlite3 *db = raw_open (f->path);
      g_autofree char *integrity = raw_text (db, "PRAGMA integrity_check");
      g_assert_cmpstr (integrity, ==, "ok");
      g_autofree char *sql = g_strdup_printf ("SELECT status FROM runs WHERE id = %" G_GINT64_FORMAT, w.run);
      g_autofree char *marked = raw_text (db, sql);
      g_assert_cmpstr (marked, ==, "interrupted");
      g_autofree char *max_sql = g_strdup_printf ("SELECT max(step) FROM metrics WHERE run_id = %" G_GINT64_FORMAT, w.run);
      /* the kill may land after a COMMIT and before its report: at most one step more */
      gint64 stored_last = raw_int (db, max_sql);
      g_assert_cmpint (stored_last, >=, last);
      g_assert_cmpint (stored_last, <=, last + 1);
      sqlite3_close (db);

      g_autoptr (NfnRun) run = nfn_store_get_run (store, w.run, &error);
      g_assert_no_error (error);
      g_assert_cmpint (run->status, ==, NFN_RUN_INTERRUPTED);
      g_assert_cmpint (run->pid, ==, w.pid);
      assert_writer_series (store, w.run, stored_last);
      g_test_message ("killed after step %" G_GINT64_FORMAT ": %" G_GINT64_FORMAT " steps reported, %" G_GINT64_FORMAT " stored",
                      kill_after[k], last + 1, stored_last + 1);
    }
}

/* Only a dead writer on this host is marked: a live one (us) and another machine's are not.
 * Read-only opens show the dead writer's run as interrupted but do not write it. */
static void
test_interrupted_marking (fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 live, remote, dead;
  {
    g_autoptr (NfnStore) store = nfn_store_open (f->path, FALSE, &error);
    g_assert_no_error (error);
    live = nfn_store_run_begin (store, NULL, "t", NULL, NULL, 0, &error);
    remote = nfn_store_run_begin (store, NULL, "t", NULL, NULL, 0, &error);
    dead = nfn_store_run_begin (store, NULL, "t", NULL, NULL, 0, &error);
    g_assert_no_error (error);
  }
  pid_t child = fork ();
  if (child == 0)
    _exit (0);
  g_assert_cmpint (waitpid (child, NULL, 0), ==, child); /* a pid that is surely dead now */
  sqlite3 *db = raw_open (f->path);
  g_autofree char *sql
    = g_strdup_printf ("UPDATE runs SET host = 'elsewhere.example' WHERE id = %" G_GINT64_FORMAT ";"
                       "UPDATE runs SET pid = %d WHERE id = %" G_GINT64_FORMAT ";",
                       remote, (int) child, dead);
  raw_exec (db, sql);

  const gint64 ids[] = { live, remote, dead };
  const char *const raw_status_sql = "SELECT group_concat(status, ',') FROM (SELECT status FROM runs ORDER BY id)";
  {
    g_autoptr (NfnStore) viewer = nfn_store_open (f->path, TRUE, &error);
    g_assert_no_error (error);
    const NfnRunStatus shown[] = { NFN_RUN_RUNNING, NFN_RUN_RUNNING, NFN_RUN_INTERRUPTED };
    for (int k = 0; k < 3; k++)
      {
        g_autoptr (NfnRun) run = nfn_store_get_run (viewer, ids[k], &error);
        g_assert_no_error (error);
        g_assert_cmpint (run->status, ==, shown[k]);
      }
    g_autofree char *raw = raw_text (db, raw_status_sql);
    g_assert_cmpstr (raw, ==, "running,running,running");
  }
  g_autoptr (NfnStore) writer_store = nfn_store_open (f->path, FALSE, &error);
  g_assert_no_error (error);
  g_autofree char *raw = raw_text (db, raw_status_sql);
  g_assert_cmpstr (raw, ==, "running,running,interrupted");
  sqlite3_close (db);
}

/* (2) A reader polls the series with after_step while another process appends: every poll
 * succeeds, returns only new steps in order, and the reader ends with every step. */
static void
test_reader_while_writing (fixture *f, gconstpointer data)
{
  const gint64 steps = 600;
  writer w = writer_start (f->path, steps, 300);
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnStore) reader = nfn_store_open (f->path, TRUE, &error);
  g_assert_no_error (error);
  /* opening for writing does not wait on the live writer either */
  g_autoptr (NfnStore) second = nfn_store_open (f->path, FALSE, &error);
  g_assert_no_error (error);

  gint64 seen[WRITER_METRICS] = { -1, -1, -1 };
  int polls = 0, growing_polls = 0;
  gboolean writer_done = FALSE;
  for (;;)
    {
      gboolean grew = FALSE;
      for (int m = 0; m < WRITER_METRICS; m++)
        {
          g_autoptr (GArray) fresh = nfn_store_run_metric (m % 2 ? second : reader, w.run, writer_names[m], seen[m], &error);
          g_assert_no_error (error);
          for (guint k = 0; k < fresh->len; k++)
            {
              NfnMetricPoint *p = &g_array_index (fresh, NfnMetricPoint, k);
              double values[WRITER_METRICS];
              writer_values (p->step, values);
              g_assert_cmpint (p->step, ==, seen[m] + 1);
              g_assert_cmpfloat (p->value, ==, values[m]);
              seen[m] = p->step;
            }
          grew |= fresh->len > 0;
        }
      polls++;
      growing_polls += grew;
      if (writer_done)
        break;
      g_autoptr (NfnRun) run = nfn_store_get_run (reader, w.run, &error);
      g_assert_no_error (error);
      /* finished: one more poll sees the last steps */
      writer_done = run->status == NFN_RUN_COMPLETED;
      if (!writer_done)
        g_assert_cmpint (run->status, ==, NFN_RUN_RUNNING);
      g_usleep (2000);
    }
  g_assert_cmpint (WEXITSTATUS (writer_wait (&w)), ==, 0);
  for (int m = 0; m < WRITER_METRICS; m++)
    g_assert_cmpint (seen[m], ==, steps - 1);
  g_test_message ("%d polls, %d saw new steps", polls, growing_polls);
  /* the reader really ran beside the writer, not after it */
  g_assert_cmpint (growing_polls, >=, 10);
}

/* (3) Another connection holds the write lock: a write fails with the clear error after the
 * busy timeout, not before and not never; readers and a new open are not blocked. */
static void
test_locked (fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnStore) store = nfn_store_open (f->path, FALSE, &error);
  g_assert_no_error (error);
  gint64 run = nfn_store_run_begin (store, NULL, "t", NULL, NULL, 0, &error);
  g_assert_no_error (error);

  sqlite3 *holder = raw_open (f->path);
  raw_exec (holder, "BEGIN EXCLUSIVE");
  const char *name = "loss";
  double value = 1.0;
  gint64 start = g_get_monotonic_time ();
  g_assert_false (nfn_store_run_log (store, run, 0, 1, &name, &value, &error));
  double waited_ms = (double) (g_get_monotonic_time () - start) / 1000.0;
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_IO, f->path, "database is locked by another process");
  g_clear_error (&error);
  g_test_message ("locked write failed after %.0f ms (busy timeout %d ms)", waited_ms, NFN_STORE_BUSY_TIMEOUT_MS);
  g_assert_cmpfloat (waited_ms, >=, 0.9 * NFN_STORE_BUSY_TIMEOUT_MS);
  g_assert_cmpfloat (waited_ms, <, NFN_STORE_BUSY_TIMEOUT_MS + 2000.0);

  g_autoptr (NfnStore) other = nfn_store_open (f->path, FALSE, &error);
  g_assert_no_error (error);
  g_autoptr (NfnRun) seen = nfn_store_get_run (other, run, &error);
  g_assert_no_error (error);

  raw_exec (holder, "ROLLBACK");
  sqlite3_close (holder);
  g_assert_true (nfn_store_run_log (store, run, 0, 1, &name, &value, &error));
  g_assert_no_error (error);
}

/* (4) read_only = TRUE opens with SQLITE_OPEN_READONLY: every write is refused by SQLite itself
 * with "database is read-only", and the file is not touched. (Tests run as root, for whom a
 * 0444 file is writable, so file permissions are not what this checks.) */
static void
test_read_only (fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 run;
  {
    g_autoptr (NfnStore) store = nfn_store_open (f->path, FALSE, &error);
    g_assert_no_error (error);
    run = nfn_store_run_begin (store, NULL, "t", NULL, NULL, 0, &error);
    g_assert_no_error (error);
  }
  g_autoptr (GBytes) before = file_bytes (f->path);
  g_autoptr (NfnStore) store = nfn_store_open (f->path, TRUE, &error);
  g_assert_no_error (error);
  const char *name = "loss";
  double value = 1.0;
  gint64 index = 0;
  int label = 0;

  g_assert_cmpint (nfn_store_run_begin (store, NULL, "t", NULL, NULL, 0, &error), ==, 0);
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_IO, f->path, "database is read-only");
  g_clear_error (&error);
  g_assert_false (nfn_store_run_log (store, run, 0, 1, &name, &value, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_IO, f->path, "database is read-only");
  g_clear_error (&error);
  g_assert_false (nfn_store_run_set_summary (store, run, "{}", &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_IO, f->path, "database is read-only");
  g_clear_error (&error);
  g_assert_false (nfn_store_run_finish (store, run, NFN_RUN_COMPLETED, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_IO, f->path, "database is read-only");
  g_clear_error (&error);
  g_assert_cmpint (nfn_store_zoo_register (store, "z", f->dir, NULL, NULL, NULL, &error), ==, 0);
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_IO, f->path, "database is read-only");
  g_clear_error (&error);
  g_assert_false (nfn_store_zoo_add_networks (store, 1, 1, &index, &index, &label, &value, "s", &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_IO, f->path, "database is read-only");
  g_clear_error (&error);

  g_autoptr (NfnRun) unchanged = nfn_store_get_run (store, run, &error);
  g_assert_no_error (error);
  g_assert_cmpint (unchanged->status, ==, NFN_RUN_RUNNING);
  g_clear_pointer (&store, nfn_store_close);
  g_autoptr (GBytes) after = file_bytes (f->path);
  g_assert_true (g_bytes_equal (before, after));

  /* a store that does not exist is not created by a read-only open */
  g_autofree char *missing = g_build_filename (f->dir, "missing.sqlite", NULL);
  g_assert_null (nfn_store_open (missing, TRUE, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_IO, missing, "cannot open the database");
  g_clear_error (&error);
  g_assert_false (g_file_test (missing, G_FILE_TEST_EXISTS));
}

/* (5) user_version above ours: refused, for writing and for reading, and not a byte changes. */
static void
test_newer_schema (fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  {
    g_autoptr (NfnStore) store = nfn_store_open (f->path, FALSE, &error);
    g_assert_no_error (error);
    nfn_store_run_begin (store, NULL, "t", NULL, NULL, 0, &error);
    g_assert_no_error (error);
  }
  sqlite3 *db = raw_open (f->path);
  raw_exec (db, "PRAGMA user_version = 99; PRAGMA wal_checkpoint(TRUNCATE)");
  sqlite3_close (db);
  g_autoptr (GBytes) before = file_bytes (f->path);
  g_autofree char *expected
    = g_strdup_printf ("%s: written by a newer nfn (schema 99, this build reads up to %d); upgrade nfn-workbench", f->path,
                       nfn_store_schema_version ());
  for (int read_only = 0; read_only <= 1; read_only++)
    {
      g_assert_null (nfn_store_open (f->path, read_only, &error));
      g_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED);
      g_assert_cmpstr (error->message, ==, expected);
      g_clear_error (&error);
    }
  g_autoptr (GBytes) after = file_bytes (f->path);
  g_assert_true (g_bytes_equal (before, after));
}

/* (6) A file that is not SQLite, or another program's SQLite file: a clear error, unchanged. */
static void
test_not_a_database (fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) text = g_string_new (NULL);
  for (int k = 0; k < 200; k++)
    g_string_append (text, "step,name,value\n");
  const char *contents[] = { "hello\n", text->str };
  for (guint c = 0; c < G_N_ELEMENTS (contents); c++)
    {
      g_assert_true (g_file_set_contents (f->path, contents[c], -1, NULL));
      for (int read_only = 0; read_only <= 1; read_only++)
        {
          g_assert_null (nfn_store_open (f->path, read_only, &error));
          g_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT);
          g_autofree char *expected = g_strdup_printf ("%s: not an nfn experiment store (file is not a database)", f->path);
          g_assert_cmpstr (error->message, ==, expected);
          g_clear_error (&error);
        }
      g_autoptr (GBytes) after = file_bytes (f->path);
      g_assert_cmpmem (g_bytes_get_data (after, NULL), g_bytes_get_size (after), contents[c], strlen (contents[c]));
    }

  g_unlink (f->path);
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open (f->path, &db), ==, SQLITE_OK);
  raw_exec (db, "CREATE TABLE runs (x); INSERT INTO runs VALUES (1)");
  sqlite3_close (db);
  g_autoptr (GBytes) before = file_bytes (f->path);
  g_assert_null (nfn_store_open (f->path, FALSE, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, f->path, "not an nfn experiment store (a SQLite database of another program)");
  g_clear_error (&error);
  g_autoptr (GBytes) after = file_bytes (f->path);
  g_assert_true (g_bytes_equal (before, after));
}


/* ---- rename, delete, metric summaries (the experiment browser's needs) ---- */

static void
test_rename_delete (fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnStore) store = nfn_store_open (f->path, FALSE, &error);
  g_assert_no_error (error);
  gint64 keep = nfn_store_run_begin (store, NULL, "zoo-fit", NULL, NULL, 0, &error);
  gint64 doomed = nfn_store_run_begin (store, NULL, "train-classify", "np", NULL, 0, &error);
  g_assert_no_error (error);
  const char *names[] = { "loss" };
  for (gint64 step = 0; step < 4; step++)
    {
      double value = (double) step;
      g_assert_true (nfn_store_run_log (store, keep, step, 1, names, &value, &error));
      g_assert_true (nfn_store_run_log (store, doomed, step, 1, names, &value, &error));
    }
  g_assert_true (nfn_store_run_add_artifact (store, doomed, "model", "/tmp/m.safetensors", NULL, &error));
  g_assert_no_error (error);

  /* a fresh run has no name; a name is trimmed and persists; "" takes it away again */
  g_autoptr (NfnRun) fresh = nfn_store_get_run (store, keep, &error);
  g_assert_cmpstr (fresh->name, ==, "");
  g_assert_true (nfn_store_run_rename (store, keep, "  baseline, lr 1e-3 ", &error));
  g_assert_no_error (error);
  g_assert_false (nfn_store_run_rename (store, 999, "x", &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_NOT_FOUND, f->path, "no run 999");
  g_clear_error (&error);

  /* a run whose writer (this process) is alive is refused, and nothing goes */
  g_assert_false (nfn_store_run_delete (store, doomed, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, f->path, "still running");
  g_clear_error (&error);
  g_assert_true (nfn_store_run_finish (store, doomed, NFN_RUN_FAILED, &error));
  g_assert_true (nfn_store_run_delete (store, doomed, &error));
  g_assert_no_error (error);
  g_assert_false (nfn_store_run_delete (store, doomed, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_NOT_FOUND, f->path, "no run");
  g_clear_error (&error);
  g_assert_true (nfn_store_run_finish (store, keep, NFN_RUN_COMPLETED, &error));
  g_clear_pointer (&store, nfn_store_close);

  /* what a second connection sees after reopening: the name, and no trace of the deleted run */
  sqlite3 *db = raw_open (f->path);
  g_autofree char *name = raw_text (db, "SELECT name FROM runs WHERE id = 1");
  g_assert_cmpstr (name, ==, "baseline, lr 1e-3");
  g_autofree char *gone = g_strdup_printf ("SELECT (SELECT count(*) FROM runs WHERE id = %" G_GINT64_FORMAT ")"
                                           " + (SELECT count(*) FROM metrics WHERE run_id = %" G_GINT64_FORMAT ")"
                                           " + (SELECT count(*) FROM artifacts WHERE run_id = %" G_GINT64_FORMAT ")",
                                           doomed, doomed, doomed);
  g_assert_cmpint (raw_int (db, gone), ==, 0);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM metrics"), ==, 4);
  sqlite3_close (db);

  store = nfn_store_open (f->path, TRUE, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) runs = nfn_store_list_runs (store, NULL, &error);
  g_assert_cmpuint (runs->len, ==, 1);
  g_assert_cmpstr (((NfnRun *) runs->pdata[0])->name, ==, "baseline, lr 1e-3");
  g_clear_pointer (&store, nfn_store_close);
  store = nfn_store_open (f->path, FALSE, &error);
  g_assert_true (nfn_store_run_rename (store, keep, "", &error));
  g_autoptr (NfnRun) unnamed = nfn_store_get_run (store, keep, &error);
  g_assert_cmpstr (unnamed->name, ==, "");
}

/* A store of schema 1 (no run names) migrates to 2 on opening for writing, keeping its runs. */
static void
test_migrate_1_to_2 (fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  NfnStore *store = nfn_store_open (f->path, FALSE, &error);
  g_assert_no_error (error);
  gint64 run = nfn_store_run_begin (store, NULL, "zoo-fit", NULL, "{\"steps\": 20}", 7, &error);
  g_assert_true (nfn_store_run_finish (store, run, NFN_RUN_COMPLETED, &error));
  nfn_store_close (store);
  /* what version 1 wrote: the same tables without runs.name */
  sqlite3 *db = raw_open (f->path);
  raw_exec (db, "ALTER TABLE runs DROP COLUMN name; PRAGMA user_version = 1");
  sqlite3_close (db);

  g_assert_null (nfn_store_open (f->path, TRUE, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, f->path, "open it once for writing");
  g_clear_error (&error);
  store = nfn_store_open (f->path, FALSE, &error);
  g_assert_no_error (error);
  assert_tables (f->path);
  g_autoptr (NfnRun) kept = nfn_store_get_run (store, run, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (kept->name, ==, "");
  g_assert_cmpstr (kept->config_json, ==, "{\"steps\": 20}");
  g_assert_cmpint (kept->status, ==, NFN_RUN_COMPLETED);
  g_assert_true (nfn_store_run_rename (store, run, "old run", &error));
  g_assert_no_error (error);
  nfn_store_close (store);
}

/* Count and last point of every series, against the points logged (steps out of order, a NaN
 * last value, a replaced step). */
static void
test_metric_summaries (fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnStore) store = nfn_store_open (f->path, FALSE, &error);
  gint64 run = nfn_store_run_begin (store, NULL, "t", NULL, NULL, 0, &error);
  gint64 other = nfn_store_run_begin (store, NULL, "t", NULL, NULL, 0, &error);
  g_assert_no_error (error);
  const gint64 steps[] = { 5, 1, 9, 3, 9 };
  for (guint k = 0; k < G_N_ELEMENTS (steps); k++)
    {
      const char *names[] = { "b/loss", "a/acc" };
      double values[] = { 10.0 * k, k == 4 ? NAN : (double) k };
      g_assert_true (nfn_store_run_log (store, run, steps[k], k < 3 ? 2 : 1, names, values, &error));
    }
  double value = 42;
  const char *name = "b/loss";
  g_assert_true (nfn_store_run_log (store, other, 100, 1, &name, &value, &error));
  g_assert_no_error (error);

  g_autoptr (GArray) summaries = nfn_store_run_metric_summaries (store, run, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (summaries->len, ==, 2);
  NfnMetricSummary *acc = &g_array_index (summaries, NfnMetricSummary, 0);
  NfnMetricSummary *loss = &g_array_index (summaries, NfnMetricSummary, 1);
  g_assert_cmpstr (acc->name, ==, "a/acc");
  g_assert_cmpint (acc->count, ==, 3);   /* steps 5, 1, 9 */
  g_assert_cmpint (acc->last_step, ==, 9);
  g_assert_cmpfloat (acc->last_value, ==, 2.0);
  g_assert_cmpstr (loss->name, ==, "b/loss");
  g_assert_cmpint (loss->count, ==, 4);  /* 5, 1, 9, 3 (9 replaced) */
  g_assert_cmpint (loss->last_step, ==, 9);
  g_assert_cmpfloat (loss->last_value, ==, 40.0);
  /* the same numbers from the series themselves */
  g_autoptr (GArray) series = nfn_store_run_metric (store, run, "b/loss", G_MININT64, &error);
  g_assert_cmpuint (series->len, ==, loss->count);
  g_assert_cmpint (g_array_index (series, NfnMetricPoint, series->len - 1).step, ==, loss->last_step);

  g_autoptr (GArray) empty = nfn_store_run_metric_summaries (store, 12345, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (empty->len, ==, 0);
}

/* ---- run reports: comparison sections and CSV ---- */

static void
test_report (fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnStore) store = nfn_store_open (f->path, FALSE, &error);
  gint64 a = nfn_store_run_begin (store, NULL, "train-classify", "np",
                                  "{\"lr\": 0.001, \"opt\": {\"wd\": 0, \"betas\": [0.9, 0.99]}, \"name\": \"\"}", 1, &error);
  gint64 b = nfn_store_run_begin (store, NULL, "train-classify", "hnp",
                                  "{\"lr\": 0.001, \"opt\": {\"wd\": 0.1, \"betas\": [0.9, 0.99]}, \"extra\": {}}", 1, &error);
  g_assert_no_error (error);
  const char *names[] = { "val, \"quoted\"", "loss" };
  double values[] = { 0.1, NAN };
  g_assert_true (nfn_store_run_log (store, a, 3, 2, names, values, &error));
  values[1] = 0.30000000000000004;
  g_assert_true (nfn_store_run_log (store, a, 7, 1, &names[1], &values[1], &error));

  g_autoptr (NfnRun) run_a = nfn_store_get_run (store, a, &error);
  g_autoptr (NfnRun) run_b = nfn_store_get_run (store, b, &error);
  g_autoptr (JsonNode) config_a = nfn_run_parse_object (run_a->config_json);
  g_autoptr (JsonNode) config_b = nfn_run_parse_object (run_b->config_json);
  g_autoptr (NfnRunSection) section = nfn_run_section_new ("config");
  nfn_run_section_add (section, config_a);
  nfn_run_section_add (section, config_b);
  /* flattened, sorted, an empty object a leaf, an array one value */
  const char *keys[] = { "extra", "lr", "name", "opt.betas", "opt.wd" };
  g_assert_cmpuint (section->keys->len, ==, G_N_ELEMENTS (keys));
  for (guint k = 0; k < G_N_ELEMENTS (keys); k++)
    g_assert_cmpstr (section->keys->pdata[k], ==, keys[k]);
  const gboolean equal[] = { FALSE, TRUE, FALSE, TRUE, FALSE };
  for (guint k = 0; k < G_N_ELEMENTS (keys); k++)
    g_assert_cmpint (nfn_run_section_key_equal (section, keys[k]), ==, equal[k]);
  g_assert_null (nfn_run_section_get (section, 0, "extra"));
  g_autofree char *wd = nfn_run_format_value (nfn_run_section_get (section, 1, "opt.wd"));
  g_autofree char *empty = nfn_run_format_value (nfn_run_section_get (section, 0, "name"));
  g_autofree char *betas = nfn_run_format_value (nfn_run_section_get (section, 0, "opt.betas"));
  g_assert_cmpstr (wd, ==, "0.1");
  g_assert_cmpstr (empty, ==, "\"\"");
  /* json-glib writes doubles with 17 digits: check the array reads back, not its spelling */
  g_autoptr (JsonNode) betas_node = json_from_string (betas, NULL);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (betas_node));
  g_assert_cmpfloat (json_array_get_double_element (json_node_get_array (betas_node), 1), ==, 0.99);
  g_autoptr (JsonNode) garbage = nfn_run_parse_object ("[1, 2]");
  g_assert_true (JSON_NODE_HOLDS_OBJECT (garbage));

  g_assert_true (nfn_store_run_rename (store, b, "wide", &error));
  g_autoptr (NfnRun) renamed = nfn_store_get_run (store, b, &error);
  g_autofree char *name_a = nfn_run_display_name (run_a), *name_b = nfn_run_display_name (renamed);
  g_autofree char *expected_a = g_strdup_printf ("run %" G_GINT64_FORMAT, a);
  g_assert_cmpstr (name_a, ==, expected_a);
  g_assert_cmpstr (name_b, ==, "wide");

  guint points = 0;
  g_autofree char *csv = nfn_store_run_metrics_csv (store, a, &points, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (points, ==, 3);
  g_assert_cmpstr (csv, ==, "step,name,value\n3,loss,nan\n7,loss,0.30000000000000004\n3,\"val, \"\"quoted\"\"\",0.1\n");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(name, fn) g_test_add (name, fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/store/new-file", test_new_file);
  ADD ("/store/migrate-empty-file", test_migrate_empty_file);
  ADD ("/store/run-round-trip", test_run_round_trip);
  ADD ("/store/zoo-round-trip", test_zoo_round_trip);
  ADD ("/store/reopen", test_reopen);
  ADD ("/store/interrupted-marking", test_interrupted_marking);
  ADD ("/store/crash/killed-writer", test_killed_writer);
  ADD ("/store/crash/reader-while-writing", test_reader_while_writing);
  ADD ("/store/crash/locked", test_locked);
  ADD ("/store/crash/read-only", test_read_only);
  ADD ("/store/crash/newer-schema", test_newer_schema);
  ADD ("/store/crash/not-a-database", test_not_a_database);
  ADD ("/store/rename-delete", test_rename_delete);
  ADD ("/store/migrate-1-to-2", test_migrate_1_to_2);
  ADD ("/store/metric-summaries", test_metric_summaries);
  ADD ("/store/report", test_report);
#undef ADD
  return g_test_run ();
}
