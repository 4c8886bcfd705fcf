/* Seamless windows: the desktop's top-level windows, tracked through EWMH and sent to the peer as
 * deltas (schema/agent-protocol.md, windows channel). The list comes from
 * _NET_CLIENT_LIST_STACKING on the root (bottom to top), else _NET_CLIENT_LIST, else, when no
 * EWMH window manager runs, from XQueryTree's mapped children without override-redirect. Each
 * window's id is its client window's X id; geometry is in root coordinates with the frame
 * (_NET_FRAME_EXTENTS); title from _NET_WM_NAME, else WM_NAME; icon from _NET_WM_ICON; state
 * from _NET_WM_STATE, WM_STATE/mapping and _NET_ACTIVE_WINDOW. X events only mark what changed;
 * windows_sync() reads it and sends what differs from what the peer was last told. */
#pragma once

#include <X11/Xlib.h>

#include "agent.h"
#include "session.h"

/* The protocol's cap: windows past it are ignored. */
#define WINDOWS_MAX 1024

int windows_new(Session *s, Windows **ret);
Windows *windows_free(Windows *w);

void windows_handle_event(Windows *w, XEvent *ev);
/* Reads what changed and sends the deltas (windows-reset first after a new peer or a change of
 * window manager). Does nothing without a peer. */
void windows_sync(Windows *w);
/* A new peer: it gets windows-reset and every window again. */
void windows_peer_connected(Windows *w);
/* window-action from the peer; unknown ids are ignored. */
void windows_action(Windows *w, const AgentWindowAction *a);
