/* The few helpers the viewer's parsers and loops share: strict number parsing (no sign games,
 * no trailing junk, no silent overflow, unlike atoi/strtoul alone) and a monotonic clock. */
#pragma once

#include "parse-util.h"

#include <stdint.h>

#define USEC_PER_MSEC UINT64_C(1000)
#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_INFINITY UINT64_MAX

/* Decimal with an optional '-'. -EINVAL or -ERANGE outside [min, max]. */
int parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret);
/* "30", "2.5", "0.25": seconds with up to six decimals, into microseconds, at most max_usec. */
int parse_seconds(const char *s, uint64_t max_usec, uint64_t *ret_usec);

uint64_t now_usec(void);
/* Milliseconds for poll() until deadline, rounded up so we never wake early, capped at cap_ms
 * (< 0: no cap, and then USEC_INFINITY gives -1, wait forever). */
int poll_timeout_ms(uint64_t now, uint64_t deadline, int cap_ms);
