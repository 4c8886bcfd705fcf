/* The helper's manager: the peer connection (agent protocol, guest side), the X connection in the
 * same loop, and the dispatch between them. After every wake-up a post source drains Xlib's
 * queue (replies can bring events in without the fd becoming readable), lets the windows and the
 * clipboard send what they have, and flushes both connections. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "session.h"
#include "x11-clipboard.h"
#include "x11-display.h"
#include "x11-randr.h"
#include "x11-windows.h"

#define RECONNECT_FIRST_USEC (UINT64_C(1000000))
#define RECONNECT_MAX_USEC (UINT64_C(30000000))

Buffer *session_out(Session *s) {
        return s->conn ? wire_conn_out(s->conn) : NULL;
}

bool session_bulk_room(Session *s) {
        bool room = s->conn && wire_conn_queued(s->conn) < SESSION_BULK_QUEUED;
        /* A sender that waits for room is woken when the socket takes more (flush()). */
        if (!room)
                s->bulk_waiting = true;
        return room;
}

static void send_hello(Session *s) {
        AgentHello h;
        agent_hello_init(&h, SESSION_CAPS, "tandem-guestd-session " PROJECT_VERSION);
        (void) agent_encode_hello(session_out(s), &h);
}

static void disconnect(Session *s, int r);
static int connect_socket(Session *s);

static void handle(Session *s, const AgentMessage *m) {
        switch (m->channel) {
        case AGENT_CHANNEL_CONTROL:
                if (m->type == AGENT_TYPE_HELLO) {
                        int r = agent_hello_check(&m->hello);
                        if (r < 0) {
                                AgentBye bye = { .code = AGENT_CODE_VERSION, .reason = "version 1 only", .reason_len = 14 };
                                (void) agent_encode_bye(session_out(s), &bye);
                                (void) wire_conn_flush(s->conn);
                                disconnect(s, r);
                                return;
                        }
                        log_debug("Peer hello: %.*s, caps 0x%" PRIx64, (int) m->hello.software_len, m->hello.software,
                                  m->hello.caps);
                        /* Answer every hello: the peer may have started over, so it gets
                         * everything again. */
                        send_hello(s);
                        windows_peer_connected(s->windows);
                        clipboard_peer_connected(s->clipboard);
                        s->peer_hello = true;
                } else if (m->type == AGENT_TYPE_BYE)
                        log_info("Peer said bye (%u): %.*s", m->bye.code, (int) m->bye.reason_len, m->bye.reason);
                break;
        case AGENT_CHANNEL_CLIPBOARD:
                clipboard_handle_message(s->clipboard, m);
                break;
        case AGENT_CHANNEL_WINDOWS:
                if (m->type == AGENT_TYPE_WINDOW_ACTION)
                        windows_action(s->windows, &m->window_action);
                break;
        case AGENT_CHANNEL_DISPLAY:
                if (m->type == AGENT_TYPE_RESIZE_REQUEST) {
                        const AgentResizeRequest *q = &m->resize_request;
                        AgentResizeDone d = { .serial = q->serial };
                        d.status = x11_randr_resize(s->x, q->width, q->height, &d.width, &d.height);
                        log_debug("Resize %u to %ux%u: %s, now %ux%u", q->serial, q->width, q->height,
                                  agent_status_name(d.status), d.width, d.height);
                        (void) agent_encode_resize_done(session_out(s), &d);
                }
                break;
        default:
                /* Session and power belong to the root daemon. */
                log_debug("Message %s is not for the session helper, ignoring", agent_type_name(m->type));
        }
}

static int on_conn_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        Session *s = userdata;
        AgentMessage m;
        int r = 0;
        while (s->conn && (r = agent_conn_receive(s->conn, &m)) > 0)
                handle(s, &m);
        if (s->conn && r < 0)
                disconnect(s, r);
        return 0;
}

static int on_x_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        /* The post source reads the events. */
        return 0;
}

static void flush(Session *s) {
        if (!s->conn)
                return;
        int r = wire_conn_flush(s->conn);
        if (r < 0 && r != -EAGAIN) {
                disconnect(s, r);
                return;
        }
        /* Waiting bulk senders need a wake-up even when the queue is empty by now. */
        (void) sd_event_source_set_io_events(s->conn_source,
                                             wire_conn_poll_events(s->conn) | (s->bulk_waiting ? EPOLLOUT : 0));
}

static int on_post(sd_event_source *source, void *userdata) {
        Session *s = userdata;
        Display *dpy = s->x->dpy;
        s->bulk_waiting = false;
        /* Each pass may send requests that bring events; a few passes settle it. */
        for (int pass = 0; pass < 4; pass++) {
                while (XPending(dpy)) {
                        XEvent ev;
                        XNextEvent(dpy, &ev);
                        windows_handle_event(s->windows, &ev);
                        clipboard_handle_event(s->clipboard, &ev);
                }
                windows_sync(s->windows);
                if (!XPending(dpy))
                        break;
        }
        clipboard_pump(s->clipboard);
        XFlush(dpy);
        flush(s);
        /* Events already read into Xlib's queue do not make the fd readable: come back. */
        if (XEventsQueued(dpy, QueuedAlready) > 0)
                (void) sd_event_source_set_enabled(s->x_defer, SD_EVENT_ONESHOT);
        return 0;
}

static int on_x_defer(sd_event_source *source, void *userdata) {
        /* Only here so that the post source runs again. */
        return 0;
}

