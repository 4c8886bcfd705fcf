/* Finds the agent's virtio-serial port by name: QEMU names the port (org.tandem.agent.0), the
 * guest kernel numbers it (/dev/vportNpM); the name is in /sys/class/virtio-ports/<dev>/name. */
#pragma once

#include <stddef.h>

/* Writes "/dev/vportNpM" into ret. -ENOENT when no port has that name. */
int guestd_find_port(const char *sysfs_root, const char *name, char *ret, size_t size);
