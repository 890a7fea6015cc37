/*
 * crash-storage.c -- the crash test.  A child appends to the log through
 * the shadow vfs, printing each index once storage_sync() returned, and is
 * killed with SIGKILL at a random moment.  The shadow directory then holds
 * only what fsync/fdatasync made durable -- what a power loss would leave
 * -- and must open cleanly and hold every index reported durable, with
 * the hard state and snapshot reported durable too.  The next round starts
 * from that state.
 *
 * Usage: crash-storage [SEED [ROUNDS]]   (a failing seed is printed)
 */
#include "config.h"

#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <time.h>

#include "log.h"
#include "storage.h"
#include "vfs.h"
#include "tap.h"
#include "test-storage-util.h"

#define CLUSTER		1
#define NODE		1
#define SEGMENT_BYTES	(64 * 1024)

/* xorshift64*: the test's only randomness, seeded for replay. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

/* Payload byte j of the entry at index written in term. */
static uint8_t
pbyte(uint64_t index, uint64_t term, uint32_t j)
{
	return (uint8_t)(index * 31 + term * 17 + j);
}

/* Opens dir through vfs (may be NULL), logging to lg (may be NULL). */
static int
open_store(const char *dir, struct vfs *vfs, const struct logger *lg,
    struct storage **st, char *err, size_t errlen)
{
	struct storage_options	 o;

	storage_options_init(&o);
	o.cluster_id = CLUSTER;
	o.node_id = NODE;
	o.segment_bytes = SEGMENT_BYTES;
	o.max_unsynced_bytes = 256 * 1024;
	o.vfs = vfs;
	o.log = lg;
	return storage_open(dir, &o, st, err, errlen);
}

/* Reports why the writer stopped, and exits with code. */
static void __attribute__((noreturn))
die(const char *err, int code)
{
	fprintf(stderr, "writer: %s\n", err);
	_exit(code);
}

/* Writes one report line to the parent, unbuffered. */
static void
report(int fd, char kind, uint64_t v)
{
	char	 line[48];
	int	 n = snprintf(line, sizeof(line), "%c %" PRIu64 "\n", kind, v);

	if (write(fd, line, (size_t)n) != n)
		_exit(3);
}

/* Formats the image of the snapshot at index/term (checked at verify). */
static size_t
image_of(char *buf, size_t len, uint64_t index, uint64_t term)
{
	return (size_t)snprintf(buf, len, "image %" PRIu64 " %" PRIu64, index,
	    term);
}

/*
 * Writes and installs a snapshot at index: how 0 through begin/commit, 1
 * as a forked child does (create/finish) then install, 2 as a leader's
 * file arrives (receive, in two chunks) then install.
 */
static int
take_snapshot(struct storage *st, const char *dir, struct vfs *vfs,
    uint64_t index, uint64_t term, int how, char *err, size_t errlen)
{
	struct storage_snapshot_writer *w;
	char		 image[64], path[600];
	uint8_t		*file;
	size_t		 len = image_of(image, sizeof(image), index, term);
	long long	 size;
	int		 fd, rc;

	if (how == 0) {
		if ((rc = storage_snapshot_begin(st, index, term,
		    (const uint8_t *)"c", 1, &w, err, errlen)) != 0)
			return rc;
		if ((rc = storage_snapshot_write(w, image, len, err,
		    errlen)) != 0) {
			storage_snapshot_abort(w);
			return rc;
		}
		return storage_snapshot_commit(w, err, errlen);
	}
	if ((rc = storage_snapshot_create(dir, vfs, "build", index, term,
	    (const uint8_t *)"c", 1, &w, err, errlen)) != 0)
		return rc;
	if ((rc = storage_snapshot_write(w, image, len, err, errlen)) != 0) {
		storage_snapshot_abort(w);
		return rc;
	}
	if ((rc = storage_snapshot_finish(w, err, errlen)) != 0)
		return rc;
	if (how == 1)
		return storage_snapshot_install(st, "build", index, term, err,
		    errlen);
	/* The "leader's" file: read back, sent through a raw writer. */
	snprintf(path, sizeof(path), "%s/snapshot-%020" PRIu64 ".build.tmp",
	    dir, index);
	size = tu_size(path);
	if (size <= 0 || (file = malloc((size_t)size)) == NULL ||
	    (fd = open(path, O_RDONLY)) < 0)
		return -EIO;
	rc = read(fd, file, (size_t)size) == size ? 0 : -EIO;
	close(fd);
	if (rc == 0)
		rc = storage_snapshot_receive(dir, vfs, "recv", index, &w, err,
		    errlen);
	if (rc == 0 && ((rc = storage_snapshot_write(w, file, (size_t)size / 2,
	    err, errlen)) != 0 || (rc = storage_snapshot_write(w, file +
	    size / 2, (size_t)(size - size / 2), err, errlen)) != 0))
		storage_snapshot_abort(w);
	else if (rc == 0)
		rc = storage_snapshot_finish(w, err, errlen);
	free(file);
	unlink(path);
	if (rc != 0)
		return rc;
	return storage_snapshot_install(st, "recv", index, term, err, errlen);
}

