/* Writes the seed corpora of fuzz-wire-decode and fuzz-wire-conn: valid frames of every type
 * (all-zero and mixed values, and all-maximum where that stays small), whole sessions in each
 * direction, unknown frames, and one stream per protocol error.
 *
 *     wire-corpus DIR        (DIR is common/corpus; `ninja -C build wire-corpus` does it)
 *
 * The files are committed; rerun this when wire.def changes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "macro.h"
#include "unaligned.h"
#include "wire-test.h"
#include "wire.h"

/* Seeds stay small: fuzzers mutate them byte by byte. */
#define SEED_MAX 8192

static uint8_t arena[WIRE_KNOWN_SIZE_MAX];
static const char *root;
static unsigned written;

static void write_file(const char *sub, const char *name, const uint8_t *p, size_t len) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s/%s", root, sub, name);
        FILE *f = fopen(path, "we");
        if (!f || (len > 0 && fwrite(p, 1, len, f) != len) || fclose(f) != 0) {
                fprintf(stderr, "cannot write %s: %m\n", path);
                exit(EXIT_FAILURE);
        }
        written++;
}

static const char *variant_name(WireTestVariant v) {
        return v == WIRE_TEST_ZERO ? "zero" : v == WIRE_TEST_MAX ? "max" : "mixed";
}

