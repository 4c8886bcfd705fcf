/* org.tandem.Media1 on the system bus (media-api.md): the methods, checked before anything is
 * done with them; the signals; callers leaving the bus lose their streams. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "media-file.h"
#include "media-internal.h"

#define ERROR_UNKNOWN_STREAM "org.tandem.Media1.Error.UnknownStream"
#define ERROR_TOO_LARGE "org.tandem.Media1.Error.TooLarge"
#define ERROR_INVALID SD_BUS_ERROR_INVALID_ARGS

/* ---- answers and signals ----------------------------------------------------------------- */

void media_bus_reply_open(MediaService *s _unused_, MediaStream *st, bool redirect, const char *reason) {
        if (!st->call)
                return;
        int r = sd_bus_reply_method_return(st->call, "ubs", redirect ? st->id : 0, redirect, reason);
        if (r < 0)
                log_debug_errno(r, "Cannot answer the Open of %s: %m", st->owner);
        st->call = sd_bus_message_unref(st->call);
}

/* A signal about one stream goes to its owner only. */
static void emit_to_owner(MediaService *s, MediaStream *st, const char *member, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
        va_list ap;
        int r = sd_bus_message_new_signal(s->bus, &msg, MEDIA_BUS_PATH, MEDIA_BUS_INTERFACE, member);
        if (r >= 0)
                r = sd_bus_message_set_destination(msg, st->owner);
        if (r >= 0) {
                va_start(ap, types);
                r = sd_bus_message_appendv(msg, types, ap);
                va_end(ap);
        }
        if (r >= 0)
                r = sd_bus_send(s->bus, msg, NULL);
        if (r < 0)
                log_debug_errno(r, "Cannot send %s to %s: %m", member, st->owner);
}

void media_bus_emit_closed(MediaService *s, MediaStream *st, const char *reason) {
        emit_to_owner(s, st, "Closed", "us", st->id, reason);
}

void media_bus_emit_keyframe(MediaService *s, MediaStream *st) {
        emit_to_owner(s, st, "KeyframeRequested", "u", st->id);
}

void media_bus_emit_viewers(MediaService *s) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
        int r = sd_bus_message_new_signal(s->bus, &msg, MEDIA_BUS_PATH, MEDIA_BUS_INTERFACE, "ViewersChanged");
        if (r >= 0)
                r = sd_bus_message_open_container(msg, 'a', "s");
        for (unsigned c = 0; r >= 0 && c < 32; c++)
                if ((s->viewer_codecs & (UINT32_C(1) << c)) && media_codec_name((uint8_t) c))
                        r = sd_bus_message_append(msg, "s", media_codec_name((uint8_t) c));
        if (r >= 0)
                r = sd_bus_message_close_container(msg);
        if (r >= 0)
                r = sd_bus_send(s->bus, msg, NULL);
        if (r < 0)
                log_debug_errno(r, "Cannot send ViewersChanged: %m");
}

/* ---- methods ----------------------------------------------------------------------------- */

typedef struct Rect {
        int32_t x, y;
        uint32_t w, h;
} Rect;

static bool rect_ok(const Rect *r) {
        return r->w <= 16384 && r->h <= 16384;
}

static int answer(sd_bus_message *m, const char *reason) {
        return sd_bus_reply_method_return(m, "ubs", 0, false, reason);
}

static int method_open(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        MediaService *s = userdata;
        const char *kind, *codec, *owner = sd_bus_message_get_sender(m);
        uint32_t window, rate;
        Rect rc;
        int visible;
        uint8_t channels;
        int r = sd_bus_message_read(m, "ssu(iiuu)buy", &kind, &codec, &window, &rc.x, &rc.y, &rc.w, &rc.h, &visible,
                                    &rate, &channels);
        if (r < 0)
                return r;
        if (!owner)
                return sd_bus_error_set(error, ERROR_INVALID, "No sender");
        int c = media_codec_from_name(codec, strlen(codec));
        uint8_t k = strcmp(kind, "audio") == 0 ? MEDIA_KIND_AUDIO : strcmp(kind, "video") == 0 ? MEDIA_KIND_VIDEO : 0xff;
        if (c < 0 || k == 0xff)
                return sd_bus_error_setf(error, ERROR_INVALID, "Unknown kind or codec `%s' `%s'", kind, codec);
        if ((k == MEDIA_KIND_AUDIO) != (c == MEDIA_CODEC_OPUS))
                return sd_bus_error_setf(error, ERROR_INVALID, "Codec %s is not %s", codec, kind);
        if (k == MEDIA_KIND_AUDIO && (rate == 0 || rate > 192000 || channels == 0 || channels > 8))
                return sd_bus_error_set(error, ERROR_INVALID, "Audio needs a rate up to 192000 and 1-8 channels");
        if (!rect_ok(&rc))
                return sd_bus_error_set(error, ERROR_INVALID, "Rectangle over 16384 pixels");

        if (media_streams_of(s, owner) >= MEDIA_STREAMS_PER_CALLER)
                return answer(m, "limit");
        if (!media_path_up(s))
                return answer(m, "agent-path-down");
        if (s->viewers_known && s->viewer_codecs == 0)
                return answer(m, "no-viewer");
        if (s->viewers_known && !(s->viewer_codecs & (UINT32_C(1) << c)))
                return answer(m, "codec-unsupported");
        MediaStream *st = media_stream_add(s, owner);
        if (!st)
                return answer(m, "limit");
        st->kind = k;
        st->codec = (uint8_t) c;
        AgentMessage msg = { .type = AGENT_TYPE_MEDIA_OPEN, .media_open = {
                .stream = st->id, .kind = k, .codec = (uint8_t) c, .sample_rate = rate, .channels = channels,
                .window = window, .x = rc.x, .y = rc.y, .width = rc.w, .height = rc.h, .visible = !!visible,
        } };
        r = manager_send(s->manager, &msg);
        if (r >= 0)
                r = media_bus_open_timeout(s, st);
        if (r < 0) {
                media_stream_drop(st);
                return answer(m, r == -ENOBUFS ? "busy" : "agent-path-down");
        }
        st->call = sd_bus_message_ref(m);
        manager_port_update(s->manager);
        return 1;
}

