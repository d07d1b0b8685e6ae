/* nfn-bench-ui.c — see nfn-bench-ui.h. Every step is driven by the window's frame clock: a
 * step starts from an idle callback between frames and ends in the after-paint of the frame
 * that shows it.
 */
#include "nfn-bench-ui.h"

#include "nfn_core.h"
#include "nfn_network_text.h"
#include "nfn-neuron-graph.h"

#include <gsl/gsl_rng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NFN_BENCH_UI_LAUNCHES 5       /* window-up samples: this process and 4 more launches */
#define NFN_BENCH_UI_OPENS 5          /* opens timed per network size */
#define NFN_BENCH_UI_REPEATS 5        /* permutations timed */
#define NFN_BENCH_UI_SEED 42
#define NFN_BENCH_UI_TIMEOUT_SECONDS 120
#define NFN_BENCH_UI_MAX_FRAMES 256   /* per permutation; far more than 300 ms can hold */

/* The goals of issue 6. */
#define NFN_BENCH_UI_GOAL_UP_S 0.5
#define NFN_BENCH_UI_GOAL_OPEN_MS 100.0
#define NFN_BENCH_UI_GOAL_OPEN_PARAMETERS 1e6
#define NFN_BENCH_UI_GOAL_FPS 60.0
/* A frame clock's rate is met when at most one tick in twenty goes without a frame. */
#define NFN_BENCH_UI_FPS_SLACK 0.95

/* MLPs n_0 → h → h → 10 with about these many parameters. */
static const double bench_sizes[] = { 1e4, 1e5, 1e6 };
enum { N_SIZES = G_N_ELEMENTS (bench_sizes) };
static const int bench_animated[] = { 784, 256, 256, 10 };

typedef enum { STAGE_UP, STAGE_OPEN, STAGE_SETTLE, STAGE_ANIMATE, STAGE_DONE } NfnBenchStage;

typedef struct {
  GApplication *application;
  NfnWindow *window;
  int *status;
  gboolean window_up_only;
  GdkFrameClock *clock;
  gulong before_handler, after_handler;
  guint timeout_id;
  NfnBenchStage stage;
  double window_up_s;
  int size_index, open_index;  /* the open being timed */
  gboolean open_pending;
  gboolean graph_pending; /* the open was drawn; the graph's full edge set is still on its way */
  double graph_ms[N_SIZES][NFN_BENCH_UI_OPENS];
  gint64 open_started_us, open_started_cpu_us;
  double open_ms[N_SIZES][NFN_BENCH_UI_OPENS], open_cpu_ms[N_SIZES][NFN_BENCH_UI_OPENS];
  size_t open_parameters[N_SIZES];
  char *open_summary[N_SIZES];
  gint64 frame_started_cpu_us;
  int settle_frames;
  int repeat;
  int frames;         /* of this permutation, −1 before it starts */
  gint64 frame_end_us[NFN_BENCH_UI_MAX_FRAMES];
  double fps[NFN_BENCH_UI_REPEATS];
  GArray *frame_cpu_ms; /* double, every animation frame */
} NfnBenchUi;

static int
nfn_bench_ui_compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* Median of n values (n ≥ 1); sorts them. */
static double
nfn_bench_ui_median (double *values, int n)
{
  qsort (values, n, sizeof *values, nfn_bench_ui_compare_doubles);
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

static const char *
nfn_bench_ui_verdict (gboolean met)
{
  return met ? "met" : "missed";
}

/* Seconds since this process started, from the kernel's record (clock ticks since boot). */
static double
nfn_bench_ui_process_age (void)
{
  g_autofree char *stat = NULL;
  if (!g_file_get_contents ("/proc/self/stat", &stat, NULL, NULL))
    return -1;
  /* the command name may hold spaces: fields are counted after its closing parenthesis */
  const char *rest = strrchr (stat, ')');
  if (rest == NULL)
    return -1;
  g_auto (GStrv) fields = g_strsplit (rest + 2, " ", -1);
  if (g_strv_length (fields) < 20)
    return -1;
  double started = g_ascii_strtod (fields[19], NULL) / (double) sysconf (_SC_CLK_TCK); /* field 22 */
  struct timespec now;
  clock_gettime (CLOCK_BOOTTIME, &now);
  return (double) now.tv_sec + now.tv_nsec * 1e-9 - started;
}

/* CPU time of this (the main) thread: what the UI itself spent, whatever else runs on the
 * machine, where wall time also counts waiting for a core. */
static gint64
nfn_bench_ui_cpu_us (void)
{
  struct timespec now;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &now);
  return (gint64) now.tv_sec * G_USEC_PER_SEC + now.tv_nsec / 1000;
}

