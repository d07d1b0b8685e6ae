/* nfn_zoo.c — zoo directories: the manifest, shards, resumable building and reading back.
 *
 * Shape letters: K networks in a shard, B networks in a loaded range, n_i widths, N pixels,
 * M per-network metrics. A shard's layer tensors are exactly a C = 1 nfn_feature's blocks —
 * (K, n_i, n_{i-1}[, kh, kw]) and (K, n_i) — so writing and reading copy whole blocks.
 * The shard loop (nfn_zoo_build) knows nothing of what builds a shard: SIREN fitting is one
 * NfnZooBuilder (below), CNN training another (nfn_cnn_zoo.c).
 */
#include "nfn_json.h"
#include "nfn_zoo.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "nfn_datasets.h"

#define ZOO_MANIFEST "zoo.json"

/* A SIREN fit's metrics, in NfnZooEntry's terms. */
static const char *const zoo_entry_tensors[] = { "label", "psnr", "source_index", "refit", NULL };
enum { ZOO_LABEL, ZOO_PSNR, ZOO_SOURCE_INDEX, ZOO_REFIT, ZOO_N_ENTRY_TENSORS };

void
nfn_zoo_settings_init (NfnZooSettings *settings)
{
  memset (settings, 0, sizeof *settings);
  settings->dataset = g_strdup ("fashion-mnist");
  settings->split = g_strdup ("train");
  settings->steps = NFN_FIT_DEFAULT_STEPS;
  settings->lr = NFN_FIT_DEFAULT_LR;
  settings->shard_size = NFN_ZOO_DEFAULT_SHARD_SIZE;
  settings->rows = settings->cols = 28;
  nfn_fit_default_arch (&settings->arch);
}

void
nfn_zoo_settings_clear (NfnZooSettings *settings)
{
  g_clear_pointer (&settings->dataset, g_free);
  g_clear_pointer (&settings->split, g_free);
  g_clear_pointer (&settings->kind, g_free);
  g_clear_pointer (&settings->metrics, g_strfreev);
  g_clear_pointer (&settings->training_json, g_free);
}

const char *
nfn_zoo_settings_kind (const NfnZooSettings *settings)
{
  return settings->kind ? settings->kind : NFN_ZOO_KIND_SIREN_FIT;
}

static gboolean
zoo_is_siren_fit (const NfnZooSettings *s)
{
  return strcmp (nfn_zoo_settings_kind (s), NFN_ZOO_KIND_SIREN_FIT) == 0;
}

const char *const *
nfn_zoo_settings_metrics (const NfnZooSettings *settings)
{
  return settings->metrics ? (const char *const *) settings->metrics : zoo_entry_tensors;
}

static int
zoo_metric_count (const NfnZooSettings *s)
{
  return (int) g_strv_length ((char **) nfn_zoo_settings_metrics (s));
}

/* Index of metric `name`, or −1. */
static int
zoo_metric_index (const NfnZooSettings *s, const char *name)
{
  const char *const *names = nfn_zoo_settings_metrics (s);
  for (int m = 0; names[m]; m++)
    if (strcmp (names[m], name) == 0)
      return m;
  return -1;
}

gint64
nfn_zoo_settings_networks (const NfnZooSettings *settings)
{
  return (gint64) settings->count * (1 + settings->refits);
}

static int
zoo_shard_count (const NfnZooSettings *s)
{
  gint64 networks = nfn_zoo_settings_networks (s);
  return (int) ((networks + s->shard_size - 1) / s->shard_size);
}

/* Networks [*first, *last) of shard k. */
static void
zoo_shard_range (const NfnZooSettings *s, int shard, gint64 *first, gint64 *last)
{
  *first = (gint64) shard * s->shard_size;
  *last = MIN (*first + s->shard_size, nfn_zoo_settings_networks (s));
}

static char *
zoo_shard_path (const char *dir, int shard)
{
  g_autofree char *name = g_strdup_printf ("shard-%05d.safetensors", shard);
  return g_build_filename (dir, name, NULL);
}

/* Layer tensor t's name and shape in a shard of K networks: conv kernels keep PyTorch's
 * (out, in, kh, kw), so a shard is a batched state dict. Returns the rank. */
static int
zoo_layer_tensor (const nfn_arch *arch, int t, gint64 K, char **name, gint64 shape[5])
{
  const nfn_space *space = &arch->space;
  int i = nfn_tensor_layer (t);
  *name = g_strdup_printf ("layers.%d.%s", i - 1, nfn_tensor_is_bias (t) ? "bias" : "weight");
  shape[0] = K;
  shape[1] = space->n[i];
  if (nfn_tensor_is_bias (t))
    return 2;
  shape[2] = space->n[i - 1];
  if (space->f[i] == 1)
    return 3;
  shape[3] = arch->kh;
  shape[4] = arch->kw;
  return 5;
}

/* ---- The manifest ---- */

static void
zoo_add_arch (JsonBuilder *b, const nfn_arch *arch)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "kind");
  json_builder_add_string_value (b, nfn_net_kind_name (arch->kind));
  json_builder_set_member_name (b, "widths");
  json_builder_begin_array (b);
  for (int i = 0; i <= arch->space.L; i++)
    json_builder_add_int_value (b, arch->space.n[i]);
  json_builder_end_array (b);
  if (arch->kind == NFN_NET_SIREN)
    {
      json_builder_set_member_name (b, "omega0");
      json_builder_add_double_value (b, arch->omega0);
    }
  else
    {
      json_builder_set_member_name (b, "activation");
      json_builder_add_string_value (b, nfn_activation_name (arch->act));
    }
  if (arch->kind == NFN_NET_CNN)
    {
      const char *names[] = { "n_conv", "kernel", "stride", "padding", "in_h", "in_w" };
      const int values[] = { arch->n_conv, arch->kh, arch->stride, arch->padding, arch->in_h, arch->in_w };
      for (size_t k = 0; k < G_N_ELEMENTS (names); k++)
        {
          json_builder_set_member_name (b, names[k]);
          json_builder_add_int_value (b, values[k]);
        }
    }
  json_builder_end_object (b);
}

static char *
zoo_arch_json (const nfn_arch *arch)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  zoo_add_arch (b, arch);
  return nfn_json_builder_to_text (b, FALSE);
}

/* A JSON object text as this file writes it (compact), so that two texts of one object
 * compare equal; NULL when it is not an object. */
