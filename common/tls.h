/* TLS 1.3 transports (OpenSSL) for the wire protocol: non-blocking, no threads. The handshake runs
 * inside the transport's read and write, which return -EAGAIN until it is done; poll_events says
 * which way the socket must be ready. A client either pins the server certificate by the SHA-256
 * of its DER encoding (what a ticket carries) or verifies it against the CA store and a host
 * name. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "byte-transport.h"

#define TLS_FINGERPRINT_SIZE 32
/* 64 hex digits and a NUL. */
#define TLS_FINGERPRINT_HEX_SIZE 65

typedef struct TlsContext TlsContext;

/* A server context with a certificate chain and its private key (PEM files). On failure returns
 * NULL and, if error is not NULL, a malloc'd sentence in *error. */
TlsContext *tls_server_context_new(const char *cert_pem, const char *key_pem, char **error);
/* A client context trusting the system's CA store (used only by connections without a pin, and
 * loaded by the first of them: pinned connections never pay the ~20 ms it takes). */
TlsContext *tls_client_context_new(char **error);
/* Also trusts the certificates of a PEM file (a private CA; tests). 0, or -EINVAL with *error. */
int tls_context_load_ca_file(TlsContext *ctx, const char *ca_pem, char **error);
/* Accepts NULL, returns NULL. Transports keep what they need of the context: it may go first. */
TlsContext *tls_context_free(TlsContext *ctx);

/* A transport over fd (non-blocking, connected or still connecting; owned from now on, closed on
 * failure too). Clients: pin_sha256 is the required fingerprint of the server certificate, or
 * NULL (or all zero, as a ticket says it) to verify the chain against the context's CA store and
 * the certificate against hostname (a DNS name or an IP address; required then). hostname, if
 * given, is also sent as SNI. Servers ignore both.
 * Returns 0, -EINVAL, or -ENOMEM.
 *
 * Errors from read/write: -EPERM when the server certificate was refused (fingerprint mismatch,
 * bad chain or name; tls_transport_error() says which), -EPROTO for anything else TLS refuses
 * (garbage, alerts from the peer, a version below 1.3), the socket's errno, 0 from read at the
 * end of the stream. Errors are sticky. */
int tls_transport_new(TlsContext *ctx, int fd, bool server, const uint8_t pin_sha256[TLS_FINGERPRINT_SIZE],
                      const char *hostname, ByteTransport **ret);
/* The reason of the last failure, or NULL; also NULL for a transport that is not TLS. */
const char *tls_transport_error(ByteTransport *t);
bool tls_transport_handshake_done(ByteTransport *t);

/* The SHA-256 of a PEM certificate's DER encoding: what tickets pin. 0, -ENOENT/-EACCES...,
 * or -EINVAL for a file without a certificate. */
int tls_cert_fingerprint_file(const char *cert_pem, uint8_t out[TLS_FINGERPRINT_SIZE]);
void tls_fingerprint_to_hex(const uint8_t fp[TLS_FINGERPRINT_SIZE], char out[TLS_FINGERPRINT_HEX_SIZE]);

/* Writes a new P-256 key (mode 0600) and a self-signed certificate for it (0644), valid from an hour
 * ago for ten years, with common_name as CN and subjectAltName (a DNS name of letters, digits,
 * '-' and '.', or an IP address). Each file is replaced atomically. 0, -EINVAL, -ENOMEM, -EIO or
 * the errno of writing. */
int tls_generate_self_signed(const char *cert_pem_out, const char *key_pem_out, const char *common_name);
