/* nfn_zoo.c — zoo directories: the manifest, shards, resumable fitting and reading back.
 *
 * Shape letters: K networks in a shard, B networks in a loaded range, n_i widths, N pixels.
 * A shard's layer tensors are exactly a C = 1 nfn_feature's blocks — (K, n_i, n_{i-1}) and
 * (K, n_i) — so writing and reading copy whole blocks.
 */
#include "nfn_zoo.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "nfn_datasets.h"

#define ZOO_MANIFEST "zoo.json"

static const char *const zoo_entry_tensors[] = { "label", "psnr", "source_index", "refit" };
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
  json_builder_set_member_name (b, "omega0");
  json_builder_add_double_value (b, arch->omega0);
  json_builder_end_object (b);
}

static char *
zoo_json_text (JsonBuilder *b, gboolean pretty)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, pretty);
  return json_generator_to_data (gen, NULL);
}

static char *
zoo_arch_json (const nfn_arch *arch)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  zoo_add_arch (b, arch);
  return zoo_json_text (b, FALSE);
}

static char *
zoo_manifest_json (const NfnZooSettings *s, gboolean pretty)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
#define MEMBER(name) json_builder_set_member_name (b, name)
  MEMBER ("format"); json_builder_add_string_value (b, NFN_ZOO_FORMAT);
  MEMBER ("version"); json_builder_add_int_value (b, NFN_ZOO_VERSION);
  MEMBER ("architecture"); zoo_add_arch (b, &s->arch);
  MEMBER ("dataset"); json_builder_add_string_value (b, s->dataset);
  MEMBER ("split"); json_builder_add_string_value (b, s->split);
  MEMBER ("count"); json_builder_add_int_value (b, s->count);
  MEMBER ("refits"); json_builder_add_int_value (b, s->refits);
  MEMBER ("networks"); json_builder_add_int_value (b, nfn_zoo_settings_networks (s));
  MEMBER ("steps"); json_builder_add_int_value (b, s->steps);
  MEMBER ("lr"); json_builder_add_double_value (b, s->lr);
  MEMBER ("seed"); json_builder_add_int_value (b, (gint64) s->seed);
  MEMBER ("shard_size"); json_builder_add_int_value (b, s->shard_size);
  MEMBER ("rows"); json_builder_add_int_value (b, s->rows);
  MEMBER ("cols"); json_builder_add_int_value (b, s->cols);
  MEMBER ("coordinates"); json_builder_add_string_value (b, "(x, y) = (linspace(-1, 1)[col], linspace(-1, 1)[row])");
  MEMBER ("targets"); json_builder_add_string_value (b, "2 * pixel - 1, pixels in [0, 1]");
  MEMBER ("order"); json_builder_add_string_value (b, "network n: image n / (1 + refits), refit n % (1 + refits)");
#undef MEMBER
  json_builder_end_object (b);
  return zoo_json_text (b, pretty);
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

