/* rudp's codec: varints, the header and every frame round-trip; truncations fail cleanly; ACK
 * ranges written from random sets decode to the same sets; range sets match a bitmap model. */
#include "check.h"
#include <errno.h>
#include <string.h>

#include "rudp-packet.h"
#include "rudp-ranges.h"
#include "rudp-varint.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void) {
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * 0x2545f4914f6cdd1dull;
}

static void test_varint(void) {
        static const uint64_t values[] = { 0, 1, 63, 64, 16383, 16384, (1u << 30) - 1, 1u << 30,
                                           RUDP_VARINT_MAX };
        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
                uint8_t b[8];
                uint64_t v = 12345;
                int n = rudp_varint_put(b, sizeof b, values[i]);
                check(n == (int) rudp_varint_size(values[i]));
                check(rudp_varint_get(b, (size_t) n, &v) == n && v == values[i]);
                v = 12345;
                check(rudp_varint_get(b, (size_t) n - 1, &v) == -EBADMSG && v == 12345);
                check(rudp_varint_put(b, (size_t) n - 1, values[i]) == -ENOBUFS);
        }
        uint8_t b[8];
        check(rudp_varint_put(b, 8, RUDP_VARINT_MAX + 1) == -ERANGE);
        /* Non-minimal encodings are accepted. */
        uint8_t two[] = { 0x40, 0x05 };
        uint64_t v;
        check(rudp_varint_get(two, 2, &v) == 2 && v == 5);
}

static void test_header(void) {
        uint8_t buf[64];
        RudpHeader in = { .connection = 0x0102030405060708ull, .number = 1000000, .protected = true,
                          .fec_group = 77, .fec_index = 31 }, out;
        RudpWriter w = { buf, sizeof buf, 0 };
        check(rudp_header_write(&w, &in) == 0 && w.len == rudp_header_size(&in));
        check(rudp_header_parse(buf, w.len, &out) == (int) w.len);
        check(out.connection == in.connection && out.number == in.number && out.protected &&
              out.fec_group == 77 && out.fec_index == 31);
        for (size_t l = 0; l < w.len; l++)
                check(rudp_header_parse(buf, l, &out) == -EBADMSG);
        buf[0] = 0x80;
        check(rudp_header_parse(buf, w.len, &out) == -EBADMSG);

        RudpWriter small = { buf, 5, 0 };
        check(rudp_header_write(&small, &in) == -ENOBUFS && small.len == 0);

        /* Connection id 0 (DTLS tells the peers apart) is left out: 8 bytes a datagram. */
        RudpHeader zero = { .number = 5 };
        RudpWriter wz = { buf, sizeof buf, 0 };
        check(rudp_header_write(&wz, &zero) == 0 && wz.len == 2 && wz.len == rudp_header_size(&zero));
        check(buf[0] == RUDP_FLAGS_FIXED);
        check(rudp_header_parse(buf, wz.len, &out) == 2 && out.connection == 0 && out.number == 5 && !out.protected);
        /* The flag without the id is truncated. */
        buf[0] |= RUDP_FLAG_CONNECTION;
        check(rudp_header_parse(buf, wz.len, &out) == -EBADMSG);
}

