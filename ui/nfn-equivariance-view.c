/* nfn-equivariance-view.c — NfnEquivarianceView: the NFN, the two sides of the equation, the view.
 *
 * Shape letters as in nfn_core.h; H hidden channels of a stack, K classes.
 * Everything here is small (one network, B = 1) and runs on the main loop.
 */
#include "nfn-equivariance-view.h"

#include <gsl/gsl_rng.h>
#include <math.h>

#include "nfn_equivariant.h"
#include "nfn_layers.h"
#include "nfn_model.h"
#include "nfn_model_file.h"
#include "nfn_network_text.h"
#include "nfn_perm.h"
#include "nfn_store.h"
#include "nfn-draw.h"
#include "nfn-ui-resources.h"

#define NFN_EQUIVARIANCE_SEED 2302

/* ---- The NFN under test ---- */

typedef struct {
  NfnEquivarianceModel kind;
  nfn_symmetry sym;
  int n_out;                    /* classifiers: K */
  gboolean weights_model;       /* a trained WEIGHTS model: equivariant through `classifier` */
  nfn_space space;
  int depth;                    /* equivariant layers: 1 or 2 */
  nfn_eq_plan plans[2];
  float *params[2];
  float *scratch;
  nfn_model *classifier;        /* classifiers and trained models */
} NfnEquivarianceNfn;

static gboolean
nfn_equivariance_is_classifier (const NfnEquivarianceNfn *nfn)
{
  return nfn->classifier != NULL && !nfn->weights_model;
}

static nfn_symmetry
nfn_equivariance_symmetry (NfnEquivarianceModel kind)
{
  switch (kind)
    {
    case NFN_EQUIVARIANCE_NP_LAYER:
    case NFN_EQUIVARIANCE_NP_STACK:
    case NFN_EQUIVARIANCE_NP_CLASSIFIER: return NFN_SYM_NP;
    default: return NFN_SYM_HNP;
    }
}

static void
nfn_equivariance_nfn_free (NfnEquivarianceNfn *nfn)
{
  if (nfn == NULL)
    return;
  for (int l = 0; l < 2; l++)
    g_free (nfn->params[l]);
  g_free (nfn->scratch);
  if (nfn->classifier)
    nfn_model_free (nfn->classifier);
  g_free (nfn);
}

static NfnEquivarianceNfn *
nfn_equivariance_nfn_new (NfnEquivarianceModel kind, const nfn_space *space, unsigned long seed)
{
  NfnEquivarianceNfn *nfn = g_new0 (NfnEquivarianceNfn, 1);
  nfn->kind = kind;
  nfn->space = *space;
  nfn_symmetry sym = nfn_equivariance_symmetry (kind);
  nfn->sym = sym;
  nfn->n_out = NFN_EQUIVARIANCE_CLASSES;
  if (kind == NFN_EQUIVARIANCE_NP_CLASSIFIER || kind == NFN_EQUIVARIANCE_HNP_CLASSIFIER)
    {
      nfn_model_config cfg;
      nfn_model_config_default (&cfg, sym == NFN_SYM_NP ? NFN_MODEL_NP : NFN_MODEL_HNP, space,
                                NFN_EQUIVARIANCE_CLASSES);
      /* Small and exactly invariant: no IO encoding (it pins input and output positions). */
      cfg.max_batch = 1;
      cfg.fourier_m = 0;
      cfg.io_bands = 0;
      cfg.depth = 2;
      cfg.channels = 16;
      cfg.n_head = 1;
      cfg.head_widths[0] = 64;
      if (nfn_model_new (&cfg, seed, &nfn->classifier) != NFN_OK)
        {
          nfn_equivariance_nfn_free (nfn);
          return NULL;
        }
      return nfn;
    }

  gboolean stack = kind == NFN_EQUIVARIANCE_NP_STACK || kind == NFN_EQUIVARIANCE_HNP_STACK;
  nfn->depth = stack ? 2 : 1;
  int hidden = NFN_EQUIVARIANCE_STACK_CHANNELS;
  gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (rng, seed);
  size_t scratch = 0;
  for (int l = 0; l < nfn->depth; l++)
    {
      int cin = l == 0 ? 1 : hidden, cout = l == nfn->depth - 1 ? 1 : hidden;
      if (nfn_eq_plan_init (&nfn->plans[l], space, sym, cin, cout) != NFN_OK)
        {
          gsl_rng_free (rng);
          nfn_equivariance_nfn_free (nfn);
          return NULL;
        }
      nfn->params[l] = g_new (float, nfn_eq_param_count (&nfn->plans[l]));
      nfn_eq_init_params (&nfn->plans[l], nfn->params[l], rng);
      scratch = MAX (scratch, nfn_eq_scratch_size (&nfn->plans[l], 1));
    }
  gsl_rng_free (rng);
  nfn->scratch = g_new0 (float, MAX (scratch, 1));
  return nfn;
}

