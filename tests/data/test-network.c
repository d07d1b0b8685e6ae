/* test-network.c — recognising networks in state dicts: PyTorch fixtures (names, natural
 * order, values, and PyTorch's own outputs reproduced by the engine), round trips of every
 * kind, and one error per recognition rule. */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "datatestutil.h"
#include "nfn_network.h"
#include "testutil.h"

/* ---- PyTorch fixtures ---- */

static void
check_fixture_network (const char *name, nfn_net_kind kind, int n_conv)
{
  g_autofree char *file = g_strconcat (name, ".safetensors", NULL);
  g_autofree char *path = dtu_fixture_path (file);
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnNetwork) net = nfn_network_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (net->path, ==, path);
  g_autoptr (JsonNode) expected = dtu_fixture_expected (name);
  JsonObject *root = json_node_get_object (expected);

  const nfn_arch *arch = &net->arch;
  g_assert_cmpint (arch->kind, ==, kind);
  g_assert_cmpint (arch->n_conv, ==, n_conv);
  JsonArray *widths = json_object_get_array_member (root, "widths");
  g_assert_cmpint (arch->space.L + 1, ==, (int) json_array_get_length (widths));
  for (int i = 0; i <= arch->space.L; i++)
    g_assert_cmpint (arch->space.n[i], ==, json_array_get_int_element (widths, (guint) i));

  /* Layers in PyTorch's module order although the file lists names sorted as strings. */
  JsonArray *order = json_object_get_array_member (root, "layer_order");
  for (int i = 1; i <= arch->space.L; i++)
    {
      const char *weight = json_array_get_string_element (order, (guint) i - 1);
      g_assert_cmpstr (net->weight_names[i], ==, weight);
      g_autofree char *prefix = g_strndup (weight, strlen (weight) - strlen (".weight"));
      g_autofree char *bias = g_strconcat (prefix, ".bias", NULL);
      g_assert_cmpstr (net->bias_names[i], ==, bias);
      for (int is_bias = 0; is_bias < 2; is_bias++)
        {
          JsonObject *tensor = dtu_expected_tensor (expected, is_bias ? bias : weight);
          JsonArray *values = json_object_get_array_member (tensor, "values");
          int t = is_bias ? nfn_tensor_bias (i) : nfn_tensor_weight (i);
          g_assert_cmpuint (nfn_tensor_entries (&arch->space, t), ==, json_array_get_length (values));
          for (guint e = 0; e < json_array_get_length (values); e++)
            g_assert_true (dtu_float_identical (net->weights.t[t][e], (float) dtu_json_number (values, e)));
        }
    }

  /* The engine run on these weights gives PyTorch's outputs: the layout really is PyTorch's. */
  JsonArray *inputs = json_object_get_array_member (root, "inputs");
  JsonArray *outputs = json_object_get_array_member (root, "outputs");
  int N = (int) json_object_get_int_member (root, "n_inputs");
  size_t in_size = nfn_net_input_size (arch), out_size = nfn_net_output_size (arch);
  g_assert_cmpuint ((size_t) N * in_size, ==, json_array_get_length (inputs));
  g_assert_cmpuint ((size_t) N * out_size, ==, json_array_get_length (outputs));
  g_autofree float *x = g_new (float, N * in_size);
  g_autofree float *y = g_new (float, N * out_size);
  for (size_t e = 0; e < N * in_size; e++)
    x[e] = (float) dtu_json_number (inputs, (guint) e);
  g_assert_cmpint (nfn_net_forward (arch, &net->weights, N, x, 0, y, NULL), ==, NFN_OK);
  double worst = 0;
  for (size_t e = 0; e < N * out_size; e++)
    {
      double want = dtu_json_number (outputs, (guint) e);
      worst = MAX (worst, fabs (y[e] - want) / MAX (1.0, fabs (want)));
    }
  g_test_message ("%s: worst relative difference to PyTorch's outputs %.3g", name, worst);
  g_assert_cmpfloat (worst, <, 1e-5);
}

