/*
 * snapload.c -- the state machine from a snapshot file (see snapload.h).
 */
#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kv.h"
#include "snapload.h"
#include "storage.h"

struct image_reader {
	int		 fd;
	uint64_t	 off;	/* next byte of the file to read */
	uint64_t	 end;	/* one past the image's last byte */
	int		 error;	/* errno of a failed read */
};

/* kv_read_fn over the image's byte range of the file. */
static ssize_t
image_read(void *arg, void *buf, size_t len)
{
	struct image_reader *r = arg;
	ssize_t		 n;

	if (r->off >= r->end)
		return 0;
	if (len > r->end - r->off)
		len = (size_t)(r->end - r->off);
	do
		n = pread(r->fd, buf, len, (off_t)r->off);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		r->error = errno;
		return -errno;
	}
	if (n == 0) {
		r->error = EIO;
		return -EIO;	/* the file shrank under us */
	}
	r->off += (uint64_t)n;
	return n;
}

int
snapload_kv(const char *path, const struct kv_config *cfg, struct kv **out,
    struct storage_snapshot_meta *meta, char *err, size_t errlen)
{
	struct storage_snapshot_meta m;
	struct image_reader r;
	char		 why[256];
	int		 rc;

	*out = NULL;
	memset(&m, 0, sizeof(m));
	memset(&r, 0, sizeof(r));
	r.fd = -1;
	if ((rc = storage_snapshot_file_meta(path, &m, err, errlen)) != 0)
		goto out;
	if ((r.fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	r.off = m.image_offset;
	r.end = m.image_offset + m.image_len;
	rc = kv_snapshot_read(cfg, image_read, &r, out, why, sizeof(why));
	if (rc != 0) {
		snprintf(err, errlen, "%s: state-machine image: %s", path, why);
		if (rc == -EINVAL)
			rc = -EBADMSG;
		goto out;
	}
	if (kv_applied_index(*out) != m.index) {
		snprintf(err, errlen, "%s: the image is at index %" PRIu64
		    ", the snapshot at %" PRIu64, path,
		    kv_applied_index(*out), m.index);
		kv_free(*out);
		*out = NULL;
		rc = -EBADMSG;
		goto out;
	}
out:
	if (r.fd >= 0)
		close(r.fd);
	if (rc == 0 && meta != NULL)
		*meta = m;
	else
		free(m.config);
	return rc;
}

/* What kv_snapshot_write() streams into. */
struct image_sink {
	struct storage_snapshot_writer *w;
	int		 progress_fd;
	uint64_t	 since;		/* bytes since the last progress mark */
	char		 err[256];
};

/* kv_write_fn: writes a piece of the image into the snapshot file. */
static int
image_sink_write(void *arg, const void *buf, size_t len)
{
	struct image_sink *is = arg;

	is->since += len;
	if (is->progress_fd >= 0 && is->since >= SNAPLOAD_PROGRESS_BYTES) {
		is->since = 0;
		(void)!write(is->progress_fd, ".", 1);
	}
	return storage_snapshot_write(is->w, buf, len, is->err,
	    sizeof(is->err));
}

int
snapload_save(const struct kv *kv, const char *dir, struct vfs *vfs,
    const char *tag, uint64_t index, uint64_t term, const uint8_t *config,
    size_t config_len, int progress_fd, char *err, size_t errlen)
{
	struct image_sink is;
	int		 rc;

	memset(&is, 0, sizeof(is));
	is.progress_fd = progress_fd;
	if ((rc = storage_snapshot_create(dir, vfs, tag, index, term, config,
	    config_len, &is.w, err, errlen)) != 0)
		return rc;
	if ((rc = kv_snapshot_write(kv, image_sink_write, &is, err,
	    errlen)) != 0) {
		if (is.err[0] != '\0')
			snprintf(err, errlen, "%s", is.err);
		storage_snapshot_abort(is.w);
		return rc;
	}
	return storage_snapshot_finish(is.w, err, errlen);
}
