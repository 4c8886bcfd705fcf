/* Fuzzes FEC group reassembly: the input is a sequence of symbols as a receiver would get them,
 * each `kind u8 (bit 0: parity), group u8, index u8, k u8, m u8, size u16le, bytes`; every rebuilt
 * packet is read whole, and the decoder's memory stays within its bound. */
#include <stdint.h>
#include <stdlib.h>

#include "rudp-fec.h"
#include "unaligned.h"

volatile uint8_t fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        RudpFecDecoder *d = NULL;
        if (rudp_fec_decoder_new(&d) < 0)
                return 0;
        size_t pos = 0;
        while (size - pos >= 7) {
                const uint8_t *h = data + pos;
                size_t n = get_le16(h + 5);
                pos += 7;
                if (n > size - pos)
                        n = size - pos;
                const uint8_t *p = data + pos;
                pos += n;
                int r = h[0] & 1 ? rudp_fec_decoder_add_parity(d, h[1], h[3], h[4], h[2], p, n)
                                 : rudp_fec_decoder_add_data(d, h[1], h[2], 1000 + h[2], p, n);
                if (r < 0)
                        break;
                uint64_t number;
                const uint8_t *payload;
                size_t len;
                while (rudp_fec_decoder_take(d, &number, &payload, &len) > 0)
                        for (size_t i = 0; i < len; i++)
                                fuzz_sink += payload[i];
                if (rudp_fec_decoder_memory(d) > (size_t) RUDP_FEC_GROUPS * 2 * RUDP_FEC_SYMBOLS_MAX *
                                                         (RUDP_DATAGRAM_MAX + RUDP_FEC_PREFIX))
                        abort();
        }
        rudp_fec_decoder_free(d);
        return 0;
}
