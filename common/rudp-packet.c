/* rudp packet and frame codec (schema/rudp.md). */
#include <errno.h>
#include <string.h>

#include "rudp-packet.h"
#include "rudp-varint.h"
#include "unaligned.h"

/* A read cursor: every get fails once the input is short, so a parser checks once at the end. */
typedef struct Reader {
        const uint8_t *p;
        size_t len, pos;
        bool bad;
} Reader;

static uint64_t get_varint(Reader *r) {
        uint64_t v = 0;
        int n = r->bad ? -EBADMSG : rudp_varint_get(r->p + r->pos, r->len - r->pos, &v);
        if (n < 0) {
                r->bad = true;
                return 0;
        }
        r->pos += (size_t) n;
        return v;
}

static uint8_t get_u8(Reader *r) {
        if (r->bad || r->pos >= r->len) {
                r->bad = true;
                return 0;
        }
        return r->p[r->pos++];
}

static const uint8_t *get_bytes(Reader *r, uint64_t n) {
        if (r->bad || n > r->len - r->pos) {
                r->bad = true;
                return NULL;
        }
        const uint8_t *b = r->p + r->pos;
        r->pos += (size_t) n;
        return b;
}

int rudp_header_parse(const uint8_t *p, size_t len, RudpHeader *ret) {
        Reader r = { .p = p, .len = len };
        RudpHeader h = {};

        uint8_t flags = get_u8(&r);
        if ((flags & RUDP_FLAGS_MASK) != RUDP_FLAGS_FIXED)
                return -EBADMSG;
        if (flags & RUDP_FLAG_CONNECTION) {
                const uint8_t *id = get_bytes(&r, 8);
                if (id)
                        h.connection = get_le64(id);
        }
        h.number = get_varint(&r);
        h.protected = flags & RUDP_FLAG_PROTECTED;
        if (h.protected) {
                h.fec_group = get_varint(&r);
                h.fec_index = get_u8(&r);
                if (h.fec_index >= RUDP_FEC_SYMBOLS_MAX)
                        return -EBADMSG;
        }
        if (r.bad)
                return -EBADMSG;
        *ret = h;
        return (int) r.pos;
}

/* Walks the (gap, length) pairs: fails on a range below packet 0. Fills ranges when given. */
static int ack_walk(uint64_t largest, uint64_t first_range, uint64_t count, const uint8_t *p,
                    size_t len, RudpAckRange *ranges, size_t max, size_t *ret_used) {
        Reader r = { .p = p, .len = len };

        if (first_range > largest || count + 1 > RUDP_ACK_RANGES_MAX || count + 1 > max)
                return -EBADMSG;
        uint64_t smallest = largest - first_range;
        if (ranges)
                ranges[0] = (RudpAckRange) { smallest, largest };
        for (uint64_t i = 0; i < count; i++) {
                uint64_t gap = get_varint(&r), length = get_varint(&r);
                if (r.bad || smallest < gap + 2)
                        return -EBADMSG;
                uint64_t hi = smallest - gap - 2;
                if (length > hi)
                        return -EBADMSG;
                smallest = hi - length;
                if (ranges)
                        ranges[i + 1] = (RudpAckRange) { smallest, hi };
        }
        if (ret_used)
                *ret_used = r.pos;
        return (int) count + 1;
}

