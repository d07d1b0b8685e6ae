/* nfn_model_file.c — nfn_model ↔ safetensors with the config in __metadata__ (see the header).
 *
 * Shape letters: the parameter blocks' own (rows, cols) as nfn_model_param_blocks lists them;
 * P parameters of the arena.
 */
#include "nfn_json.h"
#include "nfn_model_file.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void
nfn_model_file_info_clear (NfnModelFileInfo *info)
{
  g_clear_pointer (&info->task, g_free);
  g_clear_pointer (&info->class_names, g_strfreev);
  g_clear_pointer (&info->extra_json, g_free);
}

/* ---- config ↔ JSON ---- */

static const char *const activation_names[] = { "relu", "gelu" };
static const char *const output_names[] = { "logits", "weights" };

static void
add_int (JsonBuilder *b, const char *name, gint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

static void
add_double (JsonBuilder *b, const char *name, double value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_double_value (b, value);
}

/* A float field as the shortest decimal that reads back as the same float, so a config shows
 * 0.1 rather than 0.10000000149011612 and still round-trips exactly. */
static void
add_float (JsonBuilder *b, const char *name, float value)
{
  double shortest = value;
  for (int digits = 6; digits <= 9; digits++)
    {
      char format[8], text[G_ASCII_DTOSTR_BUF_SIZE];
      g_snprintf (format, sizeof format, "%%.%dg", digits);
      g_ascii_formatd (text, sizeof text, format, (double) value); /* '.' in every locale */
      double parsed = g_ascii_strtod (text, NULL);
      if ((float) parsed == value)
        {
          shortest = parsed;
          break;
        }
    }
  add_double (b, name, shortest);
}

static void
add_string (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, value);
}

static void
add_int_array (JsonBuilder *b, const char *name, const int *values, int n)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (int k = 0; k < n; k++)
    json_builder_add_int_value (b, values[k]);
  json_builder_end_array (b);
}

void
nfn_model_config_build_json (JsonBuilder *b, const nfn_model_config *cfg)
{
  json_builder_begin_object (b);
  add_string (b, "kind", nfn_model_kind_name (cfg->kind));
  json_builder_set_member_name (b, "space");
  json_builder_begin_object (b);
  add_int_array (b, "widths", cfg->space.n, cfg->space.L + 1);
  /* f_0 is unused; f_1 … f_L are the layers' filter positions */
  add_int_array (b, "filter_positions", cfg->space.f + 1, cfg->space.L);
  json_builder_end_object (b);
  add_int (b, "max_batch", cfg->max_batch);
  add_int (b, "fourier_m", cfg->fourier_m);
  add_double (b, "fourier_scale", cfg->fourier_scale);
  add_int (b, "io_bands", cfg->io_bands);
  add_int (b, "depth", cfg->depth);
  add_int (b, "channels", cfg->channels);
  /* per-layer widths only when some layer has its own: older readers still read the rest */
  gboolean per_layer = FALSE;
  for (int k = 0; k < cfg->depth && k < NFN_MODEL_MAX_DEPTH; k++)
    per_layer |= cfg->layer_channels[k] > 0;
  if (per_layer)
    {
      int widths[NFN_MODEL_MAX_DEPTH];
      for (int k = 0; k < cfg->depth; k++)
        widths[k] = nfn_model_layer_channels (cfg, k);
      add_int_array (b, "layer_channels", widths, cfg->depth);
    }
  add_float (b, "channel_dropout", cfg->channel_dropout);
  add_string (b, "activation", activation_names[cfg->activation]);
  add_int_array (b, "head_widths", cfg->head_widths, cfg->n_head);
  add_float (b, "head_dropout", cfg->head_dropout);
  if (cfg->pool_stats) /* only when on, as layer_channels */
    {
      json_builder_set_member_name (b, "pool_stats");
      json_builder_add_boolean_value (b, TRUE);
    }
  add_int (b, "n_out", cfg->n_out);
  add_string (b, "output", output_names[cfg->output]);
  add_int (b, "out_channels", cfg->out_channels);
  add_float (b, "out_scale", cfg->out_scale);
  json_builder_set_member_name (b, "input_grad");
  json_builder_add_boolean_value (b, cfg->input_grad != 0);
  json_builder_end_object (b);
}

