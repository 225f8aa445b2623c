// CRsvg shim: librsvg (SVG -> cairo) and cairo's PNG writer (Debian librsvg2-dev), for rendering the sweep and
// comparison figures to PNG in TapsReports only.
#include <librsvg/rsvg.h>
#include <cairo.h>
