/* test-model.c — the assembled NFN models: gradients of the whole stack against finite
 * differences, invariance of the classifiers, determinism, and that training learns. */
#include <math.h>
#include <string.h>

#include "nfn_gemm.h"
#include "nfn_layers.h"
#include "nfn_model.h"
#include "nfn_perm.h"
#include "testutil.h"

#define K_OUT 3
/* test data: a model kind, with this bit for per-layer widths (layer_channels 6, 4) */
#define PER_LAYER 0x100
/* …and this one for StatNN features appended to the pool (pool_stats) */
#define POOL_STATS 0x200
#define CASE_KIND(data) ((nfn_model_kind) (GPOINTER_TO_INT (data) & ~(PER_LAYER | POOL_STATS)))
#define CASE_PER_LAYER(data) ((GPOINTER_TO_INT (data) & PER_LAYER) != 0)
#define CASE_POOL_STATS(data) ((GPOINTER_TO_INT (data) & POOL_STATS) != 0)

/* The limit of the input gradient's median relative error: 1e-2, and 3e-2 with pool stats.
 * StatNN's quantiles are kinked where two weights tie: a step of the input that reorders two
 * close ones bends the difference quotient. Appended to the pool they leave rare seeds at
 * 1.1e-2 (R02S3fe8a6078a3ded787736be43fe771c55); a wrong gradient shows 0.8 or more. */
static double
input_grad_limit (gconstpointer data)
{
  return CASE_POOL_STATS (data) ? 3e-2 : 1e-2;
}

typedef struct {
  nfn_model *model;
  nfn_feature x;
  int labels[8];
} model_case;

static void
small_config (nfn_model_config *cfg, gconstpointer data, const nfn_space *space)
{
  nfn_model_kind kind = CASE_KIND (data);
  nfn_model_config_default (cfg, kind, space, K_OUT);
  cfg->max_batch = 4;
  cfg->fourier_m = 3;
  cfg->fourier_scale = 1.0;
  cfg->io_bands = kind == NFN_MODEL_NP ? 2 : 0;
  cfg->depth = 2;
  cfg->channels = 5;
  cfg->n_head = 1;
  cfg->head_widths[0] = 7;
  if (CASE_PER_LAYER (data))
    {
      /* wider, then narrower than channels: every buffer sized by the wrong width would show */
      cfg->layer_channels[0] = 6;
      cfg->layer_channels[1] = 4;
    }
  cfg->pool_stats = CASE_POOL_STATS (data);
}

static void
case_init (model_case *c, gconstpointer data, nfn_model_activation act, gsl_rng *rng)
{
  const int widths[] = { 2, 3, 4, 2 };
  nfn_space space;
  nfn_space_init (&space, 3, widths);
  nfn_model_config cfg;
  small_config (&cfg, data, &space);
  cfg.activation = act;
  cfg.input_grad = 1;
  g_assert_cmpint (nfn_model_new (&cfg, 11, &c->model), ==, NFN_OK);
  nfn_feature_alloc (&c->x, &space, 4, 1);
  tu_feature_normal (&c->x, rng);
  for (int b = 0; b < 4; b++)
    c->labels[b] = b % K_OUT;
}

static void
case_clear (model_case *c)
{
  nfn_model_free (c->model);
  nfn_feature_free (&c->x);
}

static double
case_loss (void *ctx)
{
  model_case *c = ctx;
  const float *logits;
  g_assert_cmpint (nfn_model_forward (c->model, &c->x, 0, &logits), ==, NFN_OK);
  double loss;
  nfn_cross_entropy (logits, c->labels, c->x.B, K_OUT, &loss, NULL);
  return loss;
}

