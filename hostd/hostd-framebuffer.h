/* The framebuffer of one console, fed by QEMU's D-Bus display listener (Scanout, Update,
 * Disable). Whatever format QEMU's surface has, pixels are kept as x8r8g8b8: 32 bits per pixel,
 * bytes B,G,R,X in memory, tightly packed (stride == width * 4), X always 0xff so the buffer is
 * also a valid opaque a8r8g8b8 and identical content gives identical bytes (tile hashing,
 * memcmp). Everything that changed since the consumer last cleared it is in `dirty`.
 *
 * Surfaces arrive in QEMU's native byte order; hostd runs on the same host, which must be little
 * endian (checked at build time). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "region.h"

/* pixman's format codes, computed as pixman does: bpp<<24 | type<<16 | a<<12 | r<<8 | g<<4 | b.
 * (Spelled differently from pixman.h's PIXMAN_FORMAT so both can be included.) */
#define FB_PIXMAN_CODE(bpp, type, a, r, g, b) \
        (((uint32_t) (bpp) << 24) | ((type) << 16) | ((a) << 12) | ((r) << 8) | ((g) << 4) | (b))
#define FB_PIXMAN_TYPE_ARGB 2
#define FB_PIXMAN_TYPE_ABGR 3
#define FB_PIXMAN_TYPE_BGRA 8
#define FB_PIXMAN_TYPE_RGBA 9

#define FB_FORMAT_X8R8G8B8 FB_PIXMAN_CODE(32, FB_PIXMAN_TYPE_ARGB, 0, 8, 8, 8) /* 0x20020888 */
#define FB_FORMAT_A8R8G8B8 FB_PIXMAN_CODE(32, FB_PIXMAN_TYPE_ARGB, 8, 8, 8, 8) /* 0x20028888 */
#define FB_FORMAT_X8B8G8R8 FB_PIXMAN_CODE(32, FB_PIXMAN_TYPE_ABGR, 0, 8, 8, 8) /* 0x20030888 */
#define FB_FORMAT_A8B8G8R8 FB_PIXMAN_CODE(32, FB_PIXMAN_TYPE_ABGR, 8, 8, 8, 8) /* 0x20038888 */
#define FB_FORMAT_B8G8R8X8 FB_PIXMAN_CODE(32, FB_PIXMAN_TYPE_BGRA, 0, 8, 8, 8) /* 0x20080888 */
#define FB_FORMAT_B8G8R8A8 FB_PIXMAN_CODE(32, FB_PIXMAN_TYPE_BGRA, 8, 8, 8, 8) /* 0x20088888 */
#define FB_FORMAT_R8G8B8X8 FB_PIXMAN_CODE(32, FB_PIXMAN_TYPE_RGBA, 0, 8, 8, 8) /* 0x20090888 */
#define FB_FORMAT_R8G8B8A8 FB_PIXMAN_CODE(32, FB_PIXMAN_TYPE_RGBA, 8, 8, 8, 8) /* 0x20098888 */
#define FB_FORMAT_R8G8B8 FB_PIXMAN_CODE(24, FB_PIXMAN_TYPE_ARGB, 0, 8, 8, 8)   /* 0x18020888 */
#define FB_FORMAT_B8G8R8 FB_PIXMAN_CODE(24, FB_PIXMAN_TYPE_ABGR, 0, 8, 8, 8)   /* 0x18030888 */
#define FB_FORMAT_R5G6B5 FB_PIXMAN_CODE(16, FB_PIXMAN_TYPE_ARGB, 0, 5, 6, 5)   /* 0x10020565 */
#define FB_FORMAT_X1R5G5B5 FB_PIXMAN_CODE(16, FB_PIXMAN_TYPE_ARGB, 0, 5, 5, 5) /* 0x10020555 */

/* Largest mode: 16384 on a side and 64 Mpix (256 MiB) in all, which holds 8K UHD
 * (7680x4320) with room; a guest cannot make hostd allocate more per console. */
#define FRAMEBUFFER_MAX_DIM 16384u
#define FRAMEBUFFER_MAX_PIXELS (64u * 1024u * 1024u)

typedef struct Framebuffer {
        uint32_t width, height, stride; /* 0x0 until the first Scanout */
        uint8_t *pixels;                /* NULL until the first Scanout */
        Region dirty;                   /* the consumer clears it once it has sent the pixels */
        uint64_t updates;               /* bumped by every change of the pixels */
} Framebuffer;

Framebuffer *framebuffer_new(void);
Framebuffer *framebuffer_free(Framebuffer *fb);
DEFINE_TRIVIAL_CLEANUP_FUNC(Framebuffer *, framebuffer_free);

/* The formats QEMU's VGA, bochs and virtio-gpu surfaces can have on a little-endian host. */
bool framebuffer_format_supported(uint32_t pixman_format);
/* "x8r8g8b8", ..., or NULL when unsupported. */
const char *framebuffer_format_name(uint32_t pixman_format);
/* Bytes per pixel (2, 3 or 4), or 0 when unsupported. */
unsigned framebuffer_format_bytes(uint32_t pixman_format);

/* A new mode and its full contents; marks everything dirty. Returns 0, -EINVAL (size 0 or over
 * the caps, stride shorter than a row), -EOPNOTSUPP (format), -EBADMSG (data shorter than
 * stride * (h - 1) + one row) or -ENOMEM. On error the framebuffer is unchanged. */
int framebuffer_scanout(Framebuffer *fb, uint32_t w, uint32_t h, uint32_t stride, uint32_t format,
                        const uint8_t *data, size_t len);

/* New contents of the rectangle (x,y,w,h) of the current mode; data starts at its top-left pixel.
 * Only rows whose pixels actually change are marked dirty and bump `updates`; an update that
 * changes nothing leaves both alone. Empty (w or h 0) is a no-op returning 0. Returns -ERANGE (negative, or not inside the mode:
 * also before any Scanout), -EOPNOTSUPP, -EINVAL (stride shorter than a row), -EBADMSG (data too
 * short) or -ENOMEM; on error nothing is applied. */
int framebuffer_update(Framebuffer *fb, int32_t x, int32_t y, int32_t w, int32_t h, uint32_t stride,
                       uint32_t format, const uint8_t *data, size_t len);

/* The console lost its surface. We keep the mode, paint it black and mark it all dirty, so
 * viewers show black rather than a frozen screen; the next Scanout brings contents back. A no-op
 * before the first Scanout. */
void framebuffer_disable(Framebuffer *fb);

/* Binary PPM (P6, maxval 255), written atomically (temporary file beside path, then rename) and
 * created 0600. Returns 0, -ENODATA before the first Scanout, or a negative errno. */
int framebuffer_write_ppm(const Framebuffer *fb, const char *path);

/* Packed RGB24 rows (width * 3 bytes, no padding), as in virDomainScreenshot's PPM. len must be at
 * least width * height * 3. Returns 0, -ENODATA before the first Scanout, or -ENOBUFS. */
int framebuffer_to_rgb(const Framebuffer *fb, uint8_t *out, size_t len);
