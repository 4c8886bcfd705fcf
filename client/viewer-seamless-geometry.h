/* The arithmetic of seamless windows, kept pure so tests can drive it: which part of the guest's
 * framebuffer a guest window shows (a window may hang off the screen's edges), where a point in
 * the local window lands in the guest, and how local screen positions map to guest positions.
 * The local screen shows the guest's framebuffer at an origin (the local desktop's top-left):
 * guest (x, y) is local (origin_x + x, origin_y + y). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct SeamlessRect {
        int32_t x, y;
        int32_t w, h;
} SeamlessRect;

/* The part of win (framebuffer pixels) inside a fb_w x fb_h framebuffer: ret_src in framebuffer
 * pixels, ret_dst where it goes in the local window (the window's own top-left is 0, 0; the rest
 * of the window shows nothing). False when no pixel of win is on the framebuffer. */
bool seamless_cut(const SeamlessRect *win, uint32_t fb_w, uint32_t fb_h, SeamlessRect *ret_src, SeamlessRect *ret_dst);

/* A point of the local window (lx, ly: may be outside it while a button is held) in framebuffer
 * pixels, clamped to the framebuffer (input always lands on the screen). */
void seamless_point_to_guest(const SeamlessRect *win, int32_t lx, int32_t ly, uint32_t fb_w, uint32_t fb_h,
                             uint32_t *ret_x, uint32_t *ret_y);

/* Local screen position of a guest window's top-left, and back. */
void seamless_to_local(int32_t origin_x, int32_t origin_y, int32_t gx, int32_t gy, int32_t *ret_x, int32_t *ret_y);
void seamless_from_local(int32_t origin_x, int32_t origin_y, int32_t lx, int32_t ly, int32_t *ret_x, int32_t *ret_y);

/* Whether the local window's geometry (local screen position and size) is what the guest said
 * (win): then a move or resize event is the echo of our own placement, not the user's, and
 * sends nothing. */
bool seamless_same_geometry(const SeamlessRect *win, int32_t origin_x, int32_t origin_y, int32_t lx, int32_t ly,
                            int32_t lw, int32_t lh);
