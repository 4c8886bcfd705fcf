#include "test-harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "hostd-conf.h"
#include "hostd-console.h"
#include "hostd-domain.h"
#include "hostd-manager-fd.h"
#include "hostd-manager.h"
#include "hostd-viewer.h"
#include "check.h"
#include "log.h"
#include "ticket-test-key.h"
#include "tls.h"
#include "wire-conn-rudp.h"
#include "wire-gen.h"

#define SETUP_TIMEOUT_USEC (5 * 1000000ULL)

uint64_t harness_now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path) < 0 ? -errno : 0;
}

static int write_public_key(const char *path) {
        EVP_PKEY *key = ticket_test_public();
        FILE *f;
        int r = 0;

        if (!key)
                return -ENOMEM;
        f = fopen(path, "we");
        if (!f)
                r = -errno;
        else {
                if (PEM_write_PUBKEY(f, key) != 1)
                        r = -EIO;
                if (fclose(f) != 0 && r == 0)
                        r = -errno;
        }
        EVP_PKEY_free(key);
        return r;
}

int harness_run_until(Harness *h, bool (*done)(void *userdata), void *userdata, uint64_t timeout_usec) {
        uint64_t end = harness_now_usec() + timeout_usec;
        for (;;) {
                if (done && done(userdata))
                        return 0;
                uint64_t now = harness_now_usec();
                if (now >= end)
                        return done ? -ETIMEDOUT : 0;
                int r = sd_event_run(h->event, end - now);
                if (r < 0)
                        return r;
        }
}

bool harness_screen_is(void *userdata) {
        const HarnessScreen *want = userdata;
        const ClientFramebuffer *fb = client_session_framebuffer(want->viewer->session);
        check(!want->viewer->closed);
        if (want->viewer->frames == 0 || !fb->pixels || fb->width != want->w || fb->height != want->h)
                return false;
        for (uint32_t y = 0; y < want->h; y++) {
                const uint32_t *line = (const uint32_t *) (fb->pixels + (size_t) y * fb->stride);
                for (uint32_t x = 0; x < want->w; x++)
                        if ((line[x] & 0xffffff) != (want->px[(size_t) y * want->w + x] & 0xffffff))
                                return false;
        }
        return true;
}

static bool qemu_ready(void *userdata) {
        Harness *h = userdata;
        return fake_qemu_listener_ready(h->qemu) && harness_console(h);
}

/* A config as a host's would be, everything in our directory. */
static int harness_config(Harness *h, const HarnessOptions *o, HostdConfig *c) {
        hostd_config_init(c);
        free(c->state_directory);
        free(c->listen);
        free(c->ticket_public_key);
        c->state_directory = strdup(h->dir);
        c->listen = strdup("127.0.0.1:0");
        if (asprintf(&c->control_socket, "%s/control.sock", h->dir) < 0)
                c->control_socket = NULL;
        if (asprintf(&c->certificate, "%s/hostd-cert.pem", h->dir) < 0)
                c->certificate = NULL;
        if (asprintf(&c->private_key, "%s/hostd-key.pem", h->dir) < 0)
                c->private_key = NULL;
        if (asprintf(&c->ticket_public_key, "%s/ticket-public.pem", h->dir) < 0)
                c->ticket_public_key = NULL;
        if (!c->state_directory || !c->listen || !c->control_socket || !c->certificate || !c->private_key ||
            !c->ticket_public_key)
                return -ENOMEM;
        if (o->frames_in_flight)
                c->frames_in_flight = o->frames_in_flight;
        if (o->max_viewers)
                c->max_viewers = o->max_viewers;
        if (o->resume_seconds)
                c->resume_seconds = o->resume_seconds < 0 ? 0 : (unsigned) o->resume_seconds;
        if (o->transport)
                c->transport = strcmp(o->transport, "udp") == 0 ? HOSTD_TRANSPORT_UDP :
                               strcmp(o->transport, "tcp") == 0 ? HOSTD_TRANSPORT_TCP : HOSTD_TRANSPORT_AUTO;
        if (o->transport_overrides && !(c->transport_overrides = strdup(o->transport_overrides)))
                return -ENOMEM;
        if (o->configure)
                o->configure(c, o->configure_userdata);
        int r = write_public_key(c->ticket_public_key);
        if (r < 0)
                return r;
        return tls_generate_self_signed(c->certificate, c->private_key, "127.0.0.1");
}

