/* --mic-wav FILE (headless): a WAV file as the microphone. While hostd's mic-start holds, its
 * samples go out in real time (converted to the rate and channels hostd asked for), once. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client-media.h"
#include "macro.h"

#define MIC_WAV_SIZE_MAX (64u * 1024 * 1024)

typedef struct MicWav MicWav;

/* Parses a RIFF WAVE file of 16-bit PCM, 1 or 2 channels, 8-192 kHz (len bytes at data): the
 * samples, interleaved, in *ret_pcm (malloc'd). -EBADMSG for anything else. */
int mic_wav_parse(const uint8_t *data, size_t len, int16_t **ret_pcm, size_t *ret_frames, uint32_t *ret_rate,
                  uint8_t *ret_channels);
int mic_wav_load(const char *path, MicWav **ret);
MicWav *mic_wav_free(MicWav *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(MicWav *, mic_wav_free);

/* hostd's mic-start (on) or mic-stop: playing starts from the file's beginning at now. */
void mic_wav_switch(MicWav *w, bool on, uint32_t rate, uint8_t channels, uint64_t now);
/* Sends what is due by now into media; returns when to be called again (UINT64_MAX: nothing
 * to send). */
uint64_t mic_wav_tick(MicWav *w, ClientMedia *media, uint64_t now);
