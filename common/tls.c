/* TLS 1.3 contexts and transports over OpenSSL.
 *
 * The socket is driven through our own BIO rather than OpenSSL's socket BIO: it sends with
 * MSG_NOSIGNAL (OpenSSL's uses write(), and a viewer embedding the library may not ignore SIGPIPE)
 * and keeps errno for the error mapping. Writes use partial-write and moving-buffer modes: the
 * caller's buffer is a WireConn output that grows and moves between retries. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "macro.h"
#include "tls-internal.h"

struct TlsContext {
        SSL_CTX *ctx;
        bool server;
        bool ca_store_loaded; /* clients: the system's CA store, loaded when first needed */
};

typedef struct TlsTransport {
        ByteTransport base;
        SSL *ssl;
        int fd;
        bool server;
        bool handshake_done;
        bool pinned;
        bool refused;  /* the verify callback refused the server certificate */
        bool eof;      /* the socket read 0 */
        int sys_errno; /* of the last failed socket call */
        int fatal;     /* sticky error, 0 if none */
        uint32_t read_want, write_want;
        uint8_t pin[TLS_FINGERPRINT_SIZE];
        char error[256];
} TlsTransport;

static const ByteTransportOps tls_ops;

/* --- the socket BIO --------------------------------------------------------------------------- */

static int bio_sock_write(BIO *b, const char *data, int len) {
        TlsTransport *t = BIO_get_data(b);
        ssize_t n;

        BIO_clear_retry_flags(b);
        do
                n = send(t->fd, data, (size_t) len, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
                t->sys_errno = errno;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                        BIO_set_retry_write(b);
                return -1;
        }
        return (int) n;
}

static int bio_sock_read(BIO *b, char *data, int len) {
        TlsTransport *t = BIO_get_data(b);
        ssize_t n;

        BIO_clear_retry_flags(b);
        do
                n = recv(t->fd, data, (size_t) len, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
                t->sys_errno = errno;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                        BIO_set_retry_read(b);
                return -1;
        }
        if (n == 0)
                t->eof = true;
        return (int) n;
}

static long bio_sock_ctrl(BIO *b, int cmd, long num, void *ptr) {
        TlsTransport *t = BIO_get_data(b);

        switch (cmd) {
        case BIO_CTRL_FLUSH: /* writes go straight to the socket */
                return 1;
        case BIO_CTRL_EOF:
                return t && t->eof;
        default:
                return 0;
        }
}

static BIO_METHOD *bio_method(void) {
        static BIO_METHOD *m; /* built once, kept for the process */

        if (!m)
                m = tls_bio_method_new("tandem socket", bio_sock_write, bio_sock_read, bio_sock_ctrl);
        return m;
}

/* --- contexts --------------------------------------------------------------------------------- */

static TlsContext *context_new(bool server, char **error) {
        TlsContext *c = calloc(1, sizeof(TlsContext));
        if (!c) {
                if (error)
                        *error = strdup("out of memory");
                return NULL;
        }
        ERR_clear_error();
        c->server = server;
        c->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
        if (!c->ctx || !SSL_CTX_set_min_proto_version(c->ctx, TLS1_3_VERSION)) {
                tls_context_error(error, "unknown error", "cannot create a TLS context");
                return tls_context_free(c);
        }
        SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        /* Sessions resume at our own layer (tickets, session tokens), never TLS's. */
        SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(c->ctx, SSL_OP_NO_TICKET);
        return c;
}

TlsContext *tls_server_context_new(const char *cert_pem, const char *key_pem, char **error) {
        TlsContext *c = context_new(true, error);

        if (!c)
                return NULL;
        (void) SSL_CTX_set_num_tickets(c->ctx, 0);
        if (tls_ctx_use_cert_key(c->ctx, cert_pem, key_pem, error) < 0)
                return tls_context_free(c);
        return c;
}

/* Clients: a pinned connection trusts exactly one certificate, whatever signed it; the others
 * get OpenSSL's chain and host name verification. */
