/* nfn_gemm.c — nfn_gemm: cblas_sgemm in fp32, or a blocked bf16 GEMM on AVX512-BF16.
 *
 * Shape letters: M, N, K as in nfn_gemm.h (op(A) M×K, op(B) K×N, C M×N, row-major after
 * nfn_gemm turns a column-major call around). Blocks: mc ≤ GEMM_MC rows of op(A), kc ≤ GEMM_KC
 * of K (kp = ⌈kc/2⌉ bf16 pairs), nc ≤ GEMM_NC columns of op(B); micro-tiles mr ≤ GEMM_MR rows
 * by nr ≤ GEMM_NR columns.
 *
 * vdpbf16ps multiplies PAIRS of bf16 along K: lane j of the accumulator gains
 * a.lo·b.lo + a.hi·b.hi where each 32-bit element holds the bf16 values at k = 2p (low half)
 * and k = 2p+1 (high half). Both packed operands therefore hold 32-bit pairs along K:
 *   packed A  (mc, A_LD) pairs, row-major: one 32-bit pair per (row, p), broadcast by the kernel;
 *   packed B  (⌈nc/NR⌉ panels, kp16, NR) pairs: for each p one row of NR columns, two zmm.
 * An odd kc pads its last pair with a zero; ragged M and N edges use kernels specialised to
 * the tile's mr rows and masked loads/stores, so nothing outside the M × N block of C (or the
 * given parts of A and B) is ever read or written.
 *
 * Blocking for one Zen 4/5 core (48 KiB L1d, 1 MiB L2): a B panel of kp ≤ 256 pairs × 32
 * columns is 32 KiB and stays near L1 while the mr-row A slivers (≤ 12 KiB) stream past it;
 * the packed A block (144 × 1 KiB) and B block (≤ 512 KiB) sit in L2. The micro-kernel keeps
 * a 12 × 32 fp32 tile in 24 zmm registers, two for the B row, one for the broadcast A pair:
 * 24 vdpbf16ps per 14 loads, enough independent chains to cover the instruction's latency.
 *
 * Threads: the work is split along M, N or K, whichever duplicates least packing (M: every
 * thread packs all of B; N: all of A; K: each chunk of K sums into its own M×N buffer, added
 * in order at the end), in chunks handed out as threads come free. M and N splits give the
 * same bits as one thread; a K split changes the order of the sum (deterministic for a given
 * thread count, whichever thread took which chunk).
 */
#include "nfn_gemm.h"

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define GEMM_HAVE_BF16_KERNEL 1
#include <immintrin.h>
#else
#define GEMM_HAVE_BF16_KERNEL 0
#endif

#define GEMM_MR 12
#define GEMM_NR 32                      /* columns per B panel: two zmm of fp32 */
#define GEMM_KC 512                     /* K per block, so at most 256 pairs */
#define GEMM_MC 144
#define GEMM_NC 512
#define GEMM_A_LD (GEMM_KC / 2 + 16)    /* pairs per packed A row: a spare cache line apart
                                           so the 12 rows of a sliver fall in different L1 sets */
/* Below this many multiply-adds (~10 µs of one core) a GEMM stays on the calling thread. */
#define GEMM_PARALLEL_MIN_MACS (4 << 20)

/* per thread: a GUI's training thread runs bf16 while its drawing thread stays fp32 */
static _Thread_local nfn_precision gemm_precision = NFN_PRECISION_FP32;

const char *
nfn_precision_name (nfn_precision precision)
{
  return precision == NFN_PRECISION_BF16 ? "bf16" : "fp32";
}

int
nfn_bf16_supported (void)
{
#if GEMM_HAVE_BF16_KERNEL
  /* libgcc's check includes the OS's consent to save zmm state (XCR0) */
  return __builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("avx512bw")
         && __builtin_cpu_supports ("avx512vl") && __builtin_cpu_supports ("avx512bf16");
#else
  return 0;
#endif
}

nfn_status
nfn_set_precision (nfn_precision precision)
{
  if (precision != NFN_PRECISION_FP32 && precision != NFN_PRECISION_BF16)
    return NFN_ERR_ARG;
  if (precision == NFN_PRECISION_BF16 && !nfn_bf16_supported ())
    {
      gemm_precision = NFN_PRECISION_FP32;
      return NFN_ERR_UNSUPPORTED;
    }
  gemm_precision = precision;
  return NFN_OK;
}

nfn_precision
nfn_get_precision (void)
{
  return gemm_precision;
}

/* One row-major problem C = alpha·op(A)·op(B) + beta·C, or a thread's part of one. */
typedef struct {
  int trans_a, trans_b;
  int M, N, K;
  float alpha, beta;
  const float *A; /* trans_a ? (K, lda) : (M, lda) */
  const float *B; /* trans_b ? (N, ldb) : (K, ldb) */
  float *C;       /* (M, ldc) */
  int lda, ldb, ldc;
} gemm_problem;

static int
gemm_min (int a, int b)
{
  return a < b ? a : b;
}

