/* nfn-bench-ui.c — see nfn-bench-ui.h. Every step is driven by the window's frame clock: a
 * step starts from an idle callback between frames and ends in the after-paint of the frame
 * that shows it.
 */
#include "nfn-bench-ui.h"

#include "nfn_network_text.h"

#include <gsl/gsl_rng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NFN_BENCH_UI_REPEATS 5        /* permutations timed */
#define NFN_BENCH_UI_SEED 42
#define NFN_BENCH_UI_TIMEOUT_SECONDS 120

/* MLPs n_0 → h → h → 10 with about these many parameters. */
static const double bench_sizes[] = { 1e4, 1e5, 1e6 };
enum { N_SIZES = G_N_ELEMENTS (bench_sizes) };
static const int bench_animated[] = { 784, 256, 256, 10 };

typedef enum { STAGE_UP, STAGE_OPEN, STAGE_SETTLE, STAGE_ANIMATE, STAGE_DONE } NfnBenchStage;

typedef struct {
  GApplication *application;
  NfnWindow *window;
  int *status;
  GdkFrameClock *clock;
  gulong before_handler, after_handler;
  guint timeout_id;
  NfnBenchStage stage;
  int size_index;     /* the open being timed */
  gint64 open_started_us, open_started_cpu_us;
  gint64 frame_started_us, frame_started_cpu_us;
  int settle_frames;
  int repeat;
  int frames;         /* in this permutation */
  gint64 animation_started_us;
  int total_frames;
  double total_seconds, work_sum_ms, work_max_ms, cpu_sum_ms;
  int work_frames;
} NfnBenchUi;

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

/* 784 → h → h → 10 with h chosen so that the parameter count is close to `target`. */
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
  bench->animation_started_us = g_get_monotonic_time ();
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
  bench->frame_started_us = g_get_monotonic_time ();
  bench->frame_started_cpu_us = nfn_bench_ui_cpu_us ();
}

static void
nfn_bench_ui_after_paint (GdkFrameClock *clock, NfnBenchUi *bench)
{
  gint64 now = g_get_monotonic_time ();
  switch (bench->stage)
    {
    case STAGE_UP:
      {
        double age = nfn_bench_ui_process_age ();
        int width = gtk_widget_get_width (GTK_WIDGET (bench->window));
        int height = gtk_widget_get_height (GTK_WIDGET (bench->window));
        GskRenderer *renderer = gtk_native_get_renderer (GTK_NATIVE (bench->window));
        printf ("nfn-workbench --bench-ui: %d×%d window, %s, %u cores\n", width, height,
                renderer ? G_OBJECT_TYPE_NAME (renderer) : "no renderer", g_get_num_processors ());
        printf ("window up: %.3f s from process start to the first frame (goal < 0.5 s)\n", age);
        printf ("open + draw (set_network to the end of the next frame, goal < 100 ms):\n");
        bench->stage = STAGE_OPEN;
        bench->size_index = 0;
        g_idle_add (nfn_bench_ui_open_next, bench);
        /* nothing draws until the idle's network does */
        bench->open_started_us = 0;
        break;
      }
    case STAGE_OPEN:
      {
        if (bench->open_started_us == 0)
          break;
        double ms = (now - bench->open_started_us) / 1e3;
        double cpu_ms = (nfn_bench_ui_cpu_us () - bench->open_started_cpu_us) / 1e3;
        const NfnNetwork *net = nfn_window_get_network (bench->window);
        g_autofree char *summary = nfn_arch_summary (&net->arch);
        printf ("  %-28s %9zu parameters: %7.1f ms (main thread CPU %.1f ms)\n", summary,
                nfn_space_param_count (&net->arch.space), ms, cpu_ms);
        bench->open_started_us = 0;
        if (++bench->size_index < N_SIZES)
          g_idle_add (nfn_bench_ui_open_next, bench);
        else
          g_idle_add (nfn_bench_ui_settle, bench);
        break;
      }
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
      {
        if (bench->frames < 0)
          break;
        bench->frames++;
        double work = (now - bench->frame_started_us) / 1e3;
        bench->work_sum_ms += work;
        bench->cpu_sum_ms += (nfn_bench_ui_cpu_us () - bench->frame_started_cpu_us) / 1e3;
        bench->work_max_ms = MAX (bench->work_max_ms, work);
        bench->work_frames++;
        if (nfn_orbit_get_progress (nfn_window_get_orbit (bench->window)) < 1.0)
          break;
        double seconds = (now - bench->animation_started_us) / 1e6;
        printf ("  permutation %d: %d frames in %.0f ms = %.1f fps\n", bench->repeat + 1, bench->frames, seconds * 1e3,
                bench->frames / seconds);
        bench->total_frames += bench->frames;
        bench->total_seconds += seconds;
        bench->frames = -1;
        if (++bench->repeat < NFN_BENCH_UI_REPEATS)
          g_idle_add (nfn_bench_ui_animate_next, bench);
        else
          {
            double mean = bench->work_sum_ms / MAX (bench->work_frames, 1);
            double cpu = bench->cpu_sum_ms / MAX (bench->work_frames, 1);
            printf ("  overall %.1f fps (goal ≥ 60); work per frame mean %.1f ms, max %.1f ms; main thread CPU per "
                    "frame %.1f ms (room for %.0f fps on an idle core)\n",
                    bench->total_frames / bench->total_seconds, mean, bench->work_max_ms, cpu, 1e3 / cpu);
            double load[1];
            if (getloadavg (load, 1) == 1)
              printf ("load average %.2f on %u cores while measuring: other processes slow the wall times\n", load[0],
                      g_get_num_processors ());
            fflush (stdout);
            nfn_bench_ui_finish (bench, 0);
          }
        break;
      }
    case STAGE_DONE:
      break;
    }
  fflush (stdout);
}

void
nfn_bench_ui_start (GApplication *application, NfnWindow *window, int *status)
{
  NfnBenchUi *bench = g_new0 (NfnBenchUi, 1);
  bench->application = application;
  bench->window = window;
  bench->status = status;
  g_application_hold (application);
  /* the frame clock exists once the window is realized, which presenting did */
  gtk_widget_realize (GTK_WIDGET (window));
  bench->clock = gtk_widget_get_frame_clock (GTK_WIDGET (window));
  bench->before_handler = g_signal_connect (bench->clock, "before-paint", G_CALLBACK (nfn_bench_ui_before_paint), bench);
  bench->after_handler = g_signal_connect (bench->clock, "after-paint", G_CALLBACK (nfn_bench_ui_after_paint), bench);
  bench->timeout_id = g_timeout_add_seconds (NFN_BENCH_UI_TIMEOUT_SECONDS, nfn_bench_ui_timeout, bench);
  /* the struct lives as long as the application: it is freed with the process */
  g_object_set_data_full (G_OBJECT (application), "nfn-bench-ui", bench, g_free);
}
