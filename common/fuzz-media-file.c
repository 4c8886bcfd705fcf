/* Fuzzes one media reader (MEDIA_FUZZ_MAGIC, set by meson: the container's first bytes put in
 * front of the input so every input reaches that reader): every packet inside the input or the
 * reader's own buffer, bounded, pts never going back for video containers with frame timing,
 * never a read past the end (ASan), rewind giving the same first packet. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media-file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char magic[] = MEDIA_FUZZ_MAGIC;
        size_t m = sizeof(magic) - 1, n = m + size;
        uint8_t *p = malloc(n);
        if (!p)
                return 0;
        memcpy(p, magic, m);
        memcpy(p + m, data, size);
        MediaFile *f;
        if (media_file_open(p, n, 0, &f) == 0) {
                MediaPacket pkt;
                size_t first_len = 0;
                uint64_t last = 0;
                int r;
                for (size_t k = 0; (r = media_file_next(f, &pkt)) == 1; k++) {
                        if (pkt.len > MEDIA_FILE_PACKET_MAX)
                                abort();
                        if (k == 0)
                                first_len = pkt.len;
                        if (media_file_info(f)->codec == MEDIA_CODEC_H264 && k > 0 && pkt.pts_us <= last)
                                abort();
                        last = pkt.pts_us;
                        volatile uint8_t sum = 0;
                        for (size_t i = 0; i < pkt.len; i++)
                                sum ^= pkt.data[i];
                        (void) sum;
                }
                media_file_rewind(f);
                if (first_len && (media_file_next(f, &pkt) != 1 || pkt.len != first_len))
                        abort();
                media_file_free(f);
        }
        free(p);
        return 0;
}
