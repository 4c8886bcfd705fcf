/* The link emulator's scheduler on a fake clock: delay, jitter, Bernoulli and Gilbert-Elliott
 * loss, reordering, duplication, the rate limit and its queue bound, cut, UDP blackholing, and
 * one outcome per seed. Rates are checked against their expectation with tolerances of about
 * four standard deviations (the PRNG is seeded, so a pass is also reproducible). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "linkemu-link.h"

#define MS 1000000ull
#define US 1000ull

static uint8_t tcp_pkt[1000], udp_pkt[1000], udp6_pkt[200];

static void make_packets(void) {
        tcp_pkt[0] = 0x45;
        tcp_pkt[9] = 6;
        udp_pkt[0] = 0x45;
        udp_pkt[9] = 17;
        udp6_pkt[0] = 0x60;
        udp6_pkt[6] = 17;
}

/* Submits n packets of len bytes every gap_ns from t0 and delivers all of them; returns how
 * many came out and fills dues[] (in delivery order) when given. */
static size_t run(Link *l, size_t n, size_t len, uint64_t gap_ns, uint64_t *dues, uint64_t *seqs) {
        uint64_t t = 1000 * MS, out = 0, prev = 0;
        for (size_t i = 0; i <= n; i++, t += gap_ns) {
                if (i < n)
                        check(link_submit(l, t, tcp_pkt, len, NULL) >= 0);
                LinkPacket *pkt;
                while ((pkt = link_pop_due(l, i < n ? t : UINT64_MAX))) {
                        check(pkt->due_ns >= prev);
                        prev = pkt->due_ns;
                        if (dues)
                                dues[out] = pkt->due_ns;
                        if (seqs)
                                seqs[out] = pkt->seq;
                        link_count_out(l, pkt->len);
                        out++;
                        free(pkt);
                }
        }
        check(l->stats.dropped[LINK_DROP_OVERFLOW] == 0);
        return out;
}

static void check_near(const char *what, double got, double want, double tol) {
        printf("  %-28s %10.4f (want %.4f +- %.4f)\n", what, got, want, tol);
        check(fabs(got - want) <= tol);
}

static void test_delay(void) {
        _cleanup_(link_freep) Link *l = link_new(1);
        l->params.delay_ns = 30 * MS;
        check(link_submit(l, 5 * MS, tcp_pkt, 100, NULL) == 1);
        uint64_t due;
        check(link_next_due(l, &due) && due == 35 * MS);
        check(!link_pop_due(l, 35 * MS - 1));
        LinkPacket *pkt = link_pop_due(l, 35 * MS);
        check(pkt && pkt->len == 100 && memcmp(pkt->data, tcp_pkt, 100) == 0);
        free(pkt);
        check(!link_next_due(l, &due));
        printf("delay: exact\n");
}

static void test_jitter(bool reorder) {
        enum { N = 20000 };
        _cleanup_(link_freep) Link *l = link_new(2);
        static uint64_t dues[N * 2], seqs[N * 2];
        l->params.delay_ns = 50 * MS;
        l->params.jitter_ns = 10 * MS;
        l->params.jitter_reorder = reorder;
        check(run(l, N, 100, 1 * MS, dues, seqs) == N);

        /* delivery minus arrival, per packet: arrivals are 1 ms apart from 1 s */
        double sum = 0, lo = 1e18, hi = 0;
        size_t inversions = 0;
        for (size_t i = 0; i < N; i++) {
                double d = (double) (dues[i] - (1000 * MS + seqs[i] * MS));
                sum += d;
                lo = fmin(lo, d);
                hi = fmax(hi, d);
                if (i > 0 && seqs[i] < seqs[i - 1])
                        inversions++;
        }
        printf("jitter (reorder %s): delay %.2f..%.2f ms, %zu inversions\n", reorder ? "on" : "off",
               lo / MS, hi / MS, inversions);
        check(lo >= 40.0 * MS);
        if (reorder) {
                /* uniform +-10 ms with packets 1 ms apart: most packets overtake or get overtaken */
                check(hi <= 60.0 * MS);
                check_near("mean delay (ms)", sum / N / MS, 50, 0.2);
                check(inversions > N / 4);
        } else {
                /* in order: a packet waits for the latest one before it, so the mean rises */
                check(inversions == 0);
                check(sum / N > 50.0 * MS && hi <= 60.0 * MS);
        }
}

