/*
 * faults-client.c -- the concurrent workload of the fault suite.
 *
 * N client threads, each with one operation outstanding at a time, run
 * PUT (unique values), linearizable GET, CAS on the last mod index seen,
 * create-only (?cas=0) and DELETE on a few contended keys.  Keys rotate
 * so that each key's history stays short.  Every operation is appended to
 * the history file (tests/lincheck.h format) with monotonic invocation and
 * completion times.  Writes carry exactly-once headers and are retried
 * only with the same seq; timeouts, dropped connections and 504 make an
 * operation indeterminate unless a retry learns its outcome.
 *
 * A poller thread records every node's /v1/status in the status log.
 * After --duration seconds the clients stop; the program then waits for
 * the --final-wait file (the suite creates it once every fault healed) and
 * reads every key it used, marking those reads final=1.
 *
 * Blocking sockets with poll() deadlines, one connection per request.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "lincheck.h"

#define MAX_NODES	9
#define MAX_KEYS	16
#define RESP_MAX	65536
#define CONNECT_MS	400

enum attempt {
	ATTEMPT_NOT_SENT,	/* no connection: the request never left */
	ATTEMPT_NO_REPLY,	/* sent (maybe), no complete reply */
	ATTEMPT_REPLY
};

struct reply {
	int		 status;
	int		 leader_id;	/* X-Raftkv-Leader-Id, 0 if none */
	uint64_t	 mod_index;	/* X-Raftkv-Mod-Index */
	char		*body;		/* points into buf */
	size_t		 body_len;
	char		 buf[RESP_MAX + 1];
};

struct config {
	struct sockaddr_in nodes[MAX_NODES];
	char		 node_names[MAX_NODES][64];
	int		 n_nodes;
	int		 clients;
	int		 keys;
	int		 ops_per_key;
	int		 duration_s;
	int		 op_timeout_ms;
	int		 attempt_timeout_ms;
	uint64_t	 seed;
	const char	*history_path;
	const char	*status_path;
	const char	*final_wait;
	int		 final_wait_s;
	const char	*stop_file;
};

/* State shared by the threads; only atomics and the locked file change. */
struct shared {
	const struct config *cfg;
	uint64_t	 t_end;		/* monotonic ns */
	atomic_uint_fast64_t tickets;
	atomic_uint_fast64_t op_ids;
	atomic_int	 stop_poller;
	atomic_int	 stop_clients;	/* the stop file appeared */
	pthread_mutex_t	 hist_lock;
	FILE		*hist;
	atomic_uint_fast64_t n_ok, n_fail, n_info;
};

struct client {
	struct shared	*sh;
	int		 id;
	uint64_t	 client_id;	/* exactly-once session id */
	uint64_t	 seq;
	uint64_t	 rng;
	int		 leader_guess;	/* index into nodes */
	uint64_t	 seen_gen[MAX_KEYS];
	uint64_t	 seen_mod[MAX_KEYS];	/* last mod index seen per key */
	uint64_t	 n_values;
	struct reply	 reply;
};

