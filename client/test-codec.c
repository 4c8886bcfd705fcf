/* hostd's encoder against the viewer's decoder on synthetic content (always runs): every codec and
 * lossless mode round-trips to exact pixels, JPEG keeps its PSNR, classification, merging,
 * build-to-lossless and its bookkeeping, errors from the sink. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "check.h"
#include "codec-check.h"
#include "hostd-tile.h"
#include "screen-content.h"

static uint32_t rng_state = 1;

static uint32_t rng(void) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 17;
        rng_state ^= rng_state << 5;
        return rng_state;
}

static Framebuffer *fb_from(const uint32_t *pixels, uint32_t w, uint32_t h) {
        Framebuffer *fb = framebuffer_new();
        check(fb);
        check(framebuffer_scanout(fb, w, h, w * 4, FB_FORMAT_X8R8G8B8, (const uint8_t *) pixels, (size_t) w * h * 4) == 0);
        return fb;
}

static Framebuffer *fb_from_frame(const ContentFrame *f) {
        return fb_from((const uint32_t *) f->pixels, f->width, f->height);
}

static Region whole(const Framebuffer *fb) {
        Region r = {};
        check(region_add(&r, (Rect) { 0, 0, (int32_t) fb->width, (int32_t) fb->height }) == 0);
        return r;
}

static Rect full(const Framebuffer *fb) {
        return (Rect) { 0, 0, (int32_t) fb->width, (int32_t) fb->height };
}

/* n colours, scattered at random (runs would not pay), or in blocks. */
static uint32_t *paint_palette(uint32_t w, uint32_t h, unsigned n, bool blocks) {
        uint32_t *p = malloc((size_t) w * h * 4);
        check(p);
        for (uint32_t i = 0; i < w * h; i++) {
                unsigned k = blocks ? ((i % w) / 16 + (i / w) / 16) % n : rng() % n;
                if (!blocks && i < n)
                        k = i; /* every colour appears */
                p[i] = 0xff000000u | ((k * 0x9e3779b9u) & 0xffffff);
        }
        return p;
}

static uint32_t *paint_noise(uint32_t w, uint32_t h) {
        uint32_t *p = malloc((size_t) w * h * 4);
        check(p);
        for (uint32_t i = 0; i < w * h; i++)
                p[i] = 0xff000000u | (rng() & 0xffffff);
        return p;
}

/* The mode byte and colour count of a lossless tile. */
static void lossless_header(const uint8_t *data, size_t len, uint8_t *mode, unsigned *colours) {
        static uint8_t content[2 + 768 + 3 * 65536];
        size_t n = ZSTD_decompress(content, sizeof(content), data, len);
        check(!ZSTD_isError(n) && n >= 2);
        *mode = content[0];
        *colours = content[0] == LOSSLESS_PALETTE || content[0] == LOSSLESS_PALETTE_RLE ? content[1] + 1u : 0;
}

/* Encodes the whole frame, decodes it, returns the sink for the caller to inspect. */
static void encode_all(Encoder *e, const Framebuffer *fb, const EncoderSettings *s, CheckSink *c) {
        Region r = whole(fb);
        check_sink_new_call(c);
        int n = encoder_encode(e, fb, &r, s, check_sink, c);
        check(n > 0);
        check(!c->overlap && !c->bad_tile);
        region_done(&r);
}

