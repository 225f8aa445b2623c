// CImageCodecs shim: libpng's simplified read API and libjpeg-turbo's TurboJPEG API (no setjmp/longjmp),
// for TapsData's image reader only.
#include <png.h>
#include <turbojpeg.h>
