/* The Agent's parts, shared by hostd-agent*.c only. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "agent.h"
#include "hostd-agent.h"
#include "hostd-media.h"
#include "wire-conn.h"
#include "wire-gen.h"

/* Bytes queued toward the guest beyond which clipboard data is refused (agent-protocol.md). */
#define AGENT_OUT_SOFT (1u << 20)
/* The WireConn's hard bound: the soft one plus the largest frame we send. */
#define AGENT_OUT_LIMIT (AGENT_OUT_SOFT + WIRE_HEADER_SIZE + AGENT_KNOWN_SIZE_MAX)
#define AGENT_WINDOWS_MAX 1024
#define AGENT_LOGONS_MAX 256
#define AGENT_RESIZE_COALESCE_USEC (250 * 1000ULL)
#define AGENT_POWER_TIMEOUT_USEC (30 * 1000000ULL)
/* Messages handled per wake-up: a flooding guest cannot starve the display. */
#define AGENT_MESSAGES_PER_WAKEUP 64
/* A channel this long without a violation resets the backoff. */
#define AGENT_GOOD_USEC (60 * 1000000ULL)
/* Geometry a window or a resize may have: QEMU's and X11's limits are below it. */
#define AGENT_DIM_MAX 16384
#define AGENT_POS_MAX 65536

typedef struct AgentWindow {
        uint32_t id, state;
        int32_t x, y;
        uint32_t width, height;
        char *title;
        size_t title_len;
} AgentWindow;

typedef struct AgentLogonEntry {
        char session[AGENT_LOGON_SESSION_MAX + 1];
        char user[AGENT_LOGON_USER_MAX + 1];
        char tty[AGENT_LOGON_TTY_MAX + 1];
        char display[AGENT_LOGON_DISPLAY_MAX + 1];
        uint32_t uid;
        uint8_t source;
        uint64_t time_us;
} AgentLogonEntry;

typedef enum ClipOwner {
        CLIP_NONE,
        CLIP_GUEST,  /* the guest grabbed; the interactive viewer was offered it */
        CLIP_VIEWER, /* the interactive viewer grabbed; the guest was offered it */
} ClipOwner;

/* One transfer in flight: from the owner, chunk by chunk, to the side that asked. */
typedef struct ClipTransfer {
        bool active;
        uint8_t format;
        uint32_t total, received;
        bool total_known;
} ClipTransfer;

typedef struct AgentClipboard {
        ClipOwner owner;
        uint32_t formats;
        uint32_t guest_serial;     /* the guest's serial of its grab, or ours to it */
        uint32_t viewer_serial;    /* ours to the viewer, or the viewer's of its grab */
        uint64_t viewer_session;   /* the viewer on the other end */
        uint32_t next_guest_serial, next_viewer_serial;
        ClipTransfer transfer;
        uint64_t transfers, bytes, abandoned, refused;
        /* The guest's last grab, whatever became of it: the guest repeats its grab after every
         * hello, and a repeat that crossed a newer grab of the viewer's must not undo it. */
        bool guest_grab_seen;
        uint32_t guest_grab_serial;
} AgentClipboard;

typedef struct AgentCounters {
        uint64_t connects, hellos, messages, skipped;
        uint64_t lost_closed, lost_heartbeat, lost_reboot, lost_misbehaved;
        uint64_t drops_protocol, drops_rate, drops_partial, drops_semantics;
        uint64_t windows_ignored, logons_ignored, paste_chars, paste_skipped, resizes;
} AgentCounters;