char *
nfn_model_config_to_json (const nfn_model_config *cfg)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  nfn_model_config_build_json (b, cfg);
  return nfn_json_builder_to_text (b, FALSE);
}

static gboolean
config_fault (GError **error, const char *label, const char *format, ...) G_GNUC_PRINTF (3, 4);

static gboolean
config_fault (GError **error, const char *label, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *fault = g_strdup_vprintf (format, args);
  va_end (args);
  nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "model config: %s", fault);
  return FALSE;
}

static gboolean
json_member_int (JsonObject *o, const char *name, int lo, int hi, int *out, const char *label, GError **error)
{
  JsonNode *node = json_object_get_member (o, name);
  if (!node)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return config_fault (error, label, "\"%s\" is not an integer", name);
  gint64 v = json_node_get_int (node);
  if (v < lo || v > hi)
    return config_fault (error, label, "\"%s\" = %" G_GINT64_FORMAT " is outside [%d, %d]", name, v, lo, hi);
  *out = (int) v;
  return TRUE;
}

static gboolean
json_member_double (JsonObject *o, const char *name, double *out, const char *label, GError **error)
{
  JsonNode *node = json_object_get_member (o, name);
  if (!node)
    return TRUE;
  GType type = JSON_NODE_HOLDS_VALUE (node) ? json_node_get_value_type (node) : G_TYPE_INVALID;
  if (type != G_TYPE_DOUBLE && type != G_TYPE_INT64)
    return config_fault (error, label, "\"%s\" is not a number", name);
  *out = json_node_get_double (node);
  if (!isfinite (*out))
    return config_fault (error, label, "\"%s\" is not finite", name);
  return TRUE;
}

static gboolean
json_member_float (JsonObject *o, const char *name, float *out, const char *label, GError **error)
{
  double v = *out;
  if (!json_member_double (o, name, &v, label, error))
    return FALSE;
  *out = (float) v;
  return TRUE;
}

/* A member naming one of `names`; absent leaves *out. */
static gboolean
json_member_enum (JsonObject *o, const char *name, const char *const *names, int n, int *out, const char *label,
                  GError **error)
{
  JsonNode *node = json_object_get_member (o, name);
  if (!node)
    return TRUE;
  const char *s = JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING
                    ? json_node_get_string (node) : NULL;
  for (int k = 0; s && k < n; k++)
    if (strcmp (s, names[k]) == 0)
      {
        *out = k;
        return TRUE;
      }
  return config_fault (error, label, "\"%s\" is not one of the known values", name);
}

/* An array of 0 … max integers in [lo, hi]; returns the count, −1 on a fault. */
static int
json_member_int_array (JsonObject *o, const char *name, int max, int lo, int hi, int *out, const char *label,
                       GError **error)
{
  JsonNode *node = json_object_get_member (o, name);
  if (!node || !JSON_NODE_HOLDS_ARRAY (node))
    {
      config_fault (error, label, "\"%s\" is missing or not an array", name);
      return -1;
    }
  JsonArray *a = json_node_get_array (node);
  guint n = json_array_get_length (a);
  if (n > (guint) max)
    {
      config_fault (error, label, "\"%s\" has %u entries (at most %d)", name, n, max);
      return -1;
    }
  for (guint k = 0; k < n; k++)
    {
      JsonNode *e = json_array_get_element (a, k);
      if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_INT64 || json_node_get_int (e) < lo
          || json_node_get_int (e) > hi)
        {
          config_fault (error, label, "\"%s\"[%u] is not an integer in [%d, %d]", name, k, lo, hi);
          return -1;
        }
      out[k] = (int) json_node_get_int (e);
    }
  return (int) n;
}

