/* test-train.c — losses, Adam/AdamW with warmup, and metrics, each against an independent
 * computation: finite differences for gradients, the textbook (unshifted) formulas for the
 * losses, the Adam recursion written out in double, and an O(n²) pair count for Kendall's τ-b.
 *
 * Shape letters: N samples, K classes, P parameters, n values.
 */
#include <math.h>
#include <string.h>

#include "nfn_train.h"
#include "testutil.h"

/* ---- losses ---- */

/* The textbook log-softmax, without the max shift (inputs here are moderate). */
static double
reference_log_softmax (const float *row /* (K) */, int K, int k)
{
  double sum = 0;
  for (int j = 0; j < K; j++)
    sum += exp ((double) row[j]);
  return (double) row[k] - log (sum);
}

static void
test_cross_entropy_matches_log_softmax (void)
{
  enum { N = 7, K = 5 };
  gsl_rng *rng = tu_rng ();
  float logits[N * K], grad[N * K], probs[N * K];
  int labels[N];
  tu_fill_normal (logits, N * K, 3.0, rng);
  for (int i = 0; i < N; i++)
    labels[i] = (int) gsl_rng_uniform_int (rng, K);

  double loss;
  g_assert_cmpint (nfn_cross_entropy (logits, labels, N, K, &loss, grad), ==, NFN_OK);
  nfn_softmax (logits, probs, N, K);

  double expected = 0, worst_prob = 0, worst_grad = 0;
  for (int i = 0; i < N; i++)
    {
      const float *row = logits + i * K;
      expected -= reference_log_softmax (row, K, labels[i]) / N;
      for (int k = 0; k < K; k++)
        {
          double p = exp (reference_log_softmax (row, K, k));
          worst_prob = fmax (worst_prob, fabs (probs[i * K + k] - p));
          worst_grad = fmax (worst_grad, fabs (grad[i * K + k] - (p - (k == labels[i])) / N));
        }
    }
  g_test_message ("CE %.17g vs log-softmax %.17g; softmax err %.3g; grad err %.3g", loss, expected,
                  worst_prob, worst_grad);
  g_assert_cmpfloat_with_epsilon (loss, expected, 1e-12 * fmax (1, fabs (expected)));
  g_assert_cmpfloat (worst_prob, <=, 1e-7);
  g_assert_cmpfloat (worst_grad, <=, 1e-7 / N);
  gsl_rng_free (rng);
}

static void
test_cross_entropy_huge_logits (void)
{
  /* exp(1e4) overflows even in double; the shifted form must not notice */
  const float logits[2 * 3] = { 1e4f, 9999.0f, -1e4f, -1e4f, 1e4f, 0.0f };
  const int labels[2] = { 0, 0 };
  float grad[2 * 3];
  double loss;
  g_assert_cmpint (nfn_cross_entropy (logits, labels, 2, 3, &loss, grad), ==, NFN_OK);
  /* row 0: log(1 + e^-1 + e^-2e4); row 1: 2e4 + log(1 + e^-1e4 + e^-2e4) */
  double expected = (log1p (exp (-1.0)) + 2e4) / 2;
  g_assert_true (isfinite (loss));
  g_assert_cmpfloat_with_epsilon (loss, expected, 1e-12 * expected);
  for (int e = 0; e < 6; e++)
    g_assert_true (isfinite (grad[e]));
  g_assert_cmpfloat_with_epsilon (grad[3], -0.5, 1e-7);
  g_assert_cmpfloat_with_epsilon (grad[4], 0.5, 1e-7);

  float probs[2 * 3];
  nfn_softmax (logits, probs, 2, 3);
  g_assert_cmpfloat_with_epsilon (probs[0], 1 / (1 + exp (-1.0)), 1e-7);
  g_assert_cmpfloat_with_epsilon (probs[4], 1.0, 1e-7);
}

