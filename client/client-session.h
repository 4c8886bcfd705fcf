/* A viewer's session with tandem-hostd: TLS connection (the server's certificate pinned by the
 * fingerprint in the ticket), handshake, and the display, cursor and input channels. It owns no
 * event loop: the front end waits on client_session_fd() for client_session_poll_events() and
 * calls client_session_process(), so an SDL loop, a poll loop or sd-event can drive it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "byte-transport.h"
#include "client-agent.h"
#include "client-media.h"
#include "decoder.h"
#include "macro.h"
#include "wire-conn.h"

typedef struct ClientSession ClientSession;

typedef struct ClientCursor {
        uint16_t width, height, hot_x, hot_y;
        uint8_t *argb; /* width * height * 4, premultiplied as QEMU sends it */
        int32_t x, y;
        bool visible;
        uint64_t shape_serial; /* bumped when the shape changes */
} ClientCursor;

typedef struct ClientCallbacks {
        /* The handshake succeeded: role 0 interactive, 1 view-only. */
        void (*on_welcome)(ClientSession *s, const char *desktop, int role, void *userdata);
        /* hostd refused us: code as in the wire protocol's reject codes, reason for the user. */
        void (*on_rejected)(ClientSession *s, int code, const char *reason, void *userdata);
        /* A frame is complete in client_session_framebuffer(); it was acknowledged already. */
        void (*on_frame)(ClientSession *s, uint32_t frame, void *userdata);
        void (*on_mode)(ClientSession *s, uint32_t width, uint32_t height, void *userdata);
        void (*on_cursor)(ClientSession *s, void *userdata);
        void (*on_role)(ClientSession *s, int role, void *userdata);
        void (*on_notice)(ClientSession *s, int code, const char *text, void *userdata);
        /* The session ended: error < 0 (transport or protocol), or 0 after a bye. */
        void (*on_closed)(ClientSession *s, int error, const char *reason, void *userdata);
        /* The connection was lost (or is being replaced) and the session is resuming: attempt
         * counts connections tried (0 when it was just lost), seconds_left until hostd gives the
         * session up. The framebuffer stays; input is queued. */
        void (*on_reconnecting)(ClientSession *s, unsigned attempt, unsigned seconds_left, void *userdata);
        /* The session resumed on a new connection: the display is refreshed in full next. */
        void (*on_resumed)(ClientSession *s, void *userdata);
        /* The session runs on this transport from now on (at the start, and whenever a resume
         * or a move put it on the other kind). */
        void (*on_transport)(ClientSession *s, WireConnKind kind, void *userdata);

        /* The agent (client-agent.h): hostd said agent-status (client_session_agent_status()). */
        void (*on_agent_status)(ClientSession *s, const ClientAgentStatus *status, void *userdata);
        /* The guest's clipboard has new content in these formats (CLIENT_CLIPBOARD_* bits), or
         * none (0: released, or the feature went away). Nothing is transferred until
         * client_session_clipboard_request(). */
        void (*on_clipboard_grab)(ClientSession *s, uint32_t formats, void *userdata);
        /* A request's answer: error 0 with the data (len bytes, NUL-terminated, len 0 when the
         * guest had nothing), or error < 0 and no data when the transfer was dropped (too large,
         * out of order) or superseded by a newer grab. */
        void (*on_clipboard_data)(ClientSession *s, uint8_t format, int error, const uint8_t *data, size_t len,
                                  void *userdata);
        /* hostd wants our clipboard (the current grab) in format: answer with
         * client_session_clipboard_send(), at once or later. Without this callback the session
         * answers with nothing. */
        void (*on_clipboard_request)(ClientSession *s, uint8_t format, void *userdata);
        /* The guest's window table changed (client_session_windows()). */
        void (*on_windows)(ClientSession *s, void *userdata);
        /* Every message received, before it is handled (measurements: bytes per message type):
         * size on the wire with its header (0 over UDP). */
        void (*on_received)(ClientSession *s, const WireMessage *m, size_t size, void *userdata);

        /* The media channel (client-media.h): its callbacks get the session's userdata; out is
         * the session's own (whatever is set there is not used). */
        ClientMediaCallbacks media;
} ClientCallbacks;

