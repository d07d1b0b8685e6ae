/* nfn_equivariant.h — the one equivariant linear layer, built from a symmetry spec.
 *
 * Shapes: in (B, C_in) feature, out (B, C_out) feature over the same nfn_space.
 * Per tensor t, seen through nfn_tensor_views(): folded index set of size
 * size[0]·size[1], channels C_in·fold (in) and C_out·fold (out).
 *
 * The basis is enumerated, not hand-written (DESIGN.md §3.2): for an output tensor T and an
 * input tensor U, every subset K of the permuted sets shared by both gives one term — keep the
 * axes in K aligned, average U over its other axes, broadcast over T's other axes. Terms whose
 * output varies along the same axes of T (a "class", a subset of T's axes) are concatenated
 * along input channels and applied as ONE GEMM with a (Σ C_in·fold_U) × (C_out·fold_T)
 * matrix, plus one bias of C_out·fold_T per class. For NP on an MLP this gives
 * (4L² + 10L − 4)·C_in·C_out + 6L·C_out parameters.
 */
#ifndef NFN_EQUIVARIANT_H
#define NFN_EQUIVARIANT_H

#include "nfn_core.h"
#include <gsl/gsl_rng.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NFN_EQ_MAX_TERMS (NFN_MAX_TENSORS * 4)

/* One term: input tensor u pooled down to the axes in `keep` (bit a = T's axis a is kept and
 * aligned with the input axis `in_axis[a]`), contributing to class `keep` of its output. */
typedef struct {
  int in_tensor;
  int keep;       /* bitmask over the output tensor's axes: the class */
  int in_axis[2]; /* for each kept output axis, the matching axis of the input view */
  int in_rows;    /* row offset of this term's block inside the class matrix */
} nfn_eq_term;

typedef struct {
  int n_terms;
  nfn_eq_term terms[NFN_EQ_MAX_TERMS];
  /* per class (bitmask 0..3 over the output axes): rows (Σ C_in·fold_U) and offsets */
  int class_rows[4];
  size_t class_weight_offset[4]; /* into params: (class_rows × C_out·fold_T), row-major */
  size_t class_bias_offset[4];   /* into params: (C_out·fold_T) */
  int class_present[4];
} nfn_eq_output;

typedef struct {
  nfn_space space;
  nfn_symmetry sym;
  int cin, cout;
  nfn_tensor_view views[NFN_MAX_TENSORS];
  nfn_eq_output out[NFN_MAX_TENSORS];
  size_t n_params;
  size_t n_weight_params; /* n_params minus biases */
} nfn_eq_plan;

/* Enumerates the basis for (space, sym, C_in, C_out). */
nfn_status nfn_eq_plan_init (nfn_eq_plan *plan, const nfn_space *space, nfn_symmetry sym, int cin, int cout);
size_t nfn_eq_param_count (const nfn_eq_plan *plan);
/* Every matrix summed into one output class group is drawn from U(±1/√F), F the sum of the
 * fan-ins of all terms summed into that output tensor; biases likewise. */
void nfn_eq_init_params (const nfn_eq_plan *plan, float *params, gsl_rng *rng);
/* Floats of scratch forward/backward need for a batch of B networks. */
size_t nfn_eq_scratch_size (const nfn_eq_plan *plan, int B);

/* out = layer(in). out is overwritten. */
nfn_status nfn_eq_forward (const nfn_eq_plan *plan, const float *params, const nfn_feature *in,
                           nfn_feature *out, float *scratch);
/* Accumulates d(in) (if din != NULL) and d(params) (if dparams != NULL) from d(out). */
nfn_status nfn_eq_backward (const nfn_eq_plan *plan, const float *params, const nfn_feature *in,
                            const nfn_feature *dout, nfn_feature *din, float *dparams, float *scratch);

/* Multiply-adds of forward (pointwise/GEMM work only), for GFLOP/s reports. */
double nfn_eq_forward_flops (const nfn_eq_plan *plan, int B);

#ifdef __cplusplus
}
#endif
#endif
