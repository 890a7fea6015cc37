/*
 * storage-internal.h -- what the storage-*.c files share; not for callers.
 */
#ifndef RAFTKV_STORAGE_INTERNAL_H
#define RAFTKV_STORAGE_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "errbuf.h"
#include "storage.h"
#include "storage-format.h"

#define SEG_NAME_MAX		48
#define STORAGE_MSG_MAX		512
/*
 * Compacted segment files kept for reuse (named spare-N): the helper
 * turns one into the next segment without writing it all again.  At most
 * this many, so that disk use stays bounded.
 */
#define STORAGE_MAX_SPARES	2

/* One segment file, with an index of record offsets (never payloads). */
struct seg {
	char		 name[SEG_NAME_MAX];
	bool		 open;		/* named open-N, not yet closed */
	uint64_t	 open_n;
	uint64_t	 first;
	uint64_t	 last;		/* first - 1 when empty */
	uint64_t	 epoch;
	uint64_t	 end;		/* bytes of header and valid records */
	uint32_t	*offs;		/* offs[i]: record first + i */
	size_t		 cap;
};

enum prep_state {
	PREP_IDLE = 0,		/* nothing asked */
	PREP_WANTED,		/* the helper is creating open-N */
	PREP_READY,		/* fd holds a zero-filled, synced open-N */
	PREP_FAILED,		/* creating it failed: err/msg */
};

/* The helper thread that prepares the next segment file. */
#define STORAGE_MAX_DEFERRED	16

struct prep {
	pthread_t	 thread;
	bool		 started;
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	enum prep_state	 state;
	bool		 stop;
	uint64_t	 n;		/* open-N being or been prepared */
	int		 fd;
	int		 err;
	char		 msg[STORAGE_MSG_MAX];
	/* spare-N files, added by compaction, taken by the helper. */
	char		 spares[STORAGE_MAX_SPARES][SEG_NAME_MAX];
	size_t		 nspares;
	uint64_t	 recycled;	/* segments prepared from a spare */
	/*
	 * Descriptors of unlinked files for the helper to close: the last
	 * close frees a large file's blocks, which takes ext4 tens of
	 * milliseconds per 64 MiB, and must not hold up the disk thread.
	 */
	int		 closefds[STORAGE_MAX_DEFERRED];
	size_t		 nclose;
};

/* What the analysis of a data directory found for one segment file. */
enum seg_verdict {
	SEG_OK = 0,		/* keep (an open one gets closed) */
	SEG_EMPTY,		/* no records: delete */
	SEG_TORN,		/* keep records up to scan.end, drop the tail */
	SEG_TRIM,		/* closed, records beyond its name: cut them */
	SEG_BAD,		/* corruption: see problem */
	SEG_AFTER_BAD,		/* follows a bad segment; not judged */
};

struct seg_found {
	struct seg	 seg;
	uint64_t	 name_first;	/* closed: from the name */
	uint64_t	 name_last;
	uint64_t	 size;		/* file size */
	uint64_t	 cut;		/* SEG_TRIM: bytes to keep */
	struct seg_scan	 scan;
	enum seg_verdict verdict;
	char		 problem[STORAGE_MSG_MAX];
};

struct storage {
	char		 dir[PATH_MAX];
	struct storage_options opts;
	struct vfs	*vfs;		/* opts.vfs or own_vfs */
	struct vfs	*own_vfs;
	const struct logger *log;
	int		 lock_fd;

	enum storage_state state;
	int		 err_code;
	char		 err_msg[STORAGE_MSG_MAX];

	struct raft_hard_state hs;
	raft_index_t	 rec_commit;	/* highest commit seen in records */

	bool		 has_snap;
	uint64_t	 snap_index;
	uint64_t	 snap_term;
	uint8_t		*snap_config;
	size_t		 snap_config_len;
	uint64_t	 snap_image_len;
	uint64_t	 snap_file_size;
	uint32_t	 snap_file_crc;

	struct seg	*segs;		/* in index order */
	size_t		 nsegs;
	size_t		 capsegs;
	uint64_t	 next_index;	/* the index the next append gets */
	uint64_t	 durable_index;
	uint64_t	 next_open_n;
	uint64_t	 next_spare_n;

