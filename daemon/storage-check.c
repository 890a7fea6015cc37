/*
 * storage-check.c -- `raftkvd check --data-dir DIR [--repair]`: reports
 * what a data directory holds and what is wrong with it; with repair, cuts
 * the log back to before the first corruption after copying every file it
 * cuts or removes into DIR/repair-TIMESTAMP/.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vfs.h"
#include "storage-internal.h"

#define CHECK_WINDOW	(32u << 20)

struct check {
	const char	*dir;
	FILE		*out;
	struct vfs	*vfs;
	bool		 repair;
	int		 problems;
	int		 unrepaired;
	char		 backup[PATH_MAX];	/* "" until created */
	uint64_t	 snap_index;		/* latest valid, 0: none */
	uint64_t	 snap_term;
};

static const char *const verdict_names[] = {
	[SEG_OK] = "ok",
	[SEG_EMPTY] = "empty (removed at next start)",
	[SEG_TORN] = "torn tail (truncated at next start)",
	[SEG_TRIM] = "interrupted truncation (finished at next start)",
	[SEG_BAD] = "CORRUPT",
	[SEG_AFTER_BAD] = "after the corruption",
};

/* Creates the backup directory on first use. */
static int
check_backup_dir(struct check *c)
{
	char		 stamp[32];
	time_t		 now = time(NULL);
	struct tm	 tm;
	int		 rc;

	if (c->backup[0] != '\0')
		return 0;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	vfs_pathf(c->backup, sizeof(c->backup), "%s/repair-%s", c->dir, stamp);
	if ((rc = vfs_mkdir(c->vfs, c->backup, 0755)) != 0 && rc != -EEXIST) {
		fprintf(c->out, "repair: mkdir %s: %s\n", c->backup,
		    strerror(-rc));
		c->backup[0] = '\0';
		return rc;
	}
	return 0;
}