static int
gemm_round_up (int n, int to)
{
  return (n + to - 1) / to * to;
}

/* K is cut into blocks of equal even length ≤ GEMM_KC, so only the last can have an odd tail. */
static int
gemm_kc_step (int K)
{
  int blocks = (K + GEMM_KC - 1) / GEMM_KC;
  return gemm_round_up ((K + blocks - 1) / blocks, 2);
}

#if GEMM_HAVE_BF16_KERNEL

#define GEMM_TARGET __attribute__ ((target ("avx512f,avx512bw,avx512vl,avx512bf16")))
#define GEMM_INLINE static inline __attribute__ ((always_inline))

typedef uint32_t gemm_pair_alias __attribute__ ((may_alias)); /* packed buffers are written as zmm */

/* ---- Packing: fp32 → bf16 pairs along K ---- */

GEMM_INLINE GEMM_TARGET __mmask16
gemm_mask (int count) /* the first min(count, 16) lanes */
{
  return count >= 16 ? (__mmask16) 0xffff : count <= 0 ? (__mmask16) 0 : (__mmask16) ((1u << count) - 1);
}

/* lo, hi (16 fp32 each) → 16 pairs (lo[i], hi[i]): two rows of K become one row of pairs */
GEMM_INLINE GEMM_TARGET __m512i
gemm_interleave_pairs (__m512 lo, __m512 hi)
{
  const __m512i order = _mm512_set_epi16 (31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22,
                                          6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  /* rounding to nearest even happens here, in the conversion; words 0-15 lo, 16-31 hi */
  return _mm512_permutexvar_epi16 (order, (__m512i) _mm512_cvtne2ps_pbh (hi, lo));
}

/* 32 consecutive fp32 along K → 16 pairs in order */
GEMM_INLINE GEMM_TARGET __m512i
gemm_consecutive_pairs (const float *x, int count /* valid floats from x, may be ≤ 0 */)
{
  __m512 lo = _mm512_maskz_loadu_ps (gemm_mask (count), x);
  __m512 hi = _mm512_maskz_loadu_ps (gemm_mask (count - 16), x + 16);
  return (__m512i) _mm512_cvtne2ps_pbh (hi, lo);
}

/* In place: r[i] lane j ↔ r[j] lane i, for 16 × 16 32-bit elements. */
GEMM_INLINE GEMM_TARGET void
gemm_transpose_16x16 (__m512i r[16])
{
  __m512i t[16], u[16];
  for (int i = 0; i < 8; i++)
    {
      t[2 * i] = _mm512_unpacklo_epi32 (r[2 * i], r[2 * i + 1]);
      t[2 * i + 1] = _mm512_unpackhi_epi32 (r[2 * i], r[2 * i + 1]);
    }
  /* u[4g + c], lane L: rows 4g … 4g+3 of column 4L + c */
  for (int g = 0; g < 4; g++)
    {
      u[4 * g + 0] = _mm512_unpacklo_epi64 (t[4 * g], t[4 * g + 2]);
      u[4 * g + 1] = _mm512_unpackhi_epi64 (t[4 * g], t[4 * g + 2]);
      u[4 * g + 2] = _mm512_unpacklo_epi64 (t[4 * g + 1], t[4 * g + 3]);
      u[4 * g + 3] = _mm512_unpackhi_epi64 (t[4 * g + 1], t[4 * g + 3]);
    }
  for (int c = 0; c < 4; c++)
    {
      __m512i x0 = _mm512_shuffle_i32x4 (u[c], u[4 + c], 0x88), x1 = _mm512_shuffle_i32x4 (u[c], u[4 + c], 0xdd);
      __m512i y0 = _mm512_shuffle_i32x4 (u[8 + c], u[12 + c], 0x88);
      __m512i y1 = _mm512_shuffle_i32x4 (u[8 + c], u[12 + c], 0xdd);
      r[c] = _mm512_shuffle_i32x4 (x0, y0, 0x88);
      r[8 + c] = _mm512_shuffle_i32x4 (x0, y0, 0xdd);
      r[4 + c] = _mm512_shuffle_i32x4 (x1, y1, 0x88);
      r[12 + c] = _mm512_shuffle_i32x4 (x1, y1, 0xdd);
    }
}

/* Packed A block: dst[m·A_LD + p] = (op(A)[ic+m][pc+2p], op(A)[ic+m][pc+2p+1]), m < mc, p < kp;
 * whole 16-pair groups are written, zero past kc. */
GEMM_TARGET static void
gemm_pack_a (const gemm_problem *pr, int ic, int mc, int pc, int kc, uint32_t *dst /* (mc, A_LD) */)
{
  int kp = (kc + 1) / 2;
  if (!pr->trans_a)
    {
      for (int m = 0; m < mc; m++)
        {
          const float *row = pr->A + (size_t) (ic + m) * pr->lda + pc;
          for (int p = 0; p < kp; p += 16)
            _mm512_storeu_si512 (dst + (size_t) m * GEMM_A_LD + p, gemm_consecutive_pairs (row + 2 * p, kc - 2 * p));
        }
      return;
    }
  /* op(A)[m][k] = A[k][m]: two rows of A interleave into pairs for 16 m at once, then a
   * transpose turns 16 p × 16 m into 16 m × 16 p. Along the rows of A innermost, so that A
   * streams from memory in order. */
  for (int p0 = 0; p0 < kp; p0 += 16)
    for (int m0 = 0; m0 < mc; m0 += 16)
      {
        __mmask16 rows = gemm_mask (mc - m0);
        __m512i v[16];
        for (int q = 0; q < 16; q++)
          {
            int k = 2 * (p0 + q);
            __m512 lo = _mm512_setzero_ps (), hi = _mm512_setzero_ps ();
            if (k < kc)
              lo = _mm512_maskz_loadu_ps (rows, pr->A + (size_t) (pc + k) * pr->lda + ic + m0);
            if (k + 1 < kc)
              hi = _mm512_maskz_loadu_ps (rows, pr->A + (size_t) (pc + k + 1) * pr->lda + ic + m0);
            v[q] = gemm_interleave_pairs (lo, hi);
          }
        gemm_transpose_16x16 (v);
        for (int i = 0; i < gemm_min (16, mc - m0); i++)
          _mm512_storeu_si512 (dst + (size_t) (m0 + i) * GEMM_A_LD + p0, v[i]);
      }
}

/* Packed B block: panel j (columns jc + NR·j …), row p, column n holds
 * (op(B)[pc+2p][n], op(B)[pc+2p+1][n]); columns past nc are zero within a written half-panel. */
GEMM_TARGET static void
gemm_pack_b (const gemm_problem *pr, int pc, int kc, int jc, int nc, uint32_t *dst /* (panels, kp16, NR) */)
{
  int kp = (kc + 1) / 2, kp16 = gemm_round_up (kp, 16);
  if (!pr->trans_b)
    {
      /* two rows of B interleave into one row of pairs; along the rows innermost */
      for (int p = 0; p < kp; p++)
        {
          const float *src = pr->B + (size_t) (pc + 2 * p) * pr->ldb + jc;
          for (int n0 = 0; n0 < nc; n0 += 16)
            {
              __mmask16 mask = gemm_mask (nc - n0);
              __m512 lo = _mm512_maskz_loadu_ps (mask, src + n0);
              __m512 hi = 2 * p + 1 < kc ? _mm512_maskz_loadu_ps (mask, src + pr->ldb + n0) : _mm512_setzero_ps ();
              uint32_t *panel = dst + (size_t) (n0 / GEMM_NR) * kp16 * GEMM_NR + n0 % GEMM_NR;
              _mm512_storeu_si512 (panel + (size_t) p * GEMM_NR, gemm_interleave_pairs (lo, hi));
            }
        }
      return;
    }
  /* op(B)[k][n] = B[n][k]: each row of B is already pairs along K; transpose 16 n × 16 p */
  for (int n0 = 0; n0 < nc; n0 += 16)
    {
      int cols = gemm_min (16, nc - n0);
      uint32_t *panel = dst + (size_t) (n0 / GEMM_NR) * kp16 * GEMM_NR + n0 % GEMM_NR;
      for (int p0 = 0; p0 < kp; p0 += 16)
        {
          __m512i v[16];
          for (int i = 0; i < 16; i++)
            v[i] = i < cols ? gemm_consecutive_pairs (pr->B + (size_t) (jc + n0 + i) * pr->ldb + pc + 2 * p0, kc - 2 * p0)
                            : _mm512_setzero_si512 ();
          gemm_transpose_16x16 (v);
          for (int q = 0; q < 16; q++)
            _mm512_storeu_si512 (panel + (size_t) (p0 + q) * GEMM_NR, v[q]);
        }
    }
}

/* ---- Micro-kernel: C (mr × nr) = alpha·Σ_p a_pairs ⊙ b_pairs + beta·C ---- */

/* mr and nv (zmm per B row: 1 for nr ≤ 16, else 2) are constants in every instance below, so
 * the accumulators live in registers. */
GEMM_INLINE GEMM_TARGET void
gemm_micro_kernel (const int mr, const int nv, int kp, const uint32_t *a /* (mr, A_LD) */,
                   const uint32_t *b /* (kp, NR) */, float *c /* (mr, ldc) */, int ldc, int nr, float alpha,
                   float beta)
{
  __m512 acc[GEMM_MR][2];
  for (int m = 0; m < mr; m++)
    {
      for (int v = 0; v < nv; v++)
        acc[m][v] = _mm512_setzero_ps ();
      _mm_prefetch ((const char *) (c + (size_t) m * ldc), _MM_HINT_T0);
      if (nv == 2)
        _mm_prefetch ((const char *) (c + (size_t) m * ldc + 16), _MM_HINT_T0);
    }
  const gemm_pair_alias *ap = a;
  for (int p = 0; p < kp; p++)
    {
      __m512bh b0 = (__m512bh) _mm512_loadu_si512 (b + (size_t) p * GEMM_NR);
      __m512bh b1 = nv == 2 ? (__m512bh) _mm512_loadu_si512 (b + (size_t) p * GEMM_NR + 16) : b0;
#pragma GCC unroll 12
      for (int m = 0; m < mr; m++)
        {
          __m512bh am = (__m512bh) _mm512_set1_epi32 ((int) ap[m * GEMM_A_LD + p]);
          acc[m][0] = _mm512_dpbf16_ps (acc[m][0], am, b0);
          if (nv == 2)
            acc[m][1] = _mm512_dpbf16_ps (acc[m][1], am, b1);
        }
    }
  __mmask16 mask[2] = { gemm_mask (nr), gemm_mask (nr - 16) };
  __m512 alpha_v = _mm512_set1_ps (alpha), beta_v = _mm512_set1_ps (beta);
  for (int m = 0; m < mr; m++)
    for (int v = 0; v < nv; v++)
      {
        float *cp = c + (size_t) m * ldc + 16 * v;
        __m512 r = _mm512_mul_ps (acc[m][v], alpha_v);
        if (beta != 0.0f) /* beta = 0: C is not read, as in sgemm */
          r = _mm512_fmadd_ps (beta_v, _mm512_maskz_loadu_ps (mask[v], cp), r);
        _mm512_mask_storeu_ps (cp, mask[v], r);
      }
}

typedef void (*gemm_kernel_fn) (int kp, const uint32_t *a, const uint32_t *b, float *c, int ldc, int nr, float alpha,
                                float beta);

#define GEMM_KERNEL(mr, nv)                                                                                     \
  GEMM_TARGET static void gemm_kernel_##mr##x##nv (int kp, const uint32_t *a, const uint32_t *b, float *c,      \
                                                   int ldc, int nr, float alpha, float beta)                    \
  {                                                                                                             \
    gemm_micro_kernel (mr, nv, kp, a, b, c, ldc, nr, alpha, beta);                                              \
  }
