/* rudp's send side: per-channel message queues and the assembly of each datagram: ACK, CLOSE and
 * credits first, then reliable bytes to send again, then new bytes, channels served round-robin so
 * a small message is never stuck behind a bulk one. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "rudp-internal.h"

int rudp_send(Rudp *r, uint8_t channel, RudpClass cls, uint32_t message_id, const void *data, size_t len) {
        if (r->closed || r->broken || r->peer_closed)
                return -EPIPE;
        if (channel >= r->cfg.channels || (unsigned) cls >= _RUDP_CLASS_MAX || len == 0 || !data)
                return -EINVAL;
        if (len > r->cfg.max_message)
                return -EMSGSIZE;
        SendChannel *c = &r->send[channel];
        if (c->used && c->cls != cls)
                return -EINVAL;
        if (len > r->cfg.send_buffer - r->send_queued)
                return -ENOBUFS;

        if (c->head + c->n == c->cap) {
                if (c->head > 0) {
                        memmove(c->q, c->q + c->head, c->n * sizeof(*c->q));
                        c->head = 0;
                } else {
                        size_t cap = c->cap ? c->cap * 2 : 16;
                        SendMsg **q = realloc(c->q, cap * sizeof(*q));
                        if (!q)
                                return -ENOMEM;
                        c->q = q;
                        c->cap = cap;
                }
        }
        SendMsg *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->data = malloc(len);
        if (!m->data) {
                free(m);
                return -ENOMEM;
        }
        memcpy(m->data, data, len);
        m->message_id = message_id;
        m->start = c->next_start;
        m->len = (uint32_t) len;
        m->acked = (RudpRanges) RUDP_RANGES_INIT(RUDP_MSG_RANGES_MAX);
        m->resend = (RudpRanges) RUDP_RANGES_INIT(RUDP_MSG_RANGES_MAX);
        c->q[c->head + c->n++] = m;
        if (!c->used) {
                c->used = true;
                c->cls = cls;
        }
        c->next_start += len;
        c->queued += len;
        r->send_queued += len;
        return 0;
}

size_t rudp_send_room(const Rudp *r) {
        return r->cfg.send_buffer - r->send_queued;
}

size_t rudp_queued(const Rudp *r, uint8_t channel) {
        return channel < r->cfg.channels ? r->send[channel].queued : 0;
}

static void msg_drop_data(Rudp *r, SendChannel *c, SendMsg *m) {
        if (!m->data)
                return;
        free(m->data);
        m->data = NULL;
        c->queued -= m->len;
        r->send_queued -= m->len;
}

void rudp_send_msg_free(Rudp *r, SendChannel *c, SendMsg *m) {
        if (!m)
                return;
        if (c)
                msg_drop_data(r, c, m);
        else
                free(m->data);
        rudp_ranges_done(&m->acked);
        rudp_ranges_done(&m->resend);
        free(m);
}

int rudp_send_channel_pop_done(Rudp *r, SendChannel *c) {
        int popped = 0;
        while (c->n > 0 && c->q[c->head]->done) {
                rudp_send_msg_free(r, c, c->q[c->head]);
                c->q[c->head] = NULL;
                c->head++;
                c->n--;
                popped++;
                if (c->first_unsent > 0)
                        c->first_unsent--;
        }
        if (c->n == 0)
                c->head = c->first_unsent = 0;
        return popped;
}

SendMsg *rudp_send_find(Rudp *r, uint8_t channel, uint64_t start) {
        if (channel >= r->cfg.channels)
                return NULL;
        SendChannel *c = &r->send[channel];
        size_t a = 0, b = c->n;
        while (a < b) {
                size_t mid = a + (b - a) / 2;
                SendMsg *m = c->q[c->head + mid];
                if (m->start == start)
                        return m;
                if (m->start < start)
                        a = mid + 1;
                else
                        b = mid;
        }
        return NULL;
}

bool rudp_lost_push(Rudp *r, uint8_t channel, uint32_t message_id) {
        if (r->lost_n == r->lost_cap) {
                if (r->lost_cap >= RUDP_LOST_QUEUE_MAX)
                        return false;
                size_t cap = r->lost_cap ? r->lost_cap * 2 : 64;
                LostMsg *l = malloc(cap * sizeof(*l));
                if (!l)
                        return false;
                for (size_t i = 0; i < r->lost_n; i++)
                        l[i] = r->lost[(r->lost_head + i) % r->lost_cap];
                free(r->lost);
                r->lost = l;
                r->lost_cap = cap;
                r->lost_head = 0;
        }
        r->lost[(r->lost_head + r->lost_n++) % r->lost_cap] = (LostMsg) { channel, message_id };
        r->stats.latest_wins_lost++;
        return true;
}

/* The next message of c with bytes never sent that may go now (credit), or NULL. */
static SendMsg *next_unsent(SendChannel *c) {
        while (c->first_unsent < c->n && c->q[c->head + c->first_unsent]->sent == c->q[c->head + c->first_unsent]->len)
                c->first_unsent++;
        if (c->first_unsent >= c->n)
                return NULL;
        SendMsg *m = c->q[c->head + c->first_unsent];
        if (c->cls != RUDP_LATEST_WINS && m->start + m->sent >= c->credit)
                return NULL;
        return m;
}

