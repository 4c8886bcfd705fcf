/* The X CLIPBOARD selection and the agent protocol's lazy clipboard (schema/agent-protocol.md):
 * an X client taking the selection becomes a clipboard-grab with a new serial and the formats
 * its TARGETS offer; the host's requests are converted from the owner (INCR for large data) and
 * sent back in clipboard-data chunks. When the host grabs, the helper owns CLIPBOARD and answers
 * each SelectionRequest by asking the host for the data first (TARGETS and TIMESTAMP at once).
 * Texts are UTF8_STRING, text/plain;charset=utf-8 and STRING; images image/png. */
#pragma once

#include <X11/Xlib.h>

#include "agent.h"
#include "session.h"

/* Largest transfer either way (the protocol's cap). */
#define CLIPBOARD_MAX AGENT_CLIPBOARD_TOTAL_MAX

int clipboard_new(Session *s, Clipboard **ret);
Clipboard *clipboard_free(Clipboard *c);

/* Every X event goes through here; those that are not the clipboard's are ignored. */
void clipboard_handle_event(Clipboard *c, XEvent *ev);
/* clipboard-grab, -request, -data and -release from the peer. */
void clipboard_handle_message(Clipboard *c, const AgentMessage *m);
/* A (new) peer: it is told the guest's current grab. */
void clipboard_peer_connected(Clipboard *c);
/* The peer is gone: the host's clipboard with it. */
void clipboard_peer_lost(Clipboard *c);
/* Sends the next chunks of converted data while the connection has room. */
void clipboard_pump(Clipboard *c);
