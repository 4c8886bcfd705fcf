/* For the media tests and bench: a clip made by tandem-media-gen's code, read back with
 * libavformat (its packets as they go on the wire), and decoded directly with libavcodec and
 * libopus as the reference the client's path is compared with. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media-gen.h"

typedef struct ClipPacket {
        uint8_t *data;
        size_t len;
        uint64_t pts_us;
        bool keyframe;
} ClipPacket;

typedef struct Clip {
        ClipPacket *packets;
        size_t n;
        uint32_t width, height;
        uint32_t sample_rate;
        uint8_t channels;
} Clip;

typedef struct RefFrame {
        uint32_t width, height;
        uint8_t *yuv; /* I420, tightly packed */
        uint64_t pts_us;
} RefFrame;

/* Writes the clip with media_gen_write() into dir and demuxes it with libavformat. */
void clip_make(const MediaGenOptions *o, const char *dir, const char *name, Clip *ret);
void clip_done(Clip *c);
/* libavcodec's decoder on the file's packets, single-threaded: frames in order. */
size_t clip_reference_video(const Clip *c, MediaGenCodec codec, RefFrame **ret);
void ref_frames_free(RefFrame *f, size_t n);
/* libopus on the packets at the clip's rate and channels: samples interleaved. */
size_t clip_reference_audio(const Clip *c, int16_t **ret);
/* PSNR of two I420 pictures of the same size (INFINITY when equal). */
double i420_psnr(const uint8_t *a, const uint8_t *b, uint32_t width, uint32_t height);