static void
test_loss_bad_arguments (void)
{
  const float logits[2 * 3] = { 0 };
  float nonfinite[2 * 3] = { 0 };
  double loss;
  g_assert_cmpint (nfn_cross_entropy (logits, (const int[]) { 0, 3 }, 2, 3, &loss, NULL), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_cross_entropy (logits, (const int[]) { -1, 0 }, 2, 3, &loss, NULL), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_cross_entropy (logits, (const int[]) { 0, 0 }, 0, 3, &loss, NULL), ==, NFN_ERR_ARG);
  nonfinite[4] = NAN;
  g_assert_cmpint (nfn_cross_entropy (nonfinite, (const int[]) { 0, 0 }, 2, 3, &loss, NULL), ==,
                   NFN_ERR_NONFINITE);
  nonfinite[4] = INFINITY;
  g_assert_cmpint (nfn_cross_entropy (nonfinite, (const int[]) { 0, 0 }, 2, 3, &loss, NULL), ==,
                   NFN_ERR_NONFINITE);
  g_assert_cmpint (nfn_bce_with_logits (logits, (const float[]) { 0.5f, 1.5f }, 2, &loss, NULL), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_bce_with_logits (logits, (const float[]) { NAN, 0 }, 2, &loss, NULL), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_mse (logits, logits, 0, &loss, NULL), ==, NFN_ERR_ARG);
}

static void
test_bce_matches_reference (void)
{
  enum { N = 9 };
  gsl_rng *rng = tu_rng ();
  float logits[N], targets[N], grad[N];
  tu_fill_normal (logits, N, 3.0, rng);
  tu_fill_uniform (targets, N, 0, 1, rng);
  targets[0] = 0;
  targets[1] = 1;
  double loss, expected = 0;
  g_assert_cmpint (nfn_bce_with_logits (logits, targets, N, &loss, grad), ==, NFN_OK);
  for (int i = 0; i < N; i++)
    {
      double s = 1 / (1 + exp (-(double) logits[i])), y = targets[i];
      expected -= (y * log (s) + (1 - y) * log (1 - s)) / N;
      g_assert_cmpfloat_with_epsilon (grad[i], (s - y) / N, 1e-7 / N);
    }
  g_test_message ("BCE %.17g vs textbook %.17g", loss, expected);
  g_assert_cmpfloat_with_epsilon (loss, expected, 1e-12 * fmax (1, expected));

  /* the textbook form gives log(0) here; the stable form gives the exact answer */
  const float huge[3] = { 1e4f, -1e4f, 1e4f };
  const float huge_targets[3] = { 0, 1, 1 };
  g_assert_cmpint (nfn_bce_with_logits (huge, huge_targets, 3, &loss, grad), ==, NFN_OK);
  g_assert_cmpfloat_with_epsilon (loss, 2e4 / 3, 1e-9);
  g_assert_cmpfloat_with_epsilon (grad[0], 1.0 / 3, 1e-7);
  g_assert_cmpfloat_with_epsilon (grad[1], -1.0 / 3, 1e-7);
  g_assert_cmpfloat_with_epsilon (grad[2], 0.0, 1e-7);
  gsl_rng_free (rng);
}

static void
test_mse_value (void)
{
  const float pred[4] = { 1, 2, 3, 4 }, target[4] = { 1, 0, 4, 4 };
  float grad[4];
  double loss;
  g_assert_cmpint (nfn_mse (pred, target, 4, &loss, grad), ==, NFN_OK);
  g_assert_cmpfloat_with_epsilon (loss, (4.0 + 1.0) / 4, 1e-15);
  g_assert_cmpfloat_with_epsilon (grad[1], 2.0 * 2 / 4, 1e-7);
  g_assert_cmpfloat_with_epsilon (grad[2], 2.0 * -1 / 4, 1e-7);
  g_assert_cmpfloat (grad[0], ==, 0);
}

typedef struct {
  const float *input, *targets;
  const int *labels;
  int N, K;
} loss_case;

