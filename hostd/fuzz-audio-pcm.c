/* Fuzzes what hostd takes from QEMU's D-Bus audio: Init's arguments (the first 18 bytes: bits,
 * is_signed, is_float, be, nchannels, freq, bytes_per_frame, bytes_per_second, gain of channel
 * 0, mute) and then Write data of any size, split where the input says, through the converter
 * to Opus's 48 kHz (both ways, as the playback and record paths do). The output must be whole
 * frames, within the buffer's limit. */
#include <stdint.h>
#include <string.h>

#include "hostd-audio-pcm.h"

static uint32_t le32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        AudioFormat f;

        if (size < 18)
                return 0;
        if (audio_format_parse(data[0], data[1] & 1, data[2] & 1, le32(data + 5), data[4], le32(data + 9),
                               le32(data + 13), data[3] & 1, &f) < 0)
                return 0;
        uint8_t gain = data[17];
        bool mute = data[1] & 2;
        data += 18;
        size -= 18;

        for (int dir = 0; dir < 2; dir++) {
                AudioFormat opus = { .sample = AUDIO_S16, .rate = AUDIO_OPUS_RATE, .channels = (f.channels >= 2) + 1 };
                const AudioFormat *in = dir ? &opus : &f, *out = dir ? &f : &opus;
                _cleanup_(audio_converter_freep) AudioConverter *c = NULL;
                Buffer b;
                if (audio_converter_new(in, out, &c) < 0)
                        __builtin_trap();
                audio_converter_set_volume(c, mute, &gain, 1);
                buffer_init(&b, 256 * 1024);
                /* Slices: the first byte of each says how long it is (1..256). */
                for (size_t off = 0; off < size;) {
                        size_t n = MIN((size_t) data[off] + 1, size - off);
                        if (audio_converter_push(c, data + off, n, &b) < 0)
                                buffer_clear(&b);
                        if (buffer_len(&b) % audio_format_frame_size(out) != 0)
                                __builtin_trap();
                        off += n;
                }
                buffer_done(&b);
        }
        return 0;
}
