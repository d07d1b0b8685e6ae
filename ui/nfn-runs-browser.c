/* nfn-runs-browser.c — NfnRunsBrowser and NfnRunRow.
 *
 * Models: rows (GListStore of NfnRunRow, newest first) → filter (GtkCustomFilter) → sort (the
 * column view's sorter) → GtkMultiSelection → the table. The selected run ids are kept apart
 * from the selection model: a re-sort or a poll replaces positions, and the ids put the
 * selection back.
 */
#include "nfn-runs-browser.h"

#include <math.h>
#include <string.h>

#include "nfn-colormap.h"
#include "nfn-draw.h"
#include "nfn-ui-resources.h"
#include "nfn_run_report.h"

/* ---- NfnRunRow ---- */

struct _NfnRunRow
{
  GObject parent_instance;
  NfnRun *run;
  GArray *metrics;    /* NfnMetricSummary, in name order */
  GHashTable *series; /* metric name → GArray of NfnMetricPoint: the curves read so far */
};

G_DEFINE_FINAL_TYPE (NfnRunRow, nfn_run_row, G_TYPE_OBJECT)

enum { ROW_CHANGED, ROW_N_SIGNALS };
static guint row_signals[ROW_N_SIGNALS];

static void
nfn_run_row_finalize (GObject *object)
{
  NfnRunRow *self = NFN_RUN_ROW (object);
  nfn_run_free (self->run);
  g_clear_pointer (&self->metrics, g_array_unref);
  g_hash_table_unref (self->series);
  G_OBJECT_CLASS (nfn_run_row_parent_class)->finalize (object);
}

static void
nfn_run_row_class_init (NfnRunRowClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = nfn_run_row_finalize;
  row_signals[ROW_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                           NULL, G_TYPE_NONE, 0);
}

static void
nfn_run_row_init (NfnRunRow *self)
{
  self->series = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_array_unref);
}

const NfnRun *
nfn_run_row_get_run (NfnRunRow *self)
{
  g_return_val_if_fail (NFN_IS_RUN_ROW (self), NULL);
  return self->run;
}

gint64
nfn_run_row_get_id (NfnRunRow *self)
{
  g_return_val_if_fail (NFN_IS_RUN_ROW (self), 0);
  return self->run->id;
}

static const NfnMetricSummary *
nfn_run_row_find_metric (NfnRunRow *self, const char *metric)
{
  for (guint k = 0; metric && self->metrics && k < self->metrics->len; k++)
    {
      const NfnMetricSummary *summary = &g_array_index (self->metrics, NfnMetricSummary, k);
      if (strcmp (summary->name, metric) == 0)
        return summary;
    }
  return NULL;
}

double
nfn_run_row_get_last_value (NfnRunRow *self, const char *metric)
{
  g_return_val_if_fail (NFN_IS_RUN_ROW (self), NAN);
  const NfnMetricSummary *summary = nfn_run_row_find_metric (self, metric);
  return summary ? summary->last_value : NAN;
}

/* Reads the row's metric summaries, and the points past the last step of every series read so
 * far (a live run's growing curves). TRUE when anything is new. */
static gboolean
nfn_run_row_read_metrics (NfnRunRow *self, NfnStore *store)
{
  g_autoptr (GArray) metrics = nfn_store_run_metric_summaries (store, self->run->id, NULL);
  if (metrics == NULL)
    return FALSE;
  gboolean changed = self->metrics == NULL || metrics->len != self->metrics->len;
  for (guint k = 0; !changed && k < metrics->len; k++)
    {
      NfnMetricSummary *now = &g_array_index (metrics, NfnMetricSummary, k);
      NfnMetricSummary *before = &g_array_index (self->metrics, NfnMetricSummary, k);
      changed = strcmp (now->name, before->name) != 0 || now->count != before->count
                || now->last_step != before->last_step;
    }
  g_clear_pointer (&self->metrics, g_array_unref);
  self->metrics = g_steal_pointer (&metrics);

  GHashTableIter iter;
  gpointer name, points;
  g_hash_table_iter_init (&iter, self->series);
  while (g_hash_table_iter_next (&iter, &name, &points))
    {
      GArray *series = points;
      gint64 after = series->len ? g_array_index (series, NfnMetricPoint, series->len - 1).step : G_MININT64;
      g_autoptr (GArray) fresh = nfn_store_run_metric (store, self->run->id, name, after, NULL);
      if (fresh && fresh->len)
        {
          g_array_append_vals (series, fresh->data, fresh->len);
          changed = TRUE;
        }
    }
  return changed;
}

/* The series of `metric`, read whole the first time it is asked for. */
static GArray *
nfn_run_row_get_series (NfnRunRow *self, NfnStore *store, const char *metric)
{
  GArray *series = g_hash_table_lookup (self->series, metric);
  if (series == NULL && store != NULL)
    {
      series = nfn_store_run_metric (store, self->run->id, metric, G_MININT64, NULL);
      if (series)
        g_hash_table_insert (self->series, g_strdup (metric), series);
    }
  return series;
}

static NfnRunRow *
nfn_run_row_new (NfnRun *run, NfnStore *store)
{
  NfnRunRow *self = g_object_new (NFN_TYPE_RUN_ROW, NULL);
  self->run = run;
  nfn_run_row_read_metrics (self, store);
  return self;
}

/* Takes `run` as the row's new state; TRUE when something a person sees changed. A run that is
 * (or just stopped) running has its metrics read again. */
static gboolean
nfn_run_row_update (NfnRunRow *self, NfnRun *run, NfnStore *store)
{
  const NfnRun *old = self->run;
  gboolean was_running = old->status == NFN_RUN_RUNNING;
  gboolean changed = old->status != run->status || old->finished_us != run->finished_us
                     || g_strcmp0 (old->name, run->name) != 0 || g_strcmp0 (old->summary_json, run->summary_json) != 0;
  nfn_run_free (self->run);
  self->run = run;
  if (was_running || run->status == NFN_RUN_RUNNING)
    changed |= nfn_run_row_read_metrics (self, store);
  return changed;
}

/* ---- NfnRunsBrowser ---- */

/* The table's columns; the sorter of each compares rows by its field. */
typedef enum {
  COLUMN_ID,
  COLUMN_NAME,
  COLUMN_TASK,
  COLUMN_MODEL,
  COLUMN_STATUS,
  COLUMN_STARTED,
  COLUMN_DURATION,
  COLUMN_METRIC,
  N_COLUMNS
} NfnRunsColumn;

static const char *const column_ids[N_COLUMNS] = { "id", "name", "task", "model", "status", "started", "duration",
                                                   "metric" };
static const char *const column_titles[N_COLUMNS] = { "ID", "Name", "Task", "Model", "Status", "Started",
                                                      "Duration", "Metric" };

/* Status choices of the filter, in the order of NfnRunStatus. */
#define NFN_RUNS_N_STATUSES 5

typedef enum { COMPARE_NONE, COMPARE_LT, COMPARE_LE, COMPARE_GT, COMPARE_GE } NfnRunsComparison;

struct _NfnRunsBrowser
{
  GtkWidget parent_instance;

  /* template children */
  GtkSearchEntry *search_entry;
  GtkDropDown *task_dropdown, *model_dropdown, *status_dropdown, *metric_dropdown, *curve_dropdown;
  GtkLabel *store_label, *message_label, *delete_label;
  GtkMenuButton *rename_button, *delete_button;
  GtkPopover *rename_popover, *delete_popover;
  GtkEntry *rename_entry;
  GtkButton *export_button;
  GtkColumnView *column_view;
  GtkScale *smoothing_scale;
  GtkCheckButton *log_check, *differences_check;
  NfnPlot *plot;
  GtkGrid *compare_grid;

