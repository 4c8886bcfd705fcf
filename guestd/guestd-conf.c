#include "guestd-conf.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <utmp.h>

#include "conf.h"

static const ConfItem guestd_items[] = {
        { "Guestd", "Port", conf_parse_string, offsetof(GuestdConfig, port_name), 0 },
        { "Guestd", "PortPath", conf_parse_string, offsetof(GuestdConfig, port_path), 0 },
        { "Guestd", "SysfsRoot", conf_parse_string, offsetof(GuestdConfig, sysfs_root), 0 },
        { "Guestd", "HeartbeatSeconds", conf_parse_unsigned, offsetof(GuestdConfig, heartbeat_seconds), 3600 },
        { "Guestd", "SessionSocket", conf_parse_string, offsetof(GuestdConfig, session_socket), 0 },
        { "Guestd", "SessionHelper", conf_parse_string, offsetof(GuestdConfig, session_helper), 0 },
        { "Guestd", "UtmpPath", conf_parse_string, offsetof(GuestdConfig, utmp_path), 0 },
        { "Guestd", "RebootCommand", conf_parse_string, offsetof(GuestdConfig, reboot_command), 0 },
        { "Guestd", "ShutdownCommand", conf_parse_string, offsetof(GuestdConfig, shutdown_command), 0 },
        { "Guestd", "Logind", conf_parse_bool, offsetof(GuestdConfig, use_logind), 0 },
        { "Guestd", "Media", conf_parse_bool, offsetof(GuestdConfig, media), 0 },
        { "Guestd", "LogLevel", conf_parse_log_level, offsetof(GuestdConfig, log_level), 0 },
        {},
};

void guestd_config_init(GuestdConfig *c) {
        *c = (GuestdConfig) {
                .port_name = strdup("org.tandem.agent.0"),
                .sysfs_root = strdup("/sys"),
                .heartbeat_seconds = 2,
                .session_socket = strdup("/run/tandem-guestd/session.sock"),
                .session_helper = strdup("/usr/bin/tandem-guestd-session"),
                .utmp_path = strdup(_PATH_UTMP),
                .use_logind = true,
                .media = true,
                .log_level = LOG_INFO,
                .port_fd = -1,
        };
}

void guestd_config_done(GuestdConfig *c) {
        free(c->port_name);
        free(c->port_path);
        free(c->sysfs_root);
        free(c->session_socket);
        free(c->session_helper);
        free(c->utmp_path);
        free(c->reboot_command);
        free(c->shutdown_command);
        *c = (GuestdConfig) { .port_fd = -1 };
}

int guestd_config_load(GuestdConfig *c, const char *path, bool missing_ok, char **error) {
        int r = conf_load(guestd_items, c, path, missing_ok, error);
        if (r < 0)
                return r;
        if (c->heartbeat_seconds == 0) {
                if (error)
                        *error = strdup("HeartbeatSeconds= must be at least 1");
                return -EINVAL;
        }
        return 0;
}
