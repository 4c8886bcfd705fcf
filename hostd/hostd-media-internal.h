/* The Media's parts, shared by hostd-media*.c only. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "hostd-agent-internal.h"
#include "hostd-media.h"

#define MEDIA_CODEC_OPUS 0
#define MEDIA_CODEC_VP8 1
#define MEDIA_CODEC_H264 2
#define MEDIA_KIND_AUDIO 0
#define MEDIA_KIND_VIDEO 1
/* agent-protocol.md's why values (media-open-reply, media-close; media-stop takes the first 5). */
#define MEDIA_WHY_CLOSED 0
#define MEDIA_WHY_LIMIT 1
#define MEDIA_WHY_MALFORMED 2
#define MEDIA_WHY_AGENT_LOST 3
#define MEDIA_WHY_POLICY 4
#define MEDIA_WHY_NO_VIEWER 5
#define MEDIA_WHY_CODEC_UNSUPPORTED 6
#define MEDIA_ANSWER_REDIRECT 0
#define MEDIA_ANSWER_LOCAL 1
/* hostd's guest stream ids; the VM's audio streams (hostd-audio*.c) are above. */
#define MEDIA_STREAM_ID_MAX 0x7fffffffu
/* Keyframe requests toward the guest: at most one per stream this often. */
#define MEDIA_KEYFRAME_INTERVAL_USEC (1000 * 1000ULL)
#define MEDIA_TICK_USEC (250 * 1000ULL)
/* Bytes queued toward a viewer beyond which its video (audio) packets are dropped: media never
 * holds the display pump back (it waits above VIEWER_OUT_SOFT). */
#define MEDIA_VIDEO_QUEUE_MAX (1u << 20)
#define MEDIA_AUDIO_QUEUE_MAX (2u << 20)
/* A viewer's media budget holds this much of its share at once. */
#define MEDIA_BUDGET_BURST_USEC (250 * 1000ULL)

typedef struct TokenBucket {
        double rate, burst, tokens;
        uint64_t usec;
} TokenBucket;

void bucket_init(TokenBucket *b, double rate, double burst, uint64_t now);
/* Takes amount if the bucket holds it: true; else false and nothing taken. */
bool bucket_take(TokenBucket *b, double amount, uint64_t now);

/* A viewer a stream is relayed to. */
typedef struct MediaSub {
        uint64_t session;
        bool need_keyframe; /* video: a packet was dropped, the next one sent is a keyframe */
        uint64_t dropped;
} MediaSub;

typedef struct MediaStream {
        uint32_t id;       /* hostd's, on the wire */
        uint32_t guest_id; /* guestd's, on the agent channel */
        uint8_t kind, codec;
        uint32_t sample_rate;
        uint8_t channels;
        uint32_t window;
        Rect rect;
        bool visible;
        uint32_t seq;
        bool have_pts;
        uint64_t last_pts;
        TokenBucket bytes, packets;
        uint64_t opened_usec, last_usec;
        bool keyframe_wanted;       /* a request waits for its interval */
        uint64_t keyframe_sent_usec; /* of the last request to the guest; 0: none yet */
        uint64_t packets_in, bytes_in, dropped;
        MediaSub *subs;
        size_t n_subs;
} MediaStream;

/* A viewer's media budget: a share of its link. */
typedef struct MediaBudget {
        uint64_t session;
        double tokens;
        uint64_t usec;
} MediaBudget;

typedef struct MediaCounters {
        uint64_t opens, redirected, refused_no_viewer, refused_codec, refused_policy, refused_limit,
                refused_malformed;
        uint64_t cap_streams, cap_packet_size, cap_stream_rate, cap_desktop_rate, cap_packet_rate, cap_idle,
                malformed;
        uint64_t unknown_stream, keyframe_requests, viewer_keyframe_requests, closed_no_viewer;
} MediaCounters;

struct Media {
        Agent *agent;
        MediaStream **streams;
        size_t n_streams;
        uint32_t next_id;
        TokenBucket desktop_bytes;
        uint32_t codecs; /* the last media-viewers */
        bool codecs_sent;
        MediaBudget *budgets;
        size_t n_budgets;
        sd_event_source *tick;
        bool logged_limit, logged_malformed; /* per channel: a guest's flood is logged once */
        MediaCounters counters;
};

const MediaConfig *media_config(Media *m);
uint64_t media_now(Media *m);
MediaStream *media_find_guest(Media *m, uint32_t guest_id);
MediaStream *media_find(Media *m, uint32_t id);
/* Stops a stream: media-stop (why) to its viewers, media-close (why) to the guest when tell_guest,
 * refreshes its rectangle for the viewers that had it, frees it. */
void media_stream_close(Media *m, MediaStream *s, uint8_t why, bool tell_guest);
/* A stream broke a cap (why limit) or the protocol (malformed): logged once per channel, closed. */
void media_stream_violation(Media *m, MediaStream *s, uint8_t why, const char *what);
bool media_viewer_decodes(const struct Viewer *v, uint8_t codec);
/* hostd-media-viewers.c */
/* Marks the stream's rectangle changed for its viewers (it appeared, moved or went away). */
void media_refresh_rect(Media *m, MediaStream *s);
/* media-start to every viewer that can decode the new stream. */
void media_start_all(Media *m, MediaStream *s);

/* hostd-media-relay.c */
int media_relay_packet(Media *m, MediaStream *s, const AgentMediaPacket *p);
void media_request_keyframe(Media *m, MediaStream *s);
void media_keyframe_tick(Media *m);
MediaBudget *media_budget(Media *m, uint64_t session);
void media_budget_forget(Media *m, uint64_t session);

/* hostd-media-caps.c */
/* 0, or -EBADMSG (malformed: *what says why) for an open's fields. */
int media_check_open(const AgentMediaOpen *o, const char **what);
int media_check_geometry(uint32_t window, int32_t x, int32_t y, uint32_t w, uint32_t h, uint8_t visible,
                         const char **what);
/* The guest's packet against the stream's and the desktop's caps: 0, -EBADMSG (malformed) or
 * -EDQUOT (over a cap), *what says which. */
int media_check_packet(Media *m, MediaStream *s, const AgentMediaPacket *p, const char **what);
