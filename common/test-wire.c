/* The generated encoders and decoders: byte-exact frames written by hand from the spec, a round
 * trip of every type at its boundaries (all zero, all maximum, mixed), and every rejection: each
 * truncation, trailing bytes, each other channel, lengths over their maximum or past the end, bad
 * strings, unknown types, full buffers. Failures leave out-parameters and buffers untouched. */
#include "check.h"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "unaligned.h"
#include "wire-test.h"
#include "wire.h"

static uint8_t arena[WIRE_KNOWN_SIZE_MAX];

/* A WireMessage full of a pattern: a failed decode must leave it so. */
static WireMessage sentinel(void) {
        WireMessage m;
        memset(&m, 0xa5, sizeof(m));
        return m;
}

static bool is_sentinel(const WireMessage *m) {
        WireMessage s = sentinel();
        return memcmp(m, &s, sizeof(s)) == 0;
}

static int decode(uint16_t type, uint8_t channel, const uint8_t *p, size_t len) {
        WireMessage m = sentinel();
        int r = wire_decode(type, channel, p, len, &m);
        if (r < 0)
                check(is_sentinel(&m));
        return r;
}

static void check_frame(const Buffer *b, const uint8_t *expect, size_t len) {
        if (buffer_len(b) != len || memcmp(buffer_data(b), expect, len) != 0) {
                fprintf(stderr, "frame mismatch: got");
                for (size_t i = 0; i < buffer_len(b); i++)
                        fprintf(stderr, " %02x", buffer_data(b)[i]);
                fprintf(stderr, "\n");
                abort();
        }
}

/* Frames spelled out from wire-protocol.md, independently of the generator. */
static void test_golden(void) {
        Buffer b = BUFFER_INIT(1 << 20);
        WireMessage m;

        check(wire_encode_ping(&b, &(WirePing) { .nonce = 0x0102030405060708ull, .time_us = 0x1112131415161718ull }) == 0);
        static const uint8_t ping[] = { 16, 0, 0, 0, 0x04, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1,
                                        0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11 };
        check_frame(&b, ping, sizeof(ping));
        buffer_clear(&b);

        check(wire_encode_welcome(&b, &(WireWelcome) { .version = 1, .caps = 0x1f, .session = 0xdeadbeef, .role = 1,
                                                       .desktop = "ab", .desktop_len = 2, .frames_in_flight = 3 }) == 0);
        static const uint8_t welcome[] = { 27, 0, 0, 0, 0x02, 0, 0, 0, 1, 0, 0x1f, 0, 0, 0, 0, 0, 0, 0,
                                           0xef, 0xbe, 0xad, 0xde, 0, 0, 0, 0, 1, 2, 0, 0, 0, 'a', 'b', 3, 0 };
        check_frame(&b, welcome, sizeof(welcome));
        check(wire_decode(WIRE_TYPE_WELCOME, 0, welcome + 8, sizeof(welcome) - 8, &m) == 0);
        check(m.type == WIRE_TYPE_WELCOME && m.channel == 0 && m.welcome.session == 0xdeadbeef);
        check(m.welcome.desktop_len == 2 && m.welcome.desktop == (const char *) welcome + 31);
        check(m.welcome.frames_in_flight == 3 && m.welcome.role == 1 && m.welcome.caps == 0x1f);
        buffer_clear(&b);

        check(wire_encode_tile(&b, &(WireTile) { .frame = 7, .x = 1, .y = 2, .w = 3, .h = 4, .codec = 5, .quality = 6,
                                                 .data = (const uint8_t *) "xyz", .data_len = 3 }) == 0);
        static const uint8_t tile[] = { 17, 0, 0, 0, 0x11, 0, 1, 0, 7, 0, 0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 6, 'x', 'y', 'z' };
        check_frame(&b, tile, sizeof(tile));
        buffer_clear(&b);

        check(wire_encode_cursor_position(&b, &(WireCursorPosition) { .x = -1, .y = -2, .visible = 1 }) == 0);
        static const uint8_t pos[] = { 9, 0, 0, 0, 0x21, 0, 2, 0, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 1 };
        check_frame(&b, pos, sizeof(pos));
        check(wire_decode(WIRE_TYPE_CURSOR_POSITION, 2, pos + 8, 9, &m) == 0);
        check(m.cursor_position.x == -1 && m.cursor_position.y == -2);
        buffer_clear(&b);

        check(wire_encode_refresh(&b) == 0);
        static const uint8_t refresh[] = { 0, 0, 0, 0, 0x15, 0, 1, 0 };
        check_frame(&b, refresh, sizeof(refresh));
        check(wire_decode(WIRE_TYPE_REFRESH, 1, NULL, 0, &m) == 0 && m.type == WIRE_TYPE_REFRESH);
        buffer_clear(&b);

        check(wire_encode_hello(&b, &(WireHello) { .magic = WIRE_MAGIC, .version = WIRE_VERSION, .caps = 1,
                                                   .ticket = (const uint8_t *) "T", .ticket_len = 1 }) == 0);
        static const uint8_t hello[] = { 19, 0, 0, 0, 1, 0, 0, 0, 'T', 'N', 'D', 'M', 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 'T' };
        check_frame(&b, hello, sizeof(hello));
        buffer_done(&b);

        /* Names and facts. */
        check(strcmp(wire_type_name(WIRE_TYPE_TILE), "tile") == 0);
        check(strcmp(wire_type_name(WIRE_TYPE_DISPLAY_MODE), "display-mode") == 0);
        check(strcmp(wire_type_name(0x7f), "unknown") == 0);
        check(strcmp(wire_type_name(WIRE_TYPE_MEDIA_PACKET), "media-packet") == 0);
        check(wire_type_channel(WIRE_TYPE_KEY) == WIRE_CHANNEL_INPUT);
        check(wire_type_direction(WIRE_TYPE_PING) == WIRE_DIR_BOTH);
        check(wire_type_direction(WIRE_TYPE_HELLO) == WIRE_DIR_C2S);
        check(wire_max_size(WIRE_TYPE_TILE) == 786446 && wire_max_size(WIRE_TYPE_REFRESH) == 0);
        check(wire_max_size(0) == -ENOMSG && wire_type_channel(0xffff) == -ENOMSG);
        check(strcmp(wire_channel_name(WIRE_CHANNEL_CURSOR), "cursor") == 0 && !wire_channel_name(8));
        check(strcmp(wire_code_name(WIRE_CODE_TICKET_EXPIRED), "ticket-expired") == 0 && !wire_code_name(0));
        check(strcmp(wire_cap_name(2), "codec-jpeg") == 0 && !wire_cap_name(63));
        check(strcmp(wire_subsampling_name(WIRE_SUBSAMPLING_420), "4:2:0") == 0);
}

