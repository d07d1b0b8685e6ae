/* nfn_sample.h — the built-in sample network every front end can open with no file. */
#ifndef NFN_SAMPLE_H
#define NFN_SAMPLE_H

#include "nfn_network.h"

G_BEGIN_DECLS

/* A SIREN 2→32→32→1 (ω0 = 30) with the original SIREN init from a fixed seed, so every run
 * and every machine shows the same weights. Named "sample-siren". */
NfnNetwork *nfn_sample_network (void);

G_END_DECLS
#endif
