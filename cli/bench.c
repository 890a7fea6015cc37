/*
 * bench.c -- the bench command: N concurrent keep-alive clients against the
 * leader, on one event loop, with per-request latency.
 */
#include "config.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "client.h"
#include "cmd.h"
#include "monotime.h"
#include "output.h"
#include "pct.h"
#include "xmalloc.h"

#define TICK_MS		20
#define ERROR_PAUSE_MS	10

static enum cmd_status	cmd_bench_exec(struct cmd_ctx *,
			    const struct cmd_args *);

static const struct cmd_opt bench_opts[] = {
	{ "clients", 'c', "N", "concurrent clients, each with its own "
	    "keep-alive connection (default 16)" },
	{ "duration", 'D', "DURATION", "run for DURATION (default 10s)" },
	{ "count", 'n', "N", "stop after N requests instead" },
	{ "value-size", 's', "BYTES", "size of written values (default 100)" },
	{ "keys", 'k', "N", "size of the key space (default 10000)" },
	{ "reads", 'r', "PERCENT", "share of reads, 0 to 100 (default 0: "
	    "writes only)" },
	{ "prefix", 0, "PREFIX", "prefix of the keys (default bench/)" },
	{ NULL, 0, NULL, NULL },
};

const struct cmd_entry cmd_bench_entry = {
	.name = "bench",
	.usage = "[--clients N] [--duration DURATION | --count N] "
	    "[--value-size BYTES] [--keys N] [--reads PERCENT] "
	    "[--prefix PREFIX]",
	.opts = bench_opts,
	.min_args = 0,
	.max_args = 0,
	.summary = "measure throughput and latency of the cluster",
	.help = "Drives N concurrent clients, each over its own keep-alive "
	    "connection to the\nleader, all on one event loop.  Writes are "
	    "exactly-once PUTs of random values\nto random keys; reads are "
	    "linearizable GETs.  Reports throughput and the\np50, p90, p99 "
	    "and p99.9 latency of successful requests (measured with\n"
	    "CLOCK_MONOTONIC from send to answer).  Ctrl-C in the shell stops "
	    "it early.",
	.exec = cmd_bench_exec,
};

struct bench;

/* One client: a connection and at most one request in flight. */
struct bench_worker {
	struct bench	*bench;		/* borrowed */
	struct evhttp_connection *conn;	/* owned */
	struct evhttp_request *req;	/* libevent's while in flight */
	struct event	*pause;		/* owned; delay after an error */
	uint64_t	 client_id;
	uint64_t	 seq;
	uint64_t	 started_ns;
	bool		 is_read;
};

struct bench_config {
	unsigned long long clients, duration_ms, count, value_size, keys;
	unsigned long long read_percent;
	const char	*prefix;	/* borrowed */
};

struct bench {
	struct bench_config cfg;
	struct client	*client;	/* borrowed */
	struct event_base *base;	/* borrowed */
	struct bench_worker *workers;	/* owned array of cfg.clients */
	char		*host;		/* owned; the leader's */
	uint16_t	 port;
	uint8_t		*value;		/* owned; cfg.value_size bytes */
	char		*prefix_enc;	/* owned; pct-encoded prefix */
	uint64_t	 rng;		/* xorshift state */
	uint64_t	 start_ns, end_ns;
	uint64_t	 issued, ok, errors, reads, writes;
	uint64_t	*lat_ns;	/* owned; successful latencies */
	size_t		 nlat, lat_cap;
	size_t		 inflight;
	bool		 stopping;
	bool		 interrupted;
	char		 first_error[256];
};

/* Returns the next pseudo-random number (xorshift64*). */
static uint64_t
bench_rand(struct bench *b)
{
	b->rng ^= b->rng >> 12;
	b->rng ^= b->rng << 25;
	b->rng ^= b->rng >> 27;
	return b->rng * 0x2545f4914f6cdd1dULL;
}

/* Returns a random 63-bit client id, never 0. */
static uint64_t
bench_client_id(struct bench *b)
{
	uint64_t	 id = bench_rand(b) & INT64_MAX;

	return id != 0 ? id : 1;
}

static void	 worker_send(struct bench_worker *w);

/* Notes the first error of the run (what, borrowed), for the report. */
static void
note_error(struct bench *b, const char *what, int code)
{
	b->errors++;
	if (b->first_error[0] == '\0')
		snprintf(b->first_error, sizeof(b->first_error), "%s (%d)",
		    what, code);
}

