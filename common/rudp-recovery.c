/* rudp's loss recovery (after RFC 9002): the packets in flight, acknowledgements, RTT estimates,
 * loss detection by reordering (3 packets) and time (9/8 RTT), probe timeouts, and the
 * delivery-rate samples the congestion controller feeds on. Only reliable bytes are sent again;
 * a lost latest-wins fragment is reported to the application instead. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "rudp-internal.h"

#define LOSS_WINDOW 100 /* packets resolved per loss-rate sample, averaged over about eight */

SentPacket *rudp_sent_get(Rudp *r, uint64_t number) {
        if (number < r->sent_base || number >= r->next_number || r->sent_cap == 0)
                return NULL;
        SentPacket *p = &r->sent[number & (r->sent_cap - 1)];
        return p->number == number && p->state != SENT_NONE ? p : NULL;
}

int rudp_sent_add(Rudp *r, SentPacket **ret) {
        if (r->next_number - r->sent_base >= r->sent_cap) {
                size_t cap = r->sent_cap ? r->sent_cap * 2 : 256;
                if (cap > RUDP_SENT_MAX * 2)
                        return -ENOBUFS;
                SentPacket *n = calloc(cap, sizeof(*n));
                if (!n)
                        return -ENOMEM;
                for (uint64_t i = r->sent_base; i < r->next_number; i++)
                        n[i & (cap - 1)] = r->sent[i & (r->sent_cap - 1)];
                free(r->sent);
                r->sent = n;
                r->sent_cap = cap;
        }
        SentPacket *p = &r->sent[r->next_number & (r->sent_cap - 1)];
        *p = (SentPacket) { .number = r->next_number, .state = SENT_NONE };
        *ret = p;
        return 0;
}

static void advance_base(Rudp *r) {
        while (r->sent_base < r->next_number) {
                SentPacket *p = &r->sent[r->sent_base & (r->sent_cap - 1)];
                if (p->number == r->sent_base && p->state == SENT_IN_FLIGHT)
                        break;
                r->sent_base++;
        }
}

uint64_t rudp_pto_interval(const Rudp *r) {
        uint64_t srtt = r->have_rtt ? r->smoothed_rtt : r->cfg.initial_rtt_usec;
        uint64_t var = r->have_rtt ? r->rttvar : r->cfg.initial_rtt_usec / 2;
        return srtt + MAX(4 * var, (uint64_t) RUDP_GRANULARITY) + RUDP_MAX_ACK_DELAY;
}

uint64_t rudp_pto_time(const Rudp *r) {
        if (r->inflight == 0)
                return UINT64_MAX;
        unsigned shift = MIN(r->pto_count, 10u);
        return r->last_ack_eliciting_time + (rudp_pto_interval(r) << shift);
}

static FecSent *fec_sent_slot(Rudp *r, uint64_t group, uint64_t now) {
        FecSent *f = &r->fec_sent[group % RUDP_FEC_GROUPS_TRACKED];
        if (!f->used || f->group != group)
                *f = (FecSent) { .group = group, .used = true, .opened = now };
        return f;
}

void rudp_fec_sent_data(Rudp *r, uint64_t group, uint64_t now) {
        (void) fec_sent_slot(r, group, now);
}

void rudp_fec_sent_parity(Rudp *r, uint64_t group, uint64_t number, uint64_t now, bool last) {
        FecSent *f = fec_sent_slot(r, group, now);
        f->last_number = number + 1;
        f->last_time = now;
        f->closed |= last;
}

/* How long a protected packet waits for its group's parity before it is judged alone: FEC
 * must not delay recovery much on a slow link, where a group takes long to fill. */
static uint64_t fec_wait(const Rudp *r) {
        uint64_t srtt = r->have_rtt ? r->smoothed_rtt : r->cfg.initial_rtt_usec;
        return MAX(srtt / 4, (uint64_t) 10000);
}

