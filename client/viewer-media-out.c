#include "viewer-media-out.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wav-header.h"

#define OUT_STREAMS_MAX 256 /* files open at once; more streams get the lines only */

typedef struct OutStream {
        uint32_t id;
        bool video;
        FILE *data;  /* .y4m or .wav */
        FILE *pts;
        uint32_t width, height; /* y4m: the current file's size */
        unsigned segment;
        uint64_t wav_bytes;
        uint32_t rate;
        uint8_t channels;
        uint64_t samples; /* audio per channel, for the totals */
        bool failed;
} OutStream;

struct MediaOut {
        char *dir;
        FILE *log;
        OutStream *streams[OUT_STREAMS_MAX];
        size_t n;
        uint64_t audio_us_done; /* of streams gone */
        ScriptMediaTotals totals;
};

const char *media_out_why_name(uint8_t why) {
        static const char *const names[] = { "closed", "limit", "malformed", "agent-lost", "policy" };
        return why < ELEMENTSOF(names) ? names[why] : "unknown";
}

int media_out_new(const char *dir, FILE *log, MediaOut **ret) {
        MediaOut *o = calloc(1, sizeof(MediaOut));
        if (!o)
                return -ENOMEM;
        o->log = log;
        if (dir && !(o->dir = strdup(dir))) {
                free(o);
                return -ENOMEM;
        }
        *ret = o;
        return 0;
}

/* The 44-byte WAV header with the sizes so far (rewritten as data comes: a viewer killed by a
 * test leaves a file whose header is at most one packet behind). */
static int wav_header(OutStream *s) {
        uint8_t h[WAV_HEADER_SIZE];
        wav_header_fill(h, s->rate, s->channels, s->wav_bytes);
        if (fflush(s->data) != 0 || pwrite(fileno(s->data), h, sizeof(h), 0) != (ssize_t) sizeof(h))
                return -EIO;
        return 0;
}

static void stream_fail(MediaOut *o, OutStream *s, const char *what) {
        if (!s->failed && o->log)
                fprintf(o->log, "tandem-viewer: Failed to write %s of media stream %u: %s, ignoring\n", what, s->id,
                        strerror(errno ? errno : EIO));
        s->failed = true;
}

static FILE *open_file(MediaOut *o, OutStream *s, const char *suffix) {
        _cleanup_(freep) char *path = NULL;
        if (asprintf(&path, "%s/stream-%u%s", o->dir, s->id, suffix) < 0)
                return NULL;
        FILE *f = fopen(path, "we");
        if (!f)
                stream_fail(o, s, path);
        return f;
}

static void stream_close(OutStream *s) {
        if (s->data && !s->video)
                (void) wav_header(s);
        if (s->data)
                fclose(s->data);
        if (s->pts)
                fclose(s->pts);
        s->data = s->pts = NULL;
}

MediaOut *media_out_free(MediaOut *o) {
        if (!o)
                return NULL;
        for (size_t i = 0; i < o->n; i++) {
                stream_close(o->streams[i]);
                free(o->streams[i]);
        }
        free(o->dir);
        free(o);
        return NULL;
}

static OutStream *find(MediaOut *o, uint32_t id) {
        for (size_t i = 0; i < o->n; i++)
                if (o->streams[i]->id == id)
                        return o->streams[i];
        return NULL;
}

static void update_audio_total(MediaOut *o) {
        uint64_t us = o->audio_us_done;
        for (size_t i = 0; i < o->n; i++)
                if (!o->streams[i]->video && o->streams[i]->rate)
                        us += o->streams[i]->samples * 1000000 / o->streams[i]->rate;
        o->totals.audio_ms = us / 1000;
}

void media_out_start(MediaOut *o, const ClientMediaStream *st) {
        o->totals.started++;
        o->totals.running++;
        if (o->log) {
                fprintf(o->log, "media: start %u source=%s kind=%s codec=%s %ux%u", st->id,
                        st->source == WIRE_SOURCE_VM ? "vm" : "guest", st->kind == WIRE_KIND_VIDEO ? "video" : "audio",
                        client_media_codec_name(st->codec), st->width, st->height);
                if (st->kind == WIRE_KIND_AUDIO)
                        fprintf(o->log, " rate=%u channels=%u", st->sample_rate, st->channels);
                fputc('\n', o->log);
                fflush(o->log);
        }
        OutStream *s = find(o, st->id);
        if (s) { /* the same id again: the old files end here */
                stream_close(s);
                *s = (OutStream) { .id = st->id };
        } else {
                if (o->n == OUT_STREAMS_MAX || !(s = calloc(1, sizeof(OutStream))))
                        return;
                s->id = st->id;
                o->streams[o->n++] = s;
        }
        s->video = st->kind == WIRE_KIND_VIDEO;
        s->rate = st->out_rate;
        s->channels = st->out_channels;
        if (!o->dir)
                return;
        s->pts = open_file(o, s, ".pts");
        if (!s->video && s->pts) {
                static const uint8_t room[WAV_HEADER_SIZE];
                s->data = open_file(o, s, ".wav");
                if (s->data && (fwrite(room, 1, sizeof(room), s->data) != sizeof(room) || wav_header(s) < 0))
                        stream_fail(o, s, "the WAV header");
        }
}