int rudp_frame_parse(const uint8_t *p, size_t len, RudpFrame *ret) {
        Reader r = { .p = p, .len = len };
        RudpFrame f = {};
        uint8_t type = get_u8(&r);

        if (r.bad)
                return -EBADMSG;
        if (type >= RUDP_FRAME_STREAM && type < RUDP_FRAME_STREAM + _RUDP_CLASS_MAX) {
                f.type = RUDP_FRAME_STREAM;
                f.stream.cls = (RudpClass) (type - RUDP_FRAME_STREAM);
                f.stream.channel = get_u8(&r);
                uint64_t id = get_varint(&r);
                f.stream.start = get_varint(&r);
                f.stream.length = get_varint(&r);
                f.stream.offset = get_varint(&r);
                uint64_t size = get_varint(&r);
                f.stream.data = get_bytes(&r, size);
                if (r.bad || id > UINT32_MAX || size == 0 || f.stream.length == 0 ||
                    f.stream.offset > f.stream.length || size > f.stream.length - f.stream.offset ||
                    f.stream.length > RUDP_VARINT_MAX - f.stream.start)
                        return -EBADMSG;
                f.stream.message_id = (uint32_t) id;
                f.stream.size = (size_t) size;
                *ret = f;
                return (int) r.pos;
        }

        f.type = type;
        switch (type) {
        case RUDP_FRAME_PADDING:
                while (r.pos < len && p[r.pos] == 0)
                        r.pos++;
                break;
        case RUDP_FRAME_PING:
                break;
        case RUDP_FRAME_ACK: {
                f.ack.largest = get_varint(&r);
                f.ack.delay = get_varint(&r);
                f.ack.recovered = get_varint(&r);
                f.ack.range_count = get_varint(&r);
                f.ack.first_range = get_varint(&r);
                if (r.bad)
                        return -EBADMSG;
                size_t used;
                if (ack_walk(f.ack.largest, f.ack.first_range, f.ack.range_count, p + r.pos,
                             len - r.pos, NULL, RUDP_ACK_RANGES_MAX, &used) < 0)
                        return -EBADMSG;
                f.ack.ranges = p + r.pos;
                f.ack.ranges_size = used;
                r.pos += used;
                break;
        }
        case RUDP_FRAME_MAX_STREAM:
                f.max_stream.channel = get_u8(&r);
                f.max_stream.limit = get_varint(&r);
                break;
        case RUDP_FRAME_CLOSE:
                f.close.code = get_varint(&r);
                break;
        case RUDP_FRAME_FEC_PARITY: {
                f.parity.group = get_varint(&r);
                f.parity.k = get_u8(&r);
                f.parity.m = get_u8(&r);
                f.parity.index = get_u8(&r);
                uint64_t size = get_varint(&r);
                f.parity.data = get_bytes(&r, size);
                if (r.bad || f.parity.k == 0 || f.parity.m == 0 ||
                    f.parity.k + f.parity.m > RUDP_FEC_SYMBOLS_MAX || f.parity.index >= f.parity.m ||
                    size < RUDP_FEC_PREFIX || size > RUDP_DATAGRAM_MAX)
                        return -EBADMSG;
                f.parity.size = (size_t) size;
                break;
        }
        case RUDP_FRAME_MSG_PARITY: {
                f.msg_parity.channel = get_u8(&r);
                f.msg_parity.start = get_varint(&r);
                f.msg_parity.count = get_u8(&r);
                if (r.bad || f.msg_parity.count < 2 || f.msg_parity.count > RUDP_MSG_PARITY_MSGS_MAX)
                        return -EBADMSG;
                uint64_t end = f.msg_parity.start, size = 0;
                for (unsigned i = 0; i < f.msg_parity.count; i++) {
                        uint64_t id = get_varint(&r), length = get_varint(&r);
                        if (r.bad || id > UINT32_MAX || length == 0 || length > RUDP_MSG_PARITY_LEN_MAX ||
                            length > RUDP_VARINT_MAX - end)
                                return -EBADMSG;
                        f.msg_parity.message_id[i] = (uint32_t) id;
                        f.msg_parity.length[i] = (uint32_t) length;
                        end += length;
                        size = length > size ? length : size;
                }
                f.msg_parity.data = get_bytes(&r, size);
                f.msg_parity.size = (size_t) size;
                break;
        }
        case RUDP_FRAME_MSG_REBUILT:
                f.msg_rebuilt.channel = get_u8(&r);
                f.msg_rebuilt.start = get_varint(&r);
                break;
        default:
                return -EBADMSG;
        }
        if (r.bad)
                return -EBADMSG;
        *ret = f;
        return (int) r.pos;
}

int rudp_ack_decode(const RudpFrame *f, RudpAckRange *ranges, size_t max) {
        if (f->type != RUDP_FRAME_ACK)
                return -EINVAL;
        return ack_walk(f->ack.largest, f->ack.first_range, f->ack.range_count, f->ack.ranges,
                        f->ack.ranges_size, ranges, max, NULL);
}

/* Writing: each helper checks the whole frame's size first, so a failure writes nothing. */

static void put_varint(RudpWriter *w, uint64_t v) {
        int n = rudp_varint_put(w->p + w->len, w->size - w->len, v);
        /* Callers checked the room and the value's range. */
        w->len += (size_t) n;
}

static void put_u8(RudpWriter *w, uint8_t v) {
        w->p[w->len++] = v;
}

