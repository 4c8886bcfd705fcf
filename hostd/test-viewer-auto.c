/* The automatic transport against the in-process hostd (real TLS/TCP and DTLS/UDP on loopback,
 * a fake QEMU): UDP wins the race when both work; with hostd's UDP blackholed the session runs on
 * TCP, and once UDP is back it moves onto UDP under the same session id without losing a key;
 * when UDP goes silent again it falls back to TCP, and back. Per-desktop policy: a hello on a
 * forbidden transport is refused with transport-refused without using up its ticket, an auto
 * viewer of a TCP-only desktop stays on TCP and does not probe UDP. */
#include "check.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostd-manager.h"
#include "hostd-udp-server.h"
#include "hostd-viewer.h"
#include "test-harness.h"
#include "wire.h"

#define SECOND 1000000ULL
#define WAIT (20 * SECOND)

static void paint(uint32_t *px, uint32_t w, uint32_t h, uint32_t seed) {
        for (uint32_t y = 0; y < h; y++)
                for (uint32_t x = 0; x < w; x++)
                        px[(size_t) y * w + x] = ((x / 8 + y / 8 + seed) % 3) * 0x405060 + seed * 0x010203;
}

static bool welcomed(void *userdata) {
        HarnessViewer *v = userdata;
        check(!v->closed);
        return v->welcomed;
}

static bool ended(void *userdata) {
        HarnessViewer *v = userdata;
        return v->closed;
}

typedef struct OnKind {
        HarnessViewer *viewer;
        WireConnKind kind;
} OnKind;

static bool on_kind(void *userdata) {
        OnKind *k = userdata;
        check(!k->viewer->closed);
        return !client_session_reconnecting(k->viewer->session) && client_session_transport(k->viewer->session) == k->kind;
}

/* The on_transport calls, in order. */
typedef struct Reports {
        WireConnKind kinds[16];
        unsigned n;
} Reports;

static void on_transport(ClientSession *s, WireConnKind kind, void *userdata) {
        Reports *r = userdata;
        if (r->n < 16)
                r->kinds[r->n] = kind;
        r->n++;
}

static const ClientCallbacks report_callbacks = { .on_transport = on_transport };

static UdpServer *udp_of(Harness *h) {
        check(h->manager->viewers->udp);
        return h->manager->viewers->udp;
}

static UdpServerCounters counters(Harness *h) {
        UdpServerCounters c;
        udp_server_counters(udp_of(h), &c);
        return c;
}

/* hostd's own view of the session: its transport. */
static Viewer *server_viewer(Harness *h, uint64_t session) {
        for (Viewer *v = h->manager->viewers->viewers; v; v = v->next)
                if (v->session == session && v->state == VIEWER_ACTIVE)
                        return v;
        return NULL;
}

typedef struct Keys {
        Harness *h;
        unsigned calls;
} Keys;

static bool keys_reached(void *userdata) {
        Keys *k = userdata;
        return k->h->qemu->key_calls >= k->calls;
}

/* Presses and releases keys 0x10.. while the loop runs for a while: each is queued whatever the
 * session is doing (moving included). */
static unsigned type_keys(Harness *h, HarnessViewer *v, unsigned first, unsigned n, uint64_t gap) {
        for (unsigned i = 0; i < n; i++) {
                uint32_t code = 0x10 + (first + i) % 0x30;
                check(client_session_key(v->session, code, true) >= 0);
                check(client_session_key(v->session, code, false) >= 0);
                harness_viewer_kick(v);
                check(harness_run_until(h, NULL, NULL, gap) == 0);
        }
        return first + n;
}

/* Every key arrived once and in order (the fake QEMU logs the last FAKE_QEMU_KEY_LOG calls). */
static void check_keys(Harness *h, unsigned n) {
        Keys want = { .h = h, .calls = 2 * n };
        check(harness_run_until(h, keys_reached, &want, WAIT) == 0);
        check(h->qemu->key_calls == 2 * n);
        for (unsigned c = 2 * n > FAKE_QEMU_KEY_LOG ? 2 * n - FAKE_QEMU_KEY_LOG : 0; c < 2 * n; c++) {
                const FakeQemuKey *k = &h->qemu->keys[c % FAKE_QEMU_KEY_LOG];
                check(k->keycode == 0x10 + (c / 2) % 0x30 && k->press == (c % 2 == 0));
        }
}

