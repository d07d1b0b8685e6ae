#include "nfn_json.h"

#include <math.h>
#include <string.h>

/* json-glib prints doubles with 17 significant digits, so 0.1 comes out as
 * 0.10000000000000001. Writes to `out` the shortest text that reads back as the same double
 * and returns its length, or 0 to keep the token (not such a number, or nothing shorter). */
static size_t
json_shortest_double (const char *token, size_t n, char out[G_ASCII_DTOSTR_BUF_SIZE])
{
  char text[64];
  if (n >= sizeof text || !(g_ascii_isdigit (token[0]) || (token[0] == '-' && n > 1 && g_ascii_isdigit (token[1]))))
    return 0;
  memcpy (text, token, n);
  text[n] = 0;
  if (!strchr (text, '.') || n < 17)
    return 0;
  char *end;
  double value = g_ascii_strtod (text, &end);
  if (*end || !isfinite (value))
    return 0;
  for (int digits = 1; digits <= 16; digits++)
    {
      char format[8];
      g_snprintf (format, sizeof format, "%%.%dg", digits);
      g_ascii_formatd (out, G_ASCII_DTOSTR_BUF_SIZE, format, value);
      size_t m = strlen (out);
      /* keep it a JSON double: a decimal point or an exponent */
      if (g_ascii_strtod (out, NULL) == value && m < n && strpbrk (out, ".eE"))
        return m;
    }
  return 0;
}

/* Outside strings: "<mantissa>e<exponent>.0" → drop ".0"; "nan.0", "-nan.0", "inf.0",
 * "-inf.0" → "null". Inside strings nothing changes. */
void
nfn_json_repair_numbers (char *text)
{
  char *in = text, *out = text;
  gboolean in_string = FALSE;
  while (*in)
    {
      char c = *in;
      if (in_string)
        {
          *out++ = *in++;
          if (c == '\\' && *in)
            *out++ = *in++;
          else if (c == '"')
            in_string = FALSE;
          continue;
        }
      if (c == '"')
        {
          in_string = TRUE;
          *out++ = *in++;
          continue;
        }
      /* a number token, or json-glib's spelling of a non-finite double */
      if (c == '-' || c == '+' || g_ascii_isalnum (c) || c == '.')
        {
          const char *start = in;
          while (*in == '-' || *in == '+' || *in == '.' || g_ascii_isalnum (*in))
            in++;
          size_t n = (size_t) (in - start);
          char token[64];
          if (n < sizeof token && n >= 3 && start[n - 2] == '.' && start[n - 1] == '0')
            {
              memcpy (token, start, n);
              token[n] = 0;
              if (strstr (token, "nan") || strstr (token, "inf"))
                {
                  memcpy (out, "null", 4);
                  out += 4;
                  continue;
                }
              /* "1e-08.0": an exponent, and json-glib's suffix is the only '.' */
              gboolean number = g_ascii_isdigit (token[0]) || ((token[0] == '-' || token[0] == '+') && g_ascii_isdigit (token[1]));
              if (number && strpbrk (token, "eE") && strchr (token, '.') == token + n - 2)
                n -= 2;
            }
          char shortest[G_ASCII_DTOSTR_BUF_SIZE];
          size_t m = json_shortest_double (start, n, shortest);
          if (m > 0)
            {
              memcpy (out, shortest, m);
              out += m;
              continue;
            }
          memmove (out, start, n);
          out += n;
          continue;
        }
      *out++ = *in++;
    }
  *out = 0;
}

char *
nfn_json_to_text (JsonNode *root, gboolean pretty)
{
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, pretty);
  char *text = json_generator_to_data (generator, NULL);
  nfn_json_repair_numbers (text);
  return text;
}

char *
nfn_json_builder_to_text (JsonBuilder *builder, gboolean pretty)
{
  g_autoptr (JsonNode) root = json_builder_get_root (builder);
  return nfn_json_to_text (root, pretty);
}
