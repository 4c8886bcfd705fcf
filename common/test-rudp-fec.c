/* rudp's FEC: any k of a group's k + m symbols rebuild the lost packets exactly, whatever the
 * order they arrive in; more than m losses rebuild nothing; early-closed groups work; the shape
 * follows the loss rate; inconsistent symbols are ignored and memory stays bounded. */
#include "check.h"
#include <string.h>

#include "macro.h"
#include "rudp-fec.h"

static uint64_t rng_state = 0x1234567887654321ull;

static uint64_t rng(void) {
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * 0x2545f4914f6cdd1dull;
}

typedef struct Pkt {
        uint64_t number;
        uint8_t payload[RUDP_FEC_PAYLOAD_MAX];
        size_t len;
        uint64_t group;
        uint8_t index;
} Pkt;

/* Rebuilt packets may be ones that were not lost but have not arrived yet (the decoder cannot
 * tell): each is one not seen so far, and exact. */
static unsigned drain(RudpFecDecoder *d, const Pkt *pkts, unsigned fill, bool *got) {
        uint64_t n;
        const uint8_t *pl;
        size_t len;
        unsigned rebuilt = 0;
        while (rudp_fec_decoder_take(d, &n, &pl, &len) > 0) {
                unsigned idx = (unsigned) (n - 1000) / 3;
                check(n >= 1000 && (n - 1000) % 3 == 0 && idx < fill);
                check(!got[idx]);
                check(len == pkts[idx].len && memcmp(pl, pkts[idx].payload, len) == 0);
                got[idx] = true;
                rebuilt++;
        }
        return rebuilt;
}

/* One group through encoder and decoder with the given symbols lost; returns the data packets the
 * receiver ends up with, received or rebuilt. */
static unsigned run_group(unsigned k, unsigned m, unsigned fill, uint64_t lost_data, uint64_t lost_parity,
                          bool parity_first) {
        RudpFecEncoder *e = NULL;
        RudpFecDecoder *d = NULL;
        static Pkt pkts[RUDP_FEC_K_MAX];
        RudpFecParity par[RUDP_FEC_M_MAX];
        static uint8_t par_data[RUDP_FEC_M_MAX][RUDP_DATAGRAM_MAX + RUDP_FEC_PREFIX];

        check(rudp_fec_encoder_new(&e) == 0 && rudp_fec_decoder_new(&d) == 0);
        rudp_fec_encoder_set_shape(e, k, m);
        for (unsigned i = 0; i < fill; i++) {
                Pkt *p = &pkts[i];
                p->number = 1000 + i * 3;
                p->len = 1 + rng() % RUDP_FEC_PAYLOAD_MAX;
                for (size_t j = 0; j < p->len; j++)
                        p->payload[j] = (uint8_t) rng();
                check(rudp_fec_encoder_next(e, &p->group, &p->index));
                check(p->index == i);
                check(rudp_fec_encoder_add(e, p->number, p->payload, p->len, 0) == 0);
        }
        if (fill < k) {
                check(rudp_fec_encoder_open(e, NULL) == fill);
                rudp_fec_encoder_flush(e);
        }
        check(rudp_fec_encoder_open(e, NULL) == 0);
        double credit = 0; /* a new encoder's */
        m = rudp_fec_parity_for(k, m, fill, &credit);
        unsigned np = 0;
        while (rudp_fec_encoder_peek(e, &par[np]) > 0) {
                check(par[np].k == fill && par[np].m == m && par[np].index == np);
                check(par[np].last_number == pkts[fill - 1].number);
                memcpy(par_data[np], par[np].data, par[np].size);
                par[np].data = par_data[np];
                rudp_fec_encoder_pop(e);
                np++;
        }
        check(np == m);

        bool got[RUDP_FEC_K_MAX] = {};
        unsigned rebuilt = 0;
        for (int pass = 0; pass < 2; pass++) {
                bool parity_pass = (pass == 0) == parity_first;
                for (unsigned i = 0; parity_pass && i < m; i++) {
                        if (lost_parity & (1ull << i))
                                continue;
                        int r = rudp_fec_decoder_add_parity(d, par[i].group, par[i].k, par[i].m, par[i].index,
                                                            par[i].data, par[i].size);
                        check(r >= 0);
                        rebuilt += drain(d, pkts, fill, got);
                }
                for (unsigned i = 0; !parity_pass && i < fill; i++) {
                        if ((lost_data & (1ull << i)) || got[i])
                                continue;
                        got[i] = true;
                        check(rudp_fec_decoder_add_data(d, pkts[i].group, pkts[i].index, pkts[i].number,
                                                        pkts[i].payload, pkts[i].len) >= 0);
                        rebuilt += drain(d, pkts, fill, got);
                }
        }
        check(rudp_fec_decoder_memory(d) <= (size_t) RUDP_FEC_GROUPS * 2 * RUDP_FEC_SYMBOLS_MAX *
                                                    (RUDP_DATAGRAM_MAX + RUDP_FEC_PREFIX));
        rudp_fec_encoder_free(e);
        rudp_fec_decoder_free(d);
        unsigned have = 0;
        for (unsigned i = 0; i < fill; i++)
                have += got[i];
        check(rebuilt <= have);
        return have;
}

