/* test-perm.c — permutations: group laws, apply against an index formula, canonical form,
 * exact assignment against brute force, weight matching.
 *
 * Shape letters: B networks, C channels, L layers, n_i widths, f_i kernel positions.
 */
#include <math.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>

#include "nfn_perm.h"
#include "testutil.h"

/* ---- helpers ---- */

/* Dense widths n_0 … n_L, then kernels f_1 … f_L (NULL: all 1). */
static nfn_space
space_make (int L, const int *widths, const int *kernels)
{
  nfn_space s;
  g_assert_cmpint (nfn_space_init (&s, L, widths), ==, NFN_OK);
  if (kernels)
    for (int i = 1; i <= L; i++)
      s.f[i] = kernels[i - 1];
  g_assert_cmpint (nfn_space_check (&s), ==, NFN_OK);
  return s;
}

static nfn_space
space_mlp (void)
{
  return space_make (4, (int[]) { 5, 16, 12, 16, 3 }, NULL);
}

static nfn_space
space_siren (void)
{
  return space_make (3, (int[]) { 2, 32, 32, 1 }, NULL);
}

/* conv 3×3 (3→8), conv 3×3 (8→12), global pool, dense 12→10 */
static nfn_space
space_cnn (void)
{
  return space_make (3, (int[]) { 3, 8, 12, 10 }, (int[]) { 9, 9, 1 });
}

/* Bit-for-bit equality of every tensor (padding ignored). */
static int
features_identical (const nfn_feature *a, const nfn_feature *b)
{
  if (!nfn_feature_same_shape (a, b))
    return 0;
  for (int t = 0; t < nfn_tensor_count (&a->space); t++)
    if (memcmp (a->t[t], b->t[t], (size_t) a->B * a->C * nfn_tensor_entries (&a->space, t) * sizeof (float)))
      return 0;
  return 1;
}

static int
perms_equal (const nfn_perm *a, const nfn_perm *b)
{
  for (int i = 0; i <= a->space.L; i++)
    if (memcmp (a->p[i], b->p[i], (size_t) a->space.n[i] * sizeof (int)))
      return 0;
  return 1;
}

static int
is_permutation (const int *p, int n)
{
  g_autofree char *seen = g_malloc0 ((gsize) n);
  for (int j = 0; j < n; j++)
    {
      if (p[j] < 0 || p[j] >= n || seen[p[j]])
        return 0;
      seen[p[j]] = 1;
    }
  return 1;
}

/* out = σ·in into a freshly allocated feature. */
static void
feature_permuted (const nfn_perm *perm, const nfn_feature *in, nfn_feature *out)
{
  g_assert_cmpint (nfn_feature_alloc (out, &in->space, in->B, in->C), ==, NFN_OK);
  g_assert_cmpint (nfn_perm_apply (perm, in, out), ==, NFN_OK);
}

/* ---- the group ---- */

