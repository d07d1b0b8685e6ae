/* test-browser.c — the experiment browser on a fixture store written here through the store's
 * API: the table lists its rows, filters and sorts change them as the fixture says they must,
 * "differences only" hides the keys the fixture's configurations share, a row and points
 * appended by another connection appear while the browser polls, and delete and rename reach
 * the file (read back through a connection of the test's own).
 *
 * Expected values come from the fixture table below, not from the browser's code. */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "nfn-runs-browser.h"
#include "nfn_run_report.h"
#include "uitestutil.h"

typedef struct {
  const char *task, *model, *config, *summary;
  NfnRunStatus status;
  const char *metric; /* logged at steps 0 … points−1 with value scale/(step + 1) */
  int points;
  double scale;
} fixture_run;

/* Begun in this order, so ids are 1 … 5 and the newest (5) lists first. */
static const fixture_run fixture_runs[] = {
  { "zoo-fit", "siren", "{\"steps\": 20, \"lr\": 0.002}", "{\"psnr\": 21.5}", NFN_RUN_COMPLETED, "zoo/mean_psnr", 3, 20 },
  { "train-classify", "np", "{\"lr\": 0.001, \"epochs\": 10, \"opt\": {\"wd\": 0}}", "{\"test\": {\"accuracy\": 0.8}}",
    NFN_RUN_COMPLETED, "train/loss", 10, 1 },
  { "train-classify", "hnp", "{\"lr\": 0.001, \"epochs\": 20, \"opt\": {\"wd\": 0}}", "{}", NFN_RUN_FAILED,
    "train/loss", 6, 2 },
  { "train-classify", "hnp", "{\"lr\": 0.01, \"epochs\": 10, \"opt\": {\"wd\": 0}}", "{\"test\": {\"accuracy\": 0.9}}",
    NFN_RUN_COMPLETED, "train/loss", 10, 0.5 },
  { "train-edit", "", "{\"lr\": 0.001}", "{}", NFN_RUN_CANCELLED, NULL, 0, 0 },
};
enum { N_FIXTURE = G_N_ELEMENTS (fixture_runs) };

typedef struct {
  char *dir, *path;
  GtkWidget *window;
  NfnRunsBrowser *browser;
} fixture;

static void
write_run (NfnStore *store, const fixture_run *f, gboolean finish)
{
  g_autoptr (GError) error = NULL;
  gint64 id = nfn_store_run_begin (store, NULL, f->task, f->model, f->config, 0, &error);
  g_assert_no_error (error);
  for (int step = 0; step < f->points; step++)
    {
      double value = f->scale / (step + 1);
      g_assert_true (nfn_store_run_log (store, id, step, 1, &f->metric, &value, &error));
    }
  g_assert_true (nfn_store_run_set_summary (store, id, f->summary, &error));
  if (finish)
    g_assert_true (nfn_store_run_finish (store, id, f->status, &error));
  g_assert_no_error (error);
}

static void
fixture_setup (fixture *fx, gconstpointer data)
{
  fx->dir = g_dir_make_tmp ("nfn-browser-XXXXXX", NULL);
  fx->path = g_build_filename (fx->dir, "experiments.sqlite", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnStore) store = nfn_store_open (fx->path, FALSE, &error);
  g_assert_no_error (error);
  for (int r = 0; r < N_FIXTURE; r++)
    write_run (store, &fixture_runs[r], TRUE);

  fx->window = gtk_window_new ();
  gtk_window_set_default_size (GTK_WINDOW (fx->window), 1300, 800);
  fx->browser = NFN_RUNS_BROWSER (nfn_runs_browser_new ());
  gtk_window_set_child (GTK_WINDOW (fx->window), GTK_WIDGET (fx->browser));
  g_assert_true (nfn_runs_browser_set_store_path (fx->browser, fx->path, &error));
  g_assert_no_error (error);
  ut_present_and_wait (GTK_WINDOW (fx->window));
}

static void
fixture_teardown (fixture *fx, gconstpointer data)
{
  gtk_window_destroy (GTK_WINDOW (fx->window));
  ut_remove_tree (fx->dir);
  g_free (fx->dir);
  g_free (fx->path);
}

/* The ids the table shows, in order, as "5 4 3 2 1". */
static char *
shown_ids (fixture *fx)
{
  GListModel *rows = nfn_runs_browser_get_rows (fx->browser);
  GString *text = g_string_new (NULL);
  for (guint k = 0; k < g_list_model_get_n_items (rows); k++)
    {
      g_autoptr (NfnRunRow) row = g_list_model_get_item (rows, k);
      g_string_append_printf (text, "%s%" G_GINT64_FORMAT, k ? " " : "", nfn_run_row_get_id (row));
    }
  return g_string_free (text, FALSE);
}

