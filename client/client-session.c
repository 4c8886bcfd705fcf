#include "client-session.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client-auto.h"
#include "client-cells.h"
#include "client-resume.h"
#include "client-session-internal.h"
#include "client-session-media.h"
#include "dtls-datagram.h"
#include "wire-conn-rudp.h"
#include "macro.h"
#include "ticket.h"
#include "tls.h"
#include "udp-batch.h"
#include "wire-conn.h"
#include "wire-gen.h"

#define PROTOCOL_VERSION 1
#define CLIENT_CAPS                                                                                                \
        (WIRE_CAP_CODEC_SOLID | WIRE_CAP_CODEC_LOSSLESS | WIRE_CAP_CODEC_JPEG | WIRE_CAP_CURSOR_CHANNEL |            \
         WIRE_CAP_INPUT_CHANNEL | WIRE_CAP_RESUME | WIRE_CAP_UDP | WIRE_CAP_AGENT | WIRE_CAP_CLIPBOARD |             \
         WIRE_CAP_WINDOWS | WIRE_CAP_RESIZE | WIRE_CAP_TILE_BATCH)

uint64_t client_session_caps(ClientSession *s) {
        uint64_t caps = CLIENT_CAPS | client_session_media_caps(s);
        if (!s->resume)
                caps &= ~WIRE_CAP_RESUME;
        return caps & ~s->options.withhold_caps;
}

void client_session_closed(ClientSession *s, int error, const char *reason) {
        if (s->state == SESSION_CLOSED)
                return;
        s->state = SESSION_CLOSED;
        if (s->media)
                client_media_reset(s->media); /* every stream stops */
        if (s->cb.on_closed)
                s->cb.on_closed(s, error, reason, s->userdata);
}

static int connect_tcp(const char *host, uint16_t port) {
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
        char service[8];
        int fd = -1, one = 1;

        snprintf(service, sizeof(service), "%u", port);
        if (getaddrinfo(host, service, &hints, &ai) != 0)
                return -EHOSTUNREACH;
        for (struct addrinfo *a = ai; a; a = a->ai_next) {
                fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        continue;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 || errno == EINPROGRESS)
                        break;
                close(fd);
                fd = -1;
        }
        freeaddrinfo(ai);
        return fd >= 0 ? fd : -ECONNREFUSED;
}


