#include "client-media.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client-media-internal.h"

/* pts further than this from the audio clock: not the same timeline (a source restarted); the
 * stream's own clock takes over. */
#define SYNC_WINDOW_USEC UINT64_C(3000000)

uint64_t client_media_caps(const ClientMediaOptions *options) {
        uint32_t offer = options && options->codecs ? options->codecs : UINT32_MAX;
        uint64_t caps = WIRE_CAP_MEDIA;
        if (offer & CLIENT_MEDIA_CODEC_BIT(WIRE_CODEC_OPUS))
                caps |= WIRE_CAP_MEDIA_OPUS;
        if ((offer & CLIENT_MEDIA_CODEC_BIT(WIRE_CODEC_VP8)) && media_video_codec_available(WIRE_CODEC_VP8))
                caps |= WIRE_CAP_MEDIA_VP8;
        if ((offer & CLIENT_MEDIA_CODEC_BIT(WIRE_CODEC_H264)) && media_video_codec_available(WIRE_CODEC_H264))
                caps |= WIRE_CAP_MEDIA_H264;
        if (options && options->microphone)
                caps |= WIRE_CAP_MICROPHONE;
        return caps;
}

int client_media_parse_codecs(const char *s, size_t len, uint32_t *ret) {
        static const uint8_t codecs[] = { WIRE_CODEC_OPUS, WIRE_CODEC_VP8, WIRE_CODEC_H264 };
        uint32_t bits = 0;
        for (size_t start = 0; start <= len;) {
                const char *comma = memchr(s + start, ',', len - start);
                size_t n = comma ? (size_t) (comma - (s + start)) : len - start;
                bool known = false;
                for (size_t i = 0; i < ELEMENTSOF(codecs) && !known; i++) {
                        const char *name = client_media_codec_name(codecs[i]);
                        if (n == strlen(name) && memcmp(s + start, name, n) == 0) {
                                bits |= CLIENT_MEDIA_CODEC_BIT(codecs[i]);
                                known = true;
                        }
                }
                if (!known)
                        return -EINVAL;
                start += n + 1;
        }
        *ret = bits;
        return 0;
}

const char *client_media_codec_name(uint8_t codec) {
        switch (codec) {
        case WIRE_CODEC_OPUS:
                return "opus";
        case WIRE_CODEC_VP8:
                return "vp8";
        case WIRE_CODEC_H264:
                return "h264";
        default:
                return "unknown";
        }
}

int client_media_new(const ClientMediaOptions *options, const ClientMediaCallbacks *callbacks, void *userdata,
                     ClientMedia **ret) {
        ClientMedia *m = calloc(1, sizeof(ClientMedia));
        if (!m)
                return -ENOMEM;
        m->options = options ? *options : (ClientMediaOptions) {};
        if (m->options.mixer && (!media_opus_rate_valid(m->options.audio_rate) || m->options.audio_channels < 1 ||
                                 m->options.audio_channels > 2)) {
                free(m);
                return -EINVAL;
        }
        m->cb = callbacks ? *callbacks : (ClientMediaCallbacks) {};
        m->userdata = userdata;
        pthread_mutex_init(&m->lock, NULL);
        *ret = m;
        return 0;
}

static void picture_done(QueuedPicture *q) {
        free(q->buf);
        *q = (QueuedPicture) {};
}

static void pending_drop(ClientMedia *m, MediaStream *st) {
        while (st->pending) {
                PendingPacket *p = st->pending;
                st->pending = p->next;
                m->pending_bytes -= p->p.data_len;
                free(p);
        }
        st->pending_tail = NULL;
}

static void stream_free(ClientMedia *m, MediaStream *st) {
        pending_drop(m, st);
        media_video_decoder_free(st->video);
        for (size_t i = 0; i < CLIENT_MEDIA_VIDEO_QUEUE; i++)
                picture_done(&st->queue[i]);
        picture_done(&st->current);
        media_audio_stop(m, st);
        free(st);
}

static ssize_t stream_index(ClientMedia *m, uint32_t id) {
        for (size_t i = 0; i < m->n_streams; i++)
                if (m->streams[i]->pub.id == id)
                        return (ssize_t) i;
        return -1;
}

