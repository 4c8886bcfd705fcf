/* Bounded byte buffer. Growth doubles (capped at the limit) so appends are amortised O(1). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "macro.h"

void buffer_init(Buffer *b, size_t limit) {
        *b = (Buffer) BUFFER_INIT(limit);
}

void buffer_done(Buffer *b) {
        free(b->data);
        buffer_init(b, b->limit);
}

int buffer_new(size_t limit, Buffer **ret) {
        Buffer *b = malloc(sizeof(Buffer));
        if (!b)
                return -ENOMEM;
        buffer_init(b, limit);
        *ret = b;
        return 0;
}

Buffer *buffer_free(Buffer *b) {
        if (b) {
                free(b->data);
                free(b);
        }
        return NULL;
}

int buffer_reserve(Buffer *b, size_t n, uint8_t **ret) {
        if (n > b->limit - b->len)
                return -ENOBUFS;
        if (n == 0 && !b->data) {
                *ret = NULL; /* no arithmetic on NULL, even + 0 */
                return 0;
        }
        size_t need = b->len + n;

        if (b->cap - b->start - b->len < n) {
                if (b->cap >= need) {
                        /* Enough memory, just not at the tail: move the data down. */
                        memmove(b->data, b->data + b->start, b->len);
                        b->start = 0;
                } else {
                        size_t cap = MAX(b->cap, (size_t) 256);
                        while (cap < need)
                                cap = cap > b->limit / 2 ? b->limit : cap * 2;
                        cap = MIN(cap, b->limit);
                        /* A fresh block rather than realloc: realloc would copy the consumed
                         * front too, then we would move the rest down again. */
                        uint8_t *d = malloc(cap);
                        if (!d)
                                return -ENOMEM;
                        if (b->len > 0)
                                memcpy(d, b->data + b->start, b->len);
                        free(b->data);
                        b->data = d;
                        b->cap = cap;
                        b->start = 0;
                }
        }
        *ret = b->data + b->start + b->len;
        return 0;
}

void buffer_commit(Buffer *b, size_t n) {
        /* Callers commit what they reserved; clamping keeps a bug from corrupting the state. */
        b->len += MIN(n, b->cap - b->start - b->len);
}

int buffer_append(Buffer *b, const void *p, size_t n) {
        uint8_t *q;
        int r;

        if (n == 0)
                return 0;
        r = buffer_reserve(b, n, &q);
        if (r < 0)
                return r;
        memcpy(q, p, n);
        buffer_commit(b, n);
        return 0;
}

void buffer_consume(Buffer *b, size_t n) {
        n = MIN(n, b->len);
        b->len -= n;
        /* An empty buffer starts over at the front: no move will ever be needed for it. */
        b->start = b->len == 0 ? 0 : b->start + n;
}

void buffer_truncate(Buffer *b, size_t len) {
        if (len < b->len)
                b->len = len;
        if (b->len == 0)
                b->start = 0;
}

void buffer_clear(Buffer *b) {
        b->start = b->len = 0;
}
