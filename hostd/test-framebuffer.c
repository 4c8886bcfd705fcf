/* The framebuffer: exact conversion of every accepted format, rejection of everything malformed
 * with nothing changed, mode changes, dirty tracking, and PPM/RGB export. Source pixels are
 * encoded here from pixman's definition of each format, independently of the converters. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "hostd-framebuffer.h"

static uint32_t expect_word(uint8_t r, uint8_t g, uint8_t b) {
        return 0xff000000u | (uint32_t) r << 16 | (uint32_t) g << 8 | b;
}

static uint32_t pixel_at(const Framebuffer *fb, uint32_t x, uint32_t y) {
        uint32_t v;
        memcpy(&v, fb->pixels + (size_t) y * fb->stride + (size_t) x * 4, 4);
        return v;
}

/* A colour that differs per pixel, per channel and per seed. */
static void pattern(uint32_t x, uint32_t y, uint32_t seed, uint8_t rgb[3]) {
        uint32_t h = (x * 73856093u) ^ (y * 19349663u) ^ (seed * 83492791u);
        h ^= h >> 13;
        h *= 0x5bd1e995u;
        h ^= h >> 15;
        rgb[0] = (uint8_t) h;
        rgb[1] = (uint8_t) (h >> 8);
        rgb[2] = (uint8_t) (h >> 16);
}

/* Encodes one pixel of a 24- or 32-bit format as pixman defines it: a native (little-endian)
 * value whose fields are laid out from the most significant end in the order of the name. */
static void encode(uint32_t format, uint8_t r, uint8_t g, uint8_t b, uint8_t a, uint8_t *out) {
        uint32_t v;
        switch (format) {
        case FB_FORMAT_X8R8G8B8:
        case FB_FORMAT_A8R8G8B8:
                v = (uint32_t) a << 24 | (uint32_t) r << 16 | (uint32_t) g << 8 | b;
                break;
        case FB_FORMAT_X8B8G8R8:
        case FB_FORMAT_A8B8G8R8:
                v = (uint32_t) a << 24 | (uint32_t) b << 16 | (uint32_t) g << 8 | r;
                break;
        case FB_FORMAT_B8G8R8X8:
        case FB_FORMAT_B8G8R8A8:
                v = (uint32_t) b << 24 | (uint32_t) g << 16 | (uint32_t) r << 8 | a;
                break;
        case FB_FORMAT_R8G8B8X8:
        case FB_FORMAT_R8G8B8A8:
                v = (uint32_t) r << 24 | (uint32_t) g << 16 | (uint32_t) b << 8 | a;
                break;
        case FB_FORMAT_R8G8B8:
                v = (uint32_t) r << 16 | (uint32_t) g << 8 | b;
                break;
        case FB_FORMAT_B8G8R8:
                v = (uint32_t) b << 16 | (uint32_t) g << 8 | r;
                break;
        default:
                abort();
        }
        unsigned bytes = format >> 24 == 24 ? 3 : 4;
        for (unsigned i = 0; i < bytes; i++)
                out[i] = (uint8_t) (v >> (8 * i));
}

static void test_codes(void) {
        /* The codes the brief lists, against the macro. */
        check(FB_FORMAT_X8R8G8B8 == 0x20020888u);
        check(FB_FORMAT_A8R8G8B8 == 0x20028888u);
        check(FB_FORMAT_X8B8G8R8 == 0x20030888u);
        check(FB_FORMAT_A8B8G8R8 == 0x20038888u);
        check(FB_FORMAT_B8G8R8X8 == 0x20080888u);
        check(FB_FORMAT_B8G8R8A8 == 0x20088888u);
        check(FB_FORMAT_R8G8B8X8 == 0x20090888u);
        check(FB_FORMAT_R8G8B8A8 == 0x20098888u);
        check(FB_FORMAT_R8G8B8 == 0x18020888u);
        check(FB_FORMAT_B8G8R8 == 0x18030888u);
        check(FB_FORMAT_R5G6B5 == 0x10020565u);
        check(FB_FORMAT_X1R5G5B5 == 0x10020555u);

        check(strcmp(framebuffer_format_name(FB_FORMAT_X8R8G8B8), "x8r8g8b8") == 0);
        check(strcmp(framebuffer_format_name(FB_FORMAT_R5G6B5), "r5g6b5") == 0);
        check(framebuffer_format_bytes(FB_FORMAT_B8G8R8) == 3);
        check(framebuffer_format_bytes(FB_FORMAT_X1R5G5B5) == 2);
        check(framebuffer_format_bytes(0) == 0);

        /* Real pixman formats we do not take: a8, x2r10g10b10, a1r5g5b5, r3g3b2, yuy2, c8. */
        static const uint32_t unsupported[] = { 0, 0x08018000u, 0x20020aaau, 0x10021555u, 0x08020332u,
                                                0x10060000u, 0x08040000u, 0xffffffffu, FB_FORMAT_X8R8G8B8 ^ 1 };
        for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
                check(!framebuffer_format_supported(unsupported[i]));
                check(framebuffer_format_name(unsupported[i]) == NULL);
        }
}

