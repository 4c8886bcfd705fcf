/* The X11 features end to end, no VM: Xvfb + openbox, a real tandem-guestd on a socketpair as the
 * in-process hostd's agent channel, the real tandem-guestd-session it starts for a utmp graphical
 * logon, and a real client session (test-x11-chain.h). Checks at the viewer:
 *   agent-status goes to agent with clipboard, windows and resize once the helper is up;
 *   the window list follows this test's own X client as its windows map, move, restack, retitle and
 *   close; window actions (move-resize, close) from the viewer take effect in X;
 *   resize-request -> hostd -> guestd -> helper -> RandR: xrandr shows the size;
 *   the clipboard both ways (text and a PNG; xclip is the X client) under each [Agent] Clipboard=
 *   value: the allowed directions deliver, a forbidden viewer -> guest grab gets a notice and X
 *   never sees it, a forbidden guest -> viewer grab never reaches the viewer;
 *   the helper killed: windows reset and the features drop at the viewer, the display goes on;
 *   guestd killed: the viewer falls back because the channel closed (nothing guestd started holds
 *   it), hostd re-opens, a new guestd and helper bring the features back.
 * Also: hellos settle between the three (none goes round).
 * argv[1] tandem-guestd, argv[2] tandem-guestd-session. Skips (77) without Xvfb, openbox, xclip,
 * xrandr, or without root. */
#include "check.h"
/* Xlib's Display and Region under other names: hostd and common have their own. */
#define Display XDisplay
#define Region XRegion
#include <X11/Xlib.h>
#include <X11/Xatom.h>
#include <X11/Xutil.h>
#undef Display
#undef Region
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client-session.h"
#include "hostd-agent-internal.h"
#include "hostd-manager.h"
#include "test-x11-chain.h"

static const char *guestd_exe, *helper_exe;
static ChainDesk desk;
static Atom wm_protocols, wm_delete;

/* The test's X client: a window asked to close (WM_DELETE_WINDOW) closes. */
static void pump_x(Chain *c) {
        XDisplay *xd = c->desk->xd;
        while (XPending(xd)) {
                XEvent ev;
                XNextEvent(xd, &ev);
                if (ev.type == ClientMessage && ev.xclient.message_type == wm_protocols &&
                    (Atom) ev.xclient.data.l[0] == wm_delete) {
                        XDestroyWindow(xd, ev.xclient.window);
                        XSync(xd, False);
                }
        }
}

static void set_title(Window w, const char *title) {
        XDisplay *xd = desk.xd;
        XStoreName(xd, w, title);
        XChangeProperty(xd, w, XInternAtom(xd, "_NET_WM_NAME", False), XInternAtom(xd, "UTF8_STRING", False), 8,
                        PropModeReplace, (const unsigned char *) title, (int) strlen(title));
        XSync(xd, False);
}

static Window new_window(const char *title, int x, int y, unsigned w, unsigned h) {
        XDisplay *xd = desk.xd;
        Window win = XCreateSimpleWindow(xd, DefaultRootWindow(xd), x, y, w, h, 0, 0, WhitePixel(xd, 0));
        XSetWMProtocols(xd, win, &wm_delete, 1);
        XSizeHints hints = { .flags = USPosition | USSize, .x = x, .y = y, .width = (int) w, .height = (int) h };
        XSetWMNormalHints(xd, win, &hints);
        set_title(win, title);
        XMapWindow(xd, win);
        XSync(xd, False);
        return win;
}

typedef struct Geometry {
        int x, y;
        unsigned w, h;
} Geometry;

/* The window's geometry in root coordinates with its frame, as X says. */
static Geometry frame_geometry(Window w) {
        XDisplay *xd = desk.xd;
        Window root, child;
        int x, y, rx, ry;
        unsigned width, height, border, depth;
        Geometry g = {};
        if (!XGetGeometry(xd, w, &root, &x, &y, &width, &height, &border, &depth) ||
            !XTranslateCoordinates(xd, w, root, 0, 0, &rx, &ry, &child))
                return g;
        long ext[4] = {};
        Atom type;
        int fmt;
        unsigned long items, after;
        unsigned char *prop = NULL;
        if (XGetWindowProperty(xd, w, XInternAtom(xd, "_NET_FRAME_EXTENTS", False), 0, 4, False, XA_CARDINAL, &type,
                               &fmt, &items, &after, &prop) == Success &&
            items == 4)
                memcpy(ext, prop, sizeof(ext));
        XFree(prop);
        return (Geometry) { rx - (int) ext[0], ry - (int) ext[2], width + (unsigned) (ext[0] + ext[1]),
                            height + (unsigned) (ext[2] + ext[3]) };
}

