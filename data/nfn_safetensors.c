/* nfn_safetensors.c — safetensors reader (F32, F64, F16, BF16 → float) and F32 writer.
 *
 * The header is read with a small strict JSON parser of our own: json-glib keeps the last of
 * two equal keys without a word, and a duplicate tensor name is exactly the kind of damage a
 * reader must report. Every fault becomes a one-line GError "LABEL: fault".
 */
#include "nfn_safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

/* The reference implementation refuses headers above 100 MB; a larger one is an attack or junk. */
#define ST_MAX_HEADER_LENGTH 100000000u
/* Nesting deeper than this cannot be a valid header and would only grow the stack. */
#define ST_MAX_JSON_DEPTH 32
/* Shapes and offsets must be exact in a double, as in every JSON reader a writer may test with. */
#define ST_MAX_JSON_INTEGER (G_GUINT64_CONSTANT (1) << 53)

G_DEFINE_QUARK (nfn-data-error-quark, nfn_data_error)

const char *
nfn_dtype_name (NfnDtype dtype)
{
  switch (dtype)
    {
    case NFN_DTYPE_F32: return "F32";
    case NFN_DTYPE_F64: return "F64";
    case NFN_DTYPE_F16: return "F16";
    case NFN_DTYPE_BF16: return "BF16";
    }
  return "?";
}

/* ---- error messages ---- */

char *
nfn_data_quote (const char *name)
{
  GString *out = g_string_new ("\"");
  for (const unsigned char *p = (const unsigned char *) name; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_printf (out, "\\%c", *p);
      else if (*p < 0x20 || *p == 0x7f)
        g_string_append_printf (out, "\\u%04x", *p);
      else
        g_string_append_c (out, (char) *p);
    }
  g_string_append_c (out, '"');
  return g_string_free (out, FALSE);
}

void
nfn_data_set_error (GError **error, NfnDataError code, const char *label, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *fault = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, NFN_DATA_ERROR, code, "%s: %s", label, fault);
}

char *
nfn_data_format_index (const gint64 *values, int count)
{
  GString *out = g_string_new ("[");
  for (int d = 0; d < count; d++)
    g_string_append_printf (out, "%s%" G_GINT64_FORMAT, d ? "," : "", values[d]);
  g_string_append_c (out, ']');
  return g_string_free (out, FALSE);
}

/* ---- a strict JSON reader, just enough for a header ---- */

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } JsonKind;

typedef struct JsonValue JsonValue;
struct JsonValue {
  JsonKind kind;
  char *text;       /* JSON_STRING: decoded UTF-8; JSON_NUMBER: the literal as written */
  gboolean integer; /* JSON_NUMBER: non-negative, no fraction or exponent, ≤ 2^53 */
  guint64 value;    /* JSON_NUMBER when `integer` */
  GPtrArray *items; /* JSON_ARRAY: JsonValue*; JSON_OBJECT: JsonMember*, in file order */
};

typedef struct {
  char *key;
  JsonValue *value;
} JsonMember;

static void
json_value_free (JsonValue *value)
{
  if (!value)
    return;
  g_free (value->text);
  if (value->items)
    g_ptr_array_unref (value->items);
  g_free (value);
}

