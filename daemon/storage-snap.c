/*
 * storage-snap.c -- snapshot files: written to DIR/snapshot-INDEX.TAG.tmp
 * (by the storage, by a forked child, or from a peer's chunks), synced,
 * verified as a whole, renamed into place, the directory synced, and only
 * then older ones removed.  The latest file whose checksum holds is the
 * one loaded.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "log.h"
#include "vfs.h"
#include "storage-internal.h"

#define SNAP_CHUNK	(1u << 20)
#define SNAP_PACE_STEP	(1u << 20)	/* see writer_pace() */
#define SNAP_TAG_MAX	16
#define SNAP_NAME_LEN	29		/* "snapshot-" and 20 digits */

struct storage_snapshot_writer {
	struct storage	*st;		/* begin(): errors fail it; else NULL */
	struct vfs	*vfs;		/* borrowed, or own_vfs */
	struct vfs	*own_vfs;
	bool		 raw;		/* receive(): the file's bytes as sent */
	int		 fd;
	uint64_t	 off;		/* bytes written so far */
	uint64_t	 flushed;	/* written back up to here */
	uint64_t	 image_len;
	uint32_t	 crc;		/* of every byte written (image writer) */
	uint64_t	 index;
	uint64_t	 term;
	char		 tag[SNAP_TAG_MAX + 1];
	char		 tmp[PATH_MAX];
};

/* True if tag is a short [a-z]+ name. */
static bool
tag_ok(const char *tag)
{
	size_t	 i;

	if (tag == NULL || tag[0] == '\0' || strlen(tag) > SNAP_TAG_MAX)
		return false;
	for (i = 0; tag[i] != '\0'; i++)
		if (tag[i] < 'a' || tag[i] > 'z')
			return false;
	return true;
}

static void	 writer_pace(struct storage_snapshot_writer *);
static int	 snap_scan_file(const char *, struct storage_snapshot_meta *,
		    bool, char *, size_t);
static int	 snap_install(struct storage *, const char *, raft_index_t,
		    raft_term_t, bool, char *, size_t);

