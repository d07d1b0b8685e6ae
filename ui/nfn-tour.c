/* nfn-tour.c — NfnTour: six pages built around one network, each with live views.
 *
 * Shape letters as in nfn_core.h.
 */
#include "nfn-tour.h"

#include "nfn-align-view.h"
#include "nfn-equivariance-view.h"
#include "nfn-function-panel.h"
#include "nfn-heatmap.h"
#include "nfn-neuron-graph.h"
#include "nfn-draw.h"
#include "nfn-ui-resources.h"
#include "nfn_network_text.h"
#include "nfn_zoo.h"

#define NFN_TOUR_ORBIT_SEED 7

struct _NfnTour
{
  GtkWidget parent_instance;

  GtkStack *stack;
  GtkButton *back_button, *next_button;
  GtkLabel *step_label;

  NfnOrbit *orbit;
  GtkWidget *pages[NFN_TOUR_STEPS + 1]; /* [1 … 6] */
  NfnHeatmap *weight_heatmap;           /* step 2: the widest hidden W, following the orbit */
  GtkWidget *align_view;                /* step 6 */
  float *source;                        /* the image the network was fitted to (R·Cc), or NULL */
  int source_rows, source_cols;
  char *source_caption;
  gboolean aligned_once;
  int step;
};

G_DEFINE_FINAL_TYPE (NfnTour, nfn_tour, GTK_TYPE_WIDGET)

GtkWidget *
nfn_tour_new (void)
{
  return g_object_new (NFN_TYPE_TOUR, NULL);
}

/* A page: a heading, a paragraph, then its views. */
static GtkWidget *
nfn_tour_page (const char *heading, const char *paragraph)
{
  GtkWidget *page = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  GtkWidget *title = gtk_label_new (heading);
  gtk_label_set_xalign (GTK_LABEL (title), 0);
  gtk_widget_add_css_class (title, "title-2");
  gtk_box_append (GTK_BOX (page), title);
  GtkWidget *text = gtk_label_new (NULL);
  gtk_label_set_markup (GTK_LABEL (text), paragraph);
  gtk_label_set_xalign (GTK_LABEL (text), 0);
  gtk_label_set_wrap (GTK_LABEL (text), TRUE);
  gtk_label_set_max_width_chars (GTK_LABEL (text), 100);
  gtk_widget_add_css_class (text, "tour-text");
  gtk_box_append (GTK_BOX (page), text);
  return page;
}

static GtkWidget *
nfn_tour_graph (NfnTour *self)
{
  GtkWidget *graph = nfn_neuron_graph_new ();
  nfn_neuron_graph_set_orbit (NFN_NEURON_GRAPH (graph), self->orbit);
  gtk_widget_set_size_request (graph, 560, 400);
  return graph;
}

static GtkWidget *
nfn_tour_function (NfnTour *self)
{
  GtkWidget *panel = nfn_function_panel_new ();
  nfn_function_panel_set_orbit (NFN_FUNCTION_PANEL (panel), self->orbit);
  nfn_function_panel_set_source_image (NFN_FUNCTION_PANEL (panel), self->source, self->source_rows, self->source_cols,
                                       self->source_caption);
  gtk_widget_set_valign (panel, GTK_ALIGN_START);
  return panel;
}

static void
nfn_tour_permute (NfnTour *self)
{
  nfn_orbit_permute_random (self->orbit);
  nfn_orbit_animate (self->orbit, GTK_WIDGET (self));
}

static void
nfn_tour_reset (NfnTour *self)
{
  nfn_orbit_reset (self->orbit);
  nfn_orbit_animate (self->orbit, GTK_WIDGET (self));
}

static GtkWidget *
nfn_tour_orbit_buttons (NfnTour *self)
{
  GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  GtkWidget *permute = gtk_button_new_with_mnemonic ("_Permute hidden neurons");
  gtk_widget_add_css_class (permute, "suggested-action");
  g_signal_connect_swapped (permute, "clicked", G_CALLBACK (nfn_tour_permute), self);
  GtkWidget *reset = gtk_button_new_with_mnemonic ("_Reset");
  g_signal_connect_swapped (reset, "clicked", G_CALLBACK (nfn_tour_reset), self);
  gtk_box_append (GTK_BOX (row), permute);
  gtk_box_append (GTK_BOX (row), reset);
  return row;
}

