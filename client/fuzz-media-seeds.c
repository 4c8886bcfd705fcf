/* Writes fuzz-client-media's seeds into a directory (run by hand; the output is committed):
 * media-start, real packets of small VP8, H.264 and Opus clips (tandem-media-gen's code), loss,
 * geometry, stop, garbage and the microphone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "check.h"
#include "media-gen.h"
#include "wire.h"

typedef struct Seed {
        Buffer b;
        uint32_t stream, seq, skip_every;
} Seed;

static int on_packet(const MediaGenPacket *p, void *userdata) {
        Seed *s = userdata;
        uint32_t seq = s->seq++;
        if (s->skip_every && seq % s->skip_every == s->skip_every - 1)
                return 0;
        WireMediaPacket m = { .stream = s->stream, .seq = seq, .pts_us = p->pts_us, .keyframe = p->keyframe,
                              .data = p->data, .data_len = p->len };
        check(wire_encode_media_packet(&s->b, &m) == 0);
        return 0;
}

static void start(Buffer *b, uint32_t stream, uint8_t kind, uint8_t codec, uint32_t rate, uint8_t channels) {
        WireMediaStart s = { .stream = stream, .kind = kind, .codec = codec, .sample_rate = rate, .channels = channels,
                             .width = 64, .height = 48, .visible = 1 };
        check(wire_encode_media_start(b, &s) == 0);
}

static void write_seed(const char *dir, const char *name, Buffer *b) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *f = fopen(path, "we");
        check(f);
        check(fwrite(buffer_data(b), 1, buffer_len(b), f) == buffer_len(b));
        check(fclose(f) == 0);
}

static void clip(const char *dir, const char *name, MediaGenCodec codec, uint8_t wire_codec, uint32_t skip_every) {
        Seed s = { .stream = 1, .skip_every = skip_every };
        buffer_init(&s.b, 64u << 20);
        MediaGenOptions o = { .codec = codec, .seconds = 0.5, .width = 64, .height = 48, .fps = 10,
                              .keyframe_interval = 3, .channels = 2 };
        if (codec == MEDIA_GEN_OPUS)
                start(&s.b, 1, WIRE_KIND_AUDIO, WIRE_CODEC_OPUS, 48000, 2);
        else
                start(&s.b, 1, WIRE_KIND_VIDEO, wire_codec, 0, 0);
        check(media_gen_run(&o, NULL, on_packet, &s) == 0);
        WireMediaGeometry g = { .stream = 1, .window = 3, .x = -5, .y = 7, .width = 10, .height = 10, .visible = 1 };
        check(wire_encode_media_geometry(&s.b, &g) == 0);
        check(wire_encode_media_stop(&s.b, &(WireMediaStop) { .stream = 1, .why = 2 }) == 0);
        write_seed(dir, name, &s.b);
        buffer_done(&s.b);
}

int main(int argc, char *argv[]) {
        if (argc != 2) {
                fprintf(stderr, "Usage: fuzz-media-seeds DIR\n");
                return 1;
        }
        av_log_set_level(AV_LOG_QUIET);
        clip(argv[1], "vp8", MEDIA_GEN_VP8, WIRE_CODEC_VP8, 0);
        clip(argv[1], "vp8-loss", MEDIA_GEN_VP8, WIRE_CODEC_VP8, 2);
        clip(argv[1], "h264", MEDIA_GEN_H264, WIRE_CODEC_H264, 0);
        clip(argv[1], "opus", MEDIA_GEN_OPUS, WIRE_CODEC_OPUS, 0);
        clip(argv[1], "opus-loss", MEDIA_GEN_OPUS, WIRE_CODEC_OPUS, 3);

        /* garbage packets, an unknown stream, a bad start, the microphone */
        Buffer b;
        buffer_init(&b, 1u << 20);
        start(&b, 9, WIRE_KIND_VIDEO, WIRE_CODEC_VP8, 0, 0);
        start(&b, 10, WIRE_KIND_AUDIO, WIRE_CODEC_OPUS, 16000, 1);
        uint8_t junk[200];
        for (size_t i = 0; i < sizeof(junk); i++)
                junk[i] = (uint8_t) (i * 97 + 5);
        for (uint32_t i = 0; i < 4; i++) {
                check(wire_encode_media_packet(&b, &(WireMediaPacket) { .stream = 9, .seq = i, .keyframe = 1, .data = junk,
                                                                        .data_len = sizeof(junk) }) == 0);
                check(wire_encode_media_packet(&b, &(WireMediaPacket) { .stream = 10, .seq = i * 2, .data = junk,
                                                                        .data_len = 1 + i * 50 }) == 0);
                check(wire_encode_media_packet(&b, &(WireMediaPacket) { .stream = 11, .seq = i, .data = junk,
                                                                        .data_len = 3 }) == 0);
        }
        check(wire_encode_mic_start(&b, &(WireMicStart) { .stream = 1, .codec = 0, .sample_rate = 48000, .channels = 1 }) == 0);
        for (int i = 0; i < 4; i++)
                check(wire_encode_media_packet(&b, &(WireMediaPacket) { .stream = 10, .seq = 100, .data = junk,
                                                                        .data_len = 10 }) == 0);
        check(wire_encode_mic_stop(&b, &(WireMicStop) { .stream = 1 }) == 0);
        start(&b, 12, WIRE_KIND_AUDIO, WIRE_CODEC_VP8, 48000, 2);
        write_seed(argv[1], "hostile", &b);
        buffer_done(&b);
        return 0;
}
