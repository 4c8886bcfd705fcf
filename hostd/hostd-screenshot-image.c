#include "hostd-screenshot-image.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "ppm.h"

void image_scratch_done(ImageScratch *s) {
        free(s->data);
        *s = (ImageScratch) {};
}

static int scratch_reserve(ImageScratch *s, size_t size) {
        if (s->size >= size)
                return 0;
        uint8_t *p = realloc(s->data, size);
        if (!p)
                return -ENOMEM;
        s->data = p;
        s->size = size;
        return 0;
}

typedef struct PngSource {
        const uint8_t *data;
        size_t len, pos;
} PngSource;

static void png_read_memory(png_structp png, png_bytep out, png_size_t n) {
        PngSource *src = png_get_io_ptr(png);
        if (n > src->len - src->pos)
                png_error(png, "truncated");
        memcpy(out, src->data + src->pos, n);
        src->pos += n;
}

/* Errors are returned, not printed: the image comes from a guest-facing process. */
static void png_quiet_warning(png_structp png, png_const_charp msg) {
}

static void png_quiet_error(png_structp png, png_const_charp msg) {
        png_longjmp(png, 1);
}

static int decode_png(const uint8_t *data, size_t len, ImageScratch *scratch, uint32_t *width, uint32_t *height) {
        PngSource src = { data, len, 0 };
        png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, png_quiet_error, png_quiet_warning);
        png_infop info = NULL;
        png_bytep *volatile rows = NULL;
        volatile int r = -EBADMSG;

        if (!png)
                return -ENOMEM;
        info = png_create_info_struct(png);
        if (!info) {
                png_destroy_read_struct(&png, NULL, NULL);
                return -ENOMEM;
        }
        if (setjmp(png_jmpbuf(png))) {
                free(rows);
                png_destroy_read_struct(&png, &info, NULL);
                return r;
        }
        png_set_user_limits(png, SCREENSHOT_MAX_DIM, SCREENSHOT_MAX_DIM);
        png_set_read_fn(png, &src, png_read_memory);
        png_read_info(png, info);

        uint32_t w = png_get_image_width(png, info), h = png_get_image_height(png, info);
        int color = png_get_color_type(png, info);
        if ((uint64_t) w * h > SCREENSHOT_MAX_PIXELS) {
                r = -E2BIG;
                png_error(png, "too large");
        }
        /* Whatever QEMU chose, make it 8-bit RGB. */
        png_set_strip_16(png);
        png_set_packing(png);
        if (color == PNG_COLOR_TYPE_PALETTE)
                png_set_palette_to_rgb(png);
        if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) {
                png_set_expand_gray_1_2_4_to_8(png);
                png_set_gray_to_rgb(png);
        }
        png_set_strip_alpha(png);
        png_set_interlace_handling(png);
        png_read_update_info(png, info);
        if (png_get_rowbytes(png, info) != (size_t) w * 3)
                png_error(png, "unexpected row size");

        if (scratch_reserve(scratch, (size_t) w * h * 3) < 0 || !(rows = malloc(sizeof(png_bytep) * h))) {
                r = -ENOMEM;
                png_error(png, "out of memory");
        }
        for (uint32_t y = 0; y < h; y++)
                rows[y] = scratch->data + (size_t) y * w * 3;
        png_read_image(png, rows);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        *width = w;
        *height = h;
        return 0;
}

int screenshot_image_decode(const uint8_t *data, size_t len, ImageScratch *scratch, uint32_t *width,
                            uint32_t *height, const uint8_t **rgb) {
        static const uint8_t png_magic[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

        if (len >= 2 && data[0] == 'P' && data[1] == '6')
                return ppm_parse(data, len, width, height, rgb);
        if (len < sizeof(png_magic) || memcmp(data, png_magic, sizeof(png_magic)) != 0)
                return -EOPNOTSUPP;
        int r = decode_png(data, len, scratch, width, height);
        if (r < 0)
                return r;
        *rgb = scratch->data;
        return 0;
}
