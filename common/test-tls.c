/* TLS transports in one process over socketpairs: certificate files, the handshake and data both
 * ways (max-size frames through partial writes), pinning (a mismatch is -EPERM with the reason),
 * CA and host name verification, TLS below 1.3 refused, and garbage or a vanished peer ending in
 * an error, never a crash. */
#include "check.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "macro.h"
#include "tls.h"
#include "wire-conn.h"

static char dir[] = "/tmp/test-tls.XXXXXX";
static char cert[4096], key[4096], other_cert[4096], other_key[4096], ip_cert[4096], ip_key[4096];
static uint8_t fp[TLS_FINGERPRINT_SIZE], other_fp[TLS_FINGERPRINT_SIZE];
static TlsContext *server_ctx, *client_ctx;

static void socket_pair(int sv[2]) {
        check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
}

/* One side of a connection and what it has seen. */
typedef struct Side {
        WireConn *conn;
        int error;         /* first error of receive or flush */
        unsigned received; /* messages */
        WireMessage last;
        void (*on_message)(struct Side *s, const WireMessage *m);
} Side;

static void side_step(Side *s) {
        WireMessage m;
        int r;

        if (s->error < 0)
                return;
        while ((r = wire_conn_receive(s->conn, &m)) > 0) {
                s->received++;
                s->last = m;
                if (s->on_message)
                        s->on_message(s, &m);
        }
        if (r < 0) {
                s->error = r;
                return;
        }
        r = wire_conn_flush(s->conn);
        if (r < 0 && r != -EAGAIN)
                s->error = r;
}

/* Runs both sides until done(a, b) or both failed; polls the advertised events in between. */
static void pump(Side *a, Side *b, bool (*done)(Side *a, Side *b)) {
        for (int i = 0; i < 100000; i++) {
                side_step(a);
                side_step(b);
                if (done(a, b) || (a->error < 0 && b->error < 0))
                        return;
                struct pollfd p[2] = {
                        { .fd = a->error < 0 ? -1 : wire_conn_fd(a->conn), .events = (short) wire_conn_poll_events(a->conn) },
                        { .fd = b->error < 0 ? -1 : wire_conn_fd(b->conn), .events = (short) wire_conn_poll_events(b->conn) },
                };
                check(poll(p, 2, 5000) > 0);
        }
        check(!"pump did not finish");
}

static void connect_pair(TlsContext *sctx, const uint8_t *pin, const char *hostname, TlsContext *cctx, Side *client,
                         Side *server) {
        int sv[2];
        ByteTransport *tc, *ts;

        socket_pair(sv);
        check(tls_transport_new(sctx, sv[0], true, NULL, NULL, &ts) == 0);
        check(tls_transport_new(cctx, sv[1], false, pin, hostname, &tc) == 0);
        *client = (Side) {};
        *server = (Side) {};
        check(wire_conn_new(tc, 4u << 20, &client->conn) == 0);
        check(wire_conn_new(ts, 4u << 20, &server->conn) == 0);
        wire_conn_set_accept(client->conn, WIRE_DIR_S2C);
        wire_conn_set_accept(server->conn, WIRE_DIR_C2S);
}

static void send_hello(Side *client) {
        static uint8_t ticket[WIRE_HELLO_TICKET_MAX];
        memset(ticket, 'T', sizeof(ticket));
        check(wire_encode_hello(wire_conn_out(client->conn), &(WireHello) { .magic = WIRE_MAGIC, .version = WIRE_VERSION,
                                                                              .ticket = ticket, .ticket_len = sizeof(ticket) }) == 0);
}

