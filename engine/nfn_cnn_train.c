/* nfn_cnn_train.c — the zoo's CNNs: trunk + head training, optimisers, accuracy, threads.
 *
 * Shape letters: N images in a batch, D pooled features, K classes, P packed floats of one
 * network, P_train of them trainable.
 *
 * The packed training layout (P floats), one allocation per kind (params, grads, m, v):
 *   [head W (D, K) | head b (K) | pad | trunk: a C = 1, B = 1 feature of the trunk's space]
 * The trunk's last tensors are its frozen identity read-out (W_L = I, b_L = 0). The head comes
 * first so that everything trainable is the one range [0, P_train) ending where the read-out
 * starts: optimisers and L2 then run over one array, and the read-out never moves.
 */
#include "nfn_cnn_train.h"
#include "nfn_layers.h"
#include "nfn_train.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

void openblas_set_num_threads (int num_threads);
int openblas_get_num_threads (void);

/* Forward-only batches for accuracy: big enough for the GEMMs, small enough to stay in cache. */
#define CNN_EVAL_BATCH 256
#define CNN_SGD_MOMENTUM 0.9
#define CNN_RMSPROP_RHO 0.9
#define CNN_RMSPROP_EPS 1e-7

static const char *const cnn_optimizer_names[NFN_CNN_N_OPTIMIZERS] = { "sgd", "adam", "rmsprop" };

const char *
nfn_cnn_optimizer_name (nfn_cnn_optimizer opt)
{
  return (unsigned) opt < NFN_CNN_N_OPTIMIZERS ? cnn_optimizer_names[opt] : "unknown";
}

int
nfn_cnn_optimizer_parse (const char *name, nfn_cnn_optimizer *out)
{
  for (int k = 0; name && k < NFN_CNN_N_OPTIMIZERS; k++)
    if (strcmp (name, cnn_optimizer_names[k]) == 0)
      {
        *out = (nfn_cnn_optimizer) k;
        return 1;
      }
  return 0;
}

const char *
nfn_cnn_init_name (nfn_cnn_init init)
{
  static const char *const names[NFN_CNN_N_INITS] = { "he", "glorot", "normal" };
  return (unsigned) init < NFN_CNN_N_INITS ? names[init] : "unknown";
}

nfn_status
nfn_cnn_hparams_check (const nfn_cnn_hparams *hp)
{
  if (!hp || (hp->act != NFN_ACT_RELU && hp->act != NFN_ACT_TANH) || (unsigned) hp->optimizer >= NFN_CNN_N_OPTIMIZERS
      || (unsigned) hp->init >= NFN_CNN_N_INITS
      || !(hp->lr > 0) || !isfinite (hp->lr) || !(hp->init_std > 0) || !isfinite (hp->init_std) || !(hp->l2 >= 0)
      || !isfinite (hp->l2) || !(hp->dropout >= 0 && hp->dropout < 1) || !(hp->train_fraction > 0 && hp->train_fraction <= 1)
      || hp->epochs < 1 || hp->batch_size < 1)
    return NFN_ERR_ARG;
  return NFN_OK;
}

nfn_status
nfn_cnn_zoo_arch (nfn_arch *arch, nfn_activation act, int in_h, int in_w)
{
  const int channels[5] = { 1, 16, 16, 16, 10 };
  return nfn_arch_cnn (arch, 4, channels, 3, 3, 2, 1, in_h, in_w, act);
}

nfn_status
nfn_cnn_check_trainable (const nfn_arch *arch)
{
  if (!arch || nfn_arch_check (arch) != NFN_OK || arch->kind != NFN_NET_CNN || arch->space.L < 2
      || arch->n_conv != arch->space.L - 1)
    return NFN_ERR_ARG;
  return NFN_OK;
}

/* ---- The packed layout ---- */

typedef struct {
  nfn_arch trunk;   /* conv layers of arch, then the identity read-out D → D */
  int D, K, L;
  size_t head;      /* floats of the head block, rounded */
  size_t P;         /* packed floats */
  size_t P_train;   /* trainable prefix */
} cnn_layout;

