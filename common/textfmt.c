/*
 * textfmt.c -- formatting on the hot paths without printf.
 */
#include "config.h"

#include <string.h>

#include "textfmt.h"

size_t
textfmt_u64(char *dst, uint64_t v)
{
	char	 tmp[TEXTFMT_U64_MAX];
	size_t	 n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		dst[i] = tmp[n - 1 - i];
	dst[n] = '\0';
	return n;
}

/* Writes v (0..99) as two digits. */
static char *
put2(char *p, unsigned v)
{
	*p++ = (char)('0' + v / 10);
	*p++ = (char)('0' + v % 10);
	return p;
}

/*
 * The civil date (proleptic Gregorian) of a day count from 1970-01-01,
 * by eras of 400 years (146097 days), each starting on 1 March so that
 * the leap day is the era year's last.
 */
static void
civil_from_days(int64_t days, int64_t *year, unsigned *month, unsigned *day)
{
	int64_t	 z = days + 719468;	/* days from 0000-03-01 */
	int64_t	 era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);	/* [0, 146096] */
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);	/* from 1 Mar */
	unsigned mp = (5 * doy + 2) / 153;	/* 0 = March */

	*day = doy - (153 * mp + 2) / 5 + 1;
	*month = mp < 10 ? mp + 3 : mp - 9;
	*year = (int64_t)yoe + era * 400 + (*month <= 2);
}

size_t
textfmt_http_date(char *dst, time_t t)
{
	static const char wdays[] = "ThuFriSatSunMonTueWed";	/* from 1970-01-01 */
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	/* 0000-01-01T00:00:00 and 9999-12-31T23:59:59, in epoch seconds. */
	const int64_t lo = -62167219200LL, hi = 253402300799LL;
	int64_t	 s = (int64_t)t, days, year;
	unsigned secs, month, day, wd;
	char	*p = dst;

	if (s < lo)
		s = lo;
	if (s > hi)
		s = hi;
	days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
	secs = (unsigned)(s - days * 86400);
	civil_from_days(days, &year, &month, &day);
	wd = (unsigned)(((days % 7) + 7) % 7);
	memcpy(p, wdays + 3 * wd, 3);
	p += 3;
	*p++ = ',';
	*p++ = ' ';
	p = put2(p, day);
	*p++ = ' ';
	memcpy(p, months + 3 * (month - 1), 3);
	p += 3;
	*p++ = ' ';
	p = put2(p, (unsigned)(year / 100));
	p = put2(p, (unsigned)(year % 100));
	*p++ = ' ';
	p = put2(p, secs / 3600);
	*p++ = ':';
	p = put2(p, secs / 60 % 60);
	*p++ = ':';
	p = put2(p, secs % 60);
	memcpy(p, " GMT", 5);
	return TEXTFMT_HTTP_DATE_LEN;
}