static uint64_t random_mask(unsigned bits, unsigned count) {
        uint64_t mask = 0;
        while ((unsigned) __builtin_popcountll(mask) < count)
                mask |= 1ull << (rng() % bits);
        return mask;
}

static void test_recovery(void) {
        /* Single loss, k = 1 (duplicate), k = max. */
        check(run_group(10, 1, 10, 1ull << 4, 0, false) == 10);
        check(run_group(1, 1, 1, 1, 0, false) == 1);
        check(run_group(1, 1, 1, 1, 1, false) == 0);
        check(run_group(RUDP_FEC_K_MAX, RUDP_FEC_M_MAX, RUDP_FEC_K_MAX, random_mask(RUDP_FEC_K_MAX, RUDP_FEC_M_MAX), 0, true) ==
              RUDP_FEC_K_MAX);
        /* Nothing lost. */
        check(run_group(8, 2, 8, 0, 0, false) == 8);
        for (int round = 0; round < 300; round++) {
                unsigned k = 1 + (unsigned) (rng() % RUDP_FEC_K_MAX);
                unsigned m = 1 + (unsigned) (rng() % RUDP_FEC_M_MAX);
                unsigned fill = round % 3 == 0 ? 1 + (unsigned) (rng() % k) : k;
                double credit = 0;
                unsigned mg = rudp_fec_parity_for(k, m, fill, &credit); /* what the group carries */
                /* Lose up to mg symbols among data and parity: everything comes back. */
                unsigned lose = (unsigned) (rng() % (mg + 1));
                unsigned lose_data = MIN(lose, fill), lose_par = lose - lose_data;
                lose_data = (unsigned) (rng() % (lose_data + 1));
                lose_par = lose - lose_data;
                uint64_t ld = random_mask(fill, lose_data), lp = random_mask(mg, lose_par);
                check(run_group(k, m, fill, ld, lp, rng() % 2) == fill);
                /* One more loss than parity: nothing can be rebuilt. */
                if (mg + 1 <= fill)
                        check(run_group(k, m, fill, random_mask(fill, mg + 1), 0, rng() % 2) == fill - mg - 1);
        }
}

/* Groups closed early carry the shape's share of parity over time, not a packet each. */
static void test_parity_for(void) {
        double credit = 0;
        check(rudp_fec_parity_for(32, 3, 32, &credit) == 3 && credit == 0);
        /* Display frames of two packets at k 32, m 3: 3 × 2 / 32 a frame, a parity packet every
         * sixth frame or so, six over 64 packets as full groups would carry. */
        unsigned total = 0, carrying = 0;
        for (int i = 0; i < 32; i++) {
                unsigned p = rudp_fec_parity_for(32, 3, 2, &credit);
                check(p <= 1);
                total += p;
                carrying += p > 0;
        }
        check(total == 6 && carrying == 6);
        credit = 0;
        check(rudp_fec_parity_for(32, 3, 11, &credit) == 1);
        check(rudp_fec_parity_for(32, 3, 22, &credit) == 2);
        check(rudp_fec_parity_for(32, 3, 32, &credit) == 3); /* full: the shape, credit kept */
        check(rudp_fec_parity_for(32, 1, 31, &credit) == 1);
        credit = 0;
        check(rudp_fec_parity_for(8, 8, 1, &credit) == 1);
        check(rudp_fec_parity_for(8, 8, 5, &credit) == 5);
        /* Never more than m, the rest stays owed. */
        credit = 7.5;
        check(rudp_fec_parity_for(8, 2, 4, &credit) == 2 && credit > 6.4 && credit < 6.6);
        /* An early group with parity still rebuilds a loss; one without is judged alone. */
        check(run_group(32, 3, 11, 1ull << 3, 0, false) == 11);
        check(run_group(32, 3, 2, 1ull << 1, 0, false) == 1);
}

