/* hostd's cost of a redirected 720p30 VP8 video against the same video painted into the
 * framebuffer and sent by the display encoder, in-process (test-harness.h): a fake agent pushing
 * real VP8 packets (encoded here with libavcodec's libvpx encoder from a synthetic moving scene)
 * to hostd, which relays them to a raw viewer with the media caps; then the fake QEMU painting the
 * same clip, decoded, as full-screen Updates, which hostd encodes into tiles for a raw viewer.
 * Both run paced at 30 frames/s for the same time. Printed per path: process CPU (hostd, the fake
 * peers and the raw viewer's reading share the process), the part spent in the peers' sending
 * (timed around those calls), what is left (hostd and the viewer's reading: the figure to
 * compare), frames and bytes on the wire per second (tile or media-packet messages, headers
 * included).
 *
 * Usage: bench-media [SECONDS] [BITRATE]   (defaults 5 s, 2500000 bit/s) */
#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavutil/opt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "check.h"
#include "hostd-agent.h"
#include "hostd-conf.h"
#include "hostd-manager.h"
#include "test-agent-peers.h"
#include "test-harness.h"

#define W 1280
#define H 720
#define FPS 30
#define CLIP 30 /* distinct frames; the clip loops (one keyframe each loop) */
#define MEDIA_CAPS (0x1fULL | WIRE_CAP_AGENT | WIRE_CAP_MEDIA | WIRE_CAP_MEDIA_OPUS | WIRE_CAP_MEDIA_VP8)

typedef struct Packet {
        uint8_t *data;
        size_t len;
        bool keyframe;
} Packet;

static Packet packets[CLIP];
static uint32_t *pictures[CLIP]; /* the decoded clip as x8r8g8b8 */

static uint64_t clock_usec(clockid_t id) {
        struct timespec ts;
        clock_gettime(id, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

static uint64_t process_cpu_usec(void) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        return (uint64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000ULL + (uint64_t) ru.ru_utime.tv_usec +
               (uint64_t) ru.ru_stime.tv_usec;
}

/* A moving scene with texture, gradients and an object crossing it: something a video encoder
 * has to work for, as a film or a call would make it. */
static void scene(int i, AVFrame *f) {
        double t = i * 2.0 * M_PI / CLIP;
        for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                        double v = 128 + 60 * sin(x * 0.02 + t) * cos(y * 0.015 - t) + 30 * sin((x + y) * 0.1 + 3 * t);
                        int bx = (int) (W / 2 + 400 * cos(t)), by = (int) (H / 2 + 200 * sin(t));
                        if (abs(x - bx) < 90 && abs(y - by) < 90)
                                v = 230 - ((x ^ y) & 31);
                        f->data[0][y * f->linesize[0] + x] = (uint8_t) fmax(16, fmin(235, v));
                }
        for (int y = 0; y < H / 2; y++)
                for (int x = 0; x < W / 2; x++) {
                        f->data[1][y * f->linesize[1] + x] = (uint8_t) (128 + 50 * sin(x * 0.03 + t));
                        f->data[2][y * f->linesize[2] + x] = (uint8_t) (128 + 50 * cos(y * 0.04 - t));
                }
}

static uint8_t clamp8(int v) {
        return (uint8_t) (v < 0 ? 0 : v > 255 ? 255 : v);
}

static void to_xrgb(const AVFrame *f, uint32_t *out) {
        for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                        int c = f->data[0][y * f->linesize[0] + x] - 16;
                        int d = f->data[1][(y / 2) * f->linesize[1] + x / 2] - 128;
                        int e = f->data[2][(y / 2) * f->linesize[2] + x / 2] - 128;
                        uint8_t r = clamp8((298 * c + 409 * e + 128) >> 8);
                        uint8_t g = clamp8((298 * c - 100 * d - 208 * e + 128) >> 8);
                        uint8_t b = clamp8((298 * c + 516 * d + 128) >> 8);
                        out[y * W + x] = (uint32_t) r << 16 | (uint32_t) g << 8 | b;
                }
}

