/* nfn_run_report.c — see nfn_run_report.h. */
#include "nfn_json.h"
#include "nfn_run_report.h"

#include <math.h>
#include <string.h>

JsonNode *
nfn_run_parse_object (const char *json)
{
  JsonNode *node = json ? json_from_string (json, NULL) : NULL;
  if (node && JSON_NODE_HOLDS_OBJECT (node))
    return node;
  if (node)
    json_node_unref (node);
  node = json_node_new (JSON_NODE_OBJECT);
  json_node_take_object (node, json_object_new ());
  return node;
}

JsonNode *
nfn_run_seed_node (guint64 seed)
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

JsonNode *
nfn_run_identity_node (const NfnRun *run)
{
  g_return_val_if_fail (run != NULL, NULL);
  JsonObject *identity = json_object_new ();
  json_object_set_string_member (identity, "experiment", run->experiment);
  json_object_set_string_member (identity, "task", run->task);
  json_object_set_string_member (identity, "model", run->model);
  json_object_set_string_member (identity, "status", nfn_run_status_name (run->status));
  json_object_set_member (identity, "seed", nfn_run_seed_node (run->seed));
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);
  json_node_take_object (node, identity);
  return node;
}

char *
nfn_run_format_double (double value)
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

char *
nfn_run_format_value (JsonNode *node)
{
  g_return_val_if_fail (node != NULL, NULL);
  if (JSON_NODE_HOLDS_VALUE (node))
    {
      GType type = json_node_get_value_type (node);
      /* an empty string must not read as a missing value or vanish from a table */
      if (type == G_TYPE_STRING)
        return g_strdup (json_node_get_string (node)[0] ? json_node_get_string (node) : "\"\"");
      if (type == G_TYPE_DOUBLE)
        return nfn_run_format_double (json_node_get_double (node));
    }
  return nfn_json_to_text (node, FALSE);
}

char *
nfn_run_format_time (gint64 unix_us)
{
  if (unix_us <= 0)
    return g_strdup ("-");
  g_autoptr (GDateTime) time = g_date_time_new_from_unix_local (unix_us / G_USEC_PER_SEC);
  return time ? g_date_time_format (time, "%Y-%m-%d %H:%M:%S") : g_strdup ("-");
}

char *
nfn_run_format_duration (const NfnRun *run)
{
  g_return_val_if_fail (run != NULL, NULL);
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

char *
nfn_run_display_name (const NfnRun *run)
{
  g_return_val_if_fail (run != NULL, NULL);
  if (run->name && run->name[0])
    return g_strdup (run->name);
  return g_strdup_printf ("run %" G_GINT64_FORMAT, run->id);
}

/* ---- sections ---- */

/* Adds every leaf under `node` to `leaves` (key → JsonNode, borrowed from `node`). */
static void
run_report_flatten (JsonNode *node, const char *prefix, GHashTable *leaves)
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
      run_report_flatten (json_object_get_member (object, m->data), key, leaves);
    }
}

/* g_ptr_array_sort order for char* elements */
static int
run_report_compare_keys (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

NfnRunSection *
nfn_run_section_new (const char *title)
{
  NfnRunSection *section = g_new0 (NfnRunSection, 1);
  section->title = g_strdup (title);
  section->per_run = g_ptr_array_new_with_free_func ((GDestroyNotify) g_hash_table_unref);
  section->keys = g_ptr_array_new ();
  return section;
}

void
nfn_run_section_free (NfnRunSection *section)
{
  if (!section)
    return;
  g_ptr_array_unref (section->keys);
  g_ptr_array_unref (section->per_run);
  g_free (section->title);
  g_free (section);
}

void
nfn_run_section_add (NfnRunSection *section, JsonNode *object)
{
  g_return_if_fail (section != NULL && object != NULL);
  GHashTable *leaves = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  run_report_flatten (object, NULL, leaves);
  g_ptr_array_add (section->per_run, leaves);

  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint k = 0; k < section->keys->len; k++)
    g_hash_table_add (seen, section->keys->pdata[k]);
  GHashTableIter iter;
  gpointer key;
  g_hash_table_iter_init (&iter, leaves);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (g_hash_table_add (seen, key))
      g_ptr_array_add (section->keys, key);
  g_ptr_array_sort (section->keys, run_report_compare_keys);
}

JsonNode *
nfn_run_section_get (const NfnRunSection *section, guint r, const char *key)
{
  g_return_val_if_fail (section != NULL && key != NULL, NULL);
  g_return_val_if_fail (r < section->per_run->len, NULL);
  return g_hash_table_lookup (g_ptr_array_index (section->per_run, r), key);
}

gboolean
nfn_run_section_key_equal (const NfnRunSection *section, const char *key)
{
  g_return_val_if_fail (section != NULL && key != NULL, FALSE);
  g_autofree char *first = NULL;
  for (guint r = 0; r < section->per_run->len; r++)
    {
      JsonNode *node = nfn_run_section_get (section, r, key);
      if (!node)
        return FALSE;
      g_autofree char *text = nfn_json_to_text (node, FALSE);
      if (!first)
        first = g_steal_pointer (&text);
      else if (strcmp (first, text) != 0)
        return FALSE;
    }
  return TRUE;
}

/* ---- CSV ---- */

/* A CSV field, quoted when it holds a separator, a quote or a line break (RFC 4180). */
static void
run_report_csv_field (GString *out, const char *text)
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

char *
nfn_store_run_metrics_csv (NfnStore *store, gint64 run, guint *points, GError **error)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_autoptr (GPtrArray) names = nfn_store_run_metric_names (store, run, error);
  if (!names)
    return NULL;
  g_autoptr (GString) text = g_string_new ("step,name,value\n");
  guint count = 0;
  for (guint k = 0; k < names->len; k++)
    {
      const char *name = g_ptr_array_index (names, k);
      g_autoptr (GArray) series = nfn_store_run_metric (store, run, name, G_MININT64, error);
      if (!series)
        return NULL;
      for (guint p = 0; p < series->len; p++)
        {
          NfnMetricPoint *point = &g_array_index (series, NfnMetricPoint, p);
          g_autofree char *value = nfn_run_format_double (point->value);
          g_string_append_printf (text, "%" G_GINT64_FORMAT ",", point->step);
          run_report_csv_field (text, name);
          g_string_append_printf (text, ",%s\n", value);
        }
      count += series->len;
    }
  if (points)
    *points = count;
  return g_string_free (g_steal_pointer (&text), FALSE);
}
