/* nfn-zoo.c — `nfn zoo fit|list|info`, `nfn render` and `nfn bench zoo`.
 *
 * Fitting prints a progress bar with rate and ETA when stderr is a terminal and a plain line
 * per shard otherwise; Ctrl-C sets the engine's cancel flag, so the shard being fitted is
 * dropped and the finished ones stay (a second Ctrl-C kills at once). Rendering draws with
 * cairo on an image surface: panels of rows·scale pixels a side, PAD pixels apart, with a
 * caption band under them (see render_layout).
 */
#include "nfn-cli.h"

#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nfn_datasets.h"
#include "nfn_fit.h"
#include "nfn_morph.h"
#include "nfn_network_text.h"
#include "nfn_train.h"
#include "nfn_zoo.h"

/* ---- the progress display of every zoo build ---- */

static volatile int zoo_cancel_flag;

static void
zoo_on_sigint (int signum)
{
  zoo_cancel_flag = 1;
}

volatile int *
nfn_cli_zoo_catch_sigint (void)
{
  zoo_cancel_flag = 0;
  struct sigaction action = { .sa_handler = zoo_on_sigint, .sa_flags = SA_RESETHAND };
  sigemptyset (&action.sa_mask);
  sigaction (SIGINT, &action, NULL);
  return &zoo_cancel_flag;
}

void
nfn_cli_zoo_display_init (NfnCliZooDisplay *display, gint64 networks, int shard_size, const char *unit,
                          const char *quality_name, double quality_scale, const char *quality_unit)
{
  *display = (NfnCliZooDisplay) { .terminal = isatty (STDERR_FILENO), .started_us = g_get_monotonic_time (),
                                  .shards = (int) ((networks + shard_size - 1) / shard_size),
                                  .shard_size = shard_size, .unit = unit,
                                  .quality_name = quality_name, .quality_scale = quality_scale,
                                  .quality_unit = quality_unit };
}

void
nfn_cli_zoo_progress (gint64 done, gint64 total, gint64 fitted, gpointer user_data)
{
  NfnCliZooDisplay *d = user_data;
  if (d->shards == 0 && d->shard_size > 0)
    d->shards = (int) ((total + d->shard_size - 1) / d->shard_size);
  if (!d->terminal)
    return;
  gint64 now = g_get_monotonic_time ();
  if (done < total && now - d->last_draw_us < 100000)
    return;
  d->last_draw_us = now;
  double seconds = (now - d->started_us) / 1e6;
  double rate = seconds > 0 ? fitted / seconds : 0;
  g_autofree char *eta = nfn_cli_format_duration (rate > 0 ? (total - done) / rate : NAN);
  const int width = 30;
  int filled = total > 0 ? (int) (width * done / total) : width;
  char bar[64];
  for (int k = 0; k < width; k++)
    bar[k] = k < filled ? '#' : '.';
  bar[width] = 0;
  fprintf (stderr, "\r[%s] %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT " networks  %.*f %s/s  ETA %s   ", bar, done,
           total, rate < 10 ? 2 : 1, rate, d->unit, eta);
  fflush (stderr);
}

void
nfn_cli_zoo_shard_done (int shard, int networks, double mean_quality, double rate, gpointer user_data)
{
  NfnCliZooDisplay *d = user_data;
  if (d->terminal)
    return;
  fprintf (stderr, "zoo: shard %d/%d written: %d networks, %s %.2f %s, %.2f %s/s\n", shard + 1, d->shards, networks,
           d->quality_name, mean_quality * d->quality_scale, d->quality_unit, rate, d->unit);
  fflush (stderr);
}

void
nfn_cli_zoo_print_growth (const char *out, const NfnZooFitReport *report)
{
  if (report->grown_from > 0)
    printf ("zoo %s: grown from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT " networks\n", out, report->grown_from,
            report->networks);
}

/* ---- nfn zoo fit ---- */

