/*
 * vfs-shadow.c -- a POSIX vfs that keeps, in a shadow directory, only what
 * has been made durable: file bytes once fsync/fdatasync returned for them,
 * directory entries once their directory was fsynced.
 *
 * Every file of the bound data directory has an "inode file" in
 * SHADOW.inodes named after its real inode number; shadow names are hard
 * links to inode files, so a later data sync shows through every name that
 * the last directory sync gave it, exactly like a real inode.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vfs.h"

struct shadow_fd {
	int		 used;
	ino_t		 ino;
	off_t		 dirty_lo;	/* written since the last sync */
	off_t		 dirty_hi;
	off_t		 trunc_lo;	/* smallest size set since; -1: none */
};

struct shadow {
	pthread_mutex_t	 lock;
	char		 dir[PATH_MAX];		/* the shadow directory */
	char		 inodes[PATH_MAX];	/* dir + ".inodes" */
	char		 root[PATH_MAX];	/* the bound data directory */
	size_t		 root_len;
	struct shadow_fd *fds;			/* indexed by fd */
	size_t		 nfds;
};

/* Returns -errno for a failed system call. */
static int
neg_errno(void)
{
	return errno != 0 ? -errno : -EIO;
}

/* Returns path relative to the bound root ("" for the root), or NULL. */
static const char *
shadow_rel(const struct shadow *s, const char *path)
{
	if (s->root_len == 0 || strncmp(path, s->root, s->root_len) != 0)
		return NULL;
	if (path[s->root_len] == '\0')
		return "";
	if (path[s->root_len] != '/')
		return NULL;
	return path + s->root_len + 1;
}

/* Formats the inode file path for ino. */
static void
shadow_inode_path(const struct shadow *s, ino_t ino, char *buf, size_t len)
{
	vfs_pathf(buf, len, "%s/%ju", s->inodes, (uintmax_t)ino);
}

