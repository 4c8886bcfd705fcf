#include "hostd-manager.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hostd-broker.h"
#include "hostd-control.h"
#include "hostd-domain.h"
#include "hostd-libvirt.h"
#include "hostd-viewer-server.h"
#include "log.h"

static int mkdir_p(const char *path, mode_t mode) {
        char buf[4096];
        size_t n = strlen(path);
        if (n == 0 || n >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, path, n + 1);
        for (char *p = buf + 1; *p; p++)
                if (*p == '/') {
                        *p = 0;
                        if (mkdir(buf, mode) < 0 && errno != EEXIST)
                                return -errno;
                        *p = '/';
                }
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int manager_new(HostdConfig *config, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = calloc(1, sizeof(Manager));
        char path[4096];
        int r;

        if (!m)
                return -ENOMEM;
        m->config = *config;
        *config = (HostdConfig) {};
        m->lifecycle_callback = m->reboot_callback = -1;

        r = sd_event_default(&m->event);
        if (r < 0)
                return r;
        m->thumbnailer = thumbnailer_new();
        if (!m->thumbnailer)
                return -ENOMEM;
        snprintf(path, sizeof(path), "%s/thumbnails", m->config.state_directory);
        r = mkdir_p(path, 0750);
        if (r < 0)
                return log_error_errno(r, "Failed to create %s: %m", path);
        r = control_server_new(m, m->config.control_socket, &m->control);
        if (r < 0)
                return log_error_errno(r, "Failed to listen on control socket %s: %m", m->config.control_socket);
        r = viewer_server_new(m, &m->viewers);
        if (r < 0)
                return r;
        r = broker_client_new(m, &m->broker);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        while (m->domains) {
                Domain *d = m->domains;
                m->domains = d->next;
                domain_free(d);
        }
        broker_client_free(m->broker);
        manager_libvirt_disconnect(m);
        viewer_server_free(m->viewers);
        sd_event_source_disable_unref(m->reconnect_timer);
        control_server_free(m->control);
        thumbnailer_free(m->thumbnailer);
        hostd_config_done(&m->config);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}

int manager_start(Manager *m) {
        int r = manager_libvirt_start(m);
        if (r < 0)
                return r;
        return broker_client_start(m->broker);
}

void manager_emit(Manager *m, const char *fmt, ...) {
        char line[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        control_server_broadcast(m->control, line);
}

Domain *manager_find_domain(Manager *m, const char *name) {
        for (Domain *d = m->domains; d; d = d->next)
                if (strcmp(d->name, name) == 0)
                        return d;
        return NULL;
}
