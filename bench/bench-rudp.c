/* rudp on the simulated link (common/rudp-sim.h), for the WAN profiles Microsoft used for RemoteFX
 * and a clean LAN: bulk goodput as a fraction of the link rate, the latency of small messages sent
 * while the bulk runs, the queueing delay added at the bottleneck, and the transport's own view
 * (RTT and bandwidth estimates, loss, FEC, retransmissions).
 *
 * Every figure is in VIRTUAL time: a discrete-event simulation with a seeded generator, so the
 * figures are properties of the algorithms, the same on every machine and every run; wall-clock
 * time only says how fast the simulation ran.
 *
 *     bench-rudp [seconds measured, default 30] [seed, default 1] [overhead, default 57]
 *
 * overhead: bytes each datagram takes on the link beyond rudp's (IPv4 + UDP 28, DTLS 29).
 *
 * BENCH_RUDP_TAIL=1 also prints the small messages' latency tail (p95 up) on stderr,
 * BENCH_RUDP_LINK=1 how busy the link was and the datagrams' mean size; BENCH_RUDP_ONLY=TEXT runs
 * only the profiles whose name contains TEXT (the p99 of 1000 messages moves by tens of ms with
 * one unlucky loss: measure the slow profiles over a few hundred seconds and several seeds).
 * BENCH_RUDP_WIRE=1 also prints where the link's capacity went (a->b) on stderr: idle, per-datagram
 * overhead (IP/UDP/DTLS and rudp's header and frames), retransmitted and urgent-copy bytes.
 * BENCH_RUDP_TICK=USEC makes both ends wake late, by up to USEC (an owner's loop on a busy machine:
 * arrivals read in one go, pacing's catch-up sent in one burst); the figures then show what the
 * send quantum and the window allowance do to the queue on the LAN profiles.
 * BENCH_RUDP_URGENT=1 also traces every small message on the link (each datagram carrying its
 * bytes or its MSG_PARITY with the one before, lost or not) and prints on stderr why the late
 * ones (over the p99 target) were late: their own first two transmissions lost, ordered behind a
 * message that lost some, or neither (pacing, queue), with the measured rates; and the latency of
 * the messages no loss touched, the floor of what any redundancy could give.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "macro.h"
#include "parse-util.h"
#include "rudp-packet.h"
#include "rudp-sim.h"
#include "unaligned.h"

#define SEC 1000000ull
#define MS 1000ull
#define SMALL_EVERY (20 * MS)
#define SMALL_SIZE 100
#define LAT_MAX 100000

typedef struct Profile {
        const char *name;
        uint64_t rtt, rate_bps;
        double loss;
        uint64_t queue_usec; /* the bottleneck's buffer in time at the rate; 0: the sim's default */
} Profile;

static const Profile profiles[] = {
        { "60 ms, 5 Mbps, 1%", 60 * MS, 5000000, 0.01, 0 },
        { "250 ms, 3 Mbps, 1%", 250 * MS, 3000000, 0.01, 0 },
        { "100 ms, 256 kbps, 0.5%", 100 * MS, 256000, 0.005, 0 },
        { "200 ms, 1 Mbps, 5%", 200 * MS, 1000000, 0.05, 0 },
        { "LAN 1 ms, 1 Gbps, 0%", 1 * MS, 1000000000, 0, 0 },
        /* bench-transport's lan profile: tandem-linkemu's 2 ms buffer */
        { "LAN 0.2 ms, 1 Gbps, 0%", 200, 1000000000, 0, 2 * MS },
};

/* One small message's story (BENCH_RUDP_URGENT). */
typedef struct MsgTrace {
        uint64_t queued, first_tx, read; /* usec; 0: not yet */
        unsigned tx, lost, lost_first2;  /* datagrams carrying its bytes, lost ones, of the first two */
} MsgTrace;

typedef struct Run {
        Rudp *a, *b;
        Sim *sim;
        MsgTrace *trace;
        size_t ntrace;
        uint32_t bulk_id, small_id;
        uint64_t next_small;
        bool measuring;
        uint64_t bulk_bytes;
        uint64_t lat[LAT_MAX];
        size_t nlat;
} Run;

