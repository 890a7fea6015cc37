/*
 * disk.c -- the disk thread: storage writes and group commit off the loop.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "disk.h"
#include "kv.h"
#include "snapload.h"
#include "storage.h"
#include "xmalloc.h"

struct disk {
	struct event_base *base;
	struct storage	*st;
	disk_done_fn	*done;
	void		*ctx;
	struct event	*done_ev;
	pthread_t	 thread;
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	bool		 stopping;

	/* Under lock. */
	unsigned	 coalesce_us;	/* see disk_set_coalesce() */
	unsigned	 lazy_us;	/* see disk_set_lazy() */
	bool		 hurry;		/* a job queued since the last batch
					   was taken may not wait */
	bool		 lazy_waiting;	/* the worker waits for lazy jobs */
	uint64_t	 lazy_syncs;
	size_t		 last_batch_jobs; /* jobs the last sync covered */
	size_t		 last_batch_entries; /* and their entries */
	struct disk_job	*todo_head, *todo_tail;
	struct disk_job	*done_head, *done_tail;

	/* Event loop only: submitted and not yet handed back. */
	size_t		 n_outstanding;
	struct disk_job	*last_submitted;
};

struct disk_job *
disk_job_new(bool save_hs, const struct raft_hard_state *hs,
    raft_index_t commit, const struct raft_entry *entries, size_t n)
{
	struct disk_job	*job;
	size_t		 bytes = 0, i;
	uint8_t		*p;

	if ((job = calloc(1, sizeof(*job))) == NULL)
		return NULL;
	job->save_hs = save_hs;
	if (hs != NULL)
		job->hs = *hs;
	job->commit = commit;
	if (n == 0)
		return job;
	for (i = 0; i < n; i++)
		bytes += entries[i].len;
	job->entries = malloc(n * sizeof(*job->entries));
	job->arena = malloc(bytes > 0 ? bytes : 1);
	if (job->entries == NULL || job->arena == NULL) {
		disk_job_free(job);
		return NULL;
	}
	p = job->arena;
	for (i = 0; i < n; i++) {
		job->entries[i] = entries[i];
		if (entries[i].len > 0) {
			memcpy(p, entries[i].data, entries[i].len);
			job->entries[i].data = p;
			p += entries[i].len;
		} else
			job->entries[i].data = NULL;
	}
	job->n_entries = n;
	return job;
}

int
disk_job_hold(struct disk_job *job, const struct raft_msg *m)
{
	if (m->n_entries != 0)
		return -EINVAL;
	if (job->n_after == job->cap_after) {
		size_t cap = job->cap_after ? job->cap_after * 2 : 8;
		struct raft_msg *v = realloc(job->after, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		job->after = v;
		job->cap_after = cap;
	}
	job->after[job->n_after] = *m;
	job->after[job->n_after].entries = NULL;
	job->n_after++;
	return 0;
}

void
disk_job_free(struct disk_job *job)
{
	if (job == NULL)
		return;
	kv_free(job->kv_out);
	free(job->entries);
	free(job->arena);
	free(job->after);
	free(job->snap);
	free(job);
}

/*
 * Installs a snapshot for job.  A local snapshot that cannot be installed
 * while the storage itself stays sound (a bad or stale file) is reported
 * in snap->error and is not a failure of the job.
 */
static int
snap_job(struct storage *st, struct disk_job *job)
{
	bool	 local = job->snap_op == DISK_SNAP_LOCAL;
	int	 rc;

	/* The child verified what it wrote, the receiver what it got. */
	rc = storage_snapshot_install_verified(st, local ? SNAPLOAD_TAG_LOCAL :
	    SNAPLOAD_TAG_RECEIVED,
	    job->snap_index, job->snap_term, job->errmsg,
	    sizeof(job->errmsg));
	if (rc != 0) {
		if (local && storage_get_state(st) == STORAGE_OK) {
			job->snap->error = rc;
			memcpy(job->snap->errmsg, job->errmsg,
			    sizeof(job->snap->errmsg));
			job->errmsg[0] = '\0';
			storage_snapshot_get_info(st, &job->snap->info);
			return 0;
		}
		return rc;
	}
	storage_snapshot_get_info(st, &job->snap->info);
	if (local) {
		if (job->compact_upto > 0)
			return storage_compact(st, job->compact_upto,
			    job->errmsg, sizeof(job->errmsg));
		return 0;
	}
	if ((rc = storage_reset(st, job->snap_index, job->errmsg,
	    sizeof(job->errmsg))) != 0)
		return rc;
	/* Nothing above the snapshot can be applied before this is done. */
	return snapload_kv(job->snap->info.path, job->kv_cfg, &job->kv_out,
	    NULL, job->errmsg, sizeof(job->errmsg));
}

/* Writes one job's hard state and entries (not yet synced). */
static int
write_job(struct storage *st, struct disk_job *job)
{
	int	 rc;

	if (job->snap_op != DISK_SNAP_NONE && (rc = snap_job(st, job)) != 0)
		return rc;

	if (job->save_hs) {
		rc = storage_save_hard_state(st, &job->hs, job->errmsg,
		    sizeof(job->errmsg));
		if (rc != 0)
			return rc;
	}
	if (job->n_entries > 0 || job->commit != 0)
		return storage_append(st, job->entries, job->n_entries,
		    job->commit, job->errmsg, sizeof(job->errmsg));
	return 0;
}

/*
 * Lets more jobs queue for up to us microseconds (d->lock held), or until
 * the disk stops or, with until_hurry, a job that may not wait comes.
 */
static void
wait_for_more(struct disk *d, unsigned us, bool until_hurry)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += (long)us * 1000;
	ts.tv_sec += ts.tv_nsec / 1000000000;
	ts.tv_nsec %= 1000000000;
	while (!d->stopping && !(until_hurry && d->hurry) &&
	    pthread_cond_timedwait(&d->cond, &d->lock, &ts) == 0)
		;
}