static void
test_fixture_mlp (void)
{
  check_fixture_network ("mlp", NFN_NET_MLP, 0);
  g_autofree char *path = dtu_fixture_path ("mlp.safetensors");
  g_autoptr (NfnNetwork) net = nfn_network_load (path, NULL);
  g_assert_cmpint (net->arch.act, ==, NFN_ACT_TANH);
}

static void
test_fixture_siren (void)
{
  check_fixture_network ("siren", NFN_NET_SIREN, 0);
  g_autofree char *path = dtu_fixture_path ("siren.safetensors");
  g_autoptr (NfnNetwork) net = nfn_network_load (path, NULL);
  g_assert_cmpfloat (net->arch.omega0, ==, 30.0f);
  /* Architecture keys live in arch; the user's keys are kept in order. */
  g_assert_cmpuint (net->metadata_keys->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (net->metadata_keys, 0), ==, "image");
  g_assert_cmpstr (g_hash_table_lookup (net->metadata, "image"), ==, "cameraman");
  g_assert_cmpstr (g_hash_table_lookup (net->metadata, "psnr"), ==, "31.5");
}

static void
test_fixture_cnn (void)
{
  check_fixture_network ("cnn", NFN_NET_CNN, 2);
  g_autofree char *path = dtu_fixture_path ("cnn.safetensors");
  g_autoptr (NfnNetwork) net = nfn_network_load (path, NULL);
  g_assert_cmpint (net->arch.kh, ==, 3);
  g_assert_cmpint (net->arch.stride, ==, 2);
  g_assert_cmpint (net->arch.padding, ==, 1);
  g_assert_cmpint (net->arch.in_h, ==, 9);
  g_assert_cmpint (net->arch.space.f[1], ==, 9);
  g_assert_cmpint (net->arch.space.f[3], ==, 1);
}

/* ---- round trips ---- */

static void
assert_networks_equal (const NfnNetwork *a, const NfnNetwork *b)
{
  g_assert_cmpint (a->arch.kind, ==, b->arch.kind);
  g_assert_true (nfn_space_equal (&a->arch.space, &b->arch.space));
  g_assert_cmpint (a->arch.act, ==, b->arch.act);
  if (a->arch.kind == NFN_NET_SIREN)
    g_assert_cmpfloat (a->arch.omega0, ==, b->arch.omega0);
  if (a->arch.kind == NFN_NET_CNN)
    {
      g_assert_cmpint (a->arch.n_conv, ==, b->arch.n_conv);
      g_assert_cmpint (a->arch.kh, ==, b->arch.kh);
      g_assert_cmpint (a->arch.stride, ==, b->arch.stride);
      g_assert_cmpint (a->arch.padding, ==, b->arch.padding);
      g_assert_cmpint (a->arch.in_h, ==, b->arch.in_h);
      g_assert_cmpint (a->arch.in_w, ==, b->arch.in_w);
    }
  for (int t = 0; t < nfn_tensor_count (&a->arch.space); t++)
    g_assert_cmpmem (a->weights.t[t], nfn_tensor_entries (&a->arch.space, t) * sizeof (float),
                     b->weights.t[t], nfn_tensor_entries (&b->arch.space, t) * sizeof (float));
  for (int i = 1; i <= a->arch.space.L; i++)
    {
      g_assert_cmpstr (a->weight_names[i], ==, b->weight_names[i]);
      g_assert_cmpstr (a->bias_names[i], ==, b->bias_names[i]);
    }
  g_assert_cmpuint (a->metadata_keys->len, ==, b->metadata_keys->len);
  for (guint k = 0; k < a->metadata_keys->len; k++)
    {
      const char *key = g_ptr_array_index (a->metadata_keys, k);
      g_assert_cmpstr (key, ==, g_ptr_array_index (b->metadata_keys, k));
      g_assert_cmpstr (g_hash_table_lookup (a->metadata, key), ==, g_hash_table_lookup (b->metadata, key));
    }
}

