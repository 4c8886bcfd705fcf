/* The DatagramTransport of the real UDP path: DTLS 1.2 (dtls.h) over a UDP socket. A client owns
 * its connected socket and runs the handshake inside recv() and the timers; a server peer shares
 * hostd's one unconnected socket, sends with sendto() and is fed the ciphertext hostd's
 * demultiplexer received from its address. max_payload() is 0 until the handshake is done (WireConn
 * sends nothing until then) and then dtls_endpoint_max_plaintext(), so every UDP payload is at
 * most 1200 bytes; an EMSGSIZE from the socket lowers the budget. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "datagram-transport.h"
#include "dtls.h"

/* Client: fd is a connected non-blocking UDP socket (owned; closed on failure too). pin: the
 * ticket's fingerprint (NULL or zero: any certificate, tests only). Sends the first flight. */
int dtls_datagram_new_client(DtlsContext *ctx, int fd, const uint8_t pin[DTLS_PIN_SIZE], DatagramTransport **ret);
/* Server peer: e (owned from now on, freed on failure too) for peer, sending on shared_fd (not
 * owned). release(userdata) is called when the transport is freed (unregister it). */
int dtls_datagram_new_server(DtlsEndpoint *e, int shared_fd, const struct sockaddr *peer, socklen_t peer_len,
                             void (*release)(void *userdata), void *userdata, DatagramTransport **ret);
/* Server peer: one ciphertext datagram from its address. 0, or the endpoint's error (-EPERM,
 * -EPROTO, -ECONNRESET: the association is over). Handshake replies are sent at once. */
int dtls_datagram_feed(DatagramTransport *t, const uint8_t *d, size_t n, uint64_t now_usec);
bool dtls_datagram_established(DatagramTransport *t);
DtlsEndpoint *dtls_datagram_endpoint(DatagramTransport *t);
/* Sets IP_PMTUDISC_DO (or IPv6's) on a UDP socket: the kernel never fragments, EMSGSIZE says the
 * path is smaller. */
int udp_socket_set_pmtudisc(int fd, int family);
