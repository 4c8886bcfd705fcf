/* The tandem wire protocol (schema/wire-protocol.md): frames, and the generated per-message code
 * (wire-gen.h, from schema/wire.def). Include this header, not wire-gen.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "wire-gen.h"

/* Every frame starts with this header: size u32 (payload bytes), type u16, channel u8, flags u8. */
#define WIRE_HEADER_SIZE 8
/* Frames of a type the receiver does not know are skipped up to this payload size, errors above. */
#define WIRE_UNKNOWN_SIZE_MAX (UINT32_C(1) << 20)

typedef struct WireHeader {
        uint32_t size;
        uint16_t type;
        uint8_t channel;
        uint8_t flags;
} WireHeader;

/* Reads a header from WIRE_HEADER_SIZE bytes at p. */
void wire_header_parse(const uint8_t *p, WireHeader *ret);
void wire_header_put(uint8_t *p, const WireHeader *h);

/* Checks a header against the limits, before its payload is read: 0 for a known type within its
 * maximum on its channel, 1 for an unknown type that must be skipped (size within
 * WIRE_UNKNOWN_SIZE_MAX), -EMSGSIZE for a size over the limit, -EPROTO for a known type on
 * another channel. */
int wire_header_check(const WireHeader *h);

/* What framing needs to know of a protocol carried in wire frames: the wire protocol
 * (wire_protocol) or the agent protocol (agent.h). decode fills the protocol's message struct
 * (WireMessage, AgentMessage), flags included. */
typedef struct WireProtocol {
        size_t known_size_max; /* the largest payload of a known type */
        ssize_t (*max_size)(uint16_t type);
        int (*type_channel)(uint16_t type);
        int (*type_direction)(uint16_t type);
        const char *(*type_name)(uint16_t type);
        int (*decode)(const WireHeader *h, const uint8_t *payload, void *ret);
} WireProtocol;

extern const WireProtocol wire_protocol;

/* wire_header_check() for any protocol. */
int wire_protocol_header_check(const WireProtocol *p, const WireHeader *h);

/* UTF-8 (no overlong forms, surrogates or code points past U+10FFFF) without NUL. */
bool wire_string_valid(const char *s, size_t len);

/* For the generated code. wire_frame_begin() reserves a frame of payload size and writes its
 * header, leaving *ret at the payload; wire_frame_end() counts it as appended once filled. */
int wire_frame_begin(Buffer *b, uint16_t type, uint8_t channel, size_t size, uint8_t **ret);
void wire_frame_end(Buffer *b, size_t size);
/* Reads a u32 length and that many bytes at *off, advancing it: -EBADMSG when the length is over
 * max or past len; the string variant also checks wire_string_valid(). */
int wire_get_bytes(const uint8_t *p, size_t len, size_t *off, size_t max, const uint8_t **ret, size_t *ret_len);
int wire_get_string(const uint8_t *p, size_t len, size_t *off, size_t max, const char **ret, size_t *ret_len);