static int
zoo_fit (int argc, char **argv)
{
  g_autofree char *dataset = NULL, *split = NULL, *out = NULL, *db = NULL;
  int count = 0, refits = 0, steps = NFN_FIT_DEFAULT_STEPS, threads = (int) g_get_num_processors ();
  int shard_size = NFN_ZOO_DEFAULT_SHARD_SIZE;
  double lr = NFN_FIT_DEFAULT_LR;
  gint64 seed = 0;
  GOptionEntry entries[] = {
    { "dataset", 0, 0, G_OPTION_ARG_STRING, &dataset, "fashion-mnist (default) or mnist", "NAME" },
    { "split", 0, 0, G_OPTION_ARG_STRING, &split, "train (default) or test", "SPLIT" },
    { "count", 0, 0, G_OPTION_ARG_INT, &count, "images to fit, the first N of the split (default: all)", "N" },
    { "refits", 0, 0, G_OPTION_ARG_INT, &refits, "extra fits of each image from fresh inits (default 0)", "K" },
    { "steps", 0, 0, G_OPTION_ARG_INT, &steps, "Adam steps per network (default " G_STRINGIFY (NFN_FIT_DEFAULT_STEPS) ")", "S" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "Adam learning rate (default " G_STRINGIFY (NFN_FIT_DEFAULT_LR) ")", "LR" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "seed of the inits (default 0)", "S" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "worker threads (default: the number of cores)", "T" },
    { "shard-size", 0, 0, G_OPTION_ARG_INT, &shard_size, "networks per shard (default " G_STRINGIFY (NFN_ZOO_DEFAULT_SHARD_SIZE) ")", "K" },
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &db, "experiment store (default: the XDG data dir)", "PATH" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "the zoo directory (created, or resumed)", "ZOO" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("— fit one SIREN per image into a resumable zoo");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nfn_cli_parse (context, &argc, &argv))
    return 1;
  if (argc != 1)
    return nfn_cli_fail ("zoo fit: unexpected argument \"%s\" (see nfn zoo fit --help)", argv[1]);
  if (!out)
    return nfn_cli_fail ("zoo fit: --out ZOO is required");
  if (count < 0 || refits < 0 || steps < 0 || !(lr > 0) || threads < 1 || shard_size < 1 || seed < 0)
    return nfn_cli_fail ("zoo fit: --count, --refits, --steps, --seed must be ≥ 0, --lr > 0, --threads and --shard-size ≥ 1");

  NfnZooSettings settings;
  nfn_zoo_settings_init (&settings);
  if (dataset)
    g_free (settings.dataset), settings.dataset = g_strdup (dataset);
  if (split)
    g_free (settings.split), settings.split = g_strdup (split);
  settings.count = count;
  settings.refits = refits;
  settings.steps = steps;
  settings.lr = lr;
  settings.seed = (guint64) seed;
  settings.shard_size = shard_size;

  g_autoptr (NfnStore) store = nfn_cli_open_store (db, FALSE);
  if (!store)
    {
      nfn_zoo_settings_clear (&settings);
      return 1;
    }
  NfnCliZooDisplay display;
  nfn_cli_zoo_display_init (&display, count > 0 ? (gint64) count * (1 + refits) : 0, shard_size, "INRs", "mean PSNR",
                            1, "dB");
  NfnZooFitCallbacks callbacks = { .threads = threads, .progress = nfn_cli_zoo_progress, .user_data = &display,
                                   .cancel = nfn_cli_zoo_catch_sigint (), .shard_done = nfn_cli_zoo_shard_done };

  NfnZooFitReport report;
  g_autoptr (GError) error = NULL;
  gboolean ok = nfn_zoo_fit (&settings, out, store, &callbacks, &report, &error);
  signal (SIGINT, SIG_DFL);
  if (display.terminal)
    fprintf (stderr, "\n");
  nfn_zoo_settings_clear (&settings);
  if (!ok)
    return nfn_cli_fail_error (error);
  nfn_cli_zoo_print_growth (out, &report);
  printf ("zoo %s: %" G_GINT64_FORMAT " networks (%d shards already there), %" G_GINT64_FORMAT " fitted now in %.1f s"
          " (%.1f INRs/s, %d threads)\n",
          out, report.networks, report.shards_skipped, report.fitted, report.seconds,
          report.seconds > 0 ? report.fitted / report.seconds : 0.0, threads);
  printf ("PSNR: mean %.2f dB, 5th percentile %.2f dB, min %.2f dB; run %" G_GINT64_FORMAT " in %s\n", report.psnr.mean,
          report.psnr.p5, report.psnr.min, report.run_id, nfn_store_get_path (store));
  return 0;
}

