/* test-tasks.c — the Tasks page runs `nfn zoo fit` on a worker thread: a tiny fit completes,
 * its run, zoo and networks are in the store and on disk (read back through the data layer,
 * not through the panel), the live curve has one point per shard, and a second run with more
 * images grows the zoo; a cancelled fit is marked cancelled and keeps only finished shards;
 * the main loop keeps turning meanwhile. */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "nfn-task-panel.h"
#include "uitestutil.h"

typedef struct {
  char *dir, *store_path, *zoo_dir;
  GtkWidget *window;
  NfnTaskPanel *panel;
} fixture;

static void
fixture_setup (fixture *fx, gconstpointer data)
{
  fx->dir = g_dir_make_tmp ("nfn-tasks-XXXXXX", NULL);
  fx->store_path = g_build_filename (fx->dir, "experiments.sqlite", NULL);
  fx->zoo_dir = g_build_filename (fx->dir, "zoo", NULL);
  fx->window = ut_task_panel_window (fx->store_path, 0, 0, &fx->panel);
}

static void
fixture_teardown (fixture *fx, gconstpointer data)
{
  gtk_window_destroy (GTK_WINDOW (fx->window));
  ut_remove_tree (fx->dir);
  g_free (fx->dir);
  g_free (fx->store_path);
  g_free (fx->zoo_dir);
}

static void
set_form (fixture *fx, int images, int steps, int shard_size)
{
  NfnZooSettings settings;
  nfn_zoo_settings_init (&settings);
  g_free (settings.split);
  settings.split = g_strdup ("test");
  settings.count = images;
  settings.steps = steps;
  settings.shard_size = shard_size;
  nfn_task_panel_set_zoo_fit (fx->panel, &settings, 1, fx->zoo_dir);
  nfn_zoo_settings_clear (&settings);
}

/* Counts main-loop turns while the worker fits: a frozen UI would count none. */
static gboolean
count_tick (gpointer data)
{
  (*(int *) data)++;
  return G_SOURCE_CONTINUE;
}

static void
test_zoo_fit (fixture *fx, gconstpointer data)
{
  set_form (fx, 4, 20, 2);
  g_autofree char *dir = nfn_task_panel_get_zoo_dir (fx->panel);
  g_assert_cmpstr (dir, ==, fx->zoo_dir);
  int ticks = 0;
  guint ticker = g_timeout_add (5, count_tick, &ticks);
  g_assert_true (nfn_task_panel_start (fx->panel));
  g_assert_true (nfn_task_panel_get_busy (fx->panel));
  g_assert_false (nfn_task_panel_start (fx->panel)); /* one task at a time */
  g_assert_true (ut_wait_for (ut_task_panel_idle, fx->panel, 60));
  g_source_remove (ticker);
  const char *status = nfn_task_panel_get_status (fx->panel);
  g_test_message ("%s (%d main-loop ticks meanwhile)", status, ticks);
  g_assert_true (g_str_has_prefix (status, "Completed: run "));
  g_assert_cmpfloat (nfn_task_panel_get_fraction (fx->panel), ==, 1.0);
  /* two shards of two networks: two points, at 2 and 4 networks */
  NfnPlot *plot = nfn_task_panel_get_plot (fx->panel);
  g_assert_cmpint (nfn_plot_get_n_series (plot), ==, 1);
  g_assert_cmpint (nfn_plot_get_series_length (plot, 0), ==, 2);

  /* the store has the run, its zoo and the four networks with their PSNRs */
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnStore) store = nfn_store_open (fx->store_path, TRUE, &error);
  g_assert_no_error (error);
  g_autoptr (NfnRun) run = nfn_store_get_run (store, nfn_task_panel_get_run_id (fx->panel), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (run->task, ==, "zoo-fit");
  g_assert_cmpint (run->status, ==, NFN_RUN_COMPLETED);
  g_autoptr (GArray) metrics = nfn_store_run_metric_summaries (store, run->id, &error);
  g_assert_cmpuint (metrics->len, >, 0);
  g_autoptr (NfnZoo) zoo = nfn_store_find_zoo (store, fx->zoo_dir, &error);
  g_assert_no_error (error);
  g_autoptr (GArray) networks = nfn_store_zoo_networks (store, zoo->id, &error);
  g_assert_cmpuint (networks->len, ==, 4);
  for (guint k = 0; k < networks->len; k++)
    {
      NfnZooNetwork *net = &g_array_index (networks, NfnZooNetwork, k);
      g_assert_cmpint (net->index, ==, k);
      g_assert_true (isfinite (net->quality) && net->quality > 5);
    }
  g_autoptr (NfnZooDir) on_disk = nfn_zoo_dir_open (fx->zoo_dir, &error);
  g_assert_no_error (error);
  g_assert_cmpint (nfn_zoo_dir_available (on_disk), ==, 4);
  g_assert_cmpint (nfn_zoo_dir_settings (on_disk)->steps, ==, 20);

  /* run again with more images: the zoo grows by their shard */
  set_form (fx, 6, 20, 2);
  g_assert_true (nfn_task_panel_start (fx->panel));
  g_assert_true (ut_wait_for (ut_task_panel_idle, fx->panel, 60));
  status = nfn_task_panel_get_status (fx->panel);
  g_test_message ("%s", status);
  g_assert_nonnull (strstr (status, " 6 networks in "));
  g_assert_nonnull (strstr (status, "(2 fitted now in "));
  g_assert_nonnull (strstr (status, ", grown from 4)"));
  g_autoptr (NfnZooDir) grown = nfn_zoo_dir_open (fx->zoo_dir, &error);
  g_assert_no_error (error);
  g_assert_cmpint (nfn_zoo_dir_available (grown), ==, 6);
}