/* An optional true/false member: *out keeps its value when the member is absent. */
static gboolean
json_member_bool (JsonObject *o, const char *name, int *out, const char *label, GError **error)
{
  if (!json_object_has_member (o, name))
    return TRUE;
  JsonNode *node = json_object_get_member (o, name);
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return config_fault (error, label, "\"%s\" is not true or false", name);
  *out = json_node_get_boolean (node);
  return TRUE;
}

gboolean
nfn_model_config_from_json_node (JsonNode *node, nfn_model_config *cfg, const char *label, GError **error)
{
  if (!node || !JSON_NODE_HOLDS_OBJECT (node))
    return config_fault (error, label, "not a JSON object");
  JsonObject *o = json_node_get_object (node);
  static const char *const known[] = { "kind", "space", "max_batch", "fourier_m", "fourier_scale", "io_bands",
                                       "depth", "channels", "layer_channels", "channel_dropout", "activation", "head_widths",
                                       "head_dropout", "pool_stats", "n_out", "output", "out_channels", "out_scale",
                                       "input_grad" };
  g_autoptr (GList) members = json_object_get_members (o);
  for (GList *l = members; l; l = l->next)
    {
      gboolean found = FALSE;
      for (guint k = 0; k < G_N_ELEMENTS (known) && !found; k++)
        found = strcmp (l->data, known[k]) == 0;
      if (!found)
        {
          g_autofree char *quoted = nfn_data_quote (l->data);
          return config_fault (error, label, "unknown field %s (a model from a newer nfn?)", quoted);
        }
    }

  const char *kind_name = json_object_has_member (o, "kind") ? json_object_get_string_member_with_default (o, "kind", NULL) : NULL;
  nfn_model_kind kind;
  if (!kind_name || !nfn_model_kind_parse (kind_name, &kind))
    return config_fault (error, label, "\"kind\" is missing or not np|hnp|pointwise|mlp|stat");
  JsonObject *so = json_object_has_member (o, "space") ? json_object_get_object_member (o, "space") : NULL;
  if (!so)
    return config_fault (error, label, "\"space\" is missing or not an object");
  int widths[NFN_MAX_LAYERS + 1], f[NFN_MAX_LAYERS];
  int n_widths = json_member_int_array (so, "widths", NFN_MAX_LAYERS + 1, 1, 1 << 20, widths, label, error);
  if (n_widths < 0)
    return FALSE;
  int n_f = json_member_int_array (so, "filter_positions", NFN_MAX_LAYERS, 1, 1 << 10, f, label, error);
  if (n_f < 0)
    return FALSE;
  if (n_widths < 2 || n_f != n_widths - 1)
    return config_fault (error, label, "\"space\" needs L + 1 ≥ 2 widths and L filter positions");
  nfn_space space;
  if (nfn_space_init (&space, n_widths - 1, widths) != NFN_OK)
    return config_fault (error, label, "\"space\" is not a valid weight space");
  for (int i = 1; i <= space.L; i++)
    space.f[i] = f[i - 1];

  int n_out = 1;
  if (!json_member_int (o, "n_out", 0, 1 << 20, &n_out, label, error))
    return FALSE;
  nfn_model_config_default (cfg, kind, &space, n_out);
  int activation = cfg->activation, output = cfg->output, input_grad = cfg->input_grad;
  if (!json_member_int (o, "max_batch", 1, 1 << 20, &cfg->max_batch, label, error)
      || !json_member_int (o, "fourier_m", 0, 1 << 16, &cfg->fourier_m, label, error)
      || !json_member_double (o, "fourier_scale", &cfg->fourier_scale, label, error)
      || !json_member_int (o, "io_bands", 0, 1 << 10, &cfg->io_bands, label, error)
      || !json_member_int (o, "depth", 0, NFN_MODEL_MAX_DEPTH, &cfg->depth, label, error)
      || !json_member_int (o, "channels", 0, 1 << 16, &cfg->channels, label, error)
      || !json_member_float (o, "channel_dropout", &cfg->channel_dropout, label, error)
      || !json_member_enum (o, "activation", activation_names, G_N_ELEMENTS (activation_names), &activation, label, error)
      || !json_member_float (o, "head_dropout", &cfg->head_dropout, label, error)
      || !json_member_enum (o, "output", output_names, G_N_ELEMENTS (output_names), &output, label, error)
      || !json_member_int (o, "out_channels", 0, 1 << 16, &cfg->out_channels, label, error)
      || !json_member_float (o, "out_scale", &cfg->out_scale, label, error))
    return FALSE;
  if (json_object_has_member (o, "head_widths"))
    {
      int n_head = json_member_int_array (o, "head_widths", NFN_MODEL_MAX_HEAD, 1, 1 << 20, cfg->head_widths, label, error);
      if (n_head < 0)
        return FALSE;
      cfg->n_head = n_head;
    }
  if (json_object_has_member (o, "layer_channels"))
    {
      int n = json_member_int_array (o, "layer_channels", NFN_MODEL_MAX_DEPTH, 1, 1 << 16, cfg->layer_channels, label,
                                     error);
      if (n < 0)
        return FALSE;
      if (n != cfg->depth)
        return config_fault (error, label, "\"layer_channels\" has %d widths for %d layers", n, cfg->depth);
    }
  if (!json_member_bool (o, "input_grad", &input_grad, label, error)
      || !json_member_bool (o, "pool_stats", &cfg->pool_stats, label, error))
    return FALSE;
  cfg->activation = (nfn_model_activation) activation;
  cfg->output = (nfn_model_output) output;
  cfg->input_grad = input_grad;
  if (nfn_model_config_check (cfg) != NFN_OK)
    return config_fault (error, label, "the fields do not make a valid model (%s)", nfn_model_kind_name (kind));
  return TRUE;
}

