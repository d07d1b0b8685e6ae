/* nfn_ticket_zoo.c — ticket zoos: the data parts, the NfnZooBuilder that makes a shard of
 * (init, IMP mask) pairs, and reading the masks back.
 *
 * Shape letters: K networks in a shard, M metrics, B networks in a loaded range.
 */
#include "nfn_json.h"
#include "nfn_ticket_zoo.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "nfn_datasets.h"
#include "nfn_fit.h"

const char *const nfn_ticket_zoo_metrics[] = { "dense_accuracy", "imp_accuracy", "kept", NULL };
enum { TICKET_DENSE_ACCURACY, TICKET_IMP_ACCURACY, TICKET_KEPT, TICKET_N_METRICS };

#define TICKET_CLASSES 10
#define TICKET_FASHION_VAL 10000 /* the last images of fashion-mnist's train split */

void
nfn_ticket_zoo_settings_init (NfnTicketZooSettings *settings)
{
  memset (settings, 0, sizeof *settings);
  settings->dataset = g_strdup ("mnist");
  settings->shard_size = NFN_TICKET_ZOO_DEFAULT_SHARD_SIZE;
  settings->n_hidden = 2;
  settings->hidden[0] = settings->hidden[1] = 32;
  settings->sparsity = NFN_TICKET_DEFAULT_SPARSITY;
  settings->epochs = NFN_TICKET_DEFAULT_EPOCHS;
  settings->batch = NFN_TICKET_DEFAULT_BATCH;
  settings->lr = NFN_TICKET_DEFAULT_LR;
}

void
nfn_ticket_zoo_settings_clear (NfnTicketZooSettings *settings)
{
  g_clear_pointer (&settings->dataset, g_free);
}

nfn_status
nfn_ticket_zoo_arch (const NfnTicketZooSettings *s, int D, int K, nfn_arch *arch)
{
  if (s->n_hidden < 1 || s->n_hidden >= NFN_MAX_LAYERS)
    return NFN_ERR_ARG;
  int widths[NFN_MAX_LAYERS + 1];
  widths[0] = D;
  for (int i = 0; i < s->n_hidden; i++)
    widths[i + 1] = s->hidden[i];
  widths[s->n_hidden + 1] = K;
  return nfn_arch_mlp (arch, s->n_hidden + 1, widths, NFN_ACT_RELU);
}

void
nfn_ticket_zoo_train_options (const NfnTicketZooSettings *s, nfn_ticket_train_options *options)
{
  nfn_ticket_train_options_init (options);
  options->epochs = s->epochs;
  options->batch_size = s->batch;
  options->lr = s->lr;
  options->seed = s->seed;
}

/* ---- The data ---- */

void
nfn_ticket_data_clear (NfnTicketData *data)
{
  g_clear_pointer (&data->train_split, nfn_dataset_free);
  g_clear_pointer (&data->val_split, nfn_dataset_free);
  g_clear_pointer (&data->test_split, nfn_dataset_free);
  g_clear_pointer (&data->labels, g_free);
  memset (data, 0, sizeof *data);
}

/* part = images [first, first + n) of ds, labels copied into `labels`. */
static void
ticket_data_part (nfn_ticket_data *part, const NfnDataset *ds, int first, int n, int *labels)
{
  for (int k = 0; k < n; k++)
    labels[k] = ds->labels[first + k];
  *part = (nfn_ticket_data) { ds->images + (gsize) first * ds->rows * ds->cols, labels, n };
}

gboolean
nfn_ticket_data_load (const char *dataset, int train_limit, NfnTicketData *data, GError **error)
{
  memset (data, 0, sizeof *data);
  gboolean fashion = g_strcmp0 (dataset, "fashion-mnist") == 0;
  if (!fashion && g_strcmp0 (dataset, "mnist") != 0)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, dataset ? dataset : "(null)",
                          "not a ticket data set (mnist or fashion-mnist)");
      return FALSE;
    }
  if (!(data->train_split = nfn_dataset_load (dataset, "train", 0, error))
      || !(data->test_split = nfn_dataset_load (dataset, "test", 0, error))
      || (!fashion && !(data->val_split = nfn_dataset_load (dataset, "val", 0, error))))
    {
      nfn_ticket_data_clear (data);
      return FALSE;
    }
  int train_n = fashion ? data->train_split->count - TICKET_FASHION_VAL : data->train_split->count;
  int val_n = fashion ? TICKET_FASHION_VAL : data->val_split->count, test_n = data->test_split->count;
  if (train_n < 1)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, dataset, "its train split is too small to hold out a validation part");
      nfn_ticket_data_clear (data);
      return FALSE;
    }
  if (train_limit > 0)
    train_n = MIN (train_n, train_limit);
  data->labels = g_new (int, (gsize) train_n + val_n + test_n);
  ticket_data_part (&data->train, data->train_split, 0, train_n, data->labels);
  if (fashion)
    ticket_data_part (&data->val, data->train_split, data->train_split->count - TICKET_FASHION_VAL, val_n,
                      data->labels + train_n);
  else
    ticket_data_part (&data->val, data->val_split, 0, val_n, data->labels + train_n);
  ticket_data_part (&data->test, data->test_split, 0, test_n, data->labels + train_n + val_n);
  return TRUE;
}

