/* Fuzzes WireConn with a byte stream delivered through a memory transport in pieces of varying
 * sizes, and checks it against a reference: the same stream parsed whole, frame by frame. The
 * split points must not change which messages come out nor how the stream ends.
 *
 * Input: byte 0 picks the accepted directions (0 both, 1 hostd's, 2 a viewer's) and whether
 * the stream ends (bit 2: the peer stays, so the end is 0 "need more", not an error); bytes
 * 1..8 seed the split points (0: whole reads); byte 9 caps a piece (0: no cap); the rest is the
 * stream. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem-transport.h"
#include "unaligned.h"
#include "wire-conn.h"
#include "wire-test.h"

#define HEAD 10
#define MAX_MESSAGES 4096

volatile uint8_t fuzz_sink;

typedef struct Ref {
        WireMessage m[MAX_MESSAGES];
        size_t n;
        int end; /* -EPROTO, or -ECONNRESET (stream over), or 0 (truncated but the peer stays) */
        uint64_t skipped;
} Ref;

static Ref ref;

static void reference(const uint8_t *s, size_t len, int accept, bool open) {
        size_t off = 0;

        ref.n = 0;
        ref.skipped = 0;
        for (;;) {
                WireHeader h;
                if (len - off < WIRE_HEADER_SIZE) {
                        ref.end = open ? 0 : -ECONNRESET;
                        return;
                }
                wire_header_parse(s + off, &h);
                int r = wire_header_check(&h);
                if (r < 0 || (r == 0 && !(wire_type_direction(h.type) & accept))) {
                        ref.end = -EPROTO;
                        return;
                }
                /* WireConn counts an unknown frame when it starts skipping it. */
                if (r > 0)
                        ref.skipped++;
                if (len - off - WIRE_HEADER_SIZE < h.size) {
                        ref.end = open ? 0 : -ECONNRESET;
                        return;
                }
                if (r == 0) {
                        if (ref.n == MAX_MESSAGES || wire_decode(h.type, h.channel, s + off + WIRE_HEADER_SIZE, h.size,
                                                                 &ref.m[ref.n]) < 0) {
                                ref.end = ref.n == MAX_MESSAGES ? 1 : -EPROTO;
                                return;
                        }
                        ref.m[ref.n++].flags = h.flags;
                }
                off += WIRE_HEADER_SIZE + h.size;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const int accepts[] = { WIRE_DIR_BOTH, WIRE_DIR_C2S, WIRE_DIR_S2C, WIRE_DIR_BOTH };
        ByteTransport *a, *b;
        WireConn *c;
        WireMessage m;
        size_t got = 0;
        int r = 0;

        if (size < HEAD)
                return 0;
        int accept = accepts[data[0] & 3];
        bool open = data[0] & 4;
        MemTransportOptions o = { .seed = get_le64(data + 1), .max_chunk = data[9], .capacity = size + 1 };
        const uint8_t *stream = data + HEAD;
        size_t len = size - HEAD;

        reference(stream, len, accept, open);
        if (ref.end == 1)
                return 0; /* too many messages to compare; not an interesting input */

        if (mem_transport_pair(&o, &a, &b) < 0)
                abort();
        for (size_t off = 0; off < len;) {
                ssize_t n = a->ops->write(a, stream + off, len - off);
                if (n == -EAGAIN)
                        continue;
                if (n <= 0)
                        abort();
                off += (size_t) n;
        }
        if (!open)
                a = byte_transport_free(a);
        if (wire_conn_new(b, 1 << 16, &c) < 0)
                abort();
        wire_conn_set_accept(c, accept);

        /* Each call either returns a message, fails, or made progress; with random -EAGAIN the
         * zeros are bounded by the pieces. A zero with everything read means the end (open). */
        for (size_t calls = 0; calls < 8 * len + 1000; calls++) {
                r = wire_conn_receive(c, &m);
                if (r < 0)
                        break;
                if (r == 0) {
                        if (open && wire_conn_bytes_in(c) == len)
                                break;
                        continue;
                }
                if (got >= ref.n || !wire_test_equal(&m, &ref.m[got]) || m.flags != ref.m[got].flags ||
                    m.channel != ref.m[got].channel)
                        abort();
                const WireTypeInfo *info = wire_type_info(m.type);
                for (size_t i = 0; i < info->n_fields; i++) {
                        size_t n;
                        if (!wire_test_is_var(&info->fields[i]))
                                continue;
                        const uint8_t *p = wire_test_get_var(&m, &info->fields[i], &n);
                        for (size_t k = 0; k < n; k++)
                                fuzz_sink += p[k];
                }
                got++;
        }
        /* Same messages, same end; a protocol error always comes with a reason. */
        if (got != ref.n || r != ref.end || (r == -EPROTO && !wire_conn_error(c)))
                abort();
        if (r != -EPROTO && wire_conn_skipped(c) != ref.skipped)
                abort();
        wire_conn_free(c);
        byte_transport_free(a);
        return 0;
}