static void
json_member_free (JsonMember *member)
{
  g_free (member->key);
  json_value_free (member->value);
  g_free (member);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (JsonValue, json_value_free)

typedef struct {
  const char *text;
  gsize length;
  gsize pos;
  const char *fault; /* first syntax fault, static string */
  gsize fault_pos;
} JsonReader;

static gboolean
json_error (JsonReader *reader, const char *fault)
{
  if (!reader->fault)
    {
      reader->fault = fault;
      reader->fault_pos = reader->pos;
    }
  return FALSE;
}

static void
json_skip_space (JsonReader *reader)
{
  while (reader->pos < reader->length)
    {
      char c = reader->text[reader->pos];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
        break;
      reader->pos++;
    }
}

static int
json_peek (JsonReader *reader)
{
  return reader->pos < reader->length ? (unsigned char) reader->text[reader->pos] : -1;
}

static int
json_hex_digit (int c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Four hex digits after "\u"; -1 if malformed. */
static int
json_read_hex4 (JsonReader *reader)
{
  if (reader->length - reader->pos < 4)
    return -1;
  int code = 0;
  for (int k = 0; k < 4; k++)
    {
      int digit = json_hex_digit ((unsigned char) reader->text[reader->pos + k]);
      if (digit < 0)
        return -1;
      code = code * 16 + digit;
    }
  reader->pos += 4;
  return code;
}

/* At the opening quote; returns the decoded string or NULL. The header was checked to be
 * UTF-8 as a whole, so raw bytes are copied as they are. */
static char *
json_read_string (JsonReader *reader)
{
  GString *out = g_string_new (NULL);
  reader->pos++; /* opening quote */
  for (;;)
    {
      int c = json_peek (reader);
      if (c < 0)
        {
          json_error (reader, "unterminated string");
          break;
        }
      if (c == '"')
        {
          reader->pos++;
          return g_string_free (out, FALSE);
        }
      if (c < 0x20)
        {
          json_error (reader, "control character in string");
          break;
        }
      if (c != '\\')
        {
          g_string_append_c (out, (char) c);
          reader->pos++;
          continue;
        }
      reader->pos++;
      int escape = json_peek (reader);
      reader->pos++;
      switch (escape)
        {
        case '"': g_string_append_c (out, '"'); continue;
        case '\\': g_string_append_c (out, '\\'); continue;
        case '/': g_string_append_c (out, '/'); continue;
        case 'b': g_string_append_c (out, '\b'); continue;
        case 'f': g_string_append_c (out, '\f'); continue;
        case 'n': g_string_append_c (out, '\n'); continue;
        case 'r': g_string_append_c (out, '\r'); continue;
        case 't': g_string_append_c (out, '\t'); continue;
        case 'u': break;
        default:
          reader->pos--;
          json_error (reader, "invalid escape in string");
          g_string_free (out, TRUE);
          return NULL;
        }
      int code = json_read_hex4 (reader);
      if (code < 0)
        {
          json_error (reader, "invalid \\u escape");
          break;
        }
      if (code >= 0xdc00 && code <= 0xdfff)
        {
          json_error (reader, "lone low surrogate in \\u escape");
          break;
        }
      if (code >= 0xd800 && code <= 0xdbff)
        {
          if (reader->length - reader->pos < 2 || reader->text[reader->pos] != '\\'
              || reader->text[reader->pos + 1] != 'u')
            {
              json_error (reader, "high surrogate without a low surrogate");
              break;
            }
          reader->pos += 2;
          int low = json_read_hex4 (reader);
          if (low < 0xdc00 || low > 0xdfff)
            {
              json_error (reader, "high surrogate without a low surrogate");
              break;
            }
          code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        }
      if (code == 0)
        {
          /* Names become C strings; a NUL would silently cut them. */
          json_error (reader, "\\u0000 in string");
          break;
        }
      g_string_append_unichar (out, (gunichar) code);
    }
  g_string_free (out, TRUE);
  return NULL;
}

static gboolean
json_read_number (JsonReader *reader, JsonValue *value)
{
  gsize start = reader->pos;
  gboolean negative = FALSE, fraction = FALSE, overflow = FALSE;
  guint64 magnitude = 0;
  if (json_peek (reader) == '-')
    {
      negative = TRUE;
      reader->pos++;
    }
  int c = json_peek (reader);
  if (c < '0' || c > '9')
    return json_error (reader, "invalid number");
  if (c == '0')
    reader->pos++;
  else
    while ((c = json_peek (reader)) >= '0' && c <= '9')
      {
        guint64 digit = (guint64) (c - '0');
        if (magnitude > (G_MAXUINT64 - digit) / 10)
          overflow = TRUE;
        else
          magnitude = magnitude * 10 + digit;
        reader->pos++;
      }
  if (json_peek (reader) == '.')
    {
      fraction = TRUE;
      reader->pos++;
      c = json_peek (reader);
      if (c < '0' || c > '9')
        return json_error (reader, "invalid number");
      while ((c = json_peek (reader)) >= '0' && c <= '9')
        reader->pos++;
    }
  c = json_peek (reader);
  if (c == 'e' || c == 'E')
    {
      fraction = TRUE;
      reader->pos++;
      c = json_peek (reader);
      if (c == '+' || c == '-')
        reader->pos++;
      c = json_peek (reader);
      if (c < '0' || c > '9')
        return json_error (reader, "invalid number");
      while ((c = json_peek (reader)) >= '0' && c <= '9')
        reader->pos++;
    }
  value->kind = JSON_NUMBER;
  value->text = g_strndup (reader->text + start, reader->pos - start);
  value->integer = !negative && !fraction && !overflow && magnitude <= ST_MAX_JSON_INTEGER;
  value->value = value->integer ? magnitude : 0;
  return TRUE;
}

static gboolean
json_read_literal (JsonReader *reader, const char *word)
{
  gsize n = strlen (word);
  if (reader->length - reader->pos < n || memcmp (reader->text + reader->pos, word, n) != 0)
    return json_error (reader, "unexpected character");
  reader->pos += n;
  return TRUE;
}

static JsonValue *json_read_value (JsonReader *reader, int depth);

static gboolean
json_read_members (JsonReader *reader, int depth, JsonValue *value)
{
  gboolean is_object = value->kind == JSON_OBJECT;
  char close = is_object ? '}' : ']';
  reader->pos++; /* opening bracket */
  json_skip_space (reader);
  if (json_peek (reader) == close)
    {
      reader->pos++;
      return TRUE;
    }
  for (;;)
    {
      json_skip_space (reader);
      char *key = NULL;
      if (is_object)
        {
          if (json_peek (reader) != '"')
            return json_error (reader, "expected a string key");
          key = json_read_string (reader);
          if (!key)
            return FALSE;
          json_skip_space (reader);
          if (json_peek (reader) != ':')
            {
              g_free (key);
              return json_error (reader, "expected ':'");
            }
          reader->pos++;
        }
      JsonValue *item = json_read_value (reader, depth + 1);
      if (!item)
        {
          g_free (key);
          return FALSE;
        }
      if (is_object)
        {
          JsonMember *member = g_new0 (JsonMember, 1);
          member->key = key;
          member->value = item;
          g_ptr_array_add (value->items, member);
        }
      else
        g_ptr_array_add (value->items, item);
      json_skip_space (reader);
      int c = json_peek (reader);
      reader->pos++;
      if (c == close)
        return TRUE;
      if (c != ',')
        {
          reader->pos--;
          return json_error (reader, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
}

static JsonValue *
json_read_value (JsonReader *reader, int depth)
{
  if (depth > ST_MAX_JSON_DEPTH)
    {
      json_error (reader, "nesting too deep");
      return NULL;
    }
  json_skip_space (reader);
  g_autoptr (JsonValue) value = g_new0 (JsonValue, 1);
  int c = json_peek (reader);
  gboolean ok;
  switch (c)
    {
    case '{':
      value->kind = JSON_OBJECT;
      value->items = g_ptr_array_new_with_free_func ((GDestroyNotify) json_member_free);
      ok = json_read_members (reader, depth, value);
      break;
    case '[':
      value->kind = JSON_ARRAY;
      value->items = g_ptr_array_new_with_free_func ((GDestroyNotify) json_value_free);
      ok = json_read_members (reader, depth, value);
      break;
    case '"':
      value->kind = JSON_STRING;
      value->text = json_read_string (reader);
      ok = value->text != NULL;
      break;
    case 't':
      value->kind = JSON_BOOL;
      ok = json_read_literal (reader, "true");
      break;
    case 'f':
      value->kind = JSON_BOOL;
      ok = json_read_literal (reader, "false");
      break;
    case 'n':
      value->kind = JSON_NULL;
      ok = json_read_literal (reader, "null");
      break;
    case -1:
      ok = json_error (reader, "unexpected end");
      break;
    default:
      if (c == '-' || (c >= '0' && c <= '9'))
        ok = json_read_number (reader, value);
      else
        ok = json_error (reader, "unexpected character");
      break;
    }
  return ok ? g_steal_pointer (&value) : NULL;
}

/* ---- header validation ---- */

typedef struct {
  const char *name;
  gsize size; /* bytes per element; 0 if the layout is not whole bytes */
  gboolean supported;
  NfnDtype dtype;
} StDtypeInfo;

/* Every dtype the format defines, so that a valid file of another dtype is told apart from
 * a damaged one. */
static const StDtypeInfo st_dtypes[] = {
  { "F32", 4, TRUE, NFN_DTYPE_F32 },   { "F64", 8, TRUE, NFN_DTYPE_F64 },
  { "F16", 2, TRUE, NFN_DTYPE_F16 },   { "BF16", 2, TRUE, NFN_DTYPE_BF16 },
  { "BOOL", 1, FALSE, 0 },  { "U8", 1, FALSE, 0 },  { "I8", 1, FALSE, 0 },
  { "I16", 2, FALSE, 0 },   { "U16", 2, FALSE, 0 }, { "I32", 4, FALSE, 0 },
  { "U32", 4, FALSE, 0 },   { "I64", 8, FALSE, 0 }, { "U64", 8, FALSE, 0 },
  { "F8_E5M2", 1, FALSE, 0 }, { "F8_E4M3", 1, FALSE, 0 }, { "F8_E8M0", 1, FALSE, 0 },
  { "F4", 0, FALSE, 0 },    { "F6_E2M3", 0, FALSE, 0 }, { "F6_E3M2", 0, FALSE, 0 },
  { "C64", 8, FALSE, 0 },
};

static const StDtypeInfo *
st_dtype_lookup (const char *name)
{
  for (gsize k = 0; k < G_N_ELEMENTS (st_dtypes); k++)
    if (strcmp (st_dtypes[k].name, name) == 0)
      return &st_dtypes[k];
  return NULL;
}

/* One tensor entry of the header, before its data is converted. */
typedef struct {
  const char *name; /* borrowed from the JSON tree */
  const StDtypeInfo *dtype;
  int rank;
  gint64 shape[NFN_TENSOR_MAX_RANK];
  gsize numel;
  guint64 begin, end;
} StEntry;

static JsonValue *
json_object_get (const JsonValue *object, const char *key)
{
  for (guint k = 0; k < object->items->len; k++)
    {
      JsonMember *member = g_ptr_array_index (object->items, k);
      if (strcmp (member->key, key) == 0)
        return member->value;
    }
  return NULL;
}

static gboolean
st_parse_metadata (const JsonValue *value, NfnSafetensors *st, const char *label, GError **error)
{
  if (value->kind == JSON_NULL)
    return TRUE; /* the reference writes null for "no metadata" */
  if (value->kind != JSON_OBJECT)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "__metadata__ is not an object");
      return FALSE;
    }
  for (guint k = 0; k < value->items->len; k++)
    {
      JsonMember *member = g_ptr_array_index (value->items, k);
      g_autofree char *key = nfn_data_quote (member->key);
      if (member->value->kind != JSON_STRING)
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "__metadata__ value of %s is not a string",
                              key);
          return FALSE;
        }
      if (g_hash_table_contains (st->metadata, member->key))
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "duplicate __metadata__ key %s", key);
          return FALSE;
        }
      nfn_safetensors_set_metadata (st, member->key, member->value->text);
    }
  return TRUE;
}

