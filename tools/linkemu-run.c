/* tandem-linkemu run: the forwarder's command line, then the loop. */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linkemu-cmd.h"
#include "linkemu-manager.h"
#include "linkemu-netns.h"
#include "linkemu-params.h"
#include "parse-util.h"

#define SETTINGS_MAX 32

static void run_usage(FILE *f) {
        fprintf(f,
                "Usage: tandem-linkemu run NAME [OPTIONS]\n\n"
                "Forwards IP packets between TUN devices " LINKEMU_IFNAME " in namespaces NAME-a and NAME-b\n"
                "(made by `tandem-linkemu setup NAME'), impaired per direction, until SIGINT or SIGTERM.\n\n"
                "  --profile NAME    start from a profile (default none)\n"
                "  --set SETTINGS    then `set SETTINGS', e.g. --set 'dir=a2b loss=5%%' (repeatable)\n"
                "  --seed N          PRNG seed (default 1); b2a uses N+1\n"
                "  --subnet CIDR     a gets .1 and b .2 of it (default " LINKEMU_SUBNET_DEFAULT ")\n"
                "  --control PATH    Unix socket for commands while running\n"
                "  --realtime        SCHED_FIFO when allowed, for benchmarks (timing under load)\n\n"
                "Parameters: %s.\nProfiles:\n",
                link_params_keys());
        link_profiles_describe(f);
        fprintf(f, "\nControl commands: set, profile, cut, restore, seed, stats, show, reset-stats, help\n"
                   "(one per line; see `tandem-linkemu ctl'). Prints `ready' on stdout once forwarding.\n");
}

/* A packet's time in the emulator is the time it is read from its TUN: on a busy machine a
 * forwarder in the normal class wakes late and reads what arrived meanwhile as one burst, which
 * its serializer then counts as a queue the sender never made (bench-linkemu-floor: a perfectly
 * paced sender at 90% of the lan profile's gigabit, 2 cores at load 8-9, "queue" 0.6-0.8 ms).
 * Scheduled first, it reads each packet as it comes. Best effort: without CAP_SYS_NICE (or in a
 * container that refuses it) it runs as before. Its work is bounded by the packets it forwards.
 * Opt-in (the benchmarks ask): tests run it beside TCG guests it must not take a core from. */
static void run_realtime(void) {
        struct sched_param sp = { .sched_priority = 1 };
        (void) sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp);
}

int cmd_run(int argc, char **argv) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },         { "profile", required_argument, NULL, 'p' },
                { "set", required_argument, NULL, 's' },    { "seed", required_argument, NULL, 'S' },
                { "subnet", required_argument, NULL, 'n' }, { "control", required_argument, NULL, 'c' },
                { "realtime", no_argument, NULL, 'R' },  {},
        };
        const char *profile = NULL, *control = NULL, *subnet_arg = LINKEMU_SUBNET_DEFAULT;
        const char *settings[SETTINGS_MAX];
        size_t n_settings = 0;
        uint64_t seed = 1;
        bool realtime = false;
        Subnet subnet;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        run_usage(stdout);
                        return 0;
                case 'p':
                        profile = optarg;
                        break;
                case 's':
                        if (n_settings == SETTINGS_MAX) {
                                fprintf(stderr, "Too many --set (at most %d)\n", SETTINGS_MAX);
                                return EXIT_USAGE;
                        }
                        settings[n_settings++] = optarg;
                        break;
                case 'S':
                        if (parse_u64(optarg, UINT64_MAX - 1, &seed) < 0) {
                                fprintf(stderr, "Invalid seed `%s' (a number)\n", optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case 'n':
                        subnet_arg = optarg;
                        break;
                case 'c':
                        control = optarg;
                        break;
                case 'R':
                        realtime = true;
                        break;
                default:
                        fprintf(stderr, "See tandem-linkemu run --help\n");
                        return EXIT_USAGE;
                }
        if (optind + 1 != argc) {
                fprintf(stderr, optind == argc ? "Missing NAME (see tandem-linkemu run --help)\n"
                                               : "Unexpected argument `%s'\n", argv[optind + 1]);
                return EXIT_USAGE;
        }
        const char *name = argv[optind];
        if (!linkemu_name_valid(name)) {
                fprintf(stderr, "Invalid name `%s' (letters, digits, '_' and '-', at most %d)\n", name,
                        LINKEMU_NAME_MAX);
                return EXIT_USAGE;
        }
        if (subnet_parse(subnet_arg, &subnet) < 0) {
                fprintf(stderr, "Invalid subnet `%s' (an IPv4 network such as 10.77.0.0/24, prefix 8 to 30)\n",
                        subnet_arg);
                return EXIT_USAGE;
        }

        _cleanup_(manager_freep) Manager *m = NULL;
        r = manager_new(seed, &m);
        if (r < 0) {
                fprintf(stderr, "Cannot start: %s\n", strerror(-r));
                return 1;
        }
        /* The settings first: a typo is reported before anything is created. */
        for (size_t i = 0; i <= n_settings; i++) {
                char line[CONTROL_LINE_MAX + 1];
                _cleanup_(freep) char *reply = NULL;
                if (i == 0 && !profile)
                        continue;
                if (i == 0)
                        snprintf(line, sizeof(line), "profile %s", profile);
                else if ((size_t) snprintf(line, sizeof(line), "set %s", settings[i - 1]) >= sizeof(line)) {
                        fprintf(stderr, "--set too long: `%.40s...'\n", settings[i - 1]);
                        return EXIT_USAGE;
                }
                r = manager_command(m, line, &reply);
                if (r == -ENOMEM) {
                        fprintf(stderr, "Out of memory\n");
                        return 1;
                }
                if (r < 0) {
                        /* "error: Invalid value `x' for loss (...)" without its prefix */
                        fputs(reply + strlen("error: "), stderr);
                        return EXIT_USAGE;
                }
        }

        int fds[2];
        for (int i = 0; i < 2; i++) {
                char ns[LINKEMU_NAME_MAX + 3];
                snprintf(ns, sizeof(ns), "%s-%c", name, 'a' + i);
                if (!netns_exists(ns)) {
                        fprintf(stderr, "No namespace %s (tandem-linkemu setup %s)\n", ns, name);
                        if (i == 1)
                                close(fds[0]);
                        return 1;
                }
                r = tun_open_in_netns(ns, i == 0 ? subnet.a : subnet.b, subnet.prefix, &fds[i]);
                if (r < 0) {
                        fprintf(stderr, "Cannot make %s in %s: %s%s\n", LINKEMU_IFNAME, ns, strerror(-r),
                                r == -EBUSY ? " (another forwarder runs there)" : "");
                        if (i == 1)
                                close(fds[0]);
                        return 1;
                }
        }
        r = manager_start_forwarding(m, fds[0], fds[1]);
        if (r >= 0 && control)
                r = manager_listen(m, control);
        if (r < 0) {
                fprintf(stderr, "Cannot start forwarding%s%s: %s\n", control ? " or listen on " : "",
                        control ? control : "", strerror(-r));
                return 1;
        }
        if (realtime)
                run_realtime();
        printf("ready\n");
        fflush(stdout);
        r = manager_run(m);
        if (r < 0) {
                fprintf(stderr, "Event loop failed: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}