static void test_files(void) {
        struct stat st;
        uint8_t again[TLS_FINGERPRINT_SIZE];
        char hex[TLS_FINGERPRINT_HEX_SIZE];

        check(stat(key, &st) == 0 && (st.st_mode & 0777) == 0600);
        check(stat(cert, &st) == 0 && (st.st_mode & 0777) == 0644);
        check(memcmp(fp, other_fp, sizeof(fp)) != 0);

        /* The fingerprint is the SHA-256 of the DER encoding, computed here the long way. */
        FILE *f = fopen(cert, "re");
        check(f);
        X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
        check(x);
        unsigned char *der = NULL;
        int der_len = i2d_X509(x, &der);
        check(der_len > 0);
        unsigned md_len = 0;
        check(EVP_Digest(der, (size_t) der_len, again, &md_len, EVP_sha256(), NULL) == 1 && md_len == 32);
        check(memcmp(again, fp, sizeof(fp)) == 0);
        /* Ten years, P-256. */
        int days, secs;
        check(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x)) == 1);
        check(days >= 3650 && days <= 3652);
        check(EVP_PKEY_get_id(X509_get0_pubkey(x)) == EVP_PKEY_EC);
        OPENSSL_free(der);
        X509_free(x);

        tls_fingerprint_to_hex((const uint8_t[32]) { 0x01, 0xab, [31] = 0xff }, hex);
        check(strlen(hex) == 64 && strncmp(hex, "01ab00", 6) == 0 && strcmp(hex + 62, "ff") == 0);

        check(tls_cert_fingerprint_file("/nonexistent/cert.pem", again) == -ENOENT);
        check(tls_cert_fingerprint_file(key, again) == -EINVAL);
        char path[4200];
        snprintf(path, sizeof(path), "%s/x.pem", dir);
        check(tls_generate_self_signed(path, path, "a,b") == -EINVAL);
        check(tls_generate_self_signed(path, path, "") == -EINVAL);
        check(tls_generate_self_signed(path, path, "a b") == -EINVAL);
        check(tls_generate_self_signed(path, path, "a..b") == -EINVAL);
        check(access(path, F_OK) < 0);
        check(tls_generate_self_signed("/nonexistent/c.pem", path, "ok") < 0);

        char *error = NULL;
        check(!tls_server_context_new("/nonexistent/cert.pem", key, &error));
        check(error && strstr(error, "/nonexistent/cert.pem"));
        free(error);
        error = NULL;
        check(!tls_server_context_new(cert, other_key, &error));
        check(error && strstr(error, "mismatch"));
        free(error);
        check(!tls_server_context_new(cert, cert, NULL));
        TlsContext *c = tls_client_context_new(NULL);
        check(c);
        error = NULL;
        check(tls_context_load_ca_file(c, "/nonexistent", &error) == -EINVAL && error);
        free(error);
        check(!tls_context_free(c));
        check(!tls_context_free(NULL));
}

static void on_server_message(Side *s, const WireMessage *m) {
        static uint8_t data[WIRE_TILE_DATA_MAX];

        if (m->type == WIRE_TYPE_HELLO) {
                check(m->hello.magic == WIRE_MAGIC && m->hello.ticket_len == WIRE_HELLO_TICKET_MAX);
                check(m->hello.ticket[0] == 'T' && m->hello.ticket[WIRE_HELLO_TICKET_MAX - 1] == 'T');
                Buffer *out = wire_conn_out(s->conn);
                check(wire_encode_welcome(out, &(WireWelcome) { .version = 1, .session = 77, .desktop = "desk",
                                                                 .desktop_len = 4, .frames_in_flight = 2 }) == 0);
                for (size_t i = 0; i < sizeof(data); i++)
                        data[i] = (uint8_t) (i ^ (i >> 8));
                for (uint32_t f = 0; f < 3; f++)
                        check(wire_encode_tile(out, &(WireTile) { .frame = f, .data = data, .data_len = sizeof(data) }) == 0);
                check(wire_encode_frame_end(out, &(WireFrameEnd) { .frame = 2, .tiles = 3 }) == 0);
        } else if (m->type == WIRE_TYPE_PING)
                check(wire_encode_pong(wire_conn_out(s->conn), &(WirePong) { .nonce = m->ping.nonce, .time_us = m->ping.time_us }) == 0);
}

static unsigned pongs;

static void on_client_message(Side *s, const WireMessage *m) {
        if (m->type == WIRE_TYPE_WELCOME) {
                check(m->welcome.session == 77 && m->welcome.desktop_len == 4 && memcmp(m->welcome.desktop, "desk", 4) == 0);
                check(tls_transport_handshake_done(wire_conn_transport(s->conn)));
                for (uint64_t i = 0; i < 100; i++)
                        check(wire_encode_ping(wire_conn_out(s->conn), &(WirePing) { .nonce = i, .time_us = i * 3 }) == 0);
        } else if (m->type == WIRE_TYPE_TILE) {
                check(m->tile.data_len == WIRE_TILE_DATA_MAX);
                for (size_t i = 0; i < m->tile.data_len; i += 4093)
                        check(m->tile.data[i] == (uint8_t) (i ^ (i >> 8)));
        } else if (m->type == WIRE_TYPE_PONG) {
                check(m->pong.nonce == pongs && m->pong.time_us == pongs * 3);
                pongs++;
        }
}

static bool all_pongs(Side *client, Side *server) {
        return pongs == 100;
}

static bool both_failed(Side *client, Side *server) {
        return client->error < 0 && server->error < 0;
}

static bool server_pinged(Side *client, Side *server) {
        return server->received >= 2;
}

