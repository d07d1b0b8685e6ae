/* test-cnn-train.c — training the zoo's CNNs, and the NF layers on the zoo's exact weight space.
 *
 * Checked against independent computations: the trunk + head that training runs against the
 * assembled network's nfn_net_forward and a cross-entropy computed here; its gradient (dropout,
 * L2 and all) against finite differences; each optimiser lowering the loss of a tiny
 * synthetic task; bitwise determinism across threads; divergence kept finite; checkpoints (the
 * last equals the K = 1 run, one at an epoch's end equals a run stopped there). Then NP and HNP
 * equivariance and invariance on the space 1→16→16→16→10 with f = 9, 9, 9, 1 (filter positions
 * as channels), and an HNP model that is NOT invariant to a permutation outside its group.
 *
 * Shape letters: N images of 28×28 (synthetic stripes, see make_images), P packed parameters. */
#include <math.h>
#include <string.h>

#include "nfn_cnn_train.h"
#include "nfn_equivariant.h"
#include "nfn_layers.h"
#include "nfn_model.h"
#include "nfn_perm.h"
#include "nfn_train.h"
#include "testutil.h"

#define SIDE 28
#define PIXELS (SIDE * SIDE)

/* N synthetic images, label k % 10: stripes (horizontal for labels < 5, vertical otherwise)
 * of brightness 0.3 + 0.14·(label % 5) at a random phase, plus noise. A global average pool
 * keeps what tells them apart (brightness and orientation), not where things are. */
static void
make_images (float *images, uint8_t *labels, int N, gsl_rng *rng)
{
  for (int k = 0; k < N; k++)
    {
      int label = k % 10, phase = (int) gsl_rng_uniform_int (rng, 4);
      float level = 0.3f + 0.14f * (label % 5);
      labels[k] = (uint8_t) label;
      float *x = images + (size_t) k * PIXELS;
      tu_fill_uniform (x, PIXELS, 0.0, 0.1, rng);
      for (int y = 0; y < SIDE; y++)
        for (int c = 0; c < SIDE; c++)
          if (((label < 5 ? y : c) + phase) % 4 < 2)
            x[y * SIDE + c] += level;
    }
}

static void
zoo_arch (nfn_arch *arch, nfn_activation act)
{
  g_assert_cmpint (nfn_cnn_zoo_arch (arch, act, SIDE, SIDE), ==, NFN_OK);
  g_assert_cmpint (nfn_cnn_check_trainable (arch), ==, NFN_OK);
}

static nfn_cnn_hparams
default_hparams (nfn_cnn_optimizer optimizer, double lr)
{
  return (nfn_cnn_hparams) { .act = NFN_ACT_RELU, .optimizer = optimizer, .lr = lr, .init = NFN_CNN_INIT_NORMAL, .init_std = 0.2, .l2 = 1e-4,
                             .dropout = 0.0, .train_fraction = 1.0, .epochs = 1, .batch_size = 16 };
}

/* The geometry the zoo promises: 28 → 14 → 7 → 4, f = 9 for the convs, 5,258 weights. */
static void
test_arch (void)
{
  nfn_arch arch;
  zoo_arch (&arch, NFN_ACT_RELU);
  const int n[] = { 1, 16, 16, 16, 10 }, f[] = { 1, 9, 9, 9, 1 };
  for (int i = 0; i <= 4; i++)
    {
      g_assert_cmpint (arch.space.n[i], ==, n[i]);
      g_assert_cmpint (arch.space.f[i], ==, f[i]);
    }
  g_assert_cmpuint (nfn_space_param_count (&arch.space), ==, 16 * 9 + 16 + 2 * (16 * 16 * 9 + 16) + 10 * 16 + 10);
  nfn_arch mlp;
  const int widths[] = { 4, 3, 2 };
  g_assert_cmpint (nfn_arch_mlp (&mlp, 2, widths, NFN_ACT_RELU), ==, NFN_OK);
  g_assert_cmpint (nfn_cnn_check_trainable (&mlp), ==, NFN_ERR_ARG);
  nfn_cnn_hparams hp = default_hparams (NFN_CNN_OPT_SGD, 0.1);
  g_assert_cmpint (nfn_cnn_hparams_check (&hp), ==, NFN_OK);
  hp.dropout = 1.0;
  g_assert_cmpint (nfn_cnn_hparams_check (&hp), ==, NFN_ERR_ARG);
  hp.dropout = 0;
  hp.act = NFN_ACT_SIN;
  g_assert_cmpint (nfn_cnn_hparams_check (&hp), ==, NFN_ERR_ARG);
  nfn_cnn_optimizer opt;
  g_assert_true (nfn_cnn_optimizer_parse ("rmsprop", &opt) && opt == NFN_CNN_OPT_RMSPROP);
  g_assert_false (nfn_cnn_optimizer_parse ("adagrad", &opt));
  g_assert_cmpstr (nfn_cnn_optimizer_name (NFN_CNN_OPT_ADAM), ==, "adam");
}

