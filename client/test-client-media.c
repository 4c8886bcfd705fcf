/* The client's media channel (client-media.h) fed wire media messages, against references:
 * VP8 and H.264 clips made by tandem-media-gen's code decode through the client as libavcodec
 * decodes the file directly (same frames, pts kept, PSNR >= 45 dB); Opus sample-exact against a
 * direct libopus decode; a lost packet -> one keyframe request (at most one a second) and
 * recovery at the next keyframe; audio loss concealed; hostile messages (unknown streams, bad
 * codecs, garbage, absurd sizes) reset only their stream. Then the same through a session over
 * a memory transport with a scripted hostd (hello caps, keyframe requests on the wire, a bad
 * media-start ends the session), and the headless outputs (viewer-media-out.h) from the
 * library: the .y4m/.wav/.pts files and the stderr lines. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/log.h>
#include <opus/opus.h>

#include "check.h"
#include "client-audio-jitter.h"
#include "client-media.h"
#include "client-session.h"
#include "mem-transport.h"
#include "test-media-clip.h"
#include "viewer-media-out.h"
#include "wire-conn.h"
#include "wire.h"

static char tmpdir[] = "/tmp/test-client-media-XXXXXX";

typedef struct Got {
        RefFrame *frames;
        size_t n_frames, cap_frames;
        int16_t *pcm;
        size_t samples, cap_samples; /* per channel */
        uint8_t channels;
        size_t concealed;
        unsigned starts, stops, geometries;
        uint8_t last_why;
        Buffer out;
        MediaOut *media_out;
} Got;

static Buffer *got_out(void *userdata) {
        return &((Got *) userdata)->out;
}

static void got_start(const ClientMediaStream *st, void *userdata) {
        Got *g = userdata;
        g->starts++;
        if (g->media_out)
                media_out_start(g->media_out, st);
}

static void got_geometry(const ClientMediaStream *st, void *userdata) {
        ((Got *) userdata)->geometries++;
}

static void got_stop(const ClientMediaStream *st, uint8_t why, void *userdata) {
        Got *g = userdata;
        g->stops++;
        g->last_why = why;
        if (g->media_out)
                media_out_stop(g->media_out, st, why);
}

static void got_video(const ClientMediaStream *st, const ClientMediaPicture *pic, void *userdata) {
        Got *g = userdata;
        if (g->media_out)
                media_out_video(g->media_out, st, pic);
        if (g->n_frames == g->cap_frames) {
                g->cap_frames = g->cap_frames ? 2 * g->cap_frames : 64;
                g->frames = realloc(g->frames, g->cap_frames * sizeof(RefFrame));
                check(g->frames);
        }
        RefFrame *r = &g->frames[g->n_frames++];
        r->width = pic->width;
        r->height = pic->height;
        r->pts_us = pic->pts_us;
        size_t ys = (size_t) pic->width * pic->height, cw = (pic->width + 1) / 2, ch = (pic->height + 1) / 2;
        r->yuv = malloc(ys + 2 * cw * ch);
        check(r->yuv);
        uint8_t *dst[3] = { r->yuv, r->yuv + ys, r->yuv + ys + cw * ch };
        size_t w[3] = { pic->width, cw, cw }, h[3] = { pic->height, ch, ch };
        for (int p = 0; p < 3; p++)
                for (size_t y = 0; y < h[p]; y++)
                        memcpy(dst[p] + y * w[p], pic->planes[p] + (ptrdiff_t) y * pic->strides[p], w[p]);
}

static void got_audio(const ClientMediaStream *st, const int16_t *pcm, size_t frames, uint64_t pts_us, bool concealed,
                      void *userdata) {
        Got *g = userdata;
        if (g->media_out)
                media_out_audio(g->media_out, st, pcm, frames, pts_us);
        g->channels = st->out_channels;
        if (g->samples + frames > g->cap_samples) {
                g->cap_samples = (g->samples + frames) * 2;
                g->pcm = realloc(g->pcm, g->cap_samples * st->out_channels * sizeof(int16_t));
                check(g->pcm);
        }
        memcpy(g->pcm + g->samples * st->out_channels, pcm, frames * st->out_channels * sizeof(int16_t));
        g->samples += frames;
        if (concealed)
                g->concealed += frames;
}

static const ClientMediaCallbacks got_callbacks = {
        .out = got_out,
        .on_start = got_start,
        .on_geometry = got_geometry,
        .on_stop = got_stop,
        .on_video = got_video,
        .on_audio = got_audio,
};

static void got_init(Got *g) {
        *g = (Got) {};
        buffer_init(&g->out, 1 << 20);
}

static void got_done(Got *g) {
        ref_frames_free(g->frames, g->n_frames);
        free(g->pcm);
        buffer_done(&g->out);
}

/* The keyframe requests the client wrote for hostd. */
static unsigned keyframe_requests(Got *g, uint32_t stream) {
        unsigned n = 0;
        const uint8_t *p = buffer_data(&g->out);
        size_t len = buffer_len(&g->out), off = 0;
        while (len - off >= WIRE_HEADER_SIZE) {
                WireHeader h;
                WireMessage m;
                wire_header_parse(p + off, &h);
                check(len - off - WIRE_HEADER_SIZE >= h.size);
                check(wire_decode(h.type, h.channel, p + off + WIRE_HEADER_SIZE, h.size, &m) == 0);
                check(m.type == WIRE_TYPE_MEDIA_KEYFRAME_REQUEST);
                if (m.media_keyframe_request.stream == stream)
                        n++;
                off += WIRE_HEADER_SIZE + h.size;
        }
        return n;
}

static WireMessage start_msg(uint32_t stream, uint8_t kind, uint8_t codec, uint32_t rate, uint8_t channels) {
        return (WireMessage) { .type = WIRE_TYPE_MEDIA_START,
                               .media_start = { .stream = stream, .source = WIRE_SOURCE_GUEST, .kind = kind, .codec = codec,
                                                .sample_rate = rate, .channels = channels, .window = 0, .x = 10, .y = 20,
                                                .width = 320, .height = 240, .visible = 1 } };
}