static double
loss_case_cross_entropy (void *ctx)
{
  loss_case *c = ctx;
  double loss;
  g_assert_cmpint (nfn_cross_entropy (c->input, c->labels, c->N, c->K, &loss, NULL), ==, NFN_OK);
  return loss;
}

static double
loss_case_bce (void *ctx)
{
  loss_case *c = ctx;
  double loss;
  g_assert_cmpint (nfn_bce_with_logits (c->input, c->targets, c->N, &loss, NULL), ==, NFN_OK);
  return loss;
}

static double
loss_case_mse (void *ctx)
{
  loss_case *c = ctx;
  double loss;
  g_assert_cmpint (nfn_mse (c->input, c->targets, (size_t) c->N, &loss, NULL), ==, NFN_OK);
  return loss;
}

/* The losses compute in double, so a small step leaves only O(h²) truncation error. */
#define LOSS_FD_STEP 1e-3
#define LOSS_FD_TOLERANCE 1e-4

static void
test_loss_gradients (void)
{
  enum { N = 6, K = 5 };
  gsl_rng *rng = tu_rng ();
  float logits[N * K], grad[N * K], targets[N * K];
  int labels[N];
  double loss, err;

  tu_fill_normal (logits, N * K, 2.0, rng);
  for (int i = 0; i < N; i++)
    labels[i] = (int) gsl_rng_uniform_int (rng, K);
  loss_case ce = { .input = logits, .labels = labels, .N = N, .K = K };
  g_assert_cmpint (nfn_cross_entropy (logits, labels, N, K, &loss, grad), ==, NFN_OK);
  err = tu_grad_check (loss_case_cross_entropy, &ce, logits, grad, N * K, 0, LOSS_FD_STEP, 1e-8, rng);
  g_test_message ("cross-entropy worst relative gradient error %.3g", err);
  g_assert_cmpfloat (err, <=, LOSS_FD_TOLERANCE);

  tu_fill_normal (logits, N, 3.0, rng);
  tu_fill_uniform (targets, N, 0, 1, rng);
  loss_case bce = { .input = logits, .targets = targets, .N = N };
  g_assert_cmpint (nfn_bce_with_logits (logits, targets, N, &loss, grad), ==, NFN_OK);
  err = tu_grad_check (loss_case_bce, &bce, logits, grad, N, 0, LOSS_FD_STEP, 1e-8, rng);
  g_test_message ("BCE worst relative gradient error %.3g", err);
  g_assert_cmpfloat (err, <=, LOSS_FD_TOLERANCE);

  tu_fill_normal (logits, N * K, 1.0, rng);
  tu_fill_normal (targets, N * K, 1.0, rng);
  loss_case mse = { .input = logits, .targets = targets, .N = N * K };
  g_assert_cmpint (nfn_mse (logits, targets, N * K, &loss, grad), ==, NFN_OK);
  err = tu_grad_check (loss_case_mse, &mse, logits, grad, N * K, 0, LOSS_FD_STEP, 1e-8, rng);
  g_test_message ("MSE worst relative gradient error %.3g", err);
  g_assert_cmpfloat (err, <=, LOSS_FD_TOLERANCE);
  gsl_rng_free (rng);
}

/* ---- Adam / AdamW ---- */

/* The PyTorch Adam/AdamW recursion for one scalar, written out in double. */
typedef struct {
  double p, m, v;
} adam_reference;

static void
adam_reference_step (adam_reference *r, double g, long t, const nfn_adam *opt)
{
  double lr = opt->lr;
  if (opt->warmup_steps > 0 && t < opt->warmup_steps)
    lr *= (double) t / opt->warmup_steps;
  if (opt->decoupled)
    r->p -= lr * opt->weight_decay * r->p;
  else
    g += opt->weight_decay * r->p;
  r->m = opt->beta1 * r->m + (1 - opt->beta1) * g;
  r->v = opt->beta2 * r->v + (1 - opt->beta2) * g * g;
  double m_hat = r->m / (1 - pow (opt->beta1, t));
  double v_hat = r->v / (1 - pow (opt->beta2, t));
  r->p -= lr * m_hat / (sqrt (v_hat) + opt->eps);
}