/* When a protected packet may be judged: after its group's last parity packet, which is sent
 * after it, or alone once its group stayed open too long. false: wait, until *until. */
static bool loss_reference(Rudp *r, const SentPacket *p, uint64_t now, uint64_t *number, uint64_t *time,
                           uint64_t *until) {
        *number = p->number;
        *time = p->time_sent;
        if (!p->protected)
                return true;
        const FecSent *f = &r->fec_sent[p->fec_group % RUDP_FEC_GROUPS_TRACKED];
        if (!f->used || f->group != p->fec_group)
                return true; /* long gone from the table: judge it alone */
        if (!f->closed) {
                if (!rudp_fec_encoder_pending(r->fec_enc, p->fec_group))
                        return true; /* closed without parity, or its parity superseded */
                *until = f->opened + fec_wait(r);
                return now >= *until;
        }
        *number = MAX(*number, f->last_number - 1);
        *time = MAX(*time, f->last_time);
        return true;
}

static void frag_acked(Rudp *r, const SentFrag *fr) {
        SendMsg *m = rudp_send_find(r, fr->channel, fr->start);
        if (!m || m->done)
                return;
        SendChannel *c = &r->send[fr->channel];
        if (c->cls == RUDP_LATEST_WINS) {
                if (m->outstanding > 0)
                        m->outstanding--;
                m->done = m->outstanding == 0 && m->sent == m->len;
        } else {
                if (rudp_ranges_add(&m->acked, fr->off, (uint64_t) fr->off + fr->len) < 0)
                        return; /* too fragmented to record: the bytes will be sent and acked again */
                if (rudp_ranges_covers(&m->acked, 0, m->len)) {
                        if (!rudp_ranges_empty(&m->resend)) {
                                rudp_ranges_done(&m->resend);
                                c->resend_msgs--;
                        }
                        m->done = true;
                }
        }
        if (m->done)
                rudp_send_channel_pop_done(r, c);
}

/* MSG_REBUILT: the peer rebuilt the whole message at start from MSG_PARITY, as good as every byte
 * acknowledged (ignored for a message not sent whole yet: the peer cannot have it). */
void rudp_msg_rebuilt(Rudp *r, uint8_t channel, uint64_t start) {
        SendMsg *m = rudp_send_find(r, channel, start);
        if (!m || m->done || m->sent != m->len || r->send[channel].cls == RUDP_LATEST_WINS)
                return;
        frag_acked(r, &(SentFrag) { .start = start, .off = 0, .len = m->len, .channel = channel });
}

static void frag_lost(Rudp *r, const SentFrag *fr) {
        SendMsg *m = rudp_send_find(r, fr->channel, fr->start);
        if (!m || m->done)
                return;
        SendChannel *c = &r->send[fr->channel];
        if (c->cls == RUDP_LATEST_WINS) {
                if (!m->lost)
                        m->lost = rudp_lost_push(r, fr->channel, m->message_id);
                if (m->outstanding > 0)
                        m->outstanding--;
                if (m->outstanding == 0 && m->sent == m->len) {
                        m->done = true;
                        rudp_send_channel_pop_done(r, c);
                }
                return;
        }
        bool was_empty = rudp_ranges_empty(&m->resend);
        m->copy_pending = false; /* a real loss from now on */
        /* A message the peer most likely rebuilt from MSG_PARITY goes again in turn, not early. */
        m->missing = rudp_is_urgent(r, fr->channel) && !m->parity_safe;
        if (rudp_ranges_add(&m->resend, fr->off, (uint64_t) fr->off + fr->len) < 0) {
                /* Too fragmented: send the whole message again (acked bytes are skipped). */
                rudp_ranges_done(&m->resend);
                m->resend = (RudpRanges) RUDP_RANGES_INIT(RUDP_MSG_RANGES_MAX);
                if (rudp_ranges_add(&m->resend, 0, m->len) < 0)
                        return;
        }
        if (was_empty)
                c->resend_msgs++;
}

