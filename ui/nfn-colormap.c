/* nfn-colormap.c — the diverging map, piecewise linear through five anchors.
 *
 * The anchors are ColorBrewer's 5-class RdBu: a light tint on each side of white keeps small
 * values visible while the ends stay clearly blue and red, and the map is symmetric around 0
 * so the sign of a weight is read from hue alone.
 */
#include "nfn-colormap.h"

#include <math.h>

#define NFN_COLORMAP_ANCHORS 5

/* (anchor) from t = −1 to t = +1 in steps of 0.5 */
static const NfnRgb nfn_colormap_rdbu[NFN_COLORMAP_ANCHORS] = {
  { 0x05 / 255.0, 0x71 / 255.0, 0xb0 / 255.0 },
  { 0x92 / 255.0, 0xc5 / 255.0, 0xde / 255.0 },
  { 0xf7 / 255.0, 0xf7 / 255.0, 0xf7 / 255.0 },
  { 0xf4 / 255.0, 0xa5 / 255.0, 0x82 / 255.0 },
  { 0xca / 255.0, 0x00 / 255.0, 0x20 / 255.0 },
};

NfnRgb
nfn_colormap_nan (void)
{
  return (NfnRgb) { 0.55, 0.55, 0.55 };
}

NfnRgb
nfn_colormap_diverging (double t)
{
  if (isnan (t))
    return nfn_colormap_nan ();
  t = CLAMP (t, -1.0, 1.0);

  double position = (t + 1.0) * 0.5 * (NFN_COLORMAP_ANCHORS - 1);
  int segment = MIN ((int) position, NFN_COLORMAP_ANCHORS - 2);
  double s = position - segment;
  const NfnRgb *lo = &nfn_colormap_rdbu[segment];
  const NfnRgb *hi = &nfn_colormap_rdbu[segment + 1];
  return (NfnRgb) {
    lo->r + s * (hi->r - lo->r),
    lo->g + s * (hi->g - lo->g),
    lo->b + s * (hi->b - lo->b),
  };
}

#define NFN_COLORMAP_TABLE 4096 /* entries over −1 … 1, both ends included */

static guint32
nfn_colormap_pack (NfnRgb rgb)
{
  return (guint32) (rgb.r * 255 + 0.5) << 16 | (guint32) (rgb.g * 255 + 0.5) << 8 | (guint32) (rgb.b * 255 + 0.5);
}

void
nfn_colormap_diverging_rgb24 (const float *t, size_t n, guint32 *pixels)
{
  static guint32 table[NFN_COLORMAP_TABLE + 1];
  static gsize ready = 0;
  if (g_once_init_enter (&ready))
    {
      for (int i = 0; i <= NFN_COLORMAP_TABLE; i++)
        table[i] = nfn_colormap_pack (nfn_colormap_diverging (-1.0 + 2.0 * i / NFN_COLORMAP_TABLE));
      g_once_init_leave (&ready, 1);
    }
  guint32 nan = nfn_colormap_pack (nfn_colormap_nan ());
  for (size_t e = 0; e < n; e++)
    {
      float v = t[e];
      if (isnan (v))
        pixels[e] = nan;
      else
        pixels[e] = table[(int) ((CLAMP (v, -1.0f, 1.0f) + 1.0f) * (0.5f * NFN_COLORMAP_TABLE) + 0.5f)];
    }
}

NfnRgb
nfn_colormap_fixed (void)
{
  return (NfnRgb) { 0.42, 0.42, 0.45 };
}

/* HSL to RGB with saturation s and lightness l, hue h in turns. */
static NfnRgb
nfn_colormap_hsl (double h, double s, double l)
{
  double c = (1 - fabs (2 * l - 1)) * s;
  double hp = fmod (h, 1.0) * 6;
  double x = c * (1 - fabs (fmod (hp, 2) - 1));
  double r = 0, g = 0, b = 0;
  switch ((int) hp)
    {
    case 0: r = c, g = x; break;
    case 1: r = x, g = c; break;
    case 2: g = c, b = x; break;
    case 3: g = x, b = c; break;
    case 4: r = x, b = c; break;
    default: r = c, b = x; break;
    }
  double m = l - c / 2;
  return (NfnRgb) { r + m, g + m, b + m };
}

NfnRgb
nfn_colormap_identity (int index)
{
  /* The golden angle never repeats a hue, and consecutive indices land far apart. */
  const double golden = 0.38196601125;
  double hue = fmod (0.02 + index * golden, 1.0);
  double lightness = (index % 2 == 0) ? 0.50 : 0.38;
  return nfn_colormap_hsl (hue, 0.78, lightness);
}
