#include "x11-windows.h"

#include <X11/Xatom.h>
#include <X11/Xutil.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "session-text.h"
#include "x11-display.h"
#include "x11-icon.h"

#define STATE_MAPPED 1u
#define STATE_FOCUSED 2u
#define STATE_MINIMIZED 4u
#define STATE_MAXIMIZED 8u
#define STATE_FULLSCREEN 16u
#define STATE_MODAL 32u
#define STATE_SKIP_TASKBAR 64u

/* What a change can dirty. */
#define D_GEOMETRY 1u
#define D_STATE 2u
#define D_TITLE 4u
#define D_ICON 8u
#define D_FRAME 16u
#define D_ALL 31u

/* The icon property is read up to this many items (a 512 x 512 icon and change). */
#define ICON_ITEMS_MAX (1l << 18)
/* Our selection on tracked windows; x11-clipboard uses the same on INCR requestors. */
#define CLIENT_MASK (PropertyChangeMask | StructureNotifyMask)
/* _NET_* client messages from a pager-like source. */
#define SOURCE_PAGER 2

typedef enum Mode {
        MODE_NONE,     /* not read yet */
        MODE_STACKING, /* _NET_CLIENT_LIST_STACKING */
        MODE_LIST,     /* _NET_CLIENT_LIST */
        MODE_TREE,     /* no EWMH window manager: the root's children */
} Mode;

typedef struct WinState {
        uint32_t state;
        int32_t x, y;
        uint32_t width, height;
        size_t title_len;
        char title[AGENT_WINDOW_UPDATE_TITLE_MAX];
} WinState;

typedef struct Win {
        Window id, frame;
        unsigned dirty;
        bool alive;  /* its last refresh worked */
        bool listed; /* in the current list */
        long extents[4]; /* frame: left, right, top, bottom */
        unsigned map_state;
        bool hidden; /* _NET_WM_STATE_HIDDEN */
        uint32_t net_state; /* state bits from _NET_WM_STATE */
        WinState cur, sent;
        bool sent_valid;
        uint8_t *icon;
        unsigned icon_w, icon_h;
        uint64_t icon_hash, sent_icon_hash;
} Win;

struct Windows {
        Session *s;
        X11 *x;
        Mode mode;
        Window wm_check;
        bool wm_close, wm_moveresize; /* from _NET_SUPPORTED */
        Win **wins;
        size_t n;
        Window active;
        Window sent_order[WINDOWS_MAX];
        size_t n_sent_order;
        bool sent_order_valid;
        bool list_dirty, mode_dirty, active_dirty, need_reset;
};

static Win *win_free(Win *v) {
        if (v) {
                free(v->icon);
                free(v);
        }
        return NULL;
}

static Win *find(Windows *w, Window id) {
        for (size_t i = 0; i < w->n; i++)
                if (w->wins[i]->id == id)
                        return w->wins[i];
        return NULL;
}

static Win *find_frame(Windows *w, Window frame) {
        for (size_t i = 0; i < w->n; i++)
                if (w->wins[i]->frame == frame)
                        return w->wins[i];
        return NULL;
}

static uint64_t fnv1a(const uint8_t *p, size_t n, uint64_t h) {
        for (size_t i = 0; i < n; i++)
                h = (h ^ p[i]) * UINT64_C(0x100000001b3);
        return h;
}

/* ---- the window manager and the list ---- */

static bool atom_in(const Atom *list, unsigned long n, Atom a) {
        for (unsigned long i = 0; i < n; i++)
                if (list[i] == a)
                        return true;
        return false;
}

