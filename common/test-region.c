/* Region arithmetic: exact unions while small, bounded size when large, and never a lost pixel,
 * checked against a bitmap with a seeded PRNG. */
#include "check.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "region.h"

#define W 160
#define H 120

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static size_t max_seen; /* so the test can tell that coalescing was exercised */

static uint32_t rng(void) {
        /* xorshift64*: deterministic across libcs, unlike rand(). */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return (uint32_t) ((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static int32_t rng_range(int32_t lo, int32_t hi) { /* [lo, hi] */
        return lo + (int32_t) (rng() % (uint32_t) (hi - lo + 1));
}

/* Paints the region into a count map and checks the structural invariants on the way. */
static void check_invariants(const Region *r, uint8_t map[H][W]) {
        memset(map, 0, (size_t) W * H);
        check(r->n <= REGION_MAX_RECTS);
        uint64_t area = 0;
        for (size_t i = 0; i < r->n; i++) {
                Rect a = r->rects[i];
                check(!rect_is_empty(a));
                check(a.x >= 0 && a.y >= 0 && a.x + a.w <= W && a.y + a.h <= H);
                area += (uint64_t) a.w * a.h;
                for (int y = a.y; y < a.y + a.h; y++)
                        for (int x = a.x; x < a.x + a.w; x++) {
                                check(map[y][x] == 0); /* disjoint */
                                map[y][x] = 1;
                        }
        }
        check(region_area(r) == area);

        Rect b = region_bounds(r);
        for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                        if (map[y][x])
                                check(rect_contains(b, (Rect) { x, y, 1, 1 }));
        if (r->n > 0)
                check(b.x >= 0 && b.y >= 0 && b.x + b.w <= W && b.y + b.h <= H);
}

static void test_property(unsigned rounds, int max_side) {
        static uint8_t added[H][W], covered[H][W];
        Region r = {};

        memset(added, 0, sizeof(added));
        bool exact = true;
        for (unsigned i = 0; i < rounds; i++) {
                /* Rectangles partly outside [0,W)x[0,H) exercise the clip as well. */
                Rect a = { rng_range(-10, W), rng_range(-10, H), rng_range(0, max_side), rng_range(0, max_side) };
                /* With at most 20 rectangles before an add, pieces cannot overflow the slack, so
                 * the union must be exact; past that only a superset is promised. */
                if (r.n > 20)
                        exact = false;
                check(region_add(&r, a) == 0);
                region_clip(&r, W, H);
                Rect c = a;
                if (rect_clip(&c, W, H))
                        for (int y = c.y; y < c.y + c.h; y++)
                                memset(&added[y][c.x], 1, (size_t) c.w);

                check_invariants(&r, covered);
                max_seen = r.n > max_seen ? r.n : max_seen;
                for (int y = 0; y < H; y++)
                        for (int x = 0; x < W; x++) {
                                if (added[y][x])
                                        check(covered[y][x]); /* never lose a dirty pixel */
                                if (exact)
                                        check(covered[y][x] == added[y][x]);
                        }
        }
        region_done(&r);
}

static void test_bands_merge(void) {
        Region r = {};
        /* QEMU's VGA: full-width runs of lines, in any order. */
        for (int y = 0; y < 480; y += 2)
                check(region_add(&r, (Rect) { 0, y, 640, 1 }) == 0);
        for (int y = 1; y < 480; y += 2)
                check(region_add(&r, (Rect) { 0, y, 640, 1 }) == 0);
        check(r.n == 1);
        check(memcmp(&r.rects[0], &(Rect) { 0, 0, 640, 480 }, sizeof(Rect)) == 0);

        /* Text-mode cells along a row. */
        region_clear(&r);
        check(region_is_empty(&r));
        for (int x = 0; x < 80; x++)
                check(region_add(&r, (Rect) { x * 9, 32, 9, 16 }) == 0);
        check(r.n == 1 && r.rects[0].w == 720 && r.rects[0].h == 16);

        /* A cell already covered changes nothing. */
        check(region_add(&r, (Rect) { 90, 36, 4, 4 }) == 0);
        check(r.n == 1 && region_area(&r) == 720 * 16);
        region_done(&r);
        check(r.rects == NULL && r.n == 0 && r.cap == 0);
}

static void test_overlap_exact(void) {
        Region r = {};
        check(region_add(&r, (Rect) { 0, 0, 10, 10 }) == 0);
        check(region_add(&r, (Rect) { 5, 5, 10, 10 }) == 0);
        check(region_area(&r) == 175);
        Rect b = region_bounds(&r);
        check(b.x == 0 && b.y == 0 && b.w == 15 && b.h == 15);

        /* A big rectangle swallowing the others leaves exactly one. */
        check(region_add(&r, (Rect) { -1, -1, 20, 20 }) == 0);
        check(r.n == 1 && region_area(&r) == 400);

        /* Empty and negative sizes are ignored. */
        check(region_add(&r, (Rect) { 100, 100, 0, 5 }) == 0);
        check(region_add(&r, (Rect) { 100, 100, -5, 5 }) == 0);
        check(r.n == 1);
        region_done(&r);
}

static void test_bounded(void) {
        Region r = {};
        static uint8_t covered[H][W];
        /* A grid of isolated pixels: far more than fits, so it must coalesce. */
        for (int y = 0; y < H; y += 3)
                for (int x = 0; x < W; x += 3) {
                        check(region_add(&r, (Rect) { x, y, 1, 1 }) == 0);
                        check(r.n <= REGION_MAX_RECTS);
                }
        check_invariants(&r, covered);
        for (int y = 0; y < H; y += 3)
                for (int x = 0; x < W; x += 3)
                        check(covered[y][x]);
        region_done(&r);
}

static void test_extremes(void) {
        Region r = {};
        /* Coordinates whose sums overflow int32_t. */
        check(region_add(&r, (Rect) { INT32_MAX, INT32_MAX, INT32_MAX, INT32_MAX }) == 0);
        check(region_add(&r, (Rect) { INT32_MIN, INT32_MIN, INT32_MAX, INT32_MAX }) == 0);
        check(region_add(&r, (Rect) { INT32_MIN, INT32_MIN, INT32_MAX, 5 }) == 0);
        check(region_add(&r, (Rect) { -5, -5, INT32_MAX, INT32_MAX }) == 0);
        check(region_add(&r, (Rect) { INT32_MIN, 0, INT32_MAX, 10 }) == 0);
        Rect b = region_bounds(&r);
        check(!rect_is_empty(b));
        check(rect_contains(b, (Rect) { 0, 0, 1000, 1000 }));
        region_clip(&r, 640, 480);
        check(r.n >= 1 && region_area(&r) == 640 * 480);
        region_done(&r);

        Rect a = { INT32_MAX, 0, INT32_MAX, 10 };
        check(!rect_clip(&a, 640, 480));
        check(rect_is_empty(a));
        a = (Rect) { -10, -10, 20, 20 };
        check(rect_clip(&a, 640, 480));
        check(a.x == 0 && a.y == 0 && a.w == 10 && a.h == 10);
        a = (Rect) { 630, 470, 20, 20 };
        check(rect_clip(&a, 640, 480) && a.w == 10 && a.h == 10);
        a = (Rect) { 0, 0, 10, 10 };
        check(!rect_clip(&a, 0, 480));

        Rect i = rect_intersect((Rect) { 0, 0, 10, 10 }, (Rect) { 10, 0, 10, 10 });
        check(rect_is_empty(i)); /* touching is not overlapping */
        i = rect_intersect((Rect) { INT32_MIN, INT32_MIN, INT32_MAX, INT32_MAX }, (Rect) { -2, -2, 10, 10 });
        check(i.x == -2 && i.y == -2 && i.w == 1 && i.h == 1);
}

static void test_copy_set_clip(void) {
        Region a = {}, b = {};
        check(region_add(&a, (Rect) { 0, 0, 10, 10 }) == 0);
        check(region_add(&a, (Rect) { 50, 50, 10, 10 }) == 0);
        check(region_copy(&b, &a) == 0);
        check(b.n == a.n && memcmp(b.rects, a.rects, a.n * sizeof(Rect)) == 0);
        check(region_copy(&b, &b) == 0 && b.n == 2);

        region_clip(&b, 55, 55);
        check(region_area(&b) == 100 + 25);
        region_clip(&b, 5, 5);
        check(b.n == 1 && region_area(&b) == 25);
        region_clip(&b, 0, 0);
        check(region_is_empty(&b));
        Rect e = region_bounds(&b);
        check(e.x == 0 && e.y == 0 && e.w == 0 && e.h == 0);

        check(region_set(&a, (Rect) { 1, 2, 3, 4 }) == 0);
        check(a.n == 1 && region_area(&a) == 12);
        check(region_set(&a, (Rect) { 1, 2, 0, 4 }) == 0);
        check(region_is_empty(&a));

        Region empty = {};
        check(region_copy(&b, &empty) == 0 && region_is_empty(&b));
        region_done(&a);
        region_done(&b);
        region_done(&empty);
}

int main(void) {
        test_bands_merge();
        test_overlap_exact();
        test_bounded();
        test_extremes();
        test_copy_set_clip();
        for (unsigned seed = 1; seed <= 40; seed++) {
                rng_state = 0x9e3779b97f4a7c15ull * seed;
                test_property(120, seed % 2 ? 12 : 60);
        }
        check(max_seen == REGION_MAX_RECTS);
        printf("test-region: ok\n");
        return 0;
}
