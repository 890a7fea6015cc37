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

/* The child: appends, truncates, saves hard state and snapshots forever. */
static void __attribute__((noreturn))
writer(const char *dir, const char *shadow, uint64_t seed, int out)
{
	struct storage		*st;
	struct storage_loaded	 l;
	struct storage_snapshot_writer *w;
	struct raft_entry	 es[32];
	struct raft_hard_state	 hs;
	struct vfs		*vfs;
	uint8_t			(*bufs)[3000];
	char			 spec[600], err[512];
	uint64_t		 last, term, n, i, k;
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
		if (k < 6 && last > 10) {
			/* Snapshot at last - 5, then compact. */
			if (storage_snapshot_begin(st, last - 5, term,
			    (const uint8_t *)"c", 1, &w, err, sizeof(err)) != 0 ||
			    storage_snapshot_write(w, "image", 5, err,
			    sizeof(err)) != 0 ||
			    storage_snapshot_commit(w, err, sizeof(err)) != 0 ||
			    storage_compact(st, last - 5, err, sizeof(err)) != 0)
				die(err, 6);
			report(out, 'S', last - 5);
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
		else if (kind == 'T' && v < ex->durable)
			ex->durable = v;
		else if (kind == 'H')
			ex->term = v;
		else if (kind == 'S')
			ex->snapshot = v;
	}
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
	if (last < ex->durable) {
		snprintf(why, len, "log ends at %" PRIu64 " but %" PRIu64
		    " was reported durable", last, ex->durable);
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
	char		*reports = NULL, why[600];
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
		parse_reports(reports, &ex);
		if (!verify(shadow, &ex, why, sizeof(why))) {
			ok(&t, 0, "round %d: %s", r, why);
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
