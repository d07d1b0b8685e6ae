/* nfn_model.c — assembling layers into an NFN classifier/regressor with four arenas.
 * Shape letters: B networks, C channels, D pooled width, K outputs (see nfn_model.h). */
#include "nfn_model.h"
#include "nfn_layers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nfn_model {
  nfn_model_config cfg;
  gsl_rng *rng;

  /* params arena: [trainable (n_trainable) | fixed buffers (Fourier matrix)] */
  nfn_arena params, grads, adam_m, adam_v;
  size_t n_trainable;
  /* forward activations, and the gradients backward flows through (a few rotating encoder
   * buffers rather than one per activation: only three are alive at any time) */
  nfn_arena acts, dacts;
  float *scratch; /* eq-layer scratch (inside acts) */

  /* encoder */
  int in_channels[NFN_MODEL_MAX_DEPTH + 1]; /* channels entering layer k (k = depth: the output layer) */
  nfn_eq_plan *plans;                       /* depth (+1) plans (NP/HNP) */
  size_t layer_param[NFN_MODEL_MAX_DEPTH + 1];
  size_t fourier_matrix; /* offset of the fixed (C_in = 1, m) matrix */
  int fourier_channels, io_channels;

  /* acts offsets; each feature sized for max_batch. ReLU runs in place (its backward only needs
   * the sign, which the output keeps), so post == pre unless GELU; drop == post unless dropout. */
  size_t act_input; /* the last input (C = 1), kept for backward */
  size_t act_fourier, act_io;
  size_t act_pre[NFN_MODEL_MAX_DEPTH], act_post[NFN_MODEL_MAX_DEPTH], act_drop[NFN_MODEL_MAX_DEPTH];
  size_t mask_drop[NFN_MODEL_MAX_DEPTH];
  size_t act_pool;
  int pool_dim;
  /* pool_stats: the encoder's pool and the StatNN features, before they are joined row by row */
  size_t act_nfpool, act_stats, grad_nfpool, grad_stats;
  int nfpool_dim, stats_dim;
  /* head: widths[0] = pool_dim, widths[n_head + 1] = n_out */
  int widths[NFN_MODEL_MAX_HEAD + 2];
  size_t head_param[NFN_MODEL_MAX_HEAD + 1];
  size_t act_lin[NFN_MODEL_MAX_HEAD + 1], act_hpost[NFN_MODEL_MAX_HEAD], act_hdrop[NFN_MODEL_MAX_HEAD];
  size_t mask_hdrop[NFN_MODEL_MAX_HEAD];
  size_t act_dlogits_loss; /* loss-gradient buffer for train_step (B, K) */
  /* WEIGHTS output: the last layer's feature, then after LearnedScale (same offset when none) */
  size_t act_final, act_out, scale_param, grad_final;

  /* dacts offsets: the head's stages mirror acts; the encoder rotates through grad_ring[3]
   * (each a (B, C = channels) feature); input-side gradients only with cfg.input_grad */
  size_t grad_pool, grad_lin[NFN_MODEL_MAX_HEAD + 1], grad_hpost[NFN_MODEL_MAX_HEAD], grad_hdrop[NFN_MODEL_MAX_HEAD];
  size_t grad_ring[3];
  size_t grad_input, grad_fourier, grad_io;

  /* the last forward */
  int last_B;
  int last_training;
  nfn_feature input_grad;
  nfn_feature output; /* WEIGHTS: a view of the last output */
};

static const char *const kind_names[] = { "np", "hnp", "pointwise", "mlp", "stat" };

const char *
nfn_model_kind_name (nfn_model_kind kind)
{
  return (unsigned) kind < 5 ? kind_names[kind] : "?";
}

int
nfn_model_kind_parse (const char *name, nfn_model_kind *out)
{
  for (int k = 0; k < 5; k++)
    if (strcmp (name, kind_names[k]) == 0)
      {
        *out = (nfn_model_kind) k;
        return 1;
      }
  return 0;
}

void
nfn_model_config_default (nfn_model_config *cfg, nfn_model_kind kind, const nfn_space *space, int n_out)
{
  memset (cfg, 0, sizeof *cfg);
  cfg->kind = kind;
  cfg->space = *space;
  cfg->max_batch = 32;
  cfg->fourier_m = 128;
  cfg->fourier_scale = 3.0;
  cfg->depth = 3;
  cfg->channels = 128;
  cfg->n_head = 2;
  cfg->head_widths[0] = 1000;
  cfg->head_widths[1] = 1000;
  cfg->n_out = n_out;
}

int
nfn_model_kind_has_encoder (nfn_model_kind kind)
{
  return kind == NFN_MODEL_NP || kind == NFN_MODEL_HNP || kind == NFN_MODEL_POINTWISE;
}

static int
model_has_encoder (const nfn_model_config *cfg)
{
  return nfn_model_kind_has_encoder (cfg->kind);
}

/* Every model has a head except the equivariant ones, whose last layer is an NF layer. */
static int
model_has_head (const nfn_model_config *cfg)
{
  return cfg->output == NFN_MODEL_OUT_LOGITS || !model_has_encoder (cfg);
}

