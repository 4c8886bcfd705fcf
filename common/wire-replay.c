/* Replay bookkeeping for session resumption: see wire-replay.h. */
#include "wire-replay.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "macro.h"
#include "wire-gen.h"
#include "wire.h"

bool wire_type_replayable(uint16_t type) {
        switch (type) {
        case WIRE_TYPE_HELLO:
        case WIRE_TYPE_WELCOME:
        case WIRE_TYPE_REJECT:
        case WIRE_TYPE_RESUME:
        case WIRE_TYPE_RESUMED:
        case WIRE_TYPE_SESSION_TOKEN:
        case WIRE_TYPE_SESSION_ACK:
        case WIRE_TYPE_PING:
        case WIRE_TYPE_PONG:
                return false;
        default:
                /* The display is sent again in full after a resume instead. */
                return wire_type_channel(type) != WIRE_CHANNEL_DISPLAY;
        }
}

void wire_replay_init(WireReplay *r, size_t limit) {
        *r = (WireReplay) {};
        buffer_init(&r->frames, limit);
}

void wire_replay_done(WireReplay *r) {
        buffer_done(&r->frames);
}

int wire_replay_record(WireReplay *r, const uint8_t *frame, size_t len) {
        r->sent++;
        if (r->overflow)
                return -ENOBUFS;
        if (buffer_append(&r->frames, frame, len) < 0) {
                r->overflow = true;
                buffer_done(&r->frames); /* kept for nothing now: give the memory back */
                return -ENOBUFS;
        }
        return 0;
}

int wire_replay_ack(WireReplay *r, uint64_t peer_received) {
        if (peer_received > r->sent)
                return -ERANGE;
        while (r->base < peer_received && buffer_len(&r->frames) >= WIRE_HEADER_SIZE) {
                WireHeader h;
                wire_header_parse(buffer_data(&r->frames), &h);
                buffer_consume(&r->frames, MIN(buffer_len(&r->frames), WIRE_HEADER_SIZE + (size_t) h.size));
                r->base++;
        }
        if (r->overflow)
                r->base = MAX(r->base, peer_received);
        return 0;
}

bool wire_replay_can_resume(const WireReplay *r, uint64_t peer_received) {
        return !r->overflow && peer_received >= r->base && peer_received <= r->sent;
}

int wire_replay_resend(WireReplay *r, uint64_t peer_received, Buffer *out) {
        if (!wire_replay_can_resume(r, peer_received))
                return -ESTALE;
        (void) wire_replay_ack(r, peer_received);
        if (buffer_len(&r->frames) == 0)
                return 0;
        return buffer_append(out, buffer_data(&r->frames), buffer_len(&r->frames));
}

bool wire_replay_ack_due(WireReplay *r, uint64_t now) {
        if (r->received == r->acked)
                return false;
        if (r->ack_due == 0)
                r->ack_due = now + WIRE_REPLAY_ACK_DELAY_USEC;
        return r->received - r->acked >= WIRE_REPLAY_ACK_EVERY ||
               r->received_bytes - r->acked_bytes >= WIRE_REPLAY_ACK_BYTES || now >= r->ack_due;
}

void wire_replay_acked(WireReplay *r) {
        r->acked = r->received;
        r->acked_bytes = r->received_bytes;
        r->ack_due = 0;
}

/* ---- The transport of a session between connections ---- */

static ssize_t detached_read(ByteTransport *t, void *buf, size_t n) {
        return -EAGAIN;
}

static ssize_t detached_write(ByteTransport *t, const void *buf, size_t n) {
        return (ssize_t) n;
}

static int detached_fd(ByteTransport *t) {
        return -EBADF;
}

static uint32_t detached_poll_events(ByteTransport *t) {
        return 0;
}

static void detached_free(ByteTransport *t) {
        free(t);
}

static const ByteTransportOps detached_ops = {
        .read = detached_read,
        .write = detached_write,
        .fd = detached_fd,
        .poll_events = detached_poll_events,
        .free = detached_free,
};

int detached_transport_new(ByteTransport **ret) {
        ByteTransport *t = calloc(1, sizeof(ByteTransport));
        if (!t)
                return -ENOMEM;
        t->ops = &detached_ops;
        *ret = t;
        return 0;
}
