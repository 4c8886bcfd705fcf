#include "x11-clipboard.h"

#include <X11/Xatom.h>
#include <X11/extensions/Xfixes.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "session-text.h"
#include "session-transfer.h"
#include "x11-display.h"

#define FORMATS 2 /* AGENT_FORMAT_TEXT, AGENT_FORMAT_PNG */
#define FORMAT_BIT(f) (UINT32_C(1) << (f))
#define ALL_FORMATS (FORMAT_BIT(AGENT_FORMAT_TEXT) | FORMAT_BIT(AGENT_FORMAT_PNG))
/* An X owner that does not answer a conversion in this time has nothing to give. */
#define CONVERT_TIMEOUT_USEC (UINT64_C(10) * 1000000)
/* X clients waiting for the host's data, and INCR transfers toward X clients, at once. */
#define WAITING_MAX 16
#define SENDS_MAX 8
/* Replies larger than this go through INCR (ICCCM), in chunks of INCR_CHUNK. */
#define INCR_THRESHOLD (256 * 1024)
#define INCR_CHUNK (64 * 1024)
/* Requestors we watch for INCR: the same mask x11-windows uses on top-levels, so neither
 * replaces the other's selection. */
#define REQUESTOR_MASK (PropertyChangeMask | StructureNotifyMask)

typedef enum Owner {
        OWNER_NONE,
        OWNER_GUEST, /* an X client owns CLIPBOARD */
        OWNER_HOST,  /* the peer grabbed; we own CLIPBOARD on its behalf */
} Owner;

typedef struct Waiting {
        Window requestor;
        Atom selection, target, property;
        Time time;
        uint8_t format;
} Waiting;

typedef struct IncrSend {
        Window requestor;
        Atom property, type;
        uint8_t *data;
        size_t len, off;
} IncrSend;

typedef struct Outgoing {
        bool active;
        uint8_t *data;
        size_t len, sent;
} Outgoing;

struct Clipboard {
        Session *s;
        X11 *x;

        Owner owner;
        uint32_t serial;  /* of the current grab, ours or the host's */
        uint32_t formats; /* its formats */
        uint32_t next_serial;

        /* Guest side: reading the X owner. */
        bool grab_sent;
        bool announced; /* the peer was told of a guest grab (announced_serial) still standing */
        uint32_t announced_serial;
        Time guest_time; /* the owner's selection timestamp */
        Atom text_target;
        bool targets_busy;
        uint32_t requested; /* formats the host asked for, conversion not started */
        struct {
                bool busy, incr;
                uint8_t format;
                Atom target;
                uint8_t *data;
                size_t len;
        } conv;
        sd_event_source *timer;
        Outgoing out[FORMATS];

        /* Host side: serving X clients. */
        Time acquired;
        uint32_t host_requested; /* asked of the host, not complete yet */
        ClipTransfer in[FORMATS];
        uint8_t *cache[FORMATS];
        size_t cache_len[FORMATS];
        uint32_t cached;
        Waiting waiting[WAITING_MAX];
        size_t n_waiting;
        IncrSend sends[SENDS_MAX];
        size_t n_sends;
};

/* ---- sending to the peer ---- */

static void send_grab(Clipboard *c) {
        Buffer *b = session_out(c->s);
        c->announced = true;
        c->announced_serial = c->serial;
        if (b && agent_encode_clipboard_grab(b, &(AgentClipboardGrab) { .serial = c->serial, .formats = c->formats }) < 0)
                log_debug("Clipboard grab not queued, ignoring");
}

/* The X clipboard is empty: the peer forgets the last grab it was told of. */
static void send_release(Clipboard *c) {
        Buffer *b = session_out(c->s);
        if (!c->announced)
                return;
        c->announced = false;
        if (b)
                (void) agent_encode_clipboard_release(b, &(AgentClipboardRelease) { .serial = c->announced_serial });
}

static void send_request(Clipboard *c, uint8_t format) {
        Buffer *b = session_out(c->s);
        if (b)
                (void) agent_encode_clipboard_request(b, &(AgentClipboardRequest) { .serial = c->serial, .format = format });
}

