/*
 * test-storage.c -- unit tests of the storage layer: every operation and
 * every recovery rule of docs/storage.md, plus the vfs implementations.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>

#include "crc32c.h"
#include "log.h"
#include "storage.h"
#include "storage-format.h"
#include "storage-internal.h"
#include "vfs.h"
#include "tap.h"
#include "test-storage-util.h"

#define CLUSTER	42
#define NODE	7
#define SEGSZ	8192		/* small: many segments */
#define SEGN	53		/* records of 100 B (152 B) per segment */

struct fixture {
	char		 dir[256];
	struct logger	 lg;
	FILE		*logf;
	char		 err[512];
};

/* Sets up a scratch directory and a logger writing to a temp file. */
static void
fx_init(struct fixture *fx, const char *tag)
{
	tu_mkdtemp(fx->dir, sizeof(fx->dir), tag);
	strcat(fx->dir, "/data");
	log_init(&fx->lg, "test-storage");
	fx->lg.level = LOG_LEVEL_DEBUG;
	fx->logf = tmpfile();
	fx->lg.stream = fx->logf;
	fx->err[0] = '\0';
}

/* Tells whether the log so far contains needle. */
static bool
fx_logged(struct fixture *fx, const char *needle)
{
	char	 line[1024];
	bool	 found = false;

	fflush(fx->logf);
	rewind(fx->logf);
	while (fgets(line, sizeof(line), fx->logf) != NULL)
		if (strstr(line, needle) != NULL)
			found = true;
	fseek(fx->logf, 0, SEEK_END);
	return found;
}

/* Removes the scratch directory. */
static void
fx_done(struct fixture *fx)
{
	char	*slash = strrchr(fx->dir, '/');

	*slash = '\0';
	tu_rmtree(fx->dir);
	fclose(fx->logf);
}

/* Opens fx's directory with the given vfs and segment size. */
static int
fx_open(struct fixture *fx, struct vfs *vfs, size_t segsz, size_t window,
    struct storage **st)
{
	struct storage_options	 o;

	storage_options_init(&o);
	o.cluster_id = CLUSTER;
	o.node_id = NODE;
	o.segment_bytes = segsz;
	if (window != 0)
		o.max_unsynced_bytes = window;
	o.vfs = vfs;
	o.log = &fx->lg;
	return storage_open(fx->dir, &o, st, fx->err, sizeof(fx->err));
}

/* Appends entries lo..hi (term, len each) as one batch and syncs. */
static int
append_range(struct storage *st, uint64_t lo, uint64_t hi, uint64_t term,
    uint32_t len, uint64_t commit, char *err)
{
	struct raft_entry	*es;
	uint8_t			*bufs;
	uint64_t		 i;
	int			 rc;

	es = calloc((size_t)(hi - lo + 1), sizeof(*es));
	bufs = malloc((size_t)(hi - lo + 1) * (len ? len : 1));
	for (i = lo; i <= hi; i++)
		tu_entry(&es[i - lo], i, term, len, bufs + (i - lo) * len);
	rc = storage_append_sync(st, es, (size_t)(hi - lo + 1), commit, err,
	    512);
	free(es);
	free(bufs);
	return rc;
}

/* Opens, loads, checks entries first..last with payload len, closes. */
static bool
reopen_expect(struct fixture *fx, uint64_t first, uint64_t last, uint32_t len,
    struct storage_loaded *keep)
{
	struct storage		*st;
	struct storage_loaded	 l;
	size_t			 i;
	bool			 good;

	if (fx_open(fx, NULL, SEGSZ, 0, &st) != 0) {
		diag("reopen: %s", fx->err);
		return false;
	}
	if (storage_load(st, &l, fx->err, sizeof(fx->err)) != 0) {
		diag("load: %s", fx->err);
		storage_close(st);
		return false;
	}
	good = l.n_entries == (size_t)(last + 1 - first);
	if (!good)
		diag("loaded %zu entries, want %" PRIu64 "..%" PRIu64,
		    l.n_entries, first, last);
	for (i = 0; good && i < l.n_entries; i++)
		if (!tu_entry_ok(&l.entries[i], first + i, len)) {
			diag("entry %zu (index %" PRIu64 ") differs", i,
			    l.entries[i].index);
			good = false;
		}
	if (keep != NULL)
		*keep = l;
	else
		storage_loaded_free(&l);
	storage_close(st);
	return good;
}

/* Prints a multi-line text as TAP diagnostics, one "#" line each. */
static void
diag_lines(const char *title, char *text)
{
	char	*line, *save = NULL;

	diag("%s:", title);
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		diag("  %s", line);
}

/* CRC-32C against published vectors, software against hardware. */
static void
test_crc(struct tap *t)
{
	uint8_t		 buf[1000];
	size_t		 i;
	bool		 same = true;

	is_u64(t, crc32c(0, "123456789", 9), 0xe3069283u, "crc32c check value");
	is_u64(t, crc32c_sw(0, "123456789", 9), 0xe3069283u,
	    "crc32c software check value");
	memset(buf, 0, 32);
	is_u64(t, crc32c(0, buf, 32), 0x8a9136aau, "crc32c of 32 zeros");
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 17 + 3);
	for (i = 0; i < 200; i++)
		same = same && crc32c(0, buf + i % 7, i * 4) ==
		    crc32c_sw(0, buf + i % 7, i * 4) &&
		    crc32c(crc32c(0, buf, i), buf + i, 700) ==
		    crc32c_sw(0, buf, i + 700);
	ok(t, same, "hardware (%s) and software agree, incrementally too",
	    crc32c_hw_available() ? "sse4.2" : "absent");
}

/* The data directory: identity and lock. */
static void
test_datadir(struct tap *t)
{
	struct fixture		 fx;
	struct storage		*st, *st2;
	struct storage_options	 o;
	char			 path[512];
	int			 rc;

	fx_init(&fx, "dir");
	is_int(t, fx_open(&fx, NULL, SEGSZ, 0, &st), 0, "creates a new dir");
	snprintf(path, sizeof(path), "%s/meta", fx.dir);
	ok(t, tu_size(path) == META_SIZE, "meta file written");
	rc = fx_open(&fx, NULL, SEGSZ, 0, &st2);
	is_int(t, rc, -EBUSY, "a second open is refused by the lock");
	ok(t, strstr(fx.err, "in use by another process") != NULL,
	    "lock message: %s", fx.err);
	storage_close(st);
	storage_options_init(&o);
	o.cluster_id = CLUSTER;
	o.node_id = NODE + 1;
	rc = storage_open(fx.dir, &o, &st, fx.err, sizeof(fx.err));
	is_int(t, rc, -ESTALE, "another node's directory is refused");
	ok(t, strstr(fx.err, "node 7") != NULL, "message names the owner: %s",
	    fx.err);
	o.node_id = NODE;
	o.cluster_id = CLUSTER + 1;
	is_int(t, storage_open(fx.dir, &o, &st, fx.err, sizeof(fx.err)),
	    -ESTALE, "another cluster's directory is refused");
	fx_open(&fx, NULL, SEGSZ, 0, &st);
	append_range(st, 1, 1, 1, 1, 0, fx.err);
	storage_close(st);
	unlink(path);
	is_int(t, fx_open(&fx, NULL, SEGSZ, 0, &st), -EBADMSG,
	    "a directory with files but no meta is refused");
	fx_done(&fx);
}

struct collect {
	uint64_t	 next;
	uint32_t	 len;
	bool		 good;
};

/* Checks each entry of a range read. */
static int
collect_cb(void *ctx, const struct raft_entry *e)
{
	struct collect	*c = ctx;

	c->good = c->good && tu_entry_ok(e, c->next, c->len) && e->term == 3;
	c->next++;
	return 0;
}

/* Append, sync, read, reopen; segments roll and are named by range. */
static void
test_append_read(struct tap *t)
{
	struct fixture		 fx;
	struct storage		*st;
	struct raft_entry	 e;
	struct collect		 c = { 10, 100, true };
	uint8_t			*buf;
	char			 path[512];
	int			 i, rc = 0;

	fx_init(&fx, "append");
	fx_open(&fx, NULL, SEGSZ, 0, &st);
	for (i = 1; i <= 200 && rc == 0; i += 10)
		rc = append_range(st, (uint64_t)i, (uint64_t)i + 9, 3, 100,
		    0, fx.err);
	is_int(t, rc, 0, "200 entries appended in batches of 10 (%s)",
	    fx.err);
	is_u64(t, storage_last_index(st), 200, "last index");
	is_u64(t, storage_durable_index(st), 200, "durable index");
	is_u64(t, storage_first_index(st), 1, "first index");
	ok(t, tu_count(fx.dir, "0000") >= 3, "several closed segments (%d)",
	    tu_count(fx.dir, "0000"));
	snprintf(path, sizeof(path), "%s/%020d-%020d", fx.dir, 1, SEGN);
	ok(t, tu_size(path) > 0, "closed segment named FIRST-LAST: "
	    "00000000000000000001-00000000000000000053");
	rc = storage_read_entry(st, 137, &e, &buf, fx.err, sizeof(fx.err));
	ok(t, rc == 0 && tu_entry_ok(&e, 137, 100) && e.term == 3,
	    "read entry 137 from its file");
	free(buf);
	rc = storage_read_range(st, 10, 190, collect_cb, &c, fx.err,
	    sizeof(fx.err));
	ok(t, rc == 0 && c.good && c.next == 191, "read range 10..190");
	is_int(t, storage_read_entry(st, 201, &e, &buf, fx.err,
	    sizeof(fx.err)), -ENOENT, "reading past the end is ENOENT");
	/* A non-contiguous append is refused. */
	rc = append_range(st, 205, 205, 3, 1, 0, fx.err);
	is_int(t, rc, -EINVAL, "a gap in appends is refused");
	storage_close(st);
	ok(t, reopen_expect(&fx, 1, 200, 100, NULL), "reopen loads 1..200");
	ok(t, tu_count(fx.dir, "open-") <= 1, "at most one spare open segment");
	fx_done(&fx);
}

/* Big entries, fallocate refused, empty entries. */
static void
test_sizes(struct tap *t)
{
	struct fixture		 fx;
	struct storage		*st;
	struct vfs		*v;
	int			 rc;

	fx_init(&fx, "sizes");
	vfs_from_spec("fault:no-fallocate=1", &v, fx.err, sizeof(fx.err));
	fx_open(&fx, v, SEGSZ, 0, &st);
	rc = append_range(st, 1, 3, 1, 20000, 0, fx.err);
	is_int(t, rc, 0, "entries larger than a segment (fallocate refused)");
	rc = append_range(st, 4, 40, 1, 0, 0, fx.err);
	is_int(t, rc, 0, "empty entries");
	storage_close(st);
	vfs_free(v);
	{
		struct storage_loaded l;
		bool	 good;
		size_t	 i;

		fx_open(&fx, NULL, SEGSZ, 0, &st);
		good = storage_load(st, &l, fx.err, sizeof(fx.err)) == 0 &&
		    l.n_entries == 40;
		for (i = 0; good && i < 40; i++)
			good = tu_entry_ok(&l.entries[i], i + 1, i < 3 ? 20000 : 0);
		ok(t, good, "reopen: big and empty entries intact");
		storage_loaded_free(&l);
		storage_close(st);
	}
	fx_done(&fx);
}

