/* test-edit.c — the INR editing chain: the edit loss equals the MSE of the SIRENs rendered
 * pixel by pixel from U + delta; its gradient w.r.t. the delta, and the whole chain's gradient
 * w.r.t. the model's parameters, match directional finite differences; an editing model's
 * delta is equivariant under hidden-neuron permutations (delta(σU) = σ·delta(U)), so its loss
 * is invariant; the MLP's is not. */
#include <math.h>
#include <string.h>

#include "nfn_edit.h"
#include "nfn_fit.h"
#include "nfn_perm.h"
#include "testutil.h"

#define B 3
#define ROWS 6
#define COLS 5
#define N (ROWS * COLS)

typedef struct {
  nfn_arch arch;
  nfn_edit edit;
  nfn_feature networks, delta, ddelta;
  nfn_feature model_input; /* what the model sees: an affine map of the networks, per tensor */
  float targets[B * N];
  nfn_model *model;
} edit_case;

static void
edit_case_init (edit_case *c, gsl_rng *rng)
{
  nfn_fit_default_arch (&c->arch);
  g_assert_cmpint (nfn_edit_init (&c->edit, &c->arch, ROWS, COLS, 4), ==, NFN_OK);
  nfn_feature_alloc (&c->networks, &c->arch.space, B, 1);
  nfn_feature_alloc (&c->delta, &c->arch.space, B, 1);
  nfn_feature_alloc (&c->ddelta, &c->arch.space, B, 1);
  nfn_feature_alloc (&c->model_input, &c->arch.space, B, 1);
  nfn_net_init (&c->arch, &c->networks, rng);
  for (int t = 0; t < nfn_tensor_count (&c->arch.space); t++)
    for (size_t e = 0; e < B * nfn_tensor_entries (&c->arch.space, t); e++)
      c->model_input.t[t][e] = (t + 2) * c->networks.t[t][e] - 0.1f * t;
  /* deltas of the size a trained editor makes: a few percent of the weights */
  tu_feature_normal (&c->delta, rng);
  for (size_t e = 0; e < c->delta.size; e++)
    c->delta.data[e] *= 0.01f;
  tu_fill_uniform (c->targets, B * N, -1, 1, rng);
  c->model = NULL;
}

static void
edit_case_clear (edit_case *c)
{
  nfn_edit_clear (&c->edit);
  nfn_feature_free (&c->networks);
  nfn_feature_free (&c->delta);
  nfn_feature_free (&c->ddelta);
  nfn_feature_free (&c->model_input);
  nfn_model_free (c->model);
}

/* A small editing model: the edit config with few channels so the checks stay quick. */
static nfn_model *
small_edit_model (nfn_model_kind kind, const nfn_space *space, float out_scale)
{
  nfn_model_config cfg;
  nfn_edit_model_config (&cfg, kind, space);
  g_assert_cmpint (cfg.output, ==, NFN_MODEL_OUT_WEIGHTS);
  g_assert_cmpint (cfg.out_channels, ==, 1);
  g_assert_cmpfloat (cfg.out_scale, ==, NFN_EDIT_OUT_SCALE);
  cfg.max_batch = 4;
  cfg.channels = 6;
  cfg.depth = 2;
  cfg.io_bands = kind == NFN_MODEL_NP ? 2 : 0;
  cfg.head_widths[0] = cfg.head_widths[1] = 16;
  cfg.activation = NFN_MODEL_GELU; /* smooth, so finite differences see no kinks */
  cfg.out_scale = out_scale;
  nfn_model *model;
  g_assert_cmpint (nfn_model_new (&cfg, 5, &model), ==, NFN_OK);
  return model;
}

/* The loss written out: each network of U + delta on each grid point, one at a time. */
static double
reference_loss (edit_case *c)
{
  nfn_feature one, one_delta;
  nfn_feature_alloc (&one, &c->arch.space, 1, 1);
  nfn_feature_alloc (&one_delta, &c->arch.space, 1, 1);
  float coords[2 * N];
  nfn_fit_grid (coords, ROWS, COLS);
  double sum = 0;
  for (int b = 0; b < B; b++)
    {
      nfn_feature_get_network (&c->networks, b, &one);
      nfn_feature_get_network (&c->delta, b, &one_delta);
      for (size_t e = 0; e < one.size; e++)
        one.data[e] += one_delta.data[e];
      for (int p = 0; p < N; p++)
        {
          float y;
          g_assert_cmpint (nfn_net_forward (&c->arch, &one, 1, coords + 2 * p, 0, &y, NULL), ==, NFN_OK);
          double diff = (double) y - c->targets[b * N + p];
          sum += diff * diff;
        }
    }
  nfn_feature_free (&one);
  nfn_feature_free (&one_delta);
  return sum / (B * N);
}