static void
cnn_layout_init (cnn_layout *lay, const nfn_arch *arch)
{
  const nfn_space *s = &arch->space;
  lay->L = s->L;
  lay->D = s->n[s->L - 1];
  lay->K = s->n[s->L];
  lay->trunk = *arch;
  lay->trunk.space.n[s->L] = lay->D;
  lay->head = nfn_arena_round (nfn_linear_param_count (lay->D, lay->K));
  /* a feature's blocks lie in tensor order, each rounded (nfn_feature_wrap) */
  size_t readout = 0;
  for (int t = 0; t < nfn_tensor_weight (s->L); t++)
    readout += nfn_arena_round (nfn_tensor_entries (&lay->trunk.space, t));
  lay->P = lay->head + nfn_feature_size (&lay->trunk.space, 1, 1);
  lay->P_train = lay->head + readout;
}

size_t
nfn_cnn_param_count (const nfn_arch *arch)
{
  if (nfn_cnn_check_trainable (arch) != NFN_OK)
    return 0;
  cnn_layout lay;
  cnn_layout_init (&lay, arch);
  return lay.P;
}

static void
cnn_pack (const cnn_layout *lay, const nfn_feature *weights, int net, float *params)
{
  int L = lay->L, D = lay->D, K = lay->K;
  memset (params, 0, lay->P * sizeof *params);
  const float *W = weights->t[nfn_tensor_weight (L)] + (size_t) net * K * D; /* (K, D) */
  const float *b = weights->t[nfn_tensor_bias (L)] + (size_t) net * K;
  for (int k = 0; k < K; k++)
    {
      for (int d = 0; d < D; d++)
        params[(size_t) d * K + k] = W[(size_t) k * D + d];
      params[(size_t) D * K + k] = b[k];
    }
  nfn_feature trunk;
  nfn_feature_wrap (&trunk, &lay->trunk.space, 1, 1, params + lay->head);
  for (int t = 0; t < nfn_tensor_weight (L); t++)
    {
      size_t per = nfn_tensor_entries (&weights->space, t);
      memcpy (trunk.t[t], weights->t[t] + (size_t) net * per, per * sizeof (float));
    }
  float *readout = trunk.t[nfn_tensor_weight (L)];
  for (int d = 0; d < D; d++)
    readout[(size_t) d * D + d] = 1.0f;
}

static void
cnn_unpack (const cnn_layout *lay, const float *params, nfn_feature *weights, int net)
{
  int L = lay->L, D = lay->D, K = lay->K;
  float *W = weights->t[nfn_tensor_weight (L)] + (size_t) net * K * D;
  float *b = weights->t[nfn_tensor_bias (L)] + (size_t) net * K;
  for (int k = 0; k < K; k++)
    {
      for (int d = 0; d < D; d++)
        W[(size_t) k * D + d] = params[(size_t) d * K + k];
      b[k] = params[(size_t) D * K + k];
    }
  nfn_feature trunk;
  nfn_feature_wrap (&trunk, &lay->trunk.space, 1, 1, (float *) params + lay->head);
  for (int t = 0; t < nfn_tensor_weight (L); t++)
    {
      size_t per = nfn_tensor_entries (&weights->space, t);
      memcpy (weights->t[t] + (size_t) net * per, trunk.t[t], per * sizeof (float));
    }
}

void
nfn_cnn_params_pack (const nfn_arch *arch, const nfn_feature *weights, int net, float *params)
{
  cnn_layout lay;
  cnn_layout_init (&lay, arch);
  cnn_pack (&lay, weights, net, params);
}

void
nfn_cnn_params_unpack (const nfn_arch *arch, const float *params, nfn_feature *weights, int net)
{
  cnn_layout lay;
  cnn_layout_init (&lay, arch);
  cnn_unpack (&lay, params, weights, net);
}

/* ---- One worker: the buffers a thread needs to train networks one after another ---- */

