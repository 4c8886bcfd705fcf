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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/log.h>

#include "media-gen.h"
#include "parse-util.h"
#include "tandem-media.h"
#include "test-media-chain.h"

#define PACKETS_MAX 20000


typedef struct Clip {
        const char *name;
        MediaGenOptions gen;
        MediaGenPacket p[PACKETS_MAX];
        size_t n;
        uint64_t pushed[PACKETS_MAX];  /* CLOCK_MONOTONIC usec before tandem_media_push() */
        uint64_t decoded[PACKETS_MAX]; /* at the viewer's callback, 0: never */
        size_t n_decoded;
        int error;
        char reason[64];
} Clip;

#define now_usec media_chain_now

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

/* ---- the guest's application ---- */

/* The application: opens the stream (again until a viewer is known), pushes in real time. */
static void application(void *userdata) {
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
        for (int tries = 0; tm && tries < 100; tries++) {
                r = tandem_media_open(tm, &o, &stream, c->reason, sizeof(c->reason));
                if (r > 0)
                        break;
                usleep(100000); /* guestd not on the bus yet, or not heard of hostd or the viewer */
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

static void encode_clip(Clip *c) {
        check(media_gen_options_finish(&c->gen) == 0);
        check(media_gen_run(&c->gen, NULL, on_packet, c) == 0);
}

static void run_clip(MediaChain *chain, Clip *c) {
        current = c;
        check(media_chain_run_app(chain, application, c, 300000, (uint64_t) (c->gen.seconds + 30) * 1000000u) == 0);
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

int main(int argc, char *argv[]) {
        uint64_t seconds = 10;
        if (argc < 3 || argc > 4 || (argc == 4 && (parse_u64(argv[3], 600, &seconds) < 0 || seconds < 2))) {
                fprintf(stderr, "Usage: bench-media-latency GUESTD BUS-CONFIG [SECONDS]\n");
                return 2;
        }
        av_log_set_level(AV_LOG_QUIET);
        static Clip vp8 = { .name = "vp8 1280x720 30 fps", .gen = { .codec = MEDIA_GEN_VP8, .width = 1280, .height = 720, .fps = 30 } };
        static Clip opus = { .name = "opus 20 ms stereo", .gen = { .codec = MEDIA_GEN_OPUS } };
        vp8.gen.seconds = opus.gen.seconds = (double) seconds;
        /* Encoded before the viewer connects: a loop left unrun for seconds would lose it. */
        encode_clip(&vp8);
        encode_clip(&opus);
        ClientCallbacks cb = { .media = { .on_video = on_video, .on_audio = on_audio } };
        MediaChainOptions o = { .guestd_exe = argv[1], .bus_config = argv[2], .callbacks = &cb };
        _cleanup_(media_chain_freep) MediaChain *chain = NULL;
        int r = media_chain_new(&o, &chain);
        if (r == -EOPNOTSUPP) {
                printf("skip: no dbus-daemon (package dbus-daemon)\n");
                return 77;
        }
        check(r == 0);

        printf("push in the application -> decoded in the viewer, loopback, %llu s a clip:\n",
               (unsigned long long) seconds);
        run_clip(chain, &vp8);
        run_clip(chain, &opus);
        return 0;
}