/* ---- nfn zoo list ---- */

static int
zoo_list (int argc, char **argv)
{
  g_autofree char *db = NULL;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &db, "experiment store (default: the XDG data dir)", "PATH" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("— the zoos registered in the store");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nfn_cli_parse (context, &argc, &argv))
    return 1;
  if (argc != 1)
    return nfn_cli_fail ("zoo list: unexpected argument \"%s\"", argv[1]);
  g_autoptr (NfnStore) store = nfn_cli_open_store (db, TRUE);
  if (!store)
    return 1;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) zoos = nfn_store_list_zoos (store, &error);
  if (!zoos)
    return nfn_cli_fail_error (error);
  if (json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_array (b);
      for (guint k = 0; k < zoos->len; k++)
        {
          NfnZoo *zoo = g_ptr_array_index (zoos, k);
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "id");
          json_builder_add_int_value (b, zoo->id);
          json_builder_set_member_name (b, "name");
          json_builder_add_string_value (b, zoo->name);
          json_builder_set_member_name (b, "path");
          json_builder_add_string_value (b, zoo->path);
          json_builder_set_member_name (b, "dataset");
          json_builder_add_string_value (b, zoo->dataset);
          json_builder_set_member_name (b, "split");
          json_builder_add_string_value (b, zoo->split);
          json_builder_set_member_name (b, "networks");
          json_builder_add_int_value (b, zoo->networks);
          json_builder_set_member_name (b, "architecture");
          g_autoptr (JsonNode) arch = json_from_string (zoo->arch_json, NULL);
          json_builder_add_value (b, arch ? g_steal_pointer (&arch) : json_node_new (JSON_NODE_NULL));
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      nfn_cli_print_json (b);
      return 0;
    }
  if (zoos->len == 0)
    {
      printf ("no zoos in %s (make one with nfn zoo fit)\n", nfn_store_get_path (store));
      return 0;
    }
  printf ("%-4s  %-20s  %-20s  %9s  %s\n", "id", "name", "data", "networks", "path");
  for (guint k = 0; k < zoos->len; k++)
    {
      NfnZoo *zoo = g_ptr_array_index (zoos, k);
      g_autofree char *data = g_strdup_printf ("%s/%s", zoo->dataset, zoo->split);
      printf ("%-4" G_GINT64_FORMAT "  %-20s  %-20s  %9" G_GINT64_FORMAT "  %s\n", zoo->id, zoo->name, data,
              zoo->networks, zoo->path);
    }
  return 0;
}

/* ---- nfn zoo info ---- */

#define HISTOGRAM_BINS 10
#define HISTOGRAM_WIDTH 40

/* A zoo directory, or a zoo registered in the store under that name. */
static NfnZooDir *
open_zoo_argument (const char *name, const char *db, GError **error)
{
  if (g_file_test (name, G_FILE_TEST_IS_DIR) || !db)
    return nfn_zoo_dir_open (name, error);
  g_autoptr (NfnStore) store = nfn_store_open (db, TRUE, NULL);
  g_autoptr (NfnZoo) zoo = store ? nfn_store_find_zoo (store, name, NULL) : NULL;
  return nfn_zoo_dir_open (zoo ? zoo->path : name, error);
}