/* NF layers of an encoder model: depth, plus the output layer of a WEIGHTS model. */
static int
model_nf_layers (const nfn_model_config *cfg)
{
  return cfg->depth + (cfg->output == NFN_MODEL_OUT_WEIGHTS);
}

int
nfn_model_layer_channels (const nfn_model_config *cfg, int k)
{
  return k >= 0 && k < NFN_MODEL_MAX_DEPTH && cfg->layer_channels[k] > 0 ? cfg->layer_channels[k] : cfg->channels;
}

/* Output channels of NF layer k, the output layer of a WEIGHTS model (k = depth) included. */
static int
model_layer_out (const nfn_model_config *cfg, int k)
{
  return k < cfg->depth ? nfn_model_layer_channels (cfg, k) : cfg->out_channels;
}

static nfn_symmetry
model_symmetry (const nfn_model_config *cfg)
{
  return cfg->kind == NFN_MODEL_HNP ? NFN_SYM_HNP : NFN_SYM_NP;
}

nfn_status
nfn_model_config_check (const nfn_model_config *cfg)
{
  if (nfn_space_check (&cfg->space) != NFN_OK)
    return NFN_ERR_SHAPE;
  if ((unsigned) cfg->kind > NFN_MODEL_STAT || cfg->max_batch < 1)
    return NFN_ERR_ARG;
  if (cfg->output == NFN_MODEL_OUT_LOGITS && cfg->n_out < 1)
    return NFN_ERR_ARG;
  if (cfg->output == NFN_MODEL_OUT_WEIGHTS
      && (cfg->out_channels < 1 || cfg->kind == NFN_MODEL_STAT || !(cfg->out_scale >= 0)))
    return NFN_ERR_ARG;
  if ((unsigned) cfg->output > NFN_MODEL_OUT_WEIGHTS)
    return NFN_ERR_ARG;
  if (cfg->pool_stats && (!model_has_encoder (cfg) || cfg->output != NFN_MODEL_OUT_LOGITS))
    return NFN_ERR_ARG;
  if (cfg->n_head < 0 || cfg->n_head > NFN_MODEL_MAX_HEAD)
    return NFN_ERR_ARG;
  for (int j = 0; j < cfg->n_head; j++)
    if (cfg->head_widths[j] < 1)
      return NFN_ERR_ARG;
  if ((unsigned) cfg->activation > NFN_MODEL_GELU)
    return NFN_ERR_ARG;
  if (cfg->head_dropout < 0 || cfg->head_dropout >= 1 || cfg->channel_dropout < 0 || cfg->channel_dropout >= 1)
    return NFN_ERR_ARG;
  if (model_has_encoder (cfg))
    {
      if (cfg->depth < 1 || cfg->depth > NFN_MODEL_MAX_DEPTH || cfg->channels < 1)
        return NFN_ERR_ARG;
      for (int k = 0; k < NFN_MODEL_MAX_DEPTH; k++)
        if (cfg->layer_channels[k] < 0)
          return NFN_ERR_ARG;
      if (cfg->fourier_m < 0 || cfg->io_bands < 0 || (cfg->io_bands > 0 && cfg->kind == NFN_MODEL_HNP))
        return NFN_ERR_ARG;
    }
  return NFN_OK;
}

