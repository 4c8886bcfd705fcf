#include "session-transfer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void clip_transfer_init(ClipTransfer *t, uint32_t cap) {
        *t = (ClipTransfer) { .cap = cap };
}

void clip_transfer_reset(ClipTransfer *t) {
        free(t->data);
        clip_transfer_init(t, t->cap);
}

static int fail(ClipTransfer *t, int r) {
        clip_transfer_reset(t);
        return r;
}

int clip_transfer_feed(ClipTransfer *t, uint32_t total, uint32_t offset, const uint8_t *chunk, size_t len) {
        if (!t->started) {
                if (offset != 0)
                        return fail(t, -EPROTO);
                if (total > t->cap)
                        return fail(t, -EMSGSIZE);
                t->started = true;
                t->total = total;
        } else if (total != t->total || offset != t->received)
                return fail(t, -EPROTO);
        if (len > t->total - t->received)
                return fail(t, -EPROTO);
        if (len > 0) {
                size_t need = (size_t) t->received + len;
                if (need > t->allocated) {
                        /* Doubling, but never past what was announced. */
                        size_t n = t->allocated ? t->allocated * 2 : 65536;
                        if (n < need)
                                n = need;
                        if (n > t->total)
                                n = t->total;
                        uint8_t *p = realloc(t->data, n);
                        if (!p)
                                return fail(t, -ENOMEM);
                        t->data = p;
                        t->allocated = n;
                }
                memcpy(t->data + t->received, chunk, len);
                t->received += (uint32_t) len;
        }
        return t->received == t->total ? 1 : 0;
}

uint8_t *clip_transfer_steal(ClipTransfer *t, size_t *ret_len) {
        uint8_t *p = t->data;
        *ret_len = t->received;
        t->data = NULL;
        clip_transfer_reset(t);
        return p;
}
