/* storage-format.c -- encoders and validating decoders of the on-disk formats. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "crc32c.h"
#include "storage-format.h"

/* Stores v little-endian. */
void
fmt_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Stores v little-endian. */
void
fmt_put64(uint8_t *p, uint64_t v)
{
	fmt_put32(p, (uint32_t)v);
	fmt_put32(p + 4, (uint32_t)(v >> 32));
}

/* Loads a little-endian 32-bit value. */
uint32_t
fmt_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* Loads a little-endian 64-bit value. */
uint64_t
fmt_get64(const uint8_t *p)
{
	return (uint64_t)fmt_get32(p) | (uint64_t)fmt_get32(p + 4) << 32;
}

/* True if all len bytes of p are zero. */
static int
all_zero(const uint8_t *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/*
 * Starts a fixed-size image (segment header, hard state, meta, snapshot
 * header): zeroes it and writes its 8-byte magic and the format version.
 */
static void
fmt_begin(uint8_t *out, size_t size, const char *magic)
{
	memset(out, 0, size);
	memcpy(out, magic, 8);
	fmt_put32(out + 8, FMT_VERSION);
}

/* Ends an image: stores the CRC-32C of its first crc_off bytes there. */
static void
fmt_seal(uint8_t *out, size_t crc_off)
{
	fmt_put32(out + crc_off, crc32c(0, out, crc_off));
}

/* Writes the segment header with its CRC. */
void
seg_header_encode(const struct seg_header *h, uint8_t *out)
{
	fmt_begin(out, SEG_HEADER_SIZE, SEG_MAGIC);
	fmt_put32(out + 12, SEG_HEADER_SIZE);
	fmt_put64(out + 16, h->first_index);
	fmt_put64(out + 24, h->epoch);
	fmt_seal(out, 32);
}

/* Validates a segment header; fills why on failure. */
static enum seg_hdr_state
seg_header_decode(const uint8_t *buf, size_t len, struct seg_header *h,
    char *why, size_t whylen)
{
	uint32_t	 crc;

	if (len < SEG_HEADER_SIZE) {
		if (all_zero(buf, len))
			return SEG_HDR_ZERO;
		snprintf(why, whylen, "a %d-byte segment header, found %zu "
		    "bytes", SEG_HEADER_SIZE, len);
		return SEG_HDR_BAD;
	}
	if (all_zero(buf, SEG_HEADER_SIZE))
		return SEG_HDR_ZERO;
	if (memcmp(buf, SEG_MAGIC, 8) != 0) {
		snprintf(why, whylen, "segment magic \"%s\"", SEG_MAGIC);
		return SEG_HDR_BAD;
	}
	crc = crc32c(0, buf, 32);
	if (fmt_get32(buf + 32) != crc) {
		snprintf(why, whylen, "segment header crc32c %08" PRIx32
		    ", found %08" PRIx32, crc, fmt_get32(buf + 32));
		return SEG_HDR_BAD;
	}
	if (fmt_get32(buf + 8) != FMT_VERSION ||
	    fmt_get32(buf + 12) != SEG_HEADER_SIZE) {
		snprintf(why, whylen, "format version %d, found %" PRIu32,
		    FMT_VERSION, fmt_get32(buf + 8));
		return SEG_HDR_BAD;
	}
	h->first_index = fmt_get64(buf + 16);
	h->epoch = fmt_get64(buf + 24);
	if (h->first_index == 0) {
		snprintf(why, whylen, "a first index >= 1, found 0");
		return SEG_HDR_BAD;
	}
	return SEG_HDR_OK;
}

/* Computes a record's CRC over its header (after the CRC field) and payload. */
static uint32_t
rec_crc(const uint8_t *hdr, const uint8_t *payload, uint32_t len)
{
	return crc32c(crc32c(0, hdr + 4, REC_HEADER_SIZE - 4), payload, len);
}

/* Writes a record header with its CRC. */
void
rec_header_encode(const struct rec_header *h, const uint8_t *payload,
    uint8_t *out)
{
	memset(out, 0, REC_HEADER_SIZE);
	fmt_put32(out + 4, h->len);
	fmt_put64(out + 8, h->epoch);
	fmt_put64(out + 16, h->index);
	fmt_put64(out + 24, h->term);
	fmt_put64(out + 32, h->commit);
	out[40] = h->type;
	fmt_put32(out, rec_crc(out, payload, h->len));
}

/* Validates the record at buf[off..len) for a segment of epoch. */
int
rec_decode(const uint8_t *buf, size_t len, size_t off, uint64_t epoch,
    struct rec_header *h, char *why, size_t whylen)
{
	const uint8_t	*p = buf + off;
	uint32_t	 crc;

	if (len - off < REC_HEADER_SIZE) {
		if (why != NULL)
			snprintf(why, whylen, "a %d-byte record header, found "
			    "%zu bytes", REC_HEADER_SIZE, len - off);
		return 0;
	}
	h->len = fmt_get32(p + 4);
	h->epoch = fmt_get64(p + 8);
	h->index = fmt_get64(p + 16);
	h->term = fmt_get64(p + 24);
	h->commit = fmt_get64(p + 32);
	h->type = p[40];
	if (h->epoch != epoch) {
		if (why != NULL)
			snprintf(why, whylen, "a record of segment epoch %016"
			    PRIx64 ", found epoch %016" PRIx64, epoch,
			    h->epoch);
		return 0;
	}
	if (h->len > REC_MAX_PAYLOAD || REC_SIZE(h->len) > len - off) {
		if (why != NULL)
			snprintf(why, whylen, "a record length that fits (%zu "
			    "bytes left), found %" PRIu32, len - off -
			    REC_HEADER_SIZE, h->len);
		return 0;
	}
	crc = rec_crc(p, p + REC_HEADER_SIZE, h->len);
	if (fmt_get32(p) != crc) {
		if (why != NULL)
			snprintf(why, whylen, "record crc32c %08" PRIx32
			    ", found %08" PRIx32, crc, fmt_get32(p));
		return 0;
	}
	if (h->type < RAFT_ENTRY_NORMAL || h->type > RAFT_ENTRY_NOOP ||
	    !all_zero(p + 41, 7)) {
		if (why != NULL)
			snprintf(why, whylen, "entry type 1..3 and zero "
			    "reserved bytes, found type %u", h->type);
		return 0;
	}
	return 1;
}

/* Scans a segment image, calling cb for each valid record. */
int
seg_scan(const uint8_t *buf, size_t len, size_t window, seg_record_fn *cb,
    void *ctx, struct seg_scan *out)
{
	struct rec_header h;
	size_t		 off, probe;
	uint64_t	 expect;
	int		 rc;

	memset(out, 0, sizeof(*out));
	out->hdr_state = seg_header_decode(buf, len, &out->hdr, out->why,
	    sizeof(out->why));
	if (out->hdr_state != SEG_HDR_OK) {
		out->tail = out->hdr_state == SEG_HDR_ZERO &&
		    all_zero(buf, len) ? SEG_TAIL_CLEAN : SEG_TAIL_TORN;
		return 0;
	}
	expect = out->hdr.first_index;
	out->last_index = expect - 1;
	off = SEG_HEADER_SIZE;
	while (off < len) {
		if (!rec_decode(buf, len, off, out->hdr.epoch, &h, out->why,
		    sizeof(out->why)))
			break;
		if (h.index != expect) {
			/* A good CRC but out of sequence is never a tear. */
			snprintf(out->why, sizeof(out->why), "index %" PRIu64
			    ", found %" PRIu64, expect, h.index);
			out->tail = SEG_TAIL_CORRUPT;
			out->bad_off = off;
			out->end = off;
			return 0;
		}
		if (cb != NULL && (rc = cb(ctx, &h, buf + off +
		    REC_HEADER_SIZE, off)) != 0)
			return rc;
		out->n_records++;
		out->last_index = h.index;
		out->last_term = h.term;
		if (h.commit > out->max_commit)
			out->max_commit = h.commit;
		expect++;
		off += REC_SIZE(h.len);
	}
	out->end = off;
	if (off >= len)
		return 0;
	out->bad_off = off;
	if (all_zero(buf + off, len - off)) {
		out->tail = SEG_TAIL_CLEAN;
		return 0;
	}
	/* Something invalid: is anything valid written beyond it? */
	out->tail = SEG_TAIL_TORN;
	out->stale = len - off >= REC_HEADER_SIZE &&
	    fmt_get64(buf + off + 8) != out->hdr.epoch &&
	    rec_decode(buf, len, off, fmt_get64(buf + off + 8), &h, NULL, 0);
	for (probe = off + 8; probe + REC_HEADER_SIZE <= len; probe += 8) {
		if (fmt_get64(buf + probe + 8) != out->hdr.epoch)
			continue;
		if (!rec_decode(buf, len, probe, out->hdr.epoch, &h, NULL, 0) ||
		    h.index < expect)
			continue;
		out->valid_beyond = probe;
		if (probe - off > window) {
			out->tail = SEG_TAIL_CORRUPT;
			snprintf(out->why + strlen(out->why), sizeof(out->why) -
			    strlen(out->why), " (valid record %" PRIu64
			    " at offset %zu lies beyond the unsynced window)",
			    h.index, probe);
			break;
		}
	}
	return 0;
}

/* Writes a hard-state image with its CRC. */
void
hs_encode(const struct raft_hard_state *hs, uint8_t *out)
{
	fmt_begin(out, HS_SIZE, HS_MAGIC);
	fmt_put64(out + 16, hs->term);
	fmt_put64(out + 24, hs->vote);
	fmt_put64(out + 32, hs->commit);
	fmt_seal(out, 40);
}

/* Validates a hard-state image. */
int
hs_decode(const uint8_t *buf, size_t len, struct raft_hard_state *hs,
    char *why, size_t whylen)
{
	uint32_t	 crc;

	if (len != HS_SIZE) {
		snprintf(why, whylen, "offset 0: expected %d bytes, found %zu",
		    HS_SIZE, len);
		return -EBADMSG;
	}
	if (memcmp(buf, HS_MAGIC, 8) != 0) {
		snprintf(why, whylen, "offset 0: expected magic \"%s\"",
		    HS_MAGIC);
		return -EBADMSG;
	}
	crc = crc32c(0, buf, 40);
	if (fmt_get32(buf + 40) != crc) {
		snprintf(why, whylen, "offset 40: expected crc32c %08" PRIx32
		    ", found %08" PRIx32, crc, fmt_get32(buf + 40));
		return -EBADMSG;
	}
	if (fmt_get32(buf + 8) != FMT_VERSION) {
		snprintf(why, whylen, "offset 8: expected version %d, found %"
		    PRIu32, FMT_VERSION, fmt_get32(buf + 8));
		return -EBADMSG;
	}
	hs->term = fmt_get64(buf + 16);
	hs->vote = fmt_get64(buf + 24);
	hs->commit = fmt_get64(buf + 32);
	return 0;
}

/* Writes a meta image with its CRC. */
void
meta_encode(uint64_t cluster_id, uint64_t node_id, uint8_t *out)
{
	fmt_begin(out, META_SIZE, META_MAGIC);
	fmt_put64(out + 16, cluster_id);
	fmt_put64(out + 24, node_id);
	fmt_seal(out, 32);
}

/* Validates a meta image. */
int
meta_decode(const uint8_t *buf, size_t len, uint64_t *cluster_id,
    uint64_t *node_id, char *why, size_t whylen)
{
	uint32_t	 crc;

	if (len != META_SIZE || memcmp(buf, META_MAGIC, 8) != 0) {
		snprintf(why, whylen, "offset 0: expected a %d-byte file "
		    "starting \"%s\"", META_SIZE, META_MAGIC);
		return -EBADMSG;
	}
	crc = crc32c(0, buf, 32);
	if (fmt_get32(buf + 32) != crc || fmt_get32(buf + 8) != FMT_VERSION) {
		snprintf(why, whylen, "offset 32: expected crc32c %08" PRIx32
		    " and version %d", crc, FMT_VERSION);
		return -EBADMSG;
	}
	*cluster_id = fmt_get64(buf + 16);
	*node_id = fmt_get64(buf + 24);
	return 0;
}

/* Writes a snapshot header with its own CRC. */
void
snap_header_encode(const struct snap_header *h, uint8_t *out)
{
	fmt_begin(out, SNAP_HEADER_SIZE, SNAP_MAGIC);
	fmt_put32(out + 12, h->config_len);
	fmt_put64(out + 16, h->index);
	fmt_put64(out + 24, h->term);
	fmt_seal(out, 40);
}

/* Validates a snapshot header. */
int
snap_header_decode(const uint8_t *buf, size_t len, struct snap_header *h,
    char *why, size_t whylen)
{
	uint32_t	 crc;

	if (len < SNAP_HEADER_SIZE || memcmp(buf, SNAP_MAGIC, 8) != 0) {
		snprintf(why, whylen, "offset 0: expected a snapshot header "
		    "starting \"%s\"", SNAP_MAGIC);
		return -EBADMSG;
	}
	crc = crc32c(0, buf, 40);
	if (fmt_get32(buf + 40) != crc || fmt_get32(buf + 8) != FMT_VERSION) {
		snprintf(why, whylen, "offset 40: expected header crc32c %08"
		    PRIx32 " and version %d", crc, FMT_VERSION);
		return -EBADMSG;
	}
	h->config_len = fmt_get32(buf + 12);
	h->index = fmt_get64(buf + 16);
	h->term = fmt_get64(buf + 24);
	if (h->config_len > SNAP_MAX_CONFIG || h->index == 0) {
		snprintf(why, whylen, "offset 12: expected a config length <= "
		    "%u and an index >= 1", SNAP_MAX_CONFIG);
		return -EBADMSG;
	}
	return 0;
}

/* Writes a snapshot trailer. */
void
snap_trailer_encode(uint64_t image_len, uint32_t crc, uint8_t *out)
{
	memset(out, 0, SNAP_TRAILER_SIZE);
	memcpy(out, SNAP_END_MAGIC, 8);
	fmt_put64(out + 8, image_len);
	fmt_put32(out + 16, crc32c(crc, out, 16));
}

/* Validates a snapshot trailer against the CRC of what came before. */
int
snap_trailer_decode(const uint8_t *buf, uint32_t crc_before,
    uint64_t *image_len, char *why, size_t whylen)
{
	uint32_t	 crc;

	if (memcmp(buf, SNAP_END_MAGIC, 8) != 0) {
		snprintf(why, whylen, "trailer magic \"%s\" (truncated file?)",
		    SNAP_END_MAGIC);
		return -EBADMSG;
	}
	crc = crc32c(crc_before, buf, 16);
	if (fmt_get32(buf + 16) != crc) {
		snprintf(why, whylen, "file crc32c %08" PRIx32 ", found %08"
		    PRIx32, crc, fmt_get32(buf + 16));
		return -EBADMSG;
	}
	*image_len = fmt_get64(buf + 8);
	return 0;
}

/* Checks that the header's config and a trailer fit a file of size bytes. */
int
snap_layout_check(const struct snap_header *h, uint64_t size,
    uint64_t *image_len, char *why, size_t whylen)
{
	if (size < SNAP_HEADER_SIZE + SNAP_TRAILER_SIZE) {
		snprintf(why, whylen, "offset 0: expected at least %d bytes, "
		    "found %" PRIu64, SNAP_HEADER_SIZE + SNAP_TRAILER_SIZE,
		    size);
		return -EBADMSG;
	}
	if ((uint64_t)h->config_len > size - SNAP_HEADER_SIZE -
	    SNAP_TRAILER_SIZE) {
		snprintf(why, whylen, "offset 12: expected a config that fits "
		    "the %" PRIu64 "-byte file, found %" PRIu32 " bytes", size,
		    h->config_len);
		return -EBADMSG;
	}
	*image_len = size - SNAP_HEADER_SIZE - SNAP_TRAILER_SIZE -
	    h->config_len;
	return 0;
}

/* Checks the trailer at body_end against the CRC and the image length. */
int
snap_trailer_check(const uint8_t *buf, uint32_t crc_before, uint64_t body_end,
    uint64_t image_len, uint32_t *file_crc, char *why, size_t whylen)
{
	char		 what[160];
	uint64_t	 found;

	if (snap_trailer_decode(buf, crc_before, &found, what,
	    sizeof(what)) != 0) {
		snprintf(why, whylen, "offset %" PRIu64 ": expected %s",
		    body_end, what);
		return -EBADMSG;
	}
	if (found != image_len) {
		snprintf(why, whylen, "offset %" PRIu64 ": expected image "
		    "length %" PRIu64 ", found %" PRIu64, body_end + 8,
		    image_len, found);
		return -EBADMSG;
	}
	*file_crc = fmt_get32(buf + 16);
	return 0;
}

/* Verifies a snapshot file held in memory. */
int
snap_image_verify(const uint8_t *buf, size_t len, struct snap_header *h,
    uint64_t *image_len, uint32_t *file_crc, char *why, size_t whylen)
{
	size_t	 body_end;
	int	 rc;

	if ((rc = snap_header_decode(buf, len, h, why, whylen)) != 0 ||
	    (rc = snap_layout_check(h, len, image_len, why, whylen)) != 0)
		return rc;
	body_end = len - SNAP_TRAILER_SIZE;
	return snap_trailer_check(buf + body_end, crc32c(0, buf, body_end),
	    body_end, *image_len, file_crc, why, whylen);
}
