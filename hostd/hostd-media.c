/* The guest media streams of one desktop: open answers, the stream table and its ids, who gets
 * each stream (media-start now and to viewers that join later), geometry, the ends (closed by the
 * guest, a cap, the agent lost, the last viewer gone), and media-viewers to the guest. */
#include "hostd-media.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hostd-manager.h"
#include "hostd-media-internal.h"
#include "hostd-viewer.h"
#include "log.h"

static const char *const why_names[] = { "closed", "limit", "malformed", "agent-lost", "policy", "no-viewer",
                                         "codec-unsupported" };

const MediaConfig *media_config(Media *m) {
        return &m->agent->manager->config.media;
}

uint64_t media_now(Media *m) {
        return agent_now(m->agent);
}

bool media_guest_stream_open(Media *m, uint32_t guest_id) {
        return media_find_guest(m, guest_id) != NULL;
}

unsigned media_n_streams(const Media *m) {
        return (unsigned) m->n_streams;
}

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

/* ---- toward the guest ---- */

static void send_open_reply(Media *m, uint32_t guest_id, uint8_t answer, uint8_t why) {
        AgentMediaOpenReply r = { .stream = guest_id, .answer = answer, .why = why };
        (void) agent_encode_media_open_reply(agent_out(m->agent), &r);
        agent_flush(m->agent);
}

