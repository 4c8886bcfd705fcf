/* QEMU's playback voices (org.qemu.Display1.AudioOutListener) -> Opus media streams. QEMU calls
 * these without waiting for the answers (except the first), but they are answered at once all
 * the same. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hostd-audio-internal.h"
#include "hostd-manager.h"
#include "hostd-viewer.h"
#include "log.h"

#define OPUS_CAPS (WIRE_CAP_MEDIA | WIRE_CAP_MEDIA_OPUS)
/* Converted samples waiting for a frame: a Write is converted in slices of this many input bytes,
 * each slice's frames encoded before the next, so the buffer stays small. */
#define SLICE_BYTES 4096u
#define PCM_LIMIT (64u * 1024u)

static AudioOutVoice *voice_find(Audio *a, uint64_t id) {
        for (size_t i = 0; i < AUDIO_VOICES_MAX; i++)
                if (a->voices[i].used && a->voices[i].id == id)
                        return &a->voices[i];
        return NULL;
}

static void send_stop(Audio *a, Viewer *v, void *userdata) {
        WireMediaStop stop = { .stream = *(uint32_t *) userdata, .why = 0 };
        (void) wire_encode_media_stop(wire_conn_out(v->conn), &stop);
        viewer_flush(v);
}

void audio_out_send_start(Audio *a, AudioOutVoice *voice, Viewer *v) {
        WireMediaStart start = { .stream = voice->stream, .source = 1, .kind = 0, .codec = 0,
                                 .sample_rate = AUDIO_OPUS_RATE, .channels = voice->channels };
        (void) wire_encode_media_start(wire_conn_out(v->conn), &start);
}

static void send_start(Audio *a, Viewer *v, void *userdata) {
        audio_out_send_start(a, userdata, v);
        viewer_flush(v);
}

static void voice_disable(Audio *a, AudioOutVoice *voice) {
        if (!voice->enabled)
                return;
        voice->enabled = false;
        audio_foreach_viewer(a, OPUS_CAPS, send_stop, &voice->stream);
        manager_emit(a->manager, "audio-stop %s %u", a->desktop, voice->stream);
        buffer_clear(&voice->pcm);
}

void audio_out_voice_clear(Audio *a, AudioOutVoice *voice) {
        if (!voice->used)
                return;
        voice_disable(a, voice);
        audio_converter_free(voice->converter);
        if (voice->encoder)
                opus_encoder_destroy(voice->encoder);
        buffer_done(&voice->pcm);
        *voice = (AudioOutVoice) {};
}

static void voice_enable(Audio *a, AudioOutVoice *voice) {
        if (voice->enabled)
                return;
        voice->enabled = true;
        voice->stream = audio_next_stream(a);
        voice->seq = 0;
        voice->silent_frames = 0;
        /* Figures of this stream only (a test reading them must not see the last one's). */
        voice->peak = voice->peak_run = 0;
        voice->tone_hz = 0;
        voice->crossings_run = voice->samples_run = 0;
        /* A new stream starts clean: the encoder's history is of the last one. */
        opus_encoder_ctl(voice->encoder, OPUS_RESET_STATE);
        audio_foreach_viewer(a, OPUS_CAPS, send_start, voice);
        manager_emit(a->manager, "audio-start %s %u", a->desktop, voice->stream);
}

typedef struct PacketOut {
        const WireMediaPacket *packet;
        unsigned viewers;
} PacketOut;

static void send_packet(Audio *a, Viewer *v, void *userdata) {
        PacketOut *o = userdata;
        /* A viewer that does not keep up loses audio packets (best effort), never the session. */
        if (wire_conn_queued(v->conn) > VIEWER_OUT_SOFT) {
                a->dropped++;
                return;
        }
        if (wire_encode_media_packet(wire_conn_out(v->conn), o->packet) < 0) {
                a->dropped++;
                return;
        }
        o->viewers++;
        viewer_flush(v);
}

