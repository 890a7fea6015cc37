/*
 * restore.c -- "raftkvd restore": a new node's data directory from a backup
 * or from a stopped survivor's data directory (docs/backup.md).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kv.h"
#include "log.h"
#include "options.h"
#include "raft.h"
#include "restore.h"
#include "snapload.h"
#include "storage-format.h"
#include "storage.h"
#include "xmalloc.h"

#define RESTORE_TAG	"restore"	/* snapshot-INDEX.restore.tmp */

/* The options of "restore" itself; the rest go to options_parse(). */
struct restore_args {
	const char	*snapshot;	/* --snapshot FILE */
	const char	*from_dir;	/* --from-data-dir DIR */
	bool		 force;		/* --force-lost-quorum */
	bool		 help;
	char		**node_argv;	/* owned array; strings borrowed/owned */
	int		 node_argc;
	char		**owned;	/* owned strings in node_argv */
	int		 n_owned;
};

/* What is restored: a state at index/term and where to read it. */
struct restore_source {
	raft_index_t	 index;
	raft_term_t	 term;
	struct raft_cluster config;	/* the source's, in effect at index */
	bool		 has_config;
	/* --from-data-dir: the old node's storage, opened and loaded. */
	struct storage	*st;
	struct storage_loaded ld;
	bool		 loaded;
	uint64_t	 old_cluster_id, old_node_id;
	raft_index_t	 log_last;	/* the old log's last index */
};

void
restore_usage(FILE *out)
{
	fprintf(out,
	    "usage: raftkvd restore --snapshot FILE [--force-lost-quorum] "
	    "NODE-OPTIONS...\n"
	    "       raftkvd restore --from-data-dir OLD-DIR --force-lost-quorum "
	    "NODE-OPTIONS...\n\n"
	    "Makes the data directory of one node of a NEW cluster (--data-dir "
	    "must not\nexist or be empty) from a backup saved by \"raftkvctl "
	    "snapshot save\", or from\nthe data directory of a stopped node of "
	    "a cluster that lost a majority for\ngood.  NODE-OPTIONS are "
	    "raftkvd's own (--id, --data-dir, --cluster, --member\nand the "
	    "others, or their RAFTKV_* variables), the same as for starting "
	    "the\nnode; without --member the source's own members are kept.  "
	    "Restore every node\nof the new cluster from the same source with "
	    "the same members, then start them.\n\n"
	    "  --snapshot FILE        a snapshot file (verified as a whole, "
	    "its state decoded)\n"
	    "  --from-data-dir DIR    a stopped node's data directory: its "
	    "snapshot and the\n"
	    "                         log entries it knows to be committed\n"
	    "  --force-lost-quorum    required with --from-data-dir: accept "
	    "that writes\n"
	    "                         acknowledged after the restored index "
	    "may be lost\n\n"
	    "Exit status: 0 restored, 1 runtime error, 2 usage, 3 the source "
	    "is corrupt,\n4 refused (target not empty, or "
	    "--force-lost-quorum missing).\nSee raftkvd(8) and "
	    "docs/backup.md.\n");
}

/* Frees what parse_args() allocated. */
static void
args_free(struct restore_args *ra)
{
	int	 i;

	for (i = 0; i < ra->n_owned; i++)
		free(ra->owned[i]);
	free(ra->owned);
	free(ra->node_argv);
	memset(ra, 0, sizeof(*ra));
}

/* Appends s to the node options; owned says whether ra frees it. */
static void
node_arg(struct restore_args *ra, char *s, bool owned)
{
	ra->node_argv = xrealloc(ra->node_argv, (size_t)(ra->node_argc + 2) *
	    sizeof(*ra->node_argv));
	ra->node_argv[ra->node_argc++] = s;
	ra->node_argv[ra->node_argc] = NULL;
	if (owned) {
		ra->owned = xrealloc(ra->owned, (size_t)(ra->n_owned + 1) *
		    sizeof(*ra->owned));
		ra->owned[ra->n_owned++] = s;
	}
}

/*
 * Takes restore's own options out of argv[2..) and keeps the rest, after
 * a program name, for options_parse().  Returns 0 or -1 with err.
 */
