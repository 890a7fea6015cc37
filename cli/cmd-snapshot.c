/*
 * cmd-snapshot.c -- backups: "snapshot save FILE" downloads a snapshot
 * file from the leader (or, with --stale, from any node) and keeps it only
 * once it verifies as a whole; "snapshot info FILE" verifies a file offline
 * and prints what it holds.  The file format is the storage's
 * (docs/storage.md, "Snapshot files"): the check is the storage's own,
 * storage_snapshot_file_verify().
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "client.h"
#include "cmd.h"
#include "output.h"
#include "raft.h"
#include "storage.h"
#include "xmalloc.h"

#define SNAPSHOT_WAIT_MS	120000	/* default --wait */

static enum cmd_status	cmd_snapshot_exec(struct cmd_ctx *,
			    const struct cmd_args *);

static const struct cmd_opt snapshot_opts[] = {
	{ "stale", 0, NULL, "save: any node's own latest state, without a "
	    "leader (lost majority)" },
	{ "wait", 0, "DURATION", "save: the longest wait for the snapshot "
	    "and pause in the transfer (2m)" },
	{ NULL, 0, NULL, NULL },
};

static const char *const snapshot_words[] = { "save", "info", NULL };

const struct cmd_entry cmd_snapshot_entry = {
	.name = "snapshot",
	.usage = "save FILE | info FILE",
	.opts = snapshot_opts,
	.min_args = 2,
	.max_args = 2,
	.words = snapshot_words,
	.summary = "save a backup of the store to FILE, or check one",
	.help = "snapshot save FILE asks the leader for a snapshot covering "
	    "every write\nacknowledged so far, downloads it to FILE.tmp, "
	    "fsyncs it, verifies the whole\nfile (header, sizes, checksum of "
	    "every byte) and only then renames it to FILE.\nIt prints the "
	    "snapshot's index, term and size.  With --stale any node\nanswers "
	    "with its own latest state, unconfirmed: acknowledged writes may "
	    "be\nmissing.  snapshot info FILE verifies a saved file offline "
	    "and prints its\nindex, term, size, checksum and members.  "
	    "Exits 1 when a file fails\nverification.  raftkvd restore makes "
	    "a new cluster from FILE (raftkvd(8)).",
	.exec = cmd_snapshot_exec,
};

/* Where a download goes. */
struct download {
	int		 fd;
	const char	*path;		/* borrowed */
	uint64_t	 written;
};