static void
test_gradients (gconstpointer data)
{
  nfn_model_kind kind = CASE_KIND (data);
  gsl_rng *rng = tu_rng ();
  model_case c;
  /* GELU keeps the loss smooth, so finite differences are exact up to rounding; ReLU's kinks
   * are covered by the layer tests */
  case_init (&c, data, NFN_MODEL_GELU, rng);

  const float *logits;
  float dlogits[4 * K_OUT];
  double loss;
  g_assert_cmpint (nfn_model_forward (c.model, &c.x, 0, &logits), ==, NFN_OK);
  nfn_cross_entropy (logits, c.labels, 4, K_OUT, &loss, dlogits);
  g_assert_cmpint (nfn_model_backward (c.model, dlogits), ==, NFN_OK);
  size_t P = nfn_model_param_count (c.model);
  float *grads = g_memdup2 (nfn_model_grads (c.model), P * sizeof (float));
  const nfn_feature *dx = nfn_model_input_grad (c.model);
  float *dxdata = g_memdup2 (dx->data, dx->size * sizeof (float));

  /* whole float32 models through ReLUs: directional derivatives, not single entries */
  double err_p = tu_directional_check (case_loss, &c, nfn_model_params (c.model), grads, P, 9, 1e-4, 1e-6, rng);
  double err_x = tu_directional_check (case_loss, &c, c.x.data, dxdata, c.x.size, 9, 1e-4, 1e-6, rng);
  g_test_message ("%s: median relative error params %.2e, input %.2e", nfn_model_kind_name (kind), err_p, err_x);
  g_assert_cmpfloat (err_p, <, 1e-2);
  g_assert_cmpfloat (err_x, <, input_grad_limit (data));
  g_free (grads);
  g_free (dxdata);
  case_clear (&c);
  gsl_rng_free (rng);
}

/* Every classifier that claims a symmetry returns the same logits on a permuted input. */
static void
test_invariance (gconstpointer data)
{
  nfn_model_kind kind = CASE_KIND (data);
  gsl_rng *rng = tu_rng ();
  model_case c;
  case_init (&c, data, NFN_MODEL_RELU, rng);
  nfn_symmetry sym = kind == NFN_MODEL_NP && c.model && nfn_model_get_config (c.model)->io_bands == 0 ? NFN_SYM_NP
                                                                                                       : NFN_SYM_HNP;
  nfn_perm perm;
  nfn_perm_alloc (&perm, &c.x.space);
  nfn_perm_random (&perm, sym, rng);
  nfn_feature px;
  nfn_feature_alloc (&px, &c.x.space, c.x.B, 1);
  nfn_perm_apply (&perm, &c.x, &px);

  const float *logits;
  float before[4 * K_OUT];
  nfn_model_forward (c.model, &c.x, 0, &logits);
  memcpy (before, logits, sizeof before);
  nfn_model_forward (c.model, &px, 0, &logits);
  double worst = 0, scale = 0;
  for (int k = 0; k < 4 * K_OUT; k++)
    {
      worst = fmax (worst, fabs (before[k] - logits[k]));
      scale = fmax (scale, fabs (before[k]));
    }
  g_test_message ("%s under a random %s permutation: max |Δlogit| = %.2e (max |logit| %.2e)",
                  nfn_model_kind_name (kind), nfn_symmetry_name (sym), worst, scale);
  if (kind == NFN_MODEL_MLP)
    g_assert_cmpfloat (worst, >, 1e-4 * scale); /* the baseline that ignores the symmetry */
  else
    g_assert_cmpfloat (worst, <=, 1e-5 * fmax (scale, 1));
  nfn_feature_free (&px);
  nfn_perm_free (&perm);
  case_clear (&c);
  gsl_rng_free (rng);
}

/* Per-layer widths equal to channels are the uniform model, number for number; other widths
 * change the layers' shapes; a negative width is refused. */