static char *
zoo_normalize_json (const char *text)
{
  g_autoptr (JsonNode) node = text ? json_from_string (text, NULL) : NULL;
  if (!node || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  return nfn_json_to_text (node, FALSE);
}

static char *
zoo_manifest_json (const NfnZooSettings *s, gboolean pretty)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  gboolean siren = zoo_is_siren_fit (s);
  json_builder_begin_object (b);
#define MEMBER(name) json_builder_set_member_name (b, name)
  MEMBER ("format"); json_builder_add_string_value (b, NFN_ZOO_FORMAT);
  MEMBER ("version"); json_builder_add_int_value (b, NFN_ZOO_VERSION);
  MEMBER ("kind"); json_builder_add_string_value (b, nfn_zoo_settings_kind (s));
  MEMBER ("architecture"); zoo_add_arch (b, &s->arch);
  MEMBER ("dataset"); json_builder_add_string_value (b, s->dataset);
  MEMBER ("split"); json_builder_add_string_value (b, s->split);
  MEMBER ("count"); json_builder_add_int_value (b, s->count);
  MEMBER ("refits"); json_builder_add_int_value (b, s->refits);
  MEMBER ("networks"); json_builder_add_int_value (b, nfn_zoo_settings_networks (s));
  if (siren)
    {
      MEMBER ("steps"); json_builder_add_int_value (b, s->steps);
      MEMBER ("lr"); json_builder_add_double_value (b, s->lr);
    }
  MEMBER ("seed"); json_builder_add_int_value (b, (gint64) s->seed);
  MEMBER ("shard_size"); json_builder_add_int_value (b, s->shard_size);
  MEMBER ("rows"); json_builder_add_int_value (b, s->rows);
  MEMBER ("cols"); json_builder_add_int_value (b, s->cols);
  MEMBER ("metrics");
  json_builder_begin_array (b);
  for (const char *const *m = nfn_zoo_settings_metrics (s); *m; m++)
    json_builder_add_string_value (b, *m);
  json_builder_end_array (b);
  if (siren)
    {
      MEMBER ("coordinates"); json_builder_add_string_value (b, "(x, y) = (linspace(-1, 1)[col], linspace(-1, 1)[row])");
      MEMBER ("targets"); json_builder_add_string_value (b, "2 * pixel - 1, pixels in [0, 1]");
      MEMBER ("order"); json_builder_add_string_value (b, "network n: image n / (1 + refits), refit n % (1 + refits)");
    }
  else if (s->training_json)
    {
      MEMBER ("training");
      json_builder_add_value (b, json_from_string (s->training_json, NULL));
    }
#undef MEMBER
  json_builder_end_object (b);
  return nfn_json_builder_to_text (b, pretty);
}

static gboolean
zoo_get_int (JsonObject *o, const char *name, gint64 min, gint64 *out, const char *label, GError **error)
{
  JsonNode *node = json_object_get_member (o, name);
  if (!node || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64
      || json_node_get_int (node) < min)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "\"%s\" is missing or not an integer ≥ %" G_GINT64_FORMAT,
                          name, min);
      return FALSE;
    }
  *out = json_node_get_int (node);
  return TRUE;
}

static const char *
zoo_get_string (JsonObject *o, const char *name, const char *label, GError **error)
{
  JsonNode *node = json_object_get_member (o, name);
  if (!node || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "\"%s\" is missing or not a string", name);
      return NULL;
    }
  return json_node_get_string (node);
}

/* An int member of the architecture in [1, 1 << 20] (0 allowed for "padding"). */
static gboolean
zoo_arch_int (JsonObject *a, const char *name, int *out)
{
  JsonNode *v = json_object_get_member (a, name);
  gint64 min = strcmp (name, "padding") == 0 ? 0 : 1;
  if (!v || !JSON_NODE_HOLDS_VALUE (v) || json_node_get_value_type (v) != G_TYPE_INT64 || json_node_get_int (v) < min
      || json_node_get_int (v) > 1 << 20)
    return FALSE;
  *out = (int) json_node_get_int (v);
  return TRUE;
}

static gboolean
zoo_parse_arch (JsonObject *o, nfn_arch *arch, const char *label, GError **error)
{
  JsonNode *node = json_object_get_member (o, "architecture");
  JsonObject *a = node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  JsonNode *widths_node = a ? json_object_get_member (a, "widths") : NULL;
  JsonArray *widths = widths_node && JSON_NODE_HOLDS_ARRAY (widths_node) ? json_node_get_array (widths_node) : NULL;
  JsonNode *omega = a ? json_object_get_member (a, "omega0") : NULL;
  JsonNode *kind_node = a ? json_object_get_member (a, "kind") : NULL;
  JsonNode *act_node = a ? json_object_get_member (a, "activation") : NULL;
  const char *kind_name = kind_node && JSON_NODE_HOLDS_VALUE (kind_node)
                                  && json_node_get_value_type (kind_node) == G_TYPE_STRING
                              ? json_node_get_string (kind_node) : NULL;
  const char *act_name = act_node && JSON_NODE_HOLDS_VALUE (act_node)
                                 && json_node_get_value_type (act_node) == G_TYPE_STRING
                             ? json_node_get_string (act_node) : NULL;
  nfn_net_kind kind = NFN_NET_SIREN;
  nfn_activation act = NFN_ACT_RELU;
  int n[NFN_MAX_LAYERS + 1];
  guint L = widths ? json_array_get_length (widths) : 0;
  gboolean ok = kind_name && nfn_net_kind_parse (kind_name, &kind) && L >= 2 && L <= NFN_MAX_LAYERS + 1;
  for (guint i = 0; ok && i < L; i++)
    {
      JsonNode *w = json_array_get_element (widths, i);
      ok = JSON_NODE_HOLDS_VALUE (w) && json_node_get_value_type (w) == G_TYPE_INT64 && json_node_get_int (w) >= 1
           && json_node_get_int (w) <= 1 << 20;
      if (ok)
        n[i] = (int) json_node_get_int (w);
    }
  if (ok && kind == NFN_NET_SIREN)
    ok = omega && JSON_NODE_HOLDS_VALUE (omega)
         && nfn_arch_siren (arch, (int) L - 1, n, (float) json_node_get_double (omega)) == NFN_OK;
  else if (ok)
    ok = act_name && nfn_activation_parse (act_name, &act);
  if (ok && kind == NFN_NET_MLP)
    ok = nfn_arch_mlp (arch, (int) L - 1, n, act) == NFN_OK;
  if (ok && kind == NFN_NET_CNN)
    {
      int n_conv, k, stride, padding, in_h, in_w;
      ok = zoo_arch_int (a, "n_conv", &n_conv) && zoo_arch_int (a, "kernel", &k) && zoo_arch_int (a, "stride", &stride)
           && zoo_arch_int (a, "padding", &padding) && zoo_arch_int (a, "in_h", &in_h) && zoo_arch_int (a, "in_w", &in_w)
           && nfn_arch_cnn (arch, (int) L - 1, n, n_conv, k, stride, padding, in_h, in_w, act) == NFN_OK;
    }
  if (!ok)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label,
                          "\"architecture\" is not a network {\"kind\": \"siren\", \"widths\": […], \"omega0\": …}"
                          " (or \"mlp\"/\"cnn\" with \"activation\", and a CNN's \"n_conv\", \"kernel\", \"stride\","
                          " \"padding\", \"in_h\", \"in_w\")");
      return FALSE;
    }
  return TRUE;
}

/* "metrics": an array of distinct non-empty names, or absent (a SIREN fit's four). */
static gboolean
zoo_parse_metrics (JsonObject *o, NfnZooSettings *s, const char *label, GError **error)
{
  JsonNode *node = json_object_get_member (o, "metrics");
  if (!node)
    return TRUE;
  JsonArray *array = JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
  guint n = array ? json_array_get_length (array) : 0;
  g_autoptr (GStrvBuilder) names = g_strv_builder_new ();
  gboolean ok = array != NULL && n <= 1024;
  for (guint k = 0; ok && k < n; k++)
    {
      JsonNode *e = json_array_get_element (array, k);
      ok = JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_STRING && *json_node_get_string (e);
      for (guint j = 0; ok && j < k; j++)
        ok = strcmp (json_array_get_string_element (array, j), json_node_get_string (e)) != 0;
      if (ok)
        g_strv_builder_add (names, json_node_get_string (e));
    }
  if (!ok)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "\"metrics\" is not an array of distinct names");
      return FALSE;
    }
  s->metrics = g_strv_builder_end (names);
  return TRUE;
}

