/* Session resumption's bookkeeping, shared by hostd and the viewer (schema/wire-protocol.md,
 * "Session resumption"): the count of replayable messages received, and the replayable frames
 * sent and not yet covered by the peer's count, so that a new connection can carry on exactly
 * where the old one stopped. Transport agnostic: it sees whole frames only.
 *
 * A WireConn with a replay attached (wire_conn_set_replay()) records every replayable frame it
 * sends (when it is flushed or scanned) and counts every replayable message it receives. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "byte-transport.h"

/* Sent frames kept for a resume. More means the peer stopped acknowledging: that session can no
 * longer be resumed. */
#define WIRE_REPLAY_LIMIT (1024u * 1024)
/* Acknowledge after this many replayable messages, or this many bytes of them (a peer paces bulk
 * data, like clipboard chunks of 64 KiB, on its replay buffer's room: a message count alone let
 * 16 such chunks, the whole buffer, wait for the delay), or this long after the first
 * unacknowledged. */
#define WIRE_REPLAY_ACK_EVERY 16u
#define WIRE_REPLAY_ACK_BYTES (WIRE_REPLAY_LIMIT / 4)
#define WIRE_REPLAY_ACK_DELAY_USEC (250 * 1000ULL)
#define WIRE_TOKEN_SIZE 32

typedef struct WireReplay {
        Buffer frames;     /* whole frames, sequence numbers base .. sent-1 */
        uint64_t base;     /* sequence number of the first frame held */
        uint64_t sent;     /* replayable frames sent in the session */
        uint64_t received; /* replayable messages received in the session */
        uint64_t acked;    /* the received count last sent to the peer in an ack */
        uint64_t received_bytes, acked_bytes; /* the same in bytes (frames, headers included) */
        uint64_t ack_due;  /* when an ack is due (CLOCK_MONOTONIC usec), 0: none pending */
        bool overflow;     /* a frame did not fit: the session cannot resume any more */
} WireReplay;

/* Whether a message of this type is replayed after a resume (and counted). */
bool wire_type_replayable(uint16_t type);

void wire_replay_init(WireReplay *r, size_t limit);
void wire_replay_done(WireReplay *r);

/* One whole frame (header included) sent. -ENOBUFS when it does not fit: the replay is marked
 * overflowed and keeps nothing more. */
int wire_replay_record(WireReplay *r, const uint8_t *frame, size_t len);
/* The peer received peer_received of our replayable messages: drops what that covers. -ERANGE
 * when it claims more than was sent (a broken or hostile peer). */
int wire_replay_ack(WireReplay *r, uint64_t peer_received);
/* Whether a resume from the peer's count can be served: nothing it lacks was dropped. */
bool wire_replay_can_resume(const WireReplay *r, uint64_t peer_received);
/* Appends to out the frames the peer lacks (after wire_replay_ack(peer_received)). -ESTALE when
 * it cannot be served, -ENOBUFS when out has no room. */
int wire_replay_resend(WireReplay *r, uint64_t peer_received, Buffer *out);

/* Whether an ack should go out now (now: CLOCK_MONOTONIC usec): the caller then sends
 * session-ack with r->received and calls wire_replay_acked(). Called after messages were received,
 * it starts the delay of the first one not acknowledged; r->ack_due says when to ask again. */
bool wire_replay_ack_due(WireReplay *r, uint64_t now);
void wire_replay_acked(WireReplay *r);

/* A transport for a session between connections: writes are taken and dropped (the replayable
 * frames among them are recorded by the WireConn's replay first), reads say -EAGAIN, no fd.
 * Encoders keep working on a detached session's WireConn. Returns 0 or -ENOMEM. */
int detached_transport_new(ByteTransport **ret);