/* Continues a worker after its pause. */
static void
on_pause_done(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	worker_send(arg);
}

/* Records a worker's answer and sends its next request. */
static void
on_bench_response(struct evhttp_request *req, void *arg)
{
	struct bench_worker *w = arg;
	struct bench	*b = w->bench;
	uint64_t	 now = monotime_ns();
	int		 code = req != NULL ?
	    evhttp_request_get_response_code(req) : 0;
	struct timeval	 pause = { 0, ERROR_PAUSE_MS * 1000 };

	w->req = NULL;
	b->inflight--;
	if (code == 200 || (code == 404 && w->is_read)) {
		b->ok++;
		if (b->nlat == b->lat_cap) {
			b->lat_cap = b->lat_cap == 0 ? 4096 : b->lat_cap * 2;
			b->lat_ns = xrealloc(b->lat_ns, b->lat_cap *
			    sizeof(*b->lat_ns));
		}
		b->lat_ns[b->nlat++] = now - w->started_ns;
		worker_send(w);
		return;
	}
	if (code == 0)
		note_error(b, "connection failed", code);
	else
		note_error(b, "HTTP status", code);
	evtimer_add(w->pause, &pause);
}

/* Sends a worker's next request, unless the run is over. */
static void
worker_send(struct bench_worker *w)
{
	struct bench	*b = w->bench;
	struct evhttp_request *req;
	struct evkeyvalq *h;
	char		*path, num[32], host[300];
	uint64_t	 key;
	int		 rc;

	if (b->stopping || (b->cfg.count > 0 && b->issued >= b->cfg.count))
		return;
	if ((req = evhttp_request_new(on_bench_response, w)) == NULL) {
		note_error(b, "cannot create a request", 0);
		return;
	}
	key = bench_rand(b) % b->cfg.keys;
	w->is_read = bench_rand(b) % 100 < b->cfg.read_percent;
	path = xasprintf("/v1/kv/%s%" PRIu64, b->prefix_enc, key);
	h = evhttp_request_get_output_headers(req);
	snprintf(host, sizeof(host), "%s:%u", b->host, (unsigned)b->port);
	evhttp_add_header(h, "Host", host);
	if (!w->is_read) {
		snprintf(num, sizeof(num), "%" PRIu64, w->client_id);
		evhttp_add_header(h, "X-Raftkv-Client-Id", num);
		snprintf(num, sizeof(num), "%" PRIu64, ++w->seq);
		evhttp_add_header(h, "X-Raftkv-Seq", num);
		evbuffer_add(evhttp_request_get_output_buffer(req), b->value,
		    b->cfg.value_size);
		b->writes++;
	} else
		b->reads++;
	w->started_ns = monotime_ns();
	w->req = req;
	b->issued++;
	b->inflight++;
	rc = evhttp_make_request(w->conn, req, w->is_read ? EVHTTP_REQ_GET :
	    EVHTTP_REQ_PUT, path);
	free(path);
	if (rc != 0) {
		w->req = NULL;
		b->inflight--;
		note_error(b, "cannot send a request", rc);
	}
}

/* Checks the clock, the count and Ctrl-C; ends the run when due. */
static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct bench	*b = arg;
	uint64_t	 now = monotime_ns();

	(void)fd;
	(void)what;
	if (client_interrupted(b->client))
		b->interrupted = true;
	if (b->interrupted || (b->cfg.count == 0 &&
	    now - b->start_ns >= b->cfg.duration_ms * 1000000ULL) ||
	    (b->cfg.count > 0 && b->issued >= b->cfg.count &&
	    b->inflight == 0))
		b->stopping = true;
	if (b->stopping) {
		if (b->end_ns == 0)
			b->end_ns = now;
		event_base_loopbreak(b->base);
	}
}

/* Returns the q-quantile (0..1) of the sorted latencies in ms. */
static double
quantile_ms(const struct bench *b, double q)
{
	double	 exact = q * (double)b->nlat;
	size_t	 rank = (size_t)exact;

	if (b->nlat == 0)
		return 0;
	if ((double)rank < exact)
		rank++;	/* the nearest rank is ceil(q * n) */
	if (rank == 0)
		rank = 1;
	if (rank > b->nlat)
		rank = b->nlat;
	return (double)b->lat_ns[rank - 1] / 1e6;
}

