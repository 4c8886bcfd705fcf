#include "hostd-viewer-server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "hostd-audio.h" /* vmaudio */
#include "hostd-console.h"
#include "hostd-domain.h"
#include "hostd-manager.h"
#include "hostd-udp-server.h"
#include "hostd-viewer.h"
#include "hostd-viewer-adapt.h"
#include "hostd-viewer-resume.h"
#include "log.h"
#include "sockaddr-util.h"

/* Connections per host, handshakes included: bounds what a flood of connections costs. */
#define HOST_MAX_CONNECTIONS 1024

/* Splits "ADDRESS:PORT" ("[v6]:PORT" for IPv6) into numeric host and port strings. */
static int split_listen(const char *listen, char host[static 64], char port[static 8]) {
        const char *colon = strrchr(listen, ':');
        const char *h = listen, *h_end = colon;
        if (!colon || strlen(colon + 1) == 0 || strlen(colon + 1) > 5)
                return -EINVAL;
        if (*h == '[') {
                h++;
                if (h_end == h || h_end[-1] != ']')
                        return -EINVAL;
                h_end--;
        }
        if ((size_t) (h_end - h) >= 64)
                return -EINVAL;
        memcpy(host, h, (size_t) (h_end - h));
        host[h_end - h] = 0;
        memcpy(port, colon + 1, strlen(colon + 1) + 1);
        return 0;
}

static int listen_socket(const char *address) {
        struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV,
                                  .ai_socktype = SOCK_STREAM },
                        *ai = NULL;
        char host[64], port[8];
        int fd, one = 1;

        if (split_listen(address, host, port) < 0 || getaddrinfo(host[0] ? host : NULL, port, &hints, &ai) != 0)
                return -EINVAL;
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                freeaddrinfo(ai);
                return -errno;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
                int r = -errno;
                freeaddrinfo(ai);
                close(fd);
                return r;
        }
        freeaddrinfo(ai);
        return fd;
}

static int on_accept(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        ViewerServer *s = userdata;
        struct sockaddr_storage sa;
        socklen_t len = sizeof(sa);
        char peer[64];
        Viewer *v;
        int one = 1;

        /* Accept a few per wakeup: a flood of connections must not starve the displays. */
        for (int i = 0; i < 16; i++) {
                int cfd = accept4(fd, (struct sockaddr *) &sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0)
                        return 0;
                setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                sockaddr_format(&sa, "", peer, sizeof(peer));
                /* Half-open handshakes count too: a host-wide cap keeps them bounded. */
                if (s->n_viewers >= HOST_MAX_CONNECTIONS) {
                        log_warning("viewer %s: too many connections, refusing", peer);
                        close(cfd);
                        continue;
                }
                int r = viewer_new(s, cfd, peer, &v);
                if (r < 0)
                        log_warning_errno(r, "viewer %s: cannot set up the connection: %m", peer);
                else
                        log_debug("viewer %s: connected", peer);
        }
        return 0;
}

static int ensure_certificate(const HostdConfig *c) {
        if (access(c->certificate, R_OK) == 0 && access(c->private_key, R_OK) == 0)
                return 0;
        log_info("Creating a self-signed certificate %s for viewers' TLS", c->certificate);
        return tls_generate_self_signed(c->certificate, c->private_key, "tandem-hostd");
}

