/* Reed-Solomon FEC over packet groups with ISA-L's Cauchy matrices (schema/rudp.md).
 *
 * The (k + m) × k encoding matrix A has the identity on top (data symbols are sent as they are)
 * and a Cauchy block below; any k of its rows are independent. Parity p is row k + p times the
 * data symbols. A receiver holding k symbols takes the k × k matrix B of their rows: B × data =
 * held, so data = B⁻¹ × held, and a missing data symbol j is row j of B⁻¹ times the held ones. */
#include <errno.h>
#include <isa-l/erasure_code.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "rudp-fec.h"
#include "unaligned.h"

/* Symbol buffers are as large as any symbol a well-formed datagram can carry. */
#define SYMBOL_BUF (RUDP_DATAGRAM_MAX + RUDP_FEC_PREFIX)

void rudp_fec_choose(double loss, unsigned max_k, unsigned *ret_k, unsigned *ret_m) {
        if (!(loss >= 0.005) || max_k == 0) {
                *ret_k = *ret_m = 0;
                return;
        }
        unsigned k = MIN(max_k, RUDP_FEC_K_MAX);
        double p = MIN(1.5 * loss + 0.01, 0.5);
        unsigned m = (unsigned) ceil(p * k / (1.0 - p));
        m = MAX(m, 1u);
        m = MIN(m, (unsigned) RUDP_FEC_M_MAX);
        if (k + m > RUDP_FEC_SYMBOLS_MAX)
                k = RUDP_FEC_SYMBOLS_MAX - m;
        *ret_k = k;
        *ret_m = m;
}

static void symbol_fill(uint8_t *s, uint64_t number, const uint8_t *payload, size_t len) {
        put_le64(s, number);
        put_le16(s + 8, (uint16_t) len);
        if (len > 0)
                memcpy(s + RUDP_FEC_PREFIX, payload, len);
}

struct RudpFecEncoder {
        unsigned k, m;            /* shape of the groups to open */
        uint64_t next_group;
        bool open;
        unsigned gk, gm, n;       /* the open group: shape and packets so far */
        double parity_credit;     /* parity packets early-closed groups were due and not sent */
        uint64_t opened, last_number;
        size_t len[RUDP_FEC_K_MAX];
        uint8_t *sym[RUDP_FEC_K_MAX];
        /* Parity of the last closed group, waiting to be sent. */
        uint8_t *par[RUDP_FEC_M_MAX];
        unsigned par_count, par_next;
        uint64_t par_group, par_last;
        uint8_t par_k, par_m;
        size_t par_size;
        uint8_t matrix[RUDP_FEC_SYMBOLS_MAX * RUDP_FEC_K_MAX];
        uint8_t tables[32 * RUDP_FEC_K_MAX * RUDP_FEC_M_MAX];
};

int rudp_fec_encoder_new(RudpFecEncoder **ret) {
        _cleanup_(rudp_fec_encoder_freep) RudpFecEncoder *e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        for (size_t i = 0; i < RUDP_FEC_K_MAX; i++)
                if (!(e->sym[i] = malloc(SYMBOL_BUF)))
                        return -ENOMEM;
        for (size_t i = 0; i < RUDP_FEC_M_MAX; i++)
                if (!(e->par[i] = malloc(SYMBOL_BUF)))
                        return -ENOMEM;
        *ret = TAKE_PTR(e);
        return 0;
}

RudpFecEncoder *rudp_fec_encoder_free(RudpFecEncoder *e) {
        if (!e)
                return NULL;
        for (size_t i = 0; i < RUDP_FEC_K_MAX; i++)
                free(e->sym[i]);
        for (size_t i = 0; i < RUDP_FEC_M_MAX; i++)
                free(e->par[i]);
        free(e);
        return NULL;
}

unsigned rudp_fec_parity_for(unsigned k, unsigned m, unsigned n, double *credit) {
        if (n >= k || k == 0)
                return m;
        *credit += (double) m * n / k;
        /* The epsilon absorbs rounding in sums of shares that add up to a whole packet. */
        unsigned due = MIN(m, (unsigned) (*credit + 1e-9));
        *credit = MAX(*credit - due, 0.0);
        return due;
}

