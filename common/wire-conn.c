/* Framing over a ByteTransport. Received frames are decoded in place in the input buffer; the
 * frame last returned is dropped at the next call, which is what keeps its pointers valid until
 * then. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "macro.h"
#include "wire-conn-internal.h"
#include "wire-replay.h"

/* Smallest read asked of the transport: above TLS's 16 KiB record, so a read never leaves part of
 * a record's plaintext inside the TLS layer when our buffer has room. */
#define READ_CHUNK (64u << 10)

struct WireConn {
        ByteTransport *transport;
        Buffer in, out;
        size_t consume; /* bytes of the frame last returned, dropped at the next receive */
        uint64_t skip;  /* bytes of an unknown frame still to drop */
        uint64_t bytes_in, bytes_out, skipped;
        int accept;
        int read_error, write_error; /* sticky */
        bool flush_blocked;          /* the last flush stopped at -EAGAIN */
        WireReplay *replay;          /* session resumption, or NULL */
        size_t scanned;              /* bytes at the front of out already seen by the replay */
        char reason[384]; /* room for a transport reason with two fingerprints */
        const WireProtocol *proto;
        const WireConnBackend *backend; /* NULL: frames over the byte stream transport */
        void *backend_data;
};

int wire_conn_new_protocol(ByteTransport *t, size_t out_limit, const WireProtocol *proto, WireConn **ret) {
        WireConn *c = calloc(1, sizeof(WireConn));
        if (!c) {
                byte_transport_free(t);
                return -ENOMEM;
        }
        c->transport = t;
        c->proto = proto;
        buffer_init(&c->in, WIRE_HEADER_SIZE + proto->known_size_max);
        buffer_init(&c->out, out_limit);
        c->accept = WIRE_DIR_BOTH;
        *ret = c;
        return 0;
}

int wire_conn_new(ByteTransport *t, size_t out_limit, WireConn **ret) {
        return wire_conn_new_protocol(t, out_limit, &wire_protocol, ret);
}

int wire_conn_new_backend(const WireConnBackend *backend, void *data, size_t out_limit, WireConn **ret) {
        WireConn *c = calloc(1, sizeof(WireConn));
        if (!c) {
                backend->free(data);
                return -ENOMEM;
        }
        c->backend = backend;
        c->backend_data = data;
        c->proto = &wire_protocol;
        buffer_init(&c->in, 0);
        buffer_init(&c->out, out_limit);
        c->accept = WIRE_DIR_BOTH;
        *ret = c;
        return 0;
}

WireConn *wire_conn_free(WireConn *c) {
        if (!c)
                return NULL;
        if (c->backend)
                c->backend->free(c->backend_data);
        byte_transport_free(c->transport);
        buffer_done(&c->in);
        buffer_done(&c->out);
        free(c);
        return NULL;
}

Buffer *wire_conn_out(WireConn *c) {
        return &c->out;
}

size_t wire_conn_queued(WireConn *c) {
        return buffer_len(&c->out) + (c->backend ? c->backend->queued(c->backend_data) : 0);
}

void wire_conn_set_accept(WireConn *c, int dir_mask) {
        c->accept = dir_mask;
}

int wire_conn_fd(WireConn *c) {
        if (c->backend)
                return c->backend->fd(c->backend_data);
        return c->transport->ops->fd(c->transport);
}

ByteTransport *wire_conn_transport(WireConn *c) {
        return c->transport;
}

uint64_t wire_conn_bytes_in(WireConn *c) {
        return c->bytes_in;
}

uint64_t wire_conn_bytes_out(WireConn *c) {
        return c->bytes_out;
}

size_t wire_conn_frame_size(WireConn *c) {
        return c->backend ? 0 : c->consume;
}

uint64_t wire_conn_skipped(WireConn *c) {
        return c->skipped;
}

const char *wire_conn_error(WireConn *c) {
        return c->reason[0] ? c->reason : NULL;
}

_printf_(3, 4) static int fail(WireConn *c, int error, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
        va_end(ap);
        return error;
}

int wire_conn_fail(WireConn *c, int error, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
        va_end(ap);
        return error;
}

int wire_conn_accept_mask(WireConn *c) {
        return c->accept;
}

void wire_conn_count_in(WireConn *c, uint64_t bytes, uint64_t skipped) {
        c->bytes_in += bytes;
        c->skipped += skipped;
}

void wire_conn_count_out(WireConn *c, uint64_t bytes) {
        c->bytes_out += bytes;
}

static int transport_fail(WireConn *c, int error, const char *what) {
        const char *why = byte_transport_error(c->transport);
        if (why)
                return fail(c, error, "%s: %s", what, why);
        return fail(c, error, "%s: %s", what, strerror(-error));
}