static void app(Sim *s, void *userdata) {
        Run *r = userdata;
        static uint8_t chunk[65536];
        uint64_t now = sim_now(s);
        if (now >= r->next_small) {
                uint8_t msg[SMALL_SIZE] = {};
                put_le64(msg, now);
                if (r->small_id < r->ntrace)
                        r->trace[r->small_id].queued = now;
                if (rudp_send(r->a, 0, RUDP_RELIABLE_ORDERED, r->small_id, msg, sizeof msg) == 0)
                        r->small_id++;
                r->next_small = now + SMALL_EVERY;
        }
        sim_wake(s, r->next_small);
        /* The bulk keeps some of the send buffer free for the small messages. */
        while (rudp_send_room(r->a) >= 4 * sizeof chunk)
                if (rudp_send(r->a, 1, RUDP_RELIABLE_ORDERED, r->bulk_id++, chunk, sizeof chunk) < 0)
                        break;
        RudpMessage m;
        while (rudp_read(r->b, &m) > 0) {
                if (m.channel == 0 && m.message_id < r->ntrace)
                        r->trace[m.message_id].read = now;
                if (!r->measuring)
                        continue;
                r->bulk_bytes += m.len;
                if (m.channel == 0 && m.len == SMALL_SIZE && r->nlat < LAT_MAX)
                        r->lat[r->nlat++] = now - get_le64(m.data);
        }
}

static int cmp_u64(const void *x, const void *y) {
        uint64_t a = *(const uint64_t *) x, b = *(const uint64_t *) y;
        return a < b ? -1 : a > b;
}

static void trace_datagram(const uint8_t *d, size_t len, bool lost, void *userdata) {
        Run *r = userdata;
        RudpHeader h;
        int n = rudp_header_parse(d, len, &h);
        if (n < 0)
                return;
        for (size_t pos = (size_t) n; pos < len;) {
                RudpFrame f;
                int k = rudp_frame_parse(d + pos, len - pos, &f);
                if (k <= 0)
                        return;
                pos += (size_t) k;
                /* A message's own MSG_PARITY (with the one before) counts as one of its transmissions. */
                uint64_t start = f.type == RUDP_FRAME_STREAM ? f.stream.start
                                 : f.msg_parity.start + f.msg_parity.length[0] * (f.msg_parity.count - 1u);
                if ((f.type != RUDP_FRAME_STREAM || f.stream.channel != 0) &&
                    (f.type != RUDP_FRAME_MSG_PARITY || f.msg_parity.channel != 0))
                        continue;
                if (start / SMALL_SIZE >= r->ntrace)
                        continue;
                MsgTrace *t = &r->trace[start / SMALL_SIZE];
                if (t->tx++ == 0)
                        t->first_tx = sim_now(r->sim);
                t->lost += lost;
                t->lost_first2 += lost && t->tx <= 2;
        }
}

/* Why the late small messages were late. */
static void trace_report(const Run *r, const Profile *p, uint64_t from) {
        uint64_t target = p->rtt / 2 + 50 * MS;
        size_t total = 0, double_lost = 0, single_only = 0, late = 0, late_double = 0, late_single = 0,
               late_behind = 0, late_other = 0;
        uint64_t other_wait_max = 0;
        /* The latency of messages no loss touched (none of theirs lost, none ordered before them
         * read with them): the floor of what redundancy could give. */
        uint64_t *clean = calloc(r->ntrace, sizeof(*clean));
        size_t nclean = 0;
        for (size_t i = 0; i < r->ntrace; i++) {
                const MsgTrace *t = &r->trace[i];
                if (t->queued < from || t->read == 0)
                        continue;
                total++;
                bool touched = t->lost > 0;
                for (size_t j = i; j-- > 0 && j + 64 > i && !touched;)
                        touched = r->trace[j].read + MS >= t->read && r->trace[j].lost > 0;
                if (!touched && clean)
                        clean[nclean++] = t->read - t->queued;
                bool dbl = t->lost_first2 >= 2 || (t->tx == t->lost && t->lost > 0);
                bool single = t->tx == 1 && t->lost == 1;
                double_lost += dbl;
                single_only += single;
                if (t->read - t->queued <= target)
                        continue;
                late++;
                if (dbl) {
                        late_double++;
                        late_single += single;
                        continue;
                }
                /* Held in order: an earlier message was read at the same time. */
                bool behind = false;
                for (size_t j = i; j-- > 0 && j + 64 > i && !behind;)
                        behind = r->trace[j].read + MS >= t->read && r->trace[j].lost > 0;
                if (behind) {
                        late_behind++;
                        continue;
                }
                late_other++;
                other_wait_max = MAX(other_wait_max, t->first_tx - t->queued);
                if (late_other <= 10)
                        fprintf(stderr, "    late, nothing lost: msg %zu %.1f ms, first sent after %.1f ms, %u tx %u lost\n", i,
                                (double) (t->read - t->queued) / MS, (double) (t->first_tx - t->queued) / MS, t->tx, t->lost);
        }
        fprintf(stderr,
                "  %s urgent: %zu messages, %.3f%% lost both first transmissions (%zu sent only once and lost); "
                "%zu late (%.2f%%): %zu own double loss (%zu single copy), %zu behind a lost one, %zu other "
                "(first send waited up to %.1f ms)\n",
                p->name, total, total ? 100.0 * (double) double_lost / (double) total : 0, single_only, late,
                total ? 100.0 * (double) late / (double) total : 0, late_double, late_single, late_behind, late_other,
                (double) other_wait_max / MS);
        if (clean && nclean > 0) {
                qsort(clean, nclean, sizeof(*clean), cmp_u64);
                fprintf(stderr, "  %s urgent: %zu messages no loss touched, their p50 %.1f ms, p99 %.1f ms\n", p->name, nclean,
                        (double) clean[nclean / 2] / MS, (double) clean[MIN(nclean - 1, nclean * 99 / 100)] / MS);
        }
        free(clean);
}