static Mode detect_mode(Windows *w) {
        X11 *x = w->x;
        Window check = None, again = None;

        w->wm_check = None;
        w->wm_close = w->wm_moveresize = false;
        /* A WM that died leaves its properties on the root; its check window goes with it. */
        if (!x11_get_window(x, x->root, x11_atom(x, A_NET_SUPPORTING_WM_CHECK), &check) ||
            !x11_get_window(x, check, x11_atom(x, A_NET_SUPPORTING_WM_CHECK), &again) || again != check)
                return MODE_TREE;
        w->wm_check = check;
        XSelectInput(x->dpy, check, StructureNotifyMask);

        unsigned long n;
        Atom *supported = x11_get_property(x, x->root, x11_atom(x, A_NET_SUPPORTED), XA_ATOM, 4096, &n, NULL, NULL);
        if (supported) {
                w->wm_close = atom_in(supported, n, x11_atom(x, A_NET_CLOSE_WINDOW));
                w->wm_moveresize = atom_in(supported, n, x11_atom(x, A_NET_MOVERESIZE_WINDOW));
                XFree(supported);
        }
        Window *list = x11_get_property(x, x->root, x11_atom(x, A_NET_CLIENT_LIST_STACKING), XA_WINDOW, 1, &n, NULL, NULL);
        if (list) {
                XFree(list);
                return MODE_STACKING;
        }
        list = x11_get_property(x, x->root, x11_atom(x, A_NET_CLIENT_LIST), XA_WINDOW, 1, &n, NULL, NULL);
        if (list) {
                XFree(list);
                return MODE_LIST;
        }
        /* An EWMH WM that keeps no list (yet): the tree is all we have. */
        return MODE_TREE;
}

/* The ids of the top-levels, bottom to top, at most WINDOWS_MAX. */
static size_t read_list(Windows *w, Window *ids) {
        X11 *x = w->x;
        size_t count = 0;

        if (w->mode == MODE_STACKING || w->mode == MODE_LIST) {
                unsigned long n;
                Atom a = x11_atom(x, w->mode == MODE_STACKING ? A_NET_CLIENT_LIST_STACKING : A_NET_CLIENT_LIST);
                unsigned long *list = x11_get_property(x, x->root, a, XA_WINDOW, 65536, &n, NULL, NULL);
                for (unsigned long i = 0; list && i < n && count < WINDOWS_MAX; i++)
                        if (list[i] != None)
                                ids[count++] = list[i];
                if (list)
                        XFree(list);
                return count;
        }

        Window root, parent, *children = NULL;
        unsigned nchildren;
        if (!XQueryTree(x->dpy, x->root, &root, &parent, &children, &nchildren))
                return 0;
        for (unsigned i = 0; i < nchildren && count < WINDOWS_MAX; i++) {
                XWindowAttributes wa;
                if (children[i] == x->win || !XGetWindowAttributes(x->dpy, children[i], &wa))
                        continue;
                if (wa.map_state == IsViewable && !wa.override_redirect && wa.class == InputOutput)
                        ids[count++] = children[i];
        }
        if (children)
                XFree(children);
        return count;
}

/* The root's child that holds id (its frame under a reparenting WM), or id itself. */
static Window frame_of(Windows *w, Window id) {
        Window cur = id;
        for (int depth = 0; depth < 16; depth++) {
                Window root, parent, *children = NULL;
                unsigned n;
                if (!XQueryTree(w->x->dpy, cur, &root, &parent, &children, &n))
                        return id;
                if (children)
                        XFree(children);
                if (parent == root || parent == None)
                        return cur;
                cur = parent;
        }
        return id;
}

static void refresh_list(Windows *w) {
        Window ids[WINDOWS_MAX];
        size_t n = read_list(w, ids);

        for (size_t i = 0; i < w->n; i++)
                w->wins[i]->listed = false;
        Win **wins = calloc(n ? n : 1, sizeof(Win *));
        if (!wins)
                return;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                Win *v = find(w, ids[i]);
                if (v && v->listed)
                        continue; /* a duplicate id */
                if (!v) {
                        v = calloc(1, sizeof(*v));
                        if (!v)
                                continue;
                        v->id = ids[i];
                        v->dirty = D_ALL;
                        XSelectInput(w->x->dpy, v->id, CLIENT_MASK);
                }
                v->listed = true;
                wins[k++] = v;
        }
        /* The ones that left the list: told and forgotten. */
        for (size_t i = 0; i < w->n; i++) {
                Win *v = w->wins[i];
                if (v->listed)
                        continue;
                Buffer *b = session_out(w->s);
                if (v->sent_valid && b)
                        (void) agent_encode_window_remove(b, &(AgentWindowRemove) { .id = (uint32_t) v->id });
                win_free(v);
        }
        free(w->wins);
        w->wins = wins;
        w->n = k;
}

