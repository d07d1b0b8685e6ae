/* nfn_safetensors.h — safetensors read (F32, F64, F16, BF16 → float) and write (F32).
 *
 * Format (huggingface/safetensors): u64 little-endian header length N, N bytes of UTF-8 JSON
 * (an object: tensor name → {"dtype", "shape", "data_offsets": [begin, end]}, plus an optional
 * "__metadata__" object of string → string), then the byte buffer. The reader validates all of
 * it (length, JSON object, unique keys, dtype, shape × dtype size = byte size with overflow
 * checks, offsets in bounds, contiguous and non-overlapping, no trailing bytes) and fails with
 * a GError whose message is one line: "PATH: fault".
 */
#ifndef NFN_SAFETENSORS_H
#define NFN_SAFETENSORS_H

#include <glib.h>

G_BEGIN_DECLS

#define NFN_DATA_ERROR (nfn_data_error_quark ())
GQuark nfn_data_error_quark (void);

typedef enum {
  NFN_DATA_ERROR_IO,        /* cannot open/read/write the file */
  NFN_DATA_ERROR_FORMAT,    /* malformed file */
  NFN_DATA_ERROR_SHAPE,     /* well-formed, but shapes do not make a network */
  NFN_DATA_ERROR_NONFINITE, /* NaN or Inf weights */
  NFN_DATA_ERROR_UNSUPPORTED,
  NFN_DATA_ERROR_NOT_FOUND  /* no such record (a run or zoo id/name in the store) */
} NfnDataError;

typedef enum { NFN_DTYPE_F32, NFN_DTYPE_F64, NFN_DTYPE_F16, NFN_DTYPE_BF16 } NfnDtype;
const char *nfn_dtype_name (NfnDtype dtype); /* "F32", … */

#define NFN_TENSOR_MAX_RANK 8

typedef struct {
  char *name;
  NfnDtype dtype; /* as stored in the file */
  int rank;
  gint64 shape[NFN_TENSOR_MAX_RANK];
  gsize numel;
  float *data; /* numel floats, converted, owned */
} NfnTensor;

typedef struct {
  GPtrArray *tensors;       /* NfnTensor*, in file order (sorted by data offset) */
  GPtrArray *metadata_keys; /* char*, in file order */
  GHashTable *metadata;     /* char* → char* */
} NfnSafetensors;

NfnSafetensors *nfn_safetensors_new (void);
void nfn_safetensors_free (NfnSafetensors *st);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfnSafetensors, nfn_safetensors_free)

/* `label` names the source in error messages (usually the path). */
NfnSafetensors *nfn_safetensors_parse (const guint8 *bytes, gsize length, const char *label, GError **error);
NfnSafetensors *nfn_safetensors_load (const char *path, GError **error);
/* Writes all tensors as F32 in order, with metadata; atomically (temp file + rename). */
gboolean nfn_safetensors_save (const NfnSafetensors *st, const char *path, GError **error);

/* Adds a tensor (data copied; stored dtype F32). */
NfnTensor *nfn_safetensors_add (NfnSafetensors *st, const char *name, int rank, const gint64 *shape,
                                const float *data);
NfnTensor *nfn_safetensors_find (const NfnSafetensors *st, const char *name);
void nfn_safetensors_set_metadata (NfnSafetensors *st, const char *key, const char *value);
const char *nfn_safetensors_get_metadata (const NfnSafetensors *st, const char *key);

/* Helpers every data-layer reader shares so that messages look alike. */
/* Sets a one-line error "LABEL: fault". */
void nfn_data_set_error (GError **error, NfnDataError code, const char *label, const char *format, ...)
  G_GNUC_PRINTF (4, 5);
/* A name from a file, double-quoted, with quotes, backslashes and control characters escaped
 * so that it cannot break a message across lines. */
char *nfn_data_quote (const char *name);
/* "[3,4]": a shape or an index. */
char *nfn_data_format_index (const gint64 *values, int count);
/* IEEE binary16 bits → float, exact (subnormals, ±inf, NaN payloads kept); the .npy reader
 * shares it. */
float nfn_data_half_to_float (guint16 bits);
/* Writes `count` floats as little-endian IEEE bits; returns the byte after the last. */
guint8 *nfn_data_put_f32_le (guint8 *out, const float *values, gsize count);
/* Writes a whole file atomically (temp file + rename); "PATH: cannot write: …" on failure. */
gboolean nfn_data_write_atomic (const char *path, const void *contents, gsize length, GError **error);

G_END_DECLS
#endif
