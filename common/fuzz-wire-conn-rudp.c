/* Fuzzes the frame-in-rudp-message decoding of WireConn over rudp (wire-conn-rudp.c): a raw rudp
 * peer sends arbitrary messages on arbitrary channels and classes, the datagrams it makes reach a
 * WireConn over an in-memory path (its acks go back), and the WireConn's receive must either
 * return well-formed messages on their own channels or fail with a reason, never crash or grow.
 *
 * Input: byte 0 picks the accepted directions (bits 0-1: both, hostd's, a viewer's) and the
 * WireConn's rudp side (bit 2: server); then records of [rudp channel][class][length, 2 bytes
 * little-endian][that many bytes] (a short last record takes what is left). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "mem-datagram.h"
#include "rudp.h"
#include "unaligned.h"
#include "wire-conn-rudp.h"
#include "wire-gen.h"

#define INPUT_MAX (128u << 10)
#define ROUNDS_MAX 4096

volatile uint8_t fuzz_sink;

typedef struct Pump {
        Rudp *peer;
        DatagramTransport *end; /* the peer's end of the path */
        WireConn *conn;
        uint64_t now;
        int error;
        size_t received;
} Pump;

/* Moves the peer's datagrams to the WireConn and its acks back; reads what the WireConn has.
 * Returns whether anything moved. */
static bool pump_round(Pump *p) {
        uint8_t d[RUDP_DATAGRAM_MAX];
        bool moved = false;
        ssize_t n;

        mem_datagram_set_now(p->end, p->now);
        while ((n = rudp_next_datagram(p->peer, d, sizeof(d), p->now)) > 0) {
                if (p->end->ops->send(p->end, d, (size_t) n) < 0)
                        abort();
                moved = true;
        }
        if (p->error == 0) {
                WireMessage m;
                int r;
                while ((r = wire_conn_receive(p->conn, &m)) > 0) {
                        /* A message delivered came on its own wire channel and decoded. */
                        if (m.channel != wire_type_channel(m.type))
                                abort();
                        fuzz_sink += (uint8_t) m.type;
                        p->received++;
                        moved = true;
                }
                if (r == 0)
                        r = wire_conn_flush(p->conn);
                if (r < 0 && r != -EAGAIN) {
                        if (!wire_conn_error(p->conn))
                                abort(); /* every failure says why */
                        p->error = r;
                }
        }
        while ((n = p->end->ops->recv(p->end, d, sizeof(d))) > 0) {
                (void) rudp_receive_datagram(p->peer, d, (size_t) n, p->now);
                moved = true;
        }
        return moved;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const int accepts[] = { WIRE_DIR_BOTH, WIRE_DIR_C2S, WIRE_DIR_S2C, WIRE_DIR_BOTH };
        MemDatagramOptions o = { .seed = 1 };
        DatagramTransport *mine;
        RudpConfig cfg;
        Pump p = {};

        if (size < 1 || size > INPUT_MAX)
                return 0;
        bool server = data[0] & 4;
        if (mem_datagram_pair(&o, &mine, &p.end) < 0)
                abort();
        if (wire_conn_new_rudp(mine, NULL, server, 1u << 20, &p.conn) < 0)
                abort();
        wire_conn_set_accept(p.conn, accepts[data[0] & 3]);
        wire_conn_rudp_config(&cfg);
        p.now = mem_datagram_get_now(p.end);
        if (rudp_new(&cfg, !server, p.now, &p.peer) < 0)
                abort();

        uint32_t id = 0;
        for (size_t off = 1; off + 4 <= size;) {
                uint8_t channel = data[off];
                RudpClass cls = (RudpClass) (data[off + 1] % _RUDP_CLASS_MAX);
                size_t len = MIN((size_t) get_le16(data + off + 2), size - off - 4);
                off += 4;
                /* The peer refuses what rudp itself cannot carry (channel, class change, size):
                 * those never reach the wire code and are skipped. */
                if (len > 0)
                        (void) rudp_send(p.peer, channel, cls, id++, data + off, len);
                off += len;
        }

        /* Until nothing moves even after the peer's timers (retransmissions, pacing) ran. */
        for (unsigned round = 0; round < ROUNDS_MAX && p.error == 0; round++) {
                if (pump_round(&p))
                        continue;
                uint64_t t = MIN(rudp_next_timeout(p.peer), wire_conn_next_timeout(p.conn));
                if (t == UINT64_MAX || t > p.now + 2000000ULL)
                        break;
                p.now = MAX(t, p.now + 1);
                mem_datagram_set_now(p.end, p.now);
                rudp_on_timeout(p.peer, p.now);
                wire_conn_on_timeout(p.conn, p.now);
        }
        wire_conn_free(p.conn);
        datagram_transport_free(p.end);
        rudp_free(p.peer);
        return 0;
}
