/* nfn_sample.h — the built-in sample networks every front end can open with no file. */
#ifndef NFN_SAMPLE_H
#define NFN_SAMPLE_H

#include "nfn_network.h"

G_BEGIN_DECLS

/* The sample: a SIREN 2→32→32→1 (ω0 = 30) fitted to a real image, Fashion-MNIST test image 0
 * (an ankle boot), with the zoo's default settings and a fixed seed — the same weights on every
 * run and machine, in a few tens of milliseconds. If the data set is not installed it falls back
 * to the SIREN init from the same seed and says so in its metadata. Metadata: the source image
 * as a zoo network names it ("nfn.zoo.dataset" "fashion-mnist", "nfn.zoo.split" "test",
 * "nfn.zoo.image" "0"), "nfn.psnr" (dB), "nfn.sample.fitted" ("yes"/"no"). */
NfnNetwork *nfn_sample_network (void);
/* The same image fitted from another init (`seed` ≠ 0 picks it): an independently trained
 * twin, for weight matching demonstrations. */
NfnNetwork *nfn_sample_network_seeded (guint64 seed);
/* The sample's source image (28 × 28 pixels in [0, 1]), or NULL if the data set is missing. */
float *nfn_sample_source_image (int *rows, int *cols);

G_END_DECLS
#endif
