/* The automatic transport: see client-auto.h. */
#include "client-auto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "client-resume.h"
#include "dtls-datagram.h"
#include "macro.h"
#include "tls.h"

#define REG_MAX 4

typedef struct Reg {
        int fd;
        uint32_t events;
} Reg;

struct ClientAuto {
        int epfd;
        Reg reg[REG_MAX];
        size_t n_reg;

        /* The race: both until one carries the hello. */
        bool racing;
        WireConn *tcp, *udp;
        DatagramTransport *udp_dt; /* inside udp */
        int tcp_error, udp_error;
        char why[256]; /* the first failure's sentence (a refused certificate names both pins) */
        uint64_t started, tcp_up_at;

        bool retried; /* the hello was refused for its transport and went on the other */

        /* Probing UDP while the session runs on TCP. */
        bool udp_refused;
        WireConn *probe;
        DatagramTransport *probe_dt;
        uint64_t probe_started, next_probe, backoff;
};

/* Reads a connection that must stay quiet until we speak (it drives its handshake): <0 when it
 * failed or the peer spoke first. */
static int drive_quiet(WireConn *c) {
        WireMessage m;
        int r = wire_conn_receive(c, &m);
        if (r > 0)
                return -EPROTO;
        if (r == 0 || r == -EAGAIN)
                r = wire_conn_flush(c);
        return r == -EAGAIN ? 0 : r;
}

int client_auto_new(ClientSession *s, ClientAuto **ret) {
        ClientAuto *a = calloc(1, sizeof(ClientAuto));
        ByteTransport *t;
        int r;

        if (!a)
                return -ENOMEM;
        a->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (a->epfd < 0) {
                free(a);
                return -errno;
        }
        a->racing = true;
        a->started = client_resume_now();
        a->backoff = AUTO_PROBE_FIRST_USEC;
        r = client_session_open_transport(s, &t);
        if (r >= 0)
                r = wire_conn_new(t, CLIENT_OUT_LIMIT, &a->tcp);
        if (r < 0)
                a->tcp_error = r;
        else
                wire_conn_set_accept(a->tcp, WIRE_DIR_S2C);
        r = client_session_open_udp(s, &a->udp, &a->udp_dt);
        if (r < 0)
                a->udp_error = r;
        if (a->tcp_error < 0 && a->udp_error < 0) {
                r = a->tcp_error;
                client_auto_free(a);
                return r;
        }
        /* Starts TLS's handshake now (it waits for the connect), so the fd says what it waits for. */
        if (a->tcp && (a->tcp_error = drive_quiet(a->tcp)) < 0)
                a->tcp = wire_conn_free(a->tcp);
        *ret = a;
        return 0;
}

ClientAuto *client_auto_free(ClientAuto *a) {
        if (!a)
                return NULL;
        wire_conn_free(a->tcp);
        wire_conn_free(a->udp);
        wire_conn_free(a->probe);
        if (a->epfd >= 0)
                close(a->epfd);
        free(a);
        return NULL;
}

/* Keeps why c failed (its transport's words first) when nothing was kept yet. */
static void keep_why(ClientAuto *a, WireConn *c) {
        const char *why = tls_transport_error(wire_conn_transport(c));
        if (!why)
                why = wire_conn_error(c);
        if (why && !a->why[0])
                snprintf(a->why, sizeof(a->why), "%s", why);
}

