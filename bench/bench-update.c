/* Display path costs: framebuffer_update throughput per format and rectangle size into a 1080p
 * framebuffer, region_add per rectangle for realistic streams, and a 1080p thumbnail.
 * Each case runs for at least MIN_SECONDS; figures are printed, never asserted. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hostd-framebuffer.h"
#include "hostd-thumbnail.h"

#define FB_W 1920
#define FB_H 1080
#define MIN_SECONDS 0.3

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static uint32_t rng_state = 12345;

static uint32_t rng(void) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 17;
        rng_state ^= rng_state << 5;
        return rng_state;
}

static void die_unless(int ok, const char *what) {
        if (!ok) {
                fprintf(stderr, "bench-update: %s failed\n", what);
                exit(1);
        }
}

/* Screen-like content: smooth gradients with some noise, not all zeros. */
static void fill_source(uint8_t *p, size_t len) {
        for (size_t i = 0; i < len; i++)
                p[i] = (uint8_t) ((i / 64) + (rng() & 7));
}

static const struct {
        int w, h;
} sizes[] = { { 16, 16 }, { 64, 64 }, { 256, 256 }, { 1024, 768 }, { 1920, 1080 } };

/* Updates of one size at positions spread over the screen (or, with resend, the same content
 * again at the same place, which QEMU does and hostd must notice cheaply); the dirty region is
 * cleared every 32 updates, as an encoder consuming it would. Returns Mpix/s; *us gets
 * microseconds per call. */
static double bench_update_at(Framebuffer *fb, uint32_t format, int w, int h, bool resend, double *us) {
        unsigned bytes = framebuffer_format_bytes(format);
        uint32_t stride = (uint32_t) w * bytes;
        size_t len = (size_t) stride * h;
        uint8_t *src = malloc(len);
        die_unless(src != NULL, "malloc");
        fill_source(src, len);

        uint64_t calls = 0;
        double start = now(), elapsed;
        do {
                for (int k = 0; k < 32; k++, calls++) {
                        int32_t x = resend ? 0 : (int32_t) (rng() % (uint32_t) (FB_W - w + 1));
                        int32_t y = resend ? 0 : (int32_t) (rng() % (uint32_t) (FB_H - h + 1));
                        die_unless(framebuffer_update(fb, x, y, w, h, stride, format, src, len) == 0, "update");
                }
                region_clear(&fb->dirty);
                elapsed = now() - start;
        } while (elapsed < MIN_SECONDS);

        free(src);
        *us = elapsed * 1e6 / (double) calls;
        return (double) calls * w * h / elapsed / 1e6;
}

static double bench_update(Framebuffer *fb, uint32_t format, int w, int h, double *us) {
        return bench_update_at(fb, format, w, h, false, us);
}

/* The floor for 32-bit formats: a memcpy per row of the same rectangles. */
static double bench_memcpy(Framebuffer *fb, int w, int h, double *us) {
        size_t row = (size_t) w * 4;
        uint8_t *src = malloc(row * h);
        die_unless(src != NULL, "malloc");
        fill_source(src, row * h);

        uint64_t calls = 0;
        double start = now(), elapsed;
        do {
                for (int k = 0; k < 32; k++, calls++) {
                        uint32_t x = rng() % (uint32_t) (FB_W - w + 1), y = rng() % (uint32_t) (FB_H - h + 1);
                        uint8_t *dst = fb->pixels + (size_t) y * fb->stride + (size_t) x * 4;
                        for (int i = 0; i < h; i++)
                                memcpy(dst + (size_t) i * fb->stride, src + i * row, row);
                }
                elapsed = now() - start;
        } while (elapsed < MIN_SECONDS);
        /* Keep the copies observable so they are not optimised away. */
        volatile uint8_t sink = fb->pixels[0];
        (void) sink;
        free(src);
        *us = elapsed * 1e6 / (double) calls;
        return (double) calls * w * h / elapsed / 1e6;
}

