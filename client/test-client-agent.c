/* The client library's agent features against a scripted hostd on the other end of a memory
 * transport (hostd's own agent side is built on another branch; this peer speaks the wire
 * protocol's messages as wire-protocol.md says hostd sends them, and checks what the session
 * sends): the hello's caps, agent-status, the lazy clipboard both ways with chunks and serials,
 * stale serials, oversized totals and out-of-order chunks (the transfer dropped, the session not),
 * the window table from deltas, window actions, paste-text and resize requests. Every scenario
 * runs over whole reads and over reads cut at pseudo-random points of 1-7 bytes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "client-resume.h"
#include "client-session.h"
#include "mem-transport.h"
#include "wire-conn.h"
#include "wire-replay.h"

#define MAX_SEEN 64

typedef struct Peer {
        ClientSession *s;
        WireConn *hostd;

        /* what the session said through its callbacks */
        unsigned welcomed, closed, statuses, grabs, windows_changes;
        ClientAgentStatus status;
        uint32_t grab_formats;
        unsigned datas;
        int data_error;
        uint8_t data_format;
        uint8_t *data;
        size_t data_len;
        unsigned requests;
        uint8_t request_format;
        const uint8_t *answer; /* what on_clipboard_request answers with, NULL: nothing yet */
        size_t answer_len;

        /* what hostd received */
        uint64_t hello_caps;
        unsigned c2s_grabs, c2s_requests, c2s_releases, pongs;
        WireClipboardGrab last_grab;
        WireClipboardRequest last_request;
        uint8_t *in_data;
        size_t in_len;
        uint32_t in_total, in_serial;
        unsigned in_chunks;
        bool in_bad;
        uint32_t resizes[MAX_SEEN][2];
        unsigned n_resizes;
        char paste[8192];
        size_t paste_len;
        WireWindowAction actions[MAX_SEEN];
        unsigned n_actions;

        /* session resumption: hostd counts what it received and acknowledges it */
        bool acking;
        uint64_t replayable, acked;
} Peer;

static void on_welcome(ClientSession *s, const char *desktop, int role, void *userdata) {
        ((Peer *) userdata)->welcomed++;
}

static void on_closed(ClientSession *s, int error, const char *reason, void *userdata) {
        ((Peer *) userdata)->closed++;
}

static void on_agent_status(ClientSession *s, const ClientAgentStatus *st, void *userdata) {
        Peer *p = userdata;
        p->statuses++;
        p->status = *st;
}

static void on_clipboard_grab(ClientSession *s, uint32_t formats, void *userdata) {
        Peer *p = userdata;
        p->grabs++;
        p->grab_formats = formats;
}

static void on_clipboard_data(ClientSession *s, uint8_t format, int error, const uint8_t *data, size_t len,
                              void *userdata) {
        Peer *p = userdata;
        p->datas++;
        p->data_error = error;
        p->data_format = format;
        free(p->data);
        p->data = NULL;
        p->data_len = len;
        if (error == 0) {
                check(data && data[len] == '\0'); /* NUL-terminated for text */
                p->data = malloc(len + 1);
                check(p->data);
                memcpy(p->data, data, len + 1);
        } else
                check(!data && len == 0);
}

static void on_clipboard_request(ClientSession *s, uint8_t format, void *userdata) {
        Peer *p = userdata;
        p->requests++;
        p->request_format = format;
        if (p->answer)
                check(client_session_clipboard_send(s, format, p->answer, p->answer_len) == 0);
}

static void on_windows(ClientSession *s, void *userdata) {
        ((Peer *) userdata)->windows_changes++;
}

static const ClientCallbacks callbacks = {
        .on_welcome = on_welcome,
        .on_closed = on_closed,
        .on_agent_status = on_agent_status,
        .on_clipboard_grab = on_clipboard_grab,
        .on_clipboard_data = on_clipboard_data,
        .on_clipboard_request = on_clipboard_request,
        .on_windows = on_windows,
};

