/* The agent protocol: every type in every variant through an agent WireConn, the stream cut at
 * every byte boundary and coalesced; directions (hostd accepts g2h, the guest h2g); frames over a
 * type's maximum, on a wrong channel or cut short; hello checks. */
#include "check.h"
#include <errno.h>
#include <string.h>

#include "agent.h"
#include "mem-transport.h"
#include "wire-test.h"

static uint8_t arena[AGENT_KNOWN_SIZE_MAX];
static uint8_t expect_arena[AGENT_KNOWN_SIZE_MAX];

static void conn_pair(const MemTransportOptions *o, int accept, WireConn **tx, WireConn **rx) {
        ByteTransport *a, *b;
        check(mem_transport_pair(o, &a, &b) == 0);
        check(agent_conn_new(a, 8u << 20, AGENT_DIR_BOTH, tx) == 0);
        check(agent_conn_new(b, 8u << 20, accept, rx) == 0);
}

static void fill(AgentMessage *m, size_t t, WireTestVariant v, uint8_t *buf) {
        const WireTypeInfo *info = &agent_types[t];
        *m = (AgentMessage) { .type = info->type, .channel = info->channel };
        wire_test_fill_fields(m, info, v, buf);
}

/* Sends every type in every variant, then checks they arrive whole and in order when reads and
 * writes are cut to at most max_chunk bytes (1: every boundary). */
static void stream_all(uint64_t seed, size_t max_chunk) {
        MemTransportOptions o = { .seed = seed, .max_chunk = max_chunk };
        WireConn *tx, *rx;
        conn_pair(&o, AGENT_DIR_BOTH, &tx, &rx);

        size_t n = 0;
        for (WireTestVariant v = 0; v < _WIRE_TEST_VARIANT_MAX; v++)
                for (size_t t = 0; t < agent_types_count; t++) {
                        AgentMessage m;
                        fill(&m, t, v, arena);
                        check(agent_encode(wire_conn_out(tx), &m) == 0);
                        n++;
                }
        size_t got = 0;
        for (unsigned rounds = 0; got < n; rounds++) {
                check(rounds < 100000000);
                int r = wire_conn_flush(tx);
                check(r == 0 || r == -EAGAIN);
                AgentMessage m;
                while ((r = agent_conn_receive(rx, &m)) > 0) {
                        size_t t = got % agent_types_count;
                        WireTestVariant v = (WireTestVariant) (got / agent_types_count);
                        AgentMessage want;
                        fill(&want, t, v, expect_arena);
                        check(m.type == want.type && m.channel == want.channel);
                        check(wire_test_fields_equal(&m, &want, &agent_types[t]));
                        got++;
                }
                check(r == 0);
        }
        check(!wire_conn_inside_frame(rx));
        wire_conn_free(tx);
        wire_conn_free(rx);
}

/* Raw frame into tx's queue. */
static void put_raw(WireConn *tx, uint16_t type, uint8_t channel, uint32_t size, size_t actual) {
        uint8_t *p;
        check(buffer_reserve(wire_conn_out(tx), WIRE_HEADER_SIZE + actual, &p) == 0);
        wire_header_put(p, &(WireHeader) { .size = size, .type = type, .channel = channel });
        memset(p + WIRE_HEADER_SIZE, 'x', actual);
        buffer_commit(wire_conn_out(tx), WIRE_HEADER_SIZE + actual);
}

static int receive_one(WireConn *tx, WireConn *rx, AgentMessage *m) {
        int r = wire_conn_flush(tx);
        check(r == 0);
        return agent_conn_receive(rx, m);
}

