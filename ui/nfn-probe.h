/* nfn-probe.h — what a studied network computes, on a fixed set of inputs the views share.
 *
 * Shape letters: N probe inputs, D = nfn_net_input_size, K = nfn_net_output_size,
 * G grid side, n_i width of hidden layer i.
 *
 * A SIREN with two inputs is probed on the G×G pixel grid of an image: pixel (row, col) is
 * input (x, y) = (u[col], v[row]), u = v = linspace(−1, 1), row-major — the convention the
 * fitting engine uses (engine/nfn_fit.h), so a fitted network renders its image upright.
 * Every other network (MLP, CNN, a SIREN without two inputs) gets a fixed batch of
 * NFN_PROBE_BATCH inputs drawn from N(0, 1) with a fixed seed, the same on every machine.
 */
#ifndef NFN_PROBE_H
#define NFN_PROBE_H

#include <glib.h>
#include "nfn_nets.h"

G_BEGIN_DECLS

#define NFN_PROBE_BATCH 16
#define NFN_PROBE_SEED 6

typedef struct {
  nfn_arch arch;
  int n;         /* N */
  int grid;      /* G for an image probe, 0 for a random batch */
  float *inputs; /* (N, D) */
  float *cache;  /* nfn_net_cache_size (arch, 1, N): hidden activations of the last run */
} NfnProbe;

/* `grid` is the side G used when the network is an image (a 2-input SIREN); ignored otherwise. */
NfnProbe *nfn_probe_new (const nfn_arch *arch, int grid);
void nfn_probe_free (NfnProbe *probe);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfnProbe, nfn_probe_free)

/* TRUE when the probe is an image grid (rows = cols = G, one value per output channel). */
gboolean nfn_probe_is_image (const NfnProbe *probe);
size_t nfn_probe_output_size (const NfnProbe *probe); /* N·K */

/* outputs (N, K) of a B = 1, C = 1 weight feature of the probe's architecture; fills the
 * probe's activation cache. */
nfn_status nfn_probe_run (NfnProbe *probe, const nfn_feature *weights, float *outputs /* (N, K) */);
/* After nfn_probe_run on a dense network: hidden layer i's activations (N, n_i), 1 ≤ i < L,
 * inside the probe's cache (valid until the next run). NULL for a conv layer or a bad i. */
const float *nfn_probe_hidden (const NfnProbe *probe, int layer);

/* max |a − b| over n floats. */
double nfn_probe_max_abs_diff (const float *a, const float *b, size_t n);
/* mean (a − b)² over n floats. */
double nfn_probe_mse (const float *a, const float *b, size_t n);

G_END_DECLS
#endif
