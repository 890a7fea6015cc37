/*
 * storage-prep.c -- the helper thread that creates the next segment file,
 * preallocated and zero-filled and synced, while the current one fills.
 *
 * Overwriting zeros that are already on disk syncs about twice as fast as
 * appending, because fdatasync then has no block allocation or file size
 * to journal.  The thread shares only struct prep with the disk thread,
 * under prep.lock; everything else it reads (dir, vfs, segment size) is
 * fixed while it runs.
 *
 * Recycling: storage_compact() hands it up to STORAGE_MAX_SPARES segment
 * files that the snapshot covers (renamed spare-N).  Their blocks are
 * allocated and written already, so reusing one needs no zero-fill: only
 * its header is cleared, which leaves its old records behind, each
 * carrying the old segment's epoch, which recovery never accepts in a
 * segment of another epoch (docs/storage.md).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "vfs.h"
#include "storage-internal.h"

#define ZERO_CHUNK	(1u << 18)

/*
 * Reserves [from, size) for fd and writes zeros over it, then syncs.  When
 * the filesystem refuses fallocate, the zeros alone allocate the blocks.
 */
int
prep_fill(struct vfs *vfs, int fd, uint64_t from, uint64_t size, char *err,
    size_t errlen, const char *path)
{
	uint8_t		*zeros;
	uint64_t	 off;
	size_t		 chunk;
	int		 rc;

	if (from < size) {
		rc = vfs_fallocate(vfs, fd, (off_t)from, (off_t)(size - from));
		if (rc != 0 && rc != -EOPNOTSUPP) {
			st_seterr(err, errlen, "%s: fallocate %" PRIu64
			    " bytes: %s", path, size - from, strerror(-rc));
			return rc;
		}
	}
	if ((zeros = calloc(1, ZERO_CHUNK)) == NULL) {
		st_seterr(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	rc = 0;
	for (off = from; off < size; off += chunk) {
		chunk = size - off < ZERO_CHUNK ? (size_t)(size - off) :
		    ZERO_CHUNK;
		if ((rc = vfs_pwrite_all(vfs, fd, zeros, chunk,
		    (off_t)off)) != 0) {
			st_seterr(err, errlen, "%s: zero-filling at offset %"
			    PRIu64 ": %s", path, off, strerror(-rc));
			goto out;
		}
		/*
		 * One chunk at a time to the disk: left to the final
		 * fdatasync, 64 MiB would go in one burst that every log
		 * fsync of the three nodes sharing the disk waits behind
		 * (p99 at 16 writing clients 14-19 ms that way, 2.4-2.6 ms
		 * in 256 KiB steps).
		 */
		vfs_writeback(vfs, fd, (off_t)off, (off_t)chunk);
	}
	if ((rc = vfs_fdatasync(vfs, fd)) != 0)
		st_seterr(err, errlen, "%s: fdatasync: %s", path,
		    strerror(-rc));
out:
	free(zeros);
	return rc;
}

/*
 * Turns spare into open-N (path): its header zeroed first, so that its old
 * records, each stamped with the old segment's epoch, can never be read
 * as a segment; sized to the segment size, only the part it lacks
 * zero-filled; synced before the rename, so an open-N never holds the old
 * header.  The directory fsync follows in prep_create().
 */
static int
prep_recycle(struct storage *st, const char *spare, const char *path,
    int *fdp, char *err, size_t errlen)
{
	char		 from[PATH_MAX];
	uint8_t		 zeros[SEG_HEADER_SIZE];
	struct stat	 sb;
	uint64_t	 size = st->opts.segment_bytes;
	int		 fd, rc;

	st_path(st, spare, from, sizeof(from));
	if ((fd = vfs_open(st->vfs, from, O_RDWR, 0)) < 0) {
		st_seterr(err, errlen, "%s: open: %s", from, strerror(-fd));
		return fd;
	}
	if (fstat(fd, &sb) != 0) {
		rc = -errno;
		st_seterr(err, errlen, "%s: fstat: %s", from, strerror(errno));
		goto fail;
	}
	memset(zeros, 0, sizeof(zeros));
	if ((rc = vfs_pwrite_all(st->vfs, fd, zeros, sizeof(zeros), 0)) != 0 ||
	    ((uint64_t)sb.st_size > size &&
	    (rc = vfs_ftruncate(st->vfs, fd, (off_t)size)) != 0)) {
		st_seterr(err, errlen, "%s: clearing the header: %s", from,
		    strerror(-rc));
		goto fail;
	}
	if ((rc = prep_fill(st->vfs, fd, (uint64_t)sb.st_size < size ?
	    (uint64_t)sb.st_size : size, size, err, errlen, from)) != 0)
		goto fail;
	if ((rc = vfs_rename(st->vfs, from, path)) != 0) {
		st_seterr(err, errlen, "rename %s: %s", from, strerror(-rc));
		goto fail;
	}
	*fdp = fd;
	return 0;
fail:
	vfs_close(st->vfs, fd);
	vfs_unlink(st->vfs, from);
	return rc;
}

/* Creates open-N (from a spare if there is one), ready and durable. */
static int
prep_create(struct storage *st, uint64_t n, int *fdp, char *err,
    size_t errlen)
{
	struct prep	*p = &st->prep;
	char		 name[SEG_NAME_MAX], path[PATH_MAX];
	char		 spare[SEG_NAME_MAX];
	int		 fd = -1, rc;

	vfs_pathf(name, sizeof(name), "open-%" PRIu64, n);
	st_path(st, name, path, sizeof(path));
	spare[0] = '\0';
	pthread_mutex_lock(&p->lock);
	if (p->nspares > 0) {
		memcpy(spare, p->spares[--p->nspares], sizeof(spare));
		p->recycled++;
	}
	pthread_mutex_unlock(&p->lock);
	if (spare[0] != '\0') {
		if ((rc = prep_recycle(st, spare, path, &fd, err, errlen)) != 0)
			return rc;
	} else {
		fd = vfs_open(st->vfs, path, O_RDWR | O_CREAT | O_EXCL, 0644);
		if (fd < 0) {
			st_seterr(err, errlen, "%s: create: %s", path,
			    strerror(-fd));
			return fd;
		}
		rc = prep_fill(st->vfs, fd, 0, st->opts.segment_bytes, err,
		    errlen, path);
		if (rc != 0) {
			vfs_close(st->vfs, fd);
			vfs_unlink(st->vfs, path);
			return rc;
		}
	}
	if ((rc = vfs_fsync_dir(st->vfs, st->dir)) != 0) {
		st_seterr(err, errlen, "%s: fsync: %s", st->dir,
		    strerror(-rc));
		vfs_close(st->vfs, fd);
		vfs_unlink(st->vfs, path);
		return rc;
	}
	*fdp = fd;
	return 0;
}

/* True if the helper holds fewer spares than its bound. */
bool
prep_spare_room(struct storage *st)
{
	bool	 room;

	pthread_mutex_lock(&st->prep.lock);
	room = st->prep.nspares < STORAGE_MAX_SPARES;
	pthread_mutex_unlock(&st->prep.lock);
	return room;
}

/* Counts the segments prepared from a spare. */
uint64_t
prep_recycled(struct storage *st)
{
	uint64_t	 n;

	pthread_mutex_lock(&st->prep.lock);
	n = st->prep.recycled;
	pthread_mutex_unlock(&st->prep.lock);
	return n;
}

/* Unlinks path and leaves the freeing of its blocks to the helper. */
int
st_unlink_deferred(struct storage *st, const char *path)
{
	struct prep	*p = &st->prep;
	int		 fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	rc = vfs_unlink(st->vfs, path);
	if (fd < 0)
		return rc;
	/*
	 * started is only changed by this thread (prep_start(), prep_stop()),
	 * so it can be read unlocked; before the helper starts, its lock does
	 * not exist yet.
	 */
	if (p->started) {
		pthread_mutex_lock(&p->lock);
		if (!p->stop && p->nclose < STORAGE_MAX_DEFERRED) {
			p->closefds[p->nclose++] = fd;
			fd = -1;
			pthread_cond_broadcast(&p->cond);
		}
		pthread_mutex_unlock(&p->lock);
	}
	if (fd >= 0)
		(void)close(fd);	/* no helper, or its queue is full */
	return rc;
}

/* Offers a spare file to the helper; false when it has enough. */
bool
prep_add_spare(struct storage *st, const char *name)
{
	struct prep	*p = &st->prep;
	bool		 taken = false;

	pthread_mutex_lock(&p->lock);
	if (p->nspares < STORAGE_MAX_SPARES) {
		vfs_pathf(p->spares[p->nspares++], SEG_NAME_MAX, "%s", name);
		taken = true;
	}
	pthread_mutex_unlock(&p->lock);
	return taken;
}

/* The helper thread: prepares a segment whenever one is wanted. */
static void *
prep_main(void *arg)
{
	struct storage	*st = arg;
	struct prep	*p = &st->prep;
	char		 msg[STORAGE_MSG_MAX];
	uint64_t	 n;
	int		 fd = -1, rc;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stop && p->state != PREP_WANTED && p->nclose == 0)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->nclose > 0) {
			int	 fds[STORAGE_MAX_DEFERRED];
			size_t	 i, nfds = p->nclose;

			memcpy(fds, p->closefds, nfds * sizeof(*fds));
			p->nclose = 0;
			pthread_mutex_unlock(&p->lock);
			for (i = 0; i < nfds; i++)
				(void)close(fds[i]);
			pthread_mutex_lock(&p->lock);
			continue;
		}
		if (p->stop)
			break;
		n = p->n;
		pthread_mutex_unlock(&p->lock);
		msg[0] = '\0';
		rc = prep_create(st, n, &fd, msg, sizeof(msg));
		pthread_mutex_lock(&p->lock);
		if (rc == 0) {
			p->fd = fd;
			p->state = PREP_READY;
		} else {
			p->err = rc;
			snprintf(p->msg, sizeof(p->msg), "%s", msg);
			p->state = PREP_FAILED;
		}
		pthread_cond_broadcast(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Starts the helper thread. */
int
prep_start(struct storage *st, char *err, size_t errlen)
{
	struct prep	*p = &st->prep;
	int		 rc;

	p->state = PREP_IDLE;
	p->fd = -1;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	if ((rc = pthread_create(&p->thread, NULL, prep_main, st)) != 0) {
		st_seterr(err, errlen, "storage: pthread_create: %s",
		    strerror(rc));
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
		return -rc;
	}
	p->started = true;
	return 0;
}

/* Asks for the next segment if none is being or has been prepared. */
void
prep_request(struct storage *st)
{
	struct prep	*p = &st->prep;

	pthread_mutex_lock(&p->lock);
	if (p->state == PREP_IDLE) {
		p->n = st->next_open_n++;
		p->state = PREP_WANTED;
		pthread_cond_broadcast(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
}

/* Takes the prepared segment, waiting for it (and asking) if need be. */
int
prep_take(struct storage *st, int *fd, uint64_t *n, char *err, size_t errlen)
{
	struct prep	*p = &st->prep;
	int		 rc = 0;

	prep_request(st);
	pthread_mutex_lock(&p->lock);
	while (p->state == PREP_WANTED)
		pthread_cond_wait(&p->cond, &p->lock);
	if (p->state == PREP_READY) {
		*fd = p->fd;
		*n = p->n;
		p->fd = -1;
	} else {
		rc = p->err;
		st_seterr(err, errlen, "%s", p->msg);
	}
	p->state = PREP_IDLE;
	pthread_mutex_unlock(&p->lock);
	return rc;
}

/* Stops and joins the helper; a prepared file stays for the next start. */
void
prep_stop(struct storage *st)
{
	struct prep	*p = &st->prep;

	if (!p->started)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	while (p->nclose > 0)
		(void)close(p->closefds[--p->nclose]);
	if (p->state == PREP_READY && p->fd >= 0)
		vfs_close(st->vfs, p->fd);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	p->started = false;
}
