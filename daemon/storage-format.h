/*
 * storage-format.h -- the on-disk formats of the storage layer, as pure
 * functions over memory (no I/O), so that the fuzz target and the check
 * tool use exactly the readers that recovery uses.  docs/storage.md gives
 * every byte.  All integers are little-endian.
 */
#ifndef RAFTKV_STORAGE_FORMAT_H
#define RAFTKV_STORAGE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "raft.h"

#define FMT_VERSION		1

#define SEG_MAGIC		"RKVLOGSG"
#define SEG_HEADER_SIZE		40
#define REC_HEADER_SIZE		48
#define REC_MAX_PAYLOAD		(1u << 30)

#define HS_MAGIC		"RKVHARDS"
#define HS_SIZE			48

#define META_MAGIC		"RKVDATAD"
#define META_SIZE		40

#define SNAP_MAGIC		"RKVSNAPS"
#define SNAP_END_MAGIC		"RKVSNEND"
#define SNAP_HEADER_SIZE	48
#define SNAP_TRAILER_SIZE	24
#define SNAP_MAX_CONFIG		(1u << 20)

/* Rounds a payload length up to the 8-byte record alignment. */
#define REC_PAD(len)		(((size_t)(len) + 7) & ~(size_t)7)
#define REC_SIZE(len)		(REC_HEADER_SIZE + REC_PAD(len))

struct seg_header {
	uint64_t	 first_index;
	uint64_t	 epoch;		/* random per segment file */
};

struct rec_header {
	uint32_t	 len;
	uint64_t	 epoch;
	uint64_t	 index;
	uint64_t	 term;
	uint64_t	 commit;	/* the commit index when written */
	uint8_t		 type;
};

enum seg_tail {
	SEG_TAIL_CLEAN = 0,	/* after the last record: zeros or EOF */
	SEG_TAIL_TORN,		/* an invalid record, nothing valid beyond the window */
	SEG_TAIL_CORRUPT,	/* invalid data followed by valid records */
};

enum seg_hdr_state {
	SEG_HDR_OK = 0,
	SEG_HDR_ZERO,		/* never written (preallocated) */
	SEG_HDR_BAD,
};

/* What a scan of one segment image found. */
struct seg_scan {
	enum seg_hdr_state hdr_state;
	struct seg_header hdr;
	uint64_t	 n_records;
	uint64_t	 last_index;	/* first_index - 1 when empty */
	uint64_t	 last_term;
	uint64_t	 max_commit;
	size_t		 end;		/* offset after the last valid record */
	enum seg_tail	 tail;
	size_t		 bad_off;	/* first invalid byte (tail != CLEAN) */
	size_t		 valid_beyond;	/* a valid record past bad_off, or 0 */
	int		 stale;		/* bad_off holds a whole record of
					   another epoch: a recycled file's */
	char		 why[160];	/* what was expected at bad_off */
};

/*
 * Called for each valid record in order.  h and payload are borrowed from
 * the scanned buffer.  A nonzero return stops the scan and is returned.
 */
typedef int seg_record_fn(void *ctx, const struct rec_header *h,
    const uint8_t *payload, size_t off);

/*
 * Scans a segment image buf[0..len) (borrowed).  window is the largest
 * unsynced write: an invalid record followed by a valid one further than
 * window bytes away is corruption, not a torn tail.  Fills *out.  Returns 0
 * (also for a torn or corrupt tail: see out->tail), or cb's nonzero return.
 */
int	 seg_scan(const uint8_t *buf, size_t len, size_t window,
	    seg_record_fn *cb, void *ctx, struct seg_scan *out);

/* Encodes a segment header into out[SEG_HEADER_SIZE]. */
void	 seg_header_encode(const struct seg_header *h, uint8_t *out);
/*
 * Encodes a record header for payload (borrowed) into out[REC_HEADER_SIZE],
 * computing the CRC.  The caller writes the payload and zero padding after.
 */