  NfnStore *store;
  char *store_path;
  guint poll_id;

  GListStore *rows; /* NfnRunRow, newest first */
  GtkCustomFilter *filter;
  GtkFilterListModel *filtered;
  GtkSortListModel *sorted;
  GtkMultiSelection *selection;
  GtkColumnViewColumn *columns[N_COLUMNS];
  GtkSorter *sorters[N_COLUMNS];
  /* the dropdowns' choices; index 0 is "all" (or "no metric"); only ever appended to, so a
   * chosen index stays valid as new runs bring new names */
  GtkStringList *tasks, *models, *statuses, *metrics, *curve_metrics;

  /* filters as set (NULL: any) */
  char *search;
  char *task, *model, *status, *metric;
  NfnRunsComparison comparison;
  double threshold;

  GArray *selected_ids; /* gint64, the runs the person selected */
  gboolean restoring;   /* selection changes made by the browser itself */
  gboolean updating_choices;
  char *curve_metric;   /* as chosen, NULL: automatic */
  gboolean differences_only;
  GPtrArray *compare_keys; /* "section: key" shown */
  GtkFileChooserNative *export_chooser;
  gint64 export_run;
};

G_DEFINE_FINAL_TYPE (NfnRunsBrowser, nfn_runs_browser, GTK_TYPE_WIDGET)

GtkWidget *
nfn_runs_browser_new (void)
{
  return g_object_new (NFN_TYPE_RUNS_BROWSER, NULL);
}

static void
nfn_runs_browser_set_message (NfnRunsBrowser *self, const char *message)
{
  gtk_label_set_text (self->message_label, message ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->message_label), message != NULL);
}

const char *
nfn_runs_browser_get_message (NfnRunsBrowser *self)
{
  g_return_val_if_fail (NFN_IS_RUNS_BROWSER (self), NULL);
  return gtk_widget_get_visible (GTK_WIDGET (self->message_label)) ? gtk_label_get_text (self->message_label) : NULL;
}

/* ---- Cells ---- */

static char *
nfn_runs_browser_format_metric (double value)
{
  if (isnan (value))
    return g_strdup ("-");
  char text[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd (text, sizeof text, "%.5g", value);
  return g_strdup (text);
}

static char *
nfn_runs_browser_cell_text (NfnRunsBrowser *self, NfnRunRow *row, NfnRunsColumn column)
{
  const NfnRun *run = row->run;
  switch (column)
    {
    case COLUMN_ID: return g_strdup_printf ("%" G_GINT64_FORMAT, run->id);
    case COLUMN_NAME: return g_strdup (run->name);
    case COLUMN_TASK: return g_strdup (run->task);
    case COLUMN_MODEL: return g_strdup (run->model[0] ? run->model : "-");
    case COLUMN_STATUS: return g_strdup (nfn_run_status_name (run->status));
    case COLUMN_STARTED: return nfn_run_format_time (run->started_us);
    case COLUMN_DURATION: return nfn_run_format_duration (run);
    case COLUMN_METRIC: return nfn_runs_browser_format_metric (nfn_run_row_get_last_value (row, self->metric));
    default: g_assert_not_reached ();
    }
}

/* A cell: its label, the column it shows, and the row it is bound to (for "changed"). */
typedef struct {
  NfnRunsBrowser *browser;
  NfnRunsColumn column;
} NfnRunsCell;

static void
nfn_runs_browser_cell_update (GtkListItem *item)
{
  NfnRunsCell *cell = g_object_get_data (G_OBJECT (item), "nfn-cell");
  NfnRunRow *row = gtk_list_item_get_item (item);
  GtkLabel *label = GTK_LABEL (gtk_list_item_get_child (item));
  g_autofree char *text = row ? nfn_runs_browser_cell_text (cell->browser, row, cell->column) : NULL;
  gtk_label_set_text (label, text ? text : "");
  if (cell->column == COLUMN_STATUS && row)
    {
      gtk_widget_remove_css_class (GTK_WIDGET (label), "run-running");
      gtk_widget_remove_css_class (GTK_WIDGET (label), "run-failed");
      if (row->run->status == NFN_RUN_RUNNING)
        gtk_widget_add_css_class (GTK_WIDGET (label), "run-running");
      else if (row->run->status == NFN_RUN_FAILED)
        gtk_widget_add_css_class (GTK_WIDGET (label), "run-failed");
    }
}

static void
nfn_runs_browser_cell_setup (GtkSignalListItemFactory *factory, GtkListItem *item, NfnRunsCell *cell)
{
  GtkWidget *label = gtk_label_new (NULL);
  gboolean numeric = cell->column == COLUMN_ID || cell->column == COLUMN_METRIC || cell->column == COLUMN_DURATION;
  gtk_label_set_xalign (GTK_LABEL (label), numeric ? 1.0f : 0.0f);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  if (numeric)
    gtk_widget_add_css_class (label, "numeric");
  gtk_list_item_set_child (item, label);
  g_object_set_data (G_OBJECT (item), "nfn-cell", cell);
}

static void
nfn_runs_browser_cell_bind (GtkSignalListItemFactory *factory, GtkListItem *item, NfnRunsCell *cell)
{
  NfnRunRow *row = gtk_list_item_get_item (item);
  gulong handler = g_signal_connect_swapped (row, "changed", G_CALLBACK (nfn_runs_browser_cell_update), item);
  g_object_set_data (G_OBJECT (item), "nfn-changed-handler", GSIZE_TO_POINTER (handler));
  nfn_runs_browser_cell_update (item);
}

static void
nfn_runs_browser_cell_unbind (GtkSignalListItemFactory *factory, GtkListItem *item, NfnRunsCell *cell)
{
  gulong handler = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (item), "nfn-changed-handler"));
  NfnRunRow *row = gtk_list_item_get_item (item);
  if (row && handler)
    g_signal_handler_disconnect (row, handler);
  g_object_set_data (G_OBJECT (item), "nfn-changed-handler", NULL);
}

/* ---- Sorting ---- */

static int
nfn_runs_browser_compare_int64 (gint64 a, gint64 b)
{
  return (a > b) - (a < b);
}

static gint64
nfn_runs_browser_duration_us (const NfnRun *run)
{
  return run->finished_us > 0 ? run->finished_us - run->started_us : -1;
}

static int
nfn_runs_browser_compare_rows (gconstpointer a, gconstpointer b, gpointer data)
{
  NfnRunsCell *cell = data;
  NfnRunRow *x = NFN_RUN_ROW ((gpointer) a), *y = NFN_RUN_ROW ((gpointer) b);
  const NfnRun *r = x->run, *s = y->run;
  int order = 0;
  switch (cell->column)
    {
    case COLUMN_ID: order = nfn_runs_browser_compare_int64 (r->id, s->id); break;
    case COLUMN_NAME: order = g_utf8_collate (r->name, s->name); break;
    case COLUMN_TASK: order = g_strcmp0 (r->task, s->task); break;
    case COLUMN_MODEL: order = g_strcmp0 (r->model, s->model); break;
    case COLUMN_STATUS: order = g_strcmp0 (nfn_run_status_name (r->status), nfn_run_status_name (s->status)); break;
    case COLUMN_STARTED: order = nfn_runs_browser_compare_int64 (r->started_us, s->started_us); break;
    case COLUMN_DURATION:
      order = nfn_runs_browser_compare_int64 (nfn_runs_browser_duration_us (r), nfn_runs_browser_duration_us (s));
      break;
    case COLUMN_METRIC:
      {
        double u = nfn_run_row_get_last_value (x, cell->browser->metric);
        double v = nfn_run_row_get_last_value (y, cell->browser->metric);
        /* runs without a value sort after every number */
        order = isnan (u) || isnan (v) ? isnan (u) - isnan (v) : (u > v) - (u < v);
        break;
      }
    default: g_assert_not_reached ();
    }
  /* ties keep a fixed order: newest id first */
  return order ? order : nfn_runs_browser_compare_int64 (s->id, r->id);
}

