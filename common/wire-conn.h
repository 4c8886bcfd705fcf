/* Framing over a ByteTransport: one peer's bounded send and receive buffers, whole frames out,
 * decoded messages in.
 *
 * The loop that owns a WireConn does, on every wake-up:
 *
 *         while ((r = wire_conn_receive(c, &m)) > 0)
 *                 handle(&m);                     (may encode replies into wire_conn_out(c))
 *         if (r < 0) -> close the session
 *         r = wire_conn_flush(c);                 (0 or -EAGAIN are fine)
 *         wait for wire_conn_poll_events(c) on wire_conn_fd(c), level-triggered
 *
 * Flushing after receiving matters: TLS may only be able to write once it has read (handshake),
 * and then only the flush retries the write. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "byte-transport.h"
#include "rudp.h"
#include "wire.h"

typedef struct WireReplay WireReplay;

typedef struct WireConn WireConn;

/* Memory for received data: a frame header and the largest known payload, never more. */
#define WIRE_CONN_IN_LIMIT (WIRE_HEADER_SIZE + WIRE_KNOWN_SIZE_MAX)
/* Bytes of unknown frames one wire_conn_receive() call skips before it yields (returns 0), so
 * that a peer sending nothing else cannot hold the loop. */
#define WIRE_CONN_SKIP_BUDGET (UINT64_C(4) << 20)

/* Takes ownership of t (freed with the WireConn, or at once on failure). out_limit bounds the
 * bytes queued for sending; it should be at least WIRE_HEADER_SIZE + the largest message the
 * owner sends. Returns 0 or -ENOMEM. */
int wire_conn_new(ByteTransport *t, size_t out_limit, WireConn **ret);
/* The same for another protocol in wire frames (the agent protocol: agent.h); its messages come
 * from wire_conn_receive_any(). The input buffer holds a header and proto's largest payload. */
int wire_conn_new_protocol(ByteTransport *t, size_t out_limit, const WireProtocol *proto, WireConn **ret);
/* Frees the transport too. Accepts NULL, returns NULL. */
WireConn *wire_conn_free(WireConn *c);

/* Encoders append whole frames here; an encoder's -ENOBUFS means the peer is that far behind. */
Buffer *wire_conn_out(WireConn *c);
/* Bytes queued and not yet taken by the transport. */
size_t wire_conn_queued(WireConn *c);
/* Writes what the transport takes: 0 when nothing is left, -EAGAIN when some is, or the
 * transport's error (also on later calls). */
int wire_conn_flush(WireConn *c);

/* Reads what is available and decodes the next complete frame: 1 and *ret filled (its pointers
 * valid until the next call), 0 when more bytes are needed (the transport said -EAGAIN, or
 * WIRE_CONN_SKIP_BUDGET was spent and the rest is still readable), or an error, sticky for later
 * calls:
 *   -EPROTO      the peer broke the protocol (wire_conn_error() says how): a frame over its
 *                type's maximum or over WIRE_UNKNOWN_SIZE_MAX, a known type on another channel
 *                or from a direction not accepted, a payload that does not decode;
 *   -ECONNRESET  end of stream (at a frame boundary or inside one);
 *   other        the transport's error (e.g. -EPERM for a TLS pin mismatch).
 * Frames of unknown types within WIRE_UNKNOWN_SIZE_MAX are skipped (streamed through, not
 * buffered) and counted. At most WIRE_CONN_IN_LIMIT bytes are ever buffered. */
int wire_conn_receive(WireConn *c, WireMessage *ret);

/* wire_conn_receive() for a WireConn of another protocol: ret points to its message struct. */
int wire_conn_receive_any(WireConn *c, void *ret);

/* Bytes of a frame not yet complete are buffered (a peer that stops inside a frame). */
bool wire_conn_inside_frame(WireConn *c);

/* Which directions of known types to accept (WIRE_DIR_* mask): hostd accepts WIRE_DIR_C2S (which
 * lets `both' through), a viewer WIRE_DIR_S2C. A type from another direction is -EPROTO. The
 * default, WIRE_DIR_BOTH, accepts everything. */
