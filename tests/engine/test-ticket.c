/* test-ticket.c — winning tickets: pruning keeps exactly the top magnitudes (against a brute-force
 * rank), layer budgets, random masks, the mask loss against its formula and finite
 * differences, masked training never moves a pruned weight, a network's training does not
 * depend on its batch or the threads, and an NFN's predicted mask moves with the init under
 * hidden-neuron permutations. */
#include <math.h>
#include <string.h>

#include "nfn_fit.h"
#include "nfn_model.h"
#include "nfn_perm.h"
#include "nfn_ticket.h"
#include "nfn_train.h"
#include "testutil.h"

static const int widths[] = { 6, 5, 4, 3 };

static void
small_space (nfn_space *space)
{
  nfn_space_init (space, 3, widths);
}

/* Weight entry `flat` (tensor order) of network `net`. */
static float *
weight_at (nfn_feature *f, int net, size_t flat)
{
  const nfn_space *s = &f->space;
  for (int i = 1; i <= s->L; i++)
    {
      int t = nfn_tensor_weight (i);
      size_t per = nfn_tensor_entries (s, t);
      if (flat < per)
        return f->t[t] + (size_t) net * per + flat;
      flat -= per;
    }
  g_assert_not_reached ();
  return NULL;
}

static void
assert_biases_kept (nfn_feature *masks)
{
  const nfn_space *s = &masks->space;
  for (int i = 1; i <= s->L; i++)
    {
      int t = nfn_tensor_bias (i);
      for (size_t e = 0; e < (size_t) masks->B * nfn_tensor_entries (s, t); e++)
        g_assert_cmpfloat (masks->t[t][e], ==, 1.0f);
    }
}

/* ---- pruning ---- */

/* Entry e is kept iff fewer than `keep` entries beat it: a larger score, or an equal one
 * earlier in tensor order. O(M²), independent of the sort the engine uses. */
static void
assert_top (nfn_feature *scores, nfn_feature *masks, int net, size_t first, size_t length, size_t keep, int absolute)
{
  size_t kept = 0;
  for (size_t e = first; e < first + length; e++)
    {
      double x = *weight_at (scores, net, e);
      x = absolute ? fabs (x) : x;
      size_t rank = 0;
      for (size_t f = first; f < first + length; f++)
        {
          double y = *weight_at (scores, net, f);
          y = absolute ? fabs (y) : y;
          rank += y > x || (y == x && f < e);
        }
      float m = *weight_at (masks, net, e);
      g_assert_true (m == 0.0f || m == 1.0f);
      g_assert_cmpint (m == 1.0f, ==, rank < keep);
      kept += m == 1.0f;
    }
  g_assert_cmpuint (kept, ==, keep);
}

static void
test_prune_top_magnitudes (void)
{
  gsl_rng *rng = tu_rng ();
  nfn_space space;
  small_space (&space);
  nfn_feature w, masks;
  nfn_feature_alloc (&w, &space, 3, 1);
  nfn_feature_alloc (&masks, &space, 3, 1);
  tu_feature_normal (&w, rng);
  size_t M = nfn_ticket_weight_count (&space);
  g_assert_cmpuint (M, ==, 6 * 5 + 5 * 4 + 4 * 3);
  /* ties of magnitude across signs and layers, where the cut falls */
  for (int net = 0; net < 3; net++)
    {
      *weight_at (&w, net, 40) = -*weight_at (&w, net, 3);
      *weight_at (&w, net, 55) = *weight_at (&w, net, 3);
      *weight_at (&w, net, 7) = 0.0f;
      *weight_at (&w, net, 8) = -0.0f;
    }
  const double sparsities[] = { 0.0, 0.3, 0.5, 0.9, 0.97 };
  for (gsize k = 0; k < G_N_ELEMENTS (sparsities); k++)
    {
      size_t keep = nfn_ticket_keep_count (&space, sparsities[k]);
      size_t expected = (size_t) lround ((1 - sparsities[k]) * M);
      g_assert_cmpuint (keep, ==, MAX (expected, 1));
      g_assert_cmpint (nfn_ticket_prune_magnitude (&w, sparsities[k], &masks), ==, NFN_OK);
      for (int net = 0; net < 3; net++)
        assert_top (&w, &masks, net, 0, M, keep, 1);
      assert_biases_kept (&masks);
    }
  /* a cut right inside a tie: the earlier entry (3) is kept before 40 and 55 */
  for (int net = 0; net < 3; net++)
    {
      *weight_at (&w, net, 3) = *weight_at (&w, net, 40) = 100.0f;
      *weight_at (&w, net, 55) = -100.0f;
    }
  g_assert_cmpint (nfn_ticket_mask_top (&w, 2, 1, &masks), ==, NFN_OK);
  for (int net = 0; net < 3; net++)
    {
      g_assert_cmpfloat (*weight_at (&masks, net, 3), ==, 1.0f);
      g_assert_cmpfloat (*weight_at (&masks, net, 40), ==, 1.0f);
      g_assert_cmpfloat (*weight_at (&masks, net, 55), ==, 0.0f);
    }
  /* by value (logits), scores and masks the same feature */
  tu_feature_normal (&w, rng);
  nfn_feature copy;
  nfn_feature_alloc (&copy, &space, 3, 1);
  memcpy (copy.data, w.data, w.size * sizeof (float));
  g_assert_cmpint (nfn_ticket_mask_top (&w, 9, 0, &w), ==, NFN_OK);
  for (int net = 0; net < 3; net++)
    assert_top (&copy, &w, net, 0, M, 9, 0);
  g_assert_cmpint (nfn_ticket_mask_top (&copy, 0, 0, &masks), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_ticket_mask_top (&copy, M + 1, 0, &masks), ==, NFN_ERR_ARG);
  *weight_at (&copy, 1, 20) = NAN;
  g_assert_cmpint (nfn_ticket_mask_top (&copy, 5, 0, &masks), ==, NFN_ERR_NONFINITE);
  nfn_feature_free (&copy);
  nfn_feature_free (&w);
  nfn_feature_free (&masks);
  gsl_rng_free (rng);
}

