/* The clipboard relay between the desktop's interactive viewer and the guest
 * (agent-protocol.md, "clipboard"): lazy, with hostd's own serials toward each side, so neither
 * side ever sees the other's; only in the directions the desktop's policy allows. Data is
 * streamed through chunk by chunk, never collected: hostd checks each chunk (the serial and format
 * asked for, offsets contiguous from 0, the same total, at most 16 MiB) and passes it on. A guest
 * that breaks these rules loses its channel; a viewer's transfer is abandoned. */
#include <errno.h>
#include <string.h>

#include "hostd-agent-internal.h"
#include "hostd-manager.h"
#include "hostd-viewer.h"
#include "log.h"

static uint32_t formats_allowed(Agent *a) {
        uint32_t f = 0;
        if (a->features & AGENT_CAP_CLIPBOARD_TEXT)
                f |= 1u << AGENT_FORMAT_TEXT;
        if (a->features & AGENT_CAP_CLIPBOARD_IMAGE)
                f |= 1u << AGENT_FORMAT_PNG;
        return f;
}

static bool clip_on(Agent *a) {
        return a->state == AGENT_ACTIVE && formats_allowed(a) != 0;
}

static uint32_t next_serial(uint32_t *counter) {
        uint32_t s = (*counter)++;
        if (*counter == 0)
                *counter = 1;
        return s;
}

static Viewer *clip_viewer(Agent *a) {
        Viewer *v = agent_find_viewer(a, a->clip.viewer_session);
        return v && v->interactive && agent_viewer_has_cap(v, WIRE_CAP_CLIPBOARD) ? v : NULL;
}

static void transfer_abandon(Agent *a, const char *why) {
        if (!a->clip.transfer.active)
                return;
        a->clip.transfer.active = false;
        a->clip.abandoned++;
        log_info("%s: clipboard transfer abandoned: %s", agent_desktop(a), why);
}

/* The guest's clipboard is gone (agent lost, caps changed): the viewer is told it owns nothing. */
void agent_clipboard_reset(Agent *a) {
        AgentClipboard *c = &a->clip;
        Viewer *v = clip_viewer(a);
        if (c->owner == CLIP_GUEST && v) {
                WireClipboardRelease rel = { .serial = c->viewer_serial };
                (void) wire_encode_clipboard_release(wire_conn_out(v->conn), &rel);
                agent_viewer_written(v);
        }
        transfer_abandon(a, "the agent is gone");
        c->owner = CLIP_NONE;
        c->formats = 0;
}

/* Checks one chunk against the transfer; false when it breaks the rules. */
static bool chunk_ok(ClipTransfer *t, uint32_t total, uint32_t offset, size_t len, const char **why) {
        if (total > AGENT_CLIPBOARD_TOTAL_MAX) {
                *why = "total over 16 MiB";
                return false;
        }
        if (t->total_known && total != t->total) {
                *why = "total changed between chunks";
                return false;
        }
        if (offset != t->received) {
                *why = "chunk offsets not contiguous";
                return false;
        }
        if ((uint64_t) offset + len > total) {
                *why = "chunk past the total";
                return false;
        }
        if (len == 0 && total != 0) {
                *why = "empty chunk";
                return false;
        }
        t->total = total;
        t->total_known = true;
        t->received += (uint32_t) len;
        return true;
}

/* ---- from the guest ---- */

static int guest_grab(Agent *a, const AgentClipboardGrab *g) {
        AgentClipboard *c = &a->clip;
        uint32_t formats = g->formats & formats_allowed(a);
        ViewerServer *s = a->manager->viewers;
        Viewer *v = NULL;

        transfer_abandon(a, "a new grab");
        c->owner = CLIP_NONE;
        if (!agent_clipboard_allows(a->policy.clipboard, false) || formats == 0)
                return 0;
        for (Viewer *o = s ? s->viewers : NULL; o; o = o->next)
                if (o->state == VIEWER_ACTIVE && o->interactive && strcmp(o->ticket.desktop, agent_desktop(a)) == 0 &&
                    agent_viewer_has_cap(o, WIRE_CAP_CLIPBOARD))
                        v = o;
        c->owner = CLIP_GUEST;
        c->formats = formats;
        c->guest_serial = g->serial;
        c->viewer_serial = next_serial(&c->next_viewer_serial);
        c->viewer_session = v ? v->session : 0;
        if (!v)
                return 0;
        WireClipboardGrab out = { .serial = c->viewer_serial, .formats = formats };
        (void) wire_encode_clipboard_grab(wire_conn_out(v->conn), &out);
        agent_viewer_written(v);
        return 0;
}