static void
test_adam_hand_computed (void)
{
  /* f(p) = p²/2 from p = 1, lr 0.1, PyTorch defaults, worked by hand:
   * step 1: m̂ = g, v̂ = g², p = 1 − 0.1·1/(1 + 1e-8)
   * step 2: g = 0.9, m = 0.18, v = 0.001809, m̂ = 0.18/0.19, v̂ = 0.001809/0.001999 */
  nfn_adam opt;
  nfn_adam_init (&opt, 0.1);
  float p = 1, g, m = 0, v = 0;
  g = p;
  nfn_adam_step (&opt, &p, &g, &m, &v, 1);
  g_assert_cmpfloat_with_epsilon (p, 0.900000001, 1e-7);
  g = p;
  nfn_adam_step (&opt, &p, &g, &m, &v, 1);
  double expected = 0.9 - 0.1 * (0.18 / 0.19) / (sqrt (0.001809 / 0.001999) + 1e-8);
  g_test_message ("step 2: %.9g, by hand %.9g", p, expected);
  g_assert_cmpfloat_with_epsilon (p, expected, 2e-7);
  g_assert_cmpint (opt.step, ==, 2);
}

static void
test_adam_reference_sequence (void)
{
  /* coordinates of f(p) = Σ a_e (p_e − c_e)² / 2, with every knob away from its default so a
   * misplaced eps, bias correction, decay or warmup shows */
  enum { P = 4, STEPS = 8 };
  const double a[P] = { 1.0, 3.0, 0.2, 10.0 }, c[P] = { 0.5, -1.0, 2.0, 0.0 };
  const float start[P] = { 2.0f, 1.0f, -1.0f, 0.3f };

  for (int decoupled = 0; decoupled <= 1; decoupled++)
    {
      nfn_adam opt;
      nfn_adam_init (&opt, 0.05);
      opt.beta1 = 0.8;
      opt.beta2 = 0.95;
      opt.eps = 0.01;
      opt.weight_decay = 0.3;
      opt.decoupled = decoupled;
      opt.warmup_steps = 3;

      float p[P], g[P], m[P] = { 0 }, v[P] = { 0 };
      adam_reference ref[P];
      for (int e = 0; e < P; e++)
        {
          p[e] = start[e];
          ref[e] = (adam_reference) { start[e], 0, 0 };
        }
      double worst = 0;
      for (long t = 1; t <= STEPS; t++)
        {
          for (int e = 0; e < P; e++)
            g[e] = (float) (a[e] * (p[e] - c[e]));
          nfn_adam_step (&opt, p, g, m, v, P);
          for (int e = 0; e < P; e++)
            {
              adam_reference_step (&ref[e], a[e] * (ref[e].p - c[e]), t, &opt);
              worst = fmax (worst, fabs (p[e] - ref[e].p));
            }
        }
      g_test_message ("%s: worst |p - reference| over %d steps %.3g", decoupled ? "AdamW" : "Adam",
                      STEPS, worst);
      g_assert_cmpfloat (worst, <=, 1e-5);
    }
}

/* With a constant gradient m̂ = g and v̂ = g² at every step, so each step moves p by exactly
 * lr_t·g/(|g| + eps): the bias corrections and the warmup show without any recursion. */
