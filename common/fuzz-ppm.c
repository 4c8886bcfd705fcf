/* Fuzzes the PPM parser and touches every pixel it claims, so ASan sees any overread. */
#include <stdint.h>

#include "ppm.h"

/* Where the pixels are summed into, so reading them cannot be optimised away. */
volatile uint8_t fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint32_t w, h;
        const uint8_t *pixels;

        if (ppm_parse(data, size, &w, &h, &pixels) < 0)
                return 0;
        for (size_t i = 0; i < (size_t) w * h * 3; i++)
                fuzz_sink += pixels[i];
        return 0;
}