typedef struct {
  cnn_layout lay;
  int N_max;
  size_t in_size;      /* floats per image */
  float *params, *grads, *m, *v, *snapshot; /* (P) each */
  nfn_feature trunk, dtrunk;                /* views into params and grads */
  float *x;            /* (N_max, in_size) */
  int *labels;         /* (N_max) */
  float *pooled, *dropped, *mask, *dpooled, *ddropped; /* (N_max, D) each */
  float *logits, *dlogits;                  /* (N_max, K) each */
  float *cache;        /* the trunk's activation cache for N_max images */
  float *buffers;      /* the one block the float buffers above live in */
} cnn_worker;

static void
cnn_worker_free (cnn_worker *w)
{
  free (w->buffers);
  free (w->labels);
  memset (w, 0, sizeof *w);
}

static nfn_status
cnn_worker_alloc (cnn_worker *w, const nfn_arch *arch, int N_max)
{
  memset (w, 0, sizeof *w);
  cnn_layout_init (&w->lay, arch);
  w->N_max = N_max;
  w->in_size = nfn_net_input_size (arch);
  size_t P = nfn_arena_round (w->lay.P), ND = nfn_arena_round ((size_t) N_max * w->lay.D);
  size_t NK = nfn_arena_round ((size_t) N_max * w->lay.K), X = nfn_arena_round ((size_t) N_max * w->in_size);
  size_t cache = nfn_arena_round (nfn_net_cache_size (&w->lay.trunk, 1, N_max));
  size_t total = 5 * P + X + 5 * ND + 2 * NK + cache;
  w->buffers = aligned_alloc (64, total * sizeof (float));
  w->labels = malloc ((size_t) N_max * sizeof (int));
  if (!w->buffers || !w->labels)
    {
      cnn_worker_free (w);
      return NFN_ERR_NOMEM;
    }
  memset (w->buffers, 0, total * sizeof (float));
  float *p = w->buffers;
  float **slots[] = { &w->params, &w->grads, &w->m, &w->v, &w->snapshot };
  for (size_t k = 0; k < 5; k++, p += P)
    *slots[k] = p;
  w->x = p, p += X;
  float **rows[] = { &w->pooled, &w->dropped, &w->mask, &w->dpooled, &w->ddropped };
  for (size_t k = 0; k < 5; k++, p += ND)
    *rows[k] = p;
  w->logits = p, p += NK;
  w->dlogits = p, p += NK;
  w->cache = p;
  nfn_feature_wrap (&w->trunk, &w->lay.trunk.space, 1, 1, w->params + w->lay.head);
  nfn_feature_wrap (&w->dtrunk, &w->lay.trunk.space, 1, 1, w->grads + w->lay.head);
  return NFN_OK;
}

/* Loss of the N images in w->x / w->labels and its gradient into w->grads (overwritten):
 * trunk → dropout (training: masks from rng) → head → cross-entropy, plus l2/2·Σθ². */
static nfn_status
cnn_worker_loss_grad (cnn_worker *w, int N, double dropout, double l2, gsl_rng *rng, double *loss)
{
  const cnn_layout *lay = &w->lay;
  int D = lay->D, K = lay->K;
  size_t ND = (size_t) N * D;
  nfn_status status = nfn_net_forward (&lay->trunk, &w->trunk, N, w->x, 0, w->pooled, w->cache);
  if (status != NFN_OK)
    return status;
  int training = dropout > 0;
  nfn_dropout_forward (w->pooled, w->dropped, ND, (float) dropout, training, rng, w->mask);
  nfn_linear_forward (w->params, w->dropped, w->logits, N, D, K);
  double ce;
  status = nfn_cross_entropy (w->logits, w->labels, N, K, &ce, w->dlogits);
  if (status != NFN_OK)
    return status;

  memset (w->grads, 0, lay->P * sizeof (float));
  memset (w->ddropped, 0, ND * sizeof (float));
  memset (w->dpooled, 0, ND * sizeof (float));
  nfn_linear_backward (w->params, w->dropped, w->dlogits, w->ddropped, w->grads, N, D, K);
  nfn_dropout_backward (w->ddropped, w->dpooled, ND, w->mask, training);
  status = nfn_net_backward (&lay->trunk, &w->trunk, N, w->x, 0, w->cache, w->dpooled, &w->dtrunk, NULL);
  if (status != NFN_OK)
    return status;

  double squares = 0;
  for (size_t e = 0; e < lay->P_train; e++)
    {
      squares += (double) w->params[e] * w->params[e];
      w->grads[e] += (float) l2 * w->params[e];
    }
  *loss = ce + 0.5 * l2 * squares;
  return isfinite (*loss) ? NFN_OK : NFN_ERR_NONFINITE;
}

