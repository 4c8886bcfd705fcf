/* The agent's features in the session: see client-session-agent.h. */
#include "client-session-agent.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client-resume.h"
#include "client-session-internal.h"
#include "macro.h"
#include "wire-conn.h"

/* Clipboard chunks go out while less than this is queued (and as much room is left in the
 * replay buffer): input never waits behind a 16 MiB paste. */
#define CLIPBOARD_QUEUE_MAX (256u * 1024)

void client_session_agent_done(ClientSessionAgent *a) {
        clipboard_inbound_reset(&a->inbound);
        for (size_t i = 0; i < ELEMENTSOF(a->outbound); i++)
                free(a->outbound[i].data);
        client_windows_done(&a->windows);
}

bool client_session_agent_type(uint16_t type) {
        return type == WIRE_TYPE_AGENT_STATUS || (type >= 0x40 && type < 0x70);
}

static bool clipboard_on(const ClientSessionAgent *a) {
        return a->status.mode == WIRE_MODE_AGENT && (a->status.features & CLIENT_FEATURE_CLIPBOARD);
}

static bool windows_on(const ClientSessionAgent *a) {
        return a->status.mode == WIRE_MODE_AGENT && (a->status.features & CLIENT_FEATURE_WINDOWS);
}

static bool live(const ClientSession *s) {
        return s->state == SESSION_ACTIVE && s->conn;
}

static void outbound_cancel(ClientSessionAgent *a) {
        for (size_t i = 0; i < ELEMENTSOF(a->outbound); i++) {
                free(a->outbound[i].data);
                a->outbound[i] = (ClipboardOutbound) {};
        }
}

/* An inbound transfer under way ends without data: the front end hears why. */
static void inbound_abandon(ClientSession *s, int error) {
        ClientSessionAgent *a = &s->agent;
        if (!a->inbound.active)
                return;
        uint8_t format = a->inbound.format;
        clipboard_inbound_reset(&a->inbound);
        if (s->cb.on_clipboard_data)
                s->cb.on_clipboard_data(s, format, error, NULL, 0, s->userdata);
}

static int send_grab(ClientSession *s) {
        ClientSessionAgent *a = &s->agent;
        outbound_cancel(a);
        inbound_abandon(s, -ESTALE);
        a->local_serial++;
        a->owner = CLIPBOARD_OWNER_LOCAL;
        WireClipboardGrab g = { .serial = a->local_serial, .formats = a->local_formats };
        return wire_encode_clipboard_grab(wire_conn_out(s->conn), &g);
}

/* The peer's grab is void: the feature went away, or ours replaced it. */
static void forget_peer(ClientSession *s) {
        ClientSessionAgent *a = &s->agent;
        bool had = a->owner == CLIPBOARD_OWNER_PEER;
        inbound_abandon(s, -ESTALE);
        if (had) {
                a->owner = CLIPBOARD_OWNER_NONE;
                if (s->cb.on_clipboard_grab)
                        s->cb.on_clipboard_grab(s, 0, s->userdata);
        }
}

static int handle_status(ClientSession *s, const WireAgentStatus *m) {
        ClientSessionAgent *a = &s->agent;
        bool clipboard_was = clipboard_on(a);
        int r = 0;

        a->status = (ClientAgentStatus) {
                .known = true,
                /* An unknown mode is no agent: features are used only in mode agent. */
                .mode = m->mode == WIRE_MODE_AGENT ? WIRE_MODE_AGENT : WIRE_MODE_HYPERVISOR,
                .features = m->mode == WIRE_MODE_AGENT ? m->features : 0,
                .cause = m->cause,
        };
        if (clipboard_was && !clipboard_on(a)) {
                forget_peer(s);
                outbound_cancel(a);
                a->owner = CLIPBOARD_OWNER_NONE;
        } else if (!clipboard_was && clipboard_on(a) && a->local_formats)
                r = send_grab(s); /* what we copied before the agent came */
        if (!windows_on(a) && a->windows.n > 0) {
                client_windows_reset(&a->windows);
                if (s->cb.on_windows)
                        s->cb.on_windows(s, s->userdata);
        }
        if (s->cb.on_agent_status)
                s->cb.on_agent_status(s, &a->status, s->userdata);
        return r;
}

