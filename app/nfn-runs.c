/* nfn-runs.c — `nfn runs list|show|compare|export`: the experiment store from the command line.
 *
 * Every subcommand takes --db PATH (default: the XDG store) and opens the store read-only: a
 * viewer never creates a store at a mistyped path and never waits on a live writer. Text output
 * is for people (aligned tables, local times); --json, --csv are for scripts and carry the full
 * values. A non-finite number (a diverged loss) is null in JSON, which has no NaN.
 */
#include "nfn-cli.h"

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

/* The shortest of %.15g, %.16g, %.17g that reads back as the same double: 0.1 prints as "0.1",
 * and a script reading the CSV still gets every bit. */
static char *
runs_format_double (double value)
{
  static const char *const formats[] = { "%.15g", "%.16g", "%.17g" };
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];
  for (guint k = 0; k < G_N_ELEMENTS (formats); k++)
    {
      g_ascii_formatd (buffer, sizeof buffer, formats[k], value);
      if (!isfinite (value) || g_ascii_strtod (buffer, NULL) == value)
        break;
    }
  return g_strdup (buffer);
}

static char *
runs_format_time (gint64 unix_us)
{
  if (unix_us <= 0)
    return g_strdup ("-");
  g_autoptr (GDateTime) time = g_date_time_new_from_unix_local (unix_us / G_USEC_PER_SEC);
  return time ? g_date_time_format (time, "%Y-%m-%d %H:%M:%S") : g_strdup ("-");
}

static char *
runs_format_duration (const NfnRun *run)
{
  if (run->finished_us <= 0)
    return g_strdup ("-");
  double seconds = (double) (run->finished_us - run->started_us) / G_USEC_PER_SEC;
  if (seconds < 60)
    return g_strdup_printf ("%.1fs", seconds);
  gint64 whole = (gint64) seconds;
  if (whole < 3600)
    return g_strdup_printf ("%" G_GINT64_FORMAT "m%02" G_GINT64_FORMAT "s", whole / 60, whole % 60);
  return g_strdup_printf ("%" G_GINT64_FORMAT "h%02" G_GINT64_FORMAT "m", whole / 3600, whole % 3600 / 60);
}

/* A stored JSON object (config, summary) as a node; the store only accepts objects, so a
 * failure here means the file was edited by hand: show an empty object. */
static JsonNode *
runs_parse_object (const char *json)
{
  JsonNode *node = json_from_string (json, NULL);
  if (node && JSON_NODE_HOLDS_OBJECT (node))
    return node;
  if (node)
    json_node_unref (node);
  node = json_node_new (JSON_NODE_OBJECT);
  json_node_take_object (node, json_object_new ());
  return node;
}

/* A value as a person reads it: strings bare, numbers short, everything else as JSON. */
static char *
runs_format_value (JsonNode *node)
{
  if (JSON_NODE_HOLDS_VALUE (node))
    {
      GType type = json_node_get_value_type (node);
      /* an empty string must not read as a missing value or vanish from a table */
      if (type == G_TYPE_STRING)
        return g_strdup (json_node_get_string (node)[0] ? json_node_get_string (node) : "\"\"");
      if (type == G_TYPE_DOUBLE)
        return runs_format_double (json_node_get_double (node));
    }
  return json_to_string (node, FALSE);
}

static void
runs_add_double (JsonBuilder *b, double value)
{
  if (isfinite (value))
    json_builder_add_double_value (b, value);
  else
    json_builder_add_null_value (b);
}

/* A seed is 64 unsigned bits; JSON integers here are signed, so the top half goes as text. */
static JsonNode *
runs_seed_node (guint64 seed)
{
  JsonNode *node = json_node_new (JSON_NODE_VALUE);
  if (seed <= G_MAXINT64)
    json_node_set_int (node, (gint64) seed);
  else
    {
      g_autofree char *text = g_strdup_printf ("%" G_GUINT64_FORMAT, seed);
      json_node_set_string (node, text);
    }
  return node;
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
  json_builder_add_value (b, runs_seed_node (run->seed));
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
  json_builder_add_value (b, runs_parse_object (run->config_json));
  json_builder_set_member_name (b, "summary");
  json_builder_add_value (b, runs_parse_object (run->summary_json));
}

/* Up to three numbers from the summary, in the order the run wrote them: "acc=0.91 loss=0.3". */
static char *
runs_headline (const NfnRun *run)
{
  g_autoptr (JsonNode) summary = runs_parse_object (run->summary_json);
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
      g_autofree char *started = runs_format_time (run->started_us);
      g_autofree char *duration = runs_format_duration (run);
      g_autofree char *headline = runs_headline (run);
      runs_table_add (&table, id, run->task, run->model[0] ? run->model : "-", nfn_run_status_name (run->status), started,
                      duration, headline, NULL);
    }
  runs_table_print (&table, "");
  return 0;
}

/* ---- flattening configs and summaries: {"opt": {"lr": 1}} → "opt.lr" = 1 ---- */

/* Adds every leaf under `node` to `leaves` (key → JsonNode, borrowed from `node`). Arrays are
 * leaves: widths [2, 32, 1] compare as one value. */
