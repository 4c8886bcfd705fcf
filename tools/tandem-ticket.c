/* tandem-ticket: make keys, mint, show and verify tickets by hand (the broker does it for real).
 * A table of subcommands, one file each. */
#include <stdio.h>
#include <string.h>

#include "subcommand.h"
#include "macro.h"
#include "ticket-cmd.h"

static const Subcommand commands[] = {
        { "keygen", cmd_keygen, "make the broker's Ed25519 key pair" },
        { "mint", cmd_mint, "sign a ticket with the private key" },
        { "show", cmd_show, "print a ticket's fields (not verified)" },
        { "verify", cmd_verify, "check a ticket as hostd would, without replay memory" },
};

int main(int argc, char **argv) {
        return subcommand_dispatch("tandem-ticket", commands, ELEMENTSOF(commands),
                                   "`tandem-ticket COMMAND --help' describes each. The format is schema/ticket.md.",
                                   EXIT_USAGE, argc, argv);
}