static int make_clip(long bitrate) {
        const AVCodec *enc = avcodec_find_encoder(AV_CODEC_ID_VP8);
        const AVCodec *dec = avcodec_find_decoder(AV_CODEC_ID_VP8);
        if (!enc || !dec) {
                fprintf(stderr, "bench-media: this libavcodec has no VP8 encoder or decoder\n");
                return -ENOENT;
        }
        AVCodecContext *e = avcodec_alloc_context3(enc), *d = avcodec_alloc_context3(dec);
        e->width = W;
        e->height = H;
        e->time_base = (AVRational) { 1, FPS };
        e->framerate = (AVRational) { FPS, 1 };
        e->pix_fmt = AV_PIX_FMT_YUV420P;
        e->bit_rate = bitrate;
        e->gop_size = CLIP;
        e->max_b_frames = 0;
        av_opt_set(e->priv_data, "deadline", "realtime", 0);
        av_opt_set(e->priv_data, "cpu-used", "8", 0);
        av_opt_set_int(e->priv_data, "lag-in-frames", 0, 0);
        check(avcodec_open2(e, enc, NULL) == 0 && avcodec_open2(d, dec, NULL) == 0);
        AVFrame *f = av_frame_alloc(), *out = av_frame_alloc();
        f->format = AV_PIX_FMT_YUV420P;
        f->width = W;
        f->height = H;
        check(av_frame_get_buffer(f, 0) == 0);
        AVPacket *p = av_packet_alloc();
        int n = 0, decoded = 0;
        for (int i = 0; i <= CLIP; i++) {
                if (i < CLIP) {
                        check(av_frame_make_writable(f) == 0);
                        scene(i, f);
                        f->pts = i;
                        if (i == 0)
                                f->pict_type = AV_PICTURE_TYPE_I;
                        check(avcodec_send_frame(e, f) == 0);
                } else
                        check(avcodec_send_frame(e, NULL) == 0);
                while (avcodec_receive_packet(e, p) == 0) {
                        check(n < CLIP);
                        packets[n] = (Packet) { .data = malloc((size_t) p->size), .len = (size_t) p->size,
                                                .keyframe = (p->flags & AV_PKT_FLAG_KEY) != 0 };
                        check(packets[n].data);
                        memcpy(packets[n].data, p->data, (size_t) p->size);
                        check(avcodec_send_packet(d, p) == 0);
                        while (avcodec_receive_frame(d, out) == 0) {
                                check(decoded < CLIP && out->width == W && out->height == H);
                                pictures[decoded] = malloc((size_t) W * H * 4);
                                check(pictures[decoded]);
                                to_xrgb(out, pictures[decoded++]);
                        }
                        n++;
                        av_packet_unref(p);
                }
        }
        check(n == CLIP && decoded == CLIP && packets[0].keyframe);
        size_t bytes = 0;
        for (int i = 0; i < CLIP; i++)
                bytes += packets[i].len;
        printf("clip: %dx%d, %d frames at %d/s, VP8 (libvpx realtime) %zu bytes: %.2f Mbit/s, keyframe %zu bytes\n", W,
               H, CLIP, FPS, bytes, bytes * 8.0 / CLIP * FPS / 1e6, packets[0].len);
        av_packet_free(&p);
        av_frame_free(&f);
        av_frame_free(&out);
        avcodec_free_context(&e);
        avcodec_free_context(&d);
        return 0;
}

/* ---- the two paths ---- */

typedef struct Count {
        uint64_t bytes, frames, media_packets, tiles;
} Count;

