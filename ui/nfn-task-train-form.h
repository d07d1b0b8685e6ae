/* nfn-task-train-form.h — the Tasks page's form for one training task (classify, edit, mask,
 * genpred): the options `nfn train TASK` offers, filled with the task's defaults
 * (data/nfn_task.h), read back as the NfnTaskOptions the run takes. Zoo directories are typed or
 * chosen with a GtkFileChooserNative. Options that do not apply to the chosen model are greyed
 * out: genpred's spectral model has no training options, the mask task's hnp no IO bands. */
#ifndef NFN_TASK_TRAIN_FORM_H
#define NFN_TASK_TRAIN_FORM_H

#include <gtk/gtk.h>
#include "nfn_task.h"

G_BEGIN_DECLS

/* The tasks of the page's chooser, in its order. */
typedef enum {
  NFN_TASK_KIND_ZOO_FIT,
  NFN_TASK_KIND_CLASSIFY,
  NFN_TASK_KIND_EDIT,
  NFN_TASK_KIND_MASK,
  NFN_TASK_KIND_GENPRED,
} NfnTaskKind;

/* genpred's model that fits without training (no epochs, no progress, no checkpoint). */
#define NFN_TASK_TRAIN_FORM_SPECTRAL "spectral"

#define NFN_TYPE_TASK_TRAIN_FORM (nfn_task_train_form_get_type ())
G_DECLARE_FINAL_TYPE (NfnTaskTrainForm, nfn_task_train_form, NFN, TASK_TRAIN_FORM, GtkWidget)

/* kind: classify, edit, mask or genpred. */
GtkWidget *nfn_task_train_form_new (NfnTaskKind kind);
NfnTaskKind nfn_task_train_form_get_kind (NfnTaskTrainForm *self);
/* The widgets show `options` (those the task has; the rest are ignored). */
void nfn_task_train_form_set_options (NfnTaskTrainForm *self, const NfnTaskOptions *options);
/* The task's defaults with what the widgets show; empty zoo fields are NULL. Clear with
 * nfn_task_options_clear. */
void nfn_task_train_form_get_options (NfnTaskTrainForm *self, NfnTaskOptions *options);
/* Position of `item` in a drop-down of strings (a GtkStringList), -1 when it is not there: the
 * Tasks page's forms select by name with it. */
int nfn_task_train_form_dropdown_index (GtkDropDown *dropdown, const char *item);

G_END_DECLS
#endif
