/* nfn-runs-browser.h — the experiment browser: the store's runs in a table, sortable by every
 * column and filtered by a search entry and by task, model, status and metric; the metric
 * curves of the selected runs overlaid (smoothing, log axis); their identity, configuration,
 * summary and last metric values side by side ("differences only"); rename, delete and CSV
 * export of a run.
 *
 * The browser holds its own connection to the store (DESIGN.md §4: one per thread). While it is
 * mapped it polls the store every NFN_RUNS_BROWSER_POLL_MS: runs that appeared (a run the CLI
 * started meanwhile) join the table, changed ones (status, name, summary) update in place,
 * deleted ones leave, and a running run's series are read past their last step
 * (nfn_store_run_metric's after_step), so its curve grows while it trains. Each poll is a few
 * indexed queries; the selection survives it.
 *
 * Filters: the search entry matches a run's name, id, experiment, task, model and status
 * (case-insensitive). With a metric chosen, the table shows each run's last value of it, runs
 * without it are hidden, and a search text "< 0.5", "> 0.9", "<= …" or ">= …" filters on that
 * value instead of the text.
 */
#ifndef NFN_RUNS_BROWSER_H
#define NFN_RUNS_BROWSER_H

#include <gtk/gtk.h>
#include "nfn_store.h"
#include "nfn-plot.h"

G_BEGIN_DECLS

#define NFN_RUNS_BROWSER_POLL_MS 1000

/* ---- One row of the table ---- */

#define NFN_TYPE_RUN_ROW (nfn_run_row_get_type ())
G_DECLARE_FINAL_TYPE (NfnRunRow, nfn_run_row, NFN, RUN_ROW, GObject)

/* The run as last read from the store, and the last value of a metric (NaN when the run has
 * none). Emits "changed" when a poll finds it changed. */
const NfnRun *nfn_run_row_get_run (NfnRunRow *self);
gint64 nfn_run_row_get_id (NfnRunRow *self);
double nfn_run_row_get_last_value (NfnRunRow *self, const char *metric);

/* ---- The browser ---- */

#define NFN_TYPE_RUNS_BROWSER (nfn_runs_browser_get_type ())
G_DECLARE_FINAL_TYPE (NfnRunsBrowser, nfn_runs_browser, NFN, RUNS_BROWSER, GtkWidget)

GtkWidget *nfn_runs_browser_new (void);
/* Opens the store at `path` (created if missing), reads it and selects the newest run; NULL
 * closes it. FALSE with the store's one-line error, which the browser also shows. */
gboolean nfn_runs_browser_set_store_path (NfnRunsBrowser *self, const char *path, GError **error);
const char *nfn_runs_browser_get_store_path (NfnRunsBrowser *self);
/* Reads the store now, as the poll does. */
void nfn_runs_browser_refresh (NfnRunsBrowser *self);

/* The table as shown, filtered and sorted: NfnRunRow items. */
GListModel *nfn_runs_browser_get_rows (NfnRunsBrowser *self);

/* Filters; NULL or "" means any. An unknown task, model, status or metric shows no run. */
void nfn_runs_browser_set_search (NfnRunsBrowser *self, const char *text);
void nfn_runs_browser_set_task_filter (NfnRunsBrowser *self, const char *task);
void nfn_runs_browser_set_model_filter (NfnRunsBrowser *self, const char *model);
void nfn_runs_browser_set_status_filter (NfnRunsBrowser *self, const char *status);
void nfn_runs_browser_set_metric (NfnRunsBrowser *self, const char *metric);
/* Sorts by column "id", "name", "task", "model", "status", "started", "duration" or "metric";
 * FALSE for another name. */
gboolean nfn_runs_browser_sort_by (NfnRunsBrowser *self, const char *column, gboolean descending);

/* Selects exactly these runs (ids not shown are skipped); the curves and the comparison follow. */
void nfn_runs_browser_select_runs (NfnRunsBrowser *self, const gint64 *ids, int n);
/* The selected run ids in table order (an array of gint64). */
GArray *nfn_runs_browser_get_selected (NfnRunsBrowser *self);

/* The metric whose curves are drawn (NULL: among the selected runs' metrics the first with
 * "loss" in its name, else "psnr", else "accuracy", else the first). */
void nfn_runs_browser_set_curve_metric (NfnRunsBrowser *self, const char *metric);
NfnPlot *nfn_runs_browser_get_plot (NfnRunsBrowser *self);

/* The comparison of the selected runs: sections "run", "config", "summary" and "metrics" (last
 * values), one row per flattened key. With differences only, keys equal in every selected
 * run are hidden. The keys shown, as "section: key" strings. */
void nfn_runs_browser_set_differences_only (NfnRunsBrowser *self, gboolean differences_only);
GPtrArray *nfn_runs_browser_get_compare_keys (NfnRunsBrowser *self);
/* The comparison grid, for export. */
GtkWidget *nfn_runs_browser_get_compare_view (NfnRunsBrowser *self);

/* What the Rename, Delete and Export CSV buttons do, on run `id`; the table follows at once.
 * Errors are the store's (a running run cannot be deleted) or the file's. */
gboolean nfn_runs_browser_rename_run (NfnRunsBrowser *self, gint64 id, const char *name, GError **error);
gboolean nfn_runs_browser_delete_run (NfnRunsBrowser *self, gint64 id, GError **error);
gboolean nfn_runs_browser_export_csv (NfnRunsBrowser *self, gint64 id, const char *path, GError **error);

/* The message line (errors), NULL when empty. */
const char *nfn_runs_browser_get_message (NfnRunsBrowser *self);

G_END_DECLS
#endif
