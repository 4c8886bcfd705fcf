/* WireConn over in-memory and socket transports: every type at its boundaries streamed through
 * reads and writes cut at random points, unknown frames skipped up to 1 MiB, every protocol error
 * ending in -EPROTO with a reason, end of stream, transport errors, full buffers, the skip budget
 * and the poll events. */
#include "check.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "macro.h"
#include "mem-transport.h"
#include "wire-conn.h"
#include "wire-test.h"

static uint8_t arena_send[WIRE_KNOWN_SIZE_MAX], arena_expect[WIRE_KNOWN_SIZE_MAX];

/* What the sender puts on the wire, in order: a known message (type index and variant), or an
 * unknown frame of a given size. */
typedef struct Item {
        bool unknown;
        size_t type_index;
        WireTestVariant variant;
        uint32_t size;
} Item;

static void pair(const MemTransportOptions *o, size_t out_limit, WireConn **a, WireConn **b) {
        ByteTransport *ta, *tb;
        check(mem_transport_pair(o, &ta, &tb) == 0);
        check(wire_conn_new(ta, out_limit, a) == 0);
        check(wire_conn_new(tb, out_limit, b) == 0);
}

static int append_raw(WireConn *c, uint16_t type, uint8_t channel, uint8_t flags, uint32_t size, uint8_t fill) {
        uint8_t *p;
        int r = buffer_reserve(wire_conn_out(c), WIRE_HEADER_SIZE + (size_t) size, &p);
        if (r < 0)
                return r;
        wire_header_put(p, &(WireHeader) { .size = size, .type = type, .channel = channel, .flags = flags });
        memset(p + WIRE_HEADER_SIZE, fill, size);
        buffer_commit(wire_conn_out(c), WIRE_HEADER_SIZE + (size_t) size);
        return 0;
}

/* Every type in every variant with unknown frames between; small: without the big variants
 * (for byte-at-a-time runs, which would take long). */
static size_t build_items(Item *items, bool small) {
        size_t n = 0;
        static const uint32_t unknown_sizes[] = { 0, 1, 1000, WIRE_UNKNOWN_SIZE_MAX };
        for (WireTestVariant v = 0; v < _WIRE_TEST_VARIANT_MAX; v++) {
                if (small && v != WIRE_TEST_ZERO)
                        continue;
                for (size_t t = 0; t < wire_types_count; t++) {
                        items[n++] = (Item) { .type_index = t, .variant = v };
                        if (t % 7 == 3)
                                items[n++] = (Item) { .unknown = true, .size = unknown_sizes[(t / 7 + v) % (small ? 3 : 4)] };
                }
        }
        return n;
}