/* Truncation: in the open segment, in a closed one, by conflicting append. */
static void
test_truncate(struct tap *t)
{
	struct fixture		 fx;
	struct storage		*st;
	struct storage_loaded	 l;
	int			 rc;

	fx_init(&fx, "trunc");
	fx_open(&fx, NULL, SEGSZ, 0, &st);
	rc = append_range(st, 1, 100, 1, 100, 0, fx.err);
	rc |= storage_truncate_suffix(st, 95, fx.err, sizeof(fx.err));
	is_int(t, rc, 0, "truncate inside the open segment");
	is_u64(t, storage_last_index(st), 95, "last is 95");
	rc = storage_truncate_suffix(st, 30, fx.err, sizeof(fx.err));
	is_int(t, rc, 0, "truncate inside a closed segment (%s)", fx.err);
	is_u64(t, storage_last_index(st), 30, "last is 30");
	rc = append_range(st, 31, 60, 2, 100, 0, fx.err);
	is_int(t, rc, 0, "append after truncation");
	/* A conflicting batch: starts at 50, truncating 50..60 first. */
	rc = append_range(st, 50, 70, 4, 100, 0, fx.err);
	is_int(t, rc, 0, "append at an index <= last truncates first");
	storage_close(st);
	ok(t, reopen_expect(&fx, 1, 70, 100, &l), "reopen after truncations");
	ok(t, l.n_entries == 70 && l.entries[29].term == 1 &&
	    l.entries[30].term == 2 && l.entries[48].term == 2 &&
	    l.entries[49].term == 4, "terms follow the truncations");
	storage_loaded_free(&l);
	fx_open(&fx, NULL, SEGSZ, 0, &st);
	is_int(t, storage_truncate_suffix(st, 0, fx.err, sizeof(fx.err)), 0,
	    "truncate everything");
	is_u64(t, storage_last_index(st), 0, "empty log");
	rc = append_range(st, 1, 5, 9, 10, 0, fx.err);
	is_int(t, rc, 0, "append into the emptied log");
	storage_close(st);
	ok(t, reopen_expect(&fx, 1, 5, 10, NULL), "reopen: 1..5");
	fx_done(&fx);
}

/* Hard state: atomic save, load, commit lower bound, corruption. */
static void
test_hard_state(struct tap *t)
{
	struct fixture		 fx;
	struct storage		*st;
	struct storage_loaded	 l;
	struct raft_hard_state	 hs = { 5, 2, 0 };
	char			 path[512], tmp[512];
	uint8_t			 flip;
	int			 rc;

	fx_init(&fx, "hs");
	fx_open(&fx, NULL, SEGSZ, 0, &st);
	is_int(t, storage_save_hard_state(st, &hs, fx.err, sizeof(fx.err)), 0,
	    "save hard state");
	append_range(st, 1, 20, 5, 10, 12, fx.err);
	storage_close(st);
	fx_open(&fx, NULL, SEGSZ, 0, &st);
	storage_load(st, &l, fx.err, sizeof(fx.err));
	ok(t, l.hs.term == 5 && l.hs.vote == 2, "term and vote reloaded");
	is_u64(t, l.hs.commit, 12, "commit carried in the log batch (lazy)");
	storage_loaded_free(&l);
	/* Lost rename: the new hard state only reached hardstate.tmp. */
	snprintf(path, sizeof(path), "%s/hardstate", fx.dir);
	snprintf(tmp, sizeof(tmp), "%s/hardstate.tmp", fx.dir);
	hs.term = 9;
	storage_save_hard_state(st, &hs, fx.err, sizeof(fx.err));
	storage_close(st);
	rename(path, tmp);
	{
		/* Put back the previous version as the durable one. */
		uint8_t	 img[HS_SIZE];
		struct raft_hard_state old = { 5, 2, 0 };
		int	 fd = open(path, O_WRONLY | O_CREAT, 0644);

		hs_encode(&old, img);
		rc = write(fd, img, sizeof(img)) == (ssize_t)sizeof(img);
		close(fd);
	}
	fx_open(&fx, NULL, SEGSZ, 0, &st);
	storage_load(st, &l, fx.err, sizeof(fx.err));
	ok(t, l.hs.term == 5, "lost rename: the old hard state is loaded");
	ok(t, tu_size(tmp) < 0, "the orphan hardstate.tmp is removed");
	storage_loaded_free(&l);
	storage_close(st);
	/* A bit flip in the hard state stops startup. */
	flip = (uint8_t)(tu_peek(path, 20) ^ 0x10);
	tu_poke(path, 20, &flip, 1);
	rc = fx_open(&fx, NULL, SEGSZ, 0, &st);
	is_int(t, rc, -EBADMSG, "corrupt hard state refused");
	ok(t, strstr(fx.err, "hardstate") && strstr(fx.err, "offset 40") &&
	    strstr(fx.err, "expected crc32c"), "names file, offset and "
	    "expectation: %s", fx.err);
	fx_done(&fx);
}

struct image {
	uint8_t		 buf[100000];
	size_t		 len;
};

/* Collects a snapshot image. */
static int
image_cb(void *ctx, const uint8_t *buf, size_t len)
{
	struct image	*im = ctx;

	if (im->len + len > sizeof(im->buf))
		return -EFBIG;
	memcpy(im->buf + im->len, buf, len);
	im->len += len;
	return 0;
}

/* Writes a snapshot at index with a patterned image of len bytes. */
static int
write_snapshot(struct storage *st, uint64_t index, size_t len, bool commit,
    char *err)
{
	struct storage_snapshot_writer *w;
	uint8_t		 chunk[1000];
	size_t		 i, off;
	int		 rc;

	rc = storage_snapshot_begin(st, index, 2, (const uint8_t *)"cfg", 3,
	    &w, err, 512);
	if (rc != 0)
		return rc;
	for (off = 0; off < len; off += sizeof(chunk)) {
		for (i = 0; i < sizeof(chunk); i++)
			chunk[i] = (uint8_t)(off + i + index);
		rc = storage_snapshot_write(w, chunk, len - off < sizeof(chunk) ?
		    len - off : sizeof(chunk), err, 512);
		if (rc != 0) {
			storage_snapshot_abort(w);
			return rc;
		}
	}
	if (!commit) {
		storage_snapshot_abort(w);
		return 0;
	}
	return storage_snapshot_commit(w, err, 512);
}

/* Snapshots, compaction, reset, and the gap rule. */
static void
test_snapshot_compact(struct tap *t)
{
	struct fixture		 fx;
	struct storage		*st;
	struct storage_loaded	 l;
	struct image		*im = calloc(1, sizeof(*im));
	char			 path[512];
	uint8_t			 flip;
	bool			 good = true;
	size_t			 i;
	int			 rc;

	fx_init(&fx, "snap");
	fx_open(&fx, NULL, SEGSZ, 0, &st);
	append_range(st, 1, 200, 2, 100, 0, fx.err);
	is_int(t, write_snapshot(st, 60, 5000, true, fx.err), 0,
	    "snapshot at 60 written");
	is_int(t, write_snapshot(st, 120, 7000, true, fx.err), 0,
	    "snapshot at 120 written");
	is_int(t, tu_count(fx.dir, "snapshot-"), 1, "older snapshot removed");
	is_int(t, write_snapshot(st, 150, 100, false, fx.err), 0,
	    "an aborted snapshot");
	is_int(t, tu_count(fx.dir, "snapshot-"), 1, "aborted one leaves nothing");
	is_int(t, storage_compact(st, 120, fx.err, sizeof(fx.err)), 0,
	    "compact up to 120");
	ok(t, storage_first_index(st) > 1 && storage_first_index(st) <= 121,
	    "whole segments dropped: first index %" PRIu64,
	    storage_first_index(st));
	storage_close(st);
	/* A partial snapshot file (crash while writing) is ignored. */
	snprintf(path, sizeof(path), "%s/snapshot-%020d.tmp", fx.dir, 190);
	tu_poke(path, 0, "RKVSNAPS partial", 16);
	fx_open(&fx, NULL, SEGSZ, 0, &st);
	rc = storage_load(st, &l, fx.err, sizeof(fx.err));
	ok(t, rc == 0 && l.has_snapshot && l.snapshot_index == 120 &&
	    l.snapshot_term == 2 && l.snapshot_config_len == 3 &&
	    memcmp(l.snapshot_config, "cfg", 3) == 0 &&
	    l.snapshot_image_len == 7000, "latest snapshot's metadata loaded");
	ok(t, l.n_entries == 80 && l.entries[0].index == 121,
	    "entries after the snapshot: %zu from %" PRIu64, l.n_entries,
	    l.n_entries ? l.entries[0].index : 0);
	ok(t, tu_size(path) < 0, "partial snapshot file cleaned up");
	storage_loaded_free(&l);
	rc = storage_snapshot_read(st, image_cb, im, fx.err, sizeof(fx.err));
	for (i = 0; i < 7000; i++)
		good = good && im->buf[i] == (uint8_t)(i + 120);
	ok(t, rc == 0 && im->len == 7000 && good, "image read back intact");
	/* Reset: a snapshot from the leader ahead of the log. */
	write_snapshot(st, 500, 10, true, fx.err);
	is_int(t, storage_reset(st, 500, fx.err, sizeof(fx.err)), 0, "reset");
	is_u64(t, storage_last_index(st), 500, "log continues after 500");
	rc = append_range(st, 501, 510, 3, 10, 0, fx.err);
	is_int(t, rc, 0, "append after reset");
	storage_close(st);
	fx_open(&fx, NULL, SEGSZ, 0, &st);
	rc = storage_load(st, &l, fx.err, sizeof(fx.err));
	ok(t, rc == 0 && l.snapshot_index == 500 && l.n_entries == 10 &&
	    l.entries[0].index == 501, "reload after reset");
	storage_loaded_free(&l);
	storage_close(st);
	/* A corrupt snapshot is never loaded; here that leaves a gap. */
	snprintf(path, sizeof(path), "%s/snapshot-%020d", fx.dir, 500);
	flip = (uint8_t)(tu_peek(path, 60) ^ 1);
	tu_poke(path, 60, &flip, 1);
	fx_open(&fx, NULL, SEGSZ, 0, &st);
	rc = storage_load(st, &l, fx.err, sizeof(fx.err));
	is_int(t, rc, -EBADMSG, "corrupt snapshot not loaded: gap detected");
	ok(t, strstr(fx.err, "501") != NULL && fx_logged(&fx, "not loaded"),
	    "gap named and corrupt snapshot logged: %s", fx.err);
	storage_close(st);
	free(im);
	fx_done(&fx);
}

/*
 * A crash in the middle of a compaction, before the directory fsync, can
 * leave any subset of the segments that the snapshot covers.  Their gaps
 * are no corruption: they are garbage, removed at open.
 */
