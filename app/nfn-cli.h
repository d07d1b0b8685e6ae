/* nfn-cli.h — pieces the `nfn` subcommands share. */
#ifndef NFN_CLI_H
#define NFN_CLI_H

#include <glib.h>
#include <json-glib/json-glib.h>

/* Prints "nfn: <message>" as one line on stderr; returns the exit status 1. */
int nfn_cli_fail (const char *format, ...) G_GNUC_PRINTF (1, 2);
/* Reports a GError (its message already names the file and the fault). */
int nfn_cli_fail_error (GError *error);
/* Prints the builder's root as pretty JSON on stdout. */
void nfn_cli_print_json (JsonBuilder *builder);
/* Parses a subcommand's options; on failure prints one line and returns FALSE. */
gboolean nfn_cli_parse (GOptionContext *context, int *argc, char ***argv);

int nfn_cli_bench (int argc, char **argv);
int nfn_cli_bench_zoo (int argc, char **argv);   /* app/nfn-zoo.c */
int nfn_cli_zoo (int argc, char **argv);         /* app/nfn-zoo.c: zoo fit|list|info */
int nfn_cli_render (int argc, char **argv);      /* app/nfn-zoo.c */
int nfn_cli_runs (int argc, char **argv);        /* app/nfn-runs.c: runs list|show|compare|export */

#endif
