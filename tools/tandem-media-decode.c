/* tandem-media-decode FILE OUTDIR: the reference decode of a clip for the media tests (issue 7).
 * Reads FILE with common/media-file.h and decodes it with libavcodec (VP8, H.264) or libopus
 * directly, not through the client library, into the files tandem-viewer --media-out writes for a
 * stream (viewer-media-out.h), so a test compares files:
 *
 *   video: OUTDIR/stream.y4m (YUV4MPEG2 C420jpeg, a size change starts OUTDIR/stream-S.y4m) and
 *          OUTDIR/stream.pts (a line per decoded frame: pts_us);
 *   audio: OUTDIR/stream.wav (s16le at 48000 Hz and the clip's channels, pre-skip not dropped,
 *          as the viewer plays it) and OUTDIR/stream.pts (a line per packet: `pts_us samples').
 *
 * pts_us are the reader's, from the first packet's on (tandem-media-send pushes them so). Prints
 * "frames N" or "packets N samples M". Exit 0, or 1 with the reason. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavutil/log.h>
#include <libavutil/pixfmt.h>
#include <opus/opus.h>

#include "macro.h"
#include "media-file.h"
#include "wav-header.h"

#define FILE_MAX ((size_t) 256 << 20)
#define OPUS_SAMPLES_MAX 5760 /* 120 ms at 48 kHz, per channel */
#define OPUS_RATE 48000

typedef struct Output {
        const char *dir;
        FILE *data;
        FILE *pts;
        uint32_t width, height;
        unsigned segment;
        uint64_t count, samples;
} Output;

static FILE *open_out(const char *dir, const char *name) {
        _cleanup_(freep) char *path = NULL;
        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return NULL;
        FILE *f = fopen(path, "we");
        if (!f)
                fprintf(stderr, "Cannot create %s: %s\n", path, strerror(errno));
        return f;
}

static int read_all(const char *path, uint8_t **ret, size_t *ret_len) {
        FILE *f = fopen(path, "rbe");
        if (!f)
                return -errno;
        struct stat st;
        int r = 0;
        uint8_t *d = NULL;
        if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t) st.st_size > FILE_MAX)
                r = -EFBIG;
        else if (!(d = malloc(st.st_size ? (size_t) st.st_size : 1)))
                r = -ENOMEM;
        else if (fread(d, 1, (size_t) st.st_size, f) != (size_t) st.st_size)
                r = -EIO;
        fclose(f);
        if (r < 0) {
                free(d);
                return r;
        }
        *ret = d;
        *ret_len = (size_t) st.st_size;
        return 0;
}

static int wav_header(FILE *f, uint8_t channels, uint64_t data_bytes) {
        uint8_t h[WAV_HEADER_SIZE];
        wav_header_fill(h, OPUS_RATE, channels, data_bytes);
        return fseek(f, 0, SEEK_SET) == 0 && fwrite(h, 1, sizeof(h), f) == sizeof(h) ? 0 : -EIO;
}

static int decode_opus(MediaFile *mf, const MediaFileInfo *info, Output *o) {
        int err;
        if (info->channels < 1 || info->channels > 2)
                return -EMEDIUMTYPE;
        OpusDecoder *dec = opus_decoder_create(OPUS_RATE, info->channels, &err);
        if (!dec)
                return -ENOMEM;
        int16_t pcm[OPUS_SAMPLES_MAX * 2];
        uint8_t b[sizeof(pcm)];
        uint64_t first = UINT64_MAX;
        MediaPacket p;
        int r = wav_header(o->data, info->channels, 0);
        while (r >= 0 && (r = media_file_next(mf, &p)) > 0) {
                if (first == UINT64_MAX)
                        first = p.pts_us;
                int n = opus_decode(dec, p.data, (opus_int32) p.len, pcm, OPUS_SAMPLES_MAX, 0);
                if (n <= 0) {
                        fprintf(stderr, "Opus packet %llu: %s\n", (unsigned long long) o->count, opus_strerror(n));
                        r = -EBADMSG;
                        break;
                }
                size_t k = (size_t) n * info->channels;
                for (size_t i = 0; i < k; i++)
                        put_le16(b + 2 * i, (uint16_t) pcm[i]);
                if (fwrite(b, 2, k, o->data) != k ||
                    fprintf(o->pts, "%llu %d\n", (unsigned long long) (p.pts_us - first), n) < 0)
                        r = -EIO;
                o->count++;
                o->samples += (uint64_t) n;
        }
        opus_decoder_destroy(dec);
        if (r == 0)
                r = wav_header(o->data, info->channels, o->samples * info->channels * 2);
        if (r == 0)
                printf("packets %llu samples %llu\n", (unsigned long long) o->count, (unsigned long long) o->samples);
        return r;
}