/* Every lossless mode of the tile codec, at sizes that stress row packing, round-trips. */
static void test_tile_modes(void) {
        static const struct {
                uint32_t w, h;
        } sizes[] = { { 1, 1 }, { 4, 5 }, { 5, 2 }, { 7, 3 }, { 9, 17 }, { 64, 64 }, { 33, 1 }, { 1, 40 }, { 255, 7 }, { 256, 256 } };
        static const unsigned colours[] = { 2, 3, 4, 5, 16, 17, 200, 256 };
        _cleanup_(lossless_encoder_freep) LosslessEncoder *l = lossless_encoder_new();
        _cleanup_(decoder_freep) Decoder *d = decoder_new();
        check(l && d);

        for (size_t si = 0; si < ELEMENTSOF(sizes); si++)
                for (size_t ci = 0; ci <= ELEMENTSOF(colours); ci++) {
                        uint32_t w = sizes[si].w, h = sizes[si].h;
                        bool noise = ci == ELEMENTSOF(colours);
                        unsigned n = noise ? 0 : MIN(colours[ci], w * h);
                        uint32_t *pix = noise ? paint_noise(w, h) : paint_palette(w, h, n, false);
                        Framebuffer *fb = fb_from(pix, w, h);
                        ClientFramebuffer view = {};
                        check(client_framebuffer_resize(&view, w, h) == 0);

                        /* The palette scan: lossless_scan would call the scattered palettes photos. */
                        TileScan scan;
                        lossless_scan_palette(l, fb->pixels, fb->stride, w, h, &scan);
                        check(scan.colours == (noise && w * h > 256 ? 0 : noise ? scan.colours : n));
                        for (uint8_t mode = 0; mode <= LOSSLESS_GRADIENT; mode++) {
                                const uint8_t *data;
                                size_t len;
                                if ((mode == LOSSLESS_PALETTE || mode == LOSSLESS_PALETTE_RLE) && scan.colours == 0)
                                        continue;
                                /* The scan's indexes are consumed by packing: scan again for each. */
                                lossless_scan_palette(l, fb->pixels, fb->stride, w, h, &scan);
                                int r = lossless_encode_mode(l, fb->pixels, fb->stride, w, h, &scan, mode, &data, &len);
                                if (r == -EINVAL && mode == LOSSLESS_PALETTE_RLE)
                                        continue; /* runs longer than packed rows */
                                check(r == 0);
                                uint8_t got;
                                unsigned got_colours;
                                lossless_header(data, len, &got, &got_colours);
                                check(got == mode);
                                if (mode == LOSSLESS_PALETTE || mode == LOSSLESS_PALETTE_RLE)
                                        check(got_colours == scan.colours);
                                memset(view.pixels, 0, (size_t) w * h * 4);
                                check(decoder_apply(d, &view, 0, 0, (uint16_t) w, (uint16_t) h, DISPLAY_CODEC_LOSSLESS, data,
                                                    len) == 0);
                                check(check_diff(fb, &view, full(fb)) == 0);
                        }
                        client_framebuffer_done(&view);
                        framebuffer_free(fb);
                        free(pix);
                }
}

/* Through the encoder: solid, palettes of 2/4/16/256 colours, runs and gradient are exact, each
 * in the mode it should pick. */
static void test_encoder_lossless_exact(void) {
        static const unsigned colours[] = { 2, 4, 16, 256 };
        _cleanup_(encoder_freep) Encoder *e = encoder_new();
        check(e);
        EncoderSettings lossless = encoder_settings_default();
        lossless.lossless_only = true;

        for (size_t i = 0; i < ELEMENTSOF(colours); i++) {
                uint32_t *pix = paint_palette(64, 64, colours[i], false);
                Framebuffer *fb = fb_from(pix, 64, 64);
                CheckSink c;
                check(check_sink_init(&c, 64, 64) == 0);
                encode_all(e, fb, &lossless, &c);
                check(c.tiles[DISPLAY_CODEC_LOSSLESS] == 1 && c.tiles[DISPLAY_CODEC_SOLID] == 0);
                check(check_diff(fb, &c.view, full(fb)) == 0);
                check(!encoder_has_lossy(e));
                check_sink_done(&c);
                framebuffer_free(fb);
                free(pix);
        }

        /* Blocks of 3 colours: few runs, so palette-rle, one tile (a strip of 64+64+64+8 pixels,
         * with the rows of cells below it: 64+64+22); more than 256 colours: gradient, two cells
         * side by side a tile (64+64 and 64+8 pixels wide, in each of the three rows of cells). */
        uint32_t *blocks = paint_palette(200, 150, 3, true), *noise = paint_noise(200, 150);
        uint32_t *both[] = { blocks, noise };
        for (size_t i = 0; i < ELEMENTSOF(both); i++) {
                Framebuffer *fb = fb_from(both[i], 200, 150);
                CheckSink c;
                check(check_sink_init(&c, 200, 150) == 0);
                encode_all(e, fb, &lossless, &c);
                check(c.tiles[DISPLAY_CODEC_LOSSLESS] == (i == 0 ? 1 : 6) && c.tiles[DISPLAY_CODEC_JPEG] == 0);
                check(check_diff(fb, &c.view, full(fb)) == 0);
                check_sink_done(&c);
                framebuffer_free(fb);
        }
        free(blocks);
        free(noise);
}

