/*
 * test-kv-cmd.c -- the command encoding: round trips, one case per decoder
 * rule, and a bounded seeded fuzz loop over random, truncated and mutated
 * payloads (decode must never crash; whatever decodes re-encodes to the same
 * bytes).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvcmd.h"
#include "tap.h"

/* Advances a xorshift64 generator; deterministic for a given seed. */
static uint64_t
next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Decodes buf and checks that re-encoding gives the same bytes. */
static int
decode_canonical(const unsigned char *buf, size_t len, int *decoded)
{
	struct kvcmd	 cmd;
	unsigned char	 out[256];
	char		 err[256];
	long long	 n;

	*decoded = 0;
	if (kvcmd_decode(buf, len, &cmd, err, sizeof err) != 0)
		return err[0] != '\0';	/* an error must say something */
	*decoded = 1;
	n = kvcmd_encode(&cmd, out, sizeof out, err, sizeof err);
	return n == (long long)len && memcmp(out, buf, len) == 0;
}

/* Runs the encoding tests and prints TAP. */
int
main(void)
{
	struct tap	 t = {0};
	struct kvcmd	 cmd, got;
	unsigned char	 buf[256], copy[256];
	char		 err[256];
	void		*heap = NULL;
	size_t		 len, i, cut;
	long long	 n;
	uint64_t	 seed = 42;
	unsigned	 bad = 0, decoded_total = 0, iter;
	int		 decoded;
	const char	 binkey[] = { 'k', 0, 'z', 0 };

	memset(&cmd, 0, sizeof cmd);
	cmd.op = KVCMD_PUT;
	cmd.has_cas = true;
	cmd.cas = 0x0102030405060708ULL;
	cmd.client_id = 77;
	cmd.seq = 3;
	cmd.key = binkey;
	cmd.key_len = sizeof binkey;
	cmd.value = "value";
	cmd.value_len = 5;
	n = kvcmd_encode(&cmd, buf, sizeof buf, err, sizeof err);
	is_int(&t, n, 12 + 8 + 16 + 4 + 5, "encoded length");
	is_int(&t, buf[0], KVCMD_VERSION, "byte 0 is the version");
	is_int(&t, buf[1], KVCMD_PUT, "byte 1 is the op");
	is_int(&t, buf[2], KVCMD_F_CAS | KVCMD_F_SESSION, "byte 2 flags");
	is_int(&t, buf[4], 4, "key length little-endian");
	is_int(&t, buf[12], 0x08, "cas little-endian");
	is_int(&t, kvcmd_decode(buf, (size_t)n, &got, err, sizeof err), 0,
	    "decode round trip");
	ok(&t, got.op == KVCMD_PUT && got.has_cas && got.cas == cmd.cas &&
	    got.client_id == 77 && got.seq == 3 && got.key_len == 4 &&
	    memcmp(got.key, binkey, 4) == 0 && got.value_len == 5 &&
	    memcmp(got.value, "value", 5) == 0, "all fields survive");
	ok(&t, (const unsigned char *)got.key == buf + 36,
	    "key points into the payload (borrowed)");
	is_int(&t, kvcmd_encode(&cmd, buf, (size_t)n - 1, err, sizeof err),
	    -ENOSPC, "encode into a short buffer");
	is_int(&t, kvcmd_encode_alloc(&cmd, &heap, &len, err, sizeof err), 0,
	    "encode into a new buffer");
	ok(&t, len == (size_t)n && memcmp(heap, buf, len) == 0,
	    "same bytes either way");
	free(heap);

	/* The minimal DELETE. */
	memset(&cmd, 0, sizeof cmd);
	cmd.op = KVCMD_DELETE;
	cmd.key = "k";
	cmd.key_len = 1;
	n = kvcmd_encode(&cmd, buf, sizeof buf, err, sizeof err);
	is_int(&t, n, 13, "plain DELETE is 13 bytes");
	is_int(&t, kvcmd_decode(buf, 13, &got, err, sizeof err), 0,
	    "decode DELETE");
	ok(&t, got.op == KVCMD_DELETE && !got.has_cas && got.client_id == 0,
	    "no cas, no session");
	cmd.value = "x";
	cmd.value_len = 1;
	is_int(&t, kvcmd_encode(&cmd, buf, sizeof buf, err, sizeof err),
	    -EINVAL, "encoder refuses DELETE with a value");
	cmd.value_len = 0;
	cmd.key_len = 0;
	is_int(&t, kvcmd_encode(&cmd, buf, sizeof buf, err, sizeof err),
	    -EINVAL, "encoder refuses an empty key");
	cmd.key_len = 1;
	cmd.client_id = 5;
	is_int(&t, kvcmd_encode(&cmd, buf, sizeof buf, err, sizeof err),
	    -EINVAL, "encoder refuses seq 0");

	/* One case per decoder rule, starting from a valid PUT. */
	memset(&cmd, 0, sizeof cmd);
	cmd.op = KVCMD_PUT;
	cmd.key = "key";
	cmd.key_len = 3;
	cmd.value = "val";
	cmd.value_len = 3;
	cmd.client_id = 9;
	cmd.seq = 1;
	n = kvcmd_encode(&cmd, buf, sizeof buf, err, sizeof err);
	len = (size_t)n;
#define MUTATE(off, val, name) do {					\
	memcpy(copy, buf, len);						\
	copy[(off)] = (unsigned char)(val);				\
	err[0] = '\0';							\
	is_int(&t, kvcmd_decode(copy, len, &got, err, sizeof err),	\
	    -EINVAL, "rejects %s", name);				\
	diag("%s", err);						\
} while (0)
	MUTATE(0, 2, "version 2");
	MUTATE(1, 0, "op 0");
	MUTATE(1, 3, "op 3");
	MUTATE(2, 0x04, "an unknown flag");
	MUTATE(2, KVCMD_F_SESSION | KVCMD_F_CAS, "a flag without its field");
	MUTATE(2, 0, "a missing flag (trailing bytes)");
	MUTATE(3, 1, "a reserved byte");
	MUTATE(4, 0, "an empty key");
	MUTATE(4, 200, "a key longer than the buffer");
	MUTATE(7, 0x80, "a 2 GiB key");
	MUTATE(8, 4, "a value longer than the buffer");
	MUTATE(11, 0xff, "a 4 GiB value");
	MUTATE(12, 0, "client id 0 (low byte)");	/* id 9 -> 0 */
	MUTATE(20, 0, "seq 0");
	memcpy(copy, buf, len);
	copy[1] = KVCMD_DELETE;
	is_int(&t, kvcmd_decode(copy, len, &got, err, sizeof err), -EINVAL,
	    "rejects DELETE with a value");
	is_int(&t, kvcmd_decode(buf, len + 1, &got, err, sizeof err), -EINVAL,
	    "rejects a trailing byte");
	bad = 0;
	for (cut = 0; cut < len; cut++)
		if (kvcmd_decode(buf, cut, &got, err, sizeof err) != -EINVAL)
			bad++;
	is_int(&t, bad, 0, "rejects every truncation");
	is_int(&t, kvcmd_decode(buf, len, &got, err, sizeof err), 0,
	    "the unmutated original still decodes");

	/* Fuzz: random bytes, random lengths; structured headers half the
	 * time so that the checks past the header get exercised. */
	bad = 0;
	for (iter = 0; iter < 200000; iter++) {
		size_t flen = (size_t)(next_rand(&seed) % 64);

		for (i = 0; i < flen; i++)
			copy[i] = (unsigned char)next_rand(&seed);
		if ((iter & 1) && flen >= 12) {
			copy[0] = 1;
			copy[1] = (unsigned char)(1 + next_rand(&seed) % 2);
			copy[2] &= 3;
			copy[3] = 0;
			copy[4] = (unsigned char)(next_rand(&seed) % 24);
			copy[5] = copy[6] = copy[7] = 0;
			copy[8] = (unsigned char)(next_rand(&seed) % 24);
			copy[9] = copy[10] = copy[11] = 0;
		}
		if (!decode_canonical(copy, flen, &decoded))
			bad++;
		decoded_total += (unsigned)decoded;
	}
	is_int(&t, bad, 0, "fuzz: no crash; errors explained; decodes are "
	    "canonical");
	ok(&t, decoded_total > 100, "fuzz reached valid payloads (%u)",
	    decoded_total);

	/* Every single-byte mutation of a valid payload. */
	bad = 0;
	for (i = 0; i < len; i++) {
		unsigned v;

		for (v = 0; v < 256; v++) {
			memcpy(copy, buf, len);
			copy[i] = (unsigned char)v;
			if (!decode_canonical(copy, len, &decoded))
				bad++;
		}
	}
	is_int(&t, bad, 0, "all single-byte mutations handled");
	return tap_done(&t);
}
