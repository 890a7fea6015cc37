/*
 * options.c -- raftkvd's option table: flags, RAFTKV_* variables, defaults.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "options.h"
#include "xmalloc.h"

enum opt_kind {
	OPT_U64,	/* a decimal number within [min, max] */
	OPT_STR,	/* a string */
	OPT_MEMBER,	/* ID,PEER_URL,CLIENT_URL; repeatable */
	OPT_FLAG_HELP,
	OPT_FLAG_VERSION,
};

struct opt {
	const char	*flag;		/* without the leading "--" */
	const char	*env;		/* NULL: flag only */
	enum opt_kind	 kind;
	size_t		 offset;	/* into struct options */
	const char	*def;		/* default as text; NULL: none */
	uint64_t	 min, max;
	const char	*arg;		/* metavariable for --help */
	const char	*help;
};

#define OFF(f)	offsetof(struct options, f)

static const struct opt opts[] = {
	{ "id", "RAFTKV_ID", OPT_U64, OFF(node_id), NULL, 1, INT64_MAX,
	    "N", "this node's id, one of the --member ids (required)" },
	{ "member", "RAFTKV_MEMBERS", OPT_MEMBER, 0, NULL, 0, 0,
	    "ID,PEER_URL,CLIENT_URL", "an initial member; repeat for each "
	    "(the variable takes a ';'-separated list) (required)" },
	{ "cluster", "RAFTKV_CLUSTER", OPT_STR, OFF(cluster_name), "raftkv",
	    0, 0, "NAME", "cluster name; nodes of different clusters refuse "
	    "each other's messages and data directories" },
	{ "data-dir", "RAFTKV_DATA_DIR", OPT_STR, OFF(data_dir), NULL, 0, 0,
	    "DIR", "where this node keeps its log, hard state and snapshots "
	    "(required)" },
	{ "peer-listen", "RAFTKV_PEER_LISTEN", OPT_STR, OFF(peer_listen),
	    NULL, 0, 0, "HOST:PORT", "address for peer RPCs (default: "
	    "0.0.0.0 and the port of this node's peer URL)" },
	{ "client-listen", "RAFTKV_CLIENT_LISTEN", OPT_STR, OFF(client_listen),
	    NULL, 0, 0, "HOST:PORT", "address for the client API (default: "
	    "0.0.0.0 and the port of this node's client URL)" },
	{ "election-timeout", "RAFTKV_ELECTION_TIMEOUT_MS", OPT_U64,
	    OFF(election_ms), "1000", 20, 600000, "MS",
	    "minimum election timeout; the actual one is random in [MS, 2*MS)" },
	{ "heartbeat-interval", "RAFTKV_HEARTBEAT_INTERVAL_MS", OPT_U64,
	    OFF(heartbeat_ms), "100", 1, 60000, "MS",
	    "leader heartbeat interval; below the election timeout" },
	{ "tick", "RAFTKV_TICK_MS", OPT_U64, OFF(tick_ms), "10", 1, 1000, "MS",
	    "the Raft clock's resolution" },
	{ "log-level", "RAFTKV_LOG_LEVEL", OPT_STR, OFF(log_level), "info", 0,
	    0, "LEVEL", "debug, info, warn or error" },
	{ "request-timeout", "RAFTKV_REQUEST_TIMEOUT_MS", OPT_U64,
	    OFF(request_timeout_ms), "5000", 10, 3600000, "MS",
	    "how long a client request may wait for commit or a read index" },
	{ "max-pending", "RAFTKV_MAX_PENDING", OPT_U64, OFF(max_pending),
	    "10000", 1, 10000000, "N",
	    "writes waiting to commit; beyond it clients get 503" },
	{ "max-pending-reads", "RAFTKV_MAX_PENDING_READS", OPT_U64,
	    OFF(max_pending_reads), "10000", 1, 10000000, "N",
	    "linearizable reads waiting; beyond it clients get 503" },
	{ "max-key-size", "RAFTKV_MAX_KEY_SIZE", OPT_U64, OFF(max_key_size),
	    "4096", 1, 65536, "BYTES", "largest key" },
	{ "max-value-size", "RAFTKV_MAX_VALUE_SIZE", OPT_U64,
	    OFF(max_value_size), "1048576", 0, 64 * 1024 * 1024, "BYTES",
	    "largest value" },
	{ "max-connections", "RAFTKV_MAX_CONNECTIONS", OPT_U64,
	    OFF(max_connections), "4096", 1, 1000000, "N",
	    "client connections served at once; beyond it new ones wait" },
	{ "idle-timeout", "RAFTKV_IDLE_TIMEOUT_S", OPT_U64,
	    OFF(idle_timeout_s), "60", 1, 86400, "SECONDS",
	    "read and idle timeout of client connections" },
	{ "max-inflight", "RAFTKV_MAX_INFLIGHT", OPT_U64, OFF(max_inflight),
	    "1", 1, 1024, "N", "AppendEntries in flight per follower" },
	{ "session-window", "RAFTKV_SESSION_WINDOW", OPT_U64,
	    OFF(session_window), "100000", 100, UINT32_MAX, "INDEXES",
	    "exactly-once sessions expire after this many log indexes idle" },
	{ "segment-size", "RAFTKV_SEGMENT_SIZE", OPT_U64, OFF(segment_size),
	    "67108864", 65536, 1024ULL * 1024 * 1024, "BYTES",
	    "size of each preallocated log segment file" },
	{ "snapshot-entries", "RAFTKV_SNAPSHOT_ENTRIES", OPT_U64,
	    OFF(snapshot_entries), "100000", 1, UINT32_MAX, "N",
	    "take a snapshot once this many entries (plus up to a quarter, "
	    "at random) were applied since the last one" },
	{ "snapshot-bytes", "RAFTKV_SNAPSHOT_BYTES", OPT_U64,
	    OFF(snapshot_bytes), "268435456", 4096, 1ULL << 40, "BYTES",
	    "take a snapshot once this many bytes of entries were applied "
	    "since the last one" },
	{ "snapshot-keep", "RAFTKV_SNAPSHOT_KEEP", OPT_U64,
	    OFF(snapshot_keep), "10000", 0, UINT32_MAX, "N",
	    "entries kept behind a snapshot so that slightly lagging "
	    "followers catch up from the log, not a snapshot" },
	{ "snapshot-chunk", "RAFTKV_SNAPSHOT_CHUNK", OPT_U64,
	    OFF(snapshot_chunk), "524288", 4096, 16 * 1024 * 1024, "BYTES",
	    "bytes per request when sending a snapshot to a follower" },
	{ "leader-sync-delay", "RAFTKV_LEADER_SYNC_DELAY_US", OPT_U64,
	    OFF(leader_sync_delay_us), "0", 0, 100000, "US",
	    "as leader, wait this long after a write before syncing it, so "
	    "that more writes share one fdatasync" },
	{ "spare-sync-delay", "RAFTKV_SPARE_SYNC_DELAY_US", OPT_U64,
	    OFF(spare_sync_delay_us), "1000", 0, 100000, "US",
	    "as leader, let the followers a commit does not need defer their "
	    "syncs; as such a spare follower, wait up to this long before "
	    "syncing, so that more writes share one fdatasync (0: off)" },
	{ "test-vfs", "RAFTKV_TEST_VFS", OPT_STR, OFF(test_vfs), NULL, 0, 0,
	    "SPEC", "test only: the storage I/O layer, e.g. shadow:DIR" },
	{ "help", NULL, OPT_FLAG_HELP, 0, NULL, 0, 0, NULL,
	    "show this help and exit" },
	{ "version", NULL, OPT_FLAG_VERSION, 0, NULL, 0, 0, NULL,
	    "show the version and exit" },
};

