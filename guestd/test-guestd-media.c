/* org.tandem.Media1 end to end: the real tandem-guestd (argv[1]) on a private dbus-daemon
 * (dbus-daemon --config-file argv[2]) as its system bus, this test playing hostd on --port-fd
 * and the applications (sd-bus clients). Checks: cap media in guestd's hello; Open before hostd's
 * hello -> agent-path-down at once; Open relayed as media-open with its fields and answered per
 * hostd's media-open-reply (redirect; render-locally no-viewer); no reply -> agent-path-down and
 * a media-close; media-viewers: ViewersChanged, codec-unsupported and no-viewer answered by guestd
 * alone; packets arrive in order with pts, keyframe flags and bytes; SetGeometry relayed;
 * KeyframeRequested and Closed delivered; hostile callers: unknown or foreign stream ids, empty
 * and oversized packets, bad arguments -> D-Bus errors, a thousand opens -> 8 redirected and the
 * rest `limit'; a caller leaving the bus -> its streams closed toward hostd; a hostd that stops
 * reading -> packets dropped (calls still answered), whole frames, a keyframe after the gap and
 * a KeyframeRequested; a new hostd hello -> Closed agent-lost; tandem-media-send (argv[3]) on an
 * IVF file: redirect, its packets in order with pts and keyframes, closed, exit 0 and its output;
 * render-locally -> exit 3 and the reason; not a media file -> exit 1; guestd alive all along and
 * exiting cleanly when the port closes. Skips without dbus-daemon. */
#include "check.h"
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "agent.h"
#include "macro.h"
#include "media-service.h"
#include "test-dbus.h"

#define TIMEOUT_MS 10000

static char dir[] = "/tmp/test-guestd-media-XXXXXX";
static char bus_addr[512];

/* ---- hostd's side ------------------------------------------------------------------------ */

static WireConn *hostd;

static void flush_all(void) {
        int r;
        while ((r = wire_conn_flush(hostd)) == -EAGAIN) {
                struct pollfd p = { .fd = wire_conn_fd(hostd), .events = POLLOUT };
                check(poll(&p, 1, TIMEOUT_MS) == 1);
        }
        check(r == 0);
}

static void send_msg(const AgentMessage *m) {
        check(agent_encode(wire_conn_out(hostd), m) == 0);
        flush_all();
}

static int recv_any(AgentMessage *m, int timeout_ms) {
        for (;;) {
                int r = agent_conn_receive(hostd, m);
                if (r != 0)
                        return r < 0 ? r : 0;
                struct pollfd p = { .fd = wire_conn_fd(hostd), .events = POLLIN };
                if (poll(&p, 1, timeout_ms) != 1)
                        return -ETIMEDOUT;
        }
}

/* The next media-channel message (others skipped); checks its type. */
static void expect_media(uint16_t type, AgentMessage *m) {
        bool skip;
        do {
                check(recv_any(m, TIMEOUT_MS) == 0);
                skip = type == AGENT_TYPE_HELLO ? m->type != type : m->channel != AGENT_CHANNEL_MEDIA;
        } while (skip);
        if (m->type != type)
                fprintf(stderr, "want %s, got %s\n", agent_type_name(type), agent_type_name(m->type));
        check(m->type == type);
}

/* No media message within a short while (what guestd answers alone must not reach hostd). */
static void expect_no_media(void) {
        AgentMessage m;
        int r;
        while ((r = recv_any(&m, 300)) == 0)
                check(m.channel != AGENT_CHANNEL_MEDIA);
        check(r == -ETIMEDOUT);
}

static void hostd_hello(void) {
        AgentMessage m = { .type = AGENT_TYPE_HELLO };
        agent_hello_init(&m.hello, AGENT_CAP_HEARTBEAT | AGENT_CAP_MEDIA, "test-hostd");
        send_msg(&m);
        expect_media(AGENT_TYPE_HELLO, &m);
}

static void viewers(uint32_t codecs) {
        send_msg(&(AgentMessage) { .type = AGENT_TYPE_MEDIA_VIEWERS, .media_viewers = { .codecs = codecs } });
}

