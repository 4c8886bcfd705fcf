/* The agent port, the control and session channels, the heartbeat and power requests. */
#include "guestd-manager.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guestd-health.h"
#include "guestd-port.h"
#include "log.h"
#include "macro.h"

#define SOFTWARE "tandem-guestd"
#define USEC_PER_SEC UINT64_C(1000000)
/* Wait after a protocol error, and between looks at a port whose host is away. */
#define PORT_RETRY_USEC USEC_PER_SEC
/* Between the power reply and the action: time for the reply to leave. */
#define POWER_DELAY_USEC (USEC_PER_SEC / 2)

static void port_closed(Manager *m, int error);
static int port_open(Manager *m);

static uint64_t now_usec(Manager *m) {
        uint64_t t = 0;
        sd_event_now(m->event, CLOCK_MONOTONIC, &t);
        return t;
}

static uint64_t realtime_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static int arm_timer(Manager *m, sd_event_source **s, uint64_t delay, sd_event_time_handler_t cb) {
        if (*s) {
                int r = sd_event_source_set_time(*s, now_usec(m) + delay);
                return r < 0 ? r : sd_event_source_set_enabled(*s, SD_EVENT_ONESHOT);
        }
        return sd_event_add_time(m->event, s, CLOCK_MONOTONIC, now_usec(m) + delay, 0, cb, m);
}

uint64_t manager_caps(Manager *m) {
        return GUESTD_CAPS | m->announced_caps | (m->media ? AGENT_CAP_MEDIA : 0);
}

/* ---- sending ---------------------------------------------------------------------------- */

int manager_send(Manager *m, const AgentMessage *msg) {
        if (!m->conn)
                return -ENOTCONN;
        int r = agent_encode(wire_conn_out(m->conn), msg);
        if (r == -ENOBUFS) {
                /* hostd is not reading: drop it, and say everything again once it is. */
                m->dropped++;
                m->resync = true;
        }
        return r;
}

size_t manager_port_queued(Manager *m) {
        return m->conn ? buffer_len(wire_conn_out(m->conn)) : 0;
}

size_t manager_port_room(Manager *m) {
        return m->conn ? buffer_room(wire_conn_out(m->conn)) : 0;
}

void manager_send_hello(Manager *m) {
        AgentMessage msg = { .type = AGENT_TYPE_HELLO };
        agent_hello_init(&msg.hello, manager_caps(m), SOFTWARE);
        manager_send(m, &msg);
}

static void send_session(Manager *m, const GuestdSession *s, bool logon) {
        if (!m->conn)
                return;
        int r = logon ? guestd_encode_logon(wire_conn_out(m->conn), s)
                      : guestd_encode_logoff(wire_conn_out(m->conn), s, realtime_usec());
        if (r == -ENOBUFS) {
                m->dropped++;
                m->resync = true;
        } else if (r < 0)
                log_debug_errno(r, "Cannot encode %s of %s: %m", logon ? "logon" : "logoff", s->id);
}

/* hello, sessions-reset, every session, windows-reset: all hostd needs after a (re)start. */
static void send_state(Manager *m) {
        m->resync = false;
        manager_send_hello(m);
        manager_send(m, &(AgentMessage) { .type = AGENT_TYPE_SESSIONS_RESET });
        for (size_t i = 0; i < m->sessions.n; i++)
                send_session(m, &m->sessions.items[i], true);
        if (!helpers_active(m))
                manager_send(m, &(AgentMessage) { .type = AGENT_TYPE_WINDOWS_RESET });
}

static void on_session_changed(void *userdata, const GuestdSession *s, bool logon) {
        Manager *m = userdata;
        log_info("%s: %s of %s (uid %u) on %s%s, session %s", agent_source_name(s->source), logon ? "logon" : "logoff",
                 s->user, s->uid, s->display[0] ? "display " : "", s->display[0] ? s->display : s->tty, s->id);
        send_session(m, s, logon);
        helpers_on_logon(m, s, logon);
        manager_port_update(m);
}

/* ---- power ------------------------------------------------------------------------------ */

static int on_command_exit(sd_event_source *s _unused_, const siginfo_t *si, void *userdata _unused_) {
        if (si->si_code != CLD_EXITED || si->si_status != 0)
                log_warning("Power command pid %d ended with %s %d", (int) si->si_pid,
                            si->si_code == CLD_EXITED ? "status" : "signal", si->si_status);
        return 0;
}

