#include "viewer-seamless-geometry.h"

#include "macro.h"

static int32_t clamp64(int64_t v, int64_t lo, int64_t hi) {
        return (int32_t) (v < lo ? lo : v > hi ? hi : v);
}

bool seamless_cut(const SeamlessRect *win, uint32_t fb_w, uint32_t fb_h, SeamlessRect *ret_src, SeamlessRect *ret_dst) {
        if (win->w <= 0 || win->h <= 0 || fb_w == 0 || fb_h == 0)
                return false;
        /* 64-bit: x + w must not wrap for any int32 the guest may claim. */
        int64_t x0 = MAX((int64_t) win->x, 0), y0 = MAX((int64_t) win->y, 0);
        int64_t x1 = MIN((int64_t) win->x + win->w, (int64_t) fb_w), y1 = MIN((int64_t) win->y + win->h, (int64_t) fb_h);
        if (x0 >= x1 || y0 >= y1)
                return false;
        *ret_src = (SeamlessRect) { (int32_t) x0, (int32_t) y0, (int32_t) (x1 - x0), (int32_t) (y1 - y0) };
        *ret_dst = (SeamlessRect) { (int32_t) (x0 - win->x), (int32_t) (y0 - win->y), (int32_t) (x1 - x0),
                                    (int32_t) (y1 - y0) };
        return true;
}

void seamless_point_to_guest(const SeamlessRect *win, int32_t lx, int32_t ly, uint32_t fb_w, uint32_t fb_h,
                             uint32_t *ret_x, uint32_t *ret_y) {
        *ret_x = fb_w ? (uint32_t) clamp64((int64_t) win->x + lx, 0, (int64_t) fb_w - 1) : 0;
        *ret_y = fb_h ? (uint32_t) clamp64((int64_t) win->y + ly, 0, (int64_t) fb_h - 1) : 0;
}

void seamless_to_local(int32_t origin_x, int32_t origin_y, int32_t gx, int32_t gy, int32_t *ret_x, int32_t *ret_y) {
        *ret_x = clamp64((int64_t) origin_x + gx, INT32_MIN, INT32_MAX);
        *ret_y = clamp64((int64_t) origin_y + gy, INT32_MIN, INT32_MAX);
}

void seamless_from_local(int32_t origin_x, int32_t origin_y, int32_t lx, int32_t ly, int32_t *ret_x, int32_t *ret_y) {
        *ret_x = clamp64((int64_t) lx - origin_x, INT32_MIN, INT32_MAX);
        *ret_y = clamp64((int64_t) ly - origin_y, INT32_MIN, INT32_MAX);
}

bool seamless_same_geometry(const SeamlessRect *win, int32_t origin_x, int32_t origin_y, int32_t lx, int32_t ly,
                            int32_t lw, int32_t lh) {
        int32_t gx, gy;
        seamless_from_local(origin_x, origin_y, lx, ly, &gx, &gy);
        return gx == win->x && gy == win->y && lw == win->w && lh == win->h;
}