/* Status figures of what plays: peak and zero crossings of the first channel, over a second. */
static void voice_measure(AudioOutVoice *voice, const int16_t *pcm) {
        for (size_t i = 0; i < AUDIO_FRAME_SAMPLES; i++) {
                int16_t s = pcm[i * voice->channels];
                float level = (float) abs(s) / 32768.0f;
                if (level > voice->peak_run)
                        voice->peak_run = level;
                if ((s >= 0) != (voice->last_sample >= 0))
                        voice->crossings_run++;
                voice->last_sample = s;
        }
        voice->samples_run += AUDIO_FRAME_SAMPLES;
        if (voice->samples_run >= AUDIO_OPUS_RATE) {
                voice->peak = voice->peak_run;
                voice->tone_hz = (double) voice->crossings_run * AUDIO_OPUS_RATE / (2.0 * (double) voice->samples_run);
                voice->peak_run = 0;
                voice->crossings_run = voice->samples_run = 0;
        }
}

static bool frame_is_silent(const int16_t *pcm, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (pcm[i] != 0)
                        return false;
        return true;
}

static int voice_encode(Audio *a, AudioOutVoice *voice) {
        size_t frame_bytes = AUDIO_FRAME_SAMPLES * voice->channels * sizeof(int16_t);

        while (buffer_len(&voice->pcm) >= frame_bytes) {
                int16_t pcm[AUDIO_FRAME_SAMPLES * 2];
                uint8_t packet[AUDIO_PACKET_MAX];
                uint64_t pts = voice->samples * 1000000ULL / AUDIO_OPUS_RATE;

                memcpy(pcm, buffer_data(&voice->pcm), frame_bytes);
                buffer_consume(&voice->pcm, frame_bytes);
                voice->samples += AUDIO_FRAME_SAMPLES;
                voice_measure(voice, pcm);
                if (frame_is_silent(pcm, AUDIO_FRAME_SAMPLES * voice->channels)) {
                        if (++voice->silent_frames > AUDIO_SILENT_FRAMES) {
                                a->silent_packets++;
                                continue; /* DTX: the viewer plays silence for the gap in pts */
                        }
                } else
                        voice->silent_frames = 0;
                opus_int32 n = opus_encode(voice->encoder, pcm, AUDIO_FRAME_SAMPLES, packet, sizeof(packet));
                if (n < 0)
                        return -EIO;
                WireMediaPacket p = { .stream = voice->stream, .seq = voice->seq++, .pts_us = pts, .keyframe = 1,
                                      .data = packet, .data_len = (size_t) n };
                PacketOut o = { .packet = &p };
                audio_foreach_viewer(a, OPUS_CAPS, send_packet, &o);
                a->viewers = o.viewers;
                a->packets++;
                a->bytes += (uint64_t) n;
        }
        return 0;
}

static int reply_error(Audio *a, sd_bus_message *m, sd_bus_error *error, const char *why) {
        a->malformed++;
        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "%s", why);
}

