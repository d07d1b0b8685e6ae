/* nfn-task-train-form.c — NfnTaskTrainForm: a grid of labelled option widgets, built in code
 * because the four tasks share most rows and differ in a few. */
#include "nfn-task-train-form.h"

#include <string.h>

#include "nfn-draw.h"
#include "nfn_precision.h"

struct _NfnTaskTrainForm
{
  GtkWidget parent_instance;

  NfnTaskKind kind;
  GtkGrid *grid;
  int rows;
  GtkEntry *zoo_entry, *val_entry, *test_entry, *head_entry;
  GtkDropDown *model_dropdown, *transform_dropdown, *selection_dropdown, *balance_dropdown;
  GtkSpinButton *epochs_spin, *batch_spin, *lr_spin, *weight_decay_spin, *warmup_spin, *channels_spin, *depth_spin,
      *fourier_spin, *fourier_scale_spin, *io_bands_spin, *head_dropout_spin, *val_train_spin, *seed_spin,
      *threads_spin, *split_seed_spin;
  GtkCheckButton *augment_check, *normalize_check, *cosine_check, *append_stats_check, *bf16_check;
  GtkFileChooserNative *chooser;
  GtkEntry *chooser_entry; /* the entry the open chooser fills */
};

G_DEFINE_FINAL_TYPE (NfnTaskTrainForm, nfn_task_train_form, GTK_TYPE_WIDGET)

static void
form_row (NfnTaskTrainForm *self, const char *label, const char *tooltip, GtkWidget *widget)
{
  GtkWidget *name = gtk_label_new (label);
  gtk_label_set_xalign (GTK_LABEL (name), 1);
  gtk_widget_add_css_class (name, "dim-label");
  gtk_widget_set_hexpand (widget, TRUE);
  if (tooltip)
    gtk_widget_set_tooltip_text (widget, tooltip);
  gtk_grid_attach (self->grid, name, 0, self->rows, 1, 1);
  gtk_grid_attach (self->grid, widget, 1, self->rows, 1, 1);
  self->rows++;
}

static GtkSpinButton *
form_spin (NfnTaskTrainForm *self, const char *label, const char *tooltip, double lo, double hi, double step, int digits)
{
  GtkWidget *spin = gtk_spin_button_new_with_range (lo, hi, step);
  gtk_spin_button_set_digits (GTK_SPIN_BUTTON (spin), (guint) digits);
  form_row (self, label, tooltip, spin);
  return GTK_SPIN_BUTTON (spin);
}

static GtkDropDown *
form_dropdown (NfnTaskTrainForm *self, const char *label, const char *tooltip, const char *const *items)
{
  GtkWidget *dropdown = gtk_drop_down_new_from_strings (items);
  form_row (self, label, tooltip, dropdown);
  return GTK_DROP_DOWN (dropdown);
}

static GtkCheckButton *
form_check (NfnTaskTrainForm *self, const char *label, const char *tooltip)
{
  GtkWidget *check = gtk_check_button_new_with_label (label);
  gtk_widget_set_tooltip_text (check, tooltip);
  gtk_grid_attach (self->grid, check, 1, self->rows++, 1, 1);
  return GTK_CHECK_BUTTON (check);
}

static void
form_chooser_response (GtkNativeDialog *chooser, int response, NfnTaskTrainForm *self)
{
  if (response == GTK_RESPONSE_ACCEPT && self->chooser_entry)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autofree char *path = file ? g_file_get_path (file) : NULL;
      if (path)
        gtk_editable_set_text (GTK_EDITABLE (self->chooser_entry), path);
    }
  self->chooser_entry = NULL;
  g_clear_object (&self->chooser);
}