static int race_pick(ClientSession *s, WireConn **winner, uint64_t now) {
        ClientAuto *a = s->autop;

        if (a->tcp && a->tcp_error == 0 && (a->tcp_error = drive_quiet(a->tcp)) < 0) {
                keep_why(a, a->tcp);
                a->tcp = wire_conn_free(a->tcp);
        }
        if (a->udp && a->udp_error == 0 && (a->udp_error = drive_quiet(a->udp)) < 0) {
                keep_why(a, a->udp);
                a->udp = wire_conn_free(a->udp);
                a->udp_dt = NULL;
        }
        if (a->udp && dtls_datagram_established(a->udp_dt)) {
                *winner = TAKE_PTR(a->udp);
                a->udp_dt = NULL;
                return 1;
        }
        if (a->tcp && tls_transport_handshake_done(wire_conn_transport(a->tcp))) {
                if (!a->tcp_up_at)
                        a->tcp_up_at = now;
                /* DTLS 1.2 with a cookie takes a round trip more than TLS 1.3: give it about one
                 * TCP round trip (TCP's connect and TLS took two). */
                uint64_t grace = MAX(AUTO_GRACE_MIN_USEC, (a->tcp_up_at - a->started) / 2);
                uint64_t until = MIN(a->tcp_up_at + grace, a->started + AUTO_RACE_MAX_USEC);
                if (!a->udp || now >= until) {
                        *winner = TAKE_PTR(a->tcp);
                        return 1;
                }
                return 0;
        }
        if (!a->tcp && !a->udp)
                return a->tcp_error < 0 ? a->tcp_error : a->udp_error;
        if (!a->tcp && now >= a->started + AUTO_ALONE_MAX_USEC)
                return a->tcp_error < 0 ? a->tcp_error : -ETIMEDOUT;
        return 0;
}

static void probe_failed(ClientAuto *a, uint64_t now) {
        a->probe = wire_conn_free(a->probe);
        a->probe_dt = NULL;
        a->next_probe = now + a->backoff;
        a->backoff = MIN(a->backoff * 2, AUTO_PROBE_MAX_USEC);
}

static bool probing(ClientSession *s) {
        ClientAuto *a = s->autop;
        return !a->racing && !a->udp_refused && s->udp_allowed && s->state == SESSION_ACTIVE &&
               wire_conn_kind(s->conn) == WIRE_CONN_STREAM && client_resume_can_move(s);
}

static int probe_process(ClientSession *s, uint64_t now) {
        ClientAuto *a = s->autop;

        if (!probing(s)) {
                a->probe = wire_conn_free(a->probe);
                a->probe_dt = NULL;
                return 0;
        }
        if (!a->probe) {
                if (now < a->next_probe)
                        return 0;
                if (client_session_open_udp(s, &a->probe, &a->probe_dt) < 0) {
                        probe_failed(a, now);
                        return 0;
                }
                a->probe_started = now;
        }
        if (drive_quiet(a->probe) < 0) {
                probe_failed(a, now);
                return 0;
        }
        if (dtls_datagram_established(a->probe_dt)) {
                WireConn *c = TAKE_PTR(a->probe);
                a->probe_dt = NULL;
                /* The path answered: should the move fail, try again soon. */
                a->backoff = AUTO_PROBE_FIRST_USEC;
                a->next_probe = now + a->backoff;
                return client_resume_move(s, c, now);
        }
        if (now >= a->probe_started + AUTO_PROBE_TIMEOUT_USEC)
                probe_failed(a, now);
        return 0;
}

int client_auto_process(ClientSession *s, uint64_t now) {
        ClientAuto *a = s->autop;
        WireConn *winner = NULL;
        int r;

        if (a->racing) {
                r = race_pick(s, &winner, now);
                if (r < 0) {
                        char why[320];
                        snprintf(why, sizeof(why), "neither TCP nor UDP could connect%s%s", a->why[0] ? ": " : "", a->why);
                        client_session_closed(s, r, why);
                        return r;
                }
                if (r == 0)
                        return 0;
                a->racing = false;
                a->tcp = wire_conn_free(a->tcp);
                a->udp = wire_conn_free(a->udp);
                a->udp_dt = NULL;
                r = client_session_start_conn(s, winner);
                if (r < 0) {
                        client_session_closed(s, r, "cannot start the session");
                        return r;
                }
                return 0;
        }
        return probe_process(s, now);
}

uint64_t client_auto_next_timeout(ClientSession *s) {
        ClientAuto *a = s->autop;
        uint64_t t = UINT64_MAX;

        if (a->racing) {
                if (a->tcp)
                        t = MIN(t, wire_conn_next_timeout(a->tcp));
                if (a->udp)
                        t = MIN(t, wire_conn_next_timeout(a->udp));
                if (a->tcp_up_at)
                        t = MIN(t, MIN(a->tcp_up_at + MAX(AUTO_GRACE_MIN_USEC, (a->tcp_up_at - a->started) / 2),
                                       a->started + AUTO_RACE_MAX_USEC));
                if (!a->tcp)
                        t = MIN(t, a->started + AUTO_ALONE_MAX_USEC);
                return t;
        }
        if (a->probe)
                return MIN(wire_conn_next_timeout(a->probe), a->probe_started + AUTO_PROBE_TIMEOUT_USEC);
        return probing(s) ? a->next_probe : UINT64_MAX;
}

