/* nfn_numpy.c — .npy reader and writer, .npz (zip) reader.
 *
 * Shapes: a tensor of rank r ≤ NFN_TENSOR_MAX_RANK, numel = Π shape, itemsize = the dtype's
 * bytes. Every length read from a file is checked against the bytes that are really there
 * before anything is allocated for it, so a lying header costs nothing.
 */
#include "nfn_numpy.h"

#include <string.h>
#include <zlib.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LENGTH 6
/* numpy pads headers so that the data starts on this boundary (ARRAY_ALIGN). */
#define NPY_ALIGN 64
/* Dimensions beyond this cannot describe bytes that exist, and keep Π shape from overflowing
 * before the check that does the real work. */
#define NPY_MAX_DIMENSION (G_GINT64_CONSTANT (1) << 62)

#define ZIP_LOCAL_SIGNATURE 0x04034b50u
#define ZIP_CENTRAL_SIGNATURE 0x02014b50u
#define ZIP_END_SIGNATURE 0x06054b50u
#define ZIP64_END_SIGNATURE 0x06064b50u
#define ZIP64_LOCATOR_SIGNATURE 0x07064b50u
#define ZIP_LOCAL_SIZE 30
#define ZIP_CENTRAL_SIZE 46
#define ZIP_END_SIZE 22
#define ZIP64_END_SIZE 56
#define ZIP64_LOCATOR_SIZE 20
#define ZIP64_EXTRA_ID 0x0001
#define ZIP_FLAG_ENCRYPTED 0x0001u
#define ZIP_FLAG_DATA_DESCRIPTOR 0x0008u
#define ZIP_FLAG_STRONG_ENCRYPTION 0x0040u
#define ZIP_METHOD_STORED 0
#define ZIP_METHOD_DEFLATED 8

static guint16
read_u16 (const guint8 *p)
{
  return (guint16) (p[0] | p[1] << 8);
}

static guint32
read_u32 (const guint8 *p)
{
  return (guint32) p[0] | (guint32) p[1] << 8 | (guint32) p[2] << 16 | (guint32) p[3] << 24;
}

static guint64
read_u64 (const guint8 *p)
{
  return (guint64) read_u32 (p) | (guint64) read_u32 (p + 4) << 32;
}

/* The tensor joins `st`, whose free function owns name and data. */
static NfnTensor *
tensor_append (NfnSafetensors *st, const char *name, NfnDtype dtype, int rank, const gint64 *shape, gsize numel,
               float *data)
{
  NfnTensor *tensor = g_new0 (NfnTensor, 1);
  tensor->name = g_strdup (name);
  tensor->dtype = dtype;
  tensor->rank = rank;
  memcpy (tensor->shape, shape, sizeof (gint64) * (gsize) rank);
  tensor->numel = numel;
  tensor->data = data;
  g_ptr_array_add (st->tensors, tensor);
  return tensor;
}

/* ---- .npy header: the part of Python's literal syntax numpy writes ---- */

typedef struct {
  const char *text;
  gsize length;
  gsize pos;
} NpyHeader;

typedef enum { NPY_FLOAT, NPY_SIGNED, NPY_UNSIGNED } NpyKind;

typedef struct {
  NpyKind kind;
  int itemsize;
  gboolean big_endian;
  gboolean fortran_order;
  int rank;
  gint64 shape[NFN_TENSOR_MAX_RANK];
} NpyArray;

static void
npy_skip_space (NpyHeader *h)
{
  while (h->pos < h->length && (h->text[h->pos] == ' ' || h->text[h->pos] == '\t' || h->text[h->pos] == '\n'
                                || h->text[h->pos] == '\r'))
    h->pos++;
}

static gboolean
npy_accept (NpyHeader *h, char c)
{
  npy_skip_space (h);
  if (h->pos < h->length && h->text[h->pos] == c)
    {
      h->pos++;
      return TRUE;
    }
  return FALSE;
}

/* A quoted string without escapes (numpy writes none in the keys and descr it makes). */
static char *
npy_string (NpyHeader *h)
{
  npy_skip_space (h);
  if (h->pos >= h->length || (h->text[h->pos] != '\'' && h->text[h->pos] != '"'))
    return NULL;
  char quote = h->text[h->pos];
  gsize start = h->pos + 1;
  for (gsize p = start; p < h->length; p++)
    {
      unsigned char c = (unsigned char) h->text[p];
      if (c == (unsigned char) quote)
        {
          h->pos = p + 1;
          return g_strndup (h->text + start, p - start);
        }
      if (c == '\\' || c < 0x20 || c >= 0x7f)
        return NULL;
    }
  return NULL;
}

