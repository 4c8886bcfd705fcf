/* rudp's packet format (schema/rudp.md): the header and every frame, parsed from and written to
 * explicit-length buffers. Parsing checks everything the format itself says (sizes, ranges, class
 * bits); what depends on connection state (channels, credit) is checked by the caller. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rudp.h"

#define RUDP_FLAGS_FIXED 0x40
#define RUDP_FLAGS_MASK 0xc0
#define RUDP_FLAG_PROTECTED 0x01
#define RUDP_FLAG_CONNECTION 0x02 /* a connection id follows; absent means id 0 */
/* flags, connection id, number, group, index */
#define RUDP_HEADER_MAX (1 + 8 + 8 + 8 + 1)

#define RUDP_ACK_RANGES_MAX 64
#define RUDP_FEC_SYMBOLS_MAX 64     /* k + m */
#define RUDP_FEC_PREFIX 10          /* number (8) and payload size (2) in front of each symbol */
#define RUDP_MSG_PARITY_MSGS_MAX 4  /* messages one MSG_PARITY frame covers */
#define RUDP_MSG_PARITY_LEN_MAX 256 /* the longest message it may cover */

enum {
        RUDP_FRAME_PADDING = 0x00,
        RUDP_FRAME_PING = 0x01,
        RUDP_FRAME_ACK = 0x02,
        RUDP_FRAME_MAX_STREAM = 0x03,
        RUDP_FRAME_CLOSE = 0x04,
        RUDP_FRAME_FEC_PARITY = 0x05,
        RUDP_FRAME_MSG_PARITY = 0x06,
        RUDP_FRAME_MSG_REBUILT = 0x07,
        RUDP_FRAME_STREAM = 0x08, /* | class */
};

typedef struct RudpHeader {
        uint64_t connection;
        uint64_t number;
        bool protected;
        uint64_t fec_group;
        uint8_t fec_index;
} RudpHeader;

/* Inclusive packet number range. */
typedef struct RudpAckRange {
        uint64_t lo, hi;
} RudpAckRange;

typedef struct RudpFrame {
        uint8_t type; /* RUDP_FRAME_*, STREAM without its class bits */
        union {
                struct {
                        uint64_t largest, delay, recovered, first_range, range_count;
                        const uint8_t *ranges; /* range_count (gap, length) pairs, checked */
                        size_t ranges_size;
                } ack;
                struct {
                        uint8_t channel;
                        RudpClass cls;
                        uint32_t message_id;
                        uint64_t start, length, offset;
                        const uint8_t *data;
                        size_t size;
                } stream;
                struct {
                        uint8_t channel;
                        uint64_t limit;
                } max_stream;
                struct {
                        uint64_t code;
                } close;
                struct {
                        uint64_t group;
                        uint8_t k, m, index;
                        const uint8_t *data;
                        size_t size;
                } parity;
                /* XOR of count consecutive messages of a reliable channel, the first at start. */
                struct {
                        uint8_t channel, count;
                        uint64_t start;
                        uint32_t message_id[RUDP_MSG_PARITY_MSGS_MAX];
                        uint32_t length[RUDP_MSG_PARITY_MSGS_MAX];
                        const uint8_t *data; /* size: the longest length */
                        size_t size;
                } msg_parity;
                /* The sender of this frame rebuilt the message at start from MSG_PARITY. */
                struct {
                        uint8_t channel;
                        uint64_t start;
                } msg_rebuilt;
        };
} RudpFrame;

/* Header: bytes consumed, or -EBADMSG. *ret untouched on failure. */
int rudp_header_parse(const uint8_t *p, size_t len, RudpHeader *ret);
/* One frame at p: bytes consumed (a PADDING frame takes every zero byte that follows), or
 * -EBADMSG (truncated, unknown type, a field out of its range). Pointers in *ret point into p. */
int rudp_frame_parse(const uint8_t *p, size_t len, RudpFrame *ret);
/* The ranges of a parsed ACK frame, highest first, into ranges[max]: their number, or -EBADMSG
 * (more than max, or a range below packet 0). Never fails for a frame rudp_frame_parse() accepted
 * when max >= RUDP_ACK_RANGES_MAX. */
int rudp_ack_decode(const RudpFrame *f, RudpAckRange *ranges, size_t max);

/* Appends to a fixed buffer; every write is all or nothing (-ENOBUFS). */
typedef struct RudpWriter {
        uint8_t *p;
        size_t size, len;
} RudpWriter;

static inline size_t rudp_writer_room(const RudpWriter *w) {
        return w->size - w->len;
}

int rudp_header_write(RudpWriter *w, const RudpHeader *h);
size_t rudp_header_size(const RudpHeader *h);
int rudp_frame_write_simple(RudpWriter *w, uint8_t type); /* PING, one PADDING byte */
void rudp_frame_write_padding(RudpWriter *w, size_t n);    /* at most the room left */
int rudp_frame_write_max_stream(RudpWriter *w, uint8_t channel, uint64_t limit);
int rudp_frame_write_close(RudpWriter *w, uint64_t code);
/* Bytes a STREAM frame takes before its data. */
size_t rudp_stream_header_size(uint32_t message_id, uint64_t start, uint64_t length, uint64_t offset,
                               size_t size);
int rudp_frame_write_stream(RudpWriter *w, uint8_t channel, RudpClass cls, uint32_t message_id,
                            uint64_t start, uint64_t length, uint64_t offset, const void *data,
                            size_t size);
int rudp_frame_write_parity(RudpWriter *w, uint64_t group, uint8_t k, uint8_t m, uint8_t index,
                            const void *data, size_t size);
/* MSG_PARITY over count (2 to RUDP_MSG_PARITY_MSGS_MAX) consecutive messages starting at start;
 * data is their XOR, size bytes: the longest length (each at most RUDP_MSG_PARITY_LEN_MAX). */
int rudp_frame_write_msg_parity(RudpWriter *w, uint8_t channel, uint64_t start, uint8_t count,
                                const uint32_t *message_id, const uint32_t *length, const void *data,
                                size_t size);
int rudp_frame_write_msg_rebuilt(RudpWriter *w, uint8_t channel, uint64_t start);
size_t rudp_msg_parity_frame_size(uint64_t start, uint8_t count, const uint32_t *message_id,
                                  const uint32_t *length);
/* ranges: disjoint, highest first, not adjacent; n >= 1. Writes as many ranges as fit (at least
 * the first) and returns how many, or -ENOBUFS. */
int rudp_frame_write_ack(RudpWriter *w, const RudpAckRange *ranges, size_t n, uint64_t delay,
                         uint64_t recovered);
