/* QEMU's record voices (org.qemu.Display1.AudioInListener) <- the interactive viewer's microphone.
 * QEMU's Read waits for its answer (a synchronous call in QEMU's main loop): it is answered at
 * once from the ring, silence filling what the viewer has not sent. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hostd-audio-internal.h"
#include "hostd-manager.h"
#include "hostd-viewer.h"
#include "log.h"

/* 120 ms at 48 kHz stereo: the longest Opus packet decodes into this. */
#define DECODE_SAMPLES (5760u * 2u)

static AudioInVoice *mic_find(Audio *a, uint64_t id) {
        for (size_t i = 0; i < AUDIO_VOICES_MAX; i++)
                if (a->mics[i].used && a->mics[i].id == id)
                        return &a->mics[i];
        return NULL;
}

void audio_in_send_start(Audio *a, AudioInVoice *mic, Viewer *v) {
        WireMicStart start = { .stream = mic->stream, .codec = 0, .sample_rate = AUDIO_OPUS_RATE,
                               .channels = mic->channels };
        (void) wire_encode_mic_start(wire_conn_out(v->conn), &start);
        mic->session = v->session;
}

typedef struct RoleChange {
        AudioInVoice *mic;
        Viewer *interactive;
} RoleChange;

static void find_interactive(Audio *a, Viewer *v, void *userdata) {
        RoleChange *c = userdata;
        if (v->interactive)
                c->interactive = v;
}

static void stop_old(Audio *a, Viewer *v, void *userdata) {
        RoleChange *c = userdata;
        if (v->session != c->mic->session)
                return;
        WireMicStop stop = { .stream = c->mic->stream };
        (void) wire_encode_mic_stop(wire_conn_out(v->conn), &stop);
        viewer_flush(v);
}

void audio_roles_changed(Audio *a) {
        for (size_t i = 0; i < AUDIO_VOICES_MAX; i++) {
                RoleChange c = { .mic = &a->mics[i] };
                if (!c.mic->used || !c.mic->enabled)
                        continue;
                audio_foreach_viewer(a, WIRE_CAP_MICROPHONE, find_interactive, &c);
                if (c.interactive && c.interactive->session == c.mic->session)
                        continue;
                audio_foreach_viewer(a, WIRE_CAP_MICROPHONE, stop_old, &c);
                c.mic->session = 0;
                buffer_clear(&c.mic->ring); /* the old viewer's voice is not the new one's */
                if (c.interactive) {
                        audio_in_send_start(a, c.mic, c.interactive);
                        viewer_flush(c.interactive);
                }
        }
}

static void send_start(Audio *a, Viewer *v, void *userdata) {
        if (!v->interactive)
                return;
        audio_in_send_start(a, userdata, v);
        viewer_flush(v);
}

static void send_stop(Audio *a, Viewer *v, void *userdata) {
        WireMicStop stop = { .stream = *(uint32_t *) userdata };
        (void) wire_encode_mic_stop(wire_conn_out(v->conn), &stop);
        viewer_flush(v);
}

static void mic_disable(Audio *a, AudioInVoice *mic) {
        if (!mic->enabled)
                return;
        mic->enabled = false;
        mic->session = 0;
        audio_foreach_viewer(a, WIRE_CAP_MICROPHONE, send_stop, &mic->stream);
        manager_emit(a->manager, "mic-stop %s %u", a->desktop, mic->stream);
        buffer_clear(&mic->ring);
}

static void mic_enable(Audio *a, AudioInVoice *mic) {
        if (mic->enabled)
                return;
        mic->enabled = true;
        mic->stream = audio_next_stream(a);
        opus_decoder_ctl(mic->decoder, OPUS_RESET_STATE);
        audio_foreach_viewer(a, WIRE_CAP_MICROPHONE, send_start, mic);
        manager_emit(a->manager, "mic-start %s %u", a->desktop, mic->stream);
}