static void out_reset(Outgoing *o) {
        free(o->data);
        *o = (Outgoing) {};
}

/* Queues the converted data for the peer; takes data. */
static void out_start(Clipboard *c, uint8_t format, uint8_t *data, size_t len) {
        out_reset(&c->out[format]);
        c->out[format] = (Outgoing) { .active = true, .data = data, .len = len };
}

void clipboard_pump(Clipboard *c) {
        for (uint8_t f = 0; f < FORMATS; f++) {
                Outgoing *o = &c->out[f];
                while (o->active && session_bulk_room(c->s)) {
                        size_t n = MIN(o->len - o->sent, (size_t) AGENT_CLIPBOARD_DATA_CHUNK_MAX);
                        AgentClipboardData d = {
                                .serial = c->serial,
                                .format = f,
                                .total = (uint32_t) o->len,
                                .offset = (uint32_t) o->sent,
                                .chunk = o->data ? o->data + o->sent : NULL,
                                .chunk_len = n,
                        };
                        if (agent_encode_clipboard_data(session_out(c->s), &d) < 0)
                                break;
                        o->sent += n;
                        if (o->sent == o->len)
                                out_reset(o);
                }
        }
}

/* ---- guest side: converting from the X owner ---- */

static void timer_stop(Clipboard *c) {
        c->timer = sd_event_source_disable_unref(c->timer);
}

static int on_timeout(sd_event_source *source, uint64_t usec, void *userdata);

static void timer_start(Clipboard *c) {
        timer_stop(c);
        if (sd_event_add_time_relative(c->s->event, &c->timer, CLOCK_MONOTONIC, CONVERT_TIMEOUT_USEC, 0, on_timeout, c) < 0)
                log_debug("No clipboard conversion timer, ignoring");
}

static void conv_reset(Clipboard *c) {
        free(c->conv.data);
        c->conv.busy = c->conv.incr = false;
        c->conv.data = NULL;
        c->conv.len = 0;
        timer_stop(c);
}

static void guest_reset(Clipboard *c) {
        conv_reset(c);
        c->targets_busy = false;
        c->grab_sent = false;
        c->requested = 0;
        for (int f = 0; f < FORMATS; f++)
                out_reset(&c->out[f]);
}

static void conv_next(Clipboard *c);

static void conv_finish(Clipboard *c, uint8_t *data, size_t len) {
        uint8_t format = c->conv.format;
        bool latin1 = c->conv.target == XA_STRING;
        c->conv.data = NULL;
        conv_reset(c);
        if (data && latin1) {
                size_t n;
                uint8_t *u = len <= CLIPBOARD_MAX / 2 ? malloc(MAX(len * 2, (size_t) 1)) : NULL;
                if (u && latin1_to_utf8(data, len, u, len * 2, &n) == 0) {
                        free(data);
                        data = u, len = n;
                } else {
                        free(u);
                        free(data);
                        data = NULL, len = 0;
                }
        }
        if (!data)
                len = 0;
        out_start(c, format, data, len);
        conv_next(c);
        clipboard_pump(c);
}

static void conv_next(Clipboard *c) {
        if (c->conv.busy || c->targets_busy || c->owner != OWNER_GUEST)
                return;
        for (uint8_t f = 0; f < FORMATS; f++) {
                if (!(c->requested & FORMAT_BIT(f)))
                        continue;
                c->requested &= ~FORMAT_BIT(f);
                c->conv.busy = true;
                c->conv.format = f;
                c->conv.target = f == AGENT_FORMAT_TEXT ? c->text_target : x11_atom(c->x, A_IMAGE_PNG);
                XDeleteProperty(c->x->dpy, c->x->win, x11_atom(c->x, A_TANDEM_DATA));
                XConvertSelection(c->x->dpy, x11_atom(c->x, A_CLIPBOARD), c->conv.target, x11_atom(c->x, A_TANDEM_DATA),
                                  c->x->win, c->guest_time);
                timer_start(c);
                return;
        }
}

