/* nfn_perm.h — neuron permutations: sample, apply, invert, compose, canonicalise, align.
 *
 * A permutation σ = (σ_0, …, σ_L), σ_i a permutation of n_i neurons, acts on a feature by
 *   (σ·W)_i[σ_i(j), σ_{i-1}(k)] = W_i[j, k]     (all C·f_i channels move together)
 *   (σ·b)_i[σ_i(j)]             = b_i[j]
 * i.e. neuron j of set i moves to position σ_i(j). Sets a symmetry does not permute keep σ = id.
 */
#ifndef NFN_PERM_H
#define NFN_PERM_H

#include "nfn_core.h"
#include <gsl/gsl_rng.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  nfn_space space;
  int *p[NFN_MAX_LAYERS + 1]; /* p[i]: (n_i), p[i][j] = σ_i(j) */
  int *data;
} nfn_perm;

nfn_status nfn_perm_alloc (nfn_perm *perm, const nfn_space *space); /* identity */
void nfn_perm_free (nfn_perm *perm);
void nfn_perm_identity (nfn_perm *perm);
int nfn_perm_is_identity (const nfn_perm *perm);
/* A uniformly random element of the group of `sym` (GSL's gsl_ran_shuffle). */
void nfn_perm_random (nfn_perm *perm, nfn_symmetry sym, gsl_rng *rng);
/* dst = σ⁻¹ (dst may not alias src). */
void nfn_perm_inverse (const nfn_perm *src, nfn_perm *dst);
/* dst = a ∘ b, i.e. apply b first, then a (dst may alias neither). */
void nfn_perm_compose (const nfn_perm *a, const nfn_perm *b, nfn_perm *dst);
/* out = σ·in, for every network of the batch and every channel. out must not alias in. */
nfn_status nfn_perm_apply (const nfn_perm *perm, const nfn_feature *in, nfn_feature *out);

/* Canonical form under HNP (B = 1 weights, C = 1): for i = 1 … L-1 in order, hidden neurons of
 * layer i are sorted by the key (‖incoming row W_i[j,:]‖² + b_i[j]², descending), ties broken
 * by b_i[j] descending, then by the incoming row lexicographically (compared after layer i-1
 * was sorted). Writes the permutation that maps the input to its canonical form.
 * Every key is computed on columns already in canonical order, so canon(σ·W) == canon(W) bit for
 * bit. Neurons equal in the whole key are ordered by their outgoing column W_{i+1}[:, j]
 * (descending, lexicographic; as a sorted multiset while set i+1 is hidden); only neurons equal
 * in that too keep their input order. NFN_ERR_SHAPE unless B = C = 1 and the spaces agree;
 * NFN_ERR_NONFINITE for NaN/Inf. */
nfn_status nfn_perm_canonical (const nfn_feature *weights, nfn_perm *to_canonical);

/* Exact linear assignment (Jonker–Volgenant / Hungarian, O(n³)): maximises
 * Σ_j score[j·n + assign[j]] over permutations; assign[j] = column of row j. Any finite scores
 * (negative too); NFN_ERR_NONFINITE otherwise. Memory O(n) besides score. */
nfn_status nfn_linear_assignment (int n, const double *score, int *assign);

/* Weight matching (Ainsworth et al., Git Re-Basin): finds σ in the HNP group maximising
 * Σ_i <W_i^A, (σ·B)_i> + <b_i^A, (σ·B)_i> by coordinate descent over hidden layers, each step an
 * exact assignment, until no layer changes or max_iters sweeps. B = 1, C = 1 weights of the same
 * space. Writes σ such that σ·B is aligned to A. Hidden layers are visited in an order shuffled
 * by rng every sweep (rng NULL: 1 … L-1); a layer's σ_i changes only for a strict gain, so the
 * search cannot cycle. NFN_ERR_NOT_CONVERGED when max_iters sweeps all changed something: σ is
 * then still written and is the best found. NFN_ERR_SHAPE for mismatched spaces or B, C ≠ 1. */
nfn_status nfn_perm_align (const nfn_feature *a, const nfn_feature *b, int max_iters, gsl_rng *rng,
                           nfn_perm *b_to_a);

/* Euclidean distance between two weight sets of the same shape (every entry; B = C = 1 in
 * practice), NAN if the shapes differ. */
double nfn_weight_distance (const nfn_feature *a, const nfn_feature *b);

#ifdef __cplusplus
}
#endif
#endif
