/* test-gemm.c — nfn_gemm in fp32 and bf16, against references computed here in double:
 * the bf16 kernel must equal the exact product of the bf16-ROUNDED inputs up to fp32 summation
 * error, and the fp32 product up to bf16's rounding; every edge size, transpose, alpha/beta
 * case, blocking and thread split; the NP/HNP layers must stay equivariant under bf16.
 *
 * Shape letters: op(A) (M × K), op(B) (K × N), C (M × N).
 *
 * On a CPU without AVX512-BF16 the same cases run and must come out bit-identical to
 * cblas_sgemm (the documented fallback), and the rounding reference is still checked against
 * known bit patterns.
 */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nfn_equivariant.h"
#include "nfn_gemm.h"
#include "nfn_perm.h"
#include "testutil.h"

static int have_bf16;

/* ---- The reference rounding, written from Intel's pseudo-code for VCVTNE2PS2BF16 ---- */

static uint32_t
bits_of (float x)
{
  uint32_t u;
  memcpy (&u, &x, sizeof u);
  return u;
}

static float
float_of (uint32_t u)
{
  float x;
  memcpy (&x, &u, sizeof x);
  return x;
}

/* The bf16 bit pattern of x: zero and subnormal → signed zero, NaN → quiet NaN, Inf kept,
 * otherwise round to nearest, ties to even (an integer add of 0x7fff + lsb). */
