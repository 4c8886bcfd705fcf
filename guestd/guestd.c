/* tandem-guestd: the in-guest agent. This first form finds its virtio-serial port and reports it;
 * the agent protocol (hello, heartbeat, features) comes with issue 5. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>

#include "daemon.h"
#include "guestd-conf.h"
#include "guestd-port.h"
#include "log.h"

static int load_config(void *config, const char *path, bool missing_ok, char **error) {
        return guestd_config_load(config, path, missing_ok, error);
}

static void describe_config(const void *config, const char *path) {
        const GuestdConfig *c = config;
        printf("%s: OK\nPort=%s\n", path, c->port_name);
}

static int start(void *config, sd_event *e, void **ret_state) {
        GuestdConfig *c = config;
        char dev[256];
        int r = guestd_find_port(c->sysfs_root, c->port_name, dev, sizeof(dev));
        if (r < 0)
                return log_error_errno(r, "No virtio-serial port named %s (is the channel in the domain XML?): %m",
                                       c->port_name);
        log_info("Agent port %s is %s", c->port_name, dev);
        *ret_state = NULL;
        return 0;
}

static void stop(void *state) {
}

static const DaemonOps ops = {
        .name = "tandem-guestd",
        .summary = "The Tandem agent inside a desktop VM.",
        .default_config = GUESTD_DEFAULT_CONFIG,
        .load_config = load_config,
        .log_level_offset = offsetof(GuestdConfig, log_level),
        .describe_config = describe_config,
        .start = start,
        .stop = stop,
};

int main(int argc, char **argv) {
        _cleanup_(guestd_config_done) GuestdConfig config;
        guestd_config_init(&config);
        return daemon_main(&ops, &config, argc, argv);
}
