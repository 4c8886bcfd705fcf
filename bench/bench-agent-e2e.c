/* The agent chain end to end on this machine (hostd/test-x11-chain.h: Xvfb + openbox, the real
 * tandem-guestd on a socketpair as the in-process hostd's agent channel, the real helper, a real
 * client session over TLS). Prints p50/p99 (p99 is the maximum below 100 rounds) of:
 *   clipboard viewer -> X: the viewer's grab until `xclip -o' exits with all the data;
 *   clipboard X -> viewer: `xclip -i' started until the viewer has all the data (it requests on
 *     the grab);
 *   both for 1 KiB of text and a 1 MiB PNG, and `xclip' against a local xclip owner as the floor
 *     (two process starts and the X round trips: what any X client pays);
 *   guestd started -> agent active at the viewer (mode agent, and the helper's features);
 *   guestd SIGKILLed -> the viewer's fallback to the hypervisor path: with the port closing when
 *     guestd dies (a socketpair) and held open (as a virtio port is: only heartbeats tell), with
 *     the default heartbeat settings and with HeartbeatSeconds=1 (guestd's and hostd's).
 *
 *   bench-agent-e2e GUESTD HELPER [ROUNDS]   (default 20; the kill rounds are ROUNDS / 4) */
#include "check.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client-session.h"
#include "parse-util.h"
#include "test-x11-chain.h"

#define X11_FEATURES (CLIENT_FEATURE_CLIPBOARD | CLIENT_FEATURE_WINDOWS | CLIENT_FEATURE_RESIZE)

static ChainDesk desk;
static const char *guestd_exe, *helper_exe;

static int cmp(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *v, int n) {
        if (n == 0) {
                printf("%-46s (no rounds)\n", what);
                return;
        }
        qsort(v, (size_t) n, sizeof(*v), cmp);
        printf("%-46s p50 %8.1f ms  p99 %8.1f ms  (n=%d)\n", what, v[n / 2] / 1000.0, v[(n * 99) / 100] / 1000.0, n);
        fflush(stdout);
}

static Chain *chain(const ChainOptions *o) {
        Chain *c;
        check(chain_new(&desk, o, guestd_exe, helper_exe, &c) >= 0);
        CHAIN_WAIT(c, chain_agent_has(c, X11_FEATURES));
        return c;
}

static int xclip(Chain *c, bool in, const char *target, const void *data, size_t len, Buffer *out) {
        char *const io = in ? "-i" : "-o";
        char *const text[] = { "xclip", "-selection", "clipboard", io, NULL };
        char *const typed[] = { "xclip", "-selection", "clipboard", io, "-t", (char *) target, NULL };
        return chain_run_cmd(c, target ? typed : text, data, len, out);
}

static void bench_clipboard(Chain *c, int rounds, const char *name, const char *target, const uint8_t *data,
                            size_t len) {
        uint64_t *to_x = calloc((size_t) rounds, sizeof(uint64_t)), *to_v = calloc((size_t) rounds, sizeof(uint64_t));
        uint64_t *floor_ = calloc((size_t) rounds, sizeof(uint64_t)), *again = calloc((size_t) rounds, sizeof(uint64_t));
        unsigned requests = c->requests;
        Buffer out;
        buffer_init(&out, 32u << 20);
        bool png = target != NULL;
        uint8_t format = png ? WIRE_FORMAT_PNG : WIRE_FORMAT_TEXT;
        int n = 0;
        for (int i = 0; i < rounds; i++) {
                /* viewer -> X */
                uint64_t t0 = chain_now();
                check(chain_viewer_copy(c, png ? NULL : data, png ? 0 : len, png ? data : NULL, png ? len : 0) >= 0);
                /* Polled every millisecond: nothing wakes the loop when the helper takes it. */
                uint64_t end = chain_now() + 20 * CHAIN_SECOND;
                while (!chain_helper_owns_clipboard(c)) {
                        check(chain_now() < end);
                        chain_step(c, 1000);
                }
                check(xclip(c, false, target, NULL, 0, &out) == 0);
                to_x[i] = chain_now() - t0;
                check(buffer_len(&out) == len && memcmp(buffer_data(&out), data, len) == 0);
                /* A second paste of the same grab: the viewer is asked again (or not, if the
                 * helper kept the data) */
                t0 = chain_now();
                check(xclip(c, false, target, NULL, 0, &out) == 0);
                again[i] = chain_now() - t0;
                check(buffer_len(&out) == len);

                /* X -> viewer */
                unsigned grabs = c->grabs, datas = c->datas;
                t0 = chain_now();
                check(xclip(c, true, target, data, len, NULL) == 0);
                CHAIN_WAIT(c, c->grabs > grabs && c->grab_formats);
                check(client_session_clipboard_request(c->v->session, format) >= 0);
                harness_viewer_kick(c->v);
                CHAIN_WAIT(c, c->datas > datas);
                to_v[i] = chain_now() - t0;
                check(c->data_error == 0 && buffer_len(&c->data) == len);

                /* The floor: xclip -o from the xclip that owns it now. */
                t0 = chain_now();
                check(xclip(c, false, target, NULL, 0, &out) == 0);
                floor_[i] = chain_now() - t0;
                check(buffer_len(&out) == len);
                n++;
                if (c->status.mode != WIRE_MODE_AGENT) {
                        printf("the agent was dropped after %d rounds (%s)\n", n, client_agent_cause_name(c->status.cause));
                        break;
                }
        }
        char what[96];
        snprintf(what, sizeof(what), "clipboard %s viewer grab -> X has it", name);
        report(what, to_x, n);
        snprintf(what, sizeof(what), "  the same grab pasted again (%s)", name);
        report(what, again, n);
        printf("  (the viewer was asked %u times for %d rounds of two pastes)\n", c->requests - requests, n);
        snprintf(what, sizeof(what), "clipboard %s X owner -> viewer has it", name);
        report(what, to_v, n);
        snprintf(what, sizeof(what), "  floor: xclip -o from a local xclip (%s)", name);
        report(what, floor_, n);
        buffer_done(&out);
        free(to_x);
        free(to_v);
        free(floor_);
        free(again);
}

