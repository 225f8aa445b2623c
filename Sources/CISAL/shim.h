// CISAL shim: Intel ISA-L's CRC functions (Debian libisal-dev), for the CRC32C of TensorBoard's record
// format in TapsReports only. crc32_iscsi(buf, len, 0xFFFFFFFF) is CRC32C without its final inversion.
#include <isa-l/crc.h>
