#include "x11-display.h"

#include <X11/Xatom.h>
#include <X11/extensions/Xfixes.h>
#include <X11/extensions/Xrandr.h>
#include <errno.h>
#include <stdlib.h>

#include "log.h"

static const char *const atom_names[_A_MAX] = {
        [A_CLIPBOARD] = "CLIPBOARD",
        [A_TARGETS] = "TARGETS",
        [A_TIMESTAMP] = "TIMESTAMP",
        [A_MULTIPLE] = "MULTIPLE",
        [A_INCR] = "INCR",
        [A_UTF8_STRING] = "UTF8_STRING",
        [A_TEXT_PLAIN_UTF8] = "text/plain;charset=utf-8",
        [A_TEXT_PLAIN] = "text/plain",
        [A_TEXT] = "TEXT",
        [A_IMAGE_PNG] = "image/png",
        [A_TANDEM_TARGETS] = "_TANDEM_TARGETS",
        [A_TANDEM_DATA] = "_TANDEM_DATA",
        [A_TANDEM_TIME] = "_TANDEM_TIME",
        [A_NET_SUPPORTED] = "_NET_SUPPORTED",
        [A_NET_SUPPORTING_WM_CHECK] = "_NET_SUPPORTING_WM_CHECK",
        [A_NET_CLIENT_LIST] = "_NET_CLIENT_LIST",
        [A_NET_CLIENT_LIST_STACKING] = "_NET_CLIENT_LIST_STACKING",
        [A_NET_ACTIVE_WINDOW] = "_NET_ACTIVE_WINDOW",
        [A_NET_CLOSE_WINDOW] = "_NET_CLOSE_WINDOW",
        [A_NET_MOVERESIZE_WINDOW] = "_NET_MOVERESIZE_WINDOW",
        [A_NET_FRAME_EXTENTS] = "_NET_FRAME_EXTENTS",
        [A_NET_WM_NAME] = "_NET_WM_NAME",
        [A_NET_WM_ICON] = "_NET_WM_ICON",
        [A_NET_WM_STATE] = "_NET_WM_STATE",
        [A_NET_WM_STATE_HIDDEN] = "_NET_WM_STATE_HIDDEN",
        [A_NET_WM_STATE_MAXIMIZED_VERT] = "_NET_WM_STATE_MAXIMIZED_VERT",
        [A_NET_WM_STATE_MAXIMIZED_HORZ] = "_NET_WM_STATE_MAXIMIZED_HORZ",
        [A_NET_WM_STATE_FULLSCREEN] = "_NET_WM_STATE_FULLSCREEN",
        [A_NET_WM_STATE_MODAL] = "_NET_WM_STATE_MODAL",
        [A_NET_WM_STATE_SKIP_TASKBAR] = "_NET_WM_STATE_SKIP_TASKBAR",
        [A_WM_STATE] = "WM_STATE",
        [A_WM_PROTOCOLS] = "WM_PROTOCOLS",
        [A_WM_DELETE_WINDOW] = "WM_DELETE_WINDOW",
};

static unsigned long error_count;

static int on_x_error(Display *dpy, XErrorEvent *e) {
        /* Windows vanish between the event that named them and our request: expected. */
        error_count++;
        log_debug("X error %u on request %u.%u (resource 0x%lx), ignoring", e->error_code, e->request_code,
                  e->minor_code, e->resourceid);
        return 0;
}

static int on_x_io_error(Display *dpy) {
        /* Xlib cannot go on after this; the session's display is gone, and so is our job. */
        log_error("Lost the X display %s, exiting", DisplayString(dpy));
        exit(EXIT_FAILURE);
}

unsigned long x11_errors(void) {
        return error_count;
}

unsigned long x11_sync_errors(X11 *x) {
        unsigned long before = error_count;
        XSync(x->dpy, False);
        return error_count - before;
}

int x11_new(const char *display, X11 **ret) {
        X11 *x = calloc(1, sizeof(*x));
        if (!x)
                return -ENOMEM;
        XSetErrorHandler(on_x_error);
        XSetIOErrorHandler(on_x_io_error);
        x->dpy = XOpenDisplay(display);
        if (!x->dpy) {
                free(x);
                return -ENXIO;
        }
        x->screen = DefaultScreen(x->dpy);
        x->root = RootWindow(x->dpy, x->screen);

        int error_base, major, minor;
        if (!XFixesQueryExtension(x->dpy, &x->xfixes_event_base, &error_base)) {
                x11_free(x);
                return -EOPNOTSUPP;
        }
        major = 5, minor = 0;
        XFixesQueryVersion(x->dpy, &major, &minor);
        int rr_error;
        x->has_randr = XRRQueryExtension(x->dpy, &x->randr_event_base, &rr_error) &&
                       XRRQueryVersion(x->dpy, &major, &minor) && (major > 1 || (major == 1 && minor >= 2));

        XInternAtoms(x->dpy, (char **) atom_names, _A_MAX, False, x->atoms);

        XSetWindowAttributes wa = { .event_mask = PropertyChangeMask };
        x->win = XCreateWindow(x->dpy, x->root, -10, -10, 1, 1, 0, CopyFromParent, InputOnly, CopyFromParent,
                               CWEventMask, &wa);
        XStoreName(x->dpy, x->win, "tandem-guestd-session");
        XFlush(x->dpy);
        *ret = x;
        return 0;
}

X11 *x11_free(X11 *x) {
        if (!x)
                return NULL;
        if (x->dpy) {
                if (x->win)
                        XDestroyWindow(x->dpy, x->win);
                XCloseDisplay(x->dpy);
        }
        free(x);
        return NULL;
}

int x11_fd(X11 *x) {
        return ConnectionNumber(x->dpy);
}

void *x11_get_property(X11 *x, Window w, Atom property, Atom type, long max_items, unsigned long *ret_n,
                       Atom *ret_type, int *ret_format) {
        Atom actual;
        int format;
        unsigned long n, after;
        unsigned char *data = NULL;

        if (XGetWindowProperty(x->dpy, w, property, 0, max_items, False, type, &actual, &format, &n, &after,
                               &data) != Success)
                return NULL;
        if (!data || actual == None || (type != AnyPropertyType && actual != type)) {
                if (data)
                        XFree(data);
                return NULL;
        }
        *ret_n = n;
        if (ret_type)
                *ret_type = actual;
        if (ret_format)
                *ret_format = format;
        return data;
}

bool x11_get_window(X11 *x, Window w, Atom property, Window *ret) {
        unsigned long n;
        unsigned long *v = x11_get_property(x, w, property, AnyPropertyType, 1, &n, NULL, NULL);
        if (!v)
                return false;
        bool ok = n == 1;
        if (ok)
                *ret = v[0];
        XFree(v);
        return ok;
}

static Bool is_time_event(Display *dpy, XEvent *ev, XPointer arg) {
        X11 *x = (X11 *) arg;
        return ev->type == PropertyNotify && ev->xproperty.window == x->win &&
               ev->xproperty.atom == x->atoms[A_TANDEM_TIME];
}

Time x11_server_time(X11 *x) {
        XEvent ev;
        XChangeProperty(x->dpy, x->win, x->atoms[A_TANDEM_TIME], XA_STRING, 8, PropModeAppend, NULL, 0);
        XIfEvent(x->dpy, &ev, is_time_event, (XPointer) x);
        return ev.xproperty.time;
}