static gboolean
some_progress (gpointer panel)
{
  return nfn_task_panel_get_fraction (panel) > 0 || !nfn_task_panel_get_busy (panel);
}

static void
test_cancel (fixture *fx, gconstpointer data)
{
  /* far more work than the test waits for: 2000 networks of 300 steps on one thread */
  set_form (fx, 2000, 300, 4);
  g_assert_true (nfn_task_panel_start (fx->panel));
  g_assert_true (ut_wait_for (some_progress, fx->panel, 30));
  g_assert_true (nfn_task_panel_get_busy (fx->panel));
  gint64 asked = g_get_monotonic_time ();
  nfn_task_panel_cancel (fx->panel);
  g_assert_true (ut_wait_for (ut_task_panel_idle, fx->panel, 30));
  double seconds = (g_get_monotonic_time () - asked) / 1e6;
  const char *status = nfn_task_panel_get_status (fx->panel);
  g_test_message ("%s (stopped %.2f s after Cancel)", status, seconds);
  g_assert_true (g_str_has_prefix (status, "Cancelled"));
  g_assert_cmpfloat (nfn_task_panel_get_fraction (fx->panel), <, 0.5);

  g_autoptr (GError) error = NULL;
  g_autoptr (NfnStore) store = nfn_store_open (fx->store_path, TRUE, &error);
  g_autoptr (GPtrArray) runs = nfn_store_list_runs (store, NULL, &error);
  g_assert_cmpuint (runs->len, ==, 1);
  g_assert_cmpint (((NfnRun *) runs->pdata[0])->status, ==, NFN_RUN_CANCELLED);
  g_autoptr (NfnZooDir) on_disk = nfn_zoo_dir_open (fx->zoo_dir, &error);
  g_assert_no_error (error);
  g_assert_cmpint (nfn_zoo_dir_available (on_disk) % 4, ==, 0); /* whole shards only */
  g_assert_cmpint (nfn_zoo_dir_available (on_disk), <, 2000);
}

/* A fit that cannot start says why (a data set split that does not exist). */
static void
test_failure (fixture *fx, gconstpointer data)
{
  NfnZooSettings settings;
  nfn_zoo_settings_init (&settings);
  g_free (settings.split);
  settings.split = g_strdup ("val"); /* fashion-mnist has train and test only */
  settings.count = 2;
  nfn_task_panel_set_zoo_fit (fx->panel, &settings, 1, fx->zoo_dir);
  nfn_zoo_settings_clear (&settings);
  g_assert_true (nfn_task_panel_start (fx->panel));
  g_assert_true (ut_wait_for (ut_task_panel_idle, fx->panel, 30));
  const char *status = nfn_task_panel_get_status (fx->panel);
  g_test_message ("%s", status);
  g_assert_true (g_str_has_prefix (status, "Failed: "));
  g_assert_nonnull (strstr (status, "val"));
}

/* Before any run the empty plot is titled for the chosen task (it said "PSNR" for every task). */
static void
test_plot_title (fixture *fx, gconstpointer data)
{
  NfnPlot *plot = nfn_task_panel_get_plot (fx->panel);
  g_assert_cmpstr (nfn_plot_get_title (plot), ==, "Mean PSNR of each finished shard");
  nfn_task_panel_set_task (fx->panel, NFN_TASK_KIND_MASK);
  g_assert_cmpstr (nfn_plot_get_title (plot), ==, "Training loss and validation metric");
  nfn_task_panel_set_task (fx->panel, NFN_TASK_KIND_ZOO_FIT);
  g_assert_cmpstr (nfn_plot_get_title (plot), ==, "Mean PSNR of each finished shard");
}

int
main (int argc, char **argv)
{
  gtk_test_init (&argc, &argv, NULL);
#define ADD(name, fn) g_test_add (name, fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/ui/tasks/zoo-fit", test_zoo_fit);
  ADD ("/ui/tasks/cancel", test_cancel);
  ADD ("/ui/tasks/failure", test_failure);
  ADD ("/ui/tasks/plot-title", test_plot_title);
#undef ADD
  return g_test_run ();
}
