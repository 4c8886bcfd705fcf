/* Provisioning and power through libvirt, on one host's connection (the caller owns it).
 *
 * A desktop is made from a template domain: its inactive XML with a new name, UUID and MAC
 * addresses; each file disk of the template becomes a qcow2 copy-on-write overlay whose backing
 * file is the template's disk, made through libvirt's storage API in the template disk's pool (so
 * it works on remote hosts; libvirtd runs qemu-img there). File-backed serial consoles get a file
 * of their own beside the template's. These calls block on libvirt: run them off the event loop.
 * They return negative errno; broker_libvirt_error() has libvirt's message. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libvirt/libvirt.h>

#define BROKER_MAC_PREFIX_0 0x52 /* 52:54:00, QEMU's locally administered prefix */
#define BROKER_MAC_PREFIX_1 0x54
#define BROKER_MAC_PREFIX_2 0x00

/* libvirt's last error message on this thread, never NULL. */
const char *broker_libvirt_error(void);
/* Keeps libvirt from printing errors on stderr (libraries do not log). */
void broker_libvirt_quiet(void);
/* Initialises libvirt and libxml2 once, from the calling thread, before any worker thread uses
 * them: libxml2 2.9's first-use set-up is not thread-safe (threads parsing their first XML at
 * once each allocate its global mutex). Idempotent; -EIO when libvirt cannot start. */
int broker_libvirt_init(void);

/* --- XML (pure, no connection) --------------------------------------------------------------- */

/* The source files of the template's file-backed disks (device='disk'), in document order. */
int template_disk_paths(const char *xml, size_t len, char ***ret_paths, size_t *ret_n);
void disk_paths_free(char **paths, size_t n);

typedef struct DesktopXmlParams {
        const char *name;
        const unsigned char *uuid;   /* 16 bytes */
        const uint8_t *mac;          /* 6 bytes: the first interface's; more interfaces count up */
        char *const *disk_paths;     /* the overlays, one per template_disk_paths() entry */
        size_t n_disks;
} DesktopXmlParams;

/* The desktop's domain XML from the template's. -EINVAL for XML that is not a domain or has a
 * different number of file disks than n_disks; -EOPNOTSUPP for disks of other kinds (volume,
 * network, block) that cannot get an overlay. */
int desktop_xml_from_template(const char *xml, size_t len, const DesktopXmlParams *p, char **ret_xml);

/* Random UUID (v4) and MAC (52:54:00:xx:xx:xx). */
int broker_random_uuid(unsigned char uuid[16]);
int broker_random_mac(uint8_t mac[6]);

/* --- hosts ------------------------------------------------------------------------------------ */

typedef struct HostLoad {
        bool healthy;        /* reporting, reachable */
        unsigned desktops;   /* desktops placed on it (running or not) */
        unsigned capacity;   /* most desktops it takes; 0 = none */
} HostLoad;

/* The index of the least-loaded healthy host with room (lowest desktops/capacity, then fewest
 * desktops, then lowest index), or -ENOSPC. */
int broker_pick_host(const HostLoad *hosts, size_t n);

/* --- provisioning and power ------------------------------------------------------------------- */

typedef struct ProvisionResult {
        char uuid[VIR_UUID_STRING_BUFLEN];
        char mac[18];
        size_t n_overlays;
        char **overlays;     /* the overlay volumes' paths */
} ProvisionResult;

void provision_result_done(ProvisionResult *r);

/* Defines NAME from TEMPLATE (a defined domain) on this connection; mac may be NULL (random).
 * -ENOENT when the template or a template disk's pool volume is missing, -EEXIST when NAME is
 * taken. On failure nothing is left behind. The desktop is defined, not started. */
int broker_desktop_provision(virConnectPtr c, const char *template_name, const char *name, const uint8_t *mac,
                             ProvisionResult *ret);
/* Destroys (if active) and undefines NAME, and deletes the overlays provisioning made for it. */
int broker_desktop_remove(virConnectPtr c, const char *name);

typedef enum BrokerPower {
        BROKER_POWER_START,    /* power on; 0 when already running */
        BROKER_POWER_RESET,    /* hard reset: see broker_domain_power() */
        BROKER_POWER_SHUTDOWN, /* ask the guest (ACPI) */
        BROKER_POWER_DESTROY,  /* pull the plug; 0 when already off */
        BROKER_POWER_CYCLE,    /* destroy (if on), then start: a new QEMU */
} BrokerPower;

/* RESET recovers whatever state the domain is in: a running one gets virDomainReset (same QEMU);
 * a paused, crashed or suspended one is destroyed and started (a reset would leave it paused);
 * a shut off one is started. virDomainReset goes through QEMU's monitor: for a QEMU that does not
 * answer (HANG_SIGNAL_UNRESPONSIVE) use CYCLE, which kills it. */
int broker_domain_power(virConnectPtr c, const char *name, BrokerPower op);
const char *broker_power_to_string(BrokerPower op);