/* Reads DIR/zoo.json into settings (initialised here). */
static gboolean
zoo_read_manifest (const char *dir, NfnZooSettings *s, GError **error)
{
  memset (s, 0, sizeof *s);
  g_autofree char *path = g_build_filename (dir, ZOO_MANIFEST, NULL);
  g_autoptr (GError) local = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_IO, dir, "not a zoo (no %s; make one with nfn zoo fit)", ZOO_MANIFEST);
      return FALSE;
    }
  if (!json_parser_load_from_mapped_file (parser, path, &local))
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, path, "%s", local->message);
      return FALSE;
    }
  JsonNode *root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root))
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, path, "not a JSON object");
      return FALSE;
    }
  JsonObject *o = json_node_get_object (root);
  const char *format = json_object_has_member (o, "format") ? json_object_get_string_member (o, "format") : NULL;
  if (g_strcmp0 (format, NFN_ZOO_FORMAT) != 0)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, path, "not an nfn zoo manifest (\"format\" is not \"%s\")",
                          NFN_ZOO_FORMAT);
      return FALSE;
    }
  gint64 version = 0, count, refits, steps = 0, seed, shard_size, rows, cols;
  if (!zoo_get_int (o, "version", 1, &version, path, error))
    return FALSE;
  if (version != NFN_ZOO_VERSION)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, path,
                          "zoo format version %" G_GINT64_FORMAT " but this nfn reads version %d (%s)", version,
                          NFN_ZOO_VERSION,
                          version > NFN_ZOO_VERSION ? "update nfn to read it" : "refit it with nfn zoo fit");
      return FALSE;
    }
  const char *dataset, *split, *kind = NFN_ZOO_KIND_SIREN_FIT;
  if (json_object_has_member (o, "kind") && !(kind = zoo_get_string (o, "kind", path, error)))
    return FALSE;
  gboolean siren = strcmp (kind, NFN_ZOO_KIND_SIREN_FIT) == 0;
  JsonNode *lr = json_object_get_member (o, "lr");
  JsonNode *training = json_object_get_member (o, "training");
  if (!zoo_get_int (o, "count", 1, &count, path, error) || !zoo_get_int (o, "refits", 0, &refits, path, error)
      || (siren && !zoo_get_int (o, "steps", 0, &steps, path, error))
      || !zoo_get_int (o, "seed", G_MININT64, &seed, path, error)
      || !zoo_get_int (o, "shard_size", 1, &shard_size, path, error) || !zoo_get_int (o, "rows", 1, &rows, path, error)
      || !zoo_get_int (o, "cols", 1, &cols, path, error)
      || !(dataset = zoo_get_string (o, "dataset", path, error)) || !(split = zoo_get_string (o, "split", path, error))
      || !zoo_parse_arch (o, &s->arch, path, error) || !zoo_parse_metrics (o, s, path, error))
    return FALSE;
  if (count > G_MAXINT || refits > 1000 || steps > G_MAXINT || shard_size > G_MAXINT || rows * cols > 1 << 24
      || (siren && (!lr || !JSON_NODE_HOLDS_VALUE (lr) || !(json_node_get_double (lr) > 0)))
      || (training && !JSON_NODE_HOLDS_OBJECT (training)))
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, path, "settings out of range");
      return FALSE;
    }
  s->kind = siren ? NULL : g_strdup (kind);
  s->training_json = training ? nfn_json_to_text (training, FALSE) : NULL;
  s->dataset = g_strdup (dataset);
  s->split = g_strdup (split);
  s->count = (int) count;
  s->refits = (int) refits;
  s->steps = (int) steps;
  s->lr = siren ? json_node_get_double (lr) : 0;
  s->seed = (guint64) seed;
  s->shard_size = (int) shard_size;
  s->rows = (int) rows;
  s->cols = (int) cols;
  return TRUE;
}

/* NULL when a and b describe the same zoo, else the first setting that differs, as
 * "steps 300, not 500" (a is the zoo's, b the request's). */
static char *
zoo_settings_difference (const NfnZooSettings *a, const NfnZooSettings *b)
{
  if (strcmp (nfn_zoo_settings_kind (a), nfn_zoo_settings_kind (b)) != 0)
    return g_strdup_printf ("kind %s, not %s", nfn_zoo_settings_kind (a), nfn_zoo_settings_kind (b));
  if (g_strcmp0 (a->dataset, b->dataset) != 0)
    return g_strdup_printf ("dataset %s, not %s", a->dataset, b->dataset);
  if (g_strcmp0 (a->split, b->split) != 0)
    return g_strdup_printf ("split %s, not %s", a->split, b->split);
  if (a->count != b->count)
    return g_strdup_printf ("count %d, not %d", a->count, b->count);
  if (a->refits != b->refits)
    return g_strdup_printf ("refits %d, not %d", a->refits, b->refits);
  if (zoo_is_siren_fit (a) && a->steps != b->steps)
    return g_strdup_printf ("steps %d, not %d", a->steps, b->steps);
  if (zoo_is_siren_fit (a) && a->lr != b->lr)
    return g_strdup_printf ("lr %g, not %g", a->lr, b->lr);
  if (a->seed != b->seed)
    return g_strdup_printf ("seed %" G_GUINT64_FORMAT ", not %" G_GUINT64_FORMAT, a->seed, b->seed);
  if (a->shard_size != b->shard_size)
    return g_strdup_printf ("shard size %d, not %d", a->shard_size, b->shard_size);
  if (a->rows != b->rows || a->cols != b->cols)
    return g_strdup_printf ("images %d×%d, not %d×%d", a->rows, a->cols, b->rows, b->cols);
  g_autofree char *arch_a = zoo_arch_json (&a->arch), *arch_b = zoo_arch_json (&b->arch);
  if (strcmp (arch_a, arch_b) != 0)
    return g_strdup_printf ("architecture %s, not %s", arch_a, arch_b);
  g_autofree char *metrics_a = g_strjoinv (", ", (char **) nfn_zoo_settings_metrics (a));
  g_autofree char *metrics_b = g_strjoinv (", ", (char **) nfn_zoo_settings_metrics (b));
  if (strcmp (metrics_a, metrics_b) != 0)
    return g_strdup_printf ("metrics %s, not %s", metrics_a, metrics_b);
  g_autofree char *training_a = zoo_normalize_json (a->training_json);
  g_autofree char *training_b = zoo_normalize_json (b->training_json);
  if (g_strcmp0 (training_a, training_b) != 0)
    return g_strdup_printf ("training %s, not %s", training_a ? training_a : "{}", training_b ? training_b : "{}");
  return NULL;
}

/* ---- Shards ---- */