int harness_new(const HarnessOptions *opts, Harness **ret) {
        _cleanup_(harness_freep) Harness *h = calloc(1, sizeof(Harness));
        HarnessOptions o = opts ? *opts : (HarnessOptions) {};
        HostdConfig config = {};
        struct sockaddr_in sa;
        socklen_t salen = sizeof(sa);
        int sv[2], r;

        if (!h)
                return -ENOMEM;
        /* TANDEM_HARNESS_LOG=info (or debug) shows what hostd says, for debugging a test. */
        const char *level = getenv("TANDEM_HARNESS_LOG");
        if (level && log_level_from_string(level) >= 0)
                o.log_level = log_level_from_string(level);
        log_set_max_level(o.log_level ? o.log_level : LOG_WARNING);
        h->desktop = strdup(o.desktop ? o.desktop : "harness");
        h->dir = strdup("/tmp/tandem-harness-XXXXXX");
        h->ticket_key = ticket_test_private();
        if (!h->desktop || !h->dir || !h->ticket_key)
                return -ENOMEM;
        if (!mkdtemp(h->dir)) {
                free(h->dir);
                h->dir = NULL;
                return -errno;
        }
        r = harness_config(h, &o, &config);
        if (r >= 0)
                r = manager_new(&config, &h->manager); /* takes the config, also on failure */
        hostd_config_done(&config);
        if (r < 0)
                return r;
        h->event = h->manager->event;
        if (!h->manager->viewers)
                return -EINVAL; /* hostd refused the listener; it logged why */
        if (getsockname(h->manager->viewers->fd, (struct sockaddr *) &sa, &salen) < 0)
                return -errno;
        snprintf(h->host, sizeof(h->host), "127.0.0.1:%u", ntohs(sa.sin_port));
        memcpy(h->fingerprint, h->manager->viewers->fingerprint, sizeof(h->fingerprint));

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        r = fake_qemu_new(h->event, sv[1], &h->qemu);
        if (r < 0) {
                close(sv[0]);
                return r;
        }
        h->qemu->auto_scanout = true;
        h->manager->agent_connect = o.agent_connect;
        h->manager->agent_connect_userdata = o.agent_connect_userdata;
        r = manager_attach_display_fd(h->manager, h->desktop, sv[0]);
        if (r < 0)
                return r;
        r = harness_run_until(h, qemu_ready, h, SETUP_TIMEOUT_USEC);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(h);
        return 0;
}

Harness *harness_free(Harness *h) {
        if (!h)
                return NULL;
        manager_free(h->manager);
        fake_qemu_free(h->qemu);
        tls_context_free(h->client_tls);
        EVP_PKEY_free(h->ticket_key);
        if (h->dir)
                (void) nftw(h->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(h->dir);
        free(h->desktop);
        free(h);
        return NULL;
}

Console *harness_console(Harness *h) {
        Domain *d = manager_find_domain(h->manager, h->desktop);
        return d ? domain_console(d, 0) : NULL;
}

typedef struct ModeWait {
        Harness *harness;
        uint32_t width, height;
        unsigned replies;
} ModeWait;

static bool mode_reached(void *userdata) {
        ModeWait *w = userdata;
        Console *c = harness_console(w->harness);
        return w->harness->qemu->replies >= w->replies && c && c->fb->width == w->width &&
               c->fb->height == w->height;
}

int harness_scanout(Harness *h, uint32_t w, uint32_t ht, const void *pixels) {
        ModeWait wait = { .harness = h, .width = w, .height = ht, .replies = h->qemu->replies + 1 };
        int r = fake_qemu_scanout(h->qemu, w, ht, w * 4, FAKE_QEMU_XRGB, pixels, (size_t) w * ht * 4);
        if (r < 0)
                return r;
        return harness_run_until(h, mode_reached, &wait, SETUP_TIMEOUT_USEC);
}

int harness_ticket(Harness *h, const char *user, TicketRole role, char **ret) {
        Ticket t = { .role = role, .issued = (uint64_t) time(NULL) };
        int r;

        t.expiry = t.issued + TICKET_TTL_DEFAULT;
        memcpy(t.fingerprint, h->fingerprint, sizeof(t.fingerprint));
        if (strlen(h->desktop) >= sizeof(t.desktop) || strlen(user) >= sizeof(t.user))
                return -EINVAL;
        memcpy(t.desktop, h->desktop, strlen(h->desktop) + 1);
        memcpy(t.user, user, strlen(user) + 1);
        memcpy(t.host, h->host, strlen(h->host) + 1);
        r = ticket_randomize_nonce(&t);
        if (r < 0)
                return r;
        return ticket_sign_text(&t, h->ticket_key, ret);
}

/* ---- client viewers ---- */

static int on_viewer_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);