/* Strips: cells side by side are one lossless tile as long as they fit in 256 colours together; a
 * strip stops at the cell that would overflow (which starts the next one), a first cell of many
 * colours goes alone, and each tile's palette holds only its own cells' colours. Lossless only,
 * the rows of cells below a strip join it while they fit too. */
typedef struct StripSink {
        CheckSink check;
        unsigned n, x[8], y[8], w[8], h[8], colours[8];
        uint8_t mode[8];
} StripSink;

static int strip_sink(void *userdata, uint16_t x, uint16_t y, uint16_t w, uint16_t h, uint8_t codec, uint8_t quality,
                      const uint8_t *data, size_t len) {
        StripSink *s = userdata;
        check(s->n < ELEMENTSOF(s->x) && codec == DISPLAY_CODEC_LOSSLESS);
        s->x[s->n] = x;
        s->y[s->n] = y;
        s->w[s->n] = w;
        s->h[s->n] = h;
        lossless_header(data, len, &s->mode[s->n], &s->colours[s->n]);
        s->n++;
        return check_sink(&s->check, x, y, w, h, codec, quality, data, len);
}

/* Cell (cx, cy) of a 256x128 frame: `n` colours from `base` on in runs of 8 pixels, so that it is
 * not continuous-tone (0: noise). */
static void paint_cell(uint32_t *pix, unsigned cx, unsigned cy, unsigned n, uint32_t base) {
        for (uint32_t y = 0; y < 64; y++)
                for (uint32_t x = 0; x < 64; x++) {
                        uint32_t k = n ? ((y * 64 + x) / 8) % n : 0;
                        pix[(cy * 64 + y) * 256 + cx * 64 + x] =
                                0xff000000u | (n ? (base + k * 0x010203u) & 0xffffff : rng() & 0xffffff);
                }
}

