/* Power operations through libvirt for the broker's loop: each runs on a thread of its own with a
 * connection of its own (libvirt calls block, a reset waits for QEMU), so the loop never waits.
 * The job's outcome is read back on the loop through power_job_done(); nobody needs to wait for
 * it (the thread frees what it holds when the last reference goes). */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>

#include "broker-libvirt.h"
#include "broker-power.h"

typedef struct PowerJob {
        atomic_int refs;
        atomic_bool done;
        int error;           /* valid once done: 0 or negative errno */
        char message[256];   /* libvirt's message when error < 0 */
        char *uri, *name;
        BrokerPower op;
        bool acpi_reboot;    /* virDomainReboot instead of op (a person's graceful reboot) */
        bool log_failure;    /* nobody holds a reference: the thread logs a failure */
} PowerJob;

/* Starts op on NAME at URI; *ret (optional) gets a reference for power_job_done()/unref;
 * without it, the thread logs a failure itself. */
int power_job_start(const char *uri, const char *name, BrokerPower op, bool acpi_reboot, PowerJob **ret);
PowerJob *power_job_unref(PowerJob *j);
static inline bool power_job_done(PowerJob *j) {
        return atomic_load(&j->done);
}

/* The manager's hook (manager_set_power()): start and reboot on the desktop's host URI. */
extern const BrokerPowerOps broker_power_libvirt_ops;