static int guest_request(Agent *a, const AgentClipboardRequest *q) {
        AgentClipboard *c = &a->clip;
        Viewer *v = clip_viewer(a);
        if (c->owner != CLIP_VIEWER || q->serial != c->guest_serial || !(c->formats & (1u << q->format)) || !v)
                return 0; /* stale, or for a format not offered: ignored */
        transfer_abandon(a, "a new request");
        c->transfer = (ClipTransfer) { .active = true, .format = q->format };
        WireClipboardRequest out = { .serial = c->viewer_serial, .format = q->format };
        (void) wire_encode_clipboard_request(wire_conn_out(v->conn), &out);
        agent_viewer_written(v);
        return 0;
}

static int guest_data(Agent *a, const AgentClipboardData *d) {
        AgentClipboard *c = &a->clip;
        const char *why;
        if (c->owner != CLIP_GUEST || d->serial != c->guest_serial || !c->transfer.active ||
            d->format != c->transfer.format)
                return 0; /* stale: a newer grab or request replaced it */
        if (!chunk_ok(&c->transfer, d->total, d->offset, d->chunk_len, &why)) {
                agent_violation(a, AGENT_CODE_PROTOCOL_ERROR, "clipboard data: %s", why);
                return -EPROTO;
        }
        Viewer *v = clip_viewer(a);
        if (!v) {
                transfer_abandon(a, "the viewer is gone");
                return 0;
        }
        WireClipboardData out = { .serial = c->viewer_serial, .format = d->format, .total = d->total,
                                  .offset = d->offset, .chunk = d->chunk, .chunk_len = d->chunk_len };
        if (wire_encode_clipboard_data(wire_conn_out(v->conn), &out) < 0) {
                transfer_abandon(a, "the viewer is too far behind");
                return 0;
        }
        agent_viewer_written(v);
        c->bytes += d->chunk_len;
        if (c->transfer.received == c->transfer.total) {
                c->transfer.active = false;
                c->transfers++;
        }
        return 0;
}

static int guest_release(Agent *a, const AgentClipboardRelease *r) {
        AgentClipboard *c = &a->clip;
        if (c->owner != CLIP_GUEST || r->serial != c->guest_serial)
                return 0;
        agent_clipboard_reset(a);
        return 0;
}

int agent_clipboard_handle(Agent *a, const AgentMessage *m) {
        if (!clip_on(a))
                return 0;
        switch (m->type) {
        case AGENT_TYPE_CLIPBOARD_GRAB:
                return guest_grab(a, &m->clipboard_grab);
        case AGENT_TYPE_CLIPBOARD_REQUEST:
                return guest_request(a, &m->clipboard_request);
        case AGENT_TYPE_CLIPBOARD_DATA:
                return guest_data(a, &m->clipboard_data);
        case AGENT_TYPE_CLIPBOARD_RELEASE:
                return guest_release(a, &m->clipboard_release);
        default:
                return 0;
        }
}

/* ---- from the viewer ---- */

static void viewer_grab(Agent *a, Viewer *v, const WireClipboardGrab *g) {
        AgentClipboard *c = &a->clip;
        uint32_t formats = g->formats & formats_allowed(a);
        transfer_abandon(a, "a new grab");
        c->owner = CLIP_VIEWER;
        c->formats = formats;
        c->viewer_serial = g->serial;
        c->viewer_session = v->session;
        c->guest_serial = next_serial(&c->next_guest_serial);
        if (formats == 0) {
                c->owner = CLIP_NONE;
                return;
        }
        AgentClipboardGrab out = { .serial = c->guest_serial, .formats = formats };
        (void) agent_encode_clipboard_grab(agent_out(a), &out);
        agent_flush(a);
}