static void print_update_table(Framebuffer *fb) {
        static const uint32_t formats[] = { FB_FORMAT_X8R8G8B8, FB_FORMAT_A8B8G8R8, FB_FORMAT_B8G8R8X8,
                                            FB_FORMAT_R8G8B8,   FB_FORMAT_R5G6B5,   FB_FORMAT_X1R5G5B5 };
        printf("framebuffer_update into %dx%d: Mpix/s (us per update)\n", FB_W, FB_H);
        printf("%-18s", "format");
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
                char label[32];
                snprintf(label, sizeof(label), "%dx%d", sizes[s].w, sizes[s].h);
                printf("%22s", label);
        }
        printf("\n");

        for (size_t f = 0; f <= sizeof(formats) / sizeof(formats[0]); f++) {
                bool reference = f == sizeof(formats) / sizeof(formats[0]);
                printf("%-18s", reference ? "memcpy (floor)" : framebuffer_format_name(formats[f]));
                for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
                        double us, mpix = reference ? bench_memcpy(fb, sizes[s].w, sizes[s].h, &us)
                                                    : bench_update(fb, formats[f], sizes[s].w, sizes[s].h, &us);
                        char cell[32];
                        snprintf(cell, sizeof(cell), "%.0f (%.2f)", mpix, us);
                        printf("%22s", cell);
                }
                printf("\n");
                fflush(stdout);
        }
        printf("%-18s", "x8r8g8b8 resent");
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
                double us, mpix = bench_update_at(fb, FB_FORMAT_X8R8G8B8, sizes[s].w, sizes[s].h, true, &us);
                char cell[32];
                snprintf(cell, sizeof(cell), "%.0f (%.2f)", mpix, us);
                printf("%22s", cell);
        }
        printf("\n");
}

/* One frame's worth of rectangles of a kind, generated ahead so only region_add is timed. */
typedef enum { STREAM_BANDS, STREAM_TEXT, STREAM_DAMAGE, STREAM_SCATTER } Stream;

static size_t make_stream(Stream kind, Rect *rects, size_t max) {
        size_t n = 0;
        switch (kind) {
        case STREAM_BANDS: /* VGA graphics: full-width runs of lines, top to bottom */
                for (int32_t y = (int32_t) (rng() % 64); y < FB_H && n < max; y += 1 + (int32_t) (rng() % 48)) {
                        int32_t h = 1 + (int32_t) (rng() % 24);
                        rects[n++] = (Rect) { 0, y, FB_W, h };
                        y += h;
                }
                break;
        case STREAM_TEXT: /* VGA text: spans of 9x16 cells on a few rows, often repeated */
                for (int row = 0; row < 6 && n < max; row++) {
                        int32_t y = 16 * (int32_t) (rng() % 25);
                        for (int k = 0; k < 8 && n < max; k++) {
                                int32_t cx = (int32_t) (rng() % 80), cw = 1 + (int32_t) (rng() % 10);
                                rects[n++] = (Rect) { 9 * cx, y, 9 * cw, 16 };
                        }
                }
                break;
        case STREAM_DAMAGE: /* a desktop: a few windows' worth of clustered damage */
                for (int win = 0; win < 4 && n < max; win++) {
                        int32_t wx = (int32_t) (rng() % (FB_W - 400)), wy = (int32_t) (rng() % (FB_H - 300));
                        for (int k = 0; k < 12 && n < max; k++)
                                rects[n++] = (Rect) { wx + (int32_t) (rng() % 380), wy + (int32_t) (rng() % 280),
                                                      8 + (int32_t) (rng() % 120), 8 + (int32_t) (rng() % 40) };
                }
                break;
        case STREAM_SCATTER: /* worst case: hundreds of small rectangles all over each frame */
                for (; n < max; n++)
                        rects[n] = (Rect) { (int32_t) (rng() % (FB_W - 16)), (int32_t) (rng() % (FB_H - 16)),
                                            1 + (int32_t) (rng() % 16), 1 + (int32_t) (rng() % 16) };
                break;
        }
        return n;
}