static int run_command(Manager *m, const char *cmd) {
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                execl("/bin/sh", "sh", "-c", cmd, (char *) NULL);
                _exit(127);
        }
        return sd_event_add_child(m->event, NULL, pid, WEXITED, on_command_exit, NULL);
}

static int on_power_timer(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        Manager *m = userdata;
        bool reboot = m->power_action == AGENT_ACTION_REBOOT;
        const char *cmd = reboot ? m->config->reboot_command : m->config->shutdown_command;
        int r;

        if (cmd && cmd[0]) {
                log_info("%s: running %s", reboot ? "Reboot" : "Shutdown", cmd);
                r = run_command(m, cmd);
        } else if (m->logind) {
                log_info("%s through logind", reboot ? "Reboot" : "Shutdown");
                r = guestd_logind_power(m->logind, reboot);
        } else {
                /* busybox init and sysvinit-likes: SIGTERM reboots, SIGUSR2 powers off. */
                log_info("%s: signalling PID 1", reboot ? "Reboot" : "Shutdown");
                sync();
                r = kill(1, reboot ? SIGTERM : SIGUSR2) < 0 ? -errno : 0;
        }
        if (r < 0)
                log_error_errno(r, "Failed to %s: %m", reboot ? "reboot" : "shut down");
        return 0;
}

static void on_power_request(Manager *m, uint8_t action) {
        AgentMessage reply = { .type = AGENT_TYPE_POWER_REPLY, .power_reply = { .action = action } };
        const char *why = NULL;
        const char *cmd = action == AGENT_ACTION_REBOOT ? m->config->reboot_command : m->config->shutdown_command;

        if (action != AGENT_ACTION_REBOOT && action != AGENT_ACTION_SHUTDOWN) {
                reply.power_reply.status = AGENT_STATUS_UNSUPPORTED;
                why = "unknown action";
        } else if (!(cmd && cmd[0]) && !m->logind && geteuid() != 0) {
                reply.power_reply.status = AGENT_STATUS_FAILED;
                why = "not root, no logind and no command configured";
        } else if (arm_timer(m, &m->power_timer, POWER_DELAY_USEC, on_power_timer) < 0) {
                reply.power_reply.status = AGENT_STATUS_FAILED;
                why = "cannot arm a timer";
        } else {
                m->power_action = action;
                why = action == AGENT_ACTION_REBOOT ? "rebooting" : "shutting down";
        }
        log_info("Power request %s from hostd: %s", agent_action_name(action) ?: "?", why);
        reply.power_reply.reason = why;
        reply.power_reply.reason_len = strlen(why);
        manager_send(m, &reply);
}

/* ---- the port --------------------------------------------------------------------------- */

static void on_hostd_hello(Manager *m, const AgentHello *h) {
        int r = agent_hello_check(h);
        if (r < 0) {
                log_warning("hostd's hello has %s, ignoring it", r == -EPROTO ? "a bad magic" : "another version");
                return;
        }
        log_info("hostd says hello (%.*s, caps 0x%llx)", (int) h->software_len, h->software,
                 (unsigned long long) h->caps);
        m->hostd_hello = *h;
        guestd_copy_field(m->hostd_software, sizeof(m->hostd_software), h->software, h->software_len);
        m->hostd_hello.software = m->hostd_software;
        m->hostd_hello.software_len = strlen(m->hostd_software);
        m->hostd_hello_seen = true;
        media_on_path_down(m->media); /* a new hostd knows none of our streams */
        send_state(m);
        helpers_on_hostd_hello(m); /* the helper answers with its hello and its windows */
}

static void on_port_message(Manager *m, const AgentMessage *msg) {
        switch (msg->channel) {
        case AGENT_CHANNEL_CONTROL:
                if (msg->type == AGENT_TYPE_HELLO)
                        on_hostd_hello(m, &msg->hello);
                else if (msg->type == AGENT_TYPE_BYE)
                        log_info("hostd says bye (%s): %.*s", agent_code_name(msg->bye.code) ?: "?",
                                 (int) msg->bye.reason_len, msg->bye.reason);
                break;
        case AGENT_CHANNEL_CLIPBOARD:
        case AGENT_CHANNEL_WINDOWS:
        case AGENT_CHANNEL_DISPLAY:
                helpers_relay_from_hostd(m, msg);
                break;
        case AGENT_CHANNEL_MEDIA:
                if (m->media)
                        media_on_hostd(m->media, msg);
                break;
        case AGENT_CHANNEL_POWER:
                if (msg->type == AGENT_TYPE_POWER_REQUEST)
                        on_power_request(m, msg->power_request.action);
                break;
        default:
                break;
        }
}