static int method_init(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Audio *a = userdata;
        uint64_t id;
        uint8_t bits, nchannels;
        int is_signed, is_float, be;
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
                log_warning("%s: QEMU's playback voice has a format hostd does not take (%u bits%s%s, %u Hz, %u ch), "
                            "ignoring it", a->desktop, bits, is_float ? " float" : "", is_signed ? " signed" : "",
                            freq, nchannels);
                return reply_error(a, m, error, "Unsupported PCM format");
        }
        AudioOutVoice *voice = voice_find(a, id);
        if (voice)
                audio_out_voice_clear(a, voice); /* Init again: a new format */
        for (size_t i = 0; !voice && i < AUDIO_VOICES_MAX; i++)
                if (!a->voices[i].used)
                        voice = &a->voices[i];
        if (!voice)
                return reply_error(a, m, error, "Too many playback voices");

        uint8_t channels = f.channels >= 2 ? 2 : 1;
        AudioFormat opus_in = { .sample = AUDIO_S16, .big_endian = __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__,
                                .rate = AUDIO_OPUS_RATE, .channels = channels };
        int err;
        *voice = (AudioOutVoice) { .used = true, .id = id, .format = f, .channels = channels };
        buffer_init(&voice->pcm, PCM_LIMIT);
        r = audio_converter_new(&f, &opus_in, &voice->converter);
        if (r >= 0) {
                voice->encoder = opus_encoder_create(AUDIO_OPUS_RATE, channels, OPUS_APPLICATION_AUDIO, &err);
                if (!voice->encoder)
                        r = -ENOMEM;
        }
        if (r < 0) {
                audio_out_voice_clear(a, voice);
                return sd_bus_error_set_errnof(error, -r, "Cannot set up the voice");
        }
        opus_encoder_ctl(voice->encoder, OPUS_SET_BITRATE((opus_int32) a->manager->config.audio.bitrate));
        log_info("%s: playback voice %s", a->desktop, audio_format_describe(&f, desc, sizeof(desc)));
        return sd_bus_reply_method_return(m, NULL);
}

static int method_fini(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Audio *a = userdata;
        uint64_t id;
        int r = sd_bus_message_read(m, "t", &id);
        if (r < 0)
                return r;
        AudioOutVoice *voice = voice_find(a, id);
        if (voice)
                audio_out_voice_clear(a, voice);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_set_enabled(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Audio *a = userdata;
        uint64_t id;
        int enabled;
        int r = sd_bus_message_read(m, "tb", &id, &enabled);
        if (r < 0)
                return r;
        AudioOutVoice *voice = voice_find(a, id);
        if (!voice)
                return reply_error(a, m, error, "Unknown voice");
        if (enabled)
                voice_enable(a, voice);
        else
                voice_disable(a, voice);
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
        AudioOutVoice *voice = voice_find(a, id);
        if (!voice)
                return reply_error(a, m, error, "Unknown voice");
        audio_converter_set_volume(voice->converter, mute, volume, n);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_write(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Audio *a = userdata;
        uint64_t id;
        const uint8_t *data;
        size_t len;
        int r = sd_bus_message_read(m, "t", &id);
        if (r >= 0)
                r = sd_bus_message_read_array(m, 'y', (const void **) &data, &len);
        if (r < 0)
                return r;
        AudioOutVoice *voice = voice_find(a, id);
        if (!voice)
                return reply_error(a, m, error, "Unknown voice");
        if (len > AUDIO_WRITE_MAX)
                return reply_error(a, m, error, "Write too large");
        a->writes++;
        if (!voice->enabled)
                return sd_bus_reply_method_return(m, NULL); /* QEMU writes only while enabled; a stray one */
        for (size_t off = 0; off < len; off += SLICE_BYTES) {
                r = audio_converter_push(voice->converter, data + off, MIN((size_t) SLICE_BYTES, len - off),
                                         &voice->pcm);
                if (r >= 0)
                        r = voice_encode(a, voice);
                if (r < 0) {
                        log_warning_errno(r, "%s: encoding the VM's sound failed: %m, dropping a write", a->desktop);
                        buffer_clear(&voice->pcm);
                        break;
                }
        }
        return sd_bus_reply_method_return(m, NULL);
}

static int prop_interfaces(sd_bus *bus, const char *path, const char *iface, const char *prop, sd_bus_message *reply,
                           void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "as", 1, AUDIO_OUT_INTERFACE);
}

const sd_bus_vtable audio_out_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Init", "tybbuyuub", "", method_init, 0),
        SD_BUS_METHOD("Fini", "t", "", method_fini, 0),
        SD_BUS_METHOD("SetEnabled", "tb", "", method_set_enabled, 0),
        SD_BUS_METHOD("SetVolume", "tbay", "", method_set_volume, 0),
        SD_BUS_METHOD("Write", "tay", "", method_write, 0),
        SD_BUS_PROPERTY("Interfaces", "as", prop_interfaces, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_VTABLE_END,
};