void client_auto_on_timeout(ClientSession *s, uint64_t now) {
        ClientAuto *a = s->autop;
        if (a->udp)
                wire_conn_on_timeout(a->udp, now);
        if (a->probe)
                wire_conn_on_timeout(a->probe, now);
}

void client_auto_conn_changed(ClientSession *s, uint64_t now) {
        ClientAuto *a = s->autop;
        if (!a || wire_conn_kind(s->conn) != WIRE_CONN_STREAM)
                return;
        a->backoff = AUTO_PROBE_FIRST_USEC;
        a->next_probe = now + a->backoff;
        a->backoff = MIN(a->backoff * 2, AUTO_PROBE_MAX_USEC);
}

int client_auto_retry(ClientSession *s) {
        ClientAuto *a = s->autop;
        WireConn *c = NULL;
        ByteTransport *t;
        int r;

        if (!a || a->retried || s->state != SESSION_HANDSHAKE || !s->conn)
                return 0;
        a->retried = true;
        if (wire_conn_kind(s->conn) == WIRE_CONN_RUDP) {
                a->udp_refused = true;
                r = client_session_open_transport(s, &t);
                if (r >= 0)
                        r = wire_conn_new(t, CLIENT_OUT_LIMIT, &c);
        } else
                r = client_session_open_udp(s, &c, NULL);
        if (r < 0)
                return r;
        s->conn = wire_conn_free(s->conn);
        s->latest_wins = false;
        cell_frames_done(&s->cells);
        r = client_session_start_conn(s, c);
        return r < 0 ? r : 1;
}

void client_auto_udp_refused(ClientSession *s) {
        if (s->autop)
                s->autop->udp_refused = true;
}

static void want(Reg *w, size_t *n, WireConn *c) {
        int fd = c ? wire_conn_fd(c) : -EBADF;
        if (fd < 0 || *n >= REG_MAX)
                return;
        w[(*n)++] = (Reg) { .fd = fd, .events = wire_conn_poll_events(c) };
}

/* Every wanted fd is (re)registered each time, never skipped as "already there": a closed fd
 * leaves the epoll set by itself and its number may come back as another connection's. */
int client_auto_fd(ClientSession *s) {
        ClientAuto *a = s->autop;
        Reg w[REG_MAX];
        size_t n = 0;

        if (s->state == SESSION_CLOSED)
                return a->epfd;
        want(w, &n, a->tcp);
        want(w, &n, a->udp);
        want(w, &n, a->probe);
        if (s->state == SESSION_RECONNECTING) {
                int fd = client_resume_fd(s);
                if (fd >= 0 && n < REG_MAX)
                        w[n++] = (Reg) { .fd = fd, .events = client_resume_poll_events(s) };
        } else
                want(w, &n, s->conn);

        for (size_t i = 0; i < a->n_reg; i++) {
                bool kept = false;
                for (size_t k = 0; k < n; k++)
                        kept = kept || w[k].fd == a->reg[i].fd;
                if (!kept)
                        (void) epoll_ctl(a->epfd, EPOLL_CTL_DEL, a->reg[i].fd, NULL);
        }
        for (size_t k = 0; k < n; k++) {
                struct epoll_event ev = { .events = w[k].events };
                ev.data.fd = w[k].fd;
                if (epoll_ctl(a->epfd, EPOLL_CTL_MOD, w[k].fd, &ev) < 0 && errno == ENOENT)
                        (void) epoll_ctl(a->epfd, EPOLL_CTL_ADD, w[k].fd, &ev);
        }
        memcpy(a->reg, w, n * sizeof(Reg));
        a->n_reg = n;
        return a->epfd;
}