static void test_frames(void) {
        uint8_t buf[RUDP_DATAGRAM_MAX], data[300];
        RudpWriter w = { buf, sizeof buf, 0 };
        RudpFrame f;
        for (size_t i = 0; i < sizeof data; i++)
                data[i] = (uint8_t) i;

        check(rudp_frame_write_simple(&w, RUDP_FRAME_PING) == 0);
        check(rudp_frame_write_stream(&w, 5, RUDP_LATEST_WINS, 0xdeadbeef, 1u << 20, 1000, 700, data, 300) == 0);
        check(rudp_frame_write_max_stream(&w, 3, 123456789) == 0);
        check(rudp_frame_write_close(&w, 42) == 0);
        check(rudp_frame_write_parity(&w, 9, 10, 2, 1, data, 100) == 0);
        RudpAckRange ranges[] = { { 100, 120 }, { 50, 97 }, { 0, 10 } };
        check(rudp_frame_write_ack(&w, ranges, 3, 250, 7) == 3);
        size_t end_frames = w.len;
        rudp_frame_write_padding(&w, 20);

        size_t pos = 0;
        int n;
        check((n = rudp_frame_parse(buf + pos, w.len - pos, &f)) == 1 && f.type == RUDP_FRAME_PING);
        pos += (size_t) n;
        check((n = rudp_frame_parse(buf + pos, w.len - pos, &f)) > 0 && f.type == RUDP_FRAME_STREAM);
        check(f.stream.channel == 5 && f.stream.cls == RUDP_LATEST_WINS && f.stream.message_id == 0xdeadbeef &&
              f.stream.start == 1u << 20 && f.stream.length == 1000 && f.stream.offset == 700 &&
              f.stream.size == 300 && memcmp(f.stream.data, data, 300) == 0);
        pos += (size_t) n;
        check((n = rudp_frame_parse(buf + pos, w.len - pos, &f)) > 0 && f.type == RUDP_FRAME_MAX_STREAM);
        check(f.max_stream.channel == 3 && f.max_stream.limit == 123456789);
        pos += (size_t) n;
        check((n = rudp_frame_parse(buf + pos, w.len - pos, &f)) > 0 && f.type == RUDP_FRAME_CLOSE &&
              f.close.code == 42);
        pos += (size_t) n;
        check((n = rudp_frame_parse(buf + pos, w.len - pos, &f)) > 0 && f.type == RUDP_FRAME_FEC_PARITY);
        check(f.parity.group == 9 && f.parity.k == 10 && f.parity.m == 2 && f.parity.index == 1 &&
              f.parity.size == 100 && memcmp(f.parity.data, data, 100) == 0);
        pos += (size_t) n;
        size_t ack_at = pos;
        check((n = rudp_frame_parse(buf + pos, w.len - pos, &f)) > 0 && f.type == RUDP_FRAME_ACK);
        check(f.ack.largest == 120 && f.ack.delay == 250 && f.ack.recovered == 7 && f.ack.range_count == 2);
        RudpAckRange got[RUDP_ACK_RANGES_MAX];
        check(rudp_ack_decode(&f, got, RUDP_ACK_RANGES_MAX) == 3);
        check(memcmp(got, ranges, sizeof ranges) == 0);
        check(rudp_ack_decode(&f, got, 2) == -EBADMSG);
        pos += (size_t) n;
        check(pos == end_frames);
        check((n = rudp_frame_parse(buf + pos, w.len - pos, &f)) == 20 && f.type == RUDP_FRAME_PADDING);

        /* Every truncation of the ACK frame fails. */
        for (size_t l = 0; l < end_frames - ack_at; l++)
                check(rudp_frame_parse(buf + ack_at, l, &f) == -EBADMSG);

        /* Out-of-range fields. */
        uint8_t bad_class[] = { RUDP_FRAME_STREAM + 3, 0, 0, 0, 1, 0, 1, 0 };
        check(rudp_frame_parse(bad_class, sizeof bad_class, &f) == -EBADMSG);
        uint8_t past_end[] = { RUDP_FRAME_STREAM, 0, 0, 0, 4, 3, 2, 'a', 'b' };
        check(rudp_frame_parse(past_end, sizeof past_end, &f) == -EBADMSG);
        uint8_t empty[] = { RUDP_FRAME_STREAM, 0, 0, 0, 4, 0, 0 };
        check(rudp_frame_parse(empty, sizeof empty, &f) == -EBADMSG);
        uint8_t under[] = { RUDP_FRAME_ACK, 5, 0, 0, 0, 6 };
        check(rudp_frame_parse(under, sizeof under, &f) == -EBADMSG);
        uint8_t under2[] = { RUDP_FRAME_ACK, 5, 0, 0, 1, 2, 1, 0 }; /* 3..5, then hi = 3-1-2 = 0, len 0 */
        check(rudp_frame_parse(under2, sizeof under2, &f) > 0);
        under2[6] = 2;
        check(rudp_frame_parse(under2, sizeof under2, &f) == -EBADMSG);
        uint8_t parity[] = { RUDP_FRAME_FEC_PARITY, 0, 40, 30, 0, 0 };
        check(rudp_frame_parse(parity, sizeof parity, &f) == -EBADMSG);
        uint8_t unknown[] = { 0x0c };
        check(rudp_frame_parse(unknown, 1, &f) == -EBADMSG);

        /* MSG_PARITY: round trip, every truncation fails, out-of-range fields. */
        w = (RudpWriter) { buf, sizeof buf, 0 };
        uint32_t ids[3] = { 7, 1u << 20, 0xffffffff }, lens[3] = { 100, 256, 3 };
        check(rudp_frame_write_msg_parity(&w, 2, 70000, 3, ids, lens, data, 256) == 0);
        check(w.len == rudp_msg_parity_frame_size(70000, 3, ids, lens));
        check((n = rudp_frame_parse(buf, w.len, &f)) == (int) w.len && f.type == RUDP_FRAME_MSG_PARITY);
        check(f.msg_parity.channel == 2 && f.msg_parity.start == 70000 && f.msg_parity.count == 3 &&
              f.msg_parity.size == 256 && memcmp(f.msg_parity.data, data, 256) == 0);
        for (unsigned i = 0; i < 3; i++)
                check(f.msg_parity.message_id[i] == ids[i] && f.msg_parity.length[i] == lens[i]);
        for (size_t l = 0; l < w.len; l++)
                check(rudp_frame_parse(buf, l, &f) == -EBADMSG);
        check(rudp_frame_write_msg_parity(&w, 2, 0, 3, ids, lens, data, 100) == -ERANGE); /* size not the longest */
        check(rudp_frame_write_msg_parity(&w, 2, 0, 1, ids, lens, data, 100) == -ERANGE);
        check(rudp_frame_write_msg_parity(&w, 2, 0, RUDP_MSG_PARITY_MSGS_MAX + 1, ids, lens, data, 256) == -ERANGE);
        uint32_t too_long[2] = { 257, 1 }, zero[2] = { 0, 1 };
        check(rudp_frame_write_msg_parity(&w, 2, 0, 2, ids, too_long, data, 257) == -ERANGE);
        check(rudp_frame_write_msg_parity(&w, 2, 0, 2, ids, zero, data, 1) == -ERANGE);
        /* channel 0, start 0, count, (id, length)... then the XOR */
        uint8_t one[] = { RUDP_FRAME_MSG_PARITY, 0, 0, 1, 5, 1, 'x' };
        check(rudp_frame_parse(one, sizeof one, &f) == -EBADMSG);
        uint8_t five[] = { RUDP_FRAME_MSG_PARITY, 0, 0, 5, 1, 1, 2, 1, 3, 1, 4, 1, 5, 1, 'x' };
        check(rudp_frame_parse(five, sizeof five, &f) == -EBADMSG);
        five[3] = 4;
        check(rudp_frame_parse(five, sizeof five - 2, &f) == (int) sizeof five - 2);
        uint8_t zero_len[] = { RUDP_FRAME_MSG_PARITY, 0, 0, 2, 1, 0, 2, 1, 'x' };
        check(rudp_frame_parse(zero_len, sizeof zero_len, &f) == -EBADMSG);
        uint8_t long_len[] = { RUDP_FRAME_MSG_PARITY, 0, 0, 2, 1, 0x41, 0x01, 2, 1 }; /* 257 */
        check(rudp_frame_parse(long_len, sizeof long_len, &f) == -EBADMSG);
        uint8_t big_id[] = { RUDP_FRAME_MSG_PARITY, 0, 0, 2, 0xc1, 0, 0, 0, 0, 0, 0, 0, 1, 2, 1, 'x' }; /* 2^32 */
        check(rudp_frame_parse(big_id, sizeof big_id, &f) == -EBADMSG);
        /* The messages end past the largest varint. */
        uint8_t past[] = { RUDP_FRAME_MSG_PARITY, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 1, 1, 2, 1, 'x' };
        check(rudp_frame_parse(past, sizeof past, &f) == -EBADMSG);

        /* MSG_REBUILT */
        w = (RudpWriter) { buf, sizeof buf, 0 };
        check(rudp_frame_write_msg_rebuilt(&w, 7, 1u << 30) == 0 && w.len == 2 + 8);
        check(rudp_frame_parse(buf, w.len, &f) == (int) w.len && f.type == RUDP_FRAME_MSG_REBUILT &&
              f.msg_rebuilt.channel == 7 && f.msg_rebuilt.start == 1u << 30);
        for (size_t l = 0; l < w.len; l++)
                check(rudp_frame_parse(buf, l, &f) == -EBADMSG);
        check(rudp_frame_write_msg_rebuilt(&w, 0, RUDP_VARINT_MAX + 1) == -ERANGE);

        /* A full writer takes nothing. */
        RudpWriter tiny = { buf, 10, 0 };
        RudpWriter tiny9 = { buf, 9, 0 };
        check(rudp_frame_write_msg_rebuilt(&tiny9, 0, 1u << 30) == -ENOBUFS && tiny9.len == 0);
        check(rudp_frame_write_msg_parity(&tiny, 0, 0, 3, ids, lens, data, 256) == -ENOBUFS && tiny.len == 0);
        check(rudp_frame_write_stream(&tiny, 0, RUDP_RELIABLE_ORDERED, 1, 0, 100, 0, data, 100) == -ENOBUFS &&
              tiny.len == 0);
        check(rudp_frame_write_parity(&tiny, 0, 1, 1, 0, data, 100) == -ENOBUFS && tiny.len == 0);
}

