/* Binary PPM (P6, maxval 255): what virDomainScreenshot returns for QEMU domains. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define PPM_MAX_DIM 16384

/* On success points *pixels into data at width*height packed RGB triples. -EBADMSG on anything
 * else: other magic, maxval other than 255, comments in odd places are accepted, truncated data,
 * dimensions of 0 or above PPM_MAX_DIM. */
int ppm_parse(const uint8_t *data, size_t len, uint32_t *width, uint32_t *height, const uint8_t **pixels);