static void
test_layer_budget (void)
{
  gsl_rng *rng = tu_rng ();
  nfn_space space;
  small_space (&space);
  size_t room[3] = { 30, 20, 12 };
  const double fractions[][3] = { { 0.1, 0.5, 0.9 }, { 1, 1, 1 }, { 0, 0.2, 0 }, { 0.04, 0.27, 0.36 } };
  const double sparsities[] = { 0.0, 0.5, 0.8, 0.95 };
  for (gsize f = 0; f < G_N_ELEMENTS (fractions); f++)
    for (gsize k = 0; k < G_N_ELEMENTS (sparsities); k++)
      {
        size_t keep[3], total = nfn_ticket_keep_count (&space, sparsities[k]);
        g_assert_cmpint (nfn_ticket_layer_budget (&space, fractions[f], sparsities[k], keep), ==, NFN_OK);
        double share_sum = 0;
        for (int i = 0; i < 3; i++)
          share_sum += fractions[f][i] * room[i];
        size_t sum = 0;
        gboolean capped = FALSE;
        for (int i = 0; i < 3; i++)
          {
            double ideal = fractions[f][i] * room[i] / share_sum * total;
            g_assert_cmpuint (keep[i], <=, room[i]);
            if (ideal >= room[i])
              g_assert_cmpuint (keep[i], ==, room[i]); /* a share that does not fit fills its layer */
            capped |= ideal > room[i];
            sum += keep[i];
          }
        g_assert_cmpuint (sum, ==, total);
        /* proportional: with nothing capped, every budget is its ideal share rounded */
        for (int i = 0; i < 3 && !capped; i++)
          g_assert_cmpfloat (fabs (keep[i] - fractions[f][i] * room[i] / share_sum * total), <, 1.0);
      }
  const double zero[] = { 0, 0, 0 };
  size_t keep[3];
  g_assert_cmpint (nfn_ticket_layer_budget (&space, zero, 0.5, keep), ==, NFN_ERR_ARG);

  /* per-layer selection keeps each layer's own top entries */
  nfn_feature w, masks;
  nfn_feature_alloc (&w, &space, 2, 1);
  nfn_feature_alloc (&masks, &space, 2, 1);
  tu_feature_normal (&w, rng);
  const size_t budget[] = { 7, 0, 12 };
  g_assert_cmpint (nfn_ticket_mask_top_layers (&w, budget, 0, &masks), ==, NFN_OK);
  for (int net = 0; net < 2; net++)
    for (int i = 0, first = 0; i < 3; first += (int) room[i], i++)
      assert_top (&w, &masks, net, (size_t) first, room[i], budget[i], 0);
  assert_biases_kept (&masks);
  double fraction[3];
  g_assert_cmpint (nfn_ticket_layer_fractions (&masks, fraction), ==, NFN_OK);
  for (int i = 0; i < 3; i++)
    g_assert_cmpfloat (fabs (fraction[i] - (double) budget[i] / room[i]), <, 1e-12);
  const size_t too_many[] = { 31, 0, 0 };
  g_assert_cmpint (nfn_ticket_mask_top_layers (&w, too_many, 0, &masks), ==, NFN_ERR_ARG);
  nfn_feature_free (&w);
  nfn_feature_free (&masks);
  gsl_rng_free (rng);
}