static void check_rejections(const WireTypeInfo *info, const uint8_t *payload, size_t size, WireTestVariant v) {
        bool has_blob = info->n_fields > 0 && info->fields[info->n_fields - 1].kind == WIRE_KIND_BLOB;
        size_t fixed_min = 0;
        for (size_t i = 0; i < info->n_fields; i++) {
                const WireFieldInfo *f = &info->fields[i];
                fixed_min += f->kind == WIRE_KIND_BLOB ? 0 : wire_test_is_var(f) ? 4 :
                             f->kind == WIRE_KIND_U8 ? 1 : f->kind == WIRE_KIND_U16 ? 2 : f->kind == WIRE_KIND_U64 ? 8 : 4;
        }
        uint8_t *copy = malloc(size + 1);
        check(copy);
        memcpy(copy, payload, size);

        /* Every truncation: fatal for all but the blob's own bytes. The cut copies are exact
         * allocations so that ASan sees any read past the end. */
        for (size_t k = 0; k < size; k++) {
                if (size > 4096 && k > 64 && k < size - 64 && k % 997 != 0)
                        continue;
                uint8_t *cut = malloc(k ? k : 1);
                check(cut);
                memcpy(cut, payload, k);
                int r = decode(info->type, info->channel, k ? cut : NULL, k);
                if (has_blob && k >= fixed_min)
                        check(r == 0);
                else
                        check(r == -EBADMSG);
                free(cut);
        }

        /* One byte more: trailing garbage, a longer blob, or over the maximum. */
        copy[size] = 0x55;
        int r = decode(info->type, info->channel, copy, size + 1);
        if (size + 1 > info->max_size)
                check(r == -EMSGSIZE);
        else if (has_blob)
                check(r == 0);
        else
                check(r == -EBADMSG);

        /* Every other channel. */
        for (unsigned c = 0; c < 256; c++)
                if (c != info->channel)
                        check(decode(info->type, (uint8_t) c, copy, size) == -EPROTO);

        /* Length prefixes: over the maximum, past the end, huge. */
        size_t off = 0;
        for (size_t i = 0; i < info->n_fields; i++) {
                const WireFieldInfo *f = &info->fields[i];
                size_t len;
                if (f->kind == WIRE_KIND_U8)
                        off += 1;
                else if (f->kind == WIRE_KIND_U16)
                        off += 2;
                else if (f->kind == WIRE_KIND_U32 || f->kind == WIRE_KIND_I32)
                        off += 4;
                else if (f->kind == WIRE_KIND_U64)
                        off += 8;
                if (f->kind != WIRE_KIND_STRING && f->kind != WIRE_KIND_BYTES)
                        continue;
                len = get_le32(payload + off);
                const uint32_t bad[] = { (uint32_t) f->max + 1, (uint32_t) (size - off - 4 + 1), UINT32_MAX,
                                         UINT32_MAX - 3 };
                for (size_t j = 0; j < ELEMENTSOF(bad); j++) {
                        if (bad[j] <= f->max && bad[j] <= size - off - 4) /* would be valid */
                                continue;
                        put_le32(copy + off, bad[j]);
                        check(decode(info->type, info->channel, copy, size) == -EBADMSG);
                }
                /* A shorter length leaves trailing bytes or misreads the rest: never accepted
                 * as the same message; with nothing after, the shorter string is valid. */
                if (len > 0) {
                        put_le32(copy + off, (uint32_t) len - 1);
                        WireMessage m = sentinel();
                        int rr = wire_decode(info->type, info->channel, copy, size, &m);
                        check(rr == -EBADMSG);
                }
                put_le32(copy + off, (uint32_t) len);
                off += 4 + len;
        }
        check(memcmp(copy, payload, size) == 0);

        /* A string with a byte that is never valid UTF-8 wherever it lands: NUL, 0xfe, 0xff, 0xc0. */
        off = 0;
        for (size_t i = 0; i < info->n_fields; i++) {
                const WireFieldInfo *f = &info->fields[i];
                if (f->kind == WIRE_KIND_STRING) {
                        size_t len = get_le32(payload + off);
                        static const uint8_t bad[] = { 0x00, 0xfe, 0xff, 0xc0 };
                        for (size_t j = 0; len > 0 && j < sizeof(bad); j++) {
                                copy[off + 4 + len / 2] = bad[j];
                                check(decode(info->type, info->channel, copy, size) == -EBADMSG);
                        }
                        memcpy(copy, payload, size);
                        off += 4 + len;
                        continue;
                }
                off += f->kind == WIRE_KIND_U8 ? 1 : f->kind == WIRE_KIND_U16 ? 2 : f->kind == WIRE_KIND_U64 ? 8 :
                       f->kind == WIRE_KIND_BYTES ? 4 + get_le32(payload + off) : 4;
        }
        free(copy);
        (void) v;
}

