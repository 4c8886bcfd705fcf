#include "hostd-conf.h"

#include <errno.h>
#include <fnmatch.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "conf.h"
#include "macro.h"

static int transport_from_string(const char *s, size_t n, HostdTransport *ret) {
        static const char *const names[] = { "auto", "udp", "tcp" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strlen(names[i]) == n && strncmp(s, names[i], n) == 0) {
                        *ret = (HostdTransport) i;
                        return 0;
                }
        return -EINVAL;
}

const char *hostd_transport_to_string(HostdTransport t) {
        return t == HOSTD_TRANSPORT_UDP ? "udp" : t == HOSTD_TRANSPORT_TCP ? "tcp" : "auto";
}

bool hostd_transport_allows(HostdTransport t, bool udp) {
        return t == HOSTD_TRANSPORT_AUTO || (t == HOSTD_TRANSPORT_UDP) == udp;
}

static int parse_transport(const ConfItem *item, const char *value, void *target, const char **why) {
        HostdTransport *t = (HostdTransport *) ((char *) target + item->offset);
        if (transport_from_string(value, strlen(value), t) < 0) {
                *why = "expected auto, udp or tcp";
                return -EINVAL;
        }
        return 0;
}

/* Calls fn for each "PATTERN:POLICY" word until it returns true; -EINVAL at a malformed word. */
static int overrides_foreach(const char *p, bool (*fn)(const char *pattern, HostdTransport t, void *userdata),
                             void *userdata) {
        while (p && *p) {
                p += strspn(p, " \t");
                size_t n = strcspn(p, " \t");
                if (n == 0)
                        break;
                const char *colon = memrchr(p, ':', n);
                char pattern[256];
                HostdTransport t;
                if (!colon || colon == p || (size_t) (colon - p) >= sizeof(pattern) ||
                    transport_from_string(colon + 1, n - (size_t) (colon - p) - 1, &t) < 0)
                        return -EINVAL;
                memcpy(pattern, p, (size_t) (colon - p));
                pattern[colon - p] = 0;
                if (fn && fn(pattern, t, userdata))
                        return 1;
                p += n;
        }
        return 0;
}

typedef struct TransportMatch {
        const char *desktop;
        HostdTransport found;
} TransportMatch;

static bool transport_match(const char *pattern, HostdTransport t, void *userdata) {
        TransportMatch *m = userdata;
        if (fnmatch(pattern, m->desktop, 0) != 0)
                return false;
        m->found = t;
        return true;
}

int hostd_transport_overrides_check(const char *overrides) {
        return overrides_foreach(overrides, NULL, NULL) < 0 ? -EINVAL : 0;
}

HostdTransport hostd_config_transport(const HostdConfig *c, const char *desktop) {
        TransportMatch m = { .desktop = desktop, .found = c->transport };
        (void) overrides_foreach(c->transport_overrides, transport_match, &m);
        return m.found;
}

/* [Agent] policy keys: parsed by the policy's own code, so Overrides= takes the same values. */
static int parse_agent_policy(const ConfItem *item, const char *value, void *target, const char **why) {
        AgentPolicy *p = (AgentPolicy *) ((char *) target + item->offset);
        return agent_policy_set(p, item->key, strlen(item->key), value, strlen(value), why);
}

#define AGENT_POLICY_OFFSET (offsetof(HostdConfig, agent) + offsetof(AgentConfig, policy))

