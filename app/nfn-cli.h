/* nfn-cli.h — pieces the `nfn` subcommands share. */
#ifndef NFN_CLI_H
#define NFN_CLI_H

#include <glib.h>
#include <json-glib/json-glib.h>
#include "nfn_store.h"

/* Prints "nfn: <message>" as one line on stderr; returns the exit status 1. */
int nfn_cli_fail (const char *format, ...) G_GNUC_PRINTF (1, 2);
/* Reports a GError (its message already names the file and the fault). */
int nfn_cli_fail_error (GError *error);
/* Prints the builder's root as pretty JSON on stdout. */
void nfn_cli_print_json (JsonBuilder *builder);
/* Parses a subcommand's options; on failure prints one line and returns FALSE. */
gboolean nfn_cli_parse (GOptionContext *context, int *argc, char ***argv);
/* Opens the experiment store at `db` (NULL = the default XDG path); on failure prints the
 * one-line error itself and returns NULL (app/nfn-runs.c). */
NfnStore *nfn_cli_open_store (const char *db, gboolean read_only);

int nfn_cli_bench (int argc, char **argv);
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
int nfn_cli_train_genpred (int argc, char **argv);  /* app/nfn-train-genpred.c */        /* app/nfn-runs.c: runs list|show|compare|export */

#endif
