/*
 * test-disk.c -- the disk thread (daemon/disk.c): jobs come back in order,
 * durable, and under load (the previous sync covered two entries or
 * more) a coalescing worker lets later jobs share one fdatasync, while a
 * single writer never waits.  A spare's lazy jobs wait for their window
 * unless something that may not wait comes.  The sync counts come from
 * the storage's own count of sync calls (storage_syncs()).
 */
#include "config.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "disk.h"
#include "log.h"
#include "storage.h"
#include "storage-internal.h"
#include "tap.h"
#include "test-storage-util.h"

#define CLUSTER	0x5eedULL

struct ctx {
	struct event_base *base;
	struct disk	*disk;
	struct storage	*st;
	raft_index_t	 next;		/* next index to append */
	raft_index_t	 done_last;	/* last index handed back */
	unsigned	 done;		/* jobs handed back */
	bool		 in_order;
	bool		 failed;
};

static void
on_done(void *arg, struct disk_job *job)
{
	struct ctx	*c = arg;

	if (job->error != 0) {
		diag("job failed: %s", job->errmsg);
		c->failed = true;
	}
	if (job->n_entries > 0) {
		if (job->entries[0].index != c->done_last + 1)
			c->in_order = false;
		c->done_last = job->entries[job->n_entries - 1].index;
	}
	c->done++;
	disk_job_free(job);
}

/* Submits one job of n entries (payload 64 bytes each), lazy or not. */
static void
submit_x(struct ctx *c, size_t n, bool lazy)
{
	struct raft_entry es[8];
	uint8_t	 buf[8][64];
	struct disk_job *job;
	size_t	 i;

	for (i = 0; i < n; i++)
		tu_entry(&es[i], c->next + i, 1, sizeof(buf[i]), buf[i]);
	c->next += n;
	job = disk_job_new(false, NULL, 0, es, n);
	if (job == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(99);
	}
	job->lazy = lazy;
	disk_submit(c->disk, job);
}

static void
submit(struct ctx *c, size_t n)
{
	submit_x(c, n, false);
}

/* Runs the loop for ms milliseconds. */
static void
run_for(struct ctx *c, unsigned ms)
{
	struct timeval tv = { ms / 1000, (long)(ms % 1000) * 1000 };

	event_base_loopexit(c->base, &tv);
	event_base_dispatch(c->base);
}

/* Runs the loop until want jobs came back (or 5 s passed). */
static bool
wait_done(struct ctx *c, unsigned want)
{
	struct timeval tv = { 0, 2000 };
	time_t	 end = time(NULL) + 5;

	while (c->done < want && time(NULL) < end) {
		event_base_loopexit(c->base, &tv);
		event_base_dispatch(c->base);
	}
	return c->done >= want;
}