/* The spread selection on hand-made scores: W_1 (4×2) has logit ln 3 in column 0 and −ln 3 in
 * column 1, so with keep 4 the shift is c = 0 (σ(t) + σ(−t) = 1), the expected counts are 3 and 1
 * and the quotas 3 and 1 (plain top-k would take all four from column 0); column 1 keeps its
 * best row (3, raised by 0.02), column 0 on its tie the lower rows. W_2 (1×4) keeps everything, its budget being the whole layer. */
static void
test_mask_spread (void)
{
  nfn_space space;
  const int widths[] = { 2, 4, 1 };
  nfn_space_init (&space, 2, widths);
  nfn_feature scores, masks;
  nfn_feature_alloc (&scores, &space, 1, 1);
  nfn_feature_alloc (&masks, &space, 1, 1);
  for (int r = 0; r < 4; r++)
    {
      scores.t[0][r * 2 + 0] = (float) log (3.0);
      scores.t[0][r * 2 + 1] = (float) -log (3.0) + (r == 3 ? 0.02f : 0.0f);
      scores.t[2][r] = (float) r;
    }
  const size_t keep[] = { 4, 4 };
  g_assert_cmpint (nfn_ticket_mask_spread (&scores, keep, 1.0, &masks), ==, NFN_OK);
  const float want_w1[] = { 1, 0, 1, 0, 1, 0, 0, 1 }; /* column 1 keeps its best row, 3 */
  for (int e = 0; e < 8; e++)
    g_assert_cmpfloat (masks.t[0][e], ==, want_w1[e]);
  for (int r = 0; r < 4; r++)
    g_assert_cmpfloat (masks.t[2][r], ==, 1.0f);
  assert_biases_kept (&masks);
  /* at T = 4 the columns expect σ(ln 3 / 4) · 4 ≈ 2.27 and 1.73, so the quotas are 2 and 2; each
   * row expects about 1: column 0 keeps rows 0 and 1, column 1 its best row 3 and then row 2
   * (rows 0 and 1 have used their one) */
  g_assert_cmpint (nfn_ticket_mask_spread (&scores, keep, 4.0, &masks), ==, NFN_OK);
  const float want_t4[] = { 1, 0, 1, 0, 0, 1, 0, 1 };
  for (int e = 0; e < 8; e++)
    g_assert_cmpfloat (masks.t[0][e], ==, want_t4[e]);
  g_assert_cmpint (nfn_ticket_mask_spread (&scores, keep, 0.0, &masks), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_ticket_mask_spread (&scores, keep, NAN, &masks), ==, NFN_ERR_ARG);

  /* a column that scores higher in every row still shares: column 1's two best rows at
   * logits 0 and −ln 3 against column 0's four at ln 3 … keep 2 of W_1 → c with
   * 4σ(ln3 − c) + σ(−c) + σ(−ln3 − c) + 2σ(−9 − c) = 2 (c ≈ 1.38); column 1 expects about 0.28 of the
   * 2, so the quotas are 2 and 0, and column 0 keeps its lowest rows on the tie */
  for (int r = 0; r < 4; r++)
    scores.t[0][r * 2 + 1] = r == 0 ? 0.0f : (r == 1 ? (float) -log (3.0) : -9.0f);
  const size_t keep2[] = { 2, 0 };
  g_assert_cmpint (nfn_ticket_mask_spread (&scores, keep2, 1.0, &masks), ==, NFN_OK);
  const float want2[] = { 1, 0, 1, 0, 0, 0, 0, 0 };
  for (int e = 0; e < 8; e++)
    g_assert_cmpfloat (masks.t[0][e], ==, want2[e]);
  for (int r = 0; r < 4; r++)
    g_assert_cmpfloat (masks.t[2][r], ==, 0.0f);

  /* rows too, in a second space, 4 → 2, whose row 0 scores 1.0 and row 1 0.9 everywhere: top-k of 4 would take all of row 0; the
   * expected counts (about 2.05 and 1.95 per row, 1 per column) give quotas 2, 2 and 1 each, so
   * row 0 keeps columns 0 and 1 and row 1 columns 2 and 3 */
  nfn_space wide;
  const int wide_widths[] = { 4, 2 };
  nfn_space_init (&wide, 1, wide_widths);
  nfn_feature ws, wm;
  nfn_feature_alloc (&ws, &wide, 1, 1);
  nfn_feature_alloc (&wm, &wide, 1, 1);
  for (int j = 0; j < 4; j++)
    ws.t[0][j] = 1.0f, ws.t[0][4 + j] = 0.9f;
  const size_t keep_wide[] = { 4 };
  g_assert_cmpint (nfn_ticket_mask_spread (&ws, keep_wide, 1.0, &wm), ==, NFN_OK);
  const float want_wide[] = { 1, 1, 0, 0, 0, 0, 1, 1 };
  for (int e = 0; e < 8; e++)
    g_assert_cmpfloat (wm.t[0][e], ==, want_wide[e]);
  nfn_feature_free (&ws);
  nfn_feature_free (&wm);

  /* scores may alias masks; a budget above the layer, or a NaN, is refused */
  scores.t[0][1] = (float) -log (3.0);
  for (int r = 1; r < 4; r++)
    scores.t[0][r * 2 + 1] = (float) -log (3.0) + (r == 3 ? 0.02f : 0.0f);
  g_assert_cmpint (nfn_ticket_mask_spread (&scores, keep, 1.0, &scores), ==, NFN_OK);
  for (int e = 0; e < 8; e++)
    g_assert_cmpfloat (scores.t[0][e], ==, want_w1[e]);
  const size_t too_many[] = { 9, 0 };
  g_assert_cmpint (nfn_ticket_mask_spread (&masks, too_many, 1.0, &masks), ==, NFN_ERR_ARG);
  masks.t[0][3] = NAN;
  g_assert_cmpint (nfn_ticket_mask_spread (&masks, keep, 1.0, &masks), ==, NFN_ERR_NONFINITE);
  nfn_feature_free (&scores);
  nfn_feature_free (&masks);
}

