#include "viewer-image.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "atomic-file.h"
#include "macro.h"

int image_format_from_string(const char *s, ImageFormat *ret) {
        if (strcmp(s, "png") == 0)
                *ret = IMAGE_FORMAT_PNG;
        else if (strcmp(s, "ppm") == 0)
                *ret = IMAGE_FORMAT_PPM;
        else
                return -EINVAL;
        return 0;
}

const char *image_format_extension(ImageFormat format) {
        return format == IMAGE_FORMAT_PPM ? "ppm" : "png";
}

static int has_suffix(const char *s, const char *suffix) {
        size_t n = strlen(s), m = strlen(suffix);
        return n >= m && strcmp(s + n - m, suffix) == 0;
}

ImageFormat image_format_for_path(const char *path, ImageFormat fallback) {
        if (has_suffix(path, ".ppm"))
                return IMAGE_FORMAT_PPM;
        if (has_suffix(path, ".png"))
                return IMAGE_FORMAT_PNG;
        return fallback;
}

/* x8r8g8b8 (B,G,R,X in memory) to packed RGB. */
static void row_to_rgb(const uint8_t *src, uint32_t width, uint8_t *dst) {
        for (uint32_t x = 0; x < width; x++, src += 4, dst += 3) {
                dst[0] = src[2];
                dst[1] = src[1];
                dst[2] = src[0];
        }
}

static int write_ppm(const ClientFramebuffer *fb, AtomicFile *f) {
        char header[64];
        int n = snprintf(header, sizeof(header), "P6\n%u %u\n255\n", fb->width, fb->height);
        int r = atomic_file_write(f, header, (size_t) n);
        if (r < 0)
                return r;

        _cleanup_(freep) uint8_t *row = malloc((size_t) fb->width * 3);
        if (!row)
                return -ENOMEM;
        for (uint32_t y = 0; y < fb->height; y++) {
                row_to_rgb(fb->pixels + (size_t) y * fb->stride, fb->width, row);
                r = atomic_file_write(f, row, (size_t) fb->width * 3);
                if (r < 0)
                        return r;
        }
        return 0;
}

typedef struct PngSink {
        AtomicFile *file;
        int error;
} PngSink;

static void png_write_sink(png_structp png, png_bytep data, png_size_t len) {
        PngSink *sink = png_get_io_ptr(png);
        int r = atomic_file_write(sink->file, data, len);
        if (r < 0) {
                sink->error = r;
                png_error(png, "write failed");
        }
}

static void png_flush_sink(png_structp png) {
}

/* Errors come back as return values; libpng must not print. */
static void png_quiet_error(png_structp png, png_const_charp msg) {
        png_longjmp(png, 1);
}

static void png_quiet_warning(png_structp png, png_const_charp msg) {
}

static int write_png(const ClientFramebuffer *fb, AtomicFile *f) {
        PngSink sink = { .file = f };
        png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_quiet_error, png_quiet_warning);
        png_infop info = NULL;
        uint8_t *volatile row = NULL;

        if (!png)
                return -ENOMEM;
        info = png_create_info_struct(png);
        if (!info) {
                png_destroy_write_struct(&png, NULL);
                return -ENOMEM;
        }
        if (setjmp(png_jmpbuf(png))) {
                free(row);
                png_destroy_write_struct(&png, &info);
                return sink.error < 0 ? sink.error : -EIO;
        }
        row = malloc((size_t) fb->width * 3);
        if (!row)
                png_error(png, "out of memory");
        png_set_write_fn(png, &sink, png_write_sink, png_flush_sink);
        /* A filmstrip writes many frames while the session runs: favour speed over size. Screen
         * content compresses well with the SUB filter even at level 1. */
        png_set_compression_level(png, Z_BEST_SPEED);
        png_set_filter(png, 0, PNG_FILTER_SUB);
        png_set_IHDR(png, info, fb->width, fb->height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_write_info(png, info);
        for (uint32_t y = 0; y < fb->height; y++) {
                row_to_rgb(fb->pixels + (size_t) y * fb->stride, fb->width, row);
                png_write_row(png, row);
        }
        png_write_end(png, NULL);
        free(row);
        png_destroy_write_struct(&png, &info);
        return 0;
}

int image_write(const ClientFramebuffer *fb, ImageFormat format, const char *path) {
        _cleanup_(atomic_file_done) AtomicFile f = ATOMIC_FILE_INIT;

        if (!fb || !fb->pixels || fb->width == 0 || fb->height == 0)
                return -ENODATA;
        if (fb->stride / 4 < fb->width)
                return -EINVAL;
        int r = atomic_file_open(&f, path);
        if (r < 0)
                return r;
        r = format == IMAGE_FORMAT_PPM ? write_ppm(fb, &f) : write_png(fb, &f);
        if (r < 0)
                return r;
        return atomic_file_commit(&f);
}
