/* nfn-task-panel.h — the Tasks page: a form with the CLI's options for a task, Run and Cancel,
 * a progress bar with the rate and an ETA, a live curve, and the result. The work runs on a
 * worker thread (GTask) with its own connection to the experiment store, so its run lands in
 * the same SQLite file as a CLI run and the experiment browser sees it live.
 *
 * Tasks: zoo fitting (`nfn zoo fit`: data/nfn_zoo.h's nfn_zoo_fit, the same call the CLI
 * makes) and the training tasks classify, edit, mask and genpred (`nfn train TASK`:
 * data/nfn_task.h, the same calls the CLI makes, with the form's options). Cancel goes through the
 * GCancellable: a zoo fit drops the shard being fitted (the finished ones stay), a training
 * run stops at its next step and keeps its last epoch's checkpoint; either run is marked
 * cancelled. Progress reaches the main loop through g_main_context_invoke, at most
 * NFN_TASK_PANEL_PROGRESS_HZ times a second (and at every epoch's end); the curve is each
 * finished shard's mean PSNR, or the training loss and the validation metric per epoch.
 * When an edit run ends, one training network before and after the edit and its target are
 * shown; when a mask run ends, the mask the model predicts for one training init, a layer at
 * a time as a heatmap (kept 1, pruned 0), with its sparsity; when a genpred run ends, its
 * scatter of predicted against true test accuracy (the PNG the run recorded as its "figure"
 * artifact, so the panel shows what the store holds) and its test τ and R² in the status line.
 */
#ifndef NFN_TASK_PANEL_H
#define NFN_TASK_PANEL_H

#include <gtk/gtk.h>
#include "nfn-heatmap.h"
#include "nfn-image-grid.h"
#include "nfn-plot.h"
#include "nfn-task-train-form.h"
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

/* The task the chooser shows (and Run runs). */
NfnTaskKind nfn_task_panel_get_task (NfnTaskPanel *self);
void nfn_task_panel_set_task (NfnTaskPanel *self, NfnTaskKind kind);
/* Fills (reads) the form of a training task (kind ≠ NFN_TASK_KIND_ZOO_FIT). */
void nfn_task_panel_set_train_options (NfnTaskPanel *self, NfnTaskKind kind, const NfnTaskOptions *options);
void nfn_task_panel_get_train_options (NfnTaskPanel *self, NfnTaskKind kind, NfnTaskOptions *options);
/* The training zoo's network an edit or mask run previews when it ends (default 0). */
void nfn_task_panel_set_preview_index (NfnTaskPanel *self, gint64 index);
/* The mask preview's layer on the heatmap (1 … L). */
void nfn_task_panel_set_mask_layer (NfnTaskPanel *self, int layer);
/* The result views: before · after · target of an edit run; the mask of a mask run; the scatter
 * of a genpred run; the line under them (the sparsity for a mask, the scatter's file for
 * genpred); the last training run's model file (NULL before). */
NfnImageGrid *nfn_task_panel_get_edit_view (NfnTaskPanel *self);
NfnHeatmap *nfn_task_panel_get_mask_view (NfnTaskPanel *self);
GtkPicture *nfn_task_panel_get_scatter_view (NfnTaskPanel *self);
const char *nfn_task_panel_get_result_text (NfnTaskPanel *self);
const char *nfn_task_panel_get_model_path (NfnTaskPanel *self);

/* Signals: "finished" (gint64 run id, gboolean completed) when a task ends;
 * "show-run" (gint64 run id) when the result's "Show in Experiments" is pressed. */

G_END_DECLS
#endif
