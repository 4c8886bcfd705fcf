#include "hostd-libvirt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <libvirt/virterror.h>

#include "hostd-agent.h"
#include "hostd-domain.h"
#include "hostd-libvirt-event.h"
#include "hostd-manager.h"
#include "log.h"

#define CONNECTION_STABLE_USEC (10 * 1000000ULL)

static void manager_schedule_reconnect(Manager *m);

const char *libvirt_last_error(void) {
        virErrorPtr e = virGetLastError();
        return e && e->message ? e->message : "unknown error";
}

static void manager_remove_domain(Manager *m, Domain *d, const char *reason) {
        for (Domain **p = &m->domains; *p; p = &(*p)->next)
                if (*p == d) {
                        *p = d->next;
                        break;
                }
        domain_detach(d, reason);
        agent_guest_reset(d->agent, false); /* its viewers stay: they learn the agent is gone */
        domain_free(d);
}

static Domain *manager_add_domain(Manager *m, virDomainPtr dom) {
        const char *name = virDomainGetName(dom);
        Domain *d;

        if (!name || !hostd_config_watches(&m->config, name))
                return NULL;
        d = manager_find_domain(m, name);
        if (d)
                return d;
        if (domain_new(m, dom, &d) < 0) {
                log_error("%s: out of memory, not watching", name);
                return NULL;
        }
        d->next = m->domains;
        m->domains = d;
        return d;
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque) {
        Manager *m = opaque;
        const char *name = virDomainGetName(dom);
        Domain *d;

        if (!name || !hostd_config_watches(&m->config, name))
                return 0;
        log_debug("%s: lifecycle event %d/%d", name, event, detail);
        switch (event) {
        case VIR_DOMAIN_EVENT_STARTED:
                /* A new QEMU: whatever we held belonged to the old one. QEMU starts paused, so
                 * RESUMED may have come first and begun attaching to this same one. */
                d = manager_add_domain(m, dom);
                if (d)
                        d->qemu_id = virDomainGetID(dom);
                if (d && !domain_attached_to(d, d->qemu_id))
                        domain_attach(d);
                manager_emit(m, "started %s", name);
                break;
        case VIR_DOMAIN_EVENT_RESUMED:
                d = manager_add_domain(m, dom);
                if (d)
                        d->qemu_id = virDomainGetID(dom);
                if (d && d->mode == DOMAIN_DETACHED && !d->opening)
                        domain_attach(d);
                break;
        case VIR_DOMAIN_EVENT_STOPPED:
                d = manager_find_domain(m, name);
                if (d)
                        manager_remove_domain(m, d, detail == VIR_DOMAIN_EVENT_STOPPED_CRASHED ||
                                                                detail == VIR_DOMAIN_EVENT_STOPPED_FAILED
                                                        ? "domain failed"
                                                        : "domain stopped");
                manager_emit(m, "stopped %s", name);
                break;
        default:
                break;
        }
        return 0;
}

static void on_reboot(virConnectPtr conn, virDomainPtr dom, void *opaque) {
        Manager *m = opaque;
        const char *name = virDomainGetName(dom);
        if (!name || !hostd_config_watches(&m->config, name))
                return;
        /* Same QEMU, same display connection: the new boot arrives as new Scanouts. */
        log_info("%s: guest rebooted", name);
        Domain *d = manager_find_domain(m, name);
        if (d)
                agent_guest_reset(d->agent, true);
        manager_emit(m, "reboot %s", name);
}

void manager_libvirt_disconnect(Manager *m) {
        if (!m->conn)
                return;
        if (m->lifecycle_callback >= 0)
                virConnectDomainEventDeregisterAny(m->conn, m->lifecycle_callback);
        if (m->reboot_callback >= 0)
                virConnectDomainEventDeregisterAny(m->conn, m->reboot_callback);
        m->lifecycle_callback = m->reboot_callback = -1;
        virConnectClose(m->conn);
        m->conn = NULL;
}