static gboolean
zoo_parse_arch (JsonObject *o, nfn_arch *arch, const char *label, GError **error)
{
  JsonNode *node = json_object_get_member (o, "architecture");
  JsonObject *a = node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  JsonNode *widths_node = a ? json_object_get_member (a, "widths") : NULL;
  JsonArray *widths = widths_node && JSON_NODE_HOLDS_ARRAY (widths_node) ? json_node_get_array (widths_node) : NULL;
  JsonNode *omega = a ? json_object_get_member (a, "omega0") : NULL;
  const char *kind = a && json_object_has_member (a, "kind") ? json_object_get_string_member (a, "kind") : NULL;
  int n[NFN_MAX_LAYERS + 1];
  guint L = widths ? json_array_get_length (widths) : 0;
  gboolean ok = kind && g_strcmp0 (kind, "siren") == 0 && L >= 2 && L <= NFN_MAX_LAYERS + 1 && omega
                && JSON_NODE_HOLDS_VALUE (omega);
  for (guint i = 0; ok && i < L; i++)
    {
      JsonNode *w = json_array_get_element (widths, i);
      ok = JSON_NODE_HOLDS_VALUE (w) && json_node_get_value_type (w) == G_TYPE_INT64 && json_node_get_int (w) >= 1
           && json_node_get_int (w) <= 1 << 20;
      if (ok)
        n[i] = (int) json_node_get_int (w);
    }
  if (!ok || nfn_arch_siren (arch, (int) L - 1, n, (float) json_node_get_double (omega)) != NFN_OK)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label,
                          "\"architecture\" is not a SIREN {\"kind\": \"siren\", \"widths\": […], \"omega0\": …}");
      return FALSE;
    }
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
  gint64 version = 0, count, refits, steps, seed, shard_size, rows, cols;
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
  const char *dataset, *split;
  JsonNode *lr = json_object_get_member (o, "lr");
  if (!zoo_get_int (o, "count", 1, &count, path, error) || !zoo_get_int (o, "refits", 0, &refits, path, error)
      || !zoo_get_int (o, "steps", 0, &steps, path, error) || !zoo_get_int (o, "seed", G_MININT64, &seed, path, error)
      || !zoo_get_int (o, "shard_size", 1, &shard_size, path, error) || !zoo_get_int (o, "rows", 1, &rows, path, error)
      || !zoo_get_int (o, "cols", 1, &cols, path, error)
      || !(dataset = zoo_get_string (o, "dataset", path, error)) || !(split = zoo_get_string (o, "split", path, error))
      || !zoo_parse_arch (o, &s->arch, path, error))
    return FALSE;
  if (count > G_MAXINT || refits > 1000 || steps > G_MAXINT || shard_size > G_MAXINT || rows * cols > 1 << 24
      || !lr || !JSON_NODE_HOLDS_VALUE (lr) || !(json_node_get_double (lr) > 0))
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, path, "settings out of range");
      return FALSE;
    }
  s->dataset = g_strdup (dataset);
  s->split = g_strdup (split);
  s->count = (int) count;
  s->refits = (int) refits;
  s->steps = (int) steps;
  s->lr = json_node_get_double (lr);
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
  if (g_strcmp0 (a->dataset, b->dataset) != 0)
    return g_strdup_printf ("dataset %s, not %s", a->dataset, b->dataset);
  if (g_strcmp0 (a->split, b->split) != 0)
    return g_strdup_printf ("split %s, not %s", a->split, b->split);
  if (a->count != b->count)
    return g_strdup_printf ("count %d, not %d", a->count, b->count);
  if (a->refits != b->refits)
    return g_strdup_printf ("refits %d, not %d", a->refits, b->refits);
  if (a->steps != b->steps)
    return g_strdup_printf ("steps %d, not %d", a->steps, b->steps);
  if (a->lr != b->lr)
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
  guint expected = (guint) (2 * space->L + ZOO_N_ENTRY_TENSORS);
  for (int t = 0; t < 2 * space->L + ZOO_N_ENTRY_TENSORS; t++)
    {
      g_autofree char *name = NULL;
      gint64 shape[3] = { K, 0, 0 };
      int rank = 1;
      if (t < 2 * space->L)
        {
          int i = nfn_tensor_layer (t);
          name = g_strdup_printf ("layers.%d.%s", i - 1, nfn_tensor_is_bias (t) ? "bias" : "weight");
          shape[1] = space->n[i];
          shape[2] = space->n[i - 1];
          rank = nfn_tensor_is_bias (t) ? 2 : 3;
        }
      else
        name = g_strdup (zoo_entry_tensors[t - 2 * space->L]);
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
        if (!isfinite (tensor->data[e]) && t != 2 * space->L + ZOO_PSNR) /* an exact fit's PSNR is +inf */
          {
            nfn_data_set_error (error, NFN_DATA_ERROR_NONFINITE, path, "tensor \"%s\" holds a NaN or Inf at %zu",
                                name, e);
            return NULL;
          }
    }
  if (st->tensors->len != expected)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_SHAPE, path, "holds %u tensors, expected %u", st->tensors->len, expected);
      return NULL;
    }
  return g_steal_pointer (&st);
}

/* Entry k of a loaded shard whose first network is `first`. */
static void
zoo_shard_entry (const NfnSafetensors *st, const NfnZooSettings *s, gint64 first, gint64 k, NfnZooEntry *entry)
{
  const float *v[ZOO_N_ENTRY_TENSORS];
  for (int e = 0; e < ZOO_N_ENTRY_TENSORS; e++)
    v[e] = nfn_safetensors_find (st, zoo_entry_tensors[e])->data;
  entry->index = first + k;
  entry->image = entry->index / (1 + s->refits);
  entry->label = (int) v[ZOO_LABEL][k];
  entry->psnr = v[ZOO_PSNR][k];
  entry->source_index = (gint64) v[ZOO_SOURCE_INDEX][k];
  entry->refit = (int) v[ZOO_REFIT][k];
}

