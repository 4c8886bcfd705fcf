/* The VM's own sound through hostd, in the in-process harness (test-harness.h): the fake QEMU
 * registers hostd's audio listeners as QEMU's D-Bus audio does and plays a sine through the
 * playback listener (44.1 kHz stereo s16, as QEMU's mixing engine hands it over); a raw viewer
 * with caps media + media-opus must get media-start (source vm, Opus, 48 kHz) and Opus packets
 * that decode, with libopus here, to the sine's frequency (within 2%) and level; a viewer without
 * the opus cap gets nothing; disable -> media-stop; a viewer joining while the voice plays gets
 * media-start. Microphone: the guest records -> the interactive viewer (cap microphone) gets
 * mic-start, its Opus mic-packets of a sine come out of QEMU's Read at QEMU's rate with the
 * sine's frequency, and the microphone follows a handover of the interactive role; a view-only
 * viewer's packets are ignored (one notice), malformed ones
 * counted; Read on an empty ring is silence of the size asked. Malformed Init/Write from QEMU
 * are refused and counted, and hostd goes on. */
#include "check.h"
#include <errno.h>
#include <math.h>
#include <opus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostd-audio-internal.h"
#include "hostd-manager.h"
#include "log.h"
#include "test-harness.h"

#define SECOND 1000000ULL
#define WAIT (10 * SECOND)
#define MEDIA_CAPS (0x1fULL | WIRE_CAP_MEDIA | WIRE_CAP_MEDIA_OPUS)

typedef struct Rec {
        HarnessRaw *raw;
        bool welcomed;
        uint64_t session;
        unsigned starts, stops, packets, mic_starts, mic_stops, notices, media_other;
        WireMediaStart start;
        uint32_t stop_stream;
        WireMicStart mic_start;
        uint32_t next_seq;
        bool seq_ok, pts_ok;
        uint64_t last_pts;
        OpusDecoder *decoder;
        int16_t *pcm; /* decoded, interleaved */
        size_t frames, cap;
} Rec;

static void rec_message(HarnessRaw *raw, const WireMessage *m, void *userdata) {
        Rec *r = userdata;
        int err;

        switch (m->type) {
        case WIRE_TYPE_WELCOME:
                r->welcomed = true;
                r->session = m->welcome.session;
                break;
        case WIRE_TYPE_NOTICE:
                r->notices++;
                break;
        case WIRE_TYPE_MEDIA_START:
                r->starts++;
                r->start = m->media_start;
                r->next_seq = 0;
                if (!r->decoder)
                        r->decoder = opus_decoder_create(48000, m->media_start.channels, &err);
                check(r->decoder);
                break;
        case WIRE_TYPE_MEDIA_STOP:
                r->stops++;
                r->stop_stream = m->media_stop.stream;
                break;
        case WIRE_TYPE_MEDIA_PACKET: {
                const WireMediaPacket *p = &m->media_packet;
                r->seq_ok &= p->stream == r->start.stream && p->seq == r->next_seq;
                r->pts_ok &= r->packets == 0 || p->pts_us == r->last_pts + 20000;
                r->next_seq = p->seq + 1;
                r->last_pts = p->pts_us;
                r->packets++;
                if (r->frames + 5760 > r->cap) {
                        r->cap = (r->cap + 5760) * 2;
                        r->pcm = realloc(r->pcm, r->cap * 2 * sizeof(int16_t));
                        check(r->pcm);
                }
                int n = opus_decode(r->decoder, p->data, (opus_int32) p->data_len,
                                    r->pcm + r->frames * r->start.channels, 5760, 0);
                check(n > 0);
                r->frames += (size_t) n;
                break;
        }
        case WIRE_TYPE_MIC_START:
                r->mic_starts++;
                r->mic_start = m->mic_start;
                break;
        case WIRE_TYPE_MIC_STOP:
                r->mic_stops++;
                break;
        default:
                if (m->channel == 7)
                        r->media_other++;
                break;
        }
}

