/* The VM's sound through hostd (vmaudio): CPU per stream and bytes on the wire. In-process: the
 * fake QEMU writes 44.1 kHz stereo s16 (QEMU's default) (three tones with vibrato and a little noise: music-like, not
 * a sine Opus would make nothing of) in QEMU's 10 ms writes, hostd resamples it to 48 kHz, encodes it to 20 ms
 * Opus frames and sends them to one raw viewer with caps media + media-opus. Prints, per [Audio]
 * Bitrate=:
 *   - encode CPU: the converter and libopus alone (what hostd adds per stream), ms of CPU per
 *     second of audio and % of one core;
 *   - pipeline CPU: the whole process (fake QEMU's D-Bus calls, hostd, the viewer's TLS reads),
 *     an upper bound of hostd's share;
 *   - bytes per second: Opus payload, and wire messages (8-byte header + 17 bytes of fields).
 * Usage: bench-vm-audio [SECONDS] (default 20 s of audio per bitrate). */
#include <inttypes.h>
#include <math.h>
#include <opus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hostd-audio-internal.h"
#include "hostd-manager.h"
#include "log.h"
#include "test-harness.h"

/* What QEMU's mixing engine hands over by default (the integration test sees it): hostd resamples. */
#define RATE 44100
#define WRITE_FRAMES 441 /* QEMU's 10 ms */

