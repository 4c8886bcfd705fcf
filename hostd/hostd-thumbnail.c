/* Thumbnails: an area-averaging (box) downscale into a packed BGR buffer, then TurboJPEG.
 * Each output pixel averages the whole block of source pixels that maps onto it, so text and
 * thin lines fade instead of flickering in and out as they would with point sampling. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "atomic-file.h"
#include "hostd-thumbnail.h"

struct Thumbnailer {
        tjhandle tj;
        uint8_t *image; /* scaled BGR */
        size_t image_size;
        uint64_t *sums; /* B,G,R sums of one output row; 64-bit: a box can hold 2^26 pixels */
        uint32_t *xmap; /* output column i covers source columns xmap[i] .. xmap[i+1]-1 */
        size_t columns; /* of sums and xmap */
        unsigned char *jpeg;
        unsigned long jpeg_size;
};

Thumbnailer *thumbnailer_new(void) {
        Thumbnailer *t = calloc(1, sizeof(Thumbnailer));
        if (!t)
                return NULL;
        t->tj = tjInitCompress();
        if (!t->tj)
                return thumbnailer_free(t);
        return t;
}

Thumbnailer *thumbnailer_free(Thumbnailer *t) {
        if (!t)
                return NULL;
        if (t->tj)
                tjDestroy(t->tj);
        free(t->image);
        free(t->sums);
        free(t->xmap);
        tjFree(t->jpeg);
        free(t);
        return NULL;
}

/* Grows the scratch buffers for a dw x dh output; on failure the old ones stay. */
static int thumbnailer_reserve(Thumbnailer *t, uint32_t dw, uint32_t dh) {
        if (t->columns < dw) {
                uint64_t *s = realloc(t->sums, (size_t) dw * 3 * sizeof(uint64_t));
                if (!s)
                        return -ENOMEM;
                t->sums = s;
                uint32_t *x = realloc(t->xmap, ((size_t) dw + 1) * sizeof(uint32_t));
                if (!x)
                        return -ENOMEM;
                t->xmap = x;
                t->columns = dw;
        }
        size_t image = (size_t) dw * dh * 3;
        if (t->image_size < image) {
                uint8_t *p = realloc(t->image, image);
                if (!p)
                        return -ENOMEM;
                t->image = p;
                t->image_size = image;
        }
        return 0;
}

static void downscale(Thumbnailer *t, const Framebuffer *fb, uint32_t dw, uint32_t dh) {
        uint32_t sw = fb->width, sh = fb->height;

        for (uint32_t i = 0; i <= dw; i++)
                t->xmap[i] = (uint32_t) ((uint64_t) i * sw / dw);

        for (uint32_t oy = 0; oy < dh; oy++) {
                uint32_t y0 = (uint32_t) ((uint64_t) oy * sh / dh), y1 = (uint32_t) ((uint64_t) (oy + 1) * sh / dh);
                uint64_t *sums = t->sums;
                memset(sums, 0, (size_t) dw * 3 * sizeof(uint64_t));

                for (uint32_t sy = y0; sy < y1; sy++) {
                        const uint8_t *row = fb->pixels + (size_t) sy * fb->stride;
                        for (uint32_t ox = 0; ox < dw; ox++) {
                                uint64_t b = 0, g = 0, r = 0;
                                for (uint32_t sx = t->xmap[ox]; sx < t->xmap[ox + 1]; sx++) {
                                        b += row[4 * sx + 0];
                                        g += row[4 * sx + 1];
                                        r += row[4 * sx + 2];
                                }
                                sums[3 * ox + 0] += b;
                                sums[3 * ox + 1] += g;
                                sums[3 * ox + 2] += r;
                        }
                }

                uint8_t *out = t->image + (size_t) oy * dw * 3;
                for (uint32_t ox = 0; ox < dw; ox++) {
                        uint64_t count = (uint64_t) (y1 - y0) * (t->xmap[ox + 1] - t->xmap[ox]);
                        for (int c = 0; c < 3; c++)
                                out[3 * ox + c] = (uint8_t) ((sums[3 * ox + c] + count / 2) / count);
                }
        }
}

int thumbnailer_encode(Thumbnailer *t, const Framebuffer *fb, unsigned max_width, int quality,
                       const uint8_t **ret_data, size_t *ret_size) {
        if (!fb->pixels)
                return -ENODATA;
        if (max_width == 0 || quality < 1 || quality > 100)
                return -EINVAL;

        uint32_t sw = fb->width, sh = fb->height, dw = sw, dh = sh;
        if (sw > max_width) {
                dw = max_width;
                /* Rounded; dw < sw keeps dh <= sh, so every output row has a source row. */
                dh = (uint32_t) MAX((uint64_t) 1, ((uint64_t) sh * dw + sw / 2) / sw);
        }

        const uint8_t *src = fb->pixels;
        int pitch = (int) fb->stride, format = TJPF_BGRX;
        if (dw != sw) {
                int r = thumbnailer_reserve(t, dw, dh);
                if (r < 0)
                        return r;
                downscale(t, fb, dw, dh);
                src = t->image;
                pitch = (int) dw * 3;
                format = TJPF_BGR;
        }

        /* Worst case size up front, so TurboJPEG never reallocates behind our back. */
        unsigned long need = tjBufSize((int) dw, (int) dh, TJSAMP_420);
        if (need == (unsigned long) -1)
                return -EINVAL;
        if (t->jpeg_size < need) {
                unsigned char *j = tjAlloc((int) need);
                if (!j)
                        return -ENOMEM;
                tjFree(t->jpeg);
                t->jpeg = j;
                t->jpeg_size = need;
        }

        unsigned long size = t->jpeg_size;
        unsigned char *jpeg = t->jpeg;
        if (tjCompress2(t->tj, src, (int) dw, pitch, (int) dh, format, &jpeg, &size, TJSAMP_420, quality,
                        TJFLAG_NOREALLOC) < 0)
                return -EIO;

        *ret_data = jpeg;
        *ret_size = size;
        return 0;
}

int thumbnailer_write(Thumbnailer *t, const Framebuffer *fb, unsigned max_width, int quality, const char *path) {
        const uint8_t *data;
        size_t size;
        int r = thumbnailer_encode(t, fb, max_width, quality, &data, &size);
        if (r < 0)
                return r;
        return write_file_atomic(path, data, size);
}
