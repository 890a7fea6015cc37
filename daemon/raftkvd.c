/*
 * raftkvd.c -- the raftkv node daemon: option parsing, signals, the event
 * loop, and the "check" and "restore" subcommands.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "log.h"
#include "node.h"
#include "options.h"
#include "restore.h"
#include "storage.h"
#include "transport.h"
#include "vfs.h"

/* Exit statuses, documented in raftkvd(8). */
enum {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1,	/* could not start, or failed while running */
	EXIT_USAGE = 2,		/* bad or missing configuration */
	EXIT_CHECK_PROBLEMS = 3,	/* check: the data directory has problems;
					   restore: the source is corrupt */
	EXIT_REFUSED = 4,	/* restore: the target is not empty, or a
				   lost-quorum source lacks --force-lost-quorum */
};

/* raftkvd restore ...: see restore.h and docs/backup.md. */
static int
run_restore(const struct logger *lg, int argc, char **argv)
{
	static const int status[] = {
		[RESTORE_OK] = EXIT_OK,
		[RESTORE_FAILED] = EXIT_RUNTIME,
		[RESTORE_USAGE] = EXIT_USAGE,
		[RESTORE_CORRUPT] = EXIT_CHECK_PROBLEMS,
		[RESTORE_REFUSED] = EXIT_REFUSED,
	};

	return status[restore_run(lg, argc, argv)];
}

/*
 * Routes libevent's own warnings into our log format.  libevent's callback
 * takes no context, so it writes the same "raftkvd: level: ..." lines
 * directly rather than through a global logger.
 */
static void
libevent_log(int severity, const char *msg)
{
	if (severity < EVENT_LOG_WARN)
		return;
	fprintf(stderr, "raftkvd: %s: libevent: %s\n",
	    severity == EVENT_LOG_ERR ? "error" : "warn", msg);
}

struct shutdown_ctx {
	struct event_base *base;
	struct node	*node;
	const struct logger *lg;
	int		 signals;
};

/* SIGTERM/SIGINT: stop accepting, answer parked requests, then exit. */
static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct shutdown_ctx *sc = arg;
	struct timeval	 flush = { 0, 200 * 1000 };

	(void)what;
	if (++sc->signals > 1) {
		log_warn(sc->lg, "second signal: exiting at once");
		event_base_loopbreak(sc->base);
		return;
	}
	log_info(sc->lg, "received signal %d, shutting down", (int)sig);
	node_stop(sc->node);
	/* Let the replies and the pending disk writes drain. */
	event_base_loopexit(sc->base, &flush);
}

/* raftkvd check --data-dir DIR [--repair] */
static int
run_check(const struct logger *lg, int argc, char **argv)
{
	const char	*dir = NULL;
	bool		 repair = false;
	char		 err[512];
	int		 i, rc;

	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--repair") == 0)
			repair = true;
		else if (strcmp(argv[i], "--data-dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strncmp(argv[i], "--data-dir=", 11) == 0)
			dir = argv[i] + 11;
		else {
			fprintf(stderr, "raftkvd: check: unknown argument "
			    "\"%s\"\nusage: raftkvd check --data-dir DIR "
			    "[--repair]\n", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (dir == NULL)
		dir = getenv("RAFTKV_DATA_DIR");
	if (dir == NULL || *dir == '\0') {
		fprintf(stderr, "raftkvd: check: --data-dir is required\n");
		return EXIT_USAGE;
	}
	rc = storage_check(dir, repair, stdout, NULL, err, sizeof(err));
	if (rc == 0)
		return EXIT_OK;
	log_error(lg, "check %s: %s", dir, err);
	return rc == -EBADMSG ? EXIT_CHECK_PROBLEMS : EXIT_RUNTIME;
}

int
main(int argc, char **argv)
{
	struct logger	 lg;
	struct options	 opt;
	struct event_base *base = NULL;
	struct evdns_base *dns = NULL;
	struct event	*sigterm = NULL, *sigint = NULL;
	struct shutdown_ctx sc;
	struct node	*node = NULL;
	enum log_level	 level;
	char		 err[512];
	int		 i, rc, status = EXIT_RUNTIME;

	log_init(&lg, "raftkvd");
	signal(SIGPIPE, SIG_IGN);
	if (argc > 1 && strcmp(argv[1], "check") == 0)
		return run_check(&lg, argc, argv);
	if (argc > 1 && strcmp(argv[1], "restore") == 0)
		return run_restore(&lg, argc, argv);

	rc = options_parse(&opt, argc, argv, stdout, err, sizeof(err));
	if (rc == 1) {
		/* After --help, the restore subcommand's usage. */
		for (i = 1; i < argc; i++)
			if (strcmp(argv[i], "--help") == 0) {
				printf("\n");
				restore_usage(stdout);
				break;
			}
		options_free(&opt);
		return EXIT_OK;
	}
	if (rc != 0) {
		fprintf(stderr, "raftkvd: %s\nTry 'raftkvd --help'.\n", err);
		options_free(&opt);
		return EXIT_USAGE;
	}
	if (log_level_parse(opt.log_level, &level) == 0)
		lg.level = level;
	lg.timestamps = 1;

	event_set_log_callback(libevent_log);
	if (evthread_use_pthreads() != 0)
		fatal(&lg, "libevent has no pthreads support");
	if ((base = transport_event_base_new()) == NULL)
		fatal(&lg, "cannot create the event loop");
	dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (dns == NULL)
		log_warn(&lg, "no DNS resolver; peer URLs must use addresses");

	if (node_start(&opt, base, dns, &lg, &node, err, sizeof(err)) != 0) {
		log_error(&lg, "cannot start: %s", err);
		goto out;
	}
	sc.base = base;
	sc.node = node;
	sc.lg = &lg;
	sc.signals = 0;
	sigterm = evsignal_new(base, SIGTERM, on_signal, &sc);
	sigint = evsignal_new(base, SIGINT, on_signal, &sc);
	if (sigterm == NULL || sigint == NULL ||
	    evsignal_add(sigterm, NULL) != 0 || evsignal_add(sigint, NULL) != 0)
		fatal(&lg, "cannot install signal handlers");

	event_base_dispatch(base);
	status = EXIT_OK;
out:
	/* node_free() waits for pending disk writes to finish. */
	node_free(node);
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	if (dns != NULL)
		evdns_base_free(dns, 0);
	if (base != NULL)
		event_base_free(base);
	options_free(&opt);
	log_info(&lg, "exiting with status %d", status);
	return status;
}