static bool channel_has_data(SendChannel *c) {
        return c->used && (c->resend_msgs > 0 || next_unsent(c));
}

bool rudp_send_has_data(const Rudp *r) {
        if (r->par_n > 0 && !r->close_sent)
                return true;
        for (unsigned i = 0; i < r->cfg.channels; i++)
                if (channel_has_data(&r->send[i]))
                        return true;
        return false;
}

/* Urgent bytes wait to be sent: the next packet carries only them. */
bool rudp_send_urgent_has_data(const Rudp *r) {
        for (unsigned i = 0; i < MIN(r->cfg.channels, 32u); i++)
                if (rudp_is_urgent(r, i) && channel_has_data(&r->send[i]))
                        return true;
        return false;
}

/* Urgent bytes the peer is known to miss wait to be sent again (second copies do not count). */
bool rudp_send_urgent_has_missing(const Rudp *r) {
        for (unsigned i = 0; i < MIN(r->cfg.channels, 32u); i++) {
                const SendChannel *c = &r->send[i];
                if (!rudp_is_urgent(r, i) || !c->used || c->resend_msgs == 0)
                        continue;
                for (size_t j = 0; j < c->n; j++)
                        if (c->q[c->head + j]->missing)
                                return true;
        }
        return false;
}

/* A later packet than the one carrying fr was acknowledged and fr was not: its bytes go again at
 * once (the packet itself is still judged lost or not by the usual rules, which then skip them). Waiting for the
 * packet or time threshold would hold the channel, and every message ordered behind it, several
 * packet times more: over 100 ms on a slow link. false when it could not be queued (the loss
 * detection of the packet must then cover it). */
bool rudp_send_urgent_again(Rudp *r, const SentFrag *fr) {
        SendMsg *m = rudp_send_find(r, fr->channel, fr->start);
        if (!m || m->done || rudp_ranges_covers(&m->acked, fr->off, (uint64_t) fr->off + fr->len))
                return true;
        if (m->parity_safe)
                return false; /* the peer rebuilt it, most likely: loss detection still covers it */
        SendChannel *c = &r->send[fr->channel];
        bool was_empty = rudp_ranges_empty(&m->resend);
        if (rudp_ranges_add(&m->resend, fr->off, (uint64_t) fr->off + fr->len) < 0)
                return false;
        if (was_empty)
                c->resend_msgs++;
        m->copy_pending = false; /* a retransmission, early */
        m->missing = true;
        return true;
}

/* In AUTO, parity protects only packets built while latest-wins data waits: a lost display or
 * media packet is never sent again, so FEC is what saves it, while reliable data (bulk, and
 * urgent channels, which have their copies) is repaired by ARQ within its budget, and parity
 * over it would cost 3-16% of the link for nothing. FIXED protects everything (tests). */
static bool fec_wanted(const Rudp *r) {
        if (r->cfg.fec != RUDP_FEC_AUTO)
                return true;
        for (unsigned i = 0; i < r->cfg.channels; i++) {
                SendChannel *c = &r->send[i];
                if (c->cls == RUDP_LATEST_WINS && channel_has_data(c))
                        return true;
        }
        return false;
}

static bool credit_pending(const Rudp *r) {
        for (unsigned i = 0; i < r->cfg.channels; i++)
                if (r->recv[i].credit_pending)
                        return true;
        return false;
}