/* The child: appends, truncates, saves hard state and snapshots forever. */
static void __attribute__((noreturn))
writer(const char *dir, const char *shadow, uint64_t seed, int out)
{
	struct storage		*st;
	struct storage_loaded	 l;
	struct raft_entry	 es[32], e;
	uint8_t			*ebuf;
	struct raft_hard_state	 hs;
	struct vfs		*vfs;
	uint8_t			(*bufs)[3000];
	char			 spec[600], err[512];
	uint64_t		 last, term, n, i, k, snap;
	uint32_t		 j;

	if ((bufs = calloc(32, sizeof(*bufs))) == NULL)
		_exit(2);
	snprintf(spec, sizeof(spec), "shadow:%s", shadow);
	if (vfs_from_spec(spec, &vfs, err, sizeof(err)) != 0 ||
	    open_store(dir, vfs, NULL, &st, err, sizeof(err)) != 0 ||
	    storage_load(st, &l, err, sizeof(err)) != 0) {
		fprintf(stderr, "writer: %s\n", err);
		_exit(2);
	}
	hs = l.hs;
	term = hs.term > 0 ? hs.term : 1;
	snap = l.snapshot_index;
	last = storage_last_index(st);
	storage_loaded_free(&l);
	report(out, 'R', last);
	for (;;) {
		k = rnd(&seed) % 100;
		if (k < 3) {
			/* A new term, durable before anything of it. */
			hs.term = ++term;
			hs.vote = rnd(&seed) % 5;
			if (storage_save_hard_state(st, &hs, err,
			    sizeof(err)) != 0)
				die(err, 4);
			report(out, 'H', hs.term);
			continue;
		}
		if (k < 5 && last > storage_first_index(st) + 3) {
			/*
			 * A conflict: drop a few entries.  Announced first:
			 * from the call on, they may be gone.
			 */
			last -= 1 + rnd(&seed) % 3;
			report(out, 'T', last);
			if (storage_truncate_suffix(st, last, err,
			    sizeof(err)) != 0)
				die(err, 5);
			continue;
		}
		if (k < 7 && last > 10 && last - 5 > snap) {
			/*
			 * A snapshot at last - 5 (as a forked child writes
			 * it, or through begin/commit), then compaction,
			 * which recycles covered segments.
			 */
			snap = last - 5;
			if (storage_read_entry(st, snap, &e, &ebuf, err,
			    sizeof(err)) != 0)
				die(err, 6);
			free(ebuf);
			if (take_snapshot(st, dir, vfs, snap, e.term,
			    rnd(&seed) % 2, err, sizeof(err)) != 0)
				die(err, 6);
			report(out, 'S', snap);
			if (storage_compact(st, snap, err, sizeof(err)) != 0)
				die(err, 6);
			continue;
		}
		if (k < 8) {
			/*
			 * A leader's snapshot: ahead of the log, or inside
			 * it in a new term (the log conflicts).  Entries
			 * after it may vanish from the install on.
			 */
			i = rnd(&seed) % 2 == 0 ? last + 1 + rnd(&seed) % 40 :
			    last - rnd(&seed) % 8;
			if (i <= snap || i < 1)
				continue;
			hs.term = ++term;
			if (storage_save_hard_state(st, &hs, err,
			    sizeof(err)) != 0)
				die(err, 4);
			report(out, 'H', hs.term);
			report(out, 'X', i);
			if (take_snapshot(st, dir, vfs, i, term, 2, err,
			    sizeof(err)) != 0)
				die(err, 8);
			snap = i;
			report(out, 'S', snap);
			/* Widens the window for a kill before the reset. */
			usleep(3000);
			if (storage_reset(st, snap, err, sizeof(err)) != 0)
				die(err, 8);
			last = snap;
			report(out, 'D', last);
			continue;
		}
		n = 1 + rnd(&seed) % 32;
		for (i = 0; i < n; i++) {
			es[i].index = last + 1 + i;
			es[i].term = term;
			es[i].type = RAFT_ENTRY_NORMAL;
			es[i].len = (uint32_t)(rnd(&seed) % 3000);
			for (j = 0; j < es[i].len; j++)
				bufs[i][j] = pbyte(es[i].index, term, j);
			es[i].data = bufs[i];
		}
		if (storage_append_sync(st, es, n, last, err, sizeof(err)) != 0) {
			fprintf(stderr, "writer: %s\n", err);
			die(err, 7);
		}
		last += n;
		report(out, 'D', last);
	}
}

