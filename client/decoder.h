/* TEMPORARY stand-in for the decoder engineer's client/decoder.h, so the viewer builds before
 * the client library merges; the typedef is kept identical to theirs and this file is replaced
 * at merge. */
#pragma once

#include <stdint.h>

typedef struct ClientFramebuffer { uint32_t width, height, stride; uint8_t *pixels; /* x8r8g8b8: bytes B,G,R,X per pixel */ } ClientFramebuffer;
