/* The C reference for Straits' float32 sum kernel: the plain loop a C programmer writes,
 * built with gcc -O3 -march=native so that the compiler vectorises it for this CPU. */
#include <stddef.h>

void reference_sum(float *restrict dst, const float *restrict src, size_t count) {
    for (size_t i = 0; i < count; i++) dst[i] += src[i];
}