static void
test_interrupted_compaction(struct tap *t)
{
	struct fixture		 fx;
	struct storage		*st;
	struct storage_loaded	 l;
	char			 name[64], path[512];
	uint64_t		 first, last;
	int			 rc, removed = 0, segs;

	fx_init(&fx, "ccomp");
	fx_open(&fx, NULL, SEGSZ, 0, &st);
	append_range(st, 1, 400, 2, 100, 0, fx.err);
	is_int(t, write_snapshot(st, 300, 1000, true, fx.err), 0,
	    "snapshot at 300 written, log not yet compacted");
	storage_close(st);
	/* Unlink every other covered segment, as a half-done compaction. */
	segs = tu_count(fx.dir, "0000");
	for (first = 1; first <= 300;) {
		snprintf(name, sizeof(name), "%020" PRIu64 "-", first);
		if (tu_find(fx.dir, name, path, sizeof(path)) != 0)
			break;
		if (!name_is_closed_seg(strrchr(path, '/') + 1, &first, &last)
		    || last > 300)
			break;
		if (removed++ % 2 == 1)
			unlink(path);
		first = last + 1;
	}
	ok(t, removed >= 3 && segs >= 4, "left a gap among %d covered "
	    "segments (of %d)", removed, segs);
	{
		char	*report = NULL;
		size_t	 report_len = 0;
		FILE	*rf = open_memstream(&report, &report_len);

		rc = storage_check(fx.dir, false, rf, NULL, fx.err,
		    sizeof(fx.err));
		fclose(rf);
		ok(t, rc == 0 && strstr(report, "covered by snapshot 300") !=
		    NULL, "check: the covered segments are no problem (%s)",
		    rc != 0 ? fx.err : "sound");
		free(report);
	}
	rc = fx_open(&fx, NULL, SEGSZ, 0, &st);
	is_int(t, rc, 0, "opens despite the gap below the snapshot: %s",
	    rc != 0 ? fx.err : "ok");
	if (rc == 0) {
		rc = storage_load(st, &l, fx.err, sizeof(fx.err));
		ok(t, rc == 0 && l.snapshot_index == 300 && l.n_entries >= 100 &&
		    l.entries[l.n_entries - 1].index == 400,
		    "snapshot 300 and the log up to 400 loaded");
		if (rc == 0)
			storage_loaded_free(&l);
		storage_close(st);
	}
	fx_done(&fx);
}

static void open_segment(struct fixture *, char *, size_t);

/* Writes DIR/snapshot-INDEX.TAG.tmp with create(), image of len bytes. */
static int
make_snapshot_file(const char *dir, const char *tag, uint64_t index,
    uint64_t term, size_t len, uint64_t *written, char *err)
{
	struct storage_snapshot_writer *w;
	uint8_t		 chunk[700];
	size_t		 i, off;
	int		 rc;

	if ((rc = storage_snapshot_create(dir, NULL, tag, index, term,
	    (const uint8_t *)"cfg", 3, &w, err, 512)) != 0)
		return rc;
	for (off = 0; off < len; off += sizeof(chunk)) {
		for (i = 0; i < sizeof(chunk); i++)
			chunk[i] = (uint8_t)(off + i + index);
		if ((rc = storage_snapshot_write(w, chunk, len - off <
		    sizeof(chunk) ? len - off : sizeof(chunk), err, 512)) != 0) {
			storage_snapshot_abort(w);
			return rc;
		}
	}
	if (written != NULL)
		*written = storage_snapshot_written(w);
	return storage_snapshot_finish(w, err, 512);
}

/* Copies the file at from into a raw receive() writer in chunks of n. */
static int
receive_file(const char *from, const char *dir, const char *tag,
    uint64_t index, size_t n, char *err)
{
	struct storage_snapshot_writer *w;
	uint8_t		 buf[4096];
	ssize_t		 got;
	int		 fd, rc;

	if ((fd = open(from, O_RDONLY)) < 0)
		return -errno;
	if ((rc = storage_snapshot_receive(dir, NULL, tag, index, &w, err,
	    512)) != 0) {
		close(fd);
		return rc;
	}
	while ((got = read(fd, buf, n < sizeof(buf) ? n : sizeof(buf))) > 0)
		if ((rc = storage_snapshot_write(w, buf, (size_t)got, err,
		    512)) != 0)
			break;
	close(fd);
	if (rc != 0) {
		storage_snapshot_abort(w);
		return rc;
	}
	return storage_snapshot_finish(w, err, 512);
}

/* Formats DIR/snapshot-INDEX[.TAG.tmp]. */
static void
snap_file(char *buf, size_t len, const char *dir, uint64_t index,
    const char *tag)
{
	if (tag == NULL)
		snprintf(buf, len, "%s/snapshot-%020" PRIu64, dir, index);
	else
		snprintf(buf, len, "%s/snapshot-%020" PRIu64 ".%s.tmp", dir,
		    index, tag);
}

/* True if im holds the image make_snapshot_file() writes for index. */
static bool
image_ok(const struct image *im, uint64_t index, size_t len)
{
	size_t	 i;

	if (im->len != len)
		return false;
	for (i = 0; i < len; i++)
		if (im->buf[i] != (uint8_t)(i + index))
			return false;
	return true;
}

