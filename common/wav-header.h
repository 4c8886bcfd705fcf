/* The 44-byte header of a 16-bit PCM WAV file (the viewer's --media-out audio and the reference
 * decode the tests compare it with write the same bytes). */
#pragma once

#include <stdint.h>
#include <string.h>

#include "unaligned.h"

#define WAV_HEADER_SIZE 44

/* data_bytes: the samples' bytes so far (clamped to what RIFF's 32-bit sizes hold). */
static inline void wav_header_fill(uint8_t h[WAV_HEADER_SIZE], uint32_t rate, uint16_t channels, uint64_t data_bytes) {
        uint32_t bytes = data_bytes > UINT32_MAX - 36 ? UINT32_MAX - 36 : (uint32_t) data_bytes;
        memcpy(h, "RIFF", 4);
        put_le32(h + 4, 36 + bytes);
        memcpy(h + 8, "WAVEfmt ", 8);
        put_le32(h + 16, 16);
        put_le16(h + 20, 1); /* PCM */
        put_le16(h + 22, channels);
        put_le32(h + 24, rate);
        put_le32(h + 28, rate * channels * 2);
        put_le16(h + 32, (uint16_t) (channels * 2));
        put_le16(h + 34, 16);
        memcpy(h + 36, "data", 4);
        put_le32(h + 40, bytes);
}
