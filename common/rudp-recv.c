/* rudp's receive side: datagrams in (duplicates and garbage dropped), FEC recovery, acks owed,
 * reassembly of messages per delivery class, credit for reliable channels. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "rudp-internal.h"
#include "rudp-varint.h"

void rudp_recv_msg_free(RecvMsg *m) {
        if (!m)
                return;
        free(m->data);
        rudp_ranges_done(&m->have);
        free(m);
}

size_t rudp_ack_ranges(const Rudp *r, RudpAckRange *ranges, size_t max) {
        size_t n = 0;
        for (size_t i = r->recv_pns.n; i > 0 && n < max; i--)
                ranges[n++] = (RudpAckRange) { r->recv_pns.r[i - 1].lo, r->recv_pns.r[i - 1].hi - 1 };
        return n;
}

static void ready_push(Rudp *r, RecvMsg *m) {
        m->next_ready = NULL;
        if (r->ready_tail)
                r->ready_tail->next_ready = m;
        else
                r->ready_head = m;
        r->ready_tail = m;
}

/* Index of the first message whose start is >= start. */
static size_t msg_index(const RecvChannel *c, uint64_t start) {
        size_t a = 0, b = c->n;
        while (a < b) {
                size_t mid = a + (b - a) / 2;
                if (c->msgs[mid]->start < start)
                        a = mid + 1;
                else
                        b = mid;
        }
        return a;
}

static void msg_remove_at(RecvChannel *c, size_t i) {
        memmove(c->msgs + i, c->msgs + i + 1, (c->n - i - 1) * sizeof(*c->msgs));
        c->n--;
}

static void lw_drop(Rudp *r, RecvChannel *c, size_t i) {
        RecvMsg *m = c->msgs[i];
        msg_remove_at(c, i);
        c->buffered -= m->len;
        r->lw_buffered -= m->len;
        rudp_recv_msg_free(m);
}

/* Drops incomplete latest-wins messages that are too old, then the oldest ones until need more
 * bytes fit. */
static void lw_evict(Rudp *r, size_t need, uint64_t now) {
        for (;;) {
                RecvChannel *oc = NULL;
                size_t oi = 0;
                for (unsigned ch = 0; ch < r->cfg.channels; ch++) {
                        RecvChannel *c = &r->recv[ch];
                        if (!c->used || c->cls != RUDP_LATEST_WINS)
                                continue;
                        for (size_t i = 0; i < c->n; i++) {
                                if (c->msgs[i]->first_time + r->cfg.latest_wins_timeout_usec <= now) {
                                        lw_drop(r, c, i--);
                                        continue;
                                }
                                if (!oc || c->msgs[i]->first_time < oc->msgs[oi]->first_time) {
                                        oc = c;
                                        oi = i;
                                }
                        }
                }
                if (r->lw_buffered + need <= r->cfg.latest_wins_buffer || !oc)
                        return;
                lw_drop(r, oc, oi);
        }
}

static void deliver_ordered(Rudp *r, RecvChannel *c) {
        while (c->n > 0 && c->msgs[0]->start == c->deliver_at &&
               rudp_ranges_covers(&c->msgs[0]->have, 0, c->msgs[0]->len)) {
                RecvMsg *m = c->msgs[0];
                msg_remove_at(c, 0);
                c->deliver_at += m->len;
                ready_push(r, m);
        }
}

