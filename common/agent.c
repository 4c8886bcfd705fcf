/* The agent protocol's framing glue: the generated code plugged into WireConn. */
#include <errno.h>
#include <string.h>

#include "agent.h"

static int decode_agent(const WireHeader *h, const uint8_t *payload, void *ret) {
        AgentMessage *m = ret;
        int r = agent_decode(h->type, h->channel, payload, h->size, m);
        if (r >= 0)
                m->flags = h->flags;
        return r;
}

const WireProtocol agent_protocol = {
        .known_size_max = AGENT_KNOWN_SIZE_MAX,
        .max_size = agent_max_size,
        .type_channel = agent_type_channel,
        .type_direction = agent_type_direction,
        .type_name = agent_type_name,
        .decode = decode_agent,
};

int agent_conn_new(ByteTransport *t, size_t out_limit, int dir_mask, WireConn **ret) {
        WireConn *c;
        int r = wire_conn_new_protocol(t, out_limit, &agent_protocol, &c);
        if (r < 0)
                return r;
        wire_conn_set_accept(c, dir_mask);
        *ret = c;
        return 0;
}

void agent_hello_init(AgentHello *h, uint64_t caps, const char *software) {
        size_t n = strlen(software);
        *h = (AgentHello) {
                .magic = AGENT_MAGIC,
                .version = AGENT_VERSION,
                .caps = caps,
                .software = software,
                .software_len = n < AGENT_HELLO_SOFTWARE_MAX ? n : AGENT_HELLO_SOFTWARE_MAX,
        };
}

int agent_hello_check(const AgentHello *h) {
        if (h->magic != AGENT_MAGIC)
                return -EPROTO;
        return h->version == AGENT_VERSION ? 0 : -EPROTONOSUPPORT;
}
