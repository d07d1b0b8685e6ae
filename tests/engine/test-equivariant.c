/* test-equivariant.c — the NP/HNP equivariant linear layer, checked against independent
 * computations: the paper's parameter count, a slow reference built term by term from the
 * enumeration, equivariance under random coupled permutations, failure under uncoupled ones,
 * completeness (rank of the layer's maps = orbits of index pairs, counted by brute force),
 * the init range, finite-difference gradients and accumulation into gradients.
 *
 * Shape letters as in nfn_core.h; D is the number of scalars of one C = 1 network.
 */
#include <glib.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nfn_equivariant.h"
#include "nfn_perm.h"
#include "testutil.h"

typedef struct {
  const char *name;
  int L;
  int n[NFN_MAX_LAYERS + 1];
  int f[NFN_MAX_LAYERS + 1]; /* f[0] unused */
} test_space;

/* MLPs with widths 2–5, different per set, and CNNs: conv layers (f = 9, 4), then the dense
 * tail (f = 1) after the global pool; one single-layer space for the no-hidden-set edge. */
static const test_space test_spaces[] = {
  { "mlp L=2", 2, { 3, 5, 2 }, { 1, 1, 1 } },
  { "mlp L=3", 3, { 2, 4, 3, 5 }, { 1, 1, 1, 1 } },
  { "mlp L=4", 4, { 5, 3, 4, 2, 3 }, { 1, 1, 1, 1, 1 } },
  { "mlp L=5", 5, { 3, 2, 5, 4, 3, 2 }, { 1, 1, 1, 1, 1, 1 } },
  { "cnn L=3", 3, { 1, 4, 3, 5 }, { 1, 9, 4, 1 } },
  { "cnn L=4", 4, { 3, 2, 4, 5, 2 }, { 1, 9, 9, 1, 1 } },
  { "one layer", 1, { 4, 3 }, { 1, 4 } },
};

static void
space_from (nfn_space *s, const test_space *ts)
{
  g_assert_cmpint (nfn_space_init (s, ts->L, ts->n), ==, NFN_OK);
  for (int i = 1; i <= ts->L; i++)
    s->f[i] = ts->f[i];
  g_assert_cmpint (nfn_space_check (s), ==, NFN_OK);
}

/* ---- One layer with its buffers ---- */

typedef struct {
  nfn_eq_plan plan;
  float *params;  /* (n_params) */
  float *scratch; /* (nfn_eq_scratch_size) */
  size_t scratch_size;
  nfn_feature in, out; /* (B, C_in), (B, C_out) */
  nfn_feature r;       /* (B, C_out): the loss is <r, layer(in)> */
} eq_case;

static eq_case *
eq_case_new (const nfn_space *s, nfn_symmetry sym, int cin, int cout, int B, gsl_rng *rng)
{
  eq_case *c = g_new0 (eq_case, 1);
  g_assert_cmpint (nfn_eq_plan_init (&c->plan, s, sym, cin, cout), ==, NFN_OK);
  c->params = g_new0 (float, nfn_eq_param_count (&c->plan));
  nfn_eq_init_params (&c->plan, c->params, rng);
  c->scratch_size = nfn_eq_scratch_size (&c->plan, B);
  c->scratch = g_new0 (float, c->scratch_size);
  g_assert_cmpint (nfn_feature_alloc (&c->in, s, B, cin), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&c->out, s, B, cout), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&c->r, s, B, cout), ==, NFN_OK);
  tu_feature_normal (&c->in, rng);
  tu_feature_normal (&c->r, rng);
  return c;
}

static void
eq_case_free (eq_case *c)
{
  g_free (c->params);
  g_free (c->scratch);
  nfn_feature_free (&c->in);
  nfn_feature_free (&c->out);
  nfn_feature_free (&c->r);
  g_free (c);
}

/* Every entry of a feature's tensors set to NaN: whatever a layer fails to write shows. */
static void
poison_feature (nfn_feature *feat)
{
  for (int t = 0; t < nfn_tensor_count (&feat->space); t++)
    for (size_t e = 0; e < (size_t) feat->B * feat->C * nfn_tensor_entries (&feat->space, t); e++)
      feat->t[t][e] = NAN;
}

/* Forward with scratch and output poisoned first, so stale or unwritten memory cannot hide. */
static void
eq_case_forward (eq_case *c, const nfn_feature *in, nfn_feature *out)
{
  for (size_t e = 0; e < c->scratch_size; e++)
    c->scratch[e] = NAN;
  poison_feature (out);
  g_assert_cmpint (nfn_eq_forward (&c->plan, c->params, in, out, c->scratch), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_check_finite (out), ==, NFN_OK);
}

