/* tandem-linkemu: a packet-level link emulator for tests and benchmarks (this kernel has no
 * netem, and a relay that terminates TCP cannot make TCP lose packets).
 *
 * Design: `setup NAME` makes two network namespaces, NAME-a and NAME-b. `run NAME` opens a TUN
 * device (tle0) inside each, gives them 10.77.0.1/24 (a) and 10.77.0.2/24 (b) by default, and
 * forwards the IP packets each one emits to the other through one Link per direction (delay,
 * jitter, loss, bursts, reordering, duplication, rate limit and queue, UDP blackhole; seeded).
 * The TUNs vanish with the forwarder; `teardown NAME` removes the namespaces. Traffic between
 * the two addresses never leaves them. While it runs, a Unix socket takes the commands of
 * linkemu-control.h (`tandem-linkemu ctl SOCKET COMMAND` sends one). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "subcommand.h"
#include "linkemu-cmd.h"
#include "linkemu-netns.h"
#include "linkemu-params.h"
#include "macro.h"

static int cmd_setup(int argc, char **argv) {
        if (argc != 2) {
                fprintf(stderr, "Usage: tandem-linkemu setup NAME\n");
                return EXIT_USAGE;
        }
        if (!linkemu_name_valid(argv[1])) {
                fprintf(stderr, "Invalid name `%s' (letters, digits, '_' and '-', at most %d)\n", argv[1],
                        LINKEMU_NAME_MAX);
                return EXIT_USAGE;
        }
        int r = linkemu_setup(argv[1]);
        if (r == -EEXIST)
                fprintf(stderr, "Namespace %s-a or %s-b already exists (tandem-linkemu teardown %s)\n", argv[1],
                        argv[1], argv[1]);
        else if (r < 0)
                fprintf(stderr, "Cannot make namespaces %s-a and %s-b: %s\n", argv[1], argv[1], strerror(-r));
        return r < 0 ? 1 : 0;
}

static int cmd_teardown(int argc, char **argv) {
        if (argc != 2) {
                fprintf(stderr, "Usage: tandem-linkemu teardown NAME\n");
                return EXIT_USAGE;
        }
        if (!linkemu_name_valid(argv[1])) {
                fprintf(stderr, "Invalid name `%s'\n", argv[1]);
                return EXIT_USAGE;
        }
        int r = linkemu_teardown(argv[1]);
        if (r == -ENOENT)
                fprintf(stderr, "No namespace %s-a or %s-b\n", argv[1], argv[1]);
        else if (r < 0)
                fprintf(stderr, "Cannot remove namespaces %s-a and %s-b: %s\n", argv[1], argv[1], strerror(-r));
        return r < 0 ? 1 : 0;
}

static int cmd_profiles(int argc, char **argv) {
        printf("Profiles (each direction gets half the RTT, the whole rate and the loss):\n");
        link_profiles_describe(stdout);
        return 0;
}

static const Subcommand commands[] = {
        { "setup", cmd_setup, "make namespaces NAME-a and NAME-b" },
        { "run", cmd_run, "forward between them with impairments until SIGINT/SIGTERM" },
        { "ctl", cmd_ctl, "send one command to a running forwarder's control socket" },
        { "teardown", cmd_teardown, "remove the namespaces" },
        { "profiles", cmd_profiles, "list the named profiles" },
};

int main(int argc, char **argv) {
        return subcommand_dispatch("tandem-linkemu", commands, ELEMENTSOF(commands),
                                   "`tandem-linkemu run --help' lists the options and parameters.", EXIT_USAGE, argc, argv);
}