typedef enum ClientTransport {
        CLIENT_TRANSPORT_TCP = 0, /* TLS 1.3 over TCP */
        CLIENT_TRANSPORT_UDP,     /* rudp over DTLS 1.2 over UDP, at the same host and port */
        CLIENT_TRANSPORT_AUTO,    /* both at once, UDP preferred; a TCP session moves onto UDP when it
                                   * can, and back when UDP goes silent (client-auto.h) */
} ClientTransport;

typedef struct ClientOptions {
        const char *host;      /* overrides the ticket's host:port when set */
        uint16_t port;
        bool lossless;         /* ask hostd never to send lossy tiles */
        int quality;           /* 0: hostd's default */
        bool insecure_no_pin;  /* tests only: accept any certificate when the ticket pins none */
        ClientTransport transport;
        bool no_resume;        /* do not offer session resumption */
        uint64_t withhold_caps; /* tests only: capability bits not to announce (a viewer from before them) */
        uint64_t dead_after_usec; /* no byte from hostd this long: the connection is dead; 0: 4 s */
        /* Opens the transport of a new connection for a resume; NULL: TCP + TLS as at the start
         * (a client_session_new_transport() session without it cannot resume). */
        int (*open_transport)(void *userdata, ByteTransport **ret);
        void *open_userdata;
        /* The media channel (client-media.h): offered (cap media and the codecs here) unless
         * no_media; the options say how audio is decoded and whether a microphone is offered. */
        bool no_media;
        ClientMediaOptions media;
} ClientOptions;

/* Parses the ticket (base64url text) for its host and fingerprint and starts connecting
 * (non-blocking). Errors here are local (bad ticket text, no such host). */
int client_session_new(const char *ticket, const ClientOptions *options, const ClientCallbacks *callbacks,
                       void *userdata, ClientSession **ret);
/* The session over a transport the caller made, e.g. one end of mem_transport_pair(): for tests
 * and fuzzers, which need neither TLS nor a network. Takes ownership of t (freed on failure too).
 * ticket (ticket_len bytes, at most TICKET_SIZE_MAX; may be NULL with 0) goes into the hello
 * as it is, unparsed. A transport without an fd cannot be waited on: the caller calls
 * client_session_process() whenever the peer may have written or read. */
int client_session_new_transport(ByteTransport *t, const uint8_t *ticket, size_t ticket_len,
                                 const ClientOptions *options, const ClientCallbacks *callbacks, void *userdata,
                                 ClientSession **ret);
/* The same over a WireConn of either kind (owned from now on, freed on failure too): over rudp
 * (UDP), tiles are ordered per 64x64 cell and the session has timers (below). */
int client_session_new_conn(WireConn *conn, const uint8_t *ticket, size_t ticket_len, const ClientOptions *options,
                            const ClientCallbacks *callbacks, void *userdata, ClientSession **ret);