static void
test_adam_warmup_is_linear (void)
{
  enum { P = 3, WARMUP = 4, STEPS = 7 };
  const float g[P] = { 0.5f, -2.0f, 1e-3f };
  nfn_adam opt;
  nfn_adam_init (&opt, 0.01);
  opt.warmup_steps = WARMUP;
  for (long t = 1; t <= STEPS; t++)
    g_assert_cmpfloat_with_epsilon (nfn_adam_lr (&opt, t), 0.01 * fmin (1.0, (double) t / WARMUP), 1e-15);

  float p[P] = { 0 }, m[P] = { 0 }, v[P] = { 0 };
  double worst = 0;
  for (long t = 1; t <= STEPS; t++)
    {
      float before[P];
      memcpy (before, p, sizeof p);
      nfn_adam_step (&opt, p, g, m, v, P);
      double lr_t = 0.01 * fmin (1.0, (double) t / WARMUP);
      for (int e = 0; e < P; e++)
        {
          double moved = (double) p[e] - before[e];
          double expected = -lr_t * g[e] / (fabs (g[e]) + opt.eps);
          worst = fmax (worst, fabs (moved - expected) / fabs (expected));
        }
    }
  g_test_message ("warmup: worst relative step error %.3g", worst);
  g_assert_cmpfloat (worst, <=, 1e-4);
}

/* Cosine decay after a 4-step warmup over a 12-step run, at hand-computed points: full lr at the
 * end of the warmup, half at the middle of the decay (cos π/2 = 0), lr·(1 + √2/2)/2 a quarter
 * in, 0 at the end and after it; a step at t ≥ D leaves p alone. decay_steps ≤ warmup_steps
 * means no decay. */
static void
test_adam_cosine_decay (void)
{
  nfn_adam opt;
  nfn_adam_init (&opt, 0.01);
  opt.warmup_steps = 4;
  opt.decay_steps = 12;
  const long t[] = { 2, 4, 6, 8, 12, 20 };
  const double want[] = { 0.005, 0.01, 0.01 * (1 + sqrt (0.5)) / 2, 0.005, 0, 0 };
  for (guint k = 0; k < G_N_ELEMENTS (t); k++)
    g_assert_cmpfloat_with_epsilon (nfn_adam_lr (&opt, t[k]), want[k], 1e-15);
  for (long s = 5; s < 12; s++)
    g_assert_cmpfloat (nfn_adam_lr (&opt, s + 1), <, nfn_adam_lr (&opt, s));

  float p[1] = { 1 }, g[1] = { 0.5f }, m[1] = { 0 }, v[1] = { 0 };
  opt.step = 11;
  nfn_adam_step (&opt, p, g, m, v, 1); /* step 12: lr 0 */
  g_assert_cmpfloat (p[0], ==, 1.0f);

  opt.decay_steps = 4;
  g_assert_cmpfloat (nfn_adam_lr (&opt, 100), ==, 0.01);
  opt.decay_steps = 0;
  opt.warmup_steps = 0;
  g_assert_cmpfloat (nfn_adam_lr (&opt, 1), ==, 0.01);
}

/* AdamW is Adam without decay applied to p·(1 − lr_t·wd); Adam with L2 is Adam without decay
 * fed g + wd·p; and the two are different optimizers. */
