/* The viewer's media channel (schema/wire-protocol.md "media (7)"): the stream table hostd's
 * media-start/geometry/stop/packet fill, video decode (libavcodec: VP8, H.264), audio decode
 * (libopus) with loss concealment, keyframe requests after loss, A/V sync by pts and the
 * microphone (mic-start/mic-stop -> Opus mic-packets). It owns no loop and no connection: the
 * session (or a test) hands it wire messages and gives it a buffer to encode replies into, so the
 * headless viewer, the SDL window and a web gateway share it.
 *
 * hostd is trusted less than fully: a malformed message (unknown codec, kind and codec that do
 * not match, a rate Opus does not have) is a protocol error (-EBADMSG), but a bad packet (garbage
 * the decoder refuses, an absurd decoded size) only resets its stream's decoder, which then waits
 * for a keyframe. Packets of streams we do not know (stopped ones trail over UDP) are ignored.
 *
 * Video frames are given to on_video as they are decoded, and queued for presentation:
 * client_media_present() answers the frame due now, by the audio clock of an audio stream of
 * the same source when there is one (the mixer's, client_media_mix()), else by the stream's own
 * clock started at its first frame plus a playout delay. Late frames are dropped, early ones
 * wait. client_media_mix() may run on an audio thread: the mixer has its own lock. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "macro.h"
#include "wire-gen.h"

/* Bounds on what hostd can make us hold. */
#define CLIENT_MEDIA_STREAMS_MAX 32
#define CLIENT_MEDIA_VIDEO_SIZE_MAX 4096       /* decoded width or height */
#define CLIENT_MEDIA_VIDEO_QUEUE 4              /* decoded frames waiting for their time */
#define CLIENT_MEDIA_KEYFRAME_INTERVAL_USEC UINT64_C(1000000) /* at most one request per stream */
#define CLIENT_MEDIA_PLAYOUT_DELAY_USEC UINT64_C(60000)    /* video without audio */
#define CLIENT_MEDIA_PLC_PACKETS_MAX 10         /* a longer audio gap restarts the decoder */
#define CLIENT_MEDIA_PENDING_BYTES_MAX (8u << 20) /* paced: video packets waiting for decode */

typedef struct ClientMedia ClientMedia;

typedef struct ClientMediaStream {
        uint32_t id;
        uint8_t source, kind, codec; /* WIRE_SOURCE_*, WIRE_KIND_*, WIRE_CODEC_* */
        uint32_t sample_rate;        /* audio: the stream's; output: see out_rate */
        uint8_t channels;
        uint32_t window;             /* 0: a screen rectangle */
        int32_t x, y;
        uint32_t width, height;      /* framebuffer pixels */
        bool visible;
        uint32_t out_rate;           /* audio: the rate and channels decoded samples come in */
        uint8_t out_channels;
        uint32_t video_width, video_height; /* the last decoded frame's size (0: none yet) */
        uint64_t decoded;            /* frames (video) or packets, concealed ones too (audio) */
        uint64_t audio_samples;      /* audio: samples per channel decoded, at out_rate */
        uint64_t resets;             /* the decoder reset after a bad packet or loss */
        uint64_t keyframe_requests;
        uint64_t dropped_late;       /* video frames never presented */
} ClientMediaStream;

/* A decoded I420 picture (planes valid until the call returns, or the picture is replaced). */
typedef struct ClientMediaPicture {
        uint32_t width, height;
        const uint8_t *planes[3];
        int strides[3];
        uint64_t pts_us;
        uint64_t serial; /* bumped for every new picture of the stream */
} ClientMediaPicture;

typedef struct ClientMediaCallbacks {
        /* Where a reply to hostd goes (keyframe requests, mic packets); NULL: not now. */
        Buffer *(*out)(void *userdata);
        void (*on_start)(const ClientMediaStream *st, void *userdata);
        void (*on_geometry)(const ClientMediaStream *st, void *userdata);
        /* The stream is gone: why is WIRE_WHY_* (hostd's), or WIRE_WHY_CLOSED when the session
         * ended. The stream's figures are final. */
        void (*on_stop)(const ClientMediaStream *st, uint8_t why, void *userdata);
        void (*on_video)(const ClientMediaStream *st, const ClientMediaPicture *pic, void *userdata);
        /* frames samples per channel, interleaved s16 at st->out_rate / out_channels; concealed:
         * made up by Opus's loss concealment for a lost packet (pts_us then estimated). */
        void (*on_audio)(const ClientMediaStream *st, const int16_t *pcm, size_t frames, uint64_t pts_us,
                         bool concealed, void *userdata);
        /* hostd asks for (or stops) our microphone: with a source, feed client_media_mic_push(). */
        void (*on_mic)(bool on, uint32_t sample_rate, uint8_t channels, void *userdata);
} ClientMediaCallbacks;