static void hostd_handle(Peer *p, const WireMessage *m) {
        if (wire_type_replayable(m->type))
                p->replayable++;
        switch (m->type) {
        case WIRE_TYPE_HELLO:
                p->hello_caps = m->hello.caps;
                break;
        case WIRE_TYPE_PONG:
                p->pongs++;
                break;
        case WIRE_TYPE_CLIPBOARD_GRAB:
                p->c2s_grabs++;
                p->last_grab = m->clipboard_grab;
                break;
        case WIRE_TYPE_CLIPBOARD_RELEASE:
                p->c2s_releases++;
                break;
        case WIRE_TYPE_CLIPBOARD_REQUEST:
                p->c2s_requests++;
                p->last_request = m->clipboard_request;
                break;
        case WIRE_TYPE_CLIPBOARD_DATA: {
                const WireClipboardData *d = &m->clipboard_data;
                /* The session must send in order, the same total each time, within the caps. */
                if (d->offset == 0) {
                        free(p->in_data);
                        p->in_data = malloc(d->total + 1);
                        check(p->in_data);
                        p->in_len = 0;
                        p->in_chunks = 0;
                        p->in_total = d->total;
                        p->in_serial = d->serial;
                }
                if (d->offset != p->in_len || d->total != p->in_total || d->serial != p->in_serial ||
                    d->chunk_len > CLIENT_CLIPBOARD_CHUNK_MAX || d->offset + d->chunk_len > d->total)
                        p->in_bad = true;
                else {
                        memcpy(p->in_data + p->in_len, d->chunk, d->chunk_len);
                        p->in_len += d->chunk_len;
                        p->in_chunks++;
                }
                break;
        }
        case WIRE_TYPE_RESIZE_REQUEST:
                check(p->n_resizes < MAX_SEEN);
                p->resizes[p->n_resizes][0] = m->resize_request.width;
                p->resizes[p->n_resizes][1] = m->resize_request.height;
                p->n_resizes++;
                break;
        case WIRE_TYPE_PASTE_TEXT:
                check(m->paste_text.text_len <= sizeof(p->paste));
                memcpy(p->paste, m->paste_text.text, m->paste_text.text_len);
                p->paste_len = m->paste_text.text_len;
                break;
        case WIRE_TYPE_WINDOW_ACTION:
                check(p->n_actions < MAX_SEEN);
                p->actions[p->n_actions++] = m->window_action;
                break;
        default:
                break;
        }
}

/* Lets both ends work until neither moves for 16 rounds in a row (a split transport says
 * -EAGAIN about one read in four: 16 in a row do not happen by chance). */
static void run(Peer *p) {
        unsigned still = 0;
        for (int i = 0; i < 400000 && still < 16; i++) {
                WireMessage m;
                int r;
                uint64_t in = client_session_bytes_received(p->s), out = wire_conn_bytes_in(p->hostd);
                check(client_session_process(p->s) == 0);
                while ((r = wire_conn_receive(p->hostd, &m)) > 0)
                        hostd_handle(p, &m);
                check(r == 0);
                if (p->acking && p->replayable != p->acked) {
                        check(wire_encode_session_ack(wire_conn_out(p->hostd), &(WireSessionAck) { .received = p->replayable }) == 0);
                        p->acked = p->replayable;
                }
                r = wire_conn_flush(p->hostd);
                check(r == 0 || r == -EAGAIN);
                bool moved = r == -EAGAIN || client_session_bytes_received(p->s) != in ||
                             wire_conn_bytes_in(p->hostd) != out;
                still = moved ? 0 : still + 1;
        }
        check(still >= 16);
}

static Buffer *out(Peer *p) {
        return wire_conn_out(p->hostd);
}

static void status(Peer *p, uint8_t mode, uint64_t features, uint8_t cause) {
        WireAgentStatus st = { .mode = mode, .features = features, .cause = cause };
        check(wire_encode_agent_status(out(p), &st) == 0);
        run(p);
}

/* The session is alive: a ping gets its pong. */
static void check_alive(Peer *p) {
        unsigned pongs = p->pongs;
        check(wire_encode_ping(out(p), &(WirePing) { .nonce = 5 }) == 0);
        run(p);
        check(p->pongs == pongs + 1 && p->closed == 0);
}

