/* The viewer's tile decoder (schema/display-codecs.md) and the framebuffer it draws into. Tiles
 * come from the network: everything is validated, the output size is known before any data is
 * looked at, and a bad tile leaves the framebuffer as it was. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/* x8r8g8b8 like hostd's: B,G,R,X in memory with X = 0xff, stride == width * 4. */
typedef struct ClientFramebuffer {
        uint32_t width, height, stride;
        uint8_t *pixels;
} ClientFramebuffer;

/* Same caps as hostd's framebuffer: 16384 on a side, 64 Mpix in all. */
#define CLIENT_FRAMEBUFFER_MAX_DIM 16384u
#define CLIENT_FRAMEBUFFER_MAX_PIXELS (64u * 1024u * 1024u)

/* A new mode (display-mode): w x h of black. Returns 0, -EINVAL (0 or over the caps) or -ENOMEM;
 * on failure fb is unchanged. A zeroed ClientFramebuffer is an empty one. */
int client_framebuffer_resize(ClientFramebuffer *fb, uint32_t w, uint32_t h);
void client_framebuffer_done(ClientFramebuffer *fb);

typedef struct Decoder Decoder;

Decoder *decoder_new(void);
Decoder *decoder_free(Decoder *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(Decoder *, decoder_free);

/* Draws one tile. Returns 0, or without touching fb: -ERANGE (not inside the framebuffer, or no
 * mode yet), -EOPNOTSUPP (unknown codec), -EBADMSG (w or h 0 or above 256, data malformed or not
 * exactly the tile's size: wrong length, corrupt or truncated zstd or JPEG, a zstd frame claiming
 * more content than the tile allows, a palette index out of range, a JPEG of other dimensions),
 * -ENOMEM. Scratch buffers are reused across calls. */
int decoder_apply(Decoder *d, ClientFramebuffer *fb, uint16_t x, uint16_t y, uint16_t w, uint16_t h, uint8_t codec,
                  const uint8_t *data, size_t len);