/* Returns the monotonic clock in nanoseconds. */
static uint64_t
now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Sleeps ms milliseconds. */
static void
sleep_ms(int ms)
{
	struct timespec	 ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* xorshift64*: the per-thread random numbers, seeded from --seed. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* Milliseconds left until deadline (ns), at least 0. */
static int
ms_left(uint64_t deadline)
{
	uint64_t	 t = now_ns();

	return t >= deadline ? 0 : (int)((deadline - t) / 1000000ULL);
}

/* Connects to addr within ms.  Returns the socket or -1. */
static int
connect_to(const struct sockaddr_in *addr, int ms)
{
	struct pollfd	 pfd;
	socklen_t	 len = sizeof(int);
	int		 fd, err = 0, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0)
		return fd;
	if (errno != EINPROGRESS)
		goto fail;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	if (poll(&pfd, 1, ms) != 1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/* Finds header name (case-insensitive) in the header block; NULL if none. */
static const char *
find_header(const char *hdrs, const char *name)
{
	const char	*p = hdrs;
	size_t		 n = strlen(name);

	while ((p = strchr(p, '\n')) != NULL) {
		p++;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			p += n + 1;
			while (*p == ' ')
				p++;
			return p;
		}
	}
	return NULL;
}

/*
 * Sends one request and reads the whole reply into r, all before deadline.
 * The body (borrowed, may be NULL) is sent with a Content-Length.
 */
static enum attempt
http_do(const struct sockaddr_in *addr, const char *method, const char *path,
    const char *extra, const char *body, uint64_t deadline, struct reply *r)
{
	char		 req[1024];
	struct pollfd	 pfd;
	size_t		 len, sent = 0, got = 0, blen = body ? strlen(body) : 0;
	ssize_t		 n;
	const char	*h, *end;
	int		 fd, left;

	memset(r, 0, offsetof(struct reply, buf));
	left = ms_left(deadline);
	if (left <= 0 || (fd = connect_to(addr, left < CONNECT_MS ? left :
	    CONNECT_MS)) < 0)
		return ATTEMPT_NOT_SENT;
	len = (size_t)snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\n"
	    "Host: raftkv\r\nConnection: close\r\nContent-Length: %zu\r\n"
	    "%s\r\n%s", method, path, blen, extra != NULL ? extra : "",
	    body != NULL ? body : "");
	while (sent < len) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if ((left = ms_left(deadline)) <= 0 || poll(&pfd, 1, left) != 1)
			goto no_reply;
		if ((n = send(fd, req + sent, len - sent, MSG_NOSIGNAL)) <= 0) {
			if (n < 0 && errno == EAGAIN)
				continue;
			goto no_reply;
		}
		sent += (size_t)n;
	}
	for (;;) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if ((left = ms_left(deadline)) <= 0 || poll(&pfd, 1, left) != 1)
			goto no_reply;
		n = recv(fd, r->buf + got, RESP_MAX - got, 0);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n < 0)
			goto no_reply;
		if (n == 0)
			break;
		got += (size_t)n;
		if (got == RESP_MAX)
			break;
	}
	close(fd);
	r->buf[got] = '\0';
	if (sscanf(r->buf, "HTTP/1.%*d %d", &r->status) != 1 ||
	    (end = strstr(r->buf, "\r\n\r\n")) == NULL)
		return ATTEMPT_NO_REPLY;
	r->body = (char *)end + 4;
	r->body_len = got - (size_t)(r->body - r->buf);
	if ((h = find_header(r->buf, "Content-Length")) != NULL &&
	    strtoull(h, NULL, 10) > r->body_len)
		return ATTEMPT_NO_REPLY;	/* cut short */
	if ((h = find_header(r->buf, "X-Raftkv-Leader-Id")) != NULL)
		r->leader_id = atoi(h);
	if ((h = find_header(r->buf, "X-Raftkv-Mod-Index")) != NULL)
		r->mod_index = strtoull(h, NULL, 10);
	return ATTEMPT_REPLY;
no_reply:
	close(fd);
	return ATTEMPT_NO_REPLY;
}

/* Reads an integer field of the JSON reply body; 0 when absent. */
static uint64_t
json_u64(const struct reply *r, const char *field, const char **err_code,
    int *existed)
{
	json_t		*j, *v;
	json_error_t	 jerr;
	uint64_t	 out = 0;

	j = json_loadb(r->body, r->body_len, 0, &jerr);
	if (j == NULL)
		return 0;
	if ((v = json_object_get(j, field)) != NULL && json_is_integer(v))
		out = (uint64_t)json_integer_value(v);
	if (existed != NULL && (v = json_object_get(j, "existed")) != NULL)
		*existed = json_is_true(v);
	if (err_code != NULL && (v = json_object_get(j, "error")) != NULL &&
	    json_is_string(v)) {
		/* Only compared against static codes, never kept. */
		static const char *const codes[] = { "stale_request",
		    "session_expired", "storage_failed", "cas_failed",
		    "not_found", NULL };
		int i;

		for (i = 0; codes[i] != NULL; i++)
			if (strcmp(codes[i], json_string_value(v)) == 0)
				*err_code = codes[i];
	}
	json_decref(j);
	return out;
}

