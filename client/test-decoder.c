/* The decoder on hand-made tiles: what it accepts draws exactly, everything malformed is refused
 * with the framebuffer left as it was. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>
#include <zstd.h>

#include "check.h"
#include "decoder-internal.h"
#include "decoder.h"
#include "display-codec.h"

#define FB_W 100
#define FB_H 80

static Decoder *d;
static ClientFramebuffer fb;
static uint8_t *before;

static void snapshot(void) {
        memcpy(before, fb.pixels, (size_t) FB_W * FB_H * 4);
}

/* Applies a tile that must be refused with `want`, leaving the framebuffer untouched. */
static void refused(int want, uint16_t x, uint16_t y, uint16_t w, uint16_t h, uint8_t codec, const uint8_t *data,
                    size_t len) {
        snapshot();
        int r = decoder_apply(d, &fb, x, y, w, h, codec, data, len);
        if (r != want)
                fprintf(stderr, "decoder_apply: got %d, want %d\n", r, want);
        check(r == want);
        check(memcmp(before, fb.pixels, (size_t) FB_W * FB_H * 4) == 0);
}

static uint32_t px(uint32_t x, uint32_t y) {
        return ((uint32_t *) fb.pixels)[(size_t) y * FB_W + x];
}

/* A zstd frame (content size declared) of content. */
static size_t zframe(const uint8_t *content, size_t n, uint8_t *out, size_t cap) {
        size_t r = ZSTD_compress(out, cap, content, n, 1);
        check(!ZSTD_isError(r));
        return r;
}

static uint8_t content[1 << 18], frame[1 << 18];

/* A palette tile's content: mode, n-1, n colours i*0x102030. */
static size_t palette_header(uint8_t mode, unsigned n) {
        content[0] = mode;
        content[1] = (uint8_t) (n - 1);
        for (unsigned i = 0; i < n; i++) {
                content[2 + 3 * i] = (uint8_t) (i * 0x10);
                content[3 + 3 * i] = (uint8_t) (i * 0x20);
                content[4 + 3 * i] = (uint8_t) (i * 0x30);
        }
        return 2 + 3 * n;
}

static void test_framebuffer(void) {
        ClientFramebuffer f = {};
        check(client_framebuffer_resize(&f, 0, 10) == -EINVAL);
        check(client_framebuffer_resize(&f, 16385, 1) == -EINVAL);
        check(client_framebuffer_resize(&f, 16384, 16384) == -EINVAL); /* over 64 Mpix */
        check(!f.pixels);
        check(client_framebuffer_resize(&f, 3, 2) == 0);
        check(f.width == 3 && f.height == 2 && f.stride == 12 && ((uint32_t *) f.pixels)[5] == 0xff000000u);
        client_framebuffer_done(&f);
        check(!f.pixels);
        check(!decoder_free(NULL));
}

static void test_geometry_and_codec(void) {
        const uint8_t rgb[3] = { 1, 2, 3 };
        check(decoder_apply(d, &fb, 10, 20, 30, 40, DISPLAY_CODEC_SOLID, rgb, 3) == 0);
        check(px(10, 20) == 0xff010203u && px(39, 59) == 0xff010203u && px(40, 59) != 0xff010203u);

        refused(-ERANGE, 90, 0, 11, 1, DISPLAY_CODEC_SOLID, rgb, 3); /* one past the right edge */
        refused(-ERANGE, 0, 79, 1, 2, DISPLAY_CODEC_SOLID, rgb, 3);
        refused(-ERANGE, 65535, 65535, 1, 1, DISPLAY_CODEC_SOLID, rgb, 3);
        refused(-EBADMSG, 0, 0, 0, 1, DISPLAY_CODEC_SOLID, rgb, 3);
        refused(-EBADMSG, 0, 0, 1, 0, DISPLAY_CODEC_SOLID, rgb, 3);
        refused(-EBADMSG, 0, 0, 257, 1, DISPLAY_CODEC_SOLID, rgb, 3);
        refused(-EOPNOTSUPP, 0, 0, 1, 1, 0, rgb, 3);
        refused(-EOPNOTSUPP, 0, 0, 1, 1, 4, rgb, 3);
        refused(-EOPNOTSUPP, 0, 0, 1, 1, 255, rgb, 3);
        refused(-EBADMSG, 0, 0, 1, 1, DISPLAY_CODEC_SOLID, rgb, 2);
        refused(-EBADMSG, 0, 0, 1, 1, DISPLAY_CODEC_SOLID, (const uint8_t[4]) { 1, 2, 3, 4 }, 4);
        refused(-EBADMSG, 0, 0, 1, 1, DISPLAY_CODEC_LOSSLESS, NULL, 0);
        refused(-EBADMSG, 0, 0, 1, 1, DISPLAY_CODEC_JPEG, NULL, 0);

        ClientFramebuffer none = {};
        check(decoder_apply(d, &none, 0, 0, 1, 1, DISPLAY_CODEC_SOLID, rgb, 3) == -ERANGE);
}