static void encoder_close(RudpFecEncoder *e) {
        if (!e->open || e->n == 0) {
                e->open = false;
                return;
        }
        unsigned k = e->n, m = rudp_fec_parity_for(e->gk, e->gm, e->n, &e->parity_credit);
        if (m == 0) {
                /* Sent unprotected: the sender judges its packets alone (rudp_fec_encoder_pending). */
                e->next_group++;
                e->open = false;
                return;
        }
        size_t size = 0;
        for (unsigned i = 0; i < k; i++)
                size = MAX(size, e->len[i]);
        /* Shorter symbols are padded with zeros to the longest. */
        for (unsigned i = 0; i < k; i++)
                memset(e->sym[i] + e->len[i], 0, size - e->len[i]);
        gf_gen_cauchy1_matrix(e->matrix, (int) (k + m), (int) k);
        ec_init_tables((int) k, (int) m, e->matrix + k * k, e->tables);
        ec_encode_data((int) size, (int) k, (int) m, e->tables, e->sym, e->par);

        e->par_count = m;
        e->par_next = 0;
        e->par_group = e->next_group;
        e->par_last = e->last_number;
        e->par_k = (uint8_t) k;
        e->par_m = (uint8_t) m;
        e->par_size = size;
        e->next_group++;
        e->open = false;
}

void rudp_fec_encoder_set_shape(RudpFecEncoder *e, unsigned k, unsigned m) {
        k = MIN(k, (unsigned) RUDP_FEC_K_MAX);
        m = MIN(m, (unsigned) RUDP_FEC_M_MAX);
        if (k == 0 || m == 0 || k + m > RUDP_FEC_SYMBOLS_MAX)
                k = m = 0;
        e->k = k;
        e->m = m;
        if (k == 0)
                encoder_close(e);
}

bool rudp_fec_encoder_next(const RudpFecEncoder *e, uint64_t *ret_group, uint8_t *ret_index) {
        if (e->open) {
                *ret_group = e->next_group;
                *ret_index = (uint8_t) e->n;
                return true;
        }
        if (e->k == 0)
                return false;
        *ret_group = e->next_group;
        *ret_index = 0;
        return true;
}

int rudp_fec_encoder_add(RudpFecEncoder *e, uint64_t number, const uint8_t *payload, size_t len, uint64_t now) {
        if (len > RUDP_FEC_PAYLOAD_MAX)
                return -EINVAL;
        if (!e->open) {
                if (e->k == 0)
                        return -EINVAL;
                e->open = true;
                e->gk = e->k;
                e->gm = e->m;
                e->n = 0;
                e->opened = now;
        }
        symbol_fill(e->sym[e->n], number, payload, len);
        e->len[e->n] = RUDP_FEC_PREFIX + len;
        e->n++;
        e->last_number = number;
        if (e->n >= e->gk)
                encoder_close(e);
        return 0;
}

void rudp_fec_encoder_flush(RudpFecEncoder *e) {
        encoder_close(e);
}

unsigned rudp_fec_encoder_open(const RudpFecEncoder *e, uint64_t *ret_opened) {
        if (!e->open)
                return 0;
        if (ret_opened)
                *ret_opened = e->opened;
        return e->n;
}

bool rudp_fec_encoder_pending(const RudpFecEncoder *e, uint64_t group) {
        if (e->open && group == e->next_group)
                return true;
        return e->par_next < e->par_count && group == e->par_group;
}

int rudp_fec_encoder_peek(const RudpFecEncoder *e, RudpFecParity *ret) {
        if (e->par_next >= e->par_count)
                return 0;
        *ret = (RudpFecParity) {
                .group = e->par_group,
                .k = e->par_k,
                .m = e->par_m,
                .index = (uint8_t) e->par_next,
                .data = e->par[e->par_next],
                .size = e->par_size,
                .last_number = e->par_last,
        };
        return 1;
}

void rudp_fec_encoder_pop(RudpFecEncoder *e) {
        if (e->par_next < e->par_count)
                e->par_next++;
}

/* ---- decoder ---------------------------------------------------------------------------------- */

typedef struct FecGroup {
        bool used, dead, done;
        uint64_t id;
        uint8_t k, m;     /* 0 until a parity symbol told them */
        size_t size;      /* symbol size, from the parity */
        uint64_t data_mask, parity_mask;
        uint8_t *data[RUDP_FEC_SYMBOLS_MAX];
        size_t data_len[RUDP_FEC_SYMBOLS_MAX];
        uint8_t *parity[RUDP_FEC_SYMBOLS_MAX];
} FecGroup;