nfn_status
nfn_cnn_loss_grad (const nfn_arch *arch, const float *params, int N, const float *x, const uint8_t *labels,
                   double dropout, double l2, unsigned long dropout_seed, double *loss, float *grad)
{
  if (nfn_cnn_check_trainable (arch) != NFN_OK || !params || N < 1 || !x || !labels || !loss
      || !(dropout >= 0 && dropout < 1) || !(l2 >= 0))
    return NFN_ERR_ARG;
  cnn_worker w;
  if (cnn_worker_alloc (&w, arch, N) != NFN_OK)
    return NFN_ERR_NOMEM;
  gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
  if (!rng)
    {
      cnn_worker_free (&w);
      return NFN_ERR_NOMEM;
    }
  gsl_rng_set (rng, dropout_seed);
  memcpy (w.params, params, w.lay.P * sizeof (float));
  memcpy (w.x, x, (size_t) N * w.in_size * sizeof (float));
  for (int k = 0; k < N; k++)
    w.labels[k] = labels[k];
  nfn_status status = cnn_worker_loss_grad (&w, N, dropout, l2, rng, loss);
  if (grad && (status == NFN_OK || status == NFN_ERR_NONFINITE))
    memcpy (grad, w.grads, w.lay.P * sizeof (float));
  gsl_rng_free (rng);
  cnn_worker_free (&w);
  return status;
}

/* ---- Optimisers over the trainable range ---- */

typedef struct {
  nfn_cnn_optimizer kind;
  double lr;
  nfn_adam adam;
} cnn_optimizer;

static void
cnn_optimizer_init (cnn_optimizer *opt, const nfn_cnn_hparams *hp)
{
  opt->kind = hp->optimizer;
  opt->lr = hp->lr;
  nfn_adam_init (&opt->adam, hp->lr); /* L2 is in the gradient already: no weight decay here */
}

static void
cnn_optimizer_step (cnn_optimizer *opt, float *params, const float *grads, float *m, float *v, size_t n)
{
  switch (opt->kind)
    {
    case NFN_CNN_OPT_ADAM:
      nfn_adam_step (&opt->adam, params, grads, m, v, n);
      break;
    case NFN_CNN_OPT_RMSPROP:
      for (size_t e = 0; e < n; e++)
        {
          v[e] = (float) (CNN_RMSPROP_RHO * v[e] + (1 - CNN_RMSPROP_RHO) * grads[e] * grads[e]);
          params[e] -= (float) (opt->lr * grads[e] / (sqrt (v[e]) + CNN_RMSPROP_EPS));
        }
      break;
    case NFN_CNN_OPT_SGD:
    default:
      for (size_t e = 0; e < n; e++) /* PyTorch's heavy ball: v ← μv + g, p ← p − lr·v */
        {
          m[e] = (float) CNN_SGD_MOMENTUM * m[e] + grads[e];
          params[e] -= (float) opt->lr * m[e];
        }
      break;
    }
}

/* NaN fails the comparison too */
static int
cnn_all_bounded (const float *x, size_t n)
{
  for (size_t e = 0; e < n; e++)
    if (!(fabsf (x[e]) <= NFN_CNN_DIVERGED_WEIGHT))
      return 0;
  return 1;
}

/* ---- Accuracy ---- */