static uint16_t
ref_bf16_bits (float x)
{
  uint32_t u = bits_of (x), exponent = (u >> 23) & 0xff, mantissa = u & 0x7fffff;
  if (exponent == 0)
    return (uint16_t) ((u >> 16) & 0x8000);
  if (exponent == 0xff)
    return (uint16_t) ((u >> 16) | (mantissa ? 0x40 : 0));
  return (uint16_t) ((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

static double
ref_bf16 (float x)
{
  return float_of ((uint32_t) ref_bf16_bits (x) << 16);
}

static void
test_rounding_reference (void)
{
  static const struct {
    uint32_t in;
    uint16_t out;
  } cases[] = {
    { 0x3f800000, 0x3f80 }, /* 1 */
    { 0x3f808000, 0x3f80 }, /* 1 + 2^-8: a tie, stays on the even 1 */
    { 0x3f818000, 0x3f82 }, /* 1 + 3·2^-8: a tie, goes up to the even 1 + 2^-6 */
    { 0x3f808001, 0x3f81 }, /* just above the tie */
    { 0x3f807fff, 0x3f80 }, /* just below it */
    { 0xbf818000, 0xbf82 }, /* signs round by magnitude */
    { 0x7f7fffff, 0x7f80 }, /* FLT_MAX overflows to +Inf */
    { 0x7f7f7fff, 0x7f7f }, /* … the largest float that does not */
    { 0x00000001, 0x0000 }, /* subnormals flush to zero, keeping the sign */
    { 0x807fffff, 0x8000 },
    { 0x00800000, 0x0080 }, /* the smallest normal survives */
    { 0x7f800000, 0x7f80 }, /* Inf */
    { 0xff800000, 0xff80 },
    { 0x7f800001, 0x7fc0 }, /* a signalling NaN becomes quiet */
    { 0xffc12345, 0xffc1 },
  };
  for (size_t k = 0; k < G_N_ELEMENTS (cases); k++)
    g_assert_cmphex (ref_bf16_bits (float_of (cases[k].in)), ==, cases[k].out);
}

/* ---- Precision switch ---- */

static void
test_precision_switch (void)
{
  g_assert_cmpint (nfn_set_precision (NFN_PRECISION_FP32), ==, NFN_OK);
  g_assert_cmpint (nfn_get_precision (), ==, NFN_PRECISION_FP32);
  nfn_status st = nfn_set_precision (NFN_PRECISION_BF16);
  g_assert_cmpint (st, ==, have_bf16 ? NFN_OK : NFN_ERR_UNSUPPORTED);
  g_assert_cmpint (nfn_get_precision (), ==, have_bf16 ? NFN_PRECISION_BF16 : NFN_PRECISION_FP32);
  g_assert_cmpint (nfn_set_precision ((nfn_precision) 7), ==, NFN_ERR_ARG);
  g_assert_cmpint (nfn_get_precision (), ==, have_bf16 ? NFN_PRECISION_BF16 : NFN_PRECISION_FP32);
  g_assert_cmpstr (nfn_precision_name (NFN_PRECISION_BF16), ==, "bf16");
  nfn_set_precision (NFN_PRECISION_FP32);
  g_test_message ("this CPU %s AVX512-BF16", have_bf16 ? "has" : "lacks");
}

/* The precision belongs to the thread that set it: a thread in bf16 (a GUI's training run)
 * leaves another thread's GEMMs (its drawing) at fp32, bit for bit OpenBLAS's. */
typedef struct {
  GMutex lock;
  GCond cond;
  int switched, done;
  nfn_status status;
} precision_thread;

static gpointer
precision_thread_main (gpointer data)
{
  precision_thread *t = data;
  nfn_precision start = nfn_get_precision ();
  t->status = nfn_set_precision (NFN_PRECISION_BF16);
  g_mutex_lock (&t->lock);
  t->switched = 1 + (start == NFN_PRECISION_FP32);
  g_cond_broadcast (&t->cond);
  while (!t->done)
    g_cond_wait (&t->cond, &t->lock);
  g_mutex_unlock (&t->lock);
  return GINT_TO_POINTER (nfn_get_precision ());
}

static void
test_precision_per_thread (void)
{
  if (!have_bf16)
    {
      g_test_skip ("this CPU lacks AVX512-BF16: every thread stays fp32");
      return;
    }
  g_assert_cmpint (nfn_set_precision (NFN_PRECISION_FP32), ==, NFN_OK);
  precision_thread t = { 0 };
  g_mutex_init (&t.lock);
  g_cond_init (&t.cond);
  GThread *thread = g_thread_new ("bf16", precision_thread_main, &t);
  g_mutex_lock (&t.lock);
  while (!t.switched)
    g_cond_wait (&t.cond, &t.lock);
  g_mutex_unlock (&t.lock);
  g_assert_cmpint (t.status, ==, NFN_OK);
  g_assert_cmpint (t.switched, ==, 2); /* a new thread starts in fp32 */
  /* the other thread is in bf16 now: this one's GEMM is still OpenBLAS's */
  g_assert_cmpint (nfn_get_precision (), ==, NFN_PRECISION_FP32);
  enum { M = 96, N = 80, K = 200 };
  float *a = g_new (float, M * K), *b = g_new (float, K * N), *c = g_new0 (float, M * N), *ref = g_new0 (float, M * N);
  for (int i = 0; i < M * K; i++)
    a[i] = sinf (0.37f * (float) i) + 1e-3f * (float) (i % 7);
  for (int i = 0; i < K * N; i++)
    b[i] = cosf (0.21f * (float) i) - 1e-3f * (float) (i % 5);
  nfn_gemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, ref, N);
  g_assert_cmpmem (c, M * N * sizeof (float), ref, M * N * sizeof (float));
  g_mutex_lock (&t.lock);
  t.done = 1;
  g_cond_broadcast (&t.cond);
  g_mutex_unlock (&t.lock);
  g_assert_cmpint (GPOINTER_TO_INT (g_thread_join (thread)), ==, NFN_PRECISION_BF16);
  g_assert_cmpint (nfn_get_precision (), ==, NFN_PRECISION_FP32);
  g_free (a);
  g_free (b);
  g_free (c);
  g_free (ref);
  g_mutex_clear (&t.lock);
  g_cond_clear (&t.cond);
}

/* ---- One GEMM call against the references ---- */

typedef struct {
  CBLAS_ORDER order;
  CBLAS_TRANSPOSE ta, tb;
  int M, N, K;
  float alpha, beta;
  int pad; /* extra leading-dimension entries, filled with NaN: they must never be read */
} gemm_case;

typedef struct {
  double exact;     /* max |C - ref on rounded inputs| / (|alpha|·Σ|ab| + |beta·C0|), in units of the bound */
  double exact_rel; /* the same, not divided by the bound */
  double vs_fp32;   /* max |C - ref on unrounded inputs| / the same scale */
  int cases;
} gemm_errors;

/* Element (r, c) of a stored matrix: row-major x[r·ld + c], column-major x[r + c·ld]. */
static size_t
at (CBLAS_ORDER order, int r, int c, int ld)
{
  return order == CblasRowMajor ? (size_t) r * ld + c : r + (size_t) c * ld;
}

/* The leading dimension of a stored (rows × cols) matrix with `pad` spare entries per line. */
static int
leading_dim (CBLAS_ORDER order, int rows, int cols, int pad)
{
  return (order == CblasRowMajor ? cols : rows) + pad;
}

static float *
new_matrix (CBLAS_ORDER order, int rows, int cols, int ld, gsl_rng *rng, size_t *count)
{
  *count = (size_t) (order == CblasRowMajor ? rows : cols) * ld;
  float *x = g_new (float, *count > 0 ? *count : 1);
  for (size_t e = 0; e < *count; e++)
    x[e] = NAN; /* padding stays NaN */
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++)
      x[at (order, r, c, ld)] = (float) gsl_rng_uniform (rng) * 2 - 1;
  return x;
}

/* Runs nfn_gemm on random inputs in the current precision and compares with the references.
 * In fp32, or in bf16 on a CPU without it, the result must be cblas_sgemm's bit for bit. */
static void
run_case (const gemm_case *g, gsl_rng *rng, gemm_errors *err)
{
  int ta = g->ta == CblasTrans, tb = g->tb == CblasTrans;
  int a_rows = ta ? g->K : g->M, a_cols = ta ? g->M : g->K;
  int b_rows = tb ? g->N : g->K, b_cols = tb ? g->K : g->N;
  int lda = leading_dim (g->order, a_rows, a_cols, g->pad), ldb = leading_dim (g->order, b_rows, b_cols, g->pad);
  int ldc = leading_dim (g->order, g->M, g->N, g->pad);
  size_t na, nb, nc;
  float *A = new_matrix (g->order, a_rows, a_cols, lda, rng, &na);
  float *B = new_matrix (g->order, b_rows, b_cols, ldb, rng, &nb);
  float *C0 = new_matrix (g->order, g->M, g->N, ldc, rng, &nc);
  for (int i = 0; g->beta == 0 && i < g->M; i++)
    for (int j = 0; j < g->N; j++)
      C0[at (g->order, i, j, ldc)] = NAN; /* beta = 0: C must not be read */
  float *C = g_memdup2 (C0, nc * sizeof (float));
  nfn_gemm (g->order, g->ta, g->tb, g->M, g->N, g->K, g->alpha, A, lda, B, ldb, g->beta, C, ldc);

  if (nfn_get_precision () == NFN_PRECISION_FP32)
    {
      float *expected = g_memdup2 (C0, nc * sizeof (float));
      cblas_sgemm (g->order, g->ta, g->tb, g->M, g->N, g->K, g->alpha, A, lda, B, ldb, g->beta, expected, ldc);
      g_assert_cmpmem (C, nc * sizeof (float), expected, nc * sizeof (float));
      g_free (expected);
    }
  else
    {
      /* op(A), op(B) in double, as given and rounded to bf16 */
      double *a = g_new (double, (size_t) g->M * g->K), *ar = g_new (double, (size_t) g->M * g->K);
      double *b = g_new (double, (size_t) g->K * g->N), *br = g_new (double, (size_t) g->K * g->N);
      for (int i = 0; i < g->M; i++)
        for (int k = 0; k < g->K; k++)
          {
            float x = A[ta ? at (g->order, k, i, lda) : at (g->order, i, k, lda)];
            a[(size_t) i * g->K + k] = x;
            ar[(size_t) i * g->K + k] = ref_bf16 (x);
          }
      for (int k = 0; k < g->K; k++)
        for (int j = 0; j < g->N; j++)
          {
            float x = B[tb ? at (g->order, j, k, ldb) : at (g->order, k, j, ldb)];
            b[(size_t) k * g->N + j] = x;
            br[(size_t) k * g->N + j] = ref_bf16 (x);
          }
      /* vdpbf16ps rounds each of its K fused steps, alpha and beta add two more */
      double bound = (g->K + 3) * ldexp (1.0, -24);
      for (int i = 0; i < g->M; i++)
        for (int j = 0; j < g->N; j++)
          {
            double rounded = 0, plain = 0, scale = 0;
            for (int k = 0; k < g->K; k++)
              {
                double pr = ar[(size_t) i * g->K + k] * br[(size_t) k * g->N + j];
                rounded += pr;
                scale += fabs (pr);
                plain += a[(size_t) i * g->K + k] * b[(size_t) k * g->N + j];
              }
            size_t e = at (g->order, i, j, ldc);
            double c0 = g->beta != 0 ? C0[e] : 0, c = C[e];
            scale = fabs (g->alpha) * scale + fabs (g->beta * c0) + DBL_MIN;
            double rel = fabs (c - (g->alpha * rounded + g->beta * c0)) / scale;
            err->exact = fmax (err->exact, rel / bound);
            err->exact_rel = fmax (err->exact_rel, rel);
            err->vs_fp32 = fmax (err->vs_fp32, fabs (c - (g->alpha * plain + g->beta * c0)) / scale);
            g_assert_true (isfinite (c));
            C[e] = C0[e]; /* so that what remains must equal C0 */
          }
      /* nothing written outside the M × N block */
      g_assert_cmpmem (C, nc * sizeof (float), C0, nc * sizeof (float));
      g_free (a);
      g_free (ar);
      g_free (b);
      g_free (br);
    }
  err->cases++;
  g_free (A);
  g_free (B);
  g_free (C0);
  g_free (C);
}

static void
assert_errors (const gemm_errors *err, const char *what)
{
  if (nfn_get_precision () == NFN_PRECISION_FP32)
    {
      g_test_message ("%s: %d cases bit-identical to cblas_sgemm (fp32)", what, err->cases);
      return;
    }
  g_test_message ("%s: %d cases; worst error vs rounded inputs %.3g relative (%.3g of the fp32-summation "
                  "bound (K+3)·2^-24), vs fp32 inputs %.3g relative",
                  what, err->cases, err->exact_rel, err->exact, err->vs_fp32);
  g_assert_cmpfloat (err->exact, <=, 1.0);
  g_assert_cmpfloat (err->vs_fp32, <, 1e-2);
  g_assert_cmpfloat (err->vs_fp32, >, 1e-4); /* bf16 really ran, not a silent fp32 */
}

static const CBLAS_TRANSPOSE transposes[2] = { CblasNoTrans, CblasTrans };

/* Every M, N and K from 1 to 67 (the others fixed and odd), every transpose pair, both
 * orders, and a grid of edge sizes around the 12 × 32 tile and the 16-pair packing groups. */
static void
test_edges (gconstpointer data)
{
  nfn_precision precision = GPOINTER_TO_INT (data);
  if (nfn_set_precision (precision) != NFN_OK)
    g_test_message ("bf16 unavailable: checking the fp32 fallback");
  gsl_rng *rng = tu_rng ();
  gemm_errors err = { 0 };
  for (int t = 0; t < 4; t++)
    {
      gemm_case g = { CblasRowMajor, transposes[t & 1], transposes[t >> 1], 0, 0, 0, 1.0f, 0.0f, 1 };
      for (int n = 1; n <= 67; n++)
        {
          g.M = n, g.N = 19, g.K = 33;
          run_case (&g, rng, &err);
          g.M = 13, g.N = n, g.K = 35;
          run_case (&g, rng, &err);
          g.M = 25, g.N = 17, g.K = n;
          run_case (&g, rng, &err);
        }
      static const int sizes[] = { 1, 2, 3, 11, 12, 13, 16, 17, 31, 32, 33, 67 };
      for (size_t i = 0; i < G_N_ELEMENTS (sizes); i++)
        for (size_t j = 0; j < G_N_ELEMENTS (sizes); j++)
          for (size_t k = 0; k < G_N_ELEMENTS (sizes); k += 2)
            {
              gemm_case h = { (i + j + k) % 3 ? CblasRowMajor : CblasColMajor, g.ta, g.tb, sizes[i], sizes[j],
                              sizes[k + (i & 1)], 1.0f, 1.0f, (int) (i % 3) };
              run_case (&h, rng, &err);
            }
    }
  assert_errors (&err, nfn_precision_name (nfn_get_precision ()));
  nfn_set_precision (NFN_PRECISION_FP32);
  gsl_rng_free (rng);
}

/* alpha and beta as sgemm: overwrite (beta = 0, C full of NaN), accumulate (beta = 1), scaled
 * both ways, and alpha = 0 (only beta·C). */
static void
test_alpha_beta (void)
{
  nfn_set_precision (NFN_PRECISION_BF16);
  gsl_rng *rng = tu_rng ();
  gemm_errors err = { 0 };
  static const float pairs[][2] = { { 1, 0 }, { 1, 1 }, { 0.5f, -2 }, { -1.5f, 0.25f }, { 3, 0 } };
  for (size_t p = 0; p < G_N_ELEMENTS (pairs); p++)
    for (int t = 0; t < 4; t++)
      {
        gemm_case g = { CblasRowMajor, transposes[t & 1], transposes[t >> 1], 29, 45, 37, pairs[p][0], pairs[p][1], 2 };
        run_case (&g, rng, &err);
      }
  assert_errors (&err, "alpha/beta");

  /* alpha = 0 reads neither A nor B, and K = 0 is an empty sum: C = beta·C exactly */
  float A[6] = { NAN, NAN, NAN, NAN, NAN, NAN }, C[4] = { 1, 2, 3, 4 };
  nfn_gemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, 2, 2, 3, 0.0f, A, 3, A, 2, 0.5f, C, 2);
  g_assert_cmpfloat (C[3], ==, 2.0f);
  nfn_gemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, 2, 2, 0, 1.0f, A, 1, A, 2, 2.0f, C, 2);
  g_assert_cmpfloat (C[0], ==, 1.0f);
  g_assert_cmpfloat (C[3], ==, 4.0f);
  nfn_set_precision (NFN_PRECISION_FP32);
  gsl_rng_free (rng);
}