/* Reads one non-negative integer of a shape or data_offsets array. */
static gboolean
st_json_integer (const JsonValue *value, guint64 *out)
{
  if (value->kind != JSON_NUMBER || !value->integer)
    return FALSE;
  *out = value->value;
  return TRUE;
}

static gboolean
st_parse_entry (const JsonMember *member, StEntry *entry, const char *label, GError **error)
{
  g_autofree char *name = nfn_data_quote (member->key);
  const JsonValue *info = member->value;
  entry->name = member->key;
  if (info->kind != JSON_OBJECT)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "tensor %s: entry is not an object", name);
      return FALSE;
    }
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint k = 0; k < info->items->len; k++)
    {
      JsonMember *field = g_ptr_array_index (info->items, k);
      g_autofree char *key = nfn_data_quote (field->key);
      if (strcmp (field->key, "dtype") != 0 && strcmp (field->key, "shape") != 0
          && strcmp (field->key, "data_offsets") != 0)
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "tensor %s: unknown key %s", name, key);
          return FALSE;
        }
      if (!g_hash_table_add (seen, field->key))
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "tensor %s: duplicate key %s", name, key);
          return FALSE;
        }
    }

  const JsonValue *dtype = json_object_get (info, "dtype");
  const JsonValue *shape = json_object_get (info, "shape");
  const JsonValue *offsets = json_object_get (info, "data_offsets");
  const char *missing = !dtype ? "dtype" : !shape ? "shape" : !offsets ? "data_offsets" : NULL;
  if (missing)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "tensor %s: missing \"%s\"", name, missing);
      return FALSE;
    }

  if (dtype->kind != JSON_STRING)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "tensor %s: dtype is not a string", name);
      return FALSE;
    }
  g_autofree char *dtype_name = nfn_data_quote (dtype->text);
  entry->dtype = st_dtype_lookup (dtype->text);
  if (!entry->dtype)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "tensor %s: unknown dtype %s", name,
                          dtype_name);
      return FALSE;
    }
  if (!entry->dtype->supported)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, label, "tensor %s: unsupported dtype %s", name,
                          dtype_name);
      return FALSE;
    }

  if (shape->kind != JSON_ARRAY)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "tensor %s: shape is not an array", name);
      return FALSE;
    }
  if (shape->items->len > NFN_TENSOR_MAX_RANK)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, label, "tensor %s: rank %u exceeds %d", name,
                          shape->items->len, NFN_TENSOR_MAX_RANK);
      return FALSE;
    }
  entry->rank = (int) shape->items->len;
  entry->numel = 1;
  gboolean overflow = FALSE;
  for (int d = 0; d < entry->rank; d++)
    {
      const JsonValue *dim = g_ptr_array_index (shape->items, d);
      guint64 size;
      if (!st_json_integer (dim, &size))
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label,
                              "tensor %s: shape entry %s is not an integer in 0..2^53", name,
                              dim->kind == JSON_NUMBER ? dim->text : "(not a number)");
          return FALSE;
        }
      entry->shape[d] = (gint64) size;
      if (size != 0 && entry->numel > G_MAXSIZE / size)
        overflow = TRUE;
      else
        entry->numel *= (gsize) size;
    }
  /* A zero dimension makes an overflowing product of the others harmless. */
  for (int d = 0; d < entry->rank; d++)
    if (entry->shape[d] == 0)
      overflow = FALSE, entry->numel = 0;
  g_autofree char *shape_text = nfn_data_format_index (entry->shape, entry->rank);
  if (overflow || entry->numel > G_MAXSIZE / entry->dtype->size)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "tensor %s: shape %s element count overflows",
                          name, shape_text);
      return FALSE;
    }

  if (offsets->kind != JSON_ARRAY || offsets->items->len != 2)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label,
                          "tensor %s: data_offsets is not a [begin, end] pair", name);
      return FALSE;
    }
  const JsonValue *begin = g_ptr_array_index (offsets->items, 0);
  const JsonValue *end = g_ptr_array_index (offsets->items, 1);
  if (!st_json_integer (begin, &entry->begin) || !st_json_integer (end, &entry->end))
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label,
                          "tensor %s: data_offsets entries must be integers in 0..2^53", name);
      return FALSE;
    }
  if (entry->begin > entry->end)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label,
                          "tensor %s: data_offsets [%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT
                          "] end before begin",
                          name, entry->begin, entry->end);
      return FALSE;
    }
  guint64 bytes = (guint64) entry->numel * entry->dtype->size;
  if (entry->end - entry->begin != bytes)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label,
                          "tensor %s: shape %s × %" G_GSIZE_FORMAT " bytes = %" G_GUINT64_FORMAT
                          " bytes but data_offsets span %" G_GUINT64_FORMAT,
                          name, shape_text, entry->dtype->size, bytes, entry->end - entry->begin);
      return FALSE;
    }
  return TRUE;
}