/* A trained model from a file, if it fits `space` and this view; NULL and an error if not. */
static NfnEquivarianceNfn *
nfn_equivariance_nfn_load (const char *path, const nfn_space *space, GError **error)
{
  nfn_model *model = nfn_model_file_load (path, 1, NULL, error);
  if (model == NULL)
    return NULL;
  const nfn_model_config *cfg = nfn_model_get_config (model);
  const char *fault = NULL;
  if (cfg->kind != NFN_MODEL_NP && cfg->kind != NFN_MODEL_HNP)
    fault = "not an NP or HNP model (only those respect the permutation symmetry)";
  else if (!nfn_space_equal (&cfg->space, space))
    fault = "trained on another weight space than this network's";
  else if (cfg->output == NFN_MODEL_OUT_WEIGHTS && cfg->out_channels != 1)
    fault = "outputs more than one channel per weight";
  if (fault)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: %s", path, fault);
      nfn_model_free (model);
      return NULL;
    }
  NfnEquivarianceNfn *nfn = g_new0 (NfnEquivarianceNfn, 1);
  nfn->kind = NFN_EQUIVARIANCE_TRAINED;
  nfn->space = *space;
  nfn->sym = cfg->kind == NFN_MODEL_NP ? NFN_SYM_NP : NFN_SYM_HNP;
  nfn->n_out = cfg->n_out;
  nfn->weights_model = cfg->output == NFN_MODEL_OUT_WEIGHTS;
  nfn->classifier = model;
  return nfn;
}

/* out (C = 1 feature) = NFN(in): layer, or layer → ReLU → layer, or the trained model. */
static nfn_status
nfn_equivariance_nfn_forward (NfnEquivarianceNfn *nfn, const nfn_feature *in, nfn_feature *out)
{
  if (nfn->weights_model)
    {
      const nfn_feature *result;
      nfn_status status = nfn_model_forward_weights (nfn->classifier, in, 0, &result);
      if (status == NFN_OK)
        memcpy (out->data, result->data, out->size * sizeof (float)); /* the arena's is overwritten next call */
      return status;
    }
  if (nfn->depth == 1)
    return nfn_eq_forward (&nfn->plans[0], nfn->params[0], in, out, nfn->scratch);
  nfn_feature middle;
  nfn_status status = nfn_feature_alloc (&middle, &nfn->space, 1, NFN_EQUIVARIANCE_STACK_CHANNELS);
  if (status == NFN_OK)
    status = nfn_eq_forward (&nfn->plans[0], nfn->params[0], in, &middle, nfn->scratch);
  if (status == NFN_OK)
    {
      nfn_relu_forward (middle.data, middle.data, middle.size);
      status = nfn_eq_forward (&nfn->plans[1], nfn->params[1], &middle, out, nfn->scratch);
    }
  nfn_feature_free (&middle);
  return status;
}

