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

/* Tile frames up to this many bytes go in one rudp message (about one datagram): a tile of a
 * scrolling console is ~150 bytes, and each message costs a STREAM header and its own loss. */
#define VIEWER_UDP_BATCH_BYTES 1000u

/* Before the tile sink queues a tile frame of frame_len bytes for area: hands the batch queued so
 * far to rudp when the tile would overfill it or spread its area. -ENOBUFS: rudp refused the
 * batch (its area is encoded again later); the tile must not be taken. */
int viewer_udp_tile_begin(Viewer *v, Rect area, size_t frame_len);
/* The tile sink queued a tile frame for area: it joins the batch, which goes to rudp once full.
 * Errors as viewer_udp_tiles_flush(). */
int viewer_udp_tile_queued(Viewer *v, Rect area, size_t frame_len);
/* Hands the batch to rudp (at a frame's end) and remembers its id and area, for a loss. -ENOBUFS:
 * rudp refused it; its frames are taken back out of the queue and its area is encoded again. */
int viewer_udp_tiles_flush(Viewer *v);
/* Tiles and the rudp messages that carried them so far (0 for a TCP viewer). */
void viewer_udp_tile_counts(const Viewer *v, uint64_t *ret_tiles, uint64_t *ret_messages);
/* Whether the pump may encode a frame now: the tile channel's unsent bytes are below the
 * backlog the measured rate drains in about 50 ms. */
bool viewer_udp_may_encode(Viewer *v);
/* After any I/O: lost tiles become pending again, the pump is scheduled when it may run, the
 * timer follows the connection's next deadline. */
void viewer_udp_update(Viewer *v);