#define GEMM_KERNELS(mr) GEMM_KERNEL (mr, 1) GEMM_KERNEL (mr, 2)
GEMM_KERNELS (1) GEMM_KERNELS (2) GEMM_KERNELS (3) GEMM_KERNELS (4) GEMM_KERNELS (5) GEMM_KERNELS (6)
GEMM_KERNELS (7) GEMM_KERNELS (8) GEMM_KERNELS (9) GEMM_KERNELS (10) GEMM_KERNELS (11) GEMM_KERNELS (12)

/* [nv - 1][mr - 1] */
static const gemm_kernel_fn gemm_kernels[2][GEMM_MR] = {
  { gemm_kernel_1x1, gemm_kernel_2x1, gemm_kernel_3x1, gemm_kernel_4x1, gemm_kernel_5x1, gemm_kernel_6x1,
    gemm_kernel_7x1, gemm_kernel_8x1, gemm_kernel_9x1, gemm_kernel_10x1, gemm_kernel_11x1, gemm_kernel_12x1 },
  { gemm_kernel_1x2, gemm_kernel_2x2, gemm_kernel_3x2, gemm_kernel_4x2, gemm_kernel_5x2, gemm_kernel_6x2,
    gemm_kernel_7x2, gemm_kernel_8x2, gemm_kernel_9x2, gemm_kernel_10x2, gemm_kernel_11x2, gemm_kernel_12x2 },
};

