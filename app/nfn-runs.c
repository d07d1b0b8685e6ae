/* nfn-runs.c — `nfn runs list|show|compare|export`: the experiment store from the command line.
 *
 * Every subcommand takes --db PATH (default: the XDG store) and opens the store read-only: a
 * viewer never creates a store at a mistyped path and never waits on a live writer. Text output
 * is for people (aligned tables, local times); --json, --csv are for scripts and carry the full
 * values. A non-finite number (a diverged loss) is null in JSON, which has no NaN.
 */
#include "nfn_json.h"
#include "nfn-cli.h"

#include "nfn_run_report.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

NfnStore *
nfn_cli_open_store (const char *db, gboolean read_only)
{
  g_autofree char *default_path = db ? NULL : nfn_store_default_path ();
  g_autoptr (GError) error = NULL;
  NfnStore *store = nfn_store_open (db ? db : default_path, read_only, &error);
  if (!store)
    nfn_cli_fail_error (error);
  return store;
}

/* ---- formatting shared by the subcommands ---- */

static void
runs_add_double (JsonBuilder *b, double value)
{
  if (isfinite (value))
    json_builder_add_double_value (b, value);
  else
    json_builder_add_null_value (b);
}

/* The members of a run's JSON object, inside an object the caller began. */
static void
runs_build_run_members (JsonBuilder *b, const NfnRun *run)
{
  json_builder_set_member_name (b, "id");
  json_builder_add_int_value (b, run->id);
  json_builder_set_member_name (b, "experiment");
  json_builder_add_string_value (b, run->experiment);
  json_builder_set_member_name (b, "task");
  json_builder_add_string_value (b, run->task);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, run->model);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, nfn_run_status_name (run->status));
  json_builder_set_member_name (b, "seed");
  json_builder_add_value (b, nfn_run_seed_node (run->seed));
  json_builder_set_member_name (b, "started_us");
  json_builder_add_int_value (b, run->started_us);
  json_builder_set_member_name (b, "finished_us");
  if (run->finished_us > 0)
    json_builder_add_int_value (b, run->finished_us);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "code_version");
  json_builder_add_string_value (b, run->code_version);
  json_builder_set_member_name (b, "host");
  json_builder_add_string_value (b, run->host);
  json_builder_set_member_name (b, "pid");
  json_builder_add_int_value (b, run->pid);
  json_builder_set_member_name (b, "config");
  json_builder_add_value (b, nfn_run_parse_object (run->config_json));
  json_builder_set_member_name (b, "summary");
  json_builder_add_value (b, nfn_run_parse_object (run->summary_json));
}

/* Up to three numbers from the summary, in the order the run wrote them: "acc=0.91 loss=0.3". */
static char *
runs_headline (const NfnRun *run)
{
  g_autoptr (JsonNode) summary = nfn_run_parse_object (run->summary_json);
  JsonObject *object = json_node_get_object (summary);
  g_autoptr (GString) line = g_string_new (NULL);
  g_autoptr (GList) members = json_object_get_members (object);
  int shown = 0;
  for (GList *m = members; m && shown < 3; m = m->next)
    {
      JsonNode *node = json_object_get_member (object, m->data);
      GType type = JSON_NODE_HOLDS_VALUE (node) ? json_node_get_value_type (node) : G_TYPE_INVALID;
      if (type != G_TYPE_INT64 && type != G_TYPE_DOUBLE)
        continue;
      char value[G_ASCII_DTOSTR_BUF_SIZE];
      g_ascii_formatd (value, sizeof value, "%.4g", json_node_get_double (node));
      g_string_append_printf (line, "%s%s=%s", shown ? " " : "", (const char *) m->data, value);
      shown++;
    }
  return g_string_free (g_steal_pointer (&line), FALSE);
}

/* A text table: rows of cells, columns padded to their widest cell (counted in characters,
 * not bytes, for names with non-ASCII letters). */
typedef struct {
  GPtrArray *rows; /* GPtrArray of char* cells */
} runs_table;

static void
runs_table_add (runs_table *table, ...)
{
  GPtrArray *row = g_ptr_array_new_with_free_func (g_free);
  va_list args;
  va_start (args, table);
  for (const char *cell; (cell = va_arg (args, const char *));)
    g_ptr_array_add (row, g_strdup (cell));
  va_end (args);
  g_ptr_array_add (table->rows, row);
}

static void
runs_table_add_row (runs_table *table, GPtrArray *cells)
{
  g_ptr_array_add (table->rows, cells);
}