/* guestd start -> active, and SIGKILL -> fallback, rounds times on one chain: hostd re-opens the
 * channel after the loss (its backoff, 1 s here) and a new guestd starts. */
static void bench_lifecycle(const ChainOptions *o, int rounds, const char *label) {
        uint64_t *up = calloc((size_t) rounds + 1, sizeof(uint64_t)), *full = calloc((size_t) rounds + 1, sizeof(uint64_t));
        uint64_t *down = calloc((size_t) rounds, sizeof(uint64_t));
        Chain *c;
        check(chain_new(&desk, o, guestd_exe, helper_exe, &c) >= 0);
        int n_up = 0, n_down = 0;
        CHAIN_WAIT(c, chain_agent_has(c, X11_FEATURES));
        for (int i = 0; i < rounds; i++) {
                chain_run_for(c, 300 * 1000);
                unsigned starts = c->guestd_starts;
                uint64_t t0 = chain_now();
                check(kill(c->guestd, SIGKILL) == 0);
                CHAIN_WAIT(c, c->status.mode == WIRE_MODE_HYPERVISOR);
                down[n_down++] = c->status_usec - t0;
                /* hostd re-opens the channel after its backoff: a new guestd */
                CHAIN_WAIT(c, c->guestd_starts > starts);
                CHAIN_WAIT(c, chain_agent_has(c, X11_FEATURES));
                up[n_up] = c->agent_usec - c->guestd_started_usec;
                full[n_up++] = c->status_usec - c->guestd_started_usec;
        }
        char what[128];
        snprintf(what, sizeof(what), "guestd start -> agent at viewer");
        report(what, up, n_up);
        snprintf(what, sizeof(what), "guestd start -> helper's features at viewer");
        report(what, full, n_up);
        snprintf(what, sizeof(what), "guestd SIGKILL -> fallback (%s)", label);
        report(what, down, n_down);
        chain_free(c);
        free(up);
        free(full);
        free(down);
}

int main(int argc, char **argv) {
        if (argc < 3) {
                fprintf(stderr, "usage: %s GUESTD HELPER [ROUNDS]\n", argv[0]);
                return 2;
        }
        guestd_exe = argv[1];
        helper_exe = argv[2];
        uint64_t n = 20;
        if (argc > 3 && (parse_u64(argv[3], 10000, &n) < 0 || n == 0)) {
                fprintf(stderr, "ROUNDS: a number from 1 to 10000\n");
                return 2;
        }
        int rounds = (int) n;
        signal(SIGPIPE, SIG_IGN);
        int r = chain_desk_start(&desk, true, 1920, 1200);
        if (r == -EOPNOTSUPP) {
                printf("needs Xvfb, openbox, xclip and xrandr\n");
                return CHAIN_SKIP;
        }
        check(r >= 0);

        Chain *c = chain(&(ChainOptions) { .clipboard = "both" });
        char text[1024];
        for (size_t i = 0; i < sizeof(text); i++)
                text[i] = (char) ('a' + i % 26);
        bench_clipboard(c, rounds, "1 KiB text", NULL, (const uint8_t *) text, sizeof(text));
        size_t png_len;
        uint8_t *png = chain_png(600, 580, 3, &png_len); /* about 1 MiB */
        printf("(PNG: %zu bytes)\n", png_len);
        bench_clipboard(c, rounds, "1 MiB PNG", "image/png", png, png_len);
        free(png);
        chain_free(c);

        int kills = rounds / 4 > 0 ? rounds / 4 : 1;
        printf("-- defaults (guestd HeartbeatSeconds=2; hostd [Agent] HeartbeatSeconds=2, 3 missed)\n");
        bench_lifecycle(&(ChainOptions) {}, kills, "port closes with guestd");
        bench_lifecycle(&(ChainOptions) { .hold_port = true }, kills, "port held open: heartbeats");
        printf("-- HeartbeatSeconds=1 (guestd's and hostd's; 3 missed)\n");
        bench_lifecycle(&(ChainOptions) { .guestd_heartbeat = 1, .hostd_heartbeat = 1 }, kills,
                        "port closes with guestd");
        bench_lifecycle(&(ChainOptions) { .guestd_heartbeat = 1, .hostd_heartbeat = 1, .hold_port = true }, kills,
                        "port held open: heartbeats");
        chain_desk_stop(&desk);
        return 0;
}