/* Whether the peer has message m of c: acknowledged, or popped once done. */
static bool msg_acked(const SendMsg *m) {
        return !m || m->done || rudp_ranges_covers(&m->acked, 0, m->len);
}

/* An acknowledged MSG_PARITY over two messages: once one of them is acknowledged as well, the
 * peer could rebuild the other. A hint only (the peer keeps a bounded history of messages and
 * frames), so that other one is not sent again ahead of pacing; loss detection still resends it. */
static void parity_acked(Rudp *r, const SentPacket *p) {
        for (unsigned i = 0; i < p->nparity; i++) {
                SendMsg *m0 = rudp_send_find(r, p->msg_par[i].channel, p->msg_par[i].start);
                SendMsg *m1 = rudp_send_find(r, p->msg_par[i].channel, p->msg_par[i].start + p->msg_par[i].len0);
                if (m0 && !m0->done && msg_acked(m1))
                        m0->parity_safe = true;
                if (m1 && !m1->done && msg_acked(m0))
                        m1->parity_safe = true;
        }
}

static void recv_prune(Rudp *r, uint64_t largest) {
        /* The peer has an ACK up to largest: ranges well below it need not be repeated. */
        uint64_t floor = largest > 16 ? largest - 16 : 0;
        if (floor <= r->recv_floor)
                return;
        r->recv_floor = floor;
        rudp_ranges_remove_below(&r->recv_pns, floor);
}

static void on_lost(Rudp *r, SentPacket *p, RudpRateSample *rs) {
        p->state = SENT_DONE;
        if (p->ack_eliciting)
                r->inflight -= p->size;
        r->stats.packets_lost++;
        /* STARTUP overfills the bottleneck on purpose: its drops say nothing about the link's
         * random loss, and on a slow link they would steer FEC for half a minute. */
        if (!p->startup) {
                r->win_lost++;
                r->win_sent_resolved++;
        }
        if (rs) {
                rs->newly_lost += p->size;
                rs->lost_packets++;
        }
        for (unsigned i = 0; i < p->nfrags; i++)
                if (!p->urgent_resent || !rudp_is_urgent(r, p->frags[i].channel))
                        frag_lost(r, &p->frags[i]); /* else its copy is out, with its own loss detection */
        if (p->credit)
                for (unsigned i = 0; i < r->cfg.channels; i++)
                        if (r->recv[i].used && r->recv[i].cls != RUDP_LATEST_WINS && r->recv[i].limit > RUDP_INITIAL_CREDIT)
                                r->recv[i].credit_pending = true;
        if (p->close)
                r->close_pending = true;
}

static void detect_losses(Rudp *r, uint64_t now, RudpRateSample *rs) {
        r->loss_time = 0;
        if (r->largest_acked == 0)
                return;
        uint64_t largest = r->largest_acked - 1;
        uint64_t rtt = r->have_rtt ? MAX(r->latest_rtt, r->smoothed_rtt) : r->cfg.initial_rtt_usec;
        uint64_t delay = MAX(rtt * 9 / 8, (uint64_t) RUDP_GRANULARITY);
        for (uint64_t n = r->sent_base; n < largest && n < r->next_number; n++) {
                SentPacket *p = rudp_sent_get(r, n);
                uint64_t ref, sent, until = 0;
                if (!p || p->state != SENT_IN_FLIGHT)
                        continue;
                if (p->urgent) {
                        /* A later packet arrived, not this one: its urgent bytes go again now. */
                        bool queued = true;
                        for (unsigned i = 0; i < p->nfrags; i++)
                                if (rudp_is_urgent(r, p->frags[i].channel))
                                        queued &= rudp_send_urgent_again(r, &p->frags[i]);
                        p->urgent = false;
                        p->urgent_resent = queued;
                }
                if (!loss_reference(r, p, now, &ref, &sent, &until)) {
                        if (r->loss_time == 0 || until < r->loss_time)
                                r->loss_time = until;
                        continue;
                }
                if (ref > largest)
                        continue;
                if (largest >= ref + RUDP_PACKET_THRESHOLD || sent + delay <= now)
                        on_lost(r, p, rs);
                else if (r->loss_time == 0 || sent + delay < r->loss_time)
                        r->loss_time = sent + delay;
        }
        advance_base(r);
}