/* ---- Prefetching the next block ----
 * Each block's packing reads fresh rows from DRAM; left to the hardware prefetchers it stalls
 * (the C = 128 layer GEMMs ran at 5–15 GB/s of a core's 36). So while one block computes, the
 * rows the next block will pack (and the C rows it will update) are fetched into L2, a few
 * cache lines after every micro-kernel call. */

typedef struct {
  const char *base[3];
  size_t stride[3]; /* bytes between rows */
  int rows[3];
  int lines[3];     /* cache lines per row */
  int regions;
  int region, row, line; /* the next line to fetch */
} gemm_prefetch;

static void
gemm_prefetch_add (gemm_prefetch *pf, const float *base, int rows, int floats_per_row, int ld)
{
  int r = pf->regions++;
  pf->base[r] = (const char *) base;
  pf->stride[r] = (size_t) ld * sizeof (float);
  pf->rows[r] = rows;
  pf->lines[r] = (floats_per_row * (int) sizeof (float) + 63) / 64 + 1; /* + 1: rows need not start on a line */
}

/* Plans the block after (jc, pc, ic) in the loop order of gemm_bf16_blocked; returns its lines. */
static long
gemm_prefetch_plan (const gemm_problem *pr, int jc, int pc, int ic, int kc_step, gemm_prefetch *pf)
{
  memset (pf, 0, sizeof *pf);
  int new_b = 0;
  ic += GEMM_MC;
  if (ic >= pr->M)
    {
      ic = 0, pc += kc_step, new_b = 1;
      if (pc >= pr->K)
        {
          pc = 0, jc += GEMM_NC;
          if (jc >= pr->N)
            return 0;
        }
    }
  int mc = gemm_min (GEMM_MC, pr->M - ic), kc = gemm_min (kc_step, pr->K - pc), nc = gemm_min (GEMM_NC, pr->N - jc);
  if (pr->trans_a)
    gemm_prefetch_add (pf, pr->A + (size_t) pc * pr->lda + ic, kc, mc, pr->lda);
  else
    gemm_prefetch_add (pf, pr->A + (size_t) ic * pr->lda + pc, mc, kc, pr->lda);
  if (new_b && pr->trans_b)
    gemm_prefetch_add (pf, pr->B + (size_t) jc * pr->ldb + pc, nc, kc, pr->ldb);
  else if (new_b)
    gemm_prefetch_add (pf, pr->B + (size_t) pc * pr->ldb + jc, kc, nc, pr->ldb);
  gemm_prefetch_add (pf, pr->C + (size_t) ic * pr->ldc + jc, mc, nc, pr->ldc);
  long lines = 0;
  for (int r = 0; r < pf->regions; r++)
    lines += (long) pf->rows[r] * pf->lines[r];
  return lines;
}

