/* test-json.c — every double json-glib writes comes out as valid JSON through nfn_json. */
#include <math.h>
#include <string.h>

#include "nfn_json.h"

static void
test_numbers_round_trip (void)
{
  const double values[] = { 1e-8, 1e20, 0.5, 3, 1.5e-5, 1e300, -2e-7, 123456789012345.0, 1e-300, -0.0,
                           0.1, 0.3, 1.0 / 3.0, -0.7, 2.0 / 3.0 * 1e-9, 0.1 + 0.2 };
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  for (gsize k = 0; k < G_N_ELEMENTS (values); k++)
    json_builder_add_double_value (b, values[k]);
  json_builder_add_double_value (b, NAN);
  json_builder_add_double_value (b, -INFINITY);
  json_builder_end_array (b);
  g_autofree char *text = nfn_json_builder_to_text (b, FALSE);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_assert_true (json_parser_load_from_data (parser, text, -1, &error));
  g_assert_no_error (error);
  JsonArray *a = json_node_get_array (json_parser_get_root (parser));
  for (gsize k = 0; k < G_N_ELEMENTS (values); k++)
    g_assert_cmpfloat (json_array_get_double_element (a, k), ==, values[k]);
  /* the shortest text that reads back: 0.1 rather than json-glib's 0.10000000000000001; a
   * double that needs 17 digits (0.1 + 0.2) keeps them */
  g_assert_nonnull (strstr (text, ",0.1,0.3,"));
  g_assert_nonnull (strstr (text, ",-0.7,"));
  g_assert_nonnull (strstr (text, "0.30000000000000004"));
  /* non-finite numbers have no JSON spelling: null */
  g_assert_true (json_array_get_null_element (a, G_N_ELEMENTS (values)));
  g_assert_true (json_array_get_null_element (a, G_N_ELEMENTS (values) + 1));
}

static void
test_strings_untouched (void)
{
  char text[] = "{\"a\":\"1e-08.0 \\\"nan.0\\\" inf.0\",\"b\":[1e-08.0,nan.0,true,false,null,2.0]}";
  nfn_json_repair_numbers (text);
  g_assert_cmpstr (text, ==, "{\"a\":\"1e-08.0 \\\"nan.0\\\" inf.0\",\"b\":[1e-08,null,true,false,null,2.0]}");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/json/numbers-round-trip", test_numbers_round_trip);
  g_test_add_func ("/json/strings-untouched", test_strings_untouched);
  return g_test_run ();
}
