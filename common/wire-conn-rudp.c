/* WireConn over rudp over a DatagramTransport: one wire frame per rudp message, each wire channel
 * on its own rudp channel, so a lost packet of one channel holds up no other; tiles latest-wins.
 *
 * A datagram path has no end of stream, so the connection also watches for silence: after
 * KEEPALIVE_USEC without a datagram from the peer it sends a wire `ping` (the peer's rudp acks
 * it, the peer's application answers `pong`), and after IDLE_TIMEOUT_USEC it gives up. */
#include "wire-conn-rudp.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "datagram-rudp.h"
#include "macro.h"
#include "wire-conn-internal.h"
#include "wire-gen.h"

#define KEEPALIVE_USEC (5 * 1000000ULL)
#define IDLE_TIMEOUT_USEC (30 * 1000000ULL)
/* Datagrams taken from the transport per receive call: bounded, so one peer cannot hold the loop. */
#define RECV_BATCH 256
/* Unknown frames skipped per receive call before it yields. */
#define SKIP_BATCH 64

typedef struct RudpConn {
        DatagramTransport *transport;
        Rudp *rudp;
        uint32_t next_id, last_id;
        uint64_t last_heard, last_ping;
        int error; /* sticky: the transport failed, the peer went silent or closed */
        bool peer_closed; /* messages that came before the peer's close are still read first */
        bool send_blocked;  /* the socket said -EAGAIN: pending holds the datagram to retry */
        size_t pending_len;
        uint8_t pending[RUDP_DATAGRAM_MAX];
        uint8_t dgram[RUDP_DATAGRAM_MAX];
        /* The rudp message being read, a frame per receive (a tile message may carry several):
         * rudp keeps it until the next rudp_read(), made once its frames are used up. */
        const uint8_t *msg;
        size_t msg_len, msg_off;
        uint8_t msg_channel;
        RudpClass msg_cls;
        size_t max_message; /* rudp's: a batch of tiles stays within it */
} RudpConn;

uint8_t wire_rudp_channel(uint16_t type, uint8_t wire_channel) {
        if (type == WIRE_TYPE_TILE)
                return WIRE_RUDP_TILE_CHANNEL;
        if (type == WIRE_TYPE_MEDIA_PACKET || type == WIRE_TYPE_MIC_PACKET)
                return WIRE_RUDP_MEDIA_CHANNEL;
        return wire_channel; /* 0..7; a wrong channel is refused by wire_header_check() first */
}

RudpClass wire_rudp_class(uint8_t rudp_channel) {
        return rudp_channel >= WIRE_RUDP_TILE_CHANNEL ? RUDP_LATEST_WINS : RUDP_RELIABLE_ORDERED;
}

static uint64_t now_of(RudpConn *rc) {
        return datagram_transport_now(rc->transport);
}

static const char *transport_why(RudpConn *rc, int error) {
        const char *why = rc->transport->ops->error ? rc->transport->ops->error(rc->transport) : NULL;
        return why ? why : strerror(-error);
}

static int take_datagrams(WireConn *c, RudpConn *rc) {
        for (int i = 0; i < RECV_BATCH; i++) {
                ssize_t n = rc->transport->ops->recv(rc->transport, rc->dgram, sizeof(rc->dgram));
                if (n == -EAGAIN)
                        return 0;
                if (n < 0)
                        return rc->error = wire_conn_fail(c, (int) n, "receive failed: %s", transport_why(rc, (int) n));
                uint64_t now = now_of(rc); /* after the recv(): see datagram-rudp.h */
                RudpStats before;
                rudp_stats(rc->rudp, &before);
                int r = rudp_receive_datagram(rc->rudp, rc->dgram, (size_t) n, now);
                if (r == -EPROTO)
                        return rc->error = wire_conn_fail(c, -EPROTO, "the peer broke the rudp protocol");
                if (r == -ECONNRESET) {
                        /* A reject or bye often comes right before the close: read it first. */
                        rc->peer_closed = true;
                        return 0;
                }
                if (r < 0)
                        return rc->error = wire_conn_fail(c, r, "rudp: %s", strerror(-r));
                RudpStats after;
                rudp_stats(rc->rudp, &after);
                /* Only a datagram rudp took as the peer's proves it is alive (garbage does not). */
                if (after.packets_received != before.packets_received)
                        rc->last_heard = now;
                wire_conn_count_in(c, (uint64_t) n, 0);
        }
        return 0;
}

/* The frame at the front of avail bytes of rudp channel/class: 1 and *ret, 0 for a frame of an
 * unknown type (skipped), or the connection's failure. *ret_len: the frame's bytes. Only a tile
 * message may hold more than one frame (hostd batches small tiles). */