gboolean
nfn_runs_browser_sort_by (NfnRunsBrowser *self, const char *column, gboolean descending)
{
  g_return_val_if_fail (NFN_IS_RUNS_BROWSER (self), FALSE);
  for (int c = 0; c < N_COLUMNS; c++)
    if (g_strcmp0 (column, column_ids[c]) == 0)
      {
        gtk_column_view_sort_by_column (self->column_view, self->columns[c],
                                        descending ? GTK_SORT_DESCENDING : GTK_SORT_ASCENDING);
        return TRUE;
      }
  return FALSE;
}

/* ---- Filtering ---- */

static gboolean
nfn_runs_browser_contains (const char *haystack, const char *needle_folded)
{
  g_autofree char *folded = g_utf8_casefold (haystack ? haystack : "", -1);
  return strstr (folded, needle_folded) != NULL;
}

static gboolean
nfn_runs_browser_row_matches (gpointer item, gpointer data)
{
  NfnRunsBrowser *self = data;
  NfnRunRow *row = item;
  const NfnRun *run = row->run;
  if (self->task && g_strcmp0 (run->task, self->task) != 0)
    return FALSE;
  if (self->model && g_strcmp0 (run->model, self->model) != 0)
    return FALSE;
  if (self->status && g_strcmp0 (nfn_run_status_name (run->status), self->status) != 0)
    return FALSE;
  if (self->metric)
    {
      double value = nfn_run_row_get_last_value (row, self->metric);
      if (nfn_run_row_find_metric (row, self->metric) == NULL)
        return FALSE;
      switch (self->comparison)
        {
        case COMPARE_LT: return value < self->threshold;
        case COMPARE_LE: return value <= self->threshold;
        case COMPARE_GT: return value > self->threshold;
        case COMPARE_GE: return value >= self->threshold;
        case COMPARE_NONE: break;
        }
    }
  if (self->search == NULL)
    return TRUE;
  g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, run->id);
  const char *fields[] = { run->name, id, run->experiment, run->task, run->model, nfn_run_status_name (run->status) };
  for (guint f = 0; f < G_N_ELEMENTS (fields); f++)
    if (nfn_runs_browser_contains (fields[f], self->search))
      return TRUE;
  return FALSE;
}

/* "> 0.9", "<=1e-3": a condition on the chosen metric; anything else is text. */
static NfnRunsComparison
nfn_runs_browser_parse_condition (const char *text, double *threshold)
{
  static const struct {
    const char *op;
    NfnRunsComparison comparison;
  } ops[] = { { "<=", COMPARE_LE }, { ">=", COMPARE_GE }, { "<", COMPARE_LT }, { ">", COMPARE_GT } };
  for (guint k = 0; text && k < G_N_ELEMENTS (ops); k++)
    if (g_str_has_prefix (text, ops[k].op))
      {
        const char *number = text + strlen (ops[k].op);
        while (g_ascii_isspace (*number))
          number++;
        char *end;
        double value = g_ascii_strtod (number, &end);
        if (end == number || *end != '\0' || !isfinite (value))
          return COMPARE_NONE;
        *threshold = value;
        return ops[k].comparison;
      }
  return COMPARE_NONE;
}

static void nfn_runs_browser_restore_selection (NfnRunsBrowser *self);
static void nfn_runs_browser_update_details (NfnRunsBrowser *self);

static void
nfn_runs_browser_refilter (NfnRunsBrowser *self)
{
  self->comparison = COMPARE_NONE;
  g_clear_pointer (&self->search, g_free);
  g_autofree char *text = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->search_entry))));
  if (self->metric)
    self->comparison = nfn_runs_browser_parse_condition (text, &self->threshold);
  if (self->comparison == COMPARE_NONE && text[0])
    self->search = g_utf8_casefold (text, -1);
  gtk_filter_changed (GTK_FILTER (self->filter), GTK_FILTER_CHANGE_DIFFERENT);
  nfn_runs_browser_restore_selection (self);
}

/* The dropdown's choice: NULL for index 0 ("all"). */
static char *
nfn_runs_browser_choice (GtkDropDown *dropdown, GtkStringList *strings)
{
  guint selected = gtk_drop_down_get_selected (dropdown);
  if (selected == 0 || selected == GTK_INVALID_LIST_POSITION)
    return NULL;
  return g_strdup (gtk_string_list_get_string (strings, selected));
}

static void
nfn_runs_browser_set_metric_column_title (NfnRunsBrowser *self)
{
  gtk_column_view_column_set_title (self->columns[COLUMN_METRIC], self->metric ? self->metric : "Metric");
  gtk_column_view_column_set_visible (self->columns[COLUMN_METRIC], self->metric != NULL);
}

static void
nfn_runs_browser_dropdown_changed (NfnRunsBrowser *self)
{
  if (self->updating_choices)
    return;
  g_free (self->task);
  g_free (self->model);
  g_free (self->status);
  g_free (self->metric);
  self->task = nfn_runs_browser_choice (self->task_dropdown, self->tasks);
  self->model = nfn_runs_browser_choice (self->model_dropdown, self->models);
  self->status = nfn_runs_browser_choice (self->status_dropdown, self->statuses);
  self->metric = nfn_runs_browser_choice (self->metric_dropdown, self->metrics);
  nfn_runs_browser_set_metric_column_title (self);
  /* every metric cell shows another value now */
  for (guint k = 0; k < g_list_model_get_n_items (G_LIST_MODEL (self->rows)); k++)
    {
      g_autoptr (NfnRunRow) row = g_list_model_get_item (G_LIST_MODEL (self->rows), k);
      g_signal_emit (row, row_signals[ROW_CHANGED], 0);
    }
  gtk_sorter_changed (self->sorters[COLUMN_METRIC], GTK_SORTER_CHANGE_DIFFERENT);
  nfn_runs_browser_refilter (self);
}

static void
nfn_runs_browser_search_changed (NfnRunsBrowser *self)
{
  nfn_runs_browser_refilter (self);
}

/* Selects `value` in a dropdown, adding it to the choices if new ("" or NULL: index 0). */
static void
nfn_runs_browser_choose (GtkDropDown *dropdown, GtkStringList *strings, const char *value)
{
  guint index = 0;
  guint n = g_list_model_get_n_items (G_LIST_MODEL (strings));
  for (guint k = 1; value && value[0] && k < n && index == 0; k++)
    if (strcmp (gtk_string_list_get_string (strings, k), value) == 0)
      index = k;
  if (value && value[0] && index == 0)
    {
      gtk_string_list_append (strings, value);
      index = n;
    }
  gtk_drop_down_set_selected (dropdown, index);
}

