/* DTLS 1.2 contexts and endpoints over OpenSSL, without sockets (see dtls.h).
 *
 * Each SSL object talks to a BIO of our own (OpenSSL 3.0 has no BIO_s_dgram_mem): a read returns
 * the one datagram being fed, a write queues one datagram in a bounded ring. The link MTU is the
 * datagram budget itself (the BIO reports no header overhead), so every flight is cut into
 * datagrams of at most DTLS_DATAGRAM_MAX bytes.
 *
 * Retransmission timer. OpenSSL measures it on its own clock (gettimeofday) and offers no way to
 * fire it early; the timer callback only chooses durations. So the callback always asks for an
 * hour (OpenSSL never fires by itself) while the endpoint keeps the real schedule (1 s doubling
 * to 60 s) in the caller's clock. When that is due, on_timeout moves OpenSSL's deadline into the
 * past and calls DTLSv1_handle_timeout(). OpenSSL 3.0 and 3.1 hand the BIO a pointer to that
 * deadline (BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT from dtls1_start_timer()); the pointer is used only
 * on those versions and only while DTLSv1_get_timeout() agrees with what it points to. Anywhere
 * else the callback returns the real durations and OpenSSL's own clock decides. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/opensslv.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "dtls-internal.h"
#include "tls-internal.h"

#define DTLS_TX_SLOTS 16
#define DTLS_RX_SLOTS 16
#define DTLS_RTO_INITIAL_USEC (1000ULL * 1000)
#define DTLS_RTO_MAX_USEC (60ULL * 1000 * 1000)
/* What the timer callback asks OpenSSL for when our clock drives the timer. */
#define DTLS_OPENSSL_TIMER_USEC (3600U * 1000 * 1000)
#define DTLS_RECORD_HEADER 13

/* ECDHE and AEAD only, ChaCha20-Poly1305 first: its nonce comes from the record sequence number
 * (RFC 7905), where TLS 1.2's AES-GCM sends an 8-byte explicit nonce in every record. That is 29
 * bytes of record overhead instead of 37: 0.7% of a 1200-byte datagram, 2.7% of the 300-byte
 * ones rudp sends to keep small messages quick on slow links; its CPU cost (~1-2 GB/s per core
 * with AVX2) is far below what the links we pace to need. AES-GCM stays for peers without it.
 * RSA variants so a host whose administrator installed an RSA certificate still works. */
static const char dtls_ciphers[] = "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:"
                                   "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:"
                                   "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384";

struct DtlsEndpoint {
        DtlsContext *ctx;
        SSL *ssl;
        DtlsPeerRef ref;
        DtlsIo io;
        bool server;
        bool listening; /* server: its own DTLSv1_listen() has not yet seen the cookie */
        bool established;
        bool closed;
        bool pinned;
        bool refused; /* the verify callback refused the server certificate */
        bool timer_pointer_ok;
        int fatal;
        uint8_t pin[DTLS_PIN_SIZE];
        uint64_t now;           /* the caller's clock, as last passed in */
        uint64_t rto;           /* the current retransmission interval */
        uint64_t retransmit_at; /* in the caller's clock */
        size_t budget, overhead;
        DtlsStats stats;
        char error[256];

        uint8_t tx[DTLS_TX_SLOTS][DTLS_DATAGRAM_MAX];
        uint16_t tx_len[DTLS_TX_SLOTS];
        uint8_t rx[DTLS_RX_SLOTS][DTLS_DATAGRAM_MAX];
        uint16_t rx_len[DTLS_RX_SLOTS];
        unsigned rx_head, rx_count;
};

static bool timer_pointer_usable(void) {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L && OPENSSL_VERSION_NUMBER < 0x30200000L
        unsigned long v = OpenSSL_version_num();
        return v >= 0x30000000L && v < 0x30200000L;
#else
        return false;
#endif
}

/* Empties OpenSSL's error queue, which SSL_get_error() needs empty; ERR_clear_error() itself
 * costs a tenth of a record's time, so only when there is something to clear. */