static const ClientWindow *viewer_window(Chain *c, Window w) {
        return client_windows_find(client_session_windows(c->v->session), (uint32_t) w);
}

static bool viewer_title_is(Chain *c, Window w, const char *title) {
        const ClientWindow *cw = viewer_window(c, w);
        return cw && cw->title && strcmp(cw->title, title) == 0;
}

/* The viewer's geometry of w is what X says (and, if want is given, that too). */
static bool viewer_geometry_matches(Chain *c, Window w, const Geometry *want) {
        const ClientWindow *cw = viewer_window(c, w);
        if (!cw)
                return false;
        Geometry g = frame_geometry(w);
        if (want && (g.x != want->x || g.y != want->y || g.w != want->w || g.h != want->h))
                return false;
        return cw->x == g.x && cw->y == g.y && cw->width == g.w && cw->height == g.h;
}

static int stack_index(Chain *c, Window w) {
        const ClientWindows *ws = client_session_windows(c->v->session);
        for (size_t i = 0; i < ws->n; i++)
                if (ws->windows[i].id == (uint32_t) w)
                        return (int) i;
        return -1;
}

/* ---- the tests ---- */

#define X11_FEATURES (CLIENT_FEATURE_CLIPBOARD | CLIENT_FEATURE_WINDOWS | CLIENT_FEATURE_RESIZE)

static Chain *chain(const char *clipboard) {
        Chain *c;
        ChainOptions o = { .clipboard = clipboard };
        int r = chain_new(&desk, &o, guestd_exe, helper_exe, &c);
        if (r < 0)
                fprintf(stderr, "chain_new: %s\n", strerror(-r));
        check(r >= 0);
        /* agent-status at the viewer: the agent with the helper's features, once it said hello
         * (Clipboard=off: hostd offers no clipboard). */
        if (clipboard && strcmp(clipboard, "off") == 0) {
                CHAIN_WAIT(c, chain_agent_has(c, CLIENT_FEATURE_WINDOWS | CLIENT_FEATURE_RESIZE));
                check(!(c->status.features & CLIENT_FEATURE_CLIPBOARD));
        } else
                CHAIN_WAIT(c, chain_agent_has(c, X11_FEATURES));
        /* hostd, guestd and the helper each answer hellos: they settle, no hello goes round and
         * round (hostd answers only a channel's first; guestd never answers the helper's). guestd
         * restates its state on each of hostd's two hellos (at open, and the answer): 4 here. */
        Agent *a = manager_agent(c->h->manager, c->h->desktop);
        check(a);
        chain_run_for(c, 300 * 1000);
        uint64_t hellos = a->counters.hellos;
        chain_run_for(c, 700 * 1000);
        if (a->counters.hellos != hellos || hellos > 6)
                fprintf(stderr, "hostd saw %llu hellos, then %llu\n", (unsigned long long) hellos,
                        (unsigned long long) a->counters.hellos);
        check(a->counters.hellos == hellos && hellos <= 6);
        return c;
}