static int on_connection_lost_deferred(sd_event_source *s, void *userdata) {
        Manager *m = userdata;
        sd_event_source_disable_unref(s);
        if (!m->conn)
                return 0;
        log_warning("Lost the libvirt connection to %s, detaching all domains and reconnecting", m->config.uri);
        /* A connection that drops right after it was made does not reset the backoff. */
        uint64_t now;
        sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        if (now > m->connected_usec + CONNECTION_STABLE_USEC)
                m->reconnect_delay = 0;
        while (m->domains)
                manager_remove_domain(m, m->domains, "libvirt connection lost");
        manager_libvirt_disconnect(m);
        manager_emit(m, "libvirt disconnected");
        manager_schedule_reconnect(m);
        return 0;
}

static void on_connection_closed(virConnectPtr conn, int reason, void *opaque) {
        Manager *m = opaque;
        /* Called from inside libvirt's dispatch: tear down from the loop, not here. */
        if (sd_event_add_defer(m->event, NULL, on_connection_lost_deferred, m) < 0)
                log_error("Cannot schedule libvirt reconnection");
}

static int manager_attach_running(Manager *m) {
        virDomainPtr *doms = NULL;
        int n = virConnectListAllDomains(m->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
        if (n < 0)
                return -EIO;
        for (int i = 0; i < n; i++) {
                Domain *d = manager_add_domain(m, doms[i]);
                if (d)
                        d->qemu_id = virDomainGetID(doms[i]);
                if (d && d->mode == DOMAIN_DETACHED && !d->opening)
                        domain_attach(d);
                virDomainFree(doms[i]);
        }
        free(doms);
        return n;
}

static int manager_connect(Manager *m) {
        m->conn = virConnectOpen(m->config.uri);
        if (!m->conn)
                return -ECONNREFUSED;

        /* Keepalives notice a libvirtd that hangs or vanishes without closing the socket. */
        if (virConnectSetKeepAlive(m->conn, 5, 3) < 0 ||
            virConnectRegisterCloseCallback(m->conn, on_connection_closed, m, NULL) < 0)
                goto fail;
        m->lifecycle_callback = virConnectDomainEventRegisterAny(
                m->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), m, NULL);
        m->reboot_callback = virConnectDomainEventRegisterAny(m->conn, NULL, VIR_DOMAIN_EVENT_ID_REBOOT,
                                                              VIR_DOMAIN_EVENT_CALLBACK(on_reboot), m, NULL);
        if (m->lifecycle_callback < 0 || m->reboot_callback < 0)
                goto fail;
        int n = manager_attach_running(m);
        if (n < 0)
                goto fail;
        log_info("Connected to libvirt at %s, %d running domain(s)", m->config.uri, n);
        manager_emit(m, "libvirt connected");
        sd_event_now(m->event, CLOCK_MONOTONIC, &m->connected_usec);
        return 0;
fail:
        manager_libvirt_disconnect(m);
        return -EIO;
}

static int on_reconnect(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        if (m->conn)
                return 0;
        if (manager_connect(m) < 0)
                manager_schedule_reconnect(m);
        return 0;
}

static void manager_schedule_reconnect(Manager *m) {
        uint64_t now;

        m->reconnect_delay = m->reconnect_delay ? MIN(m->reconnect_delay * 2, m->config.reconnect_max) : 1;
        log_warning("Cannot reach libvirt at %s: %s; retrying in %us", m->config.uri, libvirt_last_error(),
                    m->reconnect_delay);
        sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        if (!m->reconnect_timer &&
            sd_event_add_time(m->event, &m->reconnect_timer, CLOCK_MONOTONIC, 0, 0, on_reconnect, m) < 0) {
                log_error("Cannot schedule libvirt reconnection");
                return;
        }
        sd_event_source_set_time(m->reconnect_timer, now + (uint64_t) m->reconnect_delay * 1000000ULL);
        sd_event_source_set_enabled(m->reconnect_timer, SD_EVENT_ONESHOT);
}

static void libvirt_error_quiet(void *userdata, virErrorPtr error) {
        /* libvirt prints every error to stderr by default; hostd logs what matters itself. */
        log_debug("libvirt: %s", error && error->message ? error->message : "?");
}

int manager_libvirt_start(Manager *m) {
        int r = libvirt_event_bridge_install(m->event);
        if (r < 0 && r != -EALREADY)
                return r;
        virSetErrorFunc(NULL, libvirt_error_quiet);
        if (manager_connect(m) < 0)
                manager_schedule_reconnect(m);
        return 0;
}
