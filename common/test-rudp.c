/* rudp end to end on a simulated link (rudp-sim.h: virtual time, seeded): every delivery class
 * under loss, bursts and reordering, FEC recovery and its adaptation, the congestion controller's
 * goodput, queue and estimates, flow control and bounds, bad input. */
#include "check.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "rudp-sim.h"

#define SEC 1000000ull
#define MS 1000ull

static uint32_t hash32(uint32_t x) {
        x ^= x >> 16;
        x *= 0x7feb352d;
        x ^= x >> 15;
        x *= 0x846ca68b;
        x ^= x >> 16;
        return x;
}

static uint8_t content(uint32_t id, size_t off) {
        return (uint8_t) hash32(id * 2654435761u + (uint32_t) off);
}

static void fill(uint8_t *p, uint32_t id, size_t len) {
        for (size_t i = 0; i < len; i++)
                p[i] = content(id, i);
}

static size_t size_of(uint32_t id, size_t max) {
        return 1 + hash32(id) % max;
}

/* One direction of messages: tx sends count messages on a channel, rx checks them. */
typedef struct Transfer {
        Rudp *tx, *rx;
        uint8_t channel;
        RudpClass cls;
        uint32_t count, sent, size_max;
        uint32_t next_expected;
        uint8_t *got, *lost;
        uint32_t delivered, lost_count, both;
} Transfer;

typedef struct Scenario {
        Transfer t[2];
        unsigned nt;
        bool done;
} Scenario;

static uint8_t scratch[1 << 20];

static void transfer_step(Sim *s, Transfer *t) {
        while (t->sent < t->count) {
                size_t len = size_of(t->sent, t->size_max);
                fill(scratch, t->sent, len);
                int r = rudp_send(t->tx, t->channel, t->cls, t->sent, scratch, len);
                if (r == -ENOBUFS)
                        break;
                check(r == 0);
                t->sent++;
        }
        uint8_t ch;
        uint32_t id;
        while (rudp_lost_latest_wins(t->tx, &ch, &id) > 0) {
                check(t->cls == RUDP_LATEST_WINS && ch == t->channel && id < t->sent);
                check(!t->lost[id]);
                t->lost[id] = 1;
                t->lost_count++;
                if (t->got[id])
                        t->both++;
        }
}

static void receive_step(Scenario *sc, Rudp *rx) {
        RudpMessage m;
        while (rudp_read(rx, &m) > 0) {
                Transfer *t = NULL;
                for (unsigned i = 0; i < sc->nt; i++)
                        if (sc->t[i].rx == rx && sc->t[i].channel == m.channel)
                                t = &sc->t[i];
                check(t && m.cls == t->cls && m.message_id < t->sent);
                check(m.len == size_of(m.message_id, t->size_max));
                for (size_t i = 0; i < m.len; i++)
                        check(m.data[i] == content(m.message_id, i));
                check(!t->got[m.message_id]);
                if (t->cls == RUDP_RELIABLE_ORDERED) {
                        check(m.message_id == t->next_expected);
                        t->next_expected++;
                }
                t->got[m.message_id] = 1;
                t->delivered++;
                if (t->lost[m.message_id])
                        t->both++;
        }
}

static void scenario_app(Sim *s, void *userdata) {
        Scenario *sc = userdata;
        bool done = true;
        for (unsigned i = 0; i < sc->nt; i++)
                transfer_step(s, &sc->t[i]);
        for (unsigned i = 0; i < sc->nt; i++)
                receive_step(sc, sc->t[i].rx);
        for (unsigned i = 0; i < sc->nt; i++) {
                Transfer *t = &sc->t[i];
                if (t->cls == RUDP_LATEST_WINS)
                        done &= t->sent == t->count && t->delivered + t->lost_count - t->both == t->count &&
                                rudp_queued(t->tx, t->channel) == 0;
                else
                        done &= t->delivered == t->count;
        }
        if (done) {
                sc->done = true;
                sim_stop(s);
        }
}

static SimLinkConfig link_cfg(uint64_t rate_bps, uint64_t delay, double loss) {
        return (SimLinkConfig) { .rate_bps = rate_bps, .delay_usec = delay, .loss = loss };
}

