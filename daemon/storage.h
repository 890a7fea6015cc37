/*
 * storage.h -- durable storage of one raftkvd node: the segmented log, the
 * hard state, snapshot files, and the data directory that holds them.
 *
 * Threading: not thread-safe.  The daemon calls everything from one disk
 * thread, serially.  Inside, one helper thread (started by storage_open(),
 * joined by storage_close()) preallocates and zero-fills the next segment
 * file while the current one fills, so that no append waits for it.
 *
 * Errors: every function returning int returns 0 or a negative errno, and
 * writes what failed -- file, offset, what was expected -- into the
 * caller's buffer err of errlen bytes.  Codes used:
 *   -EBADMSG   corruption (names file and offset); the node must not start;
 *   -EBUSY     another process holds the data directory's lock;
 *   -ESTALE    the directory belongs to another cluster or node;
 *   -EIO, -ENOSPC (or another write errno)  a write or sync failed: the
 *              storage is then STORAGE_FAILED and every later call returns
 *              that same error, since nothing written after a failed write
 *              or fsync can be trusted;
 *   -EINVAL    a call that breaks the log's rules (gap, compacted index).
 *
 * Durability contract: when storage_sync() (or storage_append_sync())
 * returns 0, every entry appended before it is durable.  When
 * storage_save_hard_state() returns 0 the hard state is durable.  Snapshot
 * installation is durable when storage_snapshot_commit() returns 0.
 * See docs/storage.md.
 */
#ifndef RAFTKV_STORAGE_H
#define RAFTKV_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "raft.h"

struct logger;
struct vfs;
struct storage;
struct storage_snapshot_writer;

enum storage_state {
	STORAGE_OK = 0,
	STORAGE_FAILED,		/* a write or sync failed; see storage_error() */
};

struct storage_options {
	uint64_t	 cluster_id;	/* nonzero */
	uint64_t	 node_id;	/* nonzero */
	size_t		 segment_bytes;	/* preallocated size, default 64 MiB */
	/*
	 * The most bytes ever written without a sync (default 32 MiB): a
	 * larger batch is synced in parts.  Recovery accepts valid records
	 * within this window after an invalid one as a torn tail.
	 */
	size_t		 max_unsynced_bytes;
	struct vfs	*vfs;		/* borrowed; NULL: plain POSIX */
	const struct logger *log;	/* borrowed; NULL: silent */
};

/* Fills *o with the defaults; the caller then sets the ids. */
void	 storage_options_init(struct storage_options *o);

/*
 * Opens (creating if needed) the data directory dir (copied) and recovers
 * it: takes the flock, checks the identity, cleans partial files, truncates
 * a torn log tail (logged at warn), and refuses corruption.  On success
 * *out is new and owned by the caller (storage_close()).  opts is copied;
 * opts->vfs and opts->log must outlive the storage.
 */
int	 storage_open(const char *dir, const struct storage_options *opts,
	    struct storage **out, char *err, size_t errlen);

/* What the node restores its core from. */
struct storage_loaded {
	struct raft_hard_state hs;	/* commit: a lower bound */
	bool		 has_snapshot;
	raft_index_t	 snapshot_index;
	raft_term_t	 snapshot_term;
	uint8_t		*snapshot_config;	/* owned; raft_cluster_encode() */
	size_t		 snapshot_config_len;
	uint64_t	 snapshot_image_len;
	/*
	 * Entries snapshot_index+1 .. last, contiguous.  The array and every
	 * entries[i].data are owned by this struct until
	 * storage_loaded_free().
	 */
	struct raft_entry *entries;
	size_t		 n_entries;
	void		*arena;			/* owned; the payload bytes */
};

/* Fills *out (caller's struct, contents new) with everything to restore. */
int	 storage_load(struct storage *st, struct storage_loaded *out,
	    char *err, size_t errlen);
/* Frees what storage_load() put in *l (the struct itself is the caller's). */
void	 storage_loaded_free(struct storage_loaded *l);

/*
 * Appends entries[0..n) (borrowed; data copied to the file).  If
 * entries[0].index <= the last index, the log is first truncated from
 * entries[0].index (a conflict).  Indices must be contiguous.  commit is
 * recorded with the batch (lazily persisted; 0 = unchanged).  Bytes are
 * written (page cache) but only durable after storage_sync(); a batch
 * larger than max_unsynced_bytes is synced in parts.  n may be 0.
 */
int	 storage_append(struct storage *st, const struct raft_entry *entries,
	    size_t n, raft_index_t commit, char *err, size_t errlen);
/* Makes everything appended so far durable: one fdatasync (+ dir fsync). */
int	 storage_sync(struct storage *st, char *err, size_t errlen);
/*
 * How many fdatasync/fsync calls st's I/O layer made so far (the log, the
 * hard state, directories, segment preparation); any thread may ask.
 */
