/* Row converters into x8r8g8b8 (memory B,G,R,X with X = 0xff).
 *
 * pixman defines its 32- and 16-bit formats as native-endian words and its 24-bit ones as
 * 3-byte little-endian values on little-endian hosts, so every converter reads a native word and
 * rearranges bits, with no branches or tables. 16-bit channels widen by bit replication
 * (v << 3 | v >> 2 for 5 bits), as pixman does when QEMU makes a screendump, so a 16-bit surface
 * should compare equal with virDomainScreenshot too. */
#include <string.h>

#include "hostd-framebuffer.h"
#include "hostd-pixel-format.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "QEMU sends surfaces in host byte order; the converters assume little endian");

#define OPAQUE 0xff000000u

/* Vectors of four pixels through GCC/clang vector extensions: gcc 12 only auto-vectorizes these
 * loops at -O3, and our default build is -O2. They lower to SSE2 on x86-64 and NEON on arm64. */
typedef uint32_t u32x4 __attribute__((vector_size(16)));
typedef uint16_t u16x4 __attribute__((vector_size(8)));

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

static inline u32x4 load_u32x4(const uint8_t *p) {
        u32x4 v;
        memcpy(&v, p, sizeof(v));
        return v;
}

static inline u32x4 load_u16x4(const uint8_t *p) {
        u16x4 v;
        memcpy(&v, p, sizeof(v));
        return __builtin_convertvector(v, u32x4);
}

static inline void store_u32x4(uint32_t *p, u32x4 v) {
        memcpy(p, &v, sizeof(v));
}

/* A converter from a per-pixel expression PIXEL(v) on a native word v: two vectors of four per
 * iteration (which keeps x8r8g8b8 at memcpy speed), then one, then the last pixels one by one. */
#define DEFINE_CONVERT(name, bytes, vload, sload, PIXEL)                                       \
        static void name(uint32_t *restrict dst, const uint8_t *restrict src, size_t n) {   \
                size_t i = 0;                                                                \
                for (; i + 8 <= n; i += 8) {                                                 \
                        u32x4 v = vload(src + (bytes) * i);                                  \
                        u32x4 w = vload(src + (bytes) * (i + 4));                            \
                        store_u32x4(dst + i, PIXEL(v));                                      \
                        store_u32x4(dst + i + 4, PIXEL(w));                                  \
                }                                                                            \
                for (; i + 4 <= n; i += 4) {                                                 \
                        u32x4 v = vload(src + (bytes) * i);                                  \
                        store_u32x4(dst + i, PIXEL(v));                                      \
                }                                                                            \
                for (; i < n; i++) {                                                         \
                        uint32_t v = sload(src + (bytes) * i);                               \
                        dst[i] = PIXEL(v);                                                   \
                }                                                                            \
        }

/* Words X,R,G,B from high to low already: only X needs setting. */
#define XRGB(v) ((v) | OPAQUE)
/* Words X,B,G,R: swap R and B. */
#define XBGR(v) (OPAQUE | ((v) & 0x0000ff00u) | (((v) & 0xffu) << 16) | (((v) >> 16) & 0xffu))
/* Words B,G,R,X: reverse the bytes (X's place is overwritten). */
#define BGRX(v) (OPAQUE | ((v) >> 24) | (((v) >> 8) & 0x0000ff00u) | (((v) << 8) & 0x00ff0000u))
/* Words R,G,B,X: drop X. */
#define RGBX(v) (((v) >> 8) | OPAQUE)
/* 5- and 6-bit channels widened by replicating their top bits into the new low bits. */
#define R5G6B5(v)                                                                          \
        (OPAQUE | (((v) & 0xf800u) << 8) | (((v) & 0xe000u) << 3) |   /* R */              \
         (((v) & 0x07e0u) << 5) | (((v) & 0x0600u) >> 1) |           /* G */              \
         (((v) & 0x001fu) << 3) | (((v) & 0x001cu) >> 2))             /* B */
#define X1R5G5B5(v)                                                                        \
        (OPAQUE | (((v) & 0x7c00u) << 9) | (((v) & 0x7000u) << 4) |   /* R */              \
         (((v) & 0x03e0u) << 6) | (((v) & 0x0380u) << 1) |           /* G */              \
         (((v) & 0x001fu) << 3) | (((v) & 0x001cu) >> 2))             /* B */

DEFINE_CONVERT(convert_xrgb, 4, load_u32x4, load32, XRGB)
DEFINE_CONVERT(convert_xbgr, 4, load_u32x4, load32, XBGR)
DEFINE_CONVERT(convert_bgrx, 4, load_u32x4, load32, BGRX)
DEFINE_CONVERT(convert_rgbx, 4, load_u32x4, load32, RGBX)
DEFINE_CONVERT(convert_rgb565, 2, load_u16x4, load16, R5G6B5)
DEFINE_CONVERT(convert_xrgb1555, 2, load_u16x4, load16, X1R5G5B5)

/* 24-bit: four pixels are three words, B0G0R0B1 G1R1B2G2 R2B3G3R3 (low byte first) for r8g8b8.
 * Without byte shuffles in baseline SSE2, word arithmetic beats vectors here. */
static void convert_rgb24(uint32_t *restrict dst, const uint8_t *restrict src, size_t n) {
        size_t i = 0;
        for (; i + 4 <= n; i += 4) {
                const uint8_t *s = src + 3 * i;
                uint32_t a = load32(s), b = load32(s + 4), c = load32(s + 8);
                dst[i + 0] = OPAQUE | (a & 0xffffffu);
                dst[i + 1] = OPAQUE | (a >> 24) | ((b & 0xffffu) << 8);
                dst[i + 2] = OPAQUE | (b >> 16) | ((c & 0xffu) << 16);
                dst[i + 3] = OPAQUE | (c >> 8);
        }
        for (; i < n; i++) {
                const uint8_t *s = src + 3 * i;
                dst[i] = OPAQUE | (uint32_t) s[2] << 16 | (uint32_t) s[1] << 8 | s[0];
        }
}

/* b8g8r8: bytes R,G,B; as above, then R and B swapped. */
static void convert_bgr24(uint32_t *restrict dst, const uint8_t *restrict src, size_t n) {
        convert_rgb24(dst, src, n);
        for (size_t i = 0; i < n; i++) {
                uint32_t v = dst[i];
                dst[i] = XBGR(v);
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