static void
assert_shown (fixture *fx, const char *expected)
{
  g_autofree char *ids = shown_ids (fx);
  g_test_message ("table: %s", ids);
  g_assert_cmpstr (ids, ==, expected);
}

/* The rows of the fixture, their statuses and tasks, newest first; then every filter. */
static void
test_table_and_filters (fixture *fx, gconstpointer data)
{
  assert_shown (fx, "5 4 3 2 1");
  GListModel *rows = nfn_runs_browser_get_rows (fx->browser);
  for (guint k = 0; k < N_FIXTURE; k++)
    {
      g_autoptr (NfnRunRow) row = g_list_model_get_item (rows, k);
      const fixture_run *f = &fixture_runs[N_FIXTURE - 1 - k];
      const NfnRun *run = nfn_run_row_get_run (row);
      g_assert_cmpstr (run->task, ==, f->task);
      g_assert_cmpstr (run->model, ==, f->model);
      g_assert_cmpint (run->status, ==, f->status);
      if (f->metric)
        g_assert_cmpfloat (nfn_run_row_get_last_value (row, f->metric), ==, f->scale / f->points);
    }

  nfn_runs_browser_set_task_filter (fx->browser, "train-classify");
  assert_shown (fx, "4 3 2");
  nfn_runs_browser_set_model_filter (fx->browser, "hnp");
  assert_shown (fx, "4 3");
  nfn_runs_browser_set_status_filter (fx->browser, "completed");
  assert_shown (fx, "4");
  nfn_runs_browser_set_task_filter (fx->browser, NULL);
  nfn_runs_browser_set_model_filter (fx->browser, NULL);
  assert_shown (fx, "4 2 1");
  nfn_runs_browser_set_status_filter (fx->browser, "no-such-status");
  assert_shown (fx, "");
  nfn_runs_browser_set_status_filter (fx->browser, NULL);

  /* text search: case-insensitive, over task, model, status, id */
  nfn_runs_browser_set_search (fx->browser, "EDIT");
  assert_shown (fx, "5");
  nfn_runs_browser_set_search (fx->browser, "fail");
  assert_shown (fx, "3");
  nfn_runs_browser_set_search (fx->browser, NULL);

  /* a metric: runs without it leave; a condition filters on its last value
   * (loss of 2: 1/10, of 3: 2/6, of 4: 0.5/10) */
  nfn_runs_browser_set_metric (fx->browser, "train/loss");
  assert_shown (fx, "4 3 2");
  nfn_runs_browser_set_search (fx->browser, "< 0.2");
  assert_shown (fx, "4 2");
  nfn_runs_browser_set_search (fx->browser, ">=0.1");
  assert_shown (fx, "3 2");
  nfn_runs_browser_set_search (fx->browser, NULL);
  nfn_runs_browser_set_metric (fx->browser, NULL);
  assert_shown (fx, "5 4 3 2 1");
}

static void
test_sort (fixture *fx, gconstpointer data)
{
  g_assert_true (nfn_runs_browser_sort_by (fx->browser, "id", FALSE));
  assert_shown (fx, "1 2 3 4 5");
  g_assert_true (nfn_runs_browser_sort_by (fx->browser, "task", FALSE));
  /* ties (three train-classify) keep newest first */
  assert_shown (fx, "4 3 2 5 1");
  g_assert_true (nfn_runs_browser_sort_by (fx->browser, "status", FALSE));
  /* cancelled < completed (4, 2, 1) < failed */
  assert_shown (fx, "5 4 2 1 3");
  nfn_runs_browser_set_metric (fx->browser, "train/loss");
  g_assert_true (nfn_runs_browser_sort_by (fx->browser, "metric", FALSE));
  assert_shown (fx, "4 2 3");
  g_assert_true (nfn_runs_browser_sort_by (fx->browser, "metric", TRUE));
  assert_shown (fx, "3 2 4");
  g_assert_false (nfn_runs_browser_sort_by (fx->browser, "no-such-column", FALSE));
}

static gboolean
has_key (GPtrArray *keys, const char *key)
{
  for (guint k = 0; k < keys->len; k++)
    if (g_str_equal (keys->pdata[k], key))
      return TRUE;
  return FALSE;
}