static void setup_with(Peer *p, uint64_t seed, bool resume) {
        ByteTransport *a, *b;
        /* Whole reads; reads of 1-7 bytes; reads of up to 4 KiB, cut anywhere. */
        MemTransportOptions o = { .seed = seed, .max_chunk = seed == 1 ? 7 : seed ? 4093 : 0 };
        const ClientOptions options = { .no_resume = !resume };

        *p = (Peer) {};
        check(mem_transport_pair(&o, &a, &b) == 0);
        check(client_session_new_transport(a, NULL, 0, &options, &callbacks, p, &p->s) == 0);
        check(wire_conn_new(b, 32u << 20, &p->hostd) == 0);
        wire_conn_set_accept(p->hostd, WIRE_DIR_C2S);
        run(p);
        /* The hello offers every agent feature. */
        check(p->hello_caps & WIRE_CAP_AGENT);
        check(p->hello_caps & WIRE_CAP_CLIPBOARD);
        check(p->hello_caps & WIRE_CAP_WINDOWS);
        check(p->hello_caps & WIRE_CAP_RESIZE);
        WireWelcome w = { .version = 1, .caps = 0x1f | WIRE_CAP_AGENT | WIRE_CAP_CLIPBOARD | WIRE_CAP_WINDOWS | WIRE_CAP_RESIZE |
                                                (resume ? WIRE_CAP_RESUME : 0),
                          .session = 9, .desktop = "d", .desktop_len = 1, .frames_in_flight = 2 };
        check(wire_encode_welcome(out(p), &w) == 0);
        if (resume) {
                static const uint8_t token[32] = { 7 };
                WireSessionToken t = { .token = token, .token_len = 32, .resume_seconds = 60 };
                check(wire_encode_session_token(out(p), &t) == 0);
                p->acking = true;
        }
        run(p);
        check(p->welcomed == 1);
        /* Before hostd says anything: no agent known. */
        check(!client_session_agent_status(p->s)->known);
}

static void setup(Peer *p, uint64_t seed) {
        setup_with(p, seed, false);
}

static void teardown(Peer *p) {
        check(p->closed == 0);
        client_session_free(p->s);
        wire_conn_free(p->hostd);
        free(p->data);
        free(p->in_data);
}

static void test_status(uint64_t seed) {
        Peer p;
        char text[160];
        setup(&p, seed);

        status(&p, WIRE_MODE_AGENT, CLIENT_FEATURE_HEARTBEAT | CLIENT_FEATURE_CLIPBOARD_TEXT | CLIENT_FEATURE_WINDOWS |
                                            CLIENT_FEATURE_RESIZE, WIRE_CAUSE_AGENT_HELLO);
        check(p.statuses == 1 && p.status.known && p.status.mode == WIRE_MODE_AGENT);
        check(client_session_agent_status(p.s)->features & CLIENT_FEATURE_WINDOWS);
        client_agent_status_format(&p.status, text, sizeof(text));
        check(strcmp(text, "active (clipboard (text), windows, resize, heartbeat)") == 0);

        status(&p, WIRE_MODE_HYPERVISOR, CLIENT_FEATURE_WINDOWS, WIRE_CAUSE_HEARTBEAT_LOST);
        check(p.statuses == 2 && p.status.mode == WIRE_MODE_HYPERVISOR);
        check(p.status.features == 0); /* features count only in mode agent */
        client_agent_status_format(&p.status, text, sizeof(text));
        check(strcmp(text, "none (hypervisor path: heartbeat lost)") == 0);

        /* A mode this viewer does not know is no agent, not an error. */
        status(&p, 9, CLIENT_FEATURE_WINDOWS, 77);
        check(p.status.mode == WIRE_MODE_HYPERVISOR && p.status.features == 0);
        client_agent_status_format(&p.status, text, sizeof(text));
        check(strcmp(text, "none (hypervisor path: unknown)") == 0);
        check_alive(&p);
        teardown(&p);
}

static void fill(uint8_t *b, size_t n, uint8_t salt) {
        for (size_t i = 0; i < n; i++)
                b[i] = (uint8_t) ('a' + (i * 7 + salt) % 26);
}

