#include "viewer-util.h"

#include "parse-util.h"

#include <errno.h>
#include <stdbool.h>
#include <time.h>

int parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret) {
        bool negative = *s == '-';
        uint64_t m;

        if (negative)
                s++;
        if (!is_digit(*s)) /* parse_u64 would take "0x" and a second '-' is not a number */
                return -EINVAL;
        for (const char *p = s; *p; p++)
                if (!is_digit(*p))
                        return -EINVAL;
        int r = parse_u64(s, (uint64_t) INT64_MAX + 1, &m);
        if (r < 0)
                return r;
        if (!negative && m > (uint64_t) INT64_MAX)
                return -ERANGE;
        /* -(INT64_MAX + 1) without overflowing on the way */
        int64_t v = negative ? (m == (uint64_t) INT64_MAX + 1 ? INT64_MIN : -(int64_t) m) : (int64_t) m;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int parse_seconds(const char *s, uint64_t max_usec, uint64_t *ret_usec) {
        uint64_t whole = 0, frac = 0, scale = USEC_PER_SEC;

        if (!is_digit(*s))
                return -EINVAL;
        for (; is_digit(*s); s++) {
                if (whole >= UINT64_MAX / USEC_PER_SEC / 10 - 1) /* whole * 1e6 + frac must fit */
                        return -ERANGE;
                whole = whole * 10 + (uint64_t) (*s - '0');
        }
        if (*s == '.') {
                s++;
                if (!is_digit(*s))
                        return -EINVAL;
                for (; is_digit(*s); s++) {
                        if (scale == 1)
                                return -EINVAL; /* finer than a microsecond */
                        scale /= 10;
                        frac += (uint64_t) (*s - '0') * scale;
                }
        }
        if (*s)
                return -EINVAL;
        uint64_t usec = whole * USEC_PER_SEC + frac;
        if (usec > max_usec)
                return -ERANGE;
        *ret_usec = usec;
        return 0;
}

uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

int poll_timeout_ms(uint64_t now, uint64_t deadline, int cap_ms) {
        if (deadline == USEC_INFINITY)
                return cap_ms;
        if (deadline <= now)
                return 0;
        uint64_t left = deadline - now, ms = left / USEC_PER_MSEC + (left % USEC_PER_MSEC != 0);
        if (cap_ms >= 0 && ms > (uint64_t) cap_ms)
                return cap_ms;
        return ms > INT32_MAX ? INT32_MAX : (int) ms;
}