/* Copies dir/name into the backup directory, synced. */
static int
check_keep_copy(struct check *c, const char *name)
{
	char		 from[PATH_MAX], to[PATH_MAX];
	uint8_t		 buf[65536];
	ssize_t		 n;
	off_t		 off = 0;
	int		 in, outfd, rc;

	if ((rc = check_backup_dir(c)) != 0)
		return rc;
	vfs_pathf(from, sizeof(from), "%s/%s", c->dir, name);
	vfs_pathf(to, sizeof(to), "%s/%s", c->backup, name);
	if ((in = open(from, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	outfd = vfs_open(c->vfs, to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (outfd < 0) {
		close(in);
		return outfd;
	}
	rc = 0;
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if ((rc = vfs_pwrite_all(c->vfs, outfd, buf, (size_t)n,
		    off)) != 0)
			break;
		off += n;
	}
	if (n < 0)
		rc = -errno;
	if (rc == 0)
		rc = vfs_fsync(c->vfs, outfd);
	vfs_close(c->vfs, outfd);
	close(in);
	if (rc == 0)
		rc = vfs_fsync_dir(c->vfs, c->backup);
	if (rc == 0)
		fprintf(c->out, "repair: copied %s to %s\n", name, c->backup);
	else
		fprintf(c->out, "repair: copying %s failed: %s\n", name,
		    strerror(-rc));
	return rc;
}

/* Reports the meta file. */
static void
check_meta(struct check *c)
{
	char		 path[PATH_MAX], why[200];
	uint8_t		*buf;
	size_t		 len;
	uint64_t	 cluster, node;
	int		 rc;

	vfs_pathf(path, sizeof(path), "%s/meta", c->dir);
	if ((rc = file_read_all(path, &buf, &len, 4096)) != 0) {
		fprintf(c->out, "meta: PROBLEM: %s: %s\n", path, strerror(-rc));
		c->problems++;
		c->unrepaired++;
		return;
	}
	if (meta_decode(buf, len, &cluster, &node, why, sizeof(why)) != 0) {
		fprintf(c->out, "meta: PROBLEM: %s: %s\n", path, why);
		c->problems++;
		c->unrepaired++;
	} else
		fprintf(c->out, "meta: cluster %" PRIu64 " node %" PRIu64 "\n",
		    cluster, node);
	free(buf);
}

/* Reports the hard state; it is never repaired (a vote must not be lost). */
static void
check_hard_state(struct check *c)
{
	char			 path[PATH_MAX], why[200];
	uint8_t			*buf;
	size_t			 len;
	struct raft_hard_state	 hs;
	int			 rc;

	vfs_pathf(path, sizeof(path), "%s/hardstate", c->dir);
	rc = file_read_all(path, &buf, &len, 4096);
	if (rc == -ENOENT) {
		fprintf(c->out, "hard state: none (a new node)\n");
		return;
	}
	if (rc == 0 && hs_decode(buf, len, &hs, why, sizeof(why)) == 0) {
		fprintf(c->out, "hard state: term %" PRIu64 " vote %" PRIu64
		    " commit %" PRIu64 "\n", hs.term, hs.vote, hs.commit);
		free(buf);
		return;
	}
	fprintf(c->out, "hard state: PROBLEM: %s: %s\n", path, rc != 0 ?
	    strerror(-rc) : why);
	fprintf(c->out, "hard state: not repairable: the term and vote cannot "
	    "be rebuilt safely; restore the file or rebuild this node from "
	    "its peers\n");
	c->problems++;
	c->unrepaired++;
	free(buf);
}

/* Reports snapshot files; with repair, moves corrupt ones aside. */
static void
check_snapshots(struct check *c)
{
	DIR		*d;
	struct dirent	*de;
	struct storage_snapshot_meta m;
	uint64_t	 v;
	char		 why[256], path[PATH_MAX];
	bool		 tmp;

	if ((d = opendir(c->dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!name_is_snapshot(de->d_name, &v, &tmp))
			continue;
		if (tmp) {
			fprintf(c->out, "snapshot %s: unfinished or never "
			    "installed (removed at next start)\n", de->d_name);
			continue;
		}
		why[0] = '\0';
		vfs_pathf(path, sizeof(path), "%s/%s", c->dir, de->d_name);
		if (snap_verify_file(path, &m, why, sizeof(why)) == 0 &&
		    m.index == v) {
			fprintf(c->out, "snapshot %s: index %" PRIu64 " term %"
			    PRIu64 ", config %zu bytes, image %" PRIu64
			    " bytes, ok\n", de->d_name, m.index, m.term,
			    m.config_len, m.image_len);
			if (m.index > c->snap_index) {
				c->snap_index = m.index;
				c->snap_term = m.term;
			}
			free(m.config);
			continue;
		}
		if (m.config != NULL || why[0] == '\0')
			snprintf(why, sizeof(why), "index %" PRIu64 " differs "
			    "from the name", m.index);
		free(m.config);
		fprintf(c->out, "snapshot %s: PROBLEM: %s: %s (never loaded)\n",
		    de->d_name, path, why);
		c->problems++;
		if (!c->repair || check_keep_copy(c, de->d_name) != 0 ||
		    vfs_unlink(c->vfs, path) != 0) {
			c->unrepaired++;
			continue;
		}
		fprintf(c->out, "repair: removed %s\n", de->d_name);
	}
	closedir(d);
}

/* Cuts the log before the corruption in found[bad]; copies go first. */
static int
check_repair_log(struct check *c, struct seg_found *found, size_t n,
    size_t bad)
{
	struct seg_found *f = &found[bad];
	char		 path[PATH_MAX], to[PATH_MAX], name[SEG_NAME_MAX];
	bool		 keep;
	size_t		 i;
	int		 fd, rc;

	for (i = bad; i < n; i++)
		if ((rc = check_keep_copy(c, found[i].seg.name)) != 0)
			return rc;
	/* Keep the valid prefix unless the header or sequence itself is bad. */
	keep = f->scan.hdr_state == SEG_HDR_OK && f->scan.n_records > 0 &&
	    (bad == 0 || found[bad - 1].seg.last + 1 == f->scan.hdr.first_index);
	for (i = n; i-- > bad;) {
		vfs_pathf(path, sizeof(path), "%s/%s", c->dir, found[i].seg.name);
		if (i == bad && keep)
			break;
		if ((rc = vfs_unlink(c->vfs, path)) != 0)
			return rc;
		fprintf(c->out, "repair: removed %s\n", found[i].seg.name);
	}
	if (keep) {
		if ((fd = vfs_open(c->vfs, path, O_RDWR, 0)) < 0)
			return fd;
		rc = vfs_ftruncate(c->vfs, fd, (off_t)f->scan.end);
		if (rc == 0)
			rc = vfs_fsync(c->vfs, fd);
		vfs_close(c->vfs, fd);
		if (rc != 0)
			return rc;
		seg_name_closed(name, sizeof(name), f->scan.hdr.first_index,
		    f->scan.last_index);
		vfs_pathf(to, sizeof(to), "%s/%s", c->dir, name);
		if ((rc = vfs_rename(c->vfs, path, to)) != 0)
			return rc;
		fprintf(c->out, "repair: cut %s at offset %zu, keeping entries "
		    "%" PRIu64 "..%" PRIu64 " as %s\n", f->seg.name,
		    f->scan.end, f->scan.hdr.first_index, f->scan.last_index,
		    name);
	}
	return vfs_fsync_dir(c->vfs, c->dir);
}

/*
 * Reports closed segments the snapshot covers (an interrupted compaction's
 * garbage, which the node removes when it starts; removed on repair), and
 * spare segment files.
 */
static void
check_covered(struct check *c)
{
	char		 path[PATH_MAX];
	DIR		*d;
	struct dirent	*de;
	uint64_t	 first, last;
	int		 rc;

	if ((d = opendir(c->dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (name_is_spare(de->d_name, &first)) {
			fprintf(c->out, "segment %s: a compacted segment kept "
			    "for reuse as the next one (its old records are "
			    "never read)\n", de->d_name);
			continue;
		}
		if (c->snap_index == 0 ||
		    !name_is_closed_seg(de->d_name, &first, &last) ||
		    last > c->snap_index)
			continue;
		fprintf(c->out, "segment %s: covered by snapshot %" PRIu64
		    " (left by an interrupted compaction; removed at start)\n",
		    de->d_name, c->snap_index);
		if (!c->repair)
			continue;
		vfs_pathf(path, sizeof(path), "%s/%s", c->dir, de->d_name);
		if ((rc = vfs_unlink(c->vfs, path)) != 0)
			fprintf(c->out, "repair: cannot remove %s: %s\n",
			    de->d_name, strerror(-rc));
		else
			fprintf(c->out, "repair: removed %s\n", de->d_name);
	}
	closedir(d);
}

/*
 * Applies the snapshot rule of storage_open() to the log first..last and
 * reports it: true if the next start discards the log (not a problem).
 */
static bool
check_snapshot_rule(struct check *c, struct seg_found *found, size_t n,
    uint64_t first, uint64_t last, char *err, size_t errlen)
{
	struct seg_found *f;
	uint64_t	 term = 0;
	char		 why[STORAGE_MSG_MAX];
	size_t		 i;

	for (i = 0; i < n && first <= c->snap_index && c->snap_index <= last;
	    i++) {
		f = &found[i];
		if (f->verdict == SEG_EMPTY || f->seg.first > c->snap_index ||
		    f->seg.last < c->snap_index)
			continue;
		if (seg_record_term(c->dir, &f->seg, c->snap_index, &term, err,
		    errlen) != 0) {
			fprintf(c->out, "log: PROBLEM: %s\n", err);
			c->problems++;
			c->unrepaired++;
			return true;
		}
		break;
	}
	if (!snap_log_discard(first, last, c->snap_index, c->snap_term, term,
	    why, sizeof(why)))
		return false;
	fprintf(c->out, "log: %s: discarded at next start (a snapshot "
	    "installed from the leader before a crash; the log was not yet "
	    "reset)\n", why);
	return true;
}

/* Reports the segments and the log's range. */
static int
check_log(struct check *c, char *err, size_t errlen)
{
	struct seg_found *found, *f;
	size_t		 n, i, bad = SIZE_MAX;
	uint64_t	 first = 0, last = 0;
	int		 rc;

	check_covered(c);
	if ((rc = log_analyze(c->dir, CHECK_WINDOW, c->snap_index, &found, &n,
	    err, errlen)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		f = &found[i];
		fprintf(c->out, "segment %s: ", f->seg.name);
		if (f->scan.n_records > 0)
			fprintf(c->out, "entries %" PRIu64 "..%" PRIu64 ", ",
			    f->scan.hdr.first_index, f->scan.last_index);
		fprintf(c->out, "%" PRIu64 " bytes, %s\n", f->size,
		    verdict_names[f->verdict]);
		if (f->verdict == SEG_BAD) {
			fprintf(c->out, "  PROBLEM: %s\n", f->problem);
			c->problems++;
			bad = i;
		}
		if (f->verdict == SEG_BAD || f->verdict == SEG_AFTER_BAD ||
		    f->verdict == SEG_EMPTY || f->seg.last < f->seg.first)
			continue;
		if (first == 0)
			first = f->seg.first;
		last = f->seg.last;
	}
	if (first != 0)
		fprintf(c->out, "log: entries %" PRIu64 "..%" PRIu64 "%s\n",
		    first, last, bad != SIZE_MAX ? " before the corruption" :
		    "");
	else
		fprintf(c->out, "log: empty\n");
	if (first != 0 && c->snap_index != 0 && bad == SIZE_MAX &&
	    check_snapshot_rule(c, found, n, first, last, err, errlen)) {
		/* The next start discards the log: no gap to report. */
	} else if (first != 0 && first > c->snap_index + 1) {
		fprintf(c->out, "log: PROBLEM: entries %" PRIu64 "..%" PRIu64
		    " are missing between the snapshot and the log\n",
		    c->snap_index + 1, first - 1);
		c->problems++;
		c->unrepaired++;
	}
	if (bad != SIZE_MAX) {
		if (!c->repair)
			c->unrepaired++;
		else if ((rc = check_repair_log(c, found, n, bad)) != 0) {
			fprintf(c->out, "repair: failed: %s\n", strerror(-rc));
			c->unrepaired++;
		}
	}
	log_found_free(found, n);
	return 0;
}

/* Checks (and optionally repairs) a data directory. */
int
storage_check(const char *dir, bool repair, FILE *report, struct vfs *vfs,
    char *err, size_t errlen)
{
	struct check	 c;
	struct vfs	*own = NULL;
	char		 path[PATH_MAX];
	int		 lock_fd = -1, rc;

	memset(&c, 0, sizeof(c));
	c.dir = dir;
	c.out = report;
	c.repair = repair;
	if (vfs == NULL && (vfs = own = vfs_posix_new()) == NULL) {
		st_seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c.vfs = vfs;
	vfs_pathf(path, sizeof(path), "%s/LOCK", dir);
	if ((lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		rc = -errno;
		st_seterr(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
		rc = -EBUSY;
		st_seterr(err, errlen, "%s: data directory is in use by another "
		    "process", dir);
		goto out;
	}
	fprintf(report, "data directory %s%s\n", dir, repair ?
	    " (repair mode)" : "");
	check_meta(&c);
	check_hard_state(&c);
	check_snapshots(&c);
	if ((rc = check_log(&c, err, errlen)) != 0)
		goto out;
	if (c.problems == 0)
		fprintf(report, "result: ok\n");
	else if (c.unrepaired == 0)
		fprintf(report, "result: %d problem(s), repaired; copies of what "
		    "was cut are in %s\n", c.problems, c.backup[0] ? c.backup :
		    "(nothing cut)");
	else
		fprintf(report, "result: %d problem(s)%s\n", c.problems,
		    repair ? ", some not repairable" :
		    "; run with --repair to cut the log before the corruption");
	rc = c.unrepaired == 0 ? 0 : -EBADMSG;
	if (rc != 0)
		st_seterr(err, errlen, "%s: %d problem(s) found", dir,
		    c.problems);
out:
	if (lock_fd >= 0)
		close(lock_fd);
	vfs_free(own);
	return rc;
}