static void stream_everything(uint64_t seed, size_t max_chunk, size_t capacity, bool small) {
        MemTransportOptions o = { .seed = seed, .max_chunk = max_chunk, .capacity = capacity };
        WireConn *a, *b;
        Item items[256];
        size_t n = build_items(items, small), sent = 0, next = 0, unknown_before = 0, unknown = 0;
        uint64_t queued_bytes = 0;

        pair(&o, 2u << 20, &a, &b);
        for (unsigned rounds = 0; next < n || wire_conn_bytes_in(b) < queued_bytes; rounds++) {
                check(rounds < 10000000);
                /* Queue what fits. */
                while (sent < n) {
                        Item *it = &items[sent];
                        size_t before = wire_conn_queued(a);
                        int r;
                        if (it->unknown)
                                r = append_raw(a, 0x7ff0, 7, 0, it->size, 0xab);
                        else {
                                WireMessage m;
                                wire_test_fill(&m, &wire_types[it->type_index], it->variant, arena_send);
                                r = wire_encode(wire_conn_out(a), &m);
                        }
                        if (r == -ENOBUFS)
                                break;
                        check(r == 0);
                        queued_bytes += wire_conn_queued(a) - before;
                        unknown += it->unknown;
                        sent++;
                }
                int r = wire_conn_flush(a);
                check(r == 0 || r == -EAGAIN);
                if (r == -EAGAIN)
                        check(wire_conn_poll_events(a) & EPOLLOUT); /* the pipe is full */

                WireMessage m;
                while ((r = wire_conn_receive(b, &m)) > 0) {
                        /* Unknown frames before this one were skipped, and counted. */
                        while (next < n && items[next].unknown) {
                                unknown_before++;
                                next++;
                        }
                        check(next < n && wire_conn_skipped(b) == unknown_before);
                        WireMessage e;
                        const WireTypeInfo *info = &wire_types[items[next].type_index];
                        wire_test_fill(&e, info, items[next].variant, arena_expect);
                        check(m.type == info->type && m.channel == info->channel && m.flags == 0);
                        check(wire_test_equal(&m, &e));
                        next++;
                }
                check(r == 0);
                while (next < n && items[next].unknown && next < sent && wire_conn_skipped(b) > unknown_before) {
                        unknown_before++;
                        next++;
                }
        }
        check(wire_conn_skipped(b) == unknown && unknown > 0);
        check(wire_conn_bytes_in(b) == wire_conn_bytes_out(a));
        check(wire_conn_queued(a) == 0 && wire_conn_flush(a) == 0);
        check(wire_conn_poll_events(a) == EPOLLIN);
        check(!wire_conn_error(a) && !wire_conn_error(b));

        /* The sender goes away: a clean end of stream. */
        wire_conn_free(a);
        WireMessage m;
        check(wire_conn_receive(b, &m) == -ECONNRESET);
        check(strstr(wire_conn_error(b), "closed by the peer"));
        check(wire_conn_receive(b, &m) == -ECONNRESET); /* sticky */
        wire_conn_free(b);
}

/* Sends raw bytes from a to b and returns what b's receive says. */
static int receive_raw(WireConn *a, WireConn *b, WireMessage *m) {
        check(wire_conn_flush(a) == 0);
        return wire_conn_receive(b, m);
}

static void expect_proto(uint16_t type, uint8_t channel, uint32_t size, uint32_t sent, const char *reason) {
        WireConn *a, *b;
        WireMessage m;

        pair(NULL, 4u << 20, &a, &b);
        /* Only part of the payload is sent: limits must be enforced from the header alone. */
        uint8_t *p;
        check(buffer_reserve(wire_conn_out(a), WIRE_HEADER_SIZE + sent, &p) == 0);
        wire_header_put(p, &(WireHeader) { .size = size, .type = type, .channel = channel });
        memset(p + WIRE_HEADER_SIZE, 0, sent);
        buffer_commit(wire_conn_out(a), WIRE_HEADER_SIZE + sent);

        check(receive_raw(a, b, &m) == -EPROTO);
        check(wire_conn_error(b));
        if (!strstr(wire_conn_error(b), reason)) {
                fprintf(stderr, "reason `%s' lacks `%s'\n", wire_conn_error(b), reason);
                abort();
        }
        check(wire_conn_receive(b, &m) == -EPROTO); /* sticky */
        /* The other direction still works: hostd can still say bye. */
        check(wire_encode_bye(wire_conn_out(b), &(WireBye) { .code = WIRE_CODE_PROTOCOL_ERROR }) == 0);
        check(wire_conn_flush(b) == 0);
        check(wire_conn_receive(a, &m) == 1 && m.type == WIRE_TYPE_BYE && m.bye.code == WIRE_CODE_PROTOCOL_ERROR);
        wire_conn_free(a);
        wire_conn_free(b);
}