static void
eq_case_backward (eq_case *c, const nfn_feature *dout, nfn_feature *din, float *dparams)
{
  for (size_t e = 0; e < c->scratch_size; e++)
    c->scratch[e] = NAN;
  g_assert_cmpint (nfn_eq_backward (&c->plan, c->params, &c->in, dout, din, dparams, c->scratch), ==, NFN_OK);
}

static double
rel_diff (const nfn_feature *a, const nfn_feature *b)
{
  return nfn_feature_max_abs_diff (a, b) / nfn_feature_max_abs (b);
}

/* A check of one layer; returns the quantity it bounds (an error), for the summary line. */
typedef double (*case_check) (eq_case *c, const char *label, gsl_rng *rng);

/* Runs `check` on a fresh layer for every test space under both symmetries; returns the
 * largest value it returned. */
static double
for_each_case (case_check check, int cin, int cout, int B)
{
  gsl_rng *rng = tu_rng ();
  double worst = 0;
  for (size_t k = 0; k < G_N_ELEMENTS (test_spaces); k++)
    for (int sym = NFN_SYM_NP; sym <= NFN_SYM_HNP; sym++)
      {
        nfn_space s;
        space_from (&s, &test_spaces[k]);
        eq_case *c = eq_case_new (&s, sym, cin, cout, B, rng);
        g_autofree char *label = g_strdup_printf ("%s %s", test_spaces[k].name, nfn_symmetry_name (sym));
        worst = fmax (worst, check (c, label, rng));
        eq_case_free (c);
      }
  gsl_rng_free (rng);
  return worst;
}

/* ---- NP parameter count (the paper's formula) ---- */

static void
test_np_param_count (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (g_test_rand_int ());
  const int channels[][2] = { { 1, 1 }, { 2, 3 }, { 5, 2 } };
  for (int L = 1; L <= 5; L++)
    for (size_t k = 0; k < G_N_ELEMENTS (channels); k++)
      {
        int widths[6], cin = channels[k][0], cout = channels[k][1];
        for (int i = 0; i <= L; i++)
          widths[i] = g_rand_int_range (rand, 2, 6);
        nfn_space s;
        g_assert_cmpint (nfn_space_init (&s, L, widths), ==, NFN_OK);
        nfn_eq_plan *plan = g_new0 (nfn_eq_plan, 1);
        g_assert_cmpint (nfn_eq_plan_init (plan, &s, NFN_SYM_NP, cin, cout), ==, NFN_OK);
        size_t weights = (size_t) (4 * L * L + 10 * L - 4) * cin * cout;
        g_assert_cmpuint (plan->n_weight_params, ==, weights);
        g_assert_cmpuint (nfn_eq_param_count (plan), ==, weights + (size_t) 6 * L * cout);
        g_free (plan);
      }
}

/* ---- Init range: U(±1/√F), F = Σ_U 2^{|shared sets|}·C_in·fold_U, counted here by hand ---- */

static void
test_init_range (void)
{
  gsl_rng *rng = tu_rng ();
  int L = 4, widths[] = { 3, 4, 5, 4, 2 }, cin = 8, cout = 8;
  nfn_space s;
  g_assert_cmpint (nfn_space_init (&s, L, widths), ==, NFN_OK);
  nfn_eq_plan *plan = g_new0 (nfn_eq_plan, 1);
  g_assert_cmpint (nfn_eq_plan_init (plan, &s, NFN_SYM_NP, cin, cout), ==, NFN_OK);
  float *params = g_new0 (float, nfn_eq_param_count (plan));
  nfn_eq_init_params (plan, params, rng);

  /* per output tensor, its parameters are one contiguous block: full class first, const last */
  size_t previous_end = 0;
  for (int t = 0; t < nfn_tensor_count (&s); t++)
    {
      int i = nfn_tensor_layer (t);
      /* NP, MLP: every tensor pair counts 1, plus 1 per extra subset of shared sets */
      int terms = nfn_tensor_is_bias (t)
                    ? 2 * L + 2 + (i < L)
                    : 2 * L + 3 + 1 + (i >= 2 ? 2 : 0) + (i <= L - 1 ? 1 : 0);
      double bound = 1.0 / sqrt ((double) terms * cin);
      const nfn_eq_output *o = &plan->out[t];
      size_t start = o->class_weight_offset[nfn_tensor_is_bias (t) ? 1 : 3];
      size_t end = o->class_bias_offset[0] + (size_t) cout;
      g_assert_cmpuint (start, ==, previous_end);
      double biggest = 0;
      for (size_t e = start; e < end; e++)
        biggest = fmax (biggest, fabs (params[e]));
      g_test_message ("tensor %d: %zu params, max |w| %.4f, bound %.4f", t, end - start, biggest, bound);
      g_assert_cmpfloat (biggest, <=, bound);
      /* one term more or less in F moves the bound by ≥ 3 %; ~1000 draws reach 0.98 of it */
      g_assert_cmpfloat (biggest, >, 0.98 * bound);
      previous_end = end;
    }
  g_assert_cmpuint (previous_end, ==, nfn_eq_param_count (plan));
  g_free (params);
  g_free (plan);
  gsl_rng_free (rng);
}

