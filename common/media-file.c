/* The media readers' front: sniffing, dispatch, names. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "media-file-internal.h"

static const char *const codec_names[] = {
        [MEDIA_CODEC_OPUS] = "opus",
        [MEDIA_CODEC_VP8] = "vp8",
        [MEDIA_CODEC_H264] = "h264",
};

const char *media_codec_name(uint8_t codec) {
        return codec < sizeof(codec_names) / sizeof(codec_names[0]) ? codec_names[codec] : NULL;
}

int media_codec_from_name(const char *name, size_t len) {
        for (size_t i = 0; i < sizeof(codec_names) / sizeof(codec_names[0]); i++)
                if (strlen(codec_names[i]) == len && memcmp(codec_names[i], name, len) == 0)
                        return (int) i;
        return -EINVAL;
}

int media_opus_packet_samples(const uint8_t *p, size_t len) {
        static const uint16_t silk[4] = { 480, 960, 1920, 2880 };
        static const uint16_t celt[4] = { 120, 240, 480, 960 };
        if (len < 1)
                return -EBADMSG;
        unsigned config = p[0] >> 3, frames;
        unsigned per = config < 12 ? silk[config & 3] : config < 16 ? silk[config & 1] : celt[config & 3];
        switch (p[0] & 3) {
        case 0:
                frames = 1;
                break;
        case 1:
        case 2:
                frames = 2;
                break;
        default:
                if (len < 2)
                        return -EBADMSG;
                frames = p[1] & 0x3f;
                break;
        }
        /* RFC 6716: at most 120 ms in a packet, and at least one frame. */
        if (frames == 0 || per * frames > 5760)
                return -EBADMSG;
        return (int) (per * frames);
}

static bool has_start_code(const uint8_t *d, size_t len) {
        size_t i = 0;
        while (i < len && i < 64 && d[i] == 0)
                i++;
        return i >= 2 && i < len && d[i] == 1;
}

int media_file_open(const uint8_t *data, size_t len, uint32_t h264_fps, MediaFile **ret) {
        _cleanup_media_file_ MediaFile *f = calloc(1, sizeof(*f));
        int r;
        if (!f)
                return -ENOMEM;
        f->data = data;
        f->len = len;
        if (len >= 4 && memcmp(data, "DKIF", 4) == 0)
                r = media_ivf_open(f);
        else if (len >= 4 && memcmp(data, "OggS", 4) == 0)
                r = media_ogg_open(f);
        else if (has_start_code(data, len))
                r = media_h264_open(f, h264_fps ? h264_fps : MEDIA_FILE_H264_FPS_DEFAULT);
        else
                r = -EMEDIUMTYPE;
        if (r < 0)
                return r;
        *ret = f;
        f = NULL;
        return 0;
}

MediaFile *media_file_free(MediaFile *f) {
        if (!f)
                return NULL;
        free(f->asm_buf);
        free(f);
        return NULL;
}

const MediaFileInfo *media_file_info(const MediaFile *f) {
        return &f->info;
}

int media_file_next(MediaFile *f, MediaPacket *ret) {
        if (f->failed)
                return 0;
        int r;
        switch (f->info.codec) {
        case MEDIA_CODEC_VP8:
                r = media_ivf_next(f, ret);
                break;
        case MEDIA_CODEC_OPUS:
                r = media_ogg_next(f, ret);
                break;
        default:
                r = media_h264_next(f, ret);
                break;
        }
        if (r == 1 && ret->len > MEDIA_FILE_PACKET_MAX)
                r = -EFBIG;
        if (r < 0)
                f->failed = true;
        if (r == 1)
                f->index++;
        return r;
}

void media_file_rewind(MediaFile *f) {
        f->failed = false;
        f->index = 0;
        if (f->info.codec == MEDIA_CODEC_OPUS)
                media_ogg_rewind(f);
        else if (f->info.codec == MEDIA_CODEC_VP8)
                f->pos = f->first;
        else
                f->pos = 0;
}