/* The caller's open stream, or an error set. */
static MediaStream *owned(MediaService *s, sd_bus_message *m, uint32_t id, sd_bus_error *error) {
        MediaStream *st = media_stream_find(s, id);
        const char *sender = sd_bus_message_get_sender(m);
        if (!st || st->state != MEDIA_OPEN || !sender || strcmp(st->owner, sender) != 0) {
                sd_bus_error_setf(error, ERROR_UNKNOWN_STREAM, "No open stream %u of yours", id);
                return NULL;
        }
        return st;
}

static int method_push(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        MediaService *s = userdata;
        uint32_t id;
        uint64_t pts;
        int key;
        const void *data;
        size_t len;
        int r = sd_bus_message_read(m, "utb", &id, &pts, &key);
        if (r >= 0)
                r = sd_bus_message_read_array(m, 'y', &data, &len);
        if (r < 0)
                return r;
        MediaStream *st = owned(s, m, id, error);
        if (!st)
                return -ENOENT;
        if (len == 0 || len > MEDIA_PACKET_MAX)
                return sd_bus_error_setf(error, ERROR_TOO_LARGE, "A packet is 1 to %zu bytes, not %zu",
                                         MEDIA_PACKET_MAX, len);
        size_t queued = manager_port_queued(s->manager);
        bool video = st->kind == MEDIA_KIND_VIDEO;
        if (video && st->need_keyframe && !key) {
                st->dropped++;
        } else if (!s->manager->conn || queued + WIRE_HEADER_SIZE + 13 + len > MEDIA_RELAY_MAX) {
                /* hostd is not keeping up: drop rather than queue without bound or block. */
                st->dropped++;
                if (video && !st->need_keyframe) {
                        st->need_keyframe = true;
                        media_bus_emit_keyframe(s, st);
                }
        } else {
                AgentMessage msg = { .type = AGENT_TYPE_MEDIA_PACKET, .media_packet = {
                        .stream = id, .pts_us = pts, .keyframe = !!key, .data = data, .data_len = len } };
                if (manager_send(s->manager, &msg) < 0)
                        st->dropped++;
                else {
                        st->packets++;
                        st->need_keyframe = false;
                }
                manager_port_update(s->manager);
        }
        return sd_bus_reply_method_return(m, NULL);
}