static int packet(ClientMedia *m, uint32_t stream, uint32_t seq, const ClipPacket *p, uint64_t now) {
        WireMessage msg = { .type = WIRE_TYPE_MEDIA_PACKET,
                            .media_packet = { .stream = stream, .seq = seq, .pts_us = p->pts_us, .keyframe = p->keyframe,
                                              .data = p->data, .data_len = p->len } };
        return client_media_handle(m, &msg, now);
}

static void check_frames_equal(const RefFrame *ref, size_t from, const RefFrame *got, size_t n) {
        for (size_t i = 0; i < n; i++) {
                const RefFrame *a = &ref[from + i], *b = &got[i];
                check(a->width == b->width && a->height == b->height);
                check(a->pts_us == b->pts_us);
                check(i420_psnr(a->yuv, b->yuv, a->width, a->height) >= 45.0);
        }
}

static void test_video(MediaGenCodec codec, uint8_t wire_codec, const char *name) {
        Clip clip;
        RefFrame *ref;
        Got g;
        ClientMedia *m;

        clip_make(&(MediaGenOptions) { .codec = codec, .seconds = 2, .width = 320, .height = 240, .fps = 30 }, tmpdir,
                  name, &clip);
        size_t n_ref = clip_reference_video(&clip, codec, &ref);
        check(n_ref == clip.n && n_ref == 60);
        check(clip.packets[0].keyframe && clip.packets[30].keyframe);

        /* Every packet: the same frames as the direct decode. */
        got_init(&g);
        check(client_media_new(NULL, &got_callbacks, &g, &m) == 0);
        WireMessage s = start_msg(7, WIRE_KIND_VIDEO, wire_codec, 0, 0);
        check(client_media_handle(m, &s, 1) == 0);
        check(g.starts == 1);
        for (size_t i = 0; i < clip.n; i++)
                check(packet(m, 7, (uint32_t) i, &clip.packets[i], 1000 + i) == 0);
        check(g.n_frames == n_ref);
        check_frames_equal(ref, 0, g.frames, n_ref);
        const ClientMediaStream *st = client_media_stream(m, 7);
        check(st && st->decoded == n_ref && st->resets == 0 && st->keyframe_requests == 0);
        check(st->video_width == 320 && st->video_height == 240);
        check(keyframe_requests(&g, 7) == 0);
        client_media_reset(m);
        check(g.stops == 1 && g.last_why == WIRE_WHY_CLOSED && client_media_n_streams(m) == 0);
        client_media_free(m);
        check(g.stops == 1);
        got_done(&g);

        /* Packet 5 lost: frames 0-4, one request (the later gaps come within the second), then
         * from the keyframe at 30 the reference's frames again; a second loss a second later asks
         * again. */
        got_init(&g);
        check(client_media_new(NULL, &got_callbacks, &g, &m) == 0);
        check(client_media_handle(m, &s, 1) == 0);
        uint64_t now = 5000000;
        for (size_t i = 0; i < clip.n; i++) {
                if (i == 5 || i == 9)
                        continue;
                if (i == 40)
                        now += CLIENT_MEDIA_KEYFRAME_INTERVAL_USEC;
                if (i == 41)
                        continue;
                check(packet(m, 7, (uint32_t) i, &clip.packets[i], now) == 0);
        }
        check(g.n_frames == 5 + 11);
        check_frames_equal(ref, 0, g.frames, 5);
        check_frames_equal(ref, 30, g.frames + 5, 11);
        check(keyframe_requests(&g, 7) == 2);
        check(client_media_stream(m, 7)->keyframe_requests == 2);

        /* Old or duplicate packets are ignored. */
        size_t frames = g.n_frames;
        check(packet(m, 7, 3, &clip.packets[3], now) == 0);
        check(g.n_frames == frames);
        client_media_free(m);
        got_done(&g);

        ref_frames_free(ref, n_ref);
        clip_done(&clip);
}

/* Paced: packets wait for client_media_pump(), decode the same, and a backlog over the byte cap
 * is dropped as a loss (keyframe request, recovery). */
static void test_paced(void) {
        Clip clip;
        RefFrame *ref;
        Got g;
        ClientMedia *m;
        ClientMediaOptions o = { .paced = true };

        clip_make(&(MediaGenOptions) { .codec = MEDIA_GEN_VP8, .seconds = 1, .width = 160, .height = 120, .fps = 20,
                                       .keyframe_interval = 10 },
                  tmpdir, "paced.ivf", &clip);
        size_t n_ref = clip_reference_video(&clip, MEDIA_GEN_VP8, &ref);
        got_init(&g);
        check(client_media_new(&o, &got_callbacks, &g, &m) == 0);
        WireMessage s = start_msg(1, WIRE_KIND_VIDEO, WIRE_CODEC_VP8, 0, 0);
        check(client_media_handle(m, &s, 1) == 0);
        for (size_t i = 0; i < clip.n; i++)
                check(packet(m, 1, (uint32_t) i, &clip.packets[i], 1) == 0);
        check(g.n_frames == 0 && client_media_pending_bytes(m) > 0);
        check(client_media_pump(m, 2, 0) == 0);
        check(client_media_pending_bytes(m) == 0);
        check(g.n_frames == n_ref);
        check_frames_equal(ref, 0, g.frames, n_ref);

        /* Over the cap: 17 packets of 512 KiB. The backlog goes; the stream asks for a keyframe
         * and decodes from the next one. */
        static uint8_t big[512 * 1024];
        memset(big, 0x5a, sizeof(big));
        ClipPacket bp = { .data = big, .len = sizeof(big) };
        uint32_t seq = (uint32_t) clip.n;
        for (int i = 0; i < 17; i++)
                check(packet(m, 1, seq++, &bp, 3) == 0);
        check(client_media_pending_bytes(m) <= CLIENT_MEDIA_PENDING_BYTES_MAX);
        ClipPacket key = clip.packets[10];
        key.pts_us = 5000000;
        check(packet(m, 1, seq++, &key, 3) == 0);
        check(client_media_pump(m, 3, 0) == 0);
        check(keyframe_requests(&g, 1) == 1);
        check(g.n_frames == n_ref + 1 && g.frames[n_ref].pts_us == 5000000);
        check(client_media_pending_bytes(m) == 0);
        client_media_free(m);
        got_done(&g);
        ref_frames_free(ref, n_ref);
        clip_done(&clip);
}