/* Writes one fragment of m from [off, off + avail) at most: bytes written, 0 when it does not fit. */
static uint32_t write_fragment(Rudp *r, RudpWriter *w, SentPacket *p, uint8_t channel, SendChannel *c,
                               SendMsg *m, uint32_t off, uint32_t avail) {
        size_t room = rudp_writer_room(w);
        size_t hdr = rudp_stream_header_size(m->message_id, m->start, m->len, off, MIN((size_t) avail, room));
        if (room <= hdr || p->nfrags >= RUDP_SENT_FRAGS)
                return 0;
        uint32_t size = (uint32_t) MIN((size_t) avail, room - hdr);
        if (rudp_frame_write_stream(w, channel, c->cls, m->message_id, m->start, m->len, off, m->data + off, size) < 0)
                return 0;
        p->frags[p->nfrags++] = (SentFrag) { .start = m->start, .off = off, .len = size, .channel = channel };
        p->urgent |= rudp_is_urgent(r, channel) && c->cls != RUDP_LATEST_WINS;
        return size;
}

/* Bytes of reliable messages to send again, as much as fits: true if anything was written. */
static bool fill_resend(Rudp *r, RudpWriter *w, SentPacket *p, uint8_t channel, SendChannel *c) {
        bool wrote = false;
        for (size_t i = 0; i < c->n && c->resend_msgs > 0; i++) {
                SendMsg *m = c->q[c->head + i];
                if (rudp_ranges_empty(&m->resend))
                        continue;
                while (!rudp_ranges_empty(&m->resend)) {
                        RudpRange want = m->resend.r[0], gap;
                        if (!rudp_ranges_first_gap(&m->acked, want.lo, want.hi, &gap)) {
                                (void) rudp_ranges_remove(&m->resend, want.lo, want.hi);
                                continue;
                        }
                        /* Drop the acknowledged head first, so removing what is sent never splits. */
                        (void) rudp_ranges_remove(&m->resend, want.lo, gap.lo);
                        uint32_t n = write_fragment(r, w, p, channel, c, m, (uint32_t) gap.lo, (uint32_t) (gap.hi - gap.lo));
                        if (n == 0)
                                return wrote;
                        (void) rudp_ranges_remove(&m->resend, gap.lo, gap.lo + n);
                        if (m->copy_pending)
                                r->stats.urgent_copies++;
                        else {
                                r->stats.retransmits++;
                                r->stats.retransmitted_bytes += n;
                        }
                        wrote = true;
                }
                m->copy_pending = m->missing = false;
                c->resend_msgs--;
        }
        return wrote;
}

/* The second copy of an urgent fragment goes with the next packet's resends (never the same
 * packet: the resend pass of this one is over), when the link loses packets and within a budget
 * of a few percent of the pacing rate: on a slow link, frequent small messages twice over would
 * crowd out everything else. */
static void maybe_copy(Rudp *r, SendChannel *c, SendMsg *m, uint32_t off, uint32_t n) {
        uint64_t cost = (uint64_t) n + RUDP_COPY_OVERHEAD;
        if (r->loss_rate < RUDP_COPY_MIN_LOSS || r->bbr.pacing_rate < RUDP_COPY_MIN_RATE || r->copy_credit < cost)
                return;
        r->copy_credit -= cost;
        bool was_empty = rudp_ranges_empty(&m->resend);
        if (rudp_ranges_add(&m->resend, off, (uint64_t) off + n) < 0)
                return; /* only a copy: loss recovery still covers the fragment */
        if (was_empty) {
                c->resend_msgs++;
                m->copy_pending = true;
        }
}

/* A whole urgent message m, just sent in packet number: instead of its second copy, the XOR of
 * it and the channel's previous message goes in a later packet (see RUDP_PARITY_*), within the
 * copies' budget; the first message after anything else (a longer or fragmented one, a gap) gets
 * its copy. */