static NfnNetwork *
random_network (gsl_rng *rng, int trial)
{
  int L = 1 + (int) gsl_rng_uniform_int (rng, 13); /* up to 13 layers, so "10" follows "9" */
  int widths[NFN_MAX_LAYERS + 1];
  for (int i = 0; i <= L; i++)
    widths[i] = 1 + (int) gsl_rng_uniform_int (rng, 6);
  nfn_arch arch;
  switch (trial % 3)
    {
    case 0:
      g_assert_cmpint (nfn_arch_mlp (&arch, L, widths, trial % 2 ? NFN_ACT_TANH : NFN_ACT_RELU), ==, NFN_OK);
      break;
    case 1:
      g_assert_cmpint (nfn_arch_siren (&arch, L, widths, 1.0f + (float) gsl_rng_uniform (rng) * 40), ==,
                       NFN_OK);
      break;
    default:
      g_assert_cmpint (nfn_arch_cnn (&arch, L, widths, 1 + (int) gsl_rng_uniform_int (rng, MIN (L, 3)),
                                     1 + 2 * (int) gsl_rng_uniform_int (rng, 2), 1, 1, 12, 10, NFN_ACT_RELU),
                       ==, NFN_OK);
      break;
    }
  NfnNetwork *net = nfn_network_new (&arch);
  tu_feature_normal (&net->weights, rng);
  /* Original names in a PyTorch style, with indices that skip activations. */
  for (int i = 1; i <= L; i++)
    {
      g_free (net->weight_names[i]);
      g_free (net->bias_names[i]);
      net->weight_names[i] = g_strdup_printf ("model.body.%d.weight", 2 * (i - 1));
      net->bias_names[i] = g_strdup_printf ("model.body.%d.bias", 2 * (i - 1));
    }
  g_ptr_array_add (net->metadata_keys, g_strdup ("trial"));
  g_hash_table_insert (net->metadata, g_strdup ("trial"), g_strdup_printf ("%d", trial));
  g_ptr_array_add (net->metadata_keys, g_strdup ("note"));
  g_hash_table_insert (net->metadata, g_strdup ("note"), g_strdup ("\"quoted\"\nsecond line ✓"));
  return net;
}

