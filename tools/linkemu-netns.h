/* The link emulator's topology: two network namespaces, NAME-a and NAME-b (made by `setup`,
 * removed by `teardown`, through iproute2), and a TUN device in each, opened by the forwarder
 * from inside its namespace. The TUN devices are not persistent: they vanish with the forwarder,
 * so a killed forwarder leaves nothing but the two namespaces, which teardown removes. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>

/* The TUN device's name in both namespaces. */
#define LINKEMU_IFNAME "tle0"
#define LINKEMU_SUBNET_DEFAULT "10.77.0.0/24"
#define LINKEMU_NAME_MAX 32

typedef struct Subnet {
        struct in_addr a, b; /* the network's .1 and .2 */
        unsigned prefix;
} Subnet;

/* Letters, digits, '_' and '-', at most LINKEMU_NAME_MAX. */
bool linkemu_name_valid(const char *name);
/* "10.77.0.0/24" (prefix 8..30; host bits must be zero). -EINVAL otherwise. */
int subnet_parse(const char *s, Subnet *ret);

/* Makes NAME-a and NAME-b with lo up; on failure removes what it made. -EEXIST if either exists. */
int linkemu_setup(const char *name);
/* Removes both; -ENOENT if neither existed. */
int linkemu_teardown(const char *name);
/* Whether /run/netns/NS exists. */
bool netns_exists(const char *ns);

/* Creates LINKEMU_IFNAME in namespace ns (IFF_TUN, no packet info, non-blocking) and gives it
 * addr/prefix, IPv6 off (no router solicitations on the emulated link) and link up. */
int tun_open_in_netns(const char *ns, struct in_addr addr, unsigned prefix, int *ret_fd);