/* Appends op to the history file, and counts it. */
static void
record(struct shared *sh, const struct lincheck_op *op)
{
	char	 line[1024];

	lincheck_format_op(op, line, sizeof(line));
	pthread_mutex_lock(&sh->hist_lock);
	fprintf(sh->hist, "%s\n", line);
	fflush(sh->hist);
	pthread_mutex_unlock(&sh->hist_lock);
	if (op->status == LINCHECK_INFO)
		atomic_fetch_add(&sh->n_info, 1);
	else if (op->status == LINCHECK_FAIL)
		atomic_fetch_add(&sh->n_fail, 1);
	else
		atomic_fetch_add(&sh->n_ok, 1);
}

/* Picks the next endpoint after a failure: round robin from the guess. */
static void
next_endpoint(struct client *c)
{
	c->leader_guess = (c->leader_guess + 1) % c->sh->cfg->n_nodes;
}

/* Follows a 307 by mapping the leader id onto our own endpoint list. */
static void
follow_redirect(struct client *c, const struct reply *r)
{
	if (r->leader_id >= 1 && r->leader_id <= c->sh->cfg->n_nodes)
		c->leader_guess = r->leader_id - 1;
	else
		next_endpoint(c);
}

/* Runs a write (put or delete) with retries; fills op's outcome. */
static void
run_write(struct client *c, struct lincheck_op *op, const char *path)
{
	const struct config *cfg = c->sh->cfg;
	struct reply	*r = &c->reply;
	char		 hdrs[160];
	const char	*code;
	uint64_t	 deadline, att_deadline;
	bool		 maybe = false;
	int		 tries, existed;

	c->seq++;
	snprintf(hdrs, sizeof(hdrs), "X-Raftkv-Client-Id: %" PRIu64 "\r\n"
	    "X-Raftkv-Seq: %" PRIu64 "\r\n", c->client_id, c->seq);
	op->inv = now_ns();
	deadline = op->inv + (uint64_t)cfg->op_timeout_ms * 1000000ULL;
	op->status = LINCHECK_FAIL;
	for (tries = 0; tries < 30 && ms_left(deadline) > 0; tries++) {
		att_deadline = now_ns() +
		    (uint64_t)cfg->attempt_timeout_ms * 1000000ULL;
		if (att_deadline > deadline)
			att_deadline = deadline;
		switch (http_do(&cfg->nodes[c->leader_guess],
		    op->kind == LINCHECK_DEL ? "DELETE" : "PUT", path, hdrs,
		    op->value, att_deadline, r)) {
		case ATTEMPT_NOT_SENT:
			next_endpoint(c);
			sleep_ms(20);
			continue;
		case ATTEMPT_NO_REPLY:
			maybe = true;
			next_endpoint(c);
			continue;
		case ATTEMPT_REPLY:
			break;
		}
		code = NULL;
		existed = -1;
		switch (r->status) {
		case 200:
			op->status = LINCHECK_OK;
			op->index = json_u64(r, "index", NULL, &existed);
			op->mod = json_u64(r, "mod_index", NULL, NULL);
			if (op->kind == LINCHECK_PUT && !op->has_cas)
				op->existed = existed;
			goto done;
		case 412:
			op->status = LINCHECK_CASFAIL;
			op->mod = json_u64(r, "mod_index", NULL, NULL);
			goto done;
		case 404:
			if (op->kind == LINCHECK_DEL) {
				op->status = LINCHECK_NOTFOUND;
				goto done;
			}
			goto unexpected;
		case 307:
			follow_redirect(c, r);
			continue;
		case 503:
			/* Not applied; try again (same seq) a little later. */
			json_u64(r, "index", &code, NULL);
			if (code != NULL || r->leader_id == 0)
				next_endpoint(c);
			sleep_ms(50);
			continue;
		case 504:
			maybe = true;
			sleep_ms(50);
			continue;
		case 409:
			op->status = maybe ? LINCHECK_INFO : LINCHECK_FAIL;
			fprintf(stderr, "faults-client: c%d seq %" PRIu64
			    ": 409 %.*s\n", c->id, c->seq, (int)r->body_len,
			    r->body);
			goto done;
		default:
			goto unexpected;
		}
	}
	op->status = maybe ? LINCHECK_INFO : LINCHECK_FAIL;
done:
	op->ret = now_ns();
	return;
unexpected:
	fprintf(stderr, "faults-client: c%d %s %s: unexpected %d %.*s\n",
	    c->id, op->kind == LINCHECK_DEL ? "DELETE" : "PUT", path,
	    r->status, (int)(r->body_len > 200 ? 200 : r->body_len), r->body);
	op->status = maybe ? LINCHECK_INFO : LINCHECK_FAIL;
	op->ret = now_ns();
}

