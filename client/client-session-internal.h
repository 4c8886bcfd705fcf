/* ClientSession's insides, shared by client-session.c and client-resume.c (session resumption).
 * Nothing else includes this. */
#pragma once

#include "client-cells.h"
#include "client-session-agent.h"
#include "client-session.h"
#include "dtls.h"
#include "ticket.h"
#include "tls.h"
#include "wire-conn.h"

typedef enum SessionState {
        SESSION_HANDSHAKE,
        SESSION_ACTIVE,
        SESSION_RECONNECTING, /* between connections: see client-resume.h */
        SESSION_CLOSED,
} SessionState;

struct ClientSession {
        SessionState state;
        ClientCallbacks cb;
        void *userdata;
        ClientOptions options;
        TlsContext *tls;
        DtlsContext *dtls;
        WireConn *conn;
        Decoder *decoder;
        ClientFramebuffer fb;
        ClientCursor cursor;
        uint64_t session;
        int role;
        uint8_t ticket[TICKET_SIZE_MAX];
        size_t ticket_len;
        /* Where to connect again (client_session_new() sessions). */
        char host[256];
        uint16_t port;
        uint8_t pin[TICKET_FINGERPRINT_SIZE];
        bool pinned;
        struct ClientResume *resume; /* client-resume.h */
        struct ClientAuto *autop;    /* client-auto.h: CLIENT_TRANSPORT_AUTO only */
        bool udp_allowed;            /* the welcome's cap udp */
        bool transport_reported;
        WireConnKind reported_kind;  /* what on_transport last said */
        /* Over UDP only: tiles ordered per cell, and whether tiles came after the last frame-end */
        bool latest_wins;
        CellFrames cells;
        bool tiles_after_end, frame_end_seen;
        uint32_t last_frame_end;
        uint64_t stale_tiles;
        ClientSessionAgent agent; /* client-session-agent.h */
        ClientMedia *media;       /* client-media.h; NULL with options.no_media */
};


/* Room for the replay buffer's whole content after a resume, and then some. */
#define CLIENT_OUT_LIMIT (2 * 1024 * 1024)

/* Frames the session over conn (owned from now on, freed on failure too) and queues the hello. */
int client_session_start_conn(ClientSession *s, WireConn *conn);
/* A new connection to hostd for a resume, of the session's kind (auto: TCP, the probes are
 * client-auto.c's), with the ticket's pin. */
int client_session_open_conn(ClientSession *s, WireConn **ret);

/* Ends the session: on_closed once. */
void client_session_closed(ClientSession *s, int error, const char *reason);
/* What this viewer announces in hello and resume (hostd takes a resume's as the session's caps). */
uint64_t client_session_caps(ClientSession *s);
/* After s->conn was replaced (start, resume): what depends on the transport's kind. */
void client_session_conn_changed(ClientSession *s);
/* Opens a new transport to hostd (options.open_transport, or TCP + TLS to host:port). */
int client_session_open_transport(ClientSession *s, ByteTransport **ret);
