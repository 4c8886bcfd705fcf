/* Fuzzes the template domain XML -> desktop XML rewriting (the template comes from a host's
 * libvirtd): disk paths, then the rewrite with as many overlays as disks, then the result parsed
 * again (it must still be a domain with the same disks, all overlays now). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker-libvirt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *xml = (const char *) data;
        char **paths = NULL;
        size_t n = 0;
        if (template_disk_paths(xml, size, &paths, &n) < 0)
                return 0;
        disk_paths_free(paths, n);

        char **overlays = calloc(n + 1, sizeof *overlays);
        if (!overlays)
                return 0;
        for (size_t i = 0; i < n; i++)
                if (asprintf(&overlays[i], "/pool/fuzz-disk%zu.qcow2", i) < 0)
                        abort();
        static const unsigned char uuid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
        static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xfe, 0xff, 0xff };
        DesktopXmlParams p = { .name = "fuzz", .uuid = uuid, .mac = mac, .disk_paths = overlays, .n_disks = n };
        char *out = NULL;
        if (desktop_xml_from_template(xml, size, &p, &out) == 0) {
                size_t m = 0;
                if (template_disk_paths(out, strlen(out), &paths, &m) != 0 || m != n)
                        abort();
                for (size_t i = 0; i < m; i++)
                        if (strcmp(paths[i], overlays[i]) != 0)
                                abort();
                disk_paths_free(paths, m);
                free(out);
        }
        disk_paths_free(overlays, n);
        return 0;
}
