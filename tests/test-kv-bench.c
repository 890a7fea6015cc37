/*
 * test-kv-bench.c -- memory and speed figures for the state machine (not
 * part of `make check`):
 *
 *	tests/test-kv-bench [keys [value-bytes [snapshot-file]]]
 *
 * Applies keys PUTs of 16-byte keys in a scrambled order through the byte
 * path (kvcmd encode + kv_apply), then reports the process RSS against the
 * raw key+value bytes, apply and get throughput, and the time and size of a
 * snapshot written to and read back from snapshot-file (default
 * /tmp/test-kv-bench.snap, removed afterwards).  Run it on a build without
 * sanitizers for meaningful figures.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kv.h"

/* Returns the resident set size in bytes, from /proc/self/statm. */
static uint64_t
rss_bytes(void)
{
	FILE		*f = fopen("/proc/self/statm", "r");
	unsigned long	 size = 0, resident = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Returns a monotonic time in seconds. */
static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Writes to a file descriptor (a kv_write_fn). */
static int
fd_write(void *arg, const void *buf, size_t len)
{
	int		 fd = *(int *)arg;
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads from a file descriptor (a kv_read_fn). */
static ssize_t
fd_read(void *arg, void *buf, size_t len)
{
	ssize_t	 n;

	while ((n = read(*(int *)arg, buf, len)) < 0 && errno == EINTR)
		;
	return n < 0 ? -errno : n;
}

/* Loads the keys, then prints memory, speed and snapshot figures. */
int
main(int argc, char **argv)
{
	struct kv_config	 cfg;
	struct kv		*kv, *copy;
	struct kvcmd		 cmd;
	struct kv_result	 res;
	struct kv_entry		 e;
	unsigned char		*buf, *value;
	char			 key[32], err[256];
	const char		*path = "/tmp/test-kv-bench.snap";
	uint64_t		 n = 1000000, vlen = 256, i, k, rss0, rss1, raw;
	uint64_t		 idx = 0, found = 0;
	double			 t0, t1;
	long long		 len;
	off_t			 size;
	int			 fd;

	if (argc > 1)
		n = strtoull(argv[1], NULL, 10);
	if (argc > 2)
		vlen = strtoull(argv[2], NULL, 10);
	if (argc > 3)
		path = argv[3];
	if (n == 0 || vlen > 1024 * 1024)
		return 2;
	kv_config_default(&cfg);
	if (kv_new(&cfg, &kv, err, sizeof err) != 0 ||
	    (buf = malloc(vlen + 128)) == NULL ||
	    (value = malloc(vlen + 1)) == NULL) {
		fprintf(stderr, "setup: %s\n", err);
		return 1;
	}
	memset(value, 'v', vlen);
	rss0 = rss_bytes();
	memset(&cmd, 0, sizeof cmd);
	cmd.op = KVCMD_PUT;
	cmd.key = key;
	cmd.value = value;
	cmd.value_len = vlen;
	t0 = now();
	for (i = 0; i < n; i++) {
		/* A permutation of 0..n-1 scatters the inserts. */
		k = (i * 2654435761ULL) % n;
		cmd.key_len = (size_t)snprintf(key, sizeof key, "key-%012" PRIu64,
		    k);
		value[0] = (unsigned char)i;
		len = kvcmd_encode(&cmd, buf, vlen + 128, err, sizeof err);
		if (len < 0 || kv_apply(kv, ++idx, buf, (size_t)len, &res, err,
		    sizeof err) != 0 || res.status != KV_OK) {
			fprintf(stderr, "apply %" PRIu64 ": %s\n", i, err);
			return 1;
		}
	}
	t1 = now();
	rss1 = rss_bytes();
	raw = kv_data_bytes(kv);
	printf("keys                 %" PRIu64 " (16-byte keys, %" PRIu64
	    "-byte values; %" PRIu64 " distinct)\n", n, vlen,
	    (uint64_t)kv_count(kv));
	printf("raw key+value bytes  %.1f MiB\n", (double)raw / 1048576);
	printf("process RSS          %.1f MiB (%.1f MiB before loading)\n",
	    (double)rss1 / 1048576, (double)rss0 / 1048576);
	printf("RSS / raw            %.3f\n", (double)rss1 / (double)raw);
	printf("apply (PUT, new)     %.0f ops/s\n", (double)n / (t1 - t0));

	/* Overwrites under client sessions, cas on the current index. */
	t0 = now();
	for (i = 0; i < n; i++) {
		k = (i * 40503ULL) % n;
		cmd.key_len = (size_t)snprintf(key, sizeof key, "key-%012" PRIu64,
		    k);
		if (kv_get(kv, key, cmd.key_len, &e) != 0)
			return 1;
		cmd.has_cas = true;
		cmd.cas = e.mod_index;
		cmd.client_id = 1 + i % 1000;
		cmd.seq = 1 + i / 1000;
		len = kvcmd_encode(&cmd, buf, vlen + 128, err, sizeof err);
		if (len < 0 || kv_apply(kv, ++idx, buf, (size_t)len, &res, err,
		    sizeof err) != 0 || res.status != KV_OK) {
			fprintf(stderr, "cas %" PRIu64 ": %s %s\n", i, err,
			    kv_status_name(res.status));
			return 1;
		}
	}
	t1 = now();
	printf("apply (CAS+session)  %.0f ops/s (incl. a get each)\n",
	    (double)n / (t1 - t0));
	t0 = now();
	for (i = 0; i < n; i++) {
		k = (i * 7919ULL) % n;
		snprintf(key, sizeof key, "key-%012" PRIu64, k);
		found += kv_get(kv, key, 16, &e) == 0;
	}
	t1 = now();
	printf("get                  %.0f ops/s (%" PRIu64 " found)\n",
	    (double)n / (t1 - t0), found);
	printf("state hash           %016" PRIx64 " at index %" PRIu64 "\n",
	    kv_state_hash(kv), kv_applied_index(kv));

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		return 1;
	t0 = now();
	if (kv_snapshot_write(kv, fd_write, &fd, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	t1 = now();
	size = lseek(fd, 0, SEEK_END);
	close(fd);
	printf("snapshot write       %.2f s, %.1f MiB (page cache, no fsync)\n",
	    t1 - t0, (double)size / 1048576);
	{
		uint64_t	 hash = kv_state_hash(kv);

		kv_free(kv);
		if ((fd = open(path, O_RDONLY)) < 0)
			return 1;
		t0 = now();
		if (kv_snapshot_read(&cfg, fd_read, &fd, &copy, err,
		    sizeof err) != 0) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		t1 = now();
		close(fd);
		printf("snapshot read        %.2f s (verified: hash %s)\n",
		    t1 - t0, kv_state_hash(copy) == hash ? "equal" : "DIFFERS");
		printf("RSS after restore    %.1f MiB\n",
		    (double)rss_bytes() / 1048576);
	}
	unlink(path);
	kv_free(copy);
	free(buf);
	free(value);
	return 0;
}