nfn_status
nfn_cnn_accuracy (const nfn_arch *arch, const nfn_feature *weights, int net, const nfn_cnn_data *data,
                  const int *index, int count, double *accuracy)
{
  if (!arch || !weights || !data || !accuracy || count < 0 || net < 0 || net >= weights->B
      || (count > 0 && (!data->images || !data->labels)))
    return NFN_ERR_ARG;
  *accuracy = 0;
  if (count == 0)
    return NFN_OK;
  size_t in = nfn_net_input_size (arch), K = nfn_net_output_size (arch);
  int batch = count < CNN_EVAL_BATCH ? count : CNN_EVAL_BATCH;
  nfn_feature one;
  nfn_status status = nfn_feature_alloc (&one, &arch->space, 1, 1);
  if (status != NFN_OK)
    return status;
  float *x = malloc ((size_t) batch * in * sizeof (float));
  float *logits = malloc ((size_t) batch * K * sizeof (float));
  int *labels = malloc ((size_t) batch * sizeof (int));
  if (!x || !logits || !labels)
    status = NFN_ERR_NOMEM;
  else
    nfn_feature_get_network (weights, net, &one);
  double correct = 0;
  for (int first = 0; status == NFN_OK && first < count; first += batch)
    {
      int n = count - first < batch ? count - first : batch;
      for (int k = 0; k < n; k++)
        {
          int image = index ? index[first + k] : first + k;
          if (image < 0 || image >= data->count)
            {
              status = NFN_ERR_ARG;
              break;
            }
          memcpy (x + (size_t) k * in, data->images + (size_t) image * in, in * sizeof (float));
          labels[k] = data->labels[image];
        }
      if (status == NFN_OK)
        status = nfn_net_forward (arch, &one, n, x, 0, logits, NULL);
      if (status == NFN_OK)
        correct += nfn_accuracy (logits, labels, n, (int) K) * n;
    }
  if (status == NFN_OK)
    *accuracy = correct / count;
  free (x);
  free (logits);
  free (labels);
  nfn_feature_free (&one);
  return status;
}

/* ---- Training one network ---- */

/* Draws the init into network `net` of weights: W_i ~ N(0, σ_i²) by the scheme, biases 0. */
static void
cnn_init_network (const nfn_arch *arch, const nfn_cnn_hparams *hp, gsl_rng *rng, nfn_feature *weights, int net)
{
  const nfn_space *s = &arch->space;
  for (int t = 0; t < nfn_tensor_count (s); t++)
    {
      int i = nfn_tensor_layer (t);
      double fan_in = (double) s->n[i - 1] * s->f[i], fan_out = (double) s->n[i] * s->f[i];
      double std = hp->init == NFN_CNN_INIT_HE       ? sqrt (2 / fan_in)
                   : hp->init == NFN_CNN_INIT_GLOROT ? sqrt (2 / (fan_in + fan_out))
                                                     : hp->init_std;
      size_t per = nfn_tensor_entries (s, t);
      float *x = weights->t[t] + (size_t) net * per;
      for (size_t e = 0; e < per; e++)
        x[e] = nfn_tensor_is_bias (t) ? 0.0f : (float) gsl_ran_gaussian (rng, std);
    }
}

long
nfn_cnn_total_steps (const nfn_cnn_hparams *hp, int train_count)
{
  long subset = lround (hp->train_fraction * train_count);
  subset = subset < 1 ? 1 : subset;
  return (long) hp->epochs * ((subset + hp->batch_size - 1) / hp->batch_size);
}

void
nfn_cnn_checkpoint_steps (long total_steps, int K, long *steps)
{
  for (int c = 0; c < K; c++)
    {
      int halvings = K - 1 - c;
      /* beyond 62 halvings every step is ⌈T / huge⌉ = 1 (T ≥ 1) */
      long divisor = halvings < 62 ? 1L << halvings : 0;
      steps[c] = divisor ? (total_steps + divisor - 1) / divisor : (total_steps > 0);
    }
}

