/* Thumbnails: valid JPEGs of the right size and colour, decoded back with TurboJPEG. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "check.h"
#include "hostd-thumbnail.h"

typedef uint8_t (*Painter)(uint32_t x, uint32_t y, uint32_t w, uint32_t h, int channel);

static void scanout_painted(Framebuffer *fb, uint32_t w, uint32_t h, Painter paint) {
        uint8_t *data = malloc((size_t) w * h * 4);
        check(data);
        for (uint32_t y = 0; y < h; y++)
                for (uint32_t x = 0; x < w; x++) {
                        uint8_t *p = data + ((size_t) y * w + x) * 4; /* x8r8g8b8: B,G,R,X */
                        p[0] = paint(x, y, w, h, 2);
                        p[1] = paint(x, y, w, h, 1);
                        p[2] = paint(x, y, w, h, 0);
                        p[3] = 0;
                }
        check(framebuffer_scanout(fb, w, h, w * 4, FB_FORMAT_X8R8G8B8, data, (size_t) w * h * 4) == 0);
        free(data);
}

static uint8_t paint_solid(uint32_t x, uint32_t y, uint32_t w, uint32_t h, int channel) {
        static const uint8_t rgb[3] = { 200, 100, 50 };
        return rgb[channel];
}

/* Left half red, right half blue: catches mirrored images and swapped channels. */
static uint8_t paint_halves(uint32_t x, uint32_t y, uint32_t w, uint32_t h, int channel) {
        bool left = x < w / 2;
        return channel == (left ? 0 : 2) ? 255 : 0;
}

/* One-pixel black and white stripes: a box filter gives grey, point sampling would not. */
static uint8_t paint_stripes(uint32_t x, uint32_t y, uint32_t w, uint32_t h, int channel) {
        return x % 2 ? 255 : 0;
}

typedef struct {
        int width, height;
        uint8_t *rgb;
} Decoded;

static Decoded decode(const uint8_t *jpeg, size_t size) {
        check(size > 4 && jpeg[0] == 0xff && jpeg[1] == 0xd8);
        tjhandle tj = tjInitDecompress();
        check(tj);
        Decoded d = {};
        int sub, space;
        check(tjDecompressHeader3(tj, jpeg, (unsigned long) size, &d.width, &d.height, &sub, &space) == 0);
        d.rgb = malloc((size_t) d.width * d.height * 3);
        check(d.rgb);
        check(tjDecompress2(tj, jpeg, (unsigned long) size, d.rgb, d.width, 0, d.height, TJPF_RGB, 0) == 0);
        tjDestroy(tj);
        return d;
}

static Decoded decode_file(const char *path) {
        FILE *f = fopen(path, "rb");
        check(f);
        static uint8_t buf[4 << 20];
        size_t n = fread(buf, 1, sizeof(buf), f);
        check(n < sizeof(buf));
        fclose(f);
        return decode(buf, n);
}

static void check_near(const uint8_t *p, int r, int g, int b, int tolerance) {
        check(abs(p[0] - r) <= tolerance && abs(p[1] - g) <= tolerance && abs(p[2] - b) <= tolerance);
}

static void check_size(Thumbnailer *t, Framebuffer *fb, uint32_t w, uint32_t h, unsigned max_width, int dw, int dh) {
        scanout_painted(fb, w, h, paint_solid);
        const uint8_t *jpeg;
        size_t size;
        check(thumbnailer_encode(t, fb, max_width, 75, &jpeg, &size) == 0);
        Decoded d = decode(jpeg, size);
        check(d.width == dw && d.height == dh);
        check_near(d.rgb + ((size_t) (dh / 2) * dw + dw / 2) * 3, 200, 100, 50, 6);
        free(d.rgb);
}

int main(void) {
        _cleanup_(thumbnailer_freep) Thumbnailer *t = thumbnailer_new();
        _cleanup_(framebuffer_freep) Framebuffer *fb = framebuffer_new();
        check(t && fb);
        check(thumbnailer_free(NULL) == NULL);

        char dir[] = "/tmp/test-thumbnail-XXXXXX";
        check(mkdtemp(dir));
        char path[sizeof(dir) + 16];
        check(snprintf(path, sizeof(path), "%s/thumb.jpg", dir) < (int) sizeof(path));

        const uint8_t *jpeg = (const uint8_t *) "untouched";
        size_t size = 12345;
        check(thumbnailer_encode(t, fb, 320, 80, &jpeg, &size) == -ENODATA);
        check(thumbnailer_write(t, fb, 320, 80, path) == -ENODATA);

        /* A solid 1080p frame, written to a file. */
        scanout_painted(fb, 1920, 1080, paint_solid);
        check(thumbnailer_encode(t, fb, 0, 80, &jpeg, &size) == -EINVAL);
        check(thumbnailer_encode(t, fb, 320, 0, &jpeg, &size) == -EINVAL);
        check(thumbnailer_encode(t, fb, 320, 101, &jpeg, &size) == -EINVAL);
        check(size == 12345 && strcmp((const char *) jpeg, "untouched") == 0);
        check(thumbnailer_write(t, fb, 320, 80, path) == 0);
        Decoded d = decode_file(path);
        check(d.width == 320 && d.height == 180);
        for (size_t i = 0; i < (size_t) d.width * d.height; i++)
                check_near(d.rgb + 3 * i, 200, 100, 50, 6);
        free(d.rgb);
        check(thumbnailer_write(t, fb, 320, 80, "/nonexistent/dir/t.jpg") == -ENOENT);

        /* Aspect ratio kept, rounded; never upscaled. */
        check_size(t, fb, 1024, 768, 320, 320, 240);
        check_size(t, fb, 720, 400, 320, 320, 178); /* 177.8 */
        check_size(t, fb, 640, 480, 1000, 640, 480);
        check_size(t, fb, 640, 480, 640, 640, 480);
        check_size(t, fb, 641, 480, 640, 640, 479); /* 479.25 */
        check_size(t, fb, 1000, 3, 100, 100, 1); /* at least one row */
        check_size(t, fb, 8, 1000, 4, 4, 500);

        /* Orientation and channels. */
        scanout_painted(fb, 800, 600, paint_halves);
        check(thumbnailer_encode(t, fb, 200, 90, &jpeg, &size) == 0);
        d = decode(jpeg, size);
        check(d.width == 200 && d.height == 150);
        check_near(d.rgb + ((size_t) 75 * 200 + 20) * 3, 255, 0, 0, 12);
        check_near(d.rgb + ((size_t) 75 * 200 + 180) * 3, 0, 0, 255, 12);
        free(d.rgb);

        /* Box filter: stripes halved become grey. */
        scanout_painted(fb, 640, 480, paint_stripes);
        check(thumbnailer_encode(t, fb, 320, 95, &jpeg, &size) == 0);
        d = decode(jpeg, size);
        check(d.width == 320 && d.height == 240);
        for (size_t i = 0; i < (size_t) d.width * d.height; i++)
                check_near(d.rgb + 3 * i, 128, 128, 128, 4);
        free(d.rgb);

        check(unlink(path) == 0);
        check(rmdir(dir) == 0); /* no temporary left behind */
        printf("test-thumbnail: ok\n");
        return 0;
}