static void
runs_table_print (runs_table *table, const char *indent)
{
  g_autoptr (GArray) widths = g_array_new (FALSE, TRUE, sizeof (glong));
  for (guint r = 0; r < table->rows->len; r++)
    {
      GPtrArray *row = g_ptr_array_index (table->rows, r);
      if (widths->len < row->len)
        g_array_set_size (widths, row->len);
      for (guint c = 0; c < row->len; c++)
        g_array_index (widths, glong, c) = MAX (g_array_index (widths, glong, c), g_utf8_strlen (g_ptr_array_index (row, c), -1));
    }
  for (guint r = 0; r < table->rows->len; r++)
    {
      GPtrArray *row = g_ptr_array_index (table->rows, r);
      g_autoptr (GString) line = g_string_new (indent);
      for (guint c = 0; c < row->len; c++)
        {
          const char *cell = g_ptr_array_index (row, c);
          g_string_append (line, cell);
          for (glong pad = g_utf8_strlen (cell, -1); pad < g_array_index (widths, glong, c) + 2; pad++)
            g_string_append_c (line, ' ');
        }
      g_strchomp (line->str);
      printf ("%s\n", line->str);
    }
  g_ptr_array_set_size (table->rows, 0);
}

static runs_table
runs_table_new (void)
{
  return (runs_table){ g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref) };
}