/* ---- one window ---- */

static void read_title(Windows *w, Win *v) {
        X11 *x = w->x;
        unsigned long n;
        unsigned char *p = x11_get_property(x, v->id, x11_atom(x, A_NET_WM_NAME), x11_atom(x, A_UTF8_STRING),
                                            AGENT_WINDOW_UPDATE_TITLE_MAX / 4, &n, NULL, NULL);
        if (p) {
                v->cur.title_len = utf8_sanitize(p, n, v->cur.title, sizeof(v->cur.title));
                XFree(p);
                return;
        }
        v->cur.title_len = 0;
        XTextProperty tp = {};
        if (!XGetWMName(x->dpy, v->id, &tp) || !tp.value)
                return;
        if (tp.encoding == XA_STRING && tp.format == 8) {
                uint8_t u[AGENT_WINDOW_UPDATE_TITLE_MAX * 2];
                size_t len, in = MIN((size_t) tp.nitems, sizeof(u) / 2);
                if (latin1_to_utf8(tp.value, in, u, sizeof(u), &len) == 0)
                        v->cur.title_len = utf8_sanitize(u, len, v->cur.title, sizeof(v->cur.title));
        } else if (tp.format == 8 && tp.encoding == x11_atom(x, A_UTF8_STRING))
                v->cur.title_len = utf8_sanitize(tp.value, tp.nitems, v->cur.title, sizeof(v->cur.title));
        else {
                char **list = NULL;
                int count = 0;
                if (Xutf8TextPropertyToTextList(x->dpy, &tp, &list, &count) >= Success && list && count > 0)
                        v->cur.title_len = utf8_sanitize((const uint8_t *) list[0], strlen(list[0]), v->cur.title,
                                                         sizeof(v->cur.title));
                if (list)
                        XFreeStringList(list);
        }
        XFree(tp.value);
}

static void read_net_state(Windows *w, Win *v) {
        X11 *x = w->x;
        unsigned long n;
        Atom *atoms = x11_get_property(x, v->id, x11_atom(x, A_NET_WM_STATE), XA_ATOM, 64, &n, NULL, NULL);
        uint32_t s = 0;
        bool vert = false, horz = false;
        v->hidden = false;
        for (unsigned long i = 0; atoms && i < n; i++) {
                Atom a = atoms[i];
                if (a == x11_atom(x, A_NET_WM_STATE_HIDDEN))
                        v->hidden = true;
                else if (a == x11_atom(x, A_NET_WM_STATE_MAXIMIZED_VERT))
                        vert = true;
                else if (a == x11_atom(x, A_NET_WM_STATE_MAXIMIZED_HORZ))
                        horz = true;
                else if (a == x11_atom(x, A_NET_WM_STATE_FULLSCREEN))
                        s |= STATE_FULLSCREEN;
                else if (a == x11_atom(x, A_NET_WM_STATE_MODAL))
                        s |= STATE_MODAL;
                else if (a == x11_atom(x, A_NET_WM_STATE_SKIP_TASKBAR))
                        s |= STATE_SKIP_TASKBAR;
        }
        if (vert && horz)
                s |= STATE_MAXIMIZED;
        if (v->hidden)
                s |= STATE_MINIMIZED;
        if (atoms)
                XFree(atoms);
        v->net_state = s;
}