static int
zoo_info (int argc, char **argv)
{
  g_autofree char *db = NULL;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &db, "look ZOO up by name in this store", "PATH" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("ZOO — settings, counts per label, PSNR distribution");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nfn_cli_parse (context, &argc, &argv))
    return 1;
  if (argc != 2)
    return nfn_cli_fail ("zoo info: expected one ZOO (see nfn zoo info --help)");
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnZooDir) zoo = open_zoo_argument (argv[1], db, &error);
  g_autoptr (GArray) list = zoo ? nfn_zoo_dir_entries (zoo, &error) : NULL;
  if (!list)
    return nfn_cli_fail_error (error);
  const NfnZooSettings *s = nfn_zoo_dir_settings (zoo);
  if (strcmp (nfn_zoo_settings_kind (s), NFN_ZOO_KIND_SIREN_FIT) != 0) /* metrics, not images and PSNRs */
    return nfn_cli_zoo_info_metrics (zoo, json);

  gint64 per_label[256] = { 0 };
  int max_label = -1;
  g_autofree float *psnr = g_new (float, MAX (list->len, 1));
  for (guint k = 0; k < list->len; k++)
    {
      const NfnZooEntry *e = &g_array_index (list, NfnZooEntry, k);
      int label = CLAMP (e->label, 0, 255);
      per_label[label]++;
      max_label = MAX (max_label, label);
      psnr[k] = e->psnr;
    }
  NfnZooPsnrSummary summary;
  nfn_zoo_psnr_summary (psnr, list->len, &summary);
  /* histogram of the finite PSNRs between min and the largest finite value */
  double lo = summary.min, hi = lo;
  for (guint k = 0; k < list->len; k++)
    if (isfinite (psnr[k]) && psnr[k] > hi)
      hi = psnr[k];
  gint64 bins[HISTOGRAM_BINS] = { 0 }, tallest = 0;
  for (guint k = 0; k < list->len; k++)
    {
      int b = hi > lo && isfinite (psnr[k]) ? (int) ((psnr[k] - lo) / (hi - lo) * HISTOGRAM_BINS) : 0;
      b = CLAMP (b, 0, HISTOGRAM_BINS - 1);
      tallest = MAX (tallest, ++bins[b]);
    }

  if (json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "path");
      json_builder_add_string_value (b, nfn_zoo_dir_path (zoo));
      json_builder_set_member_name (b, "dataset");
      json_builder_add_string_value (b, s->dataset);
      json_builder_set_member_name (b, "split");
      json_builder_add_string_value (b, s->split);
      json_builder_set_member_name (b, "images");
      json_builder_add_int_value (b, s->count);
      json_builder_set_member_name (b, "refits");
      json_builder_add_int_value (b, s->refits);
      json_builder_set_member_name (b, "steps");
      json_builder_add_int_value (b, s->steps);
      json_builder_set_member_name (b, "lr");
      json_builder_add_double_value (b, s->lr);
      json_builder_set_member_name (b, "seed");
      json_builder_add_int_value (b, (gint64) s->seed);
      json_builder_set_member_name (b, "networks");
      json_builder_add_int_value (b, nfn_zoo_dir_count (zoo));
      json_builder_set_member_name (b, "available");
      json_builder_add_int_value (b, (gint64) list->len);
      json_builder_set_member_name (b, "labels");
      json_builder_begin_array (b);
      for (int l = 0; l <= max_label; l++)
        {
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "label");
          json_builder_add_int_value (b, l);
          json_builder_set_member_name (b, "name");
          json_builder_add_string_value (b, nfn_dataset_class_name (s->dataset, l));
          json_builder_set_member_name (b, "count");
          json_builder_add_int_value (b, per_label[l]);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_set_member_name (b, "psnr");
      json_builder_begin_object (b);
      const char *names[] = { "mean", "min", "p5", "p50", "p95", "max" };
      double values[] = { summary.mean, summary.min, summary.p5, summary.p50, summary.p95, summary.max };
      for (int q = 0; q < 6; q++)
        {
          json_builder_set_member_name (b, names[q]);
          if (isfinite (values[q]))
            json_builder_add_double_value (b, values[q]);
          else
            json_builder_add_null_value (b);
        }
      json_builder_end_object (b);
      json_builder_end_object (b);
      nfn_cli_print_json (b);
      return 0;
    }

  g_autofree char *arch = nfn_arch_summary (&s->arch);
  printf ("zoo %s\n", nfn_zoo_dir_path (zoo));
  printf ("  %s, fitted to %s/%s: %d images × %d fit%s, %d steps, lr %g, seed %" G_GUINT64_FORMAT "\n", arch,
          s->dataset, s->split, s->count, 1 + s->refits, s->refits ? "s" : "", s->steps, s->lr, s->seed);
  printf ("  networks: %u of %" G_GINT64_FORMAT " in %d shards%s\n", list->len, nfn_zoo_dir_count (zoo),
          nfn_zoo_dir_shard_count (zoo), (gint64) list->len < nfn_zoo_dir_count (zoo) ? " (fit unfinished)" : "");
  printf ("\n  label  class                 networks\n");
  for (int l = 0; l <= max_label; l++)
    printf ("  %5d  %-20s  %8" G_GINT64_FORMAT "\n", l, nfn_dataset_class_name (s->dataset, l), per_label[l]);
  printf ("\n  PSNR (dB): mean %.2f  min %.2f  5%% %.2f  50%% %.2f  95%% %.2f  max %.2f\n", summary.mean, summary.min,
          summary.p5, summary.p50, summary.p95, summary.max);
  for (int b = 0; b < HISTOGRAM_BINS && list->len > 0; b++)
    {
      double from = lo + (hi - lo) * b / HISTOGRAM_BINS, to = lo + (hi - lo) * (b + 1) / HISTOGRAM_BINS;
      int bar = tallest ? (int) ((bins[b] * HISTOGRAM_WIDTH + tallest - 1) / tallest) : 0;
      printf ("  %6.1f – %6.1f  %7" G_GINT64_FORMAT "  %.*s\n", from, to, bins[b], bar,
              "########################################");
    }
  return 0;
}

