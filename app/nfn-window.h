/* nfn-window.h — the workbench's main window, its pages:
 *   explorer      the tensor list with statistics, a heatmap and a histogram per weight matrix
 *                 and bias, and the permutation orbit: neuron graph, Permute / Canonicalize /
 *                 Reset, what the network computes, layer outputs, Align to…;
 *   equivariance  an NFN's output for σ·U beside σ·NFN(U);
 *   experiments   the experiment store's runs: table, curves, comparison (NfnRunsBrowser);
 *   tasks         runs started from the GUI, e.g. fitting a zoo (NfnTaskPanel);
 *   tour          the six-step teaching tour on the built-in sample.
 * Keyboard: Ctrl+O open, Ctrl+P permute, Ctrl+Shift+C canonicalize, Ctrl+E export the page,
 * Ctrl+1 … 4 the first four pages, F1 the tour, Ctrl+? the shortcuts window (Ctrl+Q quits,
 * an application accelerator).
 * Networks open from the Open… dialog, the recent-files menu or a file dropped on the window. */
#ifndef NFN_WINDOW_H
#define NFN_WINDOW_H

#include <gtk/gtk.h>
#include "nfn_network.h"
#include "nfn-orbit.h"
#include "nfn-runs-browser.h"
#include "nfn-task-panel.h"

G_BEGIN_DECLS

#define NFN_TYPE_WINDOW (nfn_window_get_type ())
G_DECLARE_FINAL_TYPE (NfnWindow, nfn_window, NFN, WINDOW, GtkApplicationWindow)

NfnWindow *nfn_window_new (GtkApplication *application);
/* Starts fitting the built-in sample and its twin on threads of their own, for the first
 * window to take; a process that shows a window calls it first thing. */
void nfn_window_prefetch_samples (void);

/* Shows `network` (the window takes ownership; NULL shows nothing) and clears any error. */
void nfn_window_set_network (NfnWindow *self, NfnNetwork *network);
const NfnNetwork *nfn_window_get_network (NfnWindow *self);
/* Shows the built-in sample (nfn_sample_network), with its independently fitted twin as the
 * default partner of Align to…. */
void nfn_window_show_sample (NfnWindow *self);
/* The shown network's name: its file name without ".safetensors", or the sample's name. */
const char *nfn_window_get_network_name (NfnWindow *self);

/* Loads on a worker thread; "busy" is TRUE meanwhile. A failure keeps the current network
 * and shows the error's one-line message in the window's banner. */
void nfn_window_open_file (NfnWindow *self, GFile *file);
gboolean nfn_window_get_busy (NfnWindow *self);
/* TRUE while loading or while any view computes on a worker thread (alignment). */
gboolean nfn_window_get_working (NfnWindow *self);
/* The banner's message, NULL when no error is shown. */
const char *nfn_window_get_error_message (NfnWindow *self);

/* The tensor list: NfnTensorRow items, W_1, b_1, W_2, … with read-only properties "name",
 * "shape" (string), "parameters" (guint64), "mean", "std", "min", "max" (double). */
GListModel *nfn_window_get_tensors (NfnWindow *self);

/* Shows step `step` (1 … 6) of the tour page. */
void nfn_window_set_tour_step (NfnWindow *self, int step);

/* The orbit the explorer shows (the network as loaded is its original). */
NfnOrbit *nfn_window_get_orbit (NfnWindow *self);

/* "explorer", "equivariance", "experiments", "tasks" or "tour"; FALSE for another name. */
gboolean nfn_window_set_page (NfnWindow *self, const char *page);
const char *nfn_window_get_page (NfnWindow *self);
/* Child widgets, for tests and the --screenshot paths. */
GtkWidget *nfn_window_get_view (NfnWindow *self, const char *name);

/* Views that can be exported: "graph", "function", "layer-outputs", "plot", "heatmaps",
 * "heatmap-<t>" and "histogram-<t>" for tensor t, "equivariance", "tour", "experiments",
 * "runs-plot", "compare", "tasks", "task-plot", and "page" (the visible page). Writes PNG or SVG by the path's extension. */
gboolean nfn_window_export_view (NfnWindow *self, const char *view, const char *path, GError **error);

/* The experiment store the Experiments and Tasks pages use (NULL: the default XDG store). The
 * browser opens it when its page is first shown. */
void nfn_window_set_store_path (NfnWindow *self, const char *path);
const char *nfn_window_get_store_path (NfnWindow *self);
NfnRunsBrowser *nfn_window_get_runs_browser (NfnWindow *self);
NfnTaskPanel *nfn_window_get_task_panel (NfnWindow *self);

/* Tensor t of the network as shown (the orbit's current member) as a NumPy .npy, in the file's
 * (out, in[, kh, kw]) shape. */
gboolean nfn_window_export_tensor (NfnWindow *self, int tensor, const char *path, GError **error);

/* The recent-networks menu (items whose "target" is each file's URI). */
GMenuModel *nfn_window_get_recent_menu (NfnWindow *self);

/* The window as it is on screen, rendered by its own GSK renderer (for --screenshot, tests
 * and exports). NULL before the window is realized and laid out. */
GdkTexture *nfn_window_render (NfnWindow *self);

#define NFN_TYPE_TENSOR_ROW (nfn_tensor_row_get_type ())
G_DECLARE_FINAL_TYPE (NfnTensorRow, nfn_tensor_row, NFN, TENSOR_ROW, GObject)

G_END_DECLS
#endif