void
nfn_runs_browser_set_search (NfnRunsBrowser *self, const char *text)
{
  g_return_if_fail (NFN_IS_RUNS_BROWSER (self));
  gtk_editable_set_text (GTK_EDITABLE (self->search_entry), text ? text : "");
  /* the entry reports after a delay; the browser answers at once */
  nfn_runs_browser_refilter (self);
}

void
nfn_runs_browser_set_task_filter (NfnRunsBrowser *self, const char *task)
{
  g_return_if_fail (NFN_IS_RUNS_BROWSER (self));
  nfn_runs_browser_choose (self->task_dropdown, self->tasks, task);
}

void
nfn_runs_browser_set_model_filter (NfnRunsBrowser *self, const char *model)
{
  g_return_if_fail (NFN_IS_RUNS_BROWSER (self));
  nfn_runs_browser_choose (self->model_dropdown, self->models, model);
}

void
nfn_runs_browser_set_status_filter (NfnRunsBrowser *self, const char *status)
{
  g_return_if_fail (NFN_IS_RUNS_BROWSER (self));
  nfn_runs_browser_choose (self->status_dropdown, self->statuses, status);
}

void
nfn_runs_browser_set_metric (NfnRunsBrowser *self, const char *metric)
{
  g_return_if_fail (NFN_IS_RUNS_BROWSER (self));
  nfn_runs_browser_choose (self->metric_dropdown, self->metrics, metric);
}

GListModel *
nfn_runs_browser_get_rows (NfnRunsBrowser *self)
{
  g_return_val_if_fail (NFN_IS_RUNS_BROWSER (self), NULL);
  return G_LIST_MODEL (self->sorted);
}

/* New tasks, models and metric names join the filter choices (appended: indices stay). */
static void
nfn_runs_browser_add_choice (GtkStringList *strings, const char *value)
{
  if (value == NULL || value[0] == '\0')
    return;
  guint n = g_list_model_get_n_items (G_LIST_MODEL (strings));
  for (guint k = 1; k < n; k++)
    if (strcmp (gtk_string_list_get_string (strings, k), value) == 0)
      return;
  gtk_string_list_append (strings, value);
}

static void
nfn_runs_browser_add_choices (NfnRunsBrowser *self, NfnRunRow *row)
{
  self->updating_choices = TRUE;
  nfn_runs_browser_add_choice (self->tasks, row->run->task);
  nfn_runs_browser_add_choice (self->models, row->run->model);
  for (guint k = 0; row->metrics && k < row->metrics->len; k++)
    nfn_runs_browser_add_choice (self->metrics, g_array_index (row->metrics, NfnMetricSummary, k).name);
  self->updating_choices = FALSE;
}

/* ---- Selection ---- */

static NfnRunRow *
nfn_runs_browser_find_row (NfnRunsBrowser *self, gint64 id, guint *position)
{
  GListModel *rows = G_LIST_MODEL (self->rows);
  for (guint k = 0; k < g_list_model_get_n_items (rows); k++)
    {
      NfnRunRow *row = g_list_model_get_item (rows, k);
      g_object_unref (row); /* the store keeps it */
      if (row->run->id == id)
        {
          if (position)
            *position = k;
          return row;
        }
    }
  return NULL;
}

static gboolean
nfn_runs_browser_is_selected_id (NfnRunsBrowser *self, gint64 id)
{
  for (guint k = 0; k < self->selected_ids->len; k++)
    if (g_array_index (self->selected_ids, gint64, k) == id)
      return TRUE;
  return FALSE;
}

static void
nfn_runs_browser_restore_selection (NfnRunsBrowser *self)
{
  self->restoring = TRUE;
  GListModel *shown = G_LIST_MODEL (self->sorted);
  guint n = g_list_model_get_n_items (shown);
  g_autoptr (GtkBitset) selected = gtk_bitset_new_empty ();
  for (guint k = 0; k < n; k++)
    {
      g_autoptr (NfnRunRow) row = g_list_model_get_item (shown, k);
      if (nfn_runs_browser_is_selected_id (self, row->run->id))
        gtk_bitset_add (selected, k);
    }
  g_autoptr (GtkBitset) mask = gtk_bitset_new_range (0, n);
  gtk_selection_model_set_selection (GTK_SELECTION_MODEL (self->selection), selected, mask);
  self->restoring = FALSE;
}

static void
nfn_runs_browser_selection_changed (NfnRunsBrowser *self)
{
  if (self->restoring)
    return;
  g_array_set_size (self->selected_ids, 0);
  g_autoptr (GtkBitset) selected = gtk_selection_model_get_selection (GTK_SELECTION_MODEL (self->selection));
  GtkBitsetIter iter;
  guint position;
  for (gboolean more = gtk_bitset_iter_init_first (&iter, selected, &position); more;
       more = gtk_bitset_iter_next (&iter, &position))
    {
      g_autoptr (NfnRunRow) row = g_list_model_get_item (G_LIST_MODEL (self->sorted), position);
      g_array_append_val (self->selected_ids, row->run->id);
    }
  nfn_runs_browser_update_details (self);
}

void
nfn_runs_browser_select_runs (NfnRunsBrowser *self, const gint64 *ids, int n)
{
  g_return_if_fail (NFN_IS_RUNS_BROWSER (self));
  g_return_if_fail (n >= 0 && (n == 0 || ids != NULL));
  g_array_set_size (self->selected_ids, 0);
  for (int k = 0; k < n; k++)
    if (nfn_runs_browser_find_row (self, ids[k], NULL))
      g_array_append_val (self->selected_ids, ids[k]);
  nfn_runs_browser_restore_selection (self);
  nfn_runs_browser_update_details (self);
}

GArray *
nfn_runs_browser_get_selected (NfnRunsBrowser *self)
{
  g_return_val_if_fail (NFN_IS_RUNS_BROWSER (self), NULL);
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  GListModel *shown = G_LIST_MODEL (self->sorted);
  for (guint k = 0; k < g_list_model_get_n_items (shown); k++)
    if (gtk_selection_model_is_selected (GTK_SELECTION_MODEL (self->selection), k))
      {
        g_autoptr (NfnRunRow) row = g_list_model_get_item (shown, k);
        g_array_append_val (ids, row->run->id);
      }
  return ids;
}

/* The selected rows that are shown, in selection order. */
static GPtrArray *
nfn_runs_browser_selected_rows (NfnRunsBrowser *self)
{
  GPtrArray *rows = g_ptr_array_new ();
  for (guint k = 0; k < self->selected_ids->len; k++)
    {
      NfnRunRow *row = nfn_runs_browser_find_row (self, g_array_index (self->selected_ids, gint64, k), NULL);
      if (row)
        g_ptr_array_add (rows, row);
    }
  return rows;
}

/* ---- Curves ---- */

/* What a person looks at first: a loss, else a quality (PSNR, accuracy), else the first. */
static const char *
nfn_runs_browser_default_curve (GtkStringList *names)
{
  static const char *const preferred[] = { "loss", "psnr", "accuracy" };
  guint n = g_list_model_get_n_items (G_LIST_MODEL (names));
  for (guint p = 0; p < G_N_ELEMENTS (preferred); p++)
    for (guint k = 0; k < n; k++)
      if (strstr (gtk_string_list_get_string (names, k), preferred[p]))
        return gtk_string_list_get_string (names, k);
  return n ? gtk_string_list_get_string (names, 0) : NULL;
}

