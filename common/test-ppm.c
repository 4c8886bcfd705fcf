/* PPM parsing: accepted headers, and every way a screenshot can be cut short or lie. */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "ppm.h"

static int parse(const char *s, size_t len, uint32_t *w, uint32_t *h, const uint8_t **p) {
        return ppm_parse((const uint8_t *) s, len, w, h, p);
}

int main(void) {
        uint32_t w = 7, h = 7;
        const uint8_t *p = NULL;
        static const char ok[] = "P6\n# made by QEMU\n2 1\n255\nabcdef";

        assert(parse(ok, sizeof(ok) - 1, &w, &h, &p) == 0);
        assert(w == 2 && h == 1 && memcmp(p, "abcdef", 6) == 0);

        w = h = 7;
        assert(parse(ok, sizeof(ok) - 2, &w, &h, &p) < 0); /* one byte short */
        assert(w == 7 && h == 7);                        /* out-params untouched */
        assert(parse("P6\n2 1\n65535\nabcdefabcdef", 23, &w, &h, &p) < 0);
        assert(parse("P3\n1 1\n255\n1 2 3", 16, &w, &h, &p) < 0);
        assert(parse("P6\n0 1\n255\n", 11, &w, &h, &p) < 0);
        assert(parse("P6\n16385 1\n255\n", 15, &w, &h, &p) < 0);
        assert(parse("P6\n1 1\n255", 10, &w, &h, &p) < 0);
        assert(parse("P6\n-1 1\n255\nabc", 15, &w, &h, &p) < 0);
        assert(parse("P6\n1111111 1\n255\nabc", 20, &w, &h, &p) < 0);
        assert(parse("P", 1, &w, &h, &p) < 0);
        printf("ok\n");
        return 0;
}
