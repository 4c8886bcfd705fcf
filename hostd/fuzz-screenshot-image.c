/* Fuzzes screenshot decoding (PPM and PNG through libpng) and reads every decoded pixel. */
#include <stdint.h>

#include "hostd-screenshot-image.h"

/* Where the pixels are summed into, so reading them cannot be optimised away. */
volatile uint8_t fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ImageScratch scratch = {};
        uint32_t w, h;
        const uint8_t *rgb;

        if (screenshot_image_decode(data, size, &scratch, &w, &h, &rgb) == 0)
                for (size_t i = 0; i < (size_t) w * h * 3; i++)
                        fuzz_sink += rgb[i];
        image_scratch_done(&scratch);
        return 0;
}