static int send_empty(ClientSession *s, uint32_t serial, uint8_t format) {
        WireClipboardData d = { .serial = serial, .format = format };
        return wire_encode_clipboard_data(wire_conn_out(s->conn), &d);
}

static int handle_request(ClientSession *s, const WireClipboardRequest *m) {
        ClientSessionAgent *a = &s->agent;
        /* Stale (a grab replaced ours since) or for a format we never offered: ignored. */
        if (a->owner != CLIPBOARD_OWNER_LOCAL || m->serial != a->local_serial || m->format >= ELEMENTSOF(a->outbound) ||
            !(a->local_formats & (1u << m->format)))
                return 0;
        ClipboardOutbound *o = &a->outbound[m->format];
        if (o->active)
                return 0; /* asked twice: the answer is on its way */
        if (!s->cb.on_clipboard_request)
                return send_empty(s, m->serial, m->format);
        *o = (ClipboardOutbound) { .active = true, .serial = m->serial, .format = m->format };
        s->cb.on_clipboard_request(s, m->format, s->userdata);
        return 0;
}

static int handle_data(ClientSession *s, const WireClipboardData *m) {
        ClientSessionAgent *a = &s->agent;
        ClipboardInbound *in = &a->inbound;
        int r = clipboard_inbound_chunk(in, m);
        if (r == -ESTALE || r == 0)
                return 0;
        if (r < 0) {
                /* A bad transfer is dropped, the session goes on: hostd may just relay a bad guest. */
                a->clipboard_dropped++;
                if (s->cb.on_clipboard_data)
                        s->cb.on_clipboard_data(s, m->format, r, NULL, 0, s->userdata);
                return 0;
        }
        /* Complete: handed over, then forgotten (its memory with it). */
        if (s->cb.on_clipboard_data)
                s->cb.on_clipboard_data(s, in->format, 0, in->data ? in->data : (const uint8_t *) "", in->len, s->userdata);
        clipboard_inbound_reset(in);
        return 0;
}

static void windows_changed(ClientSession *s, int r) {
        if (r > 0 && s->cb.on_windows)
                s->cb.on_windows(s, s->userdata);
}

int client_session_agent_handle(ClientSession *s, const WireMessage *m) {
        ClientSessionAgent *a = &s->agent;
        int r;

        switch (m->type) {
        case WIRE_TYPE_AGENT_STATUS:
                return handle_status(s, &m->agent_status);
        case WIRE_TYPE_CLIPBOARD_GRAB:
                if (!clipboard_on(a))
                        return 0; /* hostd should not: nothing we could ask for */
                inbound_abandon(s, -ESTALE);
                outbound_cancel(a);
                a->owner = CLIPBOARD_OWNER_PEER;
                a->peer_serial = m->clipboard_grab.serial;
                a->peer_formats = m->clipboard_grab.formats & CLIENT_CLIPBOARD_FORMATS;
                if (s->cb.on_clipboard_grab)
                        s->cb.on_clipboard_grab(s, a->peer_formats, s->userdata);
                return 0;
        case WIRE_TYPE_CLIPBOARD_RELEASE:
                if (a->owner == CLIPBOARD_OWNER_PEER && m->clipboard_release.serial == a->peer_serial)
                        forget_peer(s);
                return 0;
        case WIRE_TYPE_CLIPBOARD_REQUEST:
                return handle_request(s, &m->clipboard_request);
        case WIRE_TYPE_CLIPBOARD_DATA:
                return handle_data(s, &m->clipboard_data);
        case WIRE_TYPE_WINDOWS_RESET:
                r = a->windows.n > 0;
                client_windows_reset(&a->windows);
                windows_changed(s, r);
                return 0;
        case WIRE_TYPE_WINDOW_UPDATE:
                if (!windows_on(a))
                        return 0;
                r = client_windows_update(&a->windows, &m->window_update);
                windows_changed(s, r);
                return r < 0 ? r : 0;
        case WIRE_TYPE_WINDOW_REMOVE:
                r = client_windows_remove(&a->windows, m->window_remove.id);
                windows_changed(s, r);
                return 0;
        case WIRE_TYPE_WINDOW_STACK:
                r = client_windows_stack(&a->windows, m->window_stack.ids, m->window_stack.ids_len);
                windows_changed(s, r);
                return r < 0 ? r : 0;
        case WIRE_TYPE_WINDOW_ICON:
                r = client_windows_icon(&a->windows, &m->window_icon);
                windows_changed(s, r);
                return r < 0 ? r : 0;
        default:
                return -EPROTO; /* a known type hostd must not send us (window-action, resize-request) */
        }
}

