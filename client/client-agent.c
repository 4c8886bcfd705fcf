#include "client-agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "macro.h"

/* ---- status ---- */

static const struct {
        uint64_t bits;
        const char *name;
} feature_names[] = {
        /* Listed (and matched) in this order; "clipboard" stands for either clipboard bit. */
        { CLIENT_FEATURE_CLIPBOARD, "clipboard" },
        { CLIENT_FEATURE_CLIPBOARD_TEXT, "clipboard-text" },
        { CLIENT_FEATURE_CLIPBOARD_IMAGE, "clipboard-image" },
        { CLIENT_FEATURE_WINDOWS, "windows" },
        { CLIENT_FEATURE_RESIZE, "resize" },
        { CLIENT_FEATURE_HEARTBEAT, "heartbeat" },
        { CLIENT_FEATURE_SESSIONS, "sessions" },
        { CLIENT_FEATURE_POWER, "power" },
};

const char *client_agent_cause_name(uint8_t cause) {
        static const char *const names[] = {
                [WIRE_CAUSE_NONE] = "none",
                [WIRE_CAUSE_AGENT_HELLO] = "agent hello",
                [WIRE_CAUSE_AGENT_CLOSED] = "agent closed",
                [WIRE_CAUSE_HEARTBEAT_LOST] = "heartbeat lost",
                [WIRE_CAUSE_GUEST_REBOOT] = "guest reboot",
                [WIRE_CAUSE_AGENT_MISBEHAVED] = "agent misbehaved",
                [WIRE_CAUSE_AGENT_DISABLED] = "agent disabled",
        };
        return cause < ELEMENTSOF(names) ? names[cause] : "unknown";
}

uint64_t client_agent_feature_from_name(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(feature_names); i++)
                if (strcmp(name, feature_names[i].name) == 0)
                        return feature_names[i].bits;
        return 0;
}

void client_agent_status_format(const ClientAgentStatus *st, char *buf, size_t size) {
        size_t n = 0;

        if (size == 0)
                return;
        buf[0] = '\0';
        if (!st->known || st->mode != WIRE_MODE_AGENT) {
                snprintf(buf, size, "none (hypervisor path: %s)",
                         st->known ? client_agent_cause_name(st->cause) : "no agent reported");
                return;
        }
        n = (size_t) snprintf(buf, size, "active (");
        bool any = false;
        uint64_t left = st->features;
        /* The clipboard once, whichever of its bits; then the rest by their own names. */
        for (size_t i = 0; i < ELEMENTSOF(feature_names) && n < size; i++) {
                uint64_t bits = feature_names[i].bits;
                if (!(left & bits))
                        continue;
                const char *name = feature_names[i].name;
                if (bits == CLIENT_FEATURE_CLIPBOARD) {
                        if ((left & bits) == CLIENT_FEATURE_CLIPBOARD_TEXT)
                                name = "clipboard (text)";
                        else if ((left & bits) == CLIENT_FEATURE_CLIPBOARD_IMAGE)
                                name = "clipboard (image)";
                }
                left &= ~bits;
                n += (size_t) snprintf(buf + n, size - n, "%s%s", any ? ", " : "", name);
                any = true;
        }
        if (n < size)
                snprintf(buf + n, size - n, "%s)", any ? "" : "no features");
}

/* ---- clipboard ---- */

void clipboard_inbound_reset(ClipboardInbound *in) {
        free(in->data);
        *in = (ClipboardInbound) {};
}

void clipboard_inbound_start(ClipboardInbound *in, uint32_t serial, uint8_t format) {
        clipboard_inbound_reset(in);
        in->active = true;
        in->serial = serial;
        in->format = format;
}

static int inbound_fail(ClipboardInbound *in, int error) {
        clipboard_inbound_reset(in);
        return error;
}