/* Random receive sets: the ACK written from a set's highest ranges decodes to exactly them. */
static void test_ack_random(void) {
        for (int round = 0; round < 2000; round++) {
                RudpRanges s = RUDP_RANGES_INIT(1000);
                uint64_t base = rng() % 2 ? 0 : rng() % (1u << 31);
                int adds = 1 + (int) (rng() % 100);
                for (int i = 0; i < adds; i++) {
                        uint64_t lo = base + rng() % 3000;
                        check(rudp_ranges_add(&s, lo, lo + 1 + rng() % 20) == 0);
                }
                RudpAckRange in[RUDP_ACK_RANGES_MAX], out[RUDP_ACK_RANGES_MAX];
                size_t n = 0;
                for (size_t i = s.n; i > 0 && n < RUDP_ACK_RANGES_MAX; i--)
                        in[n++] = (RudpAckRange) { s.r[i - 1].lo, s.r[i - 1].hi - 1 };
                uint8_t buf[RUDP_DATAGRAM_MAX];
                size_t room = 40 + rng() % 400;
                RudpWriter w = { buf, room, 0 };
                int used = rudp_frame_write_ack(&w, in, n, rng() % 100000, rng() % 100);
                check(used >= 1 && (size_t) used <= n);
                RudpFrame f;
                check(rudp_frame_parse(buf, w.len, &f) == (int) w.len);
                check(rudp_ack_decode(&f, out, RUDP_ACK_RANGES_MAX) == used);
                check(memcmp(in, out, (size_t) used * sizeof(in[0])) == 0);
                rudp_ranges_done(&s);
        }
}

