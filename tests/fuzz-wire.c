/*
 * fuzz-wire.c -- libFuzzer target for the peer message decoder: every
 * input is decoded by the canonical fast path and by jansson's strict
 * path, as one message and as a batch, and the run aborts if the fast
 * path accepts what jansson refuses or decodes it differently
 * (docs/protocol.md, "Decoding").  Built with --enable-fuzzing (CC=clang);
 * tests/fuzz-wire-replay runs tests/wire/ through the same function in
 * every `make check`.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "wire-util.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small limits, so that the limit checks are reached too. */
static const struct wire_limits fuzz_limits = {
	.max_body = 64 * 1024,
	.max_entries = 16,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;

	if (!wire_paths_agree(body, size, &fuzz_limits, false) ||
	    !wire_paths_agree(body, size, &fuzz_limits, true))
		abort();
	return 0;
}