int
nfn_cli_zoo (int argc, char **argv)
{
  if (argc >= 2 && strcmp (argv[1], "fit") == 0)
    return zoo_fit (argc - 1, argv + 1);
  if (argc >= 2 && strcmp (argv[1], "list") == 0)
    return zoo_list (argc - 1, argv + 1);
  if (argc >= 2 && strcmp (argv[1], "info") == 0)
    return zoo_info (argc - 1, argv + 1);
  if (argc >= 2 && strcmp (argv[1], "tickets") == 0)
    return nfn_cli_zoo_tickets (argc - 1, argv + 1);
  if (argc >= 2 && strcmp (argv[1], "cnn") == 0)
    return nfn_cli_zoo_cnn (argc - 1, argv + 1);
  return nfn_cli_fail ("zoo: expected `nfn zoo fit|list|info|tickets|cnn`");
}

/* ---- nfn render ---- */

#define RENDER_PAD 8
#define RENDER_CAPTION 36

/* Width and height of the PNG for `panels` panels of side × side pixels. */
static void
render_layout (int panels, int side, int *width, int *height)
{
  *width = panels * (side + RENDER_PAD) + RENDER_PAD;
  *height = RENDER_PAD + side + RENDER_CAPTION;
}

/* One panel: a grid of gray values in [−1, 1] (−1 black) scaled to side × side. */
static void
render_panel (cairo_t *cr, const float *values /* (rows, cols) */, int rows, int cols, int x, int side,
              const char *caption1, const char *caption2)
{
  cairo_surface_t *image = cairo_image_surface_create (CAIRO_FORMAT_RGB24, cols, rows);
  unsigned char *data = cairo_image_surface_get_data (image);
  int stride = cairo_image_surface_get_stride (image);
  cairo_surface_flush (image);
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++)
      {
        double v = CLAMP ((values[r * cols + c] + 1.0) / 2.0, 0.0, 1.0);
        guint32 gray = (guint32) lround (v * 255);
        ((guint32 *) (void *) (data + r * stride))[c] = gray << 16 | gray << 8 | gray;
      }
  cairo_surface_mark_dirty (image);
  cairo_save (cr);
  cairo_translate (cr, x, RENDER_PAD);
  cairo_scale (cr, (double) side / cols, (double) side / rows);
  cairo_set_source_surface (cr, image, 0, 0);
  cairo_pattern_set_filter (cairo_get_source (cr), CAIRO_FILTER_NEAREST);
  cairo_paint (cr);
  cairo_restore (cr);
  cairo_surface_destroy (image);
  cairo_set_source_rgb (cr, 0.1, 0.1, 0.1);
  cairo_select_font_face (cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size (cr, 11);
  cairo_move_to (cr, x, RENDER_PAD + side + 14);
  cairo_show_text (cr, caption1);
  if (caption2)
    {
      cairo_move_to (cr, x, RENDER_PAD + side + 28);
      cairo_show_text (cr, caption2);
    }
}

/* The INR's outputs on a rows × cols grid over [−1, 1]². */
static gboolean
render_evaluate (const NfnNetwork *net, int rows, int cols, float *out)
{
  g_autofree float *coords = g_new (float, (gsize) 2 * rows * cols);
  nfn_fit_grid (coords, rows, cols);
  return nfn_net_forward (&net->arch, &net->weights, rows * cols, coords, 0, out, NULL) == NFN_OK;
}

