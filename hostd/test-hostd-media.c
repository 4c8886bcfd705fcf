/* hostd's relay of guest media (hostd-media.h) in the in-process harness: a fake agent with cap
 * media on the domain's channel, raw viewers with and without the media caps (over a socketpair,
 * and over rudp on a rate-limited, lossy datagram pair). The open answers (redirect, no-viewer,
 * codec-unsupported, policy, limit, malformed) and media-viewers; the relay byte for byte (data,
 * pts, keyframe, seq), geometry, a late viewer's start; the ends (guest close, agent lost, guest
 * reboot, last viewer gone, a detached viewer's session ending); every guest cap tripping with
 * the session going on; a stalled viewer's video dropped to the next keyframe with the queue
 * bounded, and over UDP to the share of rudp's estimate with audio first; keyframe requests
 * coalesced; the display interplay (the video's rectangle is not in a media viewer's tiles, is in
 * another's, and comes back when the video hides or stops; a window stacked above the video's
 * keeps its part); the status JSON. */
#include "check.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "hostd-agent-internal.h"
#include "fd-datagram.h"
#include "hostd-conf.h"
#include "hostd-manager.h"
#include "hostd-media-internal.h"
#include "hostd-viewer-resume.h"
#include "hostd-viewer.h"
#include "test-agent-peers.h"
#include "test-harness.h"

#define SECOND 1000000ULL
#define PLAIN_CAPS (0x1fULL | WIRE_CAP_AGENT)
#define MEDIA_CAPS (PLAIN_CAPS | WIRE_CAP_MEDIA | WIRE_CAP_MEDIA_OPUS | WIRE_CAP_MEDIA_VP8)
#define AGENT_CAPS (AGENT_CAP_HEARTBEAT | AGENT_CAP_MEDIA)
#define FB_W 192
#define FB_H 128

/* A test that waits longer than 20 s has failed. */
#define WAIT_FOR(h, cond) HARNESS_WAIT_FOR(h, cond, 20)

static void run_for(Harness *h, uint64_t usec) {
        check(harness_run_until(h, NULL, NULL, usec) >= 0);
}

/* ---- what the guest got ---- */

typedef struct GuestLog {
        unsigned replies, closes, keyframe_requests, viewers_msgs;
        AgentMediaOpenReply reply; /* the last */
        AgentMediaClose close;
        uint32_t keyframe_stream;
        uint32_t codecs;
} GuestLog;

static void guest_message(FakeAgent *a, const AgentMessage *m, void *userdata) {
        GuestLog *g = userdata;
        switch (m->type) {
        case AGENT_TYPE_MEDIA_OPEN_REPLY:
                g->replies++;
                g->reply = m->media_open_reply;
                break;
        case AGENT_TYPE_MEDIA_CLOSE:
                g->closes++;
                g->close = m->media_close;
                break;
        case AGENT_TYPE_MEDIA_KEYFRAME_REQUEST:
                g->keyframe_requests++;
                g->keyframe_stream = m->media_keyframe_request.stream;
                break;
        case AGENT_TYPE_MEDIA_VIEWERS:
                g->viewers_msgs++;
                g->codecs = m->media_viewers.codecs;
                break;
        }
}

/* ---- what a viewer got ---- */

#define MAX_PACKETS 4096
typedef struct Got {
        uint32_t seq;
        uint64_t pts;
        uint8_t keyframe;
        size_t len;
        uint8_t first, last;
} Got;

typedef struct ViewerLog {
        uint64_t session;
        unsigned starts, stops, geometries, packets, frames;
        WireMediaStart start;
        WireMediaStop stop;
        WireMediaGeometry geometry;
        Got got[MAX_PACKETS];
        Buffer data; /* every packet's data, in order */
        bool recording_tiles;
        Rect tiles[4096];
        unsigned n_tiles;
} ViewerLog;

static void viewer_message(RawViewer *v, const WireMessage *m, void *userdata) {
        ViewerLog *l = userdata;
        switch (m->type) {
        case WIRE_TYPE_WELCOME:
                l->session = m->welcome.session;
                break;
        case WIRE_TYPE_MEDIA_START:
                l->starts++;
                l->start = m->media_start;
                break;
        case WIRE_TYPE_MEDIA_STOP:
                l->stops++;
                l->stop = m->media_stop;
                break;
        case WIRE_TYPE_MEDIA_GEOMETRY:
                l->geometries++;
                l->geometry = m->media_geometry;
                break;
        case WIRE_TYPE_MEDIA_PACKET: {
                const WireMediaPacket *p = &m->media_packet;
                if (l->packets < MAX_PACKETS)
                        l->got[l->packets] = (Got) { .seq = p->seq, .pts = p->pts_us, .keyframe = p->keyframe,
                                                     .len = p->data_len, .first = p->data_len ? p->data[0] : 0,
                                                     .last = p->data_len ? p->data[p->data_len - 1] : 0 };
                l->packets++;
                check(buffer_append(&l->data, p->data, p->data_len) >= 0);
                break;
        }
        case WIRE_TYPE_TILE:
                if (l->recording_tiles && l->n_tiles < ELEMENTSOF(l->tiles))
                        l->tiles[l->n_tiles++] = (Rect) { m->tile.x, m->tile.y, m->tile.w, m->tile.h };
                break;
        case WIRE_TYPE_FRAME_END:
                l->frames++;
                break;
        }
}

/* ---- the world ---- */

typedef struct Setup {
        const char *agent_keys; /* [Agent] Overrides=*:... */
        int resume_seconds;     /* [Viewers] ResumeSeconds=; 0: the default */
        MediaConfig media;      /* zero fields: the defaults */
} Setup;

static void configure(HostdConfig *c, void *userdata) {
        const Setup *s = userdata;
        c->agent.heartbeat_seconds = 3600; /* the fake agent sends none */
        if (s->agent_keys) {
                free(c->agent.overrides);
                check(asprintf(&c->agent.overrides, "*:%s", s->agent_keys) > 0);
        }
#define TAKE(f)                                                                                                    \
        if (s->media.f)                                                                                            \
                c->media.f = s->media.f;
        TAKE(max_streams) TAKE(max_video_packet) TAKE(max_audio_packet) TAKE(stream_bitrate) TAKE(desktop_bitrate)
        TAKE(video_packet_rate) TAKE(audio_packet_rate) TAKE(idle_seconds) TAKE(viewer_share)
#undef TAKE
}

