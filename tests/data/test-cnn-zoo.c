/* test-cnn-zoo.c — CNN zoos with checkpoints (data/nfn_cnn_zoo.h), on real MNIST with tiny
 * training runs: K = 3 checkpoints per run give 3 networks per run with the run's index, its
 * checkpoint and non-decreasing steps (the last = the run's T, counted here from its drawn
 * hyperparameters); the last checkpoint is, bit for bit, the network the K = 1 zoo of the same
 * seed holds; a checkpoint's recorded test accuracy is recomputed from its weights; a build
 * cancelled after its first shard resumes to the same zoo, and a larger count grows it to the zoo
 * built at that count; another K is refused; the split by
 * run never puts one run in two splits, and on a K = 1 zoo it is the plain shuffle genpred
 * always used.
 *
 * Shape letters: R training runs, C checkpoints per run, N = R·C networks. */
#include <gio/gio.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <string.h>

#include "datatestutil.h"
#include "nfn_cnn_zoo.h"
#include "nfn_datasets.h"
#include "nfn_train.h"

#define RUNS 10
#define CKPTS 3

/* The two zoos most tests read, built once: K = 3 and K = 1 from the same seed. */
static char *tmp_dir, *zoo_k3, *zoo_k1;

/* 10 runs on 5 % of the MNIST train split, 1 or 2 epochs, shards of 4 runs. */
static void
tiny_settings (NfnCnnZooSettings *s, int checkpoints)
{
  nfn_cnn_zoo_settings_init (s);
  g_free (s->dataset);
  s->dataset = g_strdup ("mnist");
  s->count = RUNS;
  s->seed = 17;
  s->shard_size = 4;
  s->checkpoints = checkpoints;
  s->ranges.fraction_min = s->ranges.fraction_max = 0.05;
  s->ranges.epochs_max = 2;
}

/* The tiny zoo with `runs` runs of `seed`; callbacks NULL: 2 threads, no cancel. */
static gboolean
build_zoo (const char *dir, int checkpoints, int runs, guint64 seed, const NfnZooFitCallbacks *callbacks,
           NfnZooFitReport *report, GError **error)
{
  NfnCnnZooSettings s;
  tiny_settings (&s, checkpoints);
  s.count = runs;
  s.seed = seed;
  NfnZooFitCallbacks defaults = { .threads = 2 };
  gboolean ok = nfn_cnn_zoo_build (&s, dir, NULL, callbacks ? callbacks : &defaults, report, error);
  nfn_cnn_zoo_settings_clear (&s);
  return ok;
}

static gboolean
build (const char *dir, int checkpoints, const NfnZooFitCallbacks *callbacks, NfnZooFitReport *report, GError **error)
{
  return build_zoo (dir, checkpoints, RUNS, 17, callbacks, report, error);
}

static float *
load_metric (NfnZooDir *zoo, const char *name)
{
  g_autoptr (GError) error = NULL;
  gint64 N = nfn_zoo_dir_count (zoo);
  float *values = g_new (float, N);
  g_assert_true (nfn_zoo_dir_load_metric (zoo, name, 0, N, values, &error));
  g_assert_no_error (error);
  return values;
}

static NfnZooDir *
open_zoo (const char *dir)
{
  g_autoptr (GError) error = NULL;
  NfnZooDir *zoo = nfn_zoo_dir_open (dir, &error);
  g_assert_no_error (error);
  return zoo;
}

/* Network a of zoo A and network b of zoo B: identical bytes. */
static gboolean
same_network (const nfn_feature *A, int a, const nfn_feature *B, int b)
{
  nfn_feature x, y;
  g_assert_cmpint (nfn_feature_alloc (&x, &A->space, 1, 1), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&y, &B->space, 1, 1), ==, NFN_OK);
  nfn_feature_get_network (A, a, &x);
  nfn_feature_get_network (B, b, &y);
  gboolean same = memcmp (x.data, y.data, x.size * sizeof (float)) == 0;
  nfn_feature_free (&x);
  nfn_feature_free (&y);
  return same;
}

static void
load_all (NfnZooDir *zoo, nfn_feature *weights)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (nfn_zoo_dir_load_range (zoo, 0, nfn_zoo_dir_count (zoo), weights, NULL, NULL, &error));
  g_assert_no_error (error);
}