/* The image a zoo network was fitted to on the INR's [−1, 1] scale; NULL (no error) when the
 * network names none. */
static float *
render_source_image (const NfnNetwork *net, int *rows, int *cols, char **title, GError **error)
{
  float *pixels = nfn_network_source_image (net, rows, cols, title, error);
  if (pixels)
    nfn_fit_targets (pixels, pixels, (gsize) *rows * *cols);
  return pixels;
}

/* The source image through an edit's transform, on the [−1, 1] scale, from the source on it. */
static float *
render_target_image (const float *source /* (rows·cols) in [−1, 1] */, int rows, int cols, nfn_morph_op op)
{
  gsize n = (gsize) rows * cols;
  g_autofree float *pixels = g_new (float, n);
  float *target = g_new (float, n);
  for (gsize e = 0; e < n; e++)
    pixels[e] = (source[e] + 1.0f) / 2.0f;
  nfn_morph_apply (op, pixels, target, 1, rows, cols);
  nfn_fit_targets (target, target, n);
  return target;
}

int
nfn_cli_render (int argc, char **argv)
{
  g_autofree char *out = NULL, *target_name = NULL;
  int scale = 8;
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out, "the PNG to write", "PNG" },
    { "scale", 0, 0, G_OPTION_ARG_INT, &scale, "screen pixels per image pixel (default 8)", "S" },
    { "target", 0, 0, G_OPTION_ARG_STRING, &target_name,
      "also the source through dilate|erode|gradient|invert, and the INR's MSE against it (default: the edit an "
      "`nfn edit` network records)", "T" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("NET|ZOO:IDX — the INR on the image grid and on a finer grid, beside its source image");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nfn_cli_parse (context, &argc, &argv))
    return 1;
  if (argc != 2)
    return nfn_cli_fail ("render: expected one NET or ZOO:IDX (see nfn render --help)");
  if (!out)
    return nfn_cli_fail ("render: -o PNG is required");
  if (scale < 1 || scale > 64)
    return nfn_cli_fail ("render: --scale must be 1 … 64");
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnNetwork) net = nfn_network_load_spec (argv[1], &error);
  if (!net)
    return nfn_cli_fail_error (error);
  const nfn_arch *arch = &net->arch;
  if (nfn_net_input_size (arch) != 2 || nfn_net_output_size (arch) != 1 || arch->kind == NFN_NET_CNN)
    return nfn_cli_fail ("%s: not an image INR (needs 2 inputs and 1 output)", argv[1]);

  const char *recorded_edit = g_hash_table_lookup (net->metadata, "nfn.edit.transform");
  const char *edit_name = target_name ? target_name : recorded_edit;
  nfn_morph_op op;
  if (edit_name && !nfn_morph_parse (edit_name, &op))
    return nfn_cli_fail ("render: unknown --target \"%s\" (dilate, erode, gradient or invert)", edit_name);

  int rows = 28, cols = 28;
  g_autofree char *source_title = NULL;
  g_autofree float *source = render_source_image (net, &rows, &cols, &source_title, &error);
  if (!source && error)
    return nfn_cli_fail_error (error);
  if (edit_name && !source)
    return nfn_cli_fail ("%s: --target needs the image the network was fitted to (a zoo network, or one edited from it)",
                         argv[1]);
  g_autofree float *target = edit_name ? render_target_image (source, rows, cols, op) : NULL;
  int fine_rows = rows * scale, fine_cols = cols * scale;
  g_autofree float *coarse = g_new (float, (gsize) rows * cols);
  g_autofree float *fine = g_new (float, (gsize) fine_rows * fine_cols);
  if (!render_evaluate (net, rows, cols, coarse) || !render_evaluate (net, fine_rows, fine_cols, fine))
    return nfn_cli_fail ("%s: cannot evaluate the network", argv[1]);

  int panels = 2 + (source != NULL) + (target != NULL), side = rows * scale, width, height;
  render_layout (panels, side, &width, &height);
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, width, height);
  cairo_t *cr = cairo_create (surface);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  int x = RENDER_PAD;
  g_autofree char *psnr_text = NULL, *mse_text = NULL, *mse_caption = NULL;
  if (source)
    {
      psnr_text = g_strdup_printf ("PSNR %.2f dB", nfn_psnr (coarse, source, (size_t) rows * cols, 2.0));
      render_panel (cr, source, rows, cols, x, side, "source image", source_title);
      x += side + RENDER_PAD;
    }
  if (target)
    {
      double mse;
      nfn_mse (coarse, target, (size_t) rows * cols, &mse, NULL);
      mse_text = g_strdup_printf ("MSE %.4f vs %s target", mse, edit_name);
      mse_caption = g_strdup_printf ("MSE %.4f vs target", mse);
    }
  g_autofree char *coarse_caption = recorded_edit ? g_strdup_printf ("edited INR, %d×%d", rows, cols)
                                                  : g_strdup_printf ("INR on the %d×%d grid", rows, cols);
  render_panel (cr, coarse, rows, cols, x, side, coarse_caption, target ? mse_caption : psnr_text);
  x += side + RENDER_PAD;
  if (target)
    {
      g_autofree char *target_caption = g_strdup_printf ("target: %s(source)", edit_name);
      render_panel (cr, target, rows, cols, x, side, target_caption, "the edit's goal");
      x += side + RENDER_PAD;
    }
  g_autofree char *fine_caption = g_strdup_printf ("INR on a %d×%d grid", fine_rows, fine_cols);
  g_autofree char *name = g_path_get_basename (net->path ? net->path : argv[1]);
  render_panel (cr, fine, fine_rows, fine_cols, x, side, fine_caption, name);
  cairo_destroy (cr);
  cairo_status_t status = cairo_surface_write_to_png (surface, out);
  cairo_surface_destroy (surface);
  /* drops cairo's and fontconfig's caches, so leak checkers see only what is really lost */
  cairo_debug_reset_static_data ();
  FcFini ();
  if (status != CAIRO_STATUS_SUCCESS)
    return nfn_cli_fail ("%s: cannot write the PNG: %s", out, cairo_status_to_string (status));
  printf ("%s: %d×%d PNG%s%s%s%s\n", out, width, height, psnr_text ? ", " : "", psnr_text ? psnr_text : "",
          mse_text ? ", " : "", mse_text ? mse_text : "");
  return 0;
}

