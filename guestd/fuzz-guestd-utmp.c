/* Fuzzes the utmp parser with any bytes as the file: bounded output, printable bounded strings,
 * ids unique, never a read past the input (ASan). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guestd-utmp.h"

static GuestdSessions got;

static void check_str(const char *s, size_t size) {
        size_t n = strnlen(s, size);
        if (n == size)
                abort();
        for (size_t i = 0; i < n; i++)
                if (s[i] < 0x20 || s[i] >= 0x7f)
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint8_t *p = malloc(size ? size : 1);
        if (!p)
                return 0;
        memcpy(p, data, size);
        guestd_utmp_parse(p, size, &got);
        if (got.n > GUESTD_SESSIONS_MAX)
                abort();
        for (size_t i = 0; i < got.n; i++) {
                const GuestdSession *s = &got.items[i];
                check_str(s->id, sizeof(s->id));
                check_str(s->user, sizeof(s->user));
                check_str(s->tty, sizeof(s->tty));
                check_str(s->display, sizeof(s->display));
                if (!s->id[0] || s->source != AGENT_SOURCE_UTMP)
                        abort();
                for (size_t k = 0; k < i; k++)
                        if (strcmp(got.items[k].id, s->id) == 0)
                                abort();
        }
        free(p);
        return 0;
}