static Rec *rec_new(Harness *h, TicketRole role, uint64_t caps) {
        Rec *r = calloc(1, sizeof(Rec));
        char *ticket = NULL;
        check(r);
        r->seq_ok = r->pts_ok = true;
        check(harness_ticket(h, role == TICKET_ROLE_INTERACTIVE ? "alice" : "bob", role, &ticket) >= 0);
        check(harness_raw_new_caps(h, ticket, caps, &r->raw) >= 0);
        free(ticket);
        r->raw->on_message = rec_message;
        r->raw->userdata = r;
        return r;
}

static void rec_free(Rec *r) {
        harness_raw_free(r->raw);
        if (r->decoder)
                opus_decoder_destroy(r->decoder);
        free(r->pcm);
        free(r);
}

static bool rec_welcomed(void *userdata) {
        return ((Rec *) userdata)->welcomed;
}

/* Upward zero crossings of one channel from `skip` on: the frequency, and the peak level. */
static double frequency(const int16_t *pcm, size_t frames, unsigned channels, size_t skip, double rate,
                        double *peak) {
        size_t first = 0, last = 0, n = 0;
        int16_t max = 0;
        for (size_t i = skip + 1; i < frames; i++) {
                int16_t a = pcm[(i - 1) * channels], b = pcm[i * channels];
                if (abs(b) > max)
                        max = (int16_t) MIN(abs(b), 32767);
                if (a < 0 && b >= 0) {
                        if (n++ == 0)
                                first = i;
                        last = i;
                }
        }
        *peak = max / 32768.0;
        return n > 1 ? (double) (n - 1) * rate / (double) (last - first) : 0.0;
}

typedef struct Wait {
        Rec *rec;
        unsigned packets;
} Wait;

static bool has_packets(void *userdata) {
        Wait *w = userdata;
        return w->rec->packets >= w->packets;
}
static bool has_stop(void *userdata) {
        return ((Rec *) userdata)->stops > 0;
}
static bool has_mic_start(void *userdata) {
        return ((Rec *) userdata)->mic_starts > 0;
}
static bool has_mic_stop(void *userdata) {
        return ((Rec *) userdata)->mic_stops > 0;
}
static bool has_notice(void *userdata) {
        return ((Rec *) userdata)->notices > 0;
}

static bool audio_ready(void *userdata) {
        Harness *h = userdata;
        Audio *a = manager_audio(h->manager, h->desktop);
        return fake_qemu_audio_ready(h->qemu, true) && fake_qemu_audio_ready(h->qemu, false) && a &&
               a->out.state == AUDIO_LISTENER_REGISTERED && a->in.state == AUDIO_LISTENER_REGISTERED;
}

static bool all_answered(void *userdata) {
        FakeQemu *q = userdata;
        return q->audio_replies == q->audio_calls;
}

/* Until hostd answered every audio call the fake made. */
static void settle(Harness *h) {
        check(harness_run_until(h, all_answered, h->qemu, WAIT) == 0);
}

