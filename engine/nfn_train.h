/* nfn_train.h — losses, Adam/AdamW with warmup, and metrics.
 *
 * Shape letters: N samples, K classes, P parameters, n values of a flat array.
 *
 * Losses are the head of the backward chain, so unlike layers they OVERWRITE grad (when
 * grad != NULL) with d(loss)/d(input), already divided by the count the loss averages over.
 * They compute in double from float inputs and check their arguments before writing anything.
 */
#ifndef NFN_TRAIN_H
#define NFN_TRAIN_H

#include "nfn_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Softmax cross-entropy, mean over rows, via log-sum-exp (finite for any finite logits).
 * NFN_ERR_ARG if N < 1, K < 1 or a label is outside [0, K); NFN_ERR_NONFINITE if the loss is
 * not finite (a NaN or Inf logit; loss and grad are still written). */
nfn_status nfn_cross_entropy (const float *logits /* (N, K) */, const int *labels /* (N) */,
                              int N, int K, double *loss, float *grad /* (N, K) or NULL */);
/* Row-wise softmax probabilities. */
void nfn_softmax (const float *logits /* (N, K) */, float *probs /* (N, K) */, int N, int K);
/* Binary cross-entropy on logits, mean over N, as max(x,0) − x·y + log1p(e^−|x|) so that no
 * exp overflows. NFN_ERR_ARG if N < 1 or a target is outside [0, 1] (or NaN);
 * NFN_ERR_NONFINITE if the loss is not finite. */
nfn_status nfn_bce_with_logits (const float *logits /* (N) */, const float *targets /* (N) */,
                                int N, double *loss, float *grad /* (N) or NULL */);
/* Mean squared error over n values; grad = 2(pred − target)/n. NFN_ERR_ARG if n = 0;
 * NFN_ERR_NONFINITE if the loss is not finite. */
nfn_status nfn_mse (const float *pred /* (n) */, const float *target /* (n) */, size_t n,
                    double *loss, float *grad /* (n) or NULL */);

/* ---- Adam / AdamW (PyTorch semantics) ----
 * Parameters, gradients and both moments are single arrays of P floats (arenas); the moments
 * start zeroed. At step t (1-based, opt->step after the increment) with g the gradient:
 *   lr_t = lr · min(1, t / warmup_steps)              (warmup_steps ≤ 0: lr_t = lr)
 *   and, with decay_steps D > warmup_steps W, a cosine decay to 0 after the warmup:
 *   lr_t = lr · ½(1 + cos(π · min(1, (t − W) / (D − W))))   for t > W
 *   Adam  (decoupled = 0): g ← g + wd·p               (L2 folded into the gradient)
 *   AdamW (decoupled = 1): p ← p − lr_t·wd·p          (decay before the update, never in m, v)
 *   m ← β1·m + (1−β1)·g      v ← β2·v + (1−β2)·g²
 *   p ← p − lr_t · (m / (1−β1^t)) / (sqrt(v / (1−β2^t)) + eps)
 * So the decay follows the warmup, as with a PyTorch scheduler that sets the group's lr. */
typedef struct {
  double lr, beta1, beta2, eps, weight_decay;
  int decoupled;
  long warmup_steps;
  long decay_steps; /* the run's total steps for the cosine decay; ≤ warmup_steps: none */
  long step; /* steps taken so far */
} nfn_adam;

/* β1 = 0.9, β2 = 0.999, eps = 1e-8, no weight decay, no warmup, no decay, step 0 (PyTorch's defaults). */
void nfn_adam_init (nfn_adam *opt, double lr);
/* The learning rate step `step` (1-based) uses. */
double nfn_adam_lr (const nfn_adam *opt, long step);
/* One step: increments opt->step, then updates params, m and v in place. */
void nfn_adam_step (nfn_adam *opt, float *params /* (P) */, const float *grads /* (P) */,
                    float *m /* (P) */, float *v /* (P) */, size_t P);

/* ---- Metrics ---- */
/* Fraction of rows whose argmax (the first one on ties) equals the label; 0 when N < 1. */
double nfn_accuracy (const float *logits /* (N, K) */, const int *labels /* (N) */, int N, int K);
/* Kendall's τ-b with ties, O(n log n) (Knight 1966). NFN_ERR_ARG if n < 2; NFN_ERR_NOMEM;
 * NFN_ERR_NONFINITE if a value is NaN (it has no rank; ±Inf are ranked). τ = 0 when either
 * variable is constant, so the result is never NaN. */
nfn_status nfn_kendall_tau_b (const double *x /* (n) */, const double *y /* (n) */, size_t n,
                              double *tau);
/* PSNR in dB for values whose peak-to-peak range is `peak` (2 for [-1, 1]): 10·log10(peak²/MSE).
 * An exact match (and n = 0) returns +INFINITY. */
double nfn_psnr (const float *pred /* (n) */, const float *target /* (n) */, size_t n, double peak);

#ifdef __cplusplus
}
#endif
#endif