static int pump_clipboard(ClientSession *s) {
        ClientSessionAgent *a = &s->agent;
        for (size_t i = 0; i < ELEMENTSOF(a->outbound); i++) {
                ClipboardOutbound *o = &a->outbound[i];
                while (o->active && o->data && (!o->started || o->sent < o->len)) {
                        size_t room = client_resume_replay_room(s);
                        if (wire_conn_queued(s->conn) >= CLIPBOARD_QUEUE_MAX || room < CLIPBOARD_QUEUE_MAX)
                                return 0; /* the next process goes on */
                        size_t n = MIN(o->len - o->sent, (size_t) CLIENT_CLIPBOARD_CHUNK_MAX);
                        WireClipboardData d = { .serial = o->serial, .format = o->format, .total = (uint32_t) o->len,
                                                .offset = (uint32_t) o->sent, .chunk = o->data + o->sent, .chunk_len = n };
                        int r = wire_encode_clipboard_data(wire_conn_out(s->conn), &d);
                        if (r == -ENOBUFS)
                                return 0;
                        if (r < 0)
                                return r;
                        o->started = true;
                        o->sent += n;
                }
                if (o->active && o->data && o->started && o->sent >= o->len) {
                        free(o->data);
                        *o = (ClipboardOutbound) {};
                }
        }
        return 0;
}

int client_session_agent_pump(ClientSession *s, uint64_t now) {
        ClientSessionAgent *a = &s->agent;
        uint32_t w, h;

        if (!live(s))
                return 0;
        bool resize_ok = (a->server_caps & WIRE_CAP_RESIZE) || a->status.known;
        if (resize_ok && resize_coalescer_take(&a->resize, now, &w, &h)) {
                WireResizeRequest rr = { .width = w, .height = h };
                int r = wire_encode_resize_request(wire_conn_out(s->conn), &rr);
                if (r < 0)
                        return r;
        }
        return pump_clipboard(s);
}

uint64_t client_session_agent_next_timeout(ClientSession *s) {
        const ClientSessionAgent *a = &s->agent;
        bool resize_ok = (a->server_caps & WIRE_CAP_RESIZE) || a->status.known;
        return live(s) && resize_ok ? resize_coalescer_next(&a->resize) : UINT64_MAX;
}

/* ---- the API ---- */

const ClientAgentStatus *client_session_agent_status(ClientSession *s) {
        return &s->agent.status;
}

int client_session_clipboard_grab(ClientSession *s, uint32_t formats) {
        ClientSessionAgent *a = &s->agent;
        formats &= CLIENT_CLIPBOARD_FORMATS;
        bool had = a->local_formats != 0;
        a->local_formats = formats;
        if (!live(s) || !clipboard_on(a))
                return -EOPNOTSUPP; /* kept: sent when the feature comes on */
        if (formats == 0) {
                int r = 0;
                if (had && a->owner == CLIPBOARD_OWNER_LOCAL) {
                        WireClipboardRelease rel = { .serial = a->local_serial };
                        r = wire_encode_clipboard_release(wire_conn_out(s->conn), &rel);
                        a->owner = CLIPBOARD_OWNER_NONE;
                }
                outbound_cancel(a);
                return r;
        }
        return send_grab(s);
}

