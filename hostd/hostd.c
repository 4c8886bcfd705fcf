/* tandem-hostd: one per hypervisor host. Watches every domain of its libvirt URI and keeps a live
 * framebuffer of each one's screen from power-on, through QEMU's D-Bus display. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "daemon.h"
#include "hostd-conf.h"
#include "hostd-manager.h"
#include "log.h"

static int load_config(void *config, const char *path, bool missing_ok, char **error) {
        return hostd_config_load(config, path, missing_ok, error);
}

static void describe_config(const void *config, const char *path) {
        const HostdConfig *c = config;
        printf("%s: OK\nURI=%s\nStateDirectory=%s\nControlSocket=%s\nDomains=%s\n", path, c->uri,
               c->state_directory, c->control_socket, c->domains);
}

static int start(void *config, sd_event *e, void **ret_state) {
        Manager *m = NULL;
        int r = manager_new(config, &m);
        if (r < 0)
                return r;
        r = manager_start(m);
        if (r < 0) {
                manager_free(m);
                return r;
        }
        log_info("Watching %s (domains: %s), control socket %s", m->config.uri, m->config.domains,
                 m->config.control_socket);
        *ret_state = m;
        return 0;
}

static void stop(void *state) {
        manager_free(state);
}

static const DaemonOps ops = {
        .name = "tandem-hostd",
        .summary = "Watches the desktop VMs of a libvirt host from power-on through QEMU's D-Bus display.",
        .default_config = HOSTD_DEFAULT_CONFIG,
        .load_config = load_config,
        .log_level_offset = offsetof(HostdConfig, log_level),
        .describe_config = describe_config,
        .start = start,
        .stop = stop,
};

int main(int argc, char **argv) {
        _cleanup_(hostd_config_done) HostdConfig config;
        hostd_config_init(&config);
        return daemon_main(&ops, &config, argc, argv);
}