typedef struct World {
        Harness *h;
        FakeAgent agent;
        Setup setup;
        Agent *a;
        GuestLog guest;
        uint32_t px[FB_W * FB_H];
} World;

static void world_new(World *w, const Setup *s) {
        HarnessOptions o = { .configure = configure, .resume_seconds = s ? s->resume_seconds : 0 };
        memset(w, 0, sizeof(*w));
        w->setup = s ? *s : (Setup) {};
        o.configure_userdata = &w->setup;
        fake_agent_setup(&w->agent, &o);
        w->agent.on_message = guest_message;
        w->agent.userdata = &w->guest;
        check(harness_new(&o, &w->h) >= 0);
        for (size_t i = 0; i < FB_W * FB_H; i++)
                w->px[i] = 0x203040 + (uint32_t) i * 7;
        check(harness_scanout(w->h, FB_W, FB_H, w->px) >= 0);
        w->a = manager_agent(w->h->manager, w->h->desktop);
        check(w->a);
        WAIT_FOR(w->h, w->agent.conn && w->agent.hellos == 1);
        unsigned hellos = w->agent.hellos;
        check(fake_agent_hello(&w->agent, AGENT_CAPS) >= 0);
        WAIT_FOR(w->h, agent_state(w->a) == AGENT_ACTIVE && w->agent.hellos > hellos);
}

static void world_free(World *w) {
        w->h = harness_free(w->h);
        fake_agent_done(&w->agent);
}

static RawViewer *viewer(World *w, uint64_t caps, ViewerLog *log) {
        RawViewer *v;
        memset(log, 0, sizeof(*log));
        buffer_init(&log->data, 64u << 20);
        check(raw_viewer_new(w->h, caps, TICKET_ROLE_INTERACTIVE, &v) >= 0);
        v->on_message = viewer_message;
        v->userdata = log;
        WAIT_FOR(w->h, v->welcomed && log->frames > 0);
        return v;
}

static void viewer_done(RawViewer *v, ViewerLog *log) {
        raw_viewer_free(v);
        buffer_done(&log->data);
}

static void guest_open(World *w, uint32_t id, uint8_t kind, uint8_t codec, Rect r, bool visible) {
        AgentMediaOpen o = { .stream = id, .kind = kind, .codec = codec, .window = 0, .x = r.x, .y = r.y,
                             .width = (uint32_t) r.w, .height = (uint32_t) r.h, .visible = visible };
        if (kind == MEDIA_KIND_AUDIO) {
                o.sample_rate = 48000;
                o.channels = 2;
        }
        check(agent_encode_media_open(fake_agent_out(&w->agent), &o) >= 0);
        check(fake_agent_flush(&w->agent) >= 0);
}

/* Opens and waits for the answer; returns it (answer << 8 | why). */
static unsigned open_answer(World *w, uint32_t id, uint8_t kind, uint8_t codec) {
        unsigned replies = w->guest.replies;
        guest_open(w, id, kind, codec, (Rect) { 8, 8, 32, 24 }, true);
        WAIT_FOR(w->h, w->guest.replies > replies);
        check(w->guest.reply.stream == id);
        return (unsigned) w->guest.reply.answer << 8 | w->guest.reply.why;
}

#define REDIRECT (MEDIA_ANSWER_REDIRECT << 8)
#define LOCAL(why) (MEDIA_ANSWER_LOCAL << 8 | (why))

static void guest_packet(World *w, uint32_t id, uint64_t pts, bool keyframe, const uint8_t *data, size_t len) {
        AgentMediaPacket p = { .stream = id, .pts_us = pts, .keyframe = keyframe, .data = data, .data_len = len };
        check(agent_encode_media_packet(fake_agent_out(&w->agent), &p) >= 0);
        check(fake_agent_flush(&w->agent) >= 0);
}

static void guest_close(World *w, uint32_t id) {
        AgentMediaClose c = { .stream = id, .why = 0 };
        check(agent_encode_media_close(fake_agent_out(&w->agent), &c) >= 0);
        check(fake_agent_flush(&w->agent) >= 0);
}

/* ---- open answers and media-viewers ---- */

