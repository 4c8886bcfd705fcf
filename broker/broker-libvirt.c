/* Provisioning and power through libvirt: see broker-libvirt.h. */
#include "broker-libvirt.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>

#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(virDomainPtr, virDomainFree);
DEFINE_TRIVIAL_CLEANUP_FUNC(virStorageVolPtr, virStorageVolFree);
DEFINE_TRIVIAL_CLEANUP_FUNC(virStoragePoolPtr, virStoragePoolFree);

static void libvirt_error_quiet(void *userdata, virErrorPtr e) {
}

void broker_libvirt_quiet(void) {
        virSetErrorFunc(NULL, libvirt_error_quiet);
}

static pthread_once_t libvirt_once = PTHREAD_ONCE_INIT;
static int libvirt_init_result;

static void libvirt_init_once(void) {
        xmlInitParser();
        libvirt_init_result = virInitialize() < 0 ? -EIO : 0;
}

int broker_libvirt_init(void) {
        pthread_once(&libvirt_once, libvirt_init_once);
        return libvirt_init_result;
}

const char *broker_libvirt_error(void) {
        virErrorPtr e = virGetLastError();
        return e && e->message ? e->message : "unknown error";
}

/* libvirt's last error as an errno. */
static int libvirt_errno(void) {
        virErrorPtr e = virGetLastError();
        if (!e)
                return -EIO;
        switch (e->code) {
        case VIR_ERR_NO_DOMAIN:
        case VIR_ERR_NO_STORAGE_VOL:
        case VIR_ERR_NO_STORAGE_POOL:
                return -ENOENT;
        case VIR_ERR_OPERATION_TIMEOUT:
        case VIR_ERR_AGENT_UNRESPONSIVE:
                return -ETIMEDOUT;
        case VIR_ERR_NO_SUPPORT:
        case VIR_ERR_OPERATION_UNSUPPORTED:
                return -EOPNOTSUPP;
        case VIR_ERR_OPERATION_INVALID:
                return -EINVAL;
        case VIR_ERR_SYSTEM_ERROR:
                return e->int1 > 0 ? -e->int1 : -EIO;
        default:
                return -EIO;
        }
}

const char *broker_power_to_string(BrokerPower op) {
        switch (op) {
        case BROKER_POWER_START:
                return "start";
        case BROKER_POWER_RESET:
                return "reset";
        case BROKER_POWER_SHUTDOWN:
                return "shutdown";
        case BROKER_POWER_DESTROY:
                return "destroy";
        case BROKER_POWER_CYCLE:
                return "cycle";
        }
        return NULL;
}

void provision_result_done(ProvisionResult *r) {
        disk_paths_free(r->overlays, r->n_overlays);
        r->overlays = NULL;
        r->n_overlays = 0;
}

/* The value of `<format type='...'/>' inside <target> of a volume's XML, or "raw". */
static int volume_format(virStorageVolPtr vol, char *buf, size_t size) {
        _cleanup_(freep) char *xml = virStorageVolGetXMLDesc(vol, 0);
        if (!xml)
                return libvirt_errno();
        const char *target = strstr(xml, "<target>");
        const char *fmt = target ? strstr(target, "<format type='") : NULL;
        const char *end = fmt ? strchr(fmt + 14, '\'') : NULL;
        if (!end || (size_t) (end - fmt - 14) >= size || end == fmt + 14) {
                snprintf(buf, size, "raw");
                return 0;
        }
        snprintf(buf, size, "%.*s", (int) (end - fmt - 14), fmt + 14);
        return 0;
}

static bool xml_safe(const char *s) {
        /* Names and paths go into XML we write: no markup characters. */
        return s[strcspn(s, "<>&'\"")] == 0;
}

/* A qcow2 overlay NAME-diskI.qcow2 backed by the volume at BACKING, in the same pool. */
static int overlay_create(virConnectPtr c, const char *backing, const char *name, size_t index, char **ret_path) {
        _cleanup_(virStorageVolFreep) virStorageVolPtr base = virStorageVolLookupByPath(c, backing);
        if (!base)
                return libvirt_errno();
        _cleanup_(virStoragePoolFreep) virStoragePoolPtr pool = virStoragePoolLookupByVolume(base);
        if (!pool)
                return libvirt_errno();
        virStorageVolInfo info;
        if (virStorageVolGetInfo(base, &info) < 0)
                return libvirt_errno();
        char fmt[32];
        int r = volume_format(base, fmt, sizeof fmt);
        if (r < 0)
                return r;
        if (!xml_safe(backing) || !xml_safe(fmt))
                return -EINVAL;

        _cleanup_(freep) char *xml = NULL;
        if (asprintf(&xml,
                     "<volume><name>%s-disk%zu.qcow2</name>"
                     "<capacity unit='bytes'>%llu</capacity>"
                     "<target><format type='qcow2'/></target>"
                     "<backingStore><path>%s</path><format type='%s'/></backingStore>"
                     "</volume>",
                     name, index, info.capacity, backing, fmt) < 0)
                return -ENOMEM;
        _cleanup_(virStorageVolFreep) virStorageVolPtr vol = virStorageVolCreateXML(pool, xml, 0);
        if (!vol)
                return libvirt_errno();
        char *path = virStorageVolGetPath(vol);
        if (!path) {
                r = libvirt_errno();
                virStorageVolDelete(vol, 0);
                return r;
        }
        *ret_path = path;
        return 0;
}

