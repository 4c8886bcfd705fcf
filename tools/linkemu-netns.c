#include "linkemu-netns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "parse-util.h"

extern char **environ;

bool linkemu_name_valid(const char *name) {
        size_t n = strlen(name);
        if (n == 0 || n > LINKEMU_NAME_MAX)
                return false;
        return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

int subnet_parse(const char *s, Subnet *ret) {
        char addr[INET_ADDRSTRLEN];
        const char *slash = strchr(s, '/');
        struct in_addr net;
        uint64_t prefix;

        if (!slash || (size_t) (slash - s) >= sizeof(addr))
                return -EINVAL;
        memcpy(addr, s, (size_t) (slash - s));
        addr[slash - s] = '\0';
        if (inet_pton(AF_INET, addr, &net) != 1 || parse_u64(slash + 1, 30, &prefix) < 0 || prefix < 8)
                return -EINVAL;
        uint32_t host = ntohl(net.s_addr);
        if (host & ~(UINT32_MAX << (32 - prefix)))
                return -EINVAL;
        *ret = (Subnet) {
                .a.s_addr = htonl(host + 1),
                .b.s_addr = htonl(host + 2),
                .prefix = (unsigned) prefix,
        };
        return 0;
}

/* Runs ip(8) with these arguments and waits; -EIO when it fails (it says why on stderr). */
static int run_ip(const char *const *args) {
        char *argv[16];
        size_t n = 0;
        pid_t pid;

        argv[n++] = (char *) "ip";
        for (; *args && n < ELEMENTSOF(argv) - 1; args++)
                argv[n++] = (char *) *args;
        argv[n] = NULL;
        int r = posix_spawnp(&pid, "ip", NULL, NULL, argv, environ);
        if (r != 0)
                return -r;
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

static int ns_name(char buf[LINKEMU_NAME_MAX + 3], const char *name, char side) {
        if (!linkemu_name_valid(name))
                return -EINVAL;
        snprintf(buf, LINKEMU_NAME_MAX + 3, "%s-%c", name, side);
        return 0;
}

bool netns_exists(const char *ns) {
        char path[64 + LINKEMU_NAME_MAX];
        struct stat st;
        snprintf(path, sizeof(path), "/run/netns/%s", ns);
        return stat(path, &st) == 0;
}

int linkemu_setup(const char *name) {
        char ns[2][LINKEMU_NAME_MAX + 3];
        int r;

        if (ns_name(ns[0], name, 'a') < 0 || ns_name(ns[1], name, 'b') < 0)
                return -EINVAL;
        if (netns_exists(ns[0]) || netns_exists(ns[1]))
                return -EEXIST;
        for (int i = 0; i < 2; i++) {
                r = run_ip((const char *[]) { "netns", "add", ns[i], NULL });
                if (r >= 0)
                        r = run_ip((const char *[]) { "-n", ns[i], "link", "set", "lo", "up", NULL });
                if (r < 0) {
                        /* Leave nothing half made. */
                        for (int j = 0; j <= i; j++)
                                if (netns_exists(ns[j]))
                                        (void) run_ip((const char *[]) { "netns", "del", ns[j], NULL });
                        return r;
                }
        }
        return 0;
}

int linkemu_teardown(const char *name) {
        char ns[2][LINKEMU_NAME_MAX + 3];
        int r = -ENOENT;

        if (ns_name(ns[0], name, 'a') < 0 || ns_name(ns[1], name, 'b') < 0)
                return -EINVAL;
        for (int i = 0; i < 2; i++) {
                if (!netns_exists(ns[i]))
                        continue;
                int k = run_ip((const char *[]) { "netns", "del", ns[i], NULL });
                r = r == -ENOENT || k < 0 ? k : r;
        }
        return r;
}

/* Inside the namespace (the caller's thread has joined it): the device, then IPv6 off. */
static int tun_create(int *ret_fd) {
        _cleanup_(closep) int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI };
        memcpy(ifr.ifr_name, LINKEMU_IFNAME, sizeof(LINKEMU_IFNAME));
        if (ioctl(fd, TUNSETIFF, &ifr) < 0)
                return -errno;

        /* /proc/sys/net is the opener's namespace's; without IPv6 the link carries only what the
         * test sends (no router solicitations or MLD reports in the counters). */
        _cleanup_(closep) int sysctl = open("/proc/sys/net/ipv6/conf/" LINKEMU_IFNAME "/disable_ipv6",
                                            O_WRONLY | O_CLOEXEC);
        if (sysctl >= 0 && write(sysctl, "1\n", 2) != 2)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int tun_open_in_netns(const char *ns, struct in_addr addr, unsigned prefix, int *ret_fd) {
        char path[64 + LINKEMU_NAME_MAX], cidr[INET_ADDRSTRLEN + 4], a[INET_ADDRSTRLEN];
        _cleanup_(closep) int self = -EBADF, target = -EBADF, fd = -EBADF;
        int r;

        snprintf(path, sizeof(path), "/run/netns/%s", ns);
        target = open(path, O_RDONLY | O_CLOEXEC);
        if (target < 0)
                return -errno;
        self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (self < 0)
                return -errno;
        if (setns(target, CLONE_NEWNET) < 0)
                return -errno;
        r = tun_create(&fd);
        /* Back home whatever happened: the rest of the process must not run in the namespace. */
        if (setns(self, CLONE_NEWNET) < 0)
                abort();
        if (r < 0)
                return r;

        inet_ntop(AF_INET, &addr, a, sizeof(a));
        snprintf(cidr, sizeof(cidr), "%s/%u", a, prefix);
        r = run_ip((const char *[]) { "-n", ns, "addr", "add", cidr, "dev", LINKEMU_IFNAME, NULL });
        if (r >= 0)
                r = run_ip((const char *[]) { "-n", ns, "link", "set", LINKEMU_IFNAME, "up", NULL });
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        return 0;
}