static void test_windows(Chain *c) {
        fprintf(stderr, "windows: map, move, restack, retitle, close; window actions\n");
        Window a = new_window("alpha", 100, 100, 300, 200);
        CHAIN_WAIT(c, viewer_title_is(c, a, "alpha") && (viewer_window(c, a)->state & CLIENT_WINDOW_MAPPED) &&
                              viewer_geometry_matches(c, a, NULL));

        XMoveWindow(desk.xd, a, 420, 310);
        XSync(desk.xd, False);
        CHAIN_WAIT(c, frame_geometry(a).x > 300 && viewer_geometry_matches(c, a, NULL));

        Window b = new_window("beta", 200, 150, 250, 180);
        CHAIN_WAIT(c, viewer_title_is(c, b, "beta"));
        CHAIN_WAIT(c, stack_index(c, b) > stack_index(c, a)); /* a new window on top */
        XRaiseWindow(desk.xd, a);
        XSync(desk.xd, False);
        CHAIN_WAIT(c, stack_index(c, a) > stack_index(c, b) && stack_index(c, b) >= 0);

        set_title(a, "alpha \xc3\xa9t\xc3\xa9"); /* UTF-8 */
        CHAIN_WAIT(c, viewer_title_is(c, a, "alpha \xc3\xa9t\xc3\xa9"));

        /* The viewer moves and resizes a (the frame's geometry), and closes b. */
        check(client_session_window_action(c->v->session, (uint32_t) a, WIRE_OP_MOVE_RESIZE, 300, 250, 500, 400) >= 0);
        harness_viewer_kick(c->v);
        Geometry want = { 300, 250, 500, 400 };
        CHAIN_WAIT(c, viewer_geometry_matches(c, a, &want));
        check(client_session_window_action(c->v->session, (uint32_t) b, WIRE_OP_CLOSE, 0, 0, 0, 0) >= 0);
        harness_viewer_kick(c->v);
        CHAIN_WAIT(c, viewer_window(c, b) == NULL); /* the client got WM_DELETE_WINDOW and closed it */

        XDestroyWindow(desk.xd, a);
        XSync(desk.xd, False);
        CHAIN_WAIT(c, viewer_window(c, a) == NULL);
}

static bool xrandr_says(Chain *c, unsigned w, unsigned h) {
        char want[64];
        snprintf(want, sizeof(want), "current %u x %u,", w, h);
        Buffer out;
        buffer_init(&out, 1u << 20);
        char *const argv[] = { "xrandr", "--query", NULL };
        bool ok = chain_run_cmd(c, argv, NULL, 0, &out) == 0 && buffer_append(&out, "", 1) >= 0 &&
                  strstr((const char *) buffer_data(&out), want);
        buffer_done(&out);
        return ok;
}

static void test_resize(Chain *c) {
        fprintf(stderr, "resize: viewer -> hostd -> guestd -> helper -> RandR\n");
        check(xrandr_says(c, 1920, 1200));
        check(client_session_resize(c->v->session, 1280, 720) >= 0);
        harness_viewer_kick(c->v);
        CHAIN_WAIT(c, xrandr_says(c, 1280, 720));
        check(client_session_resize(c->v->session, 1600, 900) >= 0);
        harness_viewer_kick(c->v);
        CHAIN_WAIT(c, xrandr_says(c, 1600, 900));
}

/* xclip -o (target NULL: text) into out: its exit status. */
static int x_paste(Chain *c, const char *target, Buffer *out) {
        char *const text[] = { "xclip", "-selection", "clipboard", "-o", NULL };
        char *const typed[] = { "xclip", "-selection", "clipboard", "-o", "-t", (char *) target, NULL };
        return chain_run_cmd(c, target ? typed : text, NULL, 0, out);
}

/* xclip -i: it takes CLIPBOARD and forks to serve it. */
static void x_copy(Chain *c, const char *target, const void *data, size_t len) {
        char *const text[] = { "xclip", "-selection", "clipboard", "-i", NULL };
        char *const typed[] = { "xclip", "-selection", "clipboard", "-i", "-t", (char *) target, NULL };
        check(chain_run_cmd(c, target ? typed : text, data, len, NULL) == 0);
}

static bool buffer_is(const Buffer *b, const void *p, size_t len) {
        return buffer_len(b) == len && memcmp(buffer_data(b), p, len) == 0;
}