static const char *decode_error(int r) {
        switch (r) {
        case -EMSGSIZE:
                return "over its maximum size";
        case -EBADMSG:
                return "malformed";
        case -EPROTO:
                return "on the wrong channel";
        default:
                return "undecodable";
        }
}

/* Checks the complete frame at the front of the input and decodes it. */
static int decode_front(WireConn *c, const WireHeader *h, void *ret) {
        int r;

        r = c->proto->decode(h, buffer_data(&c->in) + WIRE_HEADER_SIZE, ret);
        if (r < 0)
                return fail(c, -EPROTO, "%s (0x%04x) message of %" PRIu32 " bytes %s", c->proto->type_name(h->type),
                            h->type, h->size, decode_error(r));
        c->consume = WIRE_HEADER_SIZE + h->size;
        if (c->replay && wire_type_replayable(h->type)) {
                c->replay->received++;
                c->replay->received_bytes += WIRE_HEADER_SIZE + h->size;
        }
        return 1;
}

static int receive(WireConn *c, void *ret) {
        uint64_t skipped_now = 0;
        int r;

        buffer_consume(&c->in, c->consume);
        c->consume = 0;

        for (;;) {
                size_t need;

                if (c->skip > 0) {
                        size_t k = (size_t) MIN(c->skip, (uint64_t) buffer_len(&c->in));
                        buffer_consume(&c->in, k);
                        c->skip -= k;
                        skipped_now += k;
                }

                if (c->skip > 0)
                        need = (size_t) c->skip;
                else if (buffer_len(&c->in) < WIRE_HEADER_SIZE)
                        need = WIRE_HEADER_SIZE - buffer_len(&c->in);
                else {
                        WireHeader h;

                        wire_header_parse(buffer_data(&c->in), &h);
                        r = wire_protocol_header_check(c->proto, &h);
                        if (r == -EMSGSIZE)
                                return fail(c, -EPROTO, "%s (0x%04x) frame of %" PRIu32 " bytes is over its maximum",
                                            c->proto->type_name(h.type), h.type, h.size);
                        if (r < 0)
                                return fail(c, -EPROTO, "%s (0x%04x) frame on channel %u, not %d",
                                            c->proto->type_name(h.type), h.type, h.channel,
                                            c->proto->type_channel(h.type));
                        if (r > 0) {
                                c->skip = WIRE_HEADER_SIZE + (uint64_t) h.size;
                                c->skipped++;
                                continue;
                        }
                        if (!(c->proto->type_direction(h.type) & c->accept))
                                return fail(c, -EPROTO, "%s (0x%04x) frame from the wrong direction",
                                            c->proto->type_name(h.type), h.type);
                        if (buffer_len(&c->in) - WIRE_HEADER_SIZE >= h.size)
                                return decode_front(c, &h, ret);
                        need = WIRE_HEADER_SIZE + h.size - buffer_len(&c->in);
                }

                /* Yielding is safe only here: no complete frame is buffered, and while skipping
                 * the buffer is empty, so the last read asked for READ_CHUNK or more and left no
                 * plaintext inside a TLS layer. The rest is still readable on the fd. */
                if (skipped_now >= WIRE_CONN_SKIP_BUDGET)
                        return 0;

                /* The checks above keep the frame within the limit, so there is room for need. */
                size_t want = MIN(buffer_room(&c->in), MAX(need, (size_t) READ_CHUNK));
                uint8_t *p;
                r = buffer_reserve(&c->in, want, &p);
                if (r < 0)
                        return fail(c, r, "receive buffer: %s", strerror(-r));
                ssize_t n = c->transport->ops->read(c->transport, p, want);
                if (n == -EAGAIN)
                        return 0;
                if (n == 0)
                        return fail(c, -ECONNRESET,
                                    buffer_len(&c->in) > 0 || c->skip > 0 ? "connection closed inside a frame"
                                                                           : "connection closed by the peer");
                if (n < 0)
                        return transport_fail(c, (int) n, "receive failed");
                buffer_commit(&c->in, (size_t) n);
                c->bytes_in += (uint64_t) n;
        }
}

bool wire_conn_inside_frame(WireConn *c) {
        return buffer_len(&c->in) > c->consume || c->skip > 0;
}

int wire_conn_receive(WireConn *c, WireMessage *ret) {
        return wire_conn_receive_any(c, ret);
}

