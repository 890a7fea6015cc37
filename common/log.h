/*
 * log.h -- the leveled logger shared by raftkvd and raftkvctl.
 *
 * There is no global logger: main() owns a struct logger and lends a pointer
 * to every module that logs.  Lines go to the logger's stream (stderr by
 * default) as "PROG: LEVEL: message".
 */
#ifndef RAFTKV_LOG_H
#define RAFTKV_LOG_H

#include <stdarg.h>
#include <stdio.h>

enum log_level {
	LOG_LEVEL_DEBUG = 0,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
};

struct logger {
	const char	*prog;		/* borrowed; usually argv[0]'s basename */
	enum log_level	 level;		/* lines below this are dropped */
	FILE		*stream;	/* borrowed; stderr when NULL */
	int		 timestamps;	/* prefix an ISO-8601 UTC time */
};

/* Initialises lg to level INFO on stderr for prog (borrowed). */
void	 log_init(struct logger *lg, const char *prog);
/* Parses "debug", "info", "warn" or "error".  Returns 0 or -1. */
int	 log_level_parse(const char *name, enum log_level *out);
const char *log_level_name(enum log_level level);
/* True if a line at level would be written. */
int	 log_enabled(const struct logger *lg, enum log_level level);

void	 log_msg(const struct logger *lg, enum log_level level,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void	 log_vmsg(const struct logger *lg, enum log_level level,
	    const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

#define log_debug(lg, ...)	log_msg((lg), LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(lg, ...)	log_msg((lg), LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(lg, ...)	log_msg((lg), LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(lg, ...)	log_msg((lg), LOG_LEVEL_ERROR, __VA_ARGS__)

/* Logs at ERROR and exits with status 1: for states the program cannot survive. */
void	 fatal(const struct logger *lg, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3), noreturn));

#endif /* RAFTKV_LOG_H */