/* Lays out every arena from the config, then allocates each once. */
static nfn_status
model_layout (nfn_model *m)
{
  const nfn_model_config *cfg = &m->cfg;
  const nfn_space *s = &cfg->space;
  int B = cfg->max_batch;
  size_t p = 0, a = 0, g = 0;
  size_t scratch = 0;
#define TAKE(counter, n) (counter += nfn_arena_round (n), counter - nfn_arena_round (n))

  m->act_input = TAKE (a, nfn_feature_size (s, B, 1));
  if (cfg->input_grad)
    m->grad_input = TAKE (g, nfn_feature_size (s, B, 1));
  int C = 1;
  if (model_has_encoder (cfg))
    {
      nfn_symmetry sym = model_symmetry (cfg);
      if (cfg->fourier_m > 0)
        {
          C = 2 * cfg->fourier_m;
          m->fourier_channels = C;
          m->act_fourier = TAKE (a, nfn_feature_size (s, B, C));
          if (cfg->input_grad)
            m->grad_fourier = TAKE (g, nfn_feature_size (s, B, C));
        }
      if (cfg->io_bands > 0)
        {
          C = nfn_io_encoding_channels (C, cfg->io_bands);
          m->io_channels = C;
          m->act_io = TAKE (a, nfn_feature_size (s, B, C));
          if (cfg->input_grad)
            m->grad_io = TAKE (g, nfn_feature_size (s, B, C));
        }
      size_t ring = 0; /* the widest hidden feature: the backward ring holds any of them */
      for (int k = 0; k < model_nf_layers (cfg); k++)
        {
          int cout = model_layer_out (cfg, k);
          m->in_channels[k] = C;
          size_t count;
          if (cfg->kind == NFN_MODEL_POINTWISE)
            count = nfn_pointwise_param_count (s, C, cout);
          else
            {
              nfn_status st = nfn_eq_plan_init (&m->plans[k], s, sym, C, cout);
              if (st != NFN_OK)
                return st;
              count = nfn_eq_param_count (&m->plans[k]);
              size_t need = nfn_eq_scratch_size (&m->plans[k], B);
              if (need > scratch)
                scratch = need;
            }
          m->layer_param[k] = TAKE (p, count);
          if (k == cfg->depth)
            break; /* a WEIGHTS model's output layer: its feature (act_final) is laid out below */
          size_t fs = nfn_feature_size (s, B, cout);
          ring = fs > ring ? fs : ring;
          C = cout;
          m->act_pre[k] = TAKE (a, fs);
          m->act_post[k] = cfg->activation == NFN_MODEL_RELU ? m->act_pre[k] : TAKE (a, fs);
          m->act_drop[k] = cfg->channel_dropout > 0 ? TAKE (a, fs) : m->act_post[k];
          m->mask_drop[k] = TAKE (a, (size_t) B * C);
        }
      for (int r = 0; r < 3; r++)
        m->grad_ring[r] = TAKE (g, ring);
      m->pool_dim = cfg->output == NFN_MODEL_OUT_LOGITS ? (int) nfn_pool_dim (s, sym, C) : 0;
      if (cfg->pool_stats)
        {
          m->nfpool_dim = m->pool_dim;
          m->stats_dim = (int) nfn_statnn_dim (s, 1);
          m->pool_dim += m->stats_dim;
          m->act_nfpool = TAKE (a, (size_t) B * m->nfpool_dim);
          m->act_stats = TAKE (a, (size_t) B * m->stats_dim);
          m->grad_nfpool = TAKE (g, (size_t) B * m->nfpool_dim);
          m->grad_stats = TAKE (g, (size_t) B * m->stats_dim);
        }
    }
  else if (cfg->kind == NFN_MODEL_MLP)
    m->pool_dim = (int) nfn_flatten_dim (s, 1);
  else
    m->pool_dim = (int) nfn_statnn_dim (s, 1);
  m->act_pool = TAKE (a, (size_t) B * m->pool_dim);
  m->grad_pool = TAKE (g, (size_t) B * m->pool_dim);

  m->widths[0] = m->pool_dim;
  for (int j = 0; j < cfg->n_head; j++)
    m->widths[j + 1] = cfg->head_widths[j];
  m->widths[cfg->n_head + 1] = cfg->output == NFN_MODEL_OUT_LOGITS ? cfg->n_out
                                                                   : (int) nfn_flatten_dim (s, cfg->out_channels);
  for (int j = 0; model_has_head (cfg) && j <= cfg->n_head; j++)
    {
      size_t n = (size_t) B * m->widths[j + 1];
      m->head_param[j] = TAKE (p, nfn_linear_param_count (m->widths[j], m->widths[j + 1]));
      m->act_lin[j] = TAKE (a, n);
      m->grad_lin[j] = TAKE (g, n);
      if (j < cfg->n_head)
        {
          m->act_hpost[j] = TAKE (a, n);
          m->act_hdrop[j] = TAKE (a, n);
          m->mask_hdrop[j] = TAKE (a, n);
          m->grad_hpost[j] = TAKE (g, n);
          m->grad_hdrop[j] = TAKE (g, n);
        }
    }
  m->act_dlogits_loss = TAKE (a, (size_t) B * m->widths[cfg->n_head + 1]);
  if (cfg->output == NFN_MODEL_OUT_WEIGHTS)
    {
      size_t os = nfn_feature_size (s, B, cfg->out_channels);
      m->act_final = TAKE (a, os);
      m->grad_final = TAKE (g, os);
      m->act_out = m->act_final;
      if (cfg->out_scale > 0)
        {
          m->act_out = TAKE (a, os);
          m->scale_param = TAKE (p, nfn_learned_scale_param_count (s));
        }
    }
  m->n_trainable = p;
  if (model_has_encoder (cfg) && cfg->fourier_m > 0)
    m->fourier_matrix = TAKE (p, (size_t) cfg->fourier_m);
  size_t scratch_at = TAKE (a, scratch);
#undef TAKE

  nfn_status st;
  if ((st = nfn_arena_alloc (&m->params, p)) != NFN_OK || (st = nfn_arena_alloc (&m->grads, p)) != NFN_OK
      || (st = nfn_arena_alloc (&m->adam_m, p)) != NFN_OK || (st = nfn_arena_alloc (&m->adam_v, p)) != NFN_OK
      || (st = nfn_arena_alloc (&m->acts, a)) != NFN_OK || (st = nfn_arena_alloc (&m->dacts, g)) != NFN_OK)
    return st;
  m->params.used = m->grads.used = m->adam_m.used = m->adam_v.used = p;
  m->acts.used = a;
  m->dacts.used = g;
  m->scratch = m->acts.base + scratch_at;
  return NFN_OK;
}

