/* A watched libvirt domain and how hostd sees its screen: through QEMU's D-Bus display when the
 * domain has <graphics type='dbus'> and opening it works, else through screenshot polling.
 * Follows the domain's life: a new QEMU (start, restart after a crash) is attached again. */
#pragma once

#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "hostd-forward.h"
#include "macro.h"

typedef enum DomainMode {
        DOMAIN_DETACHED,
        DOMAIN_DBUS,
        DOMAIN_SCREENSHOT,
} DomainMode;

struct Domain {
        Manager *manager;
        Domain *next;
        char *name;
        virDomainPtr dom; /* NULL for a display attached by fd (hostd-manager-fd.h) */
        DomainMode mode;
        Display *display;
        Display *closed_display; /* freed from a later event, never inside its own callback */
        Screenshotter *screenshotter;
        struct LibvirtCall *opening; /* virDomainOpenGraphicsFD() under way (it waits for QEMU) */
        int qemu_id;                 /* libvirt's id of the domain's QEMU (new per start), as last seen */
        int attached_qemu;           /* the id domain_attach() last attached to */
        sd_event_source *retry_timer;
        sd_event_source *cleanup_source;
        unsigned retries;
        unsigned attaches;
        struct Agent *agent; /* the guest agent (hostd-agent.h), always there */
};

int domain_new(Manager *m, virDomainPtr dom, Domain **ret);
Domain *domain_free(Domain *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(Domain *, domain_free);

/* Attaches to the running domain's display (D-Bus, else screenshots); re-attaches if attached. */
void domain_attach(Domain *d);
void domain_detach(Domain *d, const char *reason);

/* The display's DisplayClosedFn (userdata: the Domain): hands the display to a deferred free and
 * attaches again if libvirt says the domain still runs. */
void domain_display_closed(Display *display, int error, void *userdata);

const char *domain_mode_name(DomainMode mode);
/* Whether the display is attached, or being opened, for QEMU qemu_id. */
bool domain_attached_to(Domain *d, int qemu_id);
/* How long the display's opening has waited for QEMU, usec; 0 when none is under way. */
uint64_t domain_opening_usec(Domain *d, uint64_t now);
size_t domain_n_consoles(Domain *d);
Console *domain_console(Domain *d, size_t idx);
Console *domain_console_by_id(Domain *d, unsigned id);
