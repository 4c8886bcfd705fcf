/* tandem-ticket verify: hostd's checks, by hand, without a replay cache (one use cannot be told
 * from one process run). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "ticket-cmd.h"

static int help(const char *name) {
        printf("Usage: tandem-ticket %s --public PUBLIC.pem --desktop NAME\n"
               "           [--fingerprint HEX64 | --cert CERT.pem] [--now UNIX_SECONDS] TICKET\n\n"
               "Checks a ticket as hostd does (signature, expiry, desktop, host), except that it\n"
               "remembers no nonce. Prints \"valid\" and exits 0, or prints the reason and exits 1.\n"
               "TICKET is the base64url text, or - to read it from stdin.\n\n"
               "  --public PUBLIC.pem the broker's public key\n"
               "  --desktop NAME      the desktop being connected to\n"
               "  --fingerprint HEX64 the host's certificate fingerprint, to check the ticket names it\n"
               "  --cert CERT.pem     the same, from the host's certificate\n"
               "  --now UNIX_SECONDS  check as at that time instead of now\n",
               name);
        return 0;
}

int cmd_verify(int argc, char **argv) {
        enum { ARG_PUBLIC = 0x100, ARG_DESKTOP, ARG_FINGERPRINT, ARG_CERT, ARG_NOW };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "public", required_argument, NULL, ARG_PUBLIC },
                { "desktop", required_argument, NULL, ARG_DESKTOP },
                { "fingerprint", required_argument, NULL, ARG_FINGERPRINT },
                { "cert", required_argument, NULL, ARG_CERT },
                { "now", required_argument, NULL, ARG_NOW },
                {},
        };
        const char *public_path = NULL, *desktop = NULL, *fp_hex = NULL, *cert = NULL;
        uint8_t fp[TICKET_FINGERPRINT_SIZE];
        uint64_t now = now_unix();
        char buf[64];
        int c, r;

        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return help(argv[0]);
                case ARG_PUBLIC:
                        public_path = optarg;
                        break;
                case ARG_DESKTOP:
                        desktop = optarg;
                        break;
                case ARG_FINGERPRINT:
                        fp_hex = optarg;
                        break;
                case ARG_CERT:
                        cert = optarg;
                        break;
                case ARG_NOW:
                        if (parse_u64(optarg, UINT64_MAX, &now) < 0) {
                                fprintf(stderr, "Invalid time `%s' (Unix seconds)\n", shorten(optarg, buf));
                                return EXIT_USAGE;
                        }
                        break;
                default:
                        return option_error(c, argv);
                }
        if (argc - optind != 1)
                return positional_error(argc, argv, 1, "TICKET");
        if (!public_path || !desktop) {
                fprintf(stderr, "Missing %s (see %s --help)\n", public_path ? "--desktop" : "--public", argv[0]);
                return EXIT_USAGE;
        }
        r = fingerprint_option(fp_hex, cert, fp);
        if (r != 0)
                return r;

        _cleanup_(ticket_verifier_freep) TicketVerifier *v = NULL;
        _cleanup_(freep) char *error = NULL;
        r = ticket_verifier_load(public_path, &v, &error);
        if (r < 0) {
                fprintf(stderr, "Cannot load public key: %s\n", error ? error : strerror(-r));
                return 1;
        }

        uint8_t data[TICKET_SIZE_MAX];
        size_t len = 0;
        TicketError e;
        Ticket t;
        r = read_ticket_argument(argv[optind], data, &len);
        if (r == -EIO) {
                fprintf(stderr, "Cannot read the ticket from stdin\n");
                return 1;
        }
        /* Text that is not base64url is as malformed as bytes that are not a ticket. */
        e = r < 0 ? TICKET_MALFORMED : ticket_verify(v, data, len, now, desktop, fp_hex || cert ? fp : NULL, &t);
        if (e != TICKET_OK) {
                printf("invalid (%s): %s\n", ticket_error_name(e), ticket_error_message(e));
                return 1;
        }
        printf("valid: %s, for %s on %s, %" PRIu64 " s left\n", ticket_role_to_string(t.role), t.user, t.desktop,
               t.expiry > now ? t.expiry - now : 0);
        return 0;
}