static MediaStream *stream_find(ClientMedia *m, uint32_t id) {
        ssize_t i = stream_index(m, id);
        return i < 0 ? NULL : m->streams[i];
}

static void stream_stop(ClientMedia *m, size_t i, uint8_t why) {
        MediaStream *st = m->streams[i];
        /* The table under the lock: client_media_mix() walks it on the audio thread. */
        pthread_mutex_lock(&m->lock);
        memmove(m->streams + i, m->streams + i + 1, (m->n_streams - i - 1) * sizeof(MediaStream *));
        m->n_streams--;
        pthread_mutex_unlock(&m->lock);
        if (m->cb.on_stop)
                m->cb.on_stop(&st->pub, why, m->userdata);
        stream_free(m, st);
}

void client_media_reset(ClientMedia *m) {
        while (m->n_streams > 0)
                stream_stop(m, m->n_streams - 1, WIRE_WHY_CLOSED);
        media_mic_stop(m);
}

ClientMedia *client_media_free(ClientMedia *m) {
        if (!m)
                return NULL;
        m->cb = (ClientMediaCallbacks) {}; /* freed, not stopped: nobody is told */
        client_media_reset(m);
        pthread_mutex_destroy(&m->lock);
        free(m);
        return NULL;
}

bool client_media_type(uint16_t type) {
        switch (type) {
        case WIRE_TYPE_MEDIA_START:
        case WIRE_TYPE_MEDIA_GEOMETRY:
        case WIRE_TYPE_MEDIA_STOP:
        case WIRE_TYPE_MEDIA_PACKET:
        case WIRE_TYPE_MIC_START:
        case WIRE_TYPE_MIC_STOP:
                return true;
        default:
                return false;
        }
}

static void set_geometry(MediaStream *st, uint32_t window, int32_t x, int32_t y, uint32_t w, uint32_t h, uint8_t visible) {
        st->pub.window = window;
        st->pub.x = x;
        st->pub.y = y;
        st->pub.width = w;
        st->pub.height = h;
        st->pub.visible = visible != 0;
}

static int validate_start(const WireMediaStart *s) {
        if (s->source > WIRE_SOURCE_VM)
                return -EBADMSG;
        switch (s->kind) {
        case WIRE_KIND_AUDIO:
                if (s->codec != WIRE_CODEC_OPUS || !media_opus_rate_valid(s->sample_rate) || s->channels < 1 ||
                    s->channels > 2)
                        return -EBADMSG;
                return 0;
        case WIRE_KIND_VIDEO:
                /* A codec we did not offer is hostd's mistake, not the packet's. */
                if ((s->codec != WIRE_CODEC_VP8 && s->codec != WIRE_CODEC_H264) || !media_video_codec_available(s->codec))
                        return -EBADMSG;
                return 0;
        default:
                return -EBADMSG;
        }
}

static int handle_start(ClientMedia *m, const WireMediaStart *s) {
        int r = validate_start(s);
        if (r < 0)
                return r;
        /* The same id again (a resumed session's hostd starts what runs anew): a new stream. */
        ssize_t old = stream_index(m, s->stream);
        if (old >= 0)
                stream_stop(m, (size_t) old, WIRE_WHY_CLOSED);
        if (m->n_streams >= CLIENT_MEDIA_STREAMS_MAX) {
                m->refused_streams++; /* its packets are ignored as an unknown stream's */
                return 0;
        }
        MediaStream *st = calloc(1, sizeof(MediaStream));
        if (!st)
                return -ENOMEM;
        st->pub = (ClientMediaStream) { .id = s->stream, .source = s->source, .kind = s->kind, .codec = s->codec,
                                        .sample_rate = s->sample_rate, .channels = s->channels };
        set_geometry(st, s->window, s->x, s->y, s->width, s->height, s->visible);
        if (s->kind == WIRE_KIND_VIDEO) {
                st->need_keyframe = true;
                r = media_video_decoder_new(s->codec, &st->video);
        } else
                r = media_audio_start(m, st);
        if (r < 0) {
                stream_free(m, st);
                return r;
        }
        pthread_mutex_lock(&m->lock);
        m->streams[m->n_streams++] = st;
        pthread_mutex_unlock(&m->lock);
        if (m->cb.on_start)
                m->cb.on_start(&st->pub, m->userdata);
        return 0;
}

