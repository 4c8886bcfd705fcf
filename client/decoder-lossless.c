/* Lossless tiles (codec 2): the zstd frame is checked from its header before anything is
 * decompressed (one frame, declared content size within what w x h allows, no dictionary), then
 * decompressed in one shot into a buffer of exactly that size, then the mode's layout must
 * account for every byte. */
#include <errno.h>
#include <string.h>

#include "decoder-internal.h"
#include "display-codec.h"

static inline uint32_t rgb(const uint8_t *p) {
        return 0xff000000u | (uint32_t) p[0] << 16 | (uint32_t) p[1] << 8 | p[2];
}

static int decode_raw(const uint8_t *body, size_t len, uint32_t *out, size_t pixels) {
        if (len != 3 * pixels)
                return -EBADMSG;
        for (size_t i = 0; i < pixels; i++)
                out[i] = rgb(body + 3 * i);
        return 0;
}

static inline uint8_t predict(int left, int up, int upleft) {
        int v = left + up - upleft;
        return (uint8_t) (v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Rebuilds pixels in raster order; the neighbours are read back from `out` (as bytes B,G,R,X:
 * channel c of the wire's R,G,B is byte 2 - c). */
static int decode_gradient(const uint8_t *body, size_t len, uint32_t *out, unsigned w, unsigned h) {
        if (len != 3 * (size_t) w * h)
                return -EBADMSG;
        uint8_t *o = (uint8_t *) out;
        size_t row = 4 * (size_t) w;
        for (unsigned y = 0; y < h; y++)
                for (unsigned x = 0; x < w; x++, body += 3) {
                        uint8_t *p = o + y * row + 4 * (size_t) x;
                        for (int c = 0; c < 3; c++) {
                                int k = 2 - c;
                                int left = x ? p[k - 4] : 0, up = y ? p[k - (ptrdiff_t) row] : 0;
                                int upleft = x && y ? p[k - (ptrdiff_t) row - 4] : 0;
                                p[k] = (uint8_t) (body[c] + predict(left, up, upleft));
                        }
                        p[3] = 0xff;
                }
        return 0;
}

/* Count byte and palette; *n gets the count, *pal the colours. Returns the header size or
 * -EBADMSG. */
static int read_palette(const uint8_t *body, size_t len, uint32_t pal[static LOSSLESS_PALETTE_MAX], unsigned *n) {
        if (len < 1)
                return -EBADMSG;
        unsigned count = (unsigned) body[0] + 1;
        if (len < 1 + 3 * (size_t) count)
                return -EBADMSG;
        for (unsigned i = 0; i < count; i++)
                pal[i] = rgb(body + 1 + 3 * i);
        *n = count;
        return (int) (1 + 3 * count);
}

static int decode_palette(const uint8_t *body, size_t len, uint32_t *out, unsigned w, unsigned h) {
        uint32_t pal[LOSSLESS_PALETTE_MAX];
        unsigned n;
        int k = read_palette(body, len, pal, &n);
        if (k < 0)
                return k;
        body += k;
        len -= (size_t) k;

        unsigned bits = lossless_index_bits(n), per = 8 / bits, mask = (1u << bits) - 1;
        size_t row = lossless_packed_row(w, bits);
        if (len != row * h)
                return -EBADMSG;
        for (unsigned y = 0; y < h; y++, body += row, out += w)
                for (unsigned x = 0; x < w; x++) {
                        unsigned shift = 8 - bits * (x % per + 1);
                        unsigned i = (body[x / per] >> shift) & mask;
                        if (i >= n)
                                return -EBADMSG;
                        out[x] = pal[i];
                }
        return 0;
}

static int decode_palette_rle(const uint8_t *body, size_t len, uint32_t *out, size_t pixels) {
        uint32_t pal[LOSSLESS_PALETTE_MAX];
        unsigned n;
        int k = read_palette(body, len, pal, &n);
        if (k < 0)
                return k;

        size_t pos = (size_t) k, done = 0;
        while (pos < len) {
                unsigned i = body[pos++];
                if (i >= n)
                        return -EBADMSG;
                /* LEB128, at most LOSSLESS_RUN_BYTES_MAX bytes, minimal. */
                size_t run = 0;
                for (unsigned b = 0;; b++) {
                        if (pos >= len || b == LOSSLESS_RUN_BYTES_MAX)
                                return -EBADMSG;
                        uint8_t v = body[pos++];
                        if (b > 0 && v == 0)
                                return -EBADMSG;
                        run |= (size_t) (v & 0x7f) << (7 * b);
                        if (!(v & 0x80))
                                break;
                }
                run++;
                if (run > pixels - done)
                        return -EBADMSG;
                for (size_t j = 0; j < run; j++)
                        out[done + j] = pal[i];
                done += run;
        }
        return done == pixels ? 0 : -EBADMSG;
}

int decode_lossless(ZSTD_DCtx *zd, uint8_t *content, uint32_t *out, unsigned w, unsigned h, const uint8_t *data,
                    size_t len) {
        if (len == 0 || len > DISPLAY_TILE_DATA_MAX)
                return -EBADMSG;

        /* One frame, nothing after it, its size declared and within bounds: all from the header. */
        size_t frame = ZSTD_findFrameCompressedSize(data, len);
        if (ZSTD_isError(frame) || frame != len)
                return -EBADMSG;
        unsigned long long size = ZSTD_getFrameContentSize(data, len);
        if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR || size < 1 ||
            size > lossless_content_max(w, h))
                return -EBADMSG;
        if (ZSTD_getDictID_fromFrame(data, len) != 0)
                return -EBADMSG;

        size_t n = ZSTD_decompressDCtx(zd, content, (size_t) size, data, len);
        if (ZSTD_isError(n) || n != size)
                return -EBADMSG;

        const uint8_t *body = content + 1;
        size_t body_len = n - 1, pixels = (size_t) w * h;
        switch (content[0]) {
        case LOSSLESS_RAW:
                return decode_raw(body, body_len, out, pixels);
        case LOSSLESS_PALETTE:
                return decode_palette(body, body_len, out, w, h);
        case LOSSLESS_PALETTE_RLE:
                return decode_palette_rle(body, body_len, out, pixels);
        case LOSSLESS_GRADIENT:
                return decode_gradient(body, body_len, out, w, h);
        default:
                return -EBADMSG;
        }
}