static void
runs_flatten (JsonNode *node, const char *prefix, GHashTable *leaves)
{
  if (!JSON_NODE_HOLDS_OBJECT (node) || (prefix && json_object_get_size (json_node_get_object (node)) == 0))
    {
      g_hash_table_insert (leaves, g_strdup (prefix ? prefix : ""), node);
      return;
    }
  JsonObject *object = json_node_get_object (node);
  g_autoptr (GList) members = json_object_get_members (object);
  for (GList *m = members; m; m = m->next)
    {
      g_autofree char *key = prefix ? g_strconcat (prefix, ".", m->data, NULL) : g_strdup (m->data);
      runs_flatten (json_object_get_member (object, m->data), key, leaves);
    }
}

/* g_ptr_array_sort order for char* elements */
static int
runs_compare_keys (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* One section of `show` or `compare` (config, summary, …): for each run, its flattened leaves. */
typedef struct {
  const char *title;
  GPtrArray *per_run; /* GHashTable* key → JsonNode* */
  GPtrArray *keys;    /* the union of keys, sorted */
} runs_section;

static runs_section
runs_section_new (const char *title)
{
  return (runs_section){
    .title = title,
    .per_run = g_ptr_array_new_with_free_func ((GDestroyNotify) g_hash_table_unref),
    .keys = g_ptr_array_new (),
  };
}

static void
runs_section_clear (runs_section *section)
{
  g_clear_pointer (&section->per_run, g_ptr_array_unref);
  g_clear_pointer (&section->keys, g_ptr_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (runs_section, runs_section_clear)

static void
runs_section_add_run (runs_section *section, JsonNode *object)
{
  GHashTable *leaves = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  runs_flatten (object, NULL, leaves);
  g_ptr_array_add (section->per_run, leaves);
}

static void
runs_section_collect_keys (runs_section *section)
{
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint r = 0; r < section->per_run->len; r++)
    {
      GHashTableIter iter;
      gpointer key;
      g_hash_table_iter_init (&iter, g_ptr_array_index (section->per_run, r));
      while (g_hash_table_iter_next (&iter, &key, NULL))
        if (g_hash_table_add (seen, key))
          g_ptr_array_add (section->keys, key);
    }
  g_ptr_array_sort (section->keys, runs_compare_keys);
}

/* All runs have the key, with the same JSON. A key some runs lack differs. */
static gboolean
runs_section_key_equal (runs_section *section, const char *key)
{
  g_autofree char *first = NULL;
  for (guint r = 0; r < section->per_run->len; r++)
    {
      JsonNode *node = g_hash_table_lookup (g_ptr_array_index (section->per_run, r), key);
      if (!node)
        return FALSE;
      g_autofree char *text = json_to_string (node, FALSE);
      if (!first)
        first = g_steal_pointer (&text);
      else if (strcmp (first, text) != 0)
        return FALSE;
    }
  return TRUE;
}

/* ---- nfn runs show ---- */

static void
runs_print_section (const char *title, JsonNode *object)
{
  g_auto (runs_section) section = runs_section_new (title);
  runs_section_add_run (&section, object);
  runs_section_collect_keys (&section);
  printf ("\n%s\n", title);
  if (section.keys->len == 0)
    printf ("  (none)\n");
  g_auto (runs_table) table = runs_table_new ();
  for (guint k = 0; k < section.keys->len; k++)
    {
      const char *key = g_ptr_array_index (section.keys, k);
      g_autofree char *value = runs_format_value (g_hash_table_lookup (g_ptr_array_index (section.per_run, 0), key));
      runs_table_add (&table, key, value, NULL);
    }
  runs_table_print (&table, "  ");
}

/* How many points a metric has, and its last one. */
typedef struct {
  char *name;
  guint count;
  gint64 last_step;
  double last_value;
} runs_metric_summary;

static void
runs_metric_summary_clear (gpointer element)
{
  g_free (((runs_metric_summary *) element)->name);
}

static GArray *
runs_metric_summaries (NfnStore *store, gint64 run, GError **error)
{
  g_autoptr (GPtrArray) names = nfn_store_run_metric_names (store, run, error);
  if (!names)
    return NULL;
  g_autoptr (GArray) summaries = g_array_new (FALSE, FALSE, sizeof (runs_metric_summary));
  g_array_set_clear_func (summaries, runs_metric_summary_clear);
  for (guint k = 0; k < names->len; k++)
    {
      g_autoptr (GArray) series = nfn_store_run_metric (store, run, g_ptr_array_index (names, k), G_MININT64, error);
      if (!series)
        return NULL;
      if (series->len == 0)
        continue;
      NfnMetricPoint *last = &g_array_index (series, NfnMetricPoint, series->len - 1);
      runs_metric_summary s = { g_strdup (g_ptr_array_index (names, k)), series->len, last->step, last->value };
      g_array_append_val (summaries, s);
    }
  return g_steal_pointer (&summaries);
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
  g_autoptr (GArray) metrics = runs_metric_summaries (store, id, &error);
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
          runs_metric_summary *s = &g_array_index (metrics, runs_metric_summary, k);
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
  g_autofree char *started = runs_format_time (run->started_us);
  g_autofree char *finished = runs_format_time (run->finished_us);
  g_autofree char *duration = runs_format_duration (run);
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

  g_autoptr (JsonNode) config = runs_parse_object (run->config_json);
  g_autoptr (JsonNode) summary = runs_parse_object (run->summary_json);
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
          runs_metric_summary *s = &g_array_index (metrics, runs_metric_summary, k);
          g_autofree char *count = g_strdup_printf ("%u", s->count);
          g_autofree char *step = g_strdup_printf ("%" G_GINT64_FORMAT, s->last_step);
          g_autofree char *value = runs_format_double (s->last_value);
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
  runs_section sections[] = { runs_section_new ("run"), runs_section_new ("config"), runs_section_new ("summary") };
  int status = 0;
  for (guint r = 0; r < ids->len && status == 0; r++)
    {
      g_autoptr (NfnRun) run = runs_get (store, g_array_index (ids, gint64, r));
      if (!run)
        {
          status = 1;
          break;
        }
      JsonObject *identity = json_object_new ();
      json_object_set_string_member (identity, "experiment", run->experiment);
      json_object_set_string_member (identity, "task", run->task);
      json_object_set_string_member (identity, "model", run->model);
      json_object_set_string_member (identity, "status", nfn_run_status_name (run->status));
      json_object_set_member (identity, "seed", runs_seed_node (run->seed));
      JsonNode *identity_node = json_node_new (JSON_NODE_OBJECT);
      json_node_take_object (identity_node, identity);
      JsonNode *parts[] = { identity_node, runs_parse_object (run->config_json), runs_parse_object (run->summary_json) };
      for (guint s = 0; s < G_N_ELEMENTS (sections); s++)
        {
          g_ptr_array_add (nodes, parts[s]);
          runs_section_add_run (&sections[s], parts[s]);
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
          runs_section_collect_keys (&sections[s]);
          json_builder_set_member_name (b, sections[s].title);
          json_builder_begin_object (b);
          runs_table_add (&table, sections[s].title, NULL);
          for (guint k = 0; k < sections[s].keys->len; k++)
            {
              const char *key = g_ptr_array_index (sections[s].keys, k);
              if (diff_only && runs_section_key_equal (&sections[s], key))
                continue;
              json_builder_set_member_name (b, key);
              json_builder_begin_array (b);
              GPtrArray *row = g_ptr_array_new_with_free_func (g_free);
              g_ptr_array_add (row, g_strconcat ("  ", key, NULL));
              for (guint r = 0; r < ids->len; r++)
                {
                  JsonNode *node = g_hash_table_lookup (g_ptr_array_index (sections[s].per_run, r), key);
                  if (node)
                    json_builder_add_value (b, json_node_copy (node));
                  else
                    json_builder_add_null_value (b);
                  g_ptr_array_add (row, node ? runs_format_value (node) : g_strdup ("-"));
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
    runs_section_clear (&sections[s]);
  return status;
}

/* ---- nfn runs export ---- */

/* A CSV field, quoted when it holds a separator, a quote or a line break (RFC 4180). */
static void
runs_csv_field (GString *out, const char *text)
{
  if (!strpbrk (text, ",\"\r\n"))
    {
      g_string_append (out, text);
      return;
    }
  g_string_append_c (out, '"');
  for (const char *c = text; *c; c++)
    {
      if (*c == '"')
        g_string_append_c (out, '"');
      g_string_append_c (out, *c);
    }
  g_string_append_c (out, '"');
}

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

  g_autoptr (GString) text = g_string_new (csv ? "step,name,value\n" : NULL);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  guint points = 0;
  for (guint k = 0; k < names->len; k++)
    {
      const char *name = g_ptr_array_index (names, k);
      g_autoptr (GArray) series = nfn_store_run_metric (store, id, name, G_MININT64, &error);
      if (!series)
        return nfn_cli_fail_error (error);
      for (guint p = 0; p < series->len; p++)
        {
          NfnMetricPoint *point = &g_array_index (series, NfnMetricPoint, p);
          if (csv)
            {
              g_autofree char *value = runs_format_double (point->value);
              g_string_append_printf (text, "%" G_GINT64_FORMAT ",", point->step);
              runs_csv_field (text, name);
              g_string_append_printf (text, ",%s\n", value);
            }
          else
            {
              json_builder_begin_object (b);
              json_builder_set_member_name (b, "step");
              json_builder_add_int_value (b, point->step);
              json_builder_set_member_name (b, "name");
              json_builder_add_string_value (b, name);
              json_builder_set_member_name (b, "value");
              runs_add_double (b, point->value);
              json_builder_end_object (b);
            }
        }
      points += series->len;
    }
  json_builder_end_array (b);
  if (json)
    {
      g_autoptr (JsonGenerator) generator = json_generator_new ();
      g_autoptr (JsonNode) root = json_builder_get_root (b);
      json_generator_set_root (generator, root);
      json_generator_set_pretty (generator, TRUE);
      g_autofree char *data = json_generator_to_data (generator, NULL);
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