static double
delta_loss (void *ctx)
{
  edit_case *c = ctx;
  double loss;
  g_assert_cmpint (nfn_edit_loss (&c->edit, &c->networks, &c->delta, c->targets, &loss, NULL), ==, NFN_OK);
  return loss;
}

static void
test_loss_value (void)
{
  gsl_rng *rng = tu_rng ();
  edit_case c;
  edit_case_init (&c, rng);
  double loss = delta_loss (&c), want = reference_loss (&c);
  g_test_message ("edit loss %.6f, point by point %.6f", loss, want);
  g_assert_cmpfloat (fabs (loss - want), <=, 1e-5 * want);
  /* the grid is nfn_fit_grid's: row 0 is y = −1, x runs along the columns */
  g_assert_cmpfloat (c.edit.coords[0], ==, -1.0f);
  g_assert_cmpfloat (c.edit.coords[1], ==, -1.0f);
  g_assert_cmpfloat (c.edit.coords[2 * (COLS - 1)], ==, 1.0f);
  g_assert_cmpfloat (c.edit.coords[2 * (COLS - 1) + 1], ==, -1.0f);
  edit_case_clear (&c);
  gsl_rng_free (rng);
}

static void
test_delta_gradient (void)
{
  gsl_rng *rng = tu_rng ();
  edit_case c;
  edit_case_init (&c, rng);
  double loss;
  /* garbage in ddelta first: the loss must overwrite it */
  for (size_t e = 0; e < c.ddelta.size; e++)
    c.ddelta.data[e] = 7.0f;
  g_assert_cmpint (nfn_edit_loss (&c.edit, &c.networks, &c.delta, c.targets, &loss, &c.ddelta), ==, NFN_OK);
  double err = tu_directional_check (delta_loss, &c, c.delta.data, c.ddelta.data, c.delta.size, 9, 1e-4, 1e-7, rng);
  g_test_message ("d(loss)/d(delta): median relative error %.2e over 9 directions", err);
  g_assert_cmpfloat (err, <, 1e-2);
  edit_case_clear (&c);
  gsl_rng_free (rng);
}

static double
model_loss (void *ctx)
{
  edit_case *c = ctx;
  const nfn_feature *delta;
  g_assert_cmpint (nfn_model_forward_weights (c->model, &c->model_input, 0, &delta), ==, NFN_OK);
  double loss;
  g_assert_cmpint (nfn_edit_loss (&c->edit, &c->networks, delta, c->targets, &loss, NULL), ==, NFN_OK);
  return loss;
}

static void
test_model_gradient (gconstpointer data)
{
  nfn_model_kind kind = GPOINTER_TO_INT (data);
  gsl_rng *rng = tu_rng ();
  edit_case c;
  edit_case_init (&c, rng);
  /* a LearnedScale of 0.1 rather than 0.01 lifts the delta's effect above float32 rounding;
   * much larger, and the ω0 = 30 sines make the loss too curved for a step of 1e-4 */
  c.model = small_edit_model (kind, &c.arch.space, 0.1f);
  double loss;
  g_assert_cmpint (nfn_edit_model_loss (&c.edit, c.model, &c.networks, &c.model_input, c.targets, 0, &loss), ==, NFN_OK);
  g_assert_cmpfloat (fabs (loss - model_loss (&c)), <=, 1e-6 * loss);
  size_t P = nfn_model_param_count (c.model);
  float *grads = g_memdup2 (nfn_model_grads (c.model), P * sizeof (float));
  double err = tu_directional_check (model_loss, &c, nfn_model_params (c.model), grads, P, 9, 1e-4, 1e-9, rng);
  g_test_message ("%s: d(edit loss)/d(params): median relative error %.2e over 9 directions (%zu params)",
                  nfn_model_kind_name (kind), err, P);
  g_assert_cmpfloat (err, <, 1e-2);
  g_free (grads);
  edit_case_clear (&c);
  gsl_rng_free (rng);
}

/* delta(σU) = σ·delta(U) for σ in the HNP group, and so loss(σU) = loss(U) with the targets
 * unchanged (a SIREN's function does not see its hidden order). */