/* Entries where two masks of one shape differ. */
static size_t
count_mismatches (const nfn_feature *a, const nfn_feature *b)
{
  size_t mismatches = 0;
  for (size_t e = 0; e < a->size; e++)
    mismatches += a->data[e] != b->data[e];
  return mismatches;
}

static void
test_random_mask (void)
{
  nfn_space space;
  small_space (&space);
  const int B = 400;
  nfn_feature a, b;
  nfn_feature_alloc (&a, &space, B, 1);
  nfn_feature_alloc (&b, &space, B, 1);
  uint64_t ids[400], shifted[400];
  for (int k = 0; k < B; k++)
    ids[k] = (uint64_t) k, shifted[k] = (uint64_t) k + 1;
  size_t M = nfn_ticket_weight_count (&space), keep = nfn_ticket_keep_count (&space, 0.8);
  g_assert_cmpint (nfn_ticket_mask_random (&a, 0.8, 5, ids), ==, NFN_OK);
  g_assert_cmpint (nfn_ticket_mask_random (&b, 0.8, 5, shifted), ==, NFN_OK);
  assert_biases_kept (&a);
  double hits[62] = { 0 };
  int same_as_next = 0;
  for (int net = 0; net < B; net++)
    {
      size_t kept = 0;
      for (size_t e = 0; e < M; e++)
        {
          float m = *weight_at (&a, net, e);
          g_assert_true (m == 0.0f || m == 1.0f);
          kept += m == 1.0f;
          hits[e] += m;
        }
      g_assert_cmpuint (kept, ==, keep);
      /* network id n+1 under `shifted` is network n+1 of `a`: the mask depends on the id alone */
      if (net + 1 < B)
        {
          gboolean equal = TRUE;
          for (size_t e = 0; e < M; e++)
            equal &= *weight_at (&b, net, e) == *weight_at (&a, net + 1, e);
          g_assert_true (equal);
          gboolean same = TRUE;
          for (size_t e = 0; e < M; e++)
            same &= *weight_at (&a, net, e) == *weight_at (&a, net + 1, e);
          same_as_next += same;
        }
    }
  g_assert_cmpint (same_as_next, ==, 0);
  /* every weight is kept with probability keep/M: 400 draws each, 6 standard deviations */
  double p = (double) keep / M, sd = sqrt (B * p * (1 - p));
  for (size_t e = 0; e < M; e++)
    g_assert_cmpfloat (fabs (hits[e] - B * p), <, 6 * sd);
  nfn_feature_free (&a);
  nfn_feature_free (&b);
}

/* ---- the mask loss ---- */

typedef struct {
  nfn_feature logits, masks;
  double rho[3];
} loss_case;

static double
loss_case_value (void *ctx)
{
  loss_case *c = ctx;
  double loss;
  g_assert_cmpint (nfn_ticket_mask_loss (&c->logits, &c->masks, c->rho, &loss, NULL), ==, NFN_OK);
  return loss;
}

