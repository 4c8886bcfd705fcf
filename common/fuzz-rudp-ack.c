/* Fuzzes the ACK range decoder: any ACK frame that parses decodes into ordered, disjoint ranges
 * that, written again, give back the same ranges. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rudp-packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        RudpFrame f;
        uint8_t buf[RUDP_DATAGRAM_MAX];

        /* The input is the frame's body: the type byte is implied. */
        if (size + 1 > sizeof buf)
                return 0;
        buf[0] = RUDP_FRAME_ACK;
        if (size > 0)
                memcpy(buf + 1, data, size);
        if (rudp_frame_parse(buf, size + 1, &f) < 0 || f.type != RUDP_FRAME_ACK)
                return 0;

        RudpAckRange r[RUDP_ACK_RANGES_MAX], again[RUDP_ACK_RANGES_MAX];
        int n = rudp_ack_decode(&f, r, RUDP_ACK_RANGES_MAX);
        if (n < 1 || (uint64_t) n != f.ack.range_count + 1)
                abort();
        for (int i = 0; i < n; i++)
                if (r[i].lo > r[i].hi || (i > 0 && r[i].hi + 2 > r[i - 1].lo))
                        abort();

        uint8_t out[RUDP_DATAGRAM_MAX * 2];
        RudpWriter w = { out, sizeof out, 0 };
        int used = rudp_frame_write_ack(&w, r, (size_t) n, f.ack.delay, f.ack.recovered);
        if (used != n)
                abort();
        RudpFrame g;
        if (rudp_frame_parse(out, w.len, &g) != (int) w.len || rudp_ack_decode(&g, again, RUDP_ACK_RANGES_MAX) != n ||
            memcmp(r, again, (size_t) n * sizeof(r[0])) != 0)
                abort();
        return 0;
}