static void
test_layer_channels (void)
{
  const int widths[] = { 2, 3, 4, 2 };
  nfn_space space;
  nfn_space_init (&space, 3, widths);
  nfn_model_config uniform, same, other;
  small_config (&uniform, GINT_TO_POINTER (NFN_MODEL_NP), &space);
  same = uniform;
  same.layer_channels[0] = same.layer_channels[1] = uniform.channels;
  other = uniform;
  other.layer_channels[1] = 2;
  g_assert_cmpint (nfn_model_layer_channels (&uniform, 1), ==, uniform.channels);
  g_assert_cmpint (nfn_model_layer_channels (&other, 0), ==, uniform.channels);
  g_assert_cmpint (nfn_model_layer_channels (&other, 1), ==, 2);
  nfn_model *u, *s, *o;
  g_assert_cmpint (nfn_model_new (&uniform, 5, &u), ==, NFN_OK);
  g_assert_cmpint (nfn_model_new (&same, 5, &s), ==, NFN_OK);
  g_assert_cmpint (nfn_model_new (&other, 5, &o), ==, NFN_OK);
  g_assert_cmpuint (nfn_model_param_count (u), ==, nfn_model_param_count (s));
  g_assert_cmpuint (nfn_model_param_count (o), <, nfn_model_param_count (u));
  gsl_rng *rng = tu_rng ();
  nfn_feature x;
  nfn_feature_alloc (&x, &space, 4, 1);
  tu_feature_normal (&x, rng);
  const float *lu, *ls;
  float before[4 * K_OUT];
  g_assert_cmpint (nfn_model_forward (u, &x, 0, &lu), ==, NFN_OK);
  memcpy (before, lu, sizeof before);
  g_assert_cmpint (nfn_model_forward (s, &x, 0, &ls), ==, NFN_OK);
  g_assert_cmpmem (before, sizeof before, ls, sizeof before);
  other.layer_channels[0] = -1;
  g_assert_cmpint (nfn_model_config_check (&other), ==, NFN_ERR_ARG);
  nfn_model_free (u);
  nfn_model_free (s);
  nfn_model_free (o);
  nfn_feature_free (&x);
  gsl_rng_free (rng);
}

/* The width of the head's first linear layer's input (its block is stored (out, in)). */
static int
head_input_width (const nfn_model *m)
{
  int n = nfn_model_param_blocks (m, NULL, 0);
  nfn_model_param_block *blocks = g_new (nfn_model_param_block, n);
  nfn_model_param_blocks (m, blocks, n);
  int width = -1;
  for (int k = 0; k < n; k++)
    if (strcmp (blocks[k].name, "head.0.weight") == 0)
      width = blocks[k].shape[1];
  g_free (blocks);
  return width;
}

/* pool_stats widens the head's input by the StatNN features, and only where there is a pool
 * to append to: an NF encoder with LOGITS output. */
static void
test_pool_stats (void)
{
  const int widths[] = { 2, 3, 4, 2 };
  nfn_space space;
  nfn_space_init (&space, 3, widths);
  nfn_model_kind kinds[] = { NFN_MODEL_NP, NFN_MODEL_HNP, NFN_MODEL_POINTWISE };
  for (int k = 0; k < 3; k++)
    {
      nfn_model_config plain, stats;
      small_config (&plain, GINT_TO_POINTER (kinds[k]), &space);
      small_config (&stats, GINT_TO_POINTER (kinds[k] | POOL_STATS), &space);
      nfn_model *p, *s;
      g_assert_cmpint (nfn_model_new (&plain, 5, &p), ==, NFN_OK);
      g_assert_cmpint (nfn_model_new (&stats, 5, &s), ==, NFN_OK);
      g_assert_cmpint (head_input_width (s) - head_input_width (p), ==, (int) nfn_statnn_dim (&space, 1));
      nfn_model_free (p);
      nfn_model_free (s);
    }
  nfn_model_config cfg;
  small_config (&cfg, GINT_TO_POINTER (NFN_MODEL_STAT | POOL_STATS), &space);
  g_assert_cmpint (nfn_model_config_check (&cfg), ==, NFN_ERR_ARG);
  small_config (&cfg, GINT_TO_POINTER (NFN_MODEL_MLP | POOL_STATS), &space);
  g_assert_cmpint (nfn_model_config_check (&cfg), ==, NFN_ERR_ARG);
  small_config (&cfg, GINT_TO_POINTER (NFN_MODEL_NP | POOL_STATS), &space);
  cfg.output = NFN_MODEL_OUT_WEIGHTS;
  cfg.out_channels = 1;
  g_assert_cmpint (nfn_model_config_check (&cfg), ==, NFN_ERR_ARG);
}

