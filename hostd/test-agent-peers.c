#include "test-agent-peers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "byte-transport.h"
#include "fd-datagram.h"
#include "hostd-manager.h"
#include "hostd-viewer.h"
#include "macro.h"
#include "unaligned.h"
#include "wire-conn-rudp.h"

/* ---- the fake agent ---- */

static void agent_update_io(FakeAgent *a) {
        if (!a->conn)
                return;
        int r = wire_conn_flush(a->conn);
        if (r < 0 && r != -EAGAIN) {
                fake_agent_close(a);
                a->closed++;
                return;
        }
        sd_event_source_set_io_events(a->io, wire_conn_poll_events(a->conn));
}

static void agent_record(FakeAgent *a, const AgentMessage *m) {
        switch (m->type) {
        case AGENT_TYPE_HELLO:
                a->hellos++;
                break;
        case AGENT_TYPE_BYE:
                a->byes++;
                a->last_bye_code = m->bye.code;
                break;
        case AGENT_TYPE_CLIPBOARD_GRAB:
                a->grabs++;
                a->grab = m->clipboard_grab;
                break;
        case AGENT_TYPE_CLIPBOARD_REQUEST:
                a->requests++;
                a->request = m->clipboard_request;
                break;
        case AGENT_TYPE_CLIPBOARD_DATA:
                a->datas++;
                a->data_serial = m->clipboard_data.serial;
                a->data_total = m->clipboard_data.total;
                (void) buffer_append(&a->data, m->clipboard_data.chunk, m->clipboard_data.chunk_len);
                break;
        case AGENT_TYPE_CLIPBOARD_RELEASE:
                a->releases++;
                break;
        case AGENT_TYPE_WINDOW_ACTION:
                a->window_actions++;
                a->window_action = m->window_action;
                break;
        case AGENT_TYPE_RESIZE_REQUEST:
                a->resizes++;
                a->resize = m->resize_request;
                break;
        case AGENT_TYPE_POWER_REQUEST:
                a->power_requests++;
                a->power_action = m->power_request.action;
                break;
        }
}

static int on_agent_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        FakeAgent *a = userdata;
        AgentMessage m;
        int r = 0;
        while (a->conn && (r = agent_conn_receive(a->conn, &m)) > 0) {
                agent_record(a, &m);
                if (a->on_message)
                        a->on_message(a, &m, a->userdata);
        }
        if (!a->conn)
                return 0;
        if (r < 0) {
                fake_agent_close(a);
                a->closed++;
                return 0;
        }
        agent_update_io(a);
        return 0;
}

static int fake_agent_connect(Manager *m, Domain *d, void *userdata) {
        FakeAgent *a = userdata;
        ByteTransport *t;
        int sv[2];

        if (a->fail_connects > 0) {
                a->fail_connects--;
                return -ECONNREFUSED;
        }
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        fake_agent_close(a); /* a guest has one port: the old channel is gone */
        if (fd_transport_new(sv[1], &t) < 0 || agent_conn_new(t, 64u << 20, AGENT_DIR_H2G, &a->conn) < 0 ||
            sd_event_add_io(m->event, &a->io, sv[1], EPOLLIN, on_agent_io, a) < 0) {
                close(sv[0]);
                return -ENOMEM;
        }
        a->connects++;
        return sv[0];
}

void fake_agent_setup(FakeAgent *a, HarnessOptions *opts) {
        *a = (FakeAgent) { .last_bye_code = -1 };
        buffer_init(&a->data, 64u << 20);
        opts->agent_connect = fake_agent_connect;
        opts->agent_connect_userdata = a;
}

void fake_agent_close(FakeAgent *a) {
        a->io = sd_event_source_disable_unref(a->io);
        a->conn = wire_conn_free(a->conn);
}

void fake_agent_done(FakeAgent *a) {
        fake_agent_close(a);
        buffer_done(&a->data);
}

Buffer *fake_agent_out(FakeAgent *a) {
        return wire_conn_out(a->conn);
}

int fake_agent_flush(FakeAgent *a) {
        if (!a->conn)
                return -ENOTCONN;
        agent_update_io(a);
        return 0;
}

int fake_agent_send_raw(FakeAgent *a, const void *data, size_t len) {
        if (!a->conn)
                return -ENOTCONN;
        int r = buffer_append(fake_agent_out(a), data, len);
        if (r < 0)
                return r;
        return fake_agent_flush(a);
}

int fake_agent_hello(FakeAgent *a, uint64_t caps) {
        AgentHello h;
        if (!a->conn)
                return -ENOTCONN;
        agent_hello_init(&h, caps, "fake-agent \"1\"");
        int r = agent_encode_hello(fake_agent_out(a), &h);
        return r < 0 ? r : fake_agent_flush(a);
}