/* ---- The manifest's "training" ---- */

/* Doubles travel as strings: json-glib writes 1e-05 as "1e-05.0", which is no JSON. */
static char *
ticket_training_json (const NfnTicketZooSettings *s)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  char sparsity[G_ASCII_DTOSTR_BUF_SIZE], lr[G_ASCII_DTOSTR_BUF_SIZE];
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "recipe");
  json_builder_add_string_value (b, "one-shot IMP: train dense, prune by global weight magnitude (biases kept), rewind to"
                                    " the init, train under the mask (see data/nfn_ticket_zoo.h)");
  json_builder_set_member_name (b, "parts");
  json_builder_add_string_value (b, g_strcmp0 (s->dataset, "fashion-mnist") == 0
                                        ? "train: train[0:50000], val: train[50000:60000], accuracies: test"
                                        : "train: train, val: val, accuracies: test");
  json_builder_set_member_name (b, "sparsity");
  json_builder_add_string_value (b, g_ascii_formatd (sparsity, sizeof sparsity, "%.12g", s->sparsity));
  json_builder_set_member_name (b, "epochs");
  json_builder_add_int_value (b, s->epochs);
  json_builder_set_member_name (b, "batch");
  json_builder_add_int_value (b, s->batch);
  json_builder_set_member_name (b, "lr");
  json_builder_add_string_value (b, g_ascii_formatd (lr, sizeof lr, "%.12g", s->lr));
  json_builder_set_member_name (b, "train_limit");
  json_builder_add_int_value (b, s->train_limit);
  json_builder_set_member_name (b, "optimizer");
  json_builder_add_string_value (b, "adam (PyTorch defaults), softmax cross-entropy");
  json_builder_set_member_name (b, "seeds");
  json_builder_add_string_value (b, "network n: init from nfn_fit_init_network (seed, n); minibatch order from (seed, n)");
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return nfn_json_to_text (root, FALSE);
}

gboolean
nfn_ticket_zoo_settings_from_zoo (NfnZooDir *zoo, NfnTicketZooSettings *s, GError **error)
{
  nfn_ticket_zoo_settings_init (s);
  const NfnZooSettings *zs = nfn_zoo_dir_settings (zoo);
  const char *path = nfn_zoo_dir_path (zoo);
  if (g_strcmp0 (nfn_zoo_settings_kind (zs), NFN_ZOO_KIND_MLP_TICKET) != 0)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, path, "a %s zoo, not a ticket zoo (make one with nfn zoo tickets)",
                          nfn_zoo_settings_kind (zs));
      return FALSE;
    }
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o = NULL;
  if (zs->training_json && json_parser_load_from_data (parser, zs->training_json, -1, NULL)
      && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    o = json_node_get_object (json_parser_get_root (parser));
  const char *sparsity = o && json_object_has_member (o, "sparsity") ? json_object_get_string_member (o, "sparsity") : NULL;
  const char *lr = o && json_object_has_member (o, "lr") ? json_object_get_string_member (o, "lr") : NULL;
  const nfn_arch *arch = &zs->arch;
  gboolean ok = sparsity && lr && json_object_has_member (o, "epochs") && json_object_has_member (o, "batch")
                && json_object_has_member (o, "train_limit") && arch->kind == NFN_NET_MLP && arch->space.L >= 2;
  if (ok)
    {
      g_free (s->dataset);
      s->dataset = g_strdup (zs->dataset);
      s->count = zs->count;
      s->seed = zs->seed;
      s->shard_size = zs->shard_size;
      s->n_hidden = arch->space.L - 1;
      for (int i = 0; i < s->n_hidden; i++)
        s->hidden[i] = arch->space.n[i + 1];
      s->sparsity = g_ascii_strtod (sparsity, NULL);
      s->lr = g_ascii_strtod (lr, NULL);
      s->epochs = (int) json_object_get_int_member (o, "epochs");
      s->batch = (int) json_object_get_int_member (o, "batch");
      s->train_limit = (int) json_object_get_int_member (o, "train_limit");
      ok = s->sparsity >= 0 && s->sparsity < 1 && s->lr > 0 && s->epochs >= 0 && s->batch >= 1 && s->train_limit >= 0;
    }
  if (!ok)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, path,
                          "the manifest's \"training\" lacks the ticket settings (sparsity, lr, epochs, batch, train_limit)");
      return FALSE;
    }
  return TRUE;
}

