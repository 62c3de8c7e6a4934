// The two OpenBLAS entry points Straits uses, declared here so the build does not depend on
// which cblas.h (reference, OpenBLAS pthread/openmp/serial) Debian's alternatives point at.
// Enum arguments are C ints: CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112.
#ifndef STRAITS_COPENBLAS_SHIM_H
#define STRAITS_COPENBLAS_SHIM_H

void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
void openblas_set_num_threads(int threads);

#endif
