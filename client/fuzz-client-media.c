/* Fuzzes the client's media channel (client-media.h) with what hostd could send on it: the input
 * is a stream of wire frames (header + payload, as on the connection); each media message that
 * decodes goes to a ClientMedia with the mixer and a microphone, and between messages the front
 * end's calls run (present every stream, mix audio, push microphone samples). Nothing may crash,
 * leak or grow without bound; a protocol error (-EBADMSG) ends the input as it ends a session.
 * fuzz-media-seeds writes the seeds (real VP8, H.264 and Opus packets, loss, garbage). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "client-media.h"
#include "wire.h"

volatile uint32_t fuzz_sink;

static Buffer out;

static Buffer *get_out(void *userdata) {
        if (buffer_len(&out) > (1u << 16))
                buffer_clear(&out);
        return &out;
}

static void on_video(const ClientMediaStream *st, const ClientMediaPicture *pic, void *userdata) {
        /* The last byte of every plane must be readable. */
        size_t ch = (pic->height + 1) / 2;
        fuzz_sink += pic->planes[0][(size_t) (pic->height - 1) * pic->strides[0] + pic->width - 1];
        fuzz_sink += pic->planes[1][(ch - 1) * pic->strides[1] + (pic->width + 1) / 2 - 1];
        fuzz_sink += pic->planes[2][(ch - 1) * pic->strides[2] + (pic->width + 1) / 2 - 1];
}

static void on_audio(const ClientMediaStream *st, const int16_t *pcm, size_t frames, uint64_t pts_us, bool concealed,
                     void *userdata) {
        if (frames)
                fuzz_sink += (uint32_t) pcm[frames * st->out_channels - 1];
}

static const ClientMediaCallbacks callbacks = { .out = get_out, .on_video = on_video, .on_audio = on_audio };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static bool init;
        if (!init) {
                av_log_set_level(AV_LOG_QUIET);
                buffer_init(&out, 1u << 20);
                init = true;
        }
        /* Paced (packets wait for the pump) when the first frame's size is odd: both paths. */
        ClientMediaOptions o = { .mixer = true, .audio_rate = 48000, .audio_channels = 2, .microphone = true,
                                 .paced = size > 0 && (data[0] & 1) };
        ClientMedia *m;
        if (client_media_new(&o, &callbacks, NULL, &m) < 0)
                return 0;
        uint64_t now = 1000000;
        size_t off = 0;
        static int16_t mix[960 * 2];
        while (size - off >= WIRE_HEADER_SIZE) {
                WireHeader h;
                WireMessage msg;
                wire_header_parse(data + off, &h);
                off += WIRE_HEADER_SIZE;
                if (h.size > size - off)
                        break;
                const uint8_t *payload = data + off;
                off += h.size;
                if (!client_media_type(h.type) || wire_header_check(&h) != 0 ||
                    wire_decode(h.type, h.channel, payload, h.size, &msg) < 0)
                        continue;
                now += 5000;
                if (client_media_handle(m, &msg, now) < 0)
                        break; /* a protocol error ends the session */
                for (size_t i = 0; i < client_media_n_streams(m); i++) {
                        const ClientMediaPicture *p = client_media_present(m, client_media_stream_at(m, i)->id, now);
                        if (p)
                                fuzz_sink += p->planes[0][0];
                }
                if (msg.type == WIRE_TYPE_MEDIA_PACKET && (msg.media_packet.seq & 3) == 0)
                        (void) client_media_pump(m, now, 0);
                client_media_mix(m, mix, 240, now);
                if (client_media_mic_active(m))
                        (void) client_media_mic_push(m, mix, 240, now);
                fuzz_sink += (uint32_t) client_media_next_present(m, now);
        }
        client_media_free(m);
        buffer_clear(&out);
        return 0;
}
