/* Screenshot decoding: PNG and PPM give the same RGB rows; broken or oversized PNGs are refused. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "hostd-screenshot-image.h"

static size_t put_chunk(uint8_t *out, const char *type, const uint8_t *data, uint32_t len) {
        uint8_t *p = out;
        p[0] = len >> 24, p[1] = len >> 16, p[2] = len >> 8, p[3] = len;
        memcpy(p + 4, type, 4);
        if (len)
                memcpy(p + 8, data, len);
        uint32_t crc = (uint32_t) crc32(0, p + 4, len + 4);
        p += 8 + len;
        p[0] = crc >> 24, p[1] = crc >> 16, p[2] = crc >> 8, p[3] = crc;
        return 12 + len;
}

/* An RGB PNG of w x h whose pixel (x, y) is (x, y, x ^ y), filter 0. */
static size_t make_png(uint8_t *out, uint32_t w, uint32_t h, uint32_t claimed_h) {
        static uint8_t raw[1 << 16], z[1 << 17];
        size_t n = 0;
        for (uint32_t y = 0; y < h; y++) {
                raw[n++] = 0;
                for (uint32_t x = 0; x < w; x++) {
                        raw[n++] = (uint8_t) x;
                        raw[n++] = (uint8_t) y;
                        raw[n++] = (uint8_t) (x ^ y);
                }
        }
        uLongf zlen = sizeof(z);
        assert(compress(z, &zlen, raw, n) == Z_OK);
        uint8_t ihdr[13] = { w >> 24, w >> 16, w >> 8, w, claimed_h >> 24, claimed_h >> 16, claimed_h >> 8, claimed_h,
                             8, 2, 0, 0, 0 };
        memcpy(out, "\x89PNG\r\n\x1a\n", 8);
        size_t len = 8;
        len += put_chunk(out + len, "IHDR", ihdr, sizeof(ihdr));
        len += put_chunk(out + len, "IDAT", z, (uint32_t) zlen);
        len += put_chunk(out + len, "IEND", NULL, 0);
        return len;
}

int main(void) {
        static uint8_t png[1 << 17];
        ImageScratch scratch = {};
        uint32_t w = 0, h = 0;
        const uint8_t *rgb;

        size_t len = make_png(png, 37, 21, 21);
        assert(screenshot_image_decode(png, len, &scratch, &w, &h, &rgb) == 0);
        assert(w == 37 && h == 21);
        for (uint32_t y = 0; y < h; y++)
                for (uint32_t x = 0; x < w; x++) {
                        const uint8_t *p = rgb + ((size_t) y * w + x) * 3;
                        assert(p[0] == x && p[1] == y && p[2] == (x ^ y));
                }

        /* The IHDR promises more rows than the data holds. */
        len = make_png(png, 37, 21, 40);
        assert(screenshot_image_decode(png, len, &scratch, &w, &h, &rgb) == -EBADMSG);
        /* Cut short anywhere before the pixels are complete (IEND itself is not needed). */
        len = make_png(png, 37, 21, 21);
        for (size_t cut = 0; cut < len - 12 - 4; cut += 7)
                assert(screenshot_image_decode(png, cut, &scratch, &w, &h, &rgb) < 0);
        /* Beyond the dimension cap. */
        len = make_png(png, 1, 1, 20000);
        assert(screenshot_image_decode(png, len, &scratch, &w, &h, &rgb) < 0);

        static const char ppm[] = "P6\n2 1\n255\nabcdef";
        assert(screenshot_image_decode((const uint8_t *) ppm, sizeof(ppm) - 1, &scratch, &w, &h, &rgb) == 0);
        assert(w == 2 && h == 1 && memcmp(rgb, "abcdef", 6) == 0);
        assert(screenshot_image_decode((const uint8_t *) "GIF89a", 6, &scratch, &w, &h, &rgb) == -EOPNOTSUPP);

        image_scratch_done(&scratch);
        printf("ok\n");
        return 0;
}