/* The widest hidden-to-hidden weight matrix shows a permutation best (rows and columns move). */
static int
nfn_tour_showcase_layer (const nfn_space *s)
{
  int best = 1;
  for (int i = 2; i < s->L; i++)
    if ((size_t) s->n[i] * s->n[i - 1] > (size_t) s->n[best] * s->n[best - 1])
      best = i;
  return s->L >= 3 ? best : 1;
}

static void
nfn_tour_update_heatmap (NfnTour *self)
{
  const NfnNetwork *current = nfn_orbit_get_current (self->orbit);
  const nfn_space *s = &current->arch.space;
  int i = nfn_tour_showcase_layer (s);
  nfn_heatmap_set_matrix (self->weight_heatmap, s->n[i], s->n[i - 1] * s->f[i],
                          current->weights.t[nfn_tensor_weight (i)]);
}

static void
nfn_tour_heatmap_positions (NfnTour *self)
{
  const nfn_space *s = &nfn_orbit_get_original (self->orbit)->arch.space;
  int i = nfn_tour_showcase_layer (s);
  g_autofree float *rows = g_new (float, s->n[i]);
  g_autofree float *cols = g_new (float, (size_t) s->n[i - 1] * s->f[i]);
  g_autofree float *inputs = g_new (float, s->n[i - 1]);
  nfn_orbit_animated_positions (self->orbit, i, rows);
  nfn_orbit_animated_positions (self->orbit, i - 1, inputs);
  for (int k = 0; k < s->n[i - 1]; k++)
    for (int p = 0; p < s->f[i]; p++)
      cols[k * s->f[i] + p] = inputs[k] * s->f[i] + p;
  nfn_heatmap_set_positions (self->weight_heatmap, rows, cols);
}

static void
nfn_tour_orbit_changed (NfnOrbit *orbit, NfnTour *self)
{
  nfn_tour_update_heatmap (self);
  nfn_tour_heatmap_positions (self);
}

static void
nfn_tour_orbit_progress (NfnOrbit *orbit, GParamSpec *pspec, NfnTour *self)
{
  nfn_tour_heatmap_positions (self);
}

/* "32!·32!" for the hidden widths. */
static char *
nfn_tour_factorials (const nfn_space *s)
{
  GString *text = g_string_new (NULL);
  for (int i = 1; i < s->L; i++)
    g_string_append_printf (text, "%s%d!", i > 1 ? "·" : "", s->n[i]);
  return g_string_free (text, FALSE);
}