int wire_conn_receive_any(WireConn *c, void *ret) {
        int r;

        if (c->read_error < 0)
                return c->read_error;
        if (c->backend) { /* the wire protocol only */
                WireMessage *m = ret;
                r = c->backend->receive(c, c->backend_data, m);
                /* The stream path counts in decode_front(). */
                if (r > 0 && c->replay && wire_type_replayable(m->type)) {
                        c->replay->received++;
                        /* The bulk of it: a datagram backend hands no frame sizes up. */
                        c->replay->received_bytes += WIRE_HEADER_SIZE +
                                                     (m->type == WIRE_TYPE_CLIPBOARD_DATA ? m->clipboard_data.chunk_len : 0);
                }
        } else
                r = receive(c, ret);
        if (r < 0) {
                c->read_error = r;
                c->consume = 0;
        }
        return r;
}

void wire_conn_set_replay(WireConn *c, WireReplay *r) {
        c->replay = r;
        c->scanned = buffer_len(&c->out);
}

void wire_conn_scan(WireConn *c) {
        if (!c->replay)
                return;
        /* Encoders append whole frames, and take back only what they appended since the last
         * flush, so scanned stays on a frame boundary. */
        c->scanned = MIN(c->scanned, buffer_len(&c->out));
        while (buffer_len(&c->out) - c->scanned >= WIRE_HEADER_SIZE) {
                const uint8_t *p = buffer_data(&c->out) + c->scanned;
                WireHeader h;
                wire_header_parse(p, &h);
                size_t len = WIRE_HEADER_SIZE + (size_t) h.size;
                if (buffer_len(&c->out) - c->scanned < len)
                        break;
                if (wire_type_replayable(h.type))
                        (void) wire_replay_record(c->replay, p, len); /* overflow is the replay's state */
                c->scanned += len;
        }
}

/* Hands queued frames to the backend (flush or submit), which takes whole frames from the front:
 * the replay saw them first. */
static int backend_take(WireConn *c, int (*take)(WireConn *c, void *data)) {
        wire_conn_scan(c);
        size_t before = buffer_len(&c->out);
        int r = take(c, c->backend_data);
        c->scanned -= MIN(c->scanned, before - buffer_len(&c->out));
        return r;
}

int wire_conn_flush(WireConn *c) {
        wire_conn_scan(c); /* before anything leaves, even into a failed transport */
        if (c->write_error < 0)
                return c->write_error;
        if (c->backend) {
                int r = backend_take(c, c->backend->flush);
                if (r < 0 && r != -EAGAIN)
                        c->write_error = r;
                return r;
        }
        while (buffer_len(&c->out) > 0) {
                ssize_t n = c->transport->ops->write(c->transport, buffer_data(&c->out), buffer_len(&c->out));
                if (n == -EAGAIN) {
                        c->flush_blocked = true;
                        return -EAGAIN;
                }
                if (n < 0)
                        return c->write_error = transport_fail(c, (int) n, "send failed");
                buffer_consume(&c->out, (size_t) n);
                c->scanned -= MIN(c->scanned, (size_t) n);
                c->bytes_out += (uint64_t) n;
        }
        c->flush_blocked = false;
        return 0;
}

uint32_t wire_conn_poll_events(WireConn *c) {
        if (c->backend)
                return EPOLLIN | c->backend->poll_events(c->backend_data);
        uint32_t e = EPOLLIN | c->transport->ops->poll_events(c->transport);

        /* Once a flush was refused, the transport's own events say what the write waits for:
         * EPOLLOUT there would spin while TLS waits to read. */
        if (buffer_len(&c->out) > 0 && !c->flush_blocked)
                e |= EPOLLOUT;
        return e;
}

WireConnKind wire_conn_kind(WireConn *c) {
        return c->backend ? c->backend->kind : WIRE_CONN_STREAM;
}

uint64_t wire_conn_next_timeout(WireConn *c) {
        return c->backend ? c->backend->next_timeout(c->backend_data) : UINT64_MAX;
}

void wire_conn_on_timeout(WireConn *c, uint64_t now_usec) {
        if (c->backend)
                c->backend->on_timeout(c, c->backend_data, now_usec);
}

int wire_conn_rudp_stats(WireConn *c, RudpStats *ret) {
        return c->backend ? c->backend->stats(c->backend_data, ret) : -EOPNOTSUPP;
}

int wire_conn_submit(WireConn *c) {
        if (c->write_error < 0)
                return c->write_error;
        if (!c->backend)
                return 0;
        int r = backend_take(c, c->backend->submit);
        if (r < 0 && r != -ENOBUFS)
                c->write_error = r;
        return r;
}

uint32_t wire_conn_last_id(WireConn *c) {
        return c->backend ? c->backend->last_id(c->backend_data) : 0;
}

int wire_conn_next_lost(WireConn *c, uint8_t *ret_channel, uint32_t *ret_id) {
        return c->backend ? c->backend->next_lost(c->backend_data, ret_channel, ret_id) : 0;
}

size_t wire_conn_unsent_tiles(WireConn *c) {
        return c->backend ? c->backend->unsent_tiles(c, c->backend_data) : 0;
}
