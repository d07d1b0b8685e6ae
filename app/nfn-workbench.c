/* nfn-workbench.c — the GUI's entry point, GtkApplication org.nfn.Workbench.
 *
 *   nfn-workbench                          a window on the built-in sample network
 *   nfn-workbench FILE…                    a window per network: .safetensors, .npz, a zoo
 *                                          directory (its network 0) or a zoo entry DIR:INDEX
 *   nfn-workbench --tour                   the window on the teaching tour
 *   nfn-workbench --page explorer|equivariance|experiments|tasks|tour [--tour-step K]
 *       opens on that page (and tour step K, 1 … 6)
 *   nfn-workbench --db PATH                the experiment store (default: the XDG data dir)
 *   nfn-workbench --bench-ui               prints the GUI's speed figures, then quits
 *       (app/nfn-bench-ui.h)
 *   nfn-workbench --screenshot OUT.png [--page …] [FILE]
 *       renders the (first) window to a PNG once it is mapped, loaded, laid out and done
 *       computing, then quits — the headless path for tests, CI and the README. Exit status 1
 *       when the file could not be loaded (the PNG then shows the error banner), the page is
 *       unknown, or the PNG not written.
 */
#include "nfn-config.h"

#include <stdio.h>

#include "nfn-bench-ui.h"
#include "nfn-window.h"
#include "nfn_core.h"

/* Frames the window must draw, loaded and mapped, before it counts as laid out: the first
 * one allocates, the next paints what that allocation produced. */
#define NFN_SCREENSHOT_SETTLE_FRAMES 3
#define NFN_SCREENSHOT_TIMEOUT_SECONDS 30

typedef struct {
  char *screenshot_path; /* --screenshot, or NULL */
  char *page;            /* --page (or "tour" for --tour), or NULL */
  char *db;              /* --db, or NULL for the default store */
  gboolean bench_ui;     /* --bench-ui */
  gboolean bench_window_up; /* --bench-ui-window-up: one more launch timed by --bench-ui */
  int tour_step;         /* --tour-step, 0 when not given */
  gboolean screenshot_started;
  int status;            /* the process exit status */
} NfnWorkbench;

typedef struct {
  NfnWorkbench *workbench;
  GApplication *application;
  NfnWindow *window;
  int settled_frames;
  guint timeout_id;
  guint tick_id;
} NfnScreenshot;

static void
nfn_screenshot_finish (NfnScreenshot *shot)
{
  g_clear_handle_id (&shot->timeout_id, g_source_remove);
  if (shot->tick_id)
    gtk_widget_remove_tick_callback (GTK_WIDGET (shot->window), shot->tick_id);
  g_application_release (shot->application);
  g_application_quit (shot->application);
  g_object_unref (shot->window);
  g_free (shot);
}

static gboolean
nfn_screenshot_take (gpointer data)
{
  NfnScreenshot *shot = data;
  const char *path = shot->workbench->screenshot_path;
  g_autoptr (GdkTexture) texture = nfn_window_render (shot->window);
  if (texture == NULL || !gdk_texture_save_to_png (texture, path))
    {
      fprintf (stderr, "nfn-workbench: %s: cannot render or write the screenshot\n", path);
      shot->workbench->status = 1;
    }
  else if (nfn_window_get_error_message (shot->window) != NULL)
    {
      fprintf (stderr, "nfn-workbench: %s\n", nfn_window_get_error_message (shot->window));
      shot->workbench->status = 1;
    }
  nfn_screenshot_finish (shot);
  return G_SOURCE_REMOVE;
}

static gboolean
nfn_screenshot_tick (GtkWidget *widget, GdkFrameClock *clock, gpointer data)
{
  NfnScreenshot *shot = data;
  if (nfn_window_get_working (shot->window) || !gtk_widget_get_mapped (widget))
    {
      shot->settled_frames = 0;
      return G_SOURCE_CONTINUE;
    }
  if (++shot->settled_frames < NFN_SCREENSHOT_SETTLE_FRAMES)
    return G_SOURCE_CONTINUE;
  shot->tick_id = 0;
  /* Render outside the frame cycle, not in the middle of it. */
  g_idle_add (nfn_screenshot_take, shot);
  return G_SOURCE_REMOVE;
}