GEMM_INLINE GEMM_TARGET void
gemm_prefetch_step (gemm_prefetch *pf, long lines)
{
  while (lines > 0 && pf->region < pf->regions)
    {
      int r = pf->region;
      const char *row = pf->base[r] + (size_t) pf->row * pf->stride[r];
      int end = pf->line + (int) (lines < pf->lines[r] - pf->line ? lines : pf->lines[r] - pf->line);
      for (int l = pf->line; l < end; l++)
        _mm_prefetch (row + (size_t) l * 64, _MM_HINT_T1);
      lines -= end - pf->line;
      pf->line = end;
      if (pf->line == pf->lines[r])
        {
          pf->line = 0;
          if (++pf->row == pf->rows[r])
            pf->row = 0, pf->region++;
        }
    }
}

/* The loops around the micro-kernel, on one thread (Goto/BLIS order: B block packed once per
 * (jc, pc), A block once per (jc, pc, ic), a B panel reused down the whole A block). */
/* a_kept, b_kept (NULL: never): set once this call leaves an A (B) that is one whole block
 * packed; while set, a later call on the same A (B) skips packing it again. */
GEMM_TARGET static void
gemm_bf16_blocked (const gemm_problem *pr, uint32_t *a_pack /* (MC, A_LD) */,
                   uint32_t *b_pack /* (NC/NR, KC/2, NR) */, int *a_kept, int *b_kept)
{
  int kc_step = gemm_kc_step (pr->K);
  int a_whole = pr->M <= GEMM_MC && pr->K <= kc_step, b_whole = pr->N <= GEMM_NC && pr->K <= kc_step;
  gemm_prefetch pf;
  for (int jc = 0; jc < pr->N; jc += GEMM_NC)
    {
      int nc = gemm_min (GEMM_NC, pr->N - jc);
      for (int pc = 0; pc < pr->K; pc += kc_step)
        {
          int kc = gemm_min (kc_step, pr->K - pc), kp = (kc + 1) / 2, kp16 = gemm_round_up (kp, 16);
          float beta = pc == 0 ? pr->beta : 1.0f; /* later K blocks add onto the first */
          if (!(b_whole && b_kept && *b_kept))
            gemm_pack_b (pr, pc, kc, jc, nc, b_pack);
          if (b_whole && b_kept)
            *b_kept = 1;
          for (int ic = 0; ic < pr->M; ic += GEMM_MC)
            {
              int mc = gemm_min (GEMM_MC, pr->M - ic);
              if (!(a_whole && a_kept && *a_kept))
                gemm_pack_a (pr, ic, mc, pc, kc, a_pack);
              if (a_whole && a_kept)
                *a_kept = 1;
              long lines = gemm_prefetch_plan (pr, jc, pc, ic, kc_step, &pf);
              long calls = (long) ((nc + GEMM_NR - 1) / GEMM_NR) * ((mc + GEMM_MR - 1) / GEMM_MR);
              long lines_per_call = (lines + calls - 1) / calls;
              for (int jr = 0; jr < nc; jr += GEMM_NR)
                {
                  int nr = gemm_min (GEMM_NR, nc - jr);
                  const uint32_t *panel = b_pack + (size_t) (jr / GEMM_NR) * kp16 * GEMM_NR;
                  for (int ir = 0; ir < mc; ir += GEMM_MR)
                    {
                      int mr = gemm_min (GEMM_MR, mc - ir);
                      gemm_kernels[nr > 16][mr - 1](kp, a_pack + (size_t) ir * GEMM_A_LD, panel,
                                                     pr->C + (size_t) (ic + ir) * pr->ldc + jc + jr, pr->ldc, nr,
                                                     pr->alpha, beta);
                      gemm_prefetch_step (&pf, lines_per_call);
                    }
                }
            }
        }
    }
}