static void data(Peer *p, uint32_t serial, uint8_t format, uint32_t total, uint32_t offset, const uint8_t *chunk,
                 size_t len) {
        WireClipboardData d = { .serial = serial, .format = format, .total = total, .offset = offset, .chunk = chunk,
                                .chunk_len = len };
        check(wire_encode_clipboard_data(out(p), &d) == 0);
        run(p);
}

static void grab(Peer *p, uint32_t serial, uint32_t formats) {
        check(wire_encode_clipboard_grab(out(p), &(WireClipboardGrab) { .serial = serial, .formats = formats }) == 0);
        run(p);
}

static void test_clipboard_from_guest(uint64_t seed) {
        Peer p;
        setup(&p, seed);
        enum { TOTAL = 150000 };
        uint8_t *text = malloc(TOTAL);
        check(text);
        fill(text, TOTAL, 1);

        /* A grab while the clipboard is off is ignored. */
        grab(&p, 3, CLIENT_CLIPBOARD_TEXT);
        check(p.grabs == 0);
        check(client_session_clipboard_request(p.s, WIRE_FORMAT_TEXT) == -ENODATA);

        status(&p, WIRE_MODE_AGENT, CLIENT_FEATURE_CLIPBOARD, WIRE_CAUSE_AGENT_HELLO);
        grab(&p, 7, CLIENT_CLIPBOARD_TEXT | (1u << 9)); /* an unknown format bit is dropped */
        check(p.grabs == 1 && p.grab_formats == CLIENT_CLIPBOARD_TEXT);
        check(p.c2s_requests == 0); /* lazy: nothing moves until we paste */
        check(client_session_clipboard_request(p.s, WIRE_FORMAT_PNG) == -ENODATA);
        check(client_session_clipboard_request(p.s, WIRE_FORMAT_TEXT) == 0);
        run(&p);
        check(p.c2s_requests == 1 && p.last_request.serial == 7 && p.last_request.format == WIRE_FORMAT_TEXT);

        /* In three chunks, a stale one (serial 6) in between: ignored. */
        data(&p, 7, WIRE_FORMAT_TEXT, TOTAL, 0, text, 65536);
        data(&p, 6, WIRE_FORMAT_TEXT, 10, 0, text, 10);
        check(p.datas == 0);
        data(&p, 7, WIRE_FORMAT_TEXT, TOTAL, 65536, text + 65536, 65536);
        check(p.datas == 0);
        data(&p, 7, WIRE_FORMAT_TEXT, TOTAL, 131072, text + 131072, TOTAL - 131072);
        check(p.datas == 1 && p.data_error == 0 && p.data_len == TOTAL && memcmp(p.data, text, TOTAL) == 0);
        /* Done: more data for it is stale. */
        data(&p, 7, WIRE_FORMAT_TEXT, TOTAL, 0, text, 100);
        check(p.datas == 1);

        /* Empty: total 0. */
        check(client_session_clipboard_request(p.s, WIRE_FORMAT_TEXT) == 0);
        data(&p, 7, WIRE_FORMAT_TEXT, 0, 0, NULL, 0);
        check(p.datas == 2 && p.data_error == 0 && p.data_len == 0);

        /* A newer grab during a transfer: the old transfer ends (stale), the request is for the new serial. */
        check(client_session_clipboard_request(p.s, WIRE_FORMAT_TEXT) == 0);
        data(&p, 7, WIRE_FORMAT_TEXT, TOTAL, 0, text, 1000);
        grab(&p, 8, CLIENT_CLIPBOARD_TEXT | CLIENT_CLIPBOARD_PNG);
        check(p.datas == 3 && p.data_error == -ESTALE);
        check(p.grabs == 2 && p.grab_formats == (CLIENT_CLIPBOARD_TEXT | CLIENT_CLIPBOARD_PNG));
        data(&p, 7, WIRE_FORMAT_TEXT, TOTAL, 1000, text + 1000, 1000); /* the old one's rest: stale */
        check(p.datas == 3);

        /* Oversized total: refused, the session goes on. */
        check(client_session_clipboard_request(p.s, WIRE_FORMAT_PNG) == 0);
        run(&p);
        check(p.last_request.serial == 8 && p.last_request.format == WIRE_FORMAT_PNG);
        data(&p, 8, WIRE_FORMAT_PNG, CLIENT_CLIPBOARD_TOTAL_MAX + 1, 0, text, 1000);
        check(p.datas == 4 && p.data_error == -EFBIG);
        check_alive(&p);

        /* Out of order: the transfer is dropped, the session is not; the next request works. */
        check(client_session_clipboard_request(p.s, WIRE_FORMAT_TEXT) == 0);
        data(&p, 8, WIRE_FORMAT_TEXT, 3000, 1000, text, 1000);
        check(p.datas == 5 && p.data_error == -EPROTO);
        check(client_session_clipboard_request(p.s, WIRE_FORMAT_TEXT) == 0);
        data(&p, 8, WIRE_FORMAT_TEXT, 3000, 0, text, 1000);
        data(&p, 8, WIRE_FORMAT_TEXT, 2999, 1000, text + 1000, 1000); /* the total changed */
        check(p.datas == 6 && p.data_error == -EPROTO);
        check(client_session_clipboard_request(p.s, WIRE_FORMAT_TEXT) == 0);
        data(&p, 8, WIRE_FORMAT_TEXT, 1500, 0, text, 1000);
        data(&p, 8, WIRE_FORMAT_TEXT, 1500, 1000, text + 1000, 1000); /* past the total */
        check(p.datas == 7 && p.data_error == -EPROTO);
        check(client_session_clipboard_request(p.s, WIRE_FORMAT_TEXT) == 0);
        data(&p, 8, WIRE_FORMAT_TEXT, 2, 0, (const uint8_t *) "ok", 2);
        check(p.datas == 8 && p.data_error == 0 && p.data_len == 2 && memcmp(p.data, "ok", 3) == 0);
        check_alive(&p);

        /* The guest releases: the grab is gone. */
        check(wire_encode_clipboard_release(out(&p), &(WireClipboardRelease) { .serial = 7 }) == 0); /* stale */
        run(&p);
        check(p.grabs == 2);
        check(wire_encode_clipboard_release(out(&p), &(WireClipboardRelease) { .serial = 8 }) == 0);
        run(&p);
        check(p.grabs == 3 && p.grab_formats == 0);
        check(client_session_clipboard_request(p.s, WIRE_FORMAT_TEXT) == -ENODATA);

        free(text);
        teardown(&p);
}