uint64_t storage_syncs(const struct storage *st);
/* storage_append() then storage_sync(). */
int	 storage_append_sync(struct storage *st,
	    const struct raft_entry *entries, size_t n, raft_index_t commit,
	    char *err, size_t errlen);

/*
 * Writes hs (borrowed) atomically and durably (temp file, fdatasync,
 * rename, directory fsync).  Call when term or vote change; the commit
 * index in it is also a lower bound.
 */
int	 storage_save_hard_state(struct storage *st,
	    const struct raft_hard_state *hs, char *err, size_t errlen);

/* Drops every entry after last_kept (durable on return). */
int	 storage_truncate_suffix(struct storage *st, raft_index_t last_kept,
	    char *err, size_t errlen);
/*
 * Removes whole closed segments whose entries are all <= upto (compaction
 * after a snapshot at upto); up to two are kept as spare-N files that the
 * helper thread reuses for the next segments.  Entries <= upto may remain
 * in a segment that also holds later ones.
 */
int	 storage_compact(struct storage *st, raft_index_t upto, char *err,
	    size_t errlen);
/*
 * Discards the whole log; the next append starts at index + 1.  For after
 * installing a snapshot at index that is ahead of the log.
 */
int	 storage_reset(struct storage *st, raft_index_t index, char *err,
	    size_t errlen);

/*
 * Reads entry index from its file.  On success *e is filled and e->data
 * points into *buf, a new buffer the caller frees with free().
 */
int	 storage_read_entry(struct storage *st, raft_index_t index,
	    struct raft_entry *e, uint8_t **buf, char *err, size_t errlen);
/* Called per entry by storage_read_range(); e->data borrowed for the call. */
typedef int storage_entry_fn(void *ctx, const struct raft_entry *e);
/* Calls cb for lo..hi (inclusive) in order; stops on cb's nonzero return. */
int	 storage_read_range(struct storage *st, raft_index_t lo,
	    raft_index_t hi, storage_entry_fn *cb, void *ctx, char *err,
	    size_t errlen);

/* First and last index in the log (first > last when it is empty). */
raft_index_t storage_first_index(const struct storage *st);
raft_index_t storage_last_index(const struct storage *st);
/* The last index made durable by a sync. */
raft_index_t storage_durable_index(const struct storage *st);
enum storage_state storage_get_state(const struct storage *st);
/* The error that failed the storage (0 if OK); its message (borrowed). */
int	 storage_error(const struct storage *st, const char **msg);

/*
 * Snapshots.  begin() starts a temporary file for a snapshot at index/term
 * with config (borrowed, copied); write() streams the image (borrowed);
 * commit() is storage_snapshot_finish() then storage_snapshot_install()
 * (tag "local"; so -ESTALE if index is not above the latest snapshot's);
 * abort() deletes the temporary file.  Both commit() and abort() free *w.
 */
int	 storage_snapshot_begin(struct storage *st, raft_index_t index,
	    raft_term_t term, const uint8_t *config, size_t config_len,
	    struct storage_snapshot_writer **w, char *err, size_t errlen);
int	 storage_snapshot_write(struct storage_snapshot_writer *w,
	    const void *buf, size_t len, char *err, size_t errlen);
int	 storage_snapshot_commit(struct storage_snapshot_writer *w, char *err,
	    size_t errlen);
void	 storage_snapshot_abort(struct storage_snapshot_writer *w);
/* Called with successive chunks of the image (borrowed for the call). */
typedef int storage_chunk_fn(void *ctx, const uint8_t *buf, size_t len);
/*
 * Streams the latest snapshot's image to cb, verifying its checksum again
 * (-EBADMSG if it fails at the end: discard what was read).  -ENOENT if
 * there is no snapshot.
 */
int	 storage_snapshot_read(struct storage *st, storage_chunk_fn *cb,
	    void *ctx, char *err, size_t errlen);

/*
 * Snapshot files written without a struct storage: safe in a forked child
 * (which must not touch the parent's storage) and for a file received from
 * a peer in chunks on the event loop.  Both write DIR/snapshot-INDEX.TAG.tmp
 * (TAG: a short [a-z]+ name such as "build" or "recv"; an existing file of
 * that name is replaced) through vfs (borrowed; NULL: POSIX).
 *   storage_snapshot_create(): an image writer; the header (index, term,
 *     config copied) is written now, storage_snapshot_write() streams the
 *     state-machine image, storage_snapshot_finish() appends the trailer.
 *   storage_snapshot_receive(): a raw writer; storage_snapshot_write()
 *     takes the file's bytes exactly as the sender's file holds them, and
 *     storage_snapshot_finish() adds nothing.
 * storage_snapshot_finish() fdatasyncs and closes the file, leaving the
 * .tmp in place for storage_snapshot_install(), and frees *w (on error it
 * deletes the file too).  A bad tag or index 0 is -EINVAL.
 * storage_snapshot_abort() deletes the file and frees *w.  storage_open()
 * deletes every snapshot-*.tmp it finds (logged): partial files are never
 * loaded.
 */
