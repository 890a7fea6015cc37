/*
 * fuzz-wire.c -- libFuzzer target for the peer message decoder: every
 * input is decoded by the canonical fast path and by jansson's strict
 * path, as one message, as a batch, and twice over in a batch
 * ("[input,input]"), and the run aborts if the fast path accepts what
 * jansson refuses or decodes it differently (docs/protocol.md,
 * "Decoding").  Built with --enable-fuzzing (CC=clang); tests/fuzz-wire-replay
 * (tests/fuzz-replay.c) runs tests/wire/ through the same function in
 * every `make check`.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
	char	*pair;

	if (!wire_paths_agree(body, size, &fuzz_limits, false) ||
	    !wire_paths_agree(body, size, &fuzz_limits, true))
		abort();
	if (size <= fuzz_limits.max_body &&
	    (pair = malloc(2 * size + 3)) != NULL) {
		pair[0] = '[';
		memcpy(pair + 1, body, size);
		pair[size + 1] = ',';
		memcpy(pair + size + 2, body, size);
		pair[2 * size + 2] = ']';
		if (!wire_paths_agree(pair, 2 * size + 3, &fuzz_limits, true))
			abort();
		free(pair);
	}
	return 0;
}