static void put_bytes(RudpWriter *w, const void *d, size_t n) {
        if (n > 0)
                memcpy(w->p + w->len, d, n);
        w->len += n;
}

size_t rudp_header_size(const RudpHeader *h) {
        return 1 + (h->connection ? 8 : 0) + rudp_varint_size(h->number) +
               (h->protected ? rudp_varint_size(h->fec_group) + 1 : 0);
}

int rudp_header_write(RudpWriter *w, const RudpHeader *h) {
        if (h->number > RUDP_VARINT_MAX || h->fec_group > RUDP_VARINT_MAX ||
            h->fec_index >= RUDP_FEC_SYMBOLS_MAX)
                return -ERANGE;
        if (rudp_header_size(h) > rudp_writer_room(w))
                return -ENOBUFS;
        put_u8(w, RUDP_FLAGS_FIXED | (h->protected ? RUDP_FLAG_PROTECTED : 0) | (h->connection ? RUDP_FLAG_CONNECTION : 0));
        if (h->connection) {
                put_le64(w->p + w->len, h->connection);
                w->len += 8;
        }
        put_varint(w, h->number);
        if (h->protected) {
                put_varint(w, h->fec_group);
                put_u8(w, h->fec_index);
        }
        return 0;
}

int rudp_frame_write_simple(RudpWriter *w, uint8_t type) {
        if (rudp_writer_room(w) < 1)
                return -ENOBUFS;
        put_u8(w, type);
        return 0;
}

void rudp_frame_write_padding(RudpWriter *w, size_t n) {
        n = n < rudp_writer_room(w) ? n : rudp_writer_room(w);
        memset(w->p + w->len, 0, n);
        w->len += n;
}

int rudp_frame_write_max_stream(RudpWriter *w, uint8_t channel, uint64_t limit) {
        if (limit > RUDP_VARINT_MAX)
                return -ERANGE;
        if (2 + rudp_varint_size(limit) > rudp_writer_room(w))
                return -ENOBUFS;
        put_u8(w, RUDP_FRAME_MAX_STREAM);
        put_u8(w, channel);
        put_varint(w, limit);
        return 0;
}

int rudp_frame_write_close(RudpWriter *w, uint64_t code) {
        if (code > RUDP_VARINT_MAX)
                return -ERANGE;
        if (1 + rudp_varint_size(code) > rudp_writer_room(w))
                return -ENOBUFS;
        put_u8(w, RUDP_FRAME_CLOSE);
        put_varint(w, code);
        return 0;
}

size_t rudp_stream_header_size(uint32_t message_id, uint64_t start, uint64_t length, uint64_t offset,
                               size_t size) {
        return 2 + rudp_varint_size(message_id) + rudp_varint_size(start) + rudp_varint_size(length) +
               rudp_varint_size(offset) + rudp_varint_size(size);
}

int rudp_frame_write_stream(RudpWriter *w, uint8_t channel, RudpClass cls, uint32_t message_id,
                            uint64_t start, uint64_t length, uint64_t offset, const void *data,
                            size_t size) {
        if ((unsigned) cls >= _RUDP_CLASS_MAX || size == 0 || length == 0 || offset > length ||
            size > length - offset || length > RUDP_VARINT_MAX || start > RUDP_VARINT_MAX - length)
                return -ERANGE;
        if (rudp_stream_header_size(message_id, start, length, offset, size) + size > rudp_writer_room(w))
                return -ENOBUFS;
        put_u8(w, (uint8_t) (RUDP_FRAME_STREAM + cls));
        put_u8(w, channel);
        put_varint(w, message_id);
        put_varint(w, start);
        put_varint(w, length);
        put_varint(w, offset);
        put_varint(w, size);
        put_bytes(w, data, size);
        return 0;
}

int rudp_frame_write_parity(RudpWriter *w, uint64_t group, uint8_t k, uint8_t m, uint8_t index,
                            const void *data, size_t size) {
        if (group > RUDP_VARINT_MAX || k == 0 || m == 0 || k + m > RUDP_FEC_SYMBOLS_MAX ||
            index >= m || size < RUDP_FEC_PREFIX || size > RUDP_DATAGRAM_MAX)
                return -ERANGE;
        if (4 + rudp_varint_size(group) + rudp_varint_size(size) + size > rudp_writer_room(w))
                return -ENOBUFS;
        put_u8(w, RUDP_FRAME_FEC_PARITY);
        put_varint(w, group);
        put_u8(w, k);
        put_u8(w, m);
        put_u8(w, index);
        put_varint(w, size);
        put_bytes(w, data, size);
        return 0;
}

