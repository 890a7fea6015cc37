/*
 * storage.c -- the data directory, recovery at open, and the log's write
 * path: group-committed appends, truncation, compaction and reads.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "vfs.h"
#include "storage-internal.h"

static struct seg *find_segment(struct storage *, uint64_t);

#define DEFAULT_SEGMENT_BYTES	(64u << 20)
#define DEFAULT_MAX_UNSYNCED	(32u << 20)
#define MIN_SEGMENT_BYTES	4096

/*
 * Puts st into the failed state (once; the first error sticks), and copies
 * the message to err.  Returns the original error.
 */
int
st_fail(struct storage *st, int rc, char *err, size_t errlen,
    const char *fmt, ...)
{
	va_list	 ap;

	if (st->state == STORAGE_OK) {
		va_start(ap, fmt);
		vsnprintf(st->err_msg, sizeof(st->err_msg), fmt, ap);
		va_end(ap);
		st->err_code = rc;
		st->state = STORAGE_FAILED;
		if (st->log != NULL)
			log_error(st->log, "storage failed, no more writes: %s",
			    st->err_msg);
	}
	st_seterr(err, errlen, "%s", st->err_msg);
	return st->err_code;
}

/* Returns the sticky error if st has failed, else 0. */
int
st_failed(const struct storage *st, char *err, size_t errlen)
{
	if (st->state == STORAGE_OK)
		return 0;
	st_seterr(err, errlen, "storage failed earlier: %s", st->err_msg);
	return st->err_code;
}

/* Formats dir/name. */
void
st_path(const struct storage *st, const char *name, char *buf, size_t len)
{
	vfs_pathf(buf, len, "%s/%s", st->dir, name);
}

/*
 * Replaces file name with buf atomically: write name.tmp, fdatasync,
 * rename, fsync the directory.  A failure fails the storage.
 */
