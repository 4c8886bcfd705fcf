/* Dirty-region arithmetic.
 *
 * Adding a rectangle A:
 *   1. if an existing rectangle contains A, nothing changes (the blinking text cursor case);
 *   2. existing rectangles inside A are dropped; those partly covered by A are cut into the
 *      up-to-three pieces outside A, unless that would overflow the working capacity, in which
 *      case A absorbs them (grows to their common bounding box);
 *   3. A and the new pieces are merged with neighbours sharing a whole edge (QEMU's VGA sends
 *      full-width bands of lines, which merge back into one rectangle);
 *   4. while there are more than REGION_MAX_RECTS, the pair whose bounding box wastes the least
 *      area is replaced by that box (plus anything the box overlaps).
 * Every step keeps the rectangles disjoint and the union a superset of what was added. Steps 2
 * and 4 bound the work per call: at most REGION_SLACK + 1 coalescing passes of O(n^2) each. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "region.h"

/* Extra rectangles that fragments may use before coalescing brings the count back down. */
#define REGION_SLACK 4
#define REGION_CAP (REGION_MAX_RECTS + REGION_SLACK + 1)

static inline int64_t rect_right(Rect a) {
        return (int64_t) a.x + a.w;
}

static inline int64_t rect_bottom(Rect a) {
        return (int64_t) a.y + a.h;
}

uint64_t rect_area(Rect a) {
        return a.w <= 0 || a.h <= 0 ? 0 : (uint64_t) a.w * (uint64_t) a.h;
}

Rect rect_bbox(Rect a, Rect b) {
        if (rect_is_empty(a))
                return b;
        if (rect_is_empty(b))
                return a;
        int64_t x0 = MIN(a.x, b.x), y0 = MIN(a.y, b.y);
        int64_t x1 = MAX(rect_right(a), rect_right(b)), y1 = MAX(rect_bottom(a), rect_bottom(b));
        return (Rect) { (int32_t) x0, (int32_t) y0, (int32_t) (x1 - x0), (int32_t) (y1 - y0) };
}

/* Internal forms for non-empty rectangles, which is all a Region holds: inlined in the loops. */
static inline bool overlaps_nonempty(Rect a, Rect b) {
        return a.x < rect_right(b) && b.x < rect_right(a) && a.y < rect_bottom(b) && b.y < rect_bottom(a);
}

static inline bool contains_nonempty(Rect outer, Rect inner) {
        return inner.x >= outer.x && inner.y >= outer.y && rect_right(inner) <= rect_right(outer) &&
               rect_bottom(inner) <= rect_bottom(outer);
}

bool rect_is_empty(Rect a) {
        return a.w <= 0 || a.h <= 0;
}

bool rect_contains(Rect outer, Rect inner) {
        if (rect_is_empty(inner))
                return true;
        return !rect_is_empty(outer) && contains_nonempty(outer, inner);
}

bool rect_overlaps(Rect a, Rect b) {
        return !rect_is_empty(a) && !rect_is_empty(b) && overlaps_nonempty(a, b);
}

Rect rect_intersect(Rect a, Rect b) {
        if (!rect_overlaps(a, b))
                return (Rect) {};
        int64_t x0 = MAX(a.x, b.x), y0 = MAX(a.y, b.y);
        int64_t x1 = MIN(rect_right(a), rect_right(b)), y1 = MIN(rect_bottom(a), rect_bottom(b));
        /* Each side is at most the smaller input's, so it fits. */
        return (Rect) { (int32_t) x0, (int32_t) y0, (int32_t) (x1 - x0), (int32_t) (y1 - y0) };
}

bool rect_clip(Rect *a, int32_t width, int32_t height) {
        *a = rect_intersect(*a, (Rect) { 0, 0, width, height });
        return !rect_is_empty(*a);
}

static Rect rect_clip_domain(Rect a) {
        return rect_intersect(a, (Rect) { -REGION_COORD_LIMIT, -REGION_COORD_LIMIT, 2 * REGION_COORD_LIMIT,
                                          2 * REGION_COORD_LIMIT });
}

/* b minus a, for overlapping a and b: bands above and below a span b's width, the sides fill the
 * rows in between. Returns the number of pieces (at most 4; 3 when b does not contain a). */
static size_t rect_subtract(Rect b, Rect a, Rect pieces[static 4]) {
        size_t n = 0;
        int64_t y0 = MAX(a.y, b.y), y1 = MIN(rect_bottom(a), rect_bottom(b));

        if (a.y > b.y)
                pieces[n++] = (Rect) { b.x, b.y, b.w, a.y - b.y };
        if (rect_bottom(a) < rect_bottom(b))
                pieces[n++] = (Rect) { b.x, (int32_t) rect_bottom(a), b.w, (int32_t) (rect_bottom(b) - rect_bottom(a)) };
        if (a.x > b.x)
                pieces[n++] = (Rect) { b.x, (int32_t) y0, a.x - b.x, (int32_t) (y1 - y0) };
        if (rect_right(a) < rect_right(b))
                pieces[n++] = (Rect) { (int32_t) rect_right(a), (int32_t) y0, (int32_t) (rect_right(b) - rect_right(a)),
                                       (int32_t) (y1 - y0) };
        return n;
}

/* Two disjoint rectangles whose union is exactly a rectangle. */
static bool rect_mergeable(Rect a, Rect b) {
        if (a.y == b.y && a.h == b.h)
                return rect_right(a) == b.x || rect_right(b) == a.x;
        if (a.x == b.x && a.w == b.w)
                return rect_bottom(a) == b.y || rect_bottom(b) == a.y;
        return false;
}

void region_init(Region *r) {
        *r = (Region) {};
}