void rudp_detect_losses(Rudp *r, uint64_t now) {
        detect_losses(r, now, NULL);
}

static void update_rtt(Rudp *r, uint64_t latest, uint64_t ack_delay) {
        r->latest_rtt = latest;
        if (!r->have_rtt) {
                r->have_rtt = true;
                r->min_rtt = r->smoothed_rtt = latest;
                r->rttvar = latest / 2;
                return;
        }
        r->min_rtt = MIN(r->min_rtt, latest);
        ack_delay = MIN(ack_delay, (uint64_t) RUDP_MAX_ACK_DELAY);
        uint64_t adjusted = latest >= r->min_rtt + ack_delay ? latest - ack_delay : latest;
        uint64_t diff = r->smoothed_rtt > adjusted ? r->smoothed_rtt - adjusted : adjusted - r->smoothed_rtt;
        r->rttvar = (3 * r->rttvar + diff) / 4;
        r->smoothed_rtt = (7 * r->smoothed_rtt + adjusted) / 8;
}

static void update_loss_rate(Rudp *r) {
        if (r->win_sent_resolved < LOSS_WINDOW)
                return;
        double sample = (double) (r->win_lost + r->win_recovered) / (double) r->win_sent_resolved;
        sample = MIN(sample, 1.0);
        r->loss_rate = r->loss_samples++ == 0 ? sample : 0.875 * r->loss_rate + 0.125 * sample;
        r->win_sent_resolved = r->win_lost = r->win_recovered = 0;
        if (r->cfg.fec == RUDP_FEC_AUTO) {
                /* Hysteresis: once on, FEC stays on down to 0.3% loss, so a quiet spell on a
                 * lossy link does not switch it off and on. */
                double loss = r->loss_rate;
                if (r->fec_k > 0 && loss >= 0.003)
                        loss = MAX(loss, 0.005);
                rudp_fec_choose(loss, r->cfg.max_fec_k, &r->fec_k, &r->fec_m);
                rudp_fec_encoder_set_shape(r->fec_enc, r->fec_k, r->fec_m);
        }
}