struct RudpFecDecoder {
        FecGroup groups[RUDP_FEC_GROUPS];
        /* Rebuilt packets of the last decode: indices into one group's data. */
        FecGroup *out_group;
        uint8_t out[RUDP_FEC_SYMBOLS_MAX];
        unsigned out_count, out_next;
        size_t memory;
        uint8_t a[RUDP_FEC_SYMBOLS_MAX * RUDP_FEC_SYMBOLS_MAX];
        uint8_t b[RUDP_FEC_SYMBOLS_MAX * RUDP_FEC_SYMBOLS_MAX];
        uint8_t inv[RUDP_FEC_SYMBOLS_MAX * RUDP_FEC_SYMBOLS_MAX];
        uint8_t dm[RUDP_FEC_SYMBOLS_MAX * RUDP_FEC_SYMBOLS_MAX];
        uint8_t tables[32 * RUDP_FEC_SYMBOLS_MAX * RUDP_FEC_SYMBOLS_MAX];
};

int rudp_fec_decoder_new(RudpFecDecoder **ret) {
        RudpFecDecoder *d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        *ret = d;
        return 0;
}

static void group_release(RudpFecDecoder *d, FecGroup *g) {
        for (size_t i = 0; i < RUDP_FEC_SYMBOLS_MAX; i++) {
                if (g->data[i])
                        d->memory -= SYMBOL_BUF;
                if (g->parity[i])
                        d->memory -= SYMBOL_BUF;
                free(g->data[i]);
                free(g->parity[i]);
        }
        *g = (FecGroup) {};
}

RudpFecDecoder *rudp_fec_decoder_free(RudpFecDecoder *d) {
        if (!d)
                return NULL;
        for (size_t i = 0; i < RUDP_FEC_GROUPS; i++)
                group_release(d, &d->groups[i]);
        free(d);
        return NULL;
}

size_t rudp_fec_decoder_memory(const RudpFecDecoder *d) {
        return d->memory;
}

/* The group's slot: found, a free one, or the oldest evicted for a newer group; NULL when the
 * group is older than everything held (too late to matter). */
static FecGroup *group_get(RudpFecDecoder *d, uint64_t id) {
        FecGroup *free_slot = NULL, *oldest = NULL;
        for (size_t i = 0; i < RUDP_FEC_GROUPS; i++) {
                FecGroup *g = &d->groups[i];
                if (!g->used) {
                        free_slot = free_slot ? free_slot : g;
                        continue;
                }
                if (g->id == id)
                        return g;
                if (!oldest || g->id < oldest->id)
                        oldest = g;
        }
        if (!free_slot) {
                if (id < oldest->id)
                        return NULL;
                group_release(d, oldest);
                free_slot = oldest;
        }
        free_slot->used = true;
        free_slot->id = id;
        return free_slot;
}

static void group_kill(RudpFecDecoder *d, FecGroup *g) {
        uint64_t id = g->id;
        group_release(d, g);
        /* The slot stays taken so later symbols of the group are ignored. */
        g->used = g->dead = true;
        g->id = id;
}

static unsigned popcount64(uint64_t v) {
        return (unsigned) __builtin_popcountll(v);
}

static int group_try_decode(RudpFecDecoder *d, FecGroup *g) {
        if (g->dead || g->done || g->k == 0)
                return 0;
        unsigned k = g->k, m = g->m;
        uint64_t want = k == 64 ? UINT64_MAX : (UINT64_C(1) << k) - 1;
        uint64_t have = g->data_mask & want;
        if (have == want) {
                /* Nothing lost: the symbols are not needed any more. */
                group_kill(d, g);
                g->dead = false;
                g->done = true;
                return 0;
        }
        if (popcount64(have) + popcount64(g->parity_mask) < k)
                return 0;

        /* Rows of the symbols used: every data symbol held, then parity until k. */
        uint8_t rows[RUDP_FEC_SYMBOLS_MAX];
        uint8_t *src[RUDP_FEC_SYMBOLS_MAX];
        unsigned nrows = 0;
        for (unsigned i = 0; i < k; i++)
                if (have & (UINT64_C(1) << i)) {
                        rows[nrows] = (uint8_t) i;
                        src[nrows++] = g->data[i];
                }
        for (unsigned p = 0; p < m && nrows < k; p++)
                if (g->parity_mask & (UINT64_C(1) << p)) {
                        rows[nrows] = (uint8_t) (k + p);
                        src[nrows++] = g->parity[p];
                }

        gf_gen_cauchy1_matrix(d->a, (int) (k + m), (int) k);
        for (unsigned r = 0; r < k; r++)
                memcpy(d->b + r * k, d->a + rows[r] * k, k);
        if (gf_invert_matrix(d->b, d->inv, (int) k) != 0) {
                /* Cannot happen with a Cauchy matrix; refuse the group rather than trust it. */
                group_kill(d, g);
                return 0;
        }

        uint8_t *out[RUDP_FEC_SYMBOLS_MAX];
        unsigned nmiss = 0;
        for (unsigned j = 0; j < k; j++) {
                if (have & (UINT64_C(1) << j))
                        continue;
                if (!g->data[j]) {
                        if (!(g->data[j] = malloc(SYMBOL_BUF)))
                                return -ENOMEM;
                        d->memory += SYMBOL_BUF;
                }
                memcpy(d->dm + nmiss * k, d->inv + j * k, k);
                out[nmiss] = g->data[j];
                d->out[nmiss++] = (uint8_t) j;
        }
        ec_init_tables((int) k, (int) nmiss, d->dm, d->tables);
        ec_encode_data((int) g->size, (int) k, (int) nmiss, d->tables, src, out);

        /* Keep only rebuilt symbols whose prefix makes sense. */
        unsigned kept = 0;
        for (unsigned i = 0; i < nmiss; i++) {
                const uint8_t *s = g->data[d->out[i]];
                if (RUDP_FEC_PREFIX + (size_t) get_le16(s + 8) <= g->size)
                        d->out[kept++] = d->out[i];
        }
        g->data_mask |= want;
        g->done = true;
        d->out_group = g;
        d->out_count = kept;
        d->out_next = 0;
        return (int) kept;
}

