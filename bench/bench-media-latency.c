/* Added latency of redirected media on loopback (issue 7): from an application's push in the
 * guest (libtandem-media's tandem_media_push(), timestamped just before the call) to the frame or
 * packet decoded in the viewer (the client library's on_video / on_audio callback). The chain is
 * the real one on this machine: the application (a thread of this program, libtandem-media over
 * D-Bus) -> a private dbus-daemon as the guest's system bus -> the real tandem-guestd (--port-fd,
 * a socketpair as the agent channel) -> the in-process hostd (test-harness.h) -> a real client
 * session over TLS on 127.0.0.1. Clips from tools/media-gen.h, pushed in real time:
 *   VP8 1280x720 at 30 fps (tandem-media-gen's pattern and bitrate), and Opus 20 ms packets.
 * Prints p50 / p99 / max over the packets (the first second left out: the stream's start).
 *
 *   bench-media-latency GUESTD BUS-CONFIG [SECONDS]   (default 10 a clip) */
#include "check.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/log.h>

#include "media-gen.h"
#include "parse-util.h"
#include "tandem-media.h"
#include "test-harness.h"

#define PACKETS_MAX 20000

static char dir[] = "/tmp/bench-media-latency-XXXXXX";
static char bus_addr[512];
static const char *guestd_exe;
static pid_t guestd_pid;