static void
test_mask_loss (void)
{
  gsl_rng *rng = tu_rng ();
  nfn_space space;
  small_space (&space);
  loss_case c = { .rho = { 3.0, 0.5, 7.0 } };
  nfn_feature grad;
  nfn_feature_alloc (&c.logits, &space, 2, 1);
  nfn_feature_alloc (&c.masks, &space, 2, 1);
  nfn_feature_alloc (&grad, &space, 2, 1);
  tu_feature_normal (&c.logits, rng);
  for (size_t e = 0; e < c.logits.size; e++)
    c.logits.data[e] *= 3.0f;
  uint64_t ids[] = { 1, 2 };
  nfn_ticket_mask_random (&c.masks, 0.6, 0, ids);
  for (size_t e = 0; e < grad.size; e++)
    grad.data[e] = 99.0f; /* overwritten, not accumulated */
  double loss;
  g_assert_cmpint (nfn_ticket_mask_loss (&c.logits, &c.masks, c.rho, &loss, &grad), ==, NFN_OK);
  /* the formula, directly: mean over the 2·62 weight entries */
  double expected = 0;
  for (int net = 0; net < 2; net++)
    for (size_t e = 0; e < 62; e++)
      {
        double x = *weight_at (&c.logits, net, e), y = *weight_at (&c.masks, net, e);
        double rho = c.rho[e < 30 ? 0 : e < 50 ? 1 : 2];
        expected += rho * y * log (1 + exp (-x)) + (1 - y) * log (1 + exp (x));
      }
  expected /= 2 * 62;
  g_assert_cmpfloat (fabs (loss - expected), <, 1e-9 * fabs (expected));
  for (int i = 1; i <= 3; i++)
    {
      int t = nfn_tensor_bias (i);
      for (size_t e = 0; e < 2 * nfn_tensor_entries (&space, t); e++)
        g_assert_cmpfloat (grad.t[t][e], ==, 0.0f);
    }
  double worst = tu_grad_check (loss_case_value, &c, c.logits.data, grad.data, c.logits.size, 200, 1e-2, 1e-6, rng);
  g_test_message ("mask loss: worst relative gradient error %.2e", worst);
  g_assert_cmpfloat (worst, <, 1e-3);
  /* refusals */
  double bad_rho[] = { 1, 0, 1 };
  g_assert_cmpint (nfn_ticket_mask_loss (&c.logits, &c.masks, bad_rho, &loss, NULL), ==, NFN_ERR_ARG);
  *weight_at (&c.masks, 1, 3) = 0.5f;
  g_assert_cmpint (nfn_ticket_mask_loss (&c.logits, &c.masks, c.rho, &loss, NULL), ==, NFN_ERR_ARG);
  /* balanced weights: ρ_i = pruned/kept of the layer, or one global ratio */
  nfn_ticket_mask_random (&c.masks, 0.6, 0, ids);
  double rho[3], fraction[3];
  nfn_ticket_layer_fractions (&c.masks, fraction);
  g_assert_cmpint (nfn_ticket_pos_weights (&c.masks, 1, rho), ==, NFN_OK);
  for (int i = 0; i < 3; i++)
    if (fraction[i] > 0 && fraction[i] < 1)
      g_assert_cmpfloat (fabs (rho[i] - (1 - fraction[i]) / fraction[i]), <, 1e-9 * rho[i]);
  g_assert_cmpint (nfn_ticket_pos_weights (&c.masks, 0, rho), ==, NFN_OK);
  double kept = 2.0 * nfn_ticket_keep_count (&space, 0.6);
  for (int i = 0; i < 3; i++)
    g_assert_cmpfloat (fabs (rho[i] - (124 - kept) / kept), <, 1e-9);
  nfn_feature_free (&c.logits);
  nfn_feature_free (&c.masks);
  nfn_feature_free (&grad);
  gsl_rng_free (rng);
}

/* ---- training ---- */

/* Three Gaussian clusters in 6 dimensions, N examples: an easy, honest classification task. */
typedef struct {
  float x[600 * 6];
  int labels[600];
  nfn_ticket_data data;
} blobs;

static void
blobs_init (blobs *d, int N, gsl_rng *rng)
{
  tu_fill_normal (d->x, (size_t) N * 6, 0.7, rng);
  for (int n = 0; n < N; n++)
    {
      d->labels[n] = n % 3;
      for (int k = 0; k < 6; k++)
        d->x[n * 6 + k] += k % 3 == d->labels[n] ? 1.5f : 0.0f;
    }
  d->data = (nfn_ticket_data) { d->x, d->labels, N };
}

static void
small_arch (nfn_arch *arch)
{
  g_assert_cmpint (nfn_arch_mlp (arch, 3, widths, NFN_ACT_RELU), ==, NFN_OK);
}

/* The accuracy, computed here from the forward pass. */
static double
direct_accuracy (const nfn_arch *arch, nfn_feature *w, int net, const nfn_ticket_data *d)
{
  nfn_feature one;
  nfn_feature_alloc (&one, &arch->space, 1, 1);
  nfn_feature_get_network (w, net, &one);
  float *y = g_new (float, (gsize) d->N * 3);
  g_assert_cmpint (nfn_net_forward (arch, &one, d->N, d->x, (size_t) d->N * 6, y, NULL), ==, NFN_OK);
  int correct = 0;
  for (int n = 0; n < d->N; n++)
    {
      int best = 0;
      for (int k = 1; k < 3; k++)
        if (y[n * 3 + k] > y[n * 3 + best])
          best = k;
      correct += best == d->labels[n];
    }
  g_free (y);
  nfn_feature_free (&one);
  return (double) correct / d->N;
}