/* Without dropout and L2 the training path's loss is the cross-entropy of the assembled
 * network's logits; pack then unpack gives the network back bit for bit. */
static void
test_trunk_matches_network (void)
{
  gsl_rng *rng = tu_rng ();
  const nfn_activation acts[] = { NFN_ACT_RELU, NFN_ACT_TANH };
  for (int a = 0; a < 2; a++)
    {
      nfn_arch arch;
      zoo_arch (&arch, acts[a]);
      nfn_feature w, back;
      g_assert_cmpint (nfn_feature_alloc (&w, &arch.space, 2, 1), ==, NFN_OK);
      g_assert_cmpint (nfn_feature_alloc (&back, &arch.space, 2, 1), ==, NFN_OK);
      tu_feature_normal (&w, rng);
      for (size_t e = 0; e < w.size; e++)
        w.data[e] *= 0.3f;
      const int N = 12;
      float *x = g_new (float, N * PIXELS), logits[12 * 10];
      uint8_t labels[12];
      int int_labels[12];
      make_images (x, labels, N, rng);
      for (int k = 0; k < N; k++)
        int_labels[k] = labels[k];
      size_t P = nfn_cnn_param_count (&arch);
      g_assert_cmpuint (P, >, nfn_space_param_count (&arch.space));
      float *params = g_new (float, P);
      nfn_feature one;
      g_assert_cmpint (nfn_feature_alloc (&one, &arch.space, 1, 1), ==, NFN_OK);
      nfn_cnn_params_pack (&arch, &w, 1, params);
      nfn_cnn_params_unpack (&arch, params, &back, 1);
      nfn_feature_get_network (&w, 1, &one);
      nfn_feature back_one;
      g_assert_cmpint (nfn_feature_alloc (&back_one, &arch.space, 1, 1), ==, NFN_OK);
      nfn_feature_get_network (&back, 1, &back_one);
      g_assert_cmpfloat (nfn_feature_max_abs_diff (&one, &back_one), ==, 0);

      double loss, expected;
      g_assert_cmpint (nfn_cnn_loss_grad (&arch, params, N, x, labels, 0, 0, 1, &loss, NULL), ==, NFN_OK);
      g_assert_cmpint (nfn_net_forward (&arch, &one, N, x, 0, logits, NULL), ==, NFN_OK);
      g_assert_cmpint (nfn_cross_entropy (logits, int_labels, N, 10, &expected, NULL), ==, NFN_OK);
      g_test_message ("%s: trunk+head loss %.9f, network %.9f", nfn_activation_name (acts[a]), loss, expected);
      g_assert_cmpfloat (fabs (loss - expected), <, 1e-5 * (1 + expected));
      /* the L2 term is l2/2 · Σθ² over every trained parameter, here computed from the network */
      double squares = 0;
      for (int t = 0; t < nfn_tensor_count (&arch.space); t++)
        squares += tu_dot (one.t[t], one.t[t], nfn_tensor_entries (&arch.space, t));
      double with_l2;
      g_assert_cmpint (nfn_cnn_loss_grad (&arch, params, N, x, labels, 0, 0.01, 1, &with_l2, NULL), ==, NFN_OK);
      g_assert_cmpfloat (fabs (with_l2 - expected - 0.005 * squares), <, 1e-5 * (1 + with_l2));
      nfn_feature_free (&w);
      nfn_feature_free (&back);
      nfn_feature_free (&one);
      nfn_feature_free (&back_one);
      g_free (params);
      g_free (x);
    }
  gsl_rng_free (rng);
}

typedef struct {
  const nfn_arch *arch;
  float *params;
  int N;
  const float *x;
  const uint8_t *labels;
  double dropout, l2;
} loss_ctx;

static double
ctx_loss (void *data)
{
  loss_ctx *c = data;
  double loss;
  g_assert_cmpint (nfn_cnn_loss_grad (c->arch, c->params, c->N, c->x, c->labels, c->dropout, c->l2, 7, &loss, NULL),
                   ==, NFN_OK);
  return loss;
}

/* The training gradient (dropout masks fixed by their seed, L2 included) against central
 * differences: entry by entry for tanh (smooth), along random directions for ReLU. */
