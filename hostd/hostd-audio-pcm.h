/* PCM formats as QEMU's D-Bus audio announces them (AudioOutListener/AudioInListener Init), and
 * a converter between two of them: sample type, byte order, channel count and rate (linear
 * interpolation), with a per-channel gain. Pure code, no I/O: QEMU's side is parsed here, so this
 * is what fuzz-audio-pcm feeds. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "macro.h"

#define AUDIO_RATE_MIN 8000u
#define AUDIO_RATE_MAX 192000u
#define AUDIO_CHANNELS_MAX 8u
/* What Opus takes: hostd encodes and decodes at 48 kHz. */
#define AUDIO_OPUS_RATE 48000u

typedef enum AudioSample {
        AUDIO_S16,
        AUDIO_F32,
} AudioSample;

typedef struct AudioFormat {
        AudioSample sample;
        bool big_endian;
        uint32_t rate;
        uint8_t channels;
} AudioFormat;

/* Init's arguments as QEMU sends them: 0 and the format, or -EINVAL (unsupported or
 * inconsistent: hostd takes signed 16-bit integers and 32-bit floats, 1..8 channels at
 * 8..192 kHz, with bytes_per_frame and bytes_per_second that agree). ret is untouched on failure. */
int audio_format_parse(uint8_t bits, bool is_signed, bool is_float, uint32_t freq, uint8_t nchannels,
                       uint32_t bytes_per_frame, uint32_t bytes_per_second, bool be, AudioFormat *ret);
size_t audio_format_frame_size(const AudioFormat *f);
/* "s16le 44100 Hz 2 ch" into buf. */
const char *audio_format_describe(const AudioFormat *f, char *buf, size_t size);

typedef struct AudioConverter AudioConverter;

int audio_converter_new(const AudioFormat *in, const AudioFormat *out, AudioConverter **ret);
AudioConverter *audio_converter_free(AudioConverter *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(AudioConverter *, audio_converter_free);

/* Gain per input channel (0..255 as QEMU's SetVolume says, 255: unchanged) and mute. Channels
 * beyond n keep theirs. */
void audio_converter_set_volume(AudioConverter *c, bool mute, const uint8_t *volume, size_t n);
/* Converts len bytes of input (any length: a partial frame is kept for the next call) and
 * appends whole output frames to out. Returns 0 or -ENOBUFS when out's limit is reached (what
 * did fit stays). */
int audio_converter_push(AudioConverter *c, const void *data, size_t len, Buffer *out);