static void
nfn_runs_browser_draw_curves (NfnRunsBrowser *self)
{
  nfn_plot_clear (self->plot);
  guint chosen = gtk_drop_down_get_selected (self->curve_dropdown);
  const char *metric = chosen == GTK_INVALID_LIST_POSITION ? NULL : gtk_string_list_get_string (self->curve_metrics, chosen);
  nfn_plot_set_title (self->plot, metric ? metric : "Select runs to see their curves");
  nfn_plot_set_axis_labels (self->plot, "step", metric);
  if (metric == NULL)
    return;
  g_autoptr (GPtrArray) rows = nfn_runs_browser_selected_rows (self);
  for (guint k = 0; k < rows->len; k++)
    {
      NfnRunRow *row = rows->pdata[k];
      GArray *series = nfn_run_row_get_series (row, self->store, metric);
      if (series == NULL || series->len == 0)
        continue;
      g_autofree double *x = g_new (double, series->len);
      g_autofree double *y = g_new (double, series->len);
      for (guint p = 0; p < series->len; p++)
        {
          x[p] = (double) g_array_index (series, NfnMetricPoint, p).step;
          y[p] = g_array_index (series, NfnMetricPoint, p).value;
        }
      g_autofree char *label = nfn_run_display_name (row->run);
      nfn_plot_add_series (self->plot, label, nfn_colormap_identity ((int) k), FALSE, x, y, (int) series->len);
    }
}

/* The curve choices are the selected runs' metric names; the chosen one stays if it can. */
static void
nfn_runs_browser_update_curve_choices (NfnRunsBrowser *self)
{
  g_autoptr (GPtrArray) rows = nfn_runs_browser_selected_rows (self);
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint r = 0; r < rows->len; r++)
    {
      NfnRunRow *row = rows->pdata[r];
      for (guint k = 0; row->metrics && k < row->metrics->len; k++)
        {
          char *name = g_array_index (row->metrics, NfnMetricSummary, k).name;
          if (g_hash_table_add (seen, name))
            g_ptr_array_add (names, name);
        }
    }
  g_ptr_array_add (names, NULL);
  guint n_old = g_list_model_get_n_items (G_LIST_MODEL (self->curve_metrics));
  gboolean same = n_old == names->len - 1;
  for (guint k = 0; same && k < n_old; k++)
    same = strcmp (gtk_string_list_get_string (self->curve_metrics, k), names->pdata[k]) == 0;
  if (!same)
    {
      self->updating_choices = TRUE;
      gtk_string_list_splice (self->curve_metrics, 0, n_old, (const char *const *) names->pdata);
      self->updating_choices = FALSE;
    }
  const char *wanted = self->curve_metric;
  if (wanted == NULL || !g_hash_table_contains (seen, wanted))
    wanted = nfn_runs_browser_default_curve (self->curve_metrics);
  guint index = GTK_INVALID_LIST_POSITION;
  for (guint k = 0; wanted && k < names->len - 1; k++)
    if (strcmp (names->pdata[k], wanted) == 0)
      index = k;
  self->updating_choices = TRUE;
  gtk_drop_down_set_selected (self->curve_dropdown, index);
  self->updating_choices = FALSE;
}

static void
nfn_runs_browser_curve_changed (NfnRunsBrowser *self)
{
  if (self->updating_choices)
    return;
  guint chosen = gtk_drop_down_get_selected (self->curve_dropdown);
  g_free (self->curve_metric);
  self->curve_metric = chosen == GTK_INVALID_LIST_POSITION
                         ? NULL
                         : g_strdup (gtk_string_list_get_string (self->curve_metrics, chosen));
  nfn_runs_browser_draw_curves (self);
}

void
nfn_runs_browser_set_curve_metric (NfnRunsBrowser *self, const char *metric)
{
  g_return_if_fail (NFN_IS_RUNS_BROWSER (self));
  g_free (self->curve_metric);
  self->curve_metric = g_strdup (metric);
  nfn_runs_browser_update_curve_choices (self);
  nfn_runs_browser_draw_curves (self);
}

NfnPlot *
nfn_runs_browser_get_plot (NfnRunsBrowser *self)
{
  g_return_val_if_fail (NFN_IS_RUNS_BROWSER (self), NULL);
  return self->plot;
}

static void
nfn_runs_browser_smoothing_changed (NfnRunsBrowser *self)
{
  nfn_plot_set_smoothing (self->plot, gtk_range_get_value (GTK_RANGE (self->smoothing_scale)));
}

static void
nfn_runs_browser_log_toggled (NfnRunsBrowser *self)
{
  nfn_plot_set_log_y (self->plot, gtk_check_button_get_active (self->log_check));
}

/* ---- Comparison ---- */

static GtkWidget *
nfn_runs_browser_grid_label (const char *text, const char *css_class, float xalign)
{
  GtkWidget *label = gtk_label_new (text);
  gtk_label_set_xalign (GTK_LABEL (label), xalign);
  gtk_label_set_selectable (GTK_LABEL (label), TRUE);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_label_set_max_width_chars (GTK_LABEL (label), 40);
  if (css_class)
    gtk_widget_add_css_class (label, css_class);
  return label;
}

/* A run's last metric values as one JSON object, to compare like the summary. */
static JsonNode *
nfn_runs_browser_metrics_node (NfnRunRow *row)
{
  JsonObject *object = json_object_new ();
  for (guint k = 0; row->metrics && k < row->metrics->len; k++)
    {
      NfnMetricSummary *summary = &g_array_index (row->metrics, NfnMetricSummary, k);
      if (isfinite (summary->last_value))
        json_object_set_double_member (object, summary->name, summary->last_value);
      else
        json_object_set_null_member (object, summary->name);
    }
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);
  json_node_take_object (node, object);
  return node;
}

static void
nfn_runs_browser_update_compare (NfnRunsBrowser *self)
{
  GtkWidget *child;
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->compare_grid))) != NULL)
    gtk_grid_remove (self->compare_grid, child);
  g_ptr_array_set_size (self->compare_keys, 0);
  g_autoptr (GPtrArray) rows = nfn_runs_browser_selected_rows (self);
  gtk_widget_set_sensitive (GTK_WIDGET (self->differences_check), rows->len >= 2);
  if (rows->len == 0)
    {
      gtk_grid_attach (self->compare_grid,
                       nfn_runs_browser_grid_label ("Select a run to see its configuration and summary, or several "
                                                    "(Ctrl+click) to compare them.",
                                                    "dim-label", 0),
                       0, 0, 1, 1);
      return;
    }

  g_autoptr (GPtrArray) nodes = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  NfnRunSection *sections[] = { nfn_run_section_new ("run"), nfn_run_section_new ("config"),
                                nfn_run_section_new ("summary"), nfn_run_section_new ("metrics") };
  int line = 0;
  for (guint r = 0; r < rows->len; r++)
    {
      NfnRunRow *row = rows->pdata[r];
      JsonNode *parts[] = { nfn_run_identity_node (row->run), nfn_run_parse_object (row->run->config_json),
                            nfn_run_parse_object (row->run->summary_json), nfn_runs_browser_metrics_node (row) };
      for (guint s = 0; s < G_N_ELEMENTS (sections); s++)
        {
          g_ptr_array_add (nodes, parts[s]);
          nfn_run_section_add (sections[s], parts[s]);
        }
      g_autofree char *name = nfn_run_display_name (row->run);
      gtk_grid_attach (self->compare_grid, nfn_runs_browser_grid_label (name, "heading", 0), (int) r + 1, line, 1, 1);
    }
  line++;
  gboolean differences_only = self->differences_only && rows->len >= 2;
  for (guint s = 0; s < G_N_ELEMENTS (sections); s++)
    {
      gtk_grid_attach (self->compare_grid, nfn_runs_browser_grid_label (sections[s]->title, "heading", 0), 0, line++, 1,
                       1);
      for (guint k = 0; k < sections[s]->keys->len; k++)
        {
          const char *key = sections[s]->keys->pdata[k];
          gboolean equal = nfn_run_section_key_equal (sections[s], key);
          if (differences_only && equal)
            continue;
          g_ptr_array_add (self->compare_keys, g_strdup_printf ("%s: %s", sections[s]->title, key));
          gtk_grid_attach (self->compare_grid, nfn_runs_browser_grid_label (key, "dim-label", 0), 0, line, 1, 1);
          for (guint r = 0; r < rows->len; r++)
            {
              JsonNode *node = nfn_run_section_get (sections[s], r, key);
              g_autofree char *value = node ? nfn_run_format_value (node) : g_strdup ("-");
              gtk_grid_attach (self->compare_grid,
                               nfn_runs_browser_grid_label (value, equal || rows->len < 2 ? "numeric" : "compare-differs", 0),
                               (int) r + 1, line, 1, 1);
            }
          line++;
        }
    }
  for (guint s = 0; s < G_N_ELEMENTS (sections); s++)
    nfn_run_section_free (sections[s]);
}