/* Orders two latencies. */
static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Prints the report of b in format. */
static void
bench_report(struct cmd_ctx *ctx, struct bench *b, enum out_format format)
{
	static const struct {
		const char	*name;
		double		 q;
	} qs[] = {
		{ "p50", 0.50 }, { "p90", 0.90 }, { "p99", 0.99 },
		{ "p99_9", 0.999 },
	};
	double		 secs = (double)(b->end_ns - b->start_ns) / 1e9;
	double		 tput = secs > 0 ? (double)b->ok / secs : 0;
	double		 mean = 0;
	json_t		*lat;
	size_t		 i;

	qsort(b->lat_ns, b->nlat, sizeof(*b->lat_ns), cmp_u64);
	for (i = 0; i < b->nlat; i++)
		mean += (double)b->lat_ns[i];
	mean = b->nlat > 0 ? mean / (double)b->nlat / 1e6 : 0;
	if (format == OUT_JSON) {
		lat = json_pack("{s:f, s:f}", "min", quantile_ms(b, 0),
		    "mean", mean);
		for (i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
			json_object_set_new(lat, qs[i].name,
			    json_real(quantile_ms(b, qs[i].q)));
		json_object_set_new(lat, "max", json_real(quantile_ms(b, 1)));
		output_json(ctx->out, json_pack("{s:s, s:I, s:I, s:I, s:I, "
		    "s:I, s:f, s:I, s:I, s:I, s:I, s:f, s:o, s:b}",
		    "leader", b->host, "port", (json_int_t)b->port,
		    "clients", (json_int_t)b->cfg.clients,
		    "value_size", (json_int_t)b->cfg.value_size,
		    "keys", (json_int_t)b->cfg.keys,
		    "read_percent", (json_int_t)b->cfg.read_percent,
		    "seconds", secs,
		    "requests", (json_int_t)b->issued,
		    "ok", (json_int_t)b->ok,
		    "errors", (json_int_t)b->errors,
		    "reads", (json_int_t)b->reads,
		    "throughput", tput,
		    "latency_ms", lat,
		    "interrupted", b->interrupted));
		return;
	}
	fprintf(ctx->out, "bench: %llu clients to %s:%u, %.2f s%s\n",
	    b->cfg.clients, b->host, (unsigned)b->port, secs,
	    b->interrupted ? " (interrupted)" : "");
	fprintf(ctx->out, "requests: %" PRIu64 " (%" PRIu64 " reads, %" PRIu64
	    " writes); ok %" PRIu64 ", errors %" PRIu64 "\n", b->issued,
	    b->reads, b->writes, b->ok, b->errors);
	fprintf(ctx->out, "throughput: %.1f requests/s\n", tput);
	fprintf(ctx->out, "latency ms: min %.3f  mean %.3f  p50 %.3f  p90 %.3f"
	    "  p99 %.3f  p99.9 %.3f  max %.3f\n", quantile_ms(b, 0), mean,
	    quantile_ms(b, 0.5), quantile_ms(b, 0.9), quantile_ms(b, 0.99),
	    quantile_ms(b, 0.999), quantile_ms(b, 1));
	if (b->first_error[0] != '\0')
		fprintf(ctx->out, "first error: %s\n", b->first_error);
}

/* Reads the options into cfg.  Returns 0 or -1 after a diagnostic. */
static int
bench_options(struct cmd_ctx *ctx, const struct cmd_args *args,
    struct bench_config *cfg)
{
	static const struct {
		const char	*name;
		size_t		 offset;
		unsigned long long min, max;
	} nums[] = {
		{ "clients", offsetof(struct bench_config, clients), 1, 4096 },
		{ "count", offsetof(struct bench_config, count), 1,
		    1000000000ULL },
		{ "value-size", offsetof(struct bench_config, value_size), 0,
		    64 * 1024 * 1024 },
		{ "keys", offsetof(struct bench_config, keys), 1,
		    1000000000ULL },
		{ "reads", offsetof(struct bench_config, read_percent), 0,
		    100 },
	};
	const char	*v;
	size_t		 i;

	cfg->clients = 16;
	cfg->duration_ms = 10000;
	cfg->count = 0;
	cfg->value_size = 100;
	cfg->keys = 10000;
	cfg->read_percent = 0;
	cfg->prefix = cmd_value(args, "prefix") != NULL ?
	    cmd_value(args, "prefix") : "bench/";
	for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if ((v = cmd_value(args, nums[i].name)) == NULL)
			continue;
		if (cmd_parse_u64(v, nums[i].min, nums[i].max,
		    (unsigned long long *)((char *)cfg + nums[i].offset)) != 0) {
			cmd_error(ctx, "bench: --%s needs a number from %llu "
			    "to %llu, not \"%s\"", nums[i].name, nums[i].min,
			    nums[i].max, v);
			return -1;
		}
	}
	if ((v = cmd_value(args, "duration")) != NULL) {
		if (cfg->count > 0) {
			cmd_error(ctx, "bench: --duration and --count exclude "
			    "each other");
			return -1;
		}
		if (cmd_parse_duration_ms(v, &cfg->duration_ms) != 0) {
			cmd_error(ctx, "bench: bad --duration \"%s\"", v);
			return -1;
		}
	}
	return 0;
}

