/* Display interplay: while a redirected video is visible, the viewers that receive it draw it
 * themselves, so its rectangle is taken out of what their display encoder sends; viewers without
 * the stream still get the framebuffer there. When the video moves, hides or stops, its old
 * rectangle is made pending again (media_refresh_rect()), so the framebuffer's content returns. */
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

void media_mask_pending(Media *m, Viewer *v, Region *r) {
        for (size_t i = 0; i < m->n_streams && !region_is_empty(r); i++) {
                MediaStream *s = m->streams[i];
                if (s->kind != MEDIA_KIND_VIDEO || !s->visible || rect_is_empty(s->rect) || !receives(s, v))
                        continue;
                Region out = {};
                region_init(&out);
                /* Out of memory: the changes stay as they were, which is only more than needed. */
                if (region_subtract_rect(r, s->rect, &out) == 0) {
                        Region old = *r;
                        *r = out;
                        out = old;
                }
                region_done(&out);
        }
}