/* Runs a linearizable read with retries; fills op's outcome. */
static void
run_read(struct client *c, struct lincheck_op *op, const char *path,
    int timeout_ms)
{
	const struct config *cfg = c->sh->cfg;
	struct reply	*r = &c->reply;
	uint64_t	 deadline, att_deadline;
	int		 tries;

	op->inv = now_ns();
	deadline = op->inv + (uint64_t)timeout_ms * 1000000ULL;
	op->status = LINCHECK_FAIL;
	for (tries = 0; tries < 30 && ms_left(deadline) > 0; tries++) {
		att_deadline = now_ns() +
		    (uint64_t)cfg->attempt_timeout_ms * 1000000ULL;
		if (att_deadline > deadline)
			att_deadline = deadline;
		if (http_do(&cfg->nodes[c->leader_guess], "GET", path, NULL,
		    NULL, att_deadline, r) != ATTEMPT_REPLY) {
			next_endpoint(c);
			sleep_ms(20);
			continue;
		}
		if (r->status == 200) {
			op->status = LINCHECK_OK;
			op->value = strndup(r->body, r->body_len);
			op->mod = r->mod_index;
			break;
		}
		if (r->status == 404) {
			op->status = LINCHECK_NOTFOUND;
			break;
		}
		if (r->status == 307) {
			follow_redirect(c, r);
			continue;
		}
		if (r->status != 503) {
			fprintf(stderr, "faults-client: c%d GET %s: "
			    "unexpected %d\n", c->id, path, r->status);
			break;
		}
		next_endpoint(c);
		sleep_ms(50);
	}
	op->ret = now_ns();
}

/* Chooses and runs one operation on the current generation of keys. */
static void
one_op(struct client *c)
{
	const struct config *cfg = c->sh->cfg;
	struct lincheck_op op;
	char		 key[48], path[128], value[48];
	uint64_t	 ticket, gen, dice;
	int		 k;

	ticket = atomic_fetch_add(&c->sh->tickets, 1);
	gen = ticket / (uint64_t)(cfg->keys * cfg->ops_per_key);
	k = (int)(rnd(&c->rng) % (uint64_t)cfg->keys);
	snprintf(key, sizeof(key), "k%" PRIu64 "-%d", gen, k);
	memset(&op, 0, sizeof(op));
	op.id = atomic_fetch_add(&c->sh->op_ids, 1) + 1;
	op.client = c->id;
	op.key = key;
	op.existed = -1;
	if (c->seen_gen[k] != gen) {
		c->seen_gen[k] = gen;
		c->seen_mod[k] = 0;
	}
	dice = rnd(&c->rng) % 100;
	/* Reads go to a random node half of the time: followers redirect. */
	if (dice < 35 && rnd(&c->rng) % 2 == 0)
		c->leader_guess = (int)(rnd(&c->rng) %
		    (uint64_t)cfg->n_nodes);
	snprintf(value, sizeof(value), "c%d-%" PRIu64, c->id, ++c->n_values);
	if (dice < 35) {
		op.kind = LINCHECK_GET;
		snprintf(path, sizeof(path), "/v1/kv/%s", key);
		run_read(c, &op, path, cfg->op_timeout_ms);
		if (op.status == LINCHECK_OK)
			c->seen_mod[k] = op.mod;
		else if (op.status == LINCHECK_NOTFOUND)
			c->seen_mod[k] = 0;
	} else if (dice < 85) {
		op.kind = LINCHECK_PUT;
		op.value = value;
		if (dice >= 55) {
			op.has_cas = 1;
			op.cas = dice >= 75 ? 0 : c->seen_mod[k];
			snprintf(path, sizeof(path), "/v1/kv/%s?cas=%" PRIu64,
			    key, op.cas);
		} else
			snprintf(path, sizeof(path), "/v1/kv/%s", key);
		run_write(c, &op, path);
		if (op.status == LINCHECK_OK)
			c->seen_mod[k] = op.index;
		else if (op.status == LINCHECK_CASFAIL)
			c->seen_mod[k] = op.mod;
		op.value = value;
	} else {
		op.kind = LINCHECK_DEL;
		snprintf(path, sizeof(path), "/v1/kv/%s", key);
		run_write(c, &op, path);
	}
	record(c->sh, &op);
	if (op.kind == LINCHECK_GET)
		free(op.value);
}

