/*
 * shell.c -- the interactive readline shell of raftkvctl.
 *
 * Ctrl-C needs care: at the prompt it should clear the line and inside a
 * command cancel the request, never kill the shell.  SIGINT stays blocked
 * while the shell runs, except while readline waits for a key (our getc
 * function waits with ppoll() and SIGINT unblocked, so an interrupted wait
 * means Ctrl-C) and while a command runs (a libevent signal event on the
 * client's event loop then cancels the request in flight).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <readline/readline.h>
#include <readline/history.h>

#include <event2/event.h>

#include "client.h"
#include "cmd.h"
#include "lexer.h"
#include "shell.h"
#include "xmalloc.h"

#define HISTORY_MAX	1000
#define STARTUP_PROBE_MS 1000	/* how long the first prompt may wait */

/* Where the shell is: reading a line, or running a command. */
enum shell_state {
	SHELL_READING,
	SHELL_RUNNING,
};

struct shell {
	struct cmd_ctx	*ctx;		/* borrowed */
	enum shell_state state;
	struct event	*sigint;	/* owned; cancels a running command */
	char		*histfile;	/* owned; NULL: no history */
	char		 prompt[512];
};

/* Changes the shell's state (the one place that does). */
static void
shell_set_state(struct shell *sh, enum shell_state next)
{
	sigset_t	 set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	if (next == SHELL_RUNNING) {
		struct timespec zero = { 0, 0 };

		/* Forget a Ctrl-C pressed between two prompts. */
		while (sigtimedwait(&set, NULL, &zero) > 0)
			continue;
		event_add(sh->sigint, NULL);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
	} else {
		sigprocmask(SIG_BLOCK, &set, NULL);
		event_del(sh->sigint);
	}
	sh->state = next;
}

/* Cancels the command in flight on Ctrl-C. */
static void
on_sigint(evutil_socket_t sig, short what, void *arg)
{
	struct shell	*sh = arg;

	(void)sig;
	(void)what;
	if (sh->state == SHELL_RUNNING)
		client_interrupt(sh->ctx->client);
}

/* A handler that does nothing, so that SIGINT interrupts ppoll(). */
static void
ignore_signal(int sig)
{
	(void)sig;
}

/*
 * Reads one key for readline, waiting with SIGINT unblocked: Ctrl-C empties
 * the line and ends it, so that readline returns "" and a fresh prompt
 * follows.
 */
static int
shell_getc(FILE *in)
{
	struct pollfd	 pfd = { .fd = fileno(in), .events = POLLIN };
	sigset_t	 mask;
	unsigned char	 c;
	ssize_t		 n;

	sigprocmask(SIG_SETMASK, NULL, &mask);
	sigdelset(&mask, SIGINT);
	for (;;) {
		if (ppoll(&pfd, 1, NULL, &mask) < 0) {
			if (errno != EINTR)
				return EOF;
			fputs("^C", rl_outstream);
			rl_replace_line("", 0);
			rl_point = rl_end = 0;
			return '\n';
		}
		n = read(pfd.fd, &c, 1);
		if (n == 1)
			return c;
		if (n == 0 || (errno != EINTR && errno != EAGAIN))
			return EOF;
	}
}

/* Appends word (borrowed) to the match list if it starts with text. */
static void
add_match(char ***matches, size_t *n, const char *word, const char *text)
{
	if (strncmp(word, text, strlen(text)) != 0)
		return;
	*matches = xrealloc(*matches, (*n + 3) * sizeof(**matches));
	(*matches)[1 + (*n)++] = xstrdup(word);
	(*matches)[1 + *n] = NULL;
}

/* Adds the options of table (borrowed) that complete text. */
static void
add_opt_matches(char ***matches, size_t *n, const struct cmd_opt *opts,
    const char *text)
{
	char	 buf[64];
	size_t	 i;

	for (i = 0; opts != NULL && opts[i].name != NULL; i++) {
		snprintf(buf, sizeof(buf), "--%s", opts[i].name);
		add_match(matches, n, buf, text);
	}
}

char **
shell_completions(const char *line, const char *text, int start)
{
	char		**matches = NULL, *head;
	size_t		 n = 0, i, common;
	struct lex_words words;
	const struct cmd_entry *ce;
	char		 err[256];

	head = xstrndup(line, (size_t)start);
	if (lexer_split(head, &words, err, sizeof(err)) != 0)
		words.n = 0;
	matches = xcalloc(2, sizeof(*matches));
	if (words.n == 0) {
		for (i = 0; cmd_table[i] != NULL; i++)
			add_match(&matches, &n, cmd_table[i]->name, text);
	} else if (text[0] == '-' &&
	    (ce = cmd_find(words.words[0].data, err, sizeof(err))) != NULL) {
		add_opt_matches(&matches, &n, ce->opts, text);
		add_opt_matches(&matches, &n, cmd_common_opts, text);
	} else if (words.n == 1 &&
	    (ce = cmd_find(words.words[0].data, err, sizeof(err))) != NULL &&
	    ce == &cmd_help_entry) {
		for (i = 0; cmd_table[i] != NULL; i++)
			add_match(&matches, &n, cmd_table[i]->name, text);
	} else if (words.n == 1 &&
	    (ce = cmd_find(words.words[0].data, err, sizeof(err))) != NULL &&
	    ce->words != NULL) {
		for (i = 0; ce->words[i] != NULL; i++)
			add_match(&matches, &n, ce->words[i], text);
	}
	lexer_free(&words);
	free(head);
	if (n == 0) {
		free(matches);
		return NULL;
	}
	common = strlen(matches[1]);
	for (i = 2; i <= n; i++) {
		size_t k = 0;

		while (k < common && matches[i][k] == matches[1][k])
			k++;
		common = k;
	}
	matches[0] = xstrndup(matches[1], common);
	if (n == 1) {
		free(matches[0]);
		matches[0] = matches[1];
		matches[1] = NULL;
	}
	return matches;
}