static NfnNetwork *
nfn_bench_ui_network (const int *widths, int layers, const char *name)
{
  nfn_arch arch;
  if (nfn_arch_mlp (&arch, layers, widths, NFN_ACT_RELU) != NFN_OK)
    return NULL;
  NfnNetwork *net = nfn_network_new (&arch);
  gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (rng, NFN_BENCH_UI_SEED);
  nfn_net_init (&arch, &net->weights, rng);
  gsl_rng_free (rng);
  g_free (net->path);
  net->path = g_strdup (name);
  return net;
}

/* 784 → h → h → 10 with h chosen so that the parameter count is at most `target`. */
static NfnNetwork *
nfn_bench_ui_sized_network (double target)
{
  /* parameters of 784 → h → h → 10: h² + (784 + 1 + 1 + 10)·h + 10 */
  int h = 1;
  while ((double) (h + 1) * (h + 1) + 796.0 * (h + 1) + 10 <= target)
    h++;
  int widths[] = { 784, h, h, 10 };
  g_autofree char *name = g_strdup_printf ("mlp-%.0e", target);
  return nfn_bench_ui_network (widths, 3, name);
}

/* The window-up time of NFN_BENCH_UI_LAUNCHES − 1 more launches of this binary, each one
 * alone (they run after every other measurement). */
static int
nfn_bench_ui_more_launches (double *seconds)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  if (self == NULL)
    return 0;
  int count = 0;
  for (int l = 0; l < NFN_BENCH_UI_LAUNCHES - 1; l++)
    {
      const char *argv[] = { self, "--bench-ui-window-up", NULL };
      g_autofree char *out = NULL;
      int wait_status;
      if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL, &wait_status,
                         NULL)
          || !g_spawn_check_wait_status (wait_status, NULL))
        continue;
      const char *line = out ? strstr (out, "window up ") : NULL;
      if (line)
        seconds[count++] = g_ascii_strtod (line + strlen ("window up "), NULL);
    }
  return count;
}

static void
nfn_bench_ui_finish (NfnBenchUi *bench, int status)
{
  if (bench->stage == STAGE_DONE)
    return;
  bench->stage = STAGE_DONE;
  *bench->status = status;
  g_clear_signal_handler (&bench->before_handler, bench->clock);
  g_clear_signal_handler (&bench->after_handler, bench->clock);
  g_clear_handle_id (&bench->timeout_id, g_source_remove);
  g_application_release (bench->application);
  g_application_quit (bench->application);
}

