/* nfn_cnn_zoo.c — CNN zoos: hyperparameter draws, the zoo's settings, the NfnZooBuilder
 * that trains a shard of CNNs, and the split by training run.
 *
 * Shape letters: K networks in a shard, M metrics, N images of H×W pixels (N networks in the
 * split), R training runs, C checkpoints per run.
 */
#include "nfn_json.h"
#include "nfn_cnn_zoo.h"

#include <gio/gio.h>
#include <gsl/gsl_randist.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "nfn_datasets.h"

const char *const nfn_cnn_zoo_metrics[] = {
  "test_accuracy", "train_accuracy", "final_loss", "epochs_done", "diverged",
  "lr", "optimizer", "init", "init_std", "l2", "dropout", "train_fraction", "activation", "epochs", NULL,
};
/* after those, with checkpoints */
const char *const nfn_cnn_zoo_checkpoint_metrics[] = { "run", "checkpoint", "step", "epoch", NULL };
enum {
  CNN_TEST_ACCURACY, CNN_TRAIN_ACCURACY, CNN_FINAL_LOSS, CNN_EPOCHS_DONE, CNN_DIVERGED,
  CNN_LR, CNN_OPTIMIZER, CNN_INIT, CNN_INIT_STD, CNN_L2, CNN_DROPOUT, CNN_TRAIN_FRACTION, CNN_ACTIVATION, CNN_EPOCHS,
  CNN_N_METRICS, CNN_RUN = CNN_N_METRICS, CNN_CHECKPOINT, CNN_STEP, CNN_EPOCH, CNN_N_CHECKPOINT_METRICS
};

void
nfn_cnn_zoo_settings_init (NfnCnnZooSettings *settings)
{
  memset (settings, 0, sizeof *settings);
  settings->dataset = g_strdup ("fashion-mnist");
  settings->shard_size = NFN_CNN_ZOO_DEFAULT_SHARD_SIZE;
  settings->ranges = (NfnCnnZooRanges) { .lr_min = 5e-4, .lr_max = 5e-2, .init_std_min = 1e-3, .init_std_max = 0.5,
                                         .l2_min = 1e-8, .l2_max = 1e-2, .dropout_max = 0.5, .fraction_min = 0.1, .fraction_max = 1,
                                         .epochs_max = 4, .batch_size = 32 };
  settings->checkpoints = 1;
}

void
nfn_cnn_zoo_settings_clear (NfnCnnZooSettings *settings)
{
  g_clear_pointer (&settings->dataset, g_free);
}

static double
cnn_zoo_log_uniform (gsl_rng *rng, double lo, double hi)
{
  return exp (log (lo) + gsl_rng_uniform (rng) * (log (hi) - log (lo)));
}

void
nfn_cnn_zoo_sample_hparams (const NfnCnnZooRanges *r, gsl_rng *rng, nfn_cnn_hparams *hp)
{
  hp->lr = cnn_zoo_log_uniform (rng, r->lr_min, r->lr_max);
  hp->optimizer = (nfn_cnn_optimizer) gsl_rng_uniform_int (rng, NFN_CNN_N_OPTIMIZERS);
  hp->init = (nfn_cnn_init) gsl_rng_uniform_int (rng, NFN_CNN_N_INITS);
  hp->init_std = cnn_zoo_log_uniform (rng, r->init_std_min, r->init_std_max);
  hp->l2 = cnn_zoo_log_uniform (rng, r->l2_min, r->l2_max);
  hp->dropout = gsl_rng_uniform (rng) * r->dropout_max;
  hp->train_fraction = r->fraction_min + gsl_rng_uniform (rng) * (r->fraction_max - r->fraction_min);
  hp->act = gsl_rng_uniform_int (rng, 2) ? NFN_ACT_TANH : NFN_ACT_RELU;
  hp->epochs = 1 + (int) gsl_rng_uniform_int (rng, (unsigned long) r->epochs_max);
  hp->batch_size = r->batch_size;
}

void
nfn_cnn_zoo_network_seeds (guint64 zoo_seed, gint64 first, int K, unsigned long *hparam_seeds,
                           unsigned long *train_seeds)
{
  gsl_rng *master = gsl_rng_alloc (gsl_rng_mt19937);
  g_assert (master != NULL);
  gsl_rng_set (master, (unsigned long) zoo_seed);
  for (gint64 n = 0; n < 2 * first; n++)
    gsl_rng_get (master);
  for (int k = 0; k < K; k++)
    {
      hparam_seeds[k] = gsl_rng_get (master);
      train_seeds[k] = gsl_rng_get (master);
    }
  gsl_rng_free (master);
}

/* The manifest's "training": what makes the networks, beyond the architecture. Ranges are
 * strings: json-glib writes a double such as 1e-08 as "1e-08.0", which is no JSON. */