static gboolean
nfn_screenshot_timeout (gpointer data)
{
  NfnScreenshot *shot = data;
  shot->timeout_id = 0;
  fprintf (stderr, "nfn-workbench: --screenshot: the window was not drawn within %d s\n",
           NFN_SCREENSHOT_TIMEOUT_SECONDS);
  shot->workbench->status = 1;
  nfn_screenshot_finish (shot);
  return G_SOURCE_REMOVE;
}

static void
nfn_screenshot_start (NfnWorkbench *workbench, GApplication *application, NfnWindow *window)
{
  if (workbench->screenshot_path == NULL || workbench->screenshot_started)
    return;
  workbench->screenshot_started = TRUE;
  NfnScreenshot *shot = g_new0 (NfnScreenshot, 1);
  shot->workbench = workbench;
  shot->application = application;
  shot->window = g_object_ref (window);
  g_application_hold (application);
  shot->tick_id = gtk_widget_add_tick_callback (GTK_WIDGET (window), nfn_screenshot_tick, shot, NULL);
  shot->timeout_id = g_timeout_add_seconds (NFN_SCREENSHOT_TIMEOUT_SECONDS, nfn_screenshot_timeout, shot);
}

/* --page and --tour-step on a new window. */
static void
nfn_workbench_show_page (NfnWorkbench *workbench, NfnWindow *window)
{
  if (workbench->db)
    nfn_window_set_store_path (window, workbench->db);
  if (workbench->page && !nfn_window_set_page (window, workbench->page))
    {
      fprintf (stderr, "nfn-workbench: --page %s: not a page (explorer, equivariance, experiments, tasks or tour)\n",
               workbench->page);
      workbench->status = 1;
    }
  if (workbench->tour_step > 0)
    nfn_window_set_tour_step (window, workbench->tour_step);
}

static void
nfn_workbench_activate (GApplication *application, NfnWorkbench *workbench)
{
  NfnWindow *window = nfn_window_new (GTK_APPLICATION (application));
  nfn_window_show_sample (window);
  nfn_workbench_show_page (workbench, window);
  gtk_window_present (GTK_WINDOW (window));
  if (workbench->bench_ui || workbench->bench_window_up)
    nfn_bench_ui_start (application, window, &workbench->status, !workbench->bench_ui);
  nfn_screenshot_start (workbench, application, window);
}

static void
nfn_workbench_open (GApplication *application, GFile **files, int n_files, const char *hint,
                    NfnWorkbench *workbench)
{
  for (int f = 0; f < n_files; f++)
    {
      NfnWindow *window = nfn_window_new (GTK_APPLICATION (application));
      nfn_window_open_file (window, files[f]);
      nfn_workbench_show_page (workbench, window);
      gtk_window_present (GTK_WINDOW (window));
      nfn_screenshot_start (workbench, application, window);
    }
}

static void
nfn_workbench_quit (GSimpleAction *action, GVariant *parameter, gpointer application)
{
  g_application_quit (G_APPLICATION (application));
}

static void
nfn_workbench_startup (GApplication *application, NfnWorkbench *workbench)
{
  static const GActionEntry actions[] = { { .name = "quit", .activate = nfn_workbench_quit } };
  g_action_map_add_action_entries (G_ACTION_MAP (application), actions, G_N_ELEMENTS (actions), application);
  gtk_application_set_accels_for_action (GTK_APPLICATION (application), "app.quit",
                                         (const char *[]) { "<Control>q", NULL });
  gtk_window_set_default_icon_name ("org.nfn.Workbench");
  /* GtkApplication (unlike libadwaita's) does not load the resource's style.css by itself. */
  g_autoptr (GtkCssProvider) css = gtk_css_provider_new ();
  gtk_css_provider_load_from_resource (css, "/org/nfn/Workbench/style.css");
  gtk_style_context_add_provider_for_display (gdk_display_get_default (), GTK_STYLE_PROVIDER (css),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
  /* A screenshot shows the end state of every transition (the error banner slides in). */
  if (workbench->screenshot_path)
    g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE, NULL);
}

