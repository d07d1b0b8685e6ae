/* nfn_gemm.h — the engine's one GEMM entry point, in fp32 (OpenBLAS) or bf16 (AVX512-BF16).
 *
 * Shape letters: M rows of C, N columns of C, K the summed dimension; op(A) is (M × K),
 * op(B) is (K × N), C is (M × N).
 *
 * nfn_gemm has cblas_sgemm's arguments and meaning, so a call site swaps the name and nothing
 * else. What it computes depends on the calling thread's precision (nfn_set_precision):
 *   NFN_PRECISION_FP32  cblas_sgemm itself (bit for bit, OpenBLAS's own threads).
 *   NFN_PRECISION_BF16  op(A) and op(B) rounded to bfloat16 (round to nearest even, as the
 *                       CPU's vcvtne2ps2bf16 does it: subnormals become zero), multiplied
 *                       with vdpbf16ps and summed in fp32; alpha and beta applied in fp32.
 *                       Each product of two bf16 numbers is exact in fp32, so the only error
 *                       beyond fp32 summation is the rounding of the inputs (~2^-9 relative
 *                       each). Threads: the engine's own, at most nfn_get_threads().
 * bf16 needs a CPU with AVX512-BF16 (Intel Cooper Lake and later, AMD Zen 4 and later);
 * elsewhere nfn_set_precision reports NFN_ERR_UNSUPPORTED and GEMMs stay fp32.
 * The two never run at once, but OpenBLAS's idle workers spin ~0.1 s after each sgemm: on
 * several threads, bf16 GEMMs right after fp32 ones share the cores with them for that long.
 */
#ifndef NFN_GEMM_H
#define NFN_GEMM_H

#include <cblas.h>

#include "nfn_core.h"
#include "nfn_precision.h"

#ifdef __cplusplus
extern "C" {
#endif

/* C = alpha·op(A)·op(B) + beta·C, exactly cblas_sgemm's contract (beta = 0: C is not read).
 * Row- and column-major, every transpose combination. In bf16 a buffer the kernel cannot get
 * (out of memory) makes this one call run in fp32 instead: never a wrong result. */
void nfn_gemm (CBLAS_ORDER order, CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, int M, int N, int K,
               float alpha, const float *A /* op(A): (M, K) */, int lda, const float *B /* op(B): (K, N) */,
               int ldb, float beta, float *C /* (M, N) */, int ldc);

#ifdef __cplusplus
}
#endif
#endif