/* logits (K) of the classifier. */
static nfn_status
nfn_equivariance_nfn_classify (NfnEquivarianceNfn *nfn, const nfn_feature *in, float *logits)
{
  const float *out;
  nfn_status status = nfn_model_forward (nfn->classifier, in, 0, &out);
  if (status == NFN_OK)
    memcpy (logits, out, nfn->n_out * sizeof (float));
  return status;
}

/* ---- The widget ---- */

struct _NfnEquivarianceView
{
  GtkWidget parent_instance;

  GtkDropDown *model_dropdown, *tensor_dropdown;
  GtkLabel *tensor_caption;
  GtkCheckButton *break_check;
  NfnHeatmap *left_heatmap, *right_heatmap, *difference_heatmap;
  GtkLabel *summary_label, *explanation_label;

  NfnNetwork *network;
  NfnEquivarianceNfn *nfn;
  char *store_path;   /* where NFN_EQUIVARIANCE_TRAINED looks, or NULL */
  char *trained_path; /* the trained model file shown, or NULL */
  nfn_perm sigma, sigma_biases; /* σ, and the σ′ biases get when the coupling is broken */
  gboolean has_perms;
  gsl_rng *rng;
  unsigned long model_seed;
  int tensor;
  gboolean broken;
  double max_difference;
};

G_DEFINE_FINAL_TYPE (NfnEquivarianceView, nfn_equivariance_view, GTK_TYPE_WIDGET)

GtkWidget *
nfn_equivariance_view_new (void)
{
  return g_object_new (NFN_TYPE_EQUIVARIANCE_VIEW, NULL);
}

/* σ̃·U: σ on every tensor, or — with the coupling broken — σ′ on the biases. */
static void
nfn_equivariance_view_permuted_input (NfnEquivarianceView *self, nfn_feature *out)
{
  nfn_perm_apply (&self->sigma, &self->network->weights, out);
  if (!self->broken)
    return;
  nfn_feature other;
  nfn_feature_alloc (&other, &self->network->arch.space, 1, 1);
  nfn_perm_apply (&self->sigma_biases, &self->network->weights, &other);
  for (int i = 1; i <= other.space.L; i++)
    memcpy (out->t[nfn_tensor_bias (i)], other.t[nfn_tensor_bias (i)],
            nfn_tensor_entries (&other.space, nfn_tensor_bias (i)) * sizeof (float));
  nfn_feature_free (&other);
}

static void
nfn_equivariance_view_show_matrix (NfnHeatmap *heatmap, const char *title, const nfn_feature *feature, int t,
                                   double scale)
{
  const nfn_space *s = &feature->space;
  int i = nfn_tensor_layer (t);
  gboolean bias = nfn_tensor_is_bias (t);
  int rows = bias ? 1 : s->n[i], cols = bias ? s->n[i] : s->n[i - 1] * s->f[i];
  nfn_heatmap_set_title (heatmap, title);
  nfn_heatmap_set_scale (heatmap, scale);
  nfn_heatmap_set_matrix (heatmap, rows, cols, feature->t[t]);
}

