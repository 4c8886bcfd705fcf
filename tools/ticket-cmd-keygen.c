/* tandem-ticket keygen PRIVATE.pem PUBLIC.pem */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ticket-cmd.h"

static int help(const char *name) {
        printf("Usage: tandem-ticket %s PRIVATE.pem PUBLIC.pem\n\n"
               "Makes the broker's Ed25519 key pair. The private key (mode 0600) stays with the broker,\n"
               "which signs tickets with it; every hostd gets the public key. Existing files are never\n"
               "overwritten.\n",
               name);
        return 0;
}

int cmd_keygen(int argc, char **argv) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return help(argv[0]);
                default:
                        return option_error(c, argv);
                }
        if (argc - optind != 2)
                return positional_error(argc, argv, 2, "PRIVATE.pem and PUBLIC.pem");

        const char *priv = argv[optind], *pub = argv[optind + 1];
        if (strcmp(priv, pub) == 0) {
                fprintf(stderr, "Invalid PUBLIC.pem `%s' (the same file as PRIVATE.pem)\n", pub);
                return EXIT_USAGE;
        }
        int r = ticket_key_generate(priv, pub);
        if (r == -EEXIST) {
                fprintf(stderr, "Refusing to overwrite `%s' or `%s': one of them exists\n", priv, pub);
                return 1;
        }
        if (r < 0) {
                fprintf(stderr, "Cannot write the key pair to `%s' and `%s': %s\n", priv, pub, strerror(-r));
                return 1;
        }
        printf("Wrote %s (private: the broker's only) and %s (public: for every hostd)\n", priv, pub);
        return 0;
}