static void request_keyframe(ClientMedia *m, MediaStream *st, uint64_t now) {
        if (st->requested && now < st->last_request + CLIENT_MEDIA_KEYFRAME_INTERVAL_USEC)
                return;
        Buffer *out = m->cb.out ? m->cb.out(m->userdata) : NULL;
        if (!out)
                return;
        if (wire_encode_media_keyframe_request(out, &(WireMediaKeyframeRequest) { .stream = st->pub.id }) < 0)
                return; /* the connection is full: the next loss asks again */
        st->requested = true;
        st->last_request = now;
        st->pub.keyframe_requests++;
}

static int picture_copy(QueuedPicture *q, const ClientMediaPicture *p) {
        size_t cw = (p->width + 1) / 2, ch = (p->height + 1) / 2;
        size_t ysize = (size_t) p->width * p->height, csize = cw * ch, size = ysize + 2 * csize;
        if (q->size < size) {
                uint8_t *b = realloc(q->buf, size);
                if (!b)
                        return -ENOMEM;
                q->buf = b;
                q->size = size;
        }
        uint8_t *dst[3] = { q->buf, q->buf + ysize, q->buf + ysize + csize };
        size_t w[3] = { p->width, cw, cw }, h[3] = { p->height, ch, ch };
        for (int i = 0; i < 3; i++)
                for (size_t y = 0; y < h[i]; y++)
                        memcpy(dst[i] + y * w[i], p->planes[i] + (ptrdiff_t) y * p->strides[i], w[i]);
        uint64_t serial = q->pic.serial;
        q->pic = (ClientMediaPicture) { .width = p->width, .height = p->height, .pts_us = p->pts_us, .serial = serial };
        for (int i = 0; i < 3; i++) {
                q->pic.planes[i] = dst[i];
                q->pic.strides[i] = (int) w[i];
        }
        return 0;
}

static void queue_shift(MediaStream *st, QueuedPicture *into) {
        QueuedPicture first = st->queue[0];
        memmove(st->queue, st->queue + 1, (CLIENT_MEDIA_VIDEO_QUEUE - 1) * sizeof(QueuedPicture));
        st->n_queue--;
        if (into) { /* swap buffers: nothing is freed or allocated in the steady state */
                QueuedPicture old = *into;
                *into = first;
                first = old;
        }
        first.pic = (ClientMediaPicture) {};
        st->queue[CLIENT_MEDIA_VIDEO_QUEUE - 1] = first;
}

static int queue_picture(MediaStream *st, const ClientMediaPicture *p, uint64_t now) {
        if (st->n_queue == CLIENT_MEDIA_VIDEO_QUEUE) { /* nobody presents (headless), or far behind */
                queue_shift(st, NULL);
                st->pub.dropped_late++;
        }
        int r = picture_copy(&st->queue[st->n_queue], p);
        if (r < 0)
                return r;
        st->n_queue++;
        if (!st->clock_started) {
                st->clock_started = true;
                st->clock_now = now;
                st->clock_pts = p->pts_us;
        }
        return 0;
}

static int video_packet(ClientMedia *m, MediaStream *st, const WireMediaPacket *p, uint32_t lost, uint64_t now) {
        ClientMediaPicture pic;
        if (lost > 0 && !st->need_keyframe) {
                st->need_keyframe = true;
                media_video_decoder_reset(st->video);
        }
        if (st->need_keyframe && !p->keyframe) {
                request_keyframe(m, st, now);
                return 0;
        }
        int r = media_video_decoder_decode(st->video, p->data, p->data_len, p->pts_us, &pic);
        if (r < 0) {
                /* The packet's fault (or the size it decodes to): this stream starts over. */
                st->pub.resets++;
                media_video_decoder_reset(st->video);
                st->need_keyframe = true;
                request_keyframe(m, st, now);
                return 0;
        }
        if (r == 0)
                return 0;
        st->need_keyframe = false;
        st->pub.decoded++;
        st->pub.video_width = pic.width;
        st->pub.video_height = pic.height;
        if (m->cb.on_video)
                m->cb.on_video(&st->pub, &pic, m->userdata);
        return queue_picture(st, &pic, now);
}