static void targets_done(Clipboard *c, bool ok) {
        X11 *x = c->x;
        uint32_t formats = 0;
        Atom text = None;

        c->targets_busy = false;
        timer_stop(c);
        if (ok) {
                unsigned long n;
                Atom *atoms = x11_get_property(x, x->win, x11_atom(x, A_TANDEM_TARGETS), XA_ATOM, 1024, &n, NULL, NULL);
                /* The best text target the owner offers, in our order of preference. */
                int best = 99;
                for (unsigned long i = 0; atoms && i < n; i++) {
                        int rank = atoms[i] == x11_atom(x, A_UTF8_STRING)       ? 0
                                   : atoms[i] == x11_atom(x, A_TEXT_PLAIN_UTF8) ? 1
                                   : atoms[i] == XA_STRING                      ? 2
                                                                                : 99;
                        if (rank < best)
                                best = rank, text = atoms[i];
                        if (atoms[i] == x11_atom(x, A_IMAGE_PNG))
                                formats |= FORMAT_BIT(AGENT_FORMAT_PNG);
                }
                if (atoms)
                        XFree(atoms);
                XDeleteProperty(x->dpy, x->win, x11_atom(x, A_TANDEM_TARGETS));
        } else
                /* An owner without TARGETS (ICCCM allows it) is asked for STRING. */
                text = XA_STRING;
        if (text != None)
                formats |= FORMAT_BIT(AGENT_FORMAT_TEXT);
        c->text_target = text;
        c->formats = formats;
        c->grab_sent = true;
        log_debug("Guest clipboard %u: formats 0x%x", c->serial, formats);
        send_grab(c);
        conv_next(c);
}

static int on_timeout(sd_event_source *source, uint64_t usec, void *userdata) {
        Clipboard *c = userdata;
        c->timer = sd_event_source_disable_unref(c->timer);
        if (c->targets_busy) {
                log_debug("Clipboard owner did not answer TARGETS, offering text");
                targets_done(c, false);
        } else if (c->conv.busy) {
                log_debug("Clipboard owner did not answer a conversion, sending nothing");
                conv_finish(c, NULL, 0);
        }
        return 0;
}

/* The converted property: whole, the start of INCR, or nothing. */
static void data_notify(Clipboard *c, Atom property) {
        X11 *x = c->x;
        if (property == None) {
                conv_finish(c, NULL, 0);
                return;
        }
        Atom type;
        int format;
        unsigned long n, after;
        unsigned char *p = NULL;
        if (XGetWindowProperty(x->dpy, x->win, property, 0, CLIPBOARD_MAX / 4, True, AnyPropertyType, &type, &format,
                               &n, &after, &p) != Success) {
                conv_finish(c, NULL, 0);
                return;
        }
        if (type == x11_atom(x, A_INCR)) {
                /* Deleting the property (done) asks the owner for the first chunk. */
                if (p)
                        XFree(p);
                log_debug("Clipboard owner sends %s by INCR", c->conv.format == AGENT_FORMAT_PNG ? "png" : "text");
                c->conv.incr = true;
                timer_start(c);
                return;
        }
        if (!p || format != 8 || after > 0) {
                if (after > 0)
                        log_debug("Clipboard content over %u bytes, sending nothing", CLIPBOARD_MAX);
                if (p)
                        XFree(p);
                conv_finish(c, NULL, 0);
                return;
        }
        uint8_t *data = malloc(MAX(n, 1ul));
        if (data)
                memcpy(data, p, n);
        XFree(p);
        conv_finish(c, data, data ? n : 0);
}