static void test_strips(void) {
        static const struct {
                unsigned colours[4]; /* per cell of both rows, 0: noise */
                bool same_rows;      /* the second row of cells has the first's colours, else others */
                unsigned tiles;
                struct {
                        unsigned x, y, w, h, palette; /* palette 0: gradient */
                } t[6];
        } cases[] = {
                /* 100 + 100 fit, a third 100 would not: two strips of two cells, with the row below. */
                { { 100, 100, 100, 100 }, true, 2, { { 0, 0, 128, 128, 200 }, { 128, 0, 128, 128, 200 } } },
                /* The same, but the row below has other colours: it does not join (400 colours). */
                { { 100, 100, 100, 100 },
                  false,
                  4,
                  { { 0, 0, 128, 64, 200 }, { 128, 0, 128, 64, 200 }, { 0, 64, 128, 64, 200 }, { 128, 64, 128, 64, 200 } } },
                /* A first cell of many colours alone (gradient, one a row); the rest one strip. */
                { { 0, 3, 3, 3 }, true, 3, { { 0, 0, 64, 64, 0 }, { 0, 64, 64, 64, 0 }, { 64, 0, 192, 128, 9 } } },
                /* A strip of one cell when the next overflows it; that one alone, then a strip. */
                { { 3, 0, 5, 5 },
                  true,
                  4,
                  { { 0, 0, 64, 128, 3 }, { 64, 0, 64, 64, 0 }, { 64, 64, 64, 64, 0 }, { 128, 0, 128, 128, 10 } } },
        };
        _cleanup_(encoder_freep) Encoder *e = encoder_new();
        check(e);
        EncoderSettings lossless = encoder_settings_default();
        lossless.lossless_only = true;
        uint32_t *pix = malloc(256 * 128 * 4);
        check(pix);

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                for (unsigned cy = 0; cy < 2; cy++)
                        for (unsigned cx = 0; cx < 4; cx++)
                                paint_cell(pix, cx, cy, cases[i].colours[cx],
                                           0x100000u * (cx + 1) + (cy && !cases[i].same_rows ? 0x80u : 0));
                Framebuffer *fb = fb_from(pix, 256, 128);
                StripSink s = {};
                check(check_sink_init(&s.check, 256, 128) == 0);
                Region r = whole(fb);
                encoder_reset(e);
                check(encoder_encode(e, fb, &r, &lossless, strip_sink, &s) == (int) cases[i].tiles);
                check(s.n == cases[i].tiles && !s.check.overlap && !s.check.bad_tile);
                check(check_diff(fb, &s.check.view, full(fb)) == 0);
                /* Pass one emits palette tiles at once, gradient ones in pass two: match by place. */
                for (unsigned t = 0; t < s.n; t++) {
                        unsigned j = 0;
                        while (j < cases[i].tiles && (cases[i].t[j].x != s.x[t] || cases[i].t[j].y != s.y[t]))
                                j++;
                        check(j < cases[i].tiles && s.w[t] == cases[i].t[j].w && s.h[t] == cases[i].t[j].h);
                        if (cases[i].t[j].palette == 0)
                                check(s.mode[t] == LOSSLESS_GRADIENT);
                        else
                                check(s.mode[t] != LOSSLESS_GRADIENT && s.colours[t] == cases[i].t[j].palette);
                }
                region_done(&r);
                check_sink_done(&s.check);
                framebuffer_free(fb);
        }
        free(pix);
}

/* One colour: a single merged solid tile per 256x256; neighbours of other colours stay apart. */
static void test_solid_merging(void) {
        uint32_t w = 600, h = 300;
        uint32_t *pix = malloc((size_t) w * h * 4);
        check(pix);
        for (uint32_t i = 0; i < w * h; i++)
                pix[i] = 0xff000000u | ((i % w) < 320 ? 0x336699u : 0x996633u);
        Framebuffer *fb = fb_from(pix, w, h);
        _cleanup_(encoder_freep) Encoder *e = encoder_new();
        check(e);
        CheckSink c;
        check(check_sink_init(&c, w, h) == 0);
        EncoderSettings s = encoder_settings_default();
        encode_all(e, fb, &s, &c);
        check(c.tiles[DISPLAY_CODEC_SOLID] == c.tiles[1] && c.tiles[DISPLAY_CODEC_LOSSLESS] == 0);
        /* columns 0-319 (5 cells: 256 + 64 wide) and 320-599 (5 cells, last 24 px: 256 + 24)
         * by rows 0-255 and 256-299: 2 x 2 x 2 rectangles. */
        check(c.tiles[DISPLAY_CODEC_SOLID] == 8);
        check(check_diff(fb, &c.view, full(fb)) == 0);
        check_sink_done(&c);
        framebuffer_free(fb);
        free(pix);
}