void	 rec_header_encode(const struct rec_header *h, const uint8_t *payload,
	    uint8_t *out);

/*
 * Validates the record at buf[off..len) (borrowed) for a segment of epoch.
 * Returns 1 and fills *h if it is a complete record with a good CRC, else 0
 * with what was expected in why (when why is not NULL).
 */
int	 rec_decode(const uint8_t *buf, size_t len, size_t off, uint64_t epoch,
	    struct rec_header *h, char *why, size_t whylen);

/* Encodes hs into out[HS_SIZE]. */
void	 hs_encode(const struct raft_hard_state *hs, uint8_t *out);
/*
 * Decodes a hard-state file image.  Returns 0, or -EBADMSG with what was
 * expected (and at which offset) in why.
 */
int	 hs_decode(const uint8_t *buf, size_t len, struct raft_hard_state *hs,
	    char *why, size_t whylen);

/* Encodes the data directory's identity into out[META_SIZE]. */
void	 meta_encode(uint64_t cluster_id, uint64_t node_id, uint8_t *out);
/* Decodes a meta file image.  Returns 0 or -EBADMSG with why. */
int	 meta_decode(const uint8_t *buf, size_t len, uint64_t *cluster_id,
	    uint64_t *node_id, char *why, size_t whylen);

struct snap_header {
	uint64_t	 index;
	uint64_t	 term;
	uint32_t	 config_len;
};

/* Encodes a snapshot header into out[SNAP_HEADER_SIZE]. */
void	 snap_header_encode(const struct snap_header *h, uint8_t *out);
/* Decodes a snapshot header.  Returns 0 or -EBADMSG with why. */
int	 snap_header_decode(const uint8_t *buf, size_t len,
	    struct snap_header *h, char *why, size_t whylen);
/*
 * Encodes the trailer into out[SNAP_TRAILER_SIZE]; crc covers every byte of
 * the file before the trailer.
 */
void	 snap_trailer_encode(uint64_t image_len, uint32_t crc, uint8_t *out);
/*
 * Checks a trailer against the CRC of what precedes it.  Returns 0 and the
 * image length, or -EBADMSG with why.
 */
int	 snap_trailer_decode(const uint8_t *buf, uint32_t crc_before,
	    uint64_t *image_len, char *why, size_t whylen);

/*
 * Checks that a snapshot with header h fits a file of size bytes and
 * gives the image length the layout implies.  Returns 0 or -EBADMSG with
 * the offset and what was expected in why.
 */
int	 snap_layout_check(const struct snap_header *h, uint64_t size,
	    uint64_t *image_len, char *why, size_t whylen);
/*
 * Checks the trailer buf[SNAP_TRAILER_SIZE] (borrowed) found at offset
 * body_end against crc_before (the CRC of every byte before it) and the
 * image length the layout implies.  Returns 0 and the file's CRC (the
 * trailer's CRC field), or -EBADMSG with the offset and why.
 */
int	 snap_trailer_check(const uint8_t *buf, uint32_t crc_before,
	    uint64_t body_end, uint64_t image_len, uint32_t *file_crc,
	    char *why, size_t whylen);
/*
 * Verifies a whole snapshot file image buf[0..len) (borrowed) in memory,
 * by the same rules as a file: header, layout, whole-file CRC, trailer.
 * Returns 0 with *h, *image_len and *file_crc, or -EBADMSG with why.
 */
int	 snap_image_verify(const uint8_t *buf, size_t len,
	    struct snap_header *h, uint64_t *image_len, uint32_t *file_crc,
	    char *why, size_t whylen);

/* Little-endian helpers. */
void	 fmt_put32(uint8_t *p, uint32_t v);
void	 fmt_put64(uint8_t *p, uint64_t v);
uint32_t fmt_get32(const uint8_t *p);
uint64_t fmt_get64(const uint8_t *p);

#endif /* RAFTKV_STORAGE_FORMAT_H */
