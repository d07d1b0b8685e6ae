/* datatestutil.h — helpers the data tests share: fixture files written by make_fixtures.py
 * (real PyTorch tensors) and checks that an error message has the one-line "LABEL: fault" form. */
#ifndef NFN_DATATESTUTIL_H
#define NFN_DATATESTUTIL_H

#include <glib.h>
#include <json-glib/json-glib.h>
#include "nfn_network.h"

/* Absolute path of tests/data/fixtures/NAME (free it). */
char *dtu_fixture_path (const char *name);
/* The parsed NAME.json beside NAME.safetensors (unref it). */
JsonNode *dtu_fixture_expected (const char *name);
/* The expected tensor entry called `tensor` of a fixture's JSON, or NULL. */
JsonObject *dtu_expected_tensor (JsonNode *expected, const char *tensor);
/* Element k of a JSON array of numbers, where non-finite values are "nan", "inf", "-inf". */
double dtu_json_number (JsonArray *array, guint k);
/* Same float, NaNs alike: bitwise for finite values, so -0 and 0 differ. */
gboolean dtu_float_identical (float a, float b);
/* Asserts error is set, in `domain` with `code`, one line, begins with "LABEL: " and contains
 * `fragment`. */
#define dtu_assert_error(error, domain, code, label, fragment) \
  dtu_assert_error_impl (error, domain, code, label, fragment, G_STRLOC)
void dtu_assert_error_impl (const GError *error, GQuark domain, int code, const char *label,
                            const char *fragment, const char *where);

/* `data` compressed by zlib at level 9: window_bits -15 gives raw deflate (zip members),
 * 15 + 16 a gzip member (unref it). */
GByteArray *dtu_deflate (const guint8 *data, gsize length, int window_bits);

/* Removes a directory and everything under it. */
void dtu_remove_tree (const char *dir);

/* The accuracy network `spec` (a file or ZOO:IDX) gets on MNIST's whole test split, computed
 * here from its weights: what a zoo's recorded test_accuracy must match. The network is left
 * in *net (unref it). */
double dtu_mnist_test_accuracy (const char *spec, NfnNetwork **net);

#endif
