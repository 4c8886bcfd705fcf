/* The kernel's figures for a TCP connection (TCP_INFO), for the transport figures hostd logs and
 * the viewer's connection quality when the session runs over TLS/TCP. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct TcpFigures {
        uint64_t rtt_usec, rttvar_usec, min_rtt_usec; /* the kernel's smoothed and minimum RTT */
        uint64_t delivery_rate; /* bytes/s of the latest sample (low while the sender is idle) */
        bool delivery_rate_app_limited;
        uint64_t retransmits;   /* segments sent again, in all */
        uint64_t segments_out;
} TcpFigures;

/* -ENOTSOCK, -EOPNOTSUPP (not TCP) or another errno of getsockopt(). */
int tcp_figures(int fd, TcpFigures *ret);
