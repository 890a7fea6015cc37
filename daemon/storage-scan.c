/*
 * storage-scan.c -- reading a data directory's segment files and judging
 * each one against the recovery rules (docs/storage.md).  Pure analysis:
 * nothing is changed here; storage_open() and storage_check() act on it.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vfs.h"
#include "storage-internal.h"

/* Parses an unsigned decimal of exactly ndigits digits. */
static bool
parse_digits(const char *s, size_t ndigits, uint64_t *out)
{
	uint64_t	 v = 0;
	size_t		 i;

	for (i = 0; i < ndigits; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* Recognises FIRST-LAST (two 20-digit numbers). */
bool
name_is_closed_seg(const char *name, uint64_t *first, uint64_t *last)
{
	return strlen(name) == 41 && name[20] == '-' &&
	    parse_digits(name, 20, first) &&
	    parse_digits(name + 21, 20, last) && *first >= 1 &&
	    *last >= *first;
}

/* Recognises open-N. */
bool
name_is_open_seg(const char *name, uint64_t *n)
{
	size_t	 len = strlen(name);

	return len > 5 && len <= 25 && strncmp(name, "open-", 5) == 0 &&
	    parse_digits(name + 5, len - 5, n);
}

/* Recognises spare-N (a compacted segment file kept for reuse). */
bool
name_is_spare(const char *name, uint64_t *n)
{
	size_t	 len = strlen(name);

	return len > 6 && len <= 26 && strncmp(name, "spare-", 6) == 0 &&
	    parse_digits(name + 6, len - 6, n);
}

/* Formats the name of a closed segment. */
void
seg_name_closed(char *buf, size_t len, uint64_t first, uint64_t last)
{
	vfs_pathf(buf, len, "%020" PRIu64 "-%020" PRIu64, first, last);
}

/* Reads a whole small file into a new buffer (caller frees). */
int
file_read_all(const char *path, uint8_t **buf, size_t *len, size_t max)
{
	struct stat	 sb;
	ssize_t		 n;
	int		 fd, rc = 0;

	*buf = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	if (fstat(fd, &sb) != 0) {
		rc = -errno;
		goto out;
	}
	if ((uint64_t)sb.st_size > max) {
		rc = -EFBIG;
		goto out;
	}
	if ((*buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	n = pread(fd, *buf, (size_t)sb.st_size, 0);
	if (n != sb.st_size) {
		rc = n < 0 ? -errno : -EIO;
		free(*buf);
		*buf = NULL;
		goto out;
	}
	*len = (size_t)n;
out:
	close(fd);
	return rc;
}

/* Collects a record's offset into the segment's index. */
static int
collect_offset(void *ctx, const struct rec_header *h, const uint8_t *payload,
    size_t off)
{
	struct seg	*s = ctx;
	uint32_t	*n;
	size_t		 i = (size_t)(h->index - s->first);

	(void)payload;
	if (i >= s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		if ((n = realloc(s->offs, s->cap * sizeof(*n))) == NULL)
			return -ENOMEM;
		s->offs = n;
	}
	s->offs[i] = (uint32_t)off;
	return 0;
}

/* Orders closed segments by first index, then open ones by N. */
static int
found_cmp(const void *a, const void *b)
{
	const struct seg_found	*x = a, *y = b;

	if (x->seg.open != y->seg.open)
		return x->seg.open ? 1 : -1;
	if (x->seg.open)
		return x->seg.open_n < y->seg.open_n ? -1 :
		    x->seg.open_n > y->seg.open_n;
	return x->name_first < y->name_first ? -1 :
	    x->name_first > y->name_first;
}

/* Maps and scans one segment file into f. */
static int
scan_one(const char *dir, size_t window, struct seg_found *f, char *err,
    size_t errlen)
{
	char		 path[PATH_MAX];
	struct stat	 sb;
	void		*map = NULL;
	int		 fd, rc;

	vfs_pathf(path, sizeof(path), "%s/%s", dir, f->seg.name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb) != 0) {
		rc = -errno;
		st_seterr(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	f->size = (uint64_t)sb.st_size;
	if (f->size > UINT32_MAX) {
		close(fd);
		st_seterr(err, errlen, "%s: %" PRIu64 " bytes, more than a "
		    "segment may hold", path, f->size);
		return -EBADMSG;
	}
	if (sb.st_size > 0) {
		map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE,
		    fd, 0);
		if (map == MAP_FAILED) {
			rc = -errno;
			close(fd);
			st_seterr(err, errlen, "%s: mmap: %s", path,
			    strerror(-rc));
			return rc;
		}
	}
	close(fd);
	/* seg_scan() needs first before the callback: peek at the header. */
	if (f->size >= SEG_HEADER_SIZE)
		f->seg.first = fmt_get64((const uint8_t *)map + 16);
	rc = seg_scan(map, (size_t)f->size, window, collect_offset, &f->seg,
	    &f->scan);
	if (map != NULL)
		munmap(map, (size_t)sb.st_size);
	if (rc != 0) {
		st_seterr(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	f->seg.epoch = f->scan.hdr.epoch;
	f->seg.first = f->scan.hdr_state == SEG_HDR_OK ?
	    f->scan.hdr.first_index : 0;
	f->seg.last = f->scan.last_index;
	f->seg.end = f->scan.end;
	return 0;
}

/* Marks f bad with a message naming file and offset. */
static void __attribute__((format(printf, 4, 5)))
found_bad(struct seg_found *f, const char *dir, uint64_t off,
    const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	f->verdict = SEG_BAD;
	n = snprintf(f->problem, sizeof(f->problem), "%s/%s: offset %" PRIu64
	    ": expected ", dir, f->seg.name, off);
	if (n < 0 || (size_t)n >= sizeof(f->problem))
		return;
	va_start(ap, fmt);
	vsnprintf(f->problem + n, sizeof(f->problem) - (size_t)n, fmt, ap);
	va_end(ap);
}

/* Judges a closed segment. */
static void
judge_closed(const char *dir, struct seg_found *f, uint64_t expect)
{
	struct seg_scan	*sc = &f->scan;

	if (sc->hdr_state != SEG_HDR_OK) {
		found_bad(f, dir, 0, "%s", sc->hdr_state == SEG_HDR_ZERO ?
		    "a segment header, found zeros" : sc->why);
		return;
	}
	if (sc->hdr.first_index != f->name_first) {
		found_bad(f, dir, 16, "first index %" PRIu64 " (from the "
		    "name), found %" PRIu64, f->name_first,
		    sc->hdr.first_index);
		return;
	}
	if (expect != 0 && f->name_first != expect) {
		found_bad(f, dir, 16, "first index %" PRIu64 " to follow the "
		    "previous segment, found %" PRIu64 " (%s)", expect,
		    f->name_first, f->name_first > expect ? "gap" : "overlap");
		return;
	}
	if (sc->last_index < f->name_last) {
		found_bad(f, dir, sc->end, "%s (records up to %" PRIu64
		    " per the name, found up to %" PRIu64 ")",
		    sc->tail == SEG_TAIL_CLEAN ? "more records" : sc->why,
		    f->name_last, sc->last_index);
		return;
	}
	if (sc->last_index > f->name_last) {
		/* An interrupted truncation renamed it first: finish it. */
		f->verdict = SEG_TRIM;
		f->cut = f->seg.offs[f->name_last - f->seg.first + 1];
		f->seg.last = f->name_last;
		f->seg.end = f->cut;
		return;
	}
	if (sc->tail != SEG_TAIL_CLEAN) {
		found_bad(f, dir, sc->bad_off, "%s", sc->why);
		return;
	}
	f->verdict = SEG_OK;
}

/* Judges an open segment; later_data tells if a later file holds anything. */
static void
judge_open(const char *dir, struct seg_found *f, uint64_t expect,
    bool later_data)
{
	struct seg_scan	*sc = &f->scan;

	if (sc->hdr_state != SEG_HDR_OK) {
		/*
		 * No record is valid without its header: whatever follows
		 * is a torn write or, in a recycled file, an earlier
		 * segment's records.  Dropped, unless later files hold data.
		 */
		if (sc->tail == SEG_TAIL_CLEAN || !later_data)
			f->verdict = SEG_EMPTY;
		else
			found_bad(f, dir, 0, "%s", sc->hdr_state ==
			    SEG_HDR_ZERO ? "a segment header, found zeros "
			    "before data" : sc->why);
		return;
	}
	if (sc->n_records > 0 && expect != 0 && sc->hdr.first_index != expect) {
		found_bad(f, dir, 16, "first index %" PRIu64 " to follow the "
		    "previous segment, found %" PRIu64 " (%s)", expect,
		    sc->hdr.first_index, sc->hdr.first_index > expect ? "gap" :
		    "overlap");
		return;
	}
	if (sc->tail == SEG_TAIL_CORRUPT) {
		found_bad(f, dir, sc->bad_off, "%s", sc->why);
		return;
	}
	if (sc->tail == SEG_TAIL_TORN) {
		if (later_data) {
			found_bad(f, dir, sc->bad_off, "%s (not the last "
			    "segment, so not a torn tail)", sc->why);
			return;
		}
		f->verdict = sc->n_records > 0 ? SEG_TORN : SEG_EMPTY;
		return;
	}
	f->verdict = sc->n_records > 0 ? SEG_OK : SEG_EMPTY;
}

/*
 * True if f holds anything beyond a never-written preallocation.  A zero
 * header means no record was ever written under it: bytes after it are
 * an earlier segment's (a recycled file) or a torn write.
 */
static bool
found_has_data(const struct seg_found *f)
{
	return f->scan.hdr_state != SEG_HDR_ZERO;
}

/* Lists, scans and judges every segment of dir. */
int
log_analyze(const char *dir, size_t window, uint64_t covered,
    struct seg_found **out, size_t *n, char *err, size_t errlen)
{
	struct seg_found *found = NULL, *f, *nf;
	size_t		 nfound = 0, cap = 0, i, j;
	DIR		*d;
	struct dirent	*de;
	uint64_t	 a, b, expect = 0;
	bool		 bad = false, later;
	int		 rc = 0;

	*out = NULL;
	*n = 0;
	if ((d = opendir(dir)) == NULL) {
		rc = -errno;
		st_seterr(err, errlen, "%s: %s", dir, strerror(errno));
		return rc;
	}
	while ((de = readdir(d)) != NULL) {
		bool	 closed = name_is_closed_seg(de->d_name, &a, &b);

		if (!closed && !name_is_open_seg(de->d_name, &a))
			continue;
		if (closed && b <= covered)
			continue;
		if (nfound == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nf = realloc(found, cap * sizeof(*nf))) == NULL) {
				rc = -ENOMEM;
				st_seterr(err, errlen, "out of memory");
				goto out;
			}
			found = nf;
		}
		f = &found[nfound++];
		memset(f, 0, sizeof(*f));
		vfs_pathf(f->seg.name, sizeof(f->seg.name), "%s", de->d_name);
		f->seg.open = !closed;
		if (closed) {
			f->name_first = a;
			f->name_last = b;
		} else
			f->seg.open_n = a;
	}
	if (nfound > 0)
		qsort(found, nfound, sizeof(*found), found_cmp);
	for (i = 0; i < nfound; i++)
		if ((rc = scan_one(dir, window, &found[i], err, errlen)) != 0)
			goto out;
	for (i = 0; i < nfound; i++) {
		f = &found[i];
		if (bad) {
			f->verdict = SEG_AFTER_BAD;
			continue;
		}
		if (!f->seg.open)
			judge_closed(dir, f, expect);
		else {
			later = false;
			for (j = i + 1; j < nfound; j++)
				later = later || found_has_data(&found[j]);
			judge_open(dir, f, expect, later);
		}
		if (f->verdict == SEG_BAD)
			bad = true;
		else if (f->verdict != SEG_EMPTY && f->seg.last >= f->seg.first)
			expect = f->seg.last + 1;
	}
out:
	closedir(d);
	if (rc != 0) {
		log_found_free(found, nfound);
		return rc;
	}
	*out = found;
	*n = nfound;
	return 0;
}

/* Frees an analysis. */
void
log_found_free(struct seg_found *f, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(f[i].seg.offs);
	free(f);
}

/* Reads record index of segment s in dir, verified, and gives its term. */
int
seg_record_term(const char *dir, const struct seg *s, uint64_t index,
    uint64_t *term, char *err, size_t errlen)
{
	struct rec_header h;
	char		 path[PATH_MAX], why[160];
	uint64_t	 off, next;
	uint8_t		*buf;
	ssize_t		 got;
	int		 fd, rc = 0;

	if (index < s->first || index > s->last) {
		st_seterr(err, errlen, "%s/%s: index %" PRIu64 " not in %"
		    PRIu64 "..%" PRIu64, dir, s->name, index, s->first,
		    s->last);
		return -ENOENT;
	}
	off = s->offs[index - s->first];
	next = index < s->last ? s->offs[index + 1 - s->first] : s->end;
	vfs_pathf(path, sizeof(path), "%s/%s", dir, s->name);
	if ((buf = malloc((size_t)(next - off))) == NULL) {
		st_seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = -errno;
		st_seterr(err, errlen, "%s: %s", path, strerror(errno));
		free(buf);
		return rc;
	}
	got = pread(fd, buf, (size_t)(next - off), (off_t)off);
	close(fd);
	if (got != (ssize_t)(next - off)) {
		rc = -EIO;
		st_seterr(err, errlen, "%s: read at offset %" PRIu64 " failed",
		    path, off);
	} else if (!rec_decode(buf, (size_t)(next - off), 0, s->epoch, &h,
	    why, sizeof(why)) || h.index != index) {
		rc = -EBADMSG;
		st_seterr(err, errlen, "%s: offset %" PRIu64 ": expected %s",
		    path, off, h.index != index ? "the record of this index" :
		    why);
	} else
		*term = h.term;
	free(buf);
	return rc;
}

/* Tells whether the log must be discarded for the snapshot; see the .h. */
bool
snap_log_discard(uint64_t first, uint64_t last, uint64_t snap_index,
    uint64_t snap_term, uint64_t term_at, char *why, size_t whylen)
{
	if (first > last)
		return false;
	if (last < snap_index) {
		snprintf(why, whylen, "the log (entries %" PRIu64 "..%" PRIu64
		    ") ends before snapshot %" PRIu64 " (term %" PRIu64 ")",
		    first, last, snap_index, snap_term);
		return true;
	}
	if (first <= snap_index && term_at != snap_term) {
		snprintf(why, whylen, "the log (entries %" PRIu64 "..%" PRIu64
		    ") holds index %" PRIu64 " with term %" PRIu64 ", but "
		    "snapshot %" PRIu64 " has term %" PRIu64, first, last,
		    snap_index, term_at, snap_index, snap_term);
		return true;
	}
	return false;
}