static void
check_group_laws (const nfn_space *s, nfn_symmetry sym)
{
  gsl_rng *rng = tu_rng ();
  nfn_feature w, once, back, twice, composed;
  g_assert_cmpint (nfn_feature_alloc (&w, s, 3, 2), ==, NFN_OK);
  tu_feature_normal (&w, rng);
  nfn_perm a, b, a_inv, ab, id;
  g_assert_cmpint (nfn_perm_alloc (&a, s), ==, NFN_OK);
  g_assert_cmpint (nfn_perm_alloc (&b, s), ==, NFN_OK);
  g_assert_cmpint (nfn_perm_alloc (&a_inv, s), ==, NFN_OK);
  g_assert_cmpint (nfn_perm_alloc (&ab, s), ==, NFN_OK);
  g_assert_cmpint (nfn_perm_alloc (&id, s), ==, NFN_OK);
  g_assert_true (nfn_perm_is_identity (&id));
  nfn_perm_random (&a, sym, rng);
  nfn_perm_random (&b, sym, rng);
  g_assert_false (nfn_perm_is_identity (&a));
  for (int i = 0; i <= s->L; i++)
    g_assert_true (is_permutation (a.p[i], s->n[i]));

  /* apply(σ⁻¹, apply(σ, W)) = W exactly */
  nfn_perm_inverse (&a, &a_inv);
  feature_permuted (&a, &w, &once);
  g_assert_false (features_identical (&once, &w));
  feature_permuted (&a_inv, &once, &back);
  g_assert_true (features_identical (&back, &w));

  /* apply(a∘b) = apply(a, apply(b)) */
  nfn_perm_compose (&a, &b, &ab);
  nfn_feature_free (&once);
  feature_permuted (&b, &w, &once);
  feature_permuted (&a, &once, &twice);
  feature_permuted (&ab, &w, &composed);
  g_assert_true (features_identical (&twice, &composed));

  /* σ⁻¹∘σ is the identity permutation, and the identity moves nothing */
  nfn_perm_compose (&a_inv, &a, &ab);
  g_assert_true (nfn_perm_is_identity (&ab));
  nfn_feature_free (&back);
  feature_permuted (&id, &w, &back);
  g_assert_true (features_identical (&back, &w));
  nfn_perm_identity (&a);
  g_assert_true (nfn_perm_is_identity (&a));

  nfn_feature_free (&w), nfn_feature_free (&once), nfn_feature_free (&back);
  nfn_feature_free (&twice), nfn_feature_free (&composed);
  nfn_perm_free (&a), nfn_perm_free (&b), nfn_perm_free (&a_inv), nfn_perm_free (&ab);
  nfn_perm_free (&id);
  gsl_rng_free (rng);
}

static void
test_group_laws (void)
{
  nfn_space mlp = space_mlp (), cnn = space_cnn ();
  check_group_laws (&mlp, NFN_SYM_HNP);
  check_group_laws (&mlp, NFN_SYM_NP);
  check_group_laws (&cnn, NFN_SYM_HNP);
  check_group_laws (&cnn, NFN_SYM_NP);
}

/* HNP never touches sets 0 and L; NP moves them (identity on 10 neurons: p = 1/10!). */
static void
test_random_sets (void)
{
  gsl_rng *rng = tu_rng ();
  nfn_space s = space_make (3, (int[]) { 10, 10, 10, 10 }, NULL);
  nfn_perm perm;
  g_assert_cmpint (nfn_perm_alloc (&perm, &s), ==, NFN_OK);
  for (int draw = 0; draw < 20; draw++)
    {
      nfn_perm_random (&perm, NFN_SYM_HNP, rng);
      for (int j = 0; j < 10; j++)
        {
          g_assert_cmpint (perm.p[0][j], ==, j);
          g_assert_cmpint (perm.p[3][j], ==, j);
        }
      int hidden_moved = 0;
      for (int j = 0; j < 10; j++)
        hidden_moved |= perm.p[1][j] != j;
      g_assert_true (hidden_moved);

      nfn_perm_random (&perm, NFN_SYM_NP, rng);
      int input_moved = 0, output_moved = 0;
      for (int j = 0; j < 10; j++)
        {
          input_moved |= perm.p[0][j] != j;
          output_moved |= perm.p[3][j] != j;
        }
      g_assert_true (input_moved && output_moved);
    }
  nfn_perm_free (&perm);

  /* uniform over the group: the 6 permutations of 3 neurons, 6000 draws, χ² with 5 dof against
   * its 1 - 10⁻⁶ quantile (a biased swap-with-any shuffle scores about 74) */
  s = space_make (2, (int[]) { 2, 3, 2 }, NULL);
  g_assert_cmpint (nfn_perm_alloc (&perm, &s), ==, NFN_OK);
  int counts[9] = { 0 };
  const int draws = 6000;
  for (int draw = 0; draw < draws; draw++)
    {
      nfn_perm_random (&perm, NFN_SYM_HNP, rng);
      counts[perm.p[1][0] * 3 + perm.p[1][1]]++;
    }
  double chi2 = 0;
  for (int a = 0; a < 3; a++)
    for (int b = 0; b < 3; b++)
      if (a != b)
        chi2 += pow (counts[a * 3 + b] - draws / 6.0, 2) / (draws / 6.0);
      else
        g_assert_cmpint (counts[a * 3 + b], ==, 0);
  g_test_message ("uniformity chi2 = %.2f (5 dof)", chi2);
  g_assert_cmpfloat (chi2, <, gsl_cdf_chisq_Qinv (1e-6, 5));
  nfn_perm_free (&perm);
  gsl_rng_free (rng);
}

