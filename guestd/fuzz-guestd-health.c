/* Fuzzes the heartbeat's /proc parsers: byte 0 picks the parser (uptime, loadavg, meminfo), the
 * rest is the file. Checks what they promise: results only on success, available <= what the
 * text says, no read past the length (ASan). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guestd-health.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        /* A private copy of exactly the input: ASan sees any read past it. */
        size_t n = size - 1;
        char *p = malloc(n ? n : 1);
        if (!p)
                return 0;
        memcpy(p, data + 1, n);
        switch (data[0] % 3) {
        case 0: {
                uint64_t v = 12345;
                if (guestd_parse_uptime(p, n, &v) < 0 && v != 12345)
                        abort();
                break;
        }
        case 1: {
                uint32_t a = 1, b = 2, c = 3;
                if (guestd_parse_loadavg(p, n, &a, &b, &c) < 0 && (a != 1 || b != 2 || c != 3))
                        abort();
                break;
        }
        default: {
                uint64_t t = 5, av = 6;
                if (guestd_parse_meminfo(p, n, &t, &av) < 0 && (t != 5 || av != 6))
                        abort();
                break;
        }
        }
        free(p);
        return 0;
}
