#include "hostd-audio-pcm.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Frames converted per step, so a large Write never needs a large scratch buffer. */
#define CHUNK_FRAMES 256u

struct AudioConverter {
        AudioFormat in, out;
        size_t in_frame, out_frame;
        uint8_t partial[AUDIO_CHANNELS_MAX * 4]; /* bytes of an input frame split across calls */
        size_t partial_len;
        float gain[AUDIO_CHANNELS_MAX];
        bool mute;
        /* Resampling: the previous input frame (already mapped to out's channels) and where the
         * next output frame lies after it, in 32.32 fixed point input frames. */
        float prev[AUDIO_CHANNELS_MAX];
        bool have_prev;
        uint64_t pos, step;
};

int audio_format_parse(uint8_t bits, bool is_signed, bool is_float, uint32_t freq, uint8_t nchannels,
                       uint32_t bytes_per_frame, uint32_t bytes_per_second, bool be, AudioFormat *ret) {
        AudioFormat f = { .big_endian = be, .rate = freq, .channels = nchannels };

        if (is_float && bits == 32)
                f.sample = AUDIO_F32;
        else if (!is_float && is_signed && bits == 16)
                f.sample = AUDIO_S16;
        else
                return -EINVAL;
        if (freq < AUDIO_RATE_MIN || freq > AUDIO_RATE_MAX || nchannels == 0 || nchannels > AUDIO_CHANNELS_MAX)
                return -EINVAL;
        if (bytes_per_frame != audio_format_frame_size(&f) ||
            (uint64_t) bytes_per_second != (uint64_t) bytes_per_frame * freq)
                return -EINVAL;
        *ret = f;
        return 0;
}

size_t audio_format_frame_size(const AudioFormat *f) {
        return (size_t) f->channels * (f->sample == AUDIO_F32 ? 4 : 2);
}

const char *audio_format_describe(const AudioFormat *f, char *buf, size_t size) {
        snprintf(buf, size, "%s%s %u Hz %u ch", f->sample == AUDIO_F32 ? "f32" : "s16", f->big_endian ? "be" : "le",
                 f->rate, f->channels);
        return buf;
}

int audio_converter_new(const AudioFormat *in, const AudioFormat *out, AudioConverter **ret) {
        AudioConverter *c;

        if (in->channels == 0 || in->channels > AUDIO_CHANNELS_MAX || out->channels == 0 ||
            out->channels > AUDIO_CHANNELS_MAX || in->rate < AUDIO_RATE_MIN || in->rate > AUDIO_RATE_MAX ||
            out->rate < AUDIO_RATE_MIN || out->rate > AUDIO_RATE_MAX)
                return -EINVAL;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->in = *in;
        c->out = *out;
        c->in_frame = audio_format_frame_size(in);
        c->out_frame = audio_format_frame_size(out);
        for (size_t i = 0; i < AUDIO_CHANNELS_MAX; i++)
                c->gain[i] = 1.0f;
        c->step = ((uint64_t) in->rate << 32) / out->rate;
        *ret = c;
        return 0;
}

AudioConverter *audio_converter_free(AudioConverter *c) {
        free(c);
        return NULL;
}

void audio_converter_set_volume(AudioConverter *c, bool mute, const uint8_t *volume, size_t n) {
        c->mute = mute;
        for (size_t i = 0; i < n && i < AUDIO_CHANNELS_MAX; i++)
                c->gain[i] = volume[i] / 255.0f;
}

static float read_sample(const AudioFormat *f, const uint8_t *p) {
        if (f->sample == AUDIO_S16) {
                uint16_t u = f->big_endian ? (uint16_t) (p[0] << 8 | p[1]) : (uint16_t) (p[1] << 8 | p[0]);
                return (int16_t) u / 32768.0f;
        }
        uint32_t u = f->big_endian ? (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3]
                                   : (uint32_t) p[3] << 24 | (uint32_t) p[2] << 16 | (uint32_t) p[1] << 8 | p[0];
        float v;
        memcpy(&v, &u, sizeof(v));
        if (!isfinite(v))
                return 0.0f; /* a guest's NaN must not poison the encoder */
        return v > 1.0f ? 1.0f : v < -1.0f ? -1.0f : v;
}