/* Shapes that cross every block (K > 512 in uneven blocks, M > 144, N > 512) and the shapes
 * that pick each thread split (with the shared operand one block or two), on 1 and 2 threads:
 * M and N splits must give the same bits as one thread, every split the same bits twice. */
static void
test_blocks_and_threads (void)
{
  nfn_set_precision (NFN_PRECISION_BF16);
  gsl_rng *rng = tu_rng ();
  gemm_errors err = { 0 };
  for (int t = 0; t < 4; t++)
    {
      gemm_case g = { CblasRowMajor, transposes[t & 1], transposes[t >> 1], 150, 530, 1100, 1.0f, -0.5f, 0 };
      run_case (&g, rng, &err);
    }
  static const struct {
    int M, N, K;
    const char *split;
  } splits[] = { { 2000, 40, 70, "M" },  { 600, 40, 700, "M (B of two blocks)" }, { 20, 1000, 300, "N" },
                 { 200, 3000, 100, "N (A of two blocks)" }, { 30, 40, 5000, "K" } };
  for (size_t s = 0; s < G_N_ELEMENTS (splits); s++)
    for (int t = 0; t < 4; t++)
      {
        int ta = t & 1, tb = t >> 1, M = splits[s].M, N = splits[s].N, K = splits[s].K;
        int lda = ta ? M : K, ldb = tb ? K : N;
        float *A = g_new (float, (size_t) M * K), *B = g_new (float, (size_t) K * N);
        float *C[3];
        for (int run = 0; run < 3; run++)
          C[run] = g_new (float, (size_t) M * N);
        tu_fill_normal (A, (size_t) M * K, 1.0, rng);
        tu_fill_normal (B, (size_t) K * N, 1.0, rng);
        double worst = 0;
        for (int run = 0; run < 3; run++) /* 1 thread, then 2 threads twice */
          {
            nfn_set_threads (run ? 2 : 1);
            nfn_gemm (CblasRowMajor, transposes[ta], transposes[tb], M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C[run], N);
          }
        nfn_set_threads (1);
        size_t bytes = (size_t) M * N * sizeof (float);
        if (have_bf16) /* whichever thread took which chunk; OpenBLAS makes no such promise */
          g_assert_cmpmem (C[1], bytes, C[2], bytes);
        if (have_bf16 && splits[s].split[0] != 'K')
          g_assert_cmpmem (C[0], bytes, C[1], bytes);
        float *C1 = C[0], *C2 = C[1];
        for (size_t e = 0; e < (size_t) M * N; e++)
          worst = fmax (worst, fabs (C1[e] - C2[e]));
        /* a K split only reorders an fp32 sum of K terms of size ~1 */
        g_assert_cmpfloat (worst, <=, K * ldexp (1.0, -20));
        if (t == 0)
          g_test_message ("%s split (%d × %d × %d): 1 vs 2 threads differ by at most %.3g", splits[s].split, M, N, K,
                          worst);
        g_free (A);
        g_free (B);
        for (int run = 0; run < 3; run++)
          g_free (C[run]);
        gemm_case g = { CblasRowMajor, transposes[ta], transposes[tb], M, N, K, 1.5f, -0.5f, 0 };
        if (t == (int) (s % 4)) /* one transpose pair per shape against the reference, on 2 threads */
          {
            nfn_set_threads (2);
            run_case (&g, rng, &err);
            nfn_set_threads (1);
          }
      }
  assert_errors (&err, "blocks and thread splits");
  nfn_set_precision (NFN_PRECISION_FP32);
  gsl_rng_free (rng);
}