static gboolean
npy_word (NpyHeader *h, const char *word)
{
  npy_skip_space (h);
  gsize n = strlen (word);
  if (h->length - h->pos < n || memcmp (h->text + h->pos, word, n) != 0)
    return FALSE;
  gsize end = h->pos + n;
  if (end < h->length && (g_ascii_isalnum (h->text[end]) || h->text[end] == '_'))
    return FALSE;
  h->pos = end;
  return TRUE;
}

/* A decimal int as Python writes it ("0" or no leading zero; Python 2's "L" suffix allowed). */
static gboolean
npy_integer (NpyHeader *h, gint64 *value)
{
  npy_skip_space (h);
  gsize p = h->pos;
  if (p >= h->length || !g_ascii_isdigit (h->text[p]))
    return FALSE;
  if (h->text[p] == '0' && p + 1 < h->length && g_ascii_isdigit (h->text[p + 1]))
    return FALSE;
  gint64 v = 0;
  for (; p < h->length && g_ascii_isdigit (h->text[p]); p++)
    {
      int digit = h->text[p] - '0';
      if (v > (NPY_MAX_DIMENSION - digit) / 10)
        return FALSE;
      v = v * 10 + digit;
    }
  if (p < h->length && h->text[p] == 'L')
    p++;
  h->pos = p;
  *value = v;
  return TRUE;
}

/* "(2, 3)", "(3,)" or "()"; "(3)" is an int in Python, not a shape. */
static gboolean
npy_shape (NpyHeader *h, NpyArray *array, const char **fault)
{
  *fault = "'shape' must be a tuple of non-negative integers";
  if (!npy_accept (h, '('))
    return FALSE;
  array->rank = 0;
  if (npy_accept (h, ')'))
    return TRUE;
  for (;;)
    {
      gint64 dimension;
      if (!npy_integer (h, &dimension))
        return FALSE;
      if (array->rank == NFN_TENSOR_MAX_RANK)
        {
          *fault = "more than " G_STRINGIFY (NFN_TENSOR_MAX_RANK) " dimensions";
          return FALSE;
        }
      array->shape[array->rank++] = dimension;
      gboolean comma = npy_accept (h, ',');
      if (npy_accept (h, ')'))
        return array->rank > 1 || comma;
      if (!comma)
        return FALSE;
    }
}

/* "<f4", ">i8", "|u1", … */
static gboolean
npy_descr (const char *descr, NpyArray *array)
{
  char order = descr[0];
  if (order != '<' && order != '>' && order != '|')
    return FALSE;
  char kind = descr[1];
  const char *size_text = descr + 2;
  if (kind == '\0' || strlen (size_text) != 1)
    return FALSE;
  int size = size_text[0] - '0';
  if (kind == 'f' && (size == 2 || size == 4 || size == 8))
    array->kind = NPY_FLOAT;
  else if ((kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8))
    array->kind = kind == 'i' ? NPY_SIGNED : NPY_UNSIGNED;
  else
    return FALSE;
  /* '|' means "byte order does not apply", which is only true of one-byte items. */
  if (order == '|' && size != 1)
    return FALSE;
  array->itemsize = size;
  array->big_endian = order == '>';
  return TRUE;
}

