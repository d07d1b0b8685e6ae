/* test-numpy.c — the .npy/.npz readers and the .npy writer: numpy-written fixtures (every
 * dtype, both orders, versions 1–3, stored and deflated archives), the writer against numpy's
 * own bytes, round trips, one malformed file per rule, zip bombs, and damaged archives. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>
#include <zlib.h> /* crc32 */

#include "datatestutil.h"
#include "nfn_network.h"
#include "nfn_numpy.h"

/* ---- building files by hand ---- */

/* A .npy of version `major` with `header` padded as numpy pads it, then `data`. */
static GByteArray *
make_npy (int major, const char *header, const void *data, gsize data_length)
{
  GByteArray *bytes = g_byte_array_new ();
  gsize prefix = major == 1 ? 10 : 12;
  GString *text = g_string_new (header);
  while ((prefix + text->len + 1) % 64 != 0)
    g_string_append_c (text, ' ');
  g_string_append_c (text, '\n');
  guint8 head[12] = { 0x93, 'N', 'U', 'M', 'P', 'Y', (guint8) major, 0 };
  for (gsize b = 0; b < prefix - 8; b++)
    head[8 + b] = (guint8) (text->len >> (8 * b));
  g_byte_array_append (bytes, head, (guint) prefix);
  g_byte_array_append (bytes, (const guint8 *) text->str, (guint) text->len);
  if (data_length)
    g_byte_array_append (bytes, data, (guint) data_length);
  g_string_free (text, TRUE);
  return bytes;
}

/* A little-endian float32 .npy of `count` floats k·0.5, shape (count,). */
static GByteArray *
make_vector_npy (int count)
{
  g_autofree float *values = g_new (float, count + 1);
  for (int k = 0; k < count; k++)
    values[k] = 0.5f * (float) k;
  g_autofree char *header = g_strdup_printf ("{'descr': '<f4', 'fortran_order': False, 'shape': (%d,), }", count);
  return make_npy (1, header, values, sizeof (float) * (gsize) count);
}

typedef struct {
  const char *name;
  GByteArray *data;
  gboolean deflate;
  gint64 declared;     /* uncompressed size written in both headers; < 0: the true one */
  guint32 crc_flip;    /* XORed into the CRC in both headers */
  gint64 local_offset; /* central directory's offset for it; < 0: where it really is */
} ZipMemberSpec;

static void
put_u16 (GByteArray *out, guint v)
{
  guint8 b[2] = { (guint8) v, (guint8) (v >> 8) };
  g_byte_array_append (out, b, 2);
}

static void
put_u32 (GByteArray *out, guint64 v)
{
  guint8 b[4] = { (guint8) v, (guint8) (v >> 8), (guint8) (v >> 16), (guint8) (v >> 24) };
  g_byte_array_append (out, b, 4);
}

static void
put_u64 (GByteArray *out, guint64 v)
{
  put_u32 (out, v & 0xffffffffu);
  put_u32 (out, v >> 32);
}

/* A zip archive as the format describes it, written independently of the reader; with
 * `zip64_end` the end record defers to a zip64 end record and locator. */
