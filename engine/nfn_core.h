/* nfn_core.h — status codes, weight-space shapes, batched weight-space features,
 * symmetry views, the arena and the seeded generator. Every engine module includes this.
 *
 * Shape letters used across the engine:
 *   B   networks in a batch          C    feature channels
 *   L   layers of a studied network  n_i  width of neuron set i (i = 0 … L)
 *   f_i spatial positions of layer i's kernel (kh·kw; 1 for a dense layer)
 *   P   entries of one tensor (n_i·n_{i-1} for W_i, n_i for b_i)
 *
 * Layout (channels last; see DESIGN.md §3.1 and the note on issue 2 for why):
 *   W_i feature: (B, n_i, n_{i-1}, C·f_i), channel index c·f_i + p (p = filter position)
 *   b_i feature: (B, n_i, C)
 * Raw PyTorch weights (out, in, kh, kw) are therefore a C = 1 feature with no copy, and the
 * pointwise term of an NF layer is one (B·P × C_in)·(C_in × C_out) GEMM per tensor.
 *
 * Conventions every layer follows:
 *   - A layer is `*_forward` and `*_backward`, free functions with explicit pointers/sizes.
 *   - Backward ACCUMULATES (+=) into input gradients and parameter gradients; the caller
 *     zeroes the gradient arena once per step. A NULL input-gradient pointer means "not needed".
 *   - Functions that can fail return nfn_status; the engine never prints and never exits.
 */
#ifndef NFN_CORE_H
#define NFN_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  NFN_OK = 0,
  NFN_ERR_NOMEM,        /* an allocation failed */
  NFN_ERR_ARG,          /* an argument is out of its documented range */
  NFN_ERR_SHAPE,        /* shapes disagree */
  NFN_ERR_NONFINITE,    /* NaN or Inf met where a finite number is required */
  NFN_ERR_CANCELLED,    /* the caller's cancel flag was set */
  NFN_ERR_UNSUPPORTED,  /* valid request this build cannot do */
  NFN_ERR_NOT_CONVERGED /* an iterative method hit its iteration cap */
} nfn_status;

/* A short lower-case phrase, e.g. "shapes disagree"; never NULL. */
const char *nfn_status_message (nfn_status status);

#define NFN_MAX_LAYERS 16
#define NFN_MAX_TENSORS (2 * NFN_MAX_LAYERS)

/* The shape of one network's weight space: L layers, widths n[0..L], and f[i] (i = 1..L)
 * spatial positions of layer i's kernel (1 for a dense layer; f[0] is unused and 1). */
typedef struct {
  int L;
  int n[NFN_MAX_LAYERS + 1];
  int f[NFN_MAX_LAYERS + 1];
} nfn_space;

/* Builds a dense space from widths n_0 … n_L (all f = 1). */
nfn_status nfn_space_init (nfn_space *space, int L, const int *widths);
/* NFN_OK when 1 ≤ L ≤ NFN_MAX_LAYERS and every width and f is ≥ 1. */
nfn_status nfn_space_check (const nfn_space *space);
int nfn_space_equal (const nfn_space *a, const nfn_space *b);
/* Scalars of one network (C = 1): Σ n_i·n_{i-1}·f_i + n_i. */
size_t nfn_space_param_count (const nfn_space *space);

/* Tensor t of a feature: t = 2(i-1) is W_i, t = 2(i-1)+1 is b_i, for i = 1 … L. */
static inline int nfn_tensor_weight (int layer) { return 2 * (layer - 1); }
static inline int nfn_tensor_bias (int layer) { return 2 * (layer - 1) + 1; }
static inline int nfn_tensor_layer (int t) { return t / 2 + 1; }
static inline int nfn_tensor_is_bias (int t) { return t & 1; }
static inline int nfn_tensor_count (const nfn_space *s) { return 2 * s->L; }
/* Entries of tensor t for one network and one channel, f folded in: n_i·n_{i-1}·f_i or n_i. */
size_t nfn_tensor_entries (const nfn_space *s, int t);

/* A batched weight-space feature: B networks, C channels, one contiguous block per tensor,
 * all blocks inside one allocation (`data`), in tensor order W_1, b_1, W_2, b_2, …. */