static void test_open_answers(void) {
        World w;
        ViewerLog lp, lm;
        world_new(&w, NULL);
        /* Active with no viewer: media-viewers says nothing decodes. */
        WAIT_FOR(w.h, w.guest.viewers_msgs == 1);
        check(w.guest.codecs == 0);
        check(open_answer(&w, 1, MEDIA_KIND_VIDEO, MEDIA_CODEC_VP8) == LOCAL(MEDIA_WHY_NO_VIEWER));

        RawViewer *plain = viewer(&w, PLAIN_CAPS, &lp);
        check(open_answer(&w, 2, MEDIA_KIND_VIDEO, MEDIA_CODEC_VP8) == LOCAL(MEDIA_WHY_NO_VIEWER));

        RawViewer *media = viewer(&w, MEDIA_CAPS, &lm);
        WAIT_FOR(w.h, w.guest.viewers_msgs == 2);
        check(w.guest.codecs == ((1u << MEDIA_CODEC_OPUS) | (1u << MEDIA_CODEC_VP8)));
        check(open_answer(&w, 3, MEDIA_KIND_VIDEO, MEDIA_CODEC_H264) == LOCAL(MEDIA_WHY_CODEC_UNSUPPORTED));
        /* Malformed opens: a codec of the other kind, an unknown codec, absurd geometry, a rate
         * Opus does not have, an id that is open. */
        check(open_answer(&w, 4, MEDIA_KIND_AUDIO, MEDIA_CODEC_VP8) == LOCAL(MEDIA_WHY_MALFORMED));
        check(open_answer(&w, 5, MEDIA_KIND_VIDEO, 9) == LOCAL(MEDIA_WHY_MALFORMED));
        AgentMediaOpen o = { .stream = 6, .kind = MEDIA_KIND_VIDEO, .codec = MEDIA_CODEC_VP8, .width = 1u << 30,
                             .height = 10, .visible = 1 };
        check(agent_encode_media_open(fake_agent_out(&w.agent), &o) >= 0);
        o = (AgentMediaOpen) { .stream = 7, .kind = MEDIA_KIND_AUDIO, .codec = MEDIA_CODEC_OPUS, .sample_rate = 44100,
                               .channels = 2 };
        check(agent_encode_media_open(fake_agent_out(&w.agent), &o) >= 0);
        unsigned replies = w.guest.replies;
        check(fake_agent_flush(&w.agent) >= 0);
        WAIT_FOR(w.h, w.guest.replies == replies + 2);
        check(w.guest.reply.stream == 7 && w.guest.reply.why == MEDIA_WHY_MALFORMED);
        check(open_answer(&w, 8, MEDIA_KIND_VIDEO, MEDIA_CODEC_VP8) == REDIRECT);
        check(open_answer(&w, 8, MEDIA_KIND_VIDEO, MEDIA_CODEC_VP8) == LOCAL(MEDIA_WHY_MALFORMED));
        check(media_n_streams(agent_media(w.a)) == 1);
        /* The media viewer got the one stream, the plain one nothing. */
        WAIT_FOR(w.h, lm.starts == 1);
        check(lm.start.stream >= 1 && lm.start.stream <= MEDIA_STREAM_ID_MAX && lm.start.source == 0 &&
              lm.start.codec == MEDIA_CODEC_VP8 && lm.start.kind == MEDIA_KIND_VIDEO && lm.start.x == 8 &&
              lm.start.width == 32 && lm.start.visible == 1);
        check(lp.starts == 0);
        /* The agent and both viewers go on. */
        check(agent_state(w.a) == AGENT_ACTIVE && plain->error == 0 && media->error == 0);

        /* The media viewer leaves: its stream is closed (no-viewer), media-viewers says 0. */
        unsigned closes = w.guest.closes;
        viewer_done(media, &lm);
        WAIT_FOR(w.h, w.guest.closes > closes && w.guest.viewers_msgs == 3);
        check(w.guest.close.stream == 8 && w.guest.close.why == MEDIA_WHY_NO_VIEWER && w.guest.codecs == 0);
        check(media_n_streams(agent_media(w.a)) == 0);
        viewer_done(plain, &lp);
        world_free(&w);
}

static void test_policy_and_stream_cap(void) {
        World w;
        ViewerLog l;
        Setup off = { .agent_keys = "Media=off" };
        world_new(&w, &off);
        RawViewer *v = viewer(&w, MEDIA_CAPS, &l);
        check(open_answer(&w, 1, MEDIA_KIND_VIDEO, MEDIA_CODEC_VP8) == LOCAL(MEDIA_WHY_POLICY));
        check(w.guest.codecs == 0);
        viewer_done(v, &l);
        world_free(&w);

        Setup two = { .media = { .max_streams = 2 } };
        world_new(&w, &two);
        v = viewer(&w, MEDIA_CAPS, &l);
        check(open_answer(&w, 1, MEDIA_KIND_VIDEO, MEDIA_CODEC_VP8) == REDIRECT);
        check(open_answer(&w, 2, MEDIA_KIND_AUDIO, MEDIA_CODEC_OPUS) == REDIRECT);
        check(open_answer(&w, 3, MEDIA_KIND_AUDIO, MEDIA_CODEC_OPUS) == LOCAL(MEDIA_WHY_LIMIT));
        check(agent_media(w.a)->counters.cap_streams == 1);
        /* One closes: room for another. */
        guest_close(&w, 2);
        WAIT_FOR(w.h, l.stops == 1);
        check(l.stop.why == MEDIA_WHY_CLOSED);
        check(open_answer(&w, 3, MEDIA_KIND_AUDIO, MEDIA_CODEC_OPUS) == REDIRECT);
        viewer_done(v, &l);
        world_free(&w);
}

/* ---- the relay ---- */

static void fill(uint8_t *buf, size_t len, unsigned seed) {
        for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t) (seed * 31 + i * 7 + (i >> 8));
}

