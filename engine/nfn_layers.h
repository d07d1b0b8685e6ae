/* nfn_layers.h — the layers around the equivariant one (DESIGN.md §3.3).
 *
 * Shape letters as in nfn_core.h; P_t stored positions of tensor t (n_i·n_{i-1} for W_i, n_i
 * for b_i), f_t filter positions (f_i for W_i, 1 for b_i), so a tensor block is
 * (B, P_t, C·f_t) with channel index c·f_t + p. D is a flat vector width, N rows of a flat batch.
 * Conventions as in nfn_core.h: backward ACCUMULATES into input and parameter gradients,
 * NULL gradient pointers are skipped. `out` features must be allocated by the caller with the
 * documented C and the same space and B as `in`; only tensor blocks are written, so padding
 * between blocks stays zero. Where a layer allows out == in (in place) it says so.
 */
#ifndef NFN_LAYERS_H
#define NFN_LAYERS_H

#include "nfn_core.h"
#include <gsl/gsl_rng.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Invariant pooling ----
 * NP: each tensor's mean over its P_t positions, per channel and filter position
 *     → (B, Σ_t C·f_t) (2L·C for an MLP).
 * HNP: each tensor seen through nfn_tensor_views(), averaged over its permuted axes only
 *     (fixed axes kept) → (B, Σ_t C·fold_t): W_1 keeps its input column k (index k·C·f + c·f + p),
 *     W_L its output row r (index r·C·f + c·f + p, the folded order of the transposed view),
 *     b_L every entry (j·C + c), hidden tensors reduce to C·f_t. With L = 1 nothing is
 *     permuted and the pool is the identity on the flattened tensors.
 * Output order: tensor order, then the folded channel order. */
size_t nfn_pool_dim (const nfn_space *space, nfn_symmetry sym, int C);
void nfn_pool_forward (nfn_symmetry sym, const nfn_feature *in, float *out /* (B, D) */);
void nfn_pool_backward (nfn_symmetry sym, const float *dout /* (B, D) */, nfn_feature *din);

/* ---- Pointwise: per tensor t a (C_in·f_t × C_out·f_t) channel mix plus a bias (C_out·f_t),
 * the same at every position, so it commutes with every permutation. One GEMM per tensor.
 * Params in tensor order: matrix row-major (row = input channel index), then bias.
 * Init: matrix and bias U(±1/√(C_in·f_t)). in: C_in, out: C_out; out != in. */
size_t nfn_pointwise_param_count (const nfn_space *space, int cin, int cout);
void nfn_pointwise_init_params (const nfn_space *space, int cin, int cout, float *params, gsl_rng *rng);
void nfn_pointwise_forward (const float *params, const nfn_feature *in, nfn_feature *out);
void nfn_pointwise_backward (const float *params, const nfn_feature *in, const nfn_feature *dout,
                             nfn_feature *din, float *dparams);

/* ---- Elementwise activations on n floats (forward may run in place) ----
 * Backward takes the forward INPUT. On a feature pass its `data` and `size`. */
void nfn_relu_forward (const float *in, float *out, size_t n);
void nfn_relu_backward (const float *in, const float *dout, float *din, size_t n);
/* tanh approximation of GELU, as PyTorch's approximate="tanh" */
void nfn_gelu_forward (const float *in, float *out, size_t n);
void nfn_gelu_backward (const float *in, const float *dout, float *din, size_t n);

/* ---- Dropout ----
 * Channel dropout zeroes channel c of network b in every tensor (all f positions) with
 * probability p and scales survivors by 1/(1-p). mask: (B, C), the factor applied (0 or
 * 1/(1-p)), drawn in (b, c) order with one gsl_rng_uniform each, written by forward when
 * training, read by backward. p ≥ 1 drops everything. Not training: out = in, rng and mask
 * untouched. May run in place. */
void nfn_channel_dropout_forward (const nfn_feature *in, nfn_feature *out, float p, int training,
                                  gsl_rng *rng, float *mask);
void nfn_channel_dropout_backward (const nfn_feature *dout, nfn_feature *din, const float *mask, int training);
/* Elementwise dropout on n floats (for the MLP head); mask: n floats, as above. */
void nfn_dropout_forward (const float *in, float *out, size_t n, float p, int training, gsl_rng *rng, float *mask);
void nfn_dropout_backward (const float *dout, float *din, size_t n, const float *mask, int training);

/* ---- LearnedScale: out_t = s_t · in_t, one scalar per tensor, params (2L). May run in
 * place only when backward is not needed (backward reads the input). ---- */
size_t nfn_learned_scale_param_count (const nfn_space *space);
void nfn_learned_scale_init_params (const nfn_space *space, float *params, float value);
void nfn_learned_scale_forward (const float *params, const nfn_feature *in, nfn_feature *out);
void nfn_learned_scale_backward (const float *params, const nfn_feature *in, const nfn_feature *dout,
                                 nfn_feature *din, float *dparams);

