/* nfn_nets.h — the networks the NFNs study: MLP, SIREN and small CNN, batched over networks.
 *
 * Weights are a C = 1 nfn_feature (B networks): W_i (B, n_i, n_{i-1}, f_i) in PyTorch's
 * (out, in, kh, kw) order, b_i (B, n_i).
 * Shape letters: N inputs per network; for a CNN each input is an image (n_0, H, W).
 *
 * MLP:   h_i = act(W_i h_{i-1} + b_i) for i < L, output W_L h_{L-1} + b_L (linear).
 * SIREN: h_1 = sin(ω0 (W_1 x + b_1)), h_i = sin(ω0 (W_i h_{i-1} + b_i)) for 1 < i < L, linear
 *        output — the original SIREN (Sitzmann et al. 2020) with ω0 = 30 in first and hidden
 *        layers. Init: W_1 ~ U(±1/n_0), later W_i ~ U(±√(6/n_{i-1})/ω0), biases as PyTorch's
 *        nn.Linear, U(±1/√n_{i-1}).
 * CNN:   the first n_conv layers are convolutions (kh × kw, stride, zero padding `padding`)
 *        with act, then a global average pool over space, then dense layers with act between
 *        them and a linear output. Conv and dense layers alike take their input width from
 *        the previous layer (the pool makes the dense layer's inputs the last conv's channels).
 *        With n_conv = L the last conv is the linear output layer and its pool is y.
 * In every kind, layers 1 … L-1 apply the hidden activation and layer L is linear.
 *
 * The sin, cos and tanh loops are vectorised through glibc's libmvec (see nfn_nets.c).
 */
#ifndef NFN_NETS_H
#define NFN_NETS_H

#include "nfn_core.h"
#include <gsl/gsl_rng.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { NFN_NET_MLP = 0, NFN_NET_SIREN, NFN_NET_CNN } nfn_net_kind;
typedef enum { NFN_ACT_RELU = 0, NFN_ACT_TANH, NFN_ACT_SIN, NFN_ACT_IDENTITY } nfn_activation;

typedef struct {
  nfn_net_kind kind;
  nfn_space space;       /* n_0 … n_L; f_i = kh·kw for conv layers */
  nfn_activation act;    /* hidden activation (SIREN: NFN_ACT_SIN) */
  float omega0;          /* SIREN only (30) */
  int n_conv;            /* CNN: number of leading conv layers */
  int kh, kw, stride, padding; /* CNN conv geometry, shared by all conv layers */
  int in_h, in_w;        /* CNN input image size */
} nfn_arch;

const char *nfn_net_kind_name (nfn_net_kind kind);   /* "mlp", "siren", "cnn" */
const char *nfn_activation_name (nfn_activation act); /* "relu", "tanh", "sin", "identity" */
int nfn_net_kind_parse (const char *name, nfn_net_kind *out);     /* 1 on success */
int nfn_activation_parse (const char *name, nfn_activation *out); /* 1 on success */

nfn_status nfn_arch_mlp (nfn_arch *arch, int L, const int *widths, nfn_activation act);
nfn_status nfn_arch_siren (nfn_arch *arch, int L, const int *widths, float omega0);
/* channels: n_0 (image channels) … n_L (classes); the first n_conv (1 … L) layers are k×k
 * conv, output side (in + 2·padding − k) / stride + 1 as in PyTorch. */
nfn_status nfn_arch_cnn (nfn_arch *arch, int L, const int *channels, int n_conv, int k, int stride,
                         int padding, int in_h, int in_w, nfn_activation act);
/* NFN_ERR_ARG unless internally consistent: MLP act relu/tanh/identity, SIREN act sin with
 * finite ω0 > 0, n_conv = 0 and f_i = 1 for dense kinds; CNN 1 ≤ n_conv ≤ L, k, stride ≥ 1,
 * padding ≥ 0, f_i = kh·kw exactly for conv layers, every conv output size ≥ 1. */
nfn_status nfn_arch_check (const nfn_arch *arch);
/* Floats per input and per output of one network: n_0 (MLP/SIREN) or n_0·in_h·in_w (CNN). */
size_t nfn_net_input_size (const nfn_arch *arch);
size_t nfn_net_output_size (const nfn_arch *arch);

/* Initialises every network of `weights` (C = 1, space = arch->space): SIREN init for
 * SIRENs, PyTorch's default (Kaiming-uniform a=√5: U(±1/√fan_in), fan_in = n_{i-1}·f_i, for W
 * and b) for MLP and CNN. Draws network by network, W_i then b_i, so a seed fixes the zoo. */
void nfn_net_init (const nfn_arch *arch, nfn_feature *weights, gsl_rng *rng);

/* Activation cache for backward: floats needed for B networks × N inputs (0 for an invalid
 * arch). Per network, for each hidden layer i < L, the pre-activation z_i then act(z_i)
 * ((N, n_i) dense, (n_i, N, h_i, w_i) conv), then a CNN's pooled (N, n_{n_conv}). */
size_t nfn_net_cache_size (const nfn_arch *arch, int B, int N);

/* y (B, N, out) = f_b(x) for every network b. x is (B, N, in) with x_batch_stride = N·in (or
 * more), or one shared (N, in) set with x_batch_stride = 0. cache may be NULL when no backward
 * follows. NFN_ERR_SHAPE when weights are not a C = 1 feature of arch->space. */
nfn_status nfn_net_forward (const nfn_arch *arch, const nfn_feature *weights, int N, const float *x,
                            size_t x_batch_stride, float *y, float *cache);
/* From dy (B, N, out): accumulates dweights (C = 1, may be NULL) and dx (same layout and
 * stride as x; may be NULL; with stride 0 the networks' contributions are summed). cache is
 * the one the forward with the same weights and x filled. */
nfn_status nfn_net_backward (const nfn_arch *arch, const nfn_feature *weights, int N, const float *x,
                             size_t x_batch_stride, const float *cache, const float *dy,
                             nfn_feature *dweights, float *dx);

#ifdef __cplusplus
}
#endif
#endif
