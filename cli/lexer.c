/*
 * lexer.c -- shell-like splitting of raftkvctl command lines.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lexer.h"
#include "pct.h"
#include "xmalloc.h"

/* Where the scanner is: between words, in a bare word, or in quotes. */
enum lex_state {
	LEX_BLANK,
	LEX_WORD,
	LEX_SINGLE,
	LEX_DOUBLE,
};

/*
 * Decodes the escape at line[*pos] (just after the backslash) into *byte and
 * advances *pos past it.  Returns 0 or -EINVAL with a message.
 */
static int
decode_escape(const char *line, size_t *pos, char *byte, char *err,
    size_t errlen)
{
	size_t	 at = *pos;
	int	 hi, lo;

	switch (line[at]) {
	case '\0':
		snprintf(err, errlen, "dangling backslash at column %zu", at);
		return -EINVAL;
	case 'n':
		*byte = '\n';
		break;
	case 't':
		*byte = '\t';
		break;
	case 'r':
		*byte = '\r';
		break;
	case '0':
		*byte = '\0';
		break;
	case 'x':
		hi = pct_hex_value((unsigned char)line[at + 1]);
		lo = hi < 0 ? -1 : pct_hex_value((unsigned char)line[at + 2]);
		if (hi < 0 || lo < 0) {
			snprintf(err, errlen, "\\x at column %zu needs two hex "
			    "digits", at);
			return -EINVAL;
		}
		*byte = (char)(hi << 4 | lo);
		*pos = at + 3;
		return 0;
	default:
		*byte = line[at];
		break;
	}
	*pos = at + 1;
	return 0;
}

/* Appends the finished word buf[0..len) to out. */
static void
push_word(struct lex_words *out, const char *buf, size_t len)
{
	struct lex_word *w;

	out->words = xrealloc(out->words, (out->n + 1) * sizeof(*out->words));
	w = &out->words[out->n++];
	w->data = xmalloc(len + 1);
	memcpy(w->data, buf, len);
	w->data[len] = '\0';
	w->len = len;
}

int
lexer_split(const char *line, struct lex_words *out, char *err, size_t errlen)
{
	enum lex_state	 state = LEX_BLANK;
	size_t		 pos = 0, len = 0, quote_at = 0;
	char		*buf = xmalloc(strlen(line) + 1);
	char		 c;
	int		 rc = 0;

	out->words = NULL;
	out->n = 0;
	while ((c = line[pos]) != '\0') {
		if (state == LEX_SINGLE) {
			pos++;
			if (c == '\'')
				state = LEX_WORD;
			else
				buf[len++] = c;
			continue;
		}
		if (c == '\\') {
			pos++;
			if ((rc = decode_escape(line, &pos, &buf[len], err,
			    errlen)) != 0)
				goto out;
			len++;
			if (state == LEX_BLANK)
				state = LEX_WORD;
			continue;
		}
		pos++;
		if (state == LEX_DOUBLE) {
			if (c == '"')
				state = LEX_WORD;
			else
				buf[len++] = c;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			if (state == LEX_WORD)
				push_word(out, buf, len);
			len = 0;
			state = LEX_BLANK;
			continue;
		}
		if (c == '\'' || c == '"') {
			quote_at = pos - 1;
			state = c == '\'' ? LEX_SINGLE : LEX_DOUBLE;
			continue;
		}
		buf[len++] = c;
		state = LEX_WORD;
	}
	if (state == LEX_SINGLE || state == LEX_DOUBLE) {
		snprintf(err, errlen, "unterminated %s quote at column %zu",
		    state == LEX_SINGLE ? "single" : "double", quote_at);
		rc = -EINVAL;
		goto out;
	}
	if (state == LEX_WORD)
		push_word(out, buf, len);
out:
	free(buf);
	if (rc != 0)
		lexer_free(out);
	return rc;
}

void
lexer_free(struct lex_words *w)
{
	size_t	 i;

	for (i = 0; i < w->n; i++)
		free(w->words[i].data);
	free(w->words);
	w->words = NULL;
	w->n = 0;
}
