/* nfn-task-panel.h — the Tasks page: a form with the CLI's options for a task, Run and Cancel,
 * a progress bar with the rate and an ETA, a live curve, and the result. The work runs on a
 * worker thread (GTask) with its own connection to the experiment store, so its run lands in
 * the same SQLite file as a CLI run and the experiment browser sees it live.
 *
 * Tasks: zoo fitting (`nfn zoo fit`: data/nfn_zoo.h's nfn_zoo_fit, the same call the CLI
 * makes). Cancel sets the engine's cancel flag through the GCancellable: the shard being
 * fitted is dropped, the finished ones stay and the run is marked cancelled. Progress reaches
 * the main loop through g_main_context_invoke, at most NFN_TASK_PANEL_PROGRESS_HZ times a
 * second; the curve is each finished shard's mean PSNR.
 */
#ifndef NFN_TASK_PANEL_H
#define NFN_TASK_PANEL_H

#include <gtk/gtk.h>
#include "nfn-plot.h"
#include "nfn_zoo.h"

G_BEGIN_DECLS

#define NFN_TASK_PANEL_PROGRESS_HZ 20
/* The form's defaults for a first look: a zoo small enough to fit in seconds, in shards
 * small enough that the curve gets points. */
#define NFN_TASK_PANEL_DEFAULT_IMAGES 64
#define NFN_TASK_PANEL_DEFAULT_SHARD 16

#define NFN_TYPE_TASK_PANEL (nfn_task_panel_get_type ())
G_DECLARE_FINAL_TYPE (NfnTaskPanel, nfn_task_panel, NFN, TASK_PANEL, GtkWidget)

GtkWidget *nfn_task_panel_new (void);
/* Where runs go (the store the browser shows); the default zoo directory is beside it. */
void nfn_task_panel_set_store_path (NfnTaskPanel *self, const char *path);

/* Fills the zoo-fit form: the settings' dataset, split, count, refits, steps, lr, seed and
 * shard size, the threads, and the zoo directory (NULL: "zoos/<dataset>-<split>-…" beside the
 * store, named after the settings so that other settings never resume it). */
void nfn_task_panel_set_zoo_fit (NfnTaskPanel *self, const NfnZooSettings *settings, int threads, const char *dir);
/* The zoo directory the form names now. */
char *nfn_task_panel_get_zoo_dir (NfnTaskPanel *self);

/* What Run and Cancel do. Start is FALSE (with the reason shown) when the form is invalid,
 * no store is set, or a task is running. */
gboolean nfn_task_panel_start (NfnTaskPanel *self);
void nfn_task_panel_cancel (NfnTaskPanel *self);

/* "busy" (a property, notified) while a task runs. */
gboolean nfn_task_panel_get_busy (NfnTaskPanel *self);
/* Progress 0…1 as shown, the status line ("Fitting 12 of 64 networks…", "Completed: …",
 * "Cancelled: …", "Failed: …") and the run the last task made (0 before the first). */
double nfn_task_panel_get_fraction (NfnTaskPanel *self);
const char *nfn_task_panel_get_status (NfnTaskPanel *self);
gint64 nfn_task_panel_get_run_id (NfnTaskPanel *self);
NfnPlot *nfn_task_panel_get_plot (NfnTaskPanel *self);

/* Signals: "finished" (gint64 run id, gboolean completed) when a task ends;
 * "show-run" (gint64 run id) when the result's "Show in Experiments" is pressed. */

G_END_DECLS
#endif
