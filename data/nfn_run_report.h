/* nfn_run_report.h — runs as people and scripts read them, shared by `nfn runs` and the
 * workbench's experiment browser: configurations and summaries flattened to dotted keys
 * ({"opt": {"lr": 1}} → "opt.lr") and compared across runs, values formatted for reading, and a
 * run's metric series as CSV.
 */
#ifndef NFN_RUN_REPORT_H
#define NFN_RUN_REPORT_H

#include <glib.h>
#include <json-glib/json-glib.h>
#include "nfn_store.h"

G_BEGIN_DECLS

/* A stored JSON object (config, summary) as a node; the store only accepts objects, so
 * anything else means the file was edited by hand and reads as an empty object. */
JsonNode *nfn_run_parse_object (const char *json);
/* A seed as JSON: an integer, or text above G_MAXINT64 (JSON integers here are signed). */
JsonNode *nfn_run_seed_node (guint64 seed);
/* The run's experiment, task, model, status and seed as one JSON object. */
JsonNode *nfn_run_identity_node (const NfnRun *run);

/* The shortest of %.15g, %.16g, %.17g that reads back as the same double: 0.1 prints as "0.1"
 * and a script still gets every bit. */
char *nfn_run_format_double (double value);
/* A value as a person reads it: strings bare ("" as "\"\""), numbers short, the rest as JSON. */
char *nfn_run_format_value (JsonNode *node);
/* A local time "2024-05-01 13:45:10", "-" for 0 (not finished). */
char *nfn_run_format_time (gint64 unix_us);
/* How long a finished run took: "12.3s", "4m05s", "2h07m"; "-" while running or when the end is
 * unknown (interrupted). */
char *nfn_run_format_duration (const NfnRun *run);
/* The run's name if it has one, else "run 42". */
char *nfn_run_display_name (const NfnRun *run);

/* One section of a comparison (config, summary, …): each run's flattened leaves and the sorted
 * union of their keys. Arrays are leaves: widths [2, 32, 1] compare as one value. The section
 * borrows the nodes it is given; they must outlive it. */
typedef struct {
  char *title;
  GPtrArray *per_run; /* GHashTable*: key → JsonNode* */
  GPtrArray *keys;    /* char*, sorted, owned by the tables */
} NfnRunSection;

NfnRunSection *nfn_run_section_new (const char *title);
void nfn_run_section_free (NfnRunSection *section);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfnRunSection, nfn_run_section_free)
/* Adds the next run's object (the keys are updated). */
void nfn_run_section_add (NfnRunSection *section, JsonNode *object);
/* Run r's value at key, NULL when it has none. */
JsonNode *nfn_run_section_get (const NfnRunSection *section, guint r, const char *key);
/* Every run has the key with the same JSON; a key some runs lack differs. */
gboolean nfn_run_section_key_equal (const NfnRunSection *section, const char *key);

/* Every point of a run's metrics as CSV, "step,name,value" then one line per point, series by
 * series in name order, values as nfn_run_format_double (NaN as "nan"); names quoted as RFC 4180
 * needs. `points` (may be NULL) receives the number of points. */
char *nfn_store_run_metrics_csv (NfnStore *store, gint64 run, guint *points, GError **error);

G_END_DECLS
#endif
