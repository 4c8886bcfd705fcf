/* What dtls.c and dtls-cookie.c share. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "dtls.h"

/* Two minutes per cookie slot; a cookie stays valid for its slot and the next. */
#define DTLS_COOKIE_SLOT_USEC (120ULL * 1000 * 1000)
#define DTLS_COOKIE_SIZE 32

/* The datagram queues of one SSL object, seen by its BIO: at most one datagram to read (the one
 * being fed), a bounded ring of datagrams written. */
typedef struct DtlsIo {
        const uint8_t *rx;
        size_t rx_len;
        uint8_t (*tx)[DTLS_DATAGRAM_MAX];
        uint16_t *tx_len;
        unsigned tx_slots, tx_head, tx_count;
        uint64_t queue_drops;
        /* OpenSSL's retransmission deadline as dtls1_start_timer() announces it (see dtls.c). */
        struct timeval *deadline;
        bool timer_running;
} DtlsIo;

/* Every SSL's app data: whose it is and the peer address its cookies are bound to. */
typedef struct DtlsPeerRef {
        DtlsContext *ctx;
        DtlsEndpoint *endpoint; /* NULL for the context's listener */
        struct sockaddr_storage addr;
        socklen_t addr_len;
} DtlsPeerRef;

struct DtlsContext {
        unsigned n_ref;
        bool server;
        SSL_CTX *ssl_ctx;

        /* Servers: the cookie secrets, [0] current and [1] previous, as keyed HMAC contexts. */
        EVP_MAC *mac;
        EVP_MAC_CTX *secret[2];
        uint64_t slot;
        bool have_secrets;
        uint64_t (*clock)(void *userdata);
        void *clock_userdata;

        /* Servers: the one SSL object every cookie exchange runs on. */
        SSL *listener;
        BIO_ADDR *listen_addr;
        DtlsIo listen_io;
        DtlsPeerRef listen_ref;
        uint8_t listen_tx[1][DTLS_DATAGRAM_MAX];
        uint16_t listen_tx_len[1];
};

int dtls_cookie_init(DtlsContext *ctx);
void dtls_cookie_done(DtlsContext *ctx);
int dtls_cookie_generate_cb(SSL *ssl, unsigned char *cookie, unsigned int *cookie_len);
int dtls_cookie_verify_cb(SSL *ssl, const unsigned char *cookie, unsigned int cookie_len);
/* Whether addr is an IPv4 or IPv6 socket address of at least its size. */
bool dtls_peer_valid(const struct sockaddr *addr, socklen_t len);