/* Creates an empty inode file for ino, replacing any stale one. */
static int
shadow_inode_fresh(struct shadow *s, ino_t ino)
{
	char	 ipath[PATH_MAX];
	int	 fd;

	shadow_inode_path(s, ino, ipath, sizeof(ipath));
	unlink(ipath);
	fd = open(ipath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return neg_errno();
	close(fd);
	return 0;
}

/*
 * Makes sure ino has an inode file: the shadow copy of rel when there is
 * one (what an earlier run left durable), otherwise an empty file.
 */
static int
shadow_inode_adopt(struct shadow *s, ino_t ino, const char *rel)
{
	char		 ipath[PATH_MAX], spath[PATH_MAX];
	struct stat	 sb;

	shadow_inode_path(s, ino, ipath, sizeof(ipath));
	if (stat(ipath, &sb) == 0)
		return 0;
	vfs_pathf(spath, sizeof(spath), "%s/%s", s->dir, rel);
	if (lstat(spath, &sb) == 0 && S_ISREG(sb.st_mode))
		return link(spath, ipath) == 0 ? 0 : neg_errno();
	return shadow_inode_fresh(s, ino);
}

/* Grows the fd table to hold fd. */
static int
shadow_fd_slot(struct shadow *s, int fd, struct shadow_fd **out)
{
	struct shadow_fd	*n;
	size_t			 want;

	if ((size_t)fd >= s->nfds) {
		want = (size_t)fd + 16;
		n = realloc(s->fds, want * sizeof(*n));
		if (n == NULL)
			return -ENOMEM;
		memset(n + s->nfds, 0, (want - s->nfds) * sizeof(*n));
		s->fds = n;
		s->nfds = want;
	}
	*out = &s->fds[fd];
	return 0;
}

/* Returns the tracked state of fd, or NULL when it is not mirrored. */
static struct shadow_fd *
shadow_fd_get(struct shadow *s, int fd)
{
	if (fd < 0 || (size_t)fd >= s->nfds || !s->fds[fd].used)
		return NULL;
	return &s->fds[fd];
}

/* Records every file already in the root, for a shadow that starts as a copy. */
static int
shadow_bind(struct vfs *v, const char *root)
{
	struct shadow	*s = v->impl;
	DIR		*d;
	struct dirent	*de;
	struct stat	 sb;
	char		 path[PATH_MAX];
	int		 rc = 0;

	pthread_mutex_lock(&s->lock);
	if (strlen(root) >= sizeof(s->root)) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	strcpy(s->root, root);
	s->root_len = strlen(root);
	while (s->root_len > 1 && s->root[s->root_len - 1] == '/')
		s->root[--s->root_len] = '\0';
	if ((d = opendir(s->root)) == NULL)
		goto out;	/* not created yet: nothing to adopt */
	while ((de = readdir(d)) != NULL) {
		vfs_pathf(path, sizeof(path), "%s/%s", s->root, de->d_name);
		if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
			continue;
		if ((rc = shadow_inode_adopt(s, sb.st_ino, de->d_name)) != 0)
			break;
	}
	closedir(d);
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* Opens path and, inside the root, starts tracking what it writes. */
static int
shadow_open(struct vfs *v, const char *path, int flags, mode_t mode)
{
	struct shadow		*s = v->impl;
	struct shadow_fd	*sf;
	struct stat		 sb;
	const char		*rel;
	int			 fd, existed, rc;

	pthread_mutex_lock(&s->lock);
	existed = lstat(path, &sb) == 0;
	fd = vfs_posix_ops.open(v, path, flags, mode);
	if (fd < 0 || (rel = shadow_rel(s, path)) == NULL || *rel == '\0')
		goto out;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
		goto out;
	rc = existed ? shadow_inode_adopt(s, sb.st_ino, rel) :
	    shadow_inode_fresh(s, sb.st_ino);
	if (rc == 0)
		rc = shadow_fd_slot(s, fd, &sf);
	if (rc != 0) {
		close(fd);
		fd = rc;
		goto out;
	}
	memset(sf, 0, sizeof(*sf));
	sf->used = 1;
	sf->ino = sb.st_ino;
	sf->trunc_lo = (flags & O_TRUNC) ? 0 : -1;
out:
	pthread_mutex_unlock(&s->lock);
	return fd;
}

/* Closes fd; what it wrote and did not sync never reaches the shadow. */
static int
shadow_close(struct vfs *v, int fd)
{
	struct shadow		*s = v->impl;
	struct shadow_fd	*sf;

	pthread_mutex_lock(&s->lock);
	if ((sf = shadow_fd_get(s, fd)) != NULL)
		sf->used = 0;
	pthread_mutex_unlock(&s->lock);
	return vfs_posix_ops.close(v, fd);
}

/* Writes and remembers the range as dirty. */
static ssize_t
shadow_pwrite(struct vfs *v, int fd, const void *buf, size_t len, off_t off)
{
	struct shadow		*s = v->impl;
	struct shadow_fd	*sf;
	ssize_t			 n;

	n = vfs_posix_ops.pwrite(v, fd, buf, len, off);
	if (n <= 0)
		return n;
	pthread_mutex_lock(&s->lock);
	if ((sf = shadow_fd_get(s, fd)) != NULL) {
		if (sf->dirty_hi == sf->dirty_lo) {
			sf->dirty_lo = off;
			sf->dirty_hi = off + n;
		} else {
			if (off < sf->dirty_lo)
				sf->dirty_lo = off;
			if (off + n > sf->dirty_hi)
				sf->dirty_hi = off + n;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* Copies fd's synced state (size, then dirty bytes) into its inode file. */
static int
shadow_publish(struct shadow *s, int fd, struct shadow_fd *sf)
{
	char		 ipath[PATH_MAX];
	uint8_t		 buf[65536];
	struct stat	 sb, ib;
	off_t		 pos, end;
	ssize_t		 n;
	int		 ifd, rc = 0;

	if (fstat(fd, &sb) != 0)
		return neg_errno();
	shadow_inode_path(s, sf->ino, ipath, sizeof(ipath));
	if ((ifd = open(ipath, O_WRONLY | O_CLOEXEC)) < 0)
		return neg_errno();
	if (fstat(ifd, &ib) != 0) {
		rc = neg_errno();
		goto out;
	}
	if (sf->trunc_lo >= 0 && sf->trunc_lo < ib.st_size &&
	    ftruncate(ifd, sf->trunc_lo) != 0) {
		rc = neg_errno();
		goto out;
	}
	if (ftruncate(ifd, sb.st_size) != 0) {
		rc = neg_errno();
		goto out;
	}
	end = sf->dirty_hi < sb.st_size ? sf->dirty_hi : sb.st_size;
	for (pos = sf->dirty_lo; pos < end; pos += n) {
		n = pread(fd, buf, (size_t)(end - pos) < sizeof(buf) ?
		    (size_t)(end - pos) : sizeof(buf), pos);
		if (n <= 0) {
			rc = n < 0 ? neg_errno() : -EIO;
			goto out;
		}
		if (pwrite(ifd, buf, (size_t)n, pos) != n) {
			rc = neg_errno();
			goto out;
		}
	}
	sf->dirty_lo = sf->dirty_hi = 0;
	sf->trunc_lo = -1;
out:
	close(ifd);
	return rc;
}

/* Syncs fd, then publishes it to the shadow. */
static int
shadow_sync_common(struct vfs *v, int fd, int data_only)
{
	struct shadow		*s = v->impl;
	struct shadow_fd	*sf;
	int			 rc;

	rc = data_only ? vfs_posix_ops.fdatasync(v, fd) :
	    vfs_posix_ops.fsync(v, fd);
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&s->lock);
	if ((sf = shadow_fd_get(s, fd)) != NULL)
		rc = shadow_publish(s, fd, sf);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* fdatasync, then publish. */
static int
shadow_fdatasync(struct vfs *v, int fd)
{
	return shadow_sync_common(v, fd, 1);
}

/* fsync, then publish. */
static int
shadow_fsync(struct vfs *v, int fd)
{
	return shadow_sync_common(v, fd, 0);
}

/* Records a size change, published at the next sync. */
static void
shadow_note_size(struct shadow *s, int fd, off_t newsize)
{
	struct shadow_fd	*sf;

	pthread_mutex_lock(&s->lock);
	if ((sf = shadow_fd_get(s, fd)) != NULL && newsize >= 0 &&
	    (sf->trunc_lo < 0 || newsize < sf->trunc_lo))
		sf->trunc_lo = newsize;
	pthread_mutex_unlock(&s->lock);
}

/* Sets the size; the shadow follows at the next sync. */
static int
shadow_ftruncate(struct vfs *v, int fd, off_t len)
{
	int	 rc = vfs_posix_ops.ftruncate(v, fd, len);

	if (rc == 0)
		shadow_note_size(v->impl, fd, len);
	return rc;
}

/* Mirrors the entries of real directory rel into the shadow. */
static int
shadow_mirror_dir(struct shadow *s, const char *real, const char *rel)
{
	char		 sdir[PATH_MAX], path[PATH_MAX], spath[PATH_MAX];
	char		 ipath[PATH_MAX], tmp[PATH_MAX];
	DIR		*d;
	struct dirent	*de;
	struct stat	 sb, ssb, isb;
	int		 rc = 0;

	vfs_pathf(sdir, sizeof(sdir), "%s%s%s", s->dir, *rel ? "/" : "", rel);
	if ((d = opendir(real)) == NULL)
		return neg_errno();
	/* Entries present in the real directory. */
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		vfs_pathf(path, sizeof(path), "%s/%s", real, de->d_name);
		vfs_pathf(spath, sizeof(spath), "%s/%s", sdir, de->d_name);
		if (lstat(path, &sb) != 0)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			if (mkdir(spath, 0755) != 0 && errno != EEXIST) {
				rc = neg_errno();
				break;
			}
			continue;
		}
		if (!S_ISREG(sb.st_mode))
			continue;
		shadow_inode_path(s, sb.st_ino, ipath, sizeof(ipath));
		if (stat(ipath, &isb) != 0) {
			/* Never opened through us: keep what the shadow has. */
			if (lstat(spath, &ssb) == 0)
				continue;
			if ((rc = shadow_inode_fresh(s, sb.st_ino)) != 0 ||
			    stat(ipath, &isb) != 0)
				break;
		}
		if (lstat(spath, &ssb) == 0 && ssb.st_ino == isb.st_ino)
			continue;
		vfs_pathf(tmp, sizeof(tmp), "%s/.shadow-link.tmp", sdir);
		unlink(tmp);
		if (link(ipath, tmp) != 0 || rename(tmp, spath) != 0) {
			rc = neg_errno();
			break;
		}
	}
	closedir(d);
	if (rc != 0)
		return rc;
	/* Shadow files whose real name is gone. */
	if ((d = opendir(sdir)) == NULL)
		return neg_errno();
	while ((de = readdir(d)) != NULL) {
		vfs_pathf(path, sizeof(path), "%s/%s", real, de->d_name);
		vfs_pathf(spath, sizeof(spath), "%s/%s", sdir, de->d_name);
		if (lstat(spath, &ssb) != 0 || !S_ISREG(ssb.st_mode))
			continue;
		if (lstat(path, &sb) != 0 && unlink(spath) != 0) {
			rc = neg_errno();
			break;
		}
	}
	closedir(d);
	return rc;
}

/* Syncs a directory and, inside the root, mirrors its entries. */
static int
shadow_fsync_dir(struct vfs *v, const char *path)
{
	struct shadow	*s = v->impl;
	const char	*rel;
	int		 rc;

	if ((rc = vfs_posix_ops.fsync_dir(v, path)) != 0)
		return rc;
	pthread_mutex_lock(&s->lock);
	if ((rel = shadow_rel(s, path)) != NULL)
		rc = shadow_mirror_dir(s, path, rel);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* Frees a shadow vfs. */
static void
shadow_destroy(struct vfs *v)
{
	struct shadow	*s = v->impl;

	pthread_mutex_destroy(&s->lock);
	free(s->fds);
	free(s);
	free(v);
}

/* Removes every file in dir (not recursive). */
static void
shadow_empty_dir(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[PATH_MAX];

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		vfs_pathf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
}

/* Creates a shadow vfs writing into shadow_dir (created if missing). */
int
vfs_shadow_new(const char *shadow_dir, struct vfs **out, char *err,
    size_t errlen)
{
	struct vfs	*v = NULL;
	struct shadow	*s = NULL;
	struct vfs_ops	*ops;
	int		 rc;

	*out = NULL;
	v = calloc(1, sizeof(*v) + sizeof(*ops));
	s = calloc(1, sizeof(*s));
	if (v == NULL || s == NULL) {
		snprintf(err, errlen, "vfs shadow: out of memory");
		rc = -ENOMEM;
		goto out;
	}
	if (*shadow_dir == '\0' || strlen(shadow_dir) + 8 >= sizeof(s->dir)) {
		snprintf(err, errlen, "vfs shadow: bad directory \"%s\"",
		    shadow_dir);
		rc = -EINVAL;
		goto out;
	}
	vfs_pathf(s->dir, sizeof(s->dir), "%s", shadow_dir);
	vfs_pathf(s->inodes, sizeof(s->inodes), "%s.inodes", shadow_dir);
	if ((mkdir(s->dir, 0755) != 0 && errno != EEXIST) ||
	    (mkdir(s->inodes, 0755) != 0 && errno != EEXIST)) {
		rc = neg_errno();
		snprintf(err, errlen, "vfs shadow: mkdir %s: %s", s->dir,
		    strerror(-rc));
		goto out;
	}
	shadow_empty_dir(s->inodes);
	pthread_mutex_init(&s->lock, NULL);
	ops = (struct vfs_ops *)(v + 1);
	*ops = vfs_posix_ops;
	ops->name = "shadow";
	ops->bind = shadow_bind;
	ops->open = shadow_open;
	ops->close = shadow_close;
	ops->pwrite = shadow_pwrite;
	ops->fdatasync = shadow_fdatasync;
	ops->fsync = shadow_fsync;
	ops->ftruncate = shadow_ftruncate;
	ops->fsync_dir = shadow_fsync_dir;
	ops->destroy = shadow_destroy;
	v->ops = ops;
	v->impl = s;
	*out = v;
	return 0;
out:
	free(s);
	free(v);
	return rc;
}
