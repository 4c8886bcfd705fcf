/* WireConn over rudp over a datagram path (DTLS/UDP, or a memory pair in tests): library
 * wire_udp_dep. The channel mapping is schema/wire-protocol.md's "UDP transport"; everything a
 * WireConn does on a stream it does here, plus timers, rudp's figures and lost tiles
 * (wire-conn.h). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "datagram-transport.h"
#include "rudp.h"
#include "wire-conn.h"

/* rudp's defaults with the wire's channels and a message as large as any frame the receiver may
 * have to skip. Both ends must use the same connection_id (0 unless set: DTLS already tells
 * associations apart). */
void wire_conn_rudp_config(RudpConfig *cfg);

/* Takes ownership of t (freed with the WireConn, or at once on failure). cfg NULL: the defaults
 * above; cfg->channels must be at least WIRE_RUDP_CHANNELS. server: which side of rudp this is.
 * Returns 0, -EINVAL or -ENOMEM. */
int wire_conn_new_rudp(DatagramTransport *t, const RudpConfig *cfg, bool server, size_t out_limit, WireConn **ret);

/* The rudp channel and class a frame goes on. */
uint8_t wire_rudp_channel(uint16_t type, uint8_t wire_channel);
RudpClass wire_rudp_class(uint8_t rudp_channel);
