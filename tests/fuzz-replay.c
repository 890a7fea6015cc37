/*
 * fuzz-replay.c -- runs every file of a fuzz target's corpus (the
 * directories FUZZ_CORPUS names under the source tree, or those given as
 * arguments) through the target's entry point, so that its inputs keep
 * being tested without libFuzzer.  Linked with one target per program:
 * tests/fuzz-storage-replay (tests/fuzz-storage.c, tests/storage-corpus/)
 * and tests/fuzz-wire-replay (tests/fuzz-wire.c, tests/wire/).  A target
 * reports a failure by crashing or aborting.  TAP output.
 */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "file-util.h"
#include "tap.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Runs each regular file in dir through the target. */
static void
replay_dir(struct tap *t, const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[4200];
	uint8_t		*buf;
	size_t		 len;
	int		 n = 0;

	if ((d = opendir(dir)) == NULL) {
		ok(t, 0, "corpus directory %s", dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || snprintf(path, sizeof(path),
		    "%s/%s", dir, de->d_name) >= (int)sizeof(path) ||
		    (buf = (uint8_t *)tf_read_file(path, &len)) == NULL)
			continue;
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
		n++;
	}
	closedir(d);
	ok(t, n > 0, "%d corpus inputs from %s ran without a crash", n, dir);
}

int
main(int argc, char **argv)
{
	static const char *const corpus[] = { FUZZ_CORPUS };
	struct tap	 t = { 0 };
	const char	*srcdir = getenv("srcdir");
	char		 dir[4096];
	size_t		 i;
	int		 a;

	if (argc > 1)
		for (a = 1; a < argc; a++)
			replay_dir(&t, argv[a]);
	else
		for (i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
			snprintf(dir, sizeof(dir), "%s/%s",
			    srcdir != NULL ? srcdir : ".", corpus[i]);
			replay_dir(&t, dir);
		}
	return tap_done(&t);
}