static void
nfn_bench_ui_report (NfnBenchUi *bench)
{
  double load[1];
  gboolean have_load = getloadavg (load, 1) == 1;

  double launches[NFN_BENCH_UI_LAUNCHES];
  launches[0] = bench->window_up_s;
  int n_launches = 1 + nfn_bench_ui_more_launches (launches + 1);
  double up = nfn_bench_ui_median (launches, n_launches);
  printf ("window up: %.3f s from process start to the first frame (median of %d launches, %.3f … %.3f s)\n", up,
          n_launches, launches[0], launches[n_launches - 1]);

  printf ("\nsummary (medians; the machine has %u cores, load average %.2f while measuring — wall times wait for a "
          "core, main-thread CPU does not):\n",
          g_get_num_processors (), have_load ? load[0] : -1.0);
  printf ("  goal window up < %.1f s:                 %.3f s                                 %s\n",
          NFN_BENCH_UI_GOAL_UP_S, up, nfn_bench_ui_verdict (up < NFN_BENCH_UI_GOAL_UP_S));
  int goal_size = N_SIZES - 1;
  double open_ms[NFN_BENCH_UI_OPENS], open_cpu_ms[NFN_BENCH_UI_OPENS];
  memcpy (open_ms, bench->open_ms[goal_size], sizeof open_ms);
  memcpy (open_cpu_ms, bench->open_cpu_ms[goal_size], sizeof open_cpu_ms);
  double open = nfn_bench_ui_median (open_ms, NFN_BENCH_UI_OPENS);
  double open_cpu = nfn_bench_ui_median (open_cpu_ms, NFN_BENCH_UI_OPENS);
  printf ("  goal open + draw < %.0f ms (%zu params): %.1f ms wall, %.1f ms main-thread CPU     %s\n",
          NFN_BENCH_UI_GOAL_OPEN_MS, bench->open_parameters[goal_size], open, open_cpu,
          nfn_bench_ui_verdict (open < NFN_BENCH_UI_GOAL_OPEN_MS));

  gint64 refresh_us = 0;
  gdk_frame_clock_get_refresh_info (bench->clock, g_get_monotonic_time (), &refresh_us, NULL);
  double clock_hz = refresh_us > 0 ? 1e6 / refresh_us : NFN_BENCH_UI_GOAL_FPS;
  double fps = nfn_bench_ui_median (bench->fps, NFN_BENCH_UI_REPEATS);
  guint n_frames = bench->frame_cpu_ms->len;
  double *cpu = (double *) (void *) bench->frame_cpu_ms->data;
  double cpu_median = nfn_bench_ui_median (cpu, n_frames);
  double cpu_max = cpu[n_frames - 1];
  gboolean fps_met = fps >= NFN_BENCH_UI_FPS_SLACK * NFN_BENCH_UI_GOAL_FPS;
  printf ("  goal permutation animation %.0f fps:      %.1f fps presented (frame clock %.0f Hz)   %s\n",
          NFN_BENCH_UI_GOAL_FPS, fps, clock_hz, nfn_bench_ui_verdict (fps_met));
  printf ("       main-thread CPU per frame:          %.1f ms median, %.1f ms max of %u frames "
          "(a %.1f ms frame budget)      %s\n",
          cpu_median, cpu_max, n_frames, 1e3 / NFN_BENCH_UI_GOAL_FPS,
          nfn_bench_ui_verdict (cpu_median < 1e3 / NFN_BENCH_UI_GOAL_FPS));
  fflush (stdout);
}

static gboolean
nfn_bench_ui_timeout (gpointer data)
{
  NfnBenchUi *bench = data;
  bench->timeout_id = 0;
  fprintf (stderr, "nfn-workbench: --bench-ui: no frame for %d s (stage %d); giving up\n",
           NFN_BENCH_UI_TIMEOUT_SECONDS, bench->stage);
  nfn_bench_ui_finish (bench, 1);
  return G_SOURCE_REMOVE;
}

static gboolean
nfn_bench_ui_open_next (gpointer data)
{
  NfnBenchUi *bench = data;
  g_autoptr (NfnNetwork) net = nfn_bench_ui_sized_network (bench_sizes[bench->size_index]);
  bench->stage = STAGE_OPEN;
  bench->open_pending = TRUE;
  bench->open_started_us = g_get_monotonic_time ();
  bench->open_started_cpu_us = nfn_bench_ui_cpu_us ();
  nfn_window_set_network (bench->window, g_steal_pointer (&net));
  gtk_widget_queue_draw (GTK_WIDGET (bench->window));
  return G_SOURCE_REMOVE;
}

static gboolean
nfn_bench_ui_animate_next (gpointer data)
{
  NfnBenchUi *bench = data;
  bench->stage = STAGE_ANIMATE;
  bench->frames = 0;
  gtk_widget_activate_action (GTK_WIDGET (bench->window), "win.permute", NULL);
  return G_SOURCE_REMOVE;
}

static gboolean
nfn_bench_ui_settle (gpointer data)
{
  NfnBenchUi *bench = data;
  g_autoptr (NfnNetwork) net = nfn_bench_ui_network (bench_animated, 3, "mlp-784-256-256-10");
  size_t params = nfn_space_param_count (&net->arch.space);
  nfn_window_set_network (bench->window, g_steal_pointer (&net));
  bench->stage = STAGE_SETTLE;
  bench->settle_frames = 0;
  printf ("permutation animation, MLP 784→256→256→10 (%zu parameters), %d permutations of %d ms each:\n", params,
          NFN_BENCH_UI_REPEATS, NFN_ORBIT_ANIMATION_MS);
  gtk_widget_queue_draw (GTK_WIDGET (bench->window));
  return G_SOURCE_REMOVE;
}