static char *
cnn_zoo_training_json (const NfnCnnZooSettings *s, const char *test_split)
{
  const NfnCnnZooRanges *r = &s->ranges;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  const char *names[] = { "recipe", "test_split", "lr", "optimizer", "init", "l2", "dropout", "train_fraction",
                          "activation", "epochs", "batch_size", "train_accuracy_sample", "seeds" };
  g_autofree char *lr = g_strdup_printf ("log-uniform [%g, %g]", r->lr_min, r->lr_max);
  g_autofree char *init = g_strdup_printf ("weights: he, glorot or N(0, std^2) (metric init 0, 1, 2), std log-uniform"
                                           " [%g, %g]; biases 0", r->init_std_min, r->init_std_max);
  g_autofree char *l2 = g_strdup_printf ("log-uniform [%g, %g]", r->l2_min, r->l2_max);
  g_autofree char *dropout = g_strdup_printf ("uniform [0, %g], on the pooled features", r->dropout_max);
  g_autofree char *fraction = g_strdup_printf ("uniform [%g, %g]", r->fraction_min, r->fraction_max);
  g_autofree char *epochs = g_strdup_printf ("uniform integer [1, %d]", r->epochs_max);
  g_autofree char *batch = g_strdup_printf ("%d", r->batch_size);
  g_autofree char *sample = g_strdup_printf ("%d", NFN_CNN_TRAIN_ACCURACY_SAMPLE);
  const char *values[13] = { "Small CNN Zoo (Unterthiner et al. 2020), see data/nfn_cnn_zoo.h", test_split, lr,
                           "sgd, adam, rmsprop (metric optimizer 0, 1, 2)", init, l2, dropout, fraction,
                           "relu, tanh (metric activation 0, 1; the architecture's is nominal)", epochs, batch, sample,
                           "network n: outputs 2n, 2n+1 of mt19937(seed)" };
  if (s->checkpoints > 1)
    values[G_N_ELEMENTS (values) - 1] = "run r: outputs 2r, 2r+1 of mt19937(seed)";
  for (gsize k = 0; k < G_N_ELEMENTS (names); k++)
    {
      json_builder_set_member_name (b, names[k]);
      json_builder_add_string_value (b, values[k]);
    }
  /* only with checkpoints, so that K = 1 manifests stay as they were */
  if (s->checkpoints > 1)
    {
      json_builder_set_member_name (b, "checkpoints");
      json_builder_add_int_value (b, s->checkpoints);
      json_builder_set_member_name (b, "checkpoint_steps");
      json_builder_add_string_value (b, "run r's checkpoint c is network r*K + c, saved after ceil(T / 2^(K-1-c)) of its"
                                        " T steps (metrics run, checkpoint, step, epoch)");
    }
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return nfn_json_to_text (root, FALSE);
}

typedef struct {
  const NfnCnnZooSettings *settings;
  const nfn_arch *arch;
  nfn_cnn_data train, test;
} cnn_zoo_builder;

static gboolean
cnn_zoo_build_shard (gpointer self, gint64 first, int K, const NfnZooShardJob *job, nfn_feature *weights,
                     float *values /* (M, K) */, GError **error)
{
  const cnn_zoo_builder *cb = self;
  /* shards hold whole runs: first and K are multiples of C */
  const int C = cb->settings->checkpoints, R = K / C;
  g_assert (first % C == 0 && K % C == 0);
  g_autofree nfn_cnn_hparams *hp = g_new (nfn_cnn_hparams, R);
  g_autofree nfn_cnn_result *results = g_new0 (nfn_cnn_result, K);
  g_autofree unsigned long *hparam_seeds = g_new (unsigned long, R), *train_seeds = g_new (unsigned long, R);
  nfn_cnn_zoo_network_seeds (cb->settings->seed, first / C, R, hparam_seeds, train_seeds);
  gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
  for (int r = 0; r < R; r++)
    {
      gsl_rng_set (rng, hparam_seeds[r]);
      nfn_cnn_zoo_sample_hparams (&cb->settings->ranges, rng, &hp[r]);
    }
  gsl_rng_free (rng);
  nfn_cnn_train_options options = { .threads = job->threads, .progress = job->progress,
                                    .progress_data = job->progress_data, .cancel = job->cancel, .checkpoints = C };
  nfn_status status = nfn_cnn_train_many (cb->arch, hp, train_seeds, &cb->train, &cb->test, &options, weights, results);
  if (status == NFN_ERR_CANCELLED)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled");
      return FALSE;
    }
  if (status != NFN_OK)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_IO, job->path, "training failed: %s", nfn_status_message (status));
      return FALSE;
    }
  for (int k = 0; k < K; k++)
    {
      const nfn_cnn_hparams *h = &hp[k / C];
      const float row[CNN_N_CHECKPOINT_METRICS] = {
        [CNN_TEST_ACCURACY] = (float) results[k].test_accuracy, [CNN_TRAIN_ACCURACY] = (float) results[k].train_accuracy,
        [CNN_FINAL_LOSS] = (float) results[k].final_loss, [CNN_EPOCHS_DONE] = (float) results[k].epochs_done,
        [CNN_DIVERGED] = (float) results[k].diverged, [CNN_LR] = (float) h->lr,
        [CNN_OPTIMIZER] = (float) h->optimizer, [CNN_INIT] = (float) h->init,
        [CNN_INIT_STD] = (float) h->init_std, [CNN_L2] = (float) h->l2,
        [CNN_DROPOUT] = (float) h->dropout, [CNN_TRAIN_FRACTION] = (float) h->train_fraction,
        [CNN_ACTIVATION] = (float) h->act, [CNN_EPOCHS] = (float) h->epochs,
        [CNN_RUN] = (float) ((first + k) / C), [CNN_CHECKPOINT] = (float) (k % C),
        [CNN_STEP] = (float) results[k].step, [CNN_EPOCH] = (float) results[k].epoch,
      };
      for (int m = 0; m < (C > 1 ? CNN_N_CHECKPOINT_METRICS : CNN_N_METRICS); m++)
        values[(gsize) m * K + k] = row[m];
    }
  return TRUE;
}