static void write_sample(const AudioFormat *f, float v, uint8_t *p) {
        v = v > 1.0f ? 1.0f : v < -1.0f ? -1.0f : v;
        if (f->sample == AUDIO_S16) {
                long s = lrintf(v * 32767.0f);
                uint16_t u = (uint16_t) (int16_t) s;
                if (f->big_endian) {
                        p[0] = (uint8_t) (u >> 8);
                        p[1] = (uint8_t) u;
                } else {
                        p[0] = (uint8_t) u;
                        p[1] = (uint8_t) (u >> 8);
                }
                return;
        }
        uint32_t u;
        memcpy(&u, &v, sizeof(u));
        for (int i = 0; i < 4; i++)
                p[f->big_endian ? i : 3 - i] = (uint8_t) (u >> (24 - 8 * i));
}

/* One input frame to out's channels, with the gains applied: fewer channels are averaged down
 * (to mono) or taken in order (front left, front right first); a mono input feeds every output
 * channel. */
static void map_frame(const AudioConverter *c, const uint8_t *p, float *mapped) {
        float in[AUDIO_CHANNELS_MAX];
        size_t bytes = c->in.sample == AUDIO_F32 ? 4 : 2;

        for (size_t i = 0; i < c->in.channels; i++)
                in[i] = c->mute ? 0.0f : read_sample(&c->in, p + i * bytes) * c->gain[i];
        if (c->out.channels == 1 && c->in.channels > 1) {
                float sum = 0.0f;
                for (size_t i = 0; i < c->in.channels; i++)
                        sum += in[i];
                mapped[0] = sum / c->in.channels;
                return;
        }
        for (size_t i = 0; i < c->out.channels; i++)
                mapped[i] = c->in.channels == 1 ? in[0] : i < c->in.channels ? in[i] : 0.0f;
}

static int convert_frames(AudioConverter *c, const uint8_t *data, size_t frames, Buffer *out) {
        while (frames > 0) {
                size_t n = MIN(frames, (size_t) CHUNK_FRAMES);
                /* Output frames for n input frames: at most n * in/out rate + 1. */
                size_t most = (size_t) (((uint64_t) n << 32) / c->step) + 2;
                uint8_t *dst;
                size_t made = 0;
                int r = buffer_reserve(out, most * c->out_frame, &dst);
                if (r < 0)
                        return -ENOBUFS;
                for (size_t i = 0; i < n; i++) {
                        float cur[AUDIO_CHANNELS_MAX];
                        map_frame(c, data + i * c->in_frame, cur);
                        if (!c->have_prev) {
                                memcpy(c->prev, cur, sizeof(cur));
                                c->have_prev = true;
                                continue;
                        }
                        while (c->pos < (UINT64_C(1) << 32) && made < most) {
                                float t = (float) ((double) c->pos / 4294967296.0);
                                for (size_t ch = 0; ch < c->out.channels; ch++)
                                        write_sample(&c->out, c->prev[ch] + (cur[ch] - c->prev[ch]) * t,
                                                     dst + made * c->out_frame + ch * (c->out.sample == AUDIO_F32 ? 4 : 2));
                                made++;
                                c->pos += c->step;
                        }
                        c->pos -= UINT64_C(1) << 32;
                        memcpy(c->prev, cur, sizeof(cur));
                }
                buffer_commit(out, made * c->out_frame);
                data += n * c->in_frame;
                frames -= n;
        }
        return 0;
}

int audio_converter_push(AudioConverter *c, const void *data, size_t len, Buffer *out) {
        const uint8_t *p = data;
        int r;

        if (c->partial_len > 0) {
                size_t take = MIN(len, c->in_frame - c->partial_len);
                memcpy(c->partial + c->partial_len, p, take);
                c->partial_len += take;
                p += take;
                len -= take;
                if (c->partial_len < c->in_frame)
                        return 0;
                c->partial_len = 0;
                r = convert_frames(c, c->partial, 1, out);
                if (r < 0)
                        return r;
        }
        size_t frames = len / c->in_frame;
        r = convert_frames(c, p, frames, out);
        if (r < 0)
                return r;
        c->partial_len = len - frames * c->in_frame;
        memcpy(c->partial, p + frames * c->in_frame, c->partial_len);
        return 0;
}