static void test_loss(void) {
        enum { N = 40000 };
        _cleanup_(link_freep) Link *l = link_new(3);
        l->params.loss = 0.05;
        size_t out = run(l, N, 100, 1 * MS, NULL, NULL);
        printf("loss:\n");
        check_near("Bernoulli loss 5%", 1.0 - (double) out / N, 0.05, 0.0045);
        check(l->stats.dropped[LINK_DROP_LOSS] == N - out);
        check(l->stats.in_packets == N && l->stats.out_packets == out);
}

static void test_burst(void) {
        enum { N = 200000 };
        _cleanup_(link_freep) Link *l = link_new(4);
        l->params.burst_p = 0.01;
        l->params.burst_r = 0.25;
        l->params.burst_loss = 1.0;
        /* Record the pattern of losses through the drop reason of each packet. */
        size_t lost = 0, runs = 0;
        bool prev = false;
        for (size_t i = 0; i < N; i++) {
                LinkDrop why = _LINK_DROP_MAX;
                int r = link_submit(l, i * MS, tcp_pkt, 100, &why);
                check(r >= 0);
                bool d = r == 0;
                check(!d || why == LINK_DROP_BURST);
                free(link_pop_due(l, UINT64_MAX));
                lost += d;
                runs += d && !prev;
                prev = d;
        }
        printf("Gilbert-Elliott p=1%% r=25%%:\n");
        /* stationary bad share p/(p+r); bad runs last 1/r packets on average */
        check_near("loss rate", (double) lost / N, 0.01 / 0.26, 0.004);
        check_near("mean burst length", (double) lost / runs, 4.0, 0.25);
}

static void test_reorder_duplicate(void) {
        enum { N = 20000 };
        static uint64_t seqs[N * 2];
        _cleanup_(link_freep) Link *l = link_new(5);
        l->params.delay_ns = 10 * MS;
        l->params.reorder = 0.02;
        l->params.reorder_delay_ns = 5 * MS;
        l->params.duplicate = 0.01;
        size_t out = run(l, N, 100, 1 * MS, NULL, seqs);
        printf("reorder 2%%, duplicate 1%%:\n");
        check_near("held back", (double) l->stats.reordered / N, 0.02, 0.004);
        check_near("duplicated", (double) l->stats.duplicated / N, 0.01, 0.003);
        check(out == N + l->stats.duplicated);
        size_t inversions = 0;
        for (size_t i = 1; i < out; i++)
                inversions += seqs[i] < seqs[i - 1];
        /* a packet held 5 ms with arrivals 1 ms apart is overtaken by the next five */
        check(inversions == l->stats.reordered);
}

static void test_rate(void) {
        enum { N = 2000 };
        static uint64_t dues[N];
        _cleanup_(link_freep) Link *l = link_new(6);
        /* 1 Mbit/s, 1000-byte packets offered at 8 Mbit/s, a 10000-byte queue */
        l->params.rate_bps = 1000000;
        l->params.queue_bytes = 10000;
        l->params.queue_ns = 0; /* the bound in bytes, not the default in time */
        l->params.delay_ns = 20 * MS;
        uint64_t t0 = 1000 * MS, max_backlog = 0;
        size_t out = 0;
        for (size_t i = 0; i < N; i++) {
                uint64_t now = t0 + i * MS;
                check(link_submit(l, now, tcp_pkt, 1000, NULL) >= 0);
                max_backlog = MAX(max_backlog, link_backlog_bytes(l, now));
                LinkPacket *pkt;
                while ((pkt = link_pop_due(l, now))) {
                        dues[out++] = pkt->due_ns;
                        free(pkt);
                }
        }
        LinkPacket *pkt;
        while ((pkt = link_pop_due(l, UINT64_MAX))) {
                dues[out++] = pkt->due_ns;
                free(pkt);
        }
        printf("rate 1 Mbit/s, queue 10000 bytes, offered 8 Mbit/s:\n");
        double secs = (double) (dues[out - 1] - dues[0]) / 1e9;
        check_near("delivered Mbit/s", (double) (out - 1) * 8000 / secs / 1e6, 1.0, 0.001);
        for (size_t i = 1; i < out; i++)
                check(dues[i] - dues[i - 1] >= 8 * MS); /* never faster than the rate */
        printf("  max backlog %llu bytes, %llu queue drops\n", (unsigned long long) max_backlog,
               (unsigned long long) l->stats.dropped[LINK_DROP_QUEUE]);
        check(max_backlog <= 10000);
        check(l->stats.dropped[LINK_DROP_QUEUE] == N - out);
        /* first packet: serialization (8 ms) plus delay */
        check(dues[0] == t0 + 8 * MS + 20 * MS);

        /* the bound as time: 50 ms at 1 Mbit/s is 6250 bytes */
        l->params.queue_ns = 50 * MS;
        check(link_queue_limit(&l->params) == 6250);
        /* an empty queue takes a packet larger than its bound */
        l->params.queue_bytes = 10;
        l->params.queue_ns = 0;
        check(link_submit(l, 100000 * MS, tcp_pkt, 1000, NULL) == 1);
        check(link_submit(l, 100000 * MS, tcp_pkt, 1000, NULL) == 0);
}

