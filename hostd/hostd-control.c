#include "hostd-control.h"
#include "hostd-udp-server.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-event.h>

#include "hostd-broker.h"
#include "agent.h"
#include "hostd-agent.h"
#include "hostd-audio.h"
#include "hostd-console.h"
#include "hostd-control-command.h"
#include "hostd-display.h"
#include "hostd-domain.h"
#include "hostd-manager.h"
#include "hostd-media.h"
#include "hostd-screenshot.h"
#include "hostd-viewer-server.h"
#include "hostd-viewer-adapt.h"
#include "log.h"

#define CONTROL_MAX_CLIENTS 16
#define CONTROL_OUT_MAX (256 * 1024)

typedef struct ControlClient ControlClient;

struct ControlClient {
        ControlServer *server;
        ControlClient *next;
        int fd;
        sd_event_source *io;
        char in[CONTROL_LINE_MAX + 1];
        size_t in_len;
        char *out;
        size_t out_len;
        bool watching;
        bool closing;
        bool waiting; /* for an agent's answer: later lines wait, so replies stay in order */
        char waiting_domain[CONTROL_NAME_MAX + 1];
};

struct ControlServer {
        Manager *manager;
        char *path;
        int fd;
        sd_event_source *io;
        ControlClient *clients;
        size_t n_clients;
};

static void client_free(ControlClient *c) {
        ControlServer *s = c->server;
        for (ControlClient **p = &s->clients; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        s->n_clients--;
        if (c->waiting)
                agent_power_cancel(manager_agent(s->manager, c->waiting_domain), c);
        sd_event_source_disable_unref(c->io);
        close(c->fd);
        free(c->out);
        free(c);
}

ControlServer *control_server_free(ControlServer *s) {
        if (!s)
                return NULL;
        while (s->clients)
                client_free(s->clients);
        sd_event_source_disable_unref(s->io);
        if (s->fd >= 0) {
                close(s->fd);
                unlink(s->path);
        }
        free(s->path);
        free(s);
        return NULL;
}

static void client_update_events(ControlClient *c) {
        /* A client waiting for an answer with a full line buffer is not read until it comes. */
        bool room = c->in_len < sizeof(c->in) - 1;
        sd_event_source_set_io_events(c->io, (room ? EPOLLIN : 0) | (c->out_len ? EPOLLOUT : 0));
}

/* Queues output; a client that stops reading is dropped rather than buffered without bound. */
static void client_write(ControlClient *c, const char *data, size_t len) {
        if (c->closing)
                return;
        if (c->out_len + len > CONTROL_OUT_MAX) {
                c->closing = true;
                return;
        }
        char *p = realloc(c->out, c->out_len + len);
        if (!p) {
                c->closing = true;
                return;
        }
        c->out = p;
        memcpy(c->out + c->out_len, data, len);
        c->out_len += len;
        client_update_events(c);
}

static void client_printf(ControlClient *c, const char *fmt, ...) _printf_(2, 3);
static void client_printf(ControlClient *c, const char *fmt, ...) {
        char *s = NULL;
        va_list ap;
        va_start(ap, fmt);
        int n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0) {
                c->closing = true;
                return;
        }
        client_write(c, s, (size_t) n);
        free(s);
}

void control_server_broadcast(ControlServer *s, const char *line) {
        for (ControlClient *c = s ? s->clients : NULL; c; c = c->next)
                if (c->watching) {
                        client_write(c, line, strlen(line));
                        client_write(c, "\n", 1);
                }
}

/* Writes s as a JSON string: domain names come from libvirt and may hold anything. */
static void json_string(ControlClient *c, const char *s) {
        client_write(c, "\"", 1);
        for (; *s; s++) {
                unsigned char ch = (unsigned char) *s;
                if (ch == '"' || ch == '\\')
                        client_printf(c, "\\%c", ch);
                else if (ch < 0x20)
                        client_printf(c, "\\u%04x", ch);
                else
                        client_write(c, s, 1);
        }
        client_write(c, "\"", 1);
}

