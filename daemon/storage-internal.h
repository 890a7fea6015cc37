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

	struct seg	*segs;		/* in index order */
	size_t		 nsegs;
	size_t		 capsegs;
	uint64_t	 next_index;	/* the index the next append gets */
	uint64_t	 durable_index;
	uint64_t	 next_open_n;

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
int	 file_read_all(const char *path, uint8_t **buf, size_t *len,
	    size_t max);
bool	 name_is_closed_seg(const char *name, uint64_t *first, uint64_t *last);
bool	 name_is_open_seg(const char *name, uint64_t *n);
void	 seg_name_closed(char *buf, size_t len, uint64_t first, uint64_t last);

/* storage-prep.c: the segment-preparing helper thread. */
int	 prep_start(struct storage *st, char *err, size_t errlen);
void	 prep_request(struct storage *st);
int	 prep_take(struct storage *st, int *fd, uint64_t *n, char *err,
	    size_t errlen);
void	 prep_stop(struct storage *st);
int	 prep_fill(struct vfs *vfs, int fd, uint64_t size, char *err,
	    size_t errlen, const char *path);

/* storage-snap.c */
int	 snap_recover(struct storage *st, char *err, size_t errlen);
int	 snap_verify_file(const char *path, struct snap_header *h,
	    uint8_t **config, uint64_t *image_len, char *why, size_t whylen);
bool	 name_is_snapshot(const char *name, uint64_t *index, bool *tmp);

#endif /* RAFTKV_STORAGE_INTERNAL_H */
