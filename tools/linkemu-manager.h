/* The forwarder: one sd-event loop moving IP packets between the two TUN devices through one
 * Link per direction, a timer at the earliest delivery, and the control socket. The Manager owns
 * every fd and event source; manager_free() releases them all (and removes the socket file). */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "linkemu-control.h"
#include "linkemu-link.h"

#define CONTROL_CLIENTS_MAX 16

typedef struct ControlClient ControlClient;

typedef struct Manager {
        sd_event *event;
        Link *links[_LINK_DIR_MAX]; /* a2b: read from tun[0], written to tun[1] */
        int tun[2];
        sd_event_source *tun_source[2];
        sd_event_source *timer;
        int control_fd;
        char *control_path;
        sd_event_source *control_source;
        ControlClient *clients;
        unsigned n_clients;
        uint8_t buf[LINK_PACKET_SIZE_MAX + 1];
} Manager;

int manager_new(uint64_t seed, Manager **ret);
Manager *manager_free(Manager *m);
static inline void manager_freep(Manager **m) {
        manager_free(*m);
}

/* Runs one control line now, as the socket would (for `run --set`). */
int manager_command(Manager *m, const char *line, char **ret_reply);

/* Takes both TUN fds (closed on failure too) and starts forwarding. */
int manager_start_forwarding(Manager *m, int tun_a, int tun_b);
/* Listens on a Unix stream socket at path (a stale socket file is replaced). */
int manager_listen(Manager *m, const char *path);

/* Until SIGINT or SIGTERM. */
int manager_run(Manager *m);

/* CLOCK_MONOTONIC in nanoseconds, the Links' clock. */
uint64_t now_ns(void);
