/* Cursor shape and position. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hostd-cursor.h"

void cursor_init(Cursor *c) {
        *c = (Cursor) {};
}

void cursor_done(Cursor *c) {
        free(c->pixels);
        cursor_init(c);
}

int cursor_define(Cursor *c, int32_t w, int32_t h, int32_t hot_x, int32_t hot_y, const uint8_t *data, size_t len) {
        if (w < 1 || h < 1 || w > CURSOR_MAX_DIM || h > CURSOR_MAX_DIM)
                return -EINVAL;
        if (hot_x < 0 || hot_y < 0 || hot_x >= w || hot_y >= h)
                return -EINVAL;
        size_t size = (size_t) w * (size_t) h * 4;
        if (len != size)
                return -EBADMSG;

        uint8_t *pixels = c->pixels;
        if (!pixels || (size_t) c->width * (size_t) c->height * 4 != size) {
                pixels = malloc(size);
                if (!pixels)
                        return -ENOMEM;
                free(c->pixels);
                c->pixels = pixels;
        }
        memcpy(pixels, data, size);
        c->width = w;
        c->height = h;
        c->hot_x = hot_x;
        c->hot_y = hot_y;
        c->serial++;
        return 0;
}

void cursor_set_position(Cursor *c, int32_t x, int32_t y, bool visible) {
        c->x = x;
        c->y = y;
        c->visible = visible;
}
