/* Test peers for hostd's agent code (never linked into the daemon): a fake guest agent on the
 * other end of a socketpair that hostd takes as the domain's agent channel, and a raw viewer
 * (a wire-protocol peer over a socketpair, no TLS) that records what hostd sends about the agent.
 * Both run in the harness's sd-event loop. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "agent.h"
#include "buffer.h"
#include "test-harness.h"
#include "wire-conn.h"
#include "wire-gen.h"

typedef struct FakeAgent FakeAgent;
struct FakeAgent {
        Harness *harness;
        WireConn *conn; /* NULL until hostd connects, and after it closed */
        sd_event_source *io;
        int fail_connects;  /* connects to refuse (-ECONNREFUSED) before one succeeds */
        unsigned connects;  /* channels hostd opened */
        unsigned closed;    /* channels hostd closed (end of stream seen) */
        unsigned hellos, byes, heartbeats_sent;
        int last_bye_code;
        AgentClipboardGrab grab;      /* the last one hostd sent */
        unsigned grabs, requests, releases, datas;
        AgentClipboardRequest request;
        Buffer data;                  /* clipboard-data payload received, in order */
        uint32_t data_serial, data_total;
        unsigned window_actions;
        AgentWindowAction window_action;
        unsigned resizes;
        AgentResizeRequest resize;
        unsigned power_requests;
        uint8_t power_action;
        /* Called for every message hostd sends, after it was counted above (NULL: none). */
        void (*on_message)(struct FakeAgent *a, const AgentMessage *m, void *userdata);
        void *userdata;
};

/* Fills opts->agent_connect so that hostd's agent channel is a FakeAgent. */
void fake_agent_setup(FakeAgent *a, HarnessOptions *opts);
void fake_agent_done(FakeAgent *a);
/* Raw bytes to hostd; encoders below append a frame and send it. */
int fake_agent_send_raw(FakeAgent *a, const void *data, size_t len);
int fake_agent_flush(FakeAgent *a);
Buffer *fake_agent_out(FakeAgent *a);
int fake_agent_hello(FakeAgent *a, uint64_t caps);
int fake_agent_heartbeat(FakeAgent *a);
/* Closes the guest's end (the agent died). */
void fake_agent_close(FakeAgent *a);

typedef struct RawViewer {
        Harness *harness;
        WireConn *conn;
        sd_event_source *io;
        sd_event_source *timer; /* rudp's timers (raw_viewer_new_udp()) */
        bool welcomed;
        int error;
        unsigned statuses;
        WireAgentStatus status; /* the last agent-status */
        unsigned notices;
        uint16_t notice_code;
        unsigned window_resets, window_updates, window_removes, window_stacks, window_icons;
        WireWindowUpdate window; /* the last update (title not kept) */
        uint32_t stack[1024];
        size_t n_stack;
        unsigned grabs, requests, releases, datas;
        WireClipboardGrab grab;
        WireClipboardRequest request;
        Buffer data;
        uint32_t data_serial, data_total;
        unsigned modes;
        /* Called for every message hostd sends, after it was counted above (NULL: none). */
        void (*on_message)(struct RawViewer *v, const WireMessage *m, void *userdata);
        void *userdata;
} RawViewer;

/* A viewer with caps (wire caps) and a ticket of role, handshaking over a socketpair. */
int raw_viewer_new(Harness *h, uint64_t caps, TicketRole role, RawViewer **ret);
/* The same over rudp on a datagram socketpair (no DTLS), what hostd sends going through
 * server_path's impairment and rate limit (NULL: none), as harness_viewer_new_udp() does. */
int raw_viewer_new_udp(Harness *h, uint64_t caps, TicketRole role, const FdDatagramOptions *server_path,
                       RawViewer **ret);
RawViewer *raw_viewer_free(RawViewer *v);
Buffer *raw_viewer_out(RawViewer *v);
/* A paused viewer reads nothing: what hostd sends it piles up, like a stalled link. */
void raw_viewer_pause(RawViewer *v, bool paused);
int raw_viewer_flush(RawViewer *v);