/* ---- nfn bench zoo ---- */

/* The PyTorch reference from issue 3: batched fit of 64 SIRENs, full batch, Adam. */
static const struct {
  double lr;
  int steps;
  double inrs_per_s[2]; /* 1 and 2 threads */
} zoo_reference[] = {
  { 1e-3, 500, { 7.4, 8.4 } },
  { 5e-4, 500, { 7.4, 7.8 } },
  { 1e-3, 1000, { 3.7, 4.2 } },
};

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

typedef struct {
  double inrs_per_s; /* median over repeats */
  NfnZooPsnrSummary psnr;
} bench_result;

static gboolean
bench_fit (const NfnDataset *ds, int steps, double lr, int threads, nfn_fit_path path, int repeats,
           bench_result *result)
{
  nfn_arch arch;
  nfn_fit_default_arch (&arch);
  nfn_feature weights;
  if (nfn_feature_alloc (&weights, &arch.space, ds->count, 1) != NFN_OK)
    return FALSE;
  g_autofree guint64 *ids = g_new (guint64, ds->count);
  g_autofree float *psnr = g_new (float, ds->count);
  g_autofree double *rates = g_new (double, repeats);
  for (int k = 0; k < ds->count; k++)
    ids[k] = (guint64) k;
  nfn_fit_options opt;
  nfn_fit_options_init (&opt);
  opt.steps = steps;
  opt.lr = lr;
  opt.threads = threads;
  opt.path = path;
  nfn_status status = NFN_OK;
  for (int r = 0; r < repeats && status == NFN_OK; r++)
    {
      gint64 t0 = g_get_monotonic_time ();
      status = nfn_fit_sirens (&arch, &weights, ds->images, ds->rows, ds->cols, ids, &opt, psnr);
      rates[r] = ds->count / ((g_get_monotonic_time () - t0) / 1e6);
    }
  nfn_feature_free (&weights);
  if (status != NFN_OK)
    return FALSE;
  qsort (rates, (size_t) repeats, sizeof *rates, compare_double);
  result->inrs_per_s = repeats % 2 ? rates[repeats / 2] : 0.5 * (rates[repeats / 2 - 1] + rates[repeats / 2]);
  nfn_zoo_psnr_summary (psnr, (gsize) ds->count, &result->psnr);
  return TRUE;
}

