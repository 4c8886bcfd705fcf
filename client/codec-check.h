/* Shared by the codec tests and bench-encode: a TileSink that decodes every tile into a viewer's
 * framebuffer and checks the tile rules on the way, and the comparisons (exact, PSNR). Header
 * only; each user links hostd's encoder and the client's decoder. */
#pragma once

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "display-codec.h"
#include "hostd-encoder.h"

typedef struct CheckSink {
        Decoder *decoder;
        ClientFramebuffer view;
        uint8_t *covered; /* per pixel, tiles of the current call that covered it */
        const Framebuffer *source; /* when set: per-codec squared error of every tile, as decoded */
        uint64_t tiles[4], pixels[4], bytes[4];
        double sse[4];
        int fail_at; /* > 0: the sink returns -EPIPE on that tile */
        int seen;
        bool overlap; /* two tiles of one call overlapped */
        bool bad_tile; /* a tile broke a rule or did not decode */
} CheckSink;

static inline int check_sink_init(CheckSink *c, uint32_t w, uint32_t h) {
        *c = (CheckSink) {};
        c->decoder = decoder_new();
        c->covered = calloc((size_t) w * h, 1);
        if (!c->decoder || !c->covered)
                return -ENOMEM;
        return client_framebuffer_resize(&c->view, w, h);
}

static inline void check_sink_done(CheckSink *c) {
        decoder_free(c->decoder);
        client_framebuffer_done(&c->view);
        free(c->covered);
        *c = (CheckSink) {};
}

/* Before each encoder call: coverage is per call (tiles of one call never overlap). */
static inline void check_sink_new_call(CheckSink *c) {
        memset(c->covered, 0, (size_t) c->view.width * c->view.height);
}

/* Sum of squared differences over R, G and B of a rectangle, for PSNR. */
static inline double check_sse_rect(const Framebuffer *fb, const ClientFramebuffer *view, Rect r) {
        double sse = 0;
        for (int32_t y = r.y; y < r.y + r.h; y++) {
                const uint8_t *a = fb->pixels + (size_t) y * fb->stride + (size_t) r.x * 4;
                const uint8_t *b = view->pixels + (size_t) y * view->stride + (size_t) r.x * 4;
                uint64_t row = 0;
                for (int32_t i = 0; i < r.w * 4; i++) {
                        if ((i & 3) == 3)
                                continue;
                        int d = a[i] - b[i];
                        row += (uint64_t) (d * d);
                }
                sse += (double) row;
        }
        return sse;
}

static inline double check_sse(const Framebuffer *fb, const ClientFramebuffer *view) {
        return check_sse_rect(fb, view, (Rect) { 0, 0, (int32_t) fb->width, (int32_t) fb->height });
}

static inline int check_sink(void *userdata, uint16_t x, uint16_t y, uint16_t w, uint16_t h, uint8_t codec,
                             uint8_t quality, const uint8_t *data, size_t len) {
        CheckSink *c = userdata;
        if (c->fail_at > 0 && ++c->seen == c->fail_at)
                return -EPIPE;
        if (codec < DISPLAY_CODEC_SOLID || codec > DISPLAY_CODEC_JPEG || w == 0 || h == 0 || w > DISPLAY_TILE_MAX_DIM ||
            h > DISPLAY_TILE_MAX_DIM || len > DISPLAY_TILE_DATA_MAX ||
            (codec == DISPLAY_CODEC_JPEG) != (quality != DISPLAY_QUALITY_EXACT)) {
                c->bad_tile = true;
                return 0;
        }
        int r = decoder_apply(c->decoder, &c->view, x, y, w, h, codec, data, len);
        if (r < 0) {
                fprintf(stderr, "tile %ux%u at %u,%u codec %u (%zu bytes) does not decode: %s\n", w, h, x, y, codec, len,
                        strerror(-r));
                c->bad_tile = true;
                return 0;
        }
        for (uint32_t row = y; row < (uint32_t) y + h; row++)
                for (uint32_t col = x; col < (uint32_t) x + w; col++)
                        if (c->covered[(size_t) row * c->view.width + col]++)
                                c->overlap = true;
        c->tiles[codec]++;
        c->pixels[codec] += (uint64_t) w * h;
        c->bytes[codec] += len;
        if (c->source)
                c->sse[codec] += check_sse_rect(c->source, &c->view, (Rect) { x, y, w, h });
        return 0;
}

/* Number of pixels of the rectangle that differ between hostd's and the viewer's framebuffer. */
static inline uint64_t check_diff(const Framebuffer *fb, const ClientFramebuffer *view, Rect r) {
        uint64_t n = 0;
        for (int32_t y = r.y; y < r.y + r.h; y++)
                for (int32_t x = r.x; x < r.x + r.w; x++) {
                        const uint8_t *a = fb->pixels + (size_t) y * fb->stride + (size_t) x * 4;
                        const uint8_t *b = view->pixels + (size_t) y * view->stride + (size_t) x * 4;
                        n += a[0] != b[0] || a[1] != b[1] || a[2] != b[2];
                }
        return n;
}

/* PSNR in dB of `samples` channel values with that SSE; 99 for identical. */
static inline double check_psnr(double sse, double samples) {
        if (sse <= 0)
                return 99.0;
        return 10.0 * log10(255.0 * 255.0 * samples / sse);
}