int fake_agent_heartbeat(FakeAgent *a) {
        AgentHeartbeat hb = { .seq = ++a->heartbeats_sent, .uptime_s = 42, .load1_milli = 120, .mem_total_kib = 1 << 20,
                              .mem_available_kib = 1 << 19, .users = 1 };
        if (!a->conn)
                return -ENOTCONN;
        int r = agent_encode_heartbeat(fake_agent_out(a), &hb);
        return r < 0 ? r : fake_agent_flush(a);
}

/* ---- the raw viewer ---- */

static void raw_record(RawViewer *v, const WireMessage *m) {
        switch (m->type) {
        case WIRE_TYPE_WELCOME:
                v->welcomed = true;
                break;
        case WIRE_TYPE_FRAME_END: {
                WireFrameAck ack = { .frame = m->frame_end.frame };
                (void) wire_encode_frame_ack(wire_conn_out(v->conn), &ack);
                break;
        }
        case WIRE_TYPE_DISPLAY_MODE:
                v->modes++;
                break;
        case WIRE_TYPE_AGENT_STATUS:
                v->statuses++;
                v->status = m->agent_status;
                break;
        case WIRE_TYPE_NOTICE:
                v->notices++;
                v->notice_code = m->notice.code;
                break;
        case WIRE_TYPE_WINDOWS_RESET:
                v->window_resets++;
                break;
        case WIRE_TYPE_WINDOW_UPDATE:
                v->window_updates++;
                v->window = m->window_update;
                v->window.title = NULL;
                break;
        case WIRE_TYPE_WINDOW_REMOVE:
                v->window_removes++;
                break;
        case WIRE_TYPE_WINDOW_STACK:
                v->window_stacks++;
                v->n_stack = m->window_stack.ids_len / 4;
                for (size_t i = 0; i < v->n_stack; i++)
                        v->stack[i] = get_le32(m->window_stack.ids + 4 * i);
                break;
        case WIRE_TYPE_WINDOW_ICON:
                v->window_icons++;
                break;
        case WIRE_TYPE_CLIPBOARD_GRAB:
                v->grabs++;
                v->grab = m->clipboard_grab;
                break;
        case WIRE_TYPE_CLIPBOARD_REQUEST:
                v->requests++;
                v->request = m->clipboard_request;
                break;
        case WIRE_TYPE_CLIPBOARD_DATA:
                v->datas++;
                v->data_serial = m->clipboard_data.serial;
                v->data_total = m->clipboard_data.total;
                (void) buffer_append(&v->data, m->clipboard_data.chunk, m->clipboard_data.chunk_len);
                break;
        case WIRE_TYPE_CLIPBOARD_RELEASE:
                v->releases++;
                break;
        }
}

static int on_raw_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        RawViewer *v = userdata;
        WireMessage m;
        int r;
        while ((r = wire_conn_receive(v->conn, &m)) > 0) {
                raw_record(v, &m);
                if (v->on_message)
                        v->on_message(v, &m, v->userdata);
        }
        if (r < 0 && v->error == 0)
                v->error = r;
        raw_viewer_flush(v);
        return 0;
}

int raw_viewer_flush(RawViewer *v) {
        int r = wire_conn_flush(v->conn);
        if (r < 0 && r != -EAGAIN && v->error == 0)
                v->error = r;
        if (v->error < 0)
                sd_event_source_set_enabled(v->io, SD_EVENT_OFF);
        else
                sd_event_source_set_io_events(v->io, wire_conn_poll_events(v->conn));
        if (v->timer) {
                uint64_t next = wire_conn_next_timeout(v->conn);
                sd_event_source_set_time(v->timer, next == UINT64_MAX ? UINT64_MAX - 1 : next);
                sd_event_source_set_enabled(v->timer, v->error < 0 || next == UINT64_MAX ? SD_EVENT_OFF : SD_EVENT_ONESHOT);
        }
        return v->error;
}

static int on_raw_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        RawViewer *v = userdata;
        uint64_t now;
        sd_event_now(v->harness->event, CLOCK_MONOTONIC, &now);
        wire_conn_on_timeout(v->conn, now);
        return on_raw_io(NULL, -1, 0, v); /* what the timers delivered, and the next deadline */
}

void raw_viewer_pause(RawViewer *v, bool paused) {
        sd_event_source_set_enabled(v->io, paused ? SD_EVENT_OFF : SD_EVENT_ON);
}

Buffer *raw_viewer_out(RawViewer *v) {
        return wire_conn_out(v->conn);
}

