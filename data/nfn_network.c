/* nfn_network.c — one studied network from a PyTorch state dict in a safetensors file.
 *
 * Shape letters: L layers, n_i widths (n_0 inputs … n_L outputs), kh × kw conv kernels.
 * A tensor W_i of the file is (n_i, n_{i-1}) or (n_i, n_{i-1}, kh, kw), b_i is (n_i); both go
 * into the C = 1 weight feature with no reordering, since the feature keeps PyTorch's order.
 */
#include "nfn_network.h"
#include "nfn_numpy.h"

#include <math.h>
#include <string.h>

#define NET_KEY_ARCH "nfn.arch"
#define NET_KEY_ACTIVATION "nfn.activation"
#define NET_KEY_OMEGA0 "nfn.omega0"
#define NET_KEY_CONV "nfn.conv"
#define NET_KEY_IGNORE "nfn.ignore"

/* Keys that describe the architecture: read into nfn_arch, written afresh from it. */
static gboolean
net_is_arch_key (const char *key)
{
  return strcmp (key, NET_KEY_ARCH) == 0 || strcmp (key, NET_KEY_ACTIVATION) == 0
         || strcmp (key, NET_KEY_OMEGA0) == 0 || strcmp (key, NET_KEY_CONV) == 0;
}

/* ---- lifetime ---- */

void
nfn_network_free (NfnNetwork *net)
{
  if (!net)
    return;
  g_free (net->path);
  nfn_feature_free (&net->weights);
  for (int i = 0; i <= NFN_MAX_LAYERS; i++)
    {
      g_free (net->weight_names[i]);
      g_free (net->bias_names[i]);
    }
  g_ptr_array_unref (net->metadata_keys);
  g_hash_table_unref (net->metadata);
  g_free (net);
}

NfnNetwork *
nfn_network_new (const nfn_arch *arch)
{
  g_return_val_if_fail (arch != NULL, NULL);
  g_return_val_if_fail (nfn_space_check (&arch->space) == NFN_OK, NULL);
  NfnNetwork *net = g_new0 (NfnNetwork, 1);
  net->arch = *arch;
  if (nfn_feature_alloc (&net->weights, &arch->space, 1, 1) != NFN_OK)
    g_error ("nfn_network_new: out of memory for %zu floats", nfn_space_param_count (&arch->space));
  for (int i = 1; i <= arch->space.L; i++)
    {
      net->weight_names[i] = g_strdup_printf ("layers.%d.weight", i - 1);
      net->bias_names[i] = g_strdup_printf ("layers.%d.bias", i - 1);
    }
  net->metadata_keys = g_ptr_array_new_with_free_func (g_free);
  net->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return net;
}

static void
net_set_metadata (NfnNetwork *net, const char *key, const char *value)
{
  if (!g_hash_table_contains (net->metadata, key))
    g_ptr_array_add (net->metadata_keys, g_strdup (key));
  g_hash_table_insert (net->metadata, g_strdup (key), g_strdup (value));
}

void
nfn_network_set_metadata (NfnNetwork *net, const char *key, const char *value)
{
  g_return_if_fail (net != NULL && key != NULL && value != NULL);
  net_set_metadata (net, key, value);
}

NfnNetwork *
nfn_network_copy (const NfnNetwork *net)
{
  g_return_val_if_fail (net != NULL, NULL);
  NfnNetwork *copy = nfn_network_new (&net->arch);
  copy->path = g_strdup (net->path);
  memcpy (copy->weights.data, net->weights.data, net->weights.size * sizeof (float));
  for (int i = 1; i <= net->arch.space.L; i++)
    {
      g_free (copy->weight_names[i]);
      g_free (copy->bias_names[i]);
      copy->weight_names[i] = g_strdup (net->weight_names[i]);
      copy->bias_names[i] = g_strdup (net->bias_names[i]);
    }
  for (guint k = 0; k < net->metadata_keys->len; k++)
    {
      const char *key = g_ptr_array_index (net->metadata_keys, k);
      net_set_metadata (copy, key, g_hash_table_lookup (net->metadata, key));
    }
  return copy;
}