/* bench [options] */
static enum cmd_status
cmd_bench_exec(struct cmd_ctx *ctx, const struct cmd_args *args)
{
	struct bench	 b;
	struct event	*tick = NULL;
	struct timeval	 tv = { 0, TICK_MS * 1000 };
	enum out_format	 format;
	enum cmd_status	 st = CMD_OK;
	enum client_outcome outcome;
	size_t		 leader, i;
	uint64_t	 leader_id;
	char		 err[2048];

	memset(&b, 0, sizeof(b));
	if (cmd_format(ctx, args, &format, err, sizeof(err)) != 0) {
		cmd_error(ctx, "%s", err);
		return CMD_USAGE;
	}
	if (bench_options(ctx, args, &b.cfg) != 0)
		return CMD_USAGE;
	outcome = client_find_leader(ctx->client, &leader, &leader_id, err,
	    sizeof(err));
	if (outcome != CLIENT_OK)
		return cmd_report_outcome(ctx, outcome, err);
	if (client_parse_url(client_endpoint_url_any(ctx->client, leader),
	    &b.host, &b.port, err, sizeof(err)) != 0) {
		cmd_error(ctx, "bench: %s", err);
		return CMD_ERROR;
	}
	b.client = ctx->client;
	b.base = client_base(ctx->client);
	if (getrandom(&b.rng, sizeof(b.rng), 0) != sizeof(b.rng) || b.rng == 0)
		b.rng = monotime_ns() | 1;
	b.value = xmalloc(b.cfg.value_size + 1);
	for (i = 0; i < b.cfg.value_size; i++)
		b.value[i] = (uint8_t)('a' + bench_rand(&b) % 26);
	b.prefix_enc = xmalloc(pct_encoded_len((const uint8_t *)b.cfg.prefix,
	    strlen(b.cfg.prefix)) + 1);
	pct_encode((const uint8_t *)b.cfg.prefix, strlen(b.cfg.prefix),
	    b.prefix_enc);
	b.workers = xcalloc(b.cfg.clients, sizeof(*b.workers));
	for (i = 0; i < b.cfg.clients; i++) {
		struct bench_worker *w = &b.workers[i];

		w->bench = &b;
		w->client_id = bench_client_id(&b);
		w->conn = evhttp_connection_base_new(b.base, NULL, b.host,
		    b.port);
		w->pause = evtimer_new(b.base, on_pause_done, w);
		if (w->conn == NULL || w->pause == NULL) {
			cmd_error(ctx, "bench: cannot create connection %zu",
			    i);
			st = CMD_ERROR;
			goto out;
		}
		evhttp_connection_set_timeout(w->conn,
		    (int)(client_timeout_ms(ctx->client) + 999) / 1000);
	}
	if ((tick = event_new(b.base, -1, EV_PERSIST, on_tick, &b)) == NULL) {
		st = CMD_ERROR;
		goto out;
	}
	event_add(tick, &tv);
	b.start_ns = monotime_ns();
	for (i = 0; i < b.cfg.clients; i++)
		worker_send(&b.workers[i]);
	while (!b.stopping)
		event_base_loop(b.base, EVLOOP_ONCE);
	bench_report(ctx, &b, format);
	if (b.ok == 0)
		st = CMD_ERROR;
out:
	if (tick != NULL)
		event_free(tick);
	for (i = 0; b.workers != NULL && i < b.cfg.clients; i++) {
		struct bench_worker *w = &b.workers[i];

		if (w->req != NULL)
			evhttp_cancel_request(w->req);
		if (w->pause != NULL)
			event_free(w->pause);
		if (w->conn != NULL)
			evhttp_connection_free(w->conn);
	}
	free(b.workers);
	free(b.lat_ns);
	free(b.value);
	free(b.prefix_enc);
	free(b.host);
	return st;
}