int rudp_on_ack_frame(Rudp *r, const RudpFrame *f, uint64_t now) {
        RudpAckRange ranges[RUDP_ACK_RANGES_MAX];
        int n = rudp_ack_decode(f, ranges, RUDP_ACK_RANGES_MAX);
        if (n < 0)
                return -EPROTO;
        if (ranges[0].hi >= r->next_number)
                return -EPROTO; /* acknowledges a packet never sent */

        RudpRateSample rs = {};
        bool have_sample = false, eliciting_acked = false;
        uint64_t send_elapsed = 0, ack_elapsed = 0;
        SentPacket *largest = NULL;
        SentPacket *with_parity[16];
        size_t nwith_parity = 0;
        /* When the newest packet acknowledged reached the peer (in our clock, shifted by the
         * constant return path): a delayed ACK would otherwise make the delivery rate look
         * higher than the path's. */
        uint64_t ack_time = now - MIN(MIN(f->ack.delay, (uint64_t) RUDP_MAX_ACK_DELAY), now);
        ack_time = MAX(ack_time, r->delivered_time);
        uint64_t prev_largest = r->largest_acked;

        for (int i = 0; i < n; i++) {
                uint64_t lo = MAX(ranges[i].lo, r->sent_base), hi = ranges[i].hi;
                for (uint64_t pn = hi + 1; pn-- > lo;) {
                        SentPacket *p = rudp_sent_get(r, pn);
                        if (!p || p->state != SENT_IN_FLIGHT)
                                continue;
                        if (pn == ranges[0].hi)
                                largest = p;
                        p->state = SENT_DONE;
                        r->inflight -= p->size;
                        /* A hole filled late (FEC recovered it, or the path reordered it) used
                         * the bottleneck before this interval: counting it would inflate the
                         * rate sample, so only packets above the previous largest count. */
                        if (pn + 1 > prev_largest)
                                r->delivered += p->size;
                        r->delivered_time = ack_time;
                        r->win_sent_resolved++;
                        rs.newly_acked += p->size;
                        rs.acked_packets++;
                        eliciting_acked = true;
                        if (!have_sample || p->delivered > rs.prior_delivered ||
                            (p->delivered == rs.prior_delivered && p->time_sent > r->first_sent_time)) {
                                have_sample = true;
                                rs.prior_delivered = p->delivered;
                                rs.app_limited = p->app_limited;
                                send_elapsed = p->time_sent - p->first_sent_time;
                                ack_elapsed = ack_time - p->delivered_time;
                                r->first_sent_time = p->time_sent;
                        }
                        for (unsigned k = 0; k < p->nfrags; k++)
                                frag_acked(r, &p->frags[k]);
                        if (p->nparity > 0 && nwith_parity < ELEMENTSOF(with_parity))
                                with_parity[nwith_parity++] = p;
                        if (p->ack_largest)
                                recv_prune(r, p->ack_largest - 1);
                }
        }
        /* After every fragment of the ACK: a parity's partner may be acknowledged below it. */
        for (size_t i = 0; i < nwith_parity; i++)
                parity_acked(r, with_parity[i]);
        if (ranges[0].hi + 1 > r->largest_acked)
                r->largest_acked = ranges[0].hi + 1;
        if (largest && largest->ack_eliciting) {
                update_rtt(r, now - largest->time_sent, f->ack.delay);
                rs.rtt_usec = r->latest_rtt;
        }
        if (f->ack.recovered > r->peer_recovered) {
                r->win_recovered += f->ack.recovered - r->peer_recovered;
                r->peer_recovered = f->ack.recovered;
        }
        r->stats.fec_peer_recovered = r->peer_recovered;
        if (eliciting_acked)
                r->pto_count = 0;

        detect_losses(r, now, &rs);

        if (have_sample) {
                rs.delivered = r->delivered - rs.prior_delivered;
                rs.interval_usec = MAX(send_elapsed, ack_elapsed);
                /* Shorter than a round trip: the acks were compressed, the rate would lie. */
                if (r->have_rtt && rs.interval_usec < r->min_rtt)
                        rs.interval_usec = 0;
        }
        if (r->app_limited_until && r->delivered > r->app_limited_until)
                r->app_limited_until = 0;
        if (have_sample || rs.newly_lost)
                rudp_bbr_on_ack(&r->bbr, &rs, r->delivered, r->inflight, now);
        update_loss_rate(r);
        return 0;
}

void rudp_recovery_timeout(Rudp *r, uint64_t now) {
        if (r->loss_time && now >= r->loss_time) {
                RudpRateSample rs = {};
                detect_losses(r, now, &rs);
                if (rs.newly_lost)
                        rudp_bbr_on_ack(&r->bbr, &rs, r->delivered, r->inflight, now);
                update_loss_rate(r);
                return;
        }
        if (r->loss_time == 0 && now >= rudp_pto_time(r)) {
                r->pto_count++;
                r->stats.pto_count++;
                r->probes_pending = 2;
                /* The probes are due now, whatever the pacing said. */
                r->last_ack_eliciting_time = now;
                if (r->close_sent)
                        r->close_pending = true;
                if (r->pto_count >= RUDP_PERSISTENT_PTO)
                        rudp_bbr_on_persistent_congestion(&r->bbr);
        }
}