gboolean
nfn_model_config_from_json (const char *json, nfn_model_config *cfg, const char *label, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local = NULL;
  if (!json || !json_parser_load_from_data (parser, json, -1, &local))
    return config_fault (error, label, "not valid JSON");
  return nfn_model_config_from_json_node (json_parser_get_root (parser), cfg, label, error);
}

/* ---- the file ---- */

/* The model's blocks (allocated), in arena order. */
static nfn_model_param_block *
model_blocks (const nfn_model *model, int *n)
{
  *n = nfn_model_param_blocks (model, NULL, 0);
  nfn_model_param_block *blocks = g_new0 (nfn_model_param_block, MAX (*n, 1));
  nfn_model_param_blocks (model, blocks, *n);
  return blocks;
}

NfnSafetensors *
nfn_model_to_safetensors (nfn_model *model, const NfnModelFileInfo *info)
{
  g_return_val_if_fail (model != NULL, NULL);
  NfnSafetensors *st = nfn_safetensors_new ();
  const float *params = nfn_model_params (model);
  int n;
  g_autofree nfn_model_param_block *blocks = model_blocks (model, &n);
  for (int k = 0; k < n; k++)
    {
      const nfn_model_param_block *blk = &blocks[k];
      gint64 shape[2] = { blk->shape[0], blk->shape[1] };
      const float *src = params + blk->offset;
      if (!blk->transposed)
        {
          nfn_safetensors_add (st, blk->name, blk->rank, shape, src);
          continue;
        }
      /* the arena holds (cols, rows): PyTorch's Linear keeps (out, in) */
      int rows = blk->shape[0], cols = blk->shape[1];
      g_autofree float *t = g_new (float, (gsize) rows * cols);
      for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
          t[(size_t) r * cols + c] = src[(size_t) c * rows + r];
      nfn_safetensors_add (st, blk->name, blk->rank, shape, t);
    }
  nfn_safetensors_set_metadata (st, "nfn.format", NFN_MODEL_FILE_FORMAT);
  g_autofree char *version = g_strdup_printf ("%d", NFN_MODEL_FILE_VERSION);
  nfn_safetensors_set_metadata (st, "nfn.version", version);
  g_autofree char *config = nfn_model_config_to_json (nfn_model_get_config (model));
  nfn_safetensors_set_metadata (st, "nfn.model", config);
  nfn_safetensors_set_metadata (st, "nfn.task", info && info->task ? info->task : "classify");
  if (info && info->class_names)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_array (b);
      for (char **name = info->class_names; *name; name++)
        json_builder_add_string_value (b, *name);
      json_builder_end_array (b);
      g_autofree char *text = nfn_json_builder_to_text (b, FALSE);
      nfn_safetensors_set_metadata (st, "nfn.classes", text);
    }
  if (info && info->extra_json)
    nfn_safetensors_set_metadata (st, "nfn.extra", info->extra_json);
  return st;
}