int client_session_clipboard_request(ClientSession *s, uint8_t format) {
        ClientSessionAgent *a = &s->agent;
        if (!live(s))
                return -ENOTCONN;
        if (a->owner != CLIPBOARD_OWNER_PEER || format > WIRE_FORMAT_PNG || !(a->peer_formats & (1u << format)))
                return -ENODATA;
        if (a->inbound.active && a->inbound.format == format && a->inbound.serial == a->peer_serial)
                return 0; /* asked already */
        inbound_abandon(s, -ECANCELED);
        clipboard_inbound_start(&a->inbound, a->peer_serial, format);
        WireClipboardRequest q = { .serial = a->peer_serial, .format = format };
        return wire_encode_clipboard_request(wire_conn_out(s->conn), &q);
}

int client_session_clipboard_send(ClientSession *s, uint8_t format, const uint8_t *data, size_t len) {
        ClientSessionAgent *a = &s->agent;
        if (format >= ELEMENTSOF(a->outbound))
                return -EINVAL;
        ClipboardOutbound *o = &a->outbound[format];
        if (!o->active || o->data || a->owner != CLIPBOARD_OWNER_LOCAL || o->serial != a->local_serial)
                return -ESTALE; /* not asked for, answered already, or our grab changed */
        if (!live(s))
                return -ENOTCONN;
        if (len > CLIENT_CLIPBOARD_TOTAL_MAX) {
                *o = (ClipboardOutbound) {};
                (void) send_empty(s, a->local_serial, format);
                return -EFBIG;
        }
        o->data = malloc(len ? len : 1);
        if (!o->data) {
                *o = (ClipboardOutbound) {};
                return -ENOMEM;
        }
        if (len > 0)
                memcpy(o->data, data, len);
        o->len = len;
        return pump_clipboard(s);
}

int client_session_paste_text(ClientSession *s, const char *text, size_t len) {
        if (len > CLIENT_PASTE_TEXT_MAX)
                return -E2BIG;
        if (s->state == SESSION_RECONNECTING ? !client_resume_has_room(s) : !live(s))
                return s->state == SESSION_RECONNECTING ? -ENOBUFS : -ENOTCONN;
        WirePasteText p = { .text = text, .text_len = len };
        return wire_encode_paste_text(wire_conn_out(s->conn), &p);
}

int client_session_resize(ClientSession *s, uint32_t width, uint32_t height) {
        ClientSessionAgent *a = &s->agent;
        /* hostd takes resize requests when it says so in the welcome, or, one that speaks of the
         * agent at all knows the message. */
        if (s->state != SESSION_HANDSHAKE && !(a->server_caps & WIRE_CAP_RESIZE) && !a->status.known)
                return -EOPNOTSUPP;
        resize_coalescer_want(&a->resize, width, height);
        return client_session_agent_pump(s, client_resume_now());
}

const ClientWindows *client_session_windows(ClientSession *s) {
        return &s->agent.windows;
}

int client_session_window_action(ClientSession *s, uint32_t id, uint8_t op, int32_t x, int32_t y, uint32_t width,
                                 uint32_t height) {
        ClientSessionAgent *a = &s->agent;
        if (!windows_on(a))
                return -EOPNOTSUPP;
        if (!client_windows_find(&a->windows, id))
                return -ENOENT;
        if (op > WIRE_OP_RESTORE)
                return -EINVAL;
        if (!live(s))
                return -ENOTCONN;
        WireWindowAction act = { .id = id, .op = op, .x = x, .y = y, .width = width, .height = height };
        return wire_encode_window_action(wire_conn_out(s->conn), &act);
}
