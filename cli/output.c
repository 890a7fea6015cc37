/*
 * output.c -- escaping, tables and JSON for raftkvctl.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "output.h"
#include "xmalloc.h"

/* Writes the escaped form of byte c into dst (room for 5); returns length. */
static size_t
escape_byte(uint8_t c, char *dst)
{
	static const char hex[] = "0123456789abcdef";

	if (c == '\\') {
		memcpy(dst, "\\\\", 2);
		return 2;
	}
	if (c >= 0x20 && c < 0x7f) {
		dst[0] = (char)c;
		return 1;
	}
	dst[0] = '\\';
	dst[1] = 'x';
	dst[2] = hex[c >> 4];
	dst[3] = hex[c & 0xf];
	return 4;
}

char *
output_escape(const uint8_t *data, size_t len)
{
	char	*s = xmalloc(len * 4 + 1);
	size_t	 i, used = 0;

	for (i = 0; i < len; i++)
		used += escape_byte(data[i], s + used);
	s[used] = '\0';
	return s;
}

void
output_write_escaped(FILE *out, const uint8_t *data, size_t len)
{
	char	 buf[4];
	size_t	 i;

	for (i = 0; i < len; i++)
		fwrite(buf, 1, escape_byte(data[i], buf), out);
}

void
output_json_bytes(json_t *obj, const char *field, const uint8_t *data,
    size_t len)
{
	json_t	*s = json_stringn((const char *)data, len);
	char	*b64, *name;

	if (s != NULL) {
		json_object_set_new(obj, field, s);
		return;
	}
	b64 = xmalloc(base64_encoded_len(len) + 1);
	base64_encode(data, len, b64);
	name = xasprintf("%s_b64", field);
	json_object_set_new(obj, name, json_string(b64));
	free(name);
	free(b64);
}

void
output_json(FILE *out, json_t *obj)
{
	char	*text = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII |
	    JSON_REAL_PRECISION(9));

	if (text != NULL) {
		fputs(text, out);
		fputc('\n', out);
	}
	free(text);
	json_decref(obj);
}

void
output_table_init(struct output_table *t, size_t ncols,
    const char *const *headers)
{
	t->ncols = ncols;
	t->nrows = 0;
	t->cells = NULL;
	output_table_row(t, headers);
}

void
output_table_row(struct output_table *t, const char *const *cells)
{
	size_t	 i;

	t->cells = xrealloc(t->cells, (t->nrows + 1) * t->ncols *
	    sizeof(*t->cells));
	for (i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] = xstrdup(cells[i] != NULL ?
		    cells[i] : "");
	t->nrows++;
}

void
output_table_print(FILE *out, struct output_table *t)
{
	size_t	*width = xcalloc(t->ncols, sizeof(*width));
	size_t	 r, col;

	for (r = 0; r < t->nrows; r++)
		for (col = 0; col < t->ncols; col++) {
			size_t w = strlen(t->cells[r * t->ncols + col]);

			if (w > width[col])
				width[col] = w;
		}
	for (r = 0; r < t->nrows; r++) {
		for (col = 0; col < t->ncols; col++) {
			const char *cell = t->cells[r * t->ncols + col];

			if (col + 1 == t->ncols)
				fprintf(out, "%s\n", cell);
			else
				fprintf(out, "%-*s  ", (int)width[col], cell);
		}
	}
	for (r = 0; r < t->nrows * t->ncols; r++)
		free(t->cells[r]);
	free(t->cells);
	free(width);
	t->cells = NULL;
	t->nrows = 0;
}