static int verify_server(X509_STORE_CTX *sctx, void *arg) {
        SSL *ssl = X509_STORE_CTX_get_ex_data(sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
        TlsTransport *t = ssl ? SSL_get_app_data(ssl) : NULL;

        if (!t)
                return 0;
        if (t->pinned) {
                if (!tls_cert_matches_pin(X509_STORE_CTX_get0_cert(sctx), t->pin, t->error, sizeof(t->error))) {
                        t->refused = true;
                        X509_STORE_CTX_set_error(sctx, X509_V_ERR_APPLICATION_VERIFICATION);
                        return 0;
                }
                return 1;
        }
        if (X509_verify_cert(sctx) != 1) {
                t->refused = true;
                snprintf(t->error, sizeof(t->error), "server certificate refused: %s",
                         X509_verify_cert_error_string(X509_STORE_CTX_get_error(sctx)));
                return 0;
        }
        return 1;
}

TlsContext *tls_client_context_new(char **error) {
        TlsContext *c = context_new(false, error);

        if (!c)
                return NULL;
        /* The system's CA store is loaded by the first connection without a pin: parsing it takes
         * ~20 ms, which pinned connections (every ticket's) need not pay. */
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_cert_verify_callback(c->ctx, verify_server, NULL);
        return c;
}

int tls_context_load_ca_file(TlsContext *ctx, const char *ca_pem, char **error) {
        ERR_clear_error();
        if (SSL_CTX_load_verify_locations(ctx->ctx, ca_pem, NULL) != 1) {
                tls_context_error(error, "invalid file", "cannot load CA certificates from %s", ca_pem);
                return -EINVAL;
        }
        return 0;
}

TlsContext *tls_context_free(TlsContext *ctx) {
        if (ctx) {
                SSL_CTX_free(ctx->ctx);
                free(ctx);
        }
        return NULL;
}

/* --- transports ------------------------------------------------------------------------------- */

/* Maps a failed SSL call's result: -EAGAIN with *want set, 0 for the end of the stream, or a
 * (sticky) error with t->error filled. */
static int map_error(TlsTransport *t, int n, uint32_t *want) {
        int e = SSL_get_error(t->ssl, n);

        switch (e) {
        case SSL_ERROR_WANT_READ:
                *want = EPOLLIN;
                return -EAGAIN;
        case SSL_ERROR_WANT_WRITE:
                *want = EPOLLOUT;
                return -EAGAIN;
        case SSL_ERROR_ZERO_RETURN: /* close_notify */
                ERR_clear_error();
                return 0;
        case SSL_ERROR_SYSCALL:
                if (t->sys_errno != 0 && t->sys_errno != EAGAIN && t->sys_errno != EWOULDBLOCK) {
                        snprintf(t->error, sizeof(t->error), "TLS socket: %s", strerror(t->sys_errno));
                        ERR_clear_error();
                        return t->fatal = -t->sys_errno;
                }
                ERR_clear_error();
                return 0; /* the peer closed without close_notify */
        case SSL_ERROR_SSL:
        default:
                if (t->refused) {
                        ERR_clear_error();
                        return t->fatal = -EPERM;
                }
                if (ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
                        ERR_clear_error();
                        return 0; /* framing above tells a cut frame from a clean end */
                }
                char code[32];
                snprintf(t->error, sizeof(t->error), "TLS: %s", tls_openssl_reason(code, "protocol error"));
                return t->fatal = -EPROTO;
        }
}

/* Drives the handshake; want is the slot of the operation that asked. 0 once done. */
static int handshake(TlsTransport *t, uint32_t *want) {
        int n, r;

        ERR_clear_error();
        t->sys_errno = 0;
        n = SSL_do_handshake(t->ssl);
        if (n == 1) {
                t->handshake_done = true;
                t->read_want = t->write_want = 0;
                return 0;
        }
        r = map_error(t, n, want);
        if (r == 0) {
                snprintf(t->error, sizeof(t->error), "connection closed during the TLS handshake");
                return t->fatal = -ECONNRESET;
        }
        return r;
}

static ssize_t tls_read(ByteTransport *bt, void *buf, size_t n) {
        TlsTransport *t = (TlsTransport *) bt;
        int r;

        if (t->fatal < 0)
                return t->fatal;
        if (!t->handshake_done) {
                r = handshake(t, &t->read_want);
                if (r < 0)
                        return r;
        }
        ERR_clear_error();
        t->sys_errno = 0;
        r = SSL_read(t->ssl, buf, (int) MIN(n, (size_t) INT32_MAX));
        if (r > 0) {
                t->read_want = 0;
                return r;
        }
        return map_error(t, r, &t->read_want);
}

static ssize_t tls_write(ByteTransport *bt, const void *buf, size_t n) {
        TlsTransport *t = (TlsTransport *) bt;
        int r;

        if (t->fatal < 0)
                return t->fatal;
        if (!t->handshake_done) {
                r = handshake(t, &t->write_want);
                if (r < 0)
                        return r;
        }
        ERR_clear_error();
        t->sys_errno = 0;
        r = SSL_write(t->ssl, buf, (int) MIN(n, (size_t) INT32_MAX));
        if (r > 0) {
                t->write_want = 0;
                return r;
        }
        r = map_error(t, r, &t->write_want);
        if (r == 0) {
                snprintf(t->error, sizeof(t->error), "TLS: the peer closed the connection");
                return t->fatal = -EPIPE;
        }
        return r;
}

static int tls_fd(ByteTransport *bt) {
        return ((TlsTransport *) bt)->fd;
}

static uint32_t tls_poll_events(ByteTransport *bt) {
        TlsTransport *t = (TlsTransport *) bt;
        return t->read_want | t->write_want;
}

static const char *tls_error(ByteTransport *bt) {
        TlsTransport *t = (TlsTransport *) bt;
        return t->error[0] ? t->error : NULL;
}

static void tls_free(ByteTransport *bt) {
        TlsTransport *t = (TlsTransport *) bt;

        if (t->ssl) {
                /* A polite close_notify if the socket takes it now; nobody waits for the answer. */
                if (t->handshake_done && t->fatal == 0) {
                        ERR_clear_error();
                        (void) SSL_shutdown(t->ssl);
                }
                ERR_clear_error();
                SSL_free(t->ssl);
        }
        closep(&t->fd);
        free(t);
}

static const ByteTransportOps tls_ops = {
        .read = tls_read,
        .write = tls_write,
        .fd = tls_fd,
        .poll_events = tls_poll_events,
        .free = tls_free,
        .error = tls_error,
};

int tls_transport_new(TlsContext *ctx, int fd, bool server, const uint8_t pin_sha256[TLS_FINGERPRINT_SIZE],
                      const char *hostname, ByteTransport **ret) {
        TlsTransport *t = NULL;
        BIO *bio = NULL;
        BIO_METHOD *method;
        int r = -ENOMEM;

        /* The ticket's all-zero fingerprint means the same as no pin. */
        pin_sha256 = tls_pin_or_null(pin_sha256);
        if (!ctx || server != ctx->server || (!server && !pin_sha256 && !hostname)) {
                r = -EINVAL;
                goto fail;
        }
        if (!server && !pin_sha256 && !ctx->ca_store_loaded) {
                /* A system without a CA store still connects: to hosts a loaded CA file vouches for. */
                (void) SSL_CTX_set_default_verify_paths(ctx->ctx);
                ERR_clear_error();
                ctx->ca_store_loaded = true;
        }
        method = bio_method();
        t = calloc(1, sizeof(TlsTransport));
        if (!method || !t)
                goto fail;
        *t = (TlsTransport) { .base.ops = &tls_ops, .fd = fd, .server = server };
        fd = -EBADF;

        ERR_clear_error();
        t->ssl = SSL_new(ctx->ctx);
        bio = BIO_new(method);
        if (!t->ssl || !bio)
                goto fail;
        BIO_set_data(bio, t);
        SSL_set_bio(t->ssl, bio, bio); /* one reference, taken by the SSL */
        bio = NULL;
        SSL_set_app_data(t->ssl, t);

        if (server)
                SSL_set_accept_state(t->ssl);
        else {
                struct in6_addr addr;
                bool is_ip = hostname && (inet_pton(AF_INET, hostname, &addr) == 1 || inet_pton(AF_INET6, hostname, &addr) == 1);

                SSL_set_connect_state(t->ssl);
                if (hostname && !is_ip && !SSL_set_tlsext_host_name(t->ssl, hostname)) {
                        r = -EINVAL;
                        goto fail;
                }
                if (pin_sha256) {
                        t->pinned = true;
                        memcpy(t->pin, pin_sha256, TLS_FINGERPRINT_SIZE);
                } else if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), hostname) != 1
                                 : SSL_set1_host(t->ssl, hostname) != 1) {
                        r = -EINVAL;
                        goto fail;
                }
        }
        ERR_clear_error();
        *ret = &t->base;
        return 0;

fail:
        ERR_clear_error();
        BIO_free(bio);
        if (t)
                tls_free(&t->base);
        else if (fd >= 0)
                close(fd);
        return r;
}

const char *tls_transport_error(ByteTransport *t) {
        return t && t->ops == &tls_ops ? tls_error(t) : NULL;
}

bool tls_transport_handshake_done(ByteTransport *t) {
        return t && t->ops == &tls_ops && ((TlsTransport *) t)->handshake_done;
}

void tls_fingerprint_to_hex(const uint8_t fp[TLS_FINGERPRINT_SIZE], char out[TLS_FINGERPRINT_HEX_SIZE]) {
        static const char hex[] = "0123456789abcdef";
        for (size_t i = 0; i < TLS_FINGERPRINT_SIZE; i++) {
                out[2 * i] = hex[fp[i] >> 4];
                out[2 * i + 1] = hex[fp[i] & 15];
        }
        out[2 * TLS_FINGERPRINT_SIZE] = 0;
}
