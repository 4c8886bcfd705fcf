/* IVF: a 32-byte header ("DKIF", version, header size, fourcc, width, height, time base as
 * rate/scale, frame count), then frames of a 12-byte header (size u32, pts u64 in time base
 * units) and the VP8 frame. */
#include <errno.h>
#include <string.h>

#include "media-file-internal.h"
#include "unaligned.h"

#define IVF_HEADER 32
#define IVF_FRAME_HEADER 12

int media_ivf_open(MediaFile *f) {
        const uint8_t *d = f->data;
        if (f->len < IVF_HEADER)
                return -EBADMSG;
        if (memcmp(d + 8, "VP80", 4) != 0)
                return -EMEDIUMTYPE;
        uint16_t header = get_le16(d + 6);
        uint32_t rate = get_le32(d + 16), scale = get_le32(d + 20);
        if (header < IVF_HEADER || header > f->len || rate == 0 || scale == 0)
                return -EBADMSG;
        f->info = (MediaFileInfo) {
                .codec = MEDIA_CODEC_VP8,
                .kind = MEDIA_KIND_VIDEO,
                .width = get_le16(d + 12),
                .height = get_le16(d + 14),
                /* The time base is scale/rate seconds a tick; writers put the frame rate there. */
                .fps_num = rate,
                .fps_den = scale,
        };
        f->pos = f->first = header;
        return 0;
}

int media_ivf_next(MediaFile *f, MediaPacket *ret) {
        size_t left = f->len - f->pos;
        if (left == 0)
                return 0;
        if (left < IVF_FRAME_HEADER)
                return -EBADMSG;
        const uint8_t *h = f->data + f->pos;
        uint32_t size = get_le32(h);
        uint64_t pts = get_le64(h + 4);
        if (size == 0 || size > left - IVF_FRAME_HEADER)
                return -EBADMSG;
        /* pts ticks of scale/rate s: keep it exact and without overflow for sane values. */
        __uint128_t us = (__uint128_t) pts * 1000000u * f->info.fps_den / f->info.fps_num;
        *ret = (MediaPacket) {
                .data = h + IVF_FRAME_HEADER,
                .len = size,
                .pts_us = us > UINT64_MAX ? UINT64_MAX : (uint64_t) us,
                /* VP8 frame tag (RFC 6386 9.1): bit 0 clear is a key frame. */
                .keyframe = (h[IVF_FRAME_HEADER] & 1) == 0,
        };
        f->pos += IVF_FRAME_HEADER + size;
        return 1;
}
