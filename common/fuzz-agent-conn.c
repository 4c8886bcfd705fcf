/* Fuzzes the agent protocol's decoding as both ends run it: a byte stream from an untrusted peer
 * through an agent WireConn, delivered in pieces, must give the same messages and the same end as
 * the stream delivered whole: the split points change nothing (every parser split at every byte
 * boundary and coalesced).
 *
 * Input: byte 0 bit 0 picks the receiver (0 hostd: accepts g2h; 1 the guest: h2g); bytes 1..8 seed
 * the split points; byte 9 caps a piece (0: no cap); the rest is the stream. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "mem-transport.h"
#include "unaligned.h"
#include "wire-test.h"

#define HEAD 10
#define MAX_MESSAGES 4096

volatile uint8_t fuzz_sink;

/* Type and a digest of each message, and how the stream ended, for one delivery. */
typedef struct Outcome {
        uint16_t types[MAX_MESSAGES];
        uint64_t digests[MAX_MESSAGES];
        size_t n;
        int end;
} Outcome;

static Outcome whole, pieces;

static uint64_t digest(const AgentMessage *m) {
        const WireTypeInfo *info = agent_type_info(m->type);
        uint64_t h = 1469598103934665603ull;
        for (size_t i = 0; info && i < info->n_fields; i++) {
                const WireFieldInfo *f = &info->fields[i];
                if (!wire_test_is_var(f)) {
                        h = (h ^ wire_test_get_fixed(m, f)) * 1099511628211ull;
                        continue;
                }
                size_t len;
                const uint8_t *p = wire_test_get_var(m, f, &len);
                for (size_t k = 0; k < len; k++)
                        h = (h ^ p[k]) * 1099511628211ull;
                h = (h ^ len) * 1099511628211ull;
        }
        return h;
}

static void run(const uint8_t *s, size_t len, int accept, uint64_t seed, size_t cap, Outcome *o) {
        MemTransportOptions opts = { .seed = seed, .max_chunk = cap };
        ByteTransport *a, *b;
        WireConn *c;
        AgentMessage m;

        o->n = 0;
        if (mem_transport_pair(&opts, &a, &b) < 0 || agent_conn_new(b, 1 << 16, accept, &c) < 0)
                abort();
        size_t off = 0;
        int r;
        for (;;) {
                while (off < len) {
                        ssize_t k = a->ops->write(a, s + off, len - off);
                        if (k == -EAGAIN)
                                break;
                        if (k < 0)
                                abort();
                        off += (size_t) k;
                }
                if (off == len && a) {
                        byte_transport_free(a); /* the peer goes away: the end must be seen */
                        a = NULL;
                }
                r = agent_conn_receive(c, &m);
                if (r < 0)
                        break;
                if (r > 0) {
                        if (o->n == MAX_MESSAGES) {
                                r = 1;
                                break;
                        }
                        o->types[o->n] = m.type;
                        o->digests[o->n++] = digest(&m);
                        fuzz_sink ^= (uint8_t) m.type;
                }
        }
        o->end = r;
        byte_transport_free(a);
        wire_conn_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < HEAD)
                return 0;
        int accept = data[0] & 1 ? AGENT_DIR_H2G : AGENT_DIR_G2H;
        uint64_t seed = get_le64(data + 1);
        size_t cap = data[9];

        run(data + HEAD, size - HEAD, accept, 0, 0, &whole);
        run(data + HEAD, size - HEAD, accept, seed ? seed : 1, cap ? cap : 7, &pieces);
        if (whole.n != pieces.n || whole.end != pieces.end)
                abort();
        for (size_t i = 0; i < whole.n; i++)
                if (whole.types[i] != pieces.types[i] || whole.digests[i] != pieces.digests[i])
                        abort();
        return 0;
}