/* A resuming session changes connections (and so fds, whose numbers the kernel may reuse): the
 * io source is made anew whenever the session is or was between connections. */
static void viewer_update_io(HarnessViewer *v) {
        if (v->timer) {
                uint64_t t = v->closed || v->paused ? UINT64_MAX : client_session_next_timeout(v->session);
                if (t == UINT64_MAX)
                        sd_event_source_set_enabled(v->timer, SD_EVENT_OFF);
                else {
                        sd_event_source_set_time(v->timer, t);
                        sd_event_source_set_enabled(v->timer, SD_EVENT_ONESHOT);
                }
        }
        if (!v->io)
                return;
        bool reconnecting = !v->closed && client_session_reconnecting(v->session);
        int fd = v->closed ? -EBADF : client_session_fd(v->session);
        if (reconnecting || v->was_reconnecting || (fd >= 0 && fd != sd_event_source_get_io_fd(v->io))) {
                sd_event_source *io = NULL;
                if (fd >= 0 && sd_event_add_io(v->harness->event, &io, fd, EPOLLIN, on_viewer_io, v) >= 0) {
                        sd_event_source_disable_unref(v->io);
                        v->io = io;
                } else if (fd < 0)
                        sd_event_source_set_enabled(v->io, SD_EVENT_OFF);
        }
        v->was_reconnecting = reconnecting;
        uint32_t events = v->closed || fd < 0 ? 0 : client_session_poll_events(v->session);
        if (v->paused || events == 0)
                sd_event_source_set_enabled(v->io, SD_EVENT_OFF);
        else {
                sd_event_source_set_io_events(v->io, events);
                sd_event_source_set_enabled(v->io, SD_EVENT_ON);
        }
}

void harness_viewer_kick(HarnessViewer *v) {
        if (!v->closed && !v->paused)
                (void) client_session_process(v->session);
        viewer_update_io(v);
}

void harness_viewer_pause(HarnessViewer *v, bool paused) {
        v->paused = paused;
        viewer_update_io(v);
}

static int on_viewer_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        harness_viewer_kick(userdata);
        return 0;
}

static int on_viewer_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        HarnessViewer *v = userdata;
        uint64_t now;
        sd_event_now(v->harness->event, CLOCK_MONOTONIC, &now);
        if (!v->closed && !v->paused)
                (void) client_session_on_timeout(v->session, now);
        viewer_update_io(v);
        return 0;
}

static void on_welcome(ClientSession *s, const char *desktop, int role, void *userdata) {
        HarnessViewer *v = userdata;
        v->welcomed = true;
        v->role = role;
        if (v->callbacks.on_welcome)
                v->callbacks.on_welcome(s, desktop, role, v->userdata);
}

static void on_rejected(ClientSession *s, int code, const char *reason, void *userdata) {
        HarnessViewer *v = userdata;
        v->rejected = code;
        if (v->callbacks.on_rejected)
                v->callbacks.on_rejected(s, code, reason, v->userdata);
}

static void on_frame(ClientSession *s, uint32_t frame, void *userdata) {
        HarnessViewer *v = userdata;
        v->frames++;
        v->last_frame = frame;
        if (v->callbacks.on_frame)
                v->callbacks.on_frame(s, frame, v->userdata);
}

static void on_mode(ClientSession *s, uint32_t width, uint32_t height, void *userdata) {
        HarnessViewer *v = userdata;
        v->modes++;
        if (v->callbacks.on_mode)
                v->callbacks.on_mode(s, width, height, v->userdata);
}

static void on_cursor(ClientSession *s, void *userdata) {
        HarnessViewer *v = userdata;
        v->cursors++;
        if (v->callbacks.on_cursor)
                v->callbacks.on_cursor(s, v->userdata);
}