/* Loads shard k and checks every tensor a shard of these settings must hold. */
static NfnSafetensors *
zoo_shard_load (const NfnZooSettings *s, const char *dir, int shard, GError **error)
{
  g_autofree char *path = zoo_shard_path (dir, shard);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_IO, path, "not found (the zoo's fit is unfinished: rerun nfn zoo fit to finish it)");
      return NULL;
    }
  g_autoptr (NfnSafetensors) st = nfn_safetensors_load (path, error);
  if (!st)
    return NULL;
  gint64 first, last;
  zoo_shard_range (s, shard, &first, &last);
  gint64 K = last - first;
  const nfn_space *space = &s->arch.space;
  const char *const *metrics = nfn_zoo_settings_metrics (s);
  int n_layer_tensors = nfn_tensor_count (space), expected = n_layer_tensors + zoo_metric_count (s);
  for (int t = 0; t < expected; t++)
    {
      g_autofree char *name = NULL;
      gint64 shape[5] = { K, 0, 0, 0, 0 };
      int rank = 1;
      if (t < n_layer_tensors)
        rank = zoo_layer_tensor (&s->arch, t, K, &name, shape);
      else
        name = g_strdup (metrics[t - n_layer_tensors]);
      NfnTensor *tensor = nfn_safetensors_find (st, name);
      gboolean ok = tensor && tensor->rank == rank;
      for (int d = 0; ok && d < rank; d++)
        ok = tensor->shape[d] == shape[d];
      if (!ok)
        {
          g_autofree char *want = nfn_data_format_index (shape, rank);
          nfn_data_set_error (error, NFN_DATA_ERROR_SHAPE, path, "tensor \"%s\" %s, expected shape %s", name,
                              tensor ? "has another shape" : "is missing", want);
          return NULL;
        }
      for (gsize e = 0; e < tensor->numel; e++)
        if (!isfinite (tensor->data[e]) && strcmp (name, "psnr") != 0) /* an exact fit's PSNR is +inf */
          {
            nfn_data_set_error (error, NFN_DATA_ERROR_NONFINITE, path, "tensor \"%s\" holds a NaN or Inf at %zu",
                                name, e);
            return NULL;
          }
    }
  if (st->tensors->len != (guint) expected)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_SHAPE, path, "holds %u tensors, expected %d", st->tensors->len, expected);
      return NULL;
    }
  return g_steal_pointer (&st);
}

/* Entry k of a loaded shard whose first network is `first`; what a zoo does not record
 * takes the defaults nfn_zoo_dir_entries documents. */
static void
zoo_shard_entry (const NfnSafetensors *st, const NfnZooSettings *s, gint64 first, gint64 k, NfnZooEntry *entry)
{
  const float *v[ZOO_N_ENTRY_TENSORS];
  for (int e = 0; e < ZOO_N_ENTRY_TENSORS; e++)
    {
      NfnTensor *tensor = zoo_metric_index (s, zoo_entry_tensors[e]) >= 0 ? nfn_safetensors_find (st, zoo_entry_tensors[e]) : NULL;
      v[e] = tensor ? tensor->data : NULL;
    }
  entry->index = first + k;
  entry->image = entry->index / (1 + s->refits);
  entry->label = v[ZOO_LABEL] ? (int) v[ZOO_LABEL][k] : -1;
  entry->psnr = v[ZOO_PSNR] ? v[ZOO_PSNR][k] : NAN;
  entry->source_index = v[ZOO_SOURCE_INDEX] ? (gint64) v[ZOO_SOURCE_INDEX][k] : entry->index;
  entry->refit = v[ZOO_REFIT] ? (int) v[ZOO_REFIT][k] : 0;
}

static gboolean
zoo_shard_save (const NfnZooSettings *s, const char *path, int shard, const nfn_feature *weights,
                const float *values /* (M, K) */, gint64 first, GError **error)
{
  g_autoptr (NfnSafetensors) st = nfn_safetensors_new ();
  const nfn_space *space = &s->arch.space;
  int K = weights->B;
  for (int t = 0; t < nfn_tensor_count (space); t++)
    {
      g_autofree char *name = NULL;
      gint64 shape[5];
      int rank = zoo_layer_tensor (&s->arch, t, K, &name, shape);
      nfn_safetensors_add (st, name, rank, shape, weights->t[t]);
    }
  gint64 shape[1] = { K };
  const char *const *metrics = nfn_zoo_settings_metrics (s);
  for (int m = 0; metrics[m]; m++)
    nfn_safetensors_add (st, metrics[m], 1, shape, values + (gsize) m * K);
  g_autofree char *arch = zoo_arch_json (&s->arch);
  g_autofree char *first_text = g_strdup_printf ("%" G_GINT64_FORMAT, first);
  g_autofree char *shard_text = g_strdup_printf ("%d", shard);
  nfn_safetensors_set_metadata (st, "nfn.zoo.format", NFN_ZOO_FORMAT);
  nfn_safetensors_set_metadata (st, "nfn.zoo.shard", shard_text);
  nfn_safetensors_set_metadata (st, "nfn.zoo.first", first_text);
  nfn_safetensors_set_metadata (st, "nfn.zoo.architecture", arch);
  nfn_safetensors_set_metadata (st, "nfn.zoo.dataset", s->dataset);
  nfn_safetensors_set_metadata (st, "nfn.zoo.split", s->split);
  return nfn_safetensors_save (st, path, error);
}

/* Temp files a killed atomic write left: "<name>.XXXXXX" beside zoo.json or a shard
 * (g_file_set_contents's naming). */
static void
zoo_remove_stray_temps (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name (d)))
    {
      size_t length = strlen (name);
      if (length < 8 || name[length - 7] != '.')
        continue;
      g_autofree char *base = g_strndup (name, length - 7);
      if (strcmp (base, ZOO_MANIFEST) == 0
          || (g_str_has_prefix (base, "shard-") && g_str_has_suffix (base, ".safetensors")))
        {
          g_autofree char *path = g_build_filename (dir, name, NULL);
          g_unlink (path);
        }
    }
}

/* ---- PSNR summaries ---- */

static int
zoo_compare_float (const void *a, const void *b)
{
  float x = *(const float *) a, y = *(const float *) b;
  return (x > y) - (x < y);
}

void
nfn_zoo_psnr_summary (const float *psnr, gsize n, NfnZooPsnrSummary *out)
{
  memset (out, 0, sizeof *out);
  out->count = n;
  if (n == 0)
    return;
  g_autofree float *sorted = g_memdup2 (psnr, n * sizeof *psnr);
  qsort (sorted, n, sizeof *sorted, zoo_compare_float);
  double sum = 0;
  for (gsize k = 0; k < n; k++)
    sum += sorted[k];
  out->mean = sum / (double) n;
  out->min = sorted[0];
  out->max = sorted[n - 1];
  /* linear interpolation between order statistics, as numpy.percentile's default */
  double *targets[] = { &out->p5, &out->p50, &out->p95 };
  const double fractions[] = { 0.05, 0.50, 0.95 };
  for (int q = 0; q < 3; q++)
    {
      double pos = fractions[q] * (double) (n - 1);
      gsize lo = (gsize) floor (pos), hi = MIN (lo + 1, n - 1);
      double t = pos - (double) lo;
      *targets[q] = isinf (sorted[lo]) || isinf (sorted[hi]) ? (t > 0 ? sorted[hi] : sorted[lo])
                                                             : sorted[lo] + t * (sorted[hi] - sorted[lo]);
    }
}

/* ---- Building ---- */

static void
zoo_settings_copy (NfnZooSettings *dst, const NfnZooSettings *src)
{
  *dst = *src;
  dst->dataset = g_strdup (src->dataset);
  dst->split = g_strdup (src->split);
  dst->kind = g_strdup (src->kind);
  dst->metrics = g_strdupv (src->metrics);
  dst->training_json = g_strdup (src->training_json);
}

