/* Fuzzes the link emulator's control language: each input is split into lines and every line
 * run on one pair of links, with packets submitted between commands so cut, stats and the
 * parameters meet a live queue. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "linkemu-control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const uint8_t udp[28] = { 0x45, [9] = 17 };
        Link *links[_LINK_DIR_MAX] = { link_new(1), link_new(2) };
        uint64_t now = 0;

        if (!links[0] || !links[1])
                goto out;
        for (size_t i = 0; i < size && i < 65536;) {
                const uint8_t *nl = memchr(data + i, '\n', size - i);
                size_t len = nl ? (size_t) (nl - (data + i)) : size - i;
                char *reply = NULL;
                (void) control_execute(links, now, (const char *) data + i, len, &reply);
                free(reply);
                i += len + 1;

                for (size_t d = 0; d < _LINK_DIR_MAX; d++) {
                        (void) link_submit(links[d], now, udp, sizeof(udp), NULL);
                        LinkPacket *pkt;
                        while ((pkt = link_pop_due(links[d], now))) {
                                link_count_out(links[d], pkt->len);
                                free(pkt);
                        }
                }
                now += 1000000;
        }
out:
        link_free(links[0]);
        link_free(links[1]);
        return 0;
}