#define NOPTS	(sizeof(opts) / sizeof(opts[0]))

/* Finds an option by its flag name (exact). */
static const struct opt *
find_opt(const char *flag, size_t len)
{
	size_t	 i;

	for (i = 0; i < NOPTS; i++)
		if (strlen(opts[i].flag) == len &&
		    strncmp(opts[i].flag, flag, len) == 0)
			return &opts[i];
	return NULL;
}

uint64_t
options_cluster_id(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a, then a mix */

	for (; *name != '\0'; name++) {
		h ^= (uint8_t)*name;
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	/* Keep it within int64 for JSON, and never zero. */
	h &= INT64_MAX;
	return h != 0 ? h : 1;
}

/* Checks that url is http://HOST:PORT with nothing after but "/". */
static int
check_url(const char *url, char *err, size_t errlen)
{
	const char	*host, *colon, *end;
	char		*stop;
	long		 port;

	if (strncmp(url, "http://", 7) != 0) {
		snprintf(err, errlen, "URL \"%s\" must start with http://", url);
		return -1;
	}
	host = url + 7;
	colon = strrchr(host, ':');
	if (colon == NULL || colon == host) {
		snprintf(err, errlen, "URL \"%s\" needs a host and a port",
		    url);
		return -1;
	}
	errno = 0;
	port = strtol(colon + 1, &stop, 10);
	end = stop;
	if (errno != 0 || port < 1 || port > 65535 || stop == colon + 1 ||
	    (*end != '\0' && strcmp(end, "/") != 0)) {
		snprintf(err, errlen, "URL \"%s\" has a bad port", url);
		return -1;
	}
	if (strlen(url) > RAFT_MAX_URL) {
		snprintf(err, errlen, "URL \"%s\" is longer than %d bytes", url,
		    RAFT_MAX_URL);
		return -1;
	}
	return 0;
}

int
options_parse_member(const char *spec, struct raft_member *m, char *err,
    size_t errlen)
{
	const char	*c1, *c2;
	char		*stop;
	unsigned long long id;
	size_t		 n;

	memset(m, 0, sizeof(*m));
	c1 = strchr(spec, ',');
	c2 = c1 != NULL ? strchr(c1 + 1, ',') : NULL;
	if (c1 == NULL || c2 == NULL || strchr(c2 + 1, ',') != NULL) {
		snprintf(err, errlen, "member \"%s\" is not ID,PEER_URL,"
		    "CLIENT_URL", spec);
		return -1;
	}
	errno = 0;
	id = strtoull(spec, &stop, 10);
	if (errno != 0 || stop != c1 || id == 0 || id > INT64_MAX ||
	    spec[0] == '-' || spec[0] == '+') {
		snprintf(err, errlen, "member \"%s\": bad id", spec);
		return -1;
	}
	m->id = id;
	m->voter = true;
	n = (size_t)(c2 - c1 - 1);
	if (n > RAFT_MAX_URL) {
		snprintf(err, errlen, "member \"%s\": peer URL too long", spec);
		return -1;
	}
	memcpy(m->peer_url, c1 + 1, n);
	m->peer_url[n] = '\0';
	if (strlen(c2 + 1) > RAFT_MAX_URL) {
		snprintf(err, errlen, "member \"%s\": client URL too long",
		    spec);
		return -1;
	}
	strcpy(m->client_url, c2 + 1);
	if (check_url(m->peer_url, err, errlen) != 0 ||
	    check_url(m->client_url, err, errlen) != 0)
		return -1;
	return 0;
}

/* Adds one member (or a ';'-separated list of them) to cfg. */
static int
add_members(struct options *cfg, const char *value, char *err, size_t errlen)
{
	char		*copy = xstrdup(value), *save = NULL, *tok;
	int		 rc = 0;
	uint32_t	 i;

	for (tok = strtok_r(copy, ";", &save); tok != NULL;
	    tok = strtok_r(NULL, ";", &save)) {
		struct raft_member m;

		if (cfg->members.n >= RAFT_MAX_MEMBERS) {
			snprintf(err, errlen, "more than %d members",
			    RAFT_MAX_MEMBERS);
			rc = -1;
			goto out;
		}
		if ((rc = options_parse_member(tok, &m, err, errlen)) != 0)
			goto out;
		for (i = 0; i < cfg->members.n; i++) {
			if (cfg->members.members[i].id == m.id) {
				snprintf(err, errlen, "member id %" PRIu64
				    " given twice", m.id);
				rc = -1;
				goto out;
			}
		}
		cfg->members.members[cfg->members.n++] = m;
	}
out:
	free(copy);
	return rc;
}

/* Stores value into the option's field of cfg. */
static int
set_opt(struct options *cfg, const struct opt *o, const char *value,
    const char *source, char *err, size_t errlen)
{
	char		*stop, **sp;
	unsigned long long v;

	switch (o->kind) {
	case OPT_U64:
		errno = 0;
		v = strtoull(value, &stop, 10);
		if (errno != 0 || *value == '\0' || *stop != '\0' ||
		    value[0] == '-' || value[0] == '+' || v < o->min ||
		    v > o->max) {
			snprintf(err, errlen, "%s: \"%s\" is not a number from "
			    "%" PRIu64 " to %" PRIu64, source, value, o->min,
			    o->max);
			return -1;
		}
		*(uint64_t *)((char *)cfg + o->offset) = v;
		return 0;
	case OPT_STR:
		sp = (char **)((char *)cfg + o->offset);
		free(*sp);
		*sp = xstrdup(value);
		return 0;
	case OPT_MEMBER:
		return add_members(cfg, value, err, errlen);
	default:
		return 0;
	}
}

void
options_usage(FILE *out)
{
	size_t	 i;

	fprintf(out,
	    "usage: raftkvd --id N --member ID,PEER_URL,CLIENT_URL ... "
	    "--data-dir DIR [options]\n"
	    "       raftkvd check --data-dir DIR [--repair]\n"
	    "       raftkvd restore (--snapshot FILE | --from-data-dir DIR "
	    "--force-lost-quorum)\n"
	    "               --data-dir NEW_DIR [options]\n\n"
	    "Runs one node of a raftkv cluster.  Every option can also be "
	    "given as the\nenvironment variable shown; flags win.\n\n");
	for (i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];
		char	 left[64];

		snprintf(left, sizeof(left), "--%s%s%s", o->flag,
		    o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(out, "  %-28s %s", left, o->help);
		if (o->def != NULL)
			fprintf(out, " [%s]", o->def);
		fprintf(out, "\n");
		if (o->env != NULL)
			fprintf(out, "  %-28s env %s\n", "", o->env);
	}
}

/* Fills in a listen address from this node's advertised URL's port. */
static int
default_listen(char **listen, const char *url, char *err, size_t errlen)
{
	const char	*colon = strrchr(url, ':');
	long		 port;

	if (*listen != NULL)
		return 0;
	port = strtol(colon + 1, NULL, 10);
	if (port <= 0) {
		snprintf(err, errlen, "cannot take a port from \"%s\"", url);
		return -1;
	}
	*listen = xasprintf("0.0.0.0:%ld", port);
	return 0;
}

int
options_parse(struct options *cfg, int argc, char **argv, FILE *out,
    char *err, size_t errlen)
{
	const struct raft_member *self;
	enum log_level	 level;
	size_t		 i;
	int		 a;
	bool		 members_from_flags = false;

	memset(cfg, 0, sizeof(*cfg));
	/* Defaults, then the environment, then flags. */
	for (i = 0; i < NOPTS; i++)
		if (opts[i].def != NULL &&
		    set_opt(cfg, &opts[i], opts[i].def, "default", err,
		    errlen) != 0)
			return -1;
	for (i = 0; i < NOPTS; i++) {
		const char *v = opts[i].env ? getenv(opts[i].env) : NULL;

		if (v != NULL && *v != '\0' &&
		    set_opt(cfg, &opts[i], v, opts[i].env, err, errlen) != 0)
			return -1;
	}
	for (a = 1; a < argc; a++) {
		const char	*arg = argv[a], *eq, *value;
		const struct opt *o;
		char		 source[64];

		if (strncmp(arg, "--", 2) != 0) {
			snprintf(err, errlen, "unexpected argument \"%s\"", arg);
			return -1;
		}
		arg += 2;
		eq = strchr(arg, '=');
		o = find_opt(arg, eq != NULL ? (size_t)(eq - arg) : strlen(arg));
		if (o == NULL) {
			snprintf(err, errlen, "unknown option \"%s\"", argv[a]);
			return -1;
		}
		if (o->kind == OPT_FLAG_HELP) {
			options_usage(out);
			return 1;
		}
		if (o->kind == OPT_FLAG_VERSION) {
			fprintf(out, "raftkvd %s\n", PACKAGE_VERSION);
			return 1;
		}
		if (eq != NULL)
			value = eq + 1;
		else if (a + 1 < argc)
			value = argv[++a];
		else {
			snprintf(err, errlen, "option --%s needs a value",
			    o->flag);
			return -1;
		}
		if (o->kind == OPT_MEMBER && !members_from_flags) {
			/* Flags replace members from the environment. */
			cfg->members.n = 0;
			members_from_flags = true;
		}
		snprintf(source, sizeof(source), "--%s", o->flag);
		if (set_opt(cfg, o, value, source, err, errlen) != 0)
			return -1;
	}

	if (cfg->node_id == 0) {
		snprintf(err, errlen, "--id (RAFTKV_ID) is required");
		return -1;
	}
	if (cfg->members.n == 0) {
		snprintf(err, errlen, "--member (RAFTKV_MEMBERS) is required");
		return -1;
	}
	if (cfg->data_dir == NULL || cfg->data_dir[0] == '\0') {
		snprintf(err, errlen, "--data-dir (RAFTKV_DATA_DIR) is required");
		return -1;
	}
	self = raft_cluster_find(&cfg->members, cfg->node_id);
	if (self == NULL) {
		snprintf(err, errlen, "--id %" PRIu64 " is not one of the "
		    "--member ids", cfg->node_id);
		return -1;
	}
	if (cfg->heartbeat_ms >= cfg->election_ms) {
		snprintf(err, errlen, "--heartbeat-interval (%" PRIu64 " ms) "
		    "must be below --election-timeout (%" PRIu64 " ms)",
		    cfg->heartbeat_ms, cfg->election_ms);
		return -1;
	}
	if (cfg->tick_ms > cfg->heartbeat_ms ||
	    cfg->election_ms / cfg->tick_ms < 2) {
		snprintf(err, errlen, "--tick (%" PRIu64 " ms) must not exceed "
		    "the heartbeat interval or half the election timeout",
		    cfg->tick_ms);
		return -1;
	}
	if (log_level_parse(cfg->log_level, &level) != 0) {
		snprintf(err, errlen, "--log-level \"%s\" is not debug, info, "
		    "warn or error", cfg->log_level);
		return -1;
	}
	if (default_listen(&cfg->peer_listen, self->peer_url, err,
	    errlen) != 0 ||
	    default_listen(&cfg->client_listen, self->client_url, err,
	    errlen) != 0)
		return -1;
	cfg->cluster_id = options_cluster_id(cfg->cluster_name);
	return 0;
}

void
options_free(struct options *cfg)
{
	size_t	 i;

	for (i = 0; i < NOPTS; i++)
		if (opts[i].kind == OPT_STR) {
			char **sp = (char **)((char *)cfg + opts[i].offset);

			free(*sp);
			*sp = NULL;
		}
}