static void test_roundtrip(void) {
        for (size_t t = 0; t < wire_types_count; t++) {
                const WireTypeInfo *info = &wire_types[t];
                check(wire_type_info(info->type) == info);
                for (WireTestVariant v = 0; v < _WIRE_TEST_VARIANT_MAX; v++) {
                        WireMessage m, d = sentinel();
                        Buffer b = BUFFER_INIT(WIRE_HEADER_SIZE + WIRE_KNOWN_SIZE_MAX);
                        WireHeader h;

                        wire_test_fill(&m, info, v, arena);
                        check(wire_encode(&b, &m) == 0);
                        check(buffer_len(&b) >= WIRE_HEADER_SIZE);
                        wire_header_parse(buffer_data(&b), &h);
                        check(h.size == buffer_len(&b) - WIRE_HEADER_SIZE);
                        check(h.type == info->type && h.channel == info->channel && h.flags == 0);
                        check(wire_header_check(&h) == 0);
                        if (v == WIRE_TEST_MAX)
                                check(h.size == info->max_size);

                        /* Decode from an exact copy so ASan sees overreads. */
                        uint8_t *payload = malloc(h.size ? h.size : 1);
                        check(payload);
                        memcpy(payload, buffer_data(&b) + WIRE_HEADER_SIZE, h.size);
                        check(wire_decode(h.type, h.channel, h.size ? payload : NULL, h.size, &d) == 0);
                        check(d.type == info->type && d.channel == info->channel);
                        check(wire_test_equal(&m, &d));
                        /* Zero copy: variable fields point into the payload. */
                        for (size_t i = 0; i < info->n_fields; i++) {
                                size_t len;
                                const uint8_t *p = wire_test_get_var(&d, &info->fields[i], &len);
                                if (wire_test_is_var(&info->fields[i]))
                                        check(p >= payload && p + len <= payload + h.size);
                        }

                        /* Re-encoding the decoded message gives the same bytes. */
                        Buffer b2 = BUFFER_INIT(WIRE_HEADER_SIZE + WIRE_KNOWN_SIZE_MAX);
                        check(wire_encode(&b2, &d) == 0);
                        check(buffer_len(&b2) == buffer_len(&b) && memcmp(buffer_data(&b2), buffer_data(&b), buffer_len(&b)) == 0);
                        buffer_done(&b2);

                        check_rejections(info, payload, h.size, v);
                        free(payload);

                        /* Encoding into a buffer one byte too small appends nothing. */
                        Buffer small = BUFFER_INIT(buffer_len(&b) - 1);
                        check(buffer_append(&small, "", 0) == 0);
                        check(wire_encode(&small, &m) == -ENOBUFS && buffer_len(&small) == 0);
                        Buffer exact = BUFFER_INIT(buffer_len(&b));
                        check(wire_encode(&exact, &m) == 0 && buffer_len(&exact) == buffer_len(&b));
                        check(wire_encode(&exact, &m) == -ENOBUFS && buffer_len(&exact) == buffer_len(&b));
                        buffer_done(&small);
                        buffer_done(&exact);
                        buffer_done(&b);
                }
        }
}