/* The training state a checkpoint reads: what has happened so far in the run. */
typedef struct {
  const nfn_arch *arch;
  const nfn_cnn_data *train, *test;
  const int *order;    /* (train->count) the subset first: train accuracy's sample */
  int sample;          /* images of it measured */
  long steps_per_epoch;
} cnn_run;

/* Saves the worker's current parameters (params, or snapshot when they are unbounded or the
 * run diverged) as network `net` of weights and measures it into result. */
static nfn_status
cnn_run_save (const cnn_run *run, cnn_worker *w, const float *params, nfn_feature *weights, int net,
              nfn_cnn_result *result)
{
  cnn_unpack (&w->lay, params, weights, net);
  nfn_status status = nfn_cnn_accuracy (run->arch, weights, net, run->train, run->order, run->sample,
                                        &result->train_accuracy);
  if (status == NFN_OK && run->test)
    status = nfn_cnn_accuracy (run->arch, weights, net, run->test, NULL, run->test->count, &result->test_accuracy);
  return status;
}

/* A checkpoint before the run's end: the state after `step` steps, with epochs_done and the
 * mean loss of the epoch so far (the last whole epoch's when none of this one ran). */
static nfn_status
cnn_run_checkpoint (const cnn_run *run, cnn_worker *w, const nfn_cnn_result *so_far, long step, double loss_sum,
                    int batches, nfn_feature *weights, int net, nfn_cnn_result *result)
{
  *result = *so_far;
  result->final_loss = batches ? loss_sum / batches : so_far->final_loss;
  result->step = step;
  result->epoch = (double) step / run->steps_per_epoch;
  int sound = !so_far->diverged && cnn_all_bounded (w->params, w->lay.P_train);
  result->diverged = !sound;
  return cnn_run_save (run, w, sound ? w->params : w->snapshot, weights, net, result);
}