static void test_opus(uint8_t channels) {
        Clip clip;
        Got g;
        ClientMedia *m;
        int16_t *ref;

        clip_make(&(MediaGenOptions) { .codec = MEDIA_GEN_OPUS, .seconds = 1, .tone_hz = 440, .channels = channels },
                  tmpdir, channels == 1 ? "mono.opus" : "stereo.opus", &clip);
        size_t n_ref = clip_reference_audio(&clip, &ref);
        check(n_ref >= 48000);

        got_init(&g);
        check(client_media_new(NULL, &got_callbacks, &g, &m) == 0);
        WireMessage s = start_msg(0x80000001u, WIRE_KIND_AUDIO, WIRE_CODEC_OPUS, 48000, channels);
        check(client_media_handle(m, &s, 1) == 0);
        for (size_t i = 0; i < clip.n; i++)
                check(packet(m, 0x80000001u, (uint32_t) (100 + i), &clip.packets[i], 2 + i) == 0);
        check(g.samples == n_ref && g.channels == channels && g.concealed == 0);
        check(memcmp(g.pcm, ref, n_ref * channels * sizeof(int16_t)) == 0);
        const ClientMediaStream *st = client_media_stream(m, 0x80000001u);
        check(st->decoded == clip.n && st->audio_samples == n_ref);
        client_media_free(m);
        got_done(&g);

        /* Packet 10 lost: concealed by PLC, the same length in all; what came before is exact. */
        got_init(&g);
        check(client_media_new(NULL, &got_callbacks, &g, &m) == 0);
        check(client_media_handle(m, &s, 1) == 0);
        for (size_t i = 0; i < clip.n; i++)
                if (i != 10)
                        check(packet(m, 0x80000001u, (uint32_t) i, &clip.packets[i], 2 + i) == 0);
        check(g.samples == n_ref && g.concealed == 960);
        check(memcmp(g.pcm, ref, 10 * 960 * channels * sizeof(int16_t)) == 0);
        check(keyframe_requests(&g, 0x80000001u) == 0); /* audio asks for nothing */
        client_media_free(m);
        got_done(&g);

        /* Decoded at another rate and channel count (the mixer's): libopus does it. */
        got_init(&g);
        ClientMediaOptions o = { .audio_rate = 24000, .audio_channels = 2 };
        check(client_media_new(&o, &got_callbacks, &g, &m) == 0);
        check(client_media_handle(m, &s, 1) == 0);
        for (size_t i = 0; i < clip.n; i++)
                check(packet(m, 0x80000001u, (uint32_t) i, &clip.packets[i], 2 + i) == 0);
        check(g.samples == n_ref / 2 && g.channels == 2);
        client_media_free(m);
        got_done(&g);

        free(ref);
        clip_done(&clip);
}

static void test_hostile(void) {
        Clip clip;
        Got g;
        ClientMedia *m;

        clip_make(&(MediaGenOptions) { .codec = MEDIA_GEN_VP8, .seconds = 1, .width = 64, .height = 48, .fps = 10,
                                       .keyframe_interval = 5 },
                  tmpdir, "small.ivf", &clip);
        got_init(&g);
        check(client_media_new(NULL, &got_callbacks, &g, &m) == 0);

        /* Malformed starts are protocol errors. */
        WireMessage bad = start_msg(1, WIRE_KIND_VIDEO, 9, 0, 0);
        check(client_media_handle(m, &bad, 1) == -EBADMSG);
        bad = start_msg(1, WIRE_KIND_AUDIO, WIRE_CODEC_VP8, 48000, 2);
        check(client_media_handle(m, &bad, 1) == -EBADMSG);
        bad = start_msg(1, WIRE_KIND_AUDIO, WIRE_CODEC_OPUS, 44100, 2);
        check(client_media_handle(m, &bad, 1) == -EBADMSG);
        bad = start_msg(1, WIRE_KIND_AUDIO, WIRE_CODEC_OPUS, 48000, 3);
        check(client_media_handle(m, &bad, 1) == -EBADMSG);
        bad = start_msg(1, 5, WIRE_CODEC_VP8, 0, 0);
        check(client_media_handle(m, &bad, 1) == -EBADMSG);
        check(client_media_n_streams(m) == 0 && g.starts == 0);

        /* Absurd geometry is only geometry. */
        WireMessage s = start_msg(1, WIRE_KIND_VIDEO, WIRE_CODEC_VP8, 0, 0);
        s.media_start.x = INT32_MIN;
        s.media_start.width = UINT32_MAX;
        check(client_media_handle(m, &s, 1) == 0);
        WireMessage a = start_msg(2, WIRE_KIND_AUDIO, WIRE_CODEC_OPUS, 48000, 2);
        check(client_media_handle(m, &a, 1) == 0);

        /* Packets of a stream nobody started, geometry and stop of one: ignored. */
        check(packet(m, 99, 0, &clip.packets[0], 1) == 0);
        WireMessage geo = { .type = WIRE_TYPE_MEDIA_GEOMETRY, .media_geometry = { .stream = 99 } };
        check(client_media_handle(m, &geo, 1) == 0);
        WireMessage stop = { .type = WIRE_TYPE_MEDIA_STOP, .media_stop = { .stream = 99 } };
        check(client_media_handle(m, &stop, 1) == 0);
        check(g.n_frames == 0 && g.geometries == 0 && g.stops == 0);

        /* Garbage as a keyframe: the stream resets and asks for a keyframe; a real one decodes. */
        uint8_t junk[300];
        for (size_t i = 0; i < sizeof(junk); i++)
                junk[i] = (uint8_t) (i * 37 + 11);
        ClipPacket j = { .data = junk, .len = sizeof(junk), .keyframe = true };
        check(packet(m, 1, 0, &j, 10) == 0);
        check(client_media_stream(m, 1)->resets == 1);
        check(keyframe_requests(&g, 1) == 1);
        /* A VP8 keyframe header claiming 16383x16383: refused without allocating it. */
        uint8_t huge[64] = { 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0xff, 0x3f, 0xff, 0x3f };
        ClipPacket hp = { .data = huge, .len = sizeof(huge), .keyframe = true };
        check(packet(m, 1, 1, &hp, 20) == 0);
        check(client_media_stream(m, 1)->resets == 2);
        check(g.n_frames == 0);
        check(packet(m, 1, 2, &clip.packets[0], 30) == 0);
        check(g.n_frames == 1);
        /* An empty packet and garbage into the audio stream: it resets, decodes on. */
        ClipPacket empty = { .data = junk, .len = 0 };
        check(packet(m, 2, 0, &empty, 1) == 0);
        check(packet(m, 2, 1, &j, 1) == 0);
        check(client_media_stream(m, 2)->resets >= 1);

        /* Geometry of a known stream; stop with hostd's reason. */
        geo.media_geometry = (WireMediaGeometry) { .stream = 1, .window = 5, .x = 1, .y = 2, .width = 3, .height = 4 };
        check(client_media_handle(m, &geo, 1) == 0);
        const ClientMediaStream *st = client_media_stream(m, 1);
        check(g.geometries == 1 && st->window == 5 && st->width == 3 && !st->visible);
        stop.media_stop = (WireMediaStop) { .stream = 1, .why = WIRE_WHY_MALFORMED };
        check(client_media_handle(m, &stop, 1) == 0);
        check(g.stops == 1 && g.last_why == WIRE_WHY_MALFORMED && !client_media_stream(m, 1));
        /* Its trailing packets are ignored. */
        check(packet(m, 1, 3, &clip.packets[1], 40) == 0);

        /* More streams than the table holds: the extra ones are refused, not an error. */
        for (uint32_t id = 100; id < 100 + CLIENT_MEDIA_STREAMS_MAX + 5; id++) {
                WireMessage x = start_msg(id, WIRE_KIND_VIDEO, WIRE_CODEC_VP8, 0, 0);
                check(client_media_handle(m, &x, 1) == 0);
        }
        check(client_media_n_streams(m) == CLIENT_MEDIA_STREAMS_MAX);
        /* The same id again: a new stream (the old one stops). */
        unsigned stops = g.stops;
        WireMessage again = start_msg(100, WIRE_KIND_VIDEO, WIRE_CODEC_VP8, 0, 0);
        check(client_media_handle(m, &again, 1) == 0);
        check(g.stops == stops + 1 && client_media_n_streams(m) == CLIENT_MEDIA_STREAMS_MAX);

        client_media_free(m);
        got_done(&g);
        clip_done(&clip);
}

