/* One video stream's decoder (libavcodec, single-threaded, low delay: one access unit in, its
 * frame out). Internal to client-media.c, and the reference path of its tests. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client-media.h"
#include "macro.h"

typedef struct MediaVideoDecoder MediaVideoDecoder;

/* Whether libavcodec here has a decoder for the codec (WIRE_CODEC_VP8, WIRE_CODEC_H264). */
bool media_video_codec_available(uint8_t codec);
int media_video_decoder_new(uint8_t codec, MediaVideoDecoder **ret);
MediaVideoDecoder *media_video_decoder_free(MediaVideoDecoder *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(MediaVideoDecoder *, media_video_decoder_free);
/* Decodes one packet: 1 with the picture in *ret (its planes valid until the next call), 0 when
 * the decoder gave no frame, -EBADMSG when it refused the data, -E2BIG over
 * CLIENT_MEDIA_VIDEO_SIZE_MAX, -ENOTSUP for a pixel format other than 4:2:0 planar. */
int media_video_decoder_decode(MediaVideoDecoder *d, const uint8_t *data, size_t len, uint64_t pts_us,
                               ClientMediaPicture *ret);
/* Forgets references (after loss): the next packet must be a keyframe. */
void media_video_decoder_reset(MediaVideoDecoder *d);