/* Same seed, same numbers. */
static void
test_determinism (void)
{
  const int widths[] = { 2, 3, 4, 2 };
  nfn_space space;
  nfn_space_init (&space, 3, widths);
  nfn_model_config cfg;
  small_config (&cfg, GINT_TO_POINTER (NFN_MODEL_HNP), &space);
  cfg.channel_dropout = 0.2f;
  cfg.head_dropout = 0.3f;
  nfn_model *a, *b;
  g_assert_cmpint (nfn_model_new (&cfg, 5, &a), ==, NFN_OK);
  g_assert_cmpint (nfn_model_new (&cfg, 5, &b), ==, NFN_OK);
  gsl_rng *rng = tu_rng ();
  nfn_feature x;
  nfn_feature_alloc (&x, &space, 4, 1);
  tu_feature_normal (&x, rng);
  int labels[4] = { 0, 1, 2, 0 };
  nfn_adam oa, ob;
  nfn_adam_init (&oa, 1e-3);
  nfn_adam_init (&ob, 1e-3);
  double la = 0, lb = 0;
  for (int step = 0; step < 5; step++)
    {
      g_assert_cmpint (nfn_model_train_step_ce (a, &oa, &x, labels, &la), ==, NFN_OK);
      g_assert_cmpint (nfn_model_train_step_ce (b, &ob, &x, labels, &lb), ==, NFN_OK);
      g_assert_cmpfloat (la, ==, lb);
    }
  g_assert_cmpmem (nfn_model_params (a), nfn_model_param_count (a) * sizeof (float), nfn_model_params (b),
                   nfn_model_param_count (b) * sizeof (float));
  nfn_model_free (a);
  nfn_model_free (b);
  nfn_feature_free (&x);
  gsl_rng_free (rng);
}

/* A learnable weight-space property: is W_2 scaled up (class 1) or down (class 0)? */
static void
test_learns (gconstpointer data)
{
  nfn_model_kind kind = GPOINTER_TO_INT (data);
  const int widths[] = { 2, 6, 6, 1 };
  nfn_space space;
  nfn_space_init (&space, 3, widths);
  nfn_model_config cfg;
  nfn_model_config_default (&cfg, kind, &space, 2);
  cfg.max_batch = 32;
  cfg.fourier_m = 8;
  cfg.channels = 16;
  cfg.depth = 2;
  cfg.n_head = 1;
  cfg.head_widths[0] = 32;
  nfn_model *model;
  g_assert_cmpint (nfn_model_new (&cfg, 3, &model), ==, NFN_OK);
  gsl_rng *rng = tu_rng ();
  nfn_feature x;
  nfn_feature_alloc (&x, &space, 32, 1);
  int labels[32];
  nfn_adam opt;
  nfn_adam_init (&opt, 1e-3);
  double loss = 0, first = 0;
  for (int step = 0; step < 150; step++)
    {
      tu_feature_normal (&x, rng);
      for (int b = 0; b < 32; b++)
        {
          labels[b] = (int) gsl_rng_uniform_int (rng, 2);
          size_t n = nfn_tensor_entries (&space, 2);
          for (size_t k = 0; k < n; k++)
            x.t[2][b * n + k] *= labels[b] ? 2.0f : 0.5f;
        }
      g_assert_cmpint (nfn_model_train_step_ce (model, &opt, &x, labels, &loss), ==, NFN_OK);
      if (step == 0)
        first = loss;
    }
  const float *logits;
  nfn_model_forward (model, &x, 0, &logits);
  double acc = nfn_accuracy (logits, labels, 32, 2);
  g_test_message ("%s: loss %.3f → %.3f, accuracy %.2f", nfn_model_kind_name (kind), first, loss, acc);
  g_assert_cmpfloat (acc, >=, 0.9);
  nfn_feature_free (&x);
  nfn_model_free (model);
  gsl_rng_free (rng);
}

/* The same task with every GEMM in bf16 (AVX512-BF16; fp32 where the CPU lacks it): rounding
 * the GEMM inputs must not stop training from learning. */
static void
test_learns_bf16 (gconstpointer data)
{
  nfn_status st = nfn_set_precision (NFN_PRECISION_BF16);
  g_test_message ("GEMMs in %s%s", nfn_precision_name (nfn_get_precision ()),
                  st == NFN_OK ? "" : " (this CPU lacks AVX512-BF16)");
  test_learns (data);
  nfn_set_precision (NFN_PRECISION_FP32);
}


/* ---- WEIGHTS output: equivariant models (edit deltas, mask logits) ---- */

typedef struct {
  nfn_model *model;
  nfn_feature x, probe; /* probe: a fixed random direction the scalar loss projects onto */
} weights_case;

