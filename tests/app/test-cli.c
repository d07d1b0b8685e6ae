/* test-cli.c — runs the real `nfn` binary as a user would and checks what it prints and
 * returns: the sample → info → permute → check → align path, and one-line errors on bad input. */
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/wait.h>

#include "clitestutil.h"

typedef struct {
  char *dir;
  char *sample;
} fixture;

static void
fixture_setup (fixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp ("nfn-cli-XXXXXX", NULL);
  f->sample = g_build_filename (f->dir, "sample.safetensors", NULL);
  run_result r = run_nfn ("sample", "-o", f->sample, NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_result_clear (&r);
}

static void
fixture_teardown (fixture *f, gconstpointer data)
{
  ctu_remove_dir (f->dir);
  g_free (f->dir);
  g_free (f->sample);
}

static void
test_info_json (fixture *f, gconstpointer data)
{
  run_result r = run_nfn ("info", f->sample, "--json", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o = parse_object (parser, r.out);
  g_assert_cmpstr (json_object_get_string_member (o, "architecture"), ==, "siren");
  /* 2→32→32→1: 64+32 + 1024+32 + 32+1 */
  g_assert_cmpint (json_object_get_int_member (o, "parameters"), ==, 1185);
  JsonArray *tensors = json_object_get_array_member (o, "tensors");
  g_assert_cmpint (json_array_get_length (tensors), ==, 6);
  JsonObject *w2 = json_array_get_object_element (tensors, 2);
  g_assert_cmpint (json_object_get_int_member (w2, "parameters"), ==, 1024);
  /* the sample is fitted to an image: its weights moved away from zero but stay finite */
  g_assert_cmpfloat (json_object_get_double_member (w2, "std"), >, 0.005);
  g_assert_cmpfloat (json_object_get_double_member (w2, "max"), <, 10);
  run_result_clear (&r);

  r = run_nfn ("info", f->sample, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "1185 parameters"));
  run_result_clear (&r);
}

static void
test_permute_check_align (fixture *f, gconstpointer data)
{
  g_autofree char *permuted = g_build_filename (f->dir, "permuted.safetensors", NULL);
  g_autofree char *aligned = g_build_filename (f->dir, "aligned.safetensors", NULL);
  run_result r = run_nfn ("permute", f->sample, "-o", permuted, "--seed", "5", NULL);
  g_assert_cmpint (r.status, ==, 0);
  run_result_clear (&r);

  /* same tensor names, same function, different weights */
  run_result a = run_nfn ("info", f->sample, "--json", NULL), b = run_nfn ("info", permuted, "--json", NULL);
  g_autoptr (JsonParser) pa = json_parser_new (), pb = json_parser_new ();
  JsonArray *ta = json_object_get_array_member (parse_object (pa, a.out), "tensors");
  JsonArray *tb = json_object_get_array_member (parse_object (pb, b.out), "tensors");
  for (guint k = 0; k < json_array_get_length (ta); k++)
    g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (ta, k), "name"), ==,
                     json_object_get_string_member (json_array_get_object_element (tb, k), "name"));
  run_result_clear (&a);
  run_result_clear (&b);

  r = run_nfn ("check", permuted, "--json", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_autoptr (JsonParser) pc = json_parser_new ();
  JsonObject *check = parse_object (pc, r.out);
  g_assert_true (json_object_get_boolean_member (check, "function_unchanged"));
  JsonObject *hnp = json_object_get_object_member (check, "hnp");
  JsonObject *np = json_object_get_object_member (check, "np");
  g_assert_cmpfloat (json_object_get_double_member (hnp, "fraction_of_weights_changed"), >, 0.9);
  g_assert_cmpfloat (json_object_get_double_member (hnp, "max_abs_output_change"), <, 1e-4);
  /* moving the 2 input coordinates changes a SIREN's function */
  g_assert_cmpfloat (json_object_get_double_member (np, "max_abs_output_change"), >, 1e-3);
  run_result_clear (&r);

  /* aligning the permuted copy back to the original undoes the permutation exactly */
  r = run_nfn ("align", f->sample, permuted, "-o", aligned, "--json", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_autoptr (JsonParser) pl = json_parser_new ();
  JsonObject *al = parse_object (pl, r.out);
  g_assert_cmpfloat (json_object_get_double_member (al, "distance_before"), >, 0.1);
  g_assert_cmpfloat (json_object_get_double_member (al, "distance_after"), <, 1e-6);
  g_assert_cmpfloat (json_object_get_double_member (al, "max_abs_output_change_of_b"), <, 1e-4);
  run_result_clear (&r);
}

static void
write_bytes (const char *path, const void *bytes, gsize n)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_set_contents (path, bytes, (gssize) n, &error));
}