/* Every entry checked against (σ·W)_i[b, σ_i(j), σ_{i-1}(k), c·f_i + q] = W_i[b, j, k, c·f_i + q]
 * written out as flat offsets, with distinct values so any misplaced entry shows. */
static void
test_apply_formula (void)
{
  gsl_rng *rng = tu_rng ();
  nfn_space s = space_make (2, (int[]) { 2, 3, 4 }, (int[]) { 4, 1 });
  const int B = 2, C = 3;
  nfn_feature w, out;
  g_assert_cmpint (nfn_feature_alloc (&w, &s, B, C), ==, NFN_OK);
  float value = 1;
  for (int t = 0; t < nfn_tensor_count (&s); t++)
    for (size_t e = 0; e < (size_t) B * C * nfn_tensor_entries (&s, t); e++)
      w.t[t][e] = value++;
  nfn_perm perm;
  g_assert_cmpint (nfn_perm_alloc (&perm, &s), ==, NFN_OK);
  nfn_perm_random (&perm, NFN_SYM_NP, rng);
  feature_permuted (&perm, &w, &out);

  int checked = 0;
  for (int i = 1; i <= s.L; i++)
    {
      const int rows = s.n[i], cols = s.n[i - 1], f = s.f[i];
      const float *w_in = w.t[nfn_tensor_weight (i)], *w_out = out.t[nfn_tensor_weight (i)];
      const float *b_in = w.t[nfn_tensor_bias (i)], *b_out = out.t[nfn_tensor_bias (i)];
      for (int b = 0; b < B; b++)
        for (int j = 0; j < rows; j++)
          {
            for (int k = 0; k < cols; k++)
              for (int c = 0; c < C; c++)
                for (int q = 0; q < f; q++)
                  {
                    int from = (((b * rows + j) * cols + k) * C + c) * f + q;
                    int to = (((b * rows + perm.p[i][j]) * cols + perm.p[i - 1][k]) * C + c) * f + q;
                    g_assert_cmpfloat (w_out[to], ==, w_in[from]);
                    checked++;
                  }
            for (int c = 0; c < C; c++)
              {
                g_assert_cmpfloat (b_out[(b * rows + perm.p[i][j]) * C + c], ==, b_in[(b * rows + j) * C + c]);
                checked++;
              }
          }
    }
  g_assert_cmpint (checked, ==, (int) (value - 1));
  nfn_feature_free (&w), nfn_feature_free (&out);
  nfn_perm_free (&perm);
  gsl_rng_free (rng);
}

/* ---- canonical form ---- */

/* canon(W) as a feature: its permutation applied to W. */
static void
feature_canonical (const nfn_feature *w, nfn_feature *canon)
{
  nfn_perm to_canonical;
  g_assert_cmpint (nfn_perm_alloc (&to_canonical, &w->space), ==, NFN_OK);
  g_assert_cmpint (nfn_perm_canonical (w, &to_canonical), ==, NFN_OK);
  for (int j = 0; j < w->space.n[0]; j++)
    g_assert_cmpint (to_canonical.p[0][j], ==, j);
  for (int j = 0; j < w->space.n[w->space.L]; j++)
    g_assert_cmpint (to_canonical.p[w->space.L][j], ==, j);
  feature_permuted (&to_canonical, w, canon);
  nfn_perm_free (&to_canonical);
}