static void
weights_case_init (weights_case *c, gconstpointer data, gsl_rng *rng)
{
  const int widths[] = { 2, 3, 4, 2 };
  nfn_space space;
  nfn_space_init (&space, 3, widths);
  nfn_model_config cfg;
  small_config (&cfg, data, &space);
  cfg.output = NFN_MODEL_OUT_WEIGHTS;
  cfg.out_channels = 1;
  cfg.out_scale = 0.5f;
  cfg.activation = NFN_MODEL_GELU;
  cfg.input_grad = 1;
  g_assert_cmpint (nfn_model_new (&cfg, 13, &c->model), ==, NFN_OK);
  nfn_feature_alloc (&c->x, &space, 4, 1);
  nfn_feature_alloc (&c->probe, &space, 4, 1);
  tu_feature_normal (&c->x, rng);
  tu_feature_normal (&c->probe, rng);
}

static void
weights_case_clear (weights_case *c)
{
  nfn_model_free (c->model);
  nfn_feature_free (&c->x);
  nfn_feature_free (&c->probe);
}

static double
weights_loss (void *ctx)
{
  weights_case *c = ctx;
  const nfn_feature *out;
  g_assert_cmpint (nfn_model_forward_weights (c->model, &c->x, 0, &out), ==, NFN_OK);
  return tu_feature_dot (out, &c->probe);
}

static void
test_weights_gradients (gconstpointer data)
{
  nfn_model_kind kind = CASE_KIND (data);
  gsl_rng *rng = tu_rng ();
  weights_case c;
  weights_case_init (&c, data, rng);
  const nfn_feature *out;
  g_assert_cmpint (nfn_model_forward_weights (c.model, &c.x, 0, &out), ==, NFN_OK);
  g_assert_cmpint (nfn_model_backward_weights (c.model, &c.probe), ==, NFN_OK);
  size_t P = nfn_model_param_count (c.model);
  float *grads = g_memdup2 (nfn_model_grads (c.model), P * sizeof (float));
  const nfn_feature *dx = nfn_model_input_grad (c.model);
  float *dxdata = g_memdup2 (dx->data, dx->size * sizeof (float));
  double err_p = tu_directional_check (weights_loss, &c, nfn_model_params (c.model), grads, P, 9, 1e-4, 1e-6, rng);
  double err_x = tu_directional_check (weights_loss, &c, c.x.data, dxdata, c.x.size, 9, 1e-4, 1e-6, rng);
  g_test_message ("%s weights output: median relative error params %.2e, input %.2e", nfn_model_kind_name (kind),
                  err_p, err_x);
  g_assert_cmpfloat (err_p, <, 1e-2);
  g_assert_cmpfloat (err_x, <, input_grad_limit (data));
  g_free (grads);
  g_free (dxdata);
  weights_case_clear (&c);
  gsl_rng_free (rng);
}