static gboolean
zoo_shard_save (const NfnZooSettings *s, const char *path, int shard, const nfn_feature *weights,
                const NfnZooEntry *entries /* (K) */, gint64 first, GError **error)
{
  g_autoptr (NfnSafetensors) st = nfn_safetensors_new ();
  const nfn_space *space = &s->arch.space;
  int K = weights->B;
  for (int t = 0; t < nfn_tensor_count (space); t++)
    {
      int i = nfn_tensor_layer (t);
      g_autofree char *name = g_strdup_printf ("layers.%d.%s", i - 1, nfn_tensor_is_bias (t) ? "bias" : "weight");
      gint64 shape[3] = { K, space->n[i], space->n[i - 1] };
      nfn_safetensors_add (st, name, nfn_tensor_is_bias (t) ? 2 : 3, shape, weights->t[t]);
    }
  g_autofree float *values = g_new (float, (gsize) K * ZOO_N_ENTRY_TENSORS);
  for (int k = 0; k < K; k++)
    {
      values[ZOO_LABEL * K + k] = (float) entries[k].label;
      values[ZOO_PSNR * K + k] = entries[k].psnr;
      values[ZOO_SOURCE_INDEX * K + k] = (float) entries[k].source_index;
      values[ZOO_REFIT * K + k] = (float) entries[k].refit;
    }
  gint64 shape[1] = { K };
  for (int e = 0; e < ZOO_N_ENTRY_TENSORS; e++)
    nfn_safetensors_add (st, zoo_entry_tensors[e], 1, shape, values + (gsize) e * K);
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

/* ---- Fitting ---- */

static void
zoo_settings_copy (NfnZooSettings *dst, const NfnZooSettings *src)
{
  *dst = *src;
  dst->dataset = g_strdup (src->dataset);
  dst->split = g_strdup (src->split);
}

/* Adds a shard's networks to the store's zoo. */
static gboolean
zoo_store_add (NfnStore *store, gint64 zoo_id, const NfnZooEntry *entries, int K, const char *shard_path,
               GError **error)
{
  if (K <= 0)
    return TRUE;
  g_autofree gint64 *index = g_new (gint64, K), *source_index = g_new (gint64, K);
  g_autofree int *label = g_new (int, K);
  g_autofree double *quality = g_new (double, K);
  for (int k = 0; k < K; k++)
    {
      index[k] = entries[k].index;
      source_index[k] = entries[k].source_index;
      label[k] = entries[k].label;
      quality[k] = entries[k].psnr;
    }
  return nfn_store_zoo_add_networks (store, zoo_id, K, index, source_index, label, quality, shard_path, error);
}

typedef struct {
  const NfnZooFitCallbacks *callbacks;
  gint64 done, total, fitted; /* before the shard being fitted */
} zoo_progress;

static void
zoo_fit_progress (int done, int total, void *data)
{
  zoo_progress *p = data;
  if (p->callbacks && p->callbacks->progress)
    p->callbacks->progress (p->done + done, p->total, p->fitted + done, p->callbacks->user_data);
}

static char *
zoo_summary_json (const NfnZooFitReport *report, const NfnZooPsnrSummary *psnr)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "networks");
  json_builder_add_int_value (b, report->networks);
  json_builder_set_member_name (b, "fitted");
  json_builder_add_int_value (b, report->fitted);
  json_builder_set_member_name (b, "seconds");
  json_builder_add_double_value (b, report->seconds);
  json_builder_set_member_name (b, "inrs_per_s");
  json_builder_add_double_value (b, report->seconds > 0 ? report->fitted / report->seconds : 0);
  if (psnr->count > 0 && isfinite (psnr->mean))
    {
      json_builder_set_member_name (b, "mean_psnr");
      json_builder_add_double_value (b, psnr->mean);
      json_builder_set_member_name (b, "p5_psnr");
      json_builder_add_double_value (b, psnr->p5);
    }
  json_builder_end_object (b);
  return zoo_json_text (b, FALSE);
}