static int
parse_args(int argc, char **argv, struct restore_args *ra, char *err,
    size_t errlen)
{
	static const struct {
		const char	*flag;
		size_t		 offset;
	} valued[] = {
		{ "--snapshot", offsetof(struct restore_args, snapshot) },
		{ "--from-data-dir", offsetof(struct restore_args, from_dir) },
	};
	int	 a;
	size_t	 k;

	memset(ra, 0, sizeof(*ra));
	node_arg(ra, argv[0], false);
	for (a = 2; a < argc; a++) {
		const char	*arg = argv[a];
		bool		 mine = false;

		for (k = 0; k < sizeof(valued) / sizeof(valued[0]); k++) {
			size_t	 len = strlen(valued[k].flag);
			const char **slot = (const char **)(void *)((char *)ra +
			    valued[k].offset);

			if (strncmp(arg, valued[k].flag, len) != 0 ||
			    (arg[len] != '\0' && arg[len] != '='))
				continue;
			mine = true;
			if (arg[len] == '=')
				*slot = arg + len + 1;
			else if (a + 1 < argc)
				*slot = argv[++a];
			else {
				snprintf(err, errlen, "%s needs a value",
				    valued[k].flag);
				return -1;
			}
			if (**slot == '\0') {
				snprintf(err, errlen, "%s is empty",
				    valued[k].flag);
				return -1;
			}
		}
		if (strcmp(arg, "--force-lost-quorum") == 0) {
			ra->force = true;
			mine = true;
		} else if (strcmp(arg, "--help") == 0 ||
		    strcmp(arg, "-h") == 0) {
			ra->help = true;
			mine = true;
		}
		if (!mine)
			node_arg(ra, argv[a], false);
	}
	if (ra->help)
		return 0;
	if ((ra->snapshot == NULL) == (ra->from_dir == NULL)) {
		snprintf(err, errlen, "give exactly one of --snapshot FILE and "
		    "--from-data-dir DIR");
		return -1;
	}
	return 0;
}

/* True if the node options or the environment name the members. */
static bool
members_given(const struct restore_args *ra)
{
	const char	*env = getenv("RAFTKV_MEMBERS");
	int		 a;

	if (env != NULL && *env != '\0')
		return true;
	for (a = 1; a < ra->node_argc; a++)
		if (strcmp(ra->node_argv[a], "--member") == 0 ||
		    strncmp(ra->node_argv[a], "--member=", 9) == 0)
			return true;
	return false;
}

/*
 * Looks at dir: 0 if it does not exist, 1 if it is an empty directory,
 * 2 if it holds anything, or a negative errno (not a directory...).
 */
static int
dir_state(const char *dir)
{
	struct stat	 sb;
	struct dirent	*de;
	DIR		*d;
	int		 st = 1;

	if (stat(dir, &sb) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(sb.st_mode))
		return -ENOTDIR;
	if ((d = opendir(dir)) == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			st = 2;
	closedir(d);
	return st;
}

/*
 * Undoes a failed restore: removes every file in dir (which was empty or
 * missing when the restore began) and dir itself if the restore made it.
 */
static void
dir_undo(const char *dir, bool created)
{
	struct dirent	*de;
	DIR		*d;
	char		 path[PATH_MAX];

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	if (created)
		rmdir(dir);
}

/* Reads dir/meta: the old node's cluster and node ids. */
static int
read_identity(const char *dir, uint64_t *cluster, uint64_t *node, char *err,
    size_t errlen)
{
	char		*path = xasprintf("%s/meta", dir), why[200];
	uint8_t		 buf[META_SIZE + 1];
	size_t		 len;
	FILE		*f;
	int		 rc = 0;

	if ((f = fopen(path, "rb")) == NULL) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s%s", path, strerror(-rc),
		    rc == -ENOENT && dir_state(dir) == 2 ? " (not a raftkvd "
		    "data directory?)" : "");
		goto out;
	}
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (meta_decode(buf, len, cluster, node, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "%s: %s", path, why);
		rc = -EBADMSG;
	}
out:
	free(path);
	return rc;
}

/* Maps a negative errno from reading the source onto a result. */
static enum restore_result
source_result(int rc)
{
	return rc == -EBADMSG || rc == -EINVAL ? RESTORE_CORRUPT :
	    RESTORE_FAILED;
}

