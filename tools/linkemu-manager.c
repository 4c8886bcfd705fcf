#include "linkemu-manager.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"

/* Packets read per wakeup of one TUN, so one busy direction cannot starve the other. */
#define READ_BURST 64
/* How late the timer may deliver, so that one wake-up delivers a few packets at a gigabit. */
#define DELIVERY_SLACK_USEC 20

struct ControlClient {
        Manager *manager;
        int fd;
        sd_event_source *source;
        char buf[CONTROL_LINE_MAX + 2];
        size_t len;
        ControlClient *next;
};

uint64_t now_ns(void) {
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

int manager_new(uint64_t seed, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->tun[0] = m->tun[1] = m->control_fd = -EBADF;
        for (size_t d = 0; d < _LINK_DIR_MAX; d++) {
                /* b2a's PRNG starts from seed + 1, as the `seed' command does it */
                m->links[d] = link_new(seed + d);
                if (!m->links[d])
                        return -ENOMEM;
        }
        int r = sd_event_new(&m->event);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

static void client_free(ControlClient *c) {
        Manager *m = c->manager;
        for (ControlClient **p = &m->clients; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        m->n_clients--;
        sd_event_source_disable_unref(c->source);
        close(c->fd);
        free(c);
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        while (m->clients)
                client_free(m->clients);
        sd_event_source_disable_unref(m->control_source);
        if (m->control_fd >= 0)
                close(m->control_fd);
        if (m->control_path)
                (void) unlink(m->control_path);
        free(m->control_path);
        sd_event_source_disable_unref(m->timer);
        for (int i = 0; i < 2; i++) {
                sd_event_source_disable_unref(m->tun_source[i]);
                if (m->tun[i] >= 0)
                        close(m->tun[i]);
        }
        for (size_t d = 0; d < _LINK_DIR_MAX; d++)
                link_free(m->links[d]);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}

int manager_command(Manager *m, const char *line, char **ret_reply) {
        return control_execute(m->links, now_ns(), line, strlen(line), ret_reply);
}

/* Writes every packet due by now into the far TUN. */
static void deliver(Manager *m, uint64_t now) {
        for (size_t d = 0; d < _LINK_DIR_MAX; d++) {
                LinkPacket *pkt;
                while ((pkt = link_pop_due(m->links[d], now))) {
                        /* One write is one packet; a full TUN queue (EAGAIN) or a packet the
                         * kernel refuses is a drop, counted, never a retry that reorders. */
                        if (write(m->tun[1 - d], pkt->data, pkt->len) == (ssize_t) pkt->len)
                                link_count_out(m->links[d], pkt->len);
                        else
                                link_count_drop(m->links[d], LINK_DROP_WRITE, pkt->len);
                        free(pkt);
                }
        }
}

/* Points the timer at the earliest delivery, or turns it off. */
static int rearm(Manager *m) {
        uint64_t due = UINT64_MAX, t;
        for (size_t d = 0; d < _LINK_DIR_MAX; d++)
                if (link_next_due(m->links[d], &t))
                        due = MIN(due, t);
        if (due == UINT64_MAX)
                return sd_event_source_set_enabled(m->timer, SD_EVENT_OFF);
        /* sd-event counts microseconds: round up so a packet never leaves early */
        int r = sd_event_source_set_time(m->timer, (due + 999) / 1000);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(m->timer, SD_EVENT_ONESHOT);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        deliver(m, now_ns());
        return rearm(m);
}

static int on_tun(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        size_t d = fd == m->tun[0] ? LINK_A2B : LINK_B2A;

        for (int i = 0; i < READ_BURST; i++) {
                ssize_t n = read(fd, m->buf, sizeof(m->buf));
                if (n < 0)
                        break; /* EAGAIN; anything else comes back on the next wakeup */
                int r = link_submit(m->links[d], now_ns(), m->buf, (size_t) n, NULL);
                if (r == -ENOMEM)
                        link_count_drop(m->links[d], LINK_DROP_OVERFLOW, (size_t) n);
                else if (r < 0)
                        return r;
        }
        /* Without delay a packet is due at once: out now, not after a trip through the timer. */
        deliver(m, now_ns());
        return rearm(m);
}

int manager_start_forwarding(Manager *m, int tun_a, int tun_b) {
        int r;
        m->tun[0] = tun_a;
        m->tun[1] = tun_b;
        for (int i = 0; i < 2; i++) {
                r = sd_event_add_io(m->event, &m->tun_source[i], m->tun[i], EPOLLIN, on_tun, m);
                if (r < 0)
                        return r;
        }
        /* Not the default accuracy (250 ms), which would coalesce deliveries into bursts; but
         * not 1 us either: at a gigabit a packet is due every 10 us, and a wake-up per packet
         * each way (ACKs included) cost as much CPU as the emulated flow's two ends together
         * (top during a lan run with SCHED_FIFO: 95% of a core, the ends 60% and 40%). A
         * delivery is at most DELIVERY_SLACK_USEC late; the queue, fixed at arrival, is not. */
        r = sd_event_add_time(m->event, &m->timer, CLOCK_MONOTONIC, 0, DELIVERY_SLACK_USEC, on_timer, m);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(m->timer, SD_EVENT_OFF);
}

/* Runs each complete line; false when the client is to be dropped. */
static bool client_lines(ControlClient *c) {
        char *nl;
        while ((nl = memchr(c->buf, '\n', c->len))) {
                size_t len = (size_t) (nl - c->buf);
                _cleanup_(freep) char *reply = NULL;
                int r = control_execute(c->manager->links, now_ns(), c->buf, len, &reply);
                if (r == -ENOMEM)
                        return false;
                /* Replies are short: a client that does not read them is not waited for. */
                size_t n = strlen(reply);
                if (send(c->fd, reply, n, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t) n)
                        return false;
                memmove(c->buf, nl + 1, c->len - len - 1);
                c->len -= len + 1;
        }
        if (c->len == sizeof(c->buf)) {
                static const char msg[] = "error: Command too long (at most 1024 bytes)\n";
                (void) send(c->fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                return false;
        }
        return true;
}

static int on_client(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        ControlClient *c = userdata;
        Manager *m = c->manager;
        ssize_t n = recv(fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0 || (c->len += (size_t) n, !client_lines(c))) {
                client_free(c);
                return 0;
        }
        /* A command may have cut the link or changed what is due. */
        return rearm(m);
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        _cleanup_(closep) int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0)
                return 0;
        if (m->n_clients >= CONTROL_CLIENTS_MAX)
                return 0;
        ControlClient *c = calloc(1, sizeof(*c));
        if (!c)
                return 0;
        if (sd_event_add_io(m->event, &c->source, cfd, EPOLLIN, on_client, c) < 0) {
                free(c);
                return 0;
        }
        c->manager = m;
        c->fd = TAKE_FD(cfd);
        c->next = m->clients;
        m->clients = c;
        m->n_clients++;
        return 0;
}

int manager_listen(Manager *m, const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct stat st;
        size_t n = strlen(path);

        if (n >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, n + 1);
        /* Replace a socket left by a killed forwarder, but never another kind of file. */
        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                        return -EEXIST;
                (void) unlink(path);
        }
        _cleanup_(closep) int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        m->control_path = strdup(path);
        if (!m->control_path) {
                (void) unlink(path);
                return -ENOMEM;
        }
        if (listen(fd, 8) < 0)
                return -errno;
        int r = sd_event_add_io(m->event, &m->control_source, fd, EPOLLIN, on_accept, m);
        if (r < 0)
                return r;
        m->control_fd = TAKE_FD(fd);
        return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

int manager_run(Manager *m) {
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        int r = sd_event_add_signal(m->event, NULL, SIGINT, on_signal, NULL);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGTERM, on_signal, NULL);
        if (r < 0)
                return r;
        return sd_event_loop(m->event);
}
