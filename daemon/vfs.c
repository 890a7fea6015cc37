/* vfs.c -- the POSIX I/O layer, the dispatch functions and the spec parser. */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vfs.h"

/* Returns -errno for a failed system call. */
static int
neg_errno(void)
{
	return errno != 0 ? -errno : -EIO;
}

/* Ignores bind: plain POSIX mirrors nothing. */
static int
posix_bind(struct vfs *v, const char *root)
{
	(void)v;
	(void)root;
	return 0;
}

/* Opens path. */
static int
posix_open(struct vfs *v, const char *path, int flags, mode_t mode)
{
	int	 fd;

	(void)v;
	fd = open(path, flags | O_CLOEXEC, mode);
	return fd >= 0 ? fd : neg_errno();
}

/* Closes fd. */
static int
posix_close(struct vfs *v, int fd)
{
	(void)v;
	return close(fd) == 0 ? 0 : neg_errno();
}

/* Writes once at off. */
static ssize_t
posix_pwrite(struct vfs *v, int fd, const void *buf, size_t len, off_t off)
{
	ssize_t	 n;

	(void)v;
	do
		n = pwrite(fd, buf, len, off);
	while (n < 0 && errno == EINTR);
	return n >= 0 ? n : neg_errno();
}

/* Flushes fd's data (and the size when it changed). */
static int
posix_fdatasync(struct vfs *v, int fd)
{
	(void)v;
#ifdef HAVE_FDATASYNC
	return fdatasync(fd) == 0 ? 0 : neg_errno();
#else
	return fsync(fd) == 0 ? 0 : neg_errno();
#endif
}

/* Flushes fd's data and metadata. */
static int
posix_fsync(struct vfs *v, int fd)
{
	(void)v;
	return fsync(fd) == 0 ? 0 : neg_errno();
}

/* Reserves blocks; -EOPNOTSUPP when the filesystem cannot. */
static int
posix_fallocate_op(struct vfs *v, int fd, off_t off, off_t len)
{
	(void)v;
#ifdef HAVE_POSIX_FALLOCATE
	int	 rc = posix_fallocate(fd, off, len);

	if (rc == EINVAL || rc == ENOSYS)
		rc = EOPNOTSUPP;
	return -rc;
#else
	(void)fd;
	(void)off;
	(void)len;
	return -EOPNOTSUPP;
#endif
}

/* Sets fd's size. */
static int
posix_ftruncate(struct vfs *v, int fd, off_t len)
{
	(void)v;
	return ftruncate(fd, len) == 0 ? 0 : neg_errno();
}

/* Renames from to to. */
static int
posix_rename(struct vfs *v, const char *from, const char *to)
{
	(void)v;
	return rename(from, to) == 0 ? 0 : neg_errno();
}

/* Removes path. */
static int
posix_unlink(struct vfs *v, const char *path)
{
	(void)v;
	return unlink(path) == 0 ? 0 : neg_errno();
}

/* Creates a directory. */
static int
posix_mkdir(struct vfs *v, const char *path, mode_t mode)
{
	(void)v;
	return mkdir(path, mode) == 0 ? 0 : neg_errno();
}

/* Makes the entries of the directory at path durable. */
static int
posix_fsync_dir(struct vfs *v, const char *path)
{
	int	 fd, rc;

	(void)v;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return neg_errno();
	rc = fsync(fd) == 0 ? 0 : neg_errno();
	close(fd);
	return rc;
}