static void
test_adamw_vs_adam (void)
{
  enum { P = 16, STEPS = 6 };
  gsl_rng *rng = tu_rng ();
  const double wd = 0.2;
  nfn_adam adamw, adam_l2, plain_w, plain_l2;
  nfn_adam_init (&adamw, 0.05);
  adamw.warmup_steps = 2;
  adamw.weight_decay = wd;
  adamw.decoupled = 1;
  adam_l2 = adamw;
  adam_l2.decoupled = 0;
  plain_w = adamw;
  plain_w.weight_decay = 0;
  plain_l2 = plain_w;

  float p_w[P], p_l2[P], p_pw[P], p_pl2[P], g[P], g_l2[P];
  float m[4][P] = { { 0 } }, v[4][P] = { { 0 } };
  tu_fill_normal (p_w, P, 1.0, rng);
  memcpy (p_l2, p_w, sizeof p_w);
  memcpy (p_pw, p_w, sizeof p_w);
  memcpy (p_pl2, p_w, sizeof p_w);

  double worst_w = 0, worst_l2 = 0;
  for (long t = 1; t <= STEPS; t++)
    {
      tu_fill_normal (g, P, 1.0, rng);
      double lr_t = nfn_adam_lr (&adamw, t);
      for (int e = 0; e < P; e++)
        {
          p_pw[e] = (float) (p_pw[e] * (1 - lr_t * wd));
          g_l2[e] = (float) (g[e] + wd * p_pl2[e]);
        }
      nfn_adam_step (&adamw, p_w, g, m[0], v[0], P);
      nfn_adam_step (&plain_w, p_pw, g, m[1], v[1], P);
      nfn_adam_step (&adam_l2, p_l2, g, m[2], v[2], P);
      nfn_adam_step (&plain_l2, p_pl2, g_l2, m[3], v[3], P);
      for (int e = 0; e < P; e++)
        {
          worst_w = fmax (worst_w, fabs (p_w[e] - p_pw[e]));
          worst_l2 = fmax (worst_l2, fabs (p_l2[e] - p_pl2[e]));
        }
    }
  double apart = 0;
  for (int e = 0; e < P; e++)
    apart = fmax (apart, fabs (p_w[e] - p_l2[e]));
  g_test_message ("AdamW vs scaled Adam %.3g; L2 Adam vs Adam on g + wd*p %.3g; AdamW vs L2 %.3g",
                  worst_w, worst_l2, apart);
  g_assert_cmpfloat (worst_w, <=, 1e-6);
  g_assert_cmpfloat (worst_l2, <=, 1e-5);
  g_assert_cmpfloat (apart, >=, 1e-3);
  gsl_rng_free (rng);
}

static void
test_adam_minimises_quadratic (void)
{
  /* f(p) = pᵀAp/2 − bᵀp, A = [[3, 1], [1, 2]], b = (1, −1): minimiser A⁻¹b = (0.6, −0.8) */
  const double A[2][2] = { { 3, 1 }, { 1, 2 } }, b[2] = { 1, -1 }, minimiser[2] = { 0.6, -0.8 };
  nfn_adam opt;
  nfn_adam_init (&opt, 0.01);
  opt.warmup_steps = 10;
  float p[2] = { -2.0f, 3.0f }, g[2], m[2] = { 0 }, v[2] = { 0 };
  for (int t = 0; t < 5000; t++)
    {
      for (int r = 0; r < 2; r++)
        g[r] = (float) (A[r][0] * p[0] + A[r][1] * p[1] - b[r]);
      nfn_adam_step (&opt, p, g, m, v, 2);
    }
  double distance = hypot (p[0] - minimiser[0], p[1] - minimiser[1]);
  g_test_message ("Adam on a 2-D quadratic: p = (%.7g, %.7g), distance %.3g", p[0], p[1], distance);
  g_assert_cmpfloat (distance, <=, 1e-4);
}

/* ---- metrics ---- */

static void
test_accuracy (void)
{
  const float logits[4 * 3] = {
    0.1f, 0.9f, 0.0f,  /* argmax 1 */
    2.0f, 1.0f, 3.0f,  /* argmax 2 */
    0.5f, 0.5f, 0.1f,  /* tie: the first, 0 */
    -1.0f, -2.0f, -0.5f /* argmax 2 */
  };
  g_assert_cmpfloat (nfn_accuracy (logits, (const int[]) { 1, 0, 0, 2 }, 4, 3), ==, 0.75);
  g_assert_cmpfloat (nfn_accuracy (logits, (const int[]) { 1, 2, 0, 2 }, 4, 3), ==, 1.0);
  g_assert_cmpfloat (nfn_accuracy (logits, (const int[]) { 0, 0, 1, 0 }, 4, 3), ==, 0.0);
}

