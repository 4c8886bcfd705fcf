/* The JPEG tile codec (codec 3): TurboJPEG straight from the framebuffer (TJPF_BGRX through the
 * framebuffer's stride, no copy), into one output buffer sized for the worst case up front so
 * TurboJPEG never reallocates it. */
#include <errno.h>
#include <stdlib.h>
#include <turbojpeg.h>

#include "hostd-tile.h"

struct JpegEncoder {
        tjhandle tj;
        unsigned char *buf;
        unsigned long size;
};

JpegEncoder *jpeg_encoder_new(void) {
        _cleanup_(jpeg_encoder_freep) JpegEncoder *j = calloc(1, sizeof(JpegEncoder));
        if (!j)
                return NULL;
        j->tj = tjInitCompress();
        if (!j->tj)
                return NULL;
        return TAKE_PTR(j);
}

JpegEncoder *jpeg_encoder_free(JpegEncoder *j) {
        if (!j)
                return NULL;
        if (j->tj)
                tjDestroy(j->tj);
        tjFree(j->buf);
        free(j);
        return NULL;
}

int jpeg_encode(JpegEncoder *j, const uint8_t *src, size_t stride, unsigned w, unsigned h, int quality,
                int subsampling, const uint8_t **ret, size_t *ret_len) {
        static const int samp[] = { TJSAMP_444, TJSAMP_422, TJSAMP_420, TJSAMP_GRAY };

        if (w == 0 || h == 0 || w > 65535 || h > 65535 || stride > INT32_MAX || quality < 1 || quality > 100 ||
            subsampling < 0 || subsampling >= (int) ELEMENTSOF(samp))
                return -EINVAL;

        /* Reserve for 4:4:4, the largest, so a change of settings never shrinks and regrows. */
        unsigned long need = tjBufSize((int) w, (int) h, TJSAMP_444);
        if (need == (unsigned long) -1 || need > INT32_MAX)
                return -EINVAL;
        if (j->size < need) {
                unsigned char *b = tjAlloc((int) need);
                if (!b)
                        return -ENOMEM;
                tjFree(j->buf);
                j->buf = b;
                j->size = need;
        }

        unsigned char *out = j->buf;
        unsigned long len = j->size;
        if (tjCompress2(j->tj, src, (int) w, (int) stride, (int) h, TJPF_BGRX, &out, &len, samp[subsampling], quality,
                        TJFLAG_NOREALLOC) < 0)
                return -EIO;
        *ret = out;
        *ret_len = len;
        return 0;
}