static void
test_masked_training (void)
{
  gsl_rng *rng = tu_rng ();
  blobs *train = g_new (blobs, 1), *test = g_new (blobs, 1);
  blobs_init (train, 600, rng);
  blobs_init (test, 300, rng);
  nfn_arch arch;
  small_arch (&arch);
  const int B = 4;
  nfn_feature init, dense, masked, ones, masks;
  nfn_feature_alloc (&init, &arch.space, B, 1);
  nfn_feature_alloc (&dense, &arch.space, B, 1);
  nfn_feature_alloc (&masked, &arch.space, B, 1);
  nfn_feature_alloc (&ones, &arch.space, B, 1);
  nfn_feature_alloc (&masks, &arch.space, B, 1);
  uint64_t ids[4] = { 10, 11, 12, 13 };
  for (int b = 0; b < B; b++)
    nfn_fit_init_network (&arch, &init, b, 3, ids[b]);
  nfn_ticket_train_options opt;
  nfn_ticket_train_options_init (&opt);
  opt.epochs = 8;
  opt.batch_size = 32;
  opt.lr = 1e-2;
  opt.seed = 3;
  opt.threads = 2;
  float before[4], after[4], sparse[4];
  g_assert_cmpint (nfn_ticket_accuracy (&arch, &init, &test->data, 2, before), ==, NFN_OK);
  memcpy (dense.data, init.data, init.size * sizeof (float));
  g_assert_cmpint (nfn_ticket_train (&arch, &dense, NULL, &train->data, ids, &opt), ==, NFN_OK);
  g_assert_cmpint (nfn_ticket_accuracy (&arch, &dense, &test->data, 1, after), ==, NFN_OK);
  for (int b = 0; b < B; b++)
    {
      g_assert_cmpfloat (fabs (after[b] - direct_accuracy (&arch, &dense, b, &test->data)), <, 1e-6);
      g_assert_cmpfloat (fabs (before[b] - direct_accuracy (&arch, &init, b, &test->data)), <, 1e-6);
      g_test_message ("network %d: test accuracy %.3f before, %.3f after dense training", b, before[b], after[b]);
      g_assert_cmpfloat (after[b], >, 0.8); /* chance is 1/3; the clusters are 1.5 apart, noise 0.7 */
    }

  /* masked: the pruned weights are zero and stay zero, the kept ones move */
  g_assert_cmpint (nfn_ticket_mask_random (&masks, 0.5, 9, ids), ==, NFN_OK);
  memcpy (masked.data, init.data, init.size * sizeof (float));
  g_assert_cmpint (nfn_ticket_train (&arch, &masked, &masks, &train->data, ids, &opt), ==, NFN_OK);
  size_t M = nfn_ticket_weight_count (&arch.space), moved = 0, kept = 0;
  for (int b = 0; b < B; b++)
    for (size_t e = 0; e < M; e++)
      {
        float m = *weight_at (&masks, b, e), w0 = *weight_at (&init, b, e), w = *weight_at (&masked, b, e);
        if (m == 0.0f)
          {
            g_assert_cmpfloat (w0, !=, 0.0f);
            g_assert_cmpfloat (w, ==, 0.0f);
          }
        else
          {
            kept++;
            moved += w != w0;
          }
      }
  /* (a unit whose every input was pruned is dead, and so are its outgoing weights' gradients) */
  g_test_message ("masked training moved %zu of the %zu kept weights", moved, kept);
  g_assert_cmpuint (moved, >, kept / 2);
  g_assert_cmpint (nfn_ticket_accuracy (&arch, &masked, &test->data, 2, sparse), ==, NFN_OK);
  for (int b = 0; b < B; b++)
    g_test_message ("network %d: test accuracy %.3f under a random half mask", b, sparse[b]);

  /* a mask of ones is dense training, bit for bit */
  for (size_t e = 0; e < ones.size; e++)
    ones.data[e] = 1.0f;
  memcpy (masked.data, init.data, init.size * sizeof (float));
  g_assert_cmpint (nfn_ticket_train (&arch, &masked, &ones, &train->data, ids, &opt), ==, NFN_OK);
  g_assert_cmpint (memcmp (masked.data, dense.data, dense.size * sizeof (float)), ==, 0);

  /* refusals */
  int bad = train->labels[5];
  train->labels[5] = 3;
  g_assert_cmpint (nfn_ticket_train (&arch, &masked, NULL, &train->data, ids, &opt), ==, NFN_ERR_ARG);
  train->labels[5] = bad;
  volatile int cancel = 1;
  opt.cancel = &cancel;
  g_assert_cmpint (nfn_ticket_train (&arch, &masked, NULL, &train->data, ids, &opt), ==, NFN_ERR_CANCELLED);

  nfn_feature_free (&init);
  nfn_feature_free (&dense);
  nfn_feature_free (&masked);
  nfn_feature_free (&ones);
  nfn_feature_free (&masks);
  g_free (train);
  g_free (test);
  gsl_rng_free (rng);
}