static int recv_stream(Rudp *r, const RudpFrame *f, uint64_t now) {
        if (f->stream.channel >= r->cfg.channels || f->stream.length > r->cfg.max_message)
                return -EPROTO;
        RecvChannel *c = &r->recv[f->stream.channel];
        if (!c->used) {
                c->used = true;
                c->cls = f->stream.cls;
                c->limit = RUDP_INITIAL_CREDIT;
                if (c->cls != RUDP_LATEST_WINS && r->cfg.recv_window > RUDP_INITIAL_CREDIT) {
                        c->limit = r->cfg.recv_window;
                        c->credit_pending = true;
                }
        } else if (c->cls != f->stream.cls)
                return -EPROTO;

        uint64_t start = f->stream.start, len = f->stream.length;
        bool lw = c->cls == RUDP_LATEST_WINS;
        if (!lw) {
                /* Only bytes below the credit advertised may come, whatever the message's length. */
                uint64_t limit = MAX(c->limit, (uint64_t) RUDP_INITIAL_CREDIT);
                if (start + f->stream.offset + f->stream.size > limit)
                        return -EPROTO;
                if (c->cls == RUDP_RELIABLE_ORDERED ? start < c->deliver_at
                                                    : rudp_ranges_covers(&c->delivered, start, start + len))
                        return 0; /* delivered already: a late copy */
        }

        size_t i = msg_index(c, start);
        RecvMsg *m = i < c->n && c->msgs[i]->start == start ? c->msgs[i] : NULL;
        if (!m) {
                /* A new message must not overlap its neighbours or what was delivered. */
                if ((i > 0 && c->msgs[i - 1]->start + c->msgs[i - 1]->len > start) ||
                    (i < c->n && start + len > c->msgs[i]->start))
                        return -EPROTO;
                if (c->cls == RUDP_RELIABLE_ORDERED && start < c->deliver_at)
                        return -EPROTO;
                if (c->cls == RUDP_RELIABLE_UNORDERED &&
                    rudp_ranges_count_within(&c->delivered, start, start + len) > 0)
                        return -EPROTO;
                if (lw) {
                        if (len > r->cfg.latest_wins_buffer)
                                return 0;
                        lw_evict(r, len, now);
                        if (r->lw_buffered + len > r->cfg.latest_wins_buffer)
                                return 0; /* full of messages the application has not read */
                        i = msg_index(c, start);
                }
                if (c->n == c->cap) {
                        size_t cap = c->cap ? c->cap * 2 : 16;
                        RecvMsg **msgs = realloc(c->msgs, cap * sizeof(*msgs));
                        if (!msgs)
                                return -ENOMEM;
                        c->msgs = msgs;
                        c->cap = cap;
                }
                m = calloc(1, sizeof(*m));
                if (!m)
                        return -ENOMEM;
                m->data = malloc(len);
                if (!m->data) {
                        free(m);
                        return -ENOMEM;
                }
                m->channel = f->stream.channel;
                m->cls = c->cls;
                m->message_id = f->stream.message_id;
                m->start = start;
                m->len = (uint32_t) len;
                m->have = (RudpRanges) RUDP_RANGES_INIT(RUDP_MSG_RANGES_MAX);
                m->first_time = now;
                memmove(c->msgs + i + 1, c->msgs + i, (c->n - i) * sizeof(*c->msgs));
                c->msgs[i] = m;
                c->n++;
                c->buffered += len;
                if (lw)
                        r->lw_buffered += len;
        } else if (m->len != len || m->message_id != f->stream.message_id)
                return -EPROTO;

        if (rudp_ranges_add(&m->have, f->stream.offset, f->stream.offset + f->stream.size) < 0)
                return -EPROTO; /* a sender that fragments this much is broken */
        memcpy(m->data + f->stream.offset, f->stream.data, f->stream.size);
        if (!rudp_ranges_covers(&m->have, 0, m->len))
                return 0;
        if (c->parity && !lw && m->len <= RUDP_MSG_PARITY_LEN_MAX) {
                /* Its bytes may rebuild a neighbour from a MSG_PARITY frame, after its delivery. */
                RecentMsg *k = &c->parity->recent[c->parity->recent_next++ % RUDP_PARITY_HISTORY];
                k->start = m->start;
                k->message_id = m->message_id;
                k->len = m->len;
                memcpy(k->data, m->data, m->len);
        }

        if (c->cls == RUDP_RELIABLE_ORDERED) {
                deliver_ordered(r, c);
                return 0;
        }
        msg_remove_at(c, i);
        if (c->cls == RUDP_RELIABLE_UNORDERED &&
            rudp_ranges_add(&c->delivered, m->start, m->start + m->len) < 0) {
                rudp_recv_msg_free(m);
                return -EPROTO;
        }
        ready_push(r, m);
        return 0;
}

