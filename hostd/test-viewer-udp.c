/* hostd's viewer over the UDP transport's layers (rudp over a datagram socket pair, no DTLS: that
 * is common/test-dtls's), in the in-process harness with a fake QEMU: the first frame and a mode
 * change exact; with 5% loss and reordering each way while the screen changes, the viewer ends
 * with the exact screen once it is still (lost tiles re-encoded from the framebuffer, stale ones
 * dropped and asked for again), and every key reaches QEMU once, in order; tiles never span two
 * grid cells. */
#include "check.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtls.h"
#include "hostd-console.h"
#include "hostd-udp-server.h"
#include "hostd-manager.h"
#include "hostd-viewer.h"
#include "hostd-viewer-udp.h"
#include "test-harness.h"
#include "wire.h"

#define SECOND 1000000ULL
#define WAIT (20 * SECOND)

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint32_t rng(void) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return (uint32_t) rng_state;
}

/* Screen-like content: flat areas, text-like stripes, and a noisy (photo) block. */
static void paint(uint32_t *px, uint32_t w, uint32_t h, uint32_t seed) {
        for (uint32_t y = 0; y < h; y++)
                for (uint32_t x = 0; x < w; x++) {
                        uint32_t v;
                        if (y < h / 3)
                                v = 0x304050 + seed * 0x010101;
                        else if (y < 2 * h / 3)
                                v = ((x + seed) / 3 % 5 == 0 || y % 9 == seed % 9) ? 0x000000 : 0xf0f0f0;
                        else
                                v = rng() & 0xffffff;
                        px[(size_t) y * w + x] = v;
                }
}

static bool welcomed(void *userdata) {
        HarnessViewer *v = userdata;
        check(!v->closed);
        return v->welcomed;
}

static void update(Harness *h, uint32_t *screen, uint32_t sw, uint32_t x, uint32_t y, uint32_t w, uint32_t ht,
                   const uint32_t *px) {
        check(fake_qemu_update(h->qemu, (int32_t) x, (int32_t) y, (int32_t) w, (int32_t) ht, w * 4, FAKE_QEMU_XRGB, px,
                               (size_t) w * ht * 4) >= 0);
        for (uint32_t row = 0; row < ht; row++)
                memcpy(screen + (size_t) (y + row) * sw + x, px + (size_t) row * w, (size_t) w * 4);
}

/* No impairment: the first frame and a mode change, exactly; the transport says rudp. Small
 * tiles (the flat band) go in batches, several to a message, unless the viewer did not announce
 * tile-batch (one from before it): then one a message. */
static void test_clean(bool batch) {
        const ClientOptions options = { .lossless = true, .withhold_caps = batch ? 0 : WIRE_CAP_TILE_BATCH };
        Harness *h;
        check(harness_new(NULL, &h) >= 0);
        uint32_t *screen = malloc(320 * 200 * 4);
        paint(screen, 320, 200, 1);
        check(harness_scanout(h, 320, 200, screen) >= 0);

        HarnessViewer *v;
        check(harness_viewer_new_udp(h, "udp", TICKET_ROLE_INTERACTIVE, NULL, NULL, &options, NULL, NULL, &v) >= 0);
        check(client_session_transport(v->session) == WIRE_CONN_RUDP);
        HarnessScreen want = { .viewer = v, .w = 320, .h = 200, .px = screen };
        check(harness_run_until(h, harness_screen_is, &want, WAIT) == 0);

        uint32_t *next = malloc(200 * 120 * 4);
        paint(next, 200, 120, 2);
        check(fake_qemu_scanout(h->qemu, 200, 120, 200 * 4, FAKE_QEMU_XRGB, next, 200 * 120 * 4) >= 0);
        want = (HarnessScreen) { .viewer = v, .w = 200, .h = 120, .px = next };
        check(harness_run_until(h, harness_screen_is, &want, WAIT) == 0);
        check(v->modes >= 2);

        RudpStats st;
        check(client_session_rudp_stats(v->session, &st) == 0);
        check(st.packets_received > 0 && st.messages_delivered > 0);
        uint64_t tiles, messages;
        viewer_udp_tile_counts(h->manager->viewers->viewers, &tiles, &messages);
        printf("clean%s: %llu tiles in %llu messages\n", batch ? "" : " (no tile-batch)", (unsigned long long) tiles,
               (unsigned long long) messages);
        check(messages > 0 && (batch ? tiles > messages : tiles == messages));
        harness_viewer_free(v);
        harness_free(h);
        free(screen);
        free(next);
}

static bool keys_reached(void *userdata) {
        Harness *h = userdata;
        return h->qemu->key_calls >= 2 * 200;
}

/* 5% loss and 10% reordering each way, default (lossy) settings, the screen changing under
 * keystrokes: afterwards the screen is exact and the keys arrived once, in order. */