static int y4m_frame(Output *o, const AVFrame *f, uint64_t pts) {
        if (f->format != AV_PIX_FMT_YUV420P && f->format != AV_PIX_FMT_YUVJ420P)
                return -ENOTSUP;
        uint32_t width = (uint32_t) f->width, height = (uint32_t) f->height;
        if (!o->data || width != o->width || height != o->height) {
                char name[32];
                if (o->data)
                        fclose(o->data);
                if (o->segment == 0)
                        snprintf(name, sizeof(name), "stream.y4m");
                else
                        snprintf(name, sizeof(name), "stream-%u.y4m", o->segment);
                o->segment++;
                o->width = width;
                o->height = height;
                if (!(o->data = open_out(o->dir, name)))
                        return -EIO;
                fprintf(o->data, "YUV4MPEG2 W%u H%u F30:1 Ip A1:1 C420jpeg\n", width, height);
        }
        size_t w[3] = { width, (width + 1) / 2, (width + 1) / 2 }, h[3] = { height, (height + 1) / 2, (height + 1) / 2 };
        bool ok = fputs("FRAME\n", o->data) >= 0;
        for (int p = 0; p < 3 && ok; p++)
                for (size_t y = 0; y < h[p] && ok; y++)
                        ok = fwrite(f->data[p] + (ptrdiff_t) y * f->linesize[p], 1, w[p], o->data) == w[p];
        ok = ok && fprintf(o->pts, "%llu\n", (unsigned long long) pts) > 0;
        o->count++;
        return ok ? 0 : -EIO;
}

static int decode_video(MediaFile *mf, const MediaFileInfo *info, Output *o) {
        const AVCodec *c = avcodec_find_decoder(info->codec == MEDIA_CODEC_VP8 ? AV_CODEC_ID_VP8 : AV_CODEC_ID_H264);
        if (!c)
                return -EOPNOTSUPP;
        AVCodecContext *ctx = avcodec_alloc_context3(c);
        AVPacket *pkt = av_packet_alloc();
        AVFrame *frame = av_frame_alloc();
        uint64_t first = UINT64_MAX;
        MediaPacket p;
        int r = 0;
        if (!ctx || !pkt || !frame) {
                r = -ENOMEM;
                goto out;
        }
        /* As the viewer decodes: one thread, a frame out for each access unit. */
        ctx->thread_count = 1;
        ctx->flags |= AV_CODEC_FLAG_LOW_DELAY;
        if (avcodec_open2(ctx, c, NULL) < 0) {
                r = -EIO;
                goto out;
        }
        for (bool eof = false; r >= 0 && !eof;) {
                r = media_file_next(mf, &p);
                if (r < 0)
                        break;
                eof = r == 0;
                if (!eof) {
                        if (first == UINT64_MAX)
                                first = p.pts_us;
                        if (av_new_packet(pkt, (int) p.len) < 0) {
                                r = -ENOMEM;
                                break;
                        }
                        memcpy(pkt->data, p.data, p.len);
                        pkt->pts = (int64_t) (p.pts_us - first);
                }
                r = avcodec_send_packet(ctx, eof ? NULL : pkt);
                av_packet_unref(pkt);
                if (r < 0) {
                        r = -EBADMSG;
                        break;
                }
                int a;
                while ((a = avcodec_receive_frame(ctx, frame)) >= 0 && (r = y4m_frame(o, frame, (uint64_t) frame->pts)) >= 0)
                        ;
                if (r >= 0 && a != AVERROR(EAGAIN) && a != AVERROR_EOF)
                        r = -EBADMSG;
        }
        if (r >= 0) {
                r = 0;
                printf("frames %llu\n", (unsigned long long) o->count);
        }
out:
        avcodec_free_context(&ctx);
        av_packet_free(&pkt);
        av_frame_free(&frame);
        return r;
}

int main(int argc, char *argv[]) {
        if (argc != 3) {
                fputs("Usage: tandem-media-decode FILE OUTDIR\n"
                      "Decodes an IVF (VP8), Ogg Opus or H.264 Annex B clip into OUTDIR/stream.y4m or\n"
                      "stream.wav and OUTDIR/stream.pts, as tandem-viewer --media-out writes a stream.\n",
                      argc == 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
                return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 1;
        }
        av_log_set_level(AV_LOG_ERROR);
        _cleanup_(freep) uint8_t *data = NULL;
        size_t len = 0;
        int r = read_all(argv[1], &data, &len);
        if (r < 0) {
                fprintf(stderr, "Cannot read %s: %s\n", argv[1], strerror(-r));
                return 1;
        }
        _cleanup_media_file_ MediaFile *mf = NULL;
        r = media_file_open(data, len, 0, &mf);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", argv[1],
                        r == -EMEDIUMTYPE ? "not IVF VP8, Ogg Opus or H.264 Annex B" : strerror(-r));
                return 1;
        }
        const MediaFileInfo *info = media_file_info(mf);
        bool video = info->kind == MEDIA_KIND_VIDEO;
        Output o = { .dir = argv[2] };
        if (!(o.pts = open_out(argv[2], "stream.pts")) || (!video && !(o.data = open_out(argv[2], "stream.wav"))))
                r = -EIO;
        else
                r = video ? decode_video(mf, info, &o) : decode_opus(mf, info, &o);
        if (o.data && fclose(o.data) != 0 && r == 0)
                r = -EIO;
        if (o.pts && fclose(o.pts) != 0 && r == 0)
                r = -EIO;
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", argv[1], strerror(-r));
                return 1;
        }
        return 0;
}