/* Special values through every packing path (vector bodies and ragged tails): op(A) a row of
 * them times the identity, the identity times op(B) a column of them, and K = 1 outer
 * products with 1 for Inf and NaN. bf16 products and sums of zeros are exact, so C must hold
 * the reference rounding bit for bit. */
static void
test_special_values (void)
{
  nfn_set_precision (NFN_PRECISION_BF16);
  enum { L = 45 };
  float v[L];
  static const uint32_t specials[] = { 0x3f808000, 0x3f818000, 0x3f808001, 0x3f807fff, 0xbf818000, 0x7f7f7fff,
                                       0x00000001, 0x807fffff, 0x00800000, 0x00808000, 0x00818000, 0x4b7fff80 };
  gsl_rng *rng = tu_rng ();
  for (int k = 0; k < L; k++)
    v[k] = k < (int) G_N_ELEMENTS (specials) ? float_of (specials[k]) : (float) (6 * gsl_rng_uniform (rng) - 3);
  /* the specials land in the 32-wide vector body for k < 32 and again in the tail */
  for (int k = 0; k < (int) G_N_ELEMENTS (specials); k++)
    v[33 + k] = v[k];
  float *identity = g_new0 (float, L * L), *C = g_new (float, L);
  for (int k = 0; k < L; k++)
    identity[k * L + k] = 1;
  int checked = 0;
  for (int t = 0; t < 2; t++)
    {
      /* C (1 × L) = v (1 × L) · I, v stored as a row (NoTrans) or as a column (Trans) */
      nfn_gemm (CblasRowMajor, transposes[t], CblasNoTrans, 1, L, L, 1.0f, v, t ? 1 : L, identity, L, 0.0f, C, L);
      for (int k = 0; k < L; k++, checked++)
        if (have_bf16)
          g_assert_cmpfloat (C[k], ==, ref_bf16 (v[k]));
        else
          g_assert_cmpfloat (C[k], ==, v[k]);
      /* C (L × 1) = I · v (L × 1), v as a column (NoTrans) or a row (Trans) */
      nfn_gemm (CblasRowMajor, CblasNoTrans, transposes[t], L, 1, L, 1.0f, identity, L, v, t ? L : 1, 0.0f, C, 1);
      for (int k = 0; k < L; k++, checked++)
        if (have_bf16)
          g_assert_cmpfloat (C[k], ==, ref_bf16 (v[k]));
        else
          g_assert_cmpfloat (C[k], ==, v[k]);
    }
  const float ends[] = { INFINITY, -INFINITY, NAN, FLT_MAX, -FLT_MAX, 1.0f }, one = 1.0f;
  float outer[6];
  for (int t = 0; t < 2; t++)
    {
      nfn_gemm (CblasRowMajor, transposes[t], CblasNoTrans, 6, 1, 1, 1.0f, ends, t ? 6 : 1, &one, 1, 0.0f, outer, 1);
      for (int k = 0; k < 6; k++, checked++)
        {
          double want = have_bf16 ? ref_bf16 (ends[k]) : ends[k];
          if (isnan (want))
            g_assert_true (isnan (outer[k]));
          else
            g_assert_cmpfloat (outer[k], ==, want);
        }
    }
  g_test_message ("%d special values came out exactly %s", checked,
                  have_bf16 ? "as the reference rounds them" : "unrounded (fp32 fallback)");
  g_free (identity);
  g_free (C);
  gsl_rng_free (rng);
  nfn_set_precision (NFN_PRECISION_FP32);
}