static void
test_bad_input (fixture *f, gconstpointer data)
{
  g_autofree char *missing = g_build_filename (f->dir, "missing.safetensors", NULL);
  run_result r = run_nfn ("info", missing, NULL);
  assert_one_line_error (&r, missing);
  run_result_clear (&r);

  /* truncated: the sample cut in half */
  g_autofree char *bytes = NULL;
  gsize n;
  g_assert_true (g_file_get_contents (f->sample, &bytes, &n, NULL));
  g_autofree char *truncated = g_build_filename (f->dir, "truncated.safetensors", NULL);
  write_bytes (truncated, bytes, n / 2);
  r = run_nfn ("check", truncated, NULL);
  assert_one_line_error (&r, truncated);
  run_result_clear (&r);

  /* forged header length */
  g_autofree char *forged = g_build_filename (f->dir, "forged.safetensors", NULL);
  g_autofree char *copy = g_memdup2 (bytes, n);
  copy[7] = 0x7f;
  write_bytes (forged, copy, n);
  r = run_nfn ("permute", forged, "-o", missing, NULL);
  assert_one_line_error (&r, forged);
  g_assert_false (g_file_test (missing, G_FILE_TEST_EXISTS));
  run_result_clear (&r);

  /* a NaN weight: patch the last 4 bytes (b_3) to a quiet NaN */
  g_autofree char *nan_file = g_build_filename (f->dir, "nan.safetensors", NULL);
  memcpy (copy, bytes, n);
  const guint8 nan_bytes[4] = { 0x00, 0x00, 0xc0, 0x7f };
  memcpy (copy + n - 4, nan_bytes, 4);
  write_bytes (nan_file, copy, n);
  r = run_nfn ("info", nan_file, NULL);
  assert_one_line_error (&r, nan_file);
  g_assert_nonnull (strstr (r.err, "NaN"));
  run_result_clear (&r);

  /* an unknown group is refused before anything is written */
  g_autofree char *other = g_build_filename (f->dir, "other.safetensors", NULL);
  g_autofree char *out = g_build_filename (f->dir, "out.safetensors", NULL);
  run_result s = run_nfn ("permute", f->sample, "-o", other, "--group", "bogus", NULL);
  assert_one_line_error (&s, "bogus");
  g_assert_false (g_file_test (other, G_FILE_TEST_EXISTS));
  run_result_clear (&s);

  r = run_nfn ("nonsense", NULL);
  assert_one_line_error (&r, "nonsense");
  run_result_clear (&r);
  r = run_nfn ("permute", f->sample, NULL);
  assert_one_line_error (&r, "-o OUT");
  run_result_clear (&r);
  r = run_nfn ("align", f->sample, truncated, "-o", out, NULL);
  assert_one_line_error (&r, truncated);
  run_result_clear (&r);
}

static void
test_bench_smoke (fixture *f, gconstpointer data)
{
  /* not a timing test: the benchmark runs and reports every case */
  run_result r = run_nfn ("bench", "layers", "--quick", "--json", "--repeats", "1", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o = parse_object (parser, r.out);
  JsonArray *cases = json_object_get_array_member (o, "cases");
  g_assert_cmpint (json_array_get_length (cases), >=, 4);
  for (guint k = 0; k < json_array_get_length (cases); k++)
    g_assert_cmpfloat (json_object_get_double_member (json_array_get_object_element (cases, k), "median_ms"), >, 0);
  run_result_clear (&r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/cli/info-json", fixture, NULL, fixture_setup, test_info_json, fixture_teardown);
  g_test_add ("/cli/permute-check-align", fixture, NULL, fixture_setup, test_permute_check_align, fixture_teardown);
  g_test_add ("/cli/bad-input", fixture, NULL, fixture_setup, test_bad_input, fixture_teardown);
  g_test_add ("/cli/bench-smoke", fixture, NULL, fixture_setup, test_bench_smoke, fixture_teardown);
  return g_test_run ();
}
