/* The agent's features inside the session (client-session.h's agent API): agent-status, the
 * lazy clipboard with serials, the window table, coalesced resize requests, paste-text. Internal
 * to the client library (client-session-internal.h). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "client-agent.h"
#include "wire-gen.h"

typedef struct ClientSession ClientSession;

/* One answer to a request of hostd's being sent, chunk by chunk. */
typedef struct ClipboardOutbound {
        bool active;
        uint32_t serial;
        uint8_t format;
        uint8_t *data;
        size_t len, sent;
        bool started; /* the first chunk went (a 0-byte answer is one chunk) */
} ClipboardOutbound;

typedef enum ClipboardOwner {
        CLIPBOARD_OWNER_NONE,
        CLIPBOARD_OWNER_LOCAL, /* our grab is the current one */
        CLIPBOARD_OWNER_PEER,  /* the guest's (through hostd) */
} ClipboardOwner;

typedef struct ClientSessionAgent {
        uint64_t server_caps; /* the welcome's */
        ClientAgentStatus status;

        ClipboardOwner owner;
        uint32_t local_formats;   /* what our clipboard holds (kept while the feature is off) */
        uint32_t local_serial;    /* of our last grab */
        uint32_t peer_serial, peer_formats;
        ClipboardInbound inbound;
        ClipboardOutbound outbound[2]; /* by format */
        uint64_t clipboard_dropped;    /* inbound transfers dropped as malformed or too large */

        ClientWindows windows;
        ResizeCoalescer resize;
} ClientSessionAgent;

void client_session_agent_done(ClientSessionAgent *a);
/* Whether the message is one of the agent's (agent-status, channels clipboard, windows,
 * resize); then client_session_agent_handle() takes it: 0, or < 0 to end the session. */
bool client_session_agent_type(uint16_t type);
int client_session_agent_handle(ClientSession *s, const WireMessage *m);
/* Sends what waits: a due resize request, clipboard chunks while the connection has room. */
int client_session_agent_pump(ClientSession *s, uint64_t now);
uint64_t client_session_agent_next_timeout(ClientSession *s);