static GByteArray *
make_zip (const ZipMemberSpec *specs, int count, gboolean zip64_end)
{
  GByteArray *out = g_byte_array_new ();
  GByteArray *central = g_byte_array_new ();
  for (int k = 0; k < count; k++)
    {
      const ZipMemberSpec *s = &specs[k];
      GByteArray *stored = s->deflate ? dtu_deflate (s->data->data, s->data->len, -15) : g_byte_array_ref (s->data);
      guint32 crc = (guint32) crc32 (0, s->data->data, s->data->len) ^ s->crc_flip;
      guint64 declared = s->declared >= 0 ? (guint64) s->declared : s->data->len;
      guint64 offset = out->len;
      gsize name_length = strlen (s->name);
      for (int pass = 0; pass < 2; pass++)
        {
          /* pass 0: the local header; pass 1: its central directory entry. */
          GByteArray *to = pass ? central : out;
          put_u32 (to, pass ? 0x02014b50u : 0x04034b50u);
          if (pass)
            put_u16 (to, 20);
          put_u16 (to, 20);
          put_u16 (to, 0);
          put_u16 (to, s->deflate ? 8 : 0);
          put_u16 (to, 0);
          put_u16 (to, 0x21);
          put_u32 (to, crc);
          put_u32 (to, stored->len);
          put_u32 (to, MIN (declared, 0xffffffffu));
          put_u16 (to, (guint) name_length);
          put_u16 (to, 0);
          if (pass)
            {
              put_u16 (to, 0);
              put_u16 (to, 0);
              put_u16 (to, 0);
              put_u32 (to, 0);
              put_u32 (to, s->local_offset >= 0 ? (guint64) s->local_offset : offset);
            }
          g_byte_array_append (to, (const guint8 *) s->name, (guint) name_length);
        }
      g_byte_array_append (out, stored->data, stored->len);
      g_byte_array_unref (stored);
    }
  guint64 cd_offset = out->len;
  g_byte_array_append (out, central->data, central->len);
  if (zip64_end)
    {
      guint64 record = out->len;
      put_u32 (out, 0x06064b50u);
      put_u64 (out, 44);
      put_u16 (out, 45);
      put_u16 (out, 45);
      put_u32 (out, 0);
      put_u32 (out, 0);
      put_u64 (out, (guint64) count);
      put_u64 (out, (guint64) count);
      put_u64 (out, central->len);
      put_u64 (out, cd_offset);
      put_u32 (out, 0x07064b50u);
      put_u32 (out, 0);
      put_u64 (out, record);
      put_u32 (out, 1);
    }
  put_u32 (out, 0x06054b50u);
  put_u16 (out, 0);
  put_u16 (out, 0);
  put_u16 (out, zip64_end ? 0xffff : (guint) count);
  put_u16 (out, zip64_end ? 0xffff : (guint) count);
  put_u32 (out, zip64_end ? 0xffffffffu : central->len);
  put_u32 (out, zip64_end ? 0xffffffffu : cd_offset);
  put_u16 (out, 0);
  g_byte_array_unref (central);
  return out;
}

/* Parses through an exact-size heap copy, so ASan sees any read past the end. */
static NfnSafetensors *
parse_npz (const GByteArray *bytes, GError **error)
{
  g_autofree guint8 *exact = g_memdup2 (bytes->data, bytes->len ? bytes->len : 1);
  return nfn_npz_parse (exact, bytes->len, "t.npz", error);
}

static NfnSafetensors *
parse_npy (const GByteArray *bytes, GError **error)
{
  g_autofree guint8 *exact = g_memdup2 (bytes->data, bytes->len ? bytes->len : 1);
  return nfn_npy_parse (exact, bytes->len, "t.npy", "t", error);
}

/* ---- fixtures written by numpy ---- */

static void
check_tensors (const NfnSafetensors *st, JsonArray *want)
{
  g_assert_cmpuint (st->tensors->len, ==, json_array_get_length (want));
  for (guint k = 0; k < st->tensors->len; k++)
    {
      const NfnTensor *tensor = g_ptr_array_index (st->tensors, k);
      JsonObject *expected = json_array_get_object_element (want, k);
      g_assert_cmpstr (tensor->name, ==, json_object_get_string_member (expected, "name"));
      g_assert_cmpstr (nfn_dtype_name (tensor->dtype), ==, json_object_get_string_member (expected, "dtype"));
      JsonArray *shape = json_object_get_array_member (expected, "shape");
      g_assert_cmpint (tensor->rank, ==, (int) json_array_get_length (shape));
      for (int d = 0; d < tensor->rank; d++)
        g_assert_cmpint (tensor->shape[d], ==, json_array_get_int_element (shape, (guint) d));
      JsonArray *values = json_object_get_array_member (expected, "values");
      g_assert_cmpuint (tensor->numel, ==, json_array_get_length (values));
      for (guint e = 0; e < tensor->numel; e++)
        if (!dtu_float_identical (tensor->data[e], (float) dtu_json_number (values, e)))
          g_error ("%s[%u] = %.9g, numpy says %.9g", tensor->name, e, tensor->data[e], dtu_json_number (values, e));
    }
}