static void test_relay(void) {
        World w;
        ViewerLog l1, l2;
        static uint8_t buf[8][20000];
        size_t lens[8] = { 20000, 100, 1, 5000, 17, 19999, 4096, 3 };
        Buffer expect;
        buffer_init(&expect, 1u << 20);
        world_new(&w, NULL);
        RawViewer *v1 = viewer(&w, MEDIA_CAPS, &l1);
        check(open_answer(&w, 42, MEDIA_KIND_VIDEO, MEDIA_CODEC_VP8) == REDIRECT);
        WAIT_FOR(w.h, l1.starts == 1);
        uint32_t id = l1.start.stream;
        check(w.guest.keyframe_requests == 0); /* a new stream starts with a keyframe anyway */
        for (unsigned i = 0; i < 8; i++) {
                fill(buf[i], lens[i], i);
                guest_packet(&w, 42, 1000 + i * 33333, i == 0 || i == 5, buf[i], lens[i]);
                check(buffer_append(&expect, buf[i], lens[i]) >= 0);
        }
        WAIT_FOR(w.h, l1.packets == 8);
        check(l1.data.len == expect.len && memcmp(buffer_data(&l1.data), buffer_data(&expect), expect.len) == 0);
        for (unsigned i = 0; i < 8; i++)
                check(l1.got[i].seq == i && l1.got[i].pts == 1000 + i * 33333 && l1.got[i].keyframe == (i == 0 || i == 5) &&
                      l1.got[i].len == lens[i]);

        /* Geometry: relayed; a late viewer gets the start with the current one. */
        AgentMediaGeometry g = { .stream = 42, .window = 7, .x = 16, .y = 24, .width = 64, .height = 48, .visible = 1 };
        check(agent_encode_media_geometry(fake_agent_out(&w.agent), &g) >= 0);
        check(fake_agent_flush(&w.agent) >= 0);
        WAIT_FOR(w.h, l1.geometries == 1);
        check(l1.geometry.stream == id && l1.geometry.window == 7 && l1.geometry.x == 16 && l1.geometry.y == 24 &&
              l1.geometry.width == 64 && l1.geometry.height == 48 && l1.geometry.visible == 1);
        RawViewer *v2 = viewer(&w, MEDIA_CAPS, &l2);
        WAIT_FOR(w.h, l2.starts == 1);
        check(l2.start.stream == id && l2.start.window == 7 && l2.start.x == 16 && l2.start.width == 64);
        /* A viewer that joins a running video: hostd asks the guest for a keyframe. */
        WAIT_FOR(w.h, w.guest.keyframe_requests == 1);
        check(w.guest.keyframe_stream == 42);
        /* It starts at a keyframe: a delta is not sent to it, the next keyframe is. */
        guest_packet(&w, 42, 900000, false, buf[1], lens[1]);
        guest_packet(&w, 42, 933333, true, buf[0], lens[0]);
        WAIT_FOR(w.h, l1.packets == 10 && l2.packets == 1);
        check(l2.got[0].keyframe == 1 && l2.got[0].seq == 9 && l2.got[0].pts == 933333);
        check(memcmp(buffer_data(&l2.data), buf[0], lens[0]) == 0);

        /* The guest closes it: stopped for both. */
        guest_close(&w, 42);
        WAIT_FOR(w.h, l1.stops == 1 && l2.stops == 1);
        check(l1.stop.stream == id && l1.stop.why == MEDIA_WHY_CLOSED);

        /* Another one: ids are not reused while open, and audio goes too. */
        check(open_answer(&w, 43, MEDIA_KIND_AUDIO, MEDIA_CODEC_OPUS) == REDIRECT);
        WAIT_FOR(w.h, l1.starts == 2 && l2.starts == 2);
        check(l1.start.stream != id && l1.start.kind == MEDIA_KIND_AUDIO && l1.start.sample_rate == 48000 &&
              l1.start.channels == 2);
        guest_packet(&w, 43, 5, false, buf[2], 200);
        WAIT_FOR(w.h, l1.packets == 11 && l2.packets == 2);
        check(l2.got[1].seq == 0 && l2.got[1].len == 200);

        /* The agent is lost: every stream stops (agent-lost); the viewers stay. */
        fake_agent_close(&w.agent);
        WAIT_FOR(w.h, l1.stops == 2 && l2.stops == 2);
        check(l1.stop.why == MEDIA_WHY_AGENT_LOST && v1->error == 0 && v2->error == 0);
        check(media_n_streams(agent_media(w.a)) == 0);
        buffer_done(&expect);
        viewer_done(v1, &l1);
        viewer_done(v2, &l2);
        world_free(&w);
}

static void test_guest_reboot(void) {
        World w;
        ViewerLog l;
        world_new(&w, NULL);
        RawViewer *v = viewer(&w, MEDIA_CAPS, &l);
        check(open_answer(&w, 1, MEDIA_KIND_AUDIO, MEDIA_CODEC_OPUS) == REDIRECT);
        agent_guest_reset(w.a, true);
        WAIT_FOR(w.h, l.stops == 1);
        check(l.stop.why == MEDIA_WHY_AGENT_LOST && v->error == 0);
        viewer_done(v, &l);
        world_free(&w);
}

/* ---- caps on the untrusted guest ---- */

typedef struct Trip {
        const char *name;
        uint8_t why;
} Trip;

/* After each trip: the guest got media-close (why) for that stream, the viewer media-stop (why),
 * the agent and the viewer go on, and a new stream opens. */
static void after_trip(World *w, ViewerLog *l, RawViewer *v, uint32_t id, uint8_t why, unsigned *closes,
                       unsigned *stops) {
        WAIT_FOR(w->h, w->guest.closes == *closes + 1 && l->stops == *stops + 1);
        check(w->guest.close.stream == id && w->guest.close.why == why);
        check(l->stop.why == why);
        check(agent_state(w->a) == AGENT_ACTIVE && v->error == 0);
        *closes = w->guest.closes;
        *stops = l->stops;
}

