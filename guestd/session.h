/* tandem-guestd-session: the per-session helper that does the X11 work of the agent (clipboard,
 * seamless windows, RandR resize) for one user's display. It speaks the agent protocol
 * (common/agent.h) as the guest side, to the root daemon over a local socket or to any peer on
 * an inherited fd, and keeps one sd-event loop with the X connection's fd in it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "agent.h"
#include "buffer.h"

typedef struct X11 X11;
typedef struct Clipboard Clipboard;
typedef struct Windows Windows;

/* What the helper offers in its hello. */
#define SESSION_CAPS \
        (AGENT_CAP_CLIPBOARD_TEXT | AGENT_CAP_CLIPBOARD_IMAGE | AGENT_CAP_WINDOWS | AGENT_CAP_RESIZE)
/* Bytes queued toward the peer: room for a burst of window updates and a few clipboard chunks. */
#define SESSION_OUT_LIMIT (UINT32_C(4) << 20)
/* Bulk senders (clipboard data, icons) only add while less than this is queued, so control
 * messages never wait behind megabytes. */
#define SESSION_BULK_QUEUED (UINT32_C(512) << 10)

typedef struct SessionOptions {
        const char *display;     /* NULL: $DISPLAY */
        const char *socket_path; /* connect here (and reconnect) unless fd >= 0 */
        int fd;                  /* an already-connected socket, or -1 */
        bool once;               /* exit when a connection ends instead of connecting again */
} SessionOptions;

typedef struct Session {
        sd_event *event;
        SessionOptions options;
        X11 *x;
        Clipboard *clipboard;
        Windows *windows;

        WireConn *conn; /* NULL while disconnected */
        sd_event_source *conn_source;
        sd_event_source *post_source;
        sd_event_source *x_source;
        sd_event_source *x_defer;
        sd_event_source *reconnect_timer;
        uint64_t reconnect_usec;
        bool peer_hello;
        bool bulk_waiting; /* a sender found no room in this pass */
} Session;

int session_new(sd_event *e, const SessionOptions *o, Session **ret);
Session *session_free(Session *s);
static inline void session_freep(Session **s) {
        session_free(*s);
}

/* Where encoders append; NULL while there is no peer (then nothing is sent). */
Buffer *session_out(Session *s);
/* True while bulk data may be added (connected, and less than SESSION_BULK_QUEUED queued). */
bool session_bulk_room(Session *s);
