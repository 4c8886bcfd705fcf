/* The real tandem-guestd (argv[1]) talking over --port-fd to this test, which plays hostd, and to
 * stand-in session helpers (test clients speaking the agent protocol on SessionSocket):
 *   hello, sessions-reset and windows-reset at start; heartbeats with health;
 *   utmp logons and logoffs (a private utmp file written with pututline());
 *   a hello from hostd answered with hello, sessions-reset, the logons, windows-reset;
 *   a graphical logon starts SessionHelper as that user with DISPLAY set, its logoff stops it;
 *   helpers: root allowed, another uid refused until it has a graphical session; the helper's
 *   caps reach hostd in a repeated hello; clipboard, windows and display relayed both ways
 *   unchanged (a 64 KiB chunk included); windows-reset and the caps back when it goes;
 *   resize-request without a helper answered `unsupported';
 *   power requests: the reply first, then the configured command; unknown actions refused;
 *   a host that stops reading: output dropped beyond the bound, then hello and the whole state;
 *   hostd's end closing: guestd exits cleanly and removes its socket;
 *   PortPath= a unix socket: a protocol error from the host -> closed and re-opened after a
 *   second with a new hello; the host closing its end -> reconnected; SIGTERM -> bye.
 * Needs root (setuid for the other-uid peer, helper started as another user); skips otherwise. */
#include "check.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <utmp.h>

#include "agent.h"

#define TIMEOUT_MS 10000

static char dir[] = "/tmp/test-guestd-daemon-XXXXXX";
static char utmp_path[256], sock_path[256], out_dir[256];