/* ---- recognising layers ---- */

/* "net.2" < "net.10": runs of digits compare as numbers, everything else byte-wise. */
static int
net_natural_compare (const char *a, const char *b)
{
  const char *p = a, *q = b;
  while (*p && *q)
    {
      if (g_ascii_isdigit (*p) && g_ascii_isdigit (*q))
        {
          while (*p == '0')
            p++;
          while (*q == '0')
            q++;
          gsize np = 0, nq = 0;
          while (g_ascii_isdigit (p[np]))
            np++;
          while (g_ascii_isdigit (q[nq]))
            nq++;
          if (np != nq)
            return np < nq ? -1 : 1;
          int order = memcmp (p, q, np);
          if (order)
            return order;
          p += np;
          q += nq;
          continue;
        }
      if (*p != *q)
        return (unsigned char) *p < (unsigned char) *q ? -1 : 1;
      p++;
      q++;
    }
  if (*p || *q)
    return *p ? 1 : -1;
  return strcmp (a, b); /* "net.01" vs "net.1": any fixed order */
}

typedef struct {
  char *prefix;
  const NfnTensor *weight;
  const NfnTensor *bias;
} NetLayer;

static void
net_layer_free (NetLayer *layer)
{
  g_free (layer->prefix);
  g_free (layer);
}

static int
net_layer_compare (gconstpointer a, gconstpointer b)
{
  const NetLayer *x = *(NetLayer *const *) a, *y = *(NetLayer *const *) b;
  return net_natural_compare (x->prefix, y->prefix);
}

/* Pairs "<prefix>.weight" with "<prefix>.bias"; returns the layers in natural order. */
static GPtrArray *
net_pair_layers (const NfnSafetensors *st, const char *label, GError **error)
{
  g_autoptr (GHashTable) ignored = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const char *ignore = nfn_safetensors_get_metadata (st, NET_KEY_IGNORE);
  if (ignore)
    {
      g_auto (GStrv) names = g_strsplit (ignore, ",", -1);
      for (int k = 0; names[k]; k++)
        g_hash_table_add (ignored, g_strstrip (g_strdup (names[k])));
    }

  g_autoptr (GPtrArray) layers = g_ptr_array_new_with_free_func ((GDestroyNotify) net_layer_free);
  g_autoptr (GHashTable) by_prefix = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint k = 0; k < st->tensors->len; k++)
    {
      const NfnTensor *tensor = g_ptr_array_index (st->tensors, k);
      if (g_hash_table_contains (ignored, tensor->name))
        continue;
      gboolean is_weight = g_str_has_suffix (tensor->name, ".weight");
      gboolean is_bias = g_str_has_suffix (tensor->name, ".bias");
      if (!is_weight && !is_bias)
        {
          g_autofree char *name = nfn_data_quote (tensor->name);
          nfn_data_set_error (error, NFN_DATA_ERROR_SHAPE, label,
                              "tensor %s is neither a .weight nor a .bias"
                              " (list it in __metadata__ \"" NET_KEY_IGNORE "\" to skip it)", name);
          return NULL;
        }
      g_autofree char *prefix
          = g_strndup (tensor->name, strlen (tensor->name) - strlen (is_weight ? ".weight" : ".bias"));
      NetLayer *layer = g_hash_table_lookup (by_prefix, prefix);
      if (!layer)
        {
          layer = g_new0 (NetLayer, 1);
          layer->prefix = g_steal_pointer (&prefix);
          g_ptr_array_add (layers, layer);
          g_hash_table_insert (by_prefix, layer->prefix, layer);
        }
      /* The reader refuses duplicate names, so each slot is filled at most once. */
      if (is_weight)
        layer->weight = tensor;
      else
        layer->bias = tensor;
    }

  for (guint k = 0; k < layers->len; k++)
    {
      NetLayer *layer = g_ptr_array_index (layers, k);
      if (!layer->weight || !layer->bias)
        {
          const NfnTensor *present = layer->weight ? layer->weight : layer->bias;
          g_autofree char *name = nfn_data_quote (present->name);
          g_autofree char *wanted = g_strconcat (layer->prefix, layer->weight ? ".bias" : ".weight", NULL);
          g_autofree char *wanted_quoted = nfn_data_quote (wanted);
          nfn_data_set_error (error, NFN_DATA_ERROR_SHAPE, label, "tensor %s has no matching %s", name,
                              wanted_quoted);
          return NULL;
        }
    }
  g_ptr_array_sort (layers, net_layer_compare);
  return g_steal_pointer (&layers);
}

