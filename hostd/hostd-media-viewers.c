/* The desktop's viewers and its guest streams: who can decode what (media-viewers to the guest),
 * media-start to the viewers that can decode a stream (at its open, and to those that join or
 * resume later), a stream's rectangle given back to the display when the video leaves it, the
 * viewers leaving (a stream without viewers is closed) and their keyframe requests. */
#include <errno.h>
#include <stdlib.h>

#include "hostd-media-internal.h"
#include "hostd-viewer.h"

static uint64_t codec_cap(uint8_t codec) {
        switch (codec) {
        case MEDIA_CODEC_OPUS:
                return WIRE_CAP_MEDIA_OPUS;
        case MEDIA_CODEC_VP8:
                return WIRE_CAP_MEDIA_VP8;
        case MEDIA_CODEC_H264:
                return WIRE_CAP_MEDIA_H264;
        default:
                return 0;
        }
}

bool media_viewer_decodes(const Viewer *v, uint8_t codec) {
        uint64_t cap = codec_cap(codec);
        return cap && agent_viewer_has_cap(v, WIRE_CAP_MEDIA | cap);
}

MediaStream *media_find_guest(Media *m, uint32_t guest_id) {
        for (size_t i = 0; i < m->n_streams; i++)
                if (m->streams[i]->guest_id == guest_id)
                        return m->streams[i];
        return NULL;
}

MediaStream *media_find(Media *m, uint32_t id) {
        for (size_t i = 0; i < m->n_streams; i++)
                if (m->streams[i]->id == id)
                        return m->streams[i];
        return NULL;
}

/* ---- media-viewers ---- */

typedef struct CodecScan {
        uint32_t codecs;
        bool any;
} CodecScan;

static bool scan_codecs(Viewer *v, void *userdata) {
        CodecScan *c = userdata;
        if (!agent_viewer_has_cap(v, WIRE_CAP_MEDIA))
                return true;
        uint32_t mine = 0;
        for (uint8_t codec = 0; codec <= MEDIA_CODEC_H264; codec++)
                if (media_viewer_decodes(v, codec))
                        mine |= 1u << codec;
        c->codecs = c->any ? c->codecs & mine : mine;
        c->any = true;
        return true;
}

uint32_t media_viewer_codecs(Media *m) {
        CodecScan c = {};
        if (!m->agent->policy.media)
                return 0;
        agent_foreach_viewer(m->agent, scan_codecs, &c);
        return c.codecs;
}

static void update_viewer_codecs(Media *m, bool always) {
        if (agent_state(m->agent) != AGENT_ACTIVE || !(agent_features(m->agent) & AGENT_CAP_MEDIA))
                return;
        uint32_t codecs = media_viewer_codecs(m);
        if (!always && m->codecs_sent && codecs == m->codecs)
                return;
        m->codecs = codecs;
        m->codecs_sent = true;
        AgentMediaViewers mv = { .codecs = codecs };
        (void) agent_encode_media_viewers(agent_out(m->agent), &mv);
        agent_flush(m->agent);
}

void media_agent_active(Media *m) {
        update_viewer_codecs(m, true);
}

/* ---- toward viewers ---- */

static void send_start(Media *m, MediaStream *s, Viewer *v) {
        WireMediaStart st = { .stream = s->id, .source = 0, .kind = s->kind, .codec = s->codec,
                              .sample_rate = s->sample_rate, .channels = s->channels, .window = s->window,
                              .x = s->rect.x, .y = s->rect.y, .width = (uint32_t) s->rect.w,
                              .height = (uint32_t) s->rect.h, .visible = s->visible };
        (void) wire_encode_media_start(wire_conn_out(v->conn), &st);
        agent_viewer_written(v);
}

static int add_sub(MediaStream *s, Viewer *v) {
        for (size_t i = 0; i < s->n_subs; i++)
                if (s->subs[i].session == v->session)
                        return 0; /* a resumed viewer has it already */
        MediaSub *n = reallocarray(s->subs, s->n_subs + 1, sizeof(MediaSub));
        if (!n)
                return -ENOMEM;
        s->subs = n;
        /* It starts at a keyframe: whatever it gets first must be decodable. */
        s->subs[s->n_subs++] = (MediaSub) { .session = v->session, .need_keyframe = s->kind == MEDIA_KIND_VIDEO };
        return 1;
}

/* late: the stream runs already, so the viewer needs a keyframe before the guest's next one is
 * due (a new stream starts with one anyway). */
static void start_for_viewer(Media *m, MediaStream *s, Viewer *v, bool late) {
        if (!media_viewer_decodes(v, s->codec))
                return;
        int r = add_sub(s, v);
        if (r < 0)
                return;
        if (r == 0) {
                /* A resumed viewer: it has the stream, and waits for a keyframe if it missed some. */
                for (size_t i = 0; i < s->n_subs; i++)
                        if (s->subs[i].session == v->session && s->subs[i].need_keyframe)
                                media_request_keyframe(m, s);
                return;
        }
        send_start(m, s, v);
        if (late && s->kind == MEDIA_KIND_VIDEO)
                media_request_keyframe(m, s);
}

typedef struct StartAll {
        Media *media;
        MediaStream *stream;
} StartAll;

static bool start_one(Viewer *v, void *userdata) {
        StartAll *a = userdata;
        start_for_viewer(a->media, a->stream, v, false);
        return true;
}

void media_start_all(Media *m, MediaStream *s) {
        StartAll all = { m, s };
        agent_foreach_viewer(m->agent, start_one, &all);
}

void media_refresh_rect(Media *m, MediaStream *s) {
        if (s->kind != MEDIA_KIND_VIDEO || rect_is_empty(s->rect))
                return;
        for (size_t i = 0; i < s->n_subs; i++) {
                Viewer *v = agent_find_viewer(m->agent, s->subs[i].session);
                if (!v || !v->console)
                        continue;
                if (region_add(&v->pending, s->rect) < 0)
                        v->need_mode = true;
                viewer_schedule_pump(v);
        }
}

/* ---- viewers ---- */

void media_viewer_joined(Media *m, Viewer *v) {
        for (size_t i = 0; i < m->n_streams; i++)
                start_for_viewer(m, m->streams[i], v, true);
        update_viewer_codecs(m, false);
}

void media_viewer_left(Media *m, Viewer *v) {
        media_budget_forget(m, v->session);
        for (size_t i = m->n_streams; i > 0; i--) {
                MediaStream *s = m->streams[i - 1];
                for (size_t k = 0; k < s->n_subs; k++)
                        if (s->subs[k].session == v->session) {
                                s->subs[k] = s->subs[--s->n_subs];
                                break;
                        }
                if (s->n_subs == 0) {
                        m->counters.closed_no_viewer++;
                        media_stream_close(m, s, MEDIA_WHY_NO_VIEWER, true);
                }
        }
        update_viewer_codecs(m, false);
}

void media_viewer_keyframe_request(Media *m, Viewer *v, uint32_t stream) {
        MediaStream *s = media_find(m, stream);
        if (!s || s->kind != MEDIA_KIND_VIDEO)
                return; /* gone, or not ours (the VM's audio): nothing to ask */
        for (size_t i = 0; i < s->n_subs; i++)
                if (s->subs[i].session == v->session) {
                        m->counters.viewer_keyframe_requests++;
                        media_request_keyframe(m, s);
                        return;
                }
}
