/*
 * test-cli-cmd.c -- the command table: prefix lookup, option parsing,
 * durations, completion, and agreement with man/raftkvctl.1.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "lexer.h"
#include "shell.h"
#include "tap.h"
#include "xmalloc.h"

/* Parses line into args; returns cmd_parse()'s result. */
static int
parse_line(const char *line, struct lex_words *w, struct cmd_args *args,
    char *err, size_t errlen)
{
	if (lexer_split(line, w, err, errlen) != 0)
		return -1;
	return cmd_parse(w->words, w->n, args, err, errlen);
}

/* Checks prefix lookup. */
static void
test_lookup(struct tap *t)
{
	const struct cmd_entry *ce;
	char	 err[256];

	ce = cmd_find("get", err, sizeof(err));
	ok(t, ce == &cmd_get_entry, "exact name");
	ce = cmd_find("g", err, sizeof(err));
	ok(t, ce == &cmd_get_entry, "unique prefix g is get");
	ce = cmd_find("st", err, sizeof(err));
	ok(t, ce == &cmd_status_entry, "unique prefix st is status");
	ce = cmd_find("le", err, sizeof(err));
	ok(t, ce == &cmd_leader_entry, "le is leader");
	ce = cmd_find("l", err, sizeof(err));
	ok(t, ce == NULL, "l is ambiguous");
	ok(t, strstr(err, "ambiguous") != NULL && strstr(err, "leader") !=
	    NULL && strstr(err, "list") != NULL, "and lists leader and list: "
	    "%s", err);
	ok(t, strstr(err, "put") == NULL, "but not put");
	ce = cmd_find("sn", err, sizeof(err));
	ok(t, ce == &cmd_snapshot_entry, "sn is snapshot");
	ce = cmd_find("s", err, sizeof(err));
	ok(t, ce == NULL && strstr(err, "snapshot") != NULL &&
	    strstr(err, "status") != NULL, "s is snapshot or status: %s", err);
	ce = cmd_find("frobnicate", err, sizeof(err));
	ok(t, ce == NULL && strstr(err, "unknown") != NULL, "unknown: %s",
	    err);
	ce = cmd_find("", err, sizeof(err));
	ok(t, ce == NULL, "the empty name is no command");
}

