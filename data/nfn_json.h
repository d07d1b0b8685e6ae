/* nfn_json.h — JSON text from json-glib trees, valid for every double.
 *
 * json-glib 1.6 (Debian 12) appends ".0" to any double whose text lacks a '.', so 1e-08 comes
 * out as "1e-08.0" and NaN as "nan.0" — not JSON. Every JSON the project writes (CLI output,
 * store configs and summaries, manifests, model metadata) goes through this one function, which
 * repairs those numbers: exponents lose the ".0", non-finite values become null. */
#ifndef NFN_JSON_H
#define NFN_JSON_H

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

char *nfn_json_to_text (JsonNode *root, gboolean pretty);
/* The builder's root, as above. */
char *nfn_json_builder_to_text (JsonBuilder *builder, gboolean pretty);
/* Repairs json-glib's number text in place (exposed for tests). */
void nfn_json_repair_numbers (char *text);

G_END_DECLS
#endif