void
nfn_runs_browser_set_differences_only (NfnRunsBrowser *self, gboolean differences_only)
{
  g_return_if_fail (NFN_IS_RUNS_BROWSER (self));
  gtk_check_button_set_active (self->differences_check, differences_only);
}

static void
nfn_runs_browser_differences_toggled (NfnRunsBrowser *self)
{
  self->differences_only = gtk_check_button_get_active (self->differences_check);
  nfn_runs_browser_update_compare (self);
}

GPtrArray *
nfn_runs_browser_get_compare_keys (NfnRunsBrowser *self)
{
  g_return_val_if_fail (NFN_IS_RUNS_BROWSER (self), NULL);
  return self->compare_keys;
}

GtkWidget *
nfn_runs_browser_get_compare_view (NfnRunsBrowser *self)
{
  g_return_val_if_fail (NFN_IS_RUNS_BROWSER (self), NULL);
  return GTK_WIDGET (self->compare_grid);
}

/* The run the buttons act on: the first selected. */
static NfnRunRow *
nfn_runs_browser_current_row (NfnRunsBrowser *self)
{
  g_autoptr (GPtrArray) rows = nfn_runs_browser_selected_rows (self);
  return rows->len ? rows->pdata[0] : NULL;
}

static void
nfn_runs_browser_update_details (NfnRunsBrowser *self)
{
  NfnRunRow *current = nfn_runs_browser_current_row (self);
  gboolean any = current != NULL && self->store != NULL;
  gtk_widget_set_sensitive (GTK_WIDGET (self->rename_button), any);
  gtk_widget_set_sensitive (GTK_WIDGET (self->delete_button), any);
  gtk_widget_set_sensitive (GTK_WIDGET (self->export_button), any);
  if (current)
    {
      g_autofree char *name = nfn_run_display_name (current->run);
      g_autofree char *question = g_strdup_printf ("Delete %s (run %" G_GINT64_FORMAT ") and its metrics?", name,
                                                   current->run->id);
      gtk_label_set_text (self->delete_label, question);
      gtk_editable_set_text (GTK_EDITABLE (self->rename_entry), current->run->name);
    }
  nfn_runs_browser_update_curve_choices (self);
  nfn_runs_browser_draw_curves (self);
  nfn_runs_browser_update_compare (self);
}

/* ---- Reading the store ---- */

void
nfn_runs_browser_refresh (NfnRunsBrowser *self)
{
  g_return_if_fail (NFN_IS_RUNS_BROWSER (self));
  if (self->store == NULL)
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) runs = nfn_store_list_runs (self->store, NULL, &error);
  if (runs == NULL)
    {
      nfn_runs_browser_set_message (self, error->message);
      return;
    }
  g_autoptr (GHashTable) listed = g_hash_table_new (g_int64_hash, g_int64_equal);
  for (guint k = 0; k < runs->len; k++)
    g_hash_table_add (listed, &((NfnRun *) runs->pdata[k])->id);

  gboolean any_change = FALSE, selected_change = FALSE;
  GListModel *model = G_LIST_MODEL (self->rows);
  for (guint k = g_list_model_get_n_items (model); k-- > 0;)
    {
      g_autoptr (NfnRunRow) row = g_list_model_get_item (model, k);
      if (!g_hash_table_contains (listed, &row->run->id))
        {
          selected_change |= nfn_runs_browser_is_selected_id (self, row->run->id);
          g_list_store_remove (self->rows, k);
          any_change = TRUE;
        }
    }
  g_autoptr (GHashTable) known = g_hash_table_new (g_int64_hash, g_int64_equal);
  for (guint k = 0; k < g_list_model_get_n_items (model); k++)
    {
      NfnRunRow *row = g_list_model_get_item (model, k);
      g_object_unref (row); /* the store keeps it */
      g_hash_table_insert (known, &row->run->id, row);
    }
  /* oldest first, each new run inserted at the top: the store stays newest first */
  for (guint k = runs->len; k-- > 0;)
    {
      NfnRun *run = g_ptr_array_steal_index (runs, k);
      NfnRunRow *row = g_hash_table_lookup (known, &run->id);
      if (row)
        {
          /* the key points into the row's old run, which the update frees */
          g_hash_table_remove (known, &run->id);
          if (nfn_run_row_update (row, run, self->store))
            {
              g_signal_emit (row, row_signals[ROW_CHANGED], 0);
              nfn_runs_browser_add_choices (self, row);
              any_change = TRUE;
              selected_change |= nfn_runs_browser_is_selected_id (self, row->run->id);
            }
        }
      else
        {
          g_autoptr (NfnRunRow) fresh = nfn_run_row_new (run, self->store);
          nfn_runs_browser_add_choices (self, fresh);
          g_list_store_insert (self->rows, 0, fresh);
          any_change = TRUE;
        }
    }
  if (any_change)
    {
      gtk_filter_changed (GTK_FILTER (self->filter), GTK_FILTER_CHANGE_DIFFERENT);
      for (int c = 0; c < N_COLUMNS; c++)
        gtk_sorter_changed (self->sorters[c], GTK_SORTER_CHANGE_DIFFERENT);
      nfn_runs_browser_restore_selection (self);
    }
  if (selected_change)
    nfn_runs_browser_update_details (self);
}

static gboolean
nfn_runs_browser_poll (gpointer data)
{
  nfn_runs_browser_refresh (data);
  return G_SOURCE_CONTINUE;
}

/* Polls only while the page is on screen: a hidden browser costs nothing. */
static void
nfn_runs_browser_map (GtkWidget *widget)
{
  NfnRunsBrowser *self = NFN_RUNS_BROWSER (widget);
  GTK_WIDGET_CLASS (nfn_runs_browser_parent_class)->map (widget);
  nfn_runs_browser_refresh (self);
  if (self->poll_id == 0)
    self->poll_id = g_timeout_add (NFN_RUNS_BROWSER_POLL_MS, nfn_runs_browser_poll, self);
}

static void
nfn_runs_browser_unmap (GtkWidget *widget)
{
  NfnRunsBrowser *self = NFN_RUNS_BROWSER (widget);
  g_clear_handle_id (&self->poll_id, g_source_remove);
  GTK_WIDGET_CLASS (nfn_runs_browser_parent_class)->unmap (widget);
}

