/*
 * file-util.h -- reading a whole test input file.  Header-only, test code,
 * shared by the corpus readers (tests/test-wire.c, tests/fuzz-replay.c).
 */
#ifndef RAFTKV_TEST_FILE_UTIL_H
#define RAFTKV_TEST_FILE_UTIL_H

#include <stdio.h>
#include <stdlib.h>

/*
 * Reads the whole file at path into new memory (caller frees), with a NUL
 * after its *len bytes; NULL on any error.
 */
static inline char *
tf_read_file(const char *path, size_t *len)
{
	FILE	*f = fopen(path, "rb");
	char	*buf = NULL;
	long	 n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) != NULL) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

#endif /* RAFTKV_TEST_FILE_UTIL_H */
