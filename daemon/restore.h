/*
 * restore.h -- "raftkvd restore": makes the data directory of one node of a
 * NEW cluster from a backup (a snapshot file saved by "raftkvctl snapshot
 * save") or, after a cluster lost a majority for good, from a stopped
 * survivor's data directory.  The procedure is in docs/backup.md.
 *
 * The new directory holds one snapshot (the source's key-value state at
 * its index and term, with the new cluster's configuration), an empty log
 * that continues after it, and the hard state {term, no vote, commit =
 * index}.  Every node of the new cluster is restored from the same source
 * with the same member list, and then started normally.
 */
#ifndef RAFTKV_RESTORE_H
#define RAFTKV_RESTORE_H

#include <stdio.h>

struct logger;

/* How a restore ended; raftkvd maps these onto its exit statuses. */
enum restore_result {
	RESTORE_OK = 0,
	RESTORE_FAILED,		/* a runtime error: I/O, memory, a lock */
	RESTORE_USAGE,		/* bad or missing options */
	RESTORE_CORRUPT,	/* the source fails verification */
	RESTORE_REFUSED,	/* the target is not empty, or a lost-quorum
				   source without --force-lost-quorum */
};

/*
 * Runs "raftkvd restore" on argv[2..argc) (borrowed): its own options
 * (--snapshot FILE | --from-data-dir DIR, --force-lost-quorum, --help),
 * and raftkvd's node options, parsed by options_parse() as for a start.
 * Prints a summary on stdout and diagnostics (and the lost-quorum
 * warning) on stderr; lg (borrowed) logs the storage's own messages.
 */
enum restore_result restore_run(const struct logger *lg, int argc,
	    char **argv);
/* Prints the usage of "raftkvd restore". */
void	 restore_usage(FILE *out);

#endif /* RAFTKV_RESTORE_H */
