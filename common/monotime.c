/* monotime.c -- the monotonic clock. */
#include "config.h"

#include <time.h>

#include "monotime.h"

uint64_t
monotime_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t
monotime_ms(void)
{
	return monotime_ns() / 1000000;
}
