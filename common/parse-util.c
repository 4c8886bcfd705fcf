#include "parse-util.h"

#include <errno.h>

bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

int hex_value(char c) {
        if (is_digit(c))
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int parse_u64(const char *s, uint64_t max, uint64_t *ret) {
        unsigned base = 10;
        uint64_t v = 0;

        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
                base = 16;
                s += 2;
        }
        if (!*s)
                return -EINVAL;
        for (; *s; s++) {
                int d = base == 16 ? hex_value(*s) : (is_digit(*s) ? *s - '0' : -1);
                if (d < 0)
                        return -EINVAL;
                if (v > (UINT64_MAX - (unsigned) d) / base)
                        return -ERANGE;
                v = v * base + (unsigned) d;
        }
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}