/* Every 24/32-bit format, through scanout (one long tight row) and update (strided rows), with
 * alpha and X bytes that must not leak into the result. */
static void test_formats_wide(void) {
        static const uint32_t formats[] = {
                FB_FORMAT_X8R8G8B8, FB_FORMAT_A8R8G8B8, FB_FORMAT_X8B8G8R8, FB_FORMAT_A8B8G8R8, FB_FORMAT_B8G8R8X8,
                FB_FORMAT_B8G8R8A8, FB_FORMAT_R8G8B8X8, FB_FORMAT_R8G8B8A8, FB_FORMAT_R8G8B8,   FB_FORMAT_B8G8R8,
        };
        const uint32_t W = 37, H = 5; /* odd width: vector loops' tails too */

        for (size_t k = 0; k < sizeof(formats) / sizeof(formats[0]); k++) {
                uint32_t f = formats[k];
                check(framebuffer_format_supported(f));
                unsigned bpp = framebuffer_format_bytes(f);
                _cleanup_(framebuffer_freep) Framebuffer *fb = framebuffer_new();
                check(fb);

                uint32_t stride = W * bpp;
                uint8_t *data = malloc((size_t) stride * H);
                check(data);
                for (uint32_t y = 0; y < H; y++)
                        for (uint32_t x = 0; x < W; x++) {
                                uint8_t c[3];
                                pattern(x, y, (uint32_t) k, c);
                                encode(f, c[0], c[1], c[2], (uint8_t) (x * 7), data + y * stride + x * bpp);
                        }
                check(framebuffer_scanout(fb, W, H, stride, f, data, (size_t) stride * H) == 0);
                check(fb->width == W && fb->height == H && fb->stride == W * 4);
                for (uint32_t y = 0; y < H; y++)
                        for (uint32_t x = 0; x < W; x++) {
                                uint8_t c[3];
                                pattern(x, y, (uint32_t) k, c);
                                check(pixel_at(fb, x, y) == expect_word(c[0], c[1], c[2]));
                        }

                /* A 5x3 update at (30,1) with 7 bytes of padding per row and unaligned data. */
                uint32_t ustride = 5 * bpp + 7;
                uint8_t *u = calloc(1, (size_t) ustride * 3 + 1);
                check(u);
                for (uint32_t y = 0; y < 3; y++)
                        for (uint32_t x = 0; x < 5; x++) {
                                uint8_t c[3];
                                pattern(x, y, 1000 + (uint32_t) k, c);
                                encode(f, c[0], c[1], c[2], 0x5a, u + 1 + y * ustride + x * bpp);
                        }
                check(framebuffer_update(fb, 30, 1, 5, 3, ustride, f, u + 1, (size_t) ustride * 2 + 5 * bpp) == 0);
                for (uint32_t y = 0; y < H; y++)
                        for (uint32_t x = 0; x < W; x++) {
                                uint8_t c[3];
                                bool in = x >= 30 && x < 35 && y >= 1 && y < 4;
                                pattern(in ? x - 30 : x, in ? y - 1 : y, in ? 1000 + (uint32_t) k : (uint32_t) k, c);
                                check(pixel_at(fb, x, y) == expect_word(c[0], c[1], c[2]));
                        }
                free(u);
                free(data);
        }
}

