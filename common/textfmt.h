/*
 * textfmt.h -- formatting on the hot paths without printf.
 *
 * A reply to a write formats a few integers and a Date header; through
 * snprintf() each costs about a thousand instructions, and glibc's
 * gmtime_r() and strftime() about three thousand more (they lock and
 * consult the time zone).  These write the same text directly.  Pure
 * functions: no allocation, no locale, no time zone.
 */
#ifndef RAFTKV_TEXTFMT_H
#define RAFTKV_TEXTFMT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define TEXTFMT_U64_MAX		20	/* digits of UINT64_MAX */
#define TEXTFMT_HTTP_DATE_LEN	29	/* "Sun, 06 Nov 1994 08:49:37 GMT" */

/*
 * Copies the NUL-terminated s (without the NUL) to p and returns the end.
 * Inline, so that the length of a literal is known where it is called.
 */
static inline char *
textfmt_put(char *p, const char *s)
{
	size_t	 n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

/*
 * Writes v in decimal into dst (caller-owned, at least
 * TEXTFMT_U64_MAX + 1 bytes), NUL-terminated, as printf("%" PRIu64) does.
 * Returns the number of digits.
 */
size_t	 textfmt_u64(char *dst, uint64_t v);

/*
 * Writes t (seconds since the epoch, UTC) as an HTTP date, RFC 9110's
 * IMF-fixdate, into dst (at least TEXTFMT_HTTP_DATE_LEN + 1 bytes),
 * NUL-terminated: the text strftime("%a, %d %b %Y %H:%M:%S GMT") gives
 * for gmtime(t).  Years outside 0..9999 are clamped to those bounds'
 * first and last second.  Returns TEXTFMT_HTTP_DATE_LEN.
 */
size_t	 textfmt_http_date(char *dst, time_t t);

#endif /* RAFTKV_TEXTFMT_H */