static void
test_gradient (void)
{
  gsl_rng *rng = tu_rng ();
  const nfn_activation acts[] = { NFN_ACT_TANH, NFN_ACT_RELU };
  for (int a = 0; a < 2; a++)
    {
      nfn_arch arch;
      zoo_arch (&arch, acts[a]);
      nfn_feature w;
      g_assert_cmpint (nfn_feature_alloc (&w, &arch.space, 1, 1), ==, NFN_OK);
      tu_feature_normal (&w, rng);
      for (size_t e = 0; e < w.size; e++)
        w.data[e] *= 0.3f;
      const int N = 6;
      float *x = g_new (float, N * PIXELS);
      uint8_t labels[6];
      make_images (x, labels, N, rng);
      size_t P = nfn_cnn_param_count (&arch);
      float *params = g_new (float, P), *grad = g_new (float, P);
      nfn_cnn_params_pack (&arch, &w, 0, params);
      loss_ctx ctx = { &arch, params, N, x, labels, 0.3, 0.01 };
      double loss;
      g_assert_cmpint (nfn_cnn_loss_grad (&arch, params, N, x, labels, 0.3, 0.01, 7, &loss, grad), ==, NFN_OK);
      double worst = a == 0 ? tu_grad_check (ctx_loss, &ctx, params, grad, P, 400, 1e-2, 1e-3, rng)
                            : tu_directional_check (ctx_loss, &ctx, params, grad, P, 21, 3e-4, 1e-6, rng);
      g_test_message ("%s: loss %.4f, gradient vs finite differences: worst/median relative error %.2e",
                      nfn_activation_name (acts[a]), loss, worst);
      g_assert_cmpfloat (worst, <, 2e-2);
      g_free (params);
      g_free (grad);
      g_free (x);
      nfn_feature_free (&w);
    }
  gsl_rng_free (rng);
}

/* Each optimiser lowers the training loss of a small synthetic task: the same seed makes the
 * first epoch of a 1-epoch and of a 30-epoch run identical, so the last epoch's mean loss of
 * the long run must be well below the first's, and accuracy far above chance (10 %). */
static void
test_optimisers_learn (void)
{
  /* a fixed seed: how far 30 epochs get varies with the draw (1 in ~30 random draws stopped
   * short of the 0.7 bound), and a learning check must not depend on luck */
  gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (rng, 20230228);
  const int N = 160;
  float *images = g_new (float, N * PIXELS), *test_images = g_new (float, N * PIXELS);
  uint8_t labels[160], test_labels[160];
  make_images (images, labels, N, rng);
  make_images (test_images, test_labels, N, rng);
  nfn_cnn_data train = { images, labels, N }, test = { test_images, test_labels, N };
  nfn_arch arch;
  zoo_arch (&arch, NFN_ACT_RELU);
  nfn_feature w;
  g_assert_cmpint (nfn_feature_alloc (&w, &arch.space, 1, 1), ==, NFN_OK);
  const double lrs[NFN_CNN_N_OPTIMIZERS] = { 0.02, 0.01, 0.003 };
  for (int o = 0; o < NFN_CNN_N_OPTIMIZERS; o++)
    {
      nfn_cnn_hparams hp = default_hparams ((nfn_cnn_optimizer) o, lrs[o]);
      nfn_cnn_result first, last;
      g_assert_cmpint (nfn_cnn_train (&arch, &hp, 11, &train, &test, &w, 0, &first, NULL), ==, NFN_OK);
      hp.epochs = 30;
      g_assert_cmpint (nfn_cnn_train (&arch, &hp, 11, &train, &test, &w, 0, &last, NULL), ==, NFN_OK);
      g_test_message ("%s lr %g: epoch-1 loss %.3f -> epoch-30 loss %.3f; train acc %.3f, test acc %.3f",
                      nfn_cnn_optimizer_name (hp.optimizer), hp.lr, first.final_loss, last.final_loss,
                      last.train_accuracy, last.test_accuracy);
      g_assert_false (first.diverged || last.diverged);
      g_assert_cmpint (last.epochs_done, ==, 30);
      g_assert_cmpfloat (last.final_loss, <, 0.7 * first.final_loss);
      g_assert_cmpfloat (last.train_accuracy, >=, 0.3);
      g_assert_cmpfloat (last.test_accuracy, >=, 0.25);
      /* the reported accuracy is the assembled network's, recomputed here over all images */
      double test_accuracy;
      g_assert_cmpint (nfn_cnn_accuracy (&arch, &w, 0, &test, NULL, N, &test_accuracy), ==, NFN_OK);
      g_assert_cmpfloat (test_accuracy, ==, last.test_accuracy);
    }
  nfn_feature_free (&w);
  g_free (images);
  g_free (test_images);
  gsl_rng_free (rng);
}

