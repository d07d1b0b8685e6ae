/* nfn_train.h — losses, Adam/AdamW with warmup, and metrics.
 *
 * Shape letters: N samples, K classes, P parameters.
 * Losses return the mean over samples and write d(loss)/d(input) (overwritten, already
 * divided by N) when grad != NULL.
 */
#ifndef NFN_TRAIN_H
#define NFN_TRAIN_H

#include "nfn_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Softmax cross-entropy. logits (N, K), labels (N) in [0, K). NFN_ERR_ARG on a bad label. */
nfn_status nfn_cross_entropy (const float *logits, const int *labels, int N, int K, double *loss,
                              float *grad);
/* Row-wise softmax probabilities (N, K). */
void nfn_softmax (const float *logits, float *probs, int N, int K);
/* Binary cross-entropy on logits (numerically stable), targets in [0, 1]. (N) */
nfn_status nfn_bce_with_logits (const float *logits, const float *targets, int N, double *loss, float *grad);
/* Mean squared error over n values. */
nfn_status nfn_mse (const float *pred, const float *target, size_t n, double *loss, float *grad);

/* ---- Adam / AdamW ----
 * Parameters, gradients and both moments are single arrays of P floats (arenas).
 * Learning rate at step t (1-based): lr · min(1, t / warmup_steps) (warmup_steps 0: none).
 * weight_decay with decoupled = 1 is AdamW (p -= lr·wd·p), with decoupled = 0 L2 added to
 * the gradient (Adam). */
typedef struct {
  double lr, beta1, beta2, eps, weight_decay;
  int decoupled;
  long warmup_steps;
  long step; /* steps taken so far */
} nfn_adam;

void nfn_adam_init (nfn_adam *opt, double lr);
double nfn_adam_lr (const nfn_adam *opt, long step);
void nfn_adam_step (nfn_adam *opt, float *params, const float *grads, float *m, float *v, size_t P);

/* ---- Metrics ---- */
/* Fraction of rows whose argmax equals the label. */
double nfn_accuracy (const float *logits, const int *labels, int N, int K);
/* Kendall's τ-b with ties, O(n log n) (Knight 1966). NFN_ERR_ARG if n < 2; τ = 0 (NaN-free)
 * when either variable is constant. */
nfn_status nfn_kendall_tau_b (const double *x, const double *y, size_t n, double *tau);
/* PSNR in dB for values whose peak-to-peak range is `peak` (2 for [-1, 1]): 10·log10(peak²/MSE).
 * An exact match returns +INFINITY. */
double nfn_psnr (const float *pred, const float *target, size_t n, double peak);

#ifdef __cplusplus
}
#endif
#endif