static gboolean
npy_parse_header (const char *text, gsize length, const char *label, NpyArray *array, GError **error)
{
  NpyHeader h = { text, length, 0 };
  gboolean seen_descr = FALSE, seen_fortran = FALSE, seen_shape = FALSE;
  const char *fault = "expected a dictionary {'descr': …, 'fortran_order': …, 'shape': …}";
  if (!npy_accept (&h, '{'))
    goto syntax;
  while (!npy_accept (&h, '}'))
    {
      g_autofree char *key = npy_string (&h);
      if (!key)
        {
          fault = "expected a quoted key";
          goto syntax;
        }
      if (!npy_accept (&h, ':'))
        {
          fault = "expected ':' after a key";
          goto syntax;
        }
      gboolean *seen;
      if (strcmp (key, "descr") == 0)
        {
          seen = &seen_descr;
          g_autofree char *descr = npy_string (&h);
          if (!descr)
            {
              /* A list here is a structured dtype. */
              nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, label,
                                  "'descr' is not a simple type string (structured dtypes are not supported)");
              return FALSE;
            }
          if (!npy_descr (descr, array))
            {
              g_autofree char *quoted = nfn_data_quote (descr);
              nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, label,
                                  "dtype %s not supported (expected f2/f4/f8, i1…i8 or u1…u8 with '<' or '>')",
                                  quoted);
              return FALSE;
            }
        }
      else if (strcmp (key, "fortran_order") == 0)
        {
          seen = &seen_fortran;
          if (npy_word (&h, "True"))
            array->fortran_order = TRUE;
          else if (npy_word (&h, "False"))
            array->fortran_order = FALSE;
          else
            {
              fault = "'fortran_order' must be True or False";
              goto syntax;
            }
        }
      else if (strcmp (key, "shape") == 0)
        {
          seen = &seen_shape;
          if (!npy_shape (&h, array, &fault))
            goto syntax;
        }
      else
        {
          g_autofree char *quoted = nfn_data_quote (key);
          nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "bad header: unknown key %s", quoted);
          return FALSE;
        }
      if (*seen)
        {
          g_autofree char *quoted = nfn_data_quote (key);
          nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "bad header: key %s appears twice", quoted);
          return FALSE;
        }
      *seen = TRUE;
      if (npy_accept (&h, '}'))
        break;
      if (!npy_accept (&h, ','))
        {
          fault = "expected ',' or '}'";
          goto syntax;
        }
    }
  npy_skip_space (&h);
  if (h.pos != h.length)
    {
      fault = "bytes after the dictionary";
      goto syntax;
    }
  if (!seen_descr || !seen_fortran || !seen_shape)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "bad header: missing key '%s'",
                          !seen_descr ? "descr" : !seen_fortran ? "fortran_order" : "shape");
      return FALSE;
    }
  return TRUE;

syntax:
  nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "bad header at byte %zu: %s", h.pos, fault);
  return FALSE;
}

/* ---- .npy data ---- */

/* One item as float; FALSE for an integer that has no exact float. */
static gboolean
npy_item_to_float (const guint8 *p, const NpyArray *array, float *out)
{
  guint64 bits = 0;
  for (int b = 0; b < array->itemsize; b++)
    bits = bits << 8 | p[array->big_endian ? b : array->itemsize - 1 - b];
  guint64 magnitude;
  gboolean negative = FALSE;
  switch (array->kind)
    {
    case NPY_FLOAT:
      if (array->itemsize == 2)
        *out = nfn_data_half_to_float ((guint16) bits);
      else if (array->itemsize == 4)
        {
          guint32 bits32 = (guint32) bits;
          memcpy (out, &bits32, sizeof *out);
        }
      else
        {
          double value;
          memcpy (&value, &bits, sizeof value);
          *out = (float) value;
        }
      return TRUE;
    case NPY_SIGNED:
      {
        /* Sign-extend from the item's top bit. */
        int unused = 64 - 8 * array->itemsize;
        gint64 value = (gint64) (bits << unused) >> unused;
        negative = value < 0;
        magnitude = negative ? (guint64) 0 - (guint64) value : (guint64) value;
        break;
      }
    case NPY_UNSIGNED:
    default:
      magnitude = bits;
      break;
    }
  /* Exact iff the significant bits fit float's 24-bit significand. */
  if (magnitude >> 24 && (magnitude >> __builtin_ctzll (magnitude)) >> 24)
    return FALSE;
  float value = (float) magnitude;
  *out = negative ? -value : value;
  return TRUE;
}

/* Fills `out` (numel, C order) from the file's items, transposing Fortran order. */
static gboolean
npy_convert (const guint8 *data, const NpyArray *array, gsize numel, float *out, const char *label, GError **error)
{
  gsize source_stride[NFN_TENSOR_MAX_RANK];
  gsize index[NFN_TENSOR_MAX_RANK] = { 0 };
  int rank = array->rank;
  /* In Fortran order the first axis varies fastest; in C order the last. */
  gsize stride = 1;
  for (int d = 0; d < rank; d++)
    {
      int axis = array->fortran_order ? d : rank - 1 - d;
      source_stride[axis] = stride;
      stride *= (gsize) array->shape[axis];
    }
  gsize offset = 0; /* in items, of the element at `index` */
  for (gsize e = 0; e < numel; e++)
    {
      if (!npy_item_to_float (data + offset * (gsize) array->itemsize, array, &out[e]))
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label,
                              "integer at item %zu has no exact float32 value", offset);
          return FALSE;
        }
      for (int d = rank - 1; d >= 0; d--)
        {
          offset += source_stride[d];
          if (++index[d] < (gsize) array->shape[d])
            break;
          offset -= source_stride[d] * (gsize) array->shape[d];
          index[d] = 0;
        }
    }
  return TRUE;
}