/* 16-bit formats, with hand-computed expansions (v << 3 | v >> 2, and v << 2 | v >> 4 for six). */
static void test_formats_16(void) {
        static const struct {
                uint32_t format;
                uint16_t in;
                uint32_t out;
        } cases[] = {
                { FB_FORMAT_R5G6B5, 0x0000, 0xff000000u }, { FB_FORMAT_R5G6B5, 0xffff, 0xffffffffu },
                { FB_FORMAT_R5G6B5, 0xf800, 0xffff0000u }, { FB_FORMAT_R5G6B5, 0x07e0, 0xff00ff00u },
                { FB_FORMAT_R5G6B5, 0x001f, 0xff0000ffu }, { FB_FORMAT_R5G6B5, 0x8410, 0xff848284u },
                { FB_FORMAT_R5G6B5, 0x0821, 0xff080408u }, { FB_FORMAT_R5G6B5, 0x7bef, 0xff7b7d7bu },
                { FB_FORMAT_X1R5G5B5, 0x0000, 0xff000000u }, { FB_FORMAT_X1R5G5B5, 0x7fff, 0xffffffffu },
                { FB_FORMAT_X1R5G5B5, 0xffff, 0xffffffffu }, /* the X bit is ignored */
                { FB_FORMAT_X1R5G5B5, 0x8000, 0xff000000u }, { FB_FORMAT_X1R5G5B5, 0x7c00, 0xffff0000u },
                { FB_FORMAT_X1R5G5B5, 0x03e0, 0xff00ff00u }, { FB_FORMAT_X1R5G5B5, 0x001f, 0xff0000ffu },
                { FB_FORMAT_X1R5G5B5, 0x4210, 0xff848484u }, { FB_FORMAT_X1R5G5B5, 0x0421, 0xff080808u },
        };
        const size_t n = sizeof(cases) / sizeof(cases[0]);

        for (int pass = 0; pass < 2; pass++) {
                uint32_t f = pass ? FB_FORMAT_X1R5G5B5 : FB_FORMAT_R5G6B5;
                uint8_t data[64];
                uint32_t w = 0;
                for (size_t i = 0; i < n; i++)
                        if (cases[i].format == f) {
                                data[2 * w] = (uint8_t) cases[i].in; /* little endian */
                                data[2 * w + 1] = (uint8_t) (cases[i].in >> 8);
                                w++;
                        }
                _cleanup_(framebuffer_freep) Framebuffer *fb = framebuffer_new();
                check(framebuffer_scanout(fb, w, 1, w * 2, f, data, w * 2) == 0);
                w = 0;
                for (size_t i = 0; i < n; i++)
                        if (cases[i].format == f)
                                check(pixel_at(fb, w++, 0) == cases[i].out);
        }

        /* Every 16-bit value of both formats against the formula, through an update into a wider
         * mode (unaligned source, strided). */
        _cleanup_(framebuffer_freep) Framebuffer *fb = framebuffer_new();
        uint8_t *black = calloc(1, 300 * 256 * 4);
        uint8_t *all = malloc(65536 * 2 + 1);
        check(black && all);
        for (uint32_t v = 0; v < 65536; v++) {
                all[1 + 2 * v] = (uint8_t) v;
                all[1 + 2 * v + 1] = (uint8_t) (v >> 8);
        }
        for (int pass = 0; pass < 2; pass++) {
                check(framebuffer_scanout(fb, 300, 256, 1200, FB_FORMAT_X8R8G8B8, black, 300 * 256 * 4) == 0);
                uint32_t f = pass ? FB_FORMAT_X1R5G5B5 : FB_FORMAT_R5G6B5;
                check(framebuffer_update(fb, 10, 0, 256, 256, 512, f, all + 1, 65536 * 2) == 0);
                for (uint32_t v = 0; v < 65536; v++) {
                        uint32_t r = pass ? (v >> 10) & 31 : v >> 11, b = v & 31;
                        uint32_t g = pass ? (v >> 5) & 31 : (v >> 5) & 63;
                        uint8_t g8 = (uint8_t) (pass ? (g << 3 | g >> 2) : (g << 2 | g >> 4));
                        uint32_t want = expect_word((uint8_t) (r << 3 | r >> 2), g8, (uint8_t) (b << 3 | b >> 2));
                        check(pixel_at(fb, 10 + v % 256, v / 256) == want);
                }
                /* untouched outside */
                check(pixel_at(fb, 9, 0) == 0xff000000u && pixel_at(fb, 266, 255) == 0xff000000u);
        }
        free(all);
        free(black);
}

/* A deep copy of what must not change when a call fails. */
typedef struct {
        uint32_t width, height, stride;
        uint8_t *pixels;
        Region dirty;
        uint64_t updates;
} Snapshot;

