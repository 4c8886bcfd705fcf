/* WireConn over rudp over an in-memory datagram path on a virtual clock: the channel mapping,
 * reliable channels complete and in order under loss and reordering, tiles delivered or reported
 * lost (each exactly once, by the id submit gave it), small datagram budgets, mis-mapped frames,
 * garbage, keepalive and silence, and the peer's close. */
#include "check.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "mem-datagram.h"
#include "rudp.h"
#include "wire-conn-rudp.h"
#include "wire-gen.h"

typedef struct Received {
        uint16_t type[8192];
        uint32_t value[8192]; /* the key code, tile frame, ping nonce's low bits... */
        size_t n;
} Received;

typedef struct Net {
        DatagramTransport *ta, *tb; /* owned by the conns */
        WireConn *a, *b;            /* a: the viewer, b: hostd */
        Received ra, rb;
        int error_a, error_b;
} Net;

static void net_new(Net *n, const MemDatagramOptions *o) {
        *n = (Net) {};
        check(mem_datagram_pair(o, &n->ta, &n->tb) == 0);
        check(wire_conn_new_rudp(n->ta, NULL, false, 4u << 20, &n->a) == 0);
        check(wire_conn_new_rudp(n->tb, NULL, true, 4u << 20, &n->b) == 0);
        check(wire_conn_kind(n->a) == WIRE_CONN_RUDP);
        wire_conn_set_accept(n->a, WIRE_DIR_S2C);
        wire_conn_set_accept(n->b, WIRE_DIR_C2S);
}

static void net_free(Net *n) {
        wire_conn_free(n->a);
        wire_conn_free(n->b);
}

static uint32_t message_value(const WireMessage *m) {
        switch (m->type) {
        case WIRE_TYPE_KEY:
                return m->key.keycode;
        case WIRE_TYPE_TILE:
                return m->tile.frame;
        case WIRE_TYPE_FRAME_END:
                return m->frame_end.frame;
        case WIRE_TYPE_PING:
                return (uint32_t) m->ping.nonce;
        default:
                return 0;
        }
}

/* Receives everything, answers pings as both applications do, flushes. */
static void service(WireConn *c, Received *rx, int *error) {
        WireMessage m;
        int r;
        if (!c || *error < 0)
                return;
        while ((r = wire_conn_receive(c, &m)) > 0) {
                if (m.type == WIRE_TYPE_PING) {
                        WirePong p = { .nonce = m.ping.nonce };
                        check(wire_encode_pong(wire_conn_out(c), &p) >= 0);
                }
                check(rx->n < ELEMENTSOF(rx->type));
                rx->type[rx->n] = m.type;
                rx->value[rx->n++] = message_value(&m);
        }
        if (r < 0) {
                *error = r;
                return;
        }
        r = wire_conn_flush(c);
        if (r < 0 && r != -EAGAIN)
                *error = r;
}

/* Runs both ends on the virtual clock until it reaches until. */
static void net_run(Net *n, uint64_t until) {
        for (unsigned steps = 0;; steps++) {
                check(steps < 10000000);
                service(n->a, &n->ra, &n->error_a);
                service(n->b, &n->rb, &n->error_b);
                uint64_t now = mem_datagram_get_now(n->ta);
                uint64_t next = MIN(wire_conn_next_timeout(n->a), mem_datagram_next_arrival(n->ta));
                if (n->b)
                        next = MIN(next, MIN(wire_conn_next_timeout(n->b), mem_datagram_next_arrival(n->tb)));
                if (next > until)
                        break;
                mem_datagram_set_now(n->ta, MAX(next, now));
                now = mem_datagram_get_now(n->ta);
                if (n->error_a == 0 && wire_conn_next_timeout(n->a) <= now)
                        wire_conn_on_timeout(n->a, now);
                if (n->b && n->error_b == 0 && wire_conn_next_timeout(n->b) <= now)
                        wire_conn_on_timeout(n->b, now);
        }
        mem_datagram_set_now(n->ta, until);
}

static uint64_t now_of(Net *n) {
        return mem_datagram_get_now(n->ta);
}

