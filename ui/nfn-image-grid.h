/* nfn-image-grid.h — small images in a grid, each optionally in a coloured frame: a SIREN's
 * rendered function, or one image per hidden neuron (its activation over the pixel grid)
 * framed in the neuron's identity colour.
 *
 * Shape letters: M images, H×W pixels each, Ch channels (1 grey or 3 RGB), Q grid columns.
 *
 * Stages: 1. data (the widget's copy); 2. normalised to 0…1 by a fixed range [lo, hi] given with
 * the data (so that two images on one scale stay comparable); 3. nfn_image_grid_draw() paints.
 * An animation moves image m from slot from_slots[m] to slot m, the frame sliding in 2-D. */
#ifndef NFN_IMAGE_GRID_H
#define NFN_IMAGE_GRID_H

#include <cairo.h>
#include <gtk/gtk.h>
#include "nfn-colormap.h"

G_BEGIN_DECLS

#define NFN_IMAGE_GRID_PADDING 4.0
#define NFN_IMAGE_GRID_GAP 4.0
#define NFN_IMAGE_GRID_FRAME 3.0
#define NFN_IMAGE_GRID_TITLE_BAND 20.0

typedef struct {
  int count, columns, grid_rows;
  double tile;          /* edge of one image, frame excluded */
  double step;          /* tile + frames + gap */
  double grid_x, grid_y;
} NfnImageGridLayout;

void nfn_image_grid_layout_compute (NfnImageGridLayout *layout, double width, double height, int count, int columns,
                                    gboolean has_title);
/* Top-left of the image (inside its frame) in slot `slot`. */
void nfn_image_grid_layout_slot (const NfnImageGridLayout *layout, int slot, double *x, double *y);

typedef struct {
  const char *title;
  int count, height, width, channels; /* M, H, W, Ch */
  const float *normalised;            /* (M, H, W, Ch), 0…1 */
  const NfnRgb *frames;               /* (M) or NULL: no frames */
  const int *from_slots;              /* (M) or NULL: every image at rest */
  double progress;                    /* 0…1 along the move from from_slots[m] to m (eased) */
  int columns;                        /* Q */
  GdkRGBA foreground;
  const PangoFontDescription *font;
} NfnImageGridDrawing;

void nfn_image_grid_draw (cairo_t *cr, double width, double height, const NfnImageGridDrawing *drawing);

#define NFN_TYPE_IMAGE_GRID (nfn_image_grid_get_type ())
G_DECLARE_FINAL_TYPE (NfnImageGrid, nfn_image_grid, NFN, IMAGE_GRID, GtkWidget)

GtkWidget *nfn_image_grid_new (void);
/* Copies count·height·width·channels values ((M, H, W, Ch) order) and maps [lo, hi] to 0…1
 * (clamped; NaN shows as the colormap's NaN grey). */
void nfn_image_grid_set_images (NfnImageGrid *self, int count, int height, int width, int channels,
                                const float *values, double lo, double hi);
/* (M) colours, copied; NULL removes the frames. */
void nfn_image_grid_set_frames (NfnImageGrid *self, const NfnRgb *frames);
/* (M) slots the images move from, copied, and the eased progress; NULL: at rest. */
void nfn_image_grid_set_motion (NfnImageGrid *self, const int *from_slots, double progress);
void nfn_image_grid_set_columns (NfnImageGrid *self, int columns);
/* Natural edge of one image in pixels. */
void nfn_image_grid_set_tile_size (NfnImageGrid *self, int tile);
void nfn_image_grid_set_title (NfnImageGrid *self, const char *title);
/* The normalised value (0…1) of channel c at pixel (row, col) of image m; NaN outside. */
float nfn_image_grid_get_pixel (NfnImageGrid *self, int m, int row, int col, int c);

void nfn_image_grid_paint (NfnImageGrid *self, cairo_t *cr, double width, double height);

G_END_DECLS
#endif