static void
test_fixtures (void)
{
  g_autoptr (JsonNode) expected = dtu_fixture_expected ("numpy");
  JsonObject *files = json_node_get_object (expected);
  g_autoptr (GList) names = json_object_get_members (files);
  int npy = 0, npz = 0;
  for (GList *l = names; l; l = l->next)
    {
      const char *file = l->data;
      g_autofree char *path = dtu_fixture_path (file);
      g_autoptr (GError) error = NULL;
      g_autoptr (NfnSafetensors) st = g_str_has_suffix (file, ".npz") ? nfn_npz_load (path, &error)
                                                                       : nfn_npy_load (path, &error);
      g_assert_no_error (error);
      g_assert_nonnull (st);
      check_tensors (st, json_object_get_array_member (json_object_get_object_member (files, file), "tensors"));
      *(g_str_has_suffix (file, ".npz") ? &npz : &npy) += 1;
    }
  g_assert_cmpint (npy, >=, 12);
  g_assert_cmpint (npz, >=, 3);

  /* The version byte is what the file claims, not what we assume. */
  g_autofree char *v3 = dtu_fixture_path ("npy_v3.npy");
  g_autofree char *contents = NULL;
  g_assert_true (g_file_get_contents (v3, &contents, NULL, NULL));
  g_assert_cmpint (contents[6], ==, 3);
}