static void
test_delta_equivariance (gconstpointer data)
{
  nfn_model_kind kind = GPOINTER_TO_INT (data);
  gsl_rng *rng = tu_rng ();
  edit_case c;
  edit_case_init (&c, rng);
  c.model = small_edit_model (kind, &c.arch.space, NFN_EDIT_OUT_SCALE);
  nfn_perm perm;
  nfn_perm_alloc (&perm, &c.arch.space);
  nfn_perm_random (&perm, NFN_SYM_HNP, rng);
  g_assert_false (nfn_perm_is_identity (&perm));
  nfn_feature permuted, expected, got;
  nfn_feature_alloc (&permuted, &c.arch.space, B, 1);
  nfn_feature_alloc (&expected, &c.arch.space, B, 1);
  nfn_feature_alloc (&got, &c.arch.space, B, 1);
  nfn_perm_apply (&perm, &c.networks, &permuted);

  const nfn_feature *delta;
  g_assert_cmpint (nfn_model_forward_weights (c.model, &c.networks, 0, &delta), ==, NFN_OK);
  nfn_perm_apply (&perm, delta, &expected);
  /* the loss sees the networks as they are */
  memcpy (c.model_input.data, c.networks.data, c.networks.size * sizeof (float));
  double loss = model_loss (&c);
  g_assert_cmpint (nfn_model_forward_weights (c.model, &permuted, 0, &delta), ==, NFN_OK);
  memcpy (got.data, delta->data, got.size * sizeof (float));
  double diff = nfn_feature_max_abs_diff (&got, &expected), scale = nfn_feature_max_abs (&expected);
  memcpy (c.networks.data, permuted.data, permuted.size * sizeof (float));
  memcpy (c.model_input.data, permuted.data, permuted.size * sizeof (float));
  double permuted_loss = model_loss (&c);
  g_test_message ("%s: max |delta(σU) − σ·delta(U)| = %.2e (max |delta| %.2e); loss %.6f vs %.6f",
                  nfn_model_kind_name (kind), diff, scale, loss, permuted_loss);
  g_assert_cmpfloat (scale, >, 0);
  if (kind == NFN_MODEL_MLP)
    g_assert_cmpfloat (diff, >, 1e-2 * scale);
  else
    {
      g_assert_cmpfloat (diff, <=, 1e-5 * scale);
      g_assert_cmpfloat (fabs (loss - permuted_loss), <=, 1e-5 * loss);
    }
  nfn_feature_free (&permuted);
  nfn_feature_free (&expected);
  nfn_feature_free (&got);
  nfn_perm_free (&perm);
  edit_case_clear (&c);
  gsl_rng_free (rng);
}

static void
test_arguments (void)
{
  nfn_arch arch;
  nfn_edit edit;
  const int widths[] = { 2, 4, 1 };
  nfn_arch_mlp (&arch, 2, widths, NFN_ACT_RELU);
  g_assert_cmpint (nfn_edit_init (&edit, &arch, 4, 4, 2), ==, NFN_ERR_ARG);
  nfn_fit_default_arch (&arch);
  g_assert_cmpint (nfn_edit_init (&edit, &arch, 0, 4, 2), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_edit_init (&edit, &arch, 4, 4, 2), ==, NFN_OK);
  nfn_feature three, delta;
  nfn_feature_alloc (&three, &arch.space, 3, 1);
  nfn_feature_alloc (&delta, &arch.space, 3, 1);
  float pixels[3 * 16];
  double loss;
  /* rendering keeps no cache, so it takes any batch; the loss's backward needs one */
  g_assert_cmpint (nfn_edit_render (&edit, &three, pixels), ==, NFN_OK);
  g_assert_cmpint (nfn_edit_loss (&edit, &three, &delta, pixels, &loss, &delta), ==, NFN_ERR_ARG);
  nfn_feature_free (&three);
  nfn_feature_free (&delta);
  nfn_edit_clear (&edit);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/edit/loss-value", test_loss_value);
  g_test_add_func ("/edit/delta-gradient", test_delta_gradient);
  nfn_model_kind kinds[] = { NFN_MODEL_NP, NFN_MODEL_HNP, NFN_MODEL_POINTWISE, NFN_MODEL_MLP };
  for (int k = 0; k < 4; k++)
    {
      g_autofree char *g = g_strdup_printf ("/edit/model-gradient/%s", nfn_model_kind_name (kinds[k]));
      g_autofree char *e = g_strdup_printf ("/edit/equivariance/%s", nfn_model_kind_name (kinds[k]));
      g_test_add_data_func (g, GINT_TO_POINTER (kinds[k]), test_model_gradient);
      g_test_add_data_func (e, GINT_TO_POINTER (kinds[k]), test_delta_equivariance);
    }
  g_test_add_func ("/edit/arguments", test_arguments);
  return g_test_run ();
}