/* What the port's source waits for: reads only while the active helper has room for what they
 * may bring; off when there is nothing to wait for (a hang-up must not spin the loop). */
void manager_port_update(Manager *m) {
        if (!m->conn)
                return;
        int r = wire_conn_flush(m->conn);
        if (r < 0 && r != -EAGAIN) {
                port_closed(m, r);
                return;
        }
        if (r == 0 && m->resync) {
                send_state(m);
                r = wire_conn_flush(m->conn);
                if (r < 0 && r != -EAGAIN) {
                        port_closed(m, r);
                        return;
                }
        }
        uint32_t events = wire_conn_poll_events(m->conn);
        if (helpers_active_room(m) < GUESTD_RELAY_ROOM)
                events &= ~(uint32_t) EPOLLIN;
        if (events) {
                sd_event_source_set_io_events(m->conn_io, events);
                sd_event_source_set_enabled(m->conn_io, SD_EVENT_ON);
        } else
                sd_event_source_set_enabled(m->conn_io, SD_EVENT_OFF);
        helpers_on_port_room(m);
}

static int on_conn_io(sd_event_source *s _unused_, int fd _unused_, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        AgentMessage msg;
        int r;
        /* A hang-up is read even when the helper has no room (what it would get is dropped):
         * otherwise it would be reported again and again. */
        bool hangup = revents & (EPOLLHUP | EPOLLERR);

        while (m->conn && (hangup || helpers_active_room(m) >= GUESTD_RELAY_ROOM)) {
                r = agent_conn_receive(m->conn, &msg);
                if (r == 0)
                        break;
                if (r < 0) {
                        port_closed(m, r);
                        return 0;
                }
                on_port_message(m, &msg);
        }
        manager_port_update(m);
        return 0;
}

/* The host is there: frame the port and say hello. Takes fd. */
static int port_connected(Manager *m, int fd) {
        ByteTransport *t;
        int r = fd_transport_new(fd, &t);
        if (r < 0)
                return r;
        r = agent_conn_new(t, GUESTD_PORT_OUT_LIMIT, AGENT_DIR_H2G, &m->conn);
        if (r < 0)
                return r;
        r = sd_event_add_io(m->event, &m->conn_io, wire_conn_fd(m->conn), EPOLLIN, on_conn_io, m);
        if (r < 0) {
                m->conn = wire_conn_free(m->conn);
                return r;
        }
        log_info("Agent port %s: host connected, saying hello", m->port_path ?: "(inherited fd)");
        send_state(m);
        manager_port_update(m);
        return 0;
}

/* Whether a device port's host end is open: virtio-serial says POLLHUP while it is not (and
 * POLLIN too, which is why a level-triggered wait would spin). */