/* Adds a shard's networks [first, first + K) to the store's zoo, from their metrics. */
static gboolean
zoo_store_add (NfnStore *store, gint64 zoo_id, const NfnZooSettings *s, const NfnZooBuilder *builder, gint64 first,
               const float *values /* (M, K) */, int K, const char *shard_path, GError **error)
{
  if (K <= 0)
    return TRUE;
  int label_m = zoo_metric_index (s, "label"), source_m = zoo_metric_index (s, "source_index");
  int quality_m = zoo_metric_index (s, builder->quality);
  g_autofree gint64 *index = g_new (gint64, K), *source_index = g_new (gint64, K);
  g_autofree int *label = g_new (int, K);
  g_autofree double *quality = g_new (double, K);
  for (int k = 0; k < K; k++)
    {
      index[k] = first + k;
      source_index[k] = source_m >= 0 ? (gint64) values[(gsize) source_m * K + k] : first + k;
      label[k] = label_m >= 0 ? (int) values[(gsize) label_m * K + k] : -1;
      quality[k] = quality_m >= 0 ? values[(gsize) quality_m * K + k] : NAN;
    }
  return nfn_store_zoo_add_networks (store, zoo_id, K, index, source_index, label, quality, shard_path, error);
}

typedef struct {
  const NfnZooFitCallbacks *callbacks;
  gint64 done, total, fitted; /* before the shard being built */
} zoo_progress;

static void
zoo_fit_progress (int done, int total, void *data)
{
  zoo_progress *p = data;
  if (p->callbacks && p->callbacks->progress)
    p->callbacks->progress (p->done + done, p->total, p->fitted + done, p->callbacks->user_data);
}

static char *
zoo_summary_json (const NfnZooFitReport *report, const NfnZooBuilder *builder)
{
  const NfnZooPsnrSummary *quality = &report->psnr;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "networks");
  json_builder_add_int_value (b, report->networks);
  json_builder_set_member_name (b, "fitted");
  json_builder_add_int_value (b, report->fitted);
  json_builder_set_member_name (b, "seconds");
  json_builder_add_double_value (b, report->seconds);
  json_builder_set_member_name (b, builder->rate);
  json_builder_add_double_value (b, report->seconds > 0 ? report->fitted / report->seconds : 0);
  if (quality->count > 0 && isfinite (quality->mean))
    {
      g_autofree char *mean = g_strconcat ("mean_", builder->quality, NULL);
      g_autofree char *p5 = g_strconcat ("p5_", builder->quality, NULL);
      json_builder_set_member_name (b, mean);
      json_builder_add_double_value (b, quality->mean);
      json_builder_set_member_name (b, p5);
      json_builder_add_double_value (b, quality->p5);
    }
  json_builder_end_object (b);
  return nfn_json_builder_to_text (b, FALSE);
}

/* Writes the manifest atomically, so a kill leaves the old one or the new one. */
static gboolean
zoo_write_manifest (const char *manifest, const char *manifest_text, GError **error)
{
  g_autoptr (GError) write_error = NULL;
  if (g_file_set_contents_full (manifest, manifest_text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, &write_error))
    return TRUE;
  nfn_data_set_error (error, NFN_DATA_ERROR_IO, manifest, "cannot write: %s", write_error->message);
  return FALSE;
}

/* Grows the zoo in dir from have's count to the request's (manifest_text). A partial last
 * shard goes first, since it is rebuilt whole, then the manifest is replaced: a kill between
 * the two leaves the old zoo short of one shard, which either count resumes. */
static gboolean
zoo_grow (const char *dir, const NfnZooSettings *have, const char *manifest, const char *manifest_text,
          GError **error)
{
  gint64 networks = nfn_zoo_settings_networks (have);
  if (networks % have->shard_size != 0)
    {
      g_autofree char *last = zoo_shard_path (dir, (int) (networks / have->shard_size));
      if (g_unlink (last) != 0 && errno != ENOENT)
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_IO, last, "cannot remove the partial last shard to grow the zoo: %s",
                              g_strerror (errno));
          return FALSE;
        }
    }
  return zoo_write_manifest (manifest, manifest_text, error);
}

