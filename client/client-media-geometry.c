#include "client-media-geometry.h"

static bool intersect(MediaRect *a, const MediaRect *b) {
        int64_t x0 = a->x > b->x ? a->x : b->x, y0 = a->y > b->y ? a->y : b->y;
        int64_t x1 = a->x + a->w < b->x + b->w ? a->x + a->w : b->x + b->w;
        int64_t y1 = a->y + a->h < b->y + b->h ? a->y + a->h : b->y + b->h;
        if (x1 <= x0 || y1 <= y0)
                return false;
        *a = (MediaRect) { x0, y0, x1 - x0, y1 - y0 };
        return true;
}

bool client_media_visible_rect(const ClientMediaStream *st, uint32_t pic_width, uint32_t pic_height,
                               const ClientWindows *windows, uint32_t fb_width, uint32_t fb_height, MediaRect *dst,
                               MediaRect *src) {
        if (!st->visible || st->width == 0 || st->height == 0 || pic_width == 0 || pic_height == 0)
                return false;
        MediaRect full = { st->x, st->y, st->width, st->height }, r = full;
        MediaRect screen = { 0, 0, fb_width, fb_height };
        if (!intersect(&r, &screen))
                return false;
        if (st->window != 0) {
                const ClientWindow *w = windows ? client_windows_find(windows, st->window) : NULL;
                if (!w)
                        return false;
                MediaRect wr = { w->x, w->y, w->width, w->height };
                if (!intersect(&r, &wr))
                        return false;
        }
        *dst = r;
        /* The same part of the picture, in its own pixels. */
        *src = (MediaRect) {
                .x = (r.x - full.x) * pic_width / full.w,
                .y = (r.y - full.y) * pic_height / full.h,
                .w = r.w * pic_width / full.w,
                .h = r.h * pic_height / full.h,
        };
        if (src->w <= 0 || src->h <= 0)
                return false;
        return true;
}
