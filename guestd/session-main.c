/* tandem-guestd-session: the agent's per-session X11 helper. The root daemon (tandem-guestd)
 * starts it as the session's user with DISPLAY set; it connects to the root daemon's session
 * socket (or uses --fd, a connected socket, in tests) and speaks the agent protocol there. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "parse-util.h"
#include "session.h"

#define DEFAULT_SOCKET "/run/tandem-guestd/session.sock"

static void help(void) {
        printf("Usage: tandem-guestd-session [OPTIONS]\n\n"
               "The Tandem agent's per-session helper: clipboard, windows and resize of one X display.\n\n"
               "  --display D      the X display (default: $DISPLAY)\n"
               "  --socket PATH    the root daemon's socket (default: " DEFAULT_SOCKET ")\n"
               "  --fd N           an already-connected socket to speak on instead\n"
               "  --once           exit when the connection ends (tandem-guestd starts a new helper\n"
               "                   when it starts again) instead of connecting again\n"
               "  --log-level L    debug, info, notice, warning or err (default: info)\n"
               "  -h, --help       this text\n");
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        log_info("Received signal %d, exiting", (int) si->ssi_signo);
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "display", required_argument, NULL, 'd' },
                { "socket", required_argument, NULL, 's' },
                { "fd", required_argument, NULL, 'f' },
                { "once", no_argument, NULL, 'o' },
                { "log-level", required_argument, NULL, 'l' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        SessionOptions o = { .socket_path = DEFAULT_SOCKET, .fd = -1 };
        int c, r;

        log_open("tandem-guestd-session");
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'd':
                        o.display = optarg;
                        break;
                case 's':
                        o.socket_path = optarg;
                        break;
                case 'f': {
                        uint64_t v;
                        if (parse_u64(optarg, INT32_MAX, &v) < 0) {
                                fprintf(stderr, "tandem-guestd-session: invalid --fd `%s'\n", optarg);
                                return EXIT_FAILURE;
                        }
                        o.fd = (int) v;
                        o.socket_path = NULL;
                        break;
                }
                case 'o':
                        o.once = true;
                        break;
                case 'l':
                        r = log_level_from_string(optarg);
                        if (r < 0) {
                                fprintf(stderr, "tandem-guestd-session: invalid --log-level `%s'\n", optarg);
                                return EXIT_FAILURE;
                        }
                        log_set_max_level(r);
                        break;
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                default:
                        return EXIT_FAILURE;
                }
        if (optind < argc) {
                fprintf(stderr, "tandem-guestd-session: unexpected argument `%s'\n", argv[optind]);
                return EXIT_FAILURE;
        }

        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(session_freep) Session *s = NULL;
        r = sd_event_default(&e);
        if (r >= 0)
                r = sd_event_add_signal(e, NULL, SIGTERM, on_signal, NULL);
        if (r >= 0)
                r = sd_event_add_signal(e, NULL, SIGINT, on_signal, NULL);
        if (r < 0) {
                log_error_errno(r, "Cannot set up the event loop: %m");
                return EXIT_FAILURE;
        }
        if (session_new(e, &o, &s) < 0)
                return EXIT_FAILURE;
        r = sd_event_loop(e);
        if (r < 0) {
                log_error_errno(r, "Event loop failed: %m");
                return EXIT_FAILURE;
        }
        return r;
}
