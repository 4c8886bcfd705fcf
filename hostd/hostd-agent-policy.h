/* hostd's [Agent] section: the limits it holds the guest agent to, and the per-desktop policy of
 * what the agent may do (Agent=, Clipboard=, Resize=, Windows=, Power=, PasteMax=), overridable
 * per desktop with Overrides=PATTERN:Key=value,Key=value ... (glob patterns of desktop names, the
 * first match wins), the way [Viewers] TransportOverrides= works. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum AgentClipboardPolicy {
        AGENT_CLIPBOARD_OFF,
        AGENT_CLIPBOARD_TO_GUEST,  /* viewer -> guest only */
        AGENT_CLIPBOARD_TO_CLIENT, /* guest -> viewer only */
        AGENT_CLIPBOARD_BOTH,
} AgentClipboardPolicy;

typedef enum AgentResizePolicy {
        AGENT_RESIZE_OFF,
        AGENT_RESIZE_HYPERVISOR, /* Console.SetUIInfo only */
        AGENT_RESIZE_AGENT,      /* the agent's RandR only */
        AGENT_RESIZE_BOTH,
} AgentResizePolicy;

/* What one desktop's agent may do. */
typedef struct AgentPolicy {
        bool enabled; /* Agent=off: the channel is never opened, the session stays on the hypervisor */
        AgentClipboardPolicy clipboard;
        AgentResizePolicy resize;
        bool windows;
        bool power;
        unsigned paste_max; /* characters of one paste-text typed; 0: paste as keystrokes off */
        bool media;         /* Media=: guest media redirected to viewers (hostd-media.h) */
} AgentPolicy;

typedef struct AgentConfig {
        unsigned heartbeat_seconds;     /* the guest's heartbeat interval */
        unsigned missed_heartbeats;     /* intervals without one before the agent counts as lost */
        unsigned partial_frame_seconds; /* a frame begun must be complete within this */
        unsigned message_rate;          /* messages per second from the guest, on average */
        unsigned message_burst;         /* ... and at once */
        unsigned backoff_max_seconds;   /* ceiling of the re-open backoff */
        AgentPolicy policy;             /* the default for every desktop */
        char *overrides;                /* "PATTERN:Key=value,... ..." */
} AgentConfig;

void agent_config_init(AgentConfig *c);
void agent_config_done(AgentConfig *c);

/* Sets one policy key ("Clipboard", "both") in p: 0, or -EINVAL (unknown key or bad value, *why
 * says which). */
int agent_policy_set(AgentPolicy *p, const char *key, size_t key_len, const char *value, size_t value_len,
                     const char **why);
/* Whether Overrides= text is well-formed: 0 or -EINVAL with *why. */
int agent_overrides_check(const char *overrides, const char **why);
/* The policy of a desktop: the defaults with its first matching override applied. */
void agent_config_policy(const AgentConfig *c, const char *desktop, AgentPolicy *ret);
/* The agent protocol's capability bits the policy lets the agent use. */
uint64_t agent_policy_caps(const AgentPolicy *p);

const char *agent_clipboard_policy_to_string(AgentClipboardPolicy p);
const char *agent_resize_policy_to_string(AgentResizePolicy p);
bool agent_clipboard_allows(AgentClipboardPolicy p, bool to_guest);
