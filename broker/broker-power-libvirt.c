#include "broker-power-libvirt.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

PowerJob *power_job_unref(PowerJob *j) {
        if (!j || atomic_fetch_sub(&j->refs, 1) > 1)
                return NULL;
        free(j->uri);
        free(j->name);
        free(j);
        return NULL;
}

static int do_power(PowerJob *j) {
        virConnectPtr c = virConnectOpen(j->uri);
        if (!c)
                return -ECONNREFUSED;
        int r;
        if (j->acpi_reboot) {
                virDomainPtr d = virDomainLookupByName(c, j->name);
                r = !d ? -ENOENT : virDomainReboot(d, 0) < 0 ? -EIO : 0;
                if (d)
                        virDomainFree(d);
        } else
                r = broker_domain_power(c, j->name, j->op);
        if (r < 0)
                snprintf(j->message, sizeof j->message, "%s", broker_libvirt_error());
        virConnectClose(c);
        return r;
}

static void *power_main(void *p) {
        PowerJob *j = p;
        j->error = do_power(j);
        /* Nobody reads back a person's start or reboot: its failure is logged here, once. */
        if (j->error < 0 && j->log_failure)
                log_warning_errno(j->error, "%s on %s: %s failed: %s", j->name, j->uri,
                                  j->acpi_reboot ? "reboot" : broker_power_to_string(j->op), j->message);
        atomic_store(&j->done, true);
        power_job_unref(j);
        return NULL;
}

int power_job_start(const char *uri, const char *name, BrokerPower op, bool acpi_reboot, PowerJob **ret) {
        PowerJob *j = calloc(1, sizeof *j);
        if (!j)
                return -ENOMEM;
        j->uri = strdup(uri);
        j->name = strdup(name);
        j->op = op;
        j->acpi_reboot = acpi_reboot;
        j->log_failure = !ret;
        atomic_init(&j->refs, ret ? 2 : 1);
        if (!j->uri || !j->name) {
                atomic_init(&j->refs, 1);
                power_job_unref(j);
                return -ENOMEM;
        }
        pthread_attr_t attr;
        pthread_t t;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int r = pthread_create(&t, &attr, power_main, j);
        pthread_attr_destroy(&attr);
        if (r != 0) {
                atomic_init(&j->refs, 1);
                power_job_unref(j);
                return -r;
        }
        if (ret)
                *ret = j;
        return 0;
}

static int power_start(void *userdata, const BrokerDesktopRef *d) {
        if (!d->libvirt_uri || !d->domain_name)
                return -EADDRNOTAVAIL;
        return power_job_start(d->libvirt_uri, d->domain_name, BROKER_POWER_START, false, NULL);
}

/* Graceful: ACPI (the broker has no path to the agent; hostd has). Force: a hard reset that
 * also brings back a paused, crashed or shut off domain. */
static int power_reboot(void *userdata, const BrokerDesktopRef *d, bool force) {
        if (!d->libvirt_uri || !d->domain_name)
                return -EADDRNOTAVAIL;
        return power_job_start(d->libvirt_uri, d->domain_name, BROKER_POWER_RESET, !force, NULL);
}

const BrokerPowerOps broker_power_libvirt_ops = {
        .start = power_start,
        .reboot = power_reboot,
};