static void count_message(RawViewer *v, const WireMessage *m, void *userdata) {
        Count *c = userdata;
        switch (m->type) {
        case WIRE_TYPE_TILE:
                c->tiles++;
                c->bytes += WIRE_HEADER_SIZE + (WIRE_TILE_SIZE_MAX - WIRE_TILE_DATA_MAX) + m->tile.data_len;
                break;
        case WIRE_TYPE_FRAME_END:
                c->frames++;
                c->bytes += WIRE_HEADER_SIZE + WIRE_FRAME_END_SIZE_MAX;
                break;
        case WIRE_TYPE_MEDIA_PACKET:
                c->media_packets++;
                c->bytes += WIRE_HEADER_SIZE + (WIRE_MEDIA_PACKET_SIZE_MAX - WIRE_MEDIA_PACKET_DATA_MAX) +
                            m->media_packet.data_len;
                break;
        }
}

static void configure(HostdConfig *c, void *userdata) {
        c->agent.heartbeat_seconds = 3600;
}

typedef struct World {
        Harness *h;
        FakeAgent agent;
        RawViewer *viewer;
        Count count;
} World;

static void loop_until(Harness *h, bool *flag) {
        for (int i = 0; i < 5000 && !*flag; i++)
                check(sd_event_run(h->event, 1000) >= 0);
        check(*flag);
}

static void world_new(World *w, uint64_t caps, bool agent) {
        HarnessOptions o = { .configure = configure };
        memset(w, 0, sizeof(*w));
        if (agent)
                fake_agent_setup(&w->agent, &o);
        check(harness_new(&o, &w->h) >= 0);
        check(harness_scanout(w->h, W, H, pictures[0]) >= 0);
        if (agent) {
                Agent *a = manager_agent(w->h->manager, w->h->desktop);
                for (int i = 0; i < 5000 && !(w->agent.conn && w->agent.hellos == 1); i++)
                        check(sd_event_run(w->h->event, 1000) >= 0);
                check(fake_agent_hello(&w->agent, AGENT_CAP_HEARTBEAT | AGENT_CAP_MEDIA) >= 0);
                for (int i = 0; i < 5000 && agent_state(a) != AGENT_ACTIVE; i++)
                        check(sd_event_run(w->h->event, 1000) >= 0);
                check(agent_state(a) == AGENT_ACTIVE);
        }
        check(raw_viewer_new(w->h, caps, TICKET_ROLE_INTERACTIVE, &w->viewer) >= 0);
        loop_until(w->h, &w->viewer->welcomed);
        /* The first full frame goes before the measured time. */
        for (int i = 0; i < 500; i++)
                check(sd_event_run(w->h->event, 2000) >= 0);
        w->viewer->on_message = count_message;
        w->viewer->userdata = &w->count;
}

static void world_free(World *w) {
        raw_viewer_free(w->viewer);
        w->h = harness_free(w->h);
        fake_agent_done(&w->agent);
}

typedef struct Result {
        const char *name;
        double seconds;
        uint64_t cpu_usec, peer_usec;
        Count count;
        unsigned sent;
} Result;

/* Runs the loop until the wall-clock deadline. */
static void run_until(Harness *h, uint64_t deadline) {
        uint64_t now;
        while ((now = clock_usec(CLOCK_MONOTONIC)) < deadline)
                check(sd_event_run(h->event, deadline - now) >= 0);
}

static void result_print(const Result *r) {
        double cpu = r->cpu_usec / 1e6, peer = r->peer_usec / 1e6;
        printf("%-8s %5.1f s: %3u frames sent by the guest side, %5.1f frames/s reached the viewer; process CPU %5.1f%%, "
               "peers' sending %5.1f%%, hostd + viewer's reading %5.1f%% of a core; wire %7.3f Mbit/s (%" PRIu64
               " bytes/frame sent)\n",
               r->name, r->seconds, r->sent,
               (r->count.frames ? r->count.frames : r->count.media_packets) / r->seconds, 100 * cpu / r->seconds,
               100 * peer / r->seconds, 100 * (cpu - peer) / r->seconds, r->count.bytes * 8.0 / r->seconds / 1e6,
               r->sent ? r->count.bytes / r->sent : 0);
}