/* Same seeds → same bytes, whether trained one by one or two threads at a time; a network's
 * weights do not depend on its neighbours. A huge learning rate diverges, is flagged, and
 * leaves finite weights. */
static void
test_threads_deterministic_and_divergence (void)
{
  gsl_rng *rng = tu_rng ();
  const int N = 96, B = 4;
  float *images = g_new (float, N * PIXELS);
  uint8_t labels[96];
  make_images (images, labels, N, rng);
  nfn_cnn_data train = { images, labels, N };
  nfn_arch arch;
  zoo_arch (&arch, NFN_ACT_RELU);
  nfn_cnn_hparams hp[4];
  unsigned long seeds[4] = { 5, 6, 7, 8 };
  for (int b = 0; b < B; b++)
    {
      hp[b] = default_hparams ((nfn_cnn_optimizer) (b % 3), b == 1 ? 0.01 : 0.05);
      hp[b].act = b % 2 ? NFN_ACT_TANH : NFN_ACT_RELU;
      hp[b].dropout = 0.25 * b / 2;
      hp[b].train_fraction = 0.5 + 0.1 * b;
      hp[b].epochs = 2;
    }
  hp[3].optimizer = NFN_CNN_OPT_SGD;
  hp[3].lr = 1e6; /* diverges */
  nfn_feature many, one;
  g_assert_cmpint (nfn_feature_alloc (&many, &arch.space, B, 1), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&one, &arch.space, B, 1), ==, NFN_OK);
  nfn_cnn_result results[4], single[4];
  nfn_cnn_train_options options = { .threads = 2 };
  g_assert_cmpint (nfn_cnn_train_many (&arch, hp, seeds, &train, &train, &options, &many, results), ==, NFN_OK);
  /* one by one, in reverse order, with BLAS single-threaded as the workers run it */
  nfn_set_threads (1);
  for (int b = B - 1; b >= 0; b--)
    g_assert_cmpint (nfn_cnn_train (&arch, &hp[b], seeds[b], &train, &train, &one, b, &single[b], NULL), ==, NFN_OK);
  nfn_set_threads (2);
  g_assert_cmpint (memcmp (many.data, one.data, many.size * sizeof (float)), ==, 0);
  options.threads = 1;
  g_assert_cmpint (nfn_cnn_train_many (&arch, hp, seeds, &train, &train, &options, &one, single), ==, NFN_OK);
  g_assert_cmpint (memcmp (many.data, one.data, many.size * sizeof (float)), ==, 0);
  for (int b = 0; b < B; b++)
    {
      g_test_message ("network %d: %s, diverged %d, epochs %d, train acc %.3f", b, nfn_cnn_optimizer_name (hp[b].optimizer),
                      results[b].diverged, results[b].epochs_done, results[b].train_accuracy);
      g_assert_cmpfloat (results[b].train_accuracy, ==, single[b].train_accuracy);
      g_assert_cmpint (results[b].diverged, ==, b == 3);
    }
  g_assert_cmpint (nfn_feature_check_finite (&many), ==, NFN_OK);
  g_assert_cmpint (results[3].epochs_done, ==, 0);
  /* cancelling stops at once */
  volatile int cancel = 1;
  options.cancel = &cancel;
  g_assert_cmpint (nfn_cnn_train_many (&arch, hp, seeds, &train, NULL, &options, &many, results), ==, NFN_ERR_CANCELLED);
  nfn_feature_free (&many);
  nfn_feature_free (&one);
  g_free (images);
  gsl_rng_free (rng);
}

/* Network `net` of a (C = 1) and network `net_b` of b are the same bytes. */
static void
assert_same_network (const nfn_feature *a, int net_a, const nfn_feature *b, int net_b)
{
  nfn_feature x, y;
  g_assert_cmpint (nfn_feature_alloc (&x, &a->space, 1, 1), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&y, &b->space, 1, 1), ==, NFN_OK);
  nfn_feature_get_network (a, net_a, &x);
  nfn_feature_get_network (b, net_b, &y);
  g_assert_cmpint (memcmp (x.data, y.data, x.size * sizeof (float)), ==, 0);
  nfn_feature_free (&x);
  nfn_feature_free (&y);
}

/* Largest weight change between networks c − 1 and c of f. */
static double
checkpoint_moved (const nfn_feature *f, int c)
{
  nfn_feature x, y;
  g_assert_cmpint (nfn_feature_alloc (&x, &f->space, 1, 1), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&y, &f->space, 1, 1), ==, NFN_OK);
  nfn_feature_get_network (f, c - 1, &x);
  nfn_feature_get_network (f, c, &y);
  double moved = nfn_feature_max_abs_diff (&x, &y);
  nfn_feature_free (&x);
  nfn_feature_free (&y);
  return moved;
}

