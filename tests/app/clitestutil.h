/* clitestutil.h — helpers the app tests share: run the real `nfn` binary (path in $NFN_CLI) as
 * a user would, and check its one-line errors. */
#ifndef NFN_CLITESTUTIL_H
#define NFN_CLITESTUTIL_H

#include <glib.h>
#include <json-glib/json-glib.h>

typedef struct {
  int status; /* exit status, -1 when killed by a signal */
  char *out, *err;
} run_result;

void run_result_clear (run_result *r);
/* Runs nfn with a NULL-terminated argument list. */
run_result run_nfn (const char *first, ...) G_GNUC_NULL_TERMINATED;
/* Same, with the environment `envp` (e.g. from g_environ_setenv) instead of ours. */
run_result run_nfn_env (char **envp, const char *first, ...) G_GNUC_NULL_TERMINATED;
/* The root object of `text` parsed by `parser` (asserts that it parses). */
JsonObject *parse_object (JsonParser *parser, const char *text);
/* A failure is exactly one line on stderr that names `needle` (the file), and exit status 1. */
/* Every tensor of two safetensors model files is bit-identical (a resumed run against an
 * uninterrupted one). */
void assert_same_model_files (const char *a, const char *b);
void assert_one_line_error (run_result *r, const char *needle);
/* Removes a temporary directory and everything in it. */
void ctu_remove_dir (const char *dir);

#endif