static bool read_geometry(Windows *w, Win *v) {
        X11 *x = w->x;
        XWindowAttributes wa;
        Window child;
        int rx, ry;

        if (!XGetWindowAttributes(x->dpy, v->id, &wa) ||
            !XTranslateCoordinates(x->dpy, v->id, x->root, 0, 0, &rx, &ry, &child))
                return false;
        v->map_state = (unsigned) wa.map_state;
        memset(v->extents, 0, sizeof(v->extents));
        if (w->mode != MODE_TREE) {
                unsigned long n;
                long *e = x11_get_property(x, v->id, x11_atom(x, A_NET_FRAME_EXTENTS), XA_CARDINAL, 4, &n, NULL, NULL);
                if (e && n == 4)
                        for (int i = 0; i < 4; i++)
                                v->extents[i] = e[i] >= 0 && e[i] < 4096 ? e[i] : 0;
                if (e)
                        XFree(e);
        }
        v->cur.x = rx - (int32_t) v->extents[0];
        v->cur.y = ry - (int32_t) v->extents[2];
        v->cur.width = (uint32_t) wa.width + (uint32_t) (v->extents[0] + v->extents[1]);
        v->cur.height = (uint32_t) wa.height + (uint32_t) (v->extents[2] + v->extents[3]);
        return true;
}

static void read_icon(Windows *w, Win *v) {
        X11 *x = w->x;
        unsigned long n;
        unsigned long *data = x11_get_property(x, v->id, x11_atom(x, A_NET_WM_ICON), XA_CARDINAL, ICON_ITEMS_MAX, &n,
                                               NULL, NULL);
        if (!data) {
                v->icon_hash = 0;
                return;
        }
        if (!v->icon)
                v->icon = malloc(X11_ICON_MAX * X11_ICON_MAX * 4);
        unsigned iw, ih;
        if (v->icon && x11_icon_pick(data, n, v->icon, &iw, &ih) == 0) {
                v->icon_w = iw, v->icon_h = ih;
                uint64_t h = fnv1a((const uint8_t *) &iw, sizeof(iw), UINT64_C(0xcbf29ce484222325));
                h = fnv1a((const uint8_t *) &ih, sizeof(ih), h);
                v->icon_hash = fnv1a(v->icon, (size_t) iw * ih * 4, h) | 1;
        } else
                v->icon_hash = 0;
        XFree(data);
}

/* Reads what is dirty. false: the window is gone. */
static bool refresh_win(Windows *w, Win *v) {
        unsigned d = v->dirty;
        v->dirty = 0;
        if (d & D_FRAME)
                v->frame = w->mode == MODE_TREE ? v->id : frame_of(w, v->id);
        if ((d & (D_GEOMETRY | D_STATE)) && !read_geometry(w, v))
                return false;
        if (d & D_STATE)
                read_net_state(w, v);
        if (d & D_TITLE)
                read_title(w, v);
        if (d & D_ICON)
                read_icon(w, v);
        uint32_t s = v->net_state;
        /* Iconic windows are unmapped by the WM; hidden says minimized either way. */
        if (v->map_state == IsViewable)
                s |= STATE_MAPPED;
        if (v->id == w->active)
                s |= STATE_FOCUSED;
        v->cur.state = s;
        return true;
}

/* ---- sending ---- */

static bool state_equal(const WinState *a, const WinState *b) {
        return a->state == b->state && a->x == b->x && a->y == b->y && a->width == b->width && a->height == b->height &&
               a->title_len == b->title_len && memcmp(a->title, b->title, a->title_len) == 0;
}