static size_t count_type(const Received *rx, uint16_t type) {
        size_t k = 0;
        for (size_t i = 0; i < rx->n; i++)
                k += rx->type[i] == type;
        return k;
}

static void test_mapping(void) {
        check(wire_rudp_channel(WIRE_TYPE_HELLO, 0) == 0);
        check(wire_rudp_channel(WIRE_TYPE_DISPLAY_MODE, 1) == 1);
        check(wire_rudp_channel(WIRE_TYPE_FRAME_END, 1) == 1);
        check(wire_rudp_channel(WIRE_TYPE_TILE, 1) == WIRE_RUDP_TILE_CHANNEL);
        check(wire_rudp_channel(WIRE_TYPE_CURSOR_SHAPE, 2) == 2);
        check(wire_rudp_channel(WIRE_TYPE_KEY, 3) == 3);
        check(wire_rudp_channel(0x0040, 4) == 4);
        check(wire_rudp_class(0) == RUDP_RELIABLE_ORDERED);
        check(wire_rudp_class(7) == RUDP_RELIABLE_ORDERED);
        check(wire_rudp_class(WIRE_RUDP_TILE_CHANNEL) == RUDP_LATEST_WINS);
        check(wire_rudp_class(WIRE_RUDP_MEDIA_CHANNEL) == RUDP_LATEST_WINS);
}

/* A clean path: a handshake's worth of messages both ways, every one once, in order. */
static void test_clean(void) {
        Net n;
        net_new(&n, &(MemDatagramOptions) { .delay_usec = 10000, .seed = 1 });
        uint8_t ticket[300];
        memset(ticket, 'T', sizeof(ticket));
        check(wire_encode_hello(wire_conn_out(n.a), &(WireHello) { .magic = WIRE_MAGIC, .version = 1, .ticket = ticket,
                                                                   .ticket_len = sizeof(ticket) }) >= 0);
        for (uint32_t k = 1; k <= 100; k++)
                check(wire_encode_key(wire_conn_out(n.a), &(WireKey) { .keycode = k, .down = 1 }) >= 0);
        net_run(&n, now_of(&n) + 500000);
        check(n.error_a == 0 && n.error_b == 0);
        check(n.rb.n == 101);
        check(n.rb.type[0] == WIRE_TYPE_HELLO);
        for (uint32_t k = 1; k <= 100; k++)
                check(n.rb.type[k] == WIRE_TYPE_KEY && n.rb.value[k] == k);

        static uint8_t pixels[20000];
        check(wire_encode_display_mode(wire_conn_out(n.b), &(WireDisplayMode) { .width = 640, .height = 480 }) >= 0);
        check(wire_encode_tile(wire_conn_out(n.b), &(WireTile) { .frame = 7, .w = 64, .h = 64, .codec = 1,
                                                                 .data = pixels, .data_len = sizeof(pixels) }) >= 0);
        check(wire_conn_submit(n.b) == 0);
        uint32_t tile_id = wire_conn_last_id(n.b);
        check(wire_conn_unsent_tiles(n.b) >= sizeof(pixels));
        check(wire_encode_frame_end(wire_conn_out(n.b), &(WireFrameEnd) { .frame = 7, .tiles = 1 }) >= 0);
        check(wire_conn_submit(n.b) == 0);
        check(wire_conn_last_id(n.b) == tile_id + 1);
        net_run(&n, now_of(&n) + 500000);
        check(n.error_a == 0 && n.error_b == 0);
        check(count_type(&n.ra, WIRE_TYPE_DISPLAY_MODE) == 1);
        check(count_type(&n.ra, WIRE_TYPE_TILE) == 1);
        check(count_type(&n.ra, WIRE_TYPE_FRAME_END) == 1);
        check(wire_conn_unsent_tiles(n.b) == 0);
        uint8_t ch;
        uint32_t id;
        check(wire_conn_next_lost(n.b, &ch, &id) == 0);
        RudpStats st;
        check(wire_conn_rudp_stats(n.b, &st) == 0);
        check(st.packets_sent > 0 && st.packets_lost == 0);
        check(wire_conn_bytes_out(n.b) > sizeof(pixels) && wire_conn_bytes_in(n.a) == wire_conn_bytes_out(n.b));
        net_free(&n);
}