/* model(σ·U) = σ·model(U) for the equivariant encoders; not for the MLP. */
static void
test_weights_equivariance (gconstpointer data)
{
  nfn_model_kind kind = CASE_KIND (data);
  gsl_rng *rng = tu_rng ();
  weights_case c;
  weights_case_init (&c, data, rng);
  /* the NP model carries an IO encoding, so only hidden permutations commute with it */
  nfn_symmetry sym = NFN_SYM_HNP;
  nfn_perm perm;
  nfn_perm_alloc (&perm, &c.x.space);
  nfn_perm_random (&perm, sym, rng);
  nfn_feature px, expected, got;
  nfn_feature_alloc (&px, &c.x.space, 4, 1);
  nfn_feature_alloc (&expected, &c.x.space, 4, 1);
  nfn_feature_alloc (&got, &c.x.space, 4, 1);
  nfn_perm_apply (&perm, &c.x, &px);
  const nfn_feature *out;
  nfn_model_forward_weights (c.model, &c.x, 0, &out);
  nfn_perm_apply (&perm, out, &expected);
  nfn_model_forward_weights (c.model, &px, 0, &out);
  memcpy (got.data, out->data, got.size * sizeof (float));
  double diff = nfn_feature_max_abs_diff (&got, &expected), scale = nfn_feature_max_abs (&expected);
  g_test_message ("%s: max |model(σU) − σ·model(U)| = %.2e (max %.2e)", nfn_model_kind_name (kind), diff, scale);
  if (kind == NFN_MODEL_MLP)
    g_assert_cmpfloat (diff, >, 1e-3 * scale);
  else
    g_assert_cmpfloat (diff, <=, 1e-5 * fmax (scale, 1));
  nfn_feature_free (&px);
  nfn_feature_free (&expected);
  nfn_feature_free (&got);
  nfn_perm_free (&perm);
  weights_case_clear (&c);
  gsl_rng_free (rng);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  nfn_model_kind kinds[] = { NFN_MODEL_NP, NFN_MODEL_HNP, NFN_MODEL_POINTWISE, NFN_MODEL_MLP, NFN_MODEL_STAT };
  for (int k = 0; k < 5; k++)
    {
      g_autofree char *g = g_strdup_printf ("/model/gradients/%s", nfn_model_kind_name (kinds[k]));
      g_autofree char *i = g_strdup_printf ("/model/invariance/%s", nfn_model_kind_name (kinds[k]));
      g_test_add_data_func (g, GINT_TO_POINTER (kinds[k]), test_gradients);
      g_test_add_data_func (i, GINT_TO_POINTER (kinds[k]), test_invariance);
    }
  /* per-layer widths (the paper's genpred HNP is [16, 16, 5]) through every stage */
  for (int k = 0; k < 3; k++)
    {
      gconstpointer data = GINT_TO_POINTER (kinds[k] | PER_LAYER);
      g_autofree char *g = g_strdup_printf ("/model/gradients/%s-per-layer", nfn_model_kind_name (kinds[k]));
      g_autofree char *i = g_strdup_printf ("/model/invariance/%s-per-layer", nfn_model_kind_name (kinds[k]));
      g_autofree char *wg = g_strdup_printf ("/model/weights-gradients/%s-per-layer", nfn_model_kind_name (kinds[k]));
      g_autofree char *we = g_strdup_printf ("/model/weights-equivariance/%s-per-layer", nfn_model_kind_name (kinds[k]));
      g_test_add_data_func (g, data, test_gradients);
      g_test_add_data_func (i, data, test_invariance);
      g_test_add_data_func (wg, data, test_weights_gradients);
      g_test_add_data_func (we, data, test_weights_equivariance);
    }
  /* StatNN features beside the pool: their gradient reaches the input, and they are invariant */
  for (int k = 0; k < 3; k++)
    {
      gconstpointer data = GINT_TO_POINTER (kinds[k] | POOL_STATS);
      g_autofree char *g = g_strdup_printf ("/model/gradients/%s-pool-stats", nfn_model_kind_name (kinds[k]));
      g_autofree char *i = g_strdup_printf ("/model/invariance/%s-pool-stats", nfn_model_kind_name (kinds[k]));
      g_test_add_data_func (g, data, test_gradients);
      g_test_add_data_func (i, data, test_invariance);
    }
  g_test_add_func ("/model/pool-stats", test_pool_stats);
  g_test_add_func ("/model/determinism", test_determinism);
  g_test_add_func ("/model/layer-channels", test_layer_channels);
  nfn_model_kind weight_kinds[] = { NFN_MODEL_NP, NFN_MODEL_HNP, NFN_MODEL_POINTWISE, NFN_MODEL_MLP };
  for (int k = 0; k < 4; k++)
    {
      g_autofree char *g = g_strdup_printf ("/model/weights-gradients/%s", nfn_model_kind_name (weight_kinds[k]));
      g_autofree char *e = g_strdup_printf ("/model/weights-equivariance/%s", nfn_model_kind_name (weight_kinds[k]));
      g_test_add_data_func (g, GINT_TO_POINTER (weight_kinds[k]), test_weights_gradients);
      g_test_add_data_func (e, GINT_TO_POINTER (weight_kinds[k]), test_weights_equivariance);
    }
  g_test_add_data_func ("/model/learns/hnp", GINT_TO_POINTER (NFN_MODEL_HNP), test_learns);
  g_test_add_data_func ("/model/learns/np", GINT_TO_POINTER (NFN_MODEL_NP), test_learns);
  g_test_add_data_func ("/model/learns/hnp-bf16", GINT_TO_POINTER (NFN_MODEL_HNP), test_learns_bf16);
  g_test_add_data_func ("/model/learns/np-bf16", GINT_TO_POINTER (NFN_MODEL_NP), test_learns_bf16);
  return g_test_run ();
}