/* Paced: the packet waits (a copy) for client_media_pump(). */
static int video_defer(ClientMedia *m, MediaStream *st, const WireMediaPacket *p, uint32_t lost) {
        if (p->data_len > CLIENT_MEDIA_PENDING_BYTES_MAX)
                return 0;
        if (m->pending_bytes + p->data_len > CLIENT_MEDIA_PENDING_BYTES_MAX) {
                /* Decoding is behind by megabytes: this stream's backlog goes, as if lost. */
                for (PendingPacket *q = st->pending; q; q = q->next)
                        st->pending_lost += 1 + q->lost;
                pending_drop(m, st);
                if (m->pending_bytes + p->data_len > CLIENT_MEDIA_PENDING_BYTES_MAX) {
                        st->pending_lost += 1 + lost;
                        return 0; /* the other streams' backlog fills it: this one is lost too */
                }
        }
        PendingPacket *q = malloc(sizeof(PendingPacket) + p->data_len);
        if (!q)
                return -ENOMEM;
        memcpy(q->data, p->data, p->data_len);
        q->next = NULL;
        q->order = m->pending_order++;
        q->lost = lost + st->pending_lost;
        st->pending_lost = 0;
        q->p = *p;
        q->p.data = q->data;
        if (st->pending_tail)
                st->pending_tail->next = q;
        else
                st->pending = q;
        st->pending_tail = q;
        m->pending_bytes += p->data_len;
        return 0;
}

static uint64_t cpu_now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

size_t client_media_pump(ClientMedia *m, uint64_t now, uint64_t budget_usec) {
        uint64_t start = budget_usec ? cpu_now_usec() : 0;
        for (;;) {
                MediaStream *next = NULL;
                size_t waiting = 0;
                for (size_t i = 0; i < m->n_streams; i++) {
                        MediaStream *st = m->streams[i];
                        for (PendingPacket *q = st->pending; q; q = q->next)
                                waiting++;
                        if (st->pending && (!next || st->pending->order < next->pending->order))
                                next = st;
                }
                if (!next || (budget_usec && cpu_now_usec() - start >= budget_usec))
                        return waiting;
                PendingPacket *q = next->pending;
                next->pending = q->next;
                if (!next->pending)
                        next->pending_tail = NULL;
                m->pending_bytes -= q->p.data_len;
                int r = video_packet(m, next, &q->p, q->lost, now); /* may stop nothing: callbacks only */
                free(q);
                if (r < 0)
                        return waiting - 1; /* out of memory: the next pump tries on */
        }
}

size_t client_media_pending_bytes(ClientMedia *m) {
        return m->pending_bytes;
}

static int handle_packet(ClientMedia *m, const WireMediaPacket *p, uint64_t now) {
        MediaStream *st = stream_find(m, p->stream);
        if (!st)
                return 0; /* stopped (packets trail over UDP), or never started here */
        uint32_t lost = 0;
        if (st->have_seq) {
                uint32_t d = p->seq - st->next_seq;
                if (d >= UINT32_C(0x80000000))
                        return 0; /* older than what we have: a duplicate or overtaken */
                lost = d;
        }
        st->have_seq = true;
        st->next_seq = p->seq + 1;
        if (st->pub.kind == WIRE_KIND_VIDEO && m->options.paced)
                return video_defer(m, st, p, lost);
        if (st->pub.kind == WIRE_KIND_VIDEO)
                return video_packet(m, st, p, lost, now);
        return media_audio_packet(m, st, p, lost, now);
}

int client_media_handle(ClientMedia *m, const WireMessage *msg, uint64_t now) {
        MediaStream *st;
        ssize_t i;

        switch (msg->type) {
        case WIRE_TYPE_MEDIA_START:
                return handle_start(m, &msg->media_start);
        case WIRE_TYPE_MEDIA_GEOMETRY: {
                const WireMediaGeometry *g = &msg->media_geometry;
                st = stream_find(m, g->stream);
                if (!st)
                        return 0;
                set_geometry(st, g->window, g->x, g->y, g->width, g->height, g->visible);
                if (m->cb.on_geometry)
                        m->cb.on_geometry(&st->pub, m->userdata);
                return 0;
        }
        case WIRE_TYPE_MEDIA_STOP:
                i = stream_index(m, msg->media_stop.stream);
                if (i >= 0)
                        stream_stop(m, (size_t) i, msg->media_stop.why);
                return 0;
        case WIRE_TYPE_MEDIA_PACKET:
                return handle_packet(m, &msg->media_packet, now);
        case WIRE_TYPE_MIC_START:
                return media_mic_start(m, &msg->mic_start);
        case WIRE_TYPE_MIC_STOP:
                if (m->mic && m->mic_stream == msg->mic_stop.stream)
                        media_mic_stop(m);
                return 0;
        default:
                return -EPROTO;
        }
}