/* Fits one shard's networks [first, first + K) and writes them; entries (K) filled. */
static gboolean
zoo_fit_shard (const NfnZooSettings *s, const NfnDataset *ds, int shard, gint64 first, int K, const char *path,
               nfn_fit_options *opt, NfnZooEntry *entries, GError **error)
{
  size_t N = (size_t) s->rows * s->cols;
  nfn_feature weights;
  if (nfn_feature_alloc (&weights, &s->arch.space, K, 1) != NFN_OK)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_IO, path, "out of memory for %d networks", K);
      return FALSE;
    }
  g_autofree float *images = g_new (float, (gsize) K * N);
  g_autofree guint64 *ids = g_new (guint64, K);
  g_autofree float *psnr = g_new (float, K);
  for (int k = 0; k < K; k++)
    {
      gint64 n = first + k, image = n / (1 + s->refits);
      memcpy (images + (gsize) k * N, ds->images + (gsize) image * N, N * sizeof (float));
      ids[k] = (guint64) n;
      entries[k] = (NfnZooEntry) { .index = n, .image = image, .source_index = ds->source_index[image],
                                   .label = ds->labels[image], .refit = (int) (n % (1 + s->refits)) };
    }
  nfn_status status = nfn_fit_sirens (&s->arch, &weights, images, s->rows, s->cols, ids, opt, psnr);
  gboolean ok = status == NFN_OK;
  if (status == NFN_ERR_CANCELLED)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "%s: cancelled (finished shards are kept; rerun to resume)",
                 path);
  else if (!ok)
    nfn_data_set_error (error, NFN_DATA_ERROR_IO, path, "fitting failed: %s", nfn_status_message (status));
  if (ok)
    {
      for (int k = 0; k < K; k++)
        entries[k].psnr = psnr[k];
      ok = zoo_shard_save (s, path, shard, &weights, entries, first, error);
    }
  nfn_feature_free (&weights);
  return ok;
}