static void
nfn_bench_ui_before_paint (GdkFrameClock *clock, NfnBenchUi *bench)
{
  bench->frame_started_cpu_us = nfn_bench_ui_cpu_us ();
}

static gboolean
nfn_bench_ui_graph_complete (NfnBenchUi *bench)
{
  return nfn_neuron_graph_get_complete (NFN_NEURON_GRAPH (nfn_window_get_view (bench->window, "graph")));
}

/* The open just drawn (and then its graph complete): recorded, printed once all of its size's
 * opens are in. */
static void
nfn_bench_ui_opened (NfnBenchUi *bench, gint64 now)
{
  int s = bench->size_index, o = bench->open_index;
  if (bench->open_pending)
    {
      bench->open_ms[s][o] = (now - bench->open_started_us) / 1e3;
      bench->open_cpu_ms[s][o] = (nfn_bench_ui_cpu_us () - bench->open_started_cpu_us) / 1e3;
      bench->open_pending = FALSE;
      bench->graph_pending = TRUE;
    }
  /* the neuron graph draws its strongest edges at first; a worker rasterises the rest */
  if (!nfn_bench_ui_graph_complete (bench))
    return;
  bench->graph_ms[s][o] = (now - bench->open_started_us) / 1e3;
  bench->graph_pending = FALSE;
  if (o == 0)
    {
      const NfnNetwork *net = nfn_window_get_network (bench->window);
      bench->open_summary[s] = nfn_arch_summary (&net->arch);
      bench->open_parameters[s] = nfn_space_param_count (&net->arch.space);
    }
  if (++bench->open_index < NFN_BENCH_UI_OPENS)
    {
      g_idle_add (nfn_bench_ui_open_next, bench);
      return;
    }
  double wall[NFN_BENCH_UI_OPENS], cpu[NFN_BENCH_UI_OPENS], graph[NFN_BENCH_UI_OPENS];
  memcpy (wall, bench->open_ms[s], sizeof wall);
  memcpy (cpu, bench->open_cpu_ms[s], sizeof cpu);
  memcpy (graph, bench->graph_ms[s], sizeof graph);
  double wall_median = nfn_bench_ui_median (wall, NFN_BENCH_UI_OPENS);
  printf ("  %-28s %9zu parameters: %7.1f ms (%.1f … %.1f), main-thread CPU %.1f ms; graph's every edge "
          "at %.1f ms\n",
          bench->open_summary[s], bench->open_parameters[s], wall_median, wall[0], wall[NFN_BENCH_UI_OPENS - 1],
          nfn_bench_ui_median (cpu, NFN_BENCH_UI_OPENS), nfn_bench_ui_median (graph, NFN_BENCH_UI_OPENS));
  bench->open_index = 0;
  if (++bench->size_index < N_SIZES)
    g_idle_add (nfn_bench_ui_open_next, bench);
  else
    g_idle_add (nfn_bench_ui_settle, bench);
}

/* One frame of the permutation running: at its end, frames presented per second between the
 * first frame that shows it and the last. */
static void
nfn_bench_ui_animated (NfnBenchUi *bench, gint64 now)
{
  double cpu = (nfn_bench_ui_cpu_us () - bench->frame_started_cpu_us) / 1e3;
  g_array_append_val (bench->frame_cpu_ms, cpu);
  if (bench->frames < NFN_BENCH_UI_MAX_FRAMES)
    bench->frame_end_us[bench->frames] = now;
  bench->frames++;
  if (nfn_orbit_get_progress (nfn_window_get_orbit (bench->window)) < 1.0)
    return;
  int frames = MIN (bench->frames, NFN_BENCH_UI_MAX_FRAMES);
  double seconds = frames > 1 ? (bench->frame_end_us[frames - 1] - bench->frame_end_us[0]) / 1e6 : 0;
  double fps = seconds > 0 ? (frames - 1) / seconds : 0;
  bench->fps[bench->repeat] = fps;
  printf ("  permutation %d: %d frames, %.1f fps between its first and last frame\n", bench->repeat + 1, frames, fps);
  bench->frames = -1;
  if (++bench->repeat < NFN_BENCH_UI_REPEATS)
    {
      g_idle_add (nfn_bench_ui_animate_next, bench);
      return;
    }
  nfn_bench_ui_report (bench);
  nfn_bench_ui_finish (bench, 0);
}