/* ---- Reference forward: every term of the enumeration evaluated on its own, in double ---- */

/* Folded element (b, index along axis 0, index along axis 1, channel) of tensor t, as a
 * pointer into the stored layout. HNP's W_L is folded (B, n_{L-1}, n_L·C·f_L) from its stored
 * (B, n_L, n_{L-1}, C·f_L), channel r·C·f_L + (c·f_L + p). */
static const float *
folded_at (const nfn_feature *feat, const nfn_tensor_view *v, int t, int b, int a0, int a1, int ch)
{
  const nfn_space *s = &feat->space;
  int C = feat->C, width = C * v->fold;
  if (v->transposed)
    {
      int i = nfn_tensor_layer (t), run = C * s->f[i], r = ch / run;
      return feat->t[t] + (((size_t) b * s->n[i] + r) * s->n[i - 1] + a0) * run + ch % run;
    }
  return feat->t[t] + (((size_t) b * v->size[0] + a0) * v->size[1] + a1) * width + ch;
}

/* Mean of input tensor u's channel ch over its axes not pinned (pin[a] >= 0 pins axis a). */
static double
pooled_mean (const nfn_feature *in, const nfn_tensor_view *v, int u, int b, const int pin[2], int ch)
{
  double sum = 0;
  int count = 0;
  for (int a0 = 0; a0 < v->size[0]; a0++)
    for (int a1 = 0; a1 < v->size[1]; a1++)
      if ((pin[0] < 0 || a0 == pin[0]) && (pin[1] < 0 || a1 == pin[1]))
        {
          sum += *folded_at (in, v, u, b, a0, a1, ch);
          count++;
        }
  return sum / count;
}

static void
reference_forward (const nfn_eq_plan *plan, const float *params, const nfn_feature *in, nfn_feature *out)
{
  for (int t = 0; t < nfn_tensor_count (&plan->space); t++)
    {
      const nfn_tensor_view *vt = &plan->views[t];
      const nfn_eq_output *o = &plan->out[t];
      int ot = plan->cout * vt->fold;
      for (int b = 0; b < in->B; b++)
        for (int j0 = 0; j0 < vt->size[0]; j0++)
          for (int j1 = 0; j1 < vt->size[1]; j1++)
            for (int oc = 0; oc < ot; oc++)
              {
                int idx[2] = { j0, j1 };
                double y = 0;
                for (int cls = 0; cls < 4; cls++)
                  if (o->class_present[cls])
                    y += params[o->class_bias_offset[cls] + oc];
                for (int e = 0; e < o->n_terms; e++)
                  {
                    const nfn_eq_term *term = &o->terms[e];
                    const nfn_tensor_view *vu = &plan->views[term->in_tensor];
                    int pin[2] = { -1, -1 };
                    for (int a = 0; a < vt->n_axes; a++)
                      if (term->keep >> a & 1)
                        pin[term->in_axis[a]] = idx[a];
                    const float *m = params + o->class_weight_offset[term->keep];
                    for (int ic = 0; ic < plan->cin * vu->fold; ic++)
                      y += m[(size_t) (term->in_rows + ic) * ot + oc]
                           * pooled_mean (in, vu, term->in_tensor, b, pin, ic);
                  }
                *(float *) folded_at (out, vt, t, b, j0, j1, oc) = (float) y;
              }
    }
}

static double
check_reference_forward (eq_case *c, const char *label, gsl_rng *rng)
{
  /* parameters of one scale, so a term the executor drops or misplaces cannot hide */
  tu_fill_uniform (c->params, nfn_eq_param_count (&c->plan), -1, 1, rng);
  nfn_feature ref;
  g_assert_cmpint (nfn_feature_alloc (&ref, &c->out.space, c->out.B, c->out.C), ==, NFN_OK);
  poison_feature (&ref);
  reference_forward (&c->plan, c->params, &c->in, &ref);
  g_assert_cmpint (nfn_feature_check_finite (&ref), ==, NFN_OK);
  eq_case_forward (c, &c->in, &c->out);
  double err = rel_diff (&c->out, &ref);
  g_test_message ("%s: forward vs reference, relative error %.3g", label, err);
  g_assert_cmpfloat (err, <, 1e-5);
  nfn_feature_free (&ref);
  return err;
}