static void open_reply(uint32_t stream, uint8_t answer, uint8_t why) {
        send_msg(&(AgentMessage) { .type = AGENT_TYPE_MEDIA_OPEN_REPLY,
                                   .media_open_reply = { .stream = stream, .answer = answer, .why = why } });
}

/* ---- applications ------------------------------------------------------------------------ */

typedef struct App {
        sd_bus *bus;
        uint32_t closed_id, keyframe_id;
        char closed_reason[64];
        int closed, keyframes, viewers_changes;
        char viewers[64];
} App;

typedef struct Call {
        bool done;
        uint32_t id;
        int redirect;
        char reason[64];
        char error[128];
} Call;

static int on_signal(sd_bus_message *m, void *userdata, sd_bus_error *e _unused_) {
        App *a = userdata;
        const char *member = sd_bus_message_get_member(m), *s;
        if (strcmp(member, "Closed") == 0) {
                check(sd_bus_message_read(m, "us", &a->closed_id, &s) >= 0);
                snprintf(a->closed_reason, sizeof(a->closed_reason), "%s", s);
                a->closed++;
        } else if (strcmp(member, "KeyframeRequested") == 0) {
                check(sd_bus_message_read(m, "u", &a->keyframe_id) >= 0);
                a->keyframes++;
        } else if (strcmp(member, "ViewersChanged") == 0) {
                char **v = NULL;
                check(sd_bus_message_read_strv(m, &v) >= 0);
                a->viewers[0] = 0;
                for (size_t i = 0; v && v[i]; i++) {
                        snprintf(a->viewers + strlen(a->viewers), sizeof(a->viewers) - strlen(a->viewers), "%s%s",
                                 i ? "," : "", v[i]);
                        free(v[i]);
                }
                free(v);
                a->viewers_changes++;
        }
        return 0;
}

static void app_connect(App *a) {
        *a = (App) { 0 };
        check(sd_bus_new(&a->bus) >= 0);
        check(sd_bus_set_address(a->bus, bus_addr) >= 0);
        check(sd_bus_set_bus_client(a->bus, 1) >= 0);
        check(sd_bus_start(a->bus) >= 0);
        check(sd_bus_match_signal(a->bus, NULL, NULL, MEDIA_BUS_PATH, MEDIA_BUS_INTERFACE, NULL, on_signal, a) >= 0);
}

static void app_pump(App *a, int ms) {
        while (sd_bus_process(a->bus, NULL) > 0)
                ;
        sd_bus_wait(a->bus, (uint64_t) ms * 1000);
        while (sd_bus_process(a->bus, NULL) > 0)
                ;
}

/* Until *flag reaches want (signals arrive in their own time). */
static void app_until(App *a, const int *flag, int want) {
        for (int i = 0; i < TIMEOUT_MS / 50 && *flag < want; i++)
                app_pump(a, 50);
        check(*flag >= want);
}

static int on_open_reply(sd_bus_message *m, void *userdata, sd_bus_error *e _unused_) {
        Call *c = userdata;
        const sd_bus_error *err = sd_bus_message_get_error(m);
        const char *reason;
        if (err)
                snprintf(c->error, sizeof(c->error), "%s", err->name);
        else {
                check(sd_bus_message_read(m, "ubs", &c->id, &c->redirect, &reason) >= 0);
                snprintf(c->reason, sizeof(c->reason), "%s", reason);
        }
        c->done = true;
        return 0;
}

static void open_async(App *a, Call *c, const char *kind, const char *codec, uint32_t rate, uint8_t channels) {
        *c = (Call) { 0 };
        check(sd_bus_call_method_async(a->bus, NULL, MEDIA_BUS_NAME, MEDIA_BUS_PATH, MEDIA_BUS_INTERFACE, "Open",
                                       on_open_reply, c, "ssu(iiuu)buy", kind, codec, 7, 10, 20, 320, 240, 1, rate,
                                       channels) >= 0);
        check(sd_bus_flush(a->bus) >= 0);
}

static void wait_call(App *a, Call *c) {
        for (int i = 0; i < TIMEOUT_MS / 20 && !c->done; i++)
                app_pump(a, 20);
        check(c->done);
}

