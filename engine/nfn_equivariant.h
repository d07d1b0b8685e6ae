/* nfn_equivariant.h — the one equivariant linear layer, built from a symmetry spec.
 *
 * Shape letters as in nfn_core.h. in: (B, C_in) feature, out: (B, C_out) feature over the
 * same nfn_space. Per tensor t, seen through nfn_tensor_views(): folded index set of size
 * size[0]·size[1], channels C_in·fold (in) and C_out·fold (out).
 *
 * The basis is enumerated, not hand-written (DESIGN.md §3.2): for an output tensor T and an
 * input tensor U, every subset K of the permuted sets shared by both gives one term — keep the
 * axes in K aligned, average U over its other axes, broadcast over T's other axes. Terms whose
 * output varies along the same axes of T (a "class", a subset of T's axes) are concatenated
 * along input channels and applied as ONE GEMM with a (Σ C_in·fold_U) × (C_out·fold_T)
 * matrix, plus one bias of C_out·fold_T per class. For NP on an MLP this gives
 * (4L² + 10L − 4)·C_in·C_out + 6L·C_out parameters.
 *
 * Why the concatenations can be shared: the terms of class {s} (one kept axis, on neuron set s)
 * are exactly "every input tensor that has an axis on s, averaged down to that axis", whatever
 * T is, and the terms of the constant class are "every input tensor's mean". So the layer
 * builds one pooled matrix Z_s (B, n_s, Σ_{U∋s} C_in·fold_U) per permuted set and one
 * Z_∅ (B, Σ_U C_in·fold_U), and every small class of every output is one GEMM on one of them.
 * The full class of a two-axis tensor holds only the tensor itself: one GEMM on the input as
 * it lies. nfn_eq_plan_init checks that the enumerated terms have this structure.
 *
 * Parameters, per output tensor in tensor order, per class in the order full, then kept-axis
 * masks descending, const (two-axis T: masks 3, 2, 1, 0 — the paper's A, R, Q, B): the class
 * matrix (class_rows × C_out·fold_T, row-major, row = input channel of the concatenation),
 * then the class bias (C_out·fold_T).
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
  int fan_in; /* Σ class_rows: the F of the init range U(±1/√F) */
} nfn_eq_output;

typedef struct {
  nfn_space space;
  nfn_symmetry sym;
  int cin, cout;
  nfn_tensor_view views[NFN_MAX_TENSORS];
  nfn_eq_output out[NFN_MAX_TENSORS];
  size_t n_params;
  size_t n_weight_params; /* n_params minus biases */
  /* the shared pooled inputs (see the top of this file) */
  int z_width[NFN_MAX_LAYERS + 1];          /* columns of Z_s; 0 for a set not permuted */
  int z_offset[NFN_MAX_TENSORS][2];         /* column of U pooled to its axis a, inside Z_{set[a]} */
  int z_const_width;                        /* columns of Z_∅ */
  int z_const_offset[NFN_MAX_TENSORS];      /* column of U's mean inside Z_∅ */
} nfn_eq_plan;

/* Enumerates the basis for (space, sym, C_in, C_out). */
nfn_status nfn_eq_plan_init (nfn_eq_plan *plan, const nfn_space *space, nfn_symmetry sym, int cin, int cout);
size_t nfn_eq_param_count (const nfn_eq_plan *plan);
/* Every matrix summed into one output tensor is drawn from U(±1/√F), F the sum of the
 * rows (fan-ins) of all classes of that output tensor; its biases likewise. */
void nfn_eq_init_params (const nfn_eq_plan *plan, float *params, gsl_rng *rng);
/* Floats of scratch forward/backward need for a batch of B networks. */
size_t nfn_eq_scratch_size (const nfn_eq_plan *plan, int B);

/* out = layer(in). out is overwritten and must not share storage with in (NFN_ERR_ARG). */
nfn_status nfn_eq_forward (const nfn_eq_plan *plan, const float *params, const nfn_feature *in,
                           nfn_feature *out, float *scratch);
/* Accumulates d(in) (if din != NULL) and d(params) (if dparams != NULL) from d(out).
 * Needs no state from forward (the pooled inputs are recomputed into scratch). din must not
 * share storage with in or dout (NFN_ERR_ARG). */
nfn_status nfn_eq_backward (const nfn_eq_plan *plan, const float *params, const nfn_feature *in,
                            const nfn_feature *dout, nfn_feature *din, float *dparams, float *scratch);

/* FLOPs of forward's GEMMs (2 × multiply-adds), for GFLOP/s reports. */
double nfn_eq_forward_flops (const nfn_eq_plan *plan, int B);

#ifdef __cplusplus
}
#endif
#endif