/* 5% loss each way with reordering: every reliable message arrives once and in order; every
 * tile arrives or is reported lost by the id it was given (or both: a packet declared lost may
 * still arrive late, and hostd then sends that area once more), never twice. */
static void test_lossy(uint64_t seed, size_t max_payload) {
        Net n;
        net_new(&n, &(MemDatagramOptions) { .delay_usec = 20000, .loss = 0.05, .reorder = 0.1,
                                            .reorder_usec = 15000, .max_payload = max_payload, .seed = seed });
        enum { KEYS = 3000, TILES = 400 };
        static uint8_t pixels[3000];
        static uint8_t tile_state[TILES]; /* bit 0 delivered, bit 1 reported lost */
        static uint32_t tile_ids[TILES];
        memset(tile_state, 0, sizeof(tile_state));
        uint32_t keys_sent = 0, tiles_sent = 0;

        for (int round = 0; round < 200; round++) {
                for (int i = 0; i < KEYS / 200; i++) {
                        keys_sent++;
                        check(wire_encode_key(wire_conn_out(n.a), &(WireKey) { .keycode = keys_sent, .down = 1 }) >= 0);
                }
                for (int i = 0; i < TILES / 200; i++) {
                        memset(pixels, (int) tiles_sent, sizeof(pixels));
                        check(wire_encode_tile(wire_conn_out(n.b), &(WireTile) { .frame = tiles_sent, .w = 64, .h = 64,
                                                                                 .data = pixels,
                                                                                 .data_len = sizeof(pixels) }) >= 0);
                        check(wire_conn_submit(n.b) == 0);
                        tile_ids[tiles_sent++] = wire_conn_last_id(n.b);
                }
                net_run(&n, now_of(&n) + 10000);
                uint8_t ch;
                uint32_t id;
                while (wire_conn_next_lost(n.b, &ch, &id) > 0) {
                        check(ch == WIRE_RUDP_TILE_CHANNEL);
                        size_t t = 0;
                        while (t < tiles_sent && tile_ids[t] != id)
                                t++;
                        check(t < tiles_sent);
                        check(!(tile_state[t] & 2));
                        tile_state[t] |= 2;
                }
        }
        /* Until the queue drained and the last packets were resolved. */
        for (int i = 0; i < 30 && wire_conn_unsent_tiles(n.b) > 0; i++)
                net_run(&n, now_of(&n) + 1000000);
        check(wire_conn_unsent_tiles(n.b) == 0);
        net_run(&n, now_of(&n) + 2000000);
        uint8_t ch;
        uint32_t id;
        while (wire_conn_next_lost(n.b, &ch, &id) > 0) {
                size_t t = 0;
                while (t < tiles_sent && tile_ids[t] != id)
                        t++;
                check(t < tiles_sent && !(tile_state[t] & 2));
                tile_state[t] |= 2;
        }
        check(n.error_a == 0 && n.error_b == 0);

        uint32_t next_key = 1;
        for (size_t i = 0; i < n.rb.n; i++)
                if (n.rb.type[i] == WIRE_TYPE_KEY) {
                        check(n.rb.value[i] == next_key);
                        next_key++;
                }
        check(next_key == keys_sent + 1);
        size_t delivered = 0, lost = 0, both = 0;
        for (size_t i = 0; i < n.ra.n; i++)
                if (n.ra.type[i] == WIRE_TYPE_TILE) {
                        uint32_t t = n.ra.value[i];
                        check(t < tiles_sent && !(tile_state[t] & 1));
                        tile_state[t] |= 1;
                }
        for (uint32_t t = 0; t < tiles_sent; t++) {
                if (tile_state[t] == 0) {
                        RudpStats d;
                        wire_conn_rudp_stats(n.b, &d);
                        fprintf(stderr, "inflight %llu cwnd %llu pacing %llu state %d pto %llu lost %llu next_timeout %llu now %llu\n",
                                (unsigned long long) d.inflight, (unsigned long long) d.cwnd, (unsigned long long) d.pacing_rate,
                                (int) d.cc_state, (unsigned long long) d.pto_count, (unsigned long long) d.packets_lost,
                                (unsigned long long) wire_conn_next_timeout(n.b), (unsigned long long) now_of(&n));
                }
                if (tile_state[t] == 0)
                        fprintf(stderr, "seed %llu: tile %u (id %u) of %u unaccounted, unsent %zu\n", (unsigned long long) seed, t, tile_ids[t], tiles_sent, wire_conn_unsent_tiles(n.b));
                check(tile_state[t] != 0); /* every tile accounted for */
                delivered += tile_state[t] & 1;
                lost += tile_state[t] >> 1;
                both += tile_state[t] == 3;
        }
        uint64_t sent, dropped, oversize;
        mem_datagram_counts(n.tb, &sent, &dropped, &oversize);
        check(oversize == 0);
        check(dropped > 0);
        RudpStats st;
        check(wire_conn_rudp_stats(n.b, &st) == 0);
        printf("seed %llu, %zu-byte datagrams: %u keys in order; tiles %zu delivered, %zu reported lost (%zu of them delivered late); hostd sent %llu "
               "datagrams, %llu dropped, FEC %u+%u, retransmits %llu\n",
               (unsigned long long) seed, max_payload, keys_sent, delivered, lost, both, (unsigned long long) sent,
               (unsigned long long) dropped, st.fec_k, st.fec_m, (unsigned long long) st.retransmits);
        check(delivered > lost);
        net_free(&n);
}

