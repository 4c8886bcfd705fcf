/* Fuzzes --mic-wav's WAV parser (viewer-mic-wav.h): any bytes, a clear error or samples that
 * are all readable. */
#include <stdint.h>
#include <stdlib.h>

#include "viewer-mic-wav.h"

volatile uint32_t fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        int16_t *pcm;
        size_t frames;
        uint32_t rate;
        uint8_t channels;
        if (mic_wav_parse(data, size, &pcm, &frames, &rate, &channels) < 0)
                return 0;
        if (frames)
                fuzz_sink += (uint32_t) pcm[frames * channels - 1] + rate;
        free(pcm);
        return 0;
}