int clipboard_inbound_chunk(ClipboardInbound *in, const WireClipboardData *d) {
        if (!in->active || d->serial != in->serial || d->format != in->format)
                return -ESTALE;
        if (d->total > CLIENT_CLIPBOARD_TOTAL_MAX)
                return inbound_fail(in, -EFBIG);
        if (in->total_known && d->total != in->total)
                return inbound_fail(in, -EPROTO);
        if (d->offset != in->len || d->chunk_len > d->total - MIN(d->total, d->offset) ||
            (d->chunk_len == 0 && d->total != 0) || d->chunk_len > CLIENT_CLIPBOARD_CHUNK_MAX)
                return inbound_fail(in, -EPROTO);
        in->total_known = true;
        in->total = d->total;
        size_t need = in->len + d->chunk_len + 1;
        if (need > in->cap) {
                /* Doubling, but never past what the total needs: a lying total costs nothing. */
                size_t cap = MAX(need, MIN(in->cap * 2, (size_t) in->total + 1));
                uint8_t *p = realloc(in->data, cap);
                if (!p)
                        return inbound_fail(in, -ENOMEM);
                in->data = p;
                in->cap = cap;
        }
        if (d->chunk_len > 0)
                memcpy(in->data + in->len, d->chunk, d->chunk_len);
        in->len += d->chunk_len;
        in->data[in->len] = '\0';
        if (in->len < in->total)
                return 0;
        in->active = false;
        return 1;
}

/* ---- windows ---- */

static void window_done(ClientWindow *w) {
        free(w->title);
        free(w->icon_argb);
}

void client_windows_reset(ClientWindows *w) {
        for (size_t i = 0; i < w->n; i++)
                window_done(&w->windows[i]);
        if (w->n > 0)
                w->serial++;
        w->n = 0;
}

void client_windows_done(ClientWindows *w) {
        client_windows_reset(w);
        free(w->windows);
        *w = (ClientWindows) {};
}

static ssize_t find_index(const ClientWindows *w, uint32_t id) {
        for (size_t i = 0; i < w->n; i++)
                if (w->windows[i].id == id)
                        return (ssize_t) i;
        return -1;
}

const ClientWindow *client_windows_find(const ClientWindows *w, uint32_t id) {
        ssize_t i = find_index(w, id);
        return i < 0 ? NULL : &w->windows[i];
}

static int ignore(ClientWindows *w) {
        w->ignored++;
        return 0;
}

int client_windows_update(ClientWindows *w, const WireWindowUpdate *u) {
        if (u->width == 0 || u->height == 0 || u->width > CLIENT_WINDOW_SIZE_MAX || u->height > CLIENT_WINDOW_SIZE_MAX ||
            u->x < -CLIENT_WINDOW_COORD_MAX || u->x > CLIENT_WINDOW_COORD_MAX || u->y < -CLIENT_WINDOW_COORD_MAX ||
            u->y > CLIENT_WINDOW_COORD_MAX)
                return ignore(w);
        char *title = malloc(u->title_len + 1);
        if (!title)
                return -ENOMEM;
        for (size_t i = 0; i < u->title_len; i++)
                title[i] = u->title[i] ? u->title[i] : '?';
        title[u->title_len] = '\0';

        ssize_t i = find_index(w, u->id);
        ClientWindow *win;
        if (i >= 0) {
                win = &w->windows[i];
                free(win->title);
        } else {
                if (w->n >= CLIENT_WINDOWS_MAX) {
                        free(title);
                        return ignore(w);
                }
                if (w->n == w->cap) {
                        size_t cap = w->cap ? w->cap * 2 : 16;
                        ClientWindow *p = reallocarray(w->windows, cap, sizeof(ClientWindow));
                        if (!p) {
                                free(title);
                                return -ENOMEM;
                        }
                        w->windows = p;
                        w->cap = cap;
                }
                win = &w->windows[w->n++];
                *win = (ClientWindow) { .id = u->id };
        }
        win->state = u->state;
        win->x = u->x;
        win->y = u->y;
        win->width = u->width;
        win->height = u->height;
        win->title = title;
        win->serial = ++w->serial;
        return 1;
}