/* A frame on the wrong rudp channel or class is a protocol error: a bare rudp peer sends a tile
 * on the display channel, reliable. */
/* A raw rudp peer (hostd's side) sends one message; a viewer's WireConn receives it. Returns the
 * tile frames it delivered (their frame numbers in frames); the error message's text must
 * contain error, or there must be none when error is NULL. */
static size_t raw_deliver(uint8_t channel, RudpClass cls, const Buffer *msg, const char *error, uint32_t *frames) {
        DatagramTransport *ta, *tb;
        check(mem_datagram_pair(&(MemDatagramOptions) { .seed = 3 }, &ta, &tb) == 0);
        WireConn *a;
        check(wire_conn_new_rudp(ta, NULL, false, 1u << 20, &a) == 0);
        wire_conn_set_accept(a, WIRE_DIR_S2C);
        RudpConfig cfg;
        wire_conn_rudp_config(&cfg);
        Rudp *raw;
        check(rudp_new(&cfg, true, mem_datagram_get_now(tb), &raw) == 0);

        check(rudp_send(raw, channel, cls, 1, buffer_data(msg), buffer_len(msg)) == 0);
        uint8_t d[RUDP_DATAGRAM_MAX];
        ssize_t k;
        while ((k = rudp_next_datagram(raw, d, sizeof(d), mem_datagram_get_now(tb))) > 0)
                check(tb->ops->send(tb, d, (size_t) k) == 0);
        WireMessage m;
        size_t tiles = 0;
        int r;
        while ((r = wire_conn_receive(a, &m)) > 0) {
                check(m.type == WIRE_TYPE_TILE);
                frames[tiles++] = m.tile.frame;
        }
        if (error)
                check(r == -EPROTO && wire_conn_error(a) && strstr(wire_conn_error(a), error));
        else
                check(r == 0 && !wire_conn_error(a));
        rudp_free(raw);
        wire_conn_free(a);
        datagram_transport_free(tb);
        return tiles;
}

static void add_tile(Buffer *b, uint32_t frame) {
        uint8_t data[10] = { 0 };
        check(wire_encode_tile(b, &(WireTile) { .frame = frame, .w = 1, .h = 1, .data = data, .data_len = sizeof(data) }) >= 0);
}

static void test_mismapped(void) {
        Buffer b;
        uint32_t frames[8];
        buffer_init(&b, 1 << 16);
        add_tile(&b, 1);
        check(raw_deliver(1, RUDP_RELIABLE_ORDERED, &b, "rudp channel 1", frames) == 0);
        buffer_done(&b);
}