/* client_sink_fn: appends a piece of the body to the file. */
static int
download_write(void *arg, const uint8_t *buf, size_t len)
{
	struct download	*d = arg;
	ssize_t		 k;

	while (len > 0) {
		k = write(d->fd, buf, len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		buf += k;
		len -= (size_t)k;
		d->written += (uint64_t)k;
	}
	return 0;
}

/* Fsyncs the directory holding path, so that a rename in it is durable. */
static int
sync_parent(const char *path)
{
	char	*copy = xstrdup(path);
	int	 fd, rc = 0;

	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	free(copy);
	return rc;
}

/* Returns a new JSON array of the members in config (NULL if it fails). */
static json_t *
members_json(const uint8_t *config, size_t len)
{
	struct raft_cluster *c = xmalloc(sizeof(*c));
	json_t		*arr = NULL;
	uint32_t	 i;

	if (raft_cluster_decode(config, len, c) == 0) {
		arr = json_array();
		for (i = 0; i < c->n; i++)
			json_array_append_new(arr, json_pack("{s:I, s:s, s:s}",
			    "id", (json_int_t)c->members[i].id, "peer_url",
			    c->members[i].peer_url, "client_url",
			    c->members[i].client_url));
	}
	free(c);
	return arr;
}

/*
 * Prints a verified file's metadata (meta borrowed) as text or JSON; from
 * (borrowed) is the URL of the node it came from, or NULL.
 */
static void
print_meta(const struct cmd_ctx *ctx, enum out_format format,
    const char *verb, const char *path,
    const struct storage_snapshot_meta *meta, const char *from, bool stale)
{
	json_t	*members = members_json(meta->config, meta->config_len);
	json_t	*obj, *m;
	char	 crc[16];
	size_t	 i;

	snprintf(crc, sizeof(crc), "%08" PRIx32, meta->file_crc);
	if (format == OUT_JSON) {
		obj = json_pack("{s:s, s:I, s:I, s:I, s:s, s:I, s:b}", "file",
		    path, "index", (json_int_t)meta->index, "term",
		    (json_int_t)meta->term, "size", (json_int_t)meta->file_size,
		    "crc", crc, "image_bytes", (json_int_t)meta->image_len,
		    "verified", 1);
		json_object_set_new(obj, "members", members != NULL ? members :
		    json_null());
		if (from != NULL) {
			json_object_set_new(obj, "from", json_string(from));
			json_object_set_new(obj, "stale", json_boolean(stale));
		}
		output_json(ctx->out, obj);
		return;
	}
	fprintf(ctx->out, "%s %s: index %" PRIu64 ", term %" PRIu64 ", %"
	    PRIu64 " bytes, crc %s (verified)\n", verb, path, meta->index,
	    meta->term, meta->file_size, crc);
	if (from != NULL)
		fprintf(ctx->out, "  from %s (%s)\n", from, stale ?
		    "STALE: that node's own state" : "the leader");
	fprintf(ctx->out, "  state-machine image: %" PRIu64 " bytes\n",
	    meta->image_len);
	json_array_foreach(members, i, m)
		fprintf(ctx->out, "  member %" JSON_INTEGER_FORMAT " %s %s\n",
		    json_integer_value(json_object_get(m, "id")),
		    json_string_value(json_object_get(m, "peer_url")),
		    json_string_value(json_object_get(m, "client_url")));
	if (members == NULL)
		fprintf(ctx->out, "  members: the configuration does not "
		    "decode\n");
	else
		json_decref(members);
}

/* Prints the warning that comes with a --stale backup. */
static void
warn_stale(const struct cmd_ctx *ctx, const char *node, uint64_t index)
{
	fflush(ctx->out);
	fprintf(ctx->err,
	    "raftkvctl: WARNING: this is a STALE snapshot: node %s's own "
	    "state at index %" PRIu64 ",\n"
	    "raftkvctl: WARNING: not confirmed by a leader.  Writes "
	    "acknowledged after index %" PRIu64 "\n"
	    "raftkvctl: WARNING: may be MISSING from it.  Use it only to "
	    "recover a cluster that lost\n"
	    "raftkvctl: WARNING: its majority for good (raftkvd restore "
	    "--force-lost-quorum; docs/backup.md).\n", node, index, index);
}

/* Checks that header name of rep, if present, is want (decimal). */
static bool
header_matches(const struct client_reply *rep, const char *name,
    uint64_t want)
{
	const char	*v = client_reply_header(rep, name);

	return v == NULL || strtoull(v, NULL, 10) == want;
}

/* snapshot save FILE [--stale] [--wait DURATION] */
static enum cmd_status
snapshot_save(struct cmd_ctx *ctx, const struct cmd_args *args,
    enum out_format format, const char *path)
{
	struct storage_snapshot_meta meta;
	struct client_request rq;
	struct client_reply rep;
	struct download	 d = { .fd = -1, .path = path };
	enum client_outcome outcome;
	enum cmd_status	 st = CMD_ERROR;
	unsigned long long wait_ms = SNAPSHOT_WAIT_MS;
	const char	*wait = cmd_value(args, "wait"), *crc, *node;
	bool		 stale = cmd_value(args, "stale") != NULL;
	char		*tmp = xasprintf("%s.tmp", path), err[2048];
	int		 rc;

	memset(&meta, 0, sizeof(meta));
	memset(&rep, 0, sizeof(rep));
	if (wait != NULL && cmd_parse_duration_ms(wait, &wait_ms) != 0) {
		cmd_error(ctx, "snapshot: bad --wait \"%s\" (e.g. 30s, 5m)",
		    wait);
		free(tmp);
		return CMD_USAGE;
	}
	d.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (d.fd < 0) {
		cmd_error(ctx, "snapshot: %s: %s", tmp, strerror(errno));
		free(tmp);
		return CMD_ERROR;
	}
	memset(&rq, 0, sizeof(rq));
	rq.method = CLIENT_GET;
	rq.path = stale ? "/v1/snapshot?stale" : "/v1/snapshot";
	rq.target = stale ? TARGET_ANY : TARGET_LEADER;
	rq.sink = download_write;
	rq.sink_arg = &d;
	rq.transfer_timeout_ms = wait_ms;
	outcome = client_call(ctx->client, &rq, &rep, err, sizeof(err));
	if (outcome != CLIENT_OK) {
		st = cmd_report_outcome(ctx, outcome, err);
		goto out;
	}
	if (rep.status != 200) {
		st = cmd_report_http(ctx, &rep, "snapshot");
		goto out;
	}
	if (fsync(d.fd) != 0 || close(d.fd) != 0) {
		d.fd = -1;
		cmd_error(ctx, "snapshot: %s: %s", tmp, strerror(errno));
		goto out;
	}
	d.fd = -1;
	if ((rc = storage_snapshot_file_verify(tmp, &meta, err,
	    sizeof(err))) != 0) {
		cmd_error(ctx, "snapshot: the downloaded file fails "
		    "verification (%" PRIu64 " bytes received): %s; %s is "
		    "left unchanged", d.written, err, path);
		goto out;
	}
	crc = client_reply_header(&rep, "X-Raftkv-Snapshot-Crc");
	if (!header_matches(&rep, "X-Raftkv-Snapshot-Index", meta.index) ||
	    !header_matches(&rep, "X-Raftkv-Snapshot-Term", meta.term) ||
	    !header_matches(&rep, "X-Raftkv-Snapshot-Size", meta.file_size) ||
	    (crc != NULL && strtoul(crc, NULL, 16) != meta.file_crc)) {
		cmd_error(ctx, "snapshot: the downloaded file is not the "
		    "snapshot the node announced (index, term, size or crc "
		    "differ); %s is left unchanged", path);
		goto out;
	}
	if (rename(tmp, path) != 0) {
		cmd_error(ctx, "snapshot: rename %s to %s: %s", tmp, path,
		    strerror(errno));
		goto out;
	}
	if ((rc = sync_parent(path)) != 0) {
		cmd_error(ctx, "snapshot: fsync of %s's directory: %s", path,
		    strerror(-rc));
		goto out;
	}
	node = client_reply_header(&rep, "X-Raftkv-Node-Id");
	if (node == NULL)
		node = "?";
	print_meta(ctx, format, "saved", path, &meta,
	    client_endpoint_url_any(ctx->client, rep.endpoint), stale);
	if (stale)
		warn_stale(ctx, node, meta.index);
	st = CMD_OK;
out:
	if (d.fd >= 0)
		close(d.fd);
	if (st != CMD_OK)
		unlink(tmp);
	free(meta.config);
	client_reply_clear(&rep);
	free(tmp);
	return st;
}

/* snapshot info FILE */
static enum cmd_status
snapshot_info(struct cmd_ctx *ctx, enum out_format format, const char *path)
{
	struct storage_snapshot_meta meta;
	char	 err[1024];
	int	 rc;

	memset(&meta, 0, sizeof(meta));
	if ((rc = storage_snapshot_file_verify(path, &meta, err,
	    sizeof(err))) != 0) {
		cmd_error(ctx, "snapshot: %s %s: %s", path, rc == -EBADMSG ?
		    "fails verification" : "cannot be read", err);
		return CMD_ERROR;
	}
	print_meta(ctx, format, "snapshot", path, &meta, NULL, false);
	free(meta.config);
	return CMD_OK;
}

/* snapshot save|info FILE */
static enum cmd_status
cmd_snapshot_exec(struct cmd_ctx *ctx, const struct cmd_args *args)
{
	const char	*verb = args->argv[0]->data;
	const char	*path = args->argv[1]->data;
	enum out_format	 format;
	char		 err[256];

	if (cmd_format(ctx, args, &format, err, sizeof(err)) != 0) {
		cmd_error(ctx, "%s", err);
		return CMD_USAGE;
	}
	if (strlen(path) != args->argv[1]->len || path[0] == '\0') {
		cmd_error(ctx, "snapshot: bad file name");
		return CMD_USAGE;
	}
	if (strcmp(verb, "save") == 0)
		return snapshot_save(ctx, args, format, path);
	if (strcmp(verb, "info") == 0) {
		if (cmd_value(args, "stale") != NULL ||
		    cmd_value(args, "wait") != NULL) {
			cmd_error(ctx, "snapshot info: --stale and --wait are "
			    "for save");
			return CMD_USAGE;
		}
		return snapshot_info(ctx, format, path);
	}
	cmd_error(ctx, "snapshot: unknown action \"%s\"; usage: snapshot %s",
	    verb, cmd_snapshot_entry.usage);
	return CMD_USAGE;
}
