/* Per-session helpers (schema/agent-protocol.md; issue 5 interface 1): the socket they connect
 * to, checked by SO_PEERCRED uid; starting one for each graphical logon; relaying the clipboard,
 * windows and display channels between hostd and the active helper. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guestd-manager.h"
#include "log.h"
#include "macro.h"

struct Helper {
        Manager *manager;
        Helper *next;
        WireConn *conn;
        sd_event_source *io;
        uid_t uid;
        pid_t pid;
        bool hello_seen;
        uint64_t caps; /* from its hello, masked to GUESTD_HELPER_CAPS */
};

struct Spawned {
        Spawned *next;
        Manager *manager;
        char session[AGENT_LOGON_SESSION_MAX + 1];
        pid_t pid;                  /* 0 while waiting to be started again */
        sd_event_source *child;
        sd_event_source *restart;   /* after a crash */
        uint64_t started_usec;
        unsigned crashes;           /* in a row, each within HELPER_STABLE_USEC of its start */
};

/* A helper that crashed is started again after 1 s, doubling to 60 s while it keeps crashing;
 * one that ran for a minute before crashing starts the count anew. */
#define HELPER_RESTART_FIRST_USEC (UINT64_C(1000000))
#define HELPER_RESTART_MAX_USEC (UINT64_C(60000000))
#define HELPER_STABLE_USEC (UINT64_C(60000000))

static void helper_update(Helper *h);

/* The newest helper that said hello: the one of the most recent graphical logon. */
Helper *helpers_active(Manager *m) {
        for (Helper *h = m->helpers; h; h = h->next)
                if (h->hello_seen)
                        return h;
        return NULL;
}

size_t helpers_active_room(Manager *m) {
        Helper *h = helpers_active(m);
        return h ? buffer_room(wire_conn_out(h->conn)) : SIZE_MAX;
}

/* Tells hostd when the caps union changed (a repeated hello is a caps update). */
static void announce_caps(Manager *m) {
        Helper *h = helpers_active(m);
        uint64_t caps = h ? h->caps : 0;
        if (caps == m->announced_caps)
                return;
        m->announced_caps = caps;
        log_info("Session helper caps now 0x%llx: telling hostd", (unsigned long long) caps);
        manager_send_hello(m);
}

static void helper_free(Helper *h) {
        Manager *m = h->manager;
        bool was_active = helpers_active(m) == h;
        for (Helper **p = &m->helpers; *p; p = &(*p)->next)
                if (*p == h) {
                        *p = h->next;
                        break;
                }
        m->n_helpers--;
        sd_event_source_disable_unref(h->io);
        wire_conn_free(h->conn);
        free(h);
        if (was_active) {
                manager_send(m, &(AgentMessage) { .type = AGENT_TYPE_WINDOWS_RESET });
                announce_caps(m);
                manager_port_update(m);
        }
}

static void helper_send_hello(Helper *h) {
        Manager *m = h->manager;
        AgentMessage msg = { .type = AGENT_TYPE_HELLO };
        if (m->hostd_hello_seen)
                msg.hello = m->hostd_hello; /* the helper sees what hostd offers */
        else
                agent_hello_init(&msg.hello, GUESTD_HELPER_CAPS, "tandem-guestd");
        agent_encode(wire_conn_out(h->conn), &msg);
}

static void on_helper_message(Helper *h, const AgentMessage *msg) {
        Manager *m = h->manager;
        switch (msg->channel) {
        case AGENT_CHANNEL_CONTROL:
                if (msg->type != AGENT_TYPE_HELLO)
                        break;
                if (agent_hello_check(&msg->hello) < 0) {
                        log_warning("Session helper of uid %u: bad hello, ignoring it", (unsigned) h->uid);
                        break;
                }
                Helper *before = helpers_active(m);
                h->caps = msg->hello.caps & GUESTD_HELPER_CAPS;
                if (!h->hello_seen)
                        log_info("Session helper of uid %u (pid %d) says hello, caps 0x%llx", (unsigned) h->uid,
                                 (int) h->pid, (unsigned long long) h->caps);
                h->hello_seen = true;
                if (before && before != helpers_active(m))
                        manager_send(m, &(AgentMessage) { .type = AGENT_TYPE_WINDOWS_RESET });
                announce_caps(m);
                break;
        case AGENT_CHANNEL_CLIPBOARD:
        case AGENT_CHANNEL_WINDOWS:
        case AGENT_CHANNEL_DISPLAY:
                if (helpers_active(m) != h)
                        break; /* an older session's helper: hostd hears the newest only */
                if (manager_send(m, msg) == -ENOBUFS)
                        log_debug("Relay to hostd full, %s dropped", agent_type_name(msg->type));
                break;
        default:
                break; /* sessions and power are the root daemon's */
        }
}