/* Trains one run from `seed`, saving its K checkpoints into networks net … net+K−1. */
static nfn_status
cnn_worker_train (cnn_worker *w, const nfn_arch *arch, const nfn_cnn_hparams *hp, unsigned long seed,
                  const nfn_cnn_data *train, const nfn_cnn_data *test, int K, nfn_feature *weights, int net,
                  nfn_cnn_result *results /* (K) */, volatile int *cancel, gsl_rng *rng)
{
  nfn_cnn_result so_far = { 0 };
  memset (results, 0, (size_t) K * sizeof *results);
  w->lay.trunk.act = arch->act;
  gsl_rng_set (rng, seed);
  cnn_init_network (arch, hp, rng, weights, net + K - 1);
  cnn_pack (&w->lay, weights, net + K - 1, w->params);
  memcpy (w->snapshot, w->params, w->lay.P * sizeof (float));
  memset (w->m, 0, w->lay.P * sizeof (float));
  memset (w->v, 0, w->lay.P * sizeof (float));

  int subset = (int) lround (hp->train_fraction * train->count);
  subset = subset < 1 ? 1 : subset;
  long total = nfn_cnn_total_steps (hp, train->count);
  long *planned = malloc ((size_t) K * sizeof *planned);
  int *order = malloc ((size_t) train->count * sizeof (int));
  if (!order || !planned)
    {
      free (order);
      free (planned);
      return NFN_ERR_NOMEM;
    }
  nfn_cnn_checkpoint_steps (total, K, planned);
  for (int k = 0; k < train->count; k++)
    order[k] = k;
  /* the subset is the first `subset` of a random order; its own order is reshuffled per epoch */
  gsl_ran_shuffle (rng, order, (size_t) train->count, sizeof (int));
  int *epoch_order = malloc ((size_t) subset * sizeof (int));
  if (!epoch_order)
    {
      free (order);
      free (planned);
      return NFN_ERR_NOMEM;
    }
  memcpy (epoch_order, order, (size_t) subset * sizeof (int));
  cnn_run run = { .arch = arch, .train = train, .test = test, .order = order,
                  .sample = subset < NFN_CNN_TRAIN_ACCURACY_SAMPLE ? subset : NFN_CNN_TRAIN_ACCURACY_SAMPLE,
                  .steps_per_epoch = (subset + hp->batch_size - 1) / hp->batch_size };

  cnn_optimizer opt;
  cnn_optimizer_init (&opt, hp);
  nfn_status status = NFN_OK;
  long step = 0;
  int saved = 0; /* checkpoints saved; those planned at step T are saved after the loop */
  for (int epoch = 0; epoch < hp->epochs && status == NFN_OK && !so_far.diverged; epoch++)
    {
      gsl_ran_shuffle (rng, epoch_order, (size_t) subset, sizeof (int));
      double loss_sum = 0;
      int batches = 0;
      for (int first = 0; first < subset; first += hp->batch_size)
        {
          if (cancel && *cancel)
            {
              status = NFN_ERR_CANCELLED;
              break;
            }
          int n = subset - first < hp->batch_size ? subset - first : hp->batch_size;
          for (int k = 0; k < n; k++)
            {
              int image = epoch_order[first + k];
              memcpy (w->x + (size_t) k * w->in_size, train->images + (size_t) image * w->in_size,
                      w->in_size * sizeof (float));
              w->labels[k] = train->labels[image];
            }
          double loss;
          status = cnn_worker_loss_grad (w, n, hp->dropout, hp->l2, rng, &loss);
          if (status == NFN_ERR_NONFINITE)
            {
              status = NFN_OK;
              so_far.diverged = 1;
              break;
            }
          if (status != NFN_OK)
            break;
          cnn_optimizer_step (&opt, w->params, w->grads, w->m, w->v, w->lay.P_train);
          loss_sum += loss;
          batches++;
          step++;
          /* one at an epoch's end waits for that epoch's divergence check below */
          for (; status == NFN_OK && saved < K && planned[saved] == step && planned[saved] < total
                 && first + hp->batch_size < subset; saved++)
            status = cnn_run_checkpoint (&run, w, &so_far, step, loss_sum, batches, weights, net + saved, &results[saved]);
          if (status != NFN_OK)
            break;
        }
      if (status != NFN_OK)
        break;
      if (!so_far.diverged && !cnn_all_bounded (w->params, w->lay.P_train))
        so_far.diverged = 1;
      if (so_far.diverged)
        memcpy (w->params, w->snapshot, w->lay.P * sizeof (float));
      else
        {
          memcpy (w->snapshot, w->params, w->lay.P * sizeof (float));
          so_far.epochs_done = epoch + 1;
          so_far.final_loss = batches ? loss_sum / batches : 0;
          for (; status == NFN_OK && saved < K && planned[saved] <= step && planned[saved] < total; saved++)
            status = cnn_run_checkpoint (&run, w, &so_far, step, 0, 0, weights, net + saved, &results[saved]);
        }
    }
  /* the run's end (or where it stopped): every checkpoint left holds the final weights */
  for (int c = saved; status == NFN_OK && c < K; c++)
    {
      results[c] = so_far;
      results[c].step = planned[c];
      results[c].epoch = (double) planned[c] / run.steps_per_epoch;
      status = cnn_run_save (&run, w, w->params, weights, net + c, &results[c]);
    }
  free (order);
  free (epoch_order);
  free (planned);
  return status;
}

static nfn_status
cnn_check_call (const nfn_arch *arch, const nfn_cnn_data *train, const nfn_cnn_data *test, const nfn_feature *weights)
{
  if (nfn_cnn_check_trainable (arch) != NFN_OK || !train || !train->images || !train->labels || train->count < 1
      || (test && test->count > 0 && (!test->images || !test->labels)) || !weights)
    return NFN_ERR_ARG;
  if (weights->C != 1 || weights->B < 1 || !nfn_space_equal (&weights->space, &arch->space))
    return NFN_ERR_SHAPE;
  return NFN_OK;
}

