/* DTLS 1.2 endpoints (OpenSSL), sans-I/O: ciphertext datagrams in and out, plaintext datagrams in
 * and out, time passed in by the caller. The security layer under rudp (schema/dtls.md): every
 * rudp datagram is the plaintext of one record, every record travels alone in one datagram.
 *
 * A server keeps one unconnected socket for all peers: a datagram from an address without an
 * endpoint goes through dtls_cookie_check(), which allocates nothing; only a ClientHello that
 * echoes a valid cookie (so its sender receives at its address) earns an endpoint.
 *
 * Additions to the agreed interface (nothing was changed):
 * - dtls_context_set_clock(): the clock of the cookie secret's rotation (default
 *   CLOCK_MONOTONIC; the cookie check has no now_usec parameter).
 * - DtlsStats.queue_drops: datagrams lost because a bounded queue was full (the caller did not
 *   pull or read): dtls_endpoint_write() then still returns 0, like a datagram lost on the path.
 * - dtls_endpoint_close() makes later writes fail with -ESHUTDOWN.
 * - dtls_endpoint_peer(): the address a server endpoint was made for.
 * - dtls_endpoint_cipher(): the negotiated cipher suite's name (logs, tests).
 *
 * Errors are negative errno; no function logs. Single-threaded: a context and its endpoints
 * belong to one thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define DTLS_DATAGRAM_MAX 1200   /* every ciphertext datagram we emit, handshake included */
#define DTLS_DATAGRAM_MIN 576    /* the lowest budget dtls_endpoint_set_budget() accepts */
#define DTLS_PIN_SIZE 32         /* SHA-256 of the server certificate's DER encoding */

typedef struct DtlsContext DtlsContext;
typedef struct DtlsEndpoint DtlsEndpoint;

/* Server: certificate chain + key (PEM files, the same ones hostd's TLS listener uses, so a
 * ticket's pinned SHA-256 fingerprint of the DER certificate works for both). A random cookie
 * secret is made here and rotated (keeping the previous one valid) every two minutes. NULL and a
 * malloc'd *error sentence on failure. */
DtlsContext *dtls_server_context_new(const char *cert_pem, const char *key_pem, char **error);
DtlsContext *dtls_client_context_new(char **error);
/* Accepts NULL, returns NULL. Endpoints keep a reference: the context may go first. */
DtlsContext *dtls_context_free(DtlsContext *ctx);
/* The clock (microseconds, any epoch, never going back) the cookie secrets rotate by. */
void dtls_context_set_clock(DtlsContext *ctx, uint64_t (*now_usec)(void *userdata), void *userdata);

/* Stateless cookie exchange (RFC 6347 §4.2.1) for a datagram from an address that has no
 * endpoint yet. Allocates nothing per peer. Returns 1: a ClientHello carrying a valid cookie for
 * this address — the caller now creates an endpoint with dtls_endpoint_new_server() and feeds it
 * this same datagram; 0: handled, with *reply_len > 0 when reply holds a HelloVerifyRequest to
 * send back to peer, or 0 to drop (garbage, not a ClientHello, bad cookie). The cookie is an
 * HMAC-SHA256 over the peer's address, port and the time slot, keyed with the context's secret. */
int dtls_cookie_check(DtlsContext *ctx, const struct sockaddr *peer, socklen_t peer_len, const uint8_t *dgram,
                      size_t n, uint8_t *reply, size_t reply_size, size_t *reply_len);

/* -EINVAL for a client context or an address that is not IPv4/IPv6, -ENOMEM. */
int dtls_endpoint_new_server(DtlsContext *ctx, const struct sockaddr *peer, socklen_t peer_len, uint64_t now_usec,
                             DtlsEndpoint **ret);
/* Client: starts the handshake (its first flight is ready for dtls_endpoint_pull()).
 * pin_sha256: required fingerprint of the server certificate (what a ticket carries); NULL or
 * all-zero means accept any certificate (tests only). */
int dtls_endpoint_new_client(DtlsContext *ctx, const uint8_t pin_sha256[DTLS_PIN_SIZE], uint64_t now_usec,
                             DtlsEndpoint **ret);
DtlsEndpoint *dtls_endpoint_free(DtlsEndpoint *e);

/* One ciphertext datagram from the peer. 0: processed, or dropped and counted (garbage, bad MAC,
 * replayed record, wrong epoch: a spoofed or replayed packet never kills an established
 * association); -EPERM: certificate refused (pin mismatch); -EPROTO: handshake failed / fatal
 * alert; -ECONNRESET: the peer sent close_notify. Errors are sticky. */
int dtls_endpoint_feed(DtlsEndpoint *e, const uint8_t *d, size_t n, uint64_t now_usec);
/* The next ciphertext datagram to send (handshake flights, retransmissions, encrypted records,
 * alerts): its length (<= DTLS_DATAGRAM_MAX), 0 when none, -ENOBUFS when size is too small (the
 * datagram stays queued). */
ssize_t dtls_endpoint_pull(DtlsEndpoint *e, uint8_t *out, size_t size);
bool dtls_endpoint_established(const DtlsEndpoint *e);
/* After established: the largest plaintext that still makes a datagram <= the budget (1200 minus
 * the record overhead of the negotiated cipher); 0 before. dtls_endpoint_set_budget() lowers the
 * budget when the socket said EMSGSIZE (path MTU), never below DTLS_DATAGRAM_MIN, never above
 * DTLS_DATAGRAM_MAX. */
size_t dtls_endpoint_max_plaintext(const DtlsEndpoint *e);
void dtls_endpoint_set_budget(DtlsEndpoint *e, size_t datagram_bytes);
/* Encrypts one plaintext datagram into one record queued for pull(): 0, -EMSGSIZE when n >
 * max_plaintext, -ENOTCONN before established, -ESHUTDOWN after dtls_endpoint_close(), or the
 * sticky error. */
int dtls_endpoint_write(DtlsEndpoint *e, const uint8_t *d, size_t n);
/* The next decrypted plaintext datagram: its length, 0 when none, -ENOBUFS when size is too
 * small (it stays queued). */
ssize_t dtls_endpoint_read(DtlsEndpoint *e, uint8_t *buf, size_t size);
/* Handshake retransmission timer in the caller's clock (the now_usec passed in), UINT64_MAX when
 * none; dtls_endpoint_on_timeout() retransmits the last flight when due (1 s, doubling up to
 * 60 s, RFC 6347 §4.2.4.1). */
uint64_t dtls_endpoint_next_timeout(const DtlsEndpoint *e);
void dtls_endpoint_on_timeout(DtlsEndpoint *e, uint64_t now_usec);
void dtls_endpoint_close(DtlsEndpoint *e); /* queues close_notify */
const char *dtls_endpoint_error(const DtlsEndpoint *e); /* one sentence or NULL */
const struct sockaddr *dtls_endpoint_peer(const DtlsEndpoint *e, socklen_t *len);
const char *dtls_endpoint_cipher(const DtlsEndpoint *e); /* NULL before established */

typedef struct DtlsStats {
        uint64_t records_in;  /* application records decrypted */
        uint64_t records_out; /* application records encrypted */
        uint64_t dropped;     /* datagrams from the peer that yielded nothing: garbage, bad MAC, replays */
        uint64_t handshake_retransmits; /* flights sent again on our timer */
        uint64_t queue_drops; /* datagrams lost to a full queue (added) */
} DtlsStats;
void dtls_endpoint_stats(const DtlsEndpoint *e, DtlsStats *ret);