/* MSG_PARITY: the bytes of message j of q if this side has them (NULL), and whether it is
 * still missing (not delivered: the one a frame can rebuild). */
static const uint8_t *parity_msg(const RecvChannel *c, const MsgParity *q, uint64_t start, unsigned j, bool *missing) {
        *missing = false;
        uint32_t len = q->length[j];
        for (size_t i = 0; i < RUDP_PARITY_HISTORY; i++) {
                const RecentMsg *k = &c->parity->recent[i];
                if (k->len > 0 && k->start == start)
                        return k->len == len && k->message_id == q->message_id[j] ? k->data : NULL;
        }
        if (c->cls == RUDP_RELIABLE_ORDERED ? start < c->deliver_at : rudp_ranges_covers(&c->delivered, start, start + len))
                return NULL; /* delivered, its bytes gone */
        size_t i = msg_index(c, start);
        if (i < c->n && c->msgs[i]->start == start && rudp_ranges_covers(&c->msgs[i]->have, 0, c->msgs[i]->len))
                return c->msgs[i]->len == len && c->msgs[i]->message_id == q->message_id[j] ? c->msgs[i]->data : NULL;
        *missing = true;
        return NULL;
}

/* Tries a held frame: 1 when it rebuilt its one missing message, 0 when it must wait for
 * another message, -ENOENT when it is of no use any more; or an error from the rebuilt message. */
static int parity_try(Rudp *r, uint8_t channel, const MsgParity *q, uint64_t now) {
        RecvChannel *c = &r->recv[channel];
        uint8_t buf[RUDP_MSG_PARITY_LEN_MAX];
        unsigned missing = 0, which = 0;
        uint64_t start = q->start, which_start = 0;
        memcpy(buf, q->data, q->size);
        for (unsigned j = 0; j < q->count; start += q->length[j], j++) {
                bool miss;
                const uint8_t *d = parity_msg(c, q, start, j, &miss);
                if (d) {
                        for (uint32_t i = 0; i < q->length[j]; i++)
                                buf[i] ^= d[i];
                } else if (miss) {
                        missing++;
                        which = j;
                        which_start = start;
                } else
                        return -ENOENT; /* delivered and forgotten (or not what the frame says) */
        }
        if (missing == 0)
                return -ENOENT;
        if (missing > 1)
                return 0;
        RudpFrame f = { .type = RUDP_FRAME_STREAM };
        f.stream.channel = channel;
        f.stream.cls = c->cls;
        f.stream.message_id = q->message_id[which];
        f.stream.start = which_start;
        f.stream.length = q->length[which];
        f.stream.offset = 0;
        f.stream.data = buf;
        f.stream.size = q->length[which];
        int k = recv_stream(r, &f, now);
        if (k < 0)
                return k;
        r->stats.parity_rebuilt++;
        /* Tell the sender, or it sends the message again once it finds the packet lost. */
        if (r->nrebuilt < RUDP_REBUILT_MAX) {
                r->rebuilt[r->nrebuilt].channel = channel;
                r->rebuilt[r->nrebuilt++].start = which_start;
                r->ack_now = true;
        }
        return 1;
}

/* Every held frame of the channel that can rebuild a message now, until none can (each rebuilt
 * message may complete another frame's set). */
static int parity_solve(Rudp *r, uint8_t channel, uint64_t now) {
        ParityRecv *pr = r->recv[channel].parity;
        bool progress = true;
        while (pr && progress) {
                progress = false;
                for (size_t i = 0; i < pr->nheld;) {
                        int k = parity_try(r, channel, &pr->held[i], now);
                        if (k < 0 && k != -ENOENT)
                                return k;
                        if (k == 0) {
                                i++;
                                continue;
                        }
                        pr->held[i] = pr->held[--pr->nheld];
                        progress |= k > 0;
                }
        }
        return 0;
}

