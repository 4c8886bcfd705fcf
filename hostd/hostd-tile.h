/* The encoder's per-tile codecs (internal to hostd-encoder; the benchmark uses them directly).
 * Sources are x8r8g8b8 pixels (B,G,R,X in memory) read in place from the framebuffer through a
 * stride: nothing is copied before encoding. Outputs live in the codec's own buffers, reused
 * from tile to tile, and are valid until its next call. Formats: schema/display-codecs.md. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "display-codec.h"
#include "macro.h"

/* What a scan found out about a tile. */
/* A tile with at least this many colours whose colour changes at more than every other pixel is
 * continuous-tone (a photo, a gradient): JPEG codes it in far fewer bytes than a palette. */
#define TILE_PHOTO_COLOURS 64

typedef struct TileScan {
        unsigned colours; /* 1..LOSSLESS_PALETTE_MAX, or 0 for more (or: a photo, seen early) */
        unsigned runs;    /* maximal runs of one colour in raster order (across rows); with more than
                           * 256 colours counted only until it passes TILE_SCAN_RUNS_ENOUGH */
        uint32_t first;   /* the first pixel, 0x00RRGGBB: the colour of a solid tile */
} TileScan;

/* Past this many runs a tile of more than 256 colours is known not to be mostly flat. */
#define TILE_SCAN_RUNS_ENOUGH(w, h) ((unsigned) ((size_t) (w) * (h) / 4))

typedef struct LosslessEncoder LosslessEncoder;

LosslessEncoder *lossless_encoder_new(void);
LosslessEncoder *lossless_encoder_free(LosslessEncoder *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(LosslessEncoder *, lossless_encoder_free);

/* Counts the colours (up to LOSSLESS_PALETTE_MAX + 1) and runs of a w x h tile, w, h in
 * 1..DISPLAY_TILE_MAX_DIM, and keeps its palette and indexes for lossless_encode(). A tile whose
 * first quarter already looks continuous-tone (TILE_PHOTO_COLOURS, runs at over half the pixels)
 * is reported as having more than 256 colours without looking further. */
void lossless_scan(LosslessEncoder *l, const uint8_t *src, size_t stride, unsigned w, unsigned h, TileScan *ret);

/* The same, but runs are counted only until the palette overflows (then they are not what the
 * tile has): for the lossless-only encoder, to which a tile of more than 256 colours is gradient
 * whatever its runs. */
void lossless_scan_colours(LosslessEncoder *l, const uint8_t *src, size_t stride, unsigned w, unsigned h, TileScan *ret);

/* The same, but gives up as soon as the palette overflows (false; then runs counts only what was
 * seen): a cheap first look at a larger area that may well be a photo. */
bool lossless_scan_palette(LosslessEncoder *l, const uint8_t *src, size_t stride, unsigned w, unsigned h, TileScan *ret);

/* Strips: parts of one height side by side scanned one after the other into one palette, so that
 * as many as fit in 256 colours become one tile and no pixel is scanned twice, unless a part
 * overflows the palette (then that part's scan so far is wasted); then, optionally, bands of parts
 * of the same widths below, as long as they fit too.
 *
 * lossless_strip_begin() starts a strip of at most `width` pixels. lossless_strip_add() scans the
 * next part to the right: the very first part exactly as lossless_scan() (count_all) or
 * lossless_scan_colours() would, *ret being its own scan, which the caller may use whatever the
 * return value; later parts with what came before, stopping at the union's 257th colour. Returns
 * false when the part did not fit (it is not in the strip; no more parts should be added to this
 * band). lossless_strip_band_end() closes the band of parts taken so far (of height h; the first
 * band fixes the tile's width) and returns how many they were (0: none, not even the first), and
 * opens the next band below, whose parts must add up to that width. lossless_strip_band_drop()
 * forgets a band below that did not fit, whole. lossless_strip_end() makes the bands taken one
 * tile ready for lossless_encode() (*ret: its scan, with runs summed over the parts) and returns
 * its height (0: nothing taken). */
void lossless_strip_begin(LosslessEncoder *l, unsigned width);
bool lossless_strip_add(LosslessEncoder *l, const uint8_t *src, size_t stride, unsigned w, unsigned h, bool count_all,
                        TileScan *ret);
unsigned lossless_strip_band_end(LosslessEncoder *l, unsigned h);
void lossless_strip_band_drop(LosslessEncoder *l);
unsigned lossless_strip_end(LosslessEncoder *l, TileScan *ret);

/* A quick look at the first quarter of a tile: true when it is continuous-tone there (colour
 * changes at more than every other pixel, TILE_PHOTO_COLOURS colours or more). Compares first,
 * hash lookups only for the first 64 colours: far cheaper than a scan on a photo. */
bool lossless_looks_photo(LosslessEncoder *l, const uint8_t *src, size_t stride, unsigned w, unsigned h);

/* Encodes the tile lossless_scan() just scanned (same src, stride, w, h): palette or palette-rle
 * for up to 256 colours, gradient for more. Returns 0 and points *ret at the zstd frame, or
 * -EIO (zstd failed). */
int lossless_encode(LosslessEncoder *l, const uint8_t *src, size_t stride, unsigned w, unsigned h, const TileScan *scan,
                    const uint8_t **ret, size_t *ret_len);

/* Encodes in a given mode regardless of the scan (tests and benchmarks; LOSSLESS_PALETTE and
 * _RLE need a scan of this tile with colours > 0). -EINVAL for a mode that cannot be used. */
int lossless_encode_mode(LosslessEncoder *l, const uint8_t *src, size_t stride, unsigned w, unsigned h,
                         const TileScan *scan, uint8_t mode, const uint8_t **ret, size_t *ret_len);

typedef struct JpegEncoder JpegEncoder;

JpegEncoder *jpeg_encoder_new(void);
JpegEncoder *jpeg_encoder_free(JpegEncoder *j);
DEFINE_TRIVIAL_CLEANUP_FUNC(JpegEncoder *, jpeg_encoder_free);

/* A baseline JFIF of w x h pixels (any size TurboJPEG takes; the display uses up to 256x256).
 * subsampling: 0 4:4:4, 1 4:2:2, 2 4:2:0, 3 grey (TJSAMP_*). Returns 0, -EINVAL, -ENOMEM or
 * -EIO. */
int jpeg_encode(JpegEncoder *j, const uint8_t *src, size_t stride, unsigned w, unsigned h, int quality,
                int subsampling, const uint8_t **ret, size_t *ret_len);
