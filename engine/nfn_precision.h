/* nfn_precision.h — the precision of nfn_gemm, one per thread (nfn_gemm.h tells what each one
 * computes). Its own header because <cblas.h>, which nfn_gemm.h needs, clashes with GSL's BLAS
 * header: code on GSL's side (the trainer) can switch precision without either. */
#ifndef NFN_PRECISION_H
#define NFN_PRECISION_H

#include "nfn_core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  NFN_PRECISION_FP32 = 0,
  NFN_PRECISION_BF16 = 1
} nfn_precision;

/* "fp32" or "bf16". */
const char *nfn_precision_name (nfn_precision precision);
/* 1 if this CPU (and OS) runs the bf16 kernel. */
int nfn_bf16_supported (void);
/* Sets the precision of every later nfn_gemm called from this thread (a new thread starts in
 * FP32; the engine's helper threads work at their caller's precision). Other threads keep
 * theirs. BF16 on a CPU without AVX512-BF16 sets FP32 and returns NFN_ERR_UNSUPPORTED;
 * an unknown value returns NFN_ERR_ARG and changes nothing. */
nfn_status nfn_set_precision (nfn_precision precision);
/* The precision this thread's GEMMs run at now (FP32 after a refused BF16 request). */
nfn_precision nfn_get_precision (void);

#ifdef __cplusplus
}
#endif
#endif
