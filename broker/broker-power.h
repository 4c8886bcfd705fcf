/* The broker's hook into power operations. The libvirt engine (broker-libvirt*.c) fills one and
 * hands it to manager_set_power(); without one, the broker records what it would have asked
 * (an event) and goes on: tests and a broker whose hosts start desktops themselves.
 *
 * Both calls run on the broker's event loop after the store committed, and must not block: start
 * the operation and return 0 (the outcome shows up in later host reports), or a negative errno
 * when it cannot even be started (the API answers 503 power-failed). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct BrokerDesktopRef {
        int64_t id;
        const char *domain_name, *uuid;
        const char *host_name, *libvirt_uri;
        const char *power_state; /* as the store last knew it */
} BrokerDesktopRef;

typedef struct BrokerPowerOps {
        /* Make the desktop run (called on connect when it is not running). */
        int (*start)(void *userdata, const BrokerDesktopRef *d);
        /* A person asked for a reboot: graceful (through the agent, else ACPI), or a hard reset
         * when force. */
        int (*reboot)(void *userdata, const BrokerDesktopRef *d, bool force);
} BrokerPowerOps;
