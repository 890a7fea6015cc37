/*
 * raftkvctl.c -- the admin client of raftkv: one-shot commands and a shell.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "cmd.h"
#include "lexer.h"
#include "log.h"
#include "shell.h"
#include "xmalloc.h"

#define DEFAULT_ENDPOINTS \
	"http://127.0.0.1:8001,http://127.0.0.1:8002,http://127.0.0.1:8003"
#define DEFAULT_TIMEOUT_MS	5000

/* Index of each global option in cmd_global_opts. */
enum global_opt {
	G_ENDPOINTS,
	G_TIMEOUT,
	G_WRITE_OUT,
	G_RAW,
	G_DEBUG,
	G_HELP,
	G_VERSION,
};

int
main(int argc, char **argv)
{
	struct logger	 lg;
	struct cmd_ctx	 ctx;
	struct lex_word	*words;
	const struct lex_word **pos = NULL;
	const char	*values[CMD_MAX_OPTS], *unused[CMD_MAX_OPTS];
	const char	*endpoints;
	unsigned long long timeout_ms = DEFAULT_TIMEOUT_MS;
	size_t		 npos = 0, i;
	enum cmd_status	 st = CMD_OK;
	char		 err[512];

	log_init(&lg, "raftkvctl");
	lg.level = LOG_LEVEL_WARN;
	signal(SIGPIPE, SIG_IGN);
	memset(&ctx, 0, sizeof(ctx));
	ctx.lg = &lg;
	ctx.out = stdout;
	ctx.err = stderr;
	ctx.stdout_tty = isatty(STDOUT_FILENO);
	words = xcalloc((size_t)argc + 1, sizeof(*words));
	for (i = 1; i < (size_t)argc; i++) {
		words[i - 1].data = argv[i];
		words[i - 1].len = strlen(argv[i]);
	}
	if (cmd_parse_opts(cmd_global_opts, NULL, words, (size_t)argc - 1, true,
	    values, unused, &pos, &npos, err, sizeof(err)) != 0) {
		cmd_error(&ctx, "%s (try --help)", err);
		st = CMD_USAGE;
		goto out;
	}
	if (values[G_HELP] != NULL) {
		cmd_print_help(stdout, NULL);
		goto out;
	}
	if (values[G_VERSION] != NULL) {
		printf("raftkvctl %s\n", PACKAGE_VERSION);
		goto out;
	}
	if (values[G_DEBUG] != NULL)
		lg.level = LOG_LEVEL_DEBUG;
	if (values[G_RAW] != NULL) {
		ctx.format = OUT_RAW;
		ctx.format_set = true;
	}
	if (values[G_WRITE_OUT] != NULL) {
		ctx.format_set = true;
		if (strcmp(values[G_WRITE_OUT], "json") == 0)
			ctx.format = OUT_JSON;
		else if (strcmp(values[G_WRITE_OUT], "text") == 0)
			ctx.format = OUT_TEXT;
		else {
			cmd_error(&ctx, "unknown output format \"%s\" (text "
			    "or json)", values[G_WRITE_OUT]);
			st = CMD_USAGE;
			goto out;
		}
	}
	if (values[G_TIMEOUT] != NULL && cmd_parse_duration_ms(
	    values[G_TIMEOUT], &timeout_ms) != 0) {
		cmd_error(&ctx, "bad --timeout \"%s\" (e.g. 500ms, 5s, 1m)",
		    values[G_TIMEOUT]);
		st = CMD_USAGE;
		goto out;
	}
	endpoints = values[G_ENDPOINTS];
	if (endpoints == NULL)
		endpoints = getenv("RAFTKVCTL_ENDPOINTS");
	if (endpoints == NULL || endpoints[0] == '\0')
		endpoints = DEFAULT_ENDPOINTS;
	/* Parse the command first: a usage error needs no connection. */
	if (npos > 0 && cmd_find(pos[0]->data, err, sizeof(err)) == NULL) {
		cmd_error(&ctx, "%s", err);
		st = CMD_USAGE;
		goto out;
	}
	ctx.client = client_new(endpoints, timeout_ms, &lg, err, sizeof(err));
	if (ctx.client == NULL) {
		cmd_error(&ctx, "%s", err);
		st = CMD_USAGE;
		goto out;
	}
	if (npos > 0)
		st = cmd_run(&ctx, pos[0], npos);
	else
		st = shell_run(&ctx);
	client_free(ctx.client);
	if (fflush(stdout) != 0 && st == CMD_OK)
		st = CMD_ERROR;
out:
	free(pos);
	free(words);
	return (int)st;
}