static void snapshot(const Framebuffer *fb, Snapshot *s) {
        size_t size = (size_t) fb->stride * fb->height;
        *s = (Snapshot) { fb->width, fb->height, fb->stride, malloc(size ? size : 1), {}, fb->updates };
        check(s->pixels);
        if (size)
                memcpy(s->pixels, fb->pixels, size);
        check(region_copy(&s->dirty, &fb->dirty) == 0);
}

static void check_unchanged(const Framebuffer *fb, Snapshot *s) {
        check(fb->width == s->width && fb->height == s->height && fb->stride == s->stride);
        check(fb->updates == s->updates);
        if (s->height)
                check(memcmp(fb->pixels, s->pixels, (size_t) s->stride * s->height) == 0);
        check(fb->dirty.n == s->dirty.n);
        check(fb->dirty.n == 0 || memcmp(fb->dirty.rects, s->dirty.rects, fb->dirty.n * sizeof(Rect)) == 0);
        free(s->pixels);
        region_done(&s->dirty);
}

static void test_rejects(void) {
        _cleanup_(framebuffer_freep) Framebuffer *fb = framebuffer_new();
        static uint8_t data[64 * 48 * 4 + 64];
        Snapshot s;

        /* Before any Scanout, every non-empty update is out of range. */
        snapshot(fb, &s);
        check(framebuffer_update(fb, 0, 0, 1, 1, 4, FB_FORMAT_X8R8G8B8, data, 4) == -ERANGE);
        check(framebuffer_update(fb, 0, 0, 0, 1, 4, FB_FORMAT_X8R8G8B8, data, 4) == 0);
        uint8_t rgb[3];
        check(framebuffer_to_rgb(fb, rgb, sizeof(rgb)) == -ENODATA);
        check(framebuffer_write_ppm(fb, "/nonexistent/never-written.ppm") == -ENODATA);
        framebuffer_disable(fb);
        check_unchanged(fb, &s);
        check(fb->pixels == NULL);

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t) (i * 31);
        check(framebuffer_scanout(fb, 64, 48, 256, FB_FORMAT_X8R8G8B8, data, 64 * 48 * 4) == 0);
        region_clear(&fb->dirty);
        check(region_add(&fb->dirty, (Rect) { 1, 2, 3, 4 }) == 0);

        snapshot(fb, &s);
        /* Scanout geometry. */
        check(framebuffer_scanout(fb, 0, 48, 256, FB_FORMAT_X8R8G8B8, data, sizeof(data)) == -EINVAL);
        check(framebuffer_scanout(fb, 64, 0, 256, FB_FORMAT_X8R8G8B8, data, sizeof(data)) == -EINVAL);
        check(framebuffer_scanout(fb, FRAMEBUFFER_MAX_DIM + 1, 1, UINT32_MAX, FB_FORMAT_X8R8G8B8, data, sizeof(data)) ==
              -EINVAL);
        check(framebuffer_scanout(fb, 1, FRAMEBUFFER_MAX_DIM + 1, 4, FB_FORMAT_X8R8G8B8, data, sizeof(data)) == -EINVAL);
        check(framebuffer_scanout(fb, FRAMEBUFFER_MAX_DIM, FRAMEBUFFER_MAX_PIXELS / FRAMEBUFFER_MAX_DIM + 1,
                                  FRAMEBUFFER_MAX_DIM * 4, FB_FORMAT_X8R8G8B8, data, sizeof(data)) == -EINVAL);
        check(framebuffer_scanout(fb, UINT32_MAX, UINT32_MAX, UINT32_MAX, FB_FORMAT_X8R8G8B8, data, sizeof(data)) ==
              -EINVAL);
        /* Stride shorter than a row, data shorter than the last row's end. */
        check(framebuffer_scanout(fb, 64, 48, 255, FB_FORMAT_X8R8G8B8, data, sizeof(data)) == -EINVAL);
        check(framebuffer_scanout(fb, 64, 48, 191, FB_FORMAT_R8G8B8, data, sizeof(data)) == -EINVAL);
        check(framebuffer_scanout(fb, 64, 48, 256, FB_FORMAT_X8R8G8B8, data, 64 * 48 * 4 - 1) == -EBADMSG);
        check(framebuffer_scanout(fb, 64, 48, 256, FB_FORMAT_X8R8G8B8, NULL, 0) == -EBADMSG);
        check(framebuffer_scanout(fb, 16, 2, UINT32_MAX, FB_FORMAT_X8R8G8B8, data, sizeof(data)) == -EBADMSG);
        check(framebuffer_scanout(fb, 64, 48, 256, 0x20020aaau, data, sizeof(data)) == -EOPNOTSUPP);
        check(framebuffer_scanout(fb, 64, 48, 256, 0, data, sizeof(data)) == -EOPNOTSUPP);

        /* Update bounds, including sums that overflow int32_t. */
        check(framebuffer_update(fb, -1, 0, 1, 1, 4, FB_FORMAT_X8R8G8B8, data, 4) == -ERANGE);
        check(framebuffer_update(fb, 0, -1, 1, 1, 4, FB_FORMAT_X8R8G8B8, data, 4) == -ERANGE);
        check(framebuffer_update(fb, 0, 0, -1, 1, 4, FB_FORMAT_X8R8G8B8, data, 4) == -ERANGE);
        check(framebuffer_update(fb, 0, 0, 1, -1, 4, FB_FORMAT_X8R8G8B8, data, 4) == -ERANGE);
        check(framebuffer_update(fb, INT32_MIN, INT32_MIN, 1, 1, 4, FB_FORMAT_X8R8G8B8, data, 4) == -ERANGE);
        check(framebuffer_update(fb, INT32_MAX, 0, 1, 1, 4, FB_FORMAT_X8R8G8B8, data, 4) == -ERANGE);
        check(framebuffer_update(fb, 0, INT32_MAX, 1, 1, 4, FB_FORMAT_X8R8G8B8, data, 4) == -ERANGE);
        check(framebuffer_update(fb, 1, 0, INT32_MAX, 1, UINT32_MAX, FB_FORMAT_X8R8G8B8, data, sizeof(data)) == -ERANGE);
        check(framebuffer_update(fb, 0, 1, 1, INT32_MAX, 4, FB_FORMAT_X8R8G8B8, data, sizeof(data)) == -ERANGE);
        check(framebuffer_update(fb, INT32_MAX, INT32_MAX, INT32_MAX, INT32_MAX, 4, FB_FORMAT_X8R8G8B8, data,
                                 sizeof(data)) == -ERANGE);
        check(framebuffer_update(fb, 60, 0, 5, 1, 20, FB_FORMAT_X8R8G8B8, data, sizeof(data)) == -ERANGE);
        check(framebuffer_update(fb, 0, 44, 1, 5, 4, FB_FORMAT_X8R8G8B8, data, sizeof(data)) == -ERANGE);
        check(framebuffer_update(fb, 64, 0, 1, 1, 4, FB_FORMAT_X8R8G8B8, data, sizeof(data)) == -ERANGE);
        /* Format, stride, length. */
        check(framebuffer_update(fb, 0, 0, 4, 4, 16, 0x20020aaau, data, sizeof(data)) == -EOPNOTSUPP);
        check(framebuffer_update(fb, 0, 0, 4, 4, 15, FB_FORMAT_X8R8G8B8, data, sizeof(data)) == -EINVAL);
        check(framebuffer_update(fb, 0, 0, 4, 4, 7, FB_FORMAT_R5G6B5, data, sizeof(data)) == -EINVAL);
        check(framebuffer_update(fb, 0, 0, 4, 4, 16, FB_FORMAT_X8R8G8B8, data, 16 * 3 + 15) == -EBADMSG);
        check(framebuffer_update(fb, 0, 0, 4, 4, 12, FB_FORMAT_R8G8B8, data, 12 * 3 + 11) == -EBADMSG);
        check(framebuffer_update(fb, 0, 0, 4, 2, UINT32_MAX, FB_FORMAT_X8R8G8B8, data, sizeof(data)) == -EBADMSG);
        check(framebuffer_update(fb, 0, 0, 4, 4, 16, FB_FORMAT_X8R8G8B8, NULL, 0) == -EBADMSG);
        /* Empty updates are no-ops whatever else they say. */
        check(framebuffer_update(fb, 0, 0, 0, 4, 0, 0, NULL, 0) == 0);
        check(framebuffer_update(fb, INT32_MAX, INT32_MAX, 4, 0, 0, FB_FORMAT_X8R8G8B8, NULL, 0) == 0);
        uint8_t small[10];
        check(framebuffer_to_rgb(fb, small, sizeof(small)) == -ENOBUFS);
        check(framebuffer_write_ppm(fb, "/nonexistent/dir/x.ppm") == -ENOENT);
        check_unchanged(fb, &s);

        /* The exact minimum length (no padding after the last row) is enough. */
        check(framebuffer_update(fb, 2, 3, 4, 4, 100, FB_FORMAT_X8R8G8B8, data, 100 * 3 + 16) == 0);
        check(framebuffer_scanout(fb, 10, 10, 1000, FB_FORMAT_X8R8G8B8, data, 0) == -EBADMSG);
        check(framebuffer_scanout(fb, 8, 2, 40, FB_FORMAT_X8R8G8B8, data, 40 + 32) == 0);
}

