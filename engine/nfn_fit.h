/* nfn_fit.h — fitting SIRENs to images (implicit neural representations), many at once.
 *
 * Shape letters: B networks, R×Cc image rows × columns, N = R·Cc pixels (points),
 * H hidden width, P parameters of one network (C = 1 weight-space feature, padded).
 *
 * One network is fitted to one image: inputs are the pixel grid's coordinates
 * (x, y) = (u[col], v[row]) with u, v = linspace(−1, 1) — x runs along the columns, y along
 * the rows, row 0 is y = −1 — and targets are the pixels mapped from [0, 1] to [−1, 1].
 * Full-batch MSE over all N pixels, Adam (nfn_adam_*, PyTorch semantics), `steps` steps.
 * Quality is the PSNR of the final network on the [−1, 1] scale (peak-to-peak 2).
 *
 * Each network starts from its own SIREN init drawn from (seed, network_id), so a network's
 * weights depend only on its image, the settings and its id — not on the batch it was fitted
 * in, the shard, or the number of threads. Same inputs give the same bytes.
 *
 * Two paths compute the same steps:
 *   fused   — 2→H→H→1 SIRENs with H = NFN_FIT_FUSED_HIDDEN on a pixel grid. The first layer is
 *             separable on a grid (sin(a + b) = sin a cos b + cos a sin b), so it needs sines of
 *             (R + Cc)·H values instead of N·H; the rest runs row by row in tiles that stay in L1,
 *             forward, loss and backward in one pass, with no BLAS calls.
 *   generic — any SIREN with 2 inputs and 1 output: nfn_net_forward/backward, nfn_mse.
 * Networks are spread over `threads` OpenMP threads, one network per thread at a time; BLAS
 * runs single-threaded meanwhile so the machine is never oversubscribed.
 */
#ifndef NFN_FIT_H
#define NFN_FIT_H

#include "nfn_core.h"
#include "nfn_nets.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NFN_FIT_FUSED_HIDDEN 32

typedef enum {
  NFN_FIT_PATH_AUTO = 0, /* fused when the architecture allows it, else generic */
  NFN_FIT_PATH_FUSED,    /* NFN_ERR_UNSUPPORTED unless 2→32→32→1 */
  NFN_FIT_PATH_GENERIC
} nfn_fit_path;

/* Called after each finished network with (networks done, total), from whichever worker
 * thread finished it, never two at once. */
typedef void (*nfn_fit_progress_fn) (int done, int total, void *user_data);

typedef struct {
  int steps;          /* Adam steps (≥ 0) */
  double lr;          /* Adam learning rate (> 0) */
  uint64_t seed;      /* with each network's id, fixes its init */
  int threads;        /* worker threads (≥ 1) */
  nfn_fit_path path;
  nfn_fit_progress_fn progress; /* may be NULL */
  void *progress_data;
  volatile int *cancel; /* may be NULL; checked between steps */
} nfn_fit_options;

/* The defaults, chosen by measurement (see the zoo benchmark): steps, lr as below, seed 0,
 * 1 thread, path auto, no callback, no cancel flag. */
#define NFN_FIT_DEFAULT_STEPS 300
#define NFN_FIT_DEFAULT_LR 2e-3
void nfn_fit_options_init (nfn_fit_options *opt);

/* The SIREN the zoos hold: 2→32→32→1, ω0 = 30. */
void nfn_fit_default_arch (nfn_arch *arch);

/* coords (R·Cc, 2): the fitting inputs (x, y) for pixel (row, col), row-major. */
void nfn_fit_grid (float *coords, int rows, int cols);
/* target (n) = 2·pixel − 1. */
void nfn_fit_targets (float *target, const float *pixels, size_t n);

/* The gsl_rng seed of network `network_id`'s stream under `seed` (splitmix64-mixed, so
 * neighbouring ids get unrelated streams); nfn_fit_init_network draws from it, and other
 * per-network streams (e.g. minibatch order) use it with a seed of their own. */
unsigned long nfn_fit_network_seed (uint64_t seed, uint64_t network_id);
/* Draws network `net` of `weights` (C = 1, space = arch->space) from the SIREN init, with a
 * generator seeded from (seed, network_id) alone. */
nfn_status nfn_fit_init_network (const nfn_arch *arch, nfn_feature *weights, int net, uint64_t seed,
                                 uint64_t network_id);

/* Mean squared error of one network (a B = 1, C = 1 feature) on one image's targets, and its
 * gradient accumulated (+=) into grad (same shape; may be NULL), by the fused path.
 * NFN_ERR_UNSUPPORTED unless the architecture is a 2→32→32→1 SIREN. */
nfn_status nfn_fit_fused_loss_grad (const nfn_arch *arch, const nfn_feature *weights,
                                    const float *target /* (R·Cc) */, int rows, int cols,
                                    double *loss, nfn_feature *grad);

/* Fits B networks: network b of `weights` (C = 1, B networks, space = arch->space) is drawn
 * by nfn_fit_init_network (opt->seed, network_ids[b]) and fitted to image b of `images`.
 * psnr (B) receives each final network's PSNR in dB (may be NULL).
 * NFN_ERR_ARG for bad sizes or options, NFN_ERR_UNSUPPORTED for an architecture that is not a
 * SIREN with 2 inputs and 1 output, NFN_ERR_NOMEM, NFN_ERR_CANCELLED when *opt->cancel was
 * set (the networks then hold whatever state they reached). */
nfn_status nfn_fit_sirens (const nfn_arch *arch, nfn_feature *weights,
                           const float *images /* (B, R·Cc) pixels in [0, 1] */, int rows, int cols,
                           const uint64_t *network_ids /* (B) */, const nfn_fit_options *opt,
                           float *psnr /* (B) */);

#ifdef __cplusplus
}
#endif
#endif