/* The documented key holds on the canonical form: (norm², bias) never increases down a layer. */
static void
check_canonical_sorted (const nfn_feature *canon)
{
  const nfn_space *s = &canon->space;
  for (int i = 1; i < s->L; i++)
    {
      const int len = s->n[i - 1] * s->f[i];
      const float *w = canon->t[nfn_tensor_weight (i)], *bias = canon->t[nfn_tensor_bias (i)];
      double previous_norm2 = INFINITY, previous_bias = INFINITY;
      for (int j = 0; j < s->n[i]; j++)
        {
          double norm2 = (double) bias[j] * bias[j];
          for (int e = 0; e < len; e++)
            norm2 += (double) w[j * len + e] * w[j * len + e];
          g_assert_true (norm2 < previous_norm2 || (norm2 == previous_norm2 && bias[j] <= previous_bias));
          previous_norm2 = norm2, previous_bias = bias[j];
        }
    }
}

/* Ties the key must break: neurons 0 and 1 of every hidden layer share incoming row and bias
 * (only outgoing weights differ), neuron 2 has neuron 0's row negated (equal norm and bias). */
static void
plant_ties (nfn_feature *w)
{
  const nfn_space *s = &w->space;
  for (int i = 1; i < s->L; i++)
    {
      const int len = s->n[i - 1] * s->f[i];
      float *row = w->t[nfn_tensor_weight (i)], *bias = w->t[nfn_tensor_bias (i)];
      memcpy (row + len, row, (size_t) len * sizeof (float));
      for (int e = 0; e < len; e++)
        row[2 * len + e] = -row[e];
      bias[1] = bias[2] = bias[0];
    }
}

static void
check_canonical_invariant (const nfn_space *s, int with_ties)
{
  gsl_rng *rng = tu_rng ();
  nfn_feature w, moved, canon, canon_moved, canon_twice;
  g_assert_cmpint (nfn_feature_alloc (&w, s, 1, 1), ==, NFN_OK);
  nfn_perm sigma;
  g_assert_cmpint (nfn_perm_alloc (&sigma, s), ==, NFN_OK);
  for (int trial = 0; trial < 10; trial++)
    {
      tu_feature_normal (&w, rng);
      if (with_ties)
        plant_ties (&w);
      nfn_perm_random (&sigma, NFN_SYM_HNP, rng);
      feature_permuted (&sigma, &w, &moved);
      g_assert_false (features_identical (&moved, &w));
      feature_canonical (&w, &canon);
      feature_canonical (&moved, &canon_moved);
      g_assert_true (features_identical (&canon, &canon_moved));
      check_canonical_sorted (&canon);
      feature_canonical (&canon, &canon_twice); /* idempotent */
      g_assert_true (features_identical (&canon, &canon_twice));
      nfn_feature_free (&moved), nfn_feature_free (&canon), nfn_feature_free (&canon_moved);
      nfn_feature_free (&canon_twice);
    }
  nfn_feature_free (&w);
  nfn_perm_free (&sigma);
  gsl_rng_free (rng);
}

static void
test_canonical_mlp (void)
{
  nfn_space s = space_mlp ();
  check_canonical_invariant (&s, 0);
  check_canonical_invariant (&s, 1);
}

static void
test_canonical_cnn (void)
{
  nfn_space s = space_cnn ();
  check_canonical_invariant (&s, 0);
  check_canonical_invariant (&s, 1);
}

/* ---- linear assignment ---- */

/* Best Σ score[j, p[j]] over every permutation of n ≤ 8 (Heap's algorithm). */
static double
brute_force_assignment (int n, const double *score)
{
  int p[8], c[8] = { 0 };
  for (int j = 0; j < n; j++)
    p[j] = j;
  double best = -INFINITY;
  for (int j = 0;;)
    {
      double sum = 0;
      for (int r = 0; r < n; r++)
        sum += score[r * n + p[r]];
      best = fmax (best, sum);
      while (j < n && c[j] >= j)
        c[j++] = 0;
      if (j >= n)
        break;
      int swap_with = (j % 2 == 0) ? 0 : c[j];
      int tmp = p[swap_with];
      p[swap_with] = p[j], p[j] = tmp;
      c[j]++;
      j = 0;
    }
  return best;
}