/* ---- the peer connection ---- */

static int attach(Session *s, int fd) {
        ByteTransport *t;
        WireConn *c;
        int r = fd_transport_new(fd, &t);
        if (r < 0)
                return r;
        r = agent_conn_new(t, SESSION_OUT_LIMIT, AGENT_DIR_H2G, &c);
        if (r < 0)
                return r;
        r = sd_event_add_io(s->event, &s->conn_source, fd, EPOLLIN | EPOLLOUT, on_conn_io, s);
        if (r < 0) {
                wire_conn_free(c);
                return r;
        }
        s->conn = c;
        s->reconnect_usec = 0;
        s->peer_hello = false;
        send_hello(s);
        windows_peer_connected(s->windows);
        clipboard_peer_connected(s->clipboard);
        return 0;
}

static int on_reconnect(sd_event_source *source, uint64_t usec, void *userdata) {
        Session *s = userdata;
        s->reconnect_timer = sd_event_source_disable_unref(s->reconnect_timer);
        int r = connect_socket(s);
        if (r < 0)
                disconnect(s, r);
        else
                log_info("Connected to %s", s->options.socket_path);
        return 0;
}

/* The peer is gone: with --fd or --once the helper's work is over (a restarted tandem-guestd
 * starts its own helpers: one that reconnected would be a second for the same display); with a
 * socket it tries again later. */
static void disconnect(Session *s, int r) {
        bool was_connected = s->conn;
        if (s->conn) {
                const char *why = wire_conn_error(s->conn);
                if (r == -ECONNRESET)
                        log_info("Peer closed the connection");
                else
                        log_warning_errno(r, "Peer connection failed: %s", why ? why : strerror(-r));
                s->conn_source = sd_event_source_disable_unref(s->conn_source);
                s->conn = wire_conn_free(s->conn);
                clipboard_peer_lost(s->clipboard);
        }
        if (!s->options.socket_path || (s->options.once && was_connected)) {
                sd_event_exit(s->event, r == -ECONNRESET ? 0 : 1);
                return;
        }
        s->reconnect_usec = s->reconnect_usec ? MIN(s->reconnect_usec * 2, RECONNECT_MAX_USEC) : RECONNECT_FIRST_USEC;
        log_debug("Connecting again to %s in %" PRIu64 " ms", s->options.socket_path, s->reconnect_usec / 1000);
        if (sd_event_add_time_relative(s->event, &s->reconnect_timer, CLOCK_MONOTONIC, s->reconnect_usec, 0, on_reconnect, s) < 0)
                sd_event_exit(s->event, 1);
}

static int connect_socket(Session *s) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t n = strlen(s->options.socket_path);
        if (n >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, s->options.socket_path, n);
        _cleanup_(closep) int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* A local socket connects at once or not at all; non-blocking afterwards. */
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
                return -errno;
        return attach(s, TAKE_FD(fd));
}

int session_new(sd_event *e, const SessionOptions *o, Session **ret) {
        _cleanup_(session_freep) Session *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(e);
        s->options = *o;

        int r = x11_new(o->display, &s->x);
        if (r == -ENXIO)
                return log_error_errno(r, "Cannot open X display %s", o->display ? o->display : "$DISPLAY");
        if (r < 0)
                return log_error_errno(r, "X display lacks XFixes: %m");
        if (!s->x->has_randr)
                log_info("No RandR 1.2 on this display: resize requests will be answered unsupported");
        if ((r = windows_new(s, &s->windows)) < 0 || (r = clipboard_new(s, &s->clipboard)) < 0)
                return log_error_errno(r, "Cannot set up: %m");
        r = sd_event_add_io(e, &s->x_source, x11_fd(s->x), EPOLLIN, on_x_io, s);
        if (r >= 0)
                r = sd_event_add_post(e, &s->post_source, on_post, s);
        if (r >= 0)
                r = sd_event_add_defer(e, &s->x_defer, on_x_defer, s);
        if (r >= 0)
                r = sd_event_source_set_enabled(s->x_defer, SD_EVENT_OFF);
        if (r < 0)
                return log_error_errno(r, "Cannot watch the X connection: %m");

        if (o->fd >= 0) {
                int fl = fcntl(o->fd, F_GETFL);
                if (fl < 0 || fcntl(o->fd, F_SETFL, fl | O_NONBLOCK) < 0)
                        return log_error_errno(-errno, "Bad --fd %d: %m", o->fd);
                r = attach(s, o->fd);
                if (r < 0)
                        return log_error_errno(r, "Cannot use --fd %d: %m", o->fd);
        } else {
                r = connect_socket(s);
                if (r < 0) {
                        log_warning_errno(r, "Cannot connect to %s yet: %m", o->socket_path);
                        disconnect(s, r);
                } else
                        log_info("Connected to %s", o->socket_path);
        }
        *ret = TAKE_PTR(s);
        return 0;
}

Session *session_free(Session *s) {
        if (!s)
                return NULL;
        sd_event_source_disable_unref(s->conn_source);
        sd_event_source_disable_unref(s->post_source);
        sd_event_source_disable_unref(s->x_source);
        sd_event_source_disable_unref(s->x_defer);
        sd_event_source_disable_unref(s->reconnect_timer);
        wire_conn_free(s->conn);
        clipboard_free(s->clipboard);
        windows_free(s->windows);
        x11_free(s->x);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}