static void
test_psnr (void)
{
  const float target[4] = { 0.0f, 0.25f, 0.5f, 1.0f };
  const float off_by_one[4] = { 1.0f, -0.75f, 1.5f, 0.0f };  /* MSE 1 */
  const float two_wrong[4] = { 1.0f, 0.25f, 0.5f, 0.0f };    /* MSE 0.5 */
  g_assert_cmpfloat_with_epsilon (nfn_psnr (off_by_one, target, 4, 10.0), 20.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (nfn_psnr (two_wrong, target, 4, 1.0), 3.0102999566398120, 1e-12);
  double same = nfn_psnr (target, target, 4, 2.0);
  g_assert_true (isinf (same) && same > 0);
}

/* τ-b straight from its definition: Σ sign(Δx)·sign(Δy) over all pairs, over the geometric
 * mean of the pairs untied in x and untied in y. */
static double
reference_kendall_tau_b (const double *x, const double *y, size_t n)
{
  long sum = 0, untied_x = 0, untied_y = 0;
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++)
      {
        int sx = (x[i] > x[j]) - (x[i] < x[j]);
        int sy = (y[i] > y[j]) - (y[i] < y[j]);
        sum += sx * sy;
        untied_x += sx != 0;
        untied_y += sy != 0;
      }
  if (untied_x == 0 || untied_y == 0)
    return 0;
  return sum / sqrt ((double) untied_x * (double) untied_y);
}

/* Integer levels in [0, levels) make ties; levels = 0 draws continuous values. */
static double
tie_prone_value (int levels, gsl_rng *rng)
{
  return levels ? (double) gsl_rng_uniform_int (rng, levels) : gsl_rng_uniform (rng);
}

static void
test_kendall_matches_pair_count (void)
{
  gsl_rng *rng = tu_rng ();
  double x[300], y[300], worst = 0;
  int constant_cases = 0;
  for (size_t n = 2; n <= 300; n++)
    {
      int levels_x = (int) gsl_rng_uniform_int (rng, 7), levels_y = (int) gsl_rng_uniform_int (rng, 7);
      int correlated = gsl_rng_uniform_int (rng, 2);
      for (size_t e = 0; e < n; e++)
        {
          x[e] = tie_prone_value (levels_x, rng);
          y[e] = tie_prone_value (levels_y, rng) + (correlated ? x[e] : 0);
        }
      double tau, expected = reference_kendall_tau_b (x, y, n);
      g_assert_cmpint (nfn_kendall_tau_b (x, y, n, &tau), ==, NFN_OK);
      constant_cases += levels_x == 1 || (levels_y == 1 && !correlated);
      if (!(fabs (tau - expected) <= worst))
        worst = fabs (tau - expected);
      if (!(fabs (tau - expected) <= 1e-12))
        g_error ("n = %zu, levels %d/%d: tau-b %.17g, pair count %.17g", n, levels_x, levels_y, tau,
                 expected);
    }
  g_test_message ("tau-b vs O(n^2) pair count, n = 2..300: worst |diff| %.3g (%d with a constant variable)",
                  worst, constant_cases);
  gsl_rng_free (rng);
}

static void
test_kendall_hand_made (void)
{
  double tau;
  /* 5 concordant, 1 discordant */
  g_assert_cmpint (nfn_kendall_tau_b ((const double[]) { 1, 2, 3, 4 }, (const double[]) { 1, 3, 2, 4 }, 4, &tau), ==, NFN_OK);
  g_assert_cmpfloat_with_epsilon (tau, 2.0 / 3, 1e-15);
  /* 4 concordant, one pair tied in x only, one in y only: 4/sqrt(5·5) */
  g_assert_cmpint (nfn_kendall_tau_b ((const double[]) { 1, 1, 2, 3 }, (const double[]) { 1, 2, 2, 3 }, 4, &tau), ==, NFN_OK);
  g_assert_cmpfloat_with_epsilon (tau, 0.8, 1e-15);
  /* constant y */
  g_assert_cmpint (nfn_kendall_tau_b ((const double[]) { 1, 2, 3 }, (const double[]) { 5, 5, 5 }, 3, &tau), ==, NFN_OK);
  g_assert_cmpfloat (tau, ==, 0);
  g_assert_cmpint (nfn_kendall_tau_b ((const double[]) { 1 }, (const double[]) { 1 }, 1, &tau), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_kendall_tau_b ((const double[]) { 1, NAN }, (const double[]) { 1, 2 }, 2, &tau), ==,
                   NFN_ERR_NONFINITE);
}