/* A client thread: operations until the end time. */
static void *
client_main(void *arg)
{
	struct client	*c = arg;

	while (now_ns() < c->sh->t_end && !atomic_load(&c->sh->stop_clients))
		one_op(c);
	return NULL;
}

/* The status poller: every node's /v1/status, a few times a second. */
static void *
poller_main(void *arg)
{
	struct shared	*sh = arg;
	const struct config *cfg = sh->cfg;
	struct reply	*r;
	FILE		*fp;
	json_t		*j;
	json_error_t	 jerr;
	int		 i;

	if ((r = malloc(sizeof(*r))) == NULL ||
	    (fp = fopen(cfg->status_path, "a")) == NULL) {
		free(r);
		return NULL;
	}
	while (!atomic_load(&sh->stop_poller)) {
		struct stat sb;

		if (cfg->stop_file != NULL && stat(cfg->stop_file, &sb) == 0)
			atomic_store(&sh->stop_clients, 1);
		for (i = 0; i < cfg->n_nodes; i++) {
			if (http_do(&cfg->nodes[i], "GET", "/v1/status", NULL,
			    NULL, now_ns() + 300000000ULL, r) !=
			    ATTEMPT_REPLY || r->status != 200)
				continue;
			j = json_loadb(r->body, r->body_len, 0, &jerr);
			if (j == NULL)
				continue;
			fprintf(fp, "status t=%" PRIu64 " node=%d term=%"
			    JSON_INTEGER_FORMAT " role=%s leader=%"
			    JSON_INTEGER_FORMAT " applied=%" JSON_INTEGER_FORMAT
			    " commit=%" JSON_INTEGER_FORMAT "\n", now_ns(),
			    i + 1,
			    json_integer_value(json_object_get(j, "term")),
			    json_string_value(json_object_get(j, "role")) ?
			    json_string_value(json_object_get(j, "role")) : "?",
			    json_integer_value(json_object_get(j, "leader")),
			    json_integer_value(json_object_get(j,
			    "applied_index")),
			    json_integer_value(json_object_get(j,
			    "commit_index")));
			json_decref(j);
		}
		fflush(fp);
		sleep_ms(150);
	}
	fclose(fp);
	free(r);
	return NULL;
}

/* Waits (bounded) for the suite to say every fault healed. */
static void
wait_final(const struct config *cfg)
{
	struct stat	 sb;
	int		 i;

	if (cfg->final_wait == NULL)
		return;
	for (i = 0; i < cfg->final_wait_s * 10; i++) {
		if (stat(cfg->final_wait, &sb) == 0)
			return;
		sleep_ms(100);
	}
	fprintf(stderr, "faults-client: %s never appeared; final reads "
	    "anyway\n", cfg->final_wait);
}

