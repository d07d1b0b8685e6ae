/* nfn_vector_math.h — let gcc vectorise sinf/cosf/tanhf loops with glibc's libmvec.
 *
 * glibc's <math.h> announces its vector variants only under -ffast-math; we do not want
 * fast-math's other rewrites, so this announces just these three, and loops over contiguous
 * float arrays compile to _ZGV…_sinf etc. (4 ulp instead of 1, far below float noise).
 * Include after <math.h>. */
#ifndef NFN_VECTOR_MATH_H
#define NFN_VECTOR_MATH_H

#include <math.h>

#if defined __x86_64__ && defined __GLIBC__ && defined __GNUC__ && !defined __clang__ \
    && !defined __FAST_MATH__
float sinf (float) __attribute__ ((__simd__ ("notinbranch")));
float cosf (float) __attribute__ ((__simd__ ("notinbranch")));
float tanhf (float) __attribute__ ((__simd__ ("notinbranch")));
#endif

#endif
