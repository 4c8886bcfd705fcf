/* Tickets (schema/ticket.md): the broker's Ed25519-signed, short-lived, one-use permission for
 * one user to open one desktop on one host. The broker signs with its private key (ticket_sign);
 * hostd holds only the public key and checks every ticket a viewer presents (TicketVerifier);
 * the viewer reads its own ticket, unverified, for the host to dial and the certificate to pin
 * (ticket_parse).
 *
 * Functions returning int return 0 or a negative errno and leave their out-parameters untouched
 * on failure. Nothing here logs. OpenSSL errors raised inside are popped before returning, so
 * they never show up in a caller's later SSL_get_error(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#define TICKET_MAGIC "TKT1"
#define TICKET_VERSION 1
#define TICKET_NONCE_SIZE 16
#define TICKET_FINGERPRINT_SIZE 32
#define TICKET_SIGNATURE_SIZE 64
#define TICKET_STRING_MAX 255
/* magic, version, role, flags, issued, expiry, nonce, fingerprint */
#define TICKET_HEADER_SIZE 72
/* Every string is 1..255 bytes after its length byte; the shortest host is "a:1". */
#define TICKET_SIZE_MIN (TICKET_HEADER_SIZE + (1 + 1) + (1 + 1) + (1 + 3) + TICKET_SIGNATURE_SIZE) /* 144 */
#define TICKET_SIZE_MAX (TICKET_HEADER_SIZE + 3 * (1 + TICKET_STRING_MAX) + TICKET_SIGNATURE_SIZE) /* 904 */
/* base64url characters of the largest ticket, NUL not included. */
#define TICKET_TEXT_MAX 1206

#define TICKET_TTL_DEFAULT 60
/* Longer lifetimes are malformed: they would pin replay-cache entries for too long. */
#define TICKET_TTL_MAX 86400
/* Seconds a host's clock may differ from the broker's, either way. */
#define TICKET_CLOCK_SKEW 30
/* Nonces a verifier remembers at most (see ticket_verifier_new_capacity()). */
#define TICKET_REPLAY_CAPACITY 65536

typedef enum TicketRole {
        TICKET_ROLE_INTERACTIVE = 0,
        TICKET_ROLE_VIEW_ONLY = 1,
} TicketRole;

typedef struct Ticket {
        TicketRole role;
        uint64_t issued, expiry; /* Unix seconds */
        uint8_t nonce[TICKET_NONCE_SIZE];
        /* SHA-256 of hostd's certificate (DER); all zero: the viewer checks the CA store instead. */
        uint8_t fingerprint[TICKET_FINGERPRINT_SIZE];
        /* NUL-terminated UTF-8, 1..255 bytes, no control characters. host is "NAME:PORT" or
         * "[IPV6]:PORT", what the viewer dials. */
        char desktop[TICKET_STRING_MAX + 1], user[TICKET_STRING_MAX + 1], host[TICKET_STRING_MAX + 1];
} Ticket;

/* Failure reasons, matching the wire protocol's reject codes 2..7. */
typedef enum TicketError {
        TICKET_OK = 0,
        TICKET_MALFORMED = 2,
        TICKET_BAD_SIGNATURE = 3,
        TICKET_EXPIRED = 4, /* or not valid yet */
        TICKET_REPLAYED = 5, /* or the replay cache is full of live nonces */
        TICKET_WRONG_DESKTOP = 6,
        TICKET_WRONG_HOST = 7,
} TicketError;

/* A sentence for the user, e.g. for the wire protocol's reject reason. */
const char *ticket_error_message(TicketError e);
/* The wire protocol's name of the code ("ticket-expired"), for logs. */
const char *ticket_error_name(TicketError e);

/* "interactive" or "view-only"; NULL for anything else. */
const char *ticket_role_to_string(TicketRole role);
/* Returns 0, or -EINVAL for anything but "interactive" and "view-only". */
int ticket_role_from_string(const char *s, TicketRole *ret);

/* Whether s may be a ticket's desktop, user or host: 1..255 bytes of UTF-8 (shortest form, no
 * surrogates) without control characters (C0, DEL, C1). A host must also pass ticket_host_split(). */
bool ticket_string_valid(const char *s);

/* Fills t->nonce from OpenSSL's CSPRNG. Returns -EIO if it is not seeded. */
int ticket_randomize_nonce(Ticket *t);

/* Checks that t is something ticket_sign would accept: a known role, issued < expiry within
 * TICKET_TTL_MAX, well-formed strings and host. Returns 0 or -EINVAL. */
int ticket_check(const Ticket *t);

/* Writes the binary form of t, signed with the Ed25519 private key, to out. Returns -EINVAL for
 * a ticket ticket_check() refuses or a key that is not Ed25519, -ENOBUFS when size is too small
 * (TICKET_SIZE_MAX always suffices), -EIO when OpenSSL fails. */
int ticket_sign(const Ticket *t, EVP_PKEY *key, uint8_t *out, size_t size, size_t *ret_len);
/* The same in text form (base64url, unpadded), malloc'd. */
int ticket_sign_text(const Ticket *t, EVP_PKEY *key, char **ret);

/* Parses without verifying (for `tandem-ticket show` and the viewer, which reads host and
 * fingerprint from its own ticket). Returns 0 or -EBADMSG for anything schema/ticket.md calls
 * malformed. */
int ticket_parse(const uint8_t *data, size_t len, Ticket *ret);