static void
test_assignment_brute_force (void)
{
  gsl_rng *rng = tu_rng ();
  double score[49];
  int assign[7];
  for (int trial = 0; trial < 300; trial++)
    {
      int n = 1 + (int) gsl_rng_uniform_int (rng, 7);
      int kind = trial % 3;
      for (int e = 0; e < n * n; e++)
        score[e] = kind == 0 ? gsl_ran_gaussian (rng, 1.0)                       /* generic */
                   : kind == 1 ? (double) gsl_rng_uniform_int (rng, 5) - 2.0       /* many ties */
                               : -1.0 - 10.0 * gsl_rng_uniform (rng);              /* all negative */
      g_assert_cmpint (nfn_linear_assignment (n, score, assign), ==, NFN_OK);
      g_assert_true (is_permutation (assign, n));
      double sum = 0;
      for (int j = 0; j < n; j++)
        sum += score[j * n + assign[j]];
      double best = brute_force_assignment (n, score);
      g_assert_cmpfloat_with_epsilon (sum, best, 1e-9 * (1 + fabs (best)));
    }
  gsl_rng_free (rng);
}

/* score[j, j'] = u_j + v_j' - slack[j, j'] with slack 0 exactly on a hidden permutation π and
 * > 0 elsewhere: every other assignment loses Σ slack > 0, and row maxima point elsewhere. */
static void
test_assignment_planted (void)
{
  gsl_rng *rng = tu_rng ();
  const int n = 200;
  g_autofree double *score = g_new (double, n * n);
  g_autofree int *planted = g_new (int, n);
  g_autofree int *assign = g_new (int, n);
  double u[200], v[200];
  for (int j = 0; j < n; j++)
    {
      planted[j] = j;
      u[j] = gsl_ran_gaussian (rng, 100.0);
      v[j] = gsl_ran_gaussian (rng, 100.0);
    }
  gsl_ran_shuffle (rng, planted, (size_t) n, sizeof (int));
  int row_max_on_planted = 0;
  for (int j = 0; j < n; j++)
    {
      int argmax = 0;
      for (int k = 0; k < n; k++)
        {
          score[j * n + k] = u[j] + v[k] - (k == planted[j] ? 0.0 : 0.01 + gsl_rng_uniform (rng));
          if (score[j * n + k] > score[j * n + argmax])
            argmax = k;
        }
      row_max_on_planted += argmax == planted[j];
    }
  g_test_message ("rows whose maximum is the planted column: %d of %d", row_max_on_planted, n);
  g_assert_cmpint (row_max_on_planted, <, n / 2); /* greedy would not solve it */
  g_assert_cmpint (nfn_linear_assignment (n, score, assign), ==, NFN_OK);
  for (int j = 0; j < n; j++)
    g_assert_cmpint (assign[j], ==, planted[j]);
  gsl_rng_free (rng);
}

static void
test_assignment_malformed (void)
{
  double score[4] = { 1, NAN, 0, 2 };
  int assign[2];
  g_assert_cmpint (nfn_linear_assignment (2, score, assign), ==, NFN_ERR_NONFINITE);
  g_assert_cmpint (nfn_linear_assignment (-1, score, assign), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_linear_assignment (2, NULL, assign), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_linear_assignment (0, NULL, NULL), ==, NFN_OK);
}

/* ---- weight matching ---- */

/* No single swap of two neurons in one hidden layer raises <A, σ·B>: checked by applying each
 * swap to the weights, independently of the score matrices the search builds. */
