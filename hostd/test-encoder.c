/* The encoder's own parts, without a decoder: the lossy map's arithmetic and the tile scan.
 * (Round trips through the viewer's decoder are in client/test-codec.c.) */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hostd-encoder-lossy.h"
#include "hostd-encoder.h"
#include "hostd-tile.h"

static bool rect_eq(Rect a, Rect b) {
        return a.x == b.x && a.y == b.y && a.w == b.w && a.h == b.h;
}

static void test_lossy_map(void) {
        LossyMap m = {};
        check(lossy_map_reset(&m, 200, 100) == 0);
        check(m.cols == 4 && m.rows == 2 && m.count == 0);

        /* A rectangle over four cells leaves its part in each. */
        lossy_map_add(&m, (Rect) { 50, 50, 30, 30 });
        check(m.count == 4);
        check(rect_eq(lossy_map_cell(&m, 0), (Rect) { 50, 50, 14, 14 }));
        check(rect_eq(lossy_map_cell(&m, 5), (Rect) { 64, 64, 16, 16 }));
        /* Adding in a cell grows its box. */
        lossy_map_add(&m, (Rect) { 10, 10, 5, 5 });
        check(m.count == 4 && rect_eq(lossy_map_cell(&m, 0), (Rect) { 10, 10, 54, 54 }));
        /* Clipped to the mode. */
        lossy_map_add(&m, (Rect) { 192, 90, 50, 50 });
        check(m.count == 5 && rect_eq(lossy_map_cell(&m, 7), (Rect) { 192, 90, 8, 10 }));

        /* Exact sends: a band at the top shrinks the box, one in the middle leaves it, covering
         * all of it clears it. */
        lossy_map_subtract(&m, (Rect) { 0, 0, 64, 20 });
        check(rect_eq(lossy_map_cell(&m, 0), (Rect) { 10, 20, 54, 44 }));
        lossy_map_subtract(&m, (Rect) { 0, 30, 64, 5 });
        check(rect_eq(lossy_map_cell(&m, 0), (Rect) { 10, 20, 54, 44 }));
        lossy_map_subtract(&m, (Rect) { 40, 0, 24, 64 }); /* right band */
        check(rect_eq(lossy_map_cell(&m, 0), (Rect) { 10, 20, 30, 44 }));
        lossy_map_subtract(&m, (Rect) { 0, 0, 20, 64 }); /* left band */
        check(rect_eq(lossy_map_cell(&m, 0), (Rect) { 20, 20, 20, 44 }));
        lossy_map_subtract(&m, (Rect) { 0, 50, 64, 14 }); /* bottom band */
        check(rect_eq(lossy_map_cell(&m, 0), (Rect) { 20, 20, 20, 30 }));
        lossy_map_subtract(&m, (Rect) { 25, 25, 5, 5 }); /* a hole: over-approximated */
        check(rect_eq(lossy_map_cell(&m, 0), (Rect) { 20, 20, 20, 30 }));
        check(m.count == 5);
        lossy_map_subtract(&m, (Rect) { 0, 0, 200, 100 });
        check(m.count == 0);
        for (size_t i = 0; i < 8; i++)
                check(rect_is_empty(lossy_map_cell(&m, i)));

        /* Out of the mode: ignored. */
        lossy_map_add(&m, (Rect) { 300, 300, 10, 10 });
        lossy_map_subtract(&m, (Rect) { -10, -10, 5, 5 });
        check(m.count == 0);

        /* A new mode forgets; growing reallocates. */
        lossy_map_add(&m, (Rect) { 0, 0, 200, 100 });
        check(m.count == 8);
        check(lossy_map_reset(&m, 1920, 1080) == 0);
        check(m.count == 0 && m.cols == 30 && m.rows == 17);
        lossy_map_done(&m);
}

