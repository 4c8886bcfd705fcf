/* Framebuffer state: validation of what QEMU sends, conversion into place, dirty tracking, and
 * RGB export. Everything is checked before anything is touched, so errors leave no trace. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic-file.h"
#include "hostd-framebuffer.h"
#include "hostd-pixel-format.h"

Framebuffer *framebuffer_new(void) {
        return calloc(1, sizeof(Framebuffer));
}

Framebuffer *framebuffer_free(Framebuffer *fb) {
        if (!fb)
                return NULL;
        region_done(&fb->dirty);
        free(fb->pixels);
        free(fb);
        return NULL;
}

bool framebuffer_format_supported(uint32_t pixman_format) {
        return fb_format_lookup(pixman_format) != NULL;
}

const char *framebuffer_format_name(uint32_t pixman_format) {
        const FbFormat *f = fb_format_lookup(pixman_format);
        return f ? f->name : NULL;
}

unsigned framebuffer_format_bytes(uint32_t pixman_format) {
        const FbFormat *f = fb_format_lookup(pixman_format);
        return f ? f->bytes : 0;
}

/* Checks stride and length of a w x h block of src in format f (w, h >= 1). */
static int check_source(const FbFormat *f, uint32_t w, uint32_t h, uint32_t stride, size_t len) {
        uint64_t row = (uint64_t) w * f->bytes;
        if (stride < row)
                return -EINVAL;
        /* At most 2^32 * 2^14 + 2^16: no overflow in 64 bits. */
        if ((uint64_t) len < (uint64_t) stride * (h - 1) + row)
                return -EBADMSG;
        return 0;
}

/* Converts a w x h block into the framebuffer at (x, y). All bounds are checked by the caller. */
static void convert_block(Framebuffer *fb, const FbFormat *f, uint32_t x, uint32_t y, uint32_t w, uint32_t h,
                          uint32_t stride, const uint8_t *data) {
        uint8_t *dst = fb->pixels + (size_t) y * fb->stride + (size_t) x * 4;

        /* Full-width block from a tight source: one long row converts faster than many. */
        if (w == fb->width && stride == (uint64_t) w * f->bytes) {
                f->convert((uint32_t *) dst, data, (size_t) w * h);
                return;
        }
        for (uint32_t i = 0; i < h; i++)
                f->convert((uint32_t *) (dst + (size_t) i * fb->stride), data + (size_t) i * stride, w);
}

int framebuffer_scanout(Framebuffer *fb, uint32_t w, uint32_t h, uint32_t stride, uint32_t format,
                        const uint8_t *data, size_t len) {
        if (w == 0 || h == 0 || w > FRAMEBUFFER_MAX_DIM || h > FRAMEBUFFER_MAX_DIM ||
            (uint64_t) w * h > FRAMEBUFFER_MAX_PIXELS)
                return -EINVAL;
        const FbFormat *f = fb_format_lookup(format);
        if (!f)
                return -EOPNOTSUPP;
        int r = check_source(f, w, h, stride, len);
        if (r < 0)
                return r;

        /* Same mode (a plain refresh): reuse the buffer. One row more than the mode holds the
         * scratch row updates are converted into before they are compared. */
        uint8_t *pixels = fb->pixels;
        if (!pixels || w != fb->width || h != fb->height) {
                pixels = malloc((size_t) w * h * 4 + (size_t) w * 4);
                if (!pixels)
                        return -ENOMEM;
        }
        r = region_set(&fb->dirty, (Rect) { 0, 0, (int32_t) w, (int32_t) h });
        if (r < 0) {
                if (pixels != fb->pixels)
                        free(pixels);
                return r;
        }

        if (pixels != fb->pixels) {
                free(fb->pixels);
                fb->pixels = pixels;
        }
        fb->width = w;
        fb->height = h;
        fb->stride = w * 4;
        convert_block(fb, f, 0, 0, w, h, stride, data);
        fb->updates++;
        return 0;
}