static void
test_kendall_identity_and_reversal (void)
{
  enum { N = 1000000 };
  gsl_rng *rng = tu_rng ();
  double *x = g_new (double, N), *y = g_new (double, N), tau;
  for (size_t n = 2; n <= 50; n += 7)
    {
      for (size_t e = 0; e < n; e++)
        {
          x[e] = tie_prone_value (e == 0 ? 0 : 4, rng); /* ties, but never all equal */
          y[e] = -x[e];
        }
      x[1] = x[0] + 1;
      y[1] = -x[1];
      g_assert_cmpint (nfn_kendall_tau_b (x, x, n, &tau), ==, NFN_OK);
      g_assert_cmpfloat_with_epsilon (tau, 1.0, 1e-15);
      g_assert_cmpint (nfn_kendall_tau_b (x, y, n, &tau), ==, NFN_OK);
      g_assert_cmpfloat_with_epsilon (tau, -1.0, 1e-15);
    }

  /* 10⁶ values with many ties: only the O(n log n) path can do this in a test */
  for (size_t e = 0; e < N; e++)
    {
      x[e] = tie_prone_value (1000, rng);
      y[e] = x[e] + tie_prone_value (300, rng);
    }
  gint64 start = g_get_monotonic_time ();
  g_assert_cmpint (nfn_kendall_tau_b (x, y, N, &tau), ==, NFN_OK);
  gint64 elapsed = g_get_monotonic_time () - start;
  g_test_message ("tau-b of 10^6 tied values: %.6f in %.3f s", tau, elapsed / 1e6);
  g_assert_cmpfloat (tau, >, 0.5);
  g_assert_cmpfloat (tau, <, 1.0);
  g_assert_cmpint (nfn_kendall_tau_b (x, x, N, &tau), ==, NFN_OK);
  g_assert_cmpfloat_with_epsilon (tau, 1.0, 1e-12);
  g_free (x);
  g_free (y);
  gsl_rng_free (rng);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/train/cross-entropy/log-softmax", test_cross_entropy_matches_log_softmax);
  g_test_add_func ("/train/cross-entropy/huge-logits", test_cross_entropy_huge_logits);
  g_test_add_func ("/train/losses/bad-arguments", test_loss_bad_arguments);
  g_test_add_func ("/train/bce/reference", test_bce_matches_reference);
  g_test_add_func ("/train/mse/value", test_mse_value);
  g_test_add_func ("/train/losses/gradients", test_loss_gradients);
  g_test_add_func ("/train/adam/hand-computed", test_adam_hand_computed);
  g_test_add_func ("/train/adam/reference-sequence", test_adam_reference_sequence);
  g_test_add_func ("/train/adam/warmup", test_adam_warmup_is_linear);
  g_test_add_func ("/train/adam/cosine", test_adam_cosine_decay);
  g_test_add_func ("/train/adam/adamw-vs-adam", test_adamw_vs_adam);
  g_test_add_func ("/train/adam/quadratic", test_adam_minimises_quadratic);
  g_test_add_func ("/train/metrics/accuracy", test_accuracy);
  g_test_add_func ("/train/metrics/psnr", test_psnr);
  g_test_add_func ("/train/kendall/pair-count", test_kendall_matches_pair_count);
  g_test_add_func ("/train/kendall/hand-made", test_kendall_hand_made);
  g_test_add_func ("/train/kendall/identity-reversal", test_kendall_identity_and_reversal);
  return g_test_run ();
}