static gboolean
file_fault (GError **error, NfnDataError code, const char *label, const char *format, ...) G_GNUC_PRINTF (4, 5);

static gboolean
file_fault (GError **error, NfnDataError code, const char *label, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *fault = g_strdup_vprintf (format, args);
  va_end (args);
  nfn_data_set_error (error, code, label, "%s", fault);
  return FALSE;
}

/* The metadata beyond the config: task, class names (n_out of them), extra JSON. */
static gboolean
read_info (const NfnSafetensors *st, const nfn_model_config *cfg, const char *label, NfnModelFileInfo *info,
           GError **error)
{
  const char *task = nfn_safetensors_get_metadata (st, "nfn.task");
  const char *classes = nfn_safetensors_get_metadata (st, "nfn.classes");
  const char *extra = nfn_safetensors_get_metadata (st, "nfn.extra");
  g_auto (GStrv) names = NULL;
  if (classes)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();
      if (!json_parser_load_from_data (parser, classes, -1, NULL) || !JSON_NODE_HOLDS_ARRAY (json_parser_get_root (parser)))
        return file_fault (error, NFN_DATA_ERROR_FORMAT, label, "nfn.classes is not a JSON array of names");
      JsonArray *a = json_node_get_array (json_parser_get_root (parser));
      guint n = json_array_get_length (a);
      if (cfg->output != NFN_MODEL_OUT_LOGITS || n != (guint) cfg->n_out)
        return file_fault (error, NFN_DATA_ERROR_FORMAT, label, "nfn.classes names %u classes but the model has %d outputs",
                           n, cfg->n_out);
      names = g_new0 (char *, n + 1);
      for (guint k = 0; k < n; k++)
        {
          JsonNode *e = json_array_get_element (a, k);
          if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_STRING)
            return file_fault (error, NFN_DATA_ERROR_FORMAT, label, "nfn.classes[%u] is not a string", k);
          names[k] = g_strdup (json_node_get_string (e));
        }
    }
  if (extra)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();
      if (!json_parser_load_from_data (parser, extra, -1, NULL) || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        return file_fault (error, NFN_DATA_ERROR_FORMAT, label, "nfn.extra is not a JSON object");
    }
  if (info)
    {
      memset (info, 0, sizeof *info);
      info->task = g_strdup (task ? task : "classify");
      info->class_names = g_steal_pointer (&names);
      info->extra_json = g_strdup (extra);
    }
  return TRUE;
}

