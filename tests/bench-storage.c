/*
 * bench-storage.c -- storage throughput against a raw write+fdatasync loop.
 *
 * For each entry size (100 B, 1 KiB, 64 KiB) and batch size (1, 16, 256):
 * appends/s, MB/s of payload and fdatasyncs per entry through the storage
 * layer, and the same batch of bytes written with one pwrite + fdatasync
 * per batch into a preallocated, zero-filled file in the same directory:
 * the ratio storage/raw is what the storage layer costs.  The two loops
 * run in alternating slices (10 per case) so that both see the same disk.
 *
 * The storage loop behaves as a node that snapshots: whenever the log
 * holds more than two segments' worth of bytes, it compacts all but the
 * last segment's worth (storage_compact(), which hands covered segment
 * files to the preallocator for reuse).  Pass "nocompact" as the third
 * argument to let the log grow instead.
 *
 * Usage: bench-storage [DIR [SECONDS_PER_CASE [nocompact]]]
 *        (DIR must not be tmpfs)
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <time.h>

#include "storage.h"
#include "storage-internal.h"
#include "vfs.h"
#include "test-storage-util.h"

#define RAW_FILE_BYTES	(256u << 20)
#define SLICES		10
#define SEGMENT_BYTES	(64u << 20)	/* the default */

struct counting {
	struct vfs	 vfs;
	struct vfs_ops	 ops;
	atomic_ulong	 syncs;
};

/* Counts a data sync, then does it. */
static int
count_fdatasync(struct vfs *v, int fd)
{
	struct counting	*c = (struct counting *)v;

	atomic_fetch_add(&c->syncs, 1);
	return vfs_posix_ops.fdatasync(v, fd);
}

/* Counts a full sync, then does it. */
static int
count_fsync(struct vfs *v, int fd)
{
	struct counting	*c = (struct counting *)v;

	atomic_fetch_add(&c->syncs, 1);
	return vfs_posix_ops.fsync(v, fd);
}

/* Counts a directory sync, then does it. */
static int
count_fsync_dir(struct vfs *v, const char *path)
{
	struct counting	*c = (struct counting *)v;

	atomic_fetch_add(&c->syncs, 1);
	return vfs_posix_ops.fsync_dir(v, path);
}

/* Returns monotonic seconds. */
static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct raw {
	int		 fd;
	uint8_t		*buf;
	size_t		 len;		/* bytes per batch */
	uint64_t	 off;
	uint64_t	 entries;
	double		 secs;
};

/* Creates the raw file, preallocated and zero-filled, synced. */
static void
raw_setup(struct raw *r, const char *dir, size_t rec, size_t batch)
{
	char		 path[600];
	uint8_t		*zeros;
	uint64_t	 off;

	memset(r, 0, sizeof(*r));
	snprintf(path, sizeof(path), "%s/raw-bench", dir);
	r->fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	unlink(path);
	r->len = rec * batch;
	r->buf = malloc(r->len);
	memset(r->buf, 0x5a, r->len);
	zeros = calloc(1, 1 << 20);
	for (off = 0; off < RAW_FILE_BYTES; off += 1 << 20)
		if (pwrite(r->fd, zeros, 1 << 20, (off_t)off) != 1 << 20)
			exit(1);
	fdatasync(r->fd);
	free(zeros);
}

/* Raw loop for secs: one pwrite of a batch + one fdatasync. */
static void
raw_run(struct raw *r, size_t batch, double secs)
{
	double	 t0 = now(), t;

	do {
		if (r->off + r->len > RAW_FILE_BYTES)
			r->off = 0;
		if (pwrite(r->fd, r->buf, r->len, (off_t)r->off) !=
		    (ssize_t)r->len || fdatasync(r->fd) != 0)
			exit(1);
		r->off += r->len;
		r->entries += batch;
	} while ((t = now() - t0) < secs);
	r->secs += t;
}

struct bst {
	struct counting		 c;
	struct storage		*st;
	struct raft_entry	*es;
	uint8_t			*data;
	char			 dir[600];
	uint64_t		 next;
	uint64_t		 per_segment;	/* entries; 0: never compact */
	uint64_t		 entries;
	unsigned long		 syncs;
	double			 secs;
};

