/* Fuzzes the display listener's inputs: the input is a sequence of Scanout, Update, Disable,
 * CursorDefine and MouseSet calls whose header fields come from the input and whose pixel data is
 * the following bytes, copied into a buffer of exactly the claimed length so that any read past
 * it trips ASan. After every call the framebuffer's invariants are checked. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hostd-cursor.h"
#include "hostd-framebuffer.h"

typedef struct {
        const uint8_t *p;
        size_t n;
} Input;

static uint32_t take(Input *in, size_t bytes) {
        uint32_t v = 0;
        for (size_t i = 0; i < bytes && in->n > 0; i++, in->p++, in->n--)
                v |= (uint32_t) *in->p << (8 * i);
        return v;
}

/* Mostly plausible values, sometimes anything: bit `which` of flags picks a raw 32-bit value. */
static int32_t field(Input *in, uint8_t flags, int which, uint32_t small_max) {
        if (flags & (1u << which))
                return (int32_t) take(in, 4);
        return (int32_t) (take(in, 2) % (small_max + 1));
}

static uint32_t format(Input *in) {
        static const uint32_t formats[] = {
                FB_FORMAT_X8R8G8B8, FB_FORMAT_A8R8G8B8, FB_FORMAT_X8B8G8R8, FB_FORMAT_A8B8G8R8,
                FB_FORMAT_B8G8R8X8, FB_FORMAT_B8G8R8A8, FB_FORMAT_R8G8B8X8, FB_FORMAT_R8G8B8A8,
                FB_FORMAT_R8G8B8,   FB_FORMAT_B8G8R8,   FB_FORMAT_R5G6B5,   FB_FORMAT_X1R5G5B5,
        };
        uint8_t i = (uint8_t) take(in, 1);
        if (i < sizeof(formats) / sizeof(formats[0]))
                return formats[i];
        if (i == 0xff)
                return take(in, 4);
        return formats[i % (sizeof(formats) / sizeof(formats[0]))];
}

/* A stride near a row of w pixels (sometimes short), or anything. */
static uint32_t stride(Input *in, uint8_t flags, int32_t w, uint32_t fmt) {
        if (flags & 0x80)
                return take(in, 4);
        int64_t s = (int64_t) w * framebuffer_format_bytes(fmt) + (int8_t) take(in, 1);
        return s < 0 ? 0 : (uint32_t) s;
}

/* The next len bytes in a buffer of exactly that size (NULL for 0 or when out of input). */
static uint8_t *payload(Input *in, size_t *len) {
        size_t want = take(in, 3);
        want = want < in->n ? want : in->n;
        uint8_t *d = want ? malloc(want) : NULL;
        if (d)
                memcpy(d, in->p, want);
        in->p += want;
        in->n -= want;
        *len = d ? want : 0;
        return d;
}

static void check_invariants(const Framebuffer *fb, const Cursor *c) {
        if (fb->dirty.n > REGION_MAX_RECTS)
                abort();
        if (fb->pixels && fb->stride != fb->width * 4)
                abort();
        for (size_t i = 0; i < fb->dirty.n; i++) {
                Rect a = fb->dirty.rects[i];
                if (rect_is_empty(a) || a.x < 0 || a.y < 0 || (int64_t) a.x + a.w > fb->width ||
                    (int64_t) a.y + a.h > fb->height)
                        abort();
                for (size_t j = i + 1; j < fb->dirty.n; j++)
                        if (rect_overlaps(a, fb->dirty.rects[j]))
                                abort();
        }
        if (c->pixels && (c->width < 1 || c->height < 1 || c->width > CURSOR_MAX_DIM || c->height > CURSOR_MAX_DIM ||
                          c->hot_x < 0 || c->hot_x >= c->width || c->hot_y < 0 || c->hot_y >= c->height))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Input in = { data, size };
        Framebuffer *fb = framebuffer_new();
        Cursor cursor = {};
        if (!fb)
                return 0;

        while (in.n > 0) {
                uint8_t op = (uint8_t) take(&in, 1), flags = (uint8_t) take(&in, 1);
                size_t len;
                uint8_t *d;

                switch (op % 7) {
                case 0: { /* Scanout */
                        int32_t w = field(&in, flags, 0, 300), h = field(&in, flags, 1, 300);
                        uint32_t fmt = format(&in), s = stride(&in, flags, w, fmt);
                        d = payload(&in, &len);
                        (void) framebuffer_scanout(fb, (uint32_t) w, (uint32_t) h, s, fmt, d, len);
                        free(d);
                        break;
                }
                case 1: { /* Update */
                        int32_t x = field(&in, flags, 0, 300), y = field(&in, flags, 1, 300);
                        int32_t w = field(&in, flags, 2, 300), h = field(&in, flags, 3, 300);
                        uint32_t fmt = format(&in), s = stride(&in, flags, w, fmt);
                        d = payload(&in, &len);
                        (void) framebuffer_update(fb, x, y, w, h, s, fmt, d, len);
                        free(d);
                        break;
                }
                case 2: /* Disable */
                        framebuffer_disable(fb);
                        break;
                case 3: { /* CursorDefine */
                        int32_t w = field(&in, flags, 0, 70), h = field(&in, flags, 1, 70);
                        int32_t hx = field(&in, flags, 2, 70), hy = field(&in, flags, 3, 70);
                        d = payload(&in, &len);
                        (void) cursor_define(&cursor, w, h, hx, hy, d, len);
                        free(d);
                        break;
                }
                case 4: /* MouseSet */
                        cursor_set_position(&cursor, (int32_t) take(&in, 4), (int32_t) take(&in, 4), flags & 1);
                        break;
                case 5: /* the encoder took the dirty pixels */
                        region_clear(&fb->dirty);
                        break;
                case 6: { /* export what is there */
                        size_t rgb_len = (size_t) fb->width * fb->height * 3;
                        uint8_t *rgb = malloc(rgb_len ? rgb_len : 1);
                        if (rgb)
                                (void) framebuffer_to_rgb(fb, rgb, rgb_len);
                        free(rgb);
                        break;
                }
                }
                check_invariants(fb, &cursor);
        }

        cursor_done(&cursor);
        framebuffer_free(fb);
        return 0;
}