static void client_viewer_json(void *userdata, const ViewerInfo *v, bool first) {
        ControlClient *c = userdata;
        client_printf(c, "%s{\"desktop\":", first ? "" : ",");
        json_string(c, v->desktop);
        client_printf(c, ",\"user\":");
        json_string(c, v->user);
        client_printf(c,
                      ",\"session\":\"%016" PRIx64 "\",\"role\":\"%s\",\"queued\":%zu,\"in_flight\":%u,"
                      "\"frames_sent\":%" PRIu64 ",\"frames_skipped\":%" PRIu64 ",\"transport\":\"%s\","
                      "\"detached\":%s",
                      v->session, v->interactive ? "interactive" : "view-only", v->queued, v->in_flight,
                      v->frames_sent, v->frames_skipped, v->udp ? "udp" : "tls", v->detached ? "true" : "false");
        const ViewerLinkFigures *l = v->link;
        if (l)
                client_printf(c,
                              ",\"link\":{\"transport\":\"%s\",\"measured\":%s,\"rtt_us\":%" PRIu64
                              ",\"min_rtt_us\":%" PRIu64 ",\"queue_delay_us\":%" PRIu64 ",\"rate\":%" PRIu64
                              ",\"loss\":%.4f,\"fec_recovered\":%" PRIu64 ",\"retransmits\":%" PRIu64
                              ",\"adaptive\":%s,\"level\":%u,\"quality\":%d,\"frame_interval_us\":%" PRIu64
                              ",\"frame_budget\":%zu}",
                              l->transport, l->measured ? "true" : "false", l->rtt_usec, l->min_rtt_usec,
                              l->queue_delay_usec, l->rate, l->loss, l->fec_recovered, l->retransmits,
                              l->adaptive ? "true" : "false", l->level, l->quality, l->frame_interval_usec,
                              l->frame_budget);
        client_write(c, "}", 1);
}

static void agent_json_write(void *userdata, const char *data, size_t len) {
        client_write(userdata, data, len);
}

static void reply_status(ControlClient *c) {
        Manager *m = c->server->manager;
        client_printf(c, "OK {\"libvirt\":\"%s\",\"uri\":", m->conn ? "connected" : "disconnected");
        json_string(c, m->config.uri);
        client_printf(c, ",\"domains\":[");
        for (Domain *d = m->domains; d; d = d->next) {
                client_printf(c, "%s{\"name\":", d == m->domains ? "" : ",");
                json_string(c, d->name);
                client_printf(c, ",\"mode\":\"%s\",\"attaches\":%u,\"consoles\":[", domain_mode_name(d->mode),
                              d->attaches);
                for (size_t i = 0, n = domain_n_consoles(d); i < n; i++) {
                        Console *con = domain_console(d, i);
                        client_printf(c,
                                      "%s{\"id\":%u,\"width\":%u,\"height\":%u,\"frames\":%" PRIu64
                                      ",\"rejected\":%" PRIu64 ",\"cursor\":{\"x\":%d,\"y\":%d,\"visible\":%s,"
                                      "\"width\":%d,\"height\":%d},\"thumbnail\":",
                                      i ? "," : "", con->id, con->fb->width, con->fb->height, con->frames,
                                      con->rejected, con->cursor.x, con->cursor.y,
                                      con->cursor.visible ? "true" : "false", con->cursor.width, con->cursor.height);
                        json_string(c, con->thumbnail_path);
                        client_write(c, "}", 1);
                }
                client_write(c, "]", 1);
                uint64_t now;
                sd_event_now(m->event, CLOCK_MONOTONIC, &now);
                if (d->screenshotter) {
                        char shot[128];
                        screenshotter_describe_json(d->screenshotter, now, shot, sizeof shot);
                        client_printf(c, ",\"screenshot\":%s", shot);
                }
                if (d->opening)
                        client_printf(c, ",\"opening_ms\":%" PRIu64, domain_opening_usec(d, now) / 1000);
                if (d->agent) {
                        client_write(c, ",\"agent\":", 9);
                        agent_describe_json(d->agent, agent_json_write, c);
                        client_write(c, ",\"media\":", 9);
                        media_describe_json(agent_media(d->agent), agent_json_write, c);
                }
                Audio *au = d->display ? display_audio(d->display) : NULL; /* vmaudio */
                if (au) {
                        client_write(c, ",\"audio\":", 9);
                        audio_describe_json(au, agent_json_write, c);
                }
                client_write(c, "}", 1);
        }
        client_write(c, "],\"viewers\":[", 13);
        viewer_server_describe(m->viewers, client_viewer_json, c);
        UdpServerCounters u;
        viewer_server_udp_counters(m->viewers, &u);
        client_printf(c,
                      "],\"udp\":{\"datagrams\":%" PRIu64 ",\"unknown_dropped\":%" PRIu64 ",\"cookies_sent\":%" PRIu64
                      ",\"handshakes_started\":%" PRIu64 ",\"handshakes_refused\":%" PRIu64
                      ",\"handshakes_failed\":%" PRIu64 ",\"handshakes_timed_out\":%" PRIu64
                      ",\"established\":%" PRIu64 ",\"peers\":%u,\"handshakes\":%u}",
                      u.datagrams, u.unknown_dropped, u.cookies_sent, u.handshakes_started, u.handshakes_refused,
                      u.handshakes_failed, u.handshakes_timed_out, u.established, u.peers, u.handshakes);
        char *broker = broker_client_status_json(m->broker);
        client_printf(c, ",\"broker\":%s}\n", broker ? broker : "null");
        free(broker);
}