static void bench_media(double seconds, Result *r) {
        World w;
        world_new(&w, MEDIA_CAPS, true);
        AgentMediaOpen o = { .stream = 1, .kind = 1, .codec = 1, .width = W, .height = H, .visible = 1 };
        check(agent_encode_media_open(fake_agent_out(&w.agent), &o) >= 0);
        check(fake_agent_flush(&w.agent) >= 0);
        for (int i = 0; i < 200; i++)
                check(sd_event_run(w.h->event, 2000) >= 0);
        memset(&w.count, 0, sizeof(w.count));
        unsigned n = (unsigned) (seconds * FPS);
        uint64_t start = clock_usec(CLOCK_MONOTONIC), cpu0 = process_cpu_usec();
        *r = (Result) { .name = "media" };
        for (unsigned i = 0; i < n; i++) {
                run_until(w.h, start + (uint64_t) i * 1000000ULL / FPS);
                const Packet *p = &packets[i % CLIP];
                AgentMediaPacket m = { .stream = 1, .pts_us = (uint64_t) i * 1000000ULL / FPS, .keyframe = p->keyframe,
                                       .data = p->data, .data_len = p->len };
                uint64_t t0 = clock_usec(CLOCK_THREAD_CPUTIME_ID);
                check(agent_encode_media_packet(fake_agent_out(&w.agent), &m) >= 0);
                check(fake_agent_flush(&w.agent) >= 0);
                r->peer_usec += clock_usec(CLOCK_THREAD_CPUTIME_ID) - t0;
                r->sent++;
        }
        run_until(w.h, start + (uint64_t) (seconds * 1e6));
        r->cpu_usec = process_cpu_usec() - cpu0;
        r->seconds = (clock_usec(CLOCK_MONOTONIC) - start) / 1e6;
        r->count = w.count;
        world_free(&w);
}

static void bench_display(double seconds, Result *r) {
        World w;
        world_new(&w, 0x1f, false);
        memset(&w.count, 0, sizeof(w.count));
        unsigned n = (unsigned) (seconds * FPS);
        uint64_t start = clock_usec(CLOCK_MONOTONIC), cpu0 = process_cpu_usec();
        *r = (Result) { .name = "display" };
        for (unsigned i = 0; i < n; i++) {
                run_until(w.h, start + (uint64_t) i * 1000000ULL / FPS);
                uint64_t t0 = clock_usec(CLOCK_THREAD_CPUTIME_ID);
                check(fake_qemu_update(w.h->qemu, 0, 0, W, H, W * 4, 0x20020888, pictures[(i + 1) % CLIP],
                                       (size_t) W * H * 4) >= 0);
                r->peer_usec += clock_usec(CLOCK_THREAD_CPUTIME_ID) - t0;
                r->sent++;
        }
        run_until(w.h, start + (uint64_t) (seconds * 1e6));
        r->cpu_usec = process_cpu_usec() - cpu0;
        r->seconds = (clock_usec(CLOCK_MONOTONIC) - start) / 1e6;
        r->count = w.count;
        world_free(&w);
}

int main(int argc, char **argv) {
        double seconds = argc > 1 ? strtod(argv[1], NULL) : 5;
        long bitrate = argc > 2 ? strtol(argv[2], NULL, 10) : 2500000;
        if (!(seconds > 0 && seconds < 3600) || bitrate <= 0) {
                fprintf(stderr, "usage: bench-media [SECONDS] [BITRATE]\n");
                return 2;
        }
        if (make_clip(bitrate) < 0)
                return 1;
        Result media, display;
        bench_media(seconds, &media);
        bench_display(seconds, &display);
        result_print(&media);
        result_print(&display);
        double hm = (double) (media.cpu_usec - media.peer_usec), hd = (double) (display.cpu_usec - display.peer_usec);
        printf("redirected vs display path: hostd CPU %.1fx less, wire bytes %.1fx fewer\n", hm > 0 ? hd / hm : 0,
               media.count.bytes ? (double) display.count.bytes / media.count.bytes : 0);
        for (int i = 0; i < CLIP; i++) {
                free(packets[i].data);
                free(pictures[i]);
        }
        return 0;
}