/* One INCR chunk: appended, or the end (an empty one). */
static void incr_chunk(Clipboard *c) {
        X11 *x = c->x;
        Atom type;
        int format;
        unsigned long n, after;
        unsigned char *p = NULL;
        if (XGetWindowProperty(x->dpy, x->win, x11_atom(x, A_TANDEM_DATA), 0, CLIPBOARD_MAX / 4, True, AnyPropertyType,
                               &type, &format, &n, &after, &p) != Success || !p) {
                if (p)
                        XFree(p);
                return;
        }
        if (n == 0) {
                XFree(p);
                uint8_t *data = TAKE_PTR(c->conv.data);
                conv_finish(c, data, data ? c->conv.len : 0);
                return;
        }
        if (format != 8 || after > 0 || n > CLIPBOARD_MAX - c->conv.len) {
                XFree(p);
                log_debug("Clipboard INCR transfer over %u bytes, sending nothing", CLIPBOARD_MAX);
                conv_finish(c, NULL, 0);
                return;
        }
        uint8_t *d = realloc(c->conv.data, c->conv.len + n);
        if (!d) {
                XFree(p);
                conv_finish(c, NULL, 0);
                return;
        }
        memcpy(d + c->conv.len, p, n);
        XFree(p);
        c->conv.data = d;
        c->conv.len += n;
        timer_start(c);
}

/* ---- host side: serving X clients ---- */

static void host_reset(Clipboard *c);

static void notify(Clipboard *c, const Waiting *w, Atom property) {
        XEvent ev = { .xselection = {
                .type = SelectionNotify,
                .display = c->x->dpy,
                .requestor = w->requestor,
                .selection = w->selection,
                .target = w->target,
                .property = property,
                .time = w->time,
        } };
        XSendEvent(c->x->dpy, w->requestor, False, NoEventMask, &ev);
}

static void send_free(IncrSend *s) {
        free(s->data);
        *s = (IncrSend) {};
}

static void sends_remove(Clipboard *c, size_t i) {
        send_free(&c->sends[i]);
        c->sends[i] = c->sends[--c->n_sends];
}

/* Answers a request with data (UTF-8 text converted for STRING); through INCR when large. */
static void reply_data(Clipboard *c, const Waiting *w, const uint8_t *data, size_t len) {
        X11 *x = c->x;
        Atom type = w->target;
        _cleanup_(freep) uint8_t *latin1 = NULL;

        if (w->format == AGENT_FORMAT_TEXT) {
                if (w->target == XA_STRING) {
                        latin1 = malloc(MAX(len, (size_t) 1));
                        if (!latin1) {
                                notify(c, w, None);
                                return;
                        }
                        len = utf8_to_latin1(data, len, latin1);
                        data = latin1;
                } else if (w->target == x11_atom(x, A_TEXT) || w->target == x11_atom(x, A_TEXT_PLAIN))
                        type = x11_atom(x, A_UTF8_STRING);
        }
        if (len <= INCR_THRESHOLD) {
                XChangeProperty(x->dpy, w->requestor, w->property, type, 8, PropModeReplace, data, (int) len);
                notify(c, w, w->property);
                return;
        }
        if (c->n_sends >= SENDS_MAX) {
                notify(c, w, None);
                return;
        }
        IncrSend *s = &c->sends[c->n_sends];
        *s = (IncrSend) { .requestor = w->requestor, .property = w->property, .type = type, .len = len };
        s->data = malloc(len);
        if (!s->data) {
                notify(c, w, None);
                return;
        }
        memcpy(s->data, data, len);
        c->n_sends++;
        long size = (long) len;
        XSelectInput(x->dpy, w->requestor, REQUESTOR_MASK);
        XChangeProperty(x->dpy, w->requestor, w->property, x11_atom(x, A_INCR), 32, PropModeReplace,
                        (unsigned char *) &size, 1);
        notify(c, w, w->property);
}

/* The requestor deleted the property: the next chunk, or the empty one that ends it. */
static void incr_send_next(Clipboard *c, size_t i) {
        IncrSend *s = &c->sends[i];
        size_t n = MIN(s->len - s->off, (size_t) INCR_CHUNK);
        XChangeProperty(c->x->dpy, s->requestor, s->property, s->type, 8, PropModeReplace, s->data + s->off, (int) n);
        s->off += n;
        if (n == 0)
                sends_remove(c, i);
}

static void answer_waiting(Clipboard *c, uint8_t format, bool ok) {
        for (size_t i = 0; i < c->n_waiting;) {
                Waiting *w = &c->waiting[i];
                if (w->format != format) {
                        i++;
                        continue;
                }
                if (ok)
                        reply_data(c, w, c->cache[format], c->cache_len[format]);
                else
                        notify(c, w, None);
                c->waiting[i] = c->waiting[--c->n_waiting];
        }
}

