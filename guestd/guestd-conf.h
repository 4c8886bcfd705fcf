/* tandem-guestd's configuration: [Guestd] in guestd.conf and its drop-ins. */
#pragma once

#include <stdbool.h>

typedef struct GuestdConfig {
        char *port_name;  /* virtio-serial port name to find under /sys/class/virtio-ports */
        char *sysfs_root; /* "/sys", overridable for tests */
        int log_level;
} GuestdConfig;

#define GUESTD_DEFAULT_CONFIG "/etc/tandem/guestd.conf"

void guestd_config_init(GuestdConfig *c);
void guestd_config_done(GuestdConfig *c);
int guestd_config_load(GuestdConfig *c, const char *path, bool missing_ok, char **error);
