#include "hostd-agent-policy.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "macro.h"

static const char *const clipboard_names[] = { "off", "to-guest", "to-client", "both" };
static const char *const resize_names[] = { "off", "hypervisor", "agent", "both" };

void agent_config_init(AgentConfig *c) {
        *c = (AgentConfig) {
                .heartbeat_seconds = 2,
                .missed_heartbeats = 3,
                .partial_frame_seconds = 10,
                .message_rate = 200,
                .message_burst = 400,
                .backoff_max_seconds = 60,
                /* Clipboard: pasting into the desktop is allowed, copying out of it (the direction
                 * data leaves a VDI desktop by) only where a policy says so. */
                .policy = { .enabled = true, .clipboard = AGENT_CLIPBOARD_TO_GUEST, .resize = AGENT_RESIZE_BOTH,
                            .windows = true, .power = true, .paste_max = 1024, .media = true },
        };
}

void agent_config_done(AgentConfig *c) {
        free(c->overrides);
        c->overrides = NULL;
}

static bool span_is(const char *s, size_t n, const char *word) {
        return strlen(word) == n && strncmp(s, word, n) == 0;
}

static int name_index(const char *const *names, size_t count, const char *s, size_t n) {
        for (size_t i = 0; i < count; i++)
                if (span_is(s, n, names[i]))
                        return (int) i;
        return -EINVAL;
}

static int parse_bool_span(const char *s, size_t n, bool *ret) {
        if (span_is(s, n, "yes") || span_is(s, n, "on") || span_is(s, n, "true") || span_is(s, n, "1"))
                *ret = true;
        else if (span_is(s, n, "no") || span_is(s, n, "off") || span_is(s, n, "false") || span_is(s, n, "0"))
                *ret = false;
        else
                return -EINVAL;
        return 0;
}

static int parse_unsigned_span(const char *s, size_t n, unsigned max, unsigned *ret) {
        unsigned long v = 0;
        if (n == 0 || n > 9)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (unsigned) (s[i] - '0');
        }
        if (v > max)
                return -ERANGE;
        *ret = (unsigned) v;
        return 0;
}

int agent_policy_set(AgentPolicy *p, const char *key, size_t key_len, const char *value, size_t value_len,
                     const char **why) {
        int i;
        if (span_is(key, key_len, "Agent")) {
                if (parse_bool_span(value, value_len, &p->enabled) < 0)
                        goto bad_bool;
        } else if (span_is(key, key_len, "Windows")) {
                if (parse_bool_span(value, value_len, &p->windows) < 0)
                        goto bad_bool;
        } else if (span_is(key, key_len, "Media")) {
                if (parse_bool_span(value, value_len, &p->media) < 0)
                        goto bad_bool;
        } else if (span_is(key, key_len, "Power")) {
                if (parse_bool_span(value, value_len, &p->power) < 0)
                        goto bad_bool;
        } else if (span_is(key, key_len, "Clipboard")) {
                if ((i = name_index(clipboard_names, ELEMENTSOF(clipboard_names), value, value_len)) < 0) {
                        *why = "expected off, to-guest, to-client or both";
                        return -EINVAL;
                }
                p->clipboard = (AgentClipboardPolicy) i;
        } else if (span_is(key, key_len, "Resize")) {
                if ((i = name_index(resize_names, ELEMENTSOF(resize_names), value, value_len)) < 0) {
                        *why = "expected off, hypervisor, agent or both";
                        return -EINVAL;
                }
                p->resize = (AgentResizePolicy) i;
        } else if (span_is(key, key_len, "PasteMax")) {
                if (parse_unsigned_span(value, value_len, 65536, &p->paste_max) < 0) {
                        *why = "expected a number of characters up to 65536";
                        return -EINVAL;
                }
        } else {
                *why = "unknown key (Agent, Clipboard, Resize, Windows, Power, PasteMax, Media)";
                return -EINVAL;
        }
        return 0;
bad_bool:
        *why = "expected yes or no";
        return -EINVAL;
}