static int take_frame(WireConn *c, uint8_t channel, RudpClass cls, const uint8_t *p, size_t avail, size_t *ret_len,
                      WireMessage *ret) {
        WireHeader h;
        if (avail < WIRE_HEADER_SIZE)
                return wire_conn_fail(c, -EPROTO, "%zu bytes on rudp channel %u are no frame", avail, channel);
        wire_header_parse(p, &h);
        if ((uint64_t) h.size > avail - WIRE_HEADER_SIZE)
                return wire_conn_fail(c, -EPROTO, "frame of %" PRIu32 " bytes in a message of %zu", h.size, avail);
        if ((uint64_t) h.size < avail - WIRE_HEADER_SIZE && channel != WIRE_RUDP_TILE_CHANNEL)
                return wire_conn_fail(c, -EPROTO, "a message of %zu bytes on rudp channel %u holds more than one frame",
                                      avail, channel);
        *ret_len = WIRE_HEADER_SIZE + (size_t) h.size;
        int r = wire_header_check(&h);
        if (r == -EMSGSIZE)
                return wire_conn_fail(c, -EPROTO, "%s (0x%04x) frame of %" PRIu32 " bytes is over its maximum",
                                      wire_type_name(h.type), h.type, h.size);
        if (r < 0)
                return wire_conn_fail(c, -EPROTO, "%s (0x%04x) frame on channel %u, not %d", wire_type_name(h.type),
                                      h.type, h.channel, wire_type_channel(h.type));
        if (r > 0) {
                wire_conn_count_in(c, 0, 1);
                return 0;
        }
        if (!(wire_type_direction(h.type) & wire_conn_accept_mask(c)))
                return wire_conn_fail(c, -EPROTO, "%s (0x%04x) frame from the wrong direction", wire_type_name(h.type),
                                      h.type);
        uint8_t expect = wire_rudp_channel(h.type, h.channel);
        if (channel != expect || cls != wire_rudp_class(expect))
                return wire_conn_fail(c, -EPROTO, "%s (0x%04x) frame on rudp channel %u (class %d), not %u",
                                      wire_type_name(h.type), h.type, channel, (int) cls, expect);
        WireMessage w;
        r = wire_decode(h.type, h.channel, p + WIRE_HEADER_SIZE, h.size, &w);
        if (r < 0)
                return wire_conn_fail(c, -EPROTO, "%s (0x%04x) message of %" PRIu32 " bytes does not decode",
                                      wire_type_name(h.type), h.type, h.size);
        w.flags = h.flags;
        *ret = w;
        return 1;
}

static int rudp_conn_receive(WireConn *c, void *data, WireMessage *ret) {
        RudpConn *rc = data;
        int r;

        if (rc->error < 0)
                return rc->error;
        r = rc->peer_closed ? 0 : take_datagrams(c, rc);
        if (r < 0)
                return r;

        for (int skipped = 0; skipped < SKIP_BATCH;) {
                if (rc->msg_off >= rc->msg_len) {
                        RudpMessage m;
                        r = rudp_read(rc->rudp, &m);
                        if (r == 0 && rc->peer_closed)
                                return rc->error = wire_conn_fail(c, -ECONNRESET, "connection closed by the peer");
                        if (r <= 0)
                                return r;
                        rc->msg = m.data;
                        rc->msg_len = m.len;
                        rc->msg_off = 0;
                        rc->msg_channel = m.channel;
                        rc->msg_cls = m.cls;
                }
                size_t len = 0;
                r = take_frame(c, rc->msg_channel, rc->msg_cls, rc->msg + rc->msg_off, rc->msg_len - rc->msg_off, &len,
                               ret);
                if (r < 0)
                        return r;
                rc->msg_off += len;
                if (r == 0) {
                        skipped++;
                        continue;
                }
                return 1;
        }
        return 0;
}

