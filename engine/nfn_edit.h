/* nfn_edit.h — INR style editing (issue 4): an equivariant model proposes a weight delta for
 * each SIREN, the edited SIREN is rendered on the image grid, and the loss is the pixel MSE
 * against the transformed source image.
 *
 * Shape letters: B networks in a batch, R×Cc image rows × columns, N = R·Cc pixels.
 * Networks, deltas and their gradients are C = 1 weight-space features of the SIREN's space.
 *
 *   delta = model(U)                  (WEIGHTS output, one channel, LearnedScale from 0.01)
 *   U'    = U + delta
 *   y     = U'(grid)                  (B, N): nfn_net_forward on nfn_fit_grid's coordinates
 *   loss  = mean over B·N of (y − target)², target = 2·transform(image) − 1 (the fit's scale)
 *   backward: d(y) by nfn_mse → d(U') by nfn_net_backward → d(delta) = d(U') → model backward
 *
 * Rendering is invariant under hidden-neuron permutations, so an HNP-equivariant model gives
 * the same loss for σ·U as for U; the tests check that and the gradient chain.
 */
#ifndef NFN_EDIT_H
#define NFN_EDIT_H

#include "nfn_core.h"
#include "nfn_model.h"
#include "nfn_nets.h"
#include "nfn_train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The editing model's config: kind's defaults (nfn_model_config_default: 3 NF layers of 128
 * channels), NFN_EDIT_FOURIER_M Gaussian Fourier features of scale NFN_EDIT_FOURIER_SCALE, a
 * WEIGHTS output of one channel and LearnedScale starting at NFN_EDIT_OUT_SCALE. The Fourier
 * features matter: on raw weights (hidden ones ~2e-2, first-layer biases ~0.5) a 3-layer NP
 * editor settles on one constant delta for every network (a brightness shift, MSE ≈ 0.31 on
 * dilation) and stays there; with them it does not. */
#define NFN_EDIT_OUT_SCALE 0.01f
#define NFN_EDIT_FOURIER_M 128      /* the paper's editor: m = 128 Fourier features of scale 3 */
#define NFN_EDIT_FOURIER_SCALE 3.0
void nfn_edit_model_config (nfn_model_config *cfg, nfn_model_kind kind, const nfn_space *space);

/* Buffers for one batch of up to max_batch networks rendered on an R×Cc grid, all sized at
 * creation; nothing allocates afterwards. */
typedef struct {
  nfn_arch arch;     /* the edited networks' architecture: a SIREN with 2 inputs, 1 output */
  int rows, cols, max_batch;
  float *coords;     /* (N, 2) nfn_fit_grid */
  float *edited;     /* nfn_feature_size (space, max_batch, 1): U' */
  float *dedited;    /* same size: d(loss)/d(U') = d(loss)/d(delta) */
  float *pixels;     /* (max_batch, N) the rendered U' */
  float *dpixels;    /* (max_batch, N) */
  float *cache;      /* nfn_net_cache_size (arch, max_batch, N) */
} nfn_edit;

/* NFN_ERR_ARG unless arch is a valid SIREN with 2 inputs and 1 output and rows, cols,
 * max_batch ≥ 1; NFN_ERR_NOMEM. */
nfn_status nfn_edit_init (nfn_edit *edit, const nfn_arch *arch, int rows, int cols, int max_batch);
void nfn_edit_clear (nfn_edit *edit);

/* edited = networks + delta (all C = 1 features of the arch's space, same B). */
nfn_status nfn_edit_apply (const nfn_feature *networks, const nfn_feature *delta, nfn_feature *edited);

/* pixels (B, N) = each network evaluated on the grid; any B (nothing is cached). */
nfn_status nfn_edit_render (nfn_edit *edit, const nfn_feature *networks /* (B, C = 1) */, float *pixels /* (B, N) */);

/* The edit loss of given deltas: renders networks + delta, MSE against targets (B, N), and,
 * when ddelta is not NULL, OVERWRITES ddelta (B, C = 1) with d(loss)/d(delta), like the losses
 * of nfn_train.h. NFN_ERR_SHAPE for mismatched features, NFN_ERR_ARG for B > max_batch. */
nfn_status nfn_edit_loss (nfn_edit *edit, const nfn_feature *networks /* (B, 1) */, const nfn_feature *delta /* (B, 1) */,
                          const float *targets /* (B, N) */, double *loss, nfn_feature *ddelta /* (B, 1) or NULL */);

/* The whole chain for a WEIGHTS model: delta = model(model_input), the edit loss of
 * networks + delta, and the model's backward, which leaves d(loss)/d(params) in the model's
 * gradient arena. model_input is what the model sees: the networks themselves, or a copy put
 * through a per-tensor map such as standardisation (a map that commutes with neuron
 * permutations keeps the editor equivariant). training turns on dropout. */
nfn_status nfn_edit_model_loss (nfn_edit *edit, nfn_model *model, const nfn_feature *networks /* (B, 1) */,
                                const nfn_feature *model_input /* (B, 1) */, const float *targets /* (B, N) */,
                                int training, double *loss);
/* nfn_edit_model_loss in training mode, then one Adam step. */
nfn_status nfn_edit_train_step (nfn_edit *edit, nfn_model *model, nfn_adam *opt, const nfn_feature *networks,
                                const nfn_feature *model_input, const float *targets /* (B, N) */, double *loss);
/* The edited networks (evaluation mode): edited = networks + model(model_input). */
nfn_status nfn_edit_model_apply (nfn_model *model, const nfn_feature *networks /* (B, 1) */,
                                 const nfn_feature *model_input /* (B, 1) */, nfn_feature *edited /* (B, 1) */);
/* The edited networks rendered: pixels (B, N), evaluation mode. */
nfn_status nfn_edit_model_render (nfn_edit *edit, nfn_model *model, const nfn_feature *networks /* (B, 1) */,
                                  const nfn_feature *model_input /* (B, 1) */, float *pixels /* (B, N) */);

#ifdef __cplusplus
}
#endif
#endif