static void send_changes(Windows *w) {
        Buffer *b = session_out(w->s);
        Window order[WINDOWS_MAX];
        size_t n_order = 0;

        for (size_t i = 0; i < w->n; i++) {
                Win *v = w->wins[i];
                if (!v->alive)
                        continue;
                order[n_order++] = v->id;
                if (!v->sent_valid || !state_equal(&v->cur, &v->sent)) {
                        AgentWindowUpdate u = {
                                .id = (uint32_t) v->id,
                                .state = v->cur.state,
                                .x = v->cur.x,
                                .y = v->cur.y,
                                .width = v->cur.width,
                                .height = v->cur.height,
                                .title = v->cur.title,
                                .title_len = v->cur.title_len,
                        };
                        if (agent_encode_window_update(b, &u) < 0)
                                return; /* the peer is behind: the rest next time */
                        v->sent = v->cur;
                        v->sent_valid = true;
                }
                if (v->icon_hash != v->sent_icon_hash && v->icon_hash != 0 && session_bulk_room(w->s)) {
                        AgentWindowIcon ic = {
                                .id = (uint32_t) v->id,
                                .width = (uint16_t) v->icon_w,
                                .height = (uint16_t) v->icon_h,
                                .argb = v->icon,
                                .argb_len = (size_t) v->icon_w * v->icon_h * 4,
                        };
                        if (agent_encode_window_icon(b, &ic) == 0)
                                v->sent_icon_hash = v->icon_hash;
                }
        }
        if (w->sent_order_valid && n_order == w->n_sent_order &&
            memcmp(order, w->sent_order, n_order * sizeof(Window)) == 0)
                return;
        uint8_t ids[WINDOWS_MAX * 4];
        for (size_t i = 0; i < n_order; i++) {
                uint32_t id = (uint32_t) order[i];
                ids[i * 4] = (uint8_t) id;
                ids[i * 4 + 1] = (uint8_t) (id >> 8);
                ids[i * 4 + 2] = (uint8_t) (id >> 16);
                ids[i * 4 + 3] = (uint8_t) (id >> 24);
        }
        if (agent_encode_window_stack(b, &(AgentWindowStack) { .ids = ids, .ids_len = n_order * 4 }) == 0) {
                memcpy(w->sent_order, order, n_order * sizeof(Window));
                w->n_sent_order = n_order;
                w->sent_order_valid = true;
        }
}

void windows_sync(Windows *w) {
        Buffer *b = session_out(w->s);
        if (!b)
                return;
        if (w->mode_dirty) {
                Mode m = detect_mode(w);
                w->mode_dirty = false;
                if (m != w->mode) {
                        log_debug("Windows from %s", m == MODE_STACKING ? "_NET_CLIENT_LIST_STACKING"
                                                     : m == MODE_LIST   ? "_NET_CLIENT_LIST"
                                                                        : "the window tree (no EWMH window manager)");
                        w->mode = m;
                        w->need_reset = w->list_dirty = w->active_dirty = true;
                        for (size_t i = 0; i < w->n; i++)
                                w->wins[i]->dirty = D_ALL;
                }
        }
        if (w->need_reset) {
                if (agent_encode_windows_reset(b) < 0)
                        return;
                w->need_reset = false;
                w->sent_order_valid = false;
                for (size_t i = 0; i < w->n; i++) {
                        w->wins[i]->sent_valid = false;
                        w->wins[i]->sent_icon_hash = 0;
                }
        }
        if (w->list_dirty) {
                w->list_dirty = false;
                refresh_list(w);
        }
        if (w->active_dirty) {
                Window old = w->active, now = None;
                w->active_dirty = false;
                if (w->mode != MODE_TREE)
                        (void) x11_get_window(w->x, w->x->root, x11_atom(w->x, A_NET_ACTIVE_WINDOW), &now);
                w->active = now;
                Win *v;
                if (old != now && (v = find(w, old)))
                        v->dirty |= D_STATE;
                if ((v = find(w, now)))
                        v->dirty |= D_STATE;
        }
        for (size_t i = 0; i < w->n; i++) {
                Win *v = w->wins[i];
                if (v->dirty) {
                        bool was = v->alive;
                        v->alive = refresh_win(w, v);
                        if (was && !v->alive && v->sent_valid) {
                                /* Gone before the list said so. */
                                (void) agent_encode_window_remove(b, &(AgentWindowRemove) { .id = (uint32_t) v->id });
                                v->sent_valid = false;
                        }
                }
        }
        send_changes(w);
}

void windows_peer_connected(Windows *w) {
        w->need_reset = true;
}

/* ---- X events ---- */

static void mark(Windows *w, Window id, unsigned d) {
        Win *v = find(w, id);
        if (!v)
                v = find_frame(w, id);
        if (v)
                v->dirty |= d;
}

