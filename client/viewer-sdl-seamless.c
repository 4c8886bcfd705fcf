#include "viewer-sdl-seamless.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "viewer-keymap.h"
#include "viewer-seamless-geometry.h"

typedef struct SeamlessWindow {
        uint32_t id; /* the guest's */
        SDL_Window *window;
        SDL_Renderer *renderer;
        SDL_Texture *texture;
        int tex_w, tex_h;
        SeamlessRect geom;  /* the guest's geometry, as last applied to the window */
        uint64_t serial;    /* the table's serial of the window when last applied */
        bool has_cut, redraw;
        SeamlessRect dst;   /* where the cut sits in the window */
        bool seen;          /* still in the table (during a sync) */
} SeamlessWindow;

struct Seamless {
        Viewer *v;
        SDL_Window *desktop;
        bool showing;
        SeamlessWindow *wins;
        size_t n;
        int32_t origin_x, origin_y;
        uint32_t raised; /* the guest window last raised for the guest's focus */
        SeamlessOverlay overlay; /* viewer-sdl-media.c's video */
        bool keys_down[KEYCODE_MAX + 1];
};

int seamless_new(Viewer *v, Seamless **ret) {
        Seamless *s = calloc(1, sizeof(Seamless));
        SDL_Rect usable;

        if (!s)
                return -ENOMEM;
        s->v = v;
        /* The guest's framebuffer origin is the local desktop's usable top-left. */
        if (SDL_GetDisplayUsableBounds(0, &usable) == 0) {
                s->origin_x = usable.x;
                s->origin_y = usable.y;
        }
        *ret = s;
        return 0;
}

static void window_destroy(Seamless *s, SeamlessWindow *w) {
        if (w->renderer && s->overlay.forget)
                s->overlay.forget(w->renderer, s->overlay.userdata);
        if (w->texture)
                SDL_DestroyTexture(w->texture);
        if (w->renderer)
                SDL_DestroyRenderer(w->renderer);
        if (w->window)
                SDL_DestroyWindow(w->window);
        *w = (SeamlessWindow) {};
}

Seamless *seamless_free(Seamless *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n; i++)
                window_destroy(s, &s->wins[i]);
        free(s->wins);
        free(s);
        return NULL;
}

void seamless_set_desktop(Seamless *s, SDL_Window *desktop) {
        s->desktop = desktop;
}

bool seamless_showing(const Seamless *s) {
        return s->showing;
}

static bool enabled(Seamless *s) {
        if (!s->v->session)
                return false;
        const ClientAgentStatus *st = client_session_agent_status(s->v->session);
        return st->mode == WIRE_MODE_AGENT && (st->features & CLIENT_FEATURE_WINDOWS);
}

static bool wanted(const ClientWindow *w) {
        return (w->state & CLIENT_WINDOW_MAPPED) && !(w->state & CLIENT_WINDOW_MINIMIZED);
}

static SeamlessWindow *find_id(Seamless *s, uint32_t id) {
        for (size_t i = 0; i < s->n; i++)
                if (s->wins[i].id == id)
                        return &s->wins[i];
        return NULL;
}

static SeamlessWindow *find_sdl(Seamless *s, uint32_t window_id) {
        for (size_t i = 0; i < s->n; i++)
                if (s->wins[i].window && SDL_GetWindowID(s->wins[i].window) == window_id)
                        return &s->wins[i];
        return NULL;
}

static void set_icon(SeamlessWindow *w, const ClientWindow *cw) {
        if (!cw->icon_argb || cw->icon_width == 0 || cw->icon_height == 0)
                return;
        /* ARGB8888 is a native-endian 0xAARRGGBB word, as the agent protocol's argb. */
        SDL_Surface *icon = SDL_CreateRGBSurfaceWithFormatFrom(cw->icon_argb, cw->icon_width, cw->icon_height, 32,
                                                               cw->icon_width * 4, SDL_PIXELFORMAT_ARGB8888);
        if (icon) {
                SDL_SetWindowIcon(w->window, icon);
                SDL_FreeSurface(icon);
        }
}

