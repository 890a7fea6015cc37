/*
 * vfs-shadow.c -- a POSIX vfs that keeps, in a shadow directory, only what
 * has been made durable: file bytes once fsync/fdatasync returned for them,
 * directory entries once their directory was fsynced.
 *
 * Every file of the bound data directory has an "inode file" in
 * SHADOW.inodes named after its real inode number; shadow names are hard
 * links to inode files, so a later data sync shows through every name that
 * the last directory sync gave it, exactly like a real inode.
 *
 * What is dirty is tracked per inode, not per descriptor: a kernel's
 * fsync flushes every dirty page of the file, whoever wrote it.  That
 * includes a killed process: its unsynced writes stay in the page cache,
 * and the next run's first fsync of that file makes them durable.  So a
 * file this run did not create is "inherited" and its first sync publishes
 * the whole file.  When the shadow is kept across a kill (DIR is still our
 * symlink), SHADOW.inodes is kept too, so a file is matched with its
 * durable content by inode even when its last rename never became durable.
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
};

/* What a real inode holds that its inode file does not have yet. */
struct shadow_ino {
	ino_t		 ino;
	off_t		 dirty_lo;	/* written since the last sync */
	off_t		 dirty_hi;
	off_t		 trunc_lo;	/* smallest size set since; -1: none */
	int		 inherited;	/* may hold an earlier run's dirty pages */
};

struct shadow {
	pthread_mutex_t	 lock;
	char		 dir[PATH_MAX];		/* the shadow directory */
	char		 inodes[PATH_MAX];	/* dir + ".inodes" */
	char		 root[PATH_MAX];	/* the bound data directory */
	size_t		 root_len;
	struct shadow_fd *fds;			/* indexed by fd */
	size_t		 nfds;
	struct shadow_ino *inos;		/* every inode seen, unordered */
	size_t		 ninos;
	size_t		 inos_cap;
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

/*
 * Returns the dirty state of ino, creating it (inherited as given) when
 * missing; NULL when out of memory.  Valid until the next call.
 */
static struct shadow_ino *
shadow_ino_state(struct shadow *s, ino_t ino, int inherited)
{
	struct shadow_ino	*n;
	size_t			 i, want;

	for (i = 0; i < s->ninos; i++)
		if (s->inos[i].ino == ino)
			return &s->inos[i];
	if (s->ninos == s->inos_cap) {
		want = s->inos_cap ? 2 * s->inos_cap : 32;
		if ((n = realloc(s->inos, want * sizeof(*n))) == NULL)
			return NULL;
		s->inos = n;
		s->inos_cap = want;
	}
	n = &s->inos[s->ninos++];
	memset(n, 0, sizeof(*n));
	n->ino = ino;
	n->trunc_lo = -1;
	n->inherited = inherited;
	return n;
}

/* Forgets what was pending for ino: it is a new, empty file now. */
static int
shadow_ino_new(struct shadow *s, ino_t ino)
{
	struct shadow_ino	*si;

	if ((si = shadow_ino_state(s, ino, 0)) == NULL)
		return -ENOMEM;
	si->dirty_lo = si->dirty_hi = 0;
	si->trunc_lo = -1;
	si->inherited = 0;
	return 0;
}

/*
 * Formats what tells a real file apart from a later one that reuses its
 * inode number (its birth time).  Returns -ENOTSUP when unknown.
 */
static int
shadow_file_id(const char *path, char *buf, size_t len)
{
#ifdef STATX_BTIME
	struct statx	 stx;

	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BTIME,
	    &stx) != 0)
		return neg_errno();
	if (!(stx.stx_mask & STATX_BTIME))
		return -ENOTSUP;
	return vfs_pathf(buf, len, "%lld.%09u\n",
	    (long long)stx.stx_btime.tv_sec, stx.stx_btime.tv_nsec);
#else
	(void)path;
	(void)buf;
	(void)len;
	return -ENOTSUP;
#endif
}

/* Formats the path of the file keeping the identity of ino's real file. */
static void
shadow_id_path(const struct shadow *s, ino_t ino, char *buf, size_t len)
{
	vfs_pathf(buf, len, "%s/%ju.id", s->inodes, (uintmax_t)ino);
}

/*
 * Records that ino's inode file is about the real file at path (NULL or
 * no birth time: records nothing, and the next run will not trust it).
 */