	int		 active_fd;	/* segs[nsegs - 1] when >= 0 */
	uint8_t		*wbuf;		/* bytes not yet written */
	size_t		 wlen;
	size_t		 wcap;
	uint64_t	 wbuf_off;	/* file offset of wbuf[0] */
	size_t		 unsynced;	/* bytes written since the last sync */
	bool		 dir_dirty;

	struct prep	 prep;
};

/* storage.c */
int	 st_fail(struct storage *st, int rc, char *err, size_t errlen,
	    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int	 st_failed(const struct storage *st, char *err, size_t errlen);
void	 st_path(const struct storage *st, const char *name, char *buf,
	    size_t len);
int	 st_write_atomic(struct storage *st, const char *name,
	    const uint8_t *buf, size_t len, char *err, size_t errlen);
/* Formats into a caller's error buffer (err may be NULL). */
#define st_seterr	errbuf_set

/* storage-scan.c: analysis of the log files, shared by open and check. */
/*
 * Closed segments whose last index is <= covered (the snapshot's) are left
 * out: an interrupted compaction's garbage, not part of the log.
 */
int	 log_analyze(const char *dir, size_t window, uint64_t covered,
	    struct seg_found **out, size_t *n, char *err, size_t errlen);
void	 log_found_free(struct seg_found *f, size_t n);
/* Reads record index of s (in dir), verified, and gives its term. */
int	 seg_record_term(const char *dir, const struct seg *s, uint64_t index,
	    uint64_t *term, char *err, size_t errlen);
/*
 * The snapshot rule at open: true (with what and why in why) if the log
 * first..last must be discarded for the snapshot at snap_index/snap_term,
 * because it ends before it or holds snap_index with another term
 * (term_at, read when first <= snap_index <= last).  A crash between
 * installing a leader's snapshot and resetting the log leaves these.
 */
bool	 snap_log_discard(uint64_t first, uint64_t last, uint64_t snap_index,
	    uint64_t snap_term, uint64_t term_at, char *why, size_t whylen);
int	 file_read_all(const char *path, uint8_t **buf, size_t *len,
	    size_t max);
bool	 name_is_closed_seg(const char *name, uint64_t *first, uint64_t *last);
bool	 name_is_open_seg(const char *name, uint64_t *n);
bool	 name_is_spare(const char *name, uint64_t *n);
void	 seg_name_closed(char *buf, size_t len, uint64_t first, uint64_t last);

/* storage-prep.c: the segment-preparing helper thread. */
int	 prep_start(struct storage *st, char *err, size_t errlen);
void	 prep_request(struct storage *st);
int	 prep_take(struct storage *st, int *fd, uint64_t *n, char *err,
	    size_t errlen);
void	 prep_stop(struct storage *st);
/* Offers spare-file name to the helper; false if it holds enough. */
bool	 prep_add_spare(struct storage *st, const char *name);
/*
 * Unlinks path (through the vfs) while holding a descriptor to it, which
 * the helper thread then closes: the name goes at once, the blocks are
 * freed off the disk thread.  Returns vfs_unlink()'s result.
 */
int	 st_unlink_deferred(struct storage *st, const char *path);
/*
 * Removes every data-directory entry pred accepts and fsyncs the directory
 * if any went; see storage.c.
 */
int	 st_remove_matching(struct storage *st,
	    bool (*pred)(void *, const char *), void *ctx, int *removed,
	    char *err, size_t errlen);
/* True if the helper would take one more spare. */
bool	 prep_spare_room(struct storage *st);
/* Segments the helper has prepared from a spare so far. */
uint64_t prep_recycled(struct storage *st);
int	 prep_fill(struct vfs *vfs, int fd, uint64_t from, uint64_t size,
	    char *err, size_t errlen, const char *path);

/* storage-snap.c */
int	 snap_recover(struct storage *st, char *err, size_t errlen);
/*
 * Verifies the whole snapshot file at path and fills *m (m->config new,
 * caller frees).  Returns 0, -EBADMSG with the offset and what was
 * expected in why (no path), or another negative errno.
 */
int	 snap_verify_file(const char *path, struct storage_snapshot_meta *m,
	    char *why, size_t whylen);
/* Recognises snapshot-INDEX, and snapshot-INDEX[.TAG].tmp (*tmp set). */
bool	 name_is_snapshot(const char *name, uint64_t *index, bool *tmp);

#endif /* RAFTKV_STORAGE_INTERNAL_H */