int
nfn_cli_bench_zoo (int argc, char **argv)
{
  int threads = (int) g_get_num_processors (), images = 256, repeats = 1;
  gboolean generic = FALSE, skip_reference = FALSE;
  GOptionEntry entries[] = {
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "threads for the default-settings fit (default: the cores)", "T" },
    { "images", 0, 0, G_OPTION_ARG_INT, &images, "the first N Fashion-MNIST training images (default 256)", "N" },
    { "repeats", 0, 0, G_OPTION_ARG_INT, &repeats, "repeats of each timing, the median is shown (default 1)", "R" },
    { "generic", 0, 0, G_OPTION_ARG_NONE, &generic, "time the generic path (nfn_net_forward/backward + BLAS)", NULL },
    { "no-reference", 0, 0, G_OPTION_ARG_NONE, &skip_reference, "skip the reference's settings", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("— SIREN fitting speed and quality against the PyTorch reference");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nfn_cli_parse (context, &argc, &argv))
    return 1;
  if (threads < 1 || images < 1 || repeats < 1)
    return nfn_cli_fail ("bench zoo: --threads, --images and --repeats must be ≥ 1");
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnDataset) ds = nfn_dataset_load ("fashion-mnist", "train", images, &error);
  if (!ds)
    return nfn_cli_fail_error (error);
  nfn_fit_path path = generic ? NFN_FIT_PATH_GENERIC : NFN_FIT_PATH_FUSED;
  const char *path_name = generic ? "generic path (nfn_net_forward/backward, BLAS per network)" : "fused path";

  printf ("SIREN 2→32→32→1 (ω0 = 30) fits of the first %d Fashion-MNIST training images, %s, median of %d\n\n",
          ds->count, path_name, repeats);
  bench_result r;
  if (!bench_fit (ds, NFN_FIT_DEFAULT_STEPS, NFN_FIT_DEFAULT_LR, threads, path, repeats, &r))
    return nfn_cli_fail ("bench zoo: fitting failed");
  printf ("defaults (%d steps, lr %g), %d thread%s: %.1f INRs/s, PSNR mean %.2f dB, 5th percentile %.2f dB, min %.2f dB\n",
          NFN_FIT_DEFAULT_STEPS, NFN_FIT_DEFAULT_LR, threads, threads > 1 ? "s" : "", r.inrs_per_s, r.psnr.mean,
          r.psnr.p5, r.psnr.min);
  printf ("  → all 70,000 Fashion-MNIST images in %.1f minutes at this rate\n\n", 70000 / r.inrs_per_s / 60);

  if (!skip_reference)
    {
      printf ("%-6s %6s %8s  %10s %10s %6s  %12s  %s\n", "lr", "steps", "threads", "ours INR/s", "ref INR/s", "ratio",
              "mean PSNR", "5% PSNR");
      for (size_t c = 0; c < G_N_ELEMENTS (zoo_reference); c++)
        for (int t = 1; t <= 2; t++)
          {
            if (!bench_fit (ds, zoo_reference[c].steps, zoo_reference[c].lr, t, path, repeats, &r))
              return nfn_cli_fail ("bench zoo: fitting failed");
            double ref = zoo_reference[c].inrs_per_s[t - 1];
            printf ("%-6g %6d %8d  %10.1f %10.1f %5.1f×  %9.2f dB  %.2f dB\n", zoo_reference[c].lr,
                    zoo_reference[c].steps, t, r.inrs_per_s, ref, r.inrs_per_s / ref, r.psnr.mean, r.psnr.p5);
          }
    }
  printf ("\npeak memory %.0f MB. Reference: PyTorch, 64 SIRENs at once, full batch, Adam, this kind of machine\n"
          "(issue 3). The machine is shared: other processes' load lowers our numbers, never the reference's.\n",
          nfn_cli_peak_rss_mb ());
  return 0;
}