gboolean
nfn_runs_browser_set_store_path (NfnRunsBrowser *self, const char *path, GError **error)
{
  g_return_val_if_fail (NFN_IS_RUNS_BROWSER (self), FALSE);
  g_clear_pointer (&self->store, nfn_store_close);
  g_clear_pointer (&self->store_path, g_free);
  g_list_store_remove_all (self->rows);
  g_array_set_size (self->selected_ids, 0);
  nfn_runs_browser_set_message (self, NULL);
  gtk_label_set_text (self->store_label, "");
  if (path == NULL)
    {
      nfn_runs_browser_update_details (self);
      return TRUE;
    }
  GError *local = NULL;
  self->store = nfn_store_open (path, FALSE, &local);
  if (self->store == NULL)
    {
      nfn_runs_browser_set_message (self, local->message);
      g_propagate_error (error, local);
      nfn_runs_browser_update_details (self);
      return FALSE;
    }
  self->store_path = g_strdup (path);
  gtk_label_set_text (self->store_label, path);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->store_label), path);
  nfn_runs_browser_refresh (self);
  /* a first look shows the newest run's curves and settings, not an empty page */
  if (g_list_model_get_n_items (G_LIST_MODEL (self->rows)) > 0)
    {
      g_autoptr (NfnRunRow) newest = g_list_model_get_item (G_LIST_MODEL (self->rows), 0);
      g_array_append_val (self->selected_ids, newest->run->id);
      nfn_runs_browser_restore_selection (self);
    }
  nfn_runs_browser_update_details (self);
  return TRUE;
}

const char *
nfn_runs_browser_get_store_path (NfnRunsBrowser *self)
{
  g_return_val_if_fail (NFN_IS_RUNS_BROWSER (self), NULL);
  return self->store_path;
}

/* ---- Rename, delete, export ---- */

static gboolean
nfn_runs_browser_check_store (NfnRunsBrowser *self, GError **error)
{
  if (self->store)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED, "no experiment store is open");
  return FALSE;
}

gboolean
nfn_runs_browser_rename_run (NfnRunsBrowser *self, gint64 id, const char *name, GError **error)
{
  g_return_val_if_fail (NFN_IS_RUNS_BROWSER (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  if (!nfn_runs_browser_check_store (self, error) || !nfn_store_run_rename (self->store, id, name, error))
    return FALSE;
  nfn_runs_browser_refresh (self);
  return TRUE;
}

gboolean
nfn_runs_browser_delete_run (NfnRunsBrowser *self, gint64 id, GError **error)
{
  g_return_val_if_fail (NFN_IS_RUNS_BROWSER (self), FALSE);
  if (!nfn_runs_browser_check_store (self, error) || !nfn_store_run_delete (self->store, id, error))
    return FALSE;
  nfn_runs_browser_refresh (self);
  return TRUE;
}

gboolean
nfn_runs_browser_export_csv (NfnRunsBrowser *self, gint64 id, const char *path, GError **error)
{
  g_return_val_if_fail (NFN_IS_RUNS_BROWSER (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  if (!nfn_runs_browser_check_store (self, error))
    return FALSE;
  g_autofree char *csv = nfn_store_run_metrics_csv (self->store, id, NULL, error);
  return csv && g_file_set_contents (path, csv, -1, error);
}

static void
nfn_runs_browser_report (NfnRunsBrowser *self, gboolean ok, GError *error)
{
  nfn_runs_browser_set_message (self, ok ? NULL : error->message);
}

static void
nfn_runs_browser_rename_clicked (NfnRunsBrowser *self)
{
  NfnRunRow *current = nfn_runs_browser_current_row (self);
  if (current == NULL)
    return;
  g_autoptr (GError) error = NULL;
  gboolean ok = nfn_runs_browser_rename_run (self, current->run->id,
                                             gtk_editable_get_text (GTK_EDITABLE (self->rename_entry)), &error);
  nfn_runs_browser_report (self, ok, error);
  gtk_popover_popdown (self->rename_popover);
}

static void
nfn_runs_browser_delete_clicked (NfnRunsBrowser *self)
{
  NfnRunRow *current = nfn_runs_browser_current_row (self);
  if (current == NULL)
    return;
  g_autoptr (GError) error = NULL;
  gboolean ok = nfn_runs_browser_delete_run (self, current->run->id, &error);
  nfn_runs_browser_report (self, ok, error);
  gtk_popover_popdown (self->delete_popover);
}

static void
nfn_runs_browser_export_response (GtkNativeDialog *chooser, int response, NfnRunsBrowser *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autofree char *path = file ? g_file_get_path (file) : NULL;
      g_autoptr (GError) error = NULL;
      if (path == NULL)
        nfn_runs_browser_set_message (self, "Export: only local files can be written.");
      else
        nfn_runs_browser_report (self, nfn_runs_browser_export_csv (self, self->export_run, path, &error), error);
    }
  g_clear_object (&self->export_chooser);
}

static void
nfn_runs_browser_export_clicked (NfnRunsBrowser *self)
{
  NfnRunRow *current = nfn_runs_browser_current_row (self);
  if (current == NULL || self->export_chooser)
    return;
  self->export_run = current->run->id;
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  self->export_chooser = gtk_file_chooser_native_new ("Export Metrics", GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                                      GTK_FILE_CHOOSER_ACTION_SAVE, "_Export", "_Cancel");
  g_autofree char *name = g_strdup_printf ("run-%" G_GINT64_FORMAT "-metrics.csv", self->export_run);
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (self->export_chooser), name);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->export_chooser), TRUE);
  g_signal_connect (self->export_chooser, "response", G_CALLBACK (nfn_runs_browser_export_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->export_chooser));
}

/* ---- GObject ---- */

static void
nfn_runs_browser_add_columns (NfnRunsBrowser *self)
{
  for (int c = 0; c < N_COLUMNS; c++)
    {
      /* shared by the column's factory and its sorter, whichever goes last frees it */
      NfnRunsCell *cell = g_rc_box_new0 (NfnRunsCell);
      cell->browser = self;
      cell->column = c;
      GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
      g_signal_connect (factory, "setup", G_CALLBACK (nfn_runs_browser_cell_setup), cell);
      g_signal_connect (factory, "bind", G_CALLBACK (nfn_runs_browser_cell_bind), cell);
      g_signal_connect (factory, "unbind", G_CALLBACK (nfn_runs_browser_cell_unbind), cell);
      g_object_set_data_full (G_OBJECT (factory), "nfn-cell", cell, g_rc_box_release);
      GtkColumnViewColumn *column = gtk_column_view_column_new (column_titles[c], factory);
      gtk_column_view_column_set_resizable (column, TRUE);
      gtk_column_view_column_set_expand (column, c == COLUMN_NAME);
      GtkCustomSorter *sorter = gtk_custom_sorter_new (nfn_runs_browser_compare_rows, g_rc_box_acquire (cell),
                                                       g_rc_box_release);
      gtk_column_view_column_set_sorter (column, GTK_SORTER (sorter));
      self->sorters[c] = GTK_SORTER (sorter);
      self->columns[c] = column;
      gtk_column_view_append_column (self->column_view, column);
    }
  nfn_runs_browser_set_metric_column_title (self);
}

