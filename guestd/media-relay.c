/* org.tandem.Media1's stream table and its agent side: media-open/-packet/-geometry/-close to
 * hostd, and hostd's answers, closes, keyframe requests and viewer codecs back to the callers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "media-internal.h"

MediaStream *media_stream_find(MediaService *s, uint32_t id) {
        if (id == 0)
                return NULL;
        for (size_t i = 0; i < MEDIA_STREAMS_MAX; i++)
                if (s->streams[i].id == id)
                        return &s->streams[i];
        return NULL;
}

size_t media_streams_of(MediaService *s, const char *owner) {
        size_t n = 0;
        for (size_t i = 0; i < MEDIA_STREAMS_MAX; i++)
                if (s->streams[i].id && strcmp(s->streams[i].owner, owner) == 0)
                        n++;
        return n;
}

bool media_path_up(MediaService *s) {
        Manager *m = s->manager;
        return m->conn && m->hostd_hello_seen && (m->hostd_hello.caps & AGENT_CAP_MEDIA);
}

MediaStream *media_stream_add(MediaService *s, const char *owner) {
        MediaStream *st = NULL;
        for (size_t i = 0; i < MEDIA_STREAMS_MAX && !st; i++)
                if (!s->streams[i].id)
                        st = &s->streams[i];
        if (!st)
                return NULL;
        char *o = strdup(owner);
        if (!o)
                return NULL;
        /* Ids unique while open; not reused at once, so a late message for a closed stream
         * does not reach a new one. */
        do
                s->next_id = s->next_id >= INT32_MAX ? 1 : s->next_id + 1;
        while (media_stream_find(s, s->next_id));
        *st = (MediaStream) { .id = s->next_id, .owner = o };
        return st;
}

void media_stream_drop(MediaStream *st) {
        free(st->owner);
        sd_bus_message_unref(st->call);
        sd_event_source_disable_unref(st->timer);
        *st = (MediaStream) { 0 };
}

void media_stream_close(MediaService *s, MediaStream *st, uint8_t why) {
        AgentMessage msg = { .type = AGENT_TYPE_MEDIA_CLOSE, .media_close = { .stream = st->id, .why = why } };
        if (media_path_up(s))
                manager_send(s->manager, &msg);
        media_stream_drop(st);
        manager_port_update(s->manager);
}

/* hostd's why (agent.def) as one of the Open reasons of media-api.md. */
const char *media_open_reason(uint8_t why) {
        switch (why) {
        case AGENT_WHY_LIMIT:
                return "limit";
        case AGENT_WHY_MALFORMED:
        case AGENT_WHY_POLICY:
                return "policy";
        case AGENT_WHY_AGENT_LOST:
                return "agent-path-down";
        case AGENT_WHY_NO_VIEWER:
                return "no-viewer";
        case AGENT_WHY_CODEC_UNSUPPORTED:
                return "codec-unsupported";
        default:
                return "busy";
        }
}

static void on_open_reply(MediaService *s, const AgentMediaOpenReply *r) {
        MediaStream *st = media_stream_find(s, r->stream);
        if (!st || st->state != MEDIA_PENDING) {
                log_debug("media-open-reply for stream %u, not being opened: ignoring", r->stream);
                return;
        }
        if (r->answer == AGENT_ANSWER_REDIRECT) {
                st->state = MEDIA_OPEN;
                st->timer = sd_event_source_disable_unref(st->timer);
                log_info("Media stream %u (%s %s of %s): redirected", st->id, agent_kind_name(st->kind) ?: "?",
                         agent_codec_name(st->codec) ?: "?", st->owner);
                media_bus_reply_open(s, st, true, "");
                return;
        }
        log_info("Media stream %u of %s: hostd says render locally (%s)", st->id, st->owner,
                 agent_why_name(r->why) ?: "?");
        media_bus_reply_open(s, st, false, media_open_reason(r->why));
        media_stream_drop(st);
}

static void on_hostd_close(MediaService *s, const AgentMediaClose *c) {
        MediaStream *st = media_stream_find(s, c->stream);
        if (!st)
                return;
        const char *why = agent_why_name(c->why) ?: "closed";
        log_info("Media stream %u of %s: hostd stopped relaying it (%s)", st->id, st->owner, why);
        if (st->state == MEDIA_PENDING)
                media_bus_reply_open(s, st, false, media_open_reason(c->why));
        else
                media_bus_emit_closed(s, st, why);
        media_stream_drop(st);
}

void media_on_hostd(MediaService *s, const AgentMessage *msg) {
        switch (msg->type) {
        case AGENT_TYPE_MEDIA_OPEN_REPLY:
                on_open_reply(s, &msg->media_open_reply);
                break;
        case AGENT_TYPE_MEDIA_CLOSE:
                on_hostd_close(s, &msg->media_close);
                break;
        case AGENT_TYPE_MEDIA_KEYFRAME_REQUEST: {
                MediaStream *st = media_stream_find(s, msg->media_keyframe_request.stream);
                if (st && st->state == MEDIA_OPEN)
                        media_bus_emit_keyframe(s, st);
                break;
        }
        case AGENT_TYPE_MEDIA_VIEWERS: {
                bool changed = !s->viewers_known || s->viewer_codecs != msg->media_viewers.codecs;
                s->viewers_known = true;
                s->viewer_codecs = msg->media_viewers.codecs;
                if (changed) {
                        log_info("Media: viewers decode codecs 0x%x", s->viewer_codecs);
                        media_bus_emit_viewers(s);
                }
                break;
        }
        default:
                break;
        }
}

void media_on_path_down(MediaService *s) {
        if (!s)
                return;
        for (size_t i = 0; i < MEDIA_STREAMS_MAX; i++) {
                MediaStream *st = &s->streams[i];
                if (!st->id)
                        continue;
                if (st->state == MEDIA_PENDING)
                        media_bus_reply_open(s, st, false, "agent-path-down");
                else
                        media_bus_emit_closed(s, st, "agent-lost");
                media_stream_drop(st);
        }
        bool had = s->viewers_known && s->viewer_codecs;
        s->viewers_known = false;
        s->viewer_codecs = 0;
        if (had)
                media_bus_emit_viewers(s);
}