static const ClientOptions auto_options = { .lossless = true, .transport = CLIENT_TRANSPORT_AUTO,
                                            .dead_after_usec = 2 * SECOND };

/* Both paths work: the hello goes on UDP, TCP is dropped. */
static void test_udp_first(void) {
        Harness *h;
        check(harness_new(NULL, &h) >= 0);
        uint32_t *screen = malloc(160 * 120 * 4);
        paint(screen, 160, 120, 1);
        check(harness_scanout(h, 160, 120, screen) >= 0);

        Reports reports = {};
        HarnessViewer *v;
        check(harness_viewer_new(h, "auto", TICKET_ROLE_INTERACTIVE, &auto_options, &report_callbacks, &reports, &v) >= 0);
        check(harness_run_until(h, welcomed, v, WAIT) == 0);
        check(client_session_transport(v->session) == WIRE_CONN_RUDP);
        check(reports.n == 1 && reports.kinds[0] == WIRE_CONN_RUDP);
        Viewer *sv = server_viewer(h, client_session_id(v->session));
        check(sv && sv->udp);
        HarnessScreen want = { .viewer = v, .w = 160, .h = 120, .px = screen };
        check(harness_run_until(h, harness_screen_is, &want, WAIT) == 0);
        unsigned n = type_keys(h, v, 0, 20, 1000);
        check_keys(h, n);
        /* Only the one session exists at hostd: the TCP path never said hello. */
        check(viewer_server_count(h->manager->viewers, h->desktop) == 1);

        harness_viewer_free(v);
        harness_free(h);
        free(screen);
}

/* UDP blocked: the session runs on TCP; UDP restored: it moves onto UDP (same session id, every
 * key once and in order, exact screen); UDP cut again: back on TCP by resuming, and onto UDP
 * again once it returns. */
static void test_fallback_and_move(void) {
        Harness *h;
        check(harness_new(NULL, &h) >= 0);
        uint32_t *screen = malloc(160 * 120 * 4);
        paint(screen, 160, 120, 2);
        check(harness_scanout(h, 160, 120, screen) >= 0);

        udp_server_set_blackhole(udp_of(h), true);
        Reports reports = {};
        HarnessViewer *v;
        check(harness_viewer_new(h, "auto", TICKET_ROLE_INTERACTIVE, &auto_options, &report_callbacks, &reports, &v) >= 0);
        check(harness_run_until(h, welcomed, v, WAIT) == 0);
        check(client_session_transport(v->session) == WIRE_CONN_STREAM);
        uint64_t session = client_session_id(v->session);
        Viewer *sv = server_viewer(h, session);
        check(sv && !sv->udp);
        HarnessScreen want = { .viewer = v, .w = 160, .h = 120, .px = screen };
        check(harness_run_until(h, harness_screen_is, &want, WAIT) == 0);
        unsigned n = type_keys(h, v, 0, 20, 10000);

        /* UDP back: keys typed all along the move. */
        udp_server_set_blackhole(udp_of(h), false);
        OnKind udp = { .viewer = v, .kind = WIRE_CONN_RUDP };
        for (int i = 0; i < 400 && !on_kind(&udp); i++)
                n = type_keys(h, v, n, 1, 50000);
        check(on_kind(&udp));
        check(client_session_id(v->session) == session);
        check(v->reconnecting == 0); /* a move shows no reconnecting state */
        n = type_keys(h, v, n, 20, 10000);
        check_keys(h, n);
        sv = server_viewer(h, session);
        check(sv && sv->udp);
        check(viewer_server_count(h->manager->viewers, h->desktop) == 1);
        paint(screen, 160, 120, 5);
        check(harness_scanout(h, 160, 120, screen) >= 0);
        check(harness_run_until(h, harness_screen_is, &want, WAIT) == 0);

        /* UDP cut: silent after dead_after, the session resumes on TCP. */
        udp_server_set_blackhole(udp_of(h), true);
        OnKind tcp = { .viewer = v, .kind = WIRE_CONN_STREAM };
        for (int i = 0; i < 400 && !on_kind(&tcp); i++)
                n = type_keys(h, v, n, 1, 50000);
        check(on_kind(&tcp));
        check(client_session_id(v->session) == session);
        check_keys(h, n);
        sv = server_viewer(h, session);
        check(sv && !sv->udp);

        /* And onto UDP once more. */
        udp_server_set_blackhole(udp_of(h), false);
        check(harness_run_until(h, on_kind, &udp, 3 * WAIT) == 0);
        check(client_session_id(v->session) == session);
        n = type_keys(h, v, n, 10, 10000);
        check_keys(h, n);
        check(harness_run_until(h, harness_screen_is, &want, WAIT) == 0);
        check(reports.n == 4 && reports.kinds[0] == WIRE_CONN_STREAM && reports.kinds[1] == WIRE_CONN_RUDP &&
              reports.kinds[2] == WIRE_CONN_STREAM && reports.kinds[3] == WIRE_CONN_RUDP);
        printf("fallback and move: %u keys, %u on_transport reports, session %016llx\n", n, reports.n,
               (unsigned long long) session);

        harness_viewer_free(v);
        harness_free(h);
        free(screen);
}