static void
model_init_params (nfn_model *m)
{
  const nfn_model_config *cfg = &m->cfg;
  float *P = m->params.base;
  if (model_has_encoder (cfg))
    {
      if (cfg->fourier_m > 0)
        nfn_fourier_init (P + m->fourier_matrix, 1, cfg->fourier_m, cfg->fourier_scale, m->rng);
      for (int k = 0; k < model_nf_layers (cfg); k++)
        {
          int cout = model_layer_out (cfg, k);
          if (cfg->kind == NFN_MODEL_POINTWISE)
            nfn_pointwise_init_params (&cfg->space, m->in_channels[k], cout, P + m->layer_param[k], m->rng);
          else
            nfn_eq_init_params (&m->plans[k], P + m->layer_param[k], m->rng);
        }
    }
  for (int j = 0; model_has_head (cfg) && j <= cfg->n_head; j++)
    nfn_linear_init_params (m->widths[j], m->widths[j + 1], P + m->head_param[j], m->rng);
  if (cfg->output == NFN_MODEL_OUT_WEIGHTS && cfg->out_scale > 0)
    nfn_learned_scale_init_params (&cfg->space, P + m->scale_param, cfg->out_scale);
}

nfn_status
nfn_model_new (const nfn_model_config *cfg, unsigned long seed, nfn_model **out)
{
  *out = NULL;
  nfn_status st = nfn_model_config_check (cfg);
  if (st != NFN_OK)
    return st;
  nfn_model *m = calloc (1, sizeof *m);
  if (!m)
    return NFN_ERR_NOMEM;
  m->cfg = *cfg;
  m->plans = calloc (NFN_MODEL_MAX_DEPTH + 1, sizeof *m->plans);
  m->rng = gsl_rng_alloc (gsl_rng_mt19937);
  if (!m->plans || !m->rng)
    {
      nfn_model_free (m);
      return NFN_ERR_NOMEM;
    }
  gsl_rng_set (m->rng, seed);
  if ((st = model_layout (m)) != NFN_OK)
    {
      nfn_model_free (m);
      return st;
    }
  model_init_params (m);
  *out = m;
  return NFN_OK;
}

void
nfn_model_free (nfn_model *m)
{
  if (!m)
    return;
  nfn_arena_free (&m->params);
  nfn_arena_free (&m->grads);
  nfn_arena_free (&m->adam_m);
  nfn_arena_free (&m->adam_v);
  nfn_arena_free (&m->acts);
  nfn_arena_free (&m->dacts);
  if (m->rng)
    gsl_rng_free (m->rng);
  free (m->plans);
  free (m);
}

const nfn_model_config *
nfn_model_get_config (const nfn_model *m)
{
  return &m->cfg;
}

float *
nfn_model_params (nfn_model *m)
{
  return m->params.base;
}

float *
nfn_model_grads (nfn_model *m)
{
  return m->grads.base;
}

size_t
nfn_model_param_count (const nfn_model *m)
{
  return m->n_trainable;
}

size_t
nfn_model_param_count_all (const nfn_model *m)
{
  return m->params.used;
}

float *
nfn_model_adam_m (nfn_model *m)
{
  return m->adam_m.base;
}

float *
nfn_model_adam_v (nfn_model *m)
{
  return m->adam_v.base;
}

gsl_rng *
nfn_model_rng (nfn_model *m)
{
  return m->rng;
}

size_t
nfn_model_memory_bytes (const nfn_model *m)
{
  return sizeof (float) * (4 * m->params.capacity + m->acts.capacity + m->dacts.capacity);
}

static void
activation_forward (const nfn_model *m, const float *in, float *out, size_t n)
{
  if (m->cfg.activation == NFN_MODEL_GELU)
    nfn_gelu_forward (in, out, n);
  else
    nfn_relu_forward (in, out, n);
}

static void
activation_backward (const nfn_model *m, const float *in, const float *dout, float *din, size_t n)
{
  if (m->cfg.activation == NFN_MODEL_GELU)
    nfn_gelu_backward (in, dout, din, n);
  else
    nfn_relu_backward (in, dout, din, n);
}

/* The feature stored at `offset` of an activation-shaped arena, for the current batch. */
static void
stage_feature (nfn_feature *f, const nfn_model *m, const nfn_arena *arena, size_t offset, int B, int C)
{
  nfn_feature_wrap (f, &m->cfg.space, B, C, arena->base + offset);
}

/* NF layer k: eq or pointwise, C_in = in_channels[k], C_out = model_layer_out (k). */
static nfn_status
nf_layer_forward (nfn_model *m, int k, const nfn_feature *in, nfn_feature *out)
{
  const float *P = m->params.base + m->layer_param[k];
  if (m->cfg.kind == NFN_MODEL_POINTWISE)
    {
      nfn_pointwise_forward (P, in, out);
      return NFN_OK;
    }
  return nfn_eq_forward (&m->plans[k], P, in, out, m->scratch);
}

static nfn_status
nf_layer_backward (nfn_model *m, int k, const nfn_feature *in, const nfn_feature *dout, nfn_feature *din)
{
  const float *P = m->params.base + m->layer_param[k];
  float *G = m->grads.base + m->layer_param[k];
  if (m->cfg.kind == NFN_MODEL_POINTWISE)
    {
      nfn_pointwise_backward (P, in, dout, din, G);
      return NFN_OK;
    }
  return nfn_eq_backward (&m->plans[k], P, in, dout, din, G, m->scratch);
}

/* pool_stats: rows (B, Da) and (B, Db) side by side as (B, Da + Db) */
static void
pool_join (const float *a, int da, const float *b, int db, float *out, int B)
{
  for (int r = 0; r < B; r++)
    {
      memcpy (out + (size_t) r * (da + db), a + (size_t) r * da, (size_t) da * sizeof (float));
      memcpy (out + (size_t) r * (da + db) + da, b + (size_t) r * db, (size_t) db * sizeof (float));
    }
}