/* Applies "Key=value,Key=value" (n bytes) to p. */
static int apply_assignments(AgentPolicy *p, const char *s, size_t n, const char **why) {
        while (n > 0) {
                size_t len = 0;
                while (len < n && s[len] != ',')
                        len++;
                const char *eq = memchr(s, '=', len);
                if (!eq || eq == s) {
                        *why = "expected Key=value";
                        return -EINVAL;
                }
                int r = agent_policy_set(p, s, (size_t) (eq - s), eq + 1, len - (size_t) (eq - s) - 1, why);
                if (r < 0)
                        return r;
                if (len == n)
                        break;
                s += len + 1;
                n -= len + 1;
                if (n == 0) {
                        *why = "trailing comma";
                        return -EINVAL;
                }
        }
        return 0;
}

/* Calls fn on every "PATTERN:assignments" word until it returns true. -EINVAL at a malformed
 * word, with *why. */
static int overrides_foreach(const char *p, const AgentPolicy *base,
                             bool (*fn)(const char *pattern, const AgentPolicy *policy, void *userdata), void *userdata,
                             const char **why) {
        while (p && *p) {
                p += strspn(p, " \t");
                size_t n = strcspn(p, " \t");
                if (n == 0)
                        break;
                const char *colon = memchr(p, ':', n);
                char pattern[256];
                if (!colon || colon == p || (size_t) (colon - p) >= sizeof(pattern)) {
                        *why = "expected PATTERN:Key=value,...";
                        return -EINVAL;
                }
                memcpy(pattern, p, (size_t) (colon - p));
                pattern[colon - p] = 0;
                AgentPolicy policy = *base;
                int r = apply_assignments(&policy, colon + 1, n - (size_t) (colon - p) - 1, why);
                if (r < 0)
                        return r;
                if (fn && fn(pattern, &policy, userdata))
                        return 1;
                p += n;
        }
        return 0;
}

int agent_overrides_check(const char *overrides, const char **why) {
        AgentPolicy p = {};
        return overrides_foreach(overrides, &p, NULL, NULL, why) < 0 ? -EINVAL : 0;
}

typedef struct PolicyMatch {
        const char *desktop;
        AgentPolicy *found;
} PolicyMatch;

static bool policy_match(const char *pattern, const AgentPolicy *policy, void *userdata) {
        PolicyMatch *m = userdata;
        if (fnmatch(pattern, m->desktop, 0) != 0)
                return false;
        *m->found = *policy;
        return true;
}

void agent_config_policy(const AgentConfig *c, const char *desktop, AgentPolicy *ret) {
        const char *why = NULL;
        *ret = c->policy;
        PolicyMatch m = { .desktop = desktop, .found = ret };
        (void) overrides_foreach(c->overrides, &c->policy, policy_match, &m, &why);
}

uint64_t agent_policy_caps(const AgentPolicy *p) {
        uint64_t caps = AGENT_CAP_HEARTBEAT | AGENT_CAP_SESSIONS;
        if (!p->enabled)
                return 0;
        if (p->clipboard != AGENT_CLIPBOARD_OFF)
                caps |= AGENT_CAP_CLIPBOARD_TEXT | AGENT_CAP_CLIPBOARD_IMAGE;
        if (p->windows)
                caps |= AGENT_CAP_WINDOWS;
        if (p->resize == AGENT_RESIZE_AGENT || p->resize == AGENT_RESIZE_BOTH)
                caps |= AGENT_CAP_RESIZE;
        if (p->power)
                caps |= AGENT_CAP_POWER;
        /* Even with Media=off: the guest's opens are then answered `policy', not left to time out. */
        caps |= AGENT_CAP_MEDIA;
        return caps;
}

const char *agent_clipboard_policy_to_string(AgentClipboardPolicy p) {
        return (unsigned) p < ELEMENTSOF(clipboard_names) ? clipboard_names[p] : "?";
}

const char *agent_resize_policy_to_string(AgentResizePolicy p) {
        return (unsigned) p < ELEMENTSOF(resize_names) ? resize_names[p] : "?";
}

bool agent_clipboard_allows(AgentClipboardPolicy p, bool to_guest) {
        return p == AGENT_CLIPBOARD_BOTH || p == (to_guest ? AGENT_CLIPBOARD_TO_GUEST : AGENT_CLIPBOARD_TO_CLIENT);
}
