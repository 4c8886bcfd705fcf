/* The media channel inside the session: client-media.h's ClientMedia, its callbacks forwarded
 * with the session's userdata and its replies into the session's connection. */
#include "client-session-media.h"

#include "client-session-internal.h"

static Buffer *media_out(void *userdata) {
        ClientSession *s = userdata;
        return s->state == SESSION_ACTIVE && s->conn ? wire_conn_out(s->conn) : NULL;
}

static void media_on_start(const ClientMediaStream *st, void *userdata) {
        ClientSession *s = userdata;
        if (s->cb.media.on_start)
                s->cb.media.on_start(st, s->userdata);
}

static void media_on_geometry(const ClientMediaStream *st, void *userdata) {
        ClientSession *s = userdata;
        if (s->cb.media.on_geometry)
                s->cb.media.on_geometry(st, s->userdata);
}

static void media_on_stop(const ClientMediaStream *st, uint8_t why, void *userdata) {
        ClientSession *s = userdata;
        if (s->cb.media.on_stop)
                s->cb.media.on_stop(st, why, s->userdata);
}

static void media_on_video(const ClientMediaStream *st, const ClientMediaPicture *pic, void *userdata) {
        ClientSession *s = userdata;
        if (s->cb.media.on_video)
                s->cb.media.on_video(st, pic, s->userdata);
}

static void media_on_audio(const ClientMediaStream *st, const int16_t *pcm, size_t frames, uint64_t pts_us,
                           bool concealed, void *userdata) {
        ClientSession *s = userdata;
        if (s->cb.media.on_audio)
                s->cb.media.on_audio(st, pcm, frames, pts_us, concealed, s->userdata);
}

static void media_on_mic(bool on, uint32_t sample_rate, uint8_t channels, void *userdata) {
        ClientSession *s = userdata;
        if (s->cb.media.on_mic)
                s->cb.media.on_mic(on, sample_rate, channels, s->userdata);
}

static const ClientMediaCallbacks media_callbacks = {
        .out = media_out,
        .on_start = media_on_start,
        .on_geometry = media_on_geometry,
        .on_stop = media_on_stop,
        .on_video = media_on_video,
        .on_audio = media_on_audio,
        .on_mic = media_on_mic,
};

int client_session_media_new(ClientSession *s) {
        if (s->options.no_media)
                return 0;
        return client_media_new(&s->options.media, &media_callbacks, s, &s->media);
}

uint64_t client_session_media_caps(ClientSession *s) {
        return s->media ? client_media_caps(&s->options.media) : 0;
}

ClientMedia *client_session_media(ClientSession *s) {
        return s->media;
}