static double cpu_seconds(void) {
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Music-like stereo: 220, 330 and 554 Hz with a slow vibrato, left and right a little apart, and
 * noise 40 dB down. */
static void signal_fill(int16_t *pcm, size_t frames, uint64_t *t, uint32_t *rng) {
        for (size_t i = 0; i < frames; i++, (*t)++) {
                double s = (double) *t / RATE, vib = 1.0 + 0.01 * sin(2 * M_PI * 5 * s);
                double l = 0.25 * sin(2 * M_PI * 220 * vib * s) + 0.15 * sin(2 * M_PI * 330 * s) +
                           0.1 * sin(2 * M_PI * 554 * s);
                double r = 0.25 * sin(2 * M_PI * 220 * vib * s + 0.5) + 0.1 * sin(2 * M_PI * 330 * s) +
                           0.15 * sin(2 * M_PI * 554 * s + 1.0);
                *rng = *rng * 1664525u + 1013904223u;
                double n = ((double) (*rng >> 8) / (1 << 24) - 0.5) * 0.02;
                pcm[2 * i] = (int16_t) lrint((l + n) * 32767);
                pcm[2 * i + 1] = (int16_t) lrint((r + n) * 32767);
        }
}

static double bench_encode(unsigned bitrate, double seconds) {
        AudioFormat in = { .sample = AUDIO_S16, .rate = RATE, .channels = 2 },
                    out = { .sample = AUDIO_S16, .rate = AUDIO_OPUS_RATE, .channels = 2 };
        AudioConverter *c = NULL;
        Buffer pcm;
        int err;
        uint64_t t = 0;
        uint32_t rng = 1;
        int16_t chunk[WRITE_FRAMES * 2];
        uint8_t packet[AUDIO_PACKET_MAX];

        audio_converter_new(&in, &out, &c);
        OpusEncoder *enc = opus_encoder_create(AUDIO_OPUS_RATE, 2, OPUS_APPLICATION_AUDIO, &err);
        opus_encoder_ctl(enc, OPUS_SET_BITRATE((opus_int32) bitrate));
        buffer_init(&pcm, 1 << 20);
        size_t writes = (size_t) (seconds * RATE / WRITE_FRAMES);
        double start = cpu_seconds();
        for (size_t w = 0; w < writes; w++) {
                signal_fill(chunk, WRITE_FRAMES, &t, &rng);
                audio_converter_push(c, chunk, sizeof(chunk), &pcm);
                while (buffer_len(&pcm) >= AUDIO_FRAME_SAMPLES * 4) {
                        int16_t frame[AUDIO_FRAME_SAMPLES * 2];
                        memcpy(frame, buffer_data(&pcm), sizeof(frame));
                        buffer_consume(&pcm, sizeof(frame));
                        if (opus_encode(enc, frame, AUDIO_FRAME_SAMPLES, packet, sizeof(packet)) < 0)
                                abort();
                }
        }
        double cpu = cpu_seconds() - start;
        /* The signal itself costs too: measure it alone and take it off. */
        start = cpu_seconds();
        for (size_t w = 0; w < writes; w++)
                signal_fill(chunk, WRITE_FRAMES, &t, &rng);
        cpu -= cpu_seconds() - start;
        buffer_done(&pcm);
        opus_encoder_destroy(enc);
        audio_converter_free(c);
        return cpu;
}

typedef struct Counts {
        uint64_t packets, payload, wire;
        bool welcomed;
} Counts;

static void on_message(HarnessRaw *raw, const WireMessage *m, void *userdata) {
        Counts *c = userdata;
        if (m->type == WIRE_TYPE_WELCOME)
                c->welcomed = true;
        if (m->type == WIRE_TYPE_MEDIA_PACKET) {
                c->packets++;
                c->payload += m->media_packet.data_len;
                c->wire += WIRE_HEADER_SIZE + 17 + m->media_packet.data_len;
        }
}

static bool welcomed(void *userdata) {
        return ((Counts *) userdata)->welcomed;
}

typedef struct Want {
        Counts *counts;
        uint64_t packets;
} Want;

static bool got(void *userdata) {
        Want *w = userdata;
        return w->counts->packets >= w->packets;
}

static bool ready(void *userdata) {
        Harness *h = userdata;
        Audio *a = manager_audio(h->manager, h->desktop);
        return a && a->out.state == AUDIO_LISTENER_REGISTERED && fake_qemu_audio_ready(h->qemu, true);
}

static bool answered(void *userdata) {
        FakeQemu *q = userdata;
        return q->audio_replies == q->audio_calls;
}

static void set_bitrate(HostdConfig *c, void *userdata) {
        c->audio.bitrate = *(unsigned *) userdata;
}

static int bench_pipeline(unsigned bitrate, double seconds) {
        HarnessOptions o = { .configure = set_bitrate, .configure_userdata = &bitrate };
        Harness *h = NULL;
        HarnessRaw *raw = NULL;
        Counts counts = {};
        uint64_t t = 0;
        uint32_t rng = 1;
        int16_t chunk[WRITE_FRAMES * 2];
        char *ticket = NULL;

        if (harness_new(&o, &h) < 0 || harness_run_until(h, ready, h, 10000000) < 0 ||
            harness_ticket(h, "bench", TICKET_ROLE_INTERACTIVE, &ticket) < 0 ||
            harness_raw_new_caps(h, ticket, 0x1fULL | WIRE_CAP_MEDIA | WIRE_CAP_MEDIA_OPUS, &raw) < 0) {
                fprintf(stderr, "bench-vm-audio: harness set-up failed\n");
                return 1;
        }
        free(ticket);
        raw->on_message = on_message;
        raw->userdata = &counts;
        harness_run_until(h, welcomed, &counts, 10000000);
        fake_qemu_audio_init(h->qemu, true, 1, 16, false, RATE, 2);
        fake_qemu_audio_set_enabled(h->qemu, true, 1, true);
        harness_run_until(h, answered, h->qemu, 10000000);

        size_t writes = (size_t) (seconds * RATE / WRITE_FRAMES);
        double start = cpu_seconds();
        for (size_t w = 0; w < writes; w++) {
                signal_fill(chunk, WRITE_FRAMES, &t, &rng);
                fake_qemu_audio_write(h->qemu, 1, chunk, sizeof(chunk));
                if (w % 10 == 9) /* QEMU does not queue unboundedly: let each 100 ms through */
                        harness_run_until(h, answered, h->qemu, 10000000);
        }
        Want want = { &counts, (uint64_t) (seconds * 50) - 2 };
        harness_run_until(h, got, &want, 30000000);
        double cpu = cpu_seconds() - start;

        printf("  pipeline: %6.2f ms CPU per audio second (%5.2f%% of a core; fake QEMU + hostd + viewer)\n",
               cpu * 1000 / seconds, cpu * 100 / seconds);
        printf("  wire:     %" PRIu64 " packets, %6.0f B/s Opus payload, %6.0f B/s wire messages (%.1f kb/s)\n",
               counts.packets, counts.payload / seconds, counts.wire / seconds, counts.wire * 8 / seconds / 1000);
        harness_raw_free(raw);
        harness_free(h);
        return 0;
}

int main(int argc, char **argv) {
        double seconds = argc > 1 ? atof(argv[1]) : 20.0;
        static const unsigned bitrates[] = { 32000, 64000, 96000, 128000 };

        if (!(seconds >= 1 && seconds <= 600)) {
                fprintf(stderr, "usage: bench-vm-audio [SECONDS]\n");
                return 2;
        }
        printf("bench-vm-audio: %.0f s of 44.1 kHz stereo s16 per bitrate, 10 ms writes, 48 kHz 20 ms Opus frames\n",
               seconds);
        for (size_t i = 0; i < sizeof(bitrates) / sizeof(bitrates[0]); i++) {
                double enc = bench_encode(bitrates[i], seconds);
                printf("Bitrate=%u:\n  encode:   %6.2f ms CPU per audio second (%5.2f%% of a core; converter + libopus)\n",
                       bitrates[i], enc * 1000 / seconds, enc * 100 / seconds);
                if (bench_pipeline(bitrates[i], seconds) != 0)
                        return 1;
        }
        return 0;
}