/* The worker: takes every queued job, writes them all, syncs once. */
static void *
worker(void *arg)
{
	struct disk	*d = arg;
	struct disk_job	*batch, *job;
	int		 rc;

	pthread_mutex_lock(&d->lock);
	for (;;) {
		while (d->todo_head == NULL && !d->stopping)
			pthread_cond_wait(&d->cond, &d->lock);
		if (d->todo_head == NULL && d->stopping)
			break;
		if (d->coalesce_us > 0 && !d->stopping &&
		    (d->last_batch_jobs >= 2 || d->last_batch_entries >= 2)) {
			/* Let more jobs join this batch: one sync for all. */
			wait_for_more(d, d->coalesce_us, false);
		} else if (d->lazy_us > 0 && !d->hurry && !d->stopping) {
			/*
			 * Only a spare's writes, which nothing waits on
			 * promptly: let the next ones share their sync.
			 */
			d->lazy_waiting = true;
			wait_for_more(d, d->lazy_us, true);
			d->lazy_waiting = false;
			d->lazy_syncs++;
		}
		batch = d->todo_head;
		d->todo_head = d->todo_tail = NULL;
		d->hurry = false;
		d->last_batch_jobs = 0;
		d->last_batch_entries = 0;
		for (job = batch; job != NULL; job = job->next) {
			d->last_batch_jobs++;
			d->last_batch_entries += job->n_entries;
		}
		pthread_mutex_unlock(&d->lock);

		rc = 0;
		for (job = batch; job != NULL; job = job->next) {
			if (rc == 0)
				rc = write_job(d->st, job);
			job->error = rc;
			if (rc != 0 && job->errmsg[0] == '\0')
				strcpy(job->errmsg, "an earlier write failed");
		}
		if (rc == 0) {
			/* One fdatasync for the whole batch: group commit. */
			for (job = batch; job != NULL && job->next != NULL;
			    job = job->next)
				;
			rc = storage_sync(d->st, job->errmsg,
			    sizeof(job->errmsg));
			if (rc != 0)
				for (job = batch; job != NULL; job = job->next) {
					job->error = rc;
					if (job->errmsg[0] == '\0')
						strcpy(job->errmsg,
						    "sync failed");
				}
		}

		pthread_mutex_lock(&d->lock);
		if (d->done_tail != NULL)
			d->done_tail->next = batch;
		else
			d->done_head = batch;
		for (job = batch; job->next != NULL; job = job->next)
			;
		d->done_tail = job;
		/* Woken after the unlock, on_done() finds the lock free. */
		pthread_mutex_unlock(&d->lock);
		event_active(d->done_ev, EV_READ, 0);
		pthread_mutex_lock(&d->lock);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* Hands finished jobs back on the event loop, in order. */
static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	struct disk	*d = arg;
	struct disk_job	*list, *job, *next;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&d->lock);
	list = d->done_head;
	d->done_head = d->done_tail = NULL;
	pthread_mutex_unlock(&d->lock);
	for (job = list; job != NULL; job = next) {
		next = job->next;
		job->next = NULL;
		d->n_outstanding--;
		if (d->last_submitted == job)
			d->last_submitted = NULL;
		d->done(d->ctx, job);
	}
}

