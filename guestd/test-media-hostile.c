/* A hostile application in the guest against the whole chain on this machine (test-media-chain.h:
 * libtandem-media on a thread -> a private system bus -> the REAL tandem-guestd -> the in-process
 * hostd with [Media] caps set low -> a real client session). What test-guestd-media (guestd with a
 * scripted hostd) and test-hostd-media (hostd with a scripted agent) do not see: hostd's verdict
 * reaching the application through the real guestd as Closed(stream, "limit"), and the viewer's
 * media-stop, for a stream never closed and left silent (IdleSeconds=1), a packet over
 * MaxVideoPacket (under guestd's own cap, so guestd relays it), and packets far over
 * VideoPacketRate; garbage VP8 packets decoded by the viewer (it asks for a keyframe, the
 * application gets KeyframeRequested, the stream recovers on it). All along the session stays,
 * the display goes on (a new screen reaches the viewer), guestd is the same process, and a new
 * stream is still redirected.
 *
 *   test-media-hostile GUESTD BUS-CONFIG */
#include "check.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/log.h>

#include "media-gen.h"
#include "tandem-media.h"
#include "test-media-chain.h"

#define SECOND 1000000ULL
#define MAX_VIDEO_PACKET 100000
#define PACKET_RATE 50
#define CLIP_MAX 64

/* ---- the viewer's side (this thread) ---- */

static unsigned starts, stops, video_frames;
static uint8_t last_why = 0xff;

static void on_start(const ClientMediaStream *st _unused_, void *userdata _unused_) {
        starts++;
}

static void on_stop(const ClientMediaStream *st _unused_, uint8_t why, void *userdata _unused_) {
        stops++;
        last_why = why;
}

static void on_video(const ClientMediaStream *st _unused_, const ClientMediaPicture *pic _unused_, void *userdata _unused_) {
        video_frames++;
}

static void configure(HostdConfig *hc, void *userdata _unused_) {
        hc->media.idle_seconds = 1;
        hc->media.max_video_packet = MAX_VIDEO_PACKET;
        hc->media.video_packet_rate = PACKET_RATE;
}

/* ---- the application (its own thread) ---- */

static MediaGenPacket clip[CLIP_MAX];
static size_t clip_n;

static int on_packet(const MediaGenPacket *p, void *userdata _unused_) {
        if (clip_n == CLIP_MAX)
                return 0;
        uint8_t *d = malloc(p->len);
        if (!d)
                return -ENOMEM;
        memcpy(d, p->data, p->len);
        clip[clip_n] = *p;
        clip[clip_n++].data = d;
        return 0;
}

typedef enum Abuse {
        ABUSE_SILENT,    /* one keyframe, then nothing, never closed */
        ABUSE_HUGE,      /* a packet over MaxVideoPacket */
        ABUSE_FLOOD,     /* packets far over VideoPacketRate */
        ABUSE_GARBAGE,   /* garbage VP8, then the clip again from its keyframe */
} Abuse;

typedef struct App {
        Abuse abuse;
        int open; /* tandem_media_open()'s */
        char reason[64];
        bool closed;
        char closed_reason[64];
        unsigned keyframe_requests;
        uint32_t stream;
} App;

static void on_closed(void *userdata, uint32_t stream, const char *reason) {
        App *a = userdata;
        if (stream != a->stream)
                return;
        a->closed = true;
        snprintf(a->closed_reason, sizeof(a->closed_reason), "%s", reason);
}

static void on_keyframe(void *userdata, uint32_t stream) {
        App *a = userdata;
        if (stream == a->stream)
                a->keyframe_requests++;
}

/* Processes the bus until cond or timeout. */
static void wait_app(TandemMedia *tm, App *a, bool (*cond)(App *a), uint64_t timeout) {
        uint64_t end = media_chain_now() + timeout;
        while (!cond(a) && media_chain_now() < end)
                (void) tandem_media_process(tm, 100000);
}

static bool is_closed(App *a) {
        return a->closed;
}

static bool keyframe_asked(App *a) {
        return a->closed || a->keyframe_requests > 0;
}

static void push_clip(TandemMedia *tm, App *a, uint64_t pts0) {
        for (size_t i = 0; i < clip_n && !a->closed; i++) {
                (void) tandem_media_push(tm, a->stream, pts0 + clip[i].pts_us, clip[i].keyframe, clip[i].data, clip[i].len);
                (void) tandem_media_process(tm, 33000); /* about its real time */
        }
}

