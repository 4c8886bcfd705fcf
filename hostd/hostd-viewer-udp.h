/* What a viewer on the UDP transport adds to hostd-viewer.c: the rudp timers in sd-event, the
 * ring of tile message ids -> areas that turns a lost tile into a dirty area again, and the pump's
 * pacing on the tile channel's unsent bytes (schema/wire-protocol.md, "Latest-wins display over
 * UDP"). Internal to the viewer server. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "hostd-forward.h"
#include "hostd-viewer-server.h"
#include "region.h"

/* Tile areas remembered: a lost tile whose id fell out of the ring makes the whole screen dirty. */
#define VIEWER_UDP_TILE_RING 4096
/* The least tile backlog the pump lets build up before it waits. */
#define VIEWER_UDP_BACKLOG_MIN (32u * 1024)

typedef struct ViewerUdp ViewerUdp;

/* For a viewer whose connection is rudp: sets up its timer. */
int viewer_udp_new(Viewer *v, ViewerUdp **ret);
ViewerUdp *viewer_udp_free(ViewerUdp *u);

/* The tile sink queued a tile frame for area (x, y, w, h): hands it to rudp and remembers its id.
 * -ENOBUFS when rudp cannot take it now (the frame is taken back out of the queue). */
int viewer_udp_tile_queued(Viewer *v, uint16_t x, uint16_t y, uint16_t w, uint16_t h, size_t frame_len);
/* Whether the pump may encode a frame now: the tile channel's unsent bytes are below the
 * backlog the measured rate drains in about 50 ms. */
bool viewer_udp_may_encode(Viewer *v);
/* After any I/O: lost tiles become pending again, the pump is scheduled when it may run, the
 * timer follows the connection's next deadline. */
void viewer_udp_update(Viewer *v);