static int
st_entry_compare (gconstpointer a, gconstpointer b)
{
  const StEntry *x = a, *y = b;
  if (x->begin != y->begin)
    return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end)
    return x->end < y->end ? -1 : 1;
  return 0;
}

/* ---- element conversion, byte-wise little-endian ---- */

static float
st_float_from_bits (guint32 bits)
{
  float value;
  memcpy (&value, &bits, sizeof value);
  return value;
}

static float
st_half_to_float (guint16 half)
{
  guint32 sign = (guint32) (half >> 15) << 31;
  guint32 exponent = (half >> 10) & 0x1f;
  guint32 mantissa = half & 0x3ff;
  if (exponent == 0)
    {
      /* Subnormal (or zero): mantissa · 2^-24, exact in float. */
      float magnitude = ldexpf ((float) mantissa, -24);
      return sign ? -magnitude : magnitude;
    }
  if (exponent == 31)
    return st_float_from_bits (sign | 0x7f800000u | (mantissa << 13));
  return st_float_from_bits (sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
}

float
nfn_data_half_to_float (guint16 bits)
{
  return st_half_to_float (bits);
}

static void
st_convert (const guint8 *src, NfnDtype dtype, gsize numel, float *dst)
{
  for (gsize e = 0; e < numel; e++)
    switch (dtype)
      {
      case NFN_DTYPE_F32:
        {
          const guint8 *p = src + 4 * e;
          dst[e] = st_float_from_bits ((guint32) p[0] | (guint32) p[1] << 8 | (guint32) p[2] << 16
                                       | (guint32) p[3] << 24);
          break;
        }
      case NFN_DTYPE_F64:
        {
          const guint8 *p = src + 8 * e;
          guint64 bits = 0;
          for (int k = 7; k >= 0; k--)
            bits = bits << 8 | p[k];
          double value;
          memcpy (&value, &bits, sizeof value);
          dst[e] = (float) value;
          break;
        }
      case NFN_DTYPE_F16:
        dst[e] = st_half_to_float ((guint16) (src[2 * e] | src[2 * e + 1] << 8));
        break;
      case NFN_DTYPE_BF16:
        dst[e] = st_float_from_bits ((guint32) (src[2 * e] | src[2 * e + 1] << 8) << 16);
        break;
      }
}

/* ---- the container ---- */

static void
st_tensor_free (NfnTensor *tensor)
{
  g_free (tensor->name);
  g_free (tensor->data);
  g_free (tensor);
}

NfnSafetensors *
nfn_safetensors_new (void)
{
  NfnSafetensors *st = g_new0 (NfnSafetensors, 1);
  st->tensors = g_ptr_array_new_with_free_func ((GDestroyNotify) st_tensor_free);
  st->metadata_keys = g_ptr_array_new_with_free_func (g_free);
  st->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return st;
}

void
nfn_safetensors_free (NfnSafetensors *st)
{
  if (!st)
    return;
  g_ptr_array_unref (st->tensors);
  g_ptr_array_unref (st->metadata_keys);
  g_hash_table_unref (st->metadata);
  g_free (st);
}

NfnTensor *
nfn_safetensors_add (NfnSafetensors *st, const char *name, int rank, const gint64 *shape, const float *data)
{
  g_return_val_if_fail (st && name, NULL);
  g_return_val_if_fail (rank >= 0 && rank <= NFN_TENSOR_MAX_RANK, NULL);
  for (int d = 0; d < rank; d++)
    g_return_val_if_fail (shape[d] >= 0, NULL);
  NfnTensor *tensor = g_new0 (NfnTensor, 1);
  tensor->name = g_strdup (name);
  tensor->dtype = NFN_DTYPE_F32;
  tensor->rank = rank;
  tensor->numel = 1;
  for (int d = 0; d < rank; d++)
    {
      tensor->shape[d] = shape[d];
      tensor->numel *= (gsize) shape[d];
    }
  tensor->data = g_memdup2 (data, tensor->numel * sizeof (float));
  g_ptr_array_add (st->tensors, tensor);
  return tensor;
}

NfnTensor *
nfn_safetensors_find (const NfnSafetensors *st, const char *name)
{
  g_return_val_if_fail (st && name, NULL);
  for (guint k = 0; k < st->tensors->len; k++)
    {
      NfnTensor *tensor = g_ptr_array_index (st->tensors, k);
      if (strcmp (tensor->name, name) == 0)
        return tensor;
    }
  return NULL;
}

void
nfn_safetensors_set_metadata (NfnSafetensors *st, const char *key, const char *value)
{
  g_return_if_fail (st && key && value);
  if (!g_hash_table_contains (st->metadata, key))
    g_ptr_array_add (st->metadata_keys, g_strdup (key));
  g_hash_table_insert (st->metadata, g_strdup (key), g_strdup (value));
}

const char *
nfn_safetensors_get_metadata (const NfnSafetensors *st, const char *key)
{
  g_return_val_if_fail (st && key, NULL);
  return g_hash_table_lookup (st->metadata, key);
}

/* ---- reading ---- */

NfnSafetensors *
nfn_safetensors_parse (const guint8 *bytes, gsize length, const char *label, GError **error)
{
  g_return_val_if_fail (bytes || length == 0, NULL);
  g_return_val_if_fail (label, NULL);
  if (length < 8)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "file too short for the 8-byte header length");
      return NULL;
    }
  guint64 header_length = 0;
  for (int k = 7; k >= 0; k--)
    header_length = header_length << 8 | bytes[k];
  if (header_length > ST_MAX_HEADER_LENGTH)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label,
                          "header length %" G_GUINT64_FORMAT " exceeds the %u-byte limit", header_length,
                          ST_MAX_HEADER_LENGTH);
      return NULL;
    }
  if (header_length > length - 8)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label,
                          "header length %" G_GUINT64_FORMAT " exceeds file size %" G_GSIZE_FORMAT,
                          header_length, length);
      return NULL;
    }
  const char *header = (const char *) bytes + 8;
  if (header_length == 0 || header[0] != '{')
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "header is not a JSON object");
      return NULL;
    }
  if (!g_utf8_validate_len (header, header_length, NULL))
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "header is not valid UTF-8");
      return NULL;
    }

  JsonReader reader = { .text = header, .length = header_length };
  g_autoptr (JsonValue) root = json_read_value (&reader, 0);
  if (root)
    {
      /* The format pads the header with spaces; anything else after the object is junk. */
      json_skip_space (&reader);
      if (reader.pos != reader.length)
        json_error (&reader, "unexpected data after the header object");
    }
  if (reader.fault)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "header JSON: %s at byte %" G_GSIZE_FORMAT,
                          reader.fault, reader.fault_pos + 8);
      return NULL;
    }

  g_autoptr (NfnSafetensors) st = nfn_safetensors_new ();
  g_autoptr (GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GArray) entries = g_array_new (FALSE, TRUE, sizeof (StEntry));
  gboolean have_metadata = FALSE;
  for (guint k = 0; k < root->items->len; k++)
    {
      JsonMember *member = g_ptr_array_index (root->items, k);
      g_autofree char *name = nfn_data_quote (member->key);
      if (strcmp (member->key, "__metadata__") == 0)
        {
          if (have_metadata)
            {
              nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "duplicate key \"__metadata__\"");
              return NULL;
            }
          have_metadata = TRUE;
          if (!st_parse_metadata (member->value, st, label, error))
            return NULL;
          continue;
        }
      if (!g_hash_table_add (names, member->key))
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "duplicate tensor name %s", name);
          return NULL;
        }
      StEntry entry = { 0 };
      if (!st_parse_entry (member, &entry, label, error))
        return NULL;
      g_array_append_val (entries, entry);
    }

  gsize buffer_length = length - 8 - header_length;
  const guint8 *buffer = bytes + 8 + header_length;
  for (guint k = 0; k < entries->len; k++)
    {
      StEntry *entry = &g_array_index (entries, StEntry, k);
      if (entry->end > buffer_length)
        {
          g_autofree char *name = nfn_data_quote (entry->name);
          nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label,
                              "tensor %s: data_offsets [%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT
                              "] out of bounds (buffer is %" G_GSIZE_FORMAT " bytes)",
                              name, entry->begin, entry->end, buffer_length);
          return NULL;
        }
    }
  g_array_sort (entries, st_entry_compare);
  guint64 covered = 0;
  for (guint k = 0; k < entries->len; k++)
    {
      StEntry *entry = &g_array_index (entries, StEntry, k);
      if (entry->begin != covered)
        {
          gboolean gap = entry->begin > covered;
          nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label,
                              "tensors are not contiguous: %s at byte %" G_GUINT64_FORMAT,
                              gap ? "gap" : "overlap", gap ? covered : entry->begin);
          return NULL;
        }
      covered = entry->end;
    }
  if (covered != buffer_length)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label,
                          "%" G_GUINT64_FORMAT " trailing bytes after the last tensor",
                          (guint64) buffer_length - covered);
      return NULL;
    }

  for (guint k = 0; k < entries->len; k++)
    {
      StEntry *entry = &g_array_index (entries, StEntry, k);
      NfnTensor *tensor = g_new0 (NfnTensor, 1);
      tensor->name = g_strdup (entry->name);
      tensor->dtype = entry->dtype->dtype;
      tensor->rank = entry->rank;
      memcpy (tensor->shape, entry->shape, sizeof tensor->shape);
      tensor->numel = entry->numel;
      tensor->data = g_new (float, entry->numel);
      st_convert (buffer + entry->begin, tensor->dtype, entry->numel, tensor->data);
      g_ptr_array_add (st->tensors, tensor);
    }
  return g_steal_pointer (&st);
}

