/* The agent protocol (schema/agent-protocol.md) between hostd and tandem-guestd: the generated
 * messages (agent-gen.h, from schema/agent.def) in wire frames. A WireConn made with
 * agent_conn_new() frames it over any ByteTransport: the virtio-serial port in the guest, the
 * agent channel's socket in hostd, a socketpair in tests. Include this header, not agent-gen.h. */
#pragma once

#include "agent-gen.h"
#include "wire-conn.h"

/* agent.def's directions by their names: h2g is hostd to guest, g2h guest to hostd. */
#define AGENT_DIR_H2G AGENT_DIR_C2S
#define AGENT_DIR_G2H AGENT_DIR_S2C

/* The largest clipboard transfer either side accepts (schema/agent-protocol.md). */
#define AGENT_CLIPBOARD_TOTAL_MAX (UINT32_C(16) << 20)

extern const WireProtocol agent_protocol;

/* A WireConn speaking the agent protocol, accepting messages from dir_mask (AGENT_DIR_G2H in
 * hostd, AGENT_DIR_H2G in the guest). Takes ownership of t. */
int agent_conn_new(ByteTransport *t, size_t out_limit, int dir_mask, WireConn **ret);

static inline int agent_conn_receive(WireConn *c, AgentMessage *ret) {
        return wire_conn_receive_any(c, ret);
}

/* Fills a hello with this side's version, caps and software name (NUL-terminated). */
void agent_hello_init(AgentHello *h, uint64_t caps, const char *software);
/* 0 if a received hello is one this version speaks; -EPROTO for a bad magic, -EPROTONOSUPPORT
 * for another version. */
int agent_hello_check(const AgentHello *h);