static void test_caps(void) {
        World w;
        ViewerLog l;
        static uint8_t big[600000];
        Setup s = { .media = { .max_video_packet = 100000, .max_audio_packet = 1000, .video_packet_rate = 20,
                               .stream_bitrate = 8 * 300000, .desktop_bitrate = 8 * 500000, .idle_seconds = 1 } };
        world_new(&w, &s);
        RawViewer *v = viewer(&w, MEDIA_CAPS, &l);
        Media *m = agent_media(w.a);
        unsigned closes = 0, stops = 0, id = 1;

        /* Packet size per codec. */
        check(open_answer(&w, id, MEDIA_KIND_VIDEO, MEDIA_CODEC_VP8) == REDIRECT);
        guest_packet(&w, id, 0, true, big, 100000); /* at the cap: fine */
        guest_packet(&w, id, 1, true, big, 100001);
        after_trip(&w, &l, v, id, MEDIA_WHY_LIMIT, &closes, &stops);
        check(m->counters.cap_packet_size == 1 && l.packets == 1);
        id++;
        check(open_answer(&w, id, MEDIA_KIND_AUDIO, MEDIA_CODEC_OPUS) == REDIRECT);
        guest_packet(&w, id, 0, false, big, 1001);
        after_trip(&w, &l, v, id, MEDIA_WHY_LIMIT, &closes, &stops);
        check(m->counters.cap_packet_size == 2);

        /* Packets per second: 20, burst 20. */
        id++;
        check(open_answer(&w, id, MEDIA_KIND_VIDEO, MEDIA_CODEC_VP8) == REDIRECT);
        for (unsigned i = 0; i < 40; i++)
                guest_packet(&w, id, i, i == 0, big, 10);
        after_trip(&w, &l, v, id, MEDIA_WHY_LIMIT, &closes, &stops);
        check(m->counters.cap_packet_rate == 1);

        /* Bytes per second of a stream: 300000, burst a second of it. */
        id++;
        check(open_answer(&w, id, MEDIA_KIND_VIDEO, MEDIA_CODEC_VP8) == REDIRECT);
        for (unsigned i = 0; i < 4; i++)
                guest_packet(&w, id, i, true, big, 99000);
        after_trip(&w, &l, v, id, MEDIA_WHY_LIMIT, &closes, &stops);
        check(m->counters.cap_stream_rate == 1);

        /* Bytes per second of the desktop: 500000 across streams (its bucket had 4 * 99000 taken
         * already, and refills at 500000/s: two streams of 3 x 99000 at once pass it). */
        id++;
        uint32_t a = id, b = id + 1;
        unsigned stops_before = l.stops;
        check(open_answer(&w, a, MEDIA_KIND_VIDEO, MEDIA_CODEC_VP8) == REDIRECT);
        check(open_answer(&w, b, MEDIA_KIND_VIDEO, MEDIA_CODEC_VP8) == REDIRECT);
        for (unsigned i = 0; i < 3; i++) {
                guest_packet(&w, a, i, true, big, 99000);
                guest_packet(&w, b, i, true, big, 99000);
        }
        WAIT_FOR(w.h, m->counters.cap_desktop_rate >= 1);
        check(m->counters.cap_stream_rate == 1); /* each stream alone is under its cap */
        WAIT_FOR(w.h, w.guest.closes > closes);
        check(w.guest.close.why == MEDIA_WHY_LIMIT);
        /* The other is still open (or tripped too, if the bucket was lower): close what is left. */
        if (media_find_guest(m, a))
                guest_close(&w, a);
        if (media_find_guest(m, b))
                guest_close(&w, b);
        WAIT_FOR(w.h, media_n_streams(m) == 0 && l.stops == stops_before + 2);
        closes = w.guest.closes;
        stops = l.stops;
        id = b + 1;

        /* Malformed: pts backwards, an empty packet, keyframe 2, absurd geometry. */
        check(open_answer(&w, id, MEDIA_KIND_VIDEO, MEDIA_CODEC_VP8) == REDIRECT);
        guest_packet(&w, id, 5000, true, big, 10);
        guest_packet(&w, id, 4999, false, big, 10);
        after_trip(&w, &l, v, id, MEDIA_WHY_MALFORMED, &closes, &stops);
        id++;
        check(open_answer(&w, id, MEDIA_KIND_VIDEO, MEDIA_CODEC_VP8) == REDIRECT);
        guest_packet(&w, id, 0, true, big, 0);
        after_trip(&w, &l, v, id, MEDIA_WHY_MALFORMED, &closes, &stops);
        id++;
        check(open_answer(&w, id, MEDIA_KIND_VIDEO, MEDIA_CODEC_VP8) == REDIRECT);
        AgentMediaPacket p = { .stream = id, .keyframe = 2, .data = big, .data_len = 5 };
        check(agent_encode_media_packet(fake_agent_out(&w.agent), &p) >= 0);
        check(fake_agent_flush(&w.agent) >= 0);
        after_trip(&w, &l, v, id, MEDIA_WHY_MALFORMED, &closes, &stops);
        id++;
        check(open_answer(&w, id, MEDIA_KIND_VIDEO, MEDIA_CODEC_VP8) == REDIRECT);
        AgentMediaGeometry g = { .stream = id, .x = -(1 << 30), .width = 10, .height = 10, .visible = 1 };
        check(agent_encode_media_geometry(fake_agent_out(&w.agent), &g) >= 0);
        check(fake_agent_flush(&w.agent) >= 0);
        after_trip(&w, &l, v, id, MEDIA_WHY_MALFORMED, &closes, &stops);
        check(m->counters.malformed == 4);

        /* A stream left silent is closed (IdleSeconds=1). */
        id++;
        check(open_answer(&w, id, MEDIA_KIND_AUDIO, MEDIA_CODEC_OPUS) == REDIRECT);
        after_trip(&w, &l, v, id, MEDIA_WHY_LIMIT, &closes, &stops);
        check(m->counters.cap_idle == 1);

        /* Packets of a stream hostd closed are dropped quietly; the channel goes on. */
        guest_packet(&w, 1, 99, true, big, 10);
        WAIT_FOR(w.h, m->counters.unknown_stream >= 1);
        check(agent_state(w.a) == AGENT_ACTIVE && w.a->counters.drops_protocol == 0 && w.a->counters.drops_rate == 0);
        /* ... but they are not free: a flood of them is a flood of messages (MessageRate=). */
        for (unsigned i = 0; i < 1000; i++) {
                AgentMediaPacket p2 = { .stream = 1, .pts_us = i, .data = big, .data_len = 1 };
                check(agent_encode_media_packet(fake_agent_out(&w.agent), &p2) >= 0);
        }
        check(fake_agent_flush(&w.agent) >= 0);
        WAIT_FOR(w.h, w.a->counters.drops_rate == 1);
        check(v->error == 0 && harness_console(w.h) != NULL); /* the viewer and the display go on */
        viewer_done(v, &l);
        world_free(&w);
}

/* ---- the viewer's budget ---- */