#endif /* GEMM_HAVE_BF16_KERNEL */

/* ---- Threads and buffers ----
 * The split's extent is cut into chunks handed out first come, first served, to the calling
 * thread and to helper threads of our own. Not OpenMP: libgomp's idle threads spin without
 * yielding (OMP_WAIT_POLICY can only be chosen before the program starts), and when another
 * process holds one of two cores, a spinning waiter and the thread with work share the other:
 * each parallel GEMM then cost a scheduler time slice (measured: 17 ms for a 0.5 ms GEMM).
 * Helpers here yield while they spin, then sleep; the caller works too and never waits for a
 * helper that has not started (it takes the chunks itself), only for chunks being worked on. */

typedef enum { GEMM_SPLIT_NONE, GEMM_SPLIT_M, GEMM_SPLIT_N, GEMM_SPLIT_K } gemm_split;

#define GEMM_MAX_THREADS 64
/* sched_yield calls a helper makes before it sleeps: some 100 µs on an idle core, enough to
 * carry it from one GEMM of a layer to the next without a wake-up */
#define GEMM_HELPER_SPINS 200

/* How to share pr among at most max_threads: the split that repeats the least work. */
static gemm_split
gemm_choose_split (const gemm_problem *pr, int max_threads)
{
  double macs = (double) pr->M * pr->N * pr->K;
  if (max_threads < 2 || macs < GEMM_PARALLEL_MIN_MACS)
    return GEMM_SPLIT_NONE;
  /* extra elements each split handles: M repacks B, N repacks A, K adds partial C's */
  double cost[4] = { 0, (double) pr->K * pr->N, (double) pr->K * pr->M, (double) pr->M * pr->N };
  int fits[4] = { 0, pr->M >= 2 * GEMM_MR * max_threads, pr->N >= 2 * GEMM_NR * max_threads,
                  pr->K >= GEMM_KC * max_threads };
  gemm_split best = GEMM_SPLIT_NONE;
  for (int s = GEMM_SPLIT_M; s <= GEMM_SPLIT_K; s++)
    if (fits[s] && (best == GEMM_SPLIT_NONE || cost[s] < cost[best]))
      best = (gemm_split) s;
  return best;
}

/* The part of pr in [lo, hi) along the split. */
static gemm_problem
gemm_range (const gemm_problem *pr, gemm_split split, int lo, int hi)
{
  gemm_problem part = *pr;
  switch (split)
    {
    case GEMM_SPLIT_M:
      part.M = hi - lo;
      part.A += pr->trans_a ? (size_t) lo : (size_t) lo * pr->lda;
      part.C += (size_t) lo * pr->ldc;
      break;
    case GEMM_SPLIT_N:
      part.N = hi - lo;
      part.B += pr->trans_b ? (size_t) lo * pr->ldb : (size_t) lo;
      part.C += lo;
      break;
    case GEMM_SPLIT_K:
      part.K = hi - lo;
      part.A += pr->trans_a ? (size_t) lo * pr->lda : (size_t) lo;
      part.B += pr->trans_b ? (size_t) lo : (size_t) lo * pr->ldb;
      break;
    case GEMM_SPLIT_NONE:
      break;
    }
  return part;
}

static void
gemm_cblas (const gemm_problem *pr)
{
  cblas_sgemm (CblasRowMajor, pr->trans_a ? CblasTrans : CblasNoTrans, pr->trans_b ? CblasTrans : CblasNoTrans,
               pr->M, pr->N, pr->K, pr->alpha, pr->A, pr->lda, pr->B, pr->ldb, pr->beta, pr->C, pr->ldc);
}

#if GEMM_HAVE_BF16_KERNEL
/* One parallel bf16 GEMM: what its workers share. */
typedef struct {
  const gemm_problem *pr;
  gemm_split split;
  int workers;               /* at most this many take part: one pack slot each */
  int extent, chunk, chunks; /* along the split */
  int next_chunk, next_slot; /* handed out with atomic increments */
  uint32_t *packs;           /* (workers, per_thread): each worker's A block, then its B block */
  size_t per_thread, a_pairs;
  float *partial;            /* K split: (chunks, M, N), one sum per chunk, so that the total
                                does not depend on which worker took which chunk */
} gemm_team;

/* Takes chunks until none is left (the caller and every helper run this). */
static void
gemm_team_work (gemm_team *team)
{
  int slot = __atomic_fetch_add (&team->next_slot, 1, __ATOMIC_RELAXED);
  if (slot >= team->workers)
    return;
  const gemm_problem *pr = team->pr;
  uint32_t *a_pack = team->packs + team->per_thread * slot, *b_pack = a_pack + team->a_pairs;
  int a_kept = 0, b_kept = 0;
  for (;;)
    {
      int c = __atomic_fetch_add (&team->next_chunk, 1, __ATOMIC_RELAXED);
      if (c >= team->chunks)
        break;
      int lo = c * team->chunk;
      gemm_problem part = gemm_range (pr, team->split, lo, gemm_min (team->extent, lo + team->chunk));
      if (team->split == GEMM_SPLIT_K)
        {
          part.C = team->partial + (size_t) c * pr->M * pr->N;
          part.ldc = pr->N;
          part.beta = 0.0f;
        }
      /* every M chunk multiplies the same B, every N chunk the same A */
      gemm_bf16_blocked (&part, a_pack, b_pack, team->split == GEMM_SPLIT_N ? &a_kept : NULL,
                         team->split == GEMM_SPLIT_M ? &b_kept : NULL);
    }
}

