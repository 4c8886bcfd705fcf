/* Fuzzes one hostd viewer with what a viewer could send: the input is the client-to-server byte
 * stream into a Viewer over a memory transport (viewer_new_transport()), cut at points drawn
 * from the input, with the harness's hostd behind it (a fake QEMU display with a screen and a
 * cursor, tickets from the test key). The viewer must end closed or idle, never crash or leak,
 * and hostd must go on: the display still attached, no other viewer left behind.
 *
 * Input: byte 0: bit 0 puts a valid hello (a fresh ticket for the harness's desktop) before the
 * stream, bit 1 makes that ticket view-only, bit 2 keeps the stream open at the end (else it
 * ends, as when the viewer goes away); byte 1 seeds the split points (0: whole), byte 2 caps a
 * piece (0: no cap); the rest is the stream. Bit 3 of byte 0 offers session resumption in that
 * hello (a viewer whose stream ends is then detached, and ended here). fuzz-session-seeds writes the seeds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "hostd-console.h"
#include "hostd-manager.h"
#include "hostd-viewer.h"
#include "hostd-viewer-resume.h"
#include "mem-transport.h"
#include "test-harness.h"
#include "wire.h"

#define HEAD 3
/* Each accepted ticket's nonce stays in the replay table for its lifetime: start a fresh hostd
 * now and then, so that long fuzzing runs keep getting past the handshake. */
#define RUNS_PER_HARNESS 20000

static Harness *harness;
static unsigned runs;

static void harness_done(void) {
        harness = harness_free(harness);
}

static void harness_start(void) {
        static uint32_t screen[96 * 64], shape[16 * 16];
        HarnessOptions o = { .log_level = LOG_CRIT }; /* a fuzzer's viewers are refused loudly otherwise */

        harness_done();
        if (harness_new(&o, &harness) < 0)
                abort();
        for (size_t i = 0; i < 96 * 64; i++)
                screen[i] = (uint32_t) (i * 2654435761u) & 0xffffff; /* photographic enough for JPEG */
        for (size_t i = 0; i < 16 * 16; i++)
                shape[i] = 0xff000000u | (uint32_t) i;
        if (harness_scanout(harness, 96, 64, screen) < 0 ||
            fake_qemu_cursor_define(harness->qemu, 16, 16, 1, 1, shape, sizeof(shape)) < 0 ||
            fake_qemu_mouse_set(harness->qemu, 10, 10, true) < 0)
                abort();
        runs = 0;
}

static bool linked(Viewer *v) {
        for (Viewer *o = harness->manager->viewers->viewers; o; o = o->next)
                if (o == v)
                        return true;
        return false;
}

static void drain(ByteTransport *t) {
        uint8_t buf[16384];
        for (int i = 0; i < 1024 && t->ops->read(t, buf, sizeof(buf)) > 0; i++)
                ;
}

/* One turn of the loop without waiting: the pump, the fake QEMU, deferred frees. */
static void turn(void) {
        for (int i = 0; i < 16 && sd_event_run(harness->event, 0) > 0; i++)
                ;
}

static int hello(Buffer *b, TicketRole role, bool resume) {
        _cleanup_(freep) char *text = NULL;
        uint8_t ticket[TICKET_SIZE_MAX];
        size_t len;
        int r = harness_ticket(harness, "fuzz", role, &text);
        if (r < 0)
                return r;
        r = ticket_text_decode(text, strlen(text), ticket, sizeof(ticket), &len);
        if (r < 0)
                return r;
        WireHello h = { .magic = WIRE_MAGIC, .version = 1, .caps = resume ? 0x3f : 0x1f, .ticket = ticket,
                        .ticket_len = len };
        return wire_encode_hello(b, &h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ByteTransport *server, *client;
        Viewer *v;
        Buffer in = BUFFER_INIT(WIRE_HEADER_SIZE + WIRE_HELLO_SIZE_MAX);

        if (size < HEAD)
                return 0;
        if (!harness || ++runs > RUNS_PER_HARNESS) {
                if (!harness)
                        atexit(harness_done);
                harness_start();
        }
        uint8_t flags = data[0];
        MemTransportOptions o = { .seed = data[1], .max_chunk = data[2] };
        data += HEAD;
        size -= HEAD;

        if ((flags & 1) && hello(&in, flags & 2 ? TICKET_ROLE_VIEW_ONLY : TICKET_ROLE_INTERACTIVE, flags & 8) < 0)
                abort();
        if (mem_transport_pair(&o, &server, &client) < 0)
                abort();
        if (viewer_new_transport(harness->manager->viewers, server, "fuzz", &v) < 0)
                abort();

        size_t sent = 0, total = buffer_len(&in) + size;
        for (int i = 0; i < 4096 && linked(v); i++) {
                /* The hello, then the stream, as fast as the transport takes them. */
                while (sent < total) {
                        const uint8_t *p = sent < buffer_len(&in) ? buffer_data(&in) + sent : data + (sent - buffer_len(&in));
                        size_t n = sent < buffer_len(&in) ? buffer_len(&in) - sent : total - sent;
                        ssize_t k = client->ops->write(client, p, n);
                        if (k <= 0)
                                break;
                        sent += (size_t) k;
                }
                if (sent == total && !(flags & 4) && client) {
                        drain(client);
                        client = byte_transport_free(client); /* the viewer went away */
                }
                viewer_process(v);
                turn();
                if (client)
                        drain(client);
                if (sent == total && client && i > 64)
                        break; /* all delivered and handled: what is left is an idle viewer */
        }
        if (linked(v)) {
                /* Idle: not closing, nothing to encode right now, only waiting for its peer. */
                if (v->state == VIEWER_CLOSING ||
                    (v->state == VIEWER_ACTIVE && !region_is_empty(&v->pending) &&
                     viewer_in_flight(v) < harness->manager->config.frames_in_flight &&
                     wire_conn_queued(v->conn) <= VIEWER_OUT_SOFT))
                        abort();
                byte_transport_free(client); /* now it goes away */
                client = NULL;
                for (int i = 0; i < 64 && linked(v); i++) {
                        if (viewer_is_detached(v))
                                viewer_drop(v, 0, "fuzz: not resumed"); /* ResumeSeconds= later */
                        else
                                viewer_process(v);
                        turn();
                }
                if (linked(v))
                        abort();
        }
        turn(); /* frees it */
        /* hostd goes on: its display still there, no viewer left. */
        if (harness->manager->viewers->n_viewers != 0 || !harness_console(harness) ||
            !fake_qemu_listener_ready(harness->qemu))
                abort();
        byte_transport_free(client);
        buffer_done(&in);
        return 0;
}