static void helper_close(Helper *h, int error) {
        const char *why = wire_conn_error(h->conn); /* logged before the free below */
        if (error == -ECONNRESET)
                log_info("Session helper of uid %u disconnected", (unsigned) h->uid);
        else
                log_warning_errno(error, "Session helper of uid %u: %s, closing it", (unsigned) h->uid, why ?: "error");
        helper_free(h);
}

static int on_helper_io(sd_event_source *s _unused_, int fd _unused_, uint32_t revents, void *userdata) {
        Helper *h = userdata;
        Manager *m = h->manager;
        AgentMessage msg;
        int r;
        bool hangup = revents & (EPOLLHUP | EPOLLERR); /* read to the end, or it spins */
        /* Reads only while hostd's queue has room for what it may bring. */
        while (hangup || manager_port_room(m) >= GUESTD_RELAY_ROOM || !m->conn || helpers_active(m) != h) {
                r = agent_conn_receive(h->conn, &msg);
                if (r == 0)
                        break;
                if (r < 0) {
                        helper_close(h, r);
                        return 0;
                }
                on_helper_message(h, &msg);
        }
        helper_update(h);
        manager_port_update(m);
        return 0;
}

static void helper_update(Helper *h) {
        Manager *m = h->manager;
        int r = wire_conn_flush(h->conn);
        if (r < 0 && r != -EAGAIN) {
                helper_close(h, r);
                return;
        }
        uint32_t events = wire_conn_poll_events(h->conn);
        if (m->conn && helpers_active(m) == h && manager_port_room(m) < GUESTD_RELAY_ROOM)
                events &= ~(uint32_t) EPOLLIN;
        if (events) {
                sd_event_source_set_io_events(h->io, events);
                sd_event_source_set_enabled(h->io, SD_EVENT_ON);
        } else
                sd_event_source_set_enabled(h->io, SD_EVENT_OFF);
}

void helpers_on_port_room(Manager *m) {
        Helper *h = helpers_active(m);
        if (h)
                helper_update(h);
}

void helpers_on_hostd_hello(Manager *m) {
        Helper *h = helpers_active(m);
        if (!h)
                return;
        helper_send_hello(h);
        helper_update(h);
}

void helpers_relay_from_hostd(Manager *m, const AgentMessage *msg) {
        Helper *h = helpers_active(m);
        if (h) {
                if (agent_encode(wire_conn_out(h->conn), msg) < 0)
                        log_debug("Relay to the helper full, %s dropped", agent_type_name(msg->type));
                helper_update(h);
                return;
        }
        if (msg->type == AGENT_TYPE_RESIZE_REQUEST) {
                /* Nobody to resize X: say so at once rather than let hostd wait. */
                AgentMessage done = {
                        .type = AGENT_TYPE_RESIZE_DONE,
                        .resize_done = {
                                .serial = msg->resize_request.serial,
                                .width = msg->resize_request.width,
                                .height = msg->resize_request.height,
                                .status = AGENT_STATUS_UNSUPPORTED,
                        },
                };
                manager_send(m, &done);
        }
}

/* uid 0, or a user with a graphical session now. */
static bool uid_allowed(Manager *m, uid_t uid) {
        if (uid == 0)
                return true;
        for (size_t i = 0; i < m->sessions.n; i++)
                if (m->sessions.items[i].uid == uid && m->sessions.items[i].display[0])
                        return true;
        return false;
}