/* Text form to binary (TICKET_SIZE_MAX bytes of out always suffice). Returns -EINVAL for text
 * that is not canonical unpadded base64url, -EMSGSIZE for text longer than any ticket, -ENOBUFS
 * when out is too small. Whether the bytes are a ticket is ticket_parse()'s to say. */
int ticket_text_decode(const char *text, size_t text_len, uint8_t *out, size_t size, size_t *ret_len);

/* Splits a ticket's host into the name to resolve (brackets of an IPv6 address removed) and the
 * port. Returns -EINVAL for anything but NAME:PORT or [IPV6]:PORT with a port in 1..65535, where
 * NAME is letters, digits, '.', '-' and '_'; -ENOBUFS when name_size is too small. */
int ticket_host_split(const char *host, char *ret_name, size_t name_size, uint16_t *ret_port);

/* SHA-256 of a certificate's DER encoding, as tickets carry it. */
int ticket_fingerprint_x509(X509 *cert, uint8_t ret[TICKET_FINGERPRINT_SIZE]);
/* The same for the first certificate of a PEM file. */
int ticket_fingerprint_load(const char *cert_pem_path, uint8_t ret[TICKET_FINGERPRINT_SIZE]);
bool ticket_fingerprint_is_zero(const uint8_t fingerprint[TICKET_FINGERPRINT_SIZE]);

/* Keys. Paths are PEM files: PKCS#8 for the private key, SubjectPublicKeyInfo for the public.
 * ticket_key_generate makes an Ed25519 pair, the private file mode 0600; it refuses (-EEXIST)
 * to overwrite either file, since a lost broker key invalidates every host's configuration. The
 * loaders return -EINVAL for a file that is not an Ed25519 key of the right kind, -EFBIG for a
 * file over 64 KiB, or the errno of opening it. */
int ticket_key_generate(const char *private_pem, const char *public_pem);
int ticket_key_load_private(const char *pem, EVP_PKEY **ret);
int ticket_key_load_public(const char *pem, EVP_PKEY **ret);
/* From PEM text in memory (e.g. a key the broker hands out). */
int ticket_key_parse_public(const char *pem, size_t len, EVP_PKEY **ret);

/* A public key and the nonces of the tickets it accepted, each remembered until its ticket's
 * expiry plus TICKET_CLOCK_SKEW. The nonce table is bounded: expired nonces are evicted when room
 * is needed, and when it is full of live nonces new tickets are refused as replayed. The bound is
 * a choice of safety over availability: forgetting a live nonce would let its ticket be used
 * twice, and growing without bound would let a flood of valid tickets exhaust hostd's memory.
 * Filling it takes more than TICKET_REPLAY_CAPACITY tickets minted for one host and used within
 * one lifetime, which only the broker can do. The table is in memory only: a restarted hostd
 * accepts, within their short lifetime, tickets it accepted before (schema/ticket.md). */
typedef struct TicketVerifier TicketVerifier;

/* Takes its own reference to public_key. Returns NULL when out of memory or when the key is not
 * Ed25519. */
TicketVerifier *ticket_verifier_new(EVP_PKEY *public_key);
/* capacity: nonces remembered at most, at least 1. */
TicketVerifier *ticket_verifier_new_capacity(EVP_PKEY *public_key, size_t capacity);
TicketVerifier *ticket_verifier_free(TicketVerifier *v);
/* Loads a public key file into a new verifier. On failure *error (if given) gets a malloc'd
 * sentence naming the file and the reason. */
int ticket_verifier_load(const char *public_key_pem, TicketVerifier **ret, char **error);
/* Nonces currently remembered, expired ones not yet evicted included. */
size_t ticket_verifier_remembered(const TicketVerifier *v);

/* Checks in this order and returns the first failure: parse (TICKET_MALFORMED), signature,
 * issued - TICKET_CLOCK_SKEW <= now <= expiry + TICKET_CLOCK_SKEW (TICKET_EXPIRED), desktop
 * equal to the ticket's (a NULL desktop never matches), the ticket's fingerprint equal to
 * host_fingerprint (skipped when host_fingerprint is NULL or the ticket's is all zero), then
 * replay. The nonce is recorded only when everything else passed, so a ticket refused for
 * another reason, or a forgery, never uses up a nonce. *ret (optional) is filled on TICKET_OK
 * only. */
TicketError ticket_verify(TicketVerifier *v, const uint8_t *data, size_t len, uint64_t now, const char *desktop,
                          const uint8_t host_fingerprint[TICKET_FINGERPRINT_SIZE], Ticket *ret);

/* The same for a hostd that learns the desktop from the ticket (the wire protocol's hello names
 * none): at step 4, served(ticket's desktop, userdata) says whether this host serves it; false
 * gives TICKET_WRONG_DESKTOP. Called only after the signature and time checks passed, so unsigned
 * probes learn nothing about which desktops a host has. */
typedef bool (*TicketDesktopServed)(const char *desktop, void *userdata);
TicketError ticket_verify_served(TicketVerifier *v, const uint8_t *data, size_t len, uint64_t now,
                                 TicketDesktopServed served, void *userdata,
                                 const uint8_t host_fingerprint[TICKET_FINGERPRINT_SIZE], Ticket *ret);

static inline void ticket_verifier_freep(TicketVerifier **v) {
        ticket_verifier_free(*v);
}