/* …and back: the gradient of the joined rows split into its two parts */
static void
pool_split (const float *in, float *a, int da, float *b, int db, int B)
{
  for (int r = 0; r < B; r++)
    {
      memcpy (a + (size_t) r * da, in + (size_t) r * (da + db), (size_t) da * sizeof (float));
      memcpy (b + (size_t) r * db, in + (size_t) r * (da + db) + da, (size_t) db * sizeof (float));
    }
}

/* Everything forward computes; *head_out is the head's last output (logits, or a WEIGHTS
 * mlp's flat weights), NULL for equivariant models. */
static nfn_status
model_forward (nfn_model *m, const nfn_feature *input, int training, const float **head_out)
{
  const nfn_model_config *cfg = &m->cfg;
  if (input->C != 1 || input->B < 1 || input->B > cfg->max_batch || !nfn_space_equal (&input->space, &cfg->space))
    return NFN_ERR_SHAPE;
  int B = input->B;
  const float *P = m->params.base;
  float *A = m->acts.base;
  m->last_B = B;
  m->last_training = training;
  float *pooled = A + m->act_pool;
  nfn_feature x;
  stage_feature (&x, m, &m->acts, m->act_input, B, 1);
  for (int t = 0; t < nfn_tensor_count (&cfg->space); t++)
    memcpy (x.t[t], input->t[t], (size_t) B * nfn_tensor_entries (&cfg->space, t) * sizeof (float));

  if (model_has_encoder (cfg))
    {
      nfn_feature cur = x, next;
      if (cfg->fourier_m > 0)
        {
          stage_feature (&next, m, &m->acts, m->act_fourier, B, m->fourier_channels);
          nfn_fourier_forward (P + m->fourier_matrix, cfg->fourier_m, &cur, &next);
          cur = next;
        }
      if (cfg->io_bands > 0)
        {
          stage_feature (&next, m, &m->acts, m->act_io, B, m->io_channels);
          nfn_io_encoding_forward (cfg->io_bands, &cur, &next);
          cur = next;
        }
      for (int k = 0; k < cfg->depth; k++)
        {
          nfn_feature pre, post, drop;
          int cout = nfn_model_layer_channels (cfg, k);
          stage_feature (&pre, m, &m->acts, m->act_pre[k], B, cout);
          stage_feature (&post, m, &m->acts, m->act_post[k], B, cout);
          stage_feature (&drop, m, &m->acts, m->act_drop[k], B, cout);
          nfn_status st = nf_layer_forward (m, k, &cur, &pre);
          if (st != NFN_OK)
            return st;
          activation_forward (m, pre.data, post.data, post.size);
          if (cfg->channel_dropout > 0)
            nfn_channel_dropout_forward (&post, &drop, cfg->channel_dropout, training, m->rng, A + m->mask_drop[k]);
          cur = drop;
        }
      if (cfg->output == NFN_MODEL_OUT_LOGITS && cfg->pool_stats)
        {
          nfn_pool_forward (model_symmetry (cfg), &cur, A + m->act_nfpool);
          nfn_status st = nfn_statnn_forward (&x, A + m->act_stats);
          if (st != NFN_OK)
            return st;
          pool_join (A + m->act_nfpool, m->nfpool_dim, A + m->act_stats, m->stats_dim, pooled, B);
        }
      else if (cfg->output == NFN_MODEL_OUT_LOGITS)
        nfn_pool_forward (model_symmetry (cfg), &cur, pooled);
      else
        {
          nfn_feature final;
          stage_feature (&final, m, &m->acts, m->act_final, B, cfg->out_channels);
          nfn_status st = nf_layer_forward (m, cfg->depth, &cur, &final);
          if (st != NFN_OK)
            return st;
        }
    }
  else if (cfg->kind == NFN_MODEL_MLP)
    nfn_flatten_forward (&x, pooled);
  else
    {
      nfn_status st = nfn_statnn_forward (&x, pooled);
      if (st != NFN_OK)
        return st;
    }

  const float *h = model_has_head (cfg) ? pooled : NULL;
  for (int j = 0; model_has_head (cfg) && j <= cfg->n_head; j++)
    {
      float *lin = A + m->act_lin[j];
      nfn_linear_forward (P + m->head_param[j], h, lin, B, m->widths[j], m->widths[j + 1]);
      h = lin;
      if (j < cfg->n_head)
        {
          size_t n = (size_t) B * m->widths[j + 1];
          float *post = A + m->act_hpost[j], *drop = A + m->act_hdrop[j];
          activation_forward (m, lin, post, n);
          nfn_dropout_forward (post, drop, n, cfg->head_dropout, training && cfg->head_dropout > 0, m->rng,
                               A + m->mask_hdrop[j]);
          h = drop;
        }
    }
  *head_out = h;
  if (cfg->output == NFN_MODEL_OUT_WEIGHTS)
    {
      nfn_feature final, out;
      stage_feature (&final, m, &m->acts, m->act_final, B, cfg->out_channels);
      if (h)
        {
          /* the mlp's flat output, one row per network, scattered into a feature */
          memset (final.data, 0, final.size * sizeof (float));
          nfn_flatten_backward (h, &final);
        }
      if (cfg->out_scale > 0)
        {
          stage_feature (&out, m, &m->acts, m->act_out, B, cfg->out_channels);
          nfn_learned_scale_forward (P + m->scale_param, &final, &out);
        }
    }
  return NFN_OK;
}