void region_clear(Region *r) {
        r->n = 0;
}

void region_done(Region *r) {
        free(r->rects);
        region_init(r);
}

static int region_reserve(Region *r, size_t cap) {
        if (r->cap >= cap)
                return 0;
        Rect *p = realloc(r->rects, cap * sizeof(Rect));
        if (!p)
                return -ENOMEM;
        r->rects = p;
        r->cap = cap;
        return 0;
}

static void region_remove(Region *r, size_t i) {
        memmove(r->rects + i, r->rects + i + 1, (r->n - i - 1) * sizeof(Rect));
        r->n--;
}

/* Merges the rectangles from index first on with any neighbour that shares a whole edge. */
static void region_merge_from(Region *r, size_t first) {
        size_t k = first;
        while (k < r->n) {
                size_t j;
                for (j = 0; j < r->n; j++)
                        if (j != k && rect_mergeable(r->rects[k], r->rects[j]))
                                break;
                if (j == r->n) {
                        k++;
                        continue;
                }
                r->rects[k] = rect_bbox(r->rects[k], r->rects[j]);
                region_remove(r, j);
                if (j < k)
                        k--;
        }
}

/* Replaces the pair with the least wasted area by its bounding box, which also swallows whatever
 * else it overlaps so the rectangles stay disjoint. Lowers the count by at least one. */
static void region_coalesce_once(Region *r) {
        uint64_t best = UINT64_MAX;
        size_t bi = 0, bj = 1;

        for (size_t i = 0; i < r->n && best > 0; i++)
                for (size_t j = i + 1; j < r->n; j++) {
                        Rect a = r->rects[i], b = r->rects[j];
                        uint64_t waste = rect_area(rect_bbox(a, b)) - rect_area(a) - rect_area(b);
                        if (waste < best) {
                                best = waste;
                                bi = i;
                                bj = j;
                                if (best == 0)
                                        break;
                        }
                }

        Rect box = rect_bbox(r->rects[bi], r->rects[bj]);
        region_remove(r, bj);
        region_remove(r, bi);

        bool grown;
        do {
                grown = false;
                for (size_t i = 0; i < r->n;) {
                        if (!overlaps_nonempty(box, r->rects[i])) {
                                i++;
                                continue;
                        }
                        if (!contains_nonempty(box, r->rects[i])) {
                                box = rect_bbox(box, r->rects[i]);
                                grown = true;
                        }
                        region_remove(r, i);
                }
        } while (grown);

        r->rects[r->n++] = box;
        region_merge_from(r, r->n - 1);
}

int region_add(Region *r, Rect a) {
        a = rect_clip_domain(a);
        if (rect_is_empty(a))
                return 0;

        /* All allocation happens here, so nothing below can fail half-way. */
        int k = region_reserve(r, REGION_CAP);
        if (k < 0)
                return k;

        /* One pass for the common cases: a already covered, or overlapping nothing. */
        size_t first_overlap = SIZE_MAX;
        for (size_t i = 0; i < r->n; i++)
                if (overlaps_nonempty(a, r->rects[i])) {
                        if (contains_nonempty(r->rects[i], a))
                                return 0;
                        if (first_overlap == SIZE_MAX)
                                first_overlap = i;
                }

        size_t first_new = r->n;
        for (size_t i = first_overlap; i < r->n;) {
                Rect b = r->rects[i];
                if (!overlaps_nonempty(a, b)) {
                        i++;
                        continue;
                }

                Rect pieces[4];
                size_t p = contains_nonempty(a, b) ? 0 : rect_subtract(b, a, pieces);
                bool absorb = r->n - 1 + p > REGION_MAX_RECTS + REGION_SLACK;

                region_remove(r, i);
                if (i < first_new)
                        first_new--;

                if (absorb) {
                        /* a grew: rectangles already passed may overlap it now. */
                        a = rect_bbox(a, b);
                        i = 0;
                        continue;
                }
                for (size_t q = 0; q < p; q++)
                        r->rects[r->n++] = pieces[q];
        }

        r->rects[r->n++] = a;
        region_merge_from(r, first_new);

        while (r->n > REGION_MAX_RECTS)
                region_coalesce_once(r);
        return 0;
}

int region_set(Region *r, Rect a) {
        a = rect_clip_domain(a);
        int k = region_reserve(r, REGION_CAP);
        if (k < 0)
                return k;
        r->n = 0;
        if (!rect_is_empty(a))
                r->rects[r->n++] = a;
        return 0;
}

bool region_is_empty(const Region *r) {
        return r->n == 0;
}

Rect region_bounds(const Region *r) {
        if (r->n == 0)
                return (Rect) {};
        Rect box = r->rects[0];
        for (size_t i = 1; i < r->n; i++)
                box = rect_bbox(box, r->rects[i]);
        return box;
}

uint64_t region_area(const Region *r) {
        uint64_t sum = 0;
        for (size_t i = 0; i < r->n; i++)
                sum += rect_area(r->rects[i]);
        return sum;
}

int region_copy(Region *dst, const Region *src) {
        if (dst == src)
                return 0;
        if (src->n > 0) {
                int k = region_reserve(dst, MAX(src->n, (size_t) REGION_CAP));
                if (k < 0)
                        return k;
                memcpy(dst->rects, src->rects, src->n * sizeof(Rect));
        }
        dst->n = src->n;
        return 0;
}

void region_clip(Region *r, int32_t width, int32_t height) {
        size_t n = 0;
        for (size_t i = 0; i < r->n; i++) {
                Rect a = r->rects[i];
                if (rect_clip(&a, width, height))
                        r->rects[n++] = a;
        }
        r->n = n;
}
