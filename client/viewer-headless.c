#include "viewer-headless.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "viewer-exit.h"
#include "viewer-util.h"

static int signal_fd_open(sigset_t *old) {
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        if (sigprocmask(SIG_BLOCK, &mask, old) < 0)
                return -errno;
        int fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (fd < 0) {
                int r = -errno;
                sigprocmask(SIG_SETMASK, old, NULL);
                return r;
        }
        return fd;
}

int viewer_headless_run(Viewer *v) {
        sigset_t old;
        _cleanup_(closep) int sig_fd = signal_fd_open(&old);

        /* Without the signalfd, SIGINT still ends us, only without last.png: not worth failing. */
        if (sig_fd < 0)
                viewer_message("Cannot watch for signals (%s), ignoring", strerror(-sig_fd));

        while (!v->done) {
                uint64_t now = now_usec(), deadline = viewer_tick(v, now);
                struct pollfd p[2] = { { .fd = -1 }, { .fd = sig_fd, .events = POLLIN } };

                if (v->done)
                        break;
                p[0].fd = viewer_fd(v, &p[0].events);
                if (poll(p, 2, poll_timeout_ms(now, deadline, -1)) < 0) {
                        if (errno == EINTR)
                                continue;
                        viewer_quit(v, VIEWER_EXIT_USAGE, "poll() failed: %s", strerror(errno));
                        break;
                }
                if (p[1].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        if (read(sig_fd, &si, sizeof(si)) == sizeof(si))
                                viewer_quit(v, VIEWER_EXIT_DONE, "Stopping on signal %u", si.ssi_signo);
                }
                if (p[0].revents)
                        viewer_process(v);
        }

        viewer_shutdown(v);
        if (sig_fd >= 0)
                sigprocmask(SIG_SETMASK, &old, NULL);
        return v->status;
}