static const ConfItem hostd_items[] = {
        { "Hostd", "URI", conf_parse_string, offsetof(HostdConfig, uri), 0 },
        { "Hostd", "StateDirectory", conf_parse_string, offsetof(HostdConfig, state_directory), 0 },
        { "Hostd", "ControlSocket", conf_parse_string, offsetof(HostdConfig, control_socket), 0 },
        { "Hostd", "Domains", conf_parse_string, offsetof(HostdConfig, domains), 0 },
        { "Hostd", "ScreenshotInterval", conf_parse_unsigned, offsetof(HostdConfig, screenshot_interval), 3600 },
        { "Hostd", "ThumbnailInterval", conf_parse_unsigned, offsetof(HostdConfig, thumbnail_interval), 3600 },
        { "Hostd", "ThumbnailWidth", conf_parse_unsigned, offsetof(HostdConfig, thumbnail_width), 4096 },
        { "Hostd", "ThumbnailQuality", conf_parse_unsigned, offsetof(HostdConfig, thumbnail_quality), 100 },
        { "Hostd", "ReconnectMaxSeconds", conf_parse_unsigned, offsetof(HostdConfig, reconnect_max), 3600 },
        { "Hostd", "LogLevel", conf_parse_log_level, offsetof(HostdConfig, log_level), 0 },
        { "Viewers", "Listen", conf_parse_string, offsetof(HostdConfig, listen), 0 },
        { "Viewers", "Certificate", conf_parse_string, offsetof(HostdConfig, certificate), 0 },
        { "Viewers", "PrivateKey", conf_parse_string, offsetof(HostdConfig, private_key), 0 },
        { "Viewers", "TicketPublicKey", conf_parse_string, offsetof(HostdConfig, ticket_public_key), 0 },
        { "Viewers", "MaxViewers", conf_parse_unsigned, offsetof(HostdConfig, max_viewers), 64 },
        { "Viewers", "FramesInFlight", conf_parse_unsigned, offsetof(HostdConfig, frames_in_flight), 16 },
        { "Viewers", "FrameRateMax", conf_parse_unsigned, offsetof(HostdConfig, frame_rate_max), 1000 },
        { "Viewers", "ResumeSeconds", conf_parse_unsigned, offsetof(HostdConfig, resume_seconds), 86400 },
        { "Viewers", "Transport", parse_transport, offsetof(HostdConfig, transport), 0 },
        { "Viewers", "TransportOverrides", conf_parse_string, offsetof(HostdConfig, transport_overrides), 0 },
        { "Broker", "URL", conf_parse_string, offsetof(HostdConfig, broker.url), 0 },
        { "Broker", "Token", conf_parse_string, offsetof(HostdConfig, broker.token), 0 },
        { "Broker", "TokenFile", conf_parse_string, offsetof(HostdConfig, broker.token_file), 0 },
        { "Broker", "HostName", conf_parse_string, offsetof(HostdConfig, broker.host_name), 0 },
        { "Broker", "Address", conf_parse_string, offsetof(HostdConfig, broker.address), 0 },
        { "Broker", "LibvirtURI", conf_parse_string, offsetof(HostdConfig, broker.libvirt_uri), 0 },
        { "Broker", "CA", conf_parse_string, offsetof(HostdConfig, broker.ca), 0 },
        { "Broker", "Fingerprint", conf_parse_string, offsetof(HostdConfig, broker.fingerprint), 0 },
        { "Broker", "Capacity", conf_parse_unsigned, offsetof(HostdConfig, broker.capacity), 100000 },
        { "Broker", "ReportSeconds", conf_parse_unsigned, offsetof(HostdConfig, broker.report_seconds), 3600 },
        { "Broker", "ThumbnailSeconds", conf_parse_unsigned, offsetof(HostdConfig, broker.thumbnail_seconds), 86400 },
        { "Agent", "HeartbeatSeconds", conf_parse_unsigned, offsetof(HostdConfig, agent.heartbeat_seconds), 3600 },
        { "Agent", "MissedHeartbeats", conf_parse_unsigned, offsetof(HostdConfig, agent.missed_heartbeats), 1000 },
        { "Agent", "PartialFrameSeconds", conf_parse_unsigned, offsetof(HostdConfig, agent.partial_frame_seconds), 3600 },
        { "Agent", "MessageRate", conf_parse_unsigned, offsetof(HostdConfig, agent.message_rate), 100000 },
        { "Agent", "MessageBurst", conf_parse_unsigned, offsetof(HostdConfig, agent.message_burst), 100000 },
        { "Agent", "BackoffMaxSeconds", conf_parse_unsigned, offsetof(HostdConfig, agent.backoff_max_seconds), 3600 },
        { "Agent", "Agent", parse_agent_policy, AGENT_POLICY_OFFSET, 0 },
        { "Agent", "Clipboard", parse_agent_policy, AGENT_POLICY_OFFSET, 0 },
        { "Agent", "Resize", parse_agent_policy, AGENT_POLICY_OFFSET, 0 },
        { "Agent", "Windows", parse_agent_policy, AGENT_POLICY_OFFSET, 0 },
        { "Agent", "Power", parse_agent_policy, AGENT_POLICY_OFFSET, 0 },
        { "Agent", "PasteMax", parse_agent_policy, AGENT_POLICY_OFFSET, 0 },
        { "Agent", "Overrides", conf_parse_string, offsetof(HostdConfig, agent.overrides), 0 },
        { "Audio", "Enabled", conf_parse_bool, offsetof(HostdConfig, audio.enabled), 0 },       /* vmaudio */
        { "Audio", "Microphone", conf_parse_bool, offsetof(HostdConfig, audio.microphone), 0 }, /* vmaudio */
        { "Audio", "Bitrate", conf_parse_unsigned, offsetof(HostdConfig, audio.bitrate), 510000 }, /* vmaudio */
        { "Agent", "Media", parse_agent_policy, AGENT_POLICY_OFFSET, 0 },
        { "Media", "MaxStreams", conf_parse_unsigned, offsetof(HostdConfig, media.max_streams), 1024 },
        { "Media", "MaxVideoPacket", conf_parse_unsigned, offsetof(HostdConfig, media.max_video_packet), 524288 },
        { "Media", "MaxAudioPacket", conf_parse_unsigned, offsetof(HostdConfig, media.max_audio_packet), 524288 },
        { "Media", "StreamBitrate", conf_parse_unsigned, offsetof(HostdConfig, media.stream_bitrate), 1000000000 },
        { "Media", "DesktopBitrate", conf_parse_unsigned, offsetof(HostdConfig, media.desktop_bitrate), 1000000000 },
        { "Media", "VideoPacketRate", conf_parse_unsigned, offsetof(HostdConfig, media.video_packet_rate), 100000 },
        { "Media", "AudioPacketRate", conf_parse_unsigned, offsetof(HostdConfig, media.audio_packet_rate), 100000 },
        { "Media", "IdleSeconds", conf_parse_unsigned, offsetof(HostdConfig, media.idle_seconds), 86400 },
        { "Media", "ViewerShare", conf_parse_unsigned, offsetof(HostdConfig, media.viewer_share), 100 },
        {},
};