static void test_lossless(void) {
        /* Raw 2x2, exactly sized: accepted and drawn. */
        const uint8_t raw[] = { LOSSLESS_RAW, 255, 0, 0, 0, 255, 0, 0, 0, 255, 1, 2, 3 };
        size_t n = zframe(raw, sizeof(raw), frame, sizeof(frame));
        check(decoder_apply(d, &fb, 50, 50, 2, 2, DISPLAY_CODEC_LOSSLESS, frame, n) == 0);
        check(px(50, 50) == 0xffff0000u && px(51, 50) == 0xff00ff00u && px(50, 51) == 0xff0000ffu &&
              px(51, 51) == 0xff010203u);

        /* Content one byte short or long for the tile. */
        n = zframe(raw, sizeof(raw) - 1, frame, sizeof(frame));
        refused(-EBADMSG, 0, 0, 2, 2, DISPLAY_CODEC_LOSSLESS, frame, n);
        uint8_t longer[sizeof(raw) + 1] = {};
        memcpy(longer, raw, sizeof(raw));
        n = zframe(longer, sizeof(longer), frame, sizeof(frame));
        refused(-EBADMSG, 0, 0, 2, 2, DISPLAY_CODEC_LOSSLESS, frame, n);
        /* Right content for another size. */
        n = zframe(raw, sizeof(raw), frame, sizeof(frame));
        refused(-EBADMSG, 0, 0, 3, 1, DISPLAY_CODEC_LOSSLESS, frame, n);
        refused(-EBADMSG, 0, 0, 1, 3, DISPLAY_CODEC_LOSSLESS, frame, n);

        /* Truncated frames, trailing bytes, two frames, corrupt headers. */
        for (size_t cut = 1; cut < n; cut++)
                refused(-EBADMSG, 0, 0, 2, 2, DISPLAY_CODEC_LOSSLESS, frame, n - cut);
        uint8_t two[512];
        memcpy(two, frame, n);
        memcpy(two + n, frame, n);
        refused(-EBADMSG, 0, 0, 2, 2, DISPLAY_CODEC_LOSSLESS, two, n + 1);
        refused(-EBADMSG, 0, 0, 2, 2, DISPLAY_CODEC_LOSSLESS, two, 2 * n);
        uint8_t bad[512];
        memcpy(bad, frame, n);
        bad[0] ^= 0xff; /* magic */
        refused(-EBADMSG, 0, 0, 2, 2, DISPLAY_CODEC_LOSSLESS, bad, n);
        memcpy(bad, frame, n);
        bad[4] |= 0x08; /* reserved bit of the frame header descriptor */
        refused(-EBADMSG, 0, 0, 2, 2, DISPLAY_CODEC_LOSSLESS, bad, n);
        memcpy(bad, frame, n);
        /* The frame header's size from its descriptor (RFC 8878 3.1.1.1). */
        uint8_t fhd = frame[4];
        bool single = fhd & 0x20;
        size_t fh = 5 + !single + (size_t[]) { 0, 1, 2, 4 }[fhd & 3] + (size_t[]) { single, 2, 4, 8 }[fhd >> 6];
        check(fh < n);
        bad[fh] |= 0x06; /* the first block's type: reserved */
        refused(-EBADMSG, 0, 0, 2, 2, DISPLAY_CODEC_LOSSLESS, bad, n);

        /* A skippable frame alone. */
        const uint8_t skippable[] = { 0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4 };
        refused(-EBADMSG, 0, 0, 2, 2, DISPLAY_CODEC_LOSSLESS, skippable, sizeof(skippable));

        /* A frame without a declared content size. */
        ZSTD_CCtx *cc = ZSTD_createCCtx();
        check(cc);
        check(!ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0)));
        ZSTD_outBuffer out = { frame, sizeof(frame), 0 };
        ZSTD_inBuffer in = { raw, sizeof(raw), 0 };
        check(ZSTD_compressStream2(cc, &out, &in, ZSTD_e_end) == 0);
        check(ZSTD_getFrameContentSize(frame, out.pos) == ZSTD_CONTENTSIZE_UNKNOWN);
        refused(-EBADMSG, 0, 0, 2, 2, DISPLAY_CODEC_LOSSLESS, frame, out.pos);
        ZSTD_freeCCtx(cc);

        /* A frame claiming more content than a tile of its size can hold: refused from the
         * header (this one would even be a valid raw tile of a bigger size). */
        memset(content, 0, sizeof(content));
        size_t big = lossless_content_max(16, 16) + 1;
        n = zframe(content, big, frame, sizeof(frame));
        refused(-EBADMSG, 0, 0, 16, 16, DISPLAY_CODEC_LOSSLESS, frame, n);
        /* Even one claiming the maximum of the largest tile, far beyond a 1x1 one. */
        n = zframe(content, lossless_content_max(256, 256), frame, sizeof(frame));
        refused(-EBADMSG, 0, 0, 1, 1, DISPLAY_CODEC_LOSSLESS, frame, n);

        /* Unknown mode. */
        const uint8_t mode4[] = { 4, 0, 0, 0 };
        n = zframe(mode4, sizeof(mode4), frame, sizeof(frame));
        refused(-EBADMSG, 0, 0, 1, 1, DISPLAY_CODEC_LOSSLESS, frame, n);
}