typedef struct Clip {
        const char *name;
        MediaGenOptions gen;
        MediaGenPacket p[PACKETS_MAX];
        size_t n;
        uint64_t pushed[PACKETS_MAX];  /* CLOCK_MONOTONIC usec before tandem_media_push() */
        uint64_t decoded[PACKETS_MAX]; /* at the viewer's callback, 0: never */
        size_t n_decoded;
        bool done;      /* the application thread finished */
        int error;
        char reason[64];
} Clip;

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static int cmp(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

/* ---- the clip, encoded ahead ---- */

static int on_packet(const MediaGenPacket *p, void *userdata) {
        Clip *c = userdata;
        if (c->n == PACKETS_MAX)
                return -E2BIG;
        uint8_t *d = malloc(p->len);
        if (!d)
                return -ENOMEM;
        memcpy(d, p->data, p->len);
        c->p[c->n] = *p;
        c->p[c->n++].data = d;
        return 0;
}

/* ---- the guest: dbus-daemon, guestd, the application ---- */

static pid_t start_dbus(const char *config) {
        int p[2];
        check(pipe(p) == 0);
        pid_t pid = fork();
        check(pid >= 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                dup2(p[1], 1);
                execlp("dbus-daemon", "dbus-daemon", "--config-file", config, "--nofork", "--nopidfile",
                       "--print-address=1", (char *) NULL);
                _exit(127);
        }
        close(p[1]);
        ssize_t n = read(p[0], bus_addr, sizeof(bus_addr) - 1);
        close(p[0]);
        check(n > 0);
        bus_addr[n] = 0;
        bus_addr[strcspn(bus_addr, "\n")] = 0;
        return pid;
}

static void stop(pid_t *pid) {
        if (*pid > 0) {
                kill(*pid, SIGTERM);
                waitpid(*pid, NULL, 0);
        }
        *pid = 0;
}

/* hostd opens the domain's agent channel: a socketpair with guestd on the other end. */
static int agent_connect(Manager *m _unused_, Domain *d _unused_, void *userdata _unused_) {
        int sv[2];
        char conf[128], utmp[128], log[128];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        stop(&guestd_pid);
        snprintf(conf, sizeof(conf), "%s/guestd.conf", dir);
        snprintf(utmp, sizeof(utmp), "%s/utmp", dir);
        snprintf(log, sizeof(log), "%s/guestd.log", dir);
        close(open(utmp, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
        FILE *f = fopen(conf, "we");
        if (!f)
                return -errno;
        fprintf(f, "[Guestd]\nLogind=no\nUtmpPath=%s\nSessionSocket=\n", utmp);
        fclose(f);
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                int lfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                dup2(sv[1], 3);
                if (lfd >= 0)
                        dup2(lfd, 2);
                setenv("TANDEM_LOG_STDERR", "1", 1);
                execl(guestd_exe, guestd_exe, "--config", conf, "--port-fd", "3", (char *) NULL);
                _exit(127);
        }
        guestd_pid = pid;
        close(sv[1]);
        (void) fcntl(sv[0], F_SETFL, O_NONBLOCK);
        return sv[0];
}

/* The application: opens the stream (again until a viewer is known), pushes in real time. */
static void *application(void *userdata) {
        Clip *c = userdata;
        TandemMedia *tm = NULL;
        bool video = c->gen.codec != MEDIA_GEN_OPUS;
        uint32_t stream = 0;
        int r = tandem_media_new(NULL, NULL, NULL, &tm);
        TandemMediaOpen o = {
                .kind = video ? "video" : "audio",
                .codec = video ? "vp8" : "opus",
                .rect = { 0, 0, c->gen.width, c->gen.height },
                .visible = true,
                .sample_rate = video ? 0 : 48000,
                .channels = video ? 0 : c->gen.channels,
        };
        for (int tries = 0; r >= 0 && tries < 100; tries++) {
                r = tandem_media_open(tm, &o, &stream, c->reason, sizeof(c->reason));
                if (r != 0)
                        break;
                usleep(100000); /* no viewer known to guestd yet */
        }
        if (r <= 0) {
                c->error = r < 0 ? r : -ENOTCONN;
                goto out;
        }
        uint64_t t0 = now_usec();
        for (size_t i = 0; i < c->n && r >= 0; i++) {
                uint64_t due = t0 + c->p[i].pts_us;
                while (now_usec() < due)
                        (void) tandem_media_process(tm, due - now_usec());
                c->pushed[i] = now_usec();
                r = tandem_media_push(tm, stream, c->p[i].pts_us, c->p[i].keyframe, c->p[i].data, c->p[i].len);
        }
        if (r < 0)
                c->error = r;
        usleep(500000); /* the last packets on their way before the close */
        (void) tandem_media_close(tm, stream);
out:
        tandem_media_free(tm);
        __atomic_store_n(&c->done, true, __ATOMIC_RELEASE);
        return NULL;
}

/* ---- the viewer ---- */

static Clip *current;

static void decoded(uint64_t pts) {
        Clip *c = current;
        /* Packets are in pts order: search from the last one found. */
        static size_t last;
        if (last >= c->n || c->p[last].pts_us > pts)
                last = 0;
        for (size_t i = last; i < c->n; i++)
                if (c->p[i].pts_us == pts) {
                        if (!c->decoded[i]) {
                                c->decoded[i] = now_usec();
                                c->n_decoded++;
                        }
                        last = i;
                        return;
                }
}

static void on_video(const ClientMediaStream *st _unused_, const ClientMediaPicture *pic, void *userdata _unused_) {
        decoded(pic->pts_us);
}

static void on_audio(const ClientMediaStream *st _unused_, const int16_t *pcm _unused_, size_t frames _unused_,
                     uint64_t pts_us, bool concealed, void *userdata _unused_) {
        if (!concealed)
                decoded(pts_us);
}

static bool clip_done(void *userdata) {
        Clip *c = userdata;
        return __atomic_load_n(&c->done, __ATOMIC_ACQUIRE) || c->n_decoded == c->n;
}

static void run_clip(Harness *h, Clip *c) {
        check(media_gen_options_finish(&c->gen) == 0);
        check(media_gen_run(&c->gen, NULL, on_packet, c) == 0);
        current = c;
        pthread_t t;
        check(pthread_create(&t, NULL, application, c) == 0);
        check(harness_run_until(h, clip_done, c, (uint64_t) (c->gen.seconds + 30) * 1000000u) >= 0);
        /* The application may finish before the last packets are decoded: a little more loop. */
        check(harness_run_until(h, NULL, NULL, 300000) >= 0);
        check(pthread_join(t, NULL) == 0);
        if (c->error) {
                printf("%-28s failed: %s%s%s\n", c->name, strerror(-c->error), c->reason[0] ? ", render-locally " : "",
                       c->reason);
                return;
        }
        uint64_t *lat = calloc(c->n, sizeof(uint64_t));
        size_t n = 0;
        uint64_t skip = 1000000; /* the first second: the stream's start */
        for (size_t i = 0; i < c->n; i++)
                if (c->decoded[i] && c->p[i].pts_us >= skip)
                        lat[n++] = c->decoded[i] - c->pushed[i];
        qsort(lat, n, sizeof(uint64_t), cmp);
        if (n)
                printf("%-28s p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms  (%zu packets; %zu of %zu decoded)\n", c->name,
                       lat[n / 2] / 1000.0, lat[(n * 99) / 100] / 1000.0, lat[n - 1] / 1000.0, n, c->n_decoded, c->n);
        else
                printf("%-28s nothing decoded (%zu packets pushed)\n", c->name, c->n);
        fflush(stdout);
        free(lat);
        for (size_t i = 0; i < c->n; i++)
                free((void *) c->p[i].data);
}

static bool welcomed(void *userdata) {
        return ((HarnessViewer *) userdata)->welcomed;
}

static void cleanup(void) {
        char cmd[128];
        stop(&guestd_pid);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        (void) !system(cmd);
}

int main(int argc, char *argv[]) {
        uint64_t seconds = 10;
        if (argc < 3 || argc > 4 || (argc == 4 && (parse_u64(argv[3], 600, &seconds) < 0 || seconds < 2))) {
                fprintf(stderr, "Usage: bench-media-latency GUESTD BUS-CONFIG [SECONDS]\n");
                return 2;
        }
        if (system("command -v dbus-daemon >/dev/null") != 0) {
                printf("skip: no dbus-daemon (package dbus-daemon)\n");
                return 77;
        }
        av_log_set_level(AV_LOG_QUIET);
        guestd_exe = argv[1];
        check(mkdtemp(dir));
        atexit(cleanup);
        pid_t dbus = start_dbus(argv[2]);
        setenv("DBUS_SYSTEM_BUS_ADDRESS", bus_addr, 1); /* guestd's and the application's bus */

        HarnessOptions o = { .agent_connect = agent_connect };
        _cleanup_(harness_freep) Harness *h = NULL;
        check(harness_new(&o, &h) == 0);
        static uint32_t px[1280 * 720];
        check(harness_scanout(h, 1280, 720, px) == 0);
        ClientCallbacks cb = { .media = { .on_video = on_video, .on_audio = on_audio } };
        _cleanup_(harness_viewer_freep) HarnessViewer *v = NULL;
        check(harness_viewer_new(h, "user", TICKET_ROLE_INTERACTIVE, NULL, &cb, NULL, &v) == 0);
        check(harness_run_until(h, welcomed, v, 10000000) == 0 && v->welcomed);

        static Clip vp8 = { .name = "vp8 1280x720 30 fps", .gen = { .codec = MEDIA_GEN_VP8, .width = 1280, .height = 720, .fps = 30 } };
        static Clip opus = { .name = "opus 20 ms stereo", .gen = { .codec = MEDIA_GEN_OPUS } };
        vp8.gen.seconds = opus.gen.seconds = (double) seconds;
        printf("push in the application -> decoded in the viewer, loopback, %llu s a clip:\n",
               (unsigned long long) seconds);
        run_clip(h, &vp8);
        run_clip(h, &opus);

        v = harness_viewer_free(v);
        h = harness_free(h);
        stop(&guestd_pid);
        stop(&dbus);
        return 0;
}