/* Checks option and argument parsing. */
static void
test_parse(struct tap *t)
{
	struct lex_words w;
	struct cmd_args	 args;
	char		 err[256];
	int		 rc;

	rc = parse_line("put --cas 7 k v", &w, &args, err, sizeof(err));
	is_int(t, rc, 0, "put --cas 7 k v parses");
	is_str(t, cmd_value(&args, "cas"), "7", "cas value");
	is_int(t, args.argc, 2, "two arguments");
	is_str(t, args.argc == 2 ? args.argv[1]->data : "", "v", "value v");
	cmd_args_free(&args);
	lexer_free(&w);

	rc = parse_line("p k v --cas=3 -w json", &w, &args, err, sizeof(err));
	is_int(t, rc, 0, "options after arguments, --x=y, and -w");
	is_str(t, cmd_value(&args, "cas"), "3", "cas=3");
	is_str(t, cmd_value(&args, "write-out"), "json", "-w json");
	cmd_args_free(&args);
	lexer_free(&w);

	rc = parse_line("put -- -k -", &w, &args, err, sizeof(err));
	is_int(t, rc, 0, "-- ends options");
	is_str(t, args.argc == 2 ? args.argv[0]->data : "", "-k", "key -k");
	cmd_args_free(&args);
	lexer_free(&w);

	rc = parse_line("list -n5 --keys-only pre", &w, &args, err,
	    sizeof(err));
	is_int(t, rc, 0, "short option with attached value");
	is_str(t, cmd_value(&args, "limit"), "5", "limit 5");
	ok(t, cmd_value(&args, "keys-only") != NULL, "flag set");
	ok(t, cmd_value(&args, "stale") == NULL, "absent flag unset");
	cmd_args_free(&args);
	lexer_free(&w);

	rc = parse_line("get", &w, &args, err, sizeof(err));
	is_int(t, rc, CMD_USAGE, "get without a key is a usage error");
	ok(t, strstr(err, "usage: get") != NULL, "with the usage: %s", err);
	lexer_free(&w);

	rc = parse_line("get a b", &w, &args, err, sizeof(err));
	is_int(t, rc, CMD_USAGE, "get with two keys is a usage error");
	lexer_free(&w);

	rc = parse_line("get --bogus a", &w, &args, err, sizeof(err));
	is_int(t, rc, CMD_USAGE, "unknown option");
	ok(t, strstr(err, "--bogus") != NULL, "named: %s", err);
	lexer_free(&w);

	rc = parse_line("put --cas", &w, &args, err, sizeof(err));
	is_int(t, rc, CMD_USAGE, "missing option value");
	lexer_free(&w);

	rc = parse_line("get --stale=1 k", &w, &args, err, sizeof(err));
	is_int(t, rc, CMD_USAGE, "a flag takes no value");
	lexer_free(&w);

	rc = parse_line("snapshot save --stale --wait 30s f.snap", &w, &args,
	    err, sizeof(err));
	is_int(t, rc, 0, "snapshot save --stale --wait 30s FILE parses");
	ok(t, cmd_value(&args, "stale") != NULL, "--stale set");
	is_str(t, cmd_value(&args, "wait"), "30s", "--wait 30s");
	is_str(t, args.argc == 2 ? args.argv[1]->data : "", "f.snap", "FILE");
	cmd_args_free(&args);
	lexer_free(&w);

	rc = parse_line("snapshot save", &w, &args, err, sizeof(err));
	is_int(t, rc, CMD_USAGE, "snapshot save without FILE");
	ok(t, strstr(err, "usage: snapshot save FILE | info FILE") != NULL,
	    "with the usage: %s", err);
	lexer_free(&w);

	rc = parse_line("l x", &w, &args, err, sizeof(err));
	is_int(t, rc, CMD_USAGE, "ambiguous command is a usage error");
	lexer_free(&w);
}

/* Checks number and duration parsing. */
static void
test_numbers(struct tap *t)
{
	unsigned long long v = 0;

	ok(t, cmd_parse_duration_ms("250ms", &v) == 0 && v == 250, "250ms");
	ok(t, cmd_parse_duration_ms("5s", &v) == 0 && v == 5000, "5s");
	ok(t, cmd_parse_duration_ms("2", &v) == 0 && v == 2000, "2 is 2s");
	ok(t, cmd_parse_duration_ms("1m", &v) == 0 && v == 60000, "1m");
	ok(t, cmd_parse_duration_ms("0s", &v) != 0, "0s rejected");
	ok(t, cmd_parse_duration_ms("5x", &v) != 0, "5x rejected");
	ok(t, cmd_parse_duration_ms("-1", &v) != 0, "-1 rejected");
	ok(t, cmd_parse_u64("42", 0, 100, &v) == 0 && v == 42, "42");
	ok(t, cmd_parse_u64("101", 0, 100, &v) != 0, "101 over max");
	ok(t, cmd_parse_u64("+1", 0, 100, &v) != 0, "+1 rejected");
	ok(t, cmd_parse_u64("", 0, 100, &v) != 0, "empty rejected");
}

/* Frees a completion array. */
static void
free_matches(char **m)
{
	size_t	 i;

	for (i = 0; m != NULL && m[i] != NULL; i++)
		free(m[i]);
	free(m);
}