/* Opens a fresh storage with a sync-counting vfs, warmed up. */
static void
bst_setup(struct bst *b, const char *dir, uint32_t size, size_t batch,
    bool compact)
{
	struct storage_options	 o;
	char			 err[512];
	size_t			 i;

	memset(b, 0, sizeof(*b));
	snprintf(b->dir, sizeof(b->dir), "%s/storage-bench", dir);
	tu_rmtree(b->dir);
	b->c.ops = vfs_posix_ops;
	b->c.ops.fdatasync = count_fdatasync;
	b->c.ops.fsync = count_fsync;
	b->c.ops.fsync_dir = count_fsync_dir;
	b->c.vfs.ops = &b->c.ops;
	storage_options_init(&o);
	o.cluster_id = 1;
	o.node_id = 1;
	o.vfs = &b->c.vfs;
	if (storage_open(b->dir, &o, &b->st, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench: %s\n", err);
		exit(1);
	}
	b->es = calloc(batch, sizeof(*b->es));
	b->data = malloc(size ? size : 1);
	memset(b->data, 0x5a, size);
	b->next = 1;
	if (compact)
		b->per_segment = SEGMENT_BYTES / (48 + ((size + 7) & ~7u));
	for (i = 0; i < batch; i++) {
		b->es[i].term = 1;
		b->es[i].type = RAFT_ENTRY_NORMAL;
		b->es[i].len = size;
		b->es[i].data = b->data;
		b->es[i].index = b->next++;
	}
	/* Warm up: the first segment is prepared by now. */
	storage_append_sync(b->st, b->es, batch, 0, err, sizeof(err));
}

/* Storage loop for secs: append_sync of a batch. */
static void
bst_run(struct bst *b, size_t batch, double secs)
{
	unsigned long	 s0 = atomic_load(&b->c.syncs);
	char		 err[512];
	double		 t0 = now(), t;
	size_t		 i;

	do {
		for (i = 0; i < batch; i++)
			b->es[i].index = b->next++;
		if (storage_append_sync(b->st, b->es, batch, 0, err,
		    sizeof(err)) != 0) {
			fprintf(stderr, "bench: %s\n", err);
			exit(1);
		}
		b->entries += batch;
		/* A snapshot at all but the last segment's worth. */
		if (b->per_segment != 0 && b->next - storage_first_index(b->st) >
		    2 * b->per_segment && storage_compact(b->st, b->next - 1 -
		    b->per_segment, err, sizeof(err)) != 0) {
			fprintf(stderr, "bench: %s\n", err);
			exit(1);
		}
	} while ((t = now() - t0) < secs);
	b->secs += t;
	b->syncs += atomic_load(&b->c.syncs) - s0;
}

int
main(int argc, char **argv)
{
	static const uint32_t sizes[] = { 100, 1024, 65536 };
	static const size_t batches[] = { 1, 16, 256 };
	const char	*dir = argc > 1 ? argv[1] : ".";
	double		 secs = argc > 2 ? atof(argv[2]) : 3.0;
	bool		 compact = !(argc > 3 && strcmp(argv[3], "nocompact") ==
			    0);
	double		 raw_rate, rate;
	struct raw	 raw;
	struct bst	 b;
	size_t		 s, k, slice;

	printf("%-8s %6s %12s %9s %10s %12s %8s %8s\n", "entry", "batch",
	    "appends/s", "MB/s", "syncs/ent", "raw ent/s", "ratio",
	    "recycled");
	for (s = 0; s < 3; s++)
		for (k = 0; k < 3; k++) {
			/* The raw loop writes what the log writes: framed. */
			raw_setup(&raw, dir, 48 + ((sizes[s] + 7) & ~7u),
			    batches[k]);
			bst_setup(&b, dir, sizes[s], batches[k], compact);
			/*
			 * Alternate short slices so that both loops see the
			 * same disk: the machine is shared and noisy.
			 */
			for (slice = 0; slice < SLICES; slice++) {
				raw_run(&raw, batches[k], secs / SLICES);
				bst_run(&b, batches[k], secs / SLICES);
			}
			raw_rate = (double)raw.entries / raw.secs;
			rate = (double)b.entries / b.secs;
			printf("%-8u %6zu %12.0f %9.2f %10.4f %12.0f %8.2f "
			    "%8" PRIu64 "\n", sizes[s], batches[k], rate,
			    rate * sizes[s] / 1e6,
			    (double)b.syncs / (double)b.entries, raw_rate,
			    rate / raw_rate, prep_recycled(b.st));
			fflush(stdout);
			close(raw.fd);
			free(raw.buf);
			storage_close(b.st);
			tu_rmtree(b.dir);
			free(b.es);
			free(b.data);
		}
	return 0;
}