/* Network 2 of a batch of 4 on two threads ends bit for bit where it ends trained alone on one. */
static void
test_batch_independence (void)
{
  gsl_rng *rng = tu_rng ();
  blobs *train = g_new (blobs, 1);
  blobs_init (train, 200, rng);
  nfn_arch arch;
  small_arch (&arch);
  nfn_feature four, one, single;
  nfn_feature_alloc (&four, &arch.space, 4, 1);
  nfn_feature_alloc (&one, &arch.space, 1, 1);
  nfn_feature_alloc (&single, &arch.space, 1, 1);
  uint64_t ids[4] = { 7, 8, 9, 10 };
  for (int b = 0; b < 4; b++)
    nfn_fit_init_network (&arch, &four, b, 1, ids[b]);
  nfn_feature_get_network (&four, 2, &single);
  nfn_ticket_train_options opt;
  nfn_ticket_train_options_init (&opt);
  opt.epochs = 2;
  opt.batch_size = 16;
  opt.threads = 2;
  g_assert_cmpint (nfn_ticket_train (&arch, &four, NULL, &train->data, ids, &opt), ==, NFN_OK);
  opt.threads = 1;
  g_assert_cmpint (nfn_ticket_train (&arch, &single, NULL, &train->data, &ids[2], &opt), ==, NFN_OK);
  nfn_feature_get_network (&four, 2, &one);
  g_assert_cmpfloat (nfn_feature_max_abs_diff (&one, &single), ==, 0.0);
  /* and another id means another minibatch order */
  nfn_fit_init_network (&arch, &single, 0, 1, ids[2]);
  g_assert_cmpint (nfn_ticket_train (&arch, &single, NULL, &train->data, &ids[3], &opt), ==, NFN_OK);
  g_assert_cmpfloat (nfn_feature_max_abs_diff (&one, &single), >, 0.0);
  nfn_feature_free (&four);
  nfn_feature_free (&one);
  nfn_feature_free (&single);
  g_free (train);
  gsl_rng_free (rng);
}

/* ---- an NFN's predicted mask is equivariant ---- */

/* mask(σ·W) = σ·mask(W), except where a score ties the cut within rounding. */
static void
assert_mask_equivariant (nfn_feature *scores_moved, nfn_feature *mask_moved, nfn_feature *moved_mask,
                         nfn_feature *moved_scores, const size_t *budget, double tol)
{
  const nfn_space *s = &mask_moved->space;
  for (int net = 0; net < mask_moved->B; net++)
    for (int i = 1; i <= s->L; i++)
      {
        int t = nfn_tensor_weight (i);
        size_t per = nfn_tensor_entries (s, t);
        /* the layer's cut: the smallest kept score */
        double cut = INFINITY;
        for (size_t e = 0; e < per; e++)
          if (mask_moved->t[t][net * per + e] == 1.0f)
            cut = MIN (cut, scores_moved->t[t][net * per + e]);
        size_t kept = 0;
        for (size_t e = 0; e < per; e++)
          {
            float a = mask_moved->t[t][net * per + e], b = moved_mask->t[t][net * per + e];
            kept += a == 1.0f;
            if (a != b)
              g_assert_cmpfloat (fabs (moved_scores->t[t][net * per + e] - cut), <, tol);
          }
        g_assert_cmpuint (kept, ==, budget[i - 1]);
      }
}

