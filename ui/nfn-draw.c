/* nfn-draw.c — see nfn-draw.h. */
#include "nfn-draw.h"

#include <math.h>
#include <pango/pangocairo.h>

PangoLayout *
nfn_draw_text_layout (cairo_t *cr, const PangoFontDescription *font, const char *text)
{
  PangoLayout *text_layout = pango_cairo_create_layout (cr);
  if (font)
    pango_layout_set_font_description (text_layout, font);
  else
    {
      g_autoptr (PangoFontDescription) fallback = pango_font_description_from_string ("Sans 9");
      pango_layout_set_font_description (text_layout, fallback);
    }
  pango_layout_set_text (text_layout, text, -1);
  return text_layout;
}

void
nfn_draw_text_size (cairo_t *cr, const PangoFontDescription *font, const char *text, double *width, double *height)
{
  g_autoptr (PangoLayout) text_layout = nfn_draw_text_layout (cr, font, text);
  int w, h;
  pango_layout_get_pixel_size (text_layout, &w, &h);
  if (width)
    *width = w;
  if (height)
    *height = h;
}

void
nfn_draw_text (cairo_t *cr, const PangoFontDescription *font, const GdkRGBA *colour, const char *text, double x,
               double y, double align, double max_width)
{
  g_autoptr (PangoLayout) text_layout = nfn_draw_text_layout (cr, font, text);
  if (max_width > 0)
    {
      pango_layout_set_width (text_layout, (int) (max_width * PANGO_SCALE));
      pango_layout_set_ellipsize (text_layout, PANGO_ELLIPSIZE_END);
    }
  int text_width, text_height;
  pango_layout_get_pixel_size (text_layout, &text_width, &text_height);
  gdk_cairo_set_source_rgba (cr, colour);
  cairo_move_to (cr, round (x - align * text_width), round (y));
  pango_cairo_show_layout (cr, text_layout);
}

void
nfn_draw_widget_foreground (GtkWidget *widget, GdkRGBA *colour)
{
  /* gtk_widget_get_color() arrives in GTK 4.10; 4.8 asks the style context. */
  if (gtk_widget_get_root (widget) != NULL)
    gtk_style_context_get_color (gtk_widget_get_style_context (widget), colour);
  else
    *colour = (GdkRGBA) { 0, 0, 0, 1 };
}

const PangoFontDescription *
nfn_draw_widget_font (GtkWidget *widget)
{
  return pango_context_get_font_description (gtk_widget_get_pango_context (widget));
}

int
nfn_draw_nice_ticks (double lo, double hi, int target, double *ticks, int max_ticks)
{
  if (!(hi > lo) || !isfinite (lo) || !isfinite (hi) || target < 1)
    return 0;
  double raw = (hi - lo) / target;
  double magnitude = pow (10, floor (log10 (raw)));
  double step = raw <= 1.0000001 * magnitude   ? magnitude
                : raw <= 2.0000001 * magnitude ? 2 * magnitude
                : raw <= 5.0000001 * magnitude ? 5 * magnitude
                                               : 10 * magnitude;
  int count = 0;
  for (double v = ceil (lo / step - 1e-9) * step; v <= hi + step * 1e-9 && count < max_ticks; v += step)
    ticks[count++] = fabs (v) < step * 1e-9 ? 0.0 : v;
  return count;
}

void
nfn_draw_format_number (char *buffer, gsize size, double value)
{
  char digits[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd (digits, sizeof digits, "%.3g", fabs (value));
  /* U+2212 MINUS SIGN: a hyphen looks too short next to digits. */
  g_snprintf (buffer, size, value < 0 ? "\u2212%s" : "%s", digits);
}

void
nfn_widget_unparent_children (GtkWidget *widget)
{
  GtkWidget *child;
  while ((child = gtk_widget_get_first_child (widget)) != NULL)
    gtk_widget_unparent (child);
}