/* Reads every key used, marking the reads final. */
static void
final_reads(struct client *c)
{
	const struct config *cfg = c->sh->cfg;
	struct lincheck_op op;
	uint64_t	 g, gens;
	char		 key[48], path[128];
	int		 k, tries;

	gens = atomic_load(&c->sh->tickets) /
	    (uint64_t)(cfg->keys * cfg->ops_per_key) + 1;
	for (g = 0; g < gens; g++)
		for (k = 0; k < cfg->keys; k++) {
			snprintf(key, sizeof(key), "k%" PRIu64 "-%d", g, k);
			snprintf(path, sizeof(path), "/v1/kv/%s", key);
			for (tries = 0; tries < 10; tries++) {
				memset(&op, 0, sizeof(op));
				op.id = atomic_fetch_add(&c->sh->op_ids, 1) + 1;
				op.client = c->id;
				op.key = key;
				op.kind = LINCHECK_GET;
				op.existed = -1;
				op.final = 1;
				run_read(c, &op, path, 3000);
				record(c->sh, &op);
				free(op.value);
				if (op.status != LINCHECK_FAIL)
					break;
			}
		}
}

/* Parses "a.b.c.d:port,..." into the node list.  Returns 0 or -1. */
static int
parse_nodes(struct config *cfg, const char *list)
{
	char	*copy = strdup(list), *tok, *save = NULL, *colon;

	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		struct sockaddr_in *a = &cfg->nodes[cfg->n_nodes];

		if (cfg->n_nodes == MAX_NODES ||
		    (colon = strchr(tok, ':')) == NULL)
			goto bad;
		*colon = '\0';
		memset(a, 0, sizeof(*a));
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)atoi(colon + 1));
		if (inet_pton(AF_INET, tok, &a->sin_addr) != 1)
			goto bad;
		snprintf(cfg->node_names[cfg->n_nodes], 64, "%s:%s", tok,
		    colon + 1);
		cfg->n_nodes++;
	}
	free(copy);
	return cfg->n_nodes > 0 ? 0 : -1;
bad:
	free(copy);
	return -1;
}