/* Fills a mode with the pattern of seed in format x8r8g8b8, with stride padding. */
static void scanout_pattern(Framebuffer *fb, uint32_t w, uint32_t h, uint32_t seed) {
        uint32_t stride = w * 4 + 12;
        uint8_t *data = malloc((size_t) stride * h);
        check(data);
        for (uint32_t y = 0; y < h; y++)
                for (uint32_t x = 0; x < w; x++) {
                        uint8_t c[3];
                        pattern(x, y, seed, c);
                        encode(FB_FORMAT_X8R8G8B8, c[0], c[1], c[2], 0, data + (size_t) y * stride + x * 4);
                }
        check(framebuffer_scanout(fb, w, h, stride, FB_FORMAT_X8R8G8B8, data, (size_t) stride * h) == 0);
        free(data);
}

static void check_pattern(const Framebuffer *fb, uint32_t seed) {
        for (uint32_t y = 0; y < fb->height; y++)
                for (uint32_t x = 0; x < fb->width; x++) {
                        uint8_t c[3];
                        pattern(x, y, seed, c);
                        check(pixel_at(fb, x, y) == expect_word(c[0], c[1], c[2]));
                }
}

static void check_dirty_is(const Framebuffer *fb, Rect a) {
        check(fb->dirty.n == 1);
        check(memcmp(&fb->dirty.rects[0], &a, sizeof(a)) == 0);
}