static NfnTensor *
npy_parse_into (NfnSafetensors *st, const guint8 *bytes, gsize length, const char *label, const char *name,
                GError **error)
{
  if (length < NPY_MAGIC_LENGTH + 2 || memcmp (bytes, NPY_MAGIC, NPY_MAGIC_LENGTH) != 0)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "not a .npy file (no \\x93NUMPY magic)");
      return NULL;
    }
  int major = bytes[6], minor = bytes[7];
  if (major < 1 || major > 3 || minor != 0)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, label, ".npy version %d.%d not supported (1.0, 2.0, 3.0)",
                          major, minor);
      return NULL;
    }
  gsize length_bytes = major == 1 ? 2 : 4;
  gsize header_start = NPY_MAGIC_LENGTH + 2 + length_bytes;
  if (length < header_start)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "truncated before the header length");
      return NULL;
    }
  gsize header_length = major == 1 ? read_u16 (bytes + 8) : read_u32 (bytes + 8);
  if (header_length > length - header_start)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "header of %zu bytes runs past the end (%zu bytes)",
                          header_length, length);
      return NULL;
    }
  NpyArray array = { 0 };
  if (!npy_parse_header ((const char *) bytes + header_start, header_length, label, &array, error))
    return NULL;

  guint64 numel = 1, data_bytes;
  for (int d = 0; d < array.rank; d++)
    if (!g_uint64_checked_mul (&numel, numel, (guint64) array.shape[d]))
      {
        g_autofree char *shape = nfn_data_format_index (array.shape, array.rank);
        nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "shape %s overflows", shape);
        return NULL;
      }
  gsize data_start = header_start + header_length;
  gsize have = length - data_start;
  if (!g_uint64_checked_mul (&data_bytes, numel, (guint64) array.itemsize) || data_bytes != have)
    {
      g_autofree char *shape = nfn_data_format_index (array.shape, array.rank);
      if (g_uint64_checked_mul (&data_bytes, numel, (guint64) array.itemsize) && data_bytes < have)
        nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "%zu bytes after the %" G_GUINT64_FORMAT
                            " bytes of data that shape %s needs", (gsize) (have - data_bytes), data_bytes, shape);
      else
        nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label,
                            "truncated: shape %s of %d-byte items needs more than the %zu data bytes present", shape,
                            array.itemsize, have);
      return NULL;
    }
  /* numel ≤ data bytes ≤ length, so this allocation is bounded by the input. */
  float *data = g_new (float, (gsize) numel + 1);
  if (!npy_convert (bytes + data_start, &array, (gsize) numel, data, label, error))
    {
      g_free (data);
      return NULL;
    }
  NfnDtype dtype = array.kind != NPY_FLOAT ? NFN_DTYPE_F32
                   : array.itemsize == 2   ? NFN_DTYPE_F16
                   : array.itemsize == 8   ? NFN_DTYPE_F64
                                           : NFN_DTYPE_F32;
  return tensor_append (st, name, dtype, array.rank, array.shape, (gsize) numel, data);
}

NfnSafetensors *
nfn_npy_parse (const guint8 *bytes, gsize length, const char *label, const char *name, GError **error)
{
  g_return_val_if_fail (bytes != NULL || length == 0, NULL);
  g_return_val_if_fail (label != NULL && name != NULL, NULL);
  static const guint8 empty[1];
  g_autoptr (NfnSafetensors) st = nfn_safetensors_new ();
  if (!npy_parse_into (st, bytes ? bytes : empty, length, label, name, error))
    return NULL;
  return g_steal_pointer (&st);
}

static GMappedFile *
numpy_map (const char *path, GError **error)
{
  g_autoptr (GError) local = NULL;
  GMappedFile *mapped = g_mapped_file_new (path, FALSE, &local);
  if (!mapped)
    nfn_data_set_error (error, NFN_DATA_ERROR_IO, path, "cannot read: %s", local->message);
  return mapped;
}

NfnSafetensors *
nfn_npy_load (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_autoptr (GMappedFile) mapped = numpy_map (path, error);
  if (!mapped)
    return NULL;
  g_autofree char *name = g_path_get_basename (path);
  if (g_str_has_suffix (name, ".npy"))
    name[strlen (name) - 4] = '\0';
  return nfn_npy_parse ((const guint8 *) g_mapped_file_get_contents (mapped), g_mapped_file_get_length (mapped),
                        path, name, error);
}