static void
nfn_bench_ui_after_paint (GdkFrameClock *clock, NfnBenchUi *bench)
{
  gint64 now = g_get_monotonic_time ();
  switch (bench->stage)
    {
    case STAGE_UP:
      {
        bench->window_up_s = nfn_bench_ui_process_age ();
        if (bench->window_up_only)
          {
            printf ("window up %.6f\n", bench->window_up_s);
            nfn_bench_ui_finish (bench, 0);
            break;
          }
        int width = gtk_widget_get_width (GTK_WIDGET (bench->window));
        int height = gtk_widget_get_height (GTK_WIDGET (bench->window));
        GskRenderer *renderer = gtk_native_get_renderer (GTK_NATIVE (bench->window));
        printf ("nfn-workbench --bench-ui: %d×%d window, %s, %u cores\n", width, height,
                renderer ? G_OBJECT_TYPE_NAME (renderer) : "no renderer", g_get_num_processors ());
        printf ("open + draw (set_network to the end of the next frame), median of %d opens; then the frame in which\n"
                "the neuron graph shows every edge it keeps (rasterised by a worker thread, the strongest drawn first):\n",
                NFN_BENCH_UI_OPENS);
        bench->stage = STAGE_OPEN;
        bench->size_index = bench->open_index = 0;
        g_idle_add (nfn_bench_ui_open_next, bench);
        break;
      }
    case STAGE_OPEN:
      if (bench->open_pending || bench->graph_pending)
        nfn_bench_ui_opened (bench, now);
      break;
    case STAGE_SETTLE:
      gtk_widget_queue_draw (GTK_WIDGET (bench->window));
      if (++bench->settle_frames == 3)
        {
          bench->repeat = 0;
          g_idle_add (nfn_bench_ui_animate_next, bench);
          bench->stage = STAGE_ANIMATE;
          bench->frames = -1; /* not started yet */
        }
      break;
    case STAGE_ANIMATE:
      if (bench->frames >= 0)
        nfn_bench_ui_animated (bench, now);
      break;
    case STAGE_DONE:
      break;
    }
  fflush (stdout);
}

static void
nfn_bench_ui_free (gpointer data)
{
  NfnBenchUi *bench = data;
  for (int s = 0; s < N_SIZES; s++)
    g_free (bench->open_summary[s]);
  g_array_unref (bench->frame_cpu_ms);
  g_free (bench);
}

void
nfn_bench_ui_start (GApplication *application, NfnWindow *window, int *status, gboolean window_up_only)
{
  NfnBenchUi *bench = g_new0 (NfnBenchUi, 1);
  bench->application = application;
  bench->window = window;
  bench->status = status;
  bench->window_up_only = window_up_only;
  bench->frame_cpu_ms = g_array_new (FALSE, FALSE, sizeof (double));
  g_application_hold (application);
  /* the frame clock exists once the window is realized, which presenting did */
  gtk_widget_realize (GTK_WIDGET (window));
  bench->clock = gtk_widget_get_frame_clock (GTK_WIDGET (window));
  bench->before_handler = g_signal_connect (bench->clock, "before-paint", G_CALLBACK (nfn_bench_ui_before_paint), bench);
  bench->after_handler = g_signal_connect (bench->clock, "after-paint", G_CALLBACK (nfn_bench_ui_after_paint), bench);
  bench->timeout_id = g_timeout_add_seconds (NFN_BENCH_UI_TIMEOUT_SECONDS, nfn_bench_ui_timeout, bench);
  /* the struct lives as long as the application: it is freed with the process */
  g_object_set_data_full (G_OBJECT (application), "nfn-bench-ui", bench, nfn_bench_ui_free);
}