static void protect_whole(Rudp *r, uint8_t channel, SendChannel *c, SendMsg *m, uint64_t number) {
        if (!c->prev && !(c->prev = calloc(1, sizeof(*c->prev)))) {
                maybe_copy(r, c, m, 0, m->len);
                return;
        }
        RecentMsg *prev = c->prev;
        bool chained = c->prev_valid && prev->start + prev->len == m->start;
        if (chained && r->loss_rate >= RUDP_COPY_MIN_LOSS && r->bbr.pacing_rate >= RUDP_COPY_MIN_RATE) {
                uint32_t ids[2] = { prev->message_id, m->message_id }, lens[2] = { prev->len, m->len };
                uint64_t cost = rudp_msg_parity_frame_size(prev->start, 2, ids, lens) + RUDP_COPY_OVERHEAD;
                if (r->copy_credit >= cost) {
                        r->copy_credit -= cost;
                        if (r->par_n == RUDP_PARITY_PENDING) { /* the oldest goes */
                                r->par_head = (r->par_head + 1) % RUDP_PARITY_PENDING;
                                r->par_n--;
                        }
                        MsgParity *q = &r->par_pending[(r->par_head + r->par_n++) % RUDP_PARITY_PENDING];
                        *q = (MsgParity) {
                                .channel = channel, .count = 2, .start = prev->start,
                                .message_id = { ids[0], ids[1] }, .length = { lens[0], lens[1] },
                                .size = MAX(prev->len, m->len), .after = number, .time = r->now,
                        };
                        memcpy(q->data, prev->data, prev->len);
                        for (uint32_t i = 0; i < m->len; i++)
                                q->data[i] ^= m->data[i];
                }
        } else
                maybe_copy(r, c, m, 0, m->len);
        prev->start = m->start;
        prev->message_id = m->message_id;
        prev->len = m->len;
        memcpy(prev->data, m->data, m->len);
        c->prev_valid = true;
}

/* Pending MSG_PARITY frames, each in a packet after its last message's own: true if any went. */
static bool write_msg_parities(Rudp *r, RudpWriter *w, SentPacket *p) {
        bool wrote = false;
        uint64_t srtt = r->have_rtt ? r->smoothed_rtt : r->cfg.initial_rtt_usec;
        while (r->par_n > 0 && p->nparity < RUDP_SENT_PARITY) {
                MsgParity *q = &r->par_pending[r->par_head];
                if (q->after >= p->number)
                        break;
                /* A round trip on, the lost message is being sent again anyway. */
                if (q->time + srtt >= r->now) {
                        if (rudp_frame_write_msg_parity(w, q->channel, q->start, q->count, q->message_id, q->length,
                                                        q->data, q->size) < 0)
                                break;
                        r->stats.urgent_parity++;
                        p->msg_par[p->nparity].channel = q->channel;
                        p->msg_par[p->nparity].start = q->start;
                        p->msg_par[p->nparity++].len0 = q->length[0];
                        wrote = true;
                }
                r->par_head = (r->par_head + 1) % RUDP_PARITY_PENDING;
                r->par_n--;
        }
        return wrote;
}

static bool fill_new(Rudp *r, RudpWriter *w, SentPacket *p, uint8_t channel, SendChannel *c) {
        bool wrote = false;
        SendMsg *m;
        while ((m = next_unsent(c))) {
                uint32_t avail = m->len - m->sent;
                if (c->cls != RUDP_LATEST_WINS)
                        avail = (uint32_t) MIN((uint64_t) avail, c->credit - (m->start + m->sent));
                uint32_t n = write_fragment(r, w, p, channel, c, m, m->sent, avail);
                if (n == 0)
                        break;
                if (rudp_is_urgent(r, channel) && c->cls != RUDP_LATEST_WINS) {
                        if (m->sent == 0 && n == m->len && n <= RUDP_MSG_PARITY_LEN_MAX)
                                protect_whole(r, channel, c, m, p->number);
                        else {
                                maybe_copy(r, c, m, m->sent, n);
                                c->prev_valid = false;
                        }
                }
                m->sent += n;
                wrote = true;
                if (c->cls == RUDP_LATEST_WINS) {
                        m->outstanding++;
                        if (m->sent == m->len)
                                msg_drop_data(r, c, m); /* never sent again */
                }
        }
        return wrote;
}

