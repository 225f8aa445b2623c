// CTapsZlib shim (named apart from ZIPFoundation's own CZlib module): zlib's inflate API for gzip-compressed dataset files (TapsData only).
#include <zlib.h>
