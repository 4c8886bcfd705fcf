/* The agent features as a viewer sees them (schema/wire-protocol.md: agent-status, clipboard,
 * windows, resize, paste-text): the types the session's API (client-session.h) hands to front
 * ends, and the pure pieces behind them, which own no connection and read no clock so that tests
 * drive them directly: the guest's window table, the assembly of a clipboard transfer, and the
 * coalescing of resize requests. hostd is trusted less than it seems: everything it sends through
 * here is validated, and a bad clipboard transfer or window message is dropped, not the session. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire-gen.h"

/* The agent protocol's capability bits (schema/agent-protocol.md), as agent-status carries them. */
#define CLIENT_FEATURE_HEARTBEAT (UINT64_C(1) << 0)
#define CLIENT_FEATURE_SESSIONS (UINT64_C(1) << 1)
#define CLIENT_FEATURE_CLIPBOARD_TEXT (UINT64_C(1) << 2)
#define CLIENT_FEATURE_CLIPBOARD_IMAGE (UINT64_C(1) << 3)
#define CLIENT_FEATURE_WINDOWS (UINT64_C(1) << 4)
#define CLIENT_FEATURE_RESIZE (UINT64_C(1) << 5)
#define CLIENT_FEATURE_POWER (UINT64_C(1) << 6)
#define CLIENT_FEATURE_CLIPBOARD (CLIENT_FEATURE_CLIPBOARD_TEXT | CLIENT_FEATURE_CLIPBOARD_IMAGE)

typedef struct ClientAgentStatus {
        bool known;        /* hostd has said agent-status at least once */
        uint8_t mode;      /* WIRE_MODE_HYPERVISOR or WIRE_MODE_AGENT */
        uint64_t features; /* CLIENT_FEATURE_* bits on now */
        uint8_t cause;     /* WIRE_CAUSE_*: why the mode is what it is */
} ClientAgentStatus;

/* "active (clipboard, windows, resize)" or "none (hypervisor path: heartbeat lost)"; always
 * NUL-terminated. */
void client_agent_status_format(const ClientAgentStatus *st, char *buf, size_t size);
const char *client_agent_cause_name(uint8_t cause);
/* A feature by its name as the format above and the script use it ("clipboard", "clipboard-text",
 * "clipboard-image", "windows", "resize", "heartbeat", "sessions", "power"): its bits, or 0. */
uint64_t client_agent_feature_from_name(const char *name);

/* ---- clipboard ---- */

/* Formats as bits of a grab: 1 << WIRE_FORMAT_TEXT, 1 << WIRE_FORMAT_PNG. */
#define CLIENT_CLIPBOARD_TEXT (1u << WIRE_FORMAT_TEXT)
#define CLIENT_CLIPBOARD_PNG (1u << WIRE_FORMAT_PNG)
#define CLIENT_CLIPBOARD_FORMATS (CLIENT_CLIPBOARD_TEXT | CLIENT_CLIPBOARD_PNG)
/* The largest transfer either way (agent-protocol.md) and the chunk size. */
#define CLIENT_CLIPBOARD_TOTAL_MAX (UINT32_C(16) << 20)
#define CLIENT_CLIPBOARD_CHUNK_MAX (UINT32_C(64) << 10)
/* paste-text's limit on the wire. */
#define CLIENT_PASTE_TEXT_MAX 4096

/* One transfer from hostd being put together: the data of the grab it was asked for, in order.
 * Memory grows with what arrived, never with what `total' claims. */
typedef struct ClipboardInbound {
        bool active;
        uint32_t serial;
        uint8_t format;
        bool total_known;
        uint32_t total;
        uint8_t *data; /* len bytes and a NUL (text can be handed on as a C string) */
        size_t len, cap;
} ClipboardInbound;

