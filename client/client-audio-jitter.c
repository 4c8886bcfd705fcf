#include "client-audio-jitter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BURST_SLACK_USEC UINT64_C(80000)

struct AudioJitter {
        uint32_t rate;
        uint8_t channels;
        int16_t *ring; /* capacity frames of channels samples */
        size_t capacity, head, buffered;
        uint64_t tail_pts;  /* pts just past the last buffered sample */
        bool playing;
        /* arrival jitter (usec, RFC 3550 6.4.1's running estimate) */
        bool have_transit;
        int64_t transit;
        double jitter;
        uint64_t target;
        /* the clock: clock_pts played at clock_at */
        bool clock_valid;
        uint64_t clock_pts, clock_at;
        uint64_t underruns;
};

static uint64_t frames_usec(const AudioJitter *j, size_t frames) {
        return (uint64_t) frames * 1000000 / j->rate;
}

static size_t usec_frames(const AudioJitter *j, uint64_t usec) {
        return (size_t) (usec * j->rate / 1000000);
}

int audio_jitter_new(uint32_t rate, uint8_t channels, AudioJitter **ret) {
        if (rate == 0 || rate > 192000 || channels == 0 || channels > 8)
                return -EINVAL;
        AudioJitter *j = calloc(1, sizeof(AudioJitter));
        if (!j)
                return -ENOMEM;
        j->rate = rate;
        j->channels = channels;
        j->capacity = (size_t) rate * AUDIO_JITTER_CAPACITY_USEC / 1000000;
        j->ring = calloc(j->capacity * channels, sizeof(int16_t));
        if (!j->ring) {
                free(j);
                return -ENOMEM;
        }
        j->target = AUDIO_JITTER_TARGET_MIN_USEC;
        *ret = j;
        return 0;
}

AudioJitter *audio_jitter_free(AudioJitter *j) {
        if (!j)
                return NULL;
        free(j->ring);
        free(j);
        return NULL;
}

static void drop_head(AudioJitter *j, size_t frames) {
        frames = MIN(frames, j->buffered);
        j->head = (j->head + frames) % j->capacity;
        j->buffered -= frames;
}

void audio_jitter_push(AudioJitter *j, const int16_t *pcm, size_t frames, uint64_t pts_us, uint64_t now) {
        int64_t transit = (int64_t) (now - pts_us);
        if (j->have_transit) {
                int64_t d = transit - j->transit;
                j->jitter += ((double) (d < 0 ? -d : d) - j->jitter) / 16.0;
        }
        j->have_transit = true;
        j->transit = transit;
        uint64_t target = 20000 + (uint64_t) (3.0 * j->jitter);
        j->target = MAX(AUDIO_JITTER_TARGET_MIN_USEC, MIN(AUDIO_JITTER_TARGET_MAX_USEC, target));

        if (frames > j->capacity) { /* keep the newest */
                pcm += (frames - j->capacity) * j->channels;
                pts_us += frames_usec(j, frames - j->capacity);
                frames = j->capacity;
        }
        if (j->buffered + frames > j->capacity)
                drop_head(j, j->buffered + frames - j->capacity);
        size_t tail = (j->head + j->buffered) % j->capacity;
        for (size_t i = 0; i < frames; i++) {
                memcpy(j->ring + ((tail + i) % j->capacity) * j->channels, pcm + i * j->channels,
                       j->channels * sizeof(int16_t));
        }
        j->buffered += frames;
        j->tail_pts = pts_us + frames_usec(j, frames);
}

size_t audio_jitter_mix(AudioJitter *j, int16_t *out, size_t frames, uint64_t now) {
        if (!j->playing) {
                if (frames_usec(j, j->buffered) < j->target)
                        return 0;
                j->playing = true;
        }
        size_t target = usec_frames(j, j->target), slack = usec_frames(j, BURST_SLACK_USEC);
        if (j->buffered > target + slack)
                drop_head(j, j->buffered - target);
        size_t n = MIN(frames, j->buffered);
        j->clock_pts = j->tail_pts - frames_usec(j, j->buffered);
        j->clock_at = now;
        j->clock_valid = true;
        for (size_t i = 0; i < n; i++) {
                const int16_t *s = j->ring + ((j->head + i) % j->capacity) * j->channels;
                for (uint8_t c = 0; c < j->channels; c++) {
                        int v = out[i * j->channels + c] + s[c];
                        out[i * j->channels + c] = (int16_t) MAX(-32768, MIN(32767, v));
                }
        }
        drop_head(j, n);
        if (n < frames) { /* ran dry: rebuffer to the target before playing on */
                j->playing = false;
                j->clock_valid = false;
                j->underruns++;
        }
        return n;
}

bool audio_jitter_clock(const AudioJitter *j, uint64_t now, uint64_t *ret_pts) {
        if (!j->clock_valid)
                return false;
        *ret_pts = j->clock_pts + (now > j->clock_at ? now - j->clock_at : 0);
        return true;
}

uint64_t audio_jitter_target_usec(const AudioJitter *j) {
        return j->target;
}

size_t audio_jitter_buffered(const AudioJitter *j) {
        return j->buffered;
}

uint64_t audio_jitter_underruns(const AudioJitter *j) {
        return j->underruns;
}