static void
nfn_equivariance_view_update (NfnEquivarianceView *self)
{
  if (self->network == NULL || self->nfn == NULL)
    return;
  const nfn_space *s = &self->network->arch.space;
  nfn_feature permuted_input;
  nfn_feature_alloc (&permuted_input, s, 1, 1);
  nfn_equivariance_view_permuted_input (self, &permuted_input);
  gboolean classifier = nfn_equivariance_is_classifier (self->nfn);
  const char *coupling = self->broken ? " — coupling broken: biases permuted by σ′ ≠ σ" : "";

  if (classifier)
    {
      int classes = self->nfn->n_out;
      g_autofree float *original = g_new (float, classes), *moved = g_new (float, classes), *diff = g_new (float, classes);
      nfn_equivariance_nfn_classify (self->nfn, &self->network->weights, original);
      nfn_equivariance_nfn_classify (self->nfn, &permuted_input, moved);
      double scale = 0;
      int best_original = 0, best_moved = 0;
      self->max_difference = 0;
      for (int k = 0; k < classes; k++)
        {
          diff[k] = moved[k] - original[k];
          self->max_difference = MAX (self->max_difference, fabs (diff[k]));
          scale = MAX (scale, MAX (fabs (original[k]), fabs (moved[k])));
          best_original = original[k] > original[best_original] ? k : best_original;
          best_moved = moved[k] > moved[best_moved] ? k : best_moved;
        }
      g_autofree char *left = g_strdup_printf ("NFN(σ·U): logits, predicted class %d", best_moved);
      g_autofree char *right = g_strdup_printf ("NFN(U): logits, predicted class %d", best_original);
      nfn_heatmap_set_title (self->left_heatmap, left);
      nfn_heatmap_set_title (self->right_heatmap, right);
      nfn_heatmap_set_title (self->difference_heatmap, "NFN(σ·U) − NFN(U), same colour scale");
      NfnHeatmap *maps[3] = { self->left_heatmap, self->right_heatmap, self->difference_heatmap };
      const float *values[3] = { moved, original, diff };
      for (int m = 0; m < 3; m++)
        {
          nfn_heatmap_set_scale (maps[m], scale);
          nfn_heatmap_set_matrix (maps[m], 1, classes, values[m]);
        }
      char number[G_ASCII_DTOSTR_BUF_SIZE];
      g_ascii_formatd (number, sizeof number, "%.2g", self->max_difference);
      g_autofree char *summary = g_strdup_printf ("max |difference| = %s%s", number, coupling);
      gtk_label_set_text (self->summary_label, summary);
      gtk_label_set_text (self->explanation_label,
                          "An invariant classifier pools every tensor over its permuted neurons before its head, so "
                          "every member σ·U of the orbit gets the same logits and the same predicted class.");
    }
  else
    {
      nfn_feature out_moved, out_original, out_then_moved, difference;
      nfn_feature_alloc (&out_moved, s, 1, 1);
      nfn_feature_alloc (&out_original, s, 1, 1);
      nfn_feature_alloc (&out_then_moved, s, 1, 1);
      nfn_feature_alloc (&difference, s, 1, 1);
      nfn_equivariance_nfn_forward (self->nfn, &permuted_input, &out_moved);
      nfn_equivariance_nfn_forward (self->nfn, &self->network->weights, &out_original);
      nfn_perm_apply (&self->sigma, &out_original, &out_then_moved);
      for (size_t e = 0; e < difference.size; e++)
        difference.data[e] = out_moved.data[e] - out_then_moved.data[e];
      self->max_difference = nfn_feature_max_abs_diff (&out_moved, &out_then_moved);

      int t = CLAMP (self->tensor, 0, nfn_tensor_count (s) - 1);
      size_t n = nfn_tensor_entries (s, t);
      double scale = 0;
      for (size_t e = 0; e < n; e++)
        scale = MAX (scale, MAX (fabs (out_moved.t[t][e]), fabs (out_then_moved.t[t][e])));
      const char *name = nfn_tensor_is_bias (t) ? "b" : "W";
      int i = nfn_tensor_layer (t);
      g_autofree char *left = g_strdup_printf ("NFN(σ·U), %s%d", name, i);
      g_autofree char *right = g_strdup_printf ("σ·NFN(U), %s%d", name, i);
      nfn_equivariance_view_show_matrix (self->left_heatmap, left, &out_moved, t, scale);
      nfn_equivariance_view_show_matrix (self->right_heatmap, right, &out_then_moved, t, scale);
      nfn_equivariance_view_show_matrix (self->difference_heatmap, "difference, same colour scale", &difference, t,
                                         scale);
      char number[G_ASCII_DTOSTR_BUF_SIZE];
      g_ascii_formatd (number, sizeof number, "%.2g", self->max_difference);
      g_autofree char *summary = g_strdup_printf ("max |difference| = %s over every tensor%s", number, coupling);
      gtk_label_set_text (self->summary_label, summary);
      gtk_label_set_text (
        self->explanation_label,
        self->nfn->sym == NFN_SYM_NP
          ? "NP layers commute with permutations of every neuron set (inputs and outputs too). Permuting the input network and "
            "then applying the NFN gives the same output as applying the NFN and then permuting: the difference is "
            "rounding noise."
          : "HNP layers commute with permutations of the hidden neurons, the true symmetry of the network. "
            "Permuting the input network and then applying the NFN gives the same output as applying the NFN and "
            "then permuting: the difference is rounding noise.");
      nfn_feature_free (&out_moved);
      nfn_feature_free (&out_original);
      nfn_feature_free (&out_then_moved);
      nfn_feature_free (&difference);
    }
  gtk_widget_set_sensitive (GTK_WIDGET (self->tensor_dropdown), !classifier);
  gtk_widget_set_sensitive (GTK_WIDGET (self->tensor_caption), !classifier);
  nfn_feature_free (&permuted_input);
}