/* A run's K checkpoints: steps ⌈T/2^(K−1−c)⌉ counted here; the last checkpoint is, bit for
 * bit, what nfn_cnn_train gives; the first of K = 2 on a 2-epoch run sits at the first epoch's
 * end and equals, bit for bit, the same run cut to 1 epoch (weights, accuracies, loss); the
 * threaded many-run path gives the same bytes; a diverging run's checkpoints stay finite. */
static void
test_checkpoints (void)
{
  gsl_rng *rng = tu_rng ();
  const int N = 100, K = 4;
  float *images = g_new (float, N * PIXELS);
  uint8_t labels[100];
  make_images (images, labels, N, rng);
  nfn_cnn_data train = { images, labels, N };
  nfn_arch arch;
  zoo_arch (&arch, NFN_ACT_RELU);
  nfn_set_threads (1); /* as the many-run workers do: bit-exact comparisons across paths */
  nfn_cnn_hparams hp = default_hparams (NFN_CNN_OPT_ADAM, 0.01);
  hp.epochs = 3;
  hp.train_fraction = 0.9; /* 90 images, batches of 16: 6 steps per epoch, the last one short */
  hp.dropout = 0.2;
  long steps[4];
  g_assert_cmpint (nfn_cnn_total_steps (&hp, N), ==, 18);
  nfn_cnn_checkpoint_steps (18, K, steps);
  const long expected_steps[4] = { 3, 5, 9, 18 }; /* ⌈18/8⌉, ⌈18/4⌉, ⌈18/2⌉, 18 */
  for (int c = 0; c < K; c++)
    g_assert_cmpint (steps[c], ==, expected_steps[c]);
  nfn_cnn_checkpoint_steps (1, 3, steps);
  g_assert_cmpint (steps[0], ==, 1); /* never before the first step when T ≥ 1 */

  nfn_feature ckpt, final;
  g_assert_cmpint (nfn_feature_alloc (&ckpt, &arch.space, K, 1), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&final, &arch.space, 1, 1), ==, NFN_OK);
  nfn_cnn_result results[4], single;
  g_assert_cmpint (nfn_cnn_train_checkpoints (&arch, &hp, 21, &train, &train, K, &ckpt, 0, results, NULL), ==, NFN_OK);
  g_assert_cmpint (nfn_cnn_train (&arch, &hp, 21, &train, &train, &final, 0, &single, NULL), ==, NFN_OK);
  assert_same_network (&ckpt, K - 1, &final, 0);
  g_assert_cmpmem (&results[K - 1], sizeof single, &single, sizeof single);
  for (int c = 0; c < K; c++)
    {
      g_test_message ("checkpoint %d: step %ld (epoch %.3f), epochs done %d, loss %.3f, train acc %.3f", c,
                      results[c].step, results[c].epoch, results[c].epochs_done, results[c].final_loss,
                      results[c].train_accuracy);
      g_assert_cmpint (results[c].step, ==, expected_steps[c]);
      g_assert_cmpfloat (results[c].epoch, ==, expected_steps[c] / 6.0);
      g_assert_cmpint (results[c].epochs_done, ==, (int) (expected_steps[c] / 6));
      g_assert_false (results[c].diverged);
      if (c > 0) /* the weights move between checkpoints */
        g_assert_cmpfloat (checkpoint_moved (&ckpt, c), >, 1e-4);
    }

  /* K = 2 on 2 epochs: checkpoint 0 at step 6, the first epoch's end, is the 1-epoch run */
  hp.epochs = 2;
  nfn_feature two;
  g_assert_cmpint (nfn_feature_alloc (&two, &arch.space, 2, 1), ==, NFN_OK);
  g_assert_cmpint (nfn_cnn_train_checkpoints (&arch, &hp, 21, &train, &train, 2, &two, 0, results, NULL), ==, NFN_OK);
  hp.epochs = 1;
  g_assert_cmpint (nfn_cnn_train (&arch, &hp, 21, &train, &train, &final, 0, &single, NULL), ==, NFN_OK);
  g_assert_cmpint (results[0].step, ==, 6);
  assert_same_network (&two, 0, &final, 0);
  g_assert_cmpfloat (results[0].final_loss, ==, single.final_loss);
  g_assert_cmpfloat (results[0].train_accuracy, ==, single.train_accuracy);
  g_assert_cmpfloat (results[0].test_accuracy, ==, single.test_accuracy);
  g_assert_cmpint (results[0].epochs_done, ==, 1);

  /* many runs, threaded: the same bytes as one by one; a huge rate diverges, finite */
  nfn_cnn_hparams many_hp[2] = { hp, hp };
  many_hp[0].epochs = 3;
  many_hp[1].optimizer = NFN_CNN_OPT_SGD;
  many_hp[1].lr = 1e6;
  unsigned long seeds[2] = { 21, 22 };
  nfn_feature many, one;
  g_assert_cmpint (nfn_feature_alloc (&many, &arch.space, 2 * K, 1), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&one, &arch.space, 2 * K, 1), ==, NFN_OK);
  nfn_cnn_result many_results[8], one_results[8];
  nfn_cnn_train_options options = { .threads = 2, .checkpoints = K };
  g_assert_cmpint (nfn_cnn_train_many (&arch, many_hp, seeds, &train, &train, &options, &many, many_results), ==, NFN_OK);
  for (int r = 0; r < 2; r++)
    g_assert_cmpint (nfn_cnn_train_checkpoints (&arch, &many_hp[r], seeds[r], &train, &train, K, &one, r * K,
                                                &one_results[r * K], NULL), ==, NFN_OK);
  g_assert_cmpint (memcmp (many.data, one.data, many.size * sizeof (float)), ==, 0);
  g_assert_cmpmem (many_results, sizeof many_results, one_results, sizeof one_results);
  for (int c = 0; c < K; c++)
    assert_same_network (&many, c, &ckpt, c);
  g_assert_cmpint (nfn_feature_check_finite (&many), ==, NFN_OK);
  for (int c = 0; c < K; c++)
    g_assert_true (many_results[K + c].diverged);
  options.checkpoints = 3; /* 8 networks are not whole runs of 3 */
  g_assert_cmpint (nfn_cnn_train_many (&arch, many_hp, seeds, &train, &train, &options, &many, many_results), ==, NFN_ERR_ARG);

  nfn_set_threads (2);
  nfn_feature_free (&ckpt);
  nfn_feature_free (&final);
  nfn_feature_free (&two);
  nfn_feature_free (&many);
  nfn_feature_free (&one);
  g_free (images);
  gsl_rng_free (rng);
}