static void request(Peer *p, uint32_t serial, uint8_t format) {
        check(wire_encode_clipboard_request(out(p), &(WireClipboardRequest) { .serial = serial, .format = format }) == 0);
        run(p);
}

static void test_clipboard_to_guest(uint64_t seed) {
        Peer p;
        setup(&p, seed);
        enum { TOTAL = 200000 };
        uint8_t *text = malloc(TOTAL);
        check(text);
        fill(text, TOTAL, 3);

        /* Copied before the agent came: kept, and grabbed when the clipboard comes on. */
        check(client_session_clipboard_grab(p.s, CLIENT_CLIPBOARD_TEXT) == -EOPNOTSUPP);
        run(&p);
        check(p.c2s_grabs == 0);
        status(&p, WIRE_MODE_AGENT, CLIENT_FEATURE_CLIPBOARD_TEXT, WIRE_CAUSE_AGENT_HELLO);
        check(p.c2s_grabs == 1 && p.last_grab.formats == CLIENT_CLIPBOARD_TEXT);
        uint32_t first = p.last_grab.serial;

        check(client_session_clipboard_grab(p.s, CLIENT_CLIPBOARD_TEXT) == 0);
        run(&p);
        check(p.c2s_grabs == 2 && p.last_grab.serial != first);
        uint32_t serial = p.last_grab.serial;

        /* Stale serial, a format we did not offer: no callback. */
        request(&p, first, WIRE_FORMAT_TEXT);
        request(&p, serial, WIRE_FORMAT_PNG);
        check(p.requests == 0);

        /* Answered later, in chunks of at most 64 KiB, in order. */
        request(&p, serial, WIRE_FORMAT_TEXT);
        check(p.requests == 1 && p.request_format == WIRE_FORMAT_TEXT);
        check(client_session_clipboard_send(p.s, WIRE_FORMAT_TEXT, text, TOTAL) == 0);
        check(client_session_clipboard_send(p.s, WIRE_FORMAT_TEXT, text, TOTAL) == -ESTALE); /* once */
        run(&p);
        check(!p.in_bad && p.in_serial == serial && p.in_total == TOTAL && p.in_len == TOTAL && p.in_chunks == 4);
        check(memcmp(p.in_data, text, TOTAL) == 0);

        /* Answered at once from the callback. */
        p.answer = (const uint8_t *) "hello";
        p.answer_len = 5;
        request(&p, serial, WIRE_FORMAT_TEXT);
        check(p.requests == 2 && !p.in_bad && p.in_len == 5 && memcmp(p.in_data, "hello", 5) == 0);

        /* Too large: hostd gets nothing (total 0), the caller hears it. */
        p.answer = NULL;
        request(&p, serial, WIRE_FORMAT_TEXT);
        check(client_session_clipboard_send(p.s, WIRE_FORMAT_TEXT, text, CLIENT_CLIPBOARD_TOTAL_MAX + 1) == -EFBIG);
        run(&p);
        check(!p.in_bad && p.in_total == 0 && p.in_len == 0);

        /* A grab of ours during an answer: the answer stops, it is stale. */
        request(&p, serial, WIRE_FORMAT_TEXT);
        check(client_session_clipboard_grab(p.s, CLIENT_CLIPBOARD_TEXT) == 0);
        check(client_session_clipboard_send(p.s, WIRE_FORMAT_TEXT, text, 10) == -ESTALE);

        /* Emptied: a release. */
        check(client_session_clipboard_grab(p.s, 0) == 0);
        run(&p);
        check(p.c2s_releases == 1);

        /* The agent goes: grabs wait again. */
        status(&p, WIRE_MODE_HYPERVISOR, 0, WIRE_CAUSE_AGENT_CLOSED);
        check(client_session_clipboard_grab(p.s, CLIENT_CLIPBOARD_TEXT) == -EOPNOTSUPP);
        check_alive(&p);
        free(text);
        teardown(&p);
}