static bool fill_streams(Rudp *r, RudpWriter *w, SentPacket *p) {
        bool wrote = false;
        int first = -1;
        /* Urgent channels first, then everyone round-robin. */
        for (int urgent = 1; urgent >= 0; urgent--)
                for (int pass = 0; pass < 2; pass++)
                        for (unsigned i = 0; i < r->cfg.channels; i++) {
                                unsigned ch = (r->rr + i) % r->cfg.channels;
                                SendChannel *c = &r->send[ch];
                                if (!c->used || rudp_is_urgent(r, ch) != (urgent == 1))
                                        continue;
                                bool any = pass == 0 ? fill_resend(r, w, p, (uint8_t) ch, c)
                                                     : fill_new(r, w, p, (uint8_t) ch, c);
                                if (any && first < 0 && !urgent)
                                        first = (int) ch;
                                wrote |= any;
                        }
        if (first >= 0)
                r->rr = ((unsigned) first + 1) % r->cfg.channels;
        return wrote;
}

static bool write_credits(Rudp *r, RudpWriter *w, SentPacket *p) {
        bool wrote = false;
        for (unsigned i = 0; i < r->cfg.channels; i++) {
                RecvChannel *c = &r->recv[i];
                if (!c->credit_pending)
                        continue;
                if (rudp_frame_write_max_stream(w, (uint8_t) i, c->limit) < 0)
                        break;
                c->credit_pending = false;
                p->credit = wrote = true;
        }
        return wrote;
}

/* MSG_REBUILT frames owed (not ack-eliciting, never sent again: if one is lost, the peer sends
 * the message again, as it would without). */
static void write_rebuilt(Rudp *r, RudpWriter *w) {
        size_t i = 0;
        while (i < r->nrebuilt && rudp_frame_write_msg_rebuilt(w, r->rebuilt[i].channel, r->rebuilt[i].start) == 0)
                i++;
        memmove(r->rebuilt, r->rebuilt + i, (r->nrebuilt - i) * sizeof(r->rebuilt[0]));
        r->nrebuilt -= i;
}

static bool write_ack(Rudp *r, RudpWriter *w, SentPacket *p, size_t max_ranges, uint64_t now) {
        RudpAckRange ranges[RUDP_RECV_RANGES];
        size_t n = rudp_ack_ranges(r, ranges, MIN(max_ranges, (size_t) RUDP_RECV_RANGES));
        if (n == 0)
                return false;
        uint64_t delay = now > r->largest_recv_time ? now - r->largest_recv_time : 0;
        if (rudp_frame_write_ack(w, ranges, n, delay, r->stats.fec_recovered) < 0)
                return false;
        p->ack_largest = ranges[0].hi + 1;
        r->ack_now = r->ack_dirty = false;
        r->ack_deadline = 0;
        r->ack_eliciting_unacked = 0;
        return true;
}

uint64_t rudp_send_quantum(const Rudp *r) {
        uint64_t rate = MAX(r->bbr.pacing_rate, (uint64_t) 1000);
        uint64_t ns = MIN(MAX(r->pace_late_ns * 3 / 2, (uint64_t) RUDP_PACE_BURST_MIN_NS), (uint64_t) RUDP_PACE_BURST_MAX_NS);
        return MIN(rate * ns / 1000000000, (uint64_t) RUDP_PACE_BURST_BYTES);
}

uint64_t rudp_cwnd_allowance(const Rudp *r) {
        uint64_t q = rudp_send_quantum(r);
        return q > 2 * RUDP_MSS ? q : 0;
}

/* The owner woke at now for a slot due at pace_next_ns: how late, smoothed (up fast, since a
 * quantum below the lateness starves the rate; down slowly). */
static void note_wake(Rudp *r, uint64_t now) {
        uint64_t now_ns = now * 1000;
        uint64_t late = now_ns > r->pace_next_ns ? now_ns - r->pace_next_ns : 0;
        late = MIN(late, (uint64_t) RUDP_PACE_BURST_MAX_NS);
        if (late > r->pace_late_ns)
                r->pace_late_ns += (late - r->pace_late_ns) / 2;
        else
                r->pace_late_ns -= (r->pace_late_ns - late) / 16;
}

