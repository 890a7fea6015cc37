/*
 * cmd.c -- the command table, prefix lookup, option parsing and help.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "cmd.h"
#include "xmalloc.h"

const struct cmd_entry *const cmd_table[] = {
	&cmd_bench_entry,
	&cmd_cas_entry,
	&cmd_del_entry,
	&cmd_get_entry,
	&cmd_help_entry,
	&cmd_leader_entry,
	&cmd_list_entry,
	&cmd_put_entry,
	&cmd_quit_entry,
	&cmd_snapshot_entry,
	&cmd_status_entry,
	NULL,
};

const struct cmd_opt cmd_common_opts[] = {
	{ "write-out", 'w', "FORMAT", "output format: text (the default) or "
	    "json" },
	{ "raw", 0, NULL, "print values as bare bytes (the default for get "
	    "when stdout is not a terminal)" },
	{ NULL, 0, NULL, NULL },
};

const struct cmd_opt cmd_global_opts[] = {
	{ "endpoints", 'e', "URL,...", "client URLs of the nodes (default: "
	    "$RAFTKVCTL_ENDPOINTS, then http://127.0.0.1:8001,"
	    "http://127.0.0.1:8002,http://127.0.0.1:8003)" },
	{ "timeout", 't', "DURATION", "give up on a command after DURATION "
	    "(e.g. 500ms, 5s; default 5s)" },
	{ "write-out", 'w', "FORMAT", "output format: text (the default) or "
	    "json" },
	{ "raw", 0, NULL, "print values as bare bytes" },
	{ "debug", 'd', NULL, "log leader discovery and retries to stderr" },
	{ "help", 'h', NULL, "show this help and exit" },
	{ "version", 'V', NULL, "show the version and exit" },
	{ NULL, 0, NULL, NULL },
};

const struct cmd_entry *
cmd_find(const char *name, char *err, size_t errlen)
{
	const struct cmd_entry *found = NULL;
	size_t	 i, len = strlen(name), matches = 0, used;
	int	 k;

	for (i = 0; cmd_table[i] != NULL; i++) {
		if (strcmp(cmd_table[i]->name, name) == 0)
			return cmd_table[i];
		if (len > 0 && strncmp(cmd_table[i]->name, name, len) == 0) {
			found = cmd_table[i];
			matches++;
		}
	}
	if (matches == 1)
		return found;
	if (matches == 0) {
		snprintf(err, errlen, "unknown command \"%s\" (try \"help\")",
		    name);
		return NULL;
	}
	k = snprintf(err, errlen, "ambiguous command \"%s\", could be:", name);
	used = k > 0 ? (size_t)k : 0;
	for (i = 0; cmd_table[i] != NULL && used < errlen; i++) {
		if (strncmp(cmd_table[i]->name, name, len) != 0)
			continue;
		k = snprintf(err + used, errlen - used, " %s",
		    cmd_table[i]->name);
		used += k > 0 ? (size_t)k : 0;
	}
	return NULL;
}

/* Finds an option by long name (len bytes) or short letter in opts. */
static int
find_opt(const struct cmd_opt *opts, const char *name, size_t len, char letter)
{
	int	 i;

	for (i = 0; opts != NULL && opts[i].name != NULL; i++) {
		if (letter != 0 && opts[i].short_name == letter)
			return i;
		if (letter == 0 && strlen(opts[i].name) == len &&
		    strncmp(opts[i].name, name, len) == 0)
			return i;
	}
	return -1;
}