nfn_status
nfn_model_forward (nfn_model *m, const nfn_feature *input, int training, const float **logits)
{
  if (m->cfg.output != NFN_MODEL_OUT_LOGITS)
    return NFN_ERR_ARG;
  return model_forward (m, input, training, logits);
}

nfn_status
nfn_model_forward_weights (nfn_model *m, const nfn_feature *input, int training, const nfn_feature **out)
{
  if (m->cfg.output != NFN_MODEL_OUT_WEIGHTS)
    return NFN_ERR_ARG;
  const float *flat;
  nfn_status st = model_forward (m, input, training, &flat);
  if (st != NFN_OK)
    return st;
  stage_feature (&m->output, m, &m->acts, m->act_out, input->B, m->cfg.out_channels);
  *out = &m->output;
  return NFN_OK;
}

/* The activation's backward reads its input: the pre-activation, except for in-place ReLU,
 * whose output has the same sign. */
static const float *
activation_input (const nfn_model *m, int k)
{
  return m->acts.base + (m->cfg.activation == NFN_MODEL_RELU ? m->act_post[k] : m->act_pre[k]);
}

/* A zeroed gradient buffer (backward passes accumulate). */
static void
zeroed_grad (nfn_feature *f, nfn_model *m, size_t offset, int B, int C)
{
  stage_feature (f, m, &m->dacts, offset, B, C);
  memset (f->data, 0, f->size * sizeof (float));
}

/* Backward from d(head output) (LOGITS, or a WEIGHTS mlp: dlogits) or d(output feature)
 * (WEIGHTS: dfeature). */
