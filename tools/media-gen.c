#include "media-gen.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/opt.h>

#include "macro.h"

int media_gen_options_finish(MediaGenOptions *o) {
        if (o->seconds == 0)
                o->seconds = 2;
        if (!(o->seconds > 0 && o->seconds <= 3600))
                return -EINVAL;
        if (o->codec == MEDIA_GEN_OPUS) {
                if (o->tone_hz == 0)
                        o->tone_hz = 440;
                if (o->sample_rate == 0)
                        o->sample_rate = 48000;
                if (o->channels == 0)
                        o->channels = 2;
                if (!(o->tone_hz > 0 && o->tone_hz < 20000) || o->sample_rate != 48000 || o->channels > 2)
                        return -EINVAL;
                return 0;
        }
        if (o->width == 0 && o->height == 0) {
                o->width = 320;
                o->height = 240;
        }
        if (o->fps == 0)
                o->fps = 30;
        if (o->keyframe_interval == 0)
                o->keyframe_interval = o->fps;
        if (o->width == 0 || o->height == 0 || o->width > 4096 || o->height > 4096 || o->width % 2 || o->height % 2 ||
            o->fps > 120)
                return -EINVAL;
        return 0;
}

/* A gradient background, a bright square moving across it and a colour band: motion, edges and
 * chroma, the same for the same (size, i). */
void media_gen_pattern(uint32_t width, uint32_t height, uint64_t i, uint8_t *y, uint8_t *u, uint8_t *v) {
        uint32_t side = MAX(height / 4, 2u), bx = (uint32_t) ((i * 4) % MAX(width - side, 1u)),
                 by = (uint32_t) ((i * 3) % MAX(height - side, 1u));
        for (uint32_t r = 0; r < height; r++)
                for (uint32_t c = 0; c < width; c++) {
                        bool box = c >= bx && c < bx + side && r >= by && r < by + side;
                        y[(size_t) r * width + c] = box ? 235 : (uint8_t) (16 + (c * 160 / width + r * 40 / height + i) % 200);
                }
        for (uint32_t r = 0; r < height / 2; r++)
                for (uint32_t c = 0; c < width / 2; c++) {
                        u[(size_t) r * (width / 2) + c] = (uint8_t) (128 + 60 * sin((c + i) * 0.05));
                        v[(size_t) r * (width / 2) + c] = (uint8_t) (128 + 60 * cos((r + i * 2) * 0.04));
                }
}

static int drain(AVCodecContext *ctx, AVPacket *pkt, const MediaGenOptions *o,
                 int (*on_packet)(const MediaGenPacket *p, void *userdata), void *userdata) {
        for (;;) {
                int r = avcodec_receive_packet(ctx, pkt);
                if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
                        return 0;
                if (r < 0)
                        return -EIO;
                MediaGenPacket p = { .data = pkt->data, .len = (size_t) pkt->size,
                                     .keyframe = (pkt->flags & AV_PKT_FLAG_KEY) != 0 };
                if (o->codec == MEDIA_GEN_OPUS) {
                        /* pts in samples at 48 kHz, counted from the first real sample */
                        int64_t pts = pkt->pts - ctx->initial_padding;
                        p.pts_us = pts > 0 ? (uint64_t) pts * 1000000 / 48000 : 0;
                        p.samples = (uint32_t) pkt->duration;
                } else
                        p.pts_us = (uint64_t) pkt->pts * 1000000 / o->fps;
                r = on_packet(&p, userdata);
                av_packet_unref(pkt);
                if (r < 0)
                        return r;
        }
}

static int open_encoder(const MediaGenOptions *o, AVCodecContext **ret) {
        static const char *const names[] = { [MEDIA_GEN_VP8] = "libvpx", [MEDIA_GEN_OPUS] = "libopus",
                                             [MEDIA_GEN_H264] = "libx264" };
        const AVCodec *c = avcodec_find_encoder_by_name(names[o->codec]);
        if (!c)
                return -ENOENT;
        AVCodecContext *ctx = avcodec_alloc_context3(c);
        if (!ctx)
                return -ENOMEM;
        ctx->thread_count = 1; /* deterministic output for the same arguments */
        if (o->codec == MEDIA_GEN_OPUS) {
                ctx->sample_rate = (int) o->sample_rate;
                ctx->sample_fmt = AV_SAMPLE_FMT_S16;
                av_channel_layout_default(&ctx->ch_layout, o->channels);
                ctx->bit_rate = o->bitrate ? o->bitrate : 64000 * o->channels;
                ctx->time_base = (AVRational) { 1, (int) o->sample_rate };
        } else {
                ctx->width = (int) o->width;
                ctx->height = (int) o->height;
                ctx->pix_fmt = AV_PIX_FMT_YUV420P;
                ctx->time_base = (AVRational) { 1, (int) o->fps };
                ctx->framerate = (AVRational) { (int) o->fps, 1 };
                ctx->gop_size = (int) o->keyframe_interval;
                ctx->max_b_frames = 0;
                ctx->bit_rate = o->bitrate ? o->bitrate : MAX((int64_t) o->width * o->height * o->fps / 8, 100000);
                if (o->codec == MEDIA_GEN_H264) {
                        ctx->profile = FF_PROFILE_H264_CONSTRAINED_BASELINE;
                        av_opt_set(ctx->priv_data, "profile", "baseline", 0);
                        av_opt_set(ctx->priv_data, "preset", "veryfast", 0);
                        av_opt_set(ctx->priv_data, "tune", "zerolatency", 0);
                        /* SPS/PPS in band at every keyframe: any keyframe starts a decoder */
                        av_opt_set(ctx->priv_data, "x264-params", "repeat-headers=1:annexb=1", 0);
                } else {
                        /* Not "realtime": libvpx then adapts its speed to the wall clock, and the
                         * same arguments would give other bytes on a busy machine. */
                        av_opt_set(ctx->priv_data, "deadline", "good", 0);
                        av_opt_set_int(ctx->priv_data, "cpu-used", 5, 0);
                        av_opt_set_int(ctx->priv_data, "lag-in-frames", 0, 0);
                }
        }
        if (avcodec_open2(ctx, c, NULL) < 0) {
                avcodec_free_context(&ctx);
                return -EIO;
        }
        *ret = ctx;
        return 0;
}