nfn_model *
nfn_model_from_safetensors (const NfnSafetensors *st, const char *label, int max_batch, NfnModelFileInfo *info,
                            GError **error)
{
  g_return_val_if_fail (st != NULL && label != NULL, NULL);
  const char *format = nfn_safetensors_get_metadata (st, "nfn.format");
  if (g_strcmp0 (format, NFN_MODEL_FILE_FORMAT) != 0)
    {
      file_fault (error, NFN_DATA_ERROR_FORMAT, label, "not an nfn model (no nfn.format \"%s\" in its metadata)",
                  NFN_MODEL_FILE_FORMAT);
      return NULL;
    }
  const char *version = nfn_safetensors_get_metadata (st, "nfn.version");
  if (!version || atoi (version) != NFN_MODEL_FILE_VERSION)
    {
      file_fault (error, NFN_DATA_ERROR_UNSUPPORTED, label, "model file version %s; this nfn reads version %d (retrain or upgrade nfn)",
                  version ? version : "(none)", NFN_MODEL_FILE_VERSION);
      return NULL;
    }
  nfn_model_config cfg;
  const char *config = nfn_safetensors_get_metadata (st, "nfn.model");
  if (!config)
    {
      file_fault (error, NFN_DATA_ERROR_FORMAT, label, "no nfn.model config in its metadata");
      return NULL;
    }
  if (!nfn_model_config_from_json (config, &cfg, label, error) || !read_info (st, &cfg, label, NULL, error))
    return NULL;
  if (max_batch > 0)
    cfg.max_batch = max_batch;
  nfn_model *model;
  nfn_status status = nfn_model_new (&cfg, 0, &model);
  if (status != NFN_OK)
    {
      file_fault (error, NFN_DATA_ERROR_UNSUPPORTED, label, "cannot build the model: %s", nfn_status_message (status));
      return NULL;
    }
  int n;
  g_autofree nfn_model_param_block *blocks = model_blocks (model, &n);
  const char *fault_name = NULL;
  g_autofree char *fault = NULL;
  if ((int) st->tensors->len != n)
    fault = g_strdup_printf ("it holds %u tensors; its config implies %d", st->tensors->len, n);
  float *params = nfn_model_params (model);
  for (int k = 0; !fault && k < n; k++)
    {
      const nfn_model_param_block *blk = &blocks[k];
      const NfnTensor *t = nfn_safetensors_find (st, blk->name);
      fault_name = blk->name;
      if (!t)
        fault = g_strdup ("is missing");
      else if (t->rank != blk->rank || t->shape[0] != blk->shape[0] || (blk->rank == 2 && t->shape[1] != blk->shape[1]))
        {
          gint64 want[2] = { blk->shape[0], blk->shape[1] };
          g_autofree char *have_s = nfn_data_format_index (t->shape, t->rank);
          g_autofree char *want_s = nfn_data_format_index (want, blk->rank);
          fault = g_strdup_printf ("has shape %s; the config implies %s", have_s, want_s);
        }
      else
        {
          for (gsize e = 0; e < t->numel && !fault; e++)
            if (!isfinite (t->data[e]))
              fault = g_strdup_printf ("has a non-finite value at flat index %zu", e);
          if (fault)
            break;
          float *dst = params + blk->offset;
          if (!blk->transposed)
            memcpy (dst, t->data, t->numel * sizeof (float));
          else
            for (int r = 0; r < blk->shape[0]; r++)
              for (int c = 0; c < blk->shape[1]; c++)
                dst[(size_t) c * blk->shape[0] + r] = t->data[(size_t) r * blk->shape[1] + c];
        }
    }
  if (fault)
    {
      g_autofree char *quoted = fault_name && !strstr (fault, "tensors;") ? nfn_data_quote (fault_name) : NULL;
      file_fault (error, NFN_DATA_ERROR_SHAPE, label, "%s%s%s%s", quoted ? "tensor " : "", quoted ? quoted : "",
                  quoted ? " " : "", fault);
      nfn_model_free (model);
      return NULL;
    }
  if (info && !read_info (st, &cfg, label, info, error))
    {
      nfn_model_free (model);
      return NULL;
    }
  return model;
}

gboolean
nfn_model_file_save (nfn_model *model, const NfnModelFileInfo *info, const char *path, GError **error)
{
  g_autoptr (NfnSafetensors) st = nfn_model_to_safetensors (model, info);
  return nfn_safetensors_save (st, path, error);
}

nfn_model *
nfn_model_file_load (const char *path, int max_batch, NfnModelFileInfo *info, GError **error)
{
  g_autoptr (NfnSafetensors) st = nfn_safetensors_load (path, error);
  if (!st)
    return NULL;
  return nfn_model_from_safetensors (st, path, max_batch, info, error);
}