struct expect {
	uint64_t	 durable;	/* entries 1..durable must be there */
	uint64_t	 term;		/* hard state term at least */
	uint64_t	 snapshot;	/* snapshot index at least */
};

/* Applies the child's report lines to what must have survived. */
static void
parse_reports(char *buf, struct expect *ex)
{
	char		*line, *save = NULL;
	char		 kind;
	uint64_t	 v;

	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%c %" SCNu64, &kind, &v) != 2)
			continue;
		if (kind == 'D')
			ex->durable = v;
		else if ((kind == 'T' || kind == 'X') && v < ex->durable)
			ex->durable = v;
		else if (kind == 'H')
			ex->term = v;
		else if (kind == 'S')
			ex->snapshot = v;
	}
}

/* Collects a snapshot image (at most 63 bytes). */
static int
collect(void *ctx, const uint8_t *buf, size_t len)
{
	char	*img = ctx;
	size_t	 have = strlen(img);

	if (have + len >= 64)
		return -EFBIG;
	memcpy(img + have, buf, len);
	img[have + len] = '\0';
	return 0;
}

/* True if the loaded snapshot's file reads back as the image written. */
static bool
snapshot_ok(struct storage *st, const struct storage_loaded *l, char *why,
    size_t len)
{
	struct storage_snapshot_info info;
	char		 want[64], got[64] = "", err[256];
	int		 rc;

	image_of(want, sizeof(want), l->snapshot_index, l->snapshot_term);
	storage_snapshot_get_info(st, &info);
	rc = storage_snapshot_read(st, collect, got, err, sizeof(err));
	if (rc == 0 && strcmp(got, want) == 0 && info.exists &&
	    info.index == l->snapshot_index && l->snapshot_config_len == 1)
		return true;
	snprintf(why, len, "snapshot %" PRIu64 ": read \"%s\", want \"%s\""
	    " (%s)", l->snapshot_index, got, want, rc != 0 ? err : "ok");
	return false;
}

/* Opens the shadow as a node would after power loss and checks it. */
static bool
verify(const char *shadow, const struct expect *ex, char *why, size_t len)
{
	struct storage		*st;
	struct storage_loaded	 l;
	char			 err[512];
	uint64_t		 last;
	size_t			 i;
	uint32_t		 j;
	bool			 good = true;
	struct logger		 lg;

	/* Recovery's warnings (torn tails) go into the test log. */
	log_init(&lg, "# crash-storage");
	lg.level = LOG_LEVEL_WARN;
	lg.stream = stdout;
	if (open_store(shadow, NULL, &lg, &st, err, sizeof(err)) != 0) {
		snprintf(why, len, "open: %s", err);
		return false;
	}
	if (storage_load(st, &l, err, sizeof(err)) != 0) {
		snprintf(why, len, "load: %s", err);
		storage_close(st);
		return false;
	}
	last = storage_last_index(st);
	if (last < ex->durable && l.snapshot_index < ex->durable) {
		snprintf(why, len, "log ends at %" PRIu64 " and the snapshot "
		    "at %" PRIu64 ", but %" PRIu64 " was reported durable",
		    last, l.snapshot_index, ex->durable);
		good = false;
	} else if (storage_first_index(st) > l.snapshot_index + 1 ||
	    (l.n_entries > 0 && l.entries[0].index != l.snapshot_index + 1) ||
	    last < l.snapshot_index) {
		snprintf(why, len, "the log (%" PRIu64 "..%" PRIu64 ") does not "
		    "start right after snapshot %" PRIu64 " or earlier",
		    storage_first_index(st), last, l.snapshot_index);
		good = false;
	} else if (l.has_snapshot && !snapshot_ok(st, &l, why, len)) {
		good = false;
	} else if (l.hs.term < ex->term) {
		snprintf(why, len, "term %" PRIu64 " but %" PRIu64 " was saved",
		    l.hs.term, ex->term);
		good = false;
	} else if (l.snapshot_index < ex->snapshot) {
		snprintf(why, len, "snapshot %" PRIu64 " but %" PRIu64 " was "
		    "installed", l.snapshot_index, ex->snapshot);
		good = false;
	}
	for (i = 0; good && i < l.n_entries; i++)
		for (j = 0; good && j < l.entries[i].len; j++)
			if (l.entries[i].data[j] != pbyte(l.entries[i].index,
			    l.entries[i].term, j)) {
				snprintf(why, len, "entry %" PRIu64 " damaged",
				    l.entries[i].index);
				good = false;
			}
	storage_loaded_free(&l);
	storage_close(st);
	return good;
}