static int on_listen(sd_event_source *s _unused_, int fd, uint32_t revents _unused_, void *userdata) {
        Manager *m = userdata;
        _cleanup_(closep) int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
                return 0;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                log_warning_errno(-errno, "Session socket: no peer credentials, refusing: %m");
                return 0;
        }
        if (!uid_allowed(m, cred.uid)) {
                log_warning("Session socket: refused pid %d uid %u (no graphical session of that user)", (int) cred.pid,
                            (unsigned) cred.uid);
                return 0;
        }
        if (m->n_helpers >= GUESTD_HELPERS_MAX) {
                log_warning("Session socket: refused pid %d uid %u (already %d helpers)", (int) cred.pid,
                            (unsigned) cred.uid, GUESTD_HELPERS_MAX);
                return 0;
        }
        Helper *h = calloc(1, sizeof(*h));
        if (!h)
                return 0;
        *h = (Helper) { .manager = m, .uid = cred.uid, .pid = cred.pid };
        ByteTransport *t;
        int r = fd_transport_new(TAKE_FD(cfd), &t);
        if (r >= 0)
                r = agent_conn_new(t, GUESTD_OUT_LIMIT, AGENT_DIR_G2H, &h->conn);
        if (r >= 0)
                r = sd_event_add_io(m->event, &h->io, wire_conn_fd(h->conn), EPOLLIN, on_helper_io, h);
        if (r < 0) {
                log_warning_errno(r, "Session socket: cannot set up a connection: %m");
                wire_conn_free(h->conn);
                free(h);
                return 0;
        }
        h->next = m->helpers;
        m->helpers = h;
        m->n_helpers++;
        log_info("Session helper connected: pid %d uid %u", (int) cred.pid, (unsigned) cred.uid);
        helper_send_hello(h);
        helper_update(h);
        return 0;
}

static int mkdir_parents(const char *path) {
        char dir[sizeof(((struct sockaddr_un *) NULL)->sun_path)];
        size_t n = strlen(path);
        if (n >= sizeof(dir))
                return -ENAMETOOLONG;
        memcpy(dir, path, n + 1);
        for (char *p = dir + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = 0;
                if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        return 0;
}

int helpers_listen(Manager *m) {
        const char *path = m->config->session_socket;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (!path || !path[0])
                return 0;
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path));
        int r = mkdir_parents(path);
        if (r < 0)
                return r;
        _cleanup_(closep) int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) unlink(path); /* a socket left by an earlier run */
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        /* Anyone may knock; SO_PEERCRED decides who stays. */
        if (chmod(path, 0666) < 0 || listen(fd, 8) < 0)
                return -errno;
        r = sd_event_add_io(m->event, &m->listen_io, fd, EPOLLIN, on_listen, m);
        if (r < 0)
                return r;
        m->listen_fd = TAKE_FD(fd);
        log_info("Session helpers connect to %s", path);
        return 0;
}

/* ---- starting helpers ------------------------------------------------------------------- */

static void spawned_free(Spawned *sp) {
        Manager *m = sp->manager;
        for (Spawned **p = &m->spawned; *p; p = &(*p)->next)
                if (*p == sp) {
                        *p = sp->next;
                        break;
                }
        sd_event_source_disable_unref(sp->child);
        sd_event_source_disable_unref(sp->restart);
        free(sp);
}

static int spawned_start(Spawned *sp, const GuestdSession *s);

static int on_restart(sd_event_source *source _unused_, uint64_t usec _unused_, void *userdata) {
        Spawned *sp = userdata;
        sp->restart = sd_event_source_disable_unref(sp->restart);
        const GuestdSession *s = guestd_sessions_find(&sp->manager->sessions, sp->session);
        if (!s || !s->display[0] || spawned_start(sp, s) < 0)
                spawned_free(sp); /* logged off meanwhile, or cannot start: the next logon will */
        return 0;
}

static int on_child(sd_event_source *source _unused_, const siginfo_t *si, void *userdata) {
        Spawned *sp = userdata;
        Manager *m = sp->manager;
        bool crashed = si->si_code != CLD_EXITED || si->si_status != 0;
        log_info("Session helper of session %s (pid %d) exited (%s %d)", sp->session, (int) sp->pid,
                 si->si_code == CLD_EXITED ? "status" : "signal", si->si_status);
        sp->child = sd_event_source_disable_unref(sp->child);
        sp->pid = 0;
        /* A clean exit is the helper's choice (its display or connection ended); a crash of a
         * session still logged on is not the user's: start it again, with backoff. */
        if (!crashed || !guestd_sessions_find(&m->sessions, sp->session)) {
                spawned_free(sp);
                return 0;
        }
        uint64_t now = 0;
        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        sp->crashes = now - sp->started_usec >= HELPER_STABLE_USEC ? 1 : sp->crashes + 1;
        uint64_t delay = HELPER_RESTART_FIRST_USEC;
        for (unsigned i = 1; i < sp->crashes && delay < HELPER_RESTART_MAX_USEC; i++)
                delay *= 2;
        delay = MIN(delay, HELPER_RESTART_MAX_USEC);
        log_warning("Session helper of session %s crashed: starting it again in %" PRIu64 " s", sp->session,
                    delay / 1000000);
        if (sd_event_add_time_relative(m->event, &sp->restart, CLOCK_MONOTONIC, delay, 0, on_restart, sp) < 0)
                spawned_free(sp);
        return 0;
}