static void overlays_delete(virConnectPtr c, char **paths, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (!paths[i])
                        continue;
                _cleanup_(virStorageVolFreep) virStorageVolPtr vol = virStorageVolLookupByPath(c, paths[i]);
                if (vol)
                        virStorageVolDelete(vol, 0);
        }
}

int broker_desktop_provision(virConnectPtr c, const char *template_name, const char *name, const uint8_t *mac_in,
                             ProvisionResult *ret) {
        if (!name[0] || strlen(name) > 200 || !xml_safe(name) || strchr(name, '/'))
                return -EINVAL;

        _cleanup_(virDomainFreep) virDomainPtr existing = virDomainLookupByName(c, name);
        if (existing)
                return -EEXIST;
        _cleanup_(virDomainFreep) virDomainPtr tmpl = virDomainLookupByName(c, template_name);
        if (!tmpl)
                return libvirt_errno();
        _cleanup_(freep) char *tmpl_xml = virDomainGetXMLDesc(tmpl, VIR_DOMAIN_XML_INACTIVE);
        if (!tmpl_xml)
                return libvirt_errno();

        char **bases = NULL;
        size_t n = 0;
        int r = template_disk_paths(tmpl_xml, strlen(tmpl_xml), &bases, &n);
        if (r < 0)
                return r;
        char **overlays = calloc(n + 1, sizeof *overlays);
        if (!overlays) {
                disk_paths_free(bases, n);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n && r >= 0; i++)
                r = overlay_create(c, bases[i], name, i, &overlays[i]);
        disk_paths_free(bases, n);

        unsigned char uuid[16];
        uint8_t mac[6];
        _cleanup_(freep) char *xml = NULL;
        if (r >= 0)
                r = broker_random_uuid(uuid);
        if (r >= 0 && mac_in)
                memcpy(mac, mac_in, 6);
        else if (r >= 0)
                r = broker_random_mac(mac);
        if (r >= 0) {
                DesktopXmlParams p = {
                        .name = name, .uuid = uuid, .mac = mac, .disk_paths = overlays, .n_disks = n,
                };
                r = desktop_xml_from_template(tmpl_xml, strlen(tmpl_xml), &p, &xml);
        }
        if (r >= 0) {
                _cleanup_(virDomainFreep) virDomainPtr dom = virDomainDefineXML(c, xml);
                if (!dom)
                        r = libvirt_errno();
                else if (virDomainGetUUIDString(dom, ret->uuid) < 0)
                        r = libvirt_errno();
        }
        if (r < 0) {
                overlays_delete(c, overlays, n);
                disk_paths_free(overlays, n);
                return r;
        }
        snprintf(ret->mac, sizeof ret->mac, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
                 mac[5]);
        ret->overlays = overlays;
        ret->n_overlays = n;
        return 0;
}

int broker_desktop_remove(virConnectPtr c, const char *name) {
        _cleanup_(virDomainFreep) virDomainPtr dom = virDomainLookupByName(c, name);
        if (!dom)
                return libvirt_errno();
        _cleanup_(freep) char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
        if (!xml)
                return libvirt_errno();
        if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0)
                return libvirt_errno();
        if (virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                                                VIR_DOMAIN_UNDEFINE_NVRAM) < 0 &&
            virDomainUndefine(dom) < 0)
                return libvirt_errno();

        /* Only the overlays provisioning named after the desktop: never a template's disk. */
        char **paths = NULL;
        size_t n = 0;
        if (template_disk_paths(xml, strlen(xml), &paths, &n) < 0)
                return 0;
        size_t name_len = strlen(name);
        for (size_t i = 0; i < n; i++) {
                const char *base = strrchr(paths[i], '/');
                base = base ? base + 1 : paths[i];
                if (strncmp(base, name, name_len) != 0 || strncmp(base + name_len, "-disk", 5) != 0) {
                        free(paths[i]);
                        paths[i] = NULL;
                }
        }
        overlays_delete(c, paths, n);
        disk_paths_free(paths, n);
        return 0;
}

int broker_domain_power(virConnectPtr c, const char *name, BrokerPower op) {
        _cleanup_(virDomainFreep) virDomainPtr dom = virDomainLookupByName(c, name);
        if (!dom)
                return libvirt_errno();
        int state, reason;
        if (virDomainGetState(dom, &state, &reason, 0) < 0)
                return libvirt_errno();
        bool off = state == VIR_DOMAIN_SHUTOFF || state == VIR_DOMAIN_NOSTATE;

        switch (op) {
        case BROKER_POWER_START:
                if (!off)
                        return 0;
                return virDomainCreate(dom) < 0 ? libvirt_errno() : 0;
        case BROKER_POWER_DESTROY:
                if (off)
                        return 0;
                return virDomainDestroy(dom) < 0 ? libvirt_errno() : 0;
        case BROKER_POWER_SHUTDOWN:
                if (off)
                        return 0;
                return virDomainShutdown(dom) < 0 ? libvirt_errno() : 0;
        case BROKER_POWER_RESET:
                if (state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_BLOCKED)
                        return virDomainReset(dom, 0) < 0 ? libvirt_errno() : 0;
                __attribute__((fallthrough));
        case BROKER_POWER_CYCLE:
                if (!off && virDomainDestroy(dom) < 0)
                        return libvirt_errno();
                return virDomainCreate(dom) < 0 ? libvirt_errno() : 0;
        }
        return -EINVAL;
}
