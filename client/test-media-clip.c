#include "test-media-clip.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <opus/opus.h>

#include "check.h"
#include "macro.h"

void clip_make(const MediaGenOptions *o, const char *dir, const char *name, Clip *ret) {
        char path[4096];
        AVFormatContext *fmt = NULL;
        MediaGenOptions opts = *o;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        check(media_gen_options_finish(&opts) == 0);
        check(media_gen_write(&opts, path) == 0);
        check(avformat_open_input(&fmt, path, NULL, NULL) == 0);
        check(avformat_find_stream_info(fmt, NULL) >= 0);
        check(fmt->nb_streams == 1);
        AVStream *s = fmt->streams[0];
        *ret = (Clip) { .width = opts.width, .height = opts.height, .sample_rate = opts.sample_rate,
                        .channels = opts.channels };
        AVPacket *pkt = av_packet_alloc();
        check(pkt);
        size_t cap = 0;
        while (av_read_frame(fmt, pkt) >= 0) {
                if (ret->n == cap) {
                        cap = cap ? cap * 2 : 64;
                        ret->packets = realloc(ret->packets, cap * sizeof(ClipPacket));
                        check(ret->packets);
                }
                ClipPacket *p = &ret->packets[ret->n];
                p->data = malloc((size_t) pkt->size);
                check(p->data);
                memcpy(p->data, pkt->data, (size_t) pkt->size);
                p->len = (size_t) pkt->size;
                p->keyframe = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
                /* A raw H.264 stream has no times: the generator's frame rate gives them. */
                if (opts.codec == MEDIA_GEN_H264 || pkt->pts == AV_NOPTS_VALUE)
                        p->pts_us = opts.codec == MEDIA_GEN_OPUS ? ret->n * 20000 : ret->n * 1000000 / opts.fps;
                else
                        p->pts_us = (uint64_t) MAX(av_rescale_q(pkt->pts, s->time_base, (AVRational) { 1, 1000000 }), 0);
                ret->n++;
                av_packet_unref(pkt);
        }
        av_packet_free(&pkt);
        avformat_close_input(&fmt);
        check(ret->n > 0);
}

void clip_done(Clip *c) {
        for (size_t i = 0; i < c->n; i++)
                free(c->packets[i].data);
        free(c->packets);
        *c = (Clip) {};
}

size_t clip_reference_video(const Clip *c, MediaGenCodec codec, RefFrame **ret) {
        const AVCodec *dec = avcodec_find_decoder(codec == MEDIA_GEN_VP8 ? AV_CODEC_ID_VP8 : AV_CODEC_ID_H264);
        check(dec);
        AVCodecContext *ctx = avcodec_alloc_context3(dec);
        check(ctx);
        ctx->thread_count = 1;
        ctx->flags |= AV_CODEC_FLAG_LOW_DELAY;
        check(avcodec_open2(ctx, dec, NULL) == 0);
        AVPacket *pkt = av_packet_alloc();
        AVFrame *f = av_frame_alloc();
        check(pkt && f);
        RefFrame *frames = calloc(c->n, sizeof(RefFrame));
        size_t n = 0;
        check(frames);
        for (size_t i = 0; i < c->n; i++) {
                check(av_new_packet(pkt, (int) c->packets[i].len) == 0);
                memcpy(pkt->data, c->packets[i].data, c->packets[i].len);
                pkt->pts = (int64_t) c->packets[i].pts_us;
                check(avcodec_send_packet(ctx, pkt) == 0);
                av_packet_unref(pkt);
                while (avcodec_receive_frame(ctx, f) == 0) {
                        check(n < c->n);
                        RefFrame *r = &frames[n++];
                        r->width = (uint32_t) f->width;
                        r->height = (uint32_t) f->height;
                        r->pts_us = (uint64_t) f->pts;
                        size_t ys = (size_t) r->width * r->height, cw = (r->width + 1) / 2, ch = (r->height + 1) / 2;
                        r->yuv = malloc(ys + 2 * cw * ch);
                        check(r->yuv);
                        uint8_t *dst[3] = { r->yuv, r->yuv + ys, r->yuv + ys + cw * ch };
                        size_t w[3] = { r->width, cw, cw }, h[3] = { r->height, ch, ch };
                        for (int p = 0; p < 3; p++)
                                for (size_t y = 0; y < h[p]; y++)
                                        memcpy(dst[p] + y * w[p], f->data[p] + (ptrdiff_t) y * f->linesize[p], w[p]);
                }
        }
        av_frame_free(&f);
        av_packet_free(&pkt);
        avcodec_free_context(&ctx);
        *ret = frames;
        return n;
}

void ref_frames_free(RefFrame *f, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(f[i].yuv);
        free(f);
}

size_t clip_reference_audio(const Clip *c, int16_t **ret) {
        int err;
        OpusDecoder *d = opus_decoder_create((opus_int32) c->sample_rate, c->channels, &err);
        check(d);
        size_t cap = c->n * 5760, n = 0;
        int16_t *pcm = malloc(cap * c->channels * sizeof(int16_t));
        check(pcm);
        for (size_t i = 0; i < c->n; i++) {
                int k = opus_decode(d, c->packets[i].data, (opus_int32) c->packets[i].len, pcm + n * c->channels, 5760, 0);
                check(k > 0);
                n += (size_t) k;
        }
        opus_decoder_destroy(d);
        *ret = pcm;
        return n;
}

double i420_psnr(const uint8_t *a, const uint8_t *b, uint32_t width, uint32_t height) {
        size_t n = (size_t) width * height + 2 * (size_t) ((width + 1) / 2) * ((height + 1) / 2);
        double se = 0;
        for (size_t i = 0; i < n; i++) {
                double d = (double) a[i] - b[i];
                se += d * d;
        }
        if (se == 0)
                return INFINITY;
        return 10 * log10(255.0 * 255.0 * (double) n / se);
}