/* Checks that shapes chain and fills widths n_0 … n_L and the conv kernel size. */
static gboolean
net_check_shapes (GPtrArray *layers, const char *label, int *widths, int *n_conv, int *kh, int *kw,
                  GError **error)
{
  int L = (int) layers->len;
  if (L == 0)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_SHAPE, label,
                          "no layers (no \"<prefix>.weight\"/\"<prefix>.bias\" pairs)");
      return FALSE;
    }
  if (L > NFN_MAX_LAYERS)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, label, "%d layers exceed the limit of %d", L,
                          NFN_MAX_LAYERS);
      return FALSE;
    }
  *n_conv = 0;
  *kh = *kw = 1;
  for (int i = 1; i <= L; i++)
    {
      const NetLayer *layer = g_ptr_array_index (layers, i - 1);
      const NfnTensor *w = layer->weight, *b = layer->bias;
      g_autofree char *name = nfn_data_quote (w->name);
      g_autofree char *shape = nfn_data_format_index (w->shape, w->rank);
      if (w->rank != 2 && w->rank != 4)
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_SHAPE, label,
                              "tensor %s has shape %s; a layer weight is 2-D or 4-D", name, shape);
          return FALSE;
        }
      for (int d = 0; d < w->rank; d++)
        if (w->shape[d] < 1 || w->shape[d] > G_MAXINT)
          {
            nfn_data_set_error (error, NFN_DATA_ERROR_SHAPE, label,
                                "tensor %s has shape %s with a dimension out of 1..%d", name, shape,
                                G_MAXINT);
            return FALSE;
          }
      if (w->rank == 4)
        {
          if (*n_conv != i - 1)
            {
              nfn_data_set_error (error, NFN_DATA_ERROR_SHAPE, label,
                                  "tensor %s is a conv kernel after a dense layer"
                                  " (conv layers must come first)", name);
              return FALSE;
            }
          if (i > 1 && (w->shape[2] != *kh || w->shape[3] != *kw))
            {
              nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, label,
                                  "tensor %s has a %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT
                                  " kernel but earlier conv layers use %d×%d",
                                  name, w->shape[2], w->shape[3], *kh, *kw);
              return FALSE;
            }
          *kh = (int) w->shape[2];
          *kw = (int) w->shape[3];
          *n_conv = i;
        }
      if (i == 1)
        widths[0] = (int) w->shape[1];
      else if (w->shape[1] != widths[i - 1])
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_SHAPE, label,
                              "tensor %s has shape %s but the previous layer has %d outputs", name, shape,
                              widths[i - 1]);
          return FALSE;
        }
      widths[i] = (int) w->shape[0];
      if (b->rank != 1 || b->shape[0] != w->shape[0])
        {
          g_autofree char *bias_name = nfn_data_quote (b->name);
          g_autofree char *bias_shape = nfn_data_format_index (b->shape, b->rank);
          nfn_data_set_error (error, NFN_DATA_ERROR_SHAPE, label,
                              "tensor %s has shape %s but its weight has %d outputs", bias_name, bias_shape,
                              widths[i]);
          return FALSE;
        }
    }
  return TRUE;
}