/* The standalone writers, install, get_info, file verify and read. */
static void
test_snapshot_files(struct tap *t)
{
	struct fixture		 fx;
	struct storage		*st;
	struct storage_snapshot_writer *w;
	struct storage_snapshot_meta m;
	struct storage_snapshot_info info;
	struct storage_loaded	 l;
	struct image		*im = calloc(1, sizeof(*im));
	char			 path[512], leader[512], lpath[600];
	char			*report = NULL;
	size_t			 report_len = 0;
	uint64_t		 written = 0;
	uint8_t			 flip;
	FILE			*rf;
	int			 rc;

	fx_init(&fx, "snapf");
	tu_mkdtemp(leader, sizeof(leader), "snapl");
	fx_open(&fx, NULL, SEGSZ, 0, &st);
	append_range(st, 1, 100, 2, 100, 0, fx.err);

	/* Bad arguments. */
	is_int(t, storage_snapshot_create(fx.dir, NULL, "Build", 50, 2, NULL, 0,
	    &w, fx.err, sizeof(fx.err)), -EINVAL, "a tag with a capital is "
	    "refused: %s", fx.err);
	is_int(t, storage_snapshot_create(fx.dir, NULL, "a.b", 50, 2, NULL, 0,
	    &w, fx.err, sizeof(fx.err)), -EINVAL, "a tag with a dot is refused");
	is_int(t, storage_snapshot_receive(fx.dir, NULL, "", 50, &w, fx.err,
	    sizeof(fx.err)), -EINVAL, "an empty tag is refused");
	is_int(t, storage_snapshot_receive(fx.dir, NULL, "abcdefghijklmnopq",
	    50, &w, fx.err, sizeof(fx.err)), -EINVAL, "a 17-letter tag is "
	    "refused");
	is_int(t, storage_snapshot_create(fx.dir, NULL, "build", 0, 2, NULL, 0,
	    &w, fx.err, sizeof(fx.err)), -EINVAL, "index 0 is refused");
	is_int(t, storage_snapshot_install(st, "BAD", 50, 2, fx.err,
	    sizeof(fx.err)), -EINVAL, "install with a bad tag is refused");
	storage_snapshot_get_info(st, &info);
	ok(t, !info.exists, "no snapshot yet: get_info says so");
	is_int(t, storage_snapshot_read(st, image_cb, im, fx.err,
	    sizeof(fx.err)), -ENOENT, "reading no snapshot is ENOENT");

	/* create + finish leaves the .tmp; verify and read it; install. */
	rc = make_snapshot_file(fx.dir, "build", 50, 2, 5000, &written,
	    fx.err);
	snap_file(path, sizeof(path), fx.dir, 50, "build");
	ok(t, rc == 0 && tu_size(path) == 48 + 3 + 5000 + 24 &&
	    written == 48 + 3 + 5000, "create/write/finish: %s, %lld bytes, "
	    "written() said %" PRIu64 " before the trailer", path,
	    tu_size(path), written);
	rc = storage_snapshot_file_verify(path, &m, fx.err, sizeof(fx.err));
	ok(t, rc == 0 && m.index == 50 && m.term == 2 && m.config_len == 3 &&
	    memcmp(m.config, "cfg", 3) == 0 && m.image_len == 5000 &&
	    m.file_size == 48 + 3 + 5000 + 24 && m.file_crc != 0,
	    "file_verify: meta of the finished file (%s)", fx.err);
	free(m.config);
	im->len = 0;
	rc = storage_snapshot_file_read(path, image_cb, im, fx.err,
	    sizeof(fx.err));
	ok(t, rc == 0 && image_ok(im, 50, 5000), "file_read: the image");
	rc = storage_snapshot_install(st, "build", 50, 2, fx.err,
	    sizeof(fx.err));
	is_int(t, rc, 0, "install 50 (%s)", fx.err);
	storage_snapshot_get_info(st, &info);
	snap_file(lpath, sizeof(lpath), fx.dir, 50, NULL);
	ok(t, info.exists && info.index == 50 && info.term == 2 &&
	    info.file_size == (uint64_t)tu_size(lpath) &&
	    strcmp(info.path, lpath) == 0 && tu_size(path) < 0,
	    "get_info at once: %s, %" PRIu64 " bytes, crc %08" PRIx32
	    "; the .tmp is gone", info.path, info.file_size, info.file_crc);
	im->len = 0;
	rc = storage_snapshot_read(st, image_cb, im, fx.err, sizeof(fx.err));
	ok(t, rc == 0 && image_ok(im, 50, 5000), "snapshot_read: the new "
	    "image at once");

	/* -ESTALE: not above the latest; the file is deleted. */
	make_snapshot_file(fx.dir, "build", 40, 2, 10, NULL, fx.err);
	snap_file(path, sizeof(path), fx.dir, 40, "build");
	rc = storage_snapshot_install(st, "build", 40, 2, fx.err,
	    sizeof(fx.err));
	ok(t, rc == -ESTALE && tu_size(path) < 0, "older index: -ESTALE, "
	    "file deleted (%s)", fx.err);
	make_snapshot_file(fx.dir, "build", 50, 2, 10, NULL, fx.err);
	snap_file(path, sizeof(path), fx.dir, 50, "build");
	rc = storage_snapshot_install(st, "build", 50, 2, fx.err,
	    sizeof(fx.err));
	ok(t, rc == -ESTALE && tu_size(path) < 0, "same index: -ESTALE");

	/* A leader's file, received in chunks as raw bytes. */
	rc = make_snapshot_file(leader, "build", 200, 3, 9000, NULL, fx.err);
	snap_file(lpath, sizeof(lpath), leader, 200, "build");
	rc |= storage_snapshot_file_verify(lpath, &m, fx.err, sizeof(fx.err));
	free(m.config);
	rc |= receive_file(lpath, fx.dir, "recv", 200, 1000, fx.err);
	is_int(t, rc, 0, "received a leader's file in 1000-byte chunks (%s)",
	    fx.err);
	rc = storage_snapshot_install(st, "recv", 200, 3, fx.err,
	    sizeof(fx.err));
	storage_snapshot_get_info(st, &info);
	ok(t, rc == 0 && info.index == 200 && info.term == 3 &&
	    info.file_crc == m.file_crc && tu_count(fx.dir, "snapshot-") == 1,
	    "receive then install: 200, the leader's crc %08" PRIx32
	    ", the older one removed (%s)", m.file_crc, fx.err);

	/* Bad files: -EBADMSG, deleted, never loaded; latest unchanged. */
	make_snapshot_file(leader, "build", 300, 3, 9000, NULL, fx.err);
	snap_file(lpath, sizeof(lpath), leader, 300, "build");
	snap_file(path, sizeof(path), fx.dir, 300, "recv");
	receive_file(lpath, fx.dir, "recv", 300, 4096, fx.err);
	flip = (uint8_t)(tu_peek(path, 5000) ^ 0x10);
	tu_poke(path, 5000, &flip, 1);
	rc = storage_snapshot_install(st, "recv", 300, 3, fx.err,
	    sizeof(fx.err));
	ok(t, rc == -EBADMSG && tu_size(path) < 0 && strstr(fx.err,
	    "crc32c") != NULL, "a flipped bit: -EBADMSG, deleted: %s", fx.err);
	receive_file(lpath, fx.dir, "recv", 300, 4096, fx.err);
	truncate(path, tu_size(lpath) - 30);
	rc = storage_snapshot_install(st, "recv", 300, 3, fx.err,
	    sizeof(fx.err));
	ok(t, rc == -EBADMSG && tu_size(path) < 0, "a truncated file: "
	    "-EBADMSG, deleted: %s", fx.err);
	receive_file(lpath, fx.dir, "recv", 310, 4096, fx.err);
	snap_file(path, sizeof(path), fx.dir, 310, "recv");
	rc = storage_snapshot_install(st, "recv", 310, 3, fx.err,
	    sizeof(fx.err));
	ok(t, rc == -EBADMSG && tu_size(path) < 0 && strstr(fx.err,
	    "expected index 310") != NULL, "a file of another index: "
	    "-EBADMSG: %s", fx.err);
	receive_file(lpath, fx.dir, "recv", 300, 4096, fx.err);
	snap_file(path, sizeof(path), fx.dir, 300, "recv");
	rc = storage_snapshot_install(st, "recv", 300, 4, fx.err,
	    sizeof(fx.err));
	ok(t, rc == -EBADMSG && tu_size(path) < 0, "a file of another term: "
	    "-EBADMSG: %s", fx.err);
	is_int(t, storage_snapshot_install(st, "recv", 300, 3, fx.err,
	    sizeof(fx.err)), -ENOENT, "installing a missing file: -ENOENT");
	storage_snapshot_get_info(st, &info);
	ok(t, info.index == 200 && storage_get_state(st) == STORAGE_OK,
	    "after the bad files: still snapshot 200, storage OK");

	/* file_verify and file_read on damaged files. */
	flip = (uint8_t)(tu_peek(lpath, 20) ^ 1);
	tu_poke(lpath, 20, &flip, 1);
	rc = storage_snapshot_file_verify(lpath, &m, fx.err, sizeof(fx.err));
	ok(t, rc == -EBADMSG && strstr(fx.err, "offset 40") != NULL,
	    "file_verify: a flipped header bit: %s", fx.err);
	tu_poke(lpath, 20, (uint8_t[]){ (uint8_t)(flip ^ 1) }, 1);
	flip = (uint8_t)(tu_peek(lpath, 8000) ^ 0x80);
	tu_poke(lpath, 8000, &flip, 1);
	rc = storage_snapshot_file_verify(lpath, &m, fx.err, sizeof(fx.err));
	ok(t, rc == -EBADMSG && strstr(fx.err, "crc32c") != NULL,
	    "file_verify: a flipped image bit: %s", fx.err);
	im->len = 0;
	rc = storage_snapshot_file_read(lpath, image_cb, im, fx.err,
	    sizeof(fx.err));
	ok(t, rc == -EBADMSG && im->len == 9000, "file_read: streams it all, "
	    "then -EBADMSG: %s", fx.err);
	truncate(lpath, 48 + 3 + 100);
	rc = storage_snapshot_file_verify(lpath, &m, fx.err, sizeof(fx.err));
	ok(t, rc == -EBADMSG, "file_verify: truncated: %s", fx.err);
	rc = storage_snapshot_file_read(lpath, image_cb, im, fx.err,
	    sizeof(fx.err));
	is_int(t, rc, -EBADMSG, "file_read: truncated: %s", fx.err);
	truncate(lpath, 10);
	rc = storage_snapshot_file_verify(lpath, &m, fx.err, sizeof(fx.err));
	ok(t, rc == -EBADMSG && strstr(fx.err, "offset 0") != NULL,
	    "file_verify: 10 bytes: %s", fx.err);
	rc = storage_snapshot_file_verify("/nonexistent/snap", &m, fx.err,
	    sizeof(fx.err));
	is_int(t, rc, -ENOENT, "file_verify: missing file");

	/* Abort deletes; unfinished files are reported, then removed. */
	storage_snapshot_create(fx.dir, NULL, "build", 400, 3, NULL, 0, &w,
	    fx.err, sizeof(fx.err));
	storage_snapshot_write(w, "x", 1, fx.err, sizeof(fx.err));
	snap_file(path, sizeof(path), fx.dir, 400, "build");
	ok(t, tu_size(path) == 49, "an unfinished file is there");
	storage_snapshot_abort(w);
	ok(t, tu_size(path) < 0, "abort deleted it");
	storage_snapshot_create(fx.dir, NULL, "build", 400, 3, NULL, 0, &w,
	    fx.err, sizeof(fx.err));
	storage_snapshot_write(w, "x", 1, fx.err, sizeof(fx.err));
	/* A crash: the writer is lost with its file. */
	make_snapshot_file(fx.dir, "recv", 500, 3, 10, NULL, fx.err);
	storage_close(st);
	rf = open_memstream(&report, &report_len);
	rc = storage_check(fx.dir, false, rf, NULL, fx.err, sizeof(fx.err));
	fclose(rf);
	ok(t, rc == 0 && strstr(report, ".build.tmp: unfinished") != NULL &&
	    strstr(report, ".recv.tmp: unfinished") != NULL, "check reports "
	    "both .tmp files and no problem");
	free(report);
	rc = fx_open(&fx, NULL, SEGSZ, 0, &st);
	ok(t, rc == 0 && tu_count(fx.dir, "snapshot-") == 1 &&
	    fx_logged(&fx, ".build.tmp: removing") && fx_logged(&fx,
	    ".recv.tmp: removing"), "open removes (and logs) every "
	    "snapshot-*.tmp");
	storage_snapshot_get_info(st, &info);
	rc = storage_load(st, &l, fx.err, sizeof(fx.err));
	ok(t, rc == 0 && info.index == 200 && l.snapshot_index == 200 &&
	    l.n_entries == 0 && storage_last_index(st) == 200,
	    "reopen: snapshot 200 (ahead of the log 1..100, which is "
	    "discarded), get_info agrees");
	storage_loaded_free(&l);
	storage_snapshot_abort(w);	/* only frees: the file is gone */
	storage_close(st);
	tu_rmtree(leader);
	free(im);
	fx_done(&fx);
}

/* Loads fx's directory and checks snapshot, entries from..to and last. */
static bool
load_expect(struct fixture *fx, struct storage *st, uint64_t snap,
    uint64_t from, uint64_t to, uint64_t term)
{
	struct storage_loaded	 l;
	bool			 good;
	size_t			 i;

	if (storage_load(st, &l, fx->err, sizeof(fx->err)) != 0) {
		diag("load: %s", fx->err);
		return false;
	}
	good = l.snapshot_index == snap && l.n_entries == (size_t)(to + 1 -
	    from) && storage_last_index(st) == (to >= from ? to : snap);
	for (i = 0; good && i < l.n_entries; i++)
		good = tu_entry_ok(&l.entries[i], from + i, 100) &&
		    l.entries[i].term == term;
	if (!good)
		diag("loaded snapshot %" PRIu64 ", %zu entries from %" PRIu64
		    ", last %" PRIu64, l.snapshot_index, l.n_entries,
		    l.n_entries ? l.entries[0].index : 0,
		    storage_last_index(st));
	storage_loaded_free(&l);
	return good;
}

/*
 * The snapshot rule at open: a crash after installing a leader's snapshot
 * and before storage_reset() leaves a log that ends before the snapshot,
 * or holds its index with another term: discarded.  The same term keeps
 * the entries after it.
 */
static void
test_snapshot_rule(struct tap *t)
{
	static const struct {
		const char	*what;
		uint64_t	 index, term;
		bool		 discard;
		const char	*logged;
	} cases[] = {
		{ "log ends before the snapshot", 500, 3, true,
		    "ends before snapshot 500" },
		{ "log holds the index with another term", 80, 3, true,
		    "holds index 80 with term 2, but snapshot 80 has term 3" },
		{ "log holds the index with the same term", 80, 2, false,
		    NULL },
	};
	struct fixture	 fx;
	struct storage	*st;
	char		*report;
	size_t		 report_len, i;
	FILE		*rf;
	int		 rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fx_init(&fx, "srule");
		fx_open(&fx, NULL, SEGSZ, 0, &st);
		append_range(st, 1, 100, 2, 100, 0, fx.err);
		make_snapshot_file(fx.dir, "recv", cases[i].index,
		    cases[i].term, 100, NULL, fx.err);
		rc = storage_snapshot_install(st, "recv", cases[i].index,
		    cases[i].term, fx.err, sizeof(fx.err));
		storage_close(st);	/* the crash: no storage_reset() */
		is_int(t, rc, 0, "%s: installed %" PRIu64 " (%s)",
		    cases[i].what, cases[i].index, fx.err);
		report = NULL;
		report_len = 0;
		rf = open_memstream(&report, &report_len);
		rc = storage_check(fx.dir, false, rf, NULL, fx.err,
		    sizeof(fx.err));
		fclose(rf);
		ok(t, rc == 0 && (strstr(report, "discarded at next start") !=
		    NULL) == cases[i].discard, "%s: check agrees, no problem",
		    cases[i].what);
		if (rc != 0 || (strstr(report, "discarded at next start") !=
		    NULL) != cases[i].discard)
			diag_lines("report", report);
		free(report);
		rc = fx_open(&fx, NULL, SEGSZ, 0, &st);
		is_int(t, rc, 0, "%s: opens (%s)", cases[i].what,
		    rc != 0 ? fx.err : "ok");
		if (rc != 0) {
			fx_done(&fx);
			continue;
		}
		if (cases[i].discard) {
			ok(t, fx_logged(&fx, cases[i].logged) && fx_logged(&fx,
			    "discarding the whole log"), "%s: warned, naming "
			    "the snapshot and what was dropped",
			    cases[i].what);
			ok(t, load_expect(&fx, st, cases[i].index, 1, 0, 0) &&
			    tu_count(fx.dir, "0000") == 0, "%s: snapshot %"
			    PRIu64 " and no entries; no segment left",
			    cases[i].what, cases[i].index);
			rc = append_range(st, cases[i].index + 1,
			    cases[i].index + 5, 3, 100, 0, fx.err);
			is_int(t, rc, 0, "%s: the next append is %" PRIu64,
			    cases[i].what, cases[i].index + 1);
			storage_close(st);
			fx_open(&fx, NULL, SEGSZ, 0, &st);
			ok(t, load_expect(&fx, st, cases[i].index,
			    cases[i].index + 1, cases[i].index + 5, 3),
			    "%s: reopen: the discard was durable",
			    cases[i].what);
		} else {
			ok(t, !fx_logged(&fx, "discarding") &&
			    load_expect(&fx, st, 80, 81, 100, 2), "%s: entries "
			    "81..100 kept", cases[i].what);
		}
		storage_close(st);
		fx_done(&fx);
	}
}

