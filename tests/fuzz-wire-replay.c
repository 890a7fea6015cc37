/*
 * fuzz-wire-replay.c -- runs every file of tests/wire/valid and
 * tests/wire/invalid (or the directories given as arguments), whole and
 * wrapped in a batch, through the wire fuzz target, so that the
 * differential check runs without libFuzzer too.  TAP output.
 */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Runs each file in dir through the target, alone and as "[f,f]". */
static void
replay_dir(struct tap *t, const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[4200];
	char		*buf, *pair;
	FILE		*f;
	long		 size;
	int		 n = 0;

	if ((d = opendir(dir)) == NULL) {
		ok(t, 0, "corpus directory %s", dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || snprintf(path, sizeof(path),
		    "%s/%s", dir, de->d_name) >= (int)sizeof(path) ||
		    (f = fopen(path, "rb")) == NULL)
			continue;
		if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 &&
		    fseek(f, 0, SEEK_SET) == 0 &&
		    (buf = malloc((size_t)size + 1)) != NULL) {
			if (fread(buf, 1, (size_t)size, f) == (size_t)size) {
				LLVMFuzzerTestOneInput((const uint8_t *)buf,
				    (size_t)size);
				if ((pair = malloc(2 * (size_t)size + 3)) !=
				    NULL) {
					pair[0] = '[';
					memcpy(pair + 1, buf, (size_t)size);
					pair[size + 1] = ',';
					memcpy(pair + size + 2, buf,
					    (size_t)size);
					pair[2 * size + 2] = ']';
					LLVMFuzzerTestOneInput((const uint8_t *)
					    pair, 2 * (size_t)size + 3);
					free(pair);
				}
				n++;
			}
			free(buf);
		}
		fclose(f);
	}
	closedir(d);
	ok(t, n > 0, "%d inputs from %s: both decoders agree, alone and in a "
	    "batch", n, dir);
}

int
main(int argc, char **argv)
{
	struct tap	 t = { 0 };
	int		 i;

	if (argc > 1)
		for (i = 1; i < argc; i++)
			replay_dir(&t, argv[i]);
	else {
		replay_dir(&t, WIRE_TESTDIR "/valid");
		replay_dir(&t, WIRE_TESTDIR "/invalid");
	}
	return tap_done(&t);
}
