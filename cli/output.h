/*
 * output.h -- how raftkvctl prints: escaped bytes, tables and stable JSON.
 *
 * On a terminal, bytes that are not printable ASCII are written as \xHH and
 * a backslash as \\, so that a value can be read back with the shell's
 * lexer.  JSON output is one compact document per command, with keys in a
 * fixed order; a byte string that is not valid UTF-8 is written as
 * "FIELD_b64" (base64) instead of "FIELD".
 */
#ifndef RAFTKV_CLI_OUTPUT_H
#define RAFTKV_CLI_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* Returns a new NUL-terminated escaped copy of len bytes of data. */
char	*output_escape(const uint8_t *data, size_t len);

/* Writes len bytes of data (borrowed) to out, escaped. */
void	 output_write_escaped(FILE *out, const uint8_t *data, size_t len);

/*
 * Sets field (borrowed) of obj (borrowed) to the bytes as a JSON string, or
 * field + "_b64" to their base64 when they are not valid UTF-8.
 */
void	 output_json_bytes(json_t *obj, const char *field, const uint8_t *data,
	    size_t len);

/* Prints obj (stolen) as one line of compact JSON on out. */
void	 output_json(FILE *out, json_t *obj);

/* A table of text cells, printed with aligned columns. */
struct output_table {
	size_t		 ncols;
	size_t		 nrows;
	char		**cells;	/* owned; nrows * ncols owned strings */
};

/* Starts a table (caller-owned struct) with ncols headers (borrowed). */
void	 output_table_init(struct output_table *t, size_t ncols,
	    const char *const *headers);
/* Appends a row of ncols cells; each cell is copied. */
void	 output_table_row(struct output_table *t, const char *const *cells);
/* Prints t to out and frees its cells. */
void	 output_table_print(FILE *out, struct output_table *t);

#endif /* RAFTKV_CLI_OUTPUT_H */
