/* The viewer's number parsers: what they accept, what they refuse, and out-params kept on failure. */
#include <errno.h>
#include <stdio.h>

#include "check.h"
#include "viewer-util.h"

static void test_u64(void) {
        uint64_t v = 7;

        check(parse_u64("0", 10, &v) == 0 && v == 0);
        check(parse_u64("100", 100, &v) == 0 && v == 100);
        check(parse_u64("0x1c", 255, &v) == 0 && v == 0x1c);
        check(parse_u64("0XfF", 255, &v) == 0 && v == 255);
        check(parse_u64("18446744073709551615", UINT64_MAX, &v) == 0 && v == UINT64_MAX);
        v = 7;
        check(parse_u64("18446744073709551616", UINT64_MAX, &v) == -ERANGE);
        check(parse_u64("0x10000000000000000", UINT64_MAX, &v) == -ERANGE);
        check(parse_u64("101", 100, &v) == -ERANGE);
        check(parse_u64("", 100, &v) == -EINVAL);
        check(parse_u64("0x", 100, &v) == -EINVAL);
        check(parse_u64("-1", 100, &v) == -EINVAL);
        check(parse_u64("+1", 100, &v) == -EINVAL);
        check(parse_u64(" 1", 100, &v) == -EINVAL);
        check(parse_u64("1 ", 100, &v) == -EINVAL);
        check(parse_u64("12abc", 100, &v) == -EINVAL);
        check(parse_u64("0x1g", 100, &v) == -EINVAL);
        check(v == 7);
}

static void test_i64(void) {
        int64_t v = 7;

        check(parse_i64("-5", -10, 10, &v) == 0 && v == -5);
        check(parse_i64("10", -10, 10, &v) == 0 && v == 10);
        check(parse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &v) == 0 && v == INT64_MIN);
        check(parse_i64("9223372036854775807", INT64_MIN, INT64_MAX, &v) == 0 && v == INT64_MAX);
        v = 7;
        check(parse_i64("9223372036854775808", INT64_MIN, INT64_MAX, &v) == -ERANGE);
        check(parse_i64("-9223372036854775809", INT64_MIN, INT64_MAX, &v) == -ERANGE);
        check(parse_i64("-11", -10, 10, &v) == -ERANGE);
        check(parse_i64("--1", -10, 10, &v) == -EINVAL);
        check(parse_i64("-0x1", -10, 10, &v) == -EINVAL);
        check(parse_i64("0x1", -10, 10, &v) == -EINVAL);
        check(parse_i64("-", -10, 10, &v) == -EINVAL);
        check(parse_i64("", -10, 10, &v) == -EINVAL);
        check(v == 7);
}

static void test_seconds(void) {
        uint64_t v = 7;

        check(parse_seconds("30", UINT64_MAX, &v) == 0 && v == 30 * USEC_PER_SEC);
        check(parse_seconds("2.5", UINT64_MAX, &v) == 0 && v == 2500000);
        check(parse_seconds("0.000001", UINT64_MAX, &v) == 0 && v == 1);
        check(parse_seconds("0", UINT64_MAX, &v) == 0 && v == 0);
        v = 7;
        check(parse_seconds("0.0000001", UINT64_MAX, &v) == -EINVAL);
        check(parse_seconds("1.", UINT64_MAX, &v) == -EINVAL);
        check(parse_seconds(".5", UINT64_MAX, &v) == -EINVAL);
        check(parse_seconds("1e3", UINT64_MAX, &v) == -EINVAL);
        check(parse_seconds("-1", UINT64_MAX, &v) == -EINVAL);
        check(parse_seconds("abc", UINT64_MAX, &v) == -EINVAL);
        check(parse_seconds("11", 10 * USEC_PER_SEC, &v) == -ERANGE);
        check(parse_seconds("99999999999999999999", UINT64_MAX, &v) == -ERANGE);
        check(parse_seconds("18446744073709.999999", UINT64_MAX, &v) == -ERANGE);
        check(v == 7);
}

static void test_poll_timeout(void) {
        check(poll_timeout_ms(1000, USEC_INFINITY, -1) == -1);
        check(poll_timeout_ms(1000, USEC_INFINITY, 5) == 5);
        check(poll_timeout_ms(1000, 500, -1) == 0);
        check(poll_timeout_ms(1000, 1001, -1) == 1); /* rounded up, never early */
        check(poll_timeout_ms(1000, 3000, -1) == 2);
        check(poll_timeout_ms(0, 100 * USEC_PER_SEC, 5) == 5);
        check(poll_timeout_ms(0, UINT64_MAX - 1, -1) == INT32_MAX);
}

int main(void) {
        test_u64();
        test_i64();
        test_seconds();
        test_poll_timeout();
        printf("ok\n");
        return 0;
}