static WireConn *conn_of(int fd) {
        ByteTransport *t;
        WireConn *c;
        check(fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
        check(fd_transport_new(fd, &t) == 0);
        check(agent_conn_new(t, 4u << 20, AGENT_DIR_BOTH, &c) == 0);
        return c;
}

static void flush_all(WireConn *c) {
        int r;
        while ((r = wire_conn_flush(c)) == -EAGAIN) {
                struct pollfd p = { .fd = wire_conn_fd(c), .events = POLLOUT };
                check(poll(&p, 1, TIMEOUT_MS) == 1);
        }
        check(r == 0);
}

static void send_msg(WireConn *c, const AgentMessage *m) {
        check(agent_encode(wire_conn_out(c), m) == 0);
        flush_all(c);
}

/* The next message; -ECONNRESET at the end, -ETIMEDOUT after TIMEOUT_MS of nothing. */
static int recv_any(WireConn *c, AgentMessage *m) {
        for (;;) {
                int r = agent_conn_receive(c, m);
                if (r != 0)
                        return r < 0 ? r : 0;
                struct pollfd p = { .fd = wire_conn_fd(c), .events = POLLIN };
                if (poll(&p, 1, TIMEOUT_MS) != 1)
                        return -ETIMEDOUT;
        }
}

/* The next message that is not a heartbeat; checks its type. */
static void expect(WireConn *c, uint16_t type, AgentMessage *m) {
        do {
                int r = recv_any(c, m);
                if (r < 0)
                        fprintf(stderr, "waiting for %s: %s\n", agent_type_name(type), strerror(-r));
                check(r == 0);
        } while (m->type == AGENT_TYPE_HEARTBEAT && type != AGENT_TYPE_HEARTBEAT);
        if (m->type != type)
                fprintf(stderr, "want %s, got %s\n", agent_type_name(type), agent_type_name(m->type));
        check(m->type == type);
}

static void put_utmp(short type, pid_t pid, const char *line, const char *user, const char *host) {
        struct utmp u = { .ut_type = type, .ut_pid = pid };
        strncpy(u.ut_line, line, sizeof(u.ut_line));
        strncpy(u.ut_id, line, sizeof(u.ut_id));
        strncpy(u.ut_user, user, sizeof(u.ut_user));
        strncpy(u.ut_host, host, sizeof(u.ut_host));
        u.ut_tv.tv_sec = (int32_t) time(NULL);
        check(utmpname(utmp_path) == 0);
        setutent();
        check(pututline(&u) != NULL);
        endutent();
}

static int connect_helper(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        memcpy(sa.sun_path, sock_path, strlen(sock_path));
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        check(fd >= 0);
        check(connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0);
        return fd;
}

/* In a child as uid: connect and report whether guestd kept the connection (its hello came)
 * or closed it: exit 0 kept, 1 closed. */
static int peer_as(uid_t uid) {
        pid_t pid = fork();
        check(pid >= 0);
        if (pid == 0) {
                if (setgid(uid) < 0 || setuid(uid) < 0)
                        _exit(3);
                WireConn *c = conn_of(connect_helper());
                AgentMessage m;
                int r = recv_any(c, &m);
                _exit(r == 0 && m.type == AGENT_TYPE_HELLO ? 0 : r == -ECONNRESET ? 1 : 2);
        }
        int status;
        check(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
        return WEXITSTATUS(status);
}

static bool wait_file(const char *path, char *buf, size_t size) {
        for (int i = 0; i < 500; i++) {
                FILE *f = fopen(path, "re");
                if (f) {
                        size_t n = fread(buf, 1, size - 1, f);
                        fclose(f);
                        buf[n] = 0;
                        if (n > 0 && buf[n - 1] == '\n')
                                return true;
                }
                usleep(20000);
        }
        return false;
}

/* 48 chunks of 64 KiB (3 MiB, far over guestd's queues) from the helper while hostd does not
 * read: guestd stops reading the helper instead of dropping, and once hostd reads, every chunk
 * arrives whole and in order. */
#define FLOOD_CHUNKS 48
static void relay_flood(WireConn *hostd, WireConn *helper, const uint8_t *chunk) {
        const uint32_t total = FLOOD_CHUNKS * AGENT_CLIPBOARD_DATA_CHUNK_MAX;
        size_t queued = 0, got = 0;
        int stuck = 0;
        AgentMessage m;

        /* Phase 1: push until nothing moves for a while. */
        while (stuck < 20) {
                if (queued < FLOOD_CHUNKS) {
                        check(agent_encode(wire_conn_out(helper), &(AgentMessage) {
                                .type = AGENT_TYPE_CLIPBOARD_DATA,
                                .clipboard_data = { .serial = 8, .total = total,
                                                    .offset = (uint32_t) queued * AGENT_CLIPBOARD_DATA_CHUNK_MAX,
                                                    .chunk = chunk, .chunk_len = AGENT_CLIPBOARD_DATA_CHUNK_MAX } }) == 0);
                        queued++;
                }
                int r = wire_conn_flush(helper);
                check(r == 0 || r == -EAGAIN);
                check(r == -EAGAIN || queued < FLOOD_CHUNKS); /* all of it must not fit in guestd */
                if (r == -EAGAIN) {
                        struct pollfd p = { .fd = wire_conn_fd(helper), .events = POLLOUT };
                        stuck += poll(&p, 1, 10) == 0;
                }
        }
        /* It backed up to the helper: guestd and the sockets took what their bounds allow (about
         * 0.7 MiB here), the rest waits in the helper. */
        check(wire_conn_queued(helper) > (size_t) 1 << 20);
        /* Phase 2: hostd reads; the helper keeps pushing. */
        while (got < FLOOD_CHUNKS) {
                if (queued < FLOOD_CHUNKS &&
                    buffer_room(wire_conn_out(helper)) >= WIRE_HEADER_SIZE + AGENT_CLIPBOARD_DATA_SIZE_MAX) {
                        check(agent_encode(wire_conn_out(helper), &(AgentMessage) {
                                .type = AGENT_TYPE_CLIPBOARD_DATA,
                                .clipboard_data = { .serial = 8, .total = total,
                                                    .offset = (uint32_t) queued * AGENT_CLIPBOARD_DATA_CHUNK_MAX,
                                                    .chunk = chunk, .chunk_len = AGENT_CLIPBOARD_DATA_CHUNK_MAX } }) == 0);
                        queued++;
                }
                int r = wire_conn_flush(helper);
                check(r == 0 || r == -EAGAIN);
                r = agent_conn_receive(hostd, &m);
                check(r >= 0);
                if (r == 0) {
                        struct pollfd p[2] = { { .fd = wire_conn_fd(hostd), .events = POLLIN },
                                               { .fd = wire_conn_fd(helper), .events = POLLOUT } };
                        check(poll(p, queued < FLOOD_CHUNKS ? 2 : 1, TIMEOUT_MS) > 0);
                        continue;
                }
                if (m.type == AGENT_TYPE_HEARTBEAT)
                        continue;
                check(m.type == AGENT_TYPE_CLIPBOARD_DATA && m.clipboard_data.serial == 8);
                check(m.clipboard_data.offset == got * AGENT_CLIPBOARD_DATA_CHUNK_MAX);
                check(m.clipboard_data.chunk_len == AGENT_CLIPBOARD_DATA_CHUNK_MAX &&
                      memcmp(m.clipboard_data.chunk, chunk, AGENT_CLIPBOARD_DATA_CHUNK_MAX) == 0);
                got++;
        }
        flush_all(helper);
}

/* The helper's pids, one a line, as the stand-in helper wrote them; the count. */
static unsigned helper_pids(pid_t *pids, unsigned max) {
        char path[512];
        snprintf(path, sizeof(path), "%s/helper-pids", out_dir);
        FILE *f = fopen(path, "re");
        unsigned n = 0;
        int pid;
        if (!f)
                return 0;
        while (n < max && fscanf(f, "%d", &pid) == 1)
                pids[n++] = pid;
        fclose(f);
        return n;
}

/* A helper that crashes while its session is logged on is started again. */
static void test_helper_crash(void) {
        pid_t pids[8];
        unsigned n = 0;
        for (int i = 0; i < 500 && (n = helper_pids(pids, 8)) < 1; i++)
                usleep(20000);
        check(n == 1);
        check(kill(pids[0], SIGKILL) == 0);
        for (int i = 0; i < 1000 && (n = helper_pids(pids, 8)) < 2; i++)
                usleep(20000);
        check(n == 2 && pids[1] != pids[0]);
        check(kill(pids[1], 0) == 0);
}

static void test_helper_relay(WireConn *hostd, uint64_t base_caps) {
        AgentMessage m;
        WireConn *helper = conn_of(connect_helper());

        /* guestd hands the helper hostd's hello (the test's, from before). */
        expect(helper, AGENT_TYPE_HELLO, &m);
        check(m.hello.software_len == 4 && memcmp(m.hello.software, "test", 4) == 0);
        AgentMessage hello = { .type = AGENT_TYPE_HELLO };
        agent_hello_init(&hello.hello, AGENT_CAP_CLIPBOARD_TEXT | AGENT_CAP_WINDOWS | AGENT_CAP_RESIZE | AGENT_CAP_POWER,
                         "stand-in");
        send_msg(helper, &hello);
        /* A caps update: what the root daemon does plus what the helper does (not power: the
         * helper cannot claim the root daemon's features). */
        expect(hostd, AGENT_TYPE_HELLO, &m);
        check(m.hello.caps == (base_caps | AGENT_CAP_CLIPBOARD_TEXT | AGENT_CAP_WINDOWS | AGENT_CAP_RESIZE));

        /* helper -> hostd */
        send_msg(helper, &(AgentMessage) { .type = AGENT_TYPE_CLIPBOARD_GRAB, .clipboard_grab = { 7, 1 } });
        expect(hostd, AGENT_TYPE_CLIPBOARD_GRAB, &m);
        check(m.clipboard_grab.serial == 7 && m.clipboard_grab.formats == 1);
        send_msg(helper, &(AgentMessage) {
                .type = AGENT_TYPE_WINDOW_UPDATE,
                .window_update = { .id = 42, .state = 3, .x = -5, .y = 6, .width = 640, .height = 480,
                                   .title = "xterm", .title_len = 5 } });
        expect(hostd, AGENT_TYPE_WINDOW_UPDATE, &m);
        check(m.window_update.id == 42 && m.window_update.x == -5 && m.window_update.title_len == 5);

        /* hostd -> helper, and a whole 64 KiB chunk back */
        send_msg(hostd, &(AgentMessage) { .type = AGENT_TYPE_CLIPBOARD_REQUEST, .clipboard_request = { 7, 0 } });
        expect(helper, AGENT_TYPE_CLIPBOARD_REQUEST, &m);
        check(m.clipboard_request.serial == 7 && m.clipboard_request.format == 0);
        static uint8_t chunk[AGENT_CLIPBOARD_DATA_CHUNK_MAX];
        for (size_t i = 0; i < sizeof(chunk); i++)
                chunk[i] = (uint8_t) (i * 7 + 3);
        send_msg(helper, &(AgentMessage) {
                .type = AGENT_TYPE_CLIPBOARD_DATA,
                .clipboard_data = { .serial = 7, .total = sizeof(chunk), .chunk = chunk, .chunk_len = sizeof(chunk) } });
        expect(hostd, AGENT_TYPE_CLIPBOARD_DATA, &m);
        check(m.clipboard_data.chunk_len == sizeof(chunk) && memcmp(m.clipboard_data.chunk, chunk, sizeof(chunk)) == 0);
        relay_flood(hostd, helper, chunk);
        send_msg(hostd, &(AgentMessage) { .type = AGENT_TYPE_RESIZE_REQUEST, .resize_request = { 3, 1024, 768 } });
        expect(helper, AGENT_TYPE_RESIZE_REQUEST, &m);
        check(m.resize_request.serial == 3 && m.resize_request.width == 1024);
        send_msg(helper, &(AgentMessage) { .type = AGENT_TYPE_RESIZE_DONE, .resize_done = { 3, 1024, 768, 0 } });
        expect(hostd, AGENT_TYPE_RESIZE_DONE, &m);
        check(m.resize_done.serial == 3 && m.resize_done.status == 0);
        send_msg(hostd, &(AgentMessage) {
                .type = AGENT_TYPE_WINDOW_ACTION, .window_action = { .id = 42, .op = 2, .x = 1, .y = 2, .width = 3, .height = 4 } });
        expect(helper, AGENT_TYPE_WINDOW_ACTION, &m);
        check(m.window_action.id == 42 && m.window_action.op == 2 && m.window_action.height == 4);

        /* hostd says hello again: the helper hears it too (and re-sends its windows). */
        AgentMessage hh = { .type = AGENT_TYPE_HELLO };
        agent_hello_init(&hh.hello, 0x7f, "test");
        send_msg(hostd, &hh);
        expect(hostd, AGENT_TYPE_HELLO, &m);
        expect(helper, AGENT_TYPE_HELLO, &m);
        expect(hostd, AGENT_TYPE_SESSIONS_RESET, &m);

        expect(hostd, AGENT_TYPE_LOGON, &m);
        /* With a helper the windows are its business: no windows-reset from the root daemon. */

        /* The helper goes: windows-reset, and the caps without it. */
        wire_conn_free(helper);
        expect(hostd, AGENT_TYPE_WINDOWS_RESET, &m);
        expect(hostd, AGENT_TYPE_HELLO, &m);
        check(m.hello.caps == base_caps);

        /* No helper now: a resize request is answered `unsupported' at once. */
        send_msg(hostd, &(AgentMessage) { .type = AGENT_TYPE_RESIZE_REQUEST, .resize_request = { 4, 800, 600 } });
        expect(hostd, AGENT_TYPE_RESIZE_DONE, &m);
        check(m.resize_done.serial == 4 && m.resize_done.status == AGENT_STATUS_UNSUPPORTED);
}

/* hostd stops reading while logons and logoffs pour in (cycles of 200 sessions replaced by 200
 * others in utmp): guestd's queue is bounded, so some are dropped; once hostd reads again, the
 * stream holds whole frames only and ends in hello, sessions-reset and exactly the sessions open
 * now. */
#define RESYNC_SESSIONS 200
/* Enough to overflow the port's queue, which has room for 1 MiB of media besides its 256 KiB:
 * long lines make long logons (the session and the tty). */
#define RESYNC_CYCLES 96
#define RESYNC_LINE "c%02d-%03d-padding-padding-pad"
static void test_resync(WireConn *hostd) {
        static struct utmp recs[RESYNC_SESSIONS];
        struct stat st;
        check(stat(utmp_path, &st) == 0);
        int fd = open(utmp_path, O_WRONLY | O_CLOEXEC);
        check(fd >= 0);
        for (int cycle = 0; cycle < RESYNC_CYCLES; cycle++) {
                for (int i = 0; i < RESYNC_SESSIONS; i++) {
                        struct utmp *u = &recs[i];
                        *u = (struct utmp) { .ut_type = USER_PROCESS, .ut_pid = 1000 + i };
                        char line[64];
                        snprintf(line, sizeof(line), RESYNC_LINE, cycle, i);
                        check(strlen(line) < sizeof(u->ut_line));
                        memcpy(u->ut_line, line, strlen(line) + 1);
                        snprintf(u->ut_user, sizeof(u->ut_user), "root");
                        u->ut_tv.tv_sec = 1000 + cycle;
                }
                check(pwrite(fd, recs, sizeof(recs), st.st_size) == (ssize_t) sizeof(recs));
                usleep(100000); /* one rescan a cycle */
        }
        close(fd);
        AgentMessage m;
        bool in_state = false;
        int logons = 0, hellos = 0;
        for (;;) {
                check(recv_any(hostd, &m) == 0);
                if (m.type == AGENT_TYPE_HELLO) {
                        hellos++;
                        expect(hostd, AGENT_TYPE_SESSIONS_RESET, &m);
                        in_state = true;
                        logons = 0;
                        continue;
                }
                if (!in_state)
                        continue;
                if (m.type == AGENT_TYPE_WINDOWS_RESET)
                        break;
                if (m.type == AGENT_TYPE_HEARTBEAT)
                        continue;
                check(m.type == AGENT_TYPE_LOGON);
                char want[64];
                if (m.logon.session_len == 4 && memcmp(m.logon.session, "tty1", 4) == 0)
                        continue;
                snprintf(want, sizeof(want), RESYNC_LINE, RESYNC_CYCLES - 1, logons);
                check(m.logon.session_len == strlen(want) && memcmp(m.logon.session, want, strlen(want)) == 0);
                logons++;
        }
        check(hellos >= 1 && logons == RESYNC_SESSIONS);
}

static WireConn *accept_port(int lfd) {
        struct pollfd p = { .fd = lfd, .events = POLLIN };
        check(poll(&p, 1, TIMEOUT_MS) == 1);
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        check(fd >= 0);
        return conn_of(fd);
}

/* hello, sessions-reset, the logons, windows-reset: returns how many logons (all from utmp). */
static int expect_start(WireConn *c) {
        AgentMessage m;
        int logons = 0;
        expect(c, AGENT_TYPE_HELLO, &m);
        expect(c, AGENT_TYPE_SESSIONS_RESET, &m);
        for (;;) {
                check(recv_any(c, &m) == 0);
                if (m.type == AGENT_TYPE_HEARTBEAT)
                        continue;
                if (m.type == AGENT_TYPE_WINDOWS_RESET)
                        return logons;
                check(m.type == AGENT_TYPE_LOGON && m.logon.source == AGENT_SOURCE_UTMP);
                logons++;
        }
}

/* Starts dbus-daemon --session (a system bus with no logind on it); its address into addr.
 * Returns its pid, or -1 without dbus-daemon (addr then names no socket at all). */
static pid_t start_dbus(char *addr, size_t size) {
        int p[2];
        snprintf(addr, size, "unix:path=%s/no-bus", dir);
        if (system("command -v dbus-daemon >/dev/null") != 0)
                return -1;
        check(pipe(p) == 0);
        pid_t pid = fork();
        check(pid >= 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                dup2(p[1], 1);
                execlp("dbus-daemon", "dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1",
                       (char *) NULL);
                _exit(127);
        }
        close(p[1]);
        ssize_t n = read(p[0], addr, size - 1);
        close(p[0]);
        check(n > 0);
        addr[n] = 0;
        addr[strcspn(addr, "\n")] = 0;
        return pid;
}

/* PortPath= a unix socket: guestd connects; a protocol error from the host makes it close and
 * come back (after a second) with a new hello; so does the host closing its end. Logind=yes on
 * a system bus without logind (or no bus at all): the sessions come from utmp all the same. */
static void test_port_path(const char *guestd) {
        char bus[512];
        pid_t dbus = start_dbus(bus, sizeof(bus));
        char port[256], conf[256];
        snprintf(port, sizeof(port), "%s/port.sock", dir);
        snprintf(conf, sizeof(conf), "%s/guestd-port.conf", dir);
        FILE *f = fopen(conf, "we");
        check(f);
        fprintf(f, "[Guestd]\nPortPath=%s\nLogind=yes\nUtmpPath=%s\nSessionSocket=\n", port, utmp_path);
        fclose(f);
        int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        memcpy(sa.sun_path, port, strlen(port));
        check(bind(lfd, (struct sockaddr *) &sa, sizeof(sa)) == 0 && listen(lfd, 4) == 0);
        pid_t pid = fork();
        check(pid >= 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM); /* a failed check must not leave it behind */
                setenv("TANDEM_LOG_STDERR", "1", 1);
                setenv("DBUS_SYSTEM_BUS_ADDRESS", bus, 1);
                execl(guestd, guestd, "--config", conf, (char *) NULL);
                _exit(127);
        }
        WireConn *c = accept_port(lfd);
        AgentMessage m;
        /* The hello may beat the fallback to utmp: then the logons follow it. */
        if (expect_start(c) == 0) {
                expect(c, AGENT_TYPE_LOGON, &m);
                check(m.logon.source == AGENT_SOURCE_UTMP);
        }
        /* A hello one byte long: a payload that does not decode. */
        uint8_t bad[WIRE_HEADER_SIZE + 1] = {};
        wire_header_put(bad, &(WireHeader) { .size = 1, .type = AGENT_TYPE_HELLO, .channel = AGENT_CHANNEL_CONTROL });
        check(buffer_append(wire_conn_out(c), bad, sizeof(bad)) == 0);
        flush_all(c);
        int r;
        while ((r = recv_any(c, &m)) == 0)
                check(m.type != AGENT_TYPE_HELLO);
        check(r == -ECONNRESET);
        wire_conn_free(c);
        c = accept_port(lfd);
        int sessions = expect_start(c);
        check(sessions > 0);
        /* The host end closes: guestd reconnects. */
        wire_conn_free(c);
        c = accept_port(lfd);
        check(expect_start(c) == sessions);
        check(kill(pid, SIGTERM) == 0);
        /* Stopping, it says bye. */
        expect(c, AGENT_TYPE_BYE, &m);
        check(m.bye.code == AGENT_CODE_SHUTTING_DOWN);
        wire_conn_free(c);
        int status;
        check(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(lfd);
        if (dbus > 0) {
                kill(dbus, SIGTERM);
                waitpid(dbus, NULL, 0);
        }
}

int main(int argc, char **argv) {
        check(argc == 2);
        if (geteuid() != 0) {
                printf("skip: needs root (another uid's peer, a helper started as another user)\n");
                return 77;
        }
        struct passwd *nobody = getpwnam("nobody");
        check(nobody);
        check(mkdtemp(dir));
        check(chmod(dir, 0755) == 0);
        snprintf(utmp_path, sizeof(utmp_path), "%s/utmp", dir);
        snprintf(sock_path, sizeof(sock_path), "%s/run/session.sock", dir);
        snprintf(out_dir, sizeof(out_dir), "%s/out", dir);
        check(mkdir(out_dir, 01777) == 0 && chmod(out_dir, 01777) == 0);
        int fd = open(utmp_path, O_CREAT | O_WRONLY, 0644);
        check(fd >= 0);
        close(fd);

        char conf[256], helper[256], text[4096];
        snprintf(helper, sizeof(helper), "%s/helper", dir);
        FILE *f = fopen(helper, "we");
        check(f);
        fprintf(f, "#!/bin/sh\necho \"$(id -u) $DISPLAY $HOME $1 $2 $3\" >%s/helper-ran\necho $$ >>%s/helper-pids\n"
                   "exec sleep 30\n", out_dir, out_dir);
        fclose(f);
        check(chmod(helper, 0755) == 0);
        snprintf(conf, sizeof(conf), "%s/guestd.conf", dir);
        f = fopen(conf, "we");
        check(f);
        fprintf(f,
                "[Guestd]\nHeartbeatSeconds=1\nLogind=no\nUtmpPath=%s\nSessionSocket=%s\nSessionHelper=%s\n"
                "RebootCommand=echo reboot >%s/power\nShutdownCommand=echo shutdown >%s/power\n",
                utmp_path, sock_path, helper, out_dir, out_dir);
        fclose(f);

        int sp[2], small = 4096;
        check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
        /* Little room in the socket: guestd's own bound is what a host that stops reading meets. */
        check(setsockopt(sp[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)) == 0);
        pid_t pid = fork();
        check(pid >= 0);
        if (pid == 0) {
                check(dup2(sp[1], 3) == 3);
                prctl(PR_SET_PDEATHSIG, SIGTERM); /* a failed check must not leave it behind */
                setenv("TANDEM_LOG_STDERR", "1", 1);
                execl(argv[1], argv[1], "--config", conf, "--port-fd", "3", (char *) NULL);
                _exit(127);
        }
        close(sp[1]);
        WireConn *hostd = conn_of(sp[0]);
        AgentMessage m;

        /* Start: hello, sessions-reset, windows-reset; then heartbeats. */
        expect(hostd, AGENT_TYPE_HELLO, &m);
        check(agent_hello_check(&m.hello) == 0);
        uint64_t base_caps = m.hello.caps;
        check(base_caps == (AGENT_CAP_HEARTBEAT | AGENT_CAP_SESSIONS | AGENT_CAP_POWER));
        expect(hostd, AGENT_TYPE_SESSIONS_RESET, &m);
        expect(hostd, AGENT_TYPE_WINDOWS_RESET, &m);
        expect(hostd, AGENT_TYPE_HEARTBEAT, &m);
        uint32_t seq = m.heartbeat.seq;
        check(m.heartbeat.mem_total_kib > 0 && m.heartbeat.uptime_s > 0 && m.heartbeat.users == 0);
        expect(hostd, AGENT_TYPE_HEARTBEAT, &m);
        check(m.heartbeat.seq == seq + 1);

        /* A console logon in utmp. */
        put_utmp(LOGIN_PROCESS, 500, "tty1", "LOGIN", "");
        put_utmp(USER_PROCESS, 500, "tty1", "root", "");
        expect(hostd, AGENT_TYPE_LOGON, &m);
        check(m.logon.source == AGENT_SOURCE_UTMP && m.logon.uid == 0 && m.logon.user_len == 4 &&
              memcmp(m.logon.tty, "tty1", 4) == 0 && m.logon.display_len == 0 && m.logon.time_us > 0);
        expect(hostd, AGENT_TYPE_HEARTBEAT, &m);
        check(m.heartbeat.users == 1);

        /* hostd's hello: the whole state again. */
        AgentMessage hh = { .type = AGENT_TYPE_HELLO };
        agent_hello_init(&hh.hello, 0x7f, "test");
        send_msg(hostd, &hh);
        expect(hostd, AGENT_TYPE_HELLO, &m);
        check(m.hello.caps == base_caps);
        expect(hostd, AGENT_TYPE_SESSIONS_RESET, &m);
        expect(hostd, AGENT_TYPE_LOGON, &m);
        check(m.logon.session_len == 4 && memcmp(m.logon.session, "tty1", 4) == 0);
        expect(hostd, AGENT_TYPE_WINDOWS_RESET, &m);

        /* Peers: root is welcome, nobody is not (no graphical session) and guestd goes on. */
        check(peer_as(nobody->pw_uid) == 1);
        test_helper_relay(hostd, base_caps);

        /* nobody logs on to display :5: the helper starts as nobody, nobody may connect now. */
        put_utmp(USER_PROCESS, 501, ":5", "nobody", ":5");
        expect(hostd, AGENT_TYPE_LOGON, &m);
        check(m.logon.uid == nobody->pw_uid && m.logon.display_len == 2 && memcmp(m.logon.display, ":5", 2) == 0);
        char ran[512], want[512];
        snprintf(ran, sizeof(ran), "%s/helper-ran", out_dir);
        check(wait_file(ran, text, sizeof(text)));
        snprintf(want, sizeof(want), "%u :5 %s --once --display :5\n", (unsigned) nobody->pw_uid, nobody->pw_dir);
        if (strcmp(text, want) != 0)
                fprintf(stderr, "helper ran as `%s', want `%s'\n", text, want);
        check(strcmp(text, want) == 0);
        check(peer_as(nobody->pw_uid) == 0);
        test_helper_crash();
        put_utmp(DEAD_PROCESS, 501, ":5", "", "");
        expect(hostd, AGENT_TYPE_LOGOFF, &m);
        check(m.logoff.session_len == 2 && memcmp(m.logoff.session, ":5", 2) == 0);
        check(peer_as(nobody->pw_uid) == 1);

        /* Power: the reply first, then the command. */
        char power[512];
        snprintf(power, sizeof(power), "%s/power", out_dir);
        send_msg(hostd, &(AgentMessage) { .type = AGENT_TYPE_POWER_REQUEST, .power_request = { 9 } });
        expect(hostd, AGENT_TYPE_POWER_REPLY, &m);
        check(m.power_reply.action == 9 && m.power_reply.status == AGENT_STATUS_UNSUPPORTED);
        send_msg(hostd, &(AgentMessage) { .type = AGENT_TYPE_POWER_REQUEST, .power_request = { AGENT_ACTION_SHUTDOWN } });
        expect(hostd, AGENT_TYPE_POWER_REPLY, &m);
        check(m.power_reply.action == AGENT_ACTION_SHUTDOWN && m.power_reply.status == AGENT_STATUS_OK);
        check(access(power, F_OK) < 0); /* not before the reply */
        check(wait_file(power, text, sizeof(text)) && strcmp(text, "shutdown\n") == 0);

        test_resync(hostd);

        /* hostd's end closes: guestd exits cleanly and takes its socket with it. */
        wire_conn_free(hostd);
        int status;
        check(waitpid(pid, &status, 0) == pid);
        check(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        check(access(sock_path, F_OK) < 0);
        test_port_path(argv[1]);
        char rm[512];
        snprintf(rm, sizeof(rm), "rm -rf '%s'", dir);
        check(system(rm) == 0);
        printf("ok\n");
        return 0;
}