static void test_playback(Harness *h, Rec *opus, Rec *plain) {
        Audio *a = manager_audio(h->manager, h->desktop);
        double phase = 0;
        const uint8_t full[2] = { 255, 255 };

        check(fake_qemu_audio_init(h->qemu, true, 7, 16, false, 44100, 2) >= 0);
        check(fake_qemu_audio_set_volume(h->qemu, true, 7, false, full, 2) >= 0);
        check(fake_qemu_audio_set_enabled(h->qemu, true, 7, true) >= 0);
        settle(h);
        check(h->qemu->audio_errors == 0);
        /* Two seconds of 1 kHz at half scale, in QEMU's 10 ms writes. */
        for (int i = 0; i < 200; i++)
                check(fake_qemu_audio_write_sine(h->qemu, 7, 1000.0, 0.5, 44100, 2, 441, &phase) >= 0);
        Wait w = { opus, 95 };
        check(harness_run_until(h, has_packets, &w, WAIT) == 0);

        check(opus->starts == 1);
        check(opus->start.stream >= AUDIO_STREAM_BASE);
        check(opus->start.source == 1 && opus->start.kind == 0 && opus->start.codec == 0);
        check(opus->start.sample_rate == 48000 && opus->start.channels == 2);
        check(opus->seq_ok && opus->pts_ok);
        double peak, hz = frequency(opus->pcm, opus->frames, 2, 4800, 48000.0, &peak);
        printf("playback: %u packets, %zu frames decoded, %.1f Hz, peak %.3f\n", opus->packets, opus->frames, hz, peak);
        check(fabs(hz - 1000.0) < 20.0);
        check(peak > 0.4 && peak < 0.6);
        /* hostd's own figures say the same (status JSON's tone_hz and level). */
        check(fabs(a->voices[0].tone_hz - 1000.0) < 20.0);
        check(a->voices[0].peak > 0.4);
        check(a->packets >= 95 && a->bytes > 0 && a->viewers == 1);

        /* Muted: silence, then (DTX) no packets at all; the stream stays. */
        const uint8_t zero[2] = { 0, 0 };
        check(fake_qemu_audio_set_volume(h->qemu, true, 7, true, zero, 2) >= 0);
        for (int i = 0; i < 200; i++)
                check(fake_qemu_audio_write_sine(h->qemu, 7, 1000.0, 0.5, 44100, 2, 441, &phase) >= 0);
        settle(h);
        check(a->silent_packets > 0 && a->silent_packets < 100);
        check(opus->stops == 0);

        /* The viewer without media-opus got nothing of it. */
        check(plain->starts == 0 && plain->packets == 0 && plain->media_other == 0);

        check(fake_qemu_audio_set_enabled(h->qemu, true, 7, false) >= 0);
        check(harness_run_until(h, has_stop, opus, WAIT) == 0);
        check(opus->stop_stream == opus->start.stream);
        check(plain->stops == 0);
}

static void test_late_joiner(Harness *h) {
        check(fake_qemu_audio_set_volume(h->qemu, true, 7, false, (const uint8_t[]) { 255, 255 }, 2) >= 0);
        check(fake_qemu_audio_set_enabled(h->qemu, true, 7, true) >= 0);
        settle(h);
        Rec *late = rec_new(h, TICKET_ROLE_VIEW_ONLY, MEDIA_CAPS);
        check(harness_run_until(h, rec_welcomed, late, WAIT) == 0);
        double phase = 0;
        for (int i = 0; i < 20; i++)
                check(fake_qemu_audio_write_sine(h->qemu, 7, 440.0, 0.5, 44100, 2, 441, &phase) >= 0);
        Wait w = { late, 8 };
        check(harness_run_until(h, has_packets, &w, WAIT) == 0);
        check(late->starts == 1 && late->start.stream >= AUDIO_STREAM_BASE);
        /* Fini ends the stream too. */
        check(fake_qemu_audio_fini(h->qemu, true, 7) >= 0);
        check(harness_run_until(h, has_stop, late, WAIT) == 0);
        rec_free(late);
}

static void send_mic(Rec *r, uint32_t stream, uint32_t seq, const uint8_t *data, size_t len) {
        WireMicPacket p = { .stream = stream, .seq = seq, .pts_us = (uint64_t) seq * 20000, .data = data,
                            .data_len = len };
        check(wire_encode_mic_packet(wire_conn_out(r->raw->conn), &p) >= 0);
        check(harness_raw_send(r->raw, "", 0) >= 0);
}