static void send_close(Media *m, uint32_t guest_id, uint8_t why) {
        AgentMediaClose c = { .stream = guest_id, .why = why };
        (void) agent_encode_media_close(agent_out(m->agent), &c);
        agent_flush(m->agent);
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

static void stream_free(MediaStream *s) {
        if (!s)
                return;
        free(s->subs);
        free(s);
}

void media_stream_close(Media *m, MediaStream *s, uint8_t why, bool tell_guest) {
        if (s->visible)
                media_refresh_rect(m, s);
        for (size_t i = 0; i < s->n_subs; i++) {
                Viewer *v = agent_find_viewer(m->agent, s->subs[i].session);
                if (!v)
                        continue;
                /* media-stop has the first five whys; the others (no-viewer) are a plain close. */
                WireMediaStop st = { .stream = s->id, .why = why <= MEDIA_WHY_POLICY ? why : MEDIA_WHY_CLOSED };
                (void) wire_encode_media_stop(wire_conn_out(v->conn), &st);
                agent_viewer_written(v);
        }
        if (tell_guest)
                send_close(m, s->guest_id, why);
        log_debug("%s: media stream %" PRIu32 " (guest %" PRIu32 ") stopped: %s", agent_desktop(m->agent), s->id,
                  s->guest_id, why < ELEMENTSOF(why_names) ? why_names[why] : "?");
        for (size_t i = 0; i < m->n_streams; i++)
                if (m->streams[i] == s) {
                        m->streams[i] = m->streams[--m->n_streams];
                        break;
                }
        stream_free(s);
}

void media_stream_violation(Media *m, MediaStream *s, uint8_t why, const char *what) {
        bool *logged = why == MEDIA_WHY_MALFORMED ? &m->logged_malformed : &m->logged_limit;
        if (!*logged)
                log_warning("%s: guest media stream %" PRIu32 " closed (%s): %s%s", agent_desktop(m->agent), s->guest_id,
                            why_names[why], what, " (further ones of this channel logged at debug)");
        else
                log_debug("%s: guest media stream %" PRIu32 " closed (%s): %s", agent_desktop(m->agent), s->guest_id,
                          why_names[why], what);
        *logged = true;
        if (why == MEDIA_WHY_MALFORMED)
                m->counters.malformed++;
        media_stream_close(m, s, why, true);
}

/* ---- the agent's messages ---- */

/* The next free id, 1..MEDIA_STREAM_ID_MAX, wrapping. */
static uint32_t next_stream_id(Media *m) {
        for (;;) {
                if (m->next_id == 0 || m->next_id > MEDIA_STREAM_ID_MAX)
                        m->next_id = 1;
                uint32_t id = m->next_id++;
                if (!media_find(m, id))
                        return id;
        }
}

typedef struct OpenScan {
        uint8_t codec;
        bool media_viewer, decoder;
} OpenScan;

static bool scan_open(Viewer *v, void *userdata) {
        OpenScan *o = userdata;
        if (agent_viewer_has_cap(v, WIRE_CAP_MEDIA))
                o->media_viewer = true;
        if (media_viewer_decodes(v, o->codec))
                o->decoder = true;
        return true;
}

static void refuse(Media *m, uint32_t guest_id, uint8_t why, uint64_t *counter) {
        (*counter)++;
        send_open_reply(m, guest_id, MEDIA_ANSWER_LOCAL, why);
}

static void handle_open(Media *m, const AgentMediaOpen *o) {
        const MediaConfig *c = media_config(m);
        const char *what;
        m->counters.opens++;
        if (media_check_open(o, &what) < 0 || media_find_guest(m, o->stream)) {
                if (!m->logged_malformed)
                        log_warning("%s: guest media-open %" PRIu32 " refused: %s", agent_desktop(m->agent), o->stream,
                                    media_find_guest(m, o->stream) ? "a stream of this id is open" : what);
                m->logged_malformed = true;
                refuse(m, o->stream, MEDIA_WHY_MALFORMED, &m->counters.refused_malformed);
                return;
        }
        if (!m->agent->policy.media) {
                refuse(m, o->stream, MEDIA_WHY_POLICY, &m->counters.refused_policy);
                return;
        }
        OpenScan scan = { .codec = o->codec };
        agent_foreach_viewer(m->agent, scan_open, &scan);
        if (!scan.media_viewer) {
                refuse(m, o->stream, MEDIA_WHY_NO_VIEWER, &m->counters.refused_no_viewer);
                return;
        }
        if (!scan.decoder) {
                refuse(m, o->stream, MEDIA_WHY_CODEC_UNSUPPORTED, &m->counters.refused_codec);
                return;
        }
        if (m->n_streams >= c->max_streams) {
                m->counters.cap_streams++;
                refuse(m, o->stream, MEDIA_WHY_LIMIT, &m->counters.refused_limit);
                return;
        }
        MediaStream *s = calloc(1, sizeof(MediaStream));
        MediaStream **n = s ? reallocarray(m->streams, m->n_streams + 1, sizeof(MediaStream *)) : NULL;
        if (!n) {
                free(s);
                refuse(m, o->stream, MEDIA_WHY_LIMIT, &m->counters.refused_limit);
                return;
        }
        m->streams = n;
        uint64_t now = media_now(m);
        *s = (MediaStream) { .id = next_stream_id(m), .guest_id = o->stream, .kind = o->kind, .codec = o->codec,
                             .sample_rate = o->sample_rate, .channels = o->channels, .window = o->window,
                             .rect = { o->x, o->y, (int32_t) o->width, (int32_t) o->height },
                             .visible = o->visible != 0, .opened_usec = now, .last_usec = now };
        double bytes_rate = (double) c->stream_bitrate / 8.0;
        double max_packet = o->kind == MEDIA_KIND_VIDEO ? c->max_video_packet : c->max_audio_packet;
        /* One second's worth at once, and never less than the largest packet allowed. */
        bucket_init(&s->bytes, bytes_rate, MAX(bytes_rate, max_packet), now);
        double pps = o->kind == MEDIA_KIND_VIDEO ? c->video_packet_rate : c->audio_packet_rate;
        bucket_init(&s->packets, pps, pps, now);
        m->streams[m->n_streams++] = s;
        m->counters.redirected++;
        send_open_reply(m, o->stream, MEDIA_ANSWER_REDIRECT, MEDIA_WHY_CLOSED);
        StartAll all = { m, s };
        agent_foreach_viewer(m->agent, start_one, &all);
        log_debug("%s: guest media stream %" PRIu32 " redirected as %" PRIu32, agent_desktop(m->agent), s->guest_id,
                  s->id);
}

static void handle_geometry(Media *m, const AgentMediaGeometry *g) {
        MediaStream *s = media_find_guest(m, g->stream);
        const char *what;
        if (!s) {
                m->counters.unknown_stream++;
                return;
        }
        if (media_check_geometry(g->window, g->x, g->y, g->width, g->height, g->visible, &what) < 0) {
                media_stream_violation(m, s, MEDIA_WHY_MALFORMED, what);
                return;
        }
        /* Where the video was is the framebuffer's again (or the same video's if it is still
         * there: the mask takes it out once more). */
        if (s->visible)
                media_refresh_rect(m, s);
        s->window = g->window;
        s->rect = (Rect) { g->x, g->y, (int32_t) g->width, (int32_t) g->height };
        s->visible = g->visible != 0;
        s->last_usec = media_now(m);
        for (size_t i = 0; i < s->n_subs; i++) {
                Viewer *v = agent_find_viewer(m->agent, s->subs[i].session);
                if (!v)
                        continue;
                WireMediaGeometry wg = { .stream = s->id, .window = g->window, .x = g->x, .y = g->y,
                                         .width = g->width, .height = g->height, .visible = s->visible };
                (void) wire_encode_media_geometry(wire_conn_out(v->conn), &wg);
                agent_viewer_written(v);
        }
}

static void handle_packet(Media *m, const AgentMediaPacket *p) {
        MediaStream *s = media_find_guest(m, p->stream);
        const char *what;
        if (!s) {
                /* Closed by us a moment ago, as the guest sent it: not its fault. */
                m->counters.unknown_stream++;
                return;
        }
        int r = media_check_packet(m, s, p, &what);
        if (r < 0) {
                media_stream_violation(m, s, r == -EBADMSG ? MEDIA_WHY_MALFORMED : MEDIA_WHY_LIMIT, what);
                return;
        }
        (void) media_relay_packet(m, s, p);
        if (s->n_subs == 0) {
                /* Its viewers went without our hearing of it (freed with their server). */
                m->counters.closed_no_viewer++;
                media_stream_close(m, s, MEDIA_WHY_NO_VIEWER, true);
        }
}

int media_handle(Media *m, const AgentMessage *msg) {
        switch (msg->type) {
        case AGENT_TYPE_MEDIA_OPEN:
                handle_open(m, &msg->media_open);
                break;
        case AGENT_TYPE_MEDIA_PACKET:
                handle_packet(m, &msg->media_packet);
                break;
        case AGENT_TYPE_MEDIA_GEOMETRY:
                handle_geometry(m, &msg->media_geometry);
                break;
        case AGENT_TYPE_MEDIA_CLOSE: {
                MediaStream *s = media_find_guest(m, msg->media_close.stream);
                if (s)
                        media_stream_close(m, s, MEDIA_WHY_CLOSED, false);
                else
                        m->counters.unknown_stream++;
                break;
        }
        default:
                break; /* hostd-to-guest types from the guest: nothing to do */
        }
        return 0;
}

void media_agent_lost(Media *m) {
        while (m->n_streams > 0)
                media_stream_close(m, m->streams[m->n_streams - 1], MEDIA_WHY_AGENT_LOST, false);
        m->codecs_sent = false;
        m->logged_limit = m->logged_malformed = false;
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

/* ---- the tick: idle streams, coalesced keyframe requests ---- */

static int on_tick(sd_event_source *es, uint64_t usec, void *userdata) {
        Media *m = userdata;
        uint64_t now = media_now(m);
        uint64_t idle = (uint64_t) media_config(m)->idle_seconds * 1000000ULL;
        for (size_t i = m->n_streams; i > 0; i--) {
                MediaStream *s = m->streams[i - 1];
                if (now - s->last_usec >= idle) {
                        m->counters.cap_idle++;
                        media_stream_violation(m, s, MEDIA_WHY_LIMIT, "silent for too long");
                }
        }
        media_keyframe_tick(m);
        sd_event_source_set_time(es, now + MEDIA_TICK_USEC);
        return 0;
}

int media_new(Agent *a, Media **ret) {
        Media *m = calloc(1, sizeof(Media));
        if (!m)
                return -ENOMEM;
        m->agent = a;
        m->next_id = 1;
        const MediaConfig *c = &a->manager->config.media;
        bucket_init(&m->desktop_bytes, c->desktop_bitrate / 8.0, MAX(c->desktop_bitrate / 8.0, (double) c->max_video_packet),
                    agent_now(a));
        int r = sd_event_add_time(a->manager->event, &m->tick, CLOCK_MONOTONIC, agent_now(a) + MEDIA_TICK_USEC, 0,
                                  on_tick, m);
        if (r < 0) {
                free(m);
                return r;
        }
        (void) sd_event_source_set_enabled(m->tick, SD_EVENT_ON);
        *ret = m;
        return 0;
}

Media *media_free(Media *m) {
        if (!m)
                return NULL;
        sd_event_source_disable_unref(m->tick);
        for (size_t i = 0; i < m->n_streams; i++)
                stream_free(m->streams[i]);
        free(m->streams);
        free(m->budgets);
        free(m);
        return NULL;
}
