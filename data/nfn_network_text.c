/* nfn_network_text.c — see nfn_network_text.h. */
#include "nfn_network_text.h"

const char *
nfn_network_tensor_name (const NfnNetwork *net, int t)
{
  g_return_val_if_fail (net != NULL && t >= 0 && t < nfn_tensor_count (&net->arch.space), NULL);
  int i = nfn_tensor_layer (t);
  return nfn_tensor_is_bias (t) ? net->bias_names[i] : net->weight_names[i];
}

char *
nfn_network_tensor_shape (const NfnNetwork *net, int t)
{
  g_return_val_if_fail (net != NULL && t >= 0 && t < nfn_tensor_count (&net->arch.space), NULL);
  const nfn_space *s = &net->arch.space;
  int i = nfn_tensor_layer (t);
  if (nfn_tensor_is_bias (t))
    return g_strdup_printf ("%d", s->n[i]);
  if (s->f[i] > 1)
    return g_strdup_printf ("%d×%d×%d×%d", s->n[i], s->n[i - 1], net->arch.kh, net->arch.kw);
  return g_strdup_printf ("%d×%d", s->n[i], s->n[i - 1]);
}

char *
nfn_arch_summary (const nfn_arch *arch)
{
  g_return_val_if_fail (arch != NULL, NULL);
  GString *s = g_string_new (nfn_net_kind_name (arch->kind));
  g_string_append_c (s, ' ');
  for (int i = 0; i <= arch->space.L; i++)
    g_string_append_printf (s, i ? "→%d" : "%d", arch->space.n[i]);
  if (arch->kind == NFN_NET_SIREN)
    g_string_append_printf (s, ", sin, ω0 = %g", arch->omega0);
  else
    g_string_append_printf (s, ", %s", nfn_activation_name (arch->act));
  if (arch->kind == NFN_NET_CNN)
    g_string_append_printf (s, ", %d conv %d×%d stride %d padding %d on %d×%d", arch->n_conv, arch->kh, arch->kw,
                            arch->stride, arch->padding, arch->in_h, arch->in_w);
  return g_string_free (s, FALSE);
}