static void test_clipboard(const char *policy) {
        bool to_guest = strcmp(policy, "to-guest") == 0 || strcmp(policy, "both") == 0;
        bool to_client = strcmp(policy, "to-client") == 0 || strcmp(policy, "both") == 0;
        fprintf(stderr, "clipboard under Clipboard=%s\n", policy);
        Chain *c = chain(policy);
        Buffer out;
        buffer_init(&out, 32u << 20);
        char text[128];
        snprintf(text, sizeof(text), "from the viewer under %s: gr\xc3\xbc\xc3\x9f" "e", policy);
        size_t png_len;
        _cleanup_(freep) uint8_t *png = chain_png(96, 64, 7, &png_len);

        /* viewer -> X */
        unsigned notices = c->notices;
        int r = chain_viewer_copy(c, text, strlen(text), png, png_len);
        if (!to_guest && !to_client) {
                /* The viewer knows from agent-status: nothing is sent. */
                check(r == -EOPNOTSUPP);
                chain_run_for(c, 500 * 1000);
                check(!chain_helper_owns_clipboard(c));
                check(x_paste(c, NULL, &out) != 0 || !buffer_is(&out, text, strlen(text)));
        } else if (to_guest) {
                check(r >= 0);
                CHAIN_WAIT(c, chain_helper_owns_clipboard(c));
                check(x_paste(c, NULL, &out) == 0);
                check(buffer_is(&out, text, strlen(text)));
                check(x_paste(c, "image/png", &out) == 0);
                check(buffer_is(&out, png, png_len));
                check(c->requests >= 2);
        } else {
                check(r >= 0);
                CHAIN_WAIT(c, c->notices > notices);
                check(strstr(c->notice, "policy"));
                chain_run_for(c, 500 * 1000);
                check(!chain_helper_owns_clipboard(c));
                check(x_paste(c, NULL, &out) != 0 || !buffer_is(&out, text, strlen(text)));
                check(c->requests == 0);
        }

        /* X -> viewer */
        char xtext[128];
        snprintf(xtext, sizeof(xtext), "from X under %s", policy);
        unsigned grabs = c->grabs, datas = c->datas;
        x_copy(c, NULL, xtext, strlen(xtext));
        if (to_client) {
                CHAIN_WAIT(c, c->grabs > grabs && (c->grab_formats & CLIENT_CLIPBOARD_TEXT));
                check(client_session_clipboard_request(c->v->session, WIRE_FORMAT_TEXT) >= 0);
                harness_viewer_kick(c->v);
                CHAIN_WAIT(c, c->datas > datas);
                check(c->data_error == 0 && c->data_format == WIRE_FORMAT_TEXT);
                check(buffer_is(&c->data, xtext, strlen(xtext)));

                size_t xpng_len;
                _cleanup_(freep) uint8_t *xpng = chain_png(80, 50, 9, &xpng_len);
                grabs = c->grabs;
                x_copy(c, "image/png", xpng, xpng_len);
                CHAIN_WAIT(c, c->grabs > grabs && (c->grab_formats & CLIENT_CLIPBOARD_PNG));
                datas = c->datas;
                check(client_session_clipboard_request(c->v->session, WIRE_FORMAT_PNG) >= 0);
                harness_viewer_kick(c->v);
                CHAIN_WAIT(c, c->datas > datas);
                check(c->data_error == 0 && c->data_format == WIRE_FORMAT_PNG);
                check(buffer_is(&c->data, xpng, xpng_len));
        } else {
                /* The helper announces it (its grab goes to hostd), hostd keeps it from the viewer. A
                 * window retitled after the copy reaching the viewer bounds the wait. */
                Window w = new_window("fence", 10, 10, 50, 50);
                CHAIN_WAIT(c, viewer_title_is(c, w, "fence"));
                chain_run_for(c, 1000 * 1000);
                check(c->grabs == grabs);
                check(client_session_clipboard_request(c->v->session, WIRE_FORMAT_TEXT) == -ENODATA);
                XDestroyWindow(desk.xd, w);
                XSync(desk.xd, False);
                CHAIN_WAIT(c, viewer_window(c, w) == NULL);
        }
        buffer_done(&out);
        chain_free(c);
}

