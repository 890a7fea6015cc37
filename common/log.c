/* log.c -- the leveled logger shared by raftkvd and raftkvctl. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

static const char *const level_names[] = {
	[LOG_LEVEL_DEBUG] = "debug",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_ERROR] = "error",
};

/* Sets lg up for prog at level INFO, writing to stderr. */
void
log_init(struct logger *lg, const char *prog)
{
	const char	*slash = strrchr(prog, '/');

	lg->prog = slash != NULL ? slash + 1 : prog;
	lg->level = LOG_LEVEL_INFO;
	lg->stream = NULL;
	lg->timestamps = 0;
}

/* Maps a level name onto its enum value. */
int
log_level_parse(const char *name, enum log_level *out)
{
	size_t	 i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcmp(name, "warning") == 0) {
		*out = LOG_LEVEL_WARN;
		return 0;
	}
	return -1;
}

/* Returns the name of a level, for messages and status. */
const char *
log_level_name(enum log_level level)
{
	if ((unsigned)level >= sizeof(level_names) / sizeof(level_names[0]))
		return "?";
	return level_names[level];
}

/* Tells whether a line at level passes the logger's threshold. */
int
log_enabled(const struct logger *lg, enum log_level level)
{
	return lg != NULL && level >= lg->level;
}

/* Writes one formatted line, prefixed with the program and level. */
void
log_vmsg(const struct logger *lg, enum log_level level, const char *fmt,
    va_list ap)
{
	FILE		*fp;
	char		 stamp[40];
	struct timespec	 ts;
	struct tm	 tm;

	if (!log_enabled(lg, level))
		return;
	fp = lg->stream != NULL ? lg->stream : stderr;
	flockfile(fp);
	if (lg->timestamps) {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(fp, "%s.%03ldZ ", stamp, ts.tv_nsec / 1000000);
	}
	fprintf(fp, "%s: %s: ", lg->prog, log_level_name(level));
	vfprintf(fp, fmt, ap);
	fputc('\n', fp);
	funlockfile(fp);
	fflush(fp);
}

/* Formats and writes one line. */
void
log_msg(const struct logger *lg, enum log_level level, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vmsg(lg, level, fmt, ap);
	va_end(ap);
}

/* Logs why the program cannot go on, then exits with status 1. */
void
fatal(const struct logger *lg, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	if (lg != NULL)
		log_vmsg(lg, LOG_LEVEL_ERROR, fmt, ap);
	else {
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
	exit(1);
}
