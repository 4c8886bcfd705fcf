/* The status JSON's `media' object of a desktop (schema/hostd-control.md). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "hostd-media-internal.h"

static void out(MediaWriteFn write, void *userdata, const char *fmt, ...) _printf_(3, 4);
static void out(MediaWriteFn write, void *userdata, const char *fmt, ...) {
        char buf[1024];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (n > 0)
                write(userdata, buf, MIN((size_t) n, sizeof(buf) - 1));
}

static const char *const codec_names[] = { "opus", "vp8", "h264" };

void media_describe_json(Media *m, MediaWriteFn write, void *userdata) {
        const MediaCounters *c = &m->counters;
        out(write, userdata, "{\"policy\":\"%s\",\"viewer_codecs\":[", m->agent->policy.media ? "on" : "off");
        uint32_t codecs = media_viewer_codecs(m);
        bool first = true;
        for (unsigned i = 0; i < ELEMENTSOF(codec_names); i++)
                if (codecs & (1u << i)) {
                        out(write, userdata, "%s\"%s\"", first ? "" : ",", codec_names[i]);
                        first = false;
                }
        out(write, userdata, "],\"streams\":[");
        for (size_t i = 0; i < m->n_streams; i++) {
                const MediaStream *s = m->streams[i];
                out(write, userdata,
                    "%s{\"id\":%" PRIu32 ",\"guest_id\":%" PRIu32 ",\"codec\":\"%s\",\"kind\":\"%s\",\"packets\":%" PRIu64
                    ",\"bytes\":%" PRIu64 ",\"dropped\":%" PRIu64 ",\"viewers\":%zu,\"visible\":%s,"
                    "\"rect\":[%" PRIi32 ",%" PRIi32 ",%" PRIi32 ",%" PRIi32 "]}",
                    i ? "," : "", s->id, s->guest_id, s->codec < ELEMENTSOF(codec_names) ? codec_names[s->codec] : "?",
                    s->kind == MEDIA_KIND_VIDEO ? "video" : "audio", s->packets_in, s->bytes_in, s->dropped, s->n_subs,
                    s->visible ? "true" : "false", s->rect.x, s->rect.y, s->rect.w, s->rect.h);
        }
        out(write, userdata,
            "],\"opens\":%" PRIu64 ",\"redirected\":%" PRIu64 ",\"refused\":{\"no_viewer\":%" PRIu64
            ",\"codec_unsupported\":%" PRIu64 ",\"policy\":%" PRIu64 ",\"limit\":%" PRIu64 ",\"malformed\":%" PRIu64 "}",
            c->opens, c->redirected, c->refused_no_viewer, c->refused_codec, c->refused_policy, c->refused_limit,
            c->refused_malformed);
        out(write, userdata,
            ",\"caps_hit\":{\"streams\":%" PRIu64 ",\"packet_size\":%" PRIu64 ",\"stream_rate\":%" PRIu64
            ",\"desktop_rate\":%" PRIu64 ",\"packet_rate\":%" PRIu64 ",\"idle\":%" PRIu64 ",\"malformed\":%" PRIu64
            "},\"unknown_stream\":%" PRIu64 ",\"keyframe_requests\":%" PRIu64 ",\"viewer_keyframe_requests\":%" PRIu64
            ",\"closed_no_viewer\":%" PRIu64 "}",
            c->cap_streams, c->cap_packet_size, c->cap_stream_rate, c->cap_desktop_rate, c->cap_packet_rate,
            c->cap_idle, c->malformed, c->unknown_stream, c->keyframe_requests, c->viewer_keyframe_requests,
            c->closed_no_viewer);
}