/* A/V sync: frames wait for the audio clock of their source; without audio, for the stream's
 * own clock (first frame + the playout delay); a frame whose successor is due is dropped. */
static void test_sync(void) {
        Clip video, audio;
        Got g;
        ClientMedia *m;

        clip_make(&(MediaGenOptions) { .codec = MEDIA_GEN_VP8, .seconds = 1, .width = 64, .height = 48, .fps = 10 },
                  tmpdir, "sync.ivf", &video);
        clip_make(&(MediaGenOptions) { .codec = MEDIA_GEN_OPUS, .seconds = 1, .channels = 2 }, tmpdir, "sync.opus", &audio);

        /* No audio: the stream clock. */
        got_init(&g);
        check(client_media_new(NULL, &got_callbacks, &g, &m) == 0);
        WireMessage s = start_msg(1, WIRE_KIND_VIDEO, WIRE_CODEC_VP8, 0, 0);
        check(client_media_handle(m, &s, 0) == 0);
        uint64_t t0 = 1000000;
        for (size_t i = 0; i < 3; i++)
                check(packet(m, 1, (uint32_t) i, &video.packets[i], t0) == 0);
        check(client_media_present(m, 1, t0) == NULL); /* within the playout delay */
        const ClientMediaPicture *p = client_media_present(m, 1, t0 + CLIENT_MEDIA_PLAYOUT_DELAY_USEC);
        check(p && p->pts_us == video.packets[0].pts_us);
        p = client_media_present(m, 1, t0 + CLIENT_MEDIA_PLAYOUT_DELAY_USEC + 150000);
        check(p && p->pts_us == video.packets[1].pts_us);
        p = client_media_present(m, 1, t0 + CLIENT_MEDIA_PLAYOUT_DELAY_USEC + 300000);
        check(p && p->pts_us == video.packets[2].pts_us);
        check(client_media_stream(m, 1)->dropped_late == 0);
        /* Two due at once: the older is dropped. */
        check(packet(m, 1, 3, &video.packets[3], t0) == 0);
        check(packet(m, 1, 4, &video.packets[4], t0) == 0);
        p = client_media_present(m, 1, t0 + CLIENT_MEDIA_PLAYOUT_DELAY_USEC + 450000);
        check(p && p->pts_us == video.packets[4].pts_us);
        check(client_media_stream(m, 1)->dropped_late == 1);
        client_media_free(m);
        got_done(&g);

        /* With audio of the same source in the mixer: the audio clock decides. */
        got_init(&g);
        ClientMediaOptions o = { .mixer = true, .audio_rate = 48000, .audio_channels = 2 };
        check(client_media_new(&o, &got_callbacks, &g, &m) == 0);
        check(client_media_handle(m, &s, 0) == 0);
        WireMessage as = start_msg(2, WIRE_KIND_AUDIO, WIRE_CODEC_OPUS, 48000, 2);
        check(client_media_handle(m, &as, 0) == 0);
        for (size_t i = 0; i < 10; i++) /* 200 ms of audio */
                check(packet(m, 2, (uint32_t) i, &audio.packets[i], t0) == 0);
        for (size_t i = 0; i < 3; i++) /* frames at 0, 100, 200 ms */
                check(packet(m, 1, (uint32_t) i, &video.packets[i], t0) == 0);
        check(client_media_present(m, 1, t0) == NULL); /* no audio played yet: nothing is due */
        /* 200 ms arrived at once: playout trims it to its target (40-200 ms), so what plays at
         * t0 is the audio a target's length before the end of what came: between 0 and 160 ms. */
        int16_t mix[480 * 2];
        client_media_mix(m, mix, 480, t0); /* 10 ms */
        p = client_media_present(m, 1, t0 + 10000);
        check(p && p->pts_us < video.packets[2].pts_us);
        /* The 200 ms frame waits until the audio clock reaches it: within 200 ms from here, and
         * the frame before shows until then. */
        uint64_t t = t0 + 10000;
        while ((p = client_media_present(m, 1, t)) && p->pts_us < video.packets[2].pts_us) {
                check(p->pts_us == video.packets[0].pts_us || p->pts_us == video.packets[1].pts_us);
                t += 1000;
                check(t < t0 + 210000);
        }
        check(p && p->pts_us == video.packets[2].pts_us);
        check(t > t0 + 10000 + 35000); /* not before the clock got there: at least 40 ms of target */
        client_media_free(m);
        got_done(&g);

        clip_done(&video);
        clip_done(&audio);
}