/* hostd batches small tiles: several tile frames in one tile message, delivered one by one;
 * more than one frame in any other message, a non-tile frame or a partial frame in a batch are
 * protocol errors. Through WireConn, tiles queued together go as one message. */
static void test_tile_batch(void) {
        Buffer b;
        uint32_t frames[8];
        buffer_init(&b, 1 << 16);
        for (uint32_t f = 1; f <= 3; f++)
                add_tile(&b, f);
        check(raw_deliver(WIRE_RUDP_TILE_CHANNEL, RUDP_LATEST_WINS, &b, NULL, frames) == 3);
        check(frames[0] == 1 && frames[1] == 2 && frames[2] == 3);

        buffer_clear(&b);
        check(wire_encode_frame_end(&b, &(WireFrameEnd) { .frame = 1 }) >= 0);
        check(wire_encode_frame_end(&b, &(WireFrameEnd) { .frame = 2 }) >= 0);
        check(raw_deliver(1, RUDP_RELIABLE_ORDERED, &b, "holds more than one frame", frames) == 0);

        buffer_clear(&b);
        add_tile(&b, 1);
        check(wire_encode_frame_end(&b, &(WireFrameEnd) { .frame = 1 }) >= 0);
        check(raw_deliver(WIRE_RUDP_TILE_CHANNEL, RUDP_LATEST_WINS, &b, "frame-end", frames) == 1);

        buffer_clear(&b);
        add_tile(&b, 7);
        check(buffer_append(&b, "\x05\0\0", 3) >= 0);
        check(raw_deliver(WIRE_RUDP_TILE_CHANNEL, RUDP_LATEST_WINS, &b, "3 bytes on rudp channel 8", frames) == 1);
        check(frames[0] == 7);
        buffer_done(&b);

        /* WireConn: three tiles and a frame-end queued, one submit: one tile message, one id. */
        Net n;
        net_new(&n, &(MemDatagramOptions) { .delay_usec = 1000, .seed = 9 });
        for (uint32_t f = 1; f <= 3; f++)
                add_tile(wire_conn_out(n.b), 40 + f);
        check(wire_encode_frame_end(wire_conn_out(n.b), &(WireFrameEnd) { .frame = 43, .tiles = 3 }) >= 0);
        check(wire_conn_submit(n.b) == 0);
        check(wire_conn_last_id(n.b) == 1); /* ids 0 (the tiles) and 1 (the frame-end) */
        net_run(&n, now_of(&n) + 200000);
        check(n.error_a == 0 && n.error_b == 0);
        check(count_type(&n.ra, WIRE_TYPE_TILE) == 3 && count_type(&n.ra, WIRE_TYPE_FRAME_END) == 1);
        uint32_t next = 41; /* in order among themselves (the frame-end is on another channel) */
        for (size_t i = 0; i < n.ra.n; i++)
                if (n.ra.type[i] == WIRE_TYPE_TILE)
                        check(n.ra.value[i] == next++);
        net_free(&n);
}

/* Garbage and replayed datagrams do not disturb the connection. */
static void test_garbage(void) {
        Net n;
        net_new(&n, &(MemDatagramOptions) { .delay_usec = 1000, .seed = 4 });
        check(wire_encode_key(wire_conn_out(n.a), &(WireKey) { .keycode = 1 }) >= 0);
        net_run(&n, now_of(&n) + 100000);
        uint8_t replay[RUDP_DATAGRAM_MAX];
        size_t replay_len = mem_datagram_last_sent(n.ta, replay, sizeof(replay));
        check(replay_len > 0);
        uint64_t rng = 99;
        for (int i = 0; i < 500; i++) {
                uint8_t g[600];
                size_t len = 1 + (size_t) (i * 7) % sizeof(g);
                for (size_t j = 0; j < len; j++) {
                        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
                        g[j] = (uint8_t) (rng >> 56);
                }
                if (i % 3 == 0)
                        g[0] = 0x40; /* looks like a rudp packet */
                check(mem_datagram_inject(n.tb, g, len) == 0);
                check(mem_datagram_inject(n.tb, replay, replay_len) == 0);
        }
        check(wire_encode_key(wire_conn_out(n.a), &(WireKey) { .keycode = 2 }) >= 0);
        net_run(&n, now_of(&n) + 100000);
        check(n.error_a == 0 && n.error_b == 0);
        check(count_type(&n.rb, WIRE_TYPE_KEY) == 2 && n.rb.value[1] == 2);
        net_free(&n);
}

