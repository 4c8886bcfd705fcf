/* The client library's share of a clipboard transfer: a session and a scripted hostd over a
 * memory transport (no network, no hostd, no guest), text of 1 KiB, 1 MiB and 16 MiB each way:
 * from the guest (grab, request, chunks into on_clipboard_data) and to the guest (grab, request,
 * the session's paced chunks). Prints the median time per transfer and the rate.
 *
 *     bench-client-clipboard [REPEATS]
 *
 * What it leaves out: the link, hostd's relay and policy, the agent channel and the guest's X
 * selection: those are the end-to-end figures, measured with the whole stack. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client-session.h"
#include "mem-transport.h"
#include "parse-util.h"
#include "wire-conn.h"

typedef struct Bench {
        ClientSession *s;
        WireConn *hostd;
        bool got, asked;
        size_t got_len, in_len;
        uint32_t grab_serial, total;
        const uint8_t *answer;
        size_t answer_len;
} Bench;

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static void die(const char *what) {
        fprintf(stderr, "bench-client-clipboard: %s\n", what);
        exit(EXIT_FAILURE);
}

static void on_data(ClientSession *s, uint8_t format, int error, const uint8_t *data, size_t len, void *userdata) {
        Bench *b = userdata;
        if (error < 0)
                die("transfer dropped");
        b->got = true;
        b->got_len = len;
}

static void on_request(ClientSession *s, uint8_t format, void *userdata) {
        Bench *b = userdata;
        if (client_session_clipboard_send(s, format, b->answer, b->answer_len) < 0)
                die("send refused");
}

static const ClientCallbacks callbacks = { .on_clipboard_data = on_data, .on_clipboard_request = on_request };

static void hostd_read(Bench *b) {
        WireMessage m;
        int r;
        while ((r = wire_conn_receive(b->hostd, &m)) > 0) {
                if (m.type == WIRE_TYPE_CLIPBOARD_GRAB)
                        b->grab_serial = m.clipboard_grab.serial;
                else if (m.type == WIRE_TYPE_CLIPBOARD_REQUEST)
                        b->asked = true;
                else if (m.type == WIRE_TYPE_CLIPBOARD_DATA) {
                        b->in_len += m.clipboard_data.chunk_len;
                        b->total = m.clipboard_data.total;
                }
        }
        if (r < 0)
                die("hostd's end failed");
}

/* hostd's queue out, the session's turn, the session's output in. */
static void round_trip(Bench *b) {
        int r = wire_conn_flush(b->hostd);
        if (r < 0 && r != -EAGAIN)
                die("flush failed");
        if (client_session_process(b->s) < 0)
                die("session closed");
        hostd_read(b);
}

static void setup(Bench *b) {
        ByteTransport *x, *y;
        const ClientOptions o = { .no_resume = true };
        *b = (Bench) {};
        if (mem_transport_pair(NULL, &x, &y) < 0 || client_session_new_transport(x, NULL, 0, &o, &callbacks, b, &b->s) < 0 ||
            wire_conn_new(y, 64u << 20, &b->hostd) < 0)
                die("setup failed");
        wire_conn_set_accept(b->hostd, WIRE_DIR_C2S);
        WireWelcome w = { .version = 1, .caps = 0x1f | WIRE_CAP_AGENT | WIRE_CAP_CLIPBOARD, .session = 1, .desktop = "b",
                          .desktop_len = 1, .frames_in_flight = 2 };
        WireAgentStatus st = { .mode = WIRE_MODE_AGENT, .features = CLIENT_FEATURE_CLIPBOARD_TEXT };
        if (wire_encode_welcome(wire_conn_out(b->hostd), &w) < 0 || wire_encode_agent_status(wire_conn_out(b->hostd), &st) < 0)
                die("encode failed");
        for (int i = 0; i < 10; i++)
                round_trip(b);
}

/* guest -> viewer: hostd grabs, the viewer asks, hostd sends chunks of 64 KiB. */
static uint64_t from_guest(Bench *b, const uint8_t *data, size_t len, uint32_t serial) {
        uint64_t t0 = now_ns();
        WireClipboardGrab g = { .serial = serial, .formats = CLIENT_CLIPBOARD_TEXT };
        if (wire_encode_clipboard_grab(wire_conn_out(b->hostd), &g) < 0)
                die("encode failed");
        round_trip(b);
        b->got = false;
        b->asked = false;
        if (client_session_clipboard_request(b->s, WIRE_FORMAT_TEXT) < 0)
                die("request refused");
        while (!b->asked)
                round_trip(b);
        size_t off = 0;
        do {
                size_t n = len - off < 65536 ? len - off : 65536;
                WireClipboardData d = { .serial = serial, .total = (uint32_t) len, .offset = (uint32_t) off,
                                        .chunk = data + off, .chunk_len = n };
                if (wire_encode_clipboard_data(wire_conn_out(b->hostd), &d) < 0)
                        die("encode failed");
                off += n;
                round_trip(b);
        } while (off < len);
        while (!b->got)
                round_trip(b);
        if (b->got_len != len)
                die("wrong length");
        return now_ns() - t0;
}

/* viewer -> guest: the viewer grabs, hostd asks, the session sends as the connection drains. */
static uint64_t to_guest(Bench *b, const uint8_t *data, size_t len) {
        uint64_t t0 = now_ns();
        b->answer = data;
        b->answer_len = len;
        if (client_session_clipboard_grab(b->s, CLIENT_CLIPBOARD_TEXT) < 0)
                die("grab refused");
        round_trip(b);
        WireClipboardRequest q = { .serial = b->grab_serial, .format = WIRE_FORMAT_TEXT };
        if (wire_encode_clipboard_request(wire_conn_out(b->hostd), &q) < 0)
                die("encode failed");
        b->in_len = 0;
        b->total = UINT32_MAX;
        while (b->in_len < len || b->total != len)
                round_trip(b);
        return now_ns() - t0;
}

static int cmp(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
        uint64_t n = 9;
        if (argc > 1 && parse_u64(argv[1], 1000, &n) < 0)
                die("usage: bench-client-clipboard [REPEATS]");
        int repeats = (int) n;
        static const size_t sizes[] = { 1024, 1u << 20, 16u << 20 };
        uint64_t *t = calloc((size_t) (repeats > 0 ? repeats : 1), sizeof(uint64_t));
        uint8_t *data = malloc(16u << 20);
        Bench b;

        if (repeats < 1 || !t || !data)
                die("usage: bench-client-clipboard [REPEATS]");
        for (size_t i = 0; i < 16u << 20; i++)
                data[i] = (uint8_t) ('a' + i % 26);
        setup(&b);
        printf("client library clipboard over a memory transport (median of %d)\n", repeats);
        for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
                for (int dir = 0; dir < 2; dir++) {
                        for (int i = 0; i < repeats; i++)
                                t[i] = dir == 0 ? from_guest(&b, data, sizes[k], (uint32_t) (k * 1000 + i + 1))
                                                : to_guest(&b, data, sizes[k]);
                        qsort(t, (size_t) repeats, sizeof(uint64_t), cmp);
                        double us = t[repeats / 2] / 1e3;
                        printf("  %-13s %9zu bytes  %10.1f us  %8.1f MB/s\n", dir == 0 ? "guest->viewer" : "viewer->guest",
                               sizes[k], us, sizes[k] / us);
                }
        }
        client_session_free(b.s);
        wire_conn_free(b.hostd);
        free(t);
        free(data);
        return 0;
}
