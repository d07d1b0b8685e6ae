/* nfn_morph.h — the image transforms INR style editing learns (issue 4), on [0, 1] images.
 *
 * Shape letters: R×Cc image rows × columns.
 *
 *   dilate    out[r,c] = max of in over the 3×3 square centred on (r,c)
 *   erode     out[r,c] = min of in over the same square
 *   gradient  dilate − erode (the morphological gradient: ≥ 0, large on edges)
 *   invert    1 − in
 *
 * Borders: the square is clipped to the image — pixels outside it are ignored, not padded
 * with 0 or 1 — so a constant image stays constant under every square operation (and a
 * white stroke touching the border does not get eaten by erosion from outside). This is
 * OpenCV's default for cv2.dilate/cv2.erode (constant border of −∞ resp. +∞).
 */
#ifndef NFN_MORPH_H
#define NFN_MORPH_H

#include "nfn_core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  NFN_MORPH_DILATE = 0,
  NFN_MORPH_ERODE,
  NFN_MORPH_GRADIENT,
  NFN_MORPH_INVERT
} nfn_morph_op;

#define NFN_MORPH_COUNT 4

const char *nfn_morph_name (nfn_morph_op op); /* "dilate", "erode", "gradient", "invert" */
int nfn_morph_parse (const char *name, nfn_morph_op *out); /* 1 on success */

/* Square-neighbourhood max and min; `out` must not alias `in`. */
void nfn_morph_dilate (const float *in /* (R, Cc) */, float *out /* (R, Cc) */, int rows, int cols);
void nfn_morph_erode (const float *in /* (R, Cc) */, float *out /* (R, Cc) */, int rows, int cols);

/* `count` images through `op`; out must not alias in. NFN_ERR_ARG for an unknown op or a
 * size < 1. */
nfn_status nfn_morph_apply (nfn_morph_op op, const float *in /* (count, R, Cc) */, float *out /* (count, R, Cc) */,
                            int count, int rows, int cols);

#ifdef __cplusplus
}
#endif
#endif