/* An idle connection stays up on keepalives; a silent peer ends it; a closing peer ends it at once. */
static void test_liveness(void) {
        Net n;
        net_new(&n, &(MemDatagramOptions) { .delay_usec = 5000, .seed = 5 });
        net_run(&n, now_of(&n) + 120 * 1000000ULL);
        check(n.error_a == 0 && n.error_b == 0);
        check(count_type(&n.ra, WIRE_TYPE_PING) + count_type(&n.rb, WIRE_TYPE_PING) >= 10);

        /* The path goes dead: both sides time out. */
        mem_datagram_set_loss(n.ta, 1.0);
        mem_datagram_set_loss(n.tb, 1.0);
        net_run(&n, now_of(&n) + 40 * 1000000ULL);
        check(n.error_a == -ETIMEDOUT && n.error_b == -ETIMEDOUT);
        net_free(&n);

        net_new(&n, &(MemDatagramOptions) { .delay_usec = 5000, .seed = 6 });
        net_run(&n, now_of(&n) + 100000);
        wire_conn_free(n.b);
        n.b = NULL;
        n.error_b = -1;
        net_run(&n, now_of(&n) + 100000);
        check(n.error_a == -ECONNRESET);
        wire_conn_free(n.a);
}

/* The path MTU shrinks mid-stream: sends over the budget are refused once, then rudp uses the
 * smaller size and everything still arrives. */
static void test_mtu_drop(void) {
        Net n;
        net_new(&n, &(MemDatagramOptions) { .delay_usec = 5000, .seed = 7 });
        for (uint32_t k = 1; k <= 2000; k++)
                check(wire_encode_key(wire_conn_out(n.a), &(WireKey) { .keycode = k }) >= 0);
        net_run(&n, now_of(&n) + 2000);
        mem_datagram_set_max_payload(n.ta, 700);
        net_run(&n, now_of(&n) + 2000000);
        check(n.error_a == 0 && n.error_b == 0);
        check(count_type(&n.rb, WIRE_TYPE_KEY) == 2000);
        net_free(&n);
}

/* hostd preempted between its clock read and its recv() while the viewer's ACKs come in: each
 * datagram goes into rudp with the time read after its recv() (datagram-rudp.h), so the minimum
 * RTT stays the path's instead of the path's less the stall. */
static void test_stalled_receive(void) {
        Net n;
        net_new(&n, &(MemDatagramOptions) { .delay_usec = 20000, .seed = 8 });
        static uint8_t pixels[8000];
        unsigned stalls = 0;
        for (uint32_t frame = 0; frame < 400; frame++) {
                check(wire_encode_tile(wire_conn_out(n.b), &(WireTile) { .frame = frame, .w = 64, .h = 64,
                                                                         .data = pixels, .data_len = sizeof(pixels) }) >= 0);
                check(wire_conn_submit(n.b) == 0);
                uint64_t now = now_of(&n), ack = mem_datagram_next_arrival(n.tb);
                if (frame % 10 == 5 && ack > now && ack <= now + 10000) {
                        mem_datagram_stall_recv(n.tb, 10000);
                        stalls++;
                }
                net_run(&n, now + 10000);
        }
        check(n.error_a == 0 && n.error_b == 0);
        RudpStats st;
        check(wire_conn_rudp_stats(n.b, &st) == 0);
        check(stalls >= 10 && st.packets_sent > 1000);
        check(st.min_rtt_usec >= 40000);
        net_free(&n);
}

int main(void) {
        test_mapping();
        test_stalled_receive();
        test_clean();
        test_mismapped();
        test_tile_batch();
        test_garbage();
        test_liveness();
        test_mtu_drop();
        for (uint64_t seed = 1; seed <= 3; seed++)
                test_lossy(seed, RUDP_DATAGRAM_MAX);
        test_lossy(11, 1100);
        test_lossy(12, 600);
        return 0;
}