static void viewer_request(Agent *a, Viewer *v, const WireClipboardRequest *q) {
        AgentClipboard *c = &a->clip;
        if (c->owner != CLIP_GUEST || q->serial != c->viewer_serial || !(c->formats & (1u << q->format)))
                return;
        transfer_abandon(a, "a new request");
        c->viewer_session = v->session;
        c->transfer = (ClipTransfer) { .active = true, .format = q->format };
        AgentClipboardRequest out = { .serial = c->guest_serial, .format = q->format };
        (void) agent_encode_clipboard_request(agent_out(a), &out);
        agent_flush(a);
}

static void viewer_data(Agent *a, Viewer *v, const WireClipboardData *d) {
        AgentClipboard *c = &a->clip;
        const char *why;
        if (c->owner != CLIP_VIEWER || d->serial != c->viewer_serial || v->session != c->viewer_session ||
            !c->transfer.active || d->format != c->transfer.format)
                return;
        if (!chunk_ok(&c->transfer, d->total, d->offset, d->chunk_len, &why)) {
                transfer_abandon(a, why);
                return;
        }
        /* Toward the guest at most AGENT_OUT_SOFT waits: beyond it the newest data is dropped. */
        if (wire_conn_queued(a->conn) + d->chunk_len > AGENT_OUT_SOFT) {
                c->refused++;
                transfer_abandon(a, "over 1 MiB waits for the guest");
                return;
        }
        AgentClipboardData out = { .serial = c->guest_serial, .format = d->format, .total = d->total,
                                   .offset = d->offset, .chunk = d->chunk, .chunk_len = d->chunk_len };
        if (agent_encode_clipboard_data(agent_out(a), &out) < 0) {
                transfer_abandon(a, "the guest is too far behind");
                return;
        }
        c->bytes += d->chunk_len;
        if (c->transfer.received == c->transfer.total) {
                c->transfer.active = false;
                c->transfers++;
        }
        agent_flush(a);
}

static void viewer_release(Agent *a, Viewer *v, const WireClipboardRelease *r) {
        AgentClipboard *c = &a->clip;
        if (c->owner != CLIP_VIEWER || r->serial != c->viewer_serial || v->session != c->viewer_session)
                return;
        transfer_abandon(a, "released");
        c->owner = CLIP_NONE;
        AgentClipboardRelease out = { .serial = c->guest_serial };
        (void) agent_encode_clipboard_release(agent_out(a), &out);
        agent_flush(a);
}

void agent_clipboard_viewer(Agent *a, Viewer *v, const WireMessage *m) {
        /* Grabs and data go to the guest, requests and releases answer its grab. */
        bool to_guest = m->type == WIRE_TYPE_CLIPBOARD_GRAB || m->type == WIRE_TYPE_CLIPBOARD_DATA ||
                        m->type == WIRE_TYPE_CLIPBOARD_RELEASE;
        if (!v->interactive || !clip_on(a) || !agent_clipboard_allows(a->policy.clipboard, to_guest)) {
                a->clip.refused++;
                agent_viewer_notice(v, &v->agent_notice_sent,
                                    !v->interactive ? "clipboard refused: this viewer is view-only"
                                    : !clip_on(a)   ? "clipboard refused: no agent with a clipboard"
                                                    : "clipboard refused by the desktop's policy");
                return;
        }
        switch (m->type) {
        case WIRE_TYPE_CLIPBOARD_GRAB:
                viewer_grab(a, v, &m->clipboard_grab);
                break;
        case WIRE_TYPE_CLIPBOARD_REQUEST:
                viewer_request(a, v, &m->clipboard_request);
                break;
        case WIRE_TYPE_CLIPBOARD_DATA:
                viewer_data(a, v, &m->clipboard_data);
                break;
        case WIRE_TYPE_CLIPBOARD_RELEASE:
                viewer_release(a, v, &m->clipboard_release);
                break;
        }
}