static void open_now(App *a, Call *c, const char *codec, const char *want_reason) {
        open_async(a, c, strcmp(codec, "opus") == 0 ? "audio" : "video", codec, 48000, 2);
        wait_call(a, c);
        if (strcmp(c->reason, want_reason) != 0)
                fprintf(stderr, "Open %s: want %s, got %s %s\n", codec, want_reason, c->reason, c->error);
        check(!c->redirect && c->id == 0 && strcmp(c->reason, want_reason) == 0);
}

/* A redirected video stream: Open, media-open to hostd, redirect. */
static uint32_t open_redirected(App *a, const char *codec) {
        Call c;
        AgentMessage m;
        open_async(a, &c, strcmp(codec, "opus") == 0 ? "audio" : "video", codec, 48000, 2);
        expect_media(AGENT_TYPE_MEDIA_OPEN, &m);
        open_reply(m.media_open.stream, AGENT_ANSWER_REDIRECT, 0);
        wait_call(a, &c);
        check(c.redirect && c.id == m.media_open.stream && c.id != 0);
        return c.id;
}

/* A method call's D-Bus error name ("" for success). */
static const char *call_error(App *a, const char *member, const char *types, ...) {
        static char name[128];
        sd_bus_message *m = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        va_list ap;
        check(sd_bus_message_new_method_call(a->bus, &m, MEDIA_BUS_NAME, MEDIA_BUS_PATH, MEDIA_BUS_INTERFACE, member) >= 0);
        va_start(ap, types);
        check(sd_bus_message_appendv(m, types, ap) >= 0);
        va_end(ap);
        int r = sd_bus_call(a->bus, m, 0, &e, NULL);
        snprintf(name, sizeof(name), "%s", r < 0 ? (e.name ?: "?") : "");
        sd_bus_error_free(&e);
        sd_bus_message_unref(m);
        return name;
}

static int push(App *a, uint32_t id, uint64_t pts, bool key, const uint8_t *d, size_t n, char *err, size_t size) {
        sd_bus_message *m = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        check(sd_bus_message_new_method_call(a->bus, &m, MEDIA_BUS_NAME, MEDIA_BUS_PATH, MEDIA_BUS_INTERFACE, "Push") >= 0);
        check(sd_bus_message_append(m, "utb", id, pts, (int) key) >= 0);
        check(sd_bus_message_append_array(m, 'y', d, n) >= 0);
        int r = sd_bus_call(a->bus, m, 0, &e, NULL);
        if (err)
                snprintf(err, size, "%s", r < 0 ? (e.name ?: "?") : "");
        sd_bus_error_free(&e);
        sd_bus_message_unref(m);
        return r;
}

/* ---- set-up ------------------------------------------------------------------------------- */

static pid_t start_dbus(const char *config) {
        pid_t pid = test_dbus_start(config, bus_addr, sizeof(bus_addr));
        check(pid > 0);
        return pid;
}