void hostd_config_init(HostdConfig *c) {
        *c = (HostdConfig) {
                .uri = strdup("qemu:///system"),
                .state_directory = strdup("/var/lib/tandem/hostd"),
                .domains = strdup("*"),
                .screenshot_interval = 2,
                .thumbnail_interval = 5,
                .thumbnail_width = 480,
                .thumbnail_quality = 80,
                .reconnect_max = 30,
                .listen = strdup("0.0.0.0:7443"),
                .broker = { .report_seconds = 5, .thumbnail_seconds = 10 },
                .audio = { .enabled = true, .microphone = true, .bitrate = 96000 }, /* vmaudio */
                .max_viewers = 8,
                .frames_in_flight = 2,
                .frame_rate_max = HOSTD_FRAME_RATE_MAX_DEFAULT,
                .resume_seconds = 180,
                .log_level = LOG_INFO,
        };
        agent_config_init(&c->agent);
        media_config_init(&c->media);
}

void hostd_config_done(HostdConfig *c) {
        free(c->uri);
        free(c->state_directory);
        free(c->control_socket);
        free(c->domains);
        free(c->listen);
        free(c->certificate);
        free(c->private_key);
        free(c->ticket_public_key);
        free(c->transport_overrides);
        hostd_broker_config_done(&c->broker);
        agent_config_done(&c->agent);
        *c = (HostdConfig) {};
}