/* ---- The layers under bf16 ---- */

/* Entries on a grid of 2^-8 (|x| < 8, 11 significant bits, so bf16 still rounds them): any
 * sum of a few dozen is exact in fp32, in whatever order it is taken. */
static void
feature_on_grid (nfn_feature *feat, gsl_rng *rng)
{
  tu_feature_normal (feat, rng);
  for (int t = 0; t < nfn_tensor_count (&feat->space); t++)
    for (size_t e = 0; e < (size_t) feat->B * feat->C * nfn_tensor_entries (&feat->space, t); e++)
      feat->t[t][e] = (float) (round (fmax (-2040, fmin (2040, 256.0 * feat->t[t][e]))) / 256);
}

/* The NP and HNP layers under bf16: the output is a bf16 approximation (~1e-3) of the fp32
 * layer's, yet layer(σU) = σ·layer(U) holds to fp32 summation, because rounding is elementwise
 * and a permutation only moves elements. The input sits on a grid (feature_on_grid) so that the
 * layer's fp32 pooled means come out bit-identical in permuted order: with generic inputs their
 * last-bit differences occasionally cross a bf16 rounding boundary and the error jumps to
 * ~1e-5 (measured: in about 2 % of random
 * layers, up to a few 1e-5) — the pooling's order, not the GEMM. */
