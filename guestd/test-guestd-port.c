/* Finding the agent port by name in a fake sysfs tree. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "guestd-port.h"

static void port(const char *root, const char *dev, const char *name) {
        char p[512];
        snprintf(p, sizeof(p), "%s/class/virtio-ports/%s", root, dev);
        assert(mkdir(p, 0755) == 0);
        strncat(p, "/name", sizeof(p) - strlen(p) - 1);
        FILE *f = fopen(p, "w");
        assert(f);
        fprintf(f, "%s\n", name);
        fclose(f);
}

int main(void) {
        char root[] = "/tmp/test-guestd-port-XXXXXX", p[512], dev[64];
        assert(mkdtemp(root));
        assert(guestd_find_port(root, "org.tandem.agent.0", dev, sizeof(dev)) == -ENOENT);
        snprintf(p, sizeof(p), "%s/class", root);
        assert(mkdir(p, 0755) == 0);
        snprintf(p, sizeof(p), "%s/class/virtio-ports", root);
        assert(mkdir(p, 0755) == 0);
        port(root, "vport0p1", "org.qemu.guest_agent.0");
        port(root, "vport0p2", "org.tandem.agent.0");
        assert(guestd_find_port(root, "org.tandem.agent.0", dev, sizeof(dev)) == 0);
        assert(strcmp(dev, "/dev/vport0p2") == 0);
        assert(guestd_find_port(root, "org.tandem.agent", dev, sizeof(dev)) == -ENOENT);
        assert(guestd_find_port(root, "org.tandem.agent.0", dev, 8) == -ENAMETOOLONG);
        snprintf(p, sizeof(p), "rm -rf '%s'", root);
        assert(system(p) == 0);
        printf("ok\n");
        return 0;
}
