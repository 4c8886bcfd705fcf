/* tandemctl connect: ask the broker for a desktop of a pool and open it in tandem-viewer, handing
 * the ticket over a pipe (--ticket-file /dev/fd/N), never on a command line others can read. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tandemctl.h"

int ctl_cmd_connect(int argc, char **argv) {
        const char *usage = "tandemctl connect POOL [--user NAME] [--print] [--viewer PATH] [-- VIEWER-OPTIONS...]\n"
                            "  Opens a desktop of POOL in tandem-viewer (TANDEM_VIEWER or --viewer to use another);\n"
                            "  --print shows the broker's answer (host, port, ticket) instead. Admins name the user.";
        const char *user = NULL, *viewer = getenv("TANDEM_VIEWER"), *pool = NULL;
        bool print = false;
        int i = 1;
        /* Options before or after POOL; everything after "--" is the viewer's. */
        for (; i < argc; i++) {
                if (strcmp(argv[i], "--") == 0) {
                        i++;
                        break;
                }
                if (strcmp(argv[i], "--print") == 0)
                        print = true;
                else if ((strcmp(argv[i], "--user") == 0 || strcmp(argv[i], "--viewer") == 0) && i + 1 < argc) {
                        if (argv[i][2] == 'u')
                                user = argv[++i];
                        else
                                viewer = argv[++i];
                } else if (argv[i][0] != '-' && !pool)
                        pool = argv[i];
                else
                        return ctl_usage(usage);
        }
        if (!pool)
                return ctl_usage(usage);
        int optind_viewer = i;
        char path[512], doing[256];
        char *e = ctl_escape(pool);
        snprintf(path, sizeof(path), "/v1/pools/%s/connect", e ? e : "");
        free(e);
        snprintf(doing, sizeof(doing), "connecting to pool `%s'", pool);
        CtlResponse r;
        int k = ctl_request("POST", path, user ? json_pack("{s:s}", "user", user) : NULL, &r);
        if (k != CTL_OK)
                return k;
        k = ctl_check(&r, doing);
        if (k != CTL_OK || print) {
                if (k == CTL_OK)
                        ctl_output(r.json, NULL);
                ctl_response_done(&r);
                return k;
        }
        const char *ticket = json_string_value(json_object_get(r.json, "ticket"));
        int p[2];
        if (!ticket || pipe2(p, O_CLOEXEC) < 0) {
                ctl_response_done(&r);
                fprintf(stderr, "tandemctl: the broker's answer has no ticket\n");
                return CTL_BROKER_ERROR;
        }
        /* A ticket is at most 1206 characters: the pipe holds it without a reader. */
        size_t len = strlen(ticket);
        bool written = write(p[1], ticket, len) == (ssize_t) len && write(p[1], "\n", 1) == 1;
        close(p[1]);
        fprintf(stderr, "tandemctl: desktop %s on %s\n",
                json_string_value(json_object_get(json_object_get(r.json, "desktop"), "domain")),
                json_string_value(json_object_get(r.json, "address")));
        ctl_response_done(&r);
        if (!written || fcntl(p[0], F_SETFD, 0) < 0) {
                fprintf(stderr, "tandemctl: cannot hand the ticket over: %s\n", strerror(errno));
                return CTL_BROKER_ERROR;
        }
        char fdpath[32];
        snprintf(fdpath, sizeof(fdpath), "/dev/fd/%d", p[0]);
        size_t extra = (size_t) (argc - optind_viewer);
        char **args = calloc(extra + 4, sizeof(char *));
        if (!args)
                return CTL_BROKER_ERROR;
        args[0] = (char *) (viewer ? viewer : "tandem-viewer");
        args[1] = (char *) "--ticket-file";
        args[2] = fdpath;
        for (size_t a = 0; a < extra; a++)
                args[3 + a] = argv[optind_viewer + (int) a];
        execvp(args[0], args);
        fprintf(stderr, "tandemctl: cannot run %s: %s (install tandem-viewer, or set --viewer / TANDEM_VIEWER)\n",
                args[0], strerror(errno));
        free(args);
        return CTL_USAGE;
}