nfn_status
nfn_cnn_train (const nfn_arch *arch, const nfn_cnn_hparams *hp, unsigned long seed, const nfn_cnn_data *train,
               const nfn_cnn_data *test, nfn_feature *weights, int net, nfn_cnn_result *result, volatile int *cancel)
{
  return nfn_cnn_train_checkpoints (arch, hp, seed, train, test, 1, weights, net, result, cancel);
}

nfn_status
nfn_cnn_train_checkpoints (const nfn_arch *arch, const nfn_cnn_hparams *hp, unsigned long seed,
                           const nfn_cnn_data *train, const nfn_cnn_data *test, int K, nfn_feature *weights, int net,
                           nfn_cnn_result *results, volatile int *cancel)
{
  nfn_status status = cnn_check_call (arch, train, test, weights);
  if (status != NFN_OK)
    return status;
  if (nfn_cnn_hparams_check (hp) != NFN_OK || !results || K < 1 || net < 0 || net > weights->B - K)
    return NFN_ERR_ARG;
  nfn_arch mine = *arch;
  mine.act = hp->act;
  cnn_worker w;
  gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
  if (!rng)
    return NFN_ERR_NOMEM;
  if ((status = cnn_worker_alloc (&w, &mine, hp->batch_size)) == NFN_OK)
    {
      status = cnn_worker_train (&w, &mine, hp, seed, train, test, K, weights, net, results, cancel, rng);
      cnn_worker_free (&w);
    }
  gsl_rng_free (rng);
  return status;
}

/* ---- Many networks ---- */

nfn_status
nfn_cnn_train_many (const nfn_arch *arch, const nfn_cnn_hparams *hp, const unsigned long *seeds,
                    const nfn_cnn_data *train, const nfn_cnn_data *test, const nfn_cnn_train_options *options,
                    nfn_feature *weights, nfn_cnn_result *results)
{
  nfn_status status = cnn_check_call (arch, train, test, weights);
  if (status != NFN_OK)
    return status;
  const int K = options && options->checkpoints > 1 ? options->checkpoints : 1;
  if (!hp || !seeds || !options || options->threads < 1 || !results || options->checkpoints < 0 || weights->B % K != 0)
    return NFN_ERR_ARG;
  const int B = weights->B / K; /* runs */
  int batch_max = 1;
  for (int b = 0; b < B; b++)
    {
      if (nfn_cnn_hparams_check (&hp[b]) != NFN_OK)
        return NFN_ERR_ARG;
      batch_max = hp[b].batch_size > batch_max ? hp[b].batch_size : batch_max;
    }
  int done = 0;
  /* every worker calls BLAS: one BLAS thread each, so threads never exceed the cores asked */
  int blas_threads = openblas_get_num_threads ();
  openblas_set_num_threads (1);

#pragma omp parallel num_threads (options->threads) shared (status, done)
  {
    cnn_worker w = { 0 };
    nfn_arch mine = *arch;
    gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
    nfn_status own = rng ? cnn_worker_alloc (&w, arch, batch_max) : NFN_ERR_NOMEM;
    if (own != NFN_OK)
      {
#pragma omp critical (nfn_cnn_status)
        status = status == NFN_OK ? own : status;
      }
#pragma omp for schedule (dynamic, 1)
    for (int b = 0; b < B; b++)
      {
        nfn_status current;
#pragma omp critical (nfn_cnn_status)
        current = status;
        if (own != NFN_OK || current != NFN_OK)
          continue;
        mine.act = hp[b].act;
        own = cnn_worker_train (&w, &mine, &hp[b], seeds[b], train, test, K, weights, b * K, &results[(size_t) b * K],
                                options->cancel, rng);
#pragma omp critical (nfn_cnn_status)
        {
          if (own != NFN_OK)
            status = status == NFN_OK ? own : status;
          else if (options->progress)
            options->progress (++done * K, B * K, options->progress_data);
        }
      }
    cnn_worker_free (&w);
    if (rng)
      gsl_rng_free (rng);
  }
  openblas_set_num_threads (blas_threads);
  return status;
}