/* Runs 2, 3, 4 share lr? no: 2 and 3 share lr 0.001, 4 has 0.01; all share opt.wd and the task. */
static void
test_compare (fixture *fx, gconstpointer data)
{
  const gint64 ids[] = { 2, 3 };
  nfn_runs_browser_select_runs (fx->browser, ids, 2);
  g_autoptr (GArray) selected = nfn_runs_browser_get_selected (fx->browser);
  g_assert_cmpuint (selected->len, ==, 2);

  GPtrArray *keys = nfn_runs_browser_get_compare_keys (fx->browser);
  const char *all[] = { "run: task", "run: model", "run: status", "config: lr", "config: epochs", "config: opt.wd",
                        "summary: test.accuracy", "metrics: train/loss" };
  for (guint k = 0; k < G_N_ELEMENTS (all); k++)
    g_assert_true (has_key (keys, all[k]));

  nfn_runs_browser_set_differences_only (fx->browser, TRUE);
  keys = nfn_runs_browser_get_compare_keys (fx->browser);
  for (guint k = 0; k < keys->len; k++)
    g_test_message ("differs: %s", (const char *) keys->pdata[k]);
  /* the same in 2 and 3 */
  const char *hidden[] = { "run: task", "run: experiment", "run: seed", "config: lr", "config: opt.wd" };
  /* different, or missing from one */
  const char *shown[] = { "run: model", "run: status", "config: epochs", "summary: test.accuracy",
                          "metrics: train/loss" };
  for (guint k = 0; k < G_N_ELEMENTS (hidden); k++)
    g_assert_false (has_key (keys, hidden[k]));
  for (guint k = 0; k < G_N_ELEMENTS (shown); k++)
    g_assert_true (has_key (keys, shown[k]));
  g_assert_cmpuint (keys->len, ==, G_N_ELEMENTS (shown));

  /* both curves, overlaid, each with all its points */
  NfnPlot *plot = nfn_runs_browser_get_plot (fx->browser);
  g_assert_cmpint (nfn_plot_get_n_series (plot), ==, 2);
  g_assert_cmpint (nfn_plot_get_series_length (plot, 0), ==, fixture_runs[1].points);
  g_assert_cmpint (nfn_plot_get_series_length (plot, 1), ==, fixture_runs[2].points);

  /* adding run 4 (lr 0.01) makes lr differ; epochs 10, 20, 10 still differ */
  const gint64 three[] = { 2, 3, 4 };
  nfn_runs_browser_select_runs (fx->browser, three, 3);
  keys = nfn_runs_browser_get_compare_keys (fx->browser);
  g_assert_true (has_key (keys, "config: lr"));
  g_assert_false (has_key (keys, "config: opt.wd"));
  g_assert_cmpint (nfn_plot_get_n_series (plot), ==, 3);
}

typedef struct {
  fixture *fx;
  gint64 id;
  guint rows;
} live_wait;

static gboolean
rows_reach (gpointer data)
{
  live_wait *wait = data;
  return g_list_model_get_n_items (nfn_runs_browser_get_rows (wait->fx->browser)) >= wait->rows;
}

static gboolean
curve_reaches (gpointer data)
{
  live_wait *wait = data;
  NfnPlot *plot = nfn_runs_browser_get_plot (wait->fx->browser);
  return nfn_plot_get_n_series (plot) == 1 && nfn_plot_get_series_length (plot, 0) >= (int) wait->rows;
}

/* Another connection (as a CLI run would) begins a run and logs as it goes: the row appears
 * and its curve grows while the browser is on screen, without a call to the browser. */