int viewer_server_new(Manager *m, ViewerServer **ret) {
        _cleanup_(viewer_server_freep) ViewerServer *s = NULL;
        char *error = NULL;
        int r;

        if (!m->config.listen || !m->config.listen[0]) {
                log_info("Viewers disabled (Listen= is empty)");
                *ret = NULL;
                return 0;
        }
        s = calloc(1, sizeof(ViewerServer));
        if (!s)
                return -ENOMEM;
        s->manager = m;
        s->fd = -EBADF;

        /* No TicketPublicKey= with a broker: its key comes later (viewer_server_set_ticket_key). */
        const char *key_path = m->config.ticket_public_key;
        bool from_broker = !key_path && hostd_broker_config_enabled(&m->config.broker);
        if (!key_path)
                key_path = HOSTD_DEFAULT_TICKET_KEY;
        r = from_broker ? 0 : ticket_verifier_load(key_path, &s->verifier, &error);
        if (r < 0) {
                log_error("Viewers disabled: cannot load the ticket public key %s: %s", key_path,
                          error ? error : strerror(-r));
                free(error);
                *ret = NULL;
                return 0;
        }
        r = ensure_certificate(&m->config);
        if (r < 0)
                return log_error_errno(r, "Cannot create the viewers' certificate %s: %m", m->config.certificate);
        r = ticket_fingerprint_load(m->config.certificate, s->fingerprint);
        if (r < 0)
                return log_error_errno(r, "Cannot read the certificate %s: %m", m->config.certificate);
        s->tls = tls_server_context_new(m->config.certificate, m->config.private_key, &error);
        if (!s->tls) {
                log_error("Cannot set up TLS with %s: %s", m->config.certificate, error ? error : "unknown error");
                free(error);
                return -EINVAL;
        }
        s->fd = listen_socket(m->config.listen);
        if (s->fd < 0)
                return log_error_errno(s->fd, "Cannot listen for viewers on %s: %m", m->config.listen);
        r = sd_event_add_io(m->event, &s->io, s->fd, EPOLLIN, on_accept, s);
        if (r < 0)
                return r;
        char hex[65];
        for (int i = 0; i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", s->fingerprint[i]);
        log_info("Viewers: listening on %s (TLS 1.3, certificate SHA-256 %s)", m->config.listen, hex);
        /* UDP is an addition: without it viewers still have TLS. */
        r = udp_server_new(m, s, s->fd, m->config.certificate, m->config.private_key, &s->udp);
        if (r < 0)
                log_warning_errno(r, "Viewers: no UDP on %s, TLS only: %m", m->config.listen);
        else
                log_info("Viewers: also on UDP at %s (DTLS 1.2, the same certificate)", m->config.listen);
        *ret = TAKE_PTR(s);
        return 0;
}

ViewerServer *viewer_server_free(ViewerServer *s) {
        if (!s)
                return NULL;
        while (s->viewers)
                viewer_free(s->viewers);
        while (s->closing)
                viewer_free(s->closing);
        s->udp = udp_server_free(s->udp); /* after every viewer: their transports use its socket */
        sd_event_source_disable_unref(s->io);
        if (s->fd >= 0)
                close(s->fd);
        tls_context_free(s->tls);
        ticket_verifier_free(s->verifier);
        EVP_PKEY_free(s->verifier_key);
        free(s);
        return NULL;
}

static bool viewer_watches(const Viewer *v, const char *desktop) {
        return v->state == VIEWER_ACTIVE && strcmp(v->ticket.desktop, desktop) == 0;
}

unsigned viewer_server_count(ViewerServer *s, const char *desktop) {
        unsigned n = 0;
        for (Viewer *v = s ? s->viewers : NULL; v; v = v->next)
                n += viewer_watches(v, desktop);
        return n;
}

Console *viewer_server_find_console(ViewerServer *s, const char *desktop) {
        Domain *d = manager_find_domain(s->manager, desktop);
        return d ? domain_console(d, 0) : NULL;
}

/* Viewers show a desktop's first graphic console. */
static bool console_is_primary(Console *c) {
        Domain *d = manager_find_domain(c->manager, c->domain);
        return !d || domain_n_consoles(d) == 0 || domain_console(d, 0) == c || c->id == 0;
}

void viewer_server_console_added(ViewerServer *s, Console *c) {
        if (!s || !console_is_primary(c))
                return;
        for (Viewer *v = s->viewers; v; v = v->next)
                if (viewer_watches(v, c->domain) && v->console != c)
                        viewer_bind(v, c);
}

void viewer_server_console_removed(ViewerServer *s, Console *c) {
        for (Viewer *v = s ? s->viewers : NULL; v; v = v->next)
                if (v->console == c)
                        viewer_bind(v, NULL);
}

void viewer_server_console_damaged(ViewerServer *s, Console *c, bool mode_changed) {
        for (Viewer *v = s ? s->viewers : NULL; v; v = v->next) {
                if (v->console != c)
                        continue;
                if (mode_changed)
                        v->need_mode = true;
                else
                        for (size_t i = 0; i < c->fb->dirty.n; i++)
                                if (region_add(&v->pending, c->fb->dirty.rects[i]) < 0)
                                        v->need_mode = true; /* cannot track: resend everything */
                viewer_schedule_pump(v);
        }
        region_clear(&c->fb->dirty);
}

void viewer_server_console_cursor(ViewerServer *s, Console *c, bool shape_changed) {
        for (Viewer *v = s ? s->viewers : NULL; v; v = v->next)
                if (v->console == c) {
                        v->cursor_shape_dirty |= shape_changed;
                        v->cursor_position_dirty = true;
                        viewer_schedule_pump(v);
                }
}

static void broadcast_roles(ViewerServer *s, const char *desktop) {
        uint64_t interactive = 0;
        for (Viewer *v = s->viewers; v; v = v->next)
                if (viewer_watches(v, desktop) && v->interactive)
                        interactive = v->session;
        for (Viewer *v = s->viewers; v; v = v->next)
                if (viewer_watches(v, desktop))
                        viewer_send_role(v, interactive);
}

bool viewer_server_claim_interactive(ViewerServer *s, Viewer *v) {
        Viewer *detached = NULL;
        if (v->ticket.role != TICKET_ROLE_INTERACTIVE)
                return false;
        for (Viewer *o = s->viewers; o; o = o->next)
                if (o != v && viewer_watches(o, v->ticket.desktop) && o->interactive) {
                        if (!viewer_is_detached(o))
                                return false;
                        detached = o;
                }
        /* A session waiting for its viewer to come back does not keep the desktop from a new
         * one: a user whose client crashed would otherwise be stuck view-only. */
        if (detached) {
                detached->interactive = false;
                viewer_send_role(detached, v->session);
                log_info("%s: %s takes control from detached session %016llx", v->ticket.desktop, v->ticket.user,
                         (unsigned long long) detached->session);
        }
        return true;
}

void viewer_server_interactive_left(ViewerServer *s, const char *desktop) {
        /* Control passes to the longest-connected viewer whose ticket allows it (the list is
         * newest first, so the last eligible one). */
        Viewer *next = NULL;
        for (Viewer *v = s->viewers; v; v = v->next)
                if (viewer_watches(v, desktop) && v->ticket.role == TICKET_ROLE_INTERACTIVE)
                        next = v;
        if (next)
                next->interactive = true;
        broadcast_roles(s, desktop);
        Audio *au = manager_audio(s->manager, desktop); /* vmaudio: the microphone follows the role */
        if (au)
                audio_roles_changed(au);
}

void viewer_server_handover(ViewerServer *s, Viewer *from, uint64_t to_session) {
        Viewer *to = NULL;
        for (Viewer *v = s->viewers; v; v = v->next)
                if (v->session == to_session && viewer_watches(v, from->ticket.desktop))
                        to = v;
        if (!from->interactive || !to || to->ticket.role != TICKET_ROLE_INTERACTIVE) {
                WireNotice n = { .code = 2, .text = "handover refused", .text_len = strlen("handover refused") };
                (void) wire_encode_notice(wire_conn_out(from->conn), &n);
                return;
        }
        from->interactive = false;
        to->interactive = true;
        to->input_notice_sent = false;
        log_info("%s: %s hands control to %s", from->ticket.desktop, from->ticket.user, to->ticket.user);
        broadcast_roles(s, from->ticket.desktop);
        Audio *au = manager_audio(s->manager, from->ticket.desktop); /* vmaudio */
        if (au)
                audio_roles_changed(au);
}

void viewer_server_describe(ViewerServer *s, ViewerDescribeFn fn, void *userdata) {
        bool first = true;
        for (Viewer *v = s ? s->viewers : NULL; v; v = v->next) {
                if (v->state != VIEWER_ACTIVE)
                        continue;
                ViewerInfo info = { .desktop = v->ticket.desktop, .user = v->ticket.user, .session = v->session,
                                    .interactive = v->interactive, .detached = viewer_is_detached(v),
                                    .queued = wire_conn_queued(v->conn),
                                    .in_flight = viewer_in_flight(v), .frames_sent = v->frames_sent,
                                    .frames_skipped = v->frames_skipped,
                                    .udp = wire_conn_kind(v->conn) == WIRE_CONN_RUDP,
                                    .bytes_sent = wire_conn_bytes_out(v->conn) };
                ViewerLinkFigures link;
                viewer_adapt_figures(v, &link);
                info.link = &link;
                fn(userdata, &info, first);
                first = false;
        }
}

int viewer_server_set_ticket_key(ViewerServer *s, EVP_PKEY *key) {
        if (!s)
                return -ENOENT;
        /* The same key again keeps the verifier, and with it the nonces of tickets already used. */
        if (s->verifier && s->verifier_key && EVP_PKEY_eq(s->verifier_key, key) == 1)
                return 0;
        TicketVerifier *v = ticket_verifier_new(key);
        if (!v)
                return -EINVAL;
        if (!EVP_PKEY_up_ref(key)) {
                ticket_verifier_free(v);
                return -ENOMEM;
        }
        bool replaced = s->verifier != NULL;
        ticket_verifier_free(s->verifier);
        EVP_PKEY_free(s->verifier_key);
        s->verifier = v;
        s->verifier_key = key;
        return replaced ? 1 : 0;
}

void viewer_server_udp_counters(ViewerServer *s, UdpServerCounters *ret) {
        udp_server_counters(s ? s->udp : NULL, ret);
}