/* ---- through a session: a scripted hostd on a memory transport ---- */

typedef struct Peer {
        ClientSession *s;
        WireConn *hostd;
        uint64_t hello_caps;
        unsigned keyframe_requests, pongs, closed;
        int close_error;
        Got got;
} Peer;

static void peer_on_closed(ClientSession *s, int error, const char *reason, void *userdata) {
        Peer *p = userdata;
        p->closed++;
        p->close_error = error;
}

static void peer_on_video(const ClientMediaStream *st, const ClientMediaPicture *pic, void *userdata) {
        got_video(st, pic, &((Peer *) userdata)->got);
}

static void peer_on_start(const ClientMediaStream *st, void *userdata) {
        ((Peer *) userdata)->got.starts++;
}

static void peer_on_stop(const ClientMediaStream *st, uint8_t why, void *userdata) {
        ((Peer *) userdata)->got.stops++;
}

static const ClientCallbacks peer_callbacks = {
        .on_closed = peer_on_closed,
        .media = { .on_video = peer_on_video, .on_start = peer_on_start, .on_stop = peer_on_stop },
};

static void peer_run(Peer *p) {
        for (int i = 0; i < 200; i++) {
                WireMessage m;
                int r;
                if (p->closed == 0)
                        (void) client_session_process(p->s);
                while ((r = wire_conn_receive(p->hostd, &m)) > 0) {
                        if (m.type == WIRE_TYPE_HELLO)
                                p->hello_caps = m.hello.caps;
                        else if (m.type == WIRE_TYPE_MEDIA_KEYFRAME_REQUEST)
                                p->keyframe_requests++;
                        else if (m.type == WIRE_TYPE_PONG)
                                p->pongs++;
                }
                r = wire_conn_flush(p->hostd);
                check(r == 0 || r == -EAGAIN);
        }
}

static void peer_setup(Peer *p, uint64_t seed) {
        ByteTransport *a, *b;
        MemTransportOptions mo = { .seed = seed, .max_chunk = seed ? 4093 : 0 };
        const ClientOptions options = { .no_resume = true };
        *p = (Peer) {};
        got_init(&p->got);
        check(mem_transport_pair(&mo, &a, &b) == 0);
        check(client_session_new_transport(a, NULL, 0, &options, &peer_callbacks, p, &p->s) == 0);
        check(wire_conn_new(b, 32u << 20, &p->hostd) == 0);
        wire_conn_set_accept(p->hostd, WIRE_DIR_C2S);
        peer_run(p);
        check(p->hello_caps & WIRE_CAP_MEDIA);
        check(p->hello_caps & WIRE_CAP_MEDIA_OPUS);
        check(p->hello_caps & WIRE_CAP_MEDIA_VP8);
        check(!(p->hello_caps & WIRE_CAP_MICROPHONE)); /* no source configured */
        WireWelcome w = { .version = 1, .caps = 0x1f | WIRE_CAP_MEDIA, .session = 9, .desktop = "d", .desktop_len = 1,
                          .frames_in_flight = 2 };
        check(wire_encode_welcome(wire_conn_out(p->hostd), &w) == 0);
        peer_run(p);
}

static void peer_free(Peer *p) {
        client_session_free(p->s);
        wire_conn_free(p->hostd);
        got_done(&p->got);
}

static void test_session(uint64_t seed) {
        Clip clip;
        Peer p;

        clip_make(&(MediaGenOptions) { .codec = MEDIA_GEN_VP8, .seconds = 1, .width = 64, .height = 48, .fps = 10,
                                       .keyframe_interval = 5 },
                  tmpdir, "session.ivf", &clip);
        peer_setup(&p, seed);
        Buffer *out = wire_conn_out(p.hostd);
        WireMediaStart s = start_msg(3, WIRE_KIND_VIDEO, WIRE_CODEC_VP8, 0, 0).media_start;
        check(wire_encode_media_start(out, &s) == 0);
        for (size_t i = 0; i < clip.n; i++) {
                if (i == 2)
                        continue; /* lost: a keyframe request goes to hostd */
                WireMediaPacket mp = { .stream = 3, .seq = (uint32_t) i, .pts_us = clip.packets[i].pts_us,
                                       .keyframe = clip.packets[i].keyframe, .data = clip.packets[i].data,
                                       .data_len = clip.packets[i].len };
                check(wire_encode_media_packet(out, &mp) == 0);
        }
        /* Garbage for a stream that does not exist, and for ours: the session goes on. */
        uint8_t junk[100] = { 1, 2, 3 };
        check(wire_encode_media_packet(out, &(WireMediaPacket) { .stream = 77, .data = junk, .data_len = 100 }) == 0);
        check(wire_encode_media_packet(out, &(WireMediaPacket) { .stream = 3, .seq = 10, .keyframe = 1, .data = junk,
                                                                  .data_len = 100 }) == 0);
        check(wire_encode_ping(out, &(WirePing) { .nonce = 1 }) == 0);
        peer_run(&p);
        check(p.got.starts == 1);
        check(p.got.n_frames == 2 + 5); /* 0, 1, then from the keyframe at 5 */
        check(p.keyframe_requests >= 1);
        check(p.pongs == 1 && p.closed == 0);
        check(client_media_stream(client_session_media(p.s), 3)->resets == 1);

        /* A malformed media-start is a protocol error: the session ends, its streams stop. */
        WireMediaStart bad = start_msg(4, WIRE_KIND_VIDEO, 42, 0, 0).media_start;
        check(wire_encode_media_start(out, &bad) == 0);
        peer_run(&p);
        check(p.closed == 1 && p.close_error == -EBADMSG);
        check(p.got.stops == 1);
        peer_free(&p);
        clip_done(&clip);
}

/* ---- the headless outputs (viewer-media-out.h), from the library ---- */