/* C = beta·C + the chunks' sums in chunk order. */
static void
gemm_team_reduce (const gemm_team *team)
{
  const gemm_problem *pr = team->pr;
  for (int i = 0; i < pr->M; i++)
    {
      float *restrict dst = pr->C + (size_t) i * pr->ldc;
      if (pr->beta == 0.0f) /* as sgemm: C is not read */
        memset (dst, 0, (size_t) pr->N * sizeof (float));
      else if (pr->beta != 1.0f)
        for (int j = 0; j < pr->N; j++)
          dst[j] *= pr->beta;
      for (int c = 0; c < team->chunks; c++)
        {
          const float *restrict src = team->partial + ((size_t) c * pr->M + i) * pr->N;
          for (int j = 0; j < pr->N; j++)
            dst[j] += src[j];
        }
    }
}

/* The helper threads, created on first need and kept for the life of the process. A job is
 * published by setting `team`, then `open`, then bumping `generation`; a helper counts itself
 * in `active` BEFORE it looks at `open`, and the caller closes `open` BEFORE it waits for
 * `active` to drain, so no helper can touch a team after its caller returned. */
static struct {
  pthread_mutex_t lock;
  pthread_cond_t wake;
  int helpers;           /* created (under lock) */
  int sleeping;          /* blocked on `wake` (under lock) */
  int busy;              /* a caller owns the pool (atomic) */
  unsigned generation;   /* one per job (atomic) */
  int open;              /* helpers may join the current job (atomic) */
  int active;            /* helpers between joining and leaving (atomic) */
  gemm_team *team;
} gemm_pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0, NULL };

static void *
gemm_helper_main (void *unused)
{
  unsigned seen = __atomic_load_n (&gemm_pool.generation, __ATOMIC_ACQUIRE);
  for (;;)
    {
      for (int spin = 0; spin < GEMM_HELPER_SPINS && __atomic_load_n (&gemm_pool.generation, __ATOMIC_ACQUIRE) == seen;
           spin++)
        sched_yield ();
      pthread_mutex_lock (&gemm_pool.lock);
      gemm_pool.sleeping++;
      while (__atomic_load_n (&gemm_pool.generation, __ATOMIC_ACQUIRE) == seen)
        pthread_cond_wait (&gemm_pool.wake, &gemm_pool.lock);
      gemm_pool.sleeping--;
      pthread_mutex_unlock (&gemm_pool.lock);
      seen = __atomic_load_n (&gemm_pool.generation, __ATOMIC_ACQUIRE);
      __atomic_fetch_add (&gemm_pool.active, 1, __ATOMIC_SEQ_CST);
      if (__atomic_load_n (&gemm_pool.open, __ATOMIC_SEQ_CST))
        gemm_team_work (gemm_pool.team);
      __atomic_fetch_sub (&gemm_pool.active, 1, __ATOMIC_SEQ_CST);
    }
  return unused;
}

/* Runs team on the calling thread and up to team->workers - 1 helpers; 0 if the pool is in
 * use by another caller (or no helper could be started), and nothing was done. */
static int
gemm_pool_run (gemm_team *team)
{
  if (__atomic_exchange_n (&gemm_pool.busy, 1, __ATOMIC_ACQUIRE))
    return 0;
  pthread_mutex_lock (&gemm_pool.lock);
  while (gemm_pool.helpers < team->workers - 1)
    {
      pthread_t thread;
      pthread_attr_t attr;
      pthread_attr_init (&attr);
      pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
      int failed = pthread_create (&thread, &attr, gemm_helper_main, NULL);
      pthread_attr_destroy (&attr);
      if (failed)
        break;
      gemm_pool.helpers++;
    }
  int have_helpers = gemm_pool.helpers > 0;
  if (have_helpers)
    {
      gemm_pool.team = team;
      __atomic_store_n (&gemm_pool.open, 1, __ATOMIC_SEQ_CST);
      __atomic_fetch_add (&gemm_pool.generation, 1, __ATOMIC_RELEASE);
      if (gemm_pool.sleeping)
        pthread_cond_broadcast (&gemm_pool.wake);
    }
  pthread_mutex_unlock (&gemm_pool.lock);
  if (!have_helpers)
    {
      __atomic_store_n (&gemm_pool.busy, 0, __ATOMIC_RELEASE);
      return 0;
    }
  gemm_team_work (team);
  __atomic_store_n (&gemm_pool.open, 0, __ATOMIC_SEQ_CST);
  while (__atomic_load_n (&gemm_pool.active, __ATOMIC_SEQ_CST) > 0)
    sched_yield (); /* only helpers inside a chunk are waited for */
  __atomic_store_n (&gemm_pool.busy, 0, __ATOMIC_RELEASE);
  return 1;
}

