/*
 * lexer.h -- splits a shell line into words, the way a POSIX shell would
 * for simple commands.
 *
 * Words are separated by blanks.  'single quotes' keep everything literal;
 * "double quotes" and unquoted text understand backslash escapes: \\ \" \'
 * \n \t \r \0, \xHH (two hex digits, any byte), and a backslash before any
 * other character stands for that character.  Words are binary-safe: each
 * has a length and may contain NUL bytes (it is also NUL-terminated).
 */
#ifndef RAFTKV_CLI_LEXER_H
#define RAFTKV_CLI_LEXER_H

#include <stddef.h>

struct lex_word {
	char		*data;		/* owned; NUL-terminated */
	size_t		 len;		/* without the terminating NUL */
};

struct lex_words {
	struct lex_word	*words;		/* owned array of n */
	size_t		 n;
};

/*
 * Splits line (borrowed, NUL-terminated) into out (caller-owned struct;
 * the words are new and freed with lexer_free()).  Returns 0, or -EINVAL
 * with a message naming the column of an unterminated quote, a dangling
 * backslash or a bad \x escape; out is then empty.
 */
int	 lexer_split(const char *line, struct lex_words *out, char *err,
	    size_t errlen);

/* Frees the words of w (borrowed struct) and empties it. */
void	 lexer_free(struct lex_words *w);

#endif /* RAFTKV_CLI_LEXER_H */