static void application(void *userdata) {
        App *a = userdata;
        TandemMediaCallbacks cb = { .closed = on_closed, .keyframe_requested = on_keyframe };
        TandemMedia *tm;
        if (tandem_media_new(NULL, &cb, a, &tm) < 0) {
                a->open = -ENOTCONN;
                return;
        }
        TandemMediaOpen o = { .kind = "video", .codec = "vp8", .rect = { 0, 0, 64, 48 }, .visible = true };
        for (int tries = 0; tries < 100; tries++) {
                a->open = tandem_media_open(tm, &o, &a->stream, a->reason, sizeof(a->reason));
                if (a->open > 0 ||
                    (a->open == 0 && strcmp(a->reason, "no-viewer") != 0 && strcmp(a->reason, "agent-path-down") != 0))
                        break;
                usleep(100000); /* guestd not on the bus yet, or not heard of hostd or the viewer */
        }
        if (a->open <= 0)
                goto out;
        static uint8_t junk[MAX_VIDEO_PACKET * 2];
        for (size_t i = 0; i < sizeof(junk); i++)
                junk[i] = (uint8_t) (i * 2654435761u >> 13);
        (void) tandem_media_push(tm, a->stream, 0, true, clip[0].data, clip[0].len);
        switch (a->abuse) {
        case ABUSE_SILENT:
                break;
        case ABUSE_HUGE:
                (void) tandem_media_push(tm, a->stream, 33333, false, junk, sizeof(junk));
                break;
        case ABUSE_FLOOD:
                for (unsigned i = 1; i <= 10 * PACKET_RATE && !a->closed; i++) {
                        (void) tandem_media_push(tm, a->stream, i * 1000u, false, clip[1].data, clip[1].len);
                        (void) tandem_media_process(tm, 0);
                }
                break;
        case ABUSE_GARBAGE:
                for (unsigned i = 1; i <= 10; i++) /* a keyframe's tag, then noise */
                        (void) tandem_media_push(tm, a->stream, i * 33333u, true, junk, 3000);
                wait_app(tm, a, keyframe_asked, 10 * SECOND);
                push_clip(tm, a, SECOND);
                (void) tandem_media_process(tm, 500000);
                (void) tandem_media_close(tm, a->stream);
                goto out;
        }
        wait_app(tm, a, is_closed, 10 * SECOND);
out:
        tandem_media_free(tm);
}

static void run(MediaChain *c, App *a) {
        unsigned stops_before = stops;
        check(media_chain_run_app(c, application, a, 500000, 60 * SECOND) == 0);
        if (a->open != 1)
                fprintf(stderr, "open: %d %s\n", a->open, a->reason);
        check(a->open == 1);
        check(stops == stops_before + 1);
        check(c->v->welcomed && !c->v->closed);
}

int main(int argc, char *argv[]) {
        if (argc != 3) {
                fprintf(stderr, "Usage: test-media-hostile GUESTD BUS-CONFIG\n");
                return 2;
        }
        av_log_set_level(AV_LOG_QUIET);
        MediaGenOptions g = { .codec = MEDIA_GEN_VP8, .width = 64, .height = 48, .seconds = 1 };
        check(media_gen_options_finish(&g) == 0);
        check(media_gen_run(&g, NULL, on_packet, NULL) == 0 && clip_n >= 30 && clip[0].keyframe);

        ClientCallbacks cb = { .media = { .on_start = on_start, .on_stop = on_stop, .on_video = on_video } };
        MediaChainOptions o = { .guestd_exe = argv[1], .bus_config = argv[2], .width = 256, .height = 192,
                                .configure = configure, .callbacks = &cb };
        _cleanup_(media_chain_freep) MediaChain *c = NULL;
        int r = media_chain_new(&o, &c);
        if (r == -EOPNOTSUPP) {
                printf("skip: no dbus-daemon (package dbus-daemon)\n");
                return 77;
        }
        check(r == 0);
        pid_t guestd = c->guestd;

        /* A stream left open and silent: closed after IdleSeconds=1, "limit" to the application. */
        App silent = { .abuse = ABUSE_SILENT };
        run(c, &silent);
        check(silent.closed && strcmp(silent.closed_reason, "limit") == 0);
        check(last_why == WIRE_WHY_LIMIT);
        printf("ok   a silent stream never closed: Closed limit, media-stop limit\n");

        /* A packet over MaxVideoPacket (guestd's own cap is higher: it relays it to hostd). */
        App huge = { .abuse = ABUSE_HUGE };
        run(c, &huge);
        check(huge.closed && strcmp(huge.closed_reason, "limit") == 0 && last_why == WIRE_WHY_LIMIT);
        printf("ok   a packet of %u bytes: Closed limit\n", MAX_VIDEO_PACKET * 2);

        /* Ten times VideoPacketRate packets at once. */
        App flood = { .abuse = ABUSE_FLOOD };
        run(c, &flood);
        check(flood.closed && strcmp(flood.closed_reason, "limit") == 0 && last_why == WIRE_WHY_LIMIT);
        printf("ok   %u packets as fast as they go: Closed limit\n", 10 * PACKET_RATE);

        /* Garbage VP8: the viewer's decoder refuses it and asks for a keyframe, which reaches the
         * application; the clip from its keyframe decodes again; closed by the application. */
        App garbage = { .abuse = ABUSE_GARBAGE };
        unsigned frames_before = video_frames;
        run(c, &garbage);
        check(!garbage.closed && garbage.keyframe_requests >= 1);
        check(video_frames >= frames_before + clip_n / 2);
        check(last_why == WIRE_WHY_CLOSED);
        printf("ok   garbage VP8: %u keyframe requests, %u frames decoded after it, closed by the application\n",
               garbage.keyframe_requests, video_frames - frames_before);

        /* The session and the display go on: a new screen reaches the viewer; the same guestd. */
        static uint32_t px[256 * 192];
        for (size_t i = 0; i < ELEMENTSOF(px); i++)
                px[i] = (uint32_t) (i * 0x010203u);
        check(harness_scanout(c->h, 256, 192, px) == 0);
        HarnessScreen screen = { .viewer = c->v, .w = 256, .h = 192, .px = px };
        check(harness_run_until(c->h, harness_screen_is, &screen, 10 * SECOND) == 0 && harness_screen_is(&screen));
        check(c->guestd == guestd && kill(guestd, 0) == 0);
        App again = { .abuse = ABUSE_SILENT };
        run(c, &again);
        check(again.open == 1 && again.closed);
        printf("ok   the display goes on, the same guestd, a new stream redirected (%u started)\n", starts);
        for (size_t i = 0; i < clip_n; i++)
                free((void *) clip[i].data);
        return 0;
}