static int method_set_geometry(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        MediaService *s = userdata;
        uint32_t id, window;
        Rect rc;
        int visible;
        int r = sd_bus_message_read(m, "uu(iiuu)b", &id, &window, &rc.x, &rc.y, &rc.w, &rc.h, &visible);
        if (r < 0)
                return r;
        MediaStream *st = owned(s, m, id, error);
        if (!st)
                return -ENOENT;
        if (!rect_ok(&rc))
                return sd_bus_error_set(error, ERROR_INVALID, "Rectangle over 16384 pixels");
        AgentMessage msg = { .type = AGENT_TYPE_MEDIA_GEOMETRY, .media_geometry = {
                .stream = id, .window = window, .x = rc.x, .y = rc.y, .width = rc.w, .height = rc.h,
                .visible = !!visible } };
        manager_send(s->manager, &msg);
        manager_port_update(s->manager);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_close(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        MediaService *s = userdata;
        uint32_t id;
        int r = sd_bus_message_read(m, "u", &id);
        if (r < 0)
                return r;
        MediaStream *st = owned(s, m, id, error);
        if (!st)
                return -ENOENT;
        log_info("Media stream %u of %s closed (%llu packets relayed, %llu dropped)", id, st->owner,
                 (unsigned long long) st->packets, (unsigned long long) st->dropped);
        media_stream_close(s, st, AGENT_WHY_CLOSED);
        return sd_bus_reply_method_return(m, NULL);
}

/* Any local user may call (the bus policy says so too): sd-bus refuses callers of another uid
 * without SD_BUS_VTABLE_UNPRIVILEGED. */
static const sd_bus_vtable media_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Open",
                                SD_BUS_ARGS("s", kind, "s", codec, "u", window, "(iiuu)", rect, "b", visible,
                                            "u", sample_rate, "y", channels),
                                SD_BUS_RESULT("u", stream, "b", redirect, "s", reason), method_open, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Push", SD_BUS_ARGS("u", stream, "t", pts_us, "b", keyframe, "ay", data),
                                SD_BUS_NO_RESULT, method_push, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetGeometry",
                                SD_BUS_ARGS("u", stream, "u", window, "(iiuu)", rect, "b", visible),
                                SD_BUS_NO_RESULT, method_set_geometry, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Close", SD_BUS_ARGS("u", stream), SD_BUS_NO_RESULT, method_close, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("Closed", SD_BUS_ARGS("u", stream, "s", reason), 0),
        SD_BUS_SIGNAL_WITH_ARGS("KeyframeRequested", SD_BUS_ARGS("u", stream), 0),
        SD_BUS_SIGNAL_WITH_ARGS("ViewersChanged", SD_BUS_ARGS("as", codecs), 0),
        SD_BUS_VTABLE_END,
};

/* ---- callers leaving, the open timeout ----------------------------------------------------- */

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *error _unused_) {
        MediaService *s = userdata;
        const char *name, *old, *new;
        if (sd_bus_message_read(m, "sss", &name, &old, &new) < 0 || name[0] != ':' || new[0])
                return 0;
        for (size_t i = 0; i < MEDIA_STREAMS_MAX; i++) {
                MediaStream *st = &s->streams[i];
                if (st->id && strcmp(st->owner, name) == 0) {
                        log_info("Media stream %u: %s left the bus, closing it", st->id, name);
                        media_stream_close(s, st, AGENT_WHY_CLOSED);
                }
        }
        return 0;
}

static int on_timeout(sd_event_source *src _unused_, uint64_t usec _unused_, void *userdata) {
        MediaService *s = userdata;
        uint64_t now;
        sd_event_now(s->manager->event, CLOCK_MONOTONIC, &now);
        /* One timer per stream; find the ones due. */
        for (size_t i = 0; i < MEDIA_STREAMS_MAX; i++) {
                MediaStream *st = &s->streams[i];
                uint64_t due;
                if (!st->id || st->state != MEDIA_PENDING || !st->timer ||
                    sd_event_source_get_time(st->timer, &due) < 0 || due > now)
                        continue;
                log_info("Media stream %u of %s: no answer from hostd in 2 s", st->id, st->owner);
                media_bus_reply_open(s, st, false, "agent-path-down");
                media_stream_close(s, st, AGENT_WHY_CLOSED);
        }
        return 0;
}

int media_bus_open_timeout(MediaService *s, MediaStream *st) {
        uint64_t now;
        sd_event_now(s->manager->event, CLOCK_MONOTONIC, &now);
        return sd_event_add_time(s->manager->event, &st->timer, CLOCK_MONOTONIC, now + MEDIA_OPEN_TIMEOUT_USEC, 0,
                                 on_timeout, s);
}

/* ---- life cycle ------------------------------------------------------------------------- */

int media_service_new(Manager *m, MediaService **ret) {
        _cleanup_(freep) MediaService *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->manager = m;
        int r = sd_bus_open_system(&s->bus);
        if (r >= 0)
                r = sd_bus_attach_event(s->bus, m->event, 0);
        if (r >= 0)
                r = sd_bus_add_object_vtable(s->bus, &s->vtable_slot, MEDIA_BUS_PATH, MEDIA_BUS_INTERFACE, media_vtable, s);
        if (r >= 0)
                r = sd_bus_match_signal(s->bus, &s->owner_slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "NameOwnerChanged", on_name_owner_changed, s);
        if (r >= 0)
                r = sd_bus_request_name(s->bus, MEDIA_BUS_NAME, 0);
        if (r < 0) {
                sd_bus_slot_unref(s->vtable_slot);
                sd_bus_slot_unref(s->owner_slot);
                sd_bus_flush_close_unref(s->bus);
                return r;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

MediaService *media_service_free(MediaService *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < MEDIA_STREAMS_MAX; i++)
                if (s->streams[i].id) {
                        if (s->streams[i].state == MEDIA_PENDING)
                                media_bus_reply_open(s, &s->streams[i], false, "agent-path-down");
                        media_stream_drop(&s->streams[i]);
                }
        sd_bus_slot_unref(s->vtable_slot);
        sd_bus_slot_unref(s->owner_slot);
        sd_bus_flush_close_unref(s->bus);
        free(s);
        return NULL;
}
