/* Display resize through RandR 1.2: a mode of the asked size is found among the server's modes
 * or created (as `xrandr --newmode/--addmode' would), added to the first connected output, set on
 * its CRTC, and the screen resized to match.
 *
 * Xvfb (21.1) has one output, "screen", and accepts any size up to the size it was started with
 * (-screen WxHxD): that is its maximum, larger sizes fail. Modes are resources of the client
 * that created them: when this helper's connection closes, its modes go and Xvfb returns to its
 * start-up size. */
#pragma once

#include <stdint.h>

#include "x11-display.h"

/* Returns AGENT_STATUS_OK, _FAILED or _UNSUPPORTED (no RandR 1.2 or no connected output), and
 * the screen's size afterwards. */
uint8_t x11_randr_resize(X11 *x, uint32_t width, uint32_t height, uint32_t *ret_width, uint32_t *ret_height);