int rudp_recv_msg_parity(Rudp *r, const RudpFrame *f, uint64_t now) {
        if (f->msg_parity.channel >= r->cfg.channels)
                return -EPROTO;
        RecvChannel *c = &r->recv[f->msg_parity.channel];
        if (!c->used || c->cls == RUDP_LATEST_WINS)
                return 0; /* nothing to rebuild against (or never resent: no use) */
        if (!c->parity && !(c->parity = calloc(1, sizeof(*c->parity))))
                return -ENOMEM;
        ParityRecv *pr = c->parity;
        if (pr->nheld == RUDP_PARITY_HELD) {
                /* The oldest goes. */
                memmove(pr->held, pr->held + 1, (RUDP_PARITY_HELD - 1) * sizeof(*pr->held));
                pr->nheld--;
        }
        MsgParity *q = &pr->held[pr->nheld++];
        *q = (MsgParity) { .channel = f->msg_parity.channel, .count = f->msg_parity.count, .start = f->msg_parity.start,
                           .size = f->msg_parity.size, .time = now };
        memcpy(q->message_id, f->msg_parity.message_id, sizeof(q->message_id));
        memcpy(q->length, f->msg_parity.length, sizeof(q->length));
        memcpy(q->data, f->msg_parity.data, f->msg_parity.size);
        return parity_solve(r, f->msg_parity.channel, now);
}

void rudp_consumed(Rudp *r, RecvMsg *m) {
        RecvChannel *c = &r->recv[m->channel];
        c->buffered -= m->len;
        r->stats.messages_delivered++;
        if (c->cls == RUDP_LATEST_WINS) {
                r->lw_buffered -= m->len;
                return;
        }
        uint64_t prefix;
        if (c->cls == RUDP_RELIABLE_ORDERED)
                prefix = m->start + m->len;
        else {
                (void) rudp_ranges_add(&c->consumed, m->start, m->start + m->len);
                prefix = c->consumed.n > 0 && c->consumed.r[0].lo == 0 ? c->consumed.r[0].hi : 0;
        }
        uint64_t limit = prefix + r->cfg.recv_window;
        if (limit >= c->limit + r->cfg.recv_window / 2) {
                c->limit = limit;
                c->credit_pending = true;
        }
}

/* Frames of one packet, checked already. Returns whether it was ack-eliciting, or an error. */
static int process_frames(Rudp *r, const uint8_t *p, size_t len, bool recovered, uint64_t now);

static int process_recovered(Rudp *r, uint64_t now);

static void record_number(Rudp *r, uint64_t pn, bool eliciting, uint64_t now) {
        int k;
        while ((k = rudp_ranges_add(&r->recv_pns, pn, pn + 1)) == -E2BIG) {
                /* Forget the oldest range; numbers up to it are dropped from now on. */
                r->recv_floor = r->recv_pns.r[0].hi;
                rudp_ranges_remove_below(&r->recv_pns, r->recv_pns.r[1].lo);
        }
        if (!r->have_recv || pn > r->largest_recv) {
                if (r->have_recv && pn != r->largest_recv + 1)
                        r->ack_now = true; /* a gap: tell the sender at once */
                r->largest_recv = pn;
                r->largest_recv_time = now;
                r->have_recv = true;
        } else
                r->ack_now = true; /* reordered */
        if (!eliciting)
                return;
        r->ack_dirty = true;
        if (++r->ack_eliciting_unacked >= RUDP_ACK_EVERY)
                r->ack_now = true;
        else if (r->ack_deadline == 0)
                r->ack_deadline = now + RUDP_MAX_ACK_DELAY;
}

static bool frames_valid(const uint8_t *p, size_t len) {
        if (len == 0)
                return false;
        while (len > 0) {
                RudpFrame f;
                int n = rudp_frame_parse(p, len, &f);
                if (n <= 0)
                        return false;
                p += n;
                len -= (size_t) n;
        }
        return true;
}

