/* The viewer's media path per video frame: a 720p30 VP8 clip (tandem-media-gen's code) fed to
 * the client as wire media-packets; prints decode + queue time per frame (libavcodec, one
 * thread, the copy into the presentation queue) and present time (client_media_present() at the
 * frame's time), mean / p50 / p95 / max, and Opus decode per 20 ms packet. Not a test.
 *
 *   bench-client-media [SECONDS] [WxH]     (default 5 1280x720) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/log.h>

#include "check.h"
#include "client-media.h"
#include "media-gen.h"

typedef struct Packets {
        uint8_t **data;
        size_t *len;
        uint64_t *pts;
        bool *key;
        size_t n, cap;
} Packets;

static int on_packet(const MediaGenPacket *p, void *userdata) {
        Packets *ps = userdata;
        if (ps->n == ps->cap) {
                ps->cap = ps->cap ? ps->cap * 2 : 256;
                ps->data = realloc(ps->data, ps->cap * sizeof(*ps->data));
                ps->len = realloc(ps->len, ps->cap * sizeof(*ps->len));
                ps->pts = realloc(ps->pts, ps->cap * sizeof(*ps->pts));
                ps->key = realloc(ps->key, ps->cap * sizeof(*ps->key));
                check(ps->data && ps->len && ps->pts && ps->key);
        }
        ps->data[ps->n] = malloc(p->len);
        check(ps->data[ps->n]);
        memcpy(ps->data[ps->n], p->data, p->len);
        ps->len[ps->n] = p->len;
        ps->pts[ps->n] = p->pts_us;
        ps->key[ps->n] = p->keyframe;
        ps->n++;
        return 0;
}

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000 + (uint64_t) ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *ns, size_t n) {
        uint64_t sum = 0;
        qsort(ns, n, sizeof(uint64_t), cmp_u64);
        for (size_t i = 0; i < n; i++)
                sum += ns[i];
        printf("%-28s n=%zu mean %.3f ms  p50 %.3f ms  p95 %.3f ms  max %.3f ms\n", what, n, sum / 1e6 / (double) n,
               ns[n / 2] / 1e6, ns[n * 95 / 100] / 1e6, ns[n - 1] / 1e6);
}

static void packets_free(Packets *p) {
        for (size_t i = 0; i < p->n; i++)
                free(p->data[i]);
        free(p->data);
        free(p->len);
        free(p->pts);
        free(p->key);
}

int main(int argc, char *argv[]) {
        double seconds = argc > 1 ? strtod(argv[1], NULL) : 5;
        unsigned w = 1280, h = 720;
        if (argc > 2 && sscanf(argv[2], "%ux%u", &w, &h) != 2)
                return 1;
        av_log_set_level(AV_LOG_ERROR);

        Packets v = {}, a = {};
        MediaGenOptions vo = { .codec = MEDIA_GEN_VP8, .seconds = seconds, .width = w, .height = h, .fps = 30,
                               .bitrate = 2500000 };
        check(media_gen_run(&vo, NULL, on_packet, &v) == 0);
        MediaGenOptions ao = { .codec = MEDIA_GEN_OPUS, .seconds = seconds, .channels = 2 };
        check(media_gen_run(&ao, NULL, on_packet, &a) == 0);
        size_t bytes = 0;
        for (size_t i = 0; i < v.n; i++)
                bytes += v.len[i];
        printf("clip: VP8 %ux%u 30 fps, %zu frames, %.0f kbit/s; Opus stereo 48 kHz, %zu packets\n", w, h, v.n,
               bytes * 8.0 / seconds / 1000, a.n);

        ClientMedia *m;
        check(client_media_new(NULL, &(ClientMediaCallbacks) {}, NULL, &m) == 0);
        WireMessage s = { .type = WIRE_TYPE_MEDIA_START,
                          .media_start = { .stream = 1, .kind = WIRE_KIND_VIDEO, .codec = WIRE_CODEC_VP8, .width = w,
                                           .height = h, .visible = 1 } };
        check(client_media_handle(m, &s, 0) == 0);
        uint64_t *dec = calloc(v.n, sizeof(uint64_t)), *pres = calloc(v.n, sizeof(uint64_t));
        check(dec && pres);
        uint64_t t0 = 1000000;
        for (size_t i = 0; i < v.n; i++) {
                WireMessage p = { .type = WIRE_TYPE_MEDIA_PACKET,
                                  .media_packet = { .stream = 1, .seq = (uint32_t) i, .pts_us = v.pts[i], .keyframe = v.key[i],
                                                    .data = v.data[i], .data_len = v.len[i] } };
                uint64_t now = t0 + v.pts[i];
                uint64_t b = now_ns();
                check(client_media_handle(m, &p, now) == 0);
                uint64_t c = now_ns();
                const ClientMediaPicture *pic = client_media_present(m, 1, now + CLIENT_MEDIA_PLAYOUT_DELAY_USEC);
                uint64_t d = now_ns();
                check(pic && pic->pts_us == v.pts[i]);
                dec[i] = c - b;
                pres[i] = d - c;
        }
        check(client_media_stream(m, 1)->decoded == v.n);
        report("vp8 decode + queue / frame", dec, v.n);
        report("present / frame", pres, v.n);

        WireMessage as = { .type = WIRE_TYPE_MEDIA_START,
                           .media_start = { .stream = 2, .kind = WIRE_KIND_AUDIO, .codec = WIRE_CODEC_OPUS,
                                            .sample_rate = 48000, .channels = 2 } };
        check(client_media_handle(m, &as, 0) == 0);
        uint64_t *ad = calloc(a.n, sizeof(uint64_t));
        check(ad);
        for (size_t i = 0; i < a.n; i++) {
                WireMessage p = { .type = WIRE_TYPE_MEDIA_PACKET,
                                  .media_packet = { .stream = 2, .seq = (uint32_t) i, .pts_us = a.pts[i], .data = a.data[i],
                                                    .data_len = a.len[i] } };
                uint64_t b = now_ns();
                check(client_media_handle(m, &p, t0) == 0);
                ad[i] = now_ns() - b;
        }
        report("opus decode / 20 ms packet", ad, a.n);
        client_media_free(m);
        free(dec);
        free(pres);
        free(ad);
        packets_free(&v);
        packets_free(&a);
        return 0;
}