static void print_region_table(void) {
        static const struct {
                Stream kind;
                const char *name;
        } streams[] = {
                { STREAM_BANDS, "VGA bands, cleared per frame" },
                { STREAM_TEXT, "text cells, cleared per frame" },
                { STREAM_DAMAGE, "window damage, cleared per frame" },
                { STREAM_SCATTER, "256 scattered, cleared per frame" },
        };
        printf("\nregion_add: ns per rectangle\n");
        for (size_t s = 0; s < sizeof(streams) / sizeof(streams[0]); s++) {
                enum { FRAMES = 256, MAX_PER_FRAME = 256 };
                static Rect frames[FRAMES][MAX_PER_FRAME];
                static size_t counts[FRAMES];
                for (size_t f = 0; f < FRAMES; f++)
                        counts[f] = make_stream(streams[s].kind, frames[f], MAX_PER_FRAME);

                Region r = {};
                uint64_t adds = 0, rect_sum = 0, samples = 0;
                double start = now(), elapsed;
                do {
                        for (size_t f = 0; f < FRAMES; f++) {
                                for (size_t i = 0; i < counts[f]; i++)
                                        die_unless(region_add(&r, frames[f][i]) == 0, "region_add");
                                adds += counts[f];
                                rect_sum += r.n;
                                samples++;
                                region_clear(&r);
                        }
                        elapsed = now() - start;
                } while (elapsed < MIN_SECONDS);
                printf("  %-40s %8.0f ns   (%.1f rects per frame in, %.1f in the region at its end)\n", streams[s].name,
                       elapsed * 1e9 / (double) adds, (double) adds / (double) samples,
                       (double) rect_sum / (double) samples);
                region_done(&r);
        }
}

static void print_thumbnail(Framebuffer *fb) {
        _cleanup_(thumbnailer_freep) Thumbnailer *t = thumbnailer_new();
        die_unless(t != NULL, "thumbnailer_new");
        printf("\nthumbnail of a %dx%d frame:\n", FB_W, FB_H);
        static const unsigned widths[] = { 320, 640, FB_W };
        for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
                const uint8_t *jpeg;
                size_t size = 0;
                uint64_t calls = 0;
                double start = now(), elapsed;
                do {
                        die_unless(thumbnailer_encode(t, fb, widths[i], 75, &jpeg, &size) == 0, "thumbnail");
                        calls++;
                        elapsed = now() - start;
                } while (elapsed < MIN_SECONDS);
                printf("  width %-5u quality 75: %7.2f ms  (%zu bytes)\n", widths[i], elapsed * 1e3 / (double) calls,
                       size);
        }
}

int main(void) {
        _cleanup_(framebuffer_freep) Framebuffer *fb = framebuffer_new();
        die_unless(fb != NULL, "framebuffer_new");
        size_t len = (size_t) FB_W * FB_H * 4;
        uint8_t *screen = malloc(len);
        die_unless(screen != NULL, "malloc");
        fill_source(screen, len);
        die_unless(framebuffer_scanout(fb, FB_W, FB_H, FB_W * 4, FB_FORMAT_X8R8G8B8, screen, len) == 0, "scanout");
        free(screen);

        print_update_table(fb);
        print_region_table();

        /* Thumbnail content: diagonal gradients with window-like blocks, not a flat colour. */
        for (uint32_t y = 0; y < FB_H; y++)
                for (uint32_t x = 0; x < FB_W; x++) {
                        uint8_t *p = fb->pixels + (size_t) y * fb->stride + (size_t) x * 4;
                        bool window = (x / 240 + y / 180) % 3 == 0;
                        p[0] = window ? 0xf0 : (uint8_t) (x / 8);
                        p[1] = window ? 0xf0 : (uint8_t) (y / 5);
                        p[2] = window ? (uint8_t) ((x ^ y) & 0xff) : (uint8_t) ((x + y) / 12);
                }
        print_thumbnail(fb);
        return 0;
}
