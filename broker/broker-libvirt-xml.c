/* Template domain XML -> desktop domain XML (libxml2, no network, no entities). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "broker-libvirt.h"
#include "macro.h"

#define TEMPLATE_XML_MAX (1024 * 1024)

DEFINE_TRIVIAL_CLEANUP_FUNC(xmlDocPtr, xmlFreeDoc);
DEFINE_TRIVIAL_CLEANUP_FUNC(xmlXPathContextPtr, xmlXPathFreeContext);
DEFINE_TRIVIAL_CLEANUP_FUNC(xmlXPathObjectPtr, xmlXPathFreeObject);

static void xml_freep(xmlChar **p) {
        xmlFree(*p);
}

static int parse_domain(const char *xml, size_t len, xmlDocPtr *ret) {
        if (len == 0 || len > TEMPLATE_XML_MAX)
                return -EINVAL;
        xmlDocPtr doc = xmlReadMemory(xml, (int) len, "template.xml", NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc)
                return -EINVAL;
        xmlNodePtr root = xmlDocGetRootElement(doc);
        if (!root || !xmlStrEqual(root->name, BAD_CAST "domain")) {
                xmlFreeDoc(doc);
                return -EINVAL;
        }
        *ret = doc;
        return 0;
}

static int xpath(xmlDocPtr doc, const char *expr, xmlXPathObjectPtr *ret) {
        _cleanup_(xmlXPathFreeContextp) xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
        if (!ctx)
                return -ENOMEM;
        xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, ctx);
        if (!o)
                return -ENOMEM;
        *ret = o;
        return 0;
}

static size_t nodeset_len(xmlXPathObjectPtr o) {
        return o->nodesetval ? (size_t) o->nodesetval->nodeNr : 0;
}

/* A disk is ours to overlay when it is a file-backed disk (not a cdrom, floppy or lun). */
static const char DISKS_XPATH[] = "/domain/devices/disk[@device='disk' or not(@device)]";

static xmlNodePtr child(xmlNodePtr n, const char *name) {
        for (xmlNodePtr c = n->children; c; c = c->next)
                if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST name))
                        return c;
        return NULL;
}

/* Checks every disk is a file disk with a source file; returns how many. */
static int check_disks(xmlXPathObjectPtr disks) {
        size_t n = nodeset_len(disks);
        for (size_t i = 0; i < n; i++) {
                xmlNodePtr d = disks->nodesetval->nodeTab[i];
                _cleanup_(xml_freep) xmlChar *type = xmlGetProp(d, BAD_CAST "type");
                if (!type || !xmlStrEqual(type, BAD_CAST "file"))
                        return -EOPNOTSUPP;
                xmlNodePtr src = child(d, "source");
                _cleanup_(xml_freep) xmlChar *file = src ? xmlGetProp(src, BAD_CAST "file") : NULL;
                if (!file || !file[0])
                        return -EOPNOTSUPP;
        }
        return (int) MIN(n, (size_t) INT_MAX);
}

void disk_paths_free(char **paths, size_t n) {
        for (size_t i = 0; paths && i < n; i++)
                free(paths[i]);
        free(paths);
}

int template_disk_paths(const char *xml, size_t len, char ***ret_paths, size_t *ret_n) {
        _cleanup_(xmlFreeDocp) xmlDocPtr doc = NULL;
        _cleanup_(xmlXPathFreeObjectp) xmlXPathObjectPtr disks = NULL;
        int r = parse_domain(xml, len, &doc);
        if (r < 0)
                return r;
        r = xpath(doc, DISKS_XPATH, &disks);
        if (r < 0)
                return r;
        r = check_disks(disks);
        if (r < 0)
                return r;
        size_t n = (size_t) r;
        char **paths = calloc(n + 1, sizeof *paths);
        if (!paths)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                _cleanup_(xml_freep) xmlChar *file =
                        xmlGetProp(child(disks->nodesetval->nodeTab[i], "source"), BAD_CAST "file");
                paths[i] = strdup((const char *) file);
                if (!paths[i]) {
                        disk_paths_free(paths, i);
                        return -ENOMEM;
                }
        }
        *ret_paths = paths;
        *ret_n = n;
        return 0;
}

static void remove_children(xmlNodePtr n, const char *name) {
        for (xmlNodePtr c = n->children, next; c; c = next) {
                next = c->next;
                if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST name)) {
                        xmlUnlinkNode(c);
                        xmlFreeNode(c);
                }
        }
}

static int set_text_child(xmlNodePtr parent, const char *name, const char *text) {
        xmlNodePtr c = child(parent, name);
        if (c) {
                xmlNodeSetContent(c, NULL);
                xmlNodeAddContent(c, BAD_CAST text);
                return 0;
        }
        return xmlNewTextChild(parent, NULL, BAD_CAST name, BAD_CAST text) ? 0 : -ENOMEM;
}

static int set_prop(xmlNodePtr n, const char *name, const char *value) {
        return xmlSetProp(n, BAD_CAST name, BAD_CAST value) ? 0 : -ENOMEM;
}