/* JPEG on a photo: PSNR at the defaults (q80 4:2:0), merged tiles, then refine makes it exact. */
static void test_photo_jpeg_and_refine(void) {
        ContentFrames photo = {};
        check(content_synthesize(CONTENT_PHOTO, &photo) == 0);
        Framebuffer *fb = fb_from_frame(&photo.frames[0]);
        _cleanup_(encoder_freep) Encoder *e = encoder_new();
        check(e);
        CheckSink c;
        check(check_sink_init(&c, fb->width, fb->height) == 0);
        c.source = fb;
        EncoderSettings s = encoder_settings_default();
        check(s.quality == 80 && s.subsampling == 2);
        encode_all(e, fb, &s, &c);

        double pixels = (double) fb->width * fb->height;
        check(c.pixels[DISPLAY_CODEC_JPEG] >= 0.9 * pixels); /* classification: a photo is JPEG */
        double psnr_jpeg = check_psnr(c.sse[DISPLAY_CODEC_JPEG], 3.0 * (double) c.pixels[DISPLAY_CODEC_JPEG]);
        double psnr = check_psnr(check_sse(fb, &c.view), 3 * pixels);
        fprintf(stderr, "synthetic photo: %.2f dB over JPEG tiles (%llu tiles, %.0f px per tile), %.2f dB frame\n",
                psnr_jpeg, (unsigned long long) c.tiles[DISPLAY_CODEC_JPEG],
                (double) c.pixels[DISPLAY_CODEC_JPEG] / (double) c.tiles[DISPLAY_CODEC_JPEG], psnr);
        check(psnr_jpeg >= 38.0);
        /* Merged: most JPEG tiles are bigger than a grid cell. */
        check((double) c.pixels[DISPLAY_CODEC_JPEG] / (double) c.tiles[DISPLAY_CODEC_JPEG] > 4 * 64 * 64);

        check(encoder_has_lossy(e));
        check(encoder_lossy_count(e) > 0);
        check_sink_new_call(&c);
        int n = encoder_refine(e, fb, NULL, check_sink, &c);
        check(n > 0 && !c.overlap && !c.bad_tile);
        check(!encoder_has_lossy(e) && encoder_lossy_count(e) == 0);
        check(check_diff(fb, &c.view, full(fb)) == 0);
        /* Nothing left to refine. */
        check(encoder_refine(e, fb, NULL, check_sink, &c) == 0);

        check_sink_done(&c);
        framebuffer_free(fb);
        content_frames_done(&photo);
}

/* Refine skips what changed after the lossy send; encoding the change updates the bookkeeping;
 * the remaining lossy areas are refined later, and in the end everything is exact. */
static void test_refine_after_change(void) {
        uint32_t w = 512, h = 256;
        uint32_t *pix = paint_noise(w, h);
        Framebuffer *fb = fb_from(pix, w, h);
        _cleanup_(encoder_freep) Encoder *e = encoder_new();
        check(e);
        CheckSink c;
        check(check_sink_init(&c, w, h) == 0);
        EncoderSettings s = encoder_settings_default();
        encode_all(e, fb, &s, &c);
        check(c.tiles[DISPLAY_CODEC_JPEG] > 0 && encoder_lossy_count(e) == 8 * 4);

        /* New noise in (100,30)-(300,90), not encoded yet: pending. */
        uint32_t *patch = paint_noise(200, 60);
        check(framebuffer_update(fb, 100, 30, 200, 60, 200 * 4, FB_FORMAT_X8R8G8B8, (const uint8_t *) patch,
                                 200 * 60 * 4) == 0);
        Region pending = {};
        check(region_add(&pending, (Rect) { 100, 30, 200, 60 }) == 0);

        check_sink_new_call(&c);
        int n = encoder_refine(e, fb, &pending, check_sink, &c);
        /* Cells overlapping the pending change (columns 1-4, rows 0-1) are skipped. */
        check(n == 8 * 4 - 4 * 2);
        for (int32_t y = 0; y < 128; y++)
                for (int32_t x = 64; x < 320; x++)
                        check(!c.covered[(size_t) y * w + (size_t) x]);
        check(encoder_lossy_count(e) == 8);

        /* The pending change is encoded (lossy again: it is noise); then refined. */
        check_sink_new_call(&c);
        check(encoder_encode(e, fb, &pending, &s, check_sink, &c) > 0);
        check(!c.overlap && !c.bad_tile);
        check_sink_new_call(&c);
        check(encoder_refine(e, fb, NULL, check_sink, &c) > 0);
        check(!encoder_has_lossy(e));
        check(check_diff(fb, &c.view, full(fb)) == 0);

        region_done(&pending);
        free(patch);
        check_sink_done(&c);
        framebuffer_free(fb);
        free(pix);
}