static void host_reset(Clipboard *c) {
        for (uint8_t f = 0; f < FORMATS; f++) {
                answer_waiting(c, f, false);
                clip_transfer_reset(&c->in[f]);
                free(c->cache[f]);
                c->cache[f] = NULL;
                c->cache_len[f] = 0;
        }
        c->cached = 0;
        c->host_requested = 0;
}

static int target_format(Clipboard *c, Atom target) {
        X11 *x = c->x;
        if (target == x11_atom(x, A_UTF8_STRING) || target == x11_atom(x, A_TEXT_PLAIN_UTF8) || target == XA_STRING ||
            target == x11_atom(x, A_TEXT) || target == x11_atom(x, A_TEXT_PLAIN))
                return AGENT_FORMAT_TEXT;
        if (target == x11_atom(x, A_IMAGE_PNG))
                return AGENT_FORMAT_PNG;
        return -1;
}

static void reply_targets(Clipboard *c, const Waiting *w) {
        X11 *x = c->x;
        Atom t[8];
        int n = 0;
        t[n++] = x11_atom(x, A_TARGETS);
        t[n++] = x11_atom(x, A_TIMESTAMP);
        if (c->formats & FORMAT_BIT(AGENT_FORMAT_TEXT)) {
                t[n++] = x11_atom(x, A_UTF8_STRING);
                t[n++] = x11_atom(x, A_TEXT_PLAIN_UTF8);
                t[n++] = XA_STRING;
                t[n++] = x11_atom(x, A_TEXT);
        }
        if (c->formats & FORMAT_BIT(AGENT_FORMAT_PNG))
                t[n++] = x11_atom(x, A_IMAGE_PNG);
        XChangeProperty(x->dpy, w->requestor, w->property, XA_ATOM, 32, PropModeReplace, (unsigned char *) t, n);
        notify(c, w, w->property);
}

static void selection_request(Clipboard *c, const XSelectionRequestEvent *e) {
        X11 *x = c->x;
        Waiting w = {
                .requestor = e->requestor,
                .selection = e->selection,
                .target = e->target,
                .property = e->property != None ? e->property : e->target, /* obsolete clients */
                .time = e->time,
        };
        if (e->selection != x11_atom(x, A_CLIPBOARD) || c->owner != OWNER_HOST) {
                notify(c, &w, None);
                return;
        }
        if (e->target == x11_atom(x, A_TARGETS)) {
                reply_targets(c, &w);
                return;
        }
        if (e->target == x11_atom(x, A_TIMESTAMP)) {
                long t = (long) c->acquired;
                XChangeProperty(x->dpy, w.requestor, w.property, XA_INTEGER, 32, PropModeReplace, (unsigned char *) &t, 1);
                notify(c, &w, w.property);
                return;
        }
        int f = target_format(c, e->target);
        if (f < 0 || !(c->formats & FORMAT_BIT(f))) {
                notify(c, &w, None);
                return;
        }
        w.format = (uint8_t) f;
        if (c->cached & FORMAT_BIT(f)) {
                reply_data(c, &w, c->cache[f], c->cache_len[f]);
                return;
        }
        if (c->n_waiting >= WAITING_MAX || !session_out(c->s)) {
                notify(c, &w, None);
                return;
        }
        c->waiting[c->n_waiting++] = w;
        if (!(c->host_requested & FORMAT_BIT(f))) {
                c->host_requested |= FORMAT_BIT(f);
                clip_transfer_reset(&c->in[f]);
                send_request(c, (uint8_t) f);
        }
}

/* ---- X events ---- */