static void test_exchange(void) {
        Side client, server;

        connect_pair(server_ctx, fp, NULL, client_ctx, &client, &server);
        check(!tls_transport_handshake_done(wire_conn_transport(client.conn)));
        client.on_message = on_client_message;
        server.on_message = on_server_message;
        send_hello(&client);
        pongs = 0;
        pump(&client, &server, all_pongs);
        check(client.error == 0 && server.error == 0);
        check(client.received == 1 + 3 + 1 + 100 && server.received == 1 + 100);
        check(wire_conn_bytes_out(server.conn) == wire_conn_bytes_in(client.conn));
        check(wire_conn_bytes_in(client.conn) > 3 * WIRE_TILE_DATA_MAX);
        check(!tls_transport_error(wire_conn_transport(client.conn)));
        check(!tls_transport_error(NULL));

        /* The client leaves (close_notify): the server sees the end of the stream. */
        wire_conn_free(client.conn);
        WireMessage m;
        int r;
        struct pollfd p = { .fd = wire_conn_fd(server.conn), .events = POLLIN };
        check(poll(&p, 1, 5000) == 1);
        while ((r = wire_conn_receive(server.conn, &m)) == 0)
                check(poll(&p, 1, 5000) == 1);
        check(r == -ECONNRESET);
        wire_conn_free(server.conn);
}

static void expect_refused(TlsContext *sctx, const uint8_t *pin, const char *hostname, TlsContext *cctx,
                           const char *reason) {
        Side client, server;

        connect_pair(sctx, pin, hostname, cctx, &client, &server);
        send_hello(&client);
        pump(&client, &server, both_failed);
        check(client.error == -EPERM && server.received == 0);
        const char *why = tls_transport_error(wire_conn_transport(client.conn));
        if (!why || !strstr(why, reason)) {
                fprintf(stderr, "reason `%s' lacks `%s'\n", why ? why : "(null)", reason);
                abort();
        }
        check(strstr(wire_conn_error(client.conn), why));
        /* The server hears the client's alert: an error, with a reason, and nothing more. */
        check(server.error == -EPROTO && strstr(wire_conn_error(server.conn), "TLS: "));
        wire_conn_free(client.conn);
        wire_conn_free(server.conn);
}

static void expect_accepted(TlsContext *sctx, const uint8_t *pin, const char *hostname, TlsContext *cctx) {
        Side client, server;

        connect_pair(sctx, pin, hostname, cctx, &client, &server);
        send_hello(&client);
        check(wire_encode_ping(wire_conn_out(client.conn), &(WirePing) { .nonce = 5 }) == 0);
        pump(&client, &server, server_pinged);
        check(client.error == 0 && server.error == 0);
        check(server.last.type == WIRE_TYPE_PING && server.last.ping.nonce == 5);
        wire_conn_free(client.conn);
        wire_conn_free(server.conn);
}

static void test_verification(void) {
        char hex[TLS_FINGERPRINT_HEX_SIZE];

        tls_fingerprint_to_hex(other_fp, hex);
        expect_refused(server_ctx, other_fp, NULL, client_ctx, "does not match the pinned");
        expect_refused(server_ctx, other_fp, NULL, client_ctx, hex);

        /* Without a pin: the system's CA store does not know our self-signed certificate. */
        expect_refused(server_ctx, NULL, "tandem-test", client_ctx, "server certificate refused: ");
        static const uint8_t zero[TLS_FINGERPRINT_SIZE];
        expect_refused(server_ctx, zero, "tandem-test", client_ctx, "server certificate refused: ");

        /* A context that trusts it: the host name must match too. */
        TlsContext *ca = tls_client_context_new(NULL);
        check(ca && tls_context_load_ca_file(ca, cert, NULL) == 0);
        expect_refused(server_ctx, NULL, "localhost", ca, "hostname mismatch");
        expect_accepted(server_ctx, NULL, "tandem-test", ca);
        expect_accepted(server_ctx, NULL, "TANDEM-test", ca);

        /* By IP address. */
        char *error = NULL;
        TlsContext *ip_server = tls_server_context_new(ip_cert, ip_key, &error);
        check(ip_server && !error);
        check(tls_context_load_ca_file(ca, ip_cert, NULL) == 0);
        expect_accepted(ip_server, NULL, "127.0.0.1", ca);
        expect_refused(ip_server, NULL, "127.0.0.2", ca, "IP address mismatch");
        tls_context_free(ip_server);
        tls_context_free(ca);

        /* A pin is trusted whatever the CA store and the name say. */
        expect_accepted(server_ctx, fp, "not-the-name", client_ctx);
}

