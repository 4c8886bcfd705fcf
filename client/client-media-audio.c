/* Audio streams (Opus decode with loss concealment into the jitter buffers the mixer plays) and
 * the microphone (Opus encode into mic-packets). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client-media-internal.h"

#define MIC_FRAME_USEC 20000
#define MIC_PACKET_MAX 4000 /* mic-packet's blob */

bool media_opus_rate_valid(uint32_t rate) {
        return rate == 8000 || rate == 12000 || rate == 16000 || rate == 24000 || rate == 48000;
}

int media_audio_start(ClientMedia *m, MediaStream *st) {
        int err;
        st->pub.out_rate = m->options.audio_rate ? m->options.audio_rate : st->pub.sample_rate;
        st->pub.out_channels = m->options.audio_channels ? m->options.audio_channels : st->pub.channels;
        if (!media_opus_rate_valid(st->pub.out_rate) || st->pub.out_channels < 1 || st->pub.out_channels > 2)
                return -EINVAL;
        st->opus = opus_decoder_create((opus_int32) st->pub.out_rate, st->pub.out_channels, &err);
        if (!st->opus)
                return err == OPUS_ALLOC_FAIL ? -ENOMEM : -EINVAL;
        st->pcm = calloc((size_t) OPUS_FRAMES_MAX * st->pub.out_channels, sizeof(int16_t));
        if (!st->pcm)
                return -ENOMEM;
        st->last_frames = st->pub.out_rate / 50; /* 20 ms until a packet says otherwise */
        if (m->options.mixer) {
                AudioJitter *j;
                int r = audio_jitter_new(st->pub.out_rate, st->pub.out_channels, &j);
                if (r < 0)
                        return r;
                pthread_mutex_lock(&m->lock);
                st->jitter = j;
                pthread_mutex_unlock(&m->lock);
        }
        return 0;
}

void media_audio_stop(ClientMedia *m, MediaStream *st) {
        if (st->jitter) {
                pthread_mutex_lock(&m->lock);
                st->jitter = audio_jitter_free(st->jitter);
                pthread_mutex_unlock(&m->lock);
        }
        if (st->opus)
                opus_decoder_destroy(st->opus);
        st->opus = NULL;
        free(st->pcm);
        st->pcm = NULL;
}

static void deliver(ClientMedia *m, MediaStream *st, size_t frames, uint64_t pts, bool concealed, uint64_t now) {
        st->pub.decoded++;
        st->pub.audio_samples += frames;
        st->last_frames = (uint32_t) frames;
        st->next_pts = pts + (uint64_t) frames * 1000000 / st->pub.out_rate;
        if (m->cb.on_audio)
                m->cb.on_audio(&st->pub, st->pcm, frames, pts, concealed, m->userdata);
        if (st->jitter) {
                pthread_mutex_lock(&m->lock);
                audio_jitter_push(st->jitter, st->pcm, frames, pts, now);
                pthread_mutex_unlock(&m->lock);
        }
}

int media_audio_packet(ClientMedia *m, MediaStream *st, const WireMediaPacket *p, uint32_t lost, uint64_t now) {
        if (lost > 0 && st->pub.decoded > 0) {
                if (lost > CLIENT_MEDIA_PLC_PACKETS_MAX) {
                        /* Too long to make up: start over quietly at this packet. */
                        opus_decoder_ctl(st->opus, OPUS_RESET_STATE);
                        st->pub.resets++;
                } else
                        for (uint32_t i = 0; i < lost; i++) {
                                int n = opus_decode(st->opus, NULL, 0, st->pcm, (int) st->last_frames, 0);
                                if (n <= 0)
                                        break;
                                deliver(m, st, (size_t) n, st->next_pts, true, now);
                        }
        }
        if (p->data_len == 0 || p->data_len > INT32_MAX)
                goto bad;
        int samples = opus_packet_get_nb_samples(p->data, (opus_int32) p->data_len, (opus_int32) st->pub.out_rate);
        if (samples <= 0 || samples > OPUS_FRAMES_MAX)
                goto bad;
        int n = opus_decode(st->opus, p->data, (opus_int32) p->data_len, st->pcm, OPUS_FRAMES_MAX, 0);
        if (n <= 0)
                goto bad;
        deliver(m, st, (size_t) n, p->pts_us, false, now);
        return 0;
bad:
        /* A bad packet: this stream's decoder starts over; the session goes on. */
        opus_decoder_ctl(st->opus, OPUS_RESET_STATE);
        st->pub.resets++;
        return 0;
}

