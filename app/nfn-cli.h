/* nfn-cli.h — pieces the `nfn` subcommands share. */
#ifndef NFN_CLI_H
#define NFN_CLI_H

#include <glib.h>
#include <json-glib/json-glib.h>
#include "nfn_model_file.h"
#include "nfn_store.h"
#include "nfn_task.h"
#include "nfn_trainer.h"
#include "nfn_zoo.h"

/* Prints "nfn: <message>" as one line on stderr; returns the exit status 1. */
int nfn_cli_fail (const char *format, ...) G_GNUC_PRINTF (1, 2);
/* A --threads value as the machine allows it: < 1 means every core, more than the cores is cut
 * (nfn_task_clamp_threads). */
int nfn_cli_clamp_threads (int threads);
/* Reports a GError (its message already names the file and the fault). */
int nfn_cli_fail_error (GError *error);
/* Prints the builder's root as pretty JSON on stdout. */
void nfn_cli_print_json (JsonBuilder *builder);
/* Parses a subcommand's options; on failure prints one line and returns FALSE. */
gboolean nfn_cli_parse (GOptionContext *context, int *argc, char ***argv);
/* Opens the experiment store at `db` (NULL = the default XDG path); on failure prints the
 * one-line error itself and returns NULL (app/nfn-runs.c). */
NfnStore *nfn_cli_open_store (const char *db, gboolean read_only);

/* ---- `nfn train TASK`: the options they share, the resume check, the run (app/nfn-cli.c) ---- */

/* Which shared entries a command offers besides those every `nfn train` task has (--zoo,
 * --model, --epochs, --batch, --lr, --warmup, --channels, --depth, --augment, --seed,
 * --threads, --db, --out, --json). */
typedef enum {
  NFN_CLI_TRAIN_VAL_TEST = 1 << 0,     /* --val, --test */
  NFN_CLI_TRAIN_RESUME = 1 << 1,       /* --resume */
  NFN_CLI_TRAIN_WEIGHT_DECAY = 1 << 2, /* --weight-decay */
  NFN_CLI_TRAIN_FOURIER = 1 << 3,      /* --fourier, --fourier-scale, --io-bands */
  NFN_CLI_TRAIN_HEAD = 1 << 4,         /* --dropout, --head, --head-dropout, --append-stats */
  NFN_CLI_TRAIN_RAW_WEIGHTS = 1 << 5,  /* --raw-weights: normalize is the default */
  NFN_CLI_TRAIN_NORMALIZE = 1 << 6,    /* --normalize: raw weights are the default */
} NfnCliTrainEntries;

typedef struct {
  guint entries;          /* NfnCliTrainEntries */
  const char *zoo_help;   /* --zoo's help: what zoo the task reads */
  const char *model_help; /* --model's: the kinds it takes and the default */
  const char *out_help;   /* --out's (NULL: the model file beside the store) */
} NfnCliTrainSpec;

/* What only the command line has. */
typedef struct {
  char *db;
  gboolean json;
  gboolean raw_weights, normalize; /* the flags as given; nfn_cli_train_finish_options applies them */
  char *channels;                  /* --channels as given: "64" or "16,16,5" (NULL: the default) */
  int depth;                       /* --depth as given (−1: not given) */
  char *precision;                 /* --precision as given: fp32 or bf16 (NULL: fp32) */
} NfnCliTrainArgs;

/* The shared entries as one group writing into `options` (holding the task's defaults, which
 * the help shows) and `args`. Make it the context's main group (g_option_context_set_main_group)
 * and add the command's own entries to it. */
GOptionGroup *nfn_cli_train_group (const NfnCliTrainSpec *spec, NfnTaskOptions *options, NfnCliTrainArgs *args);
/* After parsing: --raw-weights / --normalize into options->normalize, --channels, --depth and
 * --precision into the options. Prints the one-line error (naming `command`) and returns FALSE
 * for a --channels that is not a width or a list of them, a list whose length is not --depth, or
 * a --precision other than fp32 and bf16. */
