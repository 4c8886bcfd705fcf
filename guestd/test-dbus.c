#include "test-dbus.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t test_dbus_start(const char *config, char *addr, size_t size) {
        int p[2];
        if (size < 2 || pipe2(p, O_CLOEXEC) < 0)
                return -EINVAL;
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                dup2(p[1], 1);
                execlp("dbus-daemon", "dbus-daemon", "--config-file", config, "--nofork", "--nopidfile",
                       "--print-address=1", (char *) NULL);
                _exit(127);
        }
        close(p[1]);
        ssize_t n = read(p[0], addr, size - 1);
        close(p[0]);
        if (n <= 0) {
                kill(pid, SIGTERM);
                waitpid(pid, NULL, 0);
                return -EIO;
        }
        addr[n] = 0;
        addr[strcspn(addr, "\n")] = 0;
        return pid;
}
