/* One connected viewer: its TLS connection and handshake, its role, and the display pump that
 * turns the desktop's changes into frames under flow control. Internal to the viewer server. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "hostd-encoder.h"
#include "hostd-viewer-udp.h"
#include "hostd-viewer-server.h"
#include "region.h"
#include "ticket.h"
#include "tls.h"
#include "wire-conn.h"

/* Output a viewer may have queued: two frames of tiles with room to spare. Beyond it the pump
 * waits, so a viewer that stops reading costs at most this much. */
#define VIEWER_OUT_LIMIT (8u * 1024 * 1024)
#define VIEWER_OUT_SOFT (4u * 1024 * 1024)

typedef enum ViewerState {
        VIEWER_HANDSHAKE,
        VIEWER_ACTIVE,
        VIEWER_CLOSING, /* bye queued: flush, then free */
} ViewerState;

struct ViewerServer {
        Manager *manager;
        int fd;
        sd_event_source *io;
        TlsContext *tls;
        TicketVerifier *verifier; /* NULL until the broker's key came (TicketPublicKey= unset) */
        EVP_PKEY *verifier_key;   /* the key set by viewer_server_set_ticket_key(), or NULL */
        uint8_t fingerprint[32]; /* of our certificate, as tickets pin it */
        Viewer *viewers;
        unsigned n_viewers;
        struct UdpServer *udp; /* viewers over DTLS/UDP at the same address; NULL if it failed */
        Viewer *closing; /* dropped, freed from a later event (or with the server) */
};

struct Viewer {
        ViewerServer *server;
        Viewer *next;
        WireConn *conn;
        sd_event_source *io;
        sd_event_source *pump;    /* defer: runs once after changes, coalescing them */
        sd_event_source *timer;   /* handshake deadline, then build-to-lossless */
        sd_event_source *release; /* defer: frees a dropped viewer */
        ViewerState state;
        char peer[64];
        uint64_t session;
        Ticket ticket;
        bool interactive;
        bool input_notice_sent;
        bool agent_notice_sent; /* one notice agent-refused per session */
        bool mic_notice_sent;   /* vmaudio: one notice for a view-only viewer's microphone */
        uint64_t caps;          /* the viewer's, from hello or resume */
        Console *console; /* NULL while the desktop has no display */
        Encoder *encoder;
        EncoderSettings settings;
        Region pending;   /* changed since the last frame this viewer was sent */
        Region band;      /* scratch: the part of pending encoded next, when a frame goes in parts */
        bool need_mode, cursor_shape_dirty, cursor_position_dirty;
        uint32_t next_frame;
        uint32_t acked; /* frames below it are acknowledged: in flight = next_frame - acked */
        uint64_t frames_sent, frames_skipped;
        uint64_t link_waits; /* pumps the transport held back (UDP: tiles still unsent) */
        ViewerUdp *udp; /* NULL on a stream (TLS) */
        struct ViewerResume *resume; /* session resumption (hostd-viewer-resume.h), NULL if not */
        struct ViewerAdapt *adapt; /* network auto-detect and figures (hostd-viewer-adapt.h) */
};

/* A viewer on a TLS connection over fd (owned from now on, closed on failure too). */
int viewer_new(ViewerServer *s, int fd, const char *peer, Viewer **ret);
/* The same over any transport (owned from now on, freed on failure too); what viewer_new() runs
 * after TLS, and the seam for fuzzers and tests (a mem_transport_pair() end). A transport with an
 * fd gets an io source; one without (fd() < 0) is driven by its owner calling viewer_process()
 * when it may have input or room for output. */
int viewer_new_transport(ViewerServer *s, ByteTransport *t, const char *peer, Viewer **ret);
/* The same over a WireConn of either kind (owned from now on, freed on failure too): a rudp one
 * (UDP/DTLS, or a test's datagram pair) gets the latest-wins display and its timers. */
/* After v->conn was set or replaced (a resume): the transport-kind state (UDP's timers and tile
 * ring, one-cell tiles). */
int viewer_conn_attached(Viewer *v);
int viewer_new_conn(ViewerServer *s, WireConn *conn, const char *peer, Viewer **ret);
/* Reads and handles what the viewer sent (a bounded number of messages per call), then writes
 * what is queued. The viewer may be closed by it: it is then unlinked from the server at once
 * and freed from a later event-loop iteration. */
void viewer_process(Viewer *v);
Viewer *viewer_free(Viewer *v);
/* Closes at once without a bye (logging why); freed from a later event-loop iteration. */
void viewer_drop(Viewer *v, int error, const char *why);
/* Flushes and waits for what the connection needs next. */
void viewer_flush(Viewer *v);
int viewer_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);
/* Queues bye (code, reason) and closes once it is written. */
void viewer_close(Viewer *v, uint16_t code, const char *reason);
void viewer_bind(Viewer *v, Console *c);
void viewer_schedule_pump(Viewer *v);
void viewer_send_role(Viewer *v, uint64_t interactive_session);
unsigned viewer_in_flight(const Viewer *v);
/* Frames a viewer may have unacknowledged: FramesInFlight=, or over UDP enough to cover the RTT at
 * 30 frames/s (at most 16): the pump is paced by rudp there, the acks only guard the viewer. */
unsigned viewer_in_flight_limit(const Viewer *v);

/* Roles, kept by the server per desktop: one interactive viewer at most. */
bool viewer_server_claim_interactive(ViewerServer *s, Viewer *v);
void viewer_server_interactive_left(ViewerServer *s, const char *desktop);
void viewer_server_handover(ViewerServer *s, Viewer *from, uint64_t to_session);
Console *viewer_server_find_console(ViewerServer *s, const char *desktop);
