/* decoder_apply(): checks the rectangle and dispatches to the codec, which decodes into a
 * scratch tile; only a tile that decoded completely is copied into the framebuffer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "decoder-internal.h"
#include "decoder.h"
#include "display-codec.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "pixels are stored as little-endian uint32_t");

#define TILE_PIXELS_MAX (DISPLAY_TILE_MAX_DIM * DISPLAY_TILE_MAX_DIM)

struct Decoder {
        ZSTD_DCtx *zd;
        tjhandle tj;
        uint8_t *content; /* lossless_content_max(256, 256) */
        uint32_t *tile;   /* TILE_PIXELS_MAX */
};

int client_framebuffer_resize(ClientFramebuffer *fb, uint32_t w, uint32_t h) {
        if (w == 0 || h == 0 || w > CLIENT_FRAMEBUFFER_MAX_DIM || h > CLIENT_FRAMEBUFFER_MAX_DIM ||
            (uint64_t) w * h > CLIENT_FRAMEBUFFER_MAX_PIXELS)
                return -EINVAL;
        size_t n = (size_t) w * h;
        uint32_t *p = malloc(n * 4);
        if (!p)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                p[i] = 0xff000000u;
        free(fb->pixels);
        *fb = (ClientFramebuffer) { .width = w, .height = h, .stride = w * 4, .pixels = (uint8_t *) p };
        return 0;
}

void client_framebuffer_done(ClientFramebuffer *fb) {
        free(fb->pixels);
        *fb = (ClientFramebuffer) {};
}

Decoder *decoder_new(void) {
        _cleanup_(decoder_freep) Decoder *d = calloc(1, sizeof(Decoder));
        if (!d)
                return NULL;
        d->zd = ZSTD_createDCtx();
        d->tj = tjInitDecompress();
        d->content = malloc(lossless_content_max(DISPLAY_TILE_MAX_DIM, DISPLAY_TILE_MAX_DIM));
        d->tile = malloc(TILE_PIXELS_MAX * sizeof(uint32_t));
        if (!d->zd || !d->tj || !d->content || !d->tile)
                return NULL;
        return TAKE_PTR(d);
}

Decoder *decoder_free(Decoder *d) {
        if (!d)
                return NULL;
        ZSTD_freeDCtx(d->zd);
        if (d->tj)
                tjDestroy(d->tj);
        free(d->content);
        free(d->tile);
        free(d);
        return NULL;
}

static void fill(ClientFramebuffer *fb, unsigned x, unsigned y, unsigned w, unsigned h, uint32_t colour) {
        for (unsigned row = 0; row < h; row++) {
                uint32_t *p = (uint32_t *) (fb->pixels + (size_t) (y + row) * fb->stride) + x;
                for (unsigned i = 0; i < w; i++)
                        p[i] = colour;
        }
}

static void blit(ClientFramebuffer *fb, unsigned x, unsigned y, unsigned w, unsigned h, const uint32_t *tile) {
        for (unsigned row = 0; row < h; row++)
                memcpy(fb->pixels + (size_t) (y + row) * fb->stride + (size_t) x * 4, tile + (size_t) row * w,
                       (size_t) w * 4);
}

int decoder_apply(Decoder *d, ClientFramebuffer *fb, uint16_t x, uint16_t y, uint16_t w, uint16_t h, uint8_t codec,
                  const uint8_t *data, size_t len) {
        if (w == 0 || h == 0 || w > DISPLAY_TILE_MAX_DIM || h > DISPLAY_TILE_MAX_DIM)
                return -EBADMSG;
        if (!fb->pixels || (uint32_t) x + w > fb->width || (uint32_t) y + h > fb->height)
                return -ERANGE;
        if (len > DISPLAY_TILE_DATA_MAX || (len > 0 && !data))
                return -EBADMSG;

        int r;
        switch (codec) {
        case DISPLAY_CODEC_SOLID:
                if (len != 3)
                        return -EBADMSG;
                fill(fb, x, y, w, h, 0xff000000u | (uint32_t) data[0] << 16 | (uint32_t) data[1] << 8 | data[2]);
                return 0;
        case DISPLAY_CODEC_LOSSLESS:
                r = decode_lossless(d->zd, d->content, d->tile, w, h, data, len);
                break;
        case DISPLAY_CODEC_JPEG:
                r = decode_jpeg(&d->tj, d->tile, w, h, data, len);
                break;
        default:
                return -EOPNOTSUPP;
        }
        if (r < 0)
                return r;
        blit(fb, x, y, w, h, d->tile);
        return 0;
}
