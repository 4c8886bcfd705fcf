/* Row converters into x8r8g8b8 (memory B,G,R,X with X = 0xff).
 *
 * pixman defines its 32- and 16-bit formats as native-endian words and its 24-bit ones as
 * 3-byte little-endian values on little-endian hosts, so every converter reads a native word and
 * rearranges bits. They are written as plain loops over whole pixels, with no branches or tables,
 * so that gcc and clang vectorize them at -O2. 16-bit channels widen by bit replication
 * (v << 3 | v >> 2 for 5 bits), as pixman does when QEMU makes a screendump, so a 16-bit surface
 * should compare equal with virDomainScreenshot too. */
#include <string.h>

#include "hostd-framebuffer.h"
#include "hostd-pixel-format.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "QEMU sends surfaces in host byte order; the converters assume little endian");

#define OPAQUE 0xff000000u

static inline uint32_t load32(const uint8_t *p) {
        uint32_t v;
        memcpy(&v, p, sizeof(v));
        return v;
}

static inline uint16_t load16(const uint8_t *p) {
        uint16_t v;
        memcpy(&v, p, sizeof(v));
        return v;
}

/* Words X,R,G,B from high to low already: only X needs setting. */
static void convert_xrgb(uint32_t *restrict dst, const uint8_t *restrict src, size_t n) {
        for (size_t i = 0; i < n; i++)
                dst[i] = load32(src + 4 * i) | OPAQUE;
}

/* Words X,B,G,R: swap R and B. */
static void convert_xbgr(uint32_t *restrict dst, const uint8_t *restrict src, size_t n) {
        for (size_t i = 0; i < n; i++) {
                uint32_t v = load32(src + 4 * i);
                dst[i] = OPAQUE | (v & 0x0000ff00u) | ((v & 0xffu) << 16) | ((v >> 16) & 0xffu);
        }
}

/* Words B,G,R,X: reverse the bytes. */
static void convert_bgrx(uint32_t *restrict dst, const uint8_t *restrict src, size_t n) {
        for (size_t i = 0; i < n; i++)
                dst[i] = __builtin_bswap32(load32(src + 4 * i)) | OPAQUE;
}

/* Words R,G,B,X: drop X. */
static void convert_rgbx(uint32_t *restrict dst, const uint8_t *restrict src, size_t n) {
        for (size_t i = 0; i < n; i++)
                dst[i] = (load32(src + 4 * i) >> 8) | OPAQUE;
}

/* r8g8b8: bytes B,G,R. */
static void convert_rgb24(uint32_t *restrict dst, const uint8_t *restrict src, size_t n) {
        for (size_t i = 0; i < n; i++) {
                const uint8_t *s = src + 3 * i;
                dst[i] = OPAQUE | (uint32_t) s[2] << 16 | (uint32_t) s[1] << 8 | s[0];
        }
}

/* b8g8r8: bytes R,G,B. */
static void convert_bgr24(uint32_t *restrict dst, const uint8_t *restrict src, size_t n) {
        for (size_t i = 0; i < n; i++) {
                const uint8_t *s = src + 3 * i;
                dst[i] = OPAQUE | (uint32_t) s[0] << 16 | (uint32_t) s[1] << 8 | s[2];
        }
}

static void convert_rgb565(uint32_t *restrict dst, const uint8_t *restrict src, size_t n) {
        for (size_t i = 0; i < n; i++) {
                uint32_t v = load16(src + 2 * i);
                uint32_t r = v >> 11, g = (v >> 5) & 0x3f, b = v & 0x1f;
                r = (r << 3) | (r >> 2);
                g = (g << 2) | (g >> 4);
                b = (b << 3) | (b >> 2);
                dst[i] = OPAQUE | r << 16 | g << 8 | b;
        }
}

static void convert_xrgb1555(uint32_t *restrict dst, const uint8_t *restrict src, size_t n) {
        for (size_t i = 0; i < n; i++) {
                uint32_t v = load16(src + 2 * i);
                uint32_t r = (v >> 10) & 0x1f, g = (v >> 5) & 0x1f, b = v & 0x1f;
                r = (r << 3) | (r >> 2);
                g = (g << 3) | (g >> 2);
                b = (b << 3) | (b >> 2);
                dst[i] = OPAQUE | r << 16 | g << 8 | b;
        }
}

static const FbFormat formats[] = {
        /* Most used first: QEMU's VGA and bochs surfaces are x8r8g8b8. */
        { FB_FORMAT_X8R8G8B8, "x8r8g8b8", 4, convert_xrgb },
        { FB_FORMAT_A8R8G8B8, "a8r8g8b8", 4, convert_xrgb },
        { FB_FORMAT_X8B8G8R8, "x8b8g8r8", 4, convert_xbgr },
        { FB_FORMAT_A8B8G8R8, "a8b8g8r8", 4, convert_xbgr },
        { FB_FORMAT_B8G8R8X8, "b8g8r8x8", 4, convert_bgrx },
        { FB_FORMAT_B8G8R8A8, "b8g8r8a8", 4, convert_bgrx },
        { FB_FORMAT_R8G8B8X8, "r8g8b8x8", 4, convert_rgbx },
        /* virtio-gpu's A8B8G8R8_UNORM is pixman's BE r8g8b8a8, so this one on little endian. */
        { FB_FORMAT_R8G8B8A8, "r8g8b8a8", 4, convert_rgbx },
        { FB_FORMAT_R8G8B8, "r8g8b8", 3, convert_rgb24 },
        { FB_FORMAT_B8G8R8, "b8g8r8", 3, convert_bgr24 },
        { FB_FORMAT_R5G6B5, "r5g6b5", 2, convert_rgb565 },
        { FB_FORMAT_X1R5G5B5, "x1r5g5b5", 2, convert_xrgb1555 },
};

const FbFormat *fb_format_lookup(uint32_t code) {
        for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
                if (formats[i].code == code)
                        return &formats[i];
        return NULL;
}