static void
nfn_tour_build (NfnTour *self, const NfnNetwork *network, const NfnNetwork *twin)
{
  const nfn_space *s = &network->arch.space;
  g_autofree char *summary = nfn_arch_summary (&network->arch);
  g_autofree char *factorials = nfn_tour_factorials (s);
  g_autofree char *orbit_size = nfn_orbit_format_size (s);

  /* 1. The sample. */
  g_autofree char *text1 = g_markup_printf_escaped (
    "This is a small neural network, <b>%s</b>. Its inputs are the coordinates (x, y) of a pixel, its output is the "
    "pixel’s brightness, so the whole network <i>is</i> an image. On the left, its neurons in columns: every line "
    "is a weight (red positive, blue negative, stronger lines for larger weights), and every hidden neuron has "
    "its own colour. On the right, the picture it computes.",
    summary);
  GtkWidget *page1 = nfn_tour_page ("1. A network is a function", text1);
  GtkWidget *row1 = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 24);
  gtk_box_append (GTK_BOX (row1), nfn_tour_graph (self));
  gtk_box_append (GTK_BOX (row1), nfn_tour_function (self));
  gtk_box_append (GTK_BOX (page1), row1);

  /* 2. Permute. */
  GtkWidget *page2 = nfn_tour_page (
    "2. Shuffle the hidden neurons: the weights change, the image does not",
    "Press <b>Permute</b>. The hidden neurons trade places, each taking its incoming and outgoing weights with it: "
    "rows and columns of the weight matrix move, so almost every number in the network changes. Yet each neuron "
    "still receives the same inputs and sends the same signal to the same neurons, only in a different order, "
    "which the next layer adds up all the same. The picture stays the same: <b>max |Δf|</b> under the picture is "
    "floating-point rounding.");
  gtk_box_append (GTK_BOX (page2), nfn_tour_orbit_buttons (self));
  GtkWidget *row2 = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 24);
  self->weight_heatmap = NFN_HEATMAP (nfn_heatmap_new ());
  int showcase = nfn_tour_showcase_layer (s);
  g_autofree char *shape = nfn_network_tensor_shape (network, nfn_tensor_weight (showcase));
  g_autofree char *heatmap_title = g_strdup_printf ("%s  ·  %s", nfn_network_tensor_name (network, nfn_tensor_weight (showcase)), shape);
  nfn_heatmap_set_title (self->weight_heatmap, heatmap_title);
  gtk_widget_set_valign (GTK_WIDGET (self->weight_heatmap), GTK_ALIGN_START);
  gtk_box_append (GTK_BOX (row2), GTK_WIDGET (self->weight_heatmap));
  gtk_box_append (GTK_BOX (row2), nfn_tour_function (self));
  gtk_box_append (GTK_BOX (page2), row2);

  /* 3. Count. */
  g_autofree char *text3 = g_markup_printf_escaped (
    "Every way of ordering the hidden neurons gives another network with the same function. Each hidden layer of "
    "n neurons can be ordered in n! ways, and the layers are ordered independently: this network has "
    "<b>%s ≈ %s</b> equivalent twins. Press <b>Permute</b> to visit another one: a model that reads weights "
    "without knowing this symmetry sees each twin as a different point, and must learn the same lesson that many "
    "times over.",
    factorials, orbit_size);
  GtkWidget *page3 = nfn_tour_page ("3. Count the orbit", text3);
  g_autofree char *count = g_markup_printf_escaped ("<span size='xx-large' weight='bold'>%s ≈ %s</span> equivalent networks",
                                                    factorials, orbit_size);
  GtkWidget *count_label = gtk_label_new (NULL);
  gtk_label_set_markup (GTK_LABEL (count_label), count);
  gtk_label_set_xalign (GTK_LABEL (count_label), 0);
  gtk_widget_add_css_class (count_label, "orbit-count");
  gtk_box_append (GTK_BOX (page3), count_label);
  gtk_box_append (GTK_BOX (page3), nfn_tour_orbit_buttons (self));
  GtkWidget *graph3 = nfn_tour_graph (self);
  gtk_widget_set_halign (graph3, GTK_ALIGN_START);
  gtk_box_append (GTK_BOX (page3), graph3);

  /* 4. Equivariance. */
  GtkWidget *page4 = nfn_tour_page (
    "4. A neural functional follows the permutation",
    "A <b>neural functional</b> (NFN) is a network whose input is another network’s weights. Built from "
    "permutation-equivariant layers, it gives the same answer whichever twin it is shown — up to the same "
    "shuffle: permuting the input network, then applying the NFN (left) equals applying the NFN, then permuting "
    "(middle). The difference (right) is rounding noise. Tick <b>Break the coupling</b> to shuffle the biases "
    "differently from their weights: that input is no longer a twin, and the two sides part.");
  GtkWidget *equivariance = nfn_equivariance_view_new ();
  nfn_equivariance_view_set_network (NFN_EQUIVARIANCE_VIEW (equivariance), network);
  nfn_equivariance_view_set_model (NFN_EQUIVARIANCE_VIEW (equivariance), NFN_EQUIVARIANCE_HNP_STACK);
  nfn_equivariance_view_set_tensor (NFN_EQUIVARIANCE_VIEW (equivariance), nfn_tensor_weight (showcase));
  gtk_box_append (GTK_BOX (page4), equivariance);

  /* 5. Invariance. */
  GtkWidget *page5 = nfn_tour_page (
    "5. An invariant classifier gives the same answer",
    "Pool the equivariant features over the neurons (an average does not care about order) and put an ordinary "
    "classifier on top: the result is <b>invariant</b>. Shown any twin of the network (left) or the network itself (middle), it "
    "predicts exactly the same class — which is what we want from a model that reads a network to tell, say, "
    "which image it draws.");
  GtkWidget *invariance = nfn_equivariance_view_new ();
  nfn_equivariance_view_set_network (NFN_EQUIVARIANCE_VIEW (invariance), network);
  nfn_equivariance_view_set_model (NFN_EQUIVARIANCE_VIEW (invariance), NFN_EQUIVARIANCE_HNP_CLASSIFIER);
  gtk_box_append (GTK_BOX (page5), invariance);

  /* 6. Weight matching. */
  /* Measured, not assumed: for the sample and its twin, matching lowers the barrier (0.51 → 0.43
   * MSE) without removing it, so the page says so and points to the case that is one basin. */
  const char *text6
    = twin ? "Take a second network B, trained independently: the same image fitted again from another random "
             "start. It draws nearly the same picture as A, but its hidden neurons learned their jobs in another "
             "order. Averaging A and B weight by weight (grey) mixes neurons that do different jobs, and halfway the "
             "picture breaks down: its error against the image rises — a <b>barrier</b> between two good networks. "
             "Weight matching (Git Re-Basin) picks the twin σB whose neurons line up best with A’s, and the path to "
             "it (blue) stays lower near both ends. For wide networks trained by SGD the barrier all but vanishes "
             "(Ainsworth et al., 2022): <b>one basin</b>. These small sine networks keep part of it — read the "
             "numbers below. Choose <i>a permuted noisy copy</i> and press Align to see B that really is A’s twin: "
             "the aligned path is flat."
           : "Take a second network B that computes nearly the same picture as A but whose hidden neurons sit in "
             "another order: here A’s twin with a little noise on every weight, as a second training run might "
             "leave it. Averaging A and B weight by weight (grey) mixes neurons that do different jobs, and halfway "
             "the picture breaks down: a <b>barrier</b> between two good networks. Weight matching (Git Re-Basin) "
             "picks the twin σB whose neurons line up best with A’s; on the straight path to it (blue) the picture "
             "stays good all the way: <b>one basin</b>. Choose another partner and press Align to compare.";
  GtkWidget *page6 = nfn_tour_page ("6. Weight matching brings two independently trained networks together", text6);
  self->align_view = nfn_align_view_new ();
  nfn_align_view_set_orbit (NFN_ALIGN_VIEW (self->align_view), self->orbit);
  nfn_align_view_set_target (NFN_ALIGN_VIEW (self->align_view), self->source, self->source_rows, self->source_cols);
  if (twin)
    nfn_align_view_set_twin (NFN_ALIGN_VIEW (self->align_view), twin);
  else
    nfn_align_view_set_partner (NFN_ALIGN_VIEW (self->align_view), NFN_ALIGN_PARTNER_NOISY_COPY);
  gtk_widget_set_size_request (self->align_view, 640, -1);
  gtk_widget_set_halign (self->align_view, GTK_ALIGN_START);
  gtk_box_append (GTK_BOX (page6), self->align_view);

  GtkWidget *pages[] = { NULL, page1, page2, page3, page4, page5, page6 };
  for (int k = 1; k <= NFN_TOUR_STEPS; k++)
    {
      g_autofree char *name = g_strdup_printf ("step%d", k);
      self->pages[k] = pages[k];
      gtk_stack_add_named (self->stack, pages[k], name);
    }
  nfn_tour_update_heatmap (self);
}