static int fix_disks(xmlDocPtr doc, const DesktopXmlParams *p) {
        _cleanup_(xmlXPathFreeObjectp) xmlXPathObjectPtr disks = NULL;
        int r = xpath(doc, DISKS_XPATH, &disks);
        if (r < 0)
                return r;
        r = check_disks(disks);
        if (r < 0)
                return r;
        if ((size_t) r != p->n_disks)
                return -EINVAL;
        for (size_t i = 0; i < p->n_disks; i++) {
                xmlNodePtr d = disks->nodesetval->nodeTab[i];
                if (set_prop(child(d, "source"), "file", p->disk_paths[i]) < 0)
                        return -ENOMEM;
                /* libvirt reads the chain from the overlay itself. */
                remove_children(d, "backingStore");
                xmlNodePtr drv = child(d, "driver");
                if (!drv) {
                        drv = xmlNewChild(d, NULL, BAD_CAST "driver", NULL);
                        if (!drv || set_prop(drv, "name", "qemu") < 0)
                                return -ENOMEM;
                }
                if (set_prop(drv, "type", "qcow2") < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int fix_macs(xmlDocPtr doc, const uint8_t mac0[6]) {
        _cleanup_(xmlXPathFreeObjectp) xmlXPathObjectPtr ifs = NULL;
        int r = xpath(doc, "/domain/devices/interface", &ifs);
        if (r < 0)
                return r;
        uint8_t mac[6];
        memcpy(mac, mac0, 6);
        for (size_t i = 0; i < nodeset_len(ifs); i++) {
                xmlNodePtr n = ifs->nodesetval->nodeTab[i];
                char text[18];
                snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
                         mac[5]);
                xmlNodePtr m = child(n, "mac");
                if (!m)
                        m = xmlNewChild(n, NULL, BAD_CAST "mac", NULL);
                if (!m || set_prop(m, "address", text) < 0)
                        return -ENOMEM;
                for (int b = 5; b >= 3 && ++mac[b] == 0; b--) /* the next interface's */
                        ;
        }
        return 0;
}

/* File-backed serial ports and consoles: DIR/NAME.log beside the template's file (two desktops
 * writing one log would interleave). Channels: libvirt picks a socket path per domain when the
 * source has none, so drop a fixed one. */
static int fix_char_devices(xmlDocPtr doc, const char *name) {
        _cleanup_(xmlXPathFreeObjectp) xmlXPathObjectPtr files = NULL, chans = NULL;
        int r = xpath(doc, "/domain/devices/*[self::serial or self::console][@type='file']/source[@path]", &files);
        if (r < 0)
                return r;
        for (size_t i = 0; i < nodeset_len(files); i++) {
                xmlNodePtr s = files->nodesetval->nodeTab[i];
                _cleanup_(xml_freep) xmlChar *old = xmlGetProp(s, BAD_CAST "path");
                const char *slash = old ? strrchr((const char *) old, '/') : NULL;
                int dir_len = slash ? (int) MIN((size_t) (slash - (const char *) old), (size_t) 4096) : 0;
                _cleanup_(freep) char *path = NULL;
                if (asprintf(&path, "%.*s%s%s.log", dir_len, slash ? (const char *) old : "", slash ? "/" : "", name) < 0)
                        return -ENOMEM;
                if (set_prop(s, "path", path) < 0)
                        return -ENOMEM;
        }
        r = xpath(doc, "/domain/devices/channel[@type='unix']/source", &chans);
        if (r < 0)
                return r;
        for (size_t i = 0; i < nodeset_len(chans); i++)
                xmlUnsetProp(chans->nodesetval->nodeTab[i], BAD_CAST "path");
        return 0;
}

int desktop_xml_from_template(const char *xml, size_t len, const DesktopXmlParams *p, char **ret_xml) {
        _cleanup_(xmlFreeDocp) xmlDocPtr doc = NULL;
        int r = parse_domain(xml, len, &doc);
        if (r < 0)
                return r;
        xmlNodePtr root = xmlDocGetRootElement(doc);

        char uuid[VIR_UUID_STRING_BUFLEN];
        const unsigned char *u = p->uuid;
        snprintf(uuid, sizeof uuid, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
                 u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
        xmlUnsetProp(root, BAD_CAST "id");
        if (set_text_child(root, "name", p->name) < 0 || set_text_child(root, "uuid", uuid) < 0)
                return -ENOMEM;
        /* Identity libvirt derives per domain: let it derive it again. */
        remove_children(root, "seclabel");
        r = fix_disks(doc, p);
        if (r < 0)
                return r;
        r = fix_macs(doc, p->mac);
        if (r < 0)
                return r;
        r = fix_char_devices(doc, p->name);
        if (r < 0)
                return r;

        xmlChar *out = NULL;
        int out_len = 0;
        xmlDocDumpMemory(doc, &out, &out_len);
        if (!out)
                return -ENOMEM;
        char *s = strndup((const char *) out, (size_t) out_len);
        xmlFree(out);
        if (!s)
                return -ENOMEM;
        *ret_xml = s;
        return 0;
}

int broker_random_uuid(unsigned char uuid[16]) {
        if (getrandom(uuid, 16, 0) != 16)
                return -EIO;
        uuid[6] = (uuid[6] & 0x0f) | 0x40; /* version 4 */
        uuid[8] = (uuid[8] & 0x3f) | 0x80; /* RFC 4122 variant */
        return 0;
}

int broker_random_mac(uint8_t mac[6]) {
        mac[0] = BROKER_MAC_PREFIX_0;
        mac[1] = BROKER_MAC_PREFIX_1;
        mac[2] = BROKER_MAC_PREFIX_2;
        return getrandom(mac + 3, 3, 0) == 3 ? 0 : -EIO;
}

int broker_pick_host(const HostLoad *hosts, size_t n) {
        int best = -ENOSPC;
        for (size_t i = 0; i < n && i < INT_MAX; i++) {
                const HostLoad *h = &hosts[i];
                if (!h->healthy || h->desktops >= h->capacity)
                        continue;
                if (best >= 0) {
                        const HostLoad *b = &hosts[best];
                        /* h->desktops / h->capacity < b->desktops / b->capacity, exactly. */
                        uint64_t lh = (uint64_t) h->desktops * b->capacity, lb = (uint64_t) b->desktops * h->capacity;
                        if (lh > lb || (lh == lb && h->desktops >= b->desktops))
                                continue;
                }
                best = (int) i;
        }
        return best;
}