static void out_reset(RudpFecDecoder *d) {
        d->out_group = NULL;
        d->out_count = d->out_next = 0;
}

int rudp_fec_decoder_add_data(RudpFecDecoder *d, uint64_t group, uint8_t index, uint64_t number,
                              const uint8_t *payload, size_t len) {
        out_reset(d);
        FecGroup *g = group_get(d, group);
        if (!g || g->dead || g->done || index >= RUDP_FEC_SYMBOLS_MAX)
                return 0;
        if (g->data_mask & (UINT64_C(1) << index))
                return 0;
        if (RUDP_FEC_PREFIX + len > SYMBOL_BUF || (g->k != 0 && (index >= g->k || RUDP_FEC_PREFIX + len > g->size))) {
                group_kill(d, g);
                return 0;
        }
        if (!g->data[index]) {
                if (!(g->data[index] = malloc(SYMBOL_BUF)))
                        return -ENOMEM;
                d->memory += SYMBOL_BUF;
        }
        symbol_fill(g->data[index], number, payload, len);
        memset(g->data[index] + RUDP_FEC_PREFIX + len, 0, SYMBOL_BUF - RUDP_FEC_PREFIX - len);
        g->data_len[index] = RUDP_FEC_PREFIX + len;
        g->data_mask |= UINT64_C(1) << index;
        return group_try_decode(d, g);
}

int rudp_fec_decoder_add_parity(RudpFecDecoder *d, uint64_t group, uint8_t k, uint8_t m, uint8_t index,
                                const uint8_t *data, size_t size) {
        out_reset(d);
        if (k == 0 || m == 0 || k + m > RUDP_FEC_SYMBOLS_MAX || index >= m || size < RUDP_FEC_PREFIX ||
            size > SYMBOL_BUF)
                return 0;
        FecGroup *g = group_get(d, group);
        if (!g || g->dead || g->done)
                return 0;
        if (g->k == 0) {
                /* The first parity fixes the shape; data already held must fit it. */
                uint64_t beyond = k == 64 ? 0 : g->data_mask >> k;
                bool too_long = false;
                for (unsigned i = 0; i < RUDP_FEC_SYMBOLS_MAX; i++)
                        if ((g->data_mask & (UINT64_C(1) << i)) && g->data_len[i] > size)
                                too_long = true;
                if (beyond || too_long) {
                        group_kill(d, g);
                        return 0;
                }
                g->k = k;
                g->m = m;
                g->size = size;
        } else if (g->k != k || g->m != m || g->size != size) {
                group_kill(d, g);
                return 0;
        }
        if (g->parity_mask & (UINT64_C(1) << index))
                return 0;
        if (!g->parity[index]) {
                if (!(g->parity[index] = malloc(SYMBOL_BUF)))
                        return -ENOMEM;
                d->memory += SYMBOL_BUF;
        }
        memcpy(g->parity[index], data, size);
        g->parity_mask |= UINT64_C(1) << index;
        return group_try_decode(d, g);
}

int rudp_fec_decoder_take(RudpFecDecoder *d, uint64_t *ret_number, const uint8_t **ret_payload, size_t *ret_len) {
        if (!d->out_group || d->out_next >= d->out_count)
                return 0;
        const uint8_t *s = d->out_group->data[d->out[d->out_next++]];
        *ret_number = get_le64(s);
        *ret_len = get_le16(s + 8);
        *ret_payload = s + RUDP_FEC_PREFIX;
        return 1;
}