static void
nfn_tour_clear (NfnTour *self)
{
  for (int k = 1; k <= NFN_TOUR_STEPS; k++)
    if (self->pages[k])
      {
        gtk_stack_remove (self->stack, self->pages[k]);
        self->pages[k] = NULL;
      }
  self->weight_heatmap = NULL;
  self->align_view = NULL;
  self->aligned_once = FALSE;
  g_clear_pointer (&self->source, g_free);
  g_clear_pointer (&self->source_caption, g_free);
  if (self->orbit)
    g_signal_handlers_disconnect_by_data (self->orbit, self);
  g_clear_object (&self->orbit);
}

void
nfn_tour_set_network (NfnTour *self, const NfnNetwork *network, const NfnNetwork *twin)
{
  g_return_if_fail (NFN_IS_TOUR (self));
  nfn_tour_clear (self);
  if (network == NULL)
    return;
  self->orbit = nfn_orbit_new (network, NFN_TOUR_ORBIT_SEED);
  /* A missing data set only hides the source image: the tour works without it. */
  self->source = nfn_network_source_image (network, &self->source_rows, &self->source_cols, &self->source_caption,
                                           NULL);
  nfn_tour_build (self, network, twin);
  g_signal_connect (self->orbit, "changed", G_CALLBACK (nfn_tour_orbit_changed), self);
  g_signal_connect (self->orbit, "notify::progress", G_CALLBACK (nfn_tour_orbit_progress), self);
  self->step = 0;
  nfn_tour_set_step (self, 1);
}

