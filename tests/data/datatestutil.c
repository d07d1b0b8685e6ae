#include "datatestutil.h"
#include "nfn_datasets.h"
#include "nfn_train.h"
#include "nfn_zoo.h"

#include <glib/gstdio.h>

#include <math.h>
#include <string.h>
#include <zlib.h>

char *
dtu_fixture_path (const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "fixtures", name, NULL);
}

JsonNode *
dtu_fixture_expected (const char *name)
{
  g_autofree char *file = g_strconcat (name, ".json", NULL);
  g_autofree char *path = dtu_fixture_path (file);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

JsonObject *
dtu_expected_tensor (JsonNode *expected, const char *tensor)
{
  JsonArray *tensors = json_object_get_array_member (json_node_get_object (expected), "tensors");
  for (guint k = 0; k < json_array_get_length (tensors); k++)
    {
      JsonObject *entry = json_array_get_object_element (tensors, k);
      if (strcmp (json_object_get_string_member (entry, "name"), tensor) == 0)
        return entry;
    }
  return NULL;
}

double
dtu_json_number (JsonArray *array, guint k)
{
  JsonNode *node = json_array_get_element (array, k);
  if (json_node_get_value_type (node) == G_TYPE_STRING)
    {
      const char *text = json_node_get_string (node);
      if (strcmp (text, "nan") == 0)
        return NAN;
      g_assert_true (strcmp (text, "inf") == 0 || strcmp (text, "-inf") == 0);
      return text[0] == '-' ? -INFINITY : INFINITY;
    }
  return json_node_get_double (node);
}

gboolean
dtu_float_identical (float a, float b)
{
  if (isnan (a) || isnan (b))
    return isnan (a) && isnan (b);
  return memcmp (&a, &b, sizeof a) == 0;
}

void
dtu_assert_error_impl (const GError *error, GQuark domain, int code, const char *label,
                       const char *fragment, const char *where)
{
  if (!error)
    g_error ("%s: expected an error containing \"%s\", got success", where, fragment);
  g_autofree char *prefix = g_strconcat (label, ": ", NULL);
  if (error->domain != domain || error->code != code || !g_str_has_prefix (error->message, prefix)
      || strchr (error->message, '\n') || !strstr (error->message, fragment))
    g_error ("%s: expected error code %d containing \"%s\" after \"%s\", got code %d: %s", where, code,
             fragment, prefix, error->code, error->message);
}

GByteArray *
dtu_deflate (const guint8 *data, gsize length, int window_bits)
{
  z_stream zs = { 0 };
  g_assert_cmpint (deflateInit2 (&zs, 9, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), ==, Z_OK);
  gsize bound = deflateBound (&zs, (uLong) length) + 32; /* + room for a gzip header and trailer */
  GByteArray *out = g_byte_array_sized_new ((guint) bound);
  g_byte_array_set_size (out, (guint) bound);
  zs.next_in = (Bytef *) data;
  zs.avail_in = (uInt) length;
  zs.next_out = out->data;
  zs.avail_out = (uInt) bound;
  g_assert_cmpint (deflate (&zs, Z_FINISH), ==, Z_STREAM_END);
  g_byte_array_set_size (out, (guint) (bound - zs.avail_out));
  deflateEnd (&zs);
  return out;
}

void
dtu_remove_tree (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name (d)))
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        dtu_remove_tree (path);
      else
        g_unlink (path);
    }
  g_rmdir (dir);
}

double
dtu_mnist_test_accuracy (const char *spec, NfnNetwork **net)
{
  g_autoptr (GError) error = NULL;
  *net = nfn_network_load_spec (spec, &error);
  g_assert_no_error (error);
  g_autoptr (NfnDataset) ds = nfn_dataset_load ("mnist", "test", 0, &error);
  g_assert_no_error (error);
  g_autofree float *logits = g_new (float, (gsize) ds->count * 10);
  g_autofree int *labels = g_new (int, ds->count);
  for (int k = 0; k < ds->count; k++)
    labels[k] = ds->labels[k];
  g_assert_cmpint (nfn_net_forward (&(*net)->arch, &(*net)->weights, ds->count, ds->images, 0, logits, NULL), ==, NFN_OK);
  return nfn_accuracy (logits, labels, ds->count, 10);
}
