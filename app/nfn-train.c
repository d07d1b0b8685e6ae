/* nfn-train.c — `nfn train TASK`: one file per task (their runs live in data/nfn_task_*.c), and
 * the progress display they share. */
#include "nfn-cli.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
nfn_cli_train (int argc, char **argv)
{
  static const struct {
    const char *name;
    int (*run) (int, char **);
  } tasks[] = {
    { "classify", nfn_cli_train_classify },
    { "edit", nfn_cli_train_edit },
    { "mask", nfn_cli_train_mask },
    { "genpred", nfn_cli_train_genpred },
  };
  for (size_t k = 0; argc >= 2 && k < G_N_ELEMENTS (tasks); k++)
    if (strcmp (argv[1], tasks[k].name) == 0)
      return tasks[k].run (argc - 1, argv + 1);
  return nfn_cli_fail ("train: expected `nfn train classify|edit|mask|genpred` (see nfn train TASK --help)");
}


/* ---- progress display, shared by every `nfn train` task ---- */

char *
nfn_cli_format_duration (double seconds)
{
  if (!isfinite (seconds) || seconds < 0)
    return g_strdup ("--");
  long s = lround (seconds);
  if (s >= 3600)
    return g_strdup_printf ("%ldh%02ldm", s / 3600, s / 60 % 60);
  if (s >= 60)
    return g_strdup_printf ("%ldm%02lds", s / 60, s % 60);
  return g_strdup_printf ("%lds", s);
}

void
nfn_cli_train_display_init (NfnCliTrainDisplay *display, const char *metric, gboolean percent)
{
  memset (display, 0, sizeof *display);
  display->terminal = isatty (STDERR_FILENO);
  display->started_us = g_get_monotonic_time ();
  display->metric = metric;
  display->percent = percent;
}

static void
train_display_value (char *out, size_t size, const NfnCliTrainDisplay *d, double value)
{
  if (isnan (value))
    snprintf (out, size, "--");
  else if (d->percent)
    snprintf (out, size, "%.1f %%", 100 * value);
  else
    snprintf (out, size, "%.4f", value);
}

void
nfn_cli_train_progress (const NfnTrainerProgress *p, gpointer user_data)
{
  NfnCliTrainDisplay *d = user_data;
  gint64 now = g_get_monotonic_time ();
  /* the header waits for the first step, so a run refused before it prints one line only */
  if (d->header && !d->terminal)
    fprintf (stderr, "%s\n", d->header);
  g_clear_pointer (&d->header, g_free);
  if (d->first_step_us == 0)
    {
      /* the rate counts only this call's steps (a resumed run starts mid-way) */
      d->first_step = p->step;
      d->first_step_us = now;
    }
  char val[32], best[32];
  train_display_value (val, sizeof val, d, p->val_value);
  train_display_value (best, sizeof best, d, p->best_value);
  if (strcmp (p->phase, "epoch") == 0 && !d->terminal)
    {
      fprintf (stderr, "epoch %d/%d: loss %.4f, val %s %s (best %s at epoch %d), %.1f s\n", p->epoch, p->epochs, p->loss,
               d->metric, val, best, p->best_epoch, (now - d->started_us) / 1e6);
      fflush (stderr);
      return;
    }
  if (!d->terminal || (strcmp (p->phase, "train") == 0 && now - d->last_draw_us < 100000))
    return;
  d->last_draw_us = now;
  gint64 total = p->steps_per_epoch * p->epochs, done = p->step;
  double rate = now > d->first_step_us ? (done - d->first_step) / ((now - d->first_step_us) / 1e6) : 0;
  g_autofree char *eta = nfn_cli_format_duration (rate > 0 ? (total - done) / rate : NAN);
  const int width = 24;
  int filled = total > 0 ? (int) (width * done / total) : width;
  char bar[32];
  for (int k = 0; k < width; k++)
    bar[k] = k < MIN (filled, width) ? '#' : '.';
  bar[width] = 0;
  fprintf (stderr, "\r[%s] epoch %d/%d  step %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT "  loss %.4f  val %s %s  best %s  %s %s   ",
           bar, p->epoch, p->epochs, done, total, p->loss, d->metric, val, best,
           strcmp (p->phase, "train") == 0 ? "ETA" : p->phase, strcmp (p->phase, "train") == 0 ? eta : "");
  fflush (stderr);
}

void
nfn_cli_train_display_end (NfnCliTrainDisplay *display)
{
  if (display->terminal && !display->header)
    fprintf (stderr, "\n");
  g_clear_pointer (&display->header, g_free);
}
