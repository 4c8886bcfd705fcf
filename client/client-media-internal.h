/* ClientMedia's insides, shared by client-media.c (streams, video, sync) and
 * client-media-audio.c (Opus decode, mixer, microphone). Nothing else includes this. */
#pragma once

#include <opus/opus.h>
#include <pthread.h>

#include "client-audio-jitter.h"
#include "client-media-video.h"
#include "client-media.h"

#define OPUS_FRAMES_MAX 5760 /* 120 ms at 48 kHz: the longest Opus packet */

typedef struct QueuedPicture {
        ClientMediaPicture pic;
        uint8_t *buf;
        size_t size;
} QueuedPicture;

/* A video packet waiting for client_media_pump() (paced), with the loss before it. */
typedef struct PendingPacket {
        struct PendingPacket *next;
        uint64_t order; /* arrival across streams */
        uint32_t lost;
        WireMediaPacket p; /* p.data points into data[] */
        uint8_t data[];
} PendingPacket;

typedef struct MediaStream {
        ClientMediaStream pub;
        bool have_seq;
        uint32_t next_seq;

        /* video */
        MediaVideoDecoder *video;
        PendingPacket *pending, *pending_tail;
        uint32_t pending_lost; /* dropped from the queue: the next packet comes after a loss */
        bool need_keyframe;
        bool requested;        /* a keyframe request went */
        uint64_t last_request;
        QueuedPicture queue[CLIENT_MEDIA_VIDEO_QUEUE];
        size_t n_queue;
        QueuedPicture current;
        bool have_current;
        bool clock_started;    /* the stream's own clock (no audio of its source) */
        uint64_t clock_now, clock_pts;

        /* audio */
        OpusDecoder *opus;
        int16_t *pcm;          /* OPUS_FRAMES_MAX * out_channels */
        uint32_t last_frames;  /* of the last packet, per channel at out_rate: what PLC makes */
        uint64_t next_pts;
        AudioJitter *jitter;   /* with the mixer: under ClientMedia.lock */
} MediaStream;

struct ClientMedia {
        ClientMediaOptions options;
        ClientMediaCallbacks cb;
        void *userdata;
        MediaStream *streams[CLIENT_MEDIA_STREAMS_MAX];
        size_t n_streams;
        uint64_t refused_streams; /* media-start over CLIENT_MEDIA_STREAMS_MAX */
        size_t pending_bytes;     /* paced: every stream's waiting packets */
        uint64_t pending_order;

        pthread_mutex_t lock; /* the streams' jitter buffers, against client_media_mix() */

        /* the microphone */
        OpusEncoder *mic;
        uint32_t mic_stream, mic_rate, mic_seq;
        uint8_t mic_channels;
        int16_t *mic_pcm;      /* one 20 ms frame being filled */
        size_t mic_fill, mic_frame;
        uint64_t mic_samples;  /* sent so far, per channel: the pts */
};

/* client-media-audio.c */
bool media_opus_rate_valid(uint32_t rate);
int media_audio_start(ClientMedia *m, MediaStream *st);
void media_audio_stop(ClientMedia *m, MediaStream *st);
int media_audio_packet(ClientMedia *m, MediaStream *st, const WireMediaPacket *p, uint32_t lost, uint64_t now);
/* The audio clock of source (an audio stream of it that plays), under the lock. */
bool media_audio_clock(ClientMedia *m, uint8_t source, uint64_t now, uint64_t *ret_pts);
int media_mic_start(ClientMedia *m, const WireMicStart *s);
void media_mic_stop(ClientMedia *m);
