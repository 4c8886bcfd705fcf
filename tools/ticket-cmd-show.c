/* tandem-ticket show TICKET: the fields, without checking anything. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ticket-cmd.h"

static int help(const char *name) {
        printf("Usage: tandem-ticket %s TICKET\n\n"
               "Prints a ticket's fields. Nothing is verified: not the signature, the expiry or the\n"
               "nonce. TICKET is the base64url text, or - to read it from stdin.\n",
               name);
        return 0;
}

static void print_time(const char *label, uint64_t t) {
        char s[64] = "";
        struct tm tm;
        if (t <= (uint64_t) INT32_MAX * 64) { /* well inside time_t and gmtime's years */
                time_t tt = (time_t) t;
                if (gmtime_r(&tt, &tm))
                        strftime(s, sizeof(s), "%Y-%m-%d %H:%M:%S UTC", &tm);
        }
        printf("  %-12s %" PRIu64 "%s%s%s\n", label, t, *s ? " (" : "", s, *s ? ")" : "");
}

static void print_hex(const char *label, const uint8_t *data, size_t len) {
        printf("  %-12s ", label);
        for (size_t i = 0; i < len; i++)
                printf("%02x", data[i]);
        printf("\n");
}

int cmd_show(int argc, char **argv) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                {},
        };
        uint8_t data[TICKET_SIZE_MAX];
        size_t len;
        Ticket t;
        char buf[64];
        int c;

        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return help(argv[0]);
                default:
                        return option_error(c, argv);
                }
        if (argc - optind != 1)
                return positional_error(argc, argv, 1, "TICKET");

        if (read_ticket_argument(argv[optind], data, &len) < 0 || ticket_parse(data, len, &t) < 0) {
                fprintf(stderr, "Not a ticket `%s': %s\n", shorten(argv[optind], buf),
                        ticket_error_message(TICKET_MALFORMED));
                return 1;
        }

        uint64_t now = now_unix();
        /* The strings are safe on a terminal: the parser refuses control characters. */
        printf("Ticket, version %d (NOT VERIFIED: show checks neither the signature nor the expiry)\n",
               TICKET_VERSION);
        printf("  %-12s %s\n", "role:", ticket_role_to_string(t.role));
        printf("  %-12s %s\n", "desktop:", t.desktop);
        printf("  %-12s %s\n", "user:", t.user);
        printf("  %-12s %s\n", "host:", t.host);
        print_time("issued:", t.issued);
        print_time("expiry:", t.expiry);
        if (now > t.expiry)
                printf("  %-12s expired %" PRIu64 " s ago\n", "status:", now - t.expiry);
        else if (now + TICKET_CLOCK_SKEW < t.issued)
                printf("  %-12s not valid for another %" PRIu64 " s\n", "status:", t.issued - now);
        else
                printf("  %-12s %" PRIu64 " s left\n", "status:", t.expiry - now);
        print_hex("nonce:", t.nonce, sizeof(t.nonce));
        if (ticket_fingerprint_is_zero(t.fingerprint))
                printf("  %-12s none (the viewer checks the host's certificate against the CA store)\n",
                       "fingerprint:");
        else
                print_hex("fingerprint:", t.fingerprint, sizeof(t.fingerprint));
        printf("  %-12s %zu bytes\n", "size:", len);
        return 0;
}