static void
test_reference_forward (void)
{
  g_test_message ("worst relative error vs reference: %.3g", for_each_case (check_reference_forward, 2, 3, 2));
}

/* ---- Equivariance, and its failure under uncoupled permutations ---- */

/* out = σ·in; with only_tensor >= 0 the permutation acts on that one tensor only (the
 * others are copied unchanged): an uncoupled action whenever another tensor shares a set. */
static void
apply_action (const nfn_perm *perm, int only_tensor, const nfn_feature *in, nfn_feature *out)
{
  g_assert_cmpint (nfn_perm_apply (perm, in, out), ==, NFN_OK);
  if (only_tensor < 0)
    return;
  for (int t = 0; t < nfn_tensor_count (&in->space); t++)
    if (t != only_tensor)
      memcpy (out->t[t], in->t[t], (size_t) in->B * in->C * nfn_tensor_entries (&in->space, t) * sizeof (float));
}

/* max |layer(σ·U) − σ·layer(U)| / max |σ·layer(U)| */
static double
commutation_error (eq_case *c, const nfn_perm *perm, int only_tensor)
{
  const nfn_space *s = &c->in.space;
  nfn_feature moved_in, out_of_moved, moved_out;
  g_assert_cmpint (nfn_feature_alloc (&moved_in, s, c->in.B, c->in.C), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&out_of_moved, s, c->out.B, c->out.C), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&moved_out, s, c->out.B, c->out.C), ==, NFN_OK);
  apply_action (perm, only_tensor, &c->in, &moved_in);
  eq_case_forward (c, &moved_in, &out_of_moved);
  eq_case_forward (c, &c->in, &c->out);
  apply_action (perm, only_tensor, &c->out, &moved_out);
  double err = rel_diff (&out_of_moved, &moved_out);
  nfn_feature_free (&moved_in);
  nfn_feature_free (&out_of_moved);
  nfn_feature_free (&moved_out);
  return err;
}

static double
check_equivariance (eq_case *c, const char *label, gsl_rng *rng)
{
  nfn_perm perm;
  g_assert_cmpint (nfn_perm_alloc (&perm, &c->in.space), ==, NFN_OK);
  double worst = 0;
  for (int trial = 0; trial < 3; trial++)
    {
      nfn_perm_random (&perm, c->plan.sym, rng);
      double err = commutation_error (c, &perm, -1);
      g_assert_cmpfloat (err, <, 1e-5);
      worst = fmax (worst, err);
    }
  g_test_message ("%s: equivariance error %.3g", label, worst);
  nfn_perm_free (&perm);
  return worst;
}

static void
test_equivariance (void)
{
  g_test_message ("worst equivariance error: %.3g", for_each_case (check_equivariance, 3, 2, 3));
}

/* A uniformly random permutation of n ≥ 2 elements other than the identity. */
static void
shuffle_not_identity (int *p, int n, gsl_rng *rng)
{
  int identity;
  do
    {
      gsl_ran_shuffle (rng, p, (size_t) n, sizeof (int));
      identity = 1;
      for (int j = 0; j < n; j++)
        identity &= p[j] == j;
    }
  while (identity);
}

/* Tensors with an axis on neuron set `set` (raw axes: W_i rows are set i, columns set i−1). */
static int
tensors_on_set (const nfn_space *s, int set, int tensors[3])
{
  int count = 0;
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      int i = nfn_tensor_layer (t);
      if (i == set || (!nfn_tensor_is_bias (t) && i - 1 == set))
        tensors[count++] = t;
    }
  return count;
}