static void test_lossy(void) {
        enum { W = 640, H = 480 };
        Harness *h;
        check(harness_new(&(HarnessOptions) { .frames_in_flight = 4 }, &h) >= 0);
        uint32_t *screen = malloc((size_t) W * H * 4), *patch = malloc(128 * 96 * 4);
        paint(screen, W, H, 3);
        check(harness_scanout(h, W, H, screen) >= 0);

        FdDatagramOptions path = { .loss = 0.05, .reorder = 0.10, .hold_usec = 3000, .seed = 77 };
        FdDatagramOptions back = { .loss = 0.05, .reorder = 0.10, .hold_usec = 3000, .seed = 78 };
        HarnessViewer *v;
        check(harness_viewer_new_udp(h, "lossy", TICKET_ROLE_INTERACTIVE, &path, &back, NULL, NULL, NULL, &v) >= 0);
        check(harness_run_until(h, welcomed, v, WAIT) == 0);

        for (int i = 0; i < 200; i++) {
                uint32_t key = 0x10 + (uint32_t) (i % 40);
                check(client_session_key(v->session, key, true) >= 0);
                check(client_session_key(v->session, key, false) >= 0);
                harness_viewer_kick(v);
                if (i % 4 == 0) {
                        uint32_t x = rng() % (W - 128), y = rng() % (H - 96);
                        paint(patch, 128, 96, (uint32_t) i);
                        update(h, screen, W, x, y, 128, 96, patch);
                }
                check(harness_run_until(h, NULL, NULL, 10000) == 0);
        }
        check(harness_run_until(h, keys_reached, h, WAIT) == 0);
        /* Every press and release once, in order: the last 64 calls are the last 32 keys. */
        check(h->qemu->key_calls == 2 * 200);
        for (unsigned i = h->qemu->key_calls - FAKE_QEMU_KEY_LOG; i < h->qemu->key_calls; i++) {
                FakeQemuKey k = h->qemu->keys[i % FAKE_QEMU_KEY_LOG];
                check(k.keycode == 0x10 + (i / 2) % 40);
                check(k.press == (i % 2 == 0));
        }

        HarnessScreen want = { .viewer = v, .w = W, .h = H, .px = screen };
        check(harness_run_until(h, harness_screen_is, &want, WAIT) == 0);

        RudpStats cs, ss;
        check(client_session_rudp_stats(v->session, &cs) == 0);
        printf("client: %llu packets received, %llu lost (its own), %llu FEC-recovered; %llu stale tiles dropped\n",
               (unsigned long long) cs.packets_received, (unsigned long long) cs.packets_lost,
               (unsigned long long) cs.fec_recovered, (unsigned long long) client_session_stale_tiles(v->session));
        Viewer *sv = h->manager->viewers->viewers;
        check(sv && wire_conn_rudp_stats(sv->conn, &ss) == 0);
        printf("hostd: %llu packets sent, %llu lost, %llu tiles lost (re-encoded), %llu retransmits, FEC %u+%u\n",
               (unsigned long long) ss.packets_sent, (unsigned long long) ss.packets_lost,
               (unsigned long long) ss.latest_wins_lost, (unsigned long long) ss.retransmits, ss.fec_k, ss.fec_m);
        check(ss.packets_lost + cs.fec_recovered > 0); /* the impairment did bite */
        uint64_t tiles, messages;
        viewer_udp_tile_counts(sv, &tiles, &messages);
        printf("hostd: %llu tiles in %llu messages\n", (unsigned long long) tiles, (unsigned long long) messages);

        harness_viewer_free(v);
        harness_free(h);
        free(screen);
        free(patch);
}

static struct sockaddr_in hostd_address(Harness *h) {
        const char *colon = strrchr(h->host, ':');
        check(colon);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) atoi(colon + 1)) };
        check(inet_pton(AF_INET, "127.0.0.1", &a.sin_addr) == 1);
        return a;
}

static int udp_socket_to(const struct sockaddr_in *a) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        check(fd >= 0);
        check(connect(fd, (const struct sockaddr *) a, sizeof(*a)) == 0);
        return fd;
}

static UdpServerCounters counters(Harness *h) {
        UdpServerCounters c;
        viewer_server_udp_counters(h->manager->viewers, &c);
        return c;
}

typedef struct CountWant {
        Harness *h;
        uint64_t cookies, dropped, datagrams;
} CountWant;

static bool counted(void *userdata) {
        CountWant *w = userdata;
        UdpServerCounters c = counters(w->h);
        return c.cookies_sent >= w->cookies && c.unknown_dropped >= w->dropped && c.datagrams >= w->datagrams;
}

/* The real path: DTLS over UDP on loopback to hostd's UDP listener, the ticket checked by the
 * hello as on TLS; then bad input at hostd's port while the session runs: garbage, a flood of
 * ClientHellos from many ports, a ClientHello with a valid cookie replayed from another port.
 * hostd answers cookies but makes no peer, and the session goes on. */
