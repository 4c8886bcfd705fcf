/* The parts of org.tandem.Media1 shared by media-bus.c and media-relay.c. */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "guestd-manager.h"
#include "media-service.h"

typedef enum MediaState {
        MEDIA_PENDING, /* media-open sent, the caller's Open waits for hostd */
        MEDIA_OPEN,    /* redirected: packets go to hostd */
} MediaState;

typedef struct MediaStream {
        uint32_t id;             /* 0: a free slot */
        MediaState state;
        char *owner;             /* the caller's unique bus name */
        uint8_t kind, codec;
        sd_bus_message *call;    /* PENDING: the Open to answer */
        sd_event_source *timer;  /* PENDING: the 2 s wait */
        bool need_keyframe;      /* video packets were dropped: skip to the next keyframe */
        uint64_t packets, dropped;
} MediaStream;

struct MediaService {
        Manager *manager;
        sd_bus *bus;
        sd_bus_slot *vtable_slot, *owner_slot;
        MediaStream streams[MEDIA_STREAMS_MAX];
        uint32_t next_id;
        bool viewers_known;      /* a media-viewers came from this hostd */
        uint32_t viewer_codecs;
};

/* media-relay.c */
MediaStream *media_stream_find(MediaService *s, uint32_t id);
size_t media_streams_of(MediaService *s, const char *owner);
bool media_path_up(MediaService *s);
/* A free slot with a new id, owned by owner; NULL when full. */
MediaStream *media_stream_add(MediaService *s, const char *owner);
/* Frees the slot (the pending call unanswered: answer it first). */
void media_stream_drop(MediaStream *st);
/* Tells hostd the stream is closed (why) and drops it. */
void media_stream_close(MediaService *s, MediaStream *st, uint8_t why);
const char *media_open_reason(uint8_t why);

/* media-bus.c */
void media_bus_reply_open(MediaService *s, MediaStream *st, bool redirect, const char *reason);
void media_bus_emit_closed(MediaService *s, MediaStream *st, const char *reason);
void media_bus_emit_keyframe(MediaService *s, MediaStream *st);
void media_bus_emit_viewers(MediaService *s);
int media_bus_open_timeout(MediaService *s, MediaStream *st);
