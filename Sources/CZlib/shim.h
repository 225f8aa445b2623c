// CZlib shim: zlib's inflate API for gzip-compressed dataset files (TapsData only).
#include <zlib.h>