static void test_palette(void) {
        /* 3 colours, 2 bits, 5x2: rows of 2 bytes. */
        size_t h = palette_header(LOSSLESS_PALETTE, 3);
        const uint8_t rows[] = { 0x1b, 0x00, 0x90, 0x40 }; /* 0 1 2 3 0 | 2 1 0 0 1: index 3 */
        memcpy(content + h, rows, sizeof(rows));
        size_t n = zframe(content, h + sizeof(rows), frame, sizeof(frame));
        refused(-EBADMSG, 0, 0, 5, 2, DISPLAY_CODEC_LOSSLESS, frame, n); /* index 3 of 3 colours */

        const uint8_t ok[] = { 0x18, 0x00, 0x90, 0x40 }; /* 0 1 2 0 0 | 2 1 0 0 1 */
        memcpy(content + h, ok, sizeof(ok));
        n = zframe(content, h + sizeof(ok), frame, sizeof(frame));
        check(decoder_apply(d, &fb, 0, 0, 5, 2, DISPLAY_CODEC_LOSSLESS, frame, n) == 0);
        check(px(0, 0) == 0xff000000u && px(1, 0) == 0xff102030u && px(2, 0) == 0xff204060u && px(3, 0) == 0xff000000u);
        check(px(0, 1) == 0xff204060u && px(1, 1) == 0xff102030u && px(4, 1) == 0xff102030u);
        /* Padding bits are ignored. */
        content[h + 1] = 0x3f;
        n = zframe(content, h + sizeof(ok), frame, sizeof(frame));
        check(decoder_apply(d, &fb, 0, 0, 5, 2, DISPLAY_CODEC_LOSSLESS, frame, n) == 0);
        /* Rows short by a byte, or a palette cut off. */
        n = zframe(content, h + sizeof(ok) - 1, frame, sizeof(frame));
        refused(-EBADMSG, 0, 0, 5, 2, DISPLAY_CODEC_LOSSLESS, frame, n);
        n = zframe(content, 2 + 3 * 2, frame, sizeof(frame));
        refused(-EBADMSG, 0, 0, 1, 1, DISPLAY_CODEC_LOSSLESS, frame, n);

        /* 200 colours, 8 bits: an index of 200 is out of range. */
        h = palette_header(LOSSLESS_PALETTE, 200);
        content[h] = 199;
        content[h + 1] = 200;
        n = zframe(content, h + 2, frame, sizeof(frame));
        refused(-EBADMSG, 0, 0, 2, 1, DISPLAY_CODEC_LOSSLESS, frame, n);
        content[h + 1] = 0;
        n = zframe(content, h + 2, frame, sizeof(frame));
        check(decoder_apply(d, &fb, 0, 0, 2, 1, DISPLAY_CODEC_LOSSLESS, frame, n) == 0);
}

