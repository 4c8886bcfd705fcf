/* The surface formats the framebuffer accepts and their row converters to x8r8g8b8. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Converts n pixels; X of every output pixel is 0xff. src needs no alignment. */
typedef void (*FbRowConvert)(uint32_t *restrict dst, const uint8_t *restrict src, size_t n);

typedef struct FbFormat {
        uint32_t code; /* pixman format code */
        const char *name;
        unsigned bytes; /* per pixel */
        FbRowConvert convert;
} FbFormat;

/* NULL when unsupported. */
const FbFormat *fb_format_lookup(uint32_t code);