int
cmd_parse_opts(const struct cmd_opt *opts, const struct cmd_opt *common,
    const struct lex_word *words, size_t argc, bool stop_at_word,
    const char **values, const char **common_values,
    const struct lex_word ***pos, size_t *npos, char *err, size_t errlen)
{
	size_t	 i;
	bool	 only_words = false;

	*pos = xcalloc(argc + 1, sizeof(**pos));
	*npos = 0;
	for (i = 0; i < CMD_MAX_OPTS; i++) {
		values[i] = NULL;
		common_values[i] = NULL;
	}
	for (i = 0; i < argc; i++) {
		const char	*w = words[i].data;
		const char	*name, *inline_value = NULL;
		const struct cmd_opt *table = opts;
		const char	**slot = values;
		size_t		 name_len;
		char		 letter = 0;
		int		 k;

		if (only_words || w[0] != '-' || w[1] == '\0' ||
		    words[i].len != strlen(w)) {
			(*pos)[(*npos)++] = &words[i];
			if (stop_at_word)
				only_words = true;
			continue;
		}
		if (strcmp(w, "--") == 0) {
			only_words = true;
			continue;
		}
		if (w[1] == '-') {
			name = w + 2;
			name_len = strcspn(name, "=");
			if (name[name_len] == '=')
				inline_value = name + name_len + 1;
		} else {
			name = w + 1;
			name_len = 1;
			letter = w[1];
			if (w[2] != '\0')
				inline_value = w + 2;
		}
		k = find_opt(opts, name, name_len, letter);
		if (k < 0 && (k = find_opt(common, name, name_len,
		    letter)) >= 0) {
			table = common;
			slot = common_values;
		}
		if (k < 0) {
			snprintf(err, errlen, "unknown option \"%s\"", w);
			goto fail;
		}
		if (table[k].arg == NULL) {
			if (inline_value != NULL) {
				snprintf(err, errlen, "option --%s takes no "
				    "value", table[k].name);
				goto fail;
			}
			slot[k] = "";
			continue;
		}
		if (inline_value == NULL) {
			if (i + 1 >= argc) {
				snprintf(err, errlen, "option --%s needs %s",
				    table[k].name, table[k].arg);
				goto fail;
			}
			inline_value = words[++i].data;
		}
		slot[k] = inline_value;
	}
	return 0;
fail:
	free(*pos);
	*pos = NULL;
	*npos = 0;
	return -EINVAL;
}

int
cmd_parse(const struct lex_word *words, size_t argc, struct cmd_args *args,
    char *err, size_t errlen)
{
	const struct cmd_entry *ce;
	char	 why[256];

	memset(args, 0, sizeof(*args));
	if (argc == 0) {
		snprintf(err, errlen, "no command given");
		return CMD_USAGE;
	}
	if ((ce = cmd_find(words[0].data, err, errlen)) == NULL)
		return CMD_USAGE;
	args->entry = ce;
	if (cmd_parse_opts(ce->opts, cmd_common_opts, words + 1, argc - 1,
	    false, args->values, args->common, &args->argv, &args->argc, why,
	    sizeof(why)) != 0) {
		snprintf(err, errlen, "%s: %s", ce->name, why);
		return CMD_USAGE;
	}
	if ((int)args->argc < ce->min_args || (ce->max_args >= 0 &&
	    (int)args->argc > ce->max_args)) {
		snprintf(err, errlen, "%s: wrong number of arguments; usage: "
		    "%s %s", ce->name, ce->name, ce->usage);
		cmd_args_free(args);
		return CMD_USAGE;
	}
	return 0;
}

void
cmd_args_free(struct cmd_args *args)
{
	free(args->argv);
	memset(args, 0, sizeof(*args));
}

const char *
cmd_value(const struct cmd_args *args, const char *name)
{
	int	 k;

	k = find_opt(args->entry->opts, name, strlen(name), 0);
	if (k >= 0)
		return args->values[k];
	k = find_opt(cmd_common_opts, name, strlen(name), 0);
	return k >= 0 ? args->common[k] : NULL;
}

void
cmd_error(const struct cmd_ctx *ctx, const char *fmt, ...)
{
	va_list	 ap;

	fflush(ctx->out);
	fputs("raftkvctl: ", ctx->err);
	va_start(ap, fmt);
	vfprintf(ctx->err, fmt, ap);
	va_end(ap);
	fputc('\n', ctx->err);
	fflush(ctx->err);
}

enum cmd_status
cmd_run(struct cmd_ctx *ctx, const struct lex_word *words, size_t argc)
{
	struct cmd_args	 args;
	char		 err[512];
	enum cmd_status	 st;
	int		 rc;

	if ((rc = cmd_parse(words, argc, &args, err, sizeof(err))) != 0) {
		cmd_error(ctx, "%s", err);
		return (enum cmd_status)rc;
	}
	st = args.entry->exec(ctx, &args);
	cmd_args_free(&args);
	fflush(ctx->out);
	return st;
}

/* Prints an option table with a heading. */
static void
print_opts(FILE *out, const char *heading, const struct cmd_opt *opts)
{
	char	 left[64];
	size_t	 i;

	if (opts == NULL || opts[0].name == NULL)
		return;
	fprintf(out, "\n%s:\n", heading);
	for (i = 0; opts[i].name != NULL; i++) {
		if (opts[i].short_name != 0)
			snprintf(left, sizeof(left), "-%c, --%s%s%s",
			    opts[i].short_name, opts[i].name,
			    opts[i].arg != NULL ? " " : "",
			    opts[i].arg != NULL ? opts[i].arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s",
			    opts[i].name, opts[i].arg != NULL ? " " : "",
			    opts[i].arg != NULL ? opts[i].arg : "");
		fprintf(out, "  %-26s %s\n", left, opts[i].help);
	}
}

