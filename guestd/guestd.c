/* tandem-guestd: the in-guest agent's root daemon. It owns the agent port (virtio-serial), says
 * hello and sends heartbeats with the guest's health, reports logons (logind, or utmp without
 * it), carries out power requests, and relays the clipboard, windows and display channels to
 * the helper of the newest graphical session (guestd-helpers.c). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "guestd-conf.h"
#include "guestd-manager.h"
#include "log.h"
#include "parse-util.h"

static int load_config(void *config, const char *path, bool missing_ok, char **error) {
        return guestd_config_load(config, path, missing_ok, error);
}

static void describe_config(const void *config, const char *path) {
        const GuestdConfig *c = config;
        printf("%s: OK\nPort=%s\n", path, c->port_name);
        if (c->port_path)
                printf("PortPath=%s\n", c->port_path);
        printf("HeartbeatSeconds=%u\nSessionSocket=%s\nSessionHelper=%s\nLogind=%s\nMedia=%s\nUtmpPath=%s\n",
               c->heartbeat_seconds, c->session_socket, c->session_helper, c->use_logind ? "yes" : "no", c->media ? "yes" : "no",
               c->utmp_path);
}

static int start(void *config, sd_event *e, void **ret_state) {
        Manager *m;
        /* sd-event's child sources need SIGCHLD blocked (helpers, power commands). */
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        int r = manager_new(e, config, &m);
        if (r < 0)
                return r;
        r = manager_start(m);
        if (r < 0) {
                manager_free(m);
                return r;
        }
        *ret_state = m;
        return 0;
}

static void stop(void *state) {
        manager_free(state);
}

static const DaemonOps ops = {
        .name = "tandem-guestd",
        .summary = "The Tandem agent inside a desktop VM (--port-fd N: talk over an inherited socket).",
        .default_config = GUESTD_DEFAULT_CONFIG,
        .load_config = load_config,
        .log_level_offset = offsetof(GuestdConfig, log_level),
        .describe_config = describe_config,
        .start = start,
        .stop = stop,
};

/* Takes --port-fd N (or --port-fd=N) out of argv before daemon_main sees the rest. */
static int take_port_fd(int *argc, char **argv, int *ret) {
        int out = 1;
        for (int i = 1; i < *argc; i++) {
                const char *v = NULL;
                if (strcmp(argv[i], "--port-fd") == 0) {
                        if (i + 1 >= *argc)
                                return -EINVAL;
                        v = argv[++i];
                } else if (strncmp(argv[i], "--port-fd=", 10) == 0)
                        v = argv[i] + 10;
                else {
                        argv[out++] = argv[i];
                        continue;
                }
                uint64_t fd;
                if (parse_u64(v, INT32_MAX, &fd) < 0)
                        return -EINVAL;
                *ret = (int) fd;
        }
        *argc = out;
        argv[out] = NULL;
        return 0;
}

int main(int argc, char **argv) {
        _cleanup_(guestd_config_done) GuestdConfig config;
        guestd_config_init(&config);
        int fd = -1;
        if (take_port_fd(&argc, argv, &fd) < 0) {
                fprintf(stderr, "tandem-guestd: --port-fd needs a file descriptor number\n");
                return 1;
        }
        /* Close-on-exec before anything forks: the session helpers started for logons read at
         * start-up would otherwise hold the host's channel open after guestd dies. */
        if (fd >= 0 && fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
                fprintf(stderr, "tandem-guestd: bad --port-fd %d: %s\n", fd, strerror(errno));
                return 1;
        }
        config.port_fd = fd;
        return daemon_main(&ops, &config, argc, argv);
}