static void
runs_table_clear (runs_table *table)
{
  g_clear_pointer (&table->rows, g_ptr_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (runs_table, runs_table_clear)

/* ---- options and arguments every subcommand shares ---- */

static gboolean
runs_parse_id (const char *command, const char *text, gint64 *run)
{
  guint64 value;
  if (!g_ascii_string_to_unsigned (text, 10, 1, G_MAXINT64, &value, NULL))
    {
      nfn_cli_fail ("runs %s: \"%s\" is not a run id (a positive number; see nfn runs list)", command, text);
      return FALSE;
    }
  *run = (gint64) value;
  return TRUE;
}

/* The run, or NULL after printing "nfn: no run 42 in PATH" (or the store's fault). */
static NfnRun *
runs_get (NfnStore *store, gint64 id)
{
  g_autoptr (GError) error = NULL;
  NfnRun *run = nfn_store_get_run (store, id, &error);
  if (!run)
    {
      if (g_error_matches (error, NFN_DATA_ERROR, NFN_DATA_ERROR_NOT_FOUND))
        nfn_cli_fail ("no run %" G_GINT64_FORMAT " in %s", id, nfn_store_get_path (store));
      else
        nfn_cli_fail_error (error);
    }
  return run;
}

/* Parses a subcommand's options plus --db; the store is opened by the caller after its own
 * argument checks, so a usage mistake is reported as such and not as a store fault. */
static gboolean
runs_parse (const char *parameters, GOptionEntry *entries, char **db, int *argc, char ***argv)
{
  GOptionEntry db_entry[] = {
    { "db", 0, 0, G_OPTION_ARG_FILENAME, db, "Experiment store (default: the one in the XDG data directory)", "PATH" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (parameters);
  g_option_context_add_main_entries (context, db_entry, NULL);
  g_option_context_add_main_entries (context, entries, NULL);
  return nfn_cli_parse (context, argc, argv);
}

/* ---- nfn runs list ---- */

static int
runs_list (int argc, char **argv)
{
  g_autofree char *db = NULL, *task = NULL;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "task", 0, 0, G_OPTION_ARG_STRING, &task, "Only runs of this task", "TASK" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { NULL },
  };
  if (!runs_parse ("— the runs in the store, newest first", entries, &db, &argc, &argv))
    return 1;
  if (argc != 1)
    return nfn_cli_fail ("runs list: unexpected argument \"%s\" (see nfn runs list --help)", argv[1]);
  g_autoptr (NfnStore) store = nfn_cli_open_store (db, TRUE);
  if (!store)
    return 1;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) runs = nfn_store_list_runs (store, task, &error);
  if (!runs)
    return nfn_cli_fail_error (error);

  if (json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_array (b);
      for (guint k = 0; k < runs->len; k++)
        {
          json_builder_begin_object (b);
          runs_build_run_members (b, g_ptr_array_index (runs, k));
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      nfn_cli_print_json (b);
      return 0;
    }
  if (runs->len == 0)
    {
      printf ("no runs%s%s in %s\n", task ? " of task " : "", task ? task : "", nfn_store_get_path (store));
      return 0;
    }
  g_auto (runs_table) table = runs_table_new ();
  runs_table_add (&table, "id", "task", "model", "status", "started", "duration", "summary", NULL);
  for (guint k = 0; k < runs->len; k++)
    {
      NfnRun *run = g_ptr_array_index (runs, k);
      g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, run->id);
      g_autofree char *started = nfn_run_format_time (run->started_us);
      g_autofree char *duration = nfn_run_format_duration (run);
      g_autofree char *headline = runs_headline (run);
      runs_table_add (&table, id, run->task, run->model[0] ? run->model : "-", nfn_run_status_name (run->status), started,
                      duration, headline, NULL);
    }
  runs_table_print (&table, "");
  return 0;
}

/* ---- nfn runs show ---- */

static void
runs_print_section (const char *title, JsonNode *object)
{
  g_autoptr (NfnRunSection) section = nfn_run_section_new (title);
  nfn_run_section_add (section, object);
  printf ("\n%s\n", title);
  if (section->keys->len == 0)
    printf ("  (none)\n");
  g_auto (runs_table) table = runs_table_new ();
  for (guint k = 0; k < section->keys->len; k++)
    {
      const char *key = g_ptr_array_index (section->keys, k);
      g_autofree char *value = nfn_run_format_value (nfn_run_section_get (section, 0, key));
      runs_table_add (&table, key, value, NULL);
    }
  runs_table_print (&table, "  ");
}

static int
runs_show (int argc, char **argv)
{
  g_autofree char *db = NULL;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { NULL },
  };
  if (!runs_parse ("RUN — a run's configuration, status, times, summary, metrics and artifacts", entries, &db, &argc, &argv))
    return 1;
  if (argc != 2)
    return nfn_cli_fail ("runs show: expected one RUN id (see nfn runs show --help)");
  gint64 id;
  if (!runs_parse_id ("show", argv[1], &id))
    return 1;
  g_autoptr (NfnStore) store = nfn_cli_open_store (db, TRUE);
  if (!store)
    return 1;
  g_autoptr (NfnRun) run = runs_get (store, id);
  if (!run)
    return 1;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) metrics = nfn_store_run_metric_summaries (store, id, &error);
  g_autoptr (GPtrArray) artifacts = metrics ? nfn_store_run_artifacts (store, id, &error) : NULL;
  if (!artifacts)
    return nfn_cli_fail_error (error);

  if (json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      runs_build_run_members (b, run);
      json_builder_set_member_name (b, "metrics");
      json_builder_begin_array (b);
      for (guint k = 0; k < metrics->len; k++)
        {
          NfnMetricSummary *s = &g_array_index (metrics, NfnMetricSummary, k);
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "name");
          json_builder_add_string_value (b, s->name);
          json_builder_set_member_name (b, "count");
          json_builder_add_int_value (b, s->count);
          json_builder_set_member_name (b, "last_step");
          json_builder_add_int_value (b, s->last_step);
          json_builder_set_member_name (b, "last_value");
          runs_add_double (b, s->last_value);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_set_member_name (b, "artifacts");
      json_builder_begin_array (b);
      for (guint k = 0; k < artifacts->len; k++)
        {
          NfnArtifact *a = g_ptr_array_index (artifacts, k);
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "kind");
          json_builder_add_string_value (b, a->kind);
          json_builder_set_member_name (b, "path");
          json_builder_add_string_value (b, a->path);
          json_builder_set_member_name (b, "description");
          json_builder_add_string_value (b, a->description);
          json_builder_set_member_name (b, "created_us");
          json_builder_add_int_value (b, a->created_us);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
      nfn_cli_print_json (b);
      return 0;
    }

  printf ("run %" G_GINT64_FORMAT ": %s%s%s\n", run->id, run->task, run->model[0] ? ", model " : "", run->model);
  g_auto (runs_table) table = runs_table_new ();
  g_autofree char *seed = g_strdup_printf ("%" G_GUINT64_FORMAT, run->seed);
  g_autofree char *started = nfn_run_format_time (run->started_us);
  g_autofree char *finished = nfn_run_format_time (run->finished_us);
  g_autofree char *duration = nfn_run_format_duration (run);
  g_autofree char *host = g_strdup_printf ("%s (pid %" G_GINT64_FORMAT ")", run->host, run->pid);
  runs_table_add (&table, "experiment", run->experiment, NULL);
  runs_table_add (&table, "status", nfn_run_status_name (run->status), NULL);
  runs_table_add (&table, "seed", seed, NULL);
  runs_table_add (&table, "started", started, NULL);
  runs_table_add (&table, "finished", finished, NULL);
  runs_table_add (&table, "duration", duration, NULL);
  runs_table_add (&table, "code", run->code_version, NULL);
  runs_table_add (&table, "host", host, NULL);
  runs_table_print (&table, "  ");

  g_autoptr (JsonNode) config = nfn_run_parse_object (run->config_json);
  g_autoptr (JsonNode) summary = nfn_run_parse_object (run->summary_json);
  runs_print_section ("config", config);
  runs_print_section ("summary", summary);

  printf ("\nmetrics\n");
  if (metrics->len == 0)
    printf ("  (none)\n");
  else
    {
      runs_table_add (&table, "name", "points", "last step", "last value", NULL);
      for (guint k = 0; k < metrics->len; k++)
        {
          NfnMetricSummary *s = &g_array_index (metrics, NfnMetricSummary, k);
          g_autofree char *count = g_strdup_printf ("%" G_GINT64_FORMAT, s->count);
          g_autofree char *step = g_strdup_printf ("%" G_GINT64_FORMAT, s->last_step);
          g_autofree char *value = nfn_run_format_double (s->last_value);
          runs_table_add (&table, s->name, count, step, value, NULL);
        }
      runs_table_print (&table, "  ");
    }

  printf ("\nartifacts\n");
  if (artifacts->len == 0)
    printf ("  (none)\n");
  for (guint k = 0; k < artifacts->len; k++)
    {
      NfnArtifact *a = g_ptr_array_index (artifacts, k);
      runs_table_add (&table, a->kind, a->path, a->description, NULL);
    }
  runs_table_print (&table, "  ");
  return 0;
}

