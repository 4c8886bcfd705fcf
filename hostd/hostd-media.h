/* hostd's relay of guest media (schema/agent-protocol.md "media (6)" -> schema/wire-protocol.md
 * "media (7)"): streams an application in the guest opened through guestd are relayed, without
 * decoding, to the desktop's viewers that can decode them. hostd answers each media-open
 * (redirect, or render locally and why), gives each stream its own id (1..0x7fffffff per desktop;
 * VM audio uses 0x80000000 and up), holds the untrusted guest to caps per stream and per desktop,
 * keeps each viewer's media within a share of its link (video dropped to the next keyframe, audio
 * first), forwards keyframe requests, tells the guest which codecs the viewers decode, and keeps
 * a visible redirected video's rectangle out of the display encoder of the viewers that get it.
 * One Media per Agent. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "agent.h"
#include "hostd-forward.h"
#include "region.h"

typedef struct Media Media;
struct Agent;
struct Viewer;

/* [Media] in hostd.conf: the caps the guest is held to (hostd.conf.example documents them). */
typedef struct MediaConfig {
        unsigned max_streams;        /* open streams per desktop */
        unsigned max_video_packet;   /* bytes of one vp8/h264 access unit */
        unsigned max_audio_packet;   /* bytes of one opus packet */
        unsigned stream_bitrate;     /* bits/s per stream (token bucket, 1 s burst) */
        unsigned desktop_bitrate;    /* bits/s of all streams of a desktop */
        unsigned video_packet_rate;  /* packets/s per video stream */
        unsigned audio_packet_rate;  /* packets/s per audio stream */
        unsigned idle_seconds;       /* a stream silent this long is closed */
        unsigned viewer_share;       /* percent of a viewer's link estimate media may use */
} MediaConfig;

void media_config_init(MediaConfig *c);
/* 0, or -EINVAL with *why naming the bad key. */
int media_config_check(const MediaConfig *c, const char **why);

int media_new(struct Agent *a, Media **ret);
Media *media_free(Media *m);

/* From the agent: a media-channel message of an active agent. Always 0: a bad stream is closed,
 * the channel goes on. */
int media_handle(Media *m, const AgentMessage *msg);
/* The agent became active (or its caps changed): tell it the viewers' codecs. */
void media_agent_active(Media *m);
/* The agent is gone (closed, lost, guest reboot): every guest stream stops (why agent-lost). */
void media_agent_lost(Media *m);

/* A viewer of the desktop was welcomed or resumed: media-start for the streams it can decode
 * (once per stream). */
void media_viewer_joined(Media *m, struct Viewer *v);
/* A viewer left for good: its streams forget it; a stream without viewers is closed (no-viewer). */
void media_viewer_left(Media *m, struct Viewer *v);
/* media-keyframe-request from a viewer. */
void media_viewer_keyframe_request(Media *m, struct Viewer *v, uint32_t stream);
/* Takes the visible redirected video rectangles v receives out of r (the display pump's pending
 * changes): the viewer draws the video there. */
void media_mask_pending(Media *m, struct Viewer *v, Region *r);

typedef void (*MediaWriteFn)(void *userdata, const char *data, size_t len);
/* The status JSON's `media' object of the desktop (schema/hostd-control.md). */
void media_describe_json(Media *m, MediaWriteFn write, void *userdata);

/* The codecs (1 << codec) all media viewers of the desktop decode now, as media-viewers says. */
uint32_t media_viewer_codecs(Media *m);
/* Whether the guest's stream is open (its packets are held to the media caps, not the agent's
 * message rate). */
bool media_guest_stream_open(Media *m, uint32_t guest_id);
/* How many guest streams are open. */
unsigned media_n_streams(const Media *m);