gboolean nfn_cli_train_finish_options (const char *command, const NfnCliTrainSpec *spec, NfnTaskOptions *options,
                                       const NfnCliTrainArgs *args);
void nfn_cli_train_args_clear (NfnCliTrainArgs *args);
/* The shared resume check of the arguments: a run id > 0, and nothing else that names the
 * run's settings (`settings_given`). Prints the one-line error and returns 1, else 0. */
int nfn_cli_train_check_resume (const char *command, gint64 resume, gboolean settings_given);
/* The steps of a task's `nfn train` (data/nfn_task.h) before its run: parse `context` (its
 * main group nfn_cli_train_group's), apply the flags, refuse a stray argument and, beside
 * --resume, any zoo, model, out or transform; open the store. `command` ("train edit") names
 * the command in errors. Prints the one-line error and returns NULL on failure. */
NfnStore *nfn_cli_train_open (GOptionContext *context, const char *command, const NfnCliTrainSpec *spec,
                              NfnTaskOptions *options, NfnCliTrainArgs *args, int *argc, char ***argv);
/* Runs a task (data/nfn_task.h) with the progress display (`metric`, `percent`: as
 * nfn_cli_train_display_init) and Ctrl-C as cancel (a second one kills). On failure prints the
 * one-line error and returns FALSE. */
typedef gboolean (*NfnCliTaskRunFunc) (const NfnTaskOptions *options, NfnStore *store, const NfnTaskHooks *hooks,
                                       GCancellable *cancellable, NfnTaskResult *result, GError **error);
gboolean nfn_cli_train_run (NfnCliTaskRunFunc run, const NfnTaskOptions *options, NfnStore *store, const char *metric,
                            gboolean percent, NfnTaskResult *result);
/* The end of every `nfn train TASK`: frees the result, the options and the arguments. */
void nfn_cli_train_clear (NfnTaskResult *result, NfnTaskOptions *options, NfnCliTrainArgs *args);
/* {"run": ID, "summary": {...}} on stdout. */
void nfn_cli_train_print_summary_json (const NfnTaskResult *result);

/* "1h02m", "3m05s", "42s"; "--" for a negative or unknown time (app/nfn-train.c). */
char *nfn_cli_format_duration (double seconds);
/* The progress display of every `nfn train` task (app/nfn-train.c): a bar with the
 * epoch, step, loss, the validation metric and an ETA when stderr is a terminal, one line per
 * epoch otherwise. Pass nfn_cli_train_progress as NfnTrainerOptions.progress with the display
 * as user_data; `metric` names the validation metric shown, `percent` prints it as a percentage. */
typedef struct {
  gboolean terminal;
  gint64 started_us, last_draw_us;
  gint64 first_step, first_step_us; /* the rate counts this call's steps only */
  const char *metric;
  gboolean percent;
  char *header; /* printed before the first progress line when not a terminal (owned; may be NULL) */
} NfnCliTrainDisplay;
void nfn_cli_train_display_init (NfnCliTrainDisplay *display, const char *metric, gboolean percent);
void nfn_cli_train_progress (const NfnTrainerProgress *progress, gpointer display);
void nfn_cli_train_display_end (NfnCliTrainDisplay *display); /* ends the bar's line */

/* The progress display of every zoo build (app/nfn-zoo.c): a bar with networks done, rate and
 * ETA when stderr is a terminal, one line per written shard otherwise. Pass nfn_cli_zoo_progress
 * and nfn_cli_zoo_shard_done as NfnZooFitCallbacks.progress/.shard_done with the display as
 * user_data; the shard line shows "<quality_name> <mean·quality_scale> <quality_unit>". */
