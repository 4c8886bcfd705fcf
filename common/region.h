/* Rectangles and dirty regions. A Region is a set of disjoint rectangles whose union is always a
 * superset of everything added to it: it may grow (rectangles are coalesced to keep the count at
 * REGION_MAX_RECTS at most) but never loses a pixel. Adding is cheap for the stream of small,
 * mostly adjacent rectangles a display produces. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Rect {
        int32_t x, y, w, h;
} Rect;

/* Disjoint rectangles; n <= REGION_MAX_RECTS between calls. A zeroed Region is an empty one. */
typedef struct Region {
        Rect *rects;
        size_t n, cap;
} Region;

#define REGION_MAX_RECTS 64

/* Regions live in [-REGION_COORD_LIMIT, REGION_COORD_LIMIT) on both axes, so that any bounding
 * box still has a width and height that fit in int32_t. Parts of an added rectangle outside are
 * dropped: they lie far outside any framebuffer. */
#define REGION_COORD_LIMIT ((int32_t) ((1 << 30) - 1))

void region_init(Region *r);
void region_clear(Region *r); /* empty, keeps memory */
void region_done(Region *r);  /* frees memory */

bool rect_is_empty(Rect a);
bool rect_contains(Rect outer, Rect inner); /* an empty inner is contained in anything */
bool rect_overlaps(Rect a, Rect b);
/* The common part, or {0,0,0,0} when there is none. */
Rect rect_intersect(Rect a, Rect b);
/* The smallest rectangle holding both (an empty one adds nothing); both inside the coordinate
 * domain, where the box always fits. */
Rect rect_bbox(Rect a, Rect b);
uint64_t rect_area(Rect a); /* 0 when empty */
/* Clips *a to (0,0,width,height); false (and *a set to {0,0,0,0}) when nothing is left. */
bool rect_clip(Rect *a, int32_t width, int32_t height);

/* Adds a to the union. Returns 0 or -ENOMEM; on failure r is unchanged. */
int region_add(Region *r, Rect a);
/* Replaces the contents with a alone. Returns 0 or -ENOMEM; on failure r is unchanged. */
int region_set(Region *r, Rect a);
bool region_is_empty(const Region *r);
/* The bounding box, {0,0,0,0} when empty. */
Rect region_bounds(const Region *r);
uint64_t region_area(const Region *r);
/* Makes dst a copy of src. Returns 0 or -ENOMEM; on failure dst is unchanged. */
int region_copy(Region *dst, const Region *src);
void region_clip(Region *r, int32_t width, int32_t height);