static bool device_host_present(int fd) {
        struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };
        return poll(&p, 1, 0) >= 0 && !(p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

static void device_check(Manager *m) {
        if (m->port_fd < 0 || !device_host_present(m->port_fd))
                return;
        m->port_wait = sd_event_source_disable_unref(m->port_wait);
        if (m->port_timer)
                sd_event_source_set_enabled(m->port_timer, SD_EVENT_OFF);
        int r = port_connected(m, TAKE_FD(m->port_fd));
        if (r < 0) {
                log_error_errno(r, "Cannot set up the agent port: %m");
                port_closed(m, -EPROTO);
        }
}

static int on_port_wait(sd_event_source *s _unused_, int fd _unused_, uint32_t revents _unused_, void *userdata) {
        device_check(userdata);
        return 0;
}

static int on_port_timer(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        Manager *m = userdata;
        if (m->port_fd >= 0) {
                /* Belt and braces beside the edge-triggered wait: look once a second. */
                device_check(m);
                if (m->port_fd >= 0)
                        arm_timer(m, &m->port_timer, PORT_RETRY_USEC, on_port_timer);
                return 0;
        }
        if (!m->conn && port_open(m) < 0)
                arm_timer(m, &m->port_timer, PORT_RETRY_USEC, on_port_timer);
        return 0;
}

static int port_open(Manager *m) {
        int r;
        if (m->port_kind == PORT_SOCKET) {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                if (strlen(m->port_path) >= sizeof(sa.sun_path))
                        return -ENAMETOOLONG;
                memcpy(sa.sun_path, m->port_path, strlen(m->port_path));
                _cleanup_(closep) int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        return -errno;
                if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
                        return log_debug_errno(-errno, "Cannot connect to %s: %m", m->port_path);
                return port_connected(m, TAKE_FD(fd));
        }
        int fd = open(m->port_path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return log_debug_errno(-errno, "Cannot open %s: %m", m->port_path);
        m->port_fd = fd;
        if (device_host_present(fd)) {
                device_check(m);
                return 0;
        }
        log_info("Agent port %s: waiting for the host to open its end", m->port_path);
        r = sd_event_add_io(m->event, &m->port_wait, fd, EPOLLIN | EPOLLOUT | EPOLLET, on_port_wait, m);
        if (r < 0)
                return r;
        return arm_timer(m, &m->port_timer, PORT_RETRY_USEC, on_port_timer);
}

/* The connection ended: error -ECONNRESET when the host went away, else a protocol or I/O error. */
static void port_closed(Manager *m, int error) {
        char why_buf[256];
        const char *why = m->conn ? wire_conn_error(m->conn) : NULL;
        if (why) { /* it lives in the connection, freed next */
                snprintf(why_buf, sizeof(why_buf), "%s", why);
                why = why_buf;
        }
        m->conn_io = sd_event_source_disable_unref(m->conn_io);
        m->conn = wire_conn_free(m->conn);
        m->resync = false;
        m->hostd_hello_seen = false;
        media_on_path_down(m->media);

        if (m->port_kind == PORT_FD) {
                log_info_errno(error, "Agent connection closed (%s), exiting", why ?: "end of stream");
                sd_event_exit(m->event, error == -ECONNRESET ? 0 : error);
                return;
        }
        if (error == -ECONNRESET && m->port_kind == PORT_DEVICE) {
                log_info("Agent port %s: the host closed its end", m->port_path);
                if (port_open(m) < 0)
                        arm_timer(m, &m->port_timer, PORT_RETRY_USEC, on_port_timer);
                return;
        }
        if (error == -ECONNRESET)
                log_info("Agent port %s closed, reconnecting in 1 s", m->port_path);
        else
                log_warning_errno(error, "Agent port %s: %s, re-opening it in 1 s", m->port_path, why ?: "error");
        arm_timer(m, &m->port_timer, PORT_RETRY_USEC, on_port_timer);
}

/* ---- heartbeat -------------------------------------------------------------------------- */

static int on_heartbeat(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        GuestdHealth h;
        /* From now, not from when it was due: a guest paused for a minute gets one, not thirty. */
        sd_event_source_set_time(s, MAX(usec, now_usec(m)) + (uint64_t) m->config->heartbeat_seconds * USEC_PER_SEC);
        if (!m->conn)
                return 0;
        int r = guestd_health_read("/proc", &h);
        if (r < 0)
                log_debug_errno(r, "Incomplete health from /proc: %m");
        AgentMessage msg = {
                .type = AGENT_TYPE_HEARTBEAT,
                .heartbeat = {
                        .seq = m->heartbeat_seq++,
                        .uptime_s = h.uptime_s,
                        .load1_milli = h.load1_milli,
                        .load5_milli = h.load5_milli,
                        .load15_milli = h.load15_milli,
                        .mem_total_kib = h.mem_total_kib,
                        .mem_available_kib = h.mem_available_kib,
                        .users = (uint16_t) m->sessions.n,
                },
        };
        manager_send(m, &msg);
        manager_port_update(m);
        return 0;
}

/* ---- sessions backends ------------------------------------------------------------------ */

static void start_utmp(Manager *m) {
        if (m->utmp)
                return;
        int r = guestd_utmp_new(m->event, m->config->utmp_path, &m->sessions, on_session_changed, m, &m->utmp);
        if (r < 0)
                log_error_errno(r, "Cannot watch %s, no logon reports: %m", m->config->utmp_path);
        else
                log_info("Sessions from %s", m->config->utmp_path);
}

static void on_logind_unavailable(void *userdata, int error) {
        Manager *m = userdata;
        /* sd-bus maps ServiceUnknown to EHOSTUNREACH: say it in words. */
        log_info_errno(error, "logind does not answer on the system bus%s: falling back to utmp",
                       error == -EHOSTUNREACH ? "" : " (%m)");
        m->logind = guestd_logind_free(m->logind);
        start_utmp(m);
}

static void start_sessions(Manager *m) {
        int r = -ENOENT;
        if (m->config->use_logind) {
                r = sd_bus_open_system(&m->bus);
                if (r >= 0)
                        r = sd_bus_attach_event(m->bus, m->event, 0);
                if (r >= 0)
                        r = guestd_logind_new(m->bus, &m->sessions, on_session_changed, on_logind_unavailable, m,
                                              &m->logind);
                if (r < 0) {
                        log_info_errno(r, "No system bus (%m): sessions from utmp");
                        m->bus = sd_bus_flush_close_unref(m->bus);
                } else
                        log_info("Sessions from logind (falling back to utmp if it does not answer)");
        }
        if (r < 0)
                start_utmp(m);
}

/* ---- life cycle ------------------------------------------------------------------------- */

int manager_new(sd_event *e, GuestdConfig *config, Manager **ret) {
        Manager *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->event = sd_event_ref(e);
        m->config = config;
        m->port_fd = -EBADF;
        m->listen_fd = -EBADF;
        *ret = m;
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        helpers_free(m);
        m->media = media_service_free(m->media);
        if (m->conn) {
                /* Tell hostd now rather than let it wait for missed heartbeats; one try, no wait. */
                static const char why[] = "tandem-guestd stopping";
                AgentMessage bye = { .type = AGENT_TYPE_BYE,
                                     .bye = { .code = AGENT_CODE_SHUTTING_DOWN, .reason = why, .reason_len = sizeof(why) - 1 } };
                if (manager_send(m, &bye) >= 0)
                        (void) wire_conn_flush(m->conn);
        }
        m->conn_io = sd_event_source_disable_unref(m->conn_io);
        wire_conn_free(m->conn);
        sd_event_source_disable_unref(m->port_wait);
        sd_event_source_disable_unref(m->port_timer);
        closep(&m->port_fd);
        sd_event_source_disable_unref(m->heartbeat);
        sd_event_source_disable_unref(m->power_timer);
        guestd_logind_free(m->logind);
        guestd_utmp_free(m->utmp);
        sd_bus_flush_close_unref(m->bus);
        free(m->port_path);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}

static int resolve_port(Manager *m) {
        GuestdConfig *c = m->config;
        if (c->port_fd >= 0) {
                m->port_kind = PORT_FD;
                return 0;
        }
        if (c->port_path && c->port_path[0]) {
                struct stat st;
                m->port_path = strdup(c->port_path);
                if (!m->port_path)
                        return -ENOMEM;
                m->port_kind = stat(c->port_path, &st) == 0 && S_ISSOCK(st.st_mode) ? PORT_SOCKET : PORT_DEVICE;
                return 0;
        }
        char dev[256];
        int r = guestd_find_port(c->sysfs_root, c->port_name, dev, sizeof(dev));
        if (r < 0)
                return log_error_errno(r, "No virtio-serial port named %s (is the channel in the domain XML?): %m",
                                       c->port_name);
        m->port_path = strdup(dev);
        if (!m->port_path)
                return -ENOMEM;
        m->port_kind = PORT_DEVICE;
        log_info("Agent port %s is %s", c->port_name, dev);
        return 0;
}

int manager_start(Manager *m) {
        int r = resolve_port(m);
        if (r < 0)
                return r;
        start_sessions(m);
        if (m->config->media) {
                r = media_service_new(m, &m->media);
                if (r < 0)
                        log_info_errno(r, "No %s on the system bus (%m): no media redirection", MEDIA_BUS_NAME);
                else
                        log_info("%s on the system bus", MEDIA_BUS_NAME);
        }
        r = helpers_listen(m);
        if (r < 0)
                log_warning_errno(r, "No session helpers (cannot listen on %s): %m", m->config->session_socket);
        r = sd_event_add_time(m->event, &m->heartbeat, CLOCK_MONOTONIC,
                              now_usec(m) + (uint64_t) m->config->heartbeat_seconds * USEC_PER_SEC, 0, on_heartbeat, m);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->heartbeat, SD_EVENT_ON);
        if (r < 0)
                return r;
        if (m->port_kind == PORT_FD) {
                int fd = m->config->port_fd;
                m->config->port_fd = -1;
                if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
                        return log_error_errno(-errno, "Bad --port-fd %d: %m", fd);
                r = port_connected(m, fd);
                if (r < 0)
                        return log_error_errno(r, "Cannot set up the agent connection: %m");
                return 0;
        }
        r = port_open(m);
        if (r < 0) {
                log_warning_errno(r, "Agent port %s: %m, retrying every second", m->port_path);
                arm_timer(m, &m->port_timer, PORT_RETRY_USEC, on_port_timer);
        }
        return 0;
}
