/* ClientMedia's callbacks forwarded to a session's viewer callbacks (s->cb.media) with the
 * viewer's userdata (s->userdata): the session (client-session-media.c) and its test double
 * (test-fake-session.c) each define ClientSession with those two members and include this after
 * the definition, giving `static const ClientMediaCallbacks NAME' with `out' their own. */
#pragma once

#include "client-media.h"

#define CLIENT_MEDIA_FORWARD(name, out_fn)                                                                   \
        static void name##_on_start(const ClientMediaStream *st, void *userdata) {                          \
                ClientSession *s = userdata;                                                                 \
                if (s->cb.media.on_start)                                                                    \
                        s->cb.media.on_start(st, s->userdata);                                               \
        }                                                                                                    \
        static void name##_on_geometry(const ClientMediaStream *st, void *userdata) {                       \
                ClientSession *s = userdata;                                                                 \
                if (s->cb.media.on_geometry)                                                                 \
                        s->cb.media.on_geometry(st, s->userdata);                                            \
        }                                                                                                    \
        static void name##_on_stop(const ClientMediaStream *st, uint8_t why, void *userdata) {              \
                ClientSession *s = userdata;                                                                 \
                if (s->cb.media.on_stop)                                                                     \
                        s->cb.media.on_stop(st, why, s->userdata);                                           \
        }                                                                                                    \
        static void name##_on_video(const ClientMediaStream *st, const ClientMediaPicture *pic, void *userdata) { \
                ClientSession *s = userdata;                                                                 \
                if (s->cb.media.on_video)                                                                    \
                        s->cb.media.on_video(st, pic, s->userdata);                                          \
        }                                                                                                    \
        static void name##_on_audio(const ClientMediaStream *st, const int16_t *pcm, size_t frames,         \
                                    uint64_t pts_us, bool concealed, void *userdata) {                      \
                ClientSession *s = userdata;                                                                 \
                if (s->cb.media.on_audio)                                                                    \
                        s->cb.media.on_audio(st, pcm, frames, pts_us, concealed, s->userdata);               \
        }                                                                                                    \
        static void name##_on_mic(bool on, uint32_t rate, uint8_t channels, void *userdata) {               \
                ClientSession *s = userdata;                                                                 \
                if (s->cb.media.on_mic)                                                                      \
                        s->cb.media.on_mic(on, rate, channels, s->userdata);                                 \
        }                                                                                                    \
        static const ClientMediaCallbacks name = {                                                           \
                .out = out_fn,                                                                               \
                .on_start = name##_on_start,                                                                 \
                .on_geometry = name##_on_geometry,                                                           \
                .on_stop = name##_on_stop,                                                                   \
                .on_video = name##_on_video,                                                                 \
                .on_audio = name##_on_audio,                                                                 \
                .on_mic = name##_on_mic,                                                                     \
        }