static void client_run_lines(ControlClient *c);

static void on_power_done(void *userdata, int error, uint8_t status, const char *reason) {
        ControlClient *c = userdata;
        c->waiting = false;
        if (error < 0)
                client_printf(c, "ERR agent-power: %s\n",
                              error == -ETIMEDOUT ? "no answer from the agent" : "the agent went away");
        else if (status == AGENT_STATUS_OK)
                client_printf(c, "OK %s\n", reason && reason[0] ? reason : "accepted");
        else
                client_printf(c, "ERR agent-power: %s%s%s\n", agent_status_name(status) ?: "?",
                              reason && reason[0] ? ": " : "", reason ? reason : "");
        client_run_lines(c); /* what the client sent meanwhile */
        client_update_events(c);
}

static void client_agent_power(ControlClient *c, const ControlCommand *cmd) {
        Agent *a = manager_agent(c->server->manager, cmd->domain);
        if (!a) {
                client_printf(c, "ERR no such domain\n");
                return;
        }
        int r = agent_power_request(a, (uint8_t) cmd->code, on_power_done, c);
        if (r == -ENOTCONN)
                client_printf(c, "ERR no agent with the power feature on %s\n", cmd->domain);
        else if (r == -EBUSY)
                client_printf(c, "ERR a power request is pending on %s\n", cmd->domain);
        else if (r < 0)
                client_printf(c, "ERR agent-power: %s\n", strerror(-r));
        else {
                c->waiting = true;
                memcpy(c->waiting_domain, cmd->domain, sizeof(c->waiting_domain));
        }
}

static void client_execute(ControlClient *c, const char *line, size_t len) {
        Manager *m = c->server->manager;
        ControlCommand cmd;
        const char *error = NULL;
        int r;

        if (control_command_parse(line, len, &cmd, &error) < 0) {
                client_printf(c, "ERR %s\n", error);
                return;
        }
        switch (cmd.verb) {
        case CONTROL_STATUS:
                reply_status(c);
                return;
        case CONTROL_WATCH:
                c->watching = true;
                client_printf(c, "OK watching\n");
                return;
        case CONTROL_AGENT_POWER:
                client_agent_power(c, &cmd);
                return;
        default:
                break;
        }

        Domain *d = manager_find_domain(m, cmd.domain);
        if (!d) {
                client_printf(c, "ERR no such domain\n");
                return;
        }
        Console *con = domain_console_by_id(d, cmd.console);
        if (!con) {
                client_printf(c, "ERR no such console\n");
                return;
        }
        if (cmd.verb == CONTROL_DUMP) {
                r = framebuffer_write_ppm(con->fb, cmd.path);
                if (r < 0)
                        client_printf(c, "ERR dump failed: %s\n", strerror(-r));
                else
                        client_printf(c, "OK %ux%u\n", con->fb->width, con->fb->height);
                return;
        }
        if (!d->display) {
                client_printf(c, "ERR input needs the D-Bus display\n");
                return;
        }
        switch (cmd.verb) {
        case CONTROL_KEY:
                r = display_key(d->display, cmd.console, cmd.press, cmd.code);
                break;
        case CONTROL_MOUSE_BUTTON:
                r = display_mouse_button(d->display, cmd.console, cmd.press, cmd.code);
                break;
        case CONTROL_MOUSE_ABS:
                r = display_mouse_move_abs(d->display, cmd.console, (uint32_t) cmd.x, (uint32_t) cmd.y);
                break;
        default:
                r = display_mouse_move_rel(d->display, cmd.console, cmd.x, cmd.y);
                break;
        }
        if (r < 0)
                client_printf(c, "ERR input failed: %s\n", strerror(-r));
        else
                client_printf(c, "OK\n");
}