/* With session resumption, the replay buffer (1 MiB) keeps what was sent until hostd acknowledges
 * it: a large answer is paced on its room, so that pasting megabytes never costs the session its
 * ability to resume. */
static void test_clipboard_resumable(uint64_t seed) {
        Peer p;
        setup_with(&p, seed, true);
        enum { TOTAL = 3 << 20 };
        uint8_t *text = malloc(TOTAL);
        check(text);
        fill(text, TOTAL, 5);

        status(&p, WIRE_MODE_AGENT, CLIENT_FEATURE_CLIPBOARD_TEXT, WIRE_CAUSE_AGENT_HELLO);
        check(client_resume_can_move(p.s));
        check(client_session_clipboard_grab(p.s, CLIENT_CLIPBOARD_TEXT) == 0);
        run(&p);
        request(&p, p.last_grab.serial, WIRE_FORMAT_TEXT);
        check(client_session_clipboard_send(p.s, WIRE_FORMAT_TEXT, text, TOTAL) == 0);
        run(&p);
        check(!p.in_bad && p.in_len == TOTAL && memcmp(p.in_data, text, TOTAL) == 0);
        check(client_resume_can_move(p.s)); /* the replay buffer never overflowed */

        /* A hostd that never acknowledges: the answer waits for room instead of overflowing. */
        p.acking = false;
        request(&p, p.last_grab.serial, WIRE_FORMAT_TEXT);
        check(client_session_clipboard_send(p.s, WIRE_FORMAT_TEXT, text, TOTAL) == 0);
        run(&p);
        check(p.in_len < TOTAL && client_resume_can_move(p.s));
        /* Acknowledged at last: the rest goes. */
        p.acking = true;
        for (int i = 0; i < 64 && p.in_len < TOTAL; i++) {
                check(wire_encode_ping(out(&p), &(WirePing) {}) == 0);
                run(&p);
        }
        check(!p.in_bad && p.in_len == TOTAL && client_resume_can_move(p.s));
        free(text);
        teardown(&p);
}