static void on_role(ClientSession *s, int role, void *userdata) {
        HarnessViewer *v = userdata;
        v->roles++;
        v->role = role;
        if (v->callbacks.on_role)
                v->callbacks.on_role(s, role, v->userdata);
}

static void on_notice(ClientSession *s, int code, const char *text, void *userdata) {
        HarnessViewer *v = userdata;
        v->notices++;
        if (v->callbacks.on_notice)
                v->callbacks.on_notice(s, code, text, v->userdata);
}

static void on_closed(ClientSession *s, int error, const char *reason, void *userdata) {
        HarnessViewer *v = userdata;
        v->closed = true;
        v->close_error = error;
        if (v->callbacks.on_closed)
                v->callbacks.on_closed(s, error, reason, v->userdata);
}

static void on_reconnecting(ClientSession *s, unsigned attempt, unsigned seconds_left, void *userdata) {
        HarnessViewer *v = userdata;
        v->reconnecting++;
        if (v->callbacks.on_reconnecting)
                v->callbacks.on_reconnecting(s, attempt, seconds_left, v->userdata);
}

static void on_resumed(ClientSession *s, void *userdata) {
        HarnessViewer *v = userdata;
        v->resumed++;
        if (v->callbacks.on_resumed)
                v->callbacks.on_resumed(s, v->userdata);
}

static void on_transport(ClientSession *s, WireConnKind kind, void *userdata) {
        HarnessViewer *v = userdata;
        if (v->callbacks.on_transport)
                v->callbacks.on_transport(s, kind, v->userdata);
}

/* The agent's callbacks go straight through to the caller's. */
static void on_agent_status(ClientSession *s, const ClientAgentStatus *status, void *userdata) {
        HarnessViewer *v = userdata;
        if (v->callbacks.on_agent_status)
                v->callbacks.on_agent_status(s, status, v->userdata);
}

static void on_clipboard_grab(ClientSession *s, uint32_t formats, void *userdata) {
        HarnessViewer *v = userdata;
        if (v->callbacks.on_clipboard_grab)
                v->callbacks.on_clipboard_grab(s, formats, v->userdata);
}

static void on_clipboard_data(ClientSession *s, uint8_t format, int error, const uint8_t *data, size_t len,
                              void *userdata) {
        HarnessViewer *v = userdata;
        if (v->callbacks.on_clipboard_data)
                v->callbacks.on_clipboard_data(s, format, error, data, len, v->userdata);
}

static void on_clipboard_request(ClientSession *s, uint8_t format, void *userdata) {
        HarnessViewer *v = userdata;
        if (v->callbacks.on_clipboard_request)
                v->callbacks.on_clipboard_request(s, format, v->userdata);
        else /* what a session without the callback does */
                (void) client_session_clipboard_send(s, format, NULL, 0);
}

static void on_windows(ClientSession *s, void *userdata) {
        HarnessViewer *v = userdata;
        if (v->callbacks.on_windows)
                v->callbacks.on_windows(s, v->userdata);
}

static const ClientCallbacks harness_callbacks = {
        .on_agent_status = on_agent_status,
        .on_clipboard_grab = on_clipboard_grab,
        .on_clipboard_data = on_clipboard_data,
        .on_clipboard_request = on_clipboard_request,
        .on_windows = on_windows,
        .on_transport = on_transport,
        .on_reconnecting = on_reconnecting,
        .on_resumed = on_resumed,
        .on_welcome = on_welcome,
        .on_rejected = on_rejected,
        .on_frame = on_frame,
        .on_mode = on_mode,
        .on_cursor = on_cursor,
        .on_role = on_role,
        .on_notice = on_notice,
        .on_closed = on_closed,
};

int harness_viewer_new_ticket(Harness *h, const char *ticket, const ClientOptions *options,
                              const ClientCallbacks *callbacks, void *userdata, HarnessViewer **ret) {
        _cleanup_(harness_viewer_freep) HarnessViewer *v = calloc(1, sizeof(HarnessViewer));
        int r;

        if (!v)
                return -ENOMEM;
        v->harness = h;
        v->role = 1;
        v->callbacks = callbacks ? *callbacks : (ClientCallbacks) {};
        v->userdata = userdata;
        ClientCallbacks cb = harness_callbacks;
        cb.media = v->callbacks.media; /* as they are: their userdata is the HarnessViewer */
        r = client_session_new(ticket, options, &cb, v, &v->session);
        if (r < 0)
                return r;
        r = sd_event_add_io(h->event, &v->io, client_session_fd(v->session), client_session_poll_events(v->session),
                            on_viewer_io, v);
        if (r < 0)
                return r;
        r = sd_event_add_time(h->event, &v->timer, CLOCK_MONOTONIC, UINT64_MAX, 1, on_viewer_timer, v); /* rudp: no 250 ms slack */
        if (r < 0)
                return r;
        viewer_update_io(v);
        *ret = TAKE_PTR(v);
        return 0;
}

