/* Fuzzes hostd's handling of what a guest agent sends: the input is the guest-to-hostd byte stream
 * on the domain's agent channel of an in-process hostd (test-harness.h, the channel a socketpair
 * from test-agent-peers.h), cut into pieces drawn from the input, with an interactive viewer that
 * has every agent cap and the media caps watching (so the relays to viewers run too, media's
 * included: opens, packets, geometry, closes under the caps of hostd-media.h). hostd must never crash or
 * leak, whatever the guest sends; afterwards the display is still attached and the agent either
 * still open or closed (dropped for misbehaving). Rate limits and the partial-frame deadline run
 * on hostd's own clock, as in the daemon.
 *
 * Input: byte 0: bit 0 puts a valid hello (every cap) before the stream, bit 1 has the viewer grab
 * the clipboard and ask for the guest's (so that clipboard data from the guest is relayed); byte 1
 * seeds the split points (0: whole); the rest is the stream. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "check.h"
#include "hostd-agent.h"
#include "hostd-manager.h"
#include "hostd-media.h"
#include "test-agent-peers.h"
#include "test-harness.h"

#define HEAD 2
#define VIEWER_CAPS                                                                                                \
        (0x1fULL | WIRE_CAP_AGENT | WIRE_CAP_CLIPBOARD | WIRE_CAP_WINDOWS | WIRE_CAP_RESIZE | WIRE_CAP_MEDIA |     \
         WIRE_CAP_MEDIA_OPUS | WIRE_CAP_MEDIA_VP8 | WIRE_CAP_MEDIA_H264)

static Harness *harness;
static FakeAgent agent;
static RawViewer *viewer;

static void turn(void) {
        for (int i = 0; i < 64 && sd_event_run(harness->event, 0) > 0; i++)
                ;
}

static void configure(HostdConfig *c, void *userdata) {
        free(c->agent.overrides);
        c->agent.overrides = strdup("*:Clipboard=both");
}

static void setup(void) {
        static uint32_t px[32 * 32];
        HarnessOptions o = { .log_level = LOG_CRIT, .configure = configure };
        fake_agent_setup(&agent, &o);
        if (harness_new(&o, &harness) < 0 || harness_scanout(harness, 32, 32, px) < 0 ||
            raw_viewer_new(harness, VIEWER_CAPS, TICKET_ROLE_INTERACTIVE, &viewer) < 0)
                abort();
        for (int i = 0; i < 1000 && !viewer->welcomed; i++)
                check(sd_event_run(harness->event, 10000) >= 0);
        check(viewer->welcomed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!harness)
                setup();
        if (size < HEAD)
                return 0;
        Agent *a = manager_agent(harness->manager, harness->desktop);
        check(a);
        /* A fresh channel for every input, as after a guest reboot. */
        agent_guest_reset(a, false);
        agent_start(a);
        turn();
        if (!agent.conn)
                abort();
        if (data[0] & 1) {
                AgentHello h;
                agent_hello_init(&h, UINT64_MAX, "fuzz");
                check(agent_encode_hello(fake_agent_out(&agent), &h) >= 0);
                (void) fake_agent_flush(&agent);
                turn();
        }
        if (data[0] & 2) {
                WireClipboardGrab g = { .serial = 7, .formats = 3 };
                (void) wire_encode_clipboard_grab(raw_viewer_out(viewer), &g);
                WireClipboardRequest q = { .serial = viewer->grab.serial, .format = 0 };
                (void) wire_encode_clipboard_request(raw_viewer_out(viewer), &q);
                raw_viewer_flush(viewer);
                turn();
        }
        uint32_t seed = data[1];
        data += HEAD;
        size -= HEAD;
        while (size > 0 && agent.conn) {
                size_t n = size;
                if (seed) {
                        seed = seed * 1103515245u + 12345u;
                        n = 1 + (seed >> 8) % (size < 512 ? size : 512);
                }
                (void) fake_agent_send_raw(&agent, data, n);
                data += n;
                size -= n;
                turn();
        }
        turn();
        check(harness_console(harness) != NULL);
        check(viewer->error == 0);
        check(media_n_streams(agent_media(a)) <= harness->manager->config.media.max_streams);
        AgentState st = agent_state(a);
        check(st == AGENT_OPEN || st == AGENT_ACTIVE || (st == AGENT_IDLE && !agent.conn) || st == AGENT_IDLE);
        return 0;
}
