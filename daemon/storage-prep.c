/*
 * storage-prep.c -- the helper thread that creates the next segment file,
 * preallocated and zero-filled and synced, while the current one fills.
 *
 * Overwriting zeros that are already on disk syncs about twice as fast as
 * appending, because fdatasync then has no block allocation or file size
 * to journal.  The thread shares only struct prep with the disk thread,
 * under prep.lock; everything else it reads (dir, vfs, segment size) is
 * fixed while it runs.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "vfs.h"
#include "storage-internal.h"

#define ZERO_CHUNK	(1u << 20)

/*
 * Reserves size bytes for fd and writes zeros over them, then syncs.  When
 * the filesystem refuses fallocate, the zeros alone allocate the blocks.
 */
int
prep_fill(struct vfs *vfs, int fd, uint64_t size, char *err, size_t errlen,
    const char *path)
{
	uint8_t		*zeros;
	uint64_t	 off;
	size_t		 chunk;
	int		 rc;

	rc = vfs_fallocate(vfs, fd, 0, (off_t)size);
	if (rc != 0 && rc != -EOPNOTSUPP) {
		st_seterr(err, errlen, "%s: fallocate %" PRIu64 " bytes: %s",
		    path, size, strerror(-rc));
		return rc;
	}
	if ((zeros = calloc(1, ZERO_CHUNK)) == NULL) {
		st_seterr(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	for (off = 0; off < size; off += chunk) {
		chunk = size - off < ZERO_CHUNK ? (size_t)(size - off) :
		    ZERO_CHUNK;
		if ((rc = vfs_pwrite_all(vfs, fd, zeros, chunk,
		    (off_t)off)) != 0) {
			st_seterr(err, errlen, "%s: zero-filling at offset %"
			    PRIu64 ": %s", path, off, strerror(-rc));
			goto out;
		}
	}
	if ((rc = vfs_fdatasync(vfs, fd)) != 0)
		st_seterr(err, errlen, "%s: fdatasync: %s", path,
		    strerror(-rc));
out:
	free(zeros);
	return rc;
}

/* Creates open-N, fills it and makes its directory entry durable. */
static int
prep_create(struct storage *st, uint64_t n, int *fdp, char *err,
    size_t errlen)
{
	char	 name[SEG_NAME_MAX], path[PATH_MAX];
	int	 fd, rc;

	vfs_pathf(name, sizeof(name), "open-%" PRIu64, n);
	st_path(st, name, path, sizeof(path));
	fd = vfs_open(st->vfs, path, O_RDWR | O_CREAT | O_EXCL, 0644);
	if (fd < 0) {
		st_seterr(err, errlen, "%s: create: %s", path, strerror(-fd));
		return fd;
	}
	rc = prep_fill(st->vfs, fd, st->opts.segment_bytes, err, errlen,
	    path);
	if (rc == 0 && (rc = vfs_fsync_dir(st->vfs, st->dir)) != 0)
		st_seterr(err, errlen, "%s: fsync: %s", st->dir,
		    strerror(-rc));
	if (rc != 0) {
		vfs_close(st->vfs, fd);
		vfs_unlink(st->vfs, path);
		return rc;
	}
	*fdp = fd;
	return 0;
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
		while (!p->stop && p->state != PREP_WANTED)
			pthread_cond_wait(&p->cond, &p->lock);
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
	if (p->state == PREP_READY && p->fd >= 0)
		vfs_close(st->vfs, p->fd);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	p->started = false;
}
