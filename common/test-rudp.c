/* rudp end to end on a simulated link (rudp-sim.h: virtual time, seeded): every delivery class
 * under loss, bursts and reordering, FEC recovery and its adaptation, the congestion controller's
 * goodput, queue and estimates, flow control and bounds, bad input. */
#include "check.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "rudp-internal.h"
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

static uint32_t urgent_channels; /* for the next endpoints */

static Rudp *endpoint(bool server, RudpFecMode fec, unsigned k, unsigned m) {
        RudpConfig cfg;
        Rudp *r = NULL;
        rudp_config_init(&cfg);
        cfg.urgent_channels = urgent_channels;
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

/* Urgent channels: on a lossy link their fragments go twice, yet every message arrives once and
 * in order; on a clean link nothing is copied. */
static void test_urgent(void) {
        urgent_channels = (1u << 1) | (1u << 2);
        SimLinkConfig lossy = link_cfg(10000000, 20 * MS, 0.05), clean = link_cfg(10000000, 20 * MS, 0);
        lossy.reorder = 0.02;
        lossy.reorder_usec = 2 * MS;
        /* Long enough to leave STARTUP: only then is the loss measured (and copies made). */
        RunResult r = run_messages(RUDP_RELIABLE_ORDERED, 20000, 200, &lossy, &lossy, RUDP_FEC_AUTO, 0, 0, 11, 120 * SEC);
        /* b's few messages may all go before it has measured the loss. Messages of up to 200 bytes
         * sent whole: a chain of MSG_PARITY frames, copies where it breaks. */
        check(r.a.urgent_copies > 0 && r.a.urgent_parity > 0 && r.b.parity_rebuilt > 0);
        printf("urgent at 5%% loss: %llu copies, %llu parity frames (%llu messages rebuilt), %llu retransmits, %llu packets lost\n",
               (unsigned long long) r.a.urgent_copies, (unsigned long long) r.a.urgent_parity,
               (unsigned long long) r.b.parity_rebuilt, (unsigned long long) r.a.retransmits,
               (unsigned long long) r.a.packets_lost);
        r = run_messages(RUDP_RELIABLE_ORDERED, 3000, 200, &clean, &clean, RUDP_FEC_AUTO, 0, 0, 12, 120 * SEC);
        check(r.a.urgent_copies == 0 && r.b.urgent_copies == 0 && r.a.urgent_parity == 0 && r.b.urgent_parity == 0);
        urgent_channels = 0;
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
        double wire_rtt = (double) rtt + 2.0 * RUDP_DATAGRAM_MAX * 8 * SEC / (double) rate;
        /* Several seeds: the margins are the algorithm's, not one lucky draw. */
        for (uint64_t seed = 11; seed < 41; seed += 10) {
                BulkResult r = run_bulk(rate, rtt, 0.01, seed);
                check(r.goodput >= 0.90);
                /* The standing queue stays small, the model matches the link. */
                check(r.queue_avg_ms <= 0.25 * (double) rtt / MS);
                check(r.a.min_rtt_usec >= rtt && (double) r.a.min_rtt_usec <= 1.1 * wire_rtt);
                check((double) r.a.bandwidth * 8 >= 0.85 * (double) rate && (double) r.a.bandwidth * 8 <= 1.15 * (double) rate);

                r = run_bulk(rate, rtt, 0.05, seed + 1);
                check(r.goodput >= 0.80);
                check(r.queue_avg_ms <= 0.25 * (double) rtt / MS);
                check((double) r.a.bandwidth * 8 >= 0.85 * (double) rate && (double) r.a.bandwidth * 8 <= 1.15 * (double) rate);
        }
}

/* Drops chosen data packets of chosen FEC groups: bit i of mask[group] drops index i. */
static bool drop_fec(const uint8_t *d, size_t len, void *userdata) {
        const uint64_t *mask = userdata;
        RudpHeader h;
        if (rudp_header_parse(d, len, &h) < 0 || !h.protected || h.fec_group >= 8)
                return false;
        return mask[h.fec_group] & (UINT64_C(1) << h.fec_index);
}

static void test_fec_recovery(void) {
        /* k = 4, m = 2: one loss, two losses (= m) are rebuilt; three are not and are sent again. */
        static uint64_t mask[8] = { 1u << 1, (1u << 0) | (1u << 3), (1u << 0) | (1u << 1) | (1u << 2) };
        SimLinkConfig l = link_cfg(10000000, 10 * MS, 0);
        l.drop = drop_fec;
        l.drop_userdata = mask;
        SimLinkConfig back = link_cfg(10000000, 10 * MS, 0);
        RunResult r = run_messages(RUDP_RELIABLE_ORDERED, 40, 3000, &l, &back, RUDP_FEC_FIXED, 4, 2, 5, 30 * SEC);
        printf("fec k=4 m=2: recovered %llu, lost %llu, retransmits %llu, parity sent %llu\n",
               (unsigned long long) r.b.fec_recovered, (unsigned long long) r.a.packets_lost,
               (unsigned long long) r.a.retransmits, (unsigned long long) r.a.fec_parity_sent);
        check(r.b.fec_recovered == 3 && r.a.fec_peer_recovered == 3);
        check(r.a.packets_lost == 3 && r.a.retransmits >= 3);
        check(r.a.fec_parity_sent >= 2 * 3);

        /* Latest-wins: what FEC rebuilds is delivered, not reported lost. */
        static uint64_t one[8] = { 1u << 2, 1u << 0, 1u << 3, 1u << 1 };
        l.drop_userdata = one;
        r = run_messages(RUDP_LATEST_WINS, 40, 3000, &l, &back, RUDP_FEC_FIXED, 4, 1, 6, 30 * SEC);
        check(r.b.fec_recovered == 4 && r.a.latest_wins_lost == 0 && r.a.packets_lost == 0);
}

/* A smaller datagram budget (the DTLS layer's, after its record overhead): every packet, parity
 * included, fits in it. */
static void test_small_datagrams(void) {
        Rudp *a = endpoint(false, RUDP_FEC_FIXED, 3, 2), *b = endpoint(true, RUDP_FEC_FIXED, 3, 2);
        static uint8_t msg[20000];
        uint8_t d[RUDP_DATAGRAM_MAX];
        const size_t budget = 1100;
        for (uint32_t i = 0; i < 20; i++) {
                fill(msg, i, sizeof msg);
                check(rudp_send(a, 0, RUDP_RELIABLE_ORDERED, i, msg, sizeof msg) == 0);
        }
        uint32_t got = 0;
        for (uint64_t now = 0; now < 20 * SEC && got < 20; now += 100) {
                ssize_t n;
                unsigned k = 0;
                /* Every third datagram from a is lost: FEC and retransmission both work. */
                while ((n = rudp_next_datagram(a, d, budget, now)) > 0) {
                        check((size_t) n <= budget);
                        if (k++ % 3 != 1)
                                check(rudp_receive_datagram(b, d, (size_t) n, now + 50) == 0);
                }
                check(n == 0);
                while ((n = rudp_next_datagram(b, d, budget, now)) > 0)
                        check(rudp_receive_datagram(a, d, (size_t) n, now + 50) == 0);
                check(n == 0);
                rudp_on_timeout(a, now);
                rudp_on_timeout(b, now);
                RudpMessage m;
                while (rudp_read(b, &m) > 0) {
                        check(m.message_id == got && m.len == sizeof msg);
                        for (size_t i = 0; i < m.len; i++)
                                check(m.data[i] == content(m.message_id, i));
                        got++;
                }
        }
        check(got == 20);
        RudpStats st;
        rudp_stats(a, &st);
        check(st.fec_parity_sent > 0);
        rudp_free(a);
        rudp_free(b);
}

/* Display-like traffic: a latest-wins message of two datagrams every 50 ms, each burst closing its
 * FEC group early. Parity stays the shape's share of the packets (3/32, not one a burst); every
 * message is delivered or reported lost, never both. */
static void test_fec_bursts(void) {
        Rudp *a = endpoint(false, RUDP_FEC_FIXED, 32, 3), *b = endpoint(true, RUDP_FEC_FIXED, 32, 3);
        enum { BURSTS = 256 };
        static uint8_t msg[2000], got[BURSTS], lost[BURSTS];
        uint8_t d[RUDP_DATAGRAM_MAX];
        unsigned sent = 0, delivered = 0, reported = 0, datagrams = 0;
        for (uint64_t now = 0; now < (BURSTS + 40) * 50 * MS; now += 500) {
                if (sent < BURSTS && now >= sent * 50 * MS) {
                        fill(msg, sent, sizeof msg);
                        check(rudp_send(a, 1, RUDP_LATEST_WINS, sent, msg, sizeof msg) == 0);
                        sent++;
                }
                ssize_t n;
                /* One datagram in eleven from a is lost (parity ones too). */
                while ((n = rudp_next_datagram(a, d, sizeof d, now)) > 0)
                        if (datagrams++ % 11 != 5)
                                check(rudp_receive_datagram(b, d, (size_t) n, now + 20 * MS) == 0);
                check(n == 0);
                while ((n = rudp_next_datagram(b, d, sizeof d, now)) > 0)
                        check(rudp_receive_datagram(a, d, (size_t) n, now + 20 * MS) == 0);
                check(n == 0);
                rudp_on_timeout(a, now);
                rudp_on_timeout(b, now);
                RudpMessage m;
                while (rudp_read(b, &m) > 0) {
                        check(m.message_id < sent && !got[m.message_id] && m.len == sizeof msg);
                        got[m.message_id] = 1;
                        delivered++;
                }
                uint8_t ch;
                uint32_t id;
                while (rudp_lost_latest_wins(a, &ch, &id) > 0) {
                        check(ch == 1 && id < sent && !lost[id]);
                        lost[id] = 1;
                        reported++;
                }
        }
        RudpStats sa, sb;
        rudp_stats(a, &sa);
        rudp_stats(b, &sb);
        printf("fec bursts: %u delivered, %u reported lost, parity %llu for %u messages, recovered %llu\n", delivered,
               reported, (unsigned long long) sa.fec_parity_sent, BURSTS, (unsigned long long) sb.fec_recovered);
        check(delivered + reported == BURSTS);
        for (unsigned i = 0; i < BURSTS; i++)
                check(!(got[i] && lost[i]));
        /* 512 data packets: 48 parity as full groups would carry (one a burst: 256). */
        check(sa.fec_parity_sent >= 44 && sa.fec_parity_sent <= 50);
        check(sb.fec_recovered > 0 && reported > 0);
        rudp_free(a);
        rudp_free(b);
}

/* AUTO: no parity on a clean link, parity growing with the loss, and only over latest-wins data
 * (reliable data is repaired by ARQ). */
static void test_fec_adapt(void) {
        static const double losses[] = { 0, 0.02, 0.10 };
        unsigned prev_m = 0;
        for (size_t i = 0; i < ELEMENTSOF(losses); i++) {
                /* A bottleneck, so that STARTUP ends: only then is the loss measured. */
                SimLinkConfig l = link_cfg(20000000, 20 * MS, losses[i]);
                SimLinkConfig back = link_cfg(20000000, 20 * MS, 0);
                RunResult r = run_messages(RUDP_LATEST_WINS, 6000, 2000, &l, &back, RUDP_FEC_AUTO, 0, 0, 20 + i, 60 * SEC);
                printf("fec auto at %.0f%% loss: measured %.2f%%, k %u m %u, parity %llu, recovered %llu, retransmits %llu\n",
                       losses[i] * 100, r.a.loss_rate * 100, r.a.fec_k, r.a.fec_m, (unsigned long long) r.a.fec_parity_sent,
                       (unsigned long long) r.b.fec_recovered, (unsigned long long) r.a.retransmits);
                if (losses[i] == 0) {
                        check(r.a.fec_k == 0 && r.a.fec_parity_sent == 0);
                        continue;
                }
                check(r.a.fec_k > 0 && r.a.fec_m > prev_m && r.b.fec_recovered > 0);
                check(r.a.loss_rate > losses[i] / 2 && r.a.loss_rate < losses[i] * 2);
                prev_m = r.a.fec_m;
        }
        SimLinkConfig l = link_cfg(20000000, 20 * MS, 0.10), back = link_cfg(20000000, 20 * MS, 0);
        RunResult r = run_messages(RUDP_RELIABLE_UNORDERED, 6000, 2000, &l, &back, RUDP_FEC_AUTO, 0, 0, 30, 60 * SEC);
        printf("fec auto, reliable at 10%% loss: measured %.2f%%, parity %llu, retransmits %llu\n", r.a.loss_rate * 100,
               (unsigned long long) r.a.fec_parity_sent, (unsigned long long) r.a.retransmits);
        check(r.a.loss_rate > 0.05 && r.a.fec_parity_sent == 0 && r.a.retransmits > 0);
}

/* A 100-byte urgent message every 20 ms on channel 0 beside a bulk transfer on channel 1. */
typedef struct UrgentFlow {
        Rudp *a, *b;
        uint32_t bulk_id, small_id;
        uint64_t next_small;
} UrgentFlow;

/* Two endpoints with urgent channel 0 (into flow) over a symmetric link of rate (bit/s) and
 * one-way delay, the a->b direction watched (or cut) by drop, the app driven with k. */
static Sim *urgent_sim(uint64_t rate, uint64_t delay, bool (*drop)(const uint8_t *, size_t, void *), SimApp app,
                       void *k, UrgentFlow *flow, uint64_t seed) {
        urgent_channels = 1u << 0;
        flow->a = endpoint(false, RUDP_FEC_AUTO, 0, 0);
        flow->b = endpoint(true, RUDP_FEC_AUTO, 0, 0);
        SimLinkConfig l = link_cfg(rate, delay, 0), back = link_cfg(rate, delay, 0);
        l.drop = drop;
        l.drop_userdata = k;
        Sim *s = NULL;
        check(sim_new(flow->a, flow->b, &l, &back, seed, &s) == 0);
        sim_set_app(s, app, k);
        return s;
}

static void slow_message(uint8_t small[100], uint32_t id);

/* Sends the urgent message when due (its id in *ret_sent, else UINT32_MAX) and tops up the bulk. */
static void urgent_flow_feed(Sim *s, UrgentFlow *f, uint64_t now, uint32_t *ret_sent) {
        static uint8_t chunk[16384], small[100];
        *ret_sent = UINT32_MAX;
        if (now >= f->next_small) {
                slow_message(small, f->small_id);
                if (rudp_send(f->a, 0, RUDP_RELIABLE_ORDERED, f->small_id, small, sizeof small) == 0)
                        *ret_sent = f->small_id++;
                f->next_small = now + 20 * MS;
        }
        sim_wake(s, f->next_small);
        while (rudp_send_room(f->a) >= 4 * sizeof chunk)
                check(rudp_send(f->a, 1, RUDP_RELIABLE_ORDERED, f->bulk_id++, chunk, sizeof chunk) == 0);
}

typedef struct SlowLink {
        UrgentFlow flow;
        bool measuring;
        size_t max_len;
        uint64_t datagrams, small_datagrams; /* small: below half a full one */
        uint64_t small_got;
        bool dropped;                  /* the packet carrying urgent message SLOW_DROP_ID was lost */
        uint64_t drop_sent, drop_got;  /* when that message was queued and read */
} SlowLink;

#define SLOW_DROP_ID 300 /* 6 s in, past STARTUP */

static void slow_message(uint8_t msg[100], uint32_t id) {
        memset(msg, 0xa5, 100);
        memcpy(msg, &id, sizeof id);
}

static bool slow_link_watch(const uint8_t *d, size_t len, void *userdata) {
        SlowLink *k = userdata;
        uint8_t msg[100];
        slow_message(msg, SLOW_DROP_ID);
        for (size_t i = 0; !k->dropped && i + sizeof msg <= len; i++)
                if (memcmp(d + i, msg, sizeof msg) == 0)
                        return (k->dropped = true);
        if (k->measuring) {
                k->max_len = MAX(k->max_len, len);
                k->datagrams++;
                k->small_datagrams += len < RUDP_DATAGRAM_MAX / 2;
        }
        return false;
}

static void slow_link_app(Sim *s, void *userdata) {
        SlowLink *k = userdata;
        uint64_t now = sim_now(s);
        uint32_t sent;
        urgent_flow_feed(s, &k->flow, now, &sent);
        if (sent == SLOW_DROP_ID)
                k->drop_sent = now;
        RudpMessage m;
        while (rudp_read(k->flow.b, &m) > 0)
                if (m.channel == 0) {
                        k->small_got++;
                        if (m.message_id == SLOW_DROP_ID)
                                k->drop_got = now;
                }
}

/* A slow link carrying bulk data and an urgent message every 20 ms: datagrams stay full size
 * (headers would eat the link) and no urgent message takes a packet of its own; every urgent
 * message arrives; one whose packet is lost goes again as soon as a later packet is
 * acknowledged, in a small packet ahead of pacing. */
static void test_slow_link_datagrams(void) {
        SlowLink k = {};
        Sim *s = urgent_sim(256000, 50 * MS, slow_link_watch, slow_link_app, &k, &k.flow, 40);
        Rudp *a = k.flow.a, *b = k.flow.b;
        sim_run(s, 5 * SEC);
        k.measuring = true;
        sim_run(s, 15 * SEC);
        printf("256 kbit/s with urgent messages: %llu datagrams, %llu below %u bytes, largest %zu; %llu urgent delivered "
               "of %u sent; the one whose packet was lost took %.1f ms (virtual)\n", (unsigned long long) k.datagrams,
               (unsigned long long) k.small_datagrams, RUDP_DATAGRAM_MAX / 2, k.max_len, (unsigned long long) k.small_got,
               k.flow.small_id, (double) (k.drop_got - k.drop_sent) / MS);
        check(k.max_len == RUDP_DATAGRAM_MAX);
        check(k.small_datagrams == 1); /* the lost urgent message's second go, ahead of pacing */
        check(k.small_got > 400 && k.small_got + 10 >= k.flow.small_id); /* all but those still in flight */
        /* Queued at t, its packet leaves by t + 37.5 ms (the pacing slot) and is lost; the next
         * one reaches b by t + 112.5 + 50, its ACK a 50 ms later; the message goes again at once
         * in a small packet behind at most the one on the wire: 37.5 + 9.4 + 50 ms more, 309.4 in
         * all. Waiting for a full packet's slot would add up to 65.6 ms. */
        check(k.dropped && k.drop_got > k.drop_sent);
        check(k.drop_got - k.drop_sent <= 310 * MS);
        sim_free(s);
        rudp_free(a);
        rudp_free(b);
        urgent_channels = 0;
}

/* wan4's link (1 Mbit/s, 200 ms RTT) with a bulk transfer and an urgent 100-byte message every 20
 * ms, a deterministic 4% of the datagrams lost. Message PARITY_BOTH_ID loses both its own packet
 * and the next one (which carries the parity of it and the message before: a second copy would
 * have gone there): it is rebuilt from the parity of it and the next message. Message
 * PARITY_ONE_ID loses only its own packet: rebuilt from the parity with the one before. Both
 * are read within a round trip of being queued, when no retransmission could have arrived yet
 * (the sender learns of the loss a round trip after sending; the message then takes one way),
 * and, told by MSG_REBUILT, the sender does not send them again. */
#define PARITY_BOTH_ID 400 /* 8 s in: past STARTUP, the loss measured */
#define PARITY_ONE_ID 450

typedef struct ParityLink {
        UrgentFlow flow;
        uint64_t datagrams;
        bool lost_own[2], lost_parity; /* [0]: PARITY_BOTH_ID's packet, [1]: PARITY_ONE_ID's */
        unsigned again[2];             /* their bytes sent again */
        uint64_t sent[2], got[2];
        uint32_t small_got;
} ParityLink;

static bool parity_near(uint64_t id) {
        return (id + 3 >= PARITY_BOTH_ID && id <= PARITY_BOTH_ID + 3) || (id + 3 >= PARITY_ONE_ID && id <= PARITY_ONE_ID + 3);
}

static bool parity_link_drop(const uint8_t *d, size_t len, void *userdata) {
        ParityLink *k = userdata;
        static const uint64_t target[2] = { PARITY_BOTH_ID, PARITY_ONE_ID };
        RudpHeader h;
        int n = rudp_header_parse(d, len, &h);
        check(n > 0);
        bool near = false, drop = false;
        for (size_t pos = (size_t) n; pos < len;) {
                RudpFrame f;
                int m = rudp_frame_parse(d + pos, len - pos, &f);
                check(m > 0);
                pos += (size_t) m;
                if (f.type == RUDP_FRAME_STREAM && f.stream.channel == 0) {
                        uint64_t id = f.stream.start / 100;
                        near |= parity_near(id);
                        for (int i = 0; i < 2; i++) {
                                if (id == target[i] && k->lost_own[i])
                                        k->again[i]++;
                                if (id == target[i] && !k->lost_own[i])
                                        drop = k->lost_own[i] = true;
                        }
                } else if (f.type == RUDP_FRAME_MSG_PARITY && f.msg_parity.channel == 0) {
                        uint64_t id = f.msg_parity.start / 100;
                        near |= parity_near(id) || parity_near(id + 1);
                        if (id + 1 == PARITY_BOTH_ID && !k->lost_parity)
                                drop = k->lost_parity = true;
                }
        }
        if (drop)
                return true;
        return !near && ++k->datagrams % 25 == 0;
}

static void parity_link_app(Sim *s, void *userdata) {
        ParityLink *k = userdata;
        static const uint32_t target[2] = { PARITY_BOTH_ID, PARITY_ONE_ID };
        uint8_t small[100];
        uint64_t now = sim_now(s);
        uint32_t sent;
        urgent_flow_feed(s, &k->flow, now, &sent);
        for (int i = 0; i < 2; i++)
                if (sent == target[i])
                        k->sent[i] = now;
        RudpMessage m;
        while (rudp_read(k->flow.b, &m) > 0) {
                if (m.channel != 0)
                        continue;
                /* Every one, in order, with its own bytes (a rebuilt one too). */
                slow_message(small, k->small_got);
                check(m.message_id == k->small_got && m.len == sizeof small && memcmp(m.data, small, sizeof small) == 0);
                k->small_got++;
                for (int i = 0; i < 2; i++)
                        if (m.message_id == target[i])
                                k->got[i] = now;
        }
}

static void test_urgent_parity(void) {
        ParityLink k = {};
        Sim *s = urgent_sim(1000000, 100 * MS, parity_link_drop, parity_link_app, &k, &k.flow, 41);
        Rudp *a = k.flow.a, *b = k.flow.b;
        sim_run(s, 12 * SEC);
        RudpStats sa, sb;
        rudp_stats(a, &sa);
        rudp_stats(b, &sb);
        printf("urgent parity at 1 Mbit/s, 200 ms: loss %.2f%%, %llu parity frames, %llu copies, %llu rebuilt; message "
               "%u (own packet and the next lost) read after %.1f ms, %u (own packet lost) after %.1f ms (virtual); "
               "sent again %u and %u times\n",
               sa.loss_rate * 100, (unsigned long long) sa.urgent_parity, (unsigned long long) sa.urgent_copies,
               (unsigned long long) sb.parity_rebuilt, PARITY_BOTH_ID, (double) (k.got[0] - k.sent[0]) / MS,
               PARITY_ONE_ID, (double) (k.got[1] - k.sent[1]) / MS, k.again[0], k.again[1]);
        check(k.lost_own[0] && k.lost_parity && k.lost_own[1]);
        check(sb.parity_rebuilt >= 2);
        for (int i = 0; i < 2; i++)
                check(k.got[i] > k.sent[i] && k.got[i] - k.sent[i] < 200 * MS);
        /* The receiver said so (MSG_REBUILT): the one rebuilt from its own parity is not sent again.
         * (The other went again ahead of pacing when the ACK of the next message's packet showed
         * its own and its parity's lost, before the frame that rebuilt it arrived.) */
        check(k.again[1] == 0);
        check(k.small_got > 500 && k.small_got + 15 >= k.flow.small_id); /* all but those in flight */
        sim_free(s);
        rudp_free(a);
        rudp_free(b);
        urgent_channels = 0;
}

static void test_bad_input(void) {
        Rudp *a = endpoint(false, RUDP_FEC_OFF, 0, 0), *b = endpoint(true, RUDP_FEC_OFF, 0, 0);
        uint8_t d[RUDP_DATAGRAM_MAX + 100];
        RudpStats st;
        uint64_t state = 99;
        /* Garbage of every size, another connection's packets: dropped and counted, nothing else. */
        for (int i = 0; i < 5000; i++) {
                size_t len = (size_t) (i % (sizeof d));
                for (size_t j = 0; j < len; j++) {
                        state = state * 6364136223846793005ull + 1442695040888963407ull;
                        d[j] = (uint8_t) (state >> 56);
                }
                if (len > 0 && i % 2)
                        d[0] = (uint8_t) (0x40 | (d[0] & 1));
                check(rudp_receive_datagram(b, d, len, 1000) == 0);
        }
        RudpWriter w = { d, RUDP_DATAGRAM_MAX, 0 };
        RudpHeader h = { .connection = 0xbad, .number = 1 };
        check(rudp_header_write(&w, &h) == 0 && rudp_frame_write_simple(&w, RUDP_FRAME_PING) == 0);
        check(rudp_receive_datagram(b, d, w.len, 1000) == 0);
        /* Without an id (id 0) to a connection that has one. */
        w.len = 0;
        h = (RudpHeader) { .number = 1 };
        check(rudp_header_write(&w, &h) == 0 && rudp_frame_write_simple(&w, RUDP_FRAME_PING) == 0);
        check(rudp_receive_datagram(b, d, w.len, 1000) == 0);
        rudp_stats(b, &st);
        check(st.packets_received == 0 && st.packets_dropped == 5002);

        /* The connection still works. */
        SimLinkConfig l = link_cfg(0, 5 * MS, 0);
        Sim *s = NULL;
        check(rudp_send(a, 0, RUDP_RELIABLE_ORDERED, 7, "hello", 5) == 0);
        check(sim_new(a, b, &l, &l, 1, &s) == 0);
        sim_run(s, 100 * MS);
        RudpMessage m;
        check(rudp_read(b, &m) == 1 && m.message_id == 7 && m.len == 5 && memcmp(m.data, "hello", 5) == 0);
        check(rudp_read(b, &m) == 0);
        sim_free(s);

        /* A duplicate is dropped. */
        w.len = 0;
        h = (RudpHeader) { .connection = 0xc0ffee, .number = 1000 };
        check(rudp_header_write(&w, &h) == 0 && rudp_frame_write_stream(&w, 3, RUDP_RELIABLE_ORDERED, 1, 0, 2, 0, "ab", 2) == 0);
        check(rudp_receive_datagram(b, d, w.len, 200 * MS) == 0);
        check(rudp_receive_datagram(b, d, w.len, 200 * MS) == 0);
        check(rudp_read(b, &m) == 1 && m.len == 2 && rudp_read(b, &m) == 0);

        /* Protocol errors close the connection: data past the credit... */
        w.len = 0;
        h.number++;
        check(rudp_header_write(&w, &h) == 0 &&
              rudp_frame_write_stream(&w, 4, RUDP_RELIABLE_ORDERED, 1, 3u << 20, 2, 0, "ab", 2) == 0);
        check(rudp_receive_datagram(b, d, w.len, 200 * MS) == -EPROTO);
        check(rudp_is_closed(b) && rudp_receive_datagram(b, d, w.len, 200 * MS) == -EPROTO);
        check(rudp_next_datagram(b, d, sizeof d, 200 * MS) == -EPROTO);
        rudp_free(b);

        /* ...an ACK of a packet never sent, a channel past the configured ones, a class change. */
        static const int cases = 3;
        for (int c = 0; c < cases; c++) {
                b = endpoint(true, RUDP_FEC_OFF, 0, 0);
                w.len = 0;
                h.number = 5;
                check(rudp_header_write(&w, &h) == 0);
                if (c == 0) {
                        RudpAckRange ack = { 0, 10 };
                        check(rudp_frame_write_ack(&w, &ack, 1, 0, 0) == 1);
                } else if (c == 1)
                        check(rudp_frame_write_stream(&w, 200, RUDP_LATEST_WINS, 1, 0, 2, 0, "ab", 2) == 0);
                else {
                        check(rudp_frame_write_stream(&w, 1, RUDP_LATEST_WINS, 1, 0, 2, 0, "ab", 2) == 0);
                        check(rudp_frame_write_stream(&w, 1, RUDP_RELIABLE_ORDERED, 1, 2, 2, 0, "ab", 2) == 0);
                }
                check(rudp_receive_datagram(b, d, w.len, 1000) == -EPROTO);
                rudp_free(b);
        }

        /* CLOSE: the peer learns it, sends fail afterwards. */
        b = endpoint(true, RUDP_FEC_OFF, 0, 0);
        check(sim_new(a, b, &l, &l, 2, &s) == 0);
        rudp_close(a, 42);
        check(rudp_send(a, 0, RUDP_RELIABLE_ORDERED, 1, "x", 1) == -EPIPE);
        sim_run(s, 2 * SEC);
        check(rudp_is_closed(b) && rudp_send(b, 0, RUDP_RELIABLE_ORDERED, 1, "x", 1) == -EPIPE);
        sim_free(s);
        rudp_free(a);
        rudp_free(b);
        check(!rudp_free(NULL));
}

typedef struct Stall {
        Rudp *a, *b;
        uint32_t id;
        bool reading;
        size_t max_buffered;
} Stall;

static void stall_app(Sim *s, void *userdata) {
        Stall *k = userdata;
        static uint8_t chunk[100000];
        while (rudp_send(k->a, 2, RUDP_RELIABLE_UNORDERED, k->id, chunk, sizeof chunk) == 0)
                k->id++;
        k->max_buffered = MAX(k->max_buffered, k->b->recv[2].buffered);
        RudpMessage m;
        while (k->reading && rudp_read(k->b, &m) > 0)
                ;
}

/* Bytes a sender with plenty to send lets go at one instant. */
static uint64_t burst_at(Rudp *r, uint64_t now) {
        uint8_t d[RUDP_DATAGRAM_MAX];
        uint64_t bytes = 0;
        ssize_t n;
        while ((n = rudp_next_datagram(r, d, sizeof d, now)) > 0)
                bytes += (uint64_t) n;
        return bytes;
}

/* Pacing on a fast link: a wake-up catches up one send quantum, no more; the quantum is
 * RUDP_PACE_BURST_MIN_NS of the pacing rate for an owner that wakes on time, grows when its
 * wake-ups come late (else each sends less than the rate and the rate estimate follows it down)
 * and shrinks again when they are on time; the window lets one quantum fly beyond the model's.
 * On a slow link a quantum is two packets and the window is the model's alone. */
static void test_pacing_quantum(void) {
        static uint8_t chunk[65536];
        Rudp *a = endpoint(false, RUDP_FEC_OFF, 0, 0);
        for (int i = 0; i < 4; i++)
                check(rudp_send(a, 1, RUDP_RELIABLE_ORDERED, (uint32_t) i, chunk, sizeof chunk) == 0);
        a->bbr.pacing_rate = 125000000; /* a gigabit: 125 bytes a microsecond */
        a->bbr.cwnd = 1u << 20;
        uint64_t q = rudp_send_quantum(a);
        check(q == 125000000ull * RUDP_PACE_BURST_MIN_NS / 1000000000);
        check(rudp_cwnd_allowance(a) == q);

        /* Long idle: one quantum at once (the last packet may pass it), then the rate. */
        uint64_t now = 10 * SEC, first = burst_at(a, now);
        check(first + RUDP_DATAGRAM_MAX >= q && first <= q + RUDP_DATAGRAM_MAX);
        check(burst_at(a, now) == 0);
        now += 40;
        uint64_t next = burst_at(a, now);
        check(next + RUDP_DATAGRAM_MAX >= 40 * 125 && next <= 40 * 125 + RUDP_DATAGRAM_MAX);
        check(rudp_send_quantum(a) == q); /* 40 us late at most: still the smallest */

        /* Woken 600 us late: a larger quantum, all of it sent at once. */
        now += 600;
        uint64_t late = burst_at(a, now), q_late = rudp_send_quantum(a);
        check(q_late > 3 * q && q_late <= 125ull * RUDP_PACE_BURST_MAX_NS / 1000);
        check(late + RUDP_DATAGRAM_MAX >= q_late && late <= q_late + RUDP_DATAGRAM_MAX);
        check(rudp_cwnd_allowance(a) == q_late);

        /* Woken on time (every 10 us, one packet's time) for a while: back to the smallest. */
        for (int i = 0; i < 120; i++) {
                now += 10;
                check(burst_at(a, now) <= 2 * RUDP_DATAGRAM_MAX);
        }
        check(rudp_send_quantum(a) == q);

        a->bbr.pacing_rate = 5000000 / 8;
        check(rudp_send_quantum(a) <= 2 * RUDP_MSS);
        check(rudp_cwnd_allowance(a) == 0);
        rudp_free(a);
}

/* An owner passing an older time than before (hostd's timers run on the event loop's cached
 * time): the connection's clock stays where it was, and an ACK dated before its packet left is
 * no RTT sample of ~2^64 us. */
static void test_clock_back(void) {
        Rudp *a = endpoint(false, RUDP_FEC_OFF, 0, 0), *b = endpoint(true, RUDP_FEC_OFF, 0, 0);
        uint8_t d[1500];
        check(rudp_send(a, 0, RUDP_RELIABLE_ORDERED, 1, "hello", 5) == 0);
        ssize_t n = rudp_next_datagram(a, d, sizeof d, 1 * SEC);
        check(n > 0);
        check(rudp_receive_datagram(b, d, (size_t) n, 1 * SEC + 50 * MS) == 0);
        n = 0;
        for (uint64_t t = 1 * SEC + 50 * MS; n == 0 && t < 2 * SEC; t += MS)
                n = rudp_next_datagram(b, d, sizeof d, t);
        check(n > 0);
        check(rudp_receive_datagram(a, d, (size_t) n, 900 * MS) == 0);
        RudpStats st;
        rudp_stats(a, &st);
        check(st.latest_rtt_usec < SEC && st.min_rtt_usec < SEC && st.smoothed_rtt_usec < SEC);
        check(rudp_next_timeout(a) >= 1 * SEC);
        rudp_free(a);
        rudp_free(b);
}

static void test_bounds(void) {
        Rudp *a = endpoint(false, RUDP_FEC_OFF, 0, 0), *b = endpoint(true, RUDP_FEC_OFF, 0, 0);
        static uint8_t big[(1u << 20) + 1];
        check(rudp_send(a, 8, RUDP_RELIABLE_ORDERED, 1, "x", 1) == -EINVAL);
        check(rudp_send(a, 0, RUDP_RELIABLE_ORDERED, 1, "x", 0) == -EINVAL);
        check(rudp_send(a, 0, RUDP_RELIABLE_ORDERED, 1, big, sizeof big) == -EMSGSIZE);
        check(rudp_send(a, 0, RUDP_RELIABLE_ORDERED, 1, "x", 1) == 0);
        check(rudp_send(a, 0, RUDP_LATEST_WINS, 1, "x", 1) == -EINVAL);
        while (rudp_send_room(a) >= sizeof big - 1)
                check(rudp_send(a, 1, RUDP_RELIABLE_ORDERED, 1, big, sizeof big - 1) == 0);
        check(rudp_send(a, 1, RUDP_RELIABLE_ORDERED, 1, big, sizeof big - 1) == -ENOBUFS);
        rudp_free(a);

        RudpConfig bad;
        Rudp *r = (Rudp *) 0x1;
        rudp_config_init(&bad);
        bad.channels = 0;
        check(rudp_new(&bad, false, 0, &r) == -EINVAL && r == (Rudp *) 0x1);
        rudp_config_init(&bad);
        bad.max_message = bad.recv_window + 1;
        check(rudp_new(&bad, false, 0, &r) == -EINVAL);

        /* A receiver that does not read: the sender stops at its credit, the receiver holds at
         * most its window (and one message past it); reading again lets everything through. */
        a = endpoint(false, RUDP_FEC_OFF, 0, 0);
        Stall k = { .a = a, .b = b };
        SimLinkConfig l = link_cfg(50000000, 5 * MS, 0.01);
        Sim *s = NULL;
        check(sim_new(a, b, &l, &l, 9, &s) == 0);
        sim_set_app(s, stall_app, &k);
        sim_run(s, 5 * SEC);
        check(k.max_buffered <= b->cfg.recv_window + b->cfg.max_message);
        check(k.max_buffered >= b->cfg.recv_window / 2);
        check(rudp_queued(a, 2) > 0);
        uint32_t stalled_at = k.id;
        k.reading = true;
        sim_run(s, 10 * SEC);
        check(k.id > stalled_at + 100);
        sim_free(s);
        rudp_free(a);
        rudp_free(b);
}

int main(int argc, char **argv) {
        const char *only = argc > 1 ? argv[1] : NULL;
        setvbuf(stdout, NULL, _IOLBF, 0);
#define RUN(name) if (!only || strcmp(only, #name) == 0) name()
        RUN(test_clean);
        RUN(test_reliable_lossy);
        RUN(test_urgent);
        RUN(test_latest_wins);
        RUN(test_congestion);
        RUN(test_fec_recovery);
        RUN(test_fec_adapt);
        RUN(test_small_datagrams);
        RUN(test_fec_bursts);
        RUN(test_slow_link_datagrams);
        RUN(test_urgent_parity);
        RUN(test_bad_input);
        RUN(test_clock_back);
        RUN(test_bounds);
        RUN(test_pacing_quantum);
        return 0;
}