/*
 * Compaction recycles covered segment files (at most two spares), and the
 * helper reuses them without a zero-fill.
 */
static void
test_recycle(struct tap *t)
{
	struct fixture	 fx;
	struct storage	*st;
	int		 closed, rc, fds0;

	fds0 = tu_count("/proc/self/fd", "");
	fx_init(&fx, "recyc");
	fx_open(&fx, NULL, SEGSZ, 0, &st);
	append_range(st, 1, 400, 2, 100, 0, fx.err);
	write_snapshot(st, 350, 100, true, fx.err);
	closed = tu_count(fx.dir, "0000");
	rc = storage_compact(st, 350, fx.err, sizeof(fx.err));
	ok(t, rc == 0 && tu_count(fx.dir, "spare-") == 2 &&
	    tu_count(fx.dir, "0000") < closed - 2, "compaction kept 2 spares "
	    "and deleted the rest (%d closed segments before, %d after): "
	    "the names are gone on return, the blocks freed by the helper",
	    closed, tu_count(fx.dir, "0000"));
	rc = append_range(st, 401, 600, 2, 100, 0, fx.err);
	ok(t, rc == 0 && prep_recycled(st) == 2 && tu_count(fx.dir,
	    "spare-") == 0, "appending reused both (%" PRIu64 ")",
	    prep_recycled(st));
	storage_close(st);
	fx_open(&fx, NULL, SEGSZ, 0, &st);
	ok(t, load_expect(&fx, st, 350, 351, 600, 2) && !fx_logged(&fx,
	    "torn tail"), "reopen: 351..600 after snapshot 350, no torn tail "
	    "reported");
	storage_close(st);
	fx_done(&fx);
	is_int(t, tu_count("/proc/self/fd", ""), fds0, "every descriptor of "
	    "a deleted file was closed (deferred closes drained at close)");
}

/* Places a closed segment of entries 1..SEGN, term 9, as dir/spare-7. */
static int
place_old_segment(const char *dir)
{
	struct fixture	 old;
	struct storage	*st;
	char		 seg[600], to[600], prefix[32];
	int		 rc;

	fx_init(&old, "rstale-old");
	fx_open(&old, NULL, SEGSZ, 0, &st);
	rc = append_range(st, 1, SEGN + 1, 9, 100, 0, old.err);
	storage_close(st);
	snprintf(prefix, sizeof(prefix), "%020d-", 1);
	snprintf(to, sizeof(to), "%s/spare-7", dir);
	if (rc == 0 && (rc = tu_find(old.dir, prefix, seg, sizeof(seg))) == 0)
		rc = rename(seg, to);
	fx_done(&old);
	return rc;
}

/* Waits (up to 2 s) until the helper has taken every spare of fx. */
static bool
spares_taken(struct fixture *fx)
{
	int	 i;

	for (i = 0; i < 200 && tu_count(fx->dir, "spare-") > 0; i++)
		usleep(10 * 1000);
	return tu_count(fx->dir, "spare-") == 0;
}

/*
 * A recycled segment full of old records that look valid (the same
 * indices, at the same offsets, term 9) under the old epoch: never taken
 * for records of the new segment, at the end of its records or at the
 * torn tail's probe, even with a small unsynced window.
 */
static void
test_recycle_stale(struct tap *t)
{
	struct fixture	 fx, crashed;
	struct storage	*st;
	char		 path[512];
	uint8_t		 flip;
	long long	 off;
	int		 rc;

	fx_init(&fx, "rstale");
	fx_open(&fx, NULL, SEGSZ, 0, &st);
	storage_close(st);
	is_int(t, place_old_segment(fx.dir), 0, "a closed segment of "
	    "entries 1..%d, term 9, placed as spare-7", SEGN);

	/* A prepared, never used recycled file left at close. */
	fx_open(&fx, NULL, SEGSZ, 0, &st);
	ok(t, spares_taken(&fx), "the helper turned it into open-N");
	storage_close(st);
	rc = fx_open(&fx, NULL, SEGSZ, 1024, &st);
	ok(t, rc == 0 && load_expect(&fx, st, 0, 1, 0, 0) && fx_logged(&fx,
	    "segment header never written"), "reopen with the unused "
	    "recycled open-N: an empty log, the file removed (%s)",
	    rc != 0 ? fx.err : "ok");
	storage_close(st);

	/* Now used: entries 1..10 of term 1 written over it. */
	place_old_segment(fx.dir);
	fx_open(&fx, NULL, SEGSZ, 1024, &st);
	spares_taken(&fx);
	rc = append_range(st, 1, 10, 1, 100, 0, fx.err);
	ok(t, rc == 0 && prep_recycled(st) == 1, "entries 1..10 written "
	    "into the recycled file (%s)", fx.err);
	storage_close(st);
	fx_init(&crashed, "rstale-crash");
	tu_copy_dir(fx.dir, crashed.dir);
	is_int(t, fx_open(&fx, NULL, SEGSZ, 1024, &st), 0, "reopen with a "
	    "1 KiB window (%s)", fx.err);
	ok(t, load_expect(&fx, st, 0, 1, 10, 1) && fx_logged(&fx,
	    "recycled file's old records") && !fx_logged(&fx, "torn tail"),
	    "loads 1..10 of term 1, none of the old records 11..%d; no torn "
	    "tail reported", SEGN);
	storage_close(st);

	/* A crash mid-way: record 6 torn, valid new and old ones after it. */
	open_segment(&crashed, path, sizeof(path));
	off = SEG_HEADER_SIZE + 5 * (long long)REC_SIZE(100) + 60;
	flip = (uint8_t)(tu_peek(path, off) ^ 1);
	tu_poke(path, off, &flip, 1);
	is_int(t, fx_open(&crashed, NULL, SEGSZ, 1024, &st), 0, "crashed "
	    "mid-way: opens (%s)", crashed.err);
	ok(t, load_expect(&crashed, st, 0, 1, 5, 1) && fx_logged(&crashed,
	    "torn tail"), "keeps 1..5: the torn record and everything after "
	    "it, old records included, dropped");
	storage_close(st);
	fx_done(&crashed);
	fx_done(&fx);
}

/* Returns the path of the only open segment with data. */
static void
open_segment(struct fixture *fx, char *path, size_t len)
{
	if (tu_find(fx->dir, "open-", path, len) != 0)
		path[0] = '\0';
}

/* The three torn tails: truncated mid-record, zero-filled, garbage. */
static void
test_torn_tail(struct tap *t)
{
	static const char *const kinds[] = { "truncate", "zero", "garbage" };
	struct fixture		 fx;
	struct storage		*st;
	char			 path[512];
	uint8_t			 junk[300];
	long long		 end;
	size_t			 k;
	int			 rc;

	/* Records of 100 B payload: 48 + 104 = 152 bytes. */
	for (k = 0; k < 3; k++) {
		fx_init(&fx, "torn");
		fx_open(&fx, NULL, 1 << 20, 0, &st);
		append_range(st, 1, 10, 1, 100, 0, fx.err);
		storage_close(st);
		open_segment(&fx, path, sizeof(path));
		end = SEG_HEADER_SIZE + 10 * 152;
		memset(junk, k == 1 ? 0 : 0xa5, sizeof(junk));
		if (k == 0)
			rc = truncate(path, end - 70);
		else if (k == 1)
			rc = tu_poke(path, end - 152, junk, 64);
		else
			rc = tu_poke(path, end, junk, sizeof(junk));
		ok(t, rc == 0, "%s: damaged %s", kinds[k], path);
		ok(t, reopen_expect(&fx, 1, k == 2 ? 10 : 9, 100, NULL),
		    "%s: reopen keeps the valid prefix", kinds[k]);
		ok(t, fx_logged(&fx, "torn tail"), "%s: the drop is logged",
		    kinds[k]);
		fx_done(&fx);
	}
}

/* An invalid record followed, beyond the window, by valid ones. */
static void
test_mid_corruption_open(struct tap *t)
{
	struct fixture		 fx;
	struct storage		*st;
	char			 path[512];
	uint8_t			 flip;
	int			 rc;

	fx_init(&fx, "midopen");
	fx_open(&fx, NULL, 1 << 20, 4096, &st);
	append_range(st, 1, 100, 1, 100, 0, fx.err);
	storage_close(st);
	open_segment(&fx, path, sizeof(path));
	flip = (uint8_t)(tu_peek(path, SEG_HEADER_SIZE + 5 * 152 + 60) ^ 4);
	tu_poke(path, SEG_HEADER_SIZE + 5 * 152 + 60, &flip, 1);
	{
		struct storage_options o;

		storage_options_init(&o);
		o.cluster_id = CLUSTER;
		o.node_id = NODE;
		o.max_unsynced_bytes = 4096;
		o.log = &fx.lg;
		rc = storage_open(fx.dir, &o, &st, fx.err, sizeof(fx.err));
	}
	is_int(t, rc, -EBADMSG, "bad record far before valid ones: corruption");
	ok(t, strstr(fx.err, "open-") && strstr(fx.err, "offset 800") &&
	    strstr(fx.err, "expected record crc32c"), "precise error: %s",
	    fx.err);
	fx_done(&fx);
}

/* A bit flip in a closed segment stops startup; check reports; repair cuts. */
static void
test_closed_corruption(struct tap *t)
{
	struct fixture		 fx;
	struct storage		*st;
	char			 path[512], report[8192];
	FILE			*rep;
	uint8_t			 flip;
	size_t			 n;
	int			 rc;

	fx_init(&fx, "closed");
	fx_open(&fx, NULL, SEGSZ, 0, &st);
	append_range(st, 1, 200, 1, 100, 0, fx.err);
	storage_close(st);
	snprintf(path, sizeof(path), "%s/%020d-%020d", fx.dir, SEGN + 1,
	    2 * SEGN);
	flip = (uint8_t)(tu_peek(path, SEG_HEADER_SIZE + 3 * 152 + 100) ^ 0x80);
	tu_poke(path, SEG_HEADER_SIZE + 3 * 152 + 100, &flip, 1);
	rc = fx_open(&fx, NULL, SEGSZ, 0, &st);
	is_int(t, rc, -EBADMSG, "bit flip in a closed segment: refused");
	ok(t, strstr(fx.err, "00000000000000000054-00000000000000000106") &&
	    strstr(fx.err, "offset 496") && strstr(fx.err, "crc32c"),
	    "error names file, offset, expectation: %s", fx.err);
	rep = fmemopen(report, sizeof(report), "w");
	rc = storage_check(fx.dir, false, rep, NULL, fx.err, sizeof(fx.err));
	n = (size_t)ftell(rep);
	fclose(rep);
	report[n < sizeof(report) ? n : sizeof(report) - 1] = '\0';
	is_int(t, rc, -EBADMSG, "check finds the problem");
	ok(t, strstr(report, "CORRUPT") && strstr(report, "--repair") &&
	    strstr(report, "hard state: none"), "check report is useful");
	diag_lines("check report", report);
	is_int(t, fx_open(&fx, NULL, SEGSZ, 0, &st), -EBADMSG,
	    "check without --repair changed nothing");
	rep = fmemopen(report, sizeof(report), "w");
	rc = storage_check(fx.dir, true, rep, NULL, fx.err, sizeof(fx.err));
	n = (size_t)ftell(rep);
	fclose(rep);
	report[n < sizeof(report) ? n : sizeof(report) - 1] = '\0';
	is_int(t, rc, 0, "repair succeeds");
	ok(t, strstr(report, "repair: copied") && strstr(report, "repaired"),
	    "repair keeps copies");
	diag_lines("repair report", report);
	ok(t, tu_count(fx.dir, "repair-") == 1, "backup directory exists");
	ok(t, reopen_expect(&fx, 1, SEGN + 3, 100, NULL),
	    "after repair: entries before the corruption");
	fx_done(&fx);
}

