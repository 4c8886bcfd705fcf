/* Decodes what virDomainScreenshot returns, PPM or PNG (QEMU chooses; 7.2 with libvirt 9 sends
 * PNG), into packed RGB24 rows. The data comes from QEMU: sizes are capped and every failure is a
 * clean error. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SCREENSHOT_MAX_DIM 16384u
#define SCREENSHOT_MAX_PIXELS (64u * 1024u * 1024u)

/* A growable buffer kept across calls, so polling does not allocate each time. */
typedef struct ImageScratch {
        uint8_t *data;
        size_t size;
} ImageScratch;

void image_scratch_done(ImageScratch *s);

/* On success *rgb points at width*height*3 bytes, either inside data (PPM) or inside scratch
 * (PNG), valid until the next call. -EBADMSG for anything malformed, -EOPNOTSUPP for an image
 * that is neither PPM nor PNG, -E2BIG over the caps, -ENOMEM. */
int screenshot_image_decode(const uint8_t *data, size_t len, ImageScratch *scratch, uint32_t *width,
                            uint32_t *height, const uint8_t **rgb);