static void decode_seeds(void) {
        for (size_t t = 0; t < wire_types_count; t++)
                for (WireTestVariant v = 0; v < _WIRE_TEST_VARIANT_MAX; v++) {
                        const WireTypeInfo *info = &wire_types[t];
                        Buffer b = BUFFER_INIT(WIRE_HEADER_SIZE + WIRE_KNOWN_SIZE_MAX);
                        WireMessage m;
                        char name[128];

                        if (v == WIRE_TEST_MAX && info->max_size > SEED_MAX)
                                continue;
                        wire_test_fill(&m, info, v, arena);
                        if (wire_encode(&b, &m) < 0)
                                abort();
                        size_t len = buffer_len(&b) - WIRE_HEADER_SIZE;
                        if (len > SEED_MAX) {
                                buffer_done(&b);
                                continue;
                        }
                        uint8_t *seed = malloc(3 + len);
                        if (!seed)
                                abort();
                        put_le16(seed, info->type);
                        seed[2] = info->channel;
                        memcpy(seed + 3, buffer_data(&b) + WIRE_HEADER_SIZE, len);
                        snprintf(name, sizeof(name), "%s-%s", info->name, variant_name(v));
                        write_file("fuzz-wire-decode", name, seed, 3 + len);
                        free(seed);
                        buffer_done(&b);
                }
        /* Near misses: an unknown type, a wrong channel, a short ping. */
        static const uint8_t unknown[] = { 0x40, 0x00, 4, 1, 2, 3 };
        static const uint8_t wrong_channel[] = { 0x11, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
        static const uint8_t short_ping[] = { 0x04, 0x00, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 };
        write_file("fuzz-wire-decode", "unknown-type", unknown, sizeof(unknown));
        write_file("fuzz-wire-decode", "wrong-channel", wrong_channel, sizeof(wrong_channel));
        write_file("fuzz-wire-decode", "short-ping", short_ping, sizeof(short_ping));
}

/* A conn seed: the 10-byte head (mode, split seed, piece cap), then the stream in b. */
static void conn_seed(const char *name, uint8_t mode, uint64_t seed, uint8_t cap, const Buffer *b) {
        size_t len = buffer_len(b);
        uint8_t *p = malloc(10 + len);
        if (!p)
                abort();
        p[0] = mode;
        put_le64(p + 1, seed);
        p[9] = cap;
        if (len > 0)
                memcpy(p + 10, buffer_data(b), len);
        write_file("fuzz-wire-conn", name, p, 10 + len);
        free(p);
}

static void raw_frame(Buffer *b, uint16_t type, uint8_t channel, uint8_t flags, uint32_t size, size_t present) {
        uint8_t *p;
        if (buffer_reserve(b, WIRE_HEADER_SIZE + present, &p) < 0)
                abort();
        wire_header_put(p, &(WireHeader) { .size = size, .type = type, .channel = channel, .flags = flags });
        memset(p + WIRE_HEADER_SIZE, 0x5a, present);
        buffer_commit(b, WIRE_HEADER_SIZE + present);
}

/* A message of type in variant v, its variable fields cut to 64 bytes so sessions stay small. */
static void encode(Buffer *b, uint16_t type, WireTestVariant v) {
        static uint8_t small[8][64];
        const WireTypeInfo *info = wire_type_info(type);
        WireMessage m;

        wire_test_fill(&m, info, v, arena);
        for (size_t i = 0; i < info->n_fields && i < ELEMENTSOF(small); i++) {
                const WireFieldInfo *f = &info->fields[i];
                size_t n;
                if (!wire_test_is_var(f) || (wire_test_get_var(&m, f, &n), n <= sizeof(small[i])))
                        continue;
                if (f->kind == WIRE_KIND_STRING)
                        wire_test_utf8(small[i], sizeof(small[i]));
                else
                        memcpy(small[i], wire_test_get_var(&m, f, &n), sizeof(small[i]));
                wire_test_set_var(&m, f, small[i], sizeof(small[i]));
        }
        if (wire_encode(b, &m) < 0)
                abort();
}

static void conn_seeds(void) {
        Buffer b = BUFFER_INIT(1 << 20);
        static const uint16_t s2c[] = { WIRE_TYPE_WELCOME, WIRE_TYPE_DISPLAY_MODE, WIRE_TYPE_TILE, WIRE_TYPE_TILE,
                                        WIRE_TYPE_FRAME_END, WIRE_TYPE_CURSOR_SHAPE, WIRE_TYPE_CURSOR_POSITION,
                                        WIRE_TYPE_PING, WIRE_TYPE_ROLE, WIRE_TYPE_NOTICE, WIRE_TYPE_BYE };
        static const uint16_t c2s[] = { WIRE_TYPE_HELLO, WIRE_TYPE_DISPLAY_SETTINGS, WIRE_TYPE_FRAME_ACK,
                                        WIRE_TYPE_KEY, WIRE_TYPE_KEY, WIRE_TYPE_MOUSE_ABSOLUTE, WIRE_TYPE_MOUSE_BUTTON,
                                        WIRE_TYPE_MOUSE_RELATIVE, WIRE_TYPE_REFRESH, WIRE_TYPE_PONG,
                                        WIRE_TYPE_HANDOVER, WIRE_TYPE_BYE };

        /* Whole sessions, each direction, split three ways. */
        for (size_t i = 0; i < ELEMENTSOF(s2c); i++)
                encode(&b, s2c[i], i % 2 ? WIRE_TEST_ZERO : WIRE_TEST_MIXED);
        conn_seed("viewer-session-whole", 2, 0, 0, &b);
        conn_seed("viewer-session-bytes", 2, 0, 1, &b);
        conn_seed("viewer-session-random", 2, 0x9e3779b97f4a7c15ull, 61, &b);
        conn_seed("viewer-receives-from-viewer", 1, 0, 0, &b); /* hostd refuses s2c types */
        buffer_clear(&b);
        for (size_t i = 0; i < ELEMENTSOF(c2s); i++)
                encode(&b, c2s[i], i % 2 ? WIRE_TEST_MIXED : WIRE_TEST_ZERO);
        conn_seed("hostd-session-whole", 1, 0, 0, &b);
        conn_seed("hostd-session-random", 1, 12345, 7, &b);
        conn_seed("hostd-session-open", 5, 777, 3, &b);
        buffer_clear(&b);

        /* Every type once, both directions accepted. */
        for (size_t t = 0; t < wire_types_count; t++)
                encode(&b, wire_types[t].type, WIRE_TEST_ZERO);
        conn_seed("every-type", 0, 99, 13, &b);
        buffer_clear(&b);

        /* Unknown frames between known ones, unknown flags. */
        raw_frame(&b, 0x4000, 9, 0, 0, 0);
        encode(&b, WIRE_TYPE_PING, WIRE_TEST_MIXED);
        raw_frame(&b, 0x7fff, 200, 0xff, 100, 100);
        raw_frame(&b, WIRE_TYPE_REFRESH, WIRE_CHANNEL_DISPLAY, 0xfe, 0, 0);
        conn_seed("unknown-types", 0, 5, 9, &b);
        buffer_clear(&b);

        /* One protocol error each, after a good frame. */
        static const struct {
                const char *name;
                uint16_t type;
                uint8_t channel;
                uint32_t size;
                size_t present;
                const char *payload; /* or 0x5a bytes */
        } bad[] = {
                { "error-over-max", WIRE_TYPE_TILE, WIRE_CHANNEL_DISPLAY, WIRE_TILE_SIZE_MAX + 1, 16, NULL },
                { "error-unknown-over-1mib", 0x1234, 0, WIRE_UNKNOWN_SIZE_MAX + 1, 16, NULL },
                { "error-wrong-channel", WIRE_TYPE_KEY, WIRE_CHANNEL_DISPLAY, 5, 5, NULL },
                { "error-short", WIRE_TYPE_MOUSE_ABSOLUTE, WIRE_CHANNEL_INPUT, 7, 7, NULL },
                { "error-trailing", WIRE_TYPE_BYE, WIRE_CHANNEL_CONTROL, 8, 8, "\x01\x00\x01\x00\x00\x00" "ab" },
                { "error-string-length", WIRE_TYPE_BYE, WIRE_CHANNEL_CONTROL, 40, 40, NULL },
                { "error-string-nul", WIRE_TYPE_NOTICE, WIRE_CHANNEL_CONTROL, 8, 8, "\x01\x00\x02\x00\x00\x00" "a\x00" },
                { "error-string-utf8", WIRE_TYPE_REJECT, WIRE_CHANNEL_CONTROL, 8, 8, "\x01\x00\x02\x00\x00\x00\xc0\xaf" },
                { "eof-inside-frame", WIRE_TYPE_PING, WIRE_CHANNEL_CONTROL, 16, 9, NULL },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                encode(&b, WIRE_TYPE_PING, WIRE_TEST_ZERO);
                raw_frame(&b, bad[i].type, bad[i].channel, 0, bad[i].size, bad[i].payload ? 0 : bad[i].present);
                if (bad[i].payload && buffer_append(&b, bad[i].payload, bad[i].present) < 0)
                        abort();
                conn_seed(bad[i].name, 0, i + 1, (uint8_t) (i * 5), &b);
                buffer_clear(&b);
        }
        buffer_done(&b);
}

int main(int argc, char **argv) {
        char path[4096];

        if (argc != 2) {
                fprintf(stderr, "usage: %s CORPUS-DIR\n", argv[0]);
                return EXIT_FAILURE;
        }
        root = argv[1];
        for (int i = 0; i < 2; i++) {
                snprintf(path, sizeof(path), "%s/%s", root, i ? "fuzz-wire-conn" : "fuzz-wire-decode");
                if (mkdir(path, 0755) < 0 && errno != EEXIST) {
                        fprintf(stderr, "cannot create %s: %m\n", path);
                        return EXIT_FAILURE;
                }
        }
        decode_seeds();
        conn_seeds();
        printf("wrote %u seeds under %s\n", written, root);
        return EXIT_SUCCESS;
}
