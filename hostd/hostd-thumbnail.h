/* JPEG thumbnails of a framebuffer, for the broker's desktop list. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "hostd-framebuffer.h"
#include "macro.h"

/* Owns a TurboJPEG compressor and scratch buffers reused across calls: after the first call of a
 * given size, making a thumbnail allocates nothing. */
typedef struct Thumbnailer Thumbnailer;

Thumbnailer *thumbnailer_new(void);
Thumbnailer *thumbnailer_free(Thumbnailer *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Thumbnailer *, thumbnailer_free);

/* Encodes fb, box-filtered down so that its width is at most max_width (aspect kept, never
 * upscaled), at JPEG quality 1..100. *ret_data points into t and stays valid until the next call.
 * Returns 0, -ENODATA before the first Scanout, -EINVAL for max_width 0 or a bad quality,
 * -ENOMEM, or -EIO when TurboJPEG fails; on error the out-parameters are untouched. */
int thumbnailer_encode(Thumbnailer *t, const Framebuffer *fb, unsigned max_width, int quality,
                       const uint8_t **ret_data, size_t *ret_size);

/* The same, written atomically to path (temporary file in the same directory, then rename). */
int thumbnailer_write(Thumbnailer *t, const Framebuffer *fb, unsigned max_width, int quality, const char *path);
