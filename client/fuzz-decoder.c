/* Fuzzes decoder_apply: the input is a tile header then its data,
 *   codec u8, w u16le, h u16le (9 bits used: sizes above 256 must be refused), x u8, y u8,
 *   data: the rest,
 * drawn into a 320x320 framebuffer. The data is the tail of the input buffer, so any read past
 * it trips ASan. A decoded tile's pixels are all read back. */
#include <stdint.h>
#include <stdlib.h>

#include "decoder.h"

/* Where pixels are summed into, so reading them cannot be optimised away. */
volatile uint32_t fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static Decoder *d;
        static ClientFramebuffer fb;

        if (size < 7)
                return 0;
        if (!d && !(d = decoder_new()))
                abort();
        if (!fb.pixels && client_framebuffer_resize(&fb, 320, 320) < 0)
                abort();

        uint8_t codec = data[0];
        uint16_t w = (uint16_t) ((data[1] | data[2] << 8) & 0x1ff), h = (uint16_t) ((data[3] | data[4] << 8) & 0x1ff);
        uint16_t x = data[5], y = data[6];

        if (decoder_apply(d, &fb, x, y, w, h, codec, data + 7, size - 7) == 0)
                for (uint32_t r = y; r < (uint32_t) y + h; r++)
                        for (uint32_t c = x; c < (uint32_t) x + w; c++)
                                fuzz_sink += ((const uint32_t *) (fb.pixels + (size_t) r * fb.stride))[c];
        return 0;
}
