/* Cursor shapes: validation leaves the old shape in place; positions are taken as given. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "hostd-cursor.h"

static uint8_t image[CURSOR_MAX_DIM * CURSOR_MAX_DIM * 4 + 1];

static void check_shape(const Cursor *c, int32_t w, int32_t h, int32_t hx, int32_t hy, uint8_t fill, uint64_t serial) {
        check(c->width == w && c->height == h && c->hot_x == hx && c->hot_y == hy && c->serial == serial);
        for (size_t i = 0; i < (size_t) w * h * 4; i++)
                check(c->pixels[i] == fill);
}

int main(void) {
        Cursor c;
        cursor_init(&c);
        check(c.pixels == NULL && c.serial == 0 && !c.visible);

        memset(image, 0xab, sizeof(image));
        check(cursor_define(&c, 32, 32, 3, 4, image, 32 * 32 * 4) == 0);
        check_shape(&c, 32, 32, 3, 4, 0xab, 1);

        /* Sizes, hotspots, lengths. */
        check(cursor_define(&c, 0, 32, 0, 0, image, 0) == -EINVAL);
        check(cursor_define(&c, 32, 0, 0, 0, image, 0) == -EINVAL);
        check(cursor_define(&c, -1, 32, 0, 0, image, 32 * 4) == -EINVAL);
        check(cursor_define(&c, 32, INT32_MIN, 0, 0, image, 32 * 4) == -EINVAL);
        check(cursor_define(&c, CURSOR_MAX_DIM + 1, 1, 0, 0, image, sizeof(image)) == -EINVAL);
        check(cursor_define(&c, 1, CURSOR_MAX_DIM + 1, 0, 0, image, sizeof(image)) == -EINVAL);
        check(cursor_define(&c, INT32_MAX, INT32_MAX, 0, 0, image, sizeof(image)) == -EINVAL);
        check(cursor_define(&c, 16, 16, 16, 0, image, 16 * 16 * 4) == -EINVAL);
        check(cursor_define(&c, 16, 16, 0, 16, image, 16 * 16 * 4) == -EINVAL);
        check(cursor_define(&c, 16, 16, -1, 0, image, 16 * 16 * 4) == -EINVAL);
        check(cursor_define(&c, 16, 16, 0, INT32_MIN, image, 16 * 16 * 4) == -EINVAL);
        check(cursor_define(&c, 16, 16, 0, 0, image, 16 * 16 * 4 - 1) == -EBADMSG);
        check(cursor_define(&c, 16, 16, 0, 0, image, 16 * 16 * 4 + 1) == -EBADMSG);
        check(cursor_define(&c, 16, 16, 0, 0, NULL, 0) == -EBADMSG);
        check_shape(&c, 32, 32, 3, 4, 0xab, 1);

        /* Same size reuses, other sizes replace; the edges of the valid ranges are accepted. */
        memset(image, 0x11, sizeof(image));
        check(cursor_define(&c, 32, 32, 31, 31, image, 32 * 32 * 4) == 0);
        check_shape(&c, 32, 32, 31, 31, 0x11, 2);
        check(cursor_define(&c, 1, 1, 0, 0, image, 4) == 0);
        check_shape(&c, 1, 1, 0, 0, 0x11, 3);
        check(cursor_define(&c, CURSOR_MAX_DIM, CURSOR_MAX_DIM, CURSOR_MAX_DIM - 1, 0, image,
                            (size_t) CURSOR_MAX_DIM * CURSOR_MAX_DIM * 4) == 0);
        check_shape(&c, CURSOR_MAX_DIM, CURSOR_MAX_DIM, CURSOR_MAX_DIM - 1, 0, 0x11, 4);

        cursor_set_position(&c, -10, 20, true);
        check(c.x == -10 && c.y == 20 && c.visible && c.serial == 4);
        cursor_set_position(&c, INT32_MAX, INT32_MIN, false);
        check(c.x == INT32_MAX && c.y == INT32_MIN && !c.visible);

        cursor_done(&c);
        check(c.pixels == NULL && c.width == 0);
        cursor_done(&c); /* twice is fine */
        printf("test-cursor: ok\n");
        return 0;
}