gboolean
nfn_cnn_zoo_build (const NfnCnnZooSettings *settings, const char *dir, NfnStore *store,
                   const NfnZooFitCallbacks *callbacks, NfnZooFitReport *report, GError **error)
{
  g_return_val_if_fail (settings != NULL && dir != NULL, FALSE);
  const NfnCnnZooRanges *r = &settings->ranges;
  const int C = settings->checkpoints;
  if (settings->count < 1 || settings->shard_size < 1 || C < 1 || (gint64) settings->count * C > G_MAXINT
      || (gint64) settings->shard_size * C > G_MAXINT || !settings->dataset || !(r->lr_min > 0)
      || !(r->lr_max >= r->lr_min) || !(r->init_std_min > 0) || !(r->init_std_max >= r->init_std_min)
      || !(r->l2_min > 0) || !(r->l2_max >= r->l2_min) || !(r->dropout_max >= 0 && r->dropout_max < 1)
      || !(r->fraction_min > 0 && r->fraction_max >= r->fraction_min && r->fraction_max <= 1) || r->epochs_max < 1
      || r->batch_size < 1)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, dir,
                          "invalid settings (count ≥ 1, shard size ≥ 1, checkpoints ≥ 1, epochs ≥ 1, ranges ordered and"
                          " positive)");
      return FALSE;
    }
  /* the manifest check would name the count first; K is what differs */
  g_autofree char *manifest = g_build_filename (dir, "zoo.json", NULL);
  if (g_file_test (manifest, G_FILE_TEST_EXISTS))
    {
      g_autoptr (NfnZooDir) have = nfn_zoo_dir_open (dir, error);
      if (!have)
        return FALSE;
      int have_checkpoints = nfn_cnn_zoo_dir_checkpoints (have);
      if (have_checkpoints != C)
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, manifest,
                              "this zoo was built with %d checkpoints per run, not %d (resume with the same settings,"
                              " or choose another --out)", have_checkpoints, C);
          return FALSE;
        }
    }
  g_autoptr (NfnDataset) train = nfn_dataset_load (settings->dataset, "train", 0, error);
  if (!train)
    return FALSE;
  g_autoptr (NfnDataset) test = nfn_dataset_load (settings->dataset, "test", 0, error);
  if (!test)
    return FALSE;

  NfnZooSettings zs;
  nfn_zoo_settings_init (&zs);
  g_free (zs.dataset);
  zs.dataset = g_strdup (settings->dataset);
  zs.count = settings->count * C;
  zs.seed = settings->seed;
  zs.shard_size = settings->shard_size * C;
  zs.rows = train->rows;
  zs.cols = train->cols;
  zs.steps = 0;
  zs.lr = 0;
  zs.kind = g_strdup (NFN_ZOO_KIND_CNN_TRAIN);
  g_autoptr (GStrvBuilder) metrics = g_strv_builder_new ();
  g_strv_builder_addv (metrics, (const char **) nfn_cnn_zoo_metrics);
  if (C > 1)
    g_strv_builder_addv (metrics, (const char **) nfn_cnn_zoo_checkpoint_metrics);
  zs.metrics = g_strv_builder_end (metrics);
  zs.training_json = cnn_zoo_training_json (settings, "test");
  gboolean ok = nfn_cnn_zoo_arch (&zs.arch, NFN_ACT_RELU, train->rows, train->cols) == NFN_OK;
  if (!ok)
    nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, settings->dataset, "images of %d×%d are too small for the CNN",
                        train->rows, train->cols);
  cnn_zoo_builder cb = {
    .settings = settings, .arch = &zs.arch,
    .train = { train->images, train->labels, train->count },
    .test = { test->images, test->labels, test->count },
  };
  NfnZooBuilder builder = { .run_task = "zoo-cnn", .run_model = "cnn", .description = "CNN zoo directory",
                            .quality = "test_accuracy", .rate = "cnns_per_s", .build_shard = cnn_zoo_build_shard,
                            .grows = TRUE, .self = &cb };
  ok = ok && nfn_zoo_build (&zs, dir, store, &builder, callbacks, report, error);
  nfn_zoo_settings_clear (&zs);
  return ok;
}