/* The init schemes, seen through a training run whose learning rate is too small to move a
 * weight: every weight tensor's sample std is He's √(2/fan_in), Glorot's √(2/(fan_in+fan_out))
 * or the given std, and biases are 0. */
static void
test_init_schemes (void)
{
  gsl_rng *rng = tu_rng ();
  float *images = g_new (float, 16 * PIXELS);
  uint8_t labels[16];
  make_images (images, labels, 16, rng);
  nfn_cnn_data train = { images, labels, 16 };
  nfn_arch arch;
  zoo_arch (&arch, NFN_ACT_RELU);
  const nfn_space *s = &arch.space;
  nfn_feature w;
  g_assert_cmpint (nfn_feature_alloc (&w, s, 1, 1), ==, NFN_OK);
  for (int scheme = 0; scheme < NFN_CNN_N_INITS; scheme++)
    {
      nfn_cnn_hparams hp = default_hparams (NFN_CNN_OPT_SGD, 1e-30);
      hp.init = (nfn_cnn_init) scheme;
      hp.init_std = 0.03;
      hp.l2 = 0;
      nfn_cnn_result result;
      g_assert_cmpint (nfn_cnn_train (&arch, &hp, 3, &train, NULL, &w, 0, &result, NULL), ==, NFN_OK);
      for (int i = 1; i <= 4; i++)
        {
          double fan_in = s->n[i - 1] * s->f[i], fan_out = s->n[i] * s->f[i];
          double expected = scheme == NFN_CNN_INIT_HE ? sqrt (2 / fan_in)
                            : scheme == NFN_CNN_INIT_GLOROT ? sqrt (2 / (fan_in + fan_out)) : 0.03;
          nfn_stats stats;
          nfn_stats_compute (w.t[nfn_tensor_weight (i)], nfn_tensor_entries (s, nfn_tensor_weight (i)), &stats);
          g_test_message ("%s layer %d: std %.4f, expected %.4f (%zu weights)", nfn_cnn_init_name (hp.init), i,
                          stats.std, expected, stats.count);
          /* the sample std of n normals is within ±4.5/√(2n) relative of σ except rarely */
          g_assert_cmpfloat (fabs (stats.std / expected - 1), <, 4.5 / sqrt (2.0 * stats.count));
          nfn_stats_compute (w.t[nfn_tensor_bias (i)], (size_t) s->n[i], &stats);
          g_assert_cmpfloat (fmax (stats.max, -stats.min), <, 1e-20); /* 0, moved by lr 1e-30 at most */
        }
    }
  nfn_feature_free (&w);
  g_free (images);
  gsl_rng_free (rng);
}

