/*
 * test-cli-lexer.c -- the shell lexer: quotes, escapes and errors.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "lexer.h"
#include "tap.h"

/* One data-driven case: a line and its words joined by '|', or NULL. */
struct lex_case {
	const char	*line;
	const char	*joined;	/* NULL: the line must be rejected */
};

static const struct lex_case cases[] = {
	{ "", "" },
	{ "   \t ", "" },
	{ "put a b", "put|a|b" },
	{ "  put   a\tb  ", "put|a|b" },
	{ "put 'a b' \"c d\"", "put|a b|c d" },
	{ "put a\\ b c", "put|a b|c" },
	{ "x 'it''s'", "x|its" },
	{ "x \"say \\\"hi\\\"\"", "x|say \"hi\"" },
	{ "x 'no \\x41 escapes'", "x|no \\x41 escapes" },
	{ "x \\x41\\x42", "x|AB" },
	{ "x \"\\x7a\\n\"", "x|z\n" },
	{ "x ab\"cd\"ef", "x|abcdef" },
	{ "x ''", "x|" },
	{ "x \"\" y", "x||y" },
	{ "x \\\\", "x|\\" },
	{ "x 'a", NULL },
	{ "x \"a", NULL },
	{ "x a\\", NULL },
	{ "x \\x4", NULL },
	{ "x \\xzz", NULL },
};

int
main(void)
{
	struct tap	 t = { 0 };
	struct lex_words w;
	char		 err[128], joined[256];
	size_t		 i, k;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = lexer_split(cases[i].line, &w, err, sizeof(err));

		if (cases[i].joined == NULL) {
			ok(&t, rc != 0 && w.n == 0 && err[0] != '\0',
			    "rejects [%s]: %s", cases[i].line, rc != 0 ? err :
			    "accepted");
			continue;
		}
		joined[0] = '\0';
		for (k = 0; rc == 0 && k < w.n; k++) {
			if (k > 0)
				strcat(joined, "|");
			strncat(joined, w.words[k].data,
			    sizeof(joined) - strlen(joined) - 1);
		}
		is_str(&t, rc == 0 ? joined : err, cases[i].joined,
		    "splits [%s]", cases[i].line);
		lexer_free(&w);
	}

	/* A NUL byte from \x00 is kept, with the right length. */
	lexer_split("put k a\\x00b", &w, err, sizeof(err));
	is_int(&t, w.n, 3, "three words with a NUL inside");
	is_int(&t, w.n == 3 ? w.words[2].len : 0, 3, "the NUL counts");
	ok(&t, w.n == 3 && memcmp(w.words[2].data, "a\0b", 3) == 0,
	    "the bytes are a NUL b");
	lexer_free(&w);

	/* The error names the column of the quote. */
	lexer_split("get \"abc", &w, err, sizeof(err));
	ok(&t, strstr(err, "column 4") != NULL, "error names column 4: %s",
	    err);
	return tap_done(&t);
}
