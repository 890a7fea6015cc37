/*
 * test-storage-util.h -- helpers shared by the storage tests: scratch
 * directories, entry generation, file surgery.  Header-only, test code.
 */
#ifndef RAFTKV_TEST_STORAGE_UTIL_H
#define RAFTKV_TEST_STORAGE_UTIL_H

#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "raft.h"

/* Creates a fresh scratch directory; returns its path (static-free). */
static inline void
tu_mkdtemp(char *buf, size_t len, const char *tag)
{
	const char	*base = getenv("TMPDIR");

	snprintf(buf, len, "%s/raftkv-%s-XXXXXX", base ? base : "/tmp", tag);
	if (mkdtemp(buf) == NULL) {
		perror("mkdtemp");
		exit(99);
	}
}

/* Removes a directory tree (test scratch only; depth 2 is enough). */
static inline void
tu_rmtree(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[4200];
	struct stat	 sb;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(path))
			continue;
		if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
			tu_rmtree(path);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* Replaces directory dst by a copy of the regular files in src (flat). */
static inline void
tu_copy_dir(const char *src, const char *dst)
{
	DIR		*d;
	struct dirent	*de;
	char		 a[4200], b[4200], buf[65536];
	ssize_t		 n;
	int		 in, out;

	tu_rmtree(dst);
	mkdir(dst, 0755);
	if ((d = opendir(src)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(a, sizeof(a), "%s/%s", src, de->d_name) >=
		    (int)sizeof(a) || snprintf(b, sizeof(b), "%s/%s", dst,
		    de->d_name) >= (int)sizeof(b))
			continue;
		if ((in = open(a, O_RDONLY)) < 0)
			continue;
		out = open(b, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		while (out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
			if (write(out, buf, (size_t)n) != n)
				break;
		close(in);
		if (out >= 0)
			close(out);
	}
	closedir(d);
}

/* Deterministic payload byte j of entry index. */
static inline uint8_t
tu_byte(uint64_t index, uint32_t j)
{
	return (uint8_t)((index * 131 + j * 7 + (j >> 8)) & 0xff);
}

/* Fills e as entry index of term with len payload bytes in buf. */
static inline void
tu_entry(struct raft_entry *e, uint64_t index, uint64_t term, uint32_t len,
    uint8_t *buf)
{
	uint32_t	 j;

	for (j = 0; j < len; j++)
		buf[j] = tu_byte(index, j);
	e->index = index;
	e->term = term;
	e->type = RAFT_ENTRY_NORMAL;
	e->len = len;
	e->data = buf;
}

/* True if e carries the payload tu_entry() gives index (length len). */
static inline int
tu_entry_ok(const struct raft_entry *e, uint64_t index, uint32_t len)
{
	uint32_t	 j;

	if (e->index != index || e->len != len)
		return 0;
	for (j = 0; j < len; j++)
		if (e->data[j] != tu_byte(index, j))
			return 0;
	return 1;
}

/* Finds the first directory entry starting with prefix; 0 if found. */
static inline int
tu_find(const char *dir, const char *prefix, char *out, size_t len)
{
	DIR		*d;
	struct dirent	*de;
	int		 rc = -1;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
			rc = snprintf(out, len, "%s/%s", dir, de->d_name) <
			    (int)len ? 0 : -1;
			break;
		}
	closedir(d);
	return rc;
}

/* Counts directory entries starting with prefix. */
static inline int
tu_count(const char *dir, const char *prefix)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

/* Returns a file's size, or -1. */
static inline long long
tu_size(const char *path)
{
	struct stat	 sb;

	return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* Overwrites len bytes at off with buf. */
static inline int
tu_poke(const char *path, long long off, const void *buf, size_t len)
{
	int	 fd = open(path, O_WRONLY);
	int	 ok;

	if (fd < 0)
		return -1;
	ok = pwrite(fd, buf, len, off) == (ssize_t)len;
	close(fd);
	return ok ? 0 : -1;
}

/* Reads one byte at off, or -1. */
static inline int
tu_peek(const char *path, long long off)
{
	uint8_t	 b;
	int	 fd = open(path, O_RDONLY), ok;

	if (fd < 0)
		return -1;
	ok = pread(fd, &b, 1, off) == 1;
	close(fd);
	return ok ? b : -1;
}

#endif /* RAFTKV_TEST_STORAGE_UTIL_H */
