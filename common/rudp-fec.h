/* rudp's forward error correction (schema/rudp.md, FEC_PARITY): Cauchy Reed-Solomon over groups of
 * packets with Intel ISA-L. The encoder turns the payloads of up to k protected packets into m
 * parity symbols; the decoder keeps a bounded number of groups and rebuilds missing packets from
 * any k of the k + m symbols. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rudp-packet.h"

/* The largest payload (frames) of a protected packet: its parity packet (header, FEC_PARITY frame
 * header, number and size prefix, payload) must fit in a datagram. */
#define RUDP_FEC_PAYLOAD_MAX 1152
#define RUDP_FEC_SYMBOL_MAX (RUDP_FEC_PREFIX + RUDP_FEC_PAYLOAD_MAX)
#define RUDP_FEC_K_MAX 48
#define RUDP_FEC_M_MAX 16
/* Groups a decoder holds at once. */
#define RUDP_FEC_GROUPS 8

/* The group shape for a measured loss rate (fraction of packets): k = 0 (off) below 0.5%, else
 * about 1.5 × loss + 1% of the packets are parity, groups up to max_k. */
void rudp_fec_choose(double loss, unsigned max_k, unsigned *ret_k, unsigned *ret_m);

typedef struct RudpFecEncoder RudpFecEncoder;

int rudp_fec_encoder_new(RudpFecEncoder **ret);
RudpFecEncoder *rudp_fec_encoder_free(RudpFecEncoder *e);

/* The shape of the groups opened from now on; k = 0 stops protecting (an open group is closed). */
void rudp_fec_encoder_set_shape(RudpFecEncoder *e, unsigned k, unsigned m);
/* Whether the next packet should be protected, and its group and index. */
bool rudp_fec_encoder_next(const RudpFecEncoder *e, uint64_t *ret_group, uint8_t *ret_index);
/* Adds the payload of the packet just built with the group and index next() gave (len at most
 * RUDP_FEC_PAYLOAD_MAX). When the group is full its parity is computed. */
int rudp_fec_encoder_add(RudpFecEncoder *e, uint64_t number, const uint8_t *payload, size_t len, uint64_t now);
/* Closes the open group early with the packets it has (the sender has nothing more to send). */
void rudp_fec_encoder_flush(RudpFecEncoder *e);
/* Packets in the open group (0 when none is open) and when it was opened. */
unsigned rudp_fec_encoder_open(const RudpFecEncoder *e, uint64_t *ret_opened);
/* Parity waiting to be sent: 1 and its frame's fields (data valid until the next call that
 * changes the encoder), 0 when none. pop() removes the one peek() returned. */
/* Parity packets for a group of shape k, m closed after n data packets (the end of a burst): its
 * share m × n / k is added to *credit and the whole packets in it are sent (at most m), so parity
 * stays the shape's share of the packets whatever the bursts' sizes; a full group carries m.
 * Rounding each group up had made every display frame carry a whole parity packet: on a 256 kbit/s
 * link at 0.5% loss (k 32, m 1) a frame of four datagrams spent a fifth of its bytes on parity. */
unsigned rudp_fec_parity_for(unsigned k, unsigned m, unsigned n, double *credit);
/* Whether the group is still open or has parity waiting to be sent: false for a group closed
 * without parity (its share not due yet), whose packets are then judged alone. */
bool rudp_fec_encoder_pending(const RudpFecEncoder *e, uint64_t group);

typedef struct RudpFecParity {
        uint64_t group;
        uint8_t k, m, index;
        const uint8_t *data;
        size_t size;
        uint64_t last_number; /* the group's last data packet */
} RudpFecParity;
int rudp_fec_encoder_peek(const RudpFecEncoder *e, RudpFecParity *ret);
void rudp_fec_encoder_pop(RudpFecEncoder *e);

typedef struct RudpFecDecoder RudpFecDecoder;

int rudp_fec_decoder_new(RudpFecDecoder **ret);
RudpFecDecoder *rudp_fec_decoder_free(RudpFecDecoder *d);
/* A protected packet that arrived. Returns how many packets became recoverable (0 or more), or
 * -ENOMEM. Inconsistent symbols (an index past k, a payload longer than the group's symbols)
 * make the group unusable, never an error. */
int rudp_fec_decoder_add_data(RudpFecDecoder *d, uint64_t group, uint8_t index, uint64_t number,
                              const uint8_t *payload, size_t len);
int rudp_fec_decoder_add_parity(RudpFecDecoder *d, uint64_t group, uint8_t k, uint8_t m, uint8_t index,
                                const uint8_t *data, size_t size);
/* The next rebuilt packet: 1 with its number and payload (valid until the next add or take), 0
 * when none is left. */
int rudp_fec_decoder_take(RudpFecDecoder *d, uint64_t *ret_number, const uint8_t **ret_payload, size_t *ret_len);
/* Bytes held in symbols (bounded by RUDP_FEC_GROUPS × RUDP_FEC_SYMBOLS_MAX symbols). */
size_t rudp_fec_decoder_memory(const RudpFecDecoder *d);

static inline void rudp_fec_encoder_freep(RudpFecEncoder **e) {
        rudp_fec_encoder_free(*e);
}
static inline void rudp_fec_decoder_freep(RudpFecDecoder **d) {
        rudp_fec_decoder_free(*d);
}