/* A gap between closed segments is corruption. */
static void
test_gap(struct tap *t)
{
	struct fixture		 fx;
	struct storage		*st;
	char			 path[512];

	fx_init(&fx, "gap");
	fx_open(&fx, NULL, SEGSZ, 0, &st);
	append_range(st, 1, 200, 1, 100, 0, fx.err);
	storage_close(st);
	snprintf(path, sizeof(path), "%s/%020d-%020d", fx.dir, SEGN + 1,
	    2 * SEGN);
	unlink(path);
	is_int(t, fx_open(&fx, NULL, SEGSZ, 0, &st), -EBADMSG,
	    "a missing middle segment is refused");
	ok(t, strstr(fx.err, "gap") && strstr(fx.err, "first index 54"),
	    "gap error: %s", fx.err);
	fx_done(&fx);
}

/* A segment's closing rename that was lost: it is still open-N. */
static void
test_lost_rename(struct tap *t)
{
	struct fixture		 fx;
	struct storage		*st;
	char			 path[512], to[512];

	fx_init(&fx, "rename");
	fx_open(&fx, NULL, SEGSZ, 0, &st);
	append_range(st, 1, 120, 1, 100, 0, fx.err);
	storage_close(st);
	/* Make the last closed segment open again, as if never renamed. */
	snprintf(path, sizeof(path), "%s/%020d-%020d", fx.dir, SEGN + 1,
	    2 * SEGN);
	snprintf(to, sizeof(to), "%s/open-0", fx.dir);
	ok(t, rename(path, to) == 0, "segment 54-106 back to open-0");
	ok(t, reopen_expect(&fx, 1, 120, 100, NULL), "reopen: all entries");
	ok(t, tu_size(path) > 0, "recovery closed it under its range name");
	fx_done(&fx);
}

/* ENOSPC and EIO fail the storage for good; a restart recovers. */
static void
test_write_errors(struct tap *t)
{
	struct fixture		 fx;
	struct storage		*st;
	struct vfs		*v;
	struct raft_hard_state	 hs = { 3, 1, 0 };
	const char		*msg;
	uint64_t		 i, durable = 0;
	int			 rc = 0;

	fx_init(&fx, "nospc");
	vfs_from_spec("fault:enospc-after-bytes=100000", &v, fx.err,
	    sizeof(fx.err));
	fx_open(&fx, v, 32768, 0, &st);
	for (i = 1; i < 2000 && rc == 0; i++)
		if ((rc = append_range(st, i, i, 1, 500, 0, fx.err)) == 0)
			durable = i;
	is_int(t, rc, -ENOSPC, "out of space reported (after %" PRIu64
	    " entries): %s", durable, fx.err);
	is_int(t, storage_get_state(st), STORAGE_FAILED, "state is FAILED");
	is_int(t, storage_sync(st, fx.err, sizeof(fx.err)), -ENOSPC,
	    "a later sync fails with the original error");
	is_int(t, storage_save_hard_state(st, &hs, fx.err, sizeof(fx.err)),
	    -ENOSPC, "a later hard-state write fails too");
	rc = storage_error(st, &msg);
	ok(t, rc == -ENOSPC && strstr(msg, "No space"), "storage_error: %s",
	    msg);
	storage_close(st);
	vfs_free(v);
	ok(t, reopen_expect(&fx, 1, durable, 500, NULL) ||
	    reopen_expect(&fx, 1, durable + 1, 500, NULL),
	    "restart with space: every durable entry is there");
	fx_done(&fx);

	fx_init(&fx, "eio");
	vfs_from_spec("fault:eio-on-sync=12", &v, fx.err, sizeof(fx.err));
	fx_open(&fx, v, 1 << 20, 0, &st);
	durable = 0;
	rc = 0;
	for (i = 1; i < 50 && rc == 0; i++)
		if ((rc = append_range(st, i, i, 1, 50, 0, fx.err)) == 0)
			durable = i;
	is_int(t, rc, -EIO, "fsync EIO reported after %" PRIu64 " entries",
	    durable);
	rc = append_range(st, i, i, 1, 50, 0, fx.err);
	is_int(t, rc, -EIO, "no write is trusted after a failed fsync, even "
	    "though the next fsync would succeed");
	storage_close(st);
	vfs_free(v);
	ok(t, reopen_expect(&fx, 1, durable, 50, NULL) ||
	    reopen_expect(&fx, 1, durable + 1, 50, NULL), "restart recovers");
	fx_done(&fx);
}

/* A shadow vfs over a fresh directory, for the shadow's own tests. */
struct shadow_fx {
	char		 base[256], real[300], shadow[300];
	struct vfs	*v;
};

/* Sets up fx (real/ and its shadow under a new directory); 0 or -1. */
static int
shadow_fx_init(struct tap *t, struct shadow_fx *fx, const char *tag)
{
	char	 spec[320], err[256];

	tu_mkdtemp(fx->base, sizeof(fx->base), tag);
	snprintf(fx->real, sizeof(fx->real), "%s/real", fx->base);
	snprintf(fx->shadow, sizeof(fx->shadow), "%s/shadow", fx->base);
	mkdir(fx->real, 0755);
	snprintf(spec, sizeof(spec), "shadow:%s", fx->shadow);
	if (vfs_from_spec(spec, &fx->v, err, sizeof(err)) != 0) {
		ok(t, 0, "shadow vfs: %s", err);
		return -1;
	}
	vfs_bind(fx->v, fx->real);
	return 0;
}

/* Frees fx's vfs and removes its directories. */
static void
shadow_fx_done(struct shadow_fx *fx)
{
	char	 p[320];

	vfs_free(fx->v);
	tu_rmtree(fx->base);
	tu_rmtree(fx->shadow);
	snprintf(p, sizeof(p), "%s.inodes", fx->shadow);
	tu_rmtree(p);
}

/*
 * A file another process writes (the daemon's forked child writes its
 * snapshot with plain POSIX calls), seen by a directory sync of the
 * shadow vfs while half written, then finished, then opened and synced
 * through the vfs, must be published whole.  Found by the fault suite: the
 * shadow published the half it saw at the directory sync and nothing
 * after, and a power loss left the snapshot without its trailer.
 */
static void
test_shadow_foreign_writer(struct tap *t)
{
	struct shadow_fx fx;
	char		 f[400], sf[400], buf[4096];
	int		 fd, pfd;

	if (shadow_fx_init(t, &fx, "shforeign") != 0)
		return;
	memset(buf, 'x', sizeof(buf));
	snprintf(f, sizeof(f), "%s/snap.tmp", fx.real);
	snprintf(sf, sizeof(sf), "%s/snap.tmp", fx.shadow);
	/* The other process writes the first half and syncs it. */
	pfd = open(f, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	ok(t, pfd >= 0 && write(pfd, buf, 2048) == 2048 && fdatasync(pfd) == 0,
	    "a foreign writer's first half");
	/* Meanwhile this process syncs the directory (it adopts the file). */
	vfs_fsync_dir(fx.v, fx.real);
	/* The other process finishes the file. */
	ok(t, pwrite(pfd, buf, sizeof(buf), 2048) == (ssize_t)sizeof(buf) &&
	    fdatasync(pfd) == 0, "and the rest");
	close(pfd);
	/* This process opens it for writing and syncs it: all durable. */
	fd = vfs_open(fx.v, f, O_RDWR, 0);
	vfs_fdatasync(fx.v, fd);
	vfs_close(fx.v, fd);
	vfs_fsync_dir(fx.v, fx.real);
	is_int(t, tu_size(sf), 2048 + (long long)sizeof(buf), "the shadow "
	    "holds the whole file after this process's sync");
	shadow_fx_done(&fx);
}

/*
 * A file written outside the shadow vfs (the daemon's forked child writes
 * its snapshot with plain POSIX calls) that reuses the inode number of a
 * file the vfs tracked and deleted must be published whole, with its own
 * bytes, at its first sync through the vfs.  Found by the fault suite:
 * after a power loss the snapshot file held an older, deleted snapshot's
 * bytes and zeros where its trailer should be.
 */
/* Renames one file back and forth until told to stop. */
struct shadow_renamer {
	struct vfs	*v;
	char		 a[400], b[400];
	volatile int	 stop;
	int		 errors;
};

static void *
shadow_renamer_run(void *arg)
{
	struct shadow_renamer *r = arg;
	int	 i;

	for (i = 0; i < 200000 && !r->stop; i++) {
		if (vfs_rename(r->v, (i & 1) ? r->b : r->a,
		    (i & 1) ? r->a : r->b) != 0)
			r->errors++;
	}
	return NULL;
}

/*
 * A directory sync while another thread renames a file in that directory
 * (the storage's helper prepares segments while the loop thread renames
 * one) must keep the file under its old name or its new one, as a
 * journaled filesystem does.  Found by crash-storage (a segment renamed
 * by a truncation was in neither generation of the shadow): the shadow
 * read the real directory with readdir() while renames went on unlocked,
 * and readdir() may skip an entry renamed under it.
 */
static void
test_shadow_rename_race(struct tap *t)
{
	struct shadow_fx fx;
	struct shadow_renamer r;
	pthread_t	 th;
	char		 sa[420], sb[420], buf[420];
	struct stat	 st;
	int		 fd, i, missing = 0, syncs = 0;

	if (shadow_fx_init(t, &fx, "shrename") != 0)
		return;
	memset(&r, 0, sizeof(r));
	r.v = fx.v;
	snprintf(r.a, sizeof(r.a), "%s/seg-a", fx.real);
	snprintf(r.b, sizeof(r.b), "%s/seg-b", fx.real);
	snprintf(sa, sizeof(sa), "%s/seg-a", fx.shadow);
	snprintf(sb, sizeof(sb), "%s/seg-b", fx.shadow);
	/* Other entries around it, as in a data directory. */
	for (i = 0; i < 40; i++) {
		snprintf(buf, sizeof(buf), "%s/other-%02d", fx.real, i);
		if ((fd = vfs_open(fx.v, buf, O_CREAT | O_RDWR, 0644)) >= 0)
			vfs_close(fx.v, fd);
	}
	fd = vfs_open(fx.v, r.a, O_CREAT | O_RDWR, 0644);
	ok(t, fd >= 0 && vfs_pwrite_all(fx.v, fd, "durable", 7, 0) == 0 &&
	    vfs_fsync(fx.v, fd) == 0 && vfs_fsync_dir(fx.v, fx.real) == 0,
	    "shadow rename race: a durable file");
	if (fd >= 0)
		vfs_close(fx.v, fd);
	if (pthread_create(&th, NULL, shadow_renamer_run, &r) != 0) {
		ok(t, 0, "shadow rename race: thread");
		shadow_fx_done(&fx);
		return;
	}
	for (i = 0; i < 300; i++) {
		if (vfs_fsync_dir(fx.v, fx.real) != 0)
			break;
		syncs++;
		if (stat(sa, &st) != 0 && stat(sb, &st) != 0)
			missing++;
	}
	r.stop = 1;
	pthread_join(th, NULL);
	is_int(t, syncs, 300, "shadow rename race: 300 directory syncs");
	is_int(t, r.errors, 0, "shadow rename race: every rename worked");
	is_int(t, missing, 0, "shadow rename race: the file is under one of "
	    "its names after every directory sync (missing %d times)",
	    missing);
	shadow_fx_done(&fx);
}

static void
test_shadow_reused_inode(struct tap *t)
{
	struct shadow_fx fx;
	char		 a[400], b[420], sb_path[420];
	char		 old[4096], buf[4096], back[4096];
	struct vfs	*v;
	struct stat	 st;
	ino_t		 ino;
	int		 fd, i, got = 0;

	if (shadow_fx_init(t, &fx, "shreuse") != 0)
		return;
	v = fx.v;
	memset(old, 'o', sizeof(old));
	memset(buf, 'n', sizeof(buf));
	for (i = 0; i < 50 && !got; i++) {
		/* A tracked file, synced, renamed, then deleted. */
		snprintf(a, sizeof(a), "%s/a%d", fx.real, i);
		fd = vfs_open(v, a, O_RDWR | O_CREAT, 0644);
		vfs_pwrite_all(v, fd, old, sizeof(old), 0);
		vfs_fdatasync(v, fd);
		fstat(fd, &st);
		ino = st.st_ino;
		vfs_close(v, fd);
		vfs_fsync_dir(v, fx.real);
		vfs_unlink(v, a);
		vfs_fsync_dir(v, fx.real);
		/* Another one made with plain POSIX calls. */
		snprintf(b, sizeof(b), "%s/b%d", fx.real, i);
		fd = open(b, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, buf, sizeof(buf)) !=
		    (ssize_t)sizeof(buf) || fstat(fd, &st) != 0) {
			if (fd >= 0)
				close(fd);
			break;
		}
		close(fd);
		if (st.st_ino != ino) {
			unlink(b);
			continue;
		}
		got = 1;
		/* Opened and synced through the vfs: all of it is durable. */
		fd = vfs_open(v, b, O_RDWR, 0);
		vfs_fdatasync(v, fd);
		vfs_close(v, fd);
		vfs_fsync_dir(v, fx.real);
		snprintf(sb_path, sizeof(sb_path), "%s/b%d", fx.shadow, i);
		memset(back, 0, sizeof(back));
		fd = open(sb_path, O_RDONLY | O_CLOEXEC);
		ok(t, fd >= 0 && read(fd, back, sizeof(back)) ==
		    (ssize_t)sizeof(back) && memcmp(back, buf, sizeof(buf)) == 0,
		    "a POSIX-written file reusing a tracked inode number (%ju) "
		    "is published with its own bytes", (uintmax_t)ino);
		if (fd >= 0)
			close(fd);
	}
	if (!got)
		diag("the filesystem never reused an inode number in 50 tries: "
		    "the reuse case was not reached");
	shadow_fx_done(&fx);
}

