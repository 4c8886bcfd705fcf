/* Where a video stream shows: its rectangle (framebuffer pixels) clipped to its guest window's
 * rectangle (window != 0: from the windows channel's table; a window not in it hides the stream)
 * and to the screen, and the part of the decoded picture that lands there. For every front end
 * (SDL, the web gateway later). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "client-agent.h"
#include "client-media.h"

typedef struct MediaRect {
        int64_t x, y, w, h;
} MediaRect;

/* false when nothing shows (invisible, empty, clipped away, no picture, window gone). Else *dst
 * (framebuffer pixels) and *src (picture pixels, the same part, scaled by the ratio of the
 * stream's rectangle to the picture's size). */
bool client_media_visible_rect(const ClientMediaStream *st, uint32_t pic_width, uint32_t pic_height,
                               const ClientWindows *windows, uint32_t fb_width, uint32_t fb_height, MediaRect *dst,
                               MediaRect *src);
