/* The display channel's tile codecs: numbers, limits and the lossless payload's layout, shared by
 * hostd's encoder and the client's decoder. schema/display-codecs.md is the specification; this
 * header must agree with it. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The `codec` field of a `tile` message. */
#define DISPLAY_CODEC_SOLID 1
#define DISPLAY_CODEC_LOSSLESS 2
#define DISPLAY_CODEC_JPEG 3

/* The `quality` field of exact tiles (solid, lossless); JPEG tiles carry their quality, 1..100. */
#define DISPLAY_QUALITY_EXACT 0

/* A tile is at most this many pixels on a side. */
#define DISPLAY_TILE_MAX_DIM 256u
/* The `tile` message's data blob maximum (schema/wire-protocol.md). */
#define DISPLAY_TILE_DATA_MAX 786432u

/* Lossless: one zstd frame (level LOSSLESS_ZSTD_LEVEL) whose content starts with a mode byte. */
#define LOSSLESS_ZSTD_LEVEL 1
#define LOSSLESS_RAW 0         /* w*h RGB triples */
#define LOSSLESS_PALETTE 1     /* count-1, palette, bit-packed rows of indexes */
#define LOSSLESS_PALETTE_RLE 2 /* count-1, palette, (index, run-1 as LEB128) pairs */
#define LOSSLESS_GRADIENT 3    /* w*h RGB residuals of the gradient predictor */
#define LOSSLESS_PALETTE_MAX 256u
/* A run's length minus one fits 21 bits: three LEB128 bytes at most (a tile has 65536 pixels). */
#define LOSSLESS_RUN_BYTES_MAX 3u

/* Bits per palette index for a palette of `colours` entries: 1, 2, 4 or 8. */
static inline unsigned lossless_index_bits(unsigned colours) {
        return colours <= 2 ? 1 : colours <= 4 ? 2 : colours <= 16 ? 4 : 8;
}

/* Bytes of one packed row of w indexes (rows start on a byte boundary). */
static inline size_t lossless_packed_row(unsigned w, unsigned bits) {
        return ((size_t) w * bits + 7) / 8;
}

/* The most decompressed content a lossless tile of w x h may claim, whatever its mode: the raw
 * form, or the largest palette header plus one byte per pixel, whichever is bigger. Decoders
 * refuse a zstd frame whose declared content size is above this before decompressing it. */
static inline size_t lossless_content_max(unsigned w, unsigned h) {
        size_t raw = 1 + (size_t) w * h * 3, palette = 2 + 3 * LOSSLESS_PALETTE_MAX + (size_t) w * h;
        return raw > palette ? raw : palette;
}
