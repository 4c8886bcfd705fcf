/* Bridges libvirt's event API into an sd-event loop, so libvirt's keepalives, domain events and
 * stream callbacks run in hostd's one loop (no second loop thread). Any thread may make libvirt
 * calls (libvirt then calls the impl from it): changes it makes reach the loop through a wake-up.
 * libvirt's impl is process global: call once, from the loop's thread, before opening any
 * connection. */
#pragma once

#include <systemd/sd-event.h>

int libvirt_event_bridge_install(sd_event *e);
