/*
 * cmd.h -- raftkvctl's command table, shared by one-shot mode and the shell.
 *
 * Each command is a const struct cmd_entry (tmux style) listed in
 * cmd_table.  A command may be named by any unique prefix.  Options are
 * GNU-like: "--name VALUE", "--name=VALUE", "-x VALUE", flags without a
 * value, "--" ends them, and they may come before or after the arguments.
 * Every command also accepts the output options -w FORMAT and --raw.
 * --help, "help CMD" and man/raftkvctl.1 are all generated from or checked
 * against this table.
 */
#ifndef RAFTKV_CLI_CMD_H
#define RAFTKV_CLI_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "lexer.h"

struct client;
struct logger;

/* The documented exit statuses. */
enum cmd_status {
	CMD_OK = 0,
	CMD_ERROR = 1,
	CMD_USAGE = 2,
	CMD_UNREACHABLE = 3,	/* no leader, or no node answered */
	CMD_CAS_FAILED = 4,
	CMD_NOT_FOUND = 5,
	CMD_UNKNOWN = 6,	/* a write's outcome is unknown */
};

enum out_format {
	OUT_TEXT,		/* for people: tables and escaped bytes */
	OUT_JSON,		/* stable JSON, one document per command */
	OUT_RAW,		/* bytes alone */
};

/* What commands run with; owned by main() or the shell. */
struct cmd_ctx {
	struct client	*client;	/* borrowed */
	const struct logger *lg;	/* borrowed */
	enum out_format	 format;	/* from the global options */
	bool		 format_set;	/* -w or --raw was given globally */
	bool		 stdout_tty;
	bool		 interactive;	/* inside the shell */
	bool		 quit;		/* set by "quit" */
	FILE		*out;		/* borrowed; stdout */
	FILE		*err;		/* borrowed; stderr */
};

#define CMD_MAX_OPTS	12

struct cmd_opt {
	const char	*name;		/* long name without "--" */
	char		 short_name;	/* 0: none */
	const char	*arg;		/* metavariable; NULL: a flag */
	const char	*help;
};

struct cmd_args;

struct cmd_entry {
	const char	*name;
	const char	*usage;		/* arguments after the name */
	const struct cmd_opt *opts;	/* NULL-name terminated; may be NULL */
	int		 min_args;
	int		 max_args;	/* -1: no limit */
	const char *const *words;	/* first-argument words to complete;
					   NULL-terminated, may be NULL */
	const char	*summary;	/* one line */
	const char	*help;		/* a paragraph */
	enum cmd_status	(*exec)(struct cmd_ctx *, const struct cmd_args *);
};

/* A parsed command line: words and option values borrowed from the lexer. */
struct cmd_args {
	const struct cmd_entry *entry;	/* borrowed */
	const struct lex_word **argv;	/* owned array; words borrowed */
	size_t		 argc;
	const char	*values[CMD_MAX_OPTS];	/* borrowed; NULL if absent */
	const char	*common[CMD_MAX_OPTS];	/* the output options */
};

/* Every command, NULL-terminated. */
extern const struct cmd_entry *const cmd_table[];
/* The options every command accepts (-w, --raw), NULL-name terminated. */
extern const struct cmd_opt cmd_common_opts[];
/* raftkvctl's global options, NULL-name terminated. */
extern const struct cmd_opt cmd_global_opts[];

extern const struct cmd_entry cmd_bench_entry;
extern const struct cmd_entry cmd_cas_entry;
extern const struct cmd_entry cmd_del_entry;
extern const struct cmd_entry cmd_get_entry;
extern const struct cmd_entry cmd_help_entry;
extern const struct cmd_entry cmd_leader_entry;
extern const struct cmd_entry cmd_list_entry;
extern const struct cmd_entry cmd_put_entry;
extern const struct cmd_entry cmd_quit_entry;
extern const struct cmd_entry cmd_snapshot_entry;
extern const struct cmd_entry cmd_status_entry;

/*
 * Finds the command named name (borrowed) or by a unique prefix of it.
 * Returns the entry (borrowed), or NULL with a message that says it is
 * unknown or lists the candidates of an ambiguous prefix.
 */
const struct cmd_entry *cmd_find(const char *name, char *err, size_t errlen);

/*
 * Parses words (borrowed, argc of them) against opts (borrowed) and
 * common (borrowed; may be NULL) into values/common_values (caller-owned
 * arrays of CMD_MAX_OPTS).  Positional words go to *pos (new array of
 * borrowed pointers, free() it) and *npos.  With stop_at_word, parsing
 * stops at the first positional word and the rest are all positional.
 * Returns 0 or -EINVAL with a message.
 */
int	 cmd_parse_opts(const struct cmd_opt *opts, const struct cmd_opt *common,
	    const struct lex_word *words, size_t argc, bool stop_at_word,
	    const char **values, const char **common_values,
	    const struct lex_word ***pos, size_t *npos, char *err,
	    size_t errlen);

/*
 * Parses words[0..argc) (borrowed; words[0] is the command name) into
 * args (caller-owned; free with cmd_args_free()).  Returns 0, or
 * CMD_USAGE with a message (unknown or ambiguous command, bad option,
 * wrong number of arguments).
 */
int	 cmd_parse(const struct lex_word *words, size_t argc,
	    struct cmd_args *args, char *err, size_t errlen);
void	 cmd_args_free(struct cmd_args *args);

/* Returns the value of option name (borrowed) in args, or NULL. */
const char *cmd_value(const struct cmd_args *args, const char *name);

/*
 * Parses and runs one command line given as words (borrowed).  Prints
 * diagnostics to ctx->err.  Returns the exit status.
 */
enum cmd_status cmd_run(struct cmd_ctx *ctx, const struct lex_word *words,
	    size_t argc);

/* Prints the usage of one command, or of raftkvctl when ce is NULL. */
void	 cmd_print_help(FILE *out, const struct cmd_entry *ce);

/* Prints "raftkvctl: " and the message to ctx->err. */
void	 cmd_error(const struct cmd_ctx *ctx, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * Reports a call that did not get a final answer (outcome is not
 * CLIENT_OK) with err (borrowed) and returns the matching exit status.
 */
enum cmd_status cmd_report_outcome(const struct cmd_ctx *ctx, int outcome,
	    const char *err);

/*
 * Reports an HTTP error answer (status, and the JSON body's message when
 * there is one) about key (borrowed, may be NULL) and returns the exit
 * status: 5 for 404, 4 for 412, else 1.
 */
struct client_reply;
enum cmd_status cmd_report_http(const struct cmd_ctx *ctx,
	    const struct client_reply *rep, const char *what);

/* Returns the output format for args: its own -w/--raw, else the global. */
int	 cmd_format(const struct cmd_ctx *ctx, const struct cmd_args *args,
	    enum out_format *format, char *err, size_t errlen);

/* Parses a duration ("250ms", "5s", "2m", or seconds).  Returns 0 or -1. */
int	 cmd_parse_duration_ms(const char *text, unsigned long long *ms);
/* Parses a decimal number within [min, max].  Returns 0 or -1. */
int	 cmd_parse_u64(const char *text, unsigned long long min,
	    unsigned long long max, unsigned long long *out);

#endif /* RAFTKV_CLI_CMD_H */