int client_windows_remove(ClientWindows *w, uint32_t id) {
        ssize_t i = find_index(w, id);
        if (i < 0)
                return ignore(w);
        window_done(&w->windows[i]);
        memmove(&w->windows[i], &w->windows[i + 1], (w->n - (size_t) i - 1) * sizeof(ClientWindow));
        w->n--;
        w->serial++;
        return 1;
}

static uint32_t stack_id(const uint8_t *ids, size_t k) {
        const uint8_t *p = ids + 4 * k;
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

int client_windows_stack(ClientWindows *w, const uint8_t *ids, size_t len) {
        if (len % 4 != 0)
                return ignore(w);
        size_t n_ids = len / 4;
        if (w->n == 0)
                return 0;
        ClientWindow *out = calloc(w->n, sizeof(ClientWindow));
        bool *taken = calloc(w->n, sizeof(bool));
        if (!out || !taken) {
                free(out);
                free(taken);
                return -ENOMEM;
        }
        /* Named windows, in the order given (an id named twice counts once, unknown ones not at
         * all), go on top of the others, which keep their order. */
        for (size_t k = 0; k < n_ids; k++) {
                ssize_t i = find_index(w, stack_id(ids, k));
                if (i >= 0)
                        taken[i] = true;
        }
        size_t pos = 0;
        for (size_t i = 0; i < w->n; i++)
                if (!taken[i])
                        out[pos++] = w->windows[i];
        for (size_t k = 0; k < n_ids; k++) {
                ssize_t i = find_index(w, stack_id(ids, k));
                if (i >= 0 && taken[i]) {
                        taken[i] = false; /* placed */
                        out[pos++] = w->windows[i];
                }
        }
        bool changed = memcmp(out, w->windows, w->n * sizeof(ClientWindow)) != 0;
        memcpy(w->windows, out, w->n * sizeof(ClientWindow));
        free(out);
        free(taken);
        if (!changed)
                return 0;
        w->serial++;
        return 1;
}

int client_windows_icon(ClientWindows *w, const WireWindowIcon *icon) {
        ssize_t i = find_index(w, icon->id);
        size_t size = (size_t) icon->width * icon->height * 4;
        if (i < 0 || icon->width > CLIENT_WINDOW_ICON_MAX || icon->height > CLIENT_WINDOW_ICON_MAX ||
            size != icon->argb_len)
                return ignore(w);
        uint8_t *p = NULL;
        if (size > 0) {
                p = malloc(size);
                if (!p)
                        return -ENOMEM;
                memcpy(p, icon->argb, size);
        }
        ClientWindow *win = &w->windows[i];
        free(win->icon_argb);
        win->icon_argb = p;
        win->icon_width = size ? icon->width : 0;
        win->icon_height = size ? icon->height : 0;
        win->serial = ++w->serial;
        return 1;
}

/* ---- resize ---- */

void resize_coalescer_want(ResizeCoalescer *c, uint32_t w, uint32_t h) {
        if (w == 0 || h == 0)
                return;
        c->want_w = w;
        c->want_h = h;
        c->pending = !(c->sent_any && w == c->sent_w && h == c->sent_h);
}

uint64_t resize_coalescer_next(const ResizeCoalescer *c) {
        if (!c->pending)
                return UINT64_MAX;
        return c->sent_any ? c->last_sent + CLIENT_RESIZE_INTERVAL_USEC : 0;
}

bool resize_coalescer_take(ResizeCoalescer *c, uint64_t now, uint32_t *ret_w, uint32_t *ret_h) {
        if (!c->pending || now < resize_coalescer_next(c))
                return false;
        c->pending = false;
        c->sent_any = true;
        c->sent_w = c->want_w;
        c->sent_h = c->want_h;
        c->last_sent = now;
        *ret_w = c->want_w;
        *ret_h = c->want_h;
        return true;
}
