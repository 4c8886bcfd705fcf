/* An owner's clock and datagrams in, between a DatagramTransport and rudp.
 *
 * rudp takes the time with every datagram and reads an ACK's round trip as that time less when
 * the acknowledged packet went out, so the time must be read after the datagram left the
 * transport. A time read earlier (once at the top of the owner's loop) is older than the datagram
 * whenever the process was preempted before its recv(): an ACK that arrived meanwhile then makes
 * the round trip look shorter than the path's: the congestion controller's minimum RTT, and its
 * bandwidth-delay product with it, stay that much too low for ten seconds (the statistics' minimum
 * for the connection's life). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "datagram-transport.h"
#include "rudp.h"

/* The clock rudp runs on over t, in microseconds: the transport's, or CLOCK_MONOTONIC. */
uint64_t datagram_transport_now(DatagramTransport *t);

/* Feeds r the datagrams t holds, at most max, each with the clock read after t handed it over:
 * how many were taken (0 when none waits), a transport error that ends the connection, or
 * rudp_receive_datagram()'s error (-EPROTO, -ECONNRESET, -ENOMEM). */
int datagram_rudp_receive(DatagramTransport *t, Rudp *r, size_t max);