static char *slurp(const char *path, size_t *ret_len) {
        FILE *f = fopen(path, "re");
        check(f);
        check(fseek(f, 0, SEEK_END) == 0);
        long n = ftell(f);
        check(n >= 0);
        rewind(f);
        char *b = malloc((size_t) n + 1);
        check(b);
        check(fread(b, 1, (size_t) n, f) == (size_t) n);
        b[n] = 0;
        fclose(f);
        *ret_len = (size_t) n;
        return b;
}

static size_t count_lines(const char *s) {
        size_t n = 0;
        for (; *s; s++)
                n += *s == '\n';
        return n;
}

static void test_media_out(void) {
        Clip video, audio;
        RefFrame *ref;
        int16_t *ref_pcm;
        Got g;
        ClientMedia *m;
        char dir[4200], path[4300], *log = NULL;
        size_t log_len = 0, len;

        clip_make(&(MediaGenOptions) { .codec = MEDIA_GEN_VP8, .seconds = 1, .width = 96, .height = 64, .fps = 10 },
                  tmpdir, "out.ivf", &video);
        clip_make(&(MediaGenOptions) { .codec = MEDIA_GEN_OPUS, .seconds = 1, .channels = 2 }, tmpdir, "out.opus", &audio);
        size_t n_ref = clip_reference_video(&video, MEDIA_GEN_VP8, &ref);
        size_t n_pcm = clip_reference_audio(&audio, &ref_pcm);
        snprintf(dir, sizeof(dir), "%s/media-out", tmpdir);
        check(mkdir(dir, 0755) == 0);

        FILE *logf = open_memstream(&log, &log_len);
        check(logf);
        got_init(&g);
        check(media_out_new(dir, logf, &g.media_out) == 0);
        check(client_media_new(NULL, &got_callbacks, &g, &m) == 0);
        WireMessage vs = start_msg(5, WIRE_KIND_VIDEO, WIRE_CODEC_VP8, 0, 0);
        WireMessage as = start_msg(0x80000000u, WIRE_KIND_AUDIO, WIRE_CODEC_OPUS, 48000, 2);
        as.media_start.source = WIRE_SOURCE_VM;
        as.media_start.width = as.media_start.height = 0;
        check(client_media_handle(m, &vs, 1) == 0);
        check(client_media_handle(m, &as, 1) == 0);
        for (size_t i = 0; i < video.n; i++)
                check(packet(m, 5, (uint32_t) i, &video.packets[i], 1) == 0);
        for (size_t i = 0; i < audio.n; i++)
                check(packet(m, 0x80000000u, (uint32_t) i, &audio.packets[i], 1) == 0);
        const ScriptMediaTotals *t = media_out_totals(g.media_out);
        check(t->video_frames == n_ref && t->started == 2 && t->running == 2);
        check(t->audio_ms == n_pcm * 1000 / 48000);
        WireMessage stop = { .type = WIRE_TYPE_MEDIA_STOP, .media_stop = { .stream = 5, .why = WIRE_WHY_CLOSED } };
        check(client_media_handle(m, &stop, 1) == 0);
        client_media_reset(m); /* stops the audio stream (as when the session ends) */
        client_media_free(m);
        check(t->running == 0);
        media_out_free(g.media_out);
        g.media_out = NULL;
        fclose(logf);

        char want[512];
        snprintf(want, sizeof(want),
                 "media: start 5 source=guest kind=video codec=vp8 320x240\n"
                 "media: start 2147483648 source=vm kind=audio codec=opus 0x0 rate=48000 channels=2\n"
                 "media: stop 5 why=closed frames=%zu\n"
                 "media: stop 2147483648 why=closed frames=%zu\n",
                 n_ref, audio.n);
        check(strcmp(log, want) == 0);

        /* The y4m: a header, then FRAME and the planes, each frame as the reference decoded it. */
        snprintf(path, sizeof(path), "%s/stream-5.y4m", dir);
        char *y4m = slurp(path, &len);
        const char *hdr = "YUV4MPEG2 W96 H64 F30:1 Ip A1:1 C420jpeg\n";
        size_t fsize = 96 * 64 * 3 / 2;
        check(strncmp(y4m, hdr, strlen(hdr)) == 0);
        check(len == strlen(hdr) + n_ref * (6 + fsize));
        for (size_t i = 0; i < n_ref; i++) {
                const char *f = y4m + strlen(hdr) + i * (6 + fsize);
                check(memcmp(f, "FRAME\n", 6) == 0);
                check(memcmp(f + 6, ref[i].yuv, fsize) == 0);
        }
        free(y4m);
        snprintf(path, sizeof(path), "%s/stream-5.pts", dir);
        char *pts = slurp(path, &len);
        check(count_lines(pts) == n_ref);
        char *line = pts;
        for (size_t i = 0; i < n_ref; i++) {
                char *end;
                check(strtoull(line, &end, 10) == ref[i].pts_us && *end == '\n');
                line = end + 1;
        }
        free(pts);

        /* The wav: 44 bytes of header with the right sizes, then the samples libopus gives. */
        snprintf(path, sizeof(path), "%s/stream-2147483648.wav", dir);
        char *wav = slurp(path, &len);
        check(len == 44 + n_pcm * 4);
        check(memcmp(wav, "RIFF", 4) == 0 && memcmp(wav + 8, "WAVEfmt ", 8) == 0 && memcmp(wav + 36, "data", 4) == 0);
        uint32_t data_len = (uint8_t) wav[40] | (uint8_t) wav[41] << 8 | (uint32_t) (uint8_t) wav[42] << 16 |
                            (uint32_t) (uint8_t) wav[43] << 24;
        check(data_len == n_pcm * 4);
        check(memcmp(wav + 44, ref_pcm, n_pcm * 4) == 0); /* s16le on this (little-endian) machine */
        free(wav);
        snprintf(path, sizeof(path), "%s/stream-2147483648.pts", dir);
        pts = slurp(path, &len);
        check(count_lines(pts) == audio.n);
        free(pts);

        free(log);
        got_done(&g);
        free(ref_pcm);
        ref_frames_free(ref, n_ref);
        clip_done(&video);
        clip_done(&audio);
}

/* The jitter buffer: plays once it holds its target, rebuffers after running dry, adapts the
 * target to arrival jitter within 40-200 ms, trims a burst, keeps the audio clock. */