void wire_conn_set_accept(WireConn *c, int dir_mask);

/* What to wait for: EPOLLIN always, EPOLLOUT while output is queued (unless the transport said
 * its write waits for something else), plus whatever the transport's blocked operations need. */
uint32_t wire_conn_poll_events(WireConn *c);
int wire_conn_fd(WireConn *c);
ByteTransport *wire_conn_transport(WireConn *c);

/* A sentence about the last error of receive or flush, for the one log line; NULL if none. */
const char *wire_conn_error(WireConn *c);

/* Session resumption (wire-replay.h): from now on, every replayable frame queued from here on is
 * recorded into r when it is flushed or scanned, and every replayable message received is counted
 * in r. Frames already queued are not recorded (a resume queues the replayed ones first). NULL
 * detaches. r must outlive its use here. */
void wire_conn_set_replay(WireConn *c, WireReplay *r);
/* Records the complete frames queued since the last scan, without writing: before a connection
 * is given up, so that what was encoded for it is replayed on the next one. */
void wire_conn_scan(WireConn *c);

uint64_t wire_conn_bytes_in(WireConn *c);  /* bytes read from the transport */
uint64_t wire_conn_bytes_out(WireConn *c); /* bytes the transport took */
uint64_t wire_conn_skipped(WireConn *c);   /* frames of unknown types skipped */
/* The size on the wire (header included) of the message the last receive returned; 0 over a
 * datagram backend, which hands no frame sizes up. */
size_t wire_conn_frame_size(WireConn *c);

/* ---- The datagram path (wire-conn-rudp.c, library wire_udp_dep) ----
 *
 * Over rudp each frame is one rudp message, on the rudp channel of its wire channel
 * (schema/wire-protocol.md, "UDP transport"): tiles on a latest-wins channel of their own,
 * everything else reliable-ordered on the channel's number. Order holds within a channel only.
 * The loop also runs the timers: wait until wire_conn_next_timeout(), then wire_conn_on_timeout()
 * and flush. */

typedef enum WireConnKind {
        WIRE_CONN_STREAM, /* TLS over TCP, or any ByteTransport */
        WIRE_CONN_RUDP,   /* rudp over a DatagramTransport (DTLS over UDP) */
} WireConnKind;

/* rudp channels of the wire's messages. */
#define WIRE_RUDP_TILE_CHANNEL 8
#define WIRE_RUDP_MEDIA_CHANNEL 9
#define WIRE_RUDP_CHANNELS 10

WireConnKind wire_conn_kind(WireConn *c);
/* When to call wire_conn_on_timeout() at the latest, in the transport's clock (CLOCK_MONOTONIC
 * microseconds for real sockets); UINT64_MAX when nothing is timed (always for a stream). */
uint64_t wire_conn_next_timeout(WireConn *c);
void wire_conn_on_timeout(WireConn *c, uint64_t now_usec);
/* rudp's figures; -EOPNOTSUPP for a stream. */
int wire_conn_rudp_stats(WireConn *c, RudpStats *ret);
/* Hands the frames queued in wire_conn_out() to rudp now, without sending a datagram yet (the
 * next flush does): then wire_conn_last_id() is the rudp message id of the last of them. 0, or
 * -ENOBUFS when rudp's send buffer is full (the rest stays queued), or the sticky error. A no-op
 * on a stream. */
int wire_conn_submit(WireConn *c);
uint32_t wire_conn_last_id(WireConn *c);
/* The next latest-wins message the peer did not get: 1 with its rudp channel and id, 0 when
 * none (always on a stream). */
int wire_conn_next_lost(WireConn *c, uint8_t *ret_channel, uint32_t *ret_id);
/* Bytes of tiles queued and not yet sent (0 on a stream): what the display pump paces on. */
size_t wire_conn_unsent_tiles(WireConn *c);

static inline void wire_conn_freep(WireConn **c) {
        wire_conn_free(*c);
}
