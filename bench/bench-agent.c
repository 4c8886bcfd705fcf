/* hostd's agent path in one process (test-harness.h, the agent a fake on a socketpair, the
 * viewer a raw wire peer over a socketpair): how long from the agent's hello to the viewer's
 * agent-status "agent", from the agent's death to "hypervisor", and clipboard round trips through
 * hostd (guest grab -> viewer request -> guest data -> viewer has it all) for 1 KiB of text and a
 * 1 MiB image. Prints p50/p99 over ROUNDS rounds. No VM, no TLS: hostd's own cost plus the loop.
 *
 *   bench-agent [ROUNDS]     (default 50) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "check.h"
#include "parse-util.h"
#include "hostd-agent.h"
#include "hostd-manager.h"
#include "test-agent-peers.h"
#include "test-harness.h"

#define VIEWER_CAPS (0x1fULL | WIRE_CAP_AGENT | WIRE_CAP_CLIPBOARD | WIRE_CAP_WINDOWS | WIRE_CAP_RESIZE)
#define ALL_CAPS UINT64_C(0x7f)

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

#define RUN_UNTIL(h, cond)                                                                                         \
        do {                                                                                                       \
                uint64_t end_ = now_usec() + 20000000ULL;                                                          \
                while (!(cond)) {                                                                                  \
                        check(now_usec() < end_);                                                                  \
                        check(sd_event_run((h)->event, 1000) >= 0);                                                \
                }                                                                                                  \
        } while (0)

static int cmp(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *v, int n) {
        qsort(v, (size_t) n, sizeof(*v), cmp);
        printf("%-34s p50 %7.3f ms  p99 %7.3f ms  (n=%d)\n", what, v[n / 2] / 1000.0, v[(n * 99) / 100] / 1000.0, n);
}

static void configure(HostdConfig *c, void *userdata) {
        free(c->agent.overrides);
        c->agent.overrides = strdup("*:Clipboard=both");
        c->agent.message_rate = 100000; /* a 1 MiB image is 17 chunks; rounds come fast */
        c->agent.message_burst = 100000;
}

static uint64_t clipboard_round(Harness *h, FakeAgent *fa, RawViewer *v, const uint8_t *data, uint32_t len,
                                uint32_t serial) {
        uint64_t t0 = now_usec();
        unsigned grabs = v->grabs;
        buffer_clear(&v->data);
        uint8_t format = len > 4096 ? 1 : 0;
        check(agent_encode_clipboard_grab(fake_agent_out(fa), &(AgentClipboardGrab) { .serial = serial, .formats = 3 }) >= 0);
        check(fake_agent_flush(fa) >= 0);
        RUN_UNTIL(h, v->grabs > grabs);
        unsigned requests = fa->requests;
        check(wire_encode_clipboard_request(raw_viewer_out(v), &(WireClipboardRequest) { .serial = v->grab.serial, .format = format }) >= 0);
        raw_viewer_flush(v);
        RUN_UNTIL(h, fa->requests > requests);
        for (uint32_t off = 0; off < len || (len == 0 && off == 0); off += 65536) {
                uint32_t n = len - off < 65536 ? len - off : 65536;
                AgentClipboardData d = { .serial = serial, .format = format, .total = len, .offset = off,
                                         .chunk = data + off, .chunk_len = n };
                check(agent_encode_clipboard_data(fake_agent_out(fa), &d) >= 0);
                check(fake_agent_flush(fa) >= 0);
                sd_event_run(h->event, 0);
        }
        RUN_UNTIL(h, buffer_len(&v->data) == len);
        return now_usec() - t0;
}

int main(int argc, char **argv) {
        uint64_t n = 50;
        if (argc > 1 && parse_u64(argv[1], 100000, &n) < 0) {
                fprintf(stderr, "usage: bench-agent [ROUNDS]\n");
                return 1;
        }
        int rounds = (int) n;
        HarnessOptions o = { .log_level = LOG_ERR, .configure = configure };
        FakeAgent fa;
        Harness *h;
        RawViewer *v;
        static uint32_t px[64 * 64];
        uint64_t *hello = calloc((size_t) rounds, sizeof(uint64_t)), *death = calloc((size_t) rounds, sizeof(uint64_t));
        uint64_t *text = calloc((size_t) rounds, sizeof(uint64_t)), *image = calloc((size_t) rounds, sizeof(uint64_t));
        check(rounds > 0 && hello && death && text && image);

        fake_agent_setup(&fa, &o);
        check(harness_new(&o, &h) >= 0);
        check(harness_scanout(h, 64, 64, px) >= 0);
        check(raw_viewer_new(h, VIEWER_CAPS, TICKET_ROLE_INTERACTIVE, &v) >= 0);
        RUN_UNTIL(h, v->welcomed && v->statuses > 0);
        Agent *a = manager_agent(h->manager, h->desktop);
        uint8_t *blob = malloc(1 << 20);
        check(a && blob);
        for (size_t i = 0; i < (1u << 20); i++)
                blob[i] = (uint8_t) (i * 2654435761u >> 13);

        for (int i = 0; i < rounds; i++) {
                agent_start(a); /* no backoff between rounds */
                RUN_UNTIL(h, fa.conn != NULL && agent_state(a) == AGENT_OPEN);
                unsigned st = v->statuses;
                uint64_t t0 = now_usec();
                check(fake_agent_hello(&fa, ALL_CAPS) >= 0);
                RUN_UNTIL(h, v->statuses > st && v->status.mode == WIRE_MODE_AGENT);
                hello[i] = now_usec() - t0;
                text[i] = clipboard_round(h, &fa, v, blob, 1024, 100 + (uint32_t) i);
                image[i] = clipboard_round(h, &fa, v, blob, 1u << 20, 1000 + (uint32_t) i);
                st = v->statuses;
                t0 = now_usec();
                fake_agent_close(&fa);
                RUN_UNTIL(h, v->statuses > st && v->status.mode == WIRE_MODE_HYPERVISOR);
                death[i] = now_usec() - t0;
        }
        report("agent hello -> viewer 'agent'", hello, rounds);
        report("agent death -> viewer 'hypervisor'", death, rounds);
        report("clipboard round trip 1 KiB text", text, rounds);
        report("clipboard round trip 1 MiB image", image, rounds);
        raw_viewer_free(v);
        harness_free(h);
        fake_agent_done(&fa);
        free(blob);
        free(hello);
        free(death);
        free(text);
        free(image);
        return 0;
}