static void err_clear(void) {
        if (ERR_peek_error() != 0)
                ERR_clear_error();
}

/* --- the datagram BIO ------------------------------------------------------------------------- */

static int bio_dgram_write(BIO *b, const char *data, int len) {
        DtlsIo *io = BIO_get_data(b);

        BIO_clear_retry_flags(b);
        if (len <= 0)
                return 0;
        /* A full ring or an oversized datagram is a datagram lost on the way: DTLS recovers. */
        if ((size_t) len > DTLS_DATAGRAM_MAX || io->tx_count == io->tx_slots) {
                io->queue_drops++;
                return len;
        }
        unsigned i = (io->tx_head + io->tx_count) % io->tx_slots;
        memcpy(io->tx[i], data, (size_t) len);
        io->tx_len[i] = (uint16_t) len;
        io->tx_count++;
        return len;
}

static int bio_dgram_read(BIO *b, char *data, int len) {
        DtlsIo *io = BIO_get_data(b);

        BIO_clear_retry_flags(b);
        if (!io->rx || len <= 0) {
                BIO_set_retry_read(b);
                return -1;
        }
        size_t n = MIN((size_t) len, io->rx_len);
        memcpy(data, io->rx, n);
        io->rx = NULL;
        return (int) n;
}

static long bio_dgram_ctrl(BIO *b, int cmd, long num, void *ptr) {
        DtlsIo *io = BIO_get_data(b);

        switch (cmd) {
        case BIO_CTRL_FLUSH:
        case BIO_CTRL_DGRAM_SET_DONT_FRAG:
                return 1;
        case BIO_CTRL_DGRAM_QUERY_MTU:
        case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
        case BIO_CTRL_DGRAM_GET_MTU:
                return DTLS_DATAGRAM_MAX;
        case BIO_CTRL_DGRAM_SET_MTU:
                return num;
        case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD: /* the budget is the UDP payload itself */
        case BIO_CTRL_DGRAM_MTU_EXCEEDED:
        case BIO_CTRL_DGRAM_GET_PEER: /* the caller knows the peer; DTLSv1_listen() clears it */
        case BIO_CTRL_PENDING:
        case BIO_CTRL_WPENDING:
                return 0;
        case BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT:
                if (io && ptr) {
                        struct timeval *tv = ptr;
                        io->deadline = tv;
                        io->timer_running = tv->tv_sec != 0 || tv->tv_usec != 0;
                }
                return 0;
        default:
                return 0;
        }
}

static BIO_METHOD *bio_method(void) {
        static BIO_METHOD *m; /* built once, kept for the process */

        if (!m)
                m = tls_bio_method_new("tandem datagrams", bio_dgram_write, bio_dgram_read, bio_dgram_ctrl);
        return m;
}

/* An SSL object on a new datagram BIO over io, with ref as its app data. */
static SSL *ssl_new(DtlsContext *ctx, DtlsIo *io, DtlsPeerRef *ref) {
        BIO_METHOD *method = bio_method();
        SSL *ssl;
        BIO *bio;

        if (!method || !(ssl = SSL_new(ctx->ssl_ctx)))
                return NULL;
        if (!(bio = BIO_new(method))) {
                SSL_free(ssl);
                return NULL;
        }
        BIO_set_data(bio, io);
        SSL_set_bio(ssl, bio, bio); /* one reference, taken by the SSL */
        SSL_set_app_data(ssl, ref);
        SSL_set_options(ssl, SSL_OP_NO_QUERY_MTU);
        (void) DTLS_set_link_mtu(ssl, DTLS_DATAGRAM_MAX);
        return ssl;
}

/* Whether d is a sequence of complete DTLS record headers and bodies, each protected record
 * (epoch above 0) at least min_protected bytes long: anything else is dropped before OpenSSL sees
 * it. The length floor matters: OpenSSL 3.0 takes an AEAD record shorter than its nonce and tag
 * for an internal error and ends the association, which would let anyone who can spoof a
 * datagram kill it. With strict_version only DTLS 1.2 records pass: OpenSSL 3.0 skips the header
 * of a record of another version but not its body, which it then parses as records, so a short
 * protected record could hide inside. */