gboolean
nfn_npy_save (const NfnTensor *tensor, const char *path, GError **error)
{
  g_return_val_if_fail (tensor != NULL && path != NULL, FALSE);
  g_return_val_if_fail (tensor->rank >= 0 && tensor->rank <= NFN_TENSOR_MAX_RANK, FALSE);
  GString *header = g_string_new ("{'descr': '<f4', 'fortran_order': False, 'shape': (");
  for (int d = 0; d < tensor->rank; d++)
    g_string_append_printf (header, "%s%" G_GINT64_FORMAT, d ? ", " : "", tensor->shape[d]);
  g_string_append (header, tensor->rank == 1 ? ",), }" : "), }");
  /* Version 1.0 (u16 length) is what numpy itself writes for every header this small. */
  gsize prefix = NPY_MAGIC_LENGTH + 2 + 2;
  while ((prefix + header->len + 1) % NPY_ALIGN != 0)
    g_string_append_c (header, ' ');
  g_string_append_c (header, '\n');
  g_assert (header->len <= G_MAXUINT16);

  gsize total = prefix + header->len + 4 * tensor->numel;
  g_autofree guint8 *contents = g_malloc (total);
  memcpy (contents, NPY_MAGIC, NPY_MAGIC_LENGTH);
  contents[6] = 1;
  contents[7] = 0;
  contents[8] = (guint8) (header->len & 0xff);
  contents[9] = (guint8) (header->len >> 8);
  memcpy (contents + prefix, header->str, header->len);
  nfn_data_put_f32_le (contents + prefix + header->len, tensor->data, tensor->numel);
  g_string_free (header, TRUE);
  return nfn_data_write_atomic (path, contents, total, error);
}

/* ---- .npz: zip ---- */

typedef struct {
  char *name;
  guint16 flags, method;
  guint32 crc;
  guint64 compressed, uncompressed, local_offset;
  gsize data_start, data_end; /* filled from the local header */
} ZipMember;

static void
zip_member_clear (ZipMember *member)
{
  g_free (member->name);
}

/* Resolves 0xffffffff fields from a zip64 extra block (id 1), in the order the format
 * fixes: uncompressed, compressed, local header offset. */
static gboolean
zip64_resolve (const guint8 *extra, gsize extra_length, guint64 *uncompressed, guint64 *compressed, guint64 *offset,
               const char **fault)
{
  gboolean need_uncompressed = uncompressed && *uncompressed == 0xffffffffu;
  gboolean need_compressed = compressed && *compressed == 0xffffffffu;
  gboolean need_offset = offset && *offset == 0xffffffffu;
  if (!need_uncompressed && !need_compressed && !need_offset)
    return TRUE;
  gsize p = 0;
  while (extra_length - p >= 4)
    {
      guint16 id = read_u16 (extra + p), size = read_u16 (extra + p + 2);
      p += 4;
      if (size > extra_length - p)
        break;
      if (id == ZIP64_EXTRA_ID)
        {
          gsize need = 8 * (gsize) (need_uncompressed + need_compressed + need_offset);
          if (size < need)
            break;
          const guint8 *q = extra + p;
          if (need_uncompressed)
            *uncompressed = read_u64 (q), q += 8;
          if (need_compressed)
            *compressed = read_u64 (q), q += 8;
          if (need_offset)
            *offset = read_u64 (q);
          return TRUE;
        }
      p += size;
    }
  *fault = "sizes of 0xffffffff without a zip64 extra field to hold them";
  return FALSE;
}

