/* Ed25519 key files and certificate fingerprints. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "ticket-internal.h"

/* Key and certificate files are small; anything bigger is not one. */
#define PEM_FILE_MAX (64 * 1024)

/* Reads a whole small regular file into a malloc'd, NUL-terminated buffer. */
static int read_small_file(const char *path, char **ret, size_t *ret_len) {
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        if (st.st_size > PEM_FILE_MAX)
                return -EFBIG;

        _cleanup_(freep) char *buf = malloc(PEM_FILE_MAX + 1);
        if (!buf)
                return -ENOMEM;
        size_t len = 0;
        for (;;) {
                ssize_t n = read(fd, buf + len, PEM_FILE_MAX + 1 - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len > PEM_FILE_MAX)
                        return -EFBIG; /* grew while we read */
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

/* Refuses to ask for a passphrase: OpenSSL's default would prompt on the terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *userdata) {
        return -1;
}

typedef enum KeyKind { KEY_PUBLIC, KEY_PRIVATE } KeyKind;

static int parse_key(const char *pem, size_t len, KeyKind kind, EVP_PKEY **ret) {
        if (len > PEM_FILE_MAX)
                return -EFBIG;
        ERR_set_mark();
        _cleanup_(BIO_freep) BIO *bio = BIO_new_mem_buf(pem, (int) len);
        EVP_PKEY *key = NULL;
        if (bio)
                key = kind == KEY_PRIVATE ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)
                                          : PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
        ERR_pop_to_mark();
        if (!bio)
                return -ENOMEM;
        if (!ticket_key_is_ed25519(key)) {
                EVP_PKEY_free(key);
                return -EINVAL;
        }
        *ret = key;
        return 0;
}

static int load_key(const char *path, KeyKind kind, EVP_PKEY **ret) {
        _cleanup_(freep) char *pem = NULL;
        size_t len;
        int r = read_small_file(path, &pem, &len);
        if (r < 0)
                return r;
        r = parse_key(pem, len, kind, ret);
        OPENSSL_cleanse(pem, len); /* a private key was here */
        return r;
}

int ticket_key_load_private(const char *pem, EVP_PKEY **ret) {
        return load_key(pem, KEY_PRIVATE, ret);
}

int ticket_key_load_public(const char *pem, EVP_PKEY **ret) {
        return load_key(pem, KEY_PUBLIC, ret);
}

int ticket_key_parse_public(const char *pem, size_t len, EVP_PKEY **ret) {
        return parse_key(pem, len, KEY_PUBLIC, ret);
}

static int write_all(int fd, const char *data, size_t len) {
        while (len > 0) {
                ssize_t n = write(fd, data, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                data += n;
                len -= (size_t) n;
        }
        return 0;
}

/* The PEM text of key (private or public) in a memory BIO. */
static int pem_of(EVP_PKEY *key, KeyKind kind, BIO **ret) {
        ERR_set_mark();
        BIO *bio = BIO_new(BIO_s_mem());
        bool ok = bio && (kind == KEY_PRIVATE ? PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)
                                              : PEM_write_bio_PUBKEY(bio, key)) == 1;
        ERR_pop_to_mark();
        if (!ok) {
                BIO_free(bio);
                return bio ? -EIO : -ENOMEM;
        }
        *ret = bio;
        return 0;
}

static int write_pem(int fd, BIO *bio) {
        char *data;
        long len = BIO_get_mem_data(bio, &data);
        if (len <= 0)
                return -EIO;
        int r = write_all(fd, data, (size_t) len);
        if (r < 0)
                return r;
        /* A key that is lost in a crash after keygen reported success would strand every host. */
        if (fsync(fd) < 0)
                return -errno;
        return 0;
}

int ticket_key_generate(const char *private_pem, const char *public_pem) {
        int r;

        ERR_set_mark();
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        ERR_pop_to_mark();
        if (!key)
                return -EIO;

        _cleanup_(BIO_freep) BIO *priv = NULL, *pub = NULL;
        r = pem_of(key, KEY_PRIVATE, &priv);
        if (r < 0)
                return r;
        r = pem_of(key, KEY_PUBLIC, &pub);
        if (r < 0)
                return r;

        /* O_EXCL: never replace a key; 0600 from creation, so no other user can open it in between. */
        _cleanup_(closep) int priv_fd = open(private_pem, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (priv_fd < 0)
                return -errno;
        _cleanup_(closep) int pub_fd = open(public_pem, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (pub_fd < 0) {
                r = -errno;
                (void) unlink(private_pem);
                return r;
        }

        r = write_pem(priv_fd, priv);
        if (r >= 0)
                r = write_pem(pub_fd, pub);
        if (r >= 0 && close(TAKE_FD(priv_fd)) < 0)
                r = -errno;
        if (r >= 0 && close(TAKE_FD(pub_fd)) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(private_pem);
                (void) unlink(public_pem);
        }
        return r;
}

int ticket_fingerprint_x509(X509 *cert, uint8_t ret[TICKET_FINGERPRINT_SIZE]) {
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        ERR_set_mark();
        int ok = X509_digest(cert, EVP_sha256(), md, &n); /* SHA-256 of the DER encoding */
        ERR_pop_to_mark();
        if (ok != 1 || n != TICKET_FINGERPRINT_SIZE)
                return -EIO;
        memcpy(ret, md, TICKET_FINGERPRINT_SIZE);
        return 0;
}

int ticket_fingerprint_load(const char *cert_pem_path, uint8_t ret[TICKET_FINGERPRINT_SIZE]) {
        _cleanup_(freep) char *pem = NULL;
        size_t len;
        int r = read_small_file(cert_pem_path, &pem, &len);
        if (r < 0)
                return r;

        ERR_set_mark();
        _cleanup_(BIO_freep) BIO *bio = BIO_new_mem_buf(pem, (int) len);
        _cleanup_(X509_freep) X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, no_passphrase, NULL) : NULL;
        ERR_pop_to_mark();
        if (!bio)
                return -ENOMEM;
        if (!cert)
                return -EINVAL;
        return ticket_fingerprint_x509(cert, ret);
}