/* Prints the usage to fp. */
static void
usage(FILE *fp)
{
	fprintf(fp, "usage: faults-client --nodes IP:PORT,... --history FILE "
	    "[--status-log FILE]\n"
	    "    [--clients N] [--keys N] [--ops-per-key N] [--duration S] "
	    "[--seed S]\n"
	    "    [--op-timeout MS] [--attempt-timeout MS] [--final-wait FILE]"
	    " [--final-wait-s S]\n    [--stop-file FILE]  (the workload "
	    "stops early when FILE appears; needs --status-log)\n"
	    "       faults-client --clock   (prints the monotonic clock, ns)\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "nodes", required_argument, NULL, 'n' },
		{ "history", required_argument, NULL, 'H' },
		{ "status-log", required_argument, NULL, 'S' },
		{ "clients", required_argument, NULL, 'c' },
		{ "keys", required_argument, NULL, 'k' },
		{ "ops-per-key", required_argument, NULL, 'o' },
		{ "duration", required_argument, NULL, 'd' },
		{ "seed", required_argument, NULL, 's' },
		{ "op-timeout", required_argument, NULL, 't' },
		{ "attempt-timeout", required_argument, NULL, 'a' },
		{ "final-wait", required_argument, NULL, 'f' },
		{ "final-wait-s", required_argument, NULL, 'F' },
		{ "clock", no_argument, NULL, 'C' },
		{ "stop-file", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct config	 cfg;
	struct shared	 sh;
	struct client	*cl = NULL;
	pthread_t	*th = NULL, poller;
	int		 ch, i, rc = 1, have_poller = 0;

	memset(&cfg, 0, sizeof(cfg));
	cfg.clients = 10;
	cfg.keys = 3;
	cfg.ops_per_key = 120;
	cfg.duration_s = 30;
	cfg.op_timeout_ms = 4000;
	cfg.attempt_timeout_ms = 2000;
	cfg.seed = 1;
	cfg.final_wait_s = 180;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			if (parse_nodes(&cfg, optarg) != 0) {
				fprintf(stderr, "faults-client: bad --nodes "
				    "\"%s\"\n", optarg);
				return 2;
			}
			break;
		case 'H': cfg.history_path = optarg; break;
		case 'S': cfg.status_path = optarg; break;
		case 'c': cfg.clients = atoi(optarg); break;
		case 'k': cfg.keys = atoi(optarg); break;
		case 'o': cfg.ops_per_key = atoi(optarg); break;
		case 'd': cfg.duration_s = atoi(optarg); break;
		case 's': cfg.seed = strtoull(optarg, NULL, 0); break;
		case 't': cfg.op_timeout_ms = atoi(optarg); break;
		case 'a': cfg.attempt_timeout_ms = atoi(optarg); break;
		case 'f': cfg.final_wait = optarg; break;
		case 'F': cfg.final_wait_s = atoi(optarg); break;
		case 'x': cfg.stop_file = optarg; break;
		case 'C':
			/* The suite stamps its fault log with this clock. */
			printf("%" PRIu64 "\n", now_ns());
			return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (cfg.n_nodes == 0 || cfg.history_path == NULL || cfg.clients < 1 ||
	    cfg.keys < 1 || cfg.keys > MAX_KEYS || cfg.ops_per_key < 1) {
		usage(stderr);
		return 2;
	}
	memset(&sh, 0, sizeof(sh));
	sh.cfg = &cfg;
	pthread_mutex_init(&sh.hist_lock, NULL);
	if ((sh.hist = fopen(cfg.history_path, "w")) == NULL) {
		fprintf(stderr, "faults-client: %s: %s\n", cfg.history_path,
		    strerror(errno));
		return 1;
	}
	fprintf(sh.hist, "# faults-client seed %" PRIu64 " clients %d keys %d"
	    " ops-per-key %d duration %d\n", cfg.seed, cfg.clients, cfg.keys,
	    cfg.ops_per_key, cfg.duration_s);
	cl = calloc((size_t)cfg.clients, sizeof(*cl));
	th = calloc((size_t)cfg.clients, sizeof(*th));
	if (cl == NULL || th == NULL)
		goto out;
	sh.t_end = now_ns() + (uint64_t)cfg.duration_s * 1000000000ULL;
	if (cfg.status_path != NULL &&
	    pthread_create(&poller, NULL, poller_main, &sh) == 0)
		have_poller = 1;
	for (i = 0; i < cfg.clients; i++) {
		cl[i].sh = &sh;
		cl[i].id = i + 1;
		cl[i].rng = (cfg.seed + 1) * 0x9e3779b97f4a7c15ULL +
		    (uint64_t)i * 7919 + 1;
		cl[i].client_id = (rnd(&cl[i].rng) >> 1) | 1;
		cl[i].leader_guess = i % cfg.n_nodes;
		if (pthread_create(&th[i], NULL, client_main, &cl[i]) != 0) {
			fprintf(stderr, "faults-client: cannot start thread\n");
			cfg.clients = i;
			break;
		}
	}
	for (i = 0; i < cfg.clients; i++)
		pthread_join(th[i], NULL);
	printf("faults-client: workload done: %" PRIuFAST64 " ok, %"
	    PRIuFAST64 " failed, %" PRIuFAST64 " indeterminate\n",
	    atomic_load(&sh.n_ok), atomic_load(&sh.n_fail),
	    atomic_load(&sh.n_info));
	fflush(stdout);
	wait_final(&cfg);
	if (cfg.clients > 0)
		final_reads(&cl[0]);
	rc = 0;
out:
	if (have_poller) {
		atomic_store(&sh.stop_poller, 1);
		pthread_join(poller, NULL);
	}
	fclose(sh.hist);
	pthread_mutex_destroy(&sh.hist_lock);
	free(cl);
	free(th);
	return rc;
}
