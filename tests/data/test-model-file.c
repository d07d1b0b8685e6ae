/* test-model-file.c — nfn_model as safetensors: round trips for every model kind (same
 * parameters bit for bit, same config, same outputs), names and shapes a PyTorch user can use
 * (the head's weight is nn.Linear's (out, in): logits recomputed from the file's tensors by
 * hand match the model's), the config JSON, and malformed files refused in one line naming
 * the file.
 *
 * Shape letters: B networks, K outputs, D flattened weights. */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "datatestutil.h"
#include "nfn_layers.h"
#include "nfn_model_file.h"
#include "testutil.h"

static void
mlp_space (nfn_space *s)
{
  int widths[] = { 2, 5, 4, 1 };
  g_assert_cmpint (nfn_space_init (s, 3, widths), ==, NFN_OK);
}

/* flags: PER_LAYER gives NF layer widths 6, 3 instead of 5, 5; POOL_STATS appends StatNN
 * features to the pool */
#define PER_LAYER 1
#define POOL_STATS 2
static nfn_model *
make_model_widths (nfn_model_kind kind, nfn_model_output output, int flags)
{
  nfn_space s;
  mlp_space (&s);
  nfn_model_config cfg;
  nfn_model_config_default (&cfg, kind, &s, 4);
  cfg.max_batch = 3;
  cfg.fourier_m = kind == NFN_MODEL_MLP || kind == NFN_MODEL_STAT ? 0 : 3;
  cfg.io_bands = kind == NFN_MODEL_NP ? 2 : 0;
  cfg.depth = 2;
  cfg.channels = 5;
  if (flags & PER_LAYER)
    {
      cfg.layer_channels[0] = 6;
      cfg.layer_channels[1] = 3;
    }
  cfg.pool_stats = (flags & POOL_STATS) != 0;
  cfg.n_head = 1;
  cfg.head_widths[0] = 7;
  cfg.head_dropout = 0.25f;
  cfg.activation = NFN_MODEL_GELU;
  if (output == NFN_MODEL_OUT_WEIGHTS)
    {
      cfg.output = NFN_MODEL_OUT_WEIGHTS;
      cfg.out_channels = 1;
      cfg.out_scale = 0.01f;
    }
  nfn_model *model;
  g_assert_cmpint (nfn_model_new (&cfg, 9, &model), ==, NFN_OK);
  /* not the init: every value distinct, so a misplaced block shows (the arena's padding
   * between blocks stays zero, as the model keeps it) */
  gsl_rng *rng = tu_rng ();
  int n = nfn_model_param_blocks (model, NULL, 0);
  g_autofree nfn_model_param_block *blocks = g_new0 (nfn_model_param_block, n);
  nfn_model_param_blocks (model, blocks, n);
  for (int k = 0; k < n; k++)
    tu_fill_normal (nfn_model_params (model) + blocks[k].offset,
                    (size_t) blocks[k].shape[0] * (blocks[k].rank == 2 ? blocks[k].shape[1] : 1), 0.3, rng);
  gsl_rng_free (rng);
  return model;
}

static nfn_model *
make_model (nfn_model_kind kind, nfn_model_output output)
{
  return make_model_widths (kind, output, 0);
}

static char *tmp_dir;

static char *
tmp_path (const char *name)
{
  return g_build_filename (tmp_dir, name, NULL);
}

static void
assert_same_outputs (nfn_model *a, nfn_model *b)
{
  const nfn_model_config *cfg = nfn_model_get_config (a);
  gsl_rng *rng = tu_rng ();
  nfn_feature x;
  nfn_feature_alloc (&x, &cfg->space, 3, 1);
  tu_feature_normal (&x, rng);
  gsl_rng_free (rng);
  if (cfg->output == NFN_MODEL_OUT_LOGITS)
    {
      const float *la, *lb;
      float saved[64];
      g_assert_cmpint (nfn_model_forward (a, &x, 0, &la), ==, NFN_OK);
      memcpy (saved, la, 3 * cfg->n_out * sizeof (float));
      g_assert_cmpint (nfn_model_forward (b, &x, 0, &lb), ==, NFN_OK);
      g_assert_cmpint (memcmp (saved, lb, 3 * cfg->n_out * sizeof (float)), ==, 0);
    }
  else
    {
      const nfn_feature *oa, *ob;
      g_assert_cmpint (nfn_model_forward_weights (a, &x, 0, &oa), ==, NFN_OK);
      nfn_feature saved;
      nfn_feature_alloc (&saved, &oa->space, oa->B, oa->C);
      memcpy (saved.data, oa->data, saved.size * sizeof (float));
      g_assert_cmpint (nfn_model_forward_weights (b, &x, 0, &ob), ==, NFN_OK);
      g_assert_cmpfloat (nfn_feature_max_abs_diff (&saved, ob), ==, 0);
      nfn_feature_free (&saved);
    }
  nfn_feature_free (&x);
}