static Rudp *endpoint(bool server, RudpFecMode fec, unsigned k, unsigned m) {
        RudpConfig cfg;
        Rudp *r = NULL;
        rudp_config_init(&cfg);
        cfg.connection_id = 0xc0ffee;
        cfg.fec = fec;
        cfg.fec_k = k;
        cfg.fec_m = m;
        check(rudp_new(&cfg, server, 0, &r) == 0);
        return r;
}

typedef struct RunResult {
        RudpStats a, b;
        uint64_t end;
        SimLinkStats ab, ba;
} RunResult;

/* Messages both ways at once (a to b on channel 1, b to a on channel 2, same class). */
static RunResult run_messages(RudpClass cls, uint32_t count, uint32_t size_max, const SimLinkConfig *ab,
                              const SimLinkConfig *ba, RudpFecMode fec, unsigned k, unsigned m, uint64_t seed,
                              uint64_t limit) {
        Rudp *a = endpoint(false, fec, k, m), *b = endpoint(true, fec, k, m);
        Scenario sc = { .nt = 2 };
        sc.t[0] = (Transfer) { .tx = a, .rx = b, .channel = 1, .cls = cls, .count = count, .size_max = size_max };
        sc.t[1] = (Transfer) { .tx = b, .rx = a, .channel = 2, .cls = cls, .count = count / 4, .size_max = size_max };
        for (int i = 0; i < 2; i++) {
                sc.t[i].got = calloc(count, 1);
                sc.t[i].lost = calloc(count, 1);
        }
        Sim *s = NULL;
        check(sim_new(a, b, ab, ba, seed, &s) == 0);
        sim_set_app(s, scenario_app, &sc);
        sim_run(s, limit);
        RunResult res = { .end = sim_now(s), .ab = *sim_link_stats(s, 0), .ba = *sim_link_stats(s, 1) };
        rudp_stats(a, &res.a);
        rudp_stats(b, &res.b);
        if (!sc.done)
                fprintf(stderr, "not done at %llu ms: t0 %u/%u delivered, %u lost; t1 %u/%u delivered\n",
                        (unsigned long long) (res.end / MS), sc.t[0].delivered, sc.t[0].count,
                        sc.t[0].lost_count, sc.t[1].delivered, sc.t[1].count);
        if (!sc.done)
                for (int i = 0; i < 2; i++) {
                        RudpStats *st = i ? &res.b : &res.a;
                        fprintf(stderr, "%c: sent %llu recv %llu lost %llu drop %llu inflight %llu cwnd %llu pacing %llu bw %llu srtt %llu state %d pto %llu queued %zu\n",
                                'a' + i, (unsigned long long) st->packets_sent, (unsigned long long) st->packets_received,
                                (unsigned long long) st->packets_lost, (unsigned long long) st->packets_dropped,
                                (unsigned long long) st->inflight, (unsigned long long) st->cwnd,
                                (unsigned long long) st->pacing_rate, (unsigned long long) st->bandwidth,
                                (unsigned long long) st->smoothed_rtt_usec, st->cc_state,
                                (unsigned long long) st->pto_count, rudp_queued(i ? b : a, (uint8_t) (i + 1)));
                }
        check(sc.done);
        if (cls != RUDP_LATEST_WINS)
                for (int i = 0; i < 2; i++)
                        for (uint32_t j = 0; j < sc.t[i].count; j++)
                                check(sc.t[i].got[j] == 1);
        for (int i = 0; i < 2; i++) {
                free(sc.t[i].got);
                free(sc.t[i].lost);
        }
        sim_free(s);
        rudp_free(a);
        rudp_free(b);
        return res;
}

