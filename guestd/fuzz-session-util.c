/* The session helper's parsers of untrusted input: the first byte picks one, the rest is its
 * input. 0: _NET_WM_ICON data (an X client's) into the icon picker; 1: a sequence of clipboard
 * chunks (the peer's: total, offset, length, bytes) into the reassembly; 2: bytes into the UTF-8
 * clean-up and the Latin-1 conversions. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "session-text.h"
#include "session-transfer.h"
#include "x11-icon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t get_u32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        uint8_t kind = data[0] % 3;
        data++, size--;
        if (kind == 0) {
                /* 4 bytes an item; small sizes are likely this way. */
                size_t n = size / 4;
                unsigned long *items = malloc((n ? n : 1) * sizeof(unsigned long));
                if (!items)
                        return 0;
                for (size_t i = 0; i < n; i++)
                        items[i] = get_u32(data + i * 4) & (i % 2 == 0 ? 0xff : 0xffffffff);
                static uint8_t argb[X11_ICON_MAX * X11_ICON_MAX * 4];
                unsigned w, h;
                if (x11_icon_pick(items, n, argb, &w, &h) == 0 && (w == 0 || h == 0 || w > 64 || h > 64))
                        abort();
                free(items);
        } else if (kind == 1) {
                ClipTransfer t;
                clip_transfer_init(&t, 4096);
                while (size >= 9) {
                        uint32_t total = get_u32(data) & 0x1fff, offset = get_u32(data + 4) & 0x1fff;
                        size_t len = data[8] < size - 9 ? data[8] : size - 9;
                        int r = clip_transfer_feed(&t, total, offset, data + 9, len);
                        if (r == 1) {
                                size_t got;
                                free(clip_transfer_steal(&t, &got));
                                if (got != total)
                                        abort();
                        }
                        data += 9 + len, size -= 9 + len;
                }
                clip_transfer_reset(&t);
        } else {
                char *out = malloc(size + 1);
                uint8_t *u = malloc(size * 2 + 1), *l = malloc(size + 1);
                if (out && u && l) {
                        size_t n = utf8_sanitize(data, size, out, size), len;
                        /* What comes out is clean: again is the same. */
                        if (utf8_sanitize((const uint8_t *) out, n, (char *) l, size) != n || memcmp(l, out, n) != 0)
                                abort();
                        if (latin1_to_utf8(data, size, u, size * 2, &len) < 0)
                                abort();
                        (void) utf8_to_latin1(data, size, l);
                }
                free(out), free(u), free(l);
        }
        return 0;
}