static pid_t start_guestd(const char *guestd) {
        char conf[256], utmp[256];
        snprintf(conf, sizeof(conf), "%s/guestd.conf", dir);
        snprintf(utmp, sizeof(utmp), "%s/utmp", dir);
        close(open(utmp, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
        FILE *f = fopen(conf, "we");
        check(f);
        fprintf(f, "[Guestd]\nLogind=no\nUtmpPath=%s\nSessionSocket=\nHeartbeatSeconds=60\n", utmp);
        fclose(f);
        int sv[2];
        check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        pid_t pid = fork();
        check(pid >= 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                dup2(sv[1], 3);
                setenv("TANDEM_LOG_STDERR", "1", 1);
                setenv("DBUS_SYSTEM_BUS_ADDRESS", bus_addr, 1);
                execl(guestd, guestd, "--config", conf, "--port-fd", "3", (char *) NULL);
                _exit(127);
        }
        close(sv[1]);
        ByteTransport *t;
        check(fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0);
        check(fd_transport_new(sv[0], &t) == 0);
        check(agent_conn_new(t, 4u << 20, AGENT_DIR_BOTH, &hostd) == 0);
        return pid;
}

static uint8_t big[MEDIA_PACKET_MAX + 1];

/* tandem-media-send FILE in a child: its pid, its stdout in *ret_fd. */
static pid_t start_send(const char *send, const char *file, bool as_nobody, int *ret_fd) {
        int p[2];
        check(pipe(p) == 0);
        pid_t pid = fork();
        check(pid >= 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                dup2(p[1], 1);
                setenv("DBUS_SYSTEM_BUS_ADDRESS", bus_addr, 1);
                if (as_nobody && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
                        _exit(126);
                execl(send, send, "--fast", "--window", "9", file, (char *) NULL);
                _exit(127);
        }
        close(p[1]);
        *ret_fd = p[0];
        return pid;
}

static int finish_send(pid_t pid, int fd, char *out, size_t size) {
        size_t n = 0;
        ssize_t k;
        while (n + 1 < size && (k = read(fd, out + n, size - 1 - n)) > 0)
                n += (size_t) k;
        out[n] = 0;
        close(fd);
        int status;
        check(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
        return WEXITSTATUS(status);
}

/* An IVF file of 4 frames (keyframes first and last). */
static void write_ivf(const char *path) {
        FILE *f = fopen(path, "we");
        check(f);
        uint8_t h[32] = "DKIF";
        h[6] = 32;
        memcpy(h + 8, "VP80", 4);
        h[12] = 64, h[14] = 48, h[16] = 25, h[20] = 1;
        check(fwrite(h, 1, 32, f) == 32);
        for (int i = 0; i < 4; i++) {
                uint8_t fh[12] = { 50, 0, 0, 0, (uint8_t) i };
                uint8_t body[50];
                memset(body, i, sizeof(body));
                body[0] = i == 0 || i == 3 ? 0x10 : 0x11;
                check(fwrite(fh, 1, 12, f) == 12 && fwrite(body, 1, 50, f) == 50);
        }
        check(fclose(f) == 0);
}

static void test_send(const char *send) {
        char file[256], out[512];
        int fd;
        AgentMessage m;
        snprintf(file, sizeof(file), "%s/clip.ivf", dir);
        write_ivf(file);
        pid_t pid = start_send(send, file, false, &fd);
        expect_media(AGENT_TYPE_MEDIA_OPEN, &m);
        check(m.media_open.codec == AGENT_CODEC_VP8 && m.media_open.window == 9 && m.media_open.width == 64 &&
              m.media_open.height == 48);
        uint32_t id = m.media_open.stream;
        open_reply(id, AGENT_ANSWER_REDIRECT, 0);
        for (int i = 0; i < 4; i++) {
                expect_media(AGENT_TYPE_MEDIA_PACKET, &m);
                check(m.media_packet.stream == id && m.media_packet.pts_us == (uint64_t) i * 40000 &&
                      m.media_packet.keyframe == (i == 0 || i == 3) && m.media_packet.data_len == 50 &&
                      m.media_packet.data[1] == i);
        }
        expect_media(AGENT_TYPE_MEDIA_CLOSE, &m);
        check(m.media_close.stream == id && m.media_close.why == AGENT_WHY_CLOSED);
        check(finish_send(pid, fd, out, sizeof(out)) == 0);
        char want[128];
        snprintf(want, sizeof(want), "redirect stream %u\nsent 4 packets\n", id);
        if (strcmp(out, want) != 0)
                fprintf(stderr, "tandem-media-send said: %s", out);
        check(strcmp(out, want) == 0);

        /* Told to render locally: exit 3 and the reason. Another uid than guestd's may call. */
        check(chmod(dir, 0755) == 0 && chmod(file, 0644) == 0);
        pid = start_send(send, file, geteuid() == 0, &fd);
        expect_media(AGENT_TYPE_MEDIA_OPEN, &m);
        open_reply(m.media_open.stream, AGENT_ANSWER_RENDER_LOCALLY, AGENT_WHY_POLICY);
        check(finish_send(pid, fd, out, sizeof(out)) == 3 && strcmp(out, "render-locally policy\n") == 0);
        /* Not a media file: exit 1. */
        pid = start_send(send, "/etc/passwd", false, &fd);
        check(finish_send(pid, fd, out, sizeof(out)) == 1);
}

int main(int argc, char **argv) {
        check(argc == 4);
        if (system("command -v dbus-daemon >/dev/null") != 0) {
                printf("skip: no dbus-daemon (package dbus-daemon)\n");
                return 77;
        }
        signal(SIGPIPE, SIG_IGN);
        check(mkdtemp(dir));
        pid_t dbus = start_dbus(argv[2]);
        pid_t guestd = start_guestd(argv[1]);
        AgentMessage m;

        /* guestd's hello offers media (its name is on the bus before it says hello). */
        expect_media(AGENT_TYPE_HELLO, &m);
        check(m.hello.caps & AGENT_CAP_MEDIA);
        App a, b;
        app_connect(&a);
        app_connect(&b);
        Call c;

        /* No hello from hostd yet: no agent path. */
        open_now(&a, &c, "vp8", "agent-path-down");
        hostd_hello();

        /* Relayed with its fields; answered per hostd's reply. */
        open_async(&a, &c, "video", "vp8", 0, 0);
        expect_media(AGENT_TYPE_MEDIA_OPEN, &m);
        check(m.media_open.kind == 1 && m.media_open.codec == AGENT_CODEC_VP8 && m.media_open.window == 7);
        check(m.media_open.x == 10 && m.media_open.y == 20 && m.media_open.width == 320 && m.media_open.height == 240);
        check(m.media_open.visible == 1);
        open_reply(m.media_open.stream, AGENT_ANSWER_REDIRECT, 0);
        wait_call(&a, &c);
        check(c.redirect && c.id == m.media_open.stream && strcmp(c.reason, "") == 0);
        uint32_t video = c.id;

        open_async(&a, &c, "audio", "opus", 48000, 2);
        expect_media(AGENT_TYPE_MEDIA_OPEN, &m);
        check(m.media_open.kind == 0 && m.media_open.codec == AGENT_CODEC_OPUS && m.media_open.sample_rate == 48000 &&
              m.media_open.channels == 2);
        open_reply(m.media_open.stream, AGENT_ANSWER_RENDER_LOCALLY, AGENT_WHY_NO_VIEWER);
        wait_call(&a, &c);
        check(!c.redirect && c.id == 0 && strcmp(c.reason, "no-viewer") == 0);

        /* No answer: agent-path-down after guestd's wait, and hostd told to forget it. */
        open_async(&a, &c, "video", "h264", 0, 0);
        expect_media(AGENT_TYPE_MEDIA_OPEN, &m);
        uint32_t unanswered = m.media_open.stream;
        wait_call(&a, &c);
        check(!c.redirect && strcmp(c.reason, "agent-path-down") == 0);
        expect_media(AGENT_TYPE_MEDIA_CLOSE, &m);
        check(m.media_close.stream == unanswered);
        open_reply(unanswered, AGENT_ANSWER_REDIRECT, 0); /* too late: ignored */

        /* Packets in order, with pts, keyframe flags and their bytes. */
        uint8_t pkt[1000];
        for (int i = 0; i < 5; i++) {
                memset(pkt, 'a' + i, sizeof(pkt));
                check(push(&a, video, 1000000 + (uint64_t) i * 33333, i % 3 == 0, pkt, 100 + (size_t) i * 200, NULL, 0) >= 0);
        }
        for (int i = 0; i < 5; i++) {
                expect_media(AGENT_TYPE_MEDIA_PACKET, &m);
                check(m.media_packet.stream == video && m.media_packet.pts_us == 1000000 + (uint64_t) i * 33333);
                check(m.media_packet.keyframe == (i % 3 == 0) && m.media_packet.data_len == 100 + (size_t) i * 200);
                check(m.media_packet.data[0] == 'a' + i && m.media_packet.data[m.media_packet.data_len - 1] == 'a' + i);
        }
        check(strcmp(call_error(&a, "SetGeometry", "uu(iiuu)b", video, 0, -5, 6, 640, 360, 0), "") == 0);
        expect_media(AGENT_TYPE_MEDIA_GEOMETRY, &m);
        check(m.media_geometry.stream == video && m.media_geometry.x == -5 && m.media_geometry.y == 6 &&
              m.media_geometry.width == 640 && m.media_geometry.height == 360 && !m.media_geometry.visible);

        /* The viewers' codecs: guestd answers alone, applications hear of changes. */
        viewers(1u << AGENT_CODEC_OPUS);
        app_until(&a, &a.viewers_changes, 1);
        check(strcmp(a.viewers, "opus") == 0);
        open_now(&a, &c, "vp8", "codec-unsupported");
        viewers(0);
        app_until(&a, &a.viewers_changes, 2);
        check(strcmp(a.viewers, "") == 0);
        open_now(&a, &c, "opus", "no-viewer");
        expect_no_media();
        viewers(1u << AGENT_CODEC_OPUS | 1u << AGENT_CODEC_VP8 | 1u << AGENT_CODEC_H264);
        app_until(&a, &a.viewers_changes, 3);
        check(strcmp(a.viewers, "opus,vp8,h264") == 0);

        /* Keyframe requests and hostd's close reach the owner. */
        send_msg(&(AgentMessage) { .type = AGENT_TYPE_MEDIA_KEYFRAME_REQUEST, .media_keyframe_request = { .stream = video } });
        app_until(&a, &a.keyframes, 1);
        check(a.keyframe_id == video && b.keyframes == 0);
        send_msg(&(AgentMessage) { .type = AGENT_TYPE_MEDIA_CLOSE, .media_close = { .stream = video, .why = AGENT_WHY_LIMIT } });
        app_until(&a, &a.closed, 1);
        check(a.closed_id == video && strcmp(a.closed_reason, "limit") == 0);
        char err[128];
        check(push(&a, video, 0, true, pkt, 10, err, sizeof(err)) < 0 && strcmp(err, "org.tandem.Media1.Error.UnknownStream") == 0);

        /* Hostile callers get errors; guestd goes on. */
        video = open_redirected(&a, "vp8");
        check(push(&b, video, 0, true, pkt, 10, err, sizeof(err)) < 0 && strcmp(err, "org.tandem.Media1.Error.UnknownStream") == 0);
        check(push(&a, 0xdead, 0, true, pkt, 10, err, sizeof(err)) < 0 && strcmp(err, "org.tandem.Media1.Error.UnknownStream") == 0);
        check(push(&a, video, 0, true, big, sizeof(big), err, sizeof(err)) < 0 && strcmp(err, "org.tandem.Media1.Error.TooLarge") == 0);
        check(push(&a, video, 0, true, big, 0, err, sizeof(err)) < 0 && strcmp(err, "org.tandem.Media1.Error.TooLarge") == 0);
        check(strcmp(call_error(&b, "Close", "u", video), "org.tandem.Media1.Error.UnknownStream") == 0);
        check(strcmp(call_error(&a, "SetGeometry", "uu(iiuu)b", video, 0, 0, 0, 100000, 10, 1),
                     "org.freedesktop.DBus.Error.InvalidArgs") == 0);
        check(strcmp(call_error(&a, "Open", "ssu(iiuu)buy", "video", "theora", 0, 0, 0, 1, 1, 1, 0, 0),
                     "org.freedesktop.DBus.Error.InvalidArgs") == 0);
        check(strcmp(call_error(&a, "Open", "ssu(iiuu)buy", "audio", "vp8", 0, 0, 0, 1, 1, 1, 48000, 2),
                     "org.freedesktop.DBus.Error.InvalidArgs") == 0);
        check(strcmp(call_error(&a, "Open", "s", "video"), "org.freedesktop.DBus.Error.InvalidArgs") == 0);
        expect_no_media();

        /* A thousand opens, a hundred at a time (dbus-daemon allows 128 pending calls a peer):
         * hostd redirects what reaches it, the caller's cap holds, the rest are `limit'. */
        static Call many[1000];
        size_t done = 0, redirected = 0, limited = 0;
        for (size_t batch = 0; batch < 1000; batch += 100) {
                for (size_t i = batch; i < batch + 100; i++)
                        open_async(&b, &many[i], "video", "vp8", 0, 0);
                for (int loops = 0; done < batch + 100 && loops < 2000; loops++) {
                        while (recv_any(&m, 0) == 0)
                                if (m.type == AGENT_TYPE_MEDIA_OPEN)
                                        open_reply(m.media_open.stream, AGENT_ANSWER_REDIRECT, 0);
                        app_pump(&b, 5);
                        done = redirected = limited = 0;
                        for (size_t i = 0; i < batch + 100; i++) {
                                done += many[i].done;
                                redirected += many[i].done && many[i].redirect;
                                limited += many[i].done && strcmp(many[i].reason, "limit") == 0;
                        }
                }
        }
        check(done == 1000 && redirected == MEDIA_STREAMS_PER_CALLER && limited == 1000 - MEDIA_STREAMS_PER_CALLER);

        /* b leaves the bus: its streams are closed toward hostd. */
        b.bus = sd_bus_flush_close_unref(b.bus);
        for (size_t i = 0; i < MEDIA_STREAMS_PER_CALLER; i++) {
                expect_media(AGENT_TYPE_MEDIA_CLOSE, &m);
                check(m.media_close.why == AGENT_WHY_CLOSED && m.media_close.stream != video);
        }

        /* hostd stops reading: guestd drops packets instead of queueing or blocking, asks for a
         * keyframe, and what arrives is whole frames with a keyframe after the gap. */
        static uint8_t chunk[100000];
        int received = 0, last = -1, first_of_round2 = -1;
        for (int round = 0; round < 2; round++) {
                /* Round 2 starts after the gap with a delta frame: guestd skips to the keyframe. */
                for (int i = round * 30 + round; i < round * 30 + 30; i++) {
                        memset(chunk, i, sizeof(chunk));
                        bool key = round == 0 ? i % 10 == 0 : i % 10 == 5;
                        check(push(&a, video, (uint64_t) i, key, chunk, sizeof(chunk), NULL, 0) >= 0);
                }
                if (round == 0)
                        app_until(&a, &a.keyframes, 2);
                while (recv_any(&m, 500) == 0) {
                        if (m.type != AGENT_TYPE_MEDIA_PACKET)
                                continue;
                        int i = (int) m.media_packet.pts_us;
                        check(i > last && m.media_packet.data_len == sizeof(chunk) && m.media_packet.data[500] == (uint8_t) i);
                        if (i != last + 1)
                                check(m.media_packet.keyframe); /* after a drop, the next keyframe first */
                        if (round == 1 && first_of_round2 < 0)
                                first_of_round2 = i;
                        last = i;
                        received++;
                }
                if (round == 0)
                        check(received > 0 && received < 30);
        }
        printf("back-pressure: %d of 59 packets of %zu bytes relayed\n", received, sizeof(chunk));
        check(first_of_round2 == 35);

        /* A new hostd knows no streams: Closed agent-lost. */
        hostd_hello();
        app_until(&a, &a.closed, 2);
        check(a.closed_id == video && strcmp(a.closed_reason, "agent-lost") == 0);
        video = open_redirected(&a, "vp8");
        check(strcmp(call_error(&a, "Close", "u", video), "") == 0);
        expect_media(AGENT_TYPE_MEDIA_CLOSE, &m);
        check(m.media_close.stream == video && m.media_close.why == AGENT_WHY_CLOSED);

        /* tandem-media-send: a file streamed in order, then closed; render-locally; errors. */
        test_send(argv[3]);

        /* The port closes: guestd exits cleanly. */
        hostd = wire_conn_free(hostd);
        int status;
        check(waitpid(guestd, &status, 0) == guestd && WIFEXITED(status) && WEXITSTATUS(status) == 0);
        sd_bus_flush_close_unref(a.bus);
        kill(dbus, SIGTERM);
        waitpid(dbus, NULL, 0);
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        check(system(cmd) == 0);
        printf("ok\n");
        return 0;
}
