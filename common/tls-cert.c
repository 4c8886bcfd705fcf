/* Certificates for hostd: a self-signed P-256 certificate (P-256 rather than Ed25519 so that
 * browsers, the later web client, accept it too) and the fingerprints tickets pin. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "atomic-file.h"
#include "macro.h"
#include "tls.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(X509 *, X509_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(BIO *, BIO_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(BIGNUM *, BN_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(FILE *, fclose);

int tls_cert_fingerprint_file(const char *cert_pem, uint8_t out[TLS_FINGERPRINT_SIZE]) {
        _cleanup_(fclosep) FILE *f = fopen(cert_pem, "re");
        _cleanup_(X509_freep) X509 *x = NULL;
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned len = 0;

        if (!f)
                return -errno;
        x = PEM_read_X509(f, NULL, NULL, NULL);
        if (!x || !X509_digest(x, EVP_sha256(), md, &len) || len != TLS_FINGERPRINT_SIZE) {
                ERR_clear_error();
                return -EINVAL;
        }
        memcpy(out, md, TLS_FINGERPRINT_SIZE);
        return 0;
}

/* A DNS name (letters, digits, '-', '.'; no empty label) or an IP address: what fits in a
 * subjectAltName without any quoting. */
static bool name_valid(const char *s, bool *is_ip) {
        struct in6_addr a;
        size_t len = strlen(s);

        if (inet_pton(AF_INET, s, &a) == 1 || inet_pton(AF_INET6, s, &a) == 1) {
                *is_ip = true;
                return true;
        }
        if (len == 0 || len > 64 || s[0] == '.' || s[len - 1] == '.' || strstr(s, ".."))
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                      *p == '.'))
                        return false;
        *is_ip = false;
        return true;
}

static bool add_ext(X509 *x, int nid, const char *value) {
        X509V3_CTX v3;
        X509_EXTENSION *e;
        bool ok;

        X509V3_set_ctx_nodb(&v3);
        X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
        e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
        if (!e)
                return false;
        ok = X509_add_ext(x, e, -1) == 1;
        X509_EXTENSION_free(e);
        return ok;
}

static X509 *make_cert(EVP_PKEY *key, const char *cn, bool is_ip) {
        _cleanup_(X509_freep) X509 *x = X509_new();
        _cleanup_(BN_freep) BIGNUM *serial = BN_new();
        char san[80];

        if (!x || !serial)
                return NULL;
        /* 127 random bits: positive and unique enough that no two hosts' certificates collide. */
        if (X509_set_version(x, X509_VERSION_3) != 1 || BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
            !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)))
                return NULL;
        /* An hour back: clocks of viewer machines drift. */
        if (!X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
            !X509_time_adj_ex(X509_getm_notAfter(x), 3650, 0, NULL))
                return NULL;
        X509_NAME *name = X509_get_subject_name(x);
        if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *) cn, -1, -1, 0) ||
            X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, key) != 1)
                return NULL;
        snprintf(san, sizeof(san), "%s:%s", is_ip ? "IP" : "DNS", cn);
        if (!add_ext(x, NID_basic_constraints, "critical,CA:FALSE") ||
            !add_ext(x, NID_key_usage, "critical,digitalSignature") ||
            !add_ext(x, NID_ext_key_usage, "serverAuth") || !add_ext(x, NID_subject_key_identifier, "hash") ||
            !add_ext(x, NID_subject_alt_name, san))
                return NULL;
        if (X509_sign(x, key, EVP_sha256()) <= 0)
                return NULL;
        return TAKE_PTR(x);
}

static int write_bio(AtomicFile *f, BIO *b) {
        char *data;
        long len = BIO_get_mem_data(b, &data);
        if (len <= 0)
                return -EIO;
        return atomic_file_write(f, data, (size_t) len);
}

int tls_generate_self_signed(const char *cert_pem_out, const char *key_pem_out, const char *common_name) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_(X509_freep) X509 *x = NULL;
        _cleanup_(BIO_freep) BIO *kb = NULL, *cb = NULL;
        AtomicFile kf = ATOMIC_FILE_INIT, cf = ATOMIC_FILE_INIT;
        bool is_ip;
        int r;

        if (!common_name || !name_valid(common_name, &is_ip))
                return -EINVAL;
        ERR_clear_error();
        key = EVP_EC_gen("P-256");
        if (!key) {
                ERR_clear_error();
                return -EIO;
        }
        x = make_cert(key, common_name, is_ip);
        kb = BIO_new(BIO_s_mem());
        cb = BIO_new(BIO_s_mem());
        if (!x || !kb || !cb || PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) != 1 ||
            PEM_write_bio_X509(cb, x) != 1) {
                ERR_clear_error();
                return -ENOMEM;
        }

        /* Both files are complete before either replaces anything (the key is 0600 from mkostemp). */
        r = atomic_file_open(&kf, key_pem_out);
        if (r >= 0)
                r = atomic_file_open(&cf, cert_pem_out);
        if (r >= 0)
                r = write_bio(&kf, kb);
        if (r >= 0)
                r = write_bio(&cf, cb);
        if (r >= 0 && fchmod(cf.fd, 0644) < 0)
                r = -errno;
        if (r >= 0)
                r = atomic_file_commit(&kf);
        if (r >= 0)
                r = atomic_file_commit(&cf);
        atomic_file_done(&kf);
        atomic_file_done(&cf);
        return r;
}