static int rudp_conn_submit(WireConn *c, void *data) {
        RudpConn *rc = data;
        Buffer *out = wire_conn_out(c);

        if (rc->error < 0)
                return rc->error;
        while (buffer_len(out) >= WIRE_HEADER_SIZE) {
                WireHeader h;
                wire_header_parse(buffer_data(out), &h);
                size_t len = WIRE_HEADER_SIZE + (size_t) h.size;
                if (len > buffer_len(out))
                        return rc->error = wire_conn_fail(c, -EINVAL, "a partial frame was queued");
                uint8_t channel = wire_rudp_channel(h.type, h.channel);
                /* Tile frames queued together go as one message (hostd submits a batch of small
                 * tiles at once: one STREAM header and one loss for them all). */
                while (channel == WIRE_RUDP_TILE_CHANNEL && buffer_len(out) >= len + WIRE_HEADER_SIZE) {
                        WireHeader next;
                        wire_header_parse(buffer_data(out) + len, &next);
                        size_t next_len = WIRE_HEADER_SIZE + (size_t) next.size;
                        if (next.type != WIRE_TYPE_TILE || next_len > buffer_len(out) - len ||
                            len + next_len > rc->max_message)
                                break;
                        len += next_len;
                }
                int r = rudp_send(rc->rudp, channel, wire_rudp_class(channel), rc->next_id, buffer_data(out), len);
                if (r == -ENOBUFS)
                        return -ENOBUFS;
                if (r < 0)
                        return rc->error = wire_conn_fail(c, r, "rudp send: %s", strerror(-r));
                rc->last_id = rc->next_id++;
                buffer_consume(out, len);
        }
        return 0;
}

/* Sends one datagram: 0 sent (or lost to a smaller path MTU: rudp recovers it), -EAGAIN kept in
 * pending, or the error. */
static int send_datagram(WireConn *c, RudpConn *rc, const uint8_t *d, size_t n) {
        int r = rc->transport->ops->send(rc->transport, d, n);
        if (r == -EAGAIN) {
                if (d != rc->pending)
                        memcpy(rc->pending, d, n);
                rc->pending_len = n;
                rc->send_blocked = true;
                return -EAGAIN;
        }
        rc->send_blocked = false;
        if (r == -EMSGSIZE)
                return 0; /* max_payload() is smaller now; rudp sends the contents again if they mattered */
        if (r < 0)
                return rc->error = wire_conn_fail(c, r, "send failed: %s", transport_why(rc, r));
        wire_conn_count_out(c, n);
        return 0;
}

static int rudp_conn_flush(WireConn *c, void *data) {
        RudpConn *rc = data;
        int r, sent = 0;

        if (rc->error < 0)
                return rc->error;
        r = rudp_conn_submit(c, data);
        if (r < 0 && r != -ENOBUFS)
                return r;
        if (rc->send_blocked) {
                r = send_datagram(c, rc, rc->pending, rc->pending_len);
                if (r < 0)
                        return r;
        }
        for (;;) {
                size_t size = MIN(rc->transport->ops->max_payload(rc->transport), sizeof(rc->dgram));
                if (size < 256)
                        break; /* not ready (DTLS handshake): rudp holds the messages until it is */
                ssize_t n = rudp_next_datagram(rc->rudp, rc->dgram, size, now_of(rc));
                if (n == 0)
                        break;
                if (n < 0)
                        return rc->error = wire_conn_fail(c, (int) n, "rudp: %s", strerror((int) -n));
                sent = send_datagram(c, rc, rc->dgram, (size_t) n);
                if (sent < 0)
                        break;
        }
        /* What the transport batched leaves now, in one system call. */
        int k = datagram_transport_flush(rc->transport);
        if (k < 0 && k != -EMSGSIZE && rc->error == 0)
                return rc->error = wire_conn_fail(c, k, "send failed: %s", transport_why(rc, k));
        if (sent < 0)
                return sent;
        return buffer_len(wire_conn_out(c)) > 0 ? -EAGAIN : 0;
}

static uint32_t rudp_conn_last_id(void *data) {
        return ((RudpConn *) data)->last_id;
}

static size_t rudp_conn_queued(void *data) {
        RudpConn *rc = data;
        size_t n = 0;
        for (uint8_t ch = 0; ch < WIRE_RUDP_CHANNELS; ch++)
                n += rudp_queued(rc->rudp, ch);
        return n;
}

static size_t rudp_conn_unsent_tiles(WireConn *c, void *data) {
        RudpConn *rc = data;
        /* What sits in the out buffer is counted whole: it is small between flushes. */
        return rudp_queued(rc->rudp, WIRE_RUDP_TILE_CHANNEL) + buffer_len(wire_conn_out(c));
}

static uint32_t rudp_conn_poll_events(void *data) {
        return ((RudpConn *) data)->send_blocked ? EPOLLOUT : 0;
}

static int rudp_conn_fd(void *data) {
        RudpConn *rc = data;
        return rc->transport->ops->fd(rc->transport);
}

static uint64_t rudp_conn_next_timeout(void *data) {
        RudpConn *rc = data;
        if (rc->error < 0)
                return UINT64_MAX;
        uint64_t t = rudp_next_timeout(rc->rudp);
        if (rc->transport->ops->next_timeout)
                t = MIN(t, rc->transport->ops->next_timeout(rc->transport));
        uint64_t keepalive = MAX(rc->last_heard, rc->last_ping) + KEEPALIVE_USEC;
        return MIN(t, MIN(keepalive, rc->last_heard + IDLE_TIMEOUT_USEC));
}