/* --snapshot FILE: verifies the file as a whole and takes its metadata. */
static enum restore_result
source_snapshot(const char *path, struct restore_source *src, char *err,
    size_t errlen)
{
	struct storage_snapshot_meta meta;
	char		 why[512];
	int		 rc;

	memset(&meta, 0, sizeof(meta));
	if ((rc = storage_snapshot_file_verify(path, &meta, why,
	    sizeof(why))) != 0) {
		snprintf(err, errlen, "%s %s: %s", path, rc == -EBADMSG ?
		    "fails verification" : "cannot be read", why);
		return source_result(rc);
	}
	src->index = meta.index;
	src->term = meta.term;
	src->has_config = raft_cluster_decode(meta.config, meta.config_len,
	    &src->config) == 0;
	free(meta.config);
	if (!src->has_config) {
		snprintf(err, errlen, "%s: its cluster configuration does not "
		    "decode", path);
		return RESTORE_CORRUPT;
	}
	return RESTORE_OK;
}

/*
 * --from-data-dir DIR: opens the stopped node's storage (which recovers it
 * as a start would, and fails if the node still runs) and finds the state
 * it knows to be committed: its commit index, that entry's term and the
 * configuration in effect there.
 */
static enum restore_result
source_data_dir(const struct logger *lg, const char *dir,
    struct restore_source *src, char *err, size_t errlen)
{
	struct storage_options so;
	struct storage_loaded *ld = &src->ld;
	raft_index_t	 base, commit;
	char		 why[512];
	size_t		 i;
	int		 rc;

	if ((rc = read_identity(dir, &src->old_cluster_id, &src->old_node_id,
	    err, errlen)) != 0)
		return source_result(rc);
	storage_options_init(&so);
	so.cluster_id = src->old_cluster_id;
	so.node_id = src->old_node_id;
	so.log = lg;
	if ((rc = storage_open(dir, &so, &src->st, why, sizeof(why))) != 0) {
		snprintf(err, errlen, "cannot open %s: %s%s", dir, why,
		    rc == -EBUSY ? " (is that node still running? stop it)" :
		    "");
		return source_result(rc);
	}
	if ((rc = storage_load(src->st, ld, why, sizeof(why))) != 0) {
		snprintf(err, errlen, "cannot load %s: %s", dir, why);
		return source_result(rc);
	}
	src->loaded = true;
	base = ld->has_snapshot ? ld->snapshot_index : 0;
	src->log_last = ld->n_entries > 0 ?
	    ld->entries[ld->n_entries - 1].index : base;
	commit = ld->hs.commit;
	if (commit < base)
		commit = base;
	if (commit > src->log_last)
		commit = src->log_last;
	if (commit == 0) {
		snprintf(err, errlen, "%s holds no committed entry and no "
		    "snapshot: nothing to restore", dir);
		return RESTORE_FAILED;
	}
	src->index = commit;
	src->term = commit == base ? ld->snapshot_term :
	    ld->entries[commit - base - 1].term;
	if (ld->has_snapshot && ld->snapshot_config != NULL)
		src->has_config = raft_cluster_decode(ld->snapshot_config,
		    ld->snapshot_config_len, &src->config) == 0;
	for (i = 0; i < ld->n_entries && ld->entries[i].index <= commit; i++) {
		const struct raft_entry *e = &ld->entries[i];

		if (e->type != RAFT_ENTRY_CONFIG)
			continue;
		if (raft_cluster_decode(e->data, e->len, &src->config) != 0) {
			snprintf(err, errlen, "%s: the configuration entry at "
			    "index %" PRIu64 " does not decode", dir,
			    e->index);
			return RESTORE_CORRUPT;
		}
		src->has_config = true;
	}
	return RESTORE_OK;
}

/*
 * Builds the key-value state of the source into *out: the snapshot (the
 * file verified as a whole, then its image by kv_snapshot_read(): format,
 * invariants, checksum, state hash) and, from a data directory, the
 * committed entries after it.
 */