int framebuffer_update(Framebuffer *fb, int32_t x, int32_t y, int32_t w, int32_t h, uint32_t stride,
                       uint32_t format, const uint8_t *data, size_t len) {
        if (x < 0 || y < 0 || w < 0 || h < 0)
                return -ERANGE;
        if (w == 0 || h == 0)
                return 0;
        /* In 64 bits: x + w cannot wrap. */
        if ((int64_t) x + w > fb->width || (int64_t) y + h > fb->height)
                return -ERANGE;
        const FbFormat *f = fb_format_lookup(format);
        if (!f)
                return -EOPNOTSUPP;
        int r = check_source(f, (uint32_t) w, (uint32_t) h, stride, len);
        if (r < 0)
                return r;

        /* QEMU re-sends unchanged rectangles (about 30 a second per console in VGA text mode, even
         * with the guest paused): convert each row aside and keep only the rows that differ, so an
         * unchanged screen stays clean and costs nothing downstream. */
        uint32_t *scratch = (uint32_t *) (fb->pixels + (size_t) fb->width * fb->height * 4);
        uint8_t *dst = fb->pixels + (size_t) y * fb->stride + (size_t) x * 4;
        size_t row = (size_t) w * 4;
        int32_t first = -1, last = -1;
        for (int32_t i = 0; i < h; i++, dst += fb->stride) {
                f->convert(scratch, data + (size_t) i * stride, (size_t) w);
                if (memcmp(dst, scratch, row) == 0)
                        continue;
                memcpy(dst, scratch, row);
                if (first < 0)
                        first = i;
                last = i;
        }
        if (first < 0)
                return 0;
        /* The pixels changed already: if the region cannot grow, mark everything (a Scanout
         * reserved the memory for that). */
        if (region_add(&fb->dirty, (Rect) { x, y + first, w, last - first + 1 }) < 0)
                (void) region_set(&fb->dirty, (Rect) { 0, 0, (int32_t) fb->width, (int32_t) fb->height });
        fb->updates++;
        return 0;
}

void framebuffer_disable(Framebuffer *fb) {
        if (!fb->pixels)
                return;
        uint32_t *p = (uint32_t *) fb->pixels;
        for (size_t i = 0, n = (size_t) fb->width * fb->height; i < n; i++)
                p[i] = 0xff000000u;
        /* Cannot fail: the Scanout that made pixels reserved the region's memory. */
        (void) region_set(&fb->dirty, (Rect) { 0, 0, (int32_t) fb->width, (int32_t) fb->height });
        fb->updates++;
}

static void row_to_rgb(const uint8_t *restrict src, uint8_t *restrict out, size_t n) {
        for (size_t i = 0; i < n; i++) {
                out[3 * i + 0] = src[4 * i + 2];
                out[3 * i + 1] = src[4 * i + 1];
                out[3 * i + 2] = src[4 * i + 0];
        }
}

int framebuffer_to_rgb(const Framebuffer *fb, uint8_t *out, size_t len) {
        if (!fb->pixels)
                return -ENODATA;
        size_t row = (size_t) fb->width * 3;
        if (len / row < fb->height)
                return -ENOBUFS;
        row_to_rgb(fb->pixels, out, (size_t) fb->width * fb->height);
        return 0;
}

int framebuffer_write_ppm(const Framebuffer *fb, const char *path) {
        if (!fb->pixels)
                return -ENODATA;

        char header[64];
        int n = snprintf(header, sizeof(header), "P6\n%u %u\n255\n", fb->width, fb->height);
        if (n < 0 || (size_t) n >= sizeof(header))
                return -EINVAL;

        /* Converted in chunks of rows: a few hundred KiB at most, whatever the mode. */
        size_t row = (size_t) fb->width * 3;
        size_t rows = MAX((size_t) 1, (size_t) (256 * 1024) / row);
        rows = MIN(rows, (size_t) fb->height);
        _cleanup_(freep) uint8_t *buf = malloc(rows * row);
        if (!buf)
                return -ENOMEM;

        _cleanup_(atomic_file_done) AtomicFile f = ATOMIC_FILE_INIT;
        int r = atomic_file_open(&f, path);
        if (r < 0)
                return r;
        r = atomic_file_write(&f, header, (size_t) n);
        if (r < 0)
                return r;
        for (uint32_t y = 0; y < fb->height; y += (uint32_t) rows) {
                size_t k = MIN(rows, (size_t) (fb->height - y));
                row_to_rgb(fb->pixels + (size_t) y * fb->stride, buf, k * fb->width);
                r = atomic_file_write(&f, buf, k * row);
                if (r < 0)
                        return r;
        }
        return atomic_file_commit(&f);
}