static void update(Peer *p, uint32_t id, int32_t x, int32_t y, uint32_t w, uint32_t h, const char *title) {
        WireWindowUpdate u = { .id = id, .state = CLIENT_WINDOW_MAPPED, .x = x, .y = y, .width = w, .height = h,
                               .title = title, .title_len = strlen(title) };
        check(wire_encode_window_update(out(p), &u) == 0);
        run(p);
}

static void stack(Peer *p, const uint32_t *ids, size_t n) {
        uint8_t b[64];
        for (size_t i = 0; i < n; i++)
                for (int k = 0; k < 4; k++)
                        b[4 * i + k] = (uint8_t) (ids[i] >> (8 * k));
        check(wire_encode_window_stack(out(p), &(WireWindowStack) { .ids = b, .ids_len = 4 * n }) == 0);
        run(p);
}

static void test_windows(uint64_t seed) {
        Peer p;
        setup(&p, seed);
        const ClientWindows *w = client_session_windows(p.s);

        /* Off: updates are not taken, actions refused. */
        update(&p, 1, 0, 0, 10, 10, "early");
        check(w->n == 0 && p.windows_changes == 0);
        check(client_session_window_action(p.s, 1, WIRE_OP_ACTIVATE, 0, 0, 0, 0) == -EOPNOTSUPP);

        status(&p, WIRE_MODE_AGENT, CLIENT_FEATURE_WINDOWS, WIRE_CAUSE_AGENT_HELLO);
        update(&p, 1, 10, 20, 300, 200, "xterm");
        update(&p, 2, -5, 0, 100, 50, "editor");
        update(&p, 3, 0, 0, 640, 480, "desk\0top"); /* a NUL is no end */
        check(w->n == 3 && p.windows_changes == 3);
        check(w->windows[0].id == 1 && w->windows[1].id == 2 && w->windows[2].id == 3);
        check(strcmp(w->windows[2].title, "desk") == 0); /* strlen stopped there: title_len 4 */
        update(&p, 1, 11, 21, 301, 201, "xterm: vi");
        check(w->n == 3 && w->windows[0].x == 11 && w->windows[0].height == 201 &&
              strcmp(w->windows[0].title, "xterm: vi") == 0);

        /* Stacking: named windows on top in order; unknown ids ignored. */
        stack(&p, (const uint32_t[]) { 3, 99, 1 }, 3);
        check(w->windows[0].id == 2 && w->windows[1].id == 3 && w->windows[2].id == 1);
        unsigned changes = p.windows_changes;
        stack(&p, (const uint32_t[]) { 2, 3, 1 }, 3); /* the same order: no change */
        check(p.windows_changes == changes);

        /* Icons: a good one, one whose size lies (ignored), one too large (ignored). */
        uint8_t argb[16 * 16 * 4];
        memset(argb, 0x80, sizeof(argb));
        WireWindowIcon icon = { .id = 2, .width = 16, .height = 16, .argb = argb, .argb_len = sizeof(argb) };
        check(wire_encode_window_icon(out(&p), &icon) == 0);
        icon.id = 1;
        icon.argb_len = 100;
        check(wire_encode_window_icon(out(&p), &icon) == 0);
        run(&p);
        check(client_windows_find(w, 2)->icon_width == 16 && client_windows_find(w, 2)->icon_argb);
        check(!client_windows_find(w, 1)->icon_argb);
        /* Bad geometry is ignored, not taken. */
        update(&p, 4, 0, 0, 0, 10, "empty");
        update(&p, 5, 0, 0, 100000, 10, "huge");
        check(w->n == 3);

        /* Actions go to hostd; unknown windows are refused here. */
        check(client_session_window_action(p.s, 3, WIRE_OP_MOVE_RESIZE, 5, 6, 700, 500) == 0);
        check(client_session_window_action(p.s, 2, WIRE_OP_CLOSE, 0, 0, 0, 0) == 0);
        check(client_session_window_action(p.s, 42, WIRE_OP_ACTIVATE, 0, 0, 0, 0) == -ENOENT);
        check(client_session_window_action(p.s, 2, 99, 0, 0, 0, 0) == -EINVAL);
        run(&p);
        check(p.n_actions == 2);
        check(p.actions[0].id == 3 && p.actions[0].op == WIRE_OP_MOVE_RESIZE && p.actions[0].x == 5 &&
              p.actions[0].width == 700 && p.actions[0].height == 500);
        check(p.actions[1].id == 2 && p.actions[1].op == WIRE_OP_CLOSE);

        check(wire_encode_window_remove(out(&p), &(WireWindowRemove) { .id = 3 }) == 0);
        check(wire_encode_window_remove(out(&p), &(WireWindowRemove) { .id = 77 }) == 0);
        run(&p);
        check(w->n == 2 && !client_windows_find(w, 3));

        check(wire_encode_windows_reset(out(&p)) == 0);
        run(&p);
        check(w->n == 0);

        /* The agent lost: the table empties even before hostd's windows-reset. */
        update(&p, 8, 0, 0, 10, 10, "again");
        check(w->n == 1);
        status(&p, WIRE_MODE_HYPERVISOR, 0, WIRE_CAUSE_GUEST_REBOOT);
        check(w->n == 0);
        check_alive(&p);
        teardown(&p);
}