int harness_viewer_new(Harness *h, const char *user, TicketRole role, const ClientOptions *options,
                       const ClientCallbacks *callbacks, void *userdata, HarnessViewer **ret) {
        _cleanup_(freep) char *ticket = NULL;
        int r = harness_ticket(h, user, role, &ticket);
        if (r < 0)
                return r;
        return harness_viewer_new_ticket(h, ticket, options, callbacks, userdata, ret);
}

int harness_viewer_new_udp(Harness *h, const char *user, TicketRole role, const FdDatagramOptions *client_path,
                           const FdDatagramOptions *server_path, const ClientOptions *options,
                           const ClientCallbacks *callbacks, void *userdata, HarnessViewer **ret) {
        _cleanup_(harness_viewer_freep) HarnessViewer *v = calloc(1, sizeof(HarnessViewer));
        _cleanup_(freep) char *text = NULL;
        uint8_t ticket[TICKET_SIZE_MAX];
        size_t ticket_len;
        DatagramTransport *ct, *st;
        WireConn *cc, *sc;
        Viewer *server_viewer;
        int fds[2], r;

        if (!v)
                return -ENOMEM;
        r = harness_ticket(h, user, role, &text);
        if (r < 0)
                return r;
        r = ticket_text_decode(text, strlen(text), ticket, sizeof(ticket), &ticket_len);
        if (r < 0)
                return r;
        if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0)
                return -errno;
        /* Room for bursts: loss in these tests is the impairment's, not the socket buffer's. */
        int size = 4 << 20;
        for (int i = 0; i < 2; i++) {
                (void) setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
                (void) setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
        }
        r = fd_datagram_new(fds[1], server_path, &st);
        if (r < 0) {
                close(fds[0]);
                return r;
        }
        r = wire_conn_new_rudp(st, NULL, true, VIEWER_OUT_LIMIT, &sc);
        if (r < 0) {
                close(fds[0]);
                return r;
        }
        r = viewer_new_conn(h->manager->viewers, sc, "udp-harness", &server_viewer);
        if (r < 0) {
                close(fds[0]);
                return r;
        }
        r = fd_datagram_new(fds[0], client_path, &ct);
        if (r < 0)
                return r;
        r = wire_conn_new_rudp(ct, NULL, false, 1u << 20, &cc);
        if (r < 0)
                return r;

        v->harness = h;
        v->role = 1;
        v->callbacks = callbacks ? *callbacks : (ClientCallbacks) {};
        v->userdata = userdata;
        v->client_path = ct;
        v->server_path = st;
        r = client_session_new_conn(cc, ticket, ticket_len, options, &harness_callbacks, v, &v->session);
        if (r < 0)
                return r;
        r = sd_event_add_io(h->event, &v->io, client_session_fd(v->session), client_session_poll_events(v->session),
                            on_viewer_io, v);
        if (r < 0)
                return r;
        r = sd_event_add_time(h->event, &v->timer, CLOCK_MONOTONIC, UINT64_MAX, 1, on_viewer_timer, v); /* rudp: no 250 ms slack */
        if (r < 0)
                return r;
        harness_viewer_kick(v); /* sends the hello */
        *ret = TAKE_PTR(v);
        return 0;
}

HarnessViewer *harness_viewer_free(HarnessViewer *v) {
        if (!v)
                return NULL;
        sd_event_source_disable_unref(v->io);
        sd_event_source_disable_unref(v->timer);
        /* A viewer that leaves says bye, as tandem-viewer does: without it, hostd would keep the
         * session for a resume. harness_viewer_crash() is the other way to go. */
        if (v->session && !v->closed && !v->crash)
                (void) client_session_close(v->session);
        client_session_free(v->session);
        free(v);
        return NULL;
}

/* ---- raw viewers ---- */

