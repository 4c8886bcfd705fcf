/* The pointer of one console, from QEMU's CursorDefine and MouseSet listener calls. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* QEMU's own cursor limit is far lower (virtio-gpu: 64x64); this only bounds what we copy. */
#define CURSOR_MAX_DIM 512

typedef struct Cursor {
        int32_t width, height, hot_x, hot_y; /* 0x0 until the first CursorDefine */
        /* width * height * 4 bytes, exactly as QEMU sends them: a8r8g8b8 words in host order
         * (bytes B,G,R,A). Premultiplication is as the guest made it (DRM cursor planes are
         * premultiplied); we pass the image on untouched. */
        uint8_t *pixels;
        int32_t x, y; /* position of the hotspot in framebuffer coordinates */
        bool visible;
        uint64_t serial; /* bumped by every new shape, so senders know to resend it */
} Cursor;

/* A zeroed Cursor is initialised: no shape, hidden. */
void cursor_init(Cursor *c);
void cursor_done(Cursor *c);

/* A new shape. Returns 0; -EINVAL when w or h is outside 1..CURSOR_MAX_DIM or the hotspot lies
 * outside the image; -EBADMSG when len != w * h * 4; -ENOMEM. On error c is unchanged. */
int cursor_define(Cursor *c, int32_t w, int32_t h, int32_t hot_x, int32_t hot_y, const uint8_t *data, size_t len);

/* MouseSet: any position is accepted (a pointer may sit partly off screen). */
void cursor_set_position(Cursor *c, int32_t x, int32_t y, bool visible);