static void test_input(uint64_t seed) {
        Peer p;
        setup(&p, seed);
        char big[CLIENT_PASTE_TEXT_MAX + 1];
        memset(big, 'x', sizeof(big));

        /* paste-text needs no agent. */
        check(client_session_paste_text(p.s, "root\n", 5) == 0);
        run(&p);
        check(p.paste_len == 5 && memcmp(p.paste, "root\n", 5) == 0);
        check(client_session_paste_text(p.s, big, sizeof(big)) == -E2BIG);
        check(client_session_paste_text(p.s, big, sizeof(big) - 1) == 0);
        run(&p);
        check(p.paste_len == CLIENT_PASTE_TEXT_MAX);

        /* resize: the first at once; the next ones wait for the interval and the last wins. Time
         * decides which ones go when, so only what cannot depend on it is checked: the first is
         * the first size, the last is the last size, nothing repeats, and what waits is due within
         * the interval. */
        check(client_session_resize(p.s, 800, 600) == 0);
        run(&p);
        check(p.n_resizes == 1 && p.resizes[0][0] == 800 && p.resizes[0][1] == 600);
        check(client_session_resize(p.s, 800, 600) == 0); /* the same size: nothing */
        check(client_session_resize(p.s, 1000, 700) == 0);
        check(client_session_resize(p.s, 1024, 768) == 0);
        check(client_session_resize(p.s, 0, 0) == 0); /* ignored */
        run(&p);
        for (int i = 0; i < 1000 && !(p.resizes[p.n_resizes - 1][0] == 1024); i++) {
                uint64_t due = client_session_next_timeout(p.s);
                check(due != UINT64_MAX);
                struct timespec ts = { 0, 10 * 1000 * 1000 };
                nanosleep(&ts, NULL);
                check(client_session_on_timeout(p.s, due) == 0);
                run(&p);
        }
        check(p.resizes[p.n_resizes - 1][0] == 1024 && p.resizes[p.n_resizes - 1][1] == 768);
        check(p.n_resizes <= 3);
        for (unsigned i = 1; i < p.n_resizes; i++)
                check(p.resizes[i][0] != p.resizes[i - 1][0]);
        check(client_session_next_timeout(p.s) == UINT64_MAX); /* nothing pending */
        check_alive(&p);
        teardown(&p);
}

/* A hostd that sends a viewer-only message (window-action) breaks the protocol: the session ends. */
static void test_wrong_direction(void) {
        Peer p;
        setup(&p, 0);
        WireWindowAction a = { .id = 1 };
        check(wire_encode_window_action(out(&p), &a) == 0);
        check(wire_conn_flush(p.hostd) == 0);
        check(client_session_process(p.s) < 0);
        check(p.closed == 1);
        p.closed = 0;
        teardown(&p);
}

int main(void) {
        for (uint64_t seed = 0; seed < 3; seed++) {
                test_status(seed);
                test_clipboard_from_guest(seed);
                test_clipboard_to_guest(seed);
                test_windows(seed);
                test_input(seed);
                test_clipboard_resumable(seed);
        }
        test_wrong_direction();
        printf("test-client-agent: ok\n");
        return 0;
}
