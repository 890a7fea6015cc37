/*
 * fuzz-storage.c -- libFuzzer target for the on-disk readers: the first
 * byte picks the reader (segment scan, hard state, meta, snapshot file:
 * header, trailer and the whole-file check), the rest is the file image.  Built with --enable-fuzzing
 * (CC=clang); tests/fuzz-storage-replay.c runs the regression corpus in
 * tests/storage-corpus/ through the same function in every `make check`.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "storage-format.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_count {
	uint64_t	 records;
	uint64_t	 bytes;
};

/* Touches every payload byte so ASan sees any out-of-bounds view. */
static int
fuzz_record(void *ctx, const struct rec_header *h, const uint8_t *payload,
    size_t off)
{
	struct fuzz_count *c = ctx;
	uint32_t	 i;
	uint8_t		 x = 0;

	(void)off;
	for (i = 0; i < h->len; i++)
		x ^= payload[i];
	c->records++;
	c->bytes += h->len + x;
	return 0;
}

/* Feeds one input to the reader its first byte selects. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_count	 c = { 0, 0 };
	struct seg_scan		 scan;
	struct raft_hard_state	 hs;
	struct snap_header	 sh;
	uint64_t		 a, b;
	uint32_t		 crc;
	char			 why[200];

	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		seg_scan(data + 1, size - 1, (data[0] >> 2) * 64, fuzz_record,
		    &c, &scan);
		if (scan.end > size - 1 || c.records != scan.n_records)
			__builtin_trap();
		break;
	case 1:
		hs_decode(data + 1, size - 1, &hs, why, sizeof(why));
		break;
	case 2:
		meta_decode(data + 1, size - 1, &a, &b, why, sizeof(why));
		break;
	case 3:
		if (snap_header_decode(data + 1, size - 1, &sh, why,
		    sizeof(why)) == 0 && size - 1 >= SNAP_HEADER_SIZE +
		    SNAP_TRAILER_SIZE)
			snap_trailer_decode(data + size - SNAP_TRAILER_SIZE, 0,
			    &a, why, sizeof(why));
		/* The whole-file check that install and file_verify apply. */
		if (snap_image_verify(data + 1, size - 1, &sh, &a, &crc, why,
		    sizeof(why)) == 0 && (a + sh.config_len + SNAP_HEADER_SIZE +
		    SNAP_TRAILER_SIZE != size - 1 || sh.index == 0))
			__builtin_trap();
		break;
	}
	return 0;
}