/* ---- NF layers on the zoo's weight space ---- */

/* A random σ of `sym`'s group applied to every network of x. */
static void
permute (const nfn_perm *perm, const nfn_feature *x, nfn_feature *out)
{
  g_assert_cmpint (nfn_perm_apply (perm, x, out), ==, NFN_OK);
}

/* layer(σ·x) = σ·layer(x) for the equivariant layer with C_in = 2, C_out = 3, and
 * pool(σ·x) = pool(x), for NP and HNP on 1→16→16→16→10 with f = 9, 9, 9, 1. */
static void
test_equivariance_on_zoo_space (void)
{
  gsl_rng *rng = tu_rng ();
  nfn_arch arch;
  zoo_arch (&arch, NFN_ACT_RELU);
  const nfn_space *s = &arch.space;
  const nfn_symmetry syms[] = { NFN_SYM_NP, NFN_SYM_HNP };
  for (int k = 0; k < 2; k++)
    {
      nfn_eq_plan plan;
      g_assert_cmpint (nfn_eq_plan_init (&plan, s, syms[k], 2, 3), ==, NFN_OK);
      float *params = g_new (float, nfn_eq_param_count (&plan));
      float *scratch = g_new (float, nfn_eq_scratch_size (&plan, 2));
      nfn_eq_init_params (&plan, params, rng);
      nfn_feature x, px, y, py, ypx;
      g_assert_cmpint (nfn_feature_alloc (&x, s, 2, 2), ==, NFN_OK);
      g_assert_cmpint (nfn_feature_alloc (&px, s, 2, 2), ==, NFN_OK);
      g_assert_cmpint (nfn_feature_alloc (&y, s, 2, 3), ==, NFN_OK);
      g_assert_cmpint (nfn_feature_alloc (&py, s, 2, 3), ==, NFN_OK);
      g_assert_cmpint (nfn_feature_alloc (&ypx, s, 2, 3), ==, NFN_OK);
      tu_feature_normal (&x, rng);
      nfn_perm perm;
      g_assert_cmpint (nfn_perm_alloc (&perm, s), ==, NFN_OK);
      nfn_perm_random (&perm, syms[k], rng);
      g_assert_false (nfn_perm_is_identity (&perm));
      permute (&perm, &x, &px);
      g_assert_cmpint (nfn_eq_forward (&plan, params, &x, &y, scratch), ==, NFN_OK);
      g_assert_cmpint (nfn_eq_forward (&plan, params, &px, &ypx, scratch), ==, NFN_OK);
      permute (&perm, &y, &py);
      double err = nfn_feature_max_abs_diff (&py, &ypx) / nfn_feature_max_abs (&py);
      size_t D = nfn_pool_dim (s, syms[k], 2);
      float *pooled = g_new (float, 2 * D), *pooled_p = g_new (float, 2 * D);
      nfn_pool_forward (syms[k], &x, pooled);
      nfn_pool_forward (syms[k], &px, pooled_p);
      double pool_err = 0, pool_max = 0;
      for (size_t e = 0; e < 2 * D; e++)
        {
          pool_err = fmax (pool_err, fabs (pooled[e] - pooled_p[e]));
          pool_max = fmax (pool_max, fabs (pooled[e]));
        }
      g_test_message ("%s: %zu params, layer equivariance error %.2e, pool (%zu) invariance error %.2e",
                      nfn_symmetry_name (syms[k]), nfn_eq_param_count (&plan), err, D, pool_err / pool_max);
      g_assert_cmpfloat (err, <, 1e-5);
      g_assert_cmpfloat (pool_err, <, 1e-5 * pool_max);
      /* the filter positions are channels: moving one position of W_2 alone is no symmetry.
       * Swap the two most different positions of entry (0, 0), so the move is never a near no-op. */
      memcpy (px.data, x.data, x.size * sizeof (float));
      float *w2 = px.t[nfn_tensor_weight (2)];
      int lo = 0, hi = 0;
      for (int p = 1; p < s->f[2]; p++)
        {
          lo = w2[p] < w2[lo] ? p : lo;
          hi = w2[p] > w2[hi] ? p : hi;
        }
      float swap = w2[lo];
      w2[lo] = w2[hi];
      w2[hi] = swap;
      g_assert_cmpint (nfn_eq_forward (&plan, params, &px, &ypx, scratch), ==, NFN_OK);
      g_assert_cmpfloat (nfn_feature_max_abs_diff (&y, &ypx), >, 1e-3 * nfn_feature_max_abs (&y));
      nfn_perm_free (&perm);
      nfn_feature_free (&x);
      nfn_feature_free (&px);
      nfn_feature_free (&y);
      nfn_feature_free (&py);
      nfn_feature_free (&ypx);
      g_free (pooled);
      g_free (pooled_p);
      g_free (params);
      g_free (scratch);
    }
  gsl_rng_free (rng);
}