static void
test_uncoupled_breaks (void)
{
  gsl_rng *rng = tu_rng ();
  const test_space spaces[] = {
    { "mlp L=3", 3, { 3, 4, 5, 2 }, { 1, 1, 1, 1 } },
    { "cnn L=3", 3, { 2, 4, 3, 3 }, { 1, 9, 4, 1 } },
  };
  double weakest = INFINITY;
  for (size_t k = 0; k < G_N_ELEMENTS (spaces); k++)
    for (int sym = NFN_SYM_NP; sym <= NFN_SYM_HNP; sym++)
      {
        nfn_space s;
        space_from (&s, &spaces[k]);
        eq_case *c = eq_case_new (&s, sym, 2, 2, 2, rng);
        nfn_perm perm;
        g_assert_cmpint (nfn_perm_alloc (&perm, &s), ==, NFN_OK);
        for (int set = 0; set <= s.L; set++)
          {
            int tensors[3], count = tensors_on_set (&s, set, tensors);
            if (!nfn_symmetry_permutes (&s, sym, set) || count < 2)
              continue; /* NP's set 0 lies in W_1 only: there is no coupling to break */
            for (int e = 0; e < count; e++)
              {
                nfn_perm_identity (&perm);
                shuffle_not_identity (perm.p[set], s.n[set], rng);
                double err = commutation_error (c, &perm, tensors[e]);
                g_test_message ("%s %s: set %d moved in tensor %d only: error %.3g", spaces[k].name,
                                nfn_symmetry_name (sym), set, tensors[e], err);
                g_assert_cmpfloat (err, >, 1e-2);
                weakest = fmin (weakest, err);
              }
          }
        if (sym == NFN_SYM_HNP) /* HNP uses what NP forbids: its layer is not NP-equivariant */
          for (int set = 0; set <= s.L; set += s.L)
            {
              nfn_perm_random (&perm, sym, rng);
              shuffle_not_identity (perm.p[set], s.n[set], rng);
              double err = commutation_error (c, &perm, -1);
              g_test_message ("%s hnp: fixed set %d permuted (coupled): error %.3g", spaces[k].name, set, err);
              g_assert_cmpfloat (err, >, 1e-2);
              weakest = fmin (weakest, err);
            }
        nfn_perm_free (&perm);
        eq_case_free (c);
      }
  g_test_message ("smallest error under a forbidden permutation: %.3g", weakest);
  gsl_rng_free (rng);
}

/* ---- Completeness: rank of the layer's maps = number of orbits of index pairs ---- */

/* Scalar q of a C = 1 network, decoded: tensor t, row j, column k, filter position p. */
typedef struct {
  int t, j, k, p;
} scalar_index;

static int
scalar_encode (const nfn_space *s, const int base[], int t, int j, int k, int p)
{
  int i = nfn_tensor_layer (t);
  if (nfn_tensor_is_bias (t))
    return base[t] + j;
  return base[t] + (j * s->n[i - 1] + k) * s->f[i] + p;
}

static int
find_root (int *parent, int x)
{
  while (parent[x] != x)
    x = parent[x] = parent[parent[x]];
  return x;
}

/* All n! permutations of 0..n-1, each n ints, in `out` (Heap's algorithm). Returns the count. */
static int
all_permutations (int n, int *out)
{
  int p[8], c[8] = { 0 }, count = 0;
  for (int j = 0; j < n; j++)
    p[j] = j;
  memcpy (out + (size_t) n * count++, p, (size_t) n * sizeof (int));
  for (int i = 1; i < n;)
    if (c[i] < i)
      {
        int swap = i % 2 == 0 ? 0 : c[i], tmp = p[swap];
        p[swap] = p[i];
        p[i] = tmp;
        memcpy (out + (size_t) n * count++, p, (size_t) n * sizeof (int));
        c[i]++;
        i = 1;
      }
    else
      c[i++] = 0;
  return count;
}

/* Orbits of (output scalar, input scalar) pairs under every element of the group of `sym`. */
static int
count_pair_orbits (const nfn_space *s, nfn_symmetry sym, int D, const scalar_index *scalars, const int base[])
{
  int *perms[NFN_MAX_LAYERS + 1], n_perms[NFN_MAX_LAYERS + 1], digit[NFN_MAX_LAYERS + 1] = { 0 };
  for (int set = 0; set <= s->L; set++)
    {
      g_assert_cmpint (s->n[set], <=, 6);
      perms[set] = g_new (int, 720 * s->n[set]);
      if (nfn_symmetry_permutes (s, sym, set))
        n_perms[set] = all_permutations (s->n[set], perms[set]);
      else /* a fixed set: the identity only */
        {
          n_perms[set] = 1;
          for (int j = 0; j < s->n[set]; j++)
            perms[set][j] = j;
        }
    }
  int *parent = g_new (int, D * D), *image = g_new (int, D);
  for (int x = 0; x < D * D; x++)
    parent[x] = x;
  for (;;)
    {
      const int *g[NFN_MAX_LAYERS + 1];
      for (int set = 0; set <= s->L; set++)
        g[set] = perms[set] + (size_t) digit[set] * s->n[set];
      for (int q = 0; q < D; q++)
        {
          const scalar_index *x = &scalars[q];
          int i = nfn_tensor_layer (x->t);
          image[q] = nfn_tensor_is_bias (x->t) ? scalar_encode (s, base, x->t, g[i][x->j], 0, 0)
                                               : scalar_encode (s, base, x->t, g[i][x->j], g[i - 1][x->k], x->p);
        }
      for (int o = 0; o < D; o++)
        for (int q = 0; q < D; q++)
          {
            int a = find_root (parent, o * D + q), b = find_root (parent, image[o] * D + image[q]);
            parent[a] = b;
          }
      int set = 0; /* next group element: mixed-radix counter over the sets */
      while (set <= s->L && ++digit[set] == n_perms[set])
        digit[set++] = 0;
      if (set > s->L)
        break;
    }
  int orbits = 0;
  for (int x = 0; x < D * D; x++)
    orbits += find_root (parent, x) == x;
  for (int set = 0; set <= s->L; set++)
    g_free (perms[set]);
  g_free (parent);
  g_free (image);
  return orbits;
}

