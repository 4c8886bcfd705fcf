/* tandem-guestd's manager: owns the loop's sources, the agent port's connection, the session
 * table and its backends (logind or utmp), power requests and the per-session helpers. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "agent.h"
#include "guestd-conf.h"
#include "guestd-logind.h"
#include "guestd-sessions.h"
#include "guestd-utmp.h"
#include "media-service.h"

/* Bytes queued toward one helper, and toward hostd besides media (GUESTD_PORT_OUT_LIMIT); past
 * it heartbeats and session messages are dropped (and re-sent whole with the next hello),
 * relayed messages wait. */
#define GUESTD_OUT_LIMIT ((size_t) 256 << 10)
/* The port's queue: media packets are queued only while it holds less than MEDIA_RELAY_MAX
 * (media-service.h), so that GUESTD_OUT_LIMIT always remains for control, session and helper
 * messages however much media comes. */
#define GUESTD_PORT_OUT_LIMIT (GUESTD_OUT_LIMIT + MEDIA_RELAY_MAX)
/* Room a relayed message needs: the largest frame of the helpers' channels (clipboard, windows,
 * display), not of the whole protocol: a media packet is larger than GUESTD_OUT_LIMIT. */
#define GUESTD_RELAY_ROOM (WIRE_HEADER_SIZE + AGENT_CLIPBOARD_DATA_SIZE_MAX)
/* Helper connections at once; more are refused. */
#define GUESTD_HELPERS_MAX 8
/* What the root daemon itself offers. */
#define GUESTD_CAPS (AGENT_CAP_HEARTBEAT | AGENT_CAP_SESSIONS | AGENT_CAP_POWER)
/* What a helper may add. */
#define GUESTD_HELPER_CAPS (AGENT_CAP_CLIPBOARD_TEXT | AGENT_CAP_CLIPBOARD_IMAGE | AGENT_CAP_WINDOWS | AGENT_CAP_RESIZE)

typedef enum PortKind {
        PORT_DEVICE, /* a virtio-serial port or other char device: reopened, host presence by POLLHUP */
        PORT_SOCKET, /* PortPath= a unix socket: reconnected every second */
        PORT_FD,     /* --port-fd: the end is the end */
} PortKind;

typedef struct Helper Helper;
typedef struct Spawned Spawned;

typedef struct Manager {
        sd_event *event;
        GuestdConfig *config;

        /* The agent port. */
        PortKind port_kind;
        char *port_path;
        int port_fd;                  /* held while waiting for the host (device) */
        sd_event_source *port_wait;   /* edge-triggered on port_fd while the host is away */
        sd_event_source *port_timer;  /* re-open / re-check */
        WireConn *conn;               /* while the host is there */
        sd_event_source *conn_io;
        bool resync;                  /* output was dropped: send hello and sessions again */
        bool hostd_hello_seen;
        AgentHello hostd_hello;       /* the last one, for helpers that connect later */
        char hostd_software[AGENT_HELLO_SOFTWARE_MAX + 1];
        uint64_t dropped;             /* messages dropped for want of room */

        sd_event_source *heartbeat;
        uint32_t heartbeat_seq;

        GuestdSessions sessions;
        sd_bus *bus;
        GuestdLogind *logind;
        GuestdUtmp *utmp;

        sd_event_source *power_timer;
        uint8_t power_action;

        int listen_fd;
        sd_event_source *listen_io;
        Helper *helpers;              /* newest first */
        size_t n_helpers;
        Spawned *spawned;
        uint64_t announced_caps;      /* what our last hello to hostd said */

        MediaService *media;          /* org.tandem.Media1; NULL without a system bus */
} Manager;

int manager_new(sd_event *e, GuestdConfig *config, Manager **ret);
Manager *manager_free(Manager *m);
int manager_start(Manager *m);

/* guestd-manager.c, for the helpers' part */
uint64_t manager_caps(Manager *m);
void manager_send_hello(Manager *m);
/* Encodes a message to hostd when the host is there: 0, or -ENOTCONN / -ENOBUFS (dropped). */
int manager_send(Manager *m, const AgentMessage *msg);
size_t manager_port_room(Manager *m);
size_t manager_port_queued(Manager *m);
void manager_port_update(Manager *m);

/* guestd-helpers.c */
int helpers_listen(Manager *m);
void helpers_free(Manager *m);
Helper *helpers_active(Manager *m);
/* A message of channels 2-4 from hostd: to the active helper, or answered/dropped. */
void helpers_relay_from_hostd(Manager *m, const AgentMessage *msg);
/* Room in the active helper's queue (SIZE_MAX without one). */
size_t helpers_active_room(Manager *m);
void helpers_on_hostd_hello(Manager *m);
void helpers_on_port_room(Manager *m);
void helpers_on_logon(Manager *m, const GuestdSession *s, bool logon);