static bool records_well_formed(const uint8_t *d, size_t n, size_t min_protected, bool strict_version) {
        if (!d || n < DTLS_RECORD_HEADER)
                return false;
        while (n > 0) {
                if (n < DTLS_RECORD_HEADER)
                        return false;
                /* change_cipher_spec, alert, handshake, application_data; DTLS 1.0 or 1.2. */
                if (d[0] < 20 || d[0] > 23 || d[1] != 0xfe || (d[2] != 0xfd && (strict_version || d[2] != 0xff)))
                        return false;
                size_t len = ((size_t) d[11] << 8) | d[12];
                bool is_protected = d[3] != 0 || d[4] != 0;
                if (len > n - DTLS_RECORD_HEADER || (is_protected && len < min_protected))
                        return false;
                d += DTLS_RECORD_HEADER + len;
                n -= DTLS_RECORD_HEADER + len;
        }
        return true;
}

/* Copies a valid peer address (dtls_peer_valid()) into ref. */
static void peer_set(DtlsPeerRef *ref, const struct sockaddr *peer) {
        ref->addr_len = peer->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
        memset(&ref->addr, 0, sizeof(ref->addr));
        memcpy(&ref->addr, peer, ref->addr_len);
}

/* --- contexts --------------------------------------------------------------------------------- */

static DtlsContext *context_ref(DtlsContext *ctx) {
        ctx->n_ref++;
        return ctx;
}

DtlsContext *dtls_context_free(DtlsContext *ctx) {
        if (!ctx || --ctx->n_ref > 0)
                return NULL;
        SSL_free(ctx->listener);
        BIO_ADDR_free(ctx->listen_addr);
        dtls_cookie_done(ctx);
        SSL_CTX_free(ctx->ssl_ctx);
        free(ctx);
        return NULL;
}