static void test_palette_rle(void) {
        size_t h = palette_header(LOSSLESS_PALETTE_RLE, 2);
        /* 10x10: 130 (two-byte length 129) + ... of 100 pixels: too long. */
        const uint8_t too_long[] = { 0, 0x81, 0x01 };
        memcpy(content + h, too_long, sizeof(too_long));
        size_t n = zframe(content, h + sizeof(too_long), frame, sizeof(frame));
        refused(-EBADMSG, 0, 0, 10, 10, DISPLAY_CODEC_LOSSLESS, frame, n);

        const uint8_t exact[] = { 0, 39, 1, 59 }; /* 40 of colour 0, 60 of colour 1 */
        memcpy(content + h, exact, sizeof(exact));
        n = zframe(content, h + sizeof(exact), frame, sizeof(frame));
        check(decoder_apply(d, &fb, 0, 0, 10, 10, DISPLAY_CODEC_LOSSLESS, frame, n) == 0);
        check(px(9, 3) == 0xff000000u && px(0, 4) == 0xff102030u && px(9, 9) == 0xff102030u);

        const uint8_t short_runs[] = { 0, 39, 1, 58 };
        memcpy(content + h, short_runs, sizeof(short_runs));
        n = zframe(content, h + sizeof(short_runs), frame, sizeof(frame));
        refused(-EBADMSG, 0, 0, 10, 10, DISPLAY_CODEC_LOSSLESS, frame, n);

        const uint8_t bad_index[] = { 0, 39, 2, 59 };
        memcpy(content + h, bad_index, sizeof(bad_index));
        n = zframe(content, h + sizeof(bad_index), frame, sizeof(frame));
        refused(-EBADMSG, 0, 0, 10, 10, DISPLAY_CODEC_LOSSLESS, frame, n);

        const uint8_t after[] = { 0, 39, 1, 59, 0 }; /* a byte after the last run */
        memcpy(content + h, after, sizeof(after));
        n = zframe(content, h + sizeof(after), frame, sizeof(frame));
        refused(-EBADMSG, 0, 0, 10, 10, DISPLAY_CODEC_LOSSLESS, frame, n);

        const uint8_t cut[] = { 0, 39, 1, 0xbb }; /* the length's continuation missing */
        memcpy(content + h, cut, sizeof(cut));
        n = zframe(content, h + sizeof(cut), frame, sizeof(frame));
        refused(-EBADMSG, 0, 0, 10, 10, DISPLAY_CODEC_LOSSLESS, frame, n);

        const uint8_t overlong[] = { 0, 39, 1, 0xbb, 0x00 }; /* 59 in two bytes: not minimal */
        memcpy(content + h, overlong, sizeof(overlong));
        n = zframe(content, h + sizeof(overlong), frame, sizeof(frame));
        refused(-EBADMSG, 0, 0, 10, 10, DISPLAY_CODEC_LOSSLESS, frame, n);

        const uint8_t four[] = { 0, 0xff, 0xff, 0xff, 0x01 }; /* a four-byte length */
        memcpy(content + h, four, sizeof(four));
        n = zframe(content, h + sizeof(four), frame, sizeof(frame));
        refused(-EBADMSG, 0, 0, 10, 10, DISPLAY_CODEC_LOSSLESS, frame, n);
}