/* The shadow vfs keeps only what was synced. */
static void
test_shadow_vfs(struct tap *t)
{
	char		 base[256], real[300], shadow[300], p[400], sp[400];
	char		 p2[400], sp2[400], err[256];
	struct vfs	*v;
	int		 fd;

	tu_mkdtemp(base, sizeof(base), "shadow");
	snprintf(real, sizeof(real), "%s/real", base);
	snprintf(shadow, sizeof(shadow), "%s/shadow", base);
	mkdir(real, 0755);
	is_int(t, vfs_from_spec("bogus:x", &v, err, sizeof(err)), -EINVAL,
	    "unknown vfs spec refused");
	snprintf(p, sizeof(p), "shadow:%s", shadow);
	is_int(t, vfs_from_spec(p, &v, err, sizeof(err)), 0, "shadow vfs");
	vfs_bind(v, real);
	snprintf(p, sizeof(p), "%s/f", real);
	snprintf(sp, sizeof(sp), "%s/f", shadow);
	fd = vfs_open(v, p, O_RDWR | O_CREAT, 0644);
	vfs_pwrite_all(v, fd, "hello", 5, 0);
	ok(t, tu_size(sp) < 0, "unsynced new file absent from the shadow");
	vfs_fdatasync(v, fd);
	ok(t, tu_size(sp) < 0, "synced data but unsynced directory: absent");
	vfs_fsync_dir(v, real);
	is_int(t, tu_size(sp), 5, "after the directory sync: present");
	vfs_pwrite_all(v, fd, " world", 6, 5);
	is_int(t, tu_size(sp), 5, "unsynced append not in the shadow");
	vfs_fdatasync(v, fd);
	is_int(t, tu_size(sp), 11, "synced append in the shadow");
	snprintf(p2, sizeof(p2), "%s/g", real);
	snprintf(sp2, sizeof(sp2), "%s/g", shadow);
	vfs_rename(v, p, p2);
	ok(t, tu_size(sp) == 11 && tu_size(sp2) < 0, "rename not yet durable");
	vfs_fsync_dir(v, real);
	ok(t, tu_size(sp) < 0 && tu_size(sp2) == 11, "rename durable");
	vfs_ftruncate(v, fd, 2);
	vfs_fsync(v, fd);
	is_int(t, tu_size(sp2), 2, "truncation follows the sync");
	vfs_close(v, fd);
	vfs_unlink(v, p2);
	ok(t, tu_size(sp2) == 2, "unlink not yet durable");
	vfs_fsync_dir(v, real);
	ok(t, tu_size(sp2) < 0, "unlink durable");
	vfs_free(v);
	tu_rmtree(base);
	tu_rmtree(shadow);
	snprintf(p, sizeof(p), "%s.inodes", shadow);
	tu_rmtree(p);
}

/*
 * Power loss right after a truncation at a segment boundary: the dropped
 * segment's unlink must be durable before the new entries are, or the old
 * segment comes back beside the new one.  (Catches a missing directory
 * fsync that the random crash test rarely reaches.)
 */
static void
test_boundary_truncation_power_loss(struct tap *t)
{
	struct fixture		 fx;
	struct storage		*st;
	struct storage_loaded	 l;
	struct vfs		*v;
	char			 shadow[300], spec[320];
	int			 rc;

	fx_init(&fx, "boundary");
	snprintf(shadow, sizeof(shadow), "%.250s-shadow", fx.dir);
	snprintf(spec, sizeof(spec), "shadow:%s", shadow);
	vfs_from_spec(spec, &v, fx.err, sizeof(fx.err));
	fx_open(&fx, v, SEGSZ, 0, &st);
	/* 1..53 fill segment 1; 54..90 pass half of the next one. */
	rc = append_range(st, 1, 90, 1, 100, 0, fx.err);
	/*
	 * Let the helper prepare (and fsync the directory for) the next
	 * segment before the cut, so only the cut's own sync covers it.
	 */
	usleep(300 * 1000);
	rc |= storage_truncate_suffix(st, SEGN, fx.err, sizeof(fx.err));
	rc |= append_range(st, SEGN + 1, SEGN + 3, 2, 100, 0, fx.err);
	is_int(t, rc, 0, "append, truncate at the boundary, append again");
	storage_close(st);	/* no sync at close: the power goes now */
	vfs_free(v);
	{
		struct storage_options o;

		storage_options_init(&o);
		o.cluster_id = CLUSTER;
		o.node_id = NODE;
		o.segment_bytes = SEGSZ;
		rc = storage_open(shadow, &o, &st, fx.err, sizeof(fx.err));
	}
	is_int(t, rc, 0, "what the power loss left opens (%s)", fx.err);
	if (rc == 0) {
		rc = storage_load(st, &l, fx.err, sizeof(fx.err));
		ok(t, rc == 0 && l.n_entries == SEGN + 3 &&
		    l.entries[SEGN].term == 2 && l.entries[SEGN + 2].term == 2,
		    "it holds 1..%d with the new term after the cut", SEGN + 3);
		storage_loaded_free(&l);
		storage_close(st);
	}
	tu_rmtree(shadow);
	snprintf(spec, sizeof(spec), "%.250s-shadow.inodes", fx.dir);
	tu_rmtree(spec);
	fx_done(&fx);
}

/* Appends entries lo..hi (term 1, len bytes each) without syncing them. */
static int
append_unsynced(struct storage *st, uint64_t lo, uint64_t hi, uint32_t len,
    char *err)
{
	struct raft_entry	*es;
	uint8_t			*bufs;
	uint64_t		 i;
	int			 rc;

	es = calloc((size_t)(hi - lo + 1), sizeof(*es));
	bufs = malloc((size_t)(hi - lo + 1) * len);
	for (i = lo; i <= hi; i++)
		tu_entry(&es[i - lo], i, 1, len, bufs + (i - lo) * len);
	rc = storage_append(st, es, (size_t)(hi - lo + 1), 0, err, 512);
	free(es);
	free(bufs);
	return rc;
}

/* How the shadow is handed over between the killed run and the next. */
enum kill_handover {
	HANDOVER_KEEP,		/* kept as the killed run left it */
	HANDOVER_KEEP_RENAME,	/* kept; the kill lost a closing rename */
	HANDOVER_COPY,		/* reset to a plain copy of the data dir */
};

/*
 * A run is SIGKILLed with unsynced records (the page cache keeps them),
 * the next run starts on the same disk, recovers (closing the open
 * segment), appends past a segment boundary and syncs; then the power
 * goes.  Everything the second run loaded and synced must survive: its
 * fsyncs flush the first run's dirty pages too, as a kernel does.
 */
