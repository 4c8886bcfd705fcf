/* The shared shape of every Tandem daemon's main(): --config FILE (INI plus FILE.d drop-ins),
 * --check-config, logging to the journal or stderr, SIGTERM/SIGINT, sd_notify readiness, one
 * sd-event loop. Each daemon supplies its config and a start/stop pair. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

typedef struct DaemonOps {
        const char *name;           /* "tandem-hostd" */
        const char *summary;        /* one line for --help */
        const char *default_config; /* read if present when --config is not given */
        /* Loads path and its drop-ins over the defaults already in config. */
        int (*load_config)(void *config, const char *path, bool missing_ok, char **error);
        size_t log_level_offset; /* of the int LogLevel= is parsed into, inside the config */
        /* Prints the effective settings that matter, for --check-config. */
        void (*describe_config)(const void *config, const char *path);
        /* Sets the daemon up on the loop; it may take over the config's contents. */
        int (*start)(void *config, sd_event *e, void **ret_state);
        void (*stop)(void *state);
} DaemonOps;

/* Returns the process exit status. */
int daemon_main(const DaemonOps *ops, void *config, int argc, char **argv);