/* Recognises snapshot-INDEX, snapshot-INDEX.tmp and snapshot-INDEX.TAG.tmp. */
bool
name_is_snapshot(const char *name, uint64_t *index, bool *tmp)
{
	size_t		 len = strlen(name), i;
	uint64_t	 v = 0;
	char		 tag[SNAP_TAG_MAX + 1];

	if (len < SNAP_NAME_LEN || strncmp(name, "snapshot-", 9) != 0)
		return false;
	for (i = 9; i < SNAP_NAME_LEN; i++) {
		if (name[i] < '0' || name[i] > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	*index = v;
	*tmp = false;
	if (v == 0)
		return false;
	if (name[SNAP_NAME_LEN] == '\0')
		return true;
	if (len < SNAP_NAME_LEN + 4 || strcmp(name + len - 4, ".tmp") != 0)
		return false;
	*tmp = true;
	if (len == SNAP_NAME_LEN + 4)
		return true;		/* the untagged form of older versions */
	if (name[SNAP_NAME_LEN] != '.' || len - SNAP_NAME_LEN - 5 > SNAP_TAG_MAX)
		return false;
	memcpy(tag, name + SNAP_NAME_LEN + 1, len - SNAP_NAME_LEN - 5);
	tag[len - SNAP_NAME_LEN - 5] = '\0';
	return tag_ok(tag);
}

/* Formats dir/snapshot-INDEX. */
static void
snap_path(char *buf, size_t len, const char *dir, uint64_t index)
{
	vfs_pathf(buf, len, "%s/snapshot-%020" PRIu64, dir, index);
}

/* Formats dir/snapshot-INDEX.TAG.tmp. */
void
storage_snapshot_tmp_path(char *buf, size_t len, const char *dir,
    raft_index_t index, const char *tag)
{
	vfs_pathf(buf, len, "%s/snapshot-%020" PRIu64 ".%s.tmp", dir, index,
	    tag);
}

/*
 * Verifies a whole snapshot file: header, sizes, checksum over everything,
 * trailer.  Returns 0 with *m filled (m->config new, caller frees).
 */
int
snap_verify_file(const char *path, struct storage_snapshot_meta *m,
    char *why, size_t whylen)
{
	return snap_scan_file(path, m, true, why, whylen);
}

/*
 * Reads a snapshot file's metadata.  With whole, every byte is read and
 * the whole-file CRC checked; without, only the header, the sizes, the
 * configuration and the trailer's magic and image length (for a file
 * verified as a whole since it was written).
 */
static int
snap_scan_file(const char *path, struct storage_snapshot_meta *m, bool whole,
    char *why, size_t whylen)
{
	uint8_t		*buf = NULL, hdr[SNAP_HEADER_SIZE];
	uint8_t		 trailer[SNAP_TRAILER_SIZE];
	struct snap_header h;
	struct stat	 sb;
	uint64_t	 size, off, body_end, cfg_end;
	uint32_t	 crc;
	ssize_t		 n;
	size_t		 chunk;
	int		 fd, rc = -EBADMSG;

	memset(m, 0, sizeof(*m));
	memset(&h, 0, sizeof(h));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb) != 0) {
		rc = -errno;
		snprintf(why, whylen, "%s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	size = (uint64_t)sb.st_size;
	if (snap_layout_check(&h, size, &m->image_len, why, whylen) != 0)
		goto out;
	if (pread(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr)) {
		rc = -EIO;
		snprintf(why, whylen, "offset 0: read failed");
		goto out;
	}
	if (snap_header_decode(hdr, sizeof(hdr), &h, why, whylen) != 0 ||
	    snap_layout_check(&h, size, &m->image_len, why, whylen) != 0)
		goto out;
	if ((buf = malloc(SNAP_CHUNK)) == NULL ||
	    (m->config = malloc(h.config_len + 1)) == NULL) {
		rc = -ENOMEM;
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	body_end = size - SNAP_TRAILER_SIZE;
	cfg_end = SNAP_HEADER_SIZE + (uint64_t)h.config_len;
	crc = crc32c(0, hdr, sizeof(hdr));
	if (!whole)
		body_end = cfg_end;	/* the configuration only */
	for (off = SNAP_HEADER_SIZE; off < body_end; off += (uint64_t)n) {
		chunk = body_end - off < SNAP_CHUNK ? (size_t)(body_end - off) :
		    SNAP_CHUNK;
		if ((n = pread(fd, buf, chunk, (off_t)off)) <= 0) {
			snprintf(why, whylen, "offset %" PRIu64 ": read failed",
			    off);
			rc = -EIO;
			goto out;
		}
		if (off < cfg_end)
			memcpy(m->config + (off - SNAP_HEADER_SIZE), buf,
			    (uint64_t)n < cfg_end - off ? (size_t)n :
			    (size_t)(cfg_end - off));
		crc = crc32c(crc, buf, (size_t)n);
	}
	body_end = size - SNAP_TRAILER_SIZE;
	if (pread(fd, trailer, sizeof(trailer), (off_t)body_end) !=
	    (ssize_t)sizeof(trailer)) {
		rc = -EIO;
		snprintf(why, whylen, "offset %" PRIu64 ": read failed",
		    body_end);
		goto out;
	}
	if (whole && snap_trailer_check(trailer, crc, body_end, m->image_len,
	    &m->file_crc, why, whylen) != 0)
		goto out;
	if (!whole) {
		if (memcmp(trailer, SNAP_END_MAGIC, 8) != 0 ||
		    fmt_get64(trailer + 8) != m->image_len) {
			snprintf(why, whylen, "offset %" PRIu64 ": not a "
			    "snapshot trailer for an image of %" PRIu64
			    " bytes", body_end, m->image_len);
			goto out;
		}
		m->file_crc = fmt_get32(trailer + 16);
	}
	m->index = h.index;
	m->term = h.term;
	m->config_len = h.config_len;
	m->image_offset = SNAP_HEADER_SIZE + (uint64_t)h.config_len;
	m->file_size = size;
	rc = 0;
out:
	if (rc != 0) {
		free(m->config);
		memset(m, 0, sizeof(*m));
	}
	free(buf);
	close(fd);
	return rc;
}

/* Verifies the snapshot file at path; see storage.h. */
int
storage_snapshot_file_verify(const char *path,
    struct storage_snapshot_meta *meta, char *err, size_t errlen)
{
	char	 why[256];
	int	 rc;

	if ((rc = snap_verify_file(path, meta, why, sizeof(why))) != 0)
		st_seterr(err, errlen, "%s: %s", path, why);
	return rc;
}

/*
 * Streams the image of the snapshot file at path to cb, checking the
 * header (against expect_index unless 0), the layout and, at the end, the
 * whole-file CRC.
 */
static int
snap_stream(const char *path, uint64_t expect_index, storage_chunk_fn *cb,
    void *ctx, char *err, size_t errlen)
{
	struct snap_header h;
	struct stat	 sb;
	uint8_t		*buf = NULL, hdr[SNAP_HEADER_SIZE];
	uint8_t		 trailer[SNAP_TRAILER_SIZE];
	uint64_t	 off, end, image_len;
	uint32_t	 crc, file_crc;
	ssize_t		 n;
	size_t		 chunk;
	char		 why[200];
	int		 fd, rc = -EBADMSG;

	memset(&h, 0, sizeof(h));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb) != 0) {
		rc = -errno;
		st_seterr(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	if (snap_layout_check(&h, (uint64_t)sb.st_size, &image_len, why,
	    sizeof(why)) != 0 ||
	    pread(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) ||
	    snap_header_decode(hdr, sizeof(hdr), &h, why, sizeof(why)) != 0 ||
	    snap_layout_check(&h, (uint64_t)sb.st_size, &image_len, why,
	    sizeof(why)) != 0) {
		st_seterr(err, errlen, "%s: %s", path, why);
		goto out;
	}
	if (expect_index != 0 && h.index != expect_index) {
		st_seterr(err, errlen, "%s: offset 16: expected index %" PRIu64
		    ", found %" PRIu64, path, expect_index, h.index);
		goto out;
	}
	if ((buf = malloc(SNAP_CHUNK)) == NULL) {
		rc = -ENOMEM;
		st_seterr(err, errlen, "out of memory");
		goto out;
	}
	crc = crc32c(0, hdr, sizeof(hdr));
	off = SNAP_HEADER_SIZE;
	end = SNAP_HEADER_SIZE + (uint64_t)h.config_len + image_len;
	while (off < end) {
		chunk = end - off < SNAP_CHUNK ? (size_t)(end - off) :
		    SNAP_CHUNK;
		if (off < SNAP_HEADER_SIZE + (uint64_t)h.config_len &&
		    SNAP_HEADER_SIZE + (uint64_t)h.config_len - off < chunk)
			chunk = (size_t)(SNAP_HEADER_SIZE + h.config_len -
			    off);
		if ((n = pread(fd, buf, chunk, (off_t)off)) <= 0) {
			rc = -EBADMSG;
			st_seterr(err, errlen, "%s: offset %" PRIu64 ": short "
			    "file", path, off);
			goto out;
		}
		crc = crc32c(crc, buf, (size_t)n);
		if (off >= SNAP_HEADER_SIZE + (uint64_t)h.config_len &&
		    (rc = cb(ctx, buf, (size_t)n)) != 0)
			goto out;
		off += (uint64_t)n;
	}
	rc = -EBADMSG;
	if (pread(fd, trailer, sizeof(trailer), (off_t)end) !=
	    (ssize_t)sizeof(trailer) || snap_trailer_check(trailer, crc, end,
	    image_len, &file_crc, why, sizeof(why)) != 0) {
		st_seterr(err, errlen, "%s: checksum failed on re-read: %s",
		    path, why);
		goto out;
	}
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

/* Streams the image of the snapshot file at path; see storage.h. */
int
storage_snapshot_file_read(const char *path, storage_chunk_fn *cb, void *ctx,
    char *err, size_t errlen)
{
	return snap_stream(path, 0, cb, ctx, err, errlen);
}

/* Records m (its config is taken over) as the latest snapshot. */
static void
snap_set_latest(struct storage *st, struct storage_snapshot_meta *m)
{
	free(st->snap_config);
	st->has_snap = true;
	st->snap_index = m->index;
	st->snap_term = m->term;
	st->snap_config = m->config;
	st->snap_config_len = m->config_len;
	st->snap_image_len = m->image_len;
	st->snap_file_size = m->file_size;
	st->snap_file_crc = m->file_crc;
	m->config = NULL;
}

/* Finds the latest valid snapshot and removes older ones. */
int
snap_recover(struct storage *st, char *err, size_t errlen)
{
	DIR		*d;
	struct dirent	*de;
	struct storage_snapshot_meta m;
	uint64_t	*idx = NULL, *nidx, v;
	size_t		 n = 0, cap = 0, i;
	char		 path[PATH_MAX], why[256];
	bool		 tmp, removed = false;
	int		 rc = 0;

	if ((d = opendir(st->dir)) == NULL) {
		rc = -errno;
		st_seterr(err, errlen, "%s: %s", st->dir, strerror(errno));
		return rc;
	}
	while ((de = readdir(d)) != NULL) {
		if (!name_is_snapshot(de->d_name, &v, &tmp) || tmp)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			if ((nidx = realloc(idx, cap * sizeof(*idx))) == NULL) {
				rc = -ENOMEM;
				st_seterr(err, errlen, "out of memory");
				goto out;
			}
			idx = nidx;
		}
		idx[n++] = v;
	}
	/* Newest first: a few files, so a simple sort does. */
	for (i = 1; i < n; i++)
		for (size_t j = i; j > 0 && idx[j] > idx[j - 1]; j--) {
			v = idx[j];
			idx[j] = idx[j - 1];
			idx[j - 1] = v;
		}
	for (i = 0; i < n; i++) {
		snap_path(path, sizeof(path), st->dir, idx[i]);
		if (st->has_snap) {
			/* Older than the one loaded: no longer needed. */
			if ((rc = vfs_unlink(st->vfs, path)) != 0) {
				st_seterr(err, errlen, "%s: unlink: %s", path,
				    strerror(-rc));
				goto out;
			}
			removed = true;
			continue;
		}
		rc = snap_verify_file(path, &m, why, sizeof(why));
		if (rc == -ENOMEM) {
			st_seterr(err, errlen, "out of memory");
			goto out;
		}
		if (rc != 0 || m.index != idx[i]) {
			if (st->log != NULL)
				log_warn(st->log, "%s: not loaded, corrupt: %s",
				    path, rc != 0 ? why :
				    "index differs from the name");
			free(m.config);
			rc = 0;
			continue;
		}
		snap_set_latest(st, &m);
	}
	if (removed && (rc = vfs_fsync_dir(st->vfs, st->dir)) != 0)
		st_seterr(err, errlen, "%s: fsync: %s", st->dir, strerror(-rc));
out:
	closedir(d);
	free(idx);
	return rc;
}

/*
 * Reports a writer's failure: it fails the storage for a writer begun by
 * storage_snapshot_begin(), and is only the caller's error otherwise.
 */
static int __attribute__((format(printf, 5, 6)))
writer_error(struct storage_snapshot_writer *w, int rc, char *err,
    size_t errlen, const char *fmt, ...)
{
	char	 msg[STORAGE_MSG_MAX];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (w->st != NULL)
		return st_fail(w->st, rc, err, errlen, "%s", msg);
	st_seterr(err, errlen, "%s", msg);
	return rc;
}

/* Creates DIR/snapshot-INDEX.TAG.tmp (replacing one) and a writer for it. */
static int
writer_open(struct storage *st, const char *dir, struct vfs *vfs,
    const char *tag, raft_index_t index, bool raw,
    struct storage_snapshot_writer **wp, char *err, size_t errlen)
{
	struct storage_snapshot_writer *w;
	int	 rc;

	*wp = NULL;
	if (dir == NULL || index == 0 || !tag_ok(tag)) {
		st_seterr(err, errlen, "storage: bad snapshot arguments (index "
		    "%" PRIu64 ", tag \"%s\": want index >= 1 and 1..%d "
		    "letters a-z)", index, tag != NULL ? tag : "(null)",
		    SNAP_TAG_MAX);
		return -EINVAL;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (vfs == NULL && (vfs = w->own_vfs = vfs_posix_new()) == NULL)) {
		free(w);
		st_seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	w->st = st;
	w->vfs = vfs;
	w->raw = raw;
	w->index = index;
	snprintf(w->tag, sizeof(w->tag), "%s", tag);
	storage_snapshot_tmp_path(w->tmp, sizeof(w->tmp), dir, index, tag);
	w->fd = vfs_open(vfs, w->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (w->fd < 0) {
		rc = writer_error(w, w->fd, err, errlen, "%s: create: %s",
		    w->tmp, strerror(-w->fd));
		vfs_free(w->own_vfs);
		free(w);
		return rc;
	}
	*wp = w;
	return 0;
}

/* Writes buf at the writer's offset, folding it into the CRC. */
static int
writer_put(struct storage_snapshot_writer *w, const void *buf, size_t len,
    char *err, size_t errlen)
{
	int	 rc;

	if (len == 0)
		return 0;
	if ((rc = vfs_pwrite_all(w->vfs, w->fd, buf, len, (off_t)w->off)) != 0)
		return writer_error(w, rc, err, errlen, "%s: write at offset %"
		    PRIu64 ": %s", w->tmp, w->off, strerror(-rc));
	if (!w->raw)
		w->crc = crc32c(w->crc, buf, len);
	w->off += len;
	writer_pace(w);
	return 0;
}

/*
 * Writes a large snapshot back as it goes, at the disk's pace: every
 * SNAP_PACE_STEP bytes, writeback of the new step starts and the writer
 * waits for the step before it.  Without this, hundreds of MB reach the
 * disk in one burst at the final fdatasync, and every log fsync of the
 * node queues behind them.  Only pacing: durability still comes from
 * storage_snapshot_finish()'s fdatasync, which reports any error.
 */
static void
writer_pace(struct storage_snapshot_writer *w)
{
#ifdef HAVE_SYNC_FILE_RANGE
	uint64_t	 prev;

	if (w->off - w->flushed < SNAP_PACE_STEP)
		return;
	prev = w->flushed >= SNAP_PACE_STEP ? w->flushed - SNAP_PACE_STEP : 0;
	(void)sync_file_range(w->fd, (off_t)w->flushed,
	    (off_t)(w->off - w->flushed), SYNC_FILE_RANGE_WRITE);
	if (w->flushed > prev)
		(void)sync_file_range(w->fd, (off_t)prev,
		    (off_t)(w->flushed - prev), SYNC_FILE_RANGE_WAIT_BEFORE |
		    SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
	w->flushed = w->off;
#else
	(void)w;
#endif
}

/* Starts an image writer, its header and config written; see storage.h. */
static int
snap_create(struct storage *st, const char *dir, struct vfs *vfs,
    const char *tag, raft_index_t index, raft_term_t term,
    const uint8_t *config, size_t config_len,
    struct storage_snapshot_writer **wp, char *err, size_t errlen)
{
	struct storage_snapshot_writer *w;
	struct snap_header h;
	uint8_t		 hdr[SNAP_HEADER_SIZE];
	int		 rc;

	*wp = NULL;
	if (config_len > SNAP_MAX_CONFIG || (config_len > 0 && config == NULL)) {
		st_seterr(err, errlen, "storage: bad snapshot config (%zu "
		    "bytes, at most %u)", config_len, SNAP_MAX_CONFIG);
		return -EINVAL;
	}
	if ((rc = writer_open(st, dir, vfs, tag, index, false, &w, err,
	    errlen)) != 0)
		return rc;
	w->term = term;
	h.index = index;
	h.term = term;
	h.config_len = (uint32_t)config_len;
	snap_header_encode(&h, hdr);
	if ((rc = writer_put(w, hdr, sizeof(hdr), err, errlen)) != 0 ||
	    (rc = writer_put(w, config, config_len, err, errlen)) != 0) {
		storage_snapshot_abort(w);
		return rc;
	}
	*wp = w;
	return 0;
}

/* Starts an image writer without a storage; see storage.h. */
int
storage_snapshot_create(const char *dir, struct vfs *vfs, const char *tag,
    raft_index_t index, raft_term_t term, const uint8_t *config,
    size_t config_len, struct storage_snapshot_writer **w, char *err,
    size_t errlen)
{
	return snap_create(NULL, dir, vfs, tag, index, term, config,
	    config_len, w, err, errlen);
}

/* Starts a raw writer for a file received from a peer; see storage.h. */
int
storage_snapshot_receive(const char *dir, struct vfs *vfs, const char *tag,
    raft_index_t index, struct storage_snapshot_writer **w, char *err,
    size_t errlen)
{
	return writer_open(NULL, dir, vfs, tag, index, true, w, err, errlen);
}

/* Bytes written through w so far. */
uint64_t
storage_snapshot_written(const struct storage_snapshot_writer *w)
{
	return w->off;
}

/* Appends image bytes (or, for a raw writer, file bytes). */
int
storage_snapshot_write(struct storage_snapshot_writer *w, const void *buf,
    size_t len, char *err, size_t errlen)
{
	int	 rc;

	if (w->st != NULL && (rc = st_failed(w->st, err, errlen)) != 0)
		return rc;
	if ((rc = writer_put(w, buf, len, err, errlen)) != 0)
		return rc;
	if (!w->raw)
		w->image_len += len;
	return 0;
}

/*
 * Ends the file (the trailer for an image writer), fdatasyncs and closes
 * it, leaving the .tmp for storage_snapshot_install(); frees w.  On error
 * the file is deleted.
 */
int
storage_snapshot_finish(struct storage_snapshot_writer *w, char *err,
    size_t errlen)
{
	uint8_t		 trailer[SNAP_TRAILER_SIZE];
	int		 rc;

	if (w->st != NULL && (rc = st_failed(w->st, err, errlen)) != 0)
		goto fail;
	if (!w->raw) {
		/* The trailer's CRC covers its own first 16 bytes too. */
		snap_trailer_encode(w->image_len, w->crc, trailer);
		w->raw = true;
		if ((rc = writer_put(w, trailer, sizeof(trailer), err,
		    errlen)) != 0)
			goto fail;
	}
	if ((rc = vfs_fdatasync(w->vfs, w->fd)) != 0) {
		rc = writer_error(w, rc, err, errlen, "%s: fdatasync: %s",
		    w->tmp, strerror(-rc));
		goto fail;
	}
	rc = vfs_close(w->vfs, w->fd);
	w->fd = -1;
	if (rc != 0) {
		rc = writer_error(w, rc, err, errlen, "%s: close: %s", w->tmp,
		    strerror(-rc));
		goto fail;
	}
	vfs_free(w->own_vfs);
	free(w);
	return 0;
fail:
	storage_snapshot_abort(w);
	return rc;
}

/* Deletes the temporary file and frees w. */
void
storage_snapshot_abort(struct storage_snapshot_writer *w)
{
	if (w == NULL)
		return;
	if (w->fd >= 0)
		vfs_close(w->vfs, w->fd);
	vfs_unlink(w->vfs, w->tmp);
	vfs_free(w->own_vfs);
	free(w);
}

/* Accepts a snapshot file (not a partial one) older than *(uint64_t *)arg. */
static bool
is_older_snapshot(void *arg, const char *name)
{
	uint64_t	 v;
	bool		 tmp;

	return name_is_snapshot(name, &v, &tmp) && !tmp &&
	    v < *(const uint64_t *)arg;
}

/* Removes snapshots older than index (the new one is durable already). */
static int
snap_remove_older(struct storage *st, uint64_t index, char *err,
    size_t errlen)
{
	char	 why[STORAGE_MSG_MAX];
	int	 rc, removed;

	rc = st_remove_matching(st, is_older_snapshot, &index, &removed, why,
	    sizeof(why));
	return rc == 0 ? 0 : st_fail(st, rc, err, errlen, "%s", why);
}

/* Makes a finished snapshot-INDEX.TAG.tmp the latest; see storage.h. */
int
storage_snapshot_install(struct storage *st, const char *tag,
    raft_index_t index, raft_term_t term, char *err, size_t errlen)
{
	return snap_install(st, tag, index, term, true, err, errlen);
}

/* Installs a file the caller verified as a whole; see storage.h. */
int
storage_snapshot_install_verified(struct storage *st, const char *tag,
    raft_index_t index, raft_term_t term, char *err, size_t errlen)
{
	return snap_install(st, tag, index, term, false, err, errlen);
}

/* Reads a verified file's metadata cheaply; see storage.h. */
int
storage_snapshot_file_meta(const char *path,
    struct storage_snapshot_meta *meta, char *err, size_t errlen)
{
	char	 why[256];
	int	 rc;

	if ((rc = snap_scan_file(path, meta, false, why, sizeof(why))) != 0)
		snprintf(err, errlen, "%s: %s", path, why);
	return rc;
}

/* Both installs: whole says whether to verify every byte first. */
static int
snap_install(struct storage *st, const char *tag, raft_index_t index,
    raft_term_t term, bool whole, char *err, size_t errlen)
{
	struct storage_snapshot_meta m;
	char		 tmp[PATH_MAX], path[PATH_MAX], why[256];
	int		 rc, fd;

	if ((rc = st_failed(st, err, errlen)) != 0)
		return rc;
	if (index == 0 || !tag_ok(tag)) {
		st_seterr(err, errlen, "storage: bad snapshot arguments (index "
		    "%" PRIu64 ", tag \"%s\")", index, tag != NULL ? tag :
		    "(null)");
		return -EINVAL;
	}
	storage_snapshot_tmp_path(tmp, sizeof(tmp), st->dir, index, tag);
	if (st->has_snap && index <= st->snap_index) {
		vfs_unlink(st->vfs, tmp);
		st_seterr(err, errlen, "%s: snapshot %" PRIu64 " is not above "
		    "the latest, %" PRIu64 " (file deleted)", tmp, index,
		    st->snap_index);
		return -ESTALE;
	}
	rc = snap_scan_file(tmp, &m, whole, why, sizeof(why));
	if (rc == 0 && (m.index != index || m.term != term)) {
		snprintf(why, sizeof(why), "offset 16: expected index %" PRIu64
		    " term %" PRIu64 ", found index %" PRIu64 " term %" PRIu64,
		    index, term, m.index, m.term);
		free(m.config);
		rc = -EBADMSG;
	}
	if (rc == -EBADMSG) {
		vfs_unlink(st->vfs, tmp);
		st_seterr(err, errlen, "%s: %s (file deleted, not installed)",
		    tmp, why);
		if (st->log != NULL)
			log_warn(st->log, "%s", err != NULL ? err : why);
		return rc;
	}
	if (rc != 0) {
		st_seterr(err, errlen, "%s: %s", tmp, why);
		return rc;
	}
	/*
	 * Sync the file once more through this storage's vfs: another
	 * process may have written it (the daemon's forked child, with its
	 * own vfs), and a test vfs trusts only what it saw synced.  Cheap:
	 * the bytes are on disk already.
	 */
	if ((fd = vfs_open(st->vfs, tmp, O_RDWR | O_CLOEXEC, 0)) < 0 ||
	    (rc = vfs_fdatasync(st->vfs, fd)) != 0) {
		rc = fd < 0 ? fd : rc;
		if (fd >= 0)
			vfs_close(st->vfs, fd);
		free(m.config);
		return st_fail(st, rc, err, errlen, "syncing %s: %s", tmp,
		    strerror(-rc));
	}
	vfs_close(st->vfs, fd);
	snap_path(path, sizeof(path), st->dir, index);
	if ((rc = vfs_rename(st->vfs, tmp, path)) != 0 ||
	    (rc = vfs_fsync_dir(st->vfs, st->dir)) != 0) {
		free(m.config);
		return st_fail(st, rc, err, errlen, "installing %s: %s", path,
		    strerror(-rc));
	}
	snap_set_latest(st, &m);
	if (st->log != NULL)
		log_info(st->log, "%s: installed snapshot %" PRIu64 " (term %"
		    PRIu64 ", %" PRIu64 " bytes)", path, m.index, m.term,
		    m.file_size);
	return snap_remove_older(st, index, err, errlen);
}

/* Describes the latest snapshot. */
void
storage_snapshot_get_info(const struct storage *st,
    struct storage_snapshot_info *out)
{
	memset(out, 0, sizeof(*out));
	if (!st->has_snap)
		return;
	out->exists = true;
	out->index = st->snap_index;
	out->term = st->snap_term;
	out->file_size = st->snap_file_size;
	out->file_crc = st->snap_file_crc;
	snap_path(out->path, sizeof(out->path), st->dir, st->snap_index);
}

/* Starts writing a snapshot of st; installed by storage_snapshot_commit(). */
int
storage_snapshot_begin(struct storage *st, raft_index_t index,
    raft_term_t term, const uint8_t *config, size_t config_len,
    struct storage_snapshot_writer **wp, char *err, size_t errlen)
{
	int	 rc;

	*wp = NULL;
	if ((rc = st_failed(st, err, errlen)) != 0)
		return rc;
	return snap_create(st, st->dir, st->vfs, "local", index, term, config,
	    config_len, wp, err, errlen);
}

/* Finishes the snapshot and installs it; frees w. */
int
storage_snapshot_commit(struct storage_snapshot_writer *w, char *err,
    size_t errlen)
{
	struct storage	*st = w->st;
	char		 tag[SNAP_TAG_MAX + 1];
	uint64_t	 index = w->index, term = w->term;
	int		 rc;

	snprintf(tag, sizeof(tag), "%s", w->tag);
	if ((rc = storage_snapshot_finish(w, err, errlen)) != 0)
		return rc;
	return storage_snapshot_install(st, tag, index, term, err, errlen);
}

/* Streams the current snapshot's image, checking the file's CRC. */
int
storage_snapshot_read(struct storage *st, storage_chunk_fn *cb, void *ctx,
    char *err, size_t errlen)
{
	char	 path[PATH_MAX];
	int	 rc;

	if ((rc = st_failed(st, err, errlen)) != 0)
		return rc;
	if (!st->has_snap) {
		st_seterr(err, errlen, "%s: no snapshot", st->dir);
		return -ENOENT;
	}
	snap_path(path, sizeof(path), st->dir, st->snap_index);
	return snap_stream(path, st->snap_index, cb, ctx, err, errlen);
}