static void
check_mask_model (nfn_model_kind kind)
{
  gsl_rng *rng = tu_rng ();
  nfn_space space;
  small_space (&space);
  nfn_model_config cfg;
  nfn_model_config_default (&cfg, kind, &space, 1);
  cfg.output = NFN_MODEL_OUT_WEIGHTS;
  cfg.out_channels = 1;
  cfg.out_scale = 0;
  cfg.n_head = 0;
  cfg.max_batch = 2;
  cfg.fourier_m = 3;
  cfg.fourier_scale = 1.0;
  cfg.io_bands = 0;
  cfg.depth = 2;
  cfg.channels = 4;
  nfn_model *model;
  g_assert_cmpint (nfn_model_new (&cfg, 5, &model), ==, NFN_OK);
  nfn_feature w, pw, scores, pscores, moved_scores, mask, pmask, moved_mask;
  nfn_feature *all[] = { &w, &pw, &scores, &pscores, &moved_scores, &mask, &pmask, &moved_mask };
  for (gsize k = 0; k < G_N_ELEMENTS (all); k++)
    nfn_feature_alloc (all[k], &space, 2, 1);
  tu_feature_normal (&w, rng);
  nfn_perm perm;
  nfn_perm_alloc (&perm, &space);
  nfn_perm_random (&perm, NFN_SYM_HNP, rng);
  g_assert_false (nfn_perm_is_identity (&perm));
  nfn_perm_apply (&perm, &w, &pw);

  const nfn_feature *out;
  g_assert_cmpint (nfn_model_forward_weights (model, &w, 0, &out), ==, NFN_OK);
  memcpy (scores.data, out->data, out->size * sizeof (float));
  g_assert_cmpint (nfn_model_forward_weights (model, &pw, 0, &out), ==, NFN_OK);
  memcpy (pscores.data, out->data, out->size * sizeof (float));
  nfn_perm_apply (&perm, &scores, &moved_scores);
  double scale = nfn_feature_max_abs (&scores), diff = nfn_feature_max_abs_diff (&pscores, &moved_scores);
  g_test_message ("%s: max |NFN(s.W) - s.NFN(W)| = %.2e (scale %.2e)", nfn_model_kind_name (kind), diff, scale);
  g_assert_cmpfloat (diff, <, 1e-5 * MAX (scale, 1.0));

  /* per-layer budgets and the global cut alike */
  const double fraction[] = { 0.1, 0.4, 0.5 };
  size_t budget[3];
  nfn_ticket_layer_budget (&space, fraction, 0.7, budget);
  g_assert_cmpint (nfn_ticket_mask_top_layers (&scores, budget, 0, &mask), ==, NFN_OK);
  g_assert_cmpint (nfn_ticket_mask_top_layers (&pscores, budget, 0, &pmask), ==, NFN_OK);
  nfn_perm_apply (&perm, &mask, &moved_mask);
  assert_mask_equivariant (&pscores, &pmask, &moved_mask, &moved_scores, budget, 1e-4 * MAX (scale, 1.0));
  /* not invariant: the permuted init gets a moved mask, not the same one */
  g_assert_cmpfloat (nfn_feature_max_abs_diff (&pmask, &mask), >, 0.0);

  /* the spread selection too (up to a near-tie at a quota's cut) */
  g_assert_cmpint (nfn_ticket_mask_spread (&scores, budget, 2.0, &mask), ==, NFN_OK);
  g_assert_cmpint (nfn_ticket_mask_spread (&pscores, budget, 2.0, &pmask), ==, NFN_OK);
  nfn_perm_apply (&perm, &mask, &moved_mask);
  g_assert_cmpuint (count_mismatches (&pmask, &moved_mask), <=, 2);
  g_assert_cmpfloat (nfn_feature_max_abs_diff (&pmask, &mask), >, 0.0);

  size_t keep = nfn_ticket_keep_count (&space, 0.7);
  g_assert_cmpint (nfn_ticket_mask_top (&scores, keep, 0, &mask), ==, NFN_OK);
  g_assert_cmpint (nfn_ticket_mask_top (&pscores, keep, 0, &pmask), ==, NFN_OK);
  nfn_perm_apply (&perm, &mask, &moved_mask);
  g_assert_cmpuint (count_mismatches (&pmask, &moved_mask), <=, 2); /* at most a swap at the cut */

  for (gsize k = 0; k < G_N_ELEMENTS (all); k++)
    nfn_feature_free (all[k]);
  nfn_perm_free (&perm);
  nfn_model_free (model);
  gsl_rng_free (rng);
}

static void
test_nfn_mask_equivariant_np (void)
{
  check_mask_model (NFN_MODEL_NP);
}

static void
test_nfn_mask_equivariant_hnp (void)
{
  check_mask_model (NFN_MODEL_HNP);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ticket/prune-top-magnitudes", test_prune_top_magnitudes);
  g_test_add_func ("/ticket/layer-budget", test_layer_budget);
  g_test_add_func ("/ticket/random-mask", test_random_mask);
  g_test_add_func ("/ticket/mask-spread", test_mask_spread);
  g_test_add_func ("/ticket/mask-loss", test_mask_loss);
  g_test_add_func ("/ticket/masked-training", test_masked_training);
  g_test_add_func ("/ticket/batch-independence", test_batch_independence);
  g_test_add_func ("/ticket/nfn-mask-equivariant-np", test_nfn_mask_equivariant_np);
  g_test_add_func ("/ticket/nfn-mask-equivariant-hnp", test_nfn_mask_equivariant_hnp);
  return g_test_run ();
}