void audio_in_voice_clear(Audio *a, AudioInVoice *mic) {
        if (!mic->used)
                return;
        mic_disable(a, mic);
        audio_converter_free(mic->converter);
        if (mic->decoder)
                opus_decoder_destroy(mic->decoder);
        buffer_done(&mic->ring);
        *mic = (AudioInVoice) {};
}

static int reply_error(Audio *a, sd_bus_error *error, const char *why) {
        a->malformed++;
        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "%s", why);
}

static int method_init(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Audio *a = userdata;
        uint64_t id;
        uint8_t bits, nchannels;
        int is_signed, is_float, be, err;
        uint32_t freq, bytes_per_frame, bytes_per_second;
        AudioFormat f;
        char desc[64];
        int r;

        r = sd_bus_message_read(m, "tybbuyuub", &id, &bits, &is_signed, &is_float, &freq, &nchannels,
                                &bytes_per_frame, &bytes_per_second, &be);
        if (r < 0)
                return r;
        if (audio_format_parse(bits, is_signed, is_float, freq, nchannels, bytes_per_frame, bytes_per_second, be,
                               &f) < 0) {
                log_warning("%s: QEMU's record voice has a format hostd does not take, ignoring it", a->desktop);
                return reply_error(a, error, "Unsupported PCM format");
        }
        AudioInVoice *mic = mic_find(a, id);
        if (mic)
                audio_in_voice_clear(a, mic);
        for (size_t i = 0; !mic && i < AUDIO_VOICES_MAX; i++)
                if (!a->mics[i].used)
                        mic = &a->mics[i];
        if (!mic)
                return reply_error(a, error, "Too many record voices");

        uint8_t channels = f.channels >= 2 ? 2 : 1;
        AudioFormat opus_out = { .sample = AUDIO_S16, .big_endian = __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__,
                                 .rate = AUDIO_OPUS_RATE, .channels = channels };
        *mic = (AudioInVoice) { .used = true, .id = id, .format = f, .channels = channels };
        mic->ring_max = (size_t) ((uint64_t) f.rate * audio_format_frame_size(&f) * AUDIO_MIC_RING_USEC / 1000000u);
        buffer_init(&mic->ring, mic->ring_max + 2 * DECODE_SAMPLES * sizeof(float) * AUDIO_CHANNELS_MAX * 4);
        r = audio_converter_new(&opus_out, &f, &mic->converter);
        if (r >= 0) {
                mic->decoder = opus_decoder_create(AUDIO_OPUS_RATE, channels, &err);
                if (!mic->decoder)
                        r = -ENOMEM;
        }
        if (r < 0) {
                audio_in_voice_clear(a, mic);
                return sd_bus_error_set_errnof(error, -r, "Cannot set up the voice");
        }
        log_info("%s: record voice %s", a->desktop, audio_format_describe(&f, desc, sizeof(desc)));
        return sd_bus_reply_method_return(m, NULL);
}