/* The end of central directory record, and the zip64 one if its fields say so. */
static gboolean
zip_find_directory (const guint8 *bytes, gsize length, const char *label, guint64 *entries, guint64 *cd_offset,
                    guint64 *cd_size, gsize *cd_limit, GError **error)
{
  if (length < ZIP_END_SIZE)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "not a zip archive (%zu bytes)", length);
      return FALSE;
    }
  /* The record ends the file, after a comment of at most 65535 bytes: the nearest signature
   * whose comment length reaches exactly to the end. */
  gsize end = G_MAXSIZE;
  gsize lowest = length - ZIP_END_SIZE > 0xffff ? length - ZIP_END_SIZE - 0xffff : 0;
  for (gsize p = length - ZIP_END_SIZE + 1; p-- > lowest;)
    if (read_u32 (bytes + p) == ZIP_END_SIGNATURE && p + ZIP_END_SIZE + read_u16 (bytes + p + 20) == length)
      {
        end = p;
        break;
      }
  if (end == G_MAXSIZE)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "not a zip archive (no end of central directory)");
      return FALSE;
    }
  const guint8 *e = bytes + end;
  if (read_u16 (e + 4) != 0 || read_u16 (e + 6) != 0)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, label, "multi-disk zip archives are not supported");
      return FALSE;
    }
  *entries = read_u16 (e + 10);
  *cd_size = read_u32 (e + 12);
  *cd_offset = read_u32 (e + 16);
  *cd_limit = end;
  if (read_u16 (e + 8) != *entries)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "entry counts in the end record disagree");
      return FALSE;
    }
  if (*entries != 0xffff && *cd_size != 0xffffffffu && *cd_offset != 0xffffffffu)
    return TRUE;

  if (end < ZIP64_LOCATOR_SIZE || read_u32 (bytes + end - ZIP64_LOCATOR_SIZE) != ZIP64_LOCATOR_SIGNATURE)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "zip64 fields without a zip64 end locator");
      return FALSE;
    }
  const guint8 *locator = bytes + end - ZIP64_LOCATOR_SIZE;
  guint64 record = read_u64 (locator + 8);
  gsize record_limit = end - ZIP64_LOCATOR_SIZE;
  /* Its size field counts what follows the first 12 bytes; nothing may sit between it and the locator. */
  if (read_u32 (locator + 4) != 0 || read_u32 (locator + 16) > 1 || record > record_limit
      || record_limit - record < ZIP64_END_SIZE || read_u32 (bytes + record) != ZIP64_END_SIGNATURE
      || read_u64 (bytes + record + 4) != record_limit - record - 12)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "bad zip64 end of central directory");
      return FALSE;
    }
  const guint8 *z = bytes + record;
  if (read_u32 (z + 16) != 0 || read_u32 (z + 20) != 0 || read_u64 (z + 24) != read_u64 (z + 32))
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, label, "multi-disk zip archives are not supported");
      return FALSE;
    }
  *entries = read_u64 (z + 32);
  *cd_size = read_u64 (z + 40);
  *cd_offset = read_u64 (z + 48);
  *cd_limit = (gsize) record;
  return TRUE;
}

