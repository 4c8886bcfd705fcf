/* tandem-ticket mint: what the broker will do for each connection, by hand. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "macro.h"
#include "ticket-cmd.h"

static int help(const char *name) {
        printf("Usage: tandem-ticket %s --key PRIVATE.pem --desktop NAME --user USER --host HOST:PORT\n"
               "           [--role interactive|view-only] [--ttl SECONDS] [--issued-at UNIXTIME]\n"
               "           [--fingerprint HEX64 | --cert CERT.pem]\n\n"
               "Prints a signed ticket (base64url) on stdout.\n\n"
               "  --key PRIVATE.pem   the broker's Ed25519 private key (tandem-ticket keygen)\n"
               "  --desktop NAME      the libvirt domain the ticket opens\n"
               "  --user USER         who it is for\n"
               "  --host HOST:PORT    the hostd the viewer connects to ([IPV6]:PORT for addresses)\n"
               "  --role ROLE         interactive (default) or view-only\n"
               "  --ttl SECONDS       lifetime, default %d, at most %d\n"
               "  --issued-at TIME    validity starts at this Unix time instead of now (tests, minting ahead)\n"
               "  --fingerprint HEX64 SHA-256 of hostd's certificate (DER), which the viewer pins\n"
               "  --cert CERT.pem     the same, computed from hostd's certificate\n"
               "Without --fingerprint or --cert the viewer checks the host against the CA store.\n",
               name, TICKET_TTL_DEFAULT, TICKET_TTL_MAX);
        return 0;
}

int cmd_mint(int argc, char **argv) {
        enum { ARG_KEY = 0x100, ARG_DESKTOP, ARG_USER, ARG_HOST, ARG_ROLE, ARG_TTL, ARG_FINGERPRINT, ARG_CERT, ARG_ISSUED_AT };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "key", required_argument, NULL, ARG_KEY },
                { "desktop", required_argument, NULL, ARG_DESKTOP },
                { "user", required_argument, NULL, ARG_USER },
                { "host", required_argument, NULL, ARG_HOST },
                { "role", required_argument, NULL, ARG_ROLE },
                { "ttl", required_argument, NULL, ARG_TTL },
                { "fingerprint", required_argument, NULL, ARG_FINGERPRINT },
                { "cert", required_argument, NULL, ARG_CERT },
                { "issued-at", required_argument, NULL, ARG_ISSUED_AT },
                {},
        };
        const char *key_path = NULL, *desktop = NULL, *user = NULL, *host = NULL, *fp_hex = NULL, *cert = NULL;
        Ticket t = { .role = TICKET_ROLE_INTERACTIVE };
        uint64_t ttl = TICKET_TTL_DEFAULT, issued = now_unix();
        char buf[64];
        int c, r;

        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return help(argv[0]);
                case ARG_KEY:
                        key_path = optarg;
                        break;
                case ARG_DESKTOP:
                        desktop = optarg;
                        if (!ticket_string_valid(desktop)) {
                                fprintf(stderr, "Invalid desktop `%s' (1 to 255 bytes of UTF-8, no control characters)\n",
                                        shorten(desktop, buf));
                                return EXIT_USAGE;
                        }
                        break;
                case ARG_USER:
                        user = optarg;
                        if (!ticket_string_valid(user)) {
                                fprintf(stderr, "Invalid user `%s' (1 to 255 bytes of UTF-8, no control characters)\n",
                                        shorten(user, buf));
                                return EXIT_USAGE;
                        }
                        break;
                case ARG_HOST:
                        host = optarg;
                        if (!ticket_string_valid(host) || ticket_host_split(host, NULL, 0, NULL) < 0) {
                                fprintf(stderr, "Invalid host `%s' (HOST:PORT or [IPV6]:PORT, port 1 to 65535)\n",
                                        shorten(host, buf));
                                return EXIT_USAGE;
                        }
                        break;
                case ARG_ROLE:
                        if (ticket_role_from_string(optarg, &t.role) < 0) {
                                fprintf(stderr, "Invalid role `%s' (interactive or view-only)\n", shorten(optarg, buf));
                                return EXIT_USAGE;
                        }
                        break;
                case ARG_TTL:
                        if (parse_u64(optarg, TICKET_TTL_MAX, &ttl) < 0 || ttl == 0) {
                                fprintf(stderr, "Invalid TTL `%s' (1 to %d seconds)\n", shorten(optarg, buf),
                                        TICKET_TTL_MAX);
                                return EXIT_USAGE;
                        }
                        break;
                case ARG_ISSUED_AT:
                        if (parse_u64(optarg, UINT32_MAX * 4ULL, &issued) < 0) {
                                fprintf(stderr, "Invalid time `%s' (seconds since 1970)\n", shorten(optarg, buf));
                                return EXIT_USAGE;
                        }
                        break;
                case ARG_FINGERPRINT:
                        fp_hex = optarg;
                        break;
                case ARG_CERT:
                        cert = optarg;
                        break;
                default:
                        return option_error(c, argv);
                }
        if (optind < argc)
                return positional_error(argc, argv, 0, NULL);
        static const char *const required[] = { "--key", "--desktop", "--user", "--host" };
        const char *const given[] = { key_path, desktop, user, host };
        for (size_t i = 0; i < ELEMENTSOF(required); i++)
                if (!given[i]) {
                        fprintf(stderr, "Missing %s (see %s --help)\n", required[i], argv[0]);
                        return EXIT_USAGE;
                }
        r = fingerprint_option(fp_hex, cert, t.fingerprint);
        if (r != 0)
                return r;

        EVP_PKEY *key = NULL;
        r = ticket_key_load_private(key_path, &key);
        if (r < 0) {
                fprintf(stderr, "Cannot load private key `%s': %s\n", key_path,
                        r == -EINVAL ? "not an unencrypted Ed25519 private key in PEM" : strerror(-r));
                return 1;
        }

        snprintf(t.desktop, sizeof(t.desktop), "%s", desktop);
        snprintf(t.user, sizeof(t.user), "%s", user);
        snprintf(t.host, sizeof(t.host), "%s", host);
        t.issued = issued;
        t.expiry = t.issued + ttl;
        r = ticket_randomize_nonce(&t);
        _cleanup_(freep) char *text = NULL;
        if (r >= 0)
                r = ticket_sign_text(&t, key, &text);
        EVP_PKEY_free(key);
        if (r < 0) {
                fprintf(stderr, "Cannot sign the ticket: %s\n", strerror(-r));
                return 1;
        }
        printf("%s\n", text);
        return 0;
}