/* NaN/Inf weights would poison every statistic and NFN downstream; refuse them by position. */
static gboolean
net_check_finite (const NfnTensor *tensor, const char *label, GError **error)
{
  for (gsize e = 0; e < tensor->numel; e++)
    {
      if (isfinite (tensor->data[e]))
        continue;
      gint64 index[NFN_TENSOR_MAX_RANK];
      gsize rest = e;
      for (int d = tensor->rank - 1; d >= 0; d--)
        {
          index[d] = (gint64) (rest % (gsize) tensor->shape[d]);
          rest /= (gsize) tensor->shape[d];
        }
      g_autofree char *where = nfn_data_format_index (index, tensor->rank);
      g_autofree char *name = nfn_data_quote (tensor->name);
      nfn_data_set_error (error, NFN_DATA_ERROR_NONFINITE, label, "tensor %s has %s at %s", name,
                          isnan (tensor->data[e]) ? "NaN" : "Inf", where);
      return FALSE;
    }
  return TRUE;
}

/* Reads "nfn.conv" = "stride,padding,in_h,in_w". */
static gboolean
net_parse_conv (const char *text, int geometry[4])
{
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  if (g_strv_length (parts) != 4)
    return FALSE;
  for (int k = 0; k < 4; k++)
    {
      guint64 value;
      if (!g_ascii_string_to_unsigned (g_strstrip (parts[k]), 10, 0, G_MAXINT, &value, NULL))
        return FALSE;
      geometry[k] = (int) value;
    }
  return TRUE;
}

static gboolean
net_read_arch (const NfnSafetensors *st, const char *label, int L, const int *widths, int n_conv, int kh,
               int kw, nfn_arch *arch, GError **error)
{
  nfn_net_kind kind = n_conv > 0 ? NFN_NET_CNN : NFN_NET_MLP;
  const char *kind_text = nfn_safetensors_get_metadata (st, NET_KEY_ARCH);
  if (kind_text && !nfn_net_kind_parse (kind_text, &kind))
    {
      g_autofree char *quoted = nfn_data_quote (kind_text);
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label,
                          "__metadata__ \"" NET_KEY_ARCH "\": unknown architecture %s", quoted);
      return FALSE;
    }
  if (kind != NFN_NET_CNN && n_conv > 0)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_SHAPE, label,
                          "__metadata__ says \"%s\" but layer 1 is a 4-D conv kernel",
                          nfn_net_kind_name (kind));
      return FALSE;
    }
  if (kind == NFN_NET_CNN && n_conv == 0)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_SHAPE, label,
                          "__metadata__ says \"cnn\" but no weight is a 4-D conv kernel");
      return FALSE;
    }

  nfn_activation act = kind == NFN_NET_SIREN ? NFN_ACT_SIN : NFN_ACT_RELU;
  const char *act_text = nfn_safetensors_get_metadata (st, NET_KEY_ACTIVATION);
  if (act_text && !nfn_activation_parse (act_text, &act))
    {
      g_autofree char *quoted = nfn_data_quote (act_text);
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label,
                          "__metadata__ \"" NET_KEY_ACTIVATION "\": unknown activation %s", quoted);
      return FALSE;
    }
  if (kind == NFN_NET_SIREN && act != NFN_ACT_SIN)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label,
                          "__metadata__ \"" NET_KEY_ACTIVATION "\": a siren uses sin, not %s",
                          nfn_activation_name (act));
      return FALSE;
    }

  if (kind != NFN_NET_SIREN && act == NFN_ACT_SIN)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label,
                          "__metadata__ \"" NET_KEY_ACTIVATION
                          "\": a %s uses relu, tanh or identity, not sin",
                          nfn_net_kind_name (kind));
      return FALSE;
    }

  double omega0 = 30.0;
  const char *omega_text = nfn_safetensors_get_metadata (st, NET_KEY_OMEGA0);
  if (omega_text)
    {
      char *end = NULL;
      omega0 = g_ascii_strtod (omega_text, &end);
      if (end == omega_text || *end || !isfinite (omega0) || omega0 <= 0 || omega0 > G_MAXFLOAT)
        {
          g_autofree char *quoted = nfn_data_quote (omega_text);
          nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label,
                              "__metadata__ \"" NET_KEY_OMEGA0 "\": %s is not a positive number", quoted);
          return FALSE;
        }
    }

  int geometry[4] = { 2, 1, 28, 28 }; /* stride, padding, in_h, in_w */
  const char *conv_text = nfn_safetensors_get_metadata (st, NET_KEY_CONV);
  if (conv_text && !net_parse_conv (conv_text, geometry))
    {
      g_autofree char *quoted = nfn_data_quote (conv_text);
      nfn_data_set_error (error, NFN_DATA_ERROR_FORMAT, label,
                          "__metadata__ \"" NET_KEY_CONV "\": %s is not \"stride,padding,in_h,in_w\"",
                          quoted);
      return FALSE;
    }

  nfn_status status = NFN_OK;
  switch (kind)
    {
    case NFN_NET_MLP:
      status = nfn_arch_mlp (arch, L, widths, act);
      break;
    case NFN_NET_SIREN:
      status = nfn_arch_siren (arch, L, widths, (float) omega0);
      break;
    case NFN_NET_CNN:
      if (kh != kw)
        {
          nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, label,
                              "%d×%d conv kernels: only square kernels are supported", kh, kw);
          return FALSE;
        }
      status = nfn_arch_cnn (arch, L, widths, n_conv, kh, geometry[0], geometry[1], geometry[2], geometry[3],
                             act);
      break;
    }
  if (status == NFN_OK)
    status = nfn_arch_check (arch);
  if (status != NFN_OK && kind == NFN_NET_CNN)
    {
      /* The widths were checked above, so what remains is the conv geometry. */
      nfn_data_set_error (error, NFN_DATA_ERROR_SHAPE, label,
                          "%d conv layers with %d×%d kernels do not fit __metadata__ \"" NET_KEY_CONV
                          "\" = \"%d,%d,%d,%d\" (stride,padding,in_h,in_w)",
                          n_conv, kh, kw, geometry[0], geometry[1], geometry[2], geometry[3]);
      return FALSE;
    }
  if (status != NFN_OK)
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_SHAPE, label, "not a valid %s: %s", nfn_net_kind_name (kind),
                          nfn_status_message (status));
      return FALSE;
    }
  return TRUE;
}