typedef struct {
  nfn_space space;
  int B, C;
  float *t[NFN_MAX_TENSORS]; /* t[2(i-1)]: (B, n_i, n_{i-1}, C·f_i); t[2(i-1)+1]: (B, n_i, C) */
  float *data;               /* the block all t[] point into */
  size_t size;               /* floats in data */
  int owns_data;
} nfn_feature;

/* Floats a feature of this shape needs. */
size_t nfn_feature_size (const nfn_space *space, int B, int C);
/* Allocates zeroed storage (64-byte aligned). */
nfn_status nfn_feature_alloc (nfn_feature *feat, const nfn_space *space, int B, int C);
/* Points a feature into caller-owned memory of nfn_feature_size() floats (e.g. an arena). */
void nfn_feature_wrap (nfn_feature *feat, const nfn_space *space, int B, int C, float *data);
void nfn_feature_free (nfn_feature *feat);
/* Same space, B and C. */
int nfn_feature_same_shape (const nfn_feature *a, const nfn_feature *b);
/* Network `net` of a batch as a B = 1 view is not contiguous; these copy one network. */
void nfn_feature_get_network (const nfn_feature *feat, int net, nfn_feature *dst /* B = 1 */);
void nfn_feature_set_network (nfn_feature *feat, int net, const nfn_feature *src /* B = 1 */);
/* Max |a - b| over every entry, and max |a| (for relative errors). Shapes must match. */
double nfn_feature_max_abs_diff (const nfn_feature *a, const nfn_feature *b);
double nfn_feature_max_abs (const nfn_feature *a);
/* NFN_ERR_NONFINITE if any entry is NaN or Inf. */
nfn_status nfn_feature_check_finite (const nfn_feature *feat);

/* Summary statistics of n floats (std is the population std; n = 0 gives zeros). */
typedef struct {
  double mean, std, min, max;
  size_t count, nonfinite;
} nfn_stats;
void nfn_stats_compute (const float *x, size_t n, nfn_stats *out);

/* ---- Symmetry specs and how they see each tensor (DESIGN.md §3.2) ---- */

typedef enum {
  NFN_SYM_NP = 0, /* every neuron set 0 … L is permuted */
  NFN_SYM_HNP = 1 /* only hidden sets 1 … L-1 are permuted */
} nfn_symmetry;

const char *nfn_symmetry_name (nfn_symmetry sym); /* "np" or "hnp" */
int nfn_symmetry_permutes (const nfn_space *s, nfn_symmetry sym, int set);

/* Tensor t as a symmetry sees it: the permuted sets that index its axes, and how many
 * scalars each index carries per feature channel once fixed axes are folded in.
 * Folded layout: (B, size[0], size[1], C·fold) — the stored layout except when
 * `transposed`, which is HNP's W_L (stored (B, n_L, n_{L-1}, C·f_L), folded
 * (B, n_{L-1}, n_L·C·f_L): the fixed row axis moves into the channels).
 * Within a folded index the channel order is (fixed axis index, c, p). */
typedef struct {
  int n_axes;  /* 0, 1 or 2 */
  int set[2];  /* neuron-set id of each permuted axis, outer first */
  int size[2]; /* n of those sets (1 for absent axes) */
  int fold;    /* scalars per feature channel per folded index: f_i × sizes of fixed axes */
  int transposed;
} nfn_tensor_view;

void nfn_tensor_views (const nfn_space *s, nfn_symmetry sym, nfn_tensor_view views[NFN_MAX_TENSORS]);

/* ---- Arena: one allocation per kind of memory, tensors are pointers into it ---- */

typedef struct {
  float *base;
  size_t capacity; /* floats */
  size_t used;     /* floats handed out */
} nfn_arena;

/* Rounds n up so every handed-out pointer stays 64-byte aligned. */
static inline size_t nfn_arena_round (size_t n) { return (n + 15) & ~(size_t) 15; }
nfn_status nfn_arena_alloc (nfn_arena *arena, size_t floats); /* zeroed */
/* Next n floats, or NULL if the arena is too small (a sizing bug in the caller). */
float *nfn_arena_take (nfn_arena *arena, size_t n);
void nfn_arena_zero (nfn_arena *arena);
void nfn_arena_free (nfn_arena *arena);

/* ---- Threads ---- */
/* Sets BLAS threads and the engine's own loop threads to n (they never run at once). */
void nfn_set_threads (int n);
int nfn_get_threads (void);

#ifdef __cplusplus
}
#endif
#endif
