#include "hostd-domain.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostd-agent.h"
#include "hostd-console.h"
#include "hostd-display.h"
#include "hostd-libvirt.h"
#include "hostd-libvirt-call.h"
#include "hostd-manager.h"
#include "hostd-screenshot.h"
#include "log.h"

#define RETRY_MAX_USEC (30 * 1000000ULL)

const char *domain_mode_name(DomainMode mode) {
        switch (mode) {
        case DOMAIN_DBUS:
                return "dbus";
        case DOMAIN_SCREENSHOT:
                return "screenshot";
        default:
                return "detached";
        }
}

int domain_new(Manager *m, virDomainPtr dom, Domain **ret) {
        _cleanup_(domain_freep) Domain *d = calloc(1, sizeof(Domain));
        if (!d)
                return -ENOMEM;
        d->manager = m;
        const char *name = virDomainGetName(dom);
        d->name = strdup(name ? name : "?");
        if (!d->name)
                return -ENOMEM;
        if (virDomainRef(dom) < 0)
                return -EINVAL;
        d->dom = dom;
        d->qemu_id = virDomainGetID(dom);
        int r = agent_new(d, &d->agent);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(d);
        return 0;
}

static void domain_release_views(Domain *d) {
        d->opening = libvirt_call_cancel(d->opening);
        d->display = display_free(d->display);
        d->closed_display = display_free(d->closed_display);
        d->screenshotter = screenshotter_free(d->screenshotter);
        d->mode = DOMAIN_DETACHED;
}

Domain *domain_free(Domain *d) {
        if (!d)
                return NULL;
        domain_release_views(d);
        agent_free(d->agent);
        sd_event_source_disable_unref(d->retry_timer);
        sd_event_source_disable_unref(d->cleanup_source);
        if (d->dom)
                virDomainFree(d->dom);
        free(d->name);
        free(d);
        return NULL;
}

void domain_detach(Domain *d, const char *reason) {
        if (d->retry_timer)
                sd_event_source_set_enabled(d->retry_timer, SD_EVENT_OFF);
        if (d->mode == DOMAIN_DETACHED && !d->display && !d->closed_display && !d->opening)
                return;
        domain_release_views(d);
        log_info("%s: display detached (%s)", d->name, reason);
        manager_emit(d->manager, "detached %s %s", d->name, reason);
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        domain_attach(userdata);
        return 0;
}

/* The first retry waits long enough for libvirt's stop event to arrive when QEMU went away. */
static void domain_schedule_retry(Domain *d) {
        uint64_t delay = 2000000ULL << MIN(d->retries, 4u), now;
        if (delay > RETRY_MAX_USEC)
                delay = RETRY_MAX_USEC;
        d->retries++;
        sd_event_now(d->manager->event, CLOCK_MONOTONIC, &now);
        if (!d->retry_timer &&
            sd_event_add_time(d->manager->event, &d->retry_timer, CLOCK_MONOTONIC, 0, 0, on_retry, d) < 0)
                return;
        sd_event_source_set_time(d->retry_timer, now + delay);
        sd_event_source_set_enabled(d->retry_timer, SD_EVENT_ONESHOT);
}

static int on_cleanup(sd_event_source *s, void *userdata) {
        Domain *d = userdata;
        d->closed_display = display_free(d->closed_display);
        d->cleanup_source = sd_event_source_disable_unref(d->cleanup_source);
        return 0;
}

void domain_display_closed(Display *display, int error, void *userdata) {
        Domain *d = userdata;

        if (display != d->display)
                return;
        /* The display is in the middle of dispatching: hand it to a deferred cleanup. */
        d->closed_display = display_free(d->closed_display);
        d->closed_display = d->display;
        d->display = NULL;
        d->mode = DOMAIN_DETACHED;
        if (!d->cleanup_source)
                sd_event_add_defer(d->manager->event, &d->cleanup_source, on_cleanup, d);
        log_info("%s: display detached (connection closed)", d->name);
        manager_emit(d->manager, "detached %s closed", d->name);

        /* QEMU gone means a stop event follows; if the domain still runs, attach again. A domain
         * without libvirt (manager_attach_display_fd) has nothing to attach again. */
        if (d->dom && virDomainIsActive(d->dom) == 1)
                domain_schedule_retry(d);
}