static nfn_status
model_backward (nfn_model *m, const float *dlogits, const nfn_feature *dfeature)
{
  const nfn_model_config *cfg = &m->cfg;
  int B = m->last_B;
  if (B < 1)
    return NFN_ERR_ARG;
  const float *P = m->params.base;
  float *G = m->grads.base;
  const float *A = m->acts.base;
  float *dA = m->dacts.base;
  int training = m->last_training;
  nfn_arena_zero (&m->grads);

  nfn_feature dfinal;
  if (dfeature)
    {
      /* through the LearnedScale to d(last layer's output) */
      zeroed_grad (&dfinal, m, m->grad_final, B, cfg->out_channels);
      if (cfg->out_scale > 0)
        {
          nfn_feature final;
          stage_feature (&final, m, &m->acts, m->act_final, B, cfg->out_channels);
          nfn_learned_scale_backward (P + m->scale_param, &final, dfeature, &dfinal, G + m->scale_param);
        }
      else
        for (size_t e = 0; e < dfinal.size; e++)
          dfinal.data[e] += dfeature->data[e];
      if (!model_has_encoder (cfg))
        {
          /* the mlp's head produced every weight as one flat row per network */
          float *flat = m->acts.base + m->act_dlogits_loss;
          nfn_flatten_forward (&dfinal, flat);
          dlogits = flat;
        }
    }

  /* head, last layer first; dh is the gradient of the current layer's output */
  const float *dh = dlogits;
  for (int j = cfg->n_head; model_has_head (cfg) && j >= 0; j--)
    {
      if (j < cfg->n_head)
        {
          size_t n = (size_t) B * m->widths[j + 1];
          memset (dA + m->grad_hpost[j], 0, n * sizeof (float));
          memset (dA + m->grad_lin[j], 0, n * sizeof (float));
          nfn_dropout_backward (dh, dA + m->grad_hpost[j], n, A + m->mask_hdrop[j], training && cfg->head_dropout > 0);
          activation_backward (m, A + m->act_lin[j], dA + m->grad_hpost[j], dA + m->grad_lin[j], n);
          dh = dA + m->grad_lin[j];
        }
      const float *in = j == 0 ? A + m->act_pool : A + m->act_hdrop[j - 1];
      float *din = j == 0 ? dA + m->grad_pool : dA + m->grad_hdrop[j - 1];
      memset (din, 0, (size_t) B * m->widths[j] * sizeof (float));
      nfn_linear_backward (P + m->head_param[j], in, dh, din, G + m->head_param[j], B, m->widths[j], m->widths[j + 1]);
      dh = din;
    }

  nfn_feature x;
  stage_feature (&x, m, &m->acts, m->act_input, B, 1);
  memset (&m->input_grad, 0, sizeof m->input_grad);
  if (cfg->input_grad)
    zeroed_grad (&m->input_grad, m, m->grad_input, B, 1);
  const float *dpool = dA + m->grad_pool;
  if (cfg->pool_stats)
    {
      pool_split (dpool, dA + m->grad_nfpool, m->nfpool_dim, dA + m->grad_stats, m->stats_dim, B);
      dpool = dA + m->grad_nfpool;
    }
  if (cfg->kind == NFN_MODEL_MLP)
    {
      if (cfg->input_grad)
        nfn_flatten_backward (dpool, &m->input_grad);
      return NFN_OK;
    }
  if (cfg->kind == NFN_MODEL_STAT)
    return cfg->input_grad ? nfn_statnn_backward (&x, dpool, &m->input_grad) : NFN_OK;

  /* the feature entering layer 0, and where its gradient goes when wanted */
  nfn_feature first = x, fourier, io, dfourier = { 0 }, dio = { 0 };
  nfn_feature *dfirst = cfg->input_grad ? &m->input_grad : NULL;
  if (cfg->fourier_m > 0)
    {
      stage_feature (&fourier, m, &m->acts, m->act_fourier, B, m->fourier_channels);
      first = fourier;
      if (cfg->input_grad)
        {
          zeroed_grad (&dfourier, m, m->grad_fourier, B, m->fourier_channels);
          dfirst = &dfourier;
        }
    }
  if (cfg->io_bands > 0)
    {
      stage_feature (&io, m, &m->acts, m->act_io, B, m->io_channels);
      first = io;
      if (cfg->input_grad)
        {
          zeroed_grad (&dio, m, m->grad_io, B, m->io_channels);
          dfirst = &dio;
        }
    }

  /* encoder: ring[0] holds d(output of layer k); ring[1] d(post) when dropout; ring[2] d(pre) */
  int C = nfn_model_layer_channels (cfg, cfg->depth - 1);
  nfn_feature dout;
  zeroed_grad (&dout, m, m->grad_ring[0], B, C);
  if (cfg->output == NFN_MODEL_OUT_LOGITS)
    nfn_pool_backward (model_symmetry (cfg), dpool, &dout);
  else
    {
      nfn_feature last;
      stage_feature (&last, m, &m->acts, m->act_drop[cfg->depth - 1], B, C);
      nfn_status st = nf_layer_backward (m, cfg->depth, &last, &dfinal, &dout);
      if (st != NFN_OK)
        return st;
    }
  for (int k = cfg->depth - 1; k >= 0; k--)
    {
      nfn_feature dpost = dout, dpre, in, din;
      C = nfn_model_layer_channels (cfg, k);
      if (cfg->channel_dropout > 0)
        {
          zeroed_grad (&dpost, m, m->grad_ring[1], B, C);
          nfn_channel_dropout_backward (&dout, &dpost, A + m->mask_drop[k], training);
        }
      zeroed_grad (&dpre, m, m->grad_ring[2], B, C);
      activation_backward (m, activation_input (m, k), dpost.data, dpre.data, dpre.size);
      nfn_feature *din_or_null = NULL;
      if (k > 0)
        {
          stage_feature (&in, m, &m->acts, m->act_drop[k - 1], B, m->in_channels[k]);
          zeroed_grad (&din, m, m->grad_ring[0], B, m->in_channels[k]); /* d(output of layer k-1) */
          din_or_null = &din;
        }
      else
        {
          in = first;
          din_or_null = dfirst;
        }
      nfn_status st = nf_layer_backward (m, k, &in, &dpre, din_or_null);
      if (st != NFN_OK)
        return st;
      if (k > 0)
        dout = din;
    }
  if (!cfg->input_grad)
    return NFN_OK;
  if (cfg->io_bands > 0)
    nfn_io_encoding_backward (cfg->io_bands, &dio, cfg->fourier_m > 0 ? &dfourier : &m->input_grad);
  if (cfg->fourier_m > 0)
    nfn_fourier_backward (P + m->fourier_matrix, cfg->fourier_m, &x, &dfourier, &m->input_grad);
  /* the StatNN features' share of d(input), added to the encoder's */
  return cfg->pool_stats ? nfn_statnn_backward (&x, dA + m->grad_stats, &m->input_grad) : NFN_OK;
}

nfn_status
nfn_model_backward (nfn_model *m, const float *dlogits)
{
  if (m->cfg.output != NFN_MODEL_OUT_LOGITS)
    return NFN_ERR_ARG;
  return model_backward (m, dlogits, NULL);
}

nfn_status
nfn_model_backward_weights (nfn_model *m, const nfn_feature *dout)
{
  if (m->cfg.output != NFN_MODEL_OUT_WEIGHTS || dout->B != m->last_B || dout->C != m->cfg.out_channels)
    return NFN_ERR_ARG;
  return model_backward (m, NULL, dout);
}

const nfn_feature *
nfn_model_input_grad (const nfn_model *m)
{
  return &m->input_grad;
}

void
nfn_model_adam_step (nfn_model *m, nfn_adam *opt)
{
  /* only the trainable prefix: fixed buffers (the Fourier matrix) never move */
  nfn_adam_step (opt, m->params.base, m->grads.base, m->adam_m.base, m->adam_v.base, m->n_trainable);
}

nfn_status
nfn_model_train_step_ce (nfn_model *m, nfn_adam *opt, const nfn_feature *input, const int *labels, double *loss)
{
  const float *logits;
  nfn_status st = nfn_model_forward (m, input, 1, &logits);
  if (st != NFN_OK)
    return st;
  float *dlogits = m->acts.base + m->act_dlogits_loss;
  if ((st = nfn_cross_entropy (logits, labels, input->B, m->cfg.n_out, loss, dlogits)) != NFN_OK)
    return st;
  if ((st = nfn_model_backward (m, dlogits)) != NFN_OK)
    return st;
  nfn_model_adam_step (m, opt);
  return NFN_OK;
}

