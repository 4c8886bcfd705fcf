/* The helper's X connection: the display, the atoms it uses, the extensions it needs (XFixes for
 * selection-owner notifications, RandR for resize), a small unmapped window of its own (the
 * clipboard's owner and requestor), and error handling: a request about a window that vanished
 * meanwhile is normal on a live desktop, so X errors are counted, never fatal. */
#pragma once

#include <X11/Xlib.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum X11Atom {
        A_CLIPBOARD,
        A_TARGETS,
        A_TIMESTAMP,
        A_MULTIPLE,
        A_INCR,
        A_UTF8_STRING,
        A_TEXT_PLAIN_UTF8,
        A_TEXT_PLAIN,
        A_TEXT,
        A_IMAGE_PNG,
        A_TANDEM_TARGETS, /* properties on our window the owner converts into */
        A_TANDEM_DATA,
        A_TANDEM_TIME,
        A_NET_SUPPORTED,
        A_NET_SUPPORTING_WM_CHECK,
        A_NET_CLIENT_LIST,
        A_NET_CLIENT_LIST_STACKING,
        A_NET_ACTIVE_WINDOW,
        A_NET_CLOSE_WINDOW,
        A_NET_MOVERESIZE_WINDOW,
        A_NET_FRAME_EXTENTS,
        A_NET_WM_NAME,
        A_NET_WM_ICON,
        A_NET_WM_STATE,
        A_NET_WM_STATE_HIDDEN,
        A_NET_WM_STATE_MAXIMIZED_VERT,
        A_NET_WM_STATE_MAXIMIZED_HORZ,
        A_NET_WM_STATE_FULLSCREEN,
        A_NET_WM_STATE_MODAL,
        A_NET_WM_STATE_SKIP_TASKBAR,
        A_WM_STATE,
        A_WM_PROTOCOLS,
        A_WM_DELETE_WINDOW,
        _A_MAX,
} X11Atom;

struct X11 {
        Display *dpy;
        int screen;
        Window root;
        Window win; /* ours: clipboard owner and requestor */
        Atom atoms[_A_MAX];
        int xfixes_event_base;
        bool has_randr;
        int randr_event_base;
};
typedef struct X11 X11;

/* Opens display (NULL: $DISPLAY). -ENXIO when it cannot be opened, -EOPNOTSUPP without XFixes. */
int x11_new(const char *display, X11 **ret);
X11 *x11_free(X11 *x);

static inline Atom x11_atom(X11 *x, X11Atom a) {
        return x->atoms[a];
}

int x11_fd(X11 *x);

/* X errors since the start (the handler counts them); x11_sync_errors() makes the server answer
 * everything sent so far and returns how many errors that produced. */
unsigned long x11_errors(void);
unsigned long x11_sync_errors(X11 *x);

/* Reads a property of at most max_items items of 8/16/32 bits (32-bit items come as longs).
 * Returns the items (XFree() them) and their count, or NULL when the property is absent, has
 * another type (unless type is AnyPropertyType), or the window is gone. */
void *x11_get_property(X11 *x, Window w, Atom property, Atom type, long max_items, unsigned long *ret_n,
                       Atom *ret_type, int *ret_format);
/* A single WINDOW or CARDINAL property, or 0/false when absent. */
bool x11_get_window(X11 *x, Window w, Atom property, Window *ret);

/* The server time now, from a property change on our window (one round trip). */
Time x11_server_time(X11 *x);