static void test_microphone(Harness *h, Rec *interactive, Rec *viewer) {
        Audio *a = manager_audio(h->manager, h->desktop);
        int err;

        check(fake_qemu_audio_init(h->qemu, false, 9, 16, false, 44100, 2) >= 0);
        /* An empty ring reads as silence of the size asked. */
        check(fake_qemu_audio_read(h->qemu, 9, 1764) >= 0);
        settle(h);
        fprintf(stderr, "read: %zu bytes, %u errors\n", h->qemu->audio_read_len, h->qemu->audio_errors);
        check(h->qemu->audio_read_len == 1764);
        for (size_t i = 0; i < 1764; i++)
                check(h->qemu->audio_read[i] == 0);
        h->qemu->audio_read_len = 0;

        check(fake_qemu_audio_set_enabled(h->qemu, false, 9, true) >= 0);
        check(harness_run_until(h, has_mic_start, interactive, WAIT) == 0);
        check(interactive->mic_start.codec == 0 && interactive->mic_start.sample_rate == 48000);
        check(interactive->mic_start.stream >= AUDIO_STREAM_BASE);
        uint8_t ch = interactive->mic_start.channels;
        check(ch == 2);
        check(viewer->mic_starts == 0); /* view-only */

        /* 0.8 s of 600 Hz from the viewer's "microphone", 20 ms Opus packets. */
        OpusEncoder *enc = opus_encoder_create(48000, ch, OPUS_APPLICATION_AUDIO, &err);
        check(enc);
        double phase = 0;
        for (uint32_t seq = 0; seq < 40; seq++) {
                int16_t pcm[960 * 2];
                uint8_t packet[4000];
                for (int i = 0; i < 960; i++) {
                        int16_t s = (int16_t) lrint(sin(phase) * 0.5 * 32767.0);
                        for (int c = 0; c < ch; c++)
                                pcm[i * ch + c] = s;
                        phase = fmod(phase + 2.0 * M_PI * 600.0 / 48000.0, 2.0 * M_PI);
                }
                int n = opus_encode(enc, pcm, 960, packet, sizeof(packet));
                check(n > 0);
                send_mic(interactive, interactive->mic_start.stream, seq, packet, (size_t) n);
        }
        opus_encoder_destroy(enc);
        /* Malformed Opus (a code-3 packet of zero frames) and a packet for another stream. */
        send_mic(interactive, interactive->mic_start.stream, 40, (const uint8_t[]) { 0x03, 0x00 }, 2);
        send_mic(interactive, 0x12345678, 41, (const uint8_t[]) { 0xf8, 0xff, 0xfe }, 3);
        /* The view-only viewer's is ignored, with one notice. */
        send_mic(viewer, interactive->mic_start.stream, 0, (const uint8_t[]) { 0xf8, 0xff, 0xfe }, 3);
        send_mic(viewer, interactive->mic_start.stream, 1, (const uint8_t[]) { 0xf8, 0xff, 0xfe }, 3);
        check(harness_run_until(h, has_notice, viewer, WAIT) == 0);
        harness_run_until(h, NULL, NULL, SECOND / 5);
        check(a->mic_packets == 40);
        check(a->mic_malformed == 1);
        check(a->mic_dropped == 1);
        check(a->mic_ignored == 2);
        check(viewer->notices == 1);

        /* QEMU reads it at its own rate: 0.7 s in 10 ms reads. */
        for (int i = 0; i < 70; i++)
                check(fake_qemu_audio_read(h->qemu, 9, 441 * 4) >= 0);
        settle(h);
        check(h->qemu->audio_read_len == 70 * 441 * 4);
        double peak, hz = frequency((const int16_t *) h->qemu->audio_read, h->qemu->audio_read_len / 4, 2, 4410,
                                    44100.0, &peak);
        printf("microphone: %zu bytes read, %.1f Hz, peak %.3f\n", h->qemu->audio_read_len, hz, peak);
        check(fabs(hz - 600.0) < 12.0);
        check(peak > 0.35 && peak < 0.65);

        /* The microphone follows the interactive role: handed over, the old viewer gets mic-stop and
         * the new one mic-start of the same stream. */
        Rec *next = rec_new(h, TICKET_ROLE_INTERACTIVE, MEDIA_CAPS | WIRE_CAP_MICROPHONE);
        check(harness_run_until(h, rec_welcomed, next, WAIT) == 0);
        check(next->mic_starts == 0); /* view-only until the handover */
        WireHandover ho = { .to_session = next->session };
        check(wire_encode_handover(wire_conn_out(interactive->raw->conn), &ho) >= 0);
        check(harness_raw_send(interactive->raw, "", 0) >= 0);
        check(harness_run_until(h, has_mic_start, next, WAIT) == 0);
        check(harness_run_until(h, has_mic_stop, interactive, WAIT) == 0);
        check(next->mic_start.stream == interactive->mic_start.stream);

        check(fake_qemu_audio_set_enabled(h->qemu, false, 9, false) >= 0);
        check(harness_run_until(h, has_mic_stop, next, WAIT) == 0);
        rec_free(next);
}