/* ---- Mask files ---- */

/* DIR/masks-KKKKK.safetensors beside DIR/shard-KKKKK.safetensors. */
static char *
ticket_mask_path_of_shard (const char *shard_path)
{
  g_autofree char *dir = g_path_get_dirname (shard_path), *base = g_path_get_basename (shard_path);
  g_autofree char *name = g_strconcat ("masks-", g_str_has_prefix (base, "shard-") ? base + 6 : base, NULL);
  return g_build_filename (dir, name, NULL);
}

static char *
ticket_layer_tensor_name (int t)
{
  return g_strdup_printf ("layers.%d.%s", nfn_tensor_layer (t) - 1, nfn_tensor_is_bias (t) ? "bias" : "weight");
}

static gboolean
ticket_masks_save (const char *path, const nfn_feature *masks, gint64 first, double sparsity, GError **error)
{
  g_autoptr (NfnSafetensors) st = nfn_safetensors_new ();
  const nfn_space *s = &masks->space;
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      int i = nfn_tensor_layer (t);
      g_autofree char *name = ticket_layer_tensor_name (t);
      gint64 shape[3] = { masks->B, s->n[i], s->n[i - 1] };
      nfn_safetensors_add (st, name, nfn_tensor_is_bias (t) ? 2 : 3, shape, masks->t[t]);
    }
  char text[G_ASCII_DTOSTR_BUF_SIZE];
  g_autofree char *first_text = g_strdup_printf ("%" G_GINT64_FORMAT, first);
  nfn_safetensors_set_metadata (st, "nfn.ticket.content", "IMP masks (1 keeps the weight), one per network of the shard");
  nfn_safetensors_set_metadata (st, "nfn.ticket.sparsity", g_ascii_formatd (text, sizeof text, "%.12g", sparsity));
  nfn_safetensors_set_metadata (st, "nfn.zoo.first", first_text);
  return nfn_safetensors_save (st, path, error);
}

/* The temp files a killed atomic write of a mask file left ("masks-….safetensors.XXXXXX"). */
static void
ticket_remove_stray_temps (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name (d)))
    {
      size_t length = strlen (name);
      if (length < 8 || name[length - 7] != '.' || !g_str_has_prefix (name, "masks-"))
        continue;
      g_autofree char *base = g_strndup (name, length - 7);
      if (g_str_has_suffix (base, ".safetensors"))
        {
          g_autofree char *path = g_build_filename (dir, name, NULL);
          g_unlink (path);
        }
    }
}

