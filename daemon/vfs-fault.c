/* vfs-fault.c -- a POSIX vfs that fails writes or syncs on purpose. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vfs.h"

struct fault {
	pthread_mutex_t	 lock;
	uint64_t	 written;	/* bytes written so far */
	uint64_t	 byte_limit;	/* UINT64_MAX: none */
	int		 byte_errno;
	uint64_t	 syncs;		/* syncs so far */
	uint64_t	 sync_fail;	/* 1-based; 0: none */
	int		 sync_errno;
	uint64_t	 no_fallocate;	/* nonzero: fallocate is refused */
};

enum fault_kind {
	FAULT_BYTES,
	FAULT_SYNC,
	FAULT_NO_FALLOCATE,
};

struct fault_option {
	const char	*name;
	enum fault_kind	 kind;
	int		 errnum;
};

static const struct fault_option fault_options[] = {
	{ "enospc-after-bytes", FAULT_BYTES, ENOSPC },
	{ "eio-after-bytes", FAULT_BYTES, EIO },
	{ "enospc-on-sync", FAULT_SYNC, ENOSPC },
	{ "eio-on-sync", FAULT_SYNC, EIO },
	{ "no-fallocate", FAULT_NO_FALLOCATE, EOPNOTSUPP },
};

/* Writes what fits under the byte limit, then fails. */
static ssize_t
fault_pwrite(struct vfs *v, int fd, const void *buf, size_t len, off_t off)
{
	struct fault	*f = v->impl;
	uint64_t	 room;
	ssize_t		 n;
	int		 errnum = 0;

	pthread_mutex_lock(&f->lock);
	room = f->byte_limit > f->written ? f->byte_limit - f->written : 0;
	if (room < len) {
		errnum = f->byte_errno;
		len = (size_t)room;
	}
	f->written += len;
	pthread_mutex_unlock(&f->lock);
	if (len > 0) {
		n = vfs_posix_ops.pwrite(v, fd, buf, len, off);
		if (n < 0 || errnum == 0)
			return n;
	}
	return -errnum;
}

/* Counts a sync and tells whether this one must fail. */
static int
fault_sync_check(struct fault *f)
{
	int	 rc = 0;

	pthread_mutex_lock(&f->lock);
	f->syncs++;
	if (f->sync_fail != 0 && f->syncs == f->sync_fail)
		rc = -f->sync_errno;
	pthread_mutex_unlock(&f->lock);
	return rc;
}

/* Syncs fd's data unless this is the sync chosen to fail. */
static int
fault_fdatasync(struct vfs *v, int fd)
{
	int	 rc = fault_sync_check(v->impl);

	return rc != 0 ? rc : vfs_posix_ops.fdatasync(v, fd);
}

/* Syncs fd unless this is the sync chosen to fail. */
static int
fault_fsync(struct vfs *v, int fd)
{
	int	 rc = fault_sync_check(v->impl);

	return rc != 0 ? rc : vfs_posix_ops.fsync(v, fd);
}

/* Syncs a directory unless this is the sync chosen to fail. */
static int
fault_fsync_dir(struct vfs *v, const char *path)
{
	int	 rc = fault_sync_check(v->impl);

	return rc != 0 ? rc : vfs_posix_ops.fsync_dir(v, path);
}

/* Reserves space, refusing past the byte limit. */
static int
fault_fallocate(struct vfs *v, int fd, off_t off, off_t len)
{
	struct fault	*f = v->impl;
	int		 full;

	if (f->no_fallocate)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&f->lock);
	full = f->byte_limit != UINT64_MAX && f->byte_errno == ENOSPC &&
	    f->written + (uint64_t)len > f->byte_limit;
	pthread_mutex_unlock(&f->lock);
	if (full)
		return -ENOSPC;
	return vfs_posix_ops.fallocate(v, fd, off, len);
}

/* Frees a fault vfs. */
static void
fault_destroy(struct vfs *v)
{
	struct fault	*f = v->impl;

	pthread_mutex_destroy(&f->lock);
	free(f);
	free(v);
}

/* Parses one "name=N" option into f. */
static int
fault_parse_one(struct fault *f, const char *opt, size_t len, char *err,
    size_t errlen)
{
	const struct fault_option *fo;
	size_t		 i, nlen;
	char		 num[32], *end;
	uint64_t	 value;

	for (i = 0; i < sizeof(fault_options) / sizeof(fault_options[0]); i++) {
		fo = &fault_options[i];
		nlen = strlen(fo->name);
		if (len <= nlen + 1 || strncmp(opt, fo->name, nlen) != 0 ||
		    opt[nlen] != '=')
			continue;
		if (len - nlen - 1 >= sizeof(num))
			break;
		memcpy(num, opt + nlen + 1, len - nlen - 1);
		num[len - nlen - 1] = '\0';
		errno = 0;
		value = strtoull(num, &end, 10);
		if (errno != 0 || *end != '\0' || end == num)
			break;
		switch (fo->kind) {
		case FAULT_BYTES:
			f->byte_limit = value;
			f->byte_errno = fo->errnum;
			break;
		case FAULT_SYNC:
			f->sync_fail = value;
			f->sync_errno = fo->errnum;
			break;
		case FAULT_NO_FALLOCATE:
			f->no_fallocate = value;
			break;
		}
		return 0;
	}
	snprintf(err, errlen, "vfs fault: bad option \"%.*s\"", (int)len, opt);
	return -EINVAL;
}

/* Creates a fault vfs from a comma-separated option list. */
int
vfs_fault_new(const char *opts, struct vfs **out, char *err, size_t errlen)
{
	struct vfs	*v = NULL;
	struct fault	*f = NULL;
	struct vfs_ops	*ops;
	const char	*p, *comma;
	int		 rc;

	*out = NULL;
	/* The ops table is per instance so it can inherit the POSIX calls. */
	v = calloc(1, sizeof(*v) + sizeof(*ops));
	f = calloc(1, sizeof(*f));
	if (v == NULL || f == NULL) {
		snprintf(err, errlen, "vfs fault: out of memory");
		rc = -ENOMEM;
		goto out;
	}
	f->byte_limit = UINT64_MAX;
	for (p = opts; *p != '\0'; p = *comma != '\0' ? comma + 1 : comma) {
		comma = strchr(p, ',');
		if (comma == NULL)
			comma = p + strlen(p);
		if ((rc = fault_parse_one(f, p, (size_t)(comma - p), err,
		    errlen)) != 0)
			goto out;
	}
	pthread_mutex_init(&f->lock, NULL);
	ops = (struct vfs_ops *)(v + 1);
	*ops = vfs_posix_ops;
	ops->name = "fault";
	ops->pwrite = fault_pwrite;
	ops->fdatasync = fault_fdatasync;
	ops->fsync = fault_fsync;
	ops->fsync_dir = fault_fsync_dir;
	ops->fallocate = fault_fallocate;
	ops->destroy = fault_destroy;
	v->ops = ops;
	v->impl = f;
	*out = v;
	return 0;
out:
	free(f);
	free(v);
	return rc;
}