static void
test_layer_equivariance (void)
{
  const int widths[] = { 3, 7, 5, 2 };
  nfn_space space;
  nfn_space_init (&space, 3, widths);
  const int B = 3, cin = 20, cout = 24;
  gsl_rng *rng = tu_rng ();
  for (int sym = NFN_SYM_NP; sym <= NFN_SYM_HNP; sym++)
    {
      nfn_eq_plan *plan = g_new0 (nfn_eq_plan, 1);
      g_assert_cmpint (nfn_eq_plan_init (plan, &space, sym, cin, cout), ==, NFN_OK);
      float *params = g_new (float, nfn_eq_param_count (plan));
      float *scratch = g_new (float, nfn_eq_scratch_size (plan, B));
      nfn_eq_init_params (plan, params, rng);
      nfn_feature in, moved_in, out, out_of_moved, moved_out, out32;
      nfn_feature_alloc (&in, &space, B, cin);
      nfn_feature_alloc (&moved_in, &space, B, cin);
      nfn_feature_alloc (&out, &space, B, cout);
      nfn_feature_alloc (&out_of_moved, &space, B, cout);
      nfn_feature_alloc (&moved_out, &space, B, cout);
      nfn_feature_alloc (&out32, &space, B, cout);
      feature_on_grid (&in, rng);
      nfn_perm perm;
      nfn_perm_alloc (&perm, &space);
      double worst_eq = 0;
      for (int trial = 0; trial < 5; trial++)
        {
          nfn_perm_random (&perm, sym, rng);
          g_assert_cmpint (nfn_perm_apply (&perm, &in, &moved_in), ==, NFN_OK);
          nfn_set_precision (NFN_PRECISION_BF16);
          g_assert_cmpint (nfn_eq_forward (plan, params, &in, &out, scratch), ==, NFN_OK);
          g_assert_cmpint (nfn_eq_forward (plan, params, &moved_in, &out_of_moved, scratch), ==, NFN_OK);
          nfn_set_precision (NFN_PRECISION_FP32);
          g_assert_cmpint (nfn_perm_apply (&perm, &out, &moved_out), ==, NFN_OK);
          worst_eq = fmax (worst_eq, nfn_feature_max_abs_diff (&out_of_moved, &moved_out) / nfn_feature_max_abs (&moved_out));
        }
      g_assert_cmpint (nfn_eq_forward (plan, params, &in, &out32, scratch), ==, NFN_OK);
      double vs_fp32 = nfn_feature_max_abs_diff (&out, &out32) / nfn_feature_max_abs (&out32);
      g_test_message ("%s layer in %s: equivariance error %.3g, distance to the fp32 layer %.3g",
                      nfn_symmetry_name (sym), have_bf16 ? "bf16" : "fp32 (fallback)", worst_eq, vs_fp32);
      g_assert_cmpfloat (worst_eq, <, 1e-5);
      if (have_bf16)
        {
          g_assert_cmpfloat (vs_fp32, <, 1e-2);
          g_assert_cmpfloat (vs_fp32, >, 1e-5);
        }
      else
        g_assert_cmpfloat (vs_fp32, ==, 0);
      nfn_perm_free (&perm);
      nfn_feature_free (&in);
      nfn_feature_free (&moved_in);
      nfn_feature_free (&out);
      nfn_feature_free (&out_of_moved);
      nfn_feature_free (&moved_out);
      nfn_feature_free (&out32);
      g_free (params);
      g_free (scratch);
      g_free (plan);
    }
  gsl_rng_free (rng);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  have_bf16 = nfn_bf16_supported ();
  g_test_add_func ("/gemm/rounding-reference", test_rounding_reference);
  g_test_add_func ("/gemm/precision-switch", test_precision_switch);
  g_test_add_func ("/gemm/precision-per-thread", test_precision_per_thread);
  g_test_add_data_func ("/gemm/fp32/edges", GINT_TO_POINTER (NFN_PRECISION_FP32), test_edges);
  g_test_add_data_func ("/gemm/bf16/edges", GINT_TO_POINTER (NFN_PRECISION_BF16), test_edges);
  g_test_add_func ("/gemm/bf16/alpha-beta", test_alpha_beta);
  g_test_add_func ("/gemm/bf16/special-values", test_special_values);
  g_test_add_func ("/gemm/bf16/blocks-and-threads", test_blocks_and_threads);
  g_test_add_func ("/gemm/bf16/layer-equivariance", test_layer_equivariance);
  return g_test_run ();
}