/* Expects serial's data in format (replacing any transfer under way). */
void clipboard_inbound_start(ClipboardInbound *in, uint32_t serial, uint8_t format);
/* A chunk from hostd: 1 when the transfer is complete (in->data, in->len), 0 when more is
 * expected, -ESTALE when it belongs to no transfer under way (ignored; the transfer goes on),
 * or, and the transfer is dropped: -EFBIG (over CLIENT_CLIPBOARD_TOTAL_MAX), -EPROTO (out of
 * order, a changed total, past the total, an empty chunk), -ENOMEM. */
int clipboard_inbound_chunk(ClipboardInbound *in, const WireClipboardData *d);
/* Forgets the transfer and frees its memory. */
void clipboard_inbound_reset(ClipboardInbound *in);

/* ---- windows ---- */

#define CLIENT_WINDOWS_MAX 1024
#define CLIENT_WINDOW_ICON_MAX 64
/* Geometry hostd may give: anything larger is a lie and the update is ignored. */
#define CLIENT_WINDOW_SIZE_MAX 32768
#define CLIENT_WINDOW_COORD_MAX 65536

/* agent-protocol.md's state bits. */
#define CLIENT_WINDOW_MAPPED (1u << 0)
#define CLIENT_WINDOW_FOCUSED (1u << 1)
#define CLIENT_WINDOW_MINIMIZED (1u << 2)
#define CLIENT_WINDOW_MAXIMIZED (1u << 3)
#define CLIENT_WINDOW_FULLSCREEN (1u << 4)
#define CLIENT_WINDOW_MODAL (1u << 5)
#define CLIENT_WINDOW_SKIP_TASKBAR (1u << 6)

typedef struct ClientWindow {
        uint32_t id, state;
        int32_t x, y; /* framebuffer pixels, the frame included */
        uint32_t width, height;
        char *title; /* UTF-8 as hostd sent it, NULs replaced by '?' */
        uint16_t icon_width, icon_height;
        uint8_t *icon_argb; /* icon_width * icon_height * 4 bytes, or NULL */
        uint64_t serial;    /* the table's serial when this window last changed */
} ClientWindow;

/* The guest's top-level windows, bottom to top. */
typedef struct ClientWindows {
        ClientWindow *windows;
        size_t n, cap;
        uint64_t serial; /* bumped on every change */
        uint64_t ignored; /* messages dropped as malformed or over the cap */
} ClientWindows;

void client_windows_done(ClientWindows *w);
/* Forgets every window (windows-reset). */
void client_windows_reset(ClientWindows *w);
/* The messages: 1 when the table changed, 0 when it did not (a remove of an unknown id, a
 * window over the cap, a malformed message: counted in ignored), -ENOMEM. A new window goes on
 * top. */
int client_windows_update(ClientWindows *w, const WireWindowUpdate *u);
int client_windows_remove(ClientWindows *w, uint32_t id);
/* ids: u32s, bottom to top; windows it does not name keep their order, below those it names. */
int client_windows_stack(ClientWindows *w, const uint8_t *ids, size_t len);
int client_windows_icon(ClientWindows *w, const WireWindowIcon *icon);
const ClientWindow *client_windows_find(const ClientWindows *w, uint32_t id);

/* ---- resize ---- */

/* At most one resize-request per this interval; the last size wanted wins. */
#define CLIENT_RESIZE_INTERVAL_USEC (250 * UINT64_C(1000))

typedef struct ResizeCoalescer {
        bool pending, sent_any;
        uint32_t want_w, want_h, sent_w, sent_h;
        uint64_t last_sent;
} ResizeCoalescer;

/* The viewer's size is now w x h (0 x 0 is ignored). */
void resize_coalescer_want(ResizeCoalescer *c, uint32_t w, uint32_t h);
/* Whether a request should go out at now: true with its size (and it counts as sent). A size
 * equal to the last one sent is not sent again. */
bool resize_coalescer_take(ResizeCoalescer *c, uint64_t now, uint32_t *ret_w, uint32_t *ret_h);
/* When take() would say true, UINT64_MAX when nothing is pending. */
uint64_t resize_coalescer_next(const ResizeCoalescer *c);
