/* RFC 9000 §16 variable-length integers: the two top bits of the first byte give the length (1, 2,
 * 4 or 8 bytes), the rest is the value in network byte order, below 2^62. */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#define RUDP_VARINT_MAX ((UINT64_C(1) << 62) - 1)

static inline size_t rudp_varint_size(uint64_t v) {
        return v < 64 ? 1 : v < 16384 ? 2 : v < (UINT64_C(1) << 30) ? 4 : 8;
}

/* Bytes read (1..8), or -EBADMSG when p is too short. *ret untouched on failure. */
static inline int rudp_varint_get(const uint8_t *p, size_t len, uint64_t *ret) {
        if (len < 1)
                return -EBADMSG;
        size_t n = (size_t) 1 << (p[0] >> 6);
        if (len < n)
                return -EBADMSG;
        uint64_t v = p[0] & 0x3f;
        for (size_t i = 1; i < n; i++)
                v = v << 8 | p[i];
        *ret = v;
        return (int) n;
}

/* Bytes written, or -ENOBUFS (nothing written) when size is too small; v must be <= RUDP_VARINT_MAX
 * (larger values are a caller bug and are refused with -ERANGE). */
static inline int rudp_varint_put(uint8_t *p, size_t size, uint64_t v) {
        if (v > RUDP_VARINT_MAX)
                return -ERANGE;
        size_t n = rudp_varint_size(v);
        if (size < n)
                return -ENOBUFS;
        static const uint8_t prefix[9] = { [1] = 0x00, [2] = 0x40, [4] = 0x80, [8] = 0xc0 };
        for (size_t i = n; i > 0; i--) {
                p[i - 1] = (uint8_t) v;
                v >>= 8;
        }
        p[0] |= prefix[n];
        return (int) n;
}
