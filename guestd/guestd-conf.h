/* tandem-guestd's configuration: [Guestd] in guestd.conf and its drop-ins. */
#pragma once

#include <stdbool.h>

typedef struct GuestdConfig {
        char *port_name;         /* virtio-serial port name to find under /sys/class/virtio-ports */
        char *port_path;         /* PortPath=: a char device or unix socket instead; NULL: by name */
        char *sysfs_root;        /* "/sys", overridable for tests */
        unsigned heartbeat_seconds;
        char *session_socket;    /* where per-session helpers connect */
        char *session_helper;    /* the helper started for graphical logons */
        char *utmp_path;         /* the utmp fallback's file */
        char *reboot_command;    /* overrides logind / PID 1 when set (run with /bin/sh -c) */
        char *shutdown_command;
        bool use_logind;         /* Logind=no forces the utmp fallback */
        bool media;              /* Media=no: no org.tandem.Media1 */
        int log_level;
        int port_fd;             /* --port-fd: an inherited connected socket; -1 when none */
} GuestdConfig;

#define GUESTD_DEFAULT_CONFIG "/etc/tandem/guestd.conf"

void guestd_config_init(GuestdConfig *c);
void guestd_config_done(GuestdConfig *c);
int guestd_config_load(GuestdConfig *c, const char *path, bool missing_ok, char **error);
