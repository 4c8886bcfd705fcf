/* Screenshots read back: PNG through libpng, PPM through common's parser, with a padded stride
 * and odd sizes; nothing but the image is left in the directory. */
#include <dirent.h>
#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "ppm.h"
#include "viewer-image.h"

static ClientFramebuffer make_fb(uint32_t w, uint32_t h, uint32_t pad) {
        ClientFramebuffer fb = { .width = w, .height = h, .stride = w * 4 + pad };
        fb.pixels = malloc((size_t) fb.stride * h);
        check(fb.pixels);
        memset(fb.pixels, 0xee, (size_t) fb.stride * h); /* padding junk must not leak in */
        for (uint32_t y = 0; y < h; y++)
                for (uint32_t x = 0; x < w; x++) {
                        uint8_t *p = fb.pixels + (size_t) y * fb.stride + x * 4;
                        p[0] = (uint8_t) (x * 7);       /* B */
                        p[1] = (uint8_t) (y * 13);      /* G */
                        p[2] = (uint8_t) (x + y);       /* R */
                        p[3] = 0x55;                    /* X: ignored */
                }
        return fb;
}

static void check_rgb(const ClientFramebuffer *fb, const uint8_t *rgb) {
        for (uint32_t y = 0; y < fb->height; y++)
                for (uint32_t x = 0; x < fb->width; x++) {
                        const uint8_t *s = fb->pixels + (size_t) y * fb->stride + x * 4;
                        const uint8_t *d = rgb + ((size_t) y * fb->width + x) * 3;
                        check(d[0] == s[2] && d[1] == s[1] && d[2] == s[0]);
                }
}

static uint8_t *read_file(const char *path, size_t *len) {
        FILE *f = fopen(path, "rb");
        check(f);
        check(fseek(f, 0, SEEK_END) == 0);
        long n = ftell(f);
        check(n >= 0);
        rewind(f);
        uint8_t *data = malloc((size_t) n + 1);
        check(data);
        check(fread(data, 1, (size_t) n, f) == (size_t) n);
        fclose(f);
        *len = (size_t) n;
        return data;
}

static unsigned count_entries(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;
        unsigned n = 0;
        check(d);
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        n++;
        closedir(d);
        return n;
}

static void test_ppm(const char *dir) {
        ClientFramebuffer fb = make_fb(37, 11, 12);
        char path[512];
        size_t len;
        uint32_t w, h;
        const uint8_t *pixels;

        snprintf(path, sizeof(path), "%s/shot.ppm", dir);
        check(image_write(&fb, IMAGE_FORMAT_PPM, path) == 0);
        uint8_t *data = read_file(path, &len);
        check(ppm_parse(data, len, &w, &h, &pixels) == 0);
        check(w == 37 && h == 11);
        check(pixels + (size_t) w * h * 3 == data + len); /* nothing after the pixels */
        check_rgb(&fb, pixels);
        free(data);

        struct stat st;
        check(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600); /* a user's screen */
        free(fb.pixels);
}

static void test_png(const char *dir) {
        ClientFramebuffer fb = make_fb(640, 3, 0);
        char path[512];

        snprintf(path, sizeof(path), "%s/shot.png", dir);
        check(image_write(&fb, IMAGE_FORMAT_PNG, path) == 0);

        png_image img = { .version = PNG_IMAGE_VERSION };
        check(png_image_begin_read_from_file(&img, path));
        check(img.width == 640 && img.height == 3);
        img.format = PNG_FORMAT_RGB;
        uint8_t *rgb = malloc(PNG_IMAGE_SIZE(img));
        check(rgb);
        check(png_image_finish_read(&img, NULL, rgb, 0, NULL));
        check_rgb(&fb, rgb);
        free(rgb);

        /* overwriting is atomic too: the new picture replaces the old whole */
        fb.pixels[0] = 0x42;
        check(image_write(&fb, IMAGE_FORMAT_PNG, path) == 0);
        img = (png_image) { .version = PNG_IMAGE_VERSION };
        check(png_image_begin_read_from_file(&img, path));
        img.format = PNG_FORMAT_RGB;
        rgb = malloc(PNG_IMAGE_SIZE(img));
        check(rgb && png_image_finish_read(&img, NULL, rgb, 0, NULL));
        check(rgb[2] == 0x42);
        free(rgb);
        free(fb.pixels);
}

static void test_errors(const char *dir) {
        ClientFramebuffer fb = make_fb(4, 4, 0), empty = {};
        char path[512];

        snprintf(path, sizeof(path), "%s/none.png", dir);
        check(image_write(NULL, IMAGE_FORMAT_PNG, path) == -ENODATA);
        check(image_write(&empty, IMAGE_FORMAT_PNG, path) == -ENODATA);
        ClientFramebuffer narrow = fb;
        narrow.stride = 12;
        check(image_write(&narrow, IMAGE_FORMAT_PNG, path) == -EINVAL);
        snprintf(path, sizeof(path), "%s/no/such/dir.png", dir);
        check(image_write(&fb, IMAGE_FORMAT_PNG, path) == -ENOENT);
        check(image_write(&fb, IMAGE_FORMAT_PPM, path) == -ENOENT);
        free(fb.pixels);
}

static void test_formats(void) {
        ImageFormat f = IMAGE_FORMAT_PPM;

        check(image_format_from_string("png", &f) == 0 && f == IMAGE_FORMAT_PNG);
        check(image_format_from_string("ppm", &f) == 0 && f == IMAGE_FORMAT_PPM);
        check(image_format_from_string("jpg", &f) == -EINVAL && f == IMAGE_FORMAT_PPM);
        check(image_format_from_string("PNG", &f) == -EINVAL);
        check(strcmp(image_format_extension(IMAGE_FORMAT_PNG), "png") == 0);
        check(strcmp(image_format_extension(IMAGE_FORMAT_PPM), "ppm") == 0);
        check(image_format_for_path("a/b.ppm", IMAGE_FORMAT_PNG) == IMAGE_FORMAT_PPM);
        check(image_format_for_path("a/b.png", IMAGE_FORMAT_PPM) == IMAGE_FORMAT_PNG);
        check(image_format_for_path("a/b", IMAGE_FORMAT_PPM) == IMAGE_FORMAT_PPM);
        check(image_format_for_path(".ppm.x", IMAGE_FORMAT_PNG) == IMAGE_FORMAT_PNG);
}

int main(void) {
        char dir[] = "/tmp/test-viewer-image.XXXXXX";

        check(mkdtemp(dir));
        test_formats();
        test_ppm(dir);
        test_png(dir);
        test_errors(dir);
        check(count_entries(dir) == 2); /* shot.ppm, shot.png: no temporaries left */

        char path[512];
        snprintf(path, sizeof(path), "%s/shot.ppm", dir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/shot.png", dir);
        unlink(path);
        check(rmdir(dir) == 0);
        printf("ok\n");
        return 0;
}