int hostd_config_load(HostdConfig *c, const char *path, bool missing_ok, char **error) {
        int r = conf_load(hostd_items, c, path, missing_ok, error);
        if (r < 0)
                return r;
        if (c->screenshot_interval == 0 || c->thumbnail_interval == 0 || c->thumbnail_width < 16 ||
            c->thumbnail_quality == 0 || c->reconnect_max == 0) {
                if (asprintf(error, "%s: ScreenshotInterval=, ThumbnailInterval=, ThumbnailQuality= and "
                             "ReconnectMaxSeconds= must be at least 1, ThumbnailWidth= at least 16", path) < 0)
                        *error = NULL;
                return -EINVAL;
        }
        if (!c->uri[0] || !c->state_directory[0]) {
                if (asprintf(error, "%s: URI= and StateDirectory= must not be empty", path) < 0)
                        *error = NULL;
                return -EINVAL;
        }
        if (c->audio.bitrate < 6000) { /* vmaudio: Opus's range is 6..510 kb/s */
                if (asprintf(error, "%s: [Audio] Bitrate= must be 6000..510000 (bits per second)", path) < 0)
                        *error = NULL;
                return -EINVAL;
        }
        if (c->max_viewers == 0 || c->frames_in_flight == 0) {
                if (asprintf(error, "%s: MaxViewers= and FramesInFlight= must be at least 1", path) < 0)
                        *error = NULL;
                return -EINVAL;
        }
        if (hostd_transport_overrides_check(c->transport_overrides) < 0) {
                if (asprintf(error, "%s: Invalid TransportOverrides= `%s' (DESKTOP-PATTERN:auto|udp|tcp ...)", path,
                             c->transport_overrides) < 0)
                        *error = NULL;
                return -EINVAL;
        }
        r = hostd_broker_config_check(&c->broker, path, error);
        if (r < 0)
                return r;
        /* Without TicketPublicKey=, a hostd with a broker takes the broker's key. */
        if (c->ticket_public_key && !c->ticket_public_key[0]) {
                free(c->ticket_public_key);
                c->ticket_public_key = NULL;
        }
        if (!c->ticket_public_key && !hostd_broker_config_enabled(&c->broker) &&
            !(c->ticket_public_key = strdup(HOSTD_DEFAULT_TICKET_KEY)))
                return -ENOMEM;
        const char *why = NULL;
        if (agent_overrides_check(c->agent.overrides, &why) < 0) {
                if (asprintf(error, "%s: Invalid [Agent] Overrides= `%s': %s (PATTERN:Key=value,... ...)", path,
                             c->agent.overrides, why) < 0)
                        *error = NULL;
                return -EINVAL;
        }
        if (c->agent.heartbeat_seconds == 0 || c->agent.missed_heartbeats == 0 || c->agent.partial_frame_seconds == 0 ||
            c->agent.message_rate == 0 || c->agent.message_burst == 0 || c->agent.backoff_max_seconds == 0) {
                if (asprintf(error, "%s: [Agent] HeartbeatSeconds=, MissedHeartbeats=, PartialFrameSeconds=, "
                             "MessageRate=, MessageBurst= and BackoffMaxSeconds= must be at least 1", path) < 0)
                        *error = NULL;
                return -EINVAL;
        }
        if (media_config_check(&c->media, &why) < 0) {
                if (asprintf(error, "%s: [Media] %s", path, why) < 0)
                        *error = NULL;
                return -EINVAL;
        }
        if ((!c->certificate || !c->certificate[0]) &&
            asprintf(&c->certificate, "%s/hostd-cert.pem", c->state_directory) < 0)
                return -ENOMEM;
        if ((!c->private_key || !c->private_key[0]) &&
            asprintf(&c->private_key, "%s/hostd-key.pem", c->state_directory) < 0)
                return -ENOMEM;
        if (!c->control_socket || !c->control_socket[0]) {
                free(c->control_socket);
                if (asprintf(&c->control_socket, "%s/control.sock", c->state_directory) < 0) {
                        c->control_socket = NULL;
                        return -ENOMEM;
                }
        }
        return 0;
}

bool hostd_config_watches(const HostdConfig *c, const char *domain) {
        const char *p = c->domains;
        while (*p) {
                char pattern[256];
                size_t n = strcspn(p, " \t");
                if (n > 0 && n < sizeof(pattern)) {
                        memcpy(pattern, p, n);
                        pattern[n] = 0;
                        if (fnmatch(pattern, domain, 0) == 0)
                                return true;
                }
                p += n;
                p += strspn(p, " \t");
        }
        return false;
}
