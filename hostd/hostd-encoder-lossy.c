#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hostd-encoder-lossy.h"
#include "macro.h"

int lossy_map_reset(LossyMap *m, uint32_t width, uint32_t height) {
        uint32_t cols = (width + ENCODER_CELL - 1) / ENCODER_CELL, rows = (height + ENCODER_CELL - 1) / ENCODER_CELL;
        size_t n = (size_t) cols * rows;

        if (n > (size_t) m->cols * m->rows || !m->cells) {
                Rect *c = calloc(n ? n : 1, sizeof(Rect));
                if (!c)
                        return -ENOMEM;
                free(m->cells);
                m->cells = c;
        } else
                memset(m->cells, 0, n * sizeof(Rect));
        m->width = width;
        m->height = height;
        m->cols = cols;
        m->rows = rows;
        m->count = 0;
        return 0;
}

void lossy_map_done(LossyMap *m) {
        free(m->cells);
        *m = (LossyMap) {};
}

/* a minus b when that is a rectangle; a itself otherwise (an over-approximation). */
static Rect subtract(Rect a, Rect b) {
        Rect i = rect_intersect(a, b);
        if (rect_is_empty(i))
                return a;
        if (i.x == a.x && i.w == a.w) { /* a horizontal band */
                if (i.y == a.y)
                        return i.h == a.h ? (Rect) {} : (Rect) { a.x, i.y + i.h, a.w, a.h - i.h };
                if (i.y + i.h == a.y + a.h)
                        return (Rect) { a.x, a.y, a.w, i.y - a.y };
        }
        if (i.y == a.y && i.h == a.h) { /* a vertical band */
                if (i.x == a.x)
                        return (Rect) { i.x + i.w, a.y, a.w - i.w, a.h };
                if (i.x + i.w == a.x + a.w)
                        return (Rect) { a.x, a.y, i.x - a.x, a.h };
        }
        return a;
}

void lossy_map_add(LossyMap *m, Rect r) {
        if (!rect_clip(&r, (int32_t) m->width, (int32_t) m->height))
                return;
        for (uint32_t cy = (uint32_t) r.y / ENCODER_CELL; cy <= (uint32_t) (r.y + r.h - 1) / ENCODER_CELL; cy++)
                for (uint32_t cx = (uint32_t) r.x / ENCODER_CELL; cx <= (uint32_t) (r.x + r.w - 1) / ENCODER_CELL; cx++) {
                        Rect cell = { (int32_t) cx * ENCODER_CELL, (int32_t) cy * ENCODER_CELL, ENCODER_CELL, ENCODER_CELL };
                        Rect *c = &m->cells[(size_t) cy * m->cols + cx];
                        m->count += rect_is_empty(*c);
                        *c = rect_bbox(*c, rect_intersect(r, cell));
                }
}

void lossy_map_subtract(LossyMap *m, Rect r) {
        if (m->count == 0 || !rect_clip(&r, (int32_t) m->width, (int32_t) m->height))
                return;
        for (uint32_t cy = (uint32_t) r.y / ENCODER_CELL; cy <= (uint32_t) (r.y + r.h - 1) / ENCODER_CELL; cy++)
                for (uint32_t cx = (uint32_t) r.x / ENCODER_CELL; cx <= (uint32_t) (r.x + r.w - 1) / ENCODER_CELL; cx++) {
                        Rect *c = &m->cells[(size_t) cy * m->cols + cx];
                        if (rect_is_empty(*c))
                                continue;
                        *c = subtract(*c, r);
                        m->count -= rect_is_empty(*c);
                }
}
