#include "viewer-mic-wav.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TICK_USEC UINT64_C(20000)

struct MicWav {
        int16_t *pcm; /* the file's */
        size_t frames;
        uint32_t rate;
        uint8_t channels;
        int16_t *out; /* converted for hostd's mic-start */
        size_t out_frames, sent;
        uint32_t out_rate;
        uint8_t out_channels;
        bool on;
        uint64_t started;
};

static uint16_t rd16(const uint8_t *p) {
        return (uint16_t) (p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

int mic_wav_parse(const uint8_t *data, size_t len, int16_t **ret_pcm, size_t *ret_frames, uint32_t *ret_rate,
                  uint8_t *ret_channels) {
        uint32_t rate = 0;
        uint16_t channels = 0;
        bool fmt = false;
        if (len < 12 || memcmp(data, "RIFF", 4) != 0 || memcmp(data + 8, "WAVE", 4) != 0)
                return -EBADMSG;
        size_t off = 12;
        while (len - off >= 8) {
                uint32_t size = rd32(data + off + 4);
                const uint8_t *body = data + off + 8;
                size_t avail = len - off - 8;
                if (memcmp(data + off, "fmt ", 4) == 0) {
                        if (size < 16 || size > avail)
                                return -EBADMSG;
                        uint16_t format = rd16(body), bits = rd16(body + 14);
                        channels = rd16(body + 2);
                        rate = rd32(body + 4);
                        if (format != 1 || bits != 16 || channels < 1 || channels > 2 || rate < 8000 || rate > 192000)
                                return -EBADMSG;
                        fmt = true;
                } else if (memcmp(data + off, "data", 4) == 0) {
                        if (!fmt)
                                return -EBADMSG;
                        size_t n = MIN((size_t) size, avail) / (2u * channels); /* a cut file: what is there */
                        int16_t *pcm = malloc(MAX(n * channels, 1u) * sizeof(int16_t));
                        if (!pcm)
                                return -ENOMEM;
                        for (size_t i = 0; i < n * channels; i++)
                                pcm[i] = (int16_t) rd16(body + 2 * i);
                        *ret_pcm = pcm;
                        *ret_frames = n;
                        *ret_rate = rate;
                        *ret_channels = (uint8_t) channels;
                        return 0;
                }
                if (size > avail)
                        return -EBADMSG;
                off += 8 + size + (size & 1);
                if (off > len)
                        return -EBADMSG;
        }
        return -EBADMSG;
}

int mic_wav_load(const char *path, MicWav **ret) {
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat sb;
        if (fd < 0)
                return -errno;
        if (fstat(fd, &sb) < 0)
                return -errno;
        if (sb.st_size <= 0 || (uint64_t) sb.st_size > MIC_WAV_SIZE_MAX)
                return -EFBIG;
        _cleanup_(freep) uint8_t *data = malloc((size_t) sb.st_size);
        if (!data)
                return -ENOMEM;
        size_t got = 0;
        while (got < (size_t) sb.st_size) {
                ssize_t n = read(fd, data + got, (size_t) sb.st_size - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
                got += (size_t) n;
        }
        MicWav *w = calloc(1, sizeof(MicWav));
        if (!w)
                return -ENOMEM;
        int r = mic_wav_parse(data, got, &w->pcm, &w->frames, &w->rate, &w->channels);
        if (r < 0) {
                free(w);
                return r;
        }
        *ret = w;
        return 0;
}

MicWav *mic_wav_free(MicWav *w) {
        if (!w)
                return NULL;
        free(w->pcm);
        free(w->out);
        free(w);
        return NULL;
}

/* Linear interpolation to hostd's rate, and mono <-> stereo: a test tone, not a studio. */
static int convert(MicWav *w, uint32_t rate, uint8_t channels) {
        size_t n = (size_t) ((uint64_t) w->frames * rate / w->rate);
        int16_t *out = malloc(MAX(n * channels, 1u) * sizeof(int16_t));
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                double pos = (double) i * w->rate / rate;
                size_t a = (size_t) pos, b = MIN(a + 1, w->frames - 1);
                double f = pos - (double) a;
                for (uint8_t c = 0; c < channels; c++) {
                        uint8_t src = MIN(c, (uint8_t) (w->channels - 1));
                        double v = w->pcm[a * w->channels + src] * (1 - f) + w->pcm[b * w->channels + src] * f;
                        out[i * channels + c] = (int16_t) v;
                }
        }
        free(w->out);
        w->out = out;
        w->out_frames = n;
        w->out_rate = rate;
        w->out_channels = channels;
        return 0;
}

void mic_wav_switch(MicWav *w, bool on, uint32_t rate, uint8_t channels, uint64_t now) {
        w->on = on && rate > 0 && channels > 0 && convert(w, rate, channels) >= 0;
        w->sent = 0;
        w->started = now;
}

uint64_t mic_wav_tick(MicWav *w, ClientMedia *media, uint64_t now) {
        if (!w->on || !media || w->sent >= w->out_frames)
                return UINT64_MAX;
        size_t due = (size_t) MIN((uint64_t) w->out_frames, (now - w->started) * w->out_rate / 1000000);
        if (due > w->sent) {
                if (client_media_mic_push(media, w->out + w->sent * w->out_channels, due - w->sent, now) < 0) {
                        w->on = false;
                        return UINT64_MAX;
                }
                w->sent = due;
        }
        return now + TICK_USEC;
}