static int
nfn_workbench_handle_local_options (GApplication *application, GVariantDict *options, NfnWorkbench *workbench)
{
  if (g_variant_dict_contains (options, "version"))
    {
      printf ("nfn-workbench %s\n", NFN_VERSION);
      return 0;
    }
  g_variant_dict_lookup (options, "page", "s", &workbench->page);
  g_variant_dict_lookup (options, "db", "^ay", &workbench->db);
  if (g_variant_dict_contains (options, "tour"))
    {
      g_free (workbench->page);
      workbench->page = g_strdup ("tour");
    }
  if (g_variant_dict_lookup (options, "tour-step", "i", &workbench->tour_step) && workbench->page == NULL)
    workbench->page = g_strdup ("tour");
  workbench->bench_ui = g_variant_dict_contains (options, "bench-ui");
  workbench->bench_window_up = g_variant_dict_contains (options, "bench-ui-window-up");
  if (g_variant_dict_lookup (options, "screenshot", "^ay", &workbench->screenshot_path) || workbench->bench_ui
      || workbench->bench_window_up)
    /* A screenshot or a benchmark is this process's own work: never hand it to a running instance. */
    g_application_set_flags (application, g_application_get_flags (application) | G_APPLICATION_NON_UNIQUE);
  return -1;
}

int
main (int argc, char **argv)
{
  /* The engine's own default is one thread, but OpenBLAS starts with one per core, and after
   * each of the GUI's small GEMMs (probe batches) its idle worker spins on sched_yield for a
   * tenth of a second, taking the second core from drawing. Tasks set their own count. */
  nfn_set_threads (1);
  /* the sample is fitted while GTK starts up, not after */
  nfn_window_prefetch_samples ();
  NfnWorkbench workbench = { 0 };
  g_autoptr (GtkApplication) application = gtk_application_new ("org.nfn.Workbench", G_APPLICATION_HANDLES_OPEN);
  const GOptionEntry options[] = {
    { "screenshot", 0, 0, G_OPTION_ARG_FILENAME, NULL,
      "Render the window to a PNG once it is drawn, then quit (needs a display, e.g. xvfb-run)", "FILE.png" },
    { "page", 0, 0, G_OPTION_ARG_STRING, NULL, "Open on a page: explorer, equivariance, experiments, tasks or tour",
      "PAGE" },
    { "db", 0, 0, G_OPTION_ARG_FILENAME, NULL, "The experiment store (default: the XDG data dir)", "PATH" },
    { "tour", 0, 0, G_OPTION_ARG_NONE, NULL, "Open on the teaching tour (as Help → Tour)", NULL },
    { "tour-step", 0, 0, G_OPTION_ARG_INT, NULL, "Open the tour on step K (1 … 6)", "K" },
    { "bench-ui", 0, 0, G_OPTION_ARG_NONE, NULL,
      "Print the window-up, open+draw and animation times, then quit (needs a display)", NULL },
    { "bench-ui-window-up", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, NULL,
      "Print the time to the first frame, then quit (--bench-ui runs this)", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, NULL, "Print the version and quit", NULL },
    { NULL },
  };
  g_application_add_main_option_entries (G_APPLICATION (application), options);
  g_application_set_option_context_parameter_string (G_APPLICATION (application),
                                                     "[FILE.safetensors|FILE.npz|ZOO-DIR[:INDEX]…]");
  g_signal_connect (application, "handle-local-options", G_CALLBACK (nfn_workbench_handle_local_options),
                    &workbench);
  g_signal_connect (application, "startup", G_CALLBACK (nfn_workbench_startup), &workbench);
  g_signal_connect (application, "activate", G_CALLBACK (nfn_workbench_activate), &workbench);
  g_signal_connect (application, "open", G_CALLBACK (nfn_workbench_open), &workbench);

  int status = g_application_run (G_APPLICATION (application), argc, argv);
  g_free (workbench.screenshot_path);
  g_free (workbench.page);
  g_free (workbench.db);
  return status != 0 ? status : workbench.status;
}