static void test_protocol_errors(void) {
        expect_proto(WIRE_TYPE_TILE, WIRE_CHANNEL_DISPLAY, WIRE_TILE_SIZE_MAX + 1, 0, "tile (0x0011) frame of 786447 bytes is over");
        expect_proto(WIRE_TYPE_PING, WIRE_CHANNEL_CONTROL, 17, 17, "ping");
        expect_proto(WIRE_TYPE_PING, WIRE_CHANNEL_CONTROL, 15, 15, "ping (0x0004) message of 15 bytes malformed");
        expect_proto(WIRE_TYPE_PING, WIRE_CHANNEL_DISPLAY, 16, 16, "on channel 1, not 0");
        expect_proto(WIRE_TYPE_REFRESH, WIRE_CHANNEL_DISPLAY, 1, 1, "refresh");
        expect_proto(0x7fff, 3, WIRE_UNKNOWN_SIZE_MAX + 1, 0, "unknown (0x7fff) frame of 1048577 bytes is over");
        expect_proto(0xffff, 0, UINT32_MAX, 0, "over its maximum");
        /* A string field with a NUL. */
        WireConn *a, *b;
        WireMessage m;
        pair(NULL, 1 << 20, &a, &b);
        check(wire_encode_bye(wire_conn_out(a), &(WireBye) { .code = 1, .reason = "ab", .reason_len = 2 }) == 0);
        ((uint8_t *) buffer_data(wire_conn_out(a)))[WIRE_HEADER_SIZE + 6] = 0;
        check(receive_raw(a, b, &m) == -EPROTO && strstr(wire_conn_error(b), "bye"));
        wire_conn_free(a);
        wire_conn_free(b);
}

static void test_direction(void) {
        WireConn *viewer, *hostd;
        WireMessage m;

        pair(NULL, 1 << 20, &viewer, &hostd);
        wire_conn_set_accept(hostd, WIRE_DIR_C2S);
        wire_conn_set_accept(viewer, WIRE_DIR_S2C);
        check(wire_encode_ping(wire_conn_out(viewer), &(WirePing) { .nonce = 1 }) == 0);
        check(wire_encode_key(wire_conn_out(viewer), &(WireKey) { .keycode = 0x1e, .down = 1 }) == 0);
        check(receive_raw(viewer, hostd, &m) == 1 && m.type == WIRE_TYPE_PING && m.ping.nonce == 1);
        check(wire_conn_receive(hostd, &m) == 1 && m.type == WIRE_TYPE_KEY && m.key.keycode == 0x1e);
        check(wire_encode_pong(wire_conn_out(hostd), &(WirePong) { .nonce = 1 }) == 0);
        check(wire_encode_key(wire_conn_out(hostd), &(WireKey) { .keycode = 0x1e }) == 0); /* c2s, from hostd */
        check(receive_raw(hostd, viewer, &m) == 1 && m.type == WIRE_TYPE_PONG);
        check(wire_conn_receive(viewer, &m) == -EPROTO && strstr(wire_conn_error(viewer), "key (0x0030) frame from the wrong direction"));
        wire_conn_free(viewer);
        wire_conn_free(hostd);
}

static void test_flags_and_coalesced(void) {
        WireConn *a, *b;
        WireMessage m;

        pair(NULL, 1 << 20, &a, &b);
        /* Several frames in one read, unknown flag bits, an empty unknown frame between. */
        check(wire_encode_display_mode(wire_conn_out(a), &(WireDisplayMode) { .width = 640, .height = 480 }) == 0);
        check(append_raw(a, 0x4000, 200, 0, 0, 0) == 0);
        check(append_raw(a, WIRE_TYPE_REFRESH, WIRE_CHANNEL_DISPLAY, 0xff, 0, 0) == 0);
        check(wire_encode_mouse_relative(wire_conn_out(a), &(WireMouseRelative) { .dx = -5, .dy = INT32_MIN }) == 0);
        check(receive_raw(a, b, &m) == 1 && m.type == WIRE_TYPE_DISPLAY_MODE && m.display_mode.height == 480);
        check(wire_conn_receive(b, &m) == 1 && m.type == WIRE_TYPE_REFRESH && m.flags == 0xff);
        check(wire_conn_skipped(b) == 1);
        check(wire_conn_receive(b, &m) == 1 && m.mouse_relative.dx == -5 && m.mouse_relative.dy == INT32_MIN);
        check(wire_conn_receive(b, &m) == 0);

        /* End of stream inside a frame. */
        check(append_raw(a, WIRE_TYPE_PING, 0, 0, 16, 0) == 0);
        wire_conn_out(a)->len -= 3; /* cut the last three bytes */
        check(wire_conn_flush(a) == 0);
        wire_conn_free(a);
        check(wire_conn_receive(b, &m) == -ECONNRESET && strstr(wire_conn_error(b), "inside a frame"));
        wire_conn_free(b);
}