static SeamlessWindow *window_create(Seamless *s, const ClientWindow *cw) {
        SeamlessWindow *p = reallocarray(s->wins, s->n + 1, sizeof(SeamlessWindow));
        if (!p)
                return NULL;
        s->wins = p;
        SeamlessWindow *w = &s->wins[s->n];
        int32_t lx, ly;

        *w = (SeamlessWindow) { .id = cw->id };
        seamless_to_local(s->origin_x, s->origin_y, cw->x, cw->y, &lx, &ly);
        /* Borderless: the guest's window manager draws the frame (it is part of the geometry). */
        w->window = SDL_CreateWindow(cw->title ? cw->title : "", lx, ly, (int) cw->width, (int) cw->height,
                                     SDL_WINDOW_BORDERLESS | SDL_WINDOW_RESIZABLE);
        if (w->window)
                w->renderer = SDL_CreateRenderer(w->window, -1, 0);
        if (!w->renderer) {
                viewer_message("Cannot open a window for guest window %u: %s", cw->id, SDL_GetError());
                window_destroy(s, w);
                return NULL;
        }
        s->n++;
        return w;
}

/* Applies the guest's geometry, title and icon when they changed. */
static void window_apply(Seamless *s, SeamlessWindow *w, const ClientWindow *cw) {
        SeamlessRect g = { cw->x, cw->y, (int32_t) cw->width, (int32_t) cw->height };
        if (w->serial == cw->serial)
                return;
        if (memcmp(&g, &w->geom, sizeof(g)) != 0) {
                int32_t lx, ly;
                seamless_to_local(s->origin_x, s->origin_y, g.x, g.y, &lx, &ly);
                /* Set before the window moves: the events it causes are then recognised as echoes. */
                w->geom = g;
                SDL_SetWindowPosition(w->window, lx, ly);
                SDL_SetWindowSize(w->window, g.w, g.h);
                w->has_cut = false;
        }
        SDL_SetWindowTitle(w->window, cw->title ? cw->title : "");
        set_icon(w, cw);
        w->serial = cw->serial;
        w->redraw = true;
}

static void show_desktop(Seamless *s, bool show) {
        if (s->showing == !show)
                return;
        s->showing = !show;
        if (s->desktop) {
                if (show)
                        SDL_ShowWindow(s->desktop);
                else
                        SDL_HideWindow(s->desktop);
        }
        viewer_message(show ? "seamless: showing the desktop" : "seamless: showing the guest's windows");
}

void seamless_sync(Seamless *s) {
        const ClientWindows *table = s->v->session && enabled(s) ? client_session_windows(s->v->session) : NULL;
        size_t shown = 0;

        for (size_t i = 0; i < s->n; i++)
                s->wins[i].seen = false;
        for (size_t i = 0; table && i < table->n; i++) {
                const ClientWindow *cw = &table->windows[i];
                if (!wanted(cw))
                        continue;
                SeamlessWindow *w = find_id(s, cw->id);
                if (!w)
                        w = window_create(s, cw);
                if (!w)
                        continue;
                w->seen = true;
                window_apply(s, w, cw);
                shown++;
        }
        /* Gone from the table (or the feature is off): closed here too. */
        for (size_t i = 0; i < s->n;) {
                if (s->wins[i].seen) {
                        i++;
                        continue;
                }
                window_destroy(s, &s->wins[i]);
                s->wins[i] = s->wins[--s->n];
        }
        /* The guest's focused window on top. */
        for (size_t i = 0; table && i < table->n; i++) {
                const ClientWindow *cw = &table->windows[i];
                SeamlessWindow *w = (cw->state & CLIENT_WINDOW_FOCUSED) ? find_id(s, cw->id) : NULL;
                if (w && s->raised != cw->id) {
                        s->raised = cw->id;
                        SDL_RaiseWindow(w->window);
                }
        }
        show_desktop(s, shown == 0);
        if (s->v->session && shown > 0) {
                const ClientFramebuffer *fb = client_session_framebuffer(s->v->session);
                if (fb && fb->pixels)
                        seamless_frame(s, fb);
        }
}