static void test_cut_blackhole(void) {
        _cleanup_(link_freep) Link *l = link_new(7);
        l->params.delay_ns = 10 * MS;
        check(link_submit(l, 0, tcp_pkt, 100, NULL) == 1);
        link_set_cut(l, true);
        check(l->stats.dropped[LINK_DROP_CUT] == 1);
        check(!link_pop_due(l, UINT64_MAX));
        LinkDrop why;
        check(link_submit(l, 0, tcp_pkt, 100, &why) == 0 && why == LINK_DROP_CUT);
        link_set_cut(l, false);
        check(link_submit(l, 0, tcp_pkt, 100, NULL) == 1);

        l->params.udp_blackhole = true;
        check(link_submit(l, 0, udp_pkt, 100, &why) == 0 && why == LINK_DROP_UDP);
        check(link_submit(l, 0, udp6_pkt, 100, &why) == 0 && why == LINK_DROP_UDP);
        check(link_submit(l, 0, tcp_pkt, 100, NULL) == 1);
        check(!packet_is_udp(udp_pkt, 19) && !packet_is_udp(udp6_pkt, 39) && !packet_is_udp(udp_pkt, 0));
        check(link_submit(l, 0, tcp_pkt, LINK_PACKET_SIZE_MAX + 1, NULL) == -EMSGSIZE);
        printf("cut, restore, UDP blackhole: ok\n");
}

/* The outcome (which packets, when) as a hash, for one seed. */
static uint64_t outcome(uint64_t seed) {
        _cleanup_(link_freep) Link *l = link_new(seed);
        l->params = (LinkParams) { .delay_ns = 20 * MS, .jitter_ns = 3 * MS, .loss = 0.05,
                                   .burst_p = 0.01, .burst_r = 0.3, .burst_loss = 1, .reorder = 0.01,
                                   .reorder_delay_ns = 2 * MS, .duplicate = 0.01,
                                   .rate_bps = 2000000, .queue_bytes = 20000 };
        uint64_t h = 0xcbf29ce484222325ull;
        for (size_t i = 0; i < 5000; i++) {
                check(link_submit(l, i * 300 * US, tcp_pkt, 100 + i % 900, NULL) >= 0);
                LinkPacket *pkt;
                while ((pkt = link_pop_due(l, i * 300 * US))) {
                        h = (h ^ pkt->seq) * 0x100000001b3ull;
                        h = (h ^ pkt->due_ns) * 0x100000001b3ull;
                        free(pkt);
                }
        }
        return h;
}

static void test_determinism(void) {
        check(outcome(42) == outcome(42));
        check(outcome(42) != outcome(43));
        printf("determinism: one outcome per seed\n");
}

int main(void) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        make_packets();
        test_delay();
        test_jitter(false);
        test_jitter(true);
        test_loss();
        test_burst();
        test_reorder_duplicate();
        test_rate();
        test_cut_blackhole();
        test_determinism();
        return 0;
}