static void test_ranges_model(void) {
        enum { N = 512 };
        for (int round = 0; round < 300; round++) {
                bool model[N] = {};
                RudpRanges s = RUDP_RANGES_INIT(N);
                for (int op = 0; op < 200; op++) {
                        uint64_t lo = rng() % N, hi = lo + rng() % 20;
                        if (hi > N)
                                hi = N;
                        if (rng() % 10 == 0) {
                                rudp_ranges_remove_below(&s, lo);
                                for (uint64_t i = 0; i < lo; i++)
                                        model[i] = false;
                        } else if (rng() % 4 == 0) {
                                check(rudp_ranges_remove(&s, lo, hi) == 0);
                                for (uint64_t i = lo; i < hi; i++)
                                        model[i] = false;
                        } else {
                                check(rudp_ranges_add(&s, lo, hi) == 0);
                                for (uint64_t i = lo; i < hi; i++)
                                        model[i] = true;
                        }
                        /* Sorted, disjoint, not adjacent. */
                        for (size_t i = 0; i < s.n; i++) {
                                check(s.r[i].lo < s.r[i].hi);
                                check(i == 0 || s.r[i - 1].hi < s.r[i].lo);
                        }
                        uint64_t a = rng() % N, b = a + rng() % 50;
                        if (b > N)
                                b = N;
                        uint64_t count = 0;
                        bool all = true;
                        for (uint64_t i = a; i < b; i++) {
                                count += model[i];
                                all &= model[i];
                        }
                        check(rudp_ranges_count_within(&s, a, b) == count);
                        check(rudp_ranges_covers(&s, a, b) == all);
                        check(rudp_ranges_contains(&s, a) == model[a]);
                        RudpRange g;
                        bool has = rudp_ranges_first_gap(&s, a, b, &g);
                        check(has == !all);
                        if (has) {
                                for (uint64_t i = a; i < g.lo; i++)
                                        check(model[i]);
                                for (uint64_t i = g.lo; i < g.hi; i++)
                                        check(!model[i]);
                                check(g.hi == b || model[g.hi]);
                        }
                }
                rudp_ranges_done(&s);
        }
        /* The bound: a new disjoint range past max is refused and changes nothing. */
        RudpRanges s = RUDP_RANGES_INIT(2);
        check(rudp_ranges_add(&s, 0, 1) == 0 && rudp_ranges_add(&s, 5, 6) == 0);
        check(rudp_ranges_add(&s, 10, 11) == -E2BIG && s.n == 2);
        check(rudp_ranges_add(&s, 1, 5) == 0 && s.n == 1 && s.r[0].lo == 0 && s.r[0].hi == 6);
        check(rudp_ranges_remove(&s, 2, 3) == 0 && s.n == 2);
        check(rudp_ranges_remove(&s, 4, 5) == -E2BIG && s.n == 2 && s.r[1].lo == 3 && s.r[1].hi == 6);
        rudp_ranges_done(&s);
}

int main(void) {
        test_varint();
        test_header();
        test_frames();
        test_ack_random();
        test_ranges_model();
        return 0;
}
