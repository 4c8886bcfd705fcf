/* Key files: generation (modes, no overwrite), loading (right kind only, never a prompt), and
 * certificate fingerprints. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "check.h"
#include "ticket-internal.h"
#include "ticket.h"

static char dir[] = "/tmp/test-ticket-key.XXXXXX";

static char *path(const char *name) {
        static char buf[8][256];
        static unsigned next;
        char *p = buf[next++ % 8];
        snprintf(p, 256, "%s/%s", dir, name);
        return p;
}

static void write_text(const char *p, const char *text, size_t len) {
        FILE *f = fopen(p, "w");
        check(f);
        check(fwrite(text, 1, len, f) == len);
        check(fclose(f) == 0);
}

static void write_bio(const char *p, BIO *bio) {
        char *data;
        long len = BIO_get_mem_data(bio, &data);
        check(len > 0);
        write_text(p, data, (size_t) len);
}

static mode_t mode_of(const char *p) {
        struct stat st;
        check(stat(p, &st) == 0);
        return st.st_mode & 07777;
}

static void test_generate_and_load(void) {
        char priv[256], pub[256]; /* path()'s buffers are reused */
        snprintf(priv, sizeof(priv), "%s", path("broker.pem"));
        snprintf(pub, sizeof(pub), "%s", path("broker.pub.pem"));
        umask(022);
        check(ticket_key_generate(priv, pub) == 0);
        check(mode_of(priv) == 0600);
        check(mode_of(pub) == 0644);

        /* Never over an existing key; a failed attempt leaves nothing behind. */
        check(ticket_key_generate(priv, path("other.pub.pem")) == -EEXIST);
        check(access(path("other.pub.pem"), F_OK) < 0);
        check(ticket_key_generate(path("other.pem"), pub) == -EEXIST);
        check(access(path("other.pem"), F_OK) < 0);
        check(ticket_key_generate(path("nodir/a.pem"), path("b.pem")) == -ENOENT);

        _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL, *p = NULL, *untouched = NULL;
        check(ticket_key_load_private(priv, &k) == 0);
        check(ticket_key_load_public(pub, &p) == 0);

        /* The two halves belong together. */
        Ticket t = { .issued = 1000, .expiry = 1060 };
        snprintf(t.desktop, sizeof(t.desktop), "d1");
        snprintf(t.user, sizeof(t.user), "bob");
        snprintf(t.host, sizeof(t.host), "[::1]:7443");
        uint8_t buf[TICKET_SIZE_MAX];
        size_t len;
        check(ticket_sign(&t, k, buf, sizeof(buf), &len) == 0);
        _cleanup_(ticket_verifier_freep) TicketVerifier *v = ticket_verifier_new(p);
        check(ticket_verify(v, buf, len, 1000, "d1", NULL, NULL) == TICKET_OK);

        TicketVerifier *loaded = NULL;
        char *error = NULL;
        check(ticket_verifier_load(pub, &loaded, &error) == 0 && loaded && !error);
        check(ticket_verify(loaded, buf, len, 1000, "d1", NULL, NULL) == TICKET_OK);
        ticket_verifier_free(loaded);
        ticket_verifier_free(NULL);

        /* Each loader takes only its kind. */
        check(ticket_key_load_public(priv, &untouched) == -EINVAL);
        check(ticket_key_load_private(pub, &untouched) == -EINVAL);
        check(ticket_key_load_public(path("missing.pem"), &untouched) == -ENOENT);
        check(ticket_key_load_public(dir, &untouched) == -EINVAL);
        check(!untouched);

        loaded = NULL;
        check(ticket_verifier_load(priv, &loaded, &error) == -EINVAL && !loaded);
        check(error && strstr(error, "broker.pem: not an Ed25519 public key"));
        free(error);
        error = NULL;
        check(ticket_verifier_load(path("missing.pem"), &loaded, &error) == -ENOENT);
        check(error && strstr(error, "missing.pem: cannot read"));
        free(error);

        /* From memory. */
        FILE *f = fopen(pub, "r");
        char text[4096];
        size_t n = fread(text, 1, sizeof(text), f);
        fclose(f);
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *m = NULL;
        check(ticket_key_parse_public(text, n, &m) == 0);
        check(EVP_PKEY_eq(m, p) == 1);
        check(ticket_key_parse_public(text, n / 2, &untouched) == -EINVAL);
        check(!untouched);
}