/* Sleeps ms milliseconds. */
static void
nap(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/*
 * Waits (up to 10 s) until the segment-preparing helper is not working,
 * so that its own fdatasync does not land in a count.
 */
static void
prep_settle(struct storage *st)
{
	enum prep_state s = PREP_WANTED;
	int	 i;

	for (i = 0; i < 1000 && s == PREP_WANTED; i++) {
		pthread_mutex_lock(&st->prep.lock);
		s = st->prep.state;
		pthread_mutex_unlock(&st->prep.lock);
		if (s == PREP_WANTED)
			nap(10);
	}
}

int
main(void)
{
	struct tap	 t = {0};
	struct ctx	 c;
	struct storage_options o;
	struct storage_loaded l;
	struct logger	 lg;
	char		 dir[256], err[512];
	uint64_t	 s0, s1, l0;
	unsigned	 i;

	evthread_use_pthreads();
	memset(&c, 0, sizeof(c));
	c.in_order = true;
	c.next = 1;
	log_init(&lg, "test-disk");
	lg.stream = tmpfile();
	tu_mkdtemp(dir, sizeof(dir), "disk");
	storage_options_init(&o);
	o.cluster_id = CLUSTER;
	o.node_id = 1;
	o.segment_bytes = 1024 * 1024;	/* quick to prepare; never full */
	o.log = &lg;
	if (storage_open(dir, &o, &c.st, err, sizeof(err)) != 0 ||
	    storage_load(c.st, &l, err, sizeof(err)) != 0) {
		diag("storage: %s", err);
		return 99;
	}
	storage_loaded_free(&l);
	c.base = event_base_new();
	is_int(&t, disk_new(c.base, c.st, on_done, &c, &c.disk), 0,
	    "the disk thread starts");

	/* A single writer, one entry at a time: one sync each, no wait. */
	disk_set_coalesce(c.disk, 50000);
	submit(&c, 1);
	ok(&t, wait_done(&c, 1), "a first write comes back");
	prep_settle(c.st);
	s0 = storage_syncs(c.st);
	for (i = 0; i < 5; i++) {
		submit(&c, 1);
		ok(&t, wait_done(&c, i + 2), "single write %u comes back", i);
	}
	s1 = storage_syncs(c.st);
	is_u64(&t, s1 - s0, 5, "five single writes, five syncs");

	/*
	 * Under load: a job of two entries, then two jobs 10 ms apart.  The
	 * worker waits 50 ms after the first of them, so both share a sync
	 * (counting jobs instead of entries, it did not wait: two syncs).
	 */
	submit(&c, 2);
	ok(&t, wait_done(&c, 7), "a job of two entries comes back");
	prep_settle(c.st);
	s0 = storage_syncs(c.st);
	submit(&c, 1);
	nap(10);
	submit(&c, 1);
	ok(&t, wait_done(&c, 9), "two more jobs come back");
	s1 = storage_syncs(c.st);
	is_u64(&t, s1 - s0, 1, "and shared one sync");

	/* Without coalescing, a job submitted alone is synced alone. */
	disk_set_coalesce(c.disk, 0);
	submit(&c, 2);
	ok(&t, wait_done(&c, 10), "with coalescing off, a job comes back");
	prep_settle(c.st);
	s0 = storage_syncs(c.st);
	submit(&c, 1);
	ok(&t, wait_done(&c, 11), "and the next");
	nap(10);
	submit(&c, 1);
	ok(&t, wait_done(&c, 12), "and the one after");
	s1 = storage_syncs(c.st);
	is_u64(&t, s1 - s0, 2, "each with its own sync");

	/*
	 * A spare's (lazy) jobs wait, here for a window no test outlasts,
	 * and share one sync; disk_hurry() or a job that may not wait ends
	 * the wait.
	 */
	disk_set_lazy(c.disk, 60 * 1000000);
	prep_settle(c.st);
	s0 = storage_syncs(c.st);
	l0 = disk_lazy_syncs(c.disk);
	submit_x(&c, 1, true);
	submit_x(&c, 1, true);
	run_for(&c, 100);
	is_u64(&t, c.done, 12, "lazy jobs wait");
	disk_hurry(c.disk);
	ok(&t, wait_done(&c, 14), "disk_hurry() ends the wait");
	s1 = storage_syncs(c.st);
	is_u64(&t, s1 - s0, 1, "the two lazy jobs shared one sync");
	is_u64(&t, disk_lazy_syncs(c.disk) - l0, 1, "counted as a lazy sync");
	s0 = s1;
	submit_x(&c, 1, true);
	run_for(&c, 100);
	is_u64(&t, c.done, 14, "a lazy job waits");
	submit(&c, 1);
	ok(&t, wait_done(&c, 16), "a job that may not wait ends the wait");
	is_u64(&t, storage_syncs(c.st) - s0, 1, "both shared one sync");

	/* The window ends the wait by itself; 0 turns waiting off. */
	disk_set_lazy(c.disk, 100 * 1000);
	submit_x(&c, 1, true);
	ok(&t, wait_done(&c, 17), "a lazy job alone comes back after its "
	    "window");
	disk_set_lazy(c.disk, 0);
	l0 = disk_lazy_syncs(c.disk);
	submit_x(&c, 1, true);
	ok(&t, wait_done(&c, 18) && disk_lazy_syncs(c.disk) == l0,
	    "with the window 0 a lazy job does not wait");

	ok(&t, c.in_order && !c.failed, "every job came back in order, "
	    "durable");
	disk_free(c.disk);
	event_base_free(c.base);
	storage_close(c.st);

	/* What came back is on disk. */
	if (storage_open(dir, &o, &c.st, err, sizeof(err)) == 0 &&
	    storage_load(c.st, &l, err, sizeof(err)) == 0) {
		is_u64(&t, l.n_entries, c.next - 1, "the log holds all %"
		    PRIu64 " entries after a reopen", c.next - 1);
		storage_loaded_free(&l);
		storage_close(c.st);
	} else
		ok(&t, 0, "reopen: %s", err);
	tu_rmtree(dir);
	fclose(lg.stream);
	return tap_done(&t);
}
