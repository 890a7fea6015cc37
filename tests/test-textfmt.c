/*
 * test-textfmt.c -- the printf-free formatters against printf and
 * strftime themselves.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tap.h"
#include "textfmt.h"

/* A fixed xorshift sequence: the same cases every run. */
static uint64_t
next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Counts the values of v whose decimal text differs from printf's. */
static unsigned
u64_mismatches(uint64_t v)
{
	char	 got[TEXTFMT_U64_MAX + 1], want[32];
	size_t	 n = textfmt_u64(got, v);

	snprintf(want, sizeof(want), "%" PRIu64, v);
	return strcmp(got, want) != 0 || n != strlen(want);
}

/* True if t formats as strftime() formats gmtime(t). */
static int
date_matches(time_t t, char *got, char *want)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		return 0;
	strftime(want, 64, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	return textfmt_http_date(got, t) == TEXTFMT_HTTP_DATE_LEN &&
	    strcmp(got, want) == 0;
}

int
main(void)
{
	struct tap t = {0};
	char	 got[64], want[64];
	uint64_t s = 0x9e3779b97f4a7c15ULL, v, p;
	unsigned bad = 0, i;
	time_t	 when;

	is_u64(&t, textfmt_u64(got, 0), 1, "0 is one digit");
	is_str(&t, got, "0", "0");
	textfmt_u64(got, UINT64_MAX);
	is_str(&t, got, "18446744073709551615", "UINT64_MAX");
	/* Every power of ten, and its neighbours. */
	for (p = 1, i = 0; i < 20; i++, p *= 10)
		bad += u64_mismatches(p) + u64_mismatches(p - 1) +
		    u64_mismatches(p + 1);
	for (i = 0; i < 100000; i++) {
		v = next(&s) >> (next(&s) % 64);	/* all magnitudes */
		bad += u64_mismatches(v);
	}
	is_u64(&t, bad, 0, "decimal text equals printf's (100,060 values)");

	textfmt_http_date(got, 784111777);
	is_str(&t, got, "Sun, 06 Nov 1994 08:49:37 GMT", "RFC 9110's example");
	textfmt_http_date(got, 0);
	is_str(&t, got, "Thu, 01 Jan 1970 00:00:00 GMT", "the epoch");
	textfmt_http_date(got, -1);
	is_str(&t, got, "Wed, 31 Dec 1969 23:59:59 GMT", "a second before");
	textfmt_http_date(got, 951782400);
	is_str(&t, got, "Tue, 29 Feb 2000 00:00:00 GMT", "a 400-year leap day");
	textfmt_http_date(got, 4107542400LL);
	is_str(&t, got, "Mon, 01 Mar 2100 00:00:00 GMT", "2100 is no leap year");
	textfmt_http_date(got, -62167219200LL);
	is_str(&t, got, "Sat, 01 Jan 0000 00:00:00 GMT", "year 0, four digits");
	textfmt_http_date(got, -62167219201LL - 86400 * 400LL);
	is_str(&t, got, "Sat, 01 Jan 0000 00:00:00 GMT", "clamped below");
	textfmt_http_date(got, 253402300800LL + 86400);
	is_str(&t, got, "Fri, 31 Dec 9999 23:59:59 GMT", "clamped above");

	/* strftime's %Y pads nothing, so compare years 1000..9999. */
	bad = 0;
	for (i = 0; i < 200000; i++) {
		when = -30610224000LL + (time_t)(next(&s) % 283000000000ULL);
		bad += !date_matches(when, got, want);
	}
	for (when = 946684800 - 86400 * 3; when < 946684800 + 86400 * 3;
	    when += 3599)	/* around 2000-01-01, hour and minute edges */
		bad += !date_matches(when, got, want);
	if (bad != 0)
		diag("last: got \"%s\", want \"%s\"", got, want);
	is_u64(&t, bad, 0, "HTTP dates equal strftime's, years 1000-9999");
	return tap_done(&t);
}
