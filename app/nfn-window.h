/* nfn-window.h — the workbench's main window: one studied network, its tensor list with
 * statistics and a heatmap per weight matrix and bias. */
#ifndef NFN_WINDOW_H
#define NFN_WINDOW_H

#include <gtk/gtk.h>
#include "nfn_network.h"

G_BEGIN_DECLS

#define NFN_TYPE_WINDOW (nfn_window_get_type ())
G_DECLARE_FINAL_TYPE (NfnWindow, nfn_window, NFN, WINDOW, GtkApplicationWindow)

NfnWindow *nfn_window_new (GtkApplication *application);

/* Shows `network` (the window takes ownership; NULL shows nothing) and clears any error. */
void nfn_window_set_network (NfnWindow *self, NfnNetwork *network);
const NfnNetwork *nfn_window_get_network (NfnWindow *self);
/* The shown network's name: its file name without ".safetensors", or the sample's name. */
const char *nfn_window_get_network_name (NfnWindow *self);

/* Loads on a worker thread; "busy" is TRUE meanwhile. A failure keeps the current network
 * and shows the error's one-line message in the window's banner. */
void nfn_window_open_file (NfnWindow *self, GFile *file);
gboolean nfn_window_get_busy (NfnWindow *self);
/* The banner's message, NULL when no error is shown. */
const char *nfn_window_get_error_message (NfnWindow *self);

/* The tensor list: NfnTensorRow items, W_1, b_1, W_2, … with read-only properties "name",
 * "shape" (string), "parameters" (guint64), "mean", "std", "min", "max" (double). */
GListModel *nfn_window_get_tensors (NfnWindow *self);

/* The window as it is on screen, rendered by its own GSK renderer (for --screenshot, tests
 * and exports). NULL before the window is realized and laid out. */
GdkTexture *nfn_window_render (NfnWindow *self);

#define NFN_TYPE_TENSOR_ROW (nfn_tensor_row_get_type ())
G_DECLARE_FINAL_TYPE (NfnTensorRow, nfn_tensor_row, NFN, TENSOR_ROW, GObject)

G_END_DECLS
#endif
