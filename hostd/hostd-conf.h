/* tandem-hostd's configuration: [Hostd] in hostd.conf and its drop-ins. */
#pragma once

#include <stdbool.h>

#include "hostd-agent-policy.h"

/* Which transports a desktop's viewers may use ([Viewers] Transport=, TransportOverrides=). */
typedef enum HostdTransport {
        HOSTD_TRANSPORT_AUTO = 0, /* TLS/TCP or DTLS/UDP, whichever the viewer picks */
        HOSTD_TRANSPORT_UDP,      /* DTLS/UDP only */
        HOSTD_TRANSPORT_TCP,      /* TLS/TCP only */
} HostdTransport;

typedef struct HostdConfig {
        char *uri;               /* libvirt URI to watch */
        char *state_directory;   /* thumbnails, control socket */
        char *control_socket;    /* default: <state_directory>/control.sock */
        char *domains;           /* space-separated glob patterns of domains to watch */
        unsigned screenshot_interval; /* seconds between virDomainScreenshot polls (fallback path) */
        unsigned thumbnail_interval;  /* at most one thumbnail per console this often, seconds */
        unsigned thumbnail_width;
        unsigned thumbnail_quality;
        unsigned reconnect_max;       /* ceiling of the libvirt reconnect backoff, seconds */
        char *listen;                 /* "ADDRESS:PORT" for viewers (TLS); empty: no viewers */
        char *certificate;            /* PEM; created self-signed when missing */
        char *private_key;
        char *ticket_public_key;      /* the broker's Ed25519 key tickets are signed with */
        unsigned max_viewers;         /* per desktop */
        unsigned frames_in_flight;    /* unacknowledged frames per viewer */
        unsigned resume_seconds;      /* how long a dropped viewer's session waits for a resume; 0: never */
        HostdTransport transport;     /* the default policy */
        char *transport_overrides;    /* "PATTERN:auto|udp|tcp ..." per desktop, the first match wins */
        AgentConfig agent;            /* [Agent] (hostd-agent-policy.h) */
        int log_level;
} HostdConfig;

#define HOSTD_DEFAULT_CONFIG "/etc/tandem/hostd.conf"

void hostd_config_init(HostdConfig *c);
void hostd_config_done(HostdConfig *c);
/* Loads path and its drop-ins over the defaults; on error *error names file, line and value. */
int hostd_config_load(HostdConfig *c, const char *path, bool missing_ok, char **error);
/* Whether the domain name matches one of the Domains= patterns. */
bool hostd_config_watches(const HostdConfig *c, const char *domain);
/* The transport policy of a desktop: its first matching override, else Transport=. */
HostdTransport hostd_config_transport(const HostdConfig *c, const char *desktop);
/* Whether TransportOverrides= text is well-formed: 0 or -EINVAL. */
int hostd_transport_overrides_check(const char *overrides);
/* Whether the policy lets a viewer in over UDP (udp) or TCP (!udp). */
bool hostd_transport_allows(HostdTransport t, bool udp);
const char *hostd_transport_to_string(HostdTransport t);