static void test_modes(void) {
        _cleanup_(framebuffer_freep) Framebuffer *fb = framebuffer_new();
        static const uint32_t modes[][2] = { { 640, 480 }, { 720, 400 }, { 1024, 768 }, { 640, 480 }, { 480, 640 } };
        uint64_t updates = 0;
        for (uint32_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
                region_clear(&fb->dirty);
                scanout_pattern(fb, modes[i][0], modes[i][1], i);
                check(fb->width == modes[i][0] && fb->height == modes[i][1] && fb->stride == modes[i][0] * 4);
                check(fb->updates == ++updates);
                check_dirty_is(fb, (Rect) { 0, 0, (int32_t) modes[i][0], (int32_t) modes[i][1] });
                check_pattern(fb, i);
        }

        /* Disable keeps the mode, paints black, marks everything dirty. */
        region_clear(&fb->dirty);
        framebuffer_disable(fb);
        check(fb->width == 480 && fb->height == 640 && fb->updates == ++updates);
        check_dirty_is(fb, (Rect) { 0, 0, 480, 640 });
        for (uint32_t y = 0; y < fb->height; y++)
                for (uint32_t x = 0; x < fb->width; x++)
                        check(pixel_at(fb, x, y) == 0xff000000u);
}

static void test_dirty(void) {
        _cleanup_(framebuffer_freep) Framebuffer *fb = framebuffer_new();
        scanout_pattern(fb, 640, 480, 7);
        region_clear(&fb->dirty);

        uint8_t block[32 * 16 * 4] = {};
        /* Two separate rectangles, then a band of rows that merges into one. */
        check(framebuffer_update(fb, 8, 16, 32, 16, 128, FB_FORMAT_X8R8G8B8, block, sizeof(block)) == 0);
        check(framebuffer_update(fb, 600, 400, 16, 16, 64, FB_FORMAT_X8R8G8B8, block, sizeof(block)) == 0);
        check(fb->dirty.n == 2 && region_area(&fb->dirty) == 32 * 16 + 16 * 16);
        Rect b = region_bounds(&fb->dirty);
        check(b.x == 8 && b.y == 16 && b.w == 608 && b.h == 400);

        static uint8_t row[640 * 4];
        region_clear(&fb->dirty);
        for (int y = 100; y < 200; y++)
                check(framebuffer_update(fb, 0, y, 640, 1, sizeof(row), FB_FORMAT_X8R8G8B8, row, sizeof(row)) == 0);
        check_dirty_is(fb, (Rect) { 0, 100, 640, 100 });
        check(pixel_at(fb, 5, 150) == 0xff000000u);

        /* Unchanged content is not a change: same pixels again leave dirty and updates alone. */
        region_clear(&fb->dirty);
        uint64_t before = fb->updates;
        check(framebuffer_update(fb, 8, 16, 32, 16, 128, FB_FORMAT_X8R8G8B8, block, sizeof(block)) == 0);
        check(region_is_empty(&fb->dirty) && fb->updates == before);
        /* Only the rows that changed are marked. */
        uint8_t changed[32 * 16 * 4] = {};
        memset(changed + 5 * 128, 0x40, 2 * 128);
        check(framebuffer_update(fb, 8, 16, 32, 16, 128, FB_FORMAT_X8R8G8B8, changed, sizeof(changed)) == 0);
        check_dirty_is(fb, (Rect) { 8, 21, 32, 2 });
        check(fb->updates == before + 1);

        /* Thousands of scattered small updates stay bounded and covered. */
        region_clear(&fb->dirty);
        for (int i = 0; i < 4000; i++) {
                int32_t x = (i * 37) % 630, y = (i * 91) % 470;
                memset(block, i % 251 + 1, sizeof(block)); /* new content each time, so each is a change */
                check(framebuffer_update(fb, x, y, 8, 8, 32, FB_FORMAT_X8R8G8B8, block, sizeof(block)) == 0);
                check(fb->dirty.n <= REGION_MAX_RECTS);
        }
        for (int i = 0; i < 4000; i++) {
                int32_t x = (i * 37) % 630, y = (i * 91) % 470;
                for (int dy = 0; dy < 8; dy++)
                        for (int dx = 0; dx < 8; dx++) {
                                bool in = false;
                                for (size_t k = 0; k < fb->dirty.n && !in; k++)
                                        in = rect_contains(fb->dirty.rects[k], (Rect) { x + dx, y + dy, 1, 1 });
                                check(in);
                        }
        }
}