static void
test_network (void)
{
  g_autoptr (JsonNode) expected = dtu_fixture_expected ("numpy");
  JsonArray *tensors = json_object_get_array_member (
      json_object_get_object_member (json_node_get_object (expected), "mlp_deflated.npz"), "tensors");
  for (int stored = 0; stored < 2; stored++)
    {
      g_autofree char *path = dtu_fixture_path (stored ? "mlp_stored.npz" : "mlp_deflated.npz");
      g_autoptr (GError) error = NULL;
      g_autoptr (NfnNetwork) net = nfn_network_load (path, &error);
      g_assert_no_error (error);
      const nfn_space *space = &net->arch.space;
      g_assert_cmpint (space->L, ==, 2);
      g_assert_cmpint (space->n[0], ==, 2);
      g_assert_cmpint (space->n[1], ==, 4);
      g_assert_cmpint (space->n[2], ==, 1);
      for (guint k = 0; k < json_array_get_length (tensors); k++)
        {
          JsonObject *want = json_array_get_object_element (tensors, k);
          const char *name = json_object_get_string_member (want, "name");
          int layer = g_str_has_prefix (name, "net.0.") ? 1 : 2;
          gboolean bias = g_str_has_suffix (name, ".bias");
          int t = bias ? nfn_tensor_bias (layer) : nfn_tensor_weight (layer);
          g_assert_cmpstr (bias ? net->bias_names[layer] : net->weight_names[layer], ==, name);
          JsonArray *values = json_object_get_array_member (want, "values");
          for (guint e = 0; e < json_array_get_length (values); e++)
            g_assert_true (dtu_float_identical (net->weights.t[t][e], (float) dtu_json_number (values, e)));
        }
    }
  g_autofree char *npy = dtu_fixture_path ("npy_f32.npy");
  g_autoptr (GError) error = NULL;
  g_assert_null (nfn_network_load (npy, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, npy, "not a network");
}

/* ---- the writer ---- */

/* numpy's np.save of the same array gives the same bytes: header, padding and data. */
static void
test_writer_matches_numpy (void)
{
  g_autofree char *fixture = dtu_fixture_path ("npy_f32.npy");
  g_autoptr (NfnSafetensors) st = nfn_npy_load (fixture, NULL);
  g_assert_nonnull (st);
  g_autofree char *dir = g_dir_make_tmp ("nfn-npy-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "out.npy", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (nfn_npy_save (g_ptr_array_index (st->tensors, 0), path, &error));
  g_assert_no_error (error);
  g_autofree char *ours = NULL, *theirs = NULL;
  gsize ours_length, theirs_length;
  g_assert_true (g_file_get_contents (path, &ours, &ours_length, NULL));
  g_assert_true (g_file_get_contents (fixture, &theirs, &theirs_length, NULL));
  g_assert_cmpmem (ours, ours_length, theirs, theirs_length);
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_round_trip (void)
{
  g_autofree char *dir = g_dir_make_tmp ("nfn-npy-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "w.npy", NULL);
  const gint64 shapes[][4] = { { 0 }, { 0 }, { 7 }, { 2, 3 }, { 2, 1, 3, 1 } };
  const int ranks[] = { 0, 1, 1, 2, 4 };
  g_autoptr (GRand) rand = g_rand_new_with_seed (g_test_rand_int ());
  for (gsize c = 0; c < G_N_ELEMENTS (ranks); c++)
    {
      g_autoptr (NfnSafetensors) source = nfn_safetensors_new ();
      gsize numel = 1;
      for (int d = 0; d < ranks[c]; d++)
        numel *= (gsize) shapes[c][d];
      g_autofree float *values = g_new (float, numel + 1);
      /* Random bit patterns: NaN payloads, infinities, -0 and subnormals come through as bits. */
      for (gsize e = 0; e < numel; e++)
        {
          guint32 bits = g_rand_int (rand);
          memcpy (&values[e], &bits, sizeof bits);
        }
      if (numel > 2)
        values[0] = -0.0f, values[1] = INFINITY;
      NfnTensor *tensor = nfn_safetensors_add (source, "w", ranks[c], shapes[c], values);
      g_autoptr (GError) error = NULL;
      g_assert_true (nfn_npy_save (tensor, path, &error));
      g_assert_no_error (error);
      g_autoptr (NfnSafetensors) back = nfn_npy_load (path, &error);
      g_assert_no_error (error);
      const NfnTensor *read = g_ptr_array_index (back->tensors, 0);
      g_assert_cmpstr (read->name, ==, "w");
      g_assert_cmpint (read->rank, ==, ranks[c]);
      g_assert_cmpmem (read->shape, sizeof (gint64) * (gsize) ranks[c], shapes[c], sizeof (gint64) * (gsize) ranks[c]);
      g_assert_cmpmem (read->data, numel * sizeof (float), values, numel * sizeof (float));
      /* Data starts on numpy's 64-byte boundary. */
      g_autofree char *contents = NULL;
      gsize length;
      g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
      g_assert_cmpuint ((length - 4 * numel) % 64, ==, 0);
    }
  g_unlink (path);
  g_autoptr (NfnSafetensors) one = nfn_safetensors_new ();
  float x = 1.0f;
  NfnTensor *tensor = nfn_safetensors_add (one, "x", 0, NULL, &x);
  g_autofree char *missing = g_build_filename (dir, "no", "such", "dir.npy", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_false (nfn_npy_save (tensor, missing, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_IO, missing, "cannot write");
  g_rmdir (dir);
}

/* ---- malformed .npy: one rule each ---- */

static void
test_malformed_npy (void)
{
  const float twelve[12] = { 0 };
  const struct {
    int major;
    const char *header;
    gsize data_length;
    int code;
    const char *fragment;
  } cases[] = {
    { 4, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 12, NFN_DATA_ERROR_UNSUPPORTED, "version 4.0" },
    { 1, "{'descr': '<f4', 'fortran_order': False}", 0, NFN_DATA_ERROR_FORMAT, "missing key 'shape'" },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}", 12, NFN_DATA_ERROR_FORMAT, "unknown key \"x\"" },
    { 1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,)}", 12, NFN_DATA_ERROR_FORMAT, "appears twice" },
    { 1, "{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", 24, NFN_DATA_ERROR_UNSUPPORTED, "dtype \"<c8\"" },
    { 1, "{'descr': '|f4', 'fortran_order': False, 'shape': (3,), }", 12, NFN_DATA_ERROR_UNSUPPORTED, "dtype \"|f4\"" },
    { 1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }", 12, NFN_DATA_ERROR_UNSUPPORTED, "structured" },
    { 1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (3,), }", 12, NFN_DATA_ERROR_FORMAT, "True or False" },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3), }", 12, NFN_DATA_ERROR_FORMAT, "tuple" },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }", 12, NFN_DATA_ERROR_FORMAT, "tuple" },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (03,), }", 12, NFN_DATA_ERROR_FORMAT, "tuple" },
    /* Found by the fuzzer: a dimension of 20 digits overflowed while being read. */
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (32222222222222222222,), }", 12, NFN_DATA_ERROR_FORMAT,
      "tuple" },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), } x", 12, NFN_DATA_ERROR_FORMAT, "after the dictionary" },
    { 1, "['descr', '<f4']", 12, NFN_DATA_ERROR_FORMAT, "expected a dictionary" },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 47, NFN_DATA_ERROR_FORMAT, "truncated" },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 0, NFN_DATA_ERROR_FORMAT, "truncated" },
    { 3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", 36, NFN_DATA_ERROR_FORMAT, "4 bytes after the 32" },
    { 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4), }", 8,
      NFN_DATA_ERROR_FORMAT, "overflows" },
    { 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 1048576), }", 8,
      NFN_DATA_ERROR_FORMAT, "truncated" },
    { 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967295), }", 8,
      NFN_DATA_ERROR_FORMAT, "truncated" },
    { 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 4, NFN_DATA_ERROR_FORMAT,
      "more than 8 dimensions" },
  };
  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr (GByteArray) file = make_npy (cases[c].major, cases[c].header, twelve, cases[c].data_length);
      g_autoptr (GError) error = NULL;
      g_assert_null (parse_npy (file, &error));
      dtu_assert_error (error, NFN_DATA_ERROR, cases[c].code, "t.npy", cases[c].fragment);
    }

  /* An integer that float32 cannot hold exactly is refused, the nearest exact ones are not. */
  const gint64 integers[] = { 16777216, 16777218, -34359738368, 16777217 };
  g_autoptr (GByteArray) exact = make_npy (1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
                                           integers, 24);
  g_autoptr (NfnSafetensors) st = parse_npy (exact, NULL);
  g_assert_nonnull (st);
  g_assert_cmpfloat (((NfnTensor *) g_ptr_array_index (st->tensors, 0))->data[2], ==, -34359738368.0f);
  g_autoptr (GByteArray) inexact = make_npy (1, "{'descr': '<i8', 'fortran_order': False, 'shape': (4,), }",
                                             integers, 32);
  g_autoptr (GError) error = NULL;
  g_assert_null (parse_npy (inexact, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "t.npy", "item 3 has no exact float32");
  g_clear_error (&error);

  /* Damage around the header. */
  g_autoptr (GByteArray) good = make_vector_npy (3);
  g_autoptr (GByteArray) bad_magic = g_byte_array_new ();
  g_byte_array_append (bad_magic, good->data, good->len);
  bad_magic->data[5] = 'Z';
  g_assert_null (parse_npy (bad_magic, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "t.npy", "magic");
  g_clear_error (&error);
  bad_magic->data[5] = 'Y';
  bad_magic->data[9] = 0x7f; /* header length far past the end */
  g_assert_null (parse_npy (bad_magic, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "t.npy", "runs past the end");
  g_clear_error (&error);
  g_byte_array_set_size (bad_magic, 9);
  g_assert_null (parse_npy (bad_magic, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "t.npy", "truncated before the header length");
  g_clear_error (&error);
  g_autoptr (NfnSafetensors) parsed = parse_npy (good, NULL);
  g_assert_nonnull (parsed);
}

/* ---- .npz archives built here ---- */

static void
test_npz_built (void)
{
  g_autoptr (GByteArray) a = make_vector_npy (5);
  g_autoptr (GByteArray) b = make_vector_npy (300);
  for (int zip64 = 0; zip64 < 2; zip64++)
    {
      ZipMemberSpec specs[] = { { "a.npy", a, FALSE, -1, 0, -1 }, { "dir/b.npy", b, TRUE, -1, 0, -1 } };
      g_autoptr (GByteArray) zip = make_zip (specs, 2, zip64);
      g_autoptr (GError) error = NULL;
      g_autoptr (NfnSafetensors) st = parse_npz (zip, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (st->tensors->len, ==, 2);
      NfnTensor *tb = nfn_safetensors_find (st, "dir/b");
      g_assert_nonnull (nfn_safetensors_find (st, "a"));
      g_assert_nonnull (tb);
      g_assert_cmpuint (tb->numel, ==, 300);
      g_assert_cmpfloat (tb->data[299], ==, 149.5f);
    }
  /* An empty archive is a valid archive with no tensors. */
  g_autoptr (GByteArray) empty = make_zip (NULL, 0, FALSE);
  g_autoptr (NfnSafetensors) none = parse_npz (empty, NULL);
  g_assert_nonnull (none);
  g_assert_cmpuint (none->tensors->len, ==, 0);
}

static void
expect_npz_error (const ZipMemberSpec *specs, int count, const char *fragment)
{
  g_autoptr (GByteArray) zip = make_zip (specs, count, FALSE);
  g_autoptr (GError) error = NULL;
  g_assert_null (parse_npz (zip, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "t.npz", fragment);
}

static void
test_malformed_npz (void)
{
  g_autoptr (GByteArray) a = make_vector_npy (5);
  ZipMemberSpec bad_crc[] = { { "a.npy", a, TRUE, -1, 0x10, -1 } };
  expect_npz_error (bad_crc, 1, "fails its CRC-32");
  ZipMemberSpec bad_crc_stored[] = { { "a.npy", a, FALSE, -1, 0x80000000u, -1 } };
  expect_npz_error (bad_crc_stored, 1, "fails its CRC-32");
  ZipMemberSpec twice[] = { { "a.npy", a, FALSE, -1, 0, -1 }, { "a.npy", a, FALSE, -1, 0, -1 } };
  expect_npz_error (twice, 2, "appears twice");
  ZipMemberSpec not_npy[] = { { "a.txt", a, FALSE, -1, 0, -1 } };
  expect_npz_error (not_npy, 1, "is not a NAME.npy");
  ZipMemberSpec short_declared[] = { { "a.npy", a, TRUE, (gint64) a->len + 1, 0, -1 } };
  expect_npz_error (short_declared, 1, "inflates to fewer bytes");
  ZipMemberSpec wrong_offset[] = { { "a.npy", a, FALSE, -1, 0, -1 }, { "b.npy", a, FALSE, -1, 0, 7 } };
  expect_npz_error (wrong_offset, 2, "no local header");
  /* A member whose npy is broken names both the archive and the member. */
  g_autoptr (GByteArray) broken = make_vector_npy (5);
  g_byte_array_set_size (broken, broken->len - 1);
  ZipMemberSpec broken_member[] = { { "w.npy", broken, TRUE, -1, 0, -1 } };
  {
    g_autoptr (GByteArray) zip = make_zip (broken_member, 1, FALSE);
    g_autoptr (GError) error = NULL;
    g_assert_null (parse_npz (zip, &error));
    dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "t.npz, member \"w.npy\"", "truncated");
  }

  /* Truncated anywhere: never parses, never crashes. */
  ZipMemberSpec two[] = { { "a.npy", a, TRUE, -1, 0, -1 }, { "b.npy", a, FALSE, -1, 0, -1 } };
  g_autoptr (GByteArray) whole = make_zip (two, 2, FALSE);
  for (guint cut = 0; cut < whole->len; cut++)
    {
      g_autoptr (GByteArray) part = g_byte_array_new ();
      g_byte_array_append (part, whole->data, cut);
      g_autoptr (GError) error = NULL;
      g_assert_null (parse_npz (part, &error));
      g_assert_true (g_str_has_prefix (error->message, "t.npz"));
    }
  /* Bytes after the end record (a comment that the length field does not cover). */
  g_byte_array_append (whole, (const guint8 *) "x", 1);
  g_autoptr (GError) error = NULL;
  g_assert_null (parse_npz (whole, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "t.npz", "no end of central directory");
}

/* Zip bombs: a declared size above the cap is refused before inflating; a member that inflates
 * past what it declares is stopped one byte past it. */
static void
test_zip_bomb (void)
{
  /* 8 MiB of zeros deflate to ~8 kB; declared as 200 bytes. */
  gsize big = (gsize) 8 << 20;
  g_autoptr (GByteArray) zeros = g_byte_array_sized_new ((guint) big);
  g_byte_array_set_size (zeros, (guint) big);
  memset (zeros->data, 0, big);
  ZipMemberSpec liar[] = { { "z.npy", zeros, TRUE, 200, 0, -1 } };
  expect_npz_error (liar, 1, "inflates to more bytes than it declares");

  ZipMemberSpec capped[] = { { "z.npy", zeros, TRUE, (gint64) NFN_NPZ_MAX_MEMBER_BYTES + 1, 0, -1 } };
  expect_npz_error (capped, 1, "above the cap");

  /* Two central entries sharing one local header (the overlapping-files bomb). */
  g_autoptr (GByteArray) a = make_vector_npy (5);
  ZipMemberSpec inner[] = { { "b.npy", a, FALSE, -1, 0, -1 } };
  g_autoptr (GByteArray) b_zip = make_zip (inner, 1, FALSE);
  /* Member "a.npy" stores b's local header and data as its own bytes; b's entry points inside. */
  gsize b_local = 30 + 5 + a->len;
  g_autoptr (GByteArray) a_bytes = g_byte_array_new ();
  g_byte_array_append (a_bytes, b_zip->data, (guint) b_local);
  ZipMemberSpec overlap[] = { { "a.npy", a_bytes, FALSE, -1, 0, -1 }, { "b.npy", a, FALSE, -1, 0, 30 + 5 } };
  g_autoptr (GByteArray) zip = make_zip (overlap, 2, FALSE);
  g_autoptr (GError) error = NULL;
  g_assert_null (parse_npz (zip, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "t.npz", "overlap");
}

/* Seeded damage to a numpy-written archive: each copy fails with a one-line error or parses. */
static void
test_damaged_archives (void)
{
  g_autofree char *path = dtu_fixture_path ("mixed_deflated.npz");
  g_autofree guint8 *contents = NULL;
  gsize length;
  g_assert_true (g_file_get_contents (path, (char **) &contents, &length, NULL));
  g_autoptr (GRand) rand = g_rand_new_with_seed (20231127);
  int parsed = 0, failed = 0;
  for (int trial = 0; trial < 3000; trial++)
    {
      g_autoptr (GByteArray) copy = g_byte_array_new ();
      g_byte_array_append (copy, contents, (guint) length);
      for (int f = g_rand_int_range (rand, 1, 4); f > 0; f--)
        copy->data[g_rand_int_range (rand, 0, (gint32) length)] ^= (guint8) g_rand_int_range (rand, 1, 256);
      g_autoptr (GError) error = NULL;
      g_autoptr (NfnSafetensors) st = parse_npz (copy, &error);
      g_assert_true ((st == NULL) != (error == NULL));
      if (st)
        parsed++;
      else
        {
          failed++;
          g_assert_true (g_str_has_prefix (error->message, "t.npz"));
          g_assert_null (strchr (error->message, '\n'));
        }
    }
  g_test_message ("damaged archives: %d parsed, %d failed cleanly", parsed, failed);
  g_assert_cmpint (failed, >, 2500);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/numpy/fixtures", test_fixtures);
  g_test_add_func ("/numpy/network", test_network);
  g_test_add_func ("/numpy/writer-matches-numpy", test_writer_matches_numpy);
  g_test_add_func ("/numpy/round-trip", test_round_trip);
  g_test_add_func ("/numpy/malformed-npy", test_malformed_npy);
  g_test_add_func ("/numpy/npz-built", test_npz_built);
  g_test_add_func ("/numpy/malformed-npz", test_malformed_npz);
  g_test_add_func ("/numpy/zip-bomb", test_zip_bomb);
  g_test_add_func ("/numpy/damaged-archives", test_damaged_archives);
  return g_test_run ();
}