static void client_run_lines(ControlClient *c) {
        char *nl;
        while (!c->closing && !c->waiting && (nl = memchr(c->in, '\n', c->in_len))) {
                size_t l = (size_t) (nl - c->in);
                client_execute(c, c->in, l > 0 && c->in[l - 1] == '\r' ? l - 1 : l);
                memmove(c->in, nl + 1, c->in_len - l - 1);
                c->in_len -= l + 1;
        }
}

static int on_client_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        ControlClient *c = userdata;

        if ((revents & EPOLLIN) && c->in_len < sizeof(c->in) - 1) {
                ssize_t n = read(fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len);
                if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) {
                        client_free(c);
                        return 0;
                }
                if (n > 0)
                        c->in_len += (size_t) n;
                client_run_lines(c);
                client_update_events(c);
                if (c->in_len == sizeof(c->in) - 1 && !memchr(c->in, '\n', c->in_len)) {
                        client_printf(c, "ERR line too long\n");
                        c->closing = true;
                }
        }
        if (c->out_len) {
                ssize_t n = write(fd, c->out, c->out_len);
                if (n < 0 && errno != EAGAIN && errno != EINTR) {
                        client_free(c);
                        return 0;
                }
                if (n > 0) {
                        memmove(c->out, c->out + n, c->out_len - (size_t) n);
                        c->out_len -= (size_t) n;
                }
                client_update_events(c);
        }
        if (c->closing && (c->out_len == 0 || (revents & (EPOLLHUP | EPOLLERR))))
                client_free(c);
        return 0;
}

static int on_accept(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        ControlServer *s = userdata;
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
                return 0;
        if (s->n_clients >= CONTROL_MAX_CLIENTS) {
                static const char busy[] = "ERR too many control clients\n";
                (void) !write(cfd, busy, sizeof(busy) - 1);
                close(cfd);
                return 0;
        }
        ControlClient *c = calloc(1, sizeof(ControlClient));
        if (!c) {
                close(cfd);
                return 0;
        }
        c->server = s;
        c->fd = cfd;
        if (sd_event_add_io(s->manager->event, &c->io, cfd, EPOLLIN, on_client_io, c) < 0) {
                close(cfd);
                free(c);
                return 0;
        }
        c->next = s->clients;
        s->clients = c;
        s->n_clients++;
        return 0;
}

int control_server_new(Manager *m, const char *path, ControlServer **ret) {
        _cleanup_(control_server_freep) ControlServer *s = calloc(1, sizeof(ControlServer));
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int r;

        if (!s)
                return -ENOMEM;
        s->fd = -EBADF;
        s->manager = m;
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        s->path = strdup(path);
        if (!s->path)
                return -ENOMEM;
        memcpy(sa.sun_path, path, strlen(path));

        s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s->fd < 0)
                return -errno;
        (void) unlink(path);
        mode_t old = umask(0077); /* root only: the socket can inject input into desktops */
        r = bind(s->fd, (struct sockaddr *) &sa, sizeof(sa));
        umask(old);
        if (r < 0 || listen(s->fd, 16) < 0)
                return -errno;
        r = sd_event_add_io(m->event, &s->io, s->fd, EPOLLIN, on_accept, s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}
