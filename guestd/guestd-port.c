#include "guestd-port.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int guestd_find_port(const char *sysfs_root, const char *name, char *ret, size_t size) {
        char dir[4096];
        struct dirent *de;
        int r = -ENOENT;

        snprintf(dir, sizeof(dir), "%s/class/virtio-ports", sysfs_root);
        DIR *d = opendir(dir);
        if (!d)
                return -ENOENT;
        while ((de = readdir(d))) {
                char path[8192], buf[256];
                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "%s/%s/name", dir, de->d_name);
                FILE *f = fopen(path, "re");
                if (!f)
                        continue;
                size_t n = fread(buf, 1, sizeof(buf) - 1, f);
                fclose(f);
                buf[n] = 0;
                buf[strcspn(buf, "\n")] = 0;
                if (strcmp(buf, name) == 0) {
                        if ((size_t) snprintf(ret, size, "/dev/%s", de->d_name) >= size)
                                r = -ENAMETOOLONG;
                        else
                                r = 0;
                        break;
                }
        }
        closedir(d);
        return r;
}