static void test_dtls(void) {
        Harness *h;
        check(harness_new(NULL, &h) >= 0);
        uint32_t *screen = malloc(320 * 200 * 4), *patch = malloc(64 * 64 * 4);
        paint(screen, 320, 200, 4);
        check(harness_scanout(h, 320, 200, screen) >= 0);

        ClientOptions udp = { .lossless = true, .transport = CLIENT_TRANSPORT_UDP };
        HarnessViewer *v;
        check(harness_viewer_new(h, "dtls", TICKET_ROLE_INTERACTIVE, &udp, NULL, NULL, &v) >= 0);
        check(client_session_transport(v->session) == WIRE_CONN_RUDP);
        HarnessScreen want = { .viewer = v, .w = 320, .h = 200, .px = screen };
        check(harness_run_until(h, harness_screen_is, &want, WAIT) == 0);
        UdpServerCounters c = counters(h);
        check(c.established == 1 && c.peers == 1 && c.handshakes == 0);

        struct sockaddr_in a = hostd_address(h);
        /* Garbage from one port, including things that look like DTLS records and rudp packets. */
        int g = udp_socket_to(&a);
        uint8_t junk[1300];
        for (int i = 0; i < 300; i++) {
                size_t len = 1 + (size_t) (rng() % sizeof(junk));
                for (size_t k = 0; k < len; k++)
                        junk[k] = (uint8_t) rng();
                if (i % 3 == 0)
                        junk[0] = 22; /* handshake record */
                else if (i % 3 == 1)
                        junk[0] = 0x40; /* rudp */
                (void) send(g, junk, len, 0);
        }

        /* ClientHellos from 200 ports: each gets a cookie, none a peer. */
        char *error = NULL;
        DtlsContext *cctx = dtls_client_context_new(&error);
        check(cctx);
        int flood[200];
        uint8_t hello[DTLS_DATAGRAM_MAX];
        for (int i = 0; i < 200; i++) {
                DtlsEndpoint *e;
                check(dtls_endpoint_new_client(cctx, NULL, 1, &e) == 0);
                ssize_t n = dtls_endpoint_pull(e, hello, sizeof(hello));
                check(n > 0);
                flood[i] = udp_socket_to(&a);
                check(send(flood[i], hello, (size_t) n, 0) == n);
                dtls_endpoint_free(e);
        }
        CountWant cw = { .h = h, .cookies = c.cookies_sent + 200, .dropped = c.unknown_dropped + 300 };
        if (harness_run_until(h, counted, &cw, WAIT) != 0) {
                UdpServerCounters d = counters(h);
                fprintf(stderr, "datagrams %llu unknown %llu cookies %llu started %llu\n", (unsigned long long) d.datagrams,
                        (unsigned long long) d.unknown_dropped, (unsigned long long) d.cookies_sent,
                        (unsigned long long) d.handshakes_started);
                check(false);
        }

        /* A ClientHello with the cookie hostd gave port A, sent from port B: dropped. */
        DtlsEndpoint *e;
        check(dtls_endpoint_new_client(cctx, NULL, 1, &e) == 0);
        ssize_t n = dtls_endpoint_pull(e, hello, sizeof(hello));
        check(n > 0 && send(flood[0], hello, (size_t) n, 0) == n);
        uint8_t hvr[DTLS_DATAGRAM_MAX];
        ssize_t k = -1;
        for (int i = 0; i < 500 && k < 0; i++) {
                check(harness_run_until(h, NULL, NULL, 2000) == 0);
                k = recv(flood[0], hvr, sizeof(hvr), 0);
        }
        check(k > 0);
        check(dtls_endpoint_feed(e, hvr, (size_t) k, 2) == 0);
        n = dtls_endpoint_pull(e, hello, sizeof(hello));
        check(n > 0);
        c = counters(h);
        check(send(flood[1], hello, (size_t) n, 0) == n);
        cw = (CountWant) { .h = h, .datagrams = c.datagrams + 1 };
        check(harness_run_until(h, counted, &cw, WAIT) == 0);
        /* A fresh cookie for port B, or nothing: never a peer. */
        UdpServerCounters after = counters(h);
        check(after.unknown_dropped + after.cookies_sent == c.unknown_dropped + c.cookies_sent + 1);
        dtls_endpoint_free(e);

        c = counters(h);
        printf("udp listener: %llu datagrams, %llu unknown dropped, %llu cookies, %llu handshakes started, %u peers\n",
               (unsigned long long) c.datagrams, (unsigned long long) c.unknown_dropped,
               (unsigned long long) c.cookies_sent, (unsigned long long) c.handshakes_started, c.peers);
        check(c.handshakes_started == 1 && c.peers == 1 && c.handshakes == 0);

        /* The session is unaffected: a change still arrives exactly. */
        check(!v->closed);
        paint(patch, 64, 64, 9);
        update(h, screen, 320, 128, 64, 64, 64, patch);
        want = (HarnessScreen) { .viewer = v, .w = 320, .h = 200, .px = screen };
        check(harness_run_until(h, harness_screen_is, &want, WAIT) == 0);

        for (int i = 0; i < 200; i++)
                close(flood[i]);
        close(g);
        dtls_context_free(cctx);
        harness_viewer_free(v);
        harness_free(h);
        free(screen);
        free(patch);
}

int main(void) {
        test_dtls();
        test_clean(true);
        test_clean(false);
        test_lossy();
        return 0;
}