int
disk_new(struct event_base *base, struct storage *st, disk_done_fn *done,
    void *ctx, struct disk **out)
{
	struct disk	*d;
	int		 rc;

	*out = NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return -ENOMEM;
	d->base = base;
	d->st = st;
	d->done = done;
	d->ctx = ctx;
	d->done_ev = event_new(base, -1, 0, on_done, d);
	if (d->done_ev == NULL) {
		free(d);
		return -ENOMEM;
	}
	pthread_mutex_init(&d->lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&d->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	if ((rc = pthread_create(&d->thread, NULL, worker, d)) != 0) {
		event_free(d->done_ev);
		pthread_mutex_destroy(&d->lock);
		pthread_cond_destroy(&d->cond);
		free(d);
		return -rc;
	}
	*out = d;
	return 0;
}

void
disk_submit(struct disk *d, struct disk_job *job)
{
	if (job->snap_op != DISK_SNAP_NONE && job->snap == NULL)
		job->snap = xcalloc(1, sizeof(*job->snap));
	job->next = NULL;
	d->n_outstanding++;
	d->last_submitted = job;
	pthread_mutex_lock(&d->lock);
	if (d->todo_tail != NULL)
		d->todo_tail->next = job;
	else
		d->todo_head = job;
	d->todo_tail = job;
	if (!job->lazy)
		d->hurry = true;
	else if (d->lazy_waiting) {
		/* It joins the batch when the wait ends: no wake-up needed. */
		pthread_mutex_unlock(&d->lock);
		return;
	}
	pthread_mutex_unlock(&d->lock);
	/*
	 * Signalled after the unlock: signalled under it, the worker wakes
	 * only to block on the lock we still hold, and a second futex call
	 * and a second switch follow on every write's path.  The worker
	 * tests todo_head under the lock, so no wake-up is lost.
	 */
	pthread_cond_signal(&d->cond);
}

struct disk_job *
disk_last_pending(struct disk *d)
{
	return d->n_outstanding > 0 ? d->last_submitted : NULL;
}

size_t
disk_pending(const struct disk *d)
{
	return d->n_outstanding;
}

void
disk_free(struct disk *d)
{
	if (d == NULL)
		return;
	pthread_mutex_lock(&d->lock);
	d->stopping = true;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	/* Hand back what finished so that nothing is leaked or lost. */
	on_done(-1, 0, d);
	event_free(d->done_ev);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	free(d);
}

void
disk_set_lazy(struct disk *d, unsigned us)
{
	pthread_mutex_lock(&d->lock);
	d->lazy_us = us;
	pthread_mutex_unlock(&d->lock);
}

void
disk_hurry(struct disk *d)
{
	pthread_mutex_lock(&d->lock);
	if (d->hurry || d->todo_head == NULL) {
		/* Already hurried, or the jobs queued are being written. */
		pthread_mutex_unlock(&d->lock);
		return;
	}
	d->hurry = true;
	pthread_mutex_unlock(&d->lock);
	pthread_cond_signal(&d->cond);
}

uint64_t
disk_lazy_syncs(struct disk *d)
{
	uint64_t n;

	pthread_mutex_lock(&d->lock);
	n = d->lazy_syncs;
	pthread_mutex_unlock(&d->lock);
	return n;
}

void
disk_set_coalesce(struct disk *d, unsigned us)
{
	pthread_mutex_lock(&d->lock);
	d->coalesce_us = us;
	pthread_mutex_unlock(&d->lock);
}