static void
check_swap_optimal (const nfn_feature *a, const nfn_feature *b, nfn_perm *b_to_a)
{
  const nfn_space *s = &a->space;
  nfn_feature moved;
  feature_permuted (b_to_a, b, &moved);
  double found = tu_feature_dot (a, &moved);
  nfn_feature_free (&moved);
  for (int i = 1; i < s->L; i++)
    for (int x = 0; x < s->n[i]; x++)
      for (int y = x + 1; y < s->n[i]; y++)
        {
          int *p = b_to_a->p[i], tmp = p[x];
          p[x] = p[y], p[y] = tmp;
          feature_permuted (b_to_a, b, &moved);
          double swapped = tu_feature_dot (a, &moved);
          nfn_feature_free (&moved);
          p[y] = p[x], p[x] = tmp;
          g_assert_cmpfloat (swapped, <=, found + 1e-9 * fabs (found));
        }
}

static void
check_align_recovers (const nfn_space *s, const char *name)
{
  gsl_rng *rng = tu_rng ();
  nfn_feature a, b, aligned;
  g_assert_cmpint (nfn_feature_alloc (&a, s, 1, 1), ==, NFN_OK);
  nfn_perm sigma, sigma_inv, found;
  g_assert_cmpint (nfn_perm_alloc (&sigma, s), ==, NFN_OK);
  g_assert_cmpint (nfn_perm_alloc (&sigma_inv, s), ==, NFN_OK);
  g_assert_cmpint (nfn_perm_alloc (&found, s), ==, NFN_OK);
  for (int trial = 0; trial < 5; trial++)
    {
      tu_feature_normal (&a, rng);
      nfn_perm_random (&sigma, NFN_SYM_HNP, rng);
      nfn_perm_inverse (&sigma, &sigma_inv);
      feature_permuted (&sigma, &a, &b);
      g_assert_cmpfloat (nfn_weight_distance (&a, &b), >, 1.0);
      g_assert_cmpint (nfn_perm_align (&a, &b, 50, rng, &found), ==, NFN_OK);
      g_assert_true (perms_equal (&found, &sigma_inv));
      feature_permuted (&found, &b, &aligned);
      g_assert_cmpfloat (nfn_weight_distance (&a, &aligned), ==, 0.0);
      nfn_feature_free (&b), nfn_feature_free (&aligned);
    }

  /* two independent networks: matching brings B closer and ends at a swap-wise optimum */
  g_assert_cmpint (nfn_feature_alloc (&b, s, 1, 1), ==, NFN_OK);
  tu_feature_normal (&b, rng);
  double before = nfn_weight_distance (&a, &b);
  /* distance against ‖a‖² - 2<a,b> + ‖b‖², computed by other code */
  double expected = sqrt (tu_feature_dot (&a, &a) - 2 * tu_feature_dot (&a, &b) + tu_feature_dot (&b, &b));
  g_assert_cmpfloat_with_epsilon (before, expected, 1e-5 * expected);
  g_assert_cmpint (nfn_perm_align (&a, &b, 100, rng, &found), ==, NFN_OK);
  feature_permuted (&found, &b, &aligned);
  double after = nfn_weight_distance (&a, &aligned);
  g_test_message ("%s: distance of independent networks %.4f before alignment, %.4f after", name,
                  before, after);
  g_assert_cmpfloat (after, <, before);
  check_swap_optimal (&a, &b, &found);

  nfn_feature_free (&a), nfn_feature_free (&b), nfn_feature_free (&aligned);
  nfn_perm_free (&sigma), nfn_perm_free (&sigma_inv), nfn_perm_free (&found);
  gsl_rng_free (rng);
}

static void
test_align_mlp (void)
{
  nfn_space s = space_mlp ();
  check_align_recovers (&s, "mlp");
}

static void
test_align_siren (void)
{
  nfn_space s = space_siren ();
  check_align_recovers (&s, "siren");
}

static void
test_align_cnn (void)
{
  nfn_space s = space_cnn ();
  check_align_recovers (&s, "cnn");
}

/* ---- malformed input ---- */