static void
gemm_bf16 (const gemm_problem *pr)
{
  int max_threads = gemm_min (nfn_get_threads (), GEMM_MAX_THREADS);
  gemm_team team = { .pr = pr, .split = gemm_choose_split (pr, max_threads) };
  team.workers = team.split == GEMM_SPLIT_NONE ? 1 : max_threads;
  team.chunks = 1;
  if (team.workers > 1)
    {
      /* a few chunks per worker; two where each chunk must repack a multi-block operand
       * (a one-block B of an M split, or A of an N split, is packed once per worker) */
      int granule = team.split == GEMM_SPLIT_M ? GEMM_MR : team.split == GEMM_SPLIT_N ? GEMM_NR : 2;
      int kept = team.split == GEMM_SPLIT_M   ? pr->N <= GEMM_NC && pr->K <= GEMM_KC
                 : team.split == GEMM_SPLIT_N ? pr->M <= GEMM_MC && pr->K <= GEMM_KC
                                              : 0;
      team.extent = team.split == GEMM_SPLIT_M ? pr->M : team.split == GEMM_SPLIT_N ? pr->N : pr->K;
      int wanted = team.workers * (kept ? 4 : 2);
      team.chunk = gemm_round_up ((team.extent + wanted - 1) / wanted, granule);
      team.chunks = (team.extent + team.chunk - 1) / team.chunk;
    }
  /* per worker: one A block and one B block, sized to what this problem can use; a K chunk
   * may block differently, but never beyond min(GEMM_KC, K rounded up to even) */
  int kc = gemm_min (GEMM_KC, gemm_round_up (pr->K, 2)), kp16 = gemm_round_up (kc / 2, 16);
  team.a_pairs = (size_t) gemm_min (GEMM_MC, pr->M) * GEMM_A_LD;
  size_t b_pairs = (size_t) gemm_round_up (gemm_min (GEMM_NC, pr->N), GEMM_NR) * kp16;
  team.per_thread = (size_t) gemm_round_up ((int) (team.a_pairs + b_pairs), 16);
  size_t partial_floats = team.split == GEMM_SPLIT_K ? (size_t) team.chunks * pr->M * pr->N : 0;
  size_t bytes = (team.per_thread * team.workers + partial_floats) * 4;
  void *buffer = aligned_alloc (64, (bytes + 63) / 64 * 64);
  if (!buffer)
    {
      gemm_cblas (pr); /* out of memory: the exact answer instead of none */
      return;
    }
  team.packs = buffer;
  team.partial = (float *) (team.packs + team.per_thread * team.workers);
  if (team.workers == 1)
    gemm_bf16_blocked (pr, team.packs, team.packs + team.a_pairs, NULL, NULL);
  else
    {
      /* the same chunks, the same sums, on however many workers actually came */
      if (!gemm_pool_run (&team))
        gemm_team_work (&team);
      if (team.split == GEMM_SPLIT_K)
        gemm_team_reduce (&team);
    }
  free (buffer);
}
#endif

void
nfn_gemm (CBLAS_ORDER order, CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, int M, int N, int K, float alpha,
          const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
  if (gemm_precision == NFN_PRECISION_FP32)
    {
      cblas_sgemm (order, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
      return;
    }
  /* a column-major C is a row-major Cᵀ = op(B)ᵀ·op(A)ᵀ */
  int ta = trans_a == CblasTrans || trans_a == CblasConjTrans;
  int tb = trans_b == CblasTrans || trans_b == CblasConjTrans;
  gemm_problem pr = order == CblasColMajor
                      ? (gemm_problem) { tb, ta, N, M, K, alpha, beta, B, A, C, ldb, lda, ldc }
                      : (gemm_problem) { ta, tb, M, N, K, alpha, beta, A, B, C, lda, ldb, ldc };
  int a_cols = pr.trans_a ? pr.M : pr.K, b_cols = pr.trans_b ? pr.K : pr.N;
  int valid = (order == CblasRowMajor || order == CblasColMajor) && pr.M >= 0 && pr.N >= 0 && pr.K >= 0
              && pr.lda >= (a_cols > 1 ? a_cols : 1) && pr.ldb >= (b_cols > 1 ? b_cols : 1)
              && pr.ldc >= (pr.N > 1 ? pr.N : 1);
  /* invalid arguments get OpenBLAS's own report; an empty sum is only beta·C: both are
   * sgemm's business, bit for bit */
  if (!valid || pr.M == 0 || pr.N == 0 || pr.K == 0 || alpha == 0.0f)
    {
      cblas_sgemm (order, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
      return;
    }
#if GEMM_HAVE_BF16_KERNEL
  gemm_bf16 (&pr);
#else
  gemm_cblas (&pr);
#endif
}
