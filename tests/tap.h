/*
 * tap.h -- a minimal Test Anything Protocol emitter for the unit tests.
 *
 * Header-only so that every test binary gets its own copy of the counters;
 * the state lives in a struct on main()'s stack, never in globals.
 * Each check prints "ok N - name" or "not ok N - name" plus a diagnostic with
 * the file and line; tap_done() prints the plan and returns the exit status.
 */
#ifndef RAFTKV_TAP_H
#define RAFTKV_TAP_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct tap {
	unsigned	 n;
	unsigned	 failed;
};

static inline void __attribute__((format(printf, 5, 6)))
tap_check(struct tap *t, int cond, const char *file, int line,
    const char *fmt, ...)
{
	va_list	 ap;

	t->n++;
	printf("%s %u - ", cond ? "ok" : "not ok", t->n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond) {
		t->failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
}

#define ok(t, cond, ...) tap_check((t), !!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define is_u64(t, got, want, ...) do {					\
	uint64_t tap_g_ = (uint64_t)(got), tap_w_ = (uint64_t)(want);	\
	tap_check((t), tap_g_ == tap_w_, __FILE__, __LINE__, __VA_ARGS__); \
	if (tap_g_ != tap_w_)						\
		printf("#   got %" PRIu64 ", want %" PRIu64 "\n", tap_g_, tap_w_); \
} while (0)

#define is_int(t, got, want, ...) do {					\
	long long tap_g_ = (long long)(got), tap_w_ = (long long)(want);	\
	tap_check((t), tap_g_ == tap_w_, __FILE__, __LINE__, __VA_ARGS__); \
	if (tap_g_ != tap_w_)						\
		printf("#   got %lld, want %lld\n", tap_g_, tap_w_);	\
} while (0)

#define is_str(t, got, want, ...) do {					\
	const char *tap_g_ = (got), *tap_w_ = (want);			\
	int tap_eq_ = tap_g_ != NULL && tap_w_ != NULL &&		\
	    strcmp(tap_g_, tap_w_) == 0;				\
	tap_check((t), tap_eq_, __FILE__, __LINE__, __VA_ARGS__);	\
	if (!tap_eq_)							\
		printf("#   got \"%s\", want \"%s\"\n",			\
		    tap_g_ ? tap_g_ : "(null)", tap_w_ ? tap_w_ : "(null)"); \
} while (0)

static inline void __attribute__((format(printf, 1, 2)))
diag(const char *fmt, ...)
{
	va_list	 ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* Prints the plan and returns main()'s exit status. */
static inline int
tap_done(struct tap *t)
{
	printf("1..%u\n", t->n);
	if (t->failed)
		printf("# %u of %u checks failed\n", t->failed, t->n);
	return t->failed ? 1 : 0;
}

#endif /* RAFTKV_TAP_H */