/* The sender keeps appending while TLS has a write pending, so the output buffer moves (data
 * compacted to the front) between a write that said -EAGAIN and its retry: OpenSSL must accept
 * that, and every byte must arrive in order. */
static void test_moving_writes(void) {
        enum { TILES = 60, SIZE = 100000 };
        static uint8_t data[SIZE];
        Side client, server;
        uint32_t sent = 0, got = 0;
        int moves = 0;

        connect_pair(server_ctx, fp, NULL, client_ctx, &client, &server);
        wire_conn_free(server.conn);
        /* Rebuild the server's conn with a small output limit: room for about three tiles. */
        int sv[2];
        ByteTransport *tc, *ts;
        wire_conn_free(client.conn);
        socket_pair(sv);
        check(tls_transport_new(server_ctx, sv[0], true, NULL, NULL, &ts) == 0);
        check(tls_transport_new(client_ctx, sv[1], false, fp, NULL, &tc) == 0);
        check(wire_conn_new(ts, 3 * (SIZE + 30), &server.conn) == 0);
        check(wire_conn_new(tc, 1 << 16, &client.conn) == 0);
        send_hello(&client);

        while (got < TILES) {
                WireMessage m;
                int r;
                while ((r = wire_conn_receive(server.conn, &m)) > 0)
                        check(m.type == WIRE_TYPE_HELLO);
                check(r == 0);
                if (tls_transport_handshake_done(wire_conn_transport(server.conn)))
                        while (sent < TILES) {
                                const uint8_t *before = buffer_data(wire_conn_out(server.conn));
                                memset(data, (int) sent, sizeof(data));
                                r = wire_encode_tile(wire_conn_out(server.conn), &(WireTile) { .frame = sent, .data = data,
                                                                                             .data_len = SIZE });
                                if (r == -ENOBUFS)
                                        break;
                                check(r == 0);
                                moves += before && before != buffer_data(wire_conn_out(server.conn));
                                sent++;
                        }
                r = wire_conn_flush(server.conn);
                check(r == 0 || r == -EAGAIN);
                r = wire_conn_flush(client.conn);
                check(r == 0 || r == -EAGAIN);
                while ((r = wire_conn_receive(client.conn, &m)) > 0) {
                        check(m.type == WIRE_TYPE_TILE && m.tile.frame == got && m.tile.data_len == SIZE);
                        check(m.tile.data[0] == (uint8_t) got && m.tile.data[SIZE - 1] == (uint8_t) got);
                        got++;
                }
                check(r == 0);
                struct pollfd p[2] = {
                        { .fd = wire_conn_fd(client.conn), .events = (short) wire_conn_poll_events(client.conn) },
                        { .fd = wire_conn_fd(server.conn), .events = (short) wire_conn_poll_events(server.conn) },
                };
                /* Wait only when the producer cannot go on either. */
                bool can_produce = tls_transport_handshake_done(wire_conn_transport(server.conn)) && sent < TILES &&
                                   buffer_room(wire_conn_out(server.conn)) >= WIRE_HEADER_SIZE + 14 + SIZE;
                if (got < TILES && !can_produce)
                        check(poll(p, 2, 5000) > 0);
        }
        check(moves > 0);
        wire_conn_free(client.conn);
        wire_conn_free(server.conn);
}

static void test_bad_arguments(void) {
        ByteTransport *t = NULL;
        int sv[2];

        socket_pair(sv);
        check(tls_transport_new(client_ctx, sv[0], false, NULL, NULL, &t) == -EINVAL && !t);
        check(fcntl(sv[0], F_GETFD) < 0 && errno == EBADF); /* owned, so closed */
        check(tls_transport_new(server_ctx, sv[1], false, fp, NULL, &t) == -EINVAL);
        check(tls_transport_new(NULL, -1, true, NULL, NULL, &t) == -EINVAL);
        static const uint8_t zero[TLS_FINGERPRINT_SIZE];
        socket_pair(sv);
        close(sv[1]);
        check(tls_transport_new(client_ctx, sv[0], false, zero, NULL, &t) == -EINVAL); /* zero pin needs a name */
}