void seamless_frame(Seamless *s, const ClientFramebuffer *fb) {
        for (size_t i = 0; i < s->n; i++) {
                SeamlessWindow *w = &s->wins[i];
                SeamlessRect src;

                if (w->tex_w != w->geom.w || w->tex_h != w->geom.h || !w->texture) {
                        if (w->texture)
                                SDL_DestroyTexture(w->texture);
                        /* RGB888 is SDL's XRGB8888: bytes B,G,R,X like our frames. */
                        w->texture = SDL_CreateTexture(w->renderer, SDL_PIXELFORMAT_RGB888, SDL_TEXTUREACCESS_STREAMING,
                                                       MAX(w->geom.w, 1), MAX(w->geom.h, 1));
                        w->tex_w = w->geom.w;
                        w->tex_h = w->geom.h;
                        if (!w->texture)
                                continue;
                }
                w->has_cut = seamless_cut(&w->geom, fb->width, fb->height, &src, &w->dst);
                if (w->has_cut) {
                        SDL_Rect r = { w->dst.x, w->dst.y, w->dst.w, w->dst.h };
                        SDL_UpdateTexture(w->texture, &r, fb->pixels + (size_t) src.y * fb->stride + (size_t) src.x * 4,
                                          (int) fb->stride);
                }
                w->redraw = true;
        }
}

void seamless_set_overlay(Seamless *s, const SeamlessOverlay *overlay) {
        s->overlay = overlay ? *overlay : (SeamlessOverlay) {};
}

void seamless_redraw(Seamless *s) {
        for (size_t i = 0; i < s->n; i++)
                s->wins[i].redraw = true;
}

void seamless_render(Seamless *s) {
        for (size_t i = 0; i < s->n; i++) {
                SeamlessWindow *w = &s->wins[i];
                if (!w->redraw)
                        continue;
                SDL_SetRenderDrawColor(w->renderer, 0, 0, 0, 255);
                SDL_RenderClear(w->renderer);
                if (w->texture && w->has_cut) {
                        SDL_Rect r = { w->dst.x, w->dst.y, w->dst.w, w->dst.h };
                        SDL_RenderCopy(w->renderer, w->texture, &r, &r);
                }
                if (s->overlay.draw) {
                        SDL_Rect g = { w->geom.x, w->geom.y, w->geom.w, w->geom.h };
                        s->overlay.draw(w->renderer, w->id, &g, s->overlay.userdata);
                }
                SDL_RenderPresent(w->renderer);
                w->redraw = false;
        }
}

static void send_action(Seamless *s, SeamlessWindow *w, uint8_t op, int32_t x, int32_t y, int32_t width, int32_t height) {
        (void) client_session_window_action(s->v->session, w->id, op, x, y, (uint32_t) MAX(width, 1),
                                            (uint32_t) MAX(height, 1));
}

/* The user moved or resized our window: the guest's window follows (its update moves ours back
 * if the guest refuses). Our own placement comes back as the same geometry and sends nothing. */
static void window_moved(Seamless *s, SeamlessWindow *w) {
        int lx, ly, lw, lh;
        int32_t gx, gy;

        SDL_GetWindowPosition(w->window, &lx, &ly);
        SDL_GetWindowSize(w->window, &lw, &lh);
        if (seamless_same_geometry(&w->geom, s->origin_x, s->origin_y, lx, ly, lw, lh))
                return;
        seamless_from_local(s->origin_x, s->origin_y, lx, ly, &gx, &gy);
        send_action(s, w, WIRE_OP_MOVE_RESIZE, gx, gy, lw, lh);
}

