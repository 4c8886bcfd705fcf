/* Which parts of the screen a viewer holds only as lossy (JPEG) pixels: per cell of the
 * encoder's 64x64 grid, the bounding box of what was sent lossy there and has not been sent
 * exactly since. Boxes only ever over-approximate, so build-to-lossless may resend a few exact
 * pixels but never leaves a lossy one behind. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "region.h"

#define ENCODER_CELL 64

typedef struct LossyMap {
        Rect *cells; /* cols * rows; an empty Rect: nothing lossy in that cell */
        uint32_t width, height, cols, rows;
        size_t count; /* cells with something lossy */
} LossyMap;

/* Sizes the map for a width x height mode (within the framebuffer caps) and forgets everything.
 * Returns 0 or -ENOMEM (then the map is unchanged). */
int lossy_map_reset(LossyMap *m, uint32_t width, uint32_t height);
void lossy_map_done(LossyMap *m);

/* r (inside the mode) was sent lossy. */
void lossy_map_add(LossyMap *m, Rect r);
/* r (inside the mode) was sent exactly: lossy boxes inside it are dropped, and boxes from which it
 * cuts a whole band at an edge shrink; any other overlap leaves a box as it is. */
void lossy_map_subtract(LossyMap *m, Rect r);

static inline Rect lossy_map_cell(const LossyMap *m, size_t i) {
        return m->cells[i];
}