typedef struct {
  gboolean terminal;
  gint64 started_us, last_draw_us;
  int shards;               /* 0 until known: with "all of the split" the first progress call tells */
  int shard_size;
  const char *unit;         /* what is built, e.g. "INRs", "CNNs" */
  const char *quality_name; /* e.g. "mean PSNR" */
  double quality_scale;     /* e.g. 100 for a fraction shown in % */
  const char *quality_unit; /* e.g. "dB", "%" */
} NfnCliZooDisplay;
void nfn_cli_zoo_display_init (NfnCliZooDisplay *display, gint64 networks, int shard_size, const char *unit,
                               const char *quality_name, double quality_scale, const char *quality_unit);
void nfn_cli_zoo_progress (gint64 done, gint64 total, gint64 fitted, gpointer display);
void nfn_cli_zoo_shard_done (int shard, int networks, double mean_quality, double rate, gpointer display);
/* "zoo OUT: grown from N to M networks" when the build grew the zoo (report->grown_from). */
void nfn_cli_zoo_print_growth (const char *out, const NfnZooFitReport *report);
/* Makes Ctrl-C set the returned flag (the builder's cancel flag: the shard being built is
 * dropped, finished ones stay); a second Ctrl-C kills at once. */
volatile int *nfn_cli_zoo_catch_sigint (void);

int nfn_cli_bench (int argc, char **argv);
/* This process's peak resident memory in MB (app/nfn-bench.c), for every benchmark. */
double nfn_cli_peak_rss_mb (void);
int nfn_cli_bench_zoo (int argc, char **argv);   /* app/nfn-zoo.c */
int nfn_cli_zoo (int argc, char **argv);         /* app/nfn-zoo.c: zoo fit|list|info */
int nfn_cli_render (int argc, char **argv);      /* app/nfn-zoo.c */
int nfn_cli_runs (int argc, char **argv);
/* `nfn train TASK`, dispatched in app/nfn-train.c to one file per task: */
int nfn_cli_train (int argc, char **argv);          /* app/nfn-train.c */
int nfn_cli_train_classify (int argc, char **argv); /* app/nfn-train-classify.c */
int nfn_cli_predict (int argc, char **argv);        /* app/nfn-train-classify.c (and genpred models) */
int nfn_cli_eval (int argc, char **argv);           /* app/nfn-train-classify.c */
int nfn_cli_train_edit (int argc, char **argv);     /* app/nfn-train-edit.c */
int nfn_cli_edit (int argc, char **argv);           /* app/nfn-train-edit.c: nfn edit MODEL NET -o OUT */
int nfn_cli_zoo_tickets (int argc, char **argv);    /* app/nfn-train-mask.c */
int nfn_cli_train_mask (int argc, char **argv);     /* app/nfn-train-mask.c */
int nfn_cli_mask (int argc, char **argv);           /* app/nfn-train-mask.c */
int nfn_cli_eval_mask (int argc, char **argv);      /* app/nfn-train-mask.c */
int nfn_cli_zoo_cnn (int argc, char **argv);        /* app/nfn-train-genpred.c */
/* `nfn zoo info` of a zoo that is no SIREN fit: its settings and every metric's distribution
 * (app/nfn-train-genpred.c); returns the exit status. */
int nfn_cli_zoo_info_metrics (NfnZooDir *zoo, gboolean json);
int nfn_cli_train_genpred (int argc, char **argv);  /* app/nfn-train-genpred.c */
/* `nfn predict` on a genpred model (app/nfn-train-genpred.c): each NET's predicted test
 * accuracy; returns the exit status. The model is the caller's. */
int nfn_cli_predict_genpred (nfn_model *model, const NfnModelFileInfo *info, const char *model_path, int n_nets,
                             char **nets, gboolean json);        /* app/nfn-runs.c: runs list|show|compare|export */
/* The spectral baseline's model file (app/nfn-train-genpred.c): is `path` one, and `nfn predict`
 * with it (each NET's predicted test accuracy; returns the exit status). */
gboolean nfn_cli_is_spectral_model (const char *path);
int nfn_cli_predict_spectral (const char *model_path, int n_nets, char **nets, gboolean json);

#endif