static void owner_changed(Clipboard *c, const XFixesSelectionNotifyEvent *e) {
        if (e->owner == c->x->win)
                return; /* our own grab on the host's behalf */
        /* An event from before our grab, read after it. */
        if (c->owner == OWNER_HOST && XGetSelectionOwner(c->x->dpy, x11_atom(c->x, A_CLIPBOARD)) == c->x->win)
                return;
        if (c->owner == OWNER_HOST)
                host_reset(c);
        guest_reset(c);
        if (e->owner == None) {
                send_release(c);
                c->owner = OWNER_NONE;
                return;
        }
        c->owner = OWNER_GUEST;
        c->serial = c->next_serial++;
        c->formats = 0;
        c->guest_time = e->selection_timestamp;
        c->targets_busy = true;
        XDeleteProperty(c->x->dpy, c->x->win, x11_atom(c->x, A_TANDEM_TARGETS));
        XConvertSelection(c->x->dpy, x11_atom(c->x, A_CLIPBOARD), x11_atom(c->x, A_TARGETS),
                          x11_atom(c->x, A_TANDEM_TARGETS), c->x->win, c->guest_time);
        timer_start(c);
}

void clipboard_handle_event(Clipboard *c, XEvent *ev) {
        X11 *x = c->x;
        if (ev->type == x->xfixes_event_base + XFixesSelectionNotify) {
                XFixesSelectionNotifyEvent *e = (XFixesSelectionNotifyEvent *) ev;
                if (e->selection == x11_atom(x, A_CLIPBOARD))
                        owner_changed(c, e);
                return;
        }
        switch (ev->type) {
        case SelectionNotify: {
                XSelectionEvent *e = &ev->xselection;
                if (e->requestor != x->win || e->selection != x11_atom(x, A_CLIPBOARD) || c->owner != OWNER_GUEST)
                        return;
                if (c->targets_busy && e->target == x11_atom(x, A_TARGETS))
                        targets_done(c, e->property != None);
                else if (c->conv.busy && !c->conv.incr && e->target == c->conv.target)
                        data_notify(c, e->property);
                return;
        }
        case SelectionRequest:
                selection_request(c, &ev->xselectionrequest);
                return;
        case PropertyNotify: {
                XPropertyEvent *e = &ev->xproperty;
                if (e->window == x->win) {
                        if (e->atom == x11_atom(x, A_TANDEM_DATA) && e->state == PropertyNewValue && c->conv.busy &&
                            c->conv.incr)
                                incr_chunk(c);
                        return;
                }
                if (e->state != PropertyDelete)
                        return;
                for (size_t i = 0; i < c->n_sends; i++)
                        if (c->sends[i].requestor == e->window && c->sends[i].property == e->atom) {
                                incr_send_next(c, i);
                                return;
                        }
                return;
        }
        case DestroyNotify:
                for (size_t i = 0; i < c->n_sends;)
                        if (c->sends[i].requestor == ev->xdestroywindow.window)
                                sends_remove(c, i);
                        else
                                i++;
                return;
        }
}

/* ---- the peer's messages ---- */

static void host_grab(Clipboard *c, const AgentClipboardGrab *g) {
        X11 *x = c->x;
        c->announced = false; /* the host's grab replaced ours */
        if (c->owner == OWNER_HOST)
                host_reset(c);
        guest_reset(c);
        c->owner = OWNER_HOST;
        c->serial = g->serial;
        c->formats = g->formats & ALL_FORMATS;
        c->acquired = x11_server_time(x);
        XSetSelectionOwner(x->dpy, x11_atom(x, A_CLIPBOARD), x->win, c->acquired);
        if (XGetSelectionOwner(x->dpy, x11_atom(x, A_CLIPBOARD)) != x->win)
                log_debug("Could not own CLIPBOARD for the host's grab %u, ignoring", g->serial);
}

static void host_release(Clipboard *c) {
        X11 *x = c->x;
        host_reset(c);
        c->owner = OWNER_NONE;
        if (XGetSelectionOwner(x->dpy, x11_atom(x, A_CLIPBOARD)) == x->win)
                XSetSelectionOwner(x->dpy, x11_atom(x, A_CLIPBOARD), None, CurrentTime);
}

