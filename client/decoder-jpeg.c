/* JPEG tiles (codec 3): our own walk over the marker segments first (only sequential Huffman
 * frames: a progressive or arithmetic-coded stream could cost far more CPU than its size
 * suggests), then TurboJPEG's header must give exactly the tile's size, then TurboJPEG decodes
 * with warnings (truncated data, bad Huffman codes) treated as errors. */
#include <errno.h>

#include "decoder-internal.h"
#include "display-codec.h"

#define M_SOF0 0xc0
#define M_SOF1 0xc1
#define M_DHT 0xc4
#define M_DAC 0xcc
#define M_SOI 0xd8
#define M_SOS 0xda

int jpeg_check_frame(const uint8_t *data, size_t len) {
        if (len < 4 || data[0] != 0xff || data[1] != M_SOI)
                return -EBADMSG;

        size_t pos = 2;
        for (;;) {
                if (pos >= len || data[pos] != 0xff)
                        return -EBADMSG;
                while (pos < len && data[pos] == 0xff) /* fill bytes */
                        pos++;
                if (pos >= len)
                        return -EBADMSG;
                uint8_t marker = data[pos++];

                /* Everything before the frame header has a length: tables, APPn, COM. */
                if (marker < 0xc0 || marker == M_SOI || (marker >= 0xd0 && marker <= 0xd9))
                        return -EBADMSG;
                if (len - pos < 2)
                        return -EBADMSG;
                size_t seg = (size_t) data[pos] << 8 | data[pos + 1];
                if (seg < 2 || seg > len - pos)
                        return -EBADMSG;

                if (marker == M_SOF0 || marker == M_SOF1) {
                        /* length(2) precision(1) height(2) width(2) components(1) */
                        if (seg < 8 || data[pos + 2] != 8)
                                return -EBADMSG;
                        uint8_t nc = data[pos + 7];
                        return nc == 1 || nc == 3 ? 0 : -EBADMSG;
                }
                /* Any other SOFn (progressive, lossless, hierarchical, arithmetic), DAC, a scan
                 * before the frame, or reserved markers. */
                if ((marker >= 0xc0 && marker <= 0xcf && marker != M_DHT) || marker == M_DAC || marker == M_SOS)
                        return -EBADMSG;
                pos += seg;
        }
}

/* TurboJPEG 2.1 leaves a handle unusable after tjDecompressHeader3() fails halfway through the
 * headers (every later call fails too), so a failed handle is replaced by a fresh one. */
static int renew(tjhandle *tj) {
        tjDestroy(*tj);
        *tj = tjInitDecompress();
        return -EBADMSG;
}

int decode_jpeg(tjhandle *tj, uint32_t *out, unsigned w, unsigned h, const uint8_t *data, size_t len) {
        if (len > DISPLAY_TILE_DATA_MAX || jpeg_check_frame(data, len) < 0)
                return -EBADMSG;
        if (!*tj && !(*tj = tjInitDecompress()))
                return -ENOMEM;

        int width, height, subsamp, colorspace;
        if (tjDecompressHeader3(*tj, data, (unsigned long) len, &width, &height, &subsamp, &colorspace) < 0)
                return renew(tj);
        if (width != (int) w || height != (int) h)
                return -EBADMSG;
        if (colorspace != TJCS_YCbCr && colorspace != TJCS_GRAY)
                return -EBADMSG;

        if (tjDecompress2(*tj, data, (unsigned long) len, (unsigned char *) out, (int) w, (int) w * 4, (int) h, TJPF_BGRX,
                          TJFLAG_STOPONWARNING) < 0)
                return renew(tj);
        return 0;
}
