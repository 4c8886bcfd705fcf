/* The Manager owns everything hostd runs: the event loop, the libvirt connection and its
 * reconnect timer, the watched domains, the thumbnailer and the control socket. Freeing it frees
 * them all. */
#pragma once

#include <libvirt/libvirt.h>
#include <systemd/sd-event.h>

#include "hostd-agent.h"
#include "hostd-conf.h"
#include "hostd-forward.h"
#include "hostd-thumbnail.h"
#include "macro.h"

struct Manager {
        sd_event *event;
        HostdConfig config;
        virConnectPtr conn;
        int lifecycle_callback;
        int reboot_callback;
        sd_event_source *reconnect_timer;
        unsigned reconnect_delay; /* seconds, doubles up to config.reconnect_max */
        uint64_t connected_usec;  /* CLOCK_MONOTONIC when the connection was made */
        bool connected_once;
        Domain *domains;
        Thumbnailer *thumbnailer;
        ControlServer *control;
        struct ViewerServer *viewers; /* NULL when viewers are disabled */
        struct BrokerClient *broker;  /* NULL without [Broker] URL= (hostd-broker.h) */
        /* Opens a domain's agent channel; NULL: agent_channel_connect() (tests put a fake here). */
        AgentConnectFn agent_connect;
        void *agent_connect_userdata;
};

/* Takes ownership of the config. */
int manager_new(HostdConfig *config, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

int manager_start(Manager *m);

/* Sends one event line ("frame NAME ID W H", ...) to every control client that asked to watch. */
void manager_emit(Manager *m, const char *fmt, ...) _printf_(2, 3);

Domain *manager_find_domain(Manager *m, const char *name);