static size_t make_jpeg(int w, int h, int samp, uint8_t **ret) {
        tjhandle tj = tjInitCompress();
        check(tj);
        uint8_t *rgb = malloc((size_t) w * h * 3);
        check(rgb);
        for (int i = 0; i < w * h * 3; i++)
                rgb[i] = (uint8_t) (i * 7 + i / 13);
        unsigned char *jpeg = NULL;
        unsigned long len = 0;
        check(tjCompress2(tj, rgb, w, 0, h, TJPF_RGB, &jpeg, &len, samp, 80, 0) == 0);
        tjDestroy(tj);
        free(rgb);
        *ret = jpeg;
        return len;
}

static void test_jpeg(void) {
        uint8_t *jpeg;
        size_t n = make_jpeg(24, 16, TJSAMP_420, &jpeg);
        check(jpeg_check_frame(jpeg, n) == 0);
        check(decoder_apply(d, &fb, 1, 2, 24, 16, DISPLAY_CODEC_JPEG, jpeg, n) == 0);
        check((px(1, 2) >> 24) == 0xff && (px(24, 17) >> 24) == 0xff);

        /* Of other dimensions than the tile. */
        refused(-EBADMSG, 0, 0, 16, 24, DISPLAY_CODEC_JPEG, jpeg, n);
        refused(-EBADMSG, 0, 0, 24, 15, DISPLAY_CODEC_JPEG, jpeg, n);
        /* Truncated anywhere. */
        for (size_t cut = 1; cut < n; cut += 7)
                refused(-EBADMSG, 1, 2, 24, 16, DISPLAY_CODEC_JPEG, jpeg, n - cut);
        /* Corrupt: not a JPEG, no SOI, or a progressive frame header. */
        uint8_t *bad = malloc(n);
        check(bad);
        memset(bad, 0x5a, n);
        refused(-EBADMSG, 1, 2, 24, 16, DISPLAY_CODEC_JPEG, bad, n);
        memcpy(bad, jpeg, n);
        bad[1] = 0xd9;
        refused(-EBADMSG, 1, 2, 24, 16, DISPLAY_CODEC_JPEG, bad, n);
        memcpy(bad, jpeg, n);
        uint8_t *sof = memmem(bad, n, (const uint8_t[]) { 0xff, 0xc0 }, 2);
        check(sof);
        sof[1] = 0xc2;
        refused(-EBADMSG, 1, 2, 24, 16, DISPLAY_CODEC_JPEG, bad, n);
        /* A segment length running past the end. */
        memcpy(bad, jpeg, n);
        bad[4] = 0xff;
        bad[5] = 0xff;
        refused(-EBADMSG, 1, 2, 24, 16, DISPLAY_CODEC_JPEG, bad, n);
        /* The entropy-coded data replaced by garbage markers. */
        memcpy(bad, jpeg, n);
        uint8_t *sos = memmem(bad, n, (const uint8_t[]) { 0xff, 0xda }, 2);
        check(sos);
        size_t at = (size_t) (sos - bad) + 14;
        memset(bad + at, 0xff, n - at - 2);
        refused(-EBADMSG, 1, 2, 24, 16, DISPLAY_CODEC_JPEG, bad, n);
        free(bad);
        tjFree(jpeg);

        /* Grey and 4:4:4 decode too. */
        n = make_jpeg(8, 8, TJSAMP_GRAY, &jpeg);
        check(decoder_apply(d, &fb, 0, 0, 8, 8, DISPLAY_CODEC_JPEG, jpeg, n) == 0);
        tjFree(jpeg);
        n = make_jpeg(16, 16, TJSAMP_444, &jpeg);
        check(decoder_apply(d, &fb, 0, 0, 16, 16, DISPLAY_CODEC_JPEG, jpeg, n) == 0);
        tjFree(jpeg);
}

int main(void) {
        d = decoder_new();
        check(d);
        check(client_framebuffer_resize(&fb, FB_W, FB_H) == 0);
        before = malloc((size_t) FB_W * FB_H * 4);
        check(before);

        test_framebuffer();
        test_geometry_and_codec();
        test_lossless();
        test_palette();
        test_palette_rle();
        test_jpeg();

        free(before);
        client_framebuffer_done(&fb);
        decoder_free(d);
        return 0;
}
