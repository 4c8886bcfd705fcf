#include "x11-icon.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>

static void put_pixel(uint8_t *p, unsigned long v) {
        uint32_t x = (uint32_t) v;
        p[0] = (uint8_t) x;
        p[1] = (uint8_t) (x >> 8);
        p[2] = (uint8_t) (x >> 16);
        p[3] = (uint8_t) (x >> 24);
}

int x11_icon_pick(const unsigned long *data, size_t n, uint8_t *argb, unsigned *ret_width, unsigned *ret_height) {
        size_t best = SIZE_MAX, smallest = SIZE_MAX;
        unsigned long best_area = 0, smallest_area = ULONG_MAX;

        for (size_t i = 0; i + 2 <= n;) {
                unsigned long w = data[i], h = data[i + 1];
                /* Each side within 32 bits and the pixels really present. */
                if (w == 0 || h == 0 || w > 0xffff || h > 0xffff || w * h > n - i - 2)
                        break;
                unsigned long area = w * h;
                if (w <= X11_ICON_MAX && h <= X11_ICON_MAX && area > best_area)
                        best = i, best_area = area;
                if (area < smallest_area)
                        smallest = i, smallest_area = area;
                i += 2 + area;
        }
        if (best == SIZE_MAX && smallest == SIZE_MAX)
                return -ENOENT;

        bool scale = best == SIZE_MAX;
        size_t at = scale ? smallest : best;
        unsigned long w = data[at], h = data[at + 1];
        const unsigned long *px = data + at + 2;
        unsigned ow = (unsigned) w, oh = (unsigned) h;
        if (scale) {
                if (w >= h) {
                        ow = X11_ICON_MAX;
                        oh = (unsigned) (h * X11_ICON_MAX / w);
                } else {
                        oh = X11_ICON_MAX;
                        ow = (unsigned) (w * X11_ICON_MAX / h);
                }
                if (ow == 0)
                        ow = 1;
                if (oh == 0)
                        oh = 1;
        }
        for (unsigned y = 0; y < oh; y++)
                for (unsigned x = 0; x < ow; x++) {
                        unsigned long sx = scale ? x * w / ow : x, sy = scale ? y * h / oh : y;
                        put_pixel(argb + ((size_t) y * ow + x) * 4, px[sy * w + sx]);
                }
        *ret_width = ow;
        *ret_height = oh;
        return 0;
}
