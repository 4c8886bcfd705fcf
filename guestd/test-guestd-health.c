/* The /proc parsers of the heartbeat: real shapes, edge cases, garbage; and the reader on this
 * machine's /proc. */
#include "check.h"
#include <errno.h>
#include <string.h>

#include "guestd-health.h"

#define S(x) x, strlen(x)

static void test_uptime(void) {
        uint64_t v = 7;
        check(guestd_parse_uptime(S("12345.67 2345.11\n"), &v) == 0 && v == 12345);
        check(guestd_parse_uptime(S("0.99 0.00\n"), &v) == 0 && v == 0);
        check(guestd_parse_uptime(S("42"), &v) == 0 && v == 42);
        check(guestd_parse_uptime(S("99999999999999999999999999.5 1\n"), &v) == 0 && v > 1000000000);
        v = 7;
        check(guestd_parse_uptime(S(""), &v) == -EINVAL && v == 7);
        check(guestd_parse_uptime(S("abc 1\n"), &v) == -EINVAL && v == 7);
        check(guestd_parse_uptime(S("12x 1\n"), &v) == -EINVAL && v == 7);
        /* Only the bytes given count: "12" of "123". */
        check(guestd_parse_uptime("123", 2, &v) == 0 && v == 12);
}

static void test_loadavg(void) {
        uint32_t a = 1, b = 1, c = 1;
        check(guestd_parse_loadavg(S("0.25 1.50 12.05 1/123 4567\n"), &a, &b, &c) == 0);
        check(a == 250 && b == 1500 && c == 12050);
        check(guestd_parse_loadavg(S("3 0.5 0.123456 1/1 1\n"), &a, &b, &c) == 0);
        check(a == 3000 && b == 500 && c == 123);
        check(guestd_parse_loadavg(S("99999999.00 0 0"), &a, &b, &c) == 0 && a == UINT32_MAX);
        a = b = c = 1;
        check(guestd_parse_loadavg(S("0.25 1.50"), &a, &b, &c) == -EINVAL);
        check(guestd_parse_loadavg(S("0.25 x 1"), &a, &b, &c) == -EINVAL);
        check(guestd_parse_loadavg(S(". . ."), &a, &b, &c) == -EINVAL);
        check(a == 1 && b == 1 && c == 1);
}

static void test_meminfo(void) {
        const char *real = "MemTotal:        2024356 kB\n"
                           "MemFree:          123456 kB\n"
                           "MemAvailable:    1500000 kB\n"
                           "Buffers:           12345 kB\n"
                           "HugePages_Total:       0\n";
        uint64_t t = 1, a = 1;
        check(guestd_parse_meminfo(S(real), &t, &a) == 0 && t == 2024356 && a == 1500000);
        /* No trailing newline, unit-less values, other keys in between. */
        check(guestd_parse_meminfo(S("MemAvailable: 5\nMemTotalX: 9 kB\nMemTotal: 10"), &t, &a) == 0);
        check(t == 10 && a == 5);
        t = a = 1;
        check(guestd_parse_meminfo(S("MemTotal: 10 kB\n"), &t, &a) == -EINVAL);
        check(guestd_parse_meminfo(S("MemTotal: x kB\nMemAvailable: 1 kB\n"), &t, &a) == -EINVAL);
        check(guestd_parse_meminfo(S("MemTotal: 1 MB\nMemAvailable: 1 kB\n"), &t, &a) == -EINVAL);
        check(guestd_parse_meminfo(S("MemTotal: 99999999999999999999999 kB\nMemAvailable: 1 kB\n"), &t, &a) ==
              -EINVAL);
        check(t == 1 && a == 1);
        /* Cut inside the key: not found. */
        check(guestd_parse_meminfo(real, 5, &t, &a) == -EINVAL);
}

int main(void) {
        test_uptime();
        test_loadavg();
        test_meminfo();
        GuestdHealth h;
        check(guestd_health_read("/proc", &h) == 0);
        check(h.uptime_s > 0 && h.mem_total_kib > 0 && h.mem_available_kib <= h.mem_total_kib);
        check(guestd_health_read("/nonexistent", &h) == -ENOENT && h.mem_total_kib == 0);
        printf("ok\n");
        return 0;
}