static void
kill_then_power_loss(struct tap *t, enum kill_handover how, const char *what)
{
	struct fixture		 fx;
	struct storage		*st;
	struct storage_loaded	 l;
	struct storage_options	 o;
	struct vfs		*v;
	char			 shadow[300], spec[320], p[340];
	uint64_t		 last = 0, i;
	size_t			 n_loaded = 0;
	int			 rc;
	bool			 good;

	fx_init(&fx, "killpl");
	snprintf(shadow, sizeof(shadow), "%.250s-shadow", fx.dir);
	snprintf(spec, sizeof(spec), "shadow:%s", shadow);

	/* The first run; "killed": closed without a sync. */
	rc = vfs_from_spec(spec, &v, fx.err, sizeof(fx.err));
	rc |= fx_open(&fx, v, SEGSZ, 0, &st);
	if (how == HANDOVER_KEEP_RENAME) {
		rc |= append_range(st, 1, SEGN, 1, 100, 0, fx.err);
		usleep(300 * 1000);	/* the helper prepares open-1 */
		/* Closes segment 1 (renamed, directory not synced). */
		rc |= append_unsynced(st, SEGN + 1, SEGN + 2, 100, fx.err);
	} else {
		rc |= append_range(st, 1, 30, 1, 100, 0, fx.err);
		rc |= append_unsynced(st, 31, 35, 100, fx.err);
	}
	storage_close(st);
	vfs_free(v);
	is_int(t, rc, 0, "%s: first run wrote, then was killed (%s)", what,
	    fx.err);
	if (how == HANDOVER_COPY) {
		/* What tests/faults/nemesis.sh fn_reset_shadow does. */
		unlink(shadow);
		for (i = 0; i < 8; i++) {
			snprintf(p, sizeof(p), "%s.gen-%" PRIu64, shadow, i);
			tu_rmtree(p);
		}
		snprintf(p, sizeof(p), "%s.inodes", shadow);
		tu_rmtree(p);
		tu_copy_dir(fx.dir, shadow);
	}

	/* The second run: recovery, then a full segment more, synced. */
	rc = vfs_from_spec(spec, &v, fx.err, sizeof(fx.err));
	if (rc == 0)
		rc = fx_open(&fx, v, SEGSZ, 0, &st);
	if (rc == 0) {
		if ((rc = storage_load(st, &l, fx.err, sizeof(fx.err))) == 0) {
			n_loaded = l.n_entries;
			storage_loaded_free(&l);
		}
		last = storage_last_index(st);
		if (rc == 0)
			rc = append_range(st, last + 1, last + SEGN, 1, 100, 0,
			    fx.err);
		storage_close(st);
	}
	vfs_free(v);
	is_int(t, rc, 0, "%s: second run recovered %zu entries and synced "
	    "%d more (%s)", what, n_loaded, SEGN, fx.err);

	/* The power goes: the shadow is what the disk holds. */
	storage_options_init(&o);
	o.cluster_id = CLUSTER;
	o.node_id = NODE;
	o.segment_bytes = SEGSZ;
	o.log = &fx.lg;
	rc = storage_open(shadow, &o, &st, fx.err, sizeof(fx.err));
	is_int(t, rc, 0, "%s: what the power loss left opens (%s)", what,
	    fx.err);
	if (rc == 0) {
		rc = storage_load(st, &l, fx.err, sizeof(fx.err));
		good = rc == 0 && l.n_entries == last + SEGN;
		for (i = 0; good && i < l.n_entries; i++)
			good = tu_entry_ok(&l.entries[i], i + 1, 100);
		ok(t, good, "%s: it holds 1..%" PRIu64 " (loaded %zu)", what,
		    last + SEGN, rc == 0 ? l.n_entries : 0);
		if (rc == 0)
			storage_loaded_free(&l);
		storage_close(st);
	}
	tu_rmtree(shadow);
	for (i = 0; i < 64; i++) {
		snprintf(p, sizeof(p), "%s.gen-%" PRIu64, shadow, i);
		tu_rmtree(p);
	}
	snprintf(p, sizeof(p), "%s.inodes", shadow);
	tu_rmtree(p);
	fx_done(&fx);
}

/* Process kill, restart on the same disk, power loss (faults issue 7). */
static void
test_kill_then_power_loss(struct tap *t)
{
	kill_then_power_loss(t, HANDOVER_KEEP, "kept shadow");
	kill_then_power_loss(t, HANDOVER_KEEP_RENAME,
	    "kept shadow, closing rename lost");
	kill_then_power_loss(t, HANDOVER_COPY, "shadow reset to a copy");
}

/*
 * storage_snapshot_install_verified() and storage_snapshot_file_meta():
 * the cheap paths for files verified already.  They check the header,
 * sizes and trailer fields (a truncated file or a wrong index is still
 * refused) but, by design, not the image bytes.
 */
static void
test_snapshot_verified(struct tap *t)
{
	struct fixture		 fx;
	struct storage		*st;
	struct storage_snapshot_meta m, mv;
	struct storage_snapshot_info info;
	char			 path[512];
	uint64_t		 written = 0;
	int			 rc;

	fx_init(&fx, "snapv");
	fx_open(&fx, NULL, SEGSZ, 0, &st);
	append_range(st, 1, 100, 2, 100, 0, fx.err);

	rc = make_snapshot_file(fx.dir, "build", 40, 2, 9000, &written,
	    fx.err);
	snap_file(path, sizeof(path), fx.dir, 40, "build");
	memset(&m, 0, sizeof(m));
	memset(&mv, 0, sizeof(mv));
	if (rc == 0)
		rc = storage_snapshot_file_meta(path, &m, fx.err,
		    sizeof(fx.err));
	if (rc == 0)
		rc = storage_snapshot_file_verify(path, &mv, fx.err,
		    sizeof(fx.err));
	ok(t, rc == 0 && m.index == mv.index &&
	    m.term == mv.term && m.image_len == mv.image_len &&
	    m.file_size == mv.file_size && m.file_crc == mv.file_crc &&
	    m.config_len == mv.config_len && memcmp(m.config, mv.config,
	    m.config_len) == 0, "file_meta gives what file_verify gives "
	    "(crc %08x, %" PRIu64 " bytes)", m.file_crc, m.file_size);
	free(m.config);
	free(mv.config);

	is_int(t, storage_snapshot_install_verified(st, "build", 40, 3, fx.err,
	    sizeof(fx.err)), -EBADMSG, "install_verified still checks the "
	    "term in the header: %s", fx.err);
	ok(t, tu_size(path) < 0, "and deletes the refused file");

	rc = make_snapshot_file(fx.dir, "build", 40, 2, 9000, &written,
	    fx.err);
	ok(t, rc == 0 && truncate(path, tu_size(path) - 10) == 0,
	    "a finished file cut by 10 bytes");
	is_int(t, storage_snapshot_install_verified(st, "build", 40, 2, fx.err,
	    sizeof(fx.err)), -EBADMSG, "install_verified refuses a "
	    "truncated file: %s", fx.err);

	rc = make_snapshot_file(fx.dir, "build", 40, 2, 9000, &written,
	    fx.err);
	is_int(t, rc == 0 ? storage_snapshot_install_verified(st, "build", 40,
	    2, fx.err, sizeof(fx.err)) : rc, 0, "install_verified of a good "
	    "file");
	storage_snapshot_get_info(st, &info);
	ok(t, info.exists && info.index == 40 && info.term == 2 &&
	    info.file_size == 48 + 3 + 9000 + 24 && info.file_crc != 0,
	    "get_info shows it (crc %08x)", info.file_crc);
	storage_close(st);
	fx_open(&fx, NULL, SEGSZ, 0, &st);
	storage_snapshot_get_info(st, &info);
	ok(t, info.exists && info.index == 40, "a reopen loads it after a "
	    "whole-file check");
	storage_close(st);
	fx_done(&fx);
}

/* A vfs that records how many bytes reach each file between flushes. */
struct pace_rec {
	pthread_mutex_t	 lock;
	uint64_t	 pending[1024];	/* by fd: written since a flush */
	uint64_t	 max_burst;	/* largest pending seen */
	uint64_t	 writebacks;
	uint64_t	 bytes;
};

static struct pace_rec *
pace_of(struct vfs *v)
{
	return v->impl;
}

static ssize_t
pace_pwrite(struct vfs *v, int fd, const void *buf, size_t len, off_t off)
{
	struct pace_rec *r = pace_of(v);
	ssize_t	 n = vfs_posix_ops.pwrite(v, fd, buf, len, off);

	pthread_mutex_lock(&r->lock);
	if (n > 0 && fd >= 0 && fd < 1024) {
		r->pending[fd] += (uint64_t)n;
		r->bytes += (uint64_t)n;
		if (r->pending[fd] > r->max_burst)
			r->max_burst = r->pending[fd];
	}
	pthread_mutex_unlock(&r->lock);
	return n;
}

/* Any flush of fd ends its burst. */
static void
pace_flushed(struct vfs *v, int fd)
{
	struct pace_rec *r = pace_of(v);

	pthread_mutex_lock(&r->lock);
	if (fd >= 0 && fd < 1024)
		r->pending[fd] = 0;
	pthread_mutex_unlock(&r->lock);
}

static int
pace_fdatasync(struct vfs *v, int fd)
{
	pace_flushed(v, fd);
	return vfs_posix_ops.fdatasync(v, fd);
}

static int
pace_fsync(struct vfs *v, int fd)
{
	pace_flushed(v, fd);
	return vfs_posix_ops.fsync(v, fd);
}

static void
pace_writeback(struct vfs *v, int fd, off_t off, off_t len)
{
	pace_flushed(v, fd);
	pthread_mutex_lock(&pace_of(v)->lock);
	pace_of(v)->writebacks++;
	pthread_mutex_unlock(&pace_of(v)->lock);
	vfs_posix_ops.writeback(v, fd, off, len);
}

/*
 * Preparing a segment zero-fills it in steps written back one by one: no
 * more than 256 KiB reaches a file's page cache between two flushes, so
 * the disk the nodes share never gets megabytes in one burst that every
 * log fsync would queue behind.
 */
static void
test_prep_paced(struct tap *t)
{
	struct fixture	 fx;
	struct storage	*st = NULL;
	struct vfs_ops	 ops = vfs_posix_ops;
	struct pace_rec	 rec;
	struct vfs	 v;
	uint64_t	 i;
	int		 rc;

	memset(&rec, 0, sizeof(rec));
	pthread_mutex_init(&rec.lock, NULL);
	ops.name = "pace";
	ops.pwrite = pace_pwrite;
	ops.fdatasync = pace_fdatasync;
	ops.fsync = pace_fsync;
	ops.writeback = pace_writeback;
	ops.destroy = NULL;
	v.ops = &ops;
	v.impl = &rec;
	fx_init(&fx, "paced");
	rc = fx_open(&fx, &v, 4u << 20, 0, &st);
	is_int(t, rc, 0, "opened with 4 MiB segments: %s", fx.err);
	if (rc == 0) {
		for (i = 0; i < 100 && rc == 0; i++)
			rc = append_range(st, i * 100 + 1, i * 100 + 100, 1,
			    1000, 0, fx.err);
		is_int(t, rc, 0, "10 MB of entries written in 100 batches: %s",
		    fx.err);
		storage_close(st);
	}
	ok(t, rec.bytes > (12u << 20), "segments were prepared (%" PRIu64
	    " bytes written)", rec.bytes);
	ok(t, rec.writebacks >= 32, "in paced steps (%" PRIu64
	    " write-backs)", rec.writebacks);
	ok(t, rec.max_burst <= (256u << 10), "no burst above 256 KiB "
	    "between flushes (largest %" PRIu64 ")", rec.max_burst);
	pthread_mutex_destroy(&rec.lock);
	fx_done(&fx);
}

int
main(void)
{
	struct tap	 t = { 0 };

	test_crc(&t);
	test_datadir(&t);
	test_append_read(&t);
	test_sizes(&t);
	test_truncate(&t);
	test_hard_state(&t);
	test_snapshot_compact(&t);
	test_interrupted_compaction(&t);
	test_snapshot_files(&t);
	test_snapshot_verified(&t);
	test_shadow_foreign_writer(&t);
	test_shadow_reused_inode(&t);
	test_shadow_rename_race(&t);
	test_snapshot_rule(&t);
	test_recycle(&t);
	test_recycle_stale(&t);
	test_torn_tail(&t);
	test_mid_corruption_open(&t);
	test_closed_corruption(&t);
	test_gap(&t);
	test_lost_rename(&t);
	test_write_errors(&t);
	test_shadow_vfs(&t);
	test_boundary_truncation_power_loss(&t);
	test_kill_then_power_loss(&t);
	test_prep_paced(&t);
	return tap_done(&t);
}
