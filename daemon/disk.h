/*
 * disk.h -- the disk thread: runs storage writes off the event loop.
 *
 * The event loop submits jobs (hard state, log entries, the commit index) in
 * order.  One worker thread takes every job queued so far, writes them, and
 * makes them durable with a single storage_sync() (group commit), then hands
 * them back to the event loop, in order, through an event.  So fdatasync
 * never blocks the loop, and one sync covers everything that arrived while
 * the previous one ran.
 */
#ifndef RAFTKV_DISK_H
#define RAFTKV_DISK_H

#include <stdbool.h>
#include <stddef.h>

#include "raft.h"
#include "storage.h"

struct event_base;
struct kv_config;
struct kv;
struct disk;

/*
 * One unit of work.  Built and owned by the event loop until
 * disk_submit(), owned by the disk until handed back to the done callback,
 * then owned by the event loop again (free it with disk_job_free()).
 */
struct disk_job {
	bool		 save_hs;	/* write hs before the entries */
	struct raft_hard_state hs;
	raft_index_t	 commit;	/* recorded lazily with the entries */
	struct raft_entry *entries;	/* deep copy; data in arena */
	size_t		 n_entries;
	void		*arena;
	bool		 lazy;		/* its sync may wait: see disk_set_lazy() */

	/*
	 * Snapshot work, done before hs and entries (docs/storage.md):
	 *   DISK_SNAP_LOCAL     install the snapshot a forked child wrote
	 *                       (tag "build"), then storage_compact(upto);
	 *   DISK_SNAP_RECEIVED  install the file received from the leader
	 *                       (tag "recv"), discard the whole log
	 *                       (storage_reset), and build the new state
	 *                       machine from it into kv_out.
	 */
	enum disk_snap_op {
		DISK_SNAP_NONE = 0,
		DISK_SNAP_LOCAL,
		DISK_SNAP_RECEIVED,
	}		 snap_op;
	raft_index_t	 snap_index;
	raft_term_t	 snap_term;
	raft_index_t	 compact_upto;		/* LOCAL; 0: none */
	const struct kv_config *kv_cfg;		/* RECEIVED; borrowed */

	/* Results, written by the worker before the job is handed back. */
	struct kv	*kv_out;		/* RECEIVED; owned by the job */
	/*
	 * A snapshot job's results, allocated by disk_submit() for those
	 * only: with the 4 KiB path in them every job was a 4.7 KiB
	 * calloc() (glibc's large bins and a memset) on each write's path.
	 */
	struct disk_snap_result {
		struct storage_snapshot_info info; /* latest after the job */
		int	 error;			/* LOCAL: not installed, but
						   the storage is fine */
		char	 errmsg[256];
	}		*snap;
	int		 error;		/* 0 or a negative errno */
	char		 errmsg[256];

	/*
	 * Event-loop-only fields: the worker never touches them.  Messages
	 * that may leave only once this job (and every earlier one) is
	 * durable.  They never carry entries.
	 */
	struct raft_msg	*after;
	size_t		 n_after, cap_after;

	struct disk_job	*next;		/* queue link */
};

/* Called on the event loop for each finished job, in submission order. */
typedef void disk_done_fn(void *ctx, struct disk_job *job);

/*
 * Builds a job from a Ready batch's persistence part: copies hs (when
 * save_hs) and deep-copies the entries.  Returns a new job (free with
 * disk_job_free()) or NULL when out of memory.
 */
struct disk_job	*disk_job_new(bool save_hs, const struct raft_hard_state *hs,
		    raft_index_t commit, const struct raft_entry *entries,
		    size_t n);
/* Queues a message (copied; it must carry no entries) on job.  0 or -ENOMEM. */
int		 disk_job_hold(struct disk_job *job, const struct raft_msg *m);
void		 disk_job_free(struct disk_job *job);

/*
 * Starts the worker over st (borrowed; it must outlive the disk).  done is
 * called on base's thread.  Returns 0 and a new disk in *out, or a negative
 * errno.  libevent must have been set up for threads
 * (evthread_use_pthreads()) before base was created.
 */
int		 disk_new(struct event_base *base, struct storage *st,
		    disk_done_fn *done, void *ctx, struct disk **out);
/* Hands job to the worker.  Jobs complete in the order submitted. */
void		 disk_submit(struct disk *d, struct disk_job *job);
/* The newest job submitted and not yet handed back, or NULL. */
struct disk_job	*disk_last_pending(struct disk *d);
/* Number of jobs not yet handed back. */
size_t		 disk_pending(const struct disk *d);
/*
 * Under load (the previous sync covered two jobs or two entries or
 * more), makes the worker wait us microseconds after the first job of a
 * batch before writing it, so that later jobs share its sync (0: never).
 * A single writer never waits.  Fewer syncs on a leader leave the disk,
 * which the nodes may share, to its followers' syncs.
 */
void		 disk_set_coalesce(struct disk *d, unsigned us);
/*
 * When every queued job is lazy (a spare follower's writes, struct
 * raft_ready's lazy_sync), makes the worker wait up to us microseconds
 * before writing and syncing them, so that later jobs share the sync
 * (0: never).  A job that is not lazy, or disk_hurry(), ends the wait.
 */
void		 disk_set_lazy(struct disk *d, unsigned us);
/*
 * Ends a lazy wait at once: something that may not wait (a message held
 * on a lazy job) depends on the jobs queued so far.
 */
void		 disk_hurry(struct disk *d);
/* How many syncs waited for lazy jobs so far (for status). */
uint64_t	 disk_lazy_syncs(struct disk *d);
/*
 * Waits for every submitted job to be written, hands them back, then
 * stops the worker and frees d.  NULL is fine.
 */
void		 disk_free(struct disk *d);

#endif /* RAFTKV_DISK_H */