typedef struct ClientMediaOptions {
        /* Decoded audio at this rate and channel count (Opus decodes to any of its rates); 0:
         * each stream's own. The mixer needs them set. */
        uint32_t audio_rate;
        uint8_t audio_channels;
        bool mixer;      /* keep decoded audio for client_media_mix() (a jitter buffer per stream) */
        bool microphone; /* we have a source: cap microphone, mic-start is taken */
        /* Video packets wait for client_media_pump() instead of being decoded as they come, so a
         * front end spreads decoding over its loop and its display never stalls on a burst.
         * Over CLIENT_MEDIA_PENDING_BYTES_MAX waiting, a stream's waiting packets are dropped
         * (as lost: it waits for a keyframe and asks for one). */
        bool paced;
        /* Offer only these codecs (CLIENT_MEDIA_CODEC_BIT(WIRE_CODEC_*) or'ed; 0: every one this
         * build decodes): tests of hostd's and the guest's "codec-unsupported". */
        uint32_t codecs;
} ClientMediaOptions;

#define CLIENT_MEDIA_CODEC_BIT(codec) (UINT32_C(1) << (codec))

/* WIRE_CAP_MEDIA and the codecs this build decodes (libavcodec's decoders here, libopus),
 * plus WIRE_CAP_MICROPHONE when the options have one. */
uint64_t client_media_caps(const ClientMediaOptions *options);
const char *client_media_codec_name(uint8_t codec);
/* "opus,vp8,h264" (any of them, comma-separated, at least one) -> CLIENT_MEDIA_CODEC_BIT()s;
 * -EINVAL for an unknown or empty name. */
int client_media_parse_codecs(const char *s, size_t len, uint32_t *ret);

int client_media_new(const ClientMediaOptions *options, const ClientMediaCallbacks *callbacks, void *userdata,
                     ClientMedia **ret);
/* Frees every stream without a callback (client_media_reset() first to have them stopped). */
ClientMedia *client_media_free(ClientMedia *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(ClientMedia *, client_media_free);

/* Whether the type is the media channel's (s2c). */
bool client_media_type(uint16_t type);
/* Takes one of those messages; now: CLOCK_MONOTONIC usec. <0 (-EBADMSG) is a protocol error. */
int client_media_handle(ClientMedia *m, const WireMessage *msg, uint64_t now);
/* Stops every stream (the session ended or moved to a connection hostd will start anew). */
void client_media_reset(ClientMedia *m);

size_t client_media_n_streams(ClientMedia *m);
/* The i-th stream (0 <= i < n), in start order. */
const ClientMediaStream *client_media_stream_at(ClientMedia *m, size_t i);
const ClientMediaStream *client_media_stream(ClientMedia *m, uint32_t id);

/* Paced: decodes waiting video packets, oldest first across streams, until budget_usec of
 * decoding has been spent (0: all). Returns how many are still waiting. */
size_t client_media_pump(ClientMedia *m, uint64_t now, uint64_t budget_usec);
size_t client_media_pending_bytes(ClientMedia *m);

/* The picture of a video stream to show at now: takes the frames that are due from the queue
 * (dropping those whose successor is due too). NULL: nothing decoded yet. */
const ClientMediaPicture *client_media_present(ClientMedia *m, uint32_t id, uint64_t now);
/* When a queued frame of any stream becomes due (UINT64_MAX: none waits on the stream clock;
 * frames timed by audio are looked at whenever audio is mixed). */
uint64_t client_media_next_present(ClientMedia *m, uint64_t now);

/* Mixes every audio stream's jitter buffer into out (frames at the options' rate and channels,
 * interleaved s16), now being when these samples play (CLOCK_MONOTONIC usec). Thread-safe
 * against the rest. */
void client_media_mix(ClientMedia *m, int16_t *out, size_t frames, uint64_t now);

/* The microphone: s16 interleaved samples at the rate and channels on_mic said, in order.
 * Encoded to Opus in 20 ms packets and sent as mic-packets while hostd's mic-start holds;
 * -ENOTCONN otherwise. */
int client_media_mic_push(ClientMedia *m, const int16_t *pcm, size_t frames, uint64_t now);
bool client_media_mic_active(ClientMedia *m);