static void
form_choose_clicked (GtkButton *button, NfnTaskTrainForm *self)
{
  if (self->chooser)
    return;
  self->chooser_entry = g_object_get_data (G_OBJECT (button), "entry");
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  self->chooser = gtk_file_chooser_native_new ("Zoo Directory", GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                               GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, "_Select", "_Cancel");
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  g_signal_connect (self->chooser, "response", G_CALLBACK (form_chooser_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

/* An entry for a zoo directory and the button that opens the chooser for it. */
static GtkEntry *
form_zoo (NfnTaskTrainForm *self, const char *label, const char *placeholder, const char *tooltip)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 4);
  GtkWidget *entry = gtk_entry_new ();
  gtk_entry_set_placeholder_text (GTK_ENTRY (entry), placeholder);
  gtk_widget_set_hexpand (entry, TRUE);
  GtkWidget *button = gtk_button_new_from_icon_name ("folder-open-symbolic");
  gtk_widget_set_tooltip_text (button, "Choose the zoo directory");
  g_object_set_data (G_OBJECT (button), "entry", entry);
  g_signal_connect (button, "clicked", G_CALLBACK (form_choose_clicked), self);
  gtk_box_append (GTK_BOX (box), entry);
  gtk_box_append (GTK_BOX (box), button);
  form_row (self, label, tooltip, box);
  return GTK_ENTRY (entry);
}

/* Each list starts with its task's default model (what the run picks when none is given). */
static const char *const classify_models[] = { "np", "hnp", "pointwise", "mlp", "mlp-aug", "stat", NULL };
static const char *const edit_models[] = { "np", "hnp", "pointwise", "mlp", NULL };
static const char *const mask_models[] = { "np", "hnp", "pointwise", NULL };
static const char *const genpred_models[] = { "hnp", "np", "stat", "spectral", NULL };
static const char *const transforms[] = { "dilate", "erode", "gradient", "invert", NULL };
static const char *const layer_global[] = { "layer", "global", NULL };

static void
form_select (GtkDropDown *dropdown, const char *value)
{
  int k = dropdown && value ? nfn_task_train_form_dropdown_index (dropdown, value) : -1;
  if (k >= 0)
    gtk_drop_down_set_selected (dropdown, (guint) k);
}

static char *
form_selected (GtkDropDown *dropdown)
{
  GtkStringObject *item = dropdown ? gtk_drop_down_get_selected_item (dropdown) : NULL;
  return item ? g_strdup (gtk_string_object_get_string (item)) : NULL;
}

static void
form_defaults (NfnTaskKind kind, NfnTaskOptions *o)
{
  if (kind == NFN_TASK_KIND_CLASSIFY)
    nfn_task_classify_defaults (o);
  else if (kind == NFN_TASK_KIND_EDIT)
    nfn_task_edit_defaults (o);
  else if (kind == NFN_TASK_KIND_MASK)
    nfn_task_mask_defaults (o);
  else
    nfn_task_genpred_defaults (o);
}

/* The widget's row, its name label included. */
static void
form_set_row_sensitive (NfnTaskTrainForm *self, GtkWidget *widget, gboolean sensitive)
{
  if (!widget)
    return;
  gtk_widget_set_sensitive (widget, sensitive);
  int column, row;
  gtk_grid_query_child (self->grid, widget, &column, &row, NULL, NULL);
  GtkWidget *name = gtk_grid_get_child_at (self->grid, 0, row);
  if (name && name != widget)
    gtk_widget_set_sensitive (name, sensitive);
}

/* genpred's spectral baseline is a least-squares fit: no epochs, no NFN, no GEMM, nothing to train.
 * An HNP model has no IO encoding (the mask task builds it with io_bands 0). */
static void
form_model_changed (NfnTaskTrainForm *self)
{
  g_autofree char *model = form_selected (self->model_dropdown);
  form_set_row_sensitive (self, GTK_WIDGET (self->io_bands_spin), g_strcmp0 (model, "hnp") != 0);
  /* StatNN features join an NF encoder's pool: the stat, mlp, mlp-aug and spectral models have none */
  nfn_model_kind kind;
  gboolean encoder = model && nfn_model_kind_parse (model, &kind) && nfn_model_kind_has_encoder (kind);
  form_set_row_sensitive (self, GTK_WIDGET (self->append_stats_check), encoder);
  gboolean trains = self->kind != NFN_TASK_KIND_GENPRED || g_strcmp0 (model, NFN_TASK_TRAIN_FORM_SPECTRAL) != 0;
  form_set_row_sensitive (self, GTK_WIDGET (self->bf16_check), trains && nfn_bf16_supported ());
  if (self->kind != NFN_TASK_KIND_GENPRED)
    return;
  GtkWidget *training[] = {
    GTK_WIDGET (self->epochs_spin), GTK_WIDGET (self->batch_spin), GTK_WIDGET (self->lr_spin),
    GTK_WIDGET (self->weight_decay_spin), GTK_WIDGET (self->warmup_spin), GTK_WIDGET (self->channels_spin),
    GTK_WIDGET (self->depth_spin), GTK_WIDGET (self->fourier_spin), GTK_WIDGET (self->fourier_scale_spin),
    GTK_WIDGET (self->head_entry),
    GTK_WIDGET (self->head_dropout_spin), GTK_WIDGET (self->seed_spin), GTK_WIDGET (self->cosine_check),
    GTK_WIDGET (self->augment_check), GTK_WIDGET (self->normalize_check),
  };
  for (gsize k = 0; k < G_N_ELEMENTS (training); k++)
    form_set_row_sensitive (self, training[k], trains);
}

GtkWidget *
nfn_task_train_form_new (NfnTaskKind kind)
{
  g_return_val_if_fail (kind >= NFN_TASK_KIND_CLASSIFY && kind <= NFN_TASK_KIND_GENPRED, NULL);
  NfnTaskTrainForm *self = g_object_new (NFN_TYPE_TASK_TRAIN_FORM, NULL);
  self->kind = kind;
  gboolean classify = kind == NFN_TASK_KIND_CLASSIFY, edit = kind == NFN_TASK_KIND_EDIT, mask = kind == NFN_TASK_KIND_MASK;
  gboolean genpred = kind == NFN_TASK_KIND_GENPRED;
  if (genpred)
    {
      self->zoo_entry = form_zoo (self, "CNN zoo", "a CNN zoo (nfn zoo cnn)",
                                  "--zoo: split 80/10/10 by training run into train/val/test");
      self->split_seed_spin = form_spin (self, "Split seed", "--split-seed: seed of the zoo's train/val/test split", 0,
                                         G_MAXINT32, 1, 0);
    }
  else
    {
      self->zoo_entry = form_zoo (self, "Training zoo",
                                  mask ? "a ticket zoo (nfn zoo tickets)" : "a SIREN zoo (nfn zoo fit)",
                                  "--zoo: the training zoo");
      self->val_entry = form_zoo (self, "Validation zoo", "the last tenth of the training zoo",
                                  "--val: the validation zoo (empty: the last 10 % of the training zoo)");
      self->test_entry = form_zoo (self, "Test zoo", "none", "--test: evaluated with the best epoch's model");
    }
  if (edit)
    self->transform_dropdown = form_dropdown (self, "Edit", "--task: the transform the edited SIRENs should render", transforms);
  self->model_dropdown = form_dropdown (self, "Model",
                                        genpred ? "--model: an NFN trained to predict the test accuracy (hnp, np, stat), "
                                                  "or spectral: least squares on each layer's α, no training"
                                                : "--model: the NFN kind",
                                        classify ? classify_models : edit ? edit_models
                                                   : mask ? mask_models : genpred_models);
  self->epochs_spin = form_spin (self, "Epochs", "--epochs", 1, 100000, 1, 0);
  self->batch_spin = form_spin (self, "Batch", "--batch: networks per step", 1, 4096, 1, 0);
  self->lr_spin = form_spin (self, "Learning rate", "--lr", 1e-6, 1, 1e-4, 5);
  if (!edit)
    self->weight_decay_spin = form_spin (self, "Weight decay", "--weight-decay: AdamW's decoupled decay", 0, 10, 1e-3, 4);
  self->warmup_spin = form_spin (self, "Warmup steps", "--warmup", 0, 1e7, 10, 0);
  self->channels_spin = form_spin (self, "Channels", edit ? "--channels (0: the editor's 128)" : "--channels", edit ? 0 : 1,
                                   4096, 1, 0);
  self->depth_spin = form_spin (self, "NF layers", edit ? "--depth (0: the editor's 3)" : "--depth", edit ? 0 : 1, 16, 1, 0);
  /* every task has them, the editor too (on its raw weights a scale fits other than classify's) */
  self->fourier_spin = form_spin (self, "Fourier features", "--fourier: m (0 = off)", 0, 4096, 1, 0);
  self->fourier_scale_spin = form_spin (self, "Fourier scale", "--fourier-scale: std of the Fourier matrix", 0.01, 100,
                                        0.1, 2);
  if (mask)
    self->io_bands_spin = form_spin (self, "IO bands",
                                     "--io-bands: sinusoidal codes of each input's and output's position, so that the"
                                     " NFN can tell the MLP's pixels and classes apart (0 = off; HNP models ignore it)",
                                     0, 32, 1, 0);
  if (classify || genpred)
    {
      GtkWidget *head = gtk_entry_new ();
      form_row (self, "Head widths", "--head: hidden widths of the MLP head, e.g. 1000,1000 (none: no hidden layer)", head);
      self->head_entry = GTK_ENTRY (head);
      self->head_dropout_spin = form_spin (self, "Head dropout", "--head-dropout", 0, 0.99, 0.05, 2);
      self->append_stats_check = form_check (self, "StatNN features in the head",
                                             "--append-stats: the head sees the weights' 7 statistics per tensor beside"
                                             " the NFN's invariant pool (np, hnp, pointwise)");
    }
  if (mask)
    {
      self->val_train_spin = form_spin (self, "Validation training", "--val-train: validation inits trained under the predicted"
                                        " masks each epoch (0: select by IoU with IMP)", 0, 100000, 1, 0);
      const char *const selections[] = { nfn_task_mask_select_name (NFN_TASK_MASK_SELECT_LAYER),
                                         nfn_task_mask_select_name (NFN_TASK_MASK_SELECT_GLOBAL),
                                         nfn_task_mask_select_name (NFN_TASK_MASK_SELECT_SPREAD), NULL };
      self->selection_dropdown = form_dropdown (self, "Mask selection",
                                                "--selection: which scores a mask keeps — each layer's best within the"
                                                " training zoo's layer budgets (layer), the best of all weights (global),"
                                                " or the layer budgets spread over each layer's rows and columns (spread)",
                                                selections);
      self->balance_dropdown = form_dropdown (self, "Balance", "--balance: class balance of the BCE", layer_global);
    }
  self->seed_spin = form_spin (self, "Seed", "--seed", 0, G_MAXINT32, 1, 0);
  self->threads_spin = form_spin (self, "Threads", "--threads", 1, 256, 1, 0);
  self->cosine_check = form_check (self, "Cosine learning-rate decay",
                                   "--cosine: decay the learning rate to 0 along a cosine after the warmup");
  self->augment_check = form_check (self, "Augment with random permutations",
                                    "--augment: a random hidden-neuron permutation of every training network at every step");
  self->normalize_check = form_check (self, "Standardise each input tensor",
                                      edit ? "--normalize" : "off: --raw-weights");
  self->bf16_check = form_check (self, "bfloat16 matrix products",
                                 "--precision bf16: the run's GEMMs round their inputs to bfloat16 and sum in fp32,"
                                 " about 1.8x faster steps (the views keep fp32)");
  if (!nfn_bf16_supported ()) /* greyed out by form_model_changed */
    gtk_widget_set_tooltip_text (GTK_WIDGET (self->bf16_check), "--precision bf16 needs a CPU with AVX512-BF16,"
                                                                " and this one lacks it");
  g_signal_connect_swapped (self->model_dropdown, "notify::selected", G_CALLBACK (form_model_changed), self);
  NfnTaskOptions defaults;
  form_defaults (kind, &defaults);
  defaults.threads = (int) g_get_num_processors ();
  nfn_task_train_form_set_options (self, &defaults);
  nfn_task_options_clear (&defaults);
  form_model_changed (self); /* the default model may already be the one selected: no notify */
  return GTK_WIDGET (self);
}

NfnTaskKind
nfn_task_train_form_get_kind (NfnTaskTrainForm *self)
{
  g_return_val_if_fail (NFN_IS_TASK_TRAIN_FORM (self), NFN_TASK_KIND_CLASSIFY);
  return self->kind;
}

static void
form_set_text (GtkEntry *entry, const char *text)
{
  if (entry)
    gtk_editable_set_text (GTK_EDITABLE (entry), text ? text : "");
}

static char *
form_text (GtkEntry *entry)
{
  const char *text = entry ? gtk_editable_get_text (GTK_EDITABLE (entry)) : "";
  return text[0] ? g_strdup (text) : NULL;
}

static void
form_set_value (GtkSpinButton *spin, double value)
{
  if (spin)
    gtk_spin_button_set_value (spin, value);
}

void
nfn_task_train_form_set_options (NfnTaskTrainForm *self, const NfnTaskOptions *o)
{
  g_return_if_fail (NFN_IS_TASK_TRAIN_FORM (self));
  form_set_text (self->zoo_entry, o->zoo);
  form_set_text (self->val_entry, o->val);
  form_set_text (self->test_entry, o->test);
  /* no head given: the task's default (classify's model config default is 1000,1000) */
  NfnTaskOptions defaults;
  form_defaults (self->kind, &defaults);
  form_set_text (self->head_entry, o->head ? o->head : defaults.head ? defaults.head : "1000,1000");
  nfn_task_options_clear (&defaults);
  if (o->model)
    form_select (self->model_dropdown, o->model);
  else
    gtk_drop_down_set_selected (self->model_dropdown, 0); /* the task's default */
  form_select (self->transform_dropdown, o->transform);
  form_select (self->selection_dropdown,
               o->selection ? o->selection : nfn_task_mask_select_name (NFN_TASK_MASK_DEFAULT_SELECT));
  form_select (self->balance_dropdown, o->balance ? o->balance : "layer");
  form_set_value (self->epochs_spin, o->epochs);
  form_set_value (self->batch_spin, o->batch);
  form_set_value (self->lr_spin, o->lr);
  form_set_value (self->weight_decay_spin, o->weight_decay);
  form_set_value (self->warmup_spin, (double) o->warmup);
  form_set_value (self->channels_spin, o->channels);
  form_set_value (self->depth_spin, o->depth);
  form_set_value (self->fourier_spin, o->fourier);
  form_set_value (self->fourier_scale_spin, o->fourier_scale);
  form_set_value (self->io_bands_spin, o->io_bands);
  form_set_value (self->head_dropout_spin, o->head_dropout);
  form_set_value (self->val_train_spin, o->val_train);
  form_set_value (self->seed_spin, (double) o->seed);
  form_set_value (self->split_seed_spin, (double) o->split_seed);
  if (o->threads > 0)
    form_set_value (self->threads_spin, o->threads);
  gtk_check_button_set_active (self->augment_check, o->augment);
  gtk_check_button_set_active (self->cosine_check, o->cosine);
  gtk_check_button_set_active (self->normalize_check, o->normalize);
  if (self->append_stats_check)
    gtk_check_button_set_active (self->append_stats_check, o->append_stats);
  gtk_check_button_set_active (self->bf16_check, o->bf16);
}

void
nfn_task_train_form_get_options (NfnTaskTrainForm *self, NfnTaskOptions *o)
{
  g_return_if_fail (NFN_IS_TASK_TRAIN_FORM (self));
  form_defaults (self->kind, o);
  o->zoo = form_text (self->zoo_entry);
  o->val = form_text (self->val_entry);
  o->test = form_text (self->test_entry);
  o->model = form_selected (self->model_dropdown);
  o->transform = form_selected (self->transform_dropdown);
  o->selection = form_selected (self->selection_dropdown);
  o->balance = form_selected (self->balance_dropdown);
  o->epochs = gtk_spin_button_get_value_as_int (self->epochs_spin);
  o->batch = gtk_spin_button_get_value_as_int (self->batch_spin);
  o->lr = gtk_spin_button_get_value (self->lr_spin);
  if (self->weight_decay_spin)
    o->weight_decay = gtk_spin_button_get_value (self->weight_decay_spin);
  o->warmup = (gint64) gtk_spin_button_get_value (self->warmup_spin);
  o->channels = gtk_spin_button_get_value_as_int (self->channels_spin);
  o->depth = gtk_spin_button_get_value_as_int (self->depth_spin);
  o->fourier = gtk_spin_button_get_value_as_int (self->fourier_spin);
  o->fourier_scale = gtk_spin_button_get_value (self->fourier_scale_spin);
  if (self->io_bands_spin)
    o->io_bands = gtk_spin_button_get_value_as_int (self->io_bands_spin);
  if (self->head_entry)
    {
      g_free (o->head);
      o->head = form_text (self->head_entry);
    }
  if (self->head_dropout_spin)
    o->head_dropout = gtk_spin_button_get_value (self->head_dropout_spin);
  if (self->val_train_spin)
    o->val_train = gtk_spin_button_get_value_as_int (self->val_train_spin);
  o->seed = (gint64) gtk_spin_button_get_value (self->seed_spin);
  if (self->split_seed_spin)
    o->split_seed = (gint64) gtk_spin_button_get_value (self->split_seed_spin);
  o->threads = gtk_spin_button_get_value_as_int (self->threads_spin);
  o->augment = gtk_check_button_get_active (self->augment_check);
  o->cosine = gtk_check_button_get_active (self->cosine_check);
  o->normalize = gtk_check_button_get_active (self->normalize_check);
  /* a greyed-out check is not an option of the chosen model */
  o->append_stats = self->append_stats_check && gtk_widget_get_sensitive (GTK_WIDGET (self->append_stats_check))
                    && gtk_check_button_get_active (self->append_stats_check);
  o->bf16 = gtk_widget_get_sensitive (GTK_WIDGET (self->bf16_check)) && gtk_check_button_get_active (self->bf16_check);
}

static void
nfn_task_train_form_dispose (GObject *object)
{
  NfnTaskTrainForm *self = NFN_TASK_TRAIN_FORM (object);
  if (self->chooser)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);
  nfn_widget_unparent_children (GTK_WIDGET (self));
  G_OBJECT_CLASS (nfn_task_train_form_parent_class)->dispose (object);
}

static void
nfn_task_train_form_class_init (NfnTaskTrainFormClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = nfn_task_train_form_dispose;
  gtk_widget_class_set_layout_manager_type (GTK_WIDGET_CLASS (klass), GTK_TYPE_BIN_LAYOUT);
}

static void
nfn_task_train_form_init (NfnTaskTrainForm *self)
{
  GtkWidget *grid = gtk_grid_new ();
  gtk_grid_set_row_spacing (GTK_GRID (grid), 6);
  gtk_grid_set_column_spacing (GTK_GRID (grid), 10);
  gtk_widget_set_parent (grid, GTK_WIDGET (self));
  self->grid = GTK_GRID (grid);
}

int
nfn_task_train_form_dropdown_index (GtkDropDown *dropdown, const char *item)
{
  GListModel *model = gtk_drop_down_get_model (dropdown);
  for (guint k = 0; k < g_list_model_get_n_items (model); k++)
    {
      g_autoptr (GtkStringObject) object = g_list_model_get_item (model, k);
      if (g_strcmp0 (gtk_string_object_get_string (object), item) == 0)
        return (int) k;
    }
  return -1;
}
