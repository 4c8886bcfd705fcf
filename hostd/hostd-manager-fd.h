/* A seam for tests and benchmarks (hostd/test-harness.h, fuzzers): a named domain whose D-Bus
 * display is a given fd, without libvirt. The daemon never calls it; everything past the fd
 * (consoles, viewers, input) runs the daemon's own code. */
#pragma once

#include "hostd-forward.h"

/* Adds domain `name` (not yet known to m) with its QEMU D-Bus display on fd, which is owned from
 * now on (closed on failure too), as virDomainOpenGraphicsFD's fd would be. When the display
 * closes, the domain stays, detached, until the manager is freed. Returns 0, -EEXIST or a
 * negative errno of setting up the display connection. */
int manager_attach_display_fd(Manager *m, const char *name, int fd);
