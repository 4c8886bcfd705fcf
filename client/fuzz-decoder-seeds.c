/* Writes fuzz-decoder's seed corpus: real tiles of every codec and lossless mode, made by hostd's
 * encoder from small synthetic pictures, each prefixed with the fuzzer's header (codec, w, h,
 * x, y). Run by hand: build/client/fuzz-decoder-seeds client/corpus/fuzz-decoder */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "display-codec.h"
#include "hostd-tile.h"

#define W 48
#define H 40

static uint32_t pic[W * H];

static void paint(unsigned colours, bool noisy) {
        uint32_t s = 12345;
        for (unsigned y = 0; y < H; y++)
                for (unsigned x = 0; x < W; x++) {
                        s = s * 1103515245u + 12345u;
                        uint32_t v;
                        if (colours == 0) /* continuous tone */
                                v = (x * 5 + (noisy ? (s >> 16) % 7 : 0)) << 16 | (y * 6) << 8 | ((x + y) * 3);
                        else
                                v = ((noisy ? (s >> 16) : (x / 6 + y / 5)) % colours) * 0x010203u * 97u;
                        pic[y * W + x] = 0xff000000u | (v & 0xffffff);
                }
}

static int write_seed(const char *dir, const char *name, uint8_t codec, const uint8_t *data, size_t len) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *f = fopen(path, "wb");
        if (!f)
                return -errno;
        const uint8_t header[7] = { codec, W, 0, H, 0, 3, 5 };
        fwrite(header, 1, sizeof(header), f);
        fwrite(data, 1, len, f);
        return fclose(f) == 0 ? 0 : -errno;
}

int main(int argc, char **argv) {
        if (argc != 2) {
                fprintf(stderr, "usage: %s DIR\n", argv[0]);
                return 2;
        }
        const char *dir = argv[1];
        LosslessEncoder *l = lossless_encoder_new();
        JpegEncoder *j = jpeg_encoder_new();
        if (!l || !j)
                return 1;

        static const struct {
                const char *name;
                unsigned colours;
                bool noisy;
                uint8_t mode;
        } lossless[] = {
                { "lossless-palette-2", 2, true, LOSSLESS_PALETTE },
                { "lossless-palette-4", 4, true, LOSSLESS_PALETTE },
                { "lossless-palette-16", 16, true, LOSSLESS_PALETTE },
                { "lossless-palette-256", 256, true, LOSSLESS_PALETTE },
                { "lossless-rle-3", 3, false, LOSSLESS_PALETTE_RLE },
                { "lossless-rle-40", 40, false, LOSSLESS_PALETTE_RLE },
                { "lossless-gradient", 0, true, LOSSLESS_GRADIENT },
                { "lossless-raw", 0, true, LOSSLESS_RAW },
        };
        const uint8_t *src = (const uint8_t *) pic, *data;
        size_t len;
        int r = 0;
        for (size_t i = 0; i < sizeof(lossless) / sizeof(lossless[0]) && r >= 0; i++) {
                TileScan scan;
                paint(lossless[i].colours, lossless[i].noisy);
                lossless_scan_palette(l, src, W * 4, W, H, &scan);
                r = lossless_encode_mode(l, src, W * 4, W, H, &scan, lossless[i].mode, &data, &len);
                if (r >= 0)
                        r = write_seed(dir, lossless[i].name, DISPLAY_CODEC_LOSSLESS, data, len);
        }

        static const struct {
                const char *name;
                int quality, subsampling;
        } jpegs[] = { { "jpeg-q80-420", 80, 2 }, { "jpeg-q95-444", 95, 0 }, { "jpeg-q50-422", 50, 1 }, { "jpeg-q80-gray", 80, 3 } };
        paint(0, true);
        for (size_t i = 0; i < sizeof(jpegs) / sizeof(jpegs[0]) && r >= 0; i++) {
                r = jpeg_encode(j, src, W * 4, W, H, jpegs[i].quality, jpegs[i].subsampling, &data, &len);
                if (r >= 0)
                        r = write_seed(dir, jpegs[i].name, DISPLAY_CODEC_JPEG, data, len);
        }
        const uint8_t rgb[3] = { 0x12, 0x34, 0x56 };
        if (r >= 0)
                r = write_seed(dir, "solid", DISPLAY_CODEC_SOLID, rgb, sizeof(rgb));

        lossless_encoder_free(l);
        jpeg_encoder_free(j);
        if (r < 0) {
                fprintf(stderr, "fuzz-decoder-seeds: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}