static void test_jitter(void) {
        AudioJitter *j;
        int16_t in[960 * 2], out[4800 * 2];
        uint64_t clock;
        for (size_t i = 0; i < 960 * 2; i++)
                in[i] = (int16_t) (i % 100);
        check(audio_jitter_new(48000, 2, &j) == 0);
        check(audio_jitter_target_usec(j) == AUDIO_JITTER_TARGET_MIN_USEC);
        audio_jitter_push(j, in, 960, 0, 1000000);
        memset(out, 0, sizeof(out));
        check(audio_jitter_mix(j, out, 480, 1000000) == 0); /* 20 ms < the 40 ms target */
        check(!audio_jitter_clock(j, 1000000, &clock));
        audio_jitter_push(j, in, 960, 20000, 1020000);
        check(audio_jitter_mix(j, out, 480, 1020000) == 480);
        check(out[0] == 0 && out[1] == 1 && out[2] == 2); /* the samples, in order */
        check(audio_jitter_clock(j, 1025000, &clock) && clock == 5000);
        /* Ran dry: what there was, then nothing until the target is back. */
        check(audio_jitter_mix(j, out, 4800, 1030000) == 1440);
        check(audio_jitter_underruns(j) == 1 && !audio_jitter_clock(j, 1030000, &clock));
        audio_jitter_push(j, in, 960, 40000, 1060000);
        check(audio_jitter_mix(j, out, 480, 1060000) == 0);
        /* Arrivals 0 and 60 ms late by turns: the target grows, not past 200 ms. */
        for (unsigned i = 0; i < 200; i++)
                audio_jitter_push(j, in, 960, 60000 + i * 20000, 1080000 + i * 20000 + (i % 2) * 60000);
        uint64_t target = audio_jitter_target_usec(j);
        check(target > 100000 && target <= AUDIO_JITTER_TARGET_MAX_USEC);
        /* 1 s is the most held: a burst past the target + 80 ms is cut to the target. */
        check(audio_jitter_buffered(j) == 48000);
        check(audio_jitter_mix(j, out, 480, 5000000) == 480);
        check(audio_jitter_buffered(j) == (size_t) (target * 48000 / 1000000) - 480);
        audio_jitter_free(j);
}

/* tandem-media-gen: the same arguments, the same bytes. */
static void test_gen_deterministic(void) {
        static const MediaGenCodec codecs[] = { MEDIA_GEN_VP8, MEDIA_GEN_OPUS, MEDIA_GEN_H264 };
        for (size_t c = 0; c < 3; c++) {
                char a[4200], b[4200];
                size_t la, lb;
                MediaGenOptions o = { .codec = codecs[c], .seconds = 0.5, .width = 64, .height = 48 };
                snprintf(a, sizeof(a), "%s/det-a", tmpdir);
                snprintf(b, sizeof(b), "%s/det-b", tmpdir);
                if (media_gen_write(&o, a) == -ENOENT)
                        continue; /* no such encoder here */
                check(media_gen_write(&o, b) == 0);
                char *x = slurp(a, &la), *y = slurp(b, &lb);
                check(la == lb && la > 0 && memcmp(x, y, la) == 0);
                free(x);
                free(y);
        }
        MediaGenOptions bad = { .codec = MEDIA_GEN_VP8, .width = 63, .height = 48 };
        check(media_gen_options_finish(&bad) == -EINVAL);
}

/* client_media_mix() on another thread (SDL's audio thread) while streams start, play and stop
 * on this one: nothing freed under it (ASan), the mix keeps coming. */
typedef struct Mixer {
        ClientMedia *m;
        volatile bool stop;
        unsigned long mixes, loud;
} Mixer;

static void *mixer_thread(void *userdata) {
        Mixer *x = userdata;
        int16_t out[480 * 2];
        for (uint64_t t = 1; !x->stop; t += 10000) {
                client_media_mix(x->m, out, 480, t);
                x->mixes++;
                x->loud += out[100] != 0;
        }
        return NULL;
}

static void test_mixer_thread(void) {
        Clip audio;
        Got g;
        Mixer x = {};
        pthread_t th;
        ClientMediaOptions o = { .mixer = true, .audio_rate = 48000, .audio_channels = 2 };

        clip_make(&(MediaGenOptions) { .codec = MEDIA_GEN_OPUS, .seconds = 1, .channels = 2 }, tmpdir, "mixer.opus", &audio);
        got_init(&g);
        check(client_media_new(&o, &got_callbacks, &g, &x.m) == 0);
        check(pthread_create(&th, NULL, mixer_thread, &x) == 0);
        for (uint32_t round = 0; round < 40; round++) {
                for (uint32_t id = 1; id <= 3; id++) {
                        WireMessage s = start_msg(round * 10 + id, WIRE_KIND_AUDIO, WIRE_CODEC_OPUS, 48000, 2);
                        check(client_media_handle(x.m, &s, 1) == 0);
                }
                for (size_t i = 0; i < audio.n; i++)
                        for (uint32_t id = 1; id <= 3; id++)
                                check(packet(x.m, round * 10 + id, (uint32_t) i, &audio.packets[i], 1 + i * 20000) == 0);
                client_media_reset(x.m);
        }
        x.stop = true;
        check(pthread_join(th, NULL) == 0);
        check(x.mixes > 0);
        client_media_free(x.m);
        got_done(&g);
        clip_done(&audio);
}

static unsigned mic_ons, mic_offs;

static void got_mic(bool on, uint32_t rate, uint8_t channels, void *userdata) {
        if (on) {
                check(rate == 48000 && channels == 1);
                mic_ons++;
        } else
                mic_offs++;
}

/* The microphone: mic-start -> 20 ms Opus mic-packets in order with their pts, which decode to
 * what went in (a tone: the same energy, give or take the codec); mic-stop ends it. */
