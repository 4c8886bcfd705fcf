/* The media channel inside the session (client-session.h's client_session_media()). Internal to
 * the client library. */
#pragma once

#include <stdint.h>

#include "client-media.h"

typedef struct ClientSession ClientSession;

/* Makes s->media unless the options say no_media. */
int client_session_media_new(ClientSession *s);
/* What the hello offers for media (0 without). */
uint64_t client_session_media_caps(ClientSession *s);