static void test_scan(void) {
        _cleanup_(lossless_encoder_freep) LosslessEncoder *l = lossless_encoder_new();
        check(l);
        enum { W = 64, H = 64 };
        static uint32_t pix[W * H];
        TileScan s;

        for (size_t i = 0; i < W * H; i++)
                pix[i] = 0xff123456u;
        lossless_scan(l, (const uint8_t *) pix, W * 4, W, H, &s);
        check(s.colours == 1 && s.runs == 1 && s.first == 0x123456u);

        /* Colours are whole pixels: an X byte other than 0xff (never in hostd's framebuffer)
         * makes a second palette entry of the same RGB, which still decodes right. */
        pix[5] = 0x00123456u;
        lossless_scan(l, (const uint8_t *) pix, W * 4, W, H, &s);
        check(s.colours == 2 && s.runs == 3);

        /* Stripes of two colours: runs across rows count once per change. */
        for (size_t i = 0; i < W * H; i++)
                pix[i] = 0xff000000u | ((i / 8) % 2 ? 0xffffffu : 0);
        lossless_scan(l, (const uint8_t *) pix, W * 4, W, H, &s);
        check(s.colours == 2 && s.runs == W * H / 8);

        /* 256 colours fit, 257 do not; then runs are counted only until they show the tile is not
         * mostly flat. */
        for (size_t i = 0; i < W * H; i++)
                pix[i] = 0xff000000u | (uint32_t) (i / 16 % 256) * 0x010101u;
        lossless_scan(l, (const uint8_t *) pix, W * 4, W, H, &s);
        check(s.colours == 256 && s.runs == W * H / 16);
        pix[100] = 0xff000000u | 0xfedcbau;
        lossless_scan(l, (const uint8_t *) pix, W * 4, W, H, &s);
        check(s.colours == 0);
        /* 256 colours changing at every pixel: seen as a photo a quarter of the way in. */
        for (size_t i = 0; i < W * H; i++)
                pix[i] = 0xff000000u | (uint32_t) (i % 256) * 0x010101u;
        lossless_scan(l, (const uint8_t *) pix, W * 4, W, H, &s);
        check(s.colours == 0 && s.runs > TILE_SCAN_RUNS_ENOUGH(W, H) && s.runs <= W * H);
        check(lossless_scan_palette(l, (const uint8_t *) pix, W * 4, W, H, &s) && s.colours == 256);
        /* Mostly flat with 257 colours: all runs counted. */
        for (size_t i = 0; i < W * H; i++)
                pix[i] = 0xff000000u | (i < 257 ? (uint32_t) i : 0x777777u);
        lossless_scan(l, (const uint8_t *) pix, W * 4, W, H, &s);
        check(s.colours == 0 && s.runs == 258);

        /* A stride wider than the tile: only the tile is looked at. */
        static uint32_t wide[2 * W * H];
        for (size_t i = 0; i < 2 * W * H; i++)
                wide[i] = 0xff000000u | ((i % (2 * W)) < W ? 0x111111u : (uint32_t) i);
        lossless_scan(l, (const uint8_t *) wide, 2 * W * 4, W, H, &s);
        check(s.colours == 1);

        /* After a scan the colour table is empty again: a fresh scan of new colours finds all. */
        for (size_t i = 0; i < W * H; i++)
                pix[i] = 0xff000000u | (uint32_t) (i % 3) * 0x404040u;
        lossless_scan(l, (const uint8_t *) pix, W * 4, W, H, &s);
        check(s.colours == 3);
}

static void test_settings(void) {
        EncoderSettings s = encoder_settings_default();
        check(s.quality == ENCODER_DEFAULT_QUALITY && s.subsampling == ENCODER_DEFAULT_SUBSAMPLING && !s.lossless_only);
        check(!encoder_free(NULL));
}

typedef struct CellCheck {
        unsigned tiles, pixels;
        bool spans;
} CellCheck;

static int cell_check_sink(void *userdata, uint16_t x, uint16_t y, uint16_t w, uint16_t h, uint8_t codec,
                           uint8_t quality, const uint8_t *data, size_t len) {
        CellCheck *c = userdata;
        c->tiles++;
        c->pixels += (unsigned) w * h;
        if (x / ENCODER_CELL != (x + w - 1) / ENCODER_CELL || y / ENCODER_CELL != (y + h - 1) / ENCODER_CELL)
                c->spans = true;
        return 0;
}

/* single_cell keeps every tile inside one grid cell, for solid, lossless and JPEG areas alike;
 * without it the same screen merges into larger tiles. */
static void test_single_cell(void) {
        enum { W = 640, H = 480 };
        uint32_t *pix = malloc((size_t) W * H * 4);
        uint64_t rng = 1;
        for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
                        if (y < 160)
                                pix[y * W + x] = 0x203040; /* solid */
                        else if (y < 320)
                                pix[y * W + x] = (x / 8 % 4) * 0x404040u; /* few colours: lossless */
                        else
                                pix[y * W + x] = (uint32_t) (rng >> 40) & 0xffffffu; /* noise: JPEG */
                }
        Framebuffer *fb = framebuffer_new();
        check(fb);
        check(framebuffer_scanout(fb, W, H, W * 4, FB_FORMAT_X8R8G8B8, (const uint8_t *) pix, (size_t) W * H * 4) == 0);
        Region all;
        region_init(&all);
        check(region_add(&all, (Rect) { 0, 0, W, H }) == 0);
        for (int single = 0; single < 2; single++) {
                Encoder *e = encoder_new();
                EncoderSettings s = encoder_settings_default();
                s.single_cell = single;
                CellCheck c = {};
                check(encoder_encode(e, fb, &all, &s, cell_check_sink, &c) > 0);
                check(c.pixels == W * H);
                check(c.spans == !single);
                if (single)
                        check(c.tiles == (W / ENCODER_CELL) * ((H + ENCODER_CELL - 1) / ENCODER_CELL));
                encoder_free(e);
        }
        region_done(&all);
        framebuffer_free(fb);
        free(pix);
}

int main(void) {
        test_single_cell();
        test_lossy_map();
        test_scan();
        test_settings();
        return 0;
}
