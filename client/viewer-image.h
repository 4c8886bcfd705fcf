/* Screenshots of the viewer's framebuffer: PNG (what people open) or binary PPM (what tests and
 * hostd's dump compare byte for byte). Written atomically: a reader never sees half an image. */
#pragma once

#include "decoder.h"

typedef enum ImageFormat {
        IMAGE_FORMAT_PNG,
        IMAGE_FORMAT_PPM,
} ImageFormat;

/* "png" or "ppm"; -EINVAL otherwise. */
int image_format_from_string(const char *s, ImageFormat *ret);
const char *image_format_extension(ImageFormat format);
/* PPM for a path ending in ".ppm", PNG for ".png", else fallback. */
ImageFormat image_format_for_path(const char *path, ImageFormat fallback);

/* -ENODATA when there is no picture yet (no mode, no pixels); -EINVAL for a framebuffer whose
 * stride cannot hold its width; else 0 or the errno of the write. */
int image_write(const ClientFramebuffer *fb, ImageFormat format, const char *path);