/* Encoders refuse what the peer would refuse, and append nothing. */
static void test_encode_rejections(void) {
        Buffer b = BUFFER_INIT(1 << 20);
        static uint8_t big[WIRE_TILE_DATA_MAX + 1];

        check(wire_encode_tile(&b, &(WireTile) { .data = big, .data_len = WIRE_TILE_DATA_MAX + 1 }) == -EMSGSIZE);
        check(wire_encode_tile(&b, &(WireTile) { .data = NULL, .data_len = 1 }) == -EINVAL);
        check(wire_encode_hello(&b, &(WireHello) { .ticket = big, .ticket_len = WIRE_HELLO_TICKET_MAX + 1 }) == -EMSGSIZE);
        check(wire_encode_cursor_shape(&b, &(WireCursorShape) { .argb = big, .argb_len = WIRE_CURSOR_SHAPE_ARGB_MAX + 1 }) ==
              -EMSGSIZE);
        memset(big, 'a', 256);
        check(wire_encode_bye(&b, &(WireBye) { .reason = (const char *) big, .reason_len = 256 }) == -EMSGSIZE);
        check(wire_encode_bye(&b, &(WireBye) { .reason = "a\0b", .reason_len = 3 }) == -EINVAL);
        check(wire_encode_notice(&b, &(WireNotice) { .text = "\xc3", .text_len = 1 }) == -EINVAL);
        check(wire_encode(&b, &(WireMessage) { .type = 0x7f }) == -ENOMSG);
        check(buffer_len(&b) == 0);
        check(wire_encode_bye(&b, &(WireBye) { .reason = (const char *) big, .reason_len = 255 }) == 0);
        buffer_done(&b);
}