gboolean
nfn_zoo_fit (const NfnZooSettings *settings, const char *dir, NfnStore *store, const NfnZooFitCallbacks *callbacks,
             NfnZooFitReport *report, GError **error)
{
  g_return_val_if_fail (settings != NULL && dir != NULL, FALSE);
  NfnZooFitReport local_report = { 0 };
  if (!report)
    report = &local_report;
  memset (report, 0, sizeof *report);
  if (settings->count < 0 || settings->refits < 0 || settings->refits > 1000 || settings->steps < 0
      || !(settings->lr > 0) || settings->shard_size < 1 || !settings->dataset || !settings->split)
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
  gboolean ok = TRUE;
  gint64 zoo_id = 0, run = 0;
  g_autofree char *manifest = g_build_filename (dir, ZOO_MANIFEST, NULL);
  g_autofree char *manifest_text = zoo_manifest_json (&s, TRUE);
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
      g_autofree char *difference = ok ? zoo_settings_difference (&have, &s) : NULL;
      if (difference)
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, manifest,
                              "this zoo was fitted with %s (resume with the same settings, or choose another --out)",
                              difference);
          ok = FALSE;
        }
      nfn_zoo_settings_clear (&have);
    }
  else
    {
      g_autoptr (GError) write_error = NULL;
      ok = g_file_set_contents_full (manifest, manifest_text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, &write_error);
      if (!ok)
        nfn_data_set_error (error, NFN_DATA_ERROR_IO, manifest, "cannot write: %s", write_error->message);
    }
  if (ok)
    zoo_remove_stray_temps (dir);

  if (ok && store)
    {
      g_autofree char *arch = zoo_arch_json (&s.arch);
      g_autofree char *config = zoo_manifest_json (&s, FALSE);
      ok = (zoo_id = nfn_store_zoo_register (store, NULL, absolute, arch, s.dataset, s.split, error)) > 0
           && (run = nfn_store_run_begin (store, NULL, "zoo-fit", "siren", config, s.seed, error)) > 0
           && nfn_store_run_add_artifact (store, run, "zoo", absolute, "SIREN zoo directory", error);
      report->run_id = run;
    }
  if (!ok)
    {
      if (run > 0)
        nfn_store_run_finish (store, run, NFN_RUN_FAILED, NULL);
      nfn_zoo_settings_clear (&s);
      return FALSE;
    }

  nfn_fit_options opt;
  nfn_fit_options_init (&opt);
  opt.steps = s.steps;
  opt.lr = s.lr;
  opt.seed = s.seed;
  opt.threads = callbacks && callbacks->threads > 0 ? callbacks->threads : 1;
  opt.cancel = callbacks ? callbacks->cancel : NULL;
  zoo_progress progress = { .callbacks = callbacks, .total = nfn_zoo_settings_networks (&s) };
  opt.progress = zoo_fit_progress;
  opt.progress_data = &progress;
  g_autofree float *psnr_all = g_new0 (float, progress.total);
  g_autofree NfnZooEntry *entries = g_new (NfnZooEntry, s.shard_size);
  gint64 started = g_get_monotonic_time ();
  gboolean cancelled = FALSE;

  for (int shard = 0; ok && shard < zoo_shard_count (&s); shard++)
    {
      gint64 first, last;
      zoo_shard_range (&s, shard, &first, &last);
      int K = (int) (last - first);
      g_autofree char *path = zoo_shard_path (absolute, shard);
      gint64 shard_started = g_get_monotonic_time ();
      gboolean fitted = !g_file_test (path, G_FILE_TEST_EXISTS);
      if (!fitted)
        {
          g_autoptr (GError) load_error = NULL;
          g_autoptr (NfnSafetensors) st = zoo_shard_load (&s, absolute, shard, &load_error);
          if (!st)
            {
              g_set_error (error, NFN_DATA_ERROR, load_error->code, "%s (delete it to refit that shard)",
                           load_error->message);
              ok = FALSE;
              break;
            }
          for (int k = 0; k < K; k++)
            zoo_shard_entry (st, &s, first, k, &entries[k]);
          report->shards_skipped++;
        }
      else
        {
          g_autoptr (GError) fit_error = NULL;
          ok = zoo_fit_shard (&s, ds, shard, first, K, path, &opt, entries, &fit_error);
          if (!ok)
            {
              cancelled = g_error_matches (fit_error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
              g_propagate_error (error, g_steal_pointer (&fit_error));
              break;
            }
          report->fitted += K;
        }
      for (int k = 0; k < K; k++)
        psnr_all[first + k] = entries[k].psnr;
      report->networks = last;
      if (store && !(ok = zoo_store_add (store, zoo_id, entries, K, path, error)))
        break;
      progress.done = last;
      if (fitted)
        progress.fitted += K;
      else
        zoo_fit_progress (0, 0, &progress);
      if (fitted)
        {
          double seconds = (g_get_monotonic_time () - shard_started) / 1e6;
          NfnZooPsnrSummary summary;
          nfn_zoo_psnr_summary (psnr_all + first, (gsize) K, &summary);
          double rate = seconds > 0 ? K / seconds : 0;
          if (store)
            {
              const char *names[] = { "zoo/mean_psnr", "zoo/inrs_per_s" };
              double values[] = { summary.mean, rate };
              ok = nfn_store_run_log (store, run, shard, 2, names, values, error);
            }
          if (ok && callbacks && callbacks->shard_done)
            callbacks->shard_done (shard, K, summary.mean, rate, callbacks->user_data);
        }
    }
  report->seconds = (g_get_monotonic_time () - started) / 1e6;
  nfn_zoo_psnr_summary (psnr_all, (gsize) report->networks, &report->psnr);
  if (store && run > 0)
    {
      g_autofree char *json = zoo_summary_json (report, &report->psnr);
      nfn_store_run_set_summary (store, run, json, NULL);
      nfn_store_run_finish (store, run, ok ? NFN_RUN_COMPLETED : cancelled ? NFN_RUN_CANCELLED : NFN_RUN_FAILED,
                            NULL);
    }
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
  NfnNetwork *net = nfn_network_new (&zoo->settings.arch);
  zoo_copy_network (st, &zoo->settings.arch.space, index - first, &net->weights, 0);
  net->path = g_strdup_printf ("%s:%" G_GINT64_FORMAT, zoo->path, index);
  char text[G_ASCII_DTOSTR_BUF_SIZE];
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