static DtlsContext *context_new(bool server, char **error) {
        DtlsContext *c = calloc(1, sizeof(DtlsContext));

        if (!c) {
                if (error)
                        *error = strdup("out of memory");
                return NULL;
        }
        err_clear();
        c->n_ref = 1;
        c->server = server;
        c->ssl_ctx = SSL_CTX_new(server ? DTLS_server_method() : DTLS_client_method());
        if (!c->ssl_ctx || !SSL_CTX_set_min_proto_version(c->ssl_ctx, DTLS1_2_VERSION) ||
            !SSL_CTX_set_max_proto_version(c->ssl_ctx, DTLS1_2_VERSION) ||
            SSL_CTX_set_cipher_list(c->ssl_ctx, dtls_ciphers) != 1 ||
            SSL_CTX_set1_groups_list(c->ssl_ctx, "X25519:P-256") != 1) {
                tls_context_error(error, "unknown error", "cannot create a DTLS context");
                return dtls_context_free(c);
        }
        /* Sessions resume at our own layer, never DTLS's; renegotiation is never needed. */
        SSL_CTX_set_session_cache_mode(c->ssl_ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(c->ssl_ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_QUERY_MTU |
                                                SSL_OP_CIPHER_SERVER_PREFERENCE);
        return c;
}

DtlsContext *dtls_server_context_new(const char *cert_pem, const char *key_pem, char **error) {
        DtlsContext *c = context_new(true, error);

        if (!c)
                return NULL;
        if (tls_ctx_use_cert_key(c->ssl_ctx, cert_pem, key_pem, error) < 0)
                return dtls_context_free(c);
        SSL_CTX_set_cookie_generate_cb(c->ssl_ctx, dtls_cookie_generate_cb);
        SSL_CTX_set_cookie_verify_cb(c->ssl_ctx, dtls_cookie_verify_cb);
        c->listen_io = (DtlsIo) { .tx = c->listen_tx, .tx_len = c->listen_tx_len, .tx_slots = 1 };
        c->listen_ref = (DtlsPeerRef) { .ctx = c };
        if (dtls_cookie_init(c) < 0 || !(c->listen_addr = BIO_ADDR_new()) ||
            !(c->listener = ssl_new(c, &c->listen_io, &c->listen_ref))) {
                tls_context_error(error, "out of memory", "cannot set up the DTLS cookie exchange");
                return dtls_context_free(c);
        }
        err_clear();
        return c;
}

/* Clients: a pinned endpoint trusts exactly one certificate, whatever signed it; an unpinned one
 * (tests) trusts any. */
static int verify_server(X509_STORE_CTX *sctx, void *arg) {
        SSL *ssl = X509_STORE_CTX_get_ex_data(sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
        DtlsPeerRef *ref = ssl ? SSL_get_app_data(ssl) : NULL;
        DtlsEndpoint *e = ref ? ref->endpoint : NULL;

        (void) arg;
        if (!e)
                return 0;
        if (e->pinned && !tls_cert_matches_pin(X509_STORE_CTX_get0_cert(sctx), e->pin, e->error, sizeof(e->error))) {
                e->refused = true;
                X509_STORE_CTX_set_error(sctx, X509_V_ERR_APPLICATION_VERIFICATION);
                return 0;
        }
        return 1;
}

DtlsContext *dtls_client_context_new(char **error) {
        DtlsContext *c = context_new(false, error);

        if (!c)
                return NULL;
        SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_cert_verify_callback(c->ssl_ctx, verify_server, NULL);
        return c;
}

int dtls_cookie_check(DtlsContext *ctx, const struct sockaddr *peer, socklen_t peer_len, const uint8_t *dgram,
                      size_t n, uint8_t *reply, size_t reply_size, size_t *reply_len) {
        int r;

        if (reply_len)
                *reply_len = 0;
        /* Only handshake records can start a ClientHello. */
        if (!ctx || !ctx->server || !dtls_peer_valid(peer, peer_len) || !records_well_formed(dgram, n, 0, false) ||
            dgram[0] != 22)
                return 0;
        peer_set(&ctx->listen_ref, peer);
        ctx->listen_io.rx = dgram;
        ctx->listen_io.rx_len = n;
        ctx->listen_io.tx_head = ctx->listen_io.tx_count = 0;

        err_clear();
        r = DTLSv1_listen(ctx->listener, ctx->listen_addr);
        err_clear();
        ctx->listen_io.rx = NULL;
        if (r == 1)
                return 1;
        if (ctx->listen_io.tx_count > 0 && reply && reply_len && ctx->listen_tx_len[0] <= reply_size) {
                memcpy(reply, ctx->listen_tx[0], ctx->listen_tx_len[0]);
                *reply_len = ctx->listen_tx_len[0];
        }
        return 0;
}

/* --- endpoints -------------------------------------------------------------------------------- */

/* OpenSSL starts or backs off its timer: keep the schedule in the caller's clock. */
static unsigned int timer_cb(SSL *ssl, unsigned int previous_usec) {
        DtlsPeerRef *ref = SSL_get_app_data(ssl);
        DtlsEndpoint *e = ref ? ref->endpoint : NULL;

        if (!e)
                return DTLS_OPENSSL_TIMER_USEC;
        e->rto = previous_usec == 0 ? DTLS_RTO_INITIAL_USEC : MIN(e->rto * 2, DTLS_RTO_MAX_USEC);
        e->retransmit_at = e->now + e->rto;
        return e->timer_pointer_ok ? DTLS_OPENSSL_TIMER_USEC : (unsigned int) e->rto;
}

static int endpoint_new(DtlsContext *ctx, bool server, uint64_t now_usec, DtlsEndpoint **ret) {
        DtlsEndpoint *e;

        if (!ctx || ctx->server != server || !ret)
                return -EINVAL;
        e = calloc(1, sizeof(DtlsEndpoint));
        if (!e)
                return -ENOMEM;
        e->ctx = context_ref(ctx);
        e->server = server;
        e->now = now_usec;
        e->rto = DTLS_RTO_INITIAL_USEC;
        e->retransmit_at = UINT64_MAX;
        e->budget = DTLS_DATAGRAM_MAX;
        e->timer_pointer_ok = timer_pointer_usable();
        e->io = (DtlsIo) { .tx = e->tx, .tx_len = e->tx_len, .tx_slots = DTLS_TX_SLOTS };
        e->ref = (DtlsPeerRef) { .ctx = ctx, .endpoint = e };
        err_clear();
        e->ssl = ssl_new(ctx, &e->io, &e->ref);
        if (!e->ssl) {
                err_clear();
                dtls_endpoint_free(e);
                return -ENOMEM;
        }
        DTLS_set_timer_cb(e->ssl, timer_cb);
        *ret = e;
        return 0;
}

DtlsEndpoint *dtls_endpoint_free(DtlsEndpoint *e) {
        if (!e)
                return NULL;
        SSL_free(e->ssl);
        err_clear();
        dtls_context_free(e->ctx);
        free(e);
        return NULL;
}

static int fail(DtlsEndpoint *e, int r, const char *fmt, const char *what) {
        if (!e->error[0])
                snprintf(e->error, sizeof(e->error), fmt, what);
        return e->fatal = r;
}

/* Maps a failed SSL call: 0 when it only waits for more datagrams, else the sticky error. */
static int map_error(DtlsEndpoint *e, int n) {
        char code[32];

        switch (SSL_get_error(e->ssl, n)) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
                err_clear();
                return 0;
        case SSL_ERROR_ZERO_RETURN:
                err_clear();
                return fail(e, -ECONNRESET, "%s", "DTLS: the peer closed the association");
        default:
                if (e->refused) {
                        err_clear();
                        return fail(e, -EPERM, "%s", "DTLS: server certificate refused");
                }
                return fail(e, -EPROTO, "DTLS: %s", tls_openssl_reason(code, "protocol error"));
        }
}

static void on_established(DtlsEndpoint *e) {
        const SSL_CIPHER *c = SSL_get_current_cipher(e->ssl);

        e->established = true;
        e->retransmit_at = UINT64_MAX;
        /* Header, then ChaCha20-Poly1305's tag, or GCM's explicit nonce and tag. */
        e->overhead = DTLS_RECORD_HEADER + (c && SSL_CIPHER_get_cipher_nid(c) == NID_chacha20_poly1305 ? 16 : 8 + 16);
}

/* Every plaintext record the datagram held, into the bounded queue. */
static int read_records(DtlsEndpoint *e) {
        uint8_t buf[SSL3_RT_MAX_PLAIN_LENGTH];

        for (;;) {
                err_clear();
                int n = SSL_read(e->ssl, buf, sizeof(buf));
                if (n <= 0)
                        return map_error(e, n);
                e->stats.records_in++;
                if ((size_t) n > DTLS_DATAGRAM_MAX) {
                        e->stats.dropped++; /* larger than any datagram we agreed on */
                        continue;
                }
                if (e->rx_count == DTLS_RX_SLOTS) {
                        e->io.queue_drops++;
                        continue;
                }
                unsigned i = (e->rx_head + e->rx_count) % DTLS_RX_SLOTS;
                memcpy(e->rx[i], buf, (size_t) n);
                e->rx_len[i] = (uint16_t) n;
                e->rx_count++;
                /* The datagram was taken and no record of it is left: another SSL_read() would
                 * only fail (a sixth of a record's cost). */
                if (!e->io.rx && !SSL_has_pending(e->ssl))
                        return 0;
        }
}

/* Runs the handshake or reads records, after a datagram was put in front of the BIO. */
static int drive(DtlsEndpoint *e) {
        int r;

        if (e->listening) {
                err_clear();
                r = DTLSv1_listen(e->ssl, e->ctx->listen_addr);
                err_clear();
                if (r != 1)
                        return 0; /* a HelloVerifyRequest was queued, or the datagram was dropped */
                e->listening = false;
                DTLS_set_timer_cb(e->ssl, timer_cb);
        }
        if (!e->established) {
                err_clear();
                r = SSL_do_handshake(e->ssl);
                if (r == 1)
                        on_established(e);
                else
                        return map_error(e, r);
        }
        return read_records(e);
}

int dtls_endpoint_new_server(DtlsContext *ctx, const struct sockaddr *peer, socklen_t peer_len, uint64_t now_usec,
                             DtlsEndpoint **ret) {
        DtlsEndpoint *e;
        int r;

        if (!dtls_peer_valid(peer, peer_len))
                return -EINVAL;
        r = endpoint_new(ctx, true, now_usec, &e);
        if (r < 0)
                return r;
        peer_set(&e->ref, peer);
        /* The endpoint checks the cookie again on its own SSL object, which then continues
         * where the exchange left off (message and record numbers). */
        e->listening = true;
        *ret = e;
        return 0;
}

int dtls_endpoint_new_client(DtlsContext *ctx, const uint8_t pin_sha256[DTLS_PIN_SIZE], uint64_t now_usec,
                             DtlsEndpoint **ret) {
        DtlsEndpoint *e;
        int r;

        r = endpoint_new(ctx, false, now_usec, &e);
        if (r < 0)
                return r;
        pin_sha256 = tls_pin_or_null(pin_sha256);
        if (pin_sha256) {
                e->pinned = true;
                memcpy(e->pin, pin_sha256, DTLS_PIN_SIZE);
        }
        SSL_set_connect_state(e->ssl);
        r = drive(e); /* the ClientHello */
        if (r < 0) {
                dtls_endpoint_free(e);
                return -ENOMEM;
        }
        *ret = e;
        return 0;
}

/* The shortest protected record that can be genuine: the AEAD's expansion once the cipher is
 * known, ChaCha20-Poly1305's tag (the smallest of ours) before. */
static size_t protected_min(const DtlsEndpoint *e) {
        return e->established ? e->overhead - DTLS_RECORD_HEADER : 16;
}

int dtls_endpoint_feed(DtlsEndpoint *e, const uint8_t *d, size_t n, uint64_t now_usec) {
        uint64_t records_before = e->stats.records_in;
        unsigned tx_before = e->io.tx_count;
        bool was_established = e->established;
        int r;

        if (e->fatal < 0)
                return e->fatal;
        e->now = now_usec;
        if (!records_well_formed(d, n, protected_min(e), e->established)) {
                e->stats.dropped++;
                return 0;
        }
        e->io.rx = d;
        e->io.rx_len = n;
        r = drive(e);
        e->io.rx = NULL;
        if (r < 0)
                return r;
        /* Nothing decrypted, nothing answered, no step in the handshake: dropped by DTLS (bad MAC,
         * replay, old epoch, ...) or by the listen step. */
        if (e->stats.records_in == records_before && e->io.tx_count == tx_before && was_established == e->established &&
            (e->established || e->listening))
                e->stats.dropped++;
        return 0;
}

ssize_t dtls_endpoint_pull(DtlsEndpoint *e, uint8_t *out, size_t size) {
        if (e->io.tx_count == 0)
                return 0;
        size_t n = e->tx_len[e->io.tx_head];
        if (n > size)
                return -ENOBUFS;
        memcpy(out, e->tx[e->io.tx_head], n);
        e->io.tx_head = (e->io.tx_head + 1) % DTLS_TX_SLOTS;
        e->io.tx_count--;
        return (ssize_t) n;
}

bool dtls_endpoint_established(const DtlsEndpoint *e) {
        return e->established && e->fatal == 0;
}

size_t dtls_endpoint_max_plaintext(const DtlsEndpoint *e) {
        return e->established ? e->budget - e->overhead : 0;
}

void dtls_endpoint_set_budget(DtlsEndpoint *e, size_t datagram_bytes) {
        e->budget = MIN(MAX(datagram_bytes, (size_t) DTLS_DATAGRAM_MIN), (size_t) DTLS_DATAGRAM_MAX);
}

int dtls_endpoint_write(DtlsEndpoint *e, const uint8_t *d, size_t n) {
        int r;

        if (e->fatal < 0)
                return e->fatal;
        if (e->closed)
                return -ESHUTDOWN;
        if (!e->established)
                return -ENOTCONN;
        if (n > dtls_endpoint_max_plaintext(e))
                return -EMSGSIZE;
        if (n == 0)
                return 0;
        err_clear();
        r = SSL_write(e->ssl, d, (int) n);
        if (r == (int) n) {
                e->stats.records_out++;
                return 0;
        }
        r = map_error(e, r);
        return r < 0 ? r : fail(e, -EPROTO, "%s", "DTLS: a record could not be written");
}

ssize_t dtls_endpoint_read(DtlsEndpoint *e, uint8_t *buf, size_t size) {
        if (e->rx_count == 0)
                return 0;
        size_t n = e->rx_len[e->rx_head];
        if (n > size)
                return -ENOBUFS;
        memcpy(buf, e->rx[e->rx_head], n);
        e->rx_head = (e->rx_head + 1) % DTLS_RX_SLOTS;
        e->rx_count--;
        return (ssize_t) n;
}

uint64_t dtls_endpoint_next_timeout(const DtlsEndpoint *e) {
        /* Once established, a lost last flight is answered when the peer sends its own again. */
        if (e->fatal < 0 || e->established || e->listening || !e->io.timer_running)
                return UINT64_MAX;
        return e->retransmit_at;
}

/* Whether io->deadline still points at OpenSSL's deadline: it must say what DTLSv1_get_timeout()
 * says, to the second. */
static bool timer_pointer_agrees(DtlsEndpoint *e) {
        struct timeval left, now;

        if (!e->io.deadline || DTLSv1_get_timeout(e->ssl, &left) != 1)
                return false;
        gettimeofday(&now, NULL);
        long long at = (long long) e->io.deadline->tv_sec * 1000000 + e->io.deadline->tv_usec;
        long long want = ((long long) now.tv_sec + left.tv_sec) * 1000000 + now.tv_usec + left.tv_usec;
        return llabs(at - want) < 2000000;
}

void dtls_endpoint_on_timeout(DtlsEndpoint *e, uint64_t now_usec) {
        int r;

        e->now = now_usec;
        if (dtls_endpoint_next_timeout(e) > now_usec)
                return;
        if (e->timer_pointer_ok) {
                if (timer_pointer_agrees(e))
                        *e->io.deadline = (struct timeval) { .tv_sec = 1 }; /* long past, still "set" */
                else
                        e->timer_pointer_ok = false; /* from the next flight on, OpenSSL's clock */
        }
        err_clear();
        r = DTLSv1_handle_timeout(e->ssl);
        if (r > 0)
                e->stats.handshake_retransmits++;
        else if (r < 0) {
                char code[32];
                fail(e, -ETIMEDOUT, "DTLS handshake: %s", tls_openssl_reason(code, "no answer"));
                return;
        } else
                e->retransmit_at = now_usec + e->rto; /* OpenSSL's clock is not there yet */
        err_clear();
}

void dtls_endpoint_close(DtlsEndpoint *e) {
        if (e->closed)
                return;
        e->closed = true;
        if (e->established && e->fatal == 0) {
                err_clear();
                (void) SSL_shutdown(e->ssl);
                err_clear();
        }
}

const char *dtls_endpoint_error(const DtlsEndpoint *e) {
        return e->error[0] ? e->error : NULL;
}

const struct sockaddr *dtls_endpoint_peer(const DtlsEndpoint *e, socklen_t *len) {
        if (!e->server)
                return NULL;
        if (len)
                *len = e->ref.addr_len;
        return (const struct sockaddr *) &e->ref.addr;
}

const char *dtls_endpoint_cipher(const DtlsEndpoint *e) {
        return e->established ? SSL_get_cipher_name(e->ssl) : NULL;
}

void dtls_endpoint_stats(const DtlsEndpoint *e, DtlsStats *ret) {
        *ret = e->stats;
        ret->queue_drops = e->io.queue_drops;
}
