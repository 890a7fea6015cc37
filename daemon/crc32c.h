/*
 * crc32c.h -- CRC-32C (Castagnoli), as used by every on-disk record.
 *
 * Software slicing-by-8, with the SSE4.2 crc32 instruction when the CPU has
 * it (checked at run time).  Both give identical results.
 */
#ifndef RAFTKV_CRC32C_H
#define RAFTKV_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Extends crc (0 to start) over len bytes of buf (borrowed) and returns the
 * new value.  crc32c(crc32c(0, a, n), b, m) equals the CRC of a||b.
 */
uint32_t	 crc32c(uint32_t crc, const void *buf, size_t len);
/* Same, always in software; for tests that compare both paths. */
uint32_t	 crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* True if crc32c() uses the hardware instruction on this CPU. */
int		 crc32c_hw_available(void);

#endif /* RAFTKV_CRC32C_H */