static void test_budget(void) {
        World w;
        ViewerLog l;
        static uint8_t frame[200000];
        Setup s = { .media = { .stream_bitrate = 1000000000, .desktop_bitrate = 1000000000, .video_packet_rate = 100000 } };
        world_new(&w, &s);
        RawViewer *v = viewer(&w, MEDIA_CAPS, &l);
        Viewer *server_side = agent_find_viewer(w.a, l.session);
        check(server_side);
        check(open_answer(&w, 1, MEDIA_KIND_VIDEO, MEDIA_CODEC_VP8) == REDIRECT);
        check(open_answer(&w, 2, MEDIA_KIND_AUDIO, MEDIA_CODEC_OPUS) == REDIRECT);
        WAIT_FOR(w.h, l.starts == 2);
        unsigned requests = w.guest.keyframe_requests;

        /* The viewer stalls; the guest goes on at full speed: 60 frames of 200 kB, a keyframe
         * every 10, and audio between them. */
        raw_viewer_pause(v, true);
        size_t max_queued = 0;
        for (unsigned i = 0; i < 60; i++) {
                fill(frame, sizeof(frame), i);
                frame[0] = (uint8_t) i;
                guest_packet(&w, 1, i * 33333ULL, i % 10 == 0, frame, sizeof(frame));
                guest_packet(&w, 2, i * 20000ULL, false, frame, 300);
                run_for(w.h, 2000);
                max_queued = MAX(max_queued, wire_conn_queued(server_side->conn));
        }
        MediaStream *vs = media_find_guest(agent_media(w.a), 1);
        check(vs);
        WAIT_FOR(w.h, vs->packets_in == 60);
        max_queued = MAX(max_queued, wire_conn_queued(server_side->conn));
        check(vs->dropped > 0);
        /* Never more queued than the video bound and one packet past it (the queue bound is
         * checked before appending), so the display pump (VIEWER_OUT_SOFT) is never held. */
        check(max_queued <= MEDIA_AUDIO_QUEUE_MAX + 400);
        check(max_queued < VIEWER_OUT_SOFT);
        /* Dropping video asked the guest for a keyframe. */
        WAIT_FOR(w.h, w.guest.keyframe_requests > requests);

        /* The viewer reads again: what it got of the video is decodable, every gap in seq is
         * followed by a keyframe; audio came through whole. */
        raw_viewer_pause(v, false);
        for (unsigned i = 60; i < 70; i++) {
                fill(frame, sizeof(frame), i);
                frame[0] = (uint8_t) i;
                guest_packet(&w, 1, i * 33333ULL, i % 10 == 0, frame, sizeof(frame));
                run_for(w.h, 20000);
        }
        WAIT_FOR(w.h, vs->packets_in == 70 && l.packets == 60 + 70 - vs->dropped);
        uint32_t last_video_seq = UINT32_MAX;
        unsigned audio = 0, video = 0;
        for (unsigned i = 0; i < l.packets && i < MAX_PACKETS; i++) {
                const Got *gp = &l.got[i];
                if (gp->len == 300) {
                        audio++;
                        continue;
                }
                if (last_video_seq == UINT32_MAX || gp->seq != last_video_seq + 1)
                        check(gp->keyframe == 1);
                check(gp->first == (uint8_t) gp->seq); /* frame i carries i */
                last_video_seq = gp->seq;
                video++;
        }
        check(audio == 60);
        check(video > 0 && video + vs->dropped == 70);
        check(v->error == 0 && agent_state(w.a) == AGENT_ACTIVE);
        viewer_done(v, &l);
        world_free(&w);
}

/* Over UDP the budget is a share of rudp's estimate of the link: a video above it is dropped to
 * keyframes (the guest asked for them), audio is not dropped by hostd, media packets the link
 * loses do not repaint the screen, the display goes on. */
static void test_budget_udp(void) {
        World w;
        ViewerLog l;
        static uint8_t frame[40000];
        Setup s = { .media = { .viewer_share = 50 } };
        FdDatagramOptions link = { .rate = 1000000, .queue_usec = 50000, .loss = 0.03, .seed = 7 };
        world_new(&w, &s);
        RawViewer *v;
        memset(&l, 0, sizeof(l));
        buffer_init(&l.data, 64u << 20);
        check(raw_viewer_new_udp(w.h, MEDIA_CAPS, TICKET_ROLE_INTERACTIVE, &link, &v) >= 0);
        v->on_message = viewer_message;
        v->userdata = &l;
        WAIT_FOR(w.h, v->welcomed && l.frames > 0);
        check(open_answer(&w, 1, MEDIA_KIND_VIDEO, MEDIA_CODEC_VP8) == REDIRECT);
        check(open_answer(&w, 2, MEDIA_KIND_AUDIO, MEDIA_CODEC_OPUS) == REDIRECT);
        WAIT_FOR(w.h, l.starts == 2);
        Viewer *sv = agent_find_viewer(w.a, l.session);
        check(sv);
        /* The first screen refined, nothing left to send. */
        WAIT_FOR(w.h, !encoder_has_lossy(sv->encoder) && region_is_empty(&sv->pending));
        run_for(w.h, 300 * 1000);
        unsigned requests = w.guest.keyframe_requests, still = l.frames;
        /* 3 s of a 1.2 MB/s video (a keyframe a second) and 50 audio packets/s. */
        for (unsigned i = 0; i < 150; i++) {
                if (i % 5 == 0) {
                        unsigned f = i / 5;
                        fill(frame, sizeof(frame), f);
                        frame[0] = (uint8_t) f;
                        guest_packet(&w, 1, f * 33333ULL, f % 30 == 0, frame, sizeof(frame));
                }
                if (i % 3 == 0)
                        guest_packet(&w, 2, i * 6667ULL, false, frame, 200);
                run_for(w.h, 6667);
        }
        Media *m = agent_media(w.a);
        MediaStream *vs = media_find_guest(m, 1), *as = media_find_guest(m, 2);
        check(vs && as);
        check(m->n_budgets == 1);   /* the link was measured: the share applied */
        check(vs->dropped > 0);     /* more than the share: video dropped ... */
        check(w.guest.keyframe_requests > requests); /* ... and keyframes asked for */
        check(as->dropped == 0);    /* audio first */
        /* Media packets the link lost are not tiles: the still screen was not sent again. */
        check(l.frames == still);
        /* The display goes on: a change reaches the viewer. */
        unsigned frames = l.frames;
        for (size_t i = 0; i < FB_W * FB_H; i++)
                w.px[i] = 0x405060 + (uint32_t) i;
        check(fake_qemu_update(w.h->qemu, 0, 0, FB_W, FB_H, FB_W * 4, 0x20020888, w.px, sizeof(w.px)) >= 0);
        WAIT_FOR(w.h, l.frames > frames);
        check(v->error == 0 && agent_state(w.a) == AGENT_ACTIVE);
        viewer_done(v, &l);
        world_free(&w);
}

/* A viewer whose connection dropped keeps its session for a resume: its streams stay, its
 * packets are dropped meanwhile (it resumes from a keyframe); when the session ends, its streams
 * without other viewers are closed (no-viewer). */