gboolean
nfn_ticket_zoo_load_masks (NfnZooDir *zoo, gint64 first, gint64 last, nfn_feature *masks, GError **error)
{
  g_return_val_if_fail (zoo != NULL && masks != NULL, FALSE);
  memset (masks, 0, sizeof *masks);
  const NfnZooSettings *zs = nfn_zoo_dir_settings (zoo);
  const nfn_space *s = &zs->arch.space;
  if (first < 0 || last <= first || last > nfn_zoo_dir_count (zoo) || last - first > G_MAXINT)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, nfn_zoo_dir_path (zoo),
                          "networks [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ") are not a range of the zoo's %" G_GINT64_FORMAT,
                          first, last, nfn_zoo_dir_count (zoo));
      return FALSE;
    }
  if (nfn_feature_alloc (masks, s, (int) (last - first), 1) != NFN_OK)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_IO, nfn_zoo_dir_path (zoo), "out of memory for %" G_GINT64_FORMAT " masks",
                          last - first);
      return FALSE;
    }
  gint64 n = first;
  while (n < last)
    {
      int shard = (int) (n / zs->shard_size);
      gint64 shard_first = (gint64) shard * zs->shard_size;
      gint64 K = MIN (shard_first + zs->shard_size, nfn_zoo_dir_count (zoo)) - shard_first;
      g_autofree char *shard_path = nfn_zoo_dir_shard_path (zoo, shard);
      g_autofree char *path = ticket_mask_path_of_shard (shard_path);
      g_autoptr (NfnSafetensors) st = nfn_safetensors_load (path, error);
      if (!st)
        goto fail;
      for (int t = 0; t < nfn_tensor_count (s); t++)
        {
          int i = nfn_tensor_layer (t);
          g_autofree char *name = ticket_layer_tensor_name (t);
          NfnTensor *tensor = nfn_safetensors_find (st, name);
          int rank = nfn_tensor_is_bias (t) ? 2 : 3;
          gint64 shape[3] = { K, s->n[i], s->n[i - 1] };
          gboolean ok = tensor && tensor->rank == rank;
          for (int d = 0; ok && d < rank; d++)
            ok = tensor->shape[d] == shape[d];
          if (!ok)
            {
              g_autofree char *want = nfn_data_format_index (shape, rank);
              nfn_data_set_error (error, NFN_DATA_ERROR_SHAPE, path, "tensor \"%s\" %s, expected shape %s", name,
                                  tensor ? "has another shape" : "is missing", want);
              goto fail;
            }
          size_t per = nfn_tensor_entries (s, t);
          for (gint64 m = n; m < MIN (last, shard_first + K); m++)
            {
              const float *src = tensor->data + (gsize) (m - shard_first) * per;
              for (size_t e = 0; e < per; e++)
                if (nfn_tensor_is_bias (t) ? src[e] != 1.0f : src[e] != 0.0f && src[e] != 1.0f)
                  {
                    nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, path,
                                        "tensor \"%s\" of network %" G_GINT64_FORMAT " is not a mask (%s)", name,
                                        m, nfn_tensor_is_bias (t) ? "biases must be 1" : "entries must be 0 or 1");
                    goto fail;
                  }
              memcpy (masks->t[t] + (gsize) (m - first) * per, src, per * sizeof (float));
            }
        }
      n = MIN (last, shard_first + K);
    }
  return TRUE;

fail:
  nfn_feature_free (masks);
  return FALSE;
}

/* ---- Building ---- */

typedef struct {
  const NfnTicketZooSettings *settings;
  const nfn_arch *arch;
  const NfnTicketData *data;
} ticket_builder;

/* Two trainings per network: the shard's progress counts each network once, half way after
 * its dense training. */
typedef struct {
  const NfnZooShardJob *job;
  int K, phase_done[2], reported;
} ticket_progress;

static void
ticket_phase_progress (ticket_progress *p, int phase, int done)
{
  p->phase_done[phase] = done;
  int now = (p->phase_done[0] + p->phase_done[1]) / 2;
  if (now > p->reported && p->job->progress)
    p->job->progress (now, p->K, p->job->progress_data);
  p->reported = MAX (p->reported, now);
}

static void
ticket_progress_dense (int done, int total, void *data)
{
  ticket_phase_progress (data, 0, done);
}

static void
ticket_progress_masked (int done, int total, void *data)
{
  ticket_phase_progress (data, 1, done);
}

static gboolean
ticket_status_error (nfn_status status, const char *path, const char *what, GError **error)
{
  if (status == NFN_ERR_CANCELLED)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled");
  else
    nfn_data_set_error (error, NFN_DATA_ERROR_IO, path, "%s failed: %s", what, nfn_status_message (status));
  return FALSE;
}