/* Writes a range back and waits for it (pacing, not durability). */
static void
posix_writeback(struct vfs *v, int fd, off_t off, off_t len)
{
	(void)v;
#ifdef HAVE_SYNC_FILE_RANGE
	(void)sync_file_range(fd, off, len, SYNC_FILE_RANGE_WAIT_BEFORE |
	    SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
#else
	(void)fd;
	(void)off;
	(void)len;
#endif
}

/* Frees a POSIX vfs. */
static void
posix_destroy(struct vfs *v)
{
	free(v);
}

const struct vfs_ops vfs_posix_ops = {
	.name = "posix",
	.bind = posix_bind,
	.open = posix_open,
	.close = posix_close,
	.pwrite = posix_pwrite,
	.fdatasync = posix_fdatasync,
	.fsync = posix_fsync,
	.fallocate = posix_fallocate_op,
	.ftruncate = posix_ftruncate,
	.rename = posix_rename,
	.unlink = posix_unlink,
	.mkdir = posix_mkdir,
	.fsync_dir = posix_fsync_dir,
	.writeback = posix_writeback,
	.destroy = posix_destroy,
};

/* Creates the POSIX vfs. */
struct vfs *
vfs_posix_new(void)
{
	struct vfs	*v;

	if ((v = calloc(1, sizeof(*v))) == NULL)
		return NULL;
	v->ops = &vfs_posix_ops;
	return v;
}

/* Builds a vfs from a "kind[:args]" string. */
int
vfs_from_spec(const char *spec, struct vfs **out, char *err, size_t errlen)
{
	*out = NULL;
	if (spec == NULL || *spec == '\0' || strcmp(spec, "posix") == 0) {
		if ((*out = vfs_posix_new()) == NULL) {
			snprintf(err, errlen, "vfs: out of memory");
			return -ENOMEM;
		}
		return 0;
	}
	if (strncmp(spec, "shadow:", 7) == 0)
		return vfs_shadow_new(spec + 7, out, err, errlen);
	if (strncmp(spec, "fault:", 6) == 0)
		return vfs_fault_new(spec + 6, out, err, errlen);
	snprintf(err, errlen, "vfs: unknown spec \"%s\" (want posix, "
	    "shadow:DIR or fault:OPTS)", spec);
	return -EINVAL;
}

/* Frees v through its implementation. */
void
vfs_free(struct vfs *v)
{
	if (v != NULL)
		v->ops->destroy(v);
}

/* Dispatches bind. */
int
vfs_bind(struct vfs *v, const char *root)
{
	return v->ops->bind(v, root);
}

/* Dispatches open. */
int
vfs_open(struct vfs *v, const char *path, int flags, mode_t mode)
{
	return v->ops->open(v, path, flags, mode);
}

/* Dispatches close. */
int
vfs_close(struct vfs *v, int fd)
{
	return v->ops->close(v, fd);
}

/* Writes all of buf, looping over short writes. */
int
vfs_pwrite_all(struct vfs *v, int fd, const void *buf, size_t len, off_t off)
{
	const uint8_t	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = v->ops->pwrite(v, fd, p, len, off);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Counts one sync call (the disk thread, the preparer, the loop). */
static void
vfs_count_sync(struct vfs *v)
{
	__atomic_fetch_add(&v->syncs, 1, __ATOMIC_RELAXED);
}

uint64_t
vfs_syncs(const struct vfs *v)
{
	return __atomic_load_n(&v->syncs, __ATOMIC_RELAXED);
}

/* Dispatches fdatasync. */
int
vfs_fdatasync(struct vfs *v, int fd)
{
	vfs_count_sync(v);
	return v->ops->fdatasync(v, fd);
}

/* Dispatches writeback, when the vfs has it. */
void
vfs_writeback(struct vfs *v, int fd, off_t off, off_t len)
{
	if (v->ops->writeback != NULL)
		v->ops->writeback(v, fd, off, len);
}

/* Dispatches fsync. */
int
vfs_fsync(struct vfs *v, int fd)
{
	vfs_count_sync(v);
	return v->ops->fsync(v, fd);
}

/* Dispatches fallocate. */
int
vfs_fallocate(struct vfs *v, int fd, off_t off, off_t len)
{
	return v->ops->fallocate(v, fd, off, len);
}

/* Dispatches ftruncate. */
int
vfs_ftruncate(struct vfs *v, int fd, off_t len)
{
	return v->ops->ftruncate(v, fd, len);
}

/* Dispatches rename. */
int
vfs_rename(struct vfs *v, const char *from, const char *to)
{
	return v->ops->rename(v, from, to);
}

/* Dispatches unlink. */
int
vfs_unlink(struct vfs *v, const char *path)
{
	return v->ops->unlink(v, path);
}

/* Dispatches mkdir. */
int
vfs_mkdir(struct vfs *v, const char *path, mode_t mode)
{
	return v->ops->mkdir(v, path, mode);
}

/* Dispatches a directory fsync. */
int
vfs_fsync_dir(struct vfs *v, const char *path)
{
	vfs_count_sync(v);
	return v->ops->fsync_dir(v, path);
}

/* Formats a path, reporting truncation instead of hiding it. */
int
vfs_pathf(char *buf, size_t len, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