/* A whole genpred model (one logit) gives the same output for a CNN and its hidden-neuron
 * permutation (hnp, np, stat); permuting the 10 output classes, which the HNP group does not
 * contain, changes the HNP model's output. */
static void
test_model_invariance_on_zoo_space (void)
{
  gsl_rng *rng = tu_rng ();
  nfn_arch arch;
  zoo_arch (&arch, NFN_ACT_RELU);
  const nfn_space *s = &arch.space;
  const nfn_model_kind kinds[] = { NFN_MODEL_HNP, NFN_MODEL_NP, NFN_MODEL_STAT };
  nfn_feature x, px;
  g_assert_cmpint (nfn_feature_alloc (&x, s, 3, 1), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&px, s, 3, 1), ==, NFN_OK);
  tu_feature_normal (&x, rng);
  for (int k = 0; k < 3; k++)
    {
      nfn_model_config cfg;
      nfn_model_config_default (&cfg, kinds[k], s, 1);
      cfg.channels = 16;
      cfg.fourier_m = 0;
      cfg.depth = 2;
      cfg.head_widths[0] = cfg.head_widths[1] = 32;
      cfg.max_batch = 3;
      nfn_model *model;
      g_assert_cmpint (nfn_model_new (&cfg, 3, &model), ==, NFN_OK);
      float out[3], out_p[3];
      const float *logits;
      nfn_perm perm;
      g_assert_cmpint (nfn_perm_alloc (&perm, s), ==, NFN_OK);
      nfn_perm_random (&perm, NFN_SYM_HNP, rng);
      permute (&perm, &x, &px);
      g_assert_cmpint (nfn_model_forward (model, &x, 0, &logits), ==, NFN_OK);
      memcpy (out, logits, sizeof out);
      g_assert_cmpint (nfn_model_forward (model, &px, 0, &logits), ==, NFN_OK);
      memcpy (out_p, logits, sizeof out_p);
      double err = 0, scale = 0;
      for (int b = 0; b < 3; b++)
        {
          err = fmax (err, fabs (out[b] - out_p[b]));
          scale = fmax (scale, fabs (out[b]));
        }
      /* outside the group: the output classes (set L) permuted */
      nfn_perm_identity (&perm);
      for (int j = 0; j < 10; j++)
        perm.p[4][j] = (j + 3) % 10;
      permute (&perm, &x, &px);
      g_assert_cmpint (nfn_model_forward (model, &px, 0, &logits), ==, NFN_OK);
      double moved = 0;
      for (int b = 0; b < 3; b++)
        moved = fmax (moved, fabs (out[b] - logits[b]));
      g_test_message ("%s: |f(sW) - f(W)| = %.2e (|f| <= %.3f); classes permuted: %.2e",
                      nfn_model_kind_name (kinds[k]), err, scale, moved);
      g_assert_cmpfloat (err, <=, 1e-5 * (1 + scale));
      if (kinds[k] == NFN_MODEL_HNP)
        g_assert_cmpfloat (moved, >, 1e-4 * (1 + scale));
      nfn_perm_free (&perm);
      nfn_model_free (model);
    }
  nfn_feature_free (&x);
  nfn_feature_free (&px);
  gsl_rng_free (rng);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  nfn_set_threads (2);
  g_test_add_func ("/cnn-train/arch", test_arch);
  g_test_add_func ("/cnn-train/trunk-matches-network", test_trunk_matches_network);
  g_test_add_func ("/cnn-train/gradient", test_gradient);
  g_test_add_func ("/cnn-train/optimisers-learn", test_optimisers_learn);
  g_test_add_func ("/cnn-train/threads-deterministic-and-divergence", test_threads_deterministic_and_divergence);
  g_test_add_func ("/cnn-train/init-schemes", test_init_schemes);
  g_test_add_func ("/cnn-train/checkpoints", test_checkpoints);
  g_test_add_func ("/cnn-train/equivariance-on-zoo-space", test_equivariance_on_zoo_space);
  g_test_add_func ("/cnn-train/model-invariance-on-zoo-space", test_model_invariance_on_zoo_space);
  return g_test_run ();
}