NfnNetwork *
nfn_network_from_safetensors (const NfnSafetensors *st, const char *label, GError **error)
{
  g_return_val_if_fail (st != NULL && label != NULL, NULL);
  g_autoptr (GPtrArray) layers = net_pair_layers (st, label, error);
  if (!layers)
    return NULL;
  int widths[NFN_MAX_LAYERS + 1], n_conv, kh, kw;
  if (!net_check_shapes (layers, label, widths, &n_conv, &kh, &kw, error))
    return NULL;
  for (guint k = 0; k < layers->len; k++)
    {
      const NetLayer *layer = g_ptr_array_index (layers, k);
      if (!net_check_finite (layer->weight, label, error) || !net_check_finite (layer->bias, label, error))
        return NULL;
    }
  nfn_arch arch;
  int L = (int) layers->len;
  if (!net_read_arch (st, label, L, widths, n_conv, kh, kw, &arch, error))
    return NULL;

  g_autoptr (NfnNetwork) net = nfn_network_new (&arch);
  for (int i = 1; i <= L; i++)
    {
      const NetLayer *layer = g_ptr_array_index (layers, i - 1);
      int tw = nfn_tensor_weight (i), tb = nfn_tensor_bias (i);
      /* The arch constructors own the f_i convention; a disagreement is a bug there, not here. */
      g_assert (nfn_tensor_entries (&arch.space, tw) == layer->weight->numel);
      g_assert (nfn_tensor_entries (&arch.space, tb) == layer->bias->numel);
      memcpy (net->weights.t[tw], layer->weight->data, layer->weight->numel * sizeof (float));
      memcpy (net->weights.t[tb], layer->bias->data, layer->bias->numel * sizeof (float));
      g_free (net->weight_names[i]);
      g_free (net->bias_names[i]);
      net->weight_names[i] = g_strdup (layer->weight->name);
      net->bias_names[i] = g_strdup (layer->bias->name);
    }
  for (guint k = 0; k < st->metadata_keys->len; k++)
    {
      const char *key = g_ptr_array_index (st->metadata_keys, k);
      if (!net_is_arch_key (key))
        net_set_metadata (net, key, nfn_safetensors_get_metadata (st, key));
    }
  return g_steal_pointer (&net);
}

