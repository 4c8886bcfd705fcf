/* rudp: lifecycle, configuration, timers, reading and the statistics (see rudp.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "rudp-internal.h"

void rudp_config_init(RudpConfig *cfg) {
        *cfg = (RudpConfig) {
                .channels = 8,
                .max_message = 1u << 20,
                .send_buffer = 8u << 20,
                .recv_window = 2u << 20,
                .latest_wins_buffer = 4u << 20,
                .initial_rtt_usec = 100000,
                .latest_wins_timeout_usec = 1000000,
                .fec = RUDP_FEC_AUTO,
                .max_fec_k = 32,
        };
}

static bool config_valid(const RudpConfig *c) {
        return c->channels >= 1 && c->channels <= RUDP_CHANNELS_MAX && c->max_message >= 1 &&
               c->max_message <= UINT32_MAX && c->max_message <= c->recv_window &&
               c->recv_window >= RUDP_INITIAL_CREDIT && c->max_message <= c->send_buffer &&
               c->max_message <= c->latest_wins_buffer && c->initial_rtt_usec > 0 &&
               c->latest_wins_timeout_usec > 0 && (unsigned) c->fec <= RUDP_FEC_FIXED &&
               (c->fec != RUDP_FEC_FIXED || (c->fec_k >= 1 && c->fec_k <= RUDP_FEC_K_MAX && c->fec_m >= 1 &&
                                             c->fec_m <= RUDP_FEC_M_MAX)) &&
               c->max_fec_k <= RUDP_FEC_K_MAX;
}

int rudp_new(const RudpConfig *cfg, bool server, uint64_t now_usec, Rudp **ret) {
        if (!config_valid(cfg))
                return -EINVAL;
        _cleanup_(rudp_freep) Rudp *r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->cfg = *cfg;
        r->server = server;
        r->now = now_usec;
        r->send = calloc(cfg->channels, sizeof(*r->send));
        r->recv = calloc(cfg->channels, sizeof(*r->recv));
        if (!r->send || !r->recv)
                return -ENOMEM;
        for (unsigned i = 0; i < cfg->channels; i++) {
                r->send[i].credit = RUDP_INITIAL_CREDIT;
                r->recv[i].delivered = (RudpRanges) RUDP_RANGES_INIT(RUDP_DELIVERED_RANGES_MAX);
                r->recv[i].consumed = (RudpRanges) RUDP_RANGES_INIT(RUDP_DELIVERED_RANGES_MAX);
        }
        r->recv_pns = (RudpRanges) RUDP_RANGES_INIT(RUDP_RECV_RANGES);
        int k = rudp_fec_encoder_new(&r->fec_enc);
        if (k < 0)
                return k;
        k = rudp_fec_decoder_new(&r->fec_dec);
        if (k < 0)
                return k;
        if (cfg->fec == RUDP_FEC_FIXED) {
                r->fec_k = cfg->fec_k;
                r->fec_m = cfg->fec_m;
                rudp_fec_encoder_set_shape(r->fec_enc, cfg->fec_k, cfg->fec_m);
        }
        rudp_bbr_init(&r->bbr, cfg->initial_rtt_usec, cfg->connection_id ^ (server ? 0x5bd1e995u : 0x9e3779b9u), now_usec);
        *ret = TAKE_PTR(r);
        return 0;
}

Rudp *rudp_free(Rudp *r) {
        if (!r)
                return NULL;
        for (unsigned i = 0; r->send && i < r->cfg.channels; i++) {
                SendChannel *c = &r->send[i];
                for (size_t j = 0; j < c->n; j++)
                        rudp_send_msg_free(r, NULL, c->q[c->head + j]);
                free(c->q);
                free(c->prev);
        }
        for (unsigned i = 0; r->recv && i < r->cfg.channels; i++) {
                RecvChannel *c = &r->recv[i];
                for (size_t j = 0; j < c->n; j++)
                        rudp_recv_msg_free(c->msgs[j]);
                free(c->msgs);
                free(c->parity);
                rudp_ranges_done(&c->delivered);
                rudp_ranges_done(&c->consumed);
        }
        while (r->ready_head) {
                RecvMsg *m = r->ready_head;
                r->ready_head = m->next_ready;
                rudp_recv_msg_free(m);
        }
        rudp_recv_msg_free(r->reading);
        free(r->send);
        free(r->recv);
        free(r->sent);
        free(r->lost);
        rudp_ranges_done(&r->recv_pns);
        rudp_fec_encoder_free(r->fec_enc);
        rudp_fec_decoder_free(r->fec_dec);
        free(r);
        return NULL;
}

int rudp_receive_datagram(Rudp *r, const uint8_t *dgram, size_t len, uint64_t now_usec) {
        if (r->broken)
                return -EPROTO;
        if (r->peer_closed)
                return -ECONNRESET;
        r->now = now_usec;
        int k = rudp_recv_packet(r, dgram, len, now_usec);
        if (k < 0 && k != -ECONNRESET && k != -ENOMEM)
                r->broken = true;
        return k == -ECONNRESET || k == -ENOMEM ? k : k < 0 ? -EPROTO : 0;
}

void rudp_on_timeout(Rudp *r, uint64_t now_usec) {
        r->now = now_usec;
        if (r->broken || r->peer_closed)
                return;
        rudp_recovery_timeout(r, now_usec);
        if (r->ack_deadline && now_usec >= r->ack_deadline)
                r->ack_now = true;
}

uint64_t rudp_next_timeout(const Rudp *r) {
        if (r->broken || r->peer_closed)
                return UINT64_MAX;
        uint64_t t = UINT64_MAX;
        if (r->loss_time)
                t = r->loss_time;
        else
                t = rudp_pto_time(r);
        if (r->ack_now || r->probes_pending)
                t = MIN(t, r->now);
        else if (r->ack_deadline)
                t = MIN(t, r->ack_deadline);
        /* Something to send once pacing and the window allow it. */
        bool content = r->close_pending || rudp_send_has_data(r) || rudp_fec_encoder_open(r->fec_enc, NULL) > 0;
        RudpFecParity par;
        content |= rudp_fec_encoder_peek(r->fec_enc, &par) > 0;
        for (unsigned i = 0; !content && i < r->cfg.channels; i++)
                content = r->recv[i].credit_pending;
        if (content && r->sent_base + RUDP_SENT_MAX > r->next_number &&
            r->inflight + RUDP_MSS <= r->bbr.cwnd + rudp_cwnd_allowance(r))
                t = MIN(t, MAX((r->pace_next_ns + 999) / 1000, r->now));
        return t;
}

