/* tandem-ticket: make keys, mint, show and verify tickets by hand (the broker does it for real).
 * A table of subcommands, one file each. */
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "ticket-cmd.h"

static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *summary;
} commands[] = {
        { "keygen", cmd_keygen, "make the broker's Ed25519 key pair" },
        { "mint", cmd_mint, "sign a ticket with the private key" },
        { "show", cmd_show, "print a ticket's fields (not verified)" },
        { "verify", cmd_verify, "check a ticket as hostd would, without replay memory" },
};

static void usage(FILE *f) {
        fprintf(f, "Usage: tandem-ticket COMMAND [ARGS...]\n\nCommands:\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
        fprintf(f, "\n`tandem-ticket COMMAND --help' describes each. The format is schema/ticket.md.\n");
}

int main(int argc, char **argv) {
        if (argc < 2) {
                usage(stderr);
                return EXIT_USAGE;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
                usage(stdout);
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (strcmp(argv[1], commands[i].name) == 0)
                        return commands[i].run(argc - 1, argv + 1);
        fprintf(stderr, "Invalid command `%s' (keygen, mint, show or verify)\n", argv[1]);
        return EXIT_USAGE;
}