/* The zoos in directories a and b hold the same networks and metrics, bit for bit. */
static void
assert_same_zoo (const char *a_dir, const char *b_dir)
{
  g_autoptr (NfnZooDir) a_zoo = open_zoo (a_dir);
  g_autoptr (NfnZooDir) b_zoo = open_zoo (b_dir);
  gint64 N = nfn_zoo_dir_count (b_zoo);
  g_assert_cmpint (nfn_zoo_dir_count (a_zoo), ==, N);
  nfn_feature a, b;
  load_all (a_zoo, &a);
  load_all (b_zoo, &b);
  g_assert_cmpint (memcmp (a.data, b.data, a.size * sizeof (float)), ==, 0);
  for (const char *const *m = nfn_zoo_settings_metrics (nfn_zoo_dir_settings (b_zoo)); *m; m++)
    {
      g_autofree float *x = load_metric (a_zoo, *m), *y = load_metric (b_zoo, *m);
      g_assert_cmpmem (x, N * sizeof (float), y, N * sizeof (float));
    }
  nfn_feature_free (&a);
  nfn_feature_free (&b);
}

/* Entries per run, run and checkpoint indices, steps against T counted here, the last
 * checkpoint against the K = 1 zoo, a recomputed accuracy, and the spread within runs. */
static void
test_checkpoints (void)
{
  g_autoptr (NfnZooDir) k3 = open_zoo (zoo_k3);
  g_autoptr (NfnZooDir) k1 = open_zoo (zoo_k1);
  g_assert_cmpint (nfn_zoo_dir_count (k3), ==, RUNS * CKPTS);
  g_assert_cmpint (nfn_zoo_dir_available (k3), ==, RUNS * CKPTS);
  g_assert_cmpint (nfn_zoo_dir_count (k1), ==, RUNS);
  g_assert_cmpint (nfn_cnn_zoo_dir_checkpoints (k3), ==, CKPTS);
  g_assert_cmpint (nfn_cnn_zoo_dir_checkpoints (k1), ==, 1);
  g_assert_cmpint (nfn_zoo_dir_settings (k3)->shard_size, ==, 4 * CKPTS);
  /* K = 1 records exactly the metrics it always did */
  g_assert_true (g_strv_equal ((const char *const *) nfn_zoo_settings_metrics (nfn_zoo_dir_settings (k1)),
                               (const char *const *) nfn_cnn_zoo_metrics));

  g_autofree float *run = load_metric (k3, "run"), *checkpoint = load_metric (k3, "checkpoint");
  g_autofree float *step = load_metric (k3, "step"), *epoch = load_metric (k3, "epoch");
  g_autofree float *epochs = load_metric (k3, "epochs"), *acc3 = load_metric (k3, "test_accuracy");
  g_autofree float *acc1 = load_metric (k1, "test_accuracy"), *epochs1 = load_metric (k1, "epochs");
  g_autofree unsigned long *hparam_seeds = g_new (unsigned long, RUNS), *train_seeds = g_new (unsigned long, RUNS);
  nfn_cnn_zoo_network_seeds (17, 0, RUNS, hparam_seeds, train_seeds);
  NfnCnnZooSettings s;
  tiny_settings (&s, CKPTS);
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnDataset) train = nfn_dataset_load ("mnist", "train", 0, &error);
  g_assert_no_error (error);
  gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
  nfn_feature w3, w1;
  load_all (k3, &w3);
  load_all (k1, &w1);
  int spread = 0;
  for (int r = 0; r < RUNS; r++)
    {
      nfn_cnn_hparams hp;
      gsl_rng_set (rng, hparam_seeds[r]);
      nfn_cnn_zoo_sample_hparams (&s.ranges, rng, &hp);
      long per_epoch = (lround (hp.train_fraction * train->count) + 31) / 32, T = hp.epochs * per_epoch;
      for (int c = 0; c < CKPTS; c++)
        {
          int n = r * CKPTS + c;
          g_assert_cmpfloat (run[n], ==, r);
          g_assert_cmpfloat (checkpoint[n], ==, c);
          g_assert_cmpfloat (epochs[n], ==, hp.epochs);
          g_assert_cmpfloat (fabsf (epoch[n] - step[n] / (float) per_epoch), <, 1e-6f);
          g_assert_cmpfloat (step[n], >=, 1);
          if (c > 0)
            g_assert_cmpfloat (step[n], >=, step[n - 1]);
        }
      int last = r * CKPTS + CKPTS - 1;
      g_test_message ("run %d: %d epochs, T = %ld; steps %g %g %g; test accuracy %.4f %.4f %.4f (K = 1: %.4f)", r,
                      hp.epochs, T, step[last - 2], step[last - 1], step[last], acc3[last - 2], acc3[last - 1],
                      acc3[last], acc1[r]);
      g_assert_cmpfloat (step[last], ==, T);
      g_assert_cmpfloat (step[last - 1], ==, (T + 1) / 2);
      g_assert_cmpfloat (epochs1[r], ==, hp.epochs);
      g_assert_true (same_network (&w3, last, &w1, r));
      g_assert_cmpfloat (acc3[last], ==, acc1[r]);
      g_assert_false (same_network (&w3, last - 2, &w3, last));
      spread += acc3[last - 2] != acc3[last];
    }
  g_assert_cmpint (spread, >=, RUNS / 2);

  /* checkpoint 0 of run 4 (mid-training): its recorded test accuracy, recomputed */
  g_autofree char *spec = g_strdup_printf ("%s:%d", zoo_k3, 4 * CKPTS);
  g_autoptr (NfnNetwork) net = NULL;
  double accuracy = dtu_mnist_test_accuracy (spec, &net);
  g_test_message ("network %d: recorded %.4f, recomputed %.4f", 4 * CKPTS, acc3[4 * CKPTS], accuracy);
  g_assert_cmpfloat (fabs (accuracy - acc3[4 * CKPTS]), <, 1e-6);

  nfn_feature_free (&w3);
  nfn_feature_free (&w1);
  gsl_rng_free (rng);
  nfn_cnn_zoo_settings_clear (&s);
}

