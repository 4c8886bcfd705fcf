/* A growable byte buffer with a hard limit: the bounded send and receive buffers every peer gets.
 * Data is appended at the tail and consumed from the front; consuming is O(1) (the front moves)
 * and the space is reclaimed by moving the data down only when the tail needs it. The memory
 * held never exceeds the limit. */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct Buffer {
        uint8_t *data;
        size_t start; /* offset of the first byte held */
        size_t len;   /* bytes held */
        size_t cap;   /* bytes allocated, <= limit */
        size_t limit; /* most bytes ever held (and allocated) */
} Buffer;

#define BUFFER_INIT(l) { .limit = (l) }

void buffer_init(Buffer *b, size_t limit);
/* Frees the memory; b is an empty buffer with the same limit afterwards. */
void buffer_done(Buffer *b);

/* Heap-allocated buffers, for owners that do not embed one. buffer_free() accepts NULL. */
int buffer_new(size_t limit, Buffer **ret);
Buffer *buffer_free(Buffer *b);

static inline const uint8_t *buffer_data(const Buffer *b) {
        return b->data ? b->data + b->start : NULL;
}

static inline size_t buffer_len(const Buffer *b) {
        return b->len;
}

/* Bytes that can still be appended before the limit. */
static inline size_t buffer_room(const Buffer *b) {
        return b->limit - b->len;
}

/* Makes n bytes writable after the data and points *ret at them, without counting them as held
 * yet (see buffer_commit()). Returns 0, -ENOBUFS when the limit would be exceeded, or -ENOMEM.
 * Pointers from buffer_data() are invalid afterwards (the data may move). */
int buffer_reserve(Buffer *b, size_t n, uint8_t **ret);
/* Counts n bytes written into reserved space as held; n is at most what was reserved. */
void buffer_commit(Buffer *b, size_t n);
/* Appends n bytes, or nothing: 0, -ENOBUFS or -ENOMEM. */
int buffer_append(Buffer *b, const void *p, size_t n);
/* Drops n bytes (at most buffer_len()) from the front. */
void buffer_consume(Buffer *b, size_t n);
/* Drops the bytes after the first len (nothing when len >= buffer_len()): undoes appends, e.g.
 * of frames that turned out not to fit. Bytes already offered to a write that said -EAGAIN
 * are older than any append since, so they survive as long as len covers them. */
void buffer_truncate(Buffer *b, size_t len);
/* Drops everything, keeps the memory. */
void buffer_clear(Buffer *b);

static inline void buffer_freep(Buffer **b) {
        buffer_free(*b);
}