static void test_detached_viewer(void) {
        World w;
        ViewerLog l;
        uint8_t data[64] = { 1 };
        Setup s = { .resume_seconds = 2 };
        world_new(&w, &s);
        RawViewer *v = viewer(&w, MEDIA_CAPS | (UINT64_C(1) << 5) /* resume */, &l);
        check(open_answer(&w, 5, MEDIA_KIND_VIDEO, MEDIA_CODEC_VP8) == REDIRECT);
        WAIT_FOR(w.h, l.starts == 1);
        guest_packet(&w, 5, 0, true, data, sizeof(data));
        WAIT_FOR(w.h, l.packets == 1);
        Viewer *sv = agent_find_viewer(w.a, l.session);
        check(sv && viewer_resume_detach(sv, -ECONNRESET, "test: link down"));
        check(viewer_is_detached(sv));
        for (unsigned i = 1; i <= 5; i++)
                guest_packet(&w, 5, i * 1000, false, data, sizeof(data));
        Media *m = agent_media(w.a);
        MediaStream *st = media_find_guest(m, 5);
        check(st);
        WAIT_FOR(w.h, st->packets_in == 6);
        check(st->dropped == 5 && st->n_subs == 1 && l.packets == 1);
        check(w.guest.closes == 0 && w.guest.codecs == ((1u << MEDIA_CODEC_OPUS) | (1u << MEDIA_CODEC_VP8)));
        /* No resume comes: the session ends, the stream with it. */
        WAIT_FOR(w.h, w.guest.closes == 1);
        check(w.guest.close.stream == 5 && w.guest.close.why == MEDIA_WHY_NO_VIEWER && media_n_streams(m) == 0);
        WAIT_FOR(w.h, w.guest.codecs == 0);
        viewer_done(v, &l);
        world_free(&w);
}

static void test_keyframe_requests(void) {
        World w;
        ViewerLog l;
        world_new(&w, NULL);
        RawViewer *v = viewer(&w, MEDIA_CAPS, &l);
        check(open_answer(&w, 9, MEDIA_KIND_VIDEO, MEDIA_CODEC_VP8) == REDIRECT);
        WAIT_FOR(w.h, l.starts == 1);
        check(w.guest.keyframe_requests == 0);
        /* Ten requests at once from the viewer: coalesced to at most one a second. */
        for (int i = 0; i < 10; i++) {
                WireMediaKeyframeRequest k = { .stream = l.start.stream };
                check(wire_encode_media_keyframe_request(raw_viewer_out(v), &k) >= 0);
        }
        /* And one for a stream that is not there (the VM's audio, or gone): ignored. */
        WireMediaKeyframeRequest k = { .stream = 0x80000001u };
        check(wire_encode_media_keyframe_request(raw_viewer_out(v), &k) >= 0);
        raw_viewer_flush(v);
        Media *m = agent_media(w.a);
        WAIT_FOR(w.h, m->counters.viewer_keyframe_requests == 10);
        check(w.guest.keyframe_requests <= 2);
        WAIT_FOR(w.h, w.guest.keyframe_requests == 2);
        run_for(w.h, 1500 * 1000);
        check(w.guest.keyframe_requests == 2 && w.guest.keyframe_stream == 9);
        check(v->error == 0);
        viewer_done(v, &l);
        world_free(&w);
}

/* ---- display interplay ---- */

static bool tiles_cover(const ViewerLog *l, Rect r) {
        /* Every pixel of r in some tile (r is small: check each pixel). */
        for (int32_t y = r.y; y < r.y + r.h; y++)
                for (int32_t x = r.x; x < r.x + r.w; x++) {
                        bool in = false;
                        for (unsigned i = 0; i < l->n_tiles && !in; i++)
                                in = rect_contains(l->tiles[i], (Rect) { x, y, 1, 1 });
                        if (!in)
                                return false;
                }
        return true;
}

static bool tiles_touch(const ViewerLog *l, Rect r) {
        for (unsigned i = 0; i < l->n_tiles; i++)
                if (rect_overlaps(l->tiles[i], r))
                        return true;
        return false;
}

static void repaint(World *w, unsigned seed, ViewerLog *a, ViewerLog *b) {
        for (size_t i = 0; i < FB_W * FB_H; i++)
                w->px[i] = (uint32_t) (i * 2654435761u) ^ seed;
        unsigned fa = a->frames, fb = b->frames;
        a->n_tiles = b->n_tiles = 0;
        a->recording_tiles = b->recording_tiles = true;
        check(fake_qemu_update(w->h->qemu, 0, 0, FB_W, FB_H, FB_W * 4, 0x20020888, w->px, sizeof(w->px)) >= 0);
        WAIT_FOR(w->h, a->frames > fa && b->frames > fb && tiles_cover(b, (Rect) { 0, 0, FB_W, FB_H }));
        run_for(w->h, 100 * 1000); /* anything late */
}

static void test_display_interplay(void) {
        World w;
        ViewerLog lm, lp;
        world_new(&w, NULL);
        RawViewer *vm = viewer(&w, MEDIA_CAPS, &lm);
        RawViewer *vp = viewer(&w, PLAIN_CAPS, &lp);
        /* On the encoder's 64-pixel grid: it sends each grid cell's changes as their bounding
         * box, so only the cells the video covers whole are saved. */
        Rect video = { 64, 64, 64, 64 };
        guest_open(&w, 1, MEDIA_KIND_VIDEO, MEDIA_CODEC_VP8, video, true);
        WAIT_FOR(w.h, lm.starts == 1);

        /* The whole screen changes: the media viewer gets all of it but the video's rectangle,
         * the plain one all of it. */
        repaint(&w, 1, &lm, &lp);
        check(!tiles_touch(&lm, video));
        check(tiles_cover(&lm, (Rect) { 0, 0, FB_W, video.y }));
        check(tiles_cover(&lm, (Rect) { 0, video.y, video.x, video.h }));
        check(tiles_cover(&lm, (Rect) { video.x + video.w, video.y, FB_W - video.x - video.w, video.h }));
        check(tiles_cover(&lp, video));

        /* Hidden: the rectangle comes back from the framebuffer. */
        lm.n_tiles = 0;
        AgentMediaGeometry g = { .stream = 1, .x = video.x, .y = video.y, .width = (uint32_t) video.w,
                                 .height = (uint32_t) video.h, .visible = 0 };
        check(agent_encode_media_geometry(fake_agent_out(&w.agent), &g) >= 0);
        check(fake_agent_flush(&w.agent) >= 0);
        WAIT_FOR(w.h, tiles_cover(&lm, video));

        /* Visible again, then closed: the same. */
        g.visible = 1;
        check(agent_encode_media_geometry(fake_agent_out(&w.agent), &g) >= 0);
        check(fake_agent_flush(&w.agent) >= 0);
        WAIT_FOR(w.h, lm.geometries == 2);
        repaint(&w, 2, &lm, &lp);
        check(!tiles_touch(&lm, video));
        lm.n_tiles = 0;
        guest_close(&w, 1);
        WAIT_FOR(w.h, lm.stops == 1 && tiles_cover(&lm, video));
        viewer_done(vm, &lm);
        viewer_done(vp, &lp);
        world_free(&w);
}

