/* The automatic transport's costs in the in-process hostd (loopback, real TLS and DTLS): time from
 * the viewer's start to the welcome for tcp, udp and auto (auto's answer: UDP when both work),
 * auto with hostd's UDP blackholed (the hello waits out DTLS's grace, then goes on TCP), and the
 * time from UDP coming back to the session being on UDP (probe backoff included: UDP returns
 * right after the first probe failed). Medians over a few runs, printed.
 *
 *   bench-auto [RUNS]   (default 5) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hostd-manager.h"
#include "hostd-udp-server.h"
#include "hostd-viewer.h"
#include "test-harness.h"

#define SECOND 1000000ULL

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static bool welcomed(void *userdata) {
        HarnessViewer *v = userdata;
        return v->welcomed || v->closed;
}

static bool on_udp(void *userdata) {
        HarnessViewer *v = userdata;
        return v->closed || (!client_session_reconnecting(v->session) && client_session_transport(v->session) == WIRE_CONN_RUDP);
}

static int cmp(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static double median_ms(uint64_t *v, int n) {
        qsort(v, (size_t) n, sizeof(*v), cmp);
        return (double) v[n / 2] / 1000.0;
}

/* Time to the welcome; with move, then the time from UDP's return to the session on UDP. */
static int run(ClientTransport transport, bool blackhole, bool move, uint64_t *ret_welcome, uint64_t *ret_move) {
        Harness *h;
        HarnessViewer *v;
        ClientOptions o = { .transport = transport };
        int r = harness_new(NULL, &h);
        if (r < 0)
                return r;
        uint32_t px[64 * 64] = {};
        (void) harness_scanout(h, 64, 64, px);
        udp_server_set_blackhole(h->manager->viewers->udp, blackhole);
        uint64_t t0 = now_usec();
        r = harness_viewer_new(h, "bench", TICKET_ROLE_INTERACTIVE, &o, NULL, NULL, &v);
        if (r >= 0)
                r = harness_run_until(h, welcomed, v, 20 * SECOND);
        if (r >= 0 && !v->welcomed)
                r = -ECONNREFUSED;
        *ret_welcome = now_usec() - t0;
        if (r >= 0 && move) {
                /* The first probe (2 s after the start, 2.5 s long) fails; then UDP comes back. */
                (void) harness_run_until(h, NULL, NULL, 4600 * 1000ULL);
                udp_server_set_blackhole(h->manager->viewers->udp, false);
                uint64_t t1 = now_usec();
                r = harness_run_until(h, on_udp, v, 30 * SECOND);
                if (r >= 0 && v->closed)
                        r = -ECONNRESET;
                *ret_move = now_usec() - t1;
        }
        harness_viewer_free(v);
        harness_free(h);
        return r;
}

int main(int argc, char **argv) {
        int runs = argc > 1 ? atoi(argv[1]) : 5;
        static const struct {
                const char *name;
                ClientTransport transport;
                bool blackhole, move;
        } cases[] = {
                { "tcp", CLIENT_TRANSPORT_TCP, false, false },
                { "udp", CLIENT_TRANSPORT_UDP, false, false },
                { "auto (both work: UDP)", CLIENT_TRANSPORT_AUTO, false, false },
                { "auto (UDP blackholed: TCP)", CLIENT_TRANSPORT_AUTO, true, true },
        };
        if (runs < 1 || runs > 50) {
                fprintf(stderr, "usage: bench-auto [RUNS 1..50]\n");
                return 2;
        }
        printf("time to welcome, median of %d (loopback, in-process hostd):\n", runs);
        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
                uint64_t w[50], m[50];
                for (int i = 0; i < runs; i++)
                        if (run(cases[c].transport, cases[c].blackhole, cases[c].move, &w[i], &m[i]) < 0) {
                                fprintf(stderr, "%s: run %d failed\n", cases[c].name, i);
                                return 1;
                        }
                printf("  %-28s %8.1f ms", cases[c].name, median_ms(w, runs));
                if (cases[c].move)
                        printf("; UDP back -> session on UDP %8.1f ms", median_ms(m, runs));
                printf("\n");
        }
        return 0;
}