void
nfn_tour_set_step (NfnTour *self, int step)
{
  g_return_if_fail (NFN_IS_TOUR (self));
  step = CLAMP (step, 1, NFN_TOUR_STEPS);
  self->step = step;
  if (self->pages[step])
    gtk_stack_set_visible_child (self->stack, self->pages[step]);
  g_autofree char *text = g_strdup_printf ("Step %d of %d", step, NFN_TOUR_STEPS);
  gtk_label_set_text (self->step_label, text);
  gtk_widget_set_sensitive (GTK_WIDGET (self->back_button), step > 1);
  gtk_widget_set_sensitive (GTK_WIDGET (self->next_button), step < NFN_TOUR_STEPS);
  /* The last step needs no button press: the barrier plot computes on arrival. */
  if (step == NFN_TOUR_STEPS && self->align_view && !self->aligned_once)
    {
      self->aligned_once = TRUE;
      nfn_align_view_run (NFN_ALIGN_VIEW (self->align_view));
    }
}

int
nfn_tour_get_step (NfnTour *self)
{
  g_return_val_if_fail (NFN_IS_TOUR (self), 0);
  return self->step;
}

void
nfn_tour_next (NfnTour *self)
{
  g_return_if_fail (NFN_IS_TOUR (self));
  nfn_tour_set_step (self, self->step + 1);
}

void
nfn_tour_back (NfnTour *self)
{
  g_return_if_fail (NFN_IS_TOUR (self));
  nfn_tour_set_step (self, self->step - 1);
}

const char *
nfn_tour_get_step_text (NfnTour *self)
{
  g_return_val_if_fail (NFN_IS_TOUR (self), NULL);
  return gtk_label_get_text (self->step_label);
}

gboolean
nfn_tour_get_busy (NfnTour *self)
{
  g_return_val_if_fail (NFN_IS_TOUR (self), FALSE);
  return self->align_view && nfn_align_view_get_busy (NFN_ALIGN_VIEW (self->align_view));
}

NfnOrbit *
nfn_tour_get_orbit (NfnTour *self)
{
  g_return_val_if_fail (NFN_IS_TOUR (self), NULL);
  return self->orbit;
}

GtkWidget *
nfn_tour_get_page (NfnTour *self, int step)
{
  g_return_val_if_fail (NFN_IS_TOUR (self), NULL);
  if (step < 1 || step > NFN_TOUR_STEPS)
    return NULL;
  return self->pages[step];
}

static void
nfn_tour_dispose (GObject *object)
{
  NfnTour *self = NFN_TOUR (object);
  nfn_tour_clear (self);
  gtk_widget_dispose_template (GTK_WIDGET (self), NFN_TYPE_TOUR);
  nfn_widget_unparent_children (GTK_WIDGET (self));
  G_OBJECT_CLASS (nfn_tour_parent_class)->dispose (object);
}

static void
nfn_tour_class_init (NfnTourClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = nfn_tour_dispose;

  nfn_ui_get_resource ();
  gtk_widget_class_set_template_from_resource (widget_class, "/org/nfn/Workbench/ui/nfn-tour.ui");
  gtk_widget_class_bind_template_child (widget_class, NfnTour, stack);
  gtk_widget_class_bind_template_child (widget_class, NfnTour, back_button);
  gtk_widget_class_bind_template_child (widget_class, NfnTour, next_button);
  gtk_widget_class_bind_template_child (widget_class, NfnTour, step_label);
  gtk_widget_class_bind_template_callback (widget_class, nfn_tour_back);
  gtk_widget_class_bind_template_callback (widget_class, nfn_tour_next);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
nfn_tour_init (NfnTour *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  nfn_tour_set_step (self, 1);
}