/* Rank of a rows × cols matrix (row-major, destroyed) by Gaussian elimination with full
 * pivoting; *smallest_pivot gets the last pivot accepted, to show the margin. */
static int
matrix_rank (double *m, int rows, int cols, double *smallest_pivot)
{
  double scale = 0;
  for (size_t e = 0; e < (size_t) rows * cols; e++)
    scale = fmax (scale, fabs (m[e]));
  int rank = 0;
  *smallest_pivot = INFINITY;
  while (rank < rows)
    {
      int pr = -1, pc = -1;
      double best = 0;
      for (int r = rank; r < rows; r++)
        for (int c = 0; c < cols; c++)
          if (fabs (m[(size_t) r * cols + c]) > best)
            {
              best = fabs (m[(size_t) r * cols + c]);
              pr = r;
              pc = c;
            }
      if (best <= 1e-9 * scale)
        break;
      *smallest_pivot = fmin (*smallest_pivot, best / scale);
      for (int c = 0; c < cols; c++)
        {
          double tmp = m[(size_t) rank * cols + c];
          m[(size_t) rank * cols + c] = m[(size_t) pr * cols + c];
          m[(size_t) pr * cols + c] = tmp;
        }
      for (int r = rank + 1; r < rows; r++)
        {
          double factor = m[(size_t) r * cols + pc] / m[(size_t) rank * cols + pc];
          if (factor != 0)
            for (int c = 0; c < cols; c++)
              m[(size_t) r * cols + c] -= factor * m[(size_t) rank * cols + c];
        }
      rank++;
    }
  return rank;
}

static void
check_completeness (const test_space *ts, nfn_symmetry sym, gsl_rng *rng)
{
  nfn_space s;
  space_from (&s, ts);
  int D = (int) nfn_space_param_count (&s), base[NFN_MAX_TENSORS];
  scalar_index *scalars = g_new (scalar_index, D);
  int q = 0;
  for (int t = 0; t < nfn_tensor_count (&s); t++)
    {
      int i = nfn_tensor_layer (t);
      base[t] = q;
      if (nfn_tensor_is_bias (t))
        for (int j = 0; j < s.n[i]; j++)
          scalars[q++] = (scalar_index) { t, j, 0, 0 };
      else
        for (int j = 0; j < s.n[i]; j++)
          for (int k = 0; k < s.n[i - 1]; k++)
            for (int p = 0; p < s.f[i]; p++)
              scalars[q++] = (scalar_index) { t, j, k, p };
    }
  g_assert_cmpint (q, ==, D);

  /* the batch holds every basis input: network b is the b-th unit vector */
  eq_case *c = eq_case_new (&s, sym, 1, 1, D, rng);
  memset (c->in.data, 0, c->in.size * sizeof (float));
  for (int b = 0; b < D; b++)
    c->in.t[scalars[b].t][(size_t) b * nfn_tensor_entries (&s, scalars[b].t) + (b - base[scalars[b].t])] = 1;

  /* one row per weight parameter: its map, (output scalar, input scalar) flattened */
  size_t n_params = nfn_eq_param_count (&c->plan);
  int rows = (int) c->plan.n_weight_params, row = 0;
  double *maps = g_new0 (double, (size_t) rows * D * D);
  for (int t = 0; t < nfn_tensor_count (&s); t++)
    {
      const nfn_eq_output *o = &c->plan.out[t];
      for (int cls = 0; cls < 4; cls++)
        if (o->class_present[cls])
          for (size_t e = 0; e < (size_t) o->class_rows[cls] * c->plan.views[t].fold; e++)
            {
              memset (c->params, 0, n_params * sizeof (float));
              c->params[o->class_weight_offset[cls] + e] = 1;
              eq_case_forward (c, &c->in, &c->out);
              for (int b = 0; b < D; b++)
                for (int out = 0; out < D; out++)
                  {
                    int ot = scalars[out].t;
                    maps[((size_t) row * D + out) * D + b]
                      = c->out.t[ot][(size_t) b * nfn_tensor_entries (&s, ot) + (out - base[ot])];
                  }
              row++;
            }
    }
  g_assert_cmpint (row, ==, rows);
  double pivot;
  int rank = matrix_rank (maps, rows, D * D, &pivot);
  int orbits = count_pair_orbits (&s, sym, D, scalars, base);
  g_test_message ("%s %s: D = %d, weight parameters %d, rank %d (smallest pivot %.3g), orbits %d", ts->name,
                  nfn_symmetry_name (sym), D, rows, rank, pivot, orbits);
  g_assert_cmpint (rank, ==, rows);
  g_assert_cmpint (rows, ==, orbits);
  g_free (maps);
  g_free (scalars);
  eq_case_free (c);
}