int
st_write_atomic(struct storage *st, const char *name, const uint8_t *buf,
    size_t len, char *err, size_t errlen)
{
	char	 path[PATH_MAX], tmp[PATH_MAX];
	int	 fd, rc;

	st_path(st, name, path, sizeof(path));
	vfs_pathf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = vfs_open(st->vfs, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return st_fail(st, fd, err, errlen, "%s: create: %s", tmp,
		    strerror(-fd));
	rc = vfs_pwrite_all(st->vfs, fd, buf, len, 0);
	if (rc != 0) {
		vfs_close(st->vfs, fd);
		return st_fail(st, rc, err, errlen, "%s: write: %s", tmp,
		    strerror(-rc));
	}
	rc = vfs_fdatasync(st->vfs, fd);
	vfs_close(st->vfs, fd);
	if (rc != 0)
		return st_fail(st, rc, err, errlen, "%s: fdatasync: %s", tmp,
		    strerror(-rc));
	if ((rc = vfs_rename(st->vfs, tmp, path)) != 0)
		return st_fail(st, rc, err, errlen, "rename %s: %s", tmp,
		    strerror(-rc));
	if ((rc = vfs_fsync_dir(st->vfs, st->dir)) != 0)
		return st_fail(st, rc, err, errlen, "%s: fsync: %s", st->dir,
		    strerror(-rc));
	return 0;
}

/* Fills the defaults. */
void
storage_options_init(struct storage_options *o)
{
	memset(o, 0, sizeof(*o));
	o->segment_bytes = DEFAULT_SEGMENT_BYTES;
	o->max_unsynced_bytes = DEFAULT_MAX_UNSYNCED;
}

/* Draws a segment epoch; uniqueness, not secrecy, is what matters. */
static uint64_t
random_epoch(void)
{
	uint64_t	 e = 0;
	struct timespec	 ts;

	if (getrandom(&e, sizeof(e), GRND_NONBLOCK) != (ssize_t)sizeof(e)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		e = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^
		    (uint64_t)getpid() << 32;
	}
	return e != 0 ? e : 1;
}

/* Appends a segment to the in-memory list. */
static int
segs_push(struct storage *st, const struct seg *s)
{
	struct seg	*n;
	size_t		 cap;

	if (st->nsegs == st->capsegs) {
		cap = st->capsegs ? st->capsegs * 2 : 16;
		if ((n = realloc(st->segs, cap * sizeof(*n))) == NULL)
			return -ENOMEM;
		st->segs = n;
		st->capsegs = cap;
	}
	st->segs[st->nsegs++] = *s;
	return 0;
}

/* Removes segment i from the list, freeing its index. */
static void
segs_remove(struct storage *st, size_t i)
{
	free(st->segs[i].offs);
	memmove(&st->segs[i], &st->segs[i + 1],
	    (st->nsegs - i - 1) * sizeof(st->segs[0]));
	st->nsegs--;
}

/* The first index the log holds (== next_index when empty). */
raft_index_t
storage_first_index(const struct storage *st)
{
	size_t	 i;

	for (i = 0; i < st->nsegs; i++)
		if (st->segs[i].last >= st->segs[i].first)
			return st->segs[i].first;
	return st->next_index;
}

/* The last index the log holds. */
raft_index_t
storage_last_index(const struct storage *st)
{
	return st->next_index - 1;
}

/* The last index made durable. */
raft_index_t
storage_durable_index(const struct storage *st)
{
	return st->durable_index;
}

/* OK or FAILED. */
enum storage_state
storage_get_state(const struct storage *st)
{
	return st->state;
}

/* The sticky error and its message. */
int
storage_error(const struct storage *st, const char **msg)
{
	if (msg != NULL)
		*msg = st->err_msg;
	return st->state == STORAGE_OK ? 0 : st->err_code;
}

/* Creates dir if missing, binds the vfs and takes the lock. */
static int
open_dir(struct storage *st, char *err, size_t errlen)
{
	char	 path[PATH_MAX], parent[PATH_MAX];
	int	 rc;

	rc = vfs_mkdir(st->vfs, st->dir, 0755);
	if (rc == 0) {
		vfs_pathf(parent, sizeof(parent), "%s", st->dir);
		if ((rc = vfs_fsync_dir(st->vfs, dirname(parent))) != 0) {
			st_seterr(err, errlen, "%s: fsync parent: %s", st->dir,
			    strerror(-rc));
			return rc;
		}
	} else if (rc != -EEXIST) {
		st_seterr(err, errlen, "%s: mkdir: %s", st->dir, strerror(-rc));
		return rc;
	}
	if ((rc = vfs_bind(st->vfs, st->dir)) != 0) {
		st_seterr(err, errlen, "%s: vfs bind: %s", st->dir,
		    strerror(-rc));
		return rc;
	}
	st_path(st, "LOCK", path, sizeof(path));
	st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (st->lock_fd < 0) {
		rc = -errno;
		st_seterr(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		st_seterr(err, errlen, "%s: data directory is in use by another "
		    "process (flock: %s)", st->dir, strerror(errno));
		return rc;
	}
	return 0;
}

/* True if dir holds any file the storage writes, besides LOCK. */
static bool
dir_has_state(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	bool		 found = false;

	if ((d = opendir(dir)) == NULL)
		return false;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && strcmp(de->d_name, "LOCK") != 0)
			found = true;
	closedir(d);
	return found;
}

/* Creates the meta file of a new directory, or checks the identity. */
static int
open_meta(struct storage *st, char *err, size_t errlen)
{
	char		 path[PATH_MAX], why[200];
	uint8_t		*buf = NULL, img[META_SIZE];
	size_t		 len;
	uint64_t	 cluster, node;
	int		 rc;

	st_path(st, "meta", path, sizeof(path));
	rc = file_read_all(path, &buf, &len, 4096);
	if (rc == -ENOENT) {
		if (dir_has_state(st->dir)) {
			st_seterr(err, errlen, "%s: has files but no meta file; "
			    "not a raftkv data directory, or a damaged one",
			    st->dir);
			return -EBADMSG;
		}
		meta_encode(st->opts.cluster_id, st->opts.node_id, img);
		rc = st_write_atomic(st, "meta", img, sizeof(img), err, errlen);
		st->state = STORAGE_OK;
		return rc;
	}
	if (rc != 0) {
		st_seterr(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if ((rc = meta_decode(buf, len, &cluster, &node, why,
	    sizeof(why))) != 0) {
		st_seterr(err, errlen, "%s: %s", path, why);
		goto out;
	}
	if (cluster != st->opts.cluster_id || node != st->opts.node_id) {
		st_seterr(err, errlen, "%s belongs to cluster %" PRIu64
		    " node %" PRIu64 ", not cluster %" PRIu64 " node %" PRIu64
		    "; refusing to use it", st->dir, cluster, node,
		    st->opts.cluster_id, st->opts.node_id);
		rc = -ESTALE;
	}
out:
	free(buf);
	return rc;
}

/*
 * Removes every entry of the data directory that pred (called with ctx and
 * the entry's name) accepts, then fsyncs the directory if any went.  The
 * blocks are freed off this thread (st_unlink_deferred()).  Returns 0 and
 * the count in *removed, or a negative errno with err naming the file.
 */
int
st_remove_matching(struct storage *st, bool (*pred)(void *, const char *),
    void *ctx, int *removed, char *err, size_t errlen)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[PATH_MAX];
	int		 rc = 0;

	*removed = 0;
	if ((d = opendir(st->dir)) == NULL) {
		rc = -errno;
		st_seterr(err, errlen, "%s: opendir: %s", st->dir,
		    strerror(-rc));
		return rc;
	}
	while ((de = readdir(d)) != NULL) {
		if (!pred(ctx, de->d_name))
			continue;
		st_path(st, de->d_name, path, sizeof(path));
		if ((rc = st_unlink_deferred(st, path)) != 0) {
			st_seterr(err, errlen, "%s: unlink: %s", path,
			    strerror(-rc));
			break;
		}
		(*removed)++;
	}
	closedir(d);
	if (rc == 0 && *removed > 0 &&
	    (rc = vfs_fsync_dir(st->vfs, st->dir)) != 0)
		st_seterr(err, errlen, "%s: fsync: %s", st->dir, strerror(-rc));
	return rc;
}

/* Accepts a leftover temporary file of an interrupted atomic write. */
static bool
is_unfinished(void *arg, const char *name)
{
	struct storage	*st = arg;
	size_t		 len = strlen(name);
	char		 path[PATH_MAX];

	if (len < 4 || strcmp(name + len - 4, ".tmp") != 0)
		return false;
	if (st->log != NULL) {
		st_path(st, name, path, sizeof(path));
		log_info(st->log, "%s: removing an unfinished file", path);
	}
	return true;
}

/* Removes leftover temporary files of interrupted atomic writes. */
static int
open_clean_tmp(struct storage *st, char *err, size_t errlen)
{
	int	 removed;

	return st_remove_matching(st, is_unfinished, st, &removed, err,
	    errlen);
}

/* Loads the hard state; a bad checksum is corruption. */
static int
open_hard_state(struct storage *st, char *err, size_t errlen)
{
	char		 path[PATH_MAX], why[200];
	uint8_t		*buf;
	size_t		 len;
	int		 rc;

	st_path(st, "hardstate", path, sizeof(path));
	rc = file_read_all(path, &buf, &len, 4096);
	if (rc == -ENOENT)
		return 0;
	if (rc == -EFBIG) {
		st_seterr(err, errlen, "%s: offset 0: expected %d bytes, found "
		    "a larger file", path, HS_SIZE);
		return -EBADMSG;
	}
	if (rc != 0) {
		st_seterr(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if ((rc = hs_decode(buf, len, &st->hs, why, sizeof(why))) != 0)
		st_seterr(err, errlen, "%s: %s", path, why);
	free(buf);
	return rc;
}

/* Cuts the file name to len bytes and syncs it. */
static int
file_cut(struct storage *st, const char *name, uint64_t len, char *err,
    size_t errlen)
{
	char	 path[PATH_MAX];
	int	 fd, rc;

	st_path(st, name, path, sizeof(path));
	if ((fd = vfs_open(st->vfs, path, O_RDWR, 0)) < 0) {
		st_seterr(err, errlen, "%s: open: %s", path, strerror(-fd));
		return fd;
	}
	rc = vfs_ftruncate(st->vfs, fd, (off_t)len);
	if (rc == 0)
		rc = vfs_fsync(st->vfs, fd);
	if (rc != 0)
		st_seterr(err, errlen, "%s: truncate to %" PRIu64 ": %s", path,
		    len, strerror(-rc));
	vfs_close(st->vfs, fd);
	return rc;
}

/* Acts on one judged segment at open: cut, close or delete it. */
static int
recover_one(struct storage *st, struct seg_found *f, char *err, size_t errlen)
{
	char		 path[PATH_MAX], to[PATH_MAX], name[SEG_NAME_MAX];
	struct seg	*s = &f->seg;
	int		 rc;

	st_path(st, s->name, path, sizeof(path));
	switch (f->verdict) {
	case SEG_EMPTY:
		if (st->log != NULL && f->scan.hdr_state == SEG_HDR_ZERO &&
		    f->scan.tail != SEG_TAIL_CLEAN)
			log_info(st->log, "%s: segment header never written: "
			    "removing it (%" PRIu64 " bytes of a recycled "
			    "file's old records or of an unsynced write)", path,
			    f->size);
		else if (st->log != NULL && f->scan.tail != SEG_TAIL_CLEAN)
			log_warn(st->log, "%s: torn tail: dropping %" PRIu64
			    " bytes holding no complete record", path, f->size);
		if ((rc = vfs_unlink(st->vfs, path)) != 0)
			st_seterr(err, errlen, "%s: unlink: %s", path,
			    strerror(-rc));
		return rc;
	case SEG_TRIM:
		if (st->log != NULL)
			log_warn(st->log, "%s: finishing an interrupted "
			    "truncation: cutting records after %" PRIu64
			    " at offset %" PRIu64, path, f->name_last, f->cut);
		return file_cut(st, s->name, f->cut, err, errlen);
	case SEG_TORN:
		if (st->log != NULL && f->scan.stale && !f->scan.valid_beyond)
			log_info(st->log, "%s: records end at offset %" PRIu64
			    "; the %" PRIu64 " bytes after are a recycled "
			    "file's old records (dropped); last record kept is "
			    "%" PRIu64, path, (uint64_t)f->scan.bad_off,
			    f->size - f->scan.end, s->last);
		else if (st->log != NULL)
			log_warn(st->log, "%s: torn tail at offset %" PRIu64
			    " (%s): dropping %" PRIu64 " bytes%s; last "
			    "record kept is %" PRIu64, path,
			    (uint64_t)f->scan.bad_off, f->scan.why,
			    f->size - f->scan.end, f->scan.valid_beyond ?
			    ", including valid-looking unsynced records" : "",
			    s->last);
		/* FALLTHROUGH */
	case SEG_OK:
		if (!s->open)
			return 0;
		/* Close it: exact size, synced, then named by its range. */
		if ((rc = file_cut(st, s->name, s->end, err, errlen)) != 0)
			return rc;
		seg_name_closed(name, sizeof(name), s->first, s->last);
		st_path(st, name, to, sizeof(to));
		if ((rc = vfs_rename(st->vfs, path, to)) != 0) {
			st_seterr(err, errlen, "rename %s: %s", path,
			    strerror(-rc));
			return rc;
		}
		vfs_pathf(s->name, sizeof(s->name), "%s", name);
		s->open = false;
		return 0;
	case SEG_BAD:
	case SEG_AFTER_BAD:
		break;
	}
	st_seterr(err, errlen, "%s", f->problem);
	return -EBADMSG;
}

/* Accepts a closed segment wholly at or below the snapshot. */
static bool
is_covered_segment(void *arg, const char *name)
{
	struct storage	*st = arg;
	uint64_t	 first, last;

	return name_is_closed_seg(name, &first, &last) &&
	    last <= st->snap_index;
}

/*
 * Removes closed segments whose every entry the snapshot covers.  A crash
 * during compaction, before its directory fsync, can leave any subset of
 * them behind, with gaps between them: garbage, not corruption.
 */
static int
drop_covered_segments(struct storage *st, char *err, size_t errlen)
{
	int	 rc, dropped;

	if (!st->has_snap)
		return 0;
	rc = st_remove_matching(st, is_covered_segment, st, &dropped, err,
	    errlen);
	if (rc == 0 && dropped > 0 && st->log != NULL)
		log_warn(st->log, "%s: removed %d segment(s) below snapshot %"
		    PRIu64 " left by an interrupted compaction", st->dir,
		    dropped, st->snap_index);
	return rc;
}

/* Recovers the log: analyse, refuse corruption, repair tears, index. */
static int
open_log(struct storage *st, char *err, size_t errlen)
{
	struct seg_found *found = NULL;
	size_t		 nfound = 0, i;
	struct seg	 s;
	int		 rc;

	rc = log_analyze(st->dir, st->opts.max_unsynced_bytes,
	    st->has_snap ? st->snap_index : 0, &found, &nfound,
	    err, errlen);
	if (rc != 0)
		return rc;
	for (i = 0; i < nfound; i++) {
		if (found[i].seg.open && found[i].seg.open_n >= st->next_open_n)
			st->next_open_n = found[i].seg.open_n + 1;
		if (found[i].verdict == SEG_BAD) {
			st_seterr(err, errlen, "corrupt log: %s",
			    found[i].problem);
			rc = -EBADMSG;
			goto out;
		}
	}
	for (i = 0; i < nfound; i++) {
		if ((rc = recover_one(st, &found[i], err, errlen)) != 0)
			goto out;
		if (found[i].verdict == SEG_EMPTY)
			continue;
		if (found[i].scan.max_commit > st->rec_commit)
			st->rec_commit = found[i].scan.max_commit;
		s = found[i].seg;
		found[i].seg.offs = NULL;
		if ((rc = segs_push(st, &s)) != 0) {
			free(s.offs);
			st_seterr(err, errlen, "out of memory");
			goto out;
		}
	}
	if (nfound > 0 && (rc = vfs_fsync_dir(st->vfs, st->dir)) != 0) {
		st_seterr(err, errlen, "%s: fsync: %s", st->dir, strerror(-rc));
		goto out;
	}
	if (st->nsegs > 0)
		st->next_index = st->segs[st->nsegs - 1].last + 1;
	else
		st->next_index = st->has_snap ? st->snap_index + 1 : 1;
	st->durable_index = st->next_index - 1;
out:
	log_found_free(found, nfound);
	return rc;
}

/*
 * Takes spare-N files (compacted segments kept for reuse) for the helper,
 * up to its bound; deletes the rest.
 */
static int
open_spares(struct storage *st, char *err, size_t errlen)
{
	char		 path[PATH_MAX];
	DIR		*d;
	struct dirent	*de;
	uint64_t	 n;
	int		 rc = 0;

	if ((d = opendir(st->dir)) == NULL) {
		rc = -errno;
		st_seterr(err, errlen, "%s: opendir: %s", st->dir,
		    strerror(-rc));
		return rc;
	}
	while ((de = readdir(d)) != NULL) {
		if (!name_is_spare(de->d_name, &n))
			continue;
		if (n >= st->next_spare_n)
			st->next_spare_n = n + 1;
		if (prep_add_spare(st, de->d_name))
			continue;
		st_path(st, de->d_name, path, sizeof(path));
		if ((rc = vfs_unlink(st->vfs, path)) != 0) {
			st_seterr(err, errlen, "%s: unlink: %s", path,
			    strerror(-rc));
			break;
		}
	}
	closedir(d);
	return rc;
}

/*
 * Applies the snapshot rule (docs/storage.md): a crash between installing
 * a leader's snapshot and resetting the log leaves a log that ends before
 * the snapshot, or holds its index with another term.  Such a log is
 * discarded, durably, as storage_reset() does.
 */
static int
open_snapshot_rule(struct storage *st, char *err, size_t errlen)
{
	uint64_t	 first = storage_first_index(st);
	uint64_t	 last = storage_last_index(st), term = 0;
	struct seg	*s;
	char		 why[STORAGE_MSG_MAX];
	int		 rc;

	if (!st->has_snap || first > last)
		return 0;
	if (first <= st->snap_index && st->snap_index <= last) {
		s = find_segment(st, st->snap_index);
		if ((rc = seg_record_term(st->dir, s, st->snap_index, &term,
		    err, errlen)) != 0)
			return rc;
	}
	if (!snap_log_discard(first, last, st->snap_index, st->snap_term, term,
	    why, sizeof(why)))
		return 0;
	if (st->log != NULL)
		log_warn(st->log, "%s: %s: discarding the whole log, as after "
		    "installing snapshot %" PRIu64 " from the leader (a crash "
		    "came before the log was reset)", st->dir, why,
		    st->snap_index);
	return storage_reset(st, st->snap_index, err, errlen);
}

/* Opens and recovers a data directory. */
int
storage_open(const char *dir, const struct storage_options *opts,
    struct storage **out, char *err, size_t errlen)
{
	struct storage	*st;
	int		 rc;

	*out = NULL;
	if (opts->cluster_id == 0 || opts->node_id == 0 ||
	    opts->segment_bytes < MIN_SEGMENT_BYTES ||
	    opts->segment_bytes > UINT32_MAX || opts->max_unsynced_bytes == 0 ||
	    strlen(dir) + SEG_NAME_MAX + 8 >= PATH_MAX) {
		st_seterr(err, errlen, "storage: invalid options for %s", dir);
		return -EINVAL;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		st_seterr(err, errlen, "storage: out of memory");
		return -ENOMEM;
	}
	snprintf(st->dir, sizeof(st->dir), "%s", dir);
	st->opts = *opts;
	st->log = opts->log;
	st->lock_fd = -1;
	st->active_fd = -1;
	st->next_open_n = 1;
	st->vfs = opts->vfs;
	if (st->vfs == NULL && (st->vfs = st->own_vfs = vfs_posix_new()) ==
	    NULL) {
		rc = -ENOMEM;
		st_seterr(err, errlen, "storage: out of memory");
		goto fail;
	}
	if ((rc = open_dir(st, err, errlen)) != 0 ||
	    (rc = open_meta(st, err, errlen)) != 0 ||
	    (rc = open_clean_tmp(st, err, errlen)) != 0 ||
	    (rc = open_hard_state(st, err, errlen)) != 0 ||
	    (rc = snap_recover(st, err, errlen)) != 0 ||
	    (rc = drop_covered_segments(st, err, errlen)) != 0 ||
	    (rc = open_log(st, err, errlen)) != 0 ||
	    (rc = open_snapshot_rule(st, err, errlen)) != 0 ||
	    (rc = prep_start(st, err, errlen)) != 0 ||
	    (rc = open_spares(st, err, errlen)) != 0)
		goto fail;
	/* Start preparing the first segment now, off the first append. */
	prep_request(st);
	if (st->log != NULL)
		log_info(st->log, "%s: opened: log %" PRIu64 "..%" PRIu64
		    ", term %" PRIu64 ", snapshot %" PRIu64, st->dir,
		    storage_first_index(st), storage_last_index(st),
		    st->hs.term, st->has_snap ? st->snap_index : 0);
	*out = st;
	return 0;
fail:
	storage_close(st);
	return rc;
}

/* Ensures room for len more bytes in the write buffer. */
static int
wbuf_reserve(struct storage *st, size_t len)
{
	uint8_t	*n;
	size_t	 cap;

	if (st->wlen + len <= st->wcap)
		return 0;
	cap = st->wcap ? st->wcap : 65536;
	while (cap < st->wlen + len)
		cap *= 2;
	if ((n = realloc(st->wbuf, cap)) == NULL)
		return -ENOMEM;
	st->wbuf = n;
	st->wcap = cap;
	return 0;
}

/* Writes the buffered bytes of the active segment (page cache only). */
static int
flush_wbuf(struct storage *st, char *err, size_t errlen)
{
	struct seg	*s;
	int		 rc;

	if (st->wlen == 0)
		return 0;
	s = &st->segs[st->nsegs - 1];
	rc = vfs_pwrite_all(st->vfs, st->active_fd, st->wbuf, st->wlen,
	    (off_t)st->wbuf_off);
	if (rc != 0)
		return st_fail(st, rc, err, errlen, "%s/%s: write %zu bytes at "
		    "offset %" PRIu64 ": %s", st->dir, s->name, st->wlen,
		    st->wbuf_off, strerror(-rc));
	st->wbuf_off += st->wlen;
	st->unsynced += st->wlen;
	st->wlen = 0;
	return 0;
}

uint64_t
storage_syncs(const struct storage *st)
{
	return vfs_syncs(st->vfs);
}

/* Makes everything written durable: fdatasync, and the directory if needed. */
static int
sync_all(struct storage *st, char *err, size_t errlen)
{
	int	 rc;

	if ((rc = flush_wbuf(st, err, errlen)) != 0)
		return rc;
	if (st->unsynced > 0 && st->active_fd >= 0) {
		if ((rc = vfs_fdatasync(st->vfs, st->active_fd)) != 0)
			return st_fail(st, rc, err, errlen, "%s/%s: fdatasync: "
			    "%s", st->dir, st->segs[st->nsegs - 1].name,
			    strerror(-rc));
		st->unsynced = 0;
	}
	if (st->dir_dirty) {
		if ((rc = vfs_fsync_dir(st->vfs, st->dir)) != 0)
			return st_fail(st, rc, err, errlen, "%s: fsync: %s",
			    st->dir, strerror(-rc));
		st->dir_dirty = false;
	}
	st->durable_index = st->next_index - 1;
	return 0;
}

/*
 * Closes the active segment: sync, cut to its exact size, sync, rename to
 * FIRST-LAST.  The directory fsync comes with the batch's sync.
 */
static int
close_active(struct storage *st, char *err, size_t errlen)
{
	struct seg	*s = &st->segs[st->nsegs - 1];
	char		 path[PATH_MAX], to[PATH_MAX], name[SEG_NAME_MAX];
	int		 rc;

	if ((rc = sync_all(st, err, errlen)) != 0)
		return rc;
	st_path(st, s->name, path, sizeof(path));
	if ((rc = vfs_ftruncate(st->vfs, st->active_fd, (off_t)s->end)) != 0 ||
	    (rc = vfs_fdatasync(st->vfs, st->active_fd)) != 0)
		return st_fail(st, rc, err, errlen, "%s: cut to %" PRIu64
		    " bytes: %s", path, s->end, strerror(-rc));
	vfs_close(st->vfs, st->active_fd);
	st->active_fd = -1;
	seg_name_closed(name, sizeof(name), s->first, s->last);
	st_path(st, name, to, sizeof(to));
	if ((rc = vfs_rename(st->vfs, path, to)) != 0)
		return st_fail(st, rc, err, errlen, "rename %s to %s: %s", path,
		    name, strerror(-rc));
	vfs_pathf(s->name, sizeof(s->name), "%s", name);
	s->open = false;
	st->dir_dirty = true;
	return 0;
}

/* Makes a prepared file the active segment, its header first in line. */
static int
activate(struct storage *st, uint64_t first, char *err, size_t errlen)
{
	struct seg_header h;
	struct seg	 s;
	uint64_t	 n;
	int		 fd, rc;

	if ((rc = prep_take(st, &fd, &n, err, errlen)) != 0)
		return st_fail(st, rc, err, errlen, "preparing a segment: %s",
		    err != NULL ? err : "failed");
	memset(&s, 0, sizeof(s));
	vfs_pathf(s.name, sizeof(s.name), "open-%" PRIu64, n);
	s.open = true;
	s.open_n = n;
	s.first = first;
	s.last = first - 1;
	s.epoch = random_epoch();
	s.end = SEG_HEADER_SIZE;
	if ((rc = segs_push(st, &s)) != 0) {
		vfs_close(st->vfs, fd);
		return st_fail(st, rc, err, errlen, "out of memory");
	}
	st->active_fd = fd;
	st->wbuf_off = 0;
	st->wlen = 0;
	if ((rc = wbuf_reserve(st, SEG_HEADER_SIZE)) != 0)
		return st_fail(st, rc, err, errlen, "out of memory");
	h.first_index = first;
	h.epoch = s.epoch;
	seg_header_encode(&h, st->wbuf);
	st->wlen = SEG_HEADER_SIZE;
	return 0;
}

/* Adds one record to the active segment's buffer and index. */
static int
buffer_record(struct storage *st, const struct raft_entry *e, uint64_t commit,
    char *err, size_t errlen)
{
	struct seg	*s = &st->segs[st->nsegs - 1];
	struct rec_header h;
	size_t		 size = REC_SIZE(e->len), i;
	uint32_t	*n;
	int		 rc;

	i = (size_t)(e->index - s->first);
	if (i >= s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		if ((n = realloc(s->offs, s->cap * sizeof(*n))) == NULL)
			return st_fail(st, -ENOMEM, err, errlen,
			    "out of memory");
		s->offs = n;
	}
	if ((rc = wbuf_reserve(st, size)) != 0)
		return st_fail(st, rc, err, errlen, "out of memory");
	h.len = e->len;
	h.epoch = s->epoch;
	h.index = e->index;
	h.term = e->term;
	h.commit = commit;
	h.type = e->type;
	rec_header_encode(&h, e->data, st->wbuf + st->wlen);
	if (e->len > 0)
		memcpy(st->wbuf + st->wlen + REC_HEADER_SIZE, e->data, e->len);
	memset(st->wbuf + st->wlen + REC_HEADER_SIZE + e->len, 0,
	    size - REC_HEADER_SIZE - e->len);
	s->offs[i] = (uint32_t)s->end;
	s->end += size;
	s->last = e->index;
	st->wlen += size;
	st->next_index = e->index + 1;
	return 0;
}

/* Appends a batch; see storage.h. */
int
storage_append(struct storage *st, const struct raft_entry *entries,
    size_t n, raft_index_t commit, char *err, size_t errlen)
{
	const struct raft_entry *e;
	struct seg	*s;
	size_t		 i, size;
	int		 rc;

	if ((rc = st_failed(st, err, errlen)) != 0)
		return rc;
	if (n == 0)
		return 0;
	if (entries[0].index < st->next_index &&
	    (rc = storage_truncate_suffix(st, entries[0].index - 1, err,
	    errlen)) != 0)
		return rc;
	if (entries[0].index != st->next_index) {
		st_seterr(err, errlen, "storage: append at %" PRIu64 " but the "
		    "log ends at %" PRIu64, entries[0].index,
		    st->next_index - 1);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		e = &entries[i];
		if (e->index != st->next_index || e->len > REC_MAX_PAYLOAD ||
		    (e->len > 0 && e->data == NULL) || e->term == 0 ||
		    e->type < RAFT_ENTRY_NORMAL || e->type > RAFT_ENTRY_NOOP) {
			/* Earlier entries of the batch stay appended. */
			st_seterr(err, errlen, "storage: bad entry %zu of the "
			    "batch (index %" PRIu64 ", want %" PRIu64 ")", i,
			    e->index, st->next_index);
			flush_wbuf(st, NULL, 0);
			return -EINVAL;
		}
		size = REC_SIZE(e->len);
		if (st->active_fd >= 0) {
			s = &st->segs[st->nsegs - 1];
			if (s->last >= s->first &&
			    s->end + size > st->opts.segment_bytes &&
			    (rc = close_active(st, err, errlen)) != 0)
				return rc;
		}
		if (st->active_fd < 0 &&
		    (rc = activate(st, e->index, err, errlen)) != 0)
			return rc;
		/* Keep the unsynced window within its bound. */
		if (st->unsynced + st->wlen + size >
		    st->opts.max_unsynced_bytes && st->unsynced + st->wlen > 0 &&
		    (rc = sync_all(st, err, errlen)) != 0)
			return rc;
		if ((rc = buffer_record(st, e, commit, err, errlen)) != 0)
			return rc;
	}
	if ((rc = flush_wbuf(st, err, errlen)) != 0)
		return rc;
	s = &st->segs[st->nsegs - 1];
	if (s->end > st->opts.segment_bytes / 2)
		prep_request(st);
	return 0;
}

/* Makes all appended entries durable. */
int
storage_sync(struct storage *st, char *err, size_t errlen)
{
	int	 rc;

	if ((rc = st_failed(st, err, errlen)) != 0)
		return rc;
	return sync_all(st, err, errlen);
}

/* Appends and syncs. */
int
storage_append_sync(struct storage *st, const struct raft_entry *entries,
    size_t n, raft_index_t commit, char *err, size_t errlen)
{
	int	 rc;

	if ((rc = storage_append(st, entries, n, commit, err, errlen)) != 0)
		return rc;
	return storage_sync(st, err, errlen);
}

/* Saves the hard state atomically and durably. */
int
storage_save_hard_state(struct storage *st, const struct raft_hard_state *hs,
    char *err, size_t errlen)
{
	uint8_t	 img[HS_SIZE];
	int	 rc;

	if ((rc = st_failed(st, err, errlen)) != 0)
		return rc;
	hs_encode(hs, img);
	if ((rc = st_write_atomic(st, "hardstate", img, sizeof(img), err,
	    errlen)) != 0)
		return rc;
	st->hs = *hs;
	return 0;
}

/* Unlinks segment i (closing it if active) and forgets it. */
static int
drop_segment(struct storage *st, size_t i, char *err, size_t errlen)
{
	char	 path[PATH_MAX];
	int	 rc;

	if (i == st->nsegs - 1 && st->active_fd >= 0) {
		vfs_close(st->vfs, st->active_fd);
		st->active_fd = -1;
		st->wlen = 0;
		st->unsynced = 0;
	}
	st_path(st, st->segs[i].name, path, sizeof(path));
	if ((rc = st_unlink_deferred(st, path)) != 0)
		return st_fail(st, rc, err, errlen, "%s: unlink: %s", path,
		    strerror(-rc));
	segs_remove(st, i);
	st->dir_dirty = true;
	return 0;
}

/* Cuts the last segment so that it ends with last_kept. */
static int
cut_last_segment(struct storage *st, uint64_t last_kept, char *err,
    size_t errlen)
{
	struct seg	*s = &st->segs[st->nsegs - 1];
	char		 path[PATH_MAX], to[PATH_MAX], name[SEG_NAME_MAX];
	uint64_t	 off = s->offs[last_kept + 1 - s->first];
	int		 rc, fd;

	st_path(st, s->name, path, sizeof(path));
	if (st->active_fd >= 0) {
		/* Zero the old tail durably: no stale record may follow. */
		fd = st->active_fd;
		if ((rc = vfs_ftruncate(st->vfs, fd, (off_t)off)) != 0 ||
		    (rc = vfs_ftruncate(st->vfs, fd,
		    (off_t)st->opts.segment_bytes)) != 0 ||
		    (rc = vfs_fsync(st->vfs, fd)) != 0)
			return st_fail(st, rc, err, errlen, "%s: truncate at "
			    "offset %" PRIu64 ": %s", path, off, strerror(-rc));
		st->wbuf_off = off;
		st->unsynced = 0;
	} else {
		/* Rename first: recovery finishes a cut it finds half done. */
		seg_name_closed(name, sizeof(name), s->first, last_kept);
		st_path(st, name, to, sizeof(to));
		if ((rc = vfs_rename(st->vfs, path, to)) != 0 ||
		    (rc = vfs_fsync_dir(st->vfs, st->dir)) != 0)
			return st_fail(st, rc, err, errlen, "rename %s to %s: "
			    "%s", path, name, strerror(-rc));
		vfs_pathf(s->name, sizeof(s->name), "%s", name);
		if ((rc = file_cut(st, name, off, err, errlen)) != 0)
			return st_fail(st, rc, err, errlen, "%s", err);
	}
	s->last = last_kept;
	s->end = off;
	return 0;
}

/* Drops every entry after last_kept. */
int
storage_truncate_suffix(struct storage *st, raft_index_t last_kept,
    char *err, size_t errlen)
{
	int	 rc;

	if ((rc = st_failed(st, err, errlen)) != 0)
		return rc;
	if (last_kept >= st->next_index - 1)
		return 0;
	if (last_kept + 1 < storage_first_index(st)) {
		st_seterr(err, errlen, "storage: cannot truncate after %" PRIu64
		    ": the log starts at %" PRIu64 " (use storage_reset)",
		    last_kept, storage_first_index(st));
		return -EINVAL;
	}
	if ((rc = flush_wbuf(st, err, errlen)) != 0)
		return rc;
	/* Whole segments first, newest first, made durable before the cut. */
	while (st->nsegs > 0 && st->segs[st->nsegs - 1].first > last_kept)
		if ((rc = drop_segment(st, st->nsegs - 1, err, errlen)) != 0)
			return rc;
	if ((rc = sync_all(st, err, errlen)) != 0)
		return rc;
	if (st->nsegs > 0 && st->segs[st->nsegs - 1].last > last_kept &&
	    (rc = cut_last_segment(st, last_kept, err, errlen)) != 0)
		return rc;
	st->next_index = last_kept + 1;
	st->durable_index = last_kept;
	return 0;
}

/*
 * Removes closed segment i: renamed to spare-N for the helper to reuse
 * while it holds fewer than STORAGE_MAX_SPARES, else unlinked.  Either way
 * the directory fsync comes with the next sync.
 */
static int
recycle_segment(struct storage *st, size_t i, char *err, size_t errlen)
{
	char	 path[PATH_MAX], to[PATH_MAX], name[SEG_NAME_MAX];
	int	 rc;

	if (st->segs[i].open || (i == st->nsegs - 1 && st->active_fd >= 0))
		return drop_segment(st, i, err, errlen);
	vfs_pathf(name, sizeof(name), "spare-%" PRIu64, st->next_spare_n);
	st_path(st, st->segs[i].name, path, sizeof(path));
	st_path(st, name, to, sizeof(to));
	/*
	 * Renamed before it is offered, so the helper never opens a name
	 * not there yet.  Only this thread adds spares, so the room seen
	 * here is still there after the rename.
	 */
	if (!prep_spare_room(st))
		return drop_segment(st, i, err, errlen);
	if ((rc = vfs_rename(st->vfs, path, to)) != 0)
		return st_fail(st, rc, err, errlen, "rename %s to %s: %s", path,
		    name, strerror(-rc));
	prep_add_spare(st, name);
	st->next_spare_n++;
	segs_remove(st, i);
	st->dir_dirty = true;
	return 0;
}

/* Removes closed segments entirely at or below upto, oldest first. */
int
storage_compact(struct storage *st, raft_index_t upto, char *err,
    size_t errlen)
{
	int	 rc;

	if ((rc = st_failed(st, err, errlen)) != 0)
		return rc;
	while (st->nsegs > 0 && st->segs[0].last <= upto &&
	    !(st->nsegs == 1 && st->active_fd >= 0))
		if ((rc = recycle_segment(st, 0, err, errlen)) != 0)
			return rc;
	return sync_all(st, err, errlen);
}

/* Discards the whole log; the next append is index + 1. */
int
storage_reset(struct storage *st, raft_index_t index, char *err,
    size_t errlen)
{
	int	 rc;

	if ((rc = st_failed(st, err, errlen)) != 0)
		return rc;
	while (st->nsegs > 0)
		if ((rc = drop_segment(st, st->nsegs - 1, err, errlen)) != 0)
			return rc;
	st->next_index = index + 1;
	if ((rc = sync_all(st, err, errlen)) != 0)
		return rc;
	st->durable_index = index;
	return 0;
}

/* Finds the segment holding index, or NULL. */
static struct seg *
find_segment(struct storage *st, uint64_t index)
{
	size_t	 lo = 0, hi = st->nsegs, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (st->segs[mid].last < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == st->nsegs || st->segs[lo].first > index ||
	    st->segs[lo].last < index)
		return NULL;
	return &st->segs[lo];
}

/* Reads and verifies one record of segment s at index into buf. */
static int
read_record(struct storage *st, struct seg *s, int fd, uint64_t index,
    struct raft_entry *e, uint8_t **bufp, size_t *capp, char *err,
    size_t errlen)
{
	struct rec_header h;
	uint64_t	 off = s->offs[index - s->first];
	uint64_t	 next = index < s->last ? s->offs[index + 1 - s->first] :
			    s->end;
	size_t		 size = (size_t)(next - off);
	uint8_t		*n;
	ssize_t		 got;
	char		 why[160];

	if (size > *capp) {
		if ((n = realloc(*bufp, size)) == NULL) {
			st_seterr(err, errlen, "out of memory");
			return -ENOMEM;
		}
		*bufp = n;
		*capp = size;
	}
	got = pread(fd, *bufp, size, (off_t)off);
	if (got != (ssize_t)size) {
		st_seterr(err, errlen, "%s/%s: read at offset %" PRIu64 ": %s",
		    st->dir, s->name, off, got < 0 ? strerror(errno) :
		    "short read");
		return -EIO;
	}
	if (!rec_decode(*bufp, size, 0, s->epoch, &h, why, sizeof(why)) ||
	    h.index != index) {
		st_seterr(err, errlen, "%s/%s: offset %" PRIu64 ": expected %s",
		    st->dir, s->name, off, h.index != index ? "the record of "
		    "this index" : why);
		return -EBADMSG;
	}
	e->index = h.index;
	e->term = h.term;
	e->type = h.type;
	e->len = h.len;
	e->data = *bufp + REC_HEADER_SIZE;
	return 0;
}

/* Opens a segment for reading (the active one is already open). */
static int
open_for_read(struct storage *st, struct seg *s, bool *close_after)
{
	char	 path[PATH_MAX];
	int	 fd;

	*close_after = false;
	if (s == &st->segs[st->nsegs - 1] && st->active_fd >= 0)
		return st->active_fd;
	st_path(st, s->name, path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	*close_after = true;
	return fd;
}

/* Calls cb for each entry lo..hi, read from the files. */
int
storage_read_range(struct storage *st, raft_index_t lo, raft_index_t hi,
    storage_entry_fn *cb, void *ctx, char *err, size_t errlen)
{
	struct raft_entry e;
	struct seg	*s;
	uint8_t		*buf = NULL;
	size_t		 cap = 0;
	uint64_t	 i;
	bool		 close_after = false;
	int		 fd = -1, rc = 0;

	if ((rc = st_failed(st, err, errlen)) != 0)
		return rc;
	if ((rc = flush_wbuf(st, err, errlen)) != 0)
		return rc;
	for (i = lo; i <= hi && rc == 0; i++) {
		if ((s = find_segment(st, i)) == NULL) {
			st_seterr(err, errlen, "storage: index %" PRIu64
			    " not in the log (%" PRIu64 "..%" PRIu64 ")", i,
			    storage_first_index(st), storage_last_index(st));
			rc = -ENOENT;
			break;
		}
		if (i == lo || i == s->first) {
			if (close_after)
				close(fd);
			if ((fd = open_for_read(st, s, &close_after)) < 0) {
				rc = fd;
				st_seterr(err, errlen, "%s/%s: %s", st->dir,
				    s->name, strerror(-fd));
				close_after = false;
				break;
			}
		}
		if ((rc = read_record(st, s, fd, i, &e, &buf, &cap, err,
		    errlen)) == 0)
			rc = cb(ctx, &e);
	}
	if (close_after)
		close(fd);
	free(buf);
	return rc;
}

/* Copies one entry out for storage_read_entry(). */
static int
copy_entry(void *ctx, const struct raft_entry *e)
{
	struct {
		struct raft_entry *e;
		uint8_t		 *buf;
	} *c = ctx;

	*c->e = *e;
	if ((c->buf = malloc(e->len ? e->len : 1)) == NULL)
		return -ENOMEM;
	memcpy(c->buf, e->data, e->len);
	c->e->data = c->buf;
	return 0;
}

/* Reads one entry into a new buffer. */
int
storage_read_entry(struct storage *st, raft_index_t index,
    struct raft_entry *e, uint8_t **buf, char *err, size_t errlen)
{
	struct {
		struct raft_entry *e;
		uint8_t		 *buf;
	} c = { e, NULL };
	int	 rc;

	*buf = NULL;
	rc = storage_read_range(st, index, index, copy_entry, &c, err, errlen);
	if (rc == -ENOMEM)
		st_seterr(err, errlen, "out of memory");
	if (rc != 0) {
		free(c.buf);
		return rc;
	}
	*buf = c.buf;
	return 0;
}

struct load_ctx {
	struct storage_loaded	*l;
	size_t			 n;
	size_t			 used;
};

/* Copies one entry into the loaded arena. */
static int
load_entry(void *ctx, const struct raft_entry *e)
{
	struct load_ctx	*c = ctx;
	uint8_t		*arena = c->l->arena;

	c->l->entries[c->n] = *e;
	memcpy(arena + c->used, e->data, e->len);
	c->l->entries[c->n].data = arena + c->used;
	c->used += e->len;
	c->n++;
	return 0;
}

/* Sums the payload bytes of lo..hi from the record offsets. */
static uint64_t
payload_bytes(struct storage *st, uint64_t lo, uint64_t hi)
{
	struct seg	*s;
	uint64_t	 i, total = 0, off, next;

	for (i = lo; i <= hi; i++) {
		if ((s = find_segment(st, i)) == NULL)
			break;
		off = s->offs[i - s->first];
		next = i < s->last ? s->offs[i + 1 - s->first] : s->end;
		total += next - off - REC_HEADER_SIZE;
	}
	return total;
}

/* Gathers everything to restore the core from. */
int
storage_load(struct storage *st, struct storage_loaded *out, char *err,
    size_t errlen)
{
	struct load_ctx	 c;
	uint64_t	 first = storage_first_index(st);
	uint64_t	 last = storage_last_index(st);
	uint64_t	 base = st->has_snap ? st->snap_index : 0, lo, bytes;
	int		 rc;

	memset(out, 0, sizeof(*out));
	if ((rc = st_failed(st, err, errlen)) != 0)
		return rc;
	if (first <= last && first > base + 1) {
		st_seterr(err, errlen, "%s: the log starts at %" PRIu64 " but %s "
		    "%" PRIu64 ": entries %" PRIu64 "..%" PRIu64 " are "
		    "missing", st->dir, first, st->has_snap ?
		    "the latest valid snapshot ends at" : "there is no "
		    "snapshot, so it must start at", base + 1, base + 1,
		    first - 1);
		return -EBADMSG;
	}
	out->hs = st->hs;
	if (st->rec_commit > out->hs.commit)
		out->hs.commit = st->rec_commit;
	if (out->hs.commit > (last > base ? last : base))
		out->hs.commit = last > base ? last : base;
	if (st->has_snap) {
		out->has_snapshot = true;
		out->snapshot_index = st->snap_index;
		out->snapshot_term = st->snap_term;
		out->snapshot_image_len = st->snap_image_len;
		out->snapshot_config_len = st->snap_config_len;
		if ((out->snapshot_config = malloc(st->snap_config_len + 1)) ==
		    NULL)
			goto nomem;
		memcpy(out->snapshot_config, st->snap_config,
		    st->snap_config_len);
	}
	lo = base + 1 > first ? base + 1 : first;
	if (lo > last)
		return 0;
	bytes = payload_bytes(st, lo, last);
	out->entries = calloc((size_t)(last - lo + 1), sizeof(*out->entries));
	out->arena = malloc((size_t)bytes + 1);
	if (out->entries == NULL || out->arena == NULL)
		goto nomem;
	memset(&c, 0, sizeof(c));
	c.l = out;
	if ((rc = storage_read_range(st, lo, last, load_entry, &c, err,
	    errlen)) != 0) {
		storage_loaded_free(out);
		return rc;
	}
	out->n_entries = c.n;
	return 0;
nomem:
	storage_loaded_free(out);
	st_seterr(err, errlen, "storage: out of memory loading the log");
	return -ENOMEM;
}

/* Frees what storage_load() allocated. */
void
storage_loaded_free(struct storage_loaded *l)
{
	free(l->snapshot_config);
	free(l->entries);
	free(l->arena);
	memset(l, 0, sizeof(*l));
}

/* Stops the helper, flushes nothing more, and frees st. */
void
storage_close(struct storage *st)
{
	size_t	 i;

	if (st == NULL)
		return;
	prep_stop(st);
	if (st->active_fd >= 0)
		vfs_close(st->vfs, st->active_fd);
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	for (i = 0; i < st->nsegs; i++)
		free(st->segs[i].offs);
	free(st->segs);
	free(st->wbuf);
	free(st->snap_config);
	vfs_free(st->own_vfs);
	free(st);
}
