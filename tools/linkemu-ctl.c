/* tandem-linkemu ctl SOCKET COMMAND...: sends one command line to a running forwarder and prints
 * its reply; exit status 1 when the reply is an error. For shells and people; tests may speak to
 * the socket directly (one line in, one line out). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "linkemu-cmd.h"
#include "linkemu-control.h"
#include "macro.h"

int cmd_ctl(int argc, char **argv) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char line[CONTROL_LINE_MAX + 2], reply[8192];
        size_t len = 0, got = 0;

        if (argc < 3) {
                fprintf(stderr, "Usage: tandem-linkemu ctl SOCKET COMMAND [ARGS...]\n");
                return EXIT_USAGE;
        }
        if (strlen(argv[1]) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "Socket path too long: `%s'\n", argv[1]);
                return EXIT_USAGE;
        }
        memcpy(sa.sun_path, argv[1], strlen(argv[1]) + 1);
        for (int i = 2; i < argc; i++) {
                int n = snprintf(line + len, sizeof(line) - len, "%s%s", i > 2 ? " " : "", argv[i]);
                if (n < 0 || (size_t) n >= sizeof(line) - len - 1) {
                        fprintf(stderr, "Command too long (at most %d bytes)\n", CONTROL_LINE_MAX);
                        return EXIT_USAGE;
                }
                len += (size_t) n;
        }
        line[len++] = '\n';

        _cleanup_(closep) int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                fprintf(stderr, "Cannot connect to `%s': %s\n", argv[1], strerror(errno));
                return 1;
        }
        if (send(fd, line, len, MSG_NOSIGNAL) != (ssize_t) len) {
                fprintf(stderr, "Cannot send to `%s': %s\n", argv[1], strerror(errno));
                return 1;
        }
        while (got < sizeof(reply) - 1 && !memchr(reply, '\n', got)) {
                ssize_t n = recv(fd, reply + got, sizeof(reply) - 1 - got, 0);
                if (n <= 0)
                        break;
                got += (size_t) n;
        }
        if (!memchr(reply, '\n', got)) {
                fprintf(stderr, "No reply from `%s'\n", argv[1]);
                return 1;
        }
        fwrite(reply, 1, got, stdout);
        return strncmp(reply, "error: ", 7) == 0 ? 1 : 0;
}