static int y4m_open(MediaOut *o, OutStream *s, uint32_t width, uint32_t height) {
        char suffix[32];
        if (s->data)
                fclose(s->data);
        if (s->segment == 0)
                snprintf(suffix, sizeof(suffix), ".y4m");
        else
                snprintf(suffix, sizeof(suffix), "-%u.y4m", s->segment);
        s->segment++;
        s->width = width;
        s->height = height;
        s->data = open_file(o, s, suffix);
        if (!s->data)
                return -EIO;
        /* The frame rate is nominal: the .pts file has the real times. */
        fprintf(s->data, "YUV4MPEG2 W%u H%u F30:1 Ip A1:1 C420jpeg\n", width, height);
        return 0;
}

void media_out_video(MediaOut *o, const ClientMediaStream *st, const ClientMediaPicture *pic) {
        o->totals.video_frames++;
        OutStream *s = find(o, st->id);
        if (!s || !o->dir || s->failed)
                return;
        if ((!s->data || s->width != pic->width || s->height != pic->height) &&
            y4m_open(o, s, pic->width, pic->height) < 0)
                return;
        size_t w[3] = { pic->width, (pic->width + 1) / 2, (pic->width + 1) / 2 },
               h[3] = { pic->height, (pic->height + 1) / 2, (pic->height + 1) / 2 };
        bool ok = fputs("FRAME\n", s->data) >= 0;
        for (int p = 0; p < 3 && ok; p++)
                for (size_t y = 0; y < h[p] && ok; y++)
                        ok = fwrite(pic->planes[p] + (ptrdiff_t) y * pic->strides[p], 1, w[p], s->data) == w[p];
        if (ok && s->pts)
                ok = fprintf(s->pts, "%llu\n", (unsigned long long) pic->pts_us) > 0;
        if (ok)
                ok = fflush(s->data) == 0 && (!s->pts || fflush(s->pts) == 0);
        if (!ok)
                stream_fail(o, s, "a video frame");
}

void media_out_audio(MediaOut *o, const ClientMediaStream *st, const int16_t *pcm, size_t frames, uint64_t pts_us) {
        OutStream *s = find(o, st->id);
        if (!s)
                return;
        s->samples += frames;
        update_audio_total(o);
        if (!o->dir || s->failed || !s->data)
                return;
        size_t n = frames * s->channels;
        bool ok = true;
        uint8_t b[1024];
        for (size_t i = 0; i < n && ok;) { /* s16le whatever the machine's order */
                size_t k = MIN(n - i, sizeof(b) / 2);
                for (size_t x = 0; x < k; x++)
                        put_le16(b + 2 * x, (uint16_t) pcm[i + x]);
                ok = fwrite(b, 2, k, s->data) == k;
                i += k;
        }
        s->wav_bytes += n * 2;
        if (ok && s->pts)
                ok = fprintf(s->pts, "%llu %zu\n", (unsigned long long) pts_us, frames) > 0 && fflush(s->pts) == 0;
        if (ok)
                ok = wav_header(s) >= 0;
        if (!ok)
                stream_fail(o, s, "audio");
}

void media_out_stop(MediaOut *o, const ClientMediaStream *st, uint8_t why) {
        if (o->totals.running > 0)
                o->totals.running--;
        if (o->log) {
                fprintf(o->log, "media: stop %u why=%s frames=%llu\n", st->id, media_out_why_name(why),
                        (unsigned long long) st->decoded);
                fflush(o->log);
        }
        OutStream *s = find(o, st->id);
        if (!s)
                return;
        if (!s->video && s->rate)
                o->audio_us_done += s->samples * 1000000 / s->rate;
        stream_close(s);
        for (size_t i = 0; i < o->n; i++)
                if (o->streams[i] == s) {
                        memmove(o->streams + i, o->streams + i + 1, (o->n - i - 1) * sizeof(OutStream *));
                        o->n--;
                        break;
                }
        free(s);
        update_audio_total(o);
}

const ScriptMediaTotals *media_out_totals(const MediaOut *o) {
        return &o->totals;
}