/* Transport=tcp: a UDP hello is refused (transport-refused) and its ticket still works on TCP;
 * an auto viewer ends on TCP, is told UDP is not allowed, and starts no DTLS handshake later. */
static void test_policy_tcp(void) {
        Harness *h;
        check(harness_new(&(HarnessOptions) { .transport = "tcp" }, &h) >= 0);
        uint32_t *screen = malloc(64 * 64 * 4);
        paint(screen, 64, 64, 3);
        check(harness_scanout(h, 64, 64, screen) >= 0);

        char *ticket;
        check(harness_ticket(h, "policy", TICKET_ROLE_INTERACTIVE, &ticket) >= 0);
        ClientOptions udp_only = { .transport = CLIENT_TRANSPORT_UDP };
        HarnessViewer *v;
        check(harness_viewer_new_ticket(h, ticket, &udp_only, NULL, NULL, &v) >= 0);
        check(harness_run_until(h, ended, v, WAIT) == 0);
        check(v->rejected == WIRE_CODE_TRANSPORT_REFUSED && !v->welcomed);
        harness_viewer_free(v);
        ClientOptions tcp_only = { .transport = CLIENT_TRANSPORT_TCP };
        check(harness_viewer_new_ticket(h, ticket, &tcp_only, NULL, NULL, &v) >= 0);
        check(harness_run_until(h, welcomed, v, WAIT) == 0);
        harness_viewer_free(v);
        free(ticket);

        HarnessViewer *a;
        check(harness_viewer_new(h, "auto", TICKET_ROLE_INTERACTIVE, &auto_options, NULL, NULL, &a) >= 0);
        check(harness_run_until(h, welcomed, a, WAIT) == 0);
        check(client_session_transport(a->session) == WIRE_CONN_STREAM);
        uint64_t started = counters(h).handshakes_started;
        check(harness_run_until(h, NULL, NULL, 5 * SECOND) == 0); /* past two probe times */
        check(!a->closed && client_session_transport(a->session) == WIRE_CONN_STREAM);
        check(counters(h).handshakes_started == started);
        harness_viewer_free(a);
        harness_free(h);
        free(screen);
}

/* TransportOverrides= gives one desktop UDP only: a TCP hello is refused, an auto viewer ends on
 * UDP, even with UDP losing the race (blackholed at first, the refused TCP hello then goes on UDP). */
