/* WireReplay and WireConn's replay hook: which types are replayable; frames recorded when flushed
 * (and by wire_conn_scan), counted when received; acks trim; a resume from the peer's count
 * resends exactly what it lacks, across connections split at every byte; overflow ends it. */
#include "check.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mem-transport.h"
#include "wire-conn.h"
#include "wire-gen.h"
#include "wire-replay.h"

static void test_replayable(void) {
        check(wire_type_replayable(WIRE_TYPE_KEY));
        check(wire_type_replayable(WIRE_TYPE_ROLE));
        check(wire_type_replayable(WIRE_TYPE_CURSOR_POSITION));
        check(wire_type_replayable(WIRE_TYPE_BYE));
        check(!wire_type_replayable(WIRE_TYPE_TILE));
        check(!wire_type_replayable(WIRE_TYPE_FRAME_ACK));
        check(!wire_type_replayable(WIRE_TYPE_REFRESH));
        check(!wire_type_replayable(WIRE_TYPE_PING));
        check(!wire_type_replayable(WIRE_TYPE_SESSION_ACK));
        check(!wire_type_replayable(WIRE_TYPE_SESSION_TOKEN));
        check(!wire_type_replayable(WIRE_TYPE_RESUME));
        check(!wire_type_replayable(WIRE_TYPE_RESUMED));
        check(!wire_type_replayable(WIRE_TYPE_HELLO));
}

static void pair(uint64_t seed, WireConn **a, WireConn **b) {
        MemTransportOptions o = { .max_chunk = 7, .seed = seed };
        ByteTransport *ta, *tb;
        check(mem_transport_pair(&o, &ta, &tb) >= 0);
        check(wire_conn_new(ta, 1 << 20, a) >= 0);
        check(wire_conn_new(tb, 1 << 20, b) >= 0);
}

/* Drains b, returning the keycodes of the keys in order (and counting into b's replay). */
static unsigned drain(WireConn *a, WireConn *b, uint32_t *keys, unsigned max) {
        unsigned n = 0;
        /* The pair says -EAGAIN at random: enough rounds that everything gets through. */
        for (int round = 0; round < 2000; round++) {
                WireMessage m;
                int r;
                (void) wire_conn_flush(a);
                while ((r = wire_conn_receive(b, &m)) > 0)
                        if (m.type == WIRE_TYPE_KEY && n < max)
                                keys[n++] = m.key.keycode;
                check(r == 0);
        }
        return n;
}

static void key(WireConn *c, uint32_t code) {
        WireKey k = { .keycode = code, .down = 1 };
        check(wire_encode_key(wire_conn_out(c), &k) >= 0);
}

static void test_resume(uint64_t seed) {
        WireReplay sender, receiver;
        WireConn *a, *b;
        uint32_t got[64];
        unsigned n = 0;

        wire_replay_init(&sender, WIRE_REPLAY_LIMIT);
        wire_replay_init(&receiver, WIRE_REPLAY_LIMIT);
        pair(seed, &a, &b);
        key(a, 999); /* queued before the replay is attached: never recorded */
        wire_conn_set_replay(a, &sender);
        uint32_t before;
        check(drain(a, b, &before, 1) == 1 && before == 999 && sender.sent == 0);
        wire_conn_set_replay(b, &receiver);
        for (uint32_t i = 0; i < 10; i++) {
                key(a, i);
                WireFrameAck f = { .frame = i }; /* display channel: not replayable */
                check(wire_encode_frame_ack(wire_conn_out(a), &f) >= 0);
        }
        uint32_t first[64];
        unsigned k = drain(a, b, first, 64);
        check(k == 10);
        for (unsigned i = 0; i < k; i++)
                got[n++] = first[i];
        check(sender.sent == 10 && receiver.received == 10);
        check(wire_replay_ack(&sender, receiver.received) == 0);
        check(buffer_len(&sender.frames) == 0 && sender.base == 10);
        check(wire_replay_ack(&sender, 11) == -ERANGE);

        /* Five more; three are read, then the connection dies with two queued and unsent. */
        for (uint32_t i = 10; i < 13; i++)
                key(a, i);
        k = drain(a, b, got + n, 64 - n);
        n += k;
        check(k == 3);
        key(a, 13);
        key(a, 14);
        wire_conn_scan(a); /* the connection is given up: what it had queued is recorded */
        check(sender.sent == 15);
        wire_conn_free(a);
        wire_conn_free(b);

        /* A new connection: the receiver says it has 13, the sender resends 13 and 14. */
        check(!wire_replay_can_resume(&sender, 9) && !wire_replay_can_resume(&sender, 16));
        check(wire_replay_can_resume(&sender, receiver.received));
        pair(seed + 1, &a, &b);
        check(wire_replay_resend(&sender, receiver.received, wire_conn_out(a)) == 0);
        wire_conn_set_replay(a, &sender);
        wire_conn_set_replay(b, &receiver);
        key(a, 15);
        n += drain(a, b, got + n, 64 - n);
        check(n == 16);
        for (unsigned i = 0; i < n; i++)
                check(got[i] == i);
        check(sender.sent == 16 && receiver.received == 16);
        wire_conn_free(a);
        wire_conn_free(b);
        wire_replay_done(&sender);
        wire_replay_done(&receiver);
}

static void test_acks(void) {
        WireReplay r;
        wire_replay_init(&r, 1024);
        check(!wire_replay_ack_due(&r, 1000));
        r.received = 1;
        check(!wire_replay_ack_due(&r, 1000)); /* starts the delay */
        check(wire_replay_ack_due(&r, 1000 + WIRE_REPLAY_ACK_DELAY_USEC));
        wire_replay_acked(&r);
        check(!wire_replay_ack_due(&r, 5000000));
        r.received += WIRE_REPLAY_ACK_EVERY;
        check(wire_replay_ack_due(&r, 5000000)); /* enough messages: at once */
        wire_replay_acked(&r);
        r.received += 2;
        r.received_bytes += WIRE_REPLAY_ACK_BYTES - 1;
        check(!wire_replay_ack_due(&r, 5000000));
        r.received_bytes += 1;
        check(wire_replay_ack_due(&r, 5000000)); /* enough bytes: at once */
        wire_replay_acked(&r);
        check(!wire_replay_ack_due(&r, 9000000));
        wire_replay_done(&r);
}

static void test_overflow(void) {
        WireReplay r;
        uint8_t frame[WIRE_HEADER_SIZE + 5] = {};
        wire_header_put(frame, &(WireHeader) { .size = 5, .type = WIRE_TYPE_KEY, .channel = WIRE_CHANNEL_INPUT });
        wire_replay_init(&r, 3 * sizeof(frame));
        for (int i = 0; i < 3; i++)
                check(wire_replay_record(&r, frame, sizeof(frame)) == 0);
        check(wire_replay_can_resume(&r, 0));
        check(wire_replay_record(&r, frame, sizeof(frame)) == -ENOBUFS);
        check(r.overflow && r.sent == 4 && !wire_replay_can_resume(&r, 0) && !wire_replay_can_resume(&r, 4));
        Buffer out = BUFFER_INIT(1024);
        check(wire_replay_resend(&r, 0, &out) == -ESTALE && buffer_len(&out) == 0);
        buffer_done(&out);
        wire_replay_done(&r);
}

int main(void) {
        test_replayable();
        for (uint64_t seed = 1; seed < 40; seed++)
                test_resume(seed);
        test_acks();
        test_overflow();
        printf("wire-replay: ok\n");
        return 0;
}