static size_t overhead = 28 + 29; /* IPv4 and UDP, DTLS 1.2 with ChaCha20-Poly1305 */

static void run(const Profile *p, uint64_t measure, uint64_t seed) {
        RudpConfig cfg;
        rudp_config_init(&cfg);
        cfg.connection_id = 0; /* as WireConn over DTLS: no id on the wire */
        cfg.initial_rtt_usec = 100 * MS;
        cfg.urgent_channels = 1; /* the small messages, as the wire protocol maps input and cursor */
        Rudp *a = NULL, *b = NULL;
        if (rudp_new(&cfg, false, 0, &a) < 0 || rudp_new(&cfg, true, 0, &b) < 0) {
                fprintf(stderr, "bench-rudp: out of memory\n");
                exit(1);
        }
        SimLinkConfig l = { .rate_bps = p->rate_bps, .delay_usec = p->rtt / 2, .loss = p->loss, .overhead = overhead,
                            .queue_bytes = (size_t) (p->rate_bps / 8 * p->queue_usec / SEC) };
        Sim *s = NULL;
        static Run r;
        memset(&r, 0, sizeof r);
        r.a = a;
        r.b = b;
        SimLinkConfig back = l;
        if (getenv("BENCH_RUDP_URGENT")) {
                r.ntrace = (size_t) ((MAX(5 * SEC, 20 * p->rtt) + measure) / SMALL_EVERY + 16);
                r.trace = calloc(r.ntrace, sizeof(*r.trace));
                if (!r.trace)
                        r.ntrace = 0;
                l.observe = trace_datagram;
                l.observe_userdata = &r;
        }
        if (sim_new(a, b, &l, &back, seed, &s) < 0) {
                fprintf(stderr, "bench-rudp: out of memory\n");
                exit(1);
        }
        r.sim = s;
        sim_set_app(s, app, &r);
        const char *tick = getenv("BENCH_RUDP_TICK");
        uint64_t t;
        if (tick && parse_u64(tick, SEC, &t) == 0)
                sim_set_tick(s, t);
        uint64_t warm = MAX(5 * SEC, 20 * p->rtt);
        sim_run(s, warm);
        sim_reset_link_stats(s);
        RudpStats before;
        rudp_stats(a, &before);
        r.measuring = true;
        sim_run(s, warm + measure);

        RudpStats st;
        rudp_stats(a, &st);
        const SimLinkStats *ls = sim_link_stats(s, 0);
        double goodput = (double) r.bulk_bytes * 8 / ((double) measure / SEC) / (double) p->rate_bps;
        qsort(r.lat, r.nlat, sizeof r.lat[0], cmp_u64);
        double p50 = r.nlat ? (double) r.lat[r.nlat / 2] / MS : 0;
        double p99 = r.nlat ? (double) r.lat[MIN(r.nlat - 1, r.nlat * 99 / 100)] / MS : 0;
        double qavg = ls->queue_samples ? (double) ls->queue_delay_sum / (double) ls->queue_samples / MS : 0;
        printf("| %-24s | %6.1f%% | %7.1f | %7.1f | %7.1f | %6.3f | %6.3f | %7.3f | %7.2f | %5.2f%% | %2u/%u | %7llu | %7llu |\n",
               p->name, goodput * 100, p50, p99, (double) p->rtt / 2 / MS + 50, qavg, (double) ls->queue_delay_max / MS,
               (double) st.min_rtt_usec / MS, (double) st.bandwidth * 8 / 1e6, st.loss_rate * 100, st.fec_k, st.fec_m,
               (unsigned long long) (st.retransmits - before.retransmits),
               (unsigned long long) (st.fec_peer_recovered - before.fec_peer_recovered));
        if (getenv("BENCH_RUDP_LINK")) {
                /* Where the link's time went: a datagram's headers cost as much as its data. */
                uint64_t datagrams = ls->delivered + ls->dropped_loss;
                double wire = (double) ls->bytes_delivered + (double) datagrams * (double) overhead;
                fprintf(stderr, "  %s: link busy %.1f%%, %llu datagrams (%.0f bytes on average), %llu urgent copies\n",
                        p->name, wire * 8 / ((double) measure / SEC) / (double) p->rate_bps * 100,
                        (unsigned long long) datagrams, (double) ls->bytes_delivered / (double) MAX(ls->delivered, (uint64_t) 1),
                        (unsigned long long) (st.urgent_copies - before.urgent_copies));
        }
        if (getenv("BENCH_RUDP_TAIL"))
                for (size_t i = r.nlat * 95 / 100; i < r.nlat; i += MAX((size_t) 1, r.nlat / 200))
                        fprintf(stderr, "  %s tail %zu/%zu: %.1f ms\n", p->name, i, r.nlat, (double) r.lat[i] / MS);
        if (getenv("BENCH_RUDP_WIRE")) {
                /* Everything that entered the bottleneck's queue and was not dropped at its tail. */
                double cap = (double) p->rate_bps / 8 * ((double) measure / SEC);
                uint64_t pkts = st.packets_sent - before.packets_sent - ls->dropped_queue;
                uint64_t bytes = st.bytes_sent - before.bytes_sent;
                double wire = (double) bytes + (double) (pkts * overhead);
                double resent = (double) (st.retransmitted_bytes - before.retransmitted_bytes);
                double lost = (double) ls->dropped_loss;
                fprintf(stderr,
                        "  %s wire: busy %.2f%% (idle %.2f%%), below-rudp overhead %.2f%%, rudp headers+frames %.2f%%, "
                        "resent %.2f%%, payload %.2f%% (goodput %.2f%%); %llu datagrams (%.0f B avg), %.0f lost, %llu queue drops, "
                        "parity %llu, copies %llu\n",
                        p->name, wire / cap * 100, 100 - wire / cap * 100, (double) (pkts * overhead) / cap * 100,
                        ((double) bytes - resent - (double) r.bulk_bytes) / cap * 100, resent / cap * 100,
                        (double) r.bulk_bytes / cap * 100, goodput * 100, (unsigned long long) pkts,
                        pkts ? (double) bytes / (double) pkts : 0, lost, (unsigned long long) ls->dropped_queue,
                        (unsigned long long) (st.fec_parity_sent - before.fec_parity_sent),
                        (unsigned long long) (st.urgent_copies - before.urgent_copies));
        }
        if (r.trace)
                trace_report(&r, p, warm);
        free(r.trace);
        sim_free(s);
        rudp_free(a);
        rudp_free(b);
}