bool media_audio_clock(ClientMedia *m, uint8_t source, uint64_t now, uint64_t *ret_pts) {
        bool found = false;
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->n_streams && !found; i++) {
                MediaStream *st = m->streams[i];
                if (st->jitter && st->pub.source == source)
                        found = audio_jitter_clock(st->jitter, now, ret_pts);
        }
        pthread_mutex_unlock(&m->lock);
        return found;
}

void client_media_mix(ClientMedia *m, int16_t *out, size_t frames, uint64_t now) {
        memset(out, 0, frames * MAX(m->options.audio_channels, 1) * sizeof(int16_t));
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->n_streams; i++)
                if (m->streams[i]->jitter)
                        audio_jitter_mix(m->streams[i]->jitter, out, frames, now);
        pthread_mutex_unlock(&m->lock);
}

/* ---- the microphone ---- */

int media_mic_start(ClientMedia *m, const WireMicStart *s) {
        int err;
        if (s->codec != WIRE_CODEC_OPUS || !media_opus_rate_valid(s->sample_rate) || s->channels < 1 || s->channels > 2)
                return -EBADMSG;
        media_mic_stop(m);
        if (!m->options.microphone)
                return 0; /* we offered none: nothing to send */
        m->mic = opus_encoder_create((opus_int32) s->sample_rate, s->channels, OPUS_APPLICATION_VOIP, &err);
        if (!m->mic)
                return -ENOMEM;
        m->mic_frame = s->sample_rate / (1000000 / MIC_FRAME_USEC);
        m->mic_pcm = calloc(m->mic_frame * s->channels, sizeof(int16_t));
        if (!m->mic_pcm) {
                media_mic_stop(m);
                return -ENOMEM;
        }
        m->mic_stream = s->stream;
        m->mic_rate = s->sample_rate;
        m->mic_channels = s->channels;
        m->mic_seq = 0;
        m->mic_fill = 0;
        m->mic_samples = 0;
        if (m->cb.on_mic)
                m->cb.on_mic(true, s->sample_rate, s->channels, m->userdata);
        return 0;
}

void media_mic_stop(ClientMedia *m) {
        if (!m->mic)
                return;
        opus_encoder_destroy(m->mic);
        m->mic = NULL;
        free(m->mic_pcm);
        m->mic_pcm = NULL;
        if (m->cb.on_mic)
                m->cb.on_mic(false, 0, 0, m->userdata);
}

bool client_media_mic_active(ClientMedia *m) {
        return m->mic != NULL;
}

static int mic_send(ClientMedia *m) {
        uint8_t packet[MIC_PACKET_MAX];
        opus_int32 n = opus_encode(m->mic, m->mic_pcm, (int) m->mic_frame, packet, sizeof(packet));
        if (n < 0)
                return -EIO;
        WireMicPacket p = { .stream = m->mic_stream, .seq = m->mic_seq++,
                            .pts_us = m->mic_samples * 1000000 / m->mic_rate, .data = packet, .data_len = (size_t) n };
        m->mic_samples += m->mic_frame;
        Buffer *out = m->cb.out ? m->cb.out(m->userdata) : NULL;
        if (!out)
                return 0; /* between connections: this packet is lost, as over UDP */
        int r = wire_encode_mic_packet(out, &p);
        return r == -ENOBUFS ? 0 : r;
}

int client_media_mic_push(ClientMedia *m, const int16_t *pcm, size_t frames, uint64_t now) {
        if (!m->mic)
                return -ENOTCONN;
        while (frames > 0) {
                size_t n = MIN(frames, m->mic_frame - m->mic_fill);
                memcpy(m->mic_pcm + m->mic_fill * m->mic_channels, pcm, n * m->mic_channels * sizeof(int16_t));
                m->mic_fill += n;
                pcm += n * m->mic_channels;
                frames -= n;
                if (m->mic_fill == m->mic_frame) {
                        m->mic_fill = 0;
                        int r = mic_send(m);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}