static void test_ppm(void) {
        char dir[] = "/tmp/test-framebuffer-XXXXXX";
        check(mkdtemp(dir));
        char path[sizeof(dir) + 16];
        check(snprintf(path, sizeof(path), "%s/screen.ppm", dir) < (int) sizeof(path));

        _cleanup_(framebuffer_freep) Framebuffer *fb = framebuffer_new();
        scanout_pattern(fb, 333, 211, 42); /* 333 * 3 is odd: no accidental alignment */
        check(framebuffer_write_ppm(fb, path) == 0);
        /* Overwriting works and leaves no temporary behind. */
        check(framebuffer_write_ppm(fb, path) == 0);

        FILE *f = fopen(path, "rb");
        check(f);
        static uint8_t buf[1 << 20];
        size_t n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        static const char header[] = "P6\n333 211\n255\n";
        check(n == sizeof(header) - 1 + 333 * 211 * 3);
        check(memcmp(buf, header, sizeof(header) - 1) == 0);

        const uint8_t *body = buf + sizeof(header) - 1;
        for (uint32_t y = 0; y < 211; y++)
                for (uint32_t x = 0; x < 333; x++) {
                        uint8_t c[3];
                        pattern(x, y, 42, c);
                        check(memcmp(body + ((size_t) y * 333 + x) * 3, c, 3) == 0);
                }

        static uint8_t rgb[333 * 211 * 3];
        check(framebuffer_to_rgb(fb, rgb, sizeof(rgb)) == 0);
        check(memcmp(rgb, body, sizeof(rgb)) == 0);
        check(framebuffer_to_rgb(fb, rgb, sizeof(rgb) - 1) == -ENOBUFS);

        check(unlink(path) == 0);
        check(rmdir(dir) == 0); /* fails if a temporary file was left */
}

int main(void) {
        check(framebuffer_free(NULL) == NULL);
        test_codes();
        test_formats_wide();
        test_formats_16();
        test_rejects();
        test_modes();
        test_dirty();
        test_ppm();
        printf("test-framebuffer: ok\n");
        return 0;
}