static int process_frames(Rudp *r, const uint8_t *p, size_t len, bool recovered, uint64_t now) {
        bool eliciting = false;
        int k;
        while (len > 0) {
                RudpFrame f;
                int n = rudp_frame_parse(p, len, &f);
                if (n <= 0)
                        return -EPROTO; /* checked before: cannot happen */
                p += n;
                len -= (size_t) n;
                if (f.type != RUDP_FRAME_ACK && f.type != RUDP_FRAME_PADDING && f.type != RUDP_FRAME_MSG_REBUILT)
                        eliciting = true;
                switch (f.type) {
                case RUDP_FRAME_ACK:
                        k = rudp_on_ack_frame(r, &f, now);
                        if (k < 0)
                                return k;
                        break;
                case RUDP_FRAME_MAX_STREAM:
                        if (f.max_stream.channel >= r->cfg.channels)
                                return -EPROTO;
                        r->send[f.max_stream.channel].credit = MAX(r->send[f.max_stream.channel].credit, f.max_stream.limit);
                        break;
                case RUDP_FRAME_CLOSE:
                        r->peer_closed = true;
                        r->close_code = f.close.code;
                        break;
                case RUDP_FRAME_FEC_PARITY:
                        if (recovered)
                                break; /* parity is never protected: a forged symbol */
                        k = rudp_fec_decoder_add_parity(r->fec_dec, f.parity.group, f.parity.k, f.parity.m,
                                                        f.parity.index, f.parity.data, f.parity.size);
                        if (k < 0)
                                return k;
                        /* The rebuilt packets are processed after this one. */
                        break;
                case RUDP_FRAME_STREAM:
                        k = recv_stream(r, &f, now);
                        if (k < 0)
                                return k;
                        /* A message completed may be what a held MSG_PARITY waited for. */
                        if (r->recv[f.stream.channel].parity && r->recv[f.stream.channel].parity->nheld > 0) {
                                k = parity_solve(r, f.stream.channel, now);
                                if (k < 0)
                                        return k;
                        }
                        break;
                case RUDP_FRAME_MSG_PARITY:
                        k = rudp_recv_msg_parity(r, &f, now);
                        if (k < 0)
                                return k;
                        break;
                case RUDP_FRAME_MSG_REBUILT:
                        if (f.msg_rebuilt.channel >= r->cfg.channels)
                                return -EPROTO;
                        rudp_msg_rebuilt(r, f.msg_rebuilt.channel, f.msg_rebuilt.start);
                        break;
                default:
                        break;
                }
        }
        return eliciting;
}

static int process_recovered(Rudp *r, uint64_t now) {
        uint64_t pn;
        const uint8_t *payload;
        size_t len;
        while (rudp_fec_decoder_take(r->fec_dec, &pn, &payload, &len) > 0) {
                if (pn < r->recv_floor || pn > RUDP_VARINT_MAX ||
                    rudp_ranges_contains(&r->recv_pns, pn) || !frames_valid(payload, len))
                        continue;
                r->stats.fec_recovered++;
                int k = process_frames(r, payload, len, true, now);
                if (k < 0)
                        return k;
                record_number(r, pn, k > 0, now);
        }
        return 0;
}

int rudp_recv_packet(Rudp *r, const uint8_t *dgram, size_t len, uint64_t now) {
        RudpHeader h;
        int n;
        if (len > RUDP_DATAGRAM_MAX || (n = rudp_header_parse(dgram, len, &h)) < 0 ||
            h.connection != r->cfg.connection_id || h.number < r->recv_floor ||
            rudp_ranges_contains(&r->recv_pns, h.number) || !frames_valid(dgram + n, len - (size_t) n)) {
                r->stats.packets_dropped++;
                return 0;
        }
        r->stats.packets_received++;
        r->stats.bytes_received += len;

        const uint8_t *payload = dgram + n;
        size_t plen = len - (size_t) n;
        int k = process_frames(r, payload, plen, false, now);
        if (k < 0)
                return k;
        record_number(r, h.number, k > 0, now);
        /* Rebuilt packets from a parity frame of this packet, or from this data packet. */
        k = process_recovered(r, now);
        if (k < 0)
                return k;
        if (h.protected) {
                k = rudp_fec_decoder_add_data(r->fec_dec, h.fec_group, h.fec_index, h.number, payload, plen);
                if (k < 0)
                        return k;
                k = process_recovered(r, now);
                if (k < 0)
                        return k;
        }
        if (r->lw_buffered > 0)
                lw_evict(r, 0, now);
        return r->peer_closed ? -ECONNRESET : 0;
}
