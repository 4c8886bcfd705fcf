/* tandemctl: the broker's command line for operators and scripts (see tandemctl.h for the exit
 * codes and schema/broker-api.yaml for what each command asks). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "macro.h"
#include "subcommand.h"
#include "tandemctl.h"

CtlOptions ctl;

int ctl_usage(const char *text) {
        fprintf(stderr, "usage: %s\n", text);
        return CTL_USAGE;
}

static const Subcommand commands[] = {
        { "hosts", ctl_cmd_hosts, "list or show hypervisor hosts" },
        { "pools", ctl_cmd_pools, "list, show, create, change or delete pools" },
        { "desktops", ctl_cmd_desktops, "list, show, add or delete desktops; fetch a thumbnail" },
        { "users", ctl_cmd_users, "list, show, add or delete users" },
        { "tokens", ctl_cmd_tokens, "list, create or revoke API tokens" },
        { "sessions", ctl_cmd_sessions, "list sessions" },
        { "events", ctl_cmd_events, "the audit trail" },
        { "connect", ctl_cmd_connect, "open a desktop of a pool in tandem-viewer" },
        { "reboot", ctl_cmd_reboot, "reboot a desktop" },
};

static const char footer[] =
        "Options (before COMMAND):\n"
        "  --broker URL       the broker (TANDEM_BROKER; default https://localhost:8443)\n"
        "  --token-file FILE  the API token (TANDEM_TOKEN_FILE, or the token itself in TANDEM_TOKEN)\n"
        "  --ca FILE          trust this PEM certificate or CA for the broker (TANDEM_BROKER_CA)\n"
        "  --json             print the broker's JSON instead of tables\n\n"
        "Exit codes: 0 done, 1 refused, 2 usage, 3 broker unreachable, 4 not authenticated or not\n"
        "allowed, 5 no such object, 6 exists or in use, 7 unavailable (try later), 8 broker error.";

static char *read_token(const char *path) {
        FILE *f = fopen(path, "re");
        char line[256];
        if (!f)
                return NULL;
        char *ok = fgets(line, sizeof(line), f);
        fclose(f);
        if (!ok)
                return NULL;
        line[strcspn(line, "\r\n")] = 0;
        return strdup(line);
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "broker", required_argument, NULL, 'b' }, { "token-file", required_argument, NULL, 't' },
                { "ca", required_argument, NULL, 'c' },     { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },         {},
        };
        const char *token_file = getenv("TANDEM_TOKEN_FILE");
        ctl.broker = getenv("TANDEM_BROKER") ? getenv("TANDEM_BROKER") : "https://localhost:8443";
        ctl.ca = getenv("TANDEM_BROKER_CA");
        int c;
        while ((c = getopt_long(argc, argv, "+h", opts, NULL)) >= 0)
                switch (c) {
                case 'b':
                        ctl.broker = optarg;
                        break;
                case 't':
                        token_file = optarg;
                        break;
                case 'c':
                        ctl.ca = optarg;
                        break;
                case 'j':
                        ctl.json = true;
                        break;
                case 'h': {
                        char *help[] = { argv[0], (char *) "--help", NULL };
                        return subcommand_dispatch("tandemctl", commands, ELEMENTSOF(commands), footer, CTL_USAGE, 2,
                                                   help);
                }
                default:
                        return CTL_USAGE;
                }
        if (token_file) {
                ctl.token = read_token(token_file);
                if (!ctl.token) {
                        fprintf(stderr, "tandemctl: cannot read the token file `%s'\n", token_file);
                        return CTL_USAGE;
                }
        } else if (getenv("TANDEM_TOKEN"))
                ctl.token = strdup(getenv("TANDEM_TOKEN"));
        curl_global_init(CURL_GLOBAL_DEFAULT);
        argv[optind - 1] = argv[0];
        int r = subcommand_dispatch("tandemctl", commands, ELEMENTSOF(commands), footer, CTL_USAGE, argc - optind + 1,
                                    argv + optind - 1);
        free(ctl.token);
        curl_global_cleanup();
        return r;
}