static void
test_completeness (void)
{
  gsl_rng *rng = tu_rng ();
  const test_space spaces[] = {
    { "L=2", 2, { 2, 3, 2 }, { 1, 1, 1 } },
    { "L=2 (3,2,3)", 2, { 3, 2, 3 }, { 1, 1, 1 } },
    { "L=3", 3, { 2, 3, 3, 2 }, { 1, 1, 1, 1 } },
    { "L=2 conv f=2", 2, { 2, 3, 2 }, { 1, 2, 1 } },
    { "L=1", 1, { 2, 3 }, { 1, 1 } },
  };
  for (size_t k = 0; k < G_N_ELEMENTS (spaces); k++)
    for (int sym = NFN_SYM_NP; sym <= NFN_SYM_HNP; sym++)
      check_completeness (&spaces[k], sym, rng);
  gsl_rng_free (rng);
}

/* ---- Gradients ---- */

static double
eq_loss (void *ctx)
{
  eq_case *c = ctx;
  g_assert_cmpint (nfn_eq_forward (&c->plan, c->params, &c->in, &c->out, c->scratch), ==, NFN_OK);
  return tu_feature_dot (&c->r, &c->out);
}

static double
check_gradients (eq_case *c, const char *label, gsl_rng *rng)
{
  size_t n_params = nfn_eq_param_count (&c->plan);
  nfn_feature din;
  g_assert_cmpint (nfn_feature_alloc (&din, &c->in.space, c->in.B, c->in.C), ==, NFN_OK);
  float *dparams = g_new0 (float, n_params);
  eq_case_backward (c, &c->r, &din, dparams);
  /* the loss is linear in both, so a large step has no truncation error, only rounding */
  double err_in = tu_grad_check (eq_loss, c, c->in.data, din.data, c->in.size, 300, 2.0, 1e-2, rng);
  double err_params = tu_grad_check (eq_loss, c, c->params, dparams, n_params, 300, 2.0, 1e-2, rng);
  g_test_message ("%s: gradient error input %.3g, params %.3g", label, err_in, err_params);
  g_assert_cmpfloat (err_in, <, 1e-3);
  g_assert_cmpfloat (err_params, <, 1e-3);
  g_free (dparams);
  nfn_feature_free (&din);
  return fmax (err_in, err_params);
}

static void
test_gradients (void)
{
  g_test_message ("worst gradient error: %.3g", for_each_case (check_gradients, 2, 3, 2));
}