/* ---- Gaussian Fourier features ----
 * A fixed matrix G (C_in × m), entries N(0, s²). At every position and filter position p,
 * x (C_in values, channel c at c·f + p) → z = xG (m), out channel j = sin(2π z_j),
 * out channel m + j = cos(2π z_j), each at (channel)·f + p: out C = 2m. G gets no gradient. */
void nfn_fourier_init (float *matrix /* (C_in, m) */, int cin, int m, double scale, gsl_rng *rng);
void nfn_fourier_forward (const float *matrix /* (C_in, m) */, int m, const nfn_feature *in, nfn_feature *out);
void nfn_fourier_backward (const float *matrix /* (C_in, m) */, int m, const nfn_feature *in,
                           const nfn_feature *dout, nfn_feature *din);

/* ---- IO sinusoidal encoding (for NP) ----
 * Appends 4·bands channels to every tensor. With x the neuron's position scaled to [-1, 1],
 * x = 2k/(n-1) - 1 (x = 0 when n = 1), channel C + 2b is sin(π·2^(b-1)·x) and C + 2b + 1 is
 * cos(π·2^(b-1)·x), b = 0 … bands-1, for the input neuron (set 0: W_1's column k);
 * channels C + 2·bands + 2b, +1 encode the output neuron (set L: W_L's row, b_L's entry) the
 * same way. Every filter position p of an appended channel holds the same value. Tensors
 * without such an axis get zeros there (so L = 1 gives W_1 both blocks, b_1 the second).
 * The lowest band spans half a period over [-1, 1], so every position gets its own code:
 * with π·2^b the ends x = ±1 would coincide in every band (a 2-input network's two inputs
 * could not be told apart).
 * out C = C + 4·bands. Backward passes the first C channels through. */
int nfn_io_encoding_channels (int C, int bands);
void nfn_io_encoding_forward (int bands, const nfn_feature *in, nfn_feature *out);
void nfn_io_encoding_backward (int bands, const nfn_feature *dout, nfn_feature *din);

/* ---- Layer norm over the channels of every entry ----
 * Per tensor and position, normalise the C·f_t values (mean, biased variance, eps 1e-5 as
 * PyTorch), then channel c (all filter positions p) gets gain γ_c and shift β_c.
 * params: γ (C), β (C); init γ = 1, β = 0. cache: (mean, rstd) per position, tensor order,
 * nfn_layer_norm_cache_size floats (independent of C), written by forward. */
size_t nfn_layer_norm_cache_size (const nfn_space *space, int B);
void nfn_layer_norm_init_params (int C, float *params);
void nfn_layer_norm_forward (const float *params, const nfn_feature *in, nfn_feature *out, float *cache);
void nfn_layer_norm_backward (const float *params, const nfn_feature *in, const nfn_feature *dout,
                              const float *cache, nfn_feature *din, float *dparams);

/* ---- Dense layer for the MLP head and the baselines ----
 * out (N, D_out) = in (N, D_in) · W (D_in, D_out) + b (D_out). params: W row-major, then b.
 * Init: PyTorch nn.Linear's U(±1/√D_in) for W and b. */
size_t nfn_linear_param_count (int din, int dout);
void nfn_linear_init_params (int din, int dout, float *params, gsl_rng *rng);
void nfn_linear_forward (const float *params, const float *in, float *out, int N, int din, int dout);
void nfn_linear_backward (const float *params, const float *in, const float *dout, float *din_grad,
                          float *dparams, int N, int in_dim, int out_dim);

/* ---- StatNN features (Unterthiner et al.): per network, tensor and channel index c·f_t + p,
 * 7 statistics over the tensor's P_t positions: mean, variance (population, ddof = 0, so a
 * one-entry tensor such as a single-output b_L gives 0 rather than NaN), and the
 * 0/25/50/75/100 % quantiles (numpy's default linear interpolation between order statistics).
 * → (B, 7·Σ_t C·f_t), laid out (tensor, channel index, statistic). Backward sends each
 * quantile's gradient to the two order statistics it interpolates (ties: to the entry that
 * sorts first, stable in position order). Both sort a copy of one column at a time and
 * return NFN_ERR_NOMEM if that scratch cannot be allocated. */
size_t nfn_statnn_dim (const nfn_space *space, int C);
nfn_status nfn_statnn_forward (const nfn_feature *in, float *out /* (B, D) */);
nfn_status nfn_statnn_backward (const nfn_feature *in, const float *dout /* (B, D) */, nfn_feature *din);

/* ---- Flatten for the MLP baseline: feature → (B, Σ_t C·entries_t), one row per network,
 * tensors in order, each in its stored (P_t, C·f_t) order. Backward scatters back. */
size_t nfn_flatten_dim (const nfn_space *space, int C);
void nfn_flatten_forward (const nfn_feature *in, float *out /* (B, D) */);
void nfn_flatten_backward (const float *dout /* (B, D) */, nfn_feature *din);

#ifdef __cplusplus
}
#endif
#endif
