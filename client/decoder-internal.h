/* The codecs behind decoder_apply(); each decodes a whole tile into `out` (w * h x8r8g8b8
 * pixels, w, h in 1..256) or fails with -EBADMSG, and never reads or writes outside what its
 * arguments allow. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <turbojpeg.h>
#include <zstd.h>

/* content has room for lossless_content_max(w, h) bytes. */
int decode_lossless(ZSTD_DCtx *zd, uint8_t *content, uint32_t *out, unsigned w, unsigned h, const uint8_t *data,
                    size_t len);

/* *tj may be replaced (or NULL after a failed replacement: then -ENOMEM next time). */
int decode_jpeg(tjhandle *tj, uint32_t *out, unsigned w, unsigned h, const uint8_t *data, size_t len);

/* Checks the marker segments up to the frame header: SOI first, then a baseline or extended
 * sequential Huffman frame (SOF0, SOF1) of 1 or 3 components before any scan. -EBADMSG
 * otherwise. */
int jpeg_check_frame(const uint8_t *data, size_t len);