size_t client_media_n_streams(ClientMedia *m) {
        return m->n_streams;
}

const ClientMediaStream *client_media_stream_at(ClientMedia *m, size_t i) {
        return i < m->n_streams ? &m->streams[i]->pub : NULL;
}

const ClientMediaStream *client_media_stream(ClientMedia *m, uint32_t id) {
        MediaStream *st = stream_find(m, id);
        return st ? &st->pub : NULL;
}

/* The pts due at now: the audio clock of the stream's source when audio plays and the frames
 * are on its timeline, else the stream's own clock (first frame + the playout delay). */
static bool stream_clock(ClientMedia *m, MediaStream *st, uint64_t now, uint64_t *ret) {
        uint64_t audio;
        if (st->n_queue > 0 && media_audio_clock(m, st->pub.source, now, &audio)) {
                uint64_t pts = st->queue[0].pic.pts_us;
                if (pts < audio + SYNC_WINDOW_USEC && audio < pts + SYNC_WINDOW_USEC) {
                        *ret = audio;
                        return true;
                }
        }
        if (!st->clock_started)
                return false;
        uint64_t elapsed = now > st->clock_now ? now - st->clock_now : 0;
        if (elapsed < CLIENT_MEDIA_PLAYOUT_DELAY_USEC)
                return false;
        *ret = st->clock_pts + elapsed - CLIENT_MEDIA_PLAYOUT_DELAY_USEC;
        /* Far off the stream clock (the source restarted its pts): start it again here. */
        if (st->n_queue > 0 && (st->queue[0].pic.pts_us > *ret + SYNC_WINDOW_USEC ||
                                *ret > st->queue[0].pic.pts_us + SYNC_WINDOW_USEC)) {
                st->clock_now = now - CLIENT_MEDIA_PLAYOUT_DELAY_USEC;
                st->clock_pts = st->queue[0].pic.pts_us;
                *ret = st->clock_pts;
        }
        return true;
}

const ClientMediaPicture *client_media_present(ClientMedia *m, uint32_t id, uint64_t now) {
        MediaStream *st = stream_find(m, id);
        uint64_t clock;
        if (!st || st->pub.kind != WIRE_KIND_VIDEO)
                return NULL;
        if (st->n_queue > 0 && stream_clock(m, st, now, &clock)) {
                while (st->n_queue > 0 && st->queue[0].pic.pts_us <= clock) {
                        if (st->n_queue > 1 && st->queue[1].pic.pts_us <= clock) {
                                queue_shift(st, NULL); /* late: its successor is due already */
                                st->pub.dropped_late++;
                                continue;
                        }
                        uint64_t serial = st->current.pic.serial;
                        queue_shift(st, &st->current);
                        st->current.pic.serial = serial + 1;
                        st->have_current = true;
                }
        }
        return st->have_current ? &st->current.pic : NULL;
}

uint64_t client_media_next_present(ClientMedia *m, uint64_t now) {
        uint64_t next = UINT64_MAX;
        for (size_t i = 0; i < m->n_streams; i++) {
                MediaStream *st = m->streams[i];
                if (st->pub.kind != WIRE_KIND_VIDEO || st->n_queue == 0 || !st->clock_started)
                        continue;
                uint64_t pts = st->queue[0].pic.pts_us, due;
                if (pts <= st->clock_pts)
                        due = st->clock_now + CLIENT_MEDIA_PLAYOUT_DELAY_USEC;
                else
                        due = st->clock_now + CLIENT_MEDIA_PLAYOUT_DELAY_USEC + (pts - st->clock_pts);
                /* Timed by audio instead: look again soon (a frame period at 100 Hz). */
                uint64_t audio;
                if (media_audio_clock(m, st->pub.source, now, &audio))
                        due = MIN(due, now + 10000);
                next = MIN(next, MAX(due, now));
        }
        return next;
}