gboolean
nfn_zoo_build (const NfnZooSettings *settings, const char *dir, NfnStore *store, const NfnZooBuilder *builder,
               const NfnZooFitCallbacks *callbacks, NfnZooFitReport *report, GError **error)
{
  g_return_val_if_fail (settings != NULL && dir != NULL && builder != NULL && builder->build_shard != NULL, FALSE);
  NfnZooFitReport local_report = { 0 };
  if (!report)
    report = &local_report;
  memset (report, 0, sizeof *report);
  g_autofree char *training = zoo_normalize_json (settings->training_json);
  if (settings->count < 1 || settings->refits < 0 || settings->shard_size < 1 || !settings->dataset
      || !settings->split || nfn_arch_check (&settings->arch) != NFN_OK || (settings->training_json && !training))
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, dir,
                          "invalid settings (count ≥ 1, refits ≥ 0, shard size ≥ 1, a valid architecture,"
                          " training settings a JSON object)");
      return FALSE;
    }
  const NfnZooSettings *s = settings;
  int n_metrics = zoo_metric_count (s), quality_m = zoo_metric_index (s, builder->quality);
  gboolean ok = TRUE;
  gint64 zoo_id = 0, run = 0;
  g_autofree char *manifest = g_build_filename (dir, ZOO_MANIFEST, NULL);
  g_autofree char *manifest_text = zoo_manifest_json (s, TRUE);
  g_autofree char *absolute = g_canonicalize_filename (dir, NULL);

  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_IO, dir, "cannot create the zoo directory: %s", g_strerror (errno));
      ok = FALSE;
    }
  else if (g_file_test (manifest, G_FILE_TEST_EXISTS))
    {
      NfnZooSettings have;
      ok = zoo_read_manifest (dir, &have, error);
      g_autofree char *difference = ok ? zoo_settings_difference (&have, s) : NULL;
      if (difference && builder->grows && have.count < s->count)
        {
          /* the same zoo but for its count: network n is the same network in both */
          NfnZooSettings smaller = *s;
          smaller.count = have.count;
          g_free (difference);
          difference = zoo_settings_difference (&have, &smaller); /* what keeps it from growing */
          if (!difference)
            {
              ok = zoo_grow (dir, &have, manifest, manifest_text, error);
              report->grown_from = nfn_zoo_settings_networks (&have);
            }
        }
      if (difference)
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, manifest,
                              "this zoo was built with %s (resume with the same settings, or choose another --out)",
                              difference);
          ok = FALSE;
        }
      nfn_zoo_settings_clear (&have);
    }
  else
    ok = zoo_write_manifest (manifest, manifest_text, error);
  if (ok)
    zoo_remove_stray_temps (dir);

  if (ok && store)
    {
      g_autofree char *arch = zoo_arch_json (&s->arch);
      g_autofree char *config = zoo_manifest_json (s, FALSE);
      ok = (zoo_id = nfn_store_zoo_register (store, NULL, absolute, arch, s->dataset, s->split, error)) > 0
           && (run = nfn_store_run_begin (store, NULL, builder->run_task, builder->run_model, config, s->seed, error)) > 0
           && nfn_store_run_add_artifact (store, run, "zoo", absolute, builder->description, error);
      report->run_id = run;
    }
  if (!ok)
    {
      if (run > 0)
        nfn_store_run_finish (store, run, NFN_RUN_FAILED, NULL);
      return FALSE;
    }

  zoo_progress progress = { .callbacks = callbacks, .total = nfn_zoo_settings_networks (s) };
  NfnZooShardJob job = { .threads = callbacks && callbacks->threads > 0 ? callbacks->threads : 1,
                         .cancel = callbacks ? callbacks->cancel : NULL,
                         .progress = zoo_fit_progress, .progress_data = &progress };
  g_autofree float *quality_all = g_new0 (float, progress.total);
  g_autofree float *values = g_new0 (float, (gsize) s->shard_size * MAX (n_metrics, 1));
  g_autofree char *mean_name = g_strconcat ("zoo/mean_", builder->quality, NULL);
  g_autofree char *rate_name = g_strconcat ("zoo/", builder->rate, NULL);
  gint64 started = g_get_monotonic_time ();
  gboolean cancelled = FALSE;

  for (int shard = 0; ok && shard < zoo_shard_count (s); shard++)
    {
      gint64 first, last;
      zoo_shard_range (s, shard, &first, &last);
      int K = (int) (last - first);
      g_autofree char *path = zoo_shard_path (absolute, shard);
      gint64 shard_started = g_get_monotonic_time ();
      gboolean built = !g_file_test (path, G_FILE_TEST_EXISTS);
      if (!built)
        {
          g_autoptr (GError) load_error = NULL;
          g_autoptr (NfnSafetensors) st = zoo_shard_load (s, absolute, shard, &load_error);
          if (!st)
            {
              g_set_error (error, NFN_DATA_ERROR, load_error->code, "%s (delete it to refit that shard)",
                           load_error->message);
              ok = FALSE;
              break;
            }
          const char *const *metrics = nfn_zoo_settings_metrics (s);
          for (int m = 0; m < n_metrics; m++)
            memcpy (values + (gsize) m * K, nfn_safetensors_find (st, metrics[m])->data, (gsize) K * sizeof (float));
          report->shards_skipped++;
        }
      else
        {
          g_autoptr (GError) build_error = NULL;
          nfn_feature weights;
          if (nfn_feature_alloc (&weights, &s->arch.space, K, 1) != NFN_OK)
            {
              nfn_data_set_error (error, NFN_DATA_ERROR_IO, path, "out of memory for %d networks", K);
              ok = FALSE;
              break;
            }
          memset (values, 0, (gsize) K * n_metrics * sizeof (float));
          job.path = path;
          ok = builder->build_shard (builder->self, first, K, &job, &weights, values, &build_error)
               && zoo_shard_save (s, path, shard, &weights, values, first, &build_error);
          nfn_feature_free (&weights);
          if (!ok)
            {
              cancelled = g_error_matches (build_error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
              if (cancelled)
                g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                             "%s: cancelled (finished shards are kept; rerun to resume)", path);
              else
                g_propagate_error (error, g_steal_pointer (&build_error));
              break;
            }
          report->fitted += K;
        }
      for (int k = 0; k < K; k++)
        quality_all[first + k] = quality_m >= 0 ? values[(gsize) quality_m * K + k] : NAN;
      report->networks = last;
      if (store && !(ok = zoo_store_add (store, zoo_id, s, builder, first, values, K, path, error)))
        break;
      progress.done = last;
      if (built)
        progress.fitted += K;
      else
        zoo_fit_progress (0, 0, &progress);
      if (built)
        {
          double seconds = (g_get_monotonic_time () - shard_started) / 1e6;
          NfnZooPsnrSummary summary;
          nfn_zoo_psnr_summary (quality_all + first, (gsize) K, &summary);
          double rate = seconds > 0 ? K / seconds : 0;
          if (store)
            {
              const char *names[] = { mean_name, rate_name };
              double metric_values[] = { summary.mean, rate };
              ok = nfn_store_run_log (store, run, shard, 2, names, metric_values, error);
            }
          if (ok && callbacks && callbacks->shard_done)
            callbacks->shard_done (shard, K, summary.mean, rate, callbacks->user_data);
        }
    }
  report->seconds = (g_get_monotonic_time () - started) / 1e6;
  nfn_zoo_psnr_summary (quality_all, (gsize) report->networks, &report->psnr);
  if (store && run > 0)
    {
      g_autofree char *json = zoo_summary_json (report, builder);
      nfn_store_run_set_summary (store, run, json, NULL);
      nfn_store_run_finish (store, run, ok ? NFN_RUN_COMPLETED : cancelled ? NFN_RUN_CANCELLED : NFN_RUN_FAILED,
                            NULL);
    }
  return ok;
}

/* ---- SIREN fitting: the builder of nfn_zoo_fit ---- */

typedef struct {
  const NfnZooSettings *settings;
  const NfnDataset *ds;
} zoo_siren_builder;

/* Fits networks [first, first + K): network n fits image n / (1 + refits). */
static gboolean
zoo_siren_build_shard (gpointer self, gint64 first, int K, const NfnZooShardJob *job, nfn_feature *weights,
                       float *values /* (4, K) */, GError **error)
{
  const zoo_siren_builder *sb = self;
  const NfnZooSettings *s = sb->settings;
  size_t N = (size_t) s->rows * s->cols;
  g_autofree float *images = g_new (float, (gsize) K * N);
  g_autofree guint64 *ids = g_new (guint64, K);
  for (int k = 0; k < K; k++)
    {
      gint64 n = first + k, image = n / (1 + s->refits);
      memcpy (images + (gsize) k * N, sb->ds->images + (gsize) image * N, N * sizeof (float));
      ids[k] = (guint64) n;
      values[ZOO_LABEL * K + k] = sb->ds->labels[image];
      values[ZOO_SOURCE_INDEX * K + k] = (float) sb->ds->source_index[image];
      values[ZOO_REFIT * K + k] = (float) (n % (1 + s->refits));
    }
  nfn_fit_options opt;
  nfn_fit_options_init (&opt);
  opt.steps = s->steps;
  opt.lr = s->lr;
  opt.seed = s->seed;
  opt.threads = job->threads;
  opt.cancel = job->cancel;
  opt.progress = job->progress;
  opt.progress_data = job->progress_data;
  nfn_status status = nfn_fit_sirens (&s->arch, weights, images, s->rows, s->cols, ids, &opt, values + ZOO_PSNR * K);
  if (status == NFN_ERR_CANCELLED)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled");
  else if (status != NFN_OK)
    nfn_data_set_error (error, NFN_DATA_ERROR_IO, job->path, "fitting failed: %s", nfn_status_message (status));
  return status == NFN_OK;
}