/* Backward adds into what the gradients hold; NULL skips one without changing the other. */
static double
check_accumulation (eq_case *c, const char *label, gsl_rng *rng)
{
  const nfn_space *s = &c->in.space;
  int B = c->in.B, cin = c->in.C;
  size_t n_params = nfn_eq_param_count (&c->plan);
  nfn_feature din_fresh, din_start, din;
  g_assert_cmpint (nfn_feature_alloc (&din_fresh, s, B, cin), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&din_start, s, B, cin), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&din, s, B, cin), ==, NFN_OK);
  float *dp_fresh = g_new0 (float, n_params), *dp_start = g_new (float, n_params);
  float *dp = g_new (float, n_params);
  eq_case_backward (c, &c->r, &din_fresh, dp_fresh);

  tu_feature_normal (&din_start, rng);
  tu_fill_normal (dp_start, n_params, 1.0, rng);
  memcpy (din.data, din_start.data, din.size * sizeof (float));
  memcpy (dp, dp_start, n_params * sizeof (float));
  eq_case_backward (c, &c->r, &din, dp);
  double worst = 0;
  for (size_t e = 0; e < din.size; e++)
    worst = fmax (worst, fabs (din.data[e] - (din_start.data[e] + din_fresh.data[e])));
  for (size_t e = 0; e < n_params; e++)
    worst = fmax (worst, fabs (dp[e] - (dp_start[e] + dp_fresh[e])));
  g_test_message ("%s: accumulated minus (start + fresh): %.3g", label, worst);
  g_assert_cmpfloat (worst, <, 1e-4);

  /* each gradient alone equals its share of the full call */
  memset (din.data, 0, din.size * sizeof (float));
  eq_case_backward (c, &c->r, &din, NULL);
  g_assert_cmpfloat (nfn_feature_max_abs_diff (&din, &din_fresh), <=, 1e-6 * nfn_feature_max_abs (&din_fresh));
  memset (dp, 0, n_params * sizeof (float));
  eq_case_backward (c, &c->r, NULL, dp);
  for (size_t e = 0; e < n_params; e++)
    g_assert_cmpfloat (fabs (dp[e] - dp_fresh[e]), <=, 1e-5 * (1 + fabs (dp_fresh[e])));

  g_free (dp_fresh);
  g_free (dp_start);
  g_free (dp);
  nfn_feature_free (&din_fresh);
  nfn_feature_free (&din_start);
  nfn_feature_free (&din);
  return worst;
}

static void
test_accumulation (void)
{
  g_test_message ("worst accumulation error: %.3g", for_each_case (check_accumulation, 2, 3, 2));
}

/* Wrong shapes and aliased buffers are refused, not read out of bounds or half-overwritten. */
static void
test_shape_errors (void)
{
  gsl_rng *rng = tu_rng ();
  nfn_space s, other;
  space_from (&s, &test_spaces[1]);
  space_from (&other, &test_spaces[2]);
  eq_case *c = eq_case_new (&s, NFN_SYM_NP, 2, 3, 2, rng);
  nfn_feature wrong_c, wrong_space;
  g_assert_cmpint (nfn_feature_alloc (&wrong_c, &s, 2, 4), ==, NFN_OK);
  g_assert_cmpint (nfn_feature_alloc (&wrong_space, &other, 2, 3), ==, NFN_OK);
  g_assert_cmpint (nfn_eq_forward (&c->plan, c->params, &c->in, &wrong_c, c->scratch), ==, NFN_ERR_SHAPE);
  g_assert_cmpint (nfn_eq_forward (&c->plan, c->params, &c->in, &wrong_space, c->scratch), ==, NFN_ERR_SHAPE);
  g_assert_cmpint (nfn_eq_backward (&c->plan, c->params, &c->in, &wrong_c, NULL, NULL, c->scratch), ==,
                   NFN_ERR_SHAPE);
  eq_case *square = eq_case_new (&s, NFN_SYM_HNP, 2, 2, 2, rng);
  g_assert_cmpint (nfn_eq_forward (&square->plan, square->params, &square->in, &square->in, square->scratch), ==,
                   NFN_ERR_ARG);
  g_assert_cmpint (nfn_eq_backward (&square->plan, square->params, &square->in, &square->r, &square->r, NULL,
                                    square->scratch), ==, NFN_ERR_ARG);
  eq_case_free (square);
  nfn_eq_plan *plan = g_new0 (nfn_eq_plan, 1);
  g_assert_cmpint (nfn_eq_plan_init (plan, &s, NFN_SYM_NP, 0, 3), ==, NFN_ERR_ARG);
  g_free (plan);
  nfn_feature_free (&wrong_c);
  nfn_feature_free (&wrong_space);
  eq_case_free (c);
  gsl_rng_free (rng);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/equivariant/np-param-count", test_np_param_count);
  g_test_add_func ("/engine/equivariant/init-range", test_init_range);
  g_test_add_func ("/engine/equivariant/reference-forward", test_reference_forward);
  g_test_add_func ("/engine/equivariant/equivariance", test_equivariance);
  g_test_add_func ("/engine/equivariant/uncoupled-breaks", test_uncoupled_breaks);
  g_test_add_func ("/engine/equivariant/completeness", test_completeness);
  g_test_add_func ("/engine/equivariant/gradients", test_gradients);
  g_test_add_func ("/engine/equivariant/accumulation", test_accumulation);
  g_test_add_func ("/engine/equivariant/shape-errors", test_shape_errors);
  return g_test_run ();
}
