#include "client-media-video.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/pixfmt.h>

struct MediaVideoDecoder {
        AVCodecContext *ctx;
        AVPacket *pkt;
        AVFrame *frame;
};

static enum AVCodecID codec_id(uint8_t codec) {
        switch (codec) {
        case WIRE_CODEC_VP8:
                return AV_CODEC_ID_VP8;
        case WIRE_CODEC_H264:
                return AV_CODEC_ID_H264;
        default:
                return AV_CODEC_ID_NONE;
        }
}

bool media_video_codec_available(uint8_t codec) {
        enum AVCodecID id = codec_id(codec);
        return id != AV_CODEC_ID_NONE && avcodec_find_decoder(id) != NULL;
}

MediaVideoDecoder *media_video_decoder_free(MediaVideoDecoder *d) {
        if (!d)
                return NULL;
        avcodec_free_context(&d->ctx);
        av_packet_free(&d->pkt);
        av_frame_free(&d->frame);
        free(d);
        return NULL;
}

int media_video_decoder_new(uint8_t codec, MediaVideoDecoder **ret) {
        enum AVCodecID id = codec_id(codec);
        const AVCodec *c = id != AV_CODEC_ID_NONE ? avcodec_find_decoder(id) : NULL;
        if (!c)
                return -EOPNOTSUPP;
        _cleanup_(media_video_decoder_freep) MediaVideoDecoder *d = calloc(1, sizeof(MediaVideoDecoder));
        if (!d)
                return -ENOMEM;
        d->ctx = avcodec_alloc_context3(c);
        d->pkt = av_packet_alloc();
        d->frame = av_frame_alloc();
        if (!d->ctx || !d->pkt || !d->frame)
                return -ENOMEM;
        /* One thread and low delay: each access unit gives its frame at once (no frame threads
         * holding pictures back), which keyframe-after-loss and A/V sync rely on. */
        d->ctx->thread_count = 1;
        d->ctx->flags |= AV_CODEC_FLAG_LOW_DELAY;
        /* A hostile header cannot make it allocate more than our largest picture. */
        d->ctx->max_pixels = (int64_t) CLIENT_MEDIA_VIDEO_SIZE_MAX * CLIENT_MEDIA_VIDEO_SIZE_MAX;
        if (avcodec_open2(d->ctx, c, NULL) < 0)
                return -EIO;
        *ret = TAKE_PTR(d);
        return 0;
}

void media_video_decoder_reset(MediaVideoDecoder *d) {
        avcodec_flush_buffers(d->ctx);
}

int media_video_decoder_decode(MediaVideoDecoder *d, const uint8_t *data, size_t len, uint64_t pts_us,
                               ClientMediaPicture *ret) {
        if (len == 0 || len > INT32_MAX)
                return -EBADMSG;
        /* libavcodec reads up to AV_INPUT_BUFFER_PADDING_SIZE bytes past the data: copy. */
        if (av_new_packet(d->pkt, (int) len) < 0)
                return -ENOMEM;
        memcpy(d->pkt->data, data, len);
        d->pkt->pts = (int64_t) (pts_us & INT64_MAX);
        int r = avcodec_send_packet(d->ctx, d->pkt);
        av_packet_unref(d->pkt);
        if (r < 0 && r != AVERROR(EAGAIN))
                return -EBADMSG;
        r = avcodec_receive_frame(d->ctx, d->frame);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
                return 0;
        if (r < 0)
                return -EBADMSG;
        if (d->frame->decode_error_flags || (d->frame->flags & AV_FRAME_FLAG_CORRUPT))
                return -EBADMSG;
        if (d->frame->format != AV_PIX_FMT_YUV420P && d->frame->format != AV_PIX_FMT_YUVJ420P)
                return -ENOTSUP;
        if (d->frame->width <= 0 || d->frame->height <= 0 || d->frame->width > CLIENT_MEDIA_VIDEO_SIZE_MAX ||
            d->frame->height > CLIENT_MEDIA_VIDEO_SIZE_MAX)
                return -E2BIG;
        *ret = (ClientMediaPicture) {
                .width = (uint32_t) d->frame->width,
                .height = (uint32_t) d->frame->height,
                .pts_us = d->frame->pts == AV_NOPTS_VALUE ? pts_us : (uint64_t) d->frame->pts,
        };
        for (int i = 0; i < 3; i++) {
                ret->planes[i] = d->frame->data[i];
                ret->strides[i] = d->frame->linesize[i];
        }
        return 1;
}