/* In the child: become the user and run the helper. Never returns. */
_Noreturn static void exec_helper(const char *helper, const struct passwd *pw, const char *display,
                                  const char *socket_path) {
        char xauth[4096];
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (setgid(pw->pw_gid) < 0 || initgroups(pw->pw_name, pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
                _exit(126);
        snprintf(xauth, sizeof(xauth), "%s/.Xauthority", pw->pw_dir);
        setenv("DISPLAY", display, 1);
        setenv("HOME", pw->pw_dir, 1);
        setenv("USER", pw->pw_name, 1);
        if (!getenv("XAUTHORITY") || pw->pw_uid != 0)
                setenv("XAUTHORITY", xauth, 1);
        if (chdir(pw->pw_dir) < 0)
                (void) chdir("/");
        /* The helper's default socket is only right when SessionSocket= is the default too. */
        /* --once: after a restart of tandem-guestd it starts a new helper; the old one must not
         * come back as a second helper of the same display. */
        if (socket_path)
                execl(helper, helper, "--once", "--display", display, "--socket", socket_path, (char *) NULL);
        else
                execl(helper, helper, "--once", "--display", display, (char *) NULL);
        _exit(127);
}

/* Forks and execs the helper for s into sp. */
static int spawned_start(Spawned *sp, const GuestdSession *s) {
        Manager *m = sp->manager;
        const char *helper = m->config->session_helper;
        struct passwd *pw = getpwuid(s->uid);
        if (!pw) {
                log_warning("Session %s: no user with uid %u, no helper", s->id, s->uid);
                return -ESRCH;
        }
        pid_t pid = fork();
        if (pid < 0)
                return log_warning_errno(-errno, "Session %s: cannot fork the helper: %m", s->id), -errno;
        if (pid == 0)
                exec_helper(helper, pw, s->display, m->config->session_socket);
        sp->pid = pid;
        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &sp->started_usec);
        int r = sd_event_add_child(m->event, &sp->child, pid, WEXITED, on_child, sp);
        if (r < 0)
                log_warning_errno(r, "Session %s: cannot watch helper pid %d: %m", s->id, (int) pid);
        log_info("Started %s --display %s --socket %s for %s (pid %d)", helper, s->display,
                 m->config->session_socket, s->user, (int) pid);
        return 0;
}

static void spawn_helper(Manager *m, const GuestdSession *s) {
        const char *helper = m->config->session_helper;
        if (!helper || !helper[0])
                return;
        if (access(helper, X_OK) < 0) {
                log_info("No session helper at %s: %s's display %s gets no clipboard or windows", helper, s->user,
                         s->display);
                return;
        }
        Spawned *sp = calloc(1, sizeof(*sp));
        if (!sp)
                return;
        sp->manager = m;
        memcpy(sp->session, s->id, sizeof(sp->session));
        if (spawned_start(sp, s) < 0) {
                free(sp);
                return;
        }
        sp->next = m->spawned;
        m->spawned = sp;
}

void helpers_on_logon(Manager *m, const GuestdSession *s, bool logon) {
        if (!s->display[0])
                return;
        if (logon) {
                spawn_helper(m, s);
                return;
        }
        for (Spawned *sp = m->spawned, *next; sp; sp = next) {
                next = sp->next;
                if (strcmp(sp->session, s->id) != 0)
                        continue;
                if (!sp->pid) {
                        spawned_free(sp); /* was waiting to be started again */
                        continue;
                }
                log_info("Session %s ended: stopping its helper (pid %d)", s->id, (int) sp->pid);
                kill(sp->pid, SIGTERM);
        }
}

void helpers_free(Manager *m) {
        while (m->helpers) {
                Helper *h = m->helpers;
                m->helpers = h->next;
                sd_event_source_disable_unref(h->io);
                wire_conn_free(h->conn);
                free(h);
        }
        while (m->spawned) {
                Spawned *sp = m->spawned;
                m->spawned = sp->next;
                if (sp->pid)
                        kill(sp->pid, SIGTERM);
                sd_event_source_disable_unref(sp->child);
                sd_event_source_disable_unref(sp->restart);
                free(sp);
        }
        m->listen_io = sd_event_source_disable_unref(m->listen_io);
        if (m->listen_fd >= 0 && m->config->session_socket)
                (void) unlink(m->config->session_socket);
        closep(&m->listen_fd);
        m->listen_fd = -EBADF;
}