/* A lossy cell partly re-sent exactly keeps the rest pending; fully re-sent, it is done. */
static void test_partial_bookkeeping(void) {
        uint32_t *pix = paint_noise(128, 64);
        Framebuffer *fb = fb_from(pix, 128, 64);
        _cleanup_(encoder_freep) Encoder *e = encoder_new();
        check(e);
        CheckSink c;
        check(check_sink_init(&c, 128, 64) == 0);
        EncoderSettings s = encoder_settings_default();
        encode_all(e, fb, &s, &c);
        check(encoder_lossy_count(e) == 2);

        EncoderSettings lossless = s;
        lossless.lossless_only = true;
        Region r = {};
        check(region_add(&r, (Rect) { 0, 0, 128, 20 }) == 0); /* a band at the top of both cells */
        check_sink_new_call(&c);
        check(encoder_encode(e, fb, &r, &lossless, check_sink, &c) == 1); /* one gradient tile across both */
        check(encoder_lossy_count(e) == 2); /* the rest of each cell is still lossy */
        check(region_set(&r, (Rect) { 0, 0, 64, 64 }) == 0);
        check_sink_new_call(&c);
        check(encoder_encode(e, fb, &r, &lossless, check_sink, &c) == 1);
        check(encoder_lossy_count(e) == 1);

        /* Only the band 20..63 of the second cell is refined. */
        check_sink_new_call(&c);
        check(encoder_refine(e, fb, NULL, check_sink, &c) == 1);
        check(c.covered[64] == 0 && c.covered[(size_t) 20 * 128 + 64] == 1);
        check(check_diff(fb, &c.view, full(fb)) == 0);

        region_done(&r);
        check_sink_done(&c);
        framebuffer_free(fb);
        free(pix);
}

/* Text and UI are exact right away (no JPEG); tiles cover the region and only it, per cell. */
static void test_classification_text_ui(void) {
        for (ContentSet set = CONTENT_TEXT; set <= CONTENT_UI; set++) {
                ContentFrames frames = {};
                check(content_synthesize(set, &frames) == 0);
                for (size_t i = 0; i < frames.n; i++) {
                        Framebuffer *fb = fb_from_frame(&frames.frames[i]);
                        _cleanup_(encoder_freep) Encoder *e = encoder_new();
                        check(e);
                        CheckSink c;
                        check(check_sink_init(&c, fb->width, fb->height) == 0);
                        EncoderSettings s = encoder_settings_default();
                        encode_all(e, fb, &s, &c);
                        fprintf(stderr, "%s: %llu solid, %llu lossless, %llu jpeg tiles; %llu bytes\n",
                                frames.frames[i].name, (unsigned long long) c.tiles[1], (unsigned long long) c.tiles[2],
                                (unsigned long long) c.tiles[3],
                                (unsigned long long) (c.bytes[1] + c.bytes[2] + c.bytes[3]));
                        check(c.tiles[DISPLAY_CODEC_JPEG] == 0);
                        check(!encoder_has_lossy(e));
                        check(check_diff(fb, &c.view, full(fb)) == 0);
                        check_sink_done(&c);
                        framebuffer_free(fb);
                }
                content_frames_done(&frames);
        }
}