static bool domain_has_dbus_graphics(Domain *d) {
        char *xml = virDomainGetXMLDesc(d->dom, 0);
        bool found = xml && strstr(xml, "<graphics type='dbus'");
        free(xml);
        return found;
}

static int domain_attach_screenshots(Domain *d) {
        int r = screenshotter_new(d->manager, d->dom, d->name, &d->screenshotter);
        if (r < 0)
                return log_error_errno(r, "%s: cannot start screenshot polling: %m", d->name);
        d->mode = DOMAIN_SCREENSHOT;
        return 0;
}

/* Opening the D-Bus display: libvirt asks QEMU's monitor for a connection (add_client). */
typedef struct GraphicsJob {
        int fd;
        char error[256];
} GraphicsJob;

static void graphics_call(virDomainPtr dom, void *job) {
        GraphicsJob *j = job;
        j->fd = virDomainOpenGraphicsFD(dom, 0, 0);
        if (j->fd < 0)
                snprintf(j->error, sizeof j->error, "%s", libvirt_last_error());
}

static void graphics_discard(void *job) {
        GraphicsJob *j = job;
        if (j->fd >= 0)
                close(j->fd);
        free(j);
}

static void on_graphics_opened(void *userdata, void *job) {
        Domain *d = userdata;
        GraphicsJob *j = job;
        int fd = j->fd, r;
        char why[sizeof j->error];
        snprintf(why, sizeof why, "%s", j->error);
        free(j);
        d->opening = NULL;

        if (fd < 0 && virDomainIsActive(d->dom) != 1)
                return; /* it stopped meanwhile: its stop event is on the way */
        if (fd < 0) {
                log_warning("%s: cannot open the D-Bus display: %s; falling back to screenshots", d->name, why);
                if (domain_attach_screenshots(d) < 0)
                        domain_schedule_retry(d);
                return;
        }
        r = display_new(d->manager, d->name, fd, domain_display_closed, d, &d->display);
        if (r < 0) {
                log_warning_errno(r, "%s: cannot talk to the D-Bus display: %m, retrying", d->name);
                domain_schedule_retry(d);
                return;
        }
        d->mode = DOMAIN_DBUS;
        d->retries = 0;
}

bool domain_attached_to(Domain *d, int qemu_id) {
        return (d->mode != DOMAIN_DETACHED || d->opening) && d->attached_qemu == qemu_id;
}

uint64_t domain_opening_usec(Domain *d, uint64_t now) {
        uint64_t started = d->opening ? libvirt_call_started(d->opening) : now;
        return now - MIN(started, now);
}

void domain_attach(Domain *d) {
        int r;

        domain_release_views(d);
        if (d->retry_timer)
                sd_event_source_set_enabled(d->retry_timer, SD_EVENT_OFF);
        if (virDomainIsActive(d->dom) != 1)
                return;
        d->attaches++;
        d->attached_qemu = d->qemu_id;
        agent_start(d->agent); /* a no-op while its channel is open */

        if (!domain_has_dbus_graphics(d)) {
                if (domain_attach_screenshots(d) < 0)
                        domain_schedule_retry(d);
                return;
        }

        GraphicsJob *j = calloc(1, sizeof *j);
        if (!j) {
                domain_schedule_retry(d);
                return;
        }
        j->fd = -1;
        r = libvirt_call_start(d->manager->event, d->dom, j, graphics_call, on_graphics_opened, graphics_discard, d,
                               &d->opening);
        if (r < 0) {
                free(j);
                log_warning_errno(r, "%s: cannot open the D-Bus display: %m, retrying", d->name);
                domain_schedule_retry(d);
        }
}

size_t domain_n_consoles(Domain *d) {
        if (d->display)
                return display_n_consoles(d->display);
        return d->screenshotter ? 1 : 0;
}

Console *domain_console(Domain *d, size_t idx) {
        if (d->display)
                return display_console(d->display, idx);
        return d->screenshotter && idx == 0 ? screenshotter_console(d->screenshotter) : NULL;
}

Console *domain_console_by_id(Domain *d, unsigned id) {
        for (size_t i = 0, n = domain_n_consoles(d); i < n; i++) {
                Console *c = domain_console(d, i);
                if (c && c->id == id)
                        return c;
        }
        return NULL;
}