static void release_keys(Seamless *s) {
        for (uint32_t k = 1; k <= KEYCODE_MAX; k++)
                if (s->keys_down[k]) {
                        s->keys_down[k] = false;
                        (void) client_session_key(s->v->session, k, false);
                }
}

static void send_point(Seamless *s, SeamlessWindow *w, int x, int y) {
        const ClientFramebuffer *fb = client_session_framebuffer(s->v->session);
        uint32_t gx, gy;

        if (!fb)
                return;
        seamless_point_to_guest(&w->geom, x, y, fb->width, fb->height, &gx, &gy);
        (void) client_session_mouse_absolute(s->v->session, gx, gy);
}

static int button_of(uint8_t b) {
        return b == SDL_BUTTON_LEFT ? 0 : b == SDL_BUTTON_MIDDLE ? 1 : b == SDL_BUTTON_RIGHT ? 2 : -1;
}

static bool guest_focused(Seamless *s, uint32_t id) {
        const ClientWindow *cw = client_windows_find(client_session_windows(s->v->session), id);
        return cw && (cw->state & CLIENT_WINDOW_FOCUSED);
}

bool seamless_handle_event(Seamless *s, const SDL_Event *e) {
        SeamlessWindow *w;

        switch (e->type) {
        case SDL_WINDOWEVENT:
                if (!(w = find_sdl(s, e->window.windowID)))
                        return false;
                switch (e->window.event) {
                case SDL_WINDOWEVENT_MOVED:
                case SDL_WINDOWEVENT_SIZE_CHANGED:
                        window_moved(s, w);
                        break;
                case SDL_WINDOWEVENT_CLOSE:
                        send_action(s, w, WIRE_OP_CLOSE, 0, 0, 0, 0); /* the guest decides; its remove closes ours */
                        break;
                case SDL_WINDOWEVENT_FOCUS_GAINED:
                        if (!guest_focused(s, w->id))
                                send_action(s, w, WIRE_OP_ACTIVATE, 0, 0, 0, 0);
                        s->raised = w->id;
                        break;
                case SDL_WINDOWEVENT_FOCUS_LOST:
                        release_keys(s);
                        break;
                default:
                        break;
                }
                w->redraw = true;
                return true;
        case SDL_KEYDOWN:
        case SDL_KEYUP: {
                if (!find_sdl(s, e->key.windowID))
                        return false;
                uint32_t code = keymap_from_sdl_scancode(e->key.keysym.scancode);
                bool down = e->type == SDL_KEYDOWN;
                if (code == 0 || (!down && !s->keys_down[code]))
                        return true;
                s->keys_down[code] = down;
                (void) client_session_key(s->v->session, code, down);
                return true;
        }
        case SDL_MOUSEMOTION:
                if (!(w = find_sdl(s, e->motion.windowID)))
                        return false;
                send_point(s, w, e->motion.x, e->motion.y);
                return true;
        case SDL_MOUSEBUTTONDOWN:
        case SDL_MOUSEBUTTONUP: {
                if (!(w = find_sdl(s, e->button.windowID)))
                        return false;
                int b = button_of(e->button.button);
                if (b >= 0) {
                        send_point(s, w, e->button.x, e->button.y);
                        (void) client_session_mouse_button(s->v->session, (uint8_t) b, e->type == SDL_MOUSEBUTTONDOWN);
                }
                return true;
        }
        case SDL_MOUSEWHEEL: {
                if (!find_sdl(s, e->wheel.windowID))
                        return false;
                int y = e->wheel.direction == SDL_MOUSEWHEEL_FLIPPED ? -e->wheel.y : e->wheel.y;
                for (int i = 0; i < abs(y) && i < 10; i++) {
                        (void) client_session_mouse_button(s->v->session, y > 0 ? 3 : 4, true);
                        (void) client_session_mouse_button(s->v->session, y > 0 ? 3 : 4, false);
                }
                return true;
        }
        default:
                return false;
        }
}
