/* Framing helpers shared by the generated encoders and decoders and by WireConn. */
#include <errno.h>

#include "unaligned.h"
#include "wire.h"

void wire_header_parse(const uint8_t *p, WireHeader *ret) {
        *ret = (WireHeader) {
                .size = get_le32(p),
                .type = get_le16(p + 4),
                .channel = p[6],
                .flags = p[7],
        };
}

void wire_header_put(uint8_t *p, const WireHeader *h) {
        put_le32(p, h->size);
        put_le16(p + 4, h->type);
        p[6] = h->channel;
        p[7] = h->flags;
}

int wire_protocol_header_check(const WireProtocol *p, const WireHeader *h) {
        ssize_t max = p->max_size(h->type);

        if (max < 0)
                return h->size <= WIRE_UNKNOWN_SIZE_MAX ? 1 : -EMSGSIZE;
        if (p->type_channel(h->type) != h->channel)
                return -EPROTO;
        return h->size <= (size_t) max ? 0 : -EMSGSIZE;
}

int wire_header_check(const WireHeader *h) {
        return wire_protocol_header_check(&wire_protocol, h);
}

static int decode_wire(const WireHeader *h, const uint8_t *payload, void *ret) {
        WireMessage *m = ret;
        int r = wire_decode(h->type, h->channel, payload, h->size, m);
        if (r >= 0)
                m->flags = h->flags;
        return r;
}

const WireProtocol wire_protocol = {
        .known_size_max = WIRE_KNOWN_SIZE_MAX,
        .max_size = wire_max_size,
        .type_channel = wire_type_channel,
        .type_direction = wire_type_direction,
        .type_name = wire_type_name,
        .decode = decode_wire,
};

bool wire_string_valid(const char *s, size_t len) {
        const uint8_t *p = (const uint8_t *) s;
        size_t i = 0;

        while (i < len) {
                uint8_t c = p[i];
                size_t n;
                uint32_t cp, min;

                if (c == 0)
                        return false;
                if (c < 0x80) {
                        i++;
                        continue;
                }
                if ((c & 0xe0) == 0xc0)
                        n = 1, cp = c & 0x1f, min = 0x80;
                else if ((c & 0xf0) == 0xe0)
                        n = 2, cp = c & 0x0f, min = 0x800;
                else if ((c & 0xf8) == 0xf0)
                        n = 3, cp = c & 0x07, min = 0x10000;
                else
                        return false; /* a continuation byte, or 0xf8..0xff */
                if (len - i - 1 < n)
                        return false;
                for (size_t k = 1; k <= n; k++) {
                        if ((p[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = cp << 6 | (p[i + k] & 0x3f);
                }
                if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += n + 1;
        }
        return true;
}

int wire_frame_begin(Buffer *b, uint16_t type, uint8_t channel, size_t size, uint8_t **ret) {
        uint8_t *p;
        int r;

        if (size > UINT32_MAX)
                return -EMSGSIZE;
        r = buffer_reserve(b, WIRE_HEADER_SIZE + size, &p);
        if (r < 0)
                return r;
        wire_header_put(p, &(WireHeader) { .size = (uint32_t) size, .type = type, .channel = channel });
        *ret = p + WIRE_HEADER_SIZE;
        return 0;
}

void wire_frame_end(Buffer *b, size_t size) {
        buffer_commit(b, WIRE_HEADER_SIZE + size);
}

int wire_get_bytes(const uint8_t *p, size_t len, size_t *off, size_t max, const uint8_t **ret, size_t *ret_len) {
        size_t o = *off;

        if (len - o < 4)
                return -EBADMSG;
        uint32_t n = get_le32(p + o);
        o += 4;
        if (n > max || n > len - o)
                return -EBADMSG;
        *ret = p + o;
        *ret_len = n;
        *off = o + n;
        return 0;
}

int wire_get_string(const uint8_t *p, size_t len, size_t *off, size_t max, const char **ret, size_t *ret_len) {
        const uint8_t *s;
        size_t n, o = *off;
        int r;

        r = wire_get_bytes(p, len, &o, max, &s, &n);
        if (r < 0)
                return r;
        if (!wire_string_valid((const char *) s, n))
                return -EBADMSG;
        *ret = (const char *) s;
        *ret_len = n;
        *off = o;
        return 0;
}