/* A video in a window, partly under another window: only the part that shows is masked. */
static void test_display_occlusion(void) {
        World w;
        ViewerLog lm, lp;
        world_new(&w, NULL);
        check(fake_agent_hello(&w.agent, AGENT_CAPS | AGENT_CAP_WINDOWS) >= 0);
        WAIT_FOR(w.h, agent_features(w.a) & AGENT_CAP_WINDOWS); /* a repeated hello: caps changed */
        RawViewer *vm = viewer(&w, MEDIA_CAPS, &lm);
        RawViewer *vp = viewer(&w, PLAIN_CAPS, &lp);
        AgentWindowUpdate player = { .id = 10, .state = 1, .x = 0, .y = 0, .width = FB_W, .height = FB_H,
                                     .title = "player", .title_len = 6 };
        AgentWindowUpdate dialog = { .id = 11, .state = 1 | 2, .x = 128, .y = 0, .width = 64, .height = FB_H,
                                     .title = "dialog", .title_len = 6 };
        uint8_t ids[8] = { 10, 0, 0, 0, 11, 0, 0, 0 }; /* bottom to top */
        AgentWindowStack stack = { .ids = ids, .ids_len = sizeof(ids) };
        check(agent_encode_window_update(fake_agent_out(&w.agent), &player) >= 0);
        check(agent_encode_window_update(fake_agent_out(&w.agent), &dialog) >= 0);
        check(agent_encode_window_stack(fake_agent_out(&w.agent), &stack) >= 0);
        check(fake_agent_flush(&w.agent) >= 0);
        WAIT_FOR(w.h, w.a->n_windows == 2 && w.a->n_stack == 2);
        AgentMediaOpen o = { .stream = 1, .kind = MEDIA_KIND_VIDEO, .codec = MEDIA_CODEC_VP8, .window = 10, .x = 64,
                             .y = 64, .width = 128, .height = 64, .visible = 1 };
        check(agent_encode_media_open(fake_agent_out(&w.agent), &o) >= 0);
        check(fake_agent_flush(&w.agent) >= 0);
        WAIT_FOR(w.h, lm.starts == 1);
        repaint(&w, 3, &lm, &lp);
        Rect shown = { 64, 64, 64, 64 }, covered = { 128, 64, 64, 64 };
        check(!tiles_touch(&lm, shown));
        check(tiles_cover(&lm, covered));
        /* The dialog is minimized: all of the video shows, all of it is masked. */
        dialog.state = 1 | 4;
        check(agent_encode_window_update(fake_agent_out(&w.agent), &dialog) >= 0);
        check(fake_agent_flush(&w.agent) >= 0);
        WAIT_FOR(w.h, w.a->windows[1].state == 5 || w.a->windows[0].state == 5);
        repaint(&w, 4, &lm, &lp);
        check(!tiles_touch(&lm, shown) && !tiles_touch(&lm, covered));
        check(tiles_cover(&lp, shown) && tiles_cover(&lp, covered));
        viewer_done(vm, &lm);
        viewer_done(vp, &lp);
        world_free(&w);
}

/* ---- status ---- */

static void json_append(void *userdata, const char *data, size_t len) {
        check(buffer_append(userdata, data, len) >= 0);
}

static void test_status(void) {
        World w;
        ViewerLog l;
        uint8_t data[100] = {};
        world_new(&w, NULL);
        RawViewer *v = viewer(&w, MEDIA_CAPS, &l);
        check(open_answer(&w, 3, MEDIA_KIND_VIDEO, MEDIA_CODEC_VP8) == REDIRECT);
        check(open_answer(&w, 4, MEDIA_KIND_VIDEO, MEDIA_CODEC_H264) == LOCAL(MEDIA_WHY_CODEC_UNSUPPORTED));
        guest_packet(&w, 3, 0, true, data, sizeof(data));
        WAIT_FOR(w.h, l.packets == 1);
        Buffer json;
        buffer_init(&json, 1u << 20);
        media_describe_json(agent_media(w.a), json_append, &json);
        check(buffer_append(&json, "", 1) >= 0);
        const char *s = (const char *) buffer_data(&json);
        check(strstr(s, "\"codec\":\"vp8\",\"kind\":\"video\",\"packets\":1,\"bytes\":100,\"dropped\":0,\"viewers\":1"));
        check(strstr(s, "\"viewer_codecs\":[\"opus\",\"vp8\"]") && strstr(s, "\"codec_unsupported\":1"));
        check(strstr(s, "\"caps_hit\":{\"streams\":0"));
        buffer_done(&json);
        viewer_done(v, &l);
        world_free(&w);
}

int main(void) {
        test_open_answers();
        test_policy_and_stream_cap();
        test_relay();
        test_guest_reboot();
        test_caps();
        test_budget();
        test_budget_udp();
        test_keyframe_requests();
        test_detached_viewer();
        test_display_interplay();
        test_display_occlusion();
        test_status();
        printf("test-hostd-media: ok\n");
        return 0;
}