static void host_request(Clipboard *c, const AgentClipboardRequest *r) {
        if (c->owner != OWNER_GUEST || !c->grab_sent || r->serial != c->serial) {
                log_debug("Stale clipboard request for serial %u, ignoring", r->serial);
                return;
        }
        if (r->format >= FORMATS || !(c->formats & FORMAT_BIT(r->format))) {
                /* Not offered: nothing to give. */
                Buffer *b = session_out(c->s);
                if (b)
                        (void) agent_encode_clipboard_data(b, &(AgentClipboardData) { .serial = c->serial, .format = r->format });
                return;
        }
        if (c->out[r->format].active || (c->conv.busy && c->conv.format == r->format))
                return; /* already on its way */
        c->requested |= FORMAT_BIT(r->format);
        conv_next(c);
}

static void host_data(Clipboard *c, const AgentClipboardData *d) {
        if (c->owner != OWNER_HOST || d->serial != c->serial || d->format >= FORMATS ||
            !(c->host_requested & FORMAT_BIT(d->format))) {
                log_debug("Stale or unrequested clipboard data (serial %u, format %u), ignoring", d->serial, d->format);
                return;
        }
        uint8_t f = d->format;
        int r = clip_transfer_feed(&c->in[f], d->total, d->offset, d->chunk, d->chunk_len);
        if (r == 0)
                return;
        c->host_requested &= ~FORMAT_BIT(f);
        if (r < 0) {
                log_debug("Host clipboard transfer abandoned (%s), ignoring", strerror(-r));
                answer_waiting(c, f, false);
                return;
        }
        size_t len;
        uint8_t *data = clip_transfer_steal(&c->in[f], &len);
        if (len == 0) {
                free(data);
                answer_waiting(c, f, false);
                return;
        }
        free(c->cache[f]);
        c->cache[f] = data;
        c->cache_len[f] = len;
        c->cached |= FORMAT_BIT(f);
        answer_waiting(c, f, true);
}

void clipboard_handle_message(Clipboard *c, const AgentMessage *m) {
        switch (m->type) {
        case AGENT_TYPE_CLIPBOARD_GRAB:
                host_grab(c, &m->clipboard_grab);
                break;
        case AGENT_TYPE_CLIPBOARD_REQUEST:
                host_request(c, &m->clipboard_request);
                break;
        case AGENT_TYPE_CLIPBOARD_DATA:
                host_data(c, &m->clipboard_data);
                break;
        case AGENT_TYPE_CLIPBOARD_RELEASE:
                if (c->owner == OWNER_HOST && m->clipboard_release.serial == c->serial)
                        host_release(c);
                break;
        }
}

void clipboard_peer_connected(Clipboard *c) {
        if (c->owner == OWNER_GUEST && c->grab_sent)
                send_grab(c);
}

void clipboard_peer_lost(Clipboard *c) {
        for (int f = 0; f < FORMATS; f++)
                out_reset(&c->out[f]);
        c->requested = 0;
        if (c->owner == OWNER_HOST)
                host_release(c);
}

int clipboard_new(Session *s, Clipboard **ret) {
        Clipboard *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->s = s;
        c->x = s->x;
        c->next_serial = 1;
        for (int f = 0; f < FORMATS; f++)
                clip_transfer_init(&c->in[f], CLIPBOARD_MAX);
        XFixesSelectSelectionInput(c->x->dpy, c->x->root, x11_atom(c->x, A_CLIPBOARD),
                                   XFixesSetSelectionOwnerNotifyMask | XFixesSelectionWindowDestroyNotifyMask |
                                           XFixesSelectionClientCloseNotifyMask);
        /* A clipboard owned before we started is announced like a new one. */
        Window owner = XGetSelectionOwner(c->x->dpy, x11_atom(c->x, A_CLIPBOARD));
        if (owner != None)
                owner_changed(c, &(XFixesSelectionNotifyEvent) { .owner = owner, .selection_timestamp = CurrentTime });
        *ret = c;
        return 0;
}

Clipboard *clipboard_free(Clipboard *c) {
        if (!c)
                return NULL;
        guest_reset(c);
        host_reset(c);
        for (size_t i = 0; i < c->n_sends; i++)
                send_free(&c->sends[i]);
        free(c);
        return NULL;
}