void windows_handle_event(Windows *w, XEvent *ev) {
        X11 *x = w->x;
        switch (ev->type) {
        case PropertyNotify: {
                XPropertyEvent *e = &ev->xproperty;
                Atom a = e->atom;
                if (e->window == x->root) {
                        if (a == x11_atom(x, A_NET_CLIENT_LIST_STACKING) || a == x11_atom(x, A_NET_CLIENT_LIST))
                                w->list_dirty = true;
                        if (a == x11_atom(x, A_NET_CLIENT_LIST_STACKING) && w->mode == MODE_LIST)
                                w->mode_dirty = true; /* a better list appeared */
                        else if (a == x11_atom(x, A_NET_ACTIVE_WINDOW))
                                w->active_dirty = true;
                        else if (a == x11_atom(x, A_NET_SUPPORTING_WM_CHECK) || a == x11_atom(x, A_NET_SUPPORTED))
                                w->mode_dirty = true;
                        if (w->mode == MODE_TREE && (a == x11_atom(x, A_NET_CLIENT_LIST_STACKING) ||
                                                     a == x11_atom(x, A_NET_CLIENT_LIST)))
                                w->mode_dirty = true;
                        return;
                }
                if (a == x11_atom(x, A_NET_WM_NAME) || a == XA_WM_NAME)
                        mark(w, e->window, D_TITLE);
                else if (a == x11_atom(x, A_NET_WM_STATE) || a == x11_atom(x, A_WM_STATE))
                        mark(w, e->window, D_STATE | D_GEOMETRY);
                else if (a == x11_atom(x, A_NET_WM_ICON))
                        mark(w, e->window, D_ICON);
                else if (a == x11_atom(x, A_NET_FRAME_EXTENTS))
                        mark(w, e->window, D_GEOMETRY);
                return;
        }
        case ConfigureNotify:
                mark(w, ev->xconfigure.window, D_GEOMETRY);
                if (ev->xconfigure.event == x->root && w->mode == MODE_TREE)
                        w->list_dirty = true; /* restacked, perhaps */
                return;
        case MapNotify:
        case UnmapNotify:
                mark(w, ev->xmap.window, D_GEOMETRY | D_STATE); /* xunmap's fields lie at the same places */
                if (ev->xmap.event == x->root && w->mode == MODE_TREE)
                        w->list_dirty = true;
                return;
        case ReparentNotify:
                mark(w, ev->xreparent.window, D_FRAME | D_GEOMETRY);
                if (ev->xreparent.event == x->root && w->mode == MODE_TREE)
                        w->list_dirty = true;
                return;
        case CreateNotify:
                if (w->mode == MODE_TREE)
                        w->list_dirty = true;
                return;
        case DestroyNotify:
                if (ev->xdestroywindow.window == w->wm_check && w->wm_check != None) {
                        w->mode_dirty = true;
                        return;
                }
                if (find(w, ev->xdestroywindow.window) || (ev->xdestroywindow.event == x->root && w->mode == MODE_TREE))
                        w->list_dirty = true;
                return;
        }
}

/* ---- actions from the peer ---- */

static void client_message(Windows *w, Window target, Window about, Atom type, long l0, long l1, long l2, long l3,
                           long l4) {
        XEvent ev = { .xclient = {
                .type = ClientMessage,
                .window = about,
                .message_type = type,
                .format = 32,
                .data.l = { l0, l1, l2, l3, l4 },
        } };
        long mask = target == w->x->root ? SubstructureRedirectMask | SubstructureNotifyMask : NoEventMask;
        XSendEvent(w->x->dpy, target, False, mask, &ev);
}

static bool has_protocol(Windows *w, Window id, Atom protocol) {
        Atom *list = NULL;
        int n = 0;
        bool found = false;
        if (XGetWMProtocols(w->x->dpy, id, &list, &n)) {
                for (int i = 0; i < n; i++)
                        found = found || list[i] == protocol;
                XFree(list);
        }
        return found;
}

static void set_net_state(Windows *w, Win *v, long action, X11Atom a, X11Atom b) {
        X11 *x = w->x;
        client_message(w, x->root, v->id, x11_atom(x, A_NET_WM_STATE), action, (long) x11_atom(x, a),
                       b == _A_MAX ? 0 : (long) x11_atom(x, b), SOURCE_PAGER, 0);
}

