/* tandem-media-gen's synthesis and encoding: a moving test pattern encoded with libavcodec's
 * libvpx (VP8) or libx264 (H.264 constrained baseline, Annex B access units), or a sine tone
 * encoded with libopus, handed out packet by packet. The containers are media-gen-ivf.c's and
 * media-gen-ogg.c's; tests and benches take the packets directly too. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum MediaGenCodec {
        MEDIA_GEN_VP8,
        MEDIA_GEN_OPUS,
        MEDIA_GEN_H264,
} MediaGenCodec;

typedef struct MediaGenOptions {
        MediaGenCodec codec;
        double seconds;          /* default 2 */
        uint32_t width, height;  /* video; default 320x240 */
        uint32_t fps;            /* video; default 30 */
        uint32_t keyframe_interval; /* video frames; default fps (one a second) */
        uint32_t bitrate;        /* bits/s; 0: the codec's default for the size */
        double tone_hz;          /* audio; default 440 */
        uint32_t sample_rate;    /* audio; 48000 */
        uint8_t channels;        /* audio; default 2 */
} MediaGenOptions;

typedef struct MediaGenPacket {
        const uint8_t *data;
        size_t len;
        uint64_t pts_us;
        bool keyframe;
        uint32_t samples; /* audio: per channel, at 48 kHz */
} MediaGenPacket;

typedef struct MediaGenInfo {
        uint32_t width, height, fps;   /* video */
        uint32_t sample_rate;          /* audio */
        uint8_t channels;
        uint32_t pre_skip;             /* audio: the encoder's delay, samples at 48 kHz */
} MediaGenInfo;

/* Fills in the defaults and checks the values: -EINVAL for a size that is 0, odd or over 4096,
 * fps outside 1-120, seconds outside (0, 3600], a tone outside (0, 20000) Hz, channels not 1-2. */
int media_gen_options_finish(MediaGenOptions *o);
/* Encodes the whole clip: on_info once before the first packet, then on_packet for each (a
 * negative return stops and is returned). -ENOENT when libavcodec has no such encoder. */
int media_gen_run(const MediaGenOptions *o, int (*on_info)(const MediaGenInfo *info, void *userdata),
                  int (*on_packet)(const MediaGenPacket *p, void *userdata), void *userdata);
/* The pattern's frame i (I420, planes of width x height and half that, tightly packed). */
void media_gen_pattern(uint32_t width, uint32_t height, uint64_t i, uint8_t *y, uint8_t *u, uint8_t *v);
/* Writes a clip to path: IVF (VP8), Ogg Opus, or an Annex B H.264 stream. */
int media_gen_write(const MediaGenOptions *o, const char *path);