static void
cancel_after_first_shard (int shard, int networks, double mean, double rate, gpointer user_data)
{
  (void) networks, (void) mean, (void) rate;
  if (shard == 0)
    *(volatile int *) user_data = 1;
}

/* Cancelled after its first shard, then resumed: the same networks and metrics as the zoo
 * built in one go; a resume with another K is refused naming both. */
static void
test_resume (void)
{
  g_autofree char *dir = g_build_filename (tmp_dir, "resumed", NULL);
  volatile int cancel = 0;
  NfnZooFitCallbacks callbacks = { .threads = 2, .cancel = &cancel, .shard_done = cancel_after_first_shard,
                                   .user_data = (gpointer) &cancel };
  NfnZooFitReport report;
  g_autoptr (GError) error = NULL;
  g_assert_false (build (dir, CKPTS, &callbacks, &report, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  {
    g_autoptr (NfnZooDir) part = open_zoo (dir);
    g_assert_cmpint (nfn_zoo_dir_available (part), ==, 4 * CKPTS);
  }
  cancel = 0;
  callbacks.shard_done = NULL;
  g_assert_true (build (dir, CKPTS, &callbacks, &report, &error));
  g_assert_no_error (error);
  g_assert_cmpint (report.shards_skipped, ==, 1);
  g_assert_cmpint (report.fitted, ==, (RUNS - 4) * CKPTS);

  assert_same_zoo (dir, zoo_k3);

  g_autofree char *manifest = g_build_filename (dir, "zoo.json", NULL);
  g_assert_false (build (dir, 2, NULL, NULL, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, manifest, "3 checkpoints per run, not 2");
  g_clear_error (&error);
  g_assert_false (build (zoo_k1, CKPTS, NULL, NULL, &error));
  g_autofree char *manifest_k1 = g_build_filename (zoo_k1, "zoo.json", NULL);
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, manifest_k1, "1 checkpoints per run, not 3");
}

/* A larger count grows a zoo: 5 runs (a full shard of 4 and a partial one) grown to 10 keep
 * the full shard, rebuild the partial one and equal the zoo built at 10 at once; a smaller
 * count, and a larger one with another seed, are refused with the setting that differs. */
static void
test_grow (void)
{
  g_autofree char *dir = g_build_filename (tmp_dir, "grown", NULL);
  g_autofree char *manifest = g_build_filename (dir, "zoo.json", NULL);
  NfnZooFitReport report;
  g_autoptr (GError) error = NULL;
  g_assert_true (build_zoo (dir, CKPTS, 5, 17, NULL, &report, &error));
  g_assert_no_error (error);
  g_assert_cmpint (report.grown_from, ==, 0);
  g_assert_true (build_zoo (dir, CKPTS, RUNS, 17, NULL, &report, &error));
  g_assert_no_error (error);
  g_assert_cmpint (report.grown_from, ==, 5 * CKPTS);
  g_assert_cmpint (report.shards_skipped, ==, 1);
  g_assert_cmpint (report.fitted, ==, (RUNS - 4) * CKPTS);
  assert_same_zoo (dir, zoo_k3);

  g_assert_false (build_zoo (dir, CKPTS, 5, 17, NULL, NULL, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, manifest, "count 30, not 15");
  g_clear_error (&error);
  g_assert_false (build_zoo (dir, CKPTS, 12, 18, NULL, NULL, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, manifest, "seed 17, not 18");
  g_clear_error (&error);
  g_autoptr (NfnZooDir) zoo = open_zoo (dir);
  g_assert_cmpint (nfn_zoo_dir_count (zoo), ==, RUNS * CKPTS);
}

/* The split by run: a partition of the networks, each run wholly in one split, R·10 % of the
 * runs in val and in test; on the K = 1 zoo, the plain shuffle of 0 … N−1. */
static void
test_split_by_run (void)
{
  g_autoptr (NfnZooDir) k3 = open_zoo (zoo_k3);
  g_autoptr (NfnZooDir) k1 = open_zoo (zoo_k1);
  g_autofree float *run = load_metric (k3, "run");
  g_autoptr (GError) error = NULL;
  for (guint64 seed = 0; seed < 5; seed++)
    {
      int order[RUNS * CKPTS], seen[RUNS * CKPTS] = { 0 }, split_of_run[RUNS];
      for (int r = 0; r < RUNS; r++)
        split_of_run[r] = -1;
      gint64 sizes[3];
      g_assert_true (nfn_cnn_zoo_split (k3, seed, 0.1, 0.1, order, sizes, &error));
      g_assert_no_error (error);
      g_assert_cmpint (sizes[0], ==, (RUNS - 2) * CKPTS);
      g_assert_cmpint (sizes[1], ==, CKPTS);
      g_assert_cmpint (sizes[2], ==, CKPTS);
      for (int k = 0; k < RUNS * CKPTS; k++)
        {
          int n = order[k], split = k < sizes[0] ? 0 : k < sizes[0] + sizes[1] ? 1 : 2, r = (int) run[n];
          g_assert_cmpint (n, >=, 0);
          g_assert_cmpint (n, <, RUNS * CKPTS);
          g_assert_cmpint (seen[n]++, ==, 0);
          if (split_of_run[r] < 0)
            split_of_run[r] = split;
          if (split_of_run[r] != split)
            g_error ("split seed %" G_GUINT64_FORMAT ": run %d is in splits %d and %d", seed, r, split_of_run[r], split);
        }
      g_test_message ("split seed %" G_GUINT64_FORMAT ": test runs %d %d %d", seed, (int) run[order[sizes[0] + sizes[1]]],
                      (int) run[order[sizes[0] + sizes[1] + 1]], (int) run[order[sizes[0] + sizes[1] + 2]]);

      /* K = 1: what genpred did before runs: shuffle 0 … N−1 by mt19937(seed), cut 8/1/1 */
      int plain[RUNS], expected[RUNS];
      for (int n = 0; n < RUNS; n++)
        expected[n] = n;
      gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
      gsl_rng_set (rng, (unsigned long) seed);
      gsl_ran_shuffle (rng, expected, RUNS, sizeof (int));
      gsl_rng_free (rng);
      g_assert_true (nfn_cnn_zoo_split (k1, seed, 0.1, 0.1, plain, sizes, &error));
      g_assert_cmpint (sizes[0], ==, RUNS - 2);
      g_assert_cmpint (sizes[1], ==, 1);
      g_assert_cmpint (sizes[2], ==, 1);
      g_assert_cmpmem (plain, sizeof plain, expected, sizeof expected);
    }
  /* too few runs for three splits, however many checkpoints */
  g_assert_false (nfn_cnn_zoo_split (k3, 0, 0.45, 0.45, (int[RUNS * CKPTS]) { 0 }, (gint64[3]) { 0 }, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, nfn_zoo_dir_path (k3), "10 training runs");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_autoptr (GError) error = NULL;
  tmp_dir = g_dir_make_tmp ("nfn-test-cnn-zoo-XXXXXX", &error);
  g_assert_no_error (error);
  zoo_k3 = g_build_filename (tmp_dir, "k3", NULL);
  zoo_k1 = g_build_filename (tmp_dir, "k1", NULL);
  gint64 t0 = g_get_monotonic_time ();
  NfnZooFitReport report;
  if (!build (zoo_k3, CKPTS, NULL, &report, &error) || !build (zoo_k1, 1, NULL, NULL, &error))
    g_error ("building the zoos: %s", error->message);
  g_test_message ("zoos of %d runs (K = %d and K = 1) built in %.1f s; K = %d test accuracy %.3f … %.3f", RUNS, CKPTS,
                  (g_get_monotonic_time () - t0) / 1e6, CKPTS, report.psnr.min, report.psnr.max);
  g_test_add_func ("/cnn-zoo/checkpoints", test_checkpoints);
  g_test_add_func ("/cnn-zoo/resume", test_resume);
  g_test_add_func ("/cnn-zoo/grow", test_grow);
  g_test_add_func ("/cnn-zoo/split-by-run", test_split_by_run);
  int status = g_test_run ();
  dtu_remove_tree (tmp_dir);
  g_free (zoo_k3);
  g_free (zoo_k1);
  g_free (tmp_dir);
  return status;
}