int main(int argc, char **argv) {
        uint64_t seconds = 30, seed = 1, ov = overhead;
        if ((argc > 1 && parse_u64(argv[1], 3600, &seconds) < 0) || seconds == 0 ||
            (argc > 2 && parse_u64(argv[2], UINT32_MAX, &seed) < 0) ||
            (argc > 3 && parse_u64(argv[3], 1000, &ov) < 0)) {
                fprintf(stderr, "usage: bench-rudp [seconds measured, 1-3600] [seed] [overhead bytes per datagram]\n");
                return 2;
        }
        overhead = (size_t) ov;
        printf("rudp on a simulated link, VIRTUAL time (discrete-event simulation, seed %llu): %u s measured\n"
               "after a warm-up; bulk = 64 KiB reliable messages keeping the send buffer full; small = a 100-byte\n"
               "reliable message every 20 ms on another channel during the bulk, latency from send to read;\n"
               "queue = delay added at the bottleneck (its buffer: one bandwidth-delay product, >= 64 KiB);\n"
               "goodput counts the bytes of all messages delivered (rudp's headers and FEC parity are overhead);\n"
               "each datagram takes %zu more bytes on the link (IP, UDP, DTLS).\n\n",
               (unsigned long long) seed, (unsigned) seconds, overhead);
        printf("| profile                  | goodput | p50 ms  | p99 ms  | target  | q avg  | q max  | minrtt  | bw Mbps | loss   | k/m  | resent  | fec rec |\n");
        printf("|--------------------------|---------|---------|---------|---------|--------|--------|---------|---------|--------|------|---------|---------|\n");
        clock_t c0 = clock();
        const char *only = getenv("BENCH_RUDP_ONLY");
        for (size_t i = 0; i < ELEMENTSOF(profiles); i++)
                if (!only || strstr(profiles[i].name, only))
                        run(&profiles[i], seconds * SEC, seed);
        printf("\n(p99 target: RTT/2 + 50 ms; simulation took %.1f s of CPU)\n", (double) (clock() - c0) / CLOCKS_PER_SEC);
        return 0;
}
