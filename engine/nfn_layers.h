/* nfn_layers.h — the layers around the equivariant one (DESIGN.md §3.3).
 *
 * Shape letters as in nfn_core.h; D is a flat vector width, N rows of a flat batch.
 * Conventions as in nfn_core.h: backward ACCUMULATES into input and parameter gradients,
 * NULL input-gradient pointers are skipped. Elementwise layers act on a feature's whole
 * `data` block (`size` floats; alignment padding between tensors is zero and stays zero).
 */
#ifndef NFN_LAYERS_H
#define NFN_LAYERS_H

#include "nfn_core.h"
#include <gsl/gsl_rng.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Invariant pooling ----
 * NP: each tensor's mean over its entries, per channel → (B, Σ_t C·f_t) with f_t = f_i for
 *     W_i and 1 for b_i (2L·C for an MLP).
 * HNP: each folded tensor's mean over its permuted axes only (fixed axes kept):
 *     → (B, Σ_t C·fold_t). Output order: tensor order, channel order as the folded view. */
size_t nfn_pool_dim (const nfn_space *space, nfn_symmetry sym, int C);
void nfn_pool_forward (nfn_symmetry sym, const nfn_feature *in, float *out /* (B, D) */);
void nfn_pool_backward (nfn_symmetry sym, const float *dout /* (B, D) */, nfn_feature *din);

/* ---- Pointwise: per tensor t a (C_in·f_t × C_out·f_t) channel mix plus a bias ----
 * (f_t = f_i for W_i, 1 for b_i). Params in tensor order: matrix row-major, then bias. */
size_t nfn_pointwise_param_count (const nfn_space *space, int cin, int cout);
void nfn_pointwise_init_params (const nfn_space *space, int cin, int cout, float *params, gsl_rng *rng);
void nfn_pointwise_forward (const float *params, const nfn_feature *in, nfn_feature *out);
void nfn_pointwise_backward (const float *params, const nfn_feature *in, const nfn_feature *dout,
                             nfn_feature *din, float *dparams);

/* ---- Elementwise activations on n floats ---- */
void nfn_relu_forward (const float *in, float *out, size_t n);
void nfn_relu_backward (const float *in, const float *dout, float *din, size_t n);
/* tanh approximation of GELU, as PyTorch's approximate="tanh" */
void nfn_gelu_forward (const float *in, float *out, size_t n);
void nfn_gelu_backward (const float *in, const float *dout, float *din, size_t n);

/* ---- Dropout ----
 * Channel dropout zeroes channel c of network b in every tensor (all f positions) with
 * probability p and scales survivors by 1/(1-p). mask: (B, C), written by forward when
 * training, read by backward. Not training: out = in. */
void nfn_channel_dropout_forward (const nfn_feature *in, nfn_feature *out, float p, int training,
                                  gsl_rng *rng, float *mask);
void nfn_channel_dropout_backward (const nfn_feature *dout, nfn_feature *din, const float *mask, int training);
/* Elementwise dropout on n floats (for the MLP head); mask: n floats. */
void nfn_dropout_forward (const float *in, float *out, size_t n, float p, int training, gsl_rng *rng, float *mask);
void nfn_dropout_backward (const float *dout, float *din, size_t n, const float *mask, int training);

/* ---- LearnedScale: out_t = s_t · in_t, one scalar per tensor, params (2L) ---- */
size_t nfn_learned_scale_param_count (const nfn_space *space);
void nfn_learned_scale_init_params (const nfn_space *space, float *params, float value);
void nfn_learned_scale_forward (const float *params, const nfn_feature *in, nfn_feature *out);
void nfn_learned_scale_backward (const float *params, const nfn_feature *in, const nfn_feature *dout,
                                 nfn_feature *din, float *dparams);

/* ---- Gaussian Fourier features ----
 * A fixed matrix G (C_in × m), entries N(0, s²). For every entry and filter position p,
 * x (C_in) → [sin(2π xG), cos(2π xG)] (2m channels): out C = 2m. */
void nfn_fourier_init (float *matrix /* (C_in, m) */, int cin, int m, double scale, gsl_rng *rng);
void nfn_fourier_forward (const float *matrix, int m, const nfn_feature *in, nfn_feature *out);
void nfn_fourier_backward (const float *matrix, int m, const nfn_feature *in, const nfn_feature *dout,
                           nfn_feature *din);

/* ---- IO sinusoidal encoding (for NP) ----
 * Appends 4·bands channels to every tensor: channels [C, C+2·bands) encode the position of
 * the input neuron (set 0, i.e. W_1's column k) as sin/cos(π·2^b·x), x = 2k/(n_0-1) - 1
 * (x = 0 when n_0 = 1); channels [C+2·bands, C+4·bands) encode the output neuron (set L: W_L's
 * row, b_L's entry) the same way. Tensors without such an axis get zeros there.
 * out C = C + 4·bands. Backward passes the first C channels through. */
int nfn_io_encoding_channels (int C, int bands);
void nfn_io_encoding_forward (int bands, const nfn_feature *in, nfn_feature *out);
void nfn_io_encoding_backward (int bands, const nfn_feature *dout, nfn_feature *din);

/* ---- Layer norm over the channels of every entry ----
 * Per entry (and per tensor), normalise the C·f_t values, then channel c (all positions p)
 * gets gain γ_c and shift β_c. params: γ (C), β (C). cache: (mean, rstd) per entry, sized by
 * nfn_layer_norm_cache_size. */
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
                          float *dparams, int N, int din, int dout);

/* ---- StatNN features: per tensor and channel, 7 statistics of each network's entries:
 * mean, variance, and the 0/25/50/75/100 % quantiles (linear interpolation, as numpy).
 * → (B, 7·Σ_t C·f_t)... flattened as (tensor, channel, statistic). */
size_t nfn_statnn_dim (const nfn_space *space, int C);
void nfn_statnn_forward (const nfn_feature *in, float *out);
void nfn_statnn_backward (const nfn_feature *in, const float *dout, nfn_feature *din);

/* ---- Flatten for the MLP baseline: feature → (B, Σ_t C·entries_t), one row per network,
 * tensors in order. Backward scatters back. */
size_t nfn_flatten_dim (const nfn_space *space, int C);
void nfn_flatten_forward (const nfn_feature *in, float *out);
void nfn_flatten_backward (const float *dout, nfn_feature *din);

#ifdef __cplusplus
}
#endif
#endif
