/* tandem-hostd's configuration: [Hostd] in hostd.conf and its drop-ins. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostd-agent-policy.h"
#include "hostd-media.h"

/* Which transports a desktop's viewers may use ([Viewers] Transport=, TransportOverrides=). */
typedef enum HostdTransport {
        HOSTD_TRANSPORT_AUTO = 0, /* TLS/TCP or DTLS/UDP, whichever the viewer picks */
        HOSTD_TRANSPORT_UDP,      /* DTLS/UDP only */
        HOSTD_TRANSPORT_TCP,      /* TLS/TCP only */
} HostdTransport;

/* [Broker]: hostd registers its host with the broker and reports to it (hostd-broker.h). */
typedef struct HostdBrokerConfig {
        char *url;               /* "https://broker:8443"; empty: no broker */
        char *token;             /* host-role token, or read from token_file */
        char *token_file;
        char *host_name;         /* the host's name at the broker; default: this machine's name */
        char *address;           /* what viewers dial, NAME:PORT; default from Listen= */
        char *libvirt_uri;       /* how the broker reaches this host's libvirt; default URI= */
        char *ca;                /* PEM CA file for the broker's certificate */
        char *fingerprint;       /* or its SHA-256 (hex, 64 digits), pinned */
        unsigned capacity;       /* desktops this host takes; 0: not said */
        unsigned report_seconds; /* a report this often */
        unsigned thumbnail_seconds; /* a desktop's thumbnail at most this often, when it changed */
} HostdBrokerConfig;

/* [Audio]: the VM's own sound card, sent to viewers as Opus (hostd-audio.h). */
typedef struct HostdAudioConfig {
        bool enabled;     /* Enabled=: listen to QEMU's D-Bus audio at all */
        bool microphone;  /* Microphone=: let the guest record the interactive viewer's microphone */
        unsigned bitrate; /* Bitrate=: Opus bits per second per stream */
} HostdAudioConfig;

/* FrameRateMax='s default: a burst of changes (a console scrolling) sends at most this many
 * pictures a second; on the demo boot (bench/bench-wire-bytes.py, medians of 3 boots) 409 frames
 * and 485 KB without a cap, 66 frames and 310 KB with it. The first change after a pause still
 * goes at once. */
#define HOSTD_FRAME_RATE_MAX_DEFAULT 30

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
        char *ticket_public_key;      /* the broker's Ed25519 key tickets are signed with; NULL:
                                       * fetched from the broker ([Broker] URL=) */
        unsigned max_viewers;         /* per desktop */
        unsigned frames_in_flight;    /* unacknowledged frames per viewer */
        unsigned frame_rate_max;      /* frames a second to a viewer at most; 0: no cap */
        unsigned resume_seconds;      /* how long a dropped viewer's session waits for a resume; 0: never */
        HostdTransport transport;     /* the default policy */
        char *transport_overrides;    /* "PATTERN:auto|udp|tcp ..." per desktop, the first match wins */
        AgentConfig agent;            /* [Agent] (hostd-agent-policy.h) */
        MediaConfig media;            /* [Media]: the caps guest media is held to (hostd-media.h) */
        int log_level;
        HostdBrokerConfig broker;     /* [Broker]: registering and reporting (hostd-broker.h) */
        HostdAudioConfig audio;       /* [Audio] (vmaudio) */
} HostdConfig;

#define HOSTD_DEFAULT_CONFIG "/etc/tandem/hostd.conf"
#define HOSTD_DEFAULT_TICKET_KEY "/etc/tandem/ticket-public.pem"

void hostd_config_init(HostdConfig *c);
/* [Broker] (hostd-broker-conf.c): whether URL= is set; the checks of a loaded section (on error
 * *error names the file and the value); freeing it. */
bool hostd_broker_config_enabled(const HostdBrokerConfig *b);
int hostd_broker_config_check(HostdBrokerConfig *b, const char *path, char **error);
void hostd_broker_config_done(HostdBrokerConfig *b);
/* 64 hex digits (either case, ':' between pairs allowed) to 32 bytes: 0 or -EINVAL. */
int hostd_broker_fingerprint_parse(const char *s, size_t len, uint8_t ret[32]);
/* Whether s[0..len) is a name the broker takes: a letter, then letters, digits, '.', '-', '_',
 * at most 63 bytes. */
bool hostd_broker_name_valid(const char *s, size_t len);
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
