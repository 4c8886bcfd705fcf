/* Picks a window's icon from _NET_WM_ICON for the agent protocol's window-icon (at most
 * X11_ICON_MAX x X11_ICON_MAX). The property is a list of icons, each width, height, then
 * width * height ARGB pixels, as CARDINALs (Xlib hands them over as unsigned longs). The client
 * that set it is untrusted: sizes are checked against what is really there. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define X11_ICON_MAX 64

/* The icon nearest to X11_ICON_MAX that fits, or, when none fits, the smallest one scaled down
 * (nearest neighbour, aspect kept). Writes ARGB pixels as little-endian u32 (B, G, R, A bytes)
 * into argb (X11_ICON_MAX * X11_ICON_MAX * 4 bytes). Returns 0 and the size, or -ENOENT when the
 * list holds no usable icon. */
int x11_icon_pick(const unsigned long *data, size_t n, uint8_t *argb, unsigned *ret_width, unsigned *ret_height);