int rudp_read(Rudp *r, RudpMessage *ret) {
        r->reading = (rudp_recv_msg_free(r->reading), NULL);
        RecvMsg *m = r->ready_head;
        if (!m)
                return 0;
        r->ready_head = m->next_ready;
        if (!r->ready_head)
                r->ready_tail = NULL;
        rudp_consumed(r, m);
        r->reading = m;
        *ret = (RudpMessage) {
                .channel = m->channel,
                .cls = m->cls,
                .message_id = m->message_id,
                .data = m->data,
                .len = m->len,
        };
        return 1;
}

int rudp_lost_latest_wins(Rudp *r, uint8_t *channel, uint32_t *message_id) {
        if (r->lost_n == 0)
                return 0;
        LostMsg l = r->lost[r->lost_head];
        r->lost_head = (r->lost_head + 1) % r->lost_cap;
        r->lost_n--;
        *channel = l.channel;
        *message_id = l.message_id;
        return 1;
}

void rudp_close(Rudp *r, uint64_t code) {
        if (r->closed)
                return;
        r->closed = true;
        r->close_pending = true;
        r->close_code = code;
}

bool rudp_is_closed(const Rudp *r) {
        return r->closed || r->peer_closed || r->broken;
}

void rudp_stats(const Rudp *r, RudpStats *ret) {
        RudpStats s = r->stats;
        s.bandwidth = r->bbr.max_bw;
        s.pacing_rate = r->bbr.pacing_rate;
        s.cwnd = r->bbr.cwnd;
        s.inflight = r->inflight;
        s.min_rtt_usec = r->have_rtt ? r->min_rtt : 0;
        s.smoothed_rtt_usec = r->have_rtt ? r->smoothed_rtt : 0;
        s.rttvar_usec = r->have_rtt ? r->rttvar : 0;
        s.latest_rtt_usec = r->have_rtt ? r->latest_rtt : 0;
        s.loss_rate = r->loss_rate;
        s.cc_state = r->bbr.state;
        s.fec_k = r->fec_k;
        s.fec_m = r->fec_m;
        *ret = s;
}