static void
shadow_id_write(struct shadow *s, ino_t ino, const char *path)
{
	char	 idpath[PATH_MAX], id[64];
	ssize_t	 n;
	int	 fd;

	shadow_id_path(s, ino, idpath, sizeof(idpath));
	unlink(idpath);
	if (path == NULL || shadow_file_id(path, id, sizeof(id)) != 0)
		return;
	fd = open(idpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	n = write(fd, id, strlen(id));
	close(fd);
	if (n != (ssize_t)strlen(id))
		unlink(idpath);
}

/*
 * Compares ino's recorded identity with the real file at path: 0 the same
 * file, 1 another file (the number was reused), -1 unknown (no birth time,
 * or nothing recorded).
 */
static int
shadow_id_compare(const struct shadow *s, ino_t ino, const char *path)
{
	char	 idpath[PATH_MAX], id[64], kept[64];
	ssize_t	 n;
	int	 fd;

	if (shadow_file_id(path, id, sizeof(id)) != 0)
		return -1;
	shadow_id_path(s, ino, idpath, sizeof(idpath));
	if ((fd = open(idpath, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, kept, sizeof(kept) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	kept[n] = '\0';
	return strcmp(kept, id) != 0;
}

/*
 * Tells whether the inode file an earlier run left for ino is about the
 * real file at path, and not about a deleted file whose inode number the
 * real one reuses.
 */
static int
shadow_id_matches(const struct shadow *s, ino_t ino, const char *path)
{
	return shadow_id_compare(s, ino, path) == 0;
}

/*
 * Tells whether ino's recorded identity is known to belong to another
 * file than the one now at path.
 */
static int
shadow_id_differs(const struct shadow *s, ino_t ino, const char *path)
{
	return shadow_id_compare(s, ino, path) == 1;
}

/*
 * Creates an empty inode file for ino (the real file at path, NULL when
 * unknown), replacing any stale one.
 */
static int
shadow_inode_fresh(struct shadow *s, ino_t ino, const char *path)
{
	char	 ipath[PATH_MAX];
	int	 fd;

	shadow_inode_path(s, ino, ipath, sizeof(ipath));
	unlink(ipath);
	fd = open(ipath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return neg_errno();
	close(fd);
	shadow_id_write(s, ino, path);
	return 0;
}

/* Tells whether ino is one of the files seen in this run. */
static int
shadow_ino_known(const struct shadow *s, ino_t ino)
{
	size_t	 i;

	for (i = 0; i < s->ninos; i++)
		if (s->inos[i].ino == ino)
			return 1;
	return 0;
}

/*
 * Makes sure ino (the real file at path, rel inside the root), a file
 * this run did not create, has an inode file: the one an earlier run on
 * this disk kept for that very file (it survives a rename whose directory
 * sync never came), else the shadow copy of rel (a shadow reset to a copy
 * of the data directory), else an empty file.  Its first sync publishes
 * all of it: a killed earlier run may have left dirty pages in it.
 */
static int
shadow_inode_adopt(struct shadow *s, ino_t ino, const char *rel,
    const char *path)
{
	char		 ipath[PATH_MAX], spath[PATH_MAX];
	struct shadow_ino *si;
	struct stat	 sb;
	int		 rc;

	if (shadow_ino_known(s, ino)) {
		if (!shadow_id_differs(s, ino, path))
			return 0;
		/*
		 * The number was reused by a file made outside this vfs (the
		 * daemon's forked child writes its snapshot with plain POSIX
		 * calls): what this run tracked was another file's.  Start
		 * afresh; the first sync publishes all of it.
		 */
		if ((si = shadow_ino_state(s, ino, 1)) == NULL)
			return -ENOMEM;
		si->dirty_lo = si->dirty_hi = 0;
		si->trunc_lo = -1;
		si->inherited = 1;
		return shadow_inode_fresh(s, ino, path);
	}
	if (shadow_ino_state(s, ino, 1) == NULL)
		return -ENOMEM;
	shadow_inode_path(s, ino, ipath, sizeof(ipath));
	if (stat(ipath, &sb) == 0) {
		if (shadow_id_matches(s, ino, path))
			return 0;
		unlink(ipath);	/* a deleted file's: the number was reused */
	}
	vfs_pathf(spath, sizeof(spath), "%s/%s", s->dir, rel);
	if (lstat(spath, &sb) == 0 && S_ISREG(sb.st_mode)) {
		if (link(spath, ipath) != 0)
			return neg_errno();
		shadow_id_write(s, ino, path);
		rc = 0;
	} else
		rc = shadow_inode_fresh(s, ino, path);
	return rc;
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

/* Records that ino was cut to newsize (s->lock held). */
static void
shadow_note_size_locked(struct shadow *s, ino_t ino, off_t newsize)
{
	struct shadow_ino	*si;

	if (newsize >= 0 && (si = shadow_ino_state(s, ino, 1)) != NULL &&
	    (si->trunc_lo < 0 || newsize < si->trunc_lo))
		si->trunc_lo = newsize;
}

/*
 * Removes the inode files of inodes that are gone (an earlier run's
 * deleted files), so that a reused inode number never finds old bytes.
 */
static void
shadow_drop_stale_inodes(struct shadow *s)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[PATH_MAX], *end;
	uintmax_t	 ino;

	if ((d = opendir(s->inodes)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		ino = strtoumax(de->d_name, &end, 10);
		if ((*end != '\0' && strcmp(end, ".id") != 0) ||
		    shadow_ino_known(s, (ino_t)ino))
			continue;
		if (vfs_pathf(path, sizeof(path), "%s/%s", s->inodes,
		    de->d_name) == 0)
			unlink(path);
	}
	closedir(d);
}

/* Adopts every regular file of directory real (rel: its shadow path). */
static int
shadow_adopt_dir(struct shadow *s, const char *real, const char *rel,
    int depth)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 sb;
	char		 path[PATH_MAX], name[PATH_MAX];
	int		 rc = 0;

	if ((d = opendir(real)) == NULL)
		return 0;	/* not created yet: nothing to adopt */
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (vfs_pathf(path, sizeof(path), "%s/%s", real, de->d_name) ||
		    vfs_pathf(name, sizeof(name), "%s%s%s", rel,
		    *rel ? "/" : "", de->d_name) || lstat(path, &sb) != 0)
			continue;
		if (S_ISREG(sb.st_mode))
			rc = shadow_inode_adopt(s, sb.st_ino, name, path);
		else if (S_ISDIR(sb.st_mode) && depth == 0)
			rc = shadow_adopt_dir(s, path, name, depth + 1);
	}
	closedir(d);
	return rc;
}

/*
 * Records every file already in the root (and its subdirectories): what
 * the shadow holds for it, and that its first sync publishes all of it.
 */
static int
shadow_bind(struct vfs *v, const char *root)
{
	struct shadow	*s = v->impl;
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
	if ((rc = shadow_adopt_dir(s, s->root, "", 0)) == 0)
		shadow_drop_stale_inodes(s);
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* Tells whether this run holds a descriptor open on ino. */
static int
shadow_ino_open(const struct shadow *s, ino_t ino)
{
	size_t	 i;

	for (i = 0; i < s->nfds; i++)
		if (s->fds[i].used && s->fds[i].ino == ino)
			return 1;
	return 0;
}

/* Opens path and, inside the root, starts tracking what it writes. */
static int
shadow_open(struct vfs *v, const char *path, int flags, mode_t mode)
{
	struct shadow		*s = v->impl;
	struct shadow_fd	*sf;
	struct shadow_ino	*si;
	struct stat		 sb;
	const char		*rel;
	int			 fd, existed, rc;

	pthread_mutex_lock(&s->lock);
	existed = lstat(path, &sb) == 0;
	/* Publishing reads back what was written: never write-only. */
	if ((rel = shadow_rel(s, path)) != NULL && (flags & O_ACCMODE) ==
	    O_WRONLY)
		flags = (flags & ~O_ACCMODE) | O_RDWR;
	fd = vfs_posix_ops.open(v, path, flags, mode);
	if (fd < 0 || (rel = shadow_rel(s, path)) == NULL || *rel == '\0')
		goto out;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
		goto out;
	if (existed) {
		rc = shadow_inode_adopt(s, sb.st_ino, rel, path);
		/*
		 * An existing file opened for writing that this run does not
		 * hold open may have been written since by another process
		 * (the daemon's forked child writes its snapshot with plain
		 * POSIX calls): what this run tracked for it says nothing of
		 * those bytes.  A real fsync flushes every dirty page of the
		 * inode, whoever wrote it, so its next sync publishes all of
		 * it.
		 */
		if (rc == 0 && (flags & O_ACCMODE) != O_RDONLY &&
		    !shadow_ino_open(s, sb.st_ino) &&
		    (si = shadow_ino_state(s, sb.st_ino, 1)) != NULL)
			si->inherited = 1;
	} else if ((rc = shadow_inode_fresh(s, sb.st_ino, path)) == 0)
		rc = shadow_ino_new(s, sb.st_ino);
	if (rc == 0 && (flags & O_TRUNC))
		shadow_note_size_locked(s, sb.st_ino, 0);
	if (rc == 0)
		rc = shadow_fd_slot(s, fd, &sf);
	if (rc != 0) {
		close(fd);
		fd = rc;
		goto out;
	}
	sf->used = 1;
	sf->ino = sb.st_ino;
out:
	pthread_mutex_unlock(&s->lock);
	return fd;
}

/*
 * Closes fd; what it wrote and did not sync stays dirty, as in a page
 * cache: only a later sync of the same file publishes it.
 */
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
	struct shadow_ino	*si;
	ssize_t			 n;

	n = vfs_posix_ops.pwrite(v, fd, buf, len, off);
	if (n <= 0)
		return n;
	pthread_mutex_lock(&s->lock);
	if ((sf = shadow_fd_get(s, fd)) != NULL &&
	    (si = shadow_ino_state(s, sf->ino, 1)) != NULL) {
		if (si->dirty_hi == si->dirty_lo) {
			si->dirty_lo = off;
			si->dirty_hi = off + n;
		} else {
			if (off < si->dirty_lo)
				si->dirty_lo = off;
			if (off + n > si->dirty_hi)
				si->dirty_hi = off + n;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

/*
 * Copies the synced state of fd's inode (size, then the dirty bytes, or
 * every byte when an earlier run may have left some) into its inode file.
 */
static int
shadow_publish(struct shadow *s, int fd, struct shadow_ino *sf)
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
	if (sf->inherited) {
		pos = 0;
		end = sb.st_size;
	} else {
		pos = sf->dirty_lo;
		end = sf->dirty_hi < sb.st_size ? sf->dirty_hi : sb.st_size;
	}
	for (; pos < end; pos += n) {
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
	sf->inherited = 0;
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
	struct shadow_ino	*si;
	int			 rc;

	rc = data_only ? vfs_posix_ops.fdatasync(v, fd) :
	    vfs_posix_ops.fsync(v, fd);
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&s->lock);
	if ((sf = shadow_fd_get(s, fd)) != NULL) {
		if ((si = shadow_ino_state(s, sf->ino, 1)) == NULL)
			rc = -ENOMEM;
		else
			rc = shadow_publish(s, fd, si);
	}
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

/* Records a size change of fd's inode, published at the next sync. */
static void
shadow_note_size(struct shadow *s, int fd, off_t newsize)
{
	struct shadow_fd	*sf;

	pthread_mutex_lock(&s->lock);
	if ((sf = shadow_fd_get(s, fd)) != NULL)
		shadow_note_size_locked(s, sf->ino, newsize);
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

/* Removes a directory tree (the shadow's own scratch, depth-limited). */
static void
shadow_rmtree(const char *dir, int depth)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[PATH_MAX];
	struct stat	 sb;

	if (depth > 4 || (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (vfs_pathf(path, sizeof(path), "%s/%s", dir, de->d_name) != 0)
			continue;
		if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
			shadow_rmtree(path, depth + 1);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* Reads the generation the shadow symlink points at. */
static int
shadow_generation(const struct shadow *s, unsigned long *gen)
{
	char	 target[PATH_MAX], *dot;
	ssize_t	 n;

	if ((n = readlink(s->dir, target, sizeof(target) - 1)) < 0)
		return neg_errno();
	target[n] = '\0';
	if ((dot = strrchr(target, '-')) == NULL)
		return -EINVAL;
	*gen = strtoul(dot + 1, NULL, 10);
	return 0;
}

/*
 * Links the shadow file for real entry name (inode ino) into newdir:
 * the inode file when we know the inode, else what olddir had.
 */
static int
shadow_link_entry(struct shadow *s, const char *olddir, const char *newdir,
    const char *name, ino_t ino)
{
	char		 ipath[PATH_MAX], opath[PATH_MAX], npath[PATH_MAX];
	struct stat	 sb;
	int		 rc;

	shadow_inode_path(s, ino, ipath, sizeof(ipath));
	if (vfs_pathf(opath, sizeof(opath), "%s/%s", olddir, name) != 0 ||
	    vfs_pathf(npath, sizeof(npath), "%s/%s", newdir, name) != 0)
		return -ENAMETOOLONG;
	if (stat(ipath, &sb) != 0) {
		/* Never opened through us: keep what the shadow has. */
		if (lstat(opath, &sb) == 0)
			return link(opath, npath) == 0 ? 0 : neg_errno();
		if ((rc = shadow_inode_fresh(s, ino, NULL)) != 0)
			return rc;
	}
	return link(ipath, npath) == 0 ? 0 : neg_errno();
}

/*
 * Mirrors the root directory's entries into the shadow atomically, as a
 * journaled filesystem makes a directory fsync: a new generation directory
 * is built beside the old one and the shadow symlink is switched to it
 * with one rename(), so a kill at any moment leaves the old or the new
 * set of names, never half of a rename.
 */
static int
shadow_mirror_root(struct shadow *s)
{
	char		 olddir[PATH_MAX], newdir[PATH_MAX], link_tmp[PATH_MAX];
	char		 target[PATH_MAX], path[PATH_MAX], opath[PATH_MAX];
	char		 npath[PATH_MAX];
	const char	*base;
	unsigned long	 gen;
	DIR		*d;
	struct dirent	*de;
	struct stat	 sb;
	int		 rc;

	if ((rc = shadow_generation(s, &gen)) != 0)
		return rc;
	base = strrchr(s->dir, '/');
	base = base != NULL ? base + 1 : s->dir;
	if (vfs_pathf(olddir, sizeof(olddir), "%s.gen-%lu", s->dir, gen) != 0 ||
	    vfs_pathf(newdir, sizeof(newdir), "%s.gen-%lu", s->dir, gen + 1) ||
	    vfs_pathf(target, sizeof(target), "%s.gen-%lu", base, gen + 1) ||
	    vfs_pathf(link_tmp, sizeof(link_tmp), "%s.link-tmp", s->dir))
		return -ENAMETOOLONG;
	shadow_rmtree(newdir, 0);	/* a half-built one from a kill */
	if (mkdir(newdir, 0755) != 0)
		return neg_errno();
	if ((d = opendir(s->root)) == NULL)
		return neg_errno();
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (vfs_pathf(path, sizeof(path), "%s/%s", s->root,
		    de->d_name) != 0 || lstat(path, &sb) != 0)
			continue;
		if (S_ISREG(sb.st_mode))
			rc = shadow_link_entry(s, olddir, newdir, de->d_name,
			    sb.st_ino);
		else if (S_ISDIR(sb.st_mode)) {
			if (vfs_pathf(opath, sizeof(opath), "%s/%s", olddir,
			    de->d_name) != 0 || vfs_pathf(npath, sizeof(npath),
			    "%s/%s", newdir, de->d_name) != 0)
				rc = -ENAMETOOLONG;
			else if (rename(opath, npath) != 0 &&
			    mkdir(npath, 0755) != 0)
				rc = neg_errno();
		}
		if (rc != 0)
			break;
	}
	closedir(d);
	if (rc != 0)
		return rc;
	unlink(link_tmp);
	if (symlink(target, link_tmp) != 0 || rename(link_tmp, s->dir) != 0)
		return neg_errno();
	shadow_rmtree(olddir, 0);
	return 0;
}

/* Mirrors a subdirectory of the root (not atomically; not crash-tested). */
static int
shadow_mirror_subdir(struct shadow *s, const char *real, const char *rel)
{
	char		 sdir[PATH_MAX], path[PATH_MAX], spath[PATH_MAX];
	char		 ipath[PATH_MAX];
	DIR		*d;
	struct dirent	*de;
	struct stat	 sb, ssb;
	int		 rc = 0;

	if (vfs_pathf(sdir, sizeof(sdir), "%s/%s", s->dir, rel) != 0)
		return -ENAMETOOLONG;
	if (mkdir(sdir, 0755) != 0 && errno != EEXIST)
		return neg_errno();
	if ((d = opendir(real)) == NULL)
		return neg_errno();
	while ((de = readdir(d)) != NULL) {
		if (vfs_pathf(path, sizeof(path), "%s/%s", real, de->d_name) ||
		    vfs_pathf(spath, sizeof(spath), "%s/%s", sdir, de->d_name) ||
		    lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
			continue;
		shadow_inode_path(s, sb.st_ino, ipath, sizeof(ipath));
		if (lstat(spath, &ssb) == 0 || stat(ipath, &ssb) != 0)
			continue;
		if (link(ipath, spath) != 0) {
			rc = neg_errno();
			break;
		}
	}
	closedir(d);
	return rc;
}

/* Mirrors the entries of real directory rel into the shadow. */
static int
shadow_mirror_dir(struct shadow *s, const char *real, const char *rel)
{
	return *rel == '\0' ? shadow_mirror_root(s) :
	    shadow_mirror_subdir(s, real, rel);
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

/*
 * Directory changes happen under the lock, so that a directory sync's
 * readdir() never runs beside one: readdir() may skip an entry renamed
 * under it, and the mirrored generation would then hold the file under
 * neither name, which no journaled filesystem does.
 */
static int
shadow_rename(struct vfs *v, const char *from, const char *to)
{
	struct shadow	*s = v->impl;
	int		 rc;

	pthread_mutex_lock(&s->lock);
	rc = vfs_posix_ops.rename(v, from, to);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int
shadow_unlink(struct vfs *v, const char *path)
{
	struct shadow	*s = v->impl;
	int		 rc;

	pthread_mutex_lock(&s->lock);
	rc = vfs_posix_ops.unlink(v, path);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int
shadow_mkdir(struct vfs *v, const char *path, mode_t mode)
{
	struct shadow	*s = v->impl;
	int		 rc;

	pthread_mutex_lock(&s->lock);
	rc = vfs_posix_ops.mkdir(v, path, mode);
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
	free(s->inos);
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

/* Removes DIR.gen-N directories a kill left behind, except the current. */
static void
shadow_drop_stale_generations(struct shadow *s, const char *base)
{
	char		 parent[PATH_MAX], path[PATH_MAX], prefix[PATH_MAX];
	unsigned long	 cur;
	DIR		*d;
	struct dirent	*de;
	size_t		 plen;

	if (shadow_generation(s, &cur) != 0 ||
	    vfs_pathf(parent, sizeof(parent), "%s", s->dir) != 0 ||
	    vfs_pathf(prefix, sizeof(prefix), "%s.gen-", base) != 0)
		return;
	plen = strlen(prefix);
	if (strrchr(parent, '/') != NULL)
		*strrchr(parent, '/') = '\0';
	else
		strcpy(parent, ".");
	if ((d = opendir(parent)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, prefix, plen) != 0 ||
		    strtoul(de->d_name + plen, NULL, 10) == cur)
			continue;
		if (vfs_pathf(path, sizeof(path), "%s/%s", parent,
		    de->d_name) == 0)
			shadow_rmtree(path, 0);
	}
	closedir(d);
}

/*
 * Makes the shadow directory a symlink to its current generation
 * (DIR.gen-N), converting a plain directory or creating an empty one.
 * Sets *kept when it already was one: an earlier run on the same data
 * directory left it, and its inode files still describe that directory.
 */
static int
shadow_setup_dir(struct shadow *s, int *kept)
{
	char		 gen0[PATH_MAX], target[PATH_MAX];
	const char	*base;
	struct stat	 sb;

	base = strrchr(s->dir, '/');
	base = base != NULL ? base + 1 : s->dir;
	*kept = 0;
	if (lstat(s->dir, &sb) == 0 && S_ISLNK(sb.st_mode)) {
		shadow_drop_stale_generations(s, base);
		*kept = 1;
		return 0;
	}
	if (vfs_pathf(gen0, sizeof(gen0), "%s.gen-0", s->dir) != 0 ||
	    vfs_pathf(target, sizeof(target), "%s.gen-0", base) != 0)
		return -ENAMETOOLONG;
	shadow_rmtree(gen0, 0);
	if (lstat(s->dir, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode) || rename(s->dir, gen0) != 0)
			return -ENOTDIR;
	} else if (mkdir(gen0, 0755) != 0)
		return neg_errno();
	return symlink(target, s->dir) == 0 ? 0 : neg_errno();
}

/* Creates a shadow vfs writing into shadow_dir (created if missing). */
int
vfs_shadow_new(const char *shadow_dir, struct vfs **out, char *err,
    size_t errlen)
{
	struct vfs	*v = NULL;
	struct shadow	*s = NULL;
	struct vfs_ops	*ops;
	int		 rc, kept;

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
	if ((rc = shadow_setup_dir(s, &kept)) != 0 ||
	    (mkdir(s->inodes, 0755) != 0 && errno != EEXIST &&
	    (rc = neg_errno()) != 0)) {
		snprintf(err, errlen, "vfs shadow: setting up %s: %s", s->dir,
		    strerror(-rc));
		goto out;
	}
	/*
	 * A plain directory (a copy of the data directory) or a new one:
	 * earlier inode files are about files it does not describe.
	 */
	if (!kept)
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
	ops->rename = shadow_rename;
	ops->unlink = shadow_unlink;
	ops->mkdir = shadow_mkdir;
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