static void
test_live (fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnStore) writer = nfn_store_open (fx->path, FALSE, &error);
  g_assert_no_error (error);
  const char *metric = "train/loss";
  gint64 id = nfn_store_run_begin (writer, NULL, "train-mask", "hnp", "{\"lr\": 0.003}", 0, &error);
  double value = 1;
  g_assert_true (nfn_store_run_log (writer, id, 0, 1, &metric, &value, &error));
  live_wait wait = { fx, id, N_FIXTURE + 1 };
  g_assert_true (ut_wait_for (rows_reach, &wait, 5));
  assert_shown (fx, "6 5 4 3 2 1");
  g_autoptr (NfnRunRow) row = g_list_model_get_item (nfn_runs_browser_get_rows (fx->browser), 0);
  g_assert_cmpint (nfn_run_row_get_run (row)->status, ==, NFN_RUN_RUNNING);

  nfn_runs_browser_select_runs (fx->browser, &id, 1);
  nfn_runs_browser_set_curve_metric (fx->browser, metric);
  NfnPlot *plot = nfn_runs_browser_get_plot (fx->browser);
  g_assert_cmpint (nfn_plot_get_series_length (plot, 0), ==, 1);
  for (gint64 step = 1; step < 4; step++)
    {
      value = 1.0 / (step + 1);
      g_assert_true (nfn_store_run_log (writer, id, step, 1, &metric, &value, &error));
    }
  wait.rows = 4;
  g_assert_true (ut_wait_for (curve_reaches, &wait, 5));
  g_assert_cmpfloat (nfn_run_row_get_last_value (row, metric), ==, 0.25);
  /* the selection survived the polls */
  g_autoptr (GArray) selected = nfn_runs_browser_get_selected (fx->browser);
  g_assert_cmpuint (selected->len, ==, 1);
  g_assert_cmpint (g_array_index (selected, gint64, 0), ==, id);

  g_assert_true (nfn_store_run_finish (writer, id, NFN_RUN_COMPLETED, &error));
  nfn_runs_browser_refresh (fx->browser);
  g_assert_cmpint (nfn_run_row_get_run (row)->status, ==, NFN_RUN_COMPLETED);
}

/* Rename and delete reach the file; a running run is not deleted; CSV has every point. */
static void
test_rename_delete_export (fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (nfn_runs_browser_rename_run (fx->browser, 2, "np baseline", &error));
  g_assert_no_error (error);
  g_assert_true (nfn_runs_browser_delete_run (fx->browser, 3, &error));
  g_assert_no_error (error);
  assert_shown (fx, "5 4 2 1");
  g_assert_false (nfn_runs_browser_delete_run (fx->browser, 3, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);

  g_autofree char *csv_path = g_build_filename (fx->dir, "run-2.csv", NULL);
  g_assert_true (nfn_runs_browser_export_csv (fx->browser, 2, csv_path, &error));
  g_assert_no_error (error);
  g_autofree char *csv = NULL;
  g_assert_true (g_file_get_contents (csv_path, &csv, NULL, NULL));
  g_auto (GStrv) lines = g_strsplit (csv, "\n", -1);
  g_assert_cmpstr (lines[0], ==, "step,name,value");
  g_assert_cmpuint (g_strv_length (lines), ==, 1 + fixture_runs[1].points + 1); /* trailing "" */
  for (int step = 0; step < fixture_runs[1].points; step++)
    {
      g_auto (GStrv) fields = g_strsplit (lines[1 + step], ",", -1);
      g_assert_cmpint (g_ascii_strtoll (fields[0], NULL, 10), ==, step);
      g_assert_cmpstr (fields[1], ==, "train/loss");
      g_assert_cmpfloat (g_ascii_strtod (fields[2], NULL), ==, fixture_runs[1].scale / (step + 1));
    }

  /* a run this process is writing cannot be deleted under it */
  g_autoptr (NfnStore) writer = nfn_store_open (fx->path, FALSE, &error);
  gint64 live = nfn_store_run_begin (writer, NULL, "zoo-fit", NULL, NULL, 0, &error);
  nfn_runs_browser_refresh (fx->browser);
  g_assert_false (nfn_runs_browser_delete_run (fx->browser, live, &error));
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "still running"));
  g_clear_error (&error);
  g_assert_true (nfn_store_run_finish (writer, live, NFN_RUN_CANCELLED, &error));
  g_clear_pointer (&writer, nfn_store_close);

  /* what another program sees in the file */
  gtk_window_destroy (GTK_WINDOW (fx->window));
  fx->window = gtk_window_new ();
  g_autoptr (NfnStore) reader = nfn_store_open (fx->path, TRUE, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) runs = nfn_store_list_runs (reader, NULL, &error);
  g_assert_cmpuint (runs->len, ==, N_FIXTURE); /* 5 − 1 deleted + 1 cancelled */
  for (guint k = 0; k < runs->len; k++)
    {
      NfnRun *run = runs->pdata[k];
      g_assert_cmpint (run->id, !=, 3);
      g_assert_cmpstr (run->name, ==, run->id == 2 ? "np baseline" : "");
    }
}

int
main (int argc, char **argv)
{
  gtk_test_init (&argc, &argv, NULL);
#define ADD(name, fn) g_test_add (name, fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/ui/browser/table-and-filters", test_table_and_filters);
  ADD ("/ui/browser/sort", test_sort);
  ADD ("/ui/browser/compare", test_compare);
  ADD ("/ui/browser/live", test_live);
  ADD ("/ui/browser/rename-delete-export", test_rename_delete_export);
#undef ADD
  return g_test_run ();
}