ClientSession *client_session_free(ClientSession *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(ClientSession *, client_session_free);

/* CLIENT_TRANSPORT_AUTO sessions (from client_session_new()) answer an epoll fd holding every
 * connection they wait on (the race, a UDP probe), for EPOLLIN only. */
int client_session_fd(ClientSession *s);
uint32_t client_session_poll_events(ClientSession *s); /* EPOLLIN / EPOLLOUT */
/* Does all pending work; returns 0, or <0 once the session is closed (on_closed was called). */
int client_session_process(ClientSession *s);
/* When client_session_on_timeout() (or process) must run even if the fd stays quiet: the
 * transport's timers (UDP), liveness, acks, reconnection. CLOCK_MONOTONIC usec, UINT64_MAX for
 * never. The fd may change across a resume (and be -EBADF between attempts): ask for it again
 * after every process. on_timeout runs the transport's timers and then client_session_process(),
 * whose result it returns. */
uint64_t client_session_next_timeout(ClientSession *s);
int client_session_on_timeout(ClientSession *s, uint64_t now_usec);
/* Which transport the session runs on (STREAM while an auto session is still racing), and rudp's
 * figures (-EOPNOTSUPP over TLS). */
WireConnKind client_session_transport(ClientSession *s);
int client_session_rudp_stats(ClientSession *s, RudpStats *ret);
/* Tiles dropped as older than what a cell showed (each asked for again with refresh-area). */
uint64_t client_session_stale_tiles(ClientSession *s);
/* Whether the session is between connections (resuming). */
bool client_session_reconnecting(ClientSession *s);
/* Moves the session onto a new connection now, by resuming on it while the current one is left
 * as it is (hostd then closes it): e.g. onto another transport. -ENOTCONN when the session
 * cannot resume (no token yet, or no resume negotiated). */
int client_session_reconnect(ClientSession *s);

const ClientFramebuffer *client_session_framebuffer(ClientSession *s);
const ClientCursor *client_session_cursor(ClientSession *s);
int client_session_role(ClientSession *s);
uint64_t client_session_id(ClientSession *s);
uint64_t client_session_bytes_received(ClientSession *s);

/* Input (ignored by hostd for a view-only viewer). Keycodes are QEMU's (PC XT scancodes,
 * 0x80|code for E0-prefixed keys). Buttons: 0 left, 1 middle, 2 right, 3/4 wheel up/down. */
int client_session_key(ClientSession *s, uint32_t keycode, bool down);
int client_session_mouse_button(ClientSession *s, uint8_t button, bool down);
int client_session_mouse_absolute(ClientSession *s, uint32_t x, uint32_t y);
int client_session_mouse_relative(ClientSession *s, int32_t dx, int32_t dy);
int client_session_handover(ClientSession *s, uint64_t to_session);
int client_session_refresh(ClientSession *s);
/* ---- The agent's features (schema/wire-protocol.md; client-agent.h) ---- */

const ClientAgentStatus *client_session_agent_status(ClientSession *s);
/* Our clipboard changed and holds these formats (CLIENT_CLIPBOARD_* bits): a grab with a new
 * serial goes to hostd now, or when the agent's clipboard feature comes on (-EOPNOTSUPP says it
 * is off now; the formats are kept). 0 formats: released. */
int client_session_clipboard_grab(ClientSession *s, uint32_t formats);
/* Asks for the guest's current grab in format; the answer comes through on_clipboard_data.
 * -ENODATA when the guest holds no such grab now. */
int client_session_clipboard_request(ClientSession *s, uint8_t format);
/* Answers on_clipboard_request (the data is copied and sent in chunks as the connection drains).
 * -ESTALE when our grab changed since, -EFBIG over CLIENT_CLIPBOARD_TOTAL_MAX (then hostd gets
 * nothing: total 0). */
int client_session_clipboard_send(ClientSession *s, uint8_t format, const uint8_t *data, size_t len);
/* hostd types text (UTF-8, at most CLIENT_PASTE_TEXT_MAX bytes: -E2BIG) through the hypervisor's
 * keyboard, agent or not. */
int client_session_paste_text(ClientSession *s, const char *text, size_t len);
/* The viewer's size: resize-request, coalesced (the last size wins, at most one request per
 * CLIENT_RESIZE_INTERVAL_USEC; client_session_next_timeout() covers the wait). -EOPNOTSUPP when
 * hostd does not take resize requests. */
int client_session_resize(ClientSession *s, uint32_t width, uint32_t height);
/* The guest's windows, bottom to top (empty unless the agent's windows feature is on). */
const ClientWindows *client_session_windows(ClientSession *s);
/* window-action: op WIRE_OP_*; geometry for move-resize only. -ENOENT for a window not in the
 * table, -EOPNOTSUPP when the windows feature is off. */
int client_session_window_action(ClientSession *s, uint32_t id, uint8_t op, int32_t x, int32_t y, uint32_t width,
                                 uint32_t height);

/* ---- The media channel (client-media.h): streams, presentation, the mixer, the microphone ---- */

/* NULL with options.no_media. Streams stop (on_stop) when the session closes. */
ClientMedia *client_session_media(ClientSession *s);

/* Sends bye and closes once it is written. */
int client_session_close(ClientSession *s);
/* After client_session_close(): drives the connection until the bye was taken (TCP) or
 * acknowledged (UDP: it may wait for a pacing slot or a resend), or until `end` (monotonic us).
 * Without it a UDP viewer could exit first, and hostd, hearing nothing, kept the session as if the
 * link had dropped. */
void client_session_drain(ClientSession *s, uint64_t end);
