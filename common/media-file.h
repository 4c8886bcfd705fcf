/* Readers of the compressed media containers an application hands to org.tandem.Media1: IVF
 * (VP8), Ogg Opus and raw H.264 Annex B. Pure: they read a file already in memory (pointer +
 * length, the caller keeps it alive while the reader lives) and hand out packets pointing into
 * it; only Opus packets spanning Ogg pages are copied, into one buffer the reader owns. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The agent protocol's numbers (schema/agent.def: codec, kind). */
enum {
        MEDIA_CODEC_OPUS = 0,
        MEDIA_CODEC_VP8 = 1,
        MEDIA_CODEC_H264 = 2,
};
enum {
        MEDIA_KIND_AUDIO = 0,
        MEDIA_KIND_VIDEO = 1,
};

/* The largest packet a reader hands out (the agent's media-packet blob). */
#define MEDIA_FILE_PACKET_MAX ((size_t) 524288)
/* The frame rate of H.264 elementary streams when the caller gives none (they carry no timing). */
#define MEDIA_FILE_H264_FPS_DEFAULT 30

typedef struct MediaFileInfo {
        uint8_t codec;           /* MEDIA_CODEC_* */
        uint8_t kind;            /* MEDIA_KIND_* */
        uint32_t width, height;  /* video: pixels (H.264: from the first SPS, 0 without one) */
        uint32_t fps_num, fps_den; /* video: frames per second as a fraction */
        uint32_t sample_rate;    /* audio: Opus always decodes at 48000; input_rate is the original */
        uint32_t input_rate;
        uint8_t channels;
        uint16_t pre_skip;       /* Opus: samples at 48 kHz to drop at the start */
} MediaFileInfo;

typedef struct MediaPacket {
        const uint8_t *data;     /* valid until the next call on the reader */
        size_t len;
        uint64_t pts_us;
        bool keyframe;
} MediaPacket;

typedef struct MediaFile MediaFile;

/* Sniffs the container (IVF "DKIF", Ogg "OggS" with OpusHead, Annex B start code) and reads its
 * header. h264_fps: the frame rate for H.264 (0: MEDIA_FILE_H264_FPS_DEFAULT). -EMEDIUMTYPE for
 * an unknown container or codec, -EBADMSG for a broken header, -ENOMEM. */
int media_file_open(const uint8_t *data, size_t len, uint32_t h264_fps, MediaFile **ret);
MediaFile *media_file_free(MediaFile *f);
const MediaFileInfo *media_file_info(const MediaFile *f);
/* 1 and the next packet, 0 at the end, -EBADMSG for a broken container (the reader is then at
 * its end), -EFBIG for a packet over MEDIA_FILE_PACKET_MAX. */
int media_file_next(MediaFile *f, MediaPacket *ret);
/* Back to the first packet (pts start over). */
void media_file_rewind(MediaFile *f);

const char *media_codec_name(uint8_t codec);
/* MEDIA_CODEC_* of "opus", "vp8", "h264"; -EINVAL otherwise. */
int media_codec_from_name(const char *name, size_t len);
/* Samples at 48 kHz in one Opus packet (RFC 6716 3.1), or -EBADMSG. */
int media_opus_packet_samples(const uint8_t *p, size_t len);
/* Width and height of an H.264 SPS NAL unit (header byte included), cropping applied. */
int media_h264_sps_size(const uint8_t *nal, size_t len, uint32_t *ret_w, uint32_t *ret_h);

static inline void media_file_freep(MediaFile **f) {
        media_file_free(*f);
}
#define _cleanup_media_file_ __attribute__((cleanup(media_file_freep)))