/* Reads the central directory into `members` (ZipMember), checking each local header. */
static gboolean
zip_read_directory (const guint8 *bytes, gsize length, const char *label, GArray *members, GError **error)
{
  guint64 entries, cd_offset, cd_size;
  gsize cd_limit;
  if (!zip_find_directory (bytes, length, label, &entries, &cd_offset, &cd_size, &cd_limit, error))
    return FALSE;
  if (cd_offset > cd_limit || cd_size != cd_limit - cd_offset)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label,
                          "central directory (%" G_GUINT64_FORMAT " bytes at %" G_GUINT64_FORMAT
                          ") does not end where the end record begins (%zu)",
                          cd_size, cd_offset, cd_limit);
      return FALSE;
    }
  g_autoptr (GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  gsize p = (gsize) cd_offset;
  for (guint64 k = 0; k < entries; k++)
    {
      if (cd_limit - p < ZIP_CENTRAL_SIZE || read_u32 (bytes + p) != ZIP_CENTRAL_SIGNATURE)
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label,
                              "central directory entry %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " is missing",
                              k + 1, entries);
          return FALSE;
        }
      const guint8 *c = bytes + p;
      gsize name_length = read_u16 (c + 28), extra_length = read_u16 (c + 30), comment_length = read_u16 (c + 32);
      if (cd_limit - p - ZIP_CENTRAL_SIZE < name_length + extra_length + comment_length)
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "central directory entry %" G_GUINT64_FORMAT
                              " runs past the directory", k + 1);
          return FALSE;
        }
      ZipMember member = { 0 };
      member.flags = read_u16 (c + 8);
      member.method = read_u16 (c + 10);
      member.crc = read_u32 (c + 16);
      member.compressed = read_u32 (c + 20);
      member.uncompressed = read_u32 (c + 24);
      member.local_offset = read_u32 (c + 42);
      member.name = g_strndup ((const char *) c + ZIP_CENTRAL_SIZE, name_length);
      g_array_append_val (members, member);
      ZipMember *m = &g_array_index (members, ZipMember, members->len - 1);
      g_autofree char *quoted = nfn_data_quote (m->name);
      const char *fault = NULL;
      NfnDataError code = NFN_DATA_ERROR_UNSUPPORTED;
      if (read_u16 (c + 34) != 0 && read_u16 (c + 34) != 0xffff)
        fault = "lies on another disk";
      else if (m->flags & (ZIP_FLAG_ENCRYPTED | ZIP_FLAG_STRONG_ENCRYPTION))
        fault = "is encrypted";
      else if (m->method != ZIP_METHOD_STORED && m->method != ZIP_METHOD_DEFLATED)
        fault = "uses a compression method other than stored or deflated";
      else if ((code = NFN_DATA_ERROR_FORMAT, strlen (m->name) != name_length))
        fault = "name holds a NUL byte";
      else if (!zip64_resolve (c + ZIP_CENTRAL_SIZE + name_length, extra_length, &m->uncompressed, &m->compressed,
                               &m->local_offset, &fault))
        ;
      else if (g_hash_table_contains (names, m->name))
        fault = "appears twice";
      if (fault)
        {
          nfn_data_set_error (error, code, label, "member %s %s", quoted, fault);
          return FALSE;
        }
      g_hash_table_add (names, m->name);
      if (m->uncompressed > NFN_NPZ_MAX_MEMBER_BYTES)
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label,
                              "member %s declares %" G_GUINT64_FORMAT " bytes uncompressed, above the cap of %"
                              G_GUINT64_FORMAT " (a zip bomb?)",
                              quoted, m->uncompressed, NFN_NPZ_MAX_MEMBER_BYTES);
          return FALSE;
        }
      if (m->method == ZIP_METHOD_STORED && m->compressed != m->uncompressed)
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "stored member %s has different sizes (%"
                              G_GUINT64_FORMAT " and %" G_GUINT64_FORMAT ")", quoted, m->compressed, m->uncompressed);
          return FALSE;
        }

      /* The local header: same name, and the same sizes unless a data descriptor holds them. */
      if (m->local_offset > cd_offset || cd_offset - m->local_offset < ZIP_LOCAL_SIZE
          || read_u32 (bytes + m->local_offset) != ZIP_LOCAL_SIGNATURE)
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "member %s: no local header at offset %"
                              G_GUINT64_FORMAT, quoted, m->local_offset);
          return FALSE;
        }
      const guint8 *l = bytes + m->local_offset;
      gsize local_name = read_u16 (l + 26), local_extra = read_u16 (l + 28);
      gsize header_end = (gsize) m->local_offset + ZIP_LOCAL_SIZE + local_name + local_extra;
      guint64 local_compressed = read_u32 (l + 18), local_uncompressed = read_u32 (l + 22);
      if (header_end > cd_offset)
        fault = "local header runs into the central directory";
      else if (local_name != name_length || memcmp (l + ZIP_LOCAL_SIZE, c + ZIP_CENTRAL_SIZE, name_length) != 0)
        fault = "has a different name in its local header";
      else if (read_u16 (l + 6) != m->flags || read_u16 (l + 8) != m->method)
        fault = "has different flags or method in its local header";
      else if (!(m->flags & ZIP_FLAG_DATA_DESCRIPTOR)
               && (!zip64_resolve (l + ZIP_LOCAL_SIZE + local_name, local_extra, &local_uncompressed,
                                   &local_compressed, NULL, &fault)
                   || read_u32 (l + 14) != m->crc || local_compressed != m->compressed
                   || local_uncompressed != m->uncompressed))
        fault = fault ? fault : "has a different CRC or sizes in its local header";
      else if (m->compressed > cd_offset - header_end)
        fault = "data runs into the central directory";
      if (fault)
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "member %s %s", quoted, fault);
          return FALSE;
        }
      m->data_start = header_end;
      m->data_end = header_end + (gsize) m->compressed;
      p += ZIP_CENTRAL_SIZE + name_length + extra_length + comment_length;
    }
  if (p != cd_limit)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "%zu bytes in the central directory after its %"
                          G_GUINT64_FORMAT " entries", cd_limit - p, entries);
      return FALSE;
    }
  return TRUE;
}

static gint
zip_member_compare_offset (gconstpointer a, gconstpointer b)
{
  const ZipMember *x = *(ZipMember *const *) a, *y = *(ZipMember *const *) b;
  return x->local_offset < y->local_offset ? -1 : x->local_offset > y->local_offset;
}

/* Overlapping members are how a small zip unpacks to many copies of one big stream. */
static gboolean
zip_check_no_overlap (GArray *members, const char *label, GError **error)
{
  g_autoptr (GPtrArray) order = g_ptr_array_sized_new (members->len);
  for (guint k = 0; k < members->len; k++)
    g_ptr_array_add (order, &g_array_index (members, ZipMember, k));
  g_ptr_array_sort (order, zip_member_compare_offset);
  for (guint k = 1; k < order->len; k++)
    {
      const ZipMember *before = g_ptr_array_index (order, k - 1), *after = g_ptr_array_index (order, k);
      if (before->data_end > after->local_offset)
        {
          g_autofree char *a = nfn_data_quote (before->name);
          g_autofree char *b = nfn_data_quote (after->name);
          nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "members %s and %s overlap", a, b);
          return FALSE;
        }
    }
  return TRUE;
}