static void test_malformed(Harness *h) {
        Audio *a = manager_audio(h->manager, h->desktop);
        uint64_t before = a->malformed;
        unsigned errors = h->qemu->audio_errors;

        /* u8, a frame size that lies, a rate out of range, 9 channels; Write/SetEnabled of an unknown voice. */
        check(fake_qemu_audio_init_raw(h->qemu, true, 1, 8, false, false, 44100, 2, 2, 88200, false) >= 0);
        check(fake_qemu_audio_init_raw(h->qemu, true, 2, 16, true, false, 44100, 2, 3, 132300, false) >= 0);
        check(fake_qemu_audio_init_raw(h->qemu, true, 3, 16, true, false, 1000000, 2, 4, 4000000, false) >= 0);
        check(fake_qemu_audio_init_raw(h->qemu, false, 4, 32, true, true, 48000, 9, 36, 36 * 48000, false) >= 0);
        check(fake_qemu_audio_write(h->qemu, 99, "abcd", 4) >= 0);
        check(fake_qemu_audio_set_enabled(h->qemu, true, 99, true) >= 0);
        settle(h);
        check(h->qemu->audio_errors == errors + 6);
        check(a->malformed == before + 6);
        /* hostd goes on: a float voice plays. */
        check(fake_qemu_audio_init(h->qemu, true, 5, 32, true, 48000, 1) >= 0);
        check(fake_qemu_audio_set_enabled(h->qemu, true, 5, true) >= 0);
        uint8_t odd[7] = { 0 }; /* a Write of a partial frame is kept for the next */
        check(fake_qemu_audio_write(h->qemu, 5, odd, sizeof(odd)) >= 0);
        settle(h);
        check(h->qemu->audio_errors == errors + 6);
        check(fake_qemu_audio_fini(h->qemu, true, 5) >= 0);
        settle(h);
}

typedef struct JsonOut {
        char buf[2048];
        size_t len;
} JsonOut;

static void write_json(void *userdata, const char *data, size_t n) {
        JsonOut *o = userdata;
        if (o->len + n < sizeof(o->buf)) {
                memcpy(o->buf + o->len, data, n);
                o->len += n;
        }
}

static void test_status(Harness *h) {
        JsonOut o = {};
        audio_describe_json(manager_audio(h->manager, h->desktop), write_json, &o);
        printf("status: %s\n", o.buf);
        check(strstr(o.buf, "\"state\":\"idle\""));
        check(strstr(o.buf, "\"mic\":{\"state\":\"idle\""));
        check(strstr(o.buf, "\"malformed\":6,"));
}

int main(void) {
        _cleanup_(harness_freep) Harness *h = NULL;

        check(harness_new(NULL, &h) >= 0);
        check(harness_run_until(h, audio_ready, h, WAIT) == 0);
        check(h->qemu->audio_out_registrations == 1 && h->qemu->audio_in_registrations == 1);

        Rec *opus = rec_new(h, TICKET_ROLE_INTERACTIVE, MEDIA_CAPS | WIRE_CAP_MICROPHONE);
        check(harness_run_until(h, rec_welcomed, opus, WAIT) == 0);
        Rec *plain = rec_new(h, TICKET_ROLE_VIEW_ONLY, 0x1fULL | WIRE_CAP_MEDIA | WIRE_CAP_MICROPHONE);
        check(harness_run_until(h, rec_welcomed, plain, WAIT) == 0);

        test_playback(h, opus, plain);
        test_late_joiner(h);
        test_microphone(h, opus, plain);
        test_malformed(h);
        test_status(h);

        /* QEMU drops the playback listener (as on a crash of its side): hostd registers again. */
        h->qemu->audio_out = sd_bus_flush_close_unref(h->qemu->audio_out);
        check(harness_run_until(h, audio_ready, h, WAIT) == 0);
        check(h->qemu->audio_out_registrations == 2);

        rec_free(opus);
        rec_free(plain);
        printf("test-audio: OK\n");
        return 0;
}