/* ---- nfn runs compare ---- */

static int
runs_compare (int argc, char **argv)
{
  g_autofree char *db = NULL;
  gboolean json = FALSE, diff_only = FALSE;
  GOptionEntry entries[] = {
    { "diff-only", 0, 0, G_OPTION_ARG_NONE, &diff_only, "Hide keys whose values are the same in every run", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { NULL },
  };
  if (!runs_parse ("RUN RUN… — configurations and summaries side by side", entries, &db, &argc, &argv))
    return 1;
  if (argc < 3)
    return nfn_cli_fail ("runs compare: expected two or more RUN ids (see nfn runs compare --help)");
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (int k = 1; k < argc; k++)
    {
      gint64 id;
      if (!runs_parse_id ("compare", argv[k], &id))
        return 1;
      g_array_append_val (ids, id);
    }
  g_autoptr (NfnStore) store = nfn_cli_open_store (db, TRUE);
  if (!store)
    return 1;

  /* the nodes the sections borrow from */
  g_autoptr (GPtrArray) nodes = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  NfnRunSection *sections[] = { nfn_run_section_new ("run"), nfn_run_section_new ("config"),
                                nfn_run_section_new ("summary") };
  int status = 0;
  for (guint r = 0; r < ids->len && status == 0; r++)
    {
      g_autoptr (NfnRun) run = runs_get (store, g_array_index (ids, gint64, r));
      if (!run)
        {
          status = 1;
          break;
        }
      JsonNode *parts[] = { nfn_run_identity_node (run), nfn_run_parse_object (run->config_json),
                            nfn_run_parse_object (run->summary_json) };
      for (guint s = 0; s < G_N_ELEMENTS (sections); s++)
        {
          g_ptr_array_add (nodes, parts[s]);
          nfn_run_section_add (sections[s], parts[s]);
        }
    }

  if (status == 0)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      g_auto (runs_table) table = runs_table_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "runs");
      json_builder_begin_array (b);
      GPtrArray *header = g_ptr_array_new_with_free_func (g_free);
      g_ptr_array_add (header, g_strdup (""));
      for (guint r = 0; r < ids->len; r++)
        {
          json_builder_add_int_value (b, g_array_index (ids, gint64, r));
          g_ptr_array_add (header, g_strdup_printf ("run %" G_GINT64_FORMAT, g_array_index (ids, gint64, r)));
        }
      json_builder_end_array (b);
      runs_table_add_row (&table, header);
      for (guint s = 0; s < G_N_ELEMENTS (sections); s++)
        {
          json_builder_set_member_name (b, sections[s]->title);
          json_builder_begin_object (b);
          runs_table_add (&table, sections[s]->title, NULL);
          for (guint k = 0; k < sections[s]->keys->len; k++)
            {
              const char *key = g_ptr_array_index (sections[s]->keys, k);
              if (diff_only && nfn_run_section_key_equal (sections[s], key))
                continue;
              json_builder_set_member_name (b, key);
              json_builder_begin_array (b);
              GPtrArray *row = g_ptr_array_new_with_free_func (g_free);
              g_ptr_array_add (row, g_strconcat ("  ", key, NULL));
              for (guint r = 0; r < ids->len; r++)
                {
                  JsonNode *node = nfn_run_section_get (sections[s], r, key);
                  if (node)
                    json_builder_add_value (b, json_node_copy (node));
                  else
                    json_builder_add_null_value (b);
                  g_ptr_array_add (row, node ? nfn_run_format_value (node) : g_strdup ("-"));
                }
              json_builder_end_array (b);
              runs_table_add_row (&table, row);
            }
          json_builder_end_object (b);
        }
      json_builder_end_object (b);
      if (json)
        nfn_cli_print_json (b);
      else
        runs_table_print (&table, "");
    }
  for (guint s = 0; s < G_N_ELEMENTS (sections); s++)
    nfn_run_section_free (sections[s]);
  return status;
}