/* ---- named parameter blocks (for model files) ---- */

typedef struct {
  nfn_model_param_block *blocks;
  int max, n;
} model_block_list;

static void
model_block_add (model_block_list *list, const char *name, size_t offset, int rank, int rows, int cols, int transposed)
{
  if (list->n < list->max)
    {
      nfn_model_param_block *b = &list->blocks[list->n];
      size_t len = strlen (name);
      len = len < sizeof b->name ? len : sizeof b->name - 1; /* names are short; never overrun */
      memcpy (b->name, name, len);
      b->name[len] = '\0';
      b->offset = offset;
      b->rank = rank;
      b->shape[0] = rows;
      b->shape[1] = rank == 2 ? cols : 0;
      b->transposed = transposed;
    }
  list->n++;
}

static void
model_tensor_name (char *out, size_t size, int t)
{
  snprintf (out, size, "%c%d", nfn_tensor_is_bias (t) ? 'b' : 'W', nfn_tensor_layer (t));
}

/* One NF layer's blocks: class matrices and biases of an equivariant plan, or pointwise mixes. */
static void
model_layer_blocks (const nfn_model *m, int k, const char *prefix, model_block_list *list)
{
  const nfn_space *s = &m->cfg.space;
  size_t base = m->layer_param[k];
  char tensor[16], name[128]; /* longer than a block name: model_block_add truncates */
  if (m->cfg.kind == NFN_MODEL_POINTWISE)
    {
      int cin = m->in_channels[k], cout = model_layer_out (&m->cfg, k);
      size_t offset = base;
      for (int t = 0; t < nfn_tensor_count (s); t++)
        {
          int f = nfn_tensor_is_bias (t) ? 1 : s->f[nfn_tensor_layer (t)];
          model_tensor_name (tensor, sizeof tensor, t);
          snprintf (name, sizeof name, "%s.%s.weight", prefix, tensor);
          model_block_add (list, name, offset, 2, cin * f, cout * f, 0);
          offset += (size_t) cin * f * cout * f;
          snprintf (name, sizeof name, "%s.%s.bias", prefix, tensor);
          model_block_add (list, name, offset, 1, cout * f, 0, 0);
          offset += (size_t) cout * f;
        }
      return;
    }
  const nfn_eq_plan *plan = &m->plans[k];
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      const nfn_eq_output *o = &plan->out[t];
      const nfn_tensor_view *v = &plan->views[t];
      int full = (1 << v->n_axes) - 1, cols = plan->cout * v->fold;
      model_tensor_name (tensor, sizeof tensor, t);
      for (int c = full; c >= 0; c--)
        {
          char class_name[16];
          if (c == full)
            snprintf (class_name, sizeof class_name, "full");
          else if (c == 0)
            snprintf (class_name, sizeof class_name, "const");
          else
            snprintf (class_name, sizeof class_name, "along%d", v->set[c == 1 ? 0 : 1]);
          if (o->class_rows[c] > 0)
            {
              snprintf (name, sizeof name, "%s.%s.%s.weight", prefix, tensor, class_name);
              model_block_add (list, name, base + o->class_weight_offset[c], 2, o->class_rows[c], cols, 0);
            }
          snprintf (name, sizeof name, "%s.%s.%s.bias", prefix, tensor, class_name);
          model_block_add (list, name, base + o->class_bias_offset[c], 1, cols, 0, 0);
        }
    }
}

int
nfn_model_param_blocks (const nfn_model *m, nfn_model_param_block *blocks, int max)
{
  const nfn_model_config *cfg = &m->cfg;
  model_block_list list = { blocks, blocks ? max : 0, 0 };
  char name[32]; /* "encoder.K", "head.J.weight": room for any int */
  if (model_has_encoder (cfg))
    for (int k = 0; k < model_nf_layers (cfg); k++)
      {
        if (k < cfg->depth)
          snprintf (name, sizeof name, "encoder.%d", k);
        else
          snprintf (name, sizeof name, "output");
        model_layer_blocks (m, k, name, &list);
      }
  for (int j = 0; model_has_head (cfg) && j <= cfg->n_head; j++)
    {
      int din = m->widths[j], dout = m->widths[j + 1];
      snprintf (name, sizeof name, "head.%d.weight", j);
      model_block_add (&list, name, m->head_param[j], 2, dout, din, 1);
      snprintf (name, sizeof name, "head.%d.bias", j);
      model_block_add (&list, name, m->head_param[j] + (size_t) din * dout, 1, dout, 0, 0);
    }
  if (cfg->output == NFN_MODEL_OUT_WEIGHTS && cfg->out_scale > 0)
    model_block_add (&list, "output.scale", m->scale_param, 1, (int) nfn_learned_scale_param_count (&cfg->space), 0, 0);
  if (model_has_encoder (cfg) && cfg->fourier_m > 0)
    model_block_add (&list, "fourier.matrix", m->fourier_matrix, 1, cfg->fourier_m, 0, 0);
  return list.n;
}