static void test_transport_errors(void) {
        ByteTransport *ta, *tb;
        WireConn *a, *b;
        WireMessage m;

        check(mem_transport_pair(NULL, &ta, &tb) == 0);
        check(wire_conn_new(ta, 1 << 16, &a) == 0);
        check(wire_conn_new(tb, 1 << 16, &b) == 0);
        check(wire_conn_transport(a) == ta && wire_conn_fd(a) == -EBADF);
        mem_transport_set_error(tb, -EIO);
        mem_transport_set_error(ta, -ETIMEDOUT);
        check(wire_conn_receive(b, &m) == -EIO && strstr(wire_conn_error(b), "receive failed"));
        check(wire_encode_ping(wire_conn_out(a), &(WirePing) {}) == 0);
        check(wire_conn_flush(a) == -ETIMEDOUT && strstr(wire_conn_error(a), "send failed"));
        check(wire_conn_flush(a) == -ETIMEDOUT);
        check(wire_conn_queued(a) == WIRE_HEADER_SIZE + 16);
        wire_conn_free(a);
        wire_conn_free(b);
        check(!wire_conn_free(NULL));
}

static void test_out_limit(void) {
        MemTransportOptions o = { .capacity = 100 };
        WireConn *a, *b;
        WireMessage m;

        pair(&o, 3 * (WIRE_HEADER_SIZE + 16), &a, &b);
        check(wire_conn_poll_events(a) == EPOLLIN);
        for (int i = 0; i < 3; i++)
                check(wire_encode_ping(wire_conn_out(a), &(WirePing) { .nonce = (uint64_t) i }) == 0);
        check(wire_encode_ping(wire_conn_out(a), &(WirePing) {}) == -ENOBUFS);
        check(wire_conn_queued(a) == 72);
        check(wire_conn_poll_events(a) == (EPOLLIN | EPOLLOUT));
        /* The pipe takes 100 of 72+72 bytes: the rest waits, and waiting means EPOLLOUT. */
        check(wire_conn_flush(a) == 0);
        for (int i = 0; i < 3; i++)
                check(wire_encode_ping(wire_conn_out(a), &(WirePing) { .nonce = (uint64_t) i + 3 }) == 0);
        check(wire_conn_flush(a) == -EAGAIN);
        check(wire_conn_queued(a) == 44 && wire_conn_poll_events(a) == (EPOLLIN | EPOLLOUT));
        for (int i = 0; i < 4; i++)
                check(wire_conn_receive(b, &m) == 1 && m.ping.nonce == (uint64_t) i);
        check(wire_conn_receive(b, &m) == 0);
        check(wire_conn_poll_events(b) == EPOLLIN);
        check(wire_conn_flush(a) == 0 && wire_conn_poll_events(a) == EPOLLIN);
        for (int i = 4; i < 6; i++)
                check(wire_conn_receive(b, &m) == 1 && m.ping.nonce == (uint64_t) i);
        wire_conn_free(a);
        wire_conn_free(b);
}

static void test_skip_budget(void) {
        WireConn *a, *b;
        WireMessage m;
        int zeros = 0, r;

        pair(NULL, 8u << 20, &a, &b);
        for (int i = 0; i < 6; i++)
                check(append_raw(a, 0x1234, 0, 0, WIRE_UNKNOWN_SIZE_MAX, (uint8_t) i) == 0);
        check(wire_encode_ping(wire_conn_out(a), &(WirePing) { .nonce = 42 }) == 0);
        check(wire_conn_flush(a) == 0);
        /* The first call stops at the budget with data left; the loop's next turn carries on. */
        while ((r = wire_conn_receive(b, &m)) == 0)
                check(++zeros < 10);
        check(zeros == 1 && r == 1 && m.ping.nonce == 42 && wire_conn_skipped(b) == 6);
        wire_conn_free(a);
        wire_conn_free(b);
}

