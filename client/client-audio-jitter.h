/* One audio stream's jitter buffer, after decode: PCM in arrival order with the pts of what it
 * holds, played out once it holds its target delay. The target adapts to the arrival jitter
 * (RFC 3550's estimate of it, times 3 plus 20 ms, within 40-200 ms); an underrun rebuffers to
 * the target, and more than the target + 80 ms (a burst, or a source clock faster than ours) is
 * cut down to the target. The audio clock it keeps (pts of what plays now) is what video of the
 * same source is timed by. Not thread-safe: the media mixer locks around it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define AUDIO_JITTER_TARGET_MIN_USEC UINT64_C(40000)
#define AUDIO_JITTER_TARGET_MAX_USEC UINT64_C(200000)
#define AUDIO_JITTER_CAPACITY_USEC UINT64_C(1000000) /* held at most; the oldest goes first */

typedef struct AudioJitter AudioJitter;

int audio_jitter_new(uint32_t rate, uint8_t channels, AudioJitter **ret);
AudioJitter *audio_jitter_free(AudioJitter *j);
DEFINE_TRIVIAL_CLEANUP_FUNC(AudioJitter *, audio_jitter_free);

/* frames samples per channel (interleaved s16) whose first has pts_us, arrived at now. */
void audio_jitter_push(AudioJitter *j, const int16_t *pcm, size_t frames, uint64_t pts_us, uint64_t now);
/* Adds (saturating) up to frames samples into out, which play at now; returns how many. */
size_t audio_jitter_mix(AudioJitter *j, int16_t *out, size_t frames, uint64_t now);
/* The pts playing at now; false until playout began, or while rebuffering. */
bool audio_jitter_clock(const AudioJitter *j, uint64_t now, uint64_t *ret_pts);
uint64_t audio_jitter_target_usec(const AudioJitter *j);
size_t audio_jitter_buffered(const AudioJitter *j);
uint64_t audio_jitter_underruns(const AudioJitter *j);