/* A TLS transport against a raw socket the test writes to. */
static int against_raw(bool server, const void *bytes, size_t len, bool then_close, char *reason, size_t reason_size) {
        int sv[2];
        ByteTransport *t;
        WireConn *c;
        WireMessage m;
        int r;

        socket_pair(sv);
        check(tls_transport_new(server ? server_ctx : client_ctx, sv[0], server, fp, NULL, &t) == 0);
        check(wire_conn_new(t, 1 << 16, &c) == 0);
        if (!server)
                send_hello(&(Side) { .conn = c });
        check(len == 0 || write(sv[1], bytes, len) == (ssize_t) len);
        if (then_close)
                close(sv[1]);
        for (int i = 0; i < 100; i++) {
                r = wire_conn_flush(c);
                if (r < 0 && r != -EAGAIN)
                        break;
                r = wire_conn_receive(c, &m);
                if (r != 0)
                        break;
                struct pollfd p = { .fd = sv[0], .events = (short) wire_conn_poll_events(c) };
                if (poll(&p, 1, 200) == 0)
                        break;
        }
        snprintf(reason, reason_size, "%s", wire_conn_error(c) ? wire_conn_error(c) : "");
        wire_conn_free(c);
        if (!then_close)
                close(sv[1]);
        return r;
}

static void test_garbage(void) {
        char reason[256], junk[3000];
        uint64_t s = 0x1234567;

        for (size_t i = 0; i < sizeof(junk); i++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                junk[i] = (char) (s >> 56);
        }
        for (int server = 0; server < 2; server++) {
                int r = against_raw(server, junk, sizeof(junk), false, reason, sizeof(reason));
                check(r == -EPROTO && strstr(reason, "TLS: "));
                static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
                r = against_raw(server, http, sizeof(http) - 1, false, reason, sizeof(reason));
                check(r == -EPROTO && strstr(reason, "TLS: "));
                /* A valid record header announcing a huge record, then nothing. */
                static const char rec[] = { 0x16, 0x03, 0x01, 0x7f, 0xff, 0x01 };
                r = against_raw(server, rec, sizeof(rec), true, reason, sizeof(reason));
                check(r < 0);
                r = against_raw(server, NULL, 0, true, reason, sizeof(reason));
                if (server)
                        check(r == -ECONNRESET && strstr(reason, "closed during the TLS handshake"));
                else
                        check(r == -EPIPE || r == -ECONNRESET); /* the ClientHello finds no one */
        }
}

/* OpenSSL's own client, limited to TLS 1.2, is refused. */
static void test_old_version(void) {
        int sv[2];
        ByteTransport *t;
        WireConn *c;
        WireMessage m;
        int r = 0;

        socket_pair(sv);
        check(tls_transport_new(server_ctx, sv[0], true, NULL, NULL, &t) == 0);
        check(wire_conn_new(t, 1 << 16, &c) == 0);
        SSL_CTX *old = SSL_CTX_new(TLS_client_method());
        check(old && SSL_CTX_set_max_proto_version(old, TLS1_2_VERSION) == 1);
        SSL *ssl = SSL_new(old);
        check(ssl && SSL_set_fd(ssl, sv[1]) == 1);
        for (int i = 0; i < 100 && r == 0; i++) {
                (void) SSL_connect(ssl);
                r = wire_conn_receive(c, &m);
                usleep(1000);
        }
        check(r == -EPROTO && strstr(wire_conn_error(c), "unsupported protocol"));
        ERR_clear_error();
        SSL_free(ssl);
        SSL_CTX_free(old);
        close(sv[1]);
        wire_conn_free(c);
}

int main(void) {
        char *error = NULL;

        check(mkdtemp(dir));
        snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
        snprintf(key, sizeof(key), "%s/key.pem", dir);
        snprintf(other_cert, sizeof(other_cert), "%s/other-cert.pem", dir);
        snprintf(other_key, sizeof(other_key), "%s/other-key.pem", dir);
        snprintf(ip_cert, sizeof(ip_cert), "%s/ip-cert.pem", dir);
        snprintf(ip_key, sizeof(ip_key), "%s/ip-key.pem", dir);
        check(tls_generate_self_signed(cert, key, "tandem-test") == 0);
        check(tls_generate_self_signed(other_cert, other_key, "tandem-test") == 0);
        check(tls_generate_self_signed(ip_cert, ip_key, "127.0.0.1") == 0);
        check(tls_cert_fingerprint_file(cert, fp) == 0);
        check(tls_cert_fingerprint_file(other_cert, other_fp) == 0);

        server_ctx = tls_server_context_new(cert, key, &error);
        check(server_ctx && !error);
        client_ctx = tls_client_context_new(&error);
        check(client_ctx && !error);

        test_files();
        test_exchange();
        test_verification();
        test_moving_writes();
        test_bad_arguments();
        test_garbage();
        test_old_version();

        tls_context_free(server_ctx);
        tls_context_free(client_ctx);
        const char *files[] = { cert, key, other_cert, other_key, ip_cert, ip_key };
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                check(unlink(files[i]) == 0);
        check(rmdir(dir) == 0);
        printf("tls ok\n");
        return 0;
}