static enum restore_result
build_kv(const struct restore_args *ra, struct restore_source *src,
    const struct options *o, struct kv **out, char *err, size_t errlen)
{
	struct storage_snapshot_info info;
	struct kv_config kc;
	struct kv_result res;
	struct kv	*kv = NULL;
	const char	*image = NULL;
	char		 why[512];
	size_t		 i;
	int		 rc;
	enum restore_result result = RESTORE_CORRUPT;

	kv_config_default(&kc);
	kc.max_key_len = o->max_key_size;
	kc.max_value_len = o->max_value_size;
	kc.session_window = o->session_window;
	if (ra->snapshot != NULL)
		image = ra->snapshot;
	else if (src->ld.has_snapshot) {
		storage_snapshot_get_info(src->st, &info);
		image = info.path;
	}
	/*
	 * Verified as a whole already: by source_snapshot(), or by
	 * storage_open() for the old node's latest snapshot.
	 */
	if (image != NULL &&
	    (rc = snapload_kv(image, &kc, &kv, NULL, why,
	    sizeof(why))) != 0) {
		snprintf(err, errlen, "cannot load the snapshot: %s", why);
		result = source_result(rc);
		goto out;
	}
	if (image == NULL && (rc = kv_new(&kc, &kv, why, sizeof(why))) != 0) {
		snprintf(err, errlen, "%s", why);
		result = RESTORE_FAILED;
		goto out;
	}
	for (i = 0; src->loaded && i < src->ld.n_entries; i++) {
		const struct raft_entry *e = &src->ld.entries[i];

		if (e->index <= kv_applied_index(kv))
			continue;
		if (e->index > src->index)
			break;
		memset(&res, 0, sizeof(res));
		if (e->type == RAFT_ENTRY_NORMAL)
			rc = kv_apply(kv, e->index, e->data, e->len, &res, why,
			    sizeof(why));
		else
			rc = kv_apply_noop(kv, e->index, why, sizeof(why));
		if (rc != 0) {
			snprintf(err, errlen, "cannot apply entry %" PRIu64
			    ": %s", e->index, why);
			result = rc == -ENOMEM ? RESTORE_FAILED :
			    RESTORE_CORRUPT;
			goto out;
		}
	}
	if (kv_applied_index(kv) != src->index) {
		snprintf(err, errlen, "the state reaches index %" PRIu64 ", not "
		    "%" PRIu64, kv_applied_index(kv), src->index);
		goto out;
	}
	*out = kv;
	kv = NULL;
	result = RESTORE_OK;
out:
	kv_free(kv);
	return result;
}

/* Encodes c into a new buffer *buf of *len bytes. */
static int
encode_config(const struct raft_cluster *c, uint8_t **buf, size_t *len)
{
	int	 n;

	*buf = xmalloc(RAFT_CLUSTER_ENCODED_MAX);
	if ((n = raft_cluster_encode(c, *buf, RAFT_CLUSTER_ENCODED_MAX)) < 0) {
		free(*buf);
		*buf = NULL;
		return -EINVAL;
	}
	*len = (size_t)n;
	return 0;
}

/*
 * Writes the new data directory o->data_dir: a snapshot of kv at the
 * source's index and term with configuration cfg, an empty log after it
 * and the hard state.
 */
static int
write_target(const struct logger *lg, const struct options *o,
    const struct restore_source *src, const struct raft_cluster *cfg,
    const struct kv *kv, char *err, size_t errlen)
{
	struct storage_options so;
	struct storage	*st = NULL;
	struct raft_hard_state hs;
	uint8_t		*config = NULL;
	size_t		 config_len = 0;
	char		 why[512];
	int		 rc;

	if (encode_config(cfg, &config, &config_len) != 0) {
		snprintf(err, errlen, "the configuration does not encode");
		return -EINVAL;
	}
	storage_options_init(&so);
	so.cluster_id = o->cluster_id;
	so.node_id = o->node_id;
	so.segment_bytes = (size_t)o->segment_size;
	so.log = lg;
	if ((rc = storage_open(o->data_dir, &so, &st, why,
	    sizeof(why))) != 0) {
		snprintf(err, errlen, "%s", why);
		goto out;
	}
	if ((rc = snapload_save(kv, o->data_dir, NULL, RESTORE_TAG,
	    src->index, src->term, config, config_len, -1, why,
	    sizeof(why))) != 0) {
		snprintf(err, errlen, "writing the snapshot: %s", why);
		goto out;
	}
	if ((rc = storage_snapshot_install(st, RESTORE_TAG, src->index,
	    src->term, why, sizeof(why))) != 0 ||
	    (rc = storage_reset(st, src->index, why, sizeof(why))) != 0) {
		snprintf(err, errlen, "%s", why);
		goto out;
	}
	hs.term = src->term;
	hs.vote = 0;
	hs.commit = src->index;
	if ((rc = storage_save_hard_state(st, &hs, why, sizeof(why))) != 0)
		snprintf(err, errlen, "%s", why);
out:
	storage_close(st);
	free(config);
	return rc;
}