static void
test_malformed (void)
{
  nfn_space s = space_mlp (), other = space_make (4, (int[]) { 5, 16, 13, 16, 3 }, NULL);
  nfn_space kernels = space_cnn (), dense = space_make (3, (int[]) { 3, 8, 12, 10 }, NULL);
  nfn_feature a, b, batch, conv, flat;
  g_assert_cmpint (nfn_feature_alloc (&a, &s, 1, 1), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&b, &other, 1, 1), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&batch, &s, 2, 1), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&conv, &kernels, 1, 1), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&flat, &dense, 1, 1), ==, NFN_OK);
  nfn_perm perm, perm_other;
  g_assert_cmpint (nfn_perm_alloc (&perm, &s), ==, NFN_OK);
  g_assert_cmpint (nfn_perm_alloc (&perm_other, &other), ==, NFN_OK);

  g_assert_cmpint (nfn_perm_apply (&perm, &b, &a), ==, NFN_ERR_SHAPE);
  g_assert_cmpint (nfn_perm_apply (&perm_other, &a, &a), ==, NFN_ERR_SHAPE);
  g_assert_cmpint (nfn_perm_apply (&perm, &a, &batch), ==, NFN_ERR_SHAPE);
  g_assert_cmpint (nfn_perm_apply (&perm, &a, &a), ==, NFN_ERR_ARG); /* aliasing */
  g_assert_cmpint (nfn_perm_canonical (&b, &perm), ==, NFN_ERR_SHAPE);
  g_assert_cmpint (nfn_perm_canonical (&batch, &perm), ==, NFN_ERR_SHAPE);
  g_assert_cmpint (nfn_perm_align (&a, &b, 10, NULL, &perm), ==, NFN_ERR_SHAPE);
  g_assert_cmpint (nfn_perm_align (&a, &a, 10, NULL, &perm_other), ==, NFN_ERR_SHAPE);
  g_assert_cmpint (nfn_perm_align (&a, &batch, 10, NULL, &perm), ==, NFN_ERR_SHAPE);
  g_assert_cmpint (nfn_perm_align (&conv, &flat, 10, NULL, &perm), ==, NFN_ERR_SHAPE); /* f differs */
  g_assert_cmpint (nfn_perm_align (&a, &a, 0, NULL, &perm), ==, NFN_ERR_ARG);
  g_assert_true (isnan (nfn_weight_distance (&a, &b)));
  a.t[0][3] = NAN;
  g_assert_cmpint (nfn_perm_canonical (&a, &perm), ==, NFN_ERR_NONFINITE);
  g_assert_cmpint (nfn_perm_align (&a, &a, 10, NULL, &perm), ==, NFN_ERR_NONFINITE);
  nfn_space bad = s;
  bad.n[2] = 0;
  nfn_perm never;
  g_assert_cmpint (nfn_perm_alloc (&never, &bad), ==, NFN_ERR_ARG);

  nfn_feature_free (&a), nfn_feature_free (&b), nfn_feature_free (&batch);
  nfn_feature_free (&conv), nfn_feature_free (&flat);
  nfn_perm_free (&perm), nfn_perm_free (&perm_other);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/perm/group-laws", test_group_laws);
  g_test_add_func ("/perm/random-sets", test_random_sets);
  g_test_add_func ("/perm/apply-formula", test_apply_formula);
  g_test_add_func ("/perm/canonical/mlp", test_canonical_mlp);
  g_test_add_func ("/perm/canonical/cnn", test_canonical_cnn);
  g_test_add_func ("/perm/assignment/brute-force", test_assignment_brute_force);
  g_test_add_func ("/perm/assignment/planted", test_assignment_planted);
  g_test_add_func ("/perm/assignment/malformed", test_assignment_malformed);
  g_test_add_func ("/perm/align/mlp", test_align_mlp);
  g_test_add_func ("/perm/align/siren", test_align_siren);
  g_test_add_func ("/perm/align/cnn", test_align_cnn);
  g_test_add_func ("/perm/malformed", test_malformed);
  return g_test_run ();
}
