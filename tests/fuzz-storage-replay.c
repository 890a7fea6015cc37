/*
 * fuzz-storage-replay.c -- runs every file of the regression corpus
 * (tests/storage-corpus/, or the directories given as arguments) through
 * the fuzz target's entry point, so that inputs that once crashed keep
 * being tested without libFuzzer.  TAP output.
 */
#include "config.h"

#include <dirent.h>
#include <stdlib.h>

#include "tap.h"
#include "test-storage-util.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Runs each regular file in dir through the target. */
static void
replay_dir(struct tap *t, const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[4200];
	uint8_t		*buf;
	long long	 size;
	int		 fd, n = 0;

	if ((d = opendir(dir)) == NULL) {
		ok(t, 0, "corpus directory %s", dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || snprintf(path, sizeof(path),
		    "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		if ((size = tu_size(path)) < 0 || (fd = open(path,
		    O_RDONLY)) < 0)
			continue;
		buf = malloc((size_t)size + 1);
		if (read(fd, buf, (size_t)size) == size) {
			LLVMFuzzerTestOneInput(buf, (size_t)size);
			n++;
		}
		close(fd);
		free(buf);
	}
	closedir(d);
	ok(t, n > 0, "%d corpus inputs from %s ran without a crash", n, dir);
}

int
main(int argc, char **argv)
{
	struct tap	 t = { 0 };
	const char	*srcdir = getenv("srcdir");
	char		 dir[4096];
	int		 i;

	if (argc > 1)
		for (i = 1; i < argc; i++)
			replay_dir(&t, argv[i]);
	else {
		snprintf(dir, sizeof(dir), "%s/tests/storage-corpus",
		    srcdir != NULL ? srcdir : ".");
		replay_dir(&t, dir);
	}
	return tap_done(&t);
}
