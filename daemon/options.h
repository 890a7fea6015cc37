/*
 * options.h -- raftkvd's configuration: one table of options, each settable
 * as a command-line flag and as a RAFTKV_* environment variable.
 *
 * The table drives parsing, --help and the defaults; man/raftkvd.8 documents
 * the same table.  Flags override the environment, which overrides the
 * defaults.
 */
#ifndef RAFTKV_OPTIONS_H
#define RAFTKV_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "raft.h"

struct options {
	uint64_t	 node_id;
	char		*cluster_name;		/* owned */
	uint64_t	 cluster_id;		/* derived from cluster_name */
	struct raft_cluster members;		/* initial members */
	char		*peer_listen;		/* owned; host:port */
	char		*client_listen;		/* owned; host:port */
	char		*data_dir;		/* owned */
	char		*log_level;		/* owned */
	uint64_t	 election_ms;
	uint64_t	 heartbeat_ms;
	uint64_t	 tick_ms;
	uint64_t	 request_timeout_ms;
	uint64_t	 max_pending;		/* proposals waiting for apply */
	uint64_t	 max_pending_reads;
	uint64_t	 max_key_size;
	uint64_t	 max_value_size;
	uint64_t	 max_connections;
	uint64_t	 idle_timeout_s;
	uint64_t	 max_inflight;		/* APPENDs in flight per peer */
	uint64_t	 session_window;	/* exactly-once expiry, indexes */
	uint64_t	 segment_size;		/* preallocated log segment bytes */
	uint64_t	 snapshot_entries;	/* applied entries per snapshot */
	uint64_t	 snapshot_bytes;	/* applied bytes per snapshot */
	uint64_t	 snapshot_keep;		/* trailing entries kept */
	uint64_t	 snapshot_chunk;	/* bytes per transfer request */
	uint64_t	 leader_sync_delay_us;	/* disk_set_coalesce() */
	uint64_t	 spare_sync_delay_us;	/* disk_set_lazy(); 0: no spares */
	char		*test_vfs;		/* owned; test-only I/O layer */
};

/*
 * Parses argv (from optind-style position 1) and the environment into *cfg
 * (caller-owned; release with options_free()).  On error writes a
 * message to err and returns -1: the caller exits with status 2.  Returns 1
 * when --help or --version was handled (printed to out) and 0 otherwise.
 */
int	 options_parse(struct options *cfg, int argc, char **argv,
	    FILE *out, char *err, size_t errlen);
void	 options_free(struct options *cfg);
/* Prints the usage text generated from the option table. */
void	 options_usage(FILE *out);
/*
 * Parses a --member value "ID,PEER_URL,CLIENT_URL" into *m.  Returns 0 or
 * -1 with err filled.
 */
int	 options_parse_member(const char *spec, struct raft_member *m, char *err,
	    size_t errlen);
/* Derives the 64-bit cluster id from a cluster name (never 0). */
uint64_t options_cluster_id(const char *name);

#endif /* RAFTKV_OPTIONS_H */