/* Prints the lost-quorum warning: it must not be missed. */
static void
print_warning(const struct restore_args *ra, const struct restore_source *src)
{
	static const char bar[] = "=================================="
	    "==================================";

	fprintf(stderr, "\n%s\nWARNING: LOST-QUORUM RECOVERY "
	    "(--force-lost-quorum)\n%s\n", bar, bar);
	if (ra->from_dir != NULL) {
		fprintf(stderr, "This restores what node %" PRIu64 " of the old "
		    "cluster knew to be committed:\nthe state at index %"
		    PRIu64 " (term %" PRIu64 ").\n", src->old_node_id,
		    src->index, src->term);
		if (src->log_last > src->index)
			fprintf(stderr, "Its log also held %" PRIu64 " entries "
			    "(%" PRIu64 "..%" PRIu64 ") not known to be "
			    "committed:\nthey are NOT restored.\n",
			    src->log_last - src->index, src->index + 1,
			    src->log_last);
	} else
		fprintf(stderr, "This restores the snapshot in %s at index %"
		    PRIu64 " (term %" PRIu64 ").\nIf it was saved with "
		    "\"raftkvctl snapshot save --stale\" from a survivor, it\n"
		    "holds only what that node had applied.\n", ra->snapshot,
		    src->index, src->term);
	fprintf(stderr, "ACKNOWLEDGED WRITES AFTER INDEX %" PRIu64 " MAY BE "
	    "LOST: the nodes that had them\nare gone.  Never start the old "
	    "cluster's nodes again beside the new one.\n%s\n\n", src->index,
	    bar);
}

/* Prints what was restored. */
static void
print_summary(const struct restore_args *ra, const struct restore_source *src,
    const struct options *o, const struct raft_cluster *cfg,
    const struct kv *kv, bool new_members)
{
	uint32_t	 i;

	printf("restored %s: node %" PRIu64 " of cluster \"%s\" (id %" PRIu64
	    ")\n", o->data_dir, o->node_id, o->cluster_name, o->cluster_id);
	printf("  snapshot: index %" PRIu64 ", term %" PRIu64 ", %zu keys, "
	    "state hash %016" PRIx64 "\n", src->index, src->term,
	    kv_count(kv), kv_state_hash(kv));
	if (ra->snapshot != NULL)
		printf("  source: %s\n", ra->snapshot);
	else
		printf("  source: %s (node %" PRIu64 ", log up to %" PRIu64
		    ")\n", ra->from_dir, src->old_node_id, src->log_last);
	printf("  members (%s):\n", new_members ? "from the options" :
	    "the source's");
	for (i = 0; i < cfg->n; i++)
		printf("    %" PRIu64 " %s %s\n", cfg->members[i].id,
		    cfg->members[i].peer_url, cfg->members[i].client_url);
	printf("Restore every member the same way, then start them.\n");
}

/* Adds --member options for the source's configuration. */
static int
add_source_members(struct restore_args *ra, const struct restore_source *src,
    char *err, size_t errlen)
{
	uint32_t	 i;

	if (!src->has_config) {
		snprintf(err, errlen, "the source holds no configuration: give "
		    "the members with --member");
		return -1;
	}
	for (i = 0; i < src->config.n; i++) {
		node_arg(ra, xstrdup("--member"), true);
		node_arg(ra, xasprintf("%" PRIu64 ",%s,%s",
		    src->config.members[i].id, src->config.members[i].peer_url,
		    src->config.members[i].client_url), true);
	}
	return 0;
}

/* Checks that the source and the target are different directories. */
static bool
same_dir(const char *a, const char *b)
{
	char	 ra[PATH_MAX], rb[PATH_MAX];

	if (realpath(a, ra) == NULL || realpath(b, rb) == NULL)
		return false;
	return strcmp(ra, rb) == 0;
}

