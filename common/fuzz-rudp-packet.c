/* Fuzzes rudp's packet parser: a header, then frames to the end, touching every byte a frame
 * points at; whatever parses is written back and must parse to the same frame. Then the same
 * datagram goes into a connection of that id (receive, reassembly, acks, FEC), which must answer
 * without crashing and keep sending. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rudp-packet.h"
#include "rudp.h"

volatile uint8_t fuzz_sink;

static void touch(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                fuzz_sink += p[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        RudpHeader h;
        int n = rudp_header_parse(data, size, &h);
        if (n < 0)
                return 0;
        size_t pos = (size_t) n;
        while (pos < size) {
                RudpFrame f;
                n = rudp_frame_parse(data + pos, size - pos, &f);
                if (n <= 0)
                        break;
                uint8_t out[RUDP_DATAGRAM_MAX * 2];
                RudpWriter w = { out, sizeof out, 0 };
                RudpFrame g;
                switch (f.type) {
                case RUDP_FRAME_STREAM:
                        touch(f.stream.data, f.stream.size);
                        if (rudp_frame_write_stream(&w, f.stream.channel, f.stream.cls, f.stream.message_id,
                                                    f.stream.start, f.stream.length, f.stream.offset,
                                                    f.stream.data, f.stream.size) == 0) {
                                if (rudp_frame_parse(out, w.len, &g) != (int) w.len || g.stream.size != f.stream.size ||
                                    g.stream.start != f.stream.start || memcmp(g.stream.data, f.stream.data, f.stream.size))
                                        abort();
                        }
                        break;
                case RUDP_FRAME_FEC_PARITY:
                        touch(f.parity.data, f.parity.size);
                        break;
                case RUDP_FRAME_MSG_PARITY:
                        touch(f.msg_parity.data, f.msg_parity.size);
                        /* Whatever parses can be written, and reads back the same. */
                        if (rudp_frame_write_msg_parity(&w, f.msg_parity.channel, f.msg_parity.start, f.msg_parity.count,
                                                        f.msg_parity.message_id, f.msg_parity.length, f.msg_parity.data,
                                                        f.msg_parity.size) != 0 ||
                            rudp_frame_parse(out, w.len, &g) != (int) w.len || g.msg_parity.start != f.msg_parity.start ||
                            g.msg_parity.count != f.msg_parity.count || g.msg_parity.size != f.msg_parity.size ||
                            memcmp(g.msg_parity.length, f.msg_parity.length, sizeof g.msg_parity.length) ||
                            memcmp(g.msg_parity.message_id, f.msg_parity.message_id, sizeof g.msg_parity.message_id) ||
                            memcmp(g.msg_parity.data, f.msg_parity.data, f.msg_parity.size))
                                abort();
                        break;
                case RUDP_FRAME_MSG_REBUILT:
                        if (rudp_frame_write_msg_rebuilt(&w, f.msg_rebuilt.channel, f.msg_rebuilt.start) != 0 ||
                            rudp_frame_parse(out, w.len, &g) != (int) w.len || g.msg_rebuilt.start != f.msg_rebuilt.start ||
                            g.msg_rebuilt.channel != f.msg_rebuilt.channel)
                                abort();
                        break;
                case RUDP_FRAME_ACK: {
                        RudpAckRange r[RUDP_ACK_RANGES_MAX];
                        int k = rudp_ack_decode(&f, r, RUDP_ACK_RANGES_MAX);
                        if (k < 1)
                                abort();
                        for (int i = 0; i < k; i++)
                                if (r[i].lo > r[i].hi || (i > 0 && r[i].hi + 2 > r[i - 1].lo))
                                        abort();
                        break;
                }
                default:
                        break;
                }
                pos += (size_t) n;
        }

        RudpConfig cfg;
        Rudp *r = NULL;
        rudp_config_init(&cfg);
        cfg.connection_id = h.connection;
        if (rudp_new(&cfg, true, 0, &r) < 0)
                return 0;
        (void) rudp_send(r, 0, RUDP_RELIABLE_ORDERED, 1, "x", 1);
        uint8_t out[RUDP_DATAGRAM_MAX];
        for (int i = 0; i < 4; i++)
                (void) rudp_next_datagram(r, out, sizeof out, (uint64_t) i * 1000);
        (void) rudp_receive_datagram(r, data, size, 5000);
        /* The same again (a duplicate), then whatever is owed. */
        (void) rudp_receive_datagram(r, data, size, 6000);
        rudp_on_timeout(r, 7000);
        (void) rudp_next_datagram(r, out, sizeof out, 7000);
        RudpMessage m;
        while (rudp_read(r, &m) > 0)
                touch(m.data, m.len);
        RudpStats st;
        rudp_stats(r, &st);
        rudp_free(r);
        return 0;
}
