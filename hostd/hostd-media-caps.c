/* What the untrusted guest's media must look like: the fields of an open and of a geometry, and
 * each packet against its stream's caps (size by codec, bytes/s, packets/s, pts order) and the
 * desktop's bytes/s. The [Media] defaults live here too. */
#include <errno.h>

#include "hostd-manager.h"
#include "hostd-media-internal.h"

void media_config_init(MediaConfig *c) {
        *c = (MediaConfig) {
                .max_streams = 8,
                .max_video_packet = 512 * 1024,
                .max_audio_packet = 4 * 1024,
                .stream_bitrate = 20 * 1000 * 1000,
                .desktop_bitrate = 40 * 1000 * 1000,
                .video_packet_rate = 240,
                .audio_packet_rate = 200,
                .idle_seconds = 60,
                .viewer_share = 50,
        };
}

int media_config_check(const MediaConfig *c, const char **why) {
        if (c->max_video_packet == 0 || c->max_video_packet > AGENT_MEDIA_PACKET_DATA_MAX) {
                *why = "MaxVideoPacket= must be 1..524288";
                return -EINVAL;
        }
        if (c->max_audio_packet == 0 || c->max_audio_packet > AGENT_MEDIA_PACKET_DATA_MAX) {
                *why = "MaxAudioPacket= must be 1..524288";
                return -EINVAL;
        }
        if (c->stream_bitrate == 0 || c->desktop_bitrate == 0 || c->video_packet_rate == 0 ||
            c->audio_packet_rate == 0 || c->idle_seconds == 0) {
                *why = "StreamBitrate=, DesktopBitrate=, VideoPacketRate=, AudioPacketRate= and IdleSeconds= must not be 0";
                return -EINVAL;
        }
        if (c->viewer_share == 0 || c->viewer_share > 100) {
                *why = "ViewerShare= must be 1..100 (percent)";
                return -EINVAL;
        }
        return 0;
}

void bucket_init(TokenBucket *b, double rate, double burst, uint64_t now) {
        *b = (TokenBucket) { .rate = rate, .burst = burst, .tokens = burst, .usec = now };
}

bool bucket_take(TokenBucket *b, double amount, uint64_t now) {
        if (now > b->usec) {
                b->tokens += (double) (now - b->usec) / 1e6 * b->rate;
                if (b->tokens > b->burst)
                        b->tokens = b->burst;
                b->usec = now;
        }
        if (b->tokens < amount)
                return false;
        b->tokens -= amount;
        return true;
}

static bool audio_rate_valid(uint32_t rate) {
        return rate == 8000 || rate == 12000 || rate == 16000 || rate == 24000 || rate == 48000;
}

int media_check_geometry(uint32_t window, int32_t x, int32_t y, uint32_t w, uint32_t h, uint8_t visible,
                         const char **what) {
        if (w > AGENT_DIM_MAX || h > AGENT_DIM_MAX) {
                *what = "a rectangle larger than any framebuffer";
                return -EBADMSG;
        }
        if (x < -AGENT_POS_MAX || x > AGENT_POS_MAX || y < -AGENT_POS_MAX || y > AGENT_POS_MAX) {
                *what = "a position outside any framebuffer";
                return -EBADMSG;
        }
        if (visible > 1) {
                *what = "visible is neither 0 nor 1";
                return -EBADMSG;
        }
        (void) window;
        return 0;
}

int media_check_open(const AgentMediaOpen *o, const char **what) {
        if (o->kind > MEDIA_KIND_VIDEO || o->codec > MEDIA_CODEC_H264) {
                *what = "unknown kind or codec";
                return -EBADMSG;
        }
        if ((o->kind == MEDIA_KIND_AUDIO) != (o->codec == MEDIA_CODEC_OPUS)) {
                *what = "a codec of the other kind";
                return -EBADMSG;
        }
        if (o->kind == MEDIA_KIND_AUDIO && (!audio_rate_valid(o->sample_rate) || o->channels < 1 || o->channels > 2)) {
                *what = "an audio format Opus does not have";
                return -EBADMSG;
        }
        return media_check_geometry(o->window, o->x, o->y, o->width, o->height, o->visible, what);
}

int media_check_packet(Media *m, MediaStream *s, const AgentMediaPacket *p, const char **what) {
        const MediaConfig *c = media_config(m);
        uint64_t now = media_now(m);
        size_t max = s->kind == MEDIA_KIND_VIDEO ? c->max_video_packet : c->max_audio_packet;

        if (p->data_len == 0 || p->keyframe > 1) {
                *what = p->data_len == 0 ? "an empty packet" : "keyframe is neither 0 nor 1";
                return -EBADMSG;
        }
        if (s->have_pts && p->pts_us < s->last_pts) {
                *what = "pts went backwards";
                return -EBADMSG;
        }
        if (p->data_len > max) {
                m->counters.cap_packet_size++;
                *what = "a packet over MaxVideoPacket=/MaxAudioPacket=";
                return -EDQUOT;
        }
        if (!bucket_take(&s->packets, 1.0, now)) {
                m->counters.cap_packet_rate++;
                *what = "more packets per second than VideoPacketRate=/AudioPacketRate=";
                return -EDQUOT;
        }
        if (!bucket_take(&s->bytes, (double) p->data_len, now)) {
                m->counters.cap_stream_rate++;
                *what = "more bytes per second than StreamBitrate=";
                return -EDQUOT;
        }
        if (!bucket_take(&m->desktop_bytes, (double) p->data_len, now)) {
                m->counters.cap_desktop_rate++;
                *what = "the desktop's streams over DesktopBitrate=";
                return -EDQUOT;
        }
        s->have_pts = true;
        s->last_pts = p->pts_us;
        s->last_usec = now;
        return 0;
}