/* A small region: only the bounding box of the change in each cell is sent. */
static void test_region_tiles(void) {
        ContentFrames ui = {};
        check(content_synthesize(CONTENT_UI, &ui) == 0);
        Framebuffer *fb = fb_from_frame(&ui.frames[0]);
        _cleanup_(encoder_freep) Encoder *e = encoder_new();
        check(e);
        CheckSink c;
        check(check_sink_init(&c, fb->width, fb->height) == 0);
        EncoderSettings s = encoder_settings_default();

        Region r = {};
        check(region_add(&r, (Rect) { 120, 140, 9, 16 }) == 0);   /* a text cell across a grid line */
        check(region_add(&r, (Rect) { 1900, 1070, 100, 100 }) == 0); /* clipped at the corner */
        check(region_add(&r, (Rect) { -50, -50, 10, 10 }) == 0);    /* outside: nothing */
        check_sink_new_call(&c);
        int n = encoder_encode(e, fb, &r, &s, check_sink, &c);
        check(n == 2 && !c.overlap && !c.bad_tile); /* the two halves of the text cell are one strip */
        uint64_t covered = 0;
        for (size_t i = 0; i < (size_t) fb->width * fb->height; i++)
                covered += c.covered[i];
        check(covered == 9 * 16 + 20 * 10);
        check(check_diff(fb, &c.view, (Rect) { 120, 140, 9, 16 }) == 0);

        /* Empty and NULL-free regions emit nothing. */
        Region empty = {};
        check(encoder_encode(e, fb, &empty, &s, check_sink, &c) == 0);

        /* A bad setting is refused before anything is sent. */
        EncoderSettings bad = s;
        bad.quality = 0;
        check(encoder_encode(e, fb, &r, &bad, check_sink, &c) == -EINVAL);
        bad = s;
        bad.subsampling = 4;
        check(encoder_encode(e, fb, &r, &bad, check_sink, &c) == -EINVAL);

        region_done(&r);
        check_sink_done(&c);
        framebuffer_free(fb);
        content_frames_done(&ui);
}

/* The sink's error stops the encoder and comes back; a mode change forgets lossy areas. */
static void test_errors_and_reset(void) {
        uint32_t *pix = paint_noise(512, 512);
        Framebuffer *fb = fb_from(pix, 512, 512);
        _cleanup_(encoder_freep) Encoder *e = encoder_new();
        check(e);
        CheckSink c;
        check(check_sink_init(&c, 512, 512) == 0);
        EncoderSettings s = encoder_settings_default();
        Region r = whole(fb);

        c.fail_at = 2;
        check(encoder_encode(e, fb, &r, &s, check_sink, &c) == -EPIPE);
        c.fail_at = 0;
        check_sink_new_call(&c);
        check(encoder_encode(e, fb, &r, &s, check_sink, &c) > 0);
        check(encoder_has_lossy(e));
        c.fail_at = c.seen + 1;
        check(encoder_refine(e, fb, NULL, check_sink, &c) == -EPIPE);
        check(encoder_has_lossy(e));
        c.fail_at = 0;

        encoder_reset(e);
        check(!encoder_has_lossy(e));
        check(encoder_refine(e, fb, NULL, check_sink, &c) == 0);

        /* A new mode (as after a Scanout) forgets what the old one had lossy. */
        check_sink_new_call(&c);
        check(encoder_encode(e, fb, &r, &s, check_sink, &c) > 0);
        check(encoder_has_lossy(e));
        Framebuffer *other = fb_from(pix, 256, 256);
        check(encoder_refine(e, other, NULL, check_sink, &c) == 0);
        check(!encoder_has_lossy(e));

        /* Before any Scanout. */
        Framebuffer *blank = framebuffer_new();
        check(blank);
        check(encoder_encode(e, blank, &r, &s, check_sink, &c) == -ENODATA);
        check(encoder_refine(e, blank, NULL, check_sink, &c) == -ENODATA);

        EncoderStats st;
        encoder_get_stats(e, &st);
        check(st.tiles[DISPLAY_CODEC_JPEG] > 0 && st.bytes[DISPLAY_CODEC_JPEG] > 0);
        encoder_reset_stats(e);
        encoder_get_stats(e, &st);
        check(st.tiles[DISPLAY_CODEC_JPEG] == 0);

        check(!encoder_free(NULL));
        framebuffer_free(blank);
        framebuffer_free(other);
        region_done(&r);
        check_sink_done(&c);
        framebuffer_free(fb);
        free(pix);
}

int main(void) {
        test_tile_modes();
        test_encoder_lossless_exact();
        test_strips();
        test_solid_merging();
        test_photo_jpeg_and_refine();
        test_refine_after_change();
        test_partial_bookkeeping();
        test_classification_text_ui();
        test_region_tiles();
        test_errors_and_reset();
        return 0;
}