static void test_clean(void) {
        SimLinkConfig l = link_cfg(20000000, 10 * MS, 0);
        RunResult r = run_messages(RUDP_RELIABLE_ORDERED, 2000, 5000, &l, &l, RUDP_FEC_AUTO, 0, 0, 1, 60 * SEC);
        printf("clean: %llu ms, rtt min %llu us, bw %llu B/s, lost %llu (queue drops %llu), retransmits %llu, fec k %u\n",
               (unsigned long long) (r.end / MS), (unsigned long long) r.a.min_rtt_usec, (unsigned long long) r.a.bandwidth,
               (unsigned long long) r.a.packets_lost, (unsigned long long) r.ab.dropped_queue,
               (unsigned long long) r.a.retransmits, r.a.fec_k);
        /* Only what STARTUP's overshoot dropped at the bottleneck is lost. */
        check(r.a.packets_lost <= r.ab.dropped_queue && r.b.packets_lost <= r.ba.dropped_queue);

        /* Without a bottleneck queue to overflow: nothing lost at all. */
        l = link_cfg(0, 5 * MS, 0);
        r = run_messages(RUDP_RELIABLE_ORDERED, 500, 5000, &l, &l, RUDP_FEC_AUTO, 0, 0, 2, 60 * SEC);
        check(r.a.packets_lost == 0 && r.a.retransmits == 0 && r.b.packets_lost == 0);
        check(r.a.fec_k == 0 && r.a.fec_parity_sent == 0 && r.b.fec_parity_sent == 0);
}

static void test_reliable_lossy(void) {
        static const double losses[] = { 0, 0.01, 0.05, 0.10 };
        for (size_t i = 0; i < ELEMENTSOF(losses); i++)
                for (int cls = RUDP_RELIABLE_ORDERED; cls <= RUDP_RELIABLE_UNORDERED; cls++) {
                        SimLinkConfig l = link_cfg(10000000, 20 * MS, losses[i]);
                        l.reorder = 0.05;
                        l.reorder_usec = 3 * MS;
                        RunResult r = run_messages((RudpClass) cls, 1500, 3000, &l, &l, RUDP_FEC_AUTO, 0, 0,
                                                   100 + i, 120 * SEC);
                        if (losses[i] > 0)
                                check(r.a.retransmits > 0 || r.a.fec_peer_recovered > 0);
                        printf("%s loss %.0f%% + reordering: %llu ms, lost %llu, retransmits %llu, fec recovered %llu (k %u m %u)\n",
                               cls == RUDP_RELIABLE_ORDERED ? "ordered" : "unordered", losses[i] * 100,
                               (unsigned long long) (r.end / MS), (unsigned long long) r.a.packets_lost,
                               (unsigned long long) r.a.retransmits, (unsigned long long) r.b.fec_recovered,
                               r.a.fec_k, r.a.fec_m);
                }
        /* Bursts of losses. */
        SimLinkConfig l = link_cfg(10000000, 20 * MS, 0.05);
        l.burst = 4;
        run_messages(RUDP_RELIABLE_ORDERED, 1500, 3000, &l, &l, RUDP_FEC_AUTO, 0, 0, 7, 120 * SEC);
}

static void test_latest_wins(void) {
        SimLinkConfig l = link_cfg(10000000, 20 * MS, 0.05);
        l.reorder = 0.02;
        l.reorder_usec = 2 * MS;
        RunResult r = run_messages(RUDP_LATEST_WINS, 2000, 4000, &l, &l, RUDP_FEC_OFF, 0, 0, 3, 60 * SEC);
        /* Lost latest-wins data is reported, never sent again. */
        check(r.a.retransmits == 0 && r.b.retransmits == 0);
        check(r.a.latest_wins_lost > 0);
        printf("latest-wins 5%%: %llu lost reported, %llu packets lost\n", (unsigned long long) r.a.latest_wins_lost,
               (unsigned long long) r.a.packets_lost);
}

/* Bulk: a keeps its send buffer full of 64 KiB reliable messages; b reads and counts. */
typedef struct Bulk {
        Rudp *a, *b;
        uint32_t next_id;
        uint64_t bytes, window_start, window_bytes;
        bool measuring;
} Bulk;

static void bulk_app(Sim *s, void *userdata) {
        Bulk *k = userdata;
        static uint8_t chunk[65536];
        while (rudp_send_room(k->a) >= sizeof chunk)
                check(rudp_send(k->a, 1, RUDP_RELIABLE_ORDERED, k->next_id++, chunk, sizeof chunk) == 0);
        RudpMessage m;
        while (rudp_read(k->b, &m) > 0) {
                k->bytes += m.len;
                if (k->measuring)
                        k->window_bytes += m.len;
        }
}

