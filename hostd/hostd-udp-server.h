/* Viewers over UDP: one unconnected socket at the TLS listener's address and port, DTLS 1.2 with
 * the same certificate, rudp, and then the same viewer code as TLS (viewer_new_conn()).
 *
 * Nothing is allocated for a datagram from an unknown address until it is a ClientHello echoing a
 * valid cookie (dtls_cookie_check(): its sender receives at that address); then a bounded number
 * of handshakes may be in progress, each with a deadline. Established peers become viewers, whose
 * ticket the hello handling checks as on TLS. */
#pragma once

#include <stdint.h>
#include <sys/socket.h>

#include "hostd-forward.h"
#include "hostd-viewer-server.h"
#include "macro.h"

/* Handshakes in progress at once; more valid ClientHellos are dropped (the client retries). */
#define UDP_MAX_HANDSHAKES 64
#define UDP_HANDSHAKE_TIMEOUT_USEC (10 * 1000000ULL)

typedef struct UdpServer UdpServer;

struct UdpServerCounters {
        uint64_t datagrams;           /* received on the socket */
        uint64_t unknown_dropped;     /* from addresses without a peer, dropped by the cookie check */
        uint64_t cookies_sent;        /* HelloVerifyRequests */
        uint64_t handshakes_started;  /* endpoints made (valid cookie) */
        uint64_t handshakes_refused;  /* valid cookie, but UDP_MAX_HANDSHAKES were in progress */
        uint64_t handshakes_failed;   /* DTLS error before it was established */
        uint64_t handshakes_timed_out;
        uint64_t established;         /* became viewers */
        unsigned peers;               /* now: handshaking or established */
        unsigned handshakes;          /* now: in progress */
};
typedef struct UdpServerCounters UdpServerCounters;

/* Binds UDP to the address fd (the TLS listener) is bound to. */
int udp_server_new(Manager *m, ViewerServer *viewers, int tcp_fd, const char *cert, const char *key,
                   UdpServer **ret);
UdpServer *udp_server_free(UdpServer *u);
DEFINE_TRIVIAL_CLEANUP_FUNC(UdpServer *, udp_server_free);

void udp_server_counters(const UdpServer *u, UdpServerCounters *ret);
