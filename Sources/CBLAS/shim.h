// CBLAS shim: exposes OpenBLAS's CBLAS interface to Swift (TapsTensor only).
#include <cblas.h>
// openblas_set_num_threads / openblas_get_num_threads are OpenBLAS extensions.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
// glibc's allocator tuning (mallopt), used once by TapsTensor's Parallel to keep tensors in the heap.
#if defined(__GLIBC__)
#include <malloc.h>
#endif
// The kernel family OpenBLAS chose at load time (DYNAMIC_ARCH builds), reported by `taps bench`.
char *openblas_get_corename(void);