static void test_helper_killed(Chain *c) {
        fprintf(stderr, "the helper killed: windows reset, features drop, the display goes on; guestd starts it again\n");
        Window w = new_window("survivor", 60, 60, 200, 100);
        CHAIN_WAIT(c, viewer_title_is(c, w, "survivor"));
        /* One helper: the killed guestd's own ended with its connection (--once) instead of
         * coming back as a second helper of the display. */
        pid_t helpers[8];
        unsigned n = chain_helpers(c, helpers, 8);
        fprintf(stderr, "  %u helper process(es)\n", n);
        check(n == 1);
        check(kill(helpers[0], SIGKILL) == 0);
        CHAIN_WAIT(c, client_session_windows(c->v->session)->n == 0);
        CHAIN_WAIT(c, (c->status.features & X11_FEATURES) == 0);
        check(c->status.mode == WIRE_MODE_AGENT); /* guestd itself is still there */
        check(!c->v->closed);
        /* The display goes on. */
        static uint32_t px[64 * 48];
        for (size_t i = 0; i < 64 * 48; i++)
                px[i] = 0x00ff8000 + (uint32_t) i;
        check(harness_scanout(c->h, 64, 48, px) >= 0);
        HarnessScreen want = { c->v, 64, 48, px };
        check(harness_run_until(c->h, harness_screen_is, &want, 10 * CHAIN_SECOND) >= 0);
        /* The session is still logged on: guestd starts a new helper (after 1 s), the window is
         * back. */
        CHAIN_WAIT(c, chain_agent_has(c, X11_FEATURES));
        CHAIN_WAIT(c, viewer_title_is(c, w, "survivor"));
        check(chain_helpers(c, helpers, 8) == 1);
        XDestroyWindow(desk.xd, w);
        XSync(desk.xd, False);
}

static void test_guestd_killed(Chain *c) {
        fprintf(stderr, "guestd killed: the viewer falls back at once (the channel closed), then all comes back\n");
        unsigned starts = c->guestd_starts;
        check(kill(c->guestd, SIGKILL) == 0);
        CHAIN_WAIT(c, c->status.mode == WIRE_MODE_HYPERVISOR);
        /* Closed, not missed heartbeats: nothing guestd started kept its end of the channel. */
        check(c->status.cause == WIRE_CAUSE_AGENT_CLOSED);
        CHAIN_WAIT(c, c->guestd_starts > starts); /* hostd re-opens: a new guestd and its helper */
        CHAIN_WAIT(c, chain_agent_has(c, X11_FEATURES));
        Window w = new_window("again", 30, 30, 120, 90);
        CHAIN_WAIT(c, viewer_title_is(c, w, "again"));
        XDestroyWindow(desk.xd, w);
        XSync(desk.xd, False);
        CHAIN_WAIT(c, viewer_window(c, w) == NULL);
        check(!c->v->closed);
}

int main(int argc, char **argv) {
        check(argc == 3);
        guestd_exe = argv[1];
        helper_exe = argv[2];
        signal(SIGPIPE, SIG_IGN);
        if (getuid() != 0) { /* guestd starts the helper as the session's user: initgroups() */
                printf("skip: needs root (guestd starts the helper with setgid/initgroups/setuid)\n");
                return CHAIN_SKIP;
        }
        int r = chain_desk_start(&desk, true, 1920, 1200);
        if (r == -EOPNOTSUPP) {
                printf("skip: needs Xvfb, openbox, xclip and xrandr (./tandem deps)\n");
                return CHAIN_SKIP;
        }
        check(r >= 0);
        wm_protocols = XInternAtom(desk.xd, "WM_PROTOCOLS", False);
        wm_delete = XInternAtom(desk.xd, "WM_DELETE_WINDOW", False);
        chain_pump = pump_x;

        /* TEST_AGENT_X11_ONLY=POLICY,...: only the clipboard under those policies (for debugging). */
        const char *only = getenv("TEST_AGENT_X11_ONLY");
        if (!only) {
                Chain *c = chain(NULL);
                test_windows(c);
                test_resize(c);
                test_guestd_killed(c); /* while the helper guestd started at once is there */
                test_helper_killed(c);
                chain_free(c);
        }
        static const char *const policies[] = { "both", "to-guest", "to-client", "off" };
        for (size_t i = 0; i < ELEMENTSOF(policies); i++)
                if (!only || strstr(only, policies[i]))
                        test_clipboard(policies[i]);

        chain_desk_stop(&desk);
        return 0;
}