static void test_rejects(void) {
        WireConn *tx, *rx;
        AgentMessage m;

        /* hostd's side refuses a message only hostd sends. */
        conn_pair(NULL, AGENT_DIR_G2H, &tx, &rx);
        check(agent_encode_power_request(wire_conn_out(tx), &(AgentPowerRequest) { .action = AGENT_ACTION_REBOOT }) == 0);
        check(receive_one(tx, rx, &m) == -EPROTO);
        check(strstr(wire_conn_error(rx), "power-request") && strstr(wire_conn_error(rx), "direction"));
        wire_conn_free(tx), wire_conn_free(rx);

        /* The guest's side takes it, and refuses a heartbeat (g2h only). */
        conn_pair(NULL, AGENT_DIR_H2G, &tx, &rx);
        check(agent_encode_power_request(wire_conn_out(tx), &(AgentPowerRequest) { .action = AGENT_ACTION_SHUTDOWN }) == 0);
        check(receive_one(tx, rx, &m) == 1 && m.type == AGENT_TYPE_POWER_REQUEST && m.power_request.action == 1);
        check(agent_encode_heartbeat(wire_conn_out(tx), &(AgentHeartbeat) { .seq = 1 }) == 0);
        check(receive_one(tx, rx, &m) == -EPROTO);
        wire_conn_free(tx), wire_conn_free(rx);

        /* Over a type's maximum: refused from the header, before the payload is buffered. */
        conn_pair(NULL, AGENT_DIR_G2H, &tx, &rx);
        put_raw(tx, AGENT_TYPE_WINDOW_UPDATE, AGENT_CHANNEL_WINDOWS, AGENT_WINDOW_UPDATE_SIZE_MAX + 1, 0);
        check(receive_one(tx, rx, &m) == -EPROTO);
        check(strstr(wire_conn_error(rx), "over its maximum"));
        wire_conn_free(tx), wire_conn_free(rx);

        /* A known type on another channel. */
        conn_pair(NULL, AGENT_DIR_G2H, &tx, &rx);
        put_raw(tx, AGENT_TYPE_HEARTBEAT, AGENT_CHANNEL_CLIPBOARD, 0, 0);
        check(receive_one(tx, rx, &m) == -EPROTO);
        wire_conn_free(tx), wire_conn_free(rx);

        /* A heartbeat whose payload is short: undecodable. */
        conn_pair(NULL, AGENT_DIR_G2H, &tx, &rx);
        put_raw(tx, AGENT_TYPE_HEARTBEAT, AGENT_CHANNEL_CONTROL, 3, 3);
        check(receive_one(tx, rx, &m) == -EPROTO);
        check(strstr(wire_conn_error(rx), "malformed"));
        wire_conn_free(tx), wire_conn_free(rx);

        /* An unknown type is skipped; a frame cut short is visible as one being received. */
        conn_pair(NULL, AGENT_DIR_G2H, &tx, &rx);
        put_raw(tx, 0x0999, 9, 100, 100);
        put_raw(tx, AGENT_TYPE_LOGOFF, AGENT_CHANNEL_SESSION, 20, 5);
        check(receive_one(tx, rx, &m) == 0);
        check(wire_conn_skipped(rx) == 1);
        check(wire_conn_inside_frame(rx));
        wire_conn_free(tx);
        check(agent_conn_receive(rx, &m) == -ECONNRESET);
        check(strstr(wire_conn_error(rx), "inside a frame"));
        wire_conn_free(rx);

        /* A string that is not UTF-8 is malformed. */
        conn_pair(NULL, AGENT_DIR_G2H, &tx, &rx);
        check(agent_encode_window_update(wire_conn_out(tx), &(AgentWindowUpdate) { .title = "ok", .title_len = 2 }) == 0);
        uint8_t *p = (uint8_t *) buffer_data(wire_conn_out(tx)) + buffer_len(wire_conn_out(tx)) - 2;
        p[0] = 0xff;
        check(receive_one(tx, rx, &m) == -EPROTO);
        wire_conn_free(tx), wire_conn_free(rx);
}

static void test_hello(void) {
        AgentHello h;
        agent_hello_init(&h, AGENT_CAP_HEARTBEAT | AGENT_CAP_SESSIONS, "tandem-guestd 1");
        check(h.magic == AGENT_MAGIC && h.version == AGENT_VERSION && h.software_len == 15);
        check(agent_hello_check(&h) == 0);
        h.version = 2;
        check(agent_hello_check(&h) == -EPROTONOSUPPORT);
        h.version = 1, h.magic ^= 1;
        check(agent_hello_check(&h) == -EPROTO);
        /* A name over the field's maximum is cut, so the hello still encodes. */
        char longname[200];
        memset(longname, 'n', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = 0;
        agent_hello_init(&h, 0, longname);
        check(h.software_len == AGENT_HELLO_SOFTWARE_MAX);
        Buffer b = BUFFER_INIT(4096);
        check(agent_encode_hello(&b, &h) == 0);
        buffer_done(&b);
}

int main(void) {
        stream_all(0, 0);             /* coalesced: everything in one read */
        stream_all(1, 1);             /* one byte at a time: every boundary */
        for (uint64_t seed = 2; seed < 12; seed++)
                stream_all(seed, 97); /* random cuts */
        test_rejects();
        test_hello();
        return 0;
}