static void pace(Rudp *r, size_t size, uint64_t now) {
        /* In nanoseconds: a packet at a gigabit is 9.6 us, and rounding it to 9 would pace 7%
         * faster than the model says. */
        uint64_t rate = MAX(r->bbr.pacing_rate, (uint64_t) 1000);
        uint64_t t = (uint64_t) size * 1000000000 / rate;
        uint64_t now_ns = now * 1000;
        /* A late wake-up may catch up two packets, or on a fast link a send quantum: at a gigabit
         * a packet is due every 10 us, well below what a sleep and a wake-up cost, so
         * packet-by-packet pacing would cap the rate at the owner's wake-ups. Slow links keep
         * the two packets. */
        uint64_t burst = MAX(2 * t, rudp_send_quantum(r) * 1000000000 / rate);
        uint64_t floor = now_ns > burst ? now_ns - burst : 0;
        r->pace_next_ns = MAX(r->pace_next_ns, floor) + t;
}

static void refill_copy_credit(Rudp *r, uint64_t now) {
        if (now > r->copy_refilled) {
                uint64_t add = (now - r->copy_refilled) * r->bbr.pacing_rate / 1000000 * RUDP_COPY_SHARE_PERCENT / 100;
                r->copy_credit = MIN(r->copy_credit + add, (uint64_t) RUDP_COPY_BURST);
        }
        r->copy_refilled = now;
}

/* The first microsecond at which pacing lets the next packet go. */
static inline uint64_t pace_time(const Rudp *r) {
        return (r->pace_next_ns + 999) / 1000;
}

static ssize_t finish(Rudp *r, SentPacket *p, RudpWriter *w, size_t header_len, uint64_t now) {
        p->size = (uint32_t) w->len;
        p->time_sent = now;
        /* Filling the pipe (not an application sending less than it could) */
        p->startup = (r->bbr.state == RUDP_CC_STARTUP && r->app_limited_until == 0) || r->bbr.state == RUDP_CC_DRAIN;
        if (p->protected) {
                int k = rudp_fec_encoder_add(r->fec_enc, p->number, w->p + header_len, w->len - header_len, now);
                if (k < 0)
                        p->protected = false; /* cannot happen: the payload budget was checked */
        }
        if (p->ack_eliciting) {
                p->state = SENT_IN_FLIGHT;
                if (r->inflight == 0) {
                        r->first_sent_time = now;
                        r->delivered_time = now;
                }
                p->delivered = r->delivered;
                p->delivered_time = r->delivered_time;
                p->first_sent_time = r->first_sent_time;
                p->app_limited = r->app_limited_until != 0;
                r->inflight += p->size;
                r->last_ack_eliciting_time = now;
                pace(r, p->size, now);
        } else
                p->state = p->ack_largest ? SENT_DONE : SENT_DONE;
        r->next_number++;
        r->stats.packets_sent++;
        r->stats.bytes_sent += p->size;
        return (ssize_t) w->len;
}

