/* A private dbus-daemon for tests and benches of org.tandem.Media1 (never linked into a daemon). */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Starts dbus-daemon --config-file config (it dies with this process) and reads its address into
 * addr: its pid, or a negative errno. */
pid_t test_dbus_start(const char *config, char *addr, size_t size);
