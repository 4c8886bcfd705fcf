/* Fuzzes hostd's transport policy text ([Viewers] TransportOverrides=) and its lookup.
 *
 * Input: the overrides text, a NUL, the desktop name (the rest). Whatever the text, the check
 * does not crash; for text it accepts, the lookup answers one of the three policies, and a
 * desktop no pattern matches gets Transport=. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hostd-conf.h"

#define INPUT_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char text[INPUT_MAX + 1], desktop[INPUT_MAX + 1];

        if (size > INPUT_MAX)
                return 0;
        const uint8_t *nul = memchr(data, 0, size);
        size_t n = nul ? (size_t) (nul - data) : size;
        memcpy(text, data, n);
        text[n] = 0;
        size_t m = nul ? size - n - 1 : 0;
        memcpy(desktop, nul ? nul + 1 : data, m);
        desktop[m] = 0;

        if (hostd_transport_overrides_check(text) < 0)
                return 0;
        HostdConfig c = { .transport = HOSTD_TRANSPORT_TCP, .transport_overrides = text };
        HostdTransport t = hostd_config_transport(&c, desktop);
        if (t != HOSTD_TRANSPORT_AUTO && t != HOSTD_TRANSPORT_UDP && t != HOSTD_TRANSPORT_TCP)
                abort();
        c.transport_overrides = NULL;
        if (hostd_config_transport(&c, desktop) != HOSTD_TRANSPORT_TCP)
                abort();
        /* Each policy answers for both transports, and only auto allows both. */
        if (hostd_transport_allows(t, true) && hostd_transport_allows(t, false) && t != HOSTD_TRANSPORT_AUTO)
                abort();
        return 0;
}