static int connect_udp(const char *host, uint16_t port) {
        struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *ai = NULL;
        char service[8];
        int fd = -1;

        snprintf(service, sizeof(service), "%u", port);
        if (getaddrinfo(host, service, &hints, &ai) != 0)
                return -EHOSTUNREACH;
        for (struct addrinfo *a = ai; a; a = a->ai_next) {
                fd = socket(a->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        continue;
                (void) udp_socket_set_pmtudisc(fd, a->ai_family);
                udp_socket_set_buffers(fd, UDP_SOCKET_BUFFER); /* the display arrives here */
                if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
                        break;
                close(fd);
                fd = -1;
        }
        freeaddrinfo(ai);
        return fd >= 0 ? fd : -ECONNREFUSED;
}

/* rudp over DTLS to host:port, hostd's certificate pinned as for TLS. */
int client_session_open_udp(ClientSession *s, WireConn **ret, DatagramTransport **ret_dt) {
        DatagramTransport *t;
        WireConn *conn;
        int r;

        if (!s->dtls) {
                char *error = NULL;
                s->dtls = dtls_client_context_new(&error);
                free(error);
                if (!s->dtls)
                        return -ENOMEM;
        }
        int fd = connect_udp(s->host, s->port);
        if (fd < 0)
                return fd;
        r = dtls_datagram_new_client(s->dtls, fd, s->pinned ? s->pin : NULL, &t);
        if (r < 0)
                return r;
        r = wire_conn_new_rudp(t, NULL, false, CLIENT_OUT_LIMIT, &conn);
        if (r < 0)
                return r;
        wire_conn_set_accept(conn, WIRE_DIR_S2C);
        *ret = conn;
        if (ret_dt)
                *ret_dt = t;
        return 0;
}

int client_session_open_conn(ClientSession *s, WireConn **ret) {
        ByteTransport *t;
        int r;

        if (!s->options.open_transport && s->options.transport == CLIENT_TRANSPORT_UDP)
                return client_session_open_udp(s, ret, NULL);
        r = client_session_open_transport(s, &t);
        if (r < 0)
                return r;
        r = wire_conn_new(t, CLIENT_OUT_LIMIT, ret); /* owns t, even on failure */
        if (r < 0)
                return r;
        wire_conn_set_accept(*ret, WIRE_DIR_S2C);
        return 0;
}

static ClientSession *session_alloc(const ClientOptions *options, const ClientCallbacks *callbacks, void *userdata) {
        ClientSession *s = calloc(1, sizeof(ClientSession));
        if (!s)
                return NULL;
        s->cb = *callbacks;
        s->userdata = userdata;
        s->options = options ? *options : (ClientOptions) {};
        s->role = 1;
        s->decoder = decoder_new();
        if (!s->decoder || (!s->options.no_resume && client_resume_new(&s->options, &s->resume) < 0) ||
            client_session_media_new(s) < 0) {
                client_media_free(s->media);
                client_resume_free(s->resume);
                decoder_free(s->decoder);
                free(s);
                return NULL;
        }
        return s;
}

int client_session_start_conn(ClientSession *s, WireConn *conn) {
        int r;
        s->conn = conn;
        client_session_conn_changed(s);
        wire_conn_set_accept(s->conn, WIRE_DIR_S2C);
        WireHello hello = { .magic = WIRE_MAGIC, .version = PROTOCOL_VERSION,
                            .caps = client_session_caps(s),
                            .ticket = s->ticket, .ticket_len = s->ticket_len };
        r = wire_encode_hello(wire_conn_out(s->conn), &hello);
        if (r < 0 || !(s->options.lossless || s->options.quality))
                return r;
        /* Right behind the hello, not after the welcome: hostd takes it in order, before it
         * encodes the first frame, which is then already lossless if we asked for that. */
        WireDisplaySettings ds = { .quality = (uint8_t) (s->options.quality ? s->options.quality : 80),
                                   .subsampling = 2, .lossless = s->options.lossless };
        return wire_encode_display_settings(wire_conn_out(s->conn), &ds);
}

static int session_start(ClientSession *s, ByteTransport *t) {
        WireConn *conn;
        int r = wire_conn_new(t, CLIENT_OUT_LIMIT, &conn); /* owns t, even on failure */
        if (r < 0)
                return r;
        return client_session_start_conn(s, conn);
}

int client_session_new(const char *ticket_text, const ClientOptions *options, const ClientCallbacks *callbacks,
                       void *userdata, ClientSession **ret) {
        ClientSession *s = session_alloc(options, callbacks, userdata);
        Ticket ticket;
        char host[256];
        uint16_t port;
        char *error = NULL;
        int r;

        if (!s)
                return -ENOMEM;
        r = ticket_text_decode(ticket_text, strlen(ticket_text), s->ticket, sizeof(s->ticket), &s->ticket_len);
        if (r >= 0)
                r = ticket_parse(s->ticket, s->ticket_len, &ticket);
        if (r < 0)
                goto fail;
        if (s->options.host) {
                snprintf(host, sizeof(host), "%s", s->options.host);
                port = s->options.port;
        } else if ((r = ticket_host_split(ticket.host, host, sizeof(host), &port)) < 0)
                goto fail;

        snprintf(s->host, sizeof(s->host), "%s", host);
        s->port = port;
        s->pinned = !ticket_fingerprint_is_zero(ticket.fingerprint);
        memcpy(s->pin, ticket.fingerprint, sizeof(s->pin));
        if (s->options.transport != CLIENT_TRANSPORT_UDP) {
                s->tls = tls_client_context_new(&error);
                free(error);
                if (!s->tls) {
                        /* The TLS context's error is a local setup problem; the caller sees -ENOMEM. */
                        r = -ENOMEM;
                        goto fail;
                }
        }
        if (s->options.transport == CLIENT_TRANSPORT_AUTO && !s->options.open_transport)
                r = client_auto_new(s, &s->autop); /* the hello waits for the race's winner */
        else {
                WireConn *conn;
                r = client_session_open_conn(s, &conn);
                if (r >= 0)
                        r = client_session_start_conn(s, conn);
        }
        if (r < 0)
                goto fail;
        *ret = s;
        return 0;
fail:
        client_session_free(s);
        return r;
}

int client_session_open_transport(ClientSession *s, ByteTransport **ret) {
        if (s->options.open_transport)
                return s->options.open_transport(s->options.open_userdata, ret);
        if (!s->host[0] || !s->tls)
                return -ENOTCONN;
        int fd = connect_tcp(s->host, s->port);
        if (fd < 0)
                return fd;
        return tls_transport_new(s->tls, fd, false, s->pinned ? s->pin : NULL, s->host, ret);
}

int client_session_new_transport(ByteTransport *t, const uint8_t *ticket, size_t ticket_len,
                                 const ClientOptions *options, const ClientCallbacks *callbacks, void *userdata,
                                 ClientSession **ret) {
        ClientSession *s;
        int r;

        if (ticket_len > sizeof(s->ticket)) {
                byte_transport_free(t);
                return -EINVAL;
        }
        s = session_alloc(options, callbacks, userdata);
        if (!s) {
                byte_transport_free(t);
                return -ENOMEM;
        }
        if (ticket_len > 0)
                memcpy(s->ticket, ticket, ticket_len);
        s->ticket_len = ticket_len;
        r = session_start(s, t);
        if (r < 0) {
                client_session_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

int client_session_new_conn(WireConn *conn, const uint8_t *ticket, size_t ticket_len, const ClientOptions *options,
                            const ClientCallbacks *callbacks, void *userdata, ClientSession **ret) {
        ClientSession *s;
        int r;

        if (ticket_len > sizeof(s->ticket)) {
                wire_conn_free(conn);
                return -EINVAL;
        }
        s = session_alloc(options, callbacks, userdata);
        if (!s) {
                wire_conn_free(conn);
                return -ENOMEM;
        }
        if (ticket_len > 0)
                memcpy(s->ticket, ticket, ticket_len);
        s->ticket_len = ticket_len;
        r = client_session_start_conn(s, conn);
        if (r < 0) {
                client_session_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

ClientSession *client_session_free(ClientSession *s) {
        if (!s)
                return NULL;
        s->cb.media = (ClientMediaCallbacks) {}; /* freed, not stopped: nobody is told */
        client_media_free(s->media);
        cell_frames_done(&s->cells);
        client_session_agent_done(&s->agent);
        client_auto_free(s->autop);
        wire_conn_free(s->conn);
        client_resume_free(s->resume);
        tls_context_free(s->tls);
        dtls_context_free(s->dtls);
        decoder_free(s->decoder);
        client_framebuffer_done(&s->fb);
        free(s->cursor.argb);
        free(s);
        return NULL;
}

int client_session_fd(ClientSession *s) {
        if (s->autop)
                return client_auto_fd(s);
        if (s->state == SESSION_RECONNECTING)
                return client_resume_fd(s);
        return wire_conn_fd(s->conn);
}

uint32_t client_session_poll_events(ClientSession *s) {
        if (s->autop)
                return s->state == SESSION_CLOSED ? 0 : EPOLLIN; /* the epoll fd */
        if (s->state == SESSION_RECONNECTING)
                return client_resume_poll_events(s);
        return s->state == SESSION_CLOSED ? 0 : wire_conn_poll_events(s->conn);
}

bool client_session_reconnecting(ClientSession *s) {
        return s->state == SESSION_RECONNECTING;
}

int client_session_reconnect(ClientSession *s) {
        if (!client_resume_lost(s, 0, "moving", true, client_resume_now()))
                return -ENOTCONN;
        return client_session_process(s);
}

static const char *copy_text(const char *p, size_t len, char *buf, size_t size) {
        size_t n = MIN(len, size - 1);
        memcpy(buf, p, n);
        buf[n] = 0;
        return buf;
}

static int session_welcome(ClientSession *s, const WireWelcome *w) {
        char desktop[256];
        s->state = SESSION_ACTIVE;
        s->session = w->session;
        s->role = w->role;
        s->udp_allowed = (w->caps & WIRE_CAP_UDP) != 0;
        s->agent.server_caps = w->caps;
        if (s->cb.on_welcome)
                s->cb.on_welcome(s, copy_text(w->desktop, w->desktop_len, desktop, sizeof(desktop)), s->role,
                                 s->userdata);
        return 0;
}

static int session_cursor_shape(ClientSession *s, const WireCursorShape *c) {
        size_t size = (size_t) c->width * c->height * 4;
        if (size != c->argb_len || c->hot_x >= MAX(c->width, 1) || c->hot_y >= MAX(c->height, 1))
                return -EBADMSG;
        uint8_t *p = malloc(size ? size : 1);
        if (!p)
                return -ENOMEM;
        memcpy(p, c->argb, size);
        free(s->cursor.argb);
        s->cursor.argb = p;
        s->cursor.width = c->width;
        s->cursor.height = c->height;
        s->cursor.hot_x = c->hot_x;
        s->cursor.hot_y = c->hot_y;
        s->cursor.shape_serial++;
        return 0;
}

/* Over UDP, tiles of the new mode may have come before display-mode and were dropped: ask for
 * the whole screen (refresh-area sends no display-mode, so this does not loop). */
static int session_latest_wins_mode(ClientSession *s, uint32_t width, uint32_t height) {
        int r = cell_frames_reset(&s->cells, width, height);
        if (r < 0)
                return r;
        WireRefreshArea a = { .w = (uint16_t) MIN(width, UINT16_MAX), .h = (uint16_t) MIN(height, UINT16_MAX) };
        return wire_encode_refresh_area(wire_conn_out(s->conn), &a);
}

static int session_latest_wins_tile(ClientSession *s, const WireTile *t) {
        /* Over UDP a tile can overtake its mode's display-mode (another rudp channel) or trail
         * the next one; the cells' check is per 64-pixel cell, so one that does not fit the
         * screen exactly is of another mode. The mode change asks for the whole screen again. */
        if ((uint32_t) t->x + t->w > s->fb.width || (uint32_t) t->y + t->h > s->fb.height)
                return 0;
        switch (cell_frames_admit(&s->cells, t->x, t->y, t->w, t->h, t->frame)) {
        case CELL_OLD_MODE:
                return 0;
        case CELL_STALE: {
                s->stale_tiles++;
                WireRefreshArea a = { .x = t->x, .y = t->y, .w = t->w, .h = t->h };
                return wire_encode_refresh_area(wire_conn_out(s->conn), &a);
        }
        case CELL_APPLY:
                break;
        }
        int r = decoder_apply(s->decoder, &s->fb, t->x, t->y, t->w, t->h, t->codec, t->data, t->data_len);
        if (r >= 0)
                s->tiles_after_end = true;
        return r;
}

static int session_handle(ClientSession *s, const WireMessage *m) {
        char text[256];
        int r = 0;

        /* Over UDP only the control channel is ordered behind welcome: the display and the
         * cursor may come before it, and are taken as they come. */
        if (s->state == SESSION_HANDSHAKE && !(s->latest_wins && wire_type_channel(m->type) != 0)) {
                if (m->type == WIRE_TYPE_WELCOME)
                        return session_welcome(s, &m->welcome);
                if (m->type == WIRE_TYPE_REJECT && m->reject.code == WIRE_CODE_TRANSPORT_REFUSED) {
                        r = client_auto_retry(s);
                        if (r > 0)
                                return -EAGAIN; /* the old connection is gone: read the new one later */
                }
                if (m->type == WIRE_TYPE_REJECT) {
                        copy_text(m->reject.reason, m->reject.reason_len, text, sizeof(text));
                        if (s->cb.on_rejected)
                                s->cb.on_rejected(s, m->reject.code, text, s->userdata);
                        client_session_closed(s, -EACCES, text);
                        return -EACCES;
                }
                return -EPROTO;
        }
        switch (m->type) {
        case WIRE_TYPE_DISPLAY_MODE:
                r = client_framebuffer_resize(&s->fb, m->display_mode.width, m->display_mode.height);
                if (r >= 0 && s->latest_wins)
                        r = session_latest_wins_mode(s, m->display_mode.width, m->display_mode.height);
                if (r >= 0 && s->cb.on_mode)
                        s->cb.on_mode(s, m->display_mode.width, m->display_mode.height, s->userdata);
                return r;
        case WIRE_TYPE_TILE:
                if (s->latest_wins)
                        return session_latest_wins_tile(s, &m->tile);
                return decoder_apply(s->decoder, &s->fb, m->tile.x, m->tile.y, m->tile.w, m->tile.h, m->tile.codec,
                                     m->tile.data, m->tile.data_len);
        case WIRE_TYPE_FRAME_END: {
                if (s->latest_wins) {
                        cell_frames_seen(&s->cells, m->frame_end.frame);
                        s->frame_end_seen = true;
                        s->last_frame_end = m->frame_end.frame;
                        s->tiles_after_end = false;
                }
                WireFrameAck ack = { .frame = m->frame_end.frame };
                r = wire_encode_frame_ack(wire_conn_out(s->conn), &ack);
                if (r >= 0 && s->cb.on_frame)
                        s->cb.on_frame(s, m->frame_end.frame, s->userdata);
                return r;
        }
        case WIRE_TYPE_CURSOR_SHAPE:
                r = session_cursor_shape(s, &m->cursor_shape);
                if (r >= 0 && s->cb.on_cursor)
                        s->cb.on_cursor(s, s->userdata);
                return r;
        case WIRE_TYPE_CURSOR_POSITION:
                s->cursor.x = m->cursor_position.x;
                s->cursor.y = m->cursor_position.y;
                s->cursor.visible = m->cursor_position.visible != 0;
                if (s->cb.on_cursor)
                        s->cb.on_cursor(s, s->userdata);
                return 0;
        case WIRE_TYPE_PING: {
                WirePong pong = { .nonce = m->ping.nonce, .time_us = m->ping.time_us };
                return wire_encode_pong(wire_conn_out(s->conn), &pong);
        }
        case WIRE_TYPE_ROLE:
                s->role = m->role.role;
                if (s->cb.on_role)
                        s->cb.on_role(s, s->role, s->userdata);
                return 0;
        case WIRE_TYPE_NOTICE:
                if (s->cb.on_notice)
                        s->cb.on_notice(s, m->notice.code, copy_text(m->notice.text, m->notice.text_len, text, sizeof(text)),
                                        s->userdata);
                return 0;
        case WIRE_TYPE_BYE:
                client_session_closed(s, 0, copy_text(m->bye.reason, m->bye.reason_len, text, sizeof(text)));
                return -ECONNRESET;
        case WIRE_TYPE_PONG:
                return 0;
        case WIRE_TYPE_SESSION_TOKEN:
                return client_resume_token(s, &m->session_token, client_resume_now());
        case WIRE_TYPE_SESSION_ACK:
                return client_resume_ack(s, m->session_ack.received);
        default:
                if (client_session_agent_type(m->type))
                        return client_session_agent_handle(s, m);
                if (client_media_type(m->type))
                        return s->media ? client_media_handle(s->media, m, client_resume_now()) : -EPROTO;
                return -EPROTO; /* a known type hostd must not send us */
        }
}

int client_session_process(ClientSession *s) {
        WireMessage m;
        int r;

        if (s->state == SESSION_CLOSED)
                return -ECONNRESET;
        uint64_t now = client_resume_now();
        if (s->autop) {
                r = client_auto_process(s, now);
                if (r < 0 || s->state == SESSION_CLOSED)
                        return r < 0 ? r : -ECONNRESET;
                if (!s->conn)
                        return 0; /* still racing */
        }
        if (s->state == SESSION_RECONNECTING) {
                r = client_resume_process(s, now);
                if (r < 0 || s->state != SESSION_ACTIVE)
                        return r;
        }
        for (;;) {
                r = wire_conn_receive(s->conn, &m);
                if (r <= 0)
                        break;
                if (s->cb.on_received)
                        s->cb.on_received(s, &m, wire_conn_frame_size(s->conn), s->userdata);
                r = session_handle(s, &m);
                if (r < 0)
                        break;
        }
        /* Tiles that came after their frame-end (UDP) are shown as that frame once more. */
        if (r >= 0 && s->tiles_after_end && s->frame_end_seen && s->state == SESSION_ACTIVE) {
                s->tiles_after_end = false;
                if (s->cb.on_frame)
                        s->cb.on_frame(s, s->last_frame_end, s->userdata);
        }
        if (r >= 0 && s->state == SESSION_ACTIVE)
                r = client_session_agent_pump(s, now); /* resize requests due, clipboard chunks */
        if (r >= 0 && client_resume_check(s, now))
                r = -ETIMEDOUT; /* silent: the link is cut somewhere */
        if (r >= 0 || r == -EAGAIN) {
                r = wire_conn_flush(s->conn);
                if (r >= 0 || r == -EAGAIN)
                        return 0;
        }
        if (s->state == SESSION_CLOSED)
                return r;
        /* A transport failure (not a bye, reject or broken protocol) is resumed if it can be. */
        if (r != -EPROTO && r != -EBADMSG && r != -EMSGSIZE &&
            client_resume_lost(s, r, wire_conn_error(s->conn), false, now))
                return client_session_process(s);
        /* Say why in the transport's words when it has them (a refused certificate names both
         * fingerprints), else the framing layer's, else the errno. */
        const char *why = tls_transport_error(wire_conn_transport(s->conn));
        if (!why)
                why = wire_conn_error(s->conn);
        client_session_closed(s, r, why ? why : strerror(-r));
        return r;
}

/* The transport's timers run on the connection in use: none while reconnecting (the old one is
 * parked, the attempt is the resume code's). */
static bool conn_live(const ClientSession *s) {
        return (s->state == SESSION_HANDSHAKE || s->state == SESSION_ACTIVE) && s->conn;
}

uint64_t client_session_next_timeout(ClientSession *s) {
        if (s->state == SESSION_CLOSED)
                return UINT64_MAX;
        uint64_t t = MIN(client_resume_next_timeout(s), client_session_agent_next_timeout(s));
        if (s->autop)
                t = MIN(t, client_auto_next_timeout(s));
        return conn_live(s) ? MIN(t, wire_conn_next_timeout(s->conn)) : t;
}

int client_session_on_timeout(ClientSession *s, uint64_t now_usec) {
        if (s->state == SESSION_CLOSED)
                return -ECONNRESET;
        if (conn_live(s))
                wire_conn_on_timeout(s->conn, now_usec);
        else if (s->state == SESSION_RECONNECTING)
                client_resume_on_timeout(s, now_usec);
        if (s->autop)
                client_auto_on_timeout(s, now_usec);
        return client_session_process(s);
}

void client_session_conn_changed(ClientSession *s) {
        WireConnKind kind = wire_conn_kind(s->conn);
        s->latest_wins = kind == WIRE_CONN_RUDP;
        s->tiles_after_end = s->frame_end_seen = false;
        client_auto_conn_changed(s, client_resume_now());
        if (s->transport_reported && s->reported_kind == kind)
                return;
        s->transport_reported = true;
        s->reported_kind = kind;
        if (s->cb.on_transport)
                s->cb.on_transport(s, kind, s->userdata);
}

WireConnKind client_session_transport(ClientSession *s) {
        return s->conn ? wire_conn_kind(s->conn) : WIRE_CONN_STREAM;
}

int client_session_rudp_stats(ClientSession *s, RudpStats *ret) {
        return s->conn ? wire_conn_rudp_stats(s->conn, ret) : -ENOTCONN;
}

uint64_t client_session_stale_tiles(ClientSession *s) {
        return s->stale_tiles;
}

const ClientFramebuffer *client_session_framebuffer(ClientSession *s) {
        return &s->fb;
}

const ClientCursor *client_session_cursor(ClientSession *s) {
        return &s->cursor;
}

int client_session_role(ClientSession *s) {
        return s->role;
}

uint64_t client_session_id(ClientSession *s) {
        return s->session;
}

uint64_t client_session_bytes_received(ClientSession *s) {
        return s->conn ? wire_conn_bytes_in(s->conn) : 0;
}

static int session_ready(ClientSession *s) {
        if (s->state == SESSION_RECONNECTING)
                return client_resume_has_room(s) ? 0 : -ENOBUFS; /* queued for the resume */
        return s->state == SESSION_ACTIVE ? 0 : -ENOTCONN;
}

int client_session_key(ClientSession *s, uint32_t keycode, bool down) {
        WireKey k = { .keycode = keycode, .down = down };
        int r = session_ready(s);
        return r < 0 ? r : wire_encode_key(wire_conn_out(s->conn), &k);
}

int client_session_mouse_button(ClientSession *s, uint8_t button, bool down) {
        WireMouseButton b = { .button = button, .down = down };
        int r = session_ready(s);
        return r < 0 ? r : wire_encode_mouse_button(wire_conn_out(s->conn), &b);
}

int client_session_mouse_absolute(ClientSession *s, uint32_t x, uint32_t y) {
        WireMouseAbsolute a = { .x = x, .y = y };
        int r = session_ready(s);
        return r < 0 ? r : wire_encode_mouse_absolute(wire_conn_out(s->conn), &a);
}

int client_session_mouse_relative(ClientSession *s, int32_t dx, int32_t dy) {
        WireMouseRelative rel = { .dx = dx, .dy = dy };
        int r = session_ready(s);
        return r < 0 ? r : wire_encode_mouse_relative(wire_conn_out(s->conn), &rel);
}

int client_session_handover(ClientSession *s, uint64_t to_session) {
        WireHandover h = { .to_session = to_session };
        int r = session_ready(s);
        return r < 0 ? r : wire_encode_handover(wire_conn_out(s->conn), &h);
}

int client_session_refresh(ClientSession *s) {
        int r = session_ready(s);
        return r < 0 ? r : wire_encode_refresh(wire_conn_out(s->conn));
}

int client_session_close(ClientSession *s) {
        if (!s->conn) {
                client_session_closed(s, 0, "closed");
                return 0;
        }
        WireBye bye = { .code = 0, .reason = "viewer closed", .reason_len = strlen("viewer closed") };
        int r = wire_encode_bye(wire_conn_out(s->conn), &bye);
        if (r >= 0)
                (void) wire_conn_flush(s->conn);
        client_session_closed(s, 0, "closed");
        return r;
}

void client_session_drain(ClientSession *s, uint64_t end) {
        if (!s->conn)
                return;
        for (;;) {
                WireMessage m;
                int r;
                /* What the peer sends meanwhile only matters for its acknowledgements. */
                while ((r = wire_conn_receive(s->conn, &m)) > 0)
                        ;
                if (r < 0 && r != -EAGAIN)
                        return;
                r = wire_conn_flush(s->conn);
                if ((r < 0 && r != -EAGAIN) || wire_conn_queued(s->conn) == 0)
                        return;
                uint64_t now = client_resume_now();
                if (now >= end)
                        return;
                uint64_t due = MIN(end, wire_conn_next_timeout(s->conn));
                uint32_t e = wire_conn_poll_events(s->conn);
                struct pollfd p = { .fd = wire_conn_fd(s->conn),
                                    .events = (short) ((e & EPOLLIN ? POLLIN : 0) | (e & EPOLLOUT ? POLLOUT : 0)) };
                uint64_t wait_ms = due > now ? (due - now + 999) / 1000 : 0;
                if (poll(&p, 1, (int) MIN(wait_ms, (uint64_t) 1000)) < 0 && errno != EINTR)
                        return;
                now = client_resume_now();
                if (now >= wire_conn_next_timeout(s->conn))
                        wire_conn_on_timeout(s->conn, now);
        }
}