static void
test_round_trip (void)
{
  gsl_rng *rng = tu_rng ();
  g_autofree char *dir = g_dir_make_tmp ("nfn-net-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "net.safetensors", NULL);
  for (int trial = 0; trial < 30; trial++)
    {
      g_autoptr (NfnNetwork) net = random_network (rng, trial);
      g_autoptr (GError) error = NULL;
      g_assert_true (nfn_network_save (net, path, &error));
      g_assert_no_error (error);
      g_autoptr (NfnNetwork) back = nfn_network_load (path, &error);
      g_assert_no_error (error);
      assert_networks_equal (net, back);

      /* What a PyTorch user opens: original names, conv kernels 4-D, and the arch keys. */
      g_autoptr (NfnSafetensors) st = nfn_safetensors_load (path, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (st->tensors->len, ==, 2 * net->arch.space.L);
      NfnTensor *first = nfn_safetensors_find (st, "model.body.0.weight");
      g_assert_nonnull (first);
      g_assert_cmpint (first->rank, ==, net->arch.kind == NFN_NET_CNN ? 4 : 2);
      g_assert_cmpstr (nfn_safetensors_get_metadata (st, "nfn.arch"), ==, nfn_net_kind_name (net->arch.kind));

      g_autoptr (NfnNetwork) copy = nfn_network_copy (net);
      assert_networks_equal (net, copy);
      copy->weights.t[0][0] += 1.0f; /* the copy owns its weights */
      g_assert_cmpfloat (copy->weights.t[0][0], !=, net->weights.t[0][0]);
    }
  g_unlink (path);
  g_rmdir (dir);
  gsl_rng_free (rng);
}

static void
test_new_defaults (void)
{
  const int widths[] = { 2, 3, 1 };
  nfn_arch arch;
  g_assert_cmpint (nfn_arch_mlp (&arch, 2, widths, NFN_ACT_RELU), ==, NFN_OK);
  g_autoptr (NfnNetwork) net = nfn_network_new (&arch);
  g_assert_cmpstr (net->weight_names[1], ==, "layers.0.weight");
  g_assert_cmpstr (net->bias_names[2], ==, "layers.1.bias");
  g_assert_cmpfloat (nfn_feature_max_abs (&net->weights), ==, 0.0);
  g_assert_null (net->path);
  g_assert_cmpuint (net->metadata_keys->len, ==, 0);
}

/* ---- recognition rules on state dicts built in memory ---- */

static void
add_layer (NfnSafetensors *st, const char *prefix, int n_out, int n_in, int k, float fill)
{
  gint64 weight_shape[4] = { n_out, n_in, k, k };
  gint64 bias_shape[1] = { n_out };
  gsize numel = (gsize) n_out * n_in * (k ? k * k : 1);
  g_autofree float *data = g_new (float, numel);
  for (gsize e = 0; e < numel; e++)
    data[e] = fill + (float) e;
  g_autofree char *weight = g_strconcat (prefix, ".weight", NULL);
  g_autofree char *bias = g_strconcat (prefix, ".bias", NULL);
  nfn_safetensors_add (st, weight, k ? 4 : 2, weight_shape, data);
  nfn_safetensors_add (st, bias, 1, bias_shape, data);
}

static void
test_natural_order (void)
{
  /* Widths 1 → 2 → … → 12 chain only in natural order; the file lists them shuffled. */
  g_autoptr (NfnSafetensors) st = nfn_safetensors_new ();
  const int order[] = { 10, 2, 0, 9, 1, 3, 8, 4, 7, 5, 6 };
  for (gsize k = 0; k < G_N_ELEMENTS (order); k++)
    {
      g_autofree char *prefix = g_strdup_printf ("net.%d", order[k]);
      add_layer (st, prefix, order[k] + 2, order[k] + 1, 0, (float) order[k]);
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnNetwork) net = nfn_network_from_safetensors (st, "mem", &error);
  g_assert_no_error (error);
  g_assert_cmpint (net->arch.space.L, ==, 11);
  for (int i = 1; i <= 11; i++)
    {
      g_autofree char *want = g_strdup_printf ("net.%d.weight", i - 1);
      g_assert_cmpstr (net->weight_names[i], ==, want);
      g_assert_cmpint (net->arch.space.n[i], ==, i + 1);
      g_assert_cmpfloat (net->weights.t[nfn_tensor_weight (i)][0], ==, (float) (i - 1));
    }

  /* Several digit runs and leading zeros: "b2.l10" after "b2.l9", "b10" after "b2". */
  g_autoptr (NfnSafetensors) runs = nfn_safetensors_new ();
  add_layer (runs, "b10.l1", 5, 4, 0, 0);
  add_layer (runs, "b2.l10", 4, 3, 0, 0);
  add_layer (runs, "b2.l9", 3, 2, 0, 0);
  add_layer (runs, "b02.l1", 2, 1, 0, 0);
  g_autoptr (NfnNetwork) nested = nfn_network_from_safetensors (runs, "mem", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (nested->weight_names[1], ==, "b02.l1.weight");
  g_assert_cmpstr (nested->weight_names[2], ==, "b2.l9.weight");
  g_assert_cmpstr (nested->weight_names[3], ==, "b2.l10.weight");
  g_assert_cmpstr (nested->weight_names[4], ==, "b10.l1.weight");
}

static void
test_conv_then_dense (void)
{
  g_autoptr (NfnSafetensors) st = nfn_safetensors_new ();
  /* LeNet-style names, listed out of order. */
  add_layer (st, "fc1", 2, 5, 0, 0);
  add_layer (st, "conv2", 5, 4, 3, 0);
  add_layer (st, "conv1", 4, 3, 3, 0);
  nfn_safetensors_set_metadata (st, "nfn.conv", "1,1,8,8");
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnNetwork) net = nfn_network_from_safetensors (st, "mem", &error);
  g_assert_no_error (error);
  g_assert_cmpint (net->arch.kind, ==, NFN_NET_CNN);
  g_assert_cmpint (net->arch.n_conv, ==, 2);
  g_assert_cmpint (net->arch.stride, ==, 1);
  g_assert_cmpint (net->arch.in_w, ==, 8);
  g_assert_cmpstr (net->weight_names[3], ==, "fc1.weight");
  /* Rows of the conv kernel stay in PyTorch's (out, in, kh, kw) order. */
  g_assert_cmpfloat (net->weights.t[nfn_tensor_weight (2)][4 * 9 + 7], ==, 43.0f);
}

typedef void (*BuildFn) (NfnSafetensors *st);

static void
build_chain_mismatch (NfnSafetensors *st)
{
  add_layer (st, "net.0", 8, 3, 0, 0);
  add_layer (st, "net.2", 5, 7, 0, 0);
}

static void
build_unpaired_weight (NfnSafetensors *st)
{
  add_layer (st, "net.0", 8, 3, 0, 0);
  const gint64 shape[2] = { 2, 8 };
  const float data[16] = { 0 };
  nfn_safetensors_add (st, "net.2.weight", 2, shape, data);
}

static void
build_unpaired_bias (NfnSafetensors *st)
{
  const gint64 shape[1] = { 2 };
  const float data[2] = { 0 };
  nfn_safetensors_add (st, "head.bias", 1, shape, data);
  add_layer (st, "net.0", 8, 3, 0, 0);
}

static void
build_other_tensor (NfnSafetensors *st)
{
  add_layer (st, "net.0", 8, 3, 0, 0);
  const gint64 shape[1] = { 8 };
  const float data[8] = { 0 };
  nfn_safetensors_add (st, "net.1.running_mean", 1, shape, data);
}

static void
build_ignored_tensor (NfnSafetensors *st)
{
  build_other_tensor (st);
  nfn_safetensors_set_metadata (st, "nfn.ignore", "unused, net.1.running_mean");
  add_layer (st, "net.2", 2, 3, 0, 0); /* so that the remaining chain is wrong, and says so */
}

static void
build_conv_after_dense (NfnSafetensors *st)
{
  add_layer (st, "net.0", 8, 3, 0, 0);
  add_layer (st, "net.1", 4, 8, 3, 0);
}

static void
build_kernel_sizes (NfnSafetensors *st)
{
  add_layer (st, "net.0", 8, 3, 3, 0);
  add_layer (st, "net.1", 4, 8, 5, 0);
}

static void
build_bias_mismatch (NfnSafetensors *st)
{
  add_layer (st, "net.0", 8, 3, 0, 0);
  NfnTensor *bias = nfn_safetensors_find (st, "net.0.bias");
  bias->shape[0] = 7;
  bias->numel = 7;
}

static void
build_rank3 (NfnSafetensors *st)
{
  const gint64 shape[3] = { 2, 2, 2 };
  const float data[8] = { 0 };
  nfn_safetensors_add (st, "net.0.weight", 3, shape, data);
  nfn_safetensors_add (st, "net.0.bias", 1, shape, data);
}

static void
build_empty (NfnSafetensors *st)
{
  nfn_safetensors_set_metadata (st, "nfn.arch", "mlp");
}

static void
build_nan (NfnSafetensors *st)
{
  add_layer (st, "net.0", 8, 3, 0, 0);
  NfnTensor *weight = nfn_safetensors_find (st, "net.0.weight");
  weight->data[3 * 3 + 1] = NAN;
}

static void
build_inf (NfnSafetensors *st)
{
  add_layer (st, "net.0", 8, 3, 0, 0);
  add_layer (st, "net.1", 2, 8, 0, 0);
  nfn_safetensors_find (st, "net.1.bias")->data[1] = -INFINITY;
}

static void
build_bad_arch (NfnSafetensors *st)
{
  add_layer (st, "net.0", 8, 3, 0, 0);
  nfn_safetensors_set_metadata (st, "nfn.arch", "transformer");
}

static void
build_mlp_with_conv (NfnSafetensors *st)
{
  add_layer (st, "net.0", 8, 3, 3, 0);
  nfn_safetensors_set_metadata (st, "nfn.arch", "mlp");
}

static void
build_cnn_without_conv (NfnSafetensors *st)
{
  add_layer (st, "net.0", 8, 3, 0, 0);
  nfn_safetensors_set_metadata (st, "nfn.arch", "cnn");
}

static void
build_bad_activation (NfnSafetensors *st)
{
  add_layer (st, "net.0", 8, 3, 0, 0);
  nfn_safetensors_set_metadata (st, "nfn.activation", "swish");
}

static void
build_mlp_sin (NfnSafetensors *st)
{
  add_layer (st, "net.0", 8, 3, 0, 0);
  nfn_safetensors_set_metadata (st, "nfn.activation", "sin");
}

static void
build_bad_omega (NfnSafetensors *st)
{
  add_layer (st, "net.0", 8, 3, 0, 0);
  nfn_safetensors_set_metadata (st, "nfn.arch", "siren");
  nfn_safetensors_set_metadata (st, "nfn.omega0", "-30");
}

static void
build_bad_conv_text (NfnSafetensors *st)
{
  add_layer (st, "net.0", 8, 3, 3, 0);
  nfn_safetensors_set_metadata (st, "nfn.conv", "2,1,28");
}

static void
build_conv_too_small (NfnSafetensors *st)
{
  add_layer (st, "net.0", 8, 3, 5, 0);
  nfn_safetensors_set_metadata (st, "nfn.conv", "1,0,3,3");
}

static const struct {
  BuildFn build;
  int code;
  const char *fragment;
} recognition_cases[] = {
  { build_chain_mismatch, NFN_DATA_ERROR_SHAPE,
    "tensor \"net.2.weight\" has shape [5,7] but the previous layer has 8 outputs" },
  { build_unpaired_weight, NFN_DATA_ERROR_SHAPE, "tensor \"net.2.weight\" has no matching \"net.2.bias\"" },
  { build_unpaired_bias, NFN_DATA_ERROR_SHAPE, "tensor \"head.bias\" has no matching \"head.weight\"" },
  { build_other_tensor, NFN_DATA_ERROR_SHAPE,
    "tensor \"net.1.running_mean\" is neither a .weight nor a .bias" },
  { build_ignored_tensor, NFN_DATA_ERROR_SHAPE,
    "tensor \"net.2.weight\" has shape [2,3] but the previous layer has 8" },
  { build_conv_after_dense, NFN_DATA_ERROR_SHAPE,
    "tensor \"net.1.weight\" is a conv kernel after a dense layer" },
  { build_kernel_sizes, NFN_DATA_ERROR_UNSUPPORTED,
    "tensor \"net.1.weight\" has a 5×5 kernel but earlier conv" },
  { build_bias_mismatch, NFN_DATA_ERROR_SHAPE,
    "tensor \"net.0.bias\" has shape [7] but its weight has 8 outputs" },
  { build_rank3, NFN_DATA_ERROR_SHAPE,
    "tensor \"net.0.weight\" has shape [2,2,2]; a layer weight is 2-D or 4-D" },
  { build_empty, NFN_DATA_ERROR_SHAPE, "no layers" },
  { build_nan, NFN_DATA_ERROR_NONFINITE, "tensor \"net.0.weight\" has NaN at [3,1]" },
  { build_inf, NFN_DATA_ERROR_NONFINITE, "tensor \"net.1.bias\" has Inf at [1]" },
  { build_bad_arch, NFN_DATA_ERROR_FORMAT, "\"nfn.arch\": unknown architecture \"transformer\"" },
  { build_mlp_with_conv, NFN_DATA_ERROR_SHAPE, "__metadata__ says \"mlp\" but layer 1 is a 4-D conv kernel" },
  { build_cnn_without_conv, NFN_DATA_ERROR_SHAPE, "says \"cnn\" but no weight is a 4-D conv kernel" },
  { build_bad_activation, NFN_DATA_ERROR_FORMAT, "\"nfn.activation\": unknown activation \"swish\"" },
  { build_mlp_sin, NFN_DATA_ERROR_FORMAT, "a mlp uses relu, tanh or identity, not sin" },
  { build_bad_omega, NFN_DATA_ERROR_FORMAT, "\"nfn.omega0\": \"-30\" is not a positive number" },
  { build_bad_conv_text, NFN_DATA_ERROR_FORMAT,
    "\"nfn.conv\": \"2,1,28\" is not \"stride,padding,in_h,in_w\"" },
  { build_conv_too_small, NFN_DATA_ERROR_SHAPE, "1 conv layers with 5×5 kernels do not fit" },
};

static void
test_recognition_errors (void)
{
  for (gsize k = 0; k < G_N_ELEMENTS (recognition_cases); k++)
    {
      g_autoptr (NfnSafetensors) st = nfn_safetensors_new ();
      recognition_cases[k].build (st);
      g_autoptr (GError) error = NULL;
      g_autoptr (NfnNetwork) net = nfn_network_from_safetensors (st, "w.safetensors", &error);
      if (net)
        g_error ("case %" G_GSIZE_FORMAT " recognised, but should fail with \"%s\"", k,
                 recognition_cases[k].fragment);
      g_test_message ("%s", error->message);
      dtu_assert_error (error, NFN_DATA_ERROR, recognition_cases[k].code, "w.safetensors",
                        recognition_cases[k].fragment);
    }
}

static void
test_load_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_assert_null (nfn_network_load ("weights.pt", &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_UNSUPPORTED, "weights.pt", "unknown file type");
  g_clear_error (&error);
  g_assert_null (nfn_network_load ("/nonexistent/w.SafeTensors", &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_IO, "/nonexistent/w.SafeTensors", "cannot open");
  g_clear_error (&error);

  /* A reader fault comes through with the path in front. */
  g_autofree char *dir = g_dir_make_tmp ("nfn-net-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "short.safetensors", NULL);
  g_assert_true (g_file_set_contents (path, "abc", 3, NULL));
  g_assert_null (nfn_network_load (path, &error));
  dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, path, "file too short");
  g_unlink (path);
  g_rmdir (dir);
}

/* A file we write with an ignored tensor listed: loading skips it, the network is intact. */
static void
test_ignore_metadata (void)
{
  g_autoptr (NfnSafetensors) st = nfn_safetensors_new ();
  build_other_tensor (st);
  nfn_safetensors_set_metadata (st, "nfn.ignore", "net.1.running_mean");
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnNetwork) net = nfn_network_from_safetensors (st, "mem", &error);
  g_assert_no_error (error);
  g_assert_cmpint (net->arch.space.L, ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/network/fixture-mlp", test_fixture_mlp);
  g_test_add_func ("/network/fixture-siren", test_fixture_siren);
  g_test_add_func ("/network/fixture-cnn", test_fixture_cnn);
  g_test_add_func ("/network/round-trip", test_round_trip);
  g_test_add_func ("/network/new-defaults", test_new_defaults);
  g_test_add_func ("/network/natural-order", test_natural_order);
  g_test_add_func ("/network/conv-then-dense", test_conv_then_dense);
  g_test_add_func ("/network/recognition-errors", test_recognition_errors);
  g_test_add_func ("/network/load-errors", test_load_errors);
  g_test_add_func ("/network/ignore-metadata", test_ignore_metadata);
  return g_test_run ();
}
