#include "guestd-conf.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "conf.h"

static const ConfItem guestd_items[] = {
        { "Guestd", "Port", conf_parse_string, offsetof(GuestdConfig, port_name), 0 },
        { "Guestd", "SysfsRoot", conf_parse_string, offsetof(GuestdConfig, sysfs_root), 0 },
        { "Guestd", "LogLevel", conf_parse_log_level, offsetof(GuestdConfig, log_level), 0 },
        {},
};

void guestd_config_init(GuestdConfig *c) {
        *c = (GuestdConfig) {
                .port_name = strdup("org.tandem.agent.0"),
                .sysfs_root = strdup("/sys"),
                .log_level = LOG_INFO,
        };
}

void guestd_config_done(GuestdConfig *c) {
        free(c->port_name);
        free(c->sysfs_root);
        *c = (GuestdConfig) {};
}

int guestd_config_load(GuestdConfig *c, const char *path, bool missing_ok, char **error) {
        return conf_load(guestd_items, c, path, missing_ok, error);
}
