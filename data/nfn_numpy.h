/* nfn_numpy.h — NumPy .npy (one array) and .npz (a zip of .npy members) as float32 tensors.
 *
 * .npy (numpy's format spec, NEP 1): "\x93NUMPY", version 1.0 / 2.0 / 3.0, a little-endian
 * header length (u16 for 1.0, u32 after), a Python dict literal {'descr': …, 'fortran_order':
 * …, 'shape': (…)} padded with white space, then the raw array. Read: descr '<' or '>' (and
 * '|' for one-byte kinds) with f2 / f4 / f8, i1 / i2 / i4 / i8, u1 / u2 / u4 / u8; Fortran
 * order is transposed to C order; the data must be exactly shape × itemsize bytes. Integer
 * arrays convert to float exactly or are refused (|value| > 2^24 not representable), and
 * report dtype F32, NfnDtype having no integer kinds. Structured dtypes, object arrays and
 * ranks above NFN_TENSOR_MAX_RANK are refused.
 *
 * .npz: zip, members stored or deflated, read from the central directory (zip64 fields
 * understood), local headers checked against it, members may not overlap, CRC-32 checked, each
 * member at most NFN_NPZ_MAX_MEMBER_BYTES uncompressed and exactly the size it declares (a zip
 * bomb is refused without inflating more than the cap). Member "net.0.weight.npy" becomes
 * tensor "net.0.weight"; every member must be a .npy and names must be unique.
 *
 * Tensors come back in an NfnSafetensors (no metadata) so that nfn_network_from_safetensors
 * recognises layers in an .npz as in a safetensors file. Errors are one line, "LABEL: fault".
 */
#ifndef NFN_NUMPY_H
#define NFN_NUMPY_H

#include <glib.h>
#include "nfn_safetensors.h"

G_BEGIN_DECLS

#define NFN_NPZ_MAX_MEMBER_BYTES ((guint64) 1 << 30)

/* One .npy in memory → one tensor called `name`. */
NfnSafetensors *nfn_npy_parse (const guint8 *bytes, gsize length, const char *label, const char *name,
                               GError **error);
/* The tensor is named after the file: "dir/net.0.weight.npy" → "net.0.weight". */
NfnSafetensors *nfn_npy_load (const char *path, GError **error);
/* Writes one tensor as a version 1.0 '<f4' C-order .npy, atomically (temp file + rename). */
gboolean nfn_npy_save (const NfnTensor *tensor, const char *path, GError **error);

NfnSafetensors *nfn_npz_parse (const guint8 *bytes, gsize length, const char *label, GError **error);
NfnSafetensors *nfn_npz_load (const char *path, GError **error);

G_END_DECLS
#endif