int media_gen_run(const MediaGenOptions *opts, int (*on_info)(const MediaGenInfo *info, void *userdata),
                  int (*on_packet)(const MediaGenPacket *p, void *userdata), void *userdata) {
        MediaGenOptions o = *opts;
        AVCodecContext *ctx = NULL;
        int r = media_gen_options_finish(&o);
        if (r < 0)
                return r;
        r = open_encoder(&o, &ctx);
        if (r < 0)
                return r;
        AVFrame *frame = av_frame_alloc();
        AVPacket *pkt = av_packet_alloc();
        if (!frame || !pkt) {
                r = -ENOMEM;
                goto out;
        }
        MediaGenInfo info = { .width = o.width, .height = o.height, .fps = o.fps, .sample_rate = o.sample_rate,
                              .channels = o.channels, .pre_skip = (uint32_t) MAX(ctx->initial_padding, 0) };
        r = on_info ? on_info(&info, userdata) : 0;
        if (r < 0)
                goto out;

        if (o.codec == MEDIA_GEN_OPUS) {
                uint64_t total = (uint64_t) (o.seconds * o.sample_rate), done = 0;
                int n = ctx->frame_size;
                frame->format = AV_SAMPLE_FMT_S16;
                frame->nb_samples = n;
                frame->sample_rate = ctx->sample_rate;
                av_channel_layout_copy(&frame->ch_layout, &ctx->ch_layout);
                if (av_frame_get_buffer(frame, 0) < 0) {
                        r = -ENOMEM;
                        goto out;
                }
                while (done < total) {
                        if (av_frame_make_writable(frame) < 0) {
                                r = -ENOMEM;
                                goto out;
                        }
                        int16_t *s = (int16_t *) frame->data[0];
                        for (int i = 0; i < n; i++) {
                                double t = (double) (done + i) / o.sample_rate;
                                int16_t v = done + i < total ? (int16_t) (12000 * sin(2 * M_PI * o.tone_hz * t)) : 0;
                                for (int c = 0; c < o.channels; c++)
                                        s[i * o.channels + c] = v;
                        }
                        frame->pts = (int64_t) done;
                        if (avcodec_send_frame(ctx, frame) < 0) {
                                r = -EIO;
                                goto out;
                        }
                        done += (uint64_t) n;
                        r = drain(ctx, pkt, &o, on_packet, userdata);
                        if (r < 0)
                                goto out;
                }
        } else {
                uint64_t frames = (uint64_t) (o.seconds * o.fps + 0.5);
                frame->format = AV_PIX_FMT_YUV420P;
                frame->width = (int) o.width;
                frame->height = (int) o.height;
                if (av_frame_get_buffer(frame, 0) < 0) {
                        r = -ENOMEM;
                        goto out;
                }
                uint8_t *planes = malloc((size_t) o.width * o.height * 3 / 2);
                if (!planes) {
                        r = -ENOMEM;
                        goto out;
                }
                for (uint64_t i = 0; i < frames; i++) {
                        size_t ys = (size_t) o.width * o.height;
                        media_gen_pattern(o.width, o.height, i, planes, planes + ys, planes + ys + ys / 4);
                        if (av_frame_make_writable(frame) < 0) {
                                r = -ENOMEM;
                                break;
                        }
                        const uint8_t *src[3] = { planes, planes + ys, planes + ys + ys / 4 };
                        for (int p = 0; p < 3; p++) {
                                uint32_t w = p ? o.width / 2 : o.width, h = p ? o.height / 2 : o.height;
                                for (uint32_t row = 0; row < h; row++)
                                        memcpy(frame->data[p] + (size_t) row * frame->linesize[p], src[p] + (size_t) row * w, w);
                        }
                        frame->pts = (int64_t) i;
                        frame->pict_type = AV_PICTURE_TYPE_NONE;
                        if (avcodec_send_frame(ctx, frame) < 0) {
                                r = -EIO;
                                break;
                        }
                        r = drain(ctx, pkt, &o, on_packet, userdata);
                        if (r < 0)
                                break;
                }
                free(planes);
                if (r < 0)
                        goto out;
        }
        if (avcodec_send_frame(ctx, NULL) < 0) {
                r = -EIO;
                goto out;
        }
        r = drain(ctx, pkt, &o, on_packet, userdata);
out:
        av_packet_free(&pkt);
        av_frame_free(&frame);
        avcodec_free_context(&ctx);
        return r;
}