int
main(int argc, char **argv)
{
	struct tap	 t = { 0 };
	struct expect	 ex = { 0, 0, 0 };
	char		 base[256], dir[300], shadow[300], inodes[320];
	char		*reports = NULL, why[600], copy[400];
	size_t		 cap = 1 << 20, used;
	uint64_t	 seed, rs;
	int		 rounds, r, fds[2], status, failed = 0;
	pid_t		 pid;
	ssize_t		 got;
	struct timespec	 delay;

	seed = argc > 1 ? strtoull(argv[1], NULL, 0) :
	    (uint64_t)time(NULL) ^ (uint64_t)getpid();
	rounds = argc > 2 ? atoi(argv[2]) : 200;
	diag("seed %" PRIu64 " (replay: crash-storage %" PRIu64 " %d)", seed,
	    seed, rounds);
	rs = seed | 1;
	tu_mkdtemp(base, sizeof(base), "crash");
	snprintf(dir, sizeof(dir), "%s/real", base);
	snprintf(shadow, sizeof(shadow), "%s/shadow", base);
	snprintf(inodes, sizeof(inodes), "%s.inodes", shadow);
	reports = malloc(cap);
	for (r = 0; r < rounds && failed == 0; r++) {
		if (pipe(fds) != 0)
			return 99;
		if ((pid = fork()) == 0) {
			close(fds[0]);
			writer(dir, shadow, rnd(&rs), fds[1]);
		}
		close(fds[1]);
		used = 0;
		/*
		 * One round in five cuts the power at any moment from the
		 * start, recovery included; the others once the writer is
		 * working.  Then 0..30 ms more.
		 */
		if (rnd(&rs) % 5 != 0) {
			reports[0] = '\0';
			while (strstr(reports, "R ") == NULL && (got =
			    read(fds[0], reports + used, cap - 1 - used)) > 0) {
				used += (size_t)got;
				reports[used] = '\0';
			}
		}
		delay.tv_sec = 0;
		delay.tv_nsec = (long)(rnd(&rs) % 31) * 1000000L;
		nanosleep(&delay, NULL);
		kill(pid, SIGKILL);
		while ((got = read(fds[0], reports + used, cap - 1 - used)) > 0)
			used += (size_t)got;
		reports[used] = '\0';
		close(fds[0]);
		waitpid(pid, &status, 0);
		if (!WIFSIGNALED(status)) {
			ok(&t, 0, "round %d: writer exited by itself (status %d)",
			    r, WEXITSTATUS(status));
			failed++;
			continue;
		}
		snprintf(copy, sizeof(copy), "%.*s", (int)sizeof(copy) - 1,
		    used > sizeof(copy) - 1 ? reports + used - (sizeof(copy) -
		    1) : reports);
		parse_reports(reports, &ex);
		if (!verify(shadow, &ex, why, sizeof(why))) {
			ok(&t, 0, "round %d: %s", r, why);
			for (char *p = strtok(copy, "\n"); p != NULL;
			    p = strtok(NULL, "\n"))
				diag("report tail: %s", p);
			failed++;
			continue;
		}
		ok(&t, 1, "round %d: durable %" PRIu64 ", term %" PRIu64
		    ", snapshot %" PRIu64 " all survived", r, ex.durable,
		    ex.term, ex.snapshot);
		/* The next run starts from what the power loss left. */
		tu_copy_dir(shadow, dir);
	}
	if (failed)
		diag("FAILED with seed %" PRIu64 "; files kept in %s", seed,
		    base);
	else {
		tu_rmtree(inodes);
		tu_rmtree(base);
	}
	free(reports);
	return tap_done(&t);
}