/* Raw deflate into a buffer that grows only as output appears, and never past declared + 1:
 * one byte more than declared is enough to know it lies. */
static guint8 *
zip_inflate (const guint8 *in, gsize in_length, guint64 declared, const char *label, const char *quoted,
             GError **error)
{
  z_stream zs = { 0 };
  if (inflateInit2 (&zs, -15) != Z_OK)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_IO, label, "cannot start zlib");
      return NULL;
    }
  gsize capacity = (gsize) MIN (declared + 1, (guint64) 1 << 20);
  guint8 *out = g_malloc (capacity);
  gsize produced = 0, fed = 0;
  const char *fault = NULL;
  for (;;)
    {
      if (zs.avail_in == 0 && fed < in_length)
        {
          gsize feed = MIN (in_length - fed, (gsize) 1 << 30);
          zs.next_in = (Bytef *) (in + fed);
          zs.avail_in = (uInt) feed;
          fed += feed;
        }
      if (produced == capacity)
        {
          capacity = (gsize) MIN ((guint64) capacity * 2, declared + 1);
          out = g_realloc (out, capacity);
        }
      uInt room = (uInt) (capacity - produced);
      zs.next_out = out + produced;
      zs.avail_out = room;
      int rc = inflate (&zs, Z_NO_FLUSH);
      produced += room - zs.avail_out;
      if (produced > declared)
        {
          fault = "inflates to more bytes than it declares (a zip bomb?)";
          break;
        }
      if (rc == Z_STREAM_END)
        {
          if (produced != declared)
            fault = "inflates to fewer bytes than it declares";
          else if (zs.avail_in != 0 || fed != in_length)
            fault = "has bytes after its deflate stream";
          break;
        }
      gboolean input_left = zs.avail_in > 0 || fed < in_length;
      if (rc == Z_OK && (zs.avail_out == 0 || input_left))
        continue;
      if (rc == Z_OK || (rc == Z_BUF_ERROR && !input_left))
        fault = "deflate stream is truncated";
      else
        fault = "has corrupt deflate data";
      break;
    }
  inflateEnd (&zs);
  if (fault)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "member %s %s", quoted, fault);
      g_free (out);
      return NULL;
    }
  return out;
}

NfnSafetensors *
nfn_npz_parse (const guint8 *bytes, gsize length, const char *label, GError **error)
{
  g_return_val_if_fail (bytes != NULL || length == 0, NULL);
  g_return_val_if_fail (label != NULL, NULL);
  static const guint8 empty[1];
  if (!bytes)
    bytes = empty;
  g_autoptr (GArray) members = g_array_new (FALSE, TRUE, sizeof (ZipMember));
  g_array_set_clear_func (members, (GDestroyNotify) zip_member_clear);
  if (!zip_read_directory (bytes, length, label, members, error) || !zip_check_no_overlap (members, label, error))
    return NULL;

  g_autoptr (NfnSafetensors) st = nfn_safetensors_new ();
  for (guint k = 0; k < members->len; k++)
    {
      const ZipMember *m = &g_array_index (members, ZipMember, k);
      g_autofree char *quoted = nfn_data_quote (m->name);
      gsize name_length = strlen (m->name);
      if (name_length <= 4 || !g_str_has_suffix (m->name, ".npy"))
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "member %s is not a NAME.npy array", quoted);
          return NULL;
        }
      g_autofree guint8 *inflated = NULL;
      const guint8 *data = bytes + m->data_start;
      if (m->method == ZIP_METHOD_DEFLATED)
        {
          inflated = zip_inflate (data, m->data_end - m->data_start, m->uncompressed, label, quoted, error);
          if (!inflated)
            return NULL;
          data = inflated;
        }
      gsize size = (gsize) m->uncompressed;
      guint32 crc = (guint32) crc32_z (0, data, size);
      if (crc != m->crc)
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "member %s fails its CRC-32 (0x%08x, expected 0x%08x)",
                              quoted, crc, m->crc);
          return NULL;
        }
      g_autofree char *tensor_name = g_strndup (m->name, name_length - 4);
      g_autofree char *member_label = g_strdup_printf ("%s, member %s", label, quoted);
      if (!npy_parse_into (st, data, size, member_label, tensor_name, error))
        return NULL;
    }
  return g_steal_pointer (&st);
}

NfnSafetensors *
nfn_npz_load (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_autoptr (GMappedFile) mapped = numpy_map (path, error);
  if (!mapped)
    return NULL;
  return nfn_npz_parse ((const guint8 *) g_mapped_file_get_contents (mapped), g_mapped_file_get_length (mapped), path,
                        error);
}