static void
test_round_trip (void)
{
  const struct {
    nfn_model_kind kind;
    nfn_model_output output;
    int flags;
  } cases[] = {
    { NFN_MODEL_NP, NFN_MODEL_OUT_LOGITS },        { NFN_MODEL_HNP, NFN_MODEL_OUT_LOGITS },
    { NFN_MODEL_POINTWISE, NFN_MODEL_OUT_LOGITS }, { NFN_MODEL_MLP, NFN_MODEL_OUT_LOGITS },
    { NFN_MODEL_STAT, NFN_MODEL_OUT_LOGITS },      { NFN_MODEL_NP, NFN_MODEL_OUT_WEIGHTS },
    { NFN_MODEL_HNP, NFN_MODEL_OUT_WEIGHTS },      { NFN_MODEL_POINTWISE, NFN_MODEL_OUT_WEIGHTS },
    { NFN_MODEL_HNP, NFN_MODEL_OUT_LOGITS, PER_LAYER }, { NFN_MODEL_POINTWISE, NFN_MODEL_OUT_WEIGHTS, PER_LAYER },
    { NFN_MODEL_NP, NFN_MODEL_OUT_LOGITS, POOL_STATS }, { NFN_MODEL_HNP, NFN_MODEL_OUT_LOGITS, PER_LAYER | POOL_STATS },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      nfn_model *model = make_model_widths (cases[c].kind, cases[c].output, cases[c].flags);
      g_autofree char *path = tmp_path ("model.safetensors");
      char *classes[] = { "zero", "one", "two", "three", NULL };
      NfnModelFileInfo info = { .task = "classify", .class_names = cases[c].output == NFN_MODEL_OUT_LOGITS ? classes : NULL,
                                .extra_json = "{\"input_norm\": {\"mean\": [0], \"std\": [1]}}" };
      g_autoptr (GError) error = NULL;
      g_assert_true (nfn_model_file_save (model, &info, path, &error));
      g_assert_no_error (error);
      NfnModelFileInfo back = { 0 };
      nfn_model *loaded = nfn_model_file_load (path, 0, &back, &error);
      g_assert_no_error (error);
      g_assert_nonnull (loaded);
      g_assert_cmpint (memcmp (nfn_model_get_config (model), nfn_model_get_config (loaded), sizeof (nfn_model_config)), ==, 0);
      size_t n = nfn_model_param_count_all (model);
      g_assert_cmpuint (n, ==, nfn_model_param_count_all (loaded));
      g_assert_cmpint (memcmp (nfn_model_params (model), nfn_model_params (loaded), n * sizeof (float)), ==, 0);
      g_assert_cmpstr (back.task, ==, "classify");
      if (info.class_names)
        {
          g_assert_cmpuint (g_strv_length (back.class_names), ==, 4);
          g_assert_cmpstr (back.class_names[2], ==, "two");
        }
      g_assert_cmpstr (back.extra_json, ==, info.extra_json);
      assert_same_outputs (model, loaded);

      /* the tensors cover every parameter once: their sizes add up to the arena's blocks */
      g_autoptr (NfnSafetensors) st = nfn_safetensors_load (path, &error);
      gsize total = 0;
      for (guint k = 0; k < st->tensors->len; k++)
        total += ((NfnTensor *) g_ptr_array_index (st->tensors, k))->numel;
      g_assert_cmpuint (total, <=, n);
      g_assert_cmpuint (total, >=, nfn_model_param_count (model) / 2); /* arena padding is all that differs */
      /* a smaller batch on load */
      nfn_model *small = nfn_model_file_load (path, 1, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (nfn_model_get_config (small)->max_batch, ==, 1);
      nfn_model_free (small);
      nfn_model_file_info_clear (&back);
      nfn_model_free (loaded);
      nfn_model_free (model);
      g_unlink (path);
    }
}

/* An MLP-kind classifier without hidden head layers is logits = W·flatten(x) + b: recompute
 * it from the file's "head.0.weight" (out, in) and "head.0.bias" by hand. */
static void
test_pytorch_layout (void)
{
  nfn_space s;
  mlp_space (&s);
  nfn_model_config cfg;
  nfn_model_config_default (&cfg, NFN_MODEL_MLP, &s, 4);
  cfg.max_batch = 1;
  cfg.n_head = 0;
  nfn_model *model;
  g_assert_cmpint (nfn_model_new (&cfg, 3, &model), ==, NFN_OK);
  g_autoptr (NfnSafetensors) st = nfn_model_to_safetensors (model, NULL);
  NfnTensor *w = nfn_safetensors_find (st, "head.0.weight"), *b = nfn_safetensors_find (st, "head.0.bias");
  g_assert_nonnull (w);
  g_assert_nonnull (b);
  int D = (int) nfn_space_param_count (&s);
  g_assert_cmpint (w->rank, ==, 2);
  g_assert_cmpint (w->shape[0], ==, 4);
  g_assert_cmpint (w->shape[1], ==, D);
  gsl_rng *rng = tu_rng ();
  nfn_feature x;
  nfn_feature_alloc (&x, &s, 1, 1);
  tu_feature_normal (&x, rng);
  gsl_rng_free (rng);
  float flat[256];
  g_assert_cmpint (D, <=, 256);
  nfn_flatten_forward (&x, flat);
  const float *logits;
  g_assert_cmpint (nfn_model_forward (model, &x, 0, &logits), ==, NFN_OK);
  for (int o = 0; o < 4; o++)
    {
      double y = b->data[o];
      for (int i = 0; i < D; i++)
        y += (double) w->data[o * D + i] * flat[i];
      g_assert_cmpfloat (fabs (y - logits[o]), <, 1e-4);
    }
  g_assert_cmpstr (nfn_safetensors_get_metadata (st, "nfn.format"), ==, "nfn-model");
  nfn_feature_free (&x);
  nfn_model_free (model);
}

static void
test_names (void)
{
  nfn_model *model = make_model (NFN_MODEL_NP, NFN_MODEL_OUT_LOGITS);
  int n = nfn_model_param_blocks (model, NULL, 0);
  g_autofree nfn_model_param_block *blocks = g_new0 (nfn_model_param_block, n);
  g_assert_cmpint (nfn_model_param_blocks (model, blocks, n), ==, n);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  size_t end = 0;
  for (int k = 0; k < n; k++)
    {
      g_assert_false (g_hash_table_contains (seen, blocks[k].name));
      g_hash_table_add (seen, blocks[k].name);
      /* arena order, no overlap */
      g_assert_cmpuint (blocks[k].offset, >=, end);
      end = blocks[k].offset + (size_t) blocks[k].shape[0] * (blocks[k].rank == 2 ? blocks[k].shape[1] : 1);
    }
  g_assert_cmpuint (end, <=, nfn_model_param_count_all (model));
  g_assert_true (g_hash_table_contains (seen, "encoder.0.W2.full.weight"));
  g_assert_true (g_hash_table_contains (seen, "encoder.1.b3.const.bias"));
  g_assert_true (g_hash_table_contains (seen, "head.1.weight"));
  g_assert_true (g_hash_table_contains (seen, "fourier.matrix"));
  nfn_model_free (model);
}

/* A model made with `flags` writes `shown` in its config JSON and reads back the same config. */
static void
assert_optional_field (nfn_model_kind kind, int flags, const char *shown)
{
  nfn_model *model = make_model_widths (kind, NFN_MODEL_OUT_LOGITS, flags);
  g_autofree char *json = nfn_model_config_to_json (nfn_model_get_config (model));
  g_assert_nonnull (strstr (json, shown));
  nfn_model_config cfg;
  g_autoptr (GError) error = NULL;
  g_assert_true (nfn_model_config_from_json (json, &cfg, "cfg", &error));
  g_assert_no_error (error);
  g_assert_cmpint (memcmp (&cfg, nfn_model_get_config (model), sizeof cfg), ==, 0);
  nfn_model_free (model);
}

static void
test_config_json (void)
{
  nfn_model *model = make_model (NFN_MODEL_HNP, NFN_MODEL_OUT_LOGITS);
  g_autofree char *json = nfn_model_config_to_json (nfn_model_get_config (model));
  nfn_model_config cfg;
  g_autoptr (GError) error = NULL;
  g_assert_true (nfn_model_config_from_json (json, &cfg, "cfg", &error));
  g_assert_no_error (error);
  g_assert_cmpint (memcmp (&cfg, nfn_model_get_config (model), sizeof cfg), ==, 0);
  /* float fields print as their shortest decimal (0.1, not 0.10000000149011612) and still
   * read back to the same float */
  nfn_model_config shown = cfg;
  shown.head_dropout = 0.1f;
  shown.channel_dropout = 0.3f;
  g_autofree char *shown_json = nfn_model_config_to_json (&shown);
  g_assert_nonnull (strstr (shown_json, "\"head_dropout\":0.1,"));
  g_assert_nonnull (strstr (shown_json, "\"channel_dropout\":0.3,"));
  g_assert_true (nfn_model_config_from_json (shown_json, &cfg, "cfg", &error));
  g_assert_true (cfg.head_dropout == 0.1f && cfg.channel_dropout == 0.3f);
  /* optional fields, written only when set, and read back */
  g_assert_null (strstr (json, "layer_channels"));
  g_assert_null (strstr (json, "pool_stats"));
  assert_optional_field (NFN_MODEL_HNP, PER_LAYER, "\"layer_channels\":[6,3]");
  assert_optional_field (NFN_MODEL_NP, POOL_STATS, "\"pool_stats\":true");
  const char *bad[][2] = {
    { "{\"kind\": \"np\"}", "\"space\"" },
    { "{\"kind\": \"xx\", \"space\": {\"widths\": [2, 1], \"filter_positions\": [1]}}", "\"kind\"" },
    { "{\"kind\": \"np\", \"space\": {\"widths\": [2, 1], \"filter_positions\": [1]}, \"depth\": \"3\"}", "\"depth\"" },
    { "{\"kind\": \"np\", \"space\": {\"widths\": [2, 1], \"filter_positions\": [1]}, \"bogus\": 1}", "unknown field" },
    { "{\"kind\": \"hnp\", \"space\": {\"widths\": [2, 3, 1], \"filter_positions\": [1, 1]}, \"io_bands\": 2}", "valid model" },
    { "{\"kind\": \"np\", \"space\": {\"widths\": [2, 1], \"filter_positions\": [1]}, \"depth\": 2,"
      " \"layer_channels\": [4]}", "1 widths for 2 layers" },
    { "{\"kind\": \"np\", \"space\": {\"widths\": [2, 1], \"filter_positions\": [1]}, \"depth\": 2,"
      " \"layer_channels\": [4, 0]}", "\"layer_channels\"" },
    { "{\"kind\": \"np\", \"space\": {\"widths\": [2, 1], \"filter_positions\": [1]}, \"pool_stats\": 1}",
      "\"pool_stats\" is not true or false" },
    { "{\"kind\": \"stat\", \"space\": {\"widths\": [2, 1], \"filter_positions\": [1]}, \"pool_stats\": true}",
      "valid model" },
    { "[1, 2]", "not a JSON object" },
    { "{", "not valid JSON" },
  };
  for (guint k = 0; k < G_N_ELEMENTS (bad); k++)
    {
      g_assert_false (nfn_model_config_from_json (bad[k][0], &cfg, "cfg", &error));
      dtu_assert_error (error, NFN_DATA_ERROR, NFN_DATA_ERROR_FORMAT, "cfg", bad[k][1]);
      g_clear_error (&error);
    }
  nfn_model_free (model);
}

/* Rewrites a saved model through `edit`, saves it, and expects a one-line error naming it. */
typedef void (*edit_fn) (NfnSafetensors *st);

static void
drop_tensor (NfnSafetensors *st)
{
  g_ptr_array_remove_index (st->tensors, 1);
}

static void
reshape_tensor (NfnSafetensors *st)
{
  NfnTensor *t = nfn_safetensors_find (st, "head.0.weight");
  t->shape[0] = t->numel;
  t->shape[1] = 1;
}

static void
nan_value (NfnSafetensors *st)
{
  NfnTensor *t = nfn_safetensors_find (st, "head.0.bias");
  t->data[0] = NAN;
}

static void
no_format (NfnSafetensors *st)
{
  nfn_safetensors_set_metadata (st, "nfn.format", "something-else");
}

static void
bad_config (NfnSafetensors *st)
{
  nfn_safetensors_set_metadata (st, "nfn.model", "{\"kind\": \"np\"}");
}

static void
newer_version (NfnSafetensors *st)
{
  nfn_safetensors_set_metadata (st, "nfn.version", "2");
}

static void
bad_classes (NfnSafetensors *st)
{
  nfn_safetensors_set_metadata (st, "nfn.classes", "[\"a\", \"b\"]");
}

static void
test_malformed (void)
{
  nfn_model *model = make_model (NFN_MODEL_NP, NFN_MODEL_OUT_LOGITS);
  g_autofree char *path = tmp_path ("bad.safetensors");
  char *classes[] = { "a", "b", "c", "d", NULL };
  NfnModelFileInfo info = { .class_names = classes };
  const struct {
    edit_fn edit;
    int code;
    const char *fragment;
  } cases[] = {
    { drop_tensor, NFN_DATA_ERROR_SHAPE, "tensors; its config implies" },
    { reshape_tensor, NFN_DATA_ERROR_SHAPE, "tensor \"head.0.weight\" has shape" },
    { nan_value, NFN_DATA_ERROR_SHAPE, "non-finite" },
    { no_format, NFN_DATA_ERROR_FORMAT, "not an nfn model" },
    { bad_config, NFN_DATA_ERROR_FORMAT, "model config" },
    { newer_version, NFN_DATA_ERROR_UNSUPPORTED, "version 2" },
    { bad_classes, NFN_DATA_ERROR_FORMAT, "nfn.classes names 2 classes" },
  };
  g_autoptr (GError) error = NULL;
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      g_autoptr (NfnSafetensors) st = nfn_model_to_safetensors (model, &info);
      cases[k].edit (st);
      g_assert_true (nfn_safetensors_save (st, path, &error));
      g_assert_null (nfn_model_file_load (path, 0, NULL, &error));
      dtu_assert_error (error, NFN_DATA_ERROR, cases[k].code, path, cases[k].fragment);
      g_clear_error (&error);
    }
  /* truncated: the safetensors reader's own error, still naming the file */
  g_assert_true (nfn_model_file_save (model, &info, path, &error));
  g_autofree char *contents = NULL;
  gsize length;
  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  g_assert_true (g_file_set_contents (path, contents, length - 7, NULL));
  g_assert_null (nfn_model_file_load (path, 0, NULL, &error));
  g_assert_nonnull (error);
  g_assert_true (g_str_has_prefix (error->message, path));
  g_assert_null (strchr (error->message, '\n'));
  g_clear_error (&error);
  g_unlink (path);
  nfn_model_free (model);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/model-file/round-trip", test_round_trip);
  g_test_add_func ("/model-file/pytorch-layout", test_pytorch_layout);
  g_test_add_func ("/model-file/names", test_names);
  g_test_add_func ("/model-file/config-json", test_config_json);
  g_test_add_func ("/model-file/malformed", test_malformed);
  tmp_dir = g_dir_make_tmp ("nfn-test-model-file-XXXXXX", NULL);
  int status = g_test_run ();
  dtu_remove_tree (tmp_dir);
  g_free (tmp_dir);
  return status;
}
