/* The guest media streams of one desktop: open answers, the stream table and its ids, geometry,
 * the ends (closed by the guest, a cap, the agent lost), the tick (idle streams, keyframe
 * requests due). Who gets each stream is hostd-media-viewers.c's. */
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
        media_start_all(m, s);
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