/* Checks Tab completion of commands and options. */
static void
test_completion(struct tap *t)
{
	char	**m;

	m = shell_completions("st", "st", 0);
	ok(t, m != NULL && strcmp(m[0], "status") == 0 && m[1] == NULL,
	    "st completes to status");
	free_matches(m);
	m = shell_completions("l", "l", 0);
	ok(t, m != NULL && strcmp(m[0], "l") == 0 && m[1] != NULL &&
	    m[2] != NULL && m[3] == NULL, "l offers leader and list");
	free_matches(m);
	m = shell_completions("put --c", "--c", 4);
	ok(t, m != NULL && strcmp(m[0], "--c") == 0, "put --c: --cas and "
	    "--create");
	free_matches(m);
	m = shell_completions("list --keys", "--keys", 5);
	ok(t, m != NULL && strcmp(m[0], "--keys-only") == 0 && m[1] == NULL,
	    "list --keys completes to --keys-only");
	free_matches(m);
	m = shell_completions("get --r", "--r", 4);
	ok(t, m != NULL && strcmp(m[0], "--raw") == 0, "common options too");
	free_matches(m);
	m = shell_completions("snapshot s", "s", 9);
	ok(t, m != NULL && strcmp(m[0], "save") == 0 && m[1] == NULL,
	    "snapshot s completes to save");
	free_matches(m);
	m = shell_completions("snapshot ", "", 9);
	ok(t, m != NULL && m[1] != NULL && m[2] != NULL && m[3] == NULL,
	    "snapshot offers save and info");
	free_matches(m);
	m = shell_completions("snapshot save --st", "--st", 14);
	ok(t, m != NULL && strcmp(m[0], "--stale") == 0 && m[1] == NULL,
	    "snapshot save --st completes to --stale");
	free_matches(m);
	m = shell_completions("get s", "s", 4);
	ok(t, m == NULL, "get takes no words");
	free_matches(m);
	m = shell_completions("zz", "zz", 0);
	ok(t, m == NULL, "nothing for zz");
}

/* Returns the man page's text (new), or NULL. */
static char *
read_man(void)
{
	const char	*srcdir = getenv("srcdir");
	char		*path = xasprintf("%s/man/raftkvctl.1",
	    srcdir != NULL ? srcdir : ".");
	FILE		*f = fopen(path, "r");
	char		*text = NULL;
	size_t		 len = 0;

	free(path);
	if (f == NULL)
		return NULL;
	text = xmalloc(1 << 20);
	len = fread(text, 1, (1 << 20) - 1, f);
	text[len] = '\0';
	fclose(f);
	return text;
}

/* Checks that the man page documents every command and option. */
static void
test_man(struct tap *t)
{
	char	*man = read_man(), needle[128];
	size_t	 i, k, missing = 0;

	ok(t, man != NULL, "man/raftkvctl.1 is readable");
	if (man == NULL)
		return;
	for (i = 0; cmd_table[i] != NULL; i++) {
		const struct cmd_entry *ce = cmd_table[i];

		snprintf(needle, sizeof(needle), ".It Cm %s", ce->name);
		if (strstr(man, needle) == NULL) {
			diag("man page lacks command %s", ce->name);
			missing++;
		}
		for (k = 0; ce->opts != NULL && ce->opts[k].name != NULL;
		    k++) {
			snprintf(needle, sizeof(needle), "Fl -%s",
			    ce->opts[k].name);
			if (strstr(man, needle) == NULL) {
				diag("man page lacks %s --%s", ce->name,
				    ce->opts[k].name);
				missing++;
			}
		}
	}
	for (k = 0; cmd_global_opts[k].name != NULL; k++) {
		snprintf(needle, sizeof(needle), "Fl -%s",
		    cmd_global_opts[k].name);
		if (strstr(man, needle) == NULL) {
			diag("man page lacks --%s", cmd_global_opts[k].name);
			missing++;
		}
	}
	is_int(t, missing, 0, "every command and option is in the man page");
	ok(t, strstr(man, ".Sh ENVIRONMENT") && strstr(man, ".Sh FILES") &&
	    strstr(man, ".Sh EXIT STATUS") && strstr(man, ".Sh EXAMPLES"),
	    "ENVIRONMENT, FILES, EXIT STATUS and EXAMPLES sections");
	free(man);
}

int
main(void)
{
	struct tap	 t = { 0 };

	test_lookup(&t);
	test_parse(&t);
	test_numbers(&t);
	test_completion(&t);
	test_man(&t);
	return tap_done(&t);
}