static void test_unknown_types(void) {
        uint8_t payload[16] = {};
        size_t known = 0;
        for (uint32_t t = 0; t <= 0xffff; t++) {
                if (wire_type_info((uint16_t) t)) {
                        known++;
                        continue;
                }
                check(decode((uint16_t) t, 0, payload, sizeof(payload)) == -ENOMSG);
                check(wire_max_size((uint16_t) t) == -ENOMSG && wire_type_direction((uint16_t) t) == -ENOMSG);
                check(strcmp(wire_type_name((uint16_t) t), "unknown") == 0);
                WireHeader h = { .size = WIRE_UNKNOWN_SIZE_MAX, .type = (uint16_t) t, .channel = 9 };
                check(wire_header_check(&h) == 1);
                h.size++;
                check(wire_header_check(&h) == -EMSGSIZE);
        }
        check(known == wire_types_count);
        /* The media channel's types are known there and nowhere else. */
        check(wire_type_info(WIRE_TYPE_MEDIA_PACKET));
        WireHeader m = { .size = 0, .type = WIRE_TYPE_MEDIA_PACKET, .channel = WIRE_CHANNEL_DISPLAY };
        check(wire_header_check(&m) == -EPROTO);

        WireHeader h = { .size = WIRE_TILE_SIZE_MAX, .type = WIRE_TYPE_TILE, .channel = WIRE_CHANNEL_DISPLAY };
        check(wire_header_check(&h) == 0);
        h.size++;
        check(wire_header_check(&h) == -EMSGSIZE);
        h.size = 0, h.channel = WIRE_CHANNEL_CONTROL;
        check(wire_header_check(&h) == -EPROTO);
        /* A known type given a bogus payload pointer with length 0 is only a short payload. */
        check(decode(WIRE_TYPE_PING, 0, NULL, 0) == -EBADMSG);
        check(decode(WIRE_TYPE_PING, 0, NULL, 16) == -EINVAL);
}

static void test_strings(void) {
        static const struct {
                const char *s;
                bool ok;
        } cases[] = {
                { "", true },
                { "plain ascii", true },
                { "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x96\xa5", true },
                { "\xed\x9f\xbf", true },     /* U+D7FF */
                { "\xee\x80\x80", true },     /* U+E000 */
                { "\xf4\x8f\xbf\xbf", true }, /* U+10FFFF */
                { "\xc0\xaf", false },        /* overlong '/' */
                { "\xe0\x80\xaf", false },    /* overlong */
                { "\xf0\x80\x80\xaf", false },/* overlong */
                { "\xed\xa0\x80", false },    /* surrogate U+D800 */
                { "\xed\xbf\xbf", false },    /* surrogate U+DFFF */
                { "\xf4\x90\x80\x80", false },/* U+110000 */
                { "\xf8\x88\x80\x80\x80", false },
                { "\x80", false },
                { "\xc3", false },            /* cut short */
                { "\xe2\x82", false },
                { "\xe2\x28\xa1", false },    /* bad continuation */
                { "\xff", false },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                check(wire_string_valid(cases[i].s, strlen(cases[i].s)) == cases[i].ok);
        check(!wire_string_valid("a\0b", 3));
        check(wire_string_valid(NULL, 0));
}

/* The length readers on their own: with one variable field per message, a length over its
 * maximum but inside the payload cannot reach them through wire_decode() (the payload would be
 * over the type's maximum first), but a future message with two such fields would. */
static void test_get_bytes(void) {
        uint8_t p[16] = { 5, 0, 0, 0, 'h', 'e', 'l', 'l', 'o', 0xee };
        const uint8_t *s = NULL;
        const char *str = NULL;
        size_t off = 0, n = 99;

        check(wire_get_bytes(p, 9, &off, 4, &s, &n) == -EBADMSG && off == 0 && n == 99);  /* over max */
        check(wire_get_bytes(p, 8, &off, 5, &s, &n) == -EBADMSG && off == 0 && n == 99);  /* past end */
        check(wire_get_bytes(p, 3, &off, 5, &s, &n) == -EBADMSG && off == 0);             /* no length */
        check(wire_get_bytes(p, 9, &off, 5, &s, &n) == 0 && off == 9 && n == 5 && s == p + 4);
        off = 0;
        check(wire_get_string(p, 9, &off, 5, &str, &n) == 0 && off == 9 && str == (const char *) p + 4);
        p[0] = 6;
        off = 0;
        check(wire_get_string(p, 10, &off, 6, &str, &n) == -EBADMSG && off == 0); /* 0xee cut short */
        check(wire_get_string(p, 10, &off, 5, &str, &n) == -EBADMSG && off == 0);
}

int main(void) {
        test_get_bytes();
        test_golden();
        test_strings();
        test_roundtrip();
        test_encode_rejections();
        test_unknown_types();
        printf("%zu message types round-tripped and rejected as they should\n", wire_types_count);
        return 0;
}