static void rudp_conn_on_timeout(WireConn *c, void *data, uint64_t now) {
        RudpConn *rc = data;
        if (rc->error < 0)
                return;
        if (rc->transport->ops->on_timeout)
                rc->transport->ops->on_timeout(rc->transport, now);
        rudp_on_timeout(rc->rudp, now);
        if (now >= rc->last_heard + IDLE_TIMEOUT_USEC) {
                rc->error = wire_conn_fail(c, -ETIMEDOUT, "nothing heard from the peer for %llu s",
                                           (unsigned long long) (IDLE_TIMEOUT_USEC / 1000000));
                return;
        }
        if (now >= MAX(rc->last_heard, rc->last_ping) + KEEPALIVE_USEC) {
                WirePing ping = { .nonce = now, .time_us = now };
                (void) wire_encode_ping(wire_conn_out(c), &ping);
                rc->last_ping = now;
        }
}

static int rudp_conn_stats(void *data, RudpStats *ret) {
        rudp_stats(((RudpConn *) data)->rudp, ret);
        return 0;
}

static int rudp_conn_next_lost(void *data, uint8_t *ret_channel, uint32_t *ret_id) {
        return rudp_lost_latest_wins(((RudpConn *) data)->rudp, ret_channel, ret_id);
}

static void rudp_conn_free(void *data) {
        RudpConn *rc = data;
        if (!rc)
                return;
        if (rc->rudp && rc->error == 0 && !rudp_is_closed(rc->rudp)) {
                /* Best effort: the peer learns at once instead of after its idle timeout. */
                rudp_close(rc->rudp, 0);
                size_t size = MIN(rc->transport->ops->max_payload(rc->transport), sizeof(rc->dgram));
                ssize_t n = size >= 256 ? rudp_next_datagram(rc->rudp, rc->dgram, size, now_of(rc)) : 0;
                if (n > 0)
                        (void) rc->transport->ops->send(rc->transport, rc->dgram, (size_t) n);
        }
        rudp_free(rc->rudp);
        datagram_transport_free(rc->transport);
        free(rc);
}

static const WireConnBackend rudp_backend = {
        .kind = WIRE_CONN_RUDP,
        .receive = rudp_conn_receive,
        .flush = rudp_conn_flush,
        .submit = rudp_conn_submit,
        .last_id = rudp_conn_last_id,
        .queued = rudp_conn_queued,
        .unsent_tiles = rudp_conn_unsent_tiles,
        .poll_events = rudp_conn_poll_events,
        .fd = rudp_conn_fd,
        .next_timeout = rudp_conn_next_timeout,
        .on_timeout = rudp_conn_on_timeout,
        .stats = rudp_conn_stats,
        .next_lost = rudp_conn_next_lost,
        .free = rudp_conn_free,
};

void wire_conn_rudp_config(RudpConfig *cfg) {
        rudp_config_init(cfg);
        cfg->channels = WIRE_RUDP_CHANNELS;
        cfg->max_message = WIRE_HEADER_SIZE + WIRE_UNKNOWN_SIZE_MAX;
        cfg->recv_window = MAX(cfg->recv_window, cfg->max_message);
        /* What a user feels waiting for: a keystroke held back by a retransmission becomes
         * the guest's auto-repeat. */
        cfg->urgent_channels = (1u << WIRE_CHANNEL_CONTROL) | (1u << WIRE_CHANNEL_CURSOR) | (1u << WIRE_CHANNEL_INPUT);
}

int wire_conn_new_rudp(DatagramTransport *t, const RudpConfig *cfg, bool server, size_t out_limit, WireConn **ret) {
        RudpConfig def;
        RudpConn *rc;
        int r;

        if (!cfg) {
                wire_conn_rudp_config(&def);
                cfg = &def;
        }
        if (cfg->channels < WIRE_RUDP_CHANNELS) {
                datagram_transport_free(t);
                return -EINVAL;
        }
        rc = calloc(1, sizeof(RudpConn));
        if (!rc) {
                datagram_transport_free(t);
                return -ENOMEM;
        }
        rc->transport = t;
        rc->max_message = cfg->max_message;
        rc->last_heard = now_of(rc);
        r = rudp_new(cfg, server, rc->last_heard, &rc->rudp);
        if (r < 0) {
                rudp_conn_free(rc);
                return r;
        }
        return wire_conn_new_backend(&rudp_backend, rc, out_limit, ret);
}