static void test_mic(void) {
        Got g;
        ClientMedia *m;
        ClientMediaCallbacks cb = got_callbacks;
        cb.on_mic = got_mic;
        int16_t tone[48000];
        double energy_in = 0, energy_out = 0;
        for (size_t i = 0; i < 48000; i++) {
                tone[i] = (int16_t) (8000 * sin(2 * M_PI * 440 * (double) i / 48000));
                energy_in += (double) tone[i] * tone[i];
        }

        /* No source configured: mic-start is taken, nothing is asked of the front end. */
        got_init(&g);
        check(client_media_new(NULL, &cb, &g, &m) == 0);
        check(!(client_media_caps(NULL) & WIRE_CAP_MICROPHONE));
        WireMessage start = { .type = WIRE_TYPE_MIC_START,
                              .mic_start = { .stream = 0x80000005u, .codec = WIRE_CODEC_OPUS, .sample_rate = 48000, .channels = 1 } };
        check(client_media_handle(m, &start, 1) == 0);
        check(mic_ons == 0 && !client_media_mic_active(m));
        check(client_media_mic_push(m, tone, 960, 1) == -ENOTCONN);
        client_media_free(m);
        got_done(&g);

        ClientMediaOptions o = { .microphone = true };
        check(client_media_caps(&o) & WIRE_CAP_MICROPHONE);
        got_init(&g);
        check(client_media_new(&o, &cb, &g, &m) == 0);
        WireMessage bad = start;
        bad.mic_start.codec = WIRE_CODEC_VP8;
        check(client_media_handle(m, &bad, 1) == -EBADMSG);
        bad = start;
        bad.mic_start.sample_rate = 44100;
        check(client_media_handle(m, &bad, 1) == -EBADMSG);
        check(client_media_handle(m, &start, 1) == 0);
        check(mic_ons == 1 && client_media_mic_active(m));
        for (size_t off = 0; off < 48000; off += 1000) /* pieces that are not 20 ms */
                check(client_media_mic_push(m, tone + off, 1000, 2) == 0);

        int err;
        OpusDecoder *d = opus_decoder_create(48000, 1, &err);
        check(d);
        int16_t pcm[5760];
        unsigned n = 0;
        size_t decoded = 0;
        const uint8_t *p = buffer_data(&g.out);
        size_t len = buffer_len(&g.out), off = 0;
        while (len - off >= WIRE_HEADER_SIZE) {
                WireHeader h;
                WireMessage msg;
                wire_header_parse(p + off, &h);
                check(wire_decode(h.type, h.channel, p + off + WIRE_HEADER_SIZE, h.size, &msg) == 0);
                check(msg.type == WIRE_TYPE_MIC_PACKET);
                check(msg.mic_packet.stream == 0x80000005u && msg.mic_packet.seq == n &&
                      msg.mic_packet.pts_us == (uint64_t) n * 20000);
                int k = opus_decode(d, msg.mic_packet.data, (opus_int32) msg.mic_packet.data_len, pcm, 5760, 0);
                check(k == 960);
                for (int i = 0; i < k; i++)
                        energy_out += (double) pcm[i] * pcm[i];
                decoded += (size_t) k;
                n++;
                off += WIRE_HEADER_SIZE + h.size;
        }
        opus_decoder_destroy(d);
        check(n == 50 && decoded == 48000);
        check(energy_out > 0.7 * energy_in && energy_out < 1.3 * energy_in);

        WireMessage stop = { .type = WIRE_TYPE_MIC_STOP, .mic_stop = { .stream = 0x80000005u } };
        check(client_media_handle(m, &stop, 3) == 0);
        check(mic_offs == 1 && !client_media_mic_active(m));
        check(client_media_mic_push(m, tone, 960, 4) == -ENOTCONN);
        client_media_free(m);
        got_done(&g);
}

static void test_codec_limit(void) {
        uint32_t bits;
        check(client_media_parse_codecs("opus,vp8", 8, &bits) == 0);
        check(bits == (CLIENT_MEDIA_CODEC_BIT(WIRE_CODEC_OPUS) | CLIENT_MEDIA_CODEC_BIT(WIRE_CODEC_VP8)));
        check(client_media_parse_codecs("h264", 4, &bits) == 0 && bits == CLIENT_MEDIA_CODEC_BIT(WIRE_CODEC_H264));
        check(client_media_parse_codecs("opus,vp8", 4, &bits) == 0 && bits == CLIENT_MEDIA_CODEC_BIT(WIRE_CODEC_OPUS));
        static const char *const bad[] = { "", ",", "opus,", ",vp8", "vp9", "opus,,vp8", "OPUS", "opusx" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                check(client_media_parse_codecs(bad[i], strlen(bad[i]), &bits) == -EINVAL);

        /* Limited: the hello offers only those (and media itself); unlimited: all it decodes. */
        ClientMediaOptions o = { .codecs = CLIENT_MEDIA_CODEC_BIT(WIRE_CODEC_OPUS) };
        uint64_t caps = client_media_caps(&o);
        check((caps & WIRE_CAP_MEDIA) && (caps & WIRE_CAP_MEDIA_OPUS));
        check(!(caps & (WIRE_CAP_MEDIA_VP8 | WIRE_CAP_MEDIA_H264)));
        o.codecs = CLIENT_MEDIA_CODEC_BIT(WIRE_CODEC_VP8);
        caps = client_media_caps(&o);
        check((caps & WIRE_CAP_MEDIA_VP8) && !(caps & (WIRE_CAP_MEDIA_OPUS | WIRE_CAP_MEDIA_H264)));
        o.codecs = 0;
        check(client_media_caps(&o) == client_media_caps(NULL));
        check(client_media_caps(NULL) & WIRE_CAP_MEDIA_OPUS);
}

static void cleanup(void) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        (void) !system(cmd);
}

int main(void) {
        av_log_set_level(AV_LOG_QUIET);
        check(mkdtemp(tmpdir));
        atexit(cleanup);

        test_video(MEDIA_GEN_VP8, WIRE_CODEC_VP8, "test.ivf");
        if (client_media_caps(NULL) & WIRE_CAP_MEDIA_H264)
                test_video(MEDIA_GEN_H264, WIRE_CODEC_H264, "test.h264");
        else
                fprintf(stderr, "no H.264 decoder here: skipping the H.264 clip\n");
        test_paced();
        test_opus(2);
        test_opus(1);
        test_hostile();
        test_sync();
        for (uint64_t seed = 0; seed < 3; seed++)
                test_session(seed);
        test_media_out();
        test_jitter();
        test_mixer_thread();
        test_mic();
        test_codec_limit();
        test_gen_deterministic();
        return 0;
}