gboolean
nfn_zoo_fit (const NfnZooSettings *settings, const char *dir, NfnStore *store, const NfnZooFitCallbacks *callbacks,
             NfnZooFitReport *report, GError **error)
{
  g_return_val_if_fail (settings != NULL && dir != NULL, FALSE);
  if (report)
    memset (report, 0, sizeof *report);
  if (settings->count < 0 || settings->refits < 0 || settings->refits > 1000 || settings->steps < 0
      || !(settings->lr > 0) || settings->shard_size < 1 || !settings->dataset || !settings->split
      || !zoo_is_siren_fit (settings) || settings->metrics)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, dir,
                          "invalid settings (count ≥ 0, 0 ≤ refits ≤ 1000, steps ≥ 0, lr > 0, shard size ≥ 1)");
      return FALSE;
    }
  g_autoptr (NfnDataset) ds = nfn_dataset_load (settings->dataset, settings->split, settings->count, error);
  if (!ds)
    return FALSE;
  if (settings->count > ds->count)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, settings->dataset,
                          "the %s split holds %d images, %d asked", settings->split, ds->count, settings->count);
      return FALSE;
    }
  NfnZooSettings s;
  zoo_settings_copy (&s, settings);
  s.count = ds->count;
  s.rows = ds->rows;
  s.cols = ds->cols;
  zoo_siren_builder sb = { &s, ds };
  NfnZooBuilder builder = { .run_task = "zoo-fit", .run_model = "siren", .description = "SIREN zoo directory",
                            .quality = "psnr", .rate = "inrs_per_s", .build_shard = zoo_siren_build_shard,
                            .grows = TRUE, .self = &sb };
  gboolean ok = nfn_zoo_build (&s, dir, store, &builder, callbacks, report, error);
  nfn_zoo_settings_clear (&s);
  return ok;
}

/* ---- Reading ---- */

struct _NfnZooDir {
  char *path;
  NfnZooSettings settings;
  int n_shards;
  gboolean *present;  /* (n_shards) */
  gint64 available;
  int cached_shard;   /* -1 for none */
  NfnSafetensors *cached;
};

NfnZooDir *
nfn_zoo_dir_open (const char *dir, GError **error)
{
  g_return_val_if_fail (dir != NULL, NULL);
  NfnZooSettings s;
  if (!zoo_read_manifest (dir, &s, error))
    {
      nfn_zoo_settings_clear (&s);
      return NULL;
    }
  NfnZooDir *zoo = g_new0 (NfnZooDir, 1);
  zoo->path = g_canonicalize_filename (dir, NULL);
  zoo->settings = s;
  zoo->n_shards = zoo_shard_count (&s);
  zoo->present = g_new0 (gboolean, zoo->n_shards);
  zoo->cached_shard = -1;
  for (int k = 0; k < zoo->n_shards; k++)
    {
      g_autofree char *path = zoo_shard_path (zoo->path, k);
      gint64 first, last;
      zoo_shard_range (&s, k, &first, &last);
      if ((zoo->present[k] = g_file_test (path, G_FILE_TEST_EXISTS)))
        zoo->available += last - first;
    }
  return zoo;
}

void
nfn_zoo_dir_free (NfnZooDir *zoo)
{
  if (!zoo)
    return;
  g_free (zoo->path);
  nfn_zoo_settings_clear (&zoo->settings);
  g_free (zoo->present);
  g_clear_pointer (&zoo->cached, nfn_safetensors_free);
  g_free (zoo);
}

const char *nfn_zoo_dir_path (const NfnZooDir *zoo) { return zoo->path; }
const NfnZooSettings *nfn_zoo_dir_settings (const NfnZooDir *zoo) { return &zoo->settings; }
gint64 nfn_zoo_dir_count (const NfnZooDir *zoo) { return nfn_zoo_settings_networks (&zoo->settings); }
gint64 nfn_zoo_dir_available (const NfnZooDir *zoo) { return zoo->available; }
int nfn_zoo_dir_shard_count (const NfnZooDir *zoo) { return zoo->n_shards; }

char *
nfn_zoo_dir_shard_path (const NfnZooDir *zoo, int shard)
{
  return zoo_shard_path (zoo->path, shard);
}

/* The shard holding network `index`, loaded once and kept until another is asked for. */
static const NfnSafetensors *
zoo_dir_shard_of (NfnZooDir *zoo, gint64 index, gint64 *first, GError **error)
{
  if (index < 0 || index >= nfn_zoo_dir_count (zoo))
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, zoo->path,
                          "network %" G_GINT64_FORMAT " is out of range (the zoo holds %" G_GINT64_FORMAT ")", index,
                          nfn_zoo_dir_count (zoo));
      return NULL;
    }
  int shard = (int) (index / zoo->settings.shard_size);
  gint64 last;
  zoo_shard_range (&zoo->settings, shard, first, &last);
  if (zoo->cached_shard != shard)
    {
      g_clear_pointer (&zoo->cached, nfn_safetensors_free);
      zoo->cached_shard = -1;
      if (!(zoo->cached = zoo_shard_load (&zoo->settings, zoo->path, shard, error)))
        return NULL;
      zoo->cached_shard = shard;
    }
  return zoo->cached;
}

/* Copies network k of a loaded shard into network b of `weights`. */
static void
zoo_copy_network (const NfnSafetensors *st, const nfn_space *space, gint64 k, nfn_feature *weights, int b)
{
  for (int t = 0; t < nfn_tensor_count (space); t++)
    {
      int i = nfn_tensor_layer (t);
      g_autofree char *name = g_strdup_printf ("layers.%d.%s", i - 1, nfn_tensor_is_bias (t) ? "bias" : "weight");
      size_t per = nfn_tensor_entries (space, t);
      memcpy (weights->t[t] + (size_t) b * per, nfn_safetensors_find (st, name)->data + (size_t) k * per,
              per * sizeof (float));
    }
}

static void
zoo_network_set_metadata (NfnNetwork *net, const char *key, const char *value)
{
  if (!g_hash_table_contains (net->metadata, key))
    g_ptr_array_add (net->metadata_keys, g_strdup (key));
  g_hash_table_insert (net->metadata, g_strdup (key), g_strdup (value));
}

NfnNetwork *
nfn_zoo_dir_get_network (NfnZooDir *zoo, gint64 index, NfnZooEntry *entry, GError **error)
{
  g_return_val_if_fail (zoo != NULL, NULL);
  gint64 first;
  const NfnSafetensors *st = zoo_dir_shard_of (zoo, index, &first, error);
  if (!st)
    return NULL;
  NfnZooEntry e;
  zoo_shard_entry (st, &zoo->settings, first, index - first, &e);
  nfn_arch arch = zoo->settings.arch;
  NfnTensor *activation = zoo_metric_index (&zoo->settings, "activation") >= 0
                              ? nfn_safetensors_find (st, "activation") : NULL;
  if (activation)
    arch.act = (nfn_activation) (int) activation->data[index - first];
  if (nfn_arch_check (&arch) != NFN_OK)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, zoo->path, "network %" G_GINT64_FORMAT
                          " has no valid activation (metric \"activation\")", index);
      return NULL;
    }
  NfnNetwork *net = nfn_network_new (&arch);
  zoo_copy_network (st, &zoo->settings.arch.space, index - first, &net->weights, 0);
  net->path = g_strdup_printf ("%s:%" G_GINT64_FORMAT, zoo->path, index);
  char text[G_ASCII_DTOSTR_BUF_SIZE];
  if (!zoo_is_siren_fit (&zoo->settings))
    {
      zoo_network_set_metadata (net, "nfn.zoo.dataset", zoo->settings.dataset);
      g_snprintf (text, sizeof text, "%" G_GINT64_FORMAT, index);
      zoo_network_set_metadata (net, "nfn.zoo.index", text);
      for (const char *const *m = nfn_zoo_settings_metrics (&zoo->settings); *m; m++)
        {
          g_autofree char *key = g_strconcat ("nfn.zoo.", *m, NULL);
          zoo_network_set_metadata (net, key, g_ascii_dtostr (text, sizeof text, nfn_safetensors_find (st, *m)->data[index - first]));
        }
      if (entry)
        *entry = e;
      return net;
    }
  zoo_network_set_metadata (net, "nfn.zoo.dataset", zoo->settings.dataset);
  zoo_network_set_metadata (net, "nfn.zoo.split", zoo->settings.split);
  g_snprintf (text, sizeof text, "%" G_GINT64_FORMAT, e.image);
  zoo_network_set_metadata (net, "nfn.zoo.image", text);
  g_snprintf (text, sizeof text, "%" G_GINT64_FORMAT, e.source_index);
  zoo_network_set_metadata (net, "nfn.zoo.source_index", text);
  g_snprintf (text, sizeof text, "%d", e.label);
  zoo_network_set_metadata (net, "nfn.zoo.label", text);
  zoo_network_set_metadata (net, "nfn.zoo.psnr", g_ascii_dtostr (text, sizeof text, e.psnr));
  if (entry)
    *entry = e;
  return net;
}

