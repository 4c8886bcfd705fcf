/* The media channel inside the session: client-media.h's ClientMedia, its callbacks forwarded
 * with the session's userdata and its replies into the session's connection. */
#include "client-session-media.h"

#include "client-media-forward.h"
#include "client-session-internal.h"

static Buffer *media_out(void *userdata) {
        ClientSession *s = userdata;
        return s->state == SESSION_ACTIVE && s->conn ? wire_conn_out(s->conn) : NULL;
}

CLIENT_MEDIA_FORWARD(media_callbacks, media_out);

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
