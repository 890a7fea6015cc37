/*
 * bench-storage.c -- storage throughput against a raw write+fdatasync loop.
 *
 * For each entry size (100 B, 1 KiB, 64 KiB) and batch size (1, 16, 256):
 * appends/s, MB/s of payload and fdatasyncs per entry through the storage
 * layer, and the same batch of bytes written with one pwrite + fdatasync
 * per batch into a preallocated, zero-filled file in the same directory:
 * the ratio storage/raw is what the storage layer costs.
 *
 * Usage: bench-storage [DIR [SECONDS_PER_CASE]]   (DIR must not be tmpfs)
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <time.h>

#include "storage.h"
#include "vfs.h"
#include "test-storage-util.h"

#define RAW_FILE_BYTES	(256u << 20)

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

/* Raw loop: one pwrite of batch records + one fdatasync, preallocated. */
static double
bench_raw(const char *dir, size_t rec, size_t batch, double secs)
{
	char		 path[600];
	uint8_t		*buf, *zeros;
	size_t		 len = rec * batch;
	uint64_t	 off = 0, batches = 0;
	double		 t0, t;
	int		 fd;

	snprintf(path, sizeof(path), "%s/raw-bench", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	zeros = calloc(1, 1 << 20);
	buf = malloc(len);
	memset(buf, 0x5a, len);
	for (off = 0; off < RAW_FILE_BYTES; off += 1 << 20)
		if (pwrite(fd, zeros, 1 << 20, (off_t)off) != 1 << 20)
			exit(1);
	fdatasync(fd);
	off = 0;
	t0 = now();
	do {
		if (off + len > RAW_FILE_BYTES)
			off = 0;
		if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len ||
		    fdatasync(fd) != 0)
			exit(1);
		off += len;
		batches++;
	} while ((t = now() - t0) < secs);
	close(fd);
	unlink(path);
	free(buf);
	free(zeros);
	return (double)(batches * batch) / t;
}

/* Storage loop: append_sync of batch entries of size bytes. */
static double
bench_storage(const char *dir, uint32_t size, size_t batch, double secs,
    double *syncs_per_entry)
{
	struct counting		 c;
	struct storage_options	 o;
	struct storage		*st;
	struct raft_entry	*es;
	uint8_t			*data;
	char			 sdir[600], err[512];
	uint64_t		 next = 1, n0;
	unsigned long		 s0;
	size_t			 i;
	double			 t0, t;

	snprintf(sdir, sizeof(sdir), "%s/storage-bench", dir);
	tu_rmtree(sdir);
	memset(&c, 0, sizeof(c));
	c.ops = vfs_posix_ops;
	c.ops.fdatasync = count_fdatasync;
	c.ops.fsync = count_fsync;
	c.ops.fsync_dir = count_fsync_dir;
	c.vfs.ops = &c.ops;
	storage_options_init(&o);
	o.cluster_id = 1;
	o.node_id = 1;
	o.vfs = &c.vfs;
	if (storage_open(sdir, &o, &st, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench: %s\n", err);
		exit(1);
	}
	es = calloc(batch, sizeof(*es));
	data = malloc(size ? size : 1);
	memset(data, 0x5a, size);
	/* Warm up: the first segment is being prepared. */
	for (i = 0; i < batch; i++) {
		es[i].term = 1;
		es[i].type = RAFT_ENTRY_NORMAL;
		es[i].len = size;
		es[i].data = data;
	}
	for (i = 0; i < batch; i++)
		es[i].index = next++;
	storage_append_sync(st, es, batch, 0, err, sizeof(err));
	s0 = atomic_load(&c.syncs);
	n0 = next;
	t0 = now();
	do {
		for (i = 0; i < batch; i++)
			es[i].index = next++;
		if (storage_append_sync(st, es, batch, 0, err,
		    sizeof(err)) != 0) {
			fprintf(stderr, "bench: %s\n", err);
			exit(1);
		}
	} while ((t = now() - t0) < secs);
	*syncs_per_entry = (double)(atomic_load(&c.syncs) - s0) /
	    (double)(next - n0);
	storage_close(st);
	tu_rmtree(sdir);
	free(es);
	free(data);
	return (double)(next - n0) / t;
}

int
main(int argc, char **argv)
{
	static const uint32_t sizes[] = { 100, 1024, 65536 };
	static const size_t batches[] = { 1, 16, 256 };
	const char	*dir = argc > 1 ? argv[1] : ".";
	double		 secs = argc > 2 ? atof(argv[2]) : 3.0;
	double		 raw, rate, spe;
	size_t		 s, b, rec;

	printf("%-8s %6s %12s %9s %10s %12s %8s\n", "entry", "batch",
	    "appends/s", "MB/s", "syncs/ent", "raw ent/s", "ratio");
	for (s = 0; s < 3; s++)
		for (b = 0; b < 3; b++) {
			/* The raw loop writes what the log writes: framed. */
			rec = 48 + ((sizes[s] + 7) & ~7u);
			raw = bench_raw(dir, rec, batches[b], secs);
			rate = bench_storage(dir, sizes[s], batches[b], secs,
			    &spe);
			printf("%-8u %6zu %12.0f %9.2f %10.4f %12.0f %8.2f\n",
			    sizes[s], batches[b], rate, rate * sizes[s] / 1e6,
			    spe, raw, rate / raw);
			fflush(stdout);
		}
	return 0;
}