static gboolean
ticket_build_shard (gpointer self, gint64 first, int K, const NfnZooShardJob *job, nfn_feature *weights,
                    float *values /* (M, K) */, GError **error)
{
  const ticket_builder *tb = self;
  const NfnTicketZooSettings *s = tb->settings;
  const nfn_arch *arch = tb->arch;
  g_autofree guint64 *ids = g_new (guint64, K);
  g_autofree float *dense_accuracy = g_new (float, K), *imp_accuracy = g_new (float, K);
  for (int k = 0; k < K; k++)
    {
      ids[k] = (guint64) (first + k);
      nfn_fit_init_network (arch, weights, k, s->seed, ids[k]);
    }
  nfn_feature work = { 0 }, masks = { 0 };
  if (nfn_feature_alloc (&work, &arch->space, K, 1) != NFN_OK || nfn_feature_alloc (&masks, &arch->space, K, 1) != NFN_OK)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_IO, job->path, "out of memory for %d networks", K);
      nfn_feature_free (&work);
      return FALSE;
    }
  ticket_progress progress = { .job = job, .K = K };
  nfn_ticket_train_options opt;
  nfn_ticket_zoo_train_options (s, &opt);
  opt.threads = MAX (1, job->threads);
  opt.cancel = job->cancel;
  opt.progress_data = &progress;
  nfn_status status;
  gboolean ok = TRUE;

  memcpy (work.data, weights->data, work.size * sizeof (float));
  opt.progress = ticket_progress_dense;
  if ((status = nfn_ticket_train (arch, &work, NULL, &tb->data->train, ids, &opt)) != NFN_OK
      || (status = nfn_ticket_accuracy (arch, &work, &tb->data->test, opt.threads, dense_accuracy)) != NFN_OK)
    ok = ticket_status_error (status, job->path, "dense training", error);
  if (ok && (status = nfn_ticket_prune_magnitude (&work, s->sparsity, &masks)) != NFN_OK)
    ok = ticket_status_error (status, job->path, "pruning", error);
  /* rewind: the masked training starts from the init again */
  if (ok)
    {
      memcpy (work.data, weights->data, work.size * sizeof (float));
      opt.progress = ticket_progress_masked;
      if ((status = nfn_ticket_train (arch, &work, &masks, &tb->data->train, ids, &opt)) != NFN_OK
          || (status = nfn_ticket_accuracy (arch, &work, &tb->data->test, opt.threads, imp_accuracy)) != NFN_OK)
        ok = ticket_status_error (status, job->path, "masked training", error);
    }
  g_autofree char *mask_path = ticket_mask_path_of_shard (job->path);
  if (ok)
    ok = ticket_masks_save (mask_path, &masks, first, s->sparsity, error);
  float kept = (float) nfn_ticket_keep_count (&arch->space, s->sparsity);
  for (int k = 0; ok && k < K; k++)
    {
      values[(gsize) TICKET_DENSE_ACCURACY * K + k] = dense_accuracy[k];
      values[(gsize) TICKET_IMP_ACCURACY * K + k] = imp_accuracy[k];
      values[(gsize) TICKET_KEPT * K + k] = kept;
    }
  nfn_feature_free (&work);
  nfn_feature_free (&masks);
  return ok;
}

gboolean
nfn_ticket_zoo_build (const NfnTicketZooSettings *settings, const char *dir, NfnStore *store,
                      const NfnZooFitCallbacks *callbacks, NfnZooFitReport *report, GError **error)
{
  g_return_val_if_fail (settings != NULL && dir != NULL, FALSE);
  const NfnTicketZooSettings *s = settings;
  gboolean widths_ok = s->n_hidden >= 1 && s->n_hidden < NFN_MAX_LAYERS;
  for (int i = 0; widths_ok && i < s->n_hidden; i++)
    widths_ok = s->hidden[i] >= 1 && s->hidden[i] <= 4096;
  if (s->count < 1 || s->shard_size < 1 || !s->dataset || !widths_ok || !(s->sparsity >= 0 && s->sparsity < 1)
      || s->epochs < 1 || s->batch < 1 || !(s->lr > 0) || s->train_limit < 0)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, dir,
                          "invalid settings (count, shard size, epochs, batch ≥ 1, hidden widths in 1 … 4096, sparsity in"
                          " [0, 1), lr > 0, train limit ≥ 0)");
      return FALSE;
    }
  NfnTicketData data;
  if (!nfn_ticket_data_load (s->dataset, s->train_limit, &data, error))
    return FALSE;

  NfnZooSettings zs;
  nfn_zoo_settings_init (&zs);
  g_free (zs.dataset);
  zs.dataset = g_strdup (s->dataset);
  zs.count = s->count;
  zs.seed = s->seed;
  zs.shard_size = s->shard_size;
  zs.rows = data.train_split->rows;
  zs.cols = data.train_split->cols;
  zs.steps = 0;
  zs.lr = 0;
  zs.kind = g_strdup (NFN_ZOO_KIND_MLP_TICKET);
  zs.metrics = g_strdupv ((char **) nfn_ticket_zoo_metrics);
  zs.training_json = ticket_training_json (s);
  gboolean ok = nfn_ticket_zoo_arch (s, zs.rows * zs.cols, TICKET_CLASSES, &zs.arch) == NFN_OK;
  if (!ok)
    nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, dir, "these hidden widths do not make an MLP");
  if (ok)
    ticket_remove_stray_temps (dir);
  ticket_builder tb = { .settings = s, .arch = &zs.arch, .data = &data };
  NfnZooBuilder builder = { .run_task = "zoo-tickets", .run_model = "mlp", .description = "ticket zoo directory (inits; IMP masks beside each shard)",
                            .quality = "imp_accuracy", .rate = "tickets_per_s", .build_shard = ticket_build_shard,
                            .self = &tb };
  ok = ok && nfn_zoo_build (&zs, dir, store, &builder, callbacks, report, error);
  nfn_zoo_settings_clear (&zs);
  nfn_ticket_data_clear (&data);
  return ok;
}
