/* Internal to hostd-audio*.c: the Audio object, its two peer-to-peer listeners and their voices. */
#pragma once

#include <opus.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "buffer.h"
#include "hostd-audio-pcm.h"
#include "hostd-audio.h"

#define AUDIO_PATH "/org/qemu/Display1/Audio"
#define AUDIO_INTERFACE "org.qemu.Display1.Audio"
#define AUDIO_OUT_PATH "/org/qemu/Display1/AudioOutListener"
#define AUDIO_OUT_INTERFACE "org.qemu.Display1.AudioOutListener"
#define AUDIO_IN_PATH "/org/qemu/Display1/AudioInListener"
#define AUDIO_IN_INTERFACE "org.qemu.Display1.AudioInListener"
/* The sender our registrations name (see audio_listener_register()). */
#define AUDIO_SENDER ":1.0"

/* Voices per direction QEMU may have at once (an HDA codec has one of each; a peer announcing
 * more is refused). */
#define AUDIO_VOICES_MAX 4
/* VM streams' ids on the wire: 0x80000000 + n (guest streams use 1..0x7fffffff). */
#define AUDIO_STREAM_BASE 0x80000000u
/* 20 ms at 48 kHz: the Opus frame. */
#define AUDIO_FRAME_SAMPLES 960u
#define AUDIO_PACKET_MAX 4000u
/* A Write bigger than this is not one QEMU's 10 ms timer makes: refused, counted malformed. */
#define AUDIO_WRITE_MAX (1024u * 1024u)
/* All-zero frames before packets pause (DTX: the stream stays, the viewer hears silence). */
#define AUDIO_SILENT_FRAMES 50u
/* Microphone samples buffered for QEMU's reads: one second at most, the oldest dropped first. */
#define AUDIO_MIC_RING_USEC 1000000u
/* What one Read returns at most. */
#define AUDIO_READ_MAX (64u * 1024u)

typedef struct Audio Audio;

typedef enum AudioListenerState {
        AUDIO_LISTENER_REGISTERING,
        AUDIO_LISTENER_REGISTERED,
        AUDIO_LISTENER_NONE,   /* QEMU has no audio backend on this display */
        AUDIO_LISTENER_FAILED, /* waiting to register again */
} AudioListenerState;

/* One peer-to-peer connection QEMU calls us on: Register{Out,In}Listener(h). */
typedef struct AudioListener {
        Audio *audio;
        bool out;
        sd_bus *bus;
        sd_bus_slot *register_slot;
        sd_event_source *drain_source;
        sd_event_source *retry_timer;
        AudioListenerState state;
        unsigned failures;      /* in a row, for the backoff */
        unsigned registrations; /* answered OK */
} AudioListener;

typedef struct AudioOutVoice {
        bool used, enabled;
        uint64_t id; /* QEMU's */
        AudioFormat format;
        AudioConverter *converter; /* to 48 kHz s16, 1 or 2 channels */
        OpusEncoder *encoder;
        Buffer pcm; /* converted samples waiting for a whole frame */
        uint8_t channels;
        uint32_t stream; /* the wire id while enabled */
        uint32_t seq;
        uint64_t samples; /* at 48 kHz since Init: the pts clock */
        unsigned silent_frames;
        /* The level and frequency of what plays, for status (and the integration test):
         * peak and zero crossings of channel 0 over the last second. */
        float peak, peak_run;
        uint64_t crossings_run, samples_run;
        double tone_hz;
        int16_t last_sample;
} AudioOutVoice;

typedef struct AudioInVoice {
        bool used, enabled;
        uint64_t id;
        AudioFormat format;
        AudioConverter *converter; /* 48 kHz s16 from the viewer's Opus to QEMU's format */
        OpusDecoder *decoder;
        uint8_t channels; /* of the mic stream */
        uint32_t stream;
        uint64_t session; /* of the viewer that was sent mic-start, 0: none */
        Buffer ring; /* QEMU's format, read by Read */
        size_t ring_max;
} AudioInVoice;

struct Audio {
        Manager *manager;
        char *desktop;
        sd_bus *bus; /* the display connection */
        sd_bus_slot *ping_slot;
        bool name_sender; /* QEMU < 8.0 (see audio_listener_register()) */
        AudioListener out, in;
        AudioOutVoice voices[AUDIO_VOICES_MAX];
        AudioInVoice mics[AUDIO_VOICES_MAX];
        uint32_t next_stream;
        uint64_t packets, bytes, silent_packets, dropped, malformed, writes;
        unsigned viewers; /* that got the last packet */
        uint64_t mic_packets, mic_bytes, mic_malformed, mic_dropped, mic_ignored, reads, underruns;
};

/* hostd-audio.c: the listener plumbing and the viewers. */
void audio_listener_failed(AudioListener *l);
uint32_t audio_next_stream(Audio *a);
/* Calls fn for every active viewer of the desktop whose caps include all of caps. */
void audio_foreach_viewer(Audio *a, uint64_t caps, void (*fn)(Audio *a, struct Viewer *v, void *userdata),
                          void *userdata);

/* hostd-audio-out.c */
extern const sd_bus_vtable audio_out_vtable[];
void audio_out_voice_clear(Audio *a, AudioOutVoice *v);
void audio_out_send_start(Audio *a, AudioOutVoice *voice, struct Viewer *v);

/* hostd-audio-in.c */
extern const sd_bus_vtable audio_in_vtable[];
void audio_in_voice_clear(Audio *a, AudioInVoice *m);
void audio_in_send_start(Audio *a, AudioInVoice *m, struct Viewer *v);