int
nfn_cnn_zoo_dir_checkpoints (const NfnZooDir *zoo)
{
  g_return_val_if_fail (zoo != NULL, 1);
  const char *training = nfn_zoo_dir_settings (zoo)->training_json;
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!training || !json_parser_load_from_data (parser, training, -1, NULL))
    return 1;
  JsonNode *root = json_parser_get_root (parser);
  JsonObject *o = JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  JsonNode *k = o ? json_object_get_member (o, "checkpoints") : NULL;
  return k && JSON_NODE_HOLDS_VALUE (k) && json_node_get_value_type (k) == G_TYPE_INT64
             ? (int) CLAMP (json_node_get_int (k), 1, G_MAXINT) : 1;
}

gboolean
nfn_cnn_zoo_split (NfnZooDir *zoo, guint64 split_seed, double val_fraction, double test_fraction, int *order,
                   gint64 sizes[3], GError **error)
{
  g_return_val_if_fail (zoo != NULL && order != NULL && sizes != NULL, FALSE);
  gint64 N = nfn_zoo_dir_count (zoo);
  const char *path = nfn_zoo_dir_path (zoo);
  if (N > G_MAXINT)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, path, "%" G_GINT64_FORMAT " networks are too many to split", N);
      return FALSE;
    }
  /* run_of[n]: the run's rank by first appearance, so any run numbering works */
  g_autofree int *run_of = g_new (int, MAX (N, 1));
  g_autofree int *run_size = g_new0 (int, MAX (N, 1));
  int R = 0;
  if (g_strv_contains ((const char *const *) nfn_zoo_settings_metrics (nfn_zoo_dir_settings (zoo)), "run"))
    {
      g_autofree float *run = g_new (float, MAX (N, 1));
      if (!nfn_zoo_dir_load_metric (zoo, "run", 0, N, run, error))
        return FALSE;
      g_autoptr (GHashTable) rank = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
      for (gint64 n = 0; n < N; n++)
        {
          gint64 key = (gint64) run[n];
          gpointer value;
          if (!g_hash_table_lookup_extended (rank, &key, NULL, &value))
            {
              value = GINT_TO_POINTER (R++);
              g_hash_table_insert (rank, g_memdup2 (&key, sizeof key), value);
            }
          run_of[n] = GPOINTER_TO_INT (value);
        }
    }
  else
    for (gint64 n = 0; n < N; n++)
      run_of[n] = R++;
  for (gint64 n = 0; n < N; n++)
    run_size[run_of[n]]++;

  gint64 R_val = MAX (1, llround (R * val_fraction)), R_test = MAX (1, llround (R * test_fraction));
  gint64 R_train = R - R_val - R_test;
  if (R_train < 2)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, path, "%" G_GINT64_FORMAT
                          " networks (%d training runs) are too few to split into train, val and test", N, R);
      return FALSE;
    }
  g_autofree int *runs = g_new (int, R), *split_of = g_new (int, R);
  for (int r = 0; r < R; r++)
    runs[r] = r;
  gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
  g_assert (rng != NULL);
  gsl_rng_set (rng, (unsigned long) split_seed);
  gsl_ran_shuffle (rng, runs, (size_t) R, sizeof *runs);
  gsl_rng_free (rng);

  /* each split lists its runs in shuffled order, each run's networks in zoo order */
  g_autofree int *first = g_new0 (int, R + 1);
  for (int k = 0; k < R; k++)
    {
      split_of[runs[k]] = k < R_train ? 0 : k < R_train + R_val ? 1 : 2;
      first[k + 1] = first[k] + run_size[runs[k]];
    }
  g_autofree int *position = g_new (int, R); /* run → its slot in the shuffled order */
  for (int k = 0; k < R; k++)
    position[runs[k]] = k;
  g_autofree int *filled = g_new0 (int, R);
  for (gint64 n = 0; n < N; n++)
    {
      int k = position[run_of[n]];
      order[first[k] + filled[k]++] = (int) n;
    }
  sizes[0] = sizes[1] = sizes[2] = 0;
  for (int r = 0; r < R; r++)
    sizes[split_of[r]] += run_size[r];
  return TRUE;
}