struct Agent {
        Manager *manager;
        Domain *domain;
        AgentPolicy policy;
        AgentState state;
        AgentCause cause; /* of the last change */
        WireConn *conn;
        sd_event_source *io;
        sd_event_source *more; /* defer: frames left in the buffer after a wake-up's share */
        sd_event_source *reopen_timer;
        sd_event_source *tick; /* heartbeat and partial-frame deadlines while open */
        unsigned backoff;      /* seconds before the next re-open */
        bool no_channel;       /* the domain has none: do not retry */
        uint64_t opened_usec, active_usec;
        uint64_t guest_caps, features;
        uint16_t guest_version;
        char software[AGENT_HELLO_SOFTWARE_MAX + 1];
        /* liveness */
        bool have_heartbeat;
        AgentHeartbeat heartbeat; /* the last one */
        uint64_t heartbeat_usec;  /* CLOCK_MONOTONIC of the last heartbeat (or of the hello) */
        uint64_t heartbeats;
        /* limits */
        double tokens;
        uint64_t tokens_usec;
        uint64_t partial_since;
        uint64_t skipped_seen;
        /* sessions */
        AgentLogonEntry *logons;
        size_t n_logons;
        /* windows */
        AgentWindow *windows;
        size_t n_windows;
        uint32_t *stack;
        size_t n_stack;
        /* clipboard */
        AgentClipboard clip;
        /* resize */
        sd_event_source *resize_timer;
        uint64_t resize_last_usec;
        uint32_t resize_w, resize_h;
        bool resize_pending;
        uint32_t resize_serial;
        uint32_t resize_done_w, resize_done_h;
        uint8_t resize_done_status;
        /* paste as keystrokes */
        sd_event_source *paste_timer;
        uint16_t *paste;
        size_t paste_n, paste_pos;
        unsigned paste_console;
        /* power */
        AgentPowerDoneFn power_done;
        void *power_userdata;
        uint8_t power_action;
        sd_event_source *power_timer;
        /* media relay (hostd-media*.c) */
        Media *media;
        AgentCounters counters;
};

uint64_t agent_now(Agent *a);
const char *agent_desktop(const Agent *a);
/* The agent broke a rule: bye with code, log the reason once, close, fall back, re-open later. */
void agent_violation(Agent *a, uint16_t code, const char *fmt, ...) _printf_(3, 4);
/* Queues a frame toward the guest: encode into out, then flush. */
Buffer *agent_out(Agent *a);
void agent_flush(Agent *a);

/* Viewers of this desktop, for the relays. */
typedef bool (*AgentViewerFn)(struct Viewer *v, void *userdata);
void agent_foreach_viewer(Agent *a, AgentViewerFn fn, void *userdata);
struct Viewer *agent_find_viewer(Agent *a, uint64_t session);
/* After encoding into a viewer's output: writes it from a later loop iteration. */
void agent_viewer_written(struct Viewer *v);
bool agent_viewer_has_cap(const struct Viewer *v, uint64_t wire_cap);
void agent_viewer_notice(struct Viewer *v, bool *sent, const char *text);

/* Sessions, windows, clipboard, resize, paste and power (hostd-agent-*.c). Handlers return 0, or
 * -EPROTO after agent_violation() closed the channel. */
int agent_sessions_handle(Agent *a, const AgentMessage *m);
void agent_sessions_clear(Agent *a);

int agent_windows_handle(Agent *a, const AgentMessage *m);
void agent_windows_clear(Agent *a, bool tell_viewers);
void agent_windows_send_all(Agent *a, struct Viewer *v);
void agent_windows_action(Agent *a, struct Viewer *v, const WireWindowAction *m);

int agent_clipboard_handle(Agent *a, const AgentMessage *m);
void agent_clipboard_viewer(Agent *a, struct Viewer *v, const WireMessage *m);
void agent_clipboard_reset(Agent *a);

void agent_resize_request(Agent *a, struct Viewer *v, uint32_t width, uint32_t height);
int agent_resize_done(Agent *a, const AgentResizeDone *m);
void agent_resize_free(Agent *a);

void agent_paste_text(Agent *a, struct Viewer *v, const char *text, size_t len);
void agent_paste_free(Agent *a);
/* The US layout: the scancode (PC XT) of c and whether it needs Shift; -ENOENT if it has none. */
int agent_paste_key(uint32_t c, uint8_t *ret_code, bool *ret_shift);

int agent_power_reply(Agent *a, const AgentPowerReply *m);
void agent_power_fail(Agent *a, int error);