/* ---- nfn runs export ---- */

static int
runs_export (int argc, char **argv)
{
  g_autofree char *db = NULL, *out = NULL;
  gboolean csv = FALSE, json = FALSE;
  GOptionEntry entries[] = {
    { "csv", 0, 0, G_OPTION_ARG_NONE, &csv, "CSV: step,name,value", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "JSON: an array of {step, name, value}", NULL },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Write to FILE instead of standard output", "FILE" },
    { NULL },
  };
  if (!runs_parse ("RUN --csv|--json — every metric point of a run, series by series", entries, &db, &argc, &argv))
    return 1;
  if (argc != 2 || csv == json)
    return nfn_cli_fail ("runs export: expected one RUN id and one of --csv, --json (see nfn runs export --help)");
  gint64 id;
  if (!runs_parse_id ("export", argv[1], &id))
    return 1;
  g_autoptr (NfnStore) store = nfn_cli_open_store (db, TRUE);
  if (!store)
    return 1;
  g_autoptr (NfnRun) run = runs_get (store, id);
  if (!run)
    return 1;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) names = nfn_store_run_metric_names (store, id, &error);
  if (!names)
    return nfn_cli_fail_error (error);

  guint points = 0;
  g_autoptr (GString) text = g_string_new (NULL);
  if (csv)
    {
      g_autofree char *table = nfn_store_run_metrics_csv (store, id, &points, &error);
      if (!table)
        return nfn_cli_fail_error (error);
      g_string_append (text, table);
    }
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  for (guint k = 0; json && k < names->len; k++)
    {
      const char *name = g_ptr_array_index (names, k);
      g_autoptr (GArray) series = nfn_store_run_metric (store, id, name, G_MININT64, &error);
      if (!series)
        return nfn_cli_fail_error (error);
      for (guint p = 0; p < series->len; p++)
        {
          NfnMetricPoint *point = &g_array_index (series, NfnMetricPoint, p);
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "step");
          json_builder_add_int_value (b, point->step);
          json_builder_set_member_name (b, "name");
          json_builder_add_string_value (b, name);
          json_builder_set_member_name (b, "value");
          runs_add_double (b, point->value);
          json_builder_end_object (b);
        }
      points += series->len;
    }
  json_builder_end_array (b);
  if (json)
    {
      g_autofree char *data = nfn_json_builder_to_text (b, TRUE);
      g_string_append_printf (text, "%s\n", data);
    }
  if (!out)
    {
      fwrite (text->str, 1, text->len, stdout);
      return 0;
    }
  if (!g_file_set_contents (out, text->str, (gssize) text->len, &error))
    return nfn_cli_fail_error (error);
  printf ("wrote %u points of run %" G_GINT64_FORMAT " to %s\n", points, id, out);
  return 0;
}

/* ---- dispatch ---- */

int
nfn_cli_runs (int argc, char **argv)
{
  static const struct {
    const char *name;
    int (*run) (int argc, char **argv);
  } subcommands[] = {
    { "list", runs_list },
    { "show", runs_show },
    { "compare", runs_compare },
    { "export", runs_export },
  };
  if (argc < 2)
    return nfn_cli_fail ("runs: expected list, show, compare or export (e.g. nfn runs list)");
  for (size_t k = 0; k < G_N_ELEMENTS (subcommands); k++)
    if (strcmp (argv[1], subcommands[k].name) == 0)
      {
        g_autofree char *prgname = g_strdup_printf ("nfn runs %s", subcommands[k].name);
        g_set_prgname (prgname);
        return subcommands[k].run (argc - 1, argv + 1);
      }
  return nfn_cli_fail ("runs: unknown subcommand \"%s\" (expected list, show, compare or export)", argv[1]);
}