static int method_fini(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Audio *a = userdata;
        uint64_t id;
        int r = sd_bus_message_read(m, "t", &id);
        if (r < 0)
                return r;
        AudioInVoice *mic = mic_find(a, id);
        if (mic)
                audio_in_voice_clear(a, mic);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_set_enabled(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Audio *a = userdata;
        uint64_t id;
        int enabled;
        int r = sd_bus_message_read(m, "tb", &id, &enabled);
        if (r < 0)
                return r;
        AudioInVoice *mic = mic_find(a, id);
        if (!mic)
                return reply_error(a, error, "Unknown voice");
        if (enabled)
                mic_enable(a, mic);
        else
                mic_disable(a, mic);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_set_volume(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Audio *a = userdata;
        uint64_t id;
        int mute;
        const void *volume;
        size_t n;
        int r = sd_bus_message_read(m, "tb", &id, &mute);
        if (r >= 0)
                r = sd_bus_message_read_array(m, 'y', &volume, &n);
        if (r < 0)
                return r;
        AudioInVoice *mic = mic_find(a, id);
        if (!mic)
                return reply_error(a, error, "Unknown voice");
        /* The gains are of QEMU's channels; the converter's input is the viewer's (1 or 2). */
        audio_converter_set_volume(mic->converter, mute, volume, MIN(n, (size_t) mic->channels));
        return sd_bus_reply_method_return(m, NULL);
}

static int method_read(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Audio *a = userdata;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        uint64_t id, size;
        uint8_t *data;
        int r = sd_bus_message_read(m, "tt", &id, &size);
        if (r < 0)
                return r;
        AudioInVoice *mic = mic_find(a, id);
        if (!mic)
                return reply_error(a, error, "Unknown voice");
        size_t frame = audio_format_frame_size(&mic->format);
        size_t n = (size_t) MIN(size, (uint64_t) AUDIO_READ_MAX);
        n -= n % frame;
        size_t have = MIN(n, buffer_len(&mic->ring));
        have -= have % frame;
        a->reads++;
        if (have < n && mic->enabled)
                a->underruns++;
        if ((r = sd_bus_message_new_method_return(m, &reply)) < 0 ||
            (r = sd_bus_message_append_array_space(reply, 'y', n, (void **) &data)) < 0)
                return r;
        if (have > 0)
                memcpy(data, buffer_data(&mic->ring), have);
        if (n > have)
                memset(data + have, 0, n - have); /* signed PCM: zero is silence */
        buffer_consume(&mic->ring, have);
        return sd_bus_send(NULL, reply, NULL);
}

void audio_viewer_mic_packet(Audio *a, Viewer *v, const WireMicPacket *p) {
        AudioInVoice *mic = NULL;
        opus_int16 pcm[DECODE_SAMPLES];

        if (!v->interactive) {
                a->mic_ignored++;
                if (!v->mic_notice_sent) {
                        WireNotice n = { .code = 1, .text = "microphone ignored: this viewer is view-only" };
                        n.text_len = strlen(n.text);
                        (void) wire_encode_notice(wire_conn_out(v->conn), &n);
                        viewer_flush(v);
                }
                v->mic_notice_sent = true;
                return;
        }
        for (size_t i = 0; i < AUDIO_VOICES_MAX; i++)
                if (a->mics[i].used && a->mics[i].enabled && a->mics[i].stream == p->stream)
                        mic = &a->mics[i];
        if (!mic) {
                a->mic_dropped++; /* late, after mic-stop, or for a stream that is not ours */
                return;
        }
        if (p->data_len == 0) {
                a->mic_malformed++;
                return;
        }
        int samples = opus_decode(mic->decoder, p->data, (opus_int32) p->data_len, pcm,
                                  (int) (DECODE_SAMPLES / mic->channels), 0);
        if (samples < 0) {
                a->mic_malformed++;
                return;
        }
        a->mic_packets++;
        a->mic_bytes += p->data_len;
        /* The oldest go first when QEMU does not read: the ring holds at most ring_max bytes. */
        if (audio_converter_push(mic->converter, pcm, (size_t) samples * mic->channels * sizeof(opus_int16),
                                 &mic->ring) < 0)
                a->mic_dropped++;
        if (buffer_len(&mic->ring) > mic->ring_max) {
                size_t frame = audio_format_frame_size(&mic->format);
                size_t excess = buffer_len(&mic->ring) - mic->ring_max;
                buffer_consume(&mic->ring, excess + (frame - excess % frame) % frame);
        }
}

static int prop_interfaces(sd_bus *bus, const char *path, const char *iface, const char *prop, sd_bus_message *reply,
                           void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "as", 1, AUDIO_IN_INTERFACE);
}

const sd_bus_vtable audio_in_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Init", "tybbuyuub", "", method_init, 0),
        SD_BUS_METHOD("Fini", "t", "", method_fini, 0),
        SD_BUS_METHOD("SetEnabled", "tb", "", method_set_enabled, 0),
        SD_BUS_METHOD("SetVolume", "tbay", "", method_set_volume, 0),
        SD_BUS_METHOD("Read", "tt", "ay", method_read, 0),
        SD_BUS_PROPERTY("Interfaces", "as", prop_interfaces, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_VTABLE_END,
};