NfnSafetensors *
nfn_safetensors_load (const char *path, GError **error)
{
  g_return_val_if_fail (path, NULL);
  int fd = g_open (path, O_RDONLY, 0);
  if (fd < 0)
    {
      int saved = errno;
      nfn_data_set_error (error, NFN_DATA_ERROR_IO, path, "cannot open: %s", g_strerror (saved));
      return NULL;
    }
  g_autoptr (GError) map_error = NULL;
  GMappedFile *mapped = g_mapped_file_new_from_fd (fd, FALSE, &map_error);
  close (fd);
  if (!mapped)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_IO, path, "cannot read: %s", map_error->message);
      return NULL;
    }
  const guint8 *bytes = (const guint8 *) g_mapped_file_get_contents (mapped);
  gsize length = g_mapped_file_get_length (mapped);
  static const guint8 empty[1];
  NfnSafetensors *st = nfn_safetensors_parse (bytes ? bytes : empty, length, path, error);
  g_mapped_file_unref (mapped);
  return st;
}

/* ---- writing ---- */

static void
st_append_json_string (GString *out, const char *text)
{
  g_string_append_c (out, '"');
  for (const unsigned char *p = (const unsigned char *) text; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_printf (out, "\\%c", *p);
      else if (*p < 0x20)
        g_string_append_printf (out, "\\u%04x", *p);
      else
        g_string_append_c (out, (char) *p);
    }
  g_string_append_c (out, '"');
}