/* A raw viewer with no connection yet, and the ticket (as bytes) its hello will carry. */
static int raw_viewer_alloc(Harness *h, const char *peer, TicketRole role, uint8_t ticket[TICKET_SIZE_MAX],
                            size_t *ticket_len, RawViewer **ret) {
        _cleanup_(freep) char *text = NULL;
        RawViewer *v = calloc(1, sizeof(RawViewer));
        if (!v)
                return -ENOMEM;
        v->harness = h;
        buffer_init(&v->data, 64u << 20);
        int r = harness_ticket(h, peer, role, &text);
        if (r >= 0)
                r = ticket_text_decode(text, strlen(text), ticket, TICKET_SIZE_MAX, ticket_len);
        if (r < 0) {
                raw_viewer_free(v);
                return r;
        }
        *ret = v;
        return 0;
}

/* Its connection made: accept hostd's messages, say hello, read as they come. */
static int raw_viewer_hello(RawViewer *v, uint64_t caps, const uint8_t *ticket, size_t ticket_len) {
        wire_conn_set_accept(v->conn, WIRE_DIR_S2C);
        WireHello hello = { .magic = WIRE_MAGIC, .version = 1, .caps = caps, .ticket = ticket, .ticket_len = ticket_len };
        int r = wire_encode_hello(wire_conn_out(v->conn), &hello);
        if (r >= 0)
                r = sd_event_add_io(v->harness->event, &v->io, wire_conn_fd(v->conn), EPOLLIN, on_raw_io, v);
        return r < 0 ? r : 0;
}

int raw_viewer_new(Harness *h, uint64_t caps, TicketRole role, RawViewer **ret) {
        uint8_t ticket[TICKET_SIZE_MAX];
        size_t ticket_len;
        ByteTransport *t;
        Viewer *server_side;
        RawViewer *v;
        int sv[2];

        int r = raw_viewer_alloc(h, "raw-agent", role, ticket, &ticket_len, &v);
        if (r < 0)
                return r;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
                r = -errno;
                goto fail;
        }
        if ((r = fd_transport_new(sv[0], &t)) < 0 ||
            (r = viewer_new_transport(h->manager->viewers, t, "raw-agent", &server_side)) < 0) {
                close(sv[1]);
                goto fail;
        }
        if ((r = fd_transport_new(sv[1], &t)) < 0 || (r = wire_conn_new(t, 64u << 20, &v->conn)) < 0 ||
            (r = raw_viewer_hello(v, caps, ticket, ticket_len)) < 0)
                goto fail;
        raw_viewer_flush(v);
        *ret = v;
        return 0;
fail:
        raw_viewer_free(v);
        return r;
}

int raw_viewer_new_udp(Harness *h, uint64_t caps, TicketRole role, const FdDatagramOptions *server_path,
                       RawViewer **ret) {
        uint8_t ticket[TICKET_SIZE_MAX];
        size_t ticket_len;
        DatagramTransport *ct, *st;
        WireConn *sc;
        Viewer *server_side;
        RawViewer *v;
        int fds[2];

        int r = raw_viewer_alloc(h, "raw-udp", role, ticket, &ticket_len, &v);
        if (r < 0)
                return r;
        if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0) {
                r = -errno;
                goto fail;
        }
        int size = 4 << 20;
        for (int i = 0; i < 2; i++) {
                (void) setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
                (void) setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
        }
        if ((r = fd_datagram_new(fds[1], server_path, &st)) < 0) {
                close(fds[0]);
                goto fail;
        }
        if ((r = wire_conn_new_rudp(st, NULL, true, VIEWER_OUT_LIMIT, &sc)) < 0 ||
            (r = viewer_new_conn(h->manager->viewers, sc, "raw-udp", &server_side)) < 0) {
                close(fds[0]);
                goto fail;
        }
        if ((r = fd_datagram_new(fds[0], NULL, &ct)) < 0 ||
            (r = wire_conn_new_rudp(ct, NULL, false, 64u << 20, &v->conn)) < 0 ||
            (r = raw_viewer_hello(v, caps, ticket, ticket_len)) < 0 ||
            (r = sd_event_add_time(h->event, &v->timer, CLOCK_MONOTONIC, UINT64_MAX - 1, 0, on_raw_timer, v)) < 0)
                goto fail;
        raw_viewer_flush(v);
        *ret = v;
        return 0;
fail:
        raw_viewer_free(v);
        return r;
}

RawViewer *raw_viewer_free(RawViewer *v) {
        if (!v)
                return NULL;
        sd_event_source_disable_unref(v->timer);
        sd_event_source_disable_unref(v->io);
        wire_conn_free(v->conn);
        buffer_done(&v->data);
        free(v);
        return NULL;
}