static void activate(Windows *w, Win *v) {
        X11 *x = w->x;
        if (w->mode != MODE_TREE) {
                client_message(w, x->root, v->id, x11_atom(x, A_NET_ACTIVE_WINDOW), SOURCE_PAGER, CurrentTime, 0, 0, 0);
                return;
        }
        XMapRaised(x->dpy, v->id);
        XSetInputFocus(x->dpy, v->id, RevertToParent, CurrentTime);
}

void windows_action(Windows *w, const AgentWindowAction *a) {
        X11 *x = w->x;
        Win *v = find(w, (Window) a->id);
        if (!v || !v->alive) {
                log_debug("Window action %u for unknown window 0x%x, ignoring", a->op, a->id);
                return;
        }
        switch (a->op) {
        case AGENT_OP_ACTIVATE:
                activate(w, v);
                break;
        case AGENT_OP_CLOSE:
                if (w->mode != MODE_TREE && w->wm_close)
                        client_message(w, x->root, v->id, x11_atom(x, A_NET_CLOSE_WINDOW), CurrentTime, SOURCE_PAGER, 0,
                                       0, 0);
                else if (has_protocol(w, v->id, x11_atom(x, A_WM_DELETE_WINDOW)))
                        client_message(w, v->id, v->id, x11_atom(x, A_WM_PROTOCOLS), (long) x11_atom(x, A_WM_DELETE_WINDOW),
                                       CurrentTime, 0, 0, 0);
                else
                        log_debug("Window 0x%lx cannot be asked to close, ignoring", v->id);
                break;
        case AGENT_OP_MOVE_RESIZE: {
                /* The peer's geometry includes the frame; the client's size does not. */
                long fw = (long) v->extents[0] + v->extents[1], fh = (long) v->extents[2] + v->extents[3];
                long cw = MAX((long) MIN(a->width, 65535u) - fw, 1l), ch = MAX((long) MIN(a->height, 65535u) - fh, 1l);
                if (w->mode != MODE_TREE && w->wm_moveresize) {
                        /* NorthWest gravity: x, y place the frame's top-left corner. */
                        long flags = NorthWestGravity | (0xfl << 8) | ((long) SOURCE_PAGER << 12);
                        client_message(w, x->root, v->id, x11_atom(x, A_NET_MOVERESIZE_WINDOW), flags, a->x, a->y, cw, ch);
                } else
                        XMoveResizeWindow(x->dpy, v->id, a->x + (int) v->extents[0], a->y + (int) v->extents[2],
                                          (unsigned) cw, (unsigned) ch);
                break;
        }
        case AGENT_OP_MINIMIZE:
                XIconifyWindow(x->dpy, v->id, x->screen);
                break;
        case AGENT_OP_MAXIMIZE:
                if (w->mode != MODE_TREE)
                        set_net_state(w, v, 1, A_NET_WM_STATE_MAXIMIZED_VERT, A_NET_WM_STATE_MAXIMIZED_HORZ);
                else
                        XMoveResizeWindow(x->dpy, v->id, 0, 0, (unsigned) DisplayWidth(x->dpy, x->screen),
                                          (unsigned) DisplayHeight(x->dpy, x->screen));
                break;
        case AGENT_OP_RESTORE:
                if (w->mode != MODE_TREE) {
                        set_net_state(w, v, 0, A_NET_WM_STATE_MAXIMIZED_VERT, A_NET_WM_STATE_MAXIMIZED_HORZ);
                        set_net_state(w, v, 0, A_NET_WM_STATE_FULLSCREEN, _A_MAX);
                }
                if (v->hidden || v->map_state != IsViewable)
                        activate(w, v);
                break;
        default:
                log_debug("Unknown window action %u, ignoring", a->op);
        }
}

int windows_new(Session *s, Windows **ret) {
        Windows *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->s = s;
        w->x = s->x;
        XSelectInput(w->x->dpy, w->x->root, PropertyChangeMask | SubstructureNotifyMask);
        w->mode_dirty = w->list_dirty = w->active_dirty = w->need_reset = true;
        *ret = w;
        return 0;
}

Windows *windows_free(Windows *w) {
        if (!w)
                return NULL;
        for (size_t i = 0; i < w->n; i++)
                win_free(w->wins[i]);
        free(w->wins);
        free(w);
        return NULL;
}
