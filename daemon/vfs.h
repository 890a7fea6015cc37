/*
 * vfs.h -- the I/O layer under the storage module, so tests can inject faults.
 *
 * Only calls that change what is on disk go through a vfs: creating and
 * writing files, syncing them, and directory operations.  Reads (pread,
 * mmap, readdir, stat) use POSIX directly, because every implementation
 * keeps the real files identical to what the process wrote.
 *
 * Three implementations:
 *   posix            plain system calls (production);
 *   shadow:DIR       plain system calls, and in addition DIR receives a copy
 *                    of each byte range only once fdatasync()/fsync() has
 *                    returned for it, and of each directory entry (create,
 *                    rename, unlink) only once the directory was fsynced.
 *                    DIR is therefore what a power loss would leave.  It
 *                    mirrors the directory given to vfs_bind() (the data
 *                    directory).  DIR must start as one of: missing or
 *                    empty (a new data directory); a plain copy of the
 *                    data directory (then DIR.gen-* and DIR.inodes must be
 *                    removed: after a power loss, or to count everything
 *                    written so far as durable); or as an earlier run on
 *                    the same, untouched data directory left it (after a
 *                    process kill: the page cache survives, so the first
 *                    sync of a file this run did not create publishes all
 *                    of it, as a kernel would flush the dead process's
 *                    dirty pages).  DIR becomes a symlink to DIR.gen-N,
 *                    switched atomically at each directory fsync so that a
 *                    kill never leaves half a rename; DIR.inodes holds one
 *                    file per real inode (kept across runs, with the real
 *                    file's birth time, so a file whose rename never became
 *                    durable keeps its synced bytes).
 *   fault:OPTS       plain system calls that fail on purpose, OPTS being a
 *                    comma-separated list of
 *                      enospc-after-bytes=N   writes past N bytes in total
 *                      eio-after-bytes=N      fail with ENOSPC/EIO (the
 *                                             write that crosses N writes
 *                                             its first part, like a disk)
 *                      eio-on-sync=N          the Nth fsync/fdatasync fails
 *                      enospc-on-sync=N       (1-based), later ones succeed
 *                      no-fallocate=1         fallocate fails EOPNOTSUPP
 *
 * All functions return 0 (or a byte count / fd) on success and a negative
 * errno on failure.  A vfs may be used from several threads at once.
 */
#ifndef RAFTKV_VFS_H
#define RAFTKV_VFS_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

struct vfs;

struct vfs_ops {
	const char	*name;
	int	(*bind)(struct vfs *, const char *root);
	int	(*open)(struct vfs *, const char *path, int flags, mode_t mode);
	int	(*close)(struct vfs *, int fd);
	ssize_t	(*pwrite)(struct vfs *, int fd, const void *buf, size_t len,
		    off_t off);
	int	(*fdatasync)(struct vfs *, int fd);
	int	(*fsync)(struct vfs *, int fd);
	int	(*fallocate)(struct vfs *, int fd, off_t off, off_t len);
	int	(*ftruncate)(struct vfs *, int fd, off_t len);
	int	(*rename)(struct vfs *, const char *from, const char *to);
	int	(*unlink)(struct vfs *, const char *path);
	int	(*mkdir)(struct vfs *, const char *path, mode_t mode);
	int	(*fsync_dir)(struct vfs *, const char *path);
	/* Optional (NULL: nothing): see vfs_writeback(). */
	void	(*writeback)(struct vfs *, int fd, off_t off, off_t len);
	void	(*destroy)(struct vfs *);
};

struct vfs {
	const struct vfs_ops	*ops;
	void			*impl;		/* owned by the implementation */
	uint64_t		 syncs;		/* fdatasync, fsync and directory
						   fsync calls; atomic (any
						   thread), see vfs_syncs() */
};

/*
 * Creates a vfs from spec: NULL, "" or "posix"; "shadow:DIR"; "fault:OPTS".
 * Returns 0 and sets *out (new; free with vfs_free()), or a negative errno
 * with a message in err (caller's buffer of errlen bytes).
 */
int	 vfs_from_spec(const char *spec, struct vfs **out, char *err,
	    size_t errlen);
/* Creates the POSIX vfs.  Returns new memory or NULL (ENOMEM). */
struct vfs *vfs_posix_new(void);
/* Frees v (NULL allowed). */
void	 vfs_free(struct vfs *v);
/*
 * How many fdatasync(), fsync() and directory fsyncs were asked of v so
 * far, failed ones included, from any thread.
 */
uint64_t vfs_syncs(const struct vfs *v);

/* Tells the vfs which directory is the data directory (path copied). */
int	 vfs_bind(struct vfs *v, const char *root);
/* Returns an fd or a negative errno.  path borrowed. */
int	 vfs_open(struct vfs *v, const char *path, int flags, mode_t mode);
int	 vfs_close(struct vfs *v, int fd);
/*
 * Writes all len bytes of buf (borrowed) at off, retrying short writes.
 * Returns 0 or a negative errno (some bytes may then have been written).
 */
int	 vfs_pwrite_all(struct vfs *v, int fd, const void *buf, size_t len,
	    off_t off);
int	 vfs_fdatasync(struct vfs *v, int fd);
/*
 * Writes [off, off+len) of fd back to the disk and waits for it, so that
 * a large write reaches the disk in steps rather than in one burst at its
 * fdatasync.  Pacing only: it makes nothing durable and reports nothing;
 * the caller's fdatasync does both.
 */
void	 vfs_writeback(struct vfs *v, int fd, off_t off, off_t len);
int	 vfs_fsync(struct vfs *v, int fd);
/* Reserves [off, off+len); -EOPNOTSUPP when the filesystem refuses. */
int	 vfs_fallocate(struct vfs *v, int fd, off_t off, off_t len);
int	 vfs_ftruncate(struct vfs *v, int fd, off_t len);
int	 vfs_rename(struct vfs *v, const char *from, const char *to);
int	 vfs_unlink(struct vfs *v, const char *path);
int	 vfs_mkdir(struct vfs *v, const char *path, mode_t mode);
/* Opens the directory at path, fsyncs it and closes it. */
int	 vfs_fsync_dir(struct vfs *v, const char *path);

/* Implementation constructors, used by vfs_from_spec(); args borrowed. */
int	 vfs_shadow_new(const char *shadow_dir, struct vfs **out, char *err,
	    size_t errlen);
int	 vfs_fault_new(const char *opts, struct vfs **out, char *err,
	    size_t errlen);

/*
 * Formats a path into buf (len bytes).  Returns 0, or -ENAMETOOLONG when it
 * did not fit (buf then holds a truncated string).
 */
int	 vfs_pathf(char *buf, size_t len, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* The POSIX calls, for implementations that wrap them. */
extern const struct vfs_ops vfs_posix_ops;

#endif /* RAFTKV_VFS_H */
