/*
 * storage-snap.c -- snapshot files: written to a temporary name, synced,
 * renamed into place, the directory synced, and only then older ones
 * removed.  The latest file whose checksum holds is the one loaded.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "log.h"
#include "vfs.h"
#include "storage-internal.h"

#define SNAP_CHUNK	(1u << 20)

struct storage_snapshot_writer {
	struct storage	*st;
	int		 fd;
	uint64_t	 off;
	uint64_t	 image_len;
	uint32_t	 crc;
	uint64_t	 index;
	uint64_t	 term;
	uint8_t		*config;
	size_t		 config_len;
	char		 path[PATH_MAX];
	char		 tmp[PATH_MAX];
};

/* Recognises snapshot-INDEX and snapshot-INDEX.tmp. */
bool
name_is_snapshot(const char *name, uint64_t *index, bool *tmp)
{
	size_t		 len = strlen(name), i;
	uint64_t	 v = 0;

	if (len < 29 || strncmp(name, "snapshot-", 9) != 0)
		return false;
	for (i = 9; i < 29; i++) {
		if (name[i] < '0' || name[i] > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	*index = v;
	*tmp = strcmp(name + 29, ".tmp") == 0;
	return v > 0 && (name[29] == '\0' || *tmp);
}

/* Formats snapshot-INDEX. */
static void
snap_name(char *buf, size_t len, uint64_t index)
{
	vfs_pathf(buf, len, "snapshot-%020" PRIu64, index);
}

/*
 * Verifies a whole snapshot file: header, checksum over everything, sizes.
 * Returns 0 with the header, config (new, caller frees) and image length.
 */
int
snap_verify_file(const char *path, struct snap_header *h, uint8_t **config,
    uint64_t *image_len, char *why, size_t whylen)
{
	uint8_t		*buf = NULL, hdr[SNAP_HEADER_SIZE];
	uint8_t		 trailer[SNAP_TRAILER_SIZE];
	uint64_t	 size, off, body_end;
	uint32_t	 crc;
	ssize_t		 n;
	size_t		 chunk;
	int		 fd, rc = -EBADMSG;

	*config = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		return -errno;
	}
	size = (uint64_t)lseek(fd, 0, SEEK_END);
	if (size < SNAP_HEADER_SIZE + SNAP_TRAILER_SIZE ||
	    pread(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr)) {
		snprintf(why, whylen, "offset 0: expected at least %d bytes, "
		    "found %" PRIu64, SNAP_HEADER_SIZE + SNAP_TRAILER_SIZE,
		    size);
		goto out;
	}
	if (snap_header_decode(hdr, sizeof(hdr), h, why, whylen) != 0)
		goto out;
	body_end = size - SNAP_TRAILER_SIZE;
	if (SNAP_HEADER_SIZE + (uint64_t)h->config_len > body_end) {
		snprintf(why, whylen, "offset 12: config of %" PRIu32 " bytes "
		    "does not fit a %" PRIu64 "-byte file", h->config_len, size);
		goto out;
	}
	if ((buf = malloc(SNAP_CHUNK)) == NULL ||
	    (*config = malloc(h->config_len + 1)) == NULL) {
		rc = -ENOMEM;
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	crc = crc32c(0, hdr, sizeof(hdr));
	for (off = SNAP_HEADER_SIZE; off < body_end; off += (uint64_t)n) {
		chunk = body_end - off < SNAP_CHUNK ? (size_t)(body_end - off) :
		    SNAP_CHUNK;
		if ((n = pread(fd, buf, chunk, (off_t)off)) <= 0) {
			snprintf(why, whylen, "offset %" PRIu64 ": read failed",
			    off);
			rc = -EIO;
			goto out;
		}
		if (off < SNAP_HEADER_SIZE + (uint64_t)h->config_len)
			memcpy(*config + (off - SNAP_HEADER_SIZE), buf,
			    (size_t)n < SNAP_HEADER_SIZE + h->config_len - off ?
			    (size_t)n : (size_t)(SNAP_HEADER_SIZE +
			    h->config_len - off));
		crc = crc32c(crc, buf, (size_t)n);
	}
	if (pread(fd, trailer, sizeof(trailer), (off_t)body_end) !=
	    (ssize_t)sizeof(trailer))
		goto out;
	if (snap_trailer_decode(trailer, crc, image_len, why, whylen) != 0) {
		char	 tmp[200];

		vfs_pathf(tmp, sizeof(tmp), "offset %" PRIu64 ": expected %s",
		    body_end, why);
		snprintf(why, whylen, "%s", tmp);
		goto out;
	}
	if (*image_len != body_end - SNAP_HEADER_SIZE - h->config_len) {
		snprintf(why, whylen, "offset %" PRIu64 ": expected image "
		    "length %" PRIu64 ", found %" PRIu64, body_end + 8,
		    body_end - SNAP_HEADER_SIZE - h->config_len, *image_len);
		goto out;
	}
	rc = 0;
out:
	if (rc != 0) {
		free(*config);
		*config = NULL;
	}
	free(buf);
	close(fd);
	return rc;
}

/* Finds the latest valid snapshot and removes older ones. */
int
snap_recover(struct storage *st, char *err, size_t errlen)
{
	DIR		*d;
	struct dirent	*de;
	uint64_t	*idx = NULL, *nidx, v, image_len;
	size_t		 n = 0, cap = 0, i;
	struct snap_header h;
	uint8_t		*config;
	char		 name[64], path[PATH_MAX], why[256];
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
		snap_name(name, sizeof(name), idx[i]);
		st_path(st, name, path, sizeof(path));
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
		rc = snap_verify_file(path, &h, &config, &image_len, why,
		    sizeof(why));
		if (rc == -ENOMEM) {
			st_seterr(err, errlen, "out of memory");
			goto out;
		}
		if (rc != 0 || h.index != idx[i]) {
			if (st->log != NULL)
				log_warn(st->log, "%s: not loaded, corrupt: %s",
				    path, rc != 0 ? why :
				    "index differs from the name");
			free(config);
			rc = 0;
			continue;
		}
		st->has_snap = true;
		st->snap_index = h.index;
		st->snap_term = h.term;
		st->snap_config = config;
		st->snap_config_len = h.config_len;
		st->snap_image_len = image_len;
	}
	if (removed && (rc = vfs_fsync_dir(st->vfs, st->dir)) != 0)
		st_seterr(err, errlen, "%s: fsync: %s", st->dir, strerror(-rc));
out:
	closedir(d);
	free(idx);
	return rc;
}

/* Starts writing a snapshot to a temporary file. */
int
storage_snapshot_begin(struct storage *st, raft_index_t index,
    raft_term_t term, const uint8_t *config, size_t config_len,
    struct storage_snapshot_writer **wp, char *err, size_t errlen)
{
	struct storage_snapshot_writer *w;
	struct snap_header h;
	uint8_t		 hdr[SNAP_HEADER_SIZE];
	char		 name[64];
	int		 rc;

	*wp = NULL;
	if ((rc = st_failed(st, err, errlen)) != 0)
		return rc;
	if (index == 0 || config_len > SNAP_MAX_CONFIG ||
	    (config_len > 0 && config == NULL)) {
		st_seterr(err, errlen, "storage: bad snapshot arguments");
		return -EINVAL;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->config = malloc(config_len + 1)) == NULL) {
		free(w);
		st_seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	w->st = st;
	w->index = index;
	w->term = term;
	if (config_len > 0)
		memcpy(w->config, config, config_len);
	w->config_len = config_len;
	snap_name(name, sizeof(name), index);
	st_path(st, name, w->path, sizeof(w->path));
	vfs_pathf(w->tmp, sizeof(w->tmp), "%s.tmp", w->path);
	w->fd = vfs_open(st->vfs, w->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (w->fd < 0) {
		rc = st_fail(st, w->fd, err, errlen, "%s: create: %s", w->tmp,
		    strerror(-w->fd));
		free(w->config);
		free(w);
		return rc;
	}
	h.index = index;
	h.term = term;
	h.config_len = (uint32_t)config_len;
	snap_header_encode(&h, hdr);
	w->crc = crc32c(0, hdr, sizeof(hdr));
	if ((rc = vfs_pwrite_all(st->vfs, w->fd, hdr, sizeof(hdr), 0)) == 0 &&
	    config_len > 0)
		rc = vfs_pwrite_all(st->vfs, w->fd, config, config_len,
		    SNAP_HEADER_SIZE);
	if (rc != 0) {
		st_fail(st, rc, err, errlen, "%s: write: %s", w->tmp,
		    strerror(-rc));
		storage_snapshot_abort(w);
		return rc;
	}
	w->crc = crc32c(w->crc, config, config_len);
	w->off = SNAP_HEADER_SIZE + config_len;
	*wp = w;
	return 0;
}

/* Appends image bytes to the snapshot being written. */
int
storage_snapshot_write(struct storage_snapshot_writer *w, const void *buf,
    size_t len, char *err, size_t errlen)
{
	int	 rc;

	if ((rc = st_failed(w->st, err, errlen)) != 0)
		return rc;
	if (len == 0)
		return 0;
	if ((rc = vfs_pwrite_all(w->st->vfs, w->fd, buf, len,
	    (off_t)w->off)) != 0)
		return st_fail(w->st, rc, err, errlen, "%s: write at offset %"
		    PRIu64 ": %s", w->tmp, w->off, strerror(-rc));
	w->crc = crc32c(w->crc, buf, len);
	w->off += len;
	w->image_len += len;
	return 0;
}

/* Removes snapshots older than index (the new one is durable already). */
static int
snap_remove_older(struct storage *st, uint64_t index, char *err,
    size_t errlen)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[PATH_MAX];
	uint64_t	 v;
	bool		 tmp, removed = false;
	int		 rc = 0;

	if ((d = opendir(st->dir)) == NULL)
		return st_fail(st, -errno, err, errlen, "%s: %s", st->dir,
		    strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (!name_is_snapshot(de->d_name, &v, &tmp) || tmp ||
		    v >= index)
			continue;
		st_path(st, de->d_name, path, sizeof(path));
		if ((rc = vfs_unlink(st->vfs, path)) != 0) {
			rc = st_fail(st, rc, err, errlen, "%s: unlink: %s",
			    path, strerror(-rc));
			break;
		}
		removed = true;
	}
	closedir(d);
	if (rc == 0 && removed && (rc = vfs_fsync_dir(st->vfs, st->dir)) != 0)
		rc = st_fail(st, rc, err, errlen, "%s: fsync: %s", st->dir,
		    strerror(-rc));
	return rc;
}

/* Finishes, syncs and installs the snapshot; frees w. */
int
storage_snapshot_commit(struct storage_snapshot_writer *w, char *err,
    size_t errlen)
{
	struct storage	*st = w->st;
	uint8_t		 trailer[SNAP_TRAILER_SIZE];
	int		 rc;

	if ((rc = st_failed(st, err, errlen)) != 0)
		goto fail;
	snap_trailer_encode(w->image_len, w->crc, trailer);
	if ((rc = vfs_pwrite_all(st->vfs, w->fd, trailer, sizeof(trailer),
	    (off_t)w->off)) != 0 || (rc = vfs_fdatasync(st->vfs, w->fd)) != 0) {
		st_fail(st, rc, err, errlen, "%s: write/fdatasync: %s", w->tmp,
		    strerror(-rc));
		goto fail;
	}
	vfs_close(st->vfs, w->fd);
	w->fd = -1;
	if ((rc = vfs_rename(st->vfs, w->tmp, w->path)) != 0 ||
	    (rc = vfs_fsync_dir(st->vfs, st->dir)) != 0) {
		st_fail(st, rc, err, errlen, "installing %s: %s", w->path,
		    strerror(-rc));
		goto fail;
	}
	free(st->snap_config);
	st->has_snap = true;
	st->snap_index = w->index;
	st->snap_term = w->term;
	st->snap_config = w->config;
	st->snap_config_len = w->config_len;
	st->snap_image_len = w->image_len;
	w->config = NULL;
	rc = snap_remove_older(st, w->index, err, errlen);
	free(w);
	return rc;
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
		vfs_close(w->st->vfs, w->fd);
	vfs_unlink(w->st->vfs, w->tmp);
	free(w->config);
	free(w);
}

/* Streams the current snapshot's image, checking the file's CRC. */
int
storage_snapshot_read(struct storage *st, storage_chunk_fn *cb, void *ctx,
    char *err, size_t errlen)
{
	char		 name[64], path[PATH_MAX];
	uint8_t		*buf = NULL, trailer[SNAP_TRAILER_SIZE];
	uint8_t		 hdr[SNAP_HEADER_SIZE];
	uint64_t	 off, end, image_len;
	uint32_t	 crc;
	ssize_t		 n;
	size_t		 chunk;
	int		 fd, rc = 0;
	char		 why[200];

	if ((rc = st_failed(st, err, errlen)) != 0)
		return rc;
	if (!st->has_snap) {
		st_seterr(err, errlen, "%s: no snapshot", st->dir);
		return -ENOENT;
	}
	snap_name(name, sizeof(name), st->snap_index);
	st_path(st, name, path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = -errno;
		st_seterr(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	if ((buf = malloc(SNAP_CHUNK)) == NULL) {
		rc = -ENOMEM;
		st_seterr(err, errlen, "out of memory");
		goto out;
	}
	off = SNAP_HEADER_SIZE + st->snap_config_len;
	end = off + st->snap_image_len;
	if (pread(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) ||
	    pread(fd, buf, st->snap_config_len, SNAP_HEADER_SIZE) !=
	    (ssize_t)st->snap_config_len) {
		rc = -EBADMSG;
		st_seterr(err, errlen, "%s: offset 0: short file", path);
		goto out;
	}
	crc = crc32c(crc32c(0, hdr, sizeof(hdr)), buf, st->snap_config_len);
	for (; off < end; off += (uint64_t)n) {
		chunk = end - off < SNAP_CHUNK ? (size_t)(end - off) :
		    SNAP_CHUNK;
		if ((n = pread(fd, buf, chunk, (off_t)off)) <= 0) {
			rc = -EBADMSG;
			st_seterr(err, errlen, "%s: offset %" PRIu64 ": short "
			    "file", path, off);
			goto out;
		}
		crc = crc32c(crc, buf, (size_t)n);
		if ((rc = cb(ctx, buf, (size_t)n)) != 0)
			goto out;
	}
	if (pread(fd, trailer, sizeof(trailer), (off_t)end) !=
	    (ssize_t)sizeof(trailer) || snap_trailer_decode(trailer, crc,
	    &image_len, why, sizeof(why)) != 0) {
		rc = -EBADMSG;
		st_seterr(err, errlen, "%s: offset %" PRIu64 ": checksum "
		    "failed on re-read", path, end);
	}
out:
	free(buf);
	close(fd);
	return rc;
}