static void test_choose(void) {
        unsigned k, m, prev_m = 0;
        rudp_fec_choose(0, 32, &k, &m);
        check(k == 0 && m == 0);
        rudp_fec_choose(0.004, 32, &k, &m);
        check(k == 0 && m == 0);
        rudp_fec_choose(0.01, 32, &k, &m);
        check(k == 32 && m == 1);
        for (double loss = 0.005; loss < 0.5; loss += 0.01) {
                rudp_fec_choose(loss, 32, &k, &m);
                check(k >= 1 && m >= 1 && k + m <= RUDP_FEC_SYMBOLS_MAX && m <= RUDP_FEC_M_MAX);
                /* Enough parity to cover the expected losses of a group. */
                check(m >= MIN(RUDP_FEC_M_MAX, (unsigned) (loss * (k + m))));
                check(m >= prev_m);
                prev_m = m;
        }
        rudp_fec_choose(0.05, 0, &k, &m);
        check(k == 0);
}

static void test_bad_symbols(void) {
        RudpFecDecoder *d = NULL;
        uint8_t buf[RUDP_DATAGRAM_MAX] = { 1, 2, 3 };
        uint64_t n;
        const uint8_t *p;
        size_t len;
        check(rudp_fec_decoder_new(&d) == 0);
        /* Data past k, then parity saying k = 2: the group is dropped, nothing is rebuilt. */
        check(rudp_fec_decoder_add_data(d, 5, 7, 1, buf, 10) == 0);
        check(rudp_fec_decoder_add_parity(d, 5, 2, 1, 0, buf, 40) == 0);
        check(rudp_fec_decoder_add_data(d, 5, 0, 1, buf, 10) == 0);
        check(rudp_fec_decoder_take(d, &n, &p, &len) == 0);
        /* Data longer than the group's symbols. */
        check(rudp_fec_decoder_add_parity(d, 6, 2, 1, 0, buf, 20) == 0);
        check(rudp_fec_decoder_add_data(d, 6, 0, 1, buf, 100) == 0);
        check(rudp_fec_decoder_add_data(d, 6, 1, 2, buf, 5) == 0);
        /* Parity disagreeing on the shape. */
        check(rudp_fec_decoder_add_parity(d, 7, 3, 2, 0, buf, 20) == 0);
        check(rudp_fec_decoder_add_parity(d, 7, 3, 3, 1, buf, 20) == 0);
        /* Garbage parity that decodes to a bad prefix is refused, not returned. */
        check(rudp_fec_decoder_add_parity(d, 8, 1, 1, 0, (const uint8_t *) "\1\0\0\0\0\0\0\0\377\377ab", 12) == 0);
        check(rudp_fec_decoder_take(d, &n, &p, &len) == 0);
        /* A flood of groups stays within the bound. */
        for (uint64_t g = 0; g < 1000; g++)
                for (uint8_t i = 0; i < RUDP_FEC_SYMBOLS_MAX; i++)
                        check(rudp_fec_decoder_add_data(d, g, i, i, buf, sizeof buf - RUDP_FEC_PREFIX) == 0);
        check(rudp_fec_decoder_memory(d) <= (size_t) RUDP_FEC_GROUPS * RUDP_FEC_SYMBOLS_MAX *
                                                    (RUDP_DATAGRAM_MAX + RUDP_FEC_PREFIX));
        /* Too old a group is ignored. */
        check(rudp_fec_decoder_add_data(d, 3, 0, 1, buf, 10) == 0);
        rudp_fec_decoder_free(d);
        check(!rudp_fec_decoder_free(NULL) && !rudp_fec_encoder_free(NULL));
}

int main(void) {
        test_recovery();
        test_parity_for();
        test_choose();
        test_bad_symbols();
        return 0;
}
