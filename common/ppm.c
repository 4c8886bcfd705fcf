#include "ppm.h"

#include <errno.h>
#include <stdbool.h>

static bool is_space(uint8_t c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Reads one header number, skipping whitespace and '#' comments before it. */
static int read_number(const uint8_t *data, size_t len, size_t *pos, uint32_t *ret) {
        size_t p = *pos;
        uint32_t v = 0;
        size_t digits = 0;

        for (;;) {
                while (p < len && is_space(data[p]))
                        p++;
                if (p < len && data[p] == '#') {
                        while (p < len && data[p] != '\n')
                                p++;
                        continue;
                }
                break;
        }
        while (p < len && data[p] >= '0' && data[p] <= '9') {
                if (++digits > 6)
                        return -EBADMSG;
                v = v * 10 + (uint32_t) (data[p++] - '0');
        }
        if (digits == 0)
                return -EBADMSG;
        *pos = p;
        *ret = v;
        return 0;
}

int ppm_parse(const uint8_t *data, size_t len, uint32_t *width, uint32_t *height, const uint8_t **pixels) {
        size_t pos = 2;
        uint32_t w, h, maxval;

        if (len < 2 || data[0] != 'P' || data[1] != '6')
                return -EBADMSG;
        if (read_number(data, len, &pos, &w) < 0 || read_number(data, len, &pos, &h) < 0 ||
            read_number(data, len, &pos, &maxval) < 0)
                return -EBADMSG;
        /* Exactly one whitespace byte separates the header from the pixels. */
        if (pos >= len || !is_space(data[pos]))
                return -EBADMSG;
        pos++;
        if (maxval != 255 || w == 0 || h == 0 || w > PPM_MAX_DIM || h > PPM_MAX_DIM)
                return -EBADMSG;
        if ((len - pos) / 3 / w < h)
                return -EBADMSG;
        *width = w;
        *height = h;
        *pixels = data + pos;
        return 0;
}