int rudp_frame_write_msg_rebuilt(RudpWriter *w, uint8_t channel, uint64_t start) {
        if (start > RUDP_VARINT_MAX)
                return -ERANGE;
        if (2 + rudp_varint_size(start) > rudp_writer_room(w))
                return -ENOBUFS;
        put_u8(w, RUDP_FRAME_MSG_REBUILT);
        put_u8(w, channel);
        put_varint(w, start);
        return 0;
}

size_t rudp_msg_parity_frame_size(uint64_t start, uint8_t count, const uint32_t *message_id,
                                  const uint32_t *length) {
        size_t n = 3 + rudp_varint_size(start), size = 0;
        for (unsigned i = 0; i < count; i++) {
                n += rudp_varint_size(message_id[i]) + rudp_varint_size(length[i]);
                size = length[i] > size ? length[i] : size;
        }
        return n + size;
}

int rudp_frame_write_msg_parity(RudpWriter *w, uint8_t channel, uint64_t start, uint8_t count,
                                const uint32_t *message_id, const uint32_t *length, const void *data,
                                size_t size) {
        if (count < 2 || count > RUDP_MSG_PARITY_MSGS_MAX || start > RUDP_VARINT_MAX)
                return -ERANGE;
        uint64_t end = start, longest = 0;
        for (unsigned i = 0; i < count; i++) {
                if (length[i] == 0 || length[i] > RUDP_MSG_PARITY_LEN_MAX || length[i] > RUDP_VARINT_MAX - end)
                        return -ERANGE;
                end += length[i];
                longest = length[i] > longest ? length[i] : longest;
        }
        if (size != longest)
                return -ERANGE;
        if (rudp_msg_parity_frame_size(start, count, message_id, length) > rudp_writer_room(w))
                return -ENOBUFS;
        put_u8(w, RUDP_FRAME_MSG_PARITY);
        put_u8(w, channel);
        put_varint(w, start);
        put_u8(w, count);
        for (unsigned i = 0; i < count; i++) {
                put_varint(w, message_id[i]);
                put_varint(w, length[i]);
        }
        put_bytes(w, data, size);
        return 0;
}

int rudp_frame_write_ack(RudpWriter *w, const RudpAckRange *ranges, size_t n, uint64_t delay,
                         uint64_t recovered) {
        if (n == 0 || ranges[0].lo > ranges[0].hi || ranges[0].hi > RUDP_VARINT_MAX)
                return -ERANGE;
        delay = delay < RUDP_VARINT_MAX ? delay : RUDP_VARINT_MAX;
        recovered = recovered < RUDP_VARINT_MAX ? recovered : RUDP_VARINT_MAX;
        n = n < RUDP_ACK_RANGES_MAX ? n : RUDP_ACK_RANGES_MAX;

        /* Count how many ranges fit; range_count's own size depends on it, so size it as 1 byte
         * (at most 63 ranges follow). */
        size_t need = 1 + rudp_varint_size(ranges[0].hi) + rudp_varint_size(delay) +
                      rudp_varint_size(recovered) + 1 + rudp_varint_size(ranges[0].hi - ranges[0].lo);
        if (need > rudp_writer_room(w))
                return -ENOBUFS;
        size_t used = 1;
        for (; used < n; used++) {
                const RudpAckRange *prev = &ranges[used - 1], *cur = &ranges[used];
                if (cur->lo > cur->hi || cur->hi + 2 > prev->lo)
                        return -ERANGE;
                size_t s = rudp_varint_size(prev->lo - cur->hi - 2) + rudp_varint_size(cur->hi - cur->lo);
                if (need + s > rudp_writer_room(w))
                        break;
                need += s;
        }

        put_u8(w, RUDP_FRAME_ACK);
        put_varint(w, ranges[0].hi);
        put_varint(w, delay);
        put_varint(w, recovered);
        put_varint(w, used - 1);
        put_varint(w, ranges[0].hi - ranges[0].lo);
        for (size_t i = 1; i < used; i++) {
                put_varint(w, ranges[i - 1].lo - ranges[i].hi - 2);
                put_varint(w, ranges[i].hi - ranges[i].lo);
        }
        return (int) used;
}