gboolean
nfn_zoo_dir_load_range (NfnZooDir *zoo, gint64 first, gint64 last, nfn_feature *weights, int *labels, float *psnr,
                        GError **error)
{
  g_return_val_if_fail (zoo != NULL && weights != NULL, FALSE);
  memset (weights, 0, sizeof *weights);
  if (first < 0 || last <= first || last > nfn_zoo_dir_count (zoo) || last - first > G_MAXINT)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, zoo->path,
                          "networks [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ") are not a range of the zoo's %" G_GINT64_FORMAT,
                          first, last, nfn_zoo_dir_count (zoo));
      return FALSE;
    }
  if (nfn_feature_alloc (weights, &zoo->settings.arch.space, (int) (last - first), 1) != NFN_OK)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_IO, zoo->path, "out of memory for %" G_GINT64_FORMAT " networks",
                          last - first);
      return FALSE;
    }
  for (gint64 n = first; n < last; n++)
    {
      gint64 shard_first;
      const NfnSafetensors *st = zoo_dir_shard_of (zoo, n, &shard_first, error);
      if (!st)
        {
          nfn_feature_free (weights);
          return FALSE;
        }
      zoo_copy_network (st, &zoo->settings.arch.space, n - shard_first, weights, (int) (n - first));
      NfnZooEntry e;
      zoo_shard_entry (st, &zoo->settings, shard_first, n - shard_first, &e);
      if (labels)
        labels[n - first] = e.label;
      if (psnr)
        psnr[n - first] = e.psnr;
    }
  return TRUE;
}

GArray *
nfn_zoo_dir_entries (NfnZooDir *zoo, GError **error)
{
  g_return_val_if_fail (zoo != NULL, NULL);
  GArray *entries = g_array_new (FALSE, FALSE, sizeof (NfnZooEntry));
  for (int k = 0; k < zoo->n_shards; k++)
    {
      if (!zoo->present[k])
        continue;
      gint64 first, last;
      zoo_shard_range (&zoo->settings, k, &first, &last);
      if (!zoo_dir_shard_of (zoo, first, &first, error))
        {
          g_array_unref (entries);
          return NULL;
        }
      for (gint64 n = first; n < last; n++)
        {
          NfnZooEntry e;
          zoo_shard_entry (zoo->cached, &zoo->settings, first, n - first, &e);
          g_array_append_val (entries, e);
        }
    }
  return entries;
}

gboolean
nfn_zoo_dir_load_metric (NfnZooDir *zoo, const char *name, gint64 first, gint64 last, float *values, GError **error)
{
  g_return_val_if_fail (zoo != NULL && name != NULL && values != NULL, FALSE);
  if (zoo_metric_index (&zoo->settings, name) < 0)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_NOT_FOUND, zoo->path, "the zoo records no metric \"%s\"", name);
      return FALSE;
    }
  if (first < 0 || last < first || last > nfn_zoo_dir_count (zoo))
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, zoo->path,
                          "networks [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ") are not a range of the zoo's %" G_GINT64_FORMAT,
                          first, last, nfn_zoo_dir_count (zoo));
      return FALSE;
    }
  for (gint64 n = first; n < last;)
    {
      gint64 shard_first;
      const NfnSafetensors *st = zoo_dir_shard_of (zoo, n, &shard_first, error);
      if (!st)
        return FALSE;
      gint64 shard_last = MIN (shard_first + zoo->settings.shard_size, last);
      memcpy (values + (n - first), nfn_safetensors_find (st, name)->data + (n - shard_first),
              (gsize) (shard_last - n) * sizeof (float));
      n = shard_last;
    }
  return TRUE;
}

/* ---- Network specs ---- */

gboolean
nfn_zoo_parse_spec (const char *spec, char **dir, gint64 *index)
{
  g_return_val_if_fail (spec != NULL, FALSE);
  const char *colon = strrchr (spec, ':');
  if (!colon || colon == spec || !colon[1] || g_file_test (spec, G_FILE_TEST_EXISTS))
    return FALSE;
  for (const char *p = colon + 1; *p; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  guint64 value;
  if (!g_ascii_string_to_unsigned (colon + 1, 10, 0, G_MAXINT64, &value, NULL))
    return FALSE;
  if (dir)
    *dir = g_strndup (spec, (gsize) (colon - spec));
  if (index)
    *index = (gint64) value;
  return TRUE;
}

NfnNetwork *
nfn_network_load_spec (const char *spec, GError **error)
{
  g_return_val_if_fail (spec != NULL, NULL);
  g_autofree char *dir = NULL;
  gint64 index;
  if (!nfn_zoo_parse_spec (spec, &dir, &index))
    return nfn_network_load (spec, error);
  g_autoptr (NfnZooDir) zoo = nfn_zoo_dir_open (dir, error);
  return zoo ? nfn_zoo_dir_get_network (zoo, index, NULL, error) : NULL;
}

float *
nfn_network_source_image (const NfnNetwork *net, int *rows, int *cols, char **caption, GError **error)
{
  g_return_val_if_fail (net != NULL && rows != NULL && cols != NULL, NULL);
  const char *dataset = g_hash_table_lookup (net->metadata, "nfn.zoo.dataset");
  const char *split = g_hash_table_lookup (net->metadata, "nfn.zoo.split");
  const char *image_text = g_hash_table_lookup (net->metadata, "nfn.zoo.image");
  guint64 image;
  if (!dataset || !split || !image_text || !g_ascii_string_to_unsigned (image_text, 10, 0, G_MAXINT - 1, &image, NULL))
    return NULL;
  g_autoptr (NfnDataset) ds = nfn_dataset_load (dataset, split, (int) image + 1, error);
  if (!ds)
    return NULL;
  if ((gint64) image >= ds->count)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, dataset, "the %s split has no image %" G_GUINT64_FORMAT, split, image);
      return NULL;
    }
  *rows = ds->rows;
  *cols = ds->cols;
  if (caption)
    *caption = g_strdup_printf ("%s %s #%" G_GUINT64_FORMAT " (%s)", dataset, split, image,
                                nfn_dataset_class_name (dataset, ds->labels[image]));
  return g_memdup2 (ds->images + image * (gsize) ds->rows * ds->cols, (gsize) ds->rows * ds->cols * sizeof (float));
}