/* readline's completion entry point: see shell_completions(). */
static char **
shell_complete(const char *text, int start, int end)
{
	(void)end;
	rl_attempted_completion_over = 1;
	return shell_completions(rl_line_buffer, text, start);
}

/* Refreshes the prompt from the node the client last talked to. */
static void
update_prompt(struct shell *sh)
{
	const char	*url, *role;

	if (client_current(sh->ctx->client, &url, &role))
		snprintf(sh->prompt, sizeof(sh->prompt), "%s (%s)> ", url,
		    role);
	else
		snprintf(sh->prompt, sizeof(sh->prompt), "not connected> ");
}

/* Picks the history file: $RAFTKVCTL_HISTFILE, else ~/.raftkvctl_history. */
static char *
history_path(void)
{
	const char	*env = getenv("RAFTKVCTL_HISTFILE");
	const char	*home = getenv("HOME");

	if (env != NULL)
		return env[0] != '\0' && strcmp(env, "/dev/null") != 0 ?
		    xstrdup(env) : NULL;
	if (home == NULL || home[0] == '\0')
		return NULL;
	return xasprintf("%s/.raftkvctl_history", home);
}

/* Splits and runs one line; returns the command's status. */
static enum cmd_status
run_line(struct shell *sh, const char *line)
{
	struct lex_words words;
	enum cmd_status	 st;
	char		 err[256];

	if (lexer_split(line, &words, err, sizeof(err)) != 0) {
		cmd_error(sh->ctx, "%s", err);
		return CMD_USAGE;
	}
	if (words.n == 0) {
		lexer_free(&words);
		return CMD_OK;
	}
	shell_set_state(sh, SHELL_RUNNING);
	st = cmd_run(sh->ctx, words.words, words.n);
	shell_set_state(sh, SHELL_READING);
	if (client_take_interrupt(sh->ctx->client))
		fprintf(sh->ctx->err, "(interrupted)\n");
	lexer_free(&words);
	return st;
}

/* Runs lines from a non-terminal standard input, like a script. */
static enum cmd_status
run_script(struct shell *sh)
{
	enum cmd_status	 st = CMD_OK, last = CMD_OK;
	char		*line = NULL;
	size_t		 cap = 0;

	while (!sh->ctx->quit && getline(&line, &cap, stdin) >= 0) {
		line[strcspn(line, "\n")] = '\0';
		if ((st = run_line(sh, line)) != CMD_OK)
			last = st;
	}
	free(line);
	return last;
}

/* Runs the interactive loop on a terminal. */
static void
run_interactive(struct shell *sh)
{
	char	*line;

	rl_readline_name = "raftkvctl";
	rl_catch_signals = 0;
	rl_catch_sigwinch = 0;
	rl_getc_function = shell_getc;
	rl_attempted_completion_function = shell_complete;
	rl_completer_quote_characters = "\"'";
	using_history();
	stifle_history(HISTORY_MAX);
	if (sh->histfile != NULL && read_history(sh->histfile) != 0) {
		FILE *f = fopen(sh->histfile, "a");	/* create it */

		if (f != NULL)
			fclose(f);
	}
	while (!sh->ctx->quit) {
		update_prompt(sh);
		if ((line = readline(sh->prompt)) == NULL) {
			fputc('\n', stdout);
			break;
		}
		if (line[strspn(line, " \t")] != '\0') {
			add_history(line);
			if (sh->histfile != NULL)
				append_history(1, sh->histfile);
			run_line(sh, line);
		}
		free(line);
	}
	if (sh->histfile != NULL)
		history_truncate_file(sh->histfile, HISTORY_MAX);
	clear_history();
}

enum cmd_status
shell_run(struct cmd_ctx *ctx)
{
	struct shell	 sh = { .ctx = ctx, .state = SHELL_READING };
	struct sigaction sa;
	sigset_t	 set;
	enum cmd_status	 st = CMD_OK;
	bool		 tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);

	ctx->interactive = true;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = ignore_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sh.sigint = evsignal_new(client_base(ctx->client), SIGINT, on_sigint,
	    &sh);
	if (sh.sigint == NULL) {
		cmd_error(ctx, "cannot watch for Ctrl-C");
		return CMD_ERROR;
	}
	if (tty) {
		struct client_node *nodes = xcalloc(
		    client_endpoint_count(ctx->client), sizeof(*nodes));

		sh.histfile = history_path();
		/* Learn where we are, for the first prompt. */
		shell_set_state(&sh, SHELL_RUNNING);
		client_probe_all(ctx->client, nodes, STARTUP_PROBE_MS);
		shell_set_state(&sh, SHELL_READING);
		client_take_interrupt(ctx->client);
		client_nodes_clear(nodes, client_endpoint_count(ctx->client));
		free(nodes);
		run_interactive(&sh);
	} else
		st = run_script(&sh);
	event_free(sh.sigint);
	free(sh.histfile);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	return st;
}
