/*
 * monotime.h -- the monotonic clock, for timeouts, uptimes and latency
 * figures (never for anything the Raft core decides: it counts ticks).
 */
#ifndef RAFTKV_MONOTIME_H
#define RAFTKV_MONOTIME_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t monotime_ns(void);
/* CLOCK_MONOTONIC in milliseconds. */
uint64_t monotime_ms(void);

#endif /* RAFTKV_MONOTIME_H */
