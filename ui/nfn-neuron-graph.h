/* nfn-neuron-graph.h — a network as neurons in columns, one per neuron set, and its weights as
 * edges; each hidden neuron keeps its own colour through every permutation.
 *
 * Shape letters as in nfn_core.h: set i has n_i neurons; layer i's edges are (n_i, n_{i-1})
 * (a conv kernel's f_i taps averaged into one edge).
 *
 * Stages, as the heatmap's:
 *   1. data:       the current weights of an NfnOrbit (or any weights set directly);
 *   2. normalised: per layer, each edge's weight / max |weight| of that layer (layers differ
 *                  by orders of magnitude), and only the NFN_NEURON_GRAPH_MAX_EDGES strongest
 *                  edges of a wide layer kept; while neurons move (an animation), only the
 *                  NFN_NEURON_GRAPH_MOVING_EDGES strongest are drawn, so it stays fluid;
 *   3. painting:   nfn_neuron_graph_draw() on any cairo_t. Edge colour is the diverging map,
 *                  alpha and width grow with |w|. On a raster target the edges are rasterised
 *                  into one image (thousands of cairo strokes are too slow to animate); a
 *                  vector target (SVG export) gets one stroke per edge. A hidden neuron is filled with
 *                  nfn_colormap_identity (its original index), input and output neurons grey.
 * Dragging a hidden neuron up or down its column moves it to another place: the bound orbit
 * applies that permutation and "neuron-moved" (set, from, to) is emitted.
 */
#ifndef NFN_NEURON_GRAPH_H
#define NFN_NEURON_GRAPH_H

#include <cairo.h>
#include <gtk/gtk.h>
#include "nfn_core.h"
#include "nfn-colormap.h"
#include "nfn-orbit.h"

G_BEGIN_DECLS

#define NFN_NEURON_GRAPH_MAX_EDGES 1500
#define NFN_NEURON_GRAPH_MOVING_EDGES 300
#define NFN_NEURON_GRAPH_PADDING 10.0
#define NFN_NEURON_GRAPH_LABEL_BAND 18.0
#define NFN_NEURON_GRAPH_MAX_SPACING 22.0

typedef struct {
  nfn_space space;
  double column_x[NFN_MAX_LAYERS + 1];   /* centre of set i's column */
  double column_top[NFN_MAX_LAYERS + 1]; /* y of slot 0's top edge */
  double spacing[NFN_MAX_LAYERS + 1];    /* slot height of set i */
  double radius[NFN_MAX_LAYERS + 1];
  double label_y;
} NfnNeuronGraphLayout;

void nfn_neuron_graph_layout_compute (NfnNeuronGraphLayout *layout, double width, double height,
                                      const nfn_space *space);
/* Centre of the neuron drawn at (possibly fractional) position `position` of set i. */
void nfn_neuron_graph_layout_centre (const NfnNeuronGraphLayout *layout, int set, double position, double *x,
                                     double *y);
/* The neuron whose disc (or slot, for tiny discs) holds (x, y); FALSE when none. */
gboolean nfn_neuron_graph_layout_neuron_at (const NfnNeuronGraphLayout *layout, double x, double y, int *set,
                                            int *position);

typedef struct {
  nfn_space space;
  const float *edges[NFN_MAX_LAYERS + 1];     /* [i]: (n_i, n_{i-1}), −1…1, NaN = not drawn */
  const int *identity[NFN_MAX_LAYERS + 1];    /* [i]: (n_i) original index of the neuron at j */
  const float *positions[NFN_MAX_LAYERS + 1]; /* [i]: (n_i) draw position of the neuron at j, NULL = j */
  float min_magnitude[NFN_MAX_LAYERS + 1];    /* [i]: weaker edges are not drawn (0: all) */
  /* [i]: the edges to draw, as indices j·n_{i-1} + k into edges[i], in drawing order (weakest
   * first), order_count[i] of them; NULL to scan every edge (weak ones first, then strong).
   * A widget keeps this list so that a frame never walks the n_i·n_{i-1} edges of a wide layer. */
  const guint32 *order[NFN_MAX_LAYERS + 1];
  int order_count[NFN_MAX_LAYERS + 1];
  /* The edges already rasterised at this drawing's size (ARGB32, from
   * nfn_neuron_graph_rasterise_edges), used instead of edges/order on a raster target; or NULL. */
  cairo_surface_t *edges_image;
  int drag_set, drag_position;                /* the neuron being dragged, −1 for none */
  double drag_y;                              /* its centre's y while dragged */
  GdkRGBA foreground;
  const PangoFontDescription *font;
} NfnNeuronGraphDrawing;

void nfn_neuron_graph_draw (cairo_t *cr, double width, double height, const NfnNeuronGraphDrawing *drawing);
/* Only the edges of a drawing, on a transparent width × height ARGB32 image: pure, so a worker
 * thread can make it (the widget does, for the at-rest graph of a wide network). */
cairo_surface_t *nfn_neuron_graph_rasterise_edges (const NfnNeuronGraphDrawing *drawing, int width, int height);

/* The fill colour a neuron of set i with this identity gets. */
NfnRgb nfn_neuron_graph_neuron_colour (const nfn_space *space, int set, int identity);

#define NFN_TYPE_NEURON_GRAPH (nfn_neuron_graph_get_type ())
G_DECLARE_FINAL_TYPE (NfnNeuronGraph, nfn_neuron_graph, NFN, NEURON_GRAPH, GtkWidget)

GtkWidget *nfn_neuron_graph_new (void);
/* Shows the orbit's current member and follows its changes and animation (NULL unbinds). */
void nfn_neuron_graph_set_orbit (NfnNeuronGraph *self, NfnOrbit *orbit);
NfnOrbit *nfn_neuron_graph_get_orbit (NfnNeuronGraph *self);
/* The widget draws every edge of the graph at rest from an image a worker thread rasterises
 * once per change of the weights or the size; until it arrives (a frame or two on a wide
 * network) the NFN_NEURON_GRAPH_MOVING_EDGES strongest stand in. FALSE while they do. */
gboolean nfn_neuron_graph_get_complete (NfnNeuronGraph *self);
/* The normalised edge of layer i from neuron k (set i−1) to neuron j (set i), at current
 * positions; NaN when it is not drawn. */
float nfn_neuron_graph_get_edge (NfnNeuronGraph *self, int layer, int j, int k);

void nfn_neuron_graph_paint (NfnNeuronGraph *self, cairo_t *cr, double width, double height);

G_END_DECLS
#endif