/* Names and metadata the reader would refuse are refused here, so every file we write reads. */
static gboolean
st_check_writable (const NfnSafetensors *st, const char *path, GError **error)
{
  g_autoptr (GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint k = 0; k < st->tensors->len; k++)
    {
      NfnTensor *tensor = g_ptr_array_index (st->tensors, k);
      g_autofree char *name = nfn_data_quote (tensor->name);
      if (!g_utf8_validate (tensor->name, -1, NULL))
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, path, "tensor %s: name is not valid UTF-8", name);
          return FALSE;
        }
      if (strcmp (tensor->name, "__metadata__") == 0 || !g_hash_table_add (names, tensor->name))
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, path, "duplicate tensor name %s", name);
          return FALSE;
        }
    }
  for (guint k = 0; k < st->metadata_keys->len; k++)
    {
      const char *key = g_ptr_array_index (st->metadata_keys, k);
      const char *value = g_hash_table_lookup (st->metadata, key);
      if (!g_utf8_validate (key, -1, NULL) || !g_utf8_validate (value, -1, NULL))
        {
          g_autofree char *quoted = nfn_data_quote (key);
          nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, path, "__metadata__ %s is not valid UTF-8",
                              quoted);
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
nfn_safetensors_save (const NfnSafetensors *st, const char *path, GError **error)
{
  g_return_val_if_fail (st && path, FALSE);
  if (!st_check_writable (st, path, error))
    return FALSE;

  GString *header = g_string_new ("{");
  if (st->metadata_keys->len > 0)
    {
      g_string_append (header, "\"__metadata__\":{");
      for (guint k = 0; k < st->metadata_keys->len; k++)
        {
          const char *key = g_ptr_array_index (st->metadata_keys, k);
          if (k)
            g_string_append_c (header, ',');
          st_append_json_string (header, key);
          g_string_append_c (header, ':');
          st_append_json_string (header, g_hash_table_lookup (st->metadata, key));
        }
      g_string_append_c (header, '}');
    }
  guint64 offset = 0;
  for (guint k = 0; k < st->tensors->len; k++)
    {
      NfnTensor *tensor = g_ptr_array_index (st->tensors, k);
      if (k || st->metadata_keys->len > 0)
        g_string_append_c (header, ',');
      st_append_json_string (header, tensor->name);
      g_string_append (header, ":{\"dtype\":\"F32\",\"shape\":[");
      for (int d = 0; d < tensor->rank; d++)
        g_string_append_printf (header, "%s%" G_GINT64_FORMAT, d ? "," : "", tensor->shape[d]);
      guint64 end = offset + 4 * (guint64) tensor->numel;
      g_string_append_printf (header, "],\"data_offsets\":[%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT "]}",
                              offset, end);
      offset = end;
    }
  g_string_append_c (header, '}');
  /* Padding to a multiple of 8 keeps the buffer 8-byte aligned for readers that map it. */
  while (header->len % 8)
    g_string_append_c (header, ' ');

  gsize total = 8 + header->len + (gsize) offset;
  g_autofree guint8 *contents = g_malloc (total);
  for (int k = 0; k < 8; k++)
    contents[k] = (guint8) ((guint64) header->len >> (8 * k));
  memcpy (contents + 8, header->str, header->len);
  guint8 *p = contents + 8 + header->len;
  for (guint k = 0; k < st->tensors->len; k++)
    {
      NfnTensor *tensor = g_ptr_array_index (st->tensors, k);
      p = nfn_data_put_f32_le (p, tensor->data, tensor->numel);
    }
  g_string_free (header, TRUE);
  return nfn_data_write_atomic (path, contents, total, error);
}

guint8 *
nfn_data_put_f32_le (guint8 *out, const float *values, gsize count)
{
  for (gsize e = 0; e < count; e++)
    {
      guint32 bits;
      memcpy (&bits, &values[e], sizeof bits);
      for (int b = 0; b < 4; b++)
        *out++ = (guint8) (bits >> (8 * b));
    }
  return out;
}

gboolean
nfn_data_write_atomic (const char *path, const void *contents, gsize length, GError **error)
{
  g_autoptr (GError) write_error = NULL;
  if (!g_file_set_contents_full (path, (const char *) contents, (gssize) length,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0644, &write_error))
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_IO, path, "cannot write: %s", write_error->message);
      return FALSE;
    }
  return TRUE;
}