static void test_policy_udp(void) {
        Harness *h;
        check(harness_new(&(HarnessOptions) { .transport = "auto", .transport_overrides = "other:tcp harn*:udp" }, &h) >= 0);
        check(hostd_config_transport(&h->manager->config, "harness") == HOSTD_TRANSPORT_UDP);
        check(hostd_config_transport(&h->manager->config, "other") == HOSTD_TRANSPORT_TCP);
        check(hostd_config_transport(&h->manager->config, "third") == HOSTD_TRANSPORT_AUTO);
        uint32_t *screen = malloc(64 * 64 * 4);
        paint(screen, 64, 64, 4);
        check(harness_scanout(h, 64, 64, screen) >= 0);

        ClientOptions tcp_only = { .transport = CLIENT_TRANSPORT_TCP };
        HarnessViewer *v;
        check(harness_viewer_new(h, "policy", TICKET_ROLE_INTERACTIVE, &tcp_only, NULL, NULL, &v) >= 0);
        check(harness_run_until(h, ended, v, WAIT) == 0);
        check(v->rejected == WIRE_CODE_TRANSPORT_REFUSED);
        harness_viewer_free(v);

        /* UDP dropped for the race (TCP wins and is refused), then back for the retry on UDP. */
        udp_server_set_blackhole(udp_of(h), true);
        check(harness_viewer_new(h, "auto", TICKET_ROLE_INTERACTIVE, &auto_options, NULL, NULL, &v) >= 0);
        check(harness_run_until(h, NULL, NULL, 2 * SECOND) == 0);
        udp_server_set_blackhole(udp_of(h), false);
        check(harness_run_until(h, welcomed, v, WAIT) == 0);
        check(client_session_transport(v->session) == WIRE_CONN_RUDP);
        HarnessScreen want = { .viewer = v, .w = 64, .h = 64, .px = screen };
        check(harness_run_until(h, harness_screen_is, &want, WAIT) == 0);
        harness_viewer_free(v);
        harness_free(h);
        free(screen);
}

typedef struct Established {
        Harness *h;
        HarnessViewer *v;
        uint64_t at_least;
} Established;

/* A DTLS association came up (the probe) and the viewer is back on a TCP connection. */
static bool probed_and_on_tcp(void *userdata) {
        Established *e = userdata;
        OnKind tcp = { .viewer = e->v, .kind = WIRE_CONN_STREAM };
        return counters(e->h).established >= e->at_least && on_kind(&tcp) && e->v->resumed > 0;
}

/* The policy changes to TCP only while an auto session runs on TCP (its welcome allowed UDP):
 * its move onto UDP is refused with transport-refused, the session resumes on a new TCP
 * connection (same id, no key lost) and probes UDP no more. */
static void test_policy_move_refused(void) {
        Harness *h;
        check(harness_new(NULL, &h) >= 0);
        uint32_t *screen = malloc(64 * 64 * 4);
        paint(screen, 64, 64, 6);
        check(harness_scanout(h, 64, 64, screen) >= 0);

        udp_server_set_blackhole(udp_of(h), true);
        HarnessViewer *v;
        check(harness_viewer_new(h, "auto", TICKET_ROLE_INTERACTIVE, &auto_options, NULL, NULL, &v) >= 0);
        check(harness_run_until(h, welcomed, v, WAIT) == 0);
        check(client_session_transport(v->session) == WIRE_CONN_STREAM);
        uint64_t session = client_session_id(v->session);
        unsigned n = type_keys(h, v, 0, 10, 10000);

        h->manager->config.transport = HOSTD_TRANSPORT_TCP;
        udp_server_set_blackhole(udp_of(h), false);
        Established e = { .h = h, .v = v, .at_least = 1 };
        for (int i = 0; i < 400 && !probed_and_on_tcp(&e); i++)
                n = type_keys(h, v, n, 1, 50000);
        check(probed_and_on_tcp(&e));
        check(client_session_id(v->session) == session);
        Viewer *sv = server_viewer(h, session);
        check(sv && !sv->udp);
        uint64_t started = counters(h).handshakes_started;
        n = type_keys(h, v, n, 10, 10000);
        check(harness_run_until(h, NULL, NULL, 8 * SECOND) == 0); /* past the next probe times */
        check(counters(h).handshakes_started == started);
        check(!v->closed && client_session_transport(v->session) == WIRE_CONN_STREAM);
        check_keys(h, n);

        harness_viewer_free(v);
        harness_free(h);
        free(screen);
}

int main(void) {
        test_udp_first();
        test_policy_tcp();
        test_policy_udp();
        test_policy_move_refused();
        test_fallback_and_move();
        return 0;
}
