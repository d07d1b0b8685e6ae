/* testutil.h — shared helpers for the engine tests: seeded randomness, random features,
 * and one finite-difference gradient checker every backward pass is held to. */
#ifndef NFN_TESTUTIL_H
#define NFN_TESTUTIL_H

#include <glib.h>
#include <gsl/gsl_rng.h>
#include "nfn_core.h"

/* A gsl_rng seeded from the GLib test seed (so `--seed` reproduces a failure). */
gsl_rng *tu_rng (void);
void tu_fill_uniform (float *x, size_t n, double lo, double hi, gsl_rng *rng);
void tu_fill_normal (float *x, size_t n, double sigma, gsl_rng *rng);
/* Fills every tensor of feat with N(0, 1) (padding left zero). */
void tu_feature_normal (nfn_feature *feat, gsl_rng *rng);
/* Σ a·b over every entry of two same-shape features, in double. */
double tu_feature_dot (const nfn_feature *a, const nfn_feature *b);
double tu_dot (const float *a, const float *b, size_t n);

/* Recomputes the scalar loss from the current state of whatever `x` points into. */
typedef double (*tu_loss_fn) (void *ctx);

/* Compares grad[e] with the central difference (loss(x+h) - loss(x-h)) / 2h at `count` indices
 * of x (n floats) chosen at random (all of them if count >= n). Returns the worst error
 * |fd - grad| / max(|fd| + |grad|, floor). x is restored. A wrong backward fails this at the
 * tolerances the tests use; a right one passes. */
double tu_grad_check (tu_loss_fn loss, void *ctx, float *x, const float *grad, size_t n, int count,
                      double h, double floor, gsl_rng *rng);

/* The same check along `directions` random Gaussian directions d (entries N(0, h²)):
 * compares <grad, d> with (loss(x+d) - loss(x-d)) / 2 and returns the MEDIAN over directions
 * of |fd - <grad,d>| / max(|fd| + |<grad,d>|, floor). Summing over every entry and taking the
 * median keeps float32 rounding and the odd ReLU kink a direction crosses from swamping the
 * signal, so whole models can be checked; a wrong backward is wrong along every direction.
 * x is restored. */
double tu_directional_check (tu_loss_fn loss, void *ctx, float *x, const float *grad, size_t n, int directions,
                             double h, double floor, gsl_rng *rng);

#endif
