/* org.tandem.Media1 (media-api.md): applications' compressed media relayed to hostd over the
 * agent port's media channel. media-bus.c is the D-Bus side, media-relay.c the stream table and
 * the agent side. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "agent.h"

typedef struct Manager Manager;
typedef struct MediaService MediaService;

/* Streams open (or being opened) at once, in all and per bus peer. */
#define MEDIA_STREAMS_MAX 64
#define MEDIA_STREAMS_PER_CALLER 8
/* The largest packet an application may push: the agent protocol's. */
#define MEDIA_PACKET_MAX ((size_t) AGENT_MEDIA_PACKET_DATA_MAX)
/* Media packets are queued toward hostd only while the port's queue stays under this; over it
 * they are dropped. The queue holds GUESTD_OUT_LIMIT more for everything else. */
#define MEDIA_RELAY_MAX ((size_t) 1 << 20)
/* How long an Open waits for hostd's media-open-reply. */
#define MEDIA_OPEN_TIMEOUT_USEC (UINT64_C(2) * 1000000)

#define MEDIA_BUS_NAME "org.tandem.Media1"
#define MEDIA_BUS_PATH "/org/tandem/Media1"
#define MEDIA_BUS_INTERFACE "org.tandem.Media1"

/* Connects to the system bus (address: another bus, for tests) and takes the name. */
int media_service_new(Manager *m, MediaService **ret);
MediaService *media_service_free(MediaService *s);
/* A media-channel message from hostd. */
void media_on_hostd(MediaService *s, const AgentMessage *msg);
/* hostd is gone or started over: pending opens answered agent-path-down, open streams Closed. */
void media_on_path_down(MediaService *s);