static void raw_update_io(HarnessRaw *raw) {
        int r = wire_conn_flush(raw->conn);
        if (r < 0 && r != -EAGAIN && raw->error == 0)
                raw->error = r;
        if (raw->error < 0)
                sd_event_source_set_enabled(raw->io, SD_EVENT_OFF);
        else
                sd_event_source_set_io_events(raw->io, wire_conn_poll_events(raw->conn));
}

static int on_raw_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        HarnessRaw *raw = userdata;
        WireMessage m;
        int r;

        while ((r = wire_conn_receive(raw->conn, &m)) > 0) {
                raw->received++;
                if (m.type == WIRE_TYPE_BYE)
                        raw->bye_code = m.bye.code;
                if (m.type == WIRE_TYPE_REJECT)
                        raw->reject_code = m.reject.code;
                if (raw->on_message)
                        raw->on_message(raw, &m, raw->userdata);
        }
        if (r < 0 && raw->error == 0)
                raw->error = r;
        raw_update_io(raw);
        return 0;
}

static int connect_loopback(const char *host) {
        const char *colon = strrchr(host, ':');
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd, one = 1;

        sa.sin_port = htons((uint16_t) strtoul(colon + 1, NULL, 10));
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static int raw_new(Harness *h, const char *ticket_text, const WireResume *resume, uint64_t caps, HarnessRaw **ret) {
        _cleanup_(harness_raw_freep) HarnessRaw *raw = calloc(1, sizeof(HarnessRaw));
        _cleanup_(freep) char *own = NULL;
        uint8_t ticket[TICKET_SIZE_MAX];
        size_t ticket_len = 0;
        ByteTransport *t;
        int fd, r;

        if (!raw)
                return -ENOMEM;
        raw->harness = h;
        raw->bye_code = -1;
        if (!ticket_text && !resume) {
                r = harness_ticket(h, "raw", TICKET_ROLE_INTERACTIVE, &own);
                if (r < 0)
                        return r;
                ticket_text = own;
        }
        r = resume ? 0 : ticket_text_decode(ticket_text, strlen(ticket_text), ticket, sizeof(ticket), &ticket_len);
        if (r < 0)
                return r;
        if (!h->client_tls) {
                char *error = NULL;
                h->client_tls = tls_client_context_new(&error);
                free(error);
                if (!h->client_tls)
                        return -ENOMEM;
        }
        fd = connect_loopback(h->host);
        if (fd < 0)
                return fd;
        r = tls_transport_new(h->client_tls, fd, false, h->fingerprint, "127.0.0.1", &t);
        if (r < 0)
                return r;
        r = wire_conn_new(t, 4u << 20, &raw->conn);
        if (r < 0)
                return r;
        wire_conn_set_accept(raw->conn, WIRE_DIR_S2C);
        if (resume)
                r = wire_encode_resume(wire_conn_out(raw->conn), resume);
        else {
                WireHello hello = { .magic = WIRE_MAGIC, .version = 1, .caps = caps, .ticket = ticket,
                                    .ticket_len = ticket_len };
                r = wire_encode_hello(wire_conn_out(raw->conn), &hello);
        }
        if (r < 0)
                return r;
        r = sd_event_add_io(h->event, &raw->io, wire_conn_fd(raw->conn), wire_conn_poll_events(raw->conn), on_raw_io,
                            raw);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(raw);
        return 0;
}

int harness_raw_new(Harness *h, const char *ticket_text, HarnessRaw **ret) {
        return raw_new(h, ticket_text, NULL, 0x1f, ret);
}

int harness_raw_new_caps(Harness *h, const char *ticket_text, uint64_t caps, HarnessRaw **ret) {
        return raw_new(h, ticket_text, NULL, caps, ret);
}

int harness_raw_new_resume(Harness *h, const WireResume *resume, HarnessRaw **ret) {
        return raw_new(h, NULL, resume, 0x1f, ret);
}

HarnessRaw *harness_raw_free(HarnessRaw *raw) {
        if (!raw)
                return NULL;
        sd_event_source_disable_unref(raw->io);
        wire_conn_free(raw->conn);
        free(raw);
        return NULL;
}

int harness_raw_send(HarnessRaw *raw, const void *data, size_t len) {
        int r = buffer_append(wire_conn_out(raw->conn), data, len);
        if (r < 0)
                return r;
        raw_update_io(raw);
        return 0;
}
