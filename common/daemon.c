#include "daemon.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "log.h"

static void help(const DaemonOps *ops) {
        printf("Usage: %s [--config FILE] [--check-config]\n\n%s\n\n"
               "  -c --config FILE   configuration (default %s, plus the *.conf files in FILE.d/)\n"
               "  -t --check-config  check the configuration, print it and exit\n"
               "  -h --help          show this help\n",
               ops->name, ops->summary, ops->default_config);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        log_info("Received signal %d, exiting", (int) si->ssi_signo);
        sd_notify(0, "STOPPING=1");
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

int daemon_main(const DaemonOps *ops, void *config, int argc, char **argv) {
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "check-config", no_argument, NULL, 't' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *path = ops->default_config;
        bool explicit_config = false, check_only = false;
        char *error = NULL;
        sd_event *e = NULL;
        void *state = NULL;
        int c, r;

        log_open(ops->name);
        while ((c = getopt_long(argc, argv, "c:th", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        path = optarg;
                        explicit_config = true;
                        break;
                case 't':
                        check_only = true;
                        break;
                case 'h':
                        help(ops);
                        return EXIT_SUCCESS;
                default:
                        return EXIT_FAILURE;
                }
        if (optind < argc) {
                fprintf(stderr, "%s: unexpected argument `%s'\n", ops->name, argv[optind]);
                return EXIT_FAILURE;
        }

        r = ops->load_config(config, path, !explicit_config, &error);
        if (r < 0) {
                log_error("Invalid configuration: %s", error ? error : strerror(-r));
                free(error);
                return EXIT_FAILURE;
        }
        log_set_max_level(*(const int *) ((const char *) config + ops->log_level_offset));
        if (check_only) {
                ops->describe_config(config, path);
                return EXIT_SUCCESS;
        }

        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        r = sd_event_default(&e);
        if (r >= 0)
                r = sd_event_add_signal(e, NULL, SIGTERM, on_signal, NULL);
        if (r >= 0)
                r = sd_event_add_signal(e, NULL, SIGINT, on_signal, NULL);
        if (r < 0) {
                log_error_errno(r, "Failed to set up the event loop: %m");
                sd_event_unref(e);
                return EXIT_FAILURE;
        }

        r = ops->start(config, e, &state);
        if (r >= 0) {
                sd_notify(0, "READY=1");
                r = sd_event_loop(e);
                ops->stop(state);
        } else
                log_error_errno(r, "Failed to start: %m");
        sd_event_unref(e);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