enum restore_result
restore_run(const struct logger *lg, int argc, char **argv)
{
	struct restore_args ra;
	struct restore_source src;
	struct options	 o;
	struct kv	*kv = NULL;
	const struct raft_cluster *cfg;
	bool		 new_members, parsed = false, created = false;
	char		 err[1024];
	int		 rc, ds;
	enum restore_result result = RESTORE_USAGE;

	memset(&src, 0, sizeof(src));
	memset(&o, 0, sizeof(o));
	if (parse_args(argc, argv, &ra, err, sizeof(err)) != 0) {
		fprintf(stderr, "raftkvd: restore: %s\nTry 'raftkvd restore "
		    "--help'.\n", err);
		goto out;
	}
	if (ra.help) {
		restore_usage(stdout);
		result = RESTORE_OK;
		goto out;
	}
	if (ra.from_dir != NULL && !ra.force) {
		fprintf(stderr, "raftkvd: restore: refusing --from-data-dir "
		    "without --force-lost-quorum.\nIt recovers the state of one "
		    "surviving node of a cluster that lost a majority\nfor good, "
		    "and writes acknowledged by the lost majority may be missing "
		    "from\nit.  When that is the case, run again with "
		    "--force-lost-quorum (see docs/backup.md).\nOtherwise save a "
		    "backup from the leader (raftkvctl snapshot save FILE) and\n"
		    "restore with --snapshot FILE.\n");
		result = RESTORE_REFUSED;
		goto out;
	}

	/* The source's metadata first: its members may be needed below. */
	result = ra.snapshot != NULL ?
	    source_snapshot(ra.snapshot, &src, err, sizeof(err)) :
	    source_data_dir(lg, ra.from_dir, &src, err, sizeof(err));
	if (result != RESTORE_OK)
		goto fail;

	new_members = members_given(&ra);
	if (!new_members && add_source_members(&ra, &src, err,
	    sizeof(err)) != 0) {
		result = RESTORE_USAGE;
		goto fail;
	}
	parsed = true;
	rc = options_parse(&o, ra.node_argc, ra.node_argv, stdout, err,
	    sizeof(err));
	if (rc == 1) {
		result = RESTORE_OK;
		goto out;
	}
	if (rc != 0) {
		result = RESTORE_USAGE;
		goto fail;
	}
	cfg = &o.members;
	if (ra.from_dir != NULL && same_dir(ra.from_dir, o.data_dir)) {
		snprintf(err, sizeof(err), "--data-dir must be a new "
		    "directory, not the source %s", ra.from_dir);
		result = RESTORE_USAGE;
		goto fail;
	}
	if ((ds = dir_state(o.data_dir)) < 0 || ds == 2) {
		snprintf(err, sizeof(err), "refusing to restore into %s: %s",
		    o.data_dir, ds == 2 ? "it is not empty (restore makes a "
		    "NEW data directory; give one that does not exist or is "
		    "empty)" : strerror(-ds));
		result = ds == 2 ? RESTORE_REFUSED : RESTORE_FAILED;
		goto fail;
	}
	created = ds == 0;

	if ((result = build_kv(&ra, &src, &o, &kv, err, sizeof(err))) !=
	    RESTORE_OK)
		goto fail;
	if (ra.force)
		print_warning(&ra, &src);
	if (src.loaded && src.old_cluster_id == o.cluster_id)
		fprintf(stderr, "raftkvd: restore: note: the new cluster has "
		    "the old one's name (id %" PRIu64 "):\nmake sure none of "
		    "the old nodes ever runs again.\n", o.cluster_id);
	if ((rc = write_target(lg, &o, &src, cfg, kv, err,
	    sizeof(err))) != 0) {
		dir_undo(o.data_dir, created);
		result = RESTORE_FAILED;
		goto fail;
	}
	print_summary(&ra, &src, &o, cfg, kv, new_members);
	result = RESTORE_OK;
	goto out;
fail:
	fprintf(stderr, "raftkvd: restore: %s\n", err);
out:
	kv_free(kv);
	if (src.loaded)
		storage_loaded_free(&src.ld);
	storage_close(src.st);
	if (parsed)
		options_free(&o);
	args_free(&ra);
	return result;
}