static void test_refused_files(void) {
        EVP_PKEY *out = NULL;

        write_text(path("garbage.pem"), "hello\n", 6);
        check(ticket_key_load_public(path("garbage.pem"), &out) == -EINVAL);
        check(ticket_key_load_private(path("garbage.pem"), &out) == -EINVAL);
        write_text(path("empty.pem"), "", 0);
        check(ticket_key_load_private(path("empty.pem"), &out) == -EINVAL);

        char *big = malloc(70000);
        memset(big, 'A', 70000);
        write_text(path("big.pem"), big, 70000);
        free(big);
        check(ticket_key_load_public(path("big.pem"), &out) == -EFBIG);

        /* Keys of other algorithms. */
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        check(ec);
        _cleanup_(BIO_freep) BIO *b1 = BIO_new(BIO_s_mem()), *b2 = BIO_new(BIO_s_mem()), *b3 = BIO_new(BIO_s_mem());
        check(PEM_write_bio_PrivateKey(b1, ec, NULL, NULL, 0, NULL, NULL) == 1);
        check(PEM_write_bio_PUBKEY(b2, ec) == 1);
        write_bio(path("ec.pem"), b1);
        write_bio(path("ec.pub.pem"), b2);
        check(ticket_key_load_private(path("ec.pem"), &out) == -EINVAL);
        check(ticket_key_load_public(path("ec.pub.pem"), &out) == -EINVAL);

        /* An encrypted key is refused, not prompted for (stdin may be a terminal). */
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        check(PEM_write_bio_PrivateKey(b3, ed, EVP_aes_256_cbc(), (unsigned char *) "secret", 6, NULL, NULL) == 1);
        write_bio(path("encrypted.pem"), b3);
        check(ticket_key_load_private(path("encrypted.pem"), &out) == -EINVAL);
        check(!out);
}

static void test_fingerprint(void) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        _cleanup_(X509_freep) X509 *cert = X509_new();
        check(key && cert);
        check(ASN1_INTEGER_set(X509_get_serialNumber(cert), 7) == 1);
        check(X509_gmtime_adj(X509_getm_notBefore(cert), 0));
        check(X509_gmtime_adj(X509_getm_notAfter(cert), 3600));
        check(X509_set_pubkey(cert, key) == 1);
        X509_NAME *name = X509_get_subject_name(cert);
        check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *) "host1", -1, -1, 0) == 1);
        check(X509_set_issuer_name(cert, name) == 1);
        check(X509_sign(cert, key, NULL) > 0);

        /* Expected: SHA-256 of the DER, computed independently. */
        unsigned char *der = NULL;
        int der_len = i2d_X509(cert, &der);
        check(der_len > 0);
        uint8_t want[32];
        unsigned want_len = 0;
        check(EVP_Digest(der, (size_t) der_len, want, &want_len, EVP_sha256(), NULL) == 1 && want_len == 32);
        OPENSSL_free(der);

        uint8_t fp[32] = {};
        check(ticket_fingerprint_x509(cert, fp) == 0 && memcmp(fp, want, 32) == 0);

        _cleanup_(BIO_freep) BIO *b = BIO_new(BIO_s_mem());
        check(PEM_write_bio_X509(b, cert) == 1);
        write_bio(path("cert.pem"), b);
        memset(fp, 0, sizeof(fp));
        check(ticket_fingerprint_load(path("cert.pem"), fp) == 0 && memcmp(fp, want, 32) == 0);
        check(!ticket_fingerprint_is_zero(fp));

        uint8_t untouched[32] = {};
        check(ticket_fingerprint_load(path("garbage.pem"), untouched) == -EINVAL);
        check(ticket_fingerprint_load(path("missing.pem"), untouched) == -ENOENT);
        check(ticket_fingerprint_is_zero(untouched));
}

static void cleanup(void) {
        static const char *const names[] = {
                "broker.pem", "broker.pub.pem", "garbage.pem", "empty.pem",     "big.pem",
                "ec.pem",     "ec.pub.pem",     "cert.pem",    "encrypted.pem",
        };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                (void) unlink(path(names[i]));
        check(rmdir(dir) == 0);
}

int main(void) {
        check(mkdtemp(dir));
        test_generate_and_load();
        test_refused_files();
        test_fingerprint();
        cleanup();
        printf("ok\n");
        return 0;
}