void
cmd_print_help(FILE *out, const struct cmd_entry *ce)
{
	size_t	 i;

	if (ce != NULL) {
		fprintf(out, "usage: %s %s\n\n%s\n", ce->name, ce->usage,
		    ce->help);
		print_opts(out, "options", ce->opts);
		print_opts(out, "output options", cmd_common_opts);
		return;
	}
	fprintf(out, "usage: raftkvctl [options] [command [args...]]\n\n"
	    "Without a command, raftkvctl starts an interactive shell.\n"
	    "A command may be shortened to any unique prefix.\n");
	print_opts(out, "options", cmd_global_opts);
	fprintf(out, "\ncommands:\n");
	for (i = 0; cmd_table[i] != NULL; i++)
		fprintf(out, "  %-8s %s\n", cmd_table[i]->name,
		    cmd_table[i]->summary);
	fprintf(out, "\nexit status: 0 ok, 1 error, 2 usage, 3 no leader or "
	    "unreachable,\n4 compare failed, 5 not found, 6 outcome unknown.\n"
	    "Run \"raftkvctl help COMMAND\" for a command's options.\n");
}

int
cmd_parse_u64(const char *text, unsigned long long min,
    unsigned long long max, unsigned long long *out)
{
	char		*stop;
	unsigned long long v;

	if (text == NULL || text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(text, &stop, 10);
	if (errno != 0 || *stop != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
cmd_parse_duration_ms(const char *text, unsigned long long *ms)
{
	static const struct {
		const char	*suffix;
		unsigned long long scale;
	} units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "", 1000 },
	};
	char		*stop;
	unsigned long long v;
	size_t		 i;

	if (text == NULL || text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(text, &stop, 10);
	if (errno != 0)
		return -1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(stop, units[i].suffix) != 0)
			continue;
		if (v == 0 || v > 86400000ULL / units[i].scale)
			return -1;
		*ms = v * units[i].scale;
		return 0;
	}
	return -1;
}

enum cmd_status
cmd_report_outcome(const struct cmd_ctx *ctx, int outcome, const char *err)
{
	cmd_error(ctx, "%s", err);
	switch ((enum client_outcome)outcome) {
	case CLIENT_UNREACHABLE:
		return CMD_UNREACHABLE;
	case CLIENT_UNKNOWN:
		return CMD_UNKNOWN;
	case CLIENT_OK:
	case CLIENT_INTERRUPTED:
	case CLIENT_FAILED:
		break;
	}
	return CMD_ERROR;
}

enum cmd_status
cmd_report_http(const struct cmd_ctx *ctx, const struct client_reply *rep,
    const char *what)
{
	const char	*code = json_string_value(json_object_get(rep->json,
	    "error"));
	const char	*msg = json_string_value(json_object_get(rep->json,
	    "message"));

	if (code == NULL)
		code = "error";
	if (msg == NULL)
		msg = rep->body_len > 0 && rep->json == NULL ?
		    (const char *)rep->body : "";
	if (rep->status == 404) {
		cmd_error(ctx, "%s: not found", what);
		return CMD_NOT_FOUND;
	}
	if (rep->status == 412) {
		cmd_error(ctx, "%s: compare failed: its modification index is "
		    "%lld", what, (long long)json_integer_value(
		    json_object_get(rep->json, "mod_index")));
		return CMD_CAS_FAILED;
	}
	cmd_error(ctx, "%s: HTTP %d %s: %s", what, rep->status, code, msg);
	return CMD_ERROR;
}

int
cmd_format(const struct cmd_ctx *ctx, const struct cmd_args *args,
    enum out_format *format, char *err, size_t errlen)
{
	const char	*w = cmd_value(args, "write-out");

	*format = ctx->format;
	if (cmd_value(args, "raw") != NULL)
		*format = OUT_RAW;
	if (w == NULL)
		return 0;
	if (strcmp(w, "json") == 0)
		*format = OUT_JSON;
	else if (strcmp(w, "text") == 0)
		*format = OUT_TEXT;
	else {
		snprintf(err, errlen, "unknown output format \"%s\" (text or "
		    "json)", w);
		return -1;
	}
	return 0;
}