int	 storage_snapshot_create(const char *dir, struct vfs *vfs,
	    const char *tag, raft_index_t index, raft_term_t term,
	    const uint8_t *config, size_t config_len,
	    struct storage_snapshot_writer **w, char *err, size_t errlen);
int	 storage_snapshot_receive(const char *dir, struct vfs *vfs,
	    const char *tag, raft_index_t index,
	    struct storage_snapshot_writer **w, char *err, size_t errlen);
/* Bytes written so far through w (the whole file, header included). */
uint64_t storage_snapshot_written(const struct storage_snapshot_writer *w);
int	 storage_snapshot_finish(struct storage_snapshot_writer *w, char *err,
	    size_t errlen);
/* Formats DIR/snapshot-INDEX.TAG.tmp, the file the writers above write. */
void	 storage_snapshot_tmp_path(char *buf, size_t len, const char *dir,
	    raft_index_t index, const char *tag);

/*
 * Makes DIR/snapshot-INDEX.TAG.tmp (finished) the latest snapshot: verifies
 * the whole file (header, index and term as given, sizes, whole-file
 * CRC), renames it to snapshot-INDEX, fsyncs the directory, records it as
 * the latest, and only then removes older snapshot files.  The log is not
 * touched: the caller then compacts or resets it.  Returns 0; -EBADMSG if
 * the file fails verification (the file is deleted, err says why);
 * -ESTALE if index is not above the latest snapshot's (file deleted);
 * -ENOENT if there is no such file; a write errno fails the storage.
 */
int	 storage_snapshot_install(struct storage *st, const char *tag,
	    raft_index_t index, raft_term_t term, char *err, size_t errlen);

/*
 * storage_snapshot_install() for a file the caller has verified as a whole
 * (storage_snapshot_file_verify()) since it was finished -- the daemon's
 * forked child verifies what it wrote, the receiver what it received --
 * so that the disk thread, which every log write waits for, does not read
 * the whole file again: only the header, sizes, configuration and the
 * trailer's fields are checked.
 */
int	 storage_snapshot_install_verified(struct storage *st,
	    const char *tag, raft_index_t index, raft_term_t term, char *err,
	    size_t errlen);

/* The latest snapshot, as the node sends it to peers and serves backups. */
struct storage_snapshot_info {
	bool		 exists;
	raft_index_t	 index;
	raft_term_t	 term;
	uint64_t	 file_size;	/* bytes of the whole file */
	uint32_t	 file_crc;	/* the trailer's CRC: names the bytes */
	char		 path[4096];	/* DIR/snapshot-INDEX */
};
void	 storage_snapshot_get_info(const struct storage *st,
	    struct storage_snapshot_info *out);

/* What a snapshot file (verified as a whole) holds. */
struct storage_snapshot_meta {
	raft_index_t	 index;
	raft_term_t	 term;
	uint8_t		*config;	/* owned; free() it */
	size_t		 config_len;
	uint64_t	 image_len;
	uint64_t	 image_offset;	/* where the image starts in the file */
	uint64_t	 file_size;
	uint32_t	 file_crc;
};
/*
 * Verifies the snapshot file at path (any name: a backup, a received
 * file) as a whole and fills *meta.  Returns 0, -EBADMSG with the offset
 * and what was expected in err, or another negative errno (-ENOENT...).
 */
int	 storage_snapshot_file_verify(const char *path,
	    struct storage_snapshot_meta *meta, char *err, size_t errlen);
/*
 * Fills *meta like storage_snapshot_file_verify() but checks only the
 * header, the sizes and the trailer's magic and image length, without
 * reading the image: for a file verified as a whole already (the latest
 * snapshot, which storage_open() verified).  Returns 0 or -EBADMSG/-errno.
 */
int	 storage_snapshot_file_meta(const char *path,
	    struct storage_snapshot_meta *meta, char *err, size_t errlen);
/*
 * Streams the image of the snapshot file at path to cb, checking the CRC
 * again as it goes (-EBADMSG at the end if it fails: discard what was
 * read).
 */
int	 storage_snapshot_file_read(const char *path, storage_chunk_fn *cb,
	    void *ctx, char *err, size_t errlen);

/*
 * Checks the data directory dir (borrowed) without starting a node and
 * writes a report to report (borrowed).  With repair, a problem that
 * truncating the log can fix is fixed, after copying every file it cuts
 * into dir/repair-TIMESTAMP/.  vfs borrowed (NULL: POSIX), log optional.
 * Returns 0 if the directory is (now) sound, -EBADMSG if problems remain,
 * or another negative errno.
 */
int	 storage_check(const char *dir, bool repair, FILE *report,
	    struct vfs *vfs, char *err, size_t errlen);

/* Stops the helper thread, closes files and frees st (NULL allowed). */
void	 storage_close(struct storage *st);

#endif /* RAFTKV_STORAGE_H */
