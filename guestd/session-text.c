#include "session-text.h"

#include <errno.h>
#include <stdbool.h>

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when it is not one (overlong forms,
 * surrogates and values past U+10FFFF are invalid). *ret_cp gets the code point. */
static size_t utf8_next(const uint8_t *p, size_t len, uint32_t *ret_cp) {
        uint8_t c = p[0];
        size_t n;
        uint32_t cp, min;

        if (c < 0x80) {
                *ret_cp = c;
                return 1;
        }
        if ((c & 0xe0) == 0xc0)
                n = 2, cp = c & 0x1f, min = 0x80;
        else if ((c & 0xf0) == 0xe0)
                n = 3, cp = c & 0x0f, min = 0x800;
        else if ((c & 0xf8) == 0xf0)
                n = 4, cp = c & 0x07, min = 0x10000;
        else
                return 0;
        if (n > len)
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (p[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        *ret_cp = cp;
        return n;
}

size_t utf8_sanitize(const uint8_t *src, size_t len, char *dst, size_t max) {
        size_t i = 0, o = 0;
        while (i < len) {
                uint32_t cp;
                size_t n = utf8_next(src + i, len - i, &cp);
                bool bad = n == 0 || cp == 0;
                size_t out = bad ? 1 : n;
                if (o + out > max)
                        break;
                if (bad) {
                        dst[o++] = '?';
                        i += n ? n : 1;
                        continue;
                }
                for (size_t k = 0; k < n; k++)
                        dst[o++] = (char) src[i + k];
                i += n;
        }
        return o;
}

int latin1_to_utf8(const uint8_t *src, size_t len, uint8_t *dst, size_t dst_size, size_t *ret_len) {
        size_t o = 0;
        for (size_t i = 0; i < len; i++) {
                uint8_t c = src[i];
                if (c < 0x80) {
                        if (o + 1 > dst_size)
                                return -ENOBUFS;
                        dst[o++] = c ? c : '?';
                } else {
                        if (o + 2 > dst_size)
                                return -ENOBUFS;
                        dst[o++] = (uint8_t) (0xc0 | (c >> 6));
                        dst[o++] = (uint8_t) (0x80 | (c & 0x3f));
                }
        }
        *ret_len = o;
        return 0;
}

size_t utf8_to_latin1(const uint8_t *src, size_t len, uint8_t *dst) {
        size_t i = 0, o = 0;
        while (i < len) {
                uint32_t cp;
                size_t n = utf8_next(src + i, len - i, &cp);
                if (n == 0) {
                        dst[o++] = '?';
                        i++;
                        continue;
                }
                dst[o++] = cp <= 0xff ? (uint8_t) cp : '?';
                i += n;
        }
        return o;
}