ssize_t rudp_next_datagram(Rudp *r, uint8_t *out, size_t size, uint64_t now) {
        if (r->broken)
                return -EPROTO;
        if (size < 256)
                return -ENOBUFS;
        size = MIN(size, (size_t) RUDP_DATAGRAM_MAX);
        r->now = now;
        if (r->peer_closed || (r->close_sent && !r->close_pending))
                return 0;
        rudp_on_timeout(r, now);
        if (r->ack_deadline && now >= r->ack_deadline)
                r->ack_now = true;

        bool data = rudp_send_has_data(r);
        RudpFecParity par;
        bool parity = rudp_fec_encoder_peek(r->fec_enc, &par) > 0;
        if (!data && !parity && rudp_fec_encoder_open(r->fec_enc, NULL) > 0) {
                /* Nothing more to send for now: protect the tail. */
                rudp_fec_encoder_flush(r->fec_enc);
                parity = rudp_fec_encoder_peek(r->fec_enc, &par) > 0;
        }
        bool content = data || parity || r->close_pending || credit_pending(r);
        bool probe = r->probes_pending > 0;
        refill_copy_credit(r, now);
        /* Urgent bytes to send again (a later packet was acknowledged, theirs not) do not wait
         * for their pacing slot, within one full packet's time ahead of it: the channel and every
         * message ordered behind wait for them. The early packet carries little
         * (RUDP_EARLY_DATAGRAM) and pushes the next slot back by its size, so the rate stays the
         * model's; it is rare (one per lost urgent packet). New urgent bytes wait for the slot:
         * sending each in a packet of its own would cost a packet's headers (~90 bytes with IP,
         * UDP and DTLS) per message, 14% of a 256 kbit/s link at 50 messages a second. */
        bool urgent_early = false;
        if (now < pace_time(r) && rudp_send_urgent_has_missing(r)) {
                uint64_t rate = MAX(r->bbr.pacing_rate, (uint64_t) 1000);
                uint64_t full_ns = (uint64_t) RUDP_DATAGRAM_MAX * 1000000000 / rate;
                urgent_early = r->pace_next_ns <= now * 1000 + full_ns;
        }
        bool window_ok = r->inflight + RUDP_MSS <= r->bbr.cwnd + rudp_cwnd_allowance(r);
        bool cc_ok = window_ok && (now >= pace_time(r) || urgent_early);
        if (content && window_ok && now >= pace_time(r) && r->pace_waiting)
                note_wake(r, now);
        r->pace_waiting = content && window_ok && now < pace_time(r);
        if (!content && !probe) {
                /* The application has nothing to send: rate samples until this is delivered
                 * say less about the path than about the application. */
                r->app_limited_until = MAX(r->delivered + r->inflight, (uint64_t) 1);
        }
        if (r->sent_base + RUDP_SENT_MAX <= r->next_number)
                cc_ok = probe = false;
        bool eliciting = (content && cc_ok) || probe;
        bool ack_only = !eliciting && r->ack_now && r->have_recv;
        if (!eliciting && !ack_only)
                return 0;

        SentPacket *p;
        int k = rudp_sent_add(r, &p);
        if (k < 0)
                return k;
        RudpWriter w = { out, size, 0 };
        RudpHeader h = { .connection = r->cfg.connection_id, .number = r->next_number };

        if (eliciting && parity) {
                (void) rudp_header_write(&w, &h);
                if (rudp_frame_write_parity(&w, par.group, par.k, par.m, par.index, par.data, par.size) < 0)
                        return -ENOBUFS;
                p->parity = p->ack_eliciting = true;
                p->fec_group = par.group;
                rudp_fec_encoder_pop(r->fec_enc);
                bool last = par.index + 1 == par.m;
                rudp_fec_sent_parity(r, par.group, h.number, now, last);
                r->stats.fec_parity_sent++;
                if (probe)
                        r->probes_pending--;
                return finish(r, p, &w, 0, now);
        }

        if (urgent_early)
                size = MIN(size, (size_t) RUDP_EARLY_DATAGRAM);
        w.size = size;
        if (eliciting) {
                if (fec_wanted(r))
                        h.protected = rudp_fec_encoder_next(r->fec_enc, &h.fec_group, &h.fec_index);
                else if (rudp_fec_encoder_open(r->fec_enc, NULL) > 0)
                        rudp_fec_encoder_flush(r->fec_enc); /* its parity goes with the next packets */
        }
        (void) rudp_header_write(&w, &h);
        size_t header_len = w.len;
        /* A protected payload must leave room for its parity packet in a datagram of this size:
         * header (17), FEC_PARITY frame header (14), symbol prefix (10). */
        if (h.protected)
                w.size = MIN(w.size, header_len + MIN((size_t) RUDP_FEC_PAYLOAD_MAX, size - 48));
        p->protected = h.protected;
        p->fec_group = h.fec_group;
        if (h.protected && h.fec_index == 0)
                rudp_fec_sent_data(r, h.fec_group, now);

        if (r->have_recv && (r->ack_dirty || ack_only))
                write_ack(r, &w, p, ack_only ? RUDP_RECV_RANGES : 8, now);
        write_rebuilt(r, &w);
        if (eliciting) {
                bool any = false;
                if (r->close_pending && rudp_frame_write_close(&w, r->close_code) == 0) {
                        r->close_pending = false;
                        r->close_sent = true;
                        p->close = any = true;
                }
                any |= write_credits(r, &w, p);
                if (!r->close_sent) {
                        any |= write_msg_parities(r, &w, p);
                        any |= fill_streams(r, &w, p);
                }
                if (!any)
                        any = rudp_frame_write_simple(&w, RUDP_FRAME_PING) == 0;
                p->ack_eliciting = any;
                if (probe)
                        r->probes_pending--;
        }
        if (w.len == header_len)
                return 0; /* nothing fitted: the slot stays unused */
        return finish(r, p, &w, header_len, now);
}
