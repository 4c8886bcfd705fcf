/* hostd's libvirt connection: connects (retrying with backoff while libvirtd is down), follows
 * domain lifecycle events, and reconnects when the connection is lost, re-attaching to every
 * running domain without disturbing it. */
#pragma once

#include "hostd-forward.h"

/* Installs the event bridge and makes the first connection attempt. */
int manager_libvirt_start(Manager *m);
void manager_libvirt_disconnect(Manager *m);

/* The message of libvirt's last error on this thread, never NULL. */
const char *libvirt_last_error(void);