static void
nfn_equivariance_view_draw_permutations (NfnEquivarianceView *self)
{
  if (!self->has_perms || self->nfn == NULL)
    return;
  nfn_symmetry sym = self->nfn->sym;
  nfn_perm_random (&self->sigma, sym, self->rng);
  /* σ′ must differ from σ on some set that has a bias, or nothing would break. */
  const nfn_space *s = &self->network->arch.space;
  for (int attempt = 0; attempt < 100; attempt++)
    {
      nfn_perm_random (&self->sigma_biases, sym, self->rng);
      gboolean differs = FALSE;
      for (int i = 1; i <= s->L && !differs; i++)
        for (int j = 0; j < s->n[i]; j++)
          differs |= self->sigma_biases.p[i][j] != self->sigma.p[i][j];
      if (differs)
        break;
    }
}

/* Store runs whose models are tried, newest first: each try reads a model file. */
#define NFN_EQUIVARIANCE_STORE_RUNS 50

/* The newest model in the store that fits the network; NULL and a message saying why not. */
static NfnEquivarianceNfn *
nfn_equivariance_view_find_trained (NfnEquivarianceView *self, char **path, char **message)
{
  if (self->store_path == NULL)
    {
      *message = g_strdup ("No experiment store to look in.");
      return NULL;
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (NfnStore) store = nfn_store_open (self->store_path, TRUE, &error);
  g_autoptr (GPtrArray) runs = store ? nfn_store_list_runs (store, NULL, &error) : NULL;
  if (runs == NULL)
    {
      *message = g_strdup (error->message);
      return NULL;
    }
  g_ptr_array_set_free_func (runs, (GDestroyNotify) nfn_run_free);
  for (guint r = 0; r < MIN (runs->len, NFN_EQUIVARIANCE_STORE_RUNS); r++)
    {
      NfnRun *run = runs->pdata[r];
      g_autoptr (GPtrArray) artifacts = nfn_store_run_artifacts (store, run->id, NULL);
      if (artifacts == NULL)
        continue;
      g_ptr_array_set_free_func (artifacts, (GDestroyNotify) nfn_artifact_free);
      for (guint a = 0; a < artifacts->len; a++)
        {
          NfnArtifact *artifact = artifacts->pdata[a];
          if (g_strcmp0 (artifact->kind, "model") != 0)
            continue;
          NfnEquivarianceNfn *nfn = nfn_equivariance_nfn_load (artifact->path, &self->network->arch.space, NULL);
          if (nfn)
            {
              *path = g_strdup (artifact->path);
              return nfn;
            }
        }
    }
  *message = g_strdup_printf ("No trained NP or HNP model for this network’s weight space in %s: train one on the "
                              "Tasks page or with `nfn train classify`.",
                              self->store_path);
  return NULL;
}

static void
nfn_equivariance_view_build_model (NfnEquivarianceView *self)
{
  g_clear_pointer (&self->nfn, nfn_equivariance_nfn_free);
  if (self->network == NULL)
    return;
  NfnEquivarianceModel kind = gtk_drop_down_get_selected (self->model_dropdown);
  g_autofree char *message = NULL;
  if (kind == NFN_EQUIVARIANCE_TRAINED)
    {
      g_autoptr (GError) error = NULL;
      if (self->trained_path)
        self->nfn = nfn_equivariance_nfn_load (self->trained_path, &self->network->arch.space, &error);
      if (self->nfn == NULL)
        {
          g_clear_pointer (&self->trained_path, g_free);
          self->nfn = nfn_equivariance_view_find_trained (self, &self->trained_path, &message);
        }
    }
  else
    self->nfn = nfn_equivariance_nfn_new (kind, &self->network->arch.space, self->model_seed);
  if (self->nfn == NULL)
    {
      self->max_difference = NAN;
      gtk_label_set_text (self->summary_label,
                          message ? message : "This NFN cannot be built for this network’s weight space.");
      gtk_label_set_text (self->explanation_label, "");
      return;
    }
  nfn_equivariance_view_draw_permutations (self);
  nfn_equivariance_view_update (self);
}

void
nfn_equivariance_view_set_network (NfnEquivarianceView *self, const NfnNetwork *network)
{
  g_return_if_fail (NFN_IS_EQUIVARIANCE_VIEW (self));
  g_clear_pointer (&self->network, nfn_network_free);
  if (self->has_perms)
    {
      nfn_perm_free (&self->sigma);
      nfn_perm_free (&self->sigma_biases);
      self->has_perms = FALSE;
    }
  if (network == NULL)
    {
      g_clear_pointer (&self->nfn, nfn_equivariance_nfn_free);
      return;
    }
  self->network = nfn_network_copy (network);
  const nfn_space *s = &network->arch.space;
  nfn_perm_alloc (&self->sigma, s);
  nfn_perm_alloc (&self->sigma_biases, s);
  self->has_perms = TRUE;

  g_autoptr (GtkStringList) names = gtk_string_list_new (NULL);
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      g_autofree char *name = g_strdup_printf ("%s%d  (%s)", nfn_tensor_is_bias (t) ? "b" : "W", nfn_tensor_layer (t),
                                               nfn_network_tensor_name (network, t));
      gtk_string_list_append (names, name);
    }
  /* Start on the largest tensor: the one where a permutation shows most. (A local: the new
   * model selects its first row, and the handler of that would overwrite self->tensor.) */
  int largest = 0;
  for (int t = 1; t < nfn_tensor_count (s); t++)
    if (nfn_tensor_entries (s, t) > nfn_tensor_entries (s, largest))
      largest = t;
  gtk_drop_down_set_model (self->tensor_dropdown, G_LIST_MODEL (names));
  gtk_drop_down_set_selected (self->tensor_dropdown, largest);
  self->tensor = largest;
  nfn_equivariance_view_build_model (self);
}

