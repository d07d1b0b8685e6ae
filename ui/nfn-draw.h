/* nfn-draw.h — what every cairo view shares: text in the widget's font and colour, and the
 * foreground a view paints with whether it is on screen or exported offscreen. */
#ifndef NFN_DRAW_H
#define NFN_DRAW_H

#include <cairo.h>
#include <gtk/gtk.h>

G_BEGIN_DECLS

/* A Pango layout of `text` in `font` (NULL: "Sans 9"); caller unrefs. */
PangoLayout *nfn_draw_text_layout (cairo_t *cr, const PangoFontDescription *font, const char *text);
/* Width and height in pixels of `text`. */
void nfn_draw_text_size (cairo_t *cr, const PangoFontDescription *font, const char *text, double *width,
                         double *height);
/* Writes text with its left edge (align 0), centre (0.5) or right edge (1) at x and its top at
 * y; max_width > 0 ellipsizes. */
void nfn_draw_text (cairo_t *cr, const PangoFontDescription *font, const GdkRGBA *colour, const char *text,
                    double x, double y, double align, double max_width);

/* The widget's text colour; black when it is not in a window (GTK would answer white), so
 * offscreen exports stay readable on white. */
void nfn_draw_widget_foreground (GtkWidget *widget, GdkRGBA *colour);
/* The widget's font (owned by its Pango context). */
const PangoFontDescription *nfn_draw_widget_font (GtkWidget *widget);

/* Values n·10^k with n ∈ {1, 2, 5} spaced so that about `target` ticks cover [lo, hi];
 * writes up to max_ticks of them in order and returns how many. */
int nfn_draw_nice_ticks (double lo, double hi, int target, double *ticks, int max_ticks);

/* A short number for an axis or legend: "%.3g" with U+2212 for the minus sign. */
void nfn_draw_format_number (char *buffer, gsize size, double value);

/* Unparents every child of a composite widget (its dispose must, after the template's). */
void nfn_widget_unparent_children (GtkWidget *widget);

G_END_DECLS
#endif