NfnNetwork *
nfn_network_load (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_autofree char *lower = g_ascii_strdown (path, -1);
  g_autoptr (NfnSafetensors) st = NULL;
  if (g_str_has_suffix (lower, ".safetensors"))
    st = nfn_safetensors_load (path, error);
  else if (g_str_has_suffix (lower, ".npz"))
    st = nfn_npz_load (path, error);
  else if (g_str_has_suffix (lower, ".npy"))
    {
      /* One array is never a network: a layer needs a weight and a bias. */
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, path,
                          "a .npy holds one array, not a network (save the state dict with numpy.savez as .npz)");
      return NULL;
    }
  else
    {
      nfn_data_set_error (error, NFN_DATA_ERROR_UNSUPPORTED, path,
                          "unknown file type (expected .safetensors or .npz)");
      return NULL;
    }
  if (!st)
    return NULL;
  NfnNetwork *net = nfn_network_from_safetensors (st, path, error);
  if (net)
    net->path = g_strdup (path);
  return net;
}

/* ---- writing ---- */

NfnSafetensors *
nfn_network_to_safetensors (const NfnNetwork *net)
{
  g_return_val_if_fail (net != NULL, NULL);
  const nfn_arch *arch = &net->arch;
  NfnSafetensors *st = nfn_safetensors_new ();
  nfn_safetensors_set_metadata (st, NET_KEY_ARCH, nfn_net_kind_name (arch->kind));
  nfn_safetensors_set_metadata (st, NET_KEY_ACTIVATION, nfn_activation_name (arch->act));
  if (arch->kind == NFN_NET_SIREN)
    {
      char text[G_ASCII_DTOSTR_BUF_SIZE];
      /* %.9g brings every float back exactly. */
      nfn_safetensors_set_metadata (st, NET_KEY_OMEGA0,
                                    g_ascii_formatd (text, sizeof text, "%.9g", arch->omega0));
    }
  if (arch->kind == NFN_NET_CNN)
    {
      g_autofree char *conv
          = g_strdup_printf ("%d,%d,%d,%d", arch->stride, arch->padding, arch->in_h, arch->in_w);
      nfn_safetensors_set_metadata (st, NET_KEY_CONV, conv);
    }
  for (guint k = 0; k < net->metadata_keys->len; k++)
    {
      const char *key = g_ptr_array_index (net->metadata_keys, k);
      if (!net_is_arch_key (key))
        nfn_safetensors_set_metadata (st, key, g_hash_table_lookup (net->metadata, key));
    }
  const nfn_space *space = &arch->space;
  for (int i = 1; i <= space->L; i++)
    {
      gboolean conv = arch->kind == NFN_NET_CNN && i <= arch->n_conv;
      gint64 weight_shape[4] = { space->n[i], space->n[i - 1], arch->kh, arch->kw };
      gint64 bias_shape[1] = { space->n[i] };
      nfn_safetensors_add (st, net->weight_names[i], conv ? 4 : 2, weight_shape,
                           net->weights.t[nfn_tensor_weight (i)]);
      nfn_safetensors_add (st, net->bias_names[i], 1, bias_shape, net->weights.t[nfn_tensor_bias (i)]);
    }
  return st;
}

gboolean
nfn_network_save (const NfnNetwork *net, const char *path, GError **error)
{
  g_return_val_if_fail (net != NULL && path != NULL, FALSE);
  g_autoptr (NfnSafetensors) st = nfn_network_to_safetensors (net);
  return nfn_safetensors_save (st, path, error);
}
