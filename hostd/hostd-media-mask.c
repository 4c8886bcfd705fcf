/* Display interplay: while a redirected video is visible, the viewers that receive it draw it
 * themselves, so its rectangle is taken out of what their display encoder sends; viewers without
 * the stream still get the framebuffer there. A video that belongs to a window (window != 0) is
 * masked only where no mapped window above it in the guest's stacking order covers it: what
 * covers the video is still the framebuffer's to send. When the video moves, hides or stops, its
 * old rectangle is made pending again (media_refresh_rect()), so the framebuffer's content
 * returns. The encoder sends each 64x64 grid cell's changes as their bounding box, so only the
 * cells the mask leaves without changes are saved. */
#include <errno.h>

#include "hostd-media-internal.h"
#include "hostd-viewer.h"

/* out = r minus cut, as up to four pieces per rectangle of r. */
static int region_subtract_rect(const Region *r, Rect cut, Region *out) {
        region_clear(out);
        for (size_t i = 0; i < r->n; i++) {
                Rect a = r->rects[i];
                Rect x = rect_intersect(a, cut);
                int k = 0;
                if (rect_is_empty(x)) {
                        k = region_add(out, a);
                        if (k < 0)
                                return k;
                        continue;
                }
                Rect pieces[4] = {
                        { a.x, a.y, a.w, x.y - a.y },                                 /* above */
                        { a.x, x.y + x.h, a.w, a.y + a.h - (x.y + x.h) },             /* below */
                        { a.x, x.y, x.x - a.x, x.h },                                 /* left */
                        { x.x + x.w, x.y, a.x + a.w - (x.x + x.w), x.h },             /* right */
                };
                for (size_t p = 0; p < 4; p++)
                        if (!rect_is_empty(pieces[p]) && (k = region_add(out, pieces[p])) < 0)
                                return k;
        }
        return 0;
}

static bool receives(const MediaStream *s, const Viewer *v) {
        for (size_t i = 0; i < s->n_subs; i++)
                if (s->subs[i].session == v->session)
                        return true;
        return false;
}

#define WINDOW_MAPPED 1u
#define WINDOW_MINIMIZED 4u

static const AgentWindow *find_window(const Agent *a, uint32_t id) {
        for (size_t i = 0; i < a->n_windows; i++)
                if (a->windows[i].id == id)
                        return &a->windows[i];
        return NULL;
}

/* Where the stream's video shows: its rectangle less the mapped windows stacked above its own.
 * -E2BIG when that takes more rectangles than a Region holds exactly (then nothing is masked:
 * a Region may only grow, and a mask that grew would hide what it must not). */
static int visible_part(const Agent *a, const MediaStream *s, Region *ret) {
        Region tmp = {};
        int r = region_set(ret, s->rect);
        if (r < 0 || s->window == 0)
                return r;
        size_t pos = a->n_stack;
        for (size_t i = 0; i < a->n_stack; i++)
                if (a->stack[i] == s->window)
                        pos = i;
        region_init(&tmp);
        for (size_t i = pos + 1; i < a->n_stack && r >= 0 && !region_is_empty(ret); i++) {
                const AgentWindow *w = find_window(a, a->stack[i]);
                if (!w || !(w->state & WINDOW_MAPPED) || (w->state & WINDOW_MINIMIZED))
                        continue;
                if (ret->n * 4 > REGION_MAX_RECTS) {
                        r = -E2BIG; /* the pieces could exceed what a Region holds exactly */
                        break;
                }
                r = region_subtract_rect(ret, (Rect) { w->x, w->y, (int32_t) w->width, (int32_t) w->height }, &tmp);
                if (r >= 0) {
                        Region old = *ret;
                        *ret = tmp;
                        tmp = old;
                }
        }
        region_done(&tmp);
        return r;
}

void media_mask_pending(Media *m, Viewer *v, Region *r) {
        Region mask = {}, out = {};
        region_init(&mask);
        region_init(&out);
        for (size_t i = 0; i < m->n_streams && !region_is_empty(r); i++) {
                MediaStream *s = m->streams[i];
                if (s->kind != MEDIA_KIND_VIDEO || !s->visible || rect_is_empty(s->rect) || !receives(s, v))
                        continue;
                if (visible_part(m->agent, s, &mask) < 0)
                        continue;
                for (size_t k = 0; k < mask.n && !region_is_empty(r); k++)
                        /* Out of memory: the changes stay as they were, which is only more than needed. */
                        if (region_subtract_rect(r, mask.rects[k], &out) == 0) {
                                Region old = *r;
                                *r = out;
                                out = old;
                        }
        }
        region_done(&mask);
        region_done(&out);
}