typedef struct BulkResult {
        double goodput;     /* fraction of the link rate */
        double queue_avg_ms, queue_max_ms;
        RudpStats a;
} BulkResult;

static BulkResult run_bulk(uint64_t rate, uint64_t rtt, double loss, uint64_t seed) {
        Rudp *a = endpoint(false, RUDP_FEC_AUTO, 0, 0), *b = endpoint(true, RUDP_FEC_AUTO, 0, 0);
        SimLinkConfig l = link_cfg(rate, rtt / 2, loss);
        SimLinkConfig back = link_cfg(rate, rtt / 2, loss);
        Bulk k = { .a = a, .b = b };
        Sim *s = NULL;
        check(sim_new(a, b, &l, &back, seed, &s) == 0);
        sim_set_app(s, bulk_app, &k);
        uint64_t warm = 5 * SEC, span = 20 * SEC;
        sim_run(s, warm);
        sim_reset_link_stats(s);
        k.measuring = true;
        sim_run(s, warm + span);
        BulkResult res = {};
        res.goodput = (double) k.window_bytes * 8 / ((double) span / SEC) / (double) rate;
        const SimLinkStats *ls = sim_link_stats(s, 0);
        res.queue_avg_ms = ls->queue_samples ? (double) ls->queue_delay_sum / (double) ls->queue_samples / 1000 : 0;
        res.queue_max_ms = (double) ls->queue_delay_max / 1000;
        rudp_stats(a, &res.a);
        printf("bulk %.2f Mbps rtt %llu ms loss %.1f%%: goodput %.1f%%, queue avg %.1f ms max %.1f ms, "
               "min rtt %.1f ms, srtt %.1f ms, bw %.2f Mbps, pacing %.2f Mbps, cwnd %llu, loss %.2f%%, "
               "fec k %u m %u recovered %llu, retransmits %llu, queue drops %llu, state %d\n",
               (double) rate / 1e6, (unsigned long long) (rtt / MS), loss * 100, res.goodput * 100, res.queue_avg_ms,
               res.queue_max_ms, (double) res.a.min_rtt_usec / 1000, (double) res.a.smoothed_rtt_usec / 1000,
               (double) res.a.bandwidth * 8 / 1e6, (double) res.a.pacing_rate * 8 / 1e6,
               (unsigned long long) res.a.cwnd, res.a.loss_rate * 100, res.a.fec_k, res.a.fec_m,
               (unsigned long long) res.a.fec_peer_recovered, (unsigned long long) res.a.retransmits,
               (unsigned long long) ls->dropped_queue, res.a.cc_state);
        sim_free(s);
        rudp_free(a);
        rudp_free(b);
        return res;
}

static void test_congestion(void) {
        uint64_t rate = 5000000, rtt = 60 * MS;
        BulkResult r = run_bulk(rate, rtt, 0.01, 11);
        check(r.goodput >= 0.90);
        /* The standing queue stays small, the model matches the link. */
        check(r.queue_avg_ms <= 0.25 * (double) rtt / MS);
        double wire_rtt = (double) rtt + 2.0 * RUDP_DATAGRAM_MAX * 8 * SEC / (double) rate;
        check(r.a.min_rtt_usec >= rtt && (double) r.a.min_rtt_usec <= 1.1 * wire_rtt);
        check((double) r.a.bandwidth * 8 >= 0.85 * (double) rate && (double) r.a.bandwidth * 8 <= 1.15 * (double) rate);

        r = run_bulk(rate, rtt, 0.05, 12);
        check(r.goodput >= 0.80);
        check(r.queue_avg_ms <= 0.25 * (double) rtt / MS);
}

int main(int argc, char **argv) {
        const char *only = argc > 1 ? argv[1] : NULL;
        setvbuf(stdout, NULL, _IOLBF, 0);
#define RUN(name) if (!only || strcmp(only, #name) == 0) name()
        RUN(test_clean);
        RUN(test_reliable_lossy);
        RUN(test_latest_wins);
        RUN(test_congestion);
        return 0;
}