void
nfn_equivariance_view_set_store_path (NfnEquivarianceView *self, const char *path)
{
  g_return_if_fail (NFN_IS_EQUIVARIANCE_VIEW (self));
  if (g_strcmp0 (path, self->store_path) == 0)
    return;
  g_free (self->store_path);
  self->store_path = g_strdup (path);
  if (gtk_drop_down_get_selected (self->model_dropdown) == NFN_EQUIVARIANCE_TRAINED && self->trained_path == NULL)
    nfn_equivariance_view_build_model (self);
}

gboolean
nfn_equivariance_view_set_trained_model (NfnEquivarianceView *self, const char *path, GError **error)
{
  g_return_val_if_fail (NFN_IS_EQUIVARIANCE_VIEW (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  if (self->network == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED, "%s: no network to apply it to", path);
      return FALSE;
    }
  NfnEquivarianceNfn *nfn = nfn_equivariance_nfn_load (path, &self->network->arch.space, error);
  if (nfn == NULL)
    return FALSE;
  nfn_equivariance_nfn_free (nfn); /* it fits: build_model loads it again as the selected NFN */
  g_free (self->trained_path);
  self->trained_path = g_strdup (path);
  if (gtk_drop_down_get_selected (self->model_dropdown) == NFN_EQUIVARIANCE_TRAINED)
    nfn_equivariance_view_build_model (self);
  else
    gtk_drop_down_set_selected (self->model_dropdown, NFN_EQUIVARIANCE_TRAINED);
  return TRUE;
}

const char *
nfn_equivariance_view_get_trained_path (NfnEquivarianceView *self)
{
  g_return_val_if_fail (NFN_IS_EQUIVARIANCE_VIEW (self), NULL);
  return self->nfn && self->nfn->kind == NFN_EQUIVARIANCE_TRAINED ? self->trained_path : NULL;
}

void
nfn_equivariance_view_set_model (NfnEquivarianceView *self, NfnEquivarianceModel model)
{
  g_return_if_fail (NFN_IS_EQUIVARIANCE_VIEW (self));
  g_return_if_fail (model <= NFN_EQUIVARIANCE_TRAINED);
  if (gtk_drop_down_get_selected (self->model_dropdown) == (guint) model && self->nfn)
    return;
  gtk_drop_down_set_selected (self->model_dropdown, model); /* rebuilds through notify::selected */
}

NfnEquivarianceModel
nfn_equivariance_view_get_model (NfnEquivarianceView *self)
{
  g_return_val_if_fail (NFN_IS_EQUIVARIANCE_VIEW (self), 0);
  return gtk_drop_down_get_selected (self->model_dropdown);
}

void
nfn_equivariance_view_set_tensor (NfnEquivarianceView *self, int tensor)
{
  g_return_if_fail (NFN_IS_EQUIVARIANCE_VIEW (self));
  gtk_drop_down_set_selected (self->tensor_dropdown, MAX (tensor, 0));
}

void
nfn_equivariance_view_set_break_coupling (NfnEquivarianceView *self, gboolean broken)
{
  g_return_if_fail (NFN_IS_EQUIVARIANCE_VIEW (self));
  gtk_check_button_set_active (self->break_check, broken);
}

void
nfn_equivariance_view_resample_permutation (NfnEquivarianceView *self)
{
  g_return_if_fail (NFN_IS_EQUIVARIANCE_VIEW (self));
  nfn_equivariance_view_draw_permutations (self);
  nfn_equivariance_view_update (self);
}

void
nfn_equivariance_view_resample_model (NfnEquivarianceView *self)
{
  g_return_if_fail (NFN_IS_EQUIVARIANCE_VIEW (self));
  self->model_seed++;
  nfn_equivariance_view_build_model (self);
}

double
nfn_equivariance_view_get_max_difference (NfnEquivarianceView *self)
{
  g_return_val_if_fail (NFN_IS_EQUIVARIANCE_VIEW (self), NAN);
  return self->nfn ? self->max_difference : NAN;
}

NfnHeatmap *
nfn_equivariance_view_get_heatmap (NfnEquivarianceView *self, int which)
{
  g_return_val_if_fail (NFN_IS_EQUIVARIANCE_VIEW (self), NULL);
  NfnHeatmap *maps[3] = { self->left_heatmap, self->right_heatmap, self->difference_heatmap };
  g_return_val_if_fail (which >= 0 && which < 3, NULL);
  return maps[which];
}

const char *
nfn_equivariance_view_get_summary (NfnEquivarianceView *self)
{
  g_return_val_if_fail (NFN_IS_EQUIVARIANCE_VIEW (self), NULL);
  return gtk_label_get_text (self->summary_label);
}

static void
nfn_equivariance_view_model_selected (GtkDropDown *dropdown, GParamSpec *pspec, NfnEquivarianceView *self)
{
  nfn_equivariance_view_build_model (self);
}

static void
nfn_equivariance_view_tensor_selected (GtkDropDown *dropdown, GParamSpec *pspec, NfnEquivarianceView *self)
{
  guint selected = gtk_drop_down_get_selected (dropdown);
  if (selected == GTK_INVALID_LIST_POSITION)
    return;
  self->tensor = selected;
  nfn_equivariance_view_update (self);
}

static void
nfn_equivariance_view_break_toggled (GtkCheckButton *check, GParamSpec *pspec, NfnEquivarianceView *self)
{
  self->broken = gtk_check_button_get_active (check);
  nfn_equivariance_view_update (self);
}

static void
nfn_equivariance_view_dispose (GObject *object)
{
  NfnEquivarianceView *self = NFN_EQUIVARIANCE_VIEW (object);
  nfn_equivariance_view_set_network (self, NULL);
  g_clear_pointer (&self->rng, gsl_rng_free);
  g_clear_pointer (&self->store_path, g_free);
  g_clear_pointer (&self->trained_path, g_free);
  gtk_widget_dispose_template (GTK_WIDGET (self), NFN_TYPE_EQUIVARIANCE_VIEW);
  nfn_widget_unparent_children (GTK_WIDGET (self));
  G_OBJECT_CLASS (nfn_equivariance_view_parent_class)->dispose (object);
}

static void
nfn_equivariance_view_class_init (NfnEquivarianceViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = nfn_equivariance_view_dispose;

  nfn_ui_get_resource ();
  g_type_ensure (NFN_TYPE_HEATMAP);
  gtk_widget_class_set_template_from_resource (widget_class, "/org/nfn/Workbench/ui/nfn-equivariance-view.ui");
  gtk_widget_class_bind_template_child (widget_class, NfnEquivarianceView, model_dropdown);
  gtk_widget_class_bind_template_child (widget_class, NfnEquivarianceView, tensor_dropdown);
  gtk_widget_class_bind_template_child (widget_class, NfnEquivarianceView, tensor_caption);
  gtk_widget_class_bind_template_child (widget_class, NfnEquivarianceView, break_check);
  gtk_widget_class_bind_template_child (widget_class, NfnEquivarianceView, left_heatmap);
  gtk_widget_class_bind_template_child (widget_class, NfnEquivarianceView, right_heatmap);
  gtk_widget_class_bind_template_child (widget_class, NfnEquivarianceView, difference_heatmap);
  gtk_widget_class_bind_template_child (widget_class, NfnEquivarianceView, summary_label);
  gtk_widget_class_bind_template_child (widget_class, NfnEquivarianceView, explanation_label);
  gtk_widget_class_bind_template_callback (widget_class, nfn_equivariance_view_resample_permutation);
  gtk_widget_class_bind_template_callback (widget_class, nfn_equivariance_view_resample_model);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
nfn_equivariance_view_init (NfnEquivarianceView *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  NfnHeatmap *maps[3] = { self->left_heatmap, self->right_heatmap, self->difference_heatmap };
  for (int m = 0; m < 3; m++)
    nfn_heatmap_set_zoom (maps[m], 1.5);
  self->rng = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (self->rng, NFN_EQUIVARIANCE_SEED);
  self->model_seed = NFN_EQUIVARIANCE_SEED;
  gtk_drop_down_set_selected (self->model_dropdown, NFN_EQUIVARIANCE_HNP_LAYER);
  g_signal_connect (self->model_dropdown, "notify::selected", G_CALLBACK (nfn_equivariance_view_model_selected), self);
  g_signal_connect (self->tensor_dropdown, "notify::selected", G_CALLBACK (nfn_equivariance_view_tensor_selected),
                    self);
  g_signal_connect (self->break_check, "notify::active", G_CALLBACK (nfn_equivariance_view_break_toggled), self);
}