static void set_nonblock(int fd) {
        int fl = fcntl(fd, F_GETFL);
        check(fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0);
}

/* Real sockets: a tile larger than the socket buffer, driven by poll() on the advertised events. */
static void test_socketpair(void) {
        int sv[2];
        ByteTransport *ta, *tb;
        WireConn *a, *b;
        WireMessage m;
        static uint8_t data[WIRE_TILE_DATA_MAX];

        check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        set_nonblock(sv[0]);
        set_nonblock(sv[1]);
        check(fd_transport_new(sv[0], &ta) == 0 && fd_transport_new(sv[1], &tb) == 0);
        check(wire_conn_new(ta, 2u << 20, &a) == 0 && wire_conn_new(tb, 2u << 20, &b) == 0);
        check(wire_conn_fd(a) == sv[0]);
        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t) (i * 7);
        for (int i = 0; i < 2; i++)
                check(wire_encode_tile(wire_conn_out(a), &(WireTile) { .frame = (uint32_t) i, .w = 512, .data = data,
                                                                       .data_len = sizeof(data) }) == 0);
        check(wire_encode_frame_end(wire_conn_out(a), &(WireFrameEnd) { .frame = 1, .tiles = 2 }) == 0);

        int tiles = 0, ends = 0, r;
        while (ends == 0) {
                r = wire_conn_flush(a);
                check(r == 0 || r == -EAGAIN);
                while ((r = wire_conn_receive(b, &m)) > 0) {
                        if (m.type == WIRE_TYPE_TILE) {
                                check(m.tile.frame == (uint32_t) tiles && m.tile.data_len == sizeof(data));
                                check(memcmp(m.tile.data, data, sizeof(data)) == 0);
                                tiles++;
                        } else
                                check(m.type == WIRE_TYPE_FRAME_END && m.frame_end.tiles == 2 && ends++ == 0);
                }
                check(r == 0);
                struct pollfd p[2] = {
                        { .fd = wire_conn_fd(a), .events = (short) wire_conn_poll_events(a) },
                        { .fd = wire_conn_fd(b), .events = (short) wire_conn_poll_events(b) },
                };
                if (ends == 0)
                        check(poll(p, 2, 5000) > 0);
        }
        check(tiles == 2);
        wire_conn_free(a);
        check(wire_conn_receive(b, &m) == -ECONNRESET);
        /* Writing to a closed peer is an error, not SIGPIPE. */
        check(wire_encode_refresh(wire_conn_out(b)) == 0);
        r = wire_conn_flush(b);
        check(r == -EPIPE || r == -ECONNRESET);
        wire_conn_free(b);

        /* Pipes have no send(): the transport falls back to write(). */
        int p[2];
        check(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
        check(fd_transport_new(p[1], &ta) == 0 && fd_transport_new(p[0], &tb) == 0);
        check(wire_conn_new(ta, 1 << 10, &a) == 0 && wire_conn_new(tb, 1 << 10, &b) == 0);
        check(wire_encode_key(wire_conn_out(a), &(WireKey) { .keycode = 0x9c, .down = 1 }) == 0);
        check(wire_conn_flush(a) == 0);
        check(wire_conn_receive(b, &m) == 1 && m.key.keycode == 0x9c);
        check(wire_conn_receive(b, &m) == 0 && wire_conn_poll_events(b) == EPOLLIN);
        wire_conn_free(a);
        wire_conn_free(b);
}

int main(void) {
        stream_everything(0, 0, 0, false); /* whole reads and writes */
        stream_everything(0, 1, 4096, true); /* one byte at a time */
        stream_everything(1, 2, 4096, true);
        stream_everything(0x9e3779b97f4a7c15ull, 7, 1000, true);
        stream_everything(0x9e3779b97f4a7c15ull, 61, 1000, false);
        stream_everything(12345, 70000, 300000, false);
        stream_everything(777, 3000, 0, false);
        test_protocol_errors();
        test_direction();
        test_flags_and_coalesced();
        test_transport_errors();
        test_out_limit();
        test_skip_budget();
        test_socketpair();
        printf("wire-conn ok\n");
        return 0;
}