static void
nfn_runs_browser_dispose (GObject *object)
{
  NfnRunsBrowser *self = NFN_RUNS_BROWSER (object);
  g_clear_handle_id (&self->poll_id, g_source_remove);
  if (self->export_chooser)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->export_chooser));
  g_clear_object (&self->export_chooser);
  if (self->column_view)
    gtk_column_view_set_model (self->column_view, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), NFN_TYPE_RUNS_BROWSER);
  nfn_widget_unparent_children (GTK_WIDGET (self));
  for (int c = 0; c < N_COLUMNS; c++)
    {
      g_clear_object (&self->columns[c]);
      g_clear_object (&self->sorters[c]);
    }
  g_clear_object (&self->selection);
  g_clear_object (&self->sorted);
  g_clear_object (&self->filtered);
  g_clear_object (&self->rows);
  g_clear_object (&self->tasks);
  g_clear_object (&self->models);
  g_clear_object (&self->statuses);
  g_clear_object (&self->metrics);
  g_clear_object (&self->curve_metrics);
  g_clear_pointer (&self->store, nfn_store_close);
  G_OBJECT_CLASS (nfn_runs_browser_parent_class)->dispose (object);
}

static void
nfn_runs_browser_finalize (GObject *object)
{
  NfnRunsBrowser *self = NFN_RUNS_BROWSER (object);
  g_free (self->store_path);
  g_free (self->search);
  g_free (self->task);
  g_free (self->model);
  g_free (self->status);
  g_free (self->metric);
  g_free (self->curve_metric);
  g_array_unref (self->selected_ids);
  g_ptr_array_unref (self->compare_keys);
  G_OBJECT_CLASS (nfn_runs_browser_parent_class)->finalize (object);
}

static void
nfn_runs_browser_class_init (NfnRunsBrowserClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = nfn_runs_browser_dispose;
  object_class->finalize = nfn_runs_browser_finalize;
  widget_class->map = nfn_runs_browser_map;
  widget_class->unmap = nfn_runs_browser_unmap;

  nfn_ui_get_resource ();
  g_type_ensure (NFN_TYPE_PLOT);
  gtk_widget_class_set_template_from_resource (widget_class, "/org/nfn/Workbench/ui/nfn-runs-browser.ui");
  gtk_widget_class_bind_template_child (widget_class, NfnRunsBrowser, search_entry);
  gtk_widget_class_bind_template_child (widget_class, NfnRunsBrowser, task_dropdown);
  gtk_widget_class_bind_template_child (widget_class, NfnRunsBrowser, model_dropdown);
  gtk_widget_class_bind_template_child (widget_class, NfnRunsBrowser, status_dropdown);
  gtk_widget_class_bind_template_child (widget_class, NfnRunsBrowser, metric_dropdown);
  gtk_widget_class_bind_template_child (widget_class, NfnRunsBrowser, curve_dropdown);
  gtk_widget_class_bind_template_child (widget_class, NfnRunsBrowser, store_label);
  gtk_widget_class_bind_template_child (widget_class, NfnRunsBrowser, message_label);
  gtk_widget_class_bind_template_child (widget_class, NfnRunsBrowser, delete_label);
  gtk_widget_class_bind_template_child (widget_class, NfnRunsBrowser, rename_button);
  gtk_widget_class_bind_template_child (widget_class, NfnRunsBrowser, delete_button);
  gtk_widget_class_bind_template_child (widget_class, NfnRunsBrowser, rename_popover);
  gtk_widget_class_bind_template_child (widget_class, NfnRunsBrowser, delete_popover);
  gtk_widget_class_bind_template_child (widget_class, NfnRunsBrowser, rename_entry);
  gtk_widget_class_bind_template_child (widget_class, NfnRunsBrowser, export_button);
  gtk_widget_class_bind_template_child (widget_class, NfnRunsBrowser, column_view);
  gtk_widget_class_bind_template_child (widget_class, NfnRunsBrowser, smoothing_scale);
  gtk_widget_class_bind_template_child (widget_class, NfnRunsBrowser, log_check);
  gtk_widget_class_bind_template_child (widget_class, NfnRunsBrowser, differences_check);
  gtk_widget_class_bind_template_child (widget_class, NfnRunsBrowser, plot);
  gtk_widget_class_bind_template_child (widget_class, NfnRunsBrowser, compare_grid);
  gtk_widget_class_bind_template_callback (widget_class, nfn_runs_browser_search_changed);
  gtk_widget_class_bind_template_callback (widget_class, nfn_runs_browser_dropdown_changed);
  gtk_widget_class_bind_template_callback (widget_class, nfn_runs_browser_curve_changed);
  gtk_widget_class_bind_template_callback (widget_class, nfn_runs_browser_smoothing_changed);
  gtk_widget_class_bind_template_callback (widget_class, nfn_runs_browser_log_toggled);
  gtk_widget_class_bind_template_callback (widget_class, nfn_runs_browser_differences_toggled);
  gtk_widget_class_bind_template_callback (widget_class, nfn_runs_browser_rename_clicked);
  gtk_widget_class_bind_template_callback (widget_class, nfn_runs_browser_delete_clicked);
  gtk_widget_class_bind_template_callback (widget_class, nfn_runs_browser_export_clicked);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static GtkStringList *
nfn_runs_browser_choices (GtkDropDown *dropdown, const char *all)
{
  GtkStringList *strings = gtk_string_list_new ((const char *const[]) { all, NULL });
  gtk_drop_down_set_model (dropdown, G_LIST_MODEL (strings));
  return strings;
}

static void
nfn_runs_browser_init (NfnRunsBrowser *self)
{
  self->selected_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  self->compare_keys = g_ptr_array_new_with_free_func (g_free);
  self->updating_choices = TRUE;
  gtk_widget_init_template (GTK_WIDGET (self));

  self->tasks = nfn_runs_browser_choices (self->task_dropdown, "All tasks");
  self->models = nfn_runs_browser_choices (self->model_dropdown, "All models");
  self->statuses = nfn_runs_browser_choices (self->status_dropdown, "Any status");
  for (int s = 0; s < NFN_RUNS_N_STATUSES; s++)
    gtk_string_list_append (self->statuses, nfn_run_status_name (s));
  self->metrics = nfn_runs_browser_choices (self->metric_dropdown, "No metric");
  self->curve_metrics = gtk_string_list_new (NULL);
  gtk_drop_down_set_model (self->curve_dropdown, G_LIST_MODEL (self->curve_metrics));
  self->updating_choices = FALSE;

  self->rows = g_list_store_new (NFN_TYPE_RUN_ROW);
  self->filter = gtk_custom_filter_new (nfn_runs_browser_row_matches, self, NULL);
  self->filtered = gtk_filter_list_model_new (G_LIST_MODEL (g_object_ref (self->rows)), GTK_FILTER (self->filter));
  nfn_runs_browser_add_columns (self);
  GtkSorter *sorter = gtk_column_view_get_sorter (self->column_view);
  self->sorted = gtk_sort_list_model_new (G_LIST_MODEL (g_object_ref (self->filtered)), g_object_ref (sorter));
  self->selection = gtk_multi_selection_new (G_LIST_MODEL (g_object_ref (self->sorted)));
  g_signal_connect_swapped (self->selection, "selection-changed", G_CALLBACK (nfn_runs_browser_selection_changed),
                            self);
  gtk_column_view_set_model (self->column_view, GTK_SELECTION_MODEL (self->selection));
  nfn_plot_set_axis_labels (self->plot, "step", NULL);
  nfn_runs_browser_update_details (self);
}
